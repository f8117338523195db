/* client.h - the C client library of units and the office.
 *
 * One client is one actor (a role, for a unit its code, and a person id). It
 * talks to the router over the bus (requests wait for their answer, up to a
 * timeout, and are retried with the same idempotency key when the answer is
 * TRY_LATER or does not come), and reads the actor's queue, a Redis stream
 * hl:q:<unit>, through the consumer group "hotline": an entry read stays
 * pending until acked, so after a crash the same consumer (by name) gets its
 * pending entries again first, and entries of a consumer gone quiet longer
 * than claim_idle_ms are claimed by another. Processes sharing a consumer
 * name share its pending entries (each may get them): give parallel
 * consumers their own names. Consumers dedupe by ticket number; actions given
 * an idempotency key (e.g. the entry id) are done once however often they
 * are sent. Not thread-safe: one client per thread.
 */
#ifndef HOTLINE_CLIENT_H
#define HOTLINE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hotline/envelope.h"
#include "hotline/err.h"
#include "hotline/ticket.h"

typedef struct hl_client hl_client_t;

typedef struct {
    const char *router;       /* the router's intake endpoint */
    const char *redis_host;   /* NULL: no queue (requests only) */
    int redis_port;
    const char *role;         /* unit, office, agent, supervisor, admin */
    const char *unit;         /* the unit code (role unit) */
    const char *queue;        /* the queue read, hl:q:<queue>; NULL: unit */
    const char *actor_id;     /* who acts (person or token id) */
    const char *consumer;     /* consumer name in the group; NULL: the host name, so a
                                 consumer restarted after a crash gets its pending entries */
    int timeout_ms;           /* per attempt (default 5000) */
    int retries;              /* more attempts after TRY_LATER or no answer (default 3) */
    int64_t claim_idle_ms;    /* claim other consumers' entries idle this long (default 60000) */
} hl_client_opts_t;

/* A queue entry (queue.h lists the fields). */
typedef struct {
    char id[40];              /* the stream entry id, to ack */
    char kind[16], event[24], role[8];
    char ticket[32], state[24], category[64], urgency[12], type[16], region[16];
    int64_t sign_due, contact_due, reply_due, version;
    bool redelivered;         /* read before and not acked (a crash), or claimed */
} hl_queue_msg_t;

/* An action's details. NULL / 0 fields are not sent. */
typedef struct {
    const char *reason_code, *reason;
    size_t npayload;
    const char *const *keys, *const *values;
    int64_t expected_version;
    const char *idempotency_key;  /* NULL: one made for this call */
} hl_client_act_t;

/* Connect. NULL with err filled if the router endpoint or Redis cannot be
 * used; Redis is connected (and the group made) only when redis_host is set. */
hl_client_t *hl_client_new(const hl_client_opts_t *o, char err[HL_ERR_LEN]);
void hl_client_destroy(hl_client_t **self_p);

/* The next queue entry: pending ones first, then claimed ones, then new
 * ones waiting up to block_ms (0: do not wait). Returns 1 with *msg filled,
 * 0 when there is none, HL_EIO with err filled. */
HL_MUSTCHECK int hl_client_next(hl_client_t *c, hl_queue_msg_t *msg, int block_ms, char err[HL_ERR_LEN]);
/* Done with an entry: XACK, then XDEL (a stream keeps only what is still
 * to be handled; a consumer of its own must do the same). Returns 0 or HL_EIO. */
HL_MUSTCHECK int hl_client_ack(hl_client_t *c, const char *id, char err[HL_ERR_LEN]);

/* Do an action on a ticket. On 0, *answer is the router's Ack envelope
 * (the caller frees it with hl_envelope_free): look at its status (OK,
 * CONFLICT with the allowed actions, ...). Returns HL_ETIMEDOUT when no
 * answer came after the retries, HL_EIO for a bus error. */
HL_MUSTCHECK int hl_client_act(hl_client_t *c, const char *ticket, hl_action_t kind,
                               const hl_client_act_t *args, hl_envelope_t **answer,
                               char err[HL_ERR_LEN]);
/* Read one ticket with its events; reveal_reason non-NULL asks for unmasked
 * personal data (logged). Same returns as hl_client_act. */
HL_MUSTCHECK int hl_client_get(hl_client_t *c, const char *ticket, const char *reveal_reason,
                               hl_envelope_t **answer, char err[HL_ERR_LEN]);
/* List tickets of a unit ("" for all, office only), in a state ("open", a
 * state name or ""), newest first, created before `before` ms (0: now). */
HL_MUSTCHECK int hl_client_list(hl_client_t *c, const char *unit, const char *state, int limit,
                                int64_t before, hl_envelope_t **answer, char err[HL_ERR_LEN]);

#endif
