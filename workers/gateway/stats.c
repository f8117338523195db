/* stats.c - the hotline's figures: GET /api/v1/stats.
 *
 *   GET /stats?from=&to=&unit=&category=&region=&channel=
 *       {"from", "to", "totals": {counters..., rates...}, "by_unit": [{"unit",
 *       "unit_name", counters..., rates...}], "rates": {name: {label,
 *       numerator, denominator}}}
 *
 * The counters and rates are data (migration 010: metric_counters,
 * metric_rates), counted exactly from the event log for the period
 * (hl_metric_counts) on a thread of its own (gw_defer). Office, supervisor
 * and admin see every unit; a unit sees its own. Default period: the last
 * 30 days. A rate whose denominator is 0 is null.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/utf8.h"

#include "gateway.h"

typedef struct {
    int64_t from, to;
    char unit[40], category[64], region[40], channel[16];
    json_t *out;
    bool unreachable;
} stats_t;

static json_t *rate_json(int64_t num, int64_t den)
{
    return den ? json_real((double)(int64_t)((double)num / (double)den * 10000 + 0.5) / 10000) : json_null();
}

/* counters (names) and values into o, with each rate. */
static json_t *figures(json_t *o, PGresult *counters, const int64_t *v, PGresult *rates)
{
    int nc = PQntuples(counters);
    for (int i = 0; i < nc; i++) json_object_set_new(o, PQgetvalue(counters, i, 0), json_integer(v[i]));
    for (int i = 0; i < PQntuples(rates); i++) {
        int64_t num = 0, den = 0;
        for (int k = 0; k < nc; k++) {
            if (!strcmp(PQgetvalue(counters, k, 0), PQgetvalue(rates, i, 2))) num = v[k];
            if (!strcmp(PQgetvalue(counters, k, 0), PQgetvalue(rates, i, 3))) den = v[k];
        }
        json_object_set_new(o, PQgetvalue(rates, i, 0), rate_json(num, den));
    }
    return o;
}

static PGresult *run(PGconn *pg, const char *sql, int n, const char *const *p)
{
    PGresult *res = PQexecParams(pg, sql, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) return res;
    if (PQstatus(pg) == CONNECTION_OK) hl_error("stats: %s", PQresultErrorMessage(res));
    PQclear(res);
    return NULL;
}

static int counter_index(PGresult *counters, const char *name)
{
    for (int i = 0; i < PQntuples(counters); i++)
        if (!strcmp(PQgetvalue(counters, i, 0), name)) return i;
    return -1;
}

static void stats_work(gw_req_t *r, PGconn *pg)
{
    stats_t *job = r->job;
    PGresult *counters = NULL, *rates = NULL, *counts = NULL;
    int64_t *total = NULL, *per = NULL;
    char **units = NULL;
    size_t nunits = 0;
    if (!pg) goto fail;
    counters = run(pg, "SELECT name, label FROM metric_counters ORDER BY name", 0, NULL);
    rates = counters ? run(pg, "SELECT name, label, numerator, denominator, description FROM metric_rates ORDER BY name",
                           0, NULL)
                     : NULL;
    char from[24], to[24];
    snprintf(from, sizeof from, "%lld", (long long)job->from);
    snprintf(to, sizeof to, "%lld", (long long)job->to);
    const char *p[6] = {from, to, *job->unit ? job->unit : NULL, *job->category ? job->category : NULL,
                        *job->region ? job->region : NULL, *job->channel ? job->channel : NULL};
    counts = rates ? run(pg,
                         "SELECT unit, counter, n FROM hl_metric_counts(to_timestamp($1::bigint / 1000.0), "
                         "to_timestamp($2::bigint / 1000.0), $3, $4, $5, $6) ORDER BY unit",
                         6, p)
                   : NULL;
    if (!counts) goto fail;
    int nc = PQntuples(counters), nrows = PQntuples(counts);
    total = hl_calloc((size_t)nc + 1, sizeof *total);
    per = hl_calloc(((size_t)nrows + 1) * ((size_t)nc + 1), sizeof *per);
    units = hl_calloc((size_t)nrows + 1, sizeof *units);
    for (int i = 0; i < nrows; i++) {
        const char *u = PQgetvalue(counts, i, 0);
        if (!nunits || strcmp(units[nunits - 1], u) != 0) units[nunits++] = (char *)u; /* sorted by unit */
        int k = counter_index(counters, PQgetvalue(counts, i, 1));
        if (k < 0) continue;
        int64_t n = atoll(PQgetvalue(counts, i, 2));
        per[(nunits - 1) * (size_t)nc + (size_t)k] += n;
        total[k] += n;
    }
    json_t *by_unit = json_array();
    for (size_t u = 0; u < nunits; u++) {
        json_t *o = json_object();
        json_object_set_new(o, "unit", *units[u] ? json_string(units[u]) : json_null());
        json_object_set_new(o, "unit_name", json_string(*units[u] ? gw_refs_unit_name(r->refs, units[u]) : "（未派单）"));
        json_array_append_new(by_unit, figures(o, counters, per + u * (size_t)nc, rates));
    }
    json_t *defs = json_object();
    for (int i = 0; i < PQntuples(rates); i++)
        json_object_set_new(defs, PQgetvalue(rates, i, 0),
                            json_pack("{s:s, s:s, s:s, s:s}", "label", PQgetvalue(rates, i, 1), "numerator",
                                      PQgetvalue(rates, i, 2), "denominator", PQgetvalue(rates, i, 3), "description",
                                      PQgetvalue(rates, i, 4)));
    char f[40], t[40];
    json_t *o = json_pack("{s:s, s:s}", "from", gw_time(r->gw, job->from, f), "to", gw_time(r->gw, job->to, t));
    json_object_set_new(o, "totals", figures(json_object(), counters, total, rates));
    json_object_set_new(o, "by_unit", by_unit);
    json_object_set_new(o, "rates", defs);
    job->out = o;
    goto done;
fail:
    job->unreachable = !pg || PQstatus(pg) != CONNECTION_OK;
done:
    hl_free(total);
    hl_free(per);
    hl_free(units);
    PQclear(counters);
    PQclear(rates);
    PQclear(counts);
}

