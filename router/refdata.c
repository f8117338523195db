/* refdata.c - the reference-data snapshot. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/clock.h"
#include "hotline/map.h"
#include "hotline/figures.h"
#include "hotline/figures.h"
#include "hotline/refdata.h"

typedef struct {
    char *code;
    char *parent;
    int level;
} region_t;

typedef struct {
    char *code;
    char *parent;
    char *name;
    char **keywords;
    size_t nkeywords, capkeywords;
} category_t;

typedef struct {
    hl_route_t pub;
    char *lead;
    char **assisting;
    int cap;
} route_t;

typedef struct {
    char *region;
    int64_t day;
    hl_day_kind_t kind;
} day_t;

typedef struct {
    char *region;
    int year;
} year_t;

struct hl_refdata {
    hl_map_t *regions;    /* code -> region_t */
    hl_map_t *units;      /* code -> (void *)1 + active */
    char **unit_codes;    /* active units */
    size_t nunits, capunits;
    hl_map_t *categories; /* code -> category_t */
    category_t **cat_order; /* in insertion order (parents first) */
    size_t ncats, capcats;
    hl_map_t *routes;     /* "category\x1fregion" -> route_t */
    hl_policy_t *policy;
    day_t *days;
    size_t ndays, capdays;
    year_t *years;
    size_t nyears, capyears;
    char **emerg;         /* phrase, service pairs */
    size_t nemerg, capemerg;
    hl_calendar_t *national;
    hl_map_t *calendars;  /* region -> hl_calendar_t (regions with local days) */
    hl_classifier_t *classifier;
    const hl_model_t *model;
    const char *top;
    hl_figures_t *figures;  /* the figures' counters (metric_counters) */
    bool sealed;
};

#define GROW(arr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? (cap) * 2 : 16;                                                        \
            (arr) = hl_realloc((arr), (cap) * sizeof *(arr));                                      \
        }                                                                                          \
    } while (0)

static void seterr(char err[HL_ERR_LEN], const char *fmt, ...) HL_PRINTF(2, 3);
static void seterr(char err[HL_ERR_LEN], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, HL_ERR_LEN, fmt, ap);
    va_end(ap);
}

hl_refdata_t *hl_refdata_new(void)
{
    hl_refdata_t *rd = hl_calloc(1, sizeof *rd);
    rd->regions = hl_map_new();
    rd->units = hl_map_new();
    rd->categories = hl_map_new();
    rd->routes = hl_map_new();
    rd->calendars = hl_map_new();
    rd->policy = hl_policy_new();
    return rd;
}

static void free_region(void *arg, const char *key, void *value)
{
    (void)arg, (void)key;
    region_t *r = value;
    hl_free(r->code);
    hl_free(r->parent);
    hl_free(r);
}

static void free_route(void *arg, const char *key, void *value)
{
    (void)arg, (void)key;
    route_t *r = value;
    hl_free(r->lead);
    for (int i = 0; i < r->pub.nassisting; i++) hl_free(r->assisting[i]);
    hl_free(r->assisting);
    hl_free(r);
}

static void free_calendar(void *arg, const char *key, void *value)
{
    (void)arg, (void)key;
    hl_calendar_t *c = value;
    hl_calendar_destroy(&c);
}

