/* simcache.c - the open tickets a preview compares a new text with.
 *
 * Per category and district, the newest open tickets (at most
 * HL_SIMCACHE_MAX) with their bigram sets, as last read from PostgreSQL; a
 * set is used for HL_SIMCACHE_TTL_MS after that read, and the tickets this
 * router stores meanwhile are added at the front. So a busy intake makes one
 * candidate query per category and district every few seconds instead of one
 * per ticket; a ticket closed meanwhile may still be shown as similar until
 * the set is read again. Single-threaded, like the router.
 */
#include <string.h>

#include "hotline/alloc.h"

#include "router_int.h"

struct hl_simcache {
    hl_simset_t **sets;
    size_t n, cap;
};

static void clear_set(hl_simset_t *s)
{
    for (int i = 0; i < s->n; i++) {
        hl_free(s->t[i].title);
        hl_bigrams_free(&s->t[i].bg);
    }
    s->n = 0;
}

static hl_simset_t *find(router_t *r, const char *key)
{
    if (!r->simcache) return NULL;
    for (size_t i = 0; i < r->simcache->n; i++)
        if (strcmp(r->simcache->sets[i]->key, key) == 0) return r->simcache->sets[i];
    return NULL;
}

static hl_simset_t *make(router_t *r, const char *key)
{
    hl_simset_t *s = find(r, key);
    if (!s) {
        if (!r->simcache) r->simcache = hl_calloc(1, sizeof *r->simcache);
        hl_simcache_t *c = r->simcache;
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 64;
            c->sets = hl_realloc(c->sets, c->cap * sizeof *c->sets);
        }
        s = c->sets[c->n++] = hl_calloc(1, sizeof *s);
        snprintf(s->key, sizeof s->key, "%s", key);
    }
    return s;
}

const hl_simset_t *hl__simcache_get(router_t *r, const char *key, int64_t now_ms)
{
    hl_simset_t *s = find(r, key);
    return s && now_ms - s->fetched_ms < HL_SIMCACHE_TTL_MS ? s : NULL;
}

const hl_simset_t *hl__simcache_claim(router_t *r, const char *key, int64_t now_ms)
{
    hl_simset_t *s = make(r, key);
    if (now_ms - s->fetched_ms < HL_SIMCACHE_TTL_MS || s->refreshing) return s;
    s->refreshing = true;
    return NULL;
}

void hl__simcache_release(router_t *r, const char *key)
{
    hl_simset_t *s = find(r, key);
    if (s) s->refreshing = false;
}

hl_simset_t *hl__simcache_reset(router_t *r, const char *key, int64_t now_ms)
{
    hl_simset_t *s = make(r, key);
    clear_set(s);
    s->fetched_ms = now_ms;
    s->refreshing = false;
    return s;
}

void hl__simcache_add(router_t *r, const char *key, const hl_simticket_t *t, bool front)
{
    hl_simset_t *s = find(r, key);
    if (!s) {
        hl_bigrams_t bg = t->bg;
        hl_bigrams_free(&bg);
        return;
    }
    if (front) {
        if (s->n == HL_SIMCACHE_MAX) {
            hl_free(s->t[s->n - 1].title);
            hl_bigrams_free(&s->t[s->n - 1].bg);
            s->n--;
        }
        memmove(&s->t[1], &s->t[0], (size_t)s->n * sizeof s->t[0]);
        s->t[0] = *t;
    } else if (s->n < HL_SIMCACHE_MAX) {
        s->t[s->n] = *t;
    } else {
        hl_free(t->title);
        hl_bigrams_t bg = t->bg;
        hl_bigrams_free(&bg);
        return;
    }
    s->n++;
}

void hl__simcache_destroy(router_t *r)
{
    hl_simcache_t *c = r->simcache;
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        clear_set(c->sets[i]);
        hl_free(c->sets[i]);
    }
    hl_free(c->sets);
    hl_free(c);
    r->simcache = NULL;
}
