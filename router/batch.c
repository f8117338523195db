/* batch.c - storing intakes in batches, then queueing them in unit streams.
 *
 * A batch is what waited when a writer connection became free (at most
 * router.batch_max intakes). While another batch is being written, a free
 * writer takes a batch only when router.batch_min intakes wait or the oldest
 * has waited router.batch_wait_ms: until then they wait for the batch in
 * flight, as one bigger commit costs PostgreSQL less per ticket than two
 * small ones, and a slow commit holds them back no longer than the wait. (On
 * the 2-core dev VM, http.sh: ~130 -> ~195 tickets per commit, PostgreSQL
 * 38-48 -> 35-39 us per ticket, 10,200-12,300 -> 11,600-12,600 tickets/s.)
 * With no batch in flight, a free writer may wait router.batch_linger_ms
 * after the first intake (or for router.batch_min; default 0: not at all):
 * at moderate load the next few join it instead of each small group making
 * a commit of its own, at the cost of that much latency (see the sample
 * config for what 2 ms measured).
 * Normally a batch is stored in one round trip (the COPY data goes right
 * behind the statements: see pg.c):
 *
 *   BEGIN; COPY intake_keys; COPY tickets; COPY ticket_events; COPY pii_vault;
 *   COPY outbox; COMMIT
 *
 * If an idempotency key was already stored (a retry whose first attempt
 * committed, e.g. before a router crash), the COPY into intake_keys fails with
 * a unique violation, the transaction rolls back, and the batch is redone on
 * the keys-first path, which the router then keeps for a while:
 *
 *   BEGIN; INSERT INTO intake_keys ... ON CONFLICT DO NOTHING RETURNING   (new keys)
 *   COPY tickets; COPY ticket_events; COPY pii_vault; COPY outbox; COMMIT  (new tickets)
 *   SELECT the original tickets of the replayed keys
 *
 * After the commit, each new ticket is XADDed to its streams (pipelined), and
 * when the replies are in (or Redis is down, or they time out) every intake of
 * the batch is answered and an event published per new ticket.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/log.h"

#include "router_int.h"

#define KEYS_FIRST_US 2000000 /* keys-first period after a replayed key */

struct batch {
    delivery_t d;            /* first: done() gets the batch back from it; d.r its router */
    writer_t *w;
    item_t **items;
    size_t n, nnew, ndup;
    int64_t batch_id;        /* = the first ticket id; names the outbox row */
    int64_t created_at;
    bool keys_first;         /* on the keys-first path */
};

static void send_copy(batch_t *b);
static void send_keys(batch_t *b);

static void free_batch(batch_t *b)
{
    hl_free(b->items);
    hl_free(b);
}

static void release_writer(batch_t *b)
{
    if (b->w) b->w->batch = NULL;
    b->w = NULL;
}

static void submit(batch_t *b, hl_pg_req_t *req);

/* The batch did not commit (or we cannot know whether it did). */
static void batch_failed(batch_t *b, int rc, const char *msg)
{
    router_t *r = b->d.r;
    release_writer(b);
    r->stats.failed_batches++;
    /* An SQL error (a unique violation that survived the keys-first path is
     * one too) may be one bad intake: store them one by one to find it. */
    bool sql_error = rc == HL_EINVAL || rc == HL_ECONFLICT;
    if (sql_error && b->n > 1) {
        /* Store each alone, so that one bad ticket cannot hold up the others. */
        hl_warn("batch of %zu failed (%s); storing its intakes one by one", b->n, msg);
        for (size_t i = b->n; i-- > 0;) {
            b->items[i]->solo = true;
            hl__router_push_pending(r, b->items[i], true);
        }
    } else {
        if (sql_error)
            hl_error("intake %s cannot be stored: %s", b->items[0]->in->idempotency_key, msg);
        else
            hl_warn("batch of %zu not stored: %s", b->n, msg ? msg : hl_strerror(rc));
        for (size_t i = 0; i < b->n; i++)
            hl__router_answer(r, b->items[i],
                              sql_error ? HOTLINE__STATUS__STATUS_INTERNAL
                                        : HOTLINE__STATUS__STATUS_TRY_LATER,
                              sql_error ? "this request cannot be stored; the operators were told"
                                        : "storage unavailable; retry with the same key");
    }
    free_batch(b);
}

