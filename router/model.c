/* model.c - model files and inference. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hotline/alloc.h"
#include "hotline/buf.h"
#include "hotline/utf8.h"

#include "model_int.h"

#define MAGIC "HLCM"
#define HEADER_FIXED 16 /* magic, format, 4 feature bytes, nlabels */
#define MAX_FILE ((size_t)1 << 28)

static void seterr(char err[HL_ERR_LEN], const char *fmt, ...) HL_PRINTF(2, 3);
static void seterr(char err[HL_ERR_LEN], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, HL_ERR_LEN, fmt, ap);
    va_end(ap);
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

hl_model_t *hl__model_new(const hl_feat_cfg_t *cfg, uint32_t nlabels)
{
    hl_model_t *m = hl_calloc(1, sizeof *m);
    m->feat = *cfg;
    m->nlabels = nlabels;
    m->temperature = 1.0f;
    m->table = hl_calloc((size_t)1 << cfg->bits, HL_MODEL_LANES);
    return m;
}

void hl_model_destroy(hl_model_t **self_p)
{
    if (!*self_p) return;
    hl_free((*self_p)->table);
    hl_free(*self_p);
    *self_p = NULL;
}

int hl_model_nlabels(const hl_model_t *m)
{
    return (int)m->nlabels;
}

const char *hl_model_label(const hl_model_t *m, int i)
{
    return i >= 0 && (uint32_t)i < m->nlabels ? m->labels[i] : "";
}

const char *hl_model_version(const hl_model_t *m)
{
    return m->version;
}

const hl_feat_cfg_t *hl_model_features(const hl_model_t *m)
{
    return &m->feat;
}

float hl_model_temperature(const hl_model_t *m)
{
    return m->temperature;
}

/* ------------------------------------------------------------ the file */

static void put_u32(hl_buf_t *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    hl_buf_append(b, x, 4);
}

