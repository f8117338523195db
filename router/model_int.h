/* model_int.h - the model's layout, shared by model.c and train.c only. */
#ifndef HOTLINE_MODEL_INT_H
#define HOTLINE_MODEL_INT_H

#include "hotline/model.h"

struct hl_model {
    hl_feat_cfg_t feat;
    uint32_t nlabels;
    char labels[HL_MODEL_MAX_LABELS][HL_MODEL_LABEL_LEN];
    float scale[HL_MODEL_LANES];   /* lane value = int8 * scale */
    float bias[HL_MODEL_MAX_LABELS];
    float temperature;
    int8_t *table;                 /* (1 << bits) * HL_MODEL_LANES */
    char version[32];
};

/* A model with an empty table for cfg; never NULL. */
hl_model_t *hl__model_new(const hl_feat_cfg_t *cfg, uint32_t nlabels);
/* Name the weights from their checksum (after training or loading). */
void hl__model_set_version(hl_model_t *m);

#endif
