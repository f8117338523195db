/* test_lifecycle.c - the lifecycle table: every transition, guards, and what
 * each state refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "demo_refdata.h"
#include "hotline/lifecycle.h"

static hl_refdata_t *rd;
static hl_life_env_t env;
static int64_t T0; /* Monday 2026-11-23 09:00 +08:00 */

static int setup(void **state)
{
    (void)state;
    char err[HL_ERR_LEN];
    rd = demo_refdata();
    if (hl_refdata_finish(rd, err) != 0) return -1;
    env = (hl_life_env_t){rd, 480, HL_COUNT_NEXT_DAY, 30, NULL};
    if (hl_iso8601_parse("2026-11-23T09:00:00+08:00", &T0) != 0) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hl_refdata_destroy(&rd);
    return 0;
}

static hl_ticket_t ticket(hl_state_t st)
{
    hl_ticket_t t;
    memset(&t, 0, sizeof t);
    t.id = 1001;
    strcpy(t.ticket_no, "2026112300001001");
    t.state = st;
    t.version = 1;
    t.type = HOTLINE__REQUEST_TYPE__TYPE_HELP;
    t.urgency = HOTLINE__URGENCY__URGENCY_NORMAL;
    strcpy(t.category, "construction");
    strcpy(t.region, "990101001");
    strcpy(t.unit, "JB_HOUSING");
    strcpy(t.assisting[0], "ECO");
    t.nassisting = 1;
    t.created_at = t.received_at = t.dispatched_at = T0;
    t.due[HL_CLOCK_SIGN] = T0 + 24 * 3600000LL;
    t.due[HL_CLOCK_CONTACT] = T0 + 2 * 86400000LL;
    t.due[HL_CLOCK_REPLY] = T0 + 14 * 86400000LL;
    return t;
}

typedef struct {
    const char *k[4], *v[4];
    size_t n;
} kv_t;

static hl_act_t act(hl_action_t kind, int role, const char *unit, const char *code, const char *reason,
                    const kv_t *kv)
{
    hl_act_t a = {kind, role, unit, "tester", code, reason, kv ? kv->n : 0, kv ? kv->k : NULL,
                  kv ? kv->v : NULL, 0, T0 + 3600000};
    return a;
}

static int apply(hl_ticket_t *t, hl_act_t a, hl_outcome_t *o, char *err)
{
    char allowed[256];
    return hl_lifecycle_apply(&env, t, &a, o, allowed, sizeof allowed, err);
}

#define EXPECT_OK(t, a, to)                                                                        \
    do {                                                                                           \
        hl_outcome_t o_;                                                                           \
        char e_[HL_ERR_LEN] = "";                                                                  \
        int rc_ = apply(&(t), (a), &o_, e_);                                                       \
        if (rc_ != 0) fail_msg("%s: %s", hl_action_name((a).kind), e_);                            \
        assert_int_equal((t).state, (to));                                                         \
    } while (0)

#define EXPECT_FAIL(t, a, code, needle)                                                            \
    do {                                                                                           \
        hl_outcome_t o_;                                                                           \
        char e_[HL_ERR_LEN] = "";                                                                  \
        hl_ticket_t before_ = (t);                                                                 \
        int rc_ = apply(&(t), (a), &o_, e_);                                                       \
        if (rc_ != (code)) fail_msg("%s: rc %d '%s', want %d", hl_action_name((a).kind), rc_, e_, (code)); \
        if (!strstr(e_, (needle))) fail_msg("'%s' lacks '%s'", e_, (needle));                     \
        assert_memory_equal(&before_, &(t), sizeof before_);                                       \
    } while (0)

#define A(x) HOTLINE__ACTION_KIND__ACTION_##x
#define S(x) HOTLINE__STATE__STATE_##x
#define U HL_ROLE_UNIT
#define O HL_ROLE_OFFICE

