/* gateway.h - hotline-gateway's parts (private to workers/gateway/).
 *
 * Threads: gateway.threads event loops, each an HTTP daemon on the one
 * listening socket plus its own ZeroMQ DEALER to the router; a request that
 * needs the router is suspended, its envelopes sent, and the connection
 * resumed by the same thread when every answer is in (or the wait timed
 * out). One more thread owns the PostgreSQL connection for tokens and
 * reference names (reloaded on NOTIFY). Nothing personal is logged.
 */
#ifndef HOTLINE_GATEWAY_H
#define HOTLINE_GATEWAY_H

#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hotline/buf.h"
#include "hotline/conf.h"
#include "hotline/envelope.h"
#include "hotline/err.h"
#include "hotline/json.h"
#include "hotline/kbindex.h"
#include "hotline/lifecycle.h"
#include "hotline/map.h"
#include "hotline/log.h"
#include "hotline/ticket.h"

#define GW_ROLE_OPEN311 64 /* an Open311 api key: POST requests only */
#define GW_MAX_CALLS 1     /* envelopes one HTTP request may wait for */
#define GW_DURATION_BUCKETS 14 /* bounded buckets of /metrics' request duration histogram */
#define GW_HEALTHY_FOR_MS 5000 /* ready while the router answered health this recently */

/* ------------------------------------------------------------ tokens */

typedef struct {
    int64_t id;
    int role;                 /* one HL_ROLE_* bit, or GW_ROLE_OPEN311 */
    char unit[HL_UNIT_LEN];   /* role unit */
    char prefix[12];          /* the token's first characters, for logs */
    char name[64];
    int rate_per_s;           /* 0: the default */
} gw_token_t;

typedef struct gw_auth gw_auth_t;

gw_auth_t *gw_auth_new(void);
void gw_auth_destroy(gw_auth_t **self_p);
/* Read the valid tokens from PostgreSQL (replacing the ones held). Returns
 * 0 or HL_EIO with err filled. Called by the PostgreSQL thread. */
HL_MUSTCHECK int gw_auth_load(gw_auth_t *a, PGconn *pg, char err[HL_ERR_LEN]);
size_t gw_auth_count(gw_auth_t *a);
/* The token of a bearer string; false if unknown, revoked or expired. */
bool gw_auth_lookup(gw_auth_t *a, const char *bearer, gw_token_t *out);
/* Take one request from a bucket (a token's, or a client address's with a
 * per-minute rate). Returns 0, or the seconds to wait. */
int gw_auth_take(gw_auth_t *a, const char *bucket, double per_s, double burst);

/* ------------------------------------------------------------ reference names */

typedef struct {
    char code[64], parent[64], name[128], keywords[1024];
} gw_category_t;

typedef struct {
    char code[64], name[128], parent[16];
} gw_named_t;

typedef struct {
    gw_category_t *cats;
    size_t ncats;
    gw_named_t *units, *regions;
    size_t nunits, nregions;
    int refs;                 /* readers holding it (under gw.lock) */
} gw_refs_t;

gw_refs_t *gw_refs_load(PGconn *pg, char err[HL_ERR_LEN]);
void gw_refs_free(gw_refs_t *r);
const gw_category_t *gw_refs_category(const gw_refs_t *r, const char *code);
const char *gw_refs_unit_name(const gw_refs_t *r, const char *code);     /* "" if unknown */
const char *gw_refs_region_name(const gw_refs_t *r, const char *code);   /* "" if unknown */
/* The codes of the region and of every region within it (a map, values
 * non-NULL; the caller destroys it); an unknown code: itself only. */
hl_map_t *gw_refs_regions_within(const gw_refs_t *r, const char *code);

/* ------------------------------------------------------------ requests */

typedef struct gw gw_t;
typedef struct gw_loop gw_loop_t;
typedef struct gw_req gw_req_t;
typedef struct gw_job gw_job_t;
typedef void (*gw_finish_fn)(gw_req_t *r);
/* Work run away from the event loop (gw_defer), with a PostgreSQL
 * connection of its own (NULL when PostgreSQL cannot be reached). */
typedef void (*gw_work_fn)(gw_req_t *r, PGconn *pg);

