/* test_envelope.c - the codec of the wire contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/envelope.h"
#include "hotline/router.h"

static void pack_intake(hl_buf_t *b, const char *body, const char *name)
{
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    Hotline__Intake in = HOTLINE__INTAKE__INIT;
    Hotline__Requester rq = HOTLINE__REQUESTER__INIT;
    rq.name = (char *)name;
    in.idempotency_key = "k";
    in.body = (char *)body;
    in.requester = &rq;
    env.schema = 1;
    env.request_id = 99;
    env.body_case = HOTLINE__ENVELOPE__BODY_INTAKE;
    env.intake = &in;
    hl_envelope_pack(&env, b);
}

static void test_round_trip(void **state)
{
    (void)state;
    hl_buf_t b = HL_BUF_INIT;
    pack_intake(&b, "电梯坏了", "王先生");
    hl_envelope_t *env = NULL;
    uint64_t rid;
    char err[HL_ERR_LEN];
    assert_int_equal(hl_envelope_unpack(b.data, b.len, 65536, &env, &rid, err), 0);
    assert_int_equal(rid, 99);
    assert_string_equal(env->intake->body, "电梯坏了");
    assert_string_equal(env->intake->requester->name, "王先生");
    hl_envelope_free(&env);
    assert_null(env);
    /* Limits: the limit itself is fine, one byte less is not. */
    assert_int_equal(hl_envelope_unpack(b.data, b.len, b.len, &env, &rid, err), 0);
    hl_envelope_free(&env);
    assert_int_equal(hl_envelope_unpack(b.data, b.len, b.len - 1, &env, &rid, err), HL_ETOOBIG);
    assert_null(env);
    assert_int_equal(rid, 0);
    hl_buf_free(&b);
}

static void test_rejections_keep_request_id(void **state)
{
    (void)state;
    hl_buf_t b = HL_BUF_INIT;
    pack_intake(&b, "abc\xff", "x");
    hl_envelope_t *env = NULL;
    uint64_t rid = 0;
    char err[HL_ERR_LEN];
    assert_int_equal(hl_envelope_unpack(b.data, b.len, 65536, &env, &rid, err), HL_EINVAL);
    assert_int_equal(rid, 99);
    assert_non_null(strstr(err, "Intake.body"));
    hl_buf_reset(&b);
    pack_intake(&b, "ok", "\xe7\x8e");
    assert_int_equal(hl_envelope_unpack(b.data, b.len, 65536, &env, &rid, err), HL_EINVAL);
    assert_non_null(strstr(err, "Requester.name"));
    hl_buf_free(&b);
}

/* Every way of mangling a valid envelope is a clean error or a clean decode. */
static void test_mutations_never_crash(void **state)
{
    (void)state;
    hl_buf_t b = HL_BUF_INIT;
    pack_intake(&b, "小区电梯坏了，请尽快修理", "王先生");
    srand(3);
    int decoded = 0;
    for (int i = 0; i < 20000; i++) {
        char *m = malloc(b.len);
        memcpy(m, b.data, b.len);
        int flips = 1 + rand() % 4;
        for (int k = 0; k < flips; k++) m[rand() % (int)b.len] = (char)rand();
        size_t len = (size_t)(rand() % 8 == 0 ? rand() % (int)b.len : (int)b.len);
        hl_envelope_t *env = NULL;
        char err[HL_ERR_LEN];
        if (hl_envelope_unpack(m, len, 65536, &env, NULL, err) == 0) {
            decoded++;
            assert_non_null(env);
            hl_envelope_free(&env);
        } else {
            assert_null(env);
            assert_true(strlen(err) > 0);
        }
        free(m);
    }
    assert_true(decoded > 0);
    hl_buf_free(&b);
}

/* The router has a handler for every kind of the Envelope's oneof. */
static void test_every_kind_has_a_handler(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &hotline__envelope__descriptor;
    unsigned kinds = 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) continue;
        kinds++;
        if (!hl_router_handles((int)f->id)) fail_msg("no router handler for Envelope.%s", f->name);
    }
    assert_true(kinds >= 4);
    assert_false(hl_router_handles(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_rejections_keep_request_id),
        cmocka_unit_test(test_mutations_never_crash),
        cmocka_unit_test(test_every_kind_has_a_handler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