/* Answers, events and the outbox bookkeeping, once the batch is committed and
 * its stream writes are answered (or skipped). */
static void batch_complete(delivery_t *d)
{
    batch_t *b = (batch_t *)d;
    router_t *r = b->d.r;
    if (b->nnew && !d->failed) hl__router_delivered(r, b->batch_id);
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = b->items[i];
        if (it->is_new) {
            hl__router_publish(r, it);
            hl__query_remember(r, it);
        }
        if (it->is_new || it->found)
            hl__router_answer(r, it, HOTLINE__STATUS__STATUS_OK, NULL);
        else
            hl__router_answer(r, it, HOTLINE__STATUS__STATUS_TRY_LATER,
                              "this key is being stored by another request; retry with the same key");
    }
    hl__router_count_flush(r);
    free_batch(b);
}

/* ------------------------------------------------------------- streams */

static void entry_of(const item_t *it, hl_queue_entry_t *e)
{
    const hl_plan_t *p = &it->plan;
    e->ticket_no = it->ticket_no;
    e->id = it->id;
    e->state = hl_state_name(p->state);
    e->category = p->category;
    e->urgency = hl_urgency_name(p->urgency);
    e->type = hl_type_name(p->type);
    e->region = p->region;
    e->sign_due = p->deadlines.sign;
    e->contact_due = p->deadlines.contact;
    e->reply_due = p->deadlines.reply;
    e->version = it->version;
}

void hl__batch_xadd(const router_t *r, const item_t *it, int k, hl_xadd_t *x)
{
    hl_queue_entry_t e;
    entry_of(it, &e);
    const hl_plan_t *p = &it->plan;
    const char *queue = k ? p->assisting[k - 1] : *p->unit ? p->unit : r->conf->dispatch_queue;
    hl_queue_xadd(x, queue, "ticket", it->event, k ? "assist" : "lead", &e);
}

/* Committed: put the new tickets in their streams, then complete. */
static void batch_deliver(batch_t *b)
{
    router_t *r = b->d.r;
    hl__delivery_begin(&b->d, batch_complete);
    release_writer(b);
    r->stats.batches++;
    for (size_t i = 0; i < b->n && !b->d.failed; i++) {
        if (!b->items[i]->is_new) continue;
        for (int k = 0; k <= b->items[i]->plan.nassisting; k++) {
            hl_xadd_t x;
            hl__batch_xadd(r, b->items[i], k, &x);
            hl__delivery_xadd(&b->d, &x);
        }
    }
    hl__delivery_end(&b->d);
}

/* ----------------------------------------------------- reading replays */

#define SQL_REPLAYS                                                                                \
    "SELECT k.key, t.ticket_no, t.id, t.state, t.category, t.confidence, coalesce(t.unit, ''), "   \
    "array_to_string(t.assisting_units, ','), "                                                    \
    "(extract(epoch FROM t.sign_due) * 1000)::bigint, "                                            \
    "(extract(epoch FROM t.contact_due) * 1000)::bigint, "                                         \
    "(extract(epoch FROM t.reply_due) * 1000)::bigint, t.urgency, t.request_type, t.version, "     \
    "coalesce(t.region, '') "                                                                      \
    "FROM intake_keys k JOIN tickets t ON t.id = k.ticket_id AND t.created_at = k.created_at "     \
    "WHERE k.key = ANY($1::text[])"

