/* sla.c - hotline-sla: the deadline watcher.
 *
 * Keeps every running deadline of every open ticket (sign-in, first contact,
 * reply, callback) in an index ordered by when its next notice is due
 * (dlindex.h, slaplan.h), and sends each notice to the router as a NOTIFY
 * action; the router writes it as an event, publishes it, tells the unit
 * (or the office) from the reminder on, and refuses a notice twice for the
 * same deadline. So notices are exactly-once whatever this process does.
 *
 * Where the index comes from:
 *  - at start (and on SIGHUP or a reference-data change), every open ticket
 *    is read from PostgreSQL, with the notices already sent (sla_progress);
 *  - then the router's events (SUB) keep it current within milliseconds:
 *    each event carries the deadlines in force, when their clocks started
 *    and, for a notice, which one it was;
 *  - every resync_ms, tickets with events since the last pass are read
 *    again from PostgreSQL, in case an event was missed (PUB drops when a
 *    subscriber is slow or away);
 *  - a notice the router refuses as stale makes the ticket be read again.
 * A notice whose time passed while nobody watched is sent once, at its
 * highest stage reached (no warning after the deadline passed).
 *
 * Single-threaded: zmq_poll on the events, the router's answers and the
 * PostgreSQL socket (LISTEN); PostgreSQL reads are short and blocking.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>

#include "hotline/alloc.h"
#include "hotline/buf.h"
#include "hotline/clock.h"
#include "hotline/conf.h"
#include "hotline/dlindex.h"
#include "hotline/envelope.h"
#include "hotline/lifecycle.h"
#include "hotline/log.h"
#include "hotline/refdata.h"
#include "hotline/slaplan.h"
#include "hotline/store.h"

extern char **environ;

#define MAX_CALS 255
#define LOAD_BATCH 20000 /* rows per FETCH (the query below says it too) */
#define EVENT_MARGIN_MS 10000 /* an event this much older than a snapshot is in it */

enum { F_INFLIGHT = 1, F_SPAN_SHIFT = 1 }; /* flags: bit 0 in flight, bits 1-2 the span */

typedef struct {
    uint64_t rid;       /* 0 = free */
    int64_t id, due;
    int64_t sent_us;
    uint8_t clock, stage;
} flight_t;

typedef struct {
    hl_conf_t conf;
    hl_slaplan_t plan;
    char name[96];
    PGconn *pg;
    int64_t pg_retry_at;
    hl_refdata_t *rd;
    const hl_calendar_t *cals[MAX_CALS];
    int ncals;
    hl_dlindex_t *ix;
    void *zctx, *sub, *dealer;
    flight_t *flights;
    int window, nflight;
    uint64_t rid_seq;
    int64_t *refresh;   /* ticket ids to read again */
    size_t nrefresh, caprefresh;
    int64_t snapshot_at; /* when the last full load began (ms) */
    int64_t resync_since;
    int64_t next_resync, next_stats, next_refresh;
    bool reload;         /* full reload wanted */
    hl_buf_t buf;
    /* figures */
    uint64_t sent[16], refused, stale, retried, events, loaded, resynced;
    int64_t load_ms;
} sla_t;

static volatile sig_atomic_t stopping, hup;

static void on_signal(int sig)
{
    if (sig == SIGHUP) hup = 1;
    else stopping = 1;
}

static hl_span_t span_of(const hl_dl_t *d)
{
    return (hl_span_t)((d->flags >> F_SPAN_SHIFT) & 3);
}

/* ------------------------------------------------------------ PostgreSQL */

static bool pg_ok(sla_t *s)
{
    if (s->pg && PQstatus(s->pg) == CONNECTION_OK) return true;
    if (hl_now_ms() < s->pg_retry_at) return false;
    if (s->pg) PQfinish(s->pg);
    s->pg = PQconnectdb(s->conf.pg_conninfo);
    if (PQstatus(s->pg) != CONNECTION_OK) {
        hl_warn("postgres: %s", PQerrorMessage(s->pg));
        s->pg_retry_at = hl_now_ms() + s->conf.pg_reconnect_ms;
        return false;
    }
    PGresult *r = PQexec(s->pg, "LISTEN hotline_reference");
    PQclear(r);
    hl_info("postgres: connected");
    return true;
}

static void pg_lost(sla_t *s, const char *what)
{
    hl_warn("postgres: %s: %s", what, PQerrorMessage(s->pg));
    if (PQstatus(s->pg) != CONNECTION_OK) {
        PQfinish(s->pg);
        s->pg = NULL;
        s->pg_retry_at = hl_now_ms() + s->conf.pg_reconnect_ms;
    }
}

