/* test_json.c - the strict JSON reader: values, escapes, every refusal, and
 * agreement with jansson on many mutated documents; the writer against
 * jansson's output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "hotline/err.h"
#include "hotline/json.h"

static int parse(const char *s, hl_json_t *doc, hl_json_error_t *e)
{
    return hl_json_parse(s, strlen(s), doc, e);
}

static void refused(const char *s, size_t len, const char *why)
{
    hl_json_t doc;
    hl_json_error_t e;
    int rc = hl_json_parse(s, len, &doc, &e);
    if (rc != HL_EINVAL) fail_msg("accepted: %.80s", s);
    assert_null(doc.v);
    if (why && !strstr(e.text, why)) fail_msg("%.80s: '%s', wanted '%s'", s, e.text, why);
}

static void test_values(void **state)
{
    (void)state;
    hl_json_t doc;
    hl_json_error_t e;
    const char *s = " {\"a\": 1, \"b\": [true, false, null, -2.5e1, \"x\"], \"c\": {\"d\": -9223372036854775808},"
                    " \"e\": {}, \"f\": [], \"g\": 18446744073709551616} ";
    assert_int_equal(parse(s, &doc, &e), 0);
    const hl_jv_t *o = doc.v;
    assert_int_equal(o->type, HL_JSON_OBJECT);
    assert_int_equal(o->n, 6);
    const hl_jv_t *a = hl_json_get(o, "a"), *b = hl_json_get(o, "b"), *c = hl_json_get(o, "c");
    assert_int_equal(a->type, HL_JSON_INT);
    assert_int_equal(a->i, 1);
    assert_int_equal(b->type, HL_JSON_ARRAY);
    assert_int_equal(b->n, 5);
    assert_int_equal(b[1].type, HL_JSON_TRUE);
    assert_int_equal(b[2].type, HL_JSON_FALSE);
    assert_int_equal(b[3].type, HL_JSON_NULL);
    assert_int_equal(b[4].type, HL_JSON_REAL);
    assert_true(b[4].d == -25.0);
    assert_string_equal(b[5].str, "x");
    assert_int_equal(hl_json_get(c, "d")->i, INT64_MIN);
    assert_int_equal(hl_json_get(o, "e")->n, 0);
    assert_int_equal(hl_json_get(o, "f")->type, HL_JSON_ARRAY);
    assert_int_equal(hl_json_get(o, "g")->type, HL_JSON_REAL); /* over int64: a real */
    assert_null(hl_json_get(o, "z"));
    assert_null(hl_json_get(a, "a")); /* not an object */
    int n = 0;
    const char *names = "abcefg";
    hl_json_foreach(o, k, v)
    {
        (void)v;
        assert_int_equal(k->type, HL_JSON_STRING);
        assert_int_equal(k->str[0], names[n++]);
    }
    assert_int_equal(n, 6);
    hl_json_foreach(hl_json_get(o, "e"), k, v) fail_msg("an empty object has members");
    hl_json_free(&doc);

    assert_int_equal(parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u4e2d\\ud83d\\ude00\"", &doc, &e), 0);
    assert_string_equal(doc.v->str, "\"\\/\b\f\n\r\t\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80");
    hl_json_free(&doc);
    assert_int_equal(parse("\"市民反映小区路灯不亮\"", &doc, &e), 0);
    assert_string_equal(doc.v->str, "市民反映小区路灯不亮");
    hl_json_free(&doc);
    assert_int_equal(parse("0", &doc, &e), 0);
    assert_int_equal(doc.v->i, 0);
    hl_json_free(&doc);
}

