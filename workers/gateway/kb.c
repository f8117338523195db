/* kb.c - the knowledge base in the gateway.
 *
 * The index of what may be served (published entries; validity is checked
 * per search) lives in memory: the PostgreSQL thread loads it whole at
 * start and after a reconnect, and on NOTIFY hotline_kb (one per changed
 * entry, from a trigger) re-reads only the entries named. Searches hold the
 * read lock; changes take the write lock for one put or remove.
 *
 * The API (under /api/v1):
 *   GET  /kb/search?q=&category=&limit=  best published entries valid now (every role)
 *   POST /kb                             a new draft (office, admin; a unit for itself)
 *   GET  /kb/{id}, GET /kb/{id}/history  an entry as it is now / every version (every role)
 *   PUT  /kb/{id}                        new content, {"version": the one edited, ...}; the
 *                                        fields sent replace the entry's, except that the
 *                                        owner stays when "unit" is not sent
 *   POST /kb/{id}/publish                {"version"} (office, admin)
 *   POST /kb/{id}/retire                 {"version"} (office, admin, the owning unit)
 *   POST /kb {"from_ticket"[, "title"]}  a draft from a ticket's accepted reply (office,
 *                                        admin, the ticket's unit)
 *   GET  /kb/reports/effectiveness?from=&to=&unit=&category=&limit=
 *                                        uses and outcomes per entry and per category,
 *                                        with flags (office, supervisor, admin; a unit:
 *                                        its own entries)
 *   GET  /kb/reports/gaps?days=&unit=&category=&limit=
 *                                        clusters of unanswered consultations (same roles;
 *                                        a unit: the gaps it owns)
 * Edits go straight to PostgreSQL on the loop's own connection (they are rare
 * and are not ticket state, which only the router changes); the version the
 * editor saw must still be the current one, or the answer is 409.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/kbeffect.h"
#include "hotline/kbgaps.h"
#include "hotline/kbstore.h"
#include "hotline/store.h"
#include "hotline/utf8.h"

#include "gateway.h"

#define KB_LIMIT_MAX 50
#define KB_REFRESH_MAX 256 /* more changed entries than this at once: load all */

struct gw_kb {
    pthread_rwlock_t lock;
    hl_kbindex_t *ix;
};

gw_kb_t *gw_kb_new(void)
{
    gw_kb_t *kb = hl_calloc(1, sizeof *kb);
    pthread_rwlock_init(&kb->lock, NULL);
    kb->ix = hl_kbindex_new();
    return kb;
}

void gw_kb_free(gw_kb_t **self_p)
{
    gw_kb_t *kb = *self_p;
    if (!kb) return;
    hl_kbindex_free(&kb->ix);
    pthread_rwlock_destroy(&kb->lock);
    hl_free(kb);
    *self_p = NULL;
}

/* ------------------------------------------------------------ loading */

int gw_kb_load(gw_kb_t *kb, PGconn *pg, char err[HL_ERR_LEN])
{
    int64_t t0 = hl_mono_us();
    PGresult *res = hl_kbstore_query(pg, NULL, 0, err);
    if (!res) return HL_EIO;
    hl_kbindex_t *fresh = hl_kbindex_new();
    size_t skipped = hl_kbstore_apply(fresh, res);
    PQclear(res);
    pthread_rwlock_wrlock(&kb->lock);
    hl_kbindex_t *old = kb->ix;
    kb->ix = fresh;
    pthread_rwlock_unlock(&kb->lock);
    hl_kbindex_free(&old);
    hl_info("knowledge base loaded: %zu entries in %.2f s%s", hl_kbindex_count(fresh),
            (double)(hl_mono_us() - t0) / 1e6, skipped ? " (some skipped: not UTF-8)" : "");
    return 0;
}

int gw_kb_refresh(gw_kb_t *kb, PGconn *pg, const int64_t *ids, size_t n, char err[HL_ERR_LEN])
{
    if (n > KB_REFRESH_MAX) return gw_kb_load(kb, pg, err);
    PGresult *res = hl_kbstore_query(pg, ids, n, err);
    if (!res) return HL_EIO;
    pthread_rwlock_wrlock(&kb->lock);
    hl_kbstore_apply(kb->ix, res);
    pthread_rwlock_unlock(&kb->lock);
    PQclear(res);
    return 0;
}

/* ------------------------------------------------------------ search */

