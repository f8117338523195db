/* auth.c - bearer tokens (by SHA-256) and token-bucket rate limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/map.h"
#include "hotline/sha256.h"

#include "gateway.h"

#define MAX_BUCKETS 100000 /* beyond: idle buckets are dropped */

typedef struct {
    double tokens;
    int64_t at_us;
} bucket_t;

struct gw_auth {
    pthread_rwlock_t lock;   /* tokens */
    hl_map_t *tokens;        /* hex hash -> gw_token_t */
    pthread_mutex_t block;   /* buckets */
    hl_map_t *buckets;       /* name -> bucket_t */
};

gw_auth_t *gw_auth_new(void)
{
    gw_auth_t *a = hl_calloc(1, sizeof *a);
    pthread_rwlock_init(&a->lock, NULL);
    pthread_mutex_init(&a->block, NULL);
    a->tokens = hl_map_new();
    a->buckets = hl_map_new();
    return a;
}

static void free_value(void *arg, const char *key, void *value)
{
    (void)arg;
    (void)key;
    hl_free(value);
}

void gw_auth_destroy(gw_auth_t **self_p)
{
    gw_auth_t *a = *self_p;
    if (!a) return;
    hl_map_each(a->tokens, free_value, NULL);
    hl_map_destroy(&a->tokens);
    hl_map_each(a->buckets, free_value, NULL);
    hl_map_destroy(&a->buckets);
    pthread_rwlock_destroy(&a->lock);
    pthread_mutex_destroy(&a->block);
    hl_free(a);
    *self_p = NULL;
}

int gw_auth_load(gw_auth_t *a, PGconn *pg, char err[HL_ERR_LEN])
{
    PGresult *r = PQexec(pg, "SELECT hash, id, role, coalesce(unit, ''), prefix, name, coalesce(rate_per_s, 0) "
                             "FROM tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, HL_ERR_LEN, "tokens: %s", PQresultErrorMessage(r));
        PQclear(r);
        return HL_EIO;
    }
    hl_map_t *fresh = hl_map_new();
    for (int i = 0; i < PQntuples(r); i++) {
        gw_token_t *t = hl_calloc(1, sizeof *t);
        t->id = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        const char *role = PQgetvalue(r, i, 2);
        t->role = strcmp(role, "open311") == 0 ? GW_ROLE_OPEN311 : hl_role_parse(role);
        snprintf(t->unit, sizeof t->unit, "%s", PQgetvalue(r, i, 3));
        snprintf(t->prefix, sizeof t->prefix, "%s", PQgetvalue(r, i, 4));
        snprintf(t->name, sizeof t->name, "%s", PQgetvalue(r, i, 5));
        t->rate_per_s = atoi(PQgetvalue(r, i, 6));
        const char *h = PQgetvalue(r, i, 0);
        if (!t->role) {
            hl_free(t);
            continue;
        }
        hl_map_put(fresh, h, strlen(h), t);
    }
    PQclear(r);
    pthread_rwlock_wrlock(&a->lock);
    hl_map_t *old = a->tokens;
    a->tokens = fresh;
    pthread_rwlock_unlock(&a->lock);
    hl_map_each(old, free_value, NULL);
    hl_map_destroy(&old);
    return 0;
}

size_t gw_auth_count(gw_auth_t *a)
{
    pthread_rwlock_rdlock(&a->lock);
    size_t n = hl_map_size(a->tokens);
    pthread_rwlock_unlock(&a->lock);
    return n;
}

bool gw_auth_lookup(gw_auth_t *a, const char *bearer, gw_token_t *out)
{
    size_t n = strlen(bearer);
    if (n < 8 || n > 256) return false;
    char h[65];
    hl_sha256_hex(bearer, n, h);
    pthread_rwlock_rdlock(&a->lock);
    const gw_token_t *t = hl_map_get(a->tokens, h, 64);
    if (t) *out = *t;
    pthread_rwlock_unlock(&a->lock);
    return t != NULL;
}

typedef struct {
    hl_map_t *to;
    int64_t now;
} move_t;

/* Keep a bucket used in the last minute (an older one is full again). */
static void move_live(void *arg, const char *key, void *value)
{
    move_t *mv = arg;
    bucket_t *b = value;
    if (mv->now - b->at_us < 60000000)
        hl_map_put(mv->to, key, strlen(key), b);
    else
        hl_free(b);
}

static void drop_idle(gw_auth_t *a, int64_t now)
{
    move_t mv = {hl_map_new(), now};
    hl_map_each(a->buckets, move_live, &mv);
    hl_map_destroy(&a->buckets);
    a->buckets = mv.to;
}

int gw_auth_take(gw_auth_t *a, const char *name, double per_s, double burst)
{
    int64_t now = hl_mono_us();
    size_t n = strlen(name);
    int wait = 0;
    pthread_mutex_lock(&a->block);
    bucket_t *b = hl_map_get(a->buckets, name, n);
    if (!b) {
        if (hl_map_size(a->buckets) >= MAX_BUCKETS) drop_idle(a, now);
        b = hl_calloc(1, sizeof *b);
        b->tokens = burst;
        b->at_us = now;
        hl_map_put(a->buckets, name, n, b);
    }
    b->tokens += (double)(now - b->at_us) / 1e6 * per_s;
    if (b->tokens > burst) b->tokens = burst;
    b->at_us = now;
    if (b->tokens >= 1) {
        b->tokens -= 1;
    } else {
        wait = (int)((1 - b->tokens) / per_s) + 1;
    }
    pthread_mutex_unlock(&a->block);
    return wait;
}
