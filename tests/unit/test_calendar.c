/* test_calendar.c - working-day arithmetic on the 2025 and 2026 calendars. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/calendar.h"
#include "hotline/clock.h"
#include "hotline/policy.h"

#define CST 480

static hl_calendar_t *cal;

static int64_t day(int y, unsigned m, unsigned d)
{
    return hl_days_from_civil(y, m, d);
}

static void holidays(int y, unsigned m, unsigned d1, unsigned m2, unsigned d2)
{
    for (int64_t x = day(y, m, d1); x <= day(y, m2, d2); x++)
        assert_int_equal(hl_calendar_set(cal, x, HL_DAY_HOLIDAY), 0);
}

static void workday(int y, unsigned m, unsigned d)
{
    assert_int_equal(hl_calendar_set(cal, day(y, m, d), HL_DAY_WORKDAY), 0);
}

/* The national calendars of 2025 and 2026, as in deploy/sql/002_calendar.sql. */
static int setup(void **state)
{
    (void)state;
    cal = hl_calendar_new();
    holidays(2025, 1, 1, 1, 1);
    holidays(2025, 1, 28, 2, 4);
    holidays(2025, 4, 4, 4, 6);
    holidays(2025, 5, 1, 5, 5);
    holidays(2025, 5, 31, 6, 2);
    holidays(2025, 10, 1, 10, 8);
    workday(2025, 1, 26);
    workday(2025, 2, 8);
    workday(2025, 4, 27);
    workday(2025, 9, 28);
    workday(2025, 10, 11);
    holidays(2026, 1, 1, 1, 3);
    holidays(2026, 2, 15, 2, 23);
    holidays(2026, 4, 4, 4, 6);
    holidays(2026, 5, 1, 5, 5);
    holidays(2026, 6, 19, 6, 21);
    holidays(2026, 9, 25, 9, 27);
    holidays(2026, 10, 1, 10, 7);
    workday(2026, 1, 4);
    workday(2026, 2, 14);
    workday(2026, 2, 28);
    workday(2026, 5, 9);
    workday(2026, 9, 20);
    workday(2026, 10, 10);
    hl_calendar_mark_year(cal, 2025);
    hl_calendar_mark_year(cal, 2026);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hl_calendar_destroy(&cal);
    assert_null(cal);
    return 0;
}

static int64_t at(const char *iso)
{
    int64_t ms = 0;
    assert_int_equal(hl_iso8601_parse(iso, &ms), 0);
    return ms;
}

static void expect_due(const char *from, int amount, hl_limit_unit_t unit, hl_count_rule_t rule,
                       const char *want)
{
    hl_limit_t l = {amount, unit};
    bool est = false;
    char got[HL_ISO8601_LEN];
    hl_iso8601(hl_limit_add(cal, at(from), l, rule, CST, &est), CST, got);
    if (strcmp(got, want) != 0)
        fail_msg("%s + %d %s: got %s, want %s", from, amount, hl_limit_unit_name(unit), got, want);
    assert_false(est);
}

static void test_weekday_rule(void **state)
{
    (void)state;
    assert_int_equal(hl_weekday(day(2026, 11, 22)), 0); /* Sunday */
    assert_false(hl_calendar_is_workday(cal, day(2026, 11, 21)));
    assert_true(hl_calendar_is_workday(cal, day(2026, 11, 23)));
    /* Make-up Sunday and a weekday holiday. */
    assert_true(hl_calendar_is_workday(cal, day(2025, 1, 26)));
    assert_false(hl_calendar_is_workday(cal, day(2025, 10, 8)));
}

static void test_across_weekend(void **state)
{
    (void)state;
    /* Friday afternoon, 2 working days from the next day: Mon, Tue. */
    expect_due("2026-11-20T16:00:00+08:00", 2, HL_LIMIT_WORKING_DAYS, HL_COUNT_NEXT_DAY,
               "2026-11-24T23:59:59.999+08:00");
    /* Received on a Saturday: Mon is day 1. */
    expect_due("2026-11-21T09:00:00+08:00", 1, HL_LIMIT_WORKING_DAYS, HL_COUNT_NEXT_DAY,
               "2026-11-23T23:59:59.999+08:00");
}

