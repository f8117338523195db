/* matcher.c - Aho-Corasick as a dense DFA.
 *
 * Built with 256 transitions per state; hl_matcher_build then packs the table
 * over byte classes (the bytes that occur in some pattern, plus one class for
 * all the others) into 16-bit entries whose high bit says "the target state
 * reports matches". A text byte costs a class lookup, one 2-byte load and a
 * test, over a table small enough to stay in cache.
 */
#include <stdbool.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/matcher.h"

typedef struct {
    int32_t value;
    int32_t next; /* next output of the same state, -1 = none */
} output_t;

#define EMIT 0x8000u
#define MAX_STATES 0x7fff

struct hl_matcher {
    int32_t *delta;   /* nstates * 256, while building */
    uint16_t *packed; /* nstates * nclasses after building: state | EMIT */
    uint16_t cls[256]; /* byte -> class; 0 = a byte no pattern contains */
    uint32_t nclasses;
    int32_t *out;     /* first output of each state, -1 = none */
    int32_t *dict;    /* nearest suffix state with outputs, -1 = none */
    int32_t nstates, capstates;
    output_t *outputs;
    int32_t noutputs, capoutputs;
    size_t maxlen;    /* longest pattern */
    int built;
};

static int32_t new_state(hl_matcher_t *m)
{
    if (m->nstates == m->capstates) {
        m->capstates = m->capstates ? m->capstates * 2 : 64;
        m->delta = hl_realloc(m->delta, (size_t)m->capstates * 256 * sizeof(int32_t));
        m->out = hl_realloc(m->out, (size_t)m->capstates * sizeof(int32_t));
        m->dict = hl_realloc(m->dict, (size_t)m->capstates * sizeof(int32_t));
    }
    int32_t s = m->nstates++;
    for (int c = 0; c < 256; c++) m->delta[(size_t)s * 256 + (size_t)c] = -1;
    m->out[s] = -1;
    m->dict[s] = -1;
    return s;
}

hl_matcher_t *hl_matcher_new(void)
{
    hl_matcher_t *m = hl_calloc(1, sizeof *m);
    new_state(m);
    return m;
}

void hl_matcher_destroy(hl_matcher_t **self_p)
{
    hl_matcher_t *m = *self_p;
    if (!m) return;
    hl_free(m->delta);
    hl_free(m->packed);
    hl_free(m->out);
    hl_free(m->dict);
    hl_free(m->outputs);
    hl_free(m);
    *self_p = NULL;
}

int hl_matcher_add(hl_matcher_t *m, const char *pattern, size_t len, int32_t value)
{
    if (m->built || len == 0 || len > 255 || value < 0) return HL_EINVAL;
    if (len > m->maxlen) m->maxlen = len;
    int32_t s = 0;
    for (size_t i = 0; i < len; i++) {
        size_t at = (size_t)s * 256 + (unsigned char)pattern[i];
        if (m->delta[at] < 0) {
            if (m->nstates > MAX_STATES) return HL_EINVAL;
            int32_t t = new_state(m); /* may move m->delta */
            m->delta[at] = t;
        }
        s = m->delta[at];
    }
    if (m->noutputs == m->capoutputs) {
        m->capoutputs = m->capoutputs ? m->capoutputs * 2 : 64;
        m->outputs = hl_realloc(m->outputs, (size_t)m->capoutputs * sizeof *m->outputs);
    }
    m->outputs[m->noutputs] = (output_t){value, m->out[s]};
    m->out[s] = m->noutputs++;
    return 0;
}

size_t hl_matcher_count(const hl_matcher_t *m)
{
    return (size_t)m->noutputs;
}