static void test_refusals(void **state)
{
    (void)state;
    refused("", 0, "end of text");
    refused("   ", 3, "end of text");
    refused("{", 1, "member name");
    refused("{\"a\"}", 5, "':'");
    refused("{\"a\":1,}", 8, "member name");
    refused("[1,]", 4, "unexpected");
    refused("[1 2]", 5, "','");
    refused("{\"a\":1 \"b\":2}", 13, "','");
    refused("{} {}", 5, "after the value");
    refused("01", 2, "after the value");
    refused("1.", 2, "bad number");
    refused("-", 1, "bad number");
    refused("1e", 2, "bad number");
    refused("1e999", 5, "out of range");
    refused("+1", 2, "unexpected");
    refused("NaN", 3, "unexpected");
    refused("tru", 3, "unexpected");
    refused("nul", 3, "unexpected");
    refused("\"abc", 4, "unterminated");
    refused("\"a\tb\"", 5, "control character");
    refused("\"\\x\"", 4, "bad escape");
    refused("\"\\u12\"", 6, "\\u");
    refused("\"\\u0000\"", 8, "\\u0000");
    refused("\"\\ud800\"", 8, "surrogate");
    refused("\"\\udc00\"", 8, "surrogate");
    refused("\"\\ud800\\u0041\"", 14, "surrogate");
    refused("{\"a\":1,\"a\":2}", 13, "duplicate");
    refused("\"\xff\"", 3, "UTF-8");
    refused("\"\xc0\xaf\"", 4, "UTF-8");          /* overlong */
    refused("\"\xed\xa0\x80\"", 5, "UTF-8");      /* a surrogate in UTF-8 */
    refused("\"a\0b\"", 5, "UTF-8");              /* NUL */
    refused("// c\n1", 6, "unexpected");
    hl_json_error_t e;
    hl_json_t doc;
    assert_int_equal(parse("  [1, \"\xe4\xb8\"]", &doc, &e), HL_EINVAL);
    assert_int_equal(e.position, 7); /* the cut sequence */

    /* Depth: HL_JSON_DEPTH levels pass, one more does not. */
    char deep[2 * HL_JSON_DEPTH + 3];
    memset(deep, '[', HL_JSON_DEPTH);
    memset(deep + HL_JSON_DEPTH, ']', HL_JSON_DEPTH);
    assert_int_equal(hl_json_parse(deep, 2 * HL_JSON_DEPTH, &doc, &e), 0);
    hl_json_free(&doc);
    memset(deep, '[', HL_JSON_DEPTH + 1);
    memset(deep + HL_JSON_DEPTH + 1, ']', HL_JSON_DEPTH + 1);
    refused(deep, 2 * HL_JSON_DEPTH + 2, "deeply");

    /* Many members: duplicates found by sorting, and quickly. */
    size_t m = 20000, cap = m * 16 + 16, len = 0;
    char *big = malloc(cap);
    big[len++] = '{';
    for (size_t i = 0; i < m; i++) len += (size_t)snprintf(big + len, cap - len, "%s\"k%zu\":%zu", i ? "," : "", i, i);
    big[len++] = '}';
    assert_int_equal(hl_json_parse(big, len, &doc, &e), 0);
    assert_int_equal(doc.v->n, m);
    assert_int_equal(hl_json_get(doc.v, "k19999")->i, 19999);
    hl_json_free(&doc);
    big[len - 1] = ',';
    len += (size_t)snprintf(big + len, cap - len, "\"k7\":1}");
    refused(big, len, "duplicate");
    free(big);
}

/* Same verdict and same values as jansson (strict: no NUL, no duplicates). */
static bool same(const hl_jv_t *v, json_t *j)
{
    switch (v->type) {
    case HL_JSON_NULL: return json_is_null(j);
    case HL_JSON_TRUE: return json_is_true(j);
    case HL_JSON_FALSE: return json_is_false(j);
    case HL_JSON_INT: return json_is_integer(j) && json_integer_value(j) == v->i;
    case HL_JSON_REAL: return json_is_number(j) && json_number_value(j) == v->d;
    case HL_JSON_STRING:
        return json_is_string(j) && json_string_length(j) == v->n && memcmp(json_string_value(j), v->str, v->n) == 0;
    case HL_JSON_ARRAY: {
        if (!json_is_array(j) || json_array_size(j) != v->n) return false;
        const hl_jv_t *it = v + 1;
        for (size_t i = 0; i < v->n; i++, it += it->span)
            if (!same(it, json_array_get(j, i))) return false;
        return true;
    }
    case HL_JSON_OBJECT: {
        if (!json_is_object(j) || json_object_size(j) != v->n) return false;
        hl_json_foreach(v, k, val)
        {
            json_t *m = json_object_getn(j, k->str, k->n);
            if (!m || !same(val, m)) return false;
        }
        return true;
    }
    }
    return false;
}

/* The reader's document written back with the writer. */
static void rewrite(hl_jw_t *w, const hl_jv_t *v)
{
    switch (v->type) {
    case HL_JSON_NULL: hl_jw_null(w); break;
    case HL_JSON_FALSE: hl_jw_bool(w, false); break;
    case HL_JSON_TRUE: hl_jw_bool(w, true); break;
    case HL_JSON_INT: hl_jw_int(w, v->i); break;
    case HL_JSON_REAL: hl_jw_real(w, v->d); break;
    case HL_JSON_STRING: hl_jw_strn(w, v->str, v->n); break;
    case HL_JSON_ARRAY:
        hl_jw_array(w);
        for (const hl_jv_t *x = v + 1; x < v + v->span; x += x->span) rewrite(w, x);
        hl_jw_end(w);
        break;
    case HL_JSON_OBJECT:
        hl_jw_object(w);
        hl_json_foreach(v, key, val) {
            hl_jw_key(w, key->str);
            rewrite(w, val);
        }
        hl_jw_end(w);
        break;
    }
}

