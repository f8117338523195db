/* lifecycle.c - the lifecycle table, its guards and effects. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/lifecycle.h"

#define ST(x) (1u << HOTLINE__STATE__STATE_##x)
#define OPEN                                                                                       \
    (ST(ACCEPTED) | ST(PENDING_DISPATCH) | ST(DISPATCHED) | ST(RETURN_REQUESTED) | ST(SIGNED) |    \
     ST(IN_PROGRESS) | ST(EXTENSION_REQUESTED) | ST(REPLIED) | ST(CALLBACK))
#define AT_CENTER (ST(ACCEPTED) | ST(PENDING_DISPATCH))
#define CLOCKED                                                                                    \
    (ST(PENDING_DISPATCH) | ST(DISPATCHED) | ST(RETURN_REQUESTED) | ST(SIGNED) | ST(IN_PROGRESS) |  \
     ST(EXTENSION_REQUESTED) | ST(CALLBACK))

#define R_AGENT HL_ROLE_AGENT
#define R_OFFICE HL_ROLE_OFFICE
#define R_SUPER HL_ROLE_SUPERVISOR
#define R_ADMIN HL_ROLE_ADMIN
#define R_UNIT HL_ROLE_UNIT
#define R_SYSTEM HL_ROLE_SYSTEM

typedef struct ctx ctx_t;
typedef int (*guard_fn)(ctx_t *c);

typedef struct {
    hl_action_t action;
    uint32_t from;     /* states (bits) */
    hl_state_t to;     /* 0: decided by the guard (previous state, or unchanged) */
    int roles;
    const char *needs; /* fields, for the docs */
    const char *what;  /* one line, for the docs */
    guard_fn guard;
} row_t;

struct ctx {
    const hl_life_env_t *env;
    hl_ticket_t *t;        /* a working copy */
    const hl_act_t *a;
    hl_outcome_t *out;
    const hl_policy_row_t *policy;
    const hl_calendar_t *cal;
    const char *chain[HL_MAX_CHAIN];
    int nchain;
    hl_state_t to;
    char *err;
};

static int fail(ctx_t *c, int rc, const char *fmt, ...) HL_PRINTF(3, 4);
static int fail(ctx_t *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, HL_ERR_LEN, fmt, ap);
    va_end(ap);
    return rc;
}

/* ------------------------------------------------------------- names */

static const char *role_names[] = {"agent", "office", "supervisor", "admin", "unit", "system"};

int hl_role_parse(const char *s)
{
    for (int i = 0; i < 6; i++)
        if (s && strcmp(s, role_names[i]) == 0) return 1 << i;
    return 0;
}

const char *hl_role_name(int role)
{
    for (int i = 0; i < 6; i++)
        if (role == 1 << i) return role_names[i];
    return "";
}

static const char *clock_names[] = {"sign", "contact", "reply", "callback"};

const char *hl_clock_name(hl_clock_t c)
{
    return (unsigned)c < HL_NCLOCKS ? clock_names[c] : "";
}

int hl_clock_parse(const char *s, hl_clock_t *out)
{
    for (int i = 0; i < HL_NCLOCKS; i++) {
        if (s && strcmp(s, clock_names[i]) == 0) {
            *out = (hl_clock_t)i;
            return 0;
        }
    }
    return HL_EINVAL;
}

const char *hl_notice_name(int stage)
{
    switch (stage) {
    case HL_NOTICE_WARNING: return "warning";
    case HL_NOTICE_REMINDER: return "reminder";
    case HL_NOTICE_OVERDUE: return "overdue";
    default: return stage >= HL_NOTICE_SUPERVISION ? "supervision" : "";
    }
}

const char *hl_act_get(const hl_act_t *a, const char *key)
{
    for (size_t i = 0; i < a->npayload; i++)
        if (strcmp(a->keys[i], key) == 0) return a->values[i];
    return NULL;
}

static bool has_text(const char *s)
{
    if (!s) return false;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return true;
    return false;
}

bool hl_state_terminal(hl_state_t s)
{
    return s == HOTLINE__STATE__STATE_CLOSED_DIRECT || s == HOTLINE__STATE__STATE_NOT_ACCEPTED ||
           s == HOTLINE__STATE__STATE_TRANSFERRED_OUT || s == HOTLINE__STATE__STATE_MERGED ||
           s == HOTLINE__STATE__STATE_CLOSED || s == HOTLINE__STATE__STATE_ARCHIVED ||
           s == HOTLINE__STATE__STATE_WITHDRAWN;
}

bool hl_clock_runs(const hl_ticket_t *t, hl_clock_t c)
{
    uint32_t s = 1u << t->state;
    switch (c) {
    case HL_CLOCK_SIGN: return (s & ST(DISPATCHED)) && t->due[c];
    case HL_CLOCK_CONTACT:
        return (s & (ST(DISPATCHED) | ST(SIGNED) | ST(RETURN_REQUESTED))) && !t->contacted_at && t->due[c];
    case HL_CLOCK_REPLY:
        return (s & (CLOCKED & ~ST(CALLBACK))) && t->due[c];
    case HL_CLOCK_CALLBACK: return (s & ST(CALLBACK)) && t->due[c];
    default: return false;
    }
}

