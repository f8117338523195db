/* figures.h - the figures' counters, as the router counts them live.
 *
 * The definitions are data (metric_counters, migration 010); this module
 * holds them in memory and says which counters an event counts for, by the
 * same rules hl_metric_counts() applies in SQL: the event's kind among the
 * counter's kinds; its new state among to_states (if any); its payload
 * value for payload_key among payload_values (or, with none listed, the key
 * present); and, for an on-time counter, the event at or before the
 * deadline of that clock it recorded. Live counts go to Redis, one hash per
 * local day (HL_FIGURES_KEY "2026-11-22"), one field per counter and
 * ticket dimensions: "counter|unit|category|region|channel".
 */
#ifndef HOTLINE_FIGURES_H
#define HOTLINE_FIGURES_H

#include <stddef.h>
#include <stdint.h>

#include "hotline/err.h"

#define HL_FIGURES_KEY "hl:m:"   /* + the local day, YYYY-MM-DD */

typedef struct hl_figures hl_figures_t;

/* An event as counted. */
typedef struct {
    const char *kind;            /* "intake", "sign", ... */
    const char *to_state;        /* "DISPATCHED", ... */
    size_t npayload;
    const char *const *keys, *const *values;
    int64_t at_ms;
    int64_t due_ms[4];           /* sign, contact, reply, callback in force after it; 0: none */
} hl_figure_event_t;

hl_figures_t *hl_figures_new(void);
void hl_figures_destroy(hl_figures_t **self_p);

/* Add a counter; kinds, to_states and payload_values are PostgreSQL array
 * literals ("{intake,dispatch}") or NULL, on_time NULL or a clock name.
 * Returns 0 or HL_EINVAL. */
HL_MUSTCHECK int hl_figures_add(hl_figures_t *m, const char *name, const char *kinds, const char *to_states,
                                const char *payload_key, const char *payload_values, const char *on_time);
size_t hl_figures_count(const hl_figures_t *m);

/* The counters e counts for: fn(name, arg) for each; returns how many. */
size_t hl_figures_match(const hl_figures_t *m, const hl_figure_event_t *e, void (*fn)(const char *name, void *arg),
                        void *arg);

/* The Redis hash field of a counter for these dimensions (NULL or "" for
 * none), '|' in a value replaced by '/'. Returns out. */
char *hl_figures_field(char *out, size_t len, const char *counter, const char *unit, const char *category,
                       const char *region, const char *channel);

#endif
