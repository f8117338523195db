/* log.c - level-checked logging to stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hotline/clock.h"
#include "hotline/log.h"

hl_log_level_t hl_log_threshold = HL_LOG_INFO;
static char log_role[32] = "hotline";

void hl_log_init(const char *role)
{
    snprintf(log_role, sizeof log_role, "%s", role);
}

int hl_log_parse_level(const char *s, hl_log_level_t *out)
{
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i <= HL_LOG_OFF; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (hl_log_level_t)i;
            return 0;
        }
    }
    return HL_EINVAL;
}

static void vwrite(hl_log_level_t level, const char *prefix, const char *fmt, va_list ap)
{
    char line[2048], ts[HL_ISO8601_LEN];
    int n = snprintf(line, sizeof line, "%s %s[%d] %c %s", hl_iso8601(hl_now_ms(), 480, ts),
                     log_role, (int)getpid(), "DIWE"[level < HL_LOG_OFF ? level : HL_LOG_ERROR],
                     prefix);
    if (n < 0) return;
    if ((size_t)n < sizeof line) vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    size_t len = strnlen(line, sizeof line - 2);
    line[len++] = '\n';
    /* One write per line so concurrent processes do not interleave. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void hl_log_write(hl_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwrite(level, "", fmt, ap);
    va_end(ap);
}

void hl_log_fatal(const char *file, int line, const char *func, const char *fmt, ...)
{
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s:%d:%s: ", file, line, func);
    va_list ap;
    va_start(ap, fmt);
    vwrite(HL_LOG_ERROR, prefix, fmt, ap);
    va_end(ap);
    exit(1);
}
