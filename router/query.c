/* query.c - reads of tickets through the router, on its own connection.
 *
 * GET: one ticket and its events. LIST: tickets by unit, state or Open311
 * status, category, creation time, or numbers; newest first. PROGRESS: a
 * requester's own ticket by number and phone tail (no login: nothing
 * personal, no internal reasons). KEY: the ticket an idempotency key made.
 * HEALTH: can the router store. And, for an Intake with dry_run, the plan
 * (category, unit, deadlines) and similar open tickets of the same category
 * and place (a duplicate to merge, 并单), by character-bigram similarity.
 * A unit reads only tickets it leads or assists, and lists only its own.
 * Public answers (Open311) leave out confidential tickets and the requester,
 * mask phone and id numbers in free text, drop the street address and round
 * coordinates to about a kilometre.
 * Personal data leaves masked (mask.h), except after a GET with a
 * reveal_reason by a role that needs it: the office, supervisors, agents and
 * admins, and the lead unit of a ticket that is not confidential. Such a read
 * is written to pii_access_log before the data is sent. A unit never sees the
 * requester of a confidential ticket (保密件), not even masked.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/log.h"
#include "hotline/mask.h"
#include "hotline/similar.h"

#include "router_int.h"

#define VIEW_COLS                                                                                  \
    HL_SQL_TICKET_COLS ", t.channel, t.title, t.body, t.address, t.confidence, t.classifier, "     \
                       "coalesce(p.p_name, ''), coalesce(p.p_phone, ''), coalesce(p.p_id, ''), "   \
                       "coalesce((SELECT ticket_no FROM tickets x WHERE x.id = t.parent_id LIMIT 1), ''), " \
                       "coalesce(t.lat::text, ''), coalesce(t.lon::text, ''), "                     \
                       HL_MS("coalesce(t.updated_at, t.created_at)")
/* The same columns for similar-ticket candidates, without what a preview
 * does not show (requester, parent) and with the first 400 characters of
 * the text: one cheap row each. */
#define SIMILAR_COLS                                                                               \
    HL_SQL_TICKET_COLS ", t.channel, t.title, left(t.body, 400), '', t.confidence, t.classifier, "  \
                       "'', '', '', '', '', '', " HL_MS("coalesce(t.updated_at, t.created_at)")
#define VIEW_EXTRA HL_TICKET_NCOLS
#define SIMILAR_MIN 0.3        /* the least similarity shown */
#define SIMILAR_CANDIDATES 100 /* open tickets compared, newest first */
/* The vault's columns renamed, so the ticket columns stay unambiguous. */
#define PII_JOIN                                                                                   \
    "LEFT JOIN LATERAL (SELECT name AS p_name, phone AS p_phone, id_number AS p_id FROM pii_vault "  \
    "WHERE ticket_id = t.id) p ON true "

typedef struct {
    router_t *r;
    reply_to_t to;
    hl_envelope_t *env;
    const Hotline__Query *q;     /* NULL for a preview */
    int role;
    const char *actor_unit;
    bool reveal;         /* unmasked (and logged) */
    bool public_;        /* published data only */
    bool progress;       /* a requester's progress query */
    bool preview;        /* an Intake's dry run */
    bool warm;           /* no answer: only the candidates read (for waiting intakes) */
    hl_plan_t plan;      /* preview: the plan */
    hl_simsig_t probe;   /* preview: the new text's signature */
    double *scores;      /* preview: a similarity per view */
    hl_simsig_t *sigs;   /* preview: the signature per view (for the cache) */
    char cache_key[96];  /* preview: the candidate set read, to keep */
    int64_t claimed_ms;  /* preview: when that read was claimed */
    Hotline__QueryResult result;
    Hotline__TicketView **views;
    size_t nviews;
    Hotline__Event **events;
    size_t nevents;
    int64_t ticket_id;
    int rc;
    char err[HL_ERR_LEN];
    /* Everything the views point into, freed at the end. */
    char **strings;
    size_t nstrings, capstrings;
    void **blocks;
    size_t nblocks, capblocks;
} query_t;

static char *keep_str(query_t *q, const char *s)
{
    if (q->nstrings == q->capstrings) {
        q->capstrings = q->capstrings ? q->capstrings * 2 : 64;
        q->strings = hl_realloc(q->strings, q->capstrings * sizeof(char *));
    }
    return q->strings[q->nstrings++] = hl_strdup(s);
}

static void *keep_block(query_t *q, size_t size)
{
    if (q->nblocks == q->capblocks) {
        q->capblocks = q->capblocks ? q->capblocks * 2 : 64;
        q->blocks = hl_realloc(q->blocks, q->capblocks * sizeof(void *));
    }
    return q->blocks[q->nblocks++] = hl_calloc(1, size);
}

static void free_query(query_t *q)
{
    for (size_t i = 0; i < q->nstrings; i++) hl_free(q->strings[i]);
    for (size_t i = 0; i < q->nblocks; i++) hl_free(q->blocks[i]);
    hl_free(q->strings);
    hl_free(q->blocks);
    hl_free(q->views);
    hl_free(q->events);
    hl_free(q->scores);
    hl_free(q->sigs);
    hl_envelope_free(&q->env);
    hl_free(q);
}

static Hotline__Status status_of(int rc)
{
    return rc == HL_ENOTFOUND    ? HOTLINE__STATUS__STATUS_NOT_FOUND
           : rc == HL_EFORBIDDEN ? HOTLINE__STATUS__STATUS_FORBIDDEN
           : rc == HL_EAGAIN     ? HOTLINE__STATUS__STATUS_TRY_LATER
           : rc == HL_EIO        ? HOTLINE__STATUS__STATUS_INTERNAL
                                 : HOTLINE__STATUS__STATUS_INVALID;
}

