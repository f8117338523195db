/* kbeffect.h - how well knowledge-base answers work, from outcomes.
 *
 * Uses are recorded by PostgreSQL (migration 009: a trigger on the event log
 * turns every close_direct or reply citing kb_entry/kb_version into kb_uses
 * rows) and counted by hl_kb_effectiveness() there; this module asks for the
 * figures per entry or per ticket category and judges them, for the gateway's
 * report and hotline-kb alike.
 *
 * An entry is failing when, with enough evidence (rules.min), the share of
 * its identified uses after which the requester came back on the same
 * category within rules.repeat_days reaches rules.repeat_rate, or the share
 * of satisfied and basically satisfied ratings is below rules.satisfaction.
 * A published entry whose review date has passed is flagged past review.
 */
#ifndef HOTLINE_KBEFFECT_H
#define HOTLINE_KBEFFECT_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "hotline/conf.h"
#include "hotline/err.h"

/* Tickets counted, see hl_kb_effectiveness() in deploy/sql/009_kb_uses.sql. */
typedef struct {
    int64_t uses, direct, replies, identified, repeats, rated, satisfied, basically, dissatisfied, resolved,
        unresolved;
} hl_kbeffect_t;
#define HL_KBEFFECT_NCOUNTS 11
extern const char *const hl_kbeffect_names[HL_KBEFFECT_NCOUNTS]; /* JSON/CSV names, in field order */

typedef struct {
    int64_t repeat_days;
    int64_t min;
    double repeat_rate;
    double satisfaction;
} hl_kbeffect_rules_t;

enum {
    HL_KBFLAG_REPEATS = 1,      /* failing: requesters come back */
    HL_KBFLAG_RATINGS = 2,      /* failing: poorly rated */
    HL_KBFLAG_PAST_REVIEW = 4,  /* published, review date passed */
};

/* The rules of the [kb] settings. */
void hl_kbeffect_rules(const hl_conf_t *conf, hl_kbeffect_rules_t *out);

/* repeats / identified and (satisfied + basically) / rated; -1 when the
 * denominator is 0. */
double hl_kbeffect_repeat_rate(const hl_kbeffect_t *e);
double hl_kbeffect_satisfaction(const hl_kbeffect_t *e);

/* HL_KBFLAG_REPEATS | HL_KBFLAG_RATINGS as the rules judge e. */
unsigned hl_kbeffect_judge(const hl_kbeffect_t *e, const hl_kbeffect_rules_t *rules);

/* The report for uses in [from_ms, to_ms), from one pass over the period
 * (optionally one owning unit's entries and one category, its code or a
 * parent's). Rows of two kinds, column 0 'e' or 'c':
 *   e: entries used in the period and published entries past review, most
 *      used first, at most limit;
 *   c: ticket categories, most used first.
 * Columns: kind, id, version, status, title, category, unit, review_at,
 * past_review (t/f) -- the entry's columns empty on 'c' rows except category
 * -- then the counts from HL_KBEFFECT_COUNTS_AT. The caller PQclears; NULL
 * with err filled. */
#define HL_KBEFFECT_COUNTS_AT 9
PGresult *hl_kbeffect_query(PGconn *pg, int64_t from_ms, int64_t to_ms, const hl_kbeffect_rules_t *rules,
                            const char *unit, const char *category, size_t limit, char err[HL_ERR_LEN]);

/* The counts of row `row` of either result, starting at column `col`. */
void hl_kbeffect_row(const PGresult *res, int row, int col, hl_kbeffect_t *out);

#endif
