/* test_store.c - ticket numbers and the COPY rows of an intake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/clock.h"
#include "hotline/store.h"

static void test_ticket_numbers(void **state)
{
    (void)state;
    char no[HL_TICKET_NO_LEN];
    int64_t t;
    assert_int_equal(hl_iso8601_parse("2026-11-22T23:30:00+08:00", &t), 0);
    hl_ticket_no(no, 1234, t, 480);
    assert_string_equal(no, "2026112200001234");
    /* 16:30 UTC is already the next local day. */
    assert_int_equal(hl_iso8601_parse("2026-11-22T16:30:00Z", &t), 0);
    hl_ticket_no(no, 123456789012LL, t, 480);
    assert_string_equal(no, "20261123123456789012");
    int64_t id, day;
    assert_int_equal(hl_ticket_no_parse(no, &id, &day), 0);
    assert_int_equal(id, 123456789012LL);
    assert_int_equal(day, hl_days_from_civil(2026, 11, 23));
    assert_int_equal(hl_ticket_no_parse("2026x12200001234", &id, &day), HL_EINVAL);
    assert_int_equal(hl_ticket_no_parse("20261322000012345", &id, &day), HL_EINVAL);
    assert_int_equal(hl_ticket_no_parse("123", &id, &day), HL_EINVAL);
}

static void test_rows(void **state)
{
    (void)state;
    Hotline__Intake in = HOTLINE__INTAKE__INIT;
    Hotline__Requester rq = HOTLINE__REQUESTER__INIT;
    Hotline__Location loc = HOTLINE__LOCATION__INIT;
    in.idempotency_key = "key\\1";
    in.channel = HOTLINE__CHANNEL__CHANNEL_WECHAT;
    in.title = "电梯\t坏了";
    in.body = "第一行\n第二行\\ end\r";
    loc.address = "幸福路1号";
    in.location = &loc;
    in.requester = &rq;
    hl_plan_t p;
    memset(&p, 0, sizeof p);
    p.state = HOTLINE__STATE__STATE_DISPATCHED;
    p.type = HOTLINE__REQUEST_TYPE__TYPE_HELP;
    p.urgency = HOTLINE__URGENCY__URGENCY_NORMAL;
    strcpy(p.category, "construction");
    p.confidence = 0.75f;
    strcpy(p.classifier, "rules-1");
    strcpy(p.unit, "HOUSING");
    strcpy(p.assisting[0], "A");
    strcpy(p.assisting[1], "B");
    p.nassisting = 2;
    strcpy(p.region, "990100");
    strcpy(p.reason, "why\tnot");
    p.title_len = strlen(in.title);
    p.body_len = strlen(in.body);
    hl_store_ticket_t t = {7, "2026112200000007", 0, &in, &p};
    hl_buf_t b = HL_BUF_INIT;
    hl_store_ticket_row(&b, &t, 0);
    /* Tabs only between columns, escapes inside them, one newline at the end. */
    int tabs = 0, newlines = 0;
    for (size_t i = 0; i < b.len; i++) tabs += b.data[i] == '\t', newlines += b.data[i] == '\n';
    assert_int_equal(tabs, 24); /* 25 columns */
    assert_int_equal(newlines, 1);
    assert_int_equal(b.data[b.len - 1], '\n');
    assert_non_null(strstr(b.data, "电梯\\t坏了"));
    assert_non_null(strstr(b.data, "第一行\\n第二行\\\\ end\\r"));
    assert_non_null(strstr(b.data, "\t{A,B}\t"));
    assert_non_null(strstr(b.data, "\t\\N\t\\N\t")); /* no coordinates */
    assert_non_null(strstr(b.data, "key\\\\1\n"));
    hl_buf_reset(&b);
    hl_store_event_row(&b, &t, "r1", 0);
    assert_non_null(strstr(b.data, "7\t1\t1970-01-01T00:00:00.000Z\tintake\t\\N\tDISPATCHED\tsystem\tr1\twhy\\tnot\tHOUSING\t"));
    /* No requester data: no vault row. */
    hl_buf_reset(&b);
    assert_false(hl_store_pii_row(&b, &t, 0));
    assert_int_equal(b.len, 0);
    rq.phone = "13800000000";
    assert_true(hl_store_pii_row(&b, &t, 0));
    assert_non_null(strstr(b.data, "\t\t13800000000\t\n"));
    hl_buf_reset(&b);
    int64_t ids[] = {7, 8};
    hl_store_outbox_row(&b, 7, "r1", ids, 2, 0, 0);
    assert_string_equal(b.data, "7\tr1\t{7,8}\t1970-01-01T00:00:00.000Z\n");
    hl_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticket_numbers),
        cmocka_unit_test(test_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
