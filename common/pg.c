/* pg.c - non-blocking libpq on the hotline loop.
 *
 * COPY data is sent ahead. A string such as "BEGIN; COPY a FROM STDIN; COPY
 * b FROM STDIN; COMMIT" would cost a round trip per COPY through libpq: the
 * server answers each COPY with CopyInResponse, and libpq accepts the COPY's
 * data (PQputCopyData) only after reading it. The protocol itself does not
 * wait: the server reads its input in order, so CopyData and CopyDone
 * messages written right after the Query message are simply read by each
 * COPY in turn. So when a request has COPY payloads, the connection writes
 * them on the socket itself, as protocol messages, right behind libpq's
 * Query; when libpq then reports each COPY_IN, PQputCopyEnd only brings
 * libpq back to its busy state. The CopyFail it sends reaches the server
 * after all our data, i.e. after the last COPY that has a payload, where the
 * protocol has it ignored ("accept but ignore" outside COPY, as after a
 * failed COPY), or fails a COPY left without a payload. Two rules keep the
 * byte stream in order: libpq's output is flushed before the first byte of ours,
 * and results are not processed (processing may make libpq send) until the
 * last byte of ours is written. Not over TLS or GSS encryption, where the
 * bytes on the socket are libpq's to encrypt: there each COPY waits for its
 * CopyInResponse as usual. (The router's batch is one round trip instead of
 * six: tests/bench/e2e.sh's p50 at 10 % load 5.2-5.8 -> 1.9 ms on the 2-core
 * dev VM.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#include "hotline/alloc.h"
#include "hotline/log.h"
#include "hotline/pg.h"

typedef struct {
    char *sql;
    int nparams;
    char **values;
} query_t;

struct hl_pg_req {
    hl_pg_result_fn on_result;
    hl_pg_done_fn on_done;
    void *arg;
    query_t *queries;
    int nqueries, capqueries;
    char *simple;
    hl_buf_t *copies;
    int ncopies, capcopies;
    hl_pg_req_t *next;
};

typedef enum { PG_DOWN, PG_CONNECTING, PG_SETUP, PG_READY } pg_state_t;

/* What the running request is waiting for. */
typedef enum { RUN_NONE, RUN_PIPELINE, RUN_SIMPLE, RUN_ROLLBACK } run_t;

struct hl_pg {
    hl_loop_t *loop;
    char *name, *conninfo, *setup_sql;
    int64_t reconnect_ms, timeout_ms;
    PGconn *conn;
    pg_state_t state;
    int handle;          /* loop handle of the socket, -1 if none */
    int fd;
    int reconnect_timer, timeout_timer;
    hl_pg_req_t *cur, *head, *tail;
    run_t run;
    int index;           /* result or query index within cur */
    int copy_next;       /* next COPY payload to send */
    bool ahead_want;     /* send COPY data ahead where the transport allows (default) */
    bool ahead_ok;       /* the transport allows it: no TLS or GSS encryption */
    bool ahead_sent;     /* cur's COPY data went ahead */
    hl_buf_t ahead;      /* COPY data being written ahead ... */
    size_t ahead_off;    /* ... and how much of it is written */
    int err_rc;          /* first error of cur */
    char err_msg[HL_ERR_LEN];
    bool in_process;     /* guards against re-entering process() */
    hl_pg_state_fn on_state;
    void *state_arg;
    hl_pg_notify_fn on_notify;
    void *notify_arg;
};

static void io_cb(hl_loop_t *loop, void *arg, short revents);
static void process(hl_pg_t *pg);
static void start_next(hl_pg_t *pg);

/* ---------------------------------------------------------------- requests */

hl_pg_req_t *hl_pg_req_new(hl_pg_result_fn on_result, hl_pg_done_fn on_done, void *arg)
{
    hl_pg_req_t *r = hl_calloc(1, sizeof *r);
    r->on_result = on_result;
    r->on_done = on_done;
    r->arg = arg;
    return r;
}

void hl_pg_req_free(hl_pg_req_t **req_p)
{
    hl_pg_req_t *r = *req_p;
    if (!r) return;
    for (int i = 0; i < r->nqueries; i++) {
        for (int j = 0; j < r->queries[i].nparams; j++) hl_free(r->queries[i].values[j]);
        hl_free(r->queries[i].values);
        hl_free(r->queries[i].sql);
    }
    hl_free(r->queries);
    hl_free(r->simple);
    for (int i = 0; i < r->ncopies; i++) hl_buf_free(&r->copies[i]);
    hl_free(r->copies);
    hl_free(r);
    *req_p = NULL;
}

