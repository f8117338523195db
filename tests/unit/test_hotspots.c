/* test_hotspots.c - spikes of a category x region, clusters of alike texts,
 * and the grouping under them (hl_simsig_group). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/hotspots.h"
#include "hotline/similar.h"

static void test_spikes(void **state)
{
    (void)state;
    /* A day against 28 days before it. */
    const hl_hot_cell_t cells[] = {
        {6, 0},    /* new: 6 today, never before: score 6 */
        {30, 280}, /* 10 a day usually: 3x exactly, a spike: (30-10)/sqrt(11) = 6.03 */
        {29, 280}, /* just under 3x: none */
        {4, 0},    /* too few */
        {100, 28 * 40}, /* busy but usual */
        {5, 0},    /* the least count: score 5 */
    };
    hl_spike_opts_t o = {28, 3, 5};
    hl_spike_t out[6];
    size_t n = hl_hot_spikes(cells, 6, &o, out);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].cell, 1);
    assert_true(out[0].usual > 9.999 && out[0].usual < 10.001);
    assert_true(out[0].score > 6.03 && out[0].score < 6.04);
    assert_int_equal(out[1].cell, 0);
    assert_true(out[1].score == 6.0 && out[1].usual == 0.0);
    assert_int_equal(out[2].cell, 5);
    assert_int_equal(hl_hot_spikes(cells, 0, &o, out), 0);
    /* A zero-length baseline counts as one window, not a division by zero. */
    hl_spike_opts_t z = {0, 3, 5};
    assert_int_equal(hl_hot_spikes(cells, 1, &z, out), 1);
}

static void test_clusters(void **state)
{
    (void)state;
    const char *texts[] = {
        "锦绣花园小区门口道路积水严重，下雨后车辆无法通行",    /* 0 */
        "单位拖欠工资三个月，请劳动部门帮忙追讨",              /* 1 */
        "锦绣花园小区门口的道路积水很严重，下雨以后无法通行",  /* 2 */
        "幸福小区3栋路灯坏了，晚上出门很黑",                  /* 3 */
        "锦绣花园小区门口道路积水严重，下雨后车辆行人无法通行", /* 4 */
        "幸福小区3栋楼下路灯坏了，晚上很黑",                  /* 5 */
        "单位拖欠工资三个月，请劳动部门帮忙追讨",              /* 6: 1 again */
    };
    size_t lens[7];
    for (int i = 0; i < 7; i++) lens[i] = strlen(texts[i]);
    hl_hot_cluster_t *c;
    size_t n = hl_hot_clusters(texts, lens, 7, 0.35, 2, &c);
    assert_int_equal(n, 3);
    assert_int_equal(c[0].n, 3); /* largest first, members in the order given */
    assert_int_equal(c[0].members[0], 0);
    assert_int_equal(c[0].members[1], 2);
    assert_int_equal(c[0].members[2], 4);
    assert_int_equal(c[1].n, 2); /* a tie: the earlier first member first */
    assert_int_equal(c[1].members[0], 1);
    assert_int_equal(c[1].members[1], 6);
    assert_int_equal(c[2].members[0], 3);
    assert_int_equal(c[2].members[1], 5);
    hl_hot_clusters_free(c, n);
    n = hl_hot_clusters(texts, lens, 7, 0.35, 3, &c);
    assert_int_equal(n, 1);
    hl_hot_clusters_free(c, n);
    n = hl_hot_clusters(texts, lens, 0, 0.35, 2, &c);
    assert_int_equal(n, 0);
    hl_hot_clusters_free(c, n);
}

static void test_group(void **state)
{
    (void)state;
    const char *t[] = {"路灯坏了很多天晚上很黑", "工资拖欠三个月", "路灯坏了很多天晚上很黑啊", "无关的话"};
    hl_simsig_t s[4];
    for (int i = 0; i < 4; i++) hl_simsig_of(&s[i], t[i], strlen(t[i]));
    size_t g[4];
    const bool skip[4] = {false, false, false, true};
    assert_int_equal(hl_simsig_group(s, skip, 4, 0.5, g), 2);
    assert_int_equal(g[0], 0);
    assert_int_equal(g[1], 1);
    assert_int_equal(g[2], 0);
    assert_int_equal(g[3], SIZE_MAX);
    assert_int_equal(hl_simsig_group(s, NULL, 4, 1.01, g), 4); /* nothing is that alike */
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_spikes), cmocka_unit_test(test_clusters),
                                       cmocka_unit_test(test_group)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