struct gw_req {
    gw_t *gw;
    gw_loop_t *loop;          /* the event loop serving its connection */
    struct MHD_Connection *conn;
    char method[8];
    char *url;
    char ip[64];
    int64_t started_us;
    /* the body */
    hl_buf_t body;
    size_t max_body;
    bool too_big;
    /* who */
    bool authed;
    gw_token_t tok;
    gw_refs_t *refs;          /* held while the request lives */
    /* the bus */
    hl_buf_t staged[GW_MAX_CALLS];
    uint64_t rids[GW_MAX_CALLS];
    int nstaged;
    int outstanding;          /* answers still awaited */
    hl_envelope_t *ans[GW_MAX_CALLS];
    bool timed_out[GW_MAX_CALLS];
    gw_finish_fn finish;
    gw_work_fn work;          /* gw_defer's */
    void *job;                /* the handler's data for work and finish (the handler frees it) */
    /* the answer */
    int status;
    struct MHD_Response *resp;
    /* route scratch */
    char ticket[32];
    char key[136];
    int xml;                  /* Open311: answer in XML */
    int kind;                 /* the handler's own use */
    hl_json_t json;           /* the request body, read (freed with the request) */
};

/* Answers (each replaces an earlier one). */
void gw_reply_json(gw_req_t *r, int status, json_t *body);  /* takes body */
void gw_reply_jw(gw_req_t *r, int status, hl_buf_t *json);  /* takes json's memory (written by hl_jw_*) */
void gw_reply_json_text(gw_req_t *r, int status, char *json, size_t len); /* takes json (malloc) */
/* body written as every JSON answer is (compact, 10 significant digits):
 * malloc'd, or NULL when out of memory. Takes body. */
char *gw_json_text(json_t *body);
void gw_reply_text(gw_req_t *r, int status, const char *ctype, char *data, size_t len); /* takes data (malloc) */
void gw_reply_static(gw_req_t *r, int status, const char *ctype, const void *data, size_t len); /* borrows data */
void gw_reply_error(gw_req_t *r, int status, const char *code, const char *fmt, ...) HL_PRINTF(4, 5);
void gw_add_header(gw_req_t *r, const char *name, const char *value);
/* Request data. */
const char *gw_arg(gw_req_t *r, const char *name);          /* query string argument or NULL */
const char *gw_header(gw_req_t *r, const char *name);       /* request header or NULL */

/* Request checks shared by the API's modules (api.c); false or NULL: answered. */
#define GW_ROLES_STAFF (HL_ROLE_AGENT | HL_ROLE_OFFICE | HL_ROLE_SUPERVISOR | HL_ROLE_ADMIN)
#define GW_ROLES_ALL (GW_ROLES_STAFF | HL_ROLE_UNIT)
bool gw_authenticate(gw_req_t *r, int roles);          /* bearer token, role, rate */
const hl_jv_t *gw_body_object(gw_req_t *r);            /* the body as a JSON object */
bool gw_absent(const hl_jv_t *v);                      /* missing or null */
bool gw_get_str(gw_req_t *r, const hl_jv_t *o, const char *key, size_t max, const char **out);
bool gw_get_bool(gw_req_t *r, const hl_jv_t *o, const char *key, bool *out);
bool gw_only(gw_req_t *r, const hl_jv_t *o, const char *const *allowed, const char *where);
void gw_not_allowed(gw_req_t *r, const char *allow);   /* 405 with Allow */
/* Query arguments: a time or date (0 when absent); a whole number in
 * [min, max] (def when absent). */
bool gw_time_arg(gw_req_t *r, const char *name, int64_t *out);
/* An optional code argument (UTF-8, under len bytes) into out ("" when
 * absent); a unit's token reads its own unit only (403 for another's; the
 * unit filled in when none was asked). */
bool gw_code_arg(gw_req_t *r, const char *name, char *out, size_t len);
bool gw_unit_scope(gw_req_t *r, char *unit, size_t len, const char *what);
/* A report's period: from and to (default: the last 30 days up to now),
 * from before to. */
bool gw_period_args(gw_req_t *r, int64_t *from, int64_t *to);
bool gw_int_arg(gw_req_t *r, const char *name, long def, long min, long max, long *out);

/* One CSV field (quoted when needed; a leading =+-@ defused for
 * spreadsheets), then "," or, when last, CRLF. */
void gw_csv_field(hl_buf_t *b, const char *s, bool last);

/* The value of a hex digit, or -1 (percent-decoding). */
int gw_hexval(char c);

/* Stage an envelope for the router (up to GW_MAX_CALLS), then gw_wait. */
void gw_call(gw_req_t *r, Hotline__Envelope *env);
/* Wait for every staged call's answer, then finish(r) runs (in an HTTP
 * loop) with r->ans[] (NULL and r->timed_out[i] when none came). */
void gw_wait(gw_req_t *r, gw_finish_fn finish);
/* For the rare requests that take seconds (reports): work(r, pg) runs on
 * another thread with a connection of its own while the request waits
 * suspended, so the loop serves on; then finish(r) runs in the loop. At most
 * gateway.report_workers run at once; more wait their turn in order. work
 * may touch only r->job, read r->gw's settings and take the knowledge
 * base's read lock. */
void gw_defer(gw_req_t *r, gw_work_fn work, gw_finish_fn finish);
/* In deferred work: a query's rows, or NULL (the error logged under `what`
 * unless the connection is gone: the caller then answers 503). */
