/* router.c - the router: sockets, batches, stores, acks. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/dispatch.h"
#include "hotline/envelope.h"
#include "hotline/log.h"
#include "hotline/map.h"
#include "hotline/pg.h"
#include "hotline/queue.h"
#include "hotline/redis.h"
#include "hotline/refdata.h"
#include "hotline/router.h"
#include "hotline/store.h"

#define ROUTE_MAX 255     /* bytes of routing frames kept per request */
#define ROUTE_FRAMES 4
#define READ_BURST 4096   /* envelopes read per wake-up before other work */
#define MAX_WRITERS 64

typedef struct item item_t;
typedef struct batch batch_t;
typedef struct hl_router router_t;

/* Where an answer goes: the ROUTER identity frame(s) and the request id. */
typedef struct {
    uint8_t data[ROUTE_MAX];
    uint16_t len[ROUTE_FRAMES];
    uint8_t n;
    uint64_t request_id;
} reply_to_t;

struct item {
    item_t *next;
    item_t *followers;       /* retries of the same key while this one is in flight */
    reply_to_t to;
    int64_t arrived_us;
    hl_envelope_t *env;      /* owns the intake; NULL for followers */
    const Hotline__Intake *in;
    hl_plan_t plan;
    int64_t id;
    char ticket_no[HL_TICKET_NO_LEN];
    int64_t created_at;
    int64_t version;
    bool solo;               /* store alone: its batch failed on an SQL error */
    bool is_new;             /* its key was new: this batch stores it */
    bool found;              /* replay: the original ticket was read back */
};

typedef struct {
    hl_pg_t *pg;
    batch_t *batch;          /* in flight on this connection, or NULL */
} writer_t;

struct batch {
    router_t *r;
    writer_t *w;
    item_t **items;
    size_t n, nnew, ndup;
    int64_t batch_id;
    int64_t created_at;
    int64_t *deleting;       /* outbox rows deleted in this transaction */
    size_t ndeleting;
    int redis_outstanding;
    bool redis_failed;
    int64_t redis_since_us;
    batch_t *next;           /* in the list of batches waiting for Redis */
};

typedef struct {
    int64_t next, end;       /* [next, end) */
} id_block_t;

/* An outbox sweep in progress: the rows read, then their XADDs. */
typedef struct {
    router_t *r;
    int64_t *batch_ids;
    bool *failed;
    size_t n, cap;
    int outstanding;
} sweep_t;

struct hl_router {
    hl_loop_t *loop;
    const hl_conf_t *conf;
    char name[128];
    hl_dispatch_opts_t opts;
    void *zctx, *intake, *events;
    int intake_handle;
    writer_t writers[MAX_WRITERS];
    int nwriters;
    hl_pg_t *control;
    hl_redis_t *redis;
    hl_refdata_t *refdata;   /* current snapshot, NULL until loaded */
    hl_refdata_t *loading;   /* snapshot being read */
    bool reload_wanted;
    int reload_timer;
    int64_t id_increment;
    id_block_t ids[2];
    bool ids_requested;
    item_t *pending_head, *pending_tail;
    size_t npending;
    hl_map_t *inflight;      /* idempotency key -> item */
    batch_t *redis_wait;     /* batches waiting for XADD replies */
    int64_t *delivered;      /* outbox rows to delete */
    size_t ndelivered, capdelivered;
    sweep_t *sweep;
    bool shutting_down;
    hl_buf_t sendbuf;
    hl_router_stats_t stats;
    int timers[4];
};

static void maybe_start_batches(router_t *r);
static void request_ids(router_t *r);

/* ================================================================= replies */