static int load_refdata(sla_t *s)
{
    hl_refdata_t *rd = hl_refdata_new();
    char err[HL_ERR_LEN] = "";
    int rc = 0;
    for (size_t i = 0; i < hl_refdata_nqueries() && !rc; i++) {
        PGresult *r = PQexec(s->pg, hl_refdata_query(i));
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            snprintf(err, sizeof err, "%s", PQresultErrorMessage(r));
            rc = HL_EIO;
        } else {
            rc = hl_refdata_load(rd, i, r, err);
        }
        PQclear(r);
    }
    if (!rc) rc = hl_refdata_finish(rd, err);
    if (rc) {
        hl_error("reference data: %s", err);
        hl_refdata_destroy(&rd);
        return rc;
    }
    hl_refdata_destroy(&s->rd);
    s->rd = rd;
    s->ncals = 0;
    return 0;
}

/* ------------------------------------------------------------ the index */

static int cal_index(sla_t *s, const hl_calendar_t *cal)
{
    for (int i = 0; i < s->ncals; i++)
        if (s->cals[i] == cal) return i;
    if (s->ncals == MAX_CALS) return 0;
    s->cals[s->ncals] = cal;
    return s->ncals++;
}

/* The calendar and span of a ticket's clock, from the policy. */
static void rules_of(sla_t *s, hl_type_t type, hl_urgency_t urgency, const char *region, hl_clock_t clock,
                     int *cal, hl_span_t *span)
{
    const char *chain[HL_MAX_CHAIN];
    int n = hl_refdata_region_chain(s->rd, region, chain);
    if (n == 0) n = hl_refdata_region_chain(s->rd, hl_refdata_top_region(s->rd), chain);
    *cal = cal_index(s, hl_refdata_calendar(s->rd, chain, n));
    const hl_policy_row_t *row = hl_policy_find(hl_refdata_policy(s->rd), type, urgency, chain, (size_t)n);
    hl_limit_unit_t u = HL_LIMIT_WORKING_DAYS;
    if (row) {
        switch (clock) {
        case HL_CLOCK_SIGN: u = row->sign.unit; break;
        case HL_CLOCK_CONTACT: u = row->contact.unit; break;
        case HL_CLOCK_REPLY: u = row->reply.unit; break;
        default: u = row->callback.unit; break;
        }
    }
    *span = hl_span_of(u);
}

/* (Re)schedule an entry at its next stage's time. */
static void schedule(sla_t *s, hl_dl_t *d)
{
    if (d->flags & F_INFLIGHT) return;
    int next = d->sent + 1;
    if (next > hl_sla_last_stage(&s->plan)) {
        hl_dlindex_unschedule(s->ix, d);
        return;
    }
    hl_dlindex_schedule(s->ix, d,
                        hl_sla_stage_at(&s->plan, s->cals[d->cal], span_of(d), d->start, d->due, next));
}

typedef struct {
    hl_type_t type;
    hl_urgency_t urgency;
    const char *region;
} kind_t;

/* A running deadline as a source says it is. progress: the stage the
 * source knows was sent (-1: unknown). */
static void upsert(sla_t *s, int64_t id, int32_t day, uint32_t version, hl_clock_t clock, int64_t due, int64_t start,
                   int progress, const kind_t *k)
{
    bool created;
    hl_dl_t *d = hl_dlindex_put(s->ix, id, (int)clock, &created);
    if (!created && version < d->version) return; /* older news */
    if (created || d->due != due) {
        d->sent = progress > 0 ? (uint8_t)progress : 0;
        int cal;
        hl_span_t span;
        rules_of(s, k->type, k->urgency, k->region, clock, &cal, &span);
        d->cal = (uint8_t)cal;
        d->flags = (uint8_t)((d->flags & F_INFLIGHT) | (span << F_SPAN_SHIFT));
    } else if (progress > d->sent) {
        d->sent = (uint8_t)progress;
    }
    d->due = due;
    d->start = start;
    d->day = day;
    d->version = version;
    schedule(s, d);
}

static void stop_clock(sla_t *s, int64_t id, uint32_t version, hl_clock_t clock)
{
    hl_dl_t *d = hl_dlindex_get(s->ix, id, (int)clock);
    if (d && version >= d->version) hl_dlindex_remove(s->ix, d);
}