int64_t hl_clock_start(const hl_ticket_t *t, hl_clock_t c)
{
    if (!hl_clock_runs(t, c)) return 0;
    switch (c) {
    case HL_CLOCK_SIGN:
    case HL_CLOCK_CONTACT: return t->dispatched_at ? t->dispatched_at : t->received_at;
    case HL_CLOCK_REPLY: return t->reply_start ? t->reply_start : t->received_at;
    case HL_CLOCK_CALLBACK: return t->callback_start;
    default: return 0;
    }
}

/* ------------------------------------------------------------- helpers */

static int64_t add_limit(ctx_t *c, int64_t from, hl_limit_t lim)
{
    return hl_limit_add(c->cal, from, lim, c->env->rule, c->env->offset_min, NULL);
}

/* sla_progress holds one byte per clock: the last notice stage sent. */
static int progress_get(const hl_ticket_t *t, hl_clock_t clk)
{
    return (int)(((uint32_t)t->sla_progress >> (8 * clk)) & 0xFFu);
}

static void progress_set(hl_ticket_t *t, hl_clock_t clk, int stage)
{
    uint32_t v = (uint32_t)t->sla_progress & ~(0xFFu << (8 * clk));
    t->sla_progress = (int32_t)(v | ((uint32_t)stage & 0xFFu) << (8 * clk));
}

static void reset_progress(hl_ticket_t *t, hl_clock_t clk)
{
    progress_set(t, clk, 0);
}

static bool excluded(const hl_ticket_t *t, const char *unit)
{
    for (int i = 0; i < t->nexcluded; i++)
        if (strcmp(t->excluded[i], unit) == 0) return true;
    return false;
}

static bool is_assisting(const hl_ticket_t *t, const char *unit)
{
    for (int i = 0; i < t->nassisting; i++)
        if (strcmp(t->assisting[i], unit) == 0) return true;
    return false;
}

static void copy(char *dst, size_t n, const char *src)
{
    size_t l = src ? strlen(src) : 0;
    if (l >= n) l = n - 1;
    memcpy(dst, src ? src : "", l);
    dst[l] = '\0';
}

static int need_reason(ctx_t *c)
{
    if (!has_text(c->a->reason))
        return fail(c, HL_EINVAL, "'%s' needs a reason", hl_action_name(c->a->kind));
    return 0;
}

static void tell(ctx_t *c, const char *kind, const char *unit)
{
    c->out->tell = kind;
    copy(c->out->tell_unit, sizeof c->out->tell_unit, unit);
}

/* Sign-in and first contact run from a dispatch; the reply clock too after
 * an approved return (the earlier unit was not the right one). */
static int do_dispatch(ctx_t *c)
{
    hl_ticket_t *t = c->t;
    const hl_act_t *a = c->a;
    const char *unit = hl_act_get(a, "unit");
    const char *assisting = hl_act_get(a, "assisting");
    const hl_route_t *route = NULL;
    if (!unit || !*unit) {
        route = hl_refdata_route(c->env->rd, t->category, c->chain, c->nchain);
        if (!route)
            return fail(c, HL_EINVAL, "no catalogue row for category '%s' in region %s: name a unit",
                        t->category, t->region);
        unit = route->lead;
    }
    if (!hl_refdata_has_unit(c->env->rd, unit))
        return fail(c, HL_ENOTFOUND, "unit %s does not exist or is inactive", unit);
    if (excluded(t, unit))
        return fail(c, HL_EINVAL, "unit %s returned this ticket and is excluded from it", unit);
    char list[HL_MAX_ASSISTING][HL_UNIT_LEN];
    int n = 0;
    if (assisting && *assisting) {
        for (const char *p = assisting; *p && n < HL_MAX_ASSISTING;) {
            size_t len = strcspn(p, ",");
            if (len == 0 || len >= HL_UNIT_LEN) return fail(c, HL_EINVAL, "bad assisting unit list");
            memcpy(list[n], p, len);
            list[n][len] = '\0';
            if (!hl_refdata_has_unit(c->env->rd, list[n]))
                return fail(c, HL_ENOTFOUND, "assisting unit %s does not exist", list[n]);
            if (strcmp(list[n], unit) == 0) return fail(c, HL_EINVAL, "the lead unit cannot assist itself");
            n++;
            p += len + (p[len] == ',');
        }
    } else if (route) {
        for (int i = 0; i < route->nassisting && n < HL_MAX_ASSISTING; i++)
            if (!excluded(t, route->assisting[i])) copy(list[n++], HL_UNIT_LEN, route->assisting[i]);
    }
    const char *binding = hl_act_get(a, "binding");
    copy(t->unit, sizeof t->unit, unit);
    t->nassisting = n;
    memcpy(t->assisting, list, sizeof list[0] * (size_t)n);
    t->binding = (binding && strcmp(binding, "true") == 0) || t->return_count >= c->policy->max_returns;
    t->dispatched_at = a->now;
    t->due[HL_CLOCK_SIGN] = add_limit(c, a->now, c->policy->sign);
    t->due[HL_CLOCK_CONTACT] = add_limit(c, a->now, c->policy->contact);
    reset_progress(t, HL_CLOCK_SIGN);
    reset_progress(t, HL_CLOCK_CONTACT);
    if (t->return_count > 0) {
        t->reply_start = a->now;
        t->due[HL_CLOCK_REPLY] = add_limit(c, a->now, c->policy->reply);
        reset_progress(t, HL_CLOCK_REPLY);
    }
    t->signed_at = t->contacted_at = 0;
    tell(c, "ticket", unit);
    return 0;
}

