/* lifecycle.c - bench_lifecycle: tickets through their whole lifecycle.
 *
 * Drive mode (default): takes the tickets of intake keys "<prefix>-*" that
 * wait for dispatch, and takes each through the router as an office and its
 * units would: dispatch, sign, reply, review, callback, close; a share of
 * them returned once (return, approve_return with a new unit) and a share
 * extended once (extend, approve_extension). Each ticket has one action in
 * flight at a time, up to --window tickets at once, over one DEALER socket.
 * Prints key=value figures: actions per second, latency percentiles.
 *
 * With --mixed SEED the paths are drawn at random (seeded, so a run can be
 * repeated): some tickets closed at first contact, some merged into the
 * ticket before them, contacts, supervision notices, callbacks rated at
 * random or declined, and reopens after an unresolved rating; for the
 * figures' test of live against exact counting.
 *
 * Raw mode (--raw): the storage limit of the same work, without the router:
 * on --connections connections, transactions of --batch tickets each doing
 * what one action batch does in PostgreSQL, in the same two pipelined round
 * trips (register the keys, lock and read the tickets; update them, moving
 * them along the states of the drive mode's path, insert an event each,
 * commit), --rounds times over every ticket; prints raw_actions_per_s.
 */
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "hotline/alloc.h"
#include "hotline/buf.h"
#include "hotline/clock.h"
#include "hotline/conf.h"
#include "hotline/envelope.h"
#include "hotline/lifecycle.h"
#include "hotline/pg.h"
#include "hotline/store.h"

extern char **environ;

enum { S_DISPATCH, S_RETURN, S_APPROVE_RETURN, S_SIGN, S_EXTEND, S_APPROVE_EXT, S_REPLY, S_ACCEPT, S_CALLBACK,
       S_CLOSE, S_DIRECT, S_MERGE, S_CONTACT, S_SUPERVISE, S_REOPEN, S_DONE };

typedef struct {
    char no[32];
    int64_t id, created_at;
    uint8_t step, attempt;
    bool returned, extended, failed, anonymous;
    /* --mixed: the path drawn, and where the ticket is on it */
    bool direct, merge, contact, supervise, reopen, reopened;
    uint8_t resolution, satisfaction; /* of the (first) rating: 0 resolved, 1 unresolved; 0..2; 3: declined */
    int64_t reply_due;                /* from the last answer, for a supervision notice */
    const char *unit;
    int64_t sent_us, retry_at_us;
} tk_t;

static const char *units[] = {"HOUSING", "HRSS", "EDU", "MARKET", "ECO", "HEALTH", "TRANSPORT", "GAS", "WATER",
                              "POWER", "TRANSIT", "JB_GOV", "JN_GOV", "GX_GOV", "JB_HOUSING", "JN_HOUSING"};
#define NUNITS (sizeof units / sizeof units[0])

static void die(const char *what, PGconn *c)
{
    fprintf(stderr, "bench_lifecycle: %s: %s\n", what, c ? PQerrorMessage(c) : "");
    exit(1);
}

static uint32_t hash32(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (uint32_t)x;
}

static tk_t *load(const char *conninfo, const char *prefix, size_t *n)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) die("connect", c);
    char like[160];
    snprintf(like, sizeof like, "%s-%%", prefix);
    const char *p[] = {like};
    PGresult *r = PQexecParams(c,
                               "SELECT t.ticket_no, t.id, t.anonymous, " HL_MS("t.created_at") " FROM tickets t JOIN intake_keys k ON k.ticket_id = t.id "
                               "WHERE k.key LIKE $1 AND t.state = 'PENDING_DISPATCH' ORDER BY t.id",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) die("tickets", c);
    *n = (size_t)PQntuples(r);
    tk_t *t = hl_calloc(*n ? *n : 1, sizeof *t);
    for (size_t i = 0; i < *n; i++) {
        snprintf(t[i].no, sizeof t[i].no, "%s", PQgetvalue(r, (int)i, 0));
        t[i].id = strtoll(PQgetvalue(r, (int)i, 1), NULL, 10);
        t[i].anonymous = PQgetvalue(r, (int)i, 2)[0] == 't';
        t[i].created_at = strtoll(PQgetvalue(r, (int)i, 3), NULL, 10);
    }
    PQclear(r);
    PQfinish(c);
    return t;
}

