/* dispatch.c - validation, classification, routing and deadlines of an intake. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hotline/classify.h"
#include "hotline/dispatch.h"

static int fail(char err[HL_ERR_LEN], int rc, const char *fmt, ...) HL_PRINTF(3, 4);
static int fail(char err[HL_ERR_LEN], int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, HL_ERR_LEN, fmt, ap);
    va_end(ap);
    return rc;
}

static bool key_ok(const char *k)
{
    size_t n = 0;
    for (; k[n]; n++)
        if (k[n] < 0x21 || k[n] > 0x7e) return false;
    return n >= 1 && n <= HL_KEY_MAX;
}

static bool region_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0) return true;
    if (n < 6 || n > 12) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

static bool blank(const char *s)
{
    /* ASCII white space and U+3000 (ideographic space) do not count as text. */
    while (*s) {
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
            s++;
        } else if ((unsigned char)s[0] == 0xE3 && (unsigned char)s[1] == 0x80 &&
                   (unsigned char)s[2] == 0x80) {
            s += 3;
        } else {
            return false;
        }
    }
    return true;
}

int hl_dispatch_validate(const Hotline__Intake *in, const hl_dispatch_opts_t *o, int64_t now,
                         char err[HL_ERR_LEN])
{
    if (!key_ok(in->idempotency_key) && !(in->dry_run && !*in->idempotency_key))
        return fail(err, HL_EINVAL, "idempotency_key must be 1-%d printable ASCII characters",
                    HL_KEY_MAX);
    if (strlen(in->category) > 64) return fail(err, HL_ETOOBIG, "category over 64 bytes");
    if (in->channel == HOTLINE__CHANNEL__CHANNEL_UNSPECIFIED || !*hl_channel_name(in->channel))
        return fail(err, HL_EINVAL, "channel is missing or unknown");
    if ((unsigned)in->type > HOTLINE__REQUEST_TYPE__TYPE_OTHER)
        return fail(err, HL_EINVAL, "unknown request type %d", (int)in->type);
    if ((unsigned)in->urgency > HOTLINE__URGENCY__URGENCY_CRITICAL)
        return fail(err, HL_EINVAL, "unknown urgency %d", (int)in->urgency);
    size_t tlen = strlen(in->title), blen = strlen(in->body);
    if (tlen + blen > o->max_text)
        return fail(err, HL_ETOOBIG, "title and body are %zu bytes, over the limit of %zu",
                    tlen + blen, o->max_text);
    if (tlen > 512) return fail(err, HL_ETOOBIG, "title is %zu bytes, over 512", tlen);
    if (blank(in->body)) return fail(err, HL_EINVAL, "body is empty");
    const Hotline__Requester *rq = in->requester;
    if (rq) {
        if (strlen(rq->name) > 64) return fail(err, HL_ETOOBIG, "requester.name over 64 bytes");
        if (strlen(rq->phone) > 32) return fail(err, HL_ETOOBIG, "requester.phone over 32 bytes");
        if (strlen(rq->id_number) > 32)
            return fail(err, HL_ETOOBIG, "requester.id_number over 32 bytes");
    }
    const Hotline__Location *loc = in->location;
    if (loc) {
        if (!region_ok(loc->region))
            return fail(err, HL_EINVAL, "location.region must be 6-12 digits");
        if (strlen(loc->address) > 512)
            return fail(err, HL_ETOOBIG, "location.address over 512 bytes");
        if (loc->has_coordinates && (!isfinite(loc->lat) || !isfinite(loc->long_) ||
                                     fabs(loc->lat) > 90 || fabs(loc->long_) > 180))
            return fail(err, HL_EINVAL, "location coordinates out of range");
    }
    if (in->received_at < 0 || (in->received_at && in->received_at > now + 600000))
        return fail(err, HL_EINVAL, "received_at is in the future");
    return 0;
}

static void copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

