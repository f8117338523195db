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
 * U+FFFD and advances one byte. */
uint32_t hl_utf8_next(const char *s, size_t len, size_t *i);

#endif
