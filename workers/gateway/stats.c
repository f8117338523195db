/* stats.c - the hotline's figures: GET /api/v1/stats.
 *
 *   GET /stats?from=&to=&unit=&category=&region=&channel=&source=live|exact&format=json|csv
 *       {"source", "from", "to", "totals": {counters..., rates...}, "by_unit": [{"unit",
 *       "unit_name", counters..., rates...}], "by_day": [{"day", counters...,
 *       rates...}], "rates": {name: {label, numerator, denominator}},
 *       "counters": {name: {label}}};
 *       format=csv: a row for all units, then one per unit
 *
 * The counters and rates are data (migration 010: metric_counters,
 * metric_rates). source=live (the default) adds up the cells the router
 * counted in Redis for the local days the period touches (whole days: the
 * answer's from and to say which), or their sums where those serve (per
 * counter|unit; a day over, per counter, unit and the one category, region
 * or channel filtered), less what rulings take out (hl_metric_ruled);
 * source=exact counts the event log for the period itself
 * (hl_metric_counts; the whole days sealed by hotline-figures seal from
 * their rows or sums, migrations 016-018). Either runs on a thread of its
 * own (gw_defer).
 * Office, supervisor and admin see every unit; a unit sees its own. Default
 * period: the last 30 days. A rate whose denominator is 0 is null.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "hotline/alloc.h"
#include "hotline/buf.h"
#include "hotline/clock.h"
#include "hotline/figsums.h"
#include "hotline/figures.h"
#include "hotline/map.h"

#include "gateway.h"

typedef struct {
    int64_t from, to;
    char unit[40], category[64], region[40], channel[16];
    hl_map_t *regions;        /* with region: it and the regions within it (the filter) */
    bool live, csv;
    json_t *out;
    char *text;               /* /metrics: the exposition (malloc) */
    bool unreachable;
} stats_t;

static PGresult *run(PGconn *pg, const char *sql, int n, const char *const *p)
{
    return gw_pg_rows(pg, "stats", sql, n, p);
}

/* Counts per unit as they are added up. */
typedef struct {
    PGresult *counters;       /* name, label: the columns of a row */
    int nc;
    hl_map_t *index;          /* unit -> row + 1 */
    char **units;
    int64_t *rows;            /* nunits x nc */
    size_t nunits, cap;
} table_t;

static void table_add(table_t *t, const char *unit, size_t ulen, const char *counter, size_t clen, int64_t n)
{
    int k = -1;
    for (int i = 0; i < t->nc && k < 0; i++)
        if (strlen(PQgetvalue(t->counters, i, 0)) == clen && !memcmp(PQgetvalue(t->counters, i, 0), counter, clen))
            k = i;
    if (k < 0) return; /* a counter no longer defined */
    size_t row = (size_t)(uintptr_t)hl_map_get(t->index, unit, ulen);
    if (!row) {
        if (t->nunits == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 16;
            t->units = hl_realloc(t->units, t->cap * sizeof *t->units);
            t->rows = hl_realloc(t->rows, t->cap * (size_t)t->nc * sizeof *t->rows);
        }
        t->units[t->nunits] = hl_strndup(unit, ulen);
        memset(t->rows + t->nunits * (size_t)t->nc, 0, (size_t)t->nc * sizeof *t->rows);
        row = ++t->nunits;
        hl_map_put(t->index, unit, ulen, (void *)(uintptr_t)row);
    }
    t->rows[(row - 1) * (size_t)t->nc + (size_t)k] += n;
}

static void table_free(table_t *t)
{
    for (size_t i = 0; i < t->nunits; i++) hl_free(t->units[i]);
    hl_free(t->units);
    hl_free(t->rows);
    hl_map_destroy(&t->index);
}

static bool same(const char *v, size_t len, const char *want)
{
    return !*want || (strlen(want) == len && !memcmp(v, want, len));
}

/* One live cell "counter|unit|category|region|channel" of the local day
 * `day` (YYYY-MM-DD) = n into t, kept by the cell's part `group` (1 unit, 4
 * channel; GROUP_DAY: the day), if the job's filters take it. A sum per
 * counter|unit (HL_FIGURES_UNIT_KEY) is a cell of no category, region or
 * channel; with tag ('c', 'r' or 'h'), f is a sum "counter|unit|value" of
 * HL_FIGURES_DIMS_KEY + tag (hl_figures_dims). */
