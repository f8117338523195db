/* loadgen.c - hotline-loadgen: drive the router over the bus and check the result.
 *
 * Sends Intake envelopes (synthetic text written for this project, or title and
 * body columns of a CSV file) at a fixed rate or as fast as acks allow with a
 * window of requests in flight, resends with the same idempotency key when an
 * answer is TRY_LATER or does not come in time, and reports counts, rate and
 * latency (first send to ack). With --verify it then checks that every acked
 * ticket is in PostgreSQL and in its unit's stream exactly as acked, and that
 * no key was stored twice.
 */
#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "hotline/alloc.h"
#include "hotline/buf.h"
#include "hotline/clock.h"
#include "hotline/conf.h"
#include "hotline/csv.h"
#include "hotline/envelope.h"
#include "hotline/log.h"
#include "hotline/map.h"
#include "hotline/pg.h"
#include "hotline/queue.h"
#include "hotline/store.h"
#include "hotline/ticket.h"
#include "hotline/utf8.h"

extern char **environ;

enum { R_UNSENT, R_INFLIGHT, R_ACKED, R_FAILED };

typedef struct {
    int64_t first_us, last_us, next_us; /* next_us: resend at (after TRY_LATER) */
    int64_t latency_us;
    uint32_t text;
    uint16_t attempts;
    uint8_t state;
    bool replayed;
    int32_t slot;                       /* position in the in-flight array */
    hl_state_t ticket_state;
    char ticket[HL_TICKET_NO_LEN];
    char unit[HL_UNIT_LEN];
    char category[HL_CATEGORY_LEN];
    int64_t sign, contact, reply;
} req_t;

typedef struct {
    char *title, *body;
} text_t;

typedef struct {
    /* options */
    long count, window, retries;
    double rate;
    int64_t timeout_ms;
    const char *csv, *prefix_opt;
    bool verify, quiet, in_order;
    int64_t verify_wait_s;
    unsigned seed;
    /* state */
    hl_conf_t conf;
    char prefix[64];
    req_t *reqs;
    text_t *texts;
    size_t ntexts;
    int32_t *inflight;
    long ninflight;
    long next_seq;
    void *zctx, *sock;
    hl_buf_t buf;
    /* counters */
    long sent, acked, replayed, errors, try_later, retries_done, timeouts, failed;
    long status_count[16];
} lg_t;

/* ------------------------------------------------------------------- text */

/* Synthetic requests, written for this project: (title, body) templates with
 * %s for a place name. Real citizen messages come from --csv. */
static const char *templates[][2] = {
    {"小区电梯经常故障", "我住在%s一个老小区，3号楼电梯这个月停了四次，老人上下楼很困难，物业说没钱修，请相关部门督促尽快维修。"},
    {"物业费上涨不合理", "%s某小区物业今年把物业费从每平方1.2元涨到2元，没有开业主大会，也没有公示，业主们意见很大，请核查。"},
    {"单位拖欠工资三个月", "我在%s一家装修公司打工，老板已经拖欠我们十几个工人三个月工资，一直说下个月发，请劳动部门帮忙追讨。"},
    {"咨询养老保险转移", "请问我从外省回到%s工作，之前交的养老保险怎么转移过来？需要带什么材料，去哪里办理？"},
    {"孩子入学学位问题", "我家在%s，孩子今年该上小学了，片区学校说学位已满，让我们去很远的学校，请教育部门给个说法。"},
    {"培训机构退费难", "%s一家课外培训机构突然停课，我们交的一万多元学费一直不退，老板联系不上，请有关部门处理。"},
    {"超市销售过期食品", "我昨天在%s一家超市买的牛奶已经过期两天，找商家退款被拒绝，请市场监管部门查处。"},
    {"景区门票乱收费", "%s附近的景区除了门票还要另收观光车费，而且没有明码标价，游客意见很大。"},
    {"工厂夜间噪音扰民", "%s一家工厂每天晚上十点以后还在生产，机器噪音很大，附近居民无法休息，请环保部门处理。"},
    {"河道有人偷排污水", "%s附近的河道最近经常发黑发臭，怀疑有企业夜里偷排废水，请环保部门调查。"},
    {"医院挂号难", "%s的医院专家号总是一放出来就没有了，怀疑有号贩子倒号，请卫健部门管一管。"},
    {"咨询生育登记", "请问在%s办理生育登记需要哪些材料？可以网上办理吗？"},
    {"公交车到站不停", "%s的12路公交车经常到站不停，司机态度也很差，早上上班的人等不到车，请公交公司整改。"},
    {"路口红绿灯时间太短", "%s一个路口的行人绿灯只有15秒，老人根本走不过去，建议延长。"},
    {"燃气管道有异味", "%s某小区楼道里闻到燃气泄漏的味道，很担心出事，请燃气公司马上来检查。"},
    {"建议增设公共厕所", "%s的广场每天很多人锻炼，但是附近没有公共厕所，建议增设。"},
};
#define NTEMPLATES (sizeof templates / sizeof templates[0])

