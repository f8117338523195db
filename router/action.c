/* action.c - ticket actions, in batches, through the lifecycle table.
 *
 * Actions wait in their own queue and are handled in batches on the writer
 * connections, like intakes, in two round trips:
 *
 *   BEGIN; register idempotency keys (a used key replays); SELECT the named
 *   tickets (and merge parents, and the merged children of tickets that may
 *   close) FOR UPDATE, in id order
 *       -> each action, in arrival order, through hl_lifecycle_apply
 *   UPDATE the changed tickets; INSERT their events; linkage records; an
 *   outbox row for dispatches; forget the keys of refused actions; COMMIT
 *
 * then tell units through their streams (new work goes through the outbox,
 * so it is delivered at least once), publish the events, and answer. A
 * refused action changes nothing and is answered with the reason and, for an
 * illegal one, what the state allows.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/figures.h"
#include "hotline/log.h"

#include "router_int.h"

#define MAX_REASON 2000
#define MAX_PAYLOAD HL_MAX_PAYLOAD

typedef struct {
    hl_ticket_t t;
    int last_seq;
    bool dirty;
} slot_t;

typedef struct {
    int rc;              /* 0, HL_E*, or 1 = replayed key, 2 = duplicate notice */
    char err[HL_ERR_LEN];
    char allowed[256];
    int slot;            /* the ticket's slot, -1 if none */
} result_t;

typedef struct {
    int slot;
    aitem_t *item;       /* NULL for a child closed by its parent */
    const char *kind;
    hl_state_t from, to;
    int seq;
    int64_t at;
    unsigned history;    /* what the ticket had been through by then (HL_FIGURES_*) */
} ev_t;

typedef struct {
    int slot;
    const char *kind, *event, *role;
    char unit[HL_UNIT_LEN];
} tell_t;

struct abatch {
    delivery_t d;         /* first: done() gets the batch back from it; d.r its router */
    writer_t *w;
    aitem_t **items;
    size_t n;
    result_t *res;
    slot_t *slots;
    size_t nslots, capslots;
    hl_map_t *by_id;      /* id (8 bytes) -> slot index + 1 */
    int q_keys, q_tickets, q_children;
    hl_map_t *new_keys;   /* keys inserted by this batch: 1, then 2 + the index of the item using it */
    ev_t *evs;
    size_t nevs, capevs;
    tell_t *tells;
    size_t ntells, captells;
    int64_t *dispatched;  /* ticket ids newly dispatched (outbox) */
    size_t ndispatched;
    int64_t outbox_id;
    int64_t lo, hi;       /* created_at range, ms */
};

/* ------------------------------------------------------------ queue */

static void push(router_t *r, aitem_t *it, bool front)
{
    it->next = NULL;
    if (front) {
        it->next = r->apending_head;
        r->apending_head = it;
        if (!r->apending_tail) r->apending_tail = it;
    } else if (r->apending_tail) {
        r->apending_tail->next = it;
        r->apending_tail = it;
    } else {
        r->apending_head = r->apending_tail = it;
    }
    r->napending++;
}

static aitem_t *pop(router_t *r)
{
    aitem_t *it = r->apending_head;
    if (!it) return NULL;
    r->apending_head = it->next;
    if (!r->apending_head) r->apending_tail = NULL;
    it->next = NULL;
    r->napending--;
    return it;
}

static void free_item(aitem_t *it)
{
    hl_envelope_free(&it->env);
    hl_free(it);
}

/* ------------------------------------------------------------ answers */

static void fill_view(const hl_ticket_t *t, Hotline__Ack *ack, Hotline__Deadlines *dl, char **assisting)
{
    ack->ticket = (char *)t->ticket_no;
    ack->state = t->state;
    ack->version = t->version;
    ack->unit = (char *)t->unit;
    for (int i = 0; i < t->nassisting; i++) assisting[i] = (char *)t->assisting[i];
    ack->n_assisting_units = (size_t)t->nassisting;
    ack->assisting_units = assisting;
    ack->category = (char *)t->category;
    ack->urgency = t->urgency;
    ack->type = t->type;
    dl->sign = t->due[HL_CLOCK_SIGN];
    dl->contact = t->due[HL_CLOCK_CONTACT];
    dl->reply = t->due[HL_CLOCK_REPLY];
    dl->callback = t->due[HL_CLOCK_CALLBACK];
    ack->deadlines = dl;
}

