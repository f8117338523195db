/* conf.c - the configuration table and its parsers. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/conf.h"

#define F(field) offsetof(hl_conf_t, field)
#define INT_MAXV 9.0e15

static const hl_conf_key_t keys[] = {
    {"log", "level", HL_CONF_ENUM, F(log_level), "info", 0, 0, "debug|info|warn|error|off",
     "least severe level written to stderr"},

    {"zmq", "intake", HL_CONF_STR, F(zmq_intake), "tcp://127.0.0.1:7701", 0, 0, NULL,
     "endpoint of the router's ROUTER socket (Intake and Action envelopes)"},
    {"zmq", "events", HL_CONF_STR, F(zmq_events), "tcp://127.0.0.1:7702", 0, 0, NULL,
     "endpoint of the router's PUB socket (Event envelopes)"},
    {"zmq", "max_envelope", HL_CONF_INT, F(zmq_max_envelope), "65536", 256, 16777216, NULL,
     "largest envelope accepted, bytes; larger ones are answered TOO_LARGE"},
    {"zmq", "hwm", HL_CONF_INT, F(zmq_hwm), "100000", 100, 10000000, NULL,
     "messages ZeroMQ queues per peer before it pushes back (a gateway loop then answers 503)"},

    {"postgres", "conninfo", HL_CONF_STR, F(pg_conninfo),
     "host=127.0.0.1 port=5432 dbname=hotline user=hotline", 0, 0, NULL,
     "libpq connection string of the system of record"},
    {"postgres", "connections", HL_CONF_INT, F(pg_connections), "2", 1, 64, NULL,
     "connections writing batches (each holds one transaction in flight)"},
    {"postgres", "reconnect_ms", HL_CONF_INT, F(pg_reconnect_ms), "1000", 10, 600000, NULL,
     "pause between reconnection attempts"},
    {"postgres", "request_timeout_ms", HL_CONF_INT, F(pg_request_timeout_ms), "10000", 100,
     3600000, NULL, "a request not answered by then drops the connection (answer: TRY_LATER)"},

    {"redis", "host", HL_CONF_STR, F(redis_host), "127.0.0.1", 0, 0, NULL,
     "Redis host for unit queues (streams hl:q:{unit})"},
    {"redis", "port", HL_CONF_INT, F(redis_port), "6379", 1, 65535, NULL,
     "TCP port of the Redis server"},
    {"redis", "reconnect_ms", HL_CONF_INT, F(redis_reconnect_ms), "1000", 10, 600000, NULL,
     "pause between reconnection attempts"},
    {"redis", "timeout_ms", HL_CONF_INT, F(redis_timeout_ms), "2000", 10, 600000, NULL,
     "stream writes unanswered by then are left to the outbox sweep"},

    {"router", "name", HL_CONF_STR, F(router_name), "", 0, 0, NULL,
     "this router's name in the outbox and logs; empty = host:pid"},
    {"router", "priority", HL_CONF_INT, F(router_priority), "-5", -20, 19, NULL,
     "nice value of the router's threads; below 0 needs root or CAP_SYS_NICE (systemd: Nice=)"},
    {"router", "batch_max", HL_CONF_INT, F(batch_max), "1000", 1, 100000, NULL,
     "most intakes stored in one PostgreSQL transaction"},
    {"router", "batch_min", HL_CONF_INT, F(batch_min), "300", 1, 100000, NULL,
     "while one batch is being written, another starts only with this many intakes waiting"},
    {"router", "batch_wait_ms", HL_CONF_INT, F(batch_wait_ms), "50", 0, 60000, NULL,
     "or once the oldest of them has waited this long; 0 = start at once"},
    {"router", "batch_linger_ms", HL_CONF_INT, F(batch_linger_ms), "0", 0, 1000, NULL,
     "with no batch being written, the first intake waits this long for more; 0 = start at once"},
    {"router", "max_pending", HL_CONF_INT, F(max_pending), "20000", 1, 10000000, NULL,
     "intakes waiting for PostgreSQL before new ones are answered TRY_LATER"},
    {"router", "pending_timeout_ms", HL_CONF_INT, F(pending_timeout_ms), "5000", 10, 600000, NULL,
     "an intake not stored within this time is answered TRY_LATER; a router not ready this long "
     "after its start reads intakes anyway (and answers TRY_LATER)"},
    {"router", "retry_after_ms", HL_CONF_INT, F(retry_after_ms), "1000", 0, 600000, NULL,
     "retry advice sent with TRY_LATER"},
    {"router", "outbox_sweep_ms", HL_CONF_INT, F(outbox_sweep_ms), "1000", 10, 3600000, NULL,
     "how often committed-but-undelivered tickets are looked for"},
    {"router", "outbox_age_ms", HL_CONF_INT, F(outbox_age_ms), "5000", 0, 3600000, NULL,
     "an undelivered batch older than this is re-sent to its streams"},
    {"router", "key_days", HL_CONF_INT, F(key_days), "30", 0, 36500, NULL,
     "idempotency keys are kept this many days (a retry after that stores a new ticket); 0 = forever"},
    {"router", "max_text", HL_CONF_INT, F(max_text), "32768", 16, 16777216, NULL,
     "largest title + body accepted, bytes"},
    {"router", "min_confidence", HL_CONF_DOUBLE, F(min_confidence), "0.5", 0, 1, NULL,
     "classifier confidence below which a ticket waits for a human dispatcher"},
    {"router", "dispatch_queue", HL_CONF_STR, F(dispatch_queue), "dispatch", 0, 0, NULL,
     "queue (hl:q:<name>) of tickets waiting for a human dispatcher"},
    {"router", "default_region", HL_CONF_STR, F(default_region), "", 0, 0, NULL,
     "region code used when an intake names none; empty = the top-level region"},
    {"router", "stats_ms", HL_CONF_INT, F(stats_ms), "10000", 100, 3600000, NULL,
     "how often the stats line (counters, wait, store and queue times) is logged, at info"},
    {"router", "live_figures", HL_CONF_INT, F(live_figures), "1", 0, 1, NULL,
     "1: count every event in the live figures in Redis; 0: only the exact ones from PostgreSQL"},

    {"classify", "model", HL_CONF_STR, F(classify_model), "", 0, 0, NULL,
     "trained classifier (hotline-classify train); empty = keyword rules only"},

    {"lifecycle", "archive_after_days", HL_CONF_INT, F(archive_after_days), "30", 0, 3650, NULL,
     "days after closing before a ticket may be archived (admins may archive at once)"},

    {"sla", "warn_share", HL_CONF_DOUBLE, F(sla_warn_share), "0.75", 0.01, 0.99, NULL,
     "yellow warning when this share of a deadline's time has passed"},
    {"sla", "remind_share", HL_CONF_DOUBLE, F(sla_remind_share), "0.9", 0.01, 0.99, NULL,
     "reminder (催办) when this share has passed (after the warning)"},
    {"sla", "max_level", HL_CONF_INT, F(sla_max_level), "3", 0, 9, NULL,
     "supervision (督办) levels raised on a deadline still overdue; 0 = none"},
    {"sla", "escalate_after_days", HL_CONF_INT, F(sla_escalate_after_days), "1", 1, 365, NULL,
     "day-counted deadlines: one more supervision level per this many days overdue"},
    {"sla", "escalate_after_ms", HL_CONF_INT, F(sla_escalate_after_ms), "14400000", 1000, 604800000, NULL,
     "deadlines in minutes or hours: one more supervision level per this long overdue"},
    {"sla", "window", HL_CONF_INT, F(sla_window), "256", 1, 4096, NULL,
     "notices sent to the router and not yet answered, at most"},
    {"sla", "answer_timeout_ms", HL_CONF_INT, F(sla_answer_timeout_ms), "10000", 100, 600000, NULL,
     "a notice unanswered by then is sent again later"},
    {"sla", "retry_ms", HL_CONF_INT, F(sla_retry_ms), "10000", 100, 3600000, NULL,
     "pause before a notice refused for now (TRY_LATER, stale deadline) is tried again"},
    {"sla", "resync_ms", HL_CONF_INT, F(sla_resync_ms), "60000", 100, 3600000, NULL,
     "how often tickets changed lately are read again from PostgreSQL (missed events)"},
    {"sla", "stats_ms", HL_CONF_INT, F(sla_stats_ms), "60000", 100, 86400000, NULL,
     "how often the watcher logs its figures"},

    {"gateway", "listen", HL_CONF_STR, F(gw_listen), "127.0.0.1:8080", 0, 0, NULL,
     "address and port of the HTTP gateway (IPv4)"},
    {"gateway", "public_url", HL_CONF_STR, F(gw_public_url), "", 0, 0, NULL,
     "the gateway's URL as clients see it (Open311 discovery); empty = http://<listen>"},
    {"gateway", "threads", HL_CONF_INT, F(gw_threads), "2", 1, 64, NULL,
     "event-loop threads serving HTTP (each with its own connection to the router)"},
    {"gateway", "max_connections", HL_CONF_INT, F(gw_max_connections), "1024", 1, 1000000, NULL,
     "open connections at most"},
    {"gateway", "max_connections_per_ip", HL_CONF_INT, F(gw_max_connections_per_ip), "256", 0, 1000000, NULL,
     "open connections from one address at most (0: no limit)"},
    {"gateway", "idle_timeout_s", HL_CONF_INT, F(gw_idle_timeout_s), "15", 1, 3600, NULL,
     "a connection silent this long is closed (slow clients)"},
    {"gateway", "max_headers", HL_CONF_INT, F(gw_max_headers), "16384", 4096, 1048576, NULL,
     "bytes of request line and headers at most (431 beyond)"},
    {"gateway", "max_body", HL_CONF_INT, F(gw_max_body), "65536", 1024, 16777216, NULL,
     "bytes of request body at most (413 beyond)"},
    {"gateway", "request_timeout_ms", HL_CONF_INT, F(gw_request_timeout_ms), "10000", 100, 600000, NULL,
     "the router's answer is awaited this long (503 beyond; retry with the same key)"},
    {"gateway", "report_timeout_ms", HL_CONF_INT, F(gw_report_timeout_ms), "60000", 1000, 3600000, NULL,
     "a report's or another long read's statement timeout in PostgreSQL (503 beyond)"},
    {"gateway", "report_workers", HL_CONF_INT, F(gw_report_workers), "4", 1, 256, NULL,
     "reports and other long reads run at most this many at once (each on a PostgreSQL "
     "connection of its own); more wait their turn"},
    {"gateway", "rate_per_s", HL_CONF_INT, F(gw_rate_per_s), "50", 1, 1000000, NULL,
     "requests per second of one token, unless the token sets its own (429 beyond)"},
    {"gateway", "rate_burst", HL_CONF_INT, F(gw_rate_burst), "100", 1, 1000000, NULL,
     "requests one token may send at once after a pause"},
    {"gateway", "progress_per_min", HL_CONF_INT, F(gw_progress_per_min), "10", 1, 100000, NULL,
     "citizens' progress queries per minute from one address (no login)"},
    {"gateway", "console_dir", HL_CONF_STR, F(gw_console_dir), "", 0, 0, NULL,
     "the agents' console files; empty = the ones built in at build time"},
    {"gateway", "similar", HL_CONF_ENUM, F(gw_similar), "on", 0, 0, "on|off",
     "answer a new ticket with similar open tickets (duplicates to merge)"},
    {"gateway", "kb_suggestions", HL_CONF_INT, F(gw_kb_suggestions), "3", 0, 50, NULL,
     "knowledge-base entries suggested with a new ticket (0: none)"},
    {"gateway", "kb_min_score", HL_CONF_DOUBLE, F(gw_kb_min_score), "0.3", 0, 10, NULL,
     "a suggestion's least score (1.0: as good as a question matching word for word)"},

    {"kb", "repeat_days", HL_CONF_INT, F(kb_repeat_days), "7", 1, 90, NULL,
     "a knowledge-base answer failed when the requester comes back on the same category within these days"},
    {"kb", "fail_min", HL_CONF_INT, F(kb_fail_min), "5", 1, 1000000, NULL,
     "identified uses (or ratings) an entry needs before it can be flagged as failing"},
    {"kb", "fail_repeat_rate", HL_CONF_DOUBLE, F(kb_fail_repeat_rate), "0.3", 0, 1, NULL,
     "an entry fails when at least this share of its identified uses came back"},
    {"kb", "fail_satisfaction", HL_CONF_DOUBLE, F(kb_fail_satisfaction), "0.6", 0, 1, NULL,
     "an entry fails when less than this share of its ratings is satisfied or basically satisfied"},
    {"kb", "gap_days", HL_CONF_INT, F(kb_gap_days), "30", 1, 366, NULL,
     "gaps: consultations of the last N days are looked at"},
    {"kb", "gap_scan", HL_CONF_INT, F(kb_gap_scan), "2000", 10, 100000, NULL,
     "gaps: at most this many of the most recent consultations"},
    {"kb", "gap_score", HL_CONF_DOUBLE, F(kb_gap_score), "0.3", 0, 10, NULL,
     "gaps: a consultation is unanswered when its best entry scores below this"},
    {"kb", "gap_similarity", HL_CONF_DOUBLE, F(kb_gap_similarity), "0.3", 0.01, 1, NULL,
     "gaps: the least bigram Dice similarity of a consultation to a cluster's first one"},
    {"kb", "gap_min_size", HL_CONF_INT, F(kb_gap_min_size), "3", 1, 1000, NULL,
     "gaps: the least consultations a cluster needs to be listed"},

    {"hotspots", "window_hours", HL_CONF_INT, F(hot_window_hours), "24", 1, 744, NULL,
     "spikes: the latest window of requests, in hours"},
    {"hotspots", "baseline_days", HL_CONF_INT, F(hot_baseline_days), "28", 1, 366, NULL,
     "spikes: the usual level is the mean per window over these days before it"},
    {"hotspots", "factor", HL_CONF_DOUBLE, F(hot_factor), "3", 1, 1000, NULL,
     "spikes: a category x region is a spike at this many times its usual level"},
    {"hotspots", "min_count", HL_CONF_INT, F(hot_min_count), "5", 1, 1000000, NULL,
     "spikes: and with at least this many requests in the window"},
    {"hotspots", "cluster_days", HL_CONF_INT, F(hot_cluster_days), "7", 1, 366, NULL,
     "clusters: open requests of the last N days are looked at"},
    {"hotspots", "cluster_scan", HL_CONF_INT, F(hot_cluster_scan), "3000", 10, 100000, NULL,
     "clusters: at most this many of the most recent open requests"},
    {"hotspots", "similarity", HL_CONF_DOUBLE, F(hot_similarity), "0.35", 0.01, 1, NULL,
     "clusters: the least bigram Dice similarity of a request to a cluster's first one"},
    {"hotspots", "cluster_min_size", HL_CONF_INT, F(hot_cluster_min_size), "3", 2, 100000, NULL,
     "clusters: the least requests a cluster needs to be listed"},
    {"hotspots", "cache_s", HL_CONF_INT, F(hot_cache_s), "30", 0, 3600, NULL,
     "GET /api/v1/hotspots: an answer is served again for this many seconds (per unit and limit; 0 = never)"},
    {"hotspots", "public_min_count", HL_CONF_INT, F(hot_public_min_count), "5", 1, 1000000, NULL,
     "reports: counts below this are shown as '<N' (small counts suppressed)"},

    {"deadlines", "utc_offset_min", HL_CONF_INT, F(utc_offset_min), "480", -720, 840, NULL,
     "local time zone offset in minutes (China Standard Time: 480)"},
    {"deadlines", "day_count", HL_CONF_ENUM, F(day_count), "next_day", 0, 0, "next_day|same_day",
     "day limits count from the day after receipt (next_day) or the day itself"},
};

#define NKEYS (sizeof keys / sizeof keys[0])

const hl_conf_key_t *hl_conf_keys(size_t *n)
{
    *n = NKEYS;
    return keys;
}

static void seterr(char err[HL_ERR_LEN], const char *fmt, ...) HL_PRINTF(2, 3);
static void seterr(char err[HL_ERR_LEN], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, HL_ERR_LEN, fmt, ap);
    va_end(ap);
}

static const hl_conf_key_t *find(const char *section, const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0) return &keys[i];
    return NULL;
}

static int choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0) return 1;
        p += len + (bar != NULL);
    }
    return 0;
}

static int apply(hl_conf_t *c, const hl_conf_key_t *k, const char *value, char err[HL_ERR_LEN])
{
    char *field = (char *)c + k->offset;
    switch (k->type) {
    case HL_CONF_ENUM:
        if (!choice_ok(k->choices, value)) {
            seterr(err, "%s.%s: '%s' is not one of %s", k->section, k->key, value, k->choices);
            return HL_EINVAL;
        }
        /* fall through */
    case HL_CONF_STR: {
        char **s = (char **)(void *)field;
        hl_free(*s);
        *s = hl_strdup(value);
        return 0;
    }
    case HL_CONF_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end != '\0') {
            seterr(err, "%s.%s: '%s' is not an integer", k->section, k->key, value);
            return HL_EINVAL;
        }
        if ((double)v < k->min || (double)v > k->max) {
            seterr(err, "%s.%s: %lld is out of range [%.0f, %.0f]", k->section, k->key, v, k->min,
                   k->max);
            return HL_EINVAL;
        }
        *(int64_t *)(void *)field = v;
        return 0;
    }
    case HL_CONF_DOUBLE: {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end != '\0' || !isfinite(v)) {
            seterr(err, "%s.%s: '%s' is not a number", k->section, k->key, value);
            return HL_EINVAL;
        }
        if (v < k->min || v > k->max) {
            seterr(err, "%s.%s: %g is out of range [%g, %g]", k->section, k->key, v, k->min,
                   k->max);
            return HL_EINVAL;
        }
        *(double *)(void *)field = v;
        return 0;
    }
    }
    return HL_EINVAL;
}

