/* open311.c - Open311 GeoReport v2 under /open311/v2 (DOMAIN.md section (e)).
 *
 * discovery, services (our categories), service definitions, POST requests
 * (form-encoded, api_key: a token of role open311), GET requests (filters,
 * at most 90 days and 1,000 requests), GET one request, tokens; each in
 * .xml and .json. Answers carry nothing personal: confidential tickets are
 * left out, phone and id numbers in descriptions masked, the address is the
 * street (region), coordinates rounded. Errors in the spec's format.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/utf8.h"

#include "gateway.h"

#define MAX_DAYS 90
#define MAX_REQUESTS 1000
#define MAX_DESCRIPTION 4000 /* characters */

/* ------------------------------------------------------------ XML */

static void xml_text(hl_buf_t *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': hl_buf_puts(b, "&amp;"); break;
        case '<': hl_buf_puts(b, "&lt;"); break;
        case '>': hl_buf_puts(b, "&gt;"); break;
        case '"': hl_buf_puts(b, "&quot;"); break;
        case '\'': hl_buf_puts(b, "&apos;"); break;
        default:
            /* Control characters are not allowed in XML 1.0. */
            if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n' || *s == '\r') hl_buf_putc(b, *s);
        }
    }
}

/* The element name of an array's items. */
static const char *item_name(const char *array)
{
    if (!strcmp(array, "services")) return "service";
    if (!strcmp(array, "service_requests")) return "request";
    if (!strcmp(array, "errors")) return "error";
    if (!strcmp(array, "endpoints")) return "endpoint";
    if (!strcmp(array, "formats")) return "format";
    if (!strcmp(array, "attributes")) return "attribute";
    if (!strcmp(array, "values")) return "value";
    return "item";
}

static void xml_of(hl_buf_t *b, const char *name, json_t *v)
{
    hl_buf_printf(b, "<%s>", name);
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) xml_of(b, k, x);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) xml_of(b, item_name(name), x);
    } else if (json_is_string(v)) {
        xml_text(b, json_string_value(v));
    } else if (json_is_integer(v)) {
        hl_buf_printf(b, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        hl_buf_printf(b, "%.6f", json_real_value(v));
    } else if (json_is_boolean(v)) {
        hl_buf_puts(b, json_is_true(v) ? "true" : "false");
    }
    hl_buf_printf(b, "</%s>", name);
}

/* Answer v (taken) as JSON, or as XML under root. */
static void reply(gw_req_t *r, int status, const char *root, json_t *v)
{
    if (!r->xml) {
        gw_reply_json(r, status, v);
        return;
    }
    hl_buf_t b = HL_BUF_INIT;
    hl_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    xml_of(&b, root, v);
    json_decref(v);
    gw_reply_text(r, status, "text/xml; charset=utf-8", b.data, b.len);
}

static void error(gw_req_t *r, int status, const char *fmt, ...) HL_PRINTF(3, 4);
static void error(gw_req_t *r, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply(r, status, "errors", json_pack("[{s:i, s:s}]", "code", status, "description", msg));
}

/* A router answer that is not OK, in Open311's words. */
static bool ack_ok(gw_req_t *r, const Hotline__Ack *ack, bool timed_out)
{
    if (timed_out || !ack) {
        error(r, 503, "the service is busy; try again");
        gw_add_header(r, "Retry-After", "1");
        return false;
    }
    if (ack->status == HOTLINE__STATUS__STATUS_OK) return true;
    int st = gw_http_status(ack->status);
    /* The spec knows 400, 403 and 404; others stay as they are. */
    error(r, st, "%s", ack->message);
    if (st == 503) gw_add_header(r, "Retry-After", "1");
    return false;
}

/* ------------------------------------------------------------ services */

static json_t *service_json(const gw_refs_t *refs, const gw_category_t *c)
{
    const gw_category_t *top = *c->parent ? gw_refs_category(refs, c->parent) : c;
    json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "service_code", c->code, "service_name", c->name,
                          "description", c->name, "metadata", 0, "type", "realtime", "keywords", c->keywords, "group",
                          top ? top->name : c->name);
    return o;
}

