/* loop.c - one event loop of the gateway: an HTTP daemon on the shared
 * listening socket and a ZeroMQ DEALER to the router, served by one thread.
 *
 * A request that needs the router is suspended by the HTTP callback, its
 * envelopes sent on this loop's DEALER, and the connection resumed by the
 * same thread when the answers are in (or the wait timed out): no locks, no
 * thread hand-overs on a request's path. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/map.h"
#include "hotline/pg.h"

#include "gateway.h"

#define HEALTH_EVERY_MS 1000
#define POLL_MAX_MS 100
/* Envelopes sent together: at most this many wait for the end of the
 * daemon's pass (a pass over hundreds of ready connections would otherwise
 * hold the first request back until the last one is parsed). */
#define SEND_BATCH 16

typedef struct call {
    struct call *tprev, *tnext;   /* by deadline (sending order) */
    gw_req_t *req;
    int slot;
    uint64_t rid;
    int64_t deadline_us;
} call_t;

struct gw_loop {
    gw_t *gw;
    int index;
    pthread_t th;
    bool started;
    struct MHD_Daemon *httpd;
    int epfd;                     /* the daemon's epoll descriptor */
    void *dealer;
    hl_map_t *pending;            /* rid -> call */
    call_t *t_head, *t_tail;
    struct {                      /* envelopes to send after the daemon's pass */
        call_t *call;
        hl_buf_t buf;
    } *out;
    size_t nout, capout;
    size_t inflight;              /* read by other threads (atomic) */
    size_t jobs;                  /* deferred work running (atomic) */
    int jobs_resumed;             /* a job resumed its connection: run the daemon twice (atomic) */
    int wake_fd;                  /* eventfd: a job's connection is resumed */
    uint64_t health_rid;
    int64_t next_health_ms;
    volatile int quiesce, stop;
    bool quiesced;
    bool resumed;                 /* a connection was resumed since the daemon last ran */
    hl_kbscratch_t kbs;           /* knowledge-base search memory */
    PGconn *pg;                   /* knowledge-base edits (gw_loop_pg) */
    int64_t pg_retry_ms;
};

/* ------------------------------------------------------------ calls */

static void unlink_t(gw_loop_t *l, call_t *c)
{
    if (c->tprev) c->tprev->tnext = c->tnext;
    else l->t_head = c->tnext;
    if (c->tnext) c->tnext->tprev = c->tprev;
    else l->t_tail = c->tprev;
    c->tprev = c->tnext = NULL;
}

/* The answer of a call (NULL: none came); resumes its request when it was
 * the last one awaited. */
static void complete(gw_loop_t *l, call_t *c, hl_envelope_t *ans)
{
    gw_req_t *r = c->req;
    r->ans[c->slot] = ans;
    r->timed_out[c->slot] = ans == NULL;
    hl_map_del(l->pending, (const char *)&c->rid, sizeof c->rid);
    unlink_t(l, c);
    __atomic_sub_fetch(&l->inflight, 1, __ATOMIC_RELAXED);
    hl_free(c);
    if (--r->outstanding == 0) {
        MHD_resume_connection(r->conn);
        l->resumed = true;
    }
}

/* Send what the daemon's pass submitted, back to back (SEND_BATCH at most):
 * ZeroMQ's I/O thread then wakes once for many (one per request, it woke for
 * each, and each wake-up cost system calls and a context switch). A failed
 * send completes its call "no answer", which resumes a connection the daemon
 * suspended before submitting. */
static void send_out(gw_loop_t *l)
{
    for (size_t i = 0; i < l->nout; i++) {
        int rc = zmq_send(l->dealer, l->out[i].buf.data, l->out[i].buf.len, ZMQ_DONTWAIT);
        hl_buf_free(&l->out[i].buf);
        if (rc < 0) complete(l, l->out[i].call, NULL); /* the queue to the router is full: "no answer" */
    }
    l->nout = 0;
}