static const char *places[][2] = {
    {"990101001", "滨江街道"}, {"990101002", "望湖街道"}, {"990101003", "北站街道"},
    {"990102001", "南湖街道"}, {"990102002", "古城街道"}, {"990102003", "新港街道"},
    {"990103001", "科技城街道"}, {"990103002", "创新街道"}, {"990101", "江北区"},
    {"990102", "江南区"},
};
#define NPLACES (sizeof places / sizeof places[0])

static const char *surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"};

static void synth_texts(lg_t *g)
{
    g->ntexts = NTEMPLATES * NPLACES;
    g->texts = hl_calloc(g->ntexts, sizeof(text_t));
    for (size_t t = 0; t < NTEMPLATES; t++) {
        for (size_t p = 0; p < NPLACES; p++) {
            /* Replace the one %s of the template with the place. */
            hl_buf_t b = HL_BUF_INIT;
            const char *tpl = templates[t][1], *at = strstr(tpl, "%s");
            hl_buf_append(&b, tpl, (size_t)(at - tpl));
            hl_buf_puts(&b, places[p][1]);
            hl_buf_puts(&b, at + 2);
            g->texts[t * NPLACES + p].title = hl_strdup(templates[t][0]);
            g->texts[t * NPLACES + p].body = b.data;
        }
    }
}

