/* csv.h - a strict RFC 4180 CSV reader.
 *
 * Fields are separated by commas; a field may be quoted ("a, ""b"""), and a
 * quoted field may span lines; records end with LF or CRLF. A malformed record
 * (a stray quote, text after a closing quote, an unterminated quote, a record
 * over the size limit) is reported with its line number and skipped: reading
 * resumes at the line after the one it started on. Bytes are not checked for
 * UTF-8 here; callers validate the fields they use.
 */
#ifndef HOTLINE_CSV_H
#define HOTLINE_CSV_H

#include <stddef.h>

#include "hotline/err.h"

#define HL_CSV_MAX_FIELDS 64
#define HL_CSV_MAX_RECORD (1 << 20)

typedef struct hl_csv hl_csv_t;

typedef struct {
    int n;                           /* fields in this record */
    char *field[HL_CSV_MAX_FIELDS];  /* NUL-terminated; valid until the next call */
    size_t len[HL_CSV_MAX_FIELDS];
    long line;                       /* line the record starts on (1-based) */
} hl_csv_row_t;

/* Open a file ("-" is stdin) and read it into memory. NULL with err filled
 * if it cannot be read. */
hl_csv_t *hl_csv_open(const char *path, char err[HL_ERR_LEN]);
/* Read from a buffer (copied). Never NULL. */
hl_csv_t *hl_csv_from_memory(const char *data, size_t len);
void hl_csv_close(hl_csv_t **self_p);

/* Read the next record into row. Returns 1, 0 at the end, or HL_EINVAL for a
 * malformed record (err says which line and why; call again to go on). */
HL_MUSTCHECK int hl_csv_next(hl_csv_t *c, hl_csv_row_t *row, char err[HL_ERR_LEN]);

#endif
