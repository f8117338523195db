/* http.c - libmicrohttpd glue: a request's life, answers, limits, routing. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/map.h"

#include "gateway.h"

/* From the first header read to the last byte of the answer handed to the
 * kernel (or the client's early end): 1 ms .. 10 s, finer around the API's
 * 50 ms target. */
const int64_t gw_duration_bounds_us[GW_DURATION_BUCKETS] = {
    1000, 2500, 5000, 10000, 20000, 30000, 50000, 75000, 100000, 250000, 500000, 1000000, 2500000, 10000000,
};

/* ------------------------------------------------------------ answers */

static void set_resp(gw_req_t *r, int status, struct MHD_Response *resp)
{
    if (r->resp) MHD_destroy_response(r->resp);
    r->status = status;
    r->resp = resp;
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

void gw_reply_text(gw_req_t *r, int status, const char *ctype, char *data, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    set_resp(r, status, resp);
    MHD_add_response_header(resp, "Content-Type", ctype);
}

void gw_reply_static(gw_req_t *r, int status, const char *ctype, const void *data, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    set_resp(r, status, resp);
    MHD_add_response_header(resp, "Content-Type", ctype);
}

char *gw_json_text(json_t *body)
{
    /* 10 significant digits: a confidence 0.9773 stays 0.9773, coordinates keep 6 places. */
    char *s = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(body);
    return s;
}

void gw_reply_json_text(gw_req_t *r, int status, char *json, size_t len)
{
    gw_reply_text(r, status, "application/json; charset=utf-8", json, len);
}

void gw_reply_json(gw_req_t *r, int status, json_t *body)
{
    char *s = gw_json_text(body);
    if (!s) {
        s = strdup("{\"error\":\"internal\",\"message\":\"out of memory\"}");
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    gw_reply_json_text(r, status, s, strlen(s));
}

void gw_reply_jw(gw_req_t *r, int status, hl_buf_t *json)
{
    if (!json->data) hl_buf_reserve(json, 0);
    gw_reply_json_text(r, status, json->data, json->len);
    *json = (hl_buf_t)HL_BUF_INIT;
}

void gw_reply_error(gw_req_t *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gw_reply_json(r, status, json_pack("{s:s, s:s}", "error", code, "message", msg));
}

void gw_add_header(gw_req_t *r, const char *name, const char *value)
{
    if (r->resp) MHD_add_response_header(r->resp, name, value);
}

const char *gw_arg(gw_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *gw_header(gw_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int gw_http_status(Hotline__Status st)
{
    switch (st) {
    case HOTLINE__STATUS__STATUS_OK: return MHD_HTTP_OK;
    case HOTLINE__STATUS__STATUS_INVALID:
    case HOTLINE__STATUS__STATUS_UNSUPPORTED: return MHD_HTTP_BAD_REQUEST;
    case HOTLINE__STATUS__STATUS_TOO_LARGE: return MHD_HTTP_CONTENT_TOO_LARGE;
    case HOTLINE__STATUS__STATUS_CONFLICT: return MHD_HTTP_CONFLICT;
    case HOTLINE__STATUS__STATUS_NOT_FOUND: return MHD_HTTP_NOT_FOUND;
    case HOTLINE__STATUS__STATUS_FORBIDDEN: return MHD_HTTP_FORBIDDEN;
    default: return MHD_HTTP_SERVICE_UNAVAILABLE; /* TRY_LATER, INTERNAL: retry with the same key */
    }
}

bool gw_ack_ok(gw_req_t *r, const Hotline__Ack *ack, bool timed_out)
{
    if (timed_out || !ack) {
        gw_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "try_later",
                       "the router did not answer (busy or away); retry with the same Idempotency-Key");
        gw_add_header(r, "Retry-After", "1");
        return false;
    }
    if (ack->status == HOTLINE__STATUS__STATUS_OK) return true;
    char code[32];
    const char *name = protobuf_c_enum_descriptor_get_value(&hotline__status__descriptor, ack->status)->name;
    size_t i = 0;
    for (const char *p = name + 7; *p && i + 1 < sizeof code; p++) /* after STATUS_; TRY_LATER -> try_later */
        code[i++] = (char)tolower((unsigned char)*p);
    code[i] = '\0';
    json_t *body = json_pack("{s:s, s:s}", "error", code, "message", ack->message);
    if (ack->n_allowed) {
        json_t *a = json_array();
        for (size_t k = 0; k < ack->n_allowed; k++) json_array_append_new(a, json_string(ack->allowed[k]));
        json_object_set_new(body, "allowed", a);
    }
    if (*ack->ticket) json_object_set_new(body, "ticket", json_string(ack->ticket));
    gw_reply_json(r, gw_http_status(ack->status), body);
    if (ack->status == HOTLINE__STATUS__STATUS_TRY_LATER || ack->status == HOTLINE__STATUS__STATUS_INTERNAL) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", ack->retry_after_ms ? (ack->retry_after_ms + 999) / 1000 : 1);
        gw_add_header(r, "Retry-After", ra);
    }
    return false;
}

/* ------------------------------------------------------------ the bus */

void gw_call(gw_req_t *r, Hotline__Envelope *env)
{
    if (r->nstaged >= GW_MAX_CALLS) return;
    env->schema = HL_SCHEMA_VERSION;
    env->request_id = __atomic_add_fetch(&r->gw->rid_seq, 1, __ATOMIC_RELAXED);
    r->rids[r->nstaged] = env->request_id;
    hl_envelope_pack(env, &r->staged[r->nstaged]);
    r->nstaged++;
}

void gw_wait(gw_req_t *r, gw_finish_fn finish)
{
    r->finish = finish;
}

void gw_query(gw_req_t *r, Hotline__Query *q, gw_finish_fn finish)
{
    Hotline__Envelope env = HOTLINE__ENVELOPE__INIT;
    env.body_case = HOTLINE__ENVELOPE__BODY_QUERY;
    env.query = q;
    gw_call(r, &env);
    gw_wait(r, finish);
}

/* ------------------------------------------------------------ times */

const char *gw_time(const gw_t *gw, int64_t ms, char buf[40])
{
    if (!ms) {
        buf[0] = '\0';
        return buf;
    }
    return hl_iso8601(ms, (int)gw->conf.utc_offset_min, buf);
}

int gw_parse_time(const gw_t *gw, const char *s, int64_t *ms)
{
    return hl_time_parse(s, (int)gw->conf.utc_offset_min, ms);
}

/* ------------------------------------------------------------ routing */

static void route(gw_req_t *r)
{
    const char *u = r->url;
    if (strncmp(u, "/api/v1/", 8) == 0 || strcmp(u, "/api/v1") == 0) {
        gw_api(r, u + 7);
    } else if (strncmp(u, "/open311/v2/", 12) == 0) {
        gw_open311(r, u + 11);
    } else if (strcmp(u, "/metrics") == 0) {
        gw_metrics(r);
    } else if (strcmp(u, "/healthz") == 0) {
        gw_reply_json(r, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
    } else if (strcmp(u, "/readyz") == 0) {
        bool ready = gw_ready(r->gw) && !r->gw->stopping;
        gw_reply_json(r, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                      json_pack("{s:s}", "status", ready ? "ready" : "not ready"));
    } else if (strcmp(u, "/") == 0) {
        gw_reply_static(r, MHD_HTTP_FOUND, "text/plain; charset=utf-8", "", 0);
        gw_add_header(r, "Location", "/console/");
    } else if (strcmp(u, "/console") == 0 || strncmp(u, "/console/", 9) == 0) {
        gw_console(r, u + 8);
    } else {
        gw_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such resource");
    }
}

static enum MHD_Result queue(gw_req_t *r)
{
    if (!r->resp) gw_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "no answer was made");
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    return ret;
}

static void sa_ip(const struct sockaddr *sa, char *out, size_t n);

static void client_ip(struct MHD_Connection *c, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) snprintf(out, n, "?");
    else sa_ip(ci->client_addr, out, n);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    gw_loop_t *loop = cls;
    gw_t *gw = gw_loop_gateway(loop);
    gw_req_t *r = *con_cls;
    if (!r) {
        r = hl_calloc(1, sizeof *r);
        r->gw = gw;
        r->loop = loop;
        r->conn = conn;
        r->started_us = hl_mono_us();
        snprintf(r->method, sizeof r->method, "%s", method);
        r->url = hl_strdup(url);
        r->max_body = (size_t)gw->conf.gw_max_body;
        client_ip(conn, r->ip, sizeof r->ip);
        r->refs = gw_refs_hold(gw);
        *con_cls = r;
        __atomic_add_fetch(&gw->requests, 1, __ATOMIC_RELAXED);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
        if (len > r->max_body) {
            gw_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "the body is over %zu bytes", r->max_body);
            return queue(r);
        }
        if (len) hl_buf_reserve(&r->body, (size_t)len); /* one allocation, not one per doubling */
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_big && r->body.len + *upload_size > r->max_body) r->too_big = true;
        if (!r->too_big) hl_buf_append(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->finish) {
        /* Resumed: every answer is in. */
        gw_finish_fn f = r->finish;
        r->finish = NULL;
        f(r);
        return queue(r);
    }
    if (r->too_big) {
        gw_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "the body is over %zu bytes", r->max_body);
        return queue(r);
    }
    if (gw->stopping) {
        gw_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "try_later", "the gateway is stopping");
        gw_add_header(r, "Retry-After", "1");
        return queue(r);
    }
    route(r);
    if (r->finish && r->work && !r->resp) {
        MHD_suspend_connection(conn);
        gw_loop_defer(loop, r);
        return MHD_YES;
    }
    if (r->finish && r->nstaged && !r->resp) {
        /* Suspended first, then sent: a call refused at once resumes it. */
        MHD_suspend_connection(conn);
        gw_loop_submit(loop, r);
        return MHD_YES;
    }
    r->finish = NULL;
    return queue(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    gw_t *gw = gw_loop_gateway(cls);
    gw_req_t *r = *con_cls;
    if (!r) return;
    int64_t us = hl_mono_us() - r->started_us;
    if (r->status >= 500) __atomic_add_fetch(&gw->errors, 1, __ATOMIC_RELAXED);
    int bucket = 0;
    while (bucket < GW_DURATION_BUCKETS && us > gw_duration_bounds_us[bucket]) bucket++;
    __atomic_add_fetch(&gw->durations[bucket], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&gw->duration_us_sum, (uint64_t)us, __ATOMIC_RELAXED);
    /* Method, path without the query, status, time, who: never a body. */
    hl_log_level_t level = r->status >= 500 ? HL_LOG_WARN : HL_LOG_DEBUG;
    if (level >= hl_log_threshold)
        hl_log_write(level, "%s %s %d %.1f ms %s%s%s%s", r->method, r->url,
                     r->status, (double)us / 1000.0, r->authed ? hl_role_name(r->tok.role & 63) : "-",
                     r->authed ? "/" : "", r->authed ? r->tok.prefix : "",
                     toe != MHD_REQUEST_TERMINATED_COMPLETED_OK ? " (connection ended early)" : "");
    if (r->resp) MHD_destroy_response(r->resp);
    for (int i = 0; i < GW_MAX_CALLS; i++) {
        hl_buf_free(&r->staged[i]);
        hl_envelope_free(&r->ans[i]);
    }
    hl_buf_free(&r->body);
    hl_json_free(&r->json);
    gw_refs_release(gw, r->refs);
    hl_free(r->url);
    hl_free(r);
    *con_cls = NULL;
}

