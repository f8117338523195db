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

/* --------------------------------------------------------- the action path */

static const char *str(const PGresult *res, int row, int col)
{
    return PQgetvalue(res, row, col);
}

static int64_t i64v(const PGresult *res, int row, int col)
{
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void copy_list(const char *csv, char (*out)[HL_UNIT_LEN], int max, int *n)
{
    *n = 0;
    for (const char *p = csv; *p && *n < max;) {
        size_t len = strcspn(p, ",");
        if (len >= HL_UNIT_LEN) len = HL_UNIT_LEN - 1;
        memcpy(out[*n], p, len);
        out[*n][len] = '\0';
        (*n)++;
        p += strcspn(p, ",");
        if (*p == ',') p++;
    }
}

#define COPY_FIELD(dst, src) snprintf((dst), sizeof(dst), "%s", (src))

int hl_store_ticket_read(const PGresult *res, int row, int c, hl_ticket_t *t, int *last_seq)
{
    memset(t, 0, sizeof *t);
    t->id = i64v(res, row, c + 0);
    t->created_at = i64v(res, row, c + 1);
    COPY_FIELD(t->ticket_no, str(res, row, c + 2));
    if (hl_state_parse(str(res, row, c + 3), &t->state) != 0) return HL_EINVAL;
    t->version = i64v(res, row, c + 4);
    if (hl_type_parse(str(res, row, c + 5), &t->type) != 0) return HL_EINVAL;
    if (hl_urgency_parse(str(res, row, c + 6), &t->urgency) != 0) return HL_EINVAL;
    COPY_FIELD(t->category, str(res, row, c + 7));
    COPY_FIELD(t->region, str(res, row, c + 8));
    COPY_FIELD(t->unit, str(res, row, c + 9));
    copy_list(str(res, row, c + 10), t->assisting, HL_MAX_ASSISTING, &t->nassisting);
    copy_list(str(res, row, c + 11), t->excluded, HL_MAX_EXCLUDED, &t->nexcluded);
    t->anonymous = str(res, row, c + 12)[0] == 't';
    t->confidential = str(res, row, c + 13)[0] == 't';
    t->binding = str(res, row, c + 14)[0] == 't';
    t->received_at = i64v(res, row, c + 15);
    t->dispatched_at = i64v(res, row, c + 16);
    t->reply_start = i64v(res, row, c + 17);
    t->callback_start = i64v(res, row, c + 18);
    for (int k = 0; k < 4; k++) t->due[k] = i64v(res, row, c + 19 + k);
    t->signed_at = i64v(res, row, c + 23);
    t->contacted_at = i64v(res, row, c + 24);
    t->replied_at = i64v(res, row, c + 25);
    t->closed_at = i64v(res, row, c + 26);
    t->return_count = (int)i64v(res, row, c + 27);
    t->reopen_count = (int)i64v(res, row, c + 28);
    t->extension_count = (int)i64v(res, row, c + 29);
    t->callback_attempts = (int)i64v(res, row, c + 30);
    t->supervision = (int)i64v(res, row, c + 31);
    COPY_FIELD(t->resolution, str(res, row, c + 32));
    COPY_FIELD(t->satisfaction, str(res, row, c + 33));
    t->parent_id = i64v(res, row, c + 34);
    t->sla_progress = (int32_t)i64v(res, row, c + 35);
    t->extension_days = (int)i64v(res, row, c + 36);
    const char *prev = str(res, row, c + 37);
    if (*prev && hl_state_parse(prev, &t->previous_state) != 0) return HL_EINVAL;
    if (last_seq) *last_seq = (int)i64v(res, row, c + 38);
    t->merged_count = (int)i64v(res, row, c + 39);
    COPY_FIELD(t->channel, str(res, row, c + 40));
    return 0;
}

#define TS(n) "to_timestamp(NULLIF(u." n ", 0) / 1000.0)"

const char *const hl_sql_update_tickets =
    "UPDATE tickets t SET state = u.state, version = u.version, unit = NULLIF(u.unit, ''), "
    "assisting_units = string_to_array(u.assisting, ','), "
    "excluded_units = string_to_array(u.excluded, ','), binding = u.binding, "
    "previous_state = NULLIF(u.previous_state, ''), dispatched_at = " TS("dispatched_at") ", "
    "reply_start = " TS("reply_start") ", callback_start = " TS("callback_start") ", "
    "sign_due = " TS("sign_due") ", contact_due = " TS("contact_due") ", reply_due = " TS("reply_due") ", "
    "callback_due = " TS("callback_due") ", signed_at = " TS("signed_at") ", "
    "contacted_at = " TS("contacted_at") ", replied_at = " TS("replied_at") ", "
    "closed_at = " TS("closed_at") ", return_count = u.return_count, reopen_count = u.reopen_count, "
    "extension_count = u.extension_count, callback_attempts = u.callback_attempts, "
    "supervision = u.supervision, resolution = NULLIF(u.resolution, ''), "
    "satisfaction = NULLIF(u.satisfaction, ''), parent_id = NULLIF(u.parent_id, 0), "
    "sla_progress = u.sla_progress, extension_days = NULLIF(u.extension_days, 0), last_seq = u.last_seq, "
    "merged_count = u.merged_count, updated_at = CASE WHEN u.version <> t.version THEN now() ELSE t.updated_at END "
    "FROM unnest($1::bigint[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], "
    "$7::bool[], $8::text[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], "
    "$13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], "
    "$19::bigint[], $20::int[], $21::int[], $22::int[], $23::int[], $24::int[], $25::text[], "
    "$26::text[], $27::bigint[], $28::int[], $29::int[], $30::int[], $31::int[]) AS u (id, state, "
    "version, unit, assisting, excluded, binding, previous_state, dispatched_at, reply_start, "
    "callback_start, sign_due, contact_due, reply_due, callback_due, signed_at, contacted_at, "
    "replied_at, closed_at, return_count, reopen_count, extension_count, callback_attempts, "
    "supervision, resolution, satisfaction, parent_id, sla_progress, extension_days, last_seq, "
    "merged_count) WHERE t.id = u.id AND t.created_at >= $32 AND t.created_at < $33";

static void arr_text(hl_buf_t *b, const char *s)
{
    hl_buf_putc(b, b->len ? ',' : '{');
    if (!s) {
        hl_buf_puts(b, "NULL");
        return;
    }
    hl_buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') hl_buf_putc(b, '\\');
        hl_buf_putc(b, *s);
    }
    hl_buf_putc(b, '"');
}