PGresult *gw_pg_rows(PGconn *pg, const char *what, const char *sql, int n, const char *const *params);
/* In deferred work, after a read failed: whether PostgreSQL is the cause
 * (unreachable, or the read timed out or met the server's load: see
 * hl_pg_rows_busy), so the answer is 503 and a retry may succeed. */
bool gw_pg_unavailable(PGconn *pg);
/* Logs a failed read's err: an error, a warning when the server's state
 * caused it, nothing when the connection (pg may be NULL) is gone. */
void gw_pg_failed(PGconn *pg, const char *err);
/* A deferred read's answer: 200 with out (taken); without it 503 and
 * Retry-After when a store was unreachable, else 500; `what` names it in
 * the message ("the figures"). */
void gw_reply_deferred(gw_req_t *r, json_t *out, bool unreachable, const char *what);
/* The two for a query: send q to the router, then finish(r) with its answer. */
void gw_query(gw_req_t *r, Hotline__Query *q, gw_finish_fn finish);

/* An Ack's status as HTTP, with a JSON error body written unless OK. Returns
 * true for OK. */
bool gw_ack_ok(gw_req_t *r, const Hotline__Ack *ack, bool timed_out);
int gw_http_status(Hotline__Status st);

/* ------------------------------------------------------------ event loops */

/* Start a loop thread serving connections accepted on listen_fd (shared by
 * every loop; not owned). NULL with err filled when it cannot. */
gw_loop_t *gw_loop_start(gw_t *gw, int index, int listen_fd, char err[HL_ERR_LEN]);
/* Stop accepting connections (the ones open are served on). */
void gw_loop_quiesce(gw_loop_t *l);
/* Calls sent to the router and not answered yet, and deferred work not
 * done (any thread). */
size_t gw_loop_inflight(gw_loop_t *l);
/* Answer what waits with "no answer", stop the thread and the daemon. */
void gw_loop_stop(gw_loop_t **self_p);
/* In the loop's thread, from the daemon's pass (the request handler): queue a
 * suspended request's staged calls; the loop sends them all when the pass
 * ends (a call refused then is answered "no answer"). */
void gw_loop_submit(gw_loop_t *l, gw_req_t *r);
/* In the loop's thread: start a suspended request's deferred work, or queue
 * it when gateway.report_workers already run. */
void gw_loop_defer(gw_loop_t *l, gw_req_t *r);
/* The deferred work's queue and idle-connection list (gw->conf loaded), and
 * (every loop stopped) its idle PostgreSQL connections closed. */
void gw_jobs_init(gw_t *gw);
void gw_jobs_free(gw_t *gw);
gw_t *gw_loop_gateway(gw_loop_t *l);
/* The loop's knowledge-base search memory. */
hl_kbscratch_t *gw_loop_kbscratch(gw_loop_t *l);
/* The loop's own PostgreSQL connection for the few writes that do not go
 * through the router (knowledge-base edits), opened on first use; NULL
 * with err filled when PostgreSQL cannot be reached. Blocking: only for
 * rare requests. */
PGconn *gw_loop_pg(gw_loop_t *l, char err[HL_ERR_LEN]);

/* The HTTP daemon of a loop: libmicrohttpd without threads of its own, on
 * listen_fd; NULL with err filled. */
struct MHD_Daemon *gw_http_daemon(gw_loop_t *l, int listen_fd, char err[HL_ERR_LEN]);
/* The listening socket of gateway.listen; -1 with err filled. */
int gw_http_listen(const gw_t *gw, char err[HL_ERR_LEN]);

/* ------------------------------------------------------------ PostgreSQL */

typedef struct gw_pgwatch gw_pgwatch_t;

gw_pgwatch_t *gw_pgwatch_start(gw_t *gw, char err[HL_ERR_LEN]);
void gw_pgwatch_stop(gw_pgwatch_t **self_p);

/* ------------------------------------------------------------ knowledge base */

typedef struct gw_kb gw_kb_t;

gw_kb_t *gw_kb_new(void);
void gw_kb_free(gw_kb_t **self_p);
/* Load every published entry (a fresh index replaces the old). Returns 0 or
 * HL_EIO with err filled. Called by the PostgreSQL thread. */
HL_MUSTCHECK int gw_kb_load(gw_kb_t *kb, PGconn *pg, char err[HL_ERR_LEN]);
/* Read entries ids[0..n) again (published: put; otherwise: removed). */
HL_MUSTCHECK int gw_kb_refresh(gw_kb_t *kb, PGconn *pg, const int64_t *ids, size_t n, char err[HL_ERR_LEN]);
/* The best entries for q written to w as a JSON array of {id, version,
 * title, score[, answer], category} (in the request's loop). */
