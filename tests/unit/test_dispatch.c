/* test_dispatch.c - validation, classification, routing and deadlines of intakes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "demo_refdata.h"
#include "hotline/dispatch.h"

static hl_refdata_t *rd;
static const hl_dispatch_opts_t opts = {32768, 0.5, 480, HL_COUNT_NEXT_DAY, ""};

static int setup(void **state)
{
    (void)state;
    char err[HL_ERR_LEN];
    rd = demo_refdata();
    if (hl_refdata_finish(rd, err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hl_refdata_destroy(&rd);
    return 0;
}

typedef struct {
    Hotline__Intake in;
    Hotline__Requester rq;
    Hotline__Location loc;
} intake_t;

static void make(intake_t *t, const char *title, const char *body, const char *region)
{
    hotline__intake__init(&t->in);
    hotline__requester__init(&t->rq);
    hotline__location__init(&t->loc);
    t->in.idempotency_key = "k-1";
    t->in.channel = HOTLINE__CHANNEL__CHANNEL_PHONE;
    t->in.title = (char *)title;
    t->in.body = (char *)body;
    t->loc.region = (char *)region;
    t->in.location = &t->loc;
    t->in.requester = &t->rq;
}

static int64_t at(const char *iso)
{
    int64_t ms;
    assert_int_equal(hl_iso8601_parse(iso, &ms), 0);
    return ms;
}

static void expect_due(int64_t ms, const char *want)
{
    char got[HL_ISO8601_LEN];
    hl_iso8601(ms, 480, got);
    assert_string_equal(got, want);
}

static void test_routes_by_category_and_region(void **state)
{
    (void)state;
    intake_t t;
    hl_plan_t p;
    int64_t now = at("2026-11-23T09:00:00+08:00");
    /* District row beats the city row for the same category. */
    make(&t, "小区电梯坏了", "房屋老旧，电梯经常坏", "990101001");
    hl_dispatch_plan(rd, &t.in, &opts, now, &p);
    assert_int_equal(p.state, HOTLINE__STATE__STATE_DISPATCHED);
    assert_string_equal(p.category, "construction");
    assert_string_equal(p.unit, "JB_HOUSING");
    assert_string_equal(p.region, "990101001");
    /* Another district has no row of its own: the city's. */
    make(&t, "小区电梯坏了", "房屋老旧，电梯经常坏", "990102");
    hl_dispatch_plan(rd, &t.in, &opts, now, &p);
    assert_string_equal(p.unit, "HOUSING");
    /* A subcategory at the city beats its parent category in the district. */
    make(&t, "小区燃气", "小区里燃气管道老化", "990101001");
    hl_dispatch_plan(rd, &t.in, &opts, now, &p);
    assert_string_equal(p.category, "construction.gas");
    assert_string_equal(p.unit, "GAS");
    /* Street-level row with an assisting unit. */
    make(&t, "物业不作为", "小区物业不管事", "990101001");
    hl_dispatch_plan(rd, &t.in, &opts, now, &p);
    assert_string_equal(p.unit, "ST_BINJIANG");
    assert_int_equal(p.nassisting, 1);
    assert_string_equal(p.assisting[0], "JB_HOUSING");
}

static void test_unknown_and_missing_region(void **state)
{
    (void)state;
    intake_t t;
    hl_plan_t p;
    make(&t, "公交", "公交车不停站", "123456789");
    hl_dispatch_plan(rd, &t.in, &opts, at("2026-11-23T09:00:00+08:00"), &p);
    assert_string_equal(p.region, "990100");
    assert_string_equal(p.unit, "TRANSIT");
    assert_non_null(strstr(p.reason, "unknown region 123456789"));
    make(&t, "公交", "公交车不停站", "");
    hl_dispatch_plan(rd, &t.in, &opts, at("2026-11-23T09:00:00+08:00"), &p);
    assert_string_equal(p.region, "990100");
    assert_null(strstr(p.reason, "unknown region"));
    /* A configured default region. */
    hl_dispatch_opts_t o = opts;
    o.default_region = "990101";
    make(&t, "小区电梯坏了", "房屋老旧，电梯经常坏", "");
    hl_dispatch_plan(rd, &t.in, &o, at("2026-11-23T09:00:00+08:00"), &p);
    assert_string_equal(p.unit, "JB_HOUSING");
}

