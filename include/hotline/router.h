/* router.h - hotline-router: durable intake, classification, routing, deadlines.
 *
 * The router owns every ticket state change. For intakes it runs, per batch of
 * what is waiting on its ROUTER socket:
 *   validate -> idempotency (intake_keys) -> classify -> route -> deadlines
 *   -> one PostgreSQL transaction (tickets, events, PII vault, outbox; COPY)
 *   -> XADD to the unit streams (pipelined) -> ack, and an Event on PUB.
 * An intake is acked only after its transaction committed; when PostgreSQL is
 * down or the queue is full it is answered TRY_LATER at once. Tickets committed
 * but not yet in their streams are re-sent by the outbox sweep.
 */
#ifndef HOTLINE_ROUTER_H
#define HOTLINE_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "hotline/conf.h"
#include "hotline/err.h"
#include "hotline/loop.h"

typedef struct hl_router hl_router_t;

/* Counters since start, for logs, tests and (later) metrics. */
typedef struct {
    uint64_t received;      /* envelopes read */
    uint64_t dropped;       /* frames that were not a routable request */
    uint64_t invalid;       /* answered INVALID / TOO_LARGE / UNSUPPORTED */
    uint64_t try_later;     /* answered TRY_LATER */
    uint64_t stored;        /* new tickets committed */
    uint64_t replayed;      /* intakes answered with an existing ticket */
    uint64_t batches;       /* transactions committed */
    uint64_t failed_batches;
    uint64_t queued;        /* stream entries written */
    uint64_t swept;         /* stream entries re-sent by the outbox sweep */
    uint64_t uncounted;     /* events not counted in the live figures (Redis down) */
    uint64_t reloads;       /* reference data snapshots loaded */
    uint64_t actions;       /* actions done (or replayed) */
    uint64_t refused;       /* actions refused (illegal, forbidden, invalid) */
    uint64_t queries;       /* queries answered */
} hl_router_stats_t;

/* A router on loop with configuration conf (borrowed; must outlive it).
 * Returns NULL with err filled if the sockets cannot be bound. */
hl_router_t *hl_router_new(hl_loop_t *loop, const hl_conf_t *conf, char err[HL_ERR_LEN]);
/* Start connecting to PostgreSQL and Redis; intakes are answered TRY_LATER
 * until the reference data is loaded. */
void hl_router_start(hl_router_t *r);
/* Stop taking intakes (TRY_LATER), finish the batches in flight, then stop
 * the loop. */
void hl_router_shutdown(hl_router_t *r);
/* Reload the reference data now (SIGHUP); the current snapshot serves until
 * the new one is complete and valid. */
void hl_router_reload(hl_router_t *r);
void hl_router_destroy(hl_router_t **self_p);
const hl_router_stats_t *hl_router_stats(const hl_router_t *r);
/* True if the router has a handler for this Envelope body kind (every kind of
 * the wire contract must have one; a test walks the descriptor). */
bool hl_router_handles(int body_case);

#endif