static void test_against_jansson(void **state)
{
    (void)state;
    static const char *const seeds[] = {
        "{\"channel\":\"web\",\"title\":\"路灯不亮\",\"body\":\"小区门口路灯坏了\\n请维修\",\"requester\":"
        "{\"name\":\"张三\",\"phone\":\"13800001111\",\"anonymous\":false},\"location\":{\"lat\":30.25,\"long\":-120}}",
        "[1, -0, 2.5e-3, \"\\u00e9\\ud83d\\ude00\", [[], {}], {\"a\": [null, true]}]",
        "{\"action\":\"reply\",\"expected_version\":3,\"text\":\"已处理 \\\"完毕\\\"\",\"x\":{\"y\":[1,2,3]}}",
    };
    const char alphabet[] = "{}[]\":,\\u0aeE+-.tfn \xe4\xb8\xad\xff\x01";
    unsigned seed = 12345;
    int agreed = 0;
    for (int round = 0; round < 60000; round++) {
        const char *src = seeds[round % 3];
        size_t len = strlen(src);
        char buf[512];
        memcpy(buf, src, len);
        int edits = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 3;
        for (int k = 0; k < edits; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            char c = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
            seed = seed * 1103515245u + 12345u;
            switch ((seed >> 16) % 3) {
            case 0: buf[at] = c; break;                                             /* replace */
            case 1: if (len > 1) memmove(buf + at, buf + at + 1, len - at - 1), len--; break; /* delete */
            default: memmove(buf + at + 1, buf + at, len - at), buf[at] = c, len++; break;  /* insert */
            }
        }
        hl_json_t doc;
        hl_json_error_t e;
        json_error_t je;
        int rc = hl_json_parse(buf, len, &doc, &e);
        json_t *j = json_loadb(buf, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
        if ((rc == 0) != (j != NULL)) fail_msg("verdicts differ (ours %d, jansson %s) on: %.*s", rc, j ? "ok" : je.text,
                                                (int)len, buf);
        if (rc == 0) {
            if (!same(doc.v, j)) fail_msg("values differ on: %.*s", (int)len, buf);
            hl_buf_t out = HL_BUF_INIT;
            hl_jw_t w;
            hl_jw_init(&w, &out);
            rewrite(&w, doc.v);
            char *want = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10) | JSON_ENCODE_ANY);
            if (strcmp(out.data, want) != 0) fail_msg("written differently: %s, jansson %s", out.data, want);
            free(want);
            hl_buf_free(&out);
            agreed++;
            hl_json_free(&doc);
            json_decref(j);
        }
    }
    assert_true(agreed > 1000);
}

/* A quote, an escape or a control character at every place of strings
 * longer than the reader's 16-byte steps, and in the tail after them. */
static void test_string_stops(void **state)
{
    (void)state;
    for (size_t len = 1; len <= 40; len++) {
        for (size_t at = 0; at < len; at++) {
            char buf[64], want[64];
            buf[0] = '"';
            for (size_t i = 0; i < len; i++) buf[1 + i] = want[i] = (char)('a' + i % 26);
            buf[1 + len] = '"';
            hl_json_t doc;
            hl_json_error_t e;
            /* a raw control character: refused */
            buf[1 + at] = '\x1f';
            assert_int_not_equal(hl_json_parse(buf, len + 2, &doc, &e), 0);
            /* a quote ends the string early: what follows is refused */
            buf[1 + at] = '"';
            assert_int_equal(hl_json_parse(buf, len + 2, &doc, &e), HL_EINVAL);
            /* an escaped quote is read as one */
            char esc[72];
            memcpy(esc, buf, 1 + at);
            esc[1 + at] = '\\';
            esc[2 + at] = '"';
            memcpy(esc + 3 + at, want + at + 1, len - at - 1);
            esc[len + 2] = '"';
            assert_int_equal(hl_json_parse(esc, len + 3, &doc, &e), 0);
            want[at] = '"';
            assert_int_equal(doc.v->n, len);
            assert_memory_equal(doc.v->str, want, len);
            want[at] = (char)('a' + at % 26);
            hl_json_free(&doc);
        }
        /* UTF-8 throughout (bytes over 0x7F, negative to SSE2's signed
         * compares): nothing stops the scan but the closing quote */
        char u[3 * 40 + 3];
        u[0] = '"';
        for (size_t i = 0; i < len; i++) memcpy(u + 1 + 3 * i, "\xe8\xb7\xaf", 3);
        u[1 + 3 * len] = '"';
        hl_json_t doc;
        hl_json_error_t e;
        assert_int_equal(hl_json_parse(u, 3 * len + 2, &doc, &e), 0);
        assert_int_equal(doc.v->n, 3 * len);
        hl_json_free(&doc);
    }
}

