/* slaplan.h - when a deadline's notices are due.
 *
 * A running deadline (its clock started at `start`, due at `due`) gets, in
 * order and each at most once: a warning (yellow) when warn_share of its time
 * has passed, a reminder (催办) at remind_share, overdue (red) just after
 * `due`, then supervision (督办) level k when it is overdue by k escalation
 * periods, up to max_level.
 *
 * "Its time" is counted the way the limit was: natural time for limits in
 * minutes and hours; whole days for day limits, counting only working days
 * (weekends and holidays off, make-up workdays on) for working-day limits,
 * from the same first counted day as the deadline itself (次日起算 or
 * 当日起算). So 75 % of a 10-working-day limit falls in the middle of the
 * 8th working day, whatever holidays lie between. Escalation periods are
 * escalate_days counted days after the due day for day limits, and
 * escalate_ms for the others.
 */
#ifndef HOTLINE_SLAPLAN_H
#define HOTLINE_SLAPLAN_H

#include <stdint.h>

#include "hotline/calendar.h"

typedef enum { HL_SPAN_NATURAL = 0, HL_SPAN_DAYS, HL_SPAN_WORKING_DAYS } hl_span_t;

typedef struct {
    double warn_share, remind_share;  /* 0 < warn <= remind < 1 */
    int max_level;                    /* supervision levels, 0-9 */
    int escalate_days;
    int64_t escalate_ms;
    int offset_min;                   /* local UTC offset */
    hl_count_rule_t rule;             /* how day limits count */
} hl_slaplan_t;

/* The span a limit unit counts in. */
hl_span_t hl_span_of(hl_limit_unit_t u);

/* The last stage there is: HL_NOTICE_OVERDUE + max_level. */
int hl_sla_last_stage(const hl_slaplan_t *p);

/* When stage (1 warning, 2 reminder, 3 overdue, 3 + k supervision level k)
 * of the deadline is reached, ms. Never before start; later stages never
 * earlier than earlier ones. cal may be NULL for HL_SPAN_NATURAL. */
int64_t hl_sla_stage_at(const hl_slaplan_t *p, const hl_calendar_t *cal, hl_span_t span, int64_t start,
                        int64_t due, int stage);

/* The highest stage reached at `now` (0: none yet). */
int hl_sla_stage_reached(const hl_slaplan_t *p, const hl_calendar_t *cal, hl_span_t span, int64_t start,
                         int64_t due, int64_t now);

#endif