static int send_reply(router_t *r, const reply_to_t *to, const Hotline__Ack *ack)
{
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    env.schema = HL_SCHEMA_VERSION;
    env.request_id = to->request_id;
    env.body_case = HOTLINE__ENVELOPE__BODY_ACK;
    env.ack = (Hotline__Ack *)ack;
    hl_buf_reset(&r->sendbuf);
    hl_envelope_pack(&env, &r->sendbuf);
    size_t off = 0;
    for (int i = 0; i < to->n; i++) {
        if (zmq_send(r->intake, to->data + off, to->len[i], ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            return -errno;
        off += to->len[i];
    }
    /* An unroutable peer (gone, or over its high-water mark) loses the answer;
     * it retries with the same key and gets the same ticket. */
    return zmq_send(r->intake, r->sendbuf.data, r->sendbuf.len, ZMQ_DONTWAIT) < 0 ? -errno : 0;
}

static void reply_status(router_t *r, const reply_to_t *to, Hotline__Status st, const char *msg,
                         const char *key)
{
    Hotline__Ack ack = HOTLINE__ACK__INIT;
    ack.status = st;
    ack.message = (char *)msg;
    ack.idempotency_key = (char *)(key ? key : "");
    if (st == HOTLINE__STATUS__STATUS_TRY_LATER) {
        ack.retry_after_ms = (uint32_t)r->conf->retry_after_ms;
        r->stats.try_later++;
    } else if (st != HOTLINE__STATUS__STATUS_OK) {
        r->stats.invalid++;
    }
    (void)send_reply(r, to, &ack);
}

static void fill_ack(const item_t *it, Hotline__Ack *ack, Hotline__Deadlines *dl, char **assisting)
{
    const hl_plan_t *p = &it->plan;
    ack->status = HOTLINE__STATUS__STATUS_OK;
    ack->ticket = (char *)it->ticket_no;
    ack->state = p->state;
    ack->category = (char *)p->category;
    ack->confidence = p->confidence;
    ack->unit = (char *)p->unit;
    for (int i = 0; i < p->nassisting; i++) assisting[i] = (char *)p->assisting[i];
    ack->n_assisting_units = (size_t)p->nassisting;
    ack->assisting_units = assisting;
    dl->sign = p->deadlines.sign;
    dl->contact = p->deadlines.contact;
    dl->reply = p->deadlines.reply;
    ack->deadlines = dl;
    ack->version = it->version;
    ack->urgency = p->urgency;
    ack->type = p->type;
    ack->idempotency_key = (char *)it->in->idempotency_key;
    ack->message = (char *)(it->is_new ? "stored" : "stored earlier");
}

static void free_item(item_t *it)
{
    item_t *f = it->followers;
    while (f) {
        item_t *next = f->next;
        hl_free(f);
        f = next;
    }
    hl_envelope_free(&it->env);
    hl_free(it);
}

/* Answer an item and its followers, forget its key, free it. st OK sends the
 * ticket; any other status sends msg. */
static void answer(router_t *r, item_t *it, Hotline__Status st, const char *msg)
{
    const char *key = it->in->idempotency_key;
    if (hl_map_get(r->inflight, key, strlen(key)) == it) hl_map_del(r->inflight, key, strlen(key));
    if (st == HOTLINE__STATUS__STATUS_OK) {
        Hotline__Ack ack = HOTLINE__ACK__INIT;
        Hotline__Deadlines dl = HOTLINE__DEADLINES__INIT;
        char *assisting[HL_MAX_ASSISTING];
        fill_ack(it, &ack, &dl, assisting);
        ack.replayed = !it->is_new;
        (void)send_reply(r, &it->to, &ack);
        ack.replayed = true;
        for (item_t *f = it->followers; f; f = f->next) (void)send_reply(r, &f->to, &ack);
        if (it->is_new)
            r->stats.stored++;
        else
            r->stats.replayed++;
    } else {
        reply_status(r, &it->to, st, msg, key);
        for (item_t *f = it->followers; f; f = f->next) reply_status(r, &f->to, st, msg, key);
    }
    free_item(it);
}

static void publish_event(router_t *r, const item_t *it)
{
    const hl_plan_t *p = &it->plan;
    Hotline__Event ev = HOTLINE__EVENT__INIT;
    Hotline__Actor actor = HOTLINE__ACTOR__INIT;
    Hotline__Deadlines dl = HOTLINE__DEADLINES__INIT;
    actor.role = "system";
    actor.id = r->name;
    dl.sign = p->deadlines.sign;
    dl.contact = p->deadlines.contact;
    dl.reply = p->deadlines.reply;
    ev.ticket = (char *)it->ticket_no;
    ev.from_state = HOTLINE__STATE__STATE_UNSPECIFIED;
    ev.to_state = p->state;
    ev.actor = &actor;
    ev.at = it->created_at;
    ev.kind = "intake";
    ev.reason = (char *)p->reason;
    ev.deadlines = &dl;
    ev.unit = (char *)p->unit;
    ev.category = (char *)p->category;
    ev.region = (char *)p->region;
    ev.version = it->version;
    ev.urgency = p->urgency;
    ev.type = p->type;
    ev.channel = it->in->channel;
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    env.schema = HL_SCHEMA_VERSION;
    env.body_case = HOTLINE__ENVELOPE__BODY_EVENT;
    env.event = &ev;
    char topic[64];
    int tl = snprintf(topic, sizeof topic, "ticket.%s", *p->unit ? p->unit : r->conf->dispatch_queue);
    hl_buf_reset(&r->sendbuf);
    hl_envelope_pack(&env, &r->sendbuf);
    if (zmq_send(r->events, topic, (size_t)tl, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        (void)zmq_send(r->events, r->sendbuf.data, r->sendbuf.len, ZMQ_DONTWAIT);
}

/* ============================================================ pending queue */

static void push_pending(router_t *r, item_t *it, bool front)
{
    it->next = NULL;
    if (front) {
        it->next = r->pending_head;
        r->pending_head = it;
        if (!r->pending_tail) r->pending_tail = it;
    } else if (r->pending_tail) {
        r->pending_tail->next = it;
        r->pending_tail = it;
    } else {
        r->pending_head = r->pending_tail = it;
    }
    r->npending++;
}

static item_t *pop_pending(router_t *r)
{
    item_t *it = r->pending_head;
    if (!it) return NULL;
    r->pending_head = it->next;
    if (!r->pending_head) r->pending_tail = NULL;
    it->next = NULL;
    r->npending--;
    return it;
}

static void fail_pending(router_t *r, Hotline__Status st, const char *msg)
{
    item_t *it;
    while ((it = pop_pending(r)) != NULL) answer(r, it, st, msg);
}

/* Answer TRY_LATER to intakes waiting longer than pending_timeout_ms. */
static void expire_pending(hl_loop_t *loop, void *arg)
{
    (void)loop;
    router_t *r = arg;
    int64_t limit = hl_mono_us() - r->conf->pending_timeout_ms * 1000;
    item_t **pp = &r->pending_head, *prev = NULL;
    while (*pp) {
        item_t *it = *pp;
        if (it->arrived_us < limit) {
            *pp = it->next;
            if (r->pending_tail == it) r->pending_tail = prev;
            r->npending--;
            answer(r, it, HOTLINE__STATUS__STATUS_TRY_LATER,
                   "not stored in time (storage slow or down); retry with the same key");
        } else {
            prev = it;
            pp = &it->next;
        }
    }
}

/* ================================================================ batches */

static int cmp_item_key(const void *a, const void *b)
{
    const item_t *x = *(item_t *const *)a, *y = *(item_t *const *)b;
    return strcmp(x->in->idempotency_key, y->in->idempotency_key);
}

static void free_batch(batch_t *b)
{
    hl_free(b->items);
    hl_free(b->deleting);
    hl_free(b);
}

static void release_writer(batch_t *b)
{
    if (b->w) b->w->batch = NULL;
    b->w = NULL;
}

/* The batch did not commit (or we cannot know that it did). */
static void batch_failed(batch_t *b, int rc, const char *msg)
{
    router_t *r = b->r;
    release_writer(b);
    r->stats.failed_batches++;
    bool sql_error = rc == HL_EINVAL;
    if (sql_error && b->n > 1) {
        /* Store each alone, so that one bad ticket cannot block the others. */
        hl_warn("batch of %zu failed (%s); storing its intakes one by one", b->n, msg);
        for (size_t i = b->n; i-- > 0;) {
            b->items[i]->solo = true;
            push_pending(r, b->items[i], true);
        }
    } else {
        if (sql_error) hl_error("intake %s cannot be stored: %s", b->items[0]->in->idempotency_key, msg);
        else hl_warn("batch of %zu not stored: %s", b->n, msg ? msg : hl_strerror(rc));
        for (size_t i = 0; i < b->n; i++)
            answer(r, b->items[i],
                   sql_error ? HOTLINE__STATUS__STATUS_INTERNAL : HOTLINE__STATUS__STATUS_TRY_LATER,
                   sql_error ? "this request cannot be stored; it was logged for the operators"
                             : "storage unavailable; retry with the same key");
    }
    free_batch(b);
}

/* Acks, events and outbox clean-up once the batch is committed and its
 * stream writes are answered (or skipped). */
static void batch_complete(batch_t *b)
{
    router_t *r = b->r;
    if (b->nnew && !b->redis_failed) {
        if (r->ndelivered == r->capdelivered) {
            r->capdelivered = r->capdelivered ? r->capdelivered * 2 : 64;
            r->delivered = hl_realloc(r->delivered, r->capdelivered * sizeof(int64_t));
        }
        r->delivered[r->ndelivered++] = b->batch_id;
    }
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = b->items[i];
        if (it->is_new) publish_event(r, it);
        if (it->is_new || it->found)
            answer(r, it, HOTLINE__STATUS__STATUS_OK, NULL);
        else
            answer(r, it, HOTLINE__STATUS__STATUS_TRY_LATER,
                   "this key is being stored by another request; retry with the same key");
    }
    free_batch(b);
}

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

static void xadd_cb(redisAsyncContext *c, void *reply, void *privdata)
{
    (void)c;
    batch_t *b = privdata;
    redisReply *rep = reply;
    if (!rep || rep->type == REDIS_REPLY_ERROR) b->redis_failed = true;
    else b->r->stats.queued++;
    if (--b->redis_outstanding > 0) return;
    /* Unlink from the waiting list, then finish. */
    router_t *r = b->r;
    for (batch_t **pp = &r->redis_wait; *pp; pp = &(*pp)->next) {
        if (*pp == b) {
            *pp = b->next;
            break;
        }
    }
    batch_complete(b);
}

static int queue_item(router_t *r, const item_t *it, redisCallbackFn *fn, void *arg)
{
    hl_queue_entry_t e;
    hl_xadd_t x;
    entry_of(it, &e);
    const hl_plan_t *p = &it->plan;
    int sent = 0;
    hl_queue_xadd(&x, *p->unit ? p->unit : r->conf->dispatch_queue, "lead", &e);
    if (hl_redis_command(r->redis, fn, arg, x.argc, x.argv, x.argvlen) == 0) sent++;
    for (int i = 0; i < p->nassisting; i++) {
        hl_queue_xadd(&x, p->assisting[i], "assist", &e);
        if (hl_redis_command(r->redis, fn, arg, x.argc, x.argv, x.argvlen) == 0) sent++;
    }
    return sent == 1 + p->nassisting ? sent : -sent - 1;
}

/* Committed: put the new tickets in their streams, then complete. */
static void batch_deliver(batch_t *b)
{
    router_t *r = b->r;
    release_writer(b);
    r->stats.batches++;
    b->redis_failed = !hl_redis_up(r->redis);
    for (size_t i = 0; i < b->n && !b->redis_failed; i++) {
        if (!b->items[i]->is_new) continue;
        int sent = queue_item(r, b->items[i], xadd_cb, b);
        b->redis_outstanding += sent >= 0 ? sent : -sent - 1;
        if (sent < 0) b->redis_failed = true;
    }
    if (b->redis_outstanding == 0) {
        batch_complete(b);
        return;
    }
    b->redis_since_us = hl_mono_us();
    b->next = r->redis_wait;
    r->redis_wait = b;
}

static void dups_result(void *arg, int index, const PGresult *res)
{
    (void)index;
    batch_t *b = arg;
    /* Both lists are small; a replay is the rare path. */
    for (int row = 0; row < PQntuples(res); row++) {
        const char *key = PQgetvalue(res, row, 0);
        for (size_t i = 0; i < b->n; i++) {
            item_t *it = b->items[i];
            if (it->is_new || it->found || strcmp(it->in->idempotency_key, key) != 0) continue;
            hl_plan_t *p = &it->plan;
            snprintf(it->ticket_no, sizeof it->ticket_no, "%s", PQgetvalue(res, row, 1));
            it->id = atoll(PQgetvalue(res, row, 2));
            hl_state_t st;
            if (hl_state_parse(PQgetvalue(res, row, 3), &st) == 0) p->state = st;
            snprintf(p->category, sizeof p->category, "%s", PQgetvalue(res, row, 4));
            p->confidence = strtof(PQgetvalue(res, row, 5), NULL);
            snprintf(p->unit, sizeof p->unit, "%s", PQgetvalue(res, row, 6));
            p->nassisting = 0;
            const char *a = PQgetvalue(res, row, 7);
            while (*a && p->nassisting < HL_MAX_ASSISTING) {
                size_t len = strcspn(a, ",");
                snprintf(p->assisting[p->nassisting++], HL_UNIT_LEN, "%.*s", (int)len, a);
                a += len + (a[len] == ',');
            }
            p->deadlines.sign = atoll(PQgetvalue(res, row, 8));
            p->deadlines.contact = atoll(PQgetvalue(res, row, 9));
            p->deadlines.reply = atoll(PQgetvalue(res, row, 10));
            hl_urgency_t u;
            hl_type_t t;
            if (hl_urgency_parse(PQgetvalue(res, row, 11), &u) == 0) p->urgency = u;
            if (hl_type_parse(PQgetvalue(res, row, 12), &t) == 0) p->type = t;
            it->version = atoll(PQgetvalue(res, row, 13));
            snprintf(p->region, sizeof p->region, "%s", PQgetvalue(res, row, 14));
            it->found = true;
        }
    }
}

static void dups_done(void *arg, int rc, const char *msg)
{
    batch_t *b = arg;
    if (rc) hl_warn("reading back replayed intakes failed: %s", msg ? msg : hl_strerror(rc));
    /* Replays not found are answered TRY_LATER in batch_complete. */
    batch_deliver(b);
}

#define SQL_REPLAYS                                                                                \
    "SELECT k.key, t.ticket_no, t.id, t.state, t.category, t.confidence, coalesce(t.unit, ''), "   \
    "array_to_string(t.assisting_units, ','), "                                                    \
    "(extract(epoch FROM t.sign_due) * 1000)::bigint, "                                            \
    "(extract(epoch FROM t.contact_due) * 1000)::bigint, "                                         \
    "(extract(epoch FROM t.reply_due) * 1000)::bigint, t.urgency, t.request_type, t.version, "     \
    "coalesce(t.region, '') "                                                                      \
    "FROM intake_keys k JOIN tickets t ON t.id = k.ticket_id AND t.created_at = k.created_at "     \
    "WHERE k.key = ANY($1::text[])"

static void copy_done(void *arg, int rc, const char *msg)
{
    batch_t *b = arg;
    router_t *r = b->r;
    if (rc) {
        batch_failed(b, rc, msg);
        return;
    }
    /* Committed: the outbox rows deleted in this transaction are gone. */
    for (size_t i = 0; i < b->ndeleting; i++) {
        for (size_t j = 0; j < r->ndelivered; j++) {
            if (r->delivered[j] == b->deleting[i]) {
                r->delivered[j] = r->delivered[--r->ndelivered];
                break;
            }
        }
    }
    if (b->ndup == 0) {
        batch_deliver(b);
        return;
    }
    const char **keys = hl_malloc(b->ndup * sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++)
        if (!b->items[i]->is_new) keys[k++] = b->items[i]->in->idempotency_key;
    hl_buf_t arr = HL_BUF_INIT;
    hl_pg_text_array(&arr, keys, k);
    hl_free(keys);
    hl_pg_req_t *req = hl_pg_req_new(dups_result, dups_done, b);
    const char *params[] = {arr.data};
    hl_pg_req_query(req, SQL_REPLAYS, 1, params);
    hl_buf_free(&arr);
    /* The writer is still ours; read the replays on it. */
    if (hl_pg_submit(b->w->pg, &req) != 0) {
        hl_pg_req_free(&req);
        batch_deliver(b);
    }
}

static void keys_result(void *arg, int index, const PGresult *res)
{
    batch_t *b = arg;
    if (index != 1) return; /* 0 is BEGIN, 2 the outbox clean-up */
    for (int row = 0; row < PQntuples(res); row++) {
        int64_t id = atoll(PQgetvalue(res, row, 0));
        int64_t i = id - b->items[0]->id;
        if (i >= 0 && (size_t)i < b->n) b->items[i]->is_new = true;
    }
}

static void keys_done(void *arg, int rc, const char *msg)
{
    batch_t *b = arg;
    router_t *r = b->r;
    if (rc) {
        batch_failed(b, rc, msg);
        return;
    }
    int off = (int)r->conf->utc_offset_min;
    hl_buf_t tickets = HL_BUF_INIT, events = HL_BUF_INIT, pii = HL_BUF_INIT, outbox = HL_BUF_INIT;
    int64_t *ids = hl_malloc(b->n * sizeof(int64_t));
    bool any_pii = false;
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = b->items[i];
        if (!it->is_new) {
            b->ndup++;
            continue;
        }
        hl_store_ticket_t t = {it->id, it->ticket_no, it->created_at, it->in, &it->plan};
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
        hl_pg_req_simple(req, any_pii ? HL_COPY_TICKETS ";" HL_COPY_EVENTS ";" HL_COPY_PII
                                        ";" HL_COPY_OUTBOX "; COMMIT"
                                      : HL_COPY_TICKETS ";" HL_COPY_EVENTS ";" HL_COPY_OUTBOX
                                                        "; COMMIT");
        hl_pg_req_copy(req, &tickets);
        hl_pg_req_copy(req, &events);
        if (any_pii) hl_pg_req_copy(req, &pii);
        hl_pg_req_copy(req, &outbox);
    }
    hl_free(ids);
    hl_buf_free(&tickets);
    hl_buf_free(&events);
    hl_buf_free(&pii);
    hl_buf_free(&outbox);
    if (hl_pg_submit(b->w->pg, &req) != 0) {
        hl_pg_req_free(&req);
        batch_failed(b, HL_EIO, "connection lost");
    }
}

static int64_t ids_left(const router_t *r)
{
    return r->ids[0].end - r->ids[0].next;
}

/* Form a batch from the head of the pending queue and send its first round
 * trip: BEGIN; register the keys (the new ones come back); delete delivered
 * outbox rows. */
static void start_batch(router_t *r, writer_t *w)
{
    size_t max = (size_t)r->conf->batch_max;
    if ((int64_t)max > ids_left(r)) max = (size_t)ids_left(r);
    if (r->pending_head->solo) max = 1;
    batch_t *b = hl_calloc(1, sizeof *b);
    b->r = r;
    b->w = w;
    w->batch = b;
    b->items = hl_malloc(max * sizeof(item_t *));
    while (b->n < max && r->pending_head && !(b->n && r->pending_head->solo))
        b->items[b->n++] = pop_pending(r);
    /* Sorted keys take row locks in one order, so concurrent routers cannot deadlock. */
    qsort(b->items, b->n, sizeof(item_t *), cmp_item_key);
    b->created_at = hl_now_ms();
    int off = (int)r->conf->utc_offset_min;
    const char **keys = hl_malloc(b->n * sizeof(char *));
    hl_buf_t idarr = HL_BUF_INIT, keyarr = HL_BUF_INIT;
    hl_buf_putc(&idarr, '{');
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = b->items[i];
        it->id = r->ids[0].next++;
        it->created_at = b->created_at;
        it->version = 1;
        hl_ticket_no(it->ticket_no, it->id, it->created_at, off);
        keys[i] = it->in->idempotency_key;
        if (i) hl_buf_putc(&idarr, ',');
        hl_buf_put_i64(&idarr, it->id);
    }
    hl_buf_putc(&idarr, '}');
    hl_pg_text_array(&keyarr, keys, b->n);
    hl_free(keys);
    b->batch_id = b->items[0]->id;
    char created[HL_ISO8601_LEN];
    hl_iso8601(b->created_at, off, created);

    hl_pg_req_t *req = hl_pg_req_new(keys_result, keys_done, b);
    hl_pg_req_query(req, "BEGIN", 0, NULL);
    const char *params[] = {keyarr.data, idarr.data, created};
    hl_pg_req_query(req, HL_SQL_INSERT_KEYS, 3, params);
    if (r->ndelivered) {
        hl_buf_t del = HL_BUF_INIT;
        hl_buf_putc(&del, '{');
        for (size_t i = 0; i < r->ndelivered; i++) {
            if (i) hl_buf_putc(&del, ',');
            hl_buf_put_i64(&del, r->delivered[i]);
        }
        hl_buf_putc(&del, '}');
        const char *p1[] = {del.data};
        hl_pg_req_query(req, "DELETE FROM outbox WHERE batch_id = ANY($1::bigint[])", 1, p1);
        hl_buf_free(&del);
        b->deleting = hl_malloc(r->ndelivered * sizeof(int64_t));
        memcpy(b->deleting, r->delivered, r->ndelivered * sizeof(int64_t));
        b->ndeleting = r->ndelivered;
    }
    hl_buf_free(&idarr);
    hl_buf_free(&keyarr);
    if (hl_pg_submit(w->pg, &req) != 0) {
        hl_pg_req_free(&req);
        batch_failed(b, HL_EIO, "connection lost");
    }
}

static writer_t *idle_writer(router_t *r)
{
    for (int i = 0; i < r->nwriters; i++)
        if (!r->writers[i].batch && hl_pg_idle(r->writers[i].pg)) return &r->writers[i];
    return NULL;
}

static bool any_writer_up(const router_t *r)
{
    for (int i = 0; i < r->nwriters; i++)
        if (hl_pg_up(r->writers[i].pg)) return true;
    return false;
}

static void maybe_start_batches(router_t *r)
{
    while (r->pending_head) {
        if (ids_left(r) <= 0) {
            if (r->ids[1].end > r->ids[1].next) {
                r->ids[0] = r->ids[1];
                r->ids[1] = (id_block_t){0, 0};
            } else {
                request_ids(r);
                return;
            }
        }
        if (ids_left(r) < r->conf->batch_max && r->ids[1].end == r->ids[1].next) request_ids(r);
        writer_t *w = idle_writer(r);
        if (!w) return;
        start_batch(r, w);
    }
}

/* ===================================================== ids, reference data */

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

static void request_ids(router_t *r)
{
    if (r->ids_requested || !r->id_increment || !hl_pg_up(r->control)) return;
    hl_pg_req_t *req = hl_pg_req_new(ids_result, ids_done, r);
    hl_pg_req_query(req, "SELECT nextval('ticket_id_seq')", 0, NULL);
    if (hl_pg_submit(r->control, &req) == 0)
        r->ids_requested = true;
    else
        hl_pg_req_free(&req);
}

static void refdata_result(void *arg, int index, const PGresult *res)
{
    router_t *r = arg;
    char err[HL_ERR_LEN];
    if (index == 0) {
        /* The id block size. */
        if (PQntuples(res) == 1) r->id_increment = atoll(PQgetvalue(res, 0, 0));
        return;
    }
    if (r->loading && hl_refdata_load(r->loading, (size_t)index - 1, res, err) != 0) {
        hl_error("reference data: %s", err);
        hl_refdata_destroy(&r->loading);
    }
}

static void refdata_done(void *arg, int rc, const char *msg)
{
    router_t *r = arg;
    char err[HL_ERR_LEN];
    if (rc) {
        if (rc != HL_EAGAIN) hl_error("reference data: %s", msg ? msg : hl_strerror(rc));
        hl_refdata_destroy(&r->loading);
        return;
    }
    if (!r->loading) return; /* a row was rejected; the old snapshot stays */
    if (hl_refdata_finish(r->loading, err) != 0) {
        hl_error("reference data rejected, keeping the previous snapshot: %s", err);
        hl_refdata_destroy(&r->loading);
        return;
    }
    hl_refdata_destroy(&r->refdata);
    r->refdata = r->loading;
    r->loading = NULL;
    r->stats.reloads++;
    const char *const *units;
    size_t nunits = hl_refdata_units(r->refdata, &units);
    hl_info("reference data loaded: %zu units, classifier %s, ticket ids in blocks of %" PRId64,
            nunits, hl_classifier_version(hl_refdata_classifier(r->refdata)), r->id_increment);
    request_ids(r);
}

static void load_refdata(router_t *r)
{
    if (r->loading || !hl_pg_up(r->control)) {
        r->reload_wanted = true;
        return;
    }
    r->reload_wanted = false;
    r->loading = hl_refdata_new();
    hl_pg_req_t *req = hl_pg_req_new(refdata_result, refdata_done, r);
    hl_pg_req_query(req,
                    "SELECT increment_by FROM pg_sequences "
                    "WHERE schemaname = current_schema() AND sequencename = 'ticket_id_seq'",
                    0, NULL);
    for (size_t i = 0; i < hl_refdata_nqueries(); i++)
        hl_pg_req_query(req, hl_refdata_query(i), 0, NULL);
    if (hl_pg_submit(r->control, &req) != 0) {
        hl_pg_req_free(&req);
        hl_refdata_destroy(&r->loading);
        r->reload_wanted = true;
    }
}

static void reload_cb(hl_loop_t *loop, void *arg)
{
    (void)loop;
    router_t *r = arg;
    r->reload_timer = 0;
    load_refdata(r);
}

static void on_notify(hl_pg_t *pg, void *arg, const char *channel, const char *payload)
{
    (void)pg;
    router_t *r = arg;
    hl_info("reference data changed (%s: %s); reloading", channel, payload);
    /* Coalesce a burst of changes into one reload. */
    if (!r->reload_timer) r->reload_timer = hl_loop_timer(r->loop, 200, 0, reload_cb, r);
}

static void control_state(hl_pg_t *pg, void *arg, bool up)
{
    (void)pg;
    router_t *r = arg;
    if (!up) {
        r->ids_requested = false;
        return;
    }
    hl_pg_req_t *req = hl_pg_req_new(NULL, NULL, NULL);
    hl_pg_req_query(req, "SELECT hl_ensure_partitions(now(), 3)", 0, NULL);
    if (hl_pg_submit(r->control, &req) != 0) hl_pg_req_free(&req);
    /* A new connection may have missed notifications: reload. */
    load_refdata(r);
}

static void writer_state(hl_pg_t *pg, void *arg, bool up)
{
    (void)pg;
    router_t *r = arg;
    if (!up && !any_writer_up(r)) {
        /* Nothing can be stored now: do not let intakes wait for it. */
        fail_pending(r, HOTLINE__STATUS__STATUS_TRY_LATER,
                     "storage unavailable; retry with the same key");
    }
}

/* ============================================================ outbox sweep */

static void sweep_finish(sweep_t *s)
{
    router_t *r = s->r;
    for (size_t i = 0; i < s->n; i++) {
        if (s->failed[i]) continue;
        if (r->ndelivered == r->capdelivered) {
            r->capdelivered = r->capdelivered ? r->capdelivered * 2 : 64;
            r->delivered = hl_realloc(r->delivered, r->capdelivered * sizeof(int64_t));
        }
        r->delivered[r->ndelivered++] = s->batch_ids[i];
    }
    if (s->n) hl_info("outbox sweep re-sent %zu batch(es)", s->n);
    r->sweep = NULL;
    hl_free(s->batch_ids);
    hl_free(s->failed);
    hl_free(s);
}

typedef struct {
    sweep_t *s;
    size_t index;
} sweep_ref_t;

static void sweep_xadd_cb(redisAsyncContext *c, void *reply, void *privdata)
{
    (void)c;
    sweep_ref_t *ref = privdata;
    sweep_t *s = ref->s;
    redisReply *rep = reply;
    if (!rep || rep->type == REDIS_REPLY_ERROR)
        s->failed[ref->index] = true;
    else
        s->r->stats.swept++;
    hl_free(ref);
    if (--s->outstanding == 0) sweep_finish(s);
}

static void sweep_result(void *arg, int index, const PGresult *res)
{
    (void)index;
    sweep_t *s = arg;
    router_t *r = s->r;
    for (int row = 0; row < PQntuples(res); row++) {
        int64_t bid = atoll(PQgetvalue(res, row, 0));
        size_t bi = s->n;
        for (size_t i = 0; i < s->n; i++)
            if (s->batch_ids[i] == bid) bi = i;
        if (bi == s->n) {
            if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 16;
                s->batch_ids = hl_realloc(s->batch_ids, s->cap * sizeof(int64_t));
                s->failed = hl_realloc(s->failed, s->cap * sizeof(bool));
            }
            s->batch_ids[s->n] = bid;
            s->failed[s->n++] = false;
        }
        if (PQgetisnull(res, row, 1)) {
            s->failed[bi] = true; /* ticket not found: keep the row for a look */
            continue;
        }
        item_t it;
        memset(&it, 0, sizeof it);
        it.id = atoll(PQgetvalue(res, row, 1));
        snprintf(it.ticket_no, sizeof it.ticket_no, "%s", PQgetvalue(res, row, 2));
        hl_plan_t *p = &it.plan;
        hl_state_t st = 0;
        hl_urgency_t u = 0;
        hl_type_t t = 0;
        if (hl_state_parse(PQgetvalue(res, row, 3), &st) != 0 ||
            hl_urgency_parse(PQgetvalue(res, row, 7), &u) != 0 ||
            hl_type_parse(PQgetvalue(res, row, 8), &t) != 0) {
            s->failed[bi] = true;
            continue;
        }
        p->state = st, p->urgency = u, p->type = t;
        snprintf(p->unit, sizeof p->unit, "%s", PQgetvalue(res, row, 4));
        const char *a = PQgetvalue(res, row, 5);
        while (*a && p->nassisting < HL_MAX_ASSISTING) {
            size_t len = strcspn(a, ",");
            snprintf(p->assisting[p->nassisting++], HL_UNIT_LEN, "%.*s", (int)len, a);
            a += len + (a[len] == ',');
        }
        snprintf(p->category, sizeof p->category, "%s", PQgetvalue(res, row, 6));
        snprintf(p->region, sizeof p->region, "%s", PQgetvalue(res, row, 9));
        p->deadlines.sign = atoll(PQgetvalue(res, row, 10));
        p->deadlines.contact = atoll(PQgetvalue(res, row, 11));
        p->deadlines.reply = atoll(PQgetvalue(res, row, 12));
        it.version = atoll(PQgetvalue(res, row, 13));
        int n = 1 + p->nassisting;
        hl_queue_entry_t e;
        hl_xadd_t x;
        entry_of(&it, &e);
        for (int k = 0; k < n; k++) {
            const char *queue = k == 0 ? (*p->unit ? p->unit : r->conf->dispatch_queue)
                                       : p->assisting[k - 1];
            hl_queue_xadd(&x, queue, k == 0 ? "lead" : "assist", &e);
            sweep_ref_t *ref = hl_malloc(sizeof *ref);
            ref->s = s;
            ref->index = bi;
            if (hl_redis_command(r->redis, sweep_xadd_cb, ref, x.argc, x.argv, x.argvlen) == 0) {
                s->outstanding++;
            } else {
                hl_free(ref);
                s->failed[bi] = true;
            }
        }
    }
}