void gw_kb_suggest(gw_req_t *r, hl_jw_t *w, const char *q, size_t qlen, const char *category, size_t limit,
                   float min_score, bool answers)
{
    gw_kb_t *kb = r->gw->kb;
    hl_kb_hit_t hits[KB_LIMIT_MAX];
    if (limit > KB_LIMIT_MAX) limit = KB_LIMIT_MAX;
    hl_jw_array(w);
    pthread_rwlock_rdlock(&kb->lock);
    size_t n = hl_kbindex_search(kb->ix, gw_loop_kbscratch(r->loop), q, qlen, category, hl_now_ms(), min_score, hits,
                                 limit);
    for (size_t i = 0; i < n; i++) {
        hl_jw_object(w);
        hl_jw_key(w, "id");
        hl_jw_int(w, hits[i].id);
        hl_jw_key(w, "version");
        hl_jw_int(w, hits[i].version);
        hl_jw_key(w, "title");
        hl_jw_str(w, hits[i].title);
        hl_jw_key(w, "score");
        hl_jw_real(w, (double)((int)(hits[i].score * 1000 + 0.5f)) / 1000);
        if (answers) {
            hl_jw_key(w, "answer");
            hl_jw_str(w, hits[i].answer);
        }
        hl_jw_key(w, "category");
        hl_jw_str_or_null(w, hits[i].category);
        hl_jw_end(w);
    }
    pthread_rwlock_unlock(&kb->lock);
    hl_jw_end(w);
}

static void search(gw_req_t *r)
{
    if (!gw_authenticate(r, GW_ROLES_ALL)) return;
    const char *q = gw_arg(r, "q"), *cat = gw_arg(r, "category");
    if (!q || !*q) {
        gw_reply_error(r, 400, "invalid", "'q' (the question) is required");
        return;
    }
    size_t qlen = strlen(q);
    if (qlen > 4096) {
        gw_reply_error(r, 413, "too_large", "'q' is over 4096 bytes");
        return;
    }
    if (!hl_utf8_valid(q, qlen) || (cat && !hl_utf8_valid(cat, strlen(cat)))) {
        gw_reply_error(r, 400, "invalid", "'q' and 'category' must be UTF-8 text");
        return;
    }
    long limit;
    if (!gw_int_arg(r, "limit", 5, 1, KB_LIMIT_MAX, &limit)) return;
    if (cat && strlen(cat) > 63) {
        gw_reply_error(r, 400, "invalid", "'category' is not a category code");
        return;
    }
    hl_buf_t out = HL_BUF_INIT;
    hl_jw_t w;
    hl_jw_init(&w, &out);
    hl_jw_object(&w);
    hl_jw_key(&w, "results");
    gw_kb_suggest(r, &w, q, qlen, cat, (size_t)limit, 0.0f, true);
    hl_jw_end(&w);
    gw_reply_jw(r, 200, &out);
}

/* ------------------------------------------------------------ reads */

static json_t *time_or_null(gw_req_t *r, PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) return json_null();
    char buf[40];
    return json_string(gw_time(r->gw, atoll(PQgetvalue(res, row, col)), buf));
}

static json_t *text_or_null(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

#define SHOW_COLUMNS                                                                                          \
    "id, version, status, title, array_to_json(variants)::text, answer, legal_basis, category, unit, "        \
    "(extract(epoch FROM valid_from) * 1000)::bigint, (extract(epoch FROM valid_to) * 1000)::bigint, "        \
    "review_at::text, (extract(epoch FROM %s) * 1000)::bigint, %s, change"

/* One row of SHOW_COLUMNS as JSON. */
static json_t *entry_json(gw_req_t *r, PGresult *res, int i, const char *when, const char *who)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(atoll(PQgetvalue(res, i, 0))));
    json_object_set_new(o, "version", json_integer(atoi(PQgetvalue(res, i, 1))));
    json_object_set_new(o, "status", json_string(PQgetvalue(res, i, 2)));
    json_object_set_new(o, "title", json_string(PQgetvalue(res, i, 3)));
    json_t *v = json_loads(PQgetvalue(res, i, 4), 0, NULL);
    json_object_set_new(o, "variants", v ? v : json_array());
    json_object_set_new(o, "answer", json_string(PQgetvalue(res, i, 5)));
    json_object_set_new(o, "legal_basis", json_string(PQgetvalue(res, i, 6)));
    json_object_set_new(o, "category", text_or_null(res, i, 7));
    json_object_set_new(o, "unit", text_or_null(res, i, 8));
    json_object_set_new(o, "valid_from", time_or_null(r, res, i, 9));
    json_object_set_new(o, "valid_to", time_or_null(r, res, i, 10));
    json_object_set_new(o, "review_at", text_or_null(res, i, 11));
    json_object_set_new(o, when, time_or_null(r, res, i, 12));
    json_object_set_new(o, who, json_string(PQgetvalue(res, i, 13)));
    json_object_set_new(o, "change", json_string(PQgetvalue(res, i, 14)));
    return o;
}

static void unavailable(gw_req_t *r)
{
    gw_reply_error(r, 503, "unavailable", "the knowledge base cannot be reached; try again");
    gw_add_header(r, "Retry-After", "1");
}

static PGconn *pg_of(gw_req_t *r)
{
    char err[HL_ERR_LEN];
    PGconn *pg = gw_loop_pg(r->loop, err);
    if (!pg) {
        unavailable(r);
    }
    return pg;
}

