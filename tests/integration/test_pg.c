/* test_pg.c - the non-blocking PostgreSQL connection (common/pg.c) against a
 * real server, run by pg.sh.
 *
 * Every case runs twice: with COPY payloads sent ahead of their
 * CopyInResponse (the default) and with each payload sent after it. Payloads
 * of several megabytes fill the socket, so the written-ahead bytes go out
 * over many writability wake-ups; errors in the first or a middle COPY
 * arrive while the rest is still being written; requests queued behind a
 * failed one must find the byte stream in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "hotline/buf.h"
#include "hotline/loop.h"
#include "hotline/pg.h"

typedef struct fixture fixture_t;

typedef struct {
    fixture_t *f;
    bool done;
    int rc;
    char msg[512];
} outcome_t;

struct fixture {
    bool ahead;
    hl_loop_t *loop;
    hl_pg_t *pg;
    PGconn *check;      /* a blocking connection for setup and checks */
    int waiting;        /* requests not yet done */
    int timer;
    bool timed_out;
};

static const char *conninfo;

/* One transaction of a COPY into each table. */
#define THREE_COPIES "BEGIN; COPY pgt_a FROM STDIN; COPY pgt_b FROM STDIN; COPY pgt_c FROM STDIN; COMMIT"

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

static long long value(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    long long v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void on_state(hl_pg_t *pg, void *arg, bool up)
{
    (void)pg;
    fixture_t *f = arg;
    if (up) hl_loop_stop(f->loop);
}

static void on_timeout(hl_loop_t *loop, void *arg)
{
    fixture_t *f = arg;
    f->timer = 0;
    f->timed_out = true;
    hl_loop_stop(loop);
}

/* Run the loop until stopped, failing the test after 60 s. */
static void run(fixture_t *f)
{
    f->timed_out = false;
    f->timer = hl_loop_timer(f->loop, 60000, 0, on_timeout, f);
    assert_int_equal(hl_loop_run(f->loop), 0);
    hl_loop_cancel(f->loop, f->timer);
    f->timer = 0;
    assert_false(f->timed_out);
}

static int setup(void **state, bool ahead)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->ahead = ahead;
    f->check = PQconnectdb(conninfo);
    if (PQstatus(f->check) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect: %s", PQerrorMessage(f->check));
        return -1;
    }
    exec_ok(f->check, "SET client_min_messages = warning");
    exec_ok(f->check, "DROP TABLE IF EXISTS pgt_a, pgt_b, pgt_c");
    exec_ok(f->check, "CREATE TABLE pgt_a (k integer PRIMARY KEY, v text NOT NULL)");
    exec_ok(f->check, "CREATE TABLE pgt_b (k integer NOT NULL, v text NOT NULL)");
    exec_ok(f->check, "CREATE TABLE pgt_c (k integer NOT NULL, v text NOT NULL)");
    f->loop = hl_loop_new();
    f->pg = hl_pg_new(f->loop, "test", conninfo, "SET application_name = 'test_pg'", 200, 30000);
    hl_pg_set_copy_ahead(f->pg, ahead);
    hl_pg_on_state(f->pg, on_state, f);
    hl_pg_start(f->pg);
    run(f);
    if (!hl_pg_up(f->pg)) return -1;
    *state = f;
    return 0;
}

static int setup_ahead(void **state) { return setup(state, true); }
static int setup_after(void **state) { return setup(state, false); }

static int teardown(void **state)
{
    fixture_t *f = *state;
    hl_pg_destroy(&f->pg);
    hl_loop_destroy(&f->loop);
    exec_ok(f->check, "DROP TABLE IF EXISTS pgt_a, pgt_b, pgt_c");
    PQfinish(f->check);
    free(f);
    return 0;
}

static int clean(void **state)
{
    fixture_t *f = *state;
    exec_ok(f->check, "TRUNCATE pgt_a, pgt_b, pgt_c");
    return 0;
}

static void on_done(void *arg, int rc, const char *msg)
{
    outcome_t *o = arg;
    o->done = true;
    o->rc = rc;
    snprintf(o->msg, sizeof o->msg, "%s", msg ? msg : "");
    if (--o->f->waiting == 0) hl_loop_stop(o->f->loop);
}