/* ------------------------------------------------------------- guards */

static int g_dispatch(ctx_t *c)
{
    return do_dispatch(c);
}

static int g_sign(ctx_t *c)
{
    c->t->signed_at = c->a->now;
    return 0;
}

static int g_return(ctx_t *c)
{
    hl_ticket_t *t = c->t;
    if (!has_text(c->a->reason_code) || !has_text(c->a->reason))
        return fail(c, HL_EINVAL, "a return needs a reason_code (属地不符, 职能不符 ...) and a reason");
    if (t->binding)
        return fail(c, HL_EINVAL, "the office's dispatch of this ticket is binding (终审): it cannot be returned");
    int64_t window = add_limit(c, t->dispatched_at ? t->dispatched_at : t->received_at, c->policy->return_window);
    if (c->a->now > window)
        return fail(c, HL_EINVAL, "the return window (%d %s from dispatch) has passed",
                    c->policy->return_window.amount, hl_limit_unit_name(c->policy->return_window.unit));
    t->previous_state = t->state;
    tell(c, "review", "");
    return 0;
}

static int g_approve_return(ctx_t *c)
{
    hl_ticket_t *t = c->t;
    if (t->nexcluded < HL_MAX_EXCLUDED && !excluded(t, t->unit)) copy(t->excluded[t->nexcluded++], HL_UNIT_LEN, t->unit);
    t->return_count++;
    t->unit[0] = '\0';
    t->nassisting = 0;
    t->previous_state = 0;
    t->due[HL_CLOCK_SIGN] = t->due[HL_CLOCK_CONTACT] = 0;
    /* With a unit named, dispatch at once: a second event. */
    const char *unit = hl_act_get(c->a, "unit");
    if (unit && *unit) {
        int rc = do_dispatch(c);
        if (rc) return rc;
        c->out->events[c->out->nevents].kind = "dispatch";
        c->out->events[c->out->nevents].from = HOTLINE__STATE__STATE_PENDING_DISPATCH;
        c->out->events[c->out->nevents].to = HOTLINE__STATE__STATE_DISPATCHED;
        c->out->nevents++;
        c->to = HOTLINE__STATE__STATE_PENDING_DISPATCH; /* the first event's target */
    } else {
        tell(c, "ticket", ""); /* for a dispatcher */
    }
    return 0;
}

static int g_reject_return(ctx_t *c)
{
    int rc = need_reason(c);
    if (rc) return rc;
    c->to = c->t->previous_state ? c->t->previous_state : HOTLINE__STATE__STATE_DISPATCHED;
    c->t->previous_state = 0;
    tell(c, "update", c->t->unit);
    return 0;
}

static int g_extend(ctx_t *c)
{
    hl_ticket_t *t = c->t;
    const char *d = hl_act_get(c->a, "days");
    char *end = NULL;
    long days = d ? strtol(d, &end, 10) : 0;
    if (!d || *end || days < 1)
        return fail(c, HL_EINVAL, "an extension needs days (a positive whole number)");
    if (days > c->policy->extension.amount)
        return fail(c, HL_EINVAL, "an extension is at most %d %s", c->policy->extension.amount,
                    hl_limit_unit_name(c->policy->extension.unit));
    if (t->extension_count >= c->policy->max_extensions)
        return fail(c, HL_EINVAL, "this ticket had its %d extension(s) already", c->policy->max_extensions);
    if (c->a->now > t->due[HL_CLOCK_REPLY])
        return fail(c, HL_EINVAL, "an extension must be asked before the reply deadline");
    int rc = need_reason(c);
    if (rc) return rc;
    t->extension_days = (int)days;
    t->previous_state = t->state;
    tell(c, "review", "");
    return 0;
}

static int g_decide_extension(ctx_t *c)
{
    hl_ticket_t *t = c->t;
    if (c->a->kind == HOTLINE__ACTION_KIND__ACTION_APPROVE_EXTENSION) {
        hl_limit_t add = {t->extension_days, c->policy->extension.unit};
        /* Days after the deadline in force; hours are added to it. */
        int64_t from = t->due[HL_CLOCK_REPLY];
        t->due[HL_CLOCK_REPLY] = add.unit >= HL_LIMIT_NATURAL_DAYS
                                     ? hl_limit_add(c->cal, from, add, HL_COUNT_NEXT_DAY, c->env->offset_min, NULL)
                                     : add_limit(c, from, add);
        t->extension_count++;
        reset_progress(t, HL_CLOCK_REPLY);
    } else {
        int rc = need_reason(c);
        if (rc) return rc;
    }
    c->to = t->previous_state == HOTLINE__STATE__STATE_SIGNED ? HOTLINE__STATE__STATE_SIGNED
                                                             : HOTLINE__STATE__STATE_IN_PROGRESS;
    t->previous_state = 0;
    t->extension_days = 0;
    tell(c, "update", t->unit);
    return 0;
}

static int g_contact(ctx_t *c)
{
    if (!has_text(hl_act_get(c->a, "method")))
        return fail(c, HL_EINVAL, "a contact record needs the method (phone, sms, visit, ...)");
    if (!c->t->contacted_at) c->t->contacted_at = c->a->now;
    return 0;
}

static int kb_cited(ctx_t *c);