static void replays_result(void *arg, int index, const PGresult *res)
{
    (void)index;
    batch_t *b = arg;
    hl_map_t *by_key = hl_map_new();
    for (size_t i = 0; i < b->n; i++) {
        const char *k = b->items[i]->in->idempotency_key;
        if (!b->items[i]->is_new) hl_map_put(by_key, k, strlen(k), b->items[i]);
    }
    for (int row = 0; row < PQntuples(res); row++) {
        const char *key = PQgetvalue(res, row, 0);
        item_t *it = hl_map_get(by_key, key, strlen(key));
        if (!it) continue;
        hl_plan_t *p = &it->plan;
        hl_state_t st;
        hl_urgency_t u;
        hl_type_t t;
        snprintf(it->ticket_no, sizeof it->ticket_no, "%s", PQgetvalue(res, row, 1));
        it->id = atoll(PQgetvalue(res, row, 2));
        if (hl_state_parse(PQgetvalue(res, row, 3), &st) == 0) p->state = st;
        snprintf(p->category, sizeof p->category, "%s", PQgetvalue(res, row, 4));
        p->confidence = strtof(PQgetvalue(res, row, 5), NULL);
        snprintf(p->unit, sizeof p->unit, "%s", PQgetvalue(res, row, 6));
        p->nassisting = 0;
        for (const char *a = PQgetvalue(res, row, 7); *a && p->nassisting < HL_MAX_ASSISTING;) {
            size_t len = strcspn(a, ",");
            snprintf(p->assisting[p->nassisting++], HL_UNIT_LEN, "%.*s", (int)len, a);
            a += len + (a[len] == ',');
        }
        p->deadlines.sign = atoll(PQgetvalue(res, row, 8));
        p->deadlines.contact = atoll(PQgetvalue(res, row, 9));
        p->deadlines.reply = atoll(PQgetvalue(res, row, 10));
        if (hl_urgency_parse(PQgetvalue(res, row, 11), &u) == 0) p->urgency = u;
        if (hl_type_parse(PQgetvalue(res, row, 12), &t) == 0) p->type = t;
        it->version = atoll(PQgetvalue(res, row, 13));
        snprintf(p->region, sizeof p->region, "%s", PQgetvalue(res, row, 14));
        it->found = true;
    }
    hl_map_destroy(&by_key);
}

static void replays_done(void *arg, int rc, const char *msg)
{
    batch_t *b = arg;
    if (rc) hl_warn("reading back replayed intakes failed: %s", msg ? msg : hl_strerror(rc));
    /* Replays not found are answered TRY_LATER in batch_complete. */
    batch_deliver(b);
}

static void read_replays(batch_t *b)
{
    const char **keys = hl_malloc(b->ndup * sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++)
        if (!b->items[i]->is_new) keys[k++] = b->items[i]->in->idempotency_key;
    hl_buf_t arr = HL_BUF_INIT;
    hl_pg_text_array(&arr, keys, k);
    hl_free(keys);
    hl_pg_req_t *req = hl_pg_req_new(replays_result, replays_done, b);
    const char *params[] = {arr.data};
    hl_pg_req_query(req, SQL_REPLAYS, 1, params);
    hl_buf_free(&arr);
    if (hl_pg_submit(b->w->pg, &req) != 0) {
        hl_pg_req_free(&req);
        batch_deliver(b); /* answered TRY_LATER: the retry will find them */
    }
}

/* --------------------------------------------------------------- storing */

static void copy_done(void *arg, int rc, const char *msg)
{
    batch_t *b = arg;
    router_t *r = b->d.r;
    if (rc == HL_ECONFLICT && !b->keys_first) {
        /* A key was stored before: redo this batch keys-first, and keep doing
         * so for a while (retries after a crash come in bursts). */
        hl_info("batch of %zu has a replayed key; storing it keys-first", b->n);
        r->keys_first_until_us = hl_mono_us() + KEYS_FIRST_US;
        send_keys(b);
        return;
    }
    if (rc) {
        batch_failed(b, rc, msg);
        return;
    }
    if (b->ndup)
        read_replays(b);
    else
        batch_deliver(b);
}

