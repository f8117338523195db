/* test_lifecycle_bus.c - the ticket lifecycle through the bus, against a real
 * router, PostgreSQL and Redis (run by lifecycle.sh, which starts them with
 * router.min_confidence = 1 so every new ticket waits for a dispatcher).
 *
 * Every allowed transition is driven through Action envelopes; in every
 * state reached, every action the state does not allow is refused with a
 * conflict that names the state and lists what it allows (checked against
 * this file's own reading of DOMAIN.md, not the router's table); races,
 * idempotency, guards, queue entries, deadline notices, masking and the
 * recomputation of deadlines from the events are checked on the stores.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <zmq.h>

#include "hotline/buf.h"
#include "hotline/calendar.h"
#include "hotline/client.h"
#include "hotline/clock.h"
#include "hotline/envelope.h"
#include "hotline/ticket.h"

#define A(x) HOTLINE__ACTION_KIND__ACTION_##x
#define S(x) HOTLINE__STATE__STATE_##x
#define ST(x) HOTLINE__STATUS__STATUS_##x
#define HOUR 3600000LL
#define DAY (24 * HOUR)

static const char *endpoint;
static void *zctx, *intake_sock;
static PGconn *pg;
static redisContext *rd;
static hl_calendar_t *cal;
static int key_counter;

/* ------------------------------------------------------------ stores */

/* The first value of a query, as text (static buffer). */
static const char *sql(const char *fmt, ...)
{
    static char out[4096];
    char q[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(pg, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("SQL failed: %s\n%s", q, PQerrorMessage(pg));
    snprintf(out, sizeof out, "%s", PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return out;
}

static long long sql_ll(const char *fmt, const char *ticket)
{
    return atoll(sql(fmt, ticket));
}

/* A field of the newest entry of a unit's stream ("" if none). */
static const char *last_entry(const char *queue, const char *field)
{
    static char out[128];
    out[0] = '\0';
    redisReply *r = redisCommand(rd, "XREVRANGE hl:q:%s + - COUNT 1", queue);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        redisReply *f = r->element[0]->element[1];
        for (size_t i = 0; i + 1 < f->elements; i += 2)
            if (strcmp(f->element[i]->str, field) == 0) snprintf(out, sizeof out, "%s", f->element[i + 1]->str);
    }
    if (r) freeReplyObject(r);
    return out;
}

/* ------------------------------------------------------------ the bus */

static hl_client_t *client(const char *role, const char *unit)
{
    static struct {
        char role[16], unit[32];
        hl_client_t *c;
    } cache[32];
    static int n;
    for (int i = 0; i < n; i++)
        if (!strcmp(cache[i].role, role) && !strcmp(cache[i].unit, unit ? unit : "")) return cache[i].c;
    assert_true(n < 32);
    char err[HL_ERR_LEN];
    hl_client_opts_t o = {.router = endpoint, .role = role, .unit = unit, .actor_id = "tester", .timeout_ms = 10000};
    hl_client_t *c = hl_client_new(&o, err);
    if (!c) fail_msg("client: %s", err);
    snprintf(cache[n].role, sizeof cache[n].role, "%s", role);
    snprintf(cache[n].unit, sizeof cache[n].unit, "%s", unit ? unit : "");
    cache[n].c = c;
    return cache[n++].c;
}

static hl_envelope_t *roundtrip(void *s, const Hotline__Envelope *env)
{
    hl_buf_t b = HL_BUF_INIT;
    hl_envelope_pack(env, &b);
    assert_true(zmq_send(s, b.data, b.len, 0) >= 0);
    hl_buf_free(&b);
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s, 0) < 0) fail_msg("no answer from the router");
    char err[HL_ERR_LEN];
    hl_envelope_t *ans = NULL;
    if (hl_envelope_unpack(zmq_msg_data(&m), zmq_msg_size(&m), 1 << 22, &ans, NULL, err) != 0)
        fail_msg("answer does not decode: %s", err);
    zmq_msg_close(&m);
    return ans;
}

typedef struct {
    bool anonymous, confidential;
    const char *region;
} intake_opts_t;

/* A new ticket (waiting for a dispatcher); its number into no. */
static void new_ticket_opts(char no[32], const intake_opts_t *o)
{
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    Hotline__Intake in = HOTLINE__INTAKE__INIT;
    Hotline__Requester rq = HOTLINE__REQUESTER__INIT;
    Hotline__Location loc = HOTLINE__LOCATION__INIT;
    char key[64];
    snprintf(key, sizeof key, "lc-%d-%d", (int)getpid(), ++key_counter);
    in.idempotency_key = key;
    in.channel = HOTLINE__CHANNEL__CHANNEL_PHONE;
    in.title = "楼道灯坏了";
    in.body = "我家单元楼道的灯坏了两个星期，晚上上下楼看不见，希望尽快修好。";
    in.type = HOTLINE__REQUEST_TYPE__TYPE_HELP;
    in.urgency = HOTLINE__URGENCY__URGENCY_NORMAL;
    rq.name = "王小明";
    rq.phone = "13812345678";
    rq.id_number = "110101199001011234";
    rq.anonymous = o && o->anonymous;
    rq.confidential = o && o->confidential;
    in.requester = &rq;
    loc.region = (char *)(o && o->region ? o->region : "990101001");
    loc.address = "滨江街道幸福小区3栋";
    in.location = &loc;
    env.schema = 1;
    env.request_id = (uint64_t)key_counter;
    env.body_case = HOTLINE__ENVELOPE__BODY_INTAKE;
    env.intake = &in;
    hl_envelope_t *a = roundtrip(intake_sock, &env);
    if (a->ack->status != ST(OK)) fail_msg("intake refused: %s", a->ack->message);
    assert_int_equal(a->ack->state, S(PENDING_DISPATCH));
    snprintf(no, 32, "%s", a->ack->ticket);
    hl_envelope_free(&a);
}

static void new_ticket(char no[32])
{
    new_ticket_opts(no, NULL);
}

/* Do an action: role[/unit], then key/value payload pairs ending with NULL. */
static hl_envelope_t *vact(const char *who, const char *ticket, hl_action_t kind, const char *code,
                           const char *reason, int64_t version, const char *key, va_list ap)
{
    char role[16] = "", unit[32] = "";
    const char *slash = strchr(who, '/');
    snprintf(role, sizeof role, "%.*s", slash ? (int)(slash - who) : (int)strlen(who), who);
    if (slash) snprintf(unit, sizeof unit, "%s", slash + 1);
    const char *keys[24], *values[24];
    size_t n = 0;
    for (const char *k; (k = va_arg(ap, const char *)) != NULL && n < 24; n++) {
        keys[n] = k;
        values[n] = va_arg(ap, const char *);
    }
    hl_client_act_t args = {code, reason, n, keys, values, version, key};
    hl_envelope_t *ans = NULL;
    char err[HL_ERR_LEN];
    if (hl_client_act(client(role, unit), ticket, kind, &args, &ans, err) != 0) fail_msg("act: %s", err);
    return ans;
}

static hl_envelope_t *act(const char *who, const char *ticket, hl_action_t kind, const char *code, const char *reason,
                          ...)
{
    va_list ap;
    va_start(ap, reason);
    hl_envelope_t *a = vact(who, ticket, kind, code, reason, 0, NULL, ap);
    va_end(ap);
    return a;
}

/* The action must succeed and leave the ticket in state `to`; returns the
 * new version. */
static int64_t ok_(int line, hl_state_t to, const char *who, const char *ticket, hl_action_t kind, const char *code,
                   const char *reason, ...)
{
    va_list ap;
    va_start(ap, reason);
    hl_envelope_t *a = vact(who, ticket, kind, code, reason, 0, NULL, ap);
    va_end(ap);
    if (a->ack->status != ST(OK))
        fail_msg("line %d: %s by %s refused: %s", line, hl_action_name(kind), who, a->ack->message);
    if (a->ack->state != to)
        fail_msg("line %d: %s left %s, want %s", line, hl_action_name(kind), hl_state_name(a->ack->state),
                 hl_state_name(to));
    int64_t v = a->ack->version;
    hl_envelope_free(&a);
    return v;
}
#define OK(to, ...) ok_(__LINE__, S(to), __VA_ARGS__)

