/* classify.c - hotline-classify: train, apply and evaluate the text classifier. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/csv.h"
#include "hotline/model.h"
#include "hotline/train.h"
#include "hotline/utf8.h"

static uint64_t split_seed = 1; /* the fixed validation split: one row in five by id */

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: hotline-classify train   --data CSV --model OUT [options]\n"
            "       hotline-classify predict --model M --data CSV\n"
            "       hotline-classify eval    --model M --data CSV [--split all|validation|train]\n"
            "\n"
            "Input CSV: header id,label,title,body (label may be empty for predict). Malformed\n"
            "rows, invalid UTF-8 and empty text are reported by line number and skipped.\n"
            "\n"
            "train   fits the model on the rows outside the fixed validation split (one row in\n"
            "        five, chosen by id), prints the validation figures, fits the confidence\n"
            "        temperature there, then trains on every row and writes OUT.\n"
            "          --seed N       visiting order of training (default 1)\n"
            "          --holdout      write the model of the 80 %% part instead (for benchmarks)\n"
            "          --c X          SVM cost (default 1)\n"
            "          --bits B       2^B hashed features (default 18)\n"
            "          --ngrams A-B   character n-gram lengths (default 1-3)\n"
            "          --balance X    weight a label's own rows by (others/own)^X (default 0)\n"
            "          --no-nb        no naive-Bayes feature scaling\n"
            "          --no-idf       no inverse document frequency\n"
            "          --no-title     title n-grams only as body n-grams (no title weight)\n"
            "          --split-seed N another validation split (train and eval; default 1)\n"
            "predict writes id,label,confidence for each row, in input order.\n"
            "eval    prints accuracy=, macro_f1=, n=, msgs_per_s= (single thread, text in\n"
            "        memory), ece= and nll=, then a per-label table and the confusion matrix.\n"
            "\n"
            "Exit status: 0 done, 1 failure (unreadable data, no usable rows, bad model), 2 usage.\n");
}

typedef struct {
    int64_t id;
    char *label, *title, *body;
    size_t tlen, blen;
} row_t;

typedef struct {
    row_t *rows;
    size_t n, cap;
    long skipped;
} table_t;

static void table_free(table_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        hl_free(t->rows[i].label);
        hl_free(t->rows[i].title);
        hl_free(t->rows[i].body);
    }
    hl_free(t->rows);
}

/* Read id,label,title,body rows; report and skip the bad ones. */
static int read_rows(const char *path, table_t *t)
{
    char err[HL_ERR_LEN];
    hl_csv_t *c = hl_csv_open(path, err);
    if (!c) {
        fprintf(stderr, "hotline-classify: %s\n", err);
        return -1;
    }
    int col[4] = {-1, -1, -1, -1};
    static const char *names[4] = {"id", "label", "title", "body"};
    hl_csv_row_t row;
    int rc;
    bool header = true;
    while ((rc = hl_csv_next(c, &row, err)) != 0) {
        if (rc < 0) {
            fprintf(stderr, "%s: %s (skipped)\n", path, err);
            t->skipped++;
            continue;
        }
        if (header) {
            for (int k = 0; k < 4; k++)
                for (int i = 0; i < row.n; i++)
                    if (strcmp(row.field[i], names[k]) == 0) col[k] = i;
            if (col[0] < 0 || col[3] < 0) {
                fprintf(stderr, "%s: line %ld: the header needs at least id and body columns\n", path, row.line);
                hl_csv_close(&c);
                return -1;
            }
            header = false;
            continue;
        }
        const char *why = NULL;
        int maxcol = 0;
        for (int k = 0; k < 4; k++) if (col[k] > maxcol) maxcol = col[k];
        char *end = NULL;
        long long id = 0;
        if (row.n <= maxcol) {
            why = "too few fields";
        } else {
            errno = 0;
            id = strtoll(row.field[col[0]], &end, 10);
            if (errno || end == row.field[col[0]] || *end) why = "id is not an integer";
        }
        for (int k = 1; !why && k < 4; k++)
            if (col[k] >= 0 && !hl_utf8_valid(row.field[col[k]], row.len[col[k]]))
                why = k == 1 ? "label is not valid UTF-8" : k == 2 ? "title is not valid UTF-8"
                                                          : "body is not valid UTF-8";
        if (!why && row.len[col[3]] == 0 && (col[2] < 0 || row.len[col[2]] == 0)) why = "empty text";
        if (why) {
            fprintf(stderr, "%s: line %ld: %s (skipped)\n", path, row.line, why);
            t->skipped++;
            continue;
        }
        if (t->n == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 1024;
            t->rows = hl_realloc(t->rows, t->cap * sizeof(row_t));
        }
        row_t *r = &t->rows[t->n++];
        r->id = id;
        r->label = hl_strdup(col[1] >= 0 ? row.field[col[1]] : "");
        r->title = hl_strndup(col[2] >= 0 ? row.field[col[2]] : "", col[2] >= 0 ? row.len[col[2]] : 0);
        r->tlen = col[2] >= 0 ? row.len[col[2]] : 0;
        r->body = hl_strndup(row.field[col[3]], row.len[col[3]]);
        r->blen = row.len[col[3]];
    }
    hl_csv_close(&c);
    if (t->skipped) fprintf(stderr, "%s: %ld row(s) skipped\n", path, t->skipped);
    return 0;
}

