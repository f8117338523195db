/* figures.c - hotline-figures: the live figures checked against the event log.
 *
 *   hotline-figures check  [--from DAY] [--to DAY]
 *   hotline-figures repair [--from DAY] [--to DAY]
 *   hotline-figures seal   [--from DAY] [--to DAY]
 *
 * The router counts every committed event in Redis, two hashes per local
 * day (hl:m:YYYY-MM-DD, the cells, and hl:mu:YYYY-MM-DD, their sums per
 * counter and unit; a day over also hl:mdc:, hl:mdr:, hl:mdh:YYYY-MM-DD, the
 * sums per counter, unit and category, region or channel, once read; see
 * include/hotline/figures.h). check compares each day's hashes with the
 * cells PostgreSQL computes from ticket_events (hl_metric_cells, migration
 * 011) and lists the cells that differ; repair rebuilds each day's hashes
 * from PostgreSQL (written under a new key, then renamed over the old one:
 * readers see the old or the new day whole; the hl:md* sums are dropped, to
 * be kept again by their next reader).
 * A day still receiving events may change between the read and the rename;
 * run check again afterwards. seal counts completed days into PostgreSQL
 * (metric_days, migration 016) so exact figures of long periods need not
 * recount them: by default the last 30 days not sealed yet (run it daily),
 * with --from/--to those days again; and keeps the live sums of each day
 * sealed (hotline/figsums.h), so that the first figures filtered by a
 * category, region or channel need not read its cells.
 */
#include <getopt.h>
#include <inttypes.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/conf.h"
#include "hotline/figsums.h"
#include "hotline/figures.h"
#include "hotline/map.h"
#include "hotline/pg.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: hotline-figures [options] check|repair|seal\n"
            "The live figures (counted in Redis by the router as events happen) against the\n"
            "same figures computed from PostgreSQL's event log, day by day.\n"
            "\n"
            "Commands:\n"
            "  check           list the cells (counter|unit|category|region|channel; the day's\n"
            "                  sums per counter|unit, marked 'units'; those per counter, unit\n"
            "                  and category, region or channel, marked 'sums c', 'sums r',\n"
            "                  'sums h') that differ\n"
            "  repair          rebuild each day's live figures from PostgreSQL\n"
            "  seal            count completed days into PostgreSQL's metric_days, so exact\n"
            "                  figures of long periods read them instead of every event\n"
            "                  (default: the days of the last 30 not sealed yet; run daily);\n"
            "                  and keep the live sums of each per counter, unit and category,\n"
            "                  region or channel beside its cells in Redis (an hour after\n"
            "                  the day's end)\n"
            "\n"
            "Options:\n"
            "  --from DAY      first local day (YYYY-MM-DD; default: 30 days ago)\n"
            "  --to DAY        last local day, included (default: today; seal: yesterday)\n"
            "  -c, --config FILE  settings file (postgres.conninfo, redis.host, redis.port,\n"
            "                  deadlines.utc_offset_min)\n"
            "  -s, --set S.K=V    override one setting\n"
            "  -h, --help      this text\n"
            "\n"
            "Exit status: 0 equal (check), rebuilt (repair) or sealed (seal), 1 different or a\n"
            "store failed, 2 bad usage (also: sealing a day not yet over).\n"
            );
}

/* The day's cells from PostgreSQL; NULL when the query failed. */
static PGresult *exact_cells(PGconn *pg, const char *day, int offset)
{
    char off[16];
    snprintf(off, sizeof off, "%d", offset);
    const char *p[2] = {day, off};
    char err[HL_ERR_LEN];
    PGresult *res = hl_pg_rows(
        pg, "hotline-figures",
        "SELECT field, n FROM hl_metric_cells($1::date, $1::date + 1, $2::integer) ORDER BY 1", 2, p, err);
    if (!res) fprintf(stderr, "%s\n", err);
    return res;
}

/* A day's expected cells: fields and counts as strings. */
typedef struct {
    const char **field, **n;
    size_t count;
    hl_map_t *sums;           /* field -> count, for sums */
    char (*buf)[HL_FIGURES_DIM_MAX], (*num)[24];
} cells_t;

static void unit_cell(void *arg, const char *key, void *value)
{
    cells_t *c = arg;
    snprintf(c->buf[c->count], sizeof c->buf[0], "%s", key);
    snprintf(c->num[c->count], sizeof c->num[0], "%" PRIdPTR, (intptr_t)value);
    c->field[c->count] = c->buf[c->count];
    c->n[c->count] = c->num[c->count];
    c->count++;
}

