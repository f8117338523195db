/* classify.c - the rule-layer classifier. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/classify.h"
#include "hotline/map.h"
#include "hotline/matcher.h"

#define MAX_CATEGORIES 1024
#define KIND_CATEGORY 0
#define KIND_EMERGENCY 1
#define KIND_TYPE 2
#define SUB_OVERRIDE_SCORE 2.0f /* a title hit (weight 2) or two body hits */

typedef struct {
    char *code;
    int parent; /* -1 for first level */
    int top;    /* index of its first-level ancestor */
} category_t;

typedef struct {
    char *phrase;
    char service[4];
} emergency_t;

struct hl_classifier {
    hl_matcher_t *m;
    category_t cats[MAX_CATEGORIES];
    int ncats;
    hl_map_t *by_code; /* code -> index + 1 */
    emergency_t *emerg;
    int nemerg, capemerg;
    uint64_t digest;   /* of everything added, for the version */
    char version[64];
    const hl_model_t *model;            /* borrowed, or NULL */
    int model_cat[HL_MODEL_MAX_LABELS]; /* category index of each model label */
};

/* Request-type words, by rising priority. Written for this project. */
static const struct {
    const char *word;
    hl_type_t type;
} type_words[] = {
    {"感谢", HOTLINE__REQUEST_TYPE__TYPE_PRAISE},
    {"表扬", HOTLINE__REQUEST_TYPE__TYPE_PRAISE},
    {"咨询", HOTLINE__REQUEST_TYPE__TYPE_CONSULTATION},
    {"请问", HOTLINE__REQUEST_TYPE__TYPE_CONSULTATION},
    {"如何办理", HOTLINE__REQUEST_TYPE__TYPE_CONSULTATION},
    {"建议", HOTLINE__REQUEST_TYPE__TYPE_SUGGESTION},
    {"求助", HOTLINE__REQUEST_TYPE__TYPE_HELP},
    {"投诉", HOTLINE__REQUEST_TYPE__TYPE_COMPLAINT},
    {"举报", HOTLINE__REQUEST_TYPE__TYPE_REPORT},
};
#define NTYPES (int)(sizeof type_words / sizeof type_words[0])

static void digest(hl_classifier_t *c, const char *s)
{
    c->digest = c->digest * 31 + hl_hash(s, strlen(s) + 1);
}

hl_classifier_t *hl_classifier_new(void)
{
    hl_classifier_t *c = hl_calloc(1, sizeof *c);
    c->m = hl_matcher_new();
    c->by_code = hl_map_new();
    for (int i = 0; i < NTYPES; i++) {
        if (hl_matcher_add(c->m, type_words[i].word, strlen(type_words[i].word),
                           i * 4 + KIND_TYPE) != 0)
            abort();
    }
    return c;
}

void hl_classifier_destroy(hl_classifier_t **self_p)
{
    hl_classifier_t *c = *self_p;
    if (!c) return;
    hl_matcher_destroy(&c->m);
    hl_map_destroy(&c->by_code);
    for (int i = 0; i < c->ncats; i++) hl_free(c->cats[i].code);
    for (int i = 0; i < c->nemerg; i++) hl_free(c->emerg[i].phrase);
    hl_free(c->emerg);
    hl_free(c);
    *self_p = NULL;
}

int hl_classifier_add_category(hl_classifier_t *c, const char *code, const char *parent,
                               const char *const *keywords, size_t n)
{
    if (c->ncats == MAX_CATEGORIES || !*code) return HL_EINVAL;
    if (hl_map_get(c->by_code, code, strlen(code))) return HL_EEXIST;
    int p = -1;
    if (parent) {
        intptr_t v = (intptr_t)hl_map_get(c->by_code, parent, strlen(parent));
        if (!v) return HL_EINVAL;
        p = (int)v - 1;
    }
    int idx = c->ncats;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(keywords[i]);
        if (len == 0) continue;
        if (hl_matcher_add(c->m, keywords[i], len, idx * 4 + KIND_CATEGORY) != 0) return HL_EINVAL;
        digest(c, keywords[i]);
    }
    c->cats[idx] = (category_t){hl_strdup(code), p, p < 0 ? idx : c->cats[p].top};
    c->ncats++;
    hl_map_put(c->by_code, code, strlen(code), (void *)(intptr_t)(idx + 1));
    digest(c, code);
    return 0;
}

int hl_classifier_add_emergency(hl_classifier_t *c, const char *phrase, const char *service)
{
    size_t len = strlen(phrase);
    if (len == 0 || strlen(service) > 3) return HL_EINVAL;
    if (hl_matcher_add(c->m, phrase, len, c->nemerg * 4 + KIND_EMERGENCY) != 0) return HL_EINVAL;
    if (c->nemerg == c->capemerg) {
        c->capemerg = c->capemerg ? c->capemerg * 2 : 32;
        c->emerg = hl_realloc(c->emerg, (size_t)c->capemerg * sizeof *c->emerg);
    }
    c->emerg[c->nemerg].phrase = hl_strdup(phrase);
    snprintf(c->emerg[c->nemerg].service, sizeof c->emerg[c->nemerg].service, "%s", service);
    c->nemerg++;
    digest(c, phrase);
    return 0;
}

