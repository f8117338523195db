/* ticket.c - names of the ticket vocabulary. */
#include <string.h>

#include "hotline/ticket.h"

static const char *state_names[] = {
    "", "DRAFT", "ACCEPTED", "CLOSED_DIRECT", "NOT_ACCEPTED", "TRANSFERRED_OUT", "MERGED",
    "PENDING_DISPATCH", "DISPATCHED", "RETURN_REQUESTED", "SIGNED", "IN_PROGRESS",
    "EXTENSION_REQUESTED", "REPLIED", "CALLBACK", "CLOSED", "ARCHIVED", "WITHDRAWN"};
static const char *type_names[] = {"", "consultation", "help", "complaint", "report",
                                   "suggestion", "praise", "other"};
static const char *urgency_names[] = {"", "normal", "urgent", "critical"};
static const char *channel_names[] = {"", "phone", "web", "app", "wechat", "sms", "mail",
                                      "open311", "transfer"};
static const char *action_names[] = {
    "", "sign", "return", "approve_return", "reject_return", "extend", "approve_extension",
    "reject_extension", "contact", "reply", "review_accept", "review_reject", "callback", "close",
    "reopen", "withdraw", "merge", "transfer_emergency", "not_accepted", "close_direct",
    "dispatch", "archive", "notify"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *name(const char **names, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? names[v] : "";
}

static int parse(const char **names, size_t n, const char *s, int *out)
{
    if (!s || !*s) return HL_EINVAL;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(names[i], s) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    return HL_EINVAL;
}

#define VOCAB(fn, T, names)                                                                        \
    const char *hl_##fn##_name(T v) { return name(names, N(names), (int)v); }                      \
    int hl_##fn##_parse(const char *s, T *out)                                                     \
    {                                                                                              \
        int v, rc = parse(names, N(names), s, &v);                                                 \
        if (rc == 0) *out = (T)v;                                                                  \
        return rc;                                                                                 \
    }

VOCAB(state, hl_state_t, state_names)
VOCAB(type, hl_type_t, type_names)
VOCAB(urgency, hl_urgency_t, urgency_names)
VOCAB(channel, hl_channel_t, channel_names)
VOCAB(action, hl_action_t, action_names)

_Static_assert(N(state_names) == HOTLINE__STATE__STATE_WITHDRAWN + 1, "state names");
_Static_assert(N(type_names) == HOTLINE__REQUEST_TYPE__TYPE_OTHER + 1, "type names");
_Static_assert(N(urgency_names) == HOTLINE__URGENCY__URGENCY_CRITICAL + 1, "urgency names");
_Static_assert(N(channel_names) == HOTLINE__CHANNEL__CHANNEL_TRANSFER + 1, "channel names");
_Static_assert(N(action_names) == HOTLINE__ACTION_KIND__ACTION_NOTIFY + 1, "action names");

bool hl_category_within(const char *code, size_t len, const char *parent)
{
    if (!parent || !*parent) return true;
    size_t n = strlen(parent);
    return len >= n && memcmp(code, parent, n) == 0 && (len == n || code[n] == '.');
}
