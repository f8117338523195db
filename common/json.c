/* json.c - a strict JSON reader and a compact writer (see json.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/err.h"
#include "hotline/json.h"
#include "hotline/utf8.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define SPARE 2 /* slots past the last value, so hl_json_foreach may point there */

typedef struct {
    const char *p, *start, *end;
    hl_jv_t *v;
    size_t nv, cap;
    char *out;  /* next free byte of doc->strings */
    hl_json_error_t *err;
} parser_t;

static int fail(parser_t *ps, const char *at, const char *what)
{
    ps->err->position = (size_t)(at - ps->start);
    snprintf(ps->err->text, sizeof ps->err->text, "%s", what);
    return HL_EINVAL;
}

static void skip_ws(parser_t *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t')) ps->p++;
}

static size_t new_value(parser_t *ps, hl_json_type_t type)
{
    if (ps->nv + SPARE >= ps->cap) {
        ps->cap *= 2;
        ps->v = hl_realloc(ps->v, ps->cap * sizeof *ps->v);
    }
    size_t i = ps->nv++;
    memset(&ps->v[i], 0, sizeof ps->v[i]);
    ps->v[i].type = type;
    ps->v[i].span = 1;
    return i;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static char *put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* The first byte at or after p (before end) that a string cannot hold as it
 * is: a quote, a backslash or a control character; end if none. Sixteen
 * bytes at a time where SSE2 is there (every x86-64): a request's text is
 * mostly such runs. */
static const char *string_stop(const char *p, const char *end)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* max(x, 0x20) == x unsigned: x >= 0x20 */
        __m128i ok = _mm_cmpeq_epi8(_mm_max_epu8(x, space), x);
        __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
                                    _mm_andnot_si128(ok, _mm_set1_epi8(-1)));
        int mask = _mm_movemask_epi8(stop);
        if (mask) return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) p++;
    return p;
}

/* A string at ps->p (the opening quote); the text is valid UTF-8 already. */
static int string(parser_t *ps)
{
    const char *p = ps->p + 1, *end = ps->end;
    char *o = ps->out;
    size_t i = new_value(ps, HL_JSON_STRING);
    for (;;) {
        const char *run = p;
        p = string_stop(p, end);
        memcpy(o, run, (size_t)(p - run));
        o += p - run;
        if (p == end) return fail(ps, ps->p, "unterminated string");
        if (*p == '"') break;
        if (*p != '\\') return fail(ps, p, "control character in a string");
        if (p + 1 == end) return fail(ps, ps->p, "unterminated string");
        char c = p[1];
        p += 2;
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (end - p < 4 || hex4(p, &cp) != 0) return fail(ps, p - 2, "bad \\u escape");
            p += 4;
            if (cp == 0) return fail(ps, p - 6, "\\u0000 in a string");
            if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(ps, p - 6, "lone surrogate in a \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) != 0 || lo < 0xDC00 ||
                    lo > 0xDFFF)
                    return fail(ps, p - 6, "lone surrogate in a \\u escape");
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            o = put_utf8(o, cp);
            break;
        }
        default: return fail(ps, p - 2, "bad escape in a string");
        }
    }
    hl_jv_t *v = &ps->v[i];
    v->str = ps->out;
    v->n = (uint32_t)(o - ps->out);
    *o++ = '\0';
    ps->out = o;
    ps->p = p + 1;
    return 0;
}