/* The action must be refused with status st and a message containing needle. */
static void refused_(int line, Hotline__Status st, const char *needle, const char *who, const char *ticket,
                     hl_action_t kind, const char *code, const char *reason, ...)
{
    va_list ap;
    va_start(ap, reason);
    hl_envelope_t *a = vact(who, ticket, kind, code, reason, 0, NULL, ap);
    va_end(ap);
    if (a->ack->status != st || !strstr(a->ack->message, needle))
        fail_msg("line %d: %s by %s: status %d '%s', want %d mentioning '%s'", line, hl_action_name(kind), who,
                 a->ack->status, a->ack->message, st, needle);
    hl_envelope_free(&a);
}
#define REFUSED(st, needle, ...) refused_(__LINE__, ST(st), needle, __VA_ARGS__)

static hl_envelope_t *get(const char *who, const char *ticket, const char *reveal)
{
    char role[16] = "", unit[32] = "";
    const char *slash = strchr(who, '/');
    snprintf(role, sizeof role, "%.*s", slash ? (int)(slash - who) : (int)strlen(who), who);
    if (slash) snprintf(unit, sizeof unit, "%s", slash + 1);
    hl_envelope_t *ans = NULL;
    char err[HL_ERR_LEN];
    if (hl_client_get(client(role, unit), ticket, reveal, &ans, err) != 0) fail_msg("get: %s", err);
    return ans;
}

/* The ticket as the office sees it (the caller frees). */
static hl_envelope_t *view(const char *ticket)
{
    hl_envelope_t *a = get("office", ticket, NULL);
    if (a->ack->status != ST(OK)) fail_msg("get %s: %s", ticket, a->ack->message);
    assert_int_equal(a->ack->result->n_tickets, 1);
    return a;
}

static int64_t due_of(const char *ticket, const char *clock)
{
    return sql_ll(clock[0] == 's'   ? "SELECT coalesce((extract(epoch FROM sign_due) * 1000)::bigint, 0) FROM tickets WHERE ticket_no = '%s'"
                  : clock[0] == 'r' ? "SELECT coalesce((extract(epoch FROM reply_due) * 1000)::bigint, 0) FROM tickets WHERE ticket_no = '%s'"
                  : clock[1] == 'o' ? "SELECT coalesce((extract(epoch FROM contact_due) * 1000)::bigint, 0) FROM tickets WHERE ticket_no = '%s'"
                                    : "SELECT coalesce((extract(epoch FROM callback_due) * 1000)::bigint, 0) FROM tickets WHERE ticket_no = '%s'",
                  ticket);
}

static long long nevents(const char *ticket)
{
    return sql_ll("SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.ticket_no = '%s'",
                  ticket);
}

/* ------------------------------------------------------------ the forbidden sweep */

/* What each state allows, whoever asks (admin may do every row), in the
 * order of the lifecycle table; written from DOMAIN.md section (a). */
static const char *allows(hl_state_t s)
{
    switch (s) {
    case S(PENDING_DISPATCH): return "dispatch,withdraw,merge,transfer_emergency,not_accepted,close_direct,notify";
    case S(DISPATCHED): return "sign,return,withdraw,merge,transfer_emergency,notify";
    case S(RETURN_REQUESTED): return "approve_return,reject_return,withdraw,notify";
    case S(SIGNED): return "return,extend,contact,reply,withdraw,transfer_emergency,notify";
    case S(IN_PROGRESS): return "extend,contact,reply,withdraw,transfer_emergency,notify";
    case S(EXTENSION_REQUESTED): return "approve_extension,reject_extension,withdraw,notify";
    case S(REPLIED): return "review_accept,review_reject,withdraw";
    case S(CALLBACK): return "callback,close,reopen,withdraw,notify";
    case S(CLOSED): return "reopen,archive";
    default: return "";
    }
}

static bool listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0) return true;
        p += len + (p[len] == ',');
    }
    return false;
}

static int swept[HOTLINE__STATE__STATE_WITHDRAWN + 1];

/* Every action the ticket's state does not allow is refused: CONFLICT, the
 * state named, the allowed ones listed; nothing changes. */
static void sweep(const char *ticket)
{
    hl_envelope_t *v = view(ticket);
    hl_state_t st = v->ack->state;
    int64_t version = v->ack->version;
    hl_envelope_free(&v);
    long long before = nevents(ticket);
    const char *want = allows(st);
    for (int k = 1; k <= A(NOTIFY); k++) {
        if (listed(want, hl_action_name(k))) continue;
        hl_envelope_t *a = act("admin", ticket, k, "x", "x", NULL);
        const Hotline__Ack *ack = a->ack;
        if (ack->status != ST(CONFLICT) || !strstr(ack->message, hl_state_name(st)))
            fail_msg("%s in %s: status %d '%s', want CONFLICT naming the state", hl_action_name(k), hl_state_name(st),
                     ack->status, ack->message);
        char got[512] = "";
        for (size_t i = 0; i < ack->n_allowed; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? "," : "", ack->allowed[i]);
        if (strcmp(got, want) != 0) fail_msg("allowed in %s: '%s', want '%s'", hl_state_name(st), got, want);
        hl_envelope_free(&a);
    }
    v = view(ticket);
    assert_int_equal(v->ack->version, version);
    assert_int_equal(v->ack->state, st);
    hl_envelope_free(&v);
    assert_int_equal(nevents(ticket), before);
    swept[st]++;
}

/* ------------------------------------------------------------ deadlines */

static int64_t add_days(int64_t from, int n)
{
    return hl_limit_add(cal, from, (hl_limit_t){n, HL_LIMIT_WORKING_DAYS}, HL_COUNT_NEXT_DAY, 480, NULL);
}

/* Recompute the reply deadline from the ticket's events alone (their times,
 * kinds and payloads) with the policy (help: 10 working days) and the
 * calendar, and compare with the deadline each event recorded. */
static void replay_reply_due(const char *ticket)
{
    char q[1024];
    snprintf(q, sizeof q,
             "SELECT e.kind, (extract(epoch FROM e.at) * 1000)::bigint, "
             "coalesce((extract(epoch FROM e.reply_due) * 1000)::bigint, 0), coalesce(e.payload->>'days', '') "
             "FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.ticket_no = '%s' ORDER BY e.seq",
             ticket);
    PGresult *r = PQexec(pg, q);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int64_t due = 0;
    int asked = 0, returned = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *kind = PQgetvalue(r, i, 0);
        int64_t at = atoll(PQgetvalue(r, i, 1)), recorded = atoll(PQgetvalue(r, i, 2));
        if (i == 0) {
            assert_string_equal(kind, "intake");
            due = recorded; /* from receipt: checked against received_at below */
        } else if (!strcmp(kind, "approve_return")) {
            returned = 1;
        } else if (!strcmp(kind, "dispatch") && returned) {
            due = add_days(at, 10);
        } else if (!strcmp(kind, "extend")) {
            asked = atoi(PQgetvalue(r, i, 3));
        } else if (!strcmp(kind, "approve_extension")) {
            due = add_days(due, asked);
        } else if (!strcmp(kind, "reopen")) {
            due = add_days(at, 10);
        }
        if (recorded != due)
            fail_msg("event %d (%s): reply due %lld recorded, %lld recomputed", i + 1, kind, (long long)recorded,
                     (long long)due);
    }
    PQclear(r);
    assert_int_equal(due, due_of(ticket, "reply"));
    int64_t received = sql_ll("SELECT (extract(epoch FROM received_at) * 1000)::bigint FROM tickets WHERE ticket_no = '%s'",
                              ticket);
    /* Unless a return or reopen restarted it, the clock ran from receipt. */
    if (!returned && !sql_ll("SELECT reopen_count FROM tickets WHERE ticket_no = '%s'", ticket) &&
        !sql_ll("SELECT extension_count FROM tickets WHERE ticket_no = '%s'", ticket))
        assert_int_equal(due, add_days(received, 10));
}

