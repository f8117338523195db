/* lifecycle.h - the 12345 ticket lifecycle as one table.
 *
 * Every action the router accepts is a row of the table in lifecycle.c:
 * the states it is allowed in, the state it leads to, the roles that may do
 * it, the fields it needs, and a guard that checks and applies it. The same
 * table validates actions in the router, prints the tools' --help and writes
 * docs/lifecycle.md. Pure logic: no I/O; the router loads the ticket, applies
 * an action to this struct, and writes what changed.
 *
 * Deadlines (DOMAIN.md section (b)): a dispatch starts the sign-in and
 * first-contact clocks; the reply clock runs from receipt, and starts again
 * at a re-dispatch after an approved return and at a reopen (重办); an
 * approved extension adds working days to the reply deadline; accepting a
 * reply starts the callback clock. Each event records the deadlines in force
 * after it, so the deadline of any moment can be read back from the events.
 */
#ifndef HOTLINE_LIFECYCLE_H
#define HOTLINE_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hotline/calendar.h"
#include "hotline/dispatch.h"
#include "hotline/err.h"
#include "hotline/refdata.h"
#include "hotline/ticket.h"

/* Roles, as bits. */
enum {
    HL_ROLE_AGENT = 1,      /* 话务员: intake at the hotline */
    HL_ROLE_OFFICE = 2,     /* 12345 office: dispatch, review, callback */
    HL_ROLE_SUPERVISOR = 4, /* supervision: reopen for review (复核), notices */
    HL_ROLE_ADMIN = 8,
    HL_ROLE_UNIT = 16,      /* a handling unit (承办单位), on its own tickets */
    HL_ROLE_SYSTEM = 32,    /* the router and the deadline watcher */
};

/* Parse "agent", "office", ...; returns the role bit or 0. */
int hl_role_parse(const char *s);
const char *hl_role_name(int role);

/* Deadline clocks, and the notices of the deadline watcher. */
typedef enum { HL_CLOCK_SIGN = 0, HL_CLOCK_CONTACT, HL_CLOCK_REPLY, HL_CLOCK_CALLBACK, HL_NCLOCKS } hl_clock_t;
/* Notice stages of a clock: 1 warning (yellow), 2 reminder (催办), 3 overdue
 * (red), 4 + k supervision (督办) at level k + 1. */
enum { HL_NOTICE_WARNING = 1, HL_NOTICE_REMINDER = 2, HL_NOTICE_OVERDUE = 3, HL_NOTICE_SUPERVISION = 4 };
const char *hl_clock_name(hl_clock_t c);
HL_MUSTCHECK int hl_clock_parse(const char *s, hl_clock_t *out);
/* The name of a notice stage: "warning", "reminder", "overdue", "supervision". */
const char *hl_notice_name(int stage);

#define HL_MAX_EXCLUDED 16
/* Knowledge-base entries one answer (close_direct, reply) may cite. */
#define HL_KB_CITED_MAX 8
/* Details (payload entries) one action may carry. */
#define HL_MAX_PAYLOAD 16

/* The ticket, as the lifecycle sees it. Times are ms since the epoch; 0 =
 * not set. */
typedef struct {
    int64_t id;
    char ticket_no[32];
    hl_state_t state, previous_state;
    int64_t version;
    hl_type_t type;
    hl_urgency_t urgency;
    char category[HL_CATEGORY_LEN];
    char region[HL_REGION_LEN];
    char unit[HL_UNIT_LEN];
    char channel[16];            /* phone, web, ... (the figures' dimension) */
    char assisting[HL_MAX_ASSISTING][HL_UNIT_LEN];
    int nassisting;
    char excluded[HL_MAX_EXCLUDED][HL_UNIT_LEN];
    int nexcluded;
    bool anonymous, confidential, binding;
    int64_t created_at, received_at, dispatched_at, reply_start, callback_start;
    int64_t due[HL_NCLOCKS];
    int64_t signed_at, contacted_at, replied_at, closed_at;
    int return_count, reopen_count, extension_count, callback_attempts, supervision;
    char resolution[16], satisfaction[16];
    int64_t parent_id;
    int merged_count;          /* tickets merged into this one */
    int32_t sla_progress;      /* one byte per clock: the last notice stage sent */
    int extension_days;        /* while an extension is requested */
} hl_ticket_t;

/* One action on one ticket. Strings are borrowed. */
typedef struct {
    hl_action_t kind;
    int role;                  /* one HL_ROLE_* bit */
    const char *actor_unit;    /* for HL_ROLE_UNIT */
    const char *actor_id;
    const char *reason_code, *reason;
    size_t npayload;
    const char *const *keys, *const *values;
    int64_t expected_version;  /* 0: do not check */
    int64_t now;
} hl_act_t;

/* The value of a payload key, or NULL. */
const char *hl_act_get(const hl_act_t *a, const char *key);

/* Where the lifecycle looks things up. */
typedef struct {
    const hl_refdata_t *rd;    /* units, routes, policy, calendars */
    int offset_min;
    hl_count_rule_t rule;
    int archive_after_days;    /* a closed ticket is archived after this (admins: any time) */
    const hl_ticket_t *parent; /* merge: the ticket named by payload "parent", or NULL */
} hl_life_env_t;

#define HL_MAX_OUT_EVENTS 3

/* What an applied action did. */
typedef struct {
    int nevents;
    struct {
        const char *kind;      /* action name ("dispatch" for a chained dispatch) */
        hl_state_t from, to;
    } events[HL_MAX_OUT_EVENTS];
    bool changed;              /* the ticket's version went up */
    bool duplicate;            /* a notice already sent: nothing to write */
    const char *tell;          /* a queue entry's kind (queue.h), or NULL */
    char tell_unit[HL_UNIT_LEN]; /* its unit; "" for the office (the dispatch queue) */
    char linkage[4];           /* an emergency transfer: the service */
    bool close_children;       /* merged tickets close with this one */
} hl_outcome_t;

/* Apply action a to ticket t (changed in place when it succeeds). Returns 0,
 * or with err filled and t unchanged:
 *   HL_ECONFLICT   the state does not allow the action (allowed lists what
 *                  it does allow this role, comma separated), or a stale
 *                  expected version
 *   HL_EFORBIDDEN  the role, or a unit acting on another unit's ticket
 *   HL_EINVAL      a missing or invalid field, or a guard (window, cap)
 *   HL_ENOTFOUND   a named ticket (merge parent) or unit does not exist */
HL_MUSTCHECK int hl_lifecycle_apply(const hl_life_env_t *env, hl_ticket_t *t, const hl_act_t *a,
                                    hl_outcome_t *out, char *allowed, size_t allowed_len,
                                    char err[HL_ERR_LEN]);

/* Close a merged child because its parent closed. */
void hl_lifecycle_close_child(hl_ticket_t *child, int64_t now, hl_outcome_t *out);

/* The actions a role may take in a state, comma separated ("" if none). */
void hl_lifecycle_allowed(hl_state_t st, int role, char *out, size_t len);

/* Is the state one of the terminal ones (no action but reopen/archive)? */
bool hl_state_terminal(hl_state_t s);
/* Does a clock run in this state (for this ticket)? */
bool hl_clock_runs(const hl_ticket_t *t, hl_clock_t c);
/* The start of a clock in force (0 if it does not run). */
int64_t hl_clock_start(const hl_ticket_t *t, hl_clock_t c);

/* Documentation from the table: a line per action (role filter: a role bit,
 * or 0 for all), or the whole lifecycle as Markdown. */
void hl_lifecycle_help(FILE *out, int roles);
void hl_lifecycle_markdown(FILE *out);

#endif
