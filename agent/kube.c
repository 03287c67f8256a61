/* Helpers over struct kube (kube.h) that both backends share. */
#include <stdlib.h>
#include <string.h>

#include "kube.h"

void kube_free(struct kube *k)
{
    if (k != NULL && k->ops != NULL && k->ops->free != NULL) {
        k->ops->free(k->ctx);
    }
    if (k != NULL) {
        k->ctx = NULL;
        k->ops = NULL;
    }
}

const char *kube_kind_plural(enum kube_kind kind)
{
    switch (kind) {
    case KUBE_POD:
        return "pods";
    case KUBE_SERVICE:
        return "services";
    case KUBE_NETWORK_POLICY:
        return "networkpolicies";
    }
    return "objects";
}

int kube_name_is_label(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-') {
        return 0;
    }
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

int kube_name_is_subdomain(const char *s)
{
    /* Kubernetes checks the whole name's length (253) and the pattern, not
     * the 63-character limit of each DNS label: pod names of 64 to 253
     * characters without a dot exist. */
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 253 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-.") != n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        int edge = i == 0 || i == n - 1 || s[i - 1] == '.' || s[i + 1] == '.';
        if (edge && (s[i] == '-' || s[i] == '.')) {
            return 0;
        }
    }
    return 1;
}

enum stk_err kube_list_all(struct kube *k, enum kube_kind kind, const char *ns,
                           const char *selector, size_t max, json_t **items, int *truncated,
                           struct stk_error *err)
{
    *items = NULL;
    if (truncated != NULL) {
        *truncated = 0;
    }
    json_t *all = json_array();
    char *cont = strdup("");
    enum stk_err rc = STK_OK;
    if (all == NULL || cont == NULL) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        json_t *page = NULL;
        char *next = NULL;
        rc = k->ops->list(k->ctx, kind, ns, selector, 500, cont, &page, &next, err);
        if (rc != STK_OK) {
            goto out;
        }
        size_t i;
        json_t *it;
        json_array_foreach(page, i, it)
        {
            if (json_array_size(all) >= max) {
                if (truncated != NULL) {
                    *truncated = 1;
                }
                break;
            }
            if (json_array_append(all, it) != 0) {
                rc = stk_error_set(err, STK_ENOMEM, "out of memory");
                break;
            }
        }
        json_decref(page);
        free(cont);
        cont = next;
        if (rc != STK_OK) {
            goto out;
        }
        if (cont[0] == '\0' || json_array_size(all) >= max) {
            if (cont[0] != '\0' && truncated != NULL) {
                *truncated = 1;
            }
            break;
        }
    }
out:
    free(cont);
    if (rc != STK_OK) {
        json_decref(all);
        return rc;
    }
    *items = all;
    return STK_OK;
}