static Hotline__Status status_of(int rc)
{
    switch (rc) {
    case HL_ECONFLICT: return HOTLINE__STATUS__STATUS_CONFLICT;
    case HL_EFORBIDDEN: return HOTLINE__STATUS__STATUS_FORBIDDEN;
    case HL_ENOTFOUND: return HOTLINE__STATUS__STATUS_NOT_FOUND;
    case HL_ETOOBIG: return HOTLINE__STATUS__STATUS_TOO_LARGE;
    case HL_EAGAIN: return HOTLINE__STATUS__STATUS_TRY_LATER;
    case HL_EIO: return HOTLINE__STATUS__STATUS_INTERNAL;
    default: return HOTLINE__STATUS__STATUS_INVALID;
    }
}

/* Answer an action: with the ticket as it is now, or with an error. */
static void answer(router_t *r, aitem_t *it, const result_t *res, const hl_ticket_t *t)
{
    Hotline__Ack ack = HOTLINE__ACK__INIT;
    Hotline__Deadlines dl = HOTLINE__DEADLINES__INIT;
    char *assisting[HL_MAX_ASSISTING];
    char *allowed[32];
    ack.idempotency_key = it->a->idempotency_key;
    if (res->rc < 0) {
        ack.status = status_of(res->rc);
        ack.message = (char *)res->err;
        if (ack.status == HOTLINE__STATUS__STATUS_TRY_LATER) ack.retry_after_ms = (uint32_t)r->conf->retry_after_ms;
        /* The allowed actions, as a list. */
        char copy[256];
        snprintf(copy, sizeof copy, "%s", res->allowed);
        size_t n = 0;
        for (char *tok = strtok(copy, ","); tok && n < 32; tok = strtok(NULL, ",")) allowed[n++] = tok;
        ack.n_allowed = n;
        ack.allowed = allowed;
        if (t) ack.ticket = (char *)t->ticket_no, ack.state = t->state, ack.version = t->version;
        (void)hl__router_send(r, &it->to, &ack);
        if (ack.status == HOTLINE__STATUS__STATUS_TRY_LATER) r->stats.try_later++;
        else r->stats.refused++;
        return;
    }
    ack.status = HOTLINE__STATUS__STATUS_OK;
    fill_view(t, &ack, &dl, assisting);
    ack.replayed = res->rc == 1;
    ack.message = res->rc == 1 ? "done earlier (replayed)" : res->rc == 2 ? "already notified" : "done";
    (void)hl__router_send(r, &it->to, &ack);
    r->stats.actions++;
}

static void answer_error(router_t *r, aitem_t *it, int rc, const char *msg)
{
    result_t res = {.rc = rc, .slot = -1};
    snprintf(res.err, sizeof res.err, "%s", msg);
    answer(r, it, &res, NULL);
}

/* ------------------------------------------------------------ accepting */

static bool ticket_no_ok(const char *no, int64_t *id, int64_t *day)
{
    return hl_ticket_no_parse(no, id, day) == 0;
}

void hl__action_accept(router_t *r, const reply_to_t *to, hl_envelope_t **envp)
{
    const Hotline__Action *a = (*envp)->action;
    aitem_t tmp = {.to = *to, .a = a};
    char why[HL_ERR_LEN] = "";
    int rc = HL_EINVAL, role = a->actor ? hl_role_parse(a->actor->role) : 0;
    int64_t id = 0, day = 0;
    if (!ticket_no_ok(a->ticket, &id, &day)) {
        snprintf(why, sizeof why, "'%.40s' is not a ticket number", a->ticket);
    } else if (!*hl_action_name(a->kind)) {
        snprintf(why, sizeof why, "unknown action %d", (int)a->kind);
    } else if (!role) {
        snprintf(why, sizeof why, "actor.role must be agent, office, supervisor, admin, unit or system");
    } else if (role == HL_ROLE_UNIT && !*a->actor->unit) {
        snprintf(why, sizeof why, "a unit actor needs actor.unit");
    } else if (strlen(a->reason) > MAX_REASON || strlen(a->reason_code) > 64) {
        snprintf(why, sizeof why, "reason is over %d bytes or reason_code over 64", MAX_REASON);
        rc = HL_ETOOBIG;
    } else if (a->n_payload > MAX_PAYLOAD) {
        snprintf(why, sizeof why, "more than %d payload entries", MAX_PAYLOAD);
        rc = HL_ETOOBIG;
    } else if (strlen(a->idempotency_key) > HL_KEY_MAX) {
        snprintf(why, sizeof why, "idempotency_key over %d bytes", HL_KEY_MAX);
    } else {
        rc = 0;
        for (size_t i = 0; i < a->n_payload && !rc; i++) {
            if (strlen(a->payload[i]->key) > 32 || strlen(a->payload[i]->value) > (size_t)r->conf->max_text) {
                snprintf(why, sizeof why, "payload '%.32s' is too long", a->payload[i]->key);
                rc = HL_ETOOBIG;
            }
        }
    }
    if (!rc && r->shutting_down) rc = HL_EAGAIN, snprintf(why, sizeof why, "router is shutting down");
    if (!rc && (!r->refdata || !hl__router_storage_up(r)))
        rc = HL_EAGAIN, snprintf(why, sizeof why, "storage unavailable; retry");
    if (!rc && r->napending >= (size_t)r->conf->max_pending)
        rc = HL_EAGAIN, snprintf(why, sizeof why, "router queue is full; retry");
    if (rc) {
        answer_error(r, &tmp, rc, why);
        return;
    }
    aitem_t *it = hl_calloc(1, sizeof *it);
    it->to = *to;
    it->arrived_us = hl_mono_us();
    it->env = *envp;
    *envp = NULL;
    it->a = a;
    it->role = role;
    it->ticket_id = id;
    it->day = day;
    for (size_t i = 0; i < a->n_payload; i++) {
        if (strcmp(a->payload[i]->key, "parent") == 0)
            (void)ticket_no_ok(a->payload[i]->value, &it->parent_id, &it->parent_day);
    }
    push(r, it, false);
}

