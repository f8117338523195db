/* kbgaps.c - what the knowledge base does not answer (see kbgaps.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/kbgaps.h"
#include "hotline/pg.h"
#include "hotline/similar.h"
#include "hotline/utf8.h"

void hl_kbgaps_opts(const hl_conf_t *conf, hl_kbgap_opts_t *out)
{
    out->max_score = conf->kb_gap_score;
    out->similarity = conf->kb_gap_similarity;
    out->min_size = (size_t)conf->kb_gap_min_size;
}

PGresult *hl_kbgaps_query(PGconn *pg, int64_t days, size_t max, char err[HL_ERR_LEN])
{
    char d[24], m[24];
    snprintf(d, sizeof d, "%lld", (long long)days);
    snprintf(m, sizeof m, "%zu", max);
    const char *p[2] = {d, m};
    return hl_pg_rows(
        pg, "knowledge-base gaps",
        "SELECT t.ticket_no, t.title, t.title || ' ' || left(t.body, 120), t.category, coalesce(t.unit, ''), "
        "(extract(epoch FROM t.created_at) * 1000)::bigint FROM tickets t "
        "WHERE t.request_type = 'consultation' AND t.created_at >= now() - make_interval(days => $1::integer) "
        "AND t.state NOT IN ('MERGED', 'WITHDRAWN', 'NOT_ACCEPTED', 'TRANSFERRED_OUT') "
        "AND NOT EXISTS (SELECT 1 FROM kb_uses u WHERE u.ticket_id = t.id) "
        "ORDER BY t.created_at DESC LIMIT $2::bigint",
        2, p, err);
}

hl_kbgap_msg_t *hl_kbgaps_messages(const PGresult *res, size_t *n)
{
    *n = (size_t)PQntuples(res);
    hl_kbgap_msg_t *m = hl_calloc(*n ? *n : 1, sizeof *m);
    for (size_t i = 0; i < *n; i++) {
        int r = (int)i;
        m[i] = (hl_kbgap_msg_t){PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), PQgetvalue(res, r, 2),
                                PQgetvalue(res, r, 3), PQgetvalue(res, r, 4), atoll(PQgetvalue(res, r, 5))};
    }
    return m;
}

/* The string most members have in field f (ties: the first member's). */
static const char *most_common(const hl_kbgap_msg_t *msgs, const size_t *members, size_t n,
                               const char *(*f)(const hl_kbgap_msg_t *))
{
    const char *best = f(&msgs[members[0]]);
    size_t best_n = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = f(&msgs[members[i]]);
        size_t c = 0;
        for (size_t j = 0; j < n; j++) c += strcmp(s, f(&msgs[members[j]])) == 0;
        if (c > best_n) best = s, best_n = c;
    }
    return best;
}

static const char *category_of(const hl_kbgap_msg_t *m) { return m->category; }
static const char *unit_of(const hl_kbgap_msg_t *m) { return m->unit; }

/* What is asked of the index: the head of the text (the title and the
 * start of the body), whole characters; a query costs in proportion to its
 * length (~0.3 ms for a title over 100,000 entries, four times that for a
 * title and 120 characters), and a bare title of a few characters is too
 * short to judge by. */
#define QUERY_BYTES 90
static const char *query_of(const hl_kbgap_msg_t *m, size_t *len)
{
    *len = hl_utf8_cut(m->text, strlen(m->text), QUERY_BYTES);
    return m->text;
}

static int by_size(const void *a, const void *b)
{
    const hl_kbgap_t *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? 1 : -1;
    return x->members[0] < y->members[0] ? -1 : x->members[0] > y->members[0];
}

size_t hl_kbgaps_find(const hl_kbindex_t *ix, hl_kbscratch_t *s, const hl_kbgap_msg_t *msgs, size_t n,
                      int64_t now_ms, const hl_kbgap_opts_t *opts, hl_kbgap_t **out)
{
    /* Each message's best hit; the unanswered ones grouped by likeness. */
    hl_simsig_t *sig = hl_malloc((n ? n : 1) * sizeof *sig);
    size_t *group = hl_malloc((n ? n : 1) * sizeof *group);
    bool *answered = hl_malloc((n ? n : 1) * sizeof *answered);
    float *score = hl_malloc((n ? n : 1) * sizeof *score);
    int64_t *entry = hl_malloc((n ? n : 1) * sizeof *entry);
    for (size_t i = 0; i < n; i++) {
        hl_kb_hit_t hit;
        size_t qlen;
        const char *q = query_of(&msgs[i], &qlen);
        size_t h = hl_kbindex_search(ix, s, q, qlen, NULL, now_ms, 0.0f, &hit, 1);
        score[i] = h ? hit.score : 0.0f;
        entry[i] = h ? hit.id : 0;
        answered[i] = score[i] >= opts->max_score;
        if (!answered[i]) hl_simsig_of(&sig[i], msgs[i].text, strlen(msgs[i].text));
    }
    size_t ngroups = hl_simsig_group(sig, answered, n, opts->similarity, group);
    size_t *size = hl_calloc(ngroups ? ngroups : 1, sizeof *size);
    size_t *first = hl_malloc((ngroups ? ngroups : 1) * sizeof *first);
    for (size_t i = n; i-- > 0;)
        if (group[i] != SIZE_MAX) size[group[i]]++, first[group[i]] = i;
    size_t nout = 0;
    for (size_t g = 0; g < ngroups; g++) nout += size[g] >= opts->min_size;
    hl_kbgap_t *gaps = hl_calloc(nout ? nout : 1, sizeof *gaps);
    size_t k = 0;
    for (size_t g = 0; g < ngroups; g++) {
        if (size[g] < opts->min_size) continue;
        hl_kbgap_t *gp = &gaps[k++];
        gp->members = hl_malloc(size[g] * sizeof *gp->members);
        double sum = 0;
        for (size_t i = first[g]; i < n; i++) {
            if (group[i] != g) continue;
            gp->members[gp->n++] = i;
            sum += score[i];
        }
        gp->category = most_common(msgs, gp->members, gp->n, category_of);
        gp->unit = most_common(msgs, gp->members, gp->n, unit_of);
        gp->best_entry = entry[first[g]];
        gp->best_score = score[first[g]];
        gp->mean_score = (float)(sum / (double)gp->n);
    }
    qsort(gaps, nout, sizeof *gaps, by_size);
    hl_free(sig);
    hl_free(first);
    hl_free(group);
    hl_free(answered);
    hl_free(size);
    hl_free(score);
    hl_free(entry);
    *out = gaps;
    return nout;
}

void hl_kbgaps_free(hl_kbgap_t *gaps, size_t n)
{
    if (!gaps) return;
    for (size_t i = 0; i < n; i++) hl_free(gaps[i].members);
    hl_free(gaps);
}