int gw_hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decoding of paths and query values, as libmicrohttpd's own but
 * for %00: kept as it is, so an encoded NUL cannot cut a path or value
 * short ("app.js%00.html" is not "app.js"). */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    char *o = s;
    for (const char *p = s; *p; p++) {
        int h, l;
        if (*p == '%' && (h = gw_hexval(p[1])) >= 0 && (l = gw_hexval(p[2])) >= 0 && (h | l)) {
            *o++ = (char)(h * 16 + l);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return (size_t)(o - s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    hl_log_write(HL_LOG_INFO, "http: %s", msg);
}

/* ------------------------------------------------------------ connection limits
 *
 * Counted for the gateway as a whole (the loops accept from one socket, in
 * any share): checked when a connection is accepted, counted when it
 * starts, uncounted when it closes. Between the check and the count another
 * loop may accept one more: the limits may be passed by a loop or two. */

static void sa_ip(const struct sockaddr *sa, char *out, size_t n)
{
    snprintf(out, n, "?");
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)n);
}

static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addrlen;
    gw_t *gw = gw_loop_gateway(cls);
    char ip[64];
    sa_ip(addr, ip, sizeof ip);
    pthread_mutex_lock(&gw->conn_lock);
    uintptr_t mine = (uintptr_t)hl_map_get(gw->conns, ip, strlen(ip));
    bool ok = gw->nconns < (size_t)gw->conf.gw_max_connections &&
              (gw->conf.gw_max_connections_per_ip == 0 || mine < (uintptr_t)gw->conf.gw_max_connections_per_ip);
    pthread_mutex_unlock(&gw->conn_lock);
    return ok ? MHD_YES : MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    gw_t *gw = gw_loop_gateway(cls);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        char ip[64];
        client_ip(conn, ip, sizeof ip);
        pthread_mutex_lock(&gw->conn_lock);
        uintptr_t mine = (uintptr_t)hl_map_get(gw->conns, ip, strlen(ip));
        hl_map_put(gw->conns, ip, strlen(ip), (void *)(mine + 1));
        gw->nconns++;
        pthread_mutex_unlock(&gw->conn_lock);
        *socket_context = hl_strdup(ip);
        return;
    }
    char *ip = *socket_context;
    if (!ip) return;
    pthread_mutex_lock(&gw->conn_lock);
    uintptr_t mine = (uintptr_t)hl_map_get(gw->conns, ip, strlen(ip));
    if (mine > 1) hl_map_put(gw->conns, ip, strlen(ip), (void *)(mine - 1));
    else hl_map_del(gw->conns, ip, strlen(ip));
    gw->nconns--;
    pthread_mutex_unlock(&gw->conn_lock);
    hl_free(ip);
    *socket_context = NULL;
}

