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

#include <libpq-fe.h>

#include "hotline/buf.h"
#include "hotline/dispatch.h"
#include "hotline/lifecycle.h"

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

/* Open tickets, in SQL: the predicate of the partial index tickets_unit_open
 * (migration 005), word for word, so that queries with it can use the index. */
#define HL_SQL_OPEN_STATES                                                                         \
    "state NOT IN ('CLOSED', 'ARCHIVED', 'CLOSED_DIRECT', 'NOT_ACCEPTED', 'TRANSFERRED_OUT', "      \
    "'WITHDRAWN', 'MERGED')"

/* The columns hl_store_ticket_read reads, in its order: times as ms. */
#define HL_MS(c) "coalesce((extract(epoch FROM " c ") * 1000)::bigint, 0)"
#define HL_SQL_TICKET_COLS                                                                         \
    "id, " HL_MS("created_at") ", ticket_no, state, version, request_type, urgency, category, "    \
    "coalesce(region, ''), coalesce(unit, ''), array_to_string(assisting_units, ','), "             \
    "array_to_string(excluded_units, ','), anonymous, confidential, binding, " HL_MS("received_at") \
    ", " HL_MS("dispatched_at") ", " HL_MS("reply_start") ", " HL_MS("callback_start") ", "        \
    HL_MS("sign_due") ", " HL_MS("contact_due") ", " HL_MS("reply_due") ", " HL_MS("callback_due") \
    ", " HL_MS("signed_at") ", " HL_MS("contacted_at") ", " HL_MS("replied_at") ", "               \
    HL_MS("closed_at") ", return_count, reopen_count, extension_count, callback_attempts, "        \
    "supervision, coalesce(resolution, ''), coalesce(satisfaction, ''), coalesce(parent_id, 0), "  \
    "sla_progress, coalesce(extension_days, 0), coalesce(previous_state, ''), last_seq, merged_count, "  \
    "channel"
#define HL_TICKET_NCOLS 41

/* Read columns col0 .. col0 + HL_TICKET_NCOLS - 1 of a row selected with
 * HL_SQL_TICKET_COLS. Returns 0 or HL_EINVAL (a value the vocabulary does
 * not know). *last_seq gets the ticket's event count. */
HL_MUSTCHECK int hl_store_ticket_read(const PGresult *res, int row, int col0, hl_ticket_t *t,
                                      int *last_seq);

/* The statement that writes back changed tickets: $1..$31 arrays built by
 * hl_store_ticket_arrays, $32 / $33 the created_at range (partition pruning). */
extern const char *const hl_sql_update_tickets;
#define HL_UPDATE_NARRAYS 31
/* Append ticket t (with its new event count) to the 31 array builders. */
void hl_store_ticket_arrays(hl_buf_t cols[HL_UPDATE_NARRAYS], const hl_ticket_t *t, int last_seq);

/* One event row as the action path writes it. */
typedef struct {
    int64_t ticket_id;
    int seq;
    int64_t at;
    const char *kind;
    hl_state_t from, to;
    const char *actor_role, *actor_unit, *actor_id;
    const char *reason_code, *reason;
    const char *unit;
    int64_t due[4];            /* sign, contact, reply, callback in force after it */
    const char *payload_json;  /* or NULL */
    unsigned marks;            /* what the ticket had been through by then (HL_FIGURES_*) */
} hl_store_event_t;

/* The statement that inserts events: $1..$18 arrays of hl_store_event_arrays. */
extern const char *const hl_sql_insert_events;
#define HL_EVENT_NARRAYS 18
void hl_store_event_arrays(hl_buf_t cols[HL_EVENT_NARRAYS], const hl_store_event_t *e);
/* Close the array builders (call once before sending). */
void hl_store_arrays_finish(hl_buf_t *cols, int n);

#endif