void hl__action_expire(router_t *r)
{
    int64_t limit = hl_mono_us() - r->conf->pending_timeout_ms * 1000;
    aitem_t **pp = &r->apending_head, *prev = NULL;
    while (*pp) {
        aitem_t *it = *pp;
        if (it->arrived_us < limit) {
            *pp = it->next;
            if (r->apending_tail == it) r->apending_tail = prev;
            r->napending--;
            answer_error(r, it, HL_EAGAIN, "not handled in time (storage slow or down); retry");
            free_item(it);
        } else {
            prev = it;
            pp = &it->next;
        }
    }
}

void hl__action_fail_pending(router_t *r, const char *msg)
{
    aitem_t *it;
    while ((it = pop(r)) != NULL) {
        answer_error(r, it, HL_EAGAIN, msg);
        free_item(it);
    }
}

/* ------------------------------------------------------------ batches */

static void free_batch(abatch_t *b)
{
    hl_free(b->items);
    hl_free(b->res);
    hl_free(b->slots);
    hl_map_destroy(&b->by_id);
    hl_map_destroy(&b->new_keys);
    hl_free(b->evs);
    hl_free(b->tells);
    hl_free(b->dispatched);
    hl_free(b);
}

static void release(abatch_t *b)
{
    if (b->w) b->w->abatch = NULL;
    b->w = NULL;
}

static void batch_failed(abatch_t *b, int rc, const char *msg)
{
    router_t *r = b->d.r;
    release(b);
    r->stats.failed_batches++;
    bool sql_error = rc == HL_EINVAL || rc == HL_ECONFLICT;
    if (sql_error && b->n > 1) {
        hl_warn("action batch of %zu failed (%s); handling them one by one", b->n, msg);
        for (size_t i = b->n; i-- > 0;) {
            b->items[i]->solo = true;
            push(r, b->items[i], true);
        }
    } else {
        if (sql_error) hl_error("action on %s failed: %s", b->items[0]->a->ticket, msg);
        else hl_warn("action batch of %zu not stored: %s", b->n, msg ? msg : hl_strerror(rc));
        for (size_t i = 0; i < b->n; i++) {
            answer_error(r, b->items[i], sql_error ? HL_EIO : HL_EAGAIN,
                         sql_error ? "this action cannot be stored; the operators were told"
                                   : "storage unavailable; retry with the same key");
            free_item(b->items[i]);
        }
    }
    free_batch(b);
}

static int slot_of(const abatch_t *b, int64_t id)
{
    intptr_t v = (intptr_t)hl_map_get(b->by_id, (const char *)&id, sizeof id);
    return (int)v - 1;
}

static int add_slot(abatch_t *b, const hl_ticket_t *t, int last_seq)
{
    int s = slot_of(b, t->id);
    if (s >= 0) return s;
    if (b->nslots == b->capslots) {
        b->capslots = b->capslots ? b->capslots * 2 : 64;
        b->slots = hl_realloc(b->slots, b->capslots * sizeof(slot_t));
    }
    b->slots[b->nslots] = (slot_t){*t, last_seq, false};
    hl_map_put(b->by_id, (const char *)&t->id, sizeof t->id, (void *)(intptr_t)(b->nslots + 1));
    return (int)b->nslots++;
}

