/* token.c - hotline-token: the gateway's bearer tokens and Open311 api keys.
 *
 * A token is "hlt_" and 40 random hex digits, shown once when it is made;
 * PostgreSQL keeps only its SHA-256 (tokens.hash) and first 8 characters.
 * Gateways reload the valid tokens when the table changes (NOTIFY).
 *
 *   hotline-token create --role ROLE [--unit CODE] [--name NAME] [--days N] [--rate N]
 *   hotline-token list [--all]
 *   hotline-token revoke ID-OR-PREFIX
 *   hotline-token demo --env FILE --url URL
 */
#include <errno.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "hotline/alloc.h"
#include "hotline/conf.h"
#include "hotline/sha256.h"

extern char **environ;

#define TOKEN_LEN 44 /* "hlt_" + 40 hex digits */

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: hotline-token [options] COMMAND\n"
            "The gateway's bearer tokens (roles agent, office, supervisor, admin, unit) and Open311\n"
            "api keys (role open311). PostgreSQL keeps only a SHA-256 of each token; a token is\n"
            "shown once, when it is made.\n"
            "\n"
            "Commands:\n"
            "  create --role ROLE [--unit CODE] [--name NAME] [--days N] [--rate N]\n"
            "                       make a token; prints it (and nothing else) on stdout. --unit is\n"
            "                       required for role unit; --days: it expires after N days; --rate:\n"
            "                       its requests per second (default: gateway.rate_per_s)\n"
            "  list [--all]         tokens (id, prefix, role, unit, name, dates); --all: revoked too\n"
            "  revoke ID|PREFIX     revoke a token at once (gateways drop it within a second)\n"
            "  demo --env FILE --url URL\n"
            "                       revoke earlier demo tokens, make one per role, per unit and an\n"
            "                       Open311 api key, and write them to FILE as shell variables\n"
            "                       (HOTLINE_URL, HOTLINE_TOKEN_<ROLE>, HOTLINE_TOKEN_UNIT_<CODE>,\n"
            "                       HOTLINE_OPEN311_API_KEY)\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE    settings file (postgres.conninfo)\n"
            "  -s, --set S.K=V      override one setting\n"
            "  -h, --help           this text\n"
            "\n"
            "Exit status: 0 done, 1 PostgreSQL refused or failed, 2 bad usage.\n");
}

static int make_token(char out[TOKEN_LEN + 1])
{
    unsigned char r[20];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "hlt_", 4);
    for (size_t i = 0; i < sizeof r; i++) {
        out[4 + 2 * i] = hex[r[i] >> 4];
        out[5 + 2 * i] = hex[r[i] & 15];
    }
    out[TOKEN_LEN] = '\0';
    return 0;
}

