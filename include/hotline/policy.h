/* policy.h - the deadline policy: (request type, urgency, region) -> limits.
 *
 * Rows come from the deadline_policy table; '*' (stored as 0 / "") matches any
 * value. Lookup prefers an exact urgency, then an exact type, then the most
 * specific region of the chain given (street, district, city), then '*':
 * an urgent rule anywhere beats a generic rule of a district.
 */
#ifndef HOTLINE_POLICY_H
#define HOTLINE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "hotline/calendar.h"
#include "hotline/err.h"
#include "hotline/ticket.h"

#define HL_REGION_LEN 16 /* region codes are 6-12 digits */

typedef struct {
    hl_type_t type;          /* 0 = any */
    hl_urgency_t urgency;    /* 0 = any */
    char region[HL_REGION_LEN]; /* "" = any */
    hl_limit_t sign, contact, reply;
    int max_extensions;
    hl_limit_t extension, return_window;
    hl_limit_t callback;     /* callback (回访) within this of the reply's acceptance */
    int max_returns;         /* then the office's next dispatch is binding */
    int max_reopens;         /* 重办 at most */
    int callback_attempts;   /* unreachable this many times: the ticket may close */
} hl_policy_row_t;

typedef struct {
    int64_t sign, contact, reply; /* ms since the epoch, UTC */
    bool estimated;               /* a counted day lies in a year the calendar lacks */
} hl_deadlines_t;

typedef struct hl_policy hl_policy_t;

hl_policy_t *hl_policy_new(void);
void hl_policy_destroy(hl_policy_t **self_p);

/* Add a row (copied). Returns 0, HL_EEXIST for a second row with the same
 * key, or HL_EINVAL for a limit that is not positive or is over 3650 days /
 * 87600 hours / 5256000 minutes. */
HL_MUSTCHECK int hl_policy_add(hl_policy_t *p, const hl_policy_row_t *row);

/* The row for a ticket, or NULL when no row matches (not even '*,*,*').
 * regions: most specific first; n may be 0. */
const hl_policy_row_t *hl_policy_find(const hl_policy_t *p, hl_type_t type, hl_urgency_t urgency,
                                      const char *const *regions, size_t n);

/* Compute the three deadlines of a row from a receipt instant. */
void hl_policy_deadlines(const hl_policy_row_t *row, const hl_calendar_t *cal, int64_t from,
                         hl_count_rule_t rule, int offset_min, hl_deadlines_t *out);

#endif
