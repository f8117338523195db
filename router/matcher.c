/* matcher.c - Aho-Corasick as a dense DFA (256 transitions per state).
 *
 * Keyword lists of a hotline are a few thousand bytes in all, so a dense
 * table (1 KiB per state) stays small and each text byte costs one lookup.
 */
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/matcher.h"

typedef struct {
    int32_t value;
    int32_t next; /* next output of the same state, -1 = none */
} output_t;

struct hl_matcher {
    int32_t *delta;   /* nstates * 256 */
    int32_t *out;     /* first output of each state, -1 = none */
    int32_t *dict;    /* nearest suffix state with outputs, -1 = none */
    int32_t nstates, capstates;
    output_t *outputs;
    int32_t noutputs, capoutputs;
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
    hl_free(m->out);
    hl_free(m->dict);
    hl_free(m->outputs);
    hl_free(m);
    *self_p = NULL;
}

int hl_matcher_add(hl_matcher_t *m, const char *pattern, size_t len, int32_t value)
{
    if (m->built || len == 0 || len > 255 || value < 0) return HL_EINVAL;
    int32_t s = 0;
    for (size_t i = 0; i < len; i++) {
        size_t at = (size_t)s * 256 + (unsigned char)pattern[i];
        if (m->delta[at] < 0) {
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
}

void hl_matcher_scan(const hl_matcher_t *m, const char *text, size_t len, hl_match_fn fn,
                     void *arg)
{
    const int32_t *delta = m->delta;
    const unsigned char *t = (const unsigned char *)text;
    int32_t s = 0;
    for (size_t i = 0; i < len; i++) {
        s = delta[(size_t)s * 256 + t[i]];
        for (int32_t st = m->out[s] >= 0 ? s : m->dict[s]; st >= 0; st = m->dict[st])
            for (int32_t o = m->out[st]; o >= 0; o = m->outputs[o].next)
                fn(arg, m->outputs[o].value, i + 1);
    }
}
