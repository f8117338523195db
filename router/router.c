/* router.c - the router: its sockets, intakes, answers, events, reference
 * data and lifecycle. Storing batches is in batch.c, the outbox in outbox.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/figures.h"
#include "hotline/log.h"

#include "router_int.h"

/* Envelopes read per wake-up before the loop looks at its other sockets. A
 * batch's commit, its stream writes' replies and the next batch wait for the
 * router to look: with 4,096 (~20 us an intake) they waited up to tens of ms
 * behind a burst, and at saturation both writers sat idle while the router
 * classified (http.sh: the machine 11-14 % idle with 1,024 requests in
 * flight; then each COPY of a batch also waited for the router to answer
 * PostgreSQL's CopyInResponse, before pg.c sent COPY data ahead). 16 (~0.3
 * ms) brought that to 4-8 %; an extra poll per 16 envelopes costs little. */
#define READ_BURST 16

/* ================================================================= replies */

int hl__router_send(router_t *r, const reply_to_t *to, const Hotline__Ack *ack)
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
    (void)hl__router_send(r, to, &ack);
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
    for (int i = 0; i < it->nsim; i++) hl_free(it->sim[i].title);
    hl_free(it->sim);
    hl_free(it->sig);
    hl_envelope_free(&it->env);
    hl_free(it);
}

/* Answer an item and its followers, forget its key, free it. st OK sends the
 * ticket; any other status sends msg. */
