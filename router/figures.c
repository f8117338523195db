/* figures.c - the figures' counters in memory (see figures.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/lifecycle.h"
#include "hotline/figures.h"

#define MAX_LIST 16

typedef struct {
    char *name;
    char *kinds[MAX_LIST];
    int nkinds;
    char *states[MAX_LIST];
    int nstates;               /* 0: any */
    char *key;                 /* NULL: any payload */
    char *values[MAX_LIST];
    int nvalues;               /* 0: the key present */
    int clock;                 /* -1: no on-time rule */
    unsigned any, none;        /* history rules: HL_FIGURES_* */
    int anonymous;             /* -1: any request, 0: named ones, 1: anonymous ones */
} counter_t;

struct hl_figures {
    counter_t *c;
    size_t n, cap;
};

hl_figures_t *hl_figures_new(void)
{
    return hl_calloc(1, sizeof(hl_figures_t));
}

static void free_list(char **a, int n)
{
    for (int i = 0; i < n; i++) hl_free(a[i]);
}

void hl_figures_destroy(hl_figures_t **self_p)
{
    hl_figures_t *m = *self_p;
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) {
        counter_t *c = &m->c[i];
        hl_free(c->name);
        hl_free(c->key);
        free_list(c->kinds, c->nkinds);
        free_list(c->states, c->nstates);
        free_list(c->values, c->nvalues);
    }
    hl_free(m->c);
    hl_free(m);
    *self_p = NULL;
}

/* A PostgreSQL array literal of plain words ("{a,b}") into out; -1 if it
 * is not one or has more than MAX_LIST. */
static int parse_list(const char *s, char **out)
{
    size_t len = s ? strlen(s) : 0;
    if (len < 2 || s[0] != '{' || s[len - 1] != '}') return -1;
    int n = 0;
    const char *p = s + 1, *end = s + len - 1;
    while (p < end) {
        const char *q = memchr(p, ',', (size_t)(end - p));
        if (!q) q = end;
        if (q == p || n == MAX_LIST || memchr(p, '"', (size_t)(q - p))) {
            free_list(out, n);
            return -1;
        }
        out[n++] = hl_strndup(p, (size_t)(q - p));
        p = q + 1;
    }
    return n;
}

/* A history list into HL_FIGURES_* bits; -1 if it names anything else. */
static int history_bits(const char *list, unsigned *out)
{
    static const char *const names[] = {"return_approved", "reopened", "supervised", "merged"};
    char *v[MAX_LIST];
    *out = 0;
    if (!list) return 0;
    int n = parse_list(list, v), rc = n < 0 ? -1 : 0;
    for (int i = 0; i < n; i++) {
        size_t k = 0;
        while (k < sizeof names / sizeof *names && strcmp(names[k], v[i]) != 0) k++;
        if (k == sizeof names / sizeof *names) rc = -1;
        else *out |= 1u << k;
    }
    free_list(v, n > 0 ? n : 0);
    return rc;
}

unsigned hl_figures_history(int return_count, int reopen_count, int supervision, int64_t parent_id)
{
    return (return_count > 0 ? HL_FIGURES_RETURNED : 0u) | (reopen_count > 0 ? HL_FIGURES_REOPENED : 0u) |
           (supervision > 0 ? HL_FIGURES_SUPERVISED : 0u) | (parent_id != 0 ? HL_FIGURES_MERGED : 0u);
}

int hl_figures_add(hl_figures_t *m, const hl_figure_def_t *d)
{
    counter_t c = {.clock = -1, .anonymous = -1};
    if (!d->name || !*d->name) return HL_EINVAL;
    if (history_bits(d->history_any, &c.any) != 0 || history_bits(d->history_none, &c.none) != 0) return HL_EINVAL;
    if (d->anonymous) {
        if (strcmp(d->anonymous, "t") != 0 && strcmp(d->anonymous, "f") != 0) return HL_EINVAL;
        c.anonymous = d->anonymous[0] == 't';
    }
    c.nkinds = parse_list(d->kinds, c.kinds);
    c.nstates = d->to_states ? parse_list(d->to_states, c.states) : 0;
    c.nvalues = d->payload_values ? parse_list(d->payload_values, c.values) : 0;
    hl_clock_t clock;
    bool bad = c.nkinds < 1 || c.nstates < 0 || c.nvalues < 0 || (d->payload_values && !d->payload_key) ||
               (d->on_time && hl_clock_parse(d->on_time, &clock) != 0);
    if (bad) {
        free_list(c.kinds, c.nkinds > 0 ? c.nkinds : 0);
        free_list(c.states, c.nstates > 0 ? c.nstates : 0);
        free_list(c.values, c.nvalues > 0 ? c.nvalues : 0);
        return HL_EINVAL;
    }
    if (d->on_time) c.clock = (int)clock;
    c.name = hl_strdup(d->name);
    c.key = d->payload_key ? hl_strdup(d->payload_key) : NULL;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->c = hl_realloc(m->c, m->cap * sizeof *m->c);
    }
    m->c[m->n++] = c;
    return 0;
}

size_t hl_figures_count(const hl_figures_t *m)
{
    return m ? m->n : 0;
}

static bool in(char *const *list, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (s && strcmp(list[i], s) == 0) return true;
    return false;
}

static const char *payload(const hl_figure_event_t *e, const char *key)
{
    for (size_t i = 0; i < e->npayload; i++)
        if (strcmp(e->keys[i], key) == 0) return e->values[i];
    return NULL;
}

size_t hl_figures_match(const hl_figures_t *m, const hl_figure_event_t *e, void (*fn)(const char *name, void *arg),
                        void *arg)
{
    size_t hits = 0;
    for (size_t i = 0; m && i < m->n; i++) {
        const counter_t *c = &m->c[i];
        if (!in(c->kinds, c->nkinds, e->kind)) continue;
        if (c->nstates && !in(c->states, c->nstates, e->to_state)) continue;
        if (c->key) {
            const char *v = payload(e, c->key);
            if (!v || (c->nvalues && !in(c->values, c->nvalues, v))) continue;
        }
        if (c->clock >= 0 && !(e->due_ms[c->clock] && e->at_ms <= e->due_ms[c->clock])) continue;
        if ((c->any && !(e->history & c->any)) || (e->history & c->none)) continue;
        if (c->anonymous >= 0 && c->anonymous != (int)e->anonymous) continue;
        fn(c->name, arg);
        hits++;
    }
    return hits;
}

static size_t put(char *out, size_t len, size_t n, const char *s, bool sep)
{
    if (sep && n + 1 < len) out[n++] = '|';
    for (; s && *s && n + 1 < len; s++) out[n++] = *s == '|' ? '/' : *s;
    out[n < len ? n : len - 1] = '\0';
    return n;
}

char *hl_figures_field(char *out, size_t len, const char *counter, const char *unit, const char *category,
                       const char *region, const char *channel)
{
    size_t n = 0;
    out[0] = '\0';
    n = put(out, len, n, counter, false);
    n = put(out, len, n, unit, true);
    n = put(out, len, n, category, true);
    n = put(out, len, n, region, true);
    (void)put(out, len, n, channel, true);
    return out;
}
