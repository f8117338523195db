/* kb.c - hotline-kb: the knowledge base from the command line.
 *
 *   hotline-kb import FILE.csv [--draft] [--by NAME]
 *   hotline-kb search TEXT [--category CODE] [--limit N]
 *   hotline-kb list [--status S] [--unit CODE]
 *   hotline-kb show ID
 *   hotline-kb history ID
 *   hotline-kb report [--from D] [--to D] [--unit CODE] [--category CODE]
 *   hotline-kb gaps [--days N] [--unit CODE] [--category CODE]
 *   hotline-kb publish|retire ID [--version N] [--by NAME]
 *
 * Import reads either the official replies' layout (title, body, reply: the
 * message title becomes the question and the reply the answer) or our own
 * (title, answer and optionally variants separated by '|', legal_basis,
 * category, unit, review_at). Each row's import key (file name and row
 * number, or msg_no) makes a second import of the same file skip what the
 * first stored. Rows that are not UTF-8 or break a rule are reported and
 * skipped; the others are stored in one transaction.
 * Search builds the same index the gateway serves from (published entries),
 * for checking answers from a shell.
 */
#include <getopt.h>
#include <libgen.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/buf.h"
#include "hotline/clock.h"
#include "hotline/conf.h"
#include "hotline/csv.h"
#include "hotline/kbeffect.h"
#include "hotline/kbgaps.h"
#include "hotline/kbindex.h"
#include "hotline/kbstore.h"
#include "hotline/pg.h"
#include "hotline/ticket.h"
#include "hotline/utf8.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: hotline-kb [options] COMMAND\n"
            "The knowledge base (咨询问答知识库): import, search, read, publish and retire entries,\n"
            "and report how answers worked. Writing and editing entries goes through the gateway's\n"
            "API (/api/v1/kb) and console, with their roles.\n"
            "\n"
            "Commands:\n"
            "  import FILE.csv      store the entries of a CSV file, published (--draft: as drafts).\n"
            "                       Columns: title,body,reply (official replies: the title is the\n"
            "                       question, the reply the answer; msg_no keys the row if present)\n"
            "                       or title,answer[,variants,legal_basis,category,unit,review_at]\n"
            "                       (variants separated by '|'). A second import of the same file\n"
            "                       skips what is stored; bad rows are reported and skipped\n"
            "  search TEXT          the best published entries valid now for TEXT\n"
            "  list                 entries (id, version, status, unit, category, title)\n"
            "  show ID              one entry with its answer\n"
            "  history ID           every version of an entry: who changed what, when\n"
            "  report               how answers worked: per entry and per ticket category, uses\n"
            "                       (direct closures, reply citations), repeat contacts within\n"
            "                       kb.repeat_days, ratings; flags failing and past-review entries\n"
            "  gaps                 clusters of recent consultations no entry answers well\n"
            "  publish ID, retire ID  serve an entry (a draft, or a retired one again), or stop\n"
            "                       serving it; recorded as --by (from a shell on the server: no\n"
            "                       roles; the API checks them)\n"
            "\n"
            "Options:\n"
            "  --draft              import: store drafts for review instead of published entries\n"
            "  --by NAME            import, publish, retire: who is recorded (default: hotline-kb)\n"
            "  --version N          publish, retire: only if the entry is still at version N\n"
            "  --category CODE      search, report, gaps: only this category (and its subcategories)\n"
            "  --limit N            search: at most N results (default 5, at most 50); report:\n"
            "                       entries (default 200); gaps: clusters (default 20)\n"
            "  --from D, --to D     report: uses in [from, to) (dates or ISO 8601; default the\n"
            "                       last 30 days)\n"
            "  --days N             gaps: consultations of the last N days (default kb.gap_days)\n"
            "  --status S           list: only draft, published or retired entries\n"
            "  --unit CODE          list, report: only this unit's entries; gaps: its gaps\n"
            "  -c, --config FILE    settings file (postgres.conninfo, [kb])\n"
            "  -s, --set S.K=V      override one setting\n"
            "  -h, --help           this text\n"
            "\n"
            "Exit status: 0 done, 1 PostgreSQL refused or failed or rows were skipped, 2 bad usage.\n");
}

/* ------------------------------------------------------------ import */

