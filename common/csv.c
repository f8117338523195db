/* csv.c - RFC 4180 reader over an in-memory copy of the input. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/buf.h"
#include "hotline/csv.h"

struct hl_csv {
    char *data;
    size_t len, pos;
    long line;
    char *out; /* unescaped fields of the current record */
    size_t outcap;
};

hl_csv_t *hl_csv_from_memory(const char *data, size_t len)
{
    hl_csv_t *c = hl_calloc(1, sizeof *c);
    c->data = hl_malloc(len + 1);
    memcpy(c->data, data, len);
    c->data[len] = '\0';
    c->len = len;
    c->line = 1;
    /* A UTF-8 byte order mark is not part of the first field. */
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) c->pos = 3;
    return c;
}

hl_csv_t *hl_csv_open(const char *path, char err[HL_ERR_LEN])
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, HL_ERR_LEN, "%s: %s", path, strerror(errno));
        return NULL;
    }
    hl_buf_t b = HL_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) hl_buf_append(&b, chunk, n);
    bool bad = ferror(f);
    if (f != stdin) fclose(f);
    if (bad) {
        snprintf(err, HL_ERR_LEN, "%s: read error", path);
        hl_buf_free(&b);
        return NULL;
    }
    hl_csv_t *c = hl_csv_from_memory(b.data ? b.data : "", b.len);
    hl_buf_free(&b);
    return c;
}

void hl_csv_close(hl_csv_t **self_p)
{
    hl_csv_t *c = *self_p;
    if (!c) return;
    hl_free(c->data);
    hl_free(c->out);
    hl_free(c);
    *self_p = NULL;
}

/* Skip to the start of the line after `line0` began, after an error. */
static void resync(hl_csv_t *c, size_t start, long line0)
{
    size_t p = start;
    while (p < c->len && c->data[p] != '\n') p++;
    c->pos = p < c->len ? p + 1 : c->len;
    c->line = line0 + 1;
}

int hl_csv_next(hl_csv_t *c, hl_csv_row_t *row, char err[HL_ERR_LEN])
{
    /* Skip empty lines between records. */
    while (c->pos < c->len && (c->data[c->pos] == '\n' || c->data[c->pos] == '\r')) {
        if (c->data[c->pos] == '\n') c->line++;
        c->pos++;
    }
    if (c->pos >= c->len) return 0;
    size_t start = c->pos;
    long line0 = c->line;
    size_t need = c->len - start + HL_CSV_MAX_FIELDS + 1;
    if (need > HL_CSV_MAX_RECORD + HL_CSV_MAX_FIELDS + 1) need = HL_CSV_MAX_RECORD + HL_CSV_MAX_FIELDS + 1;
    if (c->outcap < need) {
        c->outcap = need;
        c->out = hl_realloc(c->out, need);
    }
    char *o = c->out, *end = c->out + need - 1;
    const char *why = NULL;
    row->n = 0;
    row->line = line0;
    size_t p = start;
    for (;;) {
        if (row->n == HL_CSV_MAX_FIELDS) {
            why = "too many fields";
            break;
        }
        row->field[row->n] = o;
        if (p < c->len && c->data[p] == '"') {
            p++;
            for (;;) {
                if (p >= c->len) {
                    why = "unterminated quoted field";
                    break;
                }
                char ch = c->data[p++];
                if (ch == '"') {
                    if (p < c->len && c->data[p] == '"') {
                        p++;
                    } else {
                        break;
                    }
                }
                if (ch == '\n') c->line++;
                if (o == end) {
                    why = "record too long";
                    break;
                }
                *o++ = ch;
            }
            if (why) break;
            if (p < c->len && c->data[p] != ',' && c->data[p] != '\n' &&
                !(c->data[p] == '\r' && (p + 1 >= c->len || c->data[p + 1] == '\n'))) {
                why = "text after a closing quote";
                break;
            }
        } else {
            while (p < c->len && c->data[p] != ',' && c->data[p] != '\n' &&
                   !(c->data[p] == '\r' && (p + 1 >= c->len || c->data[p + 1] == '\n'))) {
                if (c->data[p] == '"') {
                    why = "quote inside an unquoted field";
                    break;
                }
                if (o == end) {
                    why = "record too long";
                    break;
                }
                *o++ = c->data[p++];
            }
            if (why) break;
        }
        row->len[row->n] = (size_t)(o - row->field[row->n]);
        *o++ = '\0';
        row->n++;
        if (p < c->len && c->data[p] == ',') {
            p++;
            continue;
        }
        if (p < c->len && c->data[p] == '\r') p++;
        if (p < c->len && c->data[p] == '\n') p++, c->line++;
        c->pos = p;
        return 1;
    }
    snprintf(err, HL_ERR_LEN, "line %ld: %s", line0, why);
    resync(c, start, line0);
    return HL_EINVAL;
}