void gw_loop_submit(gw_loop_t *l, gw_req_t *r)
{
    int64_t deadline = hl_mono_us() + l->gw->conf.gw_request_timeout_ms * 1000;
    int n = r->nstaged;
    r->outstanding = n;
    r->nstaged = 0;
    for (int i = 0; i < n; i++) {
        call_t *c = hl_calloc(1, sizeof *c);
        c->req = r;
        c->slot = i;
        c->rid = r->rids[i];
        c->deadline_us = deadline;
        hl_map_put(l->pending, (const char *)&c->rid, sizeof c->rid, c);
        c->tprev = l->t_tail;
        if (l->t_tail) l->t_tail->tnext = c;
        else l->t_head = c;
        l->t_tail = c;
        __atomic_add_fetch(&l->inflight, 1, __ATOMIC_RELAXED);
        if (l->stop) {
            hl_buf_free(&r->staged[i]);
            complete(l, c, NULL);
            continue;
        }
        if (l->nout == l->capout) {
            l->capout = l->capout ? l->capout * 2 : 64;
            l->out = hl_realloc(l->out, l->capout * sizeof *l->out);
        }
        l->out[l->nout].call = c;
        l->out[l->nout++].buf = r->staged[i]; /* moved */
        r->staged[i] = (hl_buf_t)HL_BUF_INIT;
    }
    if (l->nout >= SEND_BATCH) send_out(l);
}

/* ------------------------------------------------------------ deferred work */

/* Deferred work runs on at most gateway.report_workers threads at once
 * (each with a PostgreSQL connection), the rest waiting in order of arrival
 * (gw->job_head): a thread that finishes a job takes the next waiting one,
 * and ends when none waits. A waiting job holds only its HTTP connection,
 * which gateway.max_connections bounds. */
struct gw_job {
    gw_job_t *next;
    gw_loop_t *l;
    gw_req_t *r;
    gw_work_fn work;
};

/* The job's request answered: resume its connection in its loop. After
 * this the loop may stop, so j->l is not touched again. */
static void job_done(gw_job_t *j)
{
    gw_loop_t *l = j->l;
    /* The eventfd wakes the loop, whose first run of the daemon takes the
     * connection back and whose second answers it: the flag asks for both. */
    __atomic_store_n(&l->jobs_resumed, 1, __ATOMIC_RELEASE);
    MHD_resume_connection(j->r->conn);
    uint64_t one = 1;
    if (write(l->wake_fd, &one, sizeof one) < 0) { /* full: the loop is awake anyway */
    }
    __atomic_sub_fetch(&l->jobs, 1, __ATOMIC_RELEASE);
    hl_free(j);
}

/* The next waiting job (the caller's thread runs it), or NULL: one thread
 * fewer runs jobs, and its connection (*pg, if any) is left idle for the
 * next (*pg = NULL then). A thread takes an idle connection before it makes
 * one, so there are never more than gateway.report_workers, idle or not:
 * gw->job_idle (that many slots) always has room. */
static gw_job_t *job_next(gw_t *gw, PGconn **pg)
{
    pthread_mutex_lock(&gw->job_lock);
    gw_job_t *j = gw->job_head;
    if (j) {
        gw->job_head = j->next;
        if (!gw->job_head) gw->job_tail = NULL;
    } else {
        gw->jobs_running--;
        if (*pg && gw->njob_idle < (size_t)gw->conf.gw_report_workers) gw->job_idle[gw->njob_idle++] = *pg, *pg = NULL;
    }
    pthread_mutex_unlock(&gw->job_lock);
    if (!j && *pg) { /* no room (cannot happen, see above): closed, not leaked */
        PQfinish(*pg);
        *pg = NULL;
    }
    return j;
}

/* Runs j on pg (this thread's connection, or NULL), and returns the
 * connection to keep: a connection of its own, bounded (a report is never
 * worth more than a minute): this thread's, an idle one, or a new one. */
static PGconn *job_work(gw_job_t *j, PGconn *pg)
{
    gw_t *gw = j->l->gw;
    const hl_conf_t *conf = &gw->conf;
    if (!pg) {
        pthread_mutex_lock(&gw->job_lock);
        if (gw->njob_idle) pg = gw->job_idle[--gw->njob_idle];
        pthread_mutex_unlock(&gw->job_lock);
    }
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        PQfinish(pg);
        char opt[48];
        snprintf(opt, sizeof opt, "-c statement_timeout=%lld", (long long)conf->gw_report_timeout_ms);
        const char *keys[] = {"dbname", "options", NULL};
        const char *values[] = {conf->pg_conninfo, opt, NULL};
        pg = PQconnectdbParams(keys, values, 1);
        if (PQstatus(pg) != CONNECTION_OK) hl_warn("postgres: %s", PQerrorMessage(pg));
    }
    j->work(j->r, PQstatus(pg) == CONNECTION_OK ? pg : NULL);
    if (PQstatus(pg) != CONNECTION_OK || PQtransactionStatus(pg) != PQTRANS_IDLE) {
        PQfinish(pg);
        pg = NULL;
    }
    return pg;
}