static int load_csv(lg_t *g)
{
    char err[HL_ERR_LEN];
    hl_csv_t *c = hl_csv_open(g->csv, err);
    if (!c) {
        fprintf(stderr, "hotline-loadgen: %s\n", err);
        return -1;
    }
    hl_csv_row_t row;
    int rc, title = -1, body = -1;
    size_t cap = 0, skipped = 0;
    while ((rc = hl_csv_next(c, &row, err)) != 0) {
        if (rc < 0) {
            fprintf(stderr, "hotline-loadgen: %s: %s (skipped)\n", g->csv, err);
            skipped++;
            continue;
        }
        if (title < 0 && body < 0) {
            for (int i = 0; i < row.n; i++) {
                if (strcmp(row.field[i], "title") == 0) title = i;
                if (strcmp(row.field[i], "body") == 0) body = i;
            }
            if (body < 0) {
                fprintf(stderr, "hotline-loadgen: %s: no 'body' column in the header\n", g->csv);
                hl_csv_close(&c);
                return -1;
            }
            continue;
        }
        if (body >= row.n || !hl_utf8_valid(row.field[body], row.len[body]) ||
            row.len[body] == 0 ||
            (title >= 0 && (title >= row.n || !hl_utf8_valid(row.field[title], row.len[title])))) {
            skipped++;
            continue;
        }
        if (g->ntexts == cap) {
            cap = cap ? cap * 2 : 1024;
            g->texts = hl_realloc(g->texts, cap * sizeof(text_t));
        }
        /* Keep under the router's default text limit. */
        size_t blen = hl_utf8_cut(row.field[body], row.len[body], 30000);
        g->texts[g->ntexts].title =
            hl_strndup(title >= 0 ? row.field[title] : "", title >= 0 && row.len[title] < 500 ? row.len[title] : 0);
        g->texts[g->ntexts].body = hl_strndup(row.field[body], blen);
        g->ntexts++;
    }
    hl_csv_close(&c);
    if (skipped) fprintf(stderr, "hotline-loadgen: %zu CSV rows skipped\n", skipped);
    if (g->ntexts == 0) {
        fprintf(stderr, "hotline-loadgen: %s has no usable rows\n", g->csv);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- sending */

static void key_of(const lg_t *g, long seq, char *out, size_t n)
{
    snprintf(out, n, "%s-%ld", g->prefix, seq);
}

static void send_req(lg_t *g, long seq)
{
    req_t *q = &g->reqs[seq];
    const text_t *t = &g->texts[q->text];
    uint32_t h = (uint32_t)hl_hash(&seq, sizeof seq) ^ g->seed;
    char key[96], name[16], phone[16];
    key_of(g, seq, key, sizeof key);
    snprintf(name, sizeof name, "%s%s", surnames[h % 10], (h >> 4) % 2 ? "先生" : "女士");
    snprintf(phone, sizeof phone, "13%09u", (h >> 8) % 1000000000u);

    Hotline__Requester rq = HOTLINE__REQUESTER__INIT;
    rq.anonymous = (h >> 20) % 10 == 0;
    if (!rq.anonymous) rq.name = name, rq.phone = phone;
    Hotline__Location loc = HOTLINE__LOCATION__INIT;
    loc.region = (char *)places[(h >> 12) % NPLACES][0];
    loc.address = (char *)places[(h >> 12) % NPLACES][1];
    Hotline__Intake in = HOTLINE__INTAKE__INIT;
    in.idempotency_key = key;
    in.channel = (Hotline__Channel)(1 + (h >> 16) % 6);
    in.requester = &rq;
    in.location = &loc;
    in.title = t->title;
    in.body = t->body;
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    env.schema = HL_SCHEMA_VERSION;
    env.request_id = (uint64_t)seq + 1;
    env.body_case = HOTLINE__ENVELOPE__BODY_INTAKE;
    env.intake = &in;
    hl_buf_reset(&g->buf);
    hl_envelope_pack(&env, &g->buf);
    if (zmq_send(g->sock, g->buf.data, g->buf.len, ZMQ_DONTWAIT) < 0) {
        /* Over the high-water mark: try again on the next pass. */
        q->next_us = hl_mono_us() + 1000;
        return;
    }
    int64_t now = hl_mono_us();
    if (q->attempts == 0) q->first_us = now;
    else g->retries_done++;
    q->attempts++;
    q->last_us = now;
    q->next_us = 0;
    g->sent++;
}

static void track(lg_t *g, long seq)
{
    g->reqs[seq].slot = (int32_t)g->ninflight;
    g->inflight[g->ninflight++] = (int32_t)seq;
    g->reqs[seq].state = R_INFLIGHT;
}

static void untrack(lg_t *g, long seq)
{
    int32_t slot = g->reqs[seq].slot;
    int32_t last = g->inflight[--g->ninflight];
    g->inflight[slot] = last;
    g->reqs[last].slot = slot;
    g->reqs[seq].slot = -1;
}

static void give_up(lg_t *g, long seq)
{
    untrack(g, seq);
    g->reqs[seq].state = R_FAILED;
    g->failed++;
}

static void on_ack(lg_t *g, const Hotline__Envelope *env)
{
    if (env->body_case != HOTLINE__ENVELOPE__BODY_ACK || env->request_id == 0 ||
        env->request_id > (uint64_t)g->count) {
        g->errors++;
        return;
    }
    long seq = (long)env->request_id - 1;
    req_t *q = &g->reqs[seq];
    const Hotline__Ack *a = env->ack;
    if (q->state != R_INFLIGHT) return; /* a late answer to an earlier attempt */
    if ((unsigned)a->status < 16) g->status_count[a->status]++;
    switch (a->status) {
    case HOTLINE__STATUS__STATUS_OK:
        untrack(g, seq);
        q->state = R_ACKED;
        q->latency_us = hl_mono_us() - q->first_us;
        q->replayed = a->replayed;
        q->ticket_state = a->state;
        snprintf(q->ticket, sizeof q->ticket, "%s", a->ticket);
        snprintf(q->unit, sizeof q->unit, "%s", a->unit);
        snprintf(q->category, sizeof q->category, "%s", a->category);
        if (a->deadlines) {
            q->sign = a->deadlines->sign;
            q->contact = a->deadlines->contact;
            q->reply = a->deadlines->reply;
        }
        g->acked++;
        g->replayed += a->replayed;
        return;
    case HOTLINE__STATUS__STATUS_TRY_LATER:
    case HOTLINE__STATUS__STATUS_INTERNAL:
        g->try_later++;
        if (q->attempts > g->retries) {
            give_up(g, seq);
        } else {
            int64_t wait = a->retry_after_ms ? a->retry_after_ms : 100;
            if (wait > 1000) wait = 1000;
            q->next_us = hl_mono_us() + wait * 1000;
        }
        return;
    default:
        if (!g->quiet) fprintf(stderr, "hotline-loadgen: request %ld: %s\n", seq, a->message);
        g->errors++;
        give_up(g, seq);
    }
}

static void drain(lg_t *g)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, g->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        char err[HL_ERR_LEN];
        hl_envelope_t *env = NULL;
        if (hl_envelope_unpack(zmq_msg_data(&m), zmq_msg_size(&m), 1 << 24, &env, NULL, err) == 0)
            on_ack(g, env);
        else
            g->errors++;
        hl_envelope_free(&env);
        zmq_msg_close(&m);
    }
}