void hl_conf_defaults(hl_conf_t *c)
{
    char err[HL_ERR_LEN];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NKEYS; i++) {
        if (apply(c, &keys[i], keys[i].def, err) != 0) abort(); /* the table is wrong */
    }
}

void hl_conf_free(hl_conf_t *c)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].type == HL_CONF_STR || keys[i].type == HL_CONF_ENUM) {
            char **s = (char **)(void *)((char *)c + keys[i].offset);
            hl_free(*s);
            *s = NULL;
        }
    }
}

int hl_conf_set(hl_conf_t *c, const char *section, const char *key, const char *value,
                char err[HL_ERR_LEN])
{
    const hl_conf_key_t *k = find(section, key);
    if (!k) {
        seterr(err, "unknown setting %s.%s", section, key);
        return HL_EINVAL;
    }
    return apply(c, k, value, err);
}

int hl_conf_set_arg(hl_conf_t *c, const char *arg, char err[HL_ERR_LEN])
{
    const char *dot = strchr(arg, '.'), *eq = strchr(arg, '=');
    if (!dot || !eq || dot > eq || dot == arg || eq == dot + 1) {
        seterr(err, "'%s' is not section.key=value", arg);
        return HL_EINVAL;
    }
    char section[64], key[64];
    if ((size_t)(dot - arg) >= sizeof section || (size_t)(eq - dot - 1) >= sizeof key) {
        seterr(err, "'%s': name too long", arg);
        return HL_EINVAL;
    }
    memcpy(section, arg, (size_t)(dot - arg));
    section[dot - arg] = '\0';
    memcpy(key, dot + 1, (size_t)(eq - dot - 1));
    key[eq - dot - 1] = '\0';
    return hl_conf_set(c, section, key, eq + 1, err);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

int hl_conf_load_file(hl_conf_t *c, const char *path, char err[HL_ERR_LEN])
{
    FILE *f = fopen(path, "r");
    if (!f) {
        seterr(err, "%s: %s", path, strerror(errno));
        return HL_EIO;
    }
    char line[4096], section[64] = "";
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            seterr(err, "%s:%d: line too long", path, lineno);
            rc = HL_EINVAL;
            goto done;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';') continue;
        if (*s == '[') {
            char *e = strchr(s, ']');
            if (!e || e[1] != '\0' || e - s - 1 <= 0 || (size_t)(e - s - 1) >= sizeof section) {
                seterr(err, "%s:%d: bad section header '%.64s'", path, lineno, s);
                rc = HL_EINVAL;
                goto done;
            }
            *e = '\0';
            snprintf(section, sizeof section, "%s", s + 1);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            seterr(err, "%s:%d: expected 'key = value', got '%.64s'", path, lineno, s);
            rc = HL_EINVAL;
            goto done;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        if (*value == '"') {
            char *q = strrchr(value + 1, '"');
            if (!q || q[1] != '\0') {
                seterr(err, "%s:%d: unterminated quoted value", path, lineno);
                rc = HL_EINVAL;
                goto done;
            }
            *q = '\0';
            value++;
        } else {
            /* An unquoted value ends at a comment. */
            char *hash = strstr(value, " #");
            if (hash) *hash = '\0', value = trim(value);
        }
        if (section[0] == '\0') {
            seterr(err, "%s:%d: '%.64s' is outside any [section]", path, lineno, key);
            rc = HL_EINVAL;
            goto done;
        }
        char why[HL_ERR_LEN];
        if (hl_conf_set(c, section, key, value, why) != 0) {
            seterr(err, "%s:%d: %s", path, lineno, why);
            rc = HL_EINVAL;
            goto done;
        }
    }
    if (ferror(f)) {
        seterr(err, "%s: read error", path);
        rc = HL_EIO;
    }
done:
    fclose(f);
    return rc;
}

