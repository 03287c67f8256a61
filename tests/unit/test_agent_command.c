/* agent/command.c and agent/journal.c: the checks a command must pass
 * (forged or missing signature, another cluster, expired, malformed,
 * replayed), the answers, and the replay journal on disk (persisted,
 * reloaded, torn lines, 24-hour expiry, evidence kept beside it). */
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

#include "command.h"
#include "journal.h"
#include "testutil.h"

#define NOW 1763800000000LL

struct keys {
    unsigned char pk[STK_CMD_PK_BYTES];
    unsigned char sk[STK_CMD_SK_BYTES];
    unsigned char other_pk[STK_CMD_PK_BYTES];
    unsigned char other_sk[STK_CMD_SK_BYTES];
};

static int setup(void **state)
{
    struct keys *k = malloc(sizeof(*k));
    if (k == NULL || sodium_init() < 0) {
        return -1;
    }
    crypto_sign_keypair(k->pk, k->sk);
    crypto_sign_keypair(k->other_pk, k->other_sk);
    *state = k;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

/* A command frame for `payload` signed with `sk`. */
static json_t *frame(const char *payload, const unsigned char *sk)
{
    char sig[STK_CMD_SIG_B64_MAX];
    cmd_sign(sk, payload, strlen(payload), sig);
    return json_pack("{s:s, s:s, s:s}", "type", "command", "payload", payload, "sig", sig);
}

static char *payload(long long id, const char *action, const char *cluster, long long expires)
{
    char *p = malloc(512);
    snprintf(p, 512,
             "{\"id\":%lld,\"action\":\"%s\",\"cluster\":\"%s\",\"namespace\":\"shop\","
             "\"pod\":\"web-7f9\",\"issued_at\":%lld,\"expires_at\":%lld,\"params\":{\"until\":0}}",
             id, action, cluster, NOW - 1000, expires);
    return p;
}

static void accepts_a_good_command(void **state)
{
    struct keys *k = *state;
    char *p = payload(42, "isolate", "prod-aks", NOW + 600000);
    json_t *f = frame(p, k->sk);
    struct command cmd;
    struct stk_error why = {0};
    int is_signed = 0;
    assert_int_equal(command_check(k->pk, "prod-aks", f, NULL, NOW, &cmd, &is_signed, &why),
                     CMD_RUN);
    assert_true(is_signed);
    assert_int_equal(cmd.id, 42);
    assert_int_equal(cmd.action, ACTION_ISOLATE);
    assert_string_equal(cmd.cluster, "prod-aks");
    assert_string_equal(cmd.ns, "shop");
    assert_string_equal(cmd.pod, "web-7f9");
    assert_int_equal(cmd.expires_at, NOW + 600000);
    json_decref(f);
    free(p);
}

static void refuses_forged_and_unsigned(void **state)
{
    struct keys *k = *state;
    char *p = payload(43, "terminate", "prod-aks", NOW + 600000);
    struct command cmd;
    struct stk_error why = {0};
    int is_signed = 1;

    /* Signed by another key. */
    json_t *f = frame(p, k->other_sk);
    assert_int_equal(command_check(k->pk, "prod-aks", f, NULL, NOW, &cmd, &is_signed, &why),
                     CMD_REFUSED);
    assert_false(is_signed);
    assert_string_equal(why.msg, "command signature invalid");
    assert_int_equal(cmd.id, 43); /* named, to say which command was refused */
    json_decref(f);

    /* A good signature over other bytes (one character of the payload changed). */
    f = frame(p, k->sk);
    char *tampered = strdup(p);
    tampered[strlen(tampered) - 3] = '1';
    json_object_set_new(f, "payload", json_string(tampered));
    assert_int_equal(command_check(k->pk, "prod-aks", f, NULL, NOW, &cmd, &is_signed, &why),
                     CMD_REFUSED);
    assert_string_equal(why.msg, "command signature invalid");
    free(tampered);

    /* No signature at all, or not base64. */
    json_object_del(f, "sig");
    assert_int_equal(command_check(k->pk, "prod-aks", f, NULL, NOW, &cmd, &is_signed, &why),
                     CMD_REFUSED);
    json_object_set_new(f, "sig", json_string("!!!not base64!!!"));
    assert_int_equal(command_check(k->pk, "prod-aks", f, NULL, NOW, &cmd, &is_signed, &why),
                     CMD_REFUSED);
    assert_string_equal(why.msg, "command signature invalid");
    json_decref(f);

    /* Unsigned garbage without an id: nothing to answer. */
    f = json_pack("{s:s, s:s, s:s}", "type", "command", "payload", "not json", "sig", "AAAA");
    assert_int_equal(command_check(k->pk, "prod-aks", f, NULL, NOW, &cmd, &is_signed, &why),
                     CMD_IGNORE);
    assert_int_equal(cmd.id, 0);
    json_decref(f);
    free(p);
}

static void refuses_other_cluster_and_expired(void **state)
{
    struct keys *k = *state;
    struct command cmd;
    struct stk_error why = {0};
    int is_signed = 0;
    char *p = payload(44, "release", "payments-eks", NOW + 600000);
    json_t *f = frame(p, k->sk);
    assert_int_equal(command_check(k->pk, "prod-aks", f, NULL, NOW, &cmd, &is_signed, &why),
                     CMD_REFUSED);
    assert_true(is_signed);
    assert_string_equal(why.msg, "command is for cluster payments-eks; this agent serves prod-aks");
    json_decref(f);
    free(p);

    p = payload(45, "isolate", "prod-aks", NOW - 1);
    f = frame(p, k->sk);
    assert_int_equal(command_check(k->pk, "prod-aks", f, NULL, NOW, &cmd, &is_signed, &why),
                     CMD_REFUSED);
    assert_string_equal(why.msg, "command expired");
    /* The last millisecond is still in time. */
    assert_int_equal(command_check(k->pk, "prod-aks", f, NULL, NOW - 1, &cmd, &is_signed, &why),
                     CMD_RUN);
    json_decref(f);
    free(p);
}

static void refuses_malformed(void **state)
{
    struct keys *k = *state;
    struct command cmd;
    struct stk_error why = {0};
    int is_signed = 0;
    char *p = payload(46, "explode", "prod-aks", NOW + 1000);
    json_t *f = frame(p, k->sk);
    assert_int_equal(command_check(k->pk, "prod-aks", f, NULL, NOW, &cmd, &is_signed, &why),
                     CMD_REFUSED);
    assert_string_equal(why.msg, "command malformed: unknown action \"explode\"");
    json_decref(f);
    free(p);

    const char *missing = "{\"id\":47,\"action\":\"isolate\",\"cluster\":\"prod-aks\"}";
    f = frame(missing, k->sk);
    assert_int_equal(command_check(k->pk, "prod-aks", f, NULL, NOW, &cmd, &is_signed, &why),
                     CMD_REFUSED);
    assert_non_null(strstr(why.msg, "command malformed"));
    json_decref(f);

    /* Signed, but no id: nothing to answer with. */
    f = frame("{\"action\":\"isolate\"}", k->sk);
    assert_int_equal(command_check(k->pk, "prod-aks", f, NULL, NOW, &cmd, &is_signed, &why),
                     CMD_IGNORE);
    assert_string_equal(why.msg, "command malformed: no id");
    json_decref(f);
    f = frame("[1,2]", k->sk);
    assert_int_equal(command_check(k->pk, "prod-aks", f, NULL, NOW, &cmd, &is_signed, &why),
                     CMD_IGNORE);
    json_decref(f);
}

static void replays_from_the_journal(void **state)
{
    struct keys *k = *state;
    struct journal j;
    assert_int_equal(journal_open(&j, NULL, NOW, NULL), STK_OK);
    json_t *details = json_pack("{s:s}", "policy", "created");
    assert_int_equal(journal_record(&j, 48, NOW - 5000, "succeeded", "pod shop/web-7f9 isolated",
                                    details, NULL, NULL),
                     STK_OK);
    json_decref(details);
    struct command cmd;
    struct stk_error why = {0};
    int is_signed = 0;
    char *p = payload(48, "isolate", "prod-aks", NOW + 1000);
    json_t *f = frame(p, k->sk);
    assert_int_equal(command_check(k->pk, "prod-aks", f, &j, NOW, &cmd, &is_signed, &why),
                     CMD_REPLAY);
    /* Replayed even once expired: the server asks what happened. */
    assert_int_equal(command_check(k->pk, "prod-aks", f, &j, NOW + 5000, &cmd, &is_signed, &why),
                     CMD_REPLAY);
    const struct journal_entry *e = journal_find(&j, 48, NOW);
    assert_non_null(e);
    assert_string_equal(e->status, "succeeded");
    json_t *r = command_result(48, e->status, e->reason, e->details, NULL, 1);
    char *text = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"details\":{\"policy\":\"created\"},\"id\":48,\"reason\":\"pod "
                              "shop/web-7f9 isolated\",\"replay\":true,\"status\":\"succeeded\","
                              "\"type\":\"result\"}");
    free(text);
    json_decref(r);
    /* A forged replay of a journalled id is still a forgery. */
    json_decref(f);
    f = frame(p, k->other_sk);
    assert_int_equal(command_check(k->pk, "prod-aks", f, &j, NOW, &cmd, &is_signed, &why),
                     CMD_REFUSED);
    json_decref(f);
    free(p);
    journal_release(&j);
}

