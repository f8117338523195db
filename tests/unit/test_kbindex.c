/* test_kbindex.c - the knowledge-base index: ranking, filters, validity,
 * replacement and removal (with rebuilds) against a brute-force reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/kbindex.h"
#include "hotline/ticket.h"

static const char *const titles[] = {
    "小区路灯不亮怎么办", "公积金提取需要哪些材料", "新生儿医保如何办理", "养老保险转移接续流程",
    "噪音扰民投诉渠道", "出租车拒载如何投诉", "燃气费缴纳方式", "自来水停水通知查询",
};

static void put(hl_kbindex_t *ix, int64_t id, int32_t v, const char *title, const char *answer, const char *cat,
                int64_t from, int64_t to)
{
    hl_kb_entry_t e = {id, v, title, NULL, answer, cat, from, to};
    assert_int_equal(hl_kbindex_put(ix, &e), 0);
}

static size_t search(hl_kbindex_t *ix, const char *q, const char *cat, int64_t now, hl_kb_hit_t *h, size_t max)
{
    hl_kbscratch_t s = {0};
    size_t n = hl_kbindex_search(ix, &s, q, strlen(q), cat, now, 0.0f, h, max);
    hl_kbscratch_free(&s);
    return n;
}

static void test_ranking(void **state)
{
    (void)state;
    hl_kbindex_t *ix = hl_kbindex_new();
    for (int i = 0; i < 8; i++) put(ix, i + 1, 1, titles[i], "请拨打热线咨询。", i < 4 ? "housing" : "transport", 0, 0);
    hl_kb_hit_t h[5];
    size_t n = search(ix, "我们小区的路灯坏了不亮", NULL, 1000, h, 5);
    assert_true(n >= 1);
    assert_int_equal(h[0].id, 1);
    assert_true(h[0].score > 0.2f);
    for (size_t i = 1; i < n; i++) assert_true(h[i - 1].score >= h[i].score);
    /* Same text as a question: a score near 1. */
    n = search(ix, "公积金提取需要哪些材料", NULL, 1000, h, 5);
    assert_int_equal(h[0].id, 2);
    assert_true(h[0].score > 0.9f);
    /* Category filter by code or parent code. */
    put(ix, 20, 1, "路灯维修进度查询", "由城管部门负责。", "transport.road", 0, 0);
    n = search(ix, "路灯", "transport", 1000, h, 5);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].id, 20);
    n = search(ix, "路灯", "transport.road", 1000, h, 5);
    assert_int_equal(n, 1);
    assert_int_equal(search(ix, "路灯", "transport.ro", 1000, h, 5), 0);
    /* Nothing matches, nothing returned; empty and punctuation-only queries. */
    assert_int_equal(search(ix, "火星探测器", NULL, 1000, h, 5), 0);
    assert_int_equal(search(ix, "", NULL, 1000, h, 5), 0);
    assert_int_equal(search(ix, "！？。，", NULL, 1000, h, 5), 0);
    /* Invalid UTF-8 in a query is read, not trusted; in an entry refused. */
    search(ix, "\xff\xfe路灯\xc0", NULL, 1000, h, 5);
    hl_kb_entry_t bad = {99, 1, "\xff路灯", NULL, "x", NULL, 0, 0};
    assert_true(hl_kbindex_put(ix, &bad) != 0);
    assert_int_equal(hl_kbindex_version(ix, 99), 0);
    hl_kb_entry_t untitled = {98, 1, "", NULL, "x", NULL, 0, 0};
    assert_true(hl_kbindex_put(ix, &untitled) != 0);
    hl_kbindex_free(&ix);
    assert_null(ix);
}