void hl_pg_req_query(hl_pg_req_t *r, const char *sql, int nparams, const char *const *values)
{
    if (r->nqueries == r->capqueries) {
        r->capqueries = r->capqueries ? r->capqueries * 2 : 4;
        r->queries = hl_realloc(r->queries, (size_t)r->capqueries * sizeof *r->queries);
    }
    query_t *q = &r->queries[r->nqueries++];
    q->sql = hl_strdup(sql);
    q->nparams = nparams;
    q->values = nparams ? hl_calloc((size_t)nparams, sizeof(char *)) : NULL;
    for (int i = 0; i < nparams; i++) q->values[i] = hl_strdup(values[i]);
}

void hl_pg_req_simple(hl_pg_req_t *r, const char *sql)
{
    hl_free(r->simple);
    r->simple = hl_strdup(sql);
}

void hl_pg_req_copy(hl_pg_req_t *r, hl_buf_t *data)
{
    if (r->ncopies == r->capcopies) {
        r->capcopies = r->capcopies ? r->capcopies * 2 : 4;
        r->copies = hl_realloc(r->copies, (size_t)r->capcopies * sizeof *r->copies);
    }
    r->copies[r->ncopies++] = *data;
    *data = (hl_buf_t)HL_BUF_INIT;
}

/* ------------------------------------------------------------ blocking reads */

static _Thread_local bool rows_busy;

PGresult *hl_pg_rows(PGconn *pg, const char *what, const char *sql, int n, const char *const *params,
                     char err[HL_ERR_LEN])
{
    rows_busy = false;
    PGresult *res = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) return res;
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    rows_busy = !st || PQstatus(pg) != CONNECTION_OK || !strncmp(st, "57", 2) || !strncmp(st, "53", 2) ||
                !strncmp(st, "40", 2) || !strncmp(st, "08", 2);
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(pg);
    size_t len = strlen(msg);
    while (len && msg[len - 1] == '\n') len--;
    snprintf(err, HL_ERR_LEN, "%s: %.*s", what, (int)len, msg);
    PQclear(res);
    return NULL;
}

bool hl_pg_rows_busy(void)
{
    return rows_busy;
}

void hl_pg_text_array(hl_buf_t *out, const char *const *items, size_t n)
{
    hl_buf_putc(out, '{');
    for (size_t i = 0; i < n; i++) {
        if (i) hl_buf_putc(out, ',');
        if (!items[i]) {
            hl_buf_puts(out, "NULL");
            continue;
        }
        hl_buf_putc(out, '"');
        for (const char *p = items[i]; *p; p++) {
            if (*p == '"' || *p == '\\') hl_buf_putc(out, '\\');
            hl_buf_putc(out, *p);
        }
        hl_buf_putc(out, '"');
    }
    hl_buf_putc(out, '}');
}

/* -------------------------------------------------------------- connection */

hl_pg_t *hl_pg_new(hl_loop_t *loop, const char *name, const char *conninfo, const char *setup_sql,
                   int64_t reconnect_ms, int64_t request_timeout_ms)
{
    hl_pg_t *pg = hl_calloc(1, sizeof *pg);
    pg->loop = loop;
    pg->name = hl_strdup(name);
    pg->conninfo = hl_strdup(conninfo);
    pg->setup_sql = hl_strdup(setup_sql);
    pg->reconnect_ms = reconnect_ms;
    pg->timeout_ms = request_timeout_ms;
    pg->handle = -1;
    pg->fd = -1;
    pg->ahead_want = true;
    return pg;
}

void hl_pg_set_copy_ahead(hl_pg_t *pg, bool on)
{
    pg->ahead_want = on;
}

void hl_pg_on_state(hl_pg_t *pg, hl_pg_state_fn fn, void *arg)
{
    pg->on_state = fn;
    pg->state_arg = arg;
}

void hl_pg_on_notify(hl_pg_t *pg, hl_pg_notify_fn fn, void *arg)
{
    pg->on_notify = fn;
    pg->notify_arg = arg;
}

