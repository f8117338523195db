/* test_alloc.c - the OOM policy and the failure-injection hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/alloc.h"
#include "hotline/buf.h"
#include "hotline/ticket.h"

static size_t oom_size;
static int oom_calls;

static void record_oom(size_t size)
{
    oom_size = size;
    oom_calls++;
}

static void test_failure_injection(void **state)
{
    (void)state;
    hl_alloc_set_oom_handler(record_oom);
    hl_alloc_fail_after(2);
    void *a = hl_malloc(10);
    assert_non_null(a);
    void *b = hl_malloc(12345); /* the second allocation fails */
    assert_null(b);
    assert_int_equal(oom_calls, 1);
    assert_int_equal(oom_size, 12345);
    void *c = hl_calloc(2, 8); /* and the hook is spent */
    assert_non_null(c);
    hl_free(a);
    hl_free(c);
    hl_alloc_set_oom_handler(NULL);
    assert_null(hl_strdup(NULL));
    char *s = hl_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    hl_free(s);
}

static void test_vocabulary_round_trips(void **state)
{
    (void)state;
    for (int v = 1; v <= HOTLINE__STATE__STATE_WITHDRAWN; v++) {
        hl_state_t x;
        assert_int_equal(hl_state_parse(hl_state_name((hl_state_t)v), &x), 0);
        assert_int_equal(x, v);
    }
    for (int v = 1; v <= HOTLINE__ACTION_KIND__ACTION_NOTIFY; v++) {
        hl_action_t x;
        assert_int_equal(hl_action_parse(hl_action_name((hl_action_t)v), &x), 0);
        assert_int_equal(x, v);
    }
    hl_type_t t;
    assert_int_equal(hl_type_parse("complaint", &t), 0);
    assert_int_equal(t, HOTLINE__REQUEST_TYPE__TYPE_COMPLAINT);
    assert_int_equal(hl_type_parse("", &t), HL_EINVAL);
    assert_int_equal(hl_type_parse(NULL, &t), HL_EINVAL);
    assert_string_equal(hl_state_name((hl_state_t)99), "");
    assert_string_equal(hl_action_name(HOTLINE__ACTION_KIND__ACTION_APPROVE_RETURN), "approve_return");
    hl_buf_t b = HL_BUF_INIT;
    hl_buf_put_i64(&b, INT64_MIN);
    assert_string_equal(b.data, "-9223372036854775808");
    hl_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failure_injection),
        cmocka_unit_test(test_vocabulary_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