static void sums_of(hl_map_t *sums, cells_t *c)
{
    size_t m = hl_map_size(sums);
    *c = (cells_t){hl_malloc((m + 1) * sizeof(char *)), hl_malloc((m + 1) * sizeof(char *)), 0, sums,
                   hl_malloc((m + 1) * sizeof *c->buf), hl_malloc((m + 1) * sizeof *c->num)};
    hl_map_each(sums, unit_cell, c);
}

static void add_sum(hl_map_t *sums, const char *field, size_t len, intptr_t n)
{
    intptr_t v = (intptr_t)hl_map_get(sums, field, len);
    (void)hl_map_put(sums, field, len, (void *)(v + n));
}

/* The fine cells of res, their sums per counter|unit (HL_FIGURES_UNIT_KEY)
 * and, unless dims is NULL, per hl_figures_dims (HL_FIGURES_DIMS_KEY, one
 * per HL_FIGURES_DIMS). */
static void expected(const PGresult *res, cells_t *fine, cells_t *units, cells_t dims[3])
{
    size_t n = (size_t)PQntuples(res);
    *fine = (cells_t){0};
    fine->field = hl_malloc((n + 1) * sizeof *fine->field);
    fine->n = hl_malloc((n + 1) * sizeof *fine->n);
    fine->count = n;
    hl_map_t *sums = hl_map_new(), *dsums[3] = {0};
    for (int k = 0; dims && k < 3; k++) dsums[k] = hl_map_new();
    char d[3][HL_FIGURES_DIM_MAX];
    for (size_t i = 0; i < n; i++) {
        fine->field[i] = PQgetvalue(res, (int)i, 0);
        fine->n[i] = PQgetvalue(res, (int)i, 1);
        size_t flen = strlen(fine->field[i]), len = hl_figures_unit_prefix(fine->field[i], flen);
        intptr_t v = (intptr_t)atoll(fine->n[i]);
        if (len && len < HL_FIGURES_DIM_MAX) add_sum(sums, fine->field[i], len, v);
        if (dims && hl_figures_dims(fine->field[i], flen, d))
            for (int k = 0; k < 3; k++) add_sum(dsums[k], d[k], strlen(d[k]), v);
    }
    sums_of(sums, units);
    for (int k = 0; dims && k < 3; k++) sums_of(dsums[k], &dims[k]);
}

static void cells_free(cells_t *c)
{
    hl_free(c->field);
    hl_free(c->n);
    hl_free(c->buf);
    hl_free(c->num);
    hl_map_destroy(&c->sums);
}

/* Compare the hash prefix+day with the expected cells, each that differs
 * listed after label; an empty hash passes when lazy (kept on first use).
 * Returns the cells that differ, or -1. */
static long check_hash(redisContext *rc, const char *prefix, const char *day, const cells_t *want, const char *label,
                       bool lazy)
{
    redisReply *rep = redisCommand(rc, "HGETALL %s%s", prefix, day);
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "hotline-figures: redis: %s\n", rep ? rep->str : rc->errstr);
        if (rep) freeReplyObject(rep);
        return -1;
    }
    if (lazy && rep->elements == 0) {
        freeReplyObject(rep);
        return 0;
    }
    hl_map_t *live = hl_map_new();
    for (size_t i = 0; i + 1 < rep->elements; i += 2)
        hl_map_put(live, rep->element[i]->str, rep->element[i]->len, rep->element[i + 1]->str);
    long diff = 0;
    for (size_t i = 0; i < want->count; i++) {
        const char *f = want->field[i], *n = want->n[i];
        const char *l = hl_map_get(live, f, strlen(f));
        if (!l || strcmp(l, n) != 0) {
            printf("%s %s%s exact=%s live=%s\n", day, label, f, n, l ? l : "0");
            diff++;
        }
        if (l) hl_map_del(live, f, strlen(f));
    }
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        if (!hl_map_get(live, rep->element[i]->str, rep->element[i]->len)) continue;
        printf("%s %s%s exact=0 live=%s\n", day, label, rep->element[i]->str, rep->element[i + 1]->str);
        diff++;
    }
    hl_map_destroy(&live);
    freeReplyObject(rep);
    return diff;
}

