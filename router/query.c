/* query.c - reads of tickets through the router, on its own connection.
 *
 * GET: one ticket and its events. LIST: a unit's tickets, newest first. A
 * unit reads only tickets it leads or assists, and lists only its own.
 * Personal data leaves masked (mask.h), except after a GET with a
 * reveal_reason by a role that needs it: the office, supervisors, agents and
 * admins, and the lead unit of a ticket that is not confidential. Such a read
 * is written to pii_access_log before the data is sent. A unit never sees the
 * requester of a confidential ticket (保密件), not even masked.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/log.h"
#include "hotline/mask.h"

#include "router_int.h"

#define VIEW_COLS                                                                                  \
    HL_SQL_TICKET_COLS ", t.channel, t.title, t.body, t.address, t.confidence, t.classifier, "     \
                       "coalesce(p.p_name, ''), coalesce(p.p_phone, ''), coalesce(p.p_id, ''), "   \
                       "coalesce((SELECT ticket_no FROM tickets x WHERE x.id = t.parent_id LIMIT 1), '')"
#define VIEW_EXTRA HL_TICKET_NCOLS
/* The vault's columns renamed, so the ticket columns stay unambiguous. */
#define PII_JOIN                                                                                   \
    "LEFT JOIN LATERAL (SELECT name AS p_name, phone AS p_phone, id_number AS p_id FROM pii_vault "  \
    "WHERE ticket_id = t.id) p ON true "

typedef struct {
    router_t *r;
    reply_to_t to;
    hl_envelope_t *env;
    const Hotline__Query *q;
    int role;
    bool reveal;         /* unmasked (and logged) */
    bool logged;
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
    hl_envelope_free(&q->env);
    hl_free(q);
}

