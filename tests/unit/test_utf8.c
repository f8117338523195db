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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
