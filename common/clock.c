/* clock.c - time sources, civil-date arithmetic and ISO 8601.
 *
 * The civil-date conversions are the well-known days-from-civil algorithm
 * (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"), written out
 * here for int64 day numbers.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hotline/clock.h"

int64_t hl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hl_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t hl_days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void hl_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400) + (*m <= 2);
}

unsigned hl_weekday(int64_t days)
{
    /* 1970-01-01 was a Thursday (4). */
    int64_t w = (days + 4) % 7;
    return (unsigned)(w < 0 ? w + 7 : w);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static char *put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

/* Written out by hand: the router formats several of these per ticket, and
 * snprintf was a tenth of its time. */
char *hl_iso8601(int64_t ms, int offset_min, char *buf)
{
    int64_t local = ms + (int64_t)offset_min * 60000;
    int64_t days = floor_div(local, 86400000);
    int64_t rem = local - days * 86400000;
    int y;
    unsigned mo, d;
    hl_civil_from_days(days, &y, &mo, &d);
    char *p = buf;
    if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999;
    p = put_digits(p, (unsigned)y, 4);
    *p++ = '-';
    p = put_digits(p, mo, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, (unsigned)(rem / 3600000), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(rem / 60000 % 60), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(rem / 1000 % 60), 2);
    *p++ = '.';
    p = put_digits(p, (unsigned)(rem % 1000), 3);
    if (offset_min == 0) {
        *p++ = 'Z';
    } else {
        unsigned a = (unsigned)(offset_min < 0 ? -offset_min : offset_min);
        *p++ = offset_min < 0 ? '-' : '+';
        p = put_digits(p, a / 60, 2);
        *p++ = ':';
        p = put_digits(p, a % 60, 2);
    }
    *p = '\0';
    return buf;
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p)) return -1;
        v = v * 10 + (*(*p)++ - '0');
    }
    *out = v;
    return 0;
}

int hl_iso8601_parse(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0, sign = 1;
    const char *p = s;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return HL_EINVAL;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
        digits(&p, 2, &sec))
        return HL_EINVAL;
    if (*p == '.') {
        p++;
        int n = 0, scale = 100;
        while (isdigit((unsigned char)*p)) {
            if (n++ < 3) frac += (*p - '0') * scale, scale /= 10;
            p++;
        }
        if (n == 0) return HL_EINVAL;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p++ == '-' ? -1 : 1;
        if (digits(&p, 2, &oh)) return HL_EINVAL;
        if (*p == ':') p++;
        if (digits(&p, 2, &om)) return HL_EINVAL;
    } else {
        return HL_EINVAL;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 ||
        oh > 23 || om > 59)
        return HL_EINVAL;
    int64_t days = hl_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int y2;
    unsigned m2, d2;
    hl_civil_from_days(days, &y2, &m2, &d2);
    if (m2 != (unsigned)mo || d2 != (unsigned)d) return HL_EINVAL; /* e.g. 02-30 */
    *ms = ((days * 24 + h) * 60 + mi) * 60000 + (int64_t)sec * 1000 + frac -
          (int64_t)sign * (oh * 60 + om) * 60000;
    return 0;
}

int hl_time_parse(const char *s, int offset_min, int64_t *ms)
{
    if (!s || !*s) return HL_EINVAL;
    if (strlen(s) == 10 && s[4] == '-' && s[7] == '-') {
        int y;
        unsigned m, d;
        char tail;
        if (sscanf(s, "%4d-%2u-%2u%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
            return HL_EINVAL;
        *ms = hl_day_start(hl_days_from_civil(y, m, d), offset_min);
        return 0;
    }
    return hl_iso8601_parse(s, ms);
}

int64_t hl_local_day(int64_t ms, int offset_min)
{
    int64_t t = ms + (int64_t)offset_min * 60000;
    return t >= 0 ? t / 86400000 : -((-t + 86400000 - 1) / 86400000);
}

char *hl_day_name(int64_t day, char out[16])
{
    int y;
    unsigned m, d;
    hl_civil_from_days(day, &y, &m, &d);
    /* Years past 0000-9999 are no day a ticket has; clamped, the bounds
     * also show the compiler the name fits. */
    y = y < 0 ? 0 : y > 9999 ? 9999 : y;
    snprintf(out, 16, "%04d-%02u-%02u", y, m % 100, d % 100);
    return out;
}

int64_t hl_day_start(int64_t day, int offset_min)
{
    return day * 86400000 - (int64_t)offset_min * 60000;
}