static void retry_pass(lg_t *g)
{
    int64_t now = hl_mono_us(), timeout = g->timeout_ms * 1000;
    for (long i = 0; i < g->ninflight; i++) {
        long seq = g->inflight[i];
        req_t *q = &g->reqs[seq];
        if (q->next_us && now >= q->next_us) {
            send_req(g, seq);
        } else if (!q->next_us && now - q->last_us > timeout) {
            g->timeouts++;
            if (q->attempts > g->retries) {
                give_up(g, seq);
                i--;
            } else {
                send_req(g, seq);
            }
        }
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void run(lg_t *g)
{
    int64_t start = hl_mono_us(), last_report = start, last_retry = start;
    while (g->next_seq < g->count || g->ninflight > 0) {
        int64_t now = hl_mono_us();
        while (g->next_seq < g->count && g->ninflight < g->window) {
            if (g->rate > 0 && now < start + (int64_t)((double)g->next_seq * 1e6 / g->rate)) break;
            long seq = g->next_seq++;
            g->reqs[seq].text = (uint32_t)(g->in_order ? (size_t)seq % g->ntexts : hl_hash(&seq, sizeof seq) % g->ntexts);
            track(g, seq);
            send_req(g, seq);
        }
        long timeout_ms = 10;
        if (g->rate > 0 && g->next_seq < g->count) {
            int64_t due = start + (int64_t)((double)g->next_seq * 1e6 / g->rate) - hl_mono_us();
            timeout_ms = due <= 0 ? 0 : due < 10000 ? (due + 999) / 1000 : 10;
        }
        zmq_pollitem_t item = {g->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, timeout_ms) > 0) drain(g);
        now = hl_mono_us();
        if (now - last_retry > 5000) {
            retry_pass(g);
            last_retry = now;
        }
        if (!g->quiet && now - last_report > 1000000 && isatty(STDERR_FILENO)) {
            fprintf(stderr, "\rsent %ld acked %ld in flight %ld try_later %ld   ", g->sent, g->acked,
                    g->ninflight, g->try_later);
            last_report = now;
        }
    }
    if (!g->quiet && isatty(STDERR_FILENO)) fputc('\n', stderr);
    double secs = (double)(hl_mono_us() - start) / 1e6;
    int64_t *lat = hl_malloc((size_t)(g->acked ? g->acked : 1) * sizeof(int64_t));
    long n = 0;
    for (long i = 0; i < g->count; i++)
        if (g->reqs[i].state == R_ACKED) lat[n++] = g->reqs[i].latency_us;
    qsort(lat, (size_t)n, sizeof(int64_t), cmp_i64);
#define PCT(p) (n ? (double)lat[(long)((double)(n - 1) * (p))] / 1000.0 : 0.0)
    printf("sent=%ld\nacked=%ld\nreplayed=%ld\nerrors=%ld\ntry_later=%ld\nretries=%ld\n"
           "timeouts=%ld\nfailed=%ld\n",
           g->sent, g->acked, g->replayed, g->errors, g->try_later, g->retries_done, g->timeouts,
           g->failed);
    printf("elapsed_s=%.3f\nrate_per_s=%.1f\np50_ms=%.3f\np99_ms=%.3f\np999_ms=%.3f\nmax_ms=%.3f\n",
           secs, (double)g->acked / secs, PCT(0.5), PCT(0.99), PCT(0.999), PCT(1.0));
#undef PCT
    hl_free(lat);
}

/* ----------------------------------------------------------- verification */

static PGresult *query(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "hotline-loadgen: verify: %s", PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
    }
    return r;
}

