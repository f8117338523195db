/* client.c - the client library: requests to the router, the unit queue. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "hotline/alloc.h"
#include "hotline/buf.h"
#include "hotline/client.h"
#include "hotline/clock.h"
#include "hotline/queue.h"

#define GROUP "hotline"

struct hl_client {
    void *zctx, *sock;
    redisContext *redis;
    char *role, *unit, *actor_id, *consumer;
    char key[96];          /* hl:q:<unit> */
    int timeout_ms, retries;
    int64_t claim_idle_ms;
    uint64_t next_request;
    uint64_t key_counter;
    hl_buf_t buf;
};

void hl_client_destroy(hl_client_t **self_p)
{
    hl_client_t *c = *self_p;
    if (!c) return;
    if (c->sock) zmq_close(c->sock);
    if (c->zctx) zmq_ctx_term(c->zctx);
    if (c->redis) redisFree(c->redis);
    hl_free(c->role);
    hl_free(c->unit);
    hl_free(c->actor_id);
    hl_free(c->consumer);
    hl_buf_free(&c->buf);
    hl_free(c);
    *self_p = NULL;
}

static bool redis_ok(redisReply *r)
{
    return r && r->type != REDIS_REPLY_ERROR;
}

hl_client_t *hl_client_new(const hl_client_opts_t *o, char err[HL_ERR_LEN])
{
    hl_client_t *c = hl_calloc(1, sizeof *c);
    c->role = hl_strdup(o->role ? o->role : "unit");
    c->unit = hl_strdup(o->unit ? o->unit : "");
    c->actor_id = hl_strdup(o->actor_id ? o->actor_id : "");
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    c->retries = o->retries > 0 ? o->retries : 3;
    c->claim_idle_ms = o->claim_idle_ms > 0 ? o->claim_idle_ms : 60000;
    char host[64] = "client";
    gethostname(host, sizeof host - 1);
    c->consumer = hl_strdup(o->consumer && *o->consumer ? o->consumer : host);
    c->next_request = ((uint64_t)hl_now_ms() << 16) ^ (uint64_t)getpid();
    c->zctx = zmq_ctx_new();
    c->sock = zmq_socket(c->zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (!o->router || zmq_connect(c->sock, o->router) != 0) {
        snprintf(err, HL_ERR_LEN, "cannot use router endpoint '%s': %s", o->router ? o->router : "",
                 zmq_strerror(errno));
        hl_client_destroy(&c);
        return NULL;
    }
    if (o->redis_host) {
        struct timeval tv = {5, 0};
        c->redis = redisConnectWithTimeout(o->redis_host, o->redis_port, tv);
        if (!c->redis || c->redis->err) {
            snprintf(err, HL_ERR_LEN, "redis %s:%d: %s", o->redis_host, o->redis_port,
                     c->redis ? c->redis->errstr : "out of memory");
            hl_client_destroy(&c);
            return NULL;
        }
        const char *q = o->queue && *o->queue ? o->queue : c->unit;
        if (!*q) {
            snprintf(err, HL_ERR_LEN, "no queue to read: name a unit or a queue");
            hl_client_destroy(&c);
            return NULL;
        }
        snprintf(c->key, sizeof c->key, HL_QUEUE_PREFIX "%s", q);
        redisReply *r = redisCommand(c->redis, "XGROUP CREATE %s " GROUP " 0 MKSTREAM", c->key);
        bool ok = r && (r->type != REDIS_REPLY_ERROR || strstr(r->str, "BUSYGROUP"));
        if (!ok) snprintf(err, HL_ERR_LEN, "redis: cannot make the consumer group: %s", r ? r->str : c->redis->errstr);
        if (r) freeReplyObject(r);
        if (!ok) {
            hl_client_destroy(&c);
            return NULL;
        }
    }
    return c;
}

/* ------------------------------------------------------------ the queue */

static void copy_field(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static void fill_msg(hl_queue_msg_t *m, redisReply *entry, bool redelivered)
{
    memset(m, 0, sizeof *m);
    copy_field(m->id, sizeof m->id, entry->element[0]->str);
    m->redelivered = redelivered;
    redisReply *f = entry->element[1];
    for (size_t j = 0; f && j + 1 < f->elements; j += 2) {
        const char *k = f->element[j]->str, *v = f->element[j + 1]->str;
        if (!strcmp(k, "kind")) copy_field(m->kind, sizeof m->kind, v);
        else if (!strcmp(k, "event")) copy_field(m->event, sizeof m->event, v);
        else if (!strcmp(k, "role")) copy_field(m->role, sizeof m->role, v);
        else if (!strcmp(k, "ticket")) copy_field(m->ticket, sizeof m->ticket, v);
        else if (!strcmp(k, "state")) copy_field(m->state, sizeof m->state, v);
        else if (!strcmp(k, "category")) copy_field(m->category, sizeof m->category, v);
        else if (!strcmp(k, "urgency")) copy_field(m->urgency, sizeof m->urgency, v);
        else if (!strcmp(k, "type")) copy_field(m->type, sizeof m->type, v);
        else if (!strcmp(k, "region")) copy_field(m->region, sizeof m->region, v);
        else if (!strcmp(k, "sign_due")) m->sign_due = strtoll(v, NULL, 10);
        else if (!strcmp(k, "contact_due")) m->contact_due = strtoll(v, NULL, 10);
        else if (!strcmp(k, "reply_due")) m->reply_due = strtoll(v, NULL, 10);
        else if (!strcmp(k, "version")) m->version = strtoll(v, NULL, 10);
    }
}

/* The first entry of an XREADGROUP reply, or NULL. */
static redisReply *first_entry(redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) return NULL;
    redisReply *stream = r->element[0];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements < 2) return NULL;
    redisReply *entries = stream->element[1];
    if (entries->type != REDIS_REPLY_ARRAY || entries->elements == 0) return NULL;
    redisReply *e = entries->element[0];
    /* A deleted entry still pending shows as an id with no fields. */
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[1]->type != REDIS_REPLY_ARRAY) return NULL;
    return e;
}