bool hl_pg_up(const hl_pg_t *pg)
{
    return pg->state == PG_READY;
}

bool hl_pg_idle(const hl_pg_t *pg)
{
    return pg->state == PG_READY && !pg->cur && !pg->head;
}

static bool ahead_pending(const hl_pg_t *pg)
{
    return pg->ahead_off < pg->ahead.len;
}

/* Forget the COPY data written ahead; keep up to 1 MiB of memory for the next. */
static void ahead_clear(hl_pg_t *pg)
{
    if (pg->ahead.cap > (1u << 20))
        hl_buf_free(&pg->ahead);
    else
        hl_buf_reset(&pg->ahead);
    pg->ahead_off = 0;
}

static void watch(hl_pg_t *pg, short events)
{
    int fd = PQsocket(pg->conn);
    if (fd != pg->fd && pg->handle >= 0) {
        hl_loop_remove(pg->loop, pg->handle);
        pg->handle = -1;
    }
    pg->fd = fd;
    if (fd < 0) return;
    if (pg->handle < 0)
        pg->handle = hl_loop_add_fd(pg->loop, fd, events, io_cb, pg);
    else
        hl_loop_set_events(pg->loop, pg->handle, events);
}

/* Finish the running request and hand it back to its owner. */
static void finish(hl_pg_t *pg, int rc, const char *msg)
{
    hl_pg_req_t *r = pg->cur;
    pg->cur = NULL;
    pg->run = RUN_NONE;
    pg->ahead_sent = false;
    ahead_clear(pg);
    hl_loop_cancel(pg->loop, pg->timeout_timer);
    pg->timeout_timer = 0;
    if (r && r->on_done) r->on_done(r->arg, rc, msg);
    hl_pg_req_free(&r);
}

static void fail_queue(hl_pg_t *pg, int rc, const char *msg)
{
    while (pg->head) {
        hl_pg_req_t *r = pg->head;
        pg->head = r->next;
        if (!pg->head) pg->tail = NULL;
        if (r->on_done) r->on_done(r->arg, rc, msg);
        hl_pg_req_free(&r);
    }
}

static void reconnect_cb(hl_loop_t *loop, void *arg);

/* Drop the connection: fail what runs and what waits, retry later. */
static void drop(hl_pg_t *pg, int rc, const char *why)
{
    bool was_up = pg->state == PG_READY;
    if (pg->state != PG_DOWN)
        hl_warn("postgres %s: %s; reconnecting in %lld ms", pg->name, why,
                (long long)pg->reconnect_ms);
    if (pg->handle >= 0) hl_loop_remove(pg->loop, pg->handle);
    pg->handle = -1;
    pg->fd = -1;
    if (pg->conn) PQfinish(pg->conn);
    pg->conn = NULL;
    pg->state = PG_DOWN;
    char msg[HL_ERR_LEN];
    snprintf(msg, sizeof msg, "postgres %s: %s", pg->name, why);
    if (pg->cur) finish(pg, rc, msg);
    fail_queue(pg, HL_EAGAIN, msg);
    if (!pg->reconnect_timer)
        pg->reconnect_timer = hl_loop_timer(pg->loop, pg->reconnect_ms, 0, reconnect_cb, pg);
    if (was_up && pg->on_state) pg->on_state(pg, pg->state_arg, false);
}

static void connect_poll(hl_pg_t *pg)
{
    switch (PQconnectPoll(pg->conn)) {
    case PGRES_POLLING_READING: watch(pg, ZMQ_POLLIN); return;
    case PGRES_POLLING_WRITING: watch(pg, ZMQ_POLLOUT); return;
    case PGRES_POLLING_OK: break;
    default: {
        char why[HL_ERR_LEN];
        snprintf(why, sizeof why, "connect failed: %s", PQerrorMessage(pg->conn));
        why[strcspn(why, "\n")] = '\0';
        drop(pg, HL_EIO, why);
        return;
    }
    }
    if (PQsetnonblocking(pg->conn, 1) != 0) {
        drop(pg, HL_EIO, "cannot set non-blocking mode");
        return;
    }
    pg->ahead_ok = !PQsslInUse(pg->conn) && !PQgssEncInUse(pg->conn);
    watch(pg, ZMQ_POLLIN);
    pg->state = PG_SETUP;
    if (!pg->setup_sql || !*pg->setup_sql || !PQsendQuery(pg->conn, pg->setup_sql)) {
        if (pg->setup_sql && *pg->setup_sql) {
            drop(pg, HL_EIO, "cannot send setup");
            return;
        }
        pg->state = PG_READY;
        hl_info("postgres %s: connected", pg->name);
        if (pg->on_state) pg->on_state(pg, pg->state_arg, true);
        start_next(pg);
        return;
    }
    process(pg);
}

