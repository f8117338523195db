/* dlindex.c - open deadlines: flat entries, a linear-probing hash, a min-heap. */
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/dlindex.h"

typedef struct {
    int64_t at;
    uint32_t slot;
} node_t;

struct hl_dlindex {
    hl_dl_t *dl;          /* entries; free ones have id -1 and are listed in free_ */
    uint32_t n, cap;      /* slots used (incl. free ones), allocated */
    uint32_t *free_;      /* free slots */
    uint32_t nfree, capfree;
    uint32_t *table;      /* hash: slot + 1, 0 = empty */
    uint32_t mask;        /* table size - 1 */
    uint32_t count;       /* live entries */
    node_t *heap;
    uint32_t nheap, capheap;
};

static uint64_t mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static uint32_t home(const hl_dlindex_t *x, int64_t id, int clock)
{
    return (uint32_t)mix((uint64_t)id * 8u + (uint64_t)clock) & x->mask;
}

hl_dlindex_t *hl_dlindex_new(void)
{
    hl_dlindex_t *x = hl_calloc(1, sizeof *x);
    x->mask = 1023;
    x->table = hl_calloc(x->mask + 1, sizeof(uint32_t));
    return x;
}

void hl_dlindex_destroy(hl_dlindex_t **self_p)
{
    hl_dlindex_t *x = *self_p;
    if (!x) return;
    hl_free(x->dl);
    hl_free(x->free_);
    hl_free(x->table);
    hl_free(x->heap);
    hl_free(x);
    *self_p = NULL;
}

void hl_dlindex_clear(hl_dlindex_t *x)
{
    memset(x->table, 0, ((size_t)x->mask + 1) * sizeof(uint32_t));
    x->n = x->nfree = x->count = x->nheap = 0;
}

size_t hl_dlindex_count(const hl_dlindex_t *x)
{
    return x->count;
}

size_t hl_dlindex_memory(const hl_dlindex_t *x)
{
    return sizeof *x + (size_t)x->cap * sizeof(hl_dl_t) + (size_t)x->capfree * sizeof(uint32_t) +
           ((size_t)x->mask + 1) * sizeof(uint32_t) + (size_t)x->capheap * sizeof(node_t);
}

/* ------------------------------------------------------------ the heap */

static void place(hl_dlindex_t *x, uint32_t i, node_t v)
{
    x->heap[i] = v;
    x->dl[v.slot].hpos = i + 1;
}

static void sift_up(hl_dlindex_t *x, uint32_t i)
{
    node_t v = x->heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (x->heap[p].at <= v.at) break;
        place(x, i, x->heap[p]);
        i = p;
    }
    place(x, i, v);
}

static void sift_down(hl_dlindex_t *x, uint32_t i)
{
    node_t v = x->heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= x->nheap) break;
        if (c + 1 < x->nheap && x->heap[c + 1].at < x->heap[c].at) c++;
        if (x->heap[c].at >= v.at) break;
        place(x, i, x->heap[c]);
        i = c;
    }
    place(x, i, v);
}

void hl_dlindex_unschedule(hl_dlindex_t *x, hl_dl_t *d)
{
    if (!d->hpos) return;
    uint32_t i = d->hpos - 1;
    d->hpos = 0;
    x->nheap--;
    if (i == x->nheap) return;
    x->heap[i] = x->heap[x->nheap];
    x->dl[x->heap[i].slot].hpos = i + 1;
    if (i > 0 && x->heap[(i - 1) / 2].at > x->heap[i].at)
        sift_up(x, i);
    else
        sift_down(x, i);
}

void hl_dlindex_schedule(hl_dlindex_t *x, hl_dl_t *d, int64_t at)
{
    uint32_t slot = (uint32_t)(d - x->dl);
    if (d->hpos) {
        uint32_t i = d->hpos - 1;
        int64_t old = x->heap[i].at;
        x->heap[i].at = at;
        if (at < old)
            sift_up(x, i);
        else
            sift_down(x, i);
        return;
    }
    if (x->nheap == x->capheap) {
        x->capheap = x->capheap ? x->capheap * 2 : 1024;
        x->heap = hl_realloc(x->heap, (size_t)x->capheap * sizeof(node_t));
    }
    x->heap[x->nheap] = (node_t){at, slot};
    sift_up(x, x->nheap++);
}