/* Rows "k<TAB>v" for k in [from, from + n), v of `width` characters that
 * depend on k and the table's tag. */
static void rows(hl_buf_t *b, char tag, int from, int n, int width)
{
    for (int k = from; k < from + n; k++) {
        hl_buf_printf(b, "%d\t%c", k, tag);
        for (int i = 1; i < width; i++) hl_buf_putc(b, (char)('a' + (k + i) % 26));
        hl_buf_putc(b, '\n');
    }
}

/* Submit a simple string with its payloads (moved into the request). */
static void submit(fixture_t *f, outcome_t *o, const char *sql, hl_buf_t *payloads, int n)
{
    hl_pg_req_t *req = hl_pg_req_new(NULL, on_done, o);
    hl_pg_req_simple(req, sql);
    for (int i = 0; i < n; i++) hl_pg_req_copy(req, &payloads[i]);
    o->f = f;
    f->waiting++;
    assert_int_equal(hl_pg_submit(f->pg, &req), 0);
    assert_null(req);
}

static void small_copies(void **state)
{
    fixture_t *f = *state;
    hl_buf_t p[3] = {HL_BUF_INIT, HL_BUF_INIT, HL_BUF_INIT};
    rows(&p[0], 'a', 1, 3, 5);
    rows(&p[1], 'b', 1, 2, 5);
    /* an empty payload: a COPY of no rows */
    outcome_t o = {0};
    submit(f, &o, THREE_COPIES, p, 3);
    run(f);
    assert_true(o.done);
    assert_int_equal(o.rc, 0);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_a"), 3);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_b"), 2);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_c"), 0);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_a WHERE v LIKE 'a%'"), 3);
}

/* Three payloads of ~4, 6 and 2 MB: each lands in its own table, whole. */
static void big_copies(void **state)
{
    fixture_t *f = *state;
    hl_buf_t p[3] = {HL_BUF_INIT, HL_BUF_INIT, HL_BUF_INIT};
    rows(&p[0], 'a', 1, 4000, 1000);
    rows(&p[1], 'b', 1, 6000, 1000);
    rows(&p[2], 'c', 1, 2000, 1000);
    outcome_t o = {0};
    submit(f, &o, THREE_COPIES, p, 3);
    run(f);
    assert_int_equal(o.rc, 0);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_a WHERE length(v) = 1000 AND v LIKE 'a%'"), 4000);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_b WHERE length(v) = 1000 AND v LIKE 'b%'"), 6000);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_c WHERE length(v) = 1000 AND v LIKE 'c%'"), 2000);
    /* the rows' text arrived byte for byte */
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_b WHERE substr(v, 2, 1) <> chr(97 + (k + 1) % 26)"),
                     0);
}

/* A unique violation in the first COPY while megabytes of the others are
 * still on their way; a request queued behind it runs normally. */
static void conflict_first(void **state)
{
    fixture_t *f = *state;
    exec_ok(f->check, "INSERT INTO pgt_a VALUES (2, 'old')");
    hl_buf_t p[3] = {HL_BUF_INIT, HL_BUF_INIT, HL_BUF_INIT};
    rows(&p[0], 'a', 1, 3, 10);
    rows(&p[1], 'b', 1, 8000, 1000);
    rows(&p[2], 'c', 1, 4000, 1000);
    hl_buf_t q[2] = {HL_BUF_INIT, HL_BUF_INIT};
    rows(&q[0], 'a', 100, 5, 10);
    rows(&q[1], 'c', 100, 3000, 1000);
    outcome_t o1 = {0}, o2 = {0};
    submit(f, &o1, THREE_COPIES, p, 3);
    submit(f, &o2, "BEGIN; COPY pgt_a FROM STDIN; COPY pgt_c FROM STDIN; COMMIT", q, 2);
    run(f);
    assert_int_equal(o1.rc, HL_ECONFLICT);
    assert_int_equal(o2.rc, 0);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_a"), 6);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_a WHERE k >= 100 AND v LIKE 'a%'"), 5);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_b"), 0);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_c WHERE k >= 100 AND v LIKE 'c%'"), 3000);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_c"), 3000);
}

