/* hotspots.c - 热点: GET /api/v1/hotspots.
 *
 *   GET /hotspots?unit=&limit=
 *       {"from", "to", "baseline_days", "spikes": [{"category", "category_name",
 *       "region", "region_name", "count", "usual", "score", "examples":
 *       [{"ticket", "title"}]}], "clusters": [{"size", "category",
 *       "category_name", "region", "region_name", "unit", "unit_name",
 *       "newest", "oldest", "tickets": [...], "examples": [{"ticket", "title"}]}]}
 *
 * Spikes: the requests of each category x region in the last
 * hotspots.window_hours against the mean per window of the
 * hotspots.baseline_days before (include/hotline/hotspots.h). Clusters: the
 * open requests of the last hotspots.cluster_days (the newest
 * hotspots.cluster_scan) that read alike; a cluster's category, region and
 * unit are those most of its requests have. `limit` (10) of each. Office,
 * supervisor and admin see every unit; a unit sees its own requests.
 *
 * An answer is served again for hotspots.cache_s per unit and limit (its
 * "to" says when it was made): clustering takes a while (~0.35 s over 4,000
 * open requests), and every dashboard refreshes it each minute. Once it is
 * older, the first ask makes a new one, and asks while that is being made
 * get the one before (if made within twice cache_s), so that a refresh is
 * made once, not once per dashboard. Concurrent first asks (nothing kept yet)
 * each make it, as many at once as gateway.report_workers run; one waiting
 * its turn takes an answer made meanwhile (fresh as of when it asked). The
 * newest answer is kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/hotspots.h"
#include "hotline/store.h"

#include "gateway.h"

#define EXAMPLES 3
#define STR_(x) #x
#define STR(x) STR_(x)
#define CLUSTER_TICKETS 100

static PGresult *run(PGconn *pg, const char *sql, int n, const char *const *p)
{
    return gw_pg_rows(pg, "hotspots", sql, n, p);
}

static void name_pair(json_t *o, const gw_refs_t *refs, const char *category, const char *region)
{
    const gw_category_t *cat = gw_refs_category(refs, category);
    json_object_set_new(o, "category", json_string(category));
    json_object_set_new(o, "category_name", json_string(cat ? cat->name : ""));
    json_object_set_new(o, "region", *region ? json_string(region) : json_null());
    json_object_set_new(o, "region_name", json_string(gw_refs_region_name(refs, region)));
}

/* Element k of a PostgreSQL array literal, quoted. */
static void array_item(hl_buf_t *b, size_t k, const char *v)
{
    hl_buf_puts(b, k ? ",\"" : "\"");
    for (; *v; v++) {
        if (*v == '"' || *v == '\\') hl_buf_putc(b, '\\');
        hl_buf_putc(b, *v);
    }
    hl_buf_putc(b, '"');
}

