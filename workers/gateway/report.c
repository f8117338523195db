/* report.c - the daily and monthly report: GET /api/v1/report.
 *
 *   GET /report?day=YYYY-MM-DD | month=YYYY-MM | from=&to= [&unit=] [&format=markdown|html]
 *
 * The figures a city publishes for a period (default: yesterday, local
 * time): the volume by channel and by request type, every rate (exact:
 * recounted from the event log, as /stats?source=exact), the top
 * categories, the hot spots (spikes of a category x region over the
 * hotspots.baseline_days before the period) and the units ranked by
 * completion rate. Meant for publication: no personal data, no request
 * text, and counts below hotspots.public_min_count shown as "<N".
 * Office, supervisor and admin; a unit gets its own report.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/alloc.h"
#include "hotline/buf.h"
#include "hotline/clock.h"
#include "hotline/ticket.h"

#include "gateway.h"

typedef struct {
    int64_t from, to;
    char unit[40];
    char title[96];
    bool html;
    char *text;
    bool unreachable;
} report_t;

/* ------------------------------------------------------------ the document */

typedef struct {
    hl_buf_t b;
    bool html;
} doc_t;

static void esc(doc_t *d, const char *s)
{
    for (; *s; s++) {
        if (d->html && *s == '<') hl_buf_puts(&d->b, "&lt;");
        else if (d->html && *s == '>') hl_buf_puts(&d->b, "&gt;");
        else if (d->html && *s == '&') hl_buf_puts(&d->b, "&amp;");
        else if (d->html && *s == '"') hl_buf_puts(&d->b, "&quot;");
        else if (!d->html && (*s == '|' || *s == '*' || *s == '_' || *s == '\\' || *s == '`')) {
            hl_buf_putc(&d->b, '\\');
            hl_buf_putc(&d->b, *s);
        } else if (*s == '\n' || *s == '\r') hl_buf_putc(&d->b, ' ');
        else hl_buf_putc(&d->b, *s);
    }
}

static void heading(doc_t *d, int level, const char *text)
{
    if (d->html) {
        hl_buf_printf(&d->b, "<h%d>", level);
        esc(d, text);
        hl_buf_printf(&d->b, "</h%d>\n", level);
    } else {
        for (int i = 0; i < level; i++) hl_buf_putc(&d->b, '#');
        hl_buf_putc(&d->b, ' ');
        esc(d, text);
        hl_buf_puts(&d->b, "\n\n");
    }
}

static void para(doc_t *d, const char *text)
{
    hl_buf_puts(&d->b, d->html ? "<p>" : "");
    esc(d, text);
    hl_buf_puts(&d->b, d->html ? "</p>\n" : "\n\n");
}

static void row(doc_t *d, const char *const *cells, int n, bool head)
{
    if (d->html) {
        hl_buf_puts(&d->b, "<tr>");
        for (int i = 0; i < n; i++) {
            hl_buf_puts(&d->b, head ? "<th>" : "<td>");
            esc(d, cells[i]);
            hl_buf_puts(&d->b, head ? "</th>" : "</td>");
        }
        hl_buf_puts(&d->b, "</tr>\n");
        return;
    }
    hl_buf_puts(&d->b, "|");
    for (int i = 0; i < n; i++) {
        hl_buf_putc(&d->b, ' ');
        esc(d, cells[i]);
        hl_buf_puts(&d->b, " |");
    }
    hl_buf_putc(&d->b, '\n');
    if (head) {
        hl_buf_puts(&d->b, "|");
        for (int i = 0; i < n; i++) hl_buf_puts(&d->b, i ? " ---: |" : " --- |");
        hl_buf_putc(&d->b, '\n');
    }
}

static void table_start(doc_t *d, const char *const *cols, int n)
{
    if (d->html) hl_buf_puts(&d->b, "<table>\n");
    row(d, cols, n, true);
}

static void table_end(doc_t *d)
{
    hl_buf_puts(&d->b, d->html ? "</table>\n" : "\n");
}

/* ------------------------------------------------------------ cells */

typedef struct {
    char s[8][128];
} cells_t;

/* A count as published: below the least, "<least". */
static const char *count_cell(char out[128], int64_t n, int64_t least)
{
    if (n > 0 && n < least) snprintf(out, 128, "<%lld", (long long)least);
    else snprintf(out, 128, "%lld", (long long)n);
    return out;
}

