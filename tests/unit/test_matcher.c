/* test_matcher.c - Aho-Corasick against a naive search. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/matcher.h"

typedef struct {
    int count[64];
    size_t last_end[64];
    int total;
} hits_t;

static void on_hit(void *arg, int32_t value, size_t end)
{
    hits_t *h = arg;
    h->count[value]++;
    h->last_end[value] = end;
    h->total++;
}

static int naive(const char *text, size_t len, const char *pat)
{
    size_t pl = strlen(pat);
    int n = 0;
    for (size_t i = 0; i + pl <= len; i++)
        if (memcmp(text + i, pat, pl) == 0) n++;
    return n;
}

static void test_classic(void **state)
{
    (void)state;
    const char *pats[] = {"he", "she", "his", "hers"};
    hl_matcher_t *m = hl_matcher_new();
    for (int i = 0; i < 4; i++) assert_int_equal(hl_matcher_add(m, pats[i], strlen(pats[i]), i), 0);
    hl_matcher_build(m);
    hits_t h = {0};
    const char *text = "ushers and his hers";
    hl_matcher_scan(m, text, strlen(text), on_hit, &h);
    for (int i = 0; i < 4; i++) assert_int_equal(h.count[i], naive(text, strlen(text), pats[i]));
    assert_int_equal(h.last_end[3], strlen(text));
    assert_int_equal(hl_matcher_count(m), 4);
    hl_matcher_destroy(&m);
    assert_null(m);
}

static void test_chinese_and_duplicates(void **state)
{
    (void)state;
    hl_matcher_t *m = hl_matcher_new();
    assert_int_equal(hl_matcher_add(m, "燃气", strlen("燃气"), 0), 0);
    assert_int_equal(hl_matcher_add(m, "燃气泄漏", strlen("燃气泄漏"), 1), 0);
    assert_int_equal(hl_matcher_add(m, "燃气", strlen("燃气"), 2), 0); /* same text, another value */
    hl_matcher_build(m);
    hits_t h = {0};
    const char *text = "楼道里燃气泄漏，燃气公司没来";
    hl_matcher_scan(m, text, strlen(text), on_hit, &h);
    assert_int_equal(h.count[0], 2);
    assert_int_equal(h.count[1], 1);
    assert_int_equal(h.count[2], 2);
    /* Errors: empty, too long, negative value, after build. */
    char big[300];
    memset(big, 'a', sizeof big);
    assert_int_equal(hl_matcher_add(m, "x", 1, 3), HL_EINVAL);
    hl_matcher_destroy(&m);
    m = hl_matcher_new();
    assert_int_equal(hl_matcher_add(m, "", 0, 0), HL_EINVAL);
    assert_int_equal(hl_matcher_add(m, big, sizeof big, 0), HL_EINVAL);
    assert_int_equal(hl_matcher_add(m, "a", 1, -1), HL_EINVAL);
    hl_matcher_build(m); /* no patterns: scanning finds nothing */
    h.total = 0;
    hl_matcher_scan(m, text, strlen(text), on_hit, &h);
    assert_int_equal(h.total, 0);
    hl_matcher_destroy(&m);
}

/* Random patterns over a small alphabet (many overlaps) against naive search. */
static void test_random_against_naive(void **state)
{
    (void)state;
    srand(11);
    for (int round = 0; round < 50; round++) {
        hl_matcher_t *m = hl_matcher_new();
        char pats[32][8];
        int np = 1 + rand() % 32;
        for (int i = 0; i < np; i++) {
            int len = 1 + rand() % 6;
            for (int k = 0; k < len; k++) pats[i][k] = (char)("abc\xe4\xbd"[rand() % 5]);
            pats[i][len] = '\0';
            assert_int_equal(hl_matcher_add(m, pats[i], (size_t)len, i), 0);
        }
        hl_matcher_build(m);
        char text[400];
        size_t tl = (size_t)(rand() % 400);
        for (size_t k = 0; k < tl; k++) text[k] = (char)("abcd\xe4\xbd\x00\xff"[rand() % 8]);
        hits_t h;
        memset(&h, 0, sizeof h);
        hl_matcher_scan(m, text, tl, on_hit, &h);
        for (int i = 0; i < np; i++)
            if (h.count[i] != naive(text, tl, pats[i]))
                fail_msg("round %d pattern %d: %d hits, naive %d", round, i, h.count[i],
                         naive(text, tl, pats[i]));
        hl_matcher_destroy(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classic),
        cmocka_unit_test(test_chinese_and_duplicates),
        cmocka_unit_test(test_random_against_naive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