static int number(parser_t *ps)
{
    const char *s = ps->p, *p = s, *end = ps->end;
    bool neg = false, integral = true;
    if (p < end && *p == '-') neg = true, p++;
    if (p == end || *p < '0' || *p > '9') return fail(ps, s, "bad number");
    uint64_t mag = 0;
    bool fits = true;
    if (*p == '0') {
        p++;
    } else {
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            unsigned d = (unsigned)(*p - '0');
            if (mag > (UINT64_MAX - d) / 10) fits = false;
            else mag = mag * 10 + d;
        }
    }
    if (p < end && *p == '.') {
        integral = false;
        p++;
        if (p == end || *p < '0' || *p > '9') return fail(ps, s, "bad number");
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        integral = false;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p == end || *p < '0' || *p > '9') return fail(ps, s, "bad number");
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (fits && mag > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) fits = false;
    size_t i = new_value(ps, HL_JSON_INT);
    hl_jv_t *v = &ps->v[i];
    if (integral && fits) {
        v->i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
        v->d = (double)v->i;
    } else {
        char buf[512];
        size_t n = (size_t)(p - s);
        if (n >= sizeof buf) return fail(ps, s, "number too long");
        memcpy(buf, s, n);
        buf[n] = '\0';
        v->type = HL_JSON_REAL;
        v->d = strtod(buf, NULL);
        if (isinf(v->d)) return fail(ps, s, "number out of range");
    }
    ps->p = p;
    return 0;
}

static int literal(parser_t *ps, const char *word, hl_json_type_t type)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return fail(ps, ps->p, "unexpected character");
    new_value(ps, type);
    ps->p += n;
    return 0;
}

