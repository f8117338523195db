/* kbindex.c - BM25 over character bigrams for the knowledge base (see kbindex.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/features.h"
#include "hotline/kbindex.h"
#include "hotline/ticket.h"
#include "hotline/utf8.h"

#define K1 1.2f
#define B 0.75f
#define TEXT_MAX 4096 /* characters of a question (title and variants) looked at */

typedef struct {
    uint32_t doc;
    uint16_t tfq, tfa;
} posting_t;

typedef struct {
    uint64_t key;
    uint32_t df;          /* live entries with the bigram */
    uint32_t n, cap;
    posting_t *p;
} term_t;

typedef struct {
    int64_t id;
    int32_t version;
    bool alive;
    uint32_t dlq, dla;    /* bigrams in the question and the answer's head */
    int64_t from_ms, to_ms;
    char *title, *variants, *answer, *category;
} doc_t;

struct hl_kbindex {
    term_t *terms;
    size_t nterms, termcap;
    uint32_t *tslots;     /* term table: index + 1, 0 = empty */
    size_t tmask;
    doc_t *docs;
    size_t ndocs, doccap;
    uint32_t *dslots;     /* id table: doc + 1, 0 = empty; dead docs keep theirs until a rebuild */
    size_t dmask;
    size_t nlive;
    uint64_t sum_dlq, sum_dla;
    size_t postings, dead_postings;
    size_t text_bytes;
};

typedef struct {
    uint64_t key;
    uint16_t tfq, tfa;
} tf_t;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static char *dup_or_empty(const char *s)
{
    return hl_strdup(s ? s : "");
}

/* ------------------------------------------------------------ bigrams */

/* The bigram keys of text (a unigram if it has one character), appended to
 * *keys with field bit f (0 question, 1 answer). Returns how many. */
static size_t bigrams(const char *text, size_t max_chars, int f, uint64_t **keys, size_t *n, size_t *cap)
{
    if (!text || !*text) return 0;
    uint32_t cps[TEXT_MAX];
    size_t len = strlen(text);
    size_t m = hl_feat_normalize(text, len, cps, max_chars < TEXT_MAX ? max_chars : TEXT_MAX);
    size_t add = m >= 2 ? m - 1 : m;
    if (*n + add > *cap) {
        *cap = (*n + add) * 2;
        *keys = hl_realloc(*keys, *cap * sizeof **keys);
    }
    if (m == 1) (*keys)[(*n)++] = ((uint64_t)cps[0] << 32) << 1 | (uint64_t)f;
    for (size_t i = 0; i + 1 < m; i++)
        (*keys)[(*n)++] = (((uint64_t)cps[i] << 32 | (uint64_t)(cps[i + 1] + 1)) << 1) | (uint64_t)f;
    return add;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* An entry's terms with their counts per field; *dlq, *dla get the field
 * lengths. The caller frees the result. */
static tf_t *entry_terms(const char *title, const char *variants, const char *answer, size_t *nt, uint32_t *dlq,
                         uint32_t *dla)
{
    uint64_t *keys = NULL;
    size_t n = 0, cap = 0;
    size_t q = bigrams(title, TEXT_MAX, 0, &keys, &n, &cap);
    if (variants) {
        const char *p = variants;
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t l = nl ? (size_t)(nl - p) : strlen(p);
            char line[2048];
            if (l >= sizeof line) l = sizeof line - 1;
            memcpy(line, p, l);
            line[l] = '\0';
            q += bigrams(line, TEXT_MAX, 0, &keys, &n, &cap);
            p += nl ? (size_t)(nl - p) + 1 : strlen(p);
        }
    }
    size_t a = bigrams(answer, HL_KB_ANSWER_HEAD, 1, &keys, &n, &cap);
    *dlq = (uint32_t)q;
    *dla = (uint32_t)a;
    qsort(keys, n, sizeof *keys, cmp_u64);
    tf_t *out = hl_malloc((n ? n : 1) * sizeof *out);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t key = keys[i] >> 1;
        int f = (int)(keys[i] & 1);
        if (k == 0 || out[k - 1].key != key) out[k++] = (tf_t){key, 0, 0};
        if (f == 0 && out[k - 1].tfq < UINT16_MAX) out[k - 1].tfq++;
        if (f == 1 && out[k - 1].tfa < UINT16_MAX) out[k - 1].tfa++;
    }
    hl_free(keys);
    *nt = k;
    return out;
}

/* ------------------------------------------------------------ tables */

static term_t *find_term(const hl_kbindex_t *ix, uint64_t key)
{
    if (!ix->tslots) return NULL;
    for (size_t i = mix(key) & ix->tmask;; i = (i + 1) & ix->tmask) {
        uint32_t s = ix->tslots[i];
        if (!s) return NULL;
        if (ix->terms[s - 1].key == key) return &ix->terms[s - 1];
    }
}

