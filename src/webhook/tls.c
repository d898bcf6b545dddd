/*
 * tls.c: checks a tenant's TLS material before it is stored (nova_webhook_tls_check): the
 * client certificate and its key parse as PEM and belong together, the CA bundle holds at
 * least one certificate, the pin has curl's form. Nothing here is kept or logged.
 */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "nova/webhook.h"

#define PEM_MAX (64u << 10)

static BIO *pem_bio(const char *pem)
{
    size_t n = pem ? strlen(pem) : 0;
    if (n == 0 || n > PEM_MAX)
        return NULL;
    return BIO_new_mem_buf(pem, (int)n);
}

/* sha256//<44 base64 chars> joined by ';', at most 8. */
static bool pin_ok(const char *pin)
{
    size_t n = strlen(pin), k = 0;
    const char *p = pin;
    while (*p) {
        if (strncmp(p, "sha256//", 8) != 0 || ++k > 8)
            return false;
        p += 8;
        size_t len = strcspn(p, ";");
        if (len != 44)
            return false;
        for (size_t i = 0; i < len; i++) {
            char c = p[i];
            bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '+' || c == '/' || (c == '=' && i == len - 1);
            if (!b64)
                return false;
        }
        p += len;
        if (*p == ';')
            p++;
    }
    return n > 0 && p[-1] != ';';
}

nova_status nova_webhook_tls_check(const nova_webhook_tls_t *tls, const char **field,
                                   const char **why)
{
    *field = "";
    *why = "";
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    nova_status st = NOVA_INVALID;
    BIO *b = pem_bio(tls->client_cert);
    if (b)
        cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    if (cert == NULL) {
        *field = "client_certificate";
        *why = "a PEM X.509 certificate (at most 64 KiB)";
        goto end;
    }
    b = pem_bio(tls->client_key);
    if (b)
        key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    if (key == NULL) {
        *field = "client_key";
        *why = "a PEM private key without a passphrase (at most 64 KiB)";
        goto end;
    }
    if (X509_check_private_key(cert, key) != 1) {
        *field = "client_key";
        *why = "the private key of client_certificate";
        goto end;
    }
    bool has_ca = tls->ca && *tls->ca, has_pin = tls->pin && *tls->pin;
    if (!has_ca && !has_pin) {
        *field = "ca_certificate";
        *why = "the receiver's CA (PEM), or a pin: mTLS verifies the receiver";
        goto end;
    }
    if (has_ca) {
        b = pem_bio(tls->ca);
        X509 *ca = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (ca == NULL) {
            *field = "ca_certificate";
            *why = "one or more PEM X.509 certificates (at most 64 KiB)";
            goto end;
        }
        X509_free(ca);
    }
    if (has_pin && !pin_ok(tls->pin)) {
        *field = "pin";
        *why = "sha256//<base64 SHA-256 of the receiver's public key>, several joined by ';'";
        goto end;
    }
    st = NOVA_OK;
end:
    X509_free(cert);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return st;
}