static const char *rate_cell(char out[128], const json_t *v)
{
    if (!json_is_number(v)) snprintf(out, 128, "—");
    else snprintf(out, 128, "%.1f%%", json_number_value(v) * 100);
    return out;
}

static const char *share_cell(char out[128], int64_t n, int64_t total)
{
    if (!total) snprintf(out, 128, "—");
    else snprintf(out, 128, "%.1f%%", (double)n * 100 / (double)total);
    return out;
}

/* The rates in the order a report lists them; others defined after. */
static const char *const RATE_ORDER[] = {
    "completion_rate", "on_time_rate", "response_rate", "sign_on_time_rate", "resolution_rate",
    "satisfaction_rate", "direct_resolution_rate", "first_time_completion_rate", "first_dispatch_accuracy",
    "callback_rate", "return_rate", "extension_rate", "overdue_rate", "repeat_rate",
    "supervised_resolution_rate", "kb_adoption_rate",
};
#define NORDER (sizeof RATE_ORDER / sizeof RATE_ORDER[0])

static const char *type_label(const char *code)
{
    static const char *const map[][2] = {{"consultation", "咨询"}, {"help", "求助"},     {"complaint", "投诉"},
                                         {"report", "举报"},       {"suggestion", "建议"}, {"praise", "表扬"},
                                         {"other", "其他"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i][0], code)) return map[i][1];
    return code;
}

static const char *channel_label(const char *code)
{
    static const char *const map[][2] = {{"phone", "电话"}, {"web", "网站"},    {"app", "App"},
                                         {"wechat", "微信"}, {"sms", "短信"},   {"mail", "信件"},
                                         {"open311", "Open311"}, {"transfer", "转办"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i][0], code)) return map[i][1];
    return code;
}

static int64_t counter(const json_t *o, const char *name)
{
    return json_integer_value(json_object_get(o, name));
}

/* Units by completion rate (then satisfaction, then volume); no rate last. */
static int by_rank(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *keys[2] = {"completion_rate", "satisfaction_rate"};
    for (int k = 0; k < 2; k++) {
        const json_t *u = json_object_get(x, keys[k]), *v = json_object_get(y, keys[k]);
        if (json_is_number(u) != json_is_number(v)) return json_is_number(u) ? -1 : 1;
        if (json_is_number(u) && json_number_value(u) != json_number_value(v))
            return json_number_value(u) > json_number_value(v) ? -1 : 1;
    }
    int64_t m = counter(x, "dispatched"), n = counter(y, "dispatched");
    return m > n ? -1 : m < n;
}

/* ------------------------------------------------------------ the report */

static PGresult *run(PGconn *pg, const char *sql, int n, const char *const *p)
{
    return gw_pg_rows(pg, "report", sql, n, p);
}