static void put_u64(hl_buf_t *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_f32(hl_buf_t *b, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    put_u32(b, v);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static float get_f32(const uint8_t *p)
{
    uint32_t v = get_u32(p);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

static void serialize(const hl_model_t *m, hl_buf_t *b)
{
    hl_buf_append(b, MAGIC, 4);
    put_u32(b, HL_MODEL_FORMAT);
    uint8_t feat[4] = {m->feat.bits, m->feat.nmin, m->feat.nmax, m->feat.title};
    hl_buf_append(b, feat, 4);
    put_u32(b, m->nlabels);
    for (uint32_t i = 0; i < m->nlabels; i++) hl_buf_append(b, m->labels[i], HL_MODEL_LABEL_LEN);
    for (int i = 0; i < HL_MODEL_LANES; i++) put_f32(b, m->scale[i]);
    for (uint32_t i = 0; i < m->nlabels; i++) put_f32(b, m->bias[i]);
    put_f32(b, m->temperature);
    size_t tl = ((size_t)1 << m->feat.bits) * HL_MODEL_LANES;
    put_u64(b, tl);
    hl_buf_append(b, m->table, tl);
}

void hl__model_set_version(hl_model_t *m)
{
    hl_buf_t b = HL_BUF_INIT;
    serialize(m, &b);
    snprintf(m->version, sizeof m->version, "m%012" PRIx64,
             fnv1a((const uint8_t *)b.data, b.len) >> 16);
    hl_buf_free(&b);
}

int hl_model_save(const hl_model_t *m, const char *path, char err[HL_ERR_LEN])
{
    hl_buf_t b = HL_BUF_INIT;
    serialize(m, &b);
    put_u64(&b, fnv1a((const uint8_t *)b.data, b.len));
    hl_buf_t tmp = HL_BUF_INIT;
    hl_buf_printf(&tmp, "%s.tmp%d", path, (int)getpid());
    int rc = 0;
    FILE *f = fopen(tmp.data, "wb");
    if (!f || fwrite(b.data, 1, b.len, f) != b.len || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        seterr(err, "%s: %s", tmp.data, strerror(errno));
        rc = HL_EIO;
    }
    if (f && fclose(f) != 0 && rc == 0) {
        seterr(err, "%s: %s", tmp.data, strerror(errno));
        rc = HL_EIO;
    }
    if (rc == 0 && rename(tmp.data, path) != 0) {
        seterr(err, "%s: %s", path, strerror(errno));
        rc = HL_EIO;
    }
    if (rc) unlink(tmp.data);
    hl_buf_free(&tmp);
    hl_buf_free(&b);
    return rc;
}

hl_model_t *hl_model_load(const char *path, char err[HL_ERR_LEN])
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        seterr(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    hl_buf_t b = HL_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= MAX_FILE) hl_buf_append(&b, chunk, n);
    fclose(f);
    hl_model_t *m = NULL;
    const uint8_t *p = (const uint8_t *)b.data;
    if (b.len < 4 || memcmp(p, MAGIC, 4) != 0) {
        seterr(err, "%s is not a hotline model (no HLCM magic)", path);
        goto fail;
    }
    if (b.len > MAX_FILE) {
        seterr(err, "%s is too large to be a model", path);
        goto fail;
    }
    if (b.len < HEADER_FIXED + 8) goto truncated;
    uint32_t format = get_u32(p + 4);
    if (format != HL_MODEL_FORMAT) {
        seterr(err, "%s has model format %u; this program reads format %d", path, format,
               HL_MODEL_FORMAT);
        goto fail;
    }
    if (get_u64(p + b.len - 8) != fnv1a(p, b.len - 8)) {
        seterr(err, "%s is corrupt or truncated (checksum mismatch)", path);
        goto fail;
    }
    hl_feat_cfg_t cfg = {p[8], p[9], p[10], p[11]};
    uint32_t nlabels = get_u32(p + 12);
    if (hl_feat_check(&cfg) != 0 || nlabels < 2 || nlabels > HL_MODEL_MAX_LABELS) {
        seterr(err, "%s has invalid settings (bits %u, n-grams %u-%u, %u labels)", path, cfg.bits,
               cfg.nmin, cfg.nmax, nlabels);
        goto fail;
    }
    size_t tl = ((size_t)1 << cfg.bits) * HL_MODEL_LANES;
    size_t want = HEADER_FIXED + nlabels * HL_MODEL_LABEL_LEN + 4 * HL_MODEL_LANES + 4 * nlabels + 4 +
                  8 + tl + 8;
    if (b.len != want) {
        if (b.len < want) goto truncated;
        seterr(err, "%s has %zu bytes, %zu expected", path, b.len, want);
        goto fail;
    }
    m = hl__model_new(&cfg, nlabels);
    const uint8_t *q = p + HEADER_FIXED;
    for (uint32_t i = 0; i < nlabels; i++, q += HL_MODEL_LABEL_LEN) {
        memcpy(m->labels[i], q, HL_MODEL_LABEL_LEN);
        size_t ll = strnlen(m->labels[i], HL_MODEL_LABEL_LEN);
        if (ll == 0 || ll == HL_MODEL_LABEL_LEN || !hl_utf8_valid(m->labels[i], ll)) {
            seterr(err, "%s: label %u is not a valid name", path, i);
            goto fail;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(m->labels[i], m->labels[j]) == 0) {
                seterr(err, "%s: label '%s' appears twice", path, m->labels[i]);
                goto fail;
            }
        }
    }
    for (int i = 0; i < HL_MODEL_LANES; i++, q += 4) m->scale[i] = get_f32(q);
    for (uint32_t i = 0; i < nlabels; i++, q += 4) m->bias[i] = get_f32(q);
    m->temperature = get_f32(q);
    q += 4;
    for (int i = 0; i < HL_MODEL_LANES; i++)
        if (!isfinite(m->scale[i]) || m->scale[i] < 0) goto bad_number;
    for (uint32_t i = 0; i < nlabels; i++)
        if (!isfinite(m->bias[i])) goto bad_number;
    if (!isfinite(m->temperature) || m->temperature <= 0) goto bad_number;
    if (get_u64(q) != tl) goto truncated;
    memcpy(m->table, q + 8, tl);
    hl__model_set_version(m);
    hl_buf_free(&b);
    return m;
bad_number:
    seterr(err, "%s holds a scale, bias or temperature that is not a usable number", path);
    goto fail;
truncated:
    seterr(err, "%s is truncated", path);
fail:
    hl_model_destroy(&m);
    hl_buf_free(&b);
    return NULL;
}

/* ------------------------------------------------------------ inference */

void hl_model_scores(const hl_model_t *m, const char *title, size_t tlen, const char *body,
                     size_t blen, float scores[HL_MODEL_MAX_LABELS])
{
    /* n-gram buckets of both fields; bounded by HL_FEAT_MAX_CHARS each. */
    uint32_t idx[HL_FEAT_MAX_CHARS * 4 * 2];
    size_t n = hl_feat_extract(&m->feat, 1, title, tlen, idx);
    n += hl_feat_extract(&m->feat, 0, body, blen, idx + n);
    /* 16-bit lanes add in one vector instruction; 256 rows of int8 cannot
     * overflow them (256 * 127 < 32768), so widen to 32 bits every 256. */
    int32_t acc[HL_MODEL_LANES] = {0};
    const int8_t *t = m->table;
    for (size_t i = 0; i < n;) {
        int16_t part[HL_MODEL_LANES] = {0};
        size_t end = n - i > 256 ? i + 256 : n;
        for (; i < end; i++) {
            const int8_t *row = t + (size_t)idx[i] * HL_MODEL_LANES;
            for (int l = 0; l < HL_MODEL_LANES; l++) part[l] = (int16_t)(part[l] + row[l]);
        }
        for (int l = 0; l < HL_MODEL_LANES; l++) acc[l] += part[l];
    }
    float z2 = (float)acc[HL_MODEL_LANES - 1] * m->scale[HL_MODEL_LANES - 1];
    float inv = z2 > 0 ? 1.0f / sqrtf(z2) : 0.0f;
    for (uint32_t c = 0; c < m->nlabels; c++) scores[c] = (float)acc[c] * m->scale[c] * inv + m->bias[c];
}

void hl_model_predict(const hl_model_t *m, const char *title, size_t tlen, const char *body,
                      size_t blen, hl_prediction_t *out)
{
    float s[HL_MODEL_MAX_LABELS], max = -INFINITY, sum = 0;
    hl_model_scores(m, title, tlen, body, blen, s);
    int best = 0;
    for (uint32_t c = 0; c < m->nlabels; c++) {
        if (s[c] > max) max = s[c], best = (int)c;
    }
    for (uint32_t c = 0; c < m->nlabels; c++) {
        out->prob[c] = expf((s[c] - max) * m->temperature);
        sum += out->prob[c];
    }
    for (uint32_t c = 0; c < m->nlabels; c++) out->prob[c] /= sum;
    for (uint32_t c = m->nlabels; c < HL_MODEL_MAX_LABELS; c++) out->prob[c] = 0;
    out->label = best;
    out->confidence = out->prob[best];
}