/* Make a token; its text into tok. Returns 0 or 1 (with the reason printed). */
static int create(PGconn *c, const char *role, const char *unit, const char *name, long days, long rate,
                  char tok[TOKEN_LEN + 1])
{
    if (make_token(tok) != 0) {
        fprintf(stderr, "hotline-token: no randomness: %s\n", strerror(errno));
        return 1;
    }
    char hash[65], prefix[9], d[24], rt[24];
    hl_sha256_hex(tok, strlen(tok), hash);
    memcpy(prefix, tok, 8);
    prefix[8] = '\0';
    snprintf(d, sizeof d, "%ld", days);
    snprintf(rt, sizeof rt, "%ld", rate);
    const char *p[] = {hash, prefix, role, unit && *unit ? unit : NULL, name ? name : "", days > 0 ? d : NULL,
                       rate > 0 ? rt : NULL};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO tokens (hash, prefix, role, unit, name, expires_at, rate_per_s) "
                               "VALUES ($1, $2, $3, $4, $5, now() + make_interval(days => $6::int), $7::int) "
                               "RETURNING id",
                               7, NULL, p, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : 1;
    if (rc) fprintf(stderr, "hotline-token: %s", PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

static int list(PGconn *c, bool all)
{
    PGresult *r = PQexec(c, all ? "SELECT id, prefix, role, coalesce(unit, '-'), name, "
                                  "to_char(created_at, 'YYYY-MM-DD'), coalesce(to_char(expires_at, 'YYYY-MM-DD'), '-'), "
                                  "coalesce(to_char(revoked_at, 'YYYY-MM-DD'), '-') FROM tokens ORDER BY id"
                                : "SELECT id, prefix, role, coalesce(unit, '-'), name, "
                                  "to_char(created_at, 'YYYY-MM-DD'), coalesce(to_char(expires_at, 'YYYY-MM-DD'), '-'), "
                                  "'-' FROM tokens WHERE revoked_at IS NULL "
                                  "AND (expires_at IS NULL OR expires_at > now()) ORDER BY id");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "hotline-token: %s", PQresultErrorMessage(r));
        PQclear(r);
        return 1;
    }
    printf("%-6s %-9s %-10s %-14s %-11s %-11s %-11s %s\n", "ID", "PREFIX", "ROLE", "UNIT", "CREATED", "EXPIRES",
           "REVOKED", "NAME");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-6s %-9s %-10s %-14s %-11s %-11s %-11s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6),
               PQgetvalue(r, i, 7), PQgetvalue(r, i, 4));
    PQclear(r);
    return 0;
}

static int revoke(PGconn *c, const char *which)
{
    const char *p[] = {which};
    PQclear(PQexec(c, "BEGIN"));
    PGresult *r = PQexecParams(c,
                               "UPDATE tokens SET revoked_at = now() WHERE revoked_at IS NULL AND "
                               "(id::text = $1 OR (length($1) >= 6 AND prefix LIKE $1 || '%'))",
                               1, NULL, p, NULL, NULL, 0);
    int rc = 1;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fprintf(stderr, "hotline-token: %s", PQresultErrorMessage(r));
    else if (atoi(PQcmdTuples(r)) != 1)
        fprintf(stderr, "hotline-token: '%s' names %s active token(s); nothing revoked\n", which,
                atoi(PQcmdTuples(r)) == 0 ? "no" : "several");
    else
        rc = 0;
    PQclear(r);
    PQclear(PQexec(c, rc ? "ROLLBACK" : "COMMIT"));
    return rc;
}

