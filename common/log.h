/* One key=value line per event on stderr (STYLE section 10). Thread-safe. */
#ifndef STK_LOG_H
#define STK_LOG_H

enum stk_log_level {
    STK_LOG_DEBUG = 0,
    STK_LOG_INFO,
    STK_LOG_WARN,
    STK_LOG_ERROR,
};

/* Sets the lowest level that is written. Call before threads start. */
void log_set_level(enum stk_log_level level);

/* Parses "debug", "info", "warn" or "error"; returns 0 on success, -1 otherwise. */
int log_level_parse(const char *s, enum stk_log_level *out);

/* Writes `ts=... level=... event=EVENT` followed by the formatted key=value
 * pairs in `fmt`. The whole line goes out in one write() so lines of
 * concurrent threads never interleave. Values from users must be passed
 * through log_clean() first. */
void log_event(enum stk_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies `in` into `out` (size `n`, always terminated) with CR, LF, other
 * control bytes, quotes and backslashes replaced by '_' so that user text
 * cannot forge log lines or fields. Returns `out`. */
const char *log_clean(const char *in, char *out, unsigned n);

#endif
