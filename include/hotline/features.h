/* features.h - hashed character n-grams of a request's title and body.
 *
 * The classifier's features, shared byte for byte by training and inference:
 * text is decoded as UTF-8 (an invalid byte becomes U+FFFD), normalised
 * (full-width ASCII to half-width, ASCII letters to lower case, every digit to
 * '0', a URL to one LINK symbol, white space and punctuation dropped), then
 * every character n-gram with nmin <= n <= nmax is hashed into one of 2^bits
 * buckets. With `title` set, a title's n-grams count twice: once like body
 * n-grams and once under their own hash salt, so the model learns their extra
 * weight.
 * Hashing is fixed arithmetic on code points: the same text gives the same
 * buckets on every run and machine.
 */
#ifndef HOTLINE_FEATURES_H
#define HOTLINE_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "hotline/err.h"

#define HL_FEAT_MAX_CHARS 4096 /* characters of one field looked at */
#define HL_FEAT_LINK 0xE000u   /* the symbol a URL becomes */

typedef struct {
    uint8_t bits;      /* log2 of the number of buckets, 12..24 */
    uint8_t nmin;      /* shortest n-gram, 1..4 */
    uint8_t nmax;      /* longest n-gram, nmin..4 */
    uint8_t title;     /* 1: title n-grams also in a space of their own */
} hl_feat_cfg_t;

/* Is cfg within the bounds above? Returns 0 or HL_EINVAL. */
HL_MUSTCHECK int hl_feat_check(const hl_feat_cfg_t *cfg);

/* Upper bound of the buckets hl_feat_extract writes for a field of len bytes. */
size_t hl_feat_capacity(const hl_feat_cfg_t *cfg, size_t len);

/* Normalise text[0..len) into code points; returns how many (at most max). */
size_t hl_feat_normalize(const char *text, size_t len, uint32_t *out, size_t max);

/* Append the bucket of every n-gram of one field to out (room for
 * hl_feat_capacity(cfg, len) entries); field 0 = body, 1 = title. Returns the
 * number written. */
size_t hl_feat_extract(const hl_feat_cfg_t *cfg, int field, const char *text, size_t len,
                       uint32_t *out);

#endif