/* ------------------------------------------------------------ setup */

static int setup(void **state)
{
    (void)state;
    endpoint = getenv("HL_INTAKE");
    const char *conninfo = getenv("HL_CONNINFO"), *rport = getenv("HL_REDIS_PORT");
    if (!endpoint || !conninfo || !rport) {
        fprintf(stderr, "HL_INTAKE, HL_CONNINFO and HL_REDIS_PORT must be set (run lifecycle.sh)\n");
        return -1;
    }
    zctx = zmq_ctx_new();
    intake_sock = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0, tmo = 10000;
    zmq_setsockopt(intake_sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(intake_sock, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    if (zmq_connect(intake_sock, endpoint) != 0) return -1;
    pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) return -1;
    rd = redisConnect("127.0.0.1", atoi(rport));
    if (!rd || rd->err) return -1;
    /* The national calendar, for recomputing deadlines. */
    cal = hl_calendar_new();
    PGresult *r = PQexec(pg, "SELECT (day - date '1970-01-01'), kind FROM calendar_days WHERE region = '*'");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return -1;
    for (int i = 0; i < PQntuples(r); i++)
        if (hl_calendar_set(cal, atoll(PQgetvalue(r, i, 0)),
                            strcmp(PQgetvalue(r, i, 1), "holiday") == 0 ? HL_DAY_HOLIDAY : HL_DAY_WORKDAY) != 0)
            return -1;
    PQclear(r);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    zmq_close(intake_sock);
    zmq_ctx_term(zctx);
    PQfinish(pg);
    redisFree(rd);
    hl_calendar_destroy(&cal);
    return 0;
}

/* ------------------------------------------------------------ tests */

/* Dispatch, a refused and an approved return, sign, contact, an assisting
 * reply, a refused and an approved extension, a reply sent back and
 * accepted, a bad rating and a reopen, a good rating, close, archive. */
static void test_main_path(void **state)
{
    (void)state;
    char t[32];
    new_ticket(t);
    sweep(t);
    OK(DISPATCHED, "office", t, A(DISPATCH), NULL, NULL, "unit", "JB_HOUSING", "assisting", "JB_GOV", NULL);
    assert_string_equal(last_entry("JB_HOUSING", "ticket"), t);
    assert_string_equal(last_entry("JB_HOUSING", "kind"), "ticket");
    assert_string_equal(last_entry("JB_HOUSING", "role"), "lead");
    assert_string_equal(last_entry("JB_GOV", "ticket"), t);
    assert_string_equal(last_entry("JB_GOV", "role"), "assist");
    int64_t dispatched = sql_ll("SELECT (extract(epoch FROM dispatched_at) * 1000)::bigint FROM tickets WHERE ticket_no = '%s'", t);
    assert_int_equal(due_of(t, "sign"), dispatched + 24 * HOUR);
    assert_int_equal(due_of(t, "contact"), add_days(dispatched, 1));
    sweep(t);

    /* A return needs a code and a reason; the office refuses this one. */
    REFUSED(INVALID, "reason_code", "unit/JB_HOUSING", t, A(RETURN), NULL, "不归我们管", NULL);
    OK(RETURN_REQUESTED, "unit/JB_HOUSING", t, A(RETURN), "职能不符", "路灯归城管", NULL);
    assert_string_equal(last_entry("dispatch", "ticket"), t);
    assert_string_equal(last_entry("dispatch", "kind"), "review");
    assert_string_equal(last_entry("dispatch", "event"), "return");
    sweep(t);
    REFUSED(INVALID, "needs a reason", "office", t, A(REJECT_RETURN), NULL, NULL, NULL);
    OK(DISPATCHED, "office", t, A(REJECT_RETURN), NULL, "职责清单第3条：楼道照明属物业", NULL);
    assert_string_equal(last_entry("JB_HOUSING", "kind"), "update");
    /* Returned again; approved with a new lead: the first one is excluded. */
    OK(RETURN_REQUESTED, "unit/JB_HOUSING", t, A(RETURN), "属地不符", "小区属滨江街道", NULL);
    REFUSED(INVALID, "excluded", "office", t, A(APPROVE_RETURN), NULL, NULL, "unit", "JB_HOUSING", NULL);
    OK(DISPATCHED, "office", t, A(APPROVE_RETURN), NULL, NULL, "unit", "ST_BINJIANG", "assisting", "JB_GOV", NULL);
    hl_envelope_t *v = view(t);
    const Hotline__TicketView *tv = v->ack->result->tickets[0];
    assert_string_equal(tv->unit, "ST_BINJIANG");
    assert_int_equal(tv->n_excluded_units, 1);
    assert_string_equal(tv->excluded_units[0], "JB_HOUSING");
    assert_int_equal(tv->return_count, 1);
    hl_envelope_free(&v);
    assert_string_equal(last_entry("ST_BINJIANG", "ticket"), t);
    /* The old lead can neither act nor read any more. */
    REFUSED(FORBIDDEN, "not unit JB_HOUSING's", "unit/JB_HOUSING", t, A(SIGN), NULL, NULL, NULL);
    hl_envelope_t *g = get("unit/JB_HOUSING", t, NULL);
    assert_int_equal(g->ack->status, ST(FORBIDDEN));
    hl_envelope_free(&g);

    OK(SIGNED, "unit/ST_BINJIANG", t, A(SIGN), NULL, NULL, NULL);
    sweep(t);
    REFUSED(INVALID, "method", "unit/ST_BINJIANG", t, A(CONTACT), NULL, NULL, NULL);
    OK(IN_PROGRESS, "unit/ST_BINJIANG", t, A(CONTACT), NULL, NULL, "method", "phone", "note", "已电话联系", NULL);
    sweep(t);
    /* The assisting unit's reply goes to the lead; the state stays. */
    long long ev = nevents(t);
    OK(IN_PROGRESS, "unit/JB_GOV", t, A(REPLY), "done", NULL, "text", "协办意见：已协调物业", NULL);
    assert_string_equal(last_entry("ST_BINJIANG", "kind"), "assist_reply");
    assert_int_equal(nevents(t), ev + 1);
    /* Extensions: days needed, within the cap; refused, then granted. */
    REFUSED(INVALID, "days", "unit/ST_BINJIANG", t, A(EXTEND), NULL, "需要更换线路", "days", "zero", NULL);
    REFUSED(INVALID, "at most 10", "unit/ST_BINJIANG", t, A(EXTEND), NULL, "需要更换线路", "days", "11", NULL);
    OK(EXTENSION_REQUESTED, "unit/ST_BINJIANG", t, A(EXTEND), NULL, "需要更换线路", "days", "3", NULL);
    assert_string_equal(last_entry("dispatch", "event"), "extend");
    sweep(t);
    OK(IN_PROGRESS, "office", t, A(REJECT_EXTENSION), NULL, "理由不充分", NULL);
    int64_t before = due_of(t, "reply");
    OK(EXTENSION_REQUESTED, "unit/ST_BINJIANG", t, A(EXTEND), NULL, "需要采购灯具", "days", "3", NULL);
    OK(IN_PROGRESS, "office", t, A(APPROVE_EXTENSION), NULL, NULL, NULL);
    assert_int_equal(due_of(t, "reply"), add_days(before, 3));
    REFUSED(INVALID, "1 extension", "unit/ST_BINJIANG", t, A(EXTEND), NULL, "再延", "days", "1", NULL);
    /* A reply needs a result and text; sent back once, then accepted. */
    REFUSED(INVALID, "text", "unit/ST_BINJIANG", t, A(REPLY), "resolved", NULL, NULL);
    REFUSED(INVALID, "result code", "unit/ST_BINJIANG", t, A(REPLY), NULL, NULL, "text", "已修好", NULL);
    OK(REPLIED, "unit/ST_BINJIANG", t, A(REPLY), "resolved", NULL, "text", "已更换灯具", NULL);
    assert_string_equal(last_entry("dispatch", "event"), "reply");
    sweep(t);
    OK(IN_PROGRESS, "office", t, A(REVIEW_REJECT), NULL, "答复未说明具体时间", NULL);
    OK(REPLIED, "unit/ST_BINJIANG", t, A(REPLY), "resolved", NULL, "text", "11月20日已更换灯具", NULL);
    int64_t t0 = hl_now_ms();
    OK(CALLBACK, "office", t, A(REVIEW_ACCEPT), NULL, NULL, NULL);
    assert_string_equal(last_entry("dispatch", "kind"), "callback");
    int64_t cb = due_of(t, "callback");
    assert_true(cb >= add_days(t0, 3) - 1000 && cb <= add_days(hl_now_ms(), 3));
    sweep(t);
    /* A bad rating: the office reopens (重办); the reply clock starts again. */
    REFUSED(INVALID, "resolution", "office", t, A(CALLBACK), NULL, NULL, "outcome", "rated", "resolution", "fine", NULL);
    REFUSED(INVALID, "close needs", "office", t, A(CLOSE), NULL, NULL, NULL);
    OK(CALLBACK, "office", t, A(CALLBACK), NULL, NULL, "outcome", "rated", "resolution", "unresolved", "satisfaction",
       "dissatisfied", NULL);
    OK(IN_PROGRESS, "office", t, A(REOPEN), NULL, "灯又坏了", NULL);
    assert_string_equal(last_entry("ST_BINJIANG", "event"), "reopen");
    OK(REPLIED, "unit/ST_BINJIANG", t, A(REPLY), "resolved", NULL, "text", "已彻底修复线路", NULL);
    OK(CALLBACK, "office", t, A(REVIEW_ACCEPT), NULL, NULL, NULL);
    REFUSED(INVALID, "unresolved or dissatisfied", "office", t, A(REOPEN), NULL, "再看看", NULL);
    OK(CALLBACK, "office", t, A(CALLBACK), NULL, NULL, "outcome", "rated", "resolution", "resolved", "satisfaction",
       "satisfied", NULL);
    OK(CLOSED, "office", t, A(CLOSE), NULL, NULL, NULL);
    sweep(t);
    /* Archive: 30 days after closing, admins at once; then nothing. */
    REFUSED(INVALID, "30 days", "office", t, A(ARCHIVE), NULL, NULL, NULL);
    OK(ARCHIVED, "admin", t, A(ARCHIVE), NULL, NULL, NULL);
    sweep(t);
    replay_reply_due(t);

    /* Every event has its actor and the deadlines in force. */
    assert_int_equal(sql_ll("SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id "
                            "WHERE t.ticket_no = '%s' AND (actor_role IS NULL OR actor_id IS NULL)", t), 0);
    assert_int_equal(sql_ll("SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id "
                            "WHERE t.ticket_no = '%s' AND e.kind = 'review_reject' AND e.reason = '答复未说明具体时间'", t), 1);
    assert_int_equal(sql_ll("SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id "
                            "WHERE t.ticket_no = '%s' AND e.kind = 'callback' AND e.callback_due IS NULL", t), 0);
    /* Sequence numbers run 1..n without gaps; the ticket knows the last. */
    assert_string_equal(sql("SELECT (max(seq) = count(*) AND min(seq) = 1 AND max(seq) = max(t.last_seq))::text "
                            "FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.ticket_no = '%s'", t),
                        "true");
}

/* The other ends: withdraw, merge, emergency transfer, not accepted,
 * direct close; callbacks unreachable and anonymous; reopen of a closed
 * ticket and its cap; binding after two returns; the return window. */
static void test_side_roads(void **state)
{
    (void)state;
    char t[32], p[32], c[32];
    /* Withdraw from SIGNED. */
    new_ticket(t);
    OK(DISPATCHED, "office", t, A(DISPATCH), NULL, NULL, "unit", "WATER", NULL);
    OK(SIGNED, "unit/WATER", t, A(SIGN), NULL, NULL, NULL);
    REFUSED(FORBIDDEN, "may not withdraw", "unit/WATER", t, A(WITHDRAW), NULL, "x", NULL);
    REFUSED(INVALID, "needs a reason", "agent", t, A(WITHDRAW), NULL, NULL, NULL);
    OK(WITHDRAWN, "agent", t, A(WITHDRAW), NULL, "市民来电撤回诉求", NULL);
    sweep(t);

    /* Merge: the child closes when its parent closes. */
    new_ticket(p);
    new_ticket(c);
    REFUSED(INVALID, "parent", "office", c, A(MERGE), NULL, NULL, NULL);
    REFUSED(INVALID, "itself", "office", c, A(MERGE), NULL, NULL, "parent", c, NULL);
    REFUSED(NOT_FOUND, "does not exist", "office", c, A(MERGE), NULL, NULL, "parent", "2026010199999999", NULL);
    OK(MERGED, "agent", c, A(MERGE), NULL, NULL, "parent", p, NULL);
    sweep(c);
    assert_string_equal(sql("SELECT merged_count || '/' || version FROM tickets WHERE ticket_no = '%s'", p), "1/1");
    OK(DISPATCHED, "office", p, A(DISPATCH), NULL, NULL, "unit", "WATER", NULL);
    OK(SIGNED, "unit/WATER", p, A(SIGN), NULL, NULL, NULL);
    OK(REPLIED, "unit/WATER", p, A(REPLY), "resolved", NULL, "text", "已处理", NULL);
    OK(CALLBACK, "office", p, A(REVIEW_ACCEPT), NULL, NULL, NULL);
    /* Unreachable: three attempts allow closing. */
    for (int i = 0; i < 2; i++) {
        OK(CALLBACK, "office", p, A(CALLBACK), NULL, NULL, "outcome", "unreachable", NULL);
        REFUSED(INVALID, "unreachable attempts", "office", p, A(CLOSE), NULL, NULL, NULL);
    }
    OK(CALLBACK, "office", p, A(CALLBACK), NULL, NULL, "outcome", "unreachable", NULL);
    OK(CLOSED, "office", p, A(CLOSE), NULL, NULL, NULL);
    assert_string_equal(sql("SELECT merged_count FROM tickets WHERE ticket_no = '%s'", p), "0");
    hl_envelope_t *v = view(c);
    assert_int_equal(v->ack->state, S(CLOSED));
    assert_string_equal(v->ack->result->tickets[0]->parent, p);
    hl_envelope_free(&v);
    assert_string_equal(sql("SELECT e.actor_role || '/' || e.kind FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id "
                            "WHERE t.ticket_no = '%s' ORDER BY seq DESC LIMIT 1", c),
                        "system/close");
    /* A merge into a closed ticket is refused. */
    new_ticket(c);
    REFUSED(INVALID, "merge into an open ticket", "office", c, A(MERGE), NULL, NULL, "parent", p, NULL);
    /* Reopen of a closed ticket (复核), capped at two. */
    OK(IN_PROGRESS, "supervisor", p, A(REOPEN), NULL, "复核：处理不实", NULL);
    OK(REPLIED, "unit/WATER", p, A(REPLY), "resolved", NULL, "text", "已重新处理", NULL);
    OK(CALLBACK, "office", p, A(REVIEW_ACCEPT), NULL, NULL, NULL);
    OK(CALLBACK, "office", p, A(CALLBACK), NULL, NULL, "outcome", "declined", NULL);
    OK(CLOSED, "office", p, A(CLOSE), NULL, NULL, NULL);
    OK(IN_PROGRESS, "supervisor", p, A(REOPEN), NULL, "复核：再次核查", NULL);
    OK(REPLIED, "unit/WATER", p, A(REPLY), "resolved", NULL, "text", "已核查", NULL);
    OK(CALLBACK, "office", p, A(REVIEW_ACCEPT), NULL, NULL, NULL);
    OK(CALLBACK, "office", p, A(CALLBACK), NULL, NULL, "outcome", "declined", NULL);
    OK(CLOSED, "office", p, A(CLOSE), NULL, NULL, NULL);
    REFUSED(INVALID, "reopened 2 time", "supervisor", p, A(REOPEN), NULL, "第三次", NULL);
    replay_reply_due(p);
    /* Archive after the review window. */
    sql("UPDATE tickets SET closed_at = closed_at - interval '31 days' WHERE ticket_no = '%s'", p);
    OK(ARCHIVED, "office", p, A(ARCHIVE), NULL, NULL, NULL);

    /* Anonymous: no callback; close at once. */
    intake_opts_t anon = {.anonymous = true};
    new_ticket_opts(t, &anon);
    OK(DISPATCHED, "office", t, A(DISPATCH), NULL, NULL, "unit", "GAS", NULL);
    OK(SIGNED, "unit/GAS", t, A(SIGN), NULL, NULL, NULL);
    OK(REPLIED, "unit/GAS", t, A(REPLY), "explained", NULL, "text", "已解释政策", NULL);
    OK(CALLBACK, "office", t, A(REVIEW_ACCEPT), NULL, NULL, NULL);
    REFUSED(INVALID, "anonymous", "office", t, A(CALLBACK), NULL, NULL, "outcome", "unreachable", NULL);
    OK(CLOSED, "office", t, A(CLOSE), NULL, NULL, NULL);

    /* Emergency transfer, with its linkage record. */
    new_ticket(t);
    REFUSED(INVALID, "110, 119, 120 or 122", "agent", t, A(TRANSFER_EMERGENCY), NULL, NULL, "service", "911", NULL);
    OK(TRANSFERRED_OUT, "agent", t, A(TRANSFER_EMERGENCY), NULL, "闻到浓烈煤气味", "service", "119", "note", "已三方通话", NULL);
    sweep(t);
    assert_string_equal(sql("SELECT service || '/' || note FROM emergency_linkages l JOIN tickets t ON t.id = l.ticket_id "
                            "WHERE t.ticket_no = '%s'", t),
                        "119/已三方通话");

    /* Not accepted, with a listed reason code. */
    new_ticket(t);
    REFUSED(INVALID, "litigation", "agent", t, A(NOT_ACCEPTED), "dislike", "x", NULL);
    OK(NOT_ACCEPTED, "agent", t, A(NOT_ACCEPTED), "litigation", "已进入诉讼程序，请通过法院反映", NULL);
    sweep(t);

    /* Closed at first contact. */
    new_ticket(t);
    OK(CLOSED_DIRECT, "agent", t, A(CLOSE_DIRECT), NULL, "已告知办理地点和材料", "kb_entry", "12", NULL);
    sweep(t);

    /* Two approved returns: the third dispatch binds (终审). */
    new_ticket(t);
    OK(DISPATCHED, "office", t, A(DISPATCH), NULL, NULL, "unit", "ST_WANGHU", NULL);
    OK(RETURN_REQUESTED, "unit/ST_WANGHU", t, A(RETURN), "属地不符", "不在本街道", NULL);
    OK(PENDING_DISPATCH, "office", t, A(APPROVE_RETURN), NULL, NULL, NULL);
    assert_string_equal(last_entry("dispatch", "ticket"), t);
    assert_string_equal(last_entry("dispatch", "kind"), "ticket");
    sweep(t);
    OK(DISPATCHED, "office", t, A(DISPATCH), NULL, NULL, "unit", "ST_BEIZHAN", NULL);
    OK(SIGNED, "unit/ST_BEIZHAN", t, A(SIGN), NULL, NULL, NULL);
    OK(RETURN_REQUESTED, "unit/ST_BEIZHAN", t, A(RETURN), "属地不符", "也不在本街道", NULL);
    OK(DISPATCHED, "office", t, A(APPROVE_RETURN), NULL, NULL, "unit", "ST_BINJIANG", NULL);
    v = view(t);
    assert_true(v->ack->result->tickets[0]->binding);
    assert_int_equal(v->ack->result->tickets[0]->n_excluded_units, 2);
    hl_envelope_free(&v);
    REFUSED(INVALID, "binding", "unit/ST_BINJIANG", t, A(RETURN), "属地不符", "还是不归我们", NULL);
    replay_reply_due(t);

    /* The return window: two working days from dispatch. */
    new_ticket(t);
    OK(DISPATCHED, "office", t, A(DISPATCH), NULL, NULL, "unit", "POWER", NULL);
    sql("UPDATE tickets SET dispatched_at = dispatched_at - interval '20 days' WHERE ticket_no = '%s'", t);
    REFUSED(INVALID, "return window", "unit/POWER", t, A(RETURN), "职能不符", "x", NULL);
    /* An extension after the reply deadline is refused. */
    OK(SIGNED, "unit/POWER", t, A(SIGN), NULL, NULL, NULL);
    sql("UPDATE tickets SET reply_due = now() - interval '1 hour' WHERE ticket_no = '%s'", t);
    REFUSED(INVALID, "before the reply deadline", "unit/POWER", t, A(EXTEND), NULL, "x", "days", "2", NULL);
}

/* A new ticket walked to state st (its lead unit GAS); the number into t. */
static void walk_to(char t[32], hl_state_t st)
{
    new_ticket(t);
    if (st == S(PENDING_DISPATCH)) return;
    OK(DISPATCHED, "office", t, A(DISPATCH), NULL, NULL, "unit", "GAS", NULL);
    if (st == S(DISPATCHED)) return;
    if (st == S(RETURN_REQUESTED)) {
        OK(RETURN_REQUESTED, "unit/GAS", t, A(RETURN), "职能不符", "不归燃气公司", NULL);
        return;
    }
    OK(SIGNED, "unit/GAS", t, A(SIGN), NULL, NULL, NULL);
    if (st == S(SIGNED)) return;
    if (st == S(IN_PROGRESS)) {
        OK(IN_PROGRESS, "unit/GAS", t, A(CONTACT), NULL, NULL, "method", "phone", NULL);
        return;
    }
    if (st == S(EXTENSION_REQUESTED)) {
        OK(EXTENSION_REQUESTED, "unit/GAS", t, A(EXTEND), NULL, "需要时间", "days", "2", NULL);
        return;
    }
    OK(REPLIED, "unit/GAS", t, A(REPLY), "resolved", NULL, "text", "已处理", NULL);
    if (st == S(REPLIED)) return;
    OK(CALLBACK, "office", t, A(REVIEW_ACCEPT), NULL, NULL, NULL);
    if (st == S(CALLBACK)) return;
    OK(CALLBACK, "office", t, A(CALLBACK), NULL, NULL, "outcome", "rated", "resolution", "resolved", "satisfaction",
       "satisfied", NULL);
    OK(CLOSED, "office", t, A(CLOSE), NULL, NULL, NULL);
}

/* Every (state, action) pair the lifecycle allows, each on a fresh ticket
 * walked to that state, with the state it must lead to. */
static void test_every_allowed_transition(void **state)
{
    (void)state;
    static const hl_state_t states[] = {S(PENDING_DISPATCH), S(DISPATCHED), S(RETURN_REQUESTED), S(SIGNED),
                                        S(IN_PROGRESS), S(EXTENSION_REQUESTED), S(REPLIED), S(CALLBACK),
                                        S(CLOSED)};
    int pairs = 0;
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        hl_state_t st = states[i];
        for (int k = 1; k <= A(NOTIFY); k++) {
            if (!listed(allows(st), hl_action_name(k))) continue;
            char t[32], parent[32], due[24];
            walk_to(t, st);
            /* The state it goes back to, for the decisions that return. */
            hl_state_t back = st == S(RETURN_REQUESTED) ? S(DISPATCHED) : S(SIGNED);
            switch (k) {
            case A(DISPATCH): OK(DISPATCHED, "office", t, k, NULL, NULL, "unit", "POWER", NULL); break;
            case A(SIGN): OK(SIGNED, "unit/GAS", t, k, NULL, NULL, NULL); break;
            case A(RETURN): OK(RETURN_REQUESTED, "unit/GAS", t, k, "属地不符", "不在服务范围", NULL); break;
            case A(APPROVE_RETURN): OK(PENDING_DISPATCH, "office", t, k, NULL, NULL, NULL); break;
            case A(REJECT_RETURN): ok_(__LINE__, back, "office", t, k, NULL, "属于燃气公司", NULL); break;
            case A(EXTEND): OK(EXTENSION_REQUESTED, "unit/GAS", t, k, NULL, "需要时间", "days", "1", NULL); break;
            case A(APPROVE_EXTENSION): ok_(__LINE__, back, "office", t, k, NULL, NULL, NULL); break;
            case A(REJECT_EXTENSION): ok_(__LINE__, back, "office", t, k, NULL, "不必延期", NULL); break;
            case A(CONTACT): OK(IN_PROGRESS, "unit/GAS", t, k, NULL, NULL, "method", "visit", NULL); break;
            case A(REPLY): OK(REPLIED, "unit/GAS", t, k, "resolved", NULL, "text", "已处理", NULL); break;
            case A(REVIEW_ACCEPT): OK(CALLBACK, "office", t, k, NULL, NULL, NULL); break;
            case A(REVIEW_REJECT): OK(IN_PROGRESS, "office", t, k, NULL, "答复不完整", NULL); break;
            case A(CALLBACK): OK(CALLBACK, "office", t, k, NULL, NULL, "outcome", "unreachable", NULL); break;
            case A(CLOSE):
                OK(CALLBACK, "office", t, A(CALLBACK), NULL, NULL, "outcome", "declined", NULL);
                OK(CLOSED, "office", t, k, NULL, NULL, NULL);
                break;
            case A(REOPEN):
                if (st == S(CALLBACK))
                    OK(CALLBACK, "office", t, A(CALLBACK), NULL, NULL, "outcome", "rated", "resolution", "partly",
                       "satisfaction", "dissatisfied", NULL);
                OK(IN_PROGRESS, st == S(CLOSED) ? "supervisor" : "office", t, k, NULL, "未解决", NULL);
                break;
            case A(WITHDRAW): OK(WITHDRAWN, "agent", t, k, NULL, "撤回", NULL); break;
            case A(MERGE):
                new_ticket(parent);
                OK(MERGED, "office", t, k, NULL, NULL, "parent", parent, NULL);
                break;
            case A(TRANSFER_EMERGENCY): OK(TRANSFERRED_OUT, "office", t, k, NULL, "火情", "service", "119", NULL); break;
            case A(NOT_ACCEPTED): OK(NOT_ACCEPTED, "agent", t, k, "petition", "属信访事项", NULL); break;
            case A(CLOSE_DIRECT): OK(CLOSED_DIRECT, "agent", t, k, NULL, "已当场解答", NULL); break;
            case A(ARCHIVE): OK(ARCHIVED, "admin", t, k, NULL, NULL, NULL); break;
            case A(NOTIFY): {
                const char *clock = st == S(DISPATCHED) ? "sign" : st == S(CALLBACK) ? "callback" : "reply";
                snprintf(due, sizeof due, "%lld", (long long)due_of(t, clock));
                ok_(__LINE__, st, "system", t, k, NULL, NULL, "notice", "warning", "clock", clock, "due", due, NULL);
                break;
            }
            default: fail_msg("no case for %s", hl_action_name(k));
            }
            pairs++;
        }
    }
    printf("# %d allowed (state, action) pairs driven\n", pairs);
    assert_int_equal(pairs, 44); /* the sum of allows() over these states */
}