/* COPY the new tickets' rows and COMMIT (with the keys too, on the fast path). */
static void send_copy(batch_t *b)
{
    router_t *r = b->d.r;
    int off = (int)r->conf->utc_offset_min;
    hl_buf_t keys = HL_BUF_INIT, tickets = HL_BUF_INIT, events = HL_BUF_INIT, pii = HL_BUF_INIT,
             outbox = HL_BUF_INIT;
    int64_t *ids = hl_malloc(b->n * sizeof(int64_t));
    char created[HL_ISO8601_LEN];
    hl_iso8601(b->created_at, off, created);
    bool any_pii = false;
    b->nnew = b->ndup = 0;
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = b->items[i];
        if (!it->is_new) {
            b->ndup++;
            continue;
        }
        hl_store_ticket_t t = {it->id, it->ticket_no, it->created_at, it->in, &it->plan};
        if (!b->keys_first) {
            hl_buf_put_copy_text(&keys, it->in->idempotency_key, strlen(it->in->idempotency_key));
            hl_buf_putc(&keys, '\t');
            hl_buf_put_i64(&keys, it->id);
            hl_buf_putc(&keys, '\t');
            hl_buf_puts(&keys, created);
            hl_buf_putc(&keys, '\n');
        }
        hl_store_ticket_row(&tickets, &t, off);
        hl_store_event_row(&events, &t, r->name, off);
        any_pii |= hl_store_pii_row(&pii, &t, off);
        ids[b->nnew++] = it->id;
    }
    hl_pg_req_t *req = hl_pg_req_new(NULL, copy_done, b);
    if (b->nnew == 0) {
        hl_pg_req_simple(req, "COMMIT");
    } else {
        hl_store_outbox_row(&outbox, b->batch_id, r->name, ids, b->nnew, b->created_at, off);
        hl_buf_t sql = HL_BUF_INIT;
        if (!b->keys_first) hl_buf_puts(&sql, "BEGIN; " HL_COPY_KEYS "; ");
        hl_buf_puts(&sql, HL_COPY_TICKETS "; " HL_COPY_EVENTS "; ");
        if (any_pii) hl_buf_puts(&sql, HL_COPY_PII "; ");
        hl_buf_puts(&sql, HL_COPY_OUTBOX "; COMMIT");
        hl_pg_req_simple(req, sql.data);
        hl_buf_free(&sql);
        if (!b->keys_first) hl_pg_req_copy(req, &keys);
        hl_pg_req_copy(req, &tickets);
        hl_pg_req_copy(req, &events);
        if (any_pii) hl_pg_req_copy(req, &pii);
        hl_pg_req_copy(req, &outbox);
    }
    hl_free(ids);
    hl_buf_free(&keys);
    hl_buf_free(&tickets);
    hl_buf_free(&events);
    hl_buf_free(&pii);
    hl_buf_free(&outbox);
    submit(b, req);
}

static void keys_result(void *arg, int index, const PGresult *res)
{
    batch_t *b = arg;
    if (index != 1) return; /* 0 is BEGIN */
    for (int row = 0; row < PQntuples(res); row++) {
        int64_t i = atoll(PQgetvalue(res, row, 0)) - b->items[0]->id;
        if (i >= 0 && (size_t)i < b->n) b->items[i]->is_new = true;
    }
}

static void keys_done(void *arg, int rc, const char *msg)
{
    batch_t *b = arg;
    if (rc) {
        batch_failed(b, rc, msg);
        return;
    }
    send_copy(b);
}

/* The keys-first path: register the keys; the new ones come back. */
static void send_keys(batch_t *b)
{
    b->keys_first = true;
    for (size_t i = 0; i < b->n; i++) b->items[i]->is_new = false;
    const char **keys = hl_malloc(b->n * sizeof(char *));
    hl_buf_t idarr = HL_BUF_INIT, keyarr = HL_BUF_INIT;
    hl_buf_putc(&idarr, '{');
    for (size_t i = 0; i < b->n; i++) {
        keys[i] = b->items[i]->in->idempotency_key;
        if (i) hl_buf_putc(&idarr, ',');
        hl_buf_put_i64(&idarr, b->items[i]->id);
    }
    hl_buf_putc(&idarr, '}');
    hl_pg_text_array(&keyarr, keys, b->n);
    hl_free(keys);
    char created[HL_ISO8601_LEN];
    hl_iso8601(b->created_at, (int)b->d.r->conf->utc_offset_min, created);
    hl_pg_req_t *req = hl_pg_req_new(keys_result, keys_done, b);
    hl_pg_req_query(req, "BEGIN", 0, NULL);
    const char *params[] = {keyarr.data, idarr.data, created};
    hl_pg_req_query(req, HL_SQL_INSERT_KEYS, 3, params);
    hl_buf_free(&idarr);
    hl_buf_free(&keyarr);
    submit(b, req);
}

static void submit(batch_t *b, hl_pg_req_t *req)
{
    if (hl_pg_submit(b->w->pg, &req) != 0) {
        hl_pg_req_free(&req);
        batch_failed(b, HL_EIO, "connection lost");
    }
}

/* ---------------------------------------------------------------- forming */

static int cmp_item_key(const void *a, const void *b)
{
    const item_t *x = *(item_t *const *)a, *y = *(item_t *const *)b;
    return strcmp(x->in->idempotency_key, y->in->idempotency_key);
}

static int64_t ids_left(const router_t *r)
{
    return r->ids[0].end - r->ids[0].next;
}