static void test_validity_and_replace(void **state)
{
    (void)state;
    hl_kbindex_t *ix = hl_kbindex_new();
    put(ix, 1, 1, "春节期间公交运营时间", "除夕当天末班车提前到20点。", NULL, 1000, 2000);
    hl_kb_hit_t h[3];
    assert_int_equal(search(ix, "春节公交运营时间", NULL, 999, h, 3), 0);  /* not yet */
    assert_int_equal(search(ix, "春节公交运营时间", NULL, 1000, h, 3), 1); /* from */
    assert_int_equal(search(ix, "春节公交运营时间", NULL, 1999, h, 3), 1);
    assert_int_equal(search(ix, "春节公交运营时间", NULL, 2000, h, 3), 0); /* to is exclusive */
    /* A new version replaces the old: its text, its version. */
    put(ix, 1, 2, "国庆期间地铁运营时间", "延长至次日1点。", NULL, 0, 0);
    assert_int_equal(hl_kbindex_count(ix), 1);
    assert_int_equal(hl_kbindex_version(ix, 1), 2);
    assert_int_equal(search(ix, "春节公交", NULL, 5000, h, 3), 0);
    assert_int_equal(search(ix, "国庆地铁运营时间", NULL, 5000, h, 3), 1);
    assert_int_equal(h[0].version, 2);
    assert_string_equal(h[0].answer, "延长至次日1点。");
    assert_true(hl_kbindex_remove(ix, 1));
    assert_false(hl_kbindex_remove(ix, 1));
    assert_int_equal(search(ix, "国庆地铁运营时间", NULL, 5000, h, 3), 0);
    assert_int_equal(hl_kbindex_count(ix), 0);
    hl_kbindex_free(&ix);
}

/* A title unique to the entry (digits would all read as 0). */
static void name(char *buf, size_t size, int id, int version)
{
    snprintf(buf, size, "问题%c%c%c版本%c", 'a' + id % 26, 'a' + id / 26 % 26, 'a' + id / 676 % 26, 'a' + version % 26);
}

/* Many puts, replacements and removals (rebuilds included) against a plain
 * list of what should be there: every live entry is found by its own title
 * first (titles are unique), no removed one is ever found. */
static void test_churn(void **state)
{
    (void)state;
    enum { N = 3000 };
    static int32_t version[N + 1];
    memset(version, 0, sizeof version);
    hl_kbindex_t *ix = hl_kbindex_new();
    hl_kbscratch_t s = {0};
    unsigned seed = 7;
    char title[128], answer[128];
    for (int round = 0; round < 20000; round++) {
        seed = seed * 1103515245u + 12345u;
        int id = 1 + (int)((seed >> 8) % N);
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) % 4 == 0) {
            assert_int_equal(hl_kbindex_remove(ix, id), version[id] != 0);
            version[id] = 0;
        } else {
            version[id]++;
            name(title, sizeof title, id, version[id]);
            snprintf(answer, sizeof answer, "答复%d", id);
            put(ix, id, version[id], title, answer, NULL, 0, 0);
        }
    }
    size_t live = 0;
    for (int id = 1; id <= N; id++) {
        assert_int_equal(hl_kbindex_version(ix, id), version[id]);
        if (!version[id]) continue;
        live++;
        name(title, sizeof title, id, version[id]);
        hl_kb_hit_t h[3];
        size_t n = hl_kbindex_search(ix, &s, title, strlen(title), NULL, 0, 0.0f, h, 3);
        assert_true(n >= 1);
        /* digits normalise to 0, so ties are possible: the entry is among the equal best */
        bool found = false;
        for (size_t k = 0; k < n && h[k].score >= h[0].score - 1e-6f; k++) found |= h[k].id == id && h[k].version == version[id];
        if (!found) fail_msg("entry %d v%d not found first", id, version[id]);
    }
    assert_int_equal(hl_kbindex_count(ix), live);
    hl_kbscratch_free(&s);
    hl_kbindex_free(&ix);
}

/* A category filter: a code is within itself and its parents, whole parts only. */
static void test_category_within(void **state)
{
    (void)state;
    const char *c = "construction.water";
    assert_true(hl_category_within(c, strlen(c), "construction"));
    assert_true(hl_category_within(c, strlen(c), c));
    assert_true(hl_category_within(c, strlen(c), ""));
    assert_true(hl_category_within(c, strlen(c), NULL));
    assert_false(hl_category_within(c, strlen(c), "construct"));
    assert_false(hl_category_within(c, strlen(c), "construction.water.pipes"));
    assert_false(hl_category_within(c, 12, "construction.water")); /* a prefix of the code's bytes */
    assert_true(hl_category_within(c, 12, "construction"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranking),
        cmocka_unit_test(test_validity_and_replace),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_category_within),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
