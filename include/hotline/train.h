/* train.h - training and evaluating the text classifier.
 *
 * A dataset holds each labelled request as sparse n-gram counts (features.h).
 * Training fits, for every label against the rest, an L2-regularised
 * squared-hinge linear SVM by dual coordinate descent (the method of
 * liblinear's -s 1), on TF-IDF vectors scaled per label by naive-Bayes
 * log-count ratios (NBSVM, Wang & Manning 2012) and normalised as model.h
 * says. Visiting order is a seeded permutation: the same data, options and
 * seed give the same model, byte for byte. The weights are then folded and
 * quantised into an hl_model_t, and the temperature of its confidence is
 * fitted on held-out data.
 */
#ifndef HOTLINE_TRAIN_H
#define HOTLINE_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hotline/err.h"
#include "hotline/features.h"
#include "hotline/model.h"

typedef struct {
    double c;          /* SVM cost (default 1) */
    int max_epochs;    /* dual coordinate descent passes at most (default 200) */
    double eps;        /* stop when the projected-gradient spread is below (default 0.1) */
    uint64_t seed;     /* visiting order (default 1) */
    bool nb;           /* scale features by NB log-count ratios (default true) */
    double nb_alpha;   /* their smoothing (default 1) */
    bool idf;          /* weight n-grams by inverse document frequency (default true) */
    double balance;    /* cost of a label's own requests x (others / own)^balance (default 0) */
} hl_train_opts_t;

/* The defaults above. */
void hl_train_defaults(hl_train_opts_t *o);

typedef struct hl_dataset hl_dataset_t;

hl_dataset_t *hl_dataset_new(const hl_feat_cfg_t *cfg);
void hl_dataset_destroy(hl_dataset_t **self_p);
/* Add a request. label may be "" (unlabelled, for prediction). Returns 0, or
 * HL_EINVAL with err filled when there would be more labels than a model holds
 * or the label is too long. */
HL_MUSTCHECK int hl_dataset_add(hl_dataset_t *ds, int64_t id, const char *label, const char *title,
                                size_t tlen, const char *body, size_t blen, char err[HL_ERR_LEN]);
size_t hl_dataset_size(const hl_dataset_t *ds);
int64_t hl_dataset_id(const hl_dataset_t *ds, size_t i);
/* The label index of request i (-1 when unlabelled). Labels are numbered in
 * byte order of their names once hl_dataset_seal is called. */
int hl_dataset_label(const hl_dataset_t *ds, size_t i);
int hl_dataset_nlabels(const hl_dataset_t *ds);
const char *hl_dataset_label_name(const hl_dataset_t *ds, int k);
/* Number the labels in byte order (call after the last add). */
void hl_dataset_seal(hl_dataset_t *ds);

/* The fixed validation split: true for one request in five, chosen by a hash
 * of its id and the seed. */
bool hl_split_is_validation(int64_t id, uint64_t seed);

typedef void (*hl_train_progress_fn)(void *arg, int label, int nlabels, int epochs);

/* Train on the requests whose mask entry is true (all when mask is NULL).
 * Returns a model (temperature 1) or NULL with err filled (fewer than two
 * labels present). */
hl_model_t *hl_train(const hl_dataset_t *ds, const bool *mask, const hl_train_opts_t *o,
                     hl_train_progress_fn progress, void *arg, char err[HL_ERR_LEN]);

/* Fit the model's temperature to the requests of mask (minimum negative log
 * likelihood) and return it; hl_model_set_temperature applies one. */
float hl_train_calibrate(hl_model_t *m, const hl_dataset_t *ds, const bool *mask);
void hl_model_set_temperature(hl_model_t *m, float t);

/* The model's prediction for request i of a dataset (same features as text). */
void hl_dataset_predict(const hl_model_t *m, const hl_dataset_t *ds, size_t i, hl_prediction_t *out);

typedef struct {
    int nlabels;
    long n;
    long confusion[HL_MODEL_MAX_LABELS][HL_MODEL_MAX_LABELS]; /* [true][predicted] */
    long support[HL_MODEL_MAX_LABELS];
    double precision[HL_MODEL_MAX_LABELS], recall[HL_MODEL_MAX_LABELS], f1[HL_MODEL_MAX_LABELS];
    double accuracy, macro_f1;
    double ece;        /* expected calibration error, 10 bins of confidence */
    double nll;        /* mean negative log likelihood */
    double bin_confidence[10], bin_correct[10];
} hl_metrics_t;

void hl_metrics_init(hl_metrics_t *mt, int nlabels);
void hl_metrics_add(hl_metrics_t *mt, int truth, const hl_prediction_t *p);
/* Compute the rates from the counts. */
void hl_metrics_finish(hl_metrics_t *mt);

#endif
