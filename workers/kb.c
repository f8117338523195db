/* kb.c - hotline-kb: the knowledge base from the command line.
 *
 *   hotline-kb import FILE.csv [--draft] [--by NAME]
 *   hotline-kb search TEXT [--category CODE] [--limit N]
 *   hotline-kb list [--status S] [--unit CODE]
 *   hotline-kb show ID
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
#include "hotline/kbindex.h"
#include "hotline/kbstore.h"
#include "hotline/utf8.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: hotline-kb [options] COMMAND\n"
            "The knowledge base (咨询问答知识库): import, search and read entries. Edits and\n"
            "publishing go through the gateway's API (/api/v1/kb), with its roles.\n"
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
            "\n"
            "Options:\n"
            "  --draft              import: store drafts for review instead of published entries\n"
            "  --by NAME            import: who is recorded as the author (default: hotline-kb)\n"
            "  --category CODE      search: only this category (and its subcategories)\n"
            "  --limit N            search: at most N results (default 5, at most 50)\n"
            "  --status S           list: only draft, published or retired entries\n"
            "  --unit CODE          list: only this unit's entries\n"
            "  -c, --config FILE    settings file (postgres.conninfo)\n"
            "  -s, --set S.K=V      override one setting\n"
            "  -h, --help           this text\n"
            "\n"
            "Exit status: 0 done, 1 PostgreSQL refused or failed or rows were skipped, 2 bad usage.\n");
}

/* ------------------------------------------------------------ import */

enum { C_TITLE, C_BODY, C_REPLY, C_ANSWER, C_VARIANTS, C_LEGAL, C_CATEGORY, C_UNIT, C_REVIEW, C_MSGNO, C_N };
static const char *const columns[C_N] = {"title", "body", "reply", "answer", "variants", "legal_basis",
                                         "category", "unit", "review_at", "msg_no"};

/* variants "a|b|c" as a PostgreSQL array literal {"a","b","c"}. */
static void pg_array(hl_buf_t *b, const char *s)
{
    hl_buf_reset(b);
    hl_buf_putc(b, '{');
    bool first = true;
    while (s && *s) {
        size_t n = strcspn(s, "|");
        if (n) {
            if (!first) hl_buf_putc(b, ',');
            first = false;
            hl_buf_putc(b, '"');
            for (size_t i = 0; i < n; i++) {
                if (s[i] == '"' || s[i] == '\\') hl_buf_putc(b, '\\');
                hl_buf_putc(b, s[i]);
            }
            hl_buf_putc(b, '"');
        }
        s += n + (s[n] == '|');
    }
    hl_buf_putc(b, '}');
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

static int search(PGconn *c, const char *text, const char *category, long limit)
{
    char err[HL_ERR_LEN];
    PGresult *r = hl_kbstore_query(c, NULL, 0, err);
    if (!r) {
        fprintf(stderr, "hotline-kb: %s\n", err);
        return 1;
    }
    hl_kbindex_t *ix = hl_kbindex_new();
    size_t skipped = hl_kbstore_apply(ix, r);
    PQclear(r);
    if (skipped) fprintf(stderr, "hotline-kb: %zu entries are not UTF-8; left out\n", skipped);
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

static int show(PGconn *c, const char *id)
{
    const char *p[] = {id};
    PGresult *r = PQexecParams(c,
                               "SELECT id, version, status, coalesce(unit, '-'), coalesce(category, '-'), title, "
                               "array_to_string(variants, ' | '), answer, legal_basis, coalesce(valid_from::text, '-'), "
                               "coalesce(valid_to::text, '-'), coalesce(review_at::text, '-'), updated_at, updated_by "
                               "FROM kb_entries WHERE id = $1::bigint",
                               1, NULL, p, NULL, NULL, 0);
    int rc = 1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "hotline-kb: %s", PQresultErrorMessage(r));
    } else if (PQntuples(r) == 0) {
        fprintf(stderr, "hotline-kb: no entry %s\n", id);
    } else {
        static const char *const names[] = {"id", "version", "status", "unit", "category", "title", "variants",
                                            "answer", "legal_basis", "valid_from", "valid_to", "review_at",
                                            "updated_at", "updated_by"};
        for (int k = 0; k < 14; k++) printf("%-12s %s\n", names[k], PQgetvalue(r, 0, k));
        rc = 0;
    }
    PQclear(r);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {"draft", no_argument, NULL, 'd'},        {"by", required_argument, NULL, 'b'},
        {"category", required_argument, NULL, 'C'}, {"limit", required_argument, NULL, 'l'},
        {"status", required_argument, NULL, 'S'}, {"unit", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *config = NULL, *by = "hotline-kb", *category = NULL, *status = NULL, *unit = NULL;
    bool draft = false;
    long limit = 5;
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
            if (*end || limit < 1 || limit > 50) {
                fprintf(stderr, "hotline-kb: --limit must be 1 to 50\n");
                goto done;
            }
            break;
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
    bool is_import = !strcmp(cmd, "import"), is_search = !strcmp(cmd, "search"), is_list = !strcmp(cmd, "list"),
         is_show = !strcmp(cmd, "show");
    if (!is_import && !is_search && !is_list && !is_show) {
        fprintf(stderr, "hotline-kb: unknown command '%s' (see --help)\n", cmd);
        goto done;
    }
    if (nargs != (is_list ? 0 : 1)) {
        fprintf(stderr, "hotline-kb: wrong arguments for '%s' (see --help)\n", cmd);
        goto done;
    }
    const char *arg = nargs ? argv[optind + 1] : NULL;
    if (is_show && (strspn(arg, "0123456789") != strlen(arg) || strlen(arg) > 18 || !*arg)) {
        fprintf(stderr, "hotline-kb: '%s' is not an entry id\n", arg);
        goto done;
    }
    if (is_search && (!hl_utf8_valid(arg, strlen(arg)) || strlen(arg) > 4096)) {
        fprintf(stderr, "hotline-kb: the search text must be UTF-8, up to 4096 bytes\n");
        goto done;
    }
    hl_conf_t conf;
    char err[HL_ERR_LEN];
    if (hl_conf_load_all(&conf, config, environ, sets, nsets, err) != 0) {
        fprintf(stderr, "hotline-kb: %s\n", err);
        hl_conf_free(&conf);
        goto done;
    }
    PGconn *c = PQconnectdb(conf.pg_conninfo);
    hl_conf_free(&conf);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "hotline-kb: %s", PQerrorMessage(c));
        PQfinish(c);
        x = 1;
        goto done;
    }
    if (is_import) x = import(c, arg, draft, by);
    else if (is_search) x = search(c, arg, category, limit);
    else if (is_list) x = list(c, status, unit);
    else x = show(c, arg);
    PQfinish(c);
done:
    hl_free(sets);
    return x;
}