/* The answer to a preview: the plan and the most similar open tickets. */
static void reply_preview(query_t *q)
{
    router_t *r = q->r;
    const hl_plan_t *p = &q->plan;
    Hotline__Ack ack = HOTLINE__ACK__INIT;
    Hotline__Deadlines dl = HOTLINE__DEADLINES__INIT;
    char *assisting[HL_MAX_ASSISTING];
    ack.status = HOTLINE__STATUS__STATUS_OK;
    ack.message = "preview: nothing was stored";
    ack.state = p->state;
    ack.category = (char *)p->category;
    ack.confidence = p->confidence;
    ack.unit = (char *)p->unit;
    for (int i = 0; i < p->nassisting; i++) assisting[i] = (char *)p->assisting[i];
    ack.n_assisting_units = (size_t)p->nassisting;
    ack.assisting_units = assisting;
    dl.sign = p->deadlines.sign;
    dl.contact = p->deadlines.contact;
    dl.reply = p->deadlines.reply;
    ack.deadlines = &dl;
    ack.urgency = p->urgency;
    ack.type = p->type;
    /* The best first (a selection sort over at most SIMILAR_CANDIDATES). */
    Hotline__TicketView *best[HL_SIMILAR_MAX];
    size_t nbest = 0;
    for (size_t k = 0; k < HL_SIMILAR_MAX; k++) {
        size_t top = q->nviews;
        for (size_t i = 0; i < q->nviews; i++)
            if (q->views[i] && q->scores[i] >= SIMILAR_MIN && (top == q->nviews || q->scores[i] > q->scores[top]))
                top = i;
        if (top == q->nviews) break;
        q->views[top]->similarity = (float)q->scores[top];
        best[nbest++] = q->views[top];
        q->views[top] = NULL;
    }
    ack.n_similar = nbest;
    ack.similar = best;
    if (q->rc) {
        /* The plan stands; only the look-up for similar tickets failed. */
        hl_warn("preview: similar tickets not found: %s", q->err);
    }
    (void)hl__router_send(r, &q->to, &ack);
    r->stats.queries++;
    free_query(q);
}

static void reply(query_t *q)
{
    router_t *r = q->r;
    if (q->warm) {
        free_query(q);
        return;
    }
    if (q->preview) {
        reply_preview(q);
        return;
    }
    Hotline__Ack ack = HOTLINE__ACK__INIT;
    if (q->rc) {
        ack.status = status_of(q->rc);
        ack.message = q->err;
        if (q->rc == HL_EAGAIN) ack.retry_after_ms = (uint32_t)r->conf->retry_after_ms;
    } else {
        ack.status = HOTLINE__STATUS__STATUS_OK;
        ack.message = q->reveal ? "unmasked; this read is logged" : "ok";
        hotline__query_result__init(&q->result);
        q->result.n_tickets = q->nviews;
        q->result.tickets = q->views;
        q->result.n_events = q->nevents;
        q->result.events = q->events;
        ack.result = &q->result;
        if (q->nviews == 1) {
            ack.ticket = q->views[0]->ticket;
            ack.state = q->views[0]->state;
            ack.version = q->views[0]->version;
        }
    }
    (void)hl__router_send(r, &q->to, &ack);
    r->stats.queries++;
    free_query(q);
}

static bool unit_on(const hl_ticket_t *t, const char *unit)
{
    if (strcmp(t->unit, unit) == 0) return true;
    for (int i = 0; i < t->nassisting; i++)
        if (strcmp(t->assisting[i], unit) == 0) return true;
    return false;
}

/* After the ticket is read: may this actor see it unmasked? */
static bool reveal_allowed(int role, const hl_ticket_t *t, const char *unit)
{
    if (role == HL_ROLE_UNIT) return !t->confidential && strcmp(t->unit, unit) == 0;
    return role == HL_ROLE_OFFICE || role == HL_ROLE_SUPERVISOR || role == HL_ROLE_AGENT ||
           role == HL_ROLE_ADMIN;
}

static double coarse(double x)
{
    return (double)(long long)(x * 100.0 + (x < 0 ? -0.5 : 0.5)) / 100.0;
}

/* The signature of a title and body as they are compared: the body cut at
 * CANDIDATE_CHARS characters (as the candidates' query reads it), on both
 * sides (max_chars 0: whole). */
#define CANDIDATE_CHARS 400
static void text_sig(hl_simsig_t *sig, const char *title, const char *body, int max_chars)
{
    size_t tl = strlen(title), bl = max_chars ? 0 : strlen(body);
    for (int n = 0; n < max_chars && body[bl]; n++) {
        size_t step = 1;
        while ((body[bl + step] & 0xC0) == 0x80) step++;
        bl += step;
    }
    hl_simsig_of2(sig, title, tl, body, bl);
}

/* Build a view of one row; returns false if the actor may not see it (a GET
 * then sets the reason in q->rc / q->err). */
