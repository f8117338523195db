/* queue.h - unit queues: one Redis stream per unit, hl:q:{unit}.
 *
 * Every ticket dispatched to a unit is appended (XADD) to the stream of its
 * lead unit (role "lead") and of each assisting unit (role "assist"); tickets
 * waiting for a human dispatcher go to hl:q:{dispatch queue}. Delivery is at
 * least once: consumers must dedupe by the "ticket" field. No personal data
 * and no free text are put in a stream; consumers read the ticket itself.
 *
 * Entry fields: kind (ticket: new work; update: the office decided on it or
 * reopened it; notice: a deadline reminder or supervision; assist_reply: an
 * assisting unit's reply for the lead; and in the dispatch queue, for the
 * office: review: a return, an extension request or a reply to decide on;
 * callback: a callback to make), event (the action behind it),
 * ticket, id, role, state, category, urgency, type, region, sign_due,
 * contact_due, reply_due (ms since the epoch, UTC), version.
 */
#ifndef HOTLINE_QUEUE_H
#define HOTLINE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#define HL_QUEUE_PREFIX "hl:q:"
#define HL_QUEUE_FIELDS 14

typedef struct {
    const char *ticket_no;
    int64_t id;
    const char *state, *category, *urgency, *type, *region;
    int64_t sign_due, contact_due, reply_due;
    int64_t version;
} hl_queue_entry_t;

/* The arguments of one XADD, ready for redisAsyncCommandArgv. */
typedef struct {
    int argc;
    const char *argv[3 + 2 * HL_QUEUE_FIELDS];
    size_t argvlen[3 + 2 * HL_QUEUE_FIELDS];
    char key[80];
    char nums[5][24];
} hl_xadd_t;

/* Fill x with "XADD hl:q:<queue> * field value ..." for e; strings are
 * borrowed until the command is queued. kind and event as above. */
void hl_queue_xadd(hl_xadd_t *x, const char *queue, const char *kind, const char *event,
                   const char *role, const hl_queue_entry_t *e);

#endif
