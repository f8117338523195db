/* json.h - a strict JSON reader for request bodies, and a writer for the
 * answers made most often.
 *
 * Why not jansson here: jansson (which the gateway keeps for writing JSON)
 * reads through a per-byte stream callback and allocates every value and a
 * hash table per object; a 1.3 KB ticket costs it ~16 us, a fifth of the
 * gateway's work per request. This reader checks the whole text as UTF-8
 * once, then makes one array of values in document order in one allocation,
 * with the strings unescaped into a second one.
 *
 * RFC 8259 strictly: one value (any type) with optional whitespace around it;
 * no comments, no trailing commas, no NaN; control characters in strings, a
 * \u0000 escape, lone surrogates, invalid UTF-8 and NUL bytes are errors, as
 * are duplicate keys in an object and nesting deeper than HL_JSON_DEPTH.
 *
 * A document is a flat array: an object's members follow it as key, value,
 * key, value, ...; an array's items follow it; every value records how many
 * array slots it and its contents take (span), so a reader skips a member
 * with one addition. Objects are searched linearly (request bodies are small).
 */
#ifndef HOTLINE_JSON_H
#define HOTLINE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hotline/buf.h"

#define HL_JSON_DEPTH 32

typedef enum {
    HL_JSON_NULL,
    HL_JSON_FALSE,
    HL_JSON_TRUE,
    HL_JSON_INT,    /* a number without fraction or exponent that fits int64 */
    HL_JSON_REAL,   /* any other number */
    HL_JSON_STRING, /* also an object's keys */
    HL_JSON_ARRAY,
    HL_JSON_OBJECT,
} hl_json_type_t;

typedef struct hl_jv {
    hl_json_type_t type;
    uint32_t span;      /* slots this value and its contents take (1 for scalars) */
    uint32_t n;         /* bytes of a string; members of an object; items of an array */
    const char *str;    /* a string's unescaped bytes, NUL-terminated */
    int64_t i;          /* HL_JSON_INT */
    double d;           /* HL_JSON_REAL, and HL_JSON_INT's value as a double */
} hl_jv_t;

typedef struct {
    hl_jv_t *v;         /* v[0] is the document's value */
    char *strings;
} hl_json_t;

typedef struct {
    size_t position;    /* byte offset where the text went wrong */
    char text[96];      /* what is wrong, in English */
} hl_json_error_t;

/* Parse text[0..len) into doc (which the caller frees with hl_json_free).
 * Returns 0, or HL_EINVAL with err filled in (doc is then empty). */
int hl_json_parse(const char *text, size_t len, hl_json_t *doc, hl_json_error_t *err);

/* Release what hl_json_parse made; doc is empty and reusable afterwards. */
void hl_json_free(hl_json_t *doc);

/* The member key of object o, or NULL (also when o is not an object). */
const hl_jv_t *hl_json_get(const hl_jv_t *o, const char *key);

/* Each member of object o: key (a string value) and val. */
#define hl_json_foreach(o, key, val)                                                                   \
    for (const hl_jv_t *key = (o) + 1, *val = key + 1, *key##_end_ = (o) + (o)->span; key < key##_end_; \
         key = val + val->span, val = key + 1)

/* ------------------------------------------------------------ writing
 *
 * Values are appended to a buffer in document order, with no tree and no
 * allocation per value (jansson, which the rarer answers use, allocates
 * every value and hashes every key). The writer puts the commas and checks
 * nothing else: the caller opens and ends what it writes, writes a key before
 * each member of an object, and passes UTF-8 strings (escaped here as RFC 8259
 * requires: quote, backslash and control characters). Output is compact and
 * what jansson writes for the same values: reals as "%.10g", with ".0" when
 * they would look like integers. */
typedef struct {
    hl_buf_t *out;
    int depth;
    bool more[HL_JSON_DEPTH + 1]; /* per level: a value was written (a comma comes next) */
    char close[HL_JSON_DEPTH + 1];
    bool after_key;
} hl_jw_t;

/* Start writing one value into out (appended to what it holds). */
void hl_jw_init(hl_jw_t *w, hl_buf_t *out);
void hl_jw_object(hl_jw_t *w);
void hl_jw_array(hl_jw_t *w);
/* End the innermost object or array. */
void hl_jw_end(hl_jw_t *w);
void hl_jw_key(hl_jw_t *w, const char *key);
void hl_jw_str(hl_jw_t *w, const char *s);
void hl_jw_strn(hl_jw_t *w, const char *s, size_t len);
/* A string, or null when s is NULL or empty. */
void hl_jw_str_or_null(hl_jw_t *w, const char *s);
void hl_jw_int(hl_jw_t *w, int64_t v);
void hl_jw_real(hl_jw_t *w, double v);
void hl_jw_bool(hl_jw_t *w, bool v);
void hl_jw_null(hl_jw_t *w);

#endif
