/* test_model.c - training, model files, calibration and the classifier's use
 * of a model, on a small synthetic dataset written for this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hotline/classify.h"
#include "hotline/model.h"
#include "hotline/train.h"

static const char *texts[3][6] = {
    {"小区道路破损需要修补", "楼房墙体开裂存在危险", "小区下水道堵塞污水外溢", "路灯不亮晚上很黑",
     "违章建筑占用公共绿地", "小区房屋漏水无人维修"},
    {"公交车到站不停", "出租车拒载乘客", "道路拥堵红绿灯时间太短", "长途客运站秩序混乱",
     "网约车司机绕路多收费", "高速收费站排队太长"},
    {"单位拖欠工资三个月", "社保缴费基数不对", "养老保险无法转移", "劳动合同到期不续签",
     "工伤认定迟迟不办", "公积金提取被拒绝"},
};
static const char *labels[3] = {"construction", "transport", "labour"};

static hl_dataset_t *dataset(void)
{
    hl_feat_cfg_t cfg = {14, 1, 3, 1};
    hl_dataset_t *ds = hl_dataset_new(&cfg);
    char err[HL_ERR_LEN];
    int64_t id = 0;
    for (int rep = 0; rep < 5; rep++)
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 6; i++) {
                char body[256];
                snprintf(body, sizeof body, "%s，请尽快处理。第%d次反映。", texts[c][i], rep);
                if (hl_dataset_add(ds, id++, labels[c], texts[c][i], strlen(texts[c][i]), body,
                                   strlen(body), err) != 0)
                    fail_msg("%s", err);
            }
    hl_dataset_seal(ds);
    return ds;
}

static hl_model_t *trained(hl_dataset_t *ds)
{
    hl_train_opts_t o;
    hl_train_defaults(&o);
    char err[HL_ERR_LEN];
    hl_model_t *m = hl_train(ds, NULL, &o, NULL, NULL, err);
    if (!m) fail_msg("%s", err);
    return m;
}

static void test_train_save_load_identical(void **state)
{
    (void)state;
    hl_dataset_t *ds = dataset();
    assert_int_equal(hl_dataset_nlabels(ds), 3);
    assert_string_equal(hl_dataset_label_name(ds, 0), "construction"); /* byte order */
    hl_model_t *m = trained(ds);
    float t = hl_train_calibrate(m, ds, NULL);
    assert_true(t > 0);
    /* It learned the training set. */
    for (size_t i = 0; i < hl_dataset_size(ds); i++) {
        hl_prediction_t p;
        hl_dataset_predict(m, ds, i, &p);
        assert_int_equal(p.label, hl_dataset_label(ds, i));
    }
    char path[] = "/tmp/hl-model-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    char err[HL_ERR_LEN];
    assert_int_equal(hl_model_save(m, path, err), 0);
    hl_model_t *back = hl_model_load(path, err);
    if (!back) fail_msg("%s", err);
    assert_string_equal(hl_model_version(back), hl_model_version(m));
    assert_float_equal(hl_model_temperature(back), t, 0);
    const char *probes[] = {"小区下水道又堵了", "出租车司机拒载", "公司不发工资", "", "完全无关的内容abc"};
    for (int i = 0; i < 5; i++) {
        hl_prediction_t a, b;
        hl_model_predict(m, probes[i], strlen(probes[i]), probes[i], strlen(probes[i]), &a);
        hl_model_predict(back, probes[i], strlen(probes[i]), probes[i], strlen(probes[i]), &b);
        assert_memory_equal(&a, &b, sizeof a);
        float sum = 0;
        for (int c = 0; c < 3; c++) sum += a.prob[c];
        assert_float_equal(sum, 1.0f, 1e-5);
    }
    hl_prediction_t p;
    hl_model_predict(back, "", 0, "公司拖欠工资", strlen("公司拖欠工资"), &p);
    assert_string_equal(hl_model_label(back, p.label), "labour");
    /* Deterministic: the same data and seed give the same bytes. */
    hl_model_t *again = trained(ds);
    hl_model_set_temperature(again, t);
    assert_string_equal(hl_model_version(again), hl_model_version(m));
    hl_model_destroy(&again);
    unlink(path);
    hl_model_destroy(&m);
    hl_model_destroy(&back);
    hl_dataset_destroy(&ds);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    char *b = malloc(*len);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void reseal(unsigned char *b, size_t len)
{
    uint64_t h = fnv(b, len - 8);
    for (int i = 0; i < 8; i++) b[len - 8 + i] = (unsigned char)(h >> (8 * i));
}

static void expect_refused(const char *path, const char *needle)
{
    char err[HL_ERR_LEN] = "";
    hl_model_t *m = hl_model_load(path, err);
    if (m) fail_msg("loaded a bad model (want '%s')", needle);
    if (!strstr(err, needle)) fail_msg("'%s' lacks '%s'", err, needle);
}

