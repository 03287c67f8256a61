#include "svc_audit.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void absorb(crypto_generichash_state *h, const char *s, size_t len)
{
    unsigned char n[8];
    for (int i = 0; i < 8; i++) {
        n[i] = (unsigned char)((unsigned long long)len >> (8 * i));
    }
    crypto_generichash_update(h, n, sizeof(n));
    crypto_generichash_update(h, (const unsigned char *)s, len);
}

static void absorb_str(crypto_generichash_state *h, const char *s)
{
    absorb(h, s ? s : "", s ? strlen(s) : 0);
}

void svc_audit_hash(const struct audit_row *row, char out[65])
{
    static const char domain[] = "stockade-audit-v1";
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    crypto_generichash_update(&h, (const unsigned char *)domain, sizeof(domain) - 1);
    char num[32];
    absorb(&h, num, (size_t)snprintf(num, sizeof(num), "%lld", row->id));
    absorb(&h, num, (size_t)snprintf(num, sizeof(num), "%lld", row->ts));
    absorb_str(&h, row->actor);
    absorb_str(&h, row->actor_kind);
    absorb_str(&h, row->source_ip);
    absorb_str(&h, row->action);
    absorb_str(&h, row->target);
    absorb_str(&h, row->outcome);
    absorb_str(&h, row->details);
    absorb_str(&h, row->prev_hash);
    unsigned char bin[32];
    crypto_generichash_final(&h, bin, sizeof(bin));
    sodium_bin2hex(out, 65, bin, sizeof(bin));
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum stk_err svc_audit_append(struct db *db, const struct audit_event *ev, struct stk_error *err)
{
    int own_tx = sqlite3_get_autocommit(db_handle(db));
    enum stk_err rc = STK_OK;
    char *details = NULL;
    if (own_tx) {
        rc = db_begin(db, err);
        if (rc != STK_OK) {
            return rc;
        }
    }
    details = ev->details ? json_dumps(ev->details, JSON_COMPACT | JSON_SORT_KEYS)
                          : strdup("{}");
    if (details == NULL) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        goto out;
    }
    struct audit_row row;
    memset(&row, 0, sizeof(row));
    long long last_id = 0;
    rc = store_audit_last(db, &last_id, row.prev_hash, err);
    if (rc != STK_OK) {
        goto out;
    }
    row.id = last_id + 1;
    row.ts = now_ms();
    row.actor = (char *)(ev->actor ? ev->actor : "");
    row.actor_kind = (char *)(ev->actor_kind ? ev->actor_kind : "anonymous");
    row.source_ip = (char *)(ev->source_ip ? ev->source_ip : "");
    row.action = (char *)ev->action;
    row.target = (char *)(ev->target ? ev->target : "");
    row.outcome = (char *)(ev->outcome ? ev->outcome : "success");
    row.details = details;
    svc_audit_hash(&row, row.hash);
    rc = store_audit_insert(db, &row, err);
    if (rc != STK_OK) {
        goto out;
    }
    if (own_tx) {
        rc = db_commit(db, err);
        own_tx = 0;
    }
out:
    if (own_tx) {
        db_rollback(db);
    }
    free(details);
    return rc;
}

struct walk {
    struct audit_verify *v;
    char prev[65];
    long long prev_id;
};

static int check_one(const struct audit_row *row, void *ctx)
{
    struct walk *w = ctx;
    char want[65];
    w->v->count++;
    if (row->id != w->prev_id + 1) {
        snprintf(w->v->reason, sizeof(w->v->reason),
                 "entry %lld follows entry %lld: entries are missing or reordered", row->id,
                 w->prev_id);
    } else if (strcmp(row->prev_hash, w->prev) != 0) {
        snprintf(w->v->reason, sizeof(w->v->reason),
                 "entry %lld does not link to the entry before it", row->id);
    } else {
        svc_audit_hash(row, want);
        if (strcmp(want, row->hash) != 0) {
            snprintf(w->v->reason, sizeof(w->v->reason),
                     "entry %lld was altered: its content does not match its hash", row->id);
        }
    }
    if (w->v->reason[0] != '\0') {
        w->v->bad_id = row->id;
        return 1;
    }
    memcpy(w->prev, row->hash, sizeof(w->prev));
    w->prev_id = row->id;
    return 0;
}

enum stk_err svc_audit_verify(struct db *db, struct audit_verify *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    struct walk w = {.v = out, .prev_id = 0};
    memset(w.prev, '0', 64);
    w.prev[64] = '\0';
    enum stk_err rc = store_audit_each(db, check_one, &w, err);
    memcpy(out->head, w.prev, sizeof(out->head));
    return rc;
}
