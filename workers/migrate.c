/* migrate.c - hotline-migrate: apply the numbered SQL migrations.
 *
 * Each deploy/sql/NNN_name.sql is applied once, in number order, in its own
 * transaction, and recorded in schema_version with a checksum; an applied file
 * that changed afterwards is an error (write a new migration instead). An
 * advisory lock makes concurrent runs safe. --demo then loads deploy/sql/demo,
 * whose files are written to be applied any number of times.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/buf.h"
#include "hotline/conf.h"
#include "hotline/log.h"
#include "hotline/map.h"

extern char **environ;

#define LOCK_KEY "74340001"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: hotline-migrate [options]\n"
            "Apply the numbered SQL migrations (NNN_name.sql) to the database of\n"
            "postgres.conninfo, each once and in order, and record them in schema_version.\n"
            "\n"
            "  -c, --config FILE   read settings from FILE (INI; see hotline.conf.example)\n"
            "  -s, --set S.K=V     override one setting, e.g. --set postgres.conninfo='...'\n"
            "  -d, --dir DIR       migrations folder (default: %s)\n"
            "      --demo          then load the demo city (DIR/demo/*.sql; safe to repeat)\n"
            "      --status        list applied and pending migrations, change nothing\n"
            "  -h, --help          this text\n"
            "\n"
            "Environment: HOTLINE_POSTGRES_CONNINFO and every other HOTLINE_<SECTION>_<KEY>.\n"
            "Exit status: 0 done, 1 a migration failed or changed after it was applied,\n"
            "2 bad usage or configuration.\n",
            HL_SQL_DIR);
}

typedef struct {
    int version;
    char *name;
    char *path;
} migration_t;

static int cmp_migration(const void *a, const void *b)
{
    const migration_t *x = a, *y = b;
    return x->version != y->version ? (x->version < y->version ? -1 : 1)
                                    : strcmp(x->name, y->name);
}

static bool migration_name(const char *n)
{
    size_t len = strlen(n);
    if (len < 9 || strcmp(n + len - 4, ".sql") != 0 || n[3] != '_') return false;
    for (int i = 0; i < 3; i++)
        if (n[i] < '0' || n[i] > '9') return false;
    return true;
}

/* List DIR's NNN_*.sql files sorted by number. Returns the count or -1. */
static int list_dir(const char *dir, migration_t **out)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    migration_t *m = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!migration_name(e->d_name)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            m = hl_realloc(m, (size_t)cap * sizeof *m);
        }
        hl_buf_t path = HL_BUF_INIT;
        hl_buf_printf(&path, "%s/%s", dir, e->d_name);
        m[n].version = atoi(e->d_name);
        m[n].name = hl_strdup(e->d_name);
        m[n].path = path.data;
        n++;
    }
    closedir(d);
    if (n) qsort(m, (size_t)n, sizeof *m, cmp_migration);
    *out = m;
    return n;
}

static void free_list(migration_t *m, int n)
{
    for (int i = 0; i < n; i++) hl_free(m[i].name), hl_free(m[i].path);
    hl_free(m);
}

static int read_file(const char *path, hl_buf_t *out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -errno;
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) hl_buf_append(out, chunk, r);
    int rc = ferror(f) ? HL_EIO : 0;
    fclose(f);
    return rc;
}

