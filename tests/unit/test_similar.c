/* test_similar.c - text similarity for duplicate detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/similar.h"

static double sim(const char *a, const char *b)
{
    hl_bigrams_t x = {0}, y = {0};
    hl_bigrams_of(&x, a, strlen(a));
    hl_bigrams_of(&y, b, strlen(b));
    double d = hl_bigrams_dice(&x, &y);
    hl_bigrams_free(&x);
    hl_bigrams_free(&y);
    return d;
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

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_dice)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