static int g_reply(ctx_t *c)
{
    const char *text = hl_act_get(c->a, "text");
    if (!has_text(text)) return fail(c, HL_EINVAL, "a reply needs text (what was done)");
    if (!has_text(c->a->reason_code))
        return fail(c, HL_EINVAL, "a reply needs a result code (reason_code: resolved, explained, ...)");
    int rc = kb_cited(c);
    if (rc) return rc;
    c->t->replied_at = c->a->now;
    tell(c, "review", "");
    return 0;
}

static int g_review_accept(ctx_t *c)
{
    hl_ticket_t *t = c->t;
    t->callback_start = c->a->now;
    t->due[HL_CLOCK_CALLBACK] = add_limit(c, c->a->now, c->policy->callback);
    reset_progress(t, HL_CLOCK_CALLBACK);
    tell(c, "callback", "");
    return 0;
}

static int g_review_reject(ctx_t *c)
{
    int rc = need_reason(c);
    if (rc) return rc;
    c->t->replied_at = 0;
    tell(c, "update", c->t->unit);
    return 0;
}

/* A rating (resolution and satisfaction from their lists) into the ticket;
 * 1 when the action carries none. */
static int rating(ctx_t *c)
{
    hl_ticket_t *t = c->t;
    const char *res = hl_act_get(c->a, "resolution"), *sat = hl_act_get(c->a, "satisfaction");
    static const char *resolutions[] = {"resolved", "partly", "unresolved"};
    static const char *satisfactions[] = {"satisfied", "basically", "dissatisfied"};
    bool r_ok = false, s_ok = false;
    for (int i = 0; i < 3; i++) {
        r_ok |= res && strcmp(res, resolutions[i]) == 0;
        s_ok |= sat && strcmp(sat, satisfactions[i]) == 0;
    }
    if (!r_ok || !s_ok)
        return fail(c, HL_EINVAL, "a rating needs resolution (resolved, partly, unresolved) and "
                                  "satisfaction (satisfied, basically, dissatisfied)");
    copy(t->resolution, sizeof t->resolution, res);
    copy(t->satisfaction, sizeof t->satisfaction, sat);
    return 0;
}

/* The number of comma-separated positive whole numbers of at most `digits`
 * digits in s, or -1. */
static int count_numbers(const char *s, size_t digits)
{
    int n = 0;
    for (;;) {
        size_t d = strspn(s, "0123456789");
        if (d == 0 || d > digits || s[0] == '0') return -1;
        n++;
        s += d;
        if (*s == '\0') return n;
        if (*s++ != ',') return -1;
    }
}

/* The knowledge-base entries an answer came from, if it names any: kb_entry
 * "12" or "12,40", and kb_version of the same count ("3" or "3,1") or none
 * (the last published versions). The event keeps them; migration 009's
 * trigger records each as a use. */
static int kb_cited(ctx_t *c)
{
    const char *e = hl_act_get(c->a, "kb_entry"), *v = hl_act_get(c->a, "kb_version");
    if (!e && !v) return 0;
    int ne = e ? count_numbers(e, 18) : -1, nv = v ? count_numbers(v, 9) : ne;
    if (ne < 1 || ne != nv || ne > HL_KB_CITED_MAX)
        return fail(c, HL_EINVAL, "kb_entry names up to %d knowledge-base entries (\"12,40\"), and kb_version "
                                  "their versions if given (\"3,1\")", HL_KB_CITED_MAX);
    return 0;
}

static int g_callback(ctx_t *c)
{
    hl_ticket_t *t = c->t;
    if (t->anonymous) return fail(c, HL_EINVAL, "an anonymous request has no callback: close it");
    const char *outcome = hl_act_get(c->a, "outcome");
    if (!outcome) return fail(c, HL_EINVAL, "a callback needs an outcome: rated, unreachable or declined");
    if (strcmp(outcome, "rated") == 0) {
        int rc = rating(c);
        if (rc) return rc;
    } else if (strcmp(outcome, "unreachable") == 0) {
        t->callback_attempts++;
    } else if (strcmp(outcome, "declined") == 0) {
        copy(t->resolution, sizeof t->resolution, "declined");
    } else {
        return fail(c, HL_EINVAL, "outcome '%s' is not rated, unreachable or declined", outcome);
    }
    c->to = t->state;
    return 0;
}

static int g_close(ctx_t *c)
{
    hl_ticket_t *t = c->t;
    bool rated = t->satisfaction[0] || strcmp(t->resolution, "declined") == 0;
    if (!rated && !t->anonymous && t->callback_attempts < c->policy->callback_attempts)
        return fail(c, HL_EINVAL,
                    "close needs a callback rating, the requester's refusal, %d unreachable attempts "
                    "(%d so far) or an anonymous request",
                    c->policy->callback_attempts, t->callback_attempts);
    t->closed_at = c->a->now;
    c->out->close_children = true;
    return 0;
}

static int g_reopen(ctx_t *c)
{
    hl_ticket_t *t = c->t;
    int rc = need_reason(c);
    if (rc) return rc;
    if (t->reopen_count >= c->policy->max_reopens)
        return fail(c, HL_EINVAL, "this ticket was reopened %d time(s), the most allowed", t->reopen_count);
    if (t->state == HOTLINE__STATE__STATE_CALLBACK &&
        strcmp(t->resolution, "unresolved") != 0 && strcmp(t->satisfaction, "dissatisfied") != 0)
        return fail(c, HL_EINVAL, "reopen (重办) follows a callback rated unresolved or dissatisfied");
    t->reopen_count++;
    t->replied_at = t->closed_at = 0;
    t->resolution[0] = t->satisfaction[0] = '\0';
    t->callback_attempts = 0;
    t->due[HL_CLOCK_CALLBACK] = t->callback_start = 0;
    t->reply_start = c->a->now;
    t->due[HL_CLOCK_REPLY] = add_limit(c, c->a->now, c->policy->reply);
    reset_progress(t, HL_CLOCK_REPLY);
    tell(c, "update", t->unit);
    return 0;
}

