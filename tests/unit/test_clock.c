/* test_clock.c - civil dates and ISO 8601. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/clock.h"

static void test_civil(void **state)
{
    (void)state;
    assert_int_equal(hl_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(hl_days_from_civil(2000, 3, 1), 11017);
    for (int64_t d = -800000; d < 800000; d += 997) {
        int y;
        unsigned m, dd;
        hl_civil_from_days(d, &y, &m, &dd);
        assert_int_equal(hl_days_from_civil(y, m, dd), d);
    }
    assert_int_equal(hl_weekday(hl_days_from_civil(2026, 11, 22)), 0);
    assert_int_equal(hl_weekday(hl_days_from_civil(1969, 12, 31)), 3);
}

static void test_iso8601(void **state)
{
    (void)state;
    char buf[HL_ISO8601_LEN];
    int64_t ms;
    assert_string_equal(hl_iso8601(0, 0, buf), "1970-01-01T00:00:00.000Z");
    assert_string_equal(hl_iso8601(1795363199999LL, 480, buf), "2026-11-22T23:59:59.999+08:00");
    assert_string_equal(hl_iso8601(0, -330, buf), "1969-12-31T18:30:00.000-05:30");
    const char *ok[] = {"2026-11-22T23:59:59.999+08:00", "2026-11-22T15:59:59.999Z",
                        "2026-11-22 15:59:59.9991234Z", "2026-11-22T23:59:59.999+0800"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(hl_iso8601_parse(ok[i], &ms), 0);
        assert_int_equal(ms, 1795363199999LL);
    }
    const char *bad[] = {"", "2026-11-22", "2026-11-22T10:00:00", "2026-02-30T10:00:00Z",
                         "2026-13-01T10:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T10:00:00.Z",
                         "2026-11-22T10:00:00Zjunk", "2026/11/22T10:00:00Z", "2026-11-22T10:00:00+25:00"};
    for (int i = 0; i < 10; i++)
        if (hl_iso8601_parse(bad[i], &ms) != HL_EINVAL) fail_msg("accepted '%s'", bad[i]);
}

/* The local day and its name: China's midnight is 16:00 UTC the day before. */
static void test_local_day(void **state)
{
    (void)state;
    char d[16];
    int64_t ms;
    assert_int_equal(hl_iso8601_parse("2026-11-22T15:59:59.999Z", &ms), 0);
    assert_string_equal(hl_day_name(hl_local_day(ms, 480), d), "2026-11-22");
    assert_string_equal(hl_day_name(hl_local_day(ms + 1, 480), d), "2026-11-23");
    assert_string_equal(hl_day_name(hl_local_day(ms + 1, 0), d), "2026-11-22");
    assert_int_equal(hl_local_day(-1, 0), -1);
    assert_string_equal(hl_day_name(0, d), "1970-01-01");
    assert_int_equal(hl_time_parse("2026-11-23", 480, &ms), 0);
    assert_int_equal(hl_local_day(ms, 480), hl_days_from_civil(2026, 11, 23));
    assert_int_equal(hl_local_day(ms - 1, 480), hl_days_from_civil(2026, 11, 22));
    /* A day's first ms, and back. */
    assert_int_equal(hl_day_start(hl_days_from_civil(2026, 11, 23), 480), ms);
    assert_int_equal(hl_local_day(hl_day_start(20000, -300), -300), 20000);
    assert_int_equal(hl_local_day(hl_day_start(20000, -300) - 1, -300), 19999);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil),
        cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_local_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
