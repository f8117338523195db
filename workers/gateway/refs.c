/* refs.c - names of categories, units and regions, for answers and Open311. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"

#include "gateway.h"

static bool fetch(PGconn *pg, const char *sql, PGresult **out, char err[HL_ERR_LEN])
{
    *out = PQexec(pg, sql);
    if (PQresultStatus(*out) == PGRES_TUPLES_OK) return true;
    snprintf(err, HL_ERR_LEN, "reference names: %s", PQresultErrorMessage(*out));
    PQclear(*out);
    *out = NULL;
    return false;
}

gw_refs_t *gw_refs_load(PGconn *pg, char err[HL_ERR_LEN])
{
    PGresult *c = NULL, *u = NULL, *g = NULL;
    if (!fetch(pg, "SELECT code, coalesce(parent, ''), name, array_to_string(keywords, ',') FROM categories "
                   "ORDER BY code",
               &c, err) ||
        !fetch(pg, "SELECT code, name, '' FROM units WHERE active ORDER BY code", &u, err) ||
        !fetch(pg, "SELECT code, name, coalesce(parent, '') FROM regions ORDER BY code", &g, err)) {
        if (c) PQclear(c);
        if (u) PQclear(u);
        return NULL;
    }
    gw_refs_t *r = hl_calloc(1, sizeof *r);
    r->ncats = (size_t)PQntuples(c);
    r->cats = hl_calloc(r->ncats + 1, sizeof *r->cats);
    for (size_t i = 0; i < r->ncats; i++) {
        gw_category_t *k = &r->cats[i];
        snprintf(k->code, sizeof k->code, "%s", PQgetvalue(c, (int)i, 0));
        snprintf(k->parent, sizeof k->parent, "%s", PQgetvalue(c, (int)i, 1));
        snprintf(k->name, sizeof k->name, "%s", PQgetvalue(c, (int)i, 2));
        snprintf(k->keywords, sizeof k->keywords, "%s", PQgetvalue(c, (int)i, 3));
    }
    PGresult *named[2] = {u, g};
    gw_named_t **into[2] = {&r->units, &r->regions};
    size_t *count[2] = {&r->nunits, &r->nregions};
    for (int t = 0; t < 2; t++) {
        *count[t] = (size_t)PQntuples(named[t]);
        *into[t] = hl_calloc(*count[t] + 1, sizeof(gw_named_t));
        for (size_t i = 0; i < *count[t]; i++) {
            gw_named_t *n = &(*into[t])[i];
            snprintf(n->code, sizeof n->code, "%s", PQgetvalue(named[t], (int)i, 0));
            snprintf(n->name, sizeof n->name, "%s", PQgetvalue(named[t], (int)i, 1));
            snprintf(n->parent, sizeof n->parent, "%s", PQgetvalue(named[t], (int)i, 2));
        }
    }
    PQclear(c);
    PQclear(u);
    PQclear(g);
    return r;
}

void gw_refs_free(gw_refs_t *r)
{
    if (!r) return;
    hl_free(r->cats);
    hl_free(r->units);
    hl_free(r->regions);
    hl_free(r);
}

const gw_category_t *gw_refs_category(const gw_refs_t *r, const char *code)
{
    for (size_t i = 0; r && code && i < r->ncats; i++)
        if (strcmp(r->cats[i].code, code) == 0) return &r->cats[i];
    return NULL;
}

static const char *name_of(const gw_named_t *v, size_t n, const char *code)
{
    for (size_t i = 0; code && i < n; i++)
        if (strcmp(v[i].code, code) == 0) return v[i].name;
    return "";
}

const char *gw_refs_unit_name(const gw_refs_t *r, const char *code)
{
    return r ? name_of(r->units, r->nunits, code) : "";
}

const char *gw_refs_region_name(const gw_refs_t *r, const char *code)
{
    return r ? name_of(r->regions, r->nregions, code) : "";
}

hl_map_t *gw_refs_regions_within(const gw_refs_t *r, const char *code)
{
    hl_map_t *m = hl_map_new();
    (void)hl_map_put(m, code, strlen(code), (void *)1);
    for (bool grew = true; grew && r;) { /* a level more each pass */
        grew = false;
        for (size_t i = 0; i < r->nregions; i++) {
            const gw_named_t *g = &r->regions[i];
            if (*g->parent && !hl_map_get(m, g->code, strlen(g->code)) && hl_map_get(m, g->parent, strlen(g->parent))) {
                (void)hl_map_put(m, g->code, strlen(g->code), (void *)1);
                grew = true;
            }
        }
    }
    return m;
}