/* Compare one day (its hashes); returns the cells that differ, or -1. */
static long check_day(PGconn *pg, redisContext *rc, const char *day, int offset)
{
    PGresult *res = exact_cells(pg, day, offset);
    if (!res) return -1;
    cells_t fine, units, dims[3];
    expected(res, &fine, &units, dims);
    long a = check_hash(rc, HL_FIGURES_KEY, day, &fine, "", false);
    long b = a < 0 ? -1 : check_hash(rc, HL_FIGURES_UNIT_KEY, day, &units, "units ", false);
    for (int k = 0; k < 3; k++) {
        char prefix[16], label[16];
        snprintf(prefix, sizeof prefix, HL_FIGURES_DIMS_KEY "%c:", HL_FIGURES_DIMS[k]);
        snprintf(label, sizeof label, "sums %c ", HL_FIGURES_DIMS[k]);
        long c = b < 0 ? -1 : check_hash(rc, prefix, day, &dims[k], label, true);
        b = c < 0 ? -1 : b + c;
        cells_free(&dims[k]);
    }
    cells_free(&fine);
    cells_free(&units);
    PQclear(res);
    return a < 0 || b < 0 ? -1 : a + b;
}

/* Write the hash prefix+day from the cells: under a new key, then renamed
 * over the old one (or the old one deleted when there are none). Returns
 * 0 or -1. */
static int write_hash(redisContext *rc, const char *prefix, const char *day, const cells_t *c)
{
    char key[48], tmp[64];
    snprintf(key, sizeof key, "%s%s", prefix, day);
    snprintf(tmp, sizeof tmp, "%s:rebuild", key);
    int rc_ = 0;
    redisAppendCommand(rc, "DEL %s", tmp);
    for (size_t i = 0; i < c->count; i++) redisAppendCommand(rc, "HSET %s %s %s", tmp, c->field[i], c->n[i]);
    if (c->count) redisAppendCommand(rc, "RENAME %s %s", tmp, key);
    else redisAppendCommand(rc, "DEL %s", key);
    for (size_t i = 0; i < c->count + 2; i++) {
        redisReply *rep = NULL;
        if (redisGetReply(rc, (void **)&rep) != REDIS_OK || !rep || rep->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "hotline-figures: redis: %s\n", rep ? rep->str : rc->errstr);
            rc_ = -1;
        }
        if (rep) freeReplyObject(rep);
        if (rc_ < 0 && !rep) break;
    }
    return rc_;
}

/* Seal one completed day; returns the rows written, or -1. */
static long seal_day(PGconn *pg, const char *day, int offset)
{
    char off[16];
    snprintf(off, sizeof off, "%d", offset);
    const char *p[2] = {day, off};
    PGresult *res = PQexecParams(pg, "SELECT hl_metric_seal($1::date, $2::integer)", 2, NULL, p, NULL, NULL, 0);
    long n = PQresultStatus(res) == PGRES_TUPLES_OK ? atol(PQgetvalue(res, 0, 0)) : -1;
    if (n < 0) fprintf(stderr, "hotline-figures: %s", PQresultErrorMessage(res));
    PQclear(res);
    return n;
}

/* Whether the day is sealed (counted in the local time at offset). */
static bool sealed(PGconn *pg, const char *day, int offset)
{
    char off[16];
    snprintf(off, sizeof off, "%d", offset);
    const char *p[2] = {day, off};
    PGresult *res = PQexecParams(pg, "SELECT 1 FROM metric_days_sealed WHERE day = $1::date AND offset_min = $2::integer",
                                 2, NULL, p, NULL, NULL, 0);
    bool yes = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    PQclear(res);
    return yes;
}

