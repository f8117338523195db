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
 * channel filter read instead of every cell. A day's cells no longer change
 * once it is over (HL_FIGURES_SETTLED_MS after its end: events are counted
 * on the day they are committed); their sums per counter, unit and one of
 * category, region or channel (HL_FIGURES_DIMS_KEY "c:2026-11-22", "r:...",
 * "h:...", fields as hl_figures_dims spells them) are then kept beside them by whoever reads them first (the gateway, under
 * WATCH of the cells), and dropped by hotline-figures repair.
 */
#ifndef HOTLINE_FIGURES_H
#define HOTLINE_FIGURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hotline/err.h"

#define HL_FIGURES_KEY "hl:m:"        /* + the local day, YYYY-MM-DD */
#define HL_FIGURES_UNIT_KEY "hl:mu:"  /* + the local day: the sums per counter|unit */
#define HL_FIGURES_DIMS_KEY "hl:md"   /* + 'c', 'r' or 'h' + ':' + a local day over: hl_figures_dims */
#define HL_FIGURES_SETTLED_MS 3600000 /* a day's cells are final this long after its end */
#define HL_FIGURES_DIM_MAX 192        /* the size of a field of HL_FIGURES_DIMS_KEY */

/* The length of a cell's "counter|unit" (up to its second '|'), 0 if it
 * has none. */
static inline size_t hl_figures_unit_prefix(const char *field, size_t len)
{
    int bars = 0;
    for (size_t i = 0; i < len; i++)
        if (field[i] == '|' && ++bars == 2) return i;
    return 0;
}

/* The three sums a cell "counter|unit|category|region|channel" counts in,
 * "counter|unit|category", "counter|unit|region" and
 * "counter|unit|channel", into out[0..2]: fields of the hashes
 * HL_FIGURES_DIMS_KEY "c:", "r:" and "h:" + the day. Returns false when
 * field is not a cell or a sum would not fit. */
#define HL_FIGURES_DIMS "crh"
static inline bool hl_figures_dims(const char *field, size_t len, char out[3][HL_FIGURES_DIM_MAX])
{
    size_t bar[4];
    int k = 0;
    for (size_t i = 0; i < len; i++)
        if (field[i] == '|') {
            if (k == 4) return false;
            bar[k++] = i;
        }
    if (k != 4) return false;
    for (int d = 0; d < 3; d++) {
        size_t a = bar[d + 1] + 1, b = d < 2 ? bar[d + 2] : len, n = bar[1] + 1 + (b - a);
        if (n >= HL_FIGURES_DIM_MAX) return false;
        memcpy(out[d], field, bar[1] + 1); /* "counter|unit|" */
        memcpy(out[d] + bar[1] + 1, field + a, b - a);
        out[d][n] = '\0';
    }
    return true;
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