static void services(gw_req_t *r)
{
    json_t *a = json_array();
    for (size_t i = 0; r->refs && i < r->refs->ncats; i++) json_array_append_new(a, service_json(r->refs, &r->refs->cats[i]));
    reply(r, 200, "services", a);
}

static void service_definition(gw_req_t *r, const char *code)
{
    const gw_category_t *c = gw_refs_category(r->refs, code);
    if (!c) {
        error(r, 404, "service_code %s not found", code);
        return;
    }
    reply(r, 200, "service_definition", json_pack("{s:s, s:[]}", "service_code", c->code, "attributes"));
}

static void discovery(gw_req_t *r)
{
    char url[256];
    snprintf(url, sizeof url, "%s/open311/v2", r->gw->base_url);
    reply(r, 200, "discovery",
          json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:[s, s]}]}", "changeset", "2026-11-22T00:00:00+08:00",
                    "contact", "12345", "key_service", "api_key: a token of role open311 from the hotline office",
                    "endpoints", "specification", "http://wiki.open311.org/GeoReport_v2", "url", url, "changeset",
                    "2026-11-22T00:00:00+08:00", "type", "production", "formats", "text/xml", "application/json"));
}

/* ------------------------------------------------------------ requests */

static json_t *request_json(gw_req_t *r, const Hotline__TicketView *v)
{
    const gw_category_t *c = gw_refs_category(r->refs, v->category);
    bool open = v->state != HOTLINE__STATE__STATE_CLOSED && !hl_state_terminal(v->state);
    char req[40], upd[40], exp[40];
    int64_t reply_due = v->deadlines ? v->deadlines->reply : 0;
    char notice[160] = "";
    if (open && reply_due) snprintf(notice, sizeof notice, "承诺于 %s 前答复", gw_time(r->gw, reply_due, exp));
    json_t *o = json_object();
    json_object_set_new(o, "service_request_id", json_string(v->ticket));
    json_object_set_new(o, "status", json_string(open ? "open" : "closed"));
    json_object_set_new(o, "status_notes", json_string(hl_state_name(v->state)));
    json_object_set_new(o, "service_name", json_string(c ? c->name : ""));
    json_object_set_new(o, "service_code", json_string(v->category));
    json_object_set_new(o, "description", json_string(v->body));
    json_object_set_new(o, "agency_responsible", json_string(gw_refs_unit_name(r->refs, v->unit)));
    json_object_set_new(o, "service_notice", json_string(notice));
    json_object_set_new(o, "requested_datetime", json_string(gw_time(r->gw, v->created_at, req)));
    json_object_set_new(o, "updated_datetime",
                        json_string(gw_time(r->gw, !open && v->closed_at ? v->closed_at : v->updated_at, upd)));
    json_object_set_new(o, "expected_datetime", json_string(open ? gw_time(r->gw, reply_due, exp) : ""));
    json_object_set_new(o, "address", json_string(gw_refs_region_name(r->refs, v->region)));
    json_object_set_new(o, "address_id", json_string(v->region));
    json_object_set_new(o, "zipcode", json_string(""));
    if (v->location && v->location->has_coordinates) {
        json_object_set_new(o, "lat", json_real(v->location->lat));
        json_object_set_new(o, "long", json_real(v->location->long_));
    } else {
        json_object_set_new(o, "lat", json_string(""));
        json_object_set_new(o, "long", json_string(""));
    }
    json_object_set_new(o, "media_url", json_string(""));
    return o;
}

static void finish_list(gw_req_t *r)
{
    const Hotline__Ack *ack = r->ans[0] ? r->ans[0]->ack : NULL;
    if (!ack_ok(r, ack, r->timed_out[0])) return;
    size_t n = ack->result ? ack->result->n_tickets : 0;
    if (r->kind == 1 && n == 0) {
        error(r, 404, "service_request_id %s not found", r->ticket);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, request_json(r, ack->result->tickets[i]));
    reply(r, 200, "service_requests", a);
}

static void list_query(gw_req_t *r, Hotline__Query *q)
{
    Hotline__Actor a = HOTLINE__ACTOR__INIT;
    a.role = "system";
    a.id = "open311";
    q->kind = HOTLINE__QUERY_KIND__QUERY_LIST;
    q->actor = &a;
    q->public_ = true;
    gw_query(r, q, finish_list);
}