/* Every state of the lifecycle was swept at least once. */
static void test_all_states_swept(void **state)
{
    (void)state;
    hl_state_t seen[] = {S(PENDING_DISPATCH), S(DISPATCHED), S(RETURN_REQUESTED), S(SIGNED), S(IN_PROGRESS),
                         S(EXTENSION_REQUESTED), S(REPLIED), S(CALLBACK), S(CLOSED), S(ARCHIVED), S(WITHDRAWN),
                         S(MERGED), S(TRANSFERRED_OUT), S(NOT_ACCEPTED), S(CLOSED_DIRECT)};
    for (size_t i = 0; i < sizeof seen / sizeof seen[0]; i++)
        if (!swept[seen[i]]) fail_msg("state %s was never swept", hl_state_name(seen[i]));
}

/* Deadline notices: each stage once per deadline, a stale deadline refused,
 * an extension starts the stages again. */
static void test_notices(void **state)
{
    (void)state;
    char t[32], due[24], stale[24];
    new_ticket(t);
    OK(DISPATCHED, "office", t, A(DISPATCH), NULL, NULL, "unit", "EDU", NULL);
    OK(SIGNED, "unit/EDU", t, A(SIGN), NULL, NULL, NULL);
    snprintf(due, sizeof due, "%lld", (long long)due_of(t, "reply"));
    long long ev = nevents(t);
    int64_t version = OK(SIGNED, "system", t, A(NOTIFY), NULL, NULL, "notice", "warning", "clock", "reply", "due", due, NULL);
    assert_int_equal(nevents(t), ev + 1);
    /* Once only: the same notice again writes nothing. */
    hl_envelope_t *a = act("system", t, A(NOTIFY), NULL, NULL, "notice", "warning", "clock", "reply", "due", due, NULL);
    assert_int_equal(a->ack->status, ST(OK));
    assert_string_equal(a->ack->message, "already notified");
    hl_envelope_free(&a);
    assert_int_equal(nevents(t), ev + 1);
    /* A notice is not a change: the version stays. */
    hl_envelope_t *v = view(t);
    assert_int_equal(v->ack->version, version);
    hl_envelope_free(&v);
    OK(SIGNED, "system", t, A(NOTIFY), NULL, NULL, "notice", "reminder", "clock", "reply", "due", due, NULL);
    assert_string_equal(last_entry("EDU", "kind"), "notice");
    assert_string_equal(last_entry("EDU", "ticket"), t);
    /* A lower stage after a higher one is a duplicate too. */
    a = act("system", t, A(NOTIFY), NULL, NULL, "notice", "warning", "clock", "reply", "due", due, NULL);
    assert_string_equal(a->ack->message, "already notified");
    hl_envelope_free(&a);
    OK(SIGNED, "system", t, A(NOTIFY), NULL, NULL, "notice", "supervision", "clock", "reply", "due", due, "level", "1", NULL);
    v = view(t);
    assert_int_equal(v->ack->result->tickets[0]->supervision, 1);
    hl_envelope_free(&v);
    REFUSED(INVALID, "level", "system", t, A(NOTIFY), NULL, NULL, "notice", "supervision", "clock", "reply", "due", due, NULL);
    REFUSED(INVALID, "notify needs", "system", t, A(NOTIFY), NULL, NULL, "notice", "red", "clock", "reply", "due", due, NULL);
    REFUSED(FORBIDDEN, "may not notify", "unit/EDU", t, A(NOTIFY), NULL, NULL, "notice", "warning", "clock", "reply", "due", due, NULL);
    /* The sign clock stopped at signing: its notices are refused. */
    snprintf(stale, sizeof stale, "%lld", (long long)due_of(t, "sign"));
    REFUSED(CONFLICT, "not in force", "system", t, A(NOTIFY), NULL, NULL, "notice", "warning", "clock", "sign", "due", stale, NULL);
    /* An extension moves the deadline: the old one is stale, the new one
     * gets its notices from the start. */
    OK(EXTENSION_REQUESTED, "unit/EDU", t, A(EXTEND), NULL, "需要调查", "days", "5", NULL);
    OK(SIGNED, "office", t, A(APPROVE_EXTENSION), NULL, NULL, NULL);
    REFUSED(CONFLICT, "not in force", "system", t, A(NOTIFY), NULL, NULL, "notice", "overdue", "clock", "reply", "due", due, NULL);
    snprintf(due, sizeof due, "%lld", (long long)due_of(t, "reply"));
    ev = nevents(t);
    OK(SIGNED, "system", t, A(NOTIFY), NULL, NULL, "notice", "warning", "clock", "reply", "due", due, NULL);
    assert_int_equal(nevents(t), ev + 1);
    assert_string_equal(sql("SELECT payload->>'notice' || '/' || (payload->>'clock') FROM ticket_events e JOIN tickets t "
                            "ON t.id = e.ticket_id WHERE t.ticket_no = '%s' ORDER BY seq DESC LIMIT 1", t),
                        "warning/reply");
}