/* The happy path with a detour through every side road. */
static void test_whole_path(void **state)
{
    (void)state;
    hl_ticket_t t = ticket(S(PENDING_DISPATCH));
    t.unit[0] = '\0';
    kv_t k = {{"unit"}, {"JB_HOUSING"}, 1};
    EXPECT_OK(t, act(A(DISPATCH), O, NULL, NULL, NULL, &k), S(DISPATCHED));
    assert_string_equal(t.unit, "JB_HOUSING");
    assert_int_equal(t.version, 2);
    assert_int_equal(t.dispatched_at, T0 + 3600000);
    /* Return, refused: back to DISPATCHED. */
    EXPECT_OK(t, act(A(RETURN), U, "JB_HOUSING", "职能不符", "不归我们管", NULL), S(RETURN_REQUESTED));
    EXPECT_OK(t, act(A(REJECT_RETURN), O, NULL, NULL, "职责清单第3条", NULL), S(DISPATCHED));
    EXPECT_OK(t, act(A(SIGN), U, "JB_HOUSING", NULL, NULL, NULL), S(SIGNED));
    kv_t m = {{"method", "note"}, {"phone", "已电话联系"}, 2};
    EXPECT_OK(t, act(A(CONTACT), U, "JB_HOUSING", NULL, NULL, &m), S(IN_PROGRESS));
    assert_true(t.contacted_at > 0);
    /* Extension granted: the reply deadline moves by 3 working days. */
    int64_t old = t.due[HL_CLOCK_REPLY];
    kv_t d = {{"days"}, {"3"}, 1};
    EXPECT_OK(t, act(A(EXTEND), U, "JB_HOUSING", NULL, "需要勘察", &d), S(EXTENSION_REQUESTED));
    EXPECT_OK(t, act(A(APPROVE_EXTENSION), O, NULL, NULL, NULL, NULL), S(IN_PROGRESS));
    assert_true(t.due[HL_CLOCK_REPLY] > old);
    assert_int_equal(t.extension_count, 1);
    /* A second extension is over the cap (policy: one). */
    EXPECT_FAIL(t, act(A(EXTEND), U, "JB_HOUSING", NULL, "还要", &d), HL_EINVAL, "extension(s) already");
    kv_t r = {{"text"}, {"已修复"}, 1};
    EXPECT_OK(t, act(A(REPLY), U, "JB_HOUSING", "resolved", NULL, &r), S(REPLIED));
    EXPECT_OK(t, act(A(REVIEW_REJECT), O, NULL, NULL, "没有联系记录", NULL), S(IN_PROGRESS));
    EXPECT_OK(t, act(A(REPLY), U, "JB_HOUSING", "resolved", NULL, &r), S(REPLIED));
    EXPECT_OK(t, act(A(REVIEW_ACCEPT), O, NULL, NULL, NULL, NULL), S(CALLBACK));
    assert_true(t.due[HL_CLOCK_CALLBACK] > t.callback_start);
    /* Rated dissatisfied: reopen (重办), then again to the callback. */
    kv_t bad = {{"outcome", "resolution", "satisfaction"}, {"rated", "unresolved", "dissatisfied"}, 3};
    EXPECT_OK(t, act(A(CALLBACK), O, NULL, NULL, NULL, &bad), S(CALLBACK));
    EXPECT_OK(t, act(A(REOPEN), O, NULL, NULL, "群众不满意", NULL), S(IN_PROGRESS));
    assert_int_equal(t.reopen_count, 1);
    EXPECT_OK(t, act(A(REPLY), U, "JB_HOUSING", "resolved", NULL, &r), S(REPLIED));
    EXPECT_OK(t, act(A(REVIEW_ACCEPT), O, NULL, NULL, NULL, NULL), S(CALLBACK));
    /* Close needs a rating (or N unreachable attempts). */
    EXPECT_FAIL(t, act(A(CLOSE), O, NULL, NULL, NULL, NULL), HL_EINVAL, "needs a callback rating");
    kv_t unreach = {{"outcome"}, {"unreachable"}, 1};
    for (int i = 0; i < 3; i++) EXPECT_OK(t, act(A(CALLBACK), O, NULL, NULL, NULL, &unreach), S(CALLBACK));
    EXPECT_OK(t, act(A(CLOSE), O, NULL, NULL, NULL, NULL), S(CLOSED));
    /* Archive: after the review window, or by an admin at once. */
    EXPECT_FAIL(t, act(A(ARCHIVE), O, NULL, NULL, NULL, NULL), HL_EINVAL, "archived 30 days");
    EXPECT_OK(t, act(A(ARCHIVE), HL_ROLE_ADMIN, NULL, NULL, NULL, NULL), S(ARCHIVED));
    /* Archived is final. */
    EXPECT_FAIL(t, act(A(REOPEN), O, NULL, NULL, "复核", NULL), HL_ECONFLICT, "is ARCHIVED");
}