static void report_work(gw_req_t *r, PGconn *pg)
{
    report_t *job = r->job;
    const hl_conf_t *conf = &r->gw->conf;
    int64_t least = conf->hot_public_min_count;
    json_t *fig = NULL, *hot = NULL;
    PGresult *volume = NULL, *cats = NULL;
    json_t **units = NULL;
    doc_t d = {HL_BUF_INIT, job->html};
    if (!pg) goto fail;
    fig = gw_figures(r, pg, job->from, job->to, job->unit, &job->unreachable);
    if (!fig) goto fail;
    char from[24], to[24];
    snprintf(from, sizeof from, "%lld", (long long)job->from);
    snprintf(to, sizeof to, "%lld", (long long)job->to);
    const char *p[3] = {from, to, *job->unit ? job->unit : NULL};
    volume = run(pg,
                 "SELECT channel, request_type, count(*) FROM tickets WHERE created_at >= to_timestamp($1::bigint / "
                 "1000.0) AND created_at < to_timestamp($2::bigint / 1000.0) AND ($3::text IS NULL OR unit = $3) "
                 "GROUP BY 1, 2",
                 3, p);
    cats = volume ? run(pg,
                        "SELECT category, count(*) FROM tickets WHERE created_at >= to_timestamp($1::bigint / "
                        "1000.0) AND created_at < to_timestamp($2::bigint / 1000.0) AND ($3::text IS NULL OR unit "
                        "= $3) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
                        3, p)
                  : NULL;
    gw_hot_query_t hq = {job->from, job->to, job->unit, 10, false, false};
    hot = cats ? gw_hotspots(r, pg, &hq) : NULL;
    if (!hot) goto fail;

    /* Volume by channel and type, from the tickets taken in. */
    int64_t total = 0;
    const char *chan[32], *type[32];
    int64_t by_chan[32] = {0}, by_type[32] = {0};
    int nchan = 0, ntype = 0;
    for (int i = 0; i < PQntuples(volume); i++) {
        const char *c = PQgetvalue(volume, i, 0), *t = PQgetvalue(volume, i, 1);
        int64_t n = atoll(PQgetvalue(volume, i, 2));
        total += n;
        int k = 0;
        while (k < nchan && strcmp(chan[k], c) != 0) k++;
        if (k == nchan && nchan < 32) chan[nchan++] = c;
        if (k < nchan) by_chan[k] += n;
        k = 0;
        while (k < ntype && strcmp(type[k], t) != 0) k++;
        if (k == ntype && ntype < 32) type[ntype++] = t;
        if (k < ntype) by_type[k] += n;
    }

    char f[40], t[40], line[512];
    gw_time(r->gw, job->from, f);
    gw_time(r->gw, job->to, t);
    if (d.html)
        hl_buf_printf(&d.b, "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>%s</title>"
                            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
                            "table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;"
                            "padding:.25em .6em}td:not(:first-child){text-align:right}th{background:#f3f3f3}"
                            "</style></head><body>\n",
                      job->title);
    heading(&d, 1, job->title);
    const json_t *totals = json_object_get(fig, "totals");
    snprintf(line, sizeof line, "统计时段：%s 至 %s（不含）%s%s。数据来源：事件日志（精确统计）。少于 %lld 件的数量显示为“<%lld”。", f,
             t, *job->unit ? "；单位：" : "", *job->unit ? gw_refs_unit_name(r->refs, job->unit) : "",
             (long long)least, (long long)least);
    para(&d, line);
    char rate_a[128], rate_b[128], rate_c[128];
    snprintf(line, sizeof line, "受理诉求 %lld 件，派单 %lld 件，办结 %lld 件；办结率 %s，按时办结率 %s，满意率 %s。",
             (long long)counter(totals, "accepted"), (long long)counter(totals, "dispatched"),
             (long long)counter(totals, "finished"), rate_cell(rate_a, json_object_get(totals, "completion_rate")),
             rate_cell(rate_b, json_object_get(totals, "on_time_rate")),
             rate_cell(rate_c, json_object_get(totals, "satisfaction_rate")));
    para(&d, line);

    cells_t c;
    heading(&d, 2, "一、受理渠道");
    table_start(&d, (const char *const[]){"渠道", "件数", "占比"}, 3);
    for (int i = 0; i < nchan; i++) {
        const char *v[3] = {channel_label(chan[i]), count_cell(c.s[0], by_chan[i], least),
                            share_cell(c.s[1], by_chan[i], total)};
        row(&d, v, 3, false);
    }
    table_end(&d);
    heading(&d, 2, "二、诉求类型");
    table_start(&d, (const char *const[]){"类型", "件数", "占比"}, 3);
    for (int i = 0; i < ntype; i++) {
        const char *v[3] = {type_label(type[i]), count_cell(c.s[0], by_type[i], least),
                            share_cell(c.s[1], by_type[i], total)};
        row(&d, v, 3, false);
    }
    table_end(&d);

    heading(&d, 2, "三、主要指标");
    table_start(&d, (const char *const[]){"指标", "数值", "分子", "分母"}, 4);
    const json_t *defs = json_object_get(fig, "rates"), *names = json_object_get(fig, "counters");
    const char *key;
    json_t *def;
    /* In RATE_ORDER first, then the others by name. */
    for (size_t k = 0; k <= NORDER; k++) {
        json_object_foreach((json_t *)defs, key, def) {
            bool listed = false;
            for (size_t j = 0; j < NORDER; j++) listed |= !strcmp(RATE_ORDER[j], key);
            if (k < NORDER ? strcmp(RATE_ORDER[k], key) != 0 : listed) continue;
            const char *num = json_string_value(json_object_get(def, "numerator")),
                       *den = json_string_value(json_object_get(def, "denominator"));
            const char *nl = json_string_value(json_object_get(json_object_get(names, num ? num : ""), "label")),
                       *dl = json_string_value(json_object_get(json_object_get(names, den ? den : ""), "label"));
            snprintf(c.s[2], 128, "%s %lld", nl ? nl : (num ? num : ""), (long long)counter(totals, num ? num : ""));
            snprintf(c.s[3], 128, "%s %lld", dl ? dl : (den ? den : ""), (long long)counter(totals, den ? den : ""));
            const char *label = json_string_value(json_object_get(def, "label"));
            const char *v[4] = {label ? label : key, rate_cell(c.s[1], json_object_get(totals, key)), c.s[2], c.s[3]};
            row(&d, v, 4, false);
        }
    }
    table_end(&d);

    heading(&d, 2, "四、诉求较多的类别");
    table_start(&d, (const char *const[]){"排名", "类别", "件数", "占比"}, 4);
    for (int i = 0; i < PQntuples(cats); i++) {
        const gw_category_t *cat = gw_refs_category(r->refs, PQgetvalue(cats, i, 0));
        int64_t n = atoll(PQgetvalue(cats, i, 1));
        snprintf(c.s[0], 128, "%d", i + 1);
        const char *v[4] = {c.s[0], cat ? cat->name : PQgetvalue(cats, i, 0), count_cell(c.s[1], n, least),
                            share_cell(c.s[2], n, total)};
        row(&d, v, 4, false);
    }
    table_end(&d);

    heading(&d, 2, "五、热点");
    const json_t *spikes = json_object_get(hot, "spikes");
    if (!json_array_size(spikes)) {
        para(&d, "本时段没有明显高于常态的类别和区域。");
    } else {
        snprintf(line, sizeof line, "与此前 %lld 天同样长度时段的平均水平相比，诉求量明显上升的类别和区域：",
                 (long long)conf->hot_baseline_days);
        para(&d, line);
        table_start(&d, (const char *const[]){"类别", "区域", "件数", "常态（平均）", "倍数"}, 5);
        size_t i;
        json_t *s;
        json_array_foreach((json_t *)spikes, i, s) {
            double usual = json_number_value(json_object_get(s, "usual"));
            int64_t n = json_integer_value(json_object_get(s, "count"));
            const char *rn = json_string_value(json_object_get(s, "region_name"));
            snprintf(c.s[1], 128, "%.1f", usual);
            if (usual > 0) snprintf(c.s[2], 128, "%.1f", (double)n / usual);
            else snprintf(c.s[2], 128, "新出现");
            const char *v[5] = {json_string_value(json_object_get(s, "category_name")),
                                rn && *rn ? rn : "（未注明）", count_cell(c.s[0], n, least), c.s[1], c.s[2]};
            if (!*v[0]) v[0] = json_string_value(json_object_get(s, "category"));
            row(&d, v, 5, false);
        }
        table_end(&d);
    }

    heading(&d, 2, "六、承办单位排名");
    const json_t *by_unit = json_object_get(fig, "by_unit");
    size_t nu = 0, i;
    json_t *u;
    units = hl_calloc(json_array_size(by_unit) + 1, sizeof *units);
    json_array_foreach((json_t *)by_unit, i, u)
        if (json_is_string(json_object_get(u, "unit"))) units[nu++] = u;
    qsort(units, nu, sizeof *units, by_rank);
    table_start(&d, (const char *const[]){"排名", "单位", "派单", "办结", "办结率", "按时办结率", "满意率"}, 7);
    for (size_t k = 0; k < nu; k++) {
        snprintf(c.s[0], 128, "%zu", k + 1);
        snprintf(c.s[1], 128, "%lld", (long long)counter(units[k], "dispatched"));
        snprintf(c.s[2], 128, "%lld", (long long)counter(units[k], "finished"));
        const char *v[7] = {c.s[0], json_string_value(json_object_get(units[k], "unit_name")), c.s[1], c.s[2],
                            rate_cell(c.s[3], json_object_get(units[k], "completion_rate")),
                            rate_cell(c.s[4], json_object_get(units[k], "on_time_rate")),
                            rate_cell(c.s[5], json_object_get(units[k], "satisfaction_rate"))};
        row(&d, v, 7, false);
    }
    table_end(&d);
    char now[40];
    snprintf(line, sizeof line, "生成时间：%s（hotline）", gw_time(r->gw, hl_now_ms(), now));
    para(&d, line);
    if (d.html) hl_buf_puts(&d.b, "</body></html>\n");
    job->text = d.b.data ? d.b.data : hl_strdup("");
    d.b.data = NULL;
    goto done;
fail:
    if (!job->unreachable) job->unreachable = gw_pg_unavailable(pg);
done:
    hl_buf_free(&d.b);
    hl_free(units);
    json_decref(fig);
    json_decref(hot);
    PQclear(volume);
    PQclear(cats);
}