static void reconnect_cb(hl_loop_t *loop, void *arg)
{
    (void)loop;
    hl_pg_t *pg = arg;
    pg->reconnect_timer = 0;
    hl_pg_start(pg);
}

void hl_pg_start(hl_pg_t *pg)
{
    if (pg->state != PG_DOWN) return;
    pg->conn = PQconnectStart(pg->conninfo);
    if (!pg->conn || PQstatus(pg->conn) == CONNECTION_BAD) {
        drop(pg, HL_EIO, pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
        return;
    }
    pg->state = PG_CONNECTING;
    connect_poll(pg);
}

void hl_pg_destroy(hl_pg_t **self_p)
{
    hl_pg_t *pg = *self_p;
    if (!pg) return;
    pg->on_state = NULL;
    if (pg->cur) finish(pg, HL_EAGAIN, "shutting down");
    fail_queue(pg, HL_EAGAIN, "shutting down");
    if (pg->handle >= 0) hl_loop_remove(pg->loop, pg->handle);
    hl_loop_cancel(pg->loop, pg->reconnect_timer);
    hl_loop_cancel(pg->loop, pg->timeout_timer);
    if (pg->conn) PQfinish(pg->conn);
    hl_buf_free(&pg->ahead);
    hl_free(pg->name);
    hl_free(pg->conninfo);
    hl_free(pg->setup_sql);
    hl_free(pg);
    *self_p = NULL;
}

/* ----------------------------------------------------------------- running */

static void timeout_cb(hl_loop_t *loop, void *arg)
{
    (void)loop;
    hl_pg_t *pg = arg;
    pg->timeout_timer = 0;
    if (pg->cur) drop(pg, HL_ETIMEDOUT, "request timed out");
}

/* Write COPY data sent ahead: 0 all written, 1 the socket is full, -1 error. */
static int write_ahead(hl_pg_t *pg)
{
    while (ahead_pending(pg)) {
        ssize_t n = send(PQsocket(pg->conn), pg->ahead.data + pg->ahead_off,
                         pg->ahead.len - pg->ahead_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
        }
        pg->ahead_off += (size_t)n;
    }
    ahead_clear(pg);
    return 0;
}

/* Send what libpq has buffered, then any COPY data sent ahead; watch for
 * writability while the socket takes no more. */
static void flush(hl_pg_t *pg)
{
    int rc = PQflush(pg->conn);
    if (rc == 0 && ahead_pending(pg)) rc = write_ahead(pg);
    if (rc < 0) {
        drop(pg, HL_EIO, "send failed");
        return;
    }
    watch(pg, rc ? (ZMQ_POLLIN | ZMQ_POLLOUT) : ZMQ_POLLIN);
}

static void put_msg_header(hl_buf_t *b, char type, size_t body_len)
{
    uint32_t len = htonl((uint32_t)(body_len + 4));
    hl_buf_putc(b, type);
    hl_buf_append(b, &len, 4);
}

/* The request's COPY payloads as CopyData and CopyDone messages (the
 * payloads themselves are freed: not needed any more). */
static void prepare_ahead(hl_pg_t *pg, hl_pg_req_t *r)
{
    for (int i = 0; i < r->ncopies; i++) {
        hl_buf_t *c = &r->copies[i];
        if (c->len) {
            put_msg_header(&pg->ahead, 'd', c->len);
            hl_buf_append(&pg->ahead, c->data, c->len);
        }
        put_msg_header(&pg->ahead, 'c', 0);
        hl_buf_free(c);
    }
    pg->ahead_off = 0;
    pg->ahead_sent = true;
}

static void start_next(hl_pg_t *pg)
{
    while (pg->state == PG_READY && !pg->cur && pg->head && !ahead_pending(pg)) {
        hl_pg_req_t *r = pg->head;
        pg->head = r->next;
        if (!pg->head) pg->tail = NULL;
        r->next = NULL;
        pg->cur = r;
        pg->index = 0;
        pg->copy_next = 0;
        pg->err_rc = 0;
        pg->err_msg[0] = '\0';
        int ok = 1;
        if (r->simple) {
            pg->run = RUN_SIMPLE;
            ok = PQsendQuery(pg->conn, r->simple);
            if (ok && r->ncopies && pg->ahead_want && pg->ahead_ok) prepare_ahead(pg, r);
        } else {
            pg->run = RUN_PIPELINE;
            ok = PQenterPipelineMode(pg->conn);
            for (int i = 0; ok && i < r->nqueries; i++) {
                const query_t *q = &r->queries[i];
                ok = PQsendQueryParams(pg->conn, q->sql, q->nparams, NULL,
                                       (const char *const *)q->values, NULL, NULL, 0);
            }
            ok = ok && PQpipelineSync(pg->conn);
        }
        if (!ok) {
            char why[HL_ERR_LEN];
            snprintf(why, sizeof why, "cannot send: %s", PQerrorMessage(pg->conn));
            drop(pg, HL_EIO, why);
            return;
        }
        if (pg->timeout_ms > 0)
            pg->timeout_timer = hl_loop_timer(pg->loop, pg->timeout_ms, 0, timeout_cb, pg);
        flush(pg);
    }
}

int hl_pg_submit(hl_pg_t *pg, hl_pg_req_t **req_p)
{
    hl_pg_req_t *r = *req_p;
    if (r->simple && r->nqueries) return HL_EINVAL;
    if (pg->state != PG_READY) return HL_EAGAIN;
    r->next = NULL;
    if (pg->tail)
        pg->tail->next = r;
    else
        pg->head = r;
    pg->tail = r;
    *req_p = NULL;
    if (!pg->in_process) start_next(pg);
    return 0;
}

static void record_error(hl_pg_t *pg, const PGresult *res)
{
    if (pg->err_rc) return;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    pg->err_rc = state && strcmp(state, "23505") == 0 ? HL_ECONFLICT : HL_EINVAL;
    const char *m = PQresultErrorMessage(res);
    snprintf(pg->err_msg, sizeof pg->err_msg, "%s", m && *m ? m : "SQL error");
    pg->err_msg[strcspn(pg->err_msg, "\n")] = '\0';
}

static void send_copy(hl_pg_t *pg)
{
    hl_pg_req_t *r = pg->cur;
    int rc;
    if (pg->ahead_sent) {
        /* The data went ahead, so this message reaches the server after all
         * of it: outside COPY, ignored; or, if the string has more COPYs
         * than payloads, in the first COPY without one, which it fails. */
        rc = PQputCopyEnd(pg->conn, "no data given for this COPY");
    } else if (pg->copy_next < r->ncopies) {
        hl_buf_t *b = &r->copies[pg->copy_next++];
        rc = b->len ? PQputCopyData(pg->conn, b->data, (int)b->len) : 1;
        if (rc == 1) rc = PQputCopyEnd(pg->conn, NULL);
    } else {
        rc = PQputCopyEnd(pg->conn, "no data given for this COPY");
    }
    if (rc != 1) {
        drop(pg, HL_EIO, "COPY send failed");
        return;
    }
    flush(pg);
}

/* The request's last result was read: clean up, roll back after an error,
 * then report. Leaves pg->conn NULL if the connection was dropped. */
static void request_end(hl_pg_t *pg)
{
    if (pg->run == RUN_PIPELINE) PQexitPipelineMode(pg->conn);
    PGTransactionStatusType ts = PQtransactionStatus(pg->conn);
    if (pg->err_rc && pg->run != RUN_ROLLBACK && (ts == PQTRANS_INERROR || ts == PQTRANS_INTRANS)) {
        /* Roll back before the owner hears of the failure, so a request it
         * submits from on_done starts outside the failed transaction. */
        if (!PQsendQuery(pg->conn, "ROLLBACK")) {
            drop(pg, HL_EIO, "cannot send ROLLBACK");
            return;
        }
        pg->run = RUN_ROLLBACK;
        flush(pg);
        return;
    }
    finish(pg, pg->err_rc, pg->err_rc ? pg->err_msg : NULL);
}

/* Read every result that is complete; stops when libpq would block. */
static void process(hl_pg_t *pg)
{
    if (pg->in_process) return;
    pg->in_process = true;
    while (pg->conn && !ahead_pending(pg) && PQisBusy(pg->conn) == 0) {
        if (PQstatus(pg->conn) == CONNECTION_BAD) {
            pg->in_process = false;
            drop(pg, HL_EIO, "connection lost");
            return;
        }
        if (pg->state == PG_SETUP) {
            PGresult *res = PQgetResult(pg->conn);
            if (res) {
                bool bad = PQresultStatus(res) == PGRES_FATAL_ERROR;
                char why[HL_ERR_LEN];
                snprintf(why, sizeof why, "setup failed: %s", PQresultErrorMessage(res));
                PQclear(res);
                if (bad) {
                    pg->in_process = false;
                    drop(pg, HL_EIO, why);
                    return;
                }
                continue;
            }
            pg->state = PG_READY;
            hl_info("postgres %s: connected", pg->name);
            if (pg->on_state) pg->on_state(pg, pg->state_arg, true);
            pg->in_process = false;
            start_next(pg);
            pg->in_process = true;
            continue;
        }
        if (!pg->cur) break;
        PGresult *res = PQgetResult(pg->conn);
        if (!res) {
            if (pg->run == RUN_PIPELINE) {
                /* End of one query's results; a Sync must follow the last. */
                if (++pg->index > pg->cur->nqueries) {
                    pg->in_process = false;
                    drop(pg, HL_EIO, "pipeline ended without Sync");
                    return;
                }
                continue;
            }
            request_end(pg); /* simple query or rollback: all results read */
            if (!pg->conn) break;
            pg->in_process = false;
            start_next(pg);
            pg->in_process = true;
            continue;
        }
        ExecStatusType st = PQresultStatus(res);
        if (pg->run == RUN_ROLLBACK) {
            PQclear(res);
            continue;
        }
        switch (st) {
        case PGRES_PIPELINE_SYNC:
            PQclear(res);
            request_end(pg);
            if (!pg->conn) goto out;
            pg->in_process = false;
            start_next(pg);
            pg->in_process = true;
            continue;
        case PGRES_COPY_IN:
            PQclear(res);
            send_copy(pg);
            if (!pg->conn) goto out;
            continue;
        case PGRES_FATAL_ERROR:
        case PGRES_BAD_RESPONSE:
            record_error(pg, res);
            break;
        case PGRES_PIPELINE_ABORTED:
            break;
        default:
            if (!pg->err_rc && pg->cur->on_result) pg->cur->on_result(pg->cur->arg, pg->index, res);
            break;
        }
        if (pg->run == RUN_SIMPLE) pg->index++;
        PQclear(res);
    }
out:
    pg->in_process = false;
}

static void notices(hl_pg_t *pg)
{
    PGnotify *n;
    while (pg->conn && (n = PQnotifies(pg->conn)) != NULL) {
        if (pg->on_notify) pg->on_notify(pg, pg->notify_arg, n->relname, n->extra);
        PQfreemem(n);
    }
}

static void io_cb(hl_loop_t *loop, void *arg, short revents)
{
    (void)loop;
    hl_pg_t *pg = arg;
    if (pg->state == PG_CONNECTING) {
        connect_poll(pg);
        return;
    }
    if (revents & ZMQ_POLLOUT) {
        bool was_ahead = ahead_pending(pg);
        flush(pg);
        if (!pg->conn) return;
        /* Results that came in while COPY data was written ahead. */
        if (was_ahead && !ahead_pending(pg)) process(pg);
    }
    if (revents & (ZMQ_POLLIN | ZMQ_POLLERR)) {
        if (!PQconsumeInput(pg->conn)) {
            char why[HL_ERR_LEN];
            snprintf(why, sizeof why, "connection lost: %s", PQerrorMessage(pg->conn));
            why[strcspn(why, "\n")] = '\0';
            drop(pg, HL_EIO, why);
            return;
        }
        notices(pg);
        process(pg);
        /* A notice read in the same packet as a result is parsed only once
         * that result has been taken; the socket will not wake us for it. */
        notices(pg);
    }
}
