/* clock.h - wall-clock and monotonic time, and ISO 8601 formatting.
 *
 * Wall time is milliseconds since the Unix epoch (UTC), as on the wire.
 * Local time is UTC plus a fixed offset in minutes (China: +480, no DST).
 */
#ifndef HOTLINE_CLOCK_H
#define HOTLINE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "hotline/err.h"

/* Wall-clock milliseconds since the epoch. */
int64_t hl_now_ms(void);
/* Monotonic microseconds, for intervals and timers. */
int64_t hl_mono_us(void);

/* Length of the longest string hl_iso8601 writes, plus NUL. */
#define HL_ISO8601_LEN 32

/* Write ms as "2026-11-22T10:15:02.123+08:00" in local time at offset_min
 * (offset 0 writes "Z"). buf must hold HL_ISO8601_LEN bytes. Returns buf. */
char *hl_iso8601(int64_t ms, int offset_min, char *buf);

/* Parse an ISO 8601 date-time with a mandatory offset ("Z", "+08:00") and
 * optional fraction into ms. Returns 0 or HL_EINVAL. */
HL_MUSTCHECK int hl_iso8601_parse(const char *s, int64_t *ms);
/* The same, or a date (YYYY-MM-DD: its local midnight at offset_min). */
HL_MUSTCHECK int hl_time_parse(const char *s, int offset_min, int64_t *ms);

/* The local day (days since 1970-01-01) of ms at offset_min, and its name
 * "YYYY-MM-DD" (out: 16 bytes; returns out; years clamped to 0000-9999). */
int64_t hl_local_day(int64_t ms, int offset_min);
char *hl_day_name(int64_t day, char out[16]);
/* The ms at which the local day (days since 1970-01-01) begins at offset_min. */
int64_t hl_day_start(int64_t day, int offset_min);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t hl_days_from_civil(int y, unsigned m, unsigned d);
void hl_civil_from_days(int64_t days, int *y, unsigned *m, unsigned *d);
/* Day of week of a day number: 0 = Sunday ... 6 = Saturday. */
unsigned hl_weekday(int64_t days);

#endif
