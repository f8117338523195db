/* train.c - datasets, NB-scaled one-vs-rest SVMs, quantisation, calibration. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/train.h"

#include "model_int.h"

typedef struct {
    int64_t id;
    int label;       /* index into names before sealing, then the sorted index */
    uint32_t nnz;
    uint32_t *idx;   /* sorted buckets */
    float *tf;       /* their counts */
} doc_t;

struct hl_dataset {
    hl_feat_cfg_t cfg;
    doc_t *docs;
    size_t n, cap;
    char names[HL_MODEL_MAX_LABELS][HL_MODEL_LABEL_LEN];
    int nnames;
    uint32_t *scratch;
    size_t scratch_cap;
};

void hl_train_defaults(hl_train_opts_t *o)
{
    o->c = 1.0;
    o->max_epochs = 200;
    o->eps = 0.1;
    o->seed = 1;
    o->nb = true;
    o->nb_alpha = 1.0;
    o->idf = true;
    o->balance = 0;
}

hl_dataset_t *hl_dataset_new(const hl_feat_cfg_t *cfg)
{
    hl_dataset_t *ds = hl_calloc(1, sizeof *ds);
    ds->cfg = *cfg;
    return ds;
}

void hl_dataset_destroy(hl_dataset_t **self_p)
{
    hl_dataset_t *ds = *self_p;
    if (!ds) return;
    for (size_t i = 0; i < ds->n; i++) hl_free(ds->docs[i].idx), hl_free(ds->docs[i].tf);
    hl_free(ds->docs);
    hl_free(ds->scratch);
    hl_free(ds);
    *self_p = NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int hl_dataset_add(hl_dataset_t *ds, int64_t id, const char *label, const char *title, size_t tlen,
                   const char *body, size_t blen, char err[HL_ERR_LEN])
{
    int k = -1;
    if (*label) {
        if (strlen(label) >= HL_MODEL_LABEL_LEN) {
            snprintf(err, HL_ERR_LEN, "label '%.32s...' is longer than %d bytes", label,
                     HL_MODEL_LABEL_LEN - 1);
            return HL_EINVAL;
        }
        for (int i = 0; i < ds->nnames; i++)
            if (strcmp(ds->names[i], label) == 0) k = i;
        if (k < 0) {
            if (ds->nnames == HL_MODEL_MAX_LABELS) {
                snprintf(err, HL_ERR_LEN, "more than %d labels (at '%s')", HL_MODEL_MAX_LABELS, label);
                return HL_EINVAL;
            }
            k = ds->nnames++;
            snprintf(ds->names[k], HL_MODEL_LABEL_LEN, "%s", label);
        }
    }
    size_t need = hl_feat_capacity(&ds->cfg, tlen) + hl_feat_capacity(&ds->cfg, blen);
    if (need > ds->scratch_cap) {
        ds->scratch_cap = need;
        ds->scratch = hl_realloc(ds->scratch, need * sizeof(uint32_t));
    }
    size_t n = hl_feat_extract(&ds->cfg, 1, title, tlen, ds->scratch);
    n += hl_feat_extract(&ds->cfg, 0, body, blen, ds->scratch + n);
    qsort(ds->scratch, n, sizeof(uint32_t), cmp_u32);
    if (ds->n == ds->cap) {
        ds->cap = ds->cap ? ds->cap * 2 : 1024;
        ds->docs = hl_realloc(ds->docs, ds->cap * sizeof(doc_t));
    }
    doc_t *d = &ds->docs[ds->n++];
    d->id = id;
    d->label = k;
    d->nnz = 0;
    d->idx = hl_malloc((n ? n : 1) * sizeof(uint32_t));
    d->tf = hl_malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        if (d->nnz && d->idx[d->nnz - 1] == ds->scratch[i]) {
            d->tf[d->nnz - 1] += 1;
        } else {
            d->idx[d->nnz] = ds->scratch[i];
            d->tf[d->nnz++] = 1;
        }
    }
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

void hl_dataset_seal(hl_dataset_t *ds)
{
    char sorted[HL_MODEL_MAX_LABELS][HL_MODEL_LABEL_LEN];
    memcpy(sorted, ds->names, sizeof sorted);
    qsort(sorted, (size_t)ds->nnames, HL_MODEL_LABEL_LEN, cmp_name);
    int map[HL_MODEL_MAX_LABELS];
    for (int i = 0; i < ds->nnames; i++)
        for (int j = 0; j < ds->nnames; j++)
            if (strcmp(ds->names[i], sorted[j]) == 0) map[i] = j;
    for (size_t i = 0; i < ds->n; i++)
        if (ds->docs[i].label >= 0) ds->docs[i].label = map[ds->docs[i].label];
    memcpy(ds->names, sorted, sizeof sorted);
}

size_t hl_dataset_size(const hl_dataset_t *ds)
{
    return ds->n;
}

int64_t hl_dataset_id(const hl_dataset_t *ds, size_t i)
{
    return ds->docs[i].id;
}

int hl_dataset_label(const hl_dataset_t *ds, size_t i)
{
    return ds->docs[i].label;
}

int hl_dataset_nlabels(const hl_dataset_t *ds)
{
    return ds->nnames;
}

const char *hl_dataset_label_name(const hl_dataset_t *ds, int k)
{
    return k >= 0 && k < ds->nnames ? ds->names[k] : "";
}

bool hl_split_is_validation(int64_t id, uint64_t seed)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ULL + seed * 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 31;
    h *= 0x94D049BB133111EBULL;
    h ^= h >> 29;
    return h % 5 == 0;
}

