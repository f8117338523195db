/* deadlines.c - the red and yellow lights: GET /api/v1/deadlines.
 *
 *   GET /deadlines?unit=&light=red|yellow|all&limit=
 *       {"now", "red", "yellow", "tickets": [{"ticket", "state", "unit",
 *       "unit_name", "category", "category_name", "title", "clock", "due",
 *       "light", "notice", "supervision", "minutes"}]}
 *
 * Red (红灯): an open ticket with a running deadline past due. Yellow (黄灯):
 * one whose running deadline is not yet due but the watcher has sent its
 * warning or reminder for it (tickets.sla_progress, what hotline-sla sent).
 * A deadline runs as the watcher and the router say (hl_clock_runs); a
 * ticket is listed once, by its most pressing deadline. Red first, the
 * longest overdue first; then yellow, the soonest due first. "red" and
 * "yellow" count all of them; "tickets" holds the first `limit` (100).
 * minutes: how long overdue (red) or left (yellow). Office, supervisor and
 * admin see every unit; a unit sees its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/lifecycle.h"
#include "hotline/store.h"

#include "gateway.h"

enum { LIGHT_RED = 1, LIGHT_YELLOW = 2 };

typedef struct {
    char unit[40];
    int lights;               /* LIGHT_* wanted */
    long limit;
    json_t *out;
    bool unreachable;
} deadlines_t;

typedef struct {
    int row;
    int light;
    hl_clock_t clock;
    int64_t due;
    int notice;               /* the stage sent: 1 warning, 2 reminder, 3 overdue, 4.. supervision */
} lit_t;

static int by_urgency(const void *a, const void *b)
{
    const lit_t *x = a, *y = b;
    if (x->light != y->light) return x->light - y->light;
    return x->due < y->due ? -1 : x->due > y->due;
}

static const char *notice_name(int stage)
{
    switch (stage) {
    case 0: return NULL;
    case 1: return "warning";
    case 2: return "reminder";
    case 3: return "overdue";
    default: return "supervision";
    }
}

/* The open tickets of the scope (the partial index tickets_unit_open). */
#define OPEN_SQL                                                                                   \
    "SELECT " HL_SQL_TICKET_COLS ", title FROM tickets WHERE " HL_SQL_OPEN_STATES " "               \
    "AND ($1::text IS NULL OR unit = $1) "                                                        \
    "AND (sla_progress <> 0 OR least(sign_due, contact_due, reply_due, callback_due) <= now())"

static void deadlines_work(gw_req_t *r, PGconn *pg)
{
    deadlines_t *job = r->job;
    PGresult *res = NULL;
    lit_t *lit = NULL;
    if (!pg) goto fail;
    const char *p[1] = {*job->unit ? job->unit : NULL};
    res = gw_pg_rows(pg, "deadlines", OPEN_SQL, 1, p);
    if (!res) goto fail;
    int64_t now = hl_now_ms();
    int rows = PQntuples(res);
    size_t n = 0, red = 0, yellow = 0;
    lit = hl_malloc(((size_t)rows + 1) * sizeof *lit);
    for (int i = 0; i < rows; i++) {
        hl_ticket_t t;
        if (hl_store_ticket_read(res, i, 0, &t, NULL) != 0) continue;
        lit_t best = {.row = i};
        for (int c = 0; c < HL_NCLOCKS; c++) {
            if (!hl_clock_runs(&t, (hl_clock_t)c)) continue;
            int sent = (int)(((uint32_t)t.sla_progress >> (8 * c)) & 0xFF);
            int light = t.due[c] <= now ? LIGHT_RED : sent ? LIGHT_YELLOW : 0;
            if (!light) continue;
            if (!best.light || light < best.light || (light == best.light && t.due[c] < best.due)) {
                best.light = light;
                best.clock = (hl_clock_t)c;
                best.due = t.due[c];
                best.notice = sent;
            }
        }
        if (!best.light) continue;
        if (best.light == LIGHT_RED) red++;
        else yellow++;
        if (job->lights & best.light) lit[n++] = best;
    }
    qsort(lit, n, sizeof *lit, by_urgency);
    json_t *list = json_array();
    for (size_t k = 0; k < n && k < (size_t)job->limit; k++) {
        hl_ticket_t t;
        if (hl_store_ticket_read(res, lit[k].row, 0, &t, NULL) != 0) continue;
        const gw_category_t *cat = gw_refs_category(r->refs, t.category);
        char due[40];
        int64_t minutes = (lit[k].light == LIGHT_RED ? now - lit[k].due : lit[k].due - now) / 60000;
        json_t *o = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:i, s:I}", "ticket",
                              t.ticket_no, "state", hl_state_name(t.state), "unit", *t.unit ? t.unit : NULL,
                              "unit_name", *t.unit ? gw_refs_unit_name(r->refs, t.unit) : "", "category", t.category,
                              "category_name", cat ? cat->name : "", "title",
                              PQgetvalue(res, lit[k].row, HL_TICKET_NCOLS), "clock", hl_clock_name(lit[k].clock),
                              "due", gw_time(r->gw, lit[k].due, due), "light",
                              lit[k].light == LIGHT_RED ? "red" : "yellow", "notice", notice_name(lit[k].notice),
                              "supervision", (int)t.supervision, "minutes", (json_int_t)minutes);
        if (o) json_array_append_new(list, o);
    }
    char now_s[40];
    job->out = json_pack("{s:s, s:I, s:I, s:o}", "now", gw_time(r->gw, now, now_s), "red", (json_int_t)red,
                         "yellow", (json_int_t)yellow, "tickets", list);
    goto done;
fail:
    job->unreachable = gw_pg_unavailable(pg);
done:
    hl_free(lit);
    PQclear(res);
}

static void deadlines_finish(gw_req_t *r)
{
    deadlines_t *job = r->job;
    gw_reply_deferred(r, job->out, job->unreachable, "the deadlines");
    hl_free(job);
    r->job = NULL;
}

void gw_deadlines_api(gw_req_t *r)
{
    if (strcmp(r->method, "GET") != 0) {
        gw_not_allowed(r, "GET");
        return;
    }
    if (!gw_authenticate(r, HL_ROLE_OFFICE | HL_ROLE_SUPERVISOR | HL_ROLE_ADMIN | HL_ROLE_UNIT)) return;
    deadlines_t job = {.lights = LIGHT_RED | LIGHT_YELLOW};
    if (!gw_code_arg(r, "unit", job.unit, sizeof job.unit) || !gw_int_arg(r, "limit", 100, 1, 1000, &job.limit) ||
        !gw_unit_scope(r, job.unit, sizeof job.unit, "deadlines"))
        return;
    const char *light = gw_arg(r, "light");
    if (light) {
        if (strcmp(light, "red") == 0) job.lights = LIGHT_RED;
        else if (strcmp(light, "yellow") == 0) job.lights = LIGHT_YELLOW;
        else if (strcmp(light, "all") != 0) {
            gw_reply_error(r, 400, "invalid", "'light' is red (overdue), yellow (warned) or all (the default)");
            return;
        }
    }
    deadlines_t *j = hl_malloc(sizeof *j);
    *j = job;
    r->job = j;
    gw_defer(r, deadlines_work, deadlines_finish);
}