static bool add_view(query_t *q, const PGresult *res, int row)
{
    hl_ticket_t t;
    if (hl_store_ticket_read(res, row, 0, &t, NULL) != 0) return false;
    const char *actor_unit = q->actor_unit;
    bool get = q->q && q->q->kind == HOTLINE__QUERY_KIND__QUERY_GET;
    if (q->role == HL_ROLE_UNIT && !unit_on(&t, actor_unit)) {
        if (get) {
            q->rc = HL_EFORBIDDEN;
            snprintf(q->err, sizeof q->err, "ticket %s is not unit %s's", t.ticket_no, actor_unit);
        }
        return false;
    }
    if (q->public_ && t.confidential) return false;
    if (q->reveal && !reveal_allowed(q->role, &t, actor_unit)) {
        q->rc = HL_EFORBIDDEN;
        snprintf(q->err, sizeof q->err, "%s may not see the requester of ticket %s unmasked%s",
                 hl_role_name(q->role), t.ticket_no, t.confidential ? " (a confidential ticket)" : "");
        return false;
    }
    /* Free text is masked where it leaves the circle that needs it. */
    bool mask_text = q->public_ || q->progress || (q->role == HL_ROLE_UNIT && t.confidential);
    bool personal = !q->public_ && !q->progress && !(q->role == HL_ROLE_UNIT && t.confidential);
    Hotline__TicketView *v = keep_block(q, sizeof *v);
    hotline__ticket_view__init(v);
    int c = VIEW_EXTRA;
    v->ticket = keep_str(q, t.ticket_no);
    v->state = t.state;
    v->version = t.version;
    hl_channel_t ch = 0;
    if (hl_channel_parse(PQgetvalue(res, row, c), &ch) == 0) v->channel = ch;
    v->type = t.type;
    v->urgency = t.urgency;
    v->category = keep_str(q, t.category);
    v->confidence = strtof(PQgetvalue(res, row, c + 4), NULL);
    v->classifier = keep_str(q, PQgetvalue(res, row, c + 5));
    v->unit = keep_str(q, t.unit);
    v->n_assisting_units = (size_t)t.nassisting;
    v->assisting_units = keep_block(q, sizeof(char *) * (size_t)(t.nassisting + 1));
    for (int i = 0; i < t.nassisting; i++) v->assisting_units[i] = keep_str(q, t.assisting[i]);
    v->n_excluded_units = (size_t)t.nexcluded;
    v->excluded_units = keep_block(q, sizeof(char *) * (size_t)(t.nexcluded + 1));
    for (int i = 0; i < t.nexcluded; i++) v->excluded_units[i] = keep_str(q, t.excluded[i]);
    v->region = keep_str(q, t.region);
    const char *title = PQgetvalue(res, row, c + 1), *body = PQgetvalue(res, row, c + 2);
    if (mask_text) {
        char *mt = hl_mask_text(title), *mb = hl_mask_text(body);
        v->title = keep_str(q, mt ? mt : "");
        v->body = keep_str(q, mb ? mb : "");
        free(mt);
        free(mb);
    } else {
        v->title = keep_str(q, title);
        v->body = keep_str(q, body);
    }
    v->address = keep_str(q, mask_text ? "" : PQgetvalue(res, row, c + 3));
    Hotline__Location *loc = keep_block(q, sizeof *loc);
    hotline__location__init(loc);
    loc->region = v->region;
    loc->address = v->address;
    const char *lat = PQgetvalue(res, row, c + 10), *lon = PQgetvalue(res, row, c + 11);
    if (*lat && *lon) {
        loc->has_coordinates = true;
        loc->lat = strtod(lat, NULL);
        loc->long_ = strtod(lon, NULL);
        if (mask_text) loc->lat = coarse(loc->lat), loc->long_ = coarse(loc->long_);
    }
    v->location = loc;
    v->received_at = t.received_at;
    v->created_at = t.created_at;
    v->updated_at = strtoll(PQgetvalue(res, row, c + 12), NULL, 10);
    v->closed_at = t.closed_at;
    Hotline__Deadlines *dl = keep_block(q, sizeof *dl);
    hotline__deadlines__init(dl);
    dl->sign = t.due[HL_CLOCK_SIGN];
    dl->contact = t.due[HL_CLOCK_CONTACT];
    dl->reply = t.due[HL_CLOCK_REPLY];
    dl->callback = t.due[HL_CLOCK_CALLBACK];
    v->deadlines = dl;
    v->return_count = t.return_count;
    v->reopen_count = t.reopen_count;
    v->extension_count = t.extension_count;
    v->supervision = t.supervision;
    v->binding = t.binding;
    v->parent = keep_str(q, PQgetvalue(res, row, c + 9));
    v->callback_attempts = t.callback_attempts;
    if (*t.resolution || *t.satisfaction) {
        Hotline__Rating *rt = keep_block(q, sizeof *rt);
        hotline__rating__init(rt);
        rt->resolution = keep_str(q, t.resolution);
        rt->satisfaction = keep_str(q, t.satisfaction);
        v->rating = rt;
    }
    int64_t now = hl_now_ms();
    for (int k = 0; k < HL_NCLOCKS; k++)
        if (hl_clock_runs(&t, (hl_clock_t)k) && now > t.due[k]) v->overdue = true;
    /* The requester: masked, revealed, or (published data, a progress
     * query, a unit on a confidential ticket) not at all. */
    Hotline__Requester *rq = keep_block(q, sizeof *rq);
    hotline__requester__init(rq);
    rq->anonymous = t.anonymous;
    rq->confidential = t.confidential;
    if (personal) {
        const char *name = PQgetvalue(res, row, c + 6), *phone = PQgetvalue(res, row, c + 7),
                   *idn = PQgetvalue(res, row, c + 8);
        if (q->reveal) {
            rq->name = keep_str(q, name);
            rq->phone = keep_str(q, phone);
            rq->id_number = keep_str(q, idn);
        } else {
            char m[128];
            hl_mask_name(name, m, sizeof m);
            rq->name = keep_str(q, m);
            hl_mask_phone(phone, m, sizeof m);
            rq->phone = keep_str(q, m);
            hl_mask_id_number(idn, m, sizeof m);
            rq->id_number = keep_str(q, m);
        }
    }
    if (!q->public_) v->requester = rq;
    if (q->preview) {
        /* Similarity of the candidate to the new text. */
        q->sigs = hl_realloc(q->sigs, (q->nviews + 1) * sizeof *q->sigs);
        text_sig(&q->sigs[q->nviews], title, body, CANDIDATE_CHARS);
        q->scores = hl_realloc(q->scores, (q->nviews + 1) * sizeof(double));
        q->scores[q->nviews] = hl_simsig_dice(&q->probe, &q->sigs[q->nviews]);
    }
    q->views = hl_realloc(q->views, (q->nviews + 1) * sizeof *q->views);
    q->views[q->nviews++] = v;
    q->ticket_id = t.id;
    return true;
}

