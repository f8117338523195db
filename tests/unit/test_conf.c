/* test_conf.c - the configuration table, the sample config and bad configs. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hotline/buf.h"
#include "hotline/conf.h"

#define EXAMPLE HL_SOURCE_DIR "/deploy/hotline.conf.example"
#define BAD_DIR HL_SOURCE_DIR "/tests/unit/data/conf"

static char *dump(const hl_conf_t *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    hl_conf_dump(c, f);
    fclose(f);
    return text;
}

/* Every key of the table is in the sample config, in its section, set to its
 * default: loading the sample gives exactly the defaults. */
static void test_sample_config_lists_every_key(void **state)
{
    (void)state;
    hl_conf_t defaults, sample;
    char err[HL_ERR_LEN] = "";
    hl_conf_defaults(&defaults);
    hl_conf_defaults(&sample);
    if (hl_conf_load_file(&sample, EXAMPLE, err) != 0) fail_msg("%s", err);
    char *a = dump(&defaults), *b = dump(&sample);
    assert_string_equal(a, b);
    free(a);
    free(b);

    FILE *f = fopen(EXAMPLE, "r");
    assert_non_null(f);
    char line[4096], section[64] = "";
    size_t n;
    const hl_conf_key_t *keys = hl_conf_keys(&n);
    bool *seen = calloc(n, sizeof(bool));
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '[') sscanf(line, "[%63[^]]", section);
        for (size_t i = 0; i < n; i++) {
            size_t kl = strlen(keys[i].key);
            if (strcmp(section, keys[i].section) == 0 && strncmp(line, keys[i].key, kl) == 0 &&
                strncmp(line + kl, " = ", 3) == 0)
                seen[i] = true;
        }
    }
    fclose(f);
    for (size_t i = 0; i < n; i++)
        if (!seen[i]) fail_msg("%s.%s is missing from %s", keys[i].section, keys[i].key, EXAMPLE);
    free(seen);
    hl_conf_free(&defaults);
    hl_conf_free(&sample);
}

static void test_dump_round_trips(void **state)
{
    (void)state;
    hl_conf_t c, d;
    char err[HL_ERR_LEN];
    hl_conf_defaults(&c);
    assert_int_equal(hl_conf_set(&c, "postgres", "conninfo", "host=db port=1 # not a comment", err), 0);
    assert_int_equal(hl_conf_set(&c, "router", "name", "r 1", err), 0);
    assert_int_equal(hl_conf_set(&c, "router", "min_confidence", "0.25", err), 0);
    char *text = dump(&c);
    char path[] = "/tmp/hl-conf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    hl_conf_defaults(&d);
    if (hl_conf_load_file(&d, path, err) != 0) fail_msg("%s", err);
    char *again = dump(&d);
    assert_string_equal(text, again);
    assert_string_equal(d.pg_conninfo, "host=db port=1 # not a comment");
    assert_string_equal(d.router_name, "r 1");
    unlink(path);
    free(text);
    free(again);
    hl_conf_free(&c);
    hl_conf_free(&d);
}

/* Each file in tests/unit/data/conf starts with "# expect: <text of the error>". */
static void test_bad_configs(void **state)
{
    (void)state;
    DIR *d = opendir(BAD_DIR);
    assert_non_null(d);
    struct dirent *e;
    int checked = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".conf")) continue;
        char path[512], first[256] = "";
        snprintf(path, sizeof path, "%s/%s", BAD_DIR, e->d_name);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        assert_non_null(fgets(first, sizeof first, f));
        fclose(f);
        first[strcspn(first, "\n")] = '\0';
        const char *expect = strstr(first, "expect: ");
        assert_non_null(expect);
        expect += 8;
        hl_conf_t c;
        char err[HL_ERR_LEN] = "";
        hl_conf_defaults(&c);
        int rc = hl_conf_load_file(&c, path, err);
        if (rc != HL_EINVAL) fail_msg("%s: loaded (rc %d), want an error", e->d_name, rc);
        if (!strstr(err, expect)) fail_msg("%s: error '%s' lacks '%s'", e->d_name, err, expect);
        if (!strstr(err, e->d_name)) fail_msg("%s: error '%s' does not name the file", e->d_name, err);
        hl_conf_free(&c);
        checked++;
    }
    closedir(d);
    assert_true(checked >= 10);
}

static void test_missing_file(void **state)
{
    (void)state;
    hl_conf_t c;
    char err[HL_ERR_LEN];
    hl_conf_defaults(&c);
    assert_int_equal(hl_conf_load_file(&c, "/nonexistent/hotline.conf", err), HL_EIO);
    assert_non_null(strstr(err, "No such file"));
    hl_conf_free(&c);
}

static void test_environment_and_arguments(void **state)
{
    (void)state;
    hl_conf_t c;
    char err[HL_ERR_LEN];
    char *env[] = {"PATH=/bin", "HOTLINE_ROUTER_BATCH_MAX=77", "HOTLINE_REDIS_HOST=cache",
                   "HOTLINE_BOGUS=1", NULL};
    char *sets[] = {"router.batch_max=88"};
    assert_int_equal(hl_conf_load_all(&c, NULL, env, NULL, 0, err), 0);
    assert_int_equal(c.batch_max, 77);
    assert_string_equal(c.redis_host, "cache");
    hl_conf_free(&c);
    /* The command line wins over the environment. */
    assert_int_equal(hl_conf_load_all(&c, NULL, env, sets, 1, err), 0);
    assert_int_equal(c.batch_max, 88);
    hl_conf_free(&c);
    char *bad_env[] = {"HOTLINE_ROUTER_BATCH_MAX=lots", NULL};
    assert_int_equal(hl_conf_load_all(&c, NULL, bad_env, NULL, 0, err), HL_EINVAL);
    assert_non_null(strstr(err, "HOTLINE_ROUTER_BATCH_MAX"));
    hl_conf_free(&c);
    const char *bad_args[] = {"batch_max=1", "router.=1", ".x=1", "router.batch_max", "nope.key=1"};
    for (int i = 0; i < 5; i++) {
        hl_conf_defaults(&c);
        assert_int_equal(hl_conf_set_arg(&c, bad_args[i], err), HL_EINVAL);
        hl_conf_free(&c);
    }
}

static void test_help_lists_every_key(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0, n;
    FILE *f = open_memstream(&text, &len);
    hl_conf_help(f);
    fclose(f);
    const hl_conf_key_t *keys = hl_conf_keys(&n);
    for (size_t i = 0; i < n; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s.%s", keys[i].section, keys[i].key);
        if (!strstr(text, name)) fail_msg("--help lacks %s", name);
        assert_true(strlen(keys[i].help) > 10);
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_config_lists_every_key),
        cmocka_unit_test(test_dump_round_trips),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_environment_and_arguments),
        cmocka_unit_test(test_help_lists_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