hl_dl_t *hl_dlindex_first(hl_dlindex_t *x, int64_t *at)
{
    if (!x->nheap) return NULL;
    if (at) *at = x->heap[0].at;
    return &x->dl[x->heap[0].slot];
}

/* ------------------------------------------------------------ the hash */

static void grow_table(hl_dlindex_t *x)
{
    uint32_t size = (x->mask + 1) * 2;
    hl_free(x->table);
    x->table = hl_calloc(size, sizeof(uint32_t));
    x->mask = size - 1;
    for (uint32_t s = 0; s < x->n; s++) {
        if (x->dl[s].id < 0) continue;
        uint32_t h = home(x, x->dl[s].id, x->dl[s].clock);
        while (x->table[h]) h = (h + 1) & x->mask;
        x->table[h] = s + 1;
    }
}

hl_dl_t *hl_dlindex_get(hl_dlindex_t *x, int64_t id, int clock)
{
    for (uint32_t h = home(x, id, clock);; h = (h + 1) & x->mask) {
        uint32_t v = x->table[h];
        if (!v) return NULL;
        hl_dl_t *d = &x->dl[v - 1];
        if (d->id == id && d->clock == clock) return d;
    }
}

hl_dl_t *hl_dlindex_put(hl_dlindex_t *x, int64_t id, int clock, bool *created)
{
    hl_dl_t *d = hl_dlindex_get(x, id, clock);
    if (created) *created = d == NULL;
    if (d) return d;
    if ((uint64_t)(x->count + 1) * 2 > (uint64_t)x->mask + 1) grow_table(x);
    uint32_t slot;
    if (x->nfree) {
        slot = x->free_[--x->nfree];
    } else {
        if (x->n == x->cap) {
            x->cap = x->cap ? x->cap * 2 : 1024;
            x->dl = hl_realloc(x->dl, (size_t)x->cap * sizeof(hl_dl_t));
        }
        slot = x->n++;
    }
    d = &x->dl[slot];
    memset(d, 0, sizeof *d);
    d->id = id;
    d->clock = (uint8_t)clock;
    uint32_t h = home(x, id, clock);
    while (x->table[h]) h = (h + 1) & x->mask;
    x->table[h] = slot + 1;
    x->count++;
    return d;
}

void hl_dlindex_remove(hl_dlindex_t *x, hl_dl_t *d)
{
    hl_dlindex_unschedule(x, d);
    uint32_t slot = (uint32_t)(d - x->dl);
    uint32_t h = home(x, d->id, d->clock);
    while (x->table[h] != slot + 1) h = (h + 1) & x->mask;
    /* Backward-shift deletion: move later members of the run into the gap. */
    uint32_t gap = h;
    for (uint32_t j = (gap + 1) & x->mask; x->table[j]; j = (j + 1) & x->mask) {
        const hl_dl_t *e = &x->dl[x->table[j] - 1];
        uint32_t want = home(x, e->id, e->clock);
        /* e may move to the gap if its home is not in (gap, j]. */
        bool between = gap <= j ? (want > gap && want <= j) : (want > gap || want <= j);
        if (!between) {
            x->table[gap] = x->table[j];
            gap = j;
        }
    }
    x->table[gap] = 0;
    d->id = -1;
    if (x->nfree == x->capfree) {
        x->capfree = x->capfree ? x->capfree * 2 : 256;
        x->free_ = hl_realloc(x->free_, (size_t)x->capfree * sizeof(uint32_t));
    }
    x->free_[x->nfree++] = slot;
    x->count--;
}

void hl_dlindex_each(hl_dlindex_t *x, void (*fn)(hl_dl_t *d, int64_t at, void *arg), void *arg)
{
    for (uint32_t s = 0; s < x->n; s++) {
        hl_dl_t *d = &x->dl[s];
        if (d->id < 0) continue;
        fn(d, d->hpos ? x->heap[d->hpos - 1].at : INT64_MAX, arg);
    }
}