/* A query with text parameters; NULL: answered (503 or 500). */
static PGresult *query(gw_req_t *r, PGconn *pg, const char *sql, int n, const char *const *p)
{
    PGresult *res = PQexecParams(pg, sql, n, NULL, p, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) return res;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state && (strcmp(state, "23503") == 0)) {
        gw_reply_error(r, 400, "invalid", "unknown category or unit");
    } else if (state && (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0)) {
        gw_reply_error(r, 400, "invalid", "the entry breaks a rule: %.200s", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
    } else if (PQstatus(pg) != CONNECTION_OK) {
        unavailable(r);
    } else {
        hl_error("knowledge base: %s", PQresultErrorMessage(res));
        gw_reply_error(r, 500, "internal", "the knowledge base could not do this");
    }
    PQclear(res);
    return NULL;
}

/* The rows of sql ($1: the entry id), read by any role; NULL: answered (404
 * when there are none). */
static PGresult *entry_rows(gw_req_t *r, const char *sql, const char *id)
{
    if (!gw_authenticate(r, GW_ROLES_ALL)) return NULL;
    PGconn *pg = pg_of(r);
    if (!pg) return NULL;
    const char *p[1] = {id};
    PGresult *res = query(r, pg, sql, 1, p);
    if (res && PQntuples(res) == 0) {
        gw_reply_error(r, 404, "not_found", "no knowledge-base entry %s", id);
        PQclear(res);
        res = NULL;
    }
    return res;
}

static void show(gw_req_t *r, const char *id)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT " SHOW_COLUMNS ", source_ticket FROM kb_entries WHERE id = $1", "updated_at",
             "updated_by");
    PGresult *res = entry_rows(r, sql, id);
    if (!res) return;
    json_t *o = entry_json(r, res, 0, "updated_at", "updated_by");
    json_object_set_new(o, "source_ticket", text_or_null(res, 0, 15));
    gw_reply_json(r, 200, o);
    PQclear(res);
}

static void history(gw_req_t *r, const char *id)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT " SHOW_COLUMNS " FROM (SELECT entry_id AS id, * FROM kb_versions WHERE entry_id = $1) v "
             "ORDER BY version",
             "changed_at", "changed_by");
    PGresult *res = entry_rows(r, sql, id);
    if (!res) return;
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(res); i++) json_array_append_new(a, entry_json(r, res, i, "changed_at", "changed_by"));
    gw_reply_json(r, 200, json_pack("{s:I, s:o}", "id", (json_int_t)atoll(id), "versions", a));
    PQclear(res);
}

/* ------------------------------------------------------------ edits */

static void who(gw_req_t *r, char out[96])
{
    snprintf(out, 96, "%s:%s#%lld", hl_role_name(r->tok.role), *r->tok.name ? r->tok.name : "token",
             (long long)r->tok.id);
}

typedef struct {
    const char *title, *answer, *legal, *category, *unit, *review;
    char variants[8192];   /* a JSON array of strings */
    char from[24], to[24]; /* epoch ms or "" */
} fields_t;

static bool is_date(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return false;
    return true;
}