static void add_event(query_t *q, const PGresult *res, int row)
{
    if (q->progress) {
        /* What a requester may know: what happened and when. */
        Hotline__Event *e = keep_block(q, sizeof *e);
        hotline__event__init(e);
        e->ticket = q->views[0]->ticket;
        e->seq = atoi(PQgetvalue(res, row, 0));
        e->at = strtoll(PQgetvalue(res, row, 1), NULL, 10);
        e->kind = keep_str(q, PQgetvalue(res, row, 2));
        hl_state_t st = 0;
        if (hl_state_parse(PQgetvalue(res, row, 3), &st) == 0) e->from_state = st;
        if (hl_state_parse(PQgetvalue(res, row, 4), &st) == 0) e->to_state = st;
        q->events = hl_realloc(q->events, (q->nevents + 1) * sizeof *q->events);
        q->events[q->nevents++] = e;
        return;
    }
    Hotline__Event *e = keep_block(q, sizeof *e);
    hotline__event__init(e);
    Hotline__Actor *a = keep_block(q, sizeof *a);
    hotline__actor__init(a);
    Hotline__Deadlines *dl = keep_block(q, sizeof *dl);
    hotline__deadlines__init(dl);
    e->ticket = q->views[0]->ticket;
    e->seq = atoi(PQgetvalue(res, row, 0));
    e->at = strtoll(PQgetvalue(res, row, 1), NULL, 10);
    e->kind = keep_str(q, PQgetvalue(res, row, 2));
    hl_state_t st = 0;
    if (hl_state_parse(PQgetvalue(res, row, 3), &st) == 0) e->from_state = st;
    if (hl_state_parse(PQgetvalue(res, row, 4), &st) == 0) e->to_state = st;
    a->role = keep_str(q, PQgetvalue(res, row, 5));
    a->unit = keep_str(q, PQgetvalue(res, row, 6));
    a->id = keep_str(q, PQgetvalue(res, row, 7));
    e->actor = a;
    e->reason_code = keep_str(q, PQgetvalue(res, row, 8));
    e->reason = keep_str(q, PQgetvalue(res, row, 9));
    e->unit = keep_str(q, PQgetvalue(res, row, 10));
    dl->sign = strtoll(PQgetvalue(res, row, 11), NULL, 10);
    dl->contact = strtoll(PQgetvalue(res, row, 12), NULL, 10);
    dl->reply = strtoll(PQgetvalue(res, row, 13), NULL, 10);
    dl->callback = strtoll(PQgetvalue(res, row, 14), NULL, 10);
    e->deadlines = dl;
    /* The payload, from its JSON object of strings. */
    json_error_t jerr;
    json_t *o = json_loads(PQgetvalue(res, row, 15), 0, &jerr);
    if (json_is_object(o)) {
        size_t n = json_object_size(o), k = 0;
        e->payload = keep_block(q, sizeof(Hotline__Event__PayloadEntry *) * (n + 1));
        const char *key;
        json_t *val;
        json_object_foreach(o, key, val)
        {
            Hotline__Event__PayloadEntry *pe = keep_block(q, sizeof *pe);
            hotline__event__payload_entry__init(pe);
            pe->key = keep_str(q, key);
            pe->value = keep_str(q, json_is_string(val) ? json_string_value(val) : "");
            e->payload[k++] = pe;
        }
        e->n_payload = k;
    }
    json_decref(o);
    q->events = hl_realloc(q->events, (q->nevents + 1) * sizeof *q->events);
    q->events[q->nevents++] = e;
}

static void get_result(void *arg, int index, const PGresult *res)
{
    query_t *q = arg;
    if (index == 0) {
        if (PQntuples(res) == 1) (void)add_view(q, res, 0);
    } else if (index == 1 && !q->rc && q->nviews) {
        for (int row = 0; row < PQntuples(res); row++) add_event(q, res, row);
    }
}

static void logged_done(void *arg, int rc, const char *msg)
{
    query_t *q = arg;
    if (rc) {
        /* No log, no reveal. */
        q->rc = rc == HL_EAGAIN ? HL_EAGAIN : HL_EIO;
        snprintf(q->err, sizeof q->err, "the access could not be logged, so nothing is revealed: %s",
                 msg ? msg : hl_strerror(rc));
    }
    reply(q);
}

/* A read failed: the server's words go to the log, never to the client. */
static void store_failed(query_t *q, int rc, const char *msg)
{
    q->rc = rc == HL_EAGAIN ? HL_EAGAIN : HL_EIO;
    if (rc == HL_EAGAIN) {
        snprintf(q->err, sizeof q->err, "storage unavailable; retry");
    } else {
        hl_warn("query %d failed: %s", q->q ? (int)q->q->kind : -1, msg ? msg : hl_strerror(rc));
        snprintf(q->err, sizeof q->err, "storage error (logged by the router)");
    }
}

