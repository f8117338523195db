/* conf.h - configuration: one declarative table, an INI file, environment overrides.
 *
 * Every setting of every hotline program is one row of the table in conf.c:
 * section, key, type, bounds, default and help. Sources are applied in this
 * order, later ones winning: built-in defaults, the file (--config), then
 * environment variables HOTLINE_<SECTION>_<KEY> (upper case), then command-line
 * --set section.key=value. deploy/hotline.conf.example lists every key with its
 * default; a test keeps the two in step.
 */
#ifndef HOTLINE_CONF_H
#define HOTLINE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hotline/err.h"

typedef struct hl_conf {
    /* [log] */
    char *log_level;
    /* [zmq] */
    char *zmq_intake;            /* router binds, clients connect */
    char *zmq_events;            /* router binds PUB */
    int64_t zmq_max_envelope;    /* bytes */
    int64_t zmq_hwm;             /* messages queued per peer before ZeroMQ pushes back */
    /* [postgres] */
    char *pg_conninfo;
    int64_t pg_connections;      /* batch writers; one more connection for control work */
    int64_t pg_reconnect_ms;
    int64_t pg_request_timeout_ms;
    /* [redis] */
    char *redis_host;
    int64_t redis_port;
    int64_t redis_reconnect_ms;
    int64_t redis_timeout_ms;    /* a stream write not answered by then counts as failed */
    /* [router] */
    char *router_name;           /* "" = hostname:pid */
    int64_t router_priority;     /* nice value, set at start */
    int64_t batch_max;           /* intakes per PostgreSQL transaction */
    int64_t batch_min;           /* a second batch in flight needs this many intakes */
    int64_t batch_wait_ms;       /* ... or its oldest intake to have waited this long */
    int64_t batch_linger_ms;     /* with none in flight, the oldest may wait this long */
    int64_t max_pending;         /* intakes held in memory before "try later" */
    int64_t pending_timeout_ms;  /* an intake not stored by then is answered "try later" */
    int64_t retry_after_ms;      /* advice sent with "try later" */
    int64_t outbox_sweep_ms;     /* how often the outbox is swept */
    int64_t outbox_age_ms;       /* an outbox row older than this is re-sent */
    int64_t key_days;            /* idempotency keys kept this long; 0 = forever */
    int64_t max_text;            /* bytes of title + body */
    double min_confidence;       /* below: PENDING_DISPATCH for a human dispatcher */
    char *dispatch_queue;        /* stream name suffix of the human dispatch queue */
    char *default_region;        /* region used when an intake names none */
    int64_t live_figures;        /* 1: count events in Redis as they happen */
    int64_t stats_ms;            /* how often the stats line is logged (info) */
    /* [classify] */
    char *classify_model;        /* trained model file; "" = keyword rules only */
    /* [lifecycle] */
    int64_t archive_after_days;  /* a closed ticket may be archived after this */
    /* [sla] the deadline watcher */
    double sla_warn_share;
    double sla_remind_share;
    int64_t sla_max_level;
    int64_t sla_escalate_after_days;
    int64_t sla_escalate_after_ms;
    int64_t sla_window;
    int64_t sla_answer_timeout_ms;
    int64_t sla_retry_ms;
    int64_t sla_resync_ms;
    int64_t sla_stats_ms;
    /* [gateway] the HTTP gateway */
    char *gw_listen;
    char *gw_public_url;
    int64_t gw_threads;
    int64_t gw_max_connections;
    int64_t gw_max_connections_per_ip;
    int64_t gw_idle_timeout_s;
    int64_t gw_max_headers;
    int64_t gw_max_body;
    int64_t gw_request_timeout_ms;
    int64_t gw_report_timeout_ms;
    int64_t gw_report_workers;
    int64_t gw_rate_per_s;
    int64_t gw_rate_burst;
    int64_t gw_progress_per_min;
    char *gw_console_dir;
    char *gw_similar;
    int64_t gw_kb_suggestions;
    double gw_kb_min_score;
    /* [kb] */
    int64_t kb_repeat_days;
    int64_t kb_fail_min;
    double kb_fail_repeat_rate;
    double kb_fail_satisfaction;
    int64_t kb_gap_days;
    int64_t kb_gap_scan;
    double kb_gap_score;
    double kb_gap_similarity;
    int64_t kb_gap_min_size;
    int64_t hot_window_hours, hot_baseline_days, hot_min_count, hot_cluster_days, hot_cluster_scan;
    int64_t hot_cluster_min_size, hot_public_min_count, hot_cache_s;
    double hot_factor, hot_similarity;
    /* [deadlines] */
    int64_t utc_offset_min;      /* local time offset (China: 480) */
    char *day_count;             /* "next_day" (次日起算) or "same_day" (当日起算) */
} hl_conf_t;

typedef enum { HL_CONF_STR, HL_CONF_INT, HL_CONF_DOUBLE, HL_CONF_ENUM } hl_conf_type_t;

typedef struct {
    const char *section;
    const char *key;
    hl_conf_type_t type;
    size_t offset;        /* of the field in hl_conf_t */
    const char *def;      /* default, as text */
    double min, max;      /* bounds of INT and DOUBLE */
    const char *choices;  /* ENUM: "a|b|c" */
    const char *help;     /* one line, for --help and the sample config */
} hl_conf_key_t;

/* The table, for tests and documentation. */
const hl_conf_key_t *hl_conf_keys(size_t *n);

/* Fill c with the defaults. Free with hl_conf_free. */
void hl_conf_defaults(hl_conf_t *c);
/* Release the strings c owns; c can be filled again with hl_conf_defaults. */
void hl_conf_free(hl_conf_t *c);

/* Set one key from text. Returns 0, or HL_EINVAL with err filled ("unknown
 * key", "out of range", ...). */
HL_MUSTCHECK int hl_conf_set(hl_conf_t *c, const char *section, const char *key, const char *value,
                             char err[HL_ERR_LEN]);
/* Apply "section.key=value". Returns 0 or HL_EINVAL with err filled. */
HL_MUSTCHECK int hl_conf_set_arg(hl_conf_t *c, const char *arg, char err[HL_ERR_LEN]);
/* Read an INI file: [section] lines, key = value lines, '#' or ';' comments,
 * values optionally in double quotes. Returns 0, HL_EIO if the file cannot be
 * read, or HL_EINVAL with err = "file:line: reason". */
HL_MUSTCHECK int hl_conf_load_file(hl_conf_t *c, const char *path, char err[HL_ERR_LEN]);
/* Apply HOTLINE_<SECTION>_<KEY> variables from envp (NULL-terminated).
 * Returns 0 or HL_EINVAL with err naming the variable. */
HL_MUSTCHECK int hl_conf_load_env(hl_conf_t *c, char *const *envp, char err[HL_ERR_LEN]);
/* Defaults, then the file (if path is not NULL), then HOTLINE_* variables of
 * envp, then each "section.key=value" of sets. Returns 0 or an error with err
 * filled; c holds the defaults-plus-what-applied either way (free it). */
HL_MUSTCHECK int hl_conf_load_all(hl_conf_t *c, const char *path, char *const *envp,
                                  char *const *sets, int nsets, char err[HL_ERR_LEN]);
/* Write every key with its current value in INI form. */
void hl_conf_dump(const hl_conf_t *c, FILE *out);
/* Write "  section.key  (default) help" lines, for --help. */
void hl_conf_help(FILE *out);

#endif
