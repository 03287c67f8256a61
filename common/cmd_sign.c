/* Command signatures (cmd_sign.h). */
#include "cmd_sign.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char DOMAIN[] = "stockade-command-v1\n";

/* The signed message: DOMAIN then the payload, hashed first so a payload of
 * any size signs without a copy (Ed25519ph would change the key format). */
static void digest(const char *payload, size_t len, unsigned char out[crypto_generichash_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)DOMAIN, sizeof(DOMAIN) - 1);
    crypto_generichash_update(&st, (const unsigned char *)payload, len);
    crypto_generichash_final(&st, out, crypto_generichash_BYTES);
}

void cmd_sign(const unsigned char sk[STK_CMD_SK_BYTES], const char *payload, size_t len,
              char sig_b64[STK_CMD_SIG_B64_MAX])
{
    unsigned char d[crypto_generichash_BYTES];
    unsigned char sig[crypto_sign_BYTES];
    digest(payload, len, d);
    crypto_sign_detached(sig, NULL, d, sizeof(d), sk);
    sodium_bin2base64(sig_b64, STK_CMD_SIG_B64_MAX, sig, sizeof(sig),
                      sodium_base64_VARIANT_ORIGINAL);
}

int cmd_verify(const unsigned char pk[STK_CMD_PK_BYTES], const char *payload, size_t len,
               const char *sig_b64)
{
    unsigned char sig[crypto_sign_BYTES];
    size_t got = 0;
    const char *end = NULL;
    if (sig_b64 == NULL || strlen(sig_b64) >= STK_CMD_SIG_B64_MAX) {
        return 0;
    }
    if (sodium_base642bin(sig, sizeof(sig), sig_b64, strlen(sig_b64), NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != sizeof(sig) || *end != '\0') {
        return 0;
    }
    unsigned char d[crypto_generichash_BYTES];
    digest(payload, len, d);
    return crypto_sign_verify_detached(sig, d, sizeof(d), pk) == 0;
}

void cmd_pk_encode(const unsigned char pk[STK_CMD_PK_BYTES], char out[STK_CMD_PK_B64_MAX])
{
    sodium_bin2base64(out, STK_CMD_PK_B64_MAX, pk, STK_CMD_PK_BYTES,
                      sodium_base64_VARIANT_ORIGINAL);
}

enum stk_err cmd_pk_decode(const char *b64, unsigned char pk[STK_CMD_PK_BYTES])
{
    size_t got = 0;
    const char *end = NULL;
    if (b64 == NULL || strlen(b64) >= STK_CMD_PK_B64_MAX ||
        sodium_base642bin(pk, STK_CMD_PK_BYTES, b64, strlen(b64), NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != STK_CMD_PK_BYTES || *end != '\0') {
        sodium_memzero(pk, STK_CMD_PK_BYTES);
        return STK_EINVAL;
    }
    return STK_OK;
}

static enum stk_err load(int fd, const char *path, unsigned char pk[STK_CMD_PK_BYTES],
                         unsigned char sk[STK_CMD_SK_BYTES], struct stk_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return stk_error_set(err, STK_EIO, "%s: %s", path, strerror(errno));
    }
    if ((st.st_mode & 077) != 0) {
        return stk_error_set(err, STK_EIO, "%s: readable by others (mode %03o); chmod 600 it", path,
                             (unsigned)(st.st_mode & 0777));
    }
    if (st.st_size != STK_CMD_SK_BYTES) {
        return stk_error_set(err, STK_EIO, "%s: not a command signing key (%lld bytes)", path,
                             (long long)st.st_size);
    }
    ssize_t n = read(fd, sk, STK_CMD_SK_BYTES);
    if (n != STK_CMD_SK_BYTES) {
        sodium_memzero(sk, STK_CMD_SK_BYTES);
        return stk_error_set(err, STK_EIO, "%s: short read", path);
    }
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    return STK_OK;
}

static enum stk_err create(const char *path, unsigned char pk[STK_CMD_PK_BYTES],
                           unsigned char sk[STK_CMD_SK_BYTES], struct stk_error *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        return stk_error_set(err, STK_EINVAL, "%s: path too long", path);
    }
    crypto_sign_keypair(pk, sk);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return stk_error_set(err, STK_EIO, "%s: %s", tmp, strerror(errno));
    }
    int ok = write(fd, sk, STK_CMD_SK_BYTES) == STK_CMD_SK_BYTES && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        sodium_memzero(sk, STK_CMD_SK_BYTES);
        return stk_error_set(err, STK_EIO, "%s: %s", path, strerror(e));
    }
    return STK_OK;
}

enum stk_err cmd_key_load_or_create(const char *path, unsigned char pk[STK_CMD_PK_BYTES],
                                    unsigned char sk[STK_CMD_SK_BYTES], struct stk_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        return create(path, pk, sk, err);
    }
    if (fd < 0) {
        return stk_error_set(err, STK_EIO, "%s: %s", path, strerror(errno));
    }
    enum stk_err rc = load(fd, path, pk, sk, err);
    close(fd);
    return rc;
}
