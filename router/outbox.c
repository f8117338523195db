/* outbox.c - delivering what was committed but not queued.
 *
 * Every committed batch leaves one outbox row listing its tickets. When all
 * its stream writes succeed the row is deleted (in bulk, on the control
 * connection, each tick). A row older than router.outbox_age_ms means the
 * writes failed or never happened (Redis down, a router crash between COMMIT
 * and XADD): the sweep reads its tickets back from PostgreSQL and XADDs them
 * again, then deletes the row. Consumers dedupe by ticket number, so sending
 * twice is harmless; rows locked by another router's sweep are skipped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/log.h"

#include "router_int.h"

typedef struct {
    router_t *r;
    int64_t *batch_ids;
    bool *failed;
    size_t n, cap;
    int outstanding;
    bool read_done;
} sweep_t;

typedef struct {
    sweep_t *s;
    size_t index;
} sweep_ref_t;

static void sweep_finish(sweep_t *s)
{
    router_t *r = s->r;
    size_t resent = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->failed[i]) continue;
        hl__router_delivered(r, s->batch_ids[i]);
        resent++;
    }
    if (resent) hl_info("outbox sweep re-sent %zu batch(es)", resent);
    r->sweep = NULL;
    hl_free(s->batch_ids);
    hl_free(s->failed);
    hl_free(s);
}

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
    if (--s->outstanding == 0 && s->read_done) sweep_finish(s);
}

static size_t batch_index(sweep_t *s, int64_t bid)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->batch_ids[i] == bid) return i;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->batch_ids = hl_realloc(s->batch_ids, s->cap * sizeof(int64_t));
        s->failed = hl_realloc(s->failed, s->cap * sizeof(bool));
    }
    s->batch_ids[s->n] = bid;
    s->failed[s->n] = false;
    return s->n++;
}

/* Rows: batch_id, then the ticket as queued (NULL if not found). */
static void sweep_result(void *arg, int index, const PGresult *res)
{
    (void)index;
    sweep_t *s = arg;
    router_t *r = s->r;
    for (int row = 0; row < PQntuples(res); row++) {
        size_t bi = batch_index(s, atoll(PQgetvalue(res, row, 0)));
        if (PQgetisnull(res, row, 1)) {
            hl_error("outbox batch %s names a ticket that is not stored", PQgetvalue(res, row, 0));
            s->failed[bi] = true;
            continue;
        }
        item_t it;
        memset(&it, 0, sizeof it);
        it.event = "resend";
        hl_plan_t *p = &it.plan;
        it.id = atoll(PQgetvalue(res, row, 1));
        snprintf(it.ticket_no, sizeof it.ticket_no, "%s", PQgetvalue(res, row, 2));
        if (hl_state_parse(PQgetvalue(res, row, 3), &p->state) != 0 ||
            hl_urgency_parse(PQgetvalue(res, row, 7), &p->urgency) != 0 ||
            hl_type_parse(PQgetvalue(res, row, 8), &p->type) != 0) {
            s->failed[bi] = true;
            continue;
        }
        snprintf(p->unit, sizeof p->unit, "%s", PQgetvalue(res, row, 4));
        for (const char *a = PQgetvalue(res, row, 5); *a && p->nassisting < HL_MAX_ASSISTING;) {
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
        /* One reference per command, freed by its callback. */
        for (int k = 0; k <= p->nassisting; k++) {
            sweep_ref_t *ref = hl_malloc(sizeof *ref);
            ref->s = s;
            ref->index = bi;
            hl_xadd_t x;
            hl__batch_xadd(r, &it, k, &x);
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
    s->read_done = true;
    if (s->outstanding == 0) sweep_finish(s);
}

#define SQL_SWEEP                                                                                  \
    "SELECT o.batch_id, t.id, t.ticket_no, t.state, coalesce(t.unit, ''), "                        \
    "array_to_string(t.assisting_units, ','), t.category, t.urgency, t.request_type, "             \
    "coalesce(t.region, ''), (extract(epoch FROM t.sign_due) * 1000)::bigint, "                    \
    "(extract(epoch FROM t.contact_due) * 1000)::bigint, "                                         \
    "(extract(epoch FROM t.reply_due) * 1000)::bigint, t.version "                                 \
    "FROM (SELECT batch_id, ticket_ids, created_at FROM outbox "                                   \
    "      WHERE queued_at < now() - $1::bigint * interval '1 millisecond' "                       \
    "      ORDER BY batch_id LIMIT 20 FOR UPDATE SKIP LOCKED) o "                                  \
    "CROSS JOIN LATERAL unnest(o.ticket_ids) AS tid "                                              \
    "LEFT JOIN tickets t ON t.id = tid AND t.created_at >= o.created_at"

static void start_sweep(router_t *r)
{
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
        s->read_done = true;
        sweep_finish(s);
    }
}

static void delete_delivered(router_t *r)
{
    hl_buf_t del = HL_BUF_INIT;
    hl_buf_putc(&del, '{');
    for (size_t i = 0; i < r->ndelivered; i++) {
        if (i) hl_buf_putc(&del, ',');
        hl_buf_put_i64(&del, r->delivered[i]);
    }
    hl_buf_putc(&del, '}');
    hl_pg_req_t *req = hl_pg_req_new(NULL, NULL, NULL);
    const char *p[] = {del.data};
    /* Not durable on purpose: losing this delete only means a re-send, which
     * consumers dedupe. */
    hl_pg_req_query(req, "BEGIN", 0, NULL);
    hl_pg_req_query(req, "SET LOCAL synchronous_commit = off", 0, NULL);
    hl_pg_req_query(req, "DELETE FROM outbox WHERE batch_id = ANY($1::bigint[])", 1, p);
    hl_pg_req_query(req, "COMMIT", 0, NULL);
    hl_buf_free(&del);
    if (hl_pg_submit(r->control, &req) == 0)
        r->ndelivered = 0;
    else
        hl_pg_req_free(&req);
}

void hl__outbox_tick(router_t *r)
{
    if (!hl_pg_up(r->control)) return;
    if (r->ndelivered) delete_delivered(r);
    if (!r->sweep && hl_redis_up(r->redis)) start_sweep(r);
}
