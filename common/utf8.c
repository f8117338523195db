/* utf8.c - strict UTF-8 validation (RFC 3629), with an ASCII fast path. */
#include <stdint.h>
#include <string.h>

#include "hotline/utf8.h"

bool hl_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + len;
    while (s < end) {
        unsigned c = *s;
        if (c < 0x80) {
            if (c == 0) return false;
            s++;
            /* The rest of an ASCII run, eight bytes at a time. */
            while (end - s >= 8) {
                uint64_t w;
                memcpy(&w, s, 8);
                if (w & 0x8080808080808080ULL) break;
                /* Reject NUL bytes inside the word. */
                if ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL) return false;
                s += 8;
            }
        } else if (c - 0xE1u <= 0xECu - 0xE1u || c == 0xEE || c == 0xEF) {
            /* Three bytes with no special second byte: most of CJK. */
            if (end - s < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return false;
            s += 3;
        } else if (c >= 0xC2 && c <= 0xDF) {
            if (end - s < 2 || (s[1] & 0xC0) != 0x80) return false;
            s += 2;
        } else if (c == 0xE0 || c == 0xED) {
            if (end - s < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return false;
            if (c == 0xE0 && s[1] < 0xA0) return false; /* overlong */
            if (c == 0xED && s[1] > 0x9F) return false; /* surrogates */
            s += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (end - s < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
                (s[3] & 0xC0) != 0x80)
                return false;
            if (c == 0xF0 && s[1] < 0x90) return false; /* overlong */
            if (c == 0xF4 && s[1] > 0x8F) return false; /* above U+10FFFF */
            s += 4;
        } else {
            return false;
        }
    }
    return true;
}

size_t hl_utf8_count(const char *str, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)str[i] & 0xC0) != 0x80;
    return n;
}

uint32_t hl__utf8_next_slow(const char *str, size_t len, size_t *i)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[*i];
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    size_t need = c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : 0;
    uint32_t cp = c & (0x3Fu >> need);
    for (size_t k = 1; k <= need; k++) {
        if (*i + k >= len || (s[*i + k] & 0xC0) != 0x80) {
            need = 0;
            break;
        }
        cp = (cp << 6) | (s[*i + k] & 0x3F);
    }
    if (need == 0 || (need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (need == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
        (*i)++;
        return 0xFFFD;
    }
    *i += need + 1;
    return cp;
}

size_t hl_utf8_cut(const char *s, size_t len, size_t max)
{
    if (max >= len) return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    return n;
}
