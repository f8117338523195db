/* refdata.h - one immutable snapshot of the reference data routing needs.
 *
 * Regions, units, categories, the dispatch catalogue (派单目录), the deadline
 * policy, the working-day calendars and the emergency phrases, read from
 * PostgreSQL (hl_refdata_query / hl_refdata_load) or built by hand (tests),
 * then sealed with hl_refdata_finish. The router keeps one current snapshot
 * and swaps in a new one when the tables change (NOTIFY hotline_reference).
 */
#ifndef HOTLINE_REFDATA_H
#define HOTLINE_REFDATA_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "hotline/calendar.h"
#include "hotline/classify.h"
#include "hotline/err.h"
#include "hotline/model.h"
#include "hotline/policy.h"

#define HL_MAX_CHAIN 8 /* deepest region chain followed */

typedef struct {
    const char *lead;
    const char *const *assisting;
    int nassisting;
} hl_route_t;

typedef struct hl_refdata hl_refdata_t;

hl_refdata_t *hl_refdata_new(void);
void hl_refdata_destroy(hl_refdata_t **self_p);

/* The queries that load a snapshot, run in this order (one pipeline). */
size_t hl_refdata_nqueries(void);
const char *hl_refdata_query(size_t i);
/* Load the result of query i. Returns 0 or HL_EINVAL with err filled. */
HL_MUSTCHECK int hl_refdata_load(hl_refdata_t *rd, size_t i, const PGresult *res,
                                 char err[HL_ERR_LEN]);

/* Builders (copies everything). Each returns 0, HL_EEXIST or HL_EINVAL. */
HL_MUSTCHECK int hl_refdata_add_region(hl_refdata_t *rd, const char *code, const char *parent,
                                       int level);
HL_MUSTCHECK int hl_refdata_add_unit(hl_refdata_t *rd, const char *code, bool active);
HL_MUSTCHECK int hl_refdata_add_category(hl_refdata_t *rd, const char *code, const char *parent,
                                          const char *name);
HL_MUSTCHECK int hl_refdata_add_keyword(hl_refdata_t *rd, const char *category, const char *word);
HL_MUSTCHECK int hl_refdata_add_route(hl_refdata_t *rd, const char *category, const char *region,
                                      const char *lead);
HL_MUSTCHECK int hl_refdata_add_assisting(hl_refdata_t *rd, const char *category,
                                          const char *region, const char *unit);
HL_MUSTCHECK int hl_refdata_add_policy(hl_refdata_t *rd, const hl_policy_row_t *row);
HL_MUSTCHECK int hl_refdata_add_day(hl_refdata_t *rd, const char *region, int64_t day,
                                    hl_day_kind_t kind);
HL_MUSTCHECK int hl_refdata_add_year(hl_refdata_t *rd, const char *region, int year);
HL_MUSTCHECK int hl_refdata_add_emergency(hl_refdata_t *rd, const char *phrase,
                                          const char *service);

/* Classify with this trained model (borrowed: it must outlive the snapshot).
 * Each model label must name a first-level category, by name ("城乡建设") or
 * by code; hl_refdata_finish checks. */
void hl_refdata_set_model(hl_refdata_t *rd, const hl_model_t *model);

/* Check the snapshot (parents known, units of routes active, a '*' policy
 * row, a top-level region, every model label a first-level category) and
 * build the classifier and calendars. Returns 0 or HL_EINVAL with err filled.
 * Only sealed snapshots may be queried. */
HL_MUSTCHECK int hl_refdata_finish(hl_refdata_t *rd, char err[HL_ERR_LEN]);

/* Fill chain with region (if known) and its ancestors, most specific first.
 * Returns the length; 0 for an unknown region. Strings are borrowed. */
int hl_refdata_region_chain(const hl_refdata_t *rd, const char *region,
                            const char *chain[HL_MAX_CHAIN]);
/* The top-level region (the city), for intakes without a known region. */
const char *hl_refdata_top_region(const hl_refdata_t *rd);
/* The route of a category in a region chain: the category's own rows in the
 * chain first (most specific region first), then its parent category's. NULL
 * if no row matches. */
const hl_route_t *hl_refdata_route(const hl_refdata_t *rd, const char *category,
                                   const char *const *chain, int n);
/* The calendar of the first region of the chain that has local days, else
 * the national one. */
const hl_calendar_t *hl_refdata_calendar(const hl_refdata_t *rd, const char *const *chain, int n);
const hl_policy_t *hl_refdata_policy(const hl_refdata_t *rd);
const hl_classifier_t *hl_refdata_classifier(const hl_refdata_t *rd);
bool hl_refdata_has_unit(const hl_refdata_t *rd, const char *code);
bool hl_refdata_has_category(const hl_refdata_t *rd, const char *code);
/* Unit codes of all active units (borrowed), for stream set-up. */
size_t hl_refdata_units(const hl_refdata_t *rd, const char *const **codes);

/* The figures' counters (NULL when none were loaded). */
struct hl_figures;
const struct hl_figures *hl_refdata_figures(const hl_refdata_t *rd);

#endif