static void answers(void **state)
{
    (void)state;
    json_t *ack = command_ack(7);
    char *text = json_dumps(ack, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"id\":7,\"type\":\"ack\"}");
    free(text);
    json_decref(ack);
    json_t *ev = json_pack("{s:{}, s:{s:s}}", "manifest", "logs", "web", "line\n");
    json_t *r = command_result(8, "succeeded", "deleted", NULL, ev, 0);
    assert_non_null(json_object_get(r, "evidence"));
    assert_true(json_is_object(json_object_get(r, "details")));
    assert_false(json_is_true(json_object_get(r, "replay")));
    json_decref(r);
    json_decref(ev);
}

static char *temp_dir(void)
{
    char tmpl[] = "/tmp/stk-journal-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void journal_on_disk(void **state)
{
    (void)state;
    char *dir = temp_dir();
    struct journal j;
    assert_int_equal(journal_open(&j, dir, NOW, NULL), STK_OK);
    json_t *ev = json_pack("{s:{s:s}, s:{s:s}}", "manifest", "kind", "Pod", "logs", "web", "x\n");
    assert_int_equal(
        journal_record(&j, 1, NOW - 25LL * 3600 * 1000, "failed", "old", NULL, NULL, NULL), STK_OK);
    assert_int_equal(journal_record(&j, 2, NOW - 1000, "succeeded", "deleted", NULL, ev, NULL),
                     STK_OK);
    assert_int_equal(journal_record(&j, 3, NOW, "refused", "command expired", NULL, NULL, NULL),
                     STK_OK);
    assert_null(journal_find(&j, 1, NOW)); /* older than 24 h */
    assert_non_null(journal_find(&j, 2, NOW));
    journal_release(&j);

    char path[512];
    snprintf(path, sizeof(path), "%s/journal", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* A torn last line, as a crash mid-append leaves. */
    FILE *fp = fopen(path, "a");
    fputs("{\"id\":4,\"t\":17638", fp);
    fclose(fp);

    assert_int_equal(journal_open(&j, dir, NOW, NULL), STK_OK);
    assert_int_equal(j.n, 2); /* 1 expired, 4 torn */
    const struct journal_entry *e = journal_find(&j, 2, NOW);
    assert_non_null(e);
    assert_true(e->has_evidence);
    json_t *back = journal_evidence(&j, 2);
    assert_true(json_equal(back, ev));
    json_decref(back);
    e = journal_find(&j, 3, NOW);
    assert_string_equal(e->reason, "command expired");
    assert_null(journal_evidence(&j, 3));
    /* The file was rewritten without the dropped lines. */
    size_t len = 0;
    char *text = read_file(path, &len);
    assert_null(strstr(text, "\"id\":1,"));
    assert_null(strstr(text, "17638\n"));
    free(text);
    /* A day later, everything goes, evidence included. */
    journal_expire(&j, NOW + 25LL * 3600 * 1000);
    assert_int_equal(j.n, 0);
    snprintf(path, sizeof(path), "%s/evidence-2.json", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    journal_release(&j);
    json_decref(ev);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

static void journal_unwritable(void **state)
{
    (void)state;
    struct journal j;
    struct stk_error err = {0};
    assert_int_equal(journal_open(&j, "/nonexistent/dir", NOW, &err), STK_OK);
    assert_int_equal(journal_record(&j, 9, NOW, "succeeded", "ok", NULL, NULL, &err), STK_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/journal"));
    /* Still answers replays from memory. */
    assert_non_null(journal_find(&j, 9, NOW));
    journal_release(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_a_good_command),
        cmocka_unit_test(refuses_forged_and_unsigned),
        cmocka_unit_test(refuses_other_cluster_and_expired),
        cmocka_unit_test(refuses_malformed),
        cmocka_unit_test(replays_from_the_journal),
        cmocka_unit_test(answers),
        cmocka_unit_test(journal_on_disk),
        cmocka_unit_test(journal_unwritable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
