/* ticket.h - the ticket vocabulary: states, request types, urgencies,
 * channels and action kinds, with their names in the store and on the API.
 *
 * The numeric values are those of the wire enums in proto/hotline.proto.
 * States are stored by their upper-case code ("DISPATCHED"); types, urgencies,
 * channels and actions by lower-case codes ("complaint", "urgent", "wechat",
 * "approve_return").
 */
#ifndef HOTLINE_TICKET_H
#define HOTLINE_TICKET_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/hotline.pb-c.h"

#include "hotline/err.h"

typedef Hotline__State hl_state_t;
typedef Hotline__RequestType hl_type_t;
typedef Hotline__Urgency hl_urgency_t;
typedef Hotline__Channel hl_channel_t;
typedef Hotline__ActionKind hl_action_t;

/* Names; an out-of-range value gives "" (never NULL). */
const char *hl_state_name(hl_state_t s);
const char *hl_type_name(hl_type_t t);
const char *hl_urgency_name(hl_urgency_t u);
const char *hl_channel_name(hl_channel_t c);
const char *hl_action_name(hl_action_t a);

/* Parse a name; returns 0 or HL_EINVAL. "UNSPECIFIED" values are not names. */
HL_MUSTCHECK int hl_state_parse(const char *s, hl_state_t *out);
HL_MUSTCHECK int hl_type_parse(const char *s, hl_type_t *out);
HL_MUSTCHECK int hl_urgency_parse(const char *s, hl_urgency_t *out);
HL_MUSTCHECK int hl_channel_parse(const char *s, hl_channel_t *out);
HL_MUSTCHECK int hl_action_parse(const char *s, hl_action_t *out);

/* Is category code (len bytes) parent or one of its subcategories
 * ("construction.water" within "construction")? Any code is within "" or
 * NULL. */
bool hl_category_within(const char *code, size_t len, const char *parent);

#endif
