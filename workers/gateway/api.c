/* api.c - the JSON API under /api/v1.
 *
 *   POST /tickets                  a new ticket (agent, office, supervisor, admin)
 *   POST /tickets/preview          category, unit, deadlines, similar tickets; nothing stored
 *   GET  /tickets/{no}[?reveal=why] one ticket and its history (unmasked only with a reason, logged)
 *   GET  /tickets?state=&unit=&category=&from=&to=&before=&limit=&format=csv
 *   POST /tickets/{no}/actions     {"action", "reason", "reason_code", "expected_version", ...}
 *   GET  /progress?ticket=&phone_tail=   a citizen's own ticket, no login, rate limited
 *   GET  /me, GET /reference       the token's role; categories, units, regions
 *   /kb...                         the knowledge base (kb.c)
 *   GET  /stats                    the figures (stats.c)
 *
 * Every request that needs the router becomes an envelope on the bus; the
 * Idempotency-Key header (scoped to the token) makes a retried POST return
 * what the first one did. Errors: {"error": code, "message": text}.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/csv.h"
#include "hotline/utf8.h"

#include "gateway.h"

#define MAX_PAYLOAD HL_MAX_PAYLOAD

enum { K_CREATE = 1, K_PREVIEW, K_GET, K_LIST, K_CSV, K_ACTION, K_PROGRESS };

/* ------------------------------------------------------------ helpers */

static const char *role_name(int role)
{
    return role == GW_ROLE_OPEN311 ? "open311" : hl_role_name(role);
}

/* Check the bearer token, its role and its rate. False: answered. */
bool gw_authenticate(gw_req_t *r, int roles)
{
    const char *h = gw_header(r, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        gw_reply_error(r, 401, "unauthorized", "a bearer token is required (Authorization: Bearer <token>)");
        gw_add_header(r, "WWW-Authenticate", "Bearer realm=\"hotline\"");
        return false;
    }
    if (!gw_auth_lookup(r->gw->auth, h + 7, &r->tok)) {
        gw_reply_error(r, 401, "unauthorized", "the token is unknown, revoked or expired");
        gw_add_header(r, "WWW-Authenticate", "Bearer realm=\"hotline\", error=\"invalid_token\"");
        return false;
    }
    r->authed = true;
    if (!(r->tok.role & roles)) {
        gw_reply_error(r, 403, "forbidden", "role %s may not do this", role_name(r->tok.role));
        return false;
    }
    char bucket[32];
    snprintf(bucket, sizeof bucket, "t%lld", (long long)r->tok.id);
    /* A token with its own rate may send a second's worth at once. */
    double per = r->tok.rate_per_s ? r->tok.rate_per_s : (double)r->gw->conf.gw_rate_per_s;
    double burst = r->tok.rate_per_s ? per : (double)r->gw->conf.gw_rate_burst;
    int wait = gw_auth_take(r->gw->auth, bucket, per, burst);
    if (wait) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", wait);
        gw_reply_error(r, 429, "rate_limited", "more than %.0f requests per second; wait %d s", per, wait);
        gw_add_header(r, "Retry-After", ra);
        return false;
    }
    return true;
}

static void actor_of(gw_req_t *r, Hotline__Actor *a, char id[96])
{
    hotline__actor__init(a);
    a->role = (char *)hl_role_name(r->tok.role);
    a->unit = r->tok.unit;
    if (*r->tok.name) snprintf(id, 96, "%s#%lld", r->tok.name, (long long)r->tok.id);
    else snprintf(id, 96, "token#%lld", (long long)r->tok.id);
    a->id = id;
}

/* Is the Content-Type application/json, in UTF-8 if a charset is named? */
static bool is_json_type(const char *ct)
{
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) return false;
    const char *p = ct + 16;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) return true;
    if (*p != ';') return false;
    const char *cs = strcasestr(p, "charset=");
    if (!cs) return true;
    cs += 8;
    if (*cs == '"') cs++;
    return strncasecmp(cs, "utf-8", 5) == 0 && strchr("\"; \t", cs[5]) != NULL;
}

/* The body as a JSON object (kept in r->json until the request ends), or
 * NULL: answered. */
const hl_jv_t *gw_body_object(gw_req_t *r)
{
    if (!is_json_type(gw_header(r, "Content-Type"))) {
        gw_reply_error(r, 415, "unsupported_media_type", "send the body as application/json (UTF-8)");
        return NULL;
    }
    hl_json_error_t e;
    if (hl_json_parse(r->body.data ? r->body.data : "", r->body.len, &r->json, &e) != 0) {
        gw_reply_error(r, 400, "bad_json", "the body is not valid JSON (%s, at byte %zu)", e.text, e.position);
        return NULL;
    }
    if (r->json.v->type != HL_JSON_OBJECT) {
        gw_reply_error(r, 400, "bad_json", "the body must be a JSON object");
        return NULL;
    }
    return r->json.v;
}

bool gw_absent(const hl_jv_t *v)
{
    return !v || v->type == HL_JSON_NULL;
}

/* A string member (NULL if absent); false with an answer if it is not a
 * string or is too long. */
bool gw_get_str(gw_req_t *r, const hl_jv_t *o, const char *key, size_t max, const char **out)
{
    const hl_jv_t *v = hl_json_get(o, key);
    *out = NULL;
    if (gw_absent(v)) return true;
    if (v->type != HL_JSON_STRING) {
        gw_reply_error(r, 400, "invalid", "'%s' must be a string", key);
        return false;
    }
    if (v->n > max) {
        gw_reply_error(r, 413, "too_large", "'%s' is over %zu bytes", key, max);
        return false;
    }
    *out = v->str;
    return true;
}

bool gw_get_bool(gw_req_t *r, const hl_jv_t *o, const char *key, bool *out)
{
    const hl_jv_t *v = hl_json_get(o, key);
    *out = false;
    if (gw_absent(v)) return true;
    if (v->type != HL_JSON_TRUE && v->type != HL_JSON_FALSE) {
        gw_reply_error(r, 400, "invalid", "'%s' must be true or false", key);
        return false;
    }
    *out = v->type == HL_JSON_TRUE;
    return true;
}