static int g_end(ctx_t *c)
{
    int rc = need_reason(c);
    if (rc) return rc;
    c->t->closed_at = c->a->now;
    return 0;
}

/* 直接办结: the answer given, the entries it came from, and the requester's
 * rating on the spot (一次一评) when there is one. */
static int g_close_direct(ctx_t *c)
{
    int rc = kb_cited(c);
    if (!rc && (hl_act_get(c->a, "resolution") || hl_act_get(c->a, "satisfaction"))) rc = rating(c);
    return rc ? rc : g_end(c);
}

static int g_merge(ctx_t *c)
{
    const hl_ticket_t *p = c->env->parent;
    const char *no = hl_act_get(c->a, "parent");
    if (!no || !*no) return fail(c, HL_EINVAL, "merge needs the parent ticket (payload parent)");
    if (!p) return fail(c, HL_ENOTFOUND, "parent ticket %s does not exist", no);
    if (p->id == c->t->id) return fail(c, HL_EINVAL, "a ticket cannot be merged into itself");
    if (hl_state_terminal(p->state))
        return fail(c, HL_EINVAL, "parent ticket %s is %s: merge into an open ticket", no, hl_state_name(p->state));
    c->t->parent_id = p->id;
    return 0;
}

static int g_transfer(ctx_t *c)
{
    const char *svc = hl_act_get(c->a, "service");
    if (!svc || (strcmp(svc, "110") && strcmp(svc, "119") && strcmp(svc, "120") && strcmp(svc, "122")))
        return fail(c, HL_EINVAL, "a transfer needs service 110, 119, 120 or 122");
    copy(c->out->linkage, sizeof c->out->linkage, svc);
    c->t->closed_at = c->a->now;
    return 0;
}

/* Reasons a request is not accepted (不予受理), after DOMAIN.md section (a). */
static const char *exclusions[] = {"litigation", "arbitration", "discipline", "reconsideration",
                                   "disclosure", "petition", "secret", "privacy", "public_order",
                                   "jurisdiction", "malicious"};

static int g_not_accepted(ctx_t *c)
{
    const char *code = c->a->reason_code;
    bool ok = false;
    for (size_t i = 0; i < sizeof exclusions / sizeof exclusions[0]; i++)
        ok |= code && strcmp(code, exclusions[i]) == 0;
    if (!ok)
        return fail(c, HL_EINVAL, "not_accepted needs a reason_code: litigation, arbitration, discipline, "
                                  "reconsideration, disclosure, petition, secret, privacy, public_order, "
                                  "jurisdiction or malicious");
    return g_end(c);
}

static int g_archive(ctx_t *c)
{
    int64_t after = c->t->closed_at + (int64_t)c->env->archive_after_days * 86400000;
    if (c->a->role != HL_ROLE_ADMIN && c->a->now < after)
        return fail(c, HL_EINVAL, "a closed ticket is archived %d days after closing (admins: at once)",
                    c->env->archive_after_days);
    return 0;
}

static int g_notify(ctx_t *c)
{
    hl_ticket_t *t = c->t;
    const char *n = hl_act_get(c->a, "notice"), *clk = hl_act_get(c->a, "clock"),
               *due = hl_act_get(c->a, "due"), *lvl = hl_act_get(c->a, "level");
    hl_clock_t clock;
    int stage = 0;
    for (int s = HL_NOTICE_WARNING; s <= HL_NOTICE_SUPERVISION; s++)
        if (n && strcmp(n, hl_notice_name(s)) == 0) stage = s;
    if (!stage || hl_clock_parse(clk, &clock) != 0 || !due)
        return fail(c, HL_EINVAL, "notify needs notice (warning, reminder, overdue, supervision), "
                                  "clock (sign, contact, reply, callback) and due");
    if (stage == HL_NOTICE_SUPERVISION) {
        long level = lvl ? strtol(lvl, NULL, 10) : 0;
        if (level < 1 || level > 9) return fail(c, HL_EINVAL, "supervision needs a level of 1 to 9");
        stage += (int)level - 1;
    }
    if (!hl_clock_runs(t, clock) || strtoll(due, NULL, 10) != t->due[clock])
        return fail(c, HL_ECONFLICT, "the %s deadline %s is not in force (now %lld)", hl_clock_name(clock),
                    due, (long long)(hl_clock_runs(t, clock) ? t->due[clock] : 0));
    int sent = progress_get(t, clock);
    if (stage <= sent) {
        c->out->duplicate = true; /* never twice for the same deadline */
        return 0;
    }
    progress_set(t, clock, stage);
    if (stage >= HL_NOTICE_SUPERVISION && stage - HL_NOTICE_SUPERVISION + 1 > t->supervision)
        t->supervision = stage - HL_NOTICE_SUPERVISION + 1;
    /* Reminders and later go to whoever must act: the office for a callback
     * or a ticket no unit holds, else the lead unit. */
    if (stage >= HL_NOTICE_REMINDER) tell(c, "notice", clock == HL_CLOCK_CALLBACK ? "" : t->unit);
    c->to = t->state;
    return 0;
}