/* Run sql; returns 0 or prints the server's error and returns HL_EIO. */
static int exec(PGconn *c, const char *sql, const char *what)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : HL_EIO;
    if (rc) fprintf(stderr, "hotline-migrate: %s: %s", what, PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

/* Apply one file in its own transaction; record it when version > 0. */
static int apply(PGconn *c, const migration_t *m, const hl_buf_t *sql, const char *sum,
                 bool record)
{
    if (exec(c, "BEGIN", "BEGIN")) return HL_EIO;
    if (exec(c, sql->data, m->name)) goto fail;
    if (record) {
        char version[16];
        snprintf(version, sizeof version, "%d", m->version);
        const char *params[] = {version, m->name, sum};
        PGresult *r = PQexecParams(
            c, "INSERT INTO schema_version (version, name, checksum) VALUES ($1, $2, $3)", 3, NULL,
            params, NULL, NULL, 0);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) fprintf(stderr, "hotline-migrate: recording %s: %s", m->name, PQresultErrorMessage(r));
        PQclear(r);
        if (!ok) goto fail;
    }
    return exec(c, "COMMIT", "COMMIT");
fail:
    (void)exec(c, "ROLLBACK", "ROLLBACK");
    return HL_EIO;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {"dir", required_argument, NULL, 'd'},    {"demo", no_argument, NULL, 'D'},
        {"status", no_argument, NULL, 'S'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *dir = HL_SQL_DIR;
    char **sets = hl_calloc((size_t)argc, sizeof(char *));
    int nsets = 0, opt, status = 0;
    bool demo = false, only_status = false;
    hl_log_init("migrate");
    while ((opt = getopt_long(argc, argv, "c:s:d:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 's': sets[nsets++] = optarg; break;
        case 'd': dir = optarg; break;
        case 'D': demo = true; break;
        case 'S': only_status = true; break;
        case 'h': usage(stdout); hl_free(sets); return 0;
        default: usage(stderr); hl_free(sets); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hotline-migrate: unexpected argument '%s'\n", argv[optind]);
        hl_free(sets);
        return 2;
    }
    hl_conf_t conf;
    char err[HL_ERR_LEN];
    if (hl_conf_load_all(&conf, config, environ, sets, nsets, err) != 0) {
        fprintf(stderr, "hotline-migrate: %s\n", err);
        hl_conf_free(&conf);
        hl_free(sets);
        return 2;
    }
    hl_free(sets);

    migration_t *list = NULL;
    int n = list_dir(dir, &list);
    PGconn *c = NULL;
    hl_map_t *applied = hl_map_new();
    PGresult *r = NULL;
    if (n < 0) {
        fprintf(stderr, "hotline-migrate: cannot read %s: %s\n", dir, strerror(errno));
        status = 2;
        goto done;
    }
    for (int i = 1; i < n; i++) {
        if (list[i].version == list[i - 1].version) {
            fprintf(stderr, "hotline-migrate: %s and %s have the same number\n", list[i - 1].name,
                    list[i].name);
            status = 1;
            goto done;
        }
    }
    c = PQconnectdb(conf.pg_conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "hotline-migrate: cannot connect: %s", PQerrorMessage(c));
        status = 1;
        goto done;
    }
    if (exec(c, "SET client_min_messages = warning", "settings") ||
        exec(c, "SELECT pg_advisory_lock(" LOCK_KEY ")", "lock") ||
        exec(c,
             "CREATE TABLE IF NOT EXISTS schema_version ("
             " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
             " applied_at timestamptz NOT NULL DEFAULT now())",
             "schema_version")) {
        status = 1;
        goto done;
    }
    r = PQexec(c, "SELECT version, checksum FROM schema_version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "hotline-migrate: %s", PQresultErrorMessage(r));
        status = 1;
        goto done;
    }
    for (int i = 0; i < PQntuples(r); i++)
        hl_map_put(applied, PQgetvalue(r, i, 0), strlen(PQgetvalue(r, i, 0)),
                   PQgetvalue(r, i, 1));

    int done_count = 0, latest = 0;
    for (int i = 0; i < n; i++) {
        hl_buf_t sql = HL_BUF_INIT;
        if (read_file(list[i].path, &sql) != 0) {
            fprintf(stderr, "hotline-migrate: cannot read %s\n", list[i].path);
            hl_buf_free(&sql);
            status = 1;
            goto done;
        }
        char sum[20], version[16];
        snprintf(sum, sizeof sum, "%016" PRIx64, hl_hash(sql.data, sql.len));
        snprintf(version, sizeof version, "%d", list[i].version);
        const char *was = hl_map_get(applied, version, strlen(version));
        if (was && strcmp(was, sum) != 0) {
            fprintf(stderr,
                    "hotline-migrate: %s changed after it was applied (checksum %s, now %s); "
                    "add a new migration instead\n",
                    list[i].name, was, sum);
            hl_buf_free(&sql);
            status = 1;
            goto done;
        }
        if (only_status) {
            printf("%s %s\n", was ? "applied" : "pending", list[i].name);
        } else if (!was) {
            if (apply(c, &list[i], &sql, sum, true) != 0) {
                hl_buf_free(&sql);
                status = 1; /* apply() said why */
                goto done;
            }
            printf("applied %s\n", list[i].name);
            done_count++;
        }
        hl_buf_free(&sql);
        latest = list[i].version;
    }
    if (!only_status) {
        if (exec(c, "SELECT hl_ensure_partitions(now(), 3)", "partitions")) {
            status = 1;
            goto done;
        }
        printf("schema at version %d (%d applied now)\n", latest, done_count);
    }
    if (demo && !only_status) {
        hl_buf_t demo_dir = HL_BUF_INIT;
        hl_buf_printf(&demo_dir, "%s/demo", dir);
        migration_t *dl = NULL;
        int dn = list_dir(demo_dir.data, &dl);
        if (dn < 0) fprintf(stderr, "hotline-migrate: cannot read %s\n", demo_dir.data), status = 1;
        for (int i = 0; i < dn && status == 0; i++) {
            hl_buf_t sql = HL_BUF_INIT;
            if (read_file(dl[i].path, &sql) != 0 || apply(c, &dl[i], &sql, "", false) != 0)
                status = 1;
            else
                printf("loaded %s\n", dl[i].name);
            hl_buf_free(&sql);
        }
        free_list(dl, dn > 0 ? dn : 0);
        hl_buf_free(&demo_dir);
    }
done:
    PQclear(r);
    hl_map_destroy(&applied);
    if (c) PQfinish(c);
    free_list(list, n > 0 ? n : 0);
    hl_conf_free(&conf);
    return status;
}