void hl_refdata_destroy(hl_refdata_t **self_p)
{
    hl_refdata_t *rd = *self_p;
    if (!rd) return;
    hl_map_each(rd->regions, free_region, NULL);
    hl_map_destroy(&rd->regions);
    hl_figures_destroy(&rd->figures);
    hl_map_destroy(&rd->units);
    for (size_t i = 0; i < rd->nunits; i++) hl_free(rd->unit_codes[i]);
    hl_free(rd->unit_codes);
    for (size_t i = 0; i < rd->ncats; i++) {
        category_t *c = rd->cat_order[i];
        for (size_t k = 0; k < c->nkeywords; k++) hl_free(c->keywords[k]);
        hl_free(c->keywords);
        hl_free(c->code);
        hl_free(c->parent);
        hl_free(c->name);
        hl_free(c);
    }
    hl_free(rd->cat_order);
    hl_map_destroy(&rd->categories);
    hl_map_each(rd->routes, free_route, NULL);
    hl_map_destroy(&rd->routes);
    hl_policy_destroy(&rd->policy);
    for (size_t i = 0; i < rd->ndays; i++) hl_free(rd->days[i].region);
    hl_free(rd->days);
    for (size_t i = 0; i < rd->nyears; i++) hl_free(rd->years[i].region);
    hl_free(rd->years);
    for (size_t i = 0; i < rd->nemerg * 2; i++) hl_free(rd->emerg[i]);
    hl_free(rd->emerg);
    hl_calendar_destroy(&rd->national);
    hl_map_each(rd->calendars, free_calendar, NULL);
    hl_map_destroy(&rd->calendars);
    hl_classifier_destroy(&rd->classifier);
    hl_free(rd);
    *self_p = NULL;
}

/* ---------------------------------------------------------------- builders */

static bool region_code_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 6 || n >= HL_REGION_LEN) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

int hl_refdata_add_region(hl_refdata_t *rd, const char *code, const char *parent, int level)
{
    if (rd->sealed || !region_code_ok(code) || (parent && !region_code_ok(parent))) return HL_EINVAL;
    if (hl_map_get(rd->regions, code, strlen(code))) return HL_EEXIST;
    region_t *r = hl_calloc(1, sizeof *r);
    r->code = hl_strdup(code);
    r->parent = hl_strdup(parent);
    r->level = level;
    hl_map_put(rd->regions, code, strlen(code), r);
    return 0;
}

int hl_refdata_add_unit(hl_refdata_t *rd, const char *code, bool active)
{
    if (rd->sealed || !*code) return HL_EINVAL;
    if (hl_map_get(rd->units, code, strlen(code))) return HL_EEXIST;
    hl_map_put(rd->units, code, strlen(code), (void *)(intptr_t)(active ? 2 : 1));
    if (active) {
        GROW(rd->unit_codes, rd->nunits, rd->capunits);
        rd->unit_codes[rd->nunits++] = hl_strdup(code);
    }
    return 0;
}

int hl_refdata_add_category(hl_refdata_t *rd, const char *code, const char *parent,
                            const char *name)
{
    if (rd->sealed || !*code) return HL_EINVAL;
    if (hl_map_get(rd->categories, code, strlen(code))) return HL_EEXIST;
    category_t *c = hl_calloc(1, sizeof *c);
    c->code = hl_strdup(code);
    c->parent = hl_strdup(parent);
    c->name = hl_strdup(name ? name : code);
    hl_map_put(rd->categories, code, strlen(code), c);
    GROW(rd->cat_order, rd->ncats, rd->capcats);
    rd->cat_order[rd->ncats++] = c;
    return 0;
}

int hl_refdata_add_keyword(hl_refdata_t *rd, const char *category, const char *word)
{
    category_t *c = hl_map_get(rd->categories, category, strlen(category));
    if (rd->sealed || !c || !*word) return HL_EINVAL;
    GROW(c->keywords, c->nkeywords, c->capkeywords);
    c->keywords[c->nkeywords++] = hl_strdup(word);
    return 0;
}

static void route_key(char *key, size_t size, const char *category, const char *region)
{
    snprintf(key, size, "%s\x1f%s", category, region);
}

int hl_refdata_add_route(hl_refdata_t *rd, const char *category, const char *region,
                         const char *lead)
{
    char key[256];
    route_key(key, sizeof key, category, region);
    if (rd->sealed || !*lead) return HL_EINVAL;
    if (hl_map_get(rd->routes, key, strlen(key))) return HL_EEXIST;
    route_t *r = hl_calloc(1, sizeof *r);
    r->lead = hl_strdup(lead);
    r->pub.lead = r->lead;
    hl_map_put(rd->routes, key, strlen(key), r);
    return 0;
}

