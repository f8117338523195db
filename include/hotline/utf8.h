/* utf8.h - UTF-8 validation. */
#ifndef HOTLINE_UTF8_H
#define HOTLINE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, no
 * code points above U+10FFFF) and contains no NUL byte. */
bool hl_utf8_valid(const char *s, size_t len);

/* Number of code points in valid UTF-8 s[0..len). */
size_t hl_utf8_count(const char *s, size_t len);

/* The length of the longest prefix of s[0..len) (valid UTF-8) of at most
 * max bytes that ends between two characters: where to cut a text to a byte
 * budget without splitting a character. */
size_t hl_utf8_cut(const char *s, size_t len, size_t max);

/* Decode the code point at s[*i] (*i < len) and advance *i past it; an
 * invalid sequence (overlong, surrogate, past U+10FFFF, cut short) gives
 * U+FFFD and advances one byte. ASCII and well-formed three-byte sequences
 * (all of CJK) are decoded inline; the rest by hl__utf8_next_slow, which
 * gives the same results for those too. */
uint32_t hl__utf8_next_slow(const char *s, size_t len, size_t *i);
static inline uint32_t hl_utf8_next(const char *str, size_t len, size_t *i)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t k = *i;
    unsigned c = s[k];
    if (c < 0x80) {
        *i = k + 1;
        return c;
    }
    if ((c & 0xF0) == 0xE0 && k + 2 < len && (s[k + 1] & 0xC0) == 0x80 && (s[k + 2] & 0xC0) == 0x80) {
        uint32_t cp = (c & 0x0Fu) << 12 | (s[k + 1] & 0x3Fu) << 6 | (s[k + 2] & 0x3Fu);
        if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) {
            *i = k + 3;
            return cp;
        }
    }
    return hl__utf8_next_slow(str, len, i);
}

#endif