/* Spikes of [from, to) against the baseline_days before, best first. */
static json_t *spikes(gw_req_t *r, PGconn *pg, const gw_hot_query_t *q)
{
    const hl_conf_t *conf = &r->gw->conf;
    char from[24], to[24], base[24], unit[48], min[24];
    int64_t base_from = q->from - conf->hot_baseline_days * 86400000LL;
    snprintf(from, sizeof from, "%lld", (long long)q->from);
    snprintf(to, sizeof to, "%lld", (long long)q->to);
    snprintf(base, sizeof base, "%lld", (long long)base_from);
    snprintf(unit, sizeof unit, "%s", q->unit ? q->unit : "");
    snprintf(min, sizeof min, "%lld", (long long)conf->hot_min_count);
    const char *p[5] = {base, from, to, *unit ? unit : NULL, min};
    PGresult *cells = run(pg,
                          "SELECT category, coalesce(region, ''), count(*) FILTER (WHERE created_at >= "
                          "to_timestamp($2::bigint / 1000.0)), count(*) FILTER (WHERE created_at < "
                          "to_timestamp($2::bigint / 1000.0)) FROM tickets "
                          "WHERE created_at >= to_timestamp($1::bigint / 1000.0) "
                          "AND created_at < to_timestamp($3::bigint / 1000.0) AND ($4::text IS NULL OR unit = $4) "
                          "GROUP BY 1, 2 HAVING count(*) FILTER (WHERE created_at >= "
                          "to_timestamp($2::bigint / 1000.0)) >= $5::bigint ORDER BY 1, 2",
                          5, p);
    if (!cells) return NULL;
    size_t n = (size_t)PQntuples(cells);
    hl_hot_cell_t *c = hl_malloc((n ? n : 1) * sizeof *c);
    hl_spike_t *s = hl_malloc((n ? n : 1) * sizeof *s);
    for (size_t i = 0; i < n; i++)
        c[i] = (hl_hot_cell_t){atoll(PQgetvalue(cells, (int)i, 2)), atoll(PQgetvalue(cells, (int)i, 3))};
    hl_spike_opts_t opts = {(double)(q->from - base_from) / (double)(q->to - q->from), conf->hot_factor,
                            conf->hot_min_count};
    size_t ns = hl_hot_spikes(c, n, &opts, s);
    if (ns > q->limit) ns = q->limit;
    json_t *list = json_array();
    hl_buf_t cats = HL_BUF_INIT, regs = HL_BUF_INIT;
    hl_buf_puts(&cats, "{");
    hl_buf_puts(&regs, "{");
    for (size_t k = 0; k < ns; k++) {
        int row = (int)s[k].cell;
        json_t *o = json_object();
        name_pair(o, r->refs, PQgetvalue(cells, row, 0), PQgetvalue(cells, row, 1));
        json_object_set_new(o, "count", json_integer(c[s[k].cell].now_n));
        json_object_set_new(o, "usual", json_real((double)(int64_t)(s[k].usual * 100 + 0.5) / 100));
        json_object_set_new(o, "score", json_real((double)(int64_t)(s[k].score * 100 + 0.5) / 100));
        json_object_set_new(o, "examples", json_array());
        json_array_append_new(list, o);
        array_item(&cats, k, PQgetvalue(cells, row, 0));
        array_item(&regs, k, PQgetvalue(cells, row, 1));
    }
    hl_buf_puts(&cats, "}");
    hl_buf_puts(&regs, "}");
    PGresult *ex = NULL;
    if (ns && q->examples) {
        const char *pe[5] = {from, to, *unit ? unit : NULL, cats.data, regs.data};
        ex = run(pg,
                 "SELECT category, region, ticket_no, title FROM (SELECT category, coalesce(region, '') region, "
                 "ticket_no, title, row_number() OVER (PARTITION BY category, region ORDER BY created_at DESC) rn "
                 "FROM tickets WHERE created_at >= to_timestamp($1::bigint / 1000.0) AND created_at < "
                 "to_timestamp($2::bigint / 1000.0) AND ($3::text IS NULL OR unit = $3) "
                 "AND (category, coalesce(region, '')) IN (SELECT * FROM unnest($4::text[], $5::text[]))) x "
                 "WHERE rn <= " STR(EXAMPLES) " ORDER BY category, region, rn",
                 5, pe);
    }
    for (int i = 0; ex && i < PQntuples(ex); i++)
        for (size_t k = 0; k < ns; k++) {
            int row = (int)s[k].cell;
            if (strcmp(PQgetvalue(ex, i, 0), PQgetvalue(cells, row, 0)) != 0 ||
                strcmp(PQgetvalue(ex, i, 1), PQgetvalue(cells, row, 1)) != 0)
                continue;
            json_array_append_new(json_object_get(json_array_get(list, k), "examples"),
                                  json_pack("{s:s, s:s}", "ticket", PQgetvalue(ex, i, 2), "title",
                                            PQgetvalue(ex, i, 3)));
        }
    bool failed = ns && q->examples && !ex;
    PQclear(ex);
    hl_buf_free(&cats);
    hl_buf_free(&regs);
    hl_free(c);
    hl_free(s);
    PQclear(cells);
    if (failed) json_decref(list);
    return failed ? NULL : list;
}