/* The editable fields of a body. False: answered. */
static bool fields_of(gw_req_t *r, const hl_jv_t *o, fields_t *f)
{
    static const char *const allowed[] = {"title", "variants", "answer", "legal_basis", "category", "unit",
                                          "valid_from", "valid_to", "review_at", "version", NULL};
    const char *from, *to;
    memset(f, 0, sizeof *f);
    if (!gw_only(r, o, allowed, "the entry") || !gw_get_str(r, o, "title", 512 * 4, &f->title) ||
        !gw_get_str(r, o, "answer", 20000 * 4, &f->answer) || !gw_get_str(r, o, "legal_basis", 4000 * 4, &f->legal) ||
        !gw_get_str(r, o, "category", 63, &f->category) || !gw_get_str(r, o, "unit", 32, &f->unit) ||
        !gw_get_str(r, o, "valid_from", 40, &from) || !gw_get_str(r, o, "valid_to", 40, &to) ||
        !gw_get_str(r, o, "review_at", 10, &f->review))
        return false;
    if (!f->title || !*f->title || !f->answer || !*f->answer) {
        gw_reply_error(r, 400, "invalid", "'title' (the question) and 'answer' are required");
        return false;
    }
    if (f->review && !is_date(f->review)) {
        gw_reply_error(r, 400, "invalid", "'review_at' must be a date (YYYY-MM-DD)");
        return false;
    }
    const char *times[2] = {from, to};
    char *outs[2] = {f->from, f->to};
    for (int i = 0; i < 2; i++) {
        int64_t ms;
        if (!times[i]) continue;
        if (gw_parse_time(r->gw, times[i], &ms) != 0) {
            gw_reply_error(r, 400, "invalid", "'%s' must be an ISO 8601 time with its offset, or a date",
                           i ? "valid_to" : "valid_from");
            return false;
        }
        snprintf(outs[i], 24, "%lld", (long long)ms);
    }
    const hl_jv_t *v = hl_json_get(o, "variants");
    hl_buf_t b = HL_BUF_INIT;
    hl_buf_putc(&b, '[');
    if (!gw_absent(v)) {
        if (v->type != HL_JSON_ARRAY || v->n > 50) {
            hl_buf_free(&b);
            gw_reply_error(r, 400, "invalid", "'variants' must be a list of up to 50 strings");
            return false;
        }
        const hl_jv_t *it = v + 1;
        for (uint32_t i = 0; i < v->n; i++, it += it->span) {
            if (it->type != HL_JSON_STRING || it->n == 0 || it->n > 512 * 4 || memchr(it->str, '\n', it->n)) {
                hl_buf_free(&b);
                gw_reply_error(r, 400, "invalid", "each variant must be a one-line string of up to 512 characters");
                return false;
            }
            json_t *s = json_stringn(it->str, it->n);
            char *d = json_dumps(s, JSON_ENCODE_ANY);
            if (i) hl_buf_putc(&b, ',');
            hl_buf_puts(&b, d);
            free(d);
            json_decref(s);
        }
    }
    hl_buf_putc(&b, ']');
    bool ok = b.len < sizeof f->variants;
    if (ok) memcpy(f->variants, b.data, b.len + 1);
    hl_buf_free(&b);
    if (!ok) gw_reply_error(r, 413, "too_large", "'variants' are too long together");
    return ok;
}

/* The entry's current version, owner and status; false: answered (404/403). */
static bool current(gw_req_t *r, PGconn *pg, const char *id, int *version, char unit[64], char status[16])
{
    const char *p[1] = {id};
    PGresult *res = query(r, pg, "SELECT version, coalesce(unit, ''), status FROM kb_entries WHERE id = $1", 1, p);
    if (!res) return false;
    if (PQntuples(res) == 0) {
        PQclear(res);
        gw_reply_error(r, 404, "not_found", "no knowledge-base entry %s", id);
        return false;
    }
    *version = atoi(PQgetvalue(res, 0, 0));
    snprintf(unit, 64, "%s", PQgetvalue(res, 0, 1));
    snprintf(status, 16, "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    return true;
}

/* The "version" the editor saw. False: answered. */
static bool expected_version(gw_req_t *r, const hl_jv_t *o, char out[16])
{
    const hl_jv_t *v = hl_json_get(o, "version");
    if (gw_absent(v) || v->type != HL_JSON_INT || v->i < 1 || v->i > INT32_MAX) {
        gw_reply_error(r, 400, "invalid", "'version' (the version you edited) is required: a positive whole number");
        return false;
    }
    snprintf(out, 16, "%lld", (long long)v->i);
    return true;
}

static void answer_entry(gw_req_t *r, PGresult *res, int status)
{
    json_t *o = json_pack("{s:I, s:i, s:s}", "id", (json_int_t)atoll(PQgetvalue(res, 0, 0)), "version",
                          atoi(PQgetvalue(res, 0, 1)), "status", PQgetvalue(res, 0, 2));
    char loc[64];
    snprintf(loc, sizeof loc, "/api/v1/kb/%s", PQgetvalue(res, 0, 0));
    gw_reply_json(r, status, o);
    gw_add_header(r, "Location", loc);
}

/* The answer to an UPDATE ... WHERE version = expected RETURNING (res may be
 * NULL: answered already): no row means someone else changed it first; the
 * version is read again for the message (the one read before the UPDATE may
 * be the one both editors saw). */
static void answer_edit(gw_req_t *r, PGconn *pg, PGresult *res, const char *id)
{
    if (!res) return;
    if (PQntuples(res) > 0) {
        answer_entry(r, res, 200);
    } else {
        int now;
        char unit[64], status[16];
        if (current(r, pg, id, &now, unit, status))
            gw_reply_error(r, 409, "conflict", "entry %s changed meanwhile (now version %d); reload it", id, now);
    }
    PQclear(res);
}

/* A draft from a ticket's accepted reply (the last reply the office accepted):
 * the ticket's title (or the head of its text) as the question, the reply as
 * the answer, the ticket's category and the replying unit as owner. */
static void draft_from_reply(gw_req_t *r, const hl_jv_t *o)
{
    static const char *const allowed[] = {"from_ticket", "title", NULL};
    const char *no, *title;
    if (!gw_only(r, o, allowed, "a draft from a reply") || !gw_get_str(r, o, "from_ticket", 32, &no) ||
        !gw_get_str(r, o, "title", 512 * 4, &title))
        return;
    int64_t id, day;
    if (!no || hl_ticket_no_parse(no, &id, &day) != 0) {
        gw_reply_error(r, 400, "invalid", "'from_ticket' must be a ticket number");
        return;
    }
    PGconn *pg = pg_of(r);
    if (!pg) return;
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *p[1] = {ids};
    PGresult *res = query(r, pg,
                          "SELECT coalesce(nullif(t.title, ''), left(t.body, 60)), t.category, coalesce(t.unit, ''), "
                          "rp.payload->>'text', coalesce(rp.actor_unit, t.unit), t.ticket_no FROM tickets t "
                          "LEFT JOIN LATERAL (SELECT e.payload, e.actor_unit FROM ticket_events e "
                          "WHERE e.ticket_id = t.id AND e.kind = 'reply' AND EXISTS (SELECT 1 FROM ticket_events a "
                          "WHERE a.ticket_id = t.id AND a.kind = 'review_accept' AND a.seq > e.seq) "
                          "ORDER BY e.seq DESC LIMIT 1) rp ON true WHERE t.id = $1::bigint",
                          1, p);
    if (!res) return;
    if (PQntuples(res) == 0) {
        gw_reply_error(r, 404, "not_found", "no ticket %s", no);
    } else if (r->tok.role == HL_ROLE_UNIT && strcmp(PQgetvalue(res, 0, 2), r->tok.unit) != 0) {
        gw_reply_error(r, 403, "forbidden", "a unit drafts entries from its own tickets only");
    } else if (PQgetisnull(res, 0, 3) || !*PQgetvalue(res, 0, 3)) {
        gw_reply_error(r, 409, "conflict", "ticket %s has no accepted reply yet", no);
    } else {
        char by[96];
        who(r, by);
        const char *q[6] = {title && *title ? title : PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 3),
                            PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5), by};
        PGresult *ins = query(r, pg,
                              "INSERT INTO kb_entries (title, answer, category, unit, source_ticket, updated_by, change) "
                              "VALUES ($1, $2, $3, nullif($4, ''), $5, $6, 'create') RETURNING id, version, status",
                              6, q);
        if (ins) {
            answer_entry(r, ins, 201);
            PQclear(ins);
        }
    }
    PQclear(res);
}