static void start_batch(router_t *r, writer_t *w)
{
    size_t max = (size_t)r->conf->batch_max;
    if ((int64_t)max > ids_left(r)) max = (size_t)ids_left(r);
    if (r->pending_head->solo) max = 1;
    batch_t *b = hl_calloc(1, sizeof *b);
    hl__delivery_form(&b->d, r, r->pending_head->arrived_us);
    b->w = w;
    w->batch = b;
    b->items = hl_malloc(max * sizeof(item_t *));
    while (b->n < max && r->pending_head && !(b->n && r->pending_head->solo))
        b->items[b->n++] = hl__router_pop_pending(r);
    /* Sorted keys take their locks in one order: concurrent routers cannot deadlock. */
    qsort(b->items, b->n, sizeof(item_t *), cmp_item_key);
    b->created_at = hl_now_ms();
    int off = (int)r->conf->utc_offset_min;
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = b->items[i];
        it->id = r->ids[0].next++;
        it->created_at = b->created_at;
        it->version = 1;
        it->is_new = true;
        hl_ticket_no(it->ticket_no, it->id, it->created_at, off);
    }
    b->batch_id = b->items[0]->id;
    if (hl_mono_us() < r->keys_first_until_us)
        send_keys(b);
    else
        send_copy(b);
}

static void hold_over(hl_loop_t *loop, void *arg)
{
    (void)loop;
    router_t *r = arg;
    r->hold_timer = 0; /* the loop runs hl__batch_start_all before it sleeps */
}

/* Whether a free writer should leave the waiting intakes for a bigger batch
 * (see the top); if so, a timer wakes the loop when the oldest's wait is up. */
static bool hold_back(router_t *r)
{
    if (r->npending >= (size_t)r->conf->batch_min) return false;
    int64_t wait_ms = hl__router_writing(r) ? r->conf->batch_wait_ms : r->conf->batch_linger_ms;
    if (wait_ms <= 0) return false; /* no clock read when nothing may wait (the default linger) */
    int64_t due_us = r->pending_head->arrived_us + wait_ms * 1000, now = hl_mono_us();
    if (now >= due_us) return false;
    if (r->hold_timer && r->hold_due_us > due_us) { /* the batch in flight ended: a shorter wait */
        hl_loop_cancel(r->loop, r->hold_timer);
        r->hold_timer = 0;
    }
    if (!r->hold_timer) {
        r->hold_timer = hl_loop_timer(r->loop, (due_us - now + 999) / 1000, 0, hold_over, r);
        r->hold_due_us = due_us;
    }
    return true;
}

void hl__batch_start_all(router_t *r)
{
    while (r->pending_head) {
        if (ids_left(r) <= 0) {
            if (r->ids[1].end <= r->ids[1].next) {
                hl__batch_request_ids(r);
                return;
            }
            r->ids[0] = r->ids[1];
            r->ids[1] = (id_block_t){0, 0};
        }
        /* Fetch the next block before this one runs out. */
        if (ids_left(r) < r->conf->batch_max && r->ids[1].end <= r->ids[1].next)
            hl__batch_request_ids(r);
        writer_t *w = hl__router_idle_writer(r);
        if (!w) return;
        if (hold_back(r)) return;
        start_batch(r, w);
    }
}

/* ---------------------------------------------------------------- ids */

static void ids_result(void *arg, int index, const PGresult *res)
{
    (void)index;
    router_t *r = arg;
    if (PQntuples(res) != 1) return;
    int64_t first = atoll(PQgetvalue(res, 0, 0));
    id_block_t blk = {first, first + r->id_increment};
    if (ids_left(r) <= 0)
        r->ids[0] = blk;
    else
        r->ids[1] = blk;
}

static void ids_done(void *arg, int rc, const char *msg)
{
    router_t *r = arg;
    r->ids_requested = false;
    if (rc && rc != HL_EAGAIN) hl_warn("ticket id block: %s", msg ? msg : hl_strerror(rc));
}

void hl__batch_request_ids(router_t *r)
{
    if (r->ids_requested || !r->id_increment || !hl_pg_up(r->control)) return;
    hl_pg_req_t *req = hl_pg_req_new(ids_result, ids_done, r);
    hl_pg_req_query(req, "SELECT nextval('ticket_id_seq')", 0, NULL);
    if (hl_pg_submit(r->control, &req) == 0)
        r->ids_requested = true;
    else
        hl_pg_req_free(&req);
}