/* A ticket row (HL_SQL_TICKET_COLS): its clocks, as they are now. */
static void apply_row(sla_t *s, const hl_ticket_t *t)
{
    kind_t k = {t->type, t->urgency, t->region};
    int32_t day = (int32_t)((t->created_at + (int64_t)s->conf.utc_offset_min * 60000) / 86400000);
    for (int c = 0; c < HL_NCLOCKS; c++) {
        if (hl_clock_runs(t, (hl_clock_t)c))
            upsert(s, t->id, day, (uint32_t)t->version, (hl_clock_t)c, t->due[c], hl_clock_start(t, (hl_clock_t)c),
                   (int)(((uint32_t)t->sla_progress >> (8 * c)) & 0xFF), &k);
        else
            stop_clock(s, t->id, (uint32_t)t->version, (hl_clock_t)c);
    }
}

static int apply_result(sla_t *s, const PGresult *r)
{
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        hl_ticket_t t;
        if (hl_store_ticket_read(r, i, 0, &t, NULL) != 0) {
            hl_warn("ticket %s has a value this watcher does not know; skipped", PQgetvalue(r, i, 2));
            continue;
        }
        apply_row(s, &t);
    }
    return n;
}

#define OPEN_CLOCKED                                                                               \
    "('PENDING_DISPATCH','DISPATCHED','RETURN_REQUESTED','SIGNED','IN_PROGRESS',"                  \
    "'EXTENSION_REQUESTED','CALLBACK')"