static void sweep_done(void *arg, int rc, const char *msg)
{
    sweep_t *s = arg;
    if (rc) {
        if (rc != HL_EAGAIN) hl_warn("outbox sweep: %s", msg ? msg : hl_strerror(rc));
        for (size_t i = 0; i < s->n; i++) s->failed[i] = true;
    }
    if (s->outstanding == 0) sweep_finish(s);
}

#define SQL_SWEEP                                                                                  \
    "SELECT o.batch_id, t.id, t.ticket_no, t.state, coalesce(t.unit, ''), "                        \
    "array_to_string(t.assisting_units, ','), t.category, t.urgency, t.request_type, "             \
    "coalesce(t.region, ''), (extract(epoch FROM t.sign_due) * 1000)::bigint, "                    \
    "(extract(epoch FROM t.contact_due) * 1000)::bigint, "                                         \
    "(extract(epoch FROM t.reply_due) * 1000)::bigint, t.version "                                 \
    "FROM (SELECT batch_id, ticket_ids, created_at FROM outbox "                                   \
    "      WHERE created_at < now() - $1::bigint * interval '1 millisecond' "                      \
    "      ORDER BY batch_id LIMIT 20 FOR UPDATE SKIP LOCKED) o "                                  \
    "CROSS JOIN LATERAL unnest(o.ticket_ids) AS tid "                                              \
    "LEFT JOIN tickets t ON t.id = tid AND t.created_at = o.created_at"