/* The value of column col most members of a cluster have (first on a tie). */
static const char *most_common(const PGresult *res, const hl_hot_cluster_t *c, int col)
{
    const char *best = "";
    size_t best_n = 0;
    for (size_t i = 0; i < c->n; i++) {
        const char *v = PQgetvalue(res, (int)c->members[i], col);
        size_t k = 0;
        for (size_t j = 0; j < c->n; j++) k += strcmp(v, PQgetvalue(res, (int)c->members[j], col)) == 0;
        if (k > best_n) best = v, best_n = k;
        if (best_n * 2 > c->n) break;
    }
    return best;
}

static json_t *clusters(gw_req_t *r, PGconn *pg, const gw_hot_query_t *q)
{
    const hl_conf_t *conf = &r->gw->conf;
    char days[24], scan[24], unit[48];
    snprintf(days, sizeof days, "%lld", (long long)conf->hot_cluster_days);
    snprintf(scan, sizeof scan, "%lld", (long long)conf->hot_cluster_scan);
    snprintf(unit, sizeof unit, "%s", q->unit ? q->unit : "");
    const char *p[3] = {days, scan, *unit ? unit : NULL};
    PGresult *res = run(pg,
                        "SELECT ticket_no, title, left(title || ' ' || body, 160), category, coalesce(region, ''), "
                        "coalesce(unit, ''), (extract(epoch FROM created_at) * 1000)::bigint FROM tickets "
                        "WHERE created_at >= now() - make_interval(days => $1::integer) "
                        "AND " HL_SQL_OPEN_STATES " AND ($3::text IS NULL OR unit = $3) "
                        "ORDER BY created_at DESC LIMIT $2::bigint",
                        3, p);
    if (!res) return NULL;
    size_t n = (size_t)PQntuples(res);
    const char **texts = hl_malloc((n ? n : 1) * sizeof *texts);
    size_t *lens = hl_malloc((n ? n : 1) * sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        texts[i] = PQgetvalue(res, (int)i, 2);
        lens[i] = (size_t)PQgetlength(res, (int)i, 2);
    }
    hl_hot_cluster_t *found;
    size_t nc = hl_hot_clusters(texts, lens, n, conf->hot_similarity, (size_t)conf->hot_cluster_min_size, &found);
    json_t *list = json_array();
    for (size_t k = 0; k < nc && k < q->limit; k++) {
        const hl_hot_cluster_t *c = &found[k];
        const char *u = most_common(res, c, 5);
        char newest[40], oldest[40];
        json_t *o = json_pack("{s:I}", "size", (json_int_t)c->n);
        name_pair(o, r->refs, most_common(res, c, 3), most_common(res, c, 4));
        json_object_set_new(o, "unit", *u ? json_string(u) : json_null());
        json_object_set_new(o, "unit_name", json_string(*u ? gw_refs_unit_name(r->refs, u) : ""));
        json_object_set_new(o, "newest",
                            json_string(gw_time(r->gw, atoll(PQgetvalue(res, (int)c->members[0], 6)), newest)));
        json_object_set_new(o, "oldest",
                            json_string(gw_time(r->gw, atoll(PQgetvalue(res, (int)c->members[c->n - 1], 6)), oldest)));
        json_t *tickets = json_array(), *examples = json_array();
        for (size_t i = 0; i < c->n && i < CLUSTER_TICKETS; i++) {
            int row = (int)c->members[i];
            json_array_append_new(tickets, json_string(PQgetvalue(res, row, 0)));
            if (i < EXAMPLES)
                json_array_append_new(examples, json_pack("{s:s, s:s}", "ticket", PQgetvalue(res, row, 0), "title",
                                                          PQgetvalue(res, row, 1)));
        }
        json_object_set_new(o, "tickets", tickets);
        json_object_set_new(o, "examples", examples);
        json_array_append_new(list, o);
    }
    hl_hot_clusters_free(found, nc);
    hl_free(texts);
    hl_free(lens);
    PQclear(res);
    return list;
}