/* Send one action on a raw socket without waiting. */
static void send_action(void *s, const char *ticket, hl_action_t kind, const char *unit, int64_t version,
                        const char *key, uint64_t rid)
{
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    Hotline__Action a = HOTLINE__ACTION__INIT;
    Hotline__Actor who = HOTLINE__ACTOR__INIT;
    who.role = "unit";
    who.unit = (char *)unit;
    who.id = "racer";
    a.actor = &who;
    a.ticket = (char *)ticket;
    a.kind = kind;
    a.expected_version = version;
    a.idempotency_key = (char *)key;
    env.schema = 1;
    env.request_id = rid;
    env.body_case = HOTLINE__ENVELOPE__BODY_ACTION;
    env.action = &a;
    hl_buf_t b = HL_BUF_INIT;
    hl_envelope_pack(&env, &b);
    assert_true(zmq_send(s, b.data, b.len, 0) >= 0);
    hl_buf_free(&b);
}

static Hotline__Status recv_status(void *s)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s, 0) < 0) fail_msg("no answer");
    hl_envelope_t *e = NULL;
    char err[HL_ERR_LEN];
    assert_int_equal(hl_envelope_unpack(zmq_msg_data(&m), zmq_msg_size(&m), 1 << 22, &e, NULL, err), 0);
    zmq_msg_close(&m);
    Hotline__Status st = e->ack->status;
    hl_envelope_free(&e);
    return st;
}