/* Only these members. */
bool gw_only(gw_req_t *r, const hl_jv_t *o, const char *const *allowed, const char *where)
{
    hl_json_foreach(o, key, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++) ok = strcmp(*a, key->str) == 0;
        if (!ok) {
            gw_reply_error(r, 400, "invalid", "unknown member '%.64s' in %s", key->str, where);
            return false;
        }
    }
    return true;
}

/* The idempotency key: the header's, scoped to the token; or a new one. */
static bool idempotency_key(gw_req_t *r, char scope)
{
    const char *h = gw_header(r, "Idempotency-Key");
    if (h) {
        size_t n = strlen(h);
        bool ok = n >= 1 && n <= 100;
        for (size_t i = 0; ok && i < n; i++) ok = h[i] > 32 && h[i] < 127;
        if (!ok) {
            gw_reply_error(r, 400, "invalid", "Idempotency-Key must be 1-100 printable ASCII characters");
            return false;
        }
        snprintf(r->key, sizeof r->key, "%c%lld:%s", scope, (long long)r->tok.id, h);
        return true;
    }
    /* The time first (fixed width), so that new keys go to the right edge of
     * intake_keys' index rather than dirtying a random page of it each. */
    unsigned char rnd[12];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) memset(rnd, 0, sizeof rnd);
    int n = snprintf(r->key, sizeof r->key, "g:%012llx", (unsigned long long)hl_now_ms());
    for (size_t i = 0; i < sizeof rnd; i++) n += snprintf(r->key + n, sizeof r->key - (size_t)n, "%02x", rnd[i]);
    return true;
}

static const char *state_name(hl_state_t s)
{
    return hl_state_name(s);
}

/* A confidence to 4 places (a float has no more). */
static double conf_round(float c)
{
    return (double)(int64_t)((double)c * 10000.0 + 0.5) / 10000.0;
}

static json_t *conf_json(float c)
{
    return json_real(conf_round(c));
}

static json_t *time_json(const gw_t *gw, int64_t ms)
{
    char b[40];
    return ms ? json_string(gw_time(gw, ms, b)) : json_null();
}

/* A ticket's deadlines by name, in the order answers list them; a new
 * ticket's answer leaves out the callback's (not set until the reply). */
static const char *const deadline_names[] = {"sign", "contact", "reply", "callback"};

static int64_t deadline_at(const Hotline__Deadlines *d, int i)
{
    if (!d) return 0;
    return i == 0 ? d->sign : i == 1 ? d->contact : i == 2 ? d->reply : d->callback;
}

static json_t *deadlines_json(const gw_t *gw, const Hotline__Deadlines *d)
{
    json_t *o = json_object();
    for (int i = 0; i < 4; i++) json_object_set_new(o, deadline_names[i], time_json(gw, deadline_at(d, i)));
    return o;
}

static json_t *strings_json(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(v[i]));
    return a;
}

static const char *category_name(gw_req_t *r, const char *code)
{
    const gw_category_t *c = gw_refs_category(r->refs, code);
    return c ? c->name : "";
}

static json_t *category_json(gw_req_t *r, const char *code)
{
    return json_string(category_name(r, code));
}

/* A ticket as the API shows it. */
static json_t *view_json(gw_req_t *r, const Hotline__TicketView *v)
{
    const gw_t *gw = r->gw;
    json_t *o = json_object();
    json_object_set_new(o, "ticket", json_string(v->ticket));
    json_object_set_new(o, "state", json_string(state_name(v->state)));
    json_object_set_new(o, "version", json_integer(v->version));
    json_object_set_new(o, "channel", json_string(hl_channel_name(v->channel)));
    json_object_set_new(o, "type", json_string(hl_type_name(v->type)));
    json_object_set_new(o, "urgency", json_string(hl_urgency_name(v->urgency)));
    json_object_set_new(o, "category", json_string(v->category));
    json_object_set_new(o, "category_name", category_json(r, v->category));
    json_object_set_new(o, "confidence", conf_json(v->confidence));
    json_object_set_new(o, "classifier", json_string(v->classifier));
    json_object_set_new(o, "unit", *v->unit ? json_string(v->unit) : json_null());
    json_object_set_new(o, "unit_name", json_string(gw_refs_unit_name(r->refs, v->unit)));
    json_object_set_new(o, "assisting_units", strings_json(v->assisting_units, v->n_assisting_units));
    json_object_set_new(o, "excluded_units", strings_json(v->excluded_units, v->n_excluded_units));
    json_object_set_new(o, "region", json_string(v->region));
    json_object_set_new(o, "region_name", json_string(gw_refs_region_name(r->refs, v->region)));
    json_object_set_new(o, "title", json_string(v->title));
    json_object_set_new(o, "body", json_string(v->body));
    json_t *loc = json_pack("{s:s, s:s}", "region", v->region, "address", v->address);
    if (v->location && v->location->has_coordinates) {
        json_object_set_new(loc, "lat", json_real(v->location->lat));
        json_object_set_new(loc, "long", json_real(v->location->long_));
    }
    json_object_set_new(o, "location", loc);
    if (v->requester)
        json_object_set_new(o, "requester",
                            json_pack("{s:s, s:s, s:s, s:b, s:b}", "name", v->requester->name, "phone",
                                      v->requester->phone, "id_number", v->requester->id_number, "anonymous",
                                      v->requester->anonymous, "confidential", v->requester->confidential));
    json_object_set_new(o, "received_at", time_json(gw, v->received_at));
    json_object_set_new(o, "created_at", time_json(gw, v->created_at));
    json_object_set_new(o, "updated_at", time_json(gw, v->updated_at));
    json_object_set_new(o, "closed_at", time_json(gw, v->closed_at));
    json_object_set_new(o, "deadlines", deadlines_json(gw, v->deadlines));
    json_object_set_new(o, "overdue", json_boolean(v->overdue));
    json_object_set_new(o, "return_count", json_integer(v->return_count));
    json_object_set_new(o, "reopen_count", json_integer(v->reopen_count));
    json_object_set_new(o, "extension_count", json_integer(v->extension_count));
    json_object_set_new(o, "callback_attempts", json_integer(v->callback_attempts));
    json_object_set_new(o, "supervision", json_integer(v->supervision));
    json_object_set_new(o, "binding", json_boolean(v->binding));
    json_object_set_new(o, "parent", *v->parent ? json_string(v->parent) : json_null());
    json_object_set_new(o, "rating", v->rating ? json_pack("{s:s, s:s}", "resolution", v->rating->resolution,
                                                           "satisfaction", v->rating->satisfaction)
                                               : json_null());
    return o;
}

