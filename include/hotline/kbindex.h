/* kbindex.h - the knowledge base's search index: BM25 over character bigrams.
 *
 * An entry's text is normalised like the classifier's (hl_feat_normalize:
 * full-width to half-width, lower case, digits to '0', punctuation and white
 * space dropped) and cut into character bigrams in two fields: the question
 * (title and variants, weight 1) and the head of the answer (its first
 * HL_KB_ANSWER_HEAD characters, weight HL_KB_ANSWER_WEIGHT: official replies
 * usually restate the question there). A query is scored BM25F-style (k1 1.2,
 * b 0.75 per field) and the score is divided by the query's own ideal score
 * (every query bigram found once in a question of average length), so 1.0
 * means "as good as a matching question" whatever the query's length; the
 * normalised score is what thresholds (suggestions, gaps) compare with.
 *
 * The index holds what may be served: the caller puts published entries and
 * removes the others; the validity window is checked at search time, so an
 * entry starts and stops being served on time without a change. Put replaces
 * an entry with the same id; removed entries leave their postings behind
 * until they are a third of all postings, then the postings are rebuilt.
 *
 * Not thread-safe: the caller serialises puts and removes against searches
 * (the gateway uses a read-write lock). Searches may run concurrently, each
 * with its own hl_kbscratch_t.
 */
#ifndef HOTLINE_KBINDEX_H
#define HOTLINE_KBINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hotline/err.h"

#define HL_KB_ANSWER_HEAD 256     /* characters of an answer indexed */
#define HL_KB_ANSWER_WEIGHT 0.5f
#define HL_KB_QUERY_MAX 512       /* characters of a query looked at */

typedef struct hl_kbindex hl_kbindex_t;

/* An entry as indexed; the index copies every string. */
typedef struct {
    int64_t id;
    int32_t version;
    const char *title;          /* the question */
    const char *variants;       /* other phrasings of it, one per line; may be NULL */
    const char *answer;
    const char *category;       /* category code; may be NULL */
    int64_t valid_from_ms;      /* 0: no start */
    int64_t valid_to_ms;        /* 0: no end (served while now < valid_to) */
} hl_kb_entry_t;

/* One search result; the strings belong to the index and stay valid until
 * the next put, remove or free. */
typedef struct {
    int64_t id;
    int32_t version;
    float score;                /* normalised, see above */
    const char *title;
    const char *answer;
    const char *category;
} hl_kb_hit_t;

/* Per-searcher working memory (grows with the index). */
typedef struct {
    float *acc;
    uint32_t *touched;
    size_t cap;
} hl_kbscratch_t;

hl_kbindex_t *hl_kbindex_new(void);
void hl_kbindex_free(hl_kbindex_t **self_p);

/* Add e, replacing the entry with its id if there is one. Returns 0 or
 * HL_EINVAL (id < 1, no title, invalid UTF-8). */
HL_MUSTCHECK int hl_kbindex_put(hl_kbindex_t *ix, const hl_kb_entry_t *e);

/* Forget entry id; false if it was not there. */
bool hl_kbindex_remove(hl_kbindex_t *ix, int64_t id);

/* Is entry id in the index, and at which version (0: absent)? */
int32_t hl_kbindex_version(const hl_kbindex_t *ix, int64_t id);

/* The best max entries for query q (qlen bytes; invalid UTF-8 is read as
 * U+FFFD) in the category given (its code or a parent's: "housing" matches
 * "housing.property"; NULL or "" for all), valid at now_ms, with a
 * normalised score of at least min_score, best first. Returns how many were
 * written to hits. */
size_t hl_kbindex_search(const hl_kbindex_t *ix, hl_kbscratch_t *s, const char *q, size_t qlen,
                         const char *category, int64_t now_ms, float min_score, hl_kb_hit_t *hits, size_t max);

void hl_kbscratch_free(hl_kbscratch_t *s);

size_t hl_kbindex_count(const hl_kbindex_t *ix);   /* entries */
size_t hl_kbindex_bytes(const hl_kbindex_t *ix);   /* memory held, approximately */

#endif
