/* test_features.c - normalisation and n-gram hashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/features.h"

static size_t norm(const char *s, uint32_t *out)
{
    return hl_feat_normalize(s, strlen(s), out, 64);
}

static void test_normalisation(void **state)
{
    (void)state;
    uint32_t o[64];
    /* Full-width letters and digits, case, every digit alike. */
    assert_int_equal(norm("ＡＢｃ１２9", o), 6);
    assert_int_equal(o[0], 'a');
    assert_int_equal(o[2], 'c');
    assert_int_equal(o[3], '0');
    assert_int_equal(o[5], '0');
    /* Punctuation and white space go; CJK stays. */
    assert_int_equal(norm("你好，世界！ ok\u3000。", o), 6);
    assert_int_equal(o[0], 0x4F60);
    assert_int_equal(o[4], 'o');
    /* A URL is one LINK symbol. */
    assert_int_equal(norm("见https://baidu.com/a?b=1呢www.x.cn/y", o), 4);
    assert_int_equal(o[0], 0x89C1);
    assert_int_equal(o[1], HL_FEAT_LINK);
    assert_int_equal(o[2], 0x5462);
    assert_int_equal(o[3], HL_FEAT_LINK);
    /* Emoji stay; invalid bytes become U+FFFD, one per byte. */
    assert_int_equal(norm("\xf0\x9f\x98\x80", o), 1);
    assert_int_equal(o[0], 0x1F600);
    assert_int_equal(norm("a\xff\xc0\xafz", o), 5); /* each bad byte on its own */
    assert_int_equal(o[1], 0xFFFD);
    assert_int_equal(o[2], 0xFFFD);
    assert_int_equal(norm("\xed\xa0\x80", o), 3);   /* a surrogate: three bad bytes */
    assert_int_equal(norm("\xe4\xbd", o), 2);       /* cut short */
    assert_int_equal(o[0], 0xFFFD);
    /* The output bound holds. */
    assert_int_equal(hl_feat_normalize("abcdef", 6, o, 3), 3);
}

/* The same text gives the same buckets on every run and machine: these
 * values are part of the model file format. */
static void test_hashing_is_stable(void **state)
{
    (void)state;
    hl_feat_cfg_t cfg = {18, 1, 3, 1};
    uint32_t out[64];
    const char *t = "燃气泄漏";
    size_t n = hl_feat_extract(&cfg, 0, t, strlen(t), out);
    assert_int_equal(n, 9); /* 4 + 3 + 2 */
    static const uint32_t golden[9] = {231677, 198371, 45658, 82315, 57630, 208089, 107773, 229833, 210045};
    for (size_t i = 0; i < n; i++)
        if (out[i] != golden[i]) fail_msg("bucket %zu is %u, was %u", i, out[i], golden[i]);
    /* A title counts as body n-grams and again in its own space. */
    uint32_t tout[64];
    size_t tn = hl_feat_extract(&cfg, 1, t, strlen(t), tout);
    assert_int_equal(tn, 18);
    assert_memory_equal(tout, out, n * sizeof(uint32_t));
    int differ = 0;
    for (size_t i = 0; i < n; i++) differ += tout[n + i] != out[i];
    assert_true(differ >= 8);
    /* Without title weight, a title is only body n-grams. */
    cfg.title = 0;
    assert_int_equal(hl_feat_extract(&cfg, 1, t, strlen(t), tout), 9);
    for (size_t i = 0; i < tn; i++) assert_true(tout[i] < (1u << 18));
}

/* The n-gram hashing as first written (one loop for every n), kept as the
 * reference for the faster paths. */