static void add_event(abatch_t *b, int slot, aitem_t *it, const char *kind, hl_state_t from, hl_state_t to, int64_t at)
{
    if (b->nevs == b->capevs) {
        b->capevs = b->capevs ? b->capevs * 2 : 64;
        b->evs = hl_realloc(b->evs, b->capevs * sizeof(ev_t));
    }
    slot_t *s = &b->slots[slot];
    b->evs[b->nevs++] = (ev_t){slot, it, kind, from, to, ++s->last_seq, at,
                               hl_figures_history(s->t.return_count, s->t.reopen_count, s->t.supervision,
                                                  s->t.parent_id)};
    s->dirty = true;
}

static void add_tell(abatch_t *b, int slot, const char *kind, const char *event, const char *role, const char *unit)
{
    if (!unit || !*unit) unit = b->d.r->conf->dispatch_queue;
    if (b->ntells == b->captells) {
        b->captells = b->captells ? b->captells * 2 : 32;
        b->tells = hl_realloc(b->tells, b->captells * sizeof(tell_t));
    }
    tell_t *t = &b->tells[b->ntells++];
    *t = (tell_t){slot, kind, event, role, ""};
    snprintf(t->unit, sizeof t->unit, "%s", unit);
}

static void keys_result(abatch_t *b, const PGresult *res)
{
    for (int row = 0; row < PQntuples(res); row++) {
        const char *k = PQgetvalue(res, row, 0);
        hl_map_put(b->new_keys, k, strlen(k), (void *)1);
    }
}

static void rt1_result(void *arg, int index, const PGresult *res)
{
    abatch_t *b = arg;
    if (index == b->q_keys) {
        keys_result(b, res);
        return;
    }
    if (index != b->q_tickets && index != b->q_children) return;
    for (int row = 0; row < PQntuples(res); row++) {
        hl_ticket_t t;
        int last_seq = 1;
        if (hl_store_ticket_read(res, row, 0, &t, &last_seq) != 0) {
            hl_error("ticket %s has a value this router does not know; skipped", PQgetvalue(res, row, 2));
            continue;
        }
        add_slot(b, &t, last_seq);
    }
}

static void rt2_done(void *arg, int rc, const char *msg);

static void outbox_result(void *arg, int index, const PGresult *res)
{
    (void)index;
    abatch_t *b = arg;
    if (b->outbox_id == -1 && PQnfields(res) == 1 && PQntuples(res) == 1 &&
        strcmp(PQfname(res, 0), "batch_id") == 0)
        b->outbox_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
}