static void stats_finish(gw_req_t *r)
{
    stats_t *job = r->job;
    if (job->out) {
        gw_reply_json(r, 200, job->out);
    } else if (job->unreachable) {
        gw_reply_error(r, 503, "unavailable", "the figures cannot be read now; try again");
        gw_add_header(r, "Retry-After", "1");
    } else {
        gw_reply_error(r, 500, "internal", "the figures could not be made");
    }
    hl_free(job);
    r->job = NULL;
}

/* An optional code argument into out; false: answered (400). */
static bool code_arg(gw_req_t *r, const char *name, char *out, size_t len)
{
    const char *v = gw_arg(r, name);
    out[0] = '\0';
    if (!v) return true;
    if (strlen(v) >= len || !hl_utf8_valid(v, strlen(v))) {
        gw_reply_error(r, 400, "invalid", "'%s' must be a code of up to %zu bytes", name, len - 1);
        return false;
    }
    memcpy(out, v, strlen(v) + 1);
    return true;
}

void gw_stats_api(gw_req_t *r)
{
    if (strcmp(r->method, "GET") != 0) {
        gw_not_allowed(r, "GET");
        return;
    }
    if (!gw_authenticate(r, HL_ROLE_OFFICE | HL_ROLE_SUPERVISOR | HL_ROLE_ADMIN | HL_ROLE_UNIT)) return;
    stats_t job = {0};
    if (!gw_time_arg(r, "from", &job.from) || !gw_time_arg(r, "to", &job.to) ||
        !code_arg(r, "unit", job.unit, sizeof job.unit) || !code_arg(r, "category", job.category, sizeof job.category) ||
        !code_arg(r, "region", job.region, sizeof job.region) || !code_arg(r, "channel", job.channel, sizeof job.channel))
        return;
    if (r->tok.role == HL_ROLE_UNIT) {
        if (*job.unit && strcmp(job.unit, r->tok.unit) != 0) {
            gw_reply_error(r, 403, "forbidden", "a unit reads its own figures only");
            return;
        }
        snprintf(job.unit, sizeof job.unit, "%s", r->tok.unit);
    }
    if (!job.to) job.to = hl_now_ms();
    if (!job.from) job.from = job.to - 30LL * 86400000;
    if (job.from >= job.to) {
        gw_reply_error(r, 400, "invalid", "'from' must be before 'to'");
        return;
    }
    stats_t *j = hl_malloc(sizeof *j);
    *j = job;
    r->job = j;
    gw_defer(r, stats_work, stats_finish);
}