static void get_requests(gw_req_t *r)
{
    const char *ids = gw_arg(r, "service_request_id"), *code = gw_arg(r, "service_code"),
               *start = gw_arg(r, "start_date"), *end = gw_arg(r, "end_date"), *status = gw_arg(r, "status");
    Hotline__Query q = HOTLINE__QUERY__INIT;
    q.limit = MAX_REQUESTS;
    char *numbers[MAX_REQUESTS];
    char copy[MAX_REQUESTS * 28];
    if (ids && *ids) {
        /* A list of ids overrides the other filters. */
        if (strlen(ids) >= sizeof copy) {
            error(r, 400, "at most %d service_request_id values", MAX_REQUESTS);
            return;
        }
        snprintf(copy, sizeof copy, "%s", ids);
        size_t n = 0;
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ') t++;
            if (n == MAX_REQUESTS || strlen(t) < 16 || strlen(t) > 27 || strspn(t, "0123456789") != strlen(t)) {
                error(r, 400, "service_request_id must be a comma-separated list of request ids");
                return;
            }
            numbers[n++] = t;
        }
        q.n_tickets = n;
        q.tickets = numbers;
        list_query(r, &q);
        return;
    }
    int64_t now = hl_now_ms(), from = 0, to = 0;
    if ((start && *start && gw_parse_time(r->gw, start, &from) != 0) || (end && *end && gw_parse_time(r->gw, end, &to) != 0)) {
        error(r, 400, "start_date and end_date must be W3C date-times with their time zone");
        return;
    }
    if (!to) to = from ? from + (int64_t)MAX_DAYS * 86400000 : now + 60000;
    if (!from) from = to - (int64_t)MAX_DAYS * 86400000;
    if (to <= from) {
        error(r, 400, "end_date must come after start_date");
        return;
    }
    if (to - from > (int64_t)MAX_DAYS * 86400000) {
        error(r, 400, "the date range is over %d days", MAX_DAYS);
        return;
    }
    if (code && *code && !gw_refs_category(r->refs, code)) {
        error(r, 404, "service_code %s not found", code);
        return;
    }
    const char *st = "";
    if (status && *status) {
        bool open = strstr(status, "open") != NULL, closed = strstr(status, "closed") != NULL;
        if (!open && !closed) {
            error(r, 400, "status must be open or closed");
            return;
        }
        st = open && closed ? "" : open ? "open" : "closed";
    }
    q.category = (char *)(code ? code : "");
    q.from = from;
    q.to = to;
    q.status = (char *)st;
    list_query(r, &q);
}

static void get_request(gw_req_t *r, const char *id)
{
    size_t n = strlen(id);
    _Static_assert(sizeof ((gw_req_t *)0)->ticket > 27, "a ticket number of 27 digits fits");
    if (n < 16 || n > 27 || strspn(id, "0123456789") != n) {
        error(r, 404, "service_request_id %.40s not found", id);
        return;
    }
    memcpy(r->ticket, id, n + 1);
    r->kind = 1;
    char *one[1] = {r->ticket};
    Hotline__Query q = HOTLINE__QUERY__INIT;
    q.n_tickets = 1;
    q.tickets = one;
    q.limit = 1;
    list_query(r, &q);
}

static void finish_token(gw_req_t *r)
{
    const Hotline__Ack *ack = r->ans[0] ? r->ans[0]->ack : NULL;
    if (!ack_ok(r, ack, r->timed_out[0])) return;
    if (!ack->result || ack->result->n_tickets == 0) {
        error(r, 404, "token not found");
        return;
    }
    reply(r, 200, "service_requests",
          json_pack("[{s:s, s:s}]", "service_request_id", ack->result->tickets[0]->ticket, "token", r->key));
}

static void get_token(gw_req_t *r, const char *token)
{
    size_t n = strlen(token);
    if (n == 0 || n >= sizeof r->key) {
        error(r, 404, "token not found");
        return;
    }
    memcpy(r->key, token, n + 1);
    Hotline__Query q = HOTLINE__QUERY__INIT;
    Hotline__Actor a = HOTLINE__ACTOR__INIT;
    a.role = "system";
    a.id = "open311";
    q.kind = HOTLINE__QUERY_KIND__QUERY_KEY;
    q.actor = &a;
    q.key = r->key;
    q.public_ = true;
    gw_query(r, &q, finish_token);
}