static json_t *event_json(gw_req_t *r, const Hotline__Event *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer(e->seq));
    json_object_set_new(o, "at", time_json(r->gw, e->at));
    json_object_set_new(o, "kind", json_string(e->kind));
    json_object_set_new(o, "from", e->from_state ? json_string(state_name(e->from_state)) : json_null());
    json_object_set_new(o, "to", json_string(state_name(e->to_state)));
    if (e->actor)
        json_object_set_new(o, "actor", json_pack("{s:s, s:s, s:s}", "role", e->actor->role, "unit", e->actor->unit,
                                                  "id", e->actor->id));
    json_object_set_new(o, "reason_code", json_string(e->reason_code));
    json_object_set_new(o, "reason", json_string(e->reason));
    json_object_set_new(o, "unit", json_string(e->unit));
    json_object_set_new(o, "deadlines", deadlines_json(r->gw, e->deadlines));
    json_t *p = json_object();
    for (size_t i = 0; i < e->n_payload; i++) json_object_set_new(p, e->payload[i]->key, json_string(e->payload[i]->value));
    json_object_set_new(o, "payload", p);
    return o;
}

static void similar_jw(gw_req_t *r, hl_jw_t *w, const Hotline__Ack *ack, const char *except)
{
    hl_jw_array(w);
    for (size_t i = 0; ack && i < ack->n_similar; i++) {
        const Hotline__TicketView *v = ack->similar[i];
        if (except && strcmp(v->ticket, except) == 0) continue;
        char b[40];
        hl_jw_object(w);
        hl_jw_key(w, "ticket");
        hl_jw_str(w, v->ticket);
        hl_jw_key(w, "state");
        hl_jw_str(w, state_name(v->state));
        hl_jw_key(w, "similarity");
        hl_jw_real(w, (double)(int64_t)((double)v->similarity * 1000.0 + 0.5) / 1000.0);
        hl_jw_key(w, "title");
        hl_jw_str(w, v->title);
        hl_jw_key(w, "unit");
        hl_jw_str(w, v->unit);
        hl_jw_key(w, "unit_name");
        hl_jw_str(w, gw_refs_unit_name(r->refs, v->unit));
        hl_jw_key(w, "created_at");
        hl_jw_str(w, gw_time(r->gw, v->created_at, b));
        hl_jw_end(w);
    }
    hl_jw_end(w);
}

/* ------------------------------------------------------------ new tickets */

static bool parse_enum(gw_req_t *r, const hl_jv_t *o, const char *key, int (*parse)(const char *, int *), int *out)
{
    const char *s;
    if (!gw_get_str(r, o, key, 32, &s)) return false;
    if (!s) return true;
    if (parse(s, out) != 0) {
        gw_reply_error(r, 400, "invalid", "'%s' is not a known %s", s, key);
        return false;
    }
    return true;
}

static int p_channel(const char *s, int *o)
{
    hl_channel_t v;
    int rc = hl_channel_parse(s, &v);
    *o = (int)v;
    return rc;
}
static int p_type(const char *s, int *o)
{
    hl_type_t v;
    int rc = hl_type_parse(s, &v);
    *o = (int)v;
    return rc;
}
static int p_urgency(const char *s, int *o)
{
    hl_urgency_t v;
    int rc = hl_urgency_parse(s, &v);
    *o = (int)v;
    return rc;
}

/* An Intake from a JSON object (r->json keeps the strings). False:
 * answered. */
