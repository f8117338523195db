/* json.h - a strict, read-only JSON reader for request bodies.
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

#endif