/* ------------------------------------------------------------- the table */

static const row_t table[] = {
    {HOTLINE__ACTION_KIND__ACTION_DISPATCH, AT_CENTER, HOTLINE__STATE__STATE_DISPATCHED,
     R_OFFICE | R_ADMIN | R_SYSTEM, "unit (default: the catalogue's), assisting, binding",
     "assign the lead unit (and assisting units); binding after the return limit", g_dispatch},
    {HOTLINE__ACTION_KIND__ACTION_SIGN, ST(DISPATCHED), HOTLINE__STATE__STATE_SIGNED, R_UNIT | R_ADMIN,
     "", "the lead unit takes the ticket (签收)", g_sign},
    {HOTLINE__ACTION_KIND__ACTION_RETURN, ST(DISPATCHED) | ST(SIGNED), HOTLINE__STATE__STATE_RETURN_REQUESTED,
     R_UNIT | R_ADMIN, "reason_code, reason", "the lead unit disputes responsibility (退单), within the return window",
     g_return},
    {HOTLINE__ACTION_KIND__ACTION_APPROVE_RETURN, ST(RETURN_REQUESTED), HOTLINE__STATE__STATE_PENDING_DISPATCH,
     R_OFFICE | R_ADMIN, "unit (optional: re-dispatch at once)",
     "the office agrees; the returning unit is excluded from the ticket", g_approve_return},
    {HOTLINE__ACTION_KIND__ACTION_REJECT_RETURN, ST(RETURN_REQUESTED), 0, R_OFFICE | R_ADMIN, "reason",
     "the office refuses the return; the ticket goes back as it was, deadlines unchanged", g_reject_return},
    {HOTLINE__ACTION_KIND__ACTION_EXTEND, ST(SIGNED) | ST(IN_PROGRESS), HOTLINE__STATE__STATE_EXTENSION_REQUESTED,
     R_UNIT | R_ADMIN, "days, reason", "the lead unit asks for more time, before the reply deadline (延期)",
     g_extend},
    {HOTLINE__ACTION_KIND__ACTION_APPROVE_EXTENSION, ST(EXTENSION_REQUESTED), 0, R_OFFICE | R_ADMIN, "",
     "the office grants the days asked; the new reply deadline is recorded", g_decide_extension},
    {HOTLINE__ACTION_KIND__ACTION_REJECT_EXTENSION, ST(EXTENSION_REQUESTED), 0, R_OFFICE | R_ADMIN, "reason",
     "the office refuses; the reply deadline stays", g_decide_extension},
    {HOTLINE__ACTION_KIND__ACTION_CONTACT, ST(SIGNED) | ST(IN_PROGRESS), HOTLINE__STATE__STATE_IN_PROGRESS,
     R_UNIT | R_ADMIN, "method (phone, sms, visit, ...); note", "the lead unit records contact with the requester (先行联系)", g_contact},
    {HOTLINE__ACTION_KIND__ACTION_REPLY, ST(SIGNED) | ST(IN_PROGRESS), HOTLINE__STATE__STATE_REPLIED,
     R_UNIT | R_ADMIN, "reason_code (result), text; kb_entry, kb_version when it cites the KB",
     "the lead unit answers (an assisting unit's reply goes to the lead instead)", g_reply},
    {HOTLINE__ACTION_KIND__ACTION_REVIEW_ACCEPT, ST(REPLIED), HOTLINE__STATE__STATE_CALLBACK, R_OFFICE | R_ADMIN,
     "", "the office accepts the reply (回复审核); the callback clock starts", g_review_accept},
    {HOTLINE__ACTION_KIND__ACTION_REVIEW_REJECT, ST(REPLIED), HOTLINE__STATE__STATE_IN_PROGRESS,
     R_OFFICE | R_ADMIN, "reason", "the office sends the reply back to the unit", g_review_reject},
    {HOTLINE__ACTION_KIND__ACTION_CALLBACK, ST(CALLBACK), 0, R_OFFICE | R_ADMIN,
     "outcome (rated, unreachable, declined); resolution and satisfaction when rated",
     "record a callback (回访): a rating, or one unreachable attempt", g_callback},
    {HOTLINE__ACTION_KIND__ACTION_CLOSE, ST(CALLBACK), HOTLINE__STATE__STATE_CLOSED, R_OFFICE | R_ADMIN, "",
     "finish (办结): after a rating, a refusal, N unreachable attempts, or for an anonymous request",
     g_close},
    {HOTLINE__ACTION_KIND__ACTION_REOPEN, ST(CALLBACK) | ST(CLOSED), HOTLINE__STATE__STATE_IN_PROGRESS,
     R_OFFICE | R_SUPER | R_ADMIN, "reason",
     "重办 after an unresolved or dissatisfied rating, or 复核 of a closed ticket; capped", g_reopen},
    {HOTLINE__ACTION_KIND__ACTION_WITHDRAW, OPEN, HOTLINE__STATE__STATE_WITHDRAWN, R_AGENT | R_OFFICE | R_ADMIN,
     "reason", "the requester withdraws (撤单)", g_end},
    {HOTLINE__ACTION_KIND__ACTION_MERGE, AT_CENTER | ST(DISPATCHED), HOTLINE__STATE__STATE_MERGED,
     R_AGENT | R_OFFICE | R_ADMIN, "parent", "a duplicate joins an open ticket (并单) and closes with it",
     g_merge},
    {HOTLINE__ACTION_KIND__ACTION_TRANSFER_EMERGENCY,
     AT_CENTER | ST(DISPATCHED) | ST(SIGNED) | ST(IN_PROGRESS), HOTLINE__STATE__STATE_TRANSFERRED_OUT,
     R_AGENT | R_OFFICE | R_ADMIN, "service (110, 119, 120, 122); note",
     "hand over to an emergency service, with a linkage record", g_transfer},
    {HOTLINE__ACTION_KIND__ACTION_NOT_ACCEPTED, AT_CENTER, HOTLINE__STATE__STATE_NOT_ACCEPTED,
     R_AGENT | R_OFFICE | R_ADMIN, "reason_code (litigation, petition, jurisdiction, ...), reason",
     "outside the hotline's scope (不予受理); the requester is told where to go", g_not_accepted},
    {HOTLINE__ACTION_KIND__ACTION_CLOSE_DIRECT, AT_CENTER, HOTLINE__STATE__STATE_CLOSED_DIRECT,
     R_AGENT | R_OFFICE | R_ADMIN, "reason (the answer given); kb_entry, kb_version when from the KB; resolution, satisfaction (一次一评)",
     "answered at first contact (直接办结), e.g. from the knowledge base", g_close_direct},
    {HOTLINE__ACTION_KIND__ACTION_ARCHIVE, ST(CLOSED), HOTLINE__STATE__STATE_ARCHIVED,
     R_SYSTEM | R_OFFICE | R_ADMIN, "", "freeze a closed ticket after the review window (归档)", g_archive},
    {HOTLINE__ACTION_KIND__ACTION_NOTIFY, CLOCKED, 0, R_SYSTEM | R_OFFICE | R_SUPER | R_ADMIN,
     "notice, clock, due, level",
     "a deadline notice: warning (yellow), reminder (催办), overdue (red), supervision (督办)", g_notify},
};
#define NROWS (sizeof table / sizeof table[0])

