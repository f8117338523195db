/* store.h - how an intake becomes rows: COPY text rows for tickets,
 * ticket_events, pii_vault and outbox, the SQL around them, and ticket numbers.
 *
 * The router's batch writer and the raw-insert benchmark both use these
 * functions, so the benchmark measures exactly the rows the router writes.
 */
#ifndef HOTLINE_STORE_H
#define HOTLINE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/hotline.pb-c.h"

#include "hotline/buf.h"
#include "hotline/dispatch.h"

#define HL_TICKET_NO_LEN 32

/* Column lists of the COPY statements, in row order. */
#define HL_COPY_TICKETS                                                                            \
    "COPY tickets (id, created_at, ticket_no, state, channel, request_type, urgency, category, "   \
    "confidence, classifier, unit, assisting_units, region, title, body, address, lat, lon, "      \
    "anonymous, confidential, received_at, sign_due, contact_due, reply_due, idempotency_key) "    \
    "FROM STDIN"
#define HL_COPY_EVENTS                                                                             \
    "COPY ticket_events (ticket_id, seq, at, kind, from_state, to_state, actor_role, actor_id, "   \
    "reason, unit, sign_due, contact_due, reply_due) FROM STDIN"
#define HL_COPY_PII "COPY pii_vault (ticket_id, created_at, name, phone, id_number) FROM STDIN"
#define HL_COPY_OUTBOX "COPY outbox (batch_id, router, ticket_ids, created_at) FROM STDIN"
#define HL_COPY_KEYS "COPY intake_keys (key, ticket_id, created_at) FROM STDIN"

/* Registers the keys of a batch; returns the ticket ids of the new ones.
 * $1 text[] keys, $2 bigint[] ticket ids, $3 timestamptz. */
#define HL_SQL_INSERT_KEYS                                                                         \
    "INSERT INTO intake_keys (key, ticket_id, created_at) "                                        \
    "SELECT k, i, $3 FROM unnest($1::text[], $2::bigint[]) AS u (k, i) "                           \
    "ON CONFLICT (key) DO NOTHING RETURNING ticket_id"

/* One stored ticket, as the writer sees it. */
typedef struct {
    int64_t id;
    const char *ticket_no;
    int64_t created_at;             /* ms, UTC: the router's acceptance time */
    const Hotline__Intake *intake;  /* borrowed */
    const hl_plan_t *plan;          /* borrowed */
} hl_store_ticket_t;

/* Ticket number: local date of created_at (yyyymmdd) + id on 8 or more digits. */
void hl_ticket_no(char out[HL_TICKET_NO_LEN], int64_t id, int64_t created_at, int offset_min);
/* Parse a ticket number back into id and local date (days since the epoch).
 * Returns 0 or HL_EINVAL. */
HL_MUSTCHECK int hl_ticket_no_parse(const char *no, int64_t *id, int64_t *local_day);

/* Append one COPY text row (ending in \n) to b. */
void hl_store_ticket_row(hl_buf_t *b, const hl_store_ticket_t *t, int offset_min);
void hl_store_event_row(hl_buf_t *b, const hl_store_ticket_t *t, const char *router,
                        int offset_min);
/* Appends a row only if the requester gave a name, phone or id number;
 * returns whether it did. */
bool hl_store_pii_row(hl_buf_t *b, const hl_store_ticket_t *t, int offset_min);
void hl_store_outbox_row(hl_buf_t *b, int64_t batch_id, const char *router, const int64_t *ids,
                         size_t n, int64_t created_at, int offset_min);

#endif
