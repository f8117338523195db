/* buf.h - a growable byte buffer.
 *
 * The buffer owns its memory; data is always NUL-terminated after len bytes
 * so it can be used as a C string. Appending never fails (see alloc.h).
 */
#ifndef HOTLINE_BUF_H
#define HOTLINE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "hotline/err.h"

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} hl_buf_t;

#define HL_BUF_INIT {NULL, 0, 0}

/* Ensure room for extra more bytes (plus the NUL). */
void hl_buf_reserve(hl_buf_t *b, size_t extra);
void hl_buf_append(hl_buf_t *b, const void *data, size_t len);
void hl_buf_puts(hl_buf_t *b, const char *s);
void hl_buf_putc(hl_buf_t *b, char c);
void hl_buf_printf(hl_buf_t *b, const char *fmt, ...) HL_PRINTF(2, 3);
void hl_buf_put_i64(hl_buf_t *b, int64_t v);
/* Append s (len bytes) escaped for PostgreSQL COPY text format: backslash,
 * tab, newline and carriage return become \\, \t, \n, \r. */
void hl_buf_put_copy_text(hl_buf_t *b, const char *s, size_t len);
/* Keep the memory, forget the content. */
void hl_buf_reset(hl_buf_t *b);
/* Release the memory; the buffer is empty and reusable afterwards. */
void hl_buf_free(hl_buf_t *b);

#endif
