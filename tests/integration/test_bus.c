/* test_bus.c - the router's bus boundary under bad input.
 *
 * Run by badinput.sh against a real router, PostgreSQL and Redis: every kind
 * of malformed, oversized, mis-encoded or hostile envelope gets a clear error
 * answer (or, for broken routing, is dropped and counted), the router keeps
 * serving, and nothing stored changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <zmq.h>

#include "hotline/buf.h"
#include "hotline/clock.h"
#include "hotline/envelope.h"

static void *ctx, *sock;
static PGconn *pg;
static const char *endpoint;
static char before[128];

static void *connect_dealer(int type)
{
    void *s = zmq_socket(ctx, type);
    int linger = 0, tmo = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    assert_int_equal(zmq_connect(s, endpoint), 0);
    return s;
}

/* A digest of everything stored, to show bad input changes nothing. */
static void store_digest(char out[128])
{
    PGresult *r = PQexec(pg, "SELECT (SELECT count(*) FROM tickets) || '/' || "
                             "(SELECT coalesce(sum(hashtext(t::text)), 0) FROM tickets t) || '/' || "
                             "(SELECT count(*) FROM ticket_events) || '/' || "
                             "(SELECT count(*) FROM pii_vault) || '/' || "
                             "(SELECT count(*) FROM intake_keys)");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    snprintf(out, 128, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

static int setup(void **state)
{
    (void)state;
    endpoint = getenv("HL_INTAKE");
    const char *conninfo = getenv("HL_CONNINFO");
    if (!endpoint || !conninfo) {
        fprintf(stderr, "HL_INTAKE and HL_CONNINFO must be set (run badinput.sh)\n");
        return -1;
    }
    ctx = zmq_ctx_new();
    sock = connect_dealer(ZMQ_DEALER);
    pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) return -1;
    store_digest(before);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    zmq_close(sock);
    zmq_ctx_term(ctx);
    PQfinish(pg);
    return 0;
}

/* Send raw bytes, return the answer (caller frees) or NULL on timeout. */
static hl_envelope_t *roundtrip_raw(void *s, const void *data, size_t len)
{
    assert_true(zmq_send(s, data, len, 0) >= 0);
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s, 0) < 0) {
        zmq_msg_close(&m);
        return NULL;
    }
    char err[HL_ERR_LEN];
    hl_envelope_t *env = NULL;
    int rc = hl_envelope_unpack(zmq_msg_data(&m), zmq_msg_size(&m), 1 << 20, &env, NULL, err);
    zmq_msg_close(&m);
    if (rc) fail_msg("the router's answer does not decode: %s", err);
    assert_int_equal(env->body_case, HOTLINE__ENVELOPE__BODY_ACK);
    return env;
}

static hl_envelope_t *roundtrip(void *s, const Hotline__Envelope *env)
{
    hl_buf_t b = HL_BUF_INIT;
    hl_envelope_pack(env, &b);
    hl_envelope_t *ans = roundtrip_raw(s, b.data, b.len);
    hl_buf_free(&b);
    return ans;
}

static void expect_status(hl_envelope_t *ans, Hotline__Status st, const char *needle)
{
    assert_non_null(ans);
    if (ans->ack->status != st)
        fail_msg("status %d, want %d (%s)", ans->ack->status, st, ans->ack->message);
    if (needle && !strstr(ans->ack->message, needle))
        fail_msg("message '%s' does not mention '%s'", ans->ack->message, needle);
    assert_true(strlen(ans->ack->message) > 0);
    assert_string_equal(ans->ack->ticket, "");
}

/* A valid intake to change, with key "bad-<n>". */
typedef struct {
    Hotline__Envelope env;
    Hotline__Intake in;
    Hotline__Requester rq;
    Hotline__Location loc;
    char key[64];
} intake_t;