static void term_slots_rebuild(hl_kbindex_t *ix, size_t size)
{
    hl_free(ix->tslots);
    ix->tslots = hl_calloc(size, sizeof *ix->tslots);
    ix->tmask = size - 1;
    for (size_t t = 0; t < ix->nterms; t++) {
        size_t i = mix(ix->terms[t].key) & ix->tmask;
        while (ix->tslots[i]) i = (i + 1) & ix->tmask;
        ix->tslots[i] = (uint32_t)(t + 1);
    }
}

static term_t *get_term(hl_kbindex_t *ix, uint64_t key)
{
    term_t *t = find_term(ix, key);
    if (t) return t;
    if (!ix->tslots || (ix->nterms + 1) * 2 > ix->tmask + 1) term_slots_rebuild(ix, ix->tslots ? (ix->tmask + 1) * 2 : 4096);
    if (ix->nterms == ix->termcap) {
        ix->termcap = ix->termcap ? ix->termcap * 2 : 4096;
        ix->terms = hl_realloc(ix->terms, ix->termcap * sizeof *ix->terms);
    }
    t = &ix->terms[ix->nterms++];
    *t = (term_t){.key = key};
    size_t i = mix(key) & ix->tmask;
    while (ix->tslots[i]) i = (i + 1) & ix->tmask;
    ix->tslots[i] = (uint32_t)ix->nterms;
    return t;
}

static uint32_t *find_doc_slot(const hl_kbindex_t *ix, int64_t id)
{
    if (!ix->dslots) return NULL;
    for (size_t i = mix((uint64_t)id) & ix->dmask;; i = (i + 1) & ix->dmask) {
        uint32_t *s = &ix->dslots[i];
        if (!*s) return NULL;
        if (ix->docs[*s - 1].id == id) return s;
    }
}

static void doc_slots_rebuild(hl_kbindex_t *ix, size_t size)
{
    hl_free(ix->dslots);
    ix->dslots = hl_calloc(size, sizeof *ix->dslots);
    ix->dmask = size - 1;
    for (size_t d = 0; d < ix->ndocs; d++) {
        if (!ix->docs[d].alive) continue;
        size_t i = mix((uint64_t)ix->docs[d].id) & ix->dmask;
        while (ix->dslots[i]) i = (i + 1) & ix->dmask;
        ix->dslots[i] = (uint32_t)(d + 1);
    }
}

/* ------------------------------------------------------------ changes */

hl_kbindex_t *hl_kbindex_new(void)
{
    return hl_calloc(1, sizeof(hl_kbindex_t));
}

static void free_doc(doc_t *d)
{
    hl_free(d->title);
    hl_free(d->variants);
    hl_free(d->answer);
    hl_free(d->category);
}

static void clear(hl_kbindex_t *ix)
{
    for (size_t t = 0; t < ix->nterms; t++) hl_free(ix->terms[t].p);
    for (size_t d = 0; d < ix->ndocs; d++) free_doc(&ix->docs[d]);
    hl_free(ix->terms);
    hl_free(ix->tslots);
    hl_free(ix->docs);
    hl_free(ix->dslots);
    memset(ix, 0, sizeof *ix);
}

void hl_kbindex_free(hl_kbindex_t **self_p)
{
    if (!*self_p) return;
    clear(*self_p);
    hl_free(*self_p);
    *self_p = NULL;
}

static void add_doc(hl_kbindex_t *ix, doc_t *d)
{
    size_t nt;
    uint32_t dlq, dla;
    tf_t *tf = entry_terms(d->title, d->variants, d->answer, &nt, &dlq, &dla);
    if (ix->ndocs == ix->doccap) {
        ix->doccap = ix->doccap ? ix->doccap * 2 : 1024;
        ix->docs = hl_realloc(ix->docs, ix->doccap * sizeof *ix->docs);
    }
    uint32_t slot = (uint32_t)ix->ndocs++;
    d->dlq = dlq;
    d->dla = dla;
    d->alive = true;
    ix->docs[slot] = *d;
    for (size_t i = 0; i < nt; i++) {
        term_t *t = get_term(ix, tf[i].key);
        if (t->n == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 4;
            t->p = hl_realloc(t->p, t->cap * sizeof *t->p);
        }
        t->p[t->n++] = (posting_t){slot, tf[i].tfq, tf[i].tfa};
        t->df++;
    }
    hl_free(tf);
    ix->postings += nt;
    ix->nlive++;
    ix->sum_dlq += dlq;
    ix->sum_dla += dla;
    ix->text_bytes += strlen(d->title) + strlen(d->variants) + strlen(d->answer) + strlen(d->category) + 4;
    if (!ix->dslots || ix->nlive * 2 > ix->dmask + 1) doc_slots_rebuild(ix, ix->dslots ? (ix->dmask + 1) * 2 : 2048);
    else {
        size_t i = mix((uint64_t)d->id) & ix->dmask;
        while (ix->dslots[i]) i = (i + 1) & ix->dmask;
        ix->dslots[i] = slot + 1;
    }
}

