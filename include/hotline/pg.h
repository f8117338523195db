/* pg.h - a non-blocking PostgreSQL connection on the hotline loop.
 *
 * A connection runs requests one after another from a FIFO queue. A request
 * is either
 *  - a pipeline of parameterised queries (hl_pg_req_query), sent in one
 *    round trip with one Sync, or
 *  - one simple-protocol string of several statements (hl_pg_req_simple)
 *    whose COPY ... FROM STDIN statements take the payloads given with
 *    hl_pg_req_copy, in order (payloads beyond the string's COPYs are not
 *    used; a COPY without a payload fails the request). The payloads are
 *    written right behind the string, not each after its COPY's answer, so
 *    the whole string costs one round trip (see pg.c; not over TLS or GSS
 *    encryption).
 * Nothing blocks: connecting (PQconnectStart/Poll), sending (PQflush) and
 * reading (PQconsumeInput/PQisBusy) are driven by socket readiness.
 *
 * Transactions may span requests (BEGIN in one, COMMIT in the next). After a
 * failed request the connection rolls back any open transaction before it
 * runs the next one. A lost connection fails the running request with HL_EIO
 * (its outcome is unknown if it contained COMMIT) and every queued request with
 * HL_EAGAIN, then reconnects after reconnect_ms.
 */
#ifndef HOTLINE_PG_H
#define HOTLINE_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hotline/buf.h"
#include "hotline/err.h"
#include "hotline/loop.h"

typedef struct hl_pg hl_pg_t;
typedef struct hl_pg_req hl_pg_req_t;

/* A result with rows or a command status; `index` counts queries (pipeline)
 * or results (simple) from 0. res is borrowed: valid during the call only. */
typedef void (*hl_pg_result_fn)(void *arg, int index, const PGresult *res);
/* The request finished: rc 0, HL_ECONFLICT (a unique violation, SQLSTATE
 * 23505), HL_EINVAL (another SQL error; msg has the server's message), HL_EIO
 * (connection lost), HL_ETIMEDOUT, or HL_EAGAIN (never ran). After an SQL
 * error the transaction is already rolled back. May submit new requests. */
typedef void (*hl_pg_done_fn)(void *arg, int rc, const char *msg);
typedef void (*hl_pg_state_fn)(hl_pg_t *pg, void *arg, bool up);
typedef void (*hl_pg_notify_fn)(hl_pg_t *pg, void *arg, const char *channel, const char *payload);

/* A connection that will connect to conninfo and run setup_sql (may be NULL)
 * after every (re)connect. timeouts in ms; 0 = no request timeout. The name
 * appears in logs. Call hl_pg_start to begin. Never NULL. */
hl_pg_t *hl_pg_new(hl_loop_t *loop, const char *name, const char *conninfo, const char *setup_sql,
                   int64_t reconnect_ms, int64_t request_timeout_ms);
/* Fail queued requests with HL_EAGAIN, close, free. Not from inside a callback
 * of this connection. */
void hl_pg_destroy(hl_pg_t **self_p);

/* Send COPY payloads ahead (on, the default) or each after its COPY's
 * CopyInResponse (off: one more round trip per COPY; for tests). */
void hl_pg_set_copy_ahead(hl_pg_t *pg, bool on);
void hl_pg_on_state(hl_pg_t *pg, hl_pg_state_fn fn, void *arg);
void hl_pg_on_notify(hl_pg_t *pg, hl_pg_notify_fn fn, void *arg);
/* Begin connecting (and keep reconnecting). */
void hl_pg_start(hl_pg_t *pg);

/* Connected and set up. */
bool hl_pg_up(const hl_pg_t *pg);
/* Up, no request running and none queued. */
bool hl_pg_idle(const hl_pg_t *pg);

/* A new empty request; the callbacks may be NULL. Never NULL. */
hl_pg_req_t *hl_pg_req_new(hl_pg_result_fn on_result, hl_pg_done_fn on_done, void *arg);
/* Free a request that was not submitted. */
void hl_pg_req_free(hl_pg_req_t **req_p);
/* Append a parameterised query (text parameters, copied; NULL = SQL NULL). */
void hl_pg_req_query(hl_pg_req_t *req, const char *sql, int nparams, const char *const *values);
/* Set the simple-protocol statement string (copied). */
void hl_pg_req_simple(hl_pg_req_t *req, const char *sql);
/* Append the payload of the next COPY FROM STDIN (COPY text format). The
 * buffer's memory moves into the request; *data is left empty. */
void hl_pg_req_copy(hl_pg_req_t *req, hl_buf_t *data);

/* Queue a request. On success the connection owns it and *req_p is NULL.
 * Returns HL_EAGAIN when the connection is down (the caller keeps the
 * request) or HL_EINVAL for a request mixing queries and a simple string. */
HL_MUSTCHECK int hl_pg_submit(hl_pg_t *pg, hl_pg_req_t **req_p);

/* Format text for a PostgreSQL array literal element list: appends
 * "{"a","b"}" built from n strings. Elements are quoted and escaped; a NULL
 * pointer is an SQL NULL element. */
void hl_pg_text_array(hl_buf_t *out, const char *const *items, size_t n);

/* ---------------------------------------------------------------------------
 * Blocking reads, for tools and worker threads on a PGconn of their own. */

/* A parameterised read's rows (the caller PQclears), or NULL with err set to
 * "WHAT: the server's message". */
PGresult *hl_pg_rows(PGconn *pg, const char *what, const char *sql, int n, const char *const *params,
                     char err[HL_ERR_LEN]);
/* Whether the last hl_pg_rows on this thread failed for the server's state,
 * not for the statement, so that the same read may succeed later: canceled
 * (a statement timeout), shutting down, out of resources, a deadlock or a
 * serialization failure, or the connection (SQLSTATE classes 57, 53, 40, 08).
 * False after a success. */
bool hl_pg_rows_busy(void);

#endif
