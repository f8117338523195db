/* pgwatch.c - the gateway's PostgreSQL thread: tokens and reference names,
 * loaded at start, again on NOTIFY (hotline_tokens, hotline_reference) and
 * every minute (tokens expire by time too); the knowledge base, loaded at
 * start and refreshed entry by entry on NOTIFY hotline_kb. Nothing on a
 * request's path waits for it. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"

#include "gateway.h"

#define RELOAD_EVERY_MS 60000
#define KB_IDS 256 /* changed entries read one by one at most; more: load all */

struct gw_pgwatch {
    gw_t *gw;
    pthread_t th;
    bool started;
    PGconn *pg;
    int64_t retry_ms, next_reload_ms;
    volatile int stop;
};

static void connect_pg(gw_pgwatch_t *w)
{
    if (w->pg && PQstatus(w->pg) == CONNECTION_OK) return;
    int64_t now = hl_now_ms();
    if (now < w->retry_ms) return;
    if (w->pg) PQfinish(w->pg);
    w->pg = PQconnectdb(w->gw->conf.pg_conninfo);
    if (PQstatus(w->pg) != CONNECTION_OK) {
        hl_warn("postgres: %s", PQerrorMessage(w->pg));
        PQfinish(w->pg);
        w->pg = NULL;
        w->retry_ms = now + w->gw->conf.pg_reconnect_ms;
        return;
    }
    PQclear(PQexec(w->pg, "LISTEN hotline_tokens"));
    PQclear(PQexec(w->pg, "LISTEN hotline_reference"));
    PQclear(PQexec(w->pg, "LISTEN hotline_kb"));
    w->next_reload_ms = 0; /* load at once */
    char err[HL_ERR_LEN];
    if (gw_kb_load(w->gw->kb, w->pg, err) != 0) hl_warn("%s", err); /* missed changes come with the next load */
}

static void reload(gw_pgwatch_t *w, bool tokens, bool names)
{
    char err[HL_ERR_LEN];
    if (tokens) {
        if (gw_auth_load(w->gw->auth, w->pg, err) != 0) {
            hl_warn("%s", err);
        } else {
            if (!w->gw->tokens_loaded) hl_info("tokens loaded: %zu", gw_auth_count(w->gw->auth));
            __atomic_store_n(&w->gw->tokens_loaded, 1, __ATOMIC_RELEASE);
        }
    }
    if (names) {
        gw_refs_t *r = gw_refs_load(w->pg, err);
        if (r) gw_refs_swap(w->gw, r);
        else hl_warn("%s", err);
    }
    if (PQstatus(w->pg) != CONNECTION_OK) {
        PQfinish(w->pg);
        w->pg = NULL;
    }
}

static void notices(gw_pgwatch_t *w)
{
    if (!PQconsumeInput(w->pg)) {
        hl_warn("postgres: %s", PQerrorMessage(w->pg));
        PQfinish(w->pg);
        w->pg = NULL;
        return;
    }
    bool tokens = false, names = false;
    int64_t ids[KB_IDS];
    size_t nids = 0;
    PGnotify *n;
    while ((n = PQnotifies(w->pg)) != NULL) {
        if (strcmp(n->relname, "hotline_tokens") == 0) tokens = true;
        else if (strcmp(n->relname, "hotline_kb") != 0) names = true;
        else if (nids < KB_IDS) ids[nids++] = atoll(n->extra);
        else nids = KB_IDS + 1; /* too many: load all */
        PQfreemem(n);
    }
    if (tokens || names) reload(w, tokens, names);
    if (nids && w->pg) {
        char err[HL_ERR_LEN];
        int rc = nids > KB_IDS ? gw_kb_load(w->gw->kb, w->pg, err) : gw_kb_refresh(w->gw->kb, w->pg, ids, nids, err);
        if (rc != 0) hl_warn("%s", err);
    }
}

static void *run(void *arg)
{
    gw_pgwatch_t *w = arg;
    pthread_setname_np(pthread_self(), "gw-pgwatch");
    while (!w->stop) {
        connect_pg(w);
        if (!w->pg) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        struct pollfd p = {PQsocket(w->pg), POLLIN, 0};
        if (poll(&p, 1, 100) < 0 && errno != EINTR) break;
        if (hl_now_ms() >= w->next_reload_ms) {
            reload(w, true, w->next_reload_ms == 0);
            w->next_reload_ms = hl_now_ms() + RELOAD_EVERY_MS;
        }
        /* Every time, not only when the socket was readable: a notice that
         * came in during a reload's queries is already in libpq's queue. */
        if (w->pg) notices(w);
    }
    return NULL;
}

gw_pgwatch_t *gw_pgwatch_start(gw_t *gw, char err[HL_ERR_LEN])
{
    gw_pgwatch_t *w = hl_calloc(1, sizeof *w);
    w->gw = gw;
    if (pthread_create(&w->th, NULL, run, w) != 0) {
        snprintf(err, HL_ERR_LEN, "cannot start the PostgreSQL thread");
        hl_free(w);
        return NULL;
    }
    w->started = true;
    return w;
}

void gw_pgwatch_stop(gw_pgwatch_t **self_p)
{
    gw_pgwatch_t *w = *self_p;
    if (!w) return;
    w->stop = 1;
    if (w->started) pthread_join(w->th, NULL);
    if (w->pg) PQfinish(w->pg);
    hl_free(w);
    *self_p = NULL;
}
