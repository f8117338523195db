/* features.c - UTF-8 decoding, normalisation and n-gram hashing. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "hotline/features.h"
#include "hotline/utf8.h"

int hl_feat_check(const hl_feat_cfg_t *cfg)
{
    if (cfg->bits < 12 || cfg->bits > 24 || cfg->nmin < 1 || cfg->nmax > 4 || cfg->nmin > cfg->nmax ||
        cfg->title > 1)
        return HL_EINVAL;
    return 0;
}

size_t hl_feat_capacity(const hl_feat_cfg_t *cfg, size_t len)
{
    size_t chars = len < HL_FEAT_MAX_CHARS ? len : HL_FEAT_MAX_CHARS;
    return 2 * chars * (size_t)(cfg->nmax - cfg->nmin + 1); /* a title counts twice */
}

static int url_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("-._~:/?#[]@!$&'()*+,;=%", c));
}

static int starts_url(const unsigned char *s, size_t len, size_t i)
{
    static const char *prefixes[] = {"http://", "https://", "www."};
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(prefixes[k]);
        if (len - i >= n && strncasecmp((const char *)s + i, prefixes[k], n) == 0) return 1;
    }
    return 0;
}

/* Punctuation and symbols that separate words rather than carry meaning:
 * ASCII punctuation, General Punctuation, CJK Symbols and Punctuation,
 * CJK compatibility forms and the rest of the full-width forms block. */
static int punct(uint32_t cp)
{
    if (cp < 0x80) return !((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9'));
    return (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x3000 && cp <= 0x303F) ||
           (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF65) || cp == 0xB7;
}

size_t hl_feat_normalize(const char *text, size_t len, uint32_t *out, size_t max)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, n = 0;
    while (i < len && n < max) {
        if ((s[i] == 'h' || s[i] == 'H' || s[i] == 'w' || s[i] == 'W') && starts_url(s, len, i)) {
            while (i < len && url_char(s[i])) i++;
            out[n++] = HL_FEAT_LINK;
            continue;
        }
        uint32_t cp = hl_utf8_next(text, len, &i);
        if (cp >= 0xFF01 && cp <= 0xFF5E) cp -= 0xFEE0; /* full-width ASCII */
        if (cp < 0x20 || cp == 0xA0 || punct(cp)) continue; /* white space too */
        if (cp >= 'A' && cp <= 'Z') cp += 32;
        if (cp >= '0' && cp <= '9') cp = '0';
        out[n++] = cp;
    }
    return n;
}

/* Hash the n-grams of cps[0..n) into out with the salts of one space. Code
 * points fit in 21 bits, so an n-gram of up to three is packed into one
 * 64-bit key, exactly; a 4-gram folds its oldest character in. One multiply
 * per n-gram (Fibonacci hashing of the salted key) gives the bucket from the
 * top bits. The constants are part of the model format: changing them needs
 * new models. */
static inline uint32_t bucket(uint64_t g, uint64_t salt, unsigned shift)
{
    return (uint32_t)(((g ^ salt) * 0x9E3779B97F4A7C15ULL) >> shift);
}

static size_t hash_ngrams(const hl_feat_cfg_t *cfg, const uint32_t *cps, size_t n, bool title_space,
                          uint32_t *out)
{
    const unsigned shift = 64u - cfg->bits;
    uint64_t salt[5];
    for (unsigned k = 1; k <= 4; k++)
        salt[k] = 0x243F6A8885A308D3ULL * (k + 1) + (title_space ? 0x13198A2E03707344ULL : 0);
    size_t w = 0;
    uint64_t key = 0; /* the last three characters, 21 bits each */
    if (cfg->nmin == 1 && cfg->nmax == 3) {
        /* The shipped models' 1-3-grams, unrolled: the same buckets in the
         * same order as the general loop below (test_features checks). */
        for (size_t i = 0; i < n; i++) {
            key = (key << 21 | cps[i]) & ((1ULL << 63) - 1);
            out[w++] = bucket(key & ((1ULL << 21) - 1), salt[1], shift);
            if (i >= 1) out[w++] = bucket(key & ((1ULL << 42) - 1), salt[2], shift);
            if (i >= 2) out[w++] = bucket(key, salt[3], shift);
        }
        return w;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t prev = key;
        key = (key << 21 | cps[i]) & ((1ULL << 63) - 1);
        for (unsigned k = cfg->nmin; k <= cfg->nmax && k <= i + 1; k++) {
            uint64_t g = k == 4 ? key ^ ((prev >> 42) * 0xC2B2AE3D27D4EB4FULL)
                                : key & ((1ULL << (21 * k)) - 1);
            out[w++] = bucket(g, salt[k], shift);
        }
    }
    return w;
}

size_t hl_feat_extract(const hl_feat_cfg_t *cfg, int field, const char *text, size_t len,
                       uint32_t *out)
{
    uint32_t cps[HL_FEAT_MAX_CHARS];
    size_t n = hl_feat_normalize(text, len, cps, HL_FEAT_MAX_CHARS);
    size_t w = hash_ngrams(cfg, cps, n, false, out);
    /* A title's n-grams also count in a space of their own: the model learns
     * how much more a word in the subject line says. */
    if (field == 1 && cfg->title) w += hash_ngrams(cfg, cps, n, true, out + w);
    return w;
}
