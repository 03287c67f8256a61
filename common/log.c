#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The level is written once at startup, before threads exist, and only read
 * afterwards; it is the one piece of file-scope state the logger needs
 * because log lines are written from places that have no struct app. */
static enum stk_log_level min_level = STK_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum stk_log_level level)
{
    min_level = level;
}

int log_level_parse(const char *s, enum stk_log_level *out)
{
    for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum stk_log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_event(enum stk_log_level level, const char *event, const char *fmt, ...)
{
    if (level < min_level) {
        return;
    }
    char line[2048];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    int n =
        snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 now.tv_nsec / 1000000L, level_names[level], event);
    /* Room must remain for the ' ' before the fields and the final '\n'. */
    if (n < 0 || (size_t)n >= sizeof(line) - 2) {
        return;
    }
    if (fmt != NULL && fmt[0] != '\0') {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
        va_end(ap);
        if (m < 0) {
            m = 0;
        }
        n += m;
        if ((size_t)n > sizeof(line) - 2) {
            n = (int)sizeof(line) - 2;
        }
    }
    line[n++] = '\n';
    /* One write() per line: POSIX keeps writes to the same pipe or O_APPEND
     * file from interleaving below PIPE_BUF bytes. */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

const char *log_clean(const char *in, char *out, unsigned n)
{
    unsigned j = 0;
    if (n == 0) {
        return out;
    }
    for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p && j + 1 < n; p++) {
        unsigned char c = *p;
        out[j++] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == ' ') ? '_' : (char)c;
    }
    out[j] = '\0';
    return out;
}