int hl_client_next(hl_client_t *c, hl_queue_msg_t *msg, int block_ms, char err[HL_ERR_LEN])
{
    if (!c->redis) {
        snprintf(err, HL_ERR_LEN, "this client has no queue (no redis)");
        return HL_EINVAL;
    }
    /* 1. Our own pending entries: read before a crash and never acked. */
    redisReply *r = redisCommand(c->redis, "XREADGROUP GROUP " GROUP " %s COUNT 1 STREAMS %s 0", c->consumer, c->key);
    if (!redis_ok(r)) goto io;
    redisReply *e = first_entry(r);
    if (e) {
        fill_msg(msg, e, true);
        freeReplyObject(r);
        return 1;
    }
    freeReplyObject(r);
    /* 2. Entries of consumers gone quiet for claim_idle_ms. */
    r = redisCommand(c->redis, "XAUTOCLAIM %s " GROUP " %s %lld 0-0 COUNT 1", c->key, c->consumer,
                     (long long)c->claim_idle_ms);
    if (!redis_ok(r)) goto io;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && r->element[1]->type == REDIS_REPLY_ARRAY &&
        r->element[1]->elements > 0) {
        redisReply *ce = r->element[1]->element[0];
        if (ce->type == REDIS_REPLY_ARRAY && ce->elements >= 2 && ce->element[1]->type == REDIS_REPLY_ARRAY) {
            fill_msg(msg, ce, true);
            freeReplyObject(r);
            return 1;
        }
    }
    freeReplyObject(r);
    /* 3. New entries. */
    if (block_ms > 0)
        r = redisCommand(c->redis, "XREADGROUP GROUP " GROUP " %s COUNT 1 BLOCK %d STREAMS %s >", c->consumer,
                         block_ms, c->key);
    else
        r = redisCommand(c->redis, "XREADGROUP GROUP " GROUP " %s COUNT 1 STREAMS %s >", c->consumer, c->key);
    if (!r || r->type == REDIS_REPLY_ERROR) goto io;
    e = first_entry(r);
    if (e) fill_msg(msg, e, false);
    freeReplyObject(r);
    return e ? 1 : 0;
io:
    snprintf(err, HL_ERR_LEN, "redis: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : c->redis->errstr);
    if (r) freeReplyObject(r);
    return HL_EIO;
}

int hl_client_ack(hl_client_t *c, const char *id, char err[HL_ERR_LEN])
{
    if (!c->redis) return HL_EINVAL;
    /* Acked, the entry is deleted too (one round trip): a stream holds what
     * is still to be handled, not every ticket the unit ever had. */
    int rc = 0, sent = 0;
    if (redisAppendCommand(c->redis, "XACK %s " GROUP " %s", c->key, id) == REDIS_OK) {
        sent++;
        if (redisAppendCommand(c->redis, "XDEL %s %s", c->key, id) == REDIS_OK) sent++;
    }
    if (sent < 2) {
        /* Out of memory while formatting: read what was sent, so the
         * connection stays in step, and report the ack as failed. */
        snprintf(err, HL_ERR_LEN, "redis: %s", c->redis->errstr[0] ? c->redis->errstr : "out of memory");
        rc = HL_EIO;
    }
    for (int i = 0; i < sent; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c->redis, (void **)&r) != REDIS_OK) {
            snprintf(err, HL_ERR_LEN, "redis: %s", c->redis->errstr);
            return HL_EIO;
        }
        if (!redis_ok(r) && rc == 0) {
            snprintf(err, HL_ERR_LEN, "redis: %s", r ? r->str : "no reply");
            rc = HL_EIO;
        }
        if (r) freeReplyObject(r);
    }
    return rc;
}

/* ------------------------------------------------------------ requests */

static Hotline__Actor *actor(hl_client_t *c, Hotline__Actor *a)
{
    hotline__actor__init(a);
    a->role = c->role;
    a->unit = c->unit;
    a->id = c->actor_id;
    return a;
}

/* Send env and wait for the answer with its request id; retry on TRY_LATER
 * or silence. */