static void flush_delivered(router_t *r)
{
    if (!r->ndelivered || !hl_pg_idle(r->control)) return;
    hl_buf_t del = HL_BUF_INIT;
    hl_buf_putc(&del, '{');
    for (size_t i = 0; i < r->ndelivered; i++) {
        if (i) hl_buf_putc(&del, ',');
        hl_buf_put_i64(&del, r->delivered[i]);
    }
    hl_buf_putc(&del, '}');
    hl_pg_req_t *req = hl_pg_req_new(NULL, NULL, NULL);
    const char *p[] = {del.data};
    hl_pg_req_query(req, "DELETE FROM outbox WHERE batch_id = ANY($1::bigint[])", 1, p);
    hl_buf_free(&del);
    /* Losing this delete only means a later re-send, which consumers dedupe. */
    if (hl_pg_submit(r->control, &req) == 0)
        r->ndelivered = 0;
    else
        hl_pg_req_free(&req);
}

static void sweep_cb(hl_loop_t *loop, void *arg)
{
    (void)loop;
    router_t *r = arg;
    /* Deletes wait for batches when there is traffic; when idle, flush them. */
    bool busy = false;
    for (int i = 0; i < r->nwriters; i++) busy |= r->writers[i].batch != NULL;
    if (!busy && !r->pending_head) flush_delivered(r);
    if (r->sweep || !hl_redis_up(r->redis) || !hl_pg_idle(r->control)) return;
    sweep_t *s = hl_calloc(1, sizeof *s);
    s->r = r;
    r->sweep = s;
    char age[24];
    snprintf(age, sizeof age, "%" PRId64, r->conf->outbox_age_ms);
    const char *p[] = {age};
    hl_pg_req_t *req = hl_pg_req_new(sweep_result, sweep_done, s);
    hl_pg_req_query(req, "BEGIN", 0, NULL);
    hl_pg_req_query(req, SQL_SWEEP, 1, p);
    hl_pg_req_query(req, "COMMIT", 0, NULL);
    if (hl_pg_submit(r->control, &req) != 0) {
        hl_pg_req_free(&req);
        sweep_finish(s);
    }
}