/* Postings of dead entries are a third of all: build again from the live. */
static void rebuild(hl_kbindex_t *ix)
{
    hl_kbindex_t fresh = {0};
    for (size_t d = 0; d < ix->ndocs; d++) {
        if (ix->docs[d].alive) {
            add_doc(&fresh, &ix->docs[d]); /* the strings move over */
        } else {
            free_doc(&ix->docs[d]);
        }
        memset(&ix->docs[d], 0, sizeof ix->docs[d]);
    }
    ix->ndocs = 0;
    clear(ix);
    *ix = fresh;
}

bool hl_kbindex_remove(hl_kbindex_t *ix, int64_t id)
{
    uint32_t *slot = find_doc_slot(ix, id);
    if (!slot) return false;
    doc_t *d = &ix->docs[*slot - 1];
    /* Take the slot out of the id table (backward-shift deletion). */
    size_t i = (size_t)(slot - ix->dslots);
    for (size_t j = (i + 1) & ix->dmask; ix->dslots[j]; j = (j + 1) & ix->dmask) {
        size_t home = mix((uint64_t)ix->docs[ix->dslots[j] - 1].id) & ix->dmask;
        if (((j - home) & ix->dmask) >= ((j - i) & ix->dmask)) {
            ix->dslots[i] = ix->dslots[j];
            i = j;
        }
    }
    ix->dslots[i] = 0;
    size_t nt;
    uint32_t dlq, dla;
    tf_t *tf = entry_terms(d->title, d->variants, d->answer, &nt, &dlq, &dla);
    for (size_t k = 0; k < nt; k++) {
        term_t *t = find_term(ix, tf[k].key);
        if (t) t->df--;
    }
    hl_free(tf);
    d->alive = false;
    ix->nlive--;
    ix->sum_dlq -= d->dlq;
    ix->sum_dla -= d->dla;
    ix->dead_postings += nt;
    ix->text_bytes -= strlen(d->title) + strlen(d->variants) + strlen(d->answer) + strlen(d->category) + 4;
    if (ix->dead_postings * 3 > ix->postings) rebuild(ix);
    return true;
}

int hl_kbindex_put(hl_kbindex_t *ix, const hl_kb_entry_t *e)
{
    if (e->id < 1 || !e->title || !*e->title) return HL_EINVAL;
    const char *texts[] = {e->title, e->variants, e->answer, e->category};
    for (size_t i = 0; i < 4; i++)
        if (texts[i] && !hl_utf8_valid(texts[i], strlen(texts[i]))) return HL_EINVAL;
    hl_kbindex_remove(ix, e->id);
    doc_t d = {
        .id = e->id,
        .version = e->version,
        .from_ms = e->valid_from_ms,
        .to_ms = e->valid_to_ms,
        .title = dup_or_empty(e->title),
        .variants = dup_or_empty(e->variants),
        .answer = dup_or_empty(e->answer),
        .category = dup_or_empty(e->category),
    };
    add_doc(ix, &d);
    return 0;
}

int32_t hl_kbindex_version(const hl_kbindex_t *ix, int64_t id)
{
    uint32_t *slot = find_doc_slot(ix, id);
    return slot ? ix->docs[*slot - 1].version : 0;
}

size_t hl_kbindex_count(const hl_kbindex_t *ix)
{
    return ix->nlive;
}

size_t hl_kbindex_bytes(const hl_kbindex_t *ix)
{
    size_t b = sizeof *ix + ix->termcap * sizeof(term_t) + (ix->tmask + 1) * sizeof(uint32_t) +
               ix->doccap * sizeof(doc_t) + (ix->dmask + 1) * sizeof(uint32_t) + ix->text_bytes;
    for (size_t t = 0; t < ix->nterms; t++) b += ix->terms[t].cap * sizeof(posting_t);
    return b;
}

/* ------------------------------------------------------------ search */

static bool in_category(const char *doc, const char *want)
{
    return hl_category_within(doc, strlen(doc), want);
}

void hl_kbscratch_free(hl_kbscratch_t *s)
{
    hl_free(s->acc);
    hl_free(s->touched);
    memset(s, 0, sizeof *s);
}