/* Rebuild one day (both hashes); returns the cells written, or -1. */
static long repair_day(PGconn *pg, redisContext *rc, const char *day, int offset)
{
    PGresult *res = exact_cells(pg, day, offset);
    if (!res) return -1;
    cells_t fine, units;
    expected(res, &fine, &units, NULL);
    long n = write_hash(rc, HL_FIGURES_KEY, day, &fine) == 0 && write_hash(rc, HL_FIGURES_UNIT_KEY, day, &units) == 0
                 ? (long)(fine.count + units.count)
                 : -1;
    /* The sums per hl_figures_dims: kept again by their next reader. */
    redisReply *rep = n < 0 ? NULL
                            : redisCommand(rc, "DEL " HL_FIGURES_DIMS_KEY "c:%s " HL_FIGURES_DIMS_KEY "r:%s " HL_FIGURES_DIMS_KEY "h:%s",
                                           day, day, day);
    if (n >= 0 && (!rep || rep->type == REDIS_REPLY_ERROR)) {
        fprintf(stderr, "hotline-figures: redis: %s\n", rep ? rep->str : rc->errstr);
        n = -1;
    }
    if (rep) freeReplyObject(rep);
    cells_free(&fine);
    cells_free(&units);
    PQclear(res);
    return n;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
                                         {"from", required_argument, NULL, 'F'},   {"to", required_argument, NULL, 'T'},
                                         {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *config = NULL, *from_s = NULL, *to_s = NULL;
    char **sets = hl_calloc((size_t)argc + 1, sizeof(char *));
    int nsets = 0, opt, x = 2;
    while ((opt = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 's': sets[nsets++] = optarg; break;
        case 'F': from_s = optarg; break;
        case 'T': to_s = optarg; break;
        case 'h': usage(stdout); x = 0; goto done;
        default: usage(stderr); goto done;
        }
    }
    if (optind != argc - 1 || (strcmp(argv[optind], "check") != 0 && strcmp(argv[optind], "repair") != 0 &&
                               strcmp(argv[optind], "seal") != 0)) {
        usage(stderr);
        goto done;
    }
    bool repair = strcmp(argv[optind], "repair") == 0, seal = strcmp(argv[optind], "seal") == 0;
    hl_conf_t conf;
    char err[HL_ERR_LEN];
    if (hl_conf_load_all(&conf, config, environ, sets, nsets, err) != 0) {
        fprintf(stderr, "hotline-figures: %s\n", err);
        hl_conf_free(&conf);
        goto done;
    }
    int offset = (int)conf.utc_offset_min;
    int64_t to = hl_local_day(hl_now_ms(), offset), from = to - 30, from_ms, to_ms;
    if ((from_s && (strlen(from_s) != 10 || hl_time_parse(from_s, offset, &from_ms) != 0)) ||
        (to_s && (strlen(to_s) != 10 || hl_time_parse(to_s, offset, &to_ms) != 0))) {
        fprintf(stderr, "hotline-figures: --from and --to are days (YYYY-MM-DD)\n");
        hl_conf_free(&conf);
        goto done;
    }
    int64_t today = to;
    if (seal) to = today - 1;
    if (from_s) from = hl_local_day(from_ms, offset);
    if (to_s) to = hl_local_day(to_ms, offset);
    if (seal && to >= today) {
        fprintf(stderr, "hotline-figures: only a day that is over can be sealed (--to before today)\n");
        hl_conf_free(&conf);
        goto done;
    }
    if (from > to || to - from > 3660) {
        fprintf(stderr, "hotline-figures: --from must not be after --to (at most ten years)\n");
        hl_conf_free(&conf);
        goto done;
    }
    x = 1;
    PGconn *pg = PQconnectdb(conf.pg_conninfo);
    redisContext *rc = redisConnect(conf.redis_host, (int)conf.redis_port);
    hl_conf_free(&conf);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "hotline-figures: %s", PQerrorMessage(pg));
    } else if (!seal && (!rc || rc->err)) {
        fprintf(stderr, "hotline-figures: redis: %s\n", rc ? rc->errstr : "cannot connect");
    } else {
        if (seal && (!rc || rc->err)) /* sealing is PostgreSQL's; the live sums wait for their first reader */
            fprintf(stderr, "hotline-figures: redis: %s: live sums not kept\n", rc ? rc->errstr : "cannot connect");
        long total = 0, days = 0, kept = 0;
        bool failed = false;
        for (int64_t d = from; d <= to && !failed; d++, days++) {
            char day[16];
            hl_day_name(d, day);
            if (seal && !from_s && sealed(pg, day, offset)) {
                days--;
                continue;
            }
            long n = seal ? seal_day(pg, day, offset)
                          : repair ? repair_day(pg, rc, day, offset) : check_day(pg, rc, day, offset);
            if (n < 0) failed = true;
            else total += n;
            if (n >= 0 && seal && rc && !rc->err && hl_figsums_settled(d, offset, hl_now_ms())) {
                bool done_ = false;
                redisReply *rep = hl_figsums_keep(rc, day, &done_);
                if (rep) freeReplyObject(rep);
                kept += done_;
            }
        }
        if (!failed && seal) printf("days_sealed=%ld rows_written=%ld live_sums_kept=%ld\n", days, total, kept);
        if (!failed && repair) printf("days=%ld cells_written=%ld\n", days, total);
        if (!failed && !repair && !seal) printf("days=%ld cells_different=%ld\n", days, total);
        x = failed || (!repair && !seal && total) ? 1 : 0;
    }
    if (rc) redisFree(rc);
    PQfinish(pg);
done:
    hl_free(sets);
    return x;
}