static void report_finish(gw_req_t *r)
{
    report_t *job = r->job;
    if (job->text) {
        hl_info("export: a report by %s#%lld", hl_role_name(r->tok.role), (long long)r->tok.id);
        gw_reply_text(r, 200, job->html ? "text/html; charset=utf-8" : "text/markdown; charset=utf-8", job->text,
                      strlen(job->text));
    } else {
        gw_reply_deferred(r, NULL, job->unreachable, "the report");
    }
    hl_free(job);
    r->job = NULL;
}

/* YYYY-MM-DD, or YYYY-MM (its first day), as a day number; false if it is
 * not a date (2026-02-30 is not). */
static bool parse_day(const char *s, bool month, int64_t *day)
{
    int y, m, dd = 1, n = 0;
    if (strlen(s) != (month ? 7u : 10u) ||
        (month ? sscanf(s, "%4d-%2d%n", &y, &m, &n) != 2 : sscanf(s, "%4d-%2d-%2d%n", &y, &m, &dd, &n) != 3) ||
        s[n] || s[4] != '-' || y < 2000 || y > 2100 || m < 1 || m > 12 || dd < 1 || dd > 31)
        return false;
    *day = hl_days_from_civil(y, (unsigned)m, (unsigned)dd);
    int yy;
    unsigned mm, d2;
    hl_civil_from_days(*day, &yy, &mm, &d2);
    return yy == y && (int)mm == m && (int)d2 == dd;
}