static bool intake_of(gw_req_t *r, const hl_jv_t *o, Hotline__Intake *in, Hotline__Requester *rq, Hotline__Location *loc)
{
    static const char *const top[] = {"channel", "title", "body", "requester", "location", "type", "urgency",
                                      "received_at", "category", "hold", NULL};
    static const char *const rqk[] = {"name", "phone", "id_number", "anonymous", "confidential", NULL};
    static const char *const lk[] = {"region", "address", "lat", "long", NULL};
    if (!gw_only(r, o, top, "the ticket")) return false;
    const char *title, *body, *received, *category;
    int channel = 0, type = 0, urgency = 0;
    bool hold;
    size_t max = (size_t)r->gw->conf.gw_max_body;
    if (!gw_get_str(r, o, "title", 512, &title) || !gw_get_str(r, o, "body", max, &body) ||
        !gw_get_str(r, o, "received_at", 40, &received) || !gw_get_str(r, o, "category", 64, &category) ||
        !parse_enum(r, o, "channel", p_channel, &channel) || !parse_enum(r, o, "type", p_type, &type) ||
        !parse_enum(r, o, "urgency", p_urgency, &urgency) || !gw_get_bool(r, o, "hold", &hold))
        return false;
    if (!body) {
        gw_reply_error(r, 400, "invalid", "'body' is required");
        return false;
    }
    in->title = (char *)(title ? title : "");
    in->body = (char *)body;
    in->category = (char *)(category ? category : "");
    in->hold = hold;
    in->channel = channel ? channel
                          : (r->tok.role == HL_ROLE_AGENT ? HOTLINE__CHANNEL__CHANNEL_PHONE : HOTLINE__CHANNEL__CHANNEL_WEB);
    in->type = type;
    in->urgency = urgency;
    if (received) {
        int64_t ms;
        if (gw_parse_time(r->gw, received, &ms) != 0) {
            gw_reply_error(r, 400, "invalid", "'received_at' must be an ISO 8601 time with its offset");
            return false;
        }
        in->received_at = ms;
    }
    const hl_jv_t *q = hl_json_get(o, "requester");
    if (!gw_absent(q)) {
        if (q->type != HL_JSON_OBJECT) {
            gw_reply_error(r, 400, "invalid", "'requester' must be an object");
            return false;
        }
        const char *name, *phone, *idn;
        bool anon, conf;
        if (!gw_only(r, q, rqk, "requester") || !gw_get_str(r, q, "name", 64, &name) || !gw_get_str(r, q, "phone", 32, &phone) ||
            !gw_get_str(r, q, "id_number", 32, &idn) || !gw_get_bool(r, q, "anonymous", &anon) ||
            !gw_get_bool(r, q, "confidential", &conf))
            return false;
        rq->name = (char *)(name ? name : "");
        rq->phone = (char *)(phone ? phone : "");
        rq->id_number = (char *)(idn ? idn : "");
        rq->anonymous = anon;
        rq->confidential = conf;
        in->requester = rq;
    }
    const hl_jv_t *l = hl_json_get(o, "location");
    if (!gw_absent(l)) {
        if (l->type != HL_JSON_OBJECT) {
            gw_reply_error(r, 400, "invalid", "'location' must be an object");
            return false;
        }
        const char *region, *address;
        if (!gw_only(r, l, lk, "location") || !gw_get_str(r, l, "region", 12, &region) ||
            !gw_get_str(r, l, "address", 512, &address))
            return false;
        loc->region = (char *)(region ? region : "");
        loc->address = (char *)(address ? address : "");
        const hl_jv_t *lat = hl_json_get(l, "lat"), *lon = hl_json_get(l, "long");
        if (!gw_absent(lat) || !gw_absent(lon)) {
            if (gw_absent(lat) || gw_absent(lon) || (lat->type != HL_JSON_INT && lat->type != HL_JSON_REAL) ||
                (lon->type != HL_JSON_INT && lon->type != HL_JSON_REAL)) {
                gw_reply_error(r, 400, "invalid", "'lat' and 'long' must both be numbers");
                return false;
            }
            loc->lat = lat->d;
            loc->long_ = lon->d;
            loc->has_coordinates = true;
        }
        in->location = loc;
    }
    return true;
}

/* Knowledge-base entries for the ticket's text (its title and the head of its
 * body), of any category: the text decides (an entry may be filed under a
 * neighbouring category, or none). */
static void kb_jw(gw_req_t *r, hl_jw_t *w, bool answers)
{
    const hl_jv_t *t = hl_json_get(r->json.v, "title"), *b = hl_json_get(r->json.v, "body");
    size_t limit = (size_t)r->gw->conf.gw_kb_suggestions;
    char q[384]; /* the title and the body's head (~120 characters): enough to match, cheap to score */
    size_t len = 0;
    const hl_jv_t *parts[2] = {t, b};
    for (int i = 0; i < 2; i++) {
        if (!parts[i] || parts[i]->type != HL_JSON_STRING) continue;
        if (len && len < sizeof q) q[len++] = ' ';
        size_t n = hl_utf8_cut(parts[i]->str, parts[i]->n, sizeof q - len); /* whole characters */
        memcpy(q + len, parts[i]->str, n);
        len += n;
    }
    gw_kb_suggest(r, w, q, len, NULL, limit, (float)r->gw->conf.gw_kb_min_score, answers);
}

static void deadlines_jw(const gw_t *gw, hl_jw_t *w, const Hotline__Deadlines *d)
{
    hl_jw_object(w);
    for (int i = 0; i < 3; i++) {
        char b[40];
        hl_jw_key(w, deadline_names[i]);
        hl_jw_str_or_null(w, gw_time(gw, deadline_at(d, i), b));
    }
    hl_jw_end(w);
}

/* What the router made of a new ticket (or would make of it: preview). */
static void intake_jw(gw_req_t *r, hl_jw_t *w, const Hotline__Ack *ack)
{
    hl_jw_key(w, "state");
    hl_jw_str(w, state_name(ack->state));
    hl_jw_key(w, "category");
    hl_jw_str(w, ack->category);
    hl_jw_key(w, "category_name");
    hl_jw_str(w, category_name(r, ack->category));
    hl_jw_key(w, "confidence");
    hl_jw_real(w, conf_round(ack->confidence));
    hl_jw_key(w, "unit");
    hl_jw_str_or_null(w, ack->unit);
    hl_jw_key(w, "unit_name");
    hl_jw_str(w, gw_refs_unit_name(r->refs, ack->unit));
    hl_jw_key(w, "assisting_units");
    hl_jw_array(w);
    for (size_t i = 0; i < ack->n_assisting_units; i++) hl_jw_str(w, ack->assisting_units[i]);
    hl_jw_end(w);
    hl_jw_key(w, "urgency");
    hl_jw_str(w, hl_urgency_name(ack->urgency));
    hl_jw_key(w, "type");
    hl_jw_str(w, hl_type_name(ack->type));
    hl_jw_key(w, "deadlines");
    deadlines_jw(r->gw, w, ack->deadlines);
}

/* The answers to POST tickets and to a preview are written directly (the
 * API's most frequent answers: jansson's tree cost a tenth of the gateway's
 * time per ticket). */
static void finish_create(gw_req_t *r)
{
    const Hotline__Ack *ack = r->ans[0] ? r->ans[0]->ack : NULL;
    if (!gw_ack_ok(r, ack, r->timed_out[0])) return;
    hl_buf_t out = HL_BUF_INIT;
    hl_buf_reserve(&out, 1024);
    hl_jw_t w;
    hl_jw_init(&w, &out);
    hl_jw_object(&w);
    hl_jw_key(&w, "ticket");
    hl_jw_str(&w, ack->ticket);
    intake_jw(r, &w, ack);
    hl_jw_key(&w, "duplicates");
    similar_jw(r, &w, ack, ack->ticket);
    hl_jw_key(&w, "kb");
    kb_jw(r, &w, false);
    hl_jw_key(&w, "replayed");
    hl_jw_bool(&w, ack->replayed);
    hl_jw_key(&w, "version");
    hl_jw_int(&w, ack->version);
    hl_jw_end(&w);
    char loc[96];
    snprintf(loc, sizeof loc, "/api/v1/tickets/%s", ack->ticket);
    gw_reply_jw(r, ack->replayed ? 200 : 201, &out);
    gw_add_header(r, "Location", loc);
}

