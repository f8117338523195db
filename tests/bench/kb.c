/* kb.c - the knowledge-base index: search quality on the real replies, then
 * latency, throughput, memory and build time at scale.
 *
 * Quality (--replies official_replies.csv): one entry per message, its
 * official reply as the answer; each message's title is the query and the
 * entry should be in the top 3. Measured twice: with the message title as the
 * entry's question (as the import makes them: top3_share) and with the title
 * withheld, the question being the message body's first 60 characters
 * (top3_share_title_withheld), the harder case of a citizen wording the same
 * issue differently.
 *
 * Scale: --entries entries built from the replies repeated with variations
 * (district letters and numbers changed, a clause from another message
 * appended, question and answer heads cut at different points), then
 * --queries queries from real titles (--titles, the labelled messages),
 * timed one by one on one thread. Prints key=value lines.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/csv.h"
#include "hotline/kbgaps.h"
#include "hotline/kbindex.h"
#include "hotline/utf8.h"

typedef struct {
    char *title, *body, *reply;
} reply_t;

static size_t read_csv(const char *path, const char *const *cols, int ncols, char ***out)
{
    char err[HL_ERR_LEN];
    hl_csv_t *c = hl_csv_open(path, err);
    if (!c) {
        fprintf(stderr, "kb: %s\n", err);
        exit(1);
    }
    hl_csv_row_t row;
    int idx[8] = {0};
    size_t n = 0, cap = 0;
    bool header = true;
    int rc;
    while ((rc = hl_csv_next(c, &row, err)) != 0) {
        if (rc < 0) continue;
        if (header) {
            for (int k = 0; k < ncols; k++) {
                idx[k] = -1;
                for (int i = 0; i < row.n; i++)
                    if (strcmp(row.field[i], cols[k]) == 0) idx[k] = i;
                if (idx[k] < 0) {
                    fprintf(stderr, "kb: %s has no column %s\n", path, cols[k]);
                    exit(1);
                }
            }
            header = false;
            continue;
        }
        bool ok = true;
        for (int k = 0; k < ncols && ok; k++) ok = idx[k] < row.n && hl_utf8_valid(row.field[idx[k]], row.len[idx[k]]);
        if (!ok) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            *out = hl_realloc(*out, cap * (size_t)ncols * sizeof **out);
        }
        for (int k = 0; k < ncols; k++) (*out)[n * (size_t)ncols + (size_t)k] = hl_strdup(row.field[idx[k]]);
        n++;
    }
    hl_csv_close(&c);
    return n;
}

/* The first chars characters of s (UTF-8), in a new string. */
static char *head(const char *s, size_t chars)
{
    size_t len = strlen(s), i = 0;
    for (size_t k = 0; k < chars && i < len; k++) hl_utf8_next(s, len, &i);
    return hl_strndup(s, i);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double top3(reply_t *r, size_t n, bool withheld)
{
    hl_kbindex_t *ix = hl_kbindex_new();
    for (size_t i = 0; i < n; i++) {
        char *q = withheld ? head(r[i].body, 60) : NULL;
        hl_kb_entry_t e = {(int64_t)i + 1, 1, withheld ? q : r[i].title, NULL, r[i].reply, NULL, 0, 0};
        if (hl_kbindex_put(ix, &e) != 0) abort();
        hl_free(q);
    }
    hl_kbscratch_t s = {0};
    size_t hit = 0;
    for (size_t i = 0; i < n; i++) {
        hl_kb_hit_t h[3];
        size_t k = hl_kbindex_search(ix, &s, r[i].title, strlen(r[i].title), NULL, 0, 0.0f, h, 3);
        for (size_t j = 0; j < k; j++)
            if (h[j].id == (int64_t)i + 1) {
                hit++;
                break;
            }
    }
    hl_kbscratch_free(&s);
    hl_kbindex_free(&ix);
    return n ? (double)hit / (double)n : 0;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1) break;
    if (f) fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    const char *replies = NULL, *titles = NULL;
    long entries = 100000, queries = 10000;
    int o;
    while ((o = getopt(argc, argv, "r:t:n:q:")) != -1) {
        switch (o) {
        case 'r': replies = optarg; break;
        case 't': titles = optarg; break;
        case 'n': entries = atol(optarg); break;
        case 'q': queries = atol(optarg); break;
        default:
            fprintf(stderr, "usage: bench_kb -r official_replies.csv -t citizen_messages_train.csv [-n ENTRIES] [-q QUERIES]\n");
            return 2;
        }
    }
    if (!replies || !titles || entries < 1 || queries < 1) {
        fprintf(stderr, "usage: bench_kb -r official_replies.csv -t citizen_messages_train.csv [-n ENTRIES] [-q QUERIES]\n");
        return 2;
    }
    static const char *const rc[] = {"title", "body", "reply"};
    static const char *const tc[] = {"title", "body"};
    char **rf = NULL, **tf = NULL;
    size_t nr = read_csv(replies, rc, 3, &rf);
    size_t nt = read_csv(titles, tc, 2, &tf);
    reply_t *r = hl_malloc(nr * sizeof *r);
    for (size_t i = 0; i < nr; i++) r[i] = (reply_t){rf[3 * i], rf[3 * i + 1], rf[3 * i + 2]};
    printf("replies=%zu\n", nr);
    printf("top3_share=%.4f\n", top3(r, nr, false));
    printf("top3_share_title_withheld=%.4f\n", top3(r, nr, true));

    /* Scale: variations of the real entries. */
    hl_kb_entry_t *e = hl_malloc((size_t)entries * sizeof *e);
    for (long i = 0; i < entries; i++) {
        const reply_t *a = &r[(size_t)i % nr], *b = &r[((size_t)i * 7919 + 13) % nr];
        long round = i / (long)nr;
        char *qa = head(a->title, 40), *cl = head(b->body, 12 + (size_t)(round % 9));
        size_t tl = strlen(qa) + strlen(cl) + 64;
        char *t = hl_malloc(tl);
        if (round == 0) snprintf(t, tl, "%s", a->title);
        else snprintf(t, tl, "%c%ld区%s，%s", 'A' + (int)(round % 26), round % 97, qa, cl);
        char *ans = head(a->reply, 2000 - (size_t)(round % 500));
        e[i] = (hl_kb_entry_t){i + 1, 1, t, NULL, ans, round % 3 ? "urban" : "labour", 0, 0};
        hl_free(qa);
        hl_free(cl);
    }
    long rss0 = rss_kib();
    int64_t t0 = hl_mono_us();
    hl_kbindex_t *ix = hl_kbindex_new();
    for (long i = 0; i < entries; i++)
        if (hl_kbindex_put(ix, &e[i]) != 0) abort();
    double build_s = (double)(hl_mono_us() - t0) / 1e6;
    long rss1 = rss_kib();

    double *lat = hl_malloc((size_t)queries * sizeof *lat);
    hl_kbscratch_t s = {0};
    hl_kb_hit_t h[10];
    size_t found = 0;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    int64_t q0 = hl_mono_us();
    for (long i = 0; i < queries; i++) {
        const char *q = tf[2 * (((size_t)i * 31) % nt)];
        int64_t a = hl_mono_us();
        found += hl_kbindex_search(ix, &s, q, strlen(q), NULL, 0, 0.0f, h, 10) > 0;
        lat[i] = (double)(hl_mono_us() - a) / 1e3;
    }
    double wall = (double)(hl_mono_us() - q0) / 1e6;
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    qsort(lat, (size_t)queries, sizeof *lat, cmp_double);
    printf("entries=%zu\n", hl_kbindex_count(ix));
    printf("queries=%ld\n", queries);
    printf("queries_with_results=%zu\n", found);
    printf("p50_ms=%.3f\n", lat[queries / 2]);
    printf("p99_ms=%.3f\n", lat[queries * 99 / 100]);
    printf("max_ms=%.3f\n", lat[queries - 1]);
    printf("queries_per_s=%.0f\n", (double)queries / (cpu > 0 ? cpu : wall));
    printf("index_mb=%.1f\n", (double)hl_kbindex_bytes(ix) / 1048576.0);
    printf("index_rss_mb=%.1f\n", (double)(rss1 - rss0) / 1024.0);
    printf("rebuild_s=%.2f\n", build_s);

    /* Gaps: the most recent consultations (gap_scan of them) scored and
     * grouped with the default settings, as the report does. */
    size_t ng = nt < 2000 ? nt : 2000; /* kb.gap_scan */
    hl_kbgap_msg_t *m = hl_malloc(ng * sizeof *m);
    char **texts = hl_malloc(ng * sizeof *texts);
    for (size_t i = 0; i < ng; i++) {
        char *b = head(tf[2 * i + 1], 120);
        size_t l = strlen(tf[2 * i]) + strlen(b) + 2;
        texts[i] = hl_malloc(l);
        snprintf(texts[i], l, "%s %s", tf[2 * i], b);
        hl_free(b);
        m[i] = (hl_kbgap_msg_t){"-", tf[2 * i], texts[i], "urban", "", 0};
    }
    hl_kbgap_opts_t go = {0.3, 0.3, 3};
    hl_kbgap_t *gaps;
    int64_t g0 = hl_mono_us();
    size_t ngaps = hl_kbgaps_find(ix, &s, m, ng, 0, &go, &gaps);
    printf("gap_messages=%zu\n", ng);
    printf("gaps=%zu\n", ngaps);
    printf("gaps_largest=%zu\n", ngaps ? gaps[0].n : 0);
    printf("gaps_s=%.2f\n", (double)(hl_mono_us() - g0) / 1e6);
    hl_kbgaps_free(gaps, ngaps);
    for (size_t i = 0; i < ng; i++) hl_free(texts[i]);
    hl_free(texts);
    hl_free(m);
    hl_kbscratch_free(&s);
    hl_kbindex_free(&ix);
    return 0;
}