enum { C_TITLE, C_BODY, C_REPLY, C_ANSWER, C_VARIANTS, C_LEGAL, C_CATEGORY, C_UNIT, C_REVIEW, C_MSGNO, C_N };
static const char *const columns[C_N] = {"title", "body", "reply", "answer", "variants", "legal_basis",
                                         "category", "unit", "review_at", "msg_no"};

/* variants "a|b|c" as a PostgreSQL array literal {"a","b","c"} (empty ones
 * dropped). */
static void pg_array(hl_buf_t *b, const char *s)
{
    hl_buf_reset(b);
    char *copy = hl_strdup(s ? s : "");
    size_t n = 0, cap = 1;
    for (const char *p = copy; *p; p++) cap += *p == '|';
    const char **items = hl_malloc(cap * sizeof *items);
    for (char *p = copy, *end; p; p = end) {
        end = strchr(p, '|');
        if (end) *end++ = '\0';
        if (*p) items[n++] = p;
    }
    hl_pg_text_array(b, items, n);
    hl_free(items);
    hl_free(copy);
}

static int import(PGconn *c, const char *path, bool draft, const char *by)
{
    char err[HL_ERR_LEN];
    hl_csv_t *csv = hl_csv_open(path, err);
    if (!csv) {
        fprintf(stderr, "hotline-kb: %s\n", err);
        return 1;
    }
    char *pathcopy = hl_strdup(path);
    char file[128];
    snprintf(file, sizeof file, "%s", basename(pathcopy));
    hl_free(pathcopy);
    int idx[C_N];
    for (int k = 0; k < C_N; k++) idx[k] = -1;
    hl_csv_row_t row;
    int rc, bad = 0, stored = 0, skipped = 0, x = 1;
    bool header = true, official = false;
    hl_buf_t variants = HL_BUF_INIT;
    PQclear(PQexec(c, "BEGIN"));
    while ((rc = hl_csv_next(csv, &row, err)) != 0) {
        if (rc < 0) {
            fprintf(stderr, "hotline-kb: %s: %s (skipped)\n", path, err);
            bad++;
            continue;
        }
        if (header) {
            for (int i = 0; i < row.n; i++)
                for (int k = 0; k < C_N; k++)
                    if (strcmp(row.field[i], columns[k]) == 0) idx[k] = i;
            official = idx[C_REPLY] >= 0 && idx[C_ANSWER] < 0;
            if (idx[C_TITLE] < 0 || (official ? idx[C_REPLY] : idx[C_ANSWER]) < 0) {
                fprintf(stderr, "hotline-kb: %s: the header needs title and answer (or title, body and reply)\n", path);
                goto done;
            }
            header = false;
            continue;
        }
        const char *v[C_N] = {0};
        bool ok = true;
        for (int k = 0; k < C_N; k++) {
            if (idx[k] < 0 || idx[k] >= row.n) continue;
            v[k] = row.field[idx[k]];
            if (!hl_utf8_valid(row.field[idx[k]], row.len[idx[k]])) ok = false;
            if (!*v[k]) v[k] = NULL;
        }
        const char *answer = official ? v[C_REPLY] : v[C_ANSWER];
        if (!ok || !v[C_TITLE] || !answer) {
            fprintf(stderr, "hotline-kb: %s line %ld: %s (skipped)\n", path, row.line,
                    ok ? "no title or no answer" : "not UTF-8");
            bad++;
            continue;
        }
        char key[192];
        if (v[C_MSGNO]) snprintf(key, sizeof key, "%s:msg:%.40s", file, v[C_MSGNO]);
        else snprintf(key, sizeof key, "%s:line:%ld", file, row.line);
        pg_array(&variants, v[C_VARIANTS]);
        const char *p[] = {v[C_TITLE], variants.data, answer, v[C_LEGAL] ? v[C_LEGAL] : "", v[C_CATEGORY], v[C_UNIT],
                           v[C_REVIEW], draft ? "draft" : "published", by, key};
        PQclear(PQexec(c, "SAVEPOINT row"));
        PGresult *r = PQexecParams(c,
                                   "INSERT INTO kb_entries (title, variants, answer, legal_basis, category, unit, "
                                   "review_at, status, updated_by, change, import_key) "
                                   "VALUES ($1, $2::text[], $3, $4, $5, $6, $7::date, $8, $9, 'import', $10) "
                                   "ON CONFLICT (import_key) DO NOTHING",
                                   10, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "hotline-kb: %s line %ld: %s", path, row.line, PQresultErrorMessage(r));
            PQclear(PQexec(c, "ROLLBACK TO SAVEPOINT row"));
            bad++;
        } else if (atoi(PQcmdTuples(r)) == 1) {
            stored++;
        } else {
            skipped++;
        }
        PQclear(r);
    }
    PGresult *r = PQexec(c, "COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "hotline-kb: %s", PQresultErrorMessage(r));
        PQclear(r);
        goto done;
    }
    PQclear(r);
    printf("stored=%d already_there=%d bad_rows=%d\n", stored, skipped, bad);
    x = bad ? 1 : 0;