static void *job_run(void *arg)
{
    gw_job_t *j = arg;
    gw_t *gw = j->l->gw;
    PGconn *pg = NULL;
    pthread_setname_np(pthread_self(), "gw-job");
    while (j) {
        if (gw->stopping) /* waited its turn: answered 503 now, not a report's time later */
            j->work(j->r, NULL);
        else
            pg = job_work(j, pg);
        gw_job_t *next = job_next(gw, &pg); /* before job_done: the gateway may stop after it */
        job_done(j);
        j = next;
    }
    return NULL;
}

void gw_jobs_init(gw_t *gw)
{
    pthread_mutex_init(&gw->job_lock, NULL);
    gw->job_idle = hl_calloc((size_t)gw->conf.gw_report_workers, sizeof *gw->job_idle);
}

void gw_jobs_free(gw_t *gw)
{
    for (size_t i = 0; i < gw->njob_idle; i++) PQfinish(gw->job_idle[i]);
    hl_free(gw->job_idle);
    gw->job_idle = NULL;
    gw->njob_idle = 0;
    pthread_mutex_destroy(&gw->job_lock);
}

void gw_loop_defer(gw_loop_t *l, gw_req_t *r)
{
    gw_t *gw = l->gw;
    gw_job_t *j = hl_calloc(1, sizeof *j);
    *j = (gw_job_t){NULL, l, r, r->work};
    r->work = NULL;
    __atomic_add_fetch(&l->jobs, 1, __ATOMIC_ACQUIRE);
    pthread_mutex_lock(&gw->job_lock);
    bool start = gw->jobs_running < gw->conf.gw_report_workers;
    if (start) {
        gw->jobs_running++;
    } else { /* a running thread takes it up */
        if (gw->job_tail) gw->job_tail->next = j;
        else gw->job_head = j;
        gw->job_tail = j;
    }
    pthread_mutex_unlock(&gw->job_lock);
    if (!start) return;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    if (pthread_create(&th, &a, job_run, j) != 0) {
        hl_error("loop %d: cannot start a thread for deferred work", l->index);
        /* Answered "unavailable", and so are the waiting jobs when no
         * thread is left to take them up. */
        gw_job_t *waiting = NULL;
        pthread_mutex_lock(&gw->job_lock);
        if (--gw->jobs_running == 0) {
            waiting = gw->job_head;
            gw->job_head = gw->job_tail = NULL;
        }
        pthread_mutex_unlock(&gw->job_lock);
        for (j->next = waiting; j;) {
            gw_job_t *next = j->next;
            j->work(j->r, NULL);
            job_done(j);
            j = next;
        }
    }
    pthread_attr_destroy(&a);
}

PGresult *gw_pg_rows(PGconn *pg, const char *what, const char *sql, int n, const char *const *params)
{
    char err[HL_ERR_LEN];
    PGresult *res = hl_pg_rows(pg, what, sql, n, params, err);
    if (!res) gw_pg_failed(pg, err);
    return res;
}

void gw_pg_failed(PGconn *pg, const char *err)
{
    if (PQstatus(pg) != CONNECTION_OK) return; /* gone: answered 503, as before a reconnect */
    if (hl_pg_rows_busy()) hl_warn("%s", err); /* timed out or busy: 503 */
    else hl_error("%s", err);
}

bool gw_pg_unavailable(PGconn *pg)
{
    return !pg || PQstatus(pg) != CONNECTION_OK || hl_pg_rows_busy();
}

void gw_reply_deferred(gw_req_t *r, json_t *out, bool unreachable, const char *what)
{
    if (out) {
        gw_reply_json(r, 200, out);
    } else if (unreachable) {
        gw_reply_error(r, 503, "unavailable", "%s cannot be read now; try again", what);
        gw_add_header(r, "Retry-After", "1");
    } else {
        gw_reply_error(r, 500, "internal", "%s could not be made", what);
    }
}

void gw_defer(gw_req_t *r, gw_work_fn work, gw_finish_fn finish)
{
    r->work = work;
    r->finish = finish;
}