static void make_intake(intake_t *t, const char *key_suffix)
{
    hotline__envelope__init(&t->env);
    hotline__intake__init(&t->in);
    hotline__requester__init(&t->rq);
    hotline__location__init(&t->loc);
    snprintf(t->key, sizeof t->key, "bad-%s", key_suffix);
    t->in.idempotency_key = t->key;
    t->in.channel = HOTLINE__CHANNEL__CHANNEL_WEB;
    t->in.title = "公交车到站不停";
    t->in.body = "12路公交车经常到站不停，司机态度差。";
    t->rq.name = "测试";
    t->rq.phone = "13800000000";
    t->in.requester = &t->rq;
    t->loc.region = "990101001";
    t->in.location = &t->loc;
    t->env.schema = 1;
    t->env.request_id = 42;
    t->env.body_case = HOTLINE__ENVELOPE__BODY_INTAKE;
    t->env.intake = &t->in;
}

static void test_garbage(void **state)
{
    (void)state;
    const unsigned char junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    hl_envelope_t *a = roundtrip_raw(sock, junk, sizeof junk);
    expect_status(a, HOTLINE__STATUS__STATUS_INVALID, "not a valid Envelope");
    assert_int_equal(a->request_id, 0);
    hl_envelope_free(&a);
    /* Random bytes, many times. */
    srand(7);
    for (int i = 0; i < 200; i++) {
        unsigned char buf[97];
        size_t n = 1 + (size_t)(rand() % (int)sizeof buf);
        for (size_t k = 0; k < n; k++) buf[k] = (unsigned char)rand();
        a = roundtrip_raw(sock, buf, n);
        assert_non_null(a);
        assert_int_not_equal(a->ack->status, HOTLINE__STATUS__STATUS_OK);
        hl_envelope_free(&a);
    }
}

static void test_truncated(void **state)
{
    (void)state;
    intake_t t;
    make_intake(&t, "truncated");
    hl_buf_t b = HL_BUF_INIT;
    hl_envelope_pack(&t.env, &b);
    for (size_t cut = 1; cut < b.len; cut += 7) {
        hl_envelope_t *a = roundtrip_raw(sock, b.data, b.len - cut);
        assert_non_null(a);
        assert_int_not_equal(a->ack->status, HOTLINE__STATUS__STATUS_OK);
        hl_envelope_free(&a);
    }
    hl_buf_free(&b);
}

static void test_empty_frame_and_unknown_kind(void **state)
{
    (void)state;
    hl_envelope_t *a = roundtrip_raw(sock, "", 0);
    expect_status(a, HOTLINE__STATUS__STATUS_UNSUPPORTED, "no known message kind");
    hl_envelope_free(&a);
    /* Field 31, length-delimited: a message kind from a future schema. */
    const unsigned char future[] = {0x08, 0x01, 0x10, 0x07, 0xFA, 0x01, 0x02, 0x08, 0x01};
    a = roundtrip_raw(sock, future, sizeof future);
    expect_status(a, HOTLINE__STATUS__STATUS_UNSUPPORTED, "no known message kind");
    assert_int_equal(a->request_id, 7);
    hl_envelope_free(&a);
}

static void test_newer_schema(void **state)
{
    (void)state;
    intake_t t;
    make_intake(&t, "schema");
    t.env.schema = 99;
    hl_envelope_t *a = roundtrip(sock, &t.env);
    expect_status(a, HOTLINE__STATUS__STATUS_UNSUPPORTED, "schema 99");
    hl_envelope_free(&a);
}

static void test_not_a_request(void **state)
{
    (void)state;
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    Hotline__Ack ack = HOTLINE__ACK__INIT;
    env.body_case = HOTLINE__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    hl_envelope_t *a = roundtrip(sock, &env);
    expect_status(a, HOTLINE__STATUS__STATUS_UNSUPPORTED, "not Ack");
    hl_envelope_free(&a);
    Hotline__Event ev = HOTLINE__EVENT__INIT;
    env.body_case = HOTLINE__ENVELOPE__BODY_EVENT;
    env.event = &ev;
    a = roundtrip(sock, &env);
    expect_status(a, HOTLINE__STATUS__STATUS_UNSUPPORTED, "not Event");
    hl_envelope_free(&a);
}