static const row_t *find_row(hl_action_t kind)
{
    for (size_t i = 0; i < NROWS; i++)
        if (table[i].action == kind) return &table[i];
    return NULL;
}

void hl_lifecycle_allowed(hl_state_t st, int role, char *out, size_t len)
{
    size_t n = 0;
    if (!out || !len) return;
    out[0] = '\0';
    for (size_t i = 0; i < NROWS; i++) {
        if (!(table[i].from & (1u << st)) || !(table[i].roles & role)) continue;
        int w = snprintf(out + n, len - n, "%s%s", n ? "," : "", hl_action_name(table[i].action));
        if (w < 0 || (size_t)w >= len - n) break;
        n += (size_t)w;
    }
}

int hl_lifecycle_apply(const hl_life_env_t *env, hl_ticket_t *t, const hl_act_t *a,
                       hl_outcome_t *out, char *allowed, size_t allowed_len, char err[HL_ERR_LEN])
{
    memset(out, 0, sizeof *out);
    if (allowed && allowed_len) allowed[0] = '\0';
    const row_t *row = find_row(a->kind);
    ctx_t c = {.env = env, .a = a, .out = out, .err = err};
    if (!row) return fail(&c, HL_EINVAL, "unknown action %d", (int)a->kind);
    if (!(row->roles & a->role))
        return fail(&c, HL_EFORBIDDEN, "role '%s' may not %s", hl_role_name(a->role), hl_action_name(a->kind));
    if (a->expected_version && a->kind != HOTLINE__ACTION_KIND__ACTION_NOTIFY && a->expected_version != t->version)
        return fail(&c, HL_ECONFLICT, "ticket %s is at version %lld, not %lld: read it again", t->ticket_no,
                    (long long)t->version, (long long)a->expected_version);
    bool assist = a->kind == HOTLINE__ACTION_KIND__ACTION_REPLY && a->role == HL_ROLE_UNIT && a->actor_unit &&
                  strcmp(a->actor_unit, t->unit) != 0 && is_assisting(t, a->actor_unit);
    if (a->role == HL_ROLE_UNIT && !assist && strcmp(a->actor_unit ? a->actor_unit : "", t->unit) != 0)
        return fail(&c, HL_EFORBIDDEN, "ticket %s is not unit %s's", t->ticket_no, a->actor_unit ? a->actor_unit : "");
    uint32_t from = assist ? (ST(DISPATCHED) | ST(SIGNED) | ST(IN_PROGRESS) | ST(EXTENSION_REQUESTED) |
                              ST(RETURN_REQUESTED))
                           : row->from;
    if (!(from & (1u << t->state))) {
        hl_lifecycle_allowed(t->state, a->role, allowed, allowed_len);
        return fail(&c, HL_ECONFLICT, "ticket %s is %s: '%s' is not allowed (allowed for %s: %s)", t->ticket_no,
                    hl_state_name(t->state), hl_action_name(a->kind), hl_role_name(a->role),
                    allowed && *allowed ? allowed : "nothing");
    }
    /* Work on a copy: the ticket changes only when everything succeeded. */
    hl_ticket_t work = *t;
    c.t = &work;
    c.nchain = hl_refdata_region_chain(env->rd, work.region, c.chain);
    if (c.nchain == 0) c.nchain = hl_refdata_region_chain(env->rd, hl_refdata_top_region(env->rd), c.chain);
    c.policy = hl_policy_find(hl_refdata_policy(env->rd), work.type, work.urgency, c.chain, (size_t)c.nchain);
    c.cal = hl_refdata_calendar(env->rd, c.chain, c.nchain);
    c.to = row->to;
    if (!c.policy) return fail(&c, HL_EINVAL, "no deadline policy for this ticket");
    int rc;
    if (assist) {
        const char *text = hl_act_get(a, "text");
        if (!has_text(text)) return fail(&c, HL_EINVAL, "an assisting reply needs text");
        c.to = work.state;
        tell(&c, "assist_reply", work.unit);
        rc = 0;
    } else {
        rc = row->guard(&c);
    }
    if (rc) return rc;
    if (out->duplicate) return 0;
    /* The first event is this action's; a guard may have added a chained one. */
    if (out->nevents) {
        out->events[1] = out->events[0];
        out->nevents = 2;
    } else {
        out->nevents = 1;
    }
    out->events[0].kind = assist ? "reply" : hl_action_name(a->kind);
    out->events[0].from = t->state;
    out->events[0].to = c.to;
    hl_state_t final = out->nevents == 2 ? out->events[1].to : c.to;
    bool notice = a->kind == HOTLINE__ACTION_KIND__ACTION_NOTIFY;
    out->changed = !assist && !notice;
    work.state = final;
    if (out->changed) work.version++;
    *t = work;
    return 0;
}