/* Bad data in the middle COPY: nothing of the transaction stays. */
static void bad_row_middle(void **state)
{
    fixture_t *f = *state;
    hl_buf_t p[3] = {HL_BUF_INIT, HL_BUF_INIT, HL_BUF_INIT};
    rows(&p[0], 'a', 1, 2000, 1000);
    hl_buf_puts(&p[1], "1\tfine\nnot-a-number\tbad\n");
    rows(&p[2], 'c', 1, 6000, 1000);
    outcome_t o1 = {0}, o2 = {0};
    submit(f, &o1, THREE_COPIES, p, 3);
    hl_buf_t q = HL_BUF_INIT;
    rows(&q, 'b', 1, 7, 10);
    submit(f, &o2, "COPY pgt_b FROM STDIN", &q, 1);
    run(f);
    assert_int_equal(o1.rc, HL_EINVAL);
    assert_non_null(strstr(o1.msg, "invalid input syntax"));
    assert_int_equal(o2.rc, 0);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_a"), 0);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_b"), 7);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_c"), 0);
}

/* More COPYs than payloads fails the request; more payloads than COPYs
 * leaves the extra unused. Either way the next request runs normally. */
static void payload_count(void **state)
{
    fixture_t *f = *state;
    hl_buf_t p[1] = {HL_BUF_INIT};
    rows(&p[0], 'a', 1, 3, 10);
    hl_buf_t q[2] = {HL_BUF_INIT, HL_BUF_INIT};
    rows(&q[0], 'b', 1, 4, 10);
    rows(&q[1], 'c', 1, 3000, 1000);
    hl_buf_t z = HL_BUF_INIT;
    rows(&z, 'c', 1, 9, 10);
    outcome_t o1 = {0}, o2 = {0}, o3 = {0};
    submit(f, &o1, "BEGIN; COPY pgt_a FROM STDIN; COPY pgt_b FROM STDIN; COMMIT", p, 1);
    submit(f, &o2, "COPY pgt_b FROM STDIN", q, 2);
    submit(f, &o3, "COPY pgt_c FROM STDIN", &z, 1);
    run(f);
    assert_int_equal(o1.rc, HL_EINVAL);
    assert_non_null(strstr(o1.msg, "no data given"));
    assert_int_equal(o2.rc, 0);
    assert_int_equal(o3.rc, 0);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_a"), 0);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_b"), 4);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_c"), 9);
}

/* Many requests queued at once run in order, each whole. */
static void many_queued(void **state)
{
    fixture_t *f = *state;
    enum { N = 300 };
    static outcome_t o[N];
    memset(o, 0, sizeof o);
    for (int i = 0; i < N; i++) {
        hl_buf_t p[2] = {HL_BUF_INIT, HL_BUF_INIT};
        rows(&p[0], 'a', i * 10, 10, 50);
        rows(&p[1], 'b', i * 10, 1 + i % 7, 2000);
        submit(f, &o[i], "BEGIN; COPY pgt_a FROM STDIN; COPY pgt_b FROM STDIN; COMMIT", p, 2);
    }
    run(f);
    int expect_b = 0;
    for (int i = 0; i < N; i++) {
        assert_true(o[i].done);
        assert_int_equal(o[i].rc, 0);
        expect_b += 1 + i % 7;
    }
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_a WHERE v LIKE 'a%'"), N * 10);
    assert_int_equal(value(f->check, "SELECT count(*) FROM pgt_b WHERE v LIKE 'b%'"), expect_b);
}

int main(void)
{
    conninfo = getenv("HL_CONNINFO");
    if (!conninfo) {
        fprintf(stderr, "HL_CONNINFO must be set (run pg.sh)\n");
        return 1;
    }
    const struct CMUnitTest cases[] = {
        cmocka_unit_test_setup(small_copies, clean),   cmocka_unit_test_setup(big_copies, clean),
        cmocka_unit_test_setup(conflict_first, clean), cmocka_unit_test_setup(bad_row_middle, clean),
        cmocka_unit_test_setup(payload_count, clean),  cmocka_unit_test_setup(many_queued, clean),
    };
    int failed = cmocka_run_group_tests_name("COPY data sent ahead", cases, setup_ahead, teardown);
    failed += cmocka_run_group_tests_name("COPY data after each CopyInResponse", cases, setup_after, teardown);
    return failed ? 1 : 0;
}
