/* test_utf8.c - strict UTF-8 validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/utf8.h"

#define V(s) hl_utf8_valid(s, sizeof(s) - 1)

static void test_valid(void **state)
{
    (void)state;
    assert_true(V(""));
    assert_true(V("plain ASCII text that is longer than eight bytes"));
    assert_true(V("小区电梯坏了"));
    assert_true(V("\xc2\x80"));             /* U+0080 */
    assert_true(V("\xef\xbf\xbf"));         /* U+FFFF */
    assert_true(V("\xf0\x9f\x98\x80 ok"));  /* emoji */
    assert_true(V("\xf4\x8f\xbf\xbf"));     /* U+10FFFF */
    assert_int_equal(hl_utf8_count("a小b", strlen("a小b")), 3);
}

static void test_invalid(void **state)
{
    (void)state;
    assert_false(V("\x80"));                 /* lone continuation */
    assert_false(V("\xc0\xaf"));             /* overlong */
    assert_false(V("\xe0\x80\xaf"));         /* overlong */
    assert_false(V("\xf0\x80\x80\xaf"));     /* overlong */
    assert_false(V("\xed\xa0\x80"));         /* surrogate */
    assert_false(V("\xf4\x90\x80\x80"));     /* above U+10FFFF */
    assert_false(V("\xf8\x88\x80\x80\x80")); /* five bytes */
    assert_false(V("\xe5\xb0"));             /* truncated */
    assert_false(V("abcdefgh\xff"));         /* after the ASCII fast path */
    assert_false(V("abc\0def"));             /* NUL in short text */
    assert_false(V("abcdefgh\0ijklmnop"));   /* NUL inside an 8-byte word */
}

static void test_cut(void **state)
{
    (void)state;
    const char *s = "ab小区路灯"; /* 2 + 4 x 3 bytes */
    size_t len = strlen(s);
    assert_int_equal(hl_utf8_cut(s, len, 100), len);
    assert_int_equal(hl_utf8_cut(s, len, len), len);
    assert_int_equal(hl_utf8_cut(s, len, 2), 2);
    assert_int_equal(hl_utf8_cut(s, len, 3), 2); /* inside 小 */
    assert_int_equal(hl_utf8_cut(s, len, 4), 2);
    assert_int_equal(hl_utf8_cut(s, len, 5), 5);
    assert_int_equal(hl_utf8_cut(s, len, 13), 11);
    assert_int_equal(hl_utf8_cut(s, len, 0), 0);
    assert_int_equal(hl_utf8_cut("\xF0\x9F\x98\x80", 4, 3), 0); /* a 4-byte character */
    /* Every cut of a mixed text is a prefix of whole characters. */
    const char *m = "x\xC3\xA9\xE8\xB7\xAF\xF0\x9F\x98\x80y";
    for (size_t max = 0; max <= strlen(m); max++) {
        size_t n = hl_utf8_cut(m, strlen(m), max);
        assert_true(n <= max);
        assert_true(hl_utf8_valid(m, n));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