void hl__router_answer(router_t *r, item_t *it, Hotline__Status st, const char *msg)
{
    const char *key = it->in->idempotency_key;
    if (hl_map_get(r->inflight, key, strlen(key)) == it) hl_map_del(r->inflight, key, strlen(key));
    if (st == HOTLINE__STATUS__STATUS_OK) {
        Hotline__Ack ack = HOTLINE__ACK__INIT;
        Hotline__Deadlines dl = HOTLINE__DEADLINES__INIT;
        char *assisting[HL_MAX_ASSISTING];
        fill_ack(it, &ack, &dl, assisting);
        Hotline__TicketView views[HL_SIMILAR_MAX], *similar[HL_SIMILAR_MAX];
        for (int i = 0; i < it->nsim && i < HL_SIMILAR_MAX; i++) {
            const hl_simhit_t *h = &it->sim[i];
            hotline__ticket_view__init(&views[i]);
            views[i].ticket = (char *)h->ticket;
            views[i].state = h->state;
            views[i].title = h->title;
            views[i].unit = (char *)h->unit;
            views[i].created_at = h->created_at;
            views[i].similarity = h->score;
            similar[ack.n_similar++] = &views[i];
        }
        ack.similar = similar;
        ack.replayed = !it->is_new;
        (void)hl__router_send(r, &it->to, &ack);
        ack.replayed = true;
        for (item_t *f = it->followers; f; f = f->next) (void)hl__router_send(r, &f->to, &ack);
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

/* Publish an event on topic "ticket.<unit>" (the dispatch queue's name
 * while no unit has it). Never blocks: a slow subscriber loses events. */
static void send_event(router_t *r, Hotline__Event *ev)
{
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    env.schema = HL_SCHEMA_VERSION;
    env.body_case = HOTLINE__ENVELOPE__BODY_EVENT;
    env.event = ev;
    char topic[64];
    int tl = snprintf(topic, sizeof topic, "ticket.%s", *ev->unit ? ev->unit : r->conf->dispatch_queue);
    hl_buf_reset(&r->sendbuf);
    hl_envelope_pack(&env, &r->sendbuf);
    if (zmq_send(r->events, topic, (size_t)tl, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        (void)zmq_send(r->events, r->sendbuf.data, r->sendbuf.len, ZMQ_DONTWAIT);
}

/* ============================================================ live figures */

typedef struct {
    router_t *r;
    int day;                   /* r->counting[day] */
    const char *unit, *category, *region, *channel;
} count_t;

static void count_one(const char *name, void *arg)
{
    count_t *c = arg;
    char field[256];
    hl_figures_field(field, sizeof field, name, c->unit, c->category, c->region, c->channel);
    hl_map_t *cells = c->r->counting[c->day].cells;
    size_t len = strlen(field);
    uintptr_t n = (uintptr_t)hl_map_get(cells, field, len);
    (void)hl_map_put(cells, field, len, (void *)(n + 1));
}

typedef struct {
    const char **argv;
    size_t *len;
    char (*nums)[24];
    int argc;
    uint64_t total;
} flush_t;

static void flush_cell(void *arg, const char *field, void *value)
{
    flush_t *f = arg;
    int i = f->argc;
    uintptr_t n = (uintptr_t)value;
    snprintf(f->nums[i / 2], sizeof f->nums[0], "%" PRIuPTR, n);
    f->argv[i] = field, f->len[i] = strlen(field);
    f->argv[i + 1] = f->nums[i / 2], f->len[i + 1] = strlen(f->nums[i / 2]);
    f->argc += 2;
    f->total += n;
}

/* Add a cell's count to its counter|unit sum. */
static void sum_cell(void *arg, const char *field, void *value)
{
    hl_map_t *units = arg;
    size_t len = hl_figures_unit_prefix(field, strlen(field));
    if (!len) return;
    uintptr_t n = (uintptr_t)hl_map_get(units, field, len);
    (void)hl_map_put(units, field, len, (void *)(n + (uintptr_t)value));
}

/* Send the counted cells, one EVAL per day: its cells into HL_FIGURES_KEY,
 * their sums per counter|unit into HL_FIGURES_UNIT_KEY. */
void hl__router_count_flush(router_t *r)
{
    static const char script[] = "local n = tonumber(ARGV[1]) "
                                 "for i = 2, 2 * n, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end "
                                 "for i = 2 * n + 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1]) end "
                                 "return 0";
    for (int d = 0; d < r->ncounting; d++) {
        hl_map_t *cells = r->counting[d].cells, *units = hl_map_new();
        hl_map_each(cells, sum_cell, units);
        size_t n = hl_map_size(cells), m = hl_map_size(units), argc = 6 + 2 * (n + m);
        const char **argv = hl_malloc(argc * sizeof *argv);
        size_t *len = hl_malloc(argc * sizeof *len);
        char(*nums)[24] = hl_malloc((n + m + 2) * sizeof *nums);
        char ukey[32], count[24];
        snprintf(ukey, sizeof ukey, HL_FIGURES_UNIT_KEY "%s", r->counting[d].key + strlen(HL_FIGURES_KEY));
        snprintf(count, sizeof count, "%zu", n);
        argv[0] = "EVAL", len[0] = 4;
        argv[1] = script, len[1] = sizeof script - 1;
        argv[2] = "2", len[2] = 1;
        argv[3] = r->counting[d].key, len[3] = strlen(r->counting[d].key);
        argv[4] = ukey, len[4] = strlen(ukey);
        argv[5] = count, len[5] = strlen(count);
        flush_t f = {argv + 6, len + 6, nums, 0, 0};
        hl_map_each(cells, flush_cell, &f);
        uint64_t total = f.total;
        hl_map_each(units, flush_cell, &f);
        if (n && hl_redis_command(r->redis, NULL, NULL, (int)argc, argv, len) != 0)
            r->stats.uncounted += total; /* Redis down: hotline-figures repair rebuilds the day */
        hl_free(nums);
        hl_free(len);
        hl_free(argv);
        hl_map_destroy(&units);
        hl_map_destroy(&r->counting[d].cells);
    }
    r->ncounting = 0;
}

/* Count a committed event in the live figures: each counter it counts for,
 * on its local day, for the ticket's unit, category, region and channel. */
static void count_event(router_t *r, const hl_figure_event_t *e, const char *unit, const char *category,
                        const char *region, const char *channel)
{
    const struct hl_figures *f = hl_refdata_figures(r->refdata);
    if (!f || !r->conf->live_figures) return;
    if (!hl_redis_up(r->redis)) {
        r->stats.uncounted++;
        return;
    }
    char day[16], key[32];
    snprintf(key, sizeof key, HL_FIGURES_KEY "%s", hl_day_name(hl_local_day(e->at_ms, (int)r->conf->utc_offset_min), day));
    int d = 0;
    while (d < r->ncounting && strcmp(r->counting[d].key, key) != 0) d++;
    if (d == (int)(sizeof r->counting / sizeof r->counting[0])) {
        hl__router_count_flush(r);
        d = 0;
    }
    if (d == r->ncounting) {
        snprintf(r->counting[d].key, sizeof r->counting[d].key, "%s", key);
        r->counting[d].cells = hl_map_new();
        r->ncounting++;
    }
    count_t c = {r, d, unit, category, region, channel};
    hl_figures_match(f, e, count_one, &c);
}

void hl__router_publish(router_t *r, const item_t *it)
{
    const hl_plan_t *p = &it->plan;
    Hotline__Event ev = HOTLINE__EVENT__INIT;
    Hotline__Actor actor = HOTLINE__ACTOR__INIT;
    Hotline__Deadlines dl = HOTLINE__DEADLINES__INIT, st = HOTLINE__DEADLINES__INIT;
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
    ev.seq = 1;
    hl_figure_event_t fe = {"intake", hl_state_name(p->state), 0, NULL, NULL, it->created_at,
                            {p->deadlines.sign, p->deadlines.contact, p->deadlines.reply, 0}, 0,
                            it->in->requester && it->in->requester->anonymous};
    count_event(r, &fe, p->unit, p->category, p->region, hl_channel_name(it->in->channel));
    /* As hl_clock_start: the clocks that run, from the reception. */
    if (p->state == HOTLINE__STATE__STATE_DISPATCHED && p->deadlines.sign) st.sign = st.contact = p->received_at;
    if (p->deadlines.reply) st.reply = p->received_at;
    ev.starts = &st;
    send_event(r, &ev);
}

void hl__router_publish_ticket(router_t *r, const hl_ticket_t *t, const char *kind, hl_state_t from,
                               hl_state_t to, int seq, int64_t at, unsigned history, const Hotline__Action *a)
{
    Hotline__Event ev = HOTLINE__EVENT__INIT;
    Hotline__Actor system = HOTLINE__ACTOR__INIT;
    Hotline__Deadlines dl = HOTLINE__DEADLINES__INIT, st = HOTLINE__DEADLINES__INIT;
    system.role = "system";
    system.id = r->name;
    dl.sign = t->due[HL_CLOCK_SIGN];
    dl.contact = t->due[HL_CLOCK_CONTACT];
    dl.reply = t->due[HL_CLOCK_REPLY];
    dl.callback = t->due[HL_CLOCK_CALLBACK];
    st.sign = hl_clock_start(t, HL_CLOCK_SIGN);
    st.contact = hl_clock_start(t, HL_CLOCK_CONTACT);
    st.reply = hl_clock_start(t, HL_CLOCK_REPLY);
    st.callback = hl_clock_start(t, HL_CLOCK_CALLBACK);
    ev.ticket = (char *)t->ticket_no;
    ev.from_state = from;
    ev.to_state = to;
    ev.actor = a ? a->actor : &system;
    ev.at = at;
    ev.kind = (char *)kind;
    ev.reason = a ? a->reason : "the ticket it was merged into closed";
    ev.reason_code = a ? a->reason_code : "";
    ev.deadlines = &dl;
    ev.starts = &st;
    ev.unit = (char *)t->unit;
    ev.category = (char *)t->category;
    ev.region = (char *)t->region;
    ev.version = t->version;
    ev.urgency = t->urgency;
    ev.type = t->type;
    ev.seq = seq;
    if (a) {
        ev.n_payload = a->n_payload;
        ev.payload = (Hotline__Event__PayloadEntry **)a->payload;
    }
    const char *keys[HL_MAX_PAYLOAD], *values[HL_MAX_PAYLOAD];
    size_t np = a && a->n_payload <= HL_MAX_PAYLOAD ? a->n_payload : 0;
    for (size_t i = 0; i < np; i++) keys[i] = a->payload[i]->key, values[i] = a->payload[i]->value;
    hl_figure_event_t fe = {kind, hl_state_name(to), np, keys, values, at,
                            {t->due[0], t->due[1], t->due[2], t->due[3]}, history, t->anonymous};
    count_event(r, &fe, t->unit, t->category, t->region, t->channel);
    send_event(r, &ev);
}

/* ============================================================ pending queue */

void hl__router_push_pending(router_t *r, item_t *it, bool front)
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

item_t *hl__router_pop_pending(router_t *r)
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
    while ((it = hl__router_pop_pending(r)) != NULL) hl__router_answer(r, it, st, msg);
}

void hl__router_delivered(router_t *r, int64_t batch_id)
{
    if (r->ndelivered == r->capdelivered) {
        r->capdelivered = r->capdelivered ? r->capdelivered * 2 : 64;
        r->delivered = hl_realloc(r->delivered, r->capdelivered * sizeof(int64_t));
    }
    r->delivered[r->ndelivered++] = batch_id;
}

/* Answer TRY_LATER to intakes and actions waiting longer than pending_timeout_ms. */
static void expire_pending(hl_loop_t *loop, void *arg)
{
    (void)loop;
    router_t *r = arg;
    hl__action_expire(r);
    int64_t limit = hl_mono_us() - r->conf->pending_timeout_ms * 1000;
    item_t **pp = &r->pending_head, *prev = NULL;
    while (*pp) {
        item_t *it = *pp;
        if (it->arrived_us < limit) {
            *pp = it->next;
            if (r->pending_tail == it) r->pending_tail = prev;
            r->npending--;
            hl__router_answer(r, it, HOTLINE__STATUS__STATUS_TRY_LATER,
                   "not stored in time (storage slow or down); retry with the same key");
        } else {
            prev = it;
            pp = &it->next;
        }
    }
}

/* ===================================================== ids, reference data */

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
        goto drop;
    }
    if (!r->loading) goto drop; /* a row was rejected; the old snapshot stays */
    hl_model_t *model = r->loading_model ? r->loading_model : r->model;
    if (model) hl_refdata_set_model(r->loading, model);
    if (hl_refdata_finish(r->loading, err) != 0) {
        hl_error("reference data rejected, keeping the previous snapshot: %s", err);
        goto drop;
    }
    /* Swap. Intakes already planned keep copies of what they need. */
    hl_refdata_destroy(&r->refdata);
    r->refdata = r->loading;
    r->loading = NULL;
    if (r->loading_model) {
        hl_model_destroy(&r->model);
        r->model = r->loading_model;
        r->loading_model = NULL;
    }
    r->stats.reloads++;
    const char *const *units;
    size_t nunits = hl_refdata_units(r->refdata, &units);
    hl_info("reference data loaded: %zu units, classifier %s, ticket ids in blocks of %" PRId64,
            nunits, hl_classifier_version(hl_refdata_classifier(r->refdata)), r->id_increment);
    hl__batch_request_ids(r);
    return;
drop:
    hl_refdata_destroy(&r->loading);
    hl_model_destroy(&r->loading_model);
}

/* Read the model file again for the next snapshot; on failure the model in
 * use stays. */
static void reread_model(router_t *r)
{
    if (!*r->conf->classify_model) return;
    char err[HL_ERR_LEN];
    hl_model_destroy(&r->loading_model);
    r->loading_model = hl_model_load(r->conf->classify_model, err);
    if (!r->loading_model) {
        hl_error("classifier model not reloaded, keeping %s: %s",
                 r->model ? hl_model_version(r->model) : "the keyword rules", err);
    } else if (r->model && strcmp(hl_model_version(r->model), hl_model_version(r->loading_model)) == 0) {
        hl_model_destroy(&r->loading_model); /* the same weights */
    }
}

static void load_refdata(router_t *r)
{
    if (r->loading || !hl_pg_up(r->control)) {
        r->reload_wanted = true;
        return;
    }
    r->reload_wanted = false;
    reread_model(r);
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
        hl_model_destroy(&r->loading_model);
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

static void partitions_done(void *arg, int rc, const char *msg)
{
    (void)arg;
    if (rc && rc != HL_EAGAIN) hl_error("creating partitions: %s", msg ? msg : hl_strerror(rc));
}

/* Monthly partitions for this month and the next two; idempotent. */
static void ensure_partitions(router_t *r)
{
    hl_pg_req_t *req = hl_pg_req_new(NULL, partitions_done, r);
    hl_pg_req_query(req, "SELECT hl_ensure_partitions(now(), 3)", 0, NULL);
    if (hl_pg_submit(r->control, &req) != 0) hl_pg_req_free(&req);
}

/* Idempotency keys older than router.key_days, deleted in chunks (one request
 * each, the next one queued when a chunk came back full). */
#define PRUNE_CHUNK 10000
static void prune_keys(router_t *r);

static void prune_next(hl_loop_t *loop, void *arg)
{
    (void)loop;
    router_t *r = arg;
    r->prune_timer = 0;
    prune_keys(r);
}

static void prune_result(void *arg, int index, const PGresult *res)
{
    (void)index;
    router_t *r = arg;
    if (PQntuples(res) != 1) return;
    int64_t n = atoll(PQgetvalue(res, 0, 0));
    r->pruned += n;
    if (n >= PRUNE_CHUNK && !r->prune_timer) r->prune_timer = hl_loop_timer(r->loop, 0, 0, prune_next, r);
}

static void prune_done(void *arg, int rc, const char *msg)
{
    router_t *r = arg;
    if (rc && rc != HL_EAGAIN) hl_error("pruning idempotency keys: %s", msg ? msg : hl_strerror(rc));
    if (r->prune_timer) return; /* more to come */
    if (r->pruned)
        hl_info("pruned %" PRId64 " idempotency keys older than %" PRId64 " days", r->pruned, r->conf->key_days);
    r->pruned = 0;
}

static void prune_keys(router_t *r)
{
    if (r->conf->key_days <= 0 || !hl_pg_up(r->control)) return;
    char keep[32], chunk[16];
    snprintf(keep, sizeof keep, "%" PRId64 " days", r->conf->key_days);
    snprintf(chunk, sizeof chunk, "%d", PRUNE_CHUNK);
    const char *p[] = {keep, chunk};
    hl_pg_req_t *req = hl_pg_req_new(prune_result, prune_done, r);
    hl_pg_req_query(req, "SELECT hl_prune_keys($1::interval, $2::integer)", 2, p);
    if (hl_pg_submit(r->control, &req) != 0) hl_pg_req_free(&req);
}

/* The control connection's housekeeping: when it connects, then hourly. */
static void housekeeping(router_t *r)
{
    ensure_partitions(r);
    prune_keys(r);
}

static void housekeeping_cb(hl_loop_t *loop, void *arg)
{
    (void)loop;
    housekeeping(arg);
}

static void control_state(hl_pg_t *pg, void *arg, bool up)
{
    (void)pg;
    router_t *r = arg;
    if (!up) {
        r->ids_requested = false;
        return;
    }
    housekeeping(r);
    /* A new connection may have missed notifications: reload. */
    load_refdata(r);
}

static bool any_writer_up(const router_t *r)
{
    for (int i = 0; i < r->nwriters; i++)
        if (hl_pg_up(r->writers[i].pg)) return true;
    return false;
}

/* Whether an intake can be stored now: reference data and a writer. */
static bool can_store(const router_t *r)
{
    return r->refdata && any_writer_up(r);
}

bool hl__router_storage_up(const router_t *r)
{
    return any_writer_up(r);
}

bool hl__router_writing(const router_t *r)
{
    for (int i = 0; i < r->nwriters; i++)
        if (r->writers[i].batch || r->writers[i].abatch) return true;
    return false;
}

writer_t *hl__router_idle_writer(router_t *r)
{
    for (int i = 0; i < r->nwriters; i++) {
        writer_t *w = &r->writers[i];
        if (!w->batch && !w->abatch && hl_pg_idle(w->pg)) return w;
    }
    return NULL;
}

static void writer_state(hl_pg_t *pg, void *arg, bool up)
{
    (void)pg;
    router_t *r = arg;
    if (!up && !any_writer_up(r)) {
        /* Nothing can be stored now: do not let intakes wait for it. */
        fail_pending(r, HOTLINE__STATUS__STATUS_TRY_LATER,
                     "storage unavailable; retry with the same key");
        hl__action_fail_pending(r, "storage unavailable; retry");
    }
}

/* ================================================================ watchdogs */

static void redis_watchdog(hl_loop_t *loop, void *arg)
{
    (void)loop;
    hl__delivery_watchdog(arg);
}

static void outbox_cb(hl_loop_t *loop, void *arg)
{
    (void)loop;
    hl__outbox_tick(arg);
}

int64_t hl__router_stage(router_t *r, int stage, int64_t since_us)
{
    int64_t now = hl_mono_us(), us = now - since_us;
    hl_stage_t *s = &r->stages[stage];
    s->n++;
    s->sum_us += us;
    if (us > s->max_us) s->max_us = us;
    return now;
}

static double stage_avg_ms(const hl_stage_t *st)
{
    return st->n ? (double)st->sum_us / (double)st->n / 1000.0 : 0.0;
}

static void stats_cb(hl_loop_t *loop, void *arg)
{
    (void)loop;
    router_t *r = arg;
    static hl_router_stats_t last;
    hl_router_stats_t *s = &r->stats;
    if (memcmp(s, &last, sizeof last) == 0) return;
    /* Where the write path's time went since the last line: waiting for a
     * writer (a batch's oldest intake arrived -> the batch formed),
     * PostgreSQL (formed -> committed) and Redis (committed -> stream writes
     * answered), average and worst, in milliseconds. */
    const hl_stage_t *wa = &r->stages[HL_STAGE_WAIT], *st = &r->stages[HL_STAGE_STORE],
                     *qu = &r->stages[HL_STAGE_QUEUE];
    hl_info("stats: received %" PRIu64 " stored %" PRIu64 " replayed %" PRIu64
            " try_later %" PRIu64 " invalid %" PRIu64 " dropped %" PRIu64 " batches %" PRIu64
            " failed_batches %" PRIu64 " queued %" PRIu64 " swept %" PRIu64 " actions %" PRIu64
            " refused %" PRIu64 " queries %" PRIu64 " uncounted %" PRIu64 " pending %zu+%zu"
            " wait_ms %.1f/%.1f store_ms %.1f/%.1f queue_ms %.1f/%.1f",
            s->received, s->stored, s->replayed, s->try_later, s->invalid, s->dropped, s->batches,
            s->failed_batches, s->queued, s->swept, s->actions, s->refused, s->queries, s->uncounted, r->npending,
            r->napending, stage_avg_ms(wa), (double)wa->max_us / 1000.0, stage_avg_ms(st),
            (double)st->max_us / 1000.0, stage_avg_ms(qu), (double)qu->max_us / 1000.0);
    last = *s;
    memset(r->stages, 0, sizeof r->stages);
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
    if (in->dry_run) {
        if (!r->refdata) {
            reply_status(r, to, HOTLINE__STATUS__STATUS_TRY_LATER, "router is starting", key);
            return;
        }
        hl_plan_t plan;
        hl_dispatch_plan(r->refdata, in, &r->opts, now, &plan);
        hl__query_preview(r, to, envp, &plan);
        return;
    }
    if (!can_store(r)) {
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
    it->event = "intake";
    *envp = NULL;
    hl_dispatch_plan(r->refdata, in, &r->opts, now, &it->plan);
    if (it->plan.deadlines.estimated)
        hl_warn("deadline of intake %s counts days of a year without calendar data", key);
    hl_map_put(r->inflight, key, strlen(key), it);
    if (in->similar && hl__query_similar(r, it)) return; /* pushed once the candidates are read */
    hl__router_push_pending(r, it, false);
}

static void handle_action(router_t *r, const reply_to_t *to, hl_envelope_t **envp)
{
    hl__action_accept(r, to, envp);
}

static void handle_query(router_t *r, const reply_to_t *to, hl_envelope_t **envp)
{
    hl__query_accept(r, to, envp);
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
    {HOTLINE__ENVELOPE__BODY_QUERY, handle_query},
    {HOTLINE__ENVELOPE__BODY_ACK, handle_not_a_request},
    {HOTLINE__ENVELOPE__BODY_EVENT, handle_not_a_request},
};

bool hl_router_handles(int body_case)
{
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if ((int)handlers[i].kind == body_case) return true;
    return false;
}

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

/* The intake socket is read from the moment the router can store: its
 * reference data loaded and a writer connected. Until then what gateways send
 * waits in ZeroMQ's queues (theirs and ours, zmq.hwm each) rather than being
 * answered "router is starting", so a restart under load loses no request to
 * a refusal. A router still not ready pending_timeout_ms after its start reads
 * them anyway and answers TRY_LATER, so clients are not left waiting on a
 * router that cannot store (PostgreSQL down). */
static void take_intakes(router_t *r)
{
    bool ready = can_store(r);
    if (!ready && hl_mono_us() - r->started_us < r->conf->pending_timeout_ms * 1000) return;
    hl_loop_set_events(r->loop, r->intake_handle, ZMQ_POLLIN);
    r->taking = true;
    if (ready)
        hl_info("taking intakes");
    else
        hl_warn("not ready %" PRId64 " ms after start (%s): taking intakes, answering TRY_LATER until ready",
                r->conf->pending_timeout_ms, r->refdata ? "no writer connected" : "no reference data");
}

static void before_sleep(hl_loop_t *loop, void *arg)
{
    router_t *r = arg;
    if (!r->taking) take_intakes(r);
    /* When both kinds wait, take turns for the writers. */
    if (r->actions_next) {
        hl__action_start_all(r);
        hl__batch_start_all(r);
    } else {
        hl__batch_start_all(r);
        hl__action_start_all(r);
    }
    r->actions_next = !r->actions_next;
    if (r->reload_wanted && !r->loading && hl_pg_up(r->control)) load_refdata(r);
    if (r->shutting_down && !r->pending_head && !r->apending_head && !hl__router_writing(r) && !r->delivering)
        hl_loop_stop(loop);
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
    if (*conf->classify_model) {
        r->model = hl_model_load(conf->classify_model, err);
        if (!r->model) {
            hl_free(r);
            return NULL;
        }
        hl_info("classifier model %s: %d labels", hl_model_version(r->model), hl_model_nlabels(r->model));
    }
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
    /* Not read until the router can store (see take_intakes). */
    r->intake_handle = hl_loop_add_zsock(loop, r->intake, 0, intake_cb, r);
    r->started_us = hl_mono_us();

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
    r->reader = hl_pg_new(loop, "reader", conf->pg_conninfo,
                          "SET application_name = 'hotline-router'; SET TIME ZONE 'UTC'; "
                          "SET default_transaction_read_only = off",
                          conf->pg_reconnect_ms, conf->pg_request_timeout_ms);
    r->redis = hl_redis_new(loop, conf->redis_host, (int)conf->redis_port, conf->redis_reconnect_ms);
    hl_loop_before_sleep(loop, before_sleep, r);
    r->timers[0] = hl_loop_timer(loop, 100, 100, expire_pending, r);
    r->timers[1] = hl_loop_timer(loop, conf->outbox_sweep_ms, conf->outbox_sweep_ms, outbox_cb, r);
    r->timers[2] = hl_loop_timer(loop, 250, 250, redis_watchdog, r);
    r->timers[3] = hl_loop_timer(loop, conf->stats_ms, conf->stats_ms, stats_cb, r);
    r->timers[4] = hl_loop_timer(loop, 3600 * 1000, 3600 * 1000, housekeeping_cb, r);
    return r;
}

void hl_router_start(hl_router_t *r)
{
    hl_pg_start(r->control);
    hl_pg_start(r->reader);
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
    hl__action_fail_pending(r, "router stopped; retry");
    for (int i = 0; i < 5; i++) hl_loop_cancel(r->loop, r->timers[i]);
    hl_loop_cancel(r->loop, r->reload_timer);
    hl_loop_cancel(r->loop, r->prune_timer);
    hl_loop_cancel(r->loop, r->hold_timer);
    /* Batches still in flight are answered TRY_LATER through their callbacks. */
    for (int i = 0; i < r->nwriters; i++) hl_pg_destroy(&r->writers[i].pg);
    hl_pg_destroy(&r->control);
    hl_pg_destroy(&r->reader);
    for (int d = 0; d < r->ncounting; d++) hl_map_destroy(&r->counting[d].cells);
    hl_redis_destroy(&r->redis);
    hl_refdata_destroy(&r->refdata);
    hl_refdata_destroy(&r->loading);
    hl_model_destroy(&r->model);
    hl_model_destroy(&r->loading_model);
    if (r->intake_handle >= 0 && r->intake) hl_loop_remove(r->loop, r->intake_handle);
    if (r->intake) zmq_close(r->intake);
    if (r->events) zmq_close(r->events);
    if (r->zctx) zmq_ctx_term(r->zctx);
    hl_map_destroy(&r->inflight);
    hl__simcache_destroy(r);
    hl_free(r->delivered);
    hl_buf_free(&r->sendbuf);
    hl_free(r);
    *self_p = NULL;
}