/* ------------------------------------------------------------ training */

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: a fixed, portable sequence for the visiting order */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Dual coordinate descent for one label against the rest (liblinear -s 1,
 * with the bias as a feature of value 1). x_i[k] = base[i][k] * r[idx]. */
static int train_binary(const hl_dataset_t *ds, const size_t *rows, size_t nrows, float **base,
                        const float *r, int label, double pos_weight, const hl_train_opts_t *o,
                        float *w, float *bias)
{
    /* squared hinge: D_ii = 1 / (2 C_i); a label's own requests may cost more */
    const double diag_neg = 0.5 / o->c, diag_pos = 0.5 / (o->c * pos_weight);
    double *alpha = hl_calloc(nrows, sizeof(double));
    double *qd = hl_malloc(nrows * sizeof(double));
    size_t *order = hl_malloc(nrows * sizeof(size_t));
    double wb = 0; /* the bias weight */
    for (size_t i = 0; i < nrows; i++) {
        const doc_t *d = &ds->docs[rows[i]];
        double q = (d->label == label ? diag_pos : diag_neg) + 1.0;
        for (uint32_t k = 0; k < d->nnz; k++) {
            double v = base[i][k] * r[d->idx[k]];
            q += v * v;
        }
        qd[i] = q;
        order[i] = i;
    }
    uint64_t rng = o->seed * 0x2545F4914F6CDD1DULL + (uint64_t)label;
    int epoch;
    for (epoch = 0; epoch < o->max_epochs; epoch++) {
        for (size_t i = nrows; i > 1; i--) {
            size_t j = (size_t)(rng_next(&rng) % i);
            size_t t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        double pgmax = -INFINITY, pgmin = INFINITY;
        for (size_t s = 0; s < nrows; s++) {
            size_t i = order[s];
            const doc_t *d = &ds->docs[rows[i]];
            double y = d->label == label ? 1.0 : -1.0;
            double diag = y > 0 ? diag_pos : diag_neg;
            double g = wb;
            for (uint32_t k = 0; k < d->nnz; k++) g += w[d->idx[k]] * base[i][k] * r[d->idx[k]];
            g = y * g - 1.0 + diag * alpha[i];
            double pg = alpha[i] == 0 ? (g < 0 ? g : 0) : g;
            if (pg > pgmax) pgmax = pg;
            if (pg < pgmin) pgmin = pg;
            if (fabs(pg) < 1e-12) continue;
            double old = alpha[i];
            alpha[i] = fmax(alpha[i] - g / qd[i], 0.0);
            double delta = (alpha[i] - old) * y;
            for (uint32_t k = 0; k < d->nnz; k++)
                w[d->idx[k]] += (float)(delta * base[i][k] * r[d->idx[k]]);
            wb += delta;
        }
        if (pgmax - pgmin < o->eps) break;
    }
    *bias = (float)wb;
    hl_free(alpha);
    hl_free(qd);
    hl_free(order);
    return epoch;
}

hl_model_t *hl_train(const hl_dataset_t *ds, const bool *mask, const hl_train_opts_t *o,
                     hl_train_progress_fn progress, void *arg, char err[HL_ERR_LEN])
{
    const size_t nb = (size_t)1 << ds->cfg.bits;
    const int L = ds->nnames;
    size_t nrows = 0;
    size_t *rows = hl_malloc((ds->n ? ds->n : 1) * sizeof(size_t));
    int present[HL_MODEL_MAX_LABELS] = {0}, npresent = 0;
    for (size_t i = 0; i < ds->n; i++) {
        if ((mask && !mask[i]) || ds->docs[i].label < 0) continue;
        rows[nrows++] = i;
        if (!present[ds->docs[i].label]++) npresent++;
    }
    if (npresent < 2) {
        snprintf(err, HL_ERR_LEN, "need labelled requests of at least two labels (have %d)", npresent);
        hl_free(rows);
        return NULL;
    }
    /* Document frequencies, per label too (for the NB ratios). */
    float *df = hl_calloc(nb, sizeof(float));
    float *dfl = hl_calloc(nb * (size_t)L, sizeof(float));
    for (size_t i = 0; i < nrows; i++) {
        const doc_t *d = &ds->docs[rows[i]];
        for (uint32_t k = 0; k < d->nnz; k++) {
            df[d->idx[k]] += 1;
            dfl[(size_t)d->idx[k] * (size_t)L + (size_t)d->label] += 1;
        }
    }
    /* idf as in common TF-IDF practice: ln((1 + N) / (1 + df)) + 1; an
     * n-gram never seen in training neither scores nor counts in Z. */
    float *idf = hl_malloc(nb * sizeof(float));
    for (size_t f = 0; f < nb; f++)
        idf[f] = df[f] == 0 ? 0.0f
                 : o->idf   ? (float)(log((1.0 + (double)nrows) / (1.0 + df[f])) + 1.0)
                            : 1.0f;
    /* base[i][k] = tf * idf / Z, Z^2 = sum tf * idf^2 (see model.h). */
    float **base = hl_malloc(nrows * sizeof(float *));
    for (size_t i = 0; i < nrows; i++) {
        const doc_t *d = &ds->docs[rows[i]];
        double z2 = 0;
        for (uint32_t k = 0; k < d->nnz; k++) z2 += d->tf[k] * idf[d->idx[k]] * idf[d->idx[k]];
        double inv = z2 > 0 ? 1.0 / sqrt(z2) : 0.0;
        base[i] = hl_malloc((d->nnz ? d->nnz : 1) * sizeof(float));
        for (uint32_t k = 0; k < d->nnz; k++) base[i][k] = (float)(d->tf[k] * idf[d->idx[k]] * inv);
    }

    hl_model_t *m = hl__model_new(&ds->cfg, (uint32_t)L);
    for (int c = 0; c < L; c++) snprintf(m->labels[c], HL_MODEL_LABEL_LEN, "%s", ds->names[c]);
    float *w = hl_malloc(nb * sizeof(float));
    float *r = hl_malloc(nb * sizeof(float));
    float *folded = hl_malloc(nb * (size_t)L * sizeof(float));
    double ndocs[HL_MODEL_MAX_LABELS] = {0};
    for (size_t i = 0; i < nrows; i++) ndocs[ds->docs[rows[i]].label] += 1;
    for (int c = 0; c < L; c++) {
        /* NB log-count ratio of label c against the rest, over document
         * frequencies smoothed by alpha and normalised to distributions. */
        if (o->nb) {
            double psum = 0, qsum = 0;
            for (size_t f = 0; f < nb; f++) {
                double p = dfl[f * (size_t)L + (size_t)c];
                psum += p + o->nb_alpha;
                qsum += df[f] - p + o->nb_alpha;
            }
            for (size_t f = 0; f < nb; f++) {
                double p = dfl[f * (size_t)L + (size_t)c];
                r[f] = (float)log(((p + o->nb_alpha) / psum) / ((df[f] - p + o->nb_alpha) / qsum));
            }
        } else {
            for (size_t f = 0; f < nb; f++) r[f] = 1.0f;
        }
        memset(w, 0, nb * sizeof(float));
        int epochs = 0;
        double pos_weight = ndocs[c] > 0 ? pow(((double)nrows - ndocs[c]) / ndocs[c], o->balance) : 1;
        if (ndocs[c] > 0)
            epochs = train_binary(ds, rows, nrows, base, r, c, pos_weight, o, w, &m->bias[c]);
        else m->bias[c] = -1.0f; /* a label absent from this training set never wins */
        for (size_t f = 0; f < nb; f++) folded[f * (size_t)L + (size_t)c] = w[f] * r[f] * idf[f];
        if (progress) progress(arg, c, L, epochs);
    }
    /* Quantise: one scale per lane; the last lane holds idf^2 for Z. */
    for (int c = 0; c < L; c++) {
        float mx = 0;
        for (size_t f = 0; f < nb; f++) mx = fmaxf(mx, fabsf(folded[f * (size_t)L + (size_t)c]));
        m->scale[c] = mx > 0 ? mx / 127.0f : 1.0f;
        for (size_t f = 0; f < nb; f++)
            m->table[f * HL_MODEL_LANES + (size_t)c] =
                (int8_t)lrintf(folded[f * (size_t)L + (size_t)c] / m->scale[c]);
    }
    float gmax = 0;
    for (size_t f = 0; f < nb; f++) gmax = fmaxf(gmax, idf[f] * idf[f]);
    m->scale[HL_MODEL_LANES - 1] = gmax > 0 ? gmax / 127.0f : 1.0f;
    for (size_t f = 0; f < nb; f++)
        m->table[f * HL_MODEL_LANES + HL_MODEL_LANES - 1] =
            (int8_t)lrintf(idf[f] * idf[f] / m->scale[HL_MODEL_LANES - 1]);
    hl__model_set_version(m);

    for (size_t i = 0; i < nrows; i++) hl_free(base[i]);
    hl_free(base);
    hl_free(rows);
    hl_free(df);
    hl_free(dfl);
    hl_free(idf);
    hl_free(w);
    hl_free(r);
    hl_free(folded);
    return m;
}

/* ---------------------------------------------------- prediction, metrics */

static void scores_of(const hl_model_t *m, const doc_t *d, float *s)
{
    int32_t acc[HL_MODEL_LANES] = {0};
    for (uint32_t k = 0; k < d->nnz; k++) {
        const int8_t *row = m->table + (size_t)d->idx[k] * HL_MODEL_LANES;
        for (int l = 0; l < HL_MODEL_LANES; l++) acc[l] += (int32_t)d->tf[k] * row[l];
    }
    float z2 = (float)acc[HL_MODEL_LANES - 1] * m->scale[HL_MODEL_LANES - 1];
    float inv = z2 > 0 ? 1.0f / sqrtf(z2) : 0.0f;
    for (uint32_t c = 0; c < m->nlabels; c++) s[c] = (float)acc[c] * m->scale[c] * inv + m->bias[c];
}

static void softmax(const float *s, int n, float t, hl_prediction_t *out)
{
    float max = -INFINITY, sum = 0;
    int best = 0;
    for (int c = 0; c < n; c++)
        if (s[c] > max) max = s[c], best = c;
    for (int c = 0; c < n; c++) sum += out->prob[c] = expf((s[c] - max) * t);
    for (int c = 0; c < n; c++) out->prob[c] /= sum;
    for (int c = n; c < HL_MODEL_MAX_LABELS; c++) out->prob[c] = 0;
    out->label = best;
    out->confidence = out->prob[best];
}

void hl_dataset_predict(const hl_model_t *m, const hl_dataset_t *ds, size_t i, hl_prediction_t *out)
{
    float s[HL_MODEL_MAX_LABELS];
    scores_of(m, &ds->docs[i], s);
    softmax(s, (int)m->nlabels, m->temperature, out);
}

void hl_model_set_temperature(hl_model_t *m, float t)
{
    m->temperature = t;
    hl__model_set_version(m);
}

static double nll_at(const float *scores, const int *truth, size_t n, int L, float t)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        hl_prediction_t p;
        softmax(scores + i * (size_t)L, L, t, &p);
        sum -= log(fmax(p.prob[truth[i]], 1e-12));
    }
    return sum / (double)(n ? n : 1);
}

