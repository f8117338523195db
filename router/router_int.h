/* router_int.h - private to the router module (router.c, batch.c, outbox.c).
 *
 * The router's state and the functions its parts call on each other. Names
 * are hl__<part>_<verb> (internal, as libuv's uv__): nothing outside router/
 * includes this file.
 */
#ifndef HOTLINE_ROUTER_INT_H
#define HOTLINE_ROUTER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hotline/buf.h"
#include "hotline/dispatch.h"
#include "hotline/envelope.h"
#include "hotline/map.h"
#include "hotline/pg.h"
#include "hotline/queue.h"
#include "hotline/redis.h"
#include "hotline/refdata.h"
#include "hotline/router.h"
#include "hotline/store.h"

#define ROUTE_MAX 255 /* bytes of routing frames kept per request */
#define ROUTE_FRAMES 4
#define MAX_WRITERS 64

typedef struct item item_t;
typedef struct batch batch_t;
typedef struct hl_router router_t;

/* Where an answer goes: the ROUTER identity frame(s) and the request id. */
typedef struct {
    uint8_t data[ROUTE_MAX];
    uint16_t len[ROUTE_FRAMES];
    uint8_t n;
    uint64_t request_id;
} reply_to_t;

/* One intake from arrival to answer. */
struct item {
    item_t *next;
    item_t *followers;       /* retries of the same key while this one is in flight */
    reply_to_t to;
    int64_t arrived_us;
    hl_envelope_t *env;      /* owns the intake; NULL for followers */
    const Hotline__Intake *in;
    hl_plan_t plan;
    int64_t id;
    char ticket_no[HL_TICKET_NO_LEN];
    int64_t created_at;
    int64_t version;
    bool solo;               /* store alone: its batch failed on an SQL error */
    bool is_new;             /* this batch stores it (its key was new) */
    bool found;              /* a replay whose original ticket was read back */
};

typedef struct {
    hl_pg_t *pg;
    batch_t *batch;          /* in flight on this connection, or NULL */
} writer_t;

typedef struct {
    int64_t next, end;       /* ticket ids [next, end) */
} id_block_t;

struct hl_router {
    hl_loop_t *loop;
    const hl_conf_t *conf;
    char name[128];
    hl_dispatch_opts_t opts;
    void *zctx, *intake, *events;
    int intake_handle;
    writer_t writers[MAX_WRITERS];
    int nwriters;
    hl_pg_t *control;        /* reference data, ticket ids, outbox */
    hl_redis_t *redis;
    hl_refdata_t *refdata;   /* current snapshot, NULL until loaded */
    hl_refdata_t *loading;   /* snapshot being read */
    hl_model_t *model;       /* classifier of the current snapshot, or NULL */
    hl_model_t *loading_model; /* a newly read model for the snapshot being read */
    bool reload_wanted;
    int reload_timer;
    int64_t id_increment;
    id_block_t ids[2];
    bool ids_requested;
    int64_t keys_first_until_us; /* until then, register keys before COPY */
    item_t *pending_head, *pending_tail;
    size_t npending;
    hl_map_t *inflight;      /* idempotency key -> item */
    batch_t *redis_wait;     /* batches waiting for their XADD replies */
    int64_t *delivered;      /* outbox rows whose tickets are all queued */
    size_t ndelivered, capdelivered;
    void *sweep;             /* outbox sweep in progress (outbox.c) */
    bool shutting_down;
    hl_buf_t sendbuf;
    hl_router_stats_t stats;
    int timers[5];
};

/* router.c */
void hl__router_answer(router_t *r, item_t *it, Hotline__Status st, const char *msg);
void hl__router_publish(router_t *r, const item_t *it);
void hl__router_push_pending(router_t *r, item_t *it, bool front);
item_t *hl__router_pop_pending(router_t *r);
void hl__router_delivered(router_t *r, int64_t batch_id);

/* batch.c */
void hl__batch_start_all(router_t *r);     /* start batches while writers and ids allow */
void hl__batch_request_ids(router_t *r);
bool hl__batch_busy(const router_t *r);    /* a batch is in flight or waits for Redis */
void hl__batch_redis_watchdog(router_t *r);
/* XADD a ticket to its k-th queue: 0 is the lead unit's (or the dispatch
 * queue), 1..nassisting the assisting units'. Returns 0, or HL_EAGAIN when
 * Redis is not connected (fn is then not called). */
int hl__batch_queue(router_t *r, const item_t *it, int k, redisCallbackFn *fn, void *arg);

/* outbox.c */
void hl__outbox_tick(router_t *r);         /* sweep old rows, delete delivered ones */

#endif