static void finish_preview(gw_req_t *r)
{
    const Hotline__Ack *ack = r->ans[0] ? r->ans[0]->ack : NULL;
    if (!gw_ack_ok(r, ack, r->timed_out[0])) return;
    hl_buf_t out = HL_BUF_INIT;
    hl_jw_t w;
    hl_jw_init(&w, &out);
    hl_jw_object(&w);
    intake_jw(r, &w, ack);
    hl_jw_key(&w, "similar");
    similar_jw(r, &w, ack, NULL);
    hl_jw_key(&w, "kb");
    kb_jw(r, &w, true);
    hl_jw_end(&w);
    gw_reply_jw(r, 200, &out);
}

static void create(gw_req_t *r, bool preview)
{
    if (!gw_authenticate(r, GW_ROLES_STAFF)) return;
    const hl_jv_t *o = gw_body_object(r);
    if (!o) return;
    Hotline__Intake in = HOTLINE__INTAKE__INIT;
    Hotline__Requester rq = HOTLINE__REQUESTER__INIT;
    Hotline__Location loc = HOTLINE__LOCATION__INIT;
    if (!intake_of(r, o, &in, &rq, &loc)) return;
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    env.body_case = HOTLINE__ENVELOPE__BODY_INTAKE;
    env.intake = &in;
    if (preview) {
        in.dry_run = true;
        gw_call(r, &env);
        gw_wait(r, finish_preview);
        return;
    }
    if (!idempotency_key(r, 't')) return;
    in.idempotency_key = r->key;
    in.similar = strcmp(r->gw->conf.gw_similar, "on") == 0; /* the duplicates, in the same answer */
    gw_call(r, &env);
    gw_wait(r, finish_create);
}

/* ------------------------------------------------------------ reads */

static void finish_get(gw_req_t *r)
{
    const Hotline__Ack *ack = r->ans[0] ? r->ans[0]->ack : NULL;
    if (!gw_ack_ok(r, ack, r->timed_out[0])) return;
    if (!ack->result || ack->result->n_tickets != 1) {
        gw_reply_error(r, 404, "not_found", "no such ticket");
        return;
    }
    json_t *o = view_json(r, ack->result->tickets[0]);
    json_t *h = json_array();
    for (size_t i = 0; i < ack->result->n_events; i++) json_array_append_new(h, event_json(r, ack->result->events[i]));
    json_object_set_new(o, "history", h);
    /* What this token may do now (the router decides; this is for the
     * console's buttons). A unit acts on its own tickets only; deadline
     * notices are the watcher's. */
    const Hotline__TicketView *v = ack->result->tickets[0];
    char allowed[512] = "";
    if (r->tok.role != HL_ROLE_UNIT || strcmp(v->unit, r->tok.unit) == 0)
        hl_lifecycle_allowed((hl_state_t)v->state, r->tok.role, allowed, sizeof allowed);
    json_t *acts = json_array();
    for (char *save = NULL, *a = strtok_r(allowed, ",", &save); a; a = strtok_r(NULL, ",", &save))
        if (strcmp(a, "notify") != 0) json_array_append_new(acts, json_string(a));
    json_object_set_new(o, "actions", acts);
    gw_reply_json(r, 200, o);
}

static void get_ticket(gw_req_t *r, const char *no)
{
    if (!gw_authenticate(r, GW_ROLES_ALL)) return;
    const char *reveal = gw_arg(r, "reveal");
    if (reveal && (!*reveal || strlen(reveal) > 500)) {
        gw_reply_error(r, 400, "invalid", "reveal must give the reason (1-500 bytes) for seeing personal data");
        return;
    }
    snprintf(r->ticket, sizeof r->ticket, "%.31s", no);
    Hotline__Query q = HOTLINE__QUERY__INIT;
    Hotline__Actor a;
    char id[96];
    actor_of(r, &a, id);
    q.kind = HOTLINE__QUERY_KIND__QUERY_GET;
    q.actor = &a;
    q.ticket = r->ticket;
    q.reveal_reason = (char *)(reveal ? reveal : "");
    gw_query(r, &q, finish_get);
}

void gw_csv_field(hl_buf_t *b, const char *s, bool last)
{
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote) hl_buf_putc(b, '"');
    /* A leading =, +, - or @ would be a formula in a spreadsheet. */
    if (s[0] && strchr("=+-@", s[0])) hl_buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '"') hl_buf_putc(b, '"');
        hl_buf_putc(b, *s);
    }
    if (quote) hl_buf_putc(b, '"');
    hl_buf_puts(b, last ? "\r\n" : ",");
}