#define GROUP_DAY (-1)
static void add_cell(table_t *t, int group, const stats_t *job, const char *day, const char *f, size_t flen,
                     int64_t n, char tag)
{
    const char *part[5];
    size_t len[5];
    int k = 0, slot = 0;
    if (tag) slot = tag == 'c' ? 2 : tag == 'r' ? 3 : 4;
    const char *p = f, *end = f + flen;
    while (k < 5) {
        const char *q = memchr(p, '|', (size_t)(end - p));
        if (!q) q = end;
        part[k] = p;
        len[k++] = (size_t)(q - p);
        if (q == end) break;
        p = q + 1;
    }
    if (tag) {
        if (k != 3) return;
        part[slot] = part[2], len[slot] = len[2];
        for (k = 2; k < 5; k++)
            if (k != slot) part[k] = "", len[k] = 0;
    } else if (k == 2) {
        for (; k < 5; k++) part[k] = "", len[k] = 0;
    }
    if (k != 5) return;
    if (!same(part[1], len[1], job->unit) || !hl_category_within(part[2], len[2], job->category) ||
        (job->regions && !hl_map_get(job->regions, part[3], len[3])) ||
        !same(part[4], len[4], job->channel))
        return;
    if (group == GROUP_DAY) table_add(t, day, strlen(day), part[0], len[0], n);
    else table_add(t, part[group], len[group], part[0], len[0], n);
}

/* Where live cells go: a table, the part of the cell it is kept by, and
 * the first local day it takes (earlier days go to other sinks only). */
typedef struct {
    table_t *t;
    int group;
    int64_t from_day;
} sink_t;

/* The rulings' share of each local day of [from_day, to_day) subtracted
 * from the sinks that take that day; false when PostgreSQL failed. */
static bool subtract_ruled(gw_req_t *r, PGconn *pg, const stats_t *job, int64_t from_day, int64_t to_day,
                           const sink_t *sinks, int nsinks)
{
    int off = (int)r->gw->conf.utc_offset_min;
    char from[24], to[24], offset[16];
    snprintf(from, sizeof from, "%lld", (long long)hl_day_start(from_day, off));
    snprintf(to, sizeof to, "%lld", (long long)hl_day_start(to_day, off));
    snprintf(offset, sizeof offset, "%d", off);
    const char *p[3] = {from, to, offset};
    PGresult *ruled = run(pg,
                          "SELECT day::text, (day - date '1970-01-01'), counter || '|' || unit || '|' || category "
                          "|| '|' || region || '|' || channel, n FROM hl_metric_ruled_days(to_timestamp($1::bigint "
                          "/ 1000.0), to_timestamp($2::bigint / 1000.0), $3::integer)",
                          3, p);
    if (!ruled) return false;
    for (int i = 0; i < PQntuples(ruled); i++) {
        int64_t day = atoll(PQgetvalue(ruled, i, 1));
        const char *cell = PQgetvalue(ruled, i, 2);
        for (int k = 0; k < nsinks; k++)
            if (day >= sinks[k].from_day)
                add_cell(sinks[k].t, sinks[k].group, job, PQgetvalue(ruled, i, 0), cell, strlen(cell),
                         -atoll(PQgetvalue(ruled, i, 3)), 0);
    }
    PQclear(ruled);
    return true;
}

/* The one kind of sum (hl_figures_dims) that serves the job's filters: 'c'
 * a category, 'r' a region, 'h' a channel; 0 none or more than one. */
static char dims_tag(const stats_t *job)
{
    int n = !!*job->category + !!*job->region + !!*job->channel;
    return n != 1 ? 0 : *job->category ? 'c' : *job->region ? 'r' : 'h';
}

/* The live cells of the local days [d0, d1) into the sinks, read once, less
 * what rulings take out; false: a store failed (job->unreachable set when
 * Redis or PostgreSQL is down). units: the sinks need no more than the
 * counter and unit, so sums serve: the day's per counter|unit when the job
 * filters no category, region or channel (a day that has none, counted
 * before they were kept, is read whole); a settled day's per counter, unit
 * and the one of those the job filters (HL_FIGURES_DIMS_KEY, kept on the
 * first read of its cells). */