static void get_done(void *arg, int rc, const char *msg)
{
    query_t *q = arg;
    router_t *r = q->r;
    if (rc) {
        store_failed(q, rc, msg);
        reply(q);
        return;
    }
    if (!q->rc && !q->nviews) {
        q->rc = HL_ENOTFOUND;
        snprintf(q->err, sizeof q->err, "ticket %s does not exist", q->q->ticket);
    }
    if (q->rc || !q->reveal) {
        reply(q);
        return;
    }
    /* Log the unmasked read first (who, when, which ticket, why). */
    char id[24], who[160];
    snprintf(id, sizeof id, "%" PRId64, q->ticket_id);
    snprintf(who, sizeof who, "%s%s%s:%s", q->q->actor->role, *q->q->actor->unit ? "/" : "",
             q->q->actor->unit, q->q->actor->id);
    const char *p[] = {who, id, q->q->reveal_reason};
    hl_pg_req_t *req = hl_pg_req_new(NULL, logged_done, q);
    hl_pg_req_query(req,
                    "INSERT INTO pii_access_log (who, ticket_id, fields, why) "
                    "VALUES ($1, $2, '{name,phone,id_number}', $3)",
                    3, p);
    if (hl_pg_submit(r->reader, &req) != 0) {
        hl_pg_req_free(&req);
        logged_done(q, HL_EAGAIN, "storage unavailable");
    }
}

static void list_result(void *arg, int index, const PGresult *res)
{
    (void)index;
    query_t *q = arg;
    for (int row = 0; row < PQntuples(res); row++) (void)add_view(q, res, row);
}

/* The HL_SIMILAR_MAX most similar tickets of a set (at least SIMILAR_MIN, no
 * ticket twice), best first. Returns how many. */
static int top_similar(const hl_simset_t *s, const hl_simsig_t *probe, int best[HL_SIMILAR_MAX],
                       double score[HL_SIMILAR_MAX])
{
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        const hl_simticket_t *t = hl__simset_at(s, i);
        double d = hl_simsig_dice(probe, &t->sig);
        if (d < SIMILAR_MIN || (n == HL_SIMILAR_MAX && d <= score[n - 1])) continue;
        bool dup = false;
        for (int k = 0; k < n && !dup; k++) dup = strcmp(hl__simset_at(s, best[k])->ticket, t->ticket) == 0;
        if (dup) continue;
        int at = n < HL_SIMILAR_MAX ? n++ : n - 1;
        while (at > 0 && score[at - 1] < d) {
            best[at] = best[at - 1];
            score[at] = score[at - 1];
            at--;
        }
        best[at] = i;
        score[at] = d;
    }
    return n;
}

/* An intake's similar tickets from a set. */
static const hl_simsig_t *item_sig(item_t *it);

static void similar_of(item_t *it, const hl_simset_t *s)
{
    int best[HL_SIMILAR_MAX];
    double score[HL_SIMILAR_MAX];
    int n = top_similar(s, item_sig(it), best, score);
    if (!n) return;
    it->sim = hl_calloc((size_t)n, sizeof *it->sim);
    for (int k = 0; k < n; k++) {
        const hl_simticket_t *c = hl__simset_at(s, best[k]);
        hl_simhit_t *h = &it->sim[k];
        snprintf(h->ticket, sizeof h->ticket, "%s", c->ticket);
        snprintf(h->unit, sizeof h->unit, "%s", c->unit);
        h->state = c->state;
        h->title = hl_strdup(c->title);
        h->created_at = c->created_at;
        h->score = (float)score[k];
    }
    it->nsim = n;
}

/* A read of a set's candidates ended: keep them (or not), and let the
 * intakes waiting for them go on. */
static void refreshed(query_t *q, bool ok)
{
    router_t *r = q->r;
    if (!q->cache_key[0]) return;
    if (ok) {
        hl__simcache_reset(r, q->cache_key, hl_now_ms(), q->claimed_ms - 1000);
        for (size_t i = 0; i < q->nviews; i++) {
            const Hotline__TicketView *v = q->views[i];
            hl_simticket_t t = {.state = v->state, .created_at = v->created_at, .sig = q->sigs[i]};
            snprintf(t.ticket, sizeof t.ticket, "%s", v->ticket);
            snprintf(t.unit, sizeof t.unit, "%s", v->unit);
            t.title = hl_strdup(v->title);
            hl__simcache_add(r, q->cache_key, &t, false);
        }
    } else {
        hl__simcache_release(r, q->cache_key);
    }
    hl_simset_t *s = hl__simcache_find(r, q->cache_key);
    item_t *it = s ? s->waiting : NULL;
    if (s) s->waiting = NULL;
    while (it) {
        item_t *next = it->next;
        it->next = NULL;
        if (ok) similar_of(it, s);
        hl__router_push_pending(r, it, false);
        it = next;
    }
    q->cache_key[0] = '\0';
}

static void list_done(void *arg, int rc, const char *msg)
{
    query_t *q = arg;
    if (rc) store_failed(q, rc, msg);
    if (q->preview) refreshed(q, rc == 0);
    reply(q);
}

#define OPEN_STATES                                                                                \
    "('ACCEPTED','PENDING_DISPATCH','DISPATCHED','RETURN_REQUESTED','SIGNED','IN_PROGRESS',"       \
    "'EXTENSION_REQUESTED','REPLIED','CALLBACK')"
/* Open311's "open": every state before the end (DOMAIN.md (e): 1-14). */
#define OPEN311_OPEN                                                                               \
    "('DRAFT','ACCEPTED','PENDING_DISPATCH','DISPATCHED','RETURN_REQUESTED','SIGNED',"             \
    "'IN_PROGRESS','EXTENSION_REQUESTED','REPLIED','CALLBACK')"