static void test_spring_festival_2025(void **state)
{
    (void)state;
    /* Mon 27 Jan, the day before the holiday: 28 Jan - 4 Feb off. */
    expect_due("2025-01-27T10:00:00+08:00", 2, HL_LIMIT_WORKING_DAYS, HL_COUNT_NEXT_DAY,
               "2025-02-06T23:59:59.999+08:00");
    /* Saturday 25 Jan: Sunday 26 Jan is a make-up working day. */
    expect_due("2025-01-25T10:00:00+08:00", 2, HL_LIMIT_WORKING_DAYS, HL_COUNT_NEXT_DAY,
               "2025-01-27T23:59:59.999+08:00");
    /* Make-up Saturday 8 Feb counts: Wed 5, Thu 6, Fri 7, Sat 8. */
    expect_due("2025-02-04T10:00:00+08:00", 4, HL_LIMIT_WORKING_DAYS, HL_COUNT_NEXT_DAY,
               "2025-02-08T23:59:59.999+08:00");
}

static void test_spring_festival_2026(void **state)
{
    (void)state;
    /* Fri 13 Feb: Sat 14 (make-up) is day 1, 15-23 off, Sat 28 (make-up) counts. */
    expect_due("2026-02-13T11:00:00+08:00", 15, HL_LIMIT_WORKING_DAYS, HL_COUNT_NEXT_DAY,
               "2026-03-12T23:59:59.999+08:00");
    expect_due("2026-02-13T11:00:00+08:00", 2, HL_LIMIT_WORKING_DAYS, HL_COUNT_NEXT_DAY,
               "2026-02-24T23:59:59.999+08:00");
}

static void test_golden_week_2025(void **state)
{
    (void)state;
    /* Tue 30 Sep: 1-8 Oct off; Sat 11 Oct is a make-up working day. */
    expect_due("2025-09-30T15:00:00+08:00", 10, HL_LIMIT_WORKING_DAYS, HL_COUNT_NEXT_DAY,
               "2025-10-21T23:59:59.999+08:00");
    /* Sun 28 Sep is a make-up working day, counted from Sat 27. */
    expect_due("2025-09-27T15:00:00+08:00", 1, HL_LIMIT_WORKING_DAYS, HL_COUNT_NEXT_DAY,
               "2025-09-28T23:59:59.999+08:00");
}

static void test_golden_week_2026(void **state)
{
    (void)state;
    /* Sat 19 Sep 2026: Sun 20 make-up (1), Mon-Thu 21-24 (2-5), 25-27 off,
     * Mon-Wed 28-30 (6-8), 1-7 Oct off, Thu 8 (9), Fri 9 (10). */
    expect_due("2026-09-19T08:00:00+08:00", 10, HL_LIMIT_WORKING_DAYS, HL_COUNT_NEXT_DAY,
               "2026-10-09T23:59:59.999+08:00");
    /* ... and Sat 10 Oct is a make-up working day (11). */
    expect_due("2026-09-19T08:00:00+08:00", 11, HL_LIMIT_WORKING_DAYS, HL_COUNT_NEXT_DAY,
               "2026-10-10T23:59:59.999+08:00");
}

static void test_hours_natural_time(void **state)
{
    (void)state;
    /* Hour limits run through the night and holidays. */
    expect_due("2025-10-01T22:30:00+08:00", 24, HL_LIMIT_HOURS, HL_COUNT_NEXT_DAY,
               "2025-10-02T22:30:00.000+08:00");
    expect_due("2026-02-16T23:50:00+08:00", 30, HL_LIMIT_MINUTES, HL_COUNT_NEXT_DAY,
               "2026-02-17T00:20:00.000+08:00");
    expect_due("2026-12-31T23:00:00+08:00", 2, HL_LIMIT_HOURS, HL_COUNT_SAME_DAY,
               "2027-01-01T01:00:00.000+08:00");
}