static void test_returns_and_binding_determination(void **state)
{
    (void)state;
    hl_ticket_t t = ticket(S(DISPATCHED));
    kv_t to_b = {{"unit"}, {"HOUSING"}, 1};
    /* An approved return excludes the unit; with a unit named, dispatch at once. */
    EXPECT_OK(t, act(A(RETURN), U, "JB_HOUSING", "属地不符", "不在辖区", NULL), S(RETURN_REQUESTED));
    hl_outcome_t o;
    char e[HL_ERR_LEN];
    hl_act_t ap = act(A(APPROVE_RETURN), O, NULL, NULL, NULL, &to_b);
    assert_int_equal(apply(&t, ap, &o, e), 0);
    assert_int_equal(o.nevents, 2);
    assert_int_equal(o.events[0].to, S(PENDING_DISPATCH));
    assert_string_equal(o.events[1].kind, "dispatch");
    assert_int_equal(t.state, S(DISPATCHED));
    assert_string_equal(t.unit, "HOUSING");
    assert_int_equal(t.return_count, 1);
    assert_string_equal(t.excluded[0], "JB_HOUSING");
    /* The reply clock starts again for the new unit. */
    assert_int_equal(t.reply_start, T0 + 3600000);
    /* The excluded unit cannot get it back. */
    EXPECT_OK(t, act(A(RETURN), U, "HOUSING", "职能不符", "不归我们", NULL), S(RETURN_REQUESTED));
    EXPECT_OK(t, act(A(APPROVE_RETURN), O, NULL, NULL, NULL, NULL), S(PENDING_DISPATCH));
    kv_t back = {{"unit"}, {"JB_HOUSING"}, 1};
    EXPECT_FAIL(t, act(A(DISPATCH), O, NULL, NULL, NULL, &back), HL_EINVAL, "excluded");
    /* After two returns (the policy's limit) the next dispatch is binding. */
    kv_t gas = {{"unit"}, {"GAS"}, 1};
    EXPECT_OK(t, act(A(DISPATCH), O, NULL, NULL, NULL, &gas), S(DISPATCHED));
    assert_true(t.binding);
    EXPECT_FAIL(t, act(A(RETURN), U, "GAS", "职能不符", "不是燃气", NULL), HL_EINVAL, "binding");
    /* The return window: 2 working days after dispatch. */
    hl_ticket_t late = ticket(S(DISPATCHED));
    hl_act_t r = act(A(RETURN), U, "JB_HOUSING", "属地不符", "晚了", NULL);
    r.now = T0 + 5 * 86400000LL;
    EXPECT_FAIL(late, r, HL_EINVAL, "return window");
    EXPECT_FAIL(late, act(A(RETURN), U, "JB_HOUSING", NULL, "没有代码", NULL), HL_EINVAL, "reason_code");
    /* Auto dispatch by the catalogue when no unit is named. */
    hl_ticket_t p = ticket(S(PENDING_DISPATCH));
    strcpy(p.category, "construction.property");
    EXPECT_OK(p, act(A(DISPATCH), O, NULL, NULL, NULL, NULL), S(DISPATCHED));
    assert_string_equal(p.unit, "ST_BINJIANG");
    assert_string_equal(p.assisting[0], "JB_HOUSING");
}

