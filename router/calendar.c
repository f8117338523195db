/* calendar.c - working-day calendar as one flag byte per day, 1970-2199. */
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/calendar.h"
#include "hotline/clock.h"

#define FIRST_YEAR 1970
#define LAST_YEAR 2199
#define NYEARS (LAST_YEAR - FIRST_YEAR + 1)

struct hl_calendar {
    int64_t ndays;                   /* days covered, from day 0 (1970-01-01) */
    uint8_t *workday;                /* 1 = working day */
    uint8_t known[(NYEARS + 7) / 8]; /* years whose notice is loaded */
};

hl_calendar_t *hl_calendar_new(void)
{
    hl_calendar_t *cal = hl_calloc(1, sizeof *cal);
    cal->ndays = hl_days_from_civil(LAST_YEAR + 1, 1, 1);
    cal->workday = hl_malloc((size_t)cal->ndays);
    for (int64_t d = 0; d < cal->ndays; d++) {
        unsigned wd = hl_weekday(d);
        cal->workday[d] = wd != 0 && wd != 6;
    }
    return cal;
}

hl_calendar_t *hl_calendar_clone(const hl_calendar_t *base)
{
    hl_calendar_t *cal = hl_malloc(sizeof *cal);
    *cal = *base;
    cal->workday = hl_malloc((size_t)base->ndays);
    memcpy(cal->workday, base->workday, (size_t)base->ndays);
    return cal;
}

void hl_calendar_destroy(hl_calendar_t **self_p)
{
    if (!*self_p) return;
    hl_free((*self_p)->workday);
    hl_free(*self_p);
    *self_p = NULL;
}

int hl_calendar_set(hl_calendar_t *cal, int64_t day, hl_day_kind_t kind)
{
    if (day < 0 || day >= cal->ndays) return HL_EINVAL;
    cal->workday[day] = kind == HL_DAY_WORKDAY;
    return 0;
}

void hl_calendar_mark_year(hl_calendar_t *cal, int year)
{
    if (year < FIRST_YEAR || year > LAST_YEAR) return;
    int i = year - FIRST_YEAR;
    cal->known[i / 8] |= (uint8_t)(1u << (i % 8));
}

bool hl_calendar_knows_year(const hl_calendar_t *cal, int year)
{
    if (year < FIRST_YEAR || year > LAST_YEAR) return false;
    int i = year - FIRST_YEAR;
    return cal->known[i / 8] & (1u << (i % 8));
}

bool hl_calendar_is_workday(const hl_calendar_t *cal, int64_t day)
{
    if (day >= 0 && day < cal->ndays) return cal->workday[day];
    unsigned wd = hl_weekday(day);
    return wd != 0 && wd != 6;
}

static const char *unit_names[] = {"minutes", "hours", "natural_days", "working_days"};

int hl_limit_unit_parse(const char *s, hl_limit_unit_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, unit_names[i]) == 0) {
            *out = (hl_limit_unit_t)i;
            return 0;
        }
    }
    return HL_EINVAL;
}

const char *hl_limit_unit_name(hl_limit_unit_t u)
{
    return (unsigned)u < 4 ? unit_names[u] : "";
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int year_of(int64_t day)
{
    int y;
    unsigned m, d;
    hl_civil_from_days(day, &y, &m, &d);
    return y;
}

int64_t hl_limit_add(const hl_calendar_t *cal, int64_t from, hl_limit_t limit,
                     hl_count_rule_t rule, int offset_min, bool *estimated)
{
    const int64_t day_ms = 86400000, off_ms = (int64_t)offset_min * 60000;
    switch (limit.unit) {
    case HL_LIMIT_MINUTES: return from + (int64_t)limit.amount * 60000;
    case HL_LIMIT_HOURS: return from + (int64_t)limit.amount * 3600000;
    case HL_LIMIT_NATURAL_DAYS:
    case HL_LIMIT_WORKING_DAYS: break;
    }
    int64_t day = floor_div(from + off_ms, day_ms);
    if (rule == HL_COUNT_NEXT_DAY) day++;
    int32_t left = limit.amount > 0 ? limit.amount : 1;
    bool working = limit.unit == HL_LIMIT_WORKING_DAYS;
    /* Walk forward counting days; `day` ends as the last counted day. */
    for (;; day++) {
        if (working && estimated && !hl_calendar_knows_year(cal, year_of(day))) *estimated = true;
        if (working && !hl_calendar_is_workday(cal, day)) continue;
        if (--left == 0) break;
    }
    return (day + 1) * day_ms - off_ms - 1;
}