static void test_oversized(void **state)
{
    (void)state;
    intake_t t;
    make_intake(&t, "big");
    size_t sizes[] = {70 * 1024, 1 << 20};
    for (int i = 0; i < 2; i++) {
        char *body = malloc(sizes[i] + 1);
        memset(body, 'a', sizes[i]);
        body[sizes[i]] = '\0';
        t.in.body = body;
        hl_envelope_t *a = roundtrip(sock, &t.env);
        expect_status(a, HOTLINE__STATUS__STATUS_TOO_LARGE, "over the limit");
        hl_envelope_free(&a);
        free(body);
    }
}

static void test_text_over_max_text(void **state)
{
    (void)state;
    intake_t t;
    make_intake(&t, "longtext");
    /* Under the envelope limit, over router.max_text (32 KiB). */
    char *body = malloc(40001);
    memset(body, 'b', 40000);
    body[40000] = '\0';
    t.in.body = body;
    hl_envelope_t *a = roundtrip(sock, &t.env);
    expect_status(a, HOTLINE__STATUS__STATUS_TOO_LARGE, "over the limit");
    hl_envelope_free(&a);
    free(body);
}

static void test_bad_utf8(void **state)
{
    (void)state;
    const char *bad[] = {"\xff\xfe", "abc\xc3", "\xed\xa0\x80 surrogate", "\xc0\xaf overlong",
                         "\xf4\x90\x80\x80 too high"};
    for (int i = 0; i < 5; i++) {
        intake_t t;
        make_intake(&t, "utf8");
        t.in.body = (char *)bad[i];
        hl_envelope_t *a = roundtrip(sock, &t.env);
        expect_status(a, HOTLINE__STATUS__STATUS_INVALID, "Intake.body is not valid UTF-8");
        hl_envelope_free(&a);
    }
    /* In a nested message too. */
    intake_t t;
    make_intake(&t, "utf8-name");
    t.rq.name = "\xe5\xbc";
    hl_envelope_t *a = roundtrip(sock, &t.env);
    expect_status(a, HOTLINE__STATUS__STATUS_INVALID, "Requester.name");
    hl_envelope_free(&a);
}

static void test_nul_byte(void **state)
{
    (void)state;
    /* protobuf-c would cut "abc\0def" at the NUL; the router must refuse it. */
    intake_t t;
    make_intake(&t, "nul");
    t.in.body = "PLACEHOLDER";
    hl_buf_t b = HL_BUF_INIT;
    hl_envelope_pack(&t.env, &b);
    char *p = memmem(b.data, b.len, "PLACEHOLDER", 11);
    assert_non_null(p);
    p[3] = '\0';
    hl_envelope_t *a = roundtrip_raw(sock, b.data, b.len);
    expect_status(a, HOTLINE__STATUS__STATUS_INVALID, "NUL");
    hl_envelope_free(&a);
    hl_buf_free(&b);
}

static void test_missing_and_hostile_fields(void **state)
{
    (void)state;
    struct {
        const char *what, *needle;
        void (*mutate)(intake_t *);
    } cases[] = {
        {"no key", "idempotency_key", NULL},
        {"no channel", "channel", NULL},
        {"empty body", "body is empty", NULL},
        {"blank body", "body is empty", NULL},
        {"key with a space", "idempotency_key", NULL},
        {"key too long", "idempotency_key", NULL},
        {"bad region", "location.region", NULL},
        {"bad coordinates", "coordinates", NULL},
        {"unknown type", "request type", NULL},
        {"future receipt", "future", NULL},
    };
    char longkey[200];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        intake_t t;
        make_intake(&t, "fields");
        switch (i) {
        case 0: t.in.idempotency_key = ""; break;
        case 1: t.in.channel = 0; break;
        case 2: t.in.body = ""; break;
        case 3: t.in.body = " \t\n\xe3\x80\x80 "; break;
        case 4: t.in.idempotency_key = "a b"; break;
        case 5: t.in.idempotency_key = longkey; break;
        case 6: t.loc.region = "99x1"; break;
        case 7: t.loc.has_coordinates = 1, t.loc.lat = 200; break;
        case 8: t.in.type = (Hotline__RequestType)99; break;
        case 9: t.in.received_at = hl_now_ms() + 3600 * 1000; break;
        }
        hl_envelope_t *a = roundtrip(sock, &t.env);
        assert_non_null(a);
        if (a->ack->status != HOTLINE__STATUS__STATUS_INVALID || !strstr(a->ack->message, cases[i].needle))
            fail_msg("%s: status %d '%s'", cases[i].what, a->ack->status, a->ack->message);
        assert_int_equal(a->request_id, 42);
        hl_envelope_free(&a);
    }
}