static void test_center_endings(void **state)
{
    (void)state;
    hl_ticket_t t = ticket(S(PENDING_DISPATCH));
    kv_t svc = {{"service"}, {"119"}, 1};
    hl_outcome_t o;
    char e[HL_ERR_LEN];
    assert_int_equal(apply(&t, act(A(TRANSFER_EMERGENCY), HL_ROLE_AGENT, NULL, NULL, NULL, &svc), &o, e), 0);
    assert_string_equal(o.linkage, "119");
    assert_int_equal(t.state, S(TRANSFERRED_OUT));
    t = ticket(S(PENDING_DISPATCH));
    kv_t bad = {{"service"}, {"911"}, 1};
    EXPECT_FAIL(t, act(A(TRANSFER_EMERGENCY), HL_ROLE_AGENT, NULL, NULL, NULL, &bad), HL_EINVAL, "110, 119");
    EXPECT_FAIL(t, act(A(NOT_ACCEPTED), HL_ROLE_AGENT, NULL, "boredom", "x", NULL), HL_EINVAL, "reason_code");
    EXPECT_OK(t, act(A(NOT_ACCEPTED), HL_ROLE_AGENT, NULL, "litigation", "已进入诉讼", NULL), S(NOT_ACCEPTED));
    t = ticket(S(ACCEPTED));
    EXPECT_FAIL(t, act(A(CLOSE_DIRECT), HL_ROLE_AGENT, NULL, NULL, "", NULL), HL_EINVAL, "needs a reason");
    EXPECT_OK(t, act(A(CLOSE_DIRECT), HL_ROLE_AGENT, NULL, NULL, "按政策解答", NULL), S(CLOSED_DIRECT));
    t = ticket(S(SIGNED));
    EXPECT_OK(t, act(A(WITHDRAW), HL_ROLE_AGENT, NULL, NULL, "诉求人撤回", NULL), S(WITHDRAWN));
    /* Merge into an open parent; not into itself or a closed one. */
    hl_ticket_t parent = ticket(S(SIGNED));
    parent.id = 2002;
    t = ticket(S(DISPATCHED));
    kv_t pk = {{"parent"}, {"2026112300002002"}, 1};
    EXPECT_FAIL(t, act(A(MERGE), O, NULL, NULL, NULL, &pk), HL_ENOTFOUND, "does not exist");
    env.parent = &parent;
    EXPECT_OK(t, act(A(MERGE), O, NULL, NULL, NULL, &pk), S(MERGED));
    assert_int_equal(t.parent_id, 2002);
    parent.state = S(CLOSED);
    t = ticket(S(DISPATCHED));
    EXPECT_FAIL(t, act(A(MERGE), O, NULL, NULL, NULL, &pk), HL_EINVAL, "open ticket");
    env.parent = NULL;
    hl_ticket_t child = ticket(S(MERGED));
    hl_lifecycle_close_child(&child, T0, &o);
    assert_int_equal(child.state, S(CLOSED));
    assert_int_equal(o.events[0].from, S(MERGED));
}

static void test_who_may_do_what(void **state)
{
    (void)state;
    hl_ticket_t t = ticket(S(DISPATCHED));
    /* Another unit's ticket. */
    EXPECT_FAIL(t, act(A(SIGN), U, "GAS", NULL, NULL, NULL), HL_EFORBIDDEN, "not unit GAS's");
    /* A role the table does not list. */
    EXPECT_FAIL(t, act(A(SIGN), HL_ROLE_AGENT, NULL, NULL, NULL, NULL), HL_EFORBIDDEN, "role 'agent' may not sign");
    EXPECT_FAIL(t, act(A(APPROVE_RETURN), U, "JB_HOUSING", NULL, NULL, NULL), HL_EFORBIDDEN, "may not");
    /* A stale version. */
    hl_act_t s = act(A(SIGN), U, "JB_HOUSING", NULL, NULL, NULL);
    s.expected_version = 7;
    EXPECT_FAIL(t, s, HL_ECONFLICT, "at version 1, not 7");
    /* The assisting unit's reply goes to the lead; the state stays. */
    kv_t r = {{"text"}, {"配合意见"}, 1};
    hl_outcome_t o;
    char e[HL_ERR_LEN];
    assert_int_equal(apply(&t, act(A(REPLY), U, "ECO", NULL, NULL, &r), &o, e), 0);
    assert_int_equal(t.state, S(DISPATCHED));
    assert_string_equal(o.tell, "assist_reply");
    assert_string_equal(o.tell_unit, "JB_HOUSING");
    assert_false(o.changed);
    assert_int_equal(t.version, 1);
}

/* Every state refuses what its row does not allow, and says what it allows. */
static void test_forbidden_everywhere(void **state)
{
    (void)state;
    int refused = 0;
    for (int st = 1; st <= S(WITHDRAWN); st++) {
        for (int ak = 1; ak <= A(NOTIFY); ak++) {
            hl_ticket_t t = ticket((hl_state_t)st);
            hl_outcome_t o;
            char e[HL_ERR_LEN], allowed[256];
            hl_act_t a = act((hl_action_t)ak, HL_ROLE_ADMIN, NULL, "x", "x", NULL);
            int rc = hl_lifecycle_apply(&env, &t, &a, &o, allowed, sizeof allowed, e);
            if (rc != HL_ECONFLICT) continue;
            refused++;
            if (!strstr(e, hl_state_name((hl_state_t)st)) || !strstr(e, "allowed for admin"))
                fail_msg("refusal does not name the state and what is allowed: %s", e);
            char list[300];
            snprintf(list, sizeof list, ",%s,", allowed);
            char token[40];
            snprintf(token, sizeof token, ",%s,", hl_action_name((hl_action_t)ak));
            if (strstr(list, token))
                fail_msg("%s refused in %s but listed as allowed", hl_action_name((hl_action_t)ak),
                         hl_state_name((hl_state_t)st));
        }
    }
    assert_true(refused > 250);
}