static void recv_answers(gw_loop_t *l)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, l->dealer, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        hl_envelope_t *env = NULL;
        char err[HL_ERR_LEN];
        int rc = hl_envelope_unpack(zmq_msg_data(&m), zmq_msg_size(&m), 1 << 26, &env, NULL, err);
        zmq_msg_close(&m);
        if (rc || env->body_case != HOTLINE__ENVELOPE__BODY_ACK) {
            hl_envelope_free(&env);
            continue;
        }
        if (l->health_rid && env->request_id == l->health_rid) {
            if (env->ack->status == HOTLINE__STATUS__STATUS_OK)
                __atomic_store_n(&l->gw->health_ok_ms, hl_now_ms(), __ATOMIC_RELAXED);
            l->health_rid = 0;
            hl_envelope_free(&env);
            continue;
        }
        call_t *c = hl_map_get(l->pending, (const char *)&env->request_id, sizeof env->request_id);
        if (!c) {
            hl_envelope_free(&env); /* a late answer */
            continue;
        }
        complete(l, c, env);
    }
}

static void expire(gw_loop_t *l)
{
    int64_t now = hl_mono_us();
    while (l->t_head && l->t_head->deadline_us <= now) complete(l, l->t_head, NULL);
}

static void probe_health(gw_loop_t *l)
{
    int64_t now = hl_now_ms();
    if (now < l->next_health_ms) return;
    l->next_health_ms = now + HEALTH_EVERY_MS;
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    Hotline__Query q = HOTLINE__QUERY__INIT;
    q.kind = HOTLINE__QUERY_KIND__QUERY_HEALTH;
    env.schema = HL_SCHEMA_VERSION;
    env.request_id = l->health_rid = __atomic_add_fetch(&l->gw->rid_seq, 1, __ATOMIC_RELAXED);
    env.body_case = HOTLINE__ENVELOPE__BODY_QUERY;
    env.query = &q;
    hl_buf_t buf = HL_BUF_INIT;
    hl_envelope_pack(&env, &buf);
    (void)zmq_send(l->dealer, buf.data, buf.len, ZMQ_DONTWAIT);
    hl_buf_free(&buf);
}

/* How long zmq_poll may sleep: the daemon's next timeout, the next call's
 * deadline, the next health probe, POLL_MAX_MS at most. */
static long poll_ms(gw_loop_t *l)
{
    long ms = POLL_MAX_MS;
    MHD_UNSIGNED_LONG_LONG to;
    if (MHD_get_timeout(l->httpd, &to) == MHD_YES && (long long)to < ms) ms = (long)to;
    if (l->t_head) {
        long d = (long)((l->t_head->deadline_us - hl_mono_us()) / 1000) + 1;
        if (d < ms) ms = d < 0 ? 0 : d;
    }
    return ms;
}

static void *run(void *arg)
{
    gw_loop_t *l = arg;
    char name[16];
    snprintf(name, sizeof name, "gw-loop-%d", l->index);
    pthread_setname_np(pthread_self(), name);
    while (!l->stop) {
        if (l->quiesce && !l->quiesced) {
            (void)MHD_quiesce_daemon(l->httpd); /* the socket is the gateway's to close */
            l->quiesced = true;
        }
        l->resumed = false;
        MHD_run(l->httpd); /* new requests (which may send calls), resumed ones answered */
        send_out(l);
        recv_answers(l);
        expire(l);
        probe_health(l);
        /* The daemon takes resumed connections up when it runs next, and
         * its descriptor need not show them: run it again at once. */
        if (l->resumed || __atomic_exchange_n(&l->jobs_resumed, 0, __ATOMIC_ACQ_REL)) continue;
        zmq_pollitem_t items[3] = {{l->dealer, 0, ZMQ_POLLIN, 0}, {NULL, l->epfd, ZMQ_POLLIN, 0},
                                   {NULL, l->wake_fd, ZMQ_POLLIN, 0}};
        int polled = zmq_poll(items, 3, poll_ms(l));
        if (polled > 0 && (items[2].revents & ZMQ_POLLIN)) {
            uint64_t n;
            if (read(l->wake_fd, &n, sizeof n) < 0) { /* drained by another read */
            }
        }
        if (polled < 0 && errno != EINTR) {
            hl_error("loop %d: poll: %s", l->index, zmq_strerror(zmq_errno()));
            break;
        }
    }
    /* Whatever still waits is answered "no answer", and those answers
     * written out (best effort: a few rounds of the daemon). */
    while (l->t_head) complete(l, l->t_head, NULL);
    for (int i = 0; i < 3; i++) MHD_run(l->httpd);
    return NULL;
}

