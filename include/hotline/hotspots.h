/* hotspots.h - 热点: where requests gather.
 *
 * Spikes. For each category x region, the requests of the latest window
 * (now_n) against its usual level: the mean per window over the baseline
 * before it (base_n in `windows` windows of the same length). A cell is a
 * spike when now_n >= min_count and now_n >= factor x usual; spikes rank by
 * (now_n - usual) / sqrt(usual + 1), how far above its usual level the cell
 * is in Poisson standard deviations (a new problem, usual 0, scores now_n).
 *
 * Clusters. Open requests that read alike (character bigrams,
 * hl_simsig_group, in the order given: newest first), groups of at least
 * min_size, largest first (on a tie, the group whose first member came
 * first). A text given again word for word joins its first copy's group. Members keep the order given, so a cluster's first member is its
 * newest one.
 */
#ifndef HOTLINE_HOTSPOTS_H
#define HOTLINE_HOTSPOTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t now_n;              /* requests in the latest window */
    int64_t base_n;             /* requests in the baseline before it */
} hl_hot_cell_t;

typedef struct {
    double windows;             /* the baseline's length in windows (> 0) */
    double factor;              /* at least this many times the usual level */
    int64_t min_count;          /* and at least this many requests */
} hl_spike_opts_t;

typedef struct {
    size_t cell;                /* index into the cells */
    double usual;               /* mean requests per window in the baseline */
    double score;
} hl_spike_t;

/* The spikes among cells[0..n) into out (room for n), best first; returns
 * how many. */
size_t hl_hot_spikes(const hl_hot_cell_t *cells, size_t n, const hl_spike_opts_t *opts, hl_spike_t *out);

typedef struct {
    size_t *members;            /* indexes into the texts, in their order */
    size_t n;
} hl_hot_cluster_t;

/* The clusters of texts[0..n) (lens[i] bytes each) whose members are alike
 * by at least `similarity` (bigram Dice to the cluster's first member) and
 * number at least min_size. Returns how many were written to *out
 * (allocated; hl_hot_clusters_free). */
size_t hl_hot_clusters(const char *const *texts, const size_t *lens, size_t n, double similarity, size_t min_size,
                       hl_hot_cluster_t **out);
void hl_hot_clusters_free(hl_hot_cluster_t *clusters, size_t n);

#endif