/* Everything a batch writes, built from the slots and events. */
static void send_writes(abatch_t *b)
{
    router_t *r = b->d.r;
    hl_pg_req_t *req = hl_pg_req_new(outbox_result, rt2_done, b);
    size_t dirty = 0;
    hl_buf_t tcols[HL_UPDATE_NARRAYS];
    memset(tcols, 0, sizeof tcols);
    int64_t clo = INT64_MAX, chi = INT64_MIN;
    for (size_t i = 0; i < b->nslots; i++) {
        if (!b->slots[i].dirty) continue;
        hl_store_ticket_arrays(tcols, &b->slots[i].t, b->slots[i].last_seq);
        if (b->slots[i].t.created_at < clo) clo = b->slots[i].t.created_at;
        if (b->slots[i].t.created_at > chi) chi = b->slots[i].t.created_at;
        dirty++;
    }
    if (dirty) {
        hl_store_arrays_finish(tcols, HL_UPDATE_NARRAYS);
        char cl[48], ch[48];
        hl_iso8601(clo, 0, cl);
        hl_iso8601(chi + 1, 0, ch);
        const char *p[HL_UPDATE_NARRAYS + 2];
        for (int i = 0; i < HL_UPDATE_NARRAYS; i++) p[i] = tcols[i].data;
        p[HL_UPDATE_NARRAYS] = cl;
        p[HL_UPDATE_NARRAYS + 1] = ch;
        hl_pg_req_query(req, hl_sql_update_tickets, HL_UPDATE_NARRAYS + 2, p);
    }
    for (int i = 0; i < HL_UPDATE_NARRAYS; i++) hl_buf_free(&tcols[i]);

    if (b->nevs) {
        hl_buf_t ecols[HL_EVENT_NARRAYS];
        memset(ecols, 0, sizeof ecols);
        for (size_t i = 0; i < b->nevs; i++) {
            ev_t *e = &b->evs[i];
            const hl_ticket_t *t = &b->slots[e->slot].t;
            const Hotline__Action *a = e->item ? e->item->a : NULL;
            char *json = NULL;
            if (a && a->n_payload) {
                json_t *o = json_object();
                for (size_t k = 0; k < a->n_payload; k++)
                    json_object_set_new(o, a->payload[k]->key, json_string(a->payload[k]->value));
                json = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
                json_decref(o);
            }
            hl_store_event_t row = {t->id, e->seq, e->at, e->kind, e->from, e->to,
                                    a ? a->actor->role : "system", a ? a->actor->unit : NULL,
                                    a ? a->actor->id : r->name, a ? a->reason_code : NULL,
                                    a ? a->reason : "the ticket it was merged into closed", t->unit,
                                    {t->due[0], t->due[1], t->due[2], t->due[3]}, json, e->history};
            hl_store_event_arrays(ecols, &row);
            free(json);
        }
        hl_store_arrays_finish(ecols, HL_EVENT_NARRAYS);
        const char *p[HL_EVENT_NARRAYS];
        for (int i = 0; i < HL_EVENT_NARRAYS; i++) p[i] = ecols[i].data;
        hl_pg_req_query(req, hl_sql_insert_events, HL_EVENT_NARRAYS, p);
        for (int i = 0; i < HL_EVENT_NARRAYS; i++) hl_buf_free(&ecols[i]);
    }

    /* Linkage records of emergency transfers. */
    hl_buf_t lt = HL_BUF_INIT, ls = HL_BUF_INIT, la = HL_BUF_INIT, ln = HL_BUF_INIT;
    size_t nlink = 0;
    for (size_t i = 0; i < b->nevs; i++) {
        ev_t *e = &b->evs[i];
        if (strcmp(e->kind, "transfer_emergency") != 0 || !e->item) continue;
        const char *svc = NULL, *note = "";
        for (size_t k = 0; k < e->item->a->n_payload; k++) {
            if (!strcmp(e->item->a->payload[k]->key, "service")) svc = e->item->a->payload[k]->value;
            if (!strcmp(e->item->a->payload[k]->key, "note")) note = e->item->a->payload[k]->value;
        }
        const char *one[1];
        hl_buf_putc(&lt, nlink ? ',' : '{');
        hl_buf_put_i64(&lt, b->slots[e->slot].t.id);
        hl_buf_putc(&la, nlink ? ',' : '{');
        hl_buf_put_i64(&la, e->at);
        one[0] = svc;
        hl_buf_t tmp = HL_BUF_INIT;
        hl_pg_text_array(&tmp, one, 1);
        hl_buf_putc(&ls, nlink ? ',' : '{');
        hl_buf_append(&ls, tmp.data + 1, tmp.len - 2);
        hl_buf_reset(&tmp);
        one[0] = note;
        hl_pg_text_array(&tmp, one, 1);
        hl_buf_putc(&ln, nlink ? ',' : '{');
        hl_buf_append(&ln, tmp.data + 1, tmp.len - 2);
        hl_buf_free(&tmp);
        nlink++;
    }
    if (nlink) {
        hl_buf_putc(&lt, '}');
        hl_buf_putc(&ls, '}');
        hl_buf_putc(&la, '}');
        hl_buf_putc(&ln, '}');
        const char *p[] = {lt.data, ls.data, la.data, ln.data, r->name};
        hl_pg_req_query(req,
                        "INSERT INTO emergency_linkages (ticket_id, service, at, actor, note) "
                        "SELECT u.t, u.s, to_timestamp(u.a / 1000.0), $5, u.n "
                        "FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[]) AS u (t, s, a, n)",
                        5, p);
    }
    hl_buf_free(&lt);
    hl_buf_free(&ls);
    hl_buf_free(&la);
    hl_buf_free(&ln);

    /* New work for a unit goes through the outbox: at least once. */
    if (b->ndispatched) {
        hl_buf_t ids = HL_BUF_INIT;
        hl_buf_putc(&ids, '{');
        for (size_t i = 0; i < b->ndispatched; i++) {
            if (i) hl_buf_putc(&ids, ',');
            hl_buf_put_i64(&ids, b->dispatched[i]);
        }
        hl_buf_putc(&ids, '}');
        /* created_at: the earliest of the tickets, where the sweep looks for them. */
        int64_t first = INT64_MAX;
        for (size_t i = 0; i < b->ndispatched; i++) {
            int sl = slot_of(b, b->dispatched[i]);
            if (sl >= 0 && b->slots[sl].t.created_at < first) first = b->slots[sl].t.created_at;
        }
        char created[HL_ISO8601_LEN];
        hl_iso8601(first, 0, created);
        const char *p[] = {r->name, ids.data, created};
        hl_pg_req_query(req,
                        "INSERT INTO outbox (batch_id, router, ticket_ids, created_at) "
                        "VALUES (nextval('outbox_action_seq'), $1, $2::bigint[], $3) RETURNING batch_id",
                        3, p);
        b->outbox_id = -1; /* set by the result */
        hl_buf_free(&ids);
    }

    /* Keys of refused actions are forgotten: a retry is tried afresh. */
    const char **drop = hl_malloc((b->n ? b->n : 1) * sizeof(char *));
    size_t ndrop = 0;
    for (size_t i = 0; i < b->n; i++) {
        const char *k = b->items[i]->a->idempotency_key;
        if (*k && b->res[i].rc < 0 && hl_map_get(b->new_keys, k, strlen(k)) == (void *)(intptr_t)(i + 2))
            drop[ndrop++] = k; /* the refused item owned it */
    }
    if (ndrop) {
        hl_buf_t arr = HL_BUF_INIT;
        hl_pg_text_array(&arr, drop, ndrop);
        const char *p[] = {arr.data};
        hl_pg_req_query(req, "DELETE FROM action_keys WHERE key = ANY($1::text[])", 1, p);
        hl_buf_free(&arr);
    }
    hl_free(drop);
    hl_pg_req_query(req, "COMMIT", 0, NULL);
    if (hl_pg_submit(b->w->pg, &req) != 0) {
        hl_pg_req_free(&req);
        batch_failed(b, HL_EIO, "connection lost");
    }
}