typedef struct {
    redisContext *rc;
    hl_map_t *by_ticket, *seen;
    long *mismatched;
} scan_t;

/* Read a whole stream (XRANGE in pages) and count the lead entries of our
 * tickets, checking their fields against the acks. */
static void scan_queue(void *arg, const char *queue, void *value)
{
    (void)value;
    scan_t *s = arg;
    char key[96], start[64] = "-";
    snprintf(key, sizeof key, HL_QUEUE_PREFIX "%s", queue);
    for (;;) {
        redisReply *rep = redisCommand(s->rc, "XRANGE %s %s + COUNT 10000", key, start);
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
            if (rep) freeReplyObject(rep);
            return;
        }
        for (size_t i = 0; i < rep->elements; i++) {
            redisReply *e = rep->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) continue;
            snprintf(start, sizeof start, "(%s", e->element[0]->str);
            redisReply *f = e->element[1];
            const char *ticket = "", *role = "", *state = "", *category = "";
            int64_t sign = 0, contact = 0, reply = 0;
            for (size_t j = 0; j + 1 < f->elements; j += 2) {
                const char *k = f->element[j]->str, *v = f->element[j + 1]->str;
                if (!strcmp(k, "ticket")) ticket = v;
                else if (!strcmp(k, "role")) role = v;
                else if (!strcmp(k, "state")) state = v;
                else if (!strcmp(k, "category")) category = v;
                else if (!strcmp(k, "sign_due")) sign = atoll(v);
                else if (!strcmp(k, "contact_due")) contact = atoll(v);
                else if (!strcmp(k, "reply_due")) reply = atoll(v);
            }
            req_t *q = hl_map_get(s->by_ticket, ticket, strlen(ticket));
            if (!q || strcmp(role, "lead") != 0) continue;
            intptr_t n = (intptr_t)hl_map_get(s->seen, ticket, strlen(ticket));
            hl_map_put(s->seen, ticket, strlen(ticket), (void *)(n + 1));
            if (strcmp(state, hl_state_name(q->ticket_state)) != 0 ||
                strcmp(category, q->category) != 0 || sign != q->sign || contact != q->contact ||
                reply != q->reply) {
                (*s->mismatched)++;
                if (*s->mismatched <= 5) fprintf(stderr, "mismatch in stream %s: ticket %s\n", key, ticket);
            }
        }
        bool more = rep->elements == 10000;
        freeReplyObject(rep);
        if (!more) return;
    }
}