/* Read every open ticket into a fresh index. Returns 0 or HL_EIO. */
static int full_load(sla_t *s)
{
    if (!pg_ok(s)) return HL_EIO;
    if (load_refdata(s) != 0) return HL_EIO;
    int64_t t0 = hl_mono_us();
    s->snapshot_at = hl_now_ms();
    hl_dlindex_clear(s->ix);
    PGresult *r = PQexec(s->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (ok) {
        r = PQexec(s->pg, "DECLARE open_tickets NO SCROLL CURSOR FOR SELECT " HL_SQL_TICKET_COLS
                          " FROM tickets WHERE state IN " OPEN_CLOCKED);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    size_t rows = 0;
    while (ok) {
        r = PQexec(s->pg, "FETCH 20000 FROM open_tickets");
        ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        int n = ok ? apply_result(s, r) : 0;
        PQclear(r);
        rows += (size_t)n;
        if (n < LOAD_BATCH) break;
    }
    if (!ok) {
        pg_lost(s, "loading open tickets");
        if (s->pg) PQclear(PQexec(s->pg, "ROLLBACK"));
        return HL_EIO;
    }
    PQclear(PQexec(s->pg, "COMMIT"));
    s->load_ms = (hl_mono_us() - t0) / 1000;
    s->loaded = rows;
    s->resync_since = s->snapshot_at - EVENT_MARGIN_MS;
    hl_info("index built: %zu open tickets, %zu running deadlines in %" PRId64 " ms (%zu KiB)", rows,
            hl_dlindex_count(s->ix), s->load_ms, hl_dlindex_memory(s->ix) / 1024);
    return 0;
}

/* Read some tickets again (ids as a PostgreSQL array literal). */
static int reread(sla_t *s, const char *ids)
{
    const char *p[] = {ids};
    PGresult *r = PQexecParams(s->pg, "SELECT " HL_SQL_TICKET_COLS " FROM tickets WHERE id = ANY($1::bigint[])", 1,
                               NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        pg_lost(s, "reading tickets");
        return HL_EIO;
    }
    apply_result(s, r);
    PQclear(r);
    return 0;
}

/* Tickets with events since the last pass: read them again. */
static void resync(sla_t *s)
{
    if (!pg_ok(s)) return;
    int64_t now = hl_now_ms();
    char since[HL_ISO8601_LEN];
    hl_iso8601(s->resync_since, 0, since);
    const char *p[] = {since};
    PGresult *r = PQexecParams(s->pg,
                               "SELECT '{' || coalesce(string_agg(DISTINCT ticket_id::text, ','), '') || '}', "
                               "count(DISTINCT ticket_id) FROM ticket_events WHERE at >= $1",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        pg_lost(s, "finding changed tickets");
        return;
    }
    long n = atol(PQgetvalue(r, 0, 1));
    if (n > 0 && reread(s, PQgetvalue(r, 0, 0)) != 0) {
        PQclear(r);
        return;
    }
    PQclear(r);
    s->resynced += (uint64_t)n;
    s->resync_since = now - EVENT_MARGIN_MS;
}

static void want_refresh(sla_t *s, int64_t id)
{
    for (size_t i = 0; i < s->nrefresh; i++)
        if (s->refresh[i] == id) return;
    if (s->nrefresh == s->caprefresh) {
        s->caprefresh = s->caprefresh ? s->caprefresh * 2 : 64;
        s->refresh = hl_realloc(s->refresh, s->caprefresh * sizeof(int64_t));
    }
    s->refresh[s->nrefresh++] = id;
}

static void do_refresh(sla_t *s)
{
    if (!s->nrefresh || !pg_ok(s)) return;
    hl_buf_t b = HL_BUF_INIT;
    hl_buf_putc(&b, '{');
    for (size_t i = 0; i < s->nrefresh; i++) {
        if (i) hl_buf_putc(&b, ',');
        hl_buf_put_i64(&b, s->refresh[i]);
    }
    hl_buf_putc(&b, '}');
    if (reread(s, b.data) == 0) {
        /* Tickets not found any more have no deadlines. */
        for (size_t i = 0; i < s->nrefresh; i++)
            for (int c = 0; c < HL_NCLOCKS; c++) {
                hl_dl_t *d = hl_dlindex_get(s->ix, s->refresh[i], c);
                if (d && !d->hpos && !(d->flags & F_INFLIGHT)) hl_dlindex_remove(s->ix, d);
            }
        s->nrefresh = 0;
    }
    hl_buf_free(&b);
}

/* ------------------------------------------------------------ events */

static int notice_stage(const Hotline__Event *e, hl_clock_t *clock, int64_t *due)
{
    const char *n = NULL, *c = NULL, *dd = NULL, *lvl = NULL;
    for (size_t i = 0; i < e->n_payload; i++) {
        const char *k = e->payload[i]->key, *v = e->payload[i]->value;
        if (!strcmp(k, "notice")) n = v;
        else if (!strcmp(k, "clock")) c = v;
        else if (!strcmp(k, "due")) dd = v;
        else if (!strcmp(k, "level")) lvl = v;
    }
    if (!n || !c || !dd || hl_clock_parse(c, clock) != 0) return 0;
    *due = strtoll(dd, NULL, 10);
    for (int st = HL_NOTICE_WARNING; st <= HL_NOTICE_OVERDUE; st++)
        if (!strcmp(n, hl_notice_name(st))) return st;
    if (!strcmp(n, hl_notice_name(HL_NOTICE_SUPERVISION)) && lvl) {
        long l = strtol(lvl, NULL, 10);
        if (l >= 1 && l <= 9) return HL_NOTICE_OVERDUE + (int)l;
    }
    return 0;
}

static void on_event(sla_t *s, const Hotline__Event *e)
{
    int64_t id, day;
    if (hl_ticket_no_parse(e->ticket, &id, &day) != 0) return;
    s->events++;
    if (e->at < s->snapshot_at - EVENT_MARGIN_MS) return; /* the snapshot has it */
    if (!e->deadlines || !e->starts) {
        want_refresh(s, id); /* an older router: read the ticket instead */
        return;
    }
    if (!strcmp(e->kind, "notify")) {
        hl_clock_t clock;
        int64_t due;
        int stage = notice_stage(e, &clock, &due);
        hl_dl_t *d = stage ? hl_dlindex_get(s->ix, id, (int)clock) : NULL;
        if (d && d->due == due && stage > d->sent) {
            d->sent = (uint8_t)stage;
            schedule(s, d);
        }
        return;
    }
    const int64_t due[HL_NCLOCKS] = {e->deadlines->sign, e->deadlines->contact, e->deadlines->reply,
                                     e->deadlines->callback};
    const int64_t start[HL_NCLOCKS] = {e->starts->sign, e->starts->contact, e->starts->reply, e->starts->callback};
    kind_t k = {e->type, e->urgency, e->region};
    for (int c = 0; c < HL_NCLOCKS; c++) {
        if (start[c] && due[c])
            upsert(s, id, (int32_t)day, (uint32_t)e->version, (hl_clock_t)c, due[c], start[c], -1, &k);
        else
            stop_clock(s, id, (uint32_t)e->version, (hl_clock_t)c);
    }
}

static void drain_events(sla_t *s)
{
    for (int i = 0; i < 10000; i++) {
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        if (zmq_msg_recv(&topic, s->sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            return;
        }
        zmq_msg_close(&topic);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&body, s->sub, 0) < 0) {
            zmq_msg_close(&body);
            return;
        }
        hl_envelope_t *env = NULL;
        char err[HL_ERR_LEN];
        if (hl_envelope_unpack(zmq_msg_data(&body), zmq_msg_size(&body), 1 << 24, &env, NULL, err) == 0 &&
            env->body_case == HOTLINE__ENVELOPE__BODY_EVENT)
            on_event(s, env->event);
        hl_envelope_free(&env);
        zmq_msg_close(&body);
    }
}

/* ------------------------------------------------------------ notices */

static flight_t *free_flight(sla_t *s, int *idx)
{
    for (int i = 0; i < s->window; i++)
        if (!s->flights[i].rid) {
            *idx = i;
            return &s->flights[i];
        }
    return NULL;
}

/* Send the highest stage reached of an entry due now. */
static bool send_notice(sla_t *s, hl_dl_t *d, int64_t now)
{
    int stage = hl_sla_stage_reached(&s->plan, s->cals[d->cal], span_of(d), d->start, d->due, now);
    if (stage <= d->sent) {
        schedule(s, d); /* not yet (a rounding edge) */
        return true;
    }
    int idx;
    flight_t *f = free_flight(s, &idx);
    if (!f) return false;
    char ticket[HL_TICKET_NO_LEN], due[24], level[12], key[96];
    hl_ticket_no(ticket, d->id, hl_day_start(d->day, (int)s->conf.utc_offset_min),
                 (int)s->conf.utc_offset_min);
    snprintf(due, sizeof due, "%" PRId64, d->due);
    int notice = stage > HL_NOTICE_OVERDUE ? HL_NOTICE_SUPERVISION : stage;
    snprintf(level, sizeof level, "%d", stage > HL_NOTICE_OVERDUE ? stage - HL_NOTICE_OVERDUE : 0);
    snprintf(key, sizeof key, "sla-%" PRId64 "-%s-%" PRId64 "-%d", d->id, hl_clock_name(d->clock), d->due, stage);
    Hotline__Action__PayloadEntry pe[4];
    Hotline__Action__PayloadEntry *pp[4];
    const char *keys[4] = {"notice", "clock", "due", "level"};
    const char *vals[4] = {hl_notice_name(notice), hl_clock_name(d->clock), due, level};
    size_t np = notice == HL_NOTICE_SUPERVISION ? 4 : 3;
    for (size_t i = 0; i < np; i++) {
        hotline__action__payload_entry__init(&pe[i]);
        pe[i].key = (char *)keys[i];
        pe[i].value = (char *)vals[i];
        pp[i] = &pe[i];
    }
    Hotline__Actor who = HOTLINE__ACTOR__INIT;
    who.role = "system";
    who.id = s->name;
    Hotline__Action a = HOTLINE__ACTION__INIT;
    a.ticket = ticket;
    a.actor = &who;
    a.kind = HOTLINE__ACTION_KIND__ACTION_NOTIFY;
    a.idempotency_key = key;
    a.n_payload = np;
    a.payload = pp;
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    env.schema = HL_SCHEMA_VERSION;
    env.request_id = (++s->rid_seq << 12) | (uint64_t)idx;
    env.body_case = HOTLINE__ENVELOPE__BODY_ACTION;
    env.action = &a;
    hl_buf_reset(&s->buf);
    hl_envelope_pack(&env, &s->buf);
    if (zmq_send(s->dealer, s->buf.data, s->buf.len, ZMQ_DONTWAIT) < 0) return false;
    *f = (flight_t){env.request_id, d->id, d->due, hl_mono_us(), d->clock, (uint8_t)stage};
    s->nflight++;
    d->flags |= F_INFLIGHT;
    hl_dlindex_unschedule(s->ix, d);
    return true;
}

static void fire(sla_t *s)
{
    int64_t now = hl_now_ms(), at;
    hl_dl_t *d;
    while (s->nflight < s->window && (d = hl_dlindex_first(s->ix, &at)) != NULL && at <= now) {
        if (!send_notice(s, d, now)) break;
    }
}

static void retry_later(sla_t *s, hl_dl_t *d)
{
    d->flags &= (uint8_t)~F_INFLIGHT;
    hl_dlindex_schedule(s->ix, d, hl_now_ms() + s->conf.sla_retry_ms);
}

static void on_answer(sla_t *s, const Hotline__Ack *ack, uint64_t rid)
{
    int idx = (int)(rid & 0xFFF);
    if (idx >= s->window || s->flights[idx].rid != rid) return; /* a late answer */
    flight_t f = s->flights[idx];
    s->flights[idx].rid = 0;
    s->nflight--;
    hl_dl_t *d = hl_dlindex_get(s->ix, f.id, f.clock);
    if (d && d->due != f.due) d = NULL; /* the deadline moved meanwhile */
    if (d) d->flags &= (uint8_t)~F_INFLIGHT;
    switch (ack->status) {
    case HOTLINE__STATUS__STATUS_OK:
        s->sent[f.stage < 16 ? f.stage : 15]++;
        if (d) {
            if (f.stage > d->sent) d->sent = f.stage;
            schedule(s, d);
        }
        break;
    case HOTLINE__STATUS__STATUS_CONFLICT:
        /* The deadline is not in force any more: read the ticket again. */
        s->stale++;
        want_refresh(s, f.id);
        if (d) retry_later(s, d);
        break;
    case HOTLINE__STATUS__STATUS_TRY_LATER:
    case HOTLINE__STATUS__STATUS_INTERNAL:
        s->retried++;
        if (d) retry_later(s, d);
        break;
    default:
        s->refused++;
        hl_error("notice on ticket %s refused: %s", ack->ticket, ack->message);
        if (d) {
            if (ack->status == HOTLINE__STATUS__STATUS_NOT_FOUND) hl_dlindex_remove(s->ix, d);
            else retry_later(s, d);
        }
    }
}

static void drain_answers(sla_t *s)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s->dealer, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        hl_envelope_t *env = NULL;
        char err[HL_ERR_LEN];
        if (hl_envelope_unpack(zmq_msg_data(&m), zmq_msg_size(&m), 1 << 24, &env, NULL, err) == 0 &&
            env->body_case == HOTLINE__ENVELOPE__BODY_ACK)
            on_answer(s, env->ack, env->request_id);
        hl_envelope_free(&env);
        zmq_msg_close(&m);
    }
}

