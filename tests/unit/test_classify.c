/* test_classify.c - the rule-layer classifier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/classify.h"

static hl_classifier_t *c;

static int setup(void **state)
{
    (void)state;
    c = hl_classifier_new();
    const char *cons[] = {"小区", "房屋"}, *trans[] = {"交通", "车辆"}, *gas[] = {"燃气"},
               *bus[] = {"公交"}, *lab[] = {"工资"};
    if (hl_classifier_add_category(c, "construction", NULL, cons, 2) ||
        hl_classifier_add_category(c, "transport", NULL, trans, 2) ||
        hl_classifier_add_category(c, "labour", NULL, lab, 1) ||
        hl_classifier_add_category(c, "construction.gas", "construction", gas, 1) ||
        hl_classifier_add_category(c, "transport.bus", "transport", bus, 1) ||
        hl_classifier_add_emergency(c, "溺水", "110") ||
        hl_classifier_add_emergency(c, "燃气泄漏", "119"))
        return -1;
    hl_classifier_build(c);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hl_classifier_destroy(&c);
    return 0;
}

static hl_class_t run(const char *title, const char *body)
{
    hl_class_t out;
    hl_classify(c, title, strlen(title), body, strlen(body), &out);
    return out;
}

static void test_categories_and_confidence(void **state)
{
    (void)state;
    hl_class_t r = run("", "小区");
    assert_string_equal(r.category, "construction");
    assert_float_equal(r.confidence, 0.5f, 1e-6); /* one hit: 1/1 * 1/2 */
    r = run("", "小区房屋");
    assert_float_equal(r.confidence, 2.0f / 3.0f, 1e-6);
    r = run("小区", "");
    assert_float_equal(r.confidence, 2.0f / 3.0f, 1e-6); /* title counts twice */
    r = run("", "小区 交通");
    assert_float_equal(r.confidence, 0.25f, 1e-6); /* split: 1/2 * 1/2 */
    r = run("", "没有关键词");
    assert_string_equal(r.category, "");
    assert_float_equal(r.confidence, 0.0f, 1e-6);
    assert_null(r.emergency_phrase);
    assert_int_equal(r.type, 0);
}

static void test_subcategories(void **state)
{
    (void)state;
    hl_class_t r = run("", "公交车辆");
    assert_string_equal(r.category, "transport.bus");
    /* A subcategory's hits count for its parent. */
    r = run("", "小区燃气 车辆");
    assert_string_equal(r.category, "construction.gas");
    /* Only children of the winning first-level category refine it. */
    r = run("", "小区 房屋 公交");
    assert_string_equal(r.category, "construction");
}

static void test_types_and_emergencies(void **state)
{
    (void)state;
    hl_class_t r = run("咨询", "请问小区");
    assert_int_equal(r.type, HOTLINE__REQUEST_TYPE__TYPE_CONSULTATION);
    r = run("投诉", "咨询一下，我要举报");
    assert_int_equal(r.type, HOTLINE__REQUEST_TYPE__TYPE_REPORT); /* highest priority wins */
    r = run("", "河边有人溺水，楼里燃气泄漏");
    assert_string_equal(r.emergency_phrase, "溺水"); /* the first in the text */
    assert_string_equal(r.emergency_service, "110");
    r = run("燃气泄漏", "有人溺水");
    assert_string_equal(r.emergency_service, "119"); /* the title comes first */
}

static void test_build_errors_and_version(void **state)
{
    (void)state;
    hl_classifier_t *x = hl_classifier_new();
    const char *kw[] = {"a"};
    assert_int_equal(hl_classifier_add_category(x, "a", NULL, kw, 1), 0);
    assert_int_equal(hl_classifier_add_category(x, "a", NULL, kw, 1), HL_EEXIST);
    assert_int_equal(hl_classifier_add_category(x, "b.c", "nope", kw, 1), HL_EINVAL);
    assert_int_equal(hl_classifier_add_category(x, "", NULL, kw, 1), HL_EINVAL);
    assert_int_equal(hl_classifier_add_emergency(x, "", "110"), HL_EINVAL);
    assert_int_equal(hl_classifier_add_emergency(x, "fire", "1190"), HL_EINVAL);
    hl_classifier_build(x);
    /* The version names the rules: the same rules, the same version. */
    assert_true(strncmp(hl_classifier_version(x), "rules-", 6) == 0);
    assert_string_not_equal(hl_classifier_version(x), hl_classifier_version(c));
    hl_classifier_destroy(&x);
    assert_null(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_categories_and_confidence),
        cmocka_unit_test(test_subcategories),
        cmocka_unit_test(test_types_and_emergencies),
        cmocka_unit_test(test_build_errors_and_version),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
