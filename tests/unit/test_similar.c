/* test_similar.c - text similarity for duplicate detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "hotline/similar.h"

static double sim(const char *a, const char *b)
{
    hl_simsig_t x, y;
    hl_simsig_of(&x, a, strlen(a));
    hl_simsig_of(&y, b, strlen(b));
    return hl_simsig_dice(&x, &y);
}

/* The exact coefficient, for reference: texts of code points 0x4E00 + k
 * (no character skipped), bigram sets compared by brute force. */
static size_t bigrams(const unsigned *cp, size_t n, uint64_t *out)
{
    size_t m = 0;
    for (size_t i = 1; i < n; i++) {
        uint64_t g = (uint64_t)cp[i - 1] << 32 | cp[i];
        size_t j = 0;
        while (j < m && out[j] != g) j++;
        if (j == m) out[m++] = g;
    }
    return m;
}

static size_t utf8_of(const unsigned *cp, size_t n, char *out)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        out[len++] = (char)(0xE0 | cp[i] >> 12);
        out[len++] = (char)(0x80 | (cp[i] >> 6 & 0x3F));
        out[len++] = (char)(0x80 | (cp[i] & 0x3F));
    }
    return len;
}

static void test_estimate(void **state)
{
    (void)state;
    static unsigned a[1200], b[1200];
    static uint64_t ga[1200], gb[1200];
    static char ta[4000], tb[4000];
    srand(7);
    double worst = 0;
    for (int round = 0; round < 60; round++) {
        /* b shares a share of a's text and has text of its own. */
        size_t n = 20 + (size_t)(rand() % 1000), keep = (size_t)(rand() % (int)n);
        for (size_t i = 0; i < n; i++) a[i] = 0x4E00 + (unsigned)(rand() % 3000);
        for (size_t i = 0; i < n; i++) b[i] = i < keep ? a[i] : 0x4E00 + (unsigned)(rand() % 3000);
        size_t na = bigrams(a, n, ga), nb = bigrams(b, n, gb), common = 0;
        for (size_t i = 0; i < na; i++)
            for (size_t j = 0; j < nb; j++) common += ga[i] == gb[j];
        double exact = 2.0 * (double)common / (double)(na + nb);
        hl_simsig_t x, y;
        hl_simsig_of(&x, ta, utf8_of(a, n, ta));
        hl_simsig_of(&y, tb, utf8_of(b, n, tb));
        double est = hl_simsig_dice(&x, &y), err = est > exact ? est - exact : exact - est;
        if (err > worst) worst = err;
    }
    printf("# worst estimate error over 60 pairs of 20-1,000 characters: %.4f\n", worst);
    assert_true(worst < 0.04);
}

static void test_dice(void **state)
{
    (void)state;
    const char *a = "幸福小区3栋门口的路灯坏了一个多星期，晚上很黑。";
    assert_true(sim(a, a) > 0.999);
    /* Punctuation and spacing do not matter. */
    assert_true(sim(a, "幸福小区 3栋门口的路灯坏了一个多星期 晚上很黑") > 0.999);
    /* The same problem told differently is close; another problem is not. */
    double same = sim(a, "幸福小区3栋路灯坏了，晚上出门很黑，请尽快修。");
    double other = sim(a, "单位拖欠工资三个月，请劳动部门帮忙追讨。");
    assert_true(same > 0.35);
    assert_true(other < 0.1);
    assert_true(sim("", a) == 0);
    assert_true(sim("ABC", "abc") > 0.999);
    /* Invalid UTF-8 is skipped, not trusted. */
    assert_true(sim("\xff\xfe\xfd", "abc") == 0);
}

/* Two texts signed as one equal the signature of their joining with a space:
 * the bigram across the join, upper case, skipped and invalid bytes at either
 * end, an empty side, and the character limit reached in the first text. */
static void test_of2(void **state)
{
    (void)state;
    static char long_text[3 * 5000 + 1];
    for (int i = 0; i < 5000; i++) memcpy(long_text + 3 * i, "\xe8\xb7\xaf", 3); /* 路 */
    const char *pairs[][2] = {
        {"路灯不亮", "小区3栋门口的路灯坏了"},
        {"Street LIGHT", "broken AT night"},
        {"路灯。", "，坏了"},
        {"", "只有正文"},
        {"只有标题", ""},
        {"bad \xff", "\xfe end"},
        {"\xe8\xb7", "\xaf tail"},
        {long_text, "后面的字不算"},
    };
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        const char *a = pairs[k][0], *b = pairs[k][1];
        size_t al = strlen(a), bl = strlen(b);
        char *joined = malloc(al + bl + 2);
        memcpy(joined, a, al);
        joined[al] = ' ';
        memcpy(joined + al + 1, b, bl + 1);
        hl_simsig_t one, two;
        hl_simsig_of(&one, joined, al + 1 + bl);
        hl_simsig_of2(&two, a, al, b, bl);
        assert_memory_equal(one.w, two.w, sizeof one.w);
        assert_true(one.card == two.card);
        hl_simsig_of2(&two, joined, al + 1 + bl, NULL, 0);
        assert_memory_equal(one.w, two.w, sizeof one.w);
        free(joined);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_dice), cmocka_unit_test(test_estimate),
                                       cmocka_unit_test(test_of2)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