static void test_notices_once(void **state)
{
    (void)state;
    hl_ticket_t t = ticket(S(DISPATCHED));
    char due[24];
    snprintf(due, sizeof due, "%lld", (long long)t.due[HL_CLOCK_SIGN]);
    kv_t w = {{"notice", "clock", "due"}, {"warning", "sign", due}, 3};
    hl_outcome_t o;
    char e[HL_ERR_LEN];
    assert_int_equal(apply(&t, act(A(NOTIFY), HL_ROLE_SYSTEM, NULL, NULL, NULL, &w), &o, e), 0);
    assert_false(o.duplicate);
    assert_int_equal(o.nevents, 1);
    assert_int_equal(t.version, 1); /* notices do not move the version */
    assert_int_equal(apply(&t, act(A(NOTIFY), HL_ROLE_SYSTEM, NULL, NULL, NULL, &w), &o, e), 0);
    assert_true(o.duplicate);
    /* A later stage after an earlier one; never an earlier one again. */
    kv_t sup = {{"notice", "clock", "due", "level"}, {"supervision", "sign", due, "2"}, 4};
    assert_int_equal(apply(&t, act(A(NOTIFY), HL_ROLE_SYSTEM, NULL, NULL, NULL, &sup), &o, e), 0);
    assert_int_equal(t.supervision, 2);
    assert_string_equal(o.tell, "notice");
    kv_t rem = {{"notice", "clock", "due"}, {"reminder", "sign", due}, 3};
    assert_int_equal(apply(&t, act(A(NOTIFY), HL_ROLE_SYSTEM, NULL, NULL, NULL, &rem), &o, e), 0);
    assert_true(o.duplicate);
    /* A deadline not in force is stale. */
    kv_t stale = {{"notice", "clock", "due"}, {"overdue", "sign", "12345"}, 3};
    EXPECT_FAIL(t, act(A(NOTIFY), HL_ROLE_SYSTEM, NULL, NULL, NULL, &stale), HL_ECONFLICT, "not in force");
    kv_t cb = {{"notice", "clock", "due"}, {"overdue", "callback", due}, 3};
    EXPECT_FAIL(t, act(A(NOTIFY), HL_ROLE_SYSTEM, NULL, NULL, NULL, &cb), HL_ECONFLICT, "not in force");
    /* After signing the sign clock stops. */
    EXPECT_OK(t, act(A(SIGN), U, "JB_HOUSING", NULL, NULL, NULL), S(SIGNED));
    assert_false(hl_clock_runs(&t, HL_CLOCK_SIGN));
    assert_true(hl_clock_runs(&t, HL_CLOCK_CONTACT));
    assert_true(hl_clock_runs(&t, HL_CLOCK_REPLY));
    assert_int_equal(hl_clock_start(&t, HL_CLOCK_REPLY), T0);
}

static void test_docs_from_the_table(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    hl_lifecycle_markdown(f);
    fclose(f);
    for (int ak = 1; ak <= A(NOTIFY); ak++) {
        char cell[64];
        snprintf(cell, sizeof cell, "| `%s` |", hl_action_name((hl_action_t)ak));
        if (!strstr(text, cell)) fail_msg("docs lack %s", cell);
    }
    /* docs/lifecycle.md is this text. */
    FILE *d = fopen(HL_SOURCE_DIR "/docs/lifecycle.md", "r");
    if (!d) fail_msg("docs/lifecycle.md is missing: hotline-office --lifecycle-markdown > docs/lifecycle.md");
    char *file = calloc(1, len + 2);
    size_t got = fread(file, 1, len + 1, d);
    fclose(d);
    if (got != len || memcmp(file, text, len) != 0)
        fail_msg("docs/lifecycle.md is out of date: hotline-office --lifecycle-markdown > docs/lifecycle.md");
    free(file);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_path),
        cmocka_unit_test(test_returns_and_binding_determination),
        cmocka_unit_test(test_center_endings),
        cmocka_unit_test(test_who_may_do_what),
        cmocka_unit_test(test_forbidden_everywhere),
        cmocka_unit_test(test_notices_once),
        cmocka_unit_test(test_docs_from_the_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
