/* map.c - open addressing with linear probing and backward-shift deletion. */
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/map.h"

typedef struct {
    char *key; /* NULL = empty slot */
    size_t len;
    uint64_t hash;
    void *value;
} slot_t;

struct hl_map {
    slot_t *slots;
    size_t cap; /* power of two */
    size_t n;
};

uint64_t hl_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

hl_map_t *hl_map_new(void)
{
    hl_map_t *m = hl_calloc(1, sizeof *m);
    m->cap = 16;
    m->slots = hl_calloc(m->cap, sizeof(slot_t));
    return m;
}

void hl_map_destroy(hl_map_t **self_p)
{
    hl_map_t *m = *self_p;
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++) hl_free(m->slots[i].key);
    hl_free(m->slots);
    hl_free(m);
    *self_p = NULL;
}

static size_t find(const hl_map_t *m, const char *key, size_t len, uint64_t h)
{
    size_t i = h & (m->cap - 1);
    while (m->slots[i].key) {
        const slot_t *s = &m->slots[i];
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return i;
        i = (i + 1) & (m->cap - 1);
    }
    return i;
}

static void grow(hl_map_t *m)
{
    slot_t *old = m->slots;
    size_t oldcap = m->cap;
    m->cap *= 2;
    m->slots = hl_calloc(m->cap, sizeof(slot_t));
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].key) continue;
        size_t j = old[i].hash & (m->cap - 1);
        while (m->slots[j].key) j = (j + 1) & (m->cap - 1);
        m->slots[j] = old[i];
    }
    hl_free(old);
}

void *hl_map_get(const hl_map_t *m, const char *key, size_t len)
{
    size_t i = find(m, key, len, hl_hash(key, len));
    return m->slots[i].key ? m->slots[i].value : NULL;
}

void *hl_map_put(hl_map_t *m, const char *key, size_t len, void *value)
{
    if ((m->n + 1) * 4 > m->cap * 3) grow(m);
    uint64_t h = hl_hash(key, len);
    size_t i = find(m, key, len, h);
    if (m->slots[i].key) {
        void *prev = m->slots[i].value;
        m->slots[i].value = value;
        return prev;
    }
    m->slots[i] = (slot_t){hl_strndup(key, len), len, h, value};
    m->n++;
    return NULL;
}

void *hl_map_del(hl_map_t *m, const char *key, size_t len)
{
    size_t i = find(m, key, len, hl_hash(key, len));
    if (!m->slots[i].key) return NULL;
    void *value = m->slots[i].value;
    hl_free(m->slots[i].key);
    m->slots[i].key = NULL;
    m->n--;
    /* Shift back the entries of the cluster that follows. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & (m->cap - 1);
        if (!m->slots[j].key) break;
        size_t home = m->slots[j].hash & (m->cap - 1);
        /* Move j into the hole i unless its home lies cyclically in (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = NULL;
            i = j;
        }
    }
    return value;
}

size_t hl_map_size(const hl_map_t *m)
{
    return m->n;
}

void hl_map_each(const hl_map_t *m, void (*fn)(void *arg, const char *key, void *value), void *arg)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key) fn(arg, m->slots[i].key, m->slots[i].value);
}