static bool live_counts(gw_req_t *r, PGconn *pg, stats_t *job, int64_t d0, int64_t d1, const sink_t *sinks,
                        int nsinks, bool units)
{
    /* A day at a time: one day's cells of a large city are ~250,000 fields
     * (30 MB as a reply); a month of them at once would be Redis's and
     * our memory's problem. */
    struct timeval tv = {2, 0}, read = {10, 0};
    redisContext *rc = redisConnectWithTimeout(r->gw->conf.redis_host, (int)r->gw->conf.redis_port, tv);
    bool ok = rc && !rc->err;
    if (ok) redisSetTimeout(rc, read);
    char want = units ? dims_tag(job) : 0;
    bool summed = units && !*job->category && !*job->region && !*job->channel;
    int off = (int)r->gw->conf.utc_offset_min;
    int64_t now = hl_now_ms();
    for (int64_t d = d0; ok && d < d1; d++) {
        char day[16], tag = 0;
        hl_day_name(d, day);
        redisReply *rep = NULL;
        if (summed) {
            rep = redisCommand(rc, "HGETALL " HL_FIGURES_UNIT_KEY "%s", day);
        } else if (want && hl_figsums_settled(d, off, now)) {
            char key[48];
            snprintf(key, sizeof key, HL_FIGURES_DIMS_KEY "%c:%s", want, day);
            rep = redisCommand(rc, "HGETALL %s", key);
            tag = want;
            if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 0) { /* not kept yet */
                freeReplyObject(rep);
                rep = hl_figsums_keep(rc, day, NULL);
                tag = 0;
            }
        }
        if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 0 && (summed || tag)) {
            freeReplyObject(rep); /* no sums: read the cells */
            rep = NULL;
            tag = 0;
        }
        if (!rep) rep = redisCommand(rc, "HGETALL " HL_FIGURES_KEY "%s", day);
        ok = rep && rep->type == REDIS_REPLY_ARRAY;
        for (size_t e = 0; ok && e + 1 < rep->elements; e += 2)
            for (int k = 0; k < nsinks; k++)
                if (d >= sinks[k].from_day)
                    add_cell(sinks[k].t, sinks[k].group, job, day, rep->element[e]->str, rep->element[e]->len,
                             atoll(rep->element[e + 1]->str), tag);
        if (rep) freeReplyObject(rep);
    }
    if (!ok) {
        hl_warn("stats: redis %s:%d: %s", r->gw->conf.redis_host, (int)r->gw->conf.redis_port,
                rc && rc->err ? rc->errstr : "no answer");
        job->unreachable = true;
    }
    if (rc) redisFree(rc);
    return ok && subtract_ruled(r, pg, job, d0, d1, sinks, nsinks);
}

/* The figure definitions: counters (name, label) and rates (name, label,
 * numerator, denominator, description); false when PostgreSQL failed. */
static bool load_definitions(PGconn *pg, PGresult **counters, PGresult **rates)
{
    *counters = run(pg, "SELECT name, label FROM metric_counters ORDER BY name", 0, NULL);
    *rates = *counters ? run(pg, "SELECT name, label, numerator, denominator, description FROM metric_rates "
                                 "ORDER BY name",
                             0, NULL)
                       : NULL;
    return *rates != NULL;
}

/* Rate i's numerator and denominator over the counter values v. */
static void rate_of(PGresult *counters, const int64_t *v, PGresult *rates, int i, int64_t *num, int64_t *den)
{
    *num = *den = 0;
    for (int k = 0; k < PQntuples(counters); k++) {
        if (!strcmp(PQgetvalue(counters, k, 0), PQgetvalue(rates, i, 2))) *num = v[k];
        if (!strcmp(PQgetvalue(counters, k, 0), PQgetvalue(rates, i, 3))) *den = v[k];
    }
}

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
        int64_t num, den;
        rate_of(counters, v, rates, i, &num, &den);
        json_object_set_new(o, PQgetvalue(rates, i, 0), rate_json(num, den));
    }
    return o;
}

