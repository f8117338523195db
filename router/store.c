/* store.c - COPY rows of an intake. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/clock.h"
#include "hotline/store.h"

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void hl_ticket_no(char out[HL_TICKET_NO_LEN], int64_t id, int64_t created_at, int offset_min)
{
    int y;
    unsigned m, d;
    hl_civil_from_days(floor_div(created_at + (int64_t)offset_min * 60000, 86400000), &y, &m, &d);
    snprintf(out, HL_TICKET_NO_LEN, "%04d%02u%02u%08" PRId64, y, m, d, id);
}

int hl_ticket_no_parse(const char *no, int64_t *id, int64_t *local_day)
{
    size_t n = strlen(no);
    if (n < 16 || n > 27) return HL_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (no[i] < '0' || no[i] > '9') return HL_EINVAL;
    int y = (no[0] - '0') * 1000 + (no[1] - '0') * 100 + (no[2] - '0') * 10 + (no[3] - '0');
    unsigned m = (unsigned)((no[4] - '0') * 10 + (no[5] - '0'));
    unsigned d = (unsigned)((no[6] - '0') * 10 + (no[7] - '0'));
    if (m < 1 || m > 12 || d < 1 || d > 31) return HL_EINVAL;
    *local_day = hl_days_from_civil(y, m, d);
    *id = strtoll(no + 8, NULL, 10);
    return 0;
}

static void tab(hl_buf_t *b)
{
    hl_buf_putc(b, '\t');
}

static void text(hl_buf_t *b, const char *s)
{
    hl_buf_put_copy_text(b, s, strlen(s));
    tab(b);
}

static void null_or_text(hl_buf_t *b, const char *s)
{
    if (s && *s)
        text(b, s);
    else
        hl_buf_puts(b, "\\N\t");
}

static void ts(hl_buf_t *b, int64_t ms, int offset_min)
{
    char iso[HL_ISO8601_LEN];
    hl_buf_puts(b, hl_iso8601(ms, offset_min, iso));
    tab(b);
}

static void i64(hl_buf_t *b, int64_t v)
{
    hl_buf_put_i64(b, v);
    tab(b);
}

static void end_row(hl_buf_t *b)
{
    b->data[b->len - 1] = '\n'; /* the last tab */
}

void hl_store_ticket_row(hl_buf_t *b, const hl_store_ticket_t *t, int offset_min)
{
    const Hotline__Intake *in = t->intake;
    const hl_plan_t *p = t->plan;
    const Hotline__Location *loc = in->location;
    const Hotline__Requester *rq = in->requester;
    i64(b, t->id);
    ts(b, t->created_at, offset_min);
    text(b, t->ticket_no);
    text(b, hl_state_name(p->state));
    text(b, hl_channel_name(in->channel));
    text(b, hl_type_name(p->type));
    text(b, hl_urgency_name(p->urgency));
    text(b, p->category);
    hl_buf_printf(b, "%.4f\t", (double)p->confidence);
    text(b, p->classifier);
    null_or_text(b, p->unit);
    hl_buf_putc(b, '{');
    for (int i = 0; i < p->nassisting; i++) {
        if (i) hl_buf_putc(b, ',');
        hl_buf_puts(b, p->assisting[i]); /* unit codes are [A-Z0-9_] */
    }
    hl_buf_puts(b, "}\t");
    null_or_text(b, p->region);
    hl_buf_put_copy_text(b, in->title, p->title_len);
    tab(b);
    hl_buf_put_copy_text(b, in->body, p->body_len);
    tab(b);
    text(b, loc ? loc->address : "");
    if (loc && loc->has_coordinates)
        hl_buf_printf(b, "%.7f\t%.7f\t", loc->lat, loc->long_);
    else
        hl_buf_puts(b, "\\N\t\\N\t");
    text(b, rq && rq->anonymous ? "t" : "f");
    text(b, rq && rq->confidential ? "t" : "f");
    ts(b, p->received_at, offset_min);
    ts(b, p->deadlines.sign, offset_min);
    ts(b, p->deadlines.contact, offset_min);
    ts(b, p->deadlines.reply, offset_min);
    text(b, in->idempotency_key);
    end_row(b);
}

void hl_store_event_row(hl_buf_t *b, const hl_store_ticket_t *t, const char *router,
                        int offset_min)
{
    const hl_plan_t *p = t->plan;
    i64(b, t->id);
    hl_buf_puts(b, "1\t");
    ts(b, t->created_at, offset_min);
    hl_buf_puts(b, "intake\t\\N\t");
    text(b, hl_state_name(p->state));
    hl_buf_puts(b, "system\t");
    text(b, router);
    text(b, p->reason);
    null_or_text(b, p->unit);
    ts(b, p->deadlines.sign, offset_min);
    ts(b, p->deadlines.contact, offset_min);
    ts(b, p->deadlines.reply, offset_min);
    end_row(b);
}

bool hl_store_pii_row(hl_buf_t *b, const hl_store_ticket_t *t, int offset_min)
{
    const Hotline__Requester *rq = t->intake->requester;
    if (!rq || (!*rq->name && !*rq->phone && !*rq->id_number)) return false;
    i64(b, t->id);
    ts(b, t->created_at, offset_min);
    text(b, rq->name);
    text(b, rq->phone);
    text(b, rq->id_number);
    end_row(b);
    return true;
}

void hl_store_outbox_row(hl_buf_t *b, int64_t batch_id, const char *router, const int64_t *ids,
                         size_t n, int64_t created_at, int offset_min)
{
    i64(b, batch_id);
    text(b, router);
    hl_buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i) hl_buf_putc(b, ',');
        hl_buf_put_i64(b, ids[i]);
    }
    hl_buf_puts(b, "}\t");
    ts(b, created_at, offset_min);
    end_row(b);
}