/* Apply every action of the batch to the locked tickets. */
static void apply_all(abatch_t *b)
{
    router_t *r = b->d.r;
    hl_life_env_t env = {r->refdata, r->opts.offset_min, r->opts.rule, (int)r->conf->archive_after_days, NULL};
    for (size_t i = 0; i < b->n; i++) {
        aitem_t *it = b->items[i];
        const Hotline__Action *a = it->a;
        result_t *res = &b->res[i];
        res->slot = slot_of(b, it->ticket_id);
        if (res->slot < 0) {
            const char *k = a->idempotency_key;
            if (*k && hl_map_get(b->new_keys, k, strlen(k)) == (void *)1)
                hl_map_put(b->new_keys, k, strlen(k), (void *)(intptr_t)(i + 2)); /* to be forgotten */
            res->rc = HL_ENOTFOUND;
            snprintf(res->err, sizeof res->err, "ticket %s does not exist", a->ticket);
            continue;
        }
        const char *key = a->idempotency_key;
        size_t klen = strlen(key);
        if (*key) {
            /* 1: this batch registered the key, and this is its first use;
             * otherwise the key was used before (or earlier in this batch). */
            if (hl_map_get(b->new_keys, key, klen) != (void *)1) {
                res->rc = 1; /* done before: answer with the ticket as it is */
                continue;
            }
            hl_map_put(b->new_keys, key, klen, (void *)(intptr_t)(i + 2)); /* owned by item i */
        }
        slot_t *s = &b->slots[res->slot];
        int ps = it->parent_id ? slot_of(b, it->parent_id) : -1;
        env.parent = ps >= 0 ? &b->slots[ps].t : NULL;
        const char *keys[MAX_PAYLOAD], *values[MAX_PAYLOAD];
        for (size_t k = 0; k < a->n_payload; k++) keys[k] = a->payload[k]->key, values[k] = a->payload[k]->value;
        hl_act_t act = {a->kind, it->role, a->actor->unit, a->actor->id, a->reason_code, a->reason,
                        a->n_payload, keys, values, a->expected_version, hl_now_ms()};
        hl_outcome_t out;
        res->rc = hl_lifecycle_apply(&env, &s->t, &act, &out, res->allowed, sizeof res->allowed, res->err);
        if (res->rc) continue;
        if (out.duplicate) {
            res->rc = 2;
            continue;
        }
        for (int k = 0; k < out.nevents; k++)
            add_event(b, res->slot, it, out.events[k].kind, out.events[k].from, out.events[k].to, act.now);
        bool dispatched = false;
        for (int k = 0; k < out.nevents; k++) dispatched |= strcmp(out.events[k].kind, "dispatch") == 0;
        if (dispatched) {
            b->dispatched = hl_realloc(b->dispatched, (b->ndispatched + 1) * sizeof(int64_t));
            b->dispatched[b->ndispatched++] = s->t.id;
            add_tell(b, res->slot, "ticket", "dispatch", "lead", s->t.unit);
            for (int k = 0; k < s->t.nassisting; k++)
                add_tell(b, res->slot, "ticket", "dispatch", "assist", s->t.assisting[k]);
        } else if (out.tell) {
            add_tell(b, res->slot, out.tell, hl_action_name(a->kind), *out.tell_unit ? "lead" : "office",
                     out.tell_unit);
        }
        if (a->kind == HOTLINE__ACTION_KIND__ACTION_MERGE && ps >= 0) {
            b->slots[ps].t.merged_count++; /* not a change of the parent: no version, no event */
            b->slots[ps].dirty = true;
        }
        if (out.close_children) {
            for (size_t c = 0; c < b->nslots; c++) {
                slot_t *ch = &b->slots[c];
                if (ch->t.parent_id != s->t.id || ch->t.state != HOTLINE__STATE__STATE_MERGED) continue;
                hl_outcome_t co;
                hl_state_t from = ch->t.state;
                hl_lifecycle_close_child(&ch->t, act.now, &co);
                add_event(b, (int)c, NULL, "close", from, ch->t.state, act.now);
                if (s->t.merged_count > 0) s->t.merged_count--;
            }
        }
    }
}

