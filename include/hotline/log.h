/* log.h - the one logging family of hotline.
 *
 * Lines go to stderr (systemd and the run scripts collect them):
 *   2026-11-22T10:15:02.123+08:00 router[1234] I message
 * The level is checked before the arguments are evaluated. Personal data
 * (names, phones, id numbers, addresses, free text) never goes into a log.
 */
#ifndef HOTLINE_LOG_H
#define HOTLINE_LOG_H

#include "hotline/err.h"

typedef enum { HL_LOG_DEBUG = 0, HL_LOG_INFO, HL_LOG_WARN, HL_LOG_ERROR, HL_LOG_OFF } hl_log_level_t;

extern hl_log_level_t hl_log_threshold;

/* Set the process role shown in each line ("router", "migrate", ...). */
void hl_log_init(const char *role);
/* Parse "debug", "info", "warn", "error" or "off". Returns 0 or HL_EINVAL. */
HL_MUSTCHECK int hl_log_parse_level(const char *s, hl_log_level_t *out);
void hl_log_write(hl_log_level_t level, const char *fmt, ...) HL_PRINTF(2, 3);
/* Log file:line:function and the message at error level, then exit(1). */
void hl_log_fatal(const char *file, int line, const char *func, const char *fmt, ...)
    HL_PRINTF(4, 5) __attribute__((noreturn));

#define HL_LOG(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) >= hl_log_threshold) hl_log_write((level), __VA_ARGS__);                       \
    } while (0)
#define hl_debug(...) HL_LOG(HL_LOG_DEBUG, __VA_ARGS__)
#define hl_info(...) HL_LOG(HL_LOG_INFO, __VA_ARGS__)
#define hl_warn(...) HL_LOG(HL_LOG_WARN, __VA_ARGS__)
#define hl_error(...) HL_LOG(HL_LOG_ERROR, __VA_ARGS__)
#define hl_fatal(...) hl_log_fatal(__FILE__, __LINE__, __func__, __VA_ARGS__)

#endif