int hl_refdata_add_assisting(hl_refdata_t *rd, const char *category, const char *region,
                             const char *unit)
{
    char key[256];
    route_key(key, sizeof key, category, region);
    route_t *r = hl_map_get(rd->routes, key, strlen(key));
    if (rd->sealed || !r || !*unit) return HL_EINVAL;
    if (r->pub.nassisting == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 4;
        r->assisting = hl_realloc(r->assisting, (size_t)r->cap * sizeof(char *));
    }
    r->assisting[r->pub.nassisting++] = hl_strdup(unit);
    r->pub.assisting = (const char *const *)r->assisting;
    return 0;
}

int hl_refdata_add_policy(hl_refdata_t *rd, const hl_policy_row_t *row)
{
    return rd->sealed ? HL_EINVAL : hl_policy_add(rd->policy, row);
}

int hl_refdata_add_day(hl_refdata_t *rd, const char *region, int64_t day, hl_day_kind_t kind)
{
    if (rd->sealed || (kind != HL_DAY_HOLIDAY && kind != HL_DAY_WORKDAY)) return HL_EINVAL;
    GROW(rd->days, rd->ndays, rd->capdays);
    rd->days[rd->ndays++] = (day_t){hl_strdup(region), day, kind};
    return 0;
}

int hl_refdata_add_year(hl_refdata_t *rd, const char *region, int year)
{
    if (rd->sealed) return HL_EINVAL;
    GROW(rd->years, rd->nyears, rd->capyears);
    rd->years[rd->nyears++] = (year_t){hl_strdup(region), year};
    return 0;
}

int hl_refdata_add_emergency(hl_refdata_t *rd, const char *phrase, const char *service)
{
    if (rd->sealed || !*phrase || !*service) return HL_EINVAL;
    if ((rd->nemerg + 1) * 2 > rd->capemerg) {
        rd->capemerg = rd->capemerg ? rd->capemerg * 2 : 64;
        rd->emerg = hl_realloc(rd->emerg, rd->capemerg * sizeof(char *));
    }
    rd->emerg[rd->nemerg * 2] = hl_strdup(phrase);
    rd->emerg[rd->nemerg * 2 + 1] = hl_strdup(service);
    rd->nemerg++;
    return 0;
}

/* ----------------------------------------------------------------- loading */

static const char *queries[] = {
    "SELECT code, parent, level FROM regions",
    "SELECT code, active FROM units",
    /* Parents before children. */
    "SELECT code, parent, name FROM categories "
    "ORDER BY length(code) - length(replace(code, '.', '')), code",
    "SELECT c.code, k FROM categories c, unnest(c.keywords) AS k",
    "SELECT category, region, lead_unit FROM catalogue",
    "SELECT category, region, a FROM catalogue, unnest(assisting_units) AS a",
    "SELECT request_type, urgency, region, sign_limit, sign_unit, contact_limit, contact_unit, "
    "reply_limit, reply_unit, max_extensions, extension_limit, extension_unit, return_window, "
    "return_unit, callback_limit, callback_unit, max_returns, max_reopens, callback_attempts "
    "FROM deadline_policy",
    "SELECT region, day - date '1970-01-01', kind FROM calendar_days",
    "SELECT region, year FROM calendar_years",
    "SELECT phrase, service FROM emergency_phrases",
    "SELECT name, kinds, to_states, payload_key, payload_values, on_time, history_any, history_none, anonymous "
    "FROM metric_counters ORDER BY name",
};
#define NQUERIES (sizeof queries / sizeof queries[0])

size_t hl_refdata_nqueries(void)
{
    return NQUERIES;
}

const char *hl_refdata_query(size_t i)
{
    return i < NQUERIES ? queries[i] : NULL;
}