static void test_natural_days(void **state)
{
    (void)state;
    expect_due("2025-09-30T15:00:00+08:00", 7, HL_LIMIT_NATURAL_DAYS, HL_COUNT_NEXT_DAY,
               "2025-10-07T23:59:59.999+08:00");
    expect_due("2025-09-30T15:00:00+08:00", 7, HL_LIMIT_NATURAL_DAYS, HL_COUNT_SAME_DAY,
               "2025-10-06T23:59:59.999+08:00");
}

static void test_counting_rule(void **state)
{
    (void)state;
    /* Monday 09:00: same_day counts Monday itself. */
    expect_due("2026-11-23T09:00:00+08:00", 2, HL_LIMIT_WORKING_DAYS, HL_COUNT_SAME_DAY,
               "2026-11-24T23:59:59.999+08:00");
    expect_due("2026-11-23T09:00:00+08:00", 2, HL_LIMIT_WORKING_DAYS, HL_COUNT_NEXT_DAY,
               "2026-11-25T23:59:59.999+08:00");
    /* same_day on a holiday: the holiday itself does not count. */
    expect_due("2025-10-01T09:00:00+08:00", 1, HL_LIMIT_WORKING_DAYS, HL_COUNT_SAME_DAY,
               "2025-10-09T23:59:59.999+08:00");
}

static void test_local_midnight(void **state)
{
    (void)state;
    /* 23:59 local on Friday is still Friday; 00:01 Saturday UTC+8 is Saturday. */
    expect_due("2026-11-20T23:59:00+08:00", 1, HL_LIMIT_WORKING_DAYS, HL_COUNT_NEXT_DAY,
               "2026-11-23T23:59:59.999+08:00");
    /* 2026-11-20T16:30Z is Saturday 00:30 local. */
    expect_due("2026-11-20T16:30:00Z", 1, HL_LIMIT_WORKING_DAYS, HL_COUNT_SAME_DAY,
               "2026-11-23T23:59:59.999+08:00");
}

static void test_unknown_year_estimated(void **state)
{
    (void)state;
    hl_limit_t l = {10, HL_LIMIT_WORKING_DAYS};
    bool est = false;
    (void)hl_limit_add(cal, at("2026-12-28T10:00:00+08:00"), l, HL_COUNT_NEXT_DAY, CST, &est);
    assert_true(est);
    est = false;
    (void)hl_limit_add(cal, at("2026-11-02T10:00:00+08:00"), l, HL_COUNT_NEXT_DAY, CST, &est);
    assert_false(est);
    /* Hours never depend on the calendar. */
    l.unit = HL_LIMIT_HOURS;
    (void)hl_limit_add(cal, at("2027-12-28T10:00:00+08:00"), l, HL_COUNT_NEXT_DAY, CST, &est);
    assert_false(est);
}

static void test_set_out_of_range(void **state)
{
    (void)state;
    assert_int_equal(hl_calendar_set(cal, -1, HL_DAY_HOLIDAY), HL_EINVAL);
    assert_int_equal(hl_calendar_set(cal, day(2300, 1, 1), HL_DAY_HOLIDAY), HL_EINVAL);
    hl_calendar_t *c2 = hl_calendar_clone(cal);
    assert_int_equal(hl_calendar_set(c2, day(2026, 11, 23), HL_DAY_HOLIDAY), 0);
    assert_false(hl_calendar_is_workday(c2, day(2026, 11, 23)));
    assert_true(hl_calendar_is_workday(cal, day(2026, 11, 23)));
    assert_true(hl_calendar_knows_year(c2, 2026));
    hl_calendar_destroy(&c2);
}