/* ------------------------------------------------------------ drive */

/* Draw each ticket's path for --mixed (seeded). */
static void draw(tk_t *t, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t h = hash32(((uint64_t)seed << 32) ^ (i * 7 + 1)), g = hash32(h ^ 0x9e3779b9u);
        tk_t *x = &t[i];
        unsigned role = h % 100;
        x->direct = role < 6;
        /* A repeat joins the ticket before it, if that one goes the whole way. */
        x->merge = role >= 6 && role < 9 && i > 0 && !t[i - 1].direct && !t[i - 1].merge;
        if (x->direct || x->merge) x->returned = x->extended = false;
        x->contact = (g & 1) != 0;
        x->supervise = (g >> 1) % 20 == 0;
        x->satisfaction = (uint8_t)((g >> 8) % 20 < 12 ? 0 : (g >> 8) % 20 < 17 ? 1 : 2);
        x->resolution = (uint8_t)((g >> 16) % 10 < 8 ? 0 : 1);
        if ((g >> 20) % 20 == 0) x->resolution = 3; /* declined to rate */
        x->reopen = x->resolution == 1 && (g >> 24) % 2 == 0;
    }
}

static int next_step(const tk_t *t)
{
    switch (t->step) {
    case S_DISPATCH: return t->returned ? S_RETURN : S_SIGN;
    case S_RETURN: return S_APPROVE_RETURN;
    case S_APPROVE_RETURN: return S_SIGN;
    case S_SIGN: return t->contact ? S_CONTACT : t->supervise ? S_SUPERVISE : t->extended ? S_EXTEND : S_REPLY;
    case S_CONTACT: return t->supervise ? S_SUPERVISE : t->extended ? S_EXTEND : S_REPLY;
    case S_SUPERVISE: return t->extended ? S_EXTEND : S_REPLY;
    case S_EXTEND: return S_APPROVE_EXT;
    case S_APPROVE_EXT: return S_REPLY;
    case S_REPLY: return S_ACCEPT;
    case S_ACCEPT: return t->anonymous ? S_CLOSE : S_CALLBACK; /* no callback to an anonymous caller */
    case S_CALLBACK: return t->reopen && !t->reopened ? S_REOPEN : S_CLOSE;
    case S_REOPEN: return S_REPLY;
    default: return S_DONE;
    }
}