static void create(gw_req_t *r)
{
    if (!gw_authenticate(r, HL_ROLE_OFFICE | HL_ROLE_ADMIN | HL_ROLE_UNIT)) return;
    const hl_jv_t *o = gw_body_object(r);
    fields_t f;
    if (o && !gw_absent(hl_json_get(o, "from_ticket"))) {
        draft_from_reply(r, o);
        return;
    }
    if (!o || !fields_of(r, o, &f)) return;
    if (r->tok.role == HL_ROLE_UNIT) {
        if (f.unit && strcmp(f.unit, r->tok.unit) != 0) {
            gw_reply_error(r, 403, "forbidden", "a unit writes entries for itself only");
            return;
        }
        f.unit = r->tok.unit;
    }
    PGconn *pg = pg_of(r);
    if (!pg) return;
    char by[96];
    who(r, by);
    const char *p[11] = {f.title,    f.variants, f.answer, f.legal ? f.legal : "", f.category, f.unit, *f.from ? f.from : NULL,
                         *f.to ? f.to : NULL, f.review, by, NULL};
    PGresult *res = query(r, pg,
                          "INSERT INTO kb_entries (title, variants, answer, legal_basis, category, unit, valid_from, "
                          "valid_to, review_at, updated_by, change) VALUES ($1, ARRAY(SELECT json_array_elements_text($2::json)), "
                          "$3, $4, $5, $6, to_timestamp($7::bigint / 1000.0), to_timestamp($8::bigint / 1000.0), $9::date, $10, "
                          "'create') RETURNING id, version, status",
                          10, p);
    if (!res) return;
    answer_entry(r, res, 201);
    PQclear(res);
}

static void update(gw_req_t *r, const char *id)
{
    if (!gw_authenticate(r, HL_ROLE_OFFICE | HL_ROLE_ADMIN | HL_ROLE_UNIT)) return;
    const hl_jv_t *o = gw_body_object(r);
    fields_t f;
    char ver[16], unit[64], status[16];
    int now;
    if (!o || !fields_of(r, o, &f) || !expected_version(r, o, ver)) return;
    PGconn *pg = pg_of(r);
    if (!pg || !current(r, pg, id, &now, unit, status)) return;
    if (r->tok.role == HL_ROLE_UNIT && (strcmp(unit, r->tok.unit) != 0 || (f.unit && strcmp(f.unit, r->tok.unit) != 0))) {
        gw_reply_error(r, 403, "forbidden", "a unit edits its own entries only");
        return;
    }
    if (strcmp(status, "retired") == 0) {
        gw_reply_error(r, 409, "conflict", "entry %s is retired; write a new one", id);
        return;
    }
    char by[96];
    who(r, by);
    const char *p[12] = {id, ver, f.title, f.variants, f.answer, f.legal ? f.legal : "", f.category,
                         r->tok.role == HL_ROLE_UNIT ? r->tok.unit : f.unit, *f.from ? f.from : NULL,
                         *f.to ? f.to : NULL, f.review, by};
    PGresult *res = query(r, pg,
                          "UPDATE kb_entries SET version = version + 1, title = $3, "
                          "variants = ARRAY(SELECT json_array_elements_text($4::json)), answer = $5, legal_basis = $6, "
                          "category = $7, unit = coalesce($8, unit), valid_from = to_timestamp($9::bigint / 1000.0), "
                          "valid_to = to_timestamp($10::bigint / 1000.0), review_at = $11::date, updated_at = now(), "
                          "updated_by = $12, change = 'update' WHERE id = $1 AND version = $2 RETURNING id, version, status",
                          12, p);
    answer_edit(r, pg, res, id);
}