void hl_dispatch_plan(const hl_refdata_t *rd, const Hotline__Intake *in,
                      const hl_dispatch_opts_t *o, int64_t now, hl_plan_t *out)
{
    memset(out, 0, sizeof *out);
    out->received_at = in->received_at ? in->received_at : now;

    out->title_len = strlen(in->title);
    out->body_len = strlen(in->body);
    hl_class_t cls;
    const hl_classifier_t *clf = hl_refdata_classifier(rd);
    hl_classify(clf, in->title, out->title_len, in->body, out->body_len, &cls);
    if (hl_refdata_has_category(rd, in->category)) {
        /* The requester chose it (Open311 service_code): theirs to say. */
        copy(out->category, sizeof out->category, in->category);
        copy(out->classifier, sizeof out->classifier, "requester");
        out->confidence = 1.0f;
    } else {
        copy(out->category, sizeof out->category, cls.category);
        copy(out->classifier, sizeof out->classifier, hl_classifier_version(clf));
        out->confidence = cls.confidence;
    }
    out->type = in->type ? in->type : cls.type ? cls.type : HOTLINE__REQUEST_TYPE__TYPE_HELP;
    out->urgency = in->urgency ? in->urgency : HOTLINE__URGENCY__URGENCY_NORMAL;
    if (cls.emergency_phrase) {
        if (out->urgency < HOTLINE__URGENCY__URGENCY_URGENT)
            out->urgency = HOTLINE__URGENCY__URGENCY_URGENT;
        copy(out->emergency, sizeof out->emergency, cls.emergency_service);
    }

    /* Region: the intake's if known, else the configured default, else the city. */
    const char *chain[HL_MAX_CHAIN];
    const char *given = in->location ? in->location->region : "";
    int n = hl_refdata_region_chain(rd, given, chain);
    bool unknown_region = *given && n == 0;
    if (n == 0) n = hl_refdata_region_chain(rd, o->default_region, chain);
    if (n == 0) n = hl_refdata_region_chain(rd, hl_refdata_top_region(rd), chain);
    copy(out->region, sizeof out->region, n ? chain[0] : "");

    const hl_route_t *route = hl_refdata_route(rd, out->category, chain, n);
    bool confident = out->confidence >= o->min_confidence;
    if (in->hold) {
        out->state = HOTLINE__STATE__STATE_ACCEPTED;
    } else if (route && confident) {
        out->state = HOTLINE__STATE__STATE_DISPATCHED;
        copy(out->unit, sizeof out->unit, route->lead);
        for (int i = 0; i < route->nassisting && i < HL_MAX_ASSISTING; i++)
            copy(out->assisting[out->nassisting++], HL_UNIT_LEN, route->assisting[i]);
    } else {
        out->state = HOTLINE__STATE__STATE_PENDING_DISPATCH;
    }

    const hl_policy_row_t *row = hl_policy_find(hl_refdata_policy(rd), out->type, out->urgency,
                                                chain, (size_t)n);
    /* hl_refdata_finish guarantees the ('*', '*', '*') row. */
    hl_policy_deadlines(row, hl_refdata_calendar(rd, chain, n), out->received_at, o->rule,
                        o->offset_min, &out->deadlines);

    int len;
    if (out->state == HOTLINE__STATE__STATE_ACCEPTED)
        len = snprintf(out->reason, sizeof out->reason, "held for an answer at first contact: %s %.2f by %s",
                       out->category, out->confidence, out->classifier);
    else if (out->state == HOTLINE__STATE__STATE_DISPATCHED)
        len = snprintf(out->reason, sizeof out->reason, "auto-dispatched: %s %.2f by %s",
                       out->category, out->confidence, out->classifier);
    else if (!*out->category)
        len = snprintf(out->reason, sizeof out->reason, "unclassified by %s", out->classifier);
    else if (!confident)
        len = snprintf(out->reason, sizeof out->reason, "low confidence: %s %.2f < %.2f",
                       out->category, out->confidence, o->min_confidence);
    else
        len = snprintf(out->reason, sizeof out->reason, "no catalogue row for %s in %s",
                       out->category, out->region);
    if (cls.emergency_phrase && len > 0 && (size_t)len < sizeof out->reason)
        len += snprintf(out->reason + len, sizeof out->reason - (size_t)len,
                        "; emergency phrase, propose transfer to %s", out->emergency);
    if (unknown_region && len > 0 && (size_t)len < sizeof out->reason)
        snprintf(out->reason + len, sizeof out->reason - (size_t)len, "; unknown region %s",
                 given);
}