/* ================================================================ watchdogs */

/* Batches whose stream writes are not answered in time are completed anyway:
 * they are committed, and the outbox sweep will deliver them. */
static void redis_watchdog(hl_loop_t *loop, void *arg)
{
    (void)loop;
    router_t *r = arg;
    int64_t limit = hl_mono_us() - r->conf->redis_timeout_ms * 1000;
    for (batch_t *b = r->redis_wait; b; b = b->next) {
        if (b->redis_since_us < limit) {
            /* Resetting answers every outstanding command with NULL. */
            hl_redis_reset(r->redis, "stream writes timed out");
            return;
        }
    }
}

static void stats_cb(hl_loop_t *loop, void *arg)
{
    (void)loop;
    router_t *r = arg;
    static hl_router_stats_t last;
    hl_router_stats_t *s = &r->stats;
    if (memcmp(s, &last, sizeof last) == 0) return;
    hl_info("stats: received %" PRIu64 " stored %" PRIu64 " replayed %" PRIu64
            " try_later %" PRIu64 " invalid %" PRIu64 " dropped %" PRIu64 " batches %" PRIu64
            " failed_batches %" PRIu64 " queued %" PRIu64 " swept %" PRIu64 " pending %zu",
            s->received, s->stored, s->replayed, s->try_later, s->invalid, s->dropped, s->batches,
            s->failed_batches, s->queued, s->swept, r->npending);
    last = *s;
}