#define EVENTS_SQL                                                                                 \
    "SELECT seq, " HL_MS("at") ", kind, coalesce(from_state, ''), to_state, actor_role, "          \
    "coalesce(actor_unit, ''), coalesce(actor_id, ''), coalesce(reason_code, ''), "                \
    "coalesce(reason, ''), coalesce(unit, ''), " HL_MS("sign_due") ", " HL_MS("contact_due")       \
    ", " HL_MS("reply_due") ", " HL_MS("callback_due") ", coalesce(payload::text, '{}') "          \
    "FROM ticket_events WHERE ticket_id = $1 AND at >= $2"

static void fail_q(query_t *q, int rc, const char *fmt, ...) HL_PRINTF(3, 4);
static void fail_q(query_t *q, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->err, sizeof q->err, fmt, ap);
    va_end(ap);
    q->rc = rc;
}

static void day_range(router_t *r, int64_t day, char lo[HL_ISO8601_LEN], char hi[HL_ISO8601_LEN])
{
    int off = (int)r->conf->utc_offset_min;
    hl_iso8601(hl_day_start(day - 1, off), 0, lo);
    hl_iso8601(hl_day_start(day + 2, off), 0, hi);
}

static void submit(query_t *q, hl_pg_req_t *req)
{
    if (hl_pg_submit(q->r->reader, &req) != 0) {
        hl_pg_req_free(&req);
        if (q->preview) refreshed(q, false);
        fail_q(q, HL_EAGAIN, "storage unavailable; retry");
        reply(q);
    }
}

/* GET and PROGRESS: one ticket (PROGRESS: only with the right phone tail)
 * and its history. */
static void start_get(query_t *q, int64_t id, int64_t day, const char *phone_tail)
{
    char ids[24], lo[HL_ISO8601_LEN], hi[HL_ISO8601_LEN];
    snprintf(ids, sizeof ids, "%" PRId64, id);
    day_range(q->r, day, lo, hi);
    const char *p[] = {ids, lo, hi, phone_tail};
    hl_pg_req_t *req = hl_pg_req_new(get_result, get_done, q);
    if (phone_tail)
        hl_pg_req_query(req,
                        "SELECT " VIEW_COLS " FROM tickets t " PII_JOIN
                        "WHERE t.id = $1 AND t.created_at >= $2 AND t.created_at < $3 "
                        "AND right(p.p_phone, 4) = $4 AND length(p.p_phone) >= 7",
                        4, p);
    else
        hl_pg_req_query(req,
                        "SELECT " VIEW_COLS " FROM tickets t " PII_JOIN
                        "WHERE t.id = $1 AND t.created_at >= $2 AND t.created_at < $3",
                        3, p);
    /* Events come after the creation: older partitions are skipped. Deadline
     * notices are internal to the hotline. */
    hl_pg_req_query(req, phone_tail ? EVENTS_SQL " AND kind <> 'notify' ORDER BY seq" : EVENTS_SQL " ORDER BY seq",
                    2, p);
    submit(q, req);
}

static void start_list(query_t *q)
{
    const Hotline__Query *qq = q->q;
    int limit = qq->limit > 0 ? (qq->limit > 1000 ? 1000 : qq->limit) : 50;
    char lim[16], before[HL_ISO8601_LEN], from[HL_ISO8601_LEN];
    snprintf(lim, sizeof lim, "%d", limit);
    int64_t to = hl_now_ms() + 86400000;
    if (qq->before > 0 && qq->before < to) to = qq->before;
    if (qq->to > 0 && qq->to < to) to = qq->to;
    hl_iso8601(to, 0, before);
    hl_iso8601(qq->from > 0 ? qq->from : 0, 0, from);
    /* Ticket numbers: ids, and their days for the creation range. */
    hl_buf_t ids = HL_BUF_INIT;
    for (size_t i = 0; i < qq->n_tickets; i++) {
        int64_t id, day;
        if (hl_ticket_no_parse(qq->tickets[i], &id, &day) != 0) {
            hl_buf_free(&ids);
            fail_q(q, HL_EINVAL, "'%.40s' is not a ticket number", qq->tickets[i]);
            reply(q);
            return;
        }
        hl_buf_putc(&ids, i ? ',' : '{');
        hl_buf_put_i64(&ids, id);
    }
    if (ids.len) hl_buf_putc(&ids, '}');
    const char *p[] = {qq->unit, qq->state, before, lim, from, qq->category, qq->status,
                       q->public_ ? "t" : "f", ids.len ? ids.data : NULL};
    hl_pg_req_t *req = hl_pg_req_new(list_result, list_done, q);
    hl_pg_req_query(req,
                    "SELECT " VIEW_COLS " FROM tickets t " PII_JOIN
                    "WHERE ($1 = '' OR t.unit = $1) AND t.created_at < $3 AND t.created_at >= $5 "
                    "AND ($2 = '' OR ($2 = 'open' AND t.state IN " OPEN_STATES ") OR t.state = $2) "
                    "AND ($6 = '' OR t.category = $6 OR t.category LIKE $6 || '.%') "
                    "AND ($7 = '' OR ($7 = 'open') = (t.state IN " OPEN311_OPEN ")) "
                    "AND NOT ($8::bool AND t.confidential) "
                    "AND ($9::bigint[] IS NULL OR t.id = ANY($9::bigint[])) "
                    "ORDER BY t.created_at DESC, t.id DESC LIMIT $4::int",
                    9, p);
    hl_buf_free(&ids);
    submit(q, req);
}

