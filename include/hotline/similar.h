/* similar.h - how alike two citizens' texts are, for duplicate detection.
 *
 * The Dice coefficient of the two texts' sets of character bigrams (UTF-8
 * code points; white space, ASCII punctuation and CJK punctuation dropped,
 * ASCII letters folded to lower case): 1 for the same text, 0 for texts
 * with no pair of characters in common. Chinese needs no segmenter for this;
 * two requests about the same broken street lamp share most bigrams. Texts
 * are cut at 4,096 code points.
 *
 * A text is kept as a signature: its bigrams hashed into a 4,096-bit map.
 * The sizes of two sets and of their union are estimated from the bits set
 * (linear counting), so a comparison is 64 AND/OR and popcounts, ~50 ns,
 * instead of a merge of two sorted lists. For texts of up to ~1,000 bigrams
 * the estimate is within a few hundredths of the exact coefficient; the
 * same set scores exactly 1, sets with no bit in common exactly 0.
 */
#ifndef HOTLINE_SIMILAR_H
#define HOTLINE_SIMILAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HL_SIMSIG_BITS 4096

typedef struct {
    uint64_t w[HL_SIMSIG_BITS / 64];
    double card;             /* the estimated number of distinct bigrams */
} hl_simsig_t;

/* The signature of len bytes of text (invalid UTF-8 is skipped). */
void hl_simsig_of(hl_simsig_t *s, const char *text, size_t len);
/* The signature of a and b read as one text with a space between them (b may
 * be NULL), without joining them first. */
void hl_simsig_of2(hl_simsig_t *s, const char *a, size_t alen, const char *b, size_t blen);
/* Estimated Dice coefficient of two texts, 0-1. */
double hl_simsig_dice(const hl_simsig_t *a, const hl_simsig_t *b);

/* Groups texts by likeness, in their order (leader clustering): each joins
 * the group whose first member it is most alike, by at least `least` (the
 * later group on a tie), or starts a group of its own. group[i] gets text
 * i's group number, numbered in order of their first members; SIZE_MAX
 * where skip[i] (skip may be NULL; a skipped text's signature is not read).
 * Returns the number of groups. Cost: n x groups comparisons. */
size_t hl_simsig_group(const hl_simsig_t *sigs, const bool *skip, size_t n, double least, size_t *group);

#endif