static void test_policy_lookup(void **state)
{
    (void)state;
    hl_policy_t *p = hl_policy_new();
    hl_policy_row_t any = {0}, complaint = {0}, urgent = {0}, district = {0};
    any.sign = (hl_limit_t){24, HL_LIMIT_HOURS};
    any.contact = (hl_limit_t){1, HL_LIMIT_WORKING_DAYS};
    any.reply = (hl_limit_t){10, HL_LIMIT_WORKING_DAYS};
    any.extension = (hl_limit_t){10, HL_LIMIT_WORKING_DAYS};
    any.return_window = (hl_limit_t){2, HL_LIMIT_WORKING_DAYS};
    any.callback = (hl_limit_t){3, HL_LIMIT_WORKING_DAYS};
    any.callback_attempts = 3;
    complaint = any;
    complaint.type = HOTLINE__REQUEST_TYPE__TYPE_COMPLAINT;
    complaint.reply.amount = 15;
    urgent = any;
    urgent.urgency = HOTLINE__URGENCY__URGENCY_URGENT;
    urgent.reply = (hl_limit_t){24, HL_LIMIT_HOURS};
    district = any;
    strcpy(district.region, "990101");
    district.reply.amount = 7;
    assert_int_equal(hl_policy_add(p, &any), 0);
    assert_int_equal(hl_policy_add(p, &complaint), 0);
    assert_int_equal(hl_policy_add(p, &urgent), 0);
    assert_int_equal(hl_policy_add(p, &district), 0);
    assert_int_equal(hl_policy_add(p, &district), HL_EEXIST);
    hl_policy_row_t bad = any;
    bad.reply.amount = 0;
    assert_int_equal(hl_policy_add(p, &bad), HL_EINVAL);
    bad.reply.amount = 100000;
    assert_int_equal(hl_policy_add(p, &bad), HL_EINVAL);

    const char *chain[] = {"990101001", "990101", "990100"};
    const hl_policy_row_t *r;
    r = hl_policy_find(p, HOTLINE__REQUEST_TYPE__TYPE_COMPLAINT, HOTLINE__URGENCY__URGENCY_NORMAL, chain, 3);
    assert_ptr_equal(r, hl_policy_find(p, HOTLINE__REQUEST_TYPE__TYPE_COMPLAINT, 0, NULL, 0));
    assert_int_equal(r->reply.amount, 15);
    /* An urgent rule anywhere beats a district's generic rule. */
    r = hl_policy_find(p, HOTLINE__REQUEST_TYPE__TYPE_HELP, HOTLINE__URGENCY__URGENCY_URGENT, chain, 3);
    assert_int_equal(r->reply.unit, HL_LIMIT_HOURS);
    /* The district's row applies to its streets. */
    r = hl_policy_find(p, HOTLINE__REQUEST_TYPE__TYPE_HELP, HOTLINE__URGENCY__URGENCY_NORMAL, chain, 3);
    assert_int_equal(r->reply.amount, 7);
    r = hl_policy_find(p, HOTLINE__REQUEST_TYPE__TYPE_HELP, HOTLINE__URGENCY__URGENCY_NORMAL, chain + 2, 1);
    assert_int_equal(r->reply.amount, 10);

    hl_deadlines_t d;
    hl_policy_deadlines(urgent.reply.unit == HL_LIMIT_HOURS ? &urgent : &any, cal,
                        at("2025-10-01T10:00:00+08:00"), HL_COUNT_NEXT_DAY, CST, &d);
    assert_int_equal(d.reply - at("2025-10-01T10:00:00+08:00"), 24 * 3600000LL);
    assert_false(d.estimated);
    hl_policy_destroy(&p);
    assert_null(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weekday_rule),
        cmocka_unit_test(test_across_weekend),
        cmocka_unit_test(test_spring_festival_2025),
        cmocka_unit_test(test_spring_festival_2026),
        cmocka_unit_test(test_golden_week_2025),
        cmocka_unit_test(test_golden_week_2026),
        cmocka_unit_test(test_hours_natural_time),
        cmocka_unit_test(test_natural_days),
        cmocka_unit_test(test_counting_rule),
        cmocka_unit_test(test_local_midnight),
        cmocka_unit_test(test_unknown_year_estimated),
        cmocka_unit_test(test_set_out_of_range),
        cmocka_unit_test(test_policy_lookup),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