void hl_matcher_build(hl_matcher_t *m)
{
    if (m->built) return;
    m->built = 1;
    int32_t *fail = hl_malloc((size_t)m->nstates * sizeof(int32_t));
    int32_t *queue = hl_malloc((size_t)m->nstates * sizeof(int32_t));
    int32_t head = 0, tail = 0;
    fail[0] = 0;
    for (int c = 0; c < 256; c++) {
        int32_t t = m->delta[c];
        if (t < 0) {
            m->delta[c] = 0;
        } else {
            fail[t] = 0;
            queue[tail++] = t;
        }
    }
    /* Breadth first: a state's failure target is always computed before it. */
    while (head < tail) {
        int32_t s = queue[head++];
        m->dict[s] = m->out[fail[s]] >= 0 ? fail[s] : m->dict[fail[s]];
        for (int c = 0; c < 256; c++) {
            size_t at = (size_t)s * 256 + (size_t)c;
            int32_t t = m->delta[at];
            int32_t via_fail = m->delta[(size_t)fail[s] * 256 + (size_t)c];
            if (t < 0) {
                m->delta[at] = via_fail;
            } else {
                fail[t] = via_fail;
                queue[tail++] = t;
            }
        }
    }
    hl_free(fail);
    hl_free(queue);
    /* Bytes that occur in no pattern all behave alike (they lead where the
     * root's transition leads, which is the root): one class for them keeps
     * the table several times smaller, so it stays in cache. */
    bool used[256] = {false};
    for (int32_t st = 0; st < m->nstates; st++)
        for (int c = 0; c < 256; c++)
            if (m->delta[(size_t)st * 256 + (size_t)c] != 0) used[c] = true;
    m->nclasses = 1;
    int rep[256];
    rep[0] = -1;
    for (int c = 0; c < 256; c++) {
        m->cls[c] = used[c] ? (uint16_t)m->nclasses : 0;
        if (used[c]) rep[m->nclasses++] = c;
        else if (rep[0] < 0) rep[0] = c;
    }
    m->packed = hl_malloc((size_t)m->nstates * m->nclasses * sizeof(uint16_t));
    for (int32_t st = 0; st < m->nstates; st++) {
        for (uint32_t k = 0; k < m->nclasses; k++) {
            int32_t t = rep[k] >= 0 ? m->delta[(size_t)st * 256 + (size_t)rep[k]] : 0;
            bool emits = m->out[t] >= 0 || m->dict[t] >= 0;
            m->packed[(size_t)st * m->nclasses + k] = (uint16_t)((uint32_t)t | (emits ? EMIT : 0));
        }
    }
    hl_free(m->delta);
    m->delta = NULL;
}

static inline void report(const hl_matcher_t *m, uint32_t state, size_t end, hl_match_fn fn,
                          void *arg)
{
    int32_t cur = (int32_t)(state & ~EMIT);
    for (int32_t st = m->out[cur] >= 0 ? cur : m->dict[cur]; st >= 0; st = m->dict[st])
        for (int32_t o = m->out[st]; o >= 0; o = m->outputs[o].next) fn(arg, m->outputs[o].value, end);
}

void hl_matcher_scan(const hl_matcher_t *m, const char *text, size_t len, hl_match_fn fn,
                     void *arg)
{
    const uint16_t *delta = m->packed;
    const unsigned char *t = (const unsigned char *)text;
    const size_t width = m->nclasses;
    /* Each step depends on the one before, so one scan waits on every load.
     * Two scans over the two halves, interleaved, wait in parallel. The
     * second starts maxlen - 1 bytes early and reports only matches that end
     * past the middle, so each match is reported once. */
    size_t mid = len / 2, b0 = 0, i = 0;
    uint32_t sa = 0, sb = 0;
    if (len >= 64 && m->maxlen > 0 && mid > m->maxlen) {
        b0 = mid - (m->maxlen - 1);
        size_t nb = len - b0;
        for (; i < mid; i++) {
            sa = delta[(size_t)(sa & ~EMIT) * width + m->cls[t[i]]];
            sb = delta[(size_t)(sb & ~EMIT) * width + m->cls[t[b0 + i]]];
            if (sa & EMIT) report(m, sa, i + 1, fn, arg);
            if ((sb & EMIT) && b0 + i + 1 > mid) report(m, sb, b0 + i + 1, fn, arg);
        }
        /* The second half is longer by up to maxlen - 1 + 1 bytes. */
        for (size_t k = i; k < nb; k++) {
            sb = delta[(size_t)(sb & ~EMIT) * width + m->cls[t[b0 + k]]];
            if ((sb & EMIT) && b0 + k + 1 > mid) report(m, sb, b0 + k + 1, fn, arg);
        }
        return;
    }
    for (; i < len; i++) {
        sa = delta[(size_t)(sa & ~EMIT) * width + m->cls[t[i]]];
        if (sa & EMIT) report(m, sa, i + 1, fn, arg);
    }
}