static void finish_list(gw_req_t *r)
{
    const Hotline__Ack *ack = r->ans[0] ? r->ans[0]->ack : NULL;
    if (!gw_ack_ok(r, ack, r->timed_out[0])) return;
    size_t n = ack->result ? ack->result->n_tickets : 0;
    if (r->kind == K_CSV) {
        hl_buf_t b = HL_BUF_INIT;
        hl_buf_puts(&b, "\xEF\xBB\xBFticket,state,created_at,category,category_name,unit,unit_name,urgency,type,"
                        "region,reply_due,closed_at,overdue,requester_name,requester_phone,title\r\n");
        for (size_t i = 0; i < n; i++) {
            const Hotline__TicketView *v = ack->result->tickets[i];
            const gw_category_t *c = gw_refs_category(r->refs, v->category);
            char t1[40], t2[40], t3[40];
            gw_csv_field(&b, v->ticket, false);
            gw_csv_field(&b, state_name(v->state), false);
            gw_csv_field(&b, gw_time(r->gw, v->created_at, t1), false);
            gw_csv_field(&b, v->category, false);
            gw_csv_field(&b, c ? c->name : "", false);
            gw_csv_field(&b, v->unit, false);
            gw_csv_field(&b, gw_refs_unit_name(r->refs, v->unit), false);
            gw_csv_field(&b, hl_urgency_name(v->urgency), false);
            gw_csv_field(&b, hl_type_name(v->type), false);
            gw_csv_field(&b, v->region, false);
            gw_csv_field(&b, gw_time(r->gw, v->deadlines ? v->deadlines->reply : 0, t2), false);
            gw_csv_field(&b, gw_time(r->gw, v->closed_at, t3), false);
            gw_csv_field(&b, v->overdue ? "yes" : "no", false);
            gw_csv_field(&b, v->requester ? v->requester->name : "", false);
            gw_csv_field(&b, v->requester ? v->requester->phone : "", false);
            gw_csv_field(&b, v->title, true);
        }
        /* Every export is recorded: who, how many (never what). */
        hl_info("export: %zu tickets as CSV by %s#%lld", n, role_name(r->tok.role), (long long)r->tok.id);
        gw_reply_text(r, 200, "text/csv; charset=utf-8", b.data ? b.data : strdup(""), b.len);
        gw_add_header(r, "Content-Disposition", "attachment; filename=\"tickets.csv\"");
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, view_json(r, ack->result->tickets[i]));
    json_t *o = json_pack("{s:o, s:I}", "tickets", a, "count", (json_int_t)n);
    if (n) {
        char b[40];
        json_object_set_new(o, "next_before",
                            json_string(gw_time(r->gw, ack->result->tickets[n - 1]->created_at, b)));
    }
    gw_reply_json(r, 200, o);
}

bool gw_time_arg(gw_req_t *r, const char *name, int64_t *out)
{
    const char *s = gw_arg(r, name);
    *out = 0;
    if (!s || !*s) return true;
    if (gw_parse_time(r->gw, s, out) != 0) {
        gw_reply_error(r, 400, "invalid", "'%s' must be a date (YYYY-MM-DD) or an ISO 8601 time", name);
        return false;
    }
    return true;
}

bool gw_code_arg(gw_req_t *r, const char *name, char *out, size_t len)
{
    const char *v = gw_arg(r, name);
    out[0] = '\0';
    if (!v) return true;
    if (strlen(v) >= len || !hl_utf8_valid(v, strlen(v))) {
        gw_reply_error(r, 400, "invalid", "'%s' must be a code of up to %zu bytes", name, len - 1);
        return false;
    }
    memcpy(out, v, strlen(v) + 1);
    return true;
}

bool gw_unit_scope(gw_req_t *r, char *unit, size_t len, const char *what)
{
    if (r->tok.role != HL_ROLE_UNIT) return true;
    if (*unit && strcmp(unit, r->tok.unit) != 0) {
        gw_reply_error(r, 403, "forbidden", "a unit reads its own %s only", what);
        return false;
    }
    snprintf(unit, len, "%s", r->tok.unit);
    return true;
}

bool gw_period_args(gw_req_t *r, int64_t *from, int64_t *to)
{
    if (!gw_time_arg(r, "from", from) || !gw_time_arg(r, "to", to)) return false;
    if (!*to) *to = hl_now_ms();
    if (!*from) *from = *to - 30LL * 86400000;
    if (*from >= *to) {
        gw_reply_error(r, 400, "invalid", "'from' must be before 'to'");
        return false;
    }
    return true;
}

bool gw_int_arg(gw_req_t *r, const char *name, long def, long min, long max, long *out)
{
    const char *s = gw_arg(r, name);
    *out = def;
    if (!s) return true;
    char *end;
    errno = 0;
    *out = strtol(s, &end, 10);
    if (!*s || *end || errno || *out < min || *out > max) {
        gw_reply_error(r, 400, "invalid", "'%s' must be a whole number from %ld to %ld", name, min, max);
        return false;
    }
    return true;
}

static void list_tickets(gw_req_t *r)
{
    if (!gw_authenticate(r, GW_ROLES_ALL)) return;
    const char *fmt = gw_arg(r, "format");
    r->kind = fmt && strcmp(fmt, "csv") == 0 ? K_CSV : K_LIST;
    if (fmt && r->kind != K_CSV && strcmp(fmt, "json") != 0) {
        gw_reply_error(r, 400, "invalid", "format must be json or csv");
        return;
    }
    const char *state = gw_arg(r, "state"), *unit = gw_arg(r, "unit"), *category = gw_arg(r, "category");
    int64_t from, to, before;
    long lim;
    if (!gw_time_arg(r, "from", &from) || !gw_time_arg(r, "to", &to) || !gw_time_arg(r, "before", &before) ||
        !gw_int_arg(r, "limit", 50, 1, r->kind == K_CSV ? 1000 : 500, &lim))
        return;
    if (r->tok.role == HL_ROLE_UNIT && !unit) unit = r->tok.unit; /* a unit lists its own */
    Hotline__Query q = HOTLINE__QUERY__INIT;
    Hotline__Actor a;
    char id[96];
    actor_of(r, &a, id);
    q.kind = HOTLINE__QUERY_KIND__QUERY_LIST;
    q.actor = &a;
    q.unit = (char *)(unit ? unit : "");
    q.state = (char *)(state ? state : "");
    q.category = (char *)(category ? category : "");
    q.from = from;
    q.to = to;
    q.before = before;
    q.limit = (int32_t)lim;
    gw_query(r, &q, finish_list);
}

/* ------------------------------------------------------------ actions */

static void finish_action(gw_req_t *r)
{
    const Hotline__Ack *ack = r->ans[0] ? r->ans[0]->ack : NULL;
    if (!gw_ack_ok(r, ack, r->timed_out[0])) return;
    json_t *o = json_object();
    json_object_set_new(o, "ticket", json_string(ack->ticket));
    json_object_set_new(o, "state", json_string(state_name(ack->state)));
    json_object_set_new(o, "version", json_integer(ack->version));
    json_object_set_new(o, "unit", *ack->unit ? json_string(ack->unit) : json_null());
    json_object_set_new(o, "assisting_units", strings_json(ack->assisting_units, ack->n_assisting_units));
    json_object_set_new(o, "deadlines", deadlines_json(r->gw, ack->deadlines));
    json_object_set_new(o, "replayed", json_boolean(ack->replayed));
    json_object_set_new(o, "message", json_string(ack->message));
    gw_reply_json(r, 200, o);
}