/* ------------------------------------------------------------ POST */

typedef struct {
    char *keys[32], *values[32];
    int n;
} form_t;

/* Decode in place; false on a broken escape. */
static bool urldecode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '+') {
            *o++ = ' ';
        } else if (*s == '%') {
            int h = gw_hexval(s[1]), l = h >= 0 ? gw_hexval(s[2]) : -1;
            if (h < 0 || l < 0) return false;
            *o++ = (char)(h * 16 + l);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return true;
}

/* Parse the form in the body (kept in r->body, NUL-terminated). */
static bool parse_form(gw_req_t *r, form_t *f)
{
    hl_buf_putc(&r->body, '\0');
    char *save = NULL;
    for (char *pair = strtok_r(r->body.data, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        char *v = eq ? eq + 1 : pair + strlen(pair);
        if (eq) *eq = '\0';
        if (!urldecode(pair) || !urldecode(v)) {
            error(r, 400, "the form is not properly URL-encoded");
            return false;
        }
        if (!hl_utf8_valid(pair, strlen(pair)) || !hl_utf8_valid(v, strlen(v))) {
            error(r, 400, "the form must be UTF-8");
            return false;
        }
        if (f->n == 32) {
            error(r, 400, "too many form fields");
            return false;
        }
        f->keys[f->n] = pair;
        f->values[f->n] = v;
        f->n++;
    }
    return true;
}

static const char *field(const form_t *f, const char *k)
{
    const char *v = NULL;
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->keys[i], k) == 0) v = f->values[i];
    return v && *v ? v : NULL; /* empty and absent are the same (the spec) */
}

static void finish_post(gw_req_t *r)
{
    const Hotline__Ack *ack = r->ans[0] ? r->ans[0]->ack : NULL;
    if (!ack_ok(r, ack, r->timed_out[0])) return;
    char due[40], notice[160];
    snprintf(notice, sizeof notice, "已受理，承诺于 %s 前答复",
             gw_time(r->gw, ack->deadlines ? ack->deadlines->reply : 0, due));
    reply(r, ack->replayed ? 200 : 201, "service_requests",
          json_pack("[{s:s, s:s, s:s, s:n}]", "service_request_id", ack->ticket, "token", r->key, "service_notice",
                    notice, "account_id"));
}