float hl_train_calibrate(hl_model_t *m, const hl_dataset_t *ds, const bool *mask)
{
    const int L = (int)m->nlabels;
    float *scores = hl_malloc((ds->n ? ds->n : 1) * (size_t)L * sizeof(float));
    int *truth = hl_malloc((ds->n ? ds->n : 1) * sizeof(int));
    size_t n = 0;
    for (size_t i = 0; i < ds->n; i++) {
        if ((mask && !mask[i]) || ds->docs[i].label < 0) continue;
        scores_of(m, &ds->docs[i], scores + n * (size_t)L);
        truth[n++] = ds->docs[i].label;
    }
    /* Golden-section search of log t in [log 0.05, log 200]. */
    double a = log(0.05), b = log(200.0), g = (sqrt(5.0) - 1) / 2;
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    double f1 = nll_at(scores, truth, n, L, (float)exp(x1)), f2 = nll_at(scores, truth, n, L, (float)exp(x2));
    for (int it = 0; it < 60; it++) {
        if (f1 < f2) {
            b = x2, x2 = x1, f2 = f1, x1 = b - g * (b - a);
            f1 = nll_at(scores, truth, n, L, (float)exp(x1));
        } else {
            a = x1, x1 = x2, f1 = f2, x2 = a + g * (b - a);
            f2 = nll_at(scores, truth, n, L, (float)exp(x2));
        }
    }
    float t = n ? (float)exp((a + b) / 2) : 1.0f;
    hl_model_set_temperature(m, t);
    hl_free(scores);
    hl_free(truth);
    return t;
}