static void test_bad_files_refused(void **state)
{
    (void)state;
    hl_dataset_t *ds = dataset();
    hl_model_t *m = trained(ds);
    char good[] = "/tmp/hl-good-XXXXXX", bad[] = "/tmp/hl-bad-XXXXXX";
    close(mkstemp(good));
    close(mkstemp(bad));
    char err[HL_ERR_LEN];
    assert_int_equal(hl_model_save(m, good, err), 0);
    size_t len;
    unsigned char *b = (unsigned char *)slurp(good, &len);
    /* Truncated anywhere. */
    size_t cuts[] = {0, 3, 10, 100, len / 2, len - 9, len - 1};
    for (int i = 0; i < 7; i++) {
        spit(bad, b, cuts[i]);
        char e[HL_ERR_LEN] = "";
        assert_null(hl_model_load(bad, e));
        assert_true(strstr(e, "truncated") || strstr(e, "not a hotline model") || strstr(e, "checksum"));
    }
    /* One flipped bit in the weights. */
    b[len / 2] ^= 0x10;
    spit(bad, b, len);
    expect_refused(bad, "checksum mismatch");
    b[len / 2] ^= 0x10;
    /* Another format version, correctly checksummed. */
    b[4] = 9;
    reseal(b, len);
    spit(bad, b, len);
    expect_refused(bad, "model format 9");
    b[4] = HL_MODEL_FORMAT;
    /* Impossible settings. */
    b[8] = 40;
    reseal(b, len);
    spit(bad, b, len);
    expect_refused(bad, "invalid settings");
    b[8] = 14;
    /* A NaN temperature. */
    size_t tpos = 16 + 3 * HL_MODEL_LABEL_LEN + 4 * HL_MODEL_LANES + 4 * 3;
    memset(b + tpos, 0xFF, 4);
    reseal(b, len);
    spit(bad, b, len);
    expect_refused(bad, "not a usable number");
    /* Foreign files. */
    spit(bad, "\x89PNG\r\n\x1a\n0000000000000000", 24);
    expect_refused(bad, "not a hotline model");
    spit(bad, "id,label,title,body\n", 20);
    expect_refused(bad, "not a hotline model");
    expect_refused("/nonexistent/model", "No such file");
    free(b);
    unlink(good);
    unlink(bad);
    hl_model_destroy(&m);
    hl_dataset_destroy(&ds);
}

static void test_metrics(void **state)
{
    (void)state;
    hl_metrics_t mt;
    hl_metrics_init(&mt, 2);
    hl_prediction_t p = {0};
    /* 3 right of label 0, 1 wrong (predicted 1), 1 right of label 1. */
    p.label = 0, p.confidence = 0.9f, p.prob[0] = 0.9f, p.prob[1] = 0.1f;
    for (int i = 0; i < 3; i++) hl_metrics_add(&mt, 0, &p);
    p.label = 1, p.prob[0] = 0.1f, p.prob[1] = 0.9f;
    hl_metrics_add(&mt, 0, &p);
    hl_metrics_add(&mt, 1, &p);
    hl_metrics_finish(&mt);
    assert_int_equal(mt.n, 5);
    assert_float_equal(mt.accuracy, 0.8, 1e-9);
    assert_float_equal(mt.precision[1], 0.5, 1e-9);
    assert_float_equal(mt.recall[0], 0.75, 1e-9);
    assert_float_equal(mt.f1[0], 2 * 1.0 * 0.75 / 1.75, 1e-9);
    assert_float_equal(mt.macro_f1, (mt.f1[0] + mt.f1[1]) / 2, 1e-9);
    assert_float_equal(mt.ece, 0.1, 1e-6); /* all in the 0.9 bin: |4.5 - 4| / 5 */
    assert_true(!hl_split_is_validation(1, 1) || !hl_split_is_validation(2, 1) || !hl_split_is_validation(3, 1));
    int val = 0;
    for (int64_t id = 0; id < 10000; id++) val += hl_split_is_validation(id, 1);
    assert_true(val > 1800 && val < 2200); /* one in five */
}

static void test_classifier_with_model(void **state)
{
    (void)state;
    hl_dataset_t *ds = dataset();
    hl_model_t *m = trained(ds);
    hl_train_calibrate(m, ds, NULL);
    hl_classifier_t *c = hl_classifier_new();
    const char *none[] = {NULL}, *bus[] = {"公交"};
    assert_int_equal(hl_classifier_add_category(c, "construction", NULL, none, 0), 0);
    assert_int_equal(hl_classifier_add_category(c, "transport", NULL, none, 0), 0);
    assert_int_equal(hl_classifier_add_category(c, "labour", NULL, none, 0), 0);
    assert_int_equal(hl_classifier_add_category(c, "transport.bus", "transport", bus, 1), 0);
    const char *codes[] = {"construction", "labour", "transport"}; /* the model's label order */
    const char *wrong[] = {"construction", "labour", "transport.bus"};
    assert_int_equal(hl_classifier_set_model(c, m, wrong), HL_EINVAL);
    assert_int_equal(hl_classifier_set_model(c, m, codes), 0);
    hl_classifier_build(c);
    assert_non_null(strstr(hl_classifier_version(c), hl_model_version(m)));
    hl_class_t r;
    const char *t = "单位拖欠工资";
    hl_classify(c, "", 0, t, strlen(t), &r);
    assert_string_equal(r.category, "labour");
    assert_true(r.confidence > 0.5f);
    /* A subcategory of the model's category refines it. */
    t = "公交车到站不停";
    hl_classify(c, "", 0, t, strlen(t), &r);
    assert_string_equal(r.category, "transport.bus");
    /* Across categories: one passing mention does not override the model ... */
    t = "单位拖欠工资三个月，我每天坐公交上班";
    hl_classify(c, "", 0, t, strlen(t), &r);
    assert_string_equal(r.category, "labour");
    /* ... a subcategory named in the title does. */
    hl_classify(c, "公交", strlen("公交"), t, strlen(t), &r);
    assert_string_equal(r.category, "transport.bus");
    hl_classifier_destroy(&c);
    hl_model_destroy(&m);
    hl_dataset_destroy(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_save_load_identical),
        cmocka_unit_test(test_bad_files_refused),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_classifier_with_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