static void set_status(gw_req_t *r, const char *id, bool publish)
{
    int roles = publish ? HL_ROLE_OFFICE | HL_ROLE_ADMIN : HL_ROLE_OFFICE | HL_ROLE_ADMIN | HL_ROLE_UNIT;
    if (!gw_authenticate(r, roles)) return;
    const hl_jv_t *o = gw_body_object(r);
    static const char *const allowed[] = {"version", NULL};
    char ver[16], unit[64], status[16];
    int now;
    if (!o || !gw_only(r, o, allowed, "the request") || !expected_version(r, o, ver)) return;
    PGconn *pg = pg_of(r);
    if (!pg || !current(r, pg, id, &now, unit, status)) return;
    if (r->tok.role == HL_ROLE_UNIT && strcmp(unit, r->tok.unit) != 0) {
        gw_reply_error(r, 403, "forbidden", "a unit retires its own entries only");
        return;
    }
    const char *to = publish ? "published" : "retired";
    if (strcmp(status, to) == 0) {
        gw_reply_error(r, 409, "conflict", "entry %s is %s already", id, to);
        return;
    }
    char by[96];
    who(r, by);
    const char *p[4] = {id, ver, to, by};
    PGresult *res = query(r, pg, HL_KBSTORE_SET_STATUS, 4, p);
    answer_edit(r, pg, res, id);
}

/* ------------------------------------------------------------ reports */

static json_t *rate_json(double v)
{
    return v < 0 ? json_null() : json_real((double)(int64_t)(v * 10000 + 0.5) / 10000);
}

static json_t *counts_json(json_t *o, const hl_kbeffect_t *e)
{
    const int64_t *f = &e->uses;
    for (int i = 0; i < HL_KBEFFECT_NCOUNTS; i++) json_object_set_new(o, hl_kbeffect_names[i], json_integer(f[i]));
    json_object_set_new(o, "repeat_rate", rate_json(hl_kbeffect_repeat_rate(e)));
    json_object_set_new(o, "satisfaction_rate", rate_json(hl_kbeffect_satisfaction(e)));
    return o;
}

#define REPORT_ROLES (HL_ROLE_OFFICE | HL_ROLE_SUPERVISOR | HL_ROLE_ADMIN | HL_ROLE_UNIT)

/* A report's arguments and answer, between the loop and the work thread. */
typedef struct {
    char unit[33], category[64];
    int64_t from, to;
    long limit, days;
    json_t *out;         /* the answer; NULL: failed */
    bool unreachable;    /* PostgreSQL could not be reached (503), else 500 */
} report_t;

static void report_finish(gw_req_t *r)
{
    report_t *job = r->job;
    gw_reply_deferred(r, job->out, job->unreachable, "the knowledge-base report");
    hl_free(job);
    r->job = NULL;
}

/* The request's report arguments into a new job (r->job); NULL: answered.
 * Effectiveness takes a period (default the last 30 days), gaps a number
 * of days. */
static report_t *report_job(gw_req_t *r, bool period)
{
    report_t job = {0};
    if (!gw_code_arg(r, "unit", job.unit, sizeof job.unit) ||
        !gw_code_arg(r, "category", job.category, sizeof job.category) ||
        !gw_unit_scope(r, job.unit, sizeof job.unit, "knowledge-base reports"))
        return NULL;
    if (period) {
        if (!gw_period_args(r, &job.from, &job.to) || !gw_int_arg(r, "limit", 200, 1, 5000, &job.limit))
            return NULL;
    } else if (!gw_int_arg(r, "days", r->gw->conf.kb_gap_days, 1, 366, &job.days) ||
               !gw_int_arg(r, "limit", 20, 1, 500, &job.limit)) {
        return NULL;
    }
    report_t *j = hl_malloc(sizeof *j);
    *j = job;
    r->job = j;
    return j;
}