int hl_classifier_set_model(hl_classifier_t *c, const hl_model_t *model, const char *const *codes)
{
    for (int i = 0; i < hl_model_nlabels(model); i++) {
        intptr_t v = (intptr_t)hl_map_get(c->by_code, codes[i], strlen(codes[i]));
        if (!v || c->cats[v - 1].parent >= 0) return HL_EINVAL;
        c->model_cat[i] = (int)v - 1;
    }
    c->model = model;
    return 0;
}

void hl_classifier_build(hl_classifier_t *c)
{
    hl_matcher_build(c->m);
    if (c->model)
        snprintf(c->version, sizeof c->version, "%s+rules-%08x", hl_model_version(c->model),
                 (unsigned)(c->digest >> 32));
    else
        snprintf(c->version, sizeof c->version, "rules-%08x", (unsigned)(c->digest >> 32));
}

const char *hl_classifier_version(const hl_classifier_t *c)
{
    return c->version;
}

typedef struct {
    const hl_classifier_t *c;
    float weight;
    float score[MAX_CATEGORIES];
    int type_rank;  /* index into type_words + 1, 0 = none */
    int emergency;  /* index + 1 of the first emergency phrase, 0 = none */
    size_t emergency_at;
} scan_t;

static void on_match(void *arg, int32_t value, size_t end)
{
    scan_t *s = arg;
    int idx = value / 4;
    switch (value % 4) {
    case KIND_CATEGORY: s->score[idx] += s->weight; break;
    case KIND_TYPE:
        if (idx + 1 > s->type_rank) s->type_rank = idx + 1;
        break;
    case KIND_EMERGENCY:
        if (!s->emergency || end < s->emergency_at) s->emergency = idx + 1, s->emergency_at = end;
        break;
    }
}

void hl_classify(const hl_classifier_t *c, const char *title, size_t tlen, const char *body,
                 size_t blen, hl_class_t *out)
{
    scan_t s;
    memset(&s, 0, offsetof(scan_t, score) + (size_t)c->ncats * sizeof(float));
    memset(&s.type_rank, 0, sizeof s - offsetof(scan_t, type_rank));
    s.c = c;
    s.weight = 2.0f;
    hl_matcher_scan(c->m, title, tlen, on_match, &s);
    /* An emergency in the title comes before anything in the body. */
    size_t title_emergency = s.emergency;
    s.weight = 1.0f;
    hl_matcher_scan(c->m, body, blen, on_match, &s);
    if (title_emergency) s.emergency = (int)title_emergency;

    /* First-level scores include their descendants' hits. */
    float top[MAX_CATEGORIES] = {0}, total = 0, best = 0;
    int besti = -1;
    for (int i = 0; i < c->ncats; i++) {
        top[c->cats[i].top] += s.score[i];
        total += s.score[i];
    }
    for (int i = 0; i < c->ncats; i++) {
        if (c->cats[i].parent < 0 && top[i] > best) best = top[i], besti = i;
    }
    out->category = "";
    out->confidence = 0;
    float confidence = besti >= 0 ? (best / total) * (best / (best + 1.0f)) : 0;
    if (c->model) {
        hl_prediction_t p;
        hl_model_predict(c->model, title, tlen, body, blen, &p);
        besti = c->model_cat[p.label];
        confidence = p.confidence;
        /* A subcategory's keywords (燃气, 公交) are the operator's routing
         * rules: they name who must act, whatever label the message board
         * would file the text under. They refine within the model's
         * category; they take the ticket to another category's subcategory
         * when named in the title or mentioned at least twice. */
        float sub_total = 0, sub_best = 0;
        int subi = -1;
        for (int i = 0; i < c->ncats; i++) {
            if (c->cats[i].parent < 0) continue;
            sub_total += s.score[i];
            if (s.score[i] > sub_best) sub_best = s.score[i], subi = i;
        }
        if (subi >= 0 && c->cats[subi].top != besti && sub_best >= SUB_OVERRIDE_SCORE) {
            besti = subi;
            confidence = (sub_best / sub_total) * (sub_best / (sub_best + 1.0f));
        }
    }
    if (besti >= 0) {
        /* Refine: descend to the best-scoring child while one has hits. */
        int cur = besti;
        for (;;) {
            int child = -1;
            float cs = 0;
            for (int i = 0; i < c->ncats; i++)
                if (c->cats[i].parent == cur && s.score[i] > cs) cs = s.score[i], child = i;
            if (child < 0) break;
            cur = child;
        }
        out->category = c->cats[cur].code;
        out->confidence = confidence;
    }
    out->type = s.type_rank ? type_words[s.type_rank - 1].type : 0;
    out->emergency_phrase = s.emergency ? c->emerg[s.emergency - 1].phrase : NULL;
    out->emergency_service = s.emergency ? c->emerg[s.emergency - 1].service : NULL;
}
