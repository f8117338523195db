/* dlindex.h - an index of open deadlines, ordered by when each needs work.
 *
 * One entry per running deadline of a ticket (ticket id x clock), found by
 * (id, clock) through an open-addressing hash table and ordered by its next
 * due time in a binary min-heap. Everything lives in three flat arrays: about
 * 64 bytes per deadline, so a million open deadlines take some 64 MB, and
 * every operation is O(1) or O(log n). Not thread-safe.
 *
 * Entry pointers are valid until the next hl_dlindex_put (which may move the
 * entries); keep (id, clock) across calls, not pointers.
 */
#ifndef HOTLINE_DLINDEX_H
#define HOTLINE_DLINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t id;        /* ticket id */
    int64_t due;       /* the deadline in force, ms since the epoch */
    int64_t start;     /* when its clock started, ms */
    int32_t day;       /* the ticket's local creation day (for its number) */
    uint32_t version;  /* the ticket version this entry was built from */
    uint8_t clock;     /* hl_clock_t */
    uint8_t sent;      /* the last notice stage sent for this deadline */
    uint8_t cal;       /* the caller's calendar index */
    uint8_t flags;     /* the caller's */
    uint32_t hpos;     /* position in the heap + 1; 0 = not scheduled (private) */
} hl_dl_t;

typedef struct hl_dlindex hl_dlindex_t;

hl_dlindex_t *hl_dlindex_new(void);
void hl_dlindex_destroy(hl_dlindex_t **self_p);
/* Forget every entry (the memory stays for reuse). */
void hl_dlindex_clear(hl_dlindex_t *x);

size_t hl_dlindex_count(const hl_dlindex_t *x);
/* Bytes held by the index. */
size_t hl_dlindex_memory(const hl_dlindex_t *x);

/* The entry of (id, clock), or NULL. */
hl_dl_t *hl_dlindex_get(hl_dlindex_t *x, int64_t id, int clock);
/* The entry of (id, clock), made (zeroed but for id and clock, not
 * scheduled) if it was not there; *created says which. */
hl_dl_t *hl_dlindex_put(hl_dlindex_t *x, int64_t id, int clock, bool *created);
/* Remove an entry (and its schedule). */
void hl_dlindex_remove(hl_dlindex_t *x, hl_dl_t *d);

/* Schedule an entry at `at` (ms), replacing its earlier schedule. */
void hl_dlindex_schedule(hl_dlindex_t *x, hl_dl_t *d, int64_t at);
/* Take an entry off the schedule (it stays in the index). */
void hl_dlindex_unschedule(hl_dlindex_t *x, hl_dl_t *d);
/* The earliest scheduled entry and its time, or NULL. */
hl_dl_t *hl_dlindex_first(hl_dlindex_t *x, int64_t *at);

/* Call fn for every entry (do not put or remove from fn). */
void hl_dlindex_each(hl_dlindex_t *x, void (*fn)(hl_dl_t *d, int64_t at, void *arg), void *arg);

#endif