static void children_done(void *arg, int rc, const char *msg)
{
    abatch_t *b = arg;
    if (rc) {
        batch_failed(b, rc, msg);
        return;
    }
    apply_all(b);
    send_writes(b);
}

/* Tickets about to close that have merged children: lock and read those
 * too (a third round trip, only then: the look-up by parent cannot be
 * pruned to a partition). */
static void rt1_done(void *arg, int rc, const char *msg)
{
    abatch_t *b = arg;
    if (rc) {
        batch_failed(b, rc, msg);
        return;
    }
    hl_buf_t ids = HL_BUF_INIT;
    for (size_t i = 0; i < b->n; i++) {
        if (b->items[i]->a->kind != HOTLINE__ACTION_KIND__ACTION_CLOSE) continue;
        int sl = slot_of(b, b->items[i]->ticket_id);
        if (sl < 0 || b->slots[sl].t.merged_count <= 0) continue;
        hl_buf_putc(&ids, ids.len ? ',' : '{');
        hl_buf_put_i64(&ids, b->slots[sl].t.id);
    }
    if (!ids.len) {
        apply_all(b);
        send_writes(b);
        return;
    }
    hl_buf_putc(&ids, '}');
    hl_pg_req_t *req = hl_pg_req_new(rt1_result, children_done, b);
    const char *p[] = {ids.data};
    hl_pg_req_query(req,
                    "SELECT " HL_SQL_TICKET_COLS " FROM tickets WHERE parent_id = ANY($1::bigint[]) "
                    "AND state = 'MERGED' ORDER BY id FOR UPDATE",
                    1, p);
    b->q_keys = b->q_tickets = -1;
    b->q_children = 0;
    hl_buf_free(&ids);
    if (hl_pg_submit(b->w->pg, &req) != 0) {
        hl_pg_req_free(&req);
        batch_failed(b, HL_EIO, "connection lost");
    }
}

/* ------------------------------------------------------------ completion */

static void entry_of_ticket(const hl_ticket_t *t, hl_queue_entry_t *e)
{
    e->ticket_no = t->ticket_no;
    e->id = t->id;
    e->state = hl_state_name(t->state);
    e->category = t->category;
    e->urgency = hl_urgency_name(t->urgency);
    e->type = hl_type_name(t->type);
    e->region = t->region;
    e->sign_due = t->due[HL_CLOCK_SIGN];
    e->contact_due = t->due[HL_CLOCK_CONTACT];
    e->reply_due = t->due[HL_CLOCK_REPLY];
    e->version = t->version;
}

static void complete(delivery_t *d)
{
    abatch_t *b = (abatch_t *)d;
    router_t *r = b->d.r;
    if (b->ndispatched && b->outbox_id && b->outbox_id != -1 && !d->failed)
        hl__router_delivered(r, b->outbox_id);
    for (size_t i = 0; i < b->nevs; i++) {
        ev_t *e = &b->evs[i];
        hl__router_publish_ticket(r, &b->slots[e->slot].t, e->kind, e->from, e->to, e->seq, e->at, e->history,
                                  e->item ? e->item->a : NULL);
    }
    hl__router_count_flush(r);
    for (size_t i = 0; i < b->n; i++) {
        const hl_ticket_t *t = b->res[i].slot >= 0 ? &b->slots[b->res[i].slot].t : NULL;
        answer(r, b->items[i], &b->res[i], t);
        free_item(b->items[i]);
    }
    free_batch(b);
}

static void rt2_done(void *arg, int rc, const char *msg)
{
    abatch_t *b = arg;
    router_t *r = b->d.r;
    if (rc) {
        batch_failed(b, rc, msg);
        return;
    }
    hl__delivery_begin(&b->d, complete);
    release(b);
    r->stats.batches++;
    for (size_t i = 0; i < b->ntells && !b->d.failed; i++) {
        tell_t *t = &b->tells[i];
        hl_queue_entry_t e;
        entry_of_ticket(&b->slots[t->slot].t, &e);
        hl_xadd_t x;
        hl_queue_xadd(&x, t->unit, t->kind, t->event, t->role, &e);
        hl__delivery_xadd(&b->d, &x);
    }
    hl__delivery_end(&b->d);
}