/* Returns 0 when every check holds, 1 otherwise, 2 if it could not check. */
static int verify(lg_t *g)
{
    PGconn *c = PQconnectdb(g->conf.pg_conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "hotline-loadgen: verify: %s", PQerrorMessage(c));
        PQfinish(c);
        return 2;
    }
    /* Let the outbox drain: tickets committed while Redis was down. */
    int64_t deadline = hl_mono_us() + g->verify_wait_s * 1000000;
    long outbox = -1;
    for (;;) {
        PGresult *r = query(c, "SELECT count(*) FROM outbox", 0, NULL);
        outbox = r ? atol(PQgetvalue(r, 0, 0)) : -1;
        PQclear(r);
        if (outbox == 0 || hl_mono_us() > deadline) break;
        usleep(200000);
    }
    long lost = 0, mismatched = 0, undelivered = 0, redelivered = 0, duplicated = 0, stored = 0;
    hl_map_t *by_ticket = hl_map_new();
    for (long i = 0; i < g->count; i++)
        if (g->reqs[i].state == R_ACKED)
            hl_map_put(by_ticket, g->reqs[i].ticket, strlen(g->reqs[i].ticket), &g->reqs[i]);

    /* 1. Every acked ticket in PostgreSQL, as acked. */
    const long chunk = 5000;
    char **keys = hl_malloc((size_t)chunk * sizeof(char *));
    long *seqs = hl_malloc((size_t)chunk * sizeof(long));
    for (long base = 0; base < g->count; base += chunk) {
        long k = 0;
        for (long i = base; i < base + chunk && i < g->count; i++) {
            if (g->reqs[i].state != R_ACKED) continue;
            keys[k] = hl_malloc(96);
            key_of(g, i, keys[k], 96);
            seqs[k++] = i;
        }
        if (!k) continue;
        hl_buf_t arr = HL_BUF_INIT;
        hl_pg_text_array(&arr, (const char *const *)keys, (size_t)k);
        const char *p[] = {arr.data};
        PGresult *r = query(
            c,
            "SELECT k.key, t.ticket_no, t.state, coalesce(t.unit, ''), t.category, "
            "(extract(epoch FROM t.sign_due) * 1000)::bigint, "
            "(extract(epoch FROM t.contact_due) * 1000)::bigint, "
            "(extract(epoch FROM t.reply_due) * 1000)::bigint "
            "FROM intake_keys k JOIN tickets t ON t.id = k.ticket_id AND t.created_at = k.created_at "
            "WHERE k.key = ANY($1::text[])",
            1, p);
        hl_buf_free(&arr);
        hl_map_t *rows = hl_map_new();
        for (int row = 0; r && row < PQntuples(r); row++)
            hl_map_put(rows, PQgetvalue(r, row, 0), strlen(PQgetvalue(r, row, 0)), (void *)(intptr_t)(row + 1));
        for (long j = 0; j < k; j++) {
            req_t *q = &g->reqs[seqs[j]];
            intptr_t row = (intptr_t)hl_map_get(rows, keys[j], strlen(keys[j])) - 1;
            if (!r || row < 0) {
                lost++;
                if (lost <= 5) fprintf(stderr, "lost: %s (ticket %s)\n", keys[j], q->ticket);
                continue;
            }
            hl_state_t st = 0;
            if (strcmp(PQgetvalue(r, (int)row, 1), q->ticket) != 0 ||
                hl_state_parse(PQgetvalue(r, (int)row, 2), &st) != 0 || st != q->ticket_state ||
                strcmp(PQgetvalue(r, (int)row, 3), q->unit) != 0 ||
                strcmp(PQgetvalue(r, (int)row, 4), q->category) != 0 ||
                atoll(PQgetvalue(r, (int)row, 5)) != q->sign ||
                atoll(PQgetvalue(r, (int)row, 6)) != q->contact ||
                atoll(PQgetvalue(r, (int)row, 7)) != q->reply) {
                mismatched++;
                if (mismatched <= 5)
                    fprintf(stderr, "mismatch in PostgreSQL: %s ticket %s (acked %s/%s/%s)\n",
                            keys[j], PQgetvalue(r, (int)row, 1), q->ticket, q->unit, q->category);
            }
        }
        hl_map_destroy(&rows);
        PQclear(r);
        for (long j = 0; j < k; j++) hl_free(keys[j]);
    }
    hl_free(keys);
    hl_free(seqs);

    /* 2. No key stored twice (tickets carry their key; intake_keys is unique). */
    char like[80];
    snprintf(like, sizeof like, "%s-%%", g->prefix);
    const char *lp[] = {like};
    PGresult *r = query(c,
                        "SELECT count(*), count(DISTINCT idempotency_key) FROM tickets "
                        "WHERE idempotency_key LIKE $1",
                        1, lp);
    if (r) {
        stored = atol(PQgetvalue(r, 0, 0));
        duplicated = stored - atol(PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    PQfinish(c);

    /* 3. Every acked ticket in its stream, as acked. */
    redisContext *rc = redisConnect(g->conf.redis_host, (int)g->conf.redis_port);
    if (!rc || rc->err) {
        fprintf(stderr, "hotline-loadgen: verify: redis: %s\n", rc ? rc->errstr : "no memory");
        if (rc) redisFree(rc);
        hl_map_destroy(&by_ticket);
        return 2;
    }
    hl_map_t *queues = hl_map_new();
    for (long i = 0; i < g->count; i++) {
        req_t *q = &g->reqs[i];
        if (q->state != R_ACKED) continue;
        const char *queue = *q->unit ? q->unit : g->conf.dispatch_queue;
        hl_map_put(queues, queue, strlen(queue), (void *)1);
    }
    hl_map_t *seen = hl_map_new(); /* ticket -> times seen + 1 in its lead stream */
    scan_t scan = {rc, by_ticket, seen, &mismatched};
    hl_map_each(queues, scan_queue, &scan);
    for (long i = 0; i < g->count; i++) {
        req_t *q = &g->reqs[i];
        if (q->state != R_ACKED) continue;
        intptr_t times = (intptr_t)hl_map_get(seen, q->ticket, strlen(q->ticket));
        if (times == 0) {
            undelivered++;
            if (undelivered <= 5) fprintf(stderr, "undelivered: ticket %s\n", q->ticket);
        } else if (times > 1) {
            redelivered += times - 1;
        }
    }
    hl_map_destroy(&seen);
    hl_map_destroy(&queues);
    hl_map_destroy(&by_ticket);
    redisFree(rc);
    printf("outbox_left=%ld\nstored=%ld\nlost=%ld\nundelivered=%ld\nmismatched=%ld\n"
           "duplicated=%ld\nstream_redeliveries=%ld\n",
           outbox, stored, lost, undelivered, mismatched, duplicated, redelivered);
    return lost || undelivered || mismatched || duplicated ? 1 : 0;
}

/* ------------------------------------------------------------------- main */

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: hotline-loadgen [options]\n"
            "Send citizen requests to hotline-router over the bus, report rate and latency,\n"
            "and optionally verify every acked ticket in PostgreSQL and Redis.\n"
            "\n"
            "  -n, --count N        requests to send (default 1000)\n"
            "  -r, --rate R         requests per second; 0 = as fast as acks allow (default 0)\n"
            "  -w, --window N       most requests in flight (default 100)\n"
            "      --csv FILE       take text from the title and body columns of FILE\n"
            "      --in-order       request n takes text n (cycling) rather than one at random\n"
            "                       (default: built-in synthetic requests)\n"
            "      --retries N      resend an unanswered or TRY_LATER request up to N times,\n"
            "                       with the same idempotency key (default 0)\n"
            "      --timeout MS     wait this long for an answer before resending (default 2000)\n"
            "      --prefix P       idempotency keys are P-<n> (default: a new run id)\n"
            "      --verify         then check PostgreSQL and the unit streams\n"
            "      --verify-wait S  wait up to S seconds for the outbox to drain (default 60)\n"
            "      --seed N         vary the synthetic requesters (default 1)\n"
            "  -q, --quiet          no progress or per-request errors on stderr\n"
            "  -c, --config FILE    settings file (zmq.intake, postgres.conninfo, redis.*)\n"
            "  -s, --set S.K=V      override one setting\n"
            "  -h, --help           this text\n"
            "\n"
            "Output: key=value lines. Exit status: 0 all acked (and verified), 1 some\n"
            "request failed or a check did not hold, 2 bad usage or cannot verify.\n");
}

