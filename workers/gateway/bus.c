/* bus.c - the gateway's bus thread: envelopes to the router, answers back,
 * health probes, and the PostgreSQL connection for tokens and names. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/map.h"

#include "gateway.h"

#define HEALTH_EVERY_MS 1000
#define HEALTHY_FOR_MS 5000   /* ready while the last health answer is this recent */
#define RELOAD_EVERY_MS 60000 /* tokens expire by time too */

typedef struct call {
    struct call *next;            /* the submission queue */
    struct call *tprev, *tnext;   /* by deadline (submission order) */
    gw_req_t *req;
    int slot;
    hl_buf_t data;
    uint64_t rid;
    int64_t deadline_us;
} call_t;

struct gw_bus {
    gw_t *gw;
    pthread_t th;
    bool started;
    void *zctx, *dealer;
    int efd;
    pthread_mutex_t lock;
    call_t *in_head, *in_tail;    /* submitted, not yet sent */
    hl_map_t *pending;            /* rid -> call */
    call_t *t_head, *t_tail;
    size_t inflight;
    PGconn *pg;
    int64_t pg_retry_ms, next_reload_ms;
    volatile int stop;
    volatile int64_t health_ok_ms;
    volatile int tokens_loaded;
    uint64_t health_rid;
    int64_t next_health_ms;
};

/* ------------------------------------------------------------ PostgreSQL */

static void pg_connect(gw_bus_t *b)
{
    if (b->pg && PQstatus(b->pg) == CONNECTION_OK) return;
    int64_t now = hl_now_ms();
    if (now < b->pg_retry_ms) return;
    if (b->pg) PQfinish(b->pg);
    b->pg = PQconnectdb(b->gw->conf.pg_conninfo);
    if (PQstatus(b->pg) != CONNECTION_OK) {
        hl_warn("postgres: %s", PQerrorMessage(b->pg));
        PQfinish(b->pg);
        b->pg = NULL;
        b->pg_retry_ms = now + b->gw->conf.pg_reconnect_ms;
        return;
    }
    PQclear(PQexec(b->pg, "LISTEN hotline_tokens"));
    PQclear(PQexec(b->pg, "LISTEN hotline_reference"));
    b->next_reload_ms = 0; /* load at once */
}

static void reload(gw_bus_t *b, bool tokens, bool names)
{
    char err[HL_ERR_LEN];
    if (tokens) {
        if (gw_auth_load(b->gw->auth, b->pg, err) != 0) {
            hl_warn("%s", err);
        } else {
            if (!b->tokens_loaded) hl_info("tokens loaded: %zu", gw_auth_count(b->gw->auth));
            b->tokens_loaded = 1;
        }
    }
    if (names) {
        gw_refs_t *r = gw_refs_load(b->pg, err);
        if (r) gw_refs_swap(b->gw, r);
        else hl_warn("%s", err);
    }
    if (PQstatus(b->pg) != CONNECTION_OK) {
        PQfinish(b->pg);
        b->pg = NULL;
    }
}

static void pg_poll(gw_bus_t *b)
{
    if (!b->pg) return;
    if (!PQconsumeInput(b->pg)) {
        hl_warn("postgres: %s", PQerrorMessage(b->pg));
        PQfinish(b->pg);
        b->pg = NULL;
        return;
    }
    bool tokens = false, names = false;
    PGnotify *n;
    while ((n = PQnotifies(b->pg)) != NULL) {
        if (strcmp(n->relname, "hotline_tokens") == 0) tokens = true;
        else names = true;
        PQfreemem(n);
    }
    if (tokens || names) reload(b, tokens, names);
}

/* ------------------------------------------------------------ calls */

static void unlink_t(gw_bus_t *b, call_t *c)
{
    if (c->tprev) c->tprev->tnext = c->tnext;
    else b->t_head = c->tnext;
    if (c->tnext) c->tnext->tprev = c->tprev;
    else b->t_tail = c->tprev;
    c->tprev = c->tnext = NULL;
}

/* The answer of a call (NULL: none came); resumes its request when it was
 * the last one awaited. */