static void act(gw_req_t *r, const char *no)
{
    if (!gw_authenticate(r, GW_ROLES_ALL)) return;
    const hl_jv_t *o = gw_body_object(r);
    if (!o) return;
    const char *action, *reason, *code;
    if (!gw_get_str(r, o, "action", 32, &action) || !gw_get_str(r, o, "reason", 2000, &reason) ||
        !gw_get_str(r, o, "reason_code", 64, &code))
        return;
    hl_action_t kind;
    if (!action || hl_action_parse(action, &kind) != 0) {
        gw_reply_error(r, 400, "invalid", "'action' must name a lifecycle action (sign, return, reply, ...)");
        return;
    }
    int64_t expected = 0;
    const hl_jv_t *ev = hl_json_get(o, "expected_version");
    if (!gw_absent(ev)) {
        if (ev->type != HL_JSON_INT || ev->i < 1) {
            gw_reply_error(r, 400, "invalid", "'expected_version' must be a positive whole number");
            return;
        }
        expected = ev->i;
    }
    /* Everything else is the action's details, as text. */
    Hotline__Action__PayloadEntry pe[MAX_PAYLOAD], *pp[MAX_PAYLOAD];
    char nums[MAX_PAYLOAD][32];
    size_t np = 0;
    hl_json_foreach(o, k, v)
    {
        const char *key = k->str;
        if (!strcmp(key, "action") || !strcmp(key, "reason") || !strcmp(key, "reason_code") ||
            !strcmp(key, "expected_version"))
            continue;
        if (np == MAX_PAYLOAD) {
            gw_reply_error(r, 413, "too_large", "more than %d details", MAX_PAYLOAD);
            return;
        }
        hotline__action__payload_entry__init(&pe[np]);
        pe[np].key = (char *)key;
        if (v->type == HL_JSON_STRING) {
            pe[np].value = (char *)v->str;
        } else if (v->type == HL_JSON_INT) {
            snprintf(nums[np], sizeof nums[np], "%lld", (long long)v->i);
            pe[np].value = nums[np];
        } else if (v->type == HL_JSON_TRUE || v->type == HL_JSON_FALSE) {
            pe[np].value = v->type == HL_JSON_TRUE ? "true" : "false";
        } else {
            gw_reply_error(r, 400, "invalid", "'%.64s' must be a string, a whole number or a boolean", key);
            return;
        }
        pp[np] = &pe[np];
        np++;
    }
    /* An answer citing knowledge-base entries by id alone cites the versions
     * served now; an entry not served is refused here. */
    char versions[HL_KB_CITED_MAX * 12 + 1];
    if (kind == HOTLINE__ACTION_KIND__ACTION_CLOSE_DIRECT || kind == HOTLINE__ACTION_KIND__ACTION_REPLY) {
        const char *entries = NULL;
        bool has_version = false;
        for (size_t i = 0; i < np; i++) {
            if (!strcmp(pe[i].key, "kb_entry")) entries = pe[i].value;
            has_version |= !strcmp(pe[i].key, "kb_version");
        }
        if (entries && !has_version) {
            if (gw_kb_versions(r->gw, entries, versions, sizeof versions) != 0) {
                gw_reply_error(r, 400, "invalid",
                               "'kb_entry' must name up to %d published knowledge-base entries (\"12\" or \"12,40\")",
                               HL_KB_CITED_MAX);
                return;
            }
            if (np == MAX_PAYLOAD) {
                gw_reply_error(r, 413, "too_large", "more than %d details", MAX_PAYLOAD);
                return;
            }
            hotline__action__payload_entry__init(&pe[np]);
            pe[np].key = "kb_version";
            pe[np].value = versions;
            pp[np] = &pe[np];
            np++;
        }
    }
    if (!idempotency_key(r, 'a')) return;
    snprintf(r->ticket, sizeof r->ticket, "%.31s", no);
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    Hotline__Action a = HOTLINE__ACTION__INIT;
    Hotline__Actor who;
    char id[96];
    actor_of(r, &who, id);
    a.ticket = r->ticket;
    a.actor = &who;
    a.kind = kind;
    a.reason = (char *)(reason ? reason : "");
    a.reason_code = (char *)(code ? code : "");
    a.expected_version = expected;
    a.idempotency_key = r->key;
    a.n_payload = np;
    a.payload = pp;
    env.body_case = HOTLINE__ENVELOPE__BODY_ACTION;
    env.action = &a;
    gw_call(r, &env);
    gw_wait(r, finish_action);
}

/* ------------------------------------------------------------ progress */

static void finish_progress(gw_req_t *r)
{
    const Hotline__Ack *ack = r->ans[0] ? r->ans[0]->ack : NULL;
    if (ack && ack->status == HOTLINE__STATUS__STATUS_NOT_FOUND) {
        gw_reply_error(r, 404, "not_found", "no ticket with this number and phone number");
        return;
    }
    if (!gw_ack_ok(r, ack, r->timed_out[0])) return;
    if (!ack->result || ack->result->n_tickets != 1) {
        gw_reply_error(r, 404, "not_found", "no ticket with this number and phone number");
        return;
    }
    const Hotline__TicketView *v = ack->result->tickets[0];
    json_t *o = json_object();
    json_object_set_new(o, "ticket", json_string(v->ticket));
    json_object_set_new(o, "state", json_string(state_name(v->state)));
    json_object_set_new(o, "category_name", category_json(r, v->category));
    json_object_set_new(o, "unit_name", json_string(gw_refs_unit_name(r->refs, v->unit)));
    json_object_set_new(o, "received_at", time_json(r->gw, v->received_at));
    json_object_set_new(o, "reply_due", time_json(r->gw, v->deadlines ? v->deadlines->reply : 0));
    json_object_set_new(o, "closed_at", time_json(r->gw, v->closed_at));
    json_t *h = json_array();
    for (size_t i = 0; i < ack->result->n_events; i++) {
        const Hotline__Event *e = ack->result->events[i];
        json_array_append_new(h, json_pack("{s:o, s:s, s:s}", "at", time_json(r->gw, e->at), "event", e->kind,
                                           "state", state_name(e->to_state)));
    }
    json_object_set_new(o, "history", h);
    gw_reply_json(r, 200, o);
}

