/* model.h - the trained text classifier: load, save, predict.
 *
 * A linear model over hashed character n-grams (features.h). For a request
 * with n-gram counts tf_f, the score of label c is
 *     s_c = (sum_f tf_f * w_cf) / Z + b_c,    Z^2 = sum_f tf_f * g_f
 * where w already folds in each feature's IDF and NB ratio and g_f is its
 * squared IDF, so both sums run over n-gram occurrences with no
 * de-duplication. Weights are stored as int8 with one scale per label, lanes
 * of 8 per bucket (up to 7 labels; the 8th lane holds g). The confidence is a
 * softmax of the scores at a temperature fitted on held-out data.
 *
 * File format (little endian): "HLCM" magic, u32 format version, feature
 * settings, label names, scales, biases, temperature, the weight table, and a
 * final FNV-1a 64 checksum of everything before it. A file that is truncated,
 * corrupt, of another version or not a model at all is refused with a clear
 * message.
 */
#ifndef HOTLINE_MODEL_H
#define HOTLINE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "hotline/err.h"
#include "hotline/features.h"

#define HL_MODEL_MAX_LABELS 7
#define HL_MODEL_LANES 8
#define HL_MODEL_LABEL_LEN 64
#define HL_MODEL_FORMAT 1

typedef struct hl_model hl_model_t;

typedef struct {
    int label;                          /* index of the most likely label */
    float confidence;                   /* its calibrated probability */
    float prob[HL_MODEL_MAX_LABELS];    /* every label's probability */
} hl_prediction_t;

/* Load a model file. NULL with err filled when the file cannot be read or is
 * not a valid model of this format version. */
hl_model_t *hl_model_load(const char *path, char err[HL_ERR_LEN]);
/* Write the model to path (atomically: a temporary file renamed). Returns 0
 * or HL_EIO with err filled. */
HL_MUSTCHECK int hl_model_save(const hl_model_t *m, const char *path, char err[HL_ERR_LEN]);
void hl_model_destroy(hl_model_t **self_p);

int hl_model_nlabels(const hl_model_t *m);
const char *hl_model_label(const hl_model_t *m, int i);
/* "m" + the first 12 hex digits of the file checksum: names the weights. */
const char *hl_model_version(const hl_model_t *m);
const hl_feat_cfg_t *hl_model_features(const hl_model_t *m);
float hl_model_temperature(const hl_model_t *m);

/* Predict the label of a request. Never fails; an empty text gets the
 * labels' prior. Uses no memory beyond the stack. */
void hl_model_predict(const hl_model_t *m, const char *title, size_t tlen, const char *body,
                      size_t blen, hl_prediction_t *out);
/* The raw scores s_c (before the temperature), for calibration. */
void hl_model_scores(const hl_model_t *m, const char *title, size_t tlen, const char *body,
                     size_t blen, float scores[HL_MODEL_MAX_LABELS]);

#endif