/* Print s padded to width terminal columns (CJK characters take two). */
static void put_padded(FILE *out, const char *s, int width)
{
    int cols = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x80) cols++;
        else if (*p >= 0xE0) cols += 2; /* a 3- or 4-byte sequence starts */
        else if (*p >= 0xC0) cols++;
    }
    fputs(s, out);
    for (; cols < width; cols++) fputc(' ', out);
}

static void print_metrics(FILE *out, const hl_metrics_t *mt, const char *const *labels, double rate)
{
    fprintf(out, "accuracy=%.4f\nmacro_f1=%.4f\nn=%ld\n", mt->accuracy, mt->macro_f1, mt->n);
    if (rate > 0) fprintf(out, "msgs_per_s=%.0f\n", rate);
    fprintf(out, "ece=%.4f\nnll=%.4f\n\n", mt->ece, mt->nll);
    fprintf(out, "%-4s %-16s %9s %9s %9s %8s\n", "#", "label", "precision", "recall", "f1", "support");
    for (int c = 0; c < mt->nlabels; c++) {
        fprintf(out, "%-4d ", c);
        put_padded(out, labels[c], 16);
        fprintf(out, " %9.4f %9.4f %9.4f %8ld\n", mt->precision[c], mt->recall[c], mt->f1[c],
                mt->support[c]);
    }
    fprintf(out, "\nconfusion (rows: true label #, columns: predicted label #)\n    ");
    for (int c = 0; c < mt->nlabels; c++) fprintf(out, " %6d", c);
    fputc('\n', out);
    for (int r = 0; r < mt->nlabels; r++) {
        fprintf(out, "%-4d", r);
        for (int c = 0; c < mt->nlabels; c++) fprintf(out, " %6ld", mt->confusion[r][c]);
        fputc('\n', out);
    }
}

static void progress(void *arg, int label, int nlabels, int epochs)
{
    const char *what = arg;
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "\r%s: label %d/%d trained (%d passes)   %s", what, label + 1, nlabels,
                epochs, label + 1 == nlabels ? "\n" : "");
}

