/* matcher.h - multi-pattern substring search (Aho-Corasick) over bytes.
 *
 * Build once (add patterns, then hl_matcher_build), then scan any number of
 * texts in one pass each, whatever the number of patterns. A built matcher is
 * read-only and can be shared. Patterns are byte strings (UTF-8 text works as
 * is: a match of a whole UTF-8 pattern always starts on a character boundary).
 */
#ifndef HOTLINE_MATCHER_H
#define HOTLINE_MATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "hotline/err.h"

typedef struct hl_matcher hl_matcher_t;

/* Called for each occurrence: value given at hl_matcher_add, and the byte
 * offset just past the match. */
typedef void (*hl_match_fn)(void *arg, int32_t value, size_t end);

hl_matcher_t *hl_matcher_new(void);
void hl_matcher_destroy(hl_matcher_t **self_p);
/* Add a pattern (1-255 bytes) with a value >= 0. The same pattern may be
 * added with several values. Returns 0 or HL_EINVAL (empty, too long, the
 * matcher is already built, or the patterns need more than 32767 states,
 * i.e. roughly 10,000 Chinese keywords). */
HL_MUSTCHECK int hl_matcher_add(hl_matcher_t *m, const char *pattern, size_t len, int32_t value);
/* Compute the automaton; no more patterns after this. */
void hl_matcher_build(hl_matcher_t *m);
/* Report every occurrence of every pattern in text[0..len). */
void hl_matcher_scan(const hl_matcher_t *m, const char *text, size_t len, hl_match_fn fn,
                     void *arg);
/* Number of patterns added. */
size_t hl_matcher_count(const hl_matcher_t *m);

#endif