static int cmp_id(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

static void start_batch(router_t *r, writer_t *w)
{
    size_t max = r->apending_head->solo ? 1 : (size_t)r->conf->batch_max;
    abatch_t *b = hl_calloc(1, sizeof *b);
    hl__delivery_form(&b->d, r, r->apending_head->arrived_us);
    b->w = w;
    w->abatch = b;
    b->items = hl_malloc(max * sizeof(aitem_t *));
    while (b->n < max && r->apending_head && !(b->n && r->apending_head->solo)) b->items[b->n++] = pop(r);
    b->res = hl_calloc(b->n, sizeof(result_t));
    b->by_id = hl_map_new();
    b->new_keys = hl_map_new();
    b->q_keys = b->q_tickets = b->q_children = -1;
    /* The tickets (and merge parents), sorted: locks in one order. */
    int64_t *ids = hl_malloc(2 * b->n * sizeof(int64_t));
    size_t nids = 0;
    int64_t dlo = INT64_MAX, dhi = INT64_MIN;
    const char **keys = hl_malloc(b->n * sizeof(char *));
    hl_buf_t keyids = HL_BUF_INIT;
    size_t nkeys = 0;
    for (size_t i = 0; i < b->n; i++) {
        aitem_t *it = b->items[i];
        ids[nids++] = it->ticket_id;
        if (it->day < dlo) dlo = it->day;
        if (it->day > dhi) dhi = it->day;
        if (it->parent_id) {
            ids[nids++] = it->parent_id;
            if (it->parent_day < dlo) dlo = it->parent_day;
            if (it->parent_day > dhi) dhi = it->parent_day;
        }
        if (*it->a->idempotency_key) {
            keys[nkeys] = it->a->idempotency_key;
            hl_buf_putc(&keyids, nkeys++ ? ',' : '{');
            hl_buf_put_i64(&keyids, it->ticket_id);
        }
    }
    qsort(ids, nids, sizeof(int64_t), cmp_id);
    hl_buf_t idarr = HL_BUF_INIT;
    hl_buf_putc(&idarr, '{');
    for (size_t i = 0; i < nids; i++) {
        if (i && ids[i] == ids[i - 1]) continue;
        if (idarr.len > 1) hl_buf_putc(&idarr, ',');
        hl_buf_put_i64(&idarr, ids[i]);
    }
    hl_buf_putc(&idarr, '}');
    /* Ticket numbers carry the local date of creation: a day either side. */
    int off = (int)r->conf->utc_offset_min;
    b->lo = hl_day_start(dlo - 1, off);
    b->hi = hl_day_start(dhi + 2, off);
    char lo[HL_ISO8601_LEN], hi[HL_ISO8601_LEN];
    hl_iso8601(b->lo, 0, lo);
    hl_iso8601(b->hi, 0, hi);

    hl_pg_req_t *req = hl_pg_req_new(rt1_result, rt1_done, b);
    int q = 0;
    hl_pg_req_query(req, "BEGIN", 0, NULL);
    q++;
    if (nkeys) {
        hl_buf_putc(&keyids, '}');
        hl_buf_t karr = HL_BUF_INIT;
        hl_pg_text_array(&karr, keys, nkeys);
        const char *p[] = {karr.data, keyids.data};
        hl_pg_req_query(req,
                        "INSERT INTO action_keys (key, ticket_id) SELECT * FROM unnest($1::text[], $2::bigint[]) "
                        "ON CONFLICT (key) DO NOTHING RETURNING key",
                        2, p);
        b->q_keys = q++;
        hl_buf_free(&karr);
    }
    const char *p[] = {idarr.data, lo, hi};
    hl_pg_req_query(req,
                    "SELECT " HL_SQL_TICKET_COLS " FROM tickets WHERE id = ANY($1::bigint[]) "
                    "AND created_at >= $2 AND created_at < $3 ORDER BY id FOR UPDATE",
                    3, p);
    b->q_tickets = q++;
    hl_buf_free(&idarr);
    hl_buf_free(&keyids);
    hl_free(ids);
    hl_free(keys);
    if (hl_pg_submit(w->pg, &req) != 0) {
        hl_pg_req_free(&req);
        batch_failed(b, HL_EIO, "connection lost");
    }
}

void hl__action_start_all(router_t *r)
{
    while (r->apending_head) {
        writer_t *w = hl__router_idle_writer(r);
        if (!w) return;
        start_batch(r, w);
    }
}

