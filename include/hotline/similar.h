/* similar.h - how alike two citizens' texts are, for duplicate detection.
 *
 * The Dice coefficient of the two texts' sets of character bigrams (UTF-8
 * code points; white space, ASCII punctuation and CJK punctuation dropped,
 * ASCII letters folded to lower case): 1 for the same text, 0 for texts
 * with no pair of characters in common. Chinese needs no segmenter for this;
 * two requests about the same broken street lamp share most bigrams. Texts
 * are cut at 4,096 code points.
 */
#ifndef HOTLINE_SIMILAR_H
#define HOTLINE_SIMILAR_H

#include <stddef.h>
#include <stdint.h>

/* A text's bigram set, sorted, for comparing it with many others. */
typedef struct {
    uint64_t *grams;
    size_t n, cap;
} hl_bigrams_t;

void hl_bigrams_of(hl_bigrams_t *b, const char *text, size_t len);
void hl_bigrams_free(hl_bigrams_t *b);
/* Dice coefficient of two sets, 0-1. */
double hl_bigrams_dice(const hl_bigrams_t *a, const hl_bigrams_t *b);

#endif
