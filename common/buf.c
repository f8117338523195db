/* buf.c - growable byte buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/buf.h"

void hl_buf_reserve(hl_buf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    b->data = hl_realloc(b->data, cap);
    b->cap = cap;
}

void hl_buf_append(hl_buf_t *b, const void *data, size_t len)
{
    hl_buf_reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void hl_buf_puts(hl_buf_t *b, const char *s)
{
    hl_buf_append(b, s, strlen(s));
}

void hl_buf_putc(hl_buf_t *b, char c)
{
    hl_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void hl_buf_printf(hl_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    hl_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void hl_buf_put_i64(hl_buf_t *b, int64_t v)
{
    char tmp[24];
    int i = sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) tmp[--i] = '-';
    hl_buf_append(b, tmp + i, sizeof tmp - (size_t)i);
}

/* Bytes COPY text format escapes, and what follows the backslash. */
static const char copy_escape[256] = {['\\'] = '\\', ['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r'};

void hl_buf_put_copy_text(hl_buf_t *b, const char *s, size_t len)
{
    hl_buf_reserve(b, len * 2);
    char *o = b->data + b->len;
    size_t i = 0;
    /* Copy runs of ordinary bytes whole; text rarely has anything to escape. */
    while (i < len) {
        size_t j = i;
        while (j < len && !copy_escape[(unsigned char)s[j]]) j++;
        memcpy(o, s + i, j - i);
        o += j - i;
        if (j == len) break;
        *o++ = '\\';
        *o++ = copy_escape[(unsigned char)s[j]];
        i = j + 1;
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

void hl_buf_reset(hl_buf_t *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void hl_buf_free(hl_buf_t *b)
{
    hl_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
