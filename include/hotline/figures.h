/* figures.h - the figures' counters, as the router counts them live.
 *
 * The definitions are data (metric_counters, migration 010); this module
 * holds them in memory and says which counters an event counts for, by the
 * same rules hl_metric_counts() applies in SQL: the event's kind among the
 * counter's kinds; its new state among to_states (if any); its payload
 * value for payload_key among payload_values (or, with none listed, the key
 * present); and, for an on-time counter, the event at or before the
 * deadline of that clock it recorded; with history rules, the ticket having
 * (or not having) been through one of the events the ticket keeps a count
 * of (HL_FIGURES_RETURNED ...: tickets.return_count, reopen_count,
 * supervision, parent_id), by this event included; and the request
 * anonymous or not, if the counter says. Live counts go to Redis, one hash per
 * local day (HL_FIGURES_KEY "2026-11-22"), one field per counter and
 * ticket dimensions: "counter|unit|category|region|channel"; and beside it
 * their sums per counter and unit (HL_FIGURES_UNIT_KEY "2026-11-22", fields
 * "counter|unit"), which a month's figures without a category, region or
 * channel filter read instead of every cell.
 */
#ifndef HOTLINE_FIGURES_H
#define HOTLINE_FIGURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hotline/err.h"

#define HL_FIGURES_KEY "hl:m:"        /* + the local day, YYYY-MM-DD */
#define HL_FIGURES_UNIT_KEY "hl:mu:"  /* + the local day: the sums per counter|unit */

/* The length of a cell's "counter|unit" (up to its second '|'), 0 if it
 * has none. */
static inline size_t hl_figures_unit_prefix(const char *field, size_t len)
{
    int bars = 0;
    for (size_t i = 0; i < len; i++)
        if (field[i] == '|' && ++bars == 2) return i;
    return 0;
}

typedef struct hl_figures hl_figures_t;

/* What a ticket has been through, by the counters that count it. */
enum {
    HL_FIGURES_RETURNED = 1 << 0,   /* return_approved: an approved return */
    HL_FIGURES_REOPENED = 1 << 1,   /* reopened */
    HL_FIGURES_SUPERVISED = 1 << 2, /* supervised: a supervision notice */
    HL_FIGURES_MERGED = 1 << 3      /* merged into another ticket */
};

/* An event as counted. */
typedef struct {
    const char *kind;            /* "intake", "sign", ... */
    const char *to_state;        /* "DISPATCHED", ... */
    size_t npayload;
    const char *const *keys, *const *values;
    int64_t at_ms;
    int64_t due_ms[4];           /* sign, contact, reply, callback in force after it; 0: none */
    unsigned history;            /* HL_FIGURES_* the ticket has been through, this event included */
    bool anonymous;              /* the request is anonymous */
} hl_figure_event_t;

hl_figures_t *hl_figures_new(void);
void hl_figures_destroy(hl_figures_t **self_p);

/* A counter as metric_counters holds it: kinds, to_states, payload_values,
 * history_any and history_none are PostgreSQL array literals
 * ("{intake,dispatch}") or NULL; on_time NULL or a clock name; the history
 * lists may name only return_approved, reopened, supervised and merged;
 * anonymous NULL (any request), "t" (anonymous ones only) or "f" (named). */
typedef struct {
    const char *name, *kinds, *to_states, *payload_key, *payload_values, *on_time, *history_any, *history_none,
        *anonymous;
} hl_figure_def_t;

/* Add a counter. Returns 0 or HL_EINVAL. */
HL_MUSTCHECK int hl_figures_add(hl_figures_t *m, const hl_figure_def_t *def);

/* What a ticket with these counts has been through (HL_FIGURES_*). */
unsigned hl_figures_history(int return_count, int reopen_count, int supervision, int64_t parent_id);
size_t hl_figures_count(const hl_figures_t *m);

/* The counters e counts for: fn(name, arg) for each; returns how many. */
size_t hl_figures_match(const hl_figures_t *m, const hl_figure_event_t *e, void (*fn)(const char *name, void *arg),
                        void *arg);

/* The Redis hash field of a counter for these dimensions (NULL or "" for
 * none), '|' in a value replaced by '/'. Returns out. */
char *hl_figures_field(char *out, size_t len, const char *counter, const char *unit, const char *category,
                       const char *region, const char *channel);

#endif
