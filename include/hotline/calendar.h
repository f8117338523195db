/* calendar.h - the Chinese working-day calendar and deadline arithmetic.
 *
 * A working day is Monday-Friday, except statutory holidays, plus the weekend
 * make-up working days (调休上班) of the State Council's yearly notice. The
 * calendar stores those exceptions; everything else follows the weekday rule.
 * Days are numbered as days since 1970-01-01 in local time.
 *
 * Limits (hl_limit_t) are added to a receipt instant:
 *  - minutes and hours run on natural time, 24x7, through nights and holidays;
 *  - natural and working days end at the end (23:59:59.999 local) of the
 *    n-th counted day, counting from the day after receipt (HL_COUNT_NEXT_DAY,
 *    次日起算) or from the day of receipt when it is itself counted
 *    (HL_COUNT_SAME_DAY, 当日起算); the end day is included (含本数).
 */
#ifndef HOTLINE_CALENDAR_H
#define HOTLINE_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>

#include "hotline/err.h"

typedef enum { HL_DAY_HOLIDAY = 1, HL_DAY_WORKDAY = 2 } hl_day_kind_t;

typedef enum {
    HL_LIMIT_MINUTES = 0,
    HL_LIMIT_HOURS,
    HL_LIMIT_NATURAL_DAYS,
    HL_LIMIT_WORKING_DAYS
} hl_limit_unit_t;

typedef struct {
    int32_t amount;
    hl_limit_unit_t unit;
} hl_limit_t;

typedef enum { HL_COUNT_NEXT_DAY = 0, HL_COUNT_SAME_DAY = 1 } hl_count_rule_t;

typedef struct hl_calendar hl_calendar_t;

/* A calendar with no exceptions (weekday rule only). Never NULL. */
hl_calendar_t *hl_calendar_new(void);
/* A copy of base, to which a region adds its local days. Never NULL. */
hl_calendar_t *hl_calendar_clone(const hl_calendar_t *base);
void hl_calendar_destroy(hl_calendar_t **self_p);

/* Record an exception for local day number `day`. Returns 0, or HL_EINVAL
 * if the day is outside the years 1970-2199. */
HL_MUSTCHECK int hl_calendar_set(hl_calendar_t *cal, int64_t day, hl_day_kind_t kind);
/* Mark a year as complete (its official notice is loaded). */
void hl_calendar_mark_year(hl_calendar_t *cal, int year);
/* True if the year's official notice is loaded. */
bool hl_calendar_knows_year(const hl_calendar_t *cal, int year);
bool hl_calendar_is_workday(const hl_calendar_t *cal, int64_t day);

/* Parse "minutes", "hours", "natural_days" or "working_days". */
HL_MUSTCHECK int hl_limit_unit_parse(const char *s, hl_limit_unit_t *out);
const char *hl_limit_unit_name(hl_limit_unit_t u);

/* The instant (ms, UTC) by which a limit started at `from` (ms, UTC) ends.
 * offset_min is the local UTC offset. If `estimated` is not NULL it is set
 * true when a day counted falls in a year the calendar does not know. */
int64_t hl_limit_add(const hl_calendar_t *cal, int64_t from, hl_limit_t limit,
                     hl_count_rule_t rule, int offset_min, bool *estimated);

#endif