static long parse_long(const char *s, const char *what, long min)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min) {
        fprintf(stderr, "hotline-loadgen: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"count", required_argument, NULL, 'n'},   {"rate", required_argument, NULL, 'r'},
        {"window", required_argument, NULL, 'w'},  {"csv", required_argument, NULL, 'C'},
        {"retries", required_argument, NULL, 'R'}, {"timeout", required_argument, NULL, 'T'},
        {"prefix", required_argument, NULL, 'P'},  {"verify", no_argument, NULL, 'V'},
        {"verify-wait", required_argument, NULL, 'W'}, {"seed", required_argument, NULL, 'S'},
        {"quiet", no_argument, NULL, 'q'},         {"in-order", no_argument, NULL, 'O'},         {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},     {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    lg_t g;
    memset(&g, 0, sizeof g);
    g.count = 1000;
    g.window = 100;
    g.timeout_ms = 2000;
    g.verify_wait_s = 60;
    g.seed = 1;
    const char *config = NULL;
    char **sets = hl_calloc((size_t)argc, sizeof(char *));
    int nsets = 0, opt;
    hl_log_init("loadgen");
    while ((opt = getopt_long(argc, argv, "n:r:w:qc:s:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'n': g.count = parse_long(optarg, "count", 1); break;
        case 'r': {
            char *end;
            g.rate = strtod(optarg, &end);
            if (*end || g.rate < 0) {
                fprintf(stderr, "hotline-loadgen: bad rate '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case 'w': g.window = parse_long(optarg, "window", 1); break;
        case 'C': g.csv = optarg; break;
        case 'R': g.retries = parse_long(optarg, "retries", 0); break;
        case 'T': g.timeout_ms = parse_long(optarg, "timeout", 1); break;
        case 'P': g.prefix_opt = optarg; break;
        case 'V': g.verify = true; break;
        case 'W': g.verify_wait_s = parse_long(optarg, "verify-wait", 0); break;
        case 'S': g.seed = (unsigned)parse_long(optarg, "seed", 0); break;
        case 'q': g.quiet = true; break;
        case 'O': g.in_order = true; break;
        case 'c': config = optarg; break;
        case 's': sets[nsets++] = optarg; break;
        case 'h': usage(stdout); hl_free(sets); return 0;
        default: usage(stderr); hl_free(sets); return 2;
        }
    }
    char err[HL_ERR_LEN];
    int rc = hl_conf_load_all(&g.conf, config, environ, sets, nsets, err);
    hl_free(sets);
    if (rc) {
        fprintf(stderr, "hotline-loadgen: %s\n", err);
        hl_conf_free(&g.conf);
        return 2;
    }
    if (g.prefix_opt) {
        if (strlen(g.prefix_opt) > 48) {
            fprintf(stderr, "hotline-loadgen: prefix longer than 48 characters\n");
            return 2;
        }
        snprintf(g.prefix, sizeof g.prefix, "%s", g.prefix_opt);
    } else {
        snprintf(g.prefix, sizeof g.prefix, "lg%" PRIx64 "x%x", (uint64_t)hl_now_ms(), (unsigned)getpid());
    }
    if (g.csv ? load_csv(&g) != 0 : (synth_texts(&g), 0)) return 2;
    g.reqs = hl_calloc((size_t)g.count, sizeof(req_t));
    g.inflight = hl_malloc((size_t)g.window * sizeof(int32_t));
    g.zctx = zmq_ctx_new();
    g.sock = zmq_socket(g.zctx, ZMQ_DEALER);
    int hwm = 1000000, linger = 0;
    zmq_setsockopt(g.sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(g.sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(g.sock, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(g.sock, g.conf.zmq_intake) != 0) {
        fprintf(stderr, "hotline-loadgen: cannot connect %s: %s\n", g.conf.zmq_intake,
                zmq_strerror(errno));
        return 2;
    }
    printf("prefix=%s\n", g.prefix);
    fflush(stdout);
    run(&g);
    int status = g.acked == g.count ? 0 : 1;
    if (g.verify) {
        int v = verify(&g);
        if (v) status = v;
    }
    zmq_close(g.sock);
    zmq_ctx_term(g.zctx);
    for (size_t i = 0; i < g.ntexts; i++) hl_free(g.texts[i].title), hl_free(g.texts[i].body);
    hl_free(g.texts);
    hl_free(g.reqs);
    hl_free(g.inflight);
    hl_buf_free(&g.buf);
    hl_conf_free(&g.conf);
    return status;
}