static int demo(PGconn *c, const char *file, const char *url)
{
    PGresult *r = PQexec(c, "UPDATE tokens SET revoked_at = now() WHERE name LIKE 'demo %' AND revoked_at IS NULL");
    PQclear(r);
    FILE *f = fopen(file, "w");
    if (!f) {
        fprintf(stderr, "hotline-token: cannot write %s: %s\n", file, strerror(errno));
        return 1;
    }
    fprintf(f, "# Demo tokens made by hotline-token demo; each run revokes the previous ones.\n");
    fprintf(f, "HOTLINE_URL=%s\n", url);
    static const char *roles[] = {"agent", "office", "supervisor", "admin"};
    char tok[TOKEN_LEN + 1], name[96];
    int rc = 0;
    for (size_t i = 0; i < 4 && !rc; i++) {
        snprintf(name, sizeof name, "demo %s", roles[i]);
        rc = create(c, roles[i], NULL, name, 0, 0, tok);
        if (!rc) {
            fprintf(f, "HOTLINE_TOKEN_");
            for (const char *p = roles[i]; *p; p++) fputc(*p - 'a' + 'A', f);
            fprintf(f, "=%s\n", tok);
        }
    }
    r = PQexec(c, "SELECT code FROM units WHERE active ORDER BY code");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "hotline-token: %s", PQresultErrorMessage(r));
        rc = 1;
    }
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        const char *unit = PQgetvalue(r, i, 0);
        snprintf(name, sizeof name, "demo unit %s", unit);
        rc = create(c, "unit", unit, name, 0, 0, tok);
        if (!rc) fprintf(f, "HOTLINE_TOKEN_UNIT_%s=%s\n", unit, tok);
    }
    PQclear(r);
    if (!rc) rc = create(c, "open311", NULL, "demo open311", 0, 0, tok);
    if (!rc) fprintf(f, "HOTLINE_OPEN311_API_KEY=%s\n", tok);
    if (fclose(f) != 0) rc = 1;
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {"role", required_argument, NULL, 'r'},   {"unit", required_argument, NULL, 'u'},
        {"name", required_argument, NULL, 'n'},   {"days", required_argument, NULL, 'd'},
        {"rate", required_argument, NULL, 'R'},   {"all", no_argument, NULL, 'a'},
        {"env", required_argument, NULL, 'e'},    {"url", required_argument, NULL, 'U'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *config = NULL, *role = NULL, *unit = NULL, *name = "", *env = NULL, *url = NULL;
    long days = 0, rate = 0;
    bool all = false;
    char **sets = hl_calloc((size_t)argc + 1, sizeof(char *));
    int nsets = 0, opt, x = 2;
    char *end;
    while ((opt = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 's': sets[nsets++] = optarg; break;
        case 'r': role = optarg; break;
        case 'u': unit = optarg; break;
        case 'n': name = optarg; break;
        case 'd':
        case 'R': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1000000) {
                fprintf(stderr, "hotline-token: bad number '%s'\n", optarg);
                goto done;
            }
            if (opt == 'd') days = v;
            else rate = v;
            break;
        }
        case 'a': all = true; break;
        case 'e': env = optarg; break;
        case 'U': url = optarg; break;
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
    bool is_create = !strcmp(cmd, "create"), is_list = !strcmp(cmd, "list"), is_revoke = !strcmp(cmd, "revoke"),
         is_demo = !strcmp(cmd, "demo");
    if (!is_create && !is_list && !is_revoke && !is_demo) {
        fprintf(stderr, "hotline-token: unknown command '%s' (see --help)\n", cmd);
        goto done;
    }
    if (nargs != (is_revoke ? 1 : 0)) {
        fprintf(stderr, "hotline-token: wrong arguments for '%s' (see --help)\n", cmd);
        goto done;
    }
    if (is_create) {
        static const char *roles = "|agent|office|supervisor|admin|unit|open311|";
        char want[32];
        snprintf(want, sizeof want, "|%.20s|", role ? role : "");
        if (!role || !strstr(roles, want) || strchr(role, '|')) {
            fprintf(stderr, "hotline-token: --role must be agent, office, supervisor, admin, unit or open311\n");
            goto done;
        }
        if ((strcmp(role, "unit") == 0) != (unit != NULL)) {
            fprintf(stderr, "hotline-token: --unit goes with role unit, and only with it\n");
            goto done;
        }
    }
    if (is_demo && (!env || !url)) {
        fprintf(stderr, "hotline-token: demo needs --env FILE and --url URL\n");
        goto done;
    }
    hl_conf_t conf;
    char err[HL_ERR_LEN];
    if (hl_conf_load_all(&conf, config, environ, sets, nsets, err) != 0) {
        fprintf(stderr, "hotline-token: %s\n", err);
        hl_conf_free(&conf);
        goto done;
    }
    PGconn *c = PQconnectdb(conf.pg_conninfo);
    hl_conf_free(&conf);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "hotline-token: %s", PQerrorMessage(c));
        PQfinish(c);
        x = 1;
        goto done;
    }
    if (is_create) {
        char tok[TOKEN_LEN + 1];
        x = create(c, role, unit, name, days, rate, tok);
        if (!x) printf("%s\n", tok);
    } else if (is_list) {
        x = list(c, all);
    } else if (is_revoke) {
        x = revoke(c, argv[optind + 1]);
    } else {
        x = demo(c, env, url);
    }
    PQfinish(c);
done:
    hl_free(sets);
    return x;
}
