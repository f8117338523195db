/* similar.c - character-bigram Dice similarity. */
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/similar.h"
#include "hotline/utf8.h"

#define MAX_CPS 4096

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Characters that carry no meaning for similarity. */
static int skip(uint32_t c)
{
    if (c <= 0x7F) return !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
    return (c >= 0x3000 && c <= 0x303F) || (c >= 0xFF00 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) ||
           c == 0x2014 || c == 0x2026 || c == 0x201C || c == 0x201D || c == 0x2018 || c == 0x2019;
}

void hl_bigrams_of(hl_bigrams_t *b, const char *text, size_t len)
{
    b->n = 0;
    uint32_t prev = 0;
    size_t cps = 0, i = 0;
    while (i < len && cps < MAX_CPS) {
        uint32_t c = hl_utf8_next(text, len, &i);
        if (skip(c) || c == 0xFFFD) continue;
        if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
        cps++;
        if (prev) {
            if (b->n == b->cap) {
                b->cap = b->cap ? b->cap * 2 : 256;
                b->grams = hl_realloc(b->grams, b->cap * sizeof(uint64_t));
            }
            b->grams[b->n++] = (uint64_t)prev << 32 | c;
        }
        prev = c;
    }
    if (b->n > 1) qsort(b->grams, b->n, sizeof(uint64_t), cmp_u64);
    size_t u = 0;
    for (size_t j = 0; j < b->n; j++)
        if (u == 0 || b->grams[j] != b->grams[u - 1]) b->grams[u++] = b->grams[j];
    b->n = u;
}

void hl_bigrams_free(hl_bigrams_t *b)
{
    hl_free(b->grams);
    memset(b, 0, sizeof *b);
}

double hl_bigrams_dice(const hl_bigrams_t *a, const hl_bigrams_t *b)
{
    if (a->n == 0 || b->n == 0) return 0;
    size_t i = 0, j = 0, common = 0;
    while (i < a->n && j < b->n) {
        if (a->grams[i] == b->grams[j]) common++, i++, j++;
        else if (a->grams[i] < b->grams[j]) i++;
        else j++;
    }
    return 2.0 * (double)common / (double)(a->n + b->n);
}