static void start_key(query_t *q)
{
    const char *p[] = {q->q->key};
    hl_pg_req_t *req = hl_pg_req_new(list_result, list_done, q);
    hl_pg_req_query(req,
                    "SELECT " VIEW_COLS " FROM (SELECT ticket_id, created_at AS k_at FROM intake_keys WHERE key = $1) k "
                    "JOIN tickets t ON t.id = k.ticket_id AND t.created_at >= k.k_at - interval '2 days' "
                    "AND t.created_at < k.k_at + interval '2 days' " PII_JOIN,
                    1, p);
    submit(q, req);
}

void hl__query_accept(router_t *r, const reply_to_t *to, hl_envelope_t **envp)
{
    query_t *q = hl_calloc(1, sizeof *q);
    q->r = r;
    q->to = *to;
    q->env = *envp;
    *envp = NULL;
    q->q = q->env->query;
    const Hotline__Query *qq = q->q;
    q->role = qq->actor ? hl_role_parse(qq->actor->role) : 0;
    q->actor_unit = qq->actor ? qq->actor->unit : "";
    q->public_ = qq->public_;
    int64_t id = 0, day = 0;
    Hotline__QueryKind kind = qq->kind;
    if (kind == HOTLINE__QUERY_KIND__QUERY_HEALTH) {
        if (!r->refdata || !hl__router_storage_up(r) || !hl_pg_up(r->reader))
            fail_q(q, HL_EAGAIN, "storage unavailable");
        reply(q);
        return;
    }
    if (!q->role) {
        fail_q(q, HL_EINVAL, "actor.role must be agent, office, supervisor, admin, unit or system");
    } else if (q->role == HL_ROLE_UNIT && !*q->actor_unit) {
        fail_q(q, HL_EINVAL, "a unit actor needs actor.unit");
    } else if (!hl__router_storage_up(r) || !hl_pg_up(r->reader)) {
        fail_q(q, HL_EAGAIN, "storage unavailable; retry");
    } else if (kind == HOTLINE__QUERY_KIND__QUERY_GET || kind == HOTLINE__QUERY_KIND__QUERY_PROGRESS) {
        size_t tail = strlen(qq->phone_tail);
        if (hl_ticket_no_parse(qq->ticket, &id, &day) != 0) {
            fail_q(q, HL_EINVAL, "'%.40s' is not a ticket number", qq->ticket);
        } else if (kind == HOTLINE__QUERY_KIND__QUERY_PROGRESS &&
                   (tail != 4 || strspn(qq->phone_tail, "0123456789") != 4)) {
            fail_q(q, HL_EINVAL, "phone_tail must be the last 4 digits of the phone number");
        } else if (kind == HOTLINE__QUERY_KIND__QUERY_GET && *qq->reveal_reason) {
            if (strlen(qq->reveal_reason) > 500) fail_q(q, HL_EINVAL, "reveal_reason over 500 bytes");
            q->reveal = true; /* checked against the ticket below */
        }
        q->progress = kind == HOTLINE__QUERY_KIND__QUERY_PROGRESS;
    } else if (kind == HOTLINE__QUERY_KIND__QUERY_LIST) {
        if (q->role == HL_ROLE_UNIT && strcmp(qq->unit, q->actor_unit) != 0) {
            fail_q(q, HL_EFORBIDDEN, "unit %s may list only its own tickets", q->actor_unit);
        } else if (*qq->state && strcmp(qq->state, "open") != 0) {
            hl_state_t st;
            if (hl_state_parse(qq->state, &st) != 0) fail_q(q, HL_EINVAL, "unknown state '%.32s'", qq->state);
        }
        if (!q->rc && *qq->status && strcmp(qq->status, "open") && strcmp(qq->status, "closed"))
            fail_q(q, HL_EINVAL, "status must be open or closed");
        if (!q->rc && (strlen(qq->category) > 64 || strlen(qq->unit) > 64))
            fail_q(q, HL_EINVAL, "category or unit over 64 bytes");
        if (!q->rc && qq->n_tickets > 1000) fail_q(q, HL_EINVAL, "more than 1000 ticket numbers");
    } else if (kind == HOTLINE__QUERY_KIND__QUERY_KEY) {
        if (!*qq->key || strlen(qq->key) > HL_KEY_MAX) fail_q(q, HL_EINVAL, "key must be 1-%d bytes", HL_KEY_MAX);
    } else {
        fail_q(q, HL_EINVAL, "unknown query kind %d", (int)kind);
    }
    if (q->rc) {
        reply(q);
        return;
    }
    switch (kind) {
    case HOTLINE__QUERY_KIND__QUERY_GET: start_get(q, id, day, NULL); break;
    case HOTLINE__QUERY_KIND__QUERY_PROGRESS: start_get(q, id, day, qq->phone_tail); break;
    case HOTLINE__QUERY_KIND__QUERY_LIST: start_list(q); break;
    default: start_key(q); break;
    }
}

/* The district of a region code: its first 6 digits. */
static void cache_key_of(const char *category, const char *region, char key[96])
{
    snprintf(key, 96, "%s|%.6s", category, region);
}

/* The signature of an intake's text, made once. */
static const hl_simsig_t *item_sig(item_t *it)
{
    if (!it->sig) {
        it->sig = hl_malloc(sizeof *it->sig);
        text_sig(it->sig, it->in->title, it->in->body, CANDIDATE_CHARS);
    }
    return it->sig;
}

void hl__query_remember(router_t *r, item_t *it)
{
    const hl_plan_t *p = &it->plan;
    char key[96];
    cache_key_of(p->category, p->region, key);
    hl_simset_t *s = hl__simcache_find(r, key);
    if (!s || (!s->fetched_ms && !s->refreshing)) return; /* read afresh when asked */
    hl_simticket_t t = {.state = p->state, .created_at = it->created_at, .sig = *item_sig(it)};
    snprintf(t.ticket, sizeof t.ticket, "%s", it->ticket_no);
    snprintf(t.unit, sizeof t.unit, "%s", p->unit);
    t.title = hl_strdup(it->in->title);
    hl__simcache_add(r, key, &t, true);
}