static const char *val(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static int parse_limit(const char *amount, const char *unit, hl_limit_t *out)
{
    char *end;
    long v = strtol(amount, &end, 10);
    if (*end || v <= 0 || v > 5256000) return HL_EINVAL;
    out->amount = (int32_t)v;
    return hl_limit_unit_parse(unit, &out->unit);
}

static int load_policy(hl_refdata_t *rd, const PGresult *res, int row, char err[HL_ERR_LEN])
{
    hl_policy_row_t p;
    memset(&p, 0, sizeof p);
    const char *type = val(res, row, 0), *urg = val(res, row, 1), *region = val(res, row, 2);
    if (strcmp(type, "*") != 0 && hl_type_parse(type, &p.type) != 0) goto bad;
    if (strcmp(urg, "*") != 0 && hl_urgency_parse(urg, &p.urgency) != 0) goto bad;
    if (strcmp(region, "*") != 0) {
        if (strlen(region) >= HL_REGION_LEN) goto bad;
        strcpy(p.region, region);
    }
    if (parse_limit(val(res, row, 3), val(res, row, 4), &p.sign) ||
        parse_limit(val(res, row, 5), val(res, row, 6), &p.contact) ||
        parse_limit(val(res, row, 7), val(res, row, 8), &p.reply) ||
        parse_limit(val(res, row, 10), val(res, row, 11), &p.extension) ||
        parse_limit(val(res, row, 12), val(res, row, 13), &p.return_window) ||
        parse_limit(val(res, row, 14), val(res, row, 15), &p.callback))
        goto bad;
    p.max_extensions = atoi(val(res, row, 9));
    p.max_returns = atoi(val(res, row, 16));
    p.max_reopens = atoi(val(res, row, 17));
    p.callback_attempts = atoi(val(res, row, 18));
    if (hl_refdata_add_policy(rd, &p) == 0) return 0;
bad:
    seterr(err, "deadline_policy row (%s, %s, %s) is invalid", type, urg, region);
    return HL_EINVAL;
}

int hl_refdata_load(hl_refdata_t *rd, size_t i, const PGresult *res, char err[HL_ERR_LEN])
{
    int rows = PQntuples(res);
    for (int r = 0; r < rows; r++) {
        int rc = 0;
        switch (i) {
        case 0: rc = hl_refdata_add_region(rd, val(res, r, 0), val(res, r, 1), atoi(val(res, r, 2))); break;
        case 1: rc = hl_refdata_add_unit(rd, val(res, r, 0), val(res, r, 1)[0] == 't'); break;
        case 2: rc = hl_refdata_add_category(rd, val(res, r, 0), val(res, r, 1), val(res, r, 2)); break;
        case 3: rc = hl_refdata_add_keyword(rd, val(res, r, 0), val(res, r, 1)); break;
        case 4: rc = hl_refdata_add_route(rd, val(res, r, 0), val(res, r, 1), val(res, r, 2)); break;
        case 5: rc = hl_refdata_add_assisting(rd, val(res, r, 0), val(res, r, 1), val(res, r, 2)); break;
        case 6: if (load_policy(rd, res, r, err)) return HL_EINVAL; break;
        case 7: {
            const char *k = val(res, r, 2);
            rc = hl_refdata_add_day(rd, val(res, r, 0), atoll(val(res, r, 1)),
                                    strcmp(k, "workday") == 0 ? HL_DAY_WORKDAY : HL_DAY_HOLIDAY);
            break;
        }
        case 8: rc = hl_refdata_add_year(rd, val(res, r, 0), atoi(val(res, r, 1))); break;
        case 9: rc = hl_refdata_add_emergency(rd, val(res, r, 0), val(res, r, 1)); break;
        case 10: {
            hl_figure_def_t d = {val(res, r, 0), val(res, r, 1), val(res, r, 2), val(res, r, 3), val(res, r, 4),
                                 val(res, r, 5), val(res, r, 6), val(res, r, 7), val(res, r, 8)};
            if (!rd->figures) rd->figures = hl_figures_new();
            rc = hl_figures_add(rd->figures, &d);
            break;
        }
        default: rc = HL_EINVAL;
        }
        if (rc) {
            seterr(err, "reference query %zu, row %d (%s): %s", i, r,
                   PQgetisnull(res, r, 0) ? "NULL" : PQgetvalue(res, r, 0), hl_strerror(rc));
            return HL_EINVAL;
        }
    }
    return 0;
}

/* ----------------------------------------------------------------- sealing */

typedef struct {
    hl_refdata_t *rd;
    char *err;
    int rc;
} check_t;

static void check_region(void *arg, const char *key, void *value)
{
    check_t *c = arg;
    region_t *r = value;
    if (c->rc) return;
    if (r->parent && !hl_map_get(c->rd->regions, r->parent, strlen(r->parent))) {
        seterr(c->err, "region %s has unknown parent %s", key, r->parent);
        c->rc = HL_EINVAL;
    }
    if (!r->parent && (!c->rd->top || strcmp(r->code, c->rd->top) < 0)) c->rd->top = r->code;
}

static void check_route(void *arg, const char *key, void *value)
{
    check_t *c = arg;
    route_t *r = value;
    if (c->rc) return;
    if (!hl_refdata_has_unit(c->rd, r->lead)) {
        seterr(c->err, "catalogue row %.*s names inactive or unknown unit %s",
               (int)strcspn(key, "\x1f"), key, r->lead);
        c->rc = HL_EINVAL;
    }
    for (int i = 0; i < r->pub.nassisting && !c->rc; i++) {
        if (!hl_refdata_has_unit(c->rd, r->assisting[i])) {
            seterr(c->err, "catalogue row %.*s names inactive or unknown assisting unit %s",
                   (int)strcspn(key, "\x1f"), key, r->assisting[i]);
            c->rc = HL_EINVAL;
        }
    }
}

int hl_refdata_finish(hl_refdata_t *rd, char err[HL_ERR_LEN])
{
    check_t c = {rd, err, 0};
    hl_map_each(rd->regions, check_region, &c);
    if (c.rc) return c.rc;
    if (!rd->top) {
        seterr(err, "no top-level region (a region without parent) is defined");
        return HL_EINVAL;
    }
    hl_map_each(rd->routes, check_route, &c);
    if (c.rc) return c.rc;
    if (!hl_policy_find(rd->policy, 0, 0, NULL, 0)) {
        seterr(err, "deadline_policy has no ('*', '*', '*') row");
        return HL_EINVAL;
    }

    /* Calendars: the national one, then one per region with local days. */
    rd->national = hl_calendar_new();
    for (size_t i = 0; i < rd->nyears; i++)
        if (strcmp(rd->years[i].region, "*") == 0) hl_calendar_mark_year(rd->national, rd->years[i].year);
    for (size_t i = 0; i < rd->ndays; i++) {
        if (strcmp(rd->days[i].region, "*") != 0) continue;
        if (hl_calendar_set(rd->national, rd->days[i].day, rd->days[i].kind) != 0) {
            seterr(err, "calendar day %lld is out of range", (long long)rd->days[i].day);
            return HL_EINVAL;
        }
    }
    for (size_t i = 0; i < rd->ndays; i++) {
        const char *reg = rd->days[i].region;
        if (strcmp(reg, "*") == 0) continue;
        if (!hl_map_get(rd->regions, reg, strlen(reg))) {
            seterr(err, "calendar day for unknown region %s", reg);
            return HL_EINVAL;
        }
        hl_calendar_t *cal = hl_map_get(rd->calendars, reg, strlen(reg));
        if (!cal) {
            cal = hl_calendar_clone(rd->national);
            hl_map_put(rd->calendars, reg, strlen(reg), cal);
        }
        if (hl_calendar_set(cal, rd->days[i].day, rd->days[i].kind) != 0) {
            seterr(err, "calendar day %lld is out of range", (long long)rd->days[i].day);
            return HL_EINVAL;
        }
    }

    /* The classifier, parents before children. */
    rd->classifier = hl_classifier_new();
    for (size_t i = 0; i < rd->ncats; i++) {
        category_t *cat = rd->cat_order[i];
        int rc = hl_classifier_add_category(rd->classifier, cat->code, cat->parent,
                                            (const char *const *)cat->keywords, cat->nkeywords);
        if (rc) {
            seterr(err, "category %s: %s (parent %s)", cat->code, hl_strerror(rc),
                   cat->parent ? cat->parent : "none");
            return HL_EINVAL;
        }
    }
    for (size_t i = 0; i < rd->nemerg; i++) {
        if (hl_classifier_add_emergency(rd->classifier, rd->emerg[2 * i], rd->emerg[2 * i + 1])) {
            seterr(err, "emergency phrase '%s' is invalid", rd->emerg[2 * i]);
            return HL_EINVAL;
        }
    }
    if (rd->model) {
        /* Each label of the model is a first-level category, by name or code. */
        const char *codes[HL_MODEL_MAX_LABELS];
        for (int k = 0; k < hl_model_nlabels(rd->model); k++) {
            const char *label = hl_model_label(rd->model, k);
            codes[k] = NULL;
            for (size_t i = 0; i < rd->ncats && !codes[k]; i++) {
                category_t *cat = rd->cat_order[i];
                if (!cat->parent && (strcmp(cat->name, label) == 0 || strcmp(cat->code, label) == 0))
                    codes[k] = cat->code;
            }
            if (!codes[k]) {
                seterr(err, "model %s: label '%s' is no first-level category (by name or code)",
                       hl_model_version(rd->model), label);
                return HL_EINVAL;
            }
        }
        if (hl_classifier_set_model(rd->classifier, rd->model, codes) != 0) {
            seterr(err, "model %s does not fit the categories", hl_model_version(rd->model));
            return HL_EINVAL;
        }
    }
    hl_classifier_build(rd->classifier);
    rd->sealed = true;
    return 0;
}

void hl_refdata_set_model(hl_refdata_t *rd, const hl_model_t *model)
{
    rd->model = model;
}

/* ----------------------------------------------------------------- queries */

int hl_refdata_region_chain(const hl_refdata_t *rd, const char *region,
                            const char *chain[HL_MAX_CHAIN])
{
    int n = 0;
    const region_t *r = region && *region ? hl_map_get(rd->regions, region, strlen(region)) : NULL;
    while (r && n < HL_MAX_CHAIN) {
        chain[n++] = r->code;
        r = r->parent ? hl_map_get(rd->regions, r->parent, strlen(r->parent)) : NULL;
    }
    return n;
}

const char *hl_refdata_top_region(const hl_refdata_t *rd)
{
    return rd->top;
}

const hl_route_t *hl_refdata_route(const hl_refdata_t *rd, const char *category,
                                   const char *const *chain, int n)
{
    const category_t *c = category && *category
                              ? hl_map_get(rd->categories, category, strlen(category))
                              : NULL;
    for (; c; c = c->parent ? hl_map_get(rd->categories, c->parent, strlen(c->parent)) : NULL) {
        for (int i = 0; i < n; i++) {
            char key[256];
            route_key(key, sizeof key, c->code, chain[i]);
            const route_t *r = hl_map_get(rd->routes, key, strlen(key));
            if (r) return &r->pub;
        }
    }
    return NULL;
}

const hl_calendar_t *hl_refdata_calendar(const hl_refdata_t *rd, const char *const *chain, int n)
{
    if (hl_map_size(rd->calendars)) {
        for (int i = 0; i < n; i++) {
            const hl_calendar_t *c = hl_map_get(rd->calendars, chain[i], strlen(chain[i]));
            if (c) return c;
        }
    }
    return rd->national;
}

const hl_policy_t *hl_refdata_policy(const hl_refdata_t *rd)
{
    return rd->policy;
}

const hl_classifier_t *hl_refdata_classifier(const hl_refdata_t *rd)
{
    return rd->classifier;
}

bool hl_refdata_has_category(const hl_refdata_t *rd, const char *code)
{
    return code && *code && hl_map_get(rd->categories, code, strlen(code)) != NULL;
}

bool hl_refdata_has_unit(const hl_refdata_t *rd, const char *code)
{
    return (intptr_t)hl_map_get(rd->units, code, strlen(code)) == 2;
}

size_t hl_refdata_units(const hl_refdata_t *rd, const char *const **codes)
{
    *codes = (const char *const *)rd->unit_codes;
    return rd->nunits;
}

const hl_figures_t *hl_refdata_figures(const hl_refdata_t *rd)
{
    return rd ? rd->figures : NULL;
}