static int request(hl_client_t *c, Hotline__Envelope *env, hl_envelope_t **answer, char err[HL_ERR_LEN])
{
    *answer = NULL;
    env->schema = HL_SCHEMA_VERSION;
    env->request_id = ++c->next_request;
    hl_buf_reset(&c->buf);
    hl_envelope_pack(env, &c->buf);
    for (int attempt = 0; attempt <= c->retries; attempt++) {
        if (zmq_send(c->sock, c->buf.data, c->buf.len, 0) < 0) {
            snprintf(err, HL_ERR_LEN, "bus: %s", zmq_strerror(errno));
            return HL_EIO;
        }
        int64_t deadline = hl_mono_us() + (int64_t)c->timeout_ms * 1000;
        for (;;) {
            int64_t left = (deadline - hl_mono_us()) / 1000;
            if (left <= 0) break;
            zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLIN, 0};
            if (zmq_poll(&it, 1, (long)left) <= 0) continue;
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, c->sock, 0) < 0) {
                zmq_msg_close(&m);
                continue;
            }
            hl_envelope_t *got = NULL;
            char why[HL_ERR_LEN];
            int rc = hl_envelope_unpack(zmq_msg_data(&m), zmq_msg_size(&m), 1 << 26, &got, NULL, why);
            zmq_msg_close(&m);
            if (rc || got->body_case != HOTLINE__ENVELOPE__BODY_ACK || got->request_id != env->request_id) {
                hl_envelope_free(&got); /* a late answer to an earlier request */
                continue;
            }
            if (got->ack->status == HOTLINE__STATUS__STATUS_TRY_LATER && attempt < c->retries) {
                unsigned wait = got->ack->retry_after_ms ? got->ack->retry_after_ms : 200;
                hl_envelope_free(&got);
                usleep((wait > 2000 ? 2000 : wait) * 1000);
                break;
            }
            *answer = got;
            return 0;
        }
    }
    snprintf(err, HL_ERR_LEN, "no answer from the router after %d attempt(s)", c->retries + 1);
    return HL_ETIMEDOUT;
}

int hl_client_act(hl_client_t *c, const char *ticket, hl_action_t kind, const hl_client_act_t *args,
                  hl_envelope_t **answer, char err[HL_ERR_LEN])
{
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    Hotline__Action a = HOTLINE__ACTION__INIT;
    Hotline__Actor who;
    char key[128];
    a.ticket = (char *)ticket;
    a.kind = kind;
    a.actor = actor(c, &who);
    if (args && args->reason_code) a.reason_code = (char *)args->reason_code;
    if (args && args->reason) a.reason = (char *)args->reason;
    if (args) a.expected_version = args->expected_version;
    if (args && args->idempotency_key) {
        a.idempotency_key = (char *)args->idempotency_key;
    } else {
        snprintf(key, sizeof key, "c-%s-%" PRIx64 "-%" PRIu64, *c->unit ? c->unit : c->role, c->next_request,
                 ++c->key_counter);
        a.idempotency_key = key;
    }
    size_t n = args ? args->npayload : 0;
    Hotline__Action__PayloadEntry *entries = n ? hl_calloc(n, sizeof *entries) : NULL;
    Hotline__Action__PayloadEntry **ptrs = n ? hl_calloc(n, sizeof *ptrs) : NULL;
    for (size_t i = 0; i < n; i++) {
        hotline__action__payload_entry__init(&entries[i]);
        entries[i].key = (char *)args->keys[i];
        entries[i].value = (char *)args->values[i];
        ptrs[i] = &entries[i];
    }
    a.n_payload = n;
    a.payload = ptrs;
    env.body_case = HOTLINE__ENVELOPE__BODY_ACTION;
    env.action = &a;
    int rc = request(c, &env, answer, err);
    hl_free(entries);
    hl_free(ptrs);
    return rc;
}

int hl_client_get(hl_client_t *c, const char *ticket, const char *reveal_reason, hl_envelope_t **answer,
                  char err[HL_ERR_LEN])
{
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    Hotline__Query q = HOTLINE__QUERY__INIT;
    Hotline__Actor who;
    q.kind = HOTLINE__QUERY_KIND__QUERY_GET;
    q.actor = actor(c, &who);
    q.ticket = (char *)ticket;
    if (reveal_reason) q.reveal_reason = (char *)reveal_reason;
    env.body_case = HOTLINE__ENVELOPE__BODY_QUERY;
    env.query = &q;
    return request(c, &env, answer, err);
}

int hl_client_list(hl_client_t *c, const char *unit, const char *state, int limit, int64_t before,
                   hl_envelope_t **answer, char err[HL_ERR_LEN])
{
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    Hotline__Query q = HOTLINE__QUERY__INIT;
    Hotline__Actor who;
    q.kind = HOTLINE__QUERY_KIND__QUERY_LIST;
    q.actor = actor(c, &who);
    q.unit = (char *)(unit ? unit : "");
    q.state = (char *)(state ? state : "");
    q.limit = limit;
    q.before = before;
    env.body_case = HOTLINE__ENVELOPE__BODY_QUERY;
    env.query = &q;
    return request(c, &env, answer, err);
}