void gw_kb_suggest(gw_req_t *r, hl_jw_t *w, const char *q, size_t qlen, const char *category, size_t limit,
                   float min_score, bool answers);
void gw_kb_api(gw_req_t *r, const char *path);   /* path after /api/v1/kb */
void gw_stats_api(gw_req_t *r);                  /* GET /api/v1/stats */
void gw_metrics(gw_req_t *r);                    /* GET /metrics (Prometheus) */
void gw_deadlines_api(gw_req_t *r);              /* GET /api/v1/deadlines */
void gw_hotspots_api(gw_req_t *r);               /* GET /api/v1/hotspots */
void gw_report_api(gw_req_t *r);                 /* GET /api/v1/report */
void gw_hot_answers_free(gw_t *gw);              /* at shutdown */

/* Hot spots of [from, to) (spikes against the hotspots.baseline_days before
 * it) and, when clusters, the clusters of open requests now; unit NULL or
 * "" for all. Returns the JSON (new reference) or NULL when PostgreSQL
 * failed. Runs in deferred work (gw_defer). */
typedef struct {
    int64_t from, to;
    const char *unit;
    size_t limit;
    bool clusters, examples;
} gw_hot_query_t;
json_t *gw_hotspots(gw_req_t *r, PGconn *pg, const gw_hot_query_t *q);

/* The exact figures of [from, to) as GET /api/v1/stats?source=exact
 * answers them (unit NULL or "" for all). Returns the JSON (new reference)
 * or NULL (*unreachable: a store was down). Runs in deferred work. */
json_t *gw_figures(gw_req_t *r, PGconn *pg, int64_t from, int64_t to, const char *unit, bool *unreachable);
/* The current versions ("3,1") of the published entries named in entries
 * ("12,40") into out; HL_EINVAL when one is not published or out is short. */
HL_MUSTCHECK int gw_kb_versions(gw_t *gw, const char *entries, char *out, size_t len);

/* ------------------------------------------------------------ the gateway */

struct gw {
    hl_conf_t conf;
    int listen_fd;
    void *zctx;
    gw_loop_t **loops;
    int nloops;
    gw_pgwatch_t *pgwatch;
    gw_auth_t *auth;
    gw_kb_t *kb;
    pthread_mutex_t conn_lock;
    hl_map_t *conns;          /* client address -> open connections (as a uintptr_t) */
    size_t nconns;
    pthread_mutex_t refs_lock;
    gw_refs_t *refs;          /* the current names (swapped by the PostgreSQL thread) */
    pthread_mutex_t hot_lock;
    struct gw_hot_answer *hot_answers; /* GET /hotspots answered lately (hotspots.c) */
    pthread_mutex_t job_lock;
    gw_job_t *job_head, *job_tail; /* deferred work waiting for a thread (loop.c) */
    int64_t jobs_running;          /* threads running deferred work */
    PGconn **job_idle;             /* their connections left idle (gateway.report_workers at most) */
    size_t njob_idle;
    /* static files of the console */
    struct gw_file *files;
    size_t nfiles;
    char base_url[128];
    volatile int stopping;
    int tokens_loaded;        /* atomic */
    int64_t health_ok_ms;     /* the router's last good health answer (atomic) */
    uint64_t rid_seq;         /* request ids on the bus (atomic) */
    /* figures */
    uint64_t requests, errors;
    uint64_t durations[GW_DURATION_BUCKETS + 1]; /* requests per duration bucket, last +Inf (atomic) */
    uint64_t duration_us_sum;                    /* (atomic) */
};

/* Upper bounds of the request duration histogram's buckets, microseconds. */
extern const int64_t gw_duration_bounds_us[GW_DURATION_BUCKETS];

gw_refs_t *gw_refs_hold(gw_t *gw);
void gw_refs_release(gw_t *gw, gw_refs_t *r);
void gw_refs_swap(gw_t *gw, gw_refs_t *fresh);

/* Tokens are loaded and the router answered a health query lately. */
bool gw_ready(gw_t *gw);

/* Routes. */
void gw_api(gw_req_t *r, const char *path);      /* path after /api/v1 */
void gw_open311(gw_req_t *r, const char *path);  /* path after /open311/v2 */
int gw_console_load(gw_t *gw, const char *dir, char err[HL_ERR_LEN]);
void gw_console_free(gw_t *gw);
void gw_console(gw_req_t *r, const char *path);  /* path after /console */

/* ISO 8601 with the local offset ("" for 0). */
const char *gw_time(const gw_t *gw, int64_t ms, char buf[40]);
/* Parse an ISO 8601 time or a date (YYYY-MM-DD, local midnight). */
HL_MUSTCHECK int gw_parse_time(const gw_t *gw, const char *s, int64_t *ms);

#endif