json_t *gw_hotspots(gw_req_t *r, PGconn *pg, const gw_hot_query_t *q)
{
    json_t *sp = spikes(r, pg, q), *cl = sp && q->clusters ? clusters(r, pg, q) : NULL;
    if (!sp || (q->clusters && !cl)) {
        json_decref(sp);
        return NULL;
    }
    char f[40], t[40];
    json_t *o = json_pack("{s:s, s:s, s:I, s:o}", "from", gw_time(r->gw, q->from, f), "to", gw_time(r->gw, q->to, t),
                          "baseline_days", (json_int_t)r->gw->conf.hot_baseline_days, "spikes", sp);
    if (cl) json_object_set_new(o, "clusters", cl);
    return o;
}

/* ---------------------------------------------------- answers kept a while */

#define HOT_ANSWERS 64 /* (unit, limit) pairs kept; the oldest makes room */

struct gw_hot_answer {
    char unit[40];
    size_t limit;
    int64_t at_ms;      /* the answer's "to"; 0: an empty slot */
    char *json;         /* malloc'd */
    size_t len;
    int64_t making_ms;  /* a new answer is being made since then; 0: none */
};

/* The answer kept for unit and limit, or NULL (hot_lock held). */
static struct gw_hot_answer *hot_find(gw_t *gw, const char *unit, size_t limit)
{
    for (size_t i = 0; gw->hot_answers && i < HOT_ANSWERS; i++) {
        struct gw_hot_answer *a = &gw->hot_answers[i];
        if (a->at_ms && a->limit == limit && strcmp(a->unit, unit) == 0) return a;
    }
    return NULL;
}

/* A copy (malloc'd, *len bytes) of the answer for unit and limit made at
 * most hotspots.cache_s before ask_ms (when the ask came: an ask that waited
 * its turn takes an answer made while it waited, however long that took), or
 * (older) of the one before while another ask makes a new one (made within
 * twice cache_s); or NULL: the caller makes one and hands it to hot_made.
 * Any thread. */
static char *hot_cached(gw_t *gw, const char *unit, size_t limit, int64_t ask_ms, bool older, size_t *len)
{
    const hl_conf_t *conf = &gw->conf;
    char *copy = NULL;
    int64_t now_ms = hl_now_ms();
    pthread_mutex_lock(&gw->hot_lock);
    struct gw_hot_answer *a = hot_find(gw, unit, limit);
    int64_t age = a ? ask_ms - a->at_ms : 0;
    bool fresh = a && age < conf->hot_cache_s * 1000;
    /* A making that outlived its statement timeout has failed unseen. */
    bool making = a && a->making_ms && now_ms - a->making_ms < conf->gw_report_timeout_ms + 1000;
    if (fresh || (older && making && age < 2 * conf->hot_cache_s * 1000)) {
        copy = hl_malloc(a->len);
        memcpy(copy, a->json, a->len);
        *len = a->len;
        if (!older) a->making_ms = 0; /* a fresh one: none need be made */
    } else if (a) {
        a->making_ms = now_ms;
    }
    pthread_mutex_unlock(&gw->hot_lock);
    return copy;
}

/* A new answer for unit and limit made at at_ms (json: len bytes, copied),
 * or none (json NULL: it failed). Kept unless a newer one is kept already;
 * a new pair takes the oldest slot. Any thread. */