/* BM25's idf of a term in df of n entries. */
static float bm25_idf(float n, float df)
{
    return logf(1.0f + (n - df + 0.5f) / (df + 0.5f));
}

size_t hl_kbindex_search(const hl_kbindex_t *ix, hl_kbscratch_t *s, const char *q, size_t qlen,
                         const char *category, int64_t now_ms, float min_score, hl_kb_hit_t *hits, size_t max)
{
    if (!ix->nlive || max == 0 || !q) return 0;
    if (s->cap < ix->ndocs) {
        hl_free(s->acc);
        hl_free(s->touched);
        s->cap = ix->doccap;
        s->acc = hl_calloc(s->cap, sizeof *s->acc);
        s->touched = hl_malloc(s->cap * sizeof *s->touched);
    }
    uint32_t cps[HL_KB_QUERY_MAX];
    size_t m = hl_feat_normalize(q, qlen, cps, HL_KB_QUERY_MAX);
    if (m == 0) return 0;
    size_t nk = m >= 2 ? m - 1 : 1;
    /* The query's distinct bigrams with their counts, in text order, from a
     * small open-addressing table on the stack (a sort would cost more, and
     * qsort allocates). */
    uint64_t keys[HL_KB_QUERY_MAX];
    uint16_t counts[HL_KB_QUERY_MAX];
    uint16_t slots[2 * HL_KB_QUERY_MAX]; /* index + 1, 0 = empty */
    size_t smask = 15;
    while (smask + 1 < 2 * nk) smask = smask * 2 + 1;
    memset(slots, 0, (smask + 1) * sizeof *slots);
    size_t nu = 0;
    for (size_t i = 0; i < nk; i++) {
        uint64_t key = m == 1 ? (uint64_t)cps[0] << 32 : (uint64_t)cps[i] << 32 | (uint64_t)(cps[i + 1] + 1);
        size_t h = (size_t)mix(key) & smask;
        while (slots[h] && keys[slots[h] - 1] != key) h = (h + 1) & smask;
        if (slots[h]) {
            counts[slots[h] - 1]++;
        } else {
            keys[nu] = key;
            counts[nu] = 1;
            slots[h] = (uint16_t)++nu;
        }
    }

    float n = (float)ix->nlive;
    float avgq = ix->sum_dlq ? (float)ix->sum_dlq / n : 1.0f;
    float avga = ix->sum_dla ? (float)ix->sum_dla / n : 1.0f;
    float ideal = 0;
    size_t ntouched = 0;
    /* Most of a query's bigrams are in no entry: their idf, once. */
    const float idf_absent = bm25_idf(n, 0.0f);
    for (size_t i = 0; i < nu; i++) {
        float qtf = (float)counts[i];
        const term_t *t = find_term(ix, keys[i]);
        float df = t ? (float)t->df : 0.0f;
        float idf = df == 0.0f ? idf_absent : bm25_idf(n, df);
        ideal += qtf * idf;
        if (t && t->df) {
            float w = qtf * idf;
            for (uint32_t k = 0; k < t->n; k++) {
                const posting_t *p = &t->p[k];
                const doc_t *d = &ix->docs[p->doc];
                if (!d->alive) continue;
                float f = 0;
                if (p->tfq) f += (float)p->tfq * (K1 + 1) / ((float)p->tfq + K1 * (1 - B + B * (float)d->dlq / avgq));
                if (p->tfa)
                    f += HL_KB_ANSWER_WEIGHT * (float)p->tfa * (K1 + 1) /
                         ((float)p->tfa + K1 * (1 - B + B * (float)d->dla / avga));
                if (s->acc[p->doc] == 0) s->touched[ntouched++] = p->doc;
                s->acc[p->doc] += w * f;
            }
        }
    }
    /* The best max, kept sorted (max is small). */
    size_t nh = 0;
    for (size_t k = 0; k < ntouched; k++) {
        uint32_t slot = s->touched[k];
        float score = s->acc[slot] / ideal;
        s->acc[slot] = 0;
        const doc_t *d = &ix->docs[slot];
        if (score < min_score || (nh == max && score <= hits[nh - 1].score)) continue;
        if ((d->from_ms && now_ms < d->from_ms) || (d->to_ms && now_ms >= d->to_ms)) continue;
        if (!in_category(d->category, category)) continue;
        size_t at = nh < max ? nh++ : nh - 1;
        while (at > 0 && hits[at - 1].score < score) {
            hits[at] = hits[at - 1];
            at--;
        }
        hits[at] = (hl_kb_hit_t){d->id, d->version, score, d->title, d->answer, d->category};
    }
    return nh;
}
