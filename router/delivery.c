/* delivery.c - a committed write batch's stream writes.
 *
 * Batches of intakes (batch.c) and of actions (action.c) end the same way:
 * once committed, their new stream entries are XADDed (pipelined), and the
 * batch completes when every reply is in. While replies are due the batch is
 * on r->delivering, where the watchdog finds one that waited longer than
 * redis.timeout_ms: it resets the Redis connection, every outstanding command
 * is answered NULL, and the batches complete as not delivered (the outbox
 * sweep sends their tickets later).
 */
#include "hotline/clock.h"

#include "router_int.h"

void hl__delivery_form(delivery_t *d, router_t *r, int64_t oldest_us)
{
    d->r = r;
    d->formed_us = hl__router_stage(r, HL_STAGE_WAIT, oldest_us);
}

void hl__delivery_begin(delivery_t *d, void (*done)(delivery_t *d))
{
    router_t *r = d->r;
    d->done = done;
    d->committed_us = hl__router_stage(r, HL_STAGE_STORE, d->formed_us);
    d->outstanding = 0;
    d->failed = !hl_redis_up(r->redis);
}

static void unlink_delivering(delivery_t *d)
{
    for (delivery_t **pp = &d->r->delivering; *pp; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            return;
        }
    }
}

static void reply_cb(redisAsyncContext *c, void *reply, void *privdata)
{
    (void)c;
    delivery_t *d = privdata;
    const redisReply *rep = reply;
    if (!rep || rep->type == REDIS_REPLY_ERROR)
        d->failed = true;
    else
        d->r->stats.queued++;
    if (--d->outstanding > 0) return;
    unlink_delivering(d);
    (void)hl__router_stage(d->r, HL_STAGE_QUEUE, d->committed_us);
    d->done(d);
}

void hl__delivery_xadd(delivery_t *d, hl_xadd_t *x)
{
    if (d->failed) return;
    if (hl_redis_command(d->r->redis, reply_cb, d, x->argc, x->argv, x->argvlen) == 0)
        d->outstanding++;
    else
        d->failed = true;
}

void hl__delivery_end(delivery_t *d)
{
    if (d->outstanding == 0) {
        d->done(d);
        return;
    }
    d->next = d->r->delivering;
    d->r->delivering = d;
}

void hl__delivery_watchdog(router_t *r)
{
    int64_t limit = hl_mono_us() - r->conf->redis_timeout_ms * 1000;
    for (delivery_t *d = r->delivering; d; d = d->next) {
        if (d->committed_us < limit) {
            /* Answers every outstanding command NULL: each waiting batch
             * completes (and is freed) inside this call. */
            hl_redis_reset(r->redis, "stream writes timed out");
            return;
        }
    }
}