static void complete(gw_bus_t *b, call_t *c, hl_envelope_t *ans)
{
    gw_req_t *r = c->req;
    r->ans[c->slot] = ans;
    r->timed_out[c->slot] = ans == NULL;
    hl_map_del(b->pending, (const char *)&c->rid, sizeof c->rid);
    unlink_t(b, c);
    b->inflight--;
    hl_buf_free(&c->data);
    hl_free(c);
    if (--r->outstanding == 0) MHD_resume_connection(r->conn);
}

static void send_calls(gw_bus_t *b)
{
    pthread_mutex_lock(&b->lock);
    call_t *c = b->in_head;
    b->in_head = b->in_tail = NULL;
    pthread_mutex_unlock(&b->lock);
    int64_t deadline = hl_mono_us() + b->gw->conf.gw_request_timeout_ms * 1000;
    while (c) {
        call_t *next = c->next;
        c->deadline_us = deadline;
        hl_map_put(b->pending, (const char *)&c->rid, sizeof c->rid, c);
        c->tprev = b->t_tail;
        c->tnext = NULL;
        if (b->t_tail) b->t_tail->tnext = c;
        else b->t_head = c;
        b->t_tail = c;
        b->inflight++;
        if (zmq_send(b->dealer, c->data.data, c->data.len, ZMQ_DONTWAIT) < 0) complete(b, c, NULL);
        c = next;
    }
}

static void recv_answers(gw_bus_t *b)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, b->dealer, ZMQ_DONTWAIT) < 0) {
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
        if (b->health_rid && env->request_id == b->health_rid) {
            if (env->ack->status == HOTLINE__STATUS__STATUS_OK) b->health_ok_ms = hl_now_ms();
            b->health_rid = 0;
            hl_envelope_free(&env);
            continue;
        }
        call_t *c = hl_map_get(b->pending, (const char *)&env->request_id, sizeof env->request_id);
        if (!c) {
            hl_envelope_free(&env); /* a late answer */
            continue;
        }
        complete(b, c, env);
    }
}

static void expire(gw_bus_t *b)
{
    int64_t now = hl_mono_us();
    while (b->t_head && b->t_head->deadline_us <= now) complete(b, b->t_head, NULL);
}

static void probe_health(gw_bus_t *b)
{
    int64_t now = hl_now_ms();
    if (now < b->next_health_ms) return;
    b->next_health_ms = now + HEALTH_EVERY_MS;
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    Hotline__Query q = HOTLINE__QUERY__INIT;
    q.kind = HOTLINE__QUERY_KIND__QUERY_HEALTH;
    env.schema = HL_SCHEMA_VERSION;
    env.request_id = b->health_rid = __atomic_add_fetch(&b->gw->rid_seq, 1, __ATOMIC_RELAXED);
    env.body_case = HOTLINE__ENVELOPE__BODY_QUERY;
    env.query = &q;
    hl_buf_t buf = HL_BUF_INIT;
    hl_envelope_pack(&env, &buf);
    (void)zmq_send(b->dealer, buf.data, buf.len, ZMQ_DONTWAIT);
    hl_buf_free(&buf);
}

static void *run(void *arg)
{
    gw_bus_t *b = arg;
    while (!b->stop) {
        pg_connect(b);
        zmq_pollitem_t items[3] = {{b->dealer, 0, ZMQ_POLLIN, 0}, {NULL, b->efd, ZMQ_POLLIN, 0},
                                   {NULL, -1, ZMQ_POLLIN, 0}};
        int n = 2;
        if (b->pg) items[n++].fd = PQsocket(b->pg);
        if (zmq_poll(items, n, 100) < 0 && errno != EINTR) break;
        if (items[1].revents & ZMQ_POLLIN) {
            uint64_t v;
            if (read(b->efd, &v, sizeof v) < 0 && errno != EAGAIN) hl_warn("eventfd: %s", strerror(errno));
        }
        send_calls(b);
        recv_answers(b);
        expire(b);
        probe_health(b);
        if (n == 3 && (items[2].revents & ZMQ_POLLIN)) pg_poll(b);
        if (b->pg && hl_now_ms() >= b->next_reload_ms) {
            reload(b, true, b->next_reload_ms == 0);
            b->next_reload_ms = hl_now_ms() + RELOAD_EVERY_MS;
        }
    }
    /* Whatever still waits is answered "no answer". */
    send_calls(b);
    while (b->t_head) complete(b, b->t_head, NULL);
    return NULL;
}

