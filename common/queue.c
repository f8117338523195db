/* queue.c - stream entries of unit queues. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hotline/queue.h"

static void arg(hl_xadd_t *x, const char *s)
{
    x->argv[x->argc] = s;
    x->argvlen[x->argc++] = strlen(s);
}

static void field(hl_xadd_t *x, const char *name, const char *value)
{
    arg(x, name);
    arg(x, value ? value : "");
}

static void num(hl_xadd_t *x, int i, const char *name, int64_t v)
{
    snprintf(x->nums[i], sizeof x->nums[i], "%" PRId64, v);
    field(x, name, x->nums[i]);
}

void hl_queue_xadd(hl_xadd_t *x, const char *queue, const char *kind, const char *event,
                   const char *role, const hl_queue_entry_t *e)
{
    x->argc = 0;
    snprintf(x->key, sizeof x->key, HL_QUEUE_PREFIX "%s", queue);
    arg(x, "XADD");
    arg(x, x->key);
    arg(x, "*");
    field(x, "kind", kind);
    field(x, "event", event);
    field(x, "ticket", e->ticket_no);
    num(x, 0, "id", e->id);
    field(x, "role", role);
    field(x, "state", e->state);
    field(x, "category", e->category);
    field(x, "urgency", e->urgency);
    field(x, "type", e->type);
    field(x, "region", e->region);
    num(x, 1, "sign_due", e->sign_due);
    num(x, 2, "contact_due", e->contact_due);
    num(x, 3, "reply_due", e->reply_due);
    num(x, 4, "version", e->version);
}