done:
    if (x && header) PQclear(PQexec(c, "ROLLBACK"));
    hl_buf_free(&variants);
    hl_csv_close(&csv);
    return x;
}

/* ------------------------------------------------------------ reads */

/* The index of the published entries, as the gateway builds it; NULL when
 * PostgreSQL fails. */
static hl_kbindex_t *load_index(PGconn *c)
{
    char err[HL_ERR_LEN];
    PGresult *r = hl_kbstore_query(c, NULL, 0, err);
    if (!r) {
        fprintf(stderr, "hotline-kb: %s\n", err);
        return NULL;
    }
    hl_kbindex_t *ix = hl_kbindex_new();
    size_t skipped = hl_kbstore_apply(ix, r);
    PQclear(r);
    if (skipped) fprintf(stderr, "hotline-kb: %zu entries are not UTF-8; left out\n", skipped);
    return ix;
}

static int search(PGconn *c, const char *text, const char *category, long limit)
{
    hl_kbindex_t *ix = load_index(c);
    if (!ix) return 1;
    hl_kbscratch_t s = {0};
    hl_kb_hit_t hits[50];
    size_t n = hl_kbindex_search(ix, &s, text, strlen(text), category, hl_now_ms(), 0.0f, hits, (size_t)limit);
    printf("%-8s %-7s %-6s %s\n", "ID", "VERSION", "SCORE", "TITLE");
    for (size_t i = 0; i < n; i++)
        printf("%-8lld %-7d %-6.3f %s\n", (long long)hits[i].id, hits[i].version, (double)hits[i].score, hits[i].title);
    hl_kbscratch_free(&s);
    hl_kbindex_free(&ix);
    return 0;
}

static int list(PGconn *c, const char *status, const char *unit)
{
    const char *p[] = {status, unit};
    PGresult *r = PQexecParams(c,
                               "SELECT id, version, status, coalesce(unit, '-'), coalesce(category, '-'), title "
                               "FROM kb_entries WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR unit = $2) "
                               "ORDER BY id",
                               2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "hotline-kb: %s", PQresultErrorMessage(r));
        PQclear(r);
        return 1;
    }
    printf("%-8s %-7s %-10s %-12s %-24s %s\n", "ID", "VERSION", "STATUS", "UNIT", "CATEGORY", "TITLE");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-8s %-7s %-10s %-12s %-24s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
               PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
    PQclear(r);
    return 0;
}

/* The rows of sql ($1: entry id); NULL (told) when it fails or finds none. */
static PGresult *by_id(PGconn *c, const char *sql, const char *id)
{
    const char *p[] = {id};
    PGresult *r = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "hotline-kb: %s", PQresultErrorMessage(r));
    } else if (PQntuples(r) == 0) {
        fprintf(stderr, "hotline-kb: no entry %s\n", id);
    } else {
        return r;
    }
    PQclear(r);
    return NULL;
}

static int show(PGconn *c, const char *id)
{
    PGresult *r = by_id(c,
                        "SELECT id, version, status, coalesce(unit, '-'), coalesce(category, '-'), title, "
                        "array_to_string(variants, ' | '), answer, legal_basis, coalesce(valid_from::text, '-'), "
                        "coalesce(valid_to::text, '-'), coalesce(review_at::text, '-'), updated_at, updated_by "
                        "FROM kb_entries WHERE id = $1::bigint",
                        id);
    if (!r) return 1;
    static const char *const names[] = {"id",        "version",     "status",     "unit",     "category",
                                        "title",     "variants",    "answer",     "legal_basis", "valid_from",
                                        "valid_to",  "review_at",   "updated_at", "updated_by"};
    for (int k = 0; k < 14; k++) printf("%-12s %s\n", names[k], PQgetvalue(r, 0, k));
    PQclear(r);
    return 0;
}