static void expire_flights(sla_t *s)
{
    int64_t limit = hl_mono_us() - s->conf.sla_answer_timeout_ms * 1000;
    for (int i = 0; i < s->window; i++) {
        flight_t *f = &s->flights[i];
        if (!f->rid || f->sent_us > limit) continue;
        f->rid = 0;
        s->nflight--;
        s->retried++;
        hl_dl_t *d = hl_dlindex_get(s->ix, f->id, f->clock);
        if (d && d->due == f->due) retry_later(s, d);
    }
}

/* ------------------------------------------------------------ figures */

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static double cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void stats(sla_t *s, FILE *out)
{
    int64_t at = 0;
    hl_dl_t *d = hl_dlindex_first(s->ix, &at);
    uint64_t sup = 0;
    for (int i = HL_NOTICE_OVERDUE + 1; i < 16; i++) sup += s->sent[i];
    char line[512];
    snprintf(line, sizeof line,
             "deadlines=%zu index_kib=%zu rss_kib=%ld cpu_s=%.2f load_ms=%" PRId64 " loaded=%" PRIu64
             " events=%" PRIu64 " warnings=%" PRIu64 " reminders=%" PRIu64 " overdue=%" PRIu64
             " supervision=%" PRIu64 " stale=%" PRIu64 " retried=%" PRIu64 " refused=%" PRIu64
             " in_flight=%d next_in_ms=%" PRId64,
             hl_dlindex_count(s->ix), hl_dlindex_memory(s->ix) / 1024, rss_kib(), cpu_s(), s->load_ms, s->loaded,
             s->events, s->sent[HL_NOTICE_WARNING], s->sent[HL_NOTICE_REMINDER], s->sent[HL_NOTICE_OVERDUE], sup,
             s->stale, s->retried, s->refused, s->nflight, d ? at - hl_now_ms() : -1);
    if (out) {
        for (char *p = line; *p; p++)
            if (*p == ' ') *p = '\n';
        fprintf(out, "%s\n", line);
    } else {
        hl_info("%s", line);
    }
}

