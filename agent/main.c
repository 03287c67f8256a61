/* stockade-agent: runs beside a Kubernetes cluster and carries out response
 * actions for the Stockade server. This build parses its command line; the
 * gateway protocol arrives with the response-actions work. The only file of
 * the agent that may call exit(). */
#include <stdio.h>
#include <string.h>

#include "log.h"

#ifndef STK_VERSION
#define STK_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: stockade-agent run --server HOST:PORT --state-dir DIR [--enroll-token T]\n"
               "                          [--kube-server URL --kube-token-file F --kube-ca-file F"
               " | --simulate]\n"
               "       stockade-agent version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("stockade-agent %s\n", STK_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "run") == 0) {
        log_event(STK_LOG_ERROR, "agent_unavailable",
                  "reason=\"this build has no gateway client yet\"");
        fprintf(stderr, "stockade-agent: 'run' is not available in this build yet\n");
        return 1;
    }
    fprintf(stderr, "stockade-agent: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