static int keycmp(const void *a, const void *b)
{
    const hl_jv_t *x = *(const hl_jv_t *const *)a, *y = *(const hl_jv_t *const *)b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->str, y->str, n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* True if the object at v[o] has two equal keys. */
static bool duplicate_keys(const hl_jv_t *v, size_t o)
{
    size_t m = v[o].n;
    if (m < 2) return false;
    const hl_jv_t **keys = hl_malloc(m * sizeof *keys);
    size_t k = 0;
    hl_json_foreach(&v[o], key, val) keys[k++] = key;
    bool dup = false;
    if (m <= 16) {
        for (size_t a = 0; a < m && !dup; a++)
            for (size_t b = a + 1; b < m && !dup; b++) dup = keycmp(&keys[a], &keys[b]) == 0;
    } else {
        qsort(keys, m, sizeof *keys, keycmp);
        for (size_t a = 1; a < m && !dup; a++) dup = keycmp(&keys[a - 1], &keys[a]) == 0;
    }
    hl_free(keys);
    return dup;
}

static int value(parser_t *ps, int depth);

static int container(parser_t *ps, int depth, bool object)
{
    const char *open = ps->p;
    if (depth >= HL_JSON_DEPTH) return fail(ps, open, "nested too deeply");
    size_t i = new_value(ps, object ? HL_JSON_OBJECT : HL_JSON_ARRAY);
    char close = object ? '}' : ']';
    uint32_t n = 0;
    int rc;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
    } else {
        for (;;) {
            if (object) {
                if (ps->p == ps->end || *ps->p != '"') return fail(ps, ps->p, "expected a member name");
                if ((rc = string(ps)) != 0) return rc;
                skip_ws(ps);
                if (ps->p == ps->end || *ps->p != ':') return fail(ps, ps->p, "expected ':'");
                ps->p++;
            }
            if ((rc = value(ps, depth + 1)) != 0) return rc;
            n++;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                skip_ws(ps);
                continue;
            }
            if (ps->p < ps->end && *ps->p == close) {
                ps->p++;
                break;
            }
            return fail(ps, ps->p, object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    ps->v[i].n = n;
    ps->v[i].span = (uint32_t)(ps->nv - i);
    if (object && duplicate_keys(ps->v, i)) return fail(ps, open, "duplicate member name in an object");
    return 0;
}

static int value(parser_t *ps, int depth)
{
    skip_ws(ps);
    if (ps->p == ps->end) return fail(ps, ps->p, "unexpected end of text");
    switch (*ps->p) {
    case '{': return container(ps, depth, true);
    case '[': return container(ps, depth, false);
    case '"': return string(ps);
    case 't': return literal(ps, "true", HL_JSON_TRUE);
    case 'f': return literal(ps, "false", HL_JSON_FALSE);
    case 'n': return literal(ps, "null", HL_JSON_NULL);
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) return number(ps);
        return fail(ps, ps->p, "unexpected character");
    }
}

int hl_json_parse(const char *text, size_t len, hl_json_t *doc, hl_json_error_t *err)
{
    memset(doc, 0, sizeof *doc);
    if (len > UINT32_MAX / 2) {
        err->position = 0;
        snprintf(err->text, sizeof err->text, "text too long");
        return HL_EINVAL;
    }
    if (!hl_utf8_valid(text, len)) {
        /* The first bad sequence, for the message. */
        size_t at = 0, next = 0;
        while (next < len) {
            at = next;
            uint32_t cp = hl_utf8_next(text, len, &next);
            if (cp == 0 || (cp == 0xFFFD && (next - at != 3 || memcmp(text + at, "\xEF\xBF\xBD", 3) != 0))) break;
        }
        err->position = at;
        snprintf(err->text, sizeof err->text, "not UTF-8 (or a NUL byte)");
        return HL_EINVAL;
    }
    parser_t ps = {.p = text, .start = text, .end = text + len, .cap = 64, .err = err};
    ps.v = hl_malloc(ps.cap * sizeof *ps.v);
    doc->strings = hl_malloc(len + 1);
    ps.out = doc->strings;
    int rc = value(&ps, 0);
    if (rc == 0) {
        skip_ws(&ps);
        if (ps.p != ps.end) rc = fail(&ps, ps.p, "text after the value");
    }
    if (rc != 0) {
        hl_free(ps.v);
        hl_free(doc->strings);
        memset(doc, 0, sizeof *doc);
        return rc;
    }
    memset(&ps.v[ps.nv], 0, SPARE * sizeof *ps.v);
    doc->v = ps.v;
    return 0;
}

void hl_json_free(hl_json_t *doc)
{
    hl_free(doc->v);
    hl_free(doc->strings);
    memset(doc, 0, sizeof *doc);
}

const hl_jv_t *hl_json_get(const hl_jv_t *o, const char *key)
{
    if (!o || o->type != HL_JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    hl_json_foreach(o, k, v) if (k->n == n && memcmp(k->str, key, n) == 0) return v;
    return NULL;
}

/* ------------------------------------------------------------ writing */

void hl_jw_init(hl_jw_t *w, hl_buf_t *out)
{
    memset(w, 0, sizeof *w);
    w->out = out;
}

/* The comma before a value, unless it follows its key. */
static void jw_value(hl_jw_t *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->more[w->depth]) hl_buf_putc(w->out, ',');
    w->more[w->depth] = true;
}

static void jw_open(hl_jw_t *w, char open, char close)
{
    jw_value(w);
    hl_buf_putc(w->out, open);
    if (w->depth < HL_JSON_DEPTH) w->depth++;
    w->more[w->depth] = false;
    w->close[w->depth] = close;
}

void hl_jw_object(hl_jw_t *w)
{
    jw_open(w, '{', '}');
}

void hl_jw_array(hl_jw_t *w)
{
    jw_open(w, '[', ']');
}

void hl_jw_end(hl_jw_t *w)
{
    if (w->depth == 0) return;
    hl_buf_putc(w->out, w->close[w->depth]);
    w->depth--;
}

/* Bytes that need an escape: what follows the backslash ('u': \u00XX). */
static const char json_escape[256] = {
    [0] = 'u', [1] = 'u', [2] = 'u', [3] = 'u', [4] = 'u', [5] = 'u', [6] = 'u', [7] = 'u',
    ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', [11] = 'u', ['\f'] = 'f', ['\r'] = 'r', [14] = 'u', [15] = 'u',
    [16] = 'u', [17] = 'u', [18] = 'u', [19] = 'u', [20] = 'u', [21] = 'u', [22] = 'u', [23] = 'u',
    [24] = 'u', [25] = 'u', [26] = 'u', [27] = 'u', [28] = 'u', [29] = 'u', [30] = 'u', [31] = 'u',
    ['"'] = '"', ['\\'] = '\\'};

static void jw_string(hl_buf_t *b, const char *s, size_t len)
{
    hl_buf_reserve(b, len + 2);
    hl_buf_putc(b, '"');
    size_t from = 0;
    for (size_t i = 0; i < len; i++) {
        char e = json_escape[(unsigned char)s[i]];
        if (!e) continue;
        hl_buf_append(b, s + from, i - from);
        char esc[8] = {'\\', e};
        size_t n = 2;
        if (e == 'u') n = (size_t)snprintf(esc, sizeof esc, "\\u%04X", (unsigned char)s[i]);
        hl_buf_append(b, esc, n);
        from = i + 1;
    }
    hl_buf_append(b, s + from, len - from);
    hl_buf_putc(b, '"');
}

void hl_jw_key(hl_jw_t *w, const char *key)
{
    jw_value(w);
    jw_string(w->out, key, strlen(key));
    hl_buf_putc(w->out, ':');
    w->after_key = true;
}

void hl_jw_strn(hl_jw_t *w, const char *s, size_t len)
{
    jw_value(w);
    jw_string(w->out, s, len);
}

void hl_jw_str(hl_jw_t *w, const char *s)
{
    hl_jw_strn(w, s ? s : "", s ? strlen(s) : 0);
}

void hl_jw_str_or_null(hl_jw_t *w, const char *s)
{
    if (s && *s) hl_jw_str(w, s);
    else hl_jw_null(w);
}

void hl_jw_int(hl_jw_t *w, int64_t v)
{
    jw_value(w);
    hl_buf_put_i64(w->out, v);
}

void hl_jw_real(hl_jw_t *w, double v)
{
    jw_value(w);
    if (!isfinite(v)) {
        hl_buf_puts(w->out, "null"); /* JSON has no NaN or infinity */
        return;
    }
    char t[40];
    /* Most reals written are rounded to thousandths (scores) or ten-
     * thousandths (confidences): those are written without printf, byte for
     * byte as below ("%.10g" gives k/10000 exactly for |k| < 10^10, 0.0001
     * and up). */
    double k = nearbyint(v * 10000.0);
    if (k != 0 && fabs(k) < 1e10 && k / 10000.0 == v) {
        uint64_t u = (uint64_t)fabs(k), ip = u / 10000, fp = u % 10000;
        char *p = t + sizeof t, *end = p;
        if (fp) {
            int digits = 4;
            while (fp % 10 == 0) fp /= 10, digits--;
            for (int d = 0; d < digits; d++) *--p = (char)('0' + fp % 10), fp /= 10;
        } else {
            *--p = '0';
        }
        *--p = '.';
        do *--p = (char)('0' + ip % 10), ip /= 10;
        while (ip);
        if (k < 0) *--p = '-';
        hl_buf_append(w->out, p, (size_t)(end - p));
        return;
    }
    int n = snprintf(t, sizeof t, "%.10g", v);
    if (n < 0 || (size_t)n >= sizeof t - 2) n = 0;
    t[n] = '\0';
    char *e = strchr(t, 'e');
    if (!e && !strchr(t, '.')) memcpy(t + n, ".0", 3), n += 2;
    if (e) { /* "1e+21" -> "1e21", "2.5e-05" -> "2.5e-5" */
        char *d = e + 1, *from = e + 1;
        if (*from == '-') d = ++from;
        else if (*from == '+') from++;
        while (*from == '0' && from[1]) from++;
        memmove(d, from, strlen(from) + 1);
        n = (int)strlen(t);
    }
    hl_buf_append(w->out, t, (size_t)n);
}

void hl_jw_bool(hl_jw_t *w, bool v)
{
    jw_value(w);
    hl_buf_puts(w->out, v ? "true" : "false");
}

void hl_jw_null(hl_jw_t *w)
{
    jw_value(w);
    hl_buf_puts(w->out, "null");
}
