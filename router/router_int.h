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
#include "hotline/lifecycle.h"
#include "hotline/map.h"
#include "hotline/pg.h"
#include "hotline/queue.h"
#include "hotline/redis.h"
#include "hotline/refdata.h"
#include "hotline/router.h"
#include "hotline/similar.h"
#include "hotline/store.h"

#define ROUTE_MAX 255 /* bytes of routing frames kept per request */
#define ROUTE_FRAMES 4
#define MAX_WRITERS 64

typedef struct item item_t;
/* A similar open ticket found for an intake. */
typedef struct {
    char ticket[32];
    int state;
    char *title;             /* owned */
    char unit[HL_UNIT_LEN];
    int64_t created_at;
    float score;
} hl_simhit_t;
typedef struct batch batch_t;
/* How long a stage of the write path took, over a stats interval. */
typedef struct {
    int64_t n, sum_us, max_us;
} hl_stage_t;
/* a batch's oldest intake arrived -> batch formed; formed -> committed;
 * committed -> stream writes answered */
enum { HL_STAGE_WAIT, HL_STAGE_STORE, HL_STAGE_QUEUE, HL_STAGES };
typedef struct aitem aitem_t;
typedef struct abatch abatch_t;
typedef struct hl_router router_t;
typedef struct hl_simcache hl_simcache_t;

/* A committed write batch's stream writes (delivery.c). Both kinds of batch
 * embed one as their first member; hl__delivery_form when the batch takes
 * its work (counts the wait stage from its oldest item's arrival). After the
 * commit: hl__delivery_begin (counts the store stage), one
 * hl__delivery_xadd per stream entry (a no-op once failed), then
 * hl__delivery_end, which calls done(d) at once when no reply is due, or
 * when the last one is in (counting the queue stage). done owns the batch
 * from then on; failed says an entry was not written (Redis down, an error,
 * or the watchdog's reset), and the outbox sweep sends it later. */
typedef struct delivery delivery_t;
struct delivery {
    delivery_t *next;        /* in r->delivering while replies are due */
    router_t *r;
    void (*done)(delivery_t *d);
    int64_t formed_us;       /* when the batch took its work */
    int64_t committed_us;    /* when its transaction committed */
    int outstanding;         /* stream writes not yet answered */
    bool failed;
};

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
    const char *event;       /* for the queue entry: "intake", or the action */
    hl_simsig_t *sig;        /* its text's signature, once made (owned) */
    hl_simhit_t *sim;        /* similar open tickets (it->in->similar), best first */
    int nsim;
};

/* One action from arrival to answer. */
struct aitem {
    aitem_t *next;
    reply_to_t to;
    int64_t arrived_us;
    hl_envelope_t *env;      /* owns the action */
    const Hotline__Action *a;
    int role;                /* HL_ROLE_* */
    int64_t ticket_id, day;  /* from the ticket number */
    int64_t parent_id, parent_day; /* merge */
    bool solo;               /* handle alone: its batch failed on an SQL error */
};

typedef struct {
    hl_pg_t *pg;
    batch_t *batch;          /* an intake batch in flight on this connection, or NULL */
    abatch_t *abatch;        /* an action batch in flight, or NULL */
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
    bool taking;             /* intakes read: once ready (or pending_timeout_ms after start) */
    int64_t started_us;
    writer_t writers[MAX_WRITERS];
    int nwriters;
    hl_pg_t *control;        /* reference data, ticket ids, outbox */
    hl_pg_t *reader;         /* queries */
    hl_redis_t *redis;
    hl_refdata_t *refdata;   /* current snapshot, NULL until loaded */
    hl_refdata_t *loading;   /* snapshot being read */
    hl_model_t *model;       /* classifier of the current snapshot, or NULL */
    hl_model_t *loading_model; /* a newly read model for the snapshot being read */
    bool reload_wanted;
    int reload_timer;
    int prune_timer;         /* the next chunk of old idempotency keys */
    int64_t pruned;          /* keys deleted by the current pruning run */
    int64_t id_increment;
    id_block_t ids[2];
    bool ids_requested;
    int64_t keys_first_until_us; /* until then, register keys before COPY */
    item_t *pending_head, *pending_tail;
    size_t npending;
    hl_map_t *inflight;      /* idempotency key -> item */
    aitem_t *apending_head, *apending_tail; /* actions waiting for a writer */
    size_t napending;
    bool actions_next;       /* both kinds wait: whose turn */
    delivery_t *delivering;  /* committed batches waiting for their XADD replies */
    int64_t *delivered;      /* outbox rows whose tickets are all queued */
    size_t ndelivered, capdelivered;
    void *sweep;             /* outbox sweep in progress (outbox.c) */
    bool shutting_down;
    hl_buf_t sendbuf;
    hl_router_stats_t stats;
    hl_stage_t stages[HL_STAGES]; /* write transactions' times since the last stats line */
    int timers[5];
    int hold_timer;          /* batch.c: wakes the loop when held-back intakes' wait is up */
    int64_t hold_due_us;     /* ... at this time */
    hl_simcache_t *simcache; /* previews' candidates (simcache.c) */
    /* Live figures counted since the last flush: per day's hash, field -> n. */
    struct {
        char key[32];
        hl_map_t *cells;
    } counting[4];
    int ncounting;
};

/* router.c */
/* Send the live figures counted since the last call: one EVAL per day's
 * hash, each distinct cell once with its increment (after each batch). */