static void reply(query_t *q)
{
    router_t *r = q->r;
    Hotline__Ack ack = HOTLINE__ACK__INIT;
    if (q->rc) {
        ack.status = q->rc == HL_ENOTFOUND    ? HOTLINE__STATUS__STATUS_NOT_FOUND
                     : q->rc == HL_EFORBIDDEN ? HOTLINE__STATUS__STATUS_FORBIDDEN
                     : q->rc == HL_EAGAIN     ? HOTLINE__STATUS__STATUS_TRY_LATER
                     : q->rc == HL_EIO        ? HOTLINE__STATUS__STATUS_INTERNAL
                                              : HOTLINE__STATUS__STATUS_INVALID;
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

/* Build a view of one row; returns false if the actor may not see it (a GET
 * then sets the reason in q->rc / q->err). */
static bool add_view(query_t *q, const PGresult *res, int row)
{
    hl_ticket_t t;
    if (hl_store_ticket_read(res, row, 0, &t, NULL) != 0) return false;
    const char *actor_unit = q->q->actor ? q->q->actor->unit : "";
    bool get = q->q->kind == HOTLINE__QUERY_KIND__QUERY_GET;
    if (q->role == HL_ROLE_UNIT && !unit_on(&t, actor_unit)) {
        if (get) {
            q->rc = HL_EFORBIDDEN;
            snprintf(q->err, sizeof q->err, "ticket %s is not unit %s's", t.ticket_no, actor_unit);
        }
        return false;
    }
    if (q->reveal && !reveal_allowed(q->role, &t, actor_unit)) {
        q->rc = HL_EFORBIDDEN;
        snprintf(q->err, sizeof q->err, "%s may not see the requester of ticket %s unmasked%s",
                 hl_role_name(q->role), t.ticket_no, t.confidential ? " (a confidential ticket)" : "");
        return false;
    }
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
    v->title = keep_str(q, PQgetvalue(res, row, c + 1));
    v->body = keep_str(q, PQgetvalue(res, row, c + 2));
    v->address = keep_str(q, PQgetvalue(res, row, c + 3));
    v->received_at = t.received_at;
    v->created_at = t.created_at;
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
    /* The requester: masked, revealed, or (a unit on a confidential ticket) not at all. */
    Hotline__Requester *rq = keep_block(q, sizeof *rq);
    hotline__requester__init(rq);
    rq->anonymous = t.anonymous;
    rq->confidential = t.confidential;
    if (!(q->role == HL_ROLE_UNIT && t.confidential)) {
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
    v->requester = rq;
    q->views = hl_realloc(q->views, (q->nviews + 1) * sizeof *q->views);
    q->views[q->nviews++] = v;
    q->ticket_id = t.id;
    return true;
}

static void add_event(query_t *q, const PGresult *res, int row)
{
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

static void get_done(void *arg, int rc, const char *msg)
{
    query_t *q = arg;
    router_t *r = q->r;
    if (rc) {
        q->rc = rc == HL_EAGAIN ? HL_EAGAIN : HL_EIO;
        snprintf(q->err, sizeof q->err, "%s", msg ? msg : hl_strerror(rc));
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

static void list_done(void *arg, int rc, const char *msg)
{
    query_t *q = arg;
    if (rc) {
        q->rc = rc == HL_EAGAIN ? HL_EAGAIN : HL_EIO;
        snprintf(q->err, sizeof q->err, "%s", msg ? msg : hl_strerror(rc));
    }
    reply(q);
}

#define OPEN_STATES                                                                                \
    "('ACCEPTED','PENDING_DISPATCH','DISPATCHED','RETURN_REQUESTED','SIGNED','IN_PROGRESS',"       \
    "'EXTENSION_REQUESTED','REPLIED','CALLBACK')"

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
    int64_t id = 0, day = 0;
    if (!q->role) {
        q->rc = HL_EINVAL;
        snprintf(q->err, sizeof q->err, "actor.role must be agent, office, supervisor, admin, unit or system");
    } else if (q->role == HL_ROLE_UNIT && !*qq->actor->unit) {
        q->rc = HL_EINVAL;
        snprintf(q->err, sizeof q->err, "a unit actor needs actor.unit");
    } else if (!hl__router_storage_up(r) || !hl_pg_up(r->reader)) {
        q->rc = HL_EAGAIN;
        snprintf(q->err, sizeof q->err, "storage unavailable; retry");
    } else if (qq->kind == HOTLINE__QUERY_KIND__QUERY_GET) {
        if (hl_ticket_no_parse(qq->ticket, &id, &day) != 0) {
            q->rc = HL_EINVAL;
            snprintf(q->err, sizeof q->err, "'%.40s' is not a ticket number", qq->ticket);
        } else if (*qq->reveal_reason) {
            if (strlen(qq->reveal_reason) > 500) {
                q->rc = HL_EINVAL;
                snprintf(q->err, sizeof q->err, "reveal_reason over 500 bytes");
            }
            q->reveal = true; /* checked against the ticket below */
        }
    } else if (qq->kind == HOTLINE__QUERY_KIND__QUERY_LIST) {
        if (q->role == HL_ROLE_UNIT && strcmp(qq->unit, qq->actor->unit) != 0) {
            q->rc = HL_EFORBIDDEN;
            snprintf(q->err, sizeof q->err, "unit %s may list only its own tickets", qq->actor->unit);
        } else if (*qq->state && strcmp(qq->state, "open") != 0) {
            hl_state_t st;
            if (hl_state_parse(qq->state, &st) != 0) {
                q->rc = HL_EINVAL;
                snprintf(q->err, sizeof q->err, "unknown state '%.32s'", qq->state);
            }
        }
    } else {
        q->rc = HL_EINVAL;
        snprintf(q->err, sizeof q->err, "query kind must be GET or LIST");
    }
    if (q->rc) {
        reply(q);
        return;
    }
    hl_pg_req_t *req;
    if (qq->kind == HOTLINE__QUERY_KIND__QUERY_GET) {
        char ids[24], lo[HL_ISO8601_LEN], hi[HL_ISO8601_LEN];
        int64_t off = r->conf->utc_offset_min * 60000;
        snprintf(ids, sizeof ids, "%" PRId64, id);
        hl_iso8601((day - 1) * 86400000 - off, 0, lo);
        hl_iso8601((day + 2) * 86400000 - off, 0, hi);
        const char *p[] = {ids, lo, hi};
        req = hl_pg_req_new(get_result, get_done, q);
        hl_pg_req_query(req,
                        "SELECT " VIEW_COLS " FROM tickets t " PII_JOIN
                        "WHERE t.id = $1 AND t.created_at >= $2 AND t.created_at < $3",
                        3, p);
        hl_pg_req_query(req,
                        "SELECT seq, " HL_MS("at") ", kind, coalesce(from_state, ''), to_state, actor_role, "
                        "coalesce(actor_unit, ''), coalesce(actor_id, ''), coalesce(reason_code, ''), "
                        "coalesce(reason, ''), coalesce(unit, ''), " HL_MS("sign_due") ", "
                        HL_MS("contact_due") ", " HL_MS("reply_due") ", " HL_MS("callback_due") ", "
                        "coalesce(payload::text, '{}') FROM ticket_events WHERE ticket_id = $1 AND at >= $2 "
                        "ORDER BY seq",
                        2, p); /* events come after the creation: older partitions are skipped */
    } else {
        int limit = qq->limit > 0 ? (qq->limit > 500 ? 500 : qq->limit) : 50;
        char lim[16], before[HL_ISO8601_LEN];
        snprintf(lim, sizeof lim, "%d", limit);
        hl_iso8601(qq->before > 0 ? qq->before : hl_now_ms() + 86400000, 0, before);
        const char *p[] = {qq->unit, qq->state, before, lim};
        req = hl_pg_req_new(list_result, list_done, q);
        hl_pg_req_query(req,
                        "SELECT " VIEW_COLS " FROM tickets t " PII_JOIN
                        "WHERE ($1 = '' OR t.unit = $1) AND t.created_at < $3 AND "
                        "($2 = '' OR ($2 = 'open' AND t.state IN " OPEN_STATES ") OR t.state = $2) "
                        "ORDER BY t.created_at DESC, t.id DESC LIMIT $4::int",
                        4, p);
    }
    if (hl_pg_submit(r->reader, &req) != 0) {
        hl_pg_req_free(&req);
        q->rc = HL_EAGAIN;
        snprintf(q->err, sizeof q->err, "storage unavailable; retry");
        reply(q);
    }
}

