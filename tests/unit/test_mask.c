/* test_mask.c - masking of personal data, in fields and in free text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/mask.h"

static void test_fields(void **state)
{
    (void)state;
    char out[128];
    hl_mask_phone("13812345678", out, sizeof out);
    assert_string_equal(out, "138****5678");
    hl_mask_name("张三", out, sizeof out);
    assert_string_equal(out, "张*");
    hl_mask_name("欧阳小明", out, sizeof out);
    assert_string_equal(out, "欧***");
    hl_mask_name("王", out, sizeof out);
    assert_string_equal(out, "*");
    hl_mask_id_number("440305199001011234", out, sizeof out);
    assert_string_equal(out, "440305********1234");
    hl_mask_phone("", out, sizeof out);
    assert_string_equal(out, "");
    hl_mask_phone("123", out, sizeof out);
    assert_string_equal(out, "***");
}

static void expect_text(const char *in, const char *want)
{
    char *got = hl_mask_text(in);
    assert_non_null(got);
    if (strcmp(got, want) != 0) fail_msg("'%s' -> '%s', want '%s'", in, got, want);
    free(got);
}

static void test_text(void **state)
{
    (void)state;
    expect_text("请回电13812345678谢谢", "请回电138****5678谢谢");
    expect_text("电话 138-1234-5678", "电话 138-****-5678");
    expect_text("身份证440305199001011234。", "身份证440305********1234。");
    expect_text("身份证44030519900101123X", "身份证440305********123X");
    expect_text("座机0755-12345678", "座机07**-******78");
    expect_text("邮箱 zhang.san@example.com 联系", "邮箱 z********@example.com 联系");
    /* Short numbers (house numbers, dates, amounts) stay. */
    expect_text("3栋502室，2026年11月22日，欠薪12000元", "3栋502室，2026年11月22日，欠薪12000元");
    expect_text("", "");
    expect_text("no digits at all", "no digits at all");
    /* Hostile input: the output is never longer than the input. */
    char big[3000];
    memset(big, '9', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *m = hl_mask_text(big);
    assert_int_equal(strlen(m), strlen(big));
    assert_int_equal(m[0], '9');
    assert_int_equal(m[2], '*');
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