static void arr_int(hl_buf_t *b, int64_t v)
{
    hl_buf_putc(b, b->len ? ',' : '{');
    hl_buf_put_i64(b, v);
}

static void arr_list(hl_buf_t *b, char (*items)[HL_UNIT_LEN], int n)
{
    char csv[HL_UNIT_LEN * HL_MAX_EXCLUDED + 16] = "";
    size_t k = 0;
    for (int i = 0; i < n; i++) k += (size_t)snprintf(csv + k, sizeof csv - k, "%s%s", i ? "," : "", items[i]);
    arr_text(b, csv);
}

void hl_store_ticket_arrays(hl_buf_t cols[HL_UPDATE_NARRAYS], const hl_ticket_t *t, int last_seq)
{
    arr_int(&cols[0], t->id);
    arr_text(&cols[1], hl_state_name(t->state));
    arr_int(&cols[2], t->version);
    arr_text(&cols[3], t->unit);
    arr_list(&cols[4], (char(*)[HL_UNIT_LEN])t->assisting, t->nassisting);
    arr_list(&cols[5], (char(*)[HL_UNIT_LEN])t->excluded, t->nexcluded);
    arr_text(&cols[6], t->binding ? "t" : "f");
    arr_text(&cols[7], t->previous_state ? hl_state_name(t->previous_state) : "");
    const int64_t times[] = {t->dispatched_at, t->reply_start, t->callback_start, t->due[0], t->due[1],
                             t->due[2], t->due[3], t->signed_at, t->contacted_at, t->replied_at, t->closed_at};
    for (int i = 0; i < 11; i++) arr_int(&cols[8 + i], times[i]);
    arr_int(&cols[19], t->return_count);
    arr_int(&cols[20], t->reopen_count);
    arr_int(&cols[21], t->extension_count);
    arr_int(&cols[22], t->callback_attempts);
    arr_int(&cols[23], t->supervision);
    arr_text(&cols[24], t->resolution);
    arr_text(&cols[25], t->satisfaction);
    arr_int(&cols[26], t->parent_id);
    arr_int(&cols[27], t->sla_progress);
    arr_int(&cols[28], t->extension_days);
    arr_int(&cols[29], last_seq);
    arr_int(&cols[30], t->merged_count);
}

const char *const hl_sql_insert_events =
    "INSERT INTO ticket_events (ticket_id, seq, at, kind, from_state, to_state, actor_role, "
    "actor_unit, actor_id, reason_code, reason, unit, sign_due, contact_due, reply_due, callback_due, "
    "payload, marks) SELECT u.ticket_id, u.seq, to_timestamp(u.at / 1000.0), u.kind, u.from_state, u.to_state, "
    "u.actor_role, u.actor_unit, u.actor_id, u.reason_code, u.reason, u.unit, " TS("sign_due") ", "
    TS("contact_due") ", " TS("reply_due") ", " TS("callback_due") ", u.payload::jsonb, "
    "u.marks FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[], "
    "$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], "
    "$14::bigint[], $15::bigint[], $16::bigint[], $17::text[], $18::smallint[]) AS u (ticket_id, seq, at, "
    "kind, from_state, to_state, actor_role, actor_unit, actor_id, reason_code, reason, unit, sign_due, "
    "contact_due, reply_due, callback_due, payload, marks)";

static const char *nz(const char *s)
{
    return s && *s ? s : NULL;
}

void hl_store_event_arrays(hl_buf_t cols[HL_EVENT_NARRAYS], const hl_store_event_t *e)
{
    arr_int(&cols[0], e->ticket_id);
    arr_int(&cols[1], e->seq);
    arr_int(&cols[2], e->at);
    arr_text(&cols[3], e->kind);
    arr_text(&cols[4], e->from ? hl_state_name(e->from) : NULL);
    arr_text(&cols[5], hl_state_name(e->to));
    arr_text(&cols[6], e->actor_role);
    arr_text(&cols[7], nz(e->actor_unit));
    arr_text(&cols[8], nz(e->actor_id));
    arr_text(&cols[9], nz(e->reason_code));
    arr_text(&cols[10], nz(e->reason));
    arr_text(&cols[11], nz(e->unit));
    for (int k = 0; k < 4; k++) arr_int(&cols[12 + k], e->due[k]);
    arr_text(&cols[16], e->payload_json);
    arr_int(&cols[17], e->marks);
}

void hl_store_arrays_finish(hl_buf_t *cols, int n)
{
    for (int i = 0; i < n; i++) {
        if (!cols[i].len) hl_buf_putc(&cols[i], '{');
        hl_buf_putc(&cols[i], '}');
    }
}
