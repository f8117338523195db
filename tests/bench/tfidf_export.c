/* tfidf_export.c - the baseline's features: exact character n-gram TF-IDF in
 * libsvm format, for liblinear (tests/bench/classify.sh).
 *
 * Same rows, same fixed split and same text normalisation as
 * hotline-classify; title and body are one text (title first). Vocabulary and
 * document frequencies come from the training part only; TF-IDF with smooth
 * idf, ln((1 + N) / (1 + df)) + 1, raw term frequency, L2-normalised rows
 * (the common scikit-learn TfidfVectorizer defaults).
 *
 * Usage: bench_tfidf_export CSV TRAIN_OUT VALIDATION_OUT [NMIN NMAX [SPLIT_SEED]]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/csv.h"
#include "hotline/features.h"
#include "hotline/map.h"
#include "hotline/train.h"
#include "hotline/utf8.h"

typedef struct {
    int label;
    bool val;
    size_t n;
    uint32_t *terms; /* term ids of every n-gram occurrence */
} doc_t;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_tfidf_export CSV TRAIN_OUT VALIDATION_OUT [NMIN NMAX]\n");
        return 2;
    }
    unsigned nmin = argc > 5 ? (unsigned)atoi(argv[4]) : 1, nmax = argc > 5 ? (unsigned)atoi(argv[5]) : 3;
    uint64_t split_seed = argc > 6 ? strtoull(argv[6], NULL, 10) : 1;
    char err[HL_ERR_LEN];
    hl_csv_t *c = hl_csv_open(argv[1], err);
    if (!c) return fprintf(stderr, "%s\n", err), 1;
    hl_map_t *vocab = hl_map_new(), *labels = hl_map_new();
    char *label_names[16];
    int nlabels = 0;
    doc_t *docs = NULL;
    size_t ndocs = 0, cap = 0;
    uint32_t next_term = 0;
    float *df = NULL;
    size_t dfcap = 0;
    hl_csv_row_t row;
    int rc, col[4] = {-1, -1, -1, -1};
    static const char *names[4] = {"id", "label", "title", "body"};
    bool header = true;
    uint32_t *cps = hl_malloc(sizeof(uint32_t) * 2 * HL_FEAT_MAX_CHARS + 8);
    while ((rc = hl_csv_next(c, &row, err)) != 0) {
        if (rc < 0) continue;
        if (header) {
            for (int k = 0; k < 4; k++)
                for (int i = 0; i < row.n; i++)
                    if (!strcmp(row.field[i], names[k])) col[k] = i;
            header = false;
            continue;
        }
        if (row.n <= col[3] || row.n <= col[1] || row.n <= col[2]) continue;
        if (!hl_utf8_valid(row.field[col[3]], row.len[col[3]]) ||
            !hl_utf8_valid(row.field[col[2]], row.len[col[2]]) || !row.len[col[1]])
            continue;
        const char *lab = row.field[col[1]];
        intptr_t li = (intptr_t)hl_map_get(labels, lab, strlen(lab));
        if (!li) {
            label_names[nlabels] = hl_strdup(lab);
            li = ++nlabels;
            hl_map_put(labels, lab, strlen(lab), (void *)li);
        }
        size_t n = hl_feat_normalize(row.field[col[2]], row.len[col[2]], cps, HL_FEAT_MAX_CHARS);
        cps[n++] = ' ';
        n += hl_feat_normalize(row.field[col[3]], row.len[col[3]], cps + n, HL_FEAT_MAX_CHARS);
        if (ndocs == cap) {
            cap = cap ? cap * 2 : 1024;
            docs = hl_realloc(docs, cap * sizeof(doc_t));
        }
        doc_t *d = &docs[ndocs++];
        d->label = (int)li;
        d->val = hl_split_is_validation(strtoll(row.field[col[0]], NULL, 10), split_seed);
        d->terms = hl_malloc((n * (nmax - nmin + 1) + 1) * sizeof(uint32_t));
        d->n = 0;
        for (size_t i = 0; i < n; i++) {
            for (unsigned k = nmin; k <= nmax && k <= i + 1; k++) {
                const uint32_t *key = cps + i + 1 - k;
                intptr_t t = (intptr_t)hl_map_get(vocab, (const char *)key, k * 4);
                if (!t) {
                    if (d->val) continue; /* not in the training vocabulary */
                    t = ++next_term;
                    hl_map_put(vocab, (const char *)key, k * 4, (void *)t);
                }
                d->terms[d->n++] = (uint32_t)t;
            }
        }
    }
    hl_csv_close(&c);
    /* Document frequencies over the training part. */
    dfcap = next_term + 1;
    df = hl_calloc(dfcap, sizeof(float));
    size_t ntrain = 0;
    for (size_t i = 0; i < ndocs; i++) {
        qsort(docs[i].terms, docs[i].n, sizeof(uint32_t), cmp_u32);
        if (docs[i].val) continue;
        ntrain++;
        for (size_t k = 0; k < docs[i].n; k++)
            if (k == 0 || docs[i].terms[k] != docs[i].terms[k - 1]) df[docs[i].terms[k]] += 1;
    }
    FILE *out[2] = {fopen(argv[2], "w"), fopen(argv[3], "w")};
    if (!out[0] || !out[1]) return perror("open"), 1;
    double *v = hl_malloc((dfcap + 1) * sizeof(double));
    uint32_t *u = hl_malloc((dfcap + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < ndocs; i++) {
        doc_t *d = &docs[i];
        size_t nu = 0;
        double norm = 0;
        for (size_t k = 0; k < d->n; k++) {
            if (nu && u[nu - 1] == d->terms[k]) {
                v[nu - 1] += 1;
            } else {
                u[nu] = d->terms[k];
                v[nu++] = 1;
            }
        }
        for (size_t k = 0; k < nu; k++) {
            v[k] *= log((1.0 + (double)ntrain) / (1.0 + df[u[k]])) + 1.0;
            norm += v[k] * v[k];
        }
        norm = norm > 0 ? sqrt(norm) : 1;
        FILE *f = out[d->val];
        fprintf(f, "%d", d->label);
        for (size_t k = 0; k < nu; k++) fprintf(f, " %u:%.6g", u[k], v[k] / norm);
        fputc('\n', f);
    }
    fclose(out[0]);
    fclose(out[1]);
    /* Label numbers for the reader: label n is the n-th label seen. */
    for (int i = 0; i < nlabels; i++) fprintf(stderr, "label %d %s\n", i + 1, label_names[i]);
    fprintf(stderr, "terms=%u train=%zu validation=%zu\n", next_term, ntrain, ndocs - ntrain);
    return 0;
}
