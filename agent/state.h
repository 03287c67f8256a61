/* The agent's state directory (docs/agents.md, "Keys and files"): mode
 * 0700, every file 0600 and written atomically (temporary file, fsync,
 * rename). Also the list of pods the agent has isolated (`isolated`),
 * which the tamper watch keeps checking across restarts. */
#ifndef STK_AGENT_STATE_H
#define STK_AGENT_STATE_H

#include <stddef.h>

#include "cmd_sign.h"
#include "command.h"
#include "err.h"

/* Creates `dir` (mode 0700) when missing. STK_EIO when it cannot, or when
 * it exists and group or others may enter it (the keys would be exposed):
 * "state directory D is open to others (mode 0755); chmod 700 it". */
enum stk_err state_dir_prepare(const char *dir, struct stk_error *err);

/* 1 when `dir` holds agent.crt (the agent has enrolled). */
int state_enrolled(const char *dir);

/* `dir`/`name` into `out`; -1 when it does not fit. */
int state_path(const char *dir, const char *name, char *out, size_t n);

/* The cluster the certificate was issued for (file `cluster`). STK_EIO
 * when missing or unreadable, STK_EINVAL when it is not a cluster name. */
enum stk_err state_read_cluster(const char *dir, char out[STK_AGENT_CLUSTER_MAX],
                                struct stk_error *err);

/* The command public key (file `command.pub`, base64). */
enum stk_err state_read_command_pk(const char *dir, unsigned char pk[STK_CMD_PK_BYTES],
                                   struct stk_error *err);

/* Writes one state file atomically, mode 0600. */
enum stk_err state_write(const char *dir, const char *name, const char *text,
                         struct stk_error *err);

/* 1 if `s` is usable as a cluster name (what the server issues: 1 to 64
 * of [A-Za-z0-9._-]). */
int state_cluster_name_ok(const char *s);

/* ---- The isolated pods ---- */

struct watch_entry {
    char ns[64];
    char pod[254];
    char key[64];
};

struct watch_set {
    char *path; /* NULL: memory only */
    struct watch_entry *v;
    size_t n;
    size_t cap;
};

/* Loads `dir`/isolated (missing: empty); `dir` NULL for memory only.
 * Release with watch_release(). */
enum stk_err watch_load(struct watch_set *w, const char *dir, struct stk_error *err);
void watch_release(struct watch_set *w);

/* Adds (or keeps) / removes a pod and saves the file. STK_EIO when the
 * file could not be written (memory is updated anyway). */
enum stk_err watch_add(struct watch_set *w, const char *ns, const char *pod, const char *key,
                       struct stk_error *err);
enum stk_err watch_remove(struct watch_set *w, const char *ns, const char *pod,
                          struct stk_error *err);

#endif
