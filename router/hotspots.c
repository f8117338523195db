/* hotspots.c - spikes of one category x region, clusters of alike requests. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "hotline/alloc.h"
#include "hotline/hotspots.h"
#include "hotline/map.h"
#include "hotline/similar.h"

static int by_score(const void *a, const void *b)
{
    const hl_spike_t *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->cell < y->cell ? -1 : x->cell > y->cell;
}

size_t hl_hot_spikes(const hl_hot_cell_t *cells, size_t n, const hl_spike_opts_t *opts, hl_spike_t *out)
{
    size_t k = 0;
    double windows = opts->windows > 0 ? opts->windows : 1;
    for (size_t i = 0; i < n; i++) {
        double usual = (double)cells[i].base_n / windows, now = (double)cells[i].now_n;
        if (cells[i].now_n < opts->min_count || now < opts->factor * usual) continue;
        out[k++] = (hl_spike_t){i, usual, (now - usual) / sqrt(usual + 1)};
    }
    qsort(out, k, sizeof *out, by_score);
    return k;
}

static int by_size(const void *a, const void *b)
{
    const hl_hot_cluster_t *x = a, *y = b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    return x->members[0] < y->members[0] ? -1 : 1;
}

size_t hl_hot_clusters(const char *const *texts, const size_t *lens, size_t n, double similarity, size_t min_size,
                       hl_hot_cluster_t **out)
{
    size_t cap = n ? n : 1;
    hl_simsig_t *sig = hl_malloc(cap * sizeof *sig);
    size_t *group = hl_malloc(cap * sizeof *group), *copy_of = hl_malloc(cap * sizeof *copy_of);
    bool *copy = hl_calloc(cap, sizeof *copy);
    /* A text posted again goes where its first copy went (the grouping
     * alone could put it with a group started in between). */
    hl_map_t *seen = hl_map_new();
    for (size_t i = 0; i < n; i++) {
        size_t first = (size_t)(uintptr_t)hl_map_get(seen, texts[i], lens[i]);
        if (first) {
            copy[i] = true;
            copy_of[i] = first - 1;
            continue;
        }
        hl_map_put(seen, texts[i], lens[i], (void *)(uintptr_t)(i + 1));
        hl_simsig_of(&sig[i], texts[i], lens[i]);
    }
    size_t ngroups = hl_simsig_group(sig, copy, n, similarity, group);
    for (size_t i = 0; i < n; i++)
        if (copy[i]) group[i] = group[copy_of[i]];
    size_t *size = hl_calloc(ngroups ? ngroups : 1, sizeof *size);
    for (size_t i = 0; i < n; i++) size[group[i]]++;
    size_t nout = 0;
    for (size_t g = 0; g < ngroups; g++) nout += size[g] >= min_size && size[g] > 0;
    hl_hot_cluster_t *c = hl_calloc(nout ? nout : 1, sizeof *c);
    size_t *slot = hl_malloc((ngroups ? ngroups : 1) * sizeof *slot), k = 0;
    for (size_t g = 0; g < ngroups; g++) {
        slot[g] = SIZE_MAX;
        if (size[g] < min_size || !size[g]) continue;
        slot[g] = k;
        c[k++].members = hl_malloc(size[g] * sizeof *c->members);
    }
    for (size_t i = 0; i < n; i++)
        if (slot[group[i]] != SIZE_MAX) {
            hl_hot_cluster_t *x = &c[slot[group[i]]];
            x->members[x->n++] = i;
        }
    qsort(c, nout, sizeof *c, by_size);
    hl_free(slot);
    hl_free(size);
    hl_free(group);
    hl_free(copy_of);
    hl_free(copy);
    hl_map_destroy(&seen);
    hl_free(sig);
    *out = c;
    return nout;
}

void hl_hot_clusters_free(hl_hot_cluster_t *clusters, size_t n)
{
    for (size_t i = 0; clusters && i < n; i++) hl_free(clusters[i].members);
    hl_free(clusters);
}
