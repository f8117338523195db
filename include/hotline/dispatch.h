/* dispatch.h - 派单: from a validated Intake to a routing decision.
 *
 * Pure logic over a reference-data snapshot, no I/O: validate the intake,
 * classify its text, pick the lead and assisting units by category x region,
 * and compute the deadlines by type x urgency on the working-day calendar.
 * The plan owns copies of everything, so it outlives a snapshot swap.
 */
#ifndef HOTLINE_DISPATCH_H
#define HOTLINE_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/hotline.pb-c.h"

#include "hotline/calendar.h"
#include "hotline/err.h"
#include "hotline/policy.h"
#include "hotline/refdata.h"
#include "hotline/ticket.h"

#define HL_MAX_ASSISTING 8
#define HL_UNIT_LEN 32
#define HL_CATEGORY_LEN 64
#define HL_KEY_MAX 128

typedef struct {
    size_t max_text;        /* bytes of title + body */
    double min_confidence;  /* below: PENDING_DISPATCH */
    int offset_min;         /* local time zone */
    hl_count_rule_t rule;   /* day counting */
    const char *default_region; /* "" or NULL: the top-level region */
} hl_dispatch_opts_t;

typedef struct {
    hl_state_t state;       /* DISPATCHED or PENDING_DISPATCH */
    hl_type_t type;
    hl_urgency_t urgency;
    char category[HL_CATEGORY_LEN]; /* "" when unclassified */
    float confidence;
    char unit[HL_UNIT_LEN];         /* "" when PENDING_DISPATCH */
    char assisting[HL_MAX_ASSISTING][HL_UNIT_LEN];
    int nassisting;
    char region[HL_REGION_LEN];     /* the known region routed by */
    char classifier[64];            /* version of the model and rules */
    hl_deadlines_t deadlines;
    int64_t received_at;            /* ms, UTC */
    size_t title_len, body_len;     /* bytes of the intake's title and body */
    char emergency[4];              /* proposed service, "" = none */
    char reason[256];               /* for the intake event */
} hl_plan_t;

/* Check an intake against the contract: idempotency key of 1-128 printable
 * ASCII characters (or none for a dry run), a channel, a non-empty body, title + body within
 * max_text, field lengths (name 64, phone 32, id number 32, address 512,
 * title 512 bytes), a region code of 6-12 digits if given, coordinates in
 * range, enum values known, received_at not in the future by more than 10
 * minutes. Returns 0, HL_EINVAL or HL_ETOOBIG, with err filled. */
HL_MUSTCHECK int hl_dispatch_validate(const Hotline__Intake *in, const hl_dispatch_opts_t *o,
                                      int64_t now, char err[HL_ERR_LEN]);

/* Plan a validated intake received by the router at `now` (ms, UTC). A
 * category the intake names (a known code) is used as given, with
 * confidence 1 and classifier "requester"; else the classifier decides. */
void hl_dispatch_plan(const hl_refdata_t *rd, const Hotline__Intake *in,
                      const hl_dispatch_opts_t *o, int64_t now, hl_plan_t *out);

#endif