/* ============================================================= the intake */

static void handle_intake(router_t *r, const reply_to_t *to, hl_envelope_t **envp)
{
    hl_envelope_t *env = *envp;
    const Hotline__Intake *in = env->intake;
    char err[HL_ERR_LEN];
    int64_t now = hl_now_ms();
    int rc = hl_dispatch_validate(in, &r->opts, now, err);
    const char *key = in->idempotency_key;
    if (rc) {
        reply_status(r, to,
                     rc == HL_ETOOBIG ? HOTLINE__STATUS__STATUS_TOO_LARGE
                                      : HOTLINE__STATUS__STATUS_INVALID,
                     err, key);
        return;
    }
    if (r->shutting_down) {
        reply_status(r, to, HOTLINE__STATUS__STATUS_TRY_LATER, "router is shutting down", key);
        return;
    }
    if (!r->refdata || !any_writer_up(r)) {
        reply_status(r, to, HOTLINE__STATUS__STATUS_TRY_LATER,
                     r->refdata ? "storage unavailable; retry with the same key"
                                : "router is starting; retry with the same key",
                     key);
        return;
    }
    item_t *orig = hl_map_get(r->inflight, key, strlen(key));
    if (orig) {
        /* A retry while the first attempt is still being stored. */
        item_t *f = hl_calloc(1, sizeof *f);
        f->to = *to;
        f->next = orig->followers;
        orig->followers = f;
        return;
    }
    if (r->npending >= (size_t)r->conf->max_pending) {
        reply_status(r, to, HOTLINE__STATUS__STATUS_TRY_LATER,
                     "router queue is full; retry with the same key", key);
        return;
    }
    item_t *it = hl_calloc(1, sizeof *it);
    it->to = *to;
    it->arrived_us = hl_mono_us();
    it->env = env;
    it->in = in;
    *envp = NULL;
    hl_dispatch_plan(r->refdata, in, &r->opts, now, &it->plan);
    if (it->plan.deadlines.estimated)
        hl_warn("deadline of intake %s counts days of a year without calendar data", key);
    hl_map_put(r->inflight, key, strlen(key), it);
    push_pending(r, it, false);
}