static int history(PGconn *c, const char *id)
{
    PGresult *r = by_id(c,
                        "SELECT version, status, change, changed_at, changed_by, title FROM kb_versions "
                        "WHERE entry_id = $1::bigint ORDER BY version",
                        id);
    if (!r) return 1;
    printf("%-7s %-10s %-8s %-29s %-24s %s\n", "VERSION", "STATUS", "CHANGE", "AT", "BY", "TITLE");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-7s %-10s %-8s %-29s %-24s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
               PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
    PQclear(r);
    return 0;
}

/* Publish or retire entry id (at its current version, or --version). */
static int set_status(PGconn *c, const char *id, long version, const char *status, const char *by)
{
    PGresult *r = by_id(c, "SELECT version, status FROM kb_entries WHERE id = $1::bigint", id);
    if (!r) return 1;
    int rc = 1;
    if (strcmp(PQgetvalue(r, 0, 1), status) == 0) {
        fprintf(stderr, "hotline-kb: entry %s is %s already\n", id, status);
    } else if (version && version != atol(PQgetvalue(r, 0, 0))) {
        fprintf(stderr, "hotline-kb: entry %s is at version %s, not %ld; look at it again\n", id, PQgetvalue(r, 0, 0),
                version);
    } else {
        const char *q[] = {id, PQgetvalue(r, 0, 0), status, by};
        PGresult *u = PQexecParams(c, HL_KBSTORE_SET_STATUS, 4, NULL, q, NULL, NULL, 0);
        if (PQresultStatus(u) != PGRES_TUPLES_OK) {
            fprintf(stderr, "hotline-kb: %s", PQresultErrorMessage(u));
        } else if (PQntuples(u) == 0) {
            fprintf(stderr, "hotline-kb: entry %s changed meanwhile; look at it again\n", id);
        } else {
            printf("%s %s version=%s\n", PQgetvalue(u, 0, 0), PQgetvalue(u, 0, 2), PQgetvalue(u, 0, 1));
            rc = 0;
        }
        PQclear(u);
    }
    PQclear(r);
    return rc;
}

static void rate(char out[16], double v)
{
    if (v < 0) snprintf(out, 16, "-");
    else snprintf(out, 16, "%.3f", v);
}

static int report(PGconn *c, const hl_conf_t *conf, int64_t from, int64_t to, const char *unit, const char *category,
                  long limit)
{
    hl_kbeffect_rules_t rules;
    hl_kbeffect_rules(conf, &rules);
    char err[HL_ERR_LEN], rr[16], sr[16];
    PGresult *res = hl_kbeffect_query(c, from, to, &rules, unit, category, (size_t)limit, err);
    if (!res) {
        fprintf(stderr, "hotline-kb: %s\n", err);
        return 1;
    }
    printf("%-8s %5s %6s %7s %5s %7s %6s %6s %-7s %-30s %s\n", "ID", "USES", "DIRECT", "REPLIES", "KNOWN", "REPEATS",
           "REPEAT", "RATED", "SATISF", "FLAGS", "TITLE");
    bool cats = false;
    for (int i = 0; i < PQntuples(res); i++) {
        hl_kbeffect_t x;
        hl_kbeffect_row(res, i, HL_KBEFFECT_COUNTS_AT, &x);
        rate(rr, hl_kbeffect_repeat_rate(&x));
        rate(sr, hl_kbeffect_satisfaction(&x));
        if (*PQgetvalue(res, i, 0) == 'c') {
            if (!cats)
                printf("\n%-24s %5s %6s %7s %5s %7s %6s %6s %-7s\n", "CATEGORY", "USES", "DIRECT", "REPLIES", "KNOWN",
                       "REPEATS", "REPEAT", "RATED", "SATISF");
            cats = true;
            printf("%-24s %5lld %6lld %7lld %5lld %7lld %6s %6lld %-7s\n", PQgetvalue(res, i, 5), (long long)x.uses,
                   (long long)x.direct, (long long)x.replies, (long long)x.identified, (long long)x.repeats, rr,
                   (long long)x.rated, sr);
            continue;
        }
        unsigned f = hl_kbeffect_judge(&x, &rules) | (*PQgetvalue(res, i, 8) == 't' ? HL_KBFLAG_PAST_REVIEW : 0);
        char flags[64];
        snprintf(flags, sizeof flags, "%s%s%s%s", f & HL_KBFLAG_REPEATS ? "failing_repeats," : "",
                 f & HL_KBFLAG_RATINGS ? "failing_ratings," : "", f & HL_KBFLAG_PAST_REVIEW ? "past_review," : "",
                 f ? "" : "-");
        if (f) flags[strlen(flags) - 1] = '\0';
        printf("%-8s %5lld %6lld %7lld %5lld %7lld %6s %6lld %-7s %-30s %s\n", PQgetvalue(res, i, 1), (long long)x.uses,
               (long long)x.direct, (long long)x.replies, (long long)x.identified, (long long)x.repeats, rr,
               (long long)x.rated, sr, flags, PQgetvalue(res, i, 4));
    }
    PQclear(res);
    return 0;
}

