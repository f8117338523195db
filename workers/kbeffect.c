/* kbeffect.c - how well knowledge-base answers work (see kbeffect.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/kbeffect.h"
#include "hotline/pg.h"

const char *const hl_kbeffect_names[HL_KBEFFECT_NCOUNTS] = {
    "uses",      "direct_closures", "reply_citations", "identified", "repeats",   "rated",
    "satisfied", "basically",       "dissatisfied",    "resolved",   "unresolved"};

#define COUNTS                                                                                          \
    "e.uses, e.direct, e.replies, e.identified, e.repeats, e.rated, e.satisfied, e.basically, "         \
    "e.dissatisfied, e.resolved, e.unresolved"
#define ZERO_COUNTS                                                                                     \
    "coalesce(e.uses, 0), coalesce(e.direct, 0), coalesce(e.replies, 0), coalesce(e.identified, 0), "  \
    "coalesce(e.repeats, 0), coalesce(e.rated, 0), coalesce(e.satisfied, 0), coalesce(e.basically, 0), " \
    "coalesce(e.dissatisfied, 0), coalesce(e.resolved, 0), coalesce(e.unresolved, 0)"

void hl_kbeffect_rules(const hl_conf_t *conf, hl_kbeffect_rules_t *out)
{
    out->repeat_days = conf->kb_repeat_days;
    out->min = conf->kb_fail_min;
    out->repeat_rate = conf->kb_fail_repeat_rate;
    out->satisfaction = conf->kb_fail_satisfaction;
}

double hl_kbeffect_repeat_rate(const hl_kbeffect_t *e)
{
    return e->identified ? (double)e->repeats / (double)e->identified : -1;
}

double hl_kbeffect_satisfaction(const hl_kbeffect_t *e)
{
    return e->rated ? (double)(e->satisfied + e->basically) / (double)e->rated : -1;
}

unsigned hl_kbeffect_judge(const hl_kbeffect_t *e, const hl_kbeffect_rules_t *rules)
{
    unsigned f = 0;
    if (e->identified >= rules->min && hl_kbeffect_repeat_rate(e) >= rules->repeat_rate) f |= HL_KBFLAG_REPEATS;
    if (e->rated >= rules->min && hl_kbeffect_satisfaction(e) < rules->satisfaction) f |= HL_KBFLAG_RATINGS;
    return f;
}

static PGresult *run(PGconn *pg, const char *sql, int n, const char *const *p, char err[HL_ERR_LEN])
{
    return hl_pg_rows(pg, "knowledge-base report", sql, n, p, err);
}

PGresult *hl_kbeffect_query(PGconn *pg, int64_t from_ms, int64_t to_ms, const hl_kbeffect_rules_t *rules,
                            const char *unit, const char *category, size_t limit, char err[HL_ERR_LEN])
{
    char from[24], to[24], days[24], lim[24];
    snprintf(from, sizeof from, "%lld", (long long)from_ms);
    snprintf(to, sizeof to, "%lld", (long long)to_ms);
    snprintf(days, sizeof days, "%lld", (long long)rules->repeat_days);
    snprintf(lim, sizeof lim, "%zu", limit);
    const char *p[6] = {from, to, days, unit && *unit ? unit : NULL, category && *category ? category : NULL, lim};
    return run(pg,
               "WITH e AS MATERIALIZED (SELECT * FROM hl_kb_effectiveness(to_timestamp($1::bigint / 1000.0), "
               "to_timestamp($2::bigint / 1000.0), make_interval(days => $3::integer))) "
               "(SELECT 'e', k.id, k.version, k.status, k.title, coalesce(k.category, ''), coalesce(k.unit, ''), "
               "coalesce(k.review_at::text, ''), k.status = 'published' AND k.review_at < current_date, " ZERO_COUNTS
               " FROM kb_entries k LEFT JOIN e ON e.entry_id = k.id "
               "WHERE (e.entry_id IS NOT NULL OR (k.status = 'published' AND k.review_at < current_date)) "
               "AND ($4::text IS NULL OR k.unit = $4) "
               "AND ($5::text IS NULL OR k.category = $5 OR k.category LIKE $5 || '.%') "
               "ORDER BY coalesce(e.uses, 0) DESC, k.id LIMIT $6::bigint) "
               "UNION ALL "
               "(SELECT 'c', NULL, NULL, '', '', e.category, '', '', false, " COUNTS " FROM e "
               "WHERE e.entry_id IS NULL AND ($5::text IS NULL OR e.category = $5 OR e.category LIKE $5 || '.%') "
               "ORDER BY e.uses DESC, e.category)",
               6, p, err);
}

void hl_kbeffect_row(const PGresult *res, int row, int col, hl_kbeffect_t *out)
{
    int64_t *f = &out->uses;
    for (int i = 0; i < HL_KBEFFECT_NCOUNTS; i++) f[i] = atoll(PQgetvalue(res, row, col + i));
}