void hl__router_count_flush(router_t *r);
int hl__router_send(router_t *r, const reply_to_t *to, const Hotline__Ack *ack);
bool hl__router_storage_up(const router_t *r);
writer_t *hl__router_idle_writer(router_t *r);
bool hl__router_writing(const router_t *r); /* a batch of either kind in flight */
/* Publish (and count) an event of a ticket changed by an action (a may be
 * NULL); history: what the ticket had been through at it (HL_FIGURES_*). */
void hl__router_publish_ticket(router_t *r, const hl_ticket_t *t, const char *kind, hl_state_t from,
                               hl_state_t to, int seq, int64_t at, unsigned history, const Hotline__Action *a);
void hl__router_answer(router_t *r, item_t *it, Hotline__Status st, const char *msg);
void hl__router_publish(router_t *r, const item_t *it);
void hl__router_push_pending(router_t *r, item_t *it, bool front);
item_t *hl__router_pop_pending(router_t *r);
void hl__router_delivered(router_t *r, int64_t batch_id);
/* A write transaction's stage, begun at since_us (hl_mono_us), ends now:
 * counted for the stats line. Returns now. */
int64_t hl__router_stage(router_t *r, int stage, int64_t since_us);

/* batch.c */
void hl__batch_start_all(router_t *r);     /* start batches while writers and ids allow */
void hl__batch_request_ids(router_t *r);
/* Fill x with the XADD of a ticket to its k-th queue: 0 is the lead unit's
 * (or the dispatch queue), 1..nassisting the assisting units'. x borrows
 * its strings. */
void hl__batch_xadd(const router_t *r, const item_t *it, int k, hl_xadd_t *x);

/* action.c */
void hl__action_accept(router_t *r, const reply_to_t *to, hl_envelope_t **envp);
void hl__action_start_all(router_t *r);
void hl__action_expire(router_t *r);
void hl__action_fail_pending(router_t *r, const char *msg);

/* delivery.c (see delivery_t above) */
void hl__delivery_form(delivery_t *d, router_t *r, int64_t oldest_us);
void hl__delivery_begin(delivery_t *d, void (*done)(delivery_t *d));
void hl__delivery_xadd(delivery_t *d, hl_xadd_t *x);
void hl__delivery_end(delivery_t *d);
/* Resets Redis when a delivery has waited longer than redis.timeout_ms. */
void hl__delivery_watchdog(router_t *r);

/* simcache.c: open tickets for previews and intakes, per category and district. */
#define HL_SIMCACHE_MAX 100        /* tickets per set, newest first */
#define HL_SIMCACHE_TTL_MS 5000    /* a set is read again after this */
#define HL_SIMCACHE_STALE_MS 60000 /* an intake uses a set this old (and has it read again) */
#define HL_SIMILAR_MAX 5           /* similar tickets in an answer */
typedef struct {
    char ticket[32];
    int state;
    char *title;               /* owned */
    char unit[HL_UNIT_LEN];
    int64_t created_at;
    hl_simsig_t sig;           /* of title and the first 400 characters of the body */
} hl_simticket_t;
typedef struct {
    char key[96];              /* category|district */
    int64_t fetched_ms;        /* 0: never read */
    bool refreshing;           /* a read from PostgreSQL is under way */
    item_t *waiting;           /* intakes waiting for that read (linked by next) */
    int n;
    int head;                  /* t[head] is the newest: a ring, so adding one moves none */
    hl_simticket_t t[HL_SIMCACHE_MAX];
} hl_simset_t;
/* The i-th newest ticket of a set (0 <= i < n). */
static inline hl_simticket_t *hl__simset_at(const hl_simset_t *s, int i)
{
    return (hl_simticket_t *)&s->t[(s->head + i) % HL_SIMCACHE_MAX];
}
/* The set for key, or NULL. */
hl_simset_t *hl__simcache_find(router_t *r, const char *key);
/* The set to use for a preview: fresh, or stale while another preview's
 * read refreshes it (empty if there was none). NULL: the caller reads it
 * from PostgreSQL now, then calls hl__simcache_reset (or _release on an
 * error). */
hl_simset_t *hl__simcache_claim(router_t *r, const char *key, int64_t now_ms);
void hl__simcache_release(router_t *r, const char *key);
/* The set for key (made if new), read now: emptied but for the tickets
 * remembered since keep_since_ms (they may be newer than the read); fill it
 * with hl__simcache_add. */
hl_simset_t *hl__simcache_reset(router_t *r, const char *key, int64_t now_ms, int64_t keep_since_ms);
/* Add a ticket (owning its title) at the front (a new ticket) or the back
 * (rows as read; skipped if already there); dropped if no set for key
 * exists. */
void hl__simcache_add(router_t *r, const char *key, const hl_simticket_t *t, bool front);
/* Frees every set; intakes still waiting are answered TRY_LATER. */
void hl__simcache_destroy(router_t *r);

/* query.c */
void hl__query_accept(router_t *r, const reply_to_t *to, hl_envelope_t **envp);
/* A ticket just stored: added to the candidates (simcache.c). */
void hl__query_remember(router_t *r, item_t *it);
/* An Intake's dry run: answer with the plan and similar open tickets. */
void hl__query_preview(router_t *r, const reply_to_t *to, hl_envelope_t **envp, const hl_plan_t *plan);
/* An Intake that asks for similar open tickets (it->in->similar): found in
 * the cached candidates, into it->sim. Returns true when the candidates must
 * be read first: the item is then parked and pushed to pending once they
 * are (with or without them). */
bool hl__query_similar(router_t *r, item_t *it);

/* outbox.c */
void hl__outbox_tick(router_t *r);         /* sweep old rows, delete delivered ones */

#endif
