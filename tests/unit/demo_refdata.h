/* demo_refdata.h - a small reference-data snapshot built by hand for tests:
 * a city with two districts and a street, units, categories with keywords,
 * catalogue rows, the default policy and the 2025 Golden Week. */
#ifndef TEST_DEMO_REFDATA_H
#define TEST_DEMO_REFDATA_H

#include <stdio.h>
#include <stdlib.h>

#include "hotline/clock.h"
#include "hotline/refdata.h"

#define OK(x)                                                                                      \
    do {                                                                                           \
        if ((x) != 0) {                                                                            \
            fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #x);                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static inline hl_policy_row_t demo_row(const char *type, const char *urgency, int reply,
                                       hl_limit_unit_t unit)
{
    hl_policy_row_t p = {0};
    if (*type && hl_type_parse(type, &p.type) != 0) abort();
    if (*urgency && hl_urgency_parse(urgency, &p.urgency) != 0) abort();
    p.sign = (hl_limit_t){24, HL_LIMIT_HOURS};
    p.contact = (hl_limit_t){1, HL_LIMIT_WORKING_DAYS};
    p.reply = (hl_limit_t){reply, unit};
    p.extension = (hl_limit_t){10, HL_LIMIT_WORKING_DAYS};
    p.return_window = (hl_limit_t){2, HL_LIMIT_WORKING_DAYS};
    p.max_extensions = 1;
    p.callback = (hl_limit_t){3, HL_LIMIT_WORKING_DAYS};
    p.max_returns = 2;
    p.max_reopens = 2;
    p.callback_attempts = 3;
    return p;
}

static inline hl_refdata_t *demo_refdata(void)
{
    hl_refdata_t *rd = hl_refdata_new();
    OK(hl_refdata_add_region(rd, "990100", NULL, 1));
    OK(hl_refdata_add_region(rd, "990101", "990100", 2));
    OK(hl_refdata_add_region(rd, "990102", "990100", 2));
    OK(hl_refdata_add_region(rd, "990101001", "990101", 3));
    const char *units[] = {"HOUSING", "JB_HOUSING", "GAS", "TRANSPORT", "TRANSIT", "HRSS",
                           "ST_BINJIANG", "ECO", "RETIRED"};
    for (int i = 0; i < 9; i++) OK(hl_refdata_add_unit(rd, units[i], i < 8));
    OK(hl_refdata_add_category(rd, "construction", NULL, NULL));
    OK(hl_refdata_add_category(rd, "transport", NULL, NULL));
    OK(hl_refdata_add_category(rd, "labour", NULL, NULL));
    OK(hl_refdata_add_category(rd, "environment", NULL, NULL));
    OK(hl_refdata_add_category(rd, "construction.gas", "construction", NULL));
    OK(hl_refdata_add_category(rd, "construction.property", "construction", NULL));
    OK(hl_refdata_add_category(rd, "transport.bus", "transport", NULL));
    const char *kw[][2] = {{"construction", "小区"}, {"construction", "房屋"},
                           {"construction", "电梯"}, {"transport", "交通"},
                           {"transport", "车辆"},    {"labour", "工资"},
                           {"labour", "社保"},       {"environment", "污染"},
                           {"construction.gas", "燃气"}, {"construction.property", "物业"},
                           {"transport.bus", "公交"}};
    for (int i = 0; i < 11; i++) OK(hl_refdata_add_keyword(rd, kw[i][0], kw[i][1]));
    OK(hl_refdata_add_route(rd, "construction", "990100", "HOUSING"));
    OK(hl_refdata_add_route(rd, "construction", "990101", "JB_HOUSING"));
    OK(hl_refdata_add_route(rd, "construction.gas", "990100", "GAS"));
    OK(hl_refdata_add_route(rd, "construction.property", "990101001", "ST_BINJIANG"));
    OK(hl_refdata_add_assisting(rd, "construction.property", "990101001", "JB_HOUSING"));
    OK(hl_refdata_add_route(rd, "transport", "990100", "TRANSPORT"));
    OK(hl_refdata_add_route(rd, "transport.bus", "990100", "TRANSIT"));
    OK(hl_refdata_add_assisting(rd, "transport.bus", "990100", "TRANSPORT"));
    OK(hl_refdata_add_route(rd, "labour", "990100", "HRSS"));
    /* environment has keywords but no catalogue row */
    hl_policy_row_t p;
    p = demo_row("", "", 10, HL_LIMIT_WORKING_DAYS);
    OK(hl_refdata_add_policy(rd, &p));
    p = demo_row("consultation", "", 2, HL_LIMIT_WORKING_DAYS);
    OK(hl_refdata_add_policy(rd, &p));
    p = demo_row("complaint", "", 15, HL_LIMIT_WORKING_DAYS);
    OK(hl_refdata_add_policy(rd, &p));
    p = demo_row("", "urgent", 24, HL_LIMIT_HOURS);
    p.contact = (hl_limit_t){30, HL_LIMIT_MINUTES};
    OK(hl_refdata_add_policy(rd, &p));
    for (unsigned d = 1; d <= 8; d++)
        OK(hl_refdata_add_day(rd, "*", hl_days_from_civil(2025, 10, d), HL_DAY_HOLIDAY));
    OK(hl_refdata_add_day(rd, "*", hl_days_from_civil(2025, 10, 11), HL_DAY_WORKDAY));
    OK(hl_refdata_add_day(rd, "*", hl_days_from_civil(2025, 9, 28), HL_DAY_WORKDAY));
    OK(hl_refdata_add_year(rd, "*", 2025));
    OK(hl_refdata_add_emergency(rd, "燃气泄漏", "119"));
    OK(hl_refdata_add_emergency(rd, "溺水", "110"));
    return rd;
}

#endif