static int cmd_train(const char *data, const char *out, const hl_feat_cfg_t *cfg,
                     const hl_train_opts_t *o, bool holdout)
{
    table_t t = {0};
    if (read_rows(data, &t) != 0) return 1;
    hl_dataset_t *ds = hl_dataset_new(cfg);
    char err[HL_ERR_LEN];
    int status = 1;
    hl_model_t *split = NULL, *full = NULL;
    bool *train_mask = hl_malloc((t.n ? t.n : 1) * sizeof(bool));
    bool *val_mask = hl_malloc((t.n ? t.n : 1) * sizeof(bool));
    for (size_t i = 0; i < t.n; i++) {
        if (!*t.rows[i].label) {
            fprintf(stderr, "hotline-classify: row with id %lld has no label (skipped)\n", (long long)t.rows[i].id);
            continue;
        }
        if (hl_dataset_add(ds, t.rows[i].id, t.rows[i].label, t.rows[i].title, t.rows[i].tlen,
                           t.rows[i].body, t.rows[i].blen, err) != 0) {
            fprintf(stderr, "hotline-classify: %s\n", err);
            goto done;
        }
    }
    hl_dataset_seal(ds);
    size_t n = hl_dataset_size(ds), nval = 0;
    for (size_t i = 0; i < n; i++) {
        val_mask[i] = hl_split_is_validation(hl_dataset_id(ds, i), split_seed);
        train_mask[i] = !val_mask[i];
        nval += val_mask[i];
    }
    fprintf(stderr, "%zu labelled rows, %d labels; validation split: %zu rows\n", n,
            hl_dataset_nlabels(ds), nval);
    int64_t t0 = hl_mono_us();
    split = hl_train(ds, train_mask, o, progress, "validation model", err);
    if (!split) {
        fprintf(stderr, "hotline-classify: %s\n", err);
        goto done;
    }
    float temp = hl_train_calibrate(split, ds, val_mask);
    hl_metrics_t mt;
    hl_metrics_init(&mt, hl_dataset_nlabels(ds));
    for (size_t i = 0; i < n; i++) {
        if (!val_mask[i]) continue;
        hl_prediction_t p;
        hl_dataset_predict(split, ds, i, &p);
        hl_metrics_add(&mt, hl_dataset_label(ds, i), &p);
    }
    hl_metrics_finish(&mt);
    const char *labels[HL_MODEL_MAX_LABELS];
    for (int c = 0; c < hl_dataset_nlabels(ds); c++) labels[c] = hl_dataset_label_name(ds, c);
    printf("validation (fixed split, %zu rows; trained on the other %zu in %.1f s)\n", nval, n - nval,
           (double)(hl_mono_us() - t0) / 1e6);
    printf("temperature=%.4f\n", temp);
    print_metrics(stdout, &mt, labels, 0);
    if (holdout) {
        full = split;
        split = NULL;
    } else {
        full = hl_train(ds, NULL, o, progress, "final model", err);
        if (!full) {
            fprintf(stderr, "hotline-classify: %s\n", err);
            goto done;
        }
        hl_model_set_temperature(full, temp);
    }
    if (hl_model_save(full, out, err) != 0) {
        fprintf(stderr, "hotline-classify: %s\n", err);
        goto done;
    }
    printf("\nmodel=%s\nversion=%s\ntrained_on=%s\n", out, hl_model_version(full),
           holdout ? "validation split complement" : "all rows");
    status = 0;
done:
    hl_model_destroy(&split);
    hl_model_destroy(&full);
    hl_dataset_destroy(&ds);
    hl_free(train_mask);
    hl_free(val_mask);
    table_free(&t);
    return status;
}

static void put_csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static int cmd_predict(const char *model, const char *data)
{
    char err[HL_ERR_LEN];
    hl_model_t *m = hl_model_load(model, err);
    if (!m) {
        fprintf(stderr, "hotline-classify: %s\n", err);
        return 1;
    }
    table_t t = {0};
    if (read_rows(data, &t) != 0) {
        hl_model_destroy(&m);
        return 1;
    }
    printf("id,label,confidence\n");
    for (size_t i = 0; i < t.n; i++) {
        hl_prediction_t p;
        hl_model_predict(m, t.rows[i].title, t.rows[i].tlen, t.rows[i].body, t.rows[i].blen, &p);
        printf("%lld,", (long long)t.rows[i].id);
        put_csv_field(stdout, hl_model_label(m, p.label));
        printf(",%.4f\n", p.confidence);
    }
    table_free(&t);
    hl_model_destroy(&m);
    return 0;
}