/* ------------------------------------------------------------ life */

gw_loop_t *gw_loop_start(gw_t *gw, int index, int listen_fd, char err[HL_ERR_LEN])
{
    gw_loop_t *l = hl_calloc(1, sizeof *l);
    l->gw = gw;
    l->index = index;
    l->epfd = -1;
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->pending = hl_map_new();
    if (l->wake_fd < 0) {
        snprintf(err, HL_ERR_LEN, "cannot make an eventfd: %s", strerror(errno));
        goto fail;
    }
    l->dealer = zmq_socket(gw->zctx, ZMQ_DEALER);
    int linger = 0, hwm = (int)gw->conf.zmq_hwm;
    zmq_setsockopt(l->dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(l->dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(l->dealer, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_connect(l->dealer, gw->conf.zmq_intake) != 0) {
        snprintf(err, HL_ERR_LEN, "cannot use the router endpoint %s: %s", gw->conf.zmq_intake,
                 zmq_strerror(zmq_errno()));
        goto fail;
    }
    l->httpd = gw_http_daemon(l, listen_fd, err);
    if (!l->httpd) goto fail;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(l->httpd, MHD_DAEMON_INFO_EPOLL_FD);
    if (!di) {
        snprintf(err, HL_ERR_LEN, "libmicrohttpd gave no epoll descriptor");
        goto fail;
    }
    l->epfd = di->epoll_fd;
    if (pthread_create(&l->th, NULL, run, l) != 0) {
        snprintf(err, HL_ERR_LEN, "cannot start an event loop thread");
        goto fail;
    }
    l->started = true;
    return l;
fail:
    gw_loop_stop(&l);
    return NULL;
}

void gw_loop_quiesce(gw_loop_t *l)
{
    if (l) l->quiesce = 1; /* taken up within POLL_MAX_MS */
}

size_t gw_loop_inflight(gw_loop_t *l)
{
    return l ? __atomic_load_n(&l->inflight, __ATOMIC_RELAXED) + __atomic_load_n(&l->jobs, __ATOMIC_ACQUIRE) : 0;
}

void gw_loop_stop(gw_loop_t **self_p)
{
    gw_loop_t *l = *self_p;
    if (!l) return;
    if (l->started) {
        /* Deferred work ends within its statement timeout; its connection
         * must be resumed before the daemon stops. */
        while (__atomic_load_n(&l->jobs, __ATOMIC_ACQUIRE)) usleep(10000);
        l->stop = 1;
        pthread_join(l->th, NULL);
    }
    /* No connection is suspended any more: every call was answered. The
     * listening socket is the gateway's (shared): taken back first, or the
     * daemon would close it. */
    if (l->httpd) {
        (void)MHD_quiesce_daemon(l->httpd);
        MHD_stop_daemon(l->httpd);
    }
    if (l->dealer) zmq_close(l->dealer);
    if (l->wake_fd >= 0) close(l->wake_fd);
    hl_map_destroy(&l->pending);
    for (size_t i = 0; i < l->nout; i++) hl_buf_free(&l->out[i].buf); /* none after run() */
    hl_free(l->out);
    hl_kbscratch_free(&l->kbs);
    if (l->pg) PQfinish(l->pg);
    hl_free(l);
    *self_p = NULL;
}

gw_t *gw_loop_gateway(gw_loop_t *l)
{
    return l->gw;
}

hl_kbscratch_t *gw_loop_kbscratch(gw_loop_t *l)
{
    return &l->kbs;
}

PGconn *gw_loop_pg(gw_loop_t *l, char err[HL_ERR_LEN])
{
    if (l->pg && PQstatus(l->pg) == CONNECTION_OK) return l->pg;
    if (l->pg) PQfinish(l->pg);
    l->pg = NULL;
    int64_t now = hl_now_ms();
    if (now < l->pg_retry_ms) {
        snprintf(err, HL_ERR_LEN, "PostgreSQL is not reachable");
        return NULL;
    }
    l->pg = PQconnectdb(l->gw->conf.pg_conninfo);
    if (PQstatus(l->pg) != CONNECTION_OK) {
        snprintf(err, HL_ERR_LEN, "PostgreSQL is not reachable");
        hl_warn("postgres: %s", PQerrorMessage(l->pg));
        PQfinish(l->pg);
        l->pg = NULL;
        l->pg_retry_ms = now + l->gw->conf.pg_reconnect_ms;
        return NULL;
    }
    return l->pg;
}