typedef struct {
    sla_t *s;
    FILE *out;
} dump_t;

static void dump_one(hl_dl_t *d, int64_t at, void *arg)
{
    dump_t *x = arg;
    char ticket[HL_TICKET_NO_LEN], due[HL_ISO8601_LEN], when[HL_ISO8601_LEN];
    int off = (int)x->s->conf.utc_offset_min;
    hl_ticket_no(ticket, d->id, hl_day_start(d->day, off), off);
    int next = d->sent + 1 <= hl_sla_last_stage(&x->s->plan) ? d->sent + 1 : 0;
    fprintf(x->out, "%s %s due=%s sent=%d next=%d at=%s at_ms=%" PRId64 " span=%d\n", ticket, hl_clock_name(d->clock),
            hl_iso8601(d->due, off, due), d->sent, next, at == INT64_MAX ? "-" : hl_iso8601(at, off, when),
            at == INT64_MAX ? 0 : at, (int)span_of(d));
}

/* ------------------------------------------------------------ main */

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: hotline-sla [options]\n"
            "The deadline watcher: sends each running deadline's notices to the router, each at\n"
            "most once: warning (yellow) and reminder (催办) at shares of its time, overdue (red),\n"
            "then supervision (督办) levels; for sign-in, first contact, reply and callback.\n"
            "Settings: [sla] of the settings file (hotline.conf.example explains each).\n"
            "\n"
            "  -c, --config FILE    settings file\n"
            "  -s, --set S.K=V      override one setting\n"
            "      --once           build the index, send what is due now, wait for the answers, exit\n"
            "      --dump FILE      with --once: then write the schedule (one line per deadline)\n"
            "      --stats FILE     at exit: write the figures (key=value lines)\n"
            "  -h, --help           this text\n"
            "\n"
            "Signals: SIGHUP rebuilds the index from PostgreSQL; SIGTERM/SIGINT stop.\n"
            "Exit status: 0 stopped cleanly, 1 PostgreSQL unusable at start (or, with --once,\n"
            "notices unanswered), 2 bad usage.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {"once", no_argument, NULL, 'o'},         {"dump", required_argument, NULL, 'd'},
        {"stats", required_argument, NULL, 'S'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *dump = NULL, *statsf = NULL;
    bool once = false;
    char **sets = hl_calloc((size_t)argc + 1, sizeof(char *));
    int nsets = 0, opt, x = 2;
    sla_t s = {0};
    while ((opt = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 's': sets[nsets++] = optarg; break;
        case 'o': once = true; break;
        case 'd': dump = optarg; break;
        case 'S': statsf = optarg; break;
        case 'h': usage(stdout); hl_free(sets); return 0;
        default: usage(stderr); hl_free(sets); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hotline-sla: unexpected argument '%s'\n", argv[optind]);
        hl_free(sets);
        return 2;
    }
    char err[HL_ERR_LEN];
    if (hl_conf_load_all(&s.conf, config, environ, sets, nsets, err) != 0) {
        fprintf(stderr, "hotline-sla: %s\n", err);
        hl_conf_free(&s.conf);
        hl_free(sets);
        return 2;
    }
    hl_free(sets);
    if (s.conf.sla_remind_share < s.conf.sla_warn_share) {
        fprintf(stderr, "hotline-sla: sla.remind_share must not be below sla.warn_share\n");
        hl_conf_free(&s.conf);
        return 2;
    }
    hl_log_init("sla");
    if (hl_log_parse_level(s.conf.log_level, &hl_log_threshold) != 0) {
        fprintf(stderr, "hotline-sla: bad log.level '%s'\n", s.conf.log_level);
        hl_conf_free(&s.conf);
        return 2;
    }
    s.plan = (hl_slaplan_t){s.conf.sla_warn_share, s.conf.sla_remind_share, (int)s.conf.sla_max_level,
                            (int)s.conf.sla_escalate_after_days, s.conf.sla_escalate_after_ms,
                            (int)s.conf.utc_offset_min,
                            strcmp(s.conf.day_count, "same_day") == 0 ? HL_COUNT_SAME_DAY : HL_COUNT_NEXT_DAY};
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(s.name, sizeof s.name, "hotline-sla@%s", host);
    s.window = (int)s.conf.sla_window;
    s.flights = hl_calloc((size_t)s.window, sizeof(flight_t));
    s.ix = hl_dlindex_new();
    s.zctx = zmq_ctx_new();
    s.sub = zmq_socket(s.zctx, ZMQ_SUB);
    s.dealer = zmq_socket(s.zctx, ZMQ_DEALER);
    int linger = 0, hwm = (int)s.conf.zmq_hwm;
    zmq_setsockopt(s.sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s.dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s.sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s.sub, ZMQ_SUBSCRIBE, "ticket.", 7);
    if (zmq_connect(s.sub, s.conf.zmq_events) != 0 || zmq_connect(s.dealer, s.conf.zmq_intake) != 0) {
        hl_error("cannot connect to the router (%s, %s): %s", s.conf.zmq_intake, s.conf.zmq_events,
                 zmq_strerror(errno));
        x = 2;
        goto done;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    /* Subscribed first, so nothing between the snapshot and now is missed. */
    if (full_load(&s) != 0) {
        hl_error("cannot build the index from PostgreSQL");
        x = 1;
        goto done;
    }
    hl_info("watching %zu deadlines; warning at %.0f%%, reminder at %.0f%%, %d supervision level(s)",
            hl_dlindex_count(s.ix), s.plan.warn_share * 100, s.plan.remind_share * 100, s.plan.max_level);
    int64_t now = hl_now_ms();
    s.next_resync = now + s.conf.sla_resync_ms;
    s.next_stats = now + s.conf.sla_stats_ms;
    s.next_refresh = now + 1000;
    int64_t once_until = hl_mono_us() + s.conf.sla_answer_timeout_ms * 1000;
    x = 0;
    while (!stopping) {
        if (hup || s.reload) {
            hup = 0;
            s.reload = false;
            hl_info("rebuilding the index");
            if (full_load(&s) != 0) s.reload = true;
        }
        fire(&s);
        if (once) {
            int64_t at;
            hl_dl_t *d = hl_dlindex_first(s.ix, &at);
            bool due_now = d && at <= hl_now_ms();
            if (s.nflight == 0 && !due_now) break;
            if (hl_mono_us() > once_until) {
                hl_error("%d notice(s) unanswered", s.nflight);
                x = 1;
                break;
            }
        }
        now = hl_now_ms();
        int64_t wait = 1000, at;
        if (hl_dlindex_first(s.ix, &at) && s.nflight < s.window) wait = at - now < wait ? at - now : wait;
        if (wait < 0) wait = 0;
        zmq_pollitem_t items[3] = {{s.sub, 0, ZMQ_POLLIN, 0}, {s.dealer, 0, ZMQ_POLLIN, 0}, {NULL, -1, ZMQ_POLLIN, 0}};
        int n = 2;
        if (s.pg && PQstatus(s.pg) == CONNECTION_OK) items[n++].fd = PQsocket(s.pg);
        if (zmq_poll(items, n, (long)wait) < 0 && errno != EINTR) break;
        drain_events(&s);
        drain_answers(&s);
        if (n == 3 && (items[2].revents & ZMQ_POLLIN) && !PQconsumeInput(s.pg)) {
            pg_lost(&s, "listening");
        } else if (n == 3) {
            /* Every time, not only when the socket was readable: a notice
             * that came in during a refresh's or resync's queries is
             * already in libpq's queue, and nothing would wake us for it. */
            PGnotify *nt;
            while ((nt = PQnotifies(s.pg)) != NULL) {
                s.reload = true; /* calendars or policy changed */
                PQfreemem(nt);
            }
        }
        now = hl_now_ms();
        expire_flights(&s);
        if (now >= s.next_refresh) {
            do_refresh(&s);
            s.next_refresh = now + 1000;
        }
        if (now >= s.next_resync) {
            resync(&s);
            s.next_resync = now + s.conf.sla_resync_ms;
        }
        if (now >= s.next_stats) {
            stats(&s, NULL);
            s.next_stats = now + s.conf.sla_stats_ms;
        }
    }
    stats(&s, NULL);
    if (dump) {
        FILE *f = fopen(dump, "w");
        if (f) {
            dump_t dd = {&s, f};
            hl_dlindex_each(s.ix, dump_one, &dd);
            fclose(f);
        } else {
            hl_error("cannot write %s: %s", dump, strerror(errno));
        }
    }
    if (statsf) {
        FILE *f = fopen(statsf, "w");
        if (f) {
            stats(&s, f);
            fclose(f);
        }
    }
    hl_info("stopped");
done:
    if (s.sub) zmq_close(s.sub);
    if (s.dealer) zmq_close(s.dealer);
    if (s.zctx) zmq_ctx_term(s.zctx);
    if (s.pg) PQfinish(s.pg);
    hl_refdata_destroy(&s.rd);
    hl_dlindex_destroy(&s.ix);
    hl_free(s.flights);
    hl_free(s.refresh);
    hl_buf_free(&s.buf);
    hl_conf_free(&s.conf);
    return x;
}