static void handle_action(router_t *r, const reply_to_t *to, hl_envelope_t **envp)
{
    (void)envp;
    reply_status(r, to, HOTLINE__STATUS__STATUS_UNSUPPORTED,
                 "ticket actions are not handled by this router version yet", NULL);
}

static void handle_not_a_request(router_t *r, const reply_to_t *to, hl_envelope_t **envp)
{
    char msg[96];
    snprintf(msg, sizeof msg, "the router accepts Intake and Action, not %s",
             (*envp)->body_case == HOTLINE__ENVELOPE__BODY_ACK ? "Ack" : "Event");
    reply_status(r, to, HOTLINE__STATUS__STATUS_UNSUPPORTED, msg, NULL);
}

/* One handler per message kind of the Envelope's oneof. */
typedef void (*handler_fn)(router_t *r, const reply_to_t *to, hl_envelope_t **envp);
static const struct {
    Hotline__Envelope__BodyCase kind;
    handler_fn fn;
} handlers[] = {
    {HOTLINE__ENVELOPE__BODY_INTAKE, handle_intake},
    {HOTLINE__ENVELOPE__BODY_ACTION, handle_action},
    {HOTLINE__ENVELOPE__BODY_ACK, handle_not_a_request},
    {HOTLINE__ENVELOPE__BODY_EVENT, handle_not_a_request},
};

static void handle_envelope(router_t *r, reply_to_t *to, const void *data, size_t len)
{
    char err[HL_ERR_LEN];
    hl_envelope_t *env = NULL;
    r->stats.received++;
    int rc = hl_envelope_unpack(data, len, (size_t)r->conf->zmq_max_envelope, &env,
                                &to->request_id, err);
    if (rc) {
        reply_status(r, to,
                     rc == HL_ETOOBIG        ? HOTLINE__STATUS__STATUS_TOO_LARGE
                     : rc == HL_EUNSUPPORTED ? HOTLINE__STATUS__STATUS_UNSUPPORTED
                                             : HOTLINE__STATUS__STATUS_INVALID,
                     err, NULL);
        return;
    }
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        if (handlers[i].kind == env->body_case) {
            handlers[i].fn(r, to, &env);
            break;
        }
    }
    hl_envelope_free(&env);
}

static void intake_cb(hl_loop_t *loop, void *arg, short revents)
{
    (void)loop;
    (void)revents;
    router_t *r = arg;
    for (int n = 0; n < READ_BURST; n++) {
        reply_to_t to;
        memset(&to, 0, sizeof to);
        size_t used = 0;
        bool bad = false;
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, r->intake, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return; /* EAGAIN: nothing more */
        }
        /* Routing frames until the last one, which is the envelope. */
        while (zmq_msg_more(&msg)) {
            size_t len = zmq_msg_size(&msg);
            if (to.n < ROUTE_FRAMES && used + len <= ROUTE_MAX) {
                memcpy(to.data + used, zmq_msg_data(&msg), len);
                to.len[to.n++] = (uint16_t)len;
                used += len;
            } else {
                bad = true;
            }
            if (zmq_msg_recv(&msg, r->intake, 0) < 0) break;
        }
        if (bad || to.n == 0) {
            r->stats.dropped++;
            hl_warn("dropped a message with unexpected routing frames");
        } else {
            handle_envelope(r, &to, zmq_msg_data(&msg), zmq_msg_size(&msg));
        }
        zmq_msg_close(&msg);
    }
}