/* A CSV row: unit, its name, the period, each counter, each rate. */
static void csv_row(hl_buf_t *b, const char *unit, const char *name, const char *from, const char *to,
                    PGresult *counters, const int64_t *v, PGresult *rates)
{
    char num[32];
    gw_csv_field(b, unit, false);
    gw_csv_field(b, name, false);
    gw_csv_field(b, from, false);
    gw_csv_field(b, to, false);
    int nc = PQntuples(counters);
    for (int k = 0; k < nc; k++) {
        snprintf(num, sizeof num, "%lld", (long long)v[k]);
        gw_csv_field(b, num, false);
    }
    for (int i = 0; i < PQntuples(rates); i++) {
        int64_t n, d;
        rate_of(counters, v, rates, i, &n, &d);
        if (d) snprintf(num, sizeof num, "%.4f", (double)n / (double)d);
        else num[0] = '\0';
        gw_csv_field(b, num, i == PQntuples(rates) - 1);
    }
}

static int by_code(const void *a, const void *b)
{
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* A query's rows (day, unit, counter, n) into the unit and day tables;
 * false when it failed. */
static bool add_rows(PGconn *pg, const char *sql, const char *const *p, table_t *t, table_t *days)
{
    PGresult *res = run(pg, sql, 7, p);
    for (int i = 0; res && i < PQntuples(res); i++) {
        const char *d = PQgetvalue(res, i, 0), *u = PQgetvalue(res, i, 1), *c = PQgetvalue(res, i, 2);
        int64_t n = atoll(PQgetvalue(res, i, 3));
        table_add(t, u, strlen(u), c, strlen(c), n);
        table_add(days, d, strlen(d), c, strlen(c), n);
    }
    bool ok = res != NULL;
    PQclear(res);
    return ok;
}

/* The exact figures of [job->from, job->to) into the unit and day tables:
 * the whole local days that are sealed (migration 016, hotline-figures
 * seal) from their rows, the rest counted from the event log. False when
 * PostgreSQL failed. */
static bool exact_counts(gw_req_t *r, PGconn *pg, const stats_t *job, table_t *t, table_t *days)
{
    int off = (int)r->gw->conf.utc_offset_min;
    /* The whole days: from the first local midnight at or after from to the last at or before to. */
    int64_t w0 = hl_local_day(job->from - 1, off) + 1, w1 = hl_local_day(job->to, off);
    char offset[16], d0[16], d1[16], from[24], to[24];
    snprintf(offset, sizeof offset, "%d", off);
    hl_day_name(w0, d0);
    hl_day_name(w1, d1);
    const char *filters[4] = {*job->unit ? job->unit : NULL, *job->category ? job->category : NULL,
                              *job->region ? job->region : NULL, *job->channel ? job->channel : NULL};
    const char *ps[3] = {offset, d0, d1};
    PGresult *sealed = w0 < w1 ? run(pg,
                                     "SELECT (day - date '1970-01-01')::bigint FROM metric_days_sealed WHERE "
                                     "offset_min = $1::integer AND day >= $2::date AND day < $3::date ORDER BY 1",
                                     3, ps)
                               : NULL;
    if (w0 < w1 && !sealed) return false;
    bool ok = true;
    int nsealed = sealed ? PQntuples(sealed) : 0;
    if (nsealed) {
        const char *p[7] = {d0, d1, offset, filters[0], filters[1], filters[2], filters[3]};
        ok = add_rows(pg,
                      "SELECT day::text, unit, counter, n FROM hl_metric_counts_sealed($1::date, $2::date, "
                      "$3::integer, $4, $5, $6, $7)",
                      p, t, days);
    }
    /* The gaps between sealed days, counted from the log. */
    int64_t cur = job->from;
    for (int i = 0; ok && i <= nsealed; i++) {
        int64_t start = i < nsealed ? hl_day_start(atoll(PQgetvalue(sealed, i, 0)), off) : job->to;
        if (cur < start) {
            snprintf(from, sizeof from, "%lld", (long long)cur);
            snprintf(to, sizeof to, "%lld", (long long)start);
            const char *p[7] = {from, to, offset, filters[0], filters[1], filters[2], filters[3]};
            ok = add_rows(pg,
                          "SELECT day::text, unit, counter, n FROM hl_metric_counts_days(to_timestamp($1::bigint / "
                          "1000.0), to_timestamp($2::bigint / 1000.0), $3::integer, $4, $5, $6, $7)",
                          p, t, days);
        }
        if (i < nsealed) cur = start + 86400000;
    }
    PQclear(sealed);
    return ok;
}

static void figures_of(gw_req_t *r, PGconn *pg, stats_t *job)
{
    table_t t = {0}, days = {0};
    PGresult *rates = NULL;
    int64_t *total = NULL, *zero = NULL;
    char ***order = NULL;
    t.index = hl_map_new();
    days.index = hl_map_new();
    if (*job->region) job->regions = gw_refs_regions_within(r->refs, job->region);
    if (!pg || !load_definitions(pg, &t.counters, &rates)) goto fail;
    t.nc = days.nc = PQntuples(t.counters);
    days.counters = t.counters;
    int off = (int)r->gw->conf.utc_offset_min;
    int64_t d0 = hl_local_day(job->from, off), d1 = hl_local_day(job->to - 1, off) + 1;
    if (job->live) {
        /* Whole local days: the answer's from and to say which. */
        job->from = hl_day_start(d0, off);
        job->to = hl_day_start(d1, off);
        const sink_t sinks[2] = {{&t, 1, d0}, {&days, GROUP_DAY, d0}};
        if (!live_counts(r, pg, job, d0, d1, sinks, 2, true))
            goto fail;
    } else if (!exact_counts(r, pg, job, &t, &days)) {
        goto fail;
    }
    int nc = t.nc;
    total = hl_calloc((size_t)nc + 1, sizeof *total);
    order = hl_calloc(t.nunits + 1, sizeof *order);
    for (size_t u = 0; u < t.nunits; u++) order[u] = &t.units[u];
    qsort(order, t.nunits, sizeof *order, by_code);
    for (size_t u = 0; u < t.nunits; u++)
        for (int k = 0; k < nc; k++) total[k] += t.rows[u * (size_t)nc + (size_t)k];
    if (job->csv) {
        char f[40], tt[40];
        gw_time(r->gw, job->from, f);
        gw_time(r->gw, job->to, tt);
        hl_buf_t b = HL_BUF_INIT;
        hl_buf_puts(&b, "\xEF\xBB\xBFunit,unit_name,from,to");
        for (int k = 0; k < nc; k++) {
            hl_buf_putc(&b, ',');
            hl_buf_puts(&b, PQgetvalue(t.counters, k, 0));
        }
        for (int i = 0; i < PQntuples(rates); i++) {
            hl_buf_putc(&b, ',');
            hl_buf_puts(&b, PQgetvalue(rates, i, 0));
        }
        hl_buf_puts(&b, "\r\n");
        csv_row(&b, "", "全部", f, tt, t.counters, total, rates);
        for (size_t i = 0; i < t.nunits; i++) {
            size_t u = (size_t)(order[i] - t.units);
            csv_row(&b, t.units[u], *t.units[u] ? gw_refs_unit_name(r->refs, t.units[u]) : "（未派单）", f, tt,
                    t.counters, t.rows + u * (size_t)nc, rates);
        }
        job->text = b.data ? b.data : hl_strdup("");
        goto done;
    }
    json_t *by_unit = json_array();
    for (size_t i = 0; i < t.nunits; i++) {
        size_t u = (size_t)(order[i] - t.units);
        json_t *o = json_object();
        json_object_set_new(o, "unit", *t.units[u] ? json_string(t.units[u]) : json_null());
        json_object_set_new(o, "unit_name",
                            json_string(*t.units[u] ? gw_refs_unit_name(r->refs, t.units[u]) : "（未派单）"));
        json_array_append_new(by_unit, figures(o, t.counters, t.rows + u * (size_t)nc, rates));
    }
    /* Every local day of the period, in order, zeros where nothing was counted. */
    json_t *by_day = json_array();
    zero = hl_calloc((size_t)nc + 1, sizeof *zero);
    for (int64_t d = d0; d < d1; d++) {
        char day[16];
        hl_day_name(d, day);
        size_t row = (size_t)(uintptr_t)hl_map_get(days.index, day, strlen(day));
        json_t *o = json_pack("{s:s}", "day", day);
        json_array_append_new(by_day, figures(o, t.counters, row ? days.rows + (row - 1) * (size_t)nc : zero, rates));
    }
    json_t *defs = json_object();
    for (int i = 0; i < PQntuples(rates); i++)
        json_object_set_new(defs, PQgetvalue(rates, i, 0),
                            json_pack("{s:s, s:s, s:s, s:s}", "label", PQgetvalue(rates, i, 1), "numerator",
                                      PQgetvalue(rates, i, 2), "denominator", PQgetvalue(rates, i, 3), "description",
                                      PQgetvalue(rates, i, 4)));
    char f[40], tt[40];
    json_t *o = json_pack("{s:s, s:s, s:s}", "source", job->live ? "live" : "exact", "from",
                          gw_time(r->gw, job->from, f), "to", gw_time(r->gw, job->to, tt));
    json_object_set_new(o, "totals", figures(json_object(), t.counters, total, rates));
    json_object_set_new(o, "by_unit", by_unit);
    json_object_set_new(o, "by_day", by_day);
    json_object_set_new(o, "rates", defs);
    json_t *names = json_object();
    for (int k = 0; k < nc; k++)
        json_object_set_new(names, PQgetvalue(t.counters, k, 0),
                            json_pack("{s:s}", "label", PQgetvalue(t.counters, k, 1)));
    json_object_set_new(o, "counters", names);
    job->out = o;
    goto done;
fail:
    if (!job->unreachable) job->unreachable = gw_pg_unavailable(pg);
done:
    hl_map_destroy(&job->regions);
    hl_free(total);
    hl_free(zero);
    hl_free(order);
    PQclear(t.counters);
    table_free(&t);
    table_free(&days);
    PQclear(rates);
}

static void stats_work(gw_req_t *r, PGconn *pg)
{
    figures_of(r, pg, r->job);
}

json_t *gw_figures(gw_req_t *r, PGconn *pg, int64_t from, int64_t to, const char *unit, bool *unreachable)
{
    stats_t job = {.from = from, .to = to};
    snprintf(job.unit, sizeof job.unit, "%s", unit ? unit : "");
    figures_of(r, pg, &job);
    *unreachable = job.unreachable;
    return job.out;
}

static void stats_finish(gw_req_t *r)
{
    stats_t *job = r->job;
    if (job->text) {
        hl_info("export: the figures as CSV by %s#%lld", hl_role_name(r->tok.role), (long long)r->tok.id);
        gw_reply_text(r, 200, "text/csv; charset=utf-8", job->text, strlen(job->text));
        gw_add_header(r, "Content-Disposition", "attachment; filename=\"figures.csv\"");
    } else {
        gw_reply_deferred(r, job->out, job->unreachable, "the figures");
    }
    hl_free(job);
    r->job = NULL;
}

void gw_stats_api(gw_req_t *r)
{
    if (strcmp(r->method, "GET") != 0) {
        gw_not_allowed(r, "GET");
        return;
    }
    if (!gw_authenticate(r, HL_ROLE_OFFICE | HL_ROLE_SUPERVISOR | HL_ROLE_ADMIN | HL_ROLE_UNIT)) return;
    stats_t job = {0};
    if (!gw_period_args(r, &job.from, &job.to) || !gw_code_arg(r, "unit", job.unit, sizeof job.unit) ||
        !gw_code_arg(r, "category", job.category, sizeof job.category) ||
        !gw_code_arg(r, "region", job.region, sizeof job.region) ||
        !gw_code_arg(r, "channel", job.channel, sizeof job.channel) ||
        !gw_unit_scope(r, job.unit, sizeof job.unit, "figures"))
        return;
    const char *source = gw_arg(r, "source");
    if (source && strcmp(source, "live") != 0 && strcmp(source, "exact") != 0) {
        gw_reply_error(r, 400, "invalid", "'source' is live (the default: counted as events happen) or exact "
                                          "(recounted from the event log)");
        return;
    }
    job.live = !source || strcmp(source, "live") == 0;
    const char *format = gw_arg(r, "format");
    if (format && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0) {
        gw_reply_error(r, 400, "invalid", "'format' is json (the default) or csv");
        return;
    }
    job.csv = format && strcmp(format, "csv") == 0;
    stats_t *j = hl_malloc(sizeof *j);
    *j = job;
    r->job = j;
    gw_defer(r, stats_work, stats_finish);
}

/* ------------------------------------------------------------ /metrics */

/* A label value with \\, " and newlines escaped. */
static void label(hl_buf_t *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') hl_buf_putc(b, '\\');
        if (*v == '\n') {
            hl_buf_puts(b, "\\n");
            continue;
        }
        hl_buf_putc(b, *v);
    }
}

