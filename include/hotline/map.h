/* map.h - a hash map from strings to pointers (open addressing).
 *
 * The map copies keys and owns the copies; values are borrowed pointers the
 * caller manages. Iteration order is unspecified.
 */
#ifndef HOTLINE_MAP_H
#define HOTLINE_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hl_map hl_map_t;

hl_map_t *hl_map_new(void);
/* Free the map and its key copies (not the values). */
void hl_map_destroy(hl_map_t **self_p);
/* The value of key (len bytes), or NULL. */
void *hl_map_get(const hl_map_t *m, const char *key, size_t len);
/* Set key to value (not NULL); returns the previous value or NULL. */
void *hl_map_put(hl_map_t *m, const char *key, size_t len, void *value);
/* Remove key; returns its value or NULL. */
void *hl_map_del(hl_map_t *m, const char *key, size_t len);
size_t hl_map_size(const hl_map_t *m);
/* Call fn for each entry; fn must not change the map. */
void hl_map_each(const hl_map_t *m, void (*fn)(void *arg, const char *key, void *value),
                 void *arg);

/* A 64-bit hash of bytes (FNV-1a with a final mix). */
uint64_t hl_hash(const void *data, size_t len);

#endif