void hl_metrics_init(hl_metrics_t *mt, int nlabels)
{
    memset(mt, 0, sizeof *mt);
    mt->nlabels = nlabels;
}

void hl_metrics_add(hl_metrics_t *mt, int truth, const hl_prediction_t *p)
{
    if (truth < 0 || truth >= mt->nlabels) return;
    mt->n++;
    mt->confusion[truth][p->label]++;
    mt->nll -= log(fmax(p->prob[truth], 1e-12));
    int b = (int)(p->confidence * 10);
    b = b > 9 ? 9 : b < 0 ? 0 : b;
    mt->bin_confidence[b] += p->confidence;
    mt->bin_correct[b] += p->label == truth;
}

void hl_metrics_finish(hl_metrics_t *mt)
{
    double ece = 0;
    for (int b = 0; b < 10; b++) ece += fabs(mt->bin_confidence[b] - mt->bin_correct[b]);
    mt->ece = mt->n ? ece / (double)mt->n : 0;
    mt->nll = mt->n ? mt->nll / (double)mt->n : 0;
    long right = 0;
    double f1sum = 0;
    for (int c = 0; c < mt->nlabels; c++) {
        long tp = mt->confusion[c][c], pred = 0, actual = 0;
        for (int k = 0; k < mt->nlabels; k++) pred += mt->confusion[k][c], actual += mt->confusion[c][k];
        mt->support[c] = actual;
        mt->precision[c] = pred ? (double)tp / (double)pred : 0;
        mt->recall[c] = actual ? (double)tp / (double)actual : 0;
        double pr = mt->precision[c] + mt->recall[c];
        mt->f1[c] = pr > 0 ? 2 * mt->precision[c] * mt->recall[c] / pr : 0;
        f1sum += mt->f1[c];
        right += tp;
    }
    mt->accuracy = mt->n ? (double)right / (double)mt->n : 0;
    mt->macro_f1 = mt->nlabels ? f1sum / mt->nlabels : 0;
}