int gw_http_listen(const gw_t *gw, char err[HL_ERR_LEN])
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    char host[64];
    unsigned port = 0;
    const char *colon = strrchr(gw->conf.gw_listen, ':');
    if (!colon || colon - gw->conf.gw_listen >= (long)sizeof host || sscanf(colon + 1, "%u", &port) != 1 ||
        port > 65535) {
        snprintf(err, HL_ERR_LEN, "gateway.listen must be ADDRESS:PORT, not '%s'", gw->conf.gw_listen);
        return -1;
    }
    memcpy(host, gw->conf.gw_listen, (size_t)(colon - gw->conf.gw_listen));
    host[colon - gw->conf.gw_listen] = '\0';
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, HL_ERR_LEN, "gateway.listen: '%s' is not an IPv4 address", host);
        return -1;
    }
    sa.sin_port = htons((uint16_t)port);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1024) != 0) {
        snprintf(err, HL_ERR_LEN, "cannot listen on %s: %s", gw->conf.gw_listen, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

struct MHD_Daemon *gw_http_daemon(gw_loop_t *l, int listen_fd, char err[HL_ERR_LEN])
{
    const gw_t *gw = gw_loop_gateway(l);
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, on_accept, l, on_request, l, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)gw->conf.gw_max_connections, MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
        MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)gw->conf.gw_idle_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)gw->conf.gw_max_headers, MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
    if (!d) snprintf(err, HL_ERR_LEN, "libmicrohttpd cannot serve %s", gw->conf.gw_listen);
    return d;
}