static void progress(gw_req_t *r)
{
    char bucket[80];
    snprintf(bucket, sizeof bucket, "ip:%s", r->ip);
    double per_min = (double)r->gw->conf.gw_progress_per_min;
    int wait = gw_auth_take(r->gw->auth, bucket, per_min / 60.0, per_min);
    if (wait) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", wait);
        gw_reply_error(r, 429, "rate_limited", "too many progress queries from this address; wait %d s", wait);
        gw_add_header(r, "Retry-After", ra);
        return;
    }
    const char *no = gw_arg(r, "ticket"), *tail = gw_arg(r, "phone_tail");
    if (!no || !tail || strlen(no) > 31 || strlen(tail) != 4 || strspn(tail, "0123456789") != 4) {
        gw_reply_error(r, 400, "invalid", "give ticket and phone_tail (the last 4 digits of the phone number)");
        return;
    }
    snprintf(r->ticket, sizeof r->ticket, "%s", no);
    snprintf(r->key, sizeof r->key, "%s", tail);
    Hotline__Query q = HOTLINE__QUERY__INIT;
    Hotline__Actor a = HOTLINE__ACTOR__INIT;
    a.role = "system";
    a.id = "citizen";
    q.kind = HOTLINE__QUERY_KIND__QUERY_PROGRESS;
    q.actor = &a;
    q.ticket = r->ticket;
    q.phone_tail = r->key;
    gw_query(r, &q, finish_progress);
}

/* ------------------------------------------------------------ small ones */

static void me(gw_req_t *r)
{
    if (!gw_authenticate(r, GW_ROLES_ALL | GW_ROLE_OPEN311)) return;
    gw_reply_json(r, 200,
                  json_pack("{s:s, s:s, s:s, s:s, s:s}", "role", role_name(r->tok.role), "unit", r->tok.unit,
                            "unit_name", gw_refs_unit_name(r->refs, r->tok.unit), "name", r->tok.name, "token",
                            r->tok.prefix));
}

static void reference(gw_req_t *r)
{
    if (!gw_authenticate(r, GW_ROLES_ALL)) return;
    json_t *cats = json_array(), *units = json_array(), *regions = json_array();
    for (size_t i = 0; r->refs && i < r->refs->ncats; i++)
        json_array_append_new(cats, json_pack("{s:s, s:s, s:s}", "code", r->refs->cats[i].code, "name",
                                              r->refs->cats[i].name, "parent", r->refs->cats[i].parent));
    for (size_t i = 0; r->refs && i < r->refs->nunits; i++)
        json_array_append_new(units, json_pack("{s:s, s:s}", "code", r->refs->units[i].code, "name",
                                               r->refs->units[i].name));
    for (size_t i = 0; r->refs && i < r->refs->nregions; i++)
        json_array_append_new(regions, json_pack("{s:s, s:s, s:s}", "code", r->refs->regions[i].code, "name",
                                                 r->refs->regions[i].name, "parent", r->refs->regions[i].parent));
    gw_reply_json(r, 200, json_pack("{s:o, s:o, s:o}", "categories", cats, "units", units, "regions", regions));
}

void gw_not_allowed(gw_req_t *r, const char *allow)
{
    gw_reply_error(r, 405, "method_not_allowed", "use %s here", allow);
    gw_add_header(r, "Allow", allow);
}

/* A ticket number in a path: digits only. */
static bool ticket_segment(const char *s, size_t n)
{
    if (n < 16 || n > 27) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

void gw_api(gw_req_t *r, const char *path)
{
    bool get = strcmp(r->method, "GET") == 0, post = strcmp(r->method, "POST") == 0;
    if (strcmp(path, "/tickets") == 0) {
        if (post) create(r, false);
        else if (get) list_tickets(r);
        else gw_not_allowed(r, "GET, POST");
    } else if (strcmp(path, "/tickets/preview") == 0) {
        if (post) create(r, true);
        else gw_not_allowed(r, "POST");
    } else if (strncmp(path, "/tickets/", 9) == 0) {
        const char *no = path + 9;
        size_t n = strcspn(no, "/");
        if (!ticket_segment(no, n)) {
            gw_reply_error(r, 404, "not_found", "'%.*s' is not a ticket number", n > 40 ? 40 : (int)n, no);
            return;
        }
        char num[32];
        snprintf(num, sizeof num, "%.*s", (int)n, no);
        if (no[n] == '\0') {
            if (get) get_ticket(r, num);
            else gw_not_allowed(r, "GET");
        } else if (strcmp(no + n, "/actions") == 0) {
            if (post) act(r, num);
            else gw_not_allowed(r, "POST");
        } else {
            gw_reply_error(r, 404, "not_found", "no such resource");
        }
    } else if (strcmp(path, "/stats") == 0) {
        gw_stats_api(r);
    } else if (strcmp(path, "/deadlines") == 0) {
        gw_deadlines_api(r);
    } else if (strcmp(path, "/hotspots") == 0) {
        gw_hotspots_api(r);
    } else if (strcmp(path, "/report") == 0) {
        gw_report_api(r);
    } else if (strcmp(path, "/kb") == 0 || strncmp(path, "/kb/", 4) == 0) {
        gw_kb_api(r, path + 3);
    } else if (strcmp(path, "/progress") == 0) {
        if (get) progress(r);
        else gw_not_allowed(r, "GET");
    } else if (strcmp(path, "/me") == 0) {
        if (get) me(r);
        else gw_not_allowed(r, "GET");
    } else if (strcmp(path, "/reference") == 0) {
        if (get) reference(r);
        else gw_not_allowed(r, "GET");
    } else {
        gw_reply_error(r, 404, "not_found", "no such resource");
    }
}
