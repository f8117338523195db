/* test_utf8.c - strict UTF-8 validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

/* RFC 3629 spelt out byte by byte, one character at a time: the reference
 * the validator's fast paths are checked against. */
static bool ref_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i], need, min;
        uint32_t cp;
        if (c == 0) return false;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) need = 1, min = 0x80, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0) need = 2, min = 0x800, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0) need = 3, min = 0x10000, cp = c & 0x07;
        else return false;
        if (len - i <= need) return false;
        for (unsigned k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += need + 1;
    }
    return true;
}

/* Random texts made mostly of valid pieces (ASCII runs, CJK, 2- and 4-byte
 * characters, the edges E0/ED/F0/F4) with a few random bytes mixed in, cut at
 * random lengths: the validator agrees with the reference on every one. */
static void test_random(void **state)
{
    (void)state;
    static const char *pieces[] = {"a", "plain text ", "0123456789abcdef", "\xc2\x80", "\xdf\xbf",
                                   "\xe0\xa0\x80", "\xe0\x9f\xbf", "\xe4\xb8\x80", "\xe9\xbe\xa5",
                                   "\xed\x9f\xbf", "\xed\xa0\x80", "\xee\x80\x80", "\xef\xbf\xbd",
                                   "\xf0\x90\x80\x80", "\xf0\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf",
                                   "\xf4\x90\x80\x80", "\xc0\x80", "\xc1\xbf", "\xf5\x80\x80\x80"};
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    unsigned char buf[96];
    long valid = 0;
    for (int round = 0; round < 400000; round++) {
        size_t n = 0;
        while (n < 64) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            unsigned pick = (unsigned)(seed >> 32) % 64;
            if (pick < sizeof pieces / sizeof pieces[0] * 3) {
                const char *p = pieces[pick % (sizeof pieces / sizeof pieces[0])];
                size_t l = strlen(p);
                memcpy(buf + n, p, l);
                n += l;
            } else if (pick < 62) {
                memcpy(buf + n, "\xe8\xb7\xaf", 3), n += 3; /* 路 */
            } else {
                buf[n++] = (unsigned char)(seed >> 8); /* any byte, NUL too */
            }
        }
        size_t len = (size_t)(seed >> 16) % (n + 1);
        bool want = ref_valid(buf, len);
        valid += want;
        if (hl_utf8_valid((const char *)buf, len) != want) fail_msg("round %d disagrees (len %zu)", round, len);
    }
    assert_true(valid > 1000); /* both answers were tried often */
    assert_true(valid < 399000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