/* ================================================================= the loop */

static void before_sleep(hl_loop_t *loop, void *arg)
{
    router_t *r = arg;
    maybe_start_batches(r);
    if (r->reload_wanted && !r->loading && hl_pg_up(r->control)) load_refdata(r);
    if (r->shutting_down && !r->pending_head && !r->redis_wait) {
        bool busy = false;
        for (int i = 0; i < r->nwriters; i++) busy |= r->writers[i].batch != NULL;
        if (!busy) hl_loop_stop(loop);
    }
}

static int bind_socket(void *s, const char *endpoint, char err[HL_ERR_LEN])
{
    if (zmq_bind(s, endpoint) != 0) {
        snprintf(err, HL_ERR_LEN, "cannot bind %s: %s", endpoint, zmq_strerror(errno));
        return HL_EIO;
    }
    return 0;
}

hl_router_t *hl_router_new(hl_loop_t *loop, const hl_conf_t *conf, char err[HL_ERR_LEN])
{
    router_t *r = hl_calloc(1, sizeof *r);
    r->loop = loop;
    r->conf = conf;
    r->intake_handle = -1;
    if (*conf->router_name) {
        snprintf(r->name, sizeof r->name, "%s", conf->router_name);
    } else {
        char host[64] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(r->name, sizeof r->name, "%s:%d", host, (int)getpid());
    }
    r->opts.max_text = (size_t)conf->max_text;
    r->opts.min_confidence = conf->min_confidence;
    r->opts.offset_min = (int)conf->utc_offset_min;
    r->opts.rule = strcmp(conf->day_count, "same_day") == 0 ? HL_COUNT_SAME_DAY : HL_COUNT_NEXT_DAY;
    r->opts.default_region = conf->default_region;
    r->inflight = hl_map_new();
    r->zctx = zmq_ctx_new();
    r->intake = zmq_socket(r->zctx, ZMQ_ROUTER);
    r->events = zmq_socket(r->zctx, ZMQ_PUB);
    int hwm = (int)conf->zmq_hwm, linger = 0;
    /* Envelopes over max_envelope get a TOO_LARGE answer; only frames over
     * this hard cap (a hostile or broken peer) make ZeroMQ drop the sender's
     * connection without reading them into memory. */
    int64_t maxmsg = conf->zmq_max_envelope * 16 > (4 << 20) ? conf->zmq_max_envelope * 16 : (4 << 20);
    zmq_setsockopt(r->intake, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(r->intake, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(r->intake, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(r->intake, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(r->events, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(r->events, ZMQ_LINGER, &linger, sizeof linger);
    if (bind_socket(r->intake, conf->zmq_intake, err) || bind_socket(r->events, conf->zmq_events, err)) {
        hl_router_t *self = r;
        hl_router_destroy(&self);
        return NULL;
    }
    r->intake_handle = hl_loop_add_zsock(loop, r->intake, ZMQ_POLLIN, intake_cb, r);

    char setup[256];
    snprintf(setup, sizeof setup,
             "SET application_name = 'hotline-router'; SET synchronous_commit = on; "
             "SET TIME ZONE 'UTC'");
    r->nwriters = (int)conf->pg_connections;
    for (int i = 0; i < r->nwriters; i++) {
        char name[32];
        snprintf(name, sizeof name, "writer%d", i);
        r->writers[i].pg = hl_pg_new(loop, name, conf->pg_conninfo, setup, conf->pg_reconnect_ms,
                                     conf->pg_request_timeout_ms);
        hl_pg_on_state(r->writers[i].pg, writer_state, r);
    }
    r->control = hl_pg_new(loop, "control", conf->pg_conninfo,
                           "SET application_name = 'hotline-router'; SET TIME ZONE 'UTC'; "
                           "LISTEN hotline_reference",
                           conf->pg_reconnect_ms, conf->pg_request_timeout_ms);
    hl_pg_on_state(r->control, control_state, r);
    hl_pg_on_notify(r->control, on_notify, r);
    r->redis = hl_redis_new(loop, conf->redis_host, (int)conf->redis_port, conf->redis_reconnect_ms);
    hl_loop_before_sleep(loop, before_sleep, r);
    r->timers[0] = hl_loop_timer(loop, 100, 100, expire_pending, r);
    r->timers[1] = hl_loop_timer(loop, conf->outbox_sweep_ms, conf->outbox_sweep_ms, sweep_cb, r);
    r->timers[2] = hl_loop_timer(loop, 250, 250, redis_watchdog, r);
    r->timers[3] = hl_loop_timer(loop, 10000, 10000, stats_cb, r);
    return r;
}

void hl_router_start(hl_router_t *r)
{
    hl_pg_start(r->control);
    for (int i = 0; i < r->nwriters; i++) hl_pg_start(r->writers[i].pg);
    hl_redis_start(r->redis);
}

void hl_router_shutdown(hl_router_t *r)
{
    if (r->shutting_down) return;
    r->shutting_down = true;
    hl_info("shutting down: finishing %zu pending intakes", r->npending);
}

void hl_router_reload(hl_router_t *r)
{
    load_refdata(r);
}

const hl_router_stats_t *hl_router_stats(const hl_router_t *r)
{
    return &r->stats;
}

void hl_router_destroy(hl_router_t **self_p)
{
    router_t *r = *self_p;
    if (!r) return;
    fail_pending(r, HOTLINE__STATUS__STATUS_TRY_LATER, "router stopped; retry with the same key");
    for (int i = 0; i < 4; i++) hl_loop_cancel(r->loop, r->timers[i]);
    hl_loop_cancel(r->loop, r->reload_timer);
    /* Batches still in flight are answered TRY_LATER through their callbacks. */
    for (int i = 0; i < r->nwriters; i++) hl_pg_destroy(&r->writers[i].pg);
    hl_pg_destroy(&r->control);
    hl_redis_destroy(&r->redis);
    hl_refdata_destroy(&r->refdata);
    hl_refdata_destroy(&r->loading);
    if (r->intake_handle >= 0 && r->intake) hl_loop_remove(r->loop, r->intake_handle);
    if (r->intake) zmq_close(r->intake);
    if (r->events) zmq_close(r->events);
    if (r->zctx) zmq_ctx_term(r->zctx);
    hl_map_destroy(&r->inflight);
    hl_free(r->delivered);
    hl_buf_free(&r->sendbuf);
    hl_free(r);
    *self_p = NULL;
}