/* One action with the given fields; returns the answer. */
static hl_envelope_t *act(const char *ticket, int kind, const char *role, const char *unit, const char *reason)
{
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    Hotline__Action a = HOTLINE__ACTION__INIT;
    Hotline__Actor who = HOTLINE__ACTOR__INIT;
    who.role = (char *)role;
    who.unit = (char *)unit;
    a.actor = role ? &who : NULL;
    a.ticket = (char *)ticket;
    a.kind = kind;
    a.reason = (char *)reason;
    a.idempotency_key = "bad-action";
    env.body_case = HOTLINE__ENVELOPE__BODY_ACTION;
    env.action = &a;
    env.request_id = 5;
    return roundtrip(sock, &env);
}

static void test_bad_actions(void **state)
{
    (void)state;
    const int SIGN = HOTLINE__ACTION_KIND__ACTION_SIGN;
    static char big[4000];
    memset(big, 'x', sizeof big - 1);
    struct {
        const char *ticket;
        int kind;
        const char *role, *unit, *reason;
        Hotline__Status want;
        const char *needle;
    } cases[] = {
        {"", SIGN, "unit", "U1", "", HOTLINE__STATUS__STATUS_INVALID, "not a ticket number"},
        {"2026x12200000001", SIGN, "unit", "U1", "", HOTLINE__STATUS__STATUS_INVALID, "not a ticket number"},
        {"20261399000000001", SIGN, "unit", "U1", "", HOTLINE__STATUS__STATUS_INVALID, "not a ticket number"},
        {"2026112200000001", 0, "unit", "U1", "", HOTLINE__STATUS__STATUS_INVALID, "unknown action"},
        {"2026112200000001", 999, "unit", "U1", "", HOTLINE__STATUS__STATUS_INVALID, "unknown action"},
        {"2026112200000001", SIGN, NULL, "", "", HOTLINE__STATUS__STATUS_INVALID, "actor.role"},
        {"2026112200000001", SIGN, "mayor", "", "", HOTLINE__STATUS__STATUS_INVALID, "actor.role"},
        {"2026112200000001", SIGN, "unit", "", "", HOTLINE__STATUS__STATUS_INVALID, "actor.unit"},
        {"2026112200000001", SIGN, "unit", "U1", big, HOTLINE__STATUS__STATUS_TOO_LARGE, "reason"},
        {"2026112299999999", SIGN, "unit", "U1", "", HOTLINE__STATUS__STATUS_NOT_FOUND, "does not exist"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hl_envelope_t *a = act(cases[i].ticket, cases[i].kind, cases[i].role, cases[i].unit, cases[i].reason);
        assert_non_null(a);
        if (a->ack->status != cases[i].want || !strstr(a->ack->message, cases[i].needle))
            fail_msg("case %zu: status %d '%s', want %d mentioning '%s'", i, a->ack->status, a->ack->message,
                     cases[i].want, cases[i].needle);
        hl_envelope_free(&a);
    }
}

static void test_broken_routing_is_dropped(void **state)
{
    (void)state;
    /* Six frames: more routing frames than any client has reason to send. */
    void *s = connect_dealer(ZMQ_DEALER);
    int tmo = 500;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    for (int i = 0; i < 5; i++) zmq_send(s, "x", 1, ZMQ_SNDMORE);
    zmq_send(s, "y", 1, 0);
    char buf[16];
    assert_true(zmq_recv(s, buf, sizeof buf, 0) < 0); /* no answer */
    zmq_close(s);
}

static void test_req_client(void **state)
{
    (void)state;
    /* A REQ socket adds an empty delimiter frame; the answer must still reach it. */
    void *s = connect_dealer(ZMQ_REQ);
    intake_t t;
    make_intake(&t, "req");
    t.in.body = "";
    hl_envelope_t *a = roundtrip(s, &t.env);
    expect_status(a, HOTLINE__STATUS__STATUS_INVALID, "body is empty");
    hl_envelope_free(&a);
    zmq_close(s);
}

static void test_nothing_stored_changed(void **state)
{
    (void)state;
    char after[128];
    store_digest(after);
    assert_string_equal(before, after);
}

static void test_still_serving(void **state)
{
    (void)state;
    intake_t t;
    make_intake(&t, "valid");
    int64_t before_ms = hl_now_ms();
    hl_envelope_t *a = roundtrip(sock, &t.env);
    assert_non_null(a);
    const Hotline__Ack *k = a->ack;
    if (k->status != HOTLINE__STATUS__STATUS_OK) fail_msg("status %d: %s", k->status, k->message);
    /* The ack says everything the sender needs. */
    assert_int_equal(a->request_id, 42);
    assert_int_equal(strlen(k->ticket), 16);
    assert_int_equal(k->state, HOTLINE__STATE__STATE_DISPATCHED);
    assert_string_equal(k->category, "transport.bus");
    assert_true(k->confidence >= 0.5f && k->confidence <= 1.0f);
    assert_string_equal(k->unit, "TRANSIT");
    assert_int_equal(k->n_assisting_units, 1);
    assert_string_equal(k->assisting_units[0], "TRANSPORT");
    assert_non_null(k->deadlines);
    assert_true(k->deadlines->sign - before_ms >= 24 * 3600000LL - 60000);
    assert_true(k->deadlines->sign <= k->deadlines->reply);
    assert_true(k->deadlines->contact <= k->deadlines->reply);
    assert_int_equal(k->type, HOTLINE__REQUEST_TYPE__TYPE_HELP);
    assert_int_equal(k->urgency, HOTLINE__URGENCY__URGENCY_NORMAL);
    assert_int_equal(k->version, 1);
    assert_false(k->replayed);
    assert_string_equal(k->idempotency_key, "bad-valid");
    /* The same key again: the same ticket, marked as a replay. */
    t.env.request_id = 43;
    hl_envelope_t *b = roundtrip(sock, &t.env);
    assert_non_null(b);
    assert_int_equal(b->ack->status, HOTLINE__STATUS__STATUS_OK);
    assert_int_equal(b->request_id, 43);
    assert_true(b->ack->replayed);
    assert_string_equal(b->ack->ticket, k->ticket);
    assert_string_equal(b->ack->unit, k->unit);
    assert_int_equal(b->ack->deadlines->reply, k->deadlines->reply);
    assert_string_equal(b->ack->assisting_units[0], "TRANSPORT");
    hl_envelope_free(&a);
    hl_envelope_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_empty_frame_and_unknown_kind),
        cmocka_unit_test(test_newer_schema),
        cmocka_unit_test(test_not_a_request),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_text_over_max_text),
        cmocka_unit_test(test_bad_utf8),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_missing_and_hostile_fields),
        cmocka_unit_test(test_bad_actions),
        cmocka_unit_test(test_broken_routing_is_dropped),
        cmocka_unit_test(test_req_client),
        cmocka_unit_test(test_nothing_stored_changed),
        cmocka_unit_test(test_still_serving),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
