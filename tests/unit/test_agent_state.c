/* agent/state.c and the address parsing of agent/conn.c: the state
 * directory's modes and files, the list of isolated pods across restarts,
 * HOST:PORT forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conn.h"
#include "state.h"
#include "testutil.h"

static char *temp_dir(void)
{
    char tmpl[] = "/tmp/stk-state-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void remove_dir(char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

static void state_directory(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char sub[512];
    snprintf(sub, sizeof(sub), "%s/state", dir);
    struct stk_error err = {0};
    assert_int_equal(state_dir_prepare(sub, &err), STK_OK);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_false(state_enrolled(sub));
    assert_int_equal(state_dir_prepare(sub, &err), STK_OK); /* again: fine */

    assert_int_equal(chmod(sub, 0750), 0);
    assert_int_equal(state_dir_prepare(sub, &err), STK_EIO);
    assert_non_null(strstr(err.msg, "is open to others (mode 750); chmod 700 it"));
    assert_int_equal(chmod(sub, 0700), 0);

    write_file(dir, "plainfile", "x");
    snprintf(sub, sizeof(sub), "%s/plainfile", dir);
    assert_int_equal(state_dir_prepare(sub, &err), STK_EIO);
    assert_non_null(strstr(err.msg, "is not a directory"));
    snprintf(sub, sizeof(sub), "%s/no/such/parent", dir);
    assert_int_equal(state_dir_prepare(sub, &err), STK_EIO);
    remove_dir(dir);
}

static void state_files(void **state)
{
    (void)state;
    char *dir = temp_dir();
    struct stk_error err = {0};
    char cluster[STK_AGENT_CLUSTER_MAX];
    assert_int_equal(state_read_cluster(dir, cluster, &err), STK_EIO);
    assert_non_null(strstr(err.msg, "/cluster"));
    assert_int_equal(state_write(dir, "cluster", "prod-aks\n", &err), STK_OK);
    assert_int_equal(state_read_cluster(dir, cluster, &err), STK_OK);
    assert_string_equal(cluster, "prod-aks");
    char p[512];
    snprintf(p, sizeof(p), "%s/cluster", dir);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(state_write(dir, "cluster", "../etc\n", &err), STK_OK);
    assert_int_equal(state_read_cluster(dir, cluster, &err), STK_EINVAL);
    assert_string_equal(cluster, "");

    unsigned char pk[STK_CMD_PK_BYTES];
    unsigned char sk[STK_CMD_SK_BYTES];
    crypto_sign_keypair(pk, sk);
    char b64[STK_CMD_PK_B64_MAX + 1];
    cmd_pk_encode(pk, b64);
    strcat(b64, "\n");
    assert_int_equal(state_write(dir, "command.pub", b64, &err), STK_OK);
    unsigned char back[STK_CMD_PK_BYTES];
    assert_int_equal(state_read_command_pk(dir, back, &err), STK_OK);
    assert_memory_equal(back, pk, sizeof(pk));
    assert_int_equal(state_write(dir, "command.pub", "bm90IGEga2V5\n", &err), STK_OK);
    assert_int_equal(state_read_command_pk(dir, back, &err), STK_EINVAL);

    assert_true(state_cluster_name_ok("payments-eks"));
    assert_true(state_cluster_name_ok("a.b_c-1"));
    assert_false(state_cluster_name_ok(""));
    assert_false(state_cluster_name_ok("bad name"));
    assert_false(state_cluster_name_ok("a/b"));
    remove_dir(dir);
}

static void watch_survives_restarts(void **state)
{
    (void)state;
    char *dir = temp_dir();
    struct watch_set w;
    struct stk_error err = {0};
    assert_int_equal(watch_load(&w, dir, &err), STK_OK);
    assert_int_equal(w.n, 0);
    assert_int_equal(watch_add(&w, "shop", "web-1", "web-1", &err), STK_OK);
    assert_int_equal(watch_add(&w, "shop", "web-2", "web-2", &err), STK_OK);
    assert_int_equal(watch_add(&w, "shop", "web-1", "web-1", &err), STK_OK); /* once */
    assert_int_equal(w.n, 2);
    watch_release(&w);

    assert_int_equal(watch_load(&w, dir, &err), STK_OK);
    assert_int_equal(w.n, 2);
    assert_int_equal(watch_remove(&w, "shop", "web-1", &err), STK_OK);
    assert_int_equal(watch_remove(&w, "shop", "nope", &err), STK_OK);
    watch_release(&w);
    assert_int_equal(watch_load(&w, dir, &err), STK_OK);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.v[0].pod, "web-2");
    assert_string_equal(w.v[0].key, "web-2");
    watch_release(&w);

    write_file(dir, "isolated", "{not a list");
    assert_int_equal(watch_load(&w, dir, &err), STK_EIO);
    assert_non_null(strstr(err.msg, "/isolated"));
    remove_dir(dir);
}

static void host_and_port(void **state)
{
    (void)state;
    char host[256];
    char port[8];
    assert_int_equal(conn_split_hostport("gw.example:8443", host, sizeof(host), port, sizeof(port)),
                     0);
    assert_string_equal(host, "gw.example");
    assert_string_equal(port, "8443");
    assert_int_equal(conn_split_hostport("[::1]:443", host, sizeof(host), port, sizeof(port)), 0);
    assert_string_equal(host, "::1");
    assert_string_equal(port, "443");
    const char *bad[] = {"gw",      ":8443",   "gw:",      "gw:0", "gw:65536",
                         "gw:84x3", "::1:443", "[::1]443", "[::1", "gw:123456"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(conn_split_hostport(bad[i], host, sizeof(host), port, sizeof(port)), -1);
    }
    assert_int_equal(conn_split_hostport(NULL, host, sizeof(host), port, sizeof(port)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(state_directory),
        cmocka_unit_test(state_files),
        cmocka_unit_test(watch_survives_restarts),
        cmocka_unit_test(host_and_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
