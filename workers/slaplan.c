/* slaplan.c - the times of a deadline's notices. */
#include <stddef.h>

#include "hotline/slaplan.h"

#define DAY_MS 86400000LL

/* Notice stages, as in lifecycle.h. */
enum { WARNING = 1, REMINDER = 2, OVERDUE = 3 };

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

hl_span_t hl_span_of(hl_limit_unit_t u)
{
    switch (u) {
    case HL_LIMIT_WORKING_DAYS: return HL_SPAN_WORKING_DAYS;
    case HL_LIMIT_NATURAL_DAYS: return HL_SPAN_DAYS;
    default: return HL_SPAN_NATURAL;
    }
}

int hl_sla_last_stage(const hl_slaplan_t *p)
{
    return OVERDUE + p->max_level;
}

static bool counted(const hl_calendar_t *cal, hl_span_t span, int64_t day)
{
    return span == HL_SPAN_DAYS || !cal || hl_calendar_is_workday(cal, day);
}

/* The instant `share` of a day-counted deadline's days have passed. */
static int64_t day_share(const hl_slaplan_t *p, const hl_calendar_t *cal, hl_span_t span, int64_t start,
                         int64_t due, double share)
{
    int64_t off = (int64_t)p->offset_min * 60000;
    int64_t sday = floor_div(start + off, DAY_MS), dday = floor_div(due + off, DAY_MS);
    int64_t first = p->rule == HL_COUNT_SAME_DAY && counted(cal, span, sday) ? sday : sday + 1;
    if (dday < first || dday - first > 3660) return start + (int64_t)(share * (double)(due - start));
    int n = 0;
    for (int64_t d = first; d <= dday; d++) n += counted(cal, span, d);
    if (n == 0) return start + (int64_t)(share * (double)(due - start));
    double target = share * n;
    int k = (int)target;
    int64_t into = (int64_t)((target - k) * (double)DAY_MS + 0.5); /* to the ms */
    if (into >= DAY_MS) k++, into -= DAY_MS;                        /* 2.9999... days is 3 */
    int64_t day = first;
    for (;; day++) {
        if (!counted(cal, span, day)) continue;
        if (k-- == 0) break;
    }
    int64_t at = day * DAY_MS - off + into;
    return at < start ? start : at > due ? due : at;
}

int64_t hl_sla_stage_at(const hl_slaplan_t *p, const hl_calendar_t *cal, hl_span_t span, int64_t start,
                        int64_t due, int stage)
{
    if (due < start) start = due;
    switch (stage) {
    case WARNING:
    case REMINDER: {
        double share = stage == WARNING ? p->warn_share : p->remind_share;
        int64_t at = span == HL_SPAN_NATURAL ? start + (int64_t)(share * (double)(due - start))
                                             : day_share(p, cal, span, start, due, share);
        /* Never after the next stage. */
        if (stage == WARNING) {
            int64_t r = hl_sla_stage_at(p, cal, span, start, due, REMINDER);
            if (at > r) at = r;
        }
        return at;
    }
    case OVERDUE: return due + 1;
    default: {
        int k = stage - OVERDUE;
        if (span == HL_SPAN_NATURAL) return due + 1 + (int64_t)k * p->escalate_ms;
        /* k * escalate_days more counted days after the due day. */
        hl_limit_t lim = {k * p->escalate_days,
                          span == HL_SPAN_WORKING_DAYS ? HL_LIMIT_WORKING_DAYS : HL_LIMIT_NATURAL_DAYS};
        return hl_limit_add(cal, due, lim, HL_COUNT_NEXT_DAY, p->offset_min, NULL) + 1;
    }
    }
}

int hl_sla_stage_reached(const hl_slaplan_t *p, const hl_calendar_t *cal, hl_span_t span, int64_t start,
                         int64_t due, int64_t now)
{
    int reached = 0;
    for (int s = WARNING; s <= hl_sla_last_stage(p); s++) {
        if (hl_sla_stage_at(p, cal, span, start, due, s) > now) break;
        reached = s;
    }
    return reached;
}
