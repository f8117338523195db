/* classify.h - what a request is about: category, confidence, type, emergency.
 *
 * The classifier the router calls for every intake: a trained model
 * (model.h) for the first-level category and its calibrated confidence when
 * one is set, and a rule layer: keywords of the categories (a subcategory's
 * keywords refine its parent), request-type words and emergency phrases, all
 * matched in one pass with hl_matcher. Without a model the keywords choose
 * the first-level category too.
 *
 * Confidence of the rule layer alone: with s = the keyword score of each
 * first-level category (title hits count twice), best = max s, total = sum s:
 *     confidence = (best / total) * (best / (best + 1))
 * so one weak hit gives 0.5, agreement and repetition raise it, a split
 * between categories lowers it, and no hit at all gives 0 and no category.
 */
#ifndef HOTLINE_CLASSIFY_H
#define HOTLINE_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "hotline/err.h"
#include "hotline/model.h"
#include "hotline/ticket.h"

typedef struct {
    const char *category;          /* category code, "" when nothing matched */
    float confidence;              /* 0..1 */
    hl_type_t type;                /* from type words; 0 = none found */
    const char *emergency_phrase;  /* NULL = none */
    const char *emergency_service; /* "110", "119", "120" or "122" */
} hl_class_t;

typedef struct hl_classifier hl_classifier_t;

hl_classifier_t *hl_classifier_new(void);
void hl_classifier_destroy(hl_classifier_t **self_p);

/* Add a category (code copied). parent is NULL for a first-level category
 * and must have been added before. Keywords are copied. Returns 0, HL_EEXIST,
 * or HL_EINVAL (unknown parent, too many categories, keyword too long). */
HL_MUSTCHECK int hl_classifier_add_category(hl_classifier_t *c, const char *code,
                                            const char *parent, const char *const *keywords,
                                            size_t n);
/* Add an emergency phrase and the service it proposes. Returns 0 or HL_EINVAL. */
HL_MUSTCHECK int hl_classifier_add_emergency(hl_classifier_t *c, const char *phrase,
                                             const char *service);
/* Let a trained model (borrowed; it must outlive the classifier) decide the
 * first-level category and the confidence; codes[i] is the category code of
 * the model's label i and must have been added as a first-level category.
 * Subcategory keywords then refine within that category. They are routing
 * rules (燃气 -> the gas utility) and take a ticket to another category's
 * subcategory when the title names one or the text mentions it twice
 * (keyword score >= 2); the confidence is then the formula above over
 * subcategory hits. Type words and emergency phrases still apply. Call before
 * hl_classifier_build.
 * Returns 0 or HL_EINVAL (a code that is not a first-level category). */
HL_MUSTCHECK int hl_classifier_set_model(hl_classifier_t *c, const hl_model_t *model,
                                         const char *const *codes);
/* Finish building; the classifier is read-only afterwards. */
void hl_classifier_build(hl_classifier_t *c);

/* Classify a request. out's strings are borrowed from the classifier. */
void hl_classify(const hl_classifier_t *c, const char *title, size_t tlen, const char *body,
                 size_t blen, hl_class_t *out);
/* A short name of the rules or model, stored with each ticket. */
const char *hl_classifier_version(const hl_classifier_t *c);

#endif
