/* similar.c - character-bigram Dice similarity, estimated from signatures. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/similar.h"
#include "hotline/utf8.h"

#define MAX_CPS 4096
#define WORDS (HL_SIMSIG_BITS / 64)

/* Characters that carry no meaning for similarity. */
static int skip(uint32_t c)
{
    if (c <= 0x7F) return !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
    return (c >= 0x3000 && c <= 0x303F) || (c >= 0xFF00 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) ||
           c == 0x2014 || c == 0x2026 || c == 0x201C || c == 0x201D || c == 0x2018 || c == 0x2019;
}

/* Linear counting: the distinct items that set `bits` of the map, from a
 * table made once. */
static double table[HL_SIMSIG_BITS + 1];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void make_table(void)
{
    for (unsigned b = 0; b <= HL_SIMSIG_BITS; b++)
        table[b] = -(double)HL_SIMSIG_BITS * log1p(-(double)(b < HL_SIMSIG_BITS ? b : b - 1) / HL_SIMSIG_BITS);
}

static double estimate(unsigned bits)
{
    return table[bits];
}

/* Built once per CPU kind: the POPCNT instruction where the CPU has it. */
__attribute__((target_clones("popcnt", "default"))) static unsigned count_bits_words(const uint64_t *a,
                                                                                   const uint64_t *b)
{
    unsigned n = 0;
    if (b) {
        for (int i = 0; i < WORDS; i++) n += (unsigned)__builtin_popcountll(a[i] | b[i]);
    } else {
        for (int i = 0; i < WORDS; i++) n += (unsigned)__builtin_popcountll(a[i]);
    }
    return n;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* Eight words per instruction where the CPU counts bits in vectors
 * (AVX-512 VPOPCNTDQ): a comparison of two signatures takes ~4 ns instead
 * of ~23, and an intake is compared with up to 100 open tickets. */
__attribute__((target("avx512f,avx512vpopcntdq"))) static unsigned count_bits_avx512(const uint64_t *a,
                                                                                  const uint64_t *b)
{
    __m512i acc = _mm512_setzero_si512();
    for (int i = 0; i < WORDS; i += 8) {
        __m512i x = _mm512_loadu_si512(a + i);
        if (b) x = _mm512_or_si512(x, _mm512_loadu_si512(b + i));
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
    }
    return (unsigned)_mm512_reduce_add_epi64(acc);
}
#endif

static unsigned (*count_bits)(const uint64_t *a, const uint64_t *b) = count_bits_words;

static void setup(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vpopcntdq")) count_bits = count_bits_avx512;
#endif
    make_table();
}

/* Sets the bits of text's bigrams, carrying the previous character and the
 * count of characters read over from an earlier text. */
static void add_bigrams(hl_simsig_t *s, const char *text, size_t len, uint32_t *prev, size_t *cps)
{
    size_t i = 0;
    while (i < len && *cps < MAX_CPS) {
        uint32_t c = hl_utf8_next(text, len, &i);
        if (c - 0x4E00u > 0x9FFFu - 0x4E00u) { /* not a CJK ideograph, most of a text */
            if (skip(c) || c == 0xFFFD) continue;
            if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
        }
        ++*cps;
        if (*prev) {
            uint64_t h = ((uint64_t)*prev << 32 | c) * 0x9E3779B97F4A7C15ULL;
            unsigned bit = (unsigned)(h >> (64 - 12)); /* 12 bits: 4,096 */
            s->w[bit / 64] |= 1ULL << (bit % 64);
        }
        *prev = c;
    }
}

void hl_simsig_of(hl_simsig_t *s, const char *text, size_t len)
{
    hl_simsig_of2(s, text, len, NULL, 0);
}

void hl_simsig_of2(hl_simsig_t *s, const char *a, size_t alen, const char *b, size_t blen)
{
    pthread_once(&table_once, setup);
    memset(s, 0, sizeof *s);
    uint32_t prev = 0;
    size_t cps = 0;
    add_bigrams(s, a, alen, &prev, &cps);
    if (b) add_bigrams(s, b, blen, &prev, &cps);
    s->card = estimate(count_bits(s->w, NULL));
}

double hl_simsig_dice(const hl_simsig_t *a, const hl_simsig_t *b)
{
    double sum = (double)a->card + (double)b->card;
    if (a->card == 0 || b->card == 0) return 0;
    double both = sum - estimate(count_bits(a->w, b->w));
    if (both <= 0) return 0;
    double d = 2.0 * both / sum;
    return d > 1 ? 1 : d;
}

size_t hl_simsig_group(const hl_simsig_t *sigs, const bool *skip, size_t n, double least, size_t *group)
{
    size_t *first = hl_malloc((n ? n : 1) * sizeof *first), ngroups = 0;
    for (size_t i = 0; i < n; i++) {
        group[i] = SIZE_MAX;
        if (skip && skip[i]) continue;
        size_t best = SIZE_MAX;
        double best_d = least;
        for (size_t g = 0; g < ngroups; g++) {
            double d = hl_simsig_dice(&sigs[first[g]], &sigs[i]);
            if (d >= best_d) best = g, best_d = d;
        }
        if (best == SIZE_MAX) {
            best = ngroups++;
            first[best] = i;
        }
        group[i] = best;
    }
    hl_free(first);
    return ngroups;
}