/* A failed report query: why, for report_finish. */
static void report_failed(report_t *job, PGconn *pg, const char *err)
{
    job->unreachable = gw_pg_unavailable(pg);
    gw_pg_failed(pg, err);
}

static void effectiveness_work(gw_req_t *r, PGconn *pg)
{
    report_t *job = r->job;
    hl_kbeffect_rules_t rules;
    hl_kbeffect_rules(&r->gw->conf, &rules);
    char err[HL_ERR_LEN] = "";
    PGresult *res = pg ? hl_kbeffect_query(pg, job->from, job->to, &rules, job->unit, job->category,
                                           (size_t)job->limit, err)
                       : NULL;
    if (!res) {
        report_failed(job, pg, err);
        return;
    }
    json_t *entries = json_array(), *categories = json_array();
    hl_kbeffect_t total = {0};
    for (int i = 0; i < PQntuples(res); i++) {
        hl_kbeffect_t e;
        hl_kbeffect_row(res, i, HL_KBEFFECT_COUNTS_AT, &e);
        if (*PQgetvalue(res, i, 0) == 'c') {
            for (int k = 0; k < HL_KBEFFECT_NCOUNTS; k++) (&total.uses)[k] += (&e.uses)[k];
            json_array_append_new(categories, counts_json(json_pack("{s:s}", "category", PQgetvalue(res, i, 5)), &e));
            continue;
        }
        unsigned flags = hl_kbeffect_judge(&e, &rules) | (*PQgetvalue(res, i, 8) == 't' ? HL_KBFLAG_PAST_REVIEW : 0);
        json_t *fl = json_array();
        if (flags & HL_KBFLAG_REPEATS) json_array_append_new(fl, json_string("failing_repeats"));
        if (flags & HL_KBFLAG_RATINGS) json_array_append_new(fl, json_string("failing_ratings"));
        if (flags & HL_KBFLAG_PAST_REVIEW) json_array_append_new(fl, json_string("past_review"));
        json_t *o = json_pack("{s:I, s:i, s:s, s:s}", "id", (json_int_t)atoll(PQgetvalue(res, i, 1)), "version",
                              atoi(PQgetvalue(res, i, 2)), "status", PQgetvalue(res, i, 3), "title",
                              PQgetvalue(res, i, 4));
        static const char *const names[] = {"category", "unit", "review_at"};
        for (int c = 0; c < 3; c++) {
            const char *v = PQgetvalue(res, i, 5 + c);
            json_object_set_new(o, names[c], *v ? json_string(v) : json_null());
        }
        json_object_set_new(counts_json(o, &e), "flags", fl);
        json_array_append_new(entries, o);
    }
    PQclear(res);
    char f[40], t[40];
    json_t *o = json_pack("{s:s, s:s, s:{s:I, s:I, s:f, s:f}}", "from", gw_time(r->gw, job->from, f), "to",
                          gw_time(r->gw, job->to, t), "rules", "repeat_days", (json_int_t)rules.repeat_days, "min",
                          (json_int_t)rules.min, "repeat_rate", rules.repeat_rate, "satisfaction", rules.satisfaction);
    json_object_set_new(o, "totals", counts_json(json_object(), &total));
    json_object_set_new(o, "categories", categories);
    json_object_set_new(o, "entries", entries);
    job->out = o;
}

static void effectiveness(gw_req_t *r)
{
    if (!gw_authenticate(r, REPORT_ROLES)) return;
    if (report_job(r, true)) gw_defer(r, effectiveness_work, report_finish);
}