static void test_pending_dispatch(void **state)
{
    (void)state;
    intake_t t;
    hl_plan_t p;
    /* Nothing recognisable. */
    make(&t, "你好", "有个事情想反映一下", "990100");
    hl_dispatch_plan(rd, &t.in, &opts, at("2026-11-23T09:00:00+08:00"), &p);
    assert_int_equal(p.state, HOTLINE__STATE__STATE_PENDING_DISPATCH);
    assert_string_equal(p.category, "");
    assert_string_equal(p.unit, "");
    assert_non_null(strstr(p.reason, "unclassified"));
    /* Split between categories: low confidence. */
    make(&t, "", "工资 交通 小区", "990100");
    hl_dispatch_plan(rd, &t.in, &opts, at("2026-11-23T09:00:00+08:00"), &p);
    assert_int_equal(p.state, HOTLINE__STATE__STATE_PENDING_DISPATCH);
    assert_non_null(strstr(p.reason, "low confidence"));
    /* Classified, but no catalogue row for it. */
    make(&t, "污染", "河道污染严重，污染", "990100");
    hl_dispatch_plan(rd, &t.in, &opts, at("2026-11-23T09:00:00+08:00"), &p);
    assert_int_equal(p.state, HOTLINE__STATE__STATE_PENDING_DISPATCH);
    assert_string_equal(p.category, "environment");
    assert_non_null(strstr(p.reason, "no catalogue row"));
    /* Deadlines are set all the same. */
    assert_true(p.deadlines.reply > 0);
}

static void test_deadlines_by_type_and_urgency(void **state)
{
    (void)state;
    intake_t t;
    hl_plan_t p;
    int64_t now = at("2025-09-30T15:00:00+08:00");
    make(&t, "公交", "公交车不停站", "990100");
    hl_dispatch_plan(rd, &t.in, &opts, now, &p);
    assert_int_equal(p.type, HOTLINE__REQUEST_TYPE__TYPE_HELP);
    expect_due(p.deadlines.reply, "2025-10-21T23:59:59.999+08:00"); /* 10 working days */
    expect_due(p.deadlines.sign, "2025-10-01T15:00:00.000+08:00");  /* 24 hours */
    expect_due(p.deadlines.contact, "2025-10-09T23:59:59.999+08:00");
    /* Type words: a consultation gets 2 working days. */
    make(&t, "咨询公交线路", "请问公交车几点收班", "990100");
    hl_dispatch_plan(rd, &t.in, &opts, now, &p);
    assert_int_equal(p.type, HOTLINE__REQUEST_TYPE__TYPE_CONSULTATION);
    expect_due(p.deadlines.reply, "2025-10-10T23:59:59.999+08:00");
    /* The intake's own type hint wins over type words. */
    t.in.type = HOTLINE__REQUEST_TYPE__TYPE_COMPLAINT;
    hl_dispatch_plan(rd, &t.in, &opts, now, &p);
    assert_int_equal(p.type, HOTLINE__REQUEST_TYPE__TYPE_COMPLAINT);
    /* Complaint: 15 working days; Sat 11 Oct is a make-up day. */
    expect_due(p.deadlines.reply, "2025-10-28T23:59:59.999+08:00");
    /* Urgent hint: natural hours. */
    t.in.urgency = HOTLINE__URGENCY__URGENCY_URGENT;
    hl_dispatch_plan(rd, &t.in, &opts, now, &p);
    expect_due(p.deadlines.reply, "2025-10-01T15:00:00.000+08:00");
    expect_due(p.deadlines.contact, "2025-09-30T15:30:00.000+08:00");
    /* received_at, when given, starts the clock. */
    make(&t, "公交", "公交车不停站", "990100");
    t.in.received_at = at("2025-09-26T10:00:00+08:00");
    hl_dispatch_plan(rd, &t.in, &opts, now, &p);
    assert_int_equal(p.received_at, t.in.received_at);
    expect_due(p.deadlines.sign, "2025-09-27T10:00:00.000+08:00");
}

