/* The replay journal (docs/agents.md, "Commands"): the id and outcome of
 * every command the agent has answered in the last 24 hours, kept in
 * memory and in the file `journal` of the state directory (one JSON object
 * a line, appended and synced before the result goes out), so that a
 * command delivered twice, even across a restart, is carried out once and
 * answered with its first outcome. A terminate's evidence is kept beside
 * it, in `evidence-<id>.json`, for the same 24 hours.
 *
 * Not thread-safe: the connection's loop owns it. */
#ifndef STK_AGENT_JOURNAL_H
#define STK_AGENT_JOURNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define STK_JOURNAL_TTL_MS (24LL * 3600 * 1000)
#define STK_JOURNAL_MAX 100000 /* entries kept; the oldest go first */

struct journal_entry {
    long long id;
    int64_t t_ms; /* when it was answered (wall clock) */
    char *status; /* "succeeded", "failed", "refused" */
    char *reason;
    json_t *details; /* object */
    int has_evidence;
};

struct journal {
    char *dir; /* NULL: memory only */
    struct journal_entry *entries;
    size_t n;
    size_t cap;
    size_t appended; /* lines appended since the file was last rewritten */
};

/* Loads `dir`/journal (a missing file is an empty journal), dropping
 * entries older than 24 h before `now_ms` and lines that do not parse (a
 * torn last line after a crash), then rewrites the file when it dropped
 * any. `dir` NULL: a journal in memory only (tests, exec-local). STK_EIO
 * with the reason when the file cannot be read or written. Release with
 * journal_release(). */
enum stk_err journal_open(struct journal *j, const char *dir, int64_t now_ms,
                          struct stk_error *err);
void journal_release(struct journal *j);

/* The entry of command `id` if it is younger than 24 h, else NULL.
 * Borrowed: valid until the next journal call. */
const struct journal_entry *journal_find(const struct journal *j, long long id, int64_t now_ms);

/* Records the outcome of `id` (copies everything; `details` may be NULL,
 * `evidence` NULL but for terminate) in memory and durably on disk.
 * STK_EIO when the disk refused (the entry is still in memory). */
enum stk_err journal_record(struct journal *j, long long id, int64_t now_ms, const char *status,
                            const char *reason, const json_t *details, const json_t *evidence,
                            struct stk_error *err);

/* The stored evidence of `id`, NULL when there is none. Caller decrefs. */
json_t *journal_evidence(const struct journal *j, long long id);

/* Drops entries older than 24 h (and their evidence files). */
void journal_expire(struct journal *j, int64_t now_ms);

#endif
