/* policy.c - deadline policy rows and their lookup. */
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/policy.h"

struct hl_policy {
    hl_policy_row_t *rows;
    size_t n, cap;
};

hl_policy_t *hl_policy_new(void)
{
    return hl_calloc(1, sizeof(hl_policy_t));
}

void hl_policy_destroy(hl_policy_t **self_p)
{
    if (!*self_p) return;
    hl_free((*self_p)->rows);
    hl_free(*self_p);
    *self_p = NULL;
}

static bool limit_ok(hl_limit_t l)
{
    static const int32_t max[] = {5256000, 87600, 3650, 3650};
    return (unsigned)l.unit < 4 && l.amount > 0 && l.amount <= max[l.unit];
}

static const hl_policy_row_t *exact(const hl_policy_t *p, hl_type_t t, hl_urgency_t u,
                                    const char *region)
{
    for (size_t i = 0; i < p->n; i++) {
        const hl_policy_row_t *r = &p->rows[i];
        if (r->type == t && r->urgency == u && strcmp(r->region, region) == 0) return r;
    }
    return NULL;
}

int hl_policy_add(hl_policy_t *p, const hl_policy_row_t *row)
{
    if (!limit_ok(row->sign) || !limit_ok(row->contact) || !limit_ok(row->reply) ||
        !limit_ok(row->extension) || !limit_ok(row->return_window) || !limit_ok(row->callback) ||
        row->max_extensions < 0 || row->max_returns < 0 || row->max_reopens < 0 ||
        row->callback_attempts < 1 ||
        memchr(row->region, '\0', HL_REGION_LEN) == NULL)
        return HL_EINVAL;
    if (exact(p, row->type, row->urgency, row->region)) return HL_EEXIST;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->rows = hl_realloc(p->rows, p->cap * sizeof *p->rows);
    }
    p->rows[p->n++] = *row;
    return 0;
}

const hl_policy_row_t *hl_policy_find(const hl_policy_t *p, hl_type_t type, hl_urgency_t urgency,
                                      const char *const *regions, size_t n)
{
    const hl_urgency_t us[2] = {urgency, 0};
    const hl_type_t ts[2] = {type, 0};
    for (int ui = urgency ? 0 : 1; ui < 2; ui++) {
        for (int ti = type ? 0 : 1; ti < 2; ti++) {
            for (size_t ri = 0; ri <= n; ri++) {
                const hl_policy_row_t *r = exact(p, ts[ti], us[ui], ri < n ? regions[ri] : "");
                if (r) return r;
            }
        }
    }
    return NULL;
}

void hl_policy_deadlines(const hl_policy_row_t *row, const hl_calendar_t *cal, int64_t from,
                         hl_count_rule_t rule, int offset_min, hl_deadlines_t *out)
{
    out->estimated = false;
    out->sign = hl_limit_add(cal, from, row->sign, rule, offset_min, &out->estimated);
    out->contact = hl_limit_add(cal, from, row->contact, rule, offset_min, &out->estimated);
    out->reply = hl_limit_add(cal, from, row->reply, rule, offset_min, &out->estimated);
}