static void test_emergency(void **state)
{
    (void)state;
    intake_t t;
    hl_plan_t p;
    make(&t, "燃气", "楼道里有燃气泄漏的味道", "990100");
    hl_dispatch_plan(rd, &t.in, &opts, at("2026-11-23T09:00:00+08:00"), &p);
    assert_int_equal(p.urgency, HOTLINE__URGENCY__URGENCY_URGENT);
    assert_string_equal(p.emergency, "119");
    assert_string_equal(p.unit, "GAS");
    assert_non_null(strstr(p.reason, "transfer to 119"));
    /* Critical stays critical. */
    t.in.urgency = HOTLINE__URGENCY__URGENCY_CRITICAL;
    hl_dispatch_plan(rd, &t.in, &opts, at("2026-11-23T09:00:00+08:00"), &p);
    assert_int_equal(p.urgency, HOTLINE__URGENCY__URGENCY_CRITICAL);
}

static void test_validate(void **state)
{
    (void)state;
    intake_t t;
    char err[HL_ERR_LEN];
    int64_t now = at("2026-11-23T09:00:00+08:00");
    make(&t, "t", "body", "990100");
    assert_int_equal(hl_dispatch_validate(&t.in, &opts, now, err), 0);
    t.in.received_at = now + 9 * 60000; /* within clock skew */
    assert_int_equal(hl_dispatch_validate(&t.in, &opts, now, err), 0);
    t.in.received_at = -5;
    assert_int_equal(hl_dispatch_validate(&t.in, &opts, now, err), HL_EINVAL);
    t.in.received_at = 0;
    char title[600];
    memset(title, 'x', sizeof title - 1);
    title[sizeof title - 1] = '\0';
    t.in.title = title;
    assert_int_equal(hl_dispatch_validate(&t.in, &opts, now, err), HL_ETOOBIG);
    t.in.title = "t";
    t.in.channel = (Hotline__Channel)42;
    assert_int_equal(hl_dispatch_validate(&t.in, &opts, now, err), HL_EINVAL);
    t.in.channel = HOTLINE__CHANNEL__CHANNEL_SMS;
    t.in.urgency = (Hotline__Urgency)9;
    assert_int_equal(hl_dispatch_validate(&t.in, &opts, now, err), HL_EINVAL);
    t.in.urgency = 0;
    t.rq.phone = "0123456789012345678901234567890123";
    assert_int_equal(hl_dispatch_validate(&t.in, &opts, now, err), HL_ETOOBIG);
    t.rq.phone = "";
    t.loc.has_coordinates = 1;
    t.loc.lat = 22.5;
    t.loc.long_ = 114.05;
    assert_int_equal(hl_dispatch_validate(&t.in, &opts, now, err), 0);
    t.loc.long_ = -181;
    assert_int_equal(hl_dispatch_validate(&t.in, &opts, now, err), HL_EINVAL);
    t.loc.long_ = 114.05;
    t.loc.region = "1234567890123";
    assert_int_equal(hl_dispatch_validate(&t.in, &opts, now, err), HL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_by_category_and_region),
        cmocka_unit_test(test_unknown_and_missing_region),
        cmocka_unit_test(test_pending_dispatch),
        cmocka_unit_test(test_deadlines_by_type_and_urgency),
        cmocka_unit_test(test_emergency),
        cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