int hl_conf_load_env(hl_conf_t *c, char *const *envp, char err[HL_ERR_LEN])
{
    for (size_t i = 0; i < NKEYS; i++) {
        char name[128];
        int n = snprintf(name, sizeof name, "HOTLINE_%s_%s=", keys[i].section, keys[i].key);
        for (int j = 0; j < n; j++) name[j] = (char)toupper((unsigned char)name[j]);
        for (char *const *e = envp; e && *e; e++) {
            if (strncmp(*e, name, (size_t)n) != 0) continue;
            char why[HL_ERR_LEN];
            if (apply(c, &keys[i], *e + n, why) != 0) {
                seterr(err, "environment %.*s: %s", n - 1, name, why);
                return HL_EINVAL;
            }
        }
    }
    return 0;
}

int hl_conf_load_all(hl_conf_t *c, const char *path, char *const *envp, char *const *sets,
                     int nsets, char err[HL_ERR_LEN])
{
    hl_conf_defaults(c);
    int rc = path ? hl_conf_load_file(c, path, err) : 0;
    if (rc == 0) rc = hl_conf_load_env(c, envp, err);
    for (int i = 0; rc == 0 && i < nsets; i++) rc = hl_conf_set_arg(c, sets[i], err);
    return rc;
}

static void print_value(const hl_conf_t *c, const hl_conf_key_t *k, FILE *out)
{
    const char *field = (const char *)c + k->offset;
    switch (k->type) {
    case HL_CONF_STR:
    case HL_CONF_ENUM: {
        const char *s = *(char *const *)(const void *)field;
        s = s ? s : "";
        if (*s == '\0' || strpbrk(s, " #;\t\""))
            fprintf(out, "\"%s\"", s);
        else
            fputs(s, out);
        break;
    }
    case HL_CONF_INT: fprintf(out, "%lld", (long long)*(const int64_t *)(const void *)field); break;
    case HL_CONF_DOUBLE: fprintf(out, "%g", *(const double *)(const void *)field); break;
    }
}

void hl_conf_dump(const hl_conf_t *c, FILE *out)
{
    const char *section = "";
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(section, keys[i].section) != 0) {
            section = keys[i].section;
            fprintf(out, "%s[%s]\n", i ? "\n" : "", section);
        }
        fprintf(out, "%s = ", keys[i].key);
        print_value(c, &keys[i], out);
        fputc('\n', out);
    }
}

void hl_conf_help(FILE *out)
{
    for (size_t i = 0; i < NKEYS; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s.%s", keys[i].section, keys[i].key);
        fprintf(out, "  %-26s %s (default: %s)\n", name, keys[i].help,
                *keys[i].def ? keys[i].def : "\"\"");
    }
}