/* Two actors on the same ticket at once: exactly one wins. */
static void test_races(void **state)
{
    (void)state;
    enum { N = 40 };
    char t[N][32];
    int64_t version[N];
    for (int i = 0; i < N; i++) {
        new_ticket(t[i]);
        version[i] = OK(DISPATCHED, "office", t[i], A(DISPATCH), NULL, NULL, "unit", "TRANSIT", NULL);
    }
    void *s1 = zmq_socket(zctx, ZMQ_DEALER), *s2 = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0, tmo = 10000;
    zmq_setsockopt(s1, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s2, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s1, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(s2, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    assert_int_equal(zmq_connect(s1, endpoint), 0);
    assert_int_equal(zmq_connect(s2, endpoint), 0);
    /* Half the tickets: both sign with the version they read. The other
     * half: both sign without naming a version (the state decides). */
    for (int i = 0; i < N; i++) {
        char k1[64], k2[64];
        snprintf(k1, sizeof k1, "race-a-%d-%d", (int)getpid(), i);
        snprintf(k2, sizeof k2, "race-b-%d-%d", (int)getpid(), i);
        if (i % 2 == 0) {
            send_action(s1, t[i], A(SIGN), "TRANSIT", version[i], k1, (uint64_t)i);
            send_action(s2, t[i], A(SIGN), "TRANSIT", version[i], k2, (uint64_t)i);
        } else {
            send_action(s1, t[i], A(SIGN), "TRANSIT", 0, k1, (uint64_t)i);
            send_action(s2, t[i], A(SIGN), "TRANSIT", 0, k2, (uint64_t)i);
        }
    }
    int ok = 0, conflict = 0, other = 0;
    for (int i = 0; i < 2 * N; i++) {
        Hotline__Status st = recv_status(i % 2 ? s2 : s1);
        if (st == ST(OK)) ok++;
        else if (st == ST(CONFLICT)) conflict++;
        else other++;
    }
    zmq_close(s1);
    zmq_close(s2);
    assert_int_equal(other, 0);
    assert_int_equal(ok, N);
    assert_int_equal(conflict, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(sql_ll("SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id "
                                "WHERE t.ticket_no = '%s' AND e.kind = 'sign'", t[i]), 1);
        assert_string_equal(sql("SELECT state FROM tickets WHERE ticket_no = '%s'", t[i]), "SIGNED");
    }
    /* A stale version is a conflict naming the versions. */
    char old[24];
    snprintf(old, sizeof old, "%lld", (long long)version[0]);
    hl_client_act_t args = {NULL, NULL, 0, NULL, NULL, version[0], NULL};
    hl_envelope_t *ans = NULL;
    char err[HL_ERR_LEN];
    assert_int_equal(hl_client_act(client("unit", "TRANSIT"), t[0], A(CONTACT), &args, &ans, err), 0);
    assert_int_equal(ans->ack->status, ST(CONFLICT));
    assert_non_null(strstr(ans->ack->message, "read it again"));
    hl_envelope_free(&ans);
}

/* The same key twice is done once; a refused action's key can be used again. */
static void test_idempotency(void **state)
{
    (void)state;
    char t[32], key[64];
    new_ticket(t);
    OK(DISPATCHED, "office", t, A(DISPATCH), NULL, NULL, "unit", "HEALTH", NULL);
    snprintf(key, sizeof key, "idem-%d", (int)getpid());
    const char *k[] = {"method"}, *v[] = {"phone"};
    hl_client_act_t args = {NULL, NULL, 0, NULL, NULL, 0, key};
    hl_envelope_t *a = NULL;
    char err[HL_ERR_LEN];
    long long ev = nevents(t);
    /* Refused first (contact before sign): the key is not spent. */
    hl_client_act_t cargs = {NULL, NULL, 1, k, v, 0, key};
    assert_int_equal(hl_client_act(client("unit", "HEALTH"), t, A(CONTACT), &cargs, &a, err), 0);
    assert_int_equal(a->ack->status, ST(CONFLICT));
    hl_envelope_free(&a);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(hl_client_act(client("unit", "HEALTH"), t, A(SIGN), &args, &a, err), 0);
        assert_int_equal(a->ack->status, ST(OK));
        assert_int_equal(a->ack->replayed, i > 0);
        assert_int_equal(a->ack->state, S(SIGNED));
        hl_envelope_free(&a);
    }
    assert_int_equal(nevents(t), ev + 1);
}

/* Bad input: clear errors, nothing stored changes. */
static void test_bad_input(void **state)
{
    (void)state;
    char t[32], t2[32];
    new_ticket(t);
    new_ticket(t2);
    OK(DISPATCHED, "office", t, A(DISPATCH), NULL, NULL, "unit", "MARKET", NULL);
    char digest[256];
    snprintf(digest, sizeof digest, "%s", sql("SELECT (SELECT sum(hashtext(t::text)) FROM tickets t) || '/' || "
                                              "(SELECT count(*) FROM ticket_events)"));
    static char big[40000];
    memset(big, 'x', sizeof big - 1);
    REFUSED(NOT_FOUND, "does not exist", "unit/MARKET", "2026010199999999", A(SIGN), NULL, NULL, NULL);
    REFUSED(FORBIDDEN, "not unit GAS's", "unit/GAS", t, A(SIGN), NULL, NULL, NULL);
    REFUSED(FORBIDDEN, "may not dispatch", "unit/MARKET", t, A(DISPATCH), NULL, NULL, NULL);
    REFUSED(FORBIDDEN, "may not sign", "agent", t, A(SIGN), NULL, NULL, NULL);
    REFUSED(INVALID, "reason_code", "unit/MARKET", t, A(RETURN), NULL, NULL, NULL);
    REFUSED(TOO_LARGE, "reason", "unit/MARKET", t, A(RETURN), "职能不符", big, NULL);
    REFUSED(TOO_LARGE, "too long", "unit/MARKET", t, A(REPLY), "resolved", NULL, "text", big, NULL);
    REFUSED(NOT_FOUND, "unit NOPE", "office", t2, A(DISPATCH), NULL, NULL, "unit", "NOPE", NULL);
    REFUSED(INVALID, "bad assisting", "office", t2, A(DISPATCH), NULL, NULL, "unit", "GAS", "assisting", ",,", NULL);
    REFUSED(NOT_FOUND, "assisting unit NOPE", "office", t2, A(DISPATCH), NULL, NULL, "unit", "GAS", "assisting", "NOPE", NULL);
    REFUSED(CONFLICT, "DISPATCHED", "unit/MARKET", t, A(REPLY), "resolved", NULL, "text", "x", NULL);
    REFUSED(TOO_LARGE, "16 payload", "unit/MARKET", t, A(SIGN), NULL, NULL, "a", "1", "b", "1", "c", "1", "d", "1",
            "e", "1", "f", "1", "g", "1", "h", "1", "i", "1", "j", "1", "k", "1", "l", "1", "m", "1", "n", "1", "o",
            "1", "p", "1", "q", "1", NULL);
    /* Invalid UTF-8 in a reason never reaches the router's logic. */
    REFUSED(INVALID, "UTF-8", "unit/MARKET", t, A(RETURN), "职能不符", "\xff\xfe bad", NULL);
    /* Reading: a unit lists only its own tickets; unknown states are refused. */
    hl_envelope_t *ans = NULL;
    char err[HL_ERR_LEN];
    assert_int_equal(hl_client_list(client("unit", "MARKET"), "GAS", "", 10, 0, &ans, err), 0);
    assert_int_equal(ans->ack->status, ST(FORBIDDEN));
    hl_envelope_free(&ans);
    assert_int_equal(hl_client_list(client("unit", "MARKET"), "MARKET", "BOGUS", 10, 0, &ans, err), 0);
    assert_int_equal(ans->ack->status, ST(INVALID));
    hl_envelope_free(&ans);
    ans = get("unit/MARKET", "not-a-ticket", NULL);
    assert_int_equal(ans->ack->status, ST(INVALID));
    hl_envelope_free(&ans);
    /* Nothing stored changed. */
    assert_string_equal(sql("SELECT (SELECT sum(hashtext(t::text)) FROM tickets t) || '/' || "
                            "(SELECT count(*) FROM ticket_events)"),
                        digest);
    assert_string_equal(sql("SELECT state FROM tickets WHERE ticket_no = '%s'", t), "DISPATCHED");
}

/* Reads: masking, reveals logged, confidential tickets, lists. */
static void test_queries(void **state)
{
    (void)state;
    char t[32], c[32];
    new_ticket(t);
    OK(DISPATCHED, "office", t, A(DISPATCH), NULL, NULL, "unit", "HRSS", "assisting", "EDU", NULL);
    hl_envelope_t *a = get("unit/HRSS", t, NULL);
    assert_int_equal(a->ack->status, ST(OK));
    const Hotline__Requester *rq = a->ack->result->tickets[0]->requester;
    assert_string_equal(rq->name, "王**");
    assert_string_equal(rq->phone, "138****5678");
    assert_string_equal(rq->id_number, "110101********1234");
    assert_true(a->ack->result->n_events >= 2);
    assert_string_equal(a->ack->result->events[0]->kind, "intake");
    hl_envelope_free(&a);
    /* The lead unit may see it unmasked, with a reason, logged first. */
    long long logged = atoll(sql("SELECT count(*) FROM pii_access_log"));
    a = get("unit/HRSS", t, "需要电话联系诉求人");
    assert_int_equal(a->ack->status, ST(OK));
    assert_string_equal(a->ack->result->tickets[0]->requester->phone, "13812345678");
    hl_envelope_free(&a);
    assert_int_equal(atoll(sql("SELECT count(*) FROM pii_access_log")), logged + 1);
    assert_string_equal(sql("SELECT who || ' ' || why FROM pii_access_log ORDER BY id DESC LIMIT 1"),
                        "unit/HRSS:tester 需要电话联系诉求人");
    /* An assisting unit reads it masked but may not reveal it. */
    a = get("unit/EDU", t, NULL);
    assert_int_equal(a->ack->status, ST(OK));
    hl_envelope_free(&a);
    a = get("unit/EDU", t, "想看看");
    assert_int_equal(a->ack->status, ST(FORBIDDEN));
    hl_envelope_free(&a);
    assert_int_equal(atoll(sql("SELECT count(*) FROM pii_access_log")), logged + 1);
    /* A confidential ticket shows no requester to a unit at all. */
    intake_opts_t conf = {.confidential = true};
    new_ticket_opts(c, &conf);
    OK(DISPATCHED, "office", c, A(DISPATCH), NULL, NULL, "unit", "HRSS", NULL);
    a = get("unit/HRSS", c, NULL);
    assert_string_equal(a->ack->result->tickets[0]->requester->name, "");
    assert_string_equal(a->ack->result->tickets[0]->requester->phone, "");
    assert_true(a->ack->result->tickets[0]->requester->confidential);
    hl_envelope_free(&a);
    a = get("unit/HRSS", c, "需要联系");
    assert_int_equal(a->ack->status, ST(FORBIDDEN));
    assert_non_null(strstr(a->ack->message, "confidential"));
    hl_envelope_free(&a);
    a = get("office", c, "回访需要");
    assert_string_equal(a->ack->result->tickets[0]->requester->phone, "13812345678");
    hl_envelope_free(&a);
    /* Lists: a unit's open tickets, newest first. */
    hl_envelope_t *ans = NULL;
    char err[HL_ERR_LEN];
    assert_int_equal(hl_client_list(client("unit", "HRSS"), "HRSS", "open", 10, 0, &ans, err), 0);
    assert_int_equal(ans->ack->status, ST(OK));
    assert_int_equal(ans->ack->result->n_tickets, 2);
    assert_string_equal(ans->ack->result->tickets[0]->ticket, c);
    assert_string_equal(ans->ack->result->tickets[1]->ticket, t);
    hl_envelope_free(&ans);
    assert_int_equal(hl_client_list(client("office", ""), "", "DISPATCHED", 500, 0, &ans, err), 0);
    assert_int_equal(ans->ack->status, ST(OK));
    assert_true(ans->ack->result->n_tickets >= 2);
    for (size_t i = 0; i < ans->ack->result->n_tickets; i++)
        assert_int_equal(ans->ack->result->tickets[i]->state, S(DISPATCHED));
    hl_envelope_free(&ans);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_main_path),    cmocka_unit_test(test_side_roads),
        cmocka_unit_test(test_all_states_swept), cmocka_unit_test(test_every_allowed_transition),
        cmocka_unit_test(test_notices),
        cmocka_unit_test(test_races),        cmocka_unit_test(test_idempotency),
        cmocka_unit_test(test_bad_input),    cmocka_unit_test(test_queries),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