/* The writer writes what jansson's compact dump (10 significant digits, as
 * the gateway's answers) writes for the same values, byte for byte. */
static void test_writer(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{\"ticket\":\"HL-1\",\"a\":[],\"o\":{},\"n\":null,\"t\":true,\"f\":false,\"i\":-42,\"big\":9007199254740993}",
        "[0.9773, 1.0, -0.0, 2.5e-3, 1e21, 1.5e300, 123456789012, 0.1, 3.14159265358979, 1e-7, -1e+5]",
        "[\"quote \\\" backslash \\\\ slash / tab \\t nl \\n cr \\r bs \\b ff \\f \\u0001 \\u001f \\u007f\"]",
        "{\"路灯\":\"小区门口的路灯坏了\",\"emoji\":\"\\ud83d\\ude00\",\"deep\":[[[{\"x\":[1,[2,[3]]]}]]]}",
    };
    for (size_t k = 0; k < sizeof docs / sizeof *docs; k++) {
        hl_json_t doc;
        hl_json_error_t e;
        assert_int_equal(parse(docs[k], &doc, &e), 0);
        hl_buf_t out = HL_BUF_INIT;
        hl_jw_t w;
        hl_jw_init(&w, &out);
        rewrite(&w, doc.v);
        json_t *j = json_loads(docs[k], JSON_DECODE_ANY, NULL);
        assert_non_null(j);
        char *want = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10) | JSON_ENCODE_ANY);
        assert_string_equal(out.data, want);
        free(want);
        json_decref(j);
        hl_buf_free(&out);
        hl_json_free(&doc);
    }
    /* Not numbers in JSON: null. A string's NUL bytes are escaped. */
    hl_buf_t out = HL_BUF_INIT;
    hl_jw_t w;
    hl_jw_init(&w, &out);
    hl_jw_array(&w);
    hl_jw_real(&w, 0.0 / 0.0);
    hl_jw_real(&w, 1.0 / 0.0);
    hl_jw_strn(&w, "a\0b", 3);
    hl_jw_str(&w, NULL);
    hl_jw_str_or_null(&w, "");
    hl_jw_str_or_null(&w, "x");
    hl_jw_end(&w);
    assert_string_equal(out.data, "[null,null,\"a\\u0000b\",\"\",null,\"x\"]");
    hl_buf_free(&out);
}

/* Reals rounded to thousandths or ten-thousandths take a path without
 * printf: the same bytes as jansson's for every such value over a wide
 * range, and around it. */
static void test_writer_thousandths(void **state)
{
    (void)state;
    static const double extra[] = {0.0, -0.0, 0.0005, 1e-4, 0.00015, 0.1 + 0.2, 9999999.999,
                                   1e7, 1e10, 12345678.9, -0.001, 2.675, 1.0 / 3, 999999.9999,
                                   1e6, 0.9773, 5e-5};
    hl_buf_t out = HL_BUF_INIT;
    hl_jw_t w;
    for (int64_t k = -300000; k <= 300000 + (int64_t)(sizeof extra / sizeof *extra); k++) {
        double v = k <= 300000 ? (double)k / 1000.0 : extra[k - 300001];
        if (k > 150000 && k <= 300000) v = (double)(k * 977) / 1000.0; /* up to ~3e5 */
        if (k < -150000) v = (double)(k + 150000) / 10000.0;           /* ten-thousandths */
        if (k > 0 && k <= 150000 && k % 2) v = (double)k / 10000.0;
        hl_buf_reset(&out);
        hl_jw_init(&w, &out);
        hl_jw_real(&w, v);
        json_t *j = json_real(v);
        char *want = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10) | JSON_ENCODE_ANY);
        if (strcmp(out.data, want) != 0) fail_msg("%.17g: ours %s, jansson %s", v, out.data, want);
        free(want);
        json_decref(j);
    }
    hl_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_against_jansson), cmocka_unit_test(test_string_stops),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_writer_thousandths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