void gw_report_api(gw_req_t *r)
{
    if (strcmp(r->method, "GET") != 0) {
        gw_not_allowed(r, "GET");
        return;
    }
    if (!gw_authenticate(r, HL_ROLE_OFFICE | HL_ROLE_SUPERVISOR | HL_ROLE_ADMIN | HL_ROLE_UNIT)) return;
    report_t job = {0};
    if (!gw_code_arg(r, "unit", job.unit, sizeof job.unit) || !gw_unit_scope(r, job.unit, sizeof job.unit, "report"))
        return;
    const char *format = gw_arg(r, "format"), *day = gw_arg(r, "day"), *month = gw_arg(r, "month");
    if (format && strcmp(format, "markdown") != 0 && strcmp(format, "html") != 0) {
        gw_reply_error(r, 400, "invalid", "'format' is markdown (the default) or html");
        return;
    }
    job.html = format && strcmp(format, "html") == 0;
    int off = (int)r->gw->conf.utc_offset_min;
    int64_t d0;
    if ((day != NULL) + (month != NULL) + (gw_arg(r, "from") || gw_arg(r, "to")) > 1) {
        gw_reply_error(r, 400, "invalid", "give one of 'day', 'month' or 'from'/'to'");
        return;
    }
    char name[16];
    if (day) {
        if (!parse_day(day, false, &d0)) {
            gw_reply_error(r, 400, "invalid", "'day' is a date, YYYY-MM-DD");
            return;
        }
        job.from = hl_day_start(d0, off);
        job.to = job.from + 86400000;
        snprintf(job.title, sizeof job.title, "12345 热线日报（%s）", hl_day_name(d0, name));
    } else if (month) {
        if (!parse_day(month, true, &d0)) {
            gw_reply_error(r, 400, "invalid", "'month' is YYYY-MM");
            return;
        }
        int y = atoi(month), m = atoi(month + 5);
        int64_t d1 = hl_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1u : (unsigned)m + 1, 1);
        job.from = hl_day_start(d0, off);
        job.to = hl_day_start(d1, off);
        snprintf(job.title, sizeof job.title, "12345 热线月报（%d 年 %d 月）", y, m);
    } else if (gw_arg(r, "from") || gw_arg(r, "to")) {
        if (!gw_period_args(r, &job.from, &job.to)) return;
        snprintf(job.title, sizeof job.title, "12345 热线报告");
    } else {
        d0 = hl_local_day(hl_now_ms(), off) - 1;
        job.from = hl_day_start(d0, off);
        job.to = job.from + 86400000;
        snprintf(job.title, sizeof job.title, "12345 热线日报（%s）", hl_day_name(d0, name));
    }
    report_t *j = hl_malloc(sizeof *j);
    *j = job;
    r->job = j;
    gw_defer(r, report_work, report_finish);
}