static void post_request(gw_req_t *r)
{
    const char *ct = gw_header(r, "Content-Type");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
        error(r, 415, "send the request as application/x-www-form-urlencoded");
        return;
    }
    form_t f = {0};
    if (!parse_form(r, &f)) return;
    const char *key = field(&f, "api_key");
    if (!key || !gw_auth_lookup(r->gw->auth, key, &r->tok) || r->tok.role != GW_ROLE_OPEN311) {
        error(r, 403, "Invalid api_key received -- can't proceed with create_request.");
        return;
    }
    r->authed = true;
    char bucket[32];
    snprintf(bucket, sizeof bucket, "t%lld", (long long)r->tok.id);
    double per = r->tok.rate_per_s ? r->tok.rate_per_s : (double)r->gw->conf.gw_rate_per_s;
    if (gw_auth_take(r->gw->auth, bucket, per, r->tok.rate_per_s ? per : (double)r->gw->conf.gw_rate_burst)) {
        error(r, 429, "too many requests for this api_key; slow down");
        gw_add_header(r, "Retry-After", "1");
        return;
    }
    const char *code = field(&f, "service_code"), *lat = field(&f, "lat"), *lon = field(&f, "long"),
               *addr = field(&f, "address_string"), *addr_id = field(&f, "address_id"),
               *desc = field(&f, "description"), *first = field(&f, "first_name"), *last = field(&f, "last_name"),
               *phone = field(&f, "phone");
    if (!code) {
        error(r, 400, "service_code is required");
        return;
    }
    const gw_category_t *c = gw_refs_category(r->refs, code);
    if (!c) {
        error(r, 404, "service_code %.64s not found", code);
        return;
    }
    if (!(lat && lon) && !addr && !addr_id) {
        error(r, 400, "a location is required: lat and long, address_string or address_id");
        return;
    }
    if (desc && hl_utf8_count(desc, strlen(desc)) > MAX_DESCRIPTION) {
        error(r, 400, "description is over %d characters", MAX_DESCRIPTION);
        return;
    }
    if ((addr && strlen(addr) > 512) || (phone && strlen(phone) > 32) ||
        (first && strlen(first) > 30) || (last && strlen(last) > 30)) {
        error(r, 400, "a field is too long");
        return;
    }
    Hotline__Intake in = HOTLINE__INTAKE__INIT;
    Hotline__Requester rq = HOTLINE__REQUESTER__INIT;
    Hotline__Location loc = HOTLINE__LOCATION__INIT;
    char name[72] = "";
    snprintf(name, sizeof name, "%s%s", last ? last : "", first ? first : "");
    rq.name = name;
    rq.phone = (char *)(phone ? phone : "");
    rq.anonymous = !*name && !phone;
    in.requester = &rq;
    loc.address = (char *)(addr ? addr : "");
    /* address_id: a region code of ours (6-12 digits) locates the request. */
    loc.region = (char *)(addr_id && strlen(addr_id) >= 6 && strlen(addr_id) <= 12 &&
                                  strspn(addr_id, "0123456789") == strlen(addr_id)
                              ? addr_id
                              : "");
    if (lat && lon) {
        char *e1, *e2;
        loc.lat = strtod(lat, &e1);
        loc.long_ = strtod(lon, &e2);
        if (*e1 || *e2 || loc.lat < -90 || loc.lat > 90 || loc.long_ < -180 || loc.long_ > 180) {
            error(r, 400, "lat and long must be WGS84 degrees");
            return;
        }
        loc.has_coordinates = true;
    }
    in.location = &loc;
    in.channel = HOTLINE__CHANNEL__CHANNEL_OPEN311;
    in.category = (char *)c->code;
    in.title = "";
    in.body = (char *)(desc ? desc : c->name);
    const char *h = gw_header(r, "Idempotency-Key");
    if (h && *h && strlen(h) <= 100) {
        snprintf(r->key, sizeof r->key, "o%lld:%s", (long long)r->tok.id, h);
    } else {
        unsigned char rnd[12];
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) memset(rnd, 0, sizeof rnd);
        int n = snprintf(r->key, sizeof r->key, "o311-");
        for (size_t i = 0; i < sizeof rnd; i++) n += snprintf(r->key + n, sizeof r->key - (size_t)n, "%02x", rnd[i]);
    }
    for (char *p = r->key; *p; p++)
        if (*p <= 32 || *p >= 127) *p = '_';
    in.idempotency_key = r->key;
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    env.body_case = HOTLINE__ENVELOPE__BODY_INTAKE;
    env.intake = &in;
    gw_call(r, &env);
    gw_wait(r, finish_post);
}

/* ------------------------------------------------------------ routing */

void gw_open311(gw_req_t *r, const char *path)
{
    char p[256];
    snprintf(p, sizeof p, "%s", path);
    char *dot = strrchr(p, '.');
    if (!dot || (strcmp(dot, ".json") && strcmp(dot, ".xml"))) {
        r->xml = 1;
        error(r, 404, "format not supported: use .xml or .json");
        return;
    }
    r->xml = strcmp(dot, ".xml") == 0;
    *dot = '\0';
    bool get = strcmp(r->method, "GET") == 0, post = strcmp(r->method, "POST") == 0;
    if (!get && !post) {
        error(r, 405, "use GET (or POST for requests)");
        gw_add_header(r, "Allow", "GET, POST");
        return;
    }
    if (strcmp(p, "/discovery") == 0 && get) discovery(r);
    else if (strcmp(p, "/services") == 0 && get) services(r);
    else if (strncmp(p, "/services/", 10) == 0 && get) service_definition(r, p + 10);
    else if (strcmp(p, "/requests") == 0 && get) get_requests(r);
    else if (strcmp(p, "/requests") == 0 && post) post_request(r);
    else if (strncmp(p, "/requests/", 10) == 0 && get) get_request(r, p + 10);
    else if (strncmp(p, "/tokens/", 8) == 0 && get) get_token(r, p + 8);
    else error(r, 404, "no such resource");
}