bool gw_ready(gw_t *gw)
{
    return __atomic_load_n(&gw->tokens_loaded, __ATOMIC_ACQUIRE) &&
           hl_now_ms() - __atomic_load_n(&gw->health_ok_ms, __ATOMIC_RELAXED) < GW_HEALTHY_FOR_MS;
}

/* ------------------------------------------------------------ names */

gw_refs_t *gw_refs_hold(gw_t *gw)
{
    pthread_mutex_lock(&gw->refs_lock);
    gw_refs_t *r = gw->refs;
    if (r) r->refs++;
    pthread_mutex_unlock(&gw->refs_lock);
    return r;
}

void gw_refs_release(gw_t *gw, gw_refs_t *r)
{
    if (!r) return;
    pthread_mutex_lock(&gw->refs_lock);
    bool last = --r->refs == 0 && r != gw->refs;
    pthread_mutex_unlock(&gw->refs_lock);
    if (last) gw_refs_free(r);
}

void gw_refs_swap(gw_t *gw, gw_refs_t *fresh)
{
    fresh->refs = 0;
    pthread_mutex_lock(&gw->refs_lock);
    gw_refs_t *old = gw->refs;
    gw->refs = fresh;
    bool unused = old && old->refs == 0;
    pthread_mutex_unlock(&gw->refs_lock);
    if (unused) gw_refs_free(old);
}