static void hot_made(gw_t *gw, const char *unit, size_t limit, int64_t at_ms, const char *json, size_t len)
{
    pthread_mutex_lock(&gw->hot_lock);
    if (!gw->hot_answers) gw->hot_answers = hl_calloc(HOT_ANSWERS, sizeof *gw->hot_answers);
    struct gw_hot_answer *slot = hot_find(gw, unit, limit);
    if (slot) slot->making_ms = 0;
    if (!json) goto done;
    if (!slot) { /* the oldest slot; an empty one is oldest */
        slot = &gw->hot_answers[0];
        for (size_t i = 1; i < HOT_ANSWERS; i++)
            if (gw->hot_answers[i].at_ms < slot->at_ms) slot = &gw->hot_answers[i];
        slot->making_ms = 0;
    }
    if (slot->at_ms <= at_ms) {
        free(slot->json);
        slot->json = hl_malloc(len);
        memcpy(slot->json, json, len);
        slot->len = len;
        slot->at_ms = at_ms;
        slot->limit = limit;
        snprintf(slot->unit, sizeof slot->unit, "%s", unit);
    }
done:
    pthread_mutex_unlock(&gw->hot_lock);
}

void gw_hot_answers_free(gw_t *gw)
{
    for (size_t i = 0; gw->hot_answers && i < HOT_ANSWERS; i++) free(gw->hot_answers[i].json);
    hl_free(gw->hot_answers);
    gw->hot_answers = NULL;
}

/* ------------------------------------------------------------- the request */

typedef struct {
    gw_hot_query_t q;
    char unit[40];
    char *json; /* the answer, written (gw_json_text) or kept (hot_cached): len bytes */
    size_t len;
    bool unreachable;
} hot_job_t;

static void hot_work(gw_req_t *r, PGconn *pg)
{
    hot_job_t *job = r->job;
    job->q.unit = job->unit;
    /* Made while this ask waited its turn (gateway.report_workers)? */
    if (r->gw->conf.hot_cache_s > 0 &&
        (job->json = hot_cached(r->gw, job->unit, job->q.limit, job->q.to, false, &job->len)))
        return;
    json_t *out = pg ? gw_hotspots(r, pg, &job->q) : NULL;
    job->unreachable = !out && gw_pg_unavailable(pg);
    if (out && (job->json = gw_json_text(out))) job->len = strlen(job->json);
    if (r->gw->conf.hot_cache_s > 0)
        hot_made(r->gw, job->unit, job->q.limit, job->q.to, job->json, job->len);
}

static void hot_finish(gw_req_t *r)
{
    hot_job_t *job = r->job;
    if (job->json)
        gw_reply_json_text(r, 200, job->json, job->len);
    else
        gw_reply_deferred(r, NULL, job->unreachable, "the hot spots");
    hl_free(job);
    r->job = NULL;
}

void gw_hotspots_api(gw_req_t *r)
{
    if (strcmp(r->method, "GET") != 0) {
        gw_not_allowed(r, "GET");
        return;
    }
    if (!gw_authenticate(r, HL_ROLE_OFFICE | HL_ROLE_SUPERVISOR | HL_ROLE_ADMIN | HL_ROLE_UNIT)) return;
    hot_job_t job = {0};
    long limit;
    if (!gw_code_arg(r, "unit", job.unit, sizeof job.unit) || !gw_int_arg(r, "limit", 10, 1, 100, &limit) ||
        !gw_unit_scope(r, job.unit, sizeof job.unit, "hot spots"))
        return;
    job.q.to = hl_now_ms();
    job.q.from = job.q.to - r->gw->conf.hot_window_hours * 3600000LL;
    job.q.limit = (size_t)limit;
    job.q.clusters = job.q.examples = true;
    size_t len;
    char *kept = r->gw->conf.hot_cache_s > 0 ? hot_cached(r->gw, job.unit, job.q.limit, job.q.to, true, &len) : NULL;
    if (kept) {
        gw_reply_json_text(r, 200, kept, len);
        return;
    }
    hot_job_t *j = hl_malloc(sizeof *j);
    *j = job;
    r->job = j;
    gw_defer(r, hot_work, hot_finish);
}