static int gaps(PGconn *c, const hl_conf_t *conf, long days, const char *unit, const char *category, long limit)
{
    char err[HL_ERR_LEN];
    hl_kbindex_t *ix = load_index(c);
    if (!ix) return 1;
    PGresult *r = hl_kbgaps_query(c, days, (size_t)conf->kb_gap_scan, err);
    if (!r) {
        fprintf(stderr, "hotline-kb: %s\n", err);
        hl_kbindex_free(&ix);
        return 1;
    }
    size_t n;
    hl_kbgap_msg_t *msgs = hl_kbgaps_messages(r, &n);
    hl_kbgap_opts_t opts;
    hl_kbgaps_opts(conf, &opts);
    hl_kbscratch_t s = {0};
    hl_kbgap_t *found;
    size_t ng = hl_kbgaps_find(ix, &s, msgs, n, hl_now_ms(), &opts, &found);
    printf("# %zu consultations of the last %ld days looked at\n", n, days);
    long shown = 0;
    for (size_t g = 0; g < ng && shown < limit; g++) {
        const hl_kbgap_t *gp = &found[g];
        if ((unit && strcmp(gp->unit, unit) != 0) || !hl_category_within(gp->category, strlen(gp->category), category))
            continue;
        shown++;
        const hl_kbgap_msg_t *head = &msgs[gp->members[0]];
        printf("gap %zu  size=%zu category=%s unit=%s mean_score=%.3f nearest=%lld  %s\n", (size_t)shown, gp->n,
               gp->category, *gp->unit ? gp->unit : "-", (double)gp->mean_score, (long long)gp->best_entry,
               *head->title ? head->title : head->text);
        for (size_t i = 0; i < gp->n && i < 5; i++)
            printf("    %s  %s\n", msgs[gp->members[i]].ticket_no, msgs[gp->members[i]].title);
    }
    hl_kbgaps_free(found, ng);
    hl_free(msgs);
    PQclear(r);
    hl_kbscratch_free(&s);
    hl_kbindex_free(&ix);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {"draft", no_argument, NULL, 'd'},        {"by", required_argument, NULL, 'b'},
        {"category", required_argument, NULL, 'C'}, {"limit", required_argument, NULL, 'l'},
        {"status", required_argument, NULL, 'S'}, {"unit", required_argument, NULL, 'u'},
        {"from", required_argument, NULL, 'F'},   {"to", required_argument, NULL, 'T'},
        {"days", required_argument, NULL, 'D'},   {"version", required_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *by = "hotline-kb", *category = NULL, *status = NULL, *unit = NULL, *from_s = NULL,
               *to_s = NULL;
    bool draft = false;
    long limit = 0, days = 0, version = 0;
    char **sets = hl_calloc((size_t)argc + 1, sizeof(char *));
    int nsets = 0, opt, x = 2;
    char *end;
    while ((opt = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 's': sets[nsets++] = optarg; break;
        case 'd': draft = true; break;
        case 'b': by = optarg; break;
        case 'C': category = optarg; break;
        case 'l':
            limit = strtol(optarg, &end, 10);
            if (*end || limit < 1 || limit > 5000) {
                fprintf(stderr, "hotline-kb: --limit must be 1 to 5000 (search: 50)\n");
                goto done;
            }
            break;
        case 'D':
            days = strtol(optarg, &end, 10);
            if (*end || days < 1 || days > 366) {
                fprintf(stderr, "hotline-kb: --days must be 1 to 366\n");
                goto done;
            }
            break;
        case 'V':
            version = strtol(optarg, &end, 10);
            if (*end || version < 1 || version > INT32_MAX) {
                fprintf(stderr, "hotline-kb: --version must be a positive whole number\n");
                goto done;
            }
            break;
        case 'F': from_s = optarg; break;
        case 'T': to_s = optarg; break;
        case 'S':
            status = optarg;
            if (strcmp(status, "draft") && strcmp(status, "published") && strcmp(status, "retired")) {
                fprintf(stderr, "hotline-kb: --status must be draft, published or retired\n");
                goto done;
            }
            break;
        case 'u': unit = optarg; break;
        case 'h': usage(stdout); x = 0; goto done;
        default: usage(stderr); goto done;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        goto done;
    }
    const char *cmd = argv[optind];
    int nargs = argc - optind - 1;
    static const char *const commands[] = {"import", "search", "list",    "show",    "history",
                                           "report", "gaps",   "publish", "retire",  NULL};
    enum { IMPORT, SEARCH, LIST, SHOW, HISTORY, REPORT, GAPS, PUBLISH, RETIRE } which = 0;
    while (commands[which] && strcmp(commands[which], cmd) != 0) which++;
    if (!commands[which]) {
        fprintf(stderr, "hotline-kb: unknown command '%s' (see --help)\n", cmd);
        goto done;
    }
    if (nargs != (which == LIST || which == REPORT || which == GAPS ? 0 : 1)) {
        fprintf(stderr, "hotline-kb: wrong arguments for '%s' (see --help)\n", cmd);
        goto done;
    }
    const char *arg = nargs ? argv[optind + 1] : NULL;
    if ((which == SHOW || which == HISTORY || which == PUBLISH || which == RETIRE) && (strspn(arg, "0123456789") != strlen(arg) || strlen(arg) > 18 || !*arg)) {
        fprintf(stderr, "hotline-kb: '%s' is not an entry id\n", arg);
        goto done;
    }
    if (which == SEARCH && (!hl_utf8_valid(arg, strlen(arg)) || strlen(arg) > 4096)) {
        fprintf(stderr, "hotline-kb: the search text must be UTF-8, up to 4096 bytes\n");
        goto done;
    }
    if (which == SEARCH && limit > 50) {
        fprintf(stderr, "hotline-kb: --limit must be 1 to 50 for search\n");
        goto done;
    }
    hl_conf_t conf;
    char err[HL_ERR_LEN];
    if (hl_conf_load_all(&conf, config, environ, sets, nsets, err) != 0) {
        fprintf(stderr, "hotline-kb: %s\n", err);
        hl_conf_free(&conf);
        goto done;
    }
    int64_t to = hl_now_ms(), from = 0;
    if ((to_s && hl_time_parse(to_s, (int)conf.utc_offset_min, &to) != 0) ||
        (from_s && hl_time_parse(from_s, (int)conf.utc_offset_min, &from) != 0)) {
        fprintf(stderr, "hotline-kb: --from and --to must be dates (YYYY-MM-DD) or ISO 8601 times\n");
        hl_conf_free(&conf);
        goto done;
    }
    if (!from_s) from = to - 30LL * 86400000;
    if (from >= to) {
        fprintf(stderr, "hotline-kb: --from must be before --to\n");
        hl_conf_free(&conf);
        goto done;
    }
    PGconn *c = PQconnectdb(conf.pg_conninfo);
    x = 1;
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "hotline-kb: %s", PQerrorMessage(c));
    } else if (which == IMPORT) {
        x = import(c, arg, draft, by);
    } else if (which == SEARCH) {
        x = search(c, arg, category, limit ? limit : 5);
    } else if (which == LIST) {
        x = list(c, status, unit);
    } else if (which == SHOW) {
        x = show(c, arg);
    } else if (which == HISTORY) {
        x = history(c, arg);
    } else if (which == PUBLISH || which == RETIRE) {
        x = set_status(c, arg, version, which == PUBLISH ? "published" : "retired", by);
    } else if (which == REPORT) {
        x = report(c, &conf, from, to, unit, category, limit ? limit : 200);
    } else {
        x = gaps(c, &conf, days ? days : conf.kb_gap_days, unit, category, limit ? limit : 20);
    }
    PQfinish(c);
    hl_conf_free(&conf);
done:
    hl_free(sets);
    return x;
}
