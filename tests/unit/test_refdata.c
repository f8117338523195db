/* test_refdata.c - sealing and querying a reference-data snapshot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "demo_refdata.h"

static void expect_rejected(hl_refdata_t *rd, const char *needle)
{
    char err[HL_ERR_LEN] = "";
    assert_int_equal(hl_refdata_finish(rd, err), HL_EINVAL);
    if (!strstr(err, needle)) fail_msg("'%s' lacks '%s'", err, needle);
    hl_refdata_destroy(&rd);
}

static void test_sealed_demo(void **state)
{
    (void)state;
    hl_refdata_t *rd = demo_refdata();
    char err[HL_ERR_LEN];
    assert_int_equal(hl_refdata_finish(rd, err), 0);
    assert_string_equal(hl_refdata_top_region(rd), "990100");
    const char *chain[HL_MAX_CHAIN];
    assert_int_equal(hl_refdata_region_chain(rd, "990101001", chain), 3);
    assert_string_equal(chain[2], "990100");
    assert_int_equal(hl_refdata_region_chain(rd, "999999", chain), 0);
    assert_int_equal(hl_refdata_region_chain(rd, NULL, chain), 0);
    assert_true(hl_refdata_has_unit(rd, "GAS"));
    assert_false(hl_refdata_has_unit(rd, "RETIRED")); /* inactive */
    const char *const *units;
    assert_int_equal(hl_refdata_units(rd, &units), 8);
    assert_null(hl_refdata_route(rd, "environment", chain, 0));
    assert_null(hl_refdata_route(rd, "nope", chain, 0));
    /* A builder call on a sealed snapshot is refused. */
    assert_int_equal(hl_refdata_add_unit(rd, "LATE", true), HL_EINVAL);
    hl_refdata_destroy(&rd);
    assert_null(rd);
}

static void test_rejects_inconsistent_data(void **state)
{
    (void)state;
    hl_refdata_t *rd = demo_refdata();
    assert_int_equal(hl_refdata_add_region(rd, "990199", "990177", 2), 0);
    expect_rejected(rd, "unknown parent 990177");

    rd = demo_refdata();
    assert_int_equal(hl_refdata_add_route(rd, "labour", "990101", "RETIRED"), 0);
    expect_rejected(rd, "inactive or unknown unit RETIRED");

    rd = demo_refdata();
    assert_int_equal(hl_refdata_add_assisting(rd, "labour", "990100", "GHOST"), 0);
    expect_rejected(rd, "assisting unit GHOST");

    rd = hl_refdata_new();
    assert_int_equal(hl_refdata_add_region(rd, "990100", NULL, 1), 0);
    expect_rejected(rd, "('*', '*', '*')");

    rd = hl_refdata_new();
    expect_rejected(rd, "no top-level region");

    rd = demo_refdata();
    assert_int_equal(hl_refdata_add_day(rd, "123456", 20000, HL_DAY_HOLIDAY), 0);
    expect_rejected(rd, "unknown region 123456");

    /* Builders refuse bad input outright. */
    rd = hl_refdata_new();
    assert_int_equal(hl_refdata_add_region(rd, "12ab56", NULL, 1), HL_EINVAL);
    assert_int_equal(hl_refdata_add_region(rd, "12345", NULL, 1), HL_EINVAL);
    assert_int_equal(hl_refdata_add_keyword(rd, "nope", "x"), HL_EINVAL);
    assert_int_equal(hl_refdata_add_assisting(rd, "nope", "990100", "X"), HL_EINVAL);
    assert_int_equal(hl_refdata_add_day(rd, "*", 1, (hl_day_kind_t)7), HL_EINVAL);
    assert_int_equal(hl_refdata_add_unit(rd, "U", true), 0);
    assert_int_equal(hl_refdata_add_unit(rd, "U", true), HL_EEXIST);
    hl_refdata_destroy(&rd);
}

static void test_local_calendar(void **state)
{
    (void)state;
    hl_refdata_t *rd = demo_refdata();
    /* A local holiday in one district only. */
    int64_t day = hl_days_from_civil(2025, 11, 3);
    assert_int_equal(hl_refdata_add_day(rd, "990101", day, HL_DAY_HOLIDAY), 0);
    char err[HL_ERR_LEN];
    assert_int_equal(hl_refdata_finish(rd, err), 0);
    const char *chain[HL_MAX_CHAIN];
    int n = hl_refdata_region_chain(rd, "990101001", chain);
    assert_false(hl_calendar_is_workday(hl_refdata_calendar(rd, chain, n), day));
    n = hl_refdata_region_chain(rd, "990102", chain);
    assert_true(hl_calendar_is_workday(hl_refdata_calendar(rd, chain, n), day));
    /* The national days hold everywhere. */
    assert_false(hl_calendar_is_workday(hl_refdata_calendar(rd, chain, n), hl_days_from_civil(2025, 10, 2)));
    hl_refdata_destroy(&rd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sealed_demo),
        cmocka_unit_test(test_rejects_inconsistent_data),
        cmocka_unit_test(test_local_calendar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
