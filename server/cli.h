/* The administrative subcommands: user, role, token, audit, agent. Each returns
 * the process exit code (0 ok, 1 failure, 2 usage) and writes one line
 * to stderr on failure. */
#ifndef STK_CLI_H
#define STK_CLI_H

#include "db.h"

struct cli_args {
    const char *pos[4];   /* positional arguments after the subcommand */
    int npos;
    const char *role;
    const char *name;
    const char *permissions;
    const char *ttl;
    const char *cluster;
    const char *description;
    int password_stdin;
};

int cli_user(struct db *db, const char *sub, const struct cli_args *a);
int cli_role(struct db *db, const char *sub, const struct cli_args *a);
int cli_token(struct db *db, const char *sub, const struct cli_args *a);
int cli_audit(struct db *db, const char *sub, const struct cli_args *a);
/* agent enroll-token | list | revoke; `data_dir` holds the agent CA. */
int cli_agent(struct db *db, const char *data_dir, const char *sub, const struct cli_args *a);

#endif
