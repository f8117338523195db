/* test_slaplan.c - when notices are due: natural time, working days across
 * holidays and a make-up workday, escalation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/clock.h"
#include "hotline/slaplan.h"

#define MIN 60000LL
#define HOUR (60 * MIN)
#define OFF (480 * MIN)

static const hl_slaplan_t plan = {0.75, 0.9, 3, 1, 4 * HOUR, 480, HL_COUNT_NEXT_DAY};

/* Local midnight of a date, as ms UTC. */
static int64_t local(int y, unsigned m, unsigned d, int64_t plus)
{
    return hl_days_from_civil(y, m, d) * 86400000LL - OFF + plus;
}

static void test_natural(void **state)
{
    (void)state;
    int64_t start = 1000000, due = start + 24 * HOUR;
    assert_int_equal(hl_sla_stage_at(&plan, NULL, HL_SPAN_NATURAL, start, due, 1), start + 18 * HOUR);
    assert_int_equal(hl_sla_stage_at(&plan, NULL, HL_SPAN_NATURAL, start, due, 2), start + (int64_t)(0.9 * 24 * HOUR));
    assert_int_equal(hl_sla_stage_at(&plan, NULL, HL_SPAN_NATURAL, start, due, 3), due + 1);
    assert_int_equal(hl_sla_stage_at(&plan, NULL, HL_SPAN_NATURAL, start, due, 4), due + 1 + 4 * HOUR);
    assert_int_equal(hl_sla_stage_at(&plan, NULL, HL_SPAN_NATURAL, start, due, 6), due + 1 + 12 * HOUR);
    assert_int_equal(hl_sla_last_stage(&plan), 6);
    assert_int_equal(hl_sla_stage_reached(&plan, NULL, HL_SPAN_NATURAL, start, due, start), 0);
    assert_int_equal(hl_sla_stage_reached(&plan, NULL, HL_SPAN_NATURAL, start, due, start + 19 * HOUR), 1);
    assert_int_equal(hl_sla_stage_reached(&plan, NULL, HL_SPAN_NATURAL, start, due, due), 2);
    assert_int_equal(hl_sla_stage_reached(&plan, NULL, HL_SPAN_NATURAL, start, due, due + 1), 3);
    assert_int_equal(hl_sla_stage_reached(&plan, NULL, HL_SPAN_NATURAL, start, due, due + 100 * HOUR), 6);
    /* A deadline already past when its clock started. */
    assert_int_equal(hl_sla_stage_at(&plan, NULL, HL_SPAN_NATURAL, due + 5, due, 1), due);
}

/* Monday 2026-11-23 10:00, next-day counting, 4 working days; Wednesday
 * and Thursday are holidays and Saturday is a make-up workday: the counted
 * days are Tue 24, Fri 27, Sat 28, Mon 30 (due at its end). */