static void send_step(void *sock, hl_buf_t *buf, tk_t *t, size_t i, const char *prefix)
{
    static const hl_action_t kinds[] = {
        HOTLINE__ACTION_KIND__ACTION_DISPATCH,       HOTLINE__ACTION_KIND__ACTION_RETURN,
        HOTLINE__ACTION_KIND__ACTION_APPROVE_RETURN, HOTLINE__ACTION_KIND__ACTION_SIGN,
        HOTLINE__ACTION_KIND__ACTION_EXTEND,         HOTLINE__ACTION_KIND__ACTION_APPROVE_EXTENSION,
        HOTLINE__ACTION_KIND__ACTION_REPLY,          HOTLINE__ACTION_KIND__ACTION_REVIEW_ACCEPT,
        HOTLINE__ACTION_KIND__ACTION_CALLBACK,       HOTLINE__ACTION_KIND__ACTION_CLOSE,
        HOTLINE__ACTION_KIND__ACTION_CLOSE_DIRECT,   HOTLINE__ACTION_KIND__ACTION_MERGE,
        HOTLINE__ACTION_KIND__ACTION_CONTACT,        HOTLINE__ACTION_KIND__ACTION_NOTIFY,
        HOTLINE__ACTION_KIND__ACTION_REOPEN};
    static const char *const satisfaction[] = {"satisfied", "basically", "dissatisfied"};
    bool by_unit = t->step == S_RETURN || t->step == S_SIGN || t->step == S_EXTEND || t->step == S_REPLY ||
                   t->step == S_CONTACT;
    Hotline__Actor who = HOTLINE__ACTOR__INIT;
    who.role = by_unit ? "unit" : "office";
    who.unit = by_unit ? (char *)t->unit : "";
    who.id = "bench";
    Hotline__Action a = HOTLINE__ACTION__INIT;
    Hotline__Action__PayloadEntry pe[4], *pp[4];
    const char *k[4], *v[4];
    size_t np = 0;
    char key[96], due[24];
    snprintf(key, sizeof key, "%s-%zu-%d%s", prefix, i, t->step, t->reopened ? "-again" : "");
    a.ticket = t->no;
    a.actor = &who;
    a.kind = kinds[t->step];
    a.idempotency_key = key;
    switch (t->step) {
    case S_DISPATCH:
        t->unit = units[hash32(i) % NUNITS];
        k[np] = "unit", v[np++] = t->unit;
        break;
    case S_RETURN:
        a.reason_code = "职能不符";
        a.reason = "不属于本单位职责";
        break;
    case S_APPROVE_RETURN:
        t->unit = units[(hash32(i) + 1) % NUNITS];
        k[np] = "unit", v[np++] = t->unit;
        break;
    case S_EXTEND:
        a.reason = "需要现场勘察";
        k[np] = "days", v[np++] = "2";
        break;
    case S_REPLY:
        a.reason_code = "resolved";
        k[np] = "text", v[np++] = "已处理完毕并告知诉求人";
        break;
    case S_CALLBACK:
        if (t->resolution == 3 && !t->reopened) {
            k[np] = "outcome", v[np++] = "declined";
            break;
        }
        k[np] = "outcome", v[np++] = "rated";
        k[np] = "resolution", v[np++] = t->resolution == 1 && !t->reopened ? "unresolved" : "resolved";
        k[np] = "satisfaction", v[np++] = satisfaction[t->reopened ? 0 : t->satisfaction];
        break;
    case S_DIRECT: a.reason = "已当场答复"; break;
    case S_MERGE:
        k[np] = "parent", v[np++] = t[-1].no;
        a.reason = "重复诉求";
        break;
    case S_CONTACT: k[np] = "method", v[np++] = "phone"; break;
    case S_SUPERVISE:
        snprintf(due, sizeof due, "%" PRId64, t->reply_due);
        k[np] = "notice", v[np++] = "supervision";
        k[np] = "clock", v[np++] = "reply";
        k[np] = "due", v[np++] = due;
        k[np] = "level", v[np++] = "1";
        break;
    case S_REOPEN: a.reason = "诉求人反映未解决"; break;
    default: break;
    }
    for (size_t j = 0; j < np; j++) {
        hotline__action__payload_entry__init(&pe[j]);
        pe[j].key = (char *)k[j];
        pe[j].value = (char *)v[j];
        pp[j] = &pe[j];
    }
    a.n_payload = np;
    a.payload = pp;
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    env.schema = HL_SCHEMA_VERSION;
    env.request_id = ((uint64_t)t->attempt << 40) | i;
    env.body_case = HOTLINE__ENVELOPE__BODY_ACTION;
    env.action = &a;
    hl_buf_reset(buf);
    hl_envelope_pack(&env, buf);
    if (zmq_send(sock, buf->data, buf->len, 0) < 0) {
        fprintf(stderr, "bench_lifecycle: send: %s\n", zmq_strerror(zmq_errno()));
        exit(1);
    }
    t->sent_us = hl_mono_us();
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

static int drive(const hl_conf_t *conf, const char *prefix, int window, double returns, double extensions,
                 long mixed)
{
    size_t n;
    tk_t *t = load(conf->pg_conninfo, prefix, &n);
    if (!n) {
        fprintf(stderr, "bench_lifecycle: no ticket of '%s-*' waits for dispatch\n", prefix);
        return 1;
    }
    size_t nret = 0, next_ = 0, ndirect = 0, nmerge = 0, nreopen = 0, nsuper = 0;
    for (size_t i = 0; i < n; i++) {
        t[i].returned = (hash32(i * 2 + 1) % 10000) < (uint32_t)(returns * 10000);
        t[i].extended = (hash32(i * 2 + 2) % 10000) < (uint32_t)(extensions * 10000);
    }
    if (mixed >= 0) draw(t, n, (uint32_t)mixed);
    for (size_t i = 0; i < n; i++) {
        t[i].step = t[i].direct ? S_DIRECT : t[i].merge ? S_MERGE : S_DISPATCH;
        nret += t[i].returned;
        next_ += t[i].extended;
        ndirect += t[i].direct;
        nmerge += t[i].merge;
        nreopen += t[i].reopen && !t[i].anonymous && !t[i].direct && !t[i].merge;
        nsuper += t[i].supervise && !t[i].direct && !t[i].merge;
    }
    void *ctx = zmq_ctx_new(), *sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, hwm = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_connect(sock, conf->zmq_intake) != 0) die("zmq_connect", NULL);
    /* Ready tickets: a ring of indexes. */
    size_t *ready = hl_malloc(n * sizeof(size_t)), rh = 0, rt = 0, nready = n;
    for (size_t i = 0; i < n; i++) ready[i] = i;
    size_t cap_lat = n * 12, nlat = 0;
    int32_t *lat = hl_malloc(cap_lat * sizeof(int32_t));
    size_t done = 0, inflight = 0, actions = 0, refused = 0, retried = 0;
    hl_buf_t buf = HL_BUF_INIT;
    int64_t t0 = hl_mono_us(), next_scan = t0 + 1000000;
    while (done < n) {
        while (inflight < (size_t)window && nready) {
            size_t i = ready[rh];
            rh = (rh + 1) % n;
            nready--;
            send_step(sock, &buf, &t[i], i, prefix);
            inflight++;
        }
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 100);
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            hl_envelope_t *env = NULL;
            char err[HL_ERR_LEN];
            int rc = hl_envelope_unpack(zmq_msg_data(&m), zmq_msg_size(&m), 1 << 24, &env, NULL, err);
            zmq_msg_close(&m);
            if (rc || env->body_case != HOTLINE__ENVELOPE__BODY_ACK) {
                hl_envelope_free(&env);
                continue;
            }
            size_t i = (size_t)(env->request_id & ((1ULL << 40) - 1));
            uint8_t attempt = (uint8_t)(env->request_id >> 40);
            if (i >= n || attempt != t[i].attempt || !t[i].sent_us) {
                hl_envelope_free(&env);
                continue; /* a late answer to a resent request */
            }
            tk_t *x = &t[i];
            inflight--;
            int64_t us = hl_mono_us() - x->sent_us;
            x->sent_us = 0;
            const Hotline__Ack *ack = env->ack;
            if (ack->status == HOTLINE__STATUS__STATUS_TRY_LATER) {
                retried++;
                x->attempt++;
                ready[rt] = i, rt = (rt + 1) % n, nready++;
            } else if (ack->status != HOTLINE__STATUS__STATUS_OK) {
                if (refused++ < 5) fprintf(stderr, "bench_lifecycle: %s refused: %s\n", x->no, ack->message);
                x->failed = true;
                done++;
            } else {
                actions++;
                if (nlat < cap_lat) lat[nlat++] = (int32_t)us;
                if (ack->deadlines) x->reply_due = ack->deadlines->reply;
                if (x->step == S_REOPEN) x->reopened = true;
                x->step = (uint8_t)next_step(x);
                if (x->step == S_DONE) {
                    done++;
                } else {
                    ready[rt] = i, rt = (rt + 1) % n, nready++;
                }
            }
            hl_envelope_free(&env);
        }
        /* No answer in 10 s: send again, same key (looked for once a second). */
        int64_t now = hl_mono_us();
        if (now < next_scan) continue;
        next_scan = now + 1000000;
        for (size_t i = 0; i < n && inflight; i++) {
            if (t[i].sent_us && now - t[i].sent_us > 10000000) {
                retried++;
                t[i].attempt++;
                send_step(sock, &buf, &t[i], i, prefix);
            }
        }
    }
    double secs = (double)(hl_mono_us() - t0) / 1e6;
    qsort(lat, nlat, sizeof(int32_t), cmp_i32);
    if (mixed >= 0)
        printf("direct=%zu\nmerged=%zu\nreopened=%zu\nsupervised=%zu\n", ndirect, nmerge, nreopen, nsuper);
    printf("tickets=%zu\nreturned=%zu\nextended=%zu\nactions=%zu\nrefused=%zu\nretried=%zu\nseconds=%.2f\n"
           "actions_per_s=%.0f\ntickets_per_s=%.0f\naction_p50_ms=%.2f\naction_p99_ms=%.2f\n",
           n, nret, next_, actions, refused, retried, secs, actions / secs, n / secs,
           nlat ? lat[nlat / 2] / 1000.0 : 0.0, nlat ? lat[nlat * 99 / 100] / 1000.0 : 0.0);
    hl_buf_free(&buf);
    hl_free(lat);
    hl_free(ready);
    hl_free(t);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return refused ? 1 : 0;
}

