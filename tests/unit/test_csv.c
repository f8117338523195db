/* test_csv.c - RFC 4180 reading, and malformed input reported by line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/csv.h"

static void test_fields_and_quotes(void **state)
{
    (void)state;
    const char *in = "\xEF\xBB\xBFid,label,title,body\r\n"
                     "1,城乡建设,\"小区, 电梯\",\"他说\"\"快修\"\"\"\r\n"
                     "2,,,\"两行\r\n文本\"\n"
                     "\n"
                     "3,a,b,c";
    hl_csv_t *c = hl_csv_from_memory(in, strlen(in));
    hl_csv_row_t row;
    char err[HL_ERR_LEN];
    assert_int_equal(hl_csv_next(c, &row, err), 1);
    assert_int_equal(row.n, 4);
    assert_string_equal(row.field[0], "id"); /* the BOM is not part of it */
    assert_int_equal(hl_csv_next(c, &row, err), 1);
    assert_int_equal(row.line, 2);
    assert_string_equal(row.field[2], "小区, 电梯");
    assert_string_equal(row.field[3], "他说\"快修\"");
    assert_int_equal(hl_csv_next(c, &row, err), 1);
    assert_int_equal(row.line, 3);
    assert_string_equal(row.field[1], "");
    assert_string_equal(row.field[3], "两行\r\n文本");
    assert_int_equal(hl_csv_next(c, &row, err), 1);
    assert_int_equal(row.line, 6); /* after a two-line record and an empty line */
    assert_string_equal(row.field[3], "c");
    assert_int_equal(row.len[3], 1);
    assert_int_equal(hl_csv_next(c, &row, err), 0);
    hl_csv_close(&c);
    assert_null(c);
}

static void test_malformed_rows_are_skipped(void **state)
{
    (void)state;
    const char *in = "1,ok,a,b\n"
                     "2,bad\"quote,a,b\n"
                     "3,\"closed\"extra,a,b\n"
                     "4,ok,a,b\n"
                     "5,\"never closed,a,b\n"
                     "6,ok,a,b\n";
    hl_csv_t *c = hl_csv_from_memory(in, strlen(in));
    hl_csv_row_t row;
    char err[HL_ERR_LEN];
    assert_int_equal(hl_csv_next(c, &row, err), 1);
    assert_int_equal(hl_csv_next(c, &row, err), HL_EINVAL);
    assert_non_null(strstr(err, "line 2: quote inside an unquoted field"));
    assert_int_equal(hl_csv_next(c, &row, err), HL_EINVAL);
    assert_non_null(strstr(err, "line 3: text after a closing quote"));
    assert_int_equal(hl_csv_next(c, &row, err), 1);
    assert_string_equal(row.field[0], "4");
    assert_int_equal(hl_csv_next(c, &row, err), HL_EINVAL);
    assert_non_null(strstr(err, "line 5: unterminated quoted field"));
    assert_int_equal(hl_csv_next(c, &row, err), 1);
    assert_string_equal(row.field[0], "6");
    assert_int_equal(row.line, 6);
    assert_int_equal(hl_csv_next(c, &row, err), 0);
    hl_csv_close(&c);
}

static void test_limits(void **state)
{
    (void)state;
    char many[400] = "";
    for (int i = 0; i < 100; i++) strcat(many, "x,");
    strcat(many, "x\nok\n");
    hl_csv_t *c = hl_csv_from_memory(many, strlen(many));
    hl_csv_row_t row;
    char err[HL_ERR_LEN];
    assert_int_equal(hl_csv_next(c, &row, err), HL_EINVAL);
    assert_non_null(strstr(err, "too many fields"));
    assert_int_equal(hl_csv_next(c, &row, err), 1);
    assert_string_equal(row.field[0], "ok");
    hl_csv_close(&c);
    /* Empty input, and a file that does not exist. */
    c = hl_csv_from_memory("", 0);
    assert_int_equal(hl_csv_next(c, &row, err), 0);
    hl_csv_close(&c);
    assert_null(hl_csv_open("/nonexistent.csv", err));
    assert_non_null(strstr(err, "/nonexistent.csv"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_and_quotes),
        cmocka_unit_test(test_malformed_rows_are_skipped),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