gw_bus_t *gw_bus_start(gw_t *gw, char err[HL_ERR_LEN])
{
    gw_bus_t *b = hl_calloc(1, sizeof *b);
    b->gw = gw;
    pthread_mutex_init(&b->lock, NULL);
    b->pending = hl_map_new();
    b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    b->zctx = zmq_ctx_new();
    b->dealer = zmq_socket(b->zctx, ZMQ_DEALER);
    int linger = 0, hwm = (int)gw->conf.zmq_hwm;
    zmq_setsockopt(b->dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(b->dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(b->dealer, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (b->efd < 0 || zmq_connect(b->dealer, gw->conf.zmq_intake) != 0) {
        snprintf(err, HL_ERR_LEN, "cannot use the router endpoint %s: %s", gw->conf.zmq_intake,
                 zmq_strerror(zmq_errno()));
        gw_bus_stop(&b);
        return NULL;
    }
    if (pthread_create(&b->th, NULL, run, b) != 0) {
        snprintf(err, HL_ERR_LEN, "cannot start the bus thread");
        gw_bus_stop(&b);
        return NULL;
    }
    b->started = true;
    return b;
}

void gw_bus_halt(gw_bus_t *b)
{
    if (!b || !b->started) return;
    pthread_mutex_lock(&b->lock);
    b->stop = 1;
    pthread_mutex_unlock(&b->lock);
    uint64_t one = 1;
    if (write(b->efd, &one, sizeof one) < 0) hl_warn("eventfd: %s", strerror(errno));
    pthread_join(b->th, NULL);
    b->started = false;
}

void gw_bus_stop(gw_bus_t **self_p)
{
    gw_bus_t *b = *self_p;
    if (!b) return;
    gw_bus_halt(b);
    if (b->dealer) zmq_close(b->dealer);
    if (b->zctx) zmq_ctx_term(b->zctx);
    if (b->efd >= 0) close(b->efd);
    if (b->pg) PQfinish(b->pg);
    hl_map_destroy(&b->pending);
    pthread_mutex_destroy(&b->lock);
    hl_free(b);
    *self_p = NULL;
}

void gw_bus_submit(gw_bus_t *b, gw_req_t *r)
{
    call_t *first = NULL, *last = NULL;
    r->outstanding = r->nstaged;
    for (int i = 0; i < r->nstaged; i++) {
        call_t *c = hl_calloc(1, sizeof *c);
        c->req = r;
        c->slot = i;
        c->rid = r->rids[i];
        c->data = r->staged[i];
        memset(&r->staged[i], 0, sizeof r->staged[i]);
        if (last) last->next = c;
        else first = c;
        last = c;
    }
    r->nstaged = 0;
    pthread_mutex_lock(&b->lock);
    bool halted = b->stop;
    if (!halted) {
        if (b->in_tail) b->in_tail->next = first;
        else b->in_head = first;
        b->in_tail = last;
    }
    pthread_mutex_unlock(&b->lock);
    if (halted) {
        /* No bus any more: "no answer" at once (the connection is suspended). */
        for (call_t *c = first, *next; c; c = next) {
            next = c->next;
            r->timed_out[c->slot] = true;
            hl_buf_free(&c->data);
            hl_free(c);
        }
        r->outstanding = 0;
        MHD_resume_connection(r->conn);
        return;
    }
    uint64_t one = 1;
    if (write(b->efd, &one, sizeof one) < 0) hl_warn("eventfd: %s", strerror(errno));
}

bool gw_bus_ready(gw_bus_t *b)
{
    return b->tokens_loaded && hl_now_ms() - b->health_ok_ms < HEALTHY_FOR_MS;
}

size_t gw_bus_inflight(gw_bus_t *b)
{
    return b->inflight;
}