static int cmd_eval(const char *model, const char *data, const char *split)
{
    char err[HL_ERR_LEN];
    hl_model_t *m = hl_model_load(model, err);
    if (!m) {
        fprintf(stderr, "hotline-classify: %s\n", err);
        return 1;
    }
    table_t t = {0};
    if (read_rows(data, &t) != 0) {
        hl_model_destroy(&m);
        return 1;
    }
    int L = hl_model_nlabels(m);
    const char *labels[HL_MODEL_MAX_LABELS];
    for (int c = 0; c < L; c++) labels[c] = hl_model_label(m, c);
    size_t *use = hl_malloc((t.n ? t.n : 1) * sizeof(size_t));
    int *truth = hl_malloc((t.n ? t.n : 1) * sizeof(int));
    size_t n = 0;
    long unknown = 0;
    for (size_t i = 0; i < t.n; i++) {
        bool val = hl_split_is_validation(t.rows[i].id, split_seed);
        if ((strcmp(split, "validation") == 0 && !val) || (strcmp(split, "train") == 0 && val)) continue;
        int k = -1;
        for (int c = 0; c < L; c++)
            if (strcmp(t.rows[i].label, labels[c]) == 0) k = c;
        if (k < 0) {
            unknown++;
            continue;
        }
        truth[n] = k;
        use[n++] = i;
    }
    if (unknown) fprintf(stderr, "hotline-classify: %ld row(s) with a label the model does not know (not counted)\n", unknown);
    if (n == 0) {
        fprintf(stderr, "hotline-classify: no rows to evaluate\n");
        hl_free(use);
        hl_free(truth);
        table_free(&t);
        hl_model_destroy(&m);
        return 1;
    }
    hl_metrics_t mt;
    hl_metrics_init(&mt, L);
    for (size_t j = 0; j < n; j++) {
        const row_t *r = &t.rows[use[j]];
        hl_prediction_t p;
        hl_model_predict(m, r->title, r->tlen, r->body, r->blen, &p);
        hl_metrics_add(&mt, truth[j], &p);
    }
    hl_metrics_finish(&mt);
    /* Throughput: repeat the whole set, single thread, for at least a second. */
    long done = 0;
    volatile float sink = 0;
    int64_t t0 = hl_mono_us(), el;
    do {
        for (size_t j = 0; j < n; j++) {
            const row_t *r = &t.rows[use[j]];
            hl_prediction_t p;
            hl_model_predict(m, r->title, r->tlen, r->body, r->blen, &p);
            sink += p.confidence;
        }
        done += (long)n;
        el = hl_mono_us() - t0;
    } while (el < 1000000);
    (void)sink;
    printf("model=%s\nversion=%s\nsplit=%s\n", model, hl_model_version(m), split);
    print_metrics(stdout, &mt, labels, (double)done * 1e6 / (double)el);
    hl_free(use);
    hl_free(truth);
    table_free(&t);
    hl_model_destroy(&m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},  {"model", required_argument, NULL, 'm'},
        {"seed", required_argument, NULL, 's'},  {"c", required_argument, NULL, 'C'},
        {"bits", required_argument, NULL, 'b'},  {"ngrams", required_argument, NULL, 'g'},
        {"no-nb", no_argument, NULL, 'N'},       {"no-idf", no_argument, NULL, 'I'},
        {"no-title", no_argument, NULL, 'T'},    {"holdout", no_argument, NULL, 'H'},
        {"split", required_argument, NULL, 'S'}, {"help", no_argument, NULL, 'h'},
        {"balance", required_argument, NULL, 'B'}, {"split-seed", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0}};
    const char *data = NULL, *model = NULL, *split = "all";
    hl_feat_cfg_t cfg = {18, 1, 3, 1};
    hl_train_opts_t o;
    hl_train_defaults(&o);
    bool holdout = false;
    int opt;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 'd': data = optarg; break;
        case 'm': model = optarg; break;
        case 's':
            o.seed = strtoull(optarg, &end, 10);
            if (*end) goto bad;
            break;
        case 'C':
            o.c = strtod(optarg, &end);
            if (*end || !(o.c > 0)) goto bad;
            break;
        case 'b': {
            long b = strtol(optarg, &end, 10);
            if (*end || b < 12 || b > 24) goto bad;
            cfg.bits = (uint8_t)b;
            break;
        }
        case 'g': {
            unsigned a, b;
            if (sscanf(optarg, "%u-%u", &a, &b) != 2 || a < 1 || b > 4 || a > b) goto bad;
            cfg.nmin = (uint8_t)a, cfg.nmax = (uint8_t)b;
            break;
        }
        case 'B':
            o.balance = strtod(optarg, &end);
            if (*end || o.balance < 0 || o.balance > 2) goto bad;
            break;
        case 'P':
            split_seed = strtoull(optarg, &end, 10);
            if (*end) goto bad;
            break;
        case 'N': o.nb = false; break;
        case 'I': o.idf = false; break;
        case 'T': cfg.title = 0; break;
        case 'H': holdout = true; break;
        case 'S':
            if (strcmp(optarg, "all") && strcmp(optarg, "validation") && strcmp(optarg, "train")) goto bad;
            split = optarg;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        continue;
    bad:
        for (int i = 0; opts[i].name; i++)
            if (opts[i].val == opt)
                fprintf(stderr, "hotline-classify: bad value '%s' for --%s\n", optarg, opts[i].name);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "hotline-classify: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!data || !model) {
        fprintf(stderr, "hotline-classify: %s needs --data and --model\n", cmd);
        usage(stderr);
        return 2;
    }
    if (!strcmp(cmd, "train")) return cmd_train(data, model, &cfg, &o, holdout);
    if (!strcmp(cmd, "predict")) return cmd_predict(model, data);
    if (!strcmp(cmd, "eval")) return cmd_eval(model, data, split);
    fprintf(stderr, "hotline-classify: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