void hl_lifecycle_close_child(hl_ticket_t *child, int64_t now, hl_outcome_t *out)
{
    memset(out, 0, sizeof *out);
    out->nevents = 1;
    out->events[0].kind = "close";
    out->events[0].from = child->state;
    out->events[0].to = HOTLINE__STATE__STATE_CLOSED;
    out->changed = true;
    child->state = HOTLINE__STATE__STATE_CLOSED;
    child->closed_at = now;
    child->version++;
}

/* ------------------------------------------------------------- docs */

static void states_of(uint32_t mask, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (int s = 1; s <= HOTLINE__STATE__STATE_WITHDRAWN; s++) {
        if (!(mask & (1u << s))) continue;
        int w = snprintf(out + n, len - n, "%s%s", n ? ", " : "", hl_state_name((hl_state_t)s));
        if (w < 0 || (size_t)w >= len - n) break;
        n += (size_t)w;
    }
}

static void roles_of(int roles, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < 6; i++) {
        if (!(roles & (1 << i))) continue;
        int w = snprintf(out + n, len - n, "%s%s", n ? ", " : "", role_names[i]);
        if (w < 0 || (size_t)w >= len - n) break;
        n += (size_t)w;
    }
}

static const char *target(const row_t *r)
{
    if (r->to) return hl_state_name(r->to);
    switch (r->action) {
    case HOTLINE__ACTION_KIND__ACTION_REJECT_RETURN: return "the state before the return";
    case HOTLINE__ACTION_KIND__ACTION_APPROVE_EXTENSION:
    case HOTLINE__ACTION_KIND__ACTION_REJECT_EXTENSION: return "the state before the request";
    default: return "unchanged";
    }
}

void hl_lifecycle_help(FILE *out, int roles)
{
    for (size_t i = 0; i < NROWS; i++) {
        const row_t *r = &table[i];
        if (roles && !(r->roles & roles)) continue;
        char from[512];
        states_of(r->from, from, sizeof from);
        fprintf(out, "  %-19s %s\n  %-19s   from %s -> %s%s%s\n", hl_action_name(r->action), r->what, "", from,
                target(r), *r->needs ? "; needs " : "", r->needs);
    }
}

void hl_lifecycle_markdown(FILE *out)
{
    fprintf(out, "# The ticket lifecycle\n\n"
                 "Generated from the table in `router/lifecycle.c` (`hotline-office --lifecycle-markdown`);\n"
                 "a test keeps this file in step with it. States and actions are those of\n"
                 "`proto/hotline.proto`; the router refuses any action the table does not allow, naming\n"
                 "the state and what it allows.\n\n"
                 "| action | from | to | who | needs | what |\n| --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < NROWS; i++) {
        const row_t *r = &table[i];
        char from[512], roles[128];
        states_of(r->from, from, sizeof from);
        roles_of(r->roles, roles, sizeof roles);
        fprintf(out, "| `%s` | %s | %s | %s | %s | %s |\n", hl_action_name(r->action), from, target(r), roles,
                *r->needs ? r->needs : "", r->what);
    }
    fprintf(out, "\nAn assisting unit (协办) may `reply` while the ticket is with the lead unit "
                 "(DISPATCHED, RETURN_REQUESTED, SIGNED, IN_PROGRESS, EXTENSION_REQUESTED): the state does not "
                 "change and the reply goes to the lead unit's queue.\n\n"
                 "Every action but `notify` and an assisting reply raises the ticket's version; an action "
                 "with `expected_version` set is refused with a conflict when the ticket has moved on. "
                 "Merged tickets close when their parent closes.\n\n"
                 "Deadline clocks: `sign` and `contact` run from a dispatch; `reply` from receipt, again "
                 "from a re-dispatch after an approved return and from a reopen; `callback` from the "
                 "acceptance of the reply. An approved extension adds its days to the reply deadline. "
                 "Notices per clock and deadline, in order and each at most once: warning (yellow), "
                 "reminder (催办), overdue (red), supervision (督办) levels 1, 2, ...\n");
}