/* ------------------------------------------------------------ raw */

typedef struct {
    const char *conninfo;
    const tk_t *t;
    size_t first, count;
    int batch, rounds, offset_min;
    const char *prefix;
    int worker;
} raw_t;

/* Send a statement in the pipeline. */
static void send_q(PGconn *c, const char *sql, int np, const char *const *p)
{
    if (!PQsendQueryParams(c, sql, np, NULL, p, NULL, NULL, 0)) die(sql, c);
}

/* Sync the pipeline and read its results; the result of statement `keep`
 * (0-based) is returned, the others checked and dropped. */
static PGresult *sync_read(PGconn *c, int nq, int keep)
{
    if (!PQpipelineSync(c)) die("sync", c);
    PGresult *kept = NULL;
    for (int q = 0; q < nq; q++) {
        PGresult *r;
        while ((r = PQgetResult(c)) != NULL) {
            if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) die("pipeline", c);
            if (q == keep && !kept) kept = r;
            else PQclear(r);
        }
    }
    PGresult *r = PQgetResult(c); /* the sync */
    if (PQresultStatus(r) != PGRES_PIPELINE_SYNC) die("sync result", c);
    PQclear(r);
    return kept;
}

static void *raw_worker(void *arg)
{
    raw_t *w = arg;
    PGconn *c = PQconnectdb(w->conninfo);
    if (PQstatus(c) != CONNECTION_OK || !PQenterPipelineMode(c)) die("connect", c);
    for (int round = 0; round < w->rounds; round++) {
        for (size_t b = 0; b < w->count; b += (size_t)w->batch) {
            size_t end = b + (size_t)w->batch < w->count ? b + (size_t)w->batch : w->count;
            hl_buf_t ids = HL_BUF_INIT, keys = HL_BUF_INIT;
            hl_buf_putc(&ids, '{');
            const char **kk = hl_malloc((end - b) * sizeof(char *));
            char (*kbuf)[64] = hl_malloc((end - b) * 64);
            int64_t clo = INT64_MAX, chi = INT64_MIN;
            for (size_t i = b; i < end; i++) {
                const tk_t *x = &w->t[w->first + i];
                if (x->created_at < clo) clo = x->created_at;
                if (x->created_at > chi) chi = x->created_at;
                if (i > b) hl_buf_putc(&ids, ',');
                hl_buf_put_i64(&ids, w->t[w->first + i].id);
                snprintf(kbuf[i - b], 64, "raw-%s-%d-%zu-%d", w->prefix, w->worker, w->first + i, round);
                kk[i - b] = kbuf[i - b];
            }
            hl_buf_putc(&ids, '}');
            hl_pg_text_array(&keys, kk, end - b);
            /* Round trip 1: keys, then the tickets locked and read. */
            send_q(c, "BEGIN", 0, NULL);
            const char *pk[] = {keys.data, ids.data};
            send_q(c,
                   "INSERT INTO action_keys (key, ticket_id) SELECT * FROM unnest($1::text[], $2::bigint[]) "
                   "ON CONFLICT (key) DO NOTHING RETURNING key",
                   2, pk);
            /* As the router: the creation range prunes the partitions. */
            char cl[HL_ISO8601_LEN], ch[HL_ISO8601_LEN];
            hl_iso8601(clo, 0, cl);
            hl_iso8601(chi + 1, 0, ch);
            const char *p[] = {ids.data, cl, ch};
            send_q(c,
                   "SELECT " HL_SQL_TICKET_COLS " FROM tickets WHERE id = ANY($1::bigint[]) "
                   "AND created_at >= $2 AND created_at < $3 ORDER BY id FOR UPDATE",
                   3, p);
            PGresult *r = sync_read(c, 3, 2);
            hl_buf_t tcols[HL_UPDATE_NARRAYS], ecols[HL_EVENT_NARRAYS];
            memset(tcols, 0, sizeof tcols);
            memset(ecols, 0, sizeof ecols);
            int64_t lo = INT64_MAX, hi = INT64_MIN, now = hl_now_ms();
            for (int row = 0; row < PQntuples(r); row++) {
                hl_ticket_t t;
                int seq = 1;
                if (hl_store_ticket_read(r, row, 0, &t, &seq) != 0) die("read", NULL);
                /* The states a ticket goes through, as the drive mode's path. */
                static const hl_state_t path[] = {HOTLINE__STATE__STATE_DISPATCHED, HOTLINE__STATE__STATE_SIGNED,
                                                  HOTLINE__STATE__STATE_REPLIED, HOTLINE__STATE__STATE_CALLBACK,
                                                  HOTLINE__STATE__STATE_CALLBACK, HOTLINE__STATE__STATE_CLOSED};
                hl_state_t from = t.state;
                t.state = path[round % 6];
                if (round % 6 == 0) snprintf(t.unit, sizeof t.unit, "%s", units[(size_t)t.id % NUNITS]);
                t.version++;
                seq++;
                hl_store_ticket_arrays(tcols, &t, seq);
                hl_store_event_t e = {t.id, seq, now, "contact", from, t.state, "unit", t.unit, "bench", NULL,
                                      NULL, t.unit, {t.due[0], t.due[1], t.due[2], t.due[3]}, "{\"method\":\"phone\"}"};
                hl_store_event_arrays(ecols, &e);
                if (t.created_at < lo) lo = t.created_at;
                if (t.created_at > hi) hi = t.created_at;
            }
            PQclear(r);
            hl_store_arrays_finish(tcols, HL_UPDATE_NARRAYS);
            hl_store_arrays_finish(ecols, HL_EVENT_NARRAYS);
            char l[HL_ISO8601_LEN], h[HL_ISO8601_LEN];
            hl_iso8601(lo, 0, l);
            hl_iso8601(hi + 1, 0, h);
            /* Round trip 2: the updates, the events, COMMIT. */
            const char *up[HL_UPDATE_NARRAYS + 2];
            for (int i = 0; i < HL_UPDATE_NARRAYS; i++) up[i] = tcols[i].data;
            up[HL_UPDATE_NARRAYS] = l;
            up[HL_UPDATE_NARRAYS + 1] = h;
            send_q(c, hl_sql_update_tickets, HL_UPDATE_NARRAYS + 2, up);
            const char *ep[HL_EVENT_NARRAYS];
            for (int i = 0; i < HL_EVENT_NARRAYS; i++) ep[i] = ecols[i].data;
            send_q(c, hl_sql_insert_events, HL_EVENT_NARRAYS, ep);
            send_q(c, "COMMIT", 0, NULL);
            (void)sync_read(c, 3, -1);
            for (int i = 0; i < HL_UPDATE_NARRAYS; i++) hl_buf_free(&tcols[i]);
            for (int i = 0; i < HL_EVENT_NARRAYS; i++) hl_buf_free(&ecols[i]);
            hl_buf_free(&ids);
            hl_buf_free(&keys);
            hl_free(kk);
            hl_free(kbuf);
        }
    }
    PQfinish(c);
    return NULL;
}