/* Read the open tickets of the plan's category and district into the
 * cache (q->cache_key, claimed); q answers when they are in. */
static void read_candidates(query_t *q, const hl_plan_t *plan)
{
    char since[HL_ISO8601_LEN], until[HL_ISO8601_LEN], lim[16], lo[8], hi[8];
    q->claimed_ms = hl_now_ms();
    hl_iso8601(q->claimed_ms - 30LL * 86400000, 0, since);
    /* Both bounds as values: the planner keeps only the month partitions in
     * range (an open end costs ~25 ms of planning over 3 years of them). */
    hl_iso8601(q->claimed_ms + 86400000LL, 0, until);
    snprintf(lim, sizeof lim, "%d", SIMILAR_CANDIDATES);
    /* The same district (the first 6 digits of the region code): a street
     * and its district's tickets are compared; code ranges use the index. */
    snprintf(lo, sizeof lo, "%.6s", plan->region);
    snprintf(hi, sizeof hi, "%s", lo);
    size_t k = strlen(hi);
    while (k > 0 && hi[k - 1] == '9') hi[--k] = '\0';
    if (k > 0) hi[k - 1]++;
    else snprintf(hi, sizeof hi, ":");
    const char *p[] = {plan->category, lo, since, lim, hi, until};
    hl_pg_req_t *req = hl_pg_req_new(list_result, list_done, q);
    /* Region by region (the district and its streets): each the newest
     * first along tickets_open_place, at most the limit, instead of every
     * open ticket of the district sorted (a busy district's month of them
     * took a second of PostgreSQL's time per read). */
    hl_pg_req_query(req,
                    "SELECT " SIMILAR_COLS " FROM regions g CROSS JOIN LATERAL "
                    "(SELECT * FROM tickets x WHERE x.category = $1 AND x.region = g.code AND x.created_at >= $3 "
                    "AND x.created_at < $6 AND x." HL_SQL_OPEN_STATES " "
                    "ORDER BY x.created_at DESC LIMIT $4::int) t "
                    "WHERE g.code >= $2 AND g.code < $5 "
                    "ORDER BY t.created_at DESC LIMIT $4::int",
                    6, p);
    submit(q, req);
}

static query_t *new_preview(router_t *r, const hl_plan_t *plan)
{
    query_t *q = hl_calloc(1, sizeof *q);
    q->r = r;
    q->preview = true;
    q->plan = *plan;
    q->role = HL_ROLE_AGENT;
    q->actor_unit = "";
    cache_key_of(plan->category, plan->region, q->cache_key);
    return q;
}

void hl__query_preview(router_t *r, const reply_to_t *to, hl_envelope_t **envp, const hl_plan_t *plan)
{
    query_t *q = new_preview(r, plan);
    q->to = *to;
    q->env = *envp;
    *envp = NULL;
    const Hotline__Intake *in = q->env->intake;
    text_sig(&q->probe, in->title, in->body, CANDIDATE_CHARS);
    if (!*plan->category || !hl_pg_up(r->reader)) {
        q->cache_key[0] = '\0';
        reply(q); /* the plan alone */
        return;
    }
    const hl_simset_t *set = hl__simcache_claim(r, q->cache_key, hl_now_ms());
    q->cache_key[0] = '\0';
    if (!set) {
        cache_key_of(plan->category, plan->region, q->cache_key); /* claimed: ours to read */
        read_candidates(q, plan);
        return;
    }
    int best[HL_SIMILAR_MAX];
    double score[HL_SIMILAR_MAX];
    int n = top_similar(set, &q->probe, best, score);
    for (int k = 0; k < n; k++) {
        const hl_simticket_t *c = hl__simset_at(set, best[k]);
        Hotline__TicketView *v = keep_block(q, sizeof *v);
        hotline__ticket_view__init(v);
        v->ticket = keep_str(q, c->ticket);
        v->state = c->state;
        v->title = keep_str(q, c->title);
        v->unit = keep_str(q, c->unit);
        v->created_at = c->created_at;
        q->scores = hl_realloc(q->scores, (q->nviews + 1) * sizeof(double));
        q->scores[q->nviews] = score[k];
        q->views = hl_realloc(q->views, (q->nviews + 1) * sizeof *q->views);
        q->views[q->nviews++] = v;
    }
    reply(q);
}

bool hl__query_similar(router_t *r, item_t *it)
{
    const hl_plan_t *plan = &it->plan;
    if (!*plan->category || !hl_pg_up(r->reader)) return false;
    char key[96];
    cache_key_of(plan->category, plan->region, key);
    int64_t now = hl_now_ms();
    hl_simset_t *s = hl__simcache_find(r, key);
    if (s && s->fetched_ms && now - s->fetched_ms < HL_SIMCACHE_STALE_MS) {
        similar_of(it, s);
        if (now - s->fetched_ms >= HL_SIMCACHE_TTL_MS && hl__simcache_claim(r, key, now) == NULL) {
            query_t *q = new_preview(r, plan);
            q->warm = true;
            read_candidates(q, plan); /* for the next ones */
        }
        return false;
    }
    /* None (or too old, so not fresh): this intake waits for the read,
     * ours or one already under way. */
    query_t *q = hl__simcache_claim(r, key, now) ? NULL : new_preview(r, plan);
    s = hl__simcache_find(r, key);
    it->next = s->waiting;
    s->waiting = it;
    if (q) {
        q->warm = true;
        read_candidates(q, plan);
    }
    return true;
}
