/* test_dlindex.c - the deadline index against a reference, and its size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hotline/dlindex.h"

#define IDS 3000

/* The reference: per (id, clock), present? scheduled at? */
static struct {
    bool in;
    int64_t at; /* INT64_MAX = not scheduled */
} ref[IDS][4];

static void test_random_operations(void **state)
{
    (void)state;
    hl_dlindex_t *x = hl_dlindex_new();
    srand(11);
    size_t live = 0;
    for (int i = 0; i < 400000; i++) {
        int id = rand() % IDS, c = rand() % 4;
        switch (rand() % 5) {
        case 0:
        case 1: {
            bool created;
            hl_dl_t *d = hl_dlindex_put(x, id, c, &created);
            assert_int_equal(created, !ref[id][c].in);
            if (created) {
                ref[id][c].in = true;
                ref[id][c].at = INT64_MAX;
                live++;
            }
            int64_t at = rand() % 100000;
            hl_dlindex_schedule(x, d, at);
            ref[id][c].at = at;
            break;
        }
        case 2: {
            hl_dl_t *d = hl_dlindex_get(x, id, c);
            assert_int_equal(d != NULL, ref[id][c].in);
            if (d) {
                assert_int_equal(d->id, id);
                assert_int_equal(d->clock, c);
                hl_dlindex_remove(x, d);
                ref[id][c].in = false;
                live--;
            }
            break;
        }
        case 3: {
            hl_dl_t *d = hl_dlindex_get(x, id, c);
            if (d) {
                hl_dlindex_unschedule(x, d);
                ref[id][c].at = INT64_MAX;
            }
            break;
        }
        default: {
            /* The first scheduled is the reference's minimum. */
            int64_t at, min = INT64_MAX;
            hl_dl_t *d = hl_dlindex_first(x, &at);
            for (int k = 0; k < IDS; k++)
                for (int j = 0; j < 4; j++)
                    if (ref[k][j].in && ref[k][j].at < min) min = ref[k][j].at;
            if (min == INT64_MAX) {
                assert_null(d);
            } else {
                assert_non_null(d);
                assert_int_equal(at, min);
                assert_int_equal(ref[d->id][d->clock].at, min);
            }
        }
        }
        assert_int_equal(hl_dlindex_count(x), live);
    }
    /* Draining the schedule yields times in order. */
    int64_t last = -1, at;
    hl_dl_t *d;
    while ((d = hl_dlindex_first(x, &at)) != NULL) {
        assert_true(at >= last);
        last = at;
        hl_dlindex_unschedule(x, d);
    }
    hl_dlindex_clear(x);
    assert_int_equal(hl_dlindex_count(x), 0);
    assert_null(hl_dlindex_get(x, 1, 1));
    hl_dlindex_destroy(&x);
    assert_null(x);
}

/* A million deadlines, scheduled: under 80 bytes each, all found. */
static void test_million(void **state)
{
    (void)state;
    enum { N = 1000000 };
    hl_dlindex_t *x = hl_dlindex_new();
    for (int i = 0; i < N; i++) {
        hl_dl_t *d = hl_dlindex_put(x, 20260000000LL + i, i % 3, NULL);
        d->due = (int64_t)((i * 7919LL) % N);
        hl_dlindex_schedule(x, d, d->due);
    }
    assert_int_equal(hl_dlindex_count(x), N);
    size_t per = hl_dlindex_memory(x) / N;
    printf("# %zu bytes per deadline at 1M\n", per);
    assert_true(per < 80);
    for (int i = 0; i < N; i += 997) assert_non_null(hl_dlindex_get(x, 20260000000LL + i, i % 3));
    int64_t at;
    hl_dl_t *d = hl_dlindex_first(x, &at);
    assert_int_equal(at, 0);
    assert_int_equal(d->due, 0);
    hl_dlindex_destroy(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_operations),
        cmocka_unit_test(test_million),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