static int raw(const hl_conf_t *conf, const char *prefix, int connections, int batch, int rounds)
{
    size_t n;
    tk_t *t = load(conf->pg_conninfo, prefix, &n);
    if (!n) {
        fprintf(stderr, "bench_lifecycle: no ticket of '%s-*'\n", prefix);
        return 1;
    }
    pthread_t th[16];
    raw_t w[16];
    int64_t t0 = hl_mono_us();
    for (int i = 0; i < connections; i++) {
        size_t first = n * (size_t)i / (size_t)connections, last = n * (size_t)(i + 1) / (size_t)connections;
        w[i] = (raw_t){conf->pg_conninfo, t, first, last - first, batch, rounds, (int)conf->utc_offset_min, prefix, i};
        pthread_create(&th[i], NULL, raw_worker, &w[i]);
    }
    for (int i = 0; i < connections; i++) pthread_join(th[i], NULL);
    double secs = (double)(hl_mono_us() - t0) / 1e6;
    printf("raw_tickets=%zu\nraw_rounds=%d\nraw_connections=%d\nraw_batch=%d\nraw_seconds=%.2f\nraw_actions_per_s=%.0f\n",
           n, rounds, connections, batch, secs, (double)n * rounds / secs);
    hl_free(t);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"prefix", required_argument, NULL, 'p'},
        {"window", required_argument, NULL, 'w'}, {"returns", required_argument, NULL, 'r'},
        {"extensions", required_argument, NULL, 'e'}, {"raw", no_argument, NULL, 'R'},
        {"connections", required_argument, NULL, 'C'}, {"batch", required_argument, NULL, 'b'},
        {"rounds", required_argument, NULL, 'n'}, {"mixed", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *prefix = "life";
    int window = 2000, connections = 2, batch = 1000, rounds = 6, opt;
    double returns = 0.05, extensions = 0.03;
    bool raw_mode = false;
    long mixed = -1;
    while ((opt = getopt_long(argc, argv, "c:p:w:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'p': prefix = optarg; break;
        case 'w': window = atoi(optarg); break;
        case 'r': returns = atof(optarg); break;
        case 'e': extensions = atof(optarg); break;
        case 'R': raw_mode = true; break;
        case 'C': connections = atoi(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 'n': rounds = atoi(optarg); break;
        case 'm': mixed = atol(optarg); break;
        default:
            fprintf(opt == 'h' ? stdout : stderr,
                    "Usage: bench_lifecycle -c CONFIG [--prefix P] [--window N] [--returns F] [--extensions F] "
                    "[--mixed SEED]\n"
                    "       bench_lifecycle -c CONFIG --raw [--prefix P] [--connections N] [--batch N] [--rounds N]\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (window < 1 || connections < 1 || connections > 16 || batch < 1 || rounds < 1) {
        fprintf(stderr, "bench_lifecycle: bad numbers\n");
        return 2;
    }
    hl_conf_t conf;
    char err[HL_ERR_LEN];
    if (hl_conf_load_all(&conf, config, environ, NULL, 0, err) != 0) {
        fprintf(stderr, "bench_lifecycle: %s\n", err);
        return 2;
    }
    int rc = raw_mode ? raw(&conf, prefix, connections, batch, rounds)
                      : drive(&conf, prefix, window, returns, extensions, mixed);
    hl_conf_free(&conf);
    return rc;
}
