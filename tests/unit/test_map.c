/* test_map.c - the hash map against a reference under random operations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/map.h"

#define KEYS 2000

static void count(void *arg, const char *key, void *value)
{
    (void)key;
    (void)value;
    (*(size_t *)arg)++;
}

static void test_random_operations(void **state)
{
    (void)state;
    hl_map_t *m = hl_map_new();
    intptr_t ref[KEYS] = {0};
    srand(5);
    for (int i = 0; i < 200000; i++) {
        int k = rand() % KEYS;
        char key[16];
        int len = snprintf(key, sizeof key, "k%d", k);
        switch (rand() % 3) {
        case 0: {
            intptr_t v = 1 + rand() % 1000;
            void *prev = hl_map_put(m, key, (size_t)len, (void *)v);
            assert_true((intptr_t)prev == ref[k]);
            ref[k] = v;
            break;
        }
        case 1:
            assert_true((intptr_t)hl_map_del(m, key, (size_t)len) == ref[k]);
            ref[k] = 0;
            break;
        default:
            assert_true((intptr_t)hl_map_get(m, key, (size_t)len) == ref[k]);
        }
    }
    size_t n = 0, live = 0;
    for (int k = 0; k < KEYS; k++) live += ref[k] != 0;
    hl_map_each(m, count, &n);
    assert_int_equal(n, live);
    assert_int_equal(hl_map_size(m), live);
    /* Keys are bytes: a prefix is another key. */
    hl_map_put(m, "ab", 2, (void *)1);
    assert_null(hl_map_get(m, "a", 1));
    assert_null(hl_map_get(m, "abc", 3));
    hl_map_destroy(&m);
    assert_null(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_random_operations)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