static void sample(hl_buf_t *b, const char *metric, const char *k1, const char *v1, const char *k2, const char *v2,
                   double value, bool integer)
{
    char num[48];
    hl_buf_puts(b, metric);
    hl_buf_putc(b, '{');
    hl_buf_puts(b, k1);
    hl_buf_puts(b, "=\"");
    label(b, v1);
    hl_buf_putc(b, '"');
    if (k2) {
        hl_buf_putc(b, ',');
        hl_buf_puts(b, k2);
        hl_buf_puts(b, "=\"");
        label(b, v2);
        hl_buf_putc(b, '"');
    }
    if (integer) snprintf(num, sizeof num, "} %lld\n", (long long)value);
    else snprintf(num, sizeof num, "} %.6g\n", value);
    hl_buf_puts(b, num);
}

static void head(hl_buf_t *b, const char *metric, const char *type, const char *help)
{
    hl_buf_puts(b, "# HELP ");
    hl_buf_puts(b, metric);
    hl_buf_putc(b, ' ');
    hl_buf_puts(b, help);
    hl_buf_puts(b, "\n# TYPE ");
    hl_buf_puts(b, metric);
    hl_buf_putc(b, ' ');
    hl_buf_puts(b, type);
    hl_buf_putc(b, '\n');
}