static void gaps_work(gw_req_t *r, PGconn *pg)
{
    report_t *job = r->job;
    const gw_t *gw = r->gw;
    char err[HL_ERR_LEN] = "";
    int64_t t0 = hl_mono_us();
    PGresult *res = pg ? hl_kbgaps_query(pg, job->days, (size_t)gw->conf.kb_gap_scan, err) : NULL;
    if (!res) {
        report_failed(job, pg, err);
        return;
    }
    size_t n;
    hl_kbgap_msg_t *msgs = hl_kbgaps_messages(res, &n);
    hl_kbgap_opts_t opts;
    hl_kbgaps_opts(&gw->conf, &opts);
    hl_kbgap_t *found;
    hl_kbscratch_t scratch = {0};
    pthread_rwlock_rdlock(&gw->kb->lock);
    size_t ng = hl_kbgaps_find(gw->kb->ix, &scratch, msgs, n, hl_now_ms(), &opts, &found);
    pthread_rwlock_unlock(&gw->kb->lock);
    hl_kbscratch_free(&scratch);
    json_t *list = json_array();
    for (size_t g = 0; g < ng && json_array_size(list) < (size_t)job->limit; g++) {
        const hl_kbgap_t *gp = &found[g];
        if ((*job->unit && strcmp(gp->unit, job->unit) != 0) || !hl_category_within(gp->category, strlen(gp->category), job->category))
            continue;
        const hl_kbgap_msg_t *head = &msgs[gp->members[0]];
        char a[40], b[40];
        json_t *ex = json_array();
        for (size_t i = 0; i < gp->n && i < 5; i++) {
            const hl_kbgap_msg_t *m = &msgs[gp->members[i]];
            char at[40];
            json_array_append_new(ex, json_pack("{s:s, s:s, s:s}", "ticket", m->ticket_no, "title", m->title, "at",
                                                gw_time(gw, m->created_ms, at)));
        }
        json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:f}", "size", (json_int_t)gp->n, "category",
                              gp->category, "question", *head->title ? head->title : head->text, "first_at",
                              gw_time(gw, msgs[gp->members[gp->n - 1]].created_ms, a), "last_at",
                              gw_time(gw, head->created_ms, b), "unit", gp->unit, "mean_score",
                              (double)(int)(gp->mean_score * 1000 + 0.5f) / 1000);
        if (!*gp->unit) json_object_set_new(o, "unit", json_null());
        json_object_set_new(o, "nearest",
                            gp->best_entry ? json_pack("{s:I, s:f}", "id", (json_int_t)gp->best_entry, "score",
                                                       (double)(int)(gp->best_score * 1000 + 0.5f) / 1000)
                                           : json_null());
        json_object_set_new(o, "examples", ex);
        json_array_append_new(list, o);
    }
    json_t *o = json_pack("{s:i, s:I, s:f, s:f, s:I, s:f}", "days", (int)job->days, "scanned", (json_int_t)n,
                          "score_below", opts.max_score, "similarity", opts.similarity, "min_size",
                          (json_int_t)opts.min_size, "seconds", (double)(hl_mono_us() - t0) / 1e6);
    json_object_set_new(o, "gaps", list);
    hl_kbgaps_free(found, ng);
    hl_free(msgs);
    PQclear(res);
    job->out = o;
}

static void gaps(gw_req_t *r)
{
    if (!gw_authenticate(r, REPORT_ROLES)) return;
    if (report_job(r, false)) gw_defer(r, gaps_work, report_finish);
}

/* ------------------------------------------------------------ citations */

int gw_kb_versions(gw_t *gw, const char *entries, char *out, size_t len)
{
    int rc = 0;
    size_t n = 0;
    out[0] = '\0';
    pthread_rwlock_rdlock(&gw->kb->lock);
    for (const char *p = entries; !rc; p++) {
        char *end;
        long long id = *p >= '1' && *p <= '9' ? strtoll(p, &end, 10) : 0;
        int32_t v = id > 0 && (*end == ',' || !*end) ? hl_kbindex_version(gw->kb->ix, id) : 0;
        int w = v ? snprintf(out + n, len - n, "%s%d", n ? "," : "", v) : -1;
        if (w < 0 || (size_t)w >= len - n) {
            rc = HL_EINVAL;
            break;
        }
        n += (size_t)w;
        if (!*end) break;
        p = end;
    }
    pthread_rwlock_unlock(&gw->kb->lock);
    return rc;
}

/* ------------------------------------------------------------ routes */

void gw_kb_api(gw_req_t *r, const char *path)
{
    bool get = strcmp(r->method, "GET") == 0, post = strcmp(r->method, "POST") == 0,
         put = strcmp(r->method, "PUT") == 0;
    if (strcmp(path, "") == 0) {
        if (post) create(r);
        else gw_not_allowed(r, "POST");
        return;
    }
    if (strcmp(path, "/search") == 0) {
        if (get) search(r);
        else gw_not_allowed(r, "GET");
        return;
    }
    if (strcmp(path, "/reports/effectiveness") == 0 || strcmp(path, "/reports/gaps") == 0) {
        if (!get) gw_not_allowed(r, "GET");
        else if (path[9] == 'e') effectiveness(r);
        else gaps(r);
        return;
    }
    const char *id = path + 1;
    size_t n = strspn(id, "0123456789");
    if (path[0] != '/' || n == 0 || n > 18 || (id[n] != '\0' && id[n] != '/')) {
        gw_reply_error(r, 404, "not_found", "no such resource");
        return;
    }
    char num[24];
    snprintf(num, sizeof num, "%.*s", (int)n, id);
    const char *rest = id + n;
    if (!*rest) {
        if (get) show(r, num);
        else if (put) update(r, num);
        else gw_not_allowed(r, "GET, PUT");
    } else if (strcmp(rest, "/history") == 0) {
        if (get) history(r, num);
        else gw_not_allowed(r, "GET");
    } else if (strcmp(rest, "/publish") == 0 || strcmp(rest, "/retire") == 0) {
        if (post) set_status(r, num, rest[1] == 'p');
        else gw_not_allowed(r, "POST");
    } else {
        gw_reply_error(r, 404, "not_found", "no such resource");
    }
}