static void test_working_days_across_holidays(void **state)
{
    (void)state;
    hl_calendar_t *cal = hl_calendar_new();
    assert_int_equal(hl_calendar_set(cal, hl_days_from_civil(2026, 11, 25), HL_DAY_HOLIDAY), 0);
    assert_int_equal(hl_calendar_set(cal, hl_days_from_civil(2026, 11, 26), HL_DAY_HOLIDAY), 0);
    assert_int_equal(hl_calendar_set(cal, hl_days_from_civil(2026, 11, 28), HL_DAY_WORKDAY), 0);
    int64_t start = local(2026, 11, 23, 10 * HOUR);
    int64_t due = hl_limit_add(cal, start, (hl_limit_t){4, HL_LIMIT_WORKING_DAYS}, HL_COUNT_NEXT_DAY, 480, NULL);
    assert_int_equal(due, local(2026, 12, 1, -1));
    /* 75 % of 4 days = 3 days: the start of the 4th counted day, Monday. */
    assert_int_equal(hl_sla_stage_at(&plan, cal, HL_SPAN_WORKING_DAYS, start, due, 1), local(2026, 11, 30, 0));
    /* 90 % = 3.6 days: Monday 14:24. */
    assert_int_equal(hl_sla_stage_at(&plan, cal, HL_SPAN_WORKING_DAYS, start, due, 2),
                     local(2026, 11, 30, 14 * HOUR + 24 * MIN));
    /* Half the time ends on the make-up Saturday, not in the holidays. */
    hl_slaplan_t half = plan;
    half.warn_share = 0.5;
    assert_int_equal(hl_sla_stage_at(&half, cal, HL_SPAN_WORKING_DAYS, start, due, 1), local(2026, 11, 28, 0));
    hl_slaplan_t quarter = plan;
    quarter.warn_share = 0.3; /* 1.2 days: Friday 04:48, after the holidays */
    assert_int_equal(hl_sla_stage_at(&quarter, cal, HL_SPAN_WORKING_DAYS, start, due, 1),
                     local(2026, 11, 27, 4 * HOUR + 48 * MIN));
    /* Overdue just after the deadline; supervision one working day later
     * each (Tuesday, Wednesday, Thursday overdue in full). */
    assert_int_equal(hl_sla_stage_at(&plan, cal, HL_SPAN_WORKING_DAYS, start, due, 3), local(2026, 12, 1, 0));
    assert_int_equal(hl_sla_stage_at(&plan, cal, HL_SPAN_WORKING_DAYS, start, due, 4), local(2026, 12, 2, 0));
    assert_int_equal(hl_sla_stage_at(&plan, cal, HL_SPAN_WORKING_DAYS, start, due, 6), local(2026, 12, 4, 0));
    /* Without the holidays and the make-up day the warning is earlier. */
    hl_calendar_t *plain = hl_calendar_new();
    int64_t due2 = hl_limit_add(plain, start, (hl_limit_t){4, HL_LIMIT_WORKING_DAYS}, HL_COUNT_NEXT_DAY, 480, NULL);
    assert_int_equal(due2, local(2026, 11, 28, -1)); /* Friday's end */
    assert_int_equal(hl_sla_stage_at(&plan, plain, HL_SPAN_WORKING_DAYS, start, due2, 1), local(2026, 11, 27, 0));
    /* An extension by 2 working days moves every stage. */
    int64_t extended = hl_limit_add(cal, due, (hl_limit_t){2, HL_LIMIT_WORKING_DAYS}, HL_COUNT_NEXT_DAY, 480, NULL);
    assert_int_equal(extended, local(2026, 12, 3, -1));
    /* 75 % of 6 counted days = 4.5: the 5th (Tue Dec 1) at noon. */
    assert_int_equal(hl_sla_stage_at(&plan, cal, HL_SPAN_WORKING_DAYS, start, extended, 1),
                     local(2026, 12, 1, 12 * HOUR));
    hl_calendar_destroy(&cal);
    hl_calendar_destroy(&plain);
}

/* Natural-day limits count every day; same-day counting starts at once. */
static void test_natural_days_and_same_day(void **state)
{
    (void)state;
    hl_calendar_t *cal = hl_calendar_new();
    int64_t start = local(2026, 11, 27, 9 * HOUR); /* a Friday */
    int64_t due = local(2026, 12, 2, -1);           /* 4 natural days, next-day counting: Sat-Tue */
    assert_int_equal(hl_sla_stage_at(&plan, cal, HL_SPAN_DAYS, start, due, 1), local(2026, 12, 1, 0));
    hl_slaplan_t same = plan;
    same.rule = HL_COUNT_SAME_DAY;
    int64_t due_same = local(2026, 12, 3, -1); /* Fri, Mon, Tue, Wed */
    assert_int_equal(hl_sla_stage_at(&same, cal, HL_SPAN_WORKING_DAYS, start, due_same, 1), local(2026, 12, 2, 0));
    hl_calendar_destroy(&cal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_natural),
        cmocka_unit_test(test_working_days_across_holidays),
        cmocka_unit_test(test_natural_days_and_same_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
