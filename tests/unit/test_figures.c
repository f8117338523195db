/* test_figures.c - which counters an event counts for, as the router
 * counts live (the same rules as hl_metric_matches in SQL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/figures.h"

static char hits[512];

static void note(const char *name, void *arg)
{
    (void)arg;
    strcat(hits, name);
    strcat(hits, " ");
}

static const char *match(const hl_figures_t *m, const hl_figure_event_t *e)
{
    hits[0] = '\0';
    (void)hl_figures_match(m, e, note, NULL);
    return hits;
}

/* Add a counter from its metric_counters columns (anonymous last). */
static int add(hl_figures_t *m, const char *name, const char *kinds, const char *states, const char *key,
               const char *values, const char *on_time, const char *any, const char *none, const char *anonymous)
{
    hl_figure_def_t d = {name, kinds, states, key, values, on_time, any, none, anonymous};
    return hl_figures_add(m, &d);
}

static hl_figures_t *defs(void)
{
    hl_figures_t *m = hl_figures_new();
    assert_int_equal(add(m, "dispatched", "{intake,dispatch}", "{DISPATCHED}", NULL, NULL, NULL, NULL,
                                    NULL, NULL), 0);
    assert_int_equal(add(m, "replied_on_time", "{reply}", NULL, NULL, NULL, "reply", NULL, NULL, NULL), 0);
    assert_int_equal(add(m, "satisfied", "{callback}", NULL, "satisfaction", "{satisfied,basically}",
                                    NULL, NULL, NULL, NULL), 0);
    assert_int_equal(add(m, "kb_direct", "{close_direct}", NULL, "kb_entry", NULL, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(add(m, "first_time", "{close}", NULL, NULL, NULL, NULL, NULL,
                                    "{return_approved,reopened,merged}", NULL), 0);
    assert_int_equal(add(m, "closed", "{close}", NULL, NULL, NULL, NULL, NULL, "{merged}", NULL), 0);
    assert_int_equal(add(m, "supervised_resolved", "{callback}", NULL, "resolution", "{resolved}", NULL,
                                    "{supervised}", NULL, NULL), 0);
    assert_int_equal(add(m, "callback_required", "{close}", NULL, NULL, NULL, NULL, NULL, "{merged}", "f"), 0);
    assert_int_equal(hl_figures_count(m), 8);
    return m;
}

static void test_rules(void **state)
{
    (void)state;
    hl_figures_t *m = defs();
    hl_figure_event_t e = {.kind = "intake", .to_state = "DISPATCHED"};
    assert_string_equal(match(m, &e), "dispatched ");
    e.to_state = "PENDING_DISPATCH";
    assert_string_equal(match(m, &e), "");

    /* On time: at or before the deadline in force, never without one. */
    e = (hl_figure_event_t){.kind = "reply", .to_state = "REPLIED", .at_ms = 1000, .due_ms = {0, 0, 1000, 0}};
    assert_string_equal(match(m, &e), "replied_on_time ");
    e.at_ms = 1001;
    assert_string_equal(match(m, &e), "");
    e.at_ms = 5, e.due_ms[2] = 0;
    assert_string_equal(match(m, &e), "");

    /* Payload values, and a key present. */
    const char *k[] = {"outcome", "satisfaction", "resolution"}, *v[] = {"rated", "basically", "resolved"};
    e = (hl_figure_event_t){.kind = "callback", .to_state = "CALLBACK", .npayload = 3, .keys = k, .values = v};
    assert_string_equal(match(m, &e), "satisfied ");
    e.history = HL_FIGURES_SUPERVISED | HL_FIGURES_REOPENED;
    assert_string_equal(match(m, &e), "satisfied supervised_resolved ");
    const char *v2[] = {"rated", "dissatisfied", "resolved"};
    e.values = v2;
    assert_string_equal(match(m, &e), "supervised_resolved ");
    const char *kk[] = {"kb_entry"}, *kv[] = {""};
    e = (hl_figure_event_t){.kind = "close_direct", .to_state = "CLOSED_DIRECT", .npayload = 1, .keys = kk,
                            .values = kv};
    assert_string_equal(match(m, &e), "kb_direct ");
    e.npayload = 0;
    assert_string_equal(match(m, &e), "");

    /* History: none of them, or any one excludes. */
    e = (hl_figure_event_t){.kind = "close", .to_state = "CLOSED"};
    assert_string_equal(match(m, &e), "first_time closed callback_required ");
    e.history = HL_FIGURES_SUPERVISED;
    assert_string_equal(match(m, &e), "first_time closed callback_required ");
    e.history = HL_FIGURES_RETURNED;
    e.anonymous = true;
    assert_string_equal(match(m, &e), "closed ");
    e.history = HL_FIGURES_MERGED;
    assert_string_equal(match(m, &e), "");
    hl_figures_destroy(&m);
    assert_null(m);
}

static void test_history(void **state)
{
    (void)state;
    assert_int_equal(hl_figures_history(0, 0, 0, 0), 0);
    assert_int_equal(hl_figures_history(2, 0, 0, 0), HL_FIGURES_RETURNED);
    assert_int_equal(hl_figures_history(0, 1, 3, 0), HL_FIGURES_REOPENED | HL_FIGURES_SUPERVISED);
    assert_int_equal(hl_figures_history(0, 0, 0, 7000), HL_FIGURES_MERGED);
}

static void test_bad(void **state)
{
    (void)state;
    hl_figures_t *m = hl_figures_new();
    assert_int_equal(add(m, "", "{a}", NULL, NULL, NULL, NULL, NULL, NULL, NULL), HL_EINVAL);
    assert_int_equal(add(m, "x", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), HL_EINVAL);
    assert_int_equal(add(m, "x", "{}", NULL, NULL, NULL, NULL, NULL, NULL, NULL), HL_EINVAL);
    assert_int_equal(add(m, "x", "a,b", NULL, NULL, NULL, NULL, NULL, NULL, NULL), HL_EINVAL);
    assert_int_equal(add(m, "x", "{a,,b}", NULL, NULL, NULL, NULL, NULL, NULL, NULL), HL_EINVAL);
    assert_int_equal(add(m, "x", "{\"a b\"}", NULL, NULL, NULL, NULL, NULL, NULL, NULL), HL_EINVAL);
    assert_int_equal(add(m, "x", "{a}", NULL, NULL, "{v}", NULL, NULL, NULL, NULL), HL_EINVAL);
    assert_int_equal(add(m, "x", "{a}", NULL, NULL, NULL, "tomorrow", NULL, NULL, NULL), HL_EINVAL);
    assert_int_equal(add(m, "x", "{a}", NULL, NULL, NULL, NULL, "{accepted}", NULL, NULL), HL_EINVAL);
    assert_int_equal(add(m, "x", "{a}", NULL, NULL, NULL, NULL, NULL, "{merged,x}", NULL), HL_EINVAL);
    assert_int_equal(add(m, "x", "{a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q}", NULL, NULL, NULL, NULL, NULL,
                                    NULL, NULL), HL_EINVAL);
    assert_int_equal(add(m, "x", "{a}", NULL, NULL, NULL, NULL, NULL, NULL, "yes"), HL_EINVAL);
    assert_int_equal(hl_figures_count(m), 0);
    hl_figures_destroy(&m);
}

static void test_field(void **state)
{
    (void)state;
    char f[64];
    assert_string_equal(hl_figures_field(f, sizeof f, "closed", "U1", "a.b", NULL, "web"), "closed|U1|a.b||web");
    assert_string_equal(hl_figures_field(f, sizeof f, "c", "a|b", "", "r", ""), "c|a/b||r|");
    assert_string_equal(hl_figures_field(f, 8, "counter", "unit", "", "", ""), "counter");
}

static void test_dims(void **state)
{
    (void)state;
    char d[3][HL_FIGURES_DIM_MAX];
    const char *cell = "closed|U1|a.b|990101001|web";
    assert_true(hl_figures_dims(cell, strlen(cell), d));
    assert_string_equal(d[0], "closed|U1|a.b");
    assert_string_equal(d[1], "closed|U1|990101001");
    assert_string_equal(d[2], "closed|U1|web");
    assert_true(hl_figures_dims("held||||", 8, d)); /* no unit, category, region or channel */
    assert_string_equal(d[0], "held||");
    assert_string_equal(d[2], "held||");
    assert_false(hl_figures_dims(cell, 13, d)); /* no further than len: "closed|U1|a.b" */
    assert_false(hl_figures_dims("closed|U1", 9, d)); /* a sum per counter|unit */
    assert_false(hl_figures_dims("a|b|c|d|e|f", 11, d));
    assert_false(hl_figures_dims("", 0, d));
    char big[HL_FIGURES_DIM_MAX + 16];
    memset(big, 'x', sizeof big);
    memcpy(big, "n|u|", 4);
    memcpy(big + sizeof big - 4, "|r|h", 4);
    assert_false(hl_figures_dims(big, sizeof big, d)); /* the category's sum would not fit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_field),
        cmocka_unit_test(test_dims),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
