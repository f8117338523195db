/* simcache.c - the open tickets a new text is compared with.
 *
 * Per category and district, the newest open tickets (at most
 * HL_SIMCACHE_MAX) with their signatures, as last read from PostgreSQL; a
 * preview uses a set for HL_SIMCACHE_TTL_MS after that read, an intake for
 * HL_SIMCACHE_STALE_MS (and has it read again after the TTL), and the
 * tickets this router stores meanwhile are added at the front. So a busy
 * intake makes one candidate query per category and district every few
 * seconds instead of one per ticket; a ticket closed meanwhile may still be
 * shown as similar until the set is read again. Single-threaded, like the
 * router.
 */
#include <string.h>

#include "hotline/alloc.h"

#include "router_int.h"

struct hl_simcache {
    hl_simset_t **sets;
    size_t n, cap;
};

/* Frees the tickets from index `from` on. */
static void clear_from(hl_simset_t *s, int from)
{
    for (int i = from; i < s->n; i++) hl_free(hl__simset_at(s, i)->title);
    s->n = from < s->n ? from : s->n;
}

hl_simset_t *hl__simcache_find(router_t *r, const char *key)
{
    if (!r->simcache) return NULL;
    for (size_t i = 0; i < r->simcache->n; i++)
        if (strcmp(r->simcache->sets[i]->key, key) == 0) return r->simcache->sets[i];
    return NULL;
}

static hl_simset_t *make(router_t *r, const char *key)
{
    hl_simset_t *s = hl__simcache_find(r, key);
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

hl_simset_t *hl__simcache_claim(router_t *r, const char *key, int64_t now_ms)
{
    hl_simset_t *s = make(r, key);
    if (now_ms - s->fetched_ms < HL_SIMCACHE_TTL_MS || s->refreshing) return s;
    s->refreshing = true;
    return NULL;
}

void hl__simcache_release(router_t *r, const char *key)
{
    hl_simset_t *s = hl__simcache_find(r, key);
    if (s) s->refreshing = false;
}

hl_simset_t *hl__simcache_reset(router_t *r, const char *key, int64_t now_ms, int64_t keep_since_ms)
{
    hl_simset_t *s = make(r, key);
    int keep = 0;
    while (keep < s->n && hl__simset_at(s, keep)->created_at >= keep_since_ms) keep++;
    clear_from(s, keep);
    s->fetched_ms = now_ms;
    s->refreshing = false;
    return s;
}

void hl__simcache_add(router_t *r, const char *key, const hl_simticket_t *t, bool front)
{
    hl_simset_t *s = hl__simcache_find(r, key);
    if (!s) {
        hl_free(t->title);
        return;
    }
    if (!front) {
        for (int i = 0; i < s->n; i++) {
            if (strcmp(hl__simset_at(s, i)->ticket, t->ticket) == 0) {
                hl_free(t->title);
                return;
            }
        }
    }
    if (front) {
        if (s->n == HL_SIMCACHE_MAX) clear_from(s, s->n - 1);
        s->head = (s->head + HL_SIMCACHE_MAX - 1) % HL_SIMCACHE_MAX;
        s->t[s->head] = *t;
    } else if (s->n < HL_SIMCACHE_MAX) {
        *hl__simset_at(s, s->n) = *t;
    } else {
        hl_free(t->title);
        return;
    }
    s->n++;
}

void hl__simcache_destroy(router_t *r)
{
    hl_simcache_t *c = r->simcache;
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        hl_simset_t *s = c->sets[i];
        while (s->waiting) {
            item_t *it = s->waiting;
            s->waiting = it->next;
            it->next = NULL;
            hl__router_answer(r, it, HOTLINE__STATUS__STATUS_TRY_LATER, "router is shutting down; retry");
        }
        clear_from(s, 0);
        hl_free(s);
    }
    hl_free(c->sets);
    hl_free(c);
    r->simcache = NULL;
}