static size_t ref_hash(const hl_feat_cfg_t *cfg, const uint32_t *cps, size_t n, bool title_space, uint32_t *out)
{
    const unsigned shift = 64u - cfg->bits;
    uint64_t salt[5];
    for (unsigned k = 1; k <= 4; k++)
        salt[k] = 0x243F6A8885A308D3ULL * (k + 1) + (title_space ? 0x13198A2E03707344ULL : 0);
    size_t w = 0;
    uint64_t key = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t prev = key;
        key = (key << 21 | cps[i]) & ((1ULL << 63) - 1);
        for (unsigned k = cfg->nmin; k <= cfg->nmax && k <= i + 1; k++) {
            uint64_t g = k == 4 ? key ^ ((prev >> 42) * 0xC2B2AE3D27D4EB4FULL) : key & ((1ULL << (21 * k)) - 1);
            out[w++] = (uint32_t)(((g ^ salt[k]) * 0x9E3779B97F4A7C15ULL) >> shift);
        }
    }
    return w;
}

/* Every n-gram range and both fields give the reference's buckets in its
 * order, on texts of every length up to 40 characters (CJK, ASCII, digits). */
static void test_hash_paths(void **state)
{
    (void)state;
    static const char *const pool[] = {"路", "灯", "a", "B", "7", "燃", "气", "x", "。", " "};
    uint64_t seed = 42;
    for (int round = 0; round < 3000; round++) {
        char text[40 * 3 + 1];
        size_t len = 0, chars = (size_t)round % 41;
        for (size_t c = 0; c < chars; c++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            const char *p = pool[(seed >> 33) % 10];
            memcpy(text + len, p, strlen(p));
            len += strlen(p);
        }
        text[len] = '\0';
        uint32_t cps[64];
        size_t n = hl_feat_normalize(text, len, cps, 64);
        for (unsigned lo = 1; lo <= 4; lo++) {
            for (unsigned hi = lo; hi <= 4; hi++) {
                hl_feat_cfg_t cfg = {(uint8_t)(12 + round % 13), (uint8_t)lo, (uint8_t)hi, 1};
                uint32_t got[2 * 64 * 4], want[2 * 64 * 4];
                size_t wn = ref_hash(&cfg, cps, n, false, want);
                wn += ref_hash(&cfg, cps, n, true, want + wn);
                size_t gn = hl_feat_extract(&cfg, 1, text, len, got);
                assert_int_equal(gn, wn);
                assert_memory_equal(got, want, wn * sizeof(uint32_t));
            }
        }
    }
}

static void test_bounds(void **state)
{
    (void)state;
    hl_feat_cfg_t cfg = {14, 2, 4, 1};
    assert_int_equal(hl_feat_check(&cfg), 0);
    size_t len = 30000;
    char *big = malloc(len + 1);
    for (size_t i = 0; i < len; i++) big[i] = (char)('a' + i % 26);
    big[len] = '\0';
    size_t cap = hl_feat_capacity(&cfg, len);
    uint32_t *out = malloc(cap * sizeof(uint32_t));
    size_t n = hl_feat_extract(&cfg, 1, big, len, out);
    assert_true(n <= cap);
    assert_int_equal(n, 2 * (3 * HL_FEAT_MAX_CHARS - 1 - 2 - 3)); /* 2-, 3- and 4-grams of 4096 chars, twice */
    for (size_t i = 0; i < n; i++) assert_true(out[i] < (1u << 14));
    assert_int_equal(hl_feat_extract(&cfg, 0, "", 0, out), 0);
    assert_int_equal(hl_feat_extract(&cfg, 0, "a", 1, out), 0); /* shorter than nmin */
    free(big);
    free(out);
    hl_feat_cfg_t bad[] = {{11, 1, 3, 1}, {25, 1, 3, 1}, {18, 0, 3, 1}, {18, 3, 2, 1}, {18, 1, 5, 1}, {18, 1, 3, 2}};
    for (int i = 0; i < 6; i++) assert_int_equal(hl_feat_check(&bad[i]), HL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalisation),
        cmocka_unit_test(test_hashing_is_stable),
        cmocka_unit_test(test_bounds), cmocka_unit_test(test_hash_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