/* The live figures as Prometheus gauges: today's counters per unit and per
 * channel, and the last 30 days' rates per unit and overall. Labels are
 * counter, rate, unit and channel codes only: bounded, nothing personal. */
static void metrics_work(gw_req_t *r, PGconn *pg)
{
    stats_t *job = r->job;
    table_t today = {0}, chan = {0}, month = {0};
    today.index = hl_map_new();
    chan.index = hl_map_new();
    month.index = hl_map_new();
    PGresult *counters = NULL, *rates = NULL;
    hl_buf_t b = HL_BUF_INIT;
    if (!pg || !load_definitions(pg, &counters, &rates)) goto fail;
    today.counters = chan.counters = month.counters = counters;
    today.nc = chan.nc = month.nc = PQntuples(counters);
    /* The last 30 local days' sums per counter|unit read once into month
     * and (today's) today; today's cells into chan (by channel). */
    int64_t day = hl_local_day(hl_now_ms(), (int)r->gw->conf.utc_offset_min);
    const sink_t sinks[2] = {{&month, 1, day - 29}, {&today, 1, day}}, by_channel = {&chan, 4, day};
    if (!live_counts(r, pg, job, day - 29, day + 1, sinks, 2, true) ||
        !live_counts(r, pg, job, day, day + 1, &by_channel, 1, false))
        goto fail;

    head(&b, "hotline_events_today", "gauge", "Events counted today (local day) per figure counter and unit; unit \"\" is none.");
    for (size_t u = 0; u < today.nunits; u++)
        for (int k = 0; k < today.nc; k++)
            sample(&b, "hotline_events_today", "counter", PQgetvalue(counters, k, 0), "unit", today.units[u],
                   (double)today.rows[u * (size_t)today.nc + (size_t)k], true);
    head(&b, "hotline_events_today_by_channel", "gauge", "Events counted today per figure counter and channel.");
    for (size_t u = 0; u < chan.nunits; u++)
        for (int k = 0; k < chan.nc; k++)
            sample(&b, "hotline_events_today_by_channel", "counter", PQgetvalue(counters, k, 0), "channel", chan.units[u],
                   (double)chan.rows[u * (size_t)chan.nc + (size_t)k], true);
    head(&b, "hotline_rate_30d", "gauge", "Each rate over the last 30 local days per unit (absent when its denominator is 0).");
    int64_t *total = hl_calloc((size_t)month.nc + 1, sizeof *total);
    for (size_t u = 0; u < month.nunits; u++) {
        for (int k = 0; k < month.nc; k++) total[k] += month.rows[u * (size_t)month.nc + (size_t)k];
        for (int i = 0; i < PQntuples(rates); i++) {
            int64_t num, den;
            rate_of(counters, month.rows + u * (size_t)month.nc, rates, i, &num, &den);
            if (den)
                sample(&b, "hotline_rate_30d", "rate", PQgetvalue(rates, i, 0), "unit", month.units[u],
                       (double)num / (double)den, false);
        }
    }
    head(&b, "hotline_rate_30d_all", "gauge", "Each rate over the last 30 local days, all units.");
    for (int i = 0; i < PQntuples(rates); i++) {
        int64_t num, den;
        rate_of(counters, total, rates, i, &num, &den);
        if (den) sample(&b, "hotline_rate_30d_all", "rate", PQgetvalue(rates, i, 0), NULL, NULL, (double)num / (double)den, false);
    }
    hl_free(total);
    char line[160];
    head(&b, "hotline_gateway_requests_total", "counter", "HTTP requests this gateway took.");
    snprintf(line, sizeof line, "hotline_gateway_requests_total %llu\n",
             (unsigned long long)__atomic_load_n(&r->gw->requests, __ATOMIC_RELAXED));
    hl_buf_puts(&b, line);
    head(&b, "hotline_gateway_errors_total", "counter", "HTTP requests answered with a 5xx status.");
    snprintf(line, sizeof line, "hotline_gateway_errors_total %llu\n",
             (unsigned long long)__atomic_load_n(&r->gw->errors, __ATOMIC_RELAXED));
    hl_buf_puts(&b, line);
    head(&b, "hotline_gateway_request_duration_seconds", "histogram",
         "HTTP requests this gateway finished (answered, or ended early by the client), "
         "by time since the first header read.");
    uint64_t cum = 0;
    for (int i = 0; i <= GW_DURATION_BUCKETS; i++) {
        cum += __atomic_load_n(&r->gw->durations[i], __ATOMIC_RELAXED);
        if (i < GW_DURATION_BUCKETS)
            snprintf(line, sizeof line, "hotline_gateway_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                     (double)gw_duration_bounds_us[i] / 1e6, (unsigned long long)cum);
        else
            snprintf(line, sizeof line, "hotline_gateway_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                     (unsigned long long)cum);
        hl_buf_puts(&b, line);
    }
    snprintf(line, sizeof line, "hotline_gateway_request_duration_seconds_sum %.6f\n",
             (double)__atomic_load_n(&r->gw->duration_us_sum, __ATOMIC_RELAXED) / 1e6);
    hl_buf_puts(&b, line);
    snprintf(line, sizeof line, "hotline_gateway_request_duration_seconds_count %llu\n", (unsigned long long)cum);
    hl_buf_puts(&b, line);
    job->text = b.data ? b.data : hl_strdup("");
    b.data = NULL;
    goto done;
fail:
    if (!job->unreachable) job->unreachable = gw_pg_unavailable(pg);
done:
    hl_buf_free(&b);
    table_free(&today);
    table_free(&chan);
    table_free(&month);
    PQclear(counters);
    PQclear(rates);
}

static void metrics_finish(gw_req_t *r)
{
    stats_t *job = r->job;
    if (job->text) {
        gw_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", job->text, strlen(job->text));
    } else {
        gw_reply_deferred(r, NULL, job->unreachable, "the figures");
    }
    hl_free(job);
    r->job = NULL;
}

void gw_metrics(gw_req_t *r)
{
    if (strcmp(r->method, "GET") != 0) {
        gw_not_allowed(r, "GET");
        return;
    }
    if (!gw_authenticate(r, HL_ROLE_OFFICE | HL_ROLE_SUPERVISOR | HL_ROLE_ADMIN)) return;
    r->job = hl_calloc(1, sizeof(stats_t));
    gw_defer(r, metrics_work, metrics_finish);
}
