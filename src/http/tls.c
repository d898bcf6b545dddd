/*
 * tls.c: the client certificate: its thumbprint for mTLS-bound tokens (RFC 8705 "x5t#S256"),
 * verified against the client CA or not (self-signed client authentication), and its subject
 * (tls_client_auth). Needs
 * GnuTLS at build time (the session MHD hands out is a gnutls_session_t); without it there
 * is no thumbprint.
 */
#include <microhttpd.h>
#include <string.h>

#include "http_internal.h"

#ifdef NOVA_HAVE_GNUTLS
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

bool nova_req_client_cert(nova_req_t *r, nova_client_cert_t *out)
{
    const union MHD_ConnectionInfo *ci;
    gnutls_session_t session;
    const gnutls_datum_t *certs;
    unsigned int ncerts = 0, verify = 0;
    uint8_t digest[32];
    gnutls_x509_crt_t crt;
    gnutls_datum_t dn = {NULL, 0};

    memset(out, 0, sizeof(*out));
    if (!r->conn_)
        return false;
    ci = MHD_get_connection_info(r->conn_, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return false;
    session = (gnutls_session_t)ci->tls_session;
    if (gnutls_certificate_type_get(session) != GNUTLS_CRT_X509)
        return false;
    certs = gnutls_certificate_get_peers(session, &ncerts);
    if (!certs || ncerts == 0)
        return false;
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, certs[0].data, certs[0].size, digest) != 0)
        return false;
    char *tp = nova_arena_alloc(&r->arena, nova_b64url_encoded_len(sizeof(digest)) + 1);
    if (!tp)
        return false;
    nova_b64url_encode(digest, sizeof(digest), tp);
    out->thumbprint = tp;
    out->verified =
        gnutls_certificate_verify_peers2(session, &verify) == GNUTLS_E_SUCCESS && verify == 0;
    if (gnutls_x509_crt_init(&crt) == GNUTLS_E_SUCCESS) {
        if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == GNUTLS_E_SUCCESS &&
            gnutls_x509_crt_get_dn3(crt, &dn, 0) == GNUTLS_E_SUCCESS) {
            out->subject_dn = nova_arena_strndup(&r->arena, (const char *)dn.data, dn.size);
            gnutls_free(dn.data);
        }
        gnutls_x509_crt_deinit(crt);
    }
    return true;
}

const char *http_tls_thumbprint(void *mhd_connection, nova_arena_t *a)
{
    const union MHD_ConnectionInfo *ci;
    gnutls_session_t session;
    const gnutls_datum_t *certs;
    unsigned int ncerts = 0, verify = 0;
    uint8_t digest[32];
    char *out;

    ci = MHD_get_connection_info(mhd_connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return NULL;
    session = (gnutls_session_t)ci->tls_session;
    if (gnutls_certificate_type_get(session) != GNUTLS_CRT_X509)
        return NULL;
    /* MHD only requests the certificate; chain and validity are checked here, against the
     * configured client CA, so an unverified certificate never yields a thumbprint. */
    if (gnutls_certificate_verify_peers2(session, &verify) != GNUTLS_E_SUCCESS || verify != 0)
        return NULL;
    certs = gnutls_certificate_get_peers(session, &ncerts);
    if (!certs || ncerts == 0)
        return NULL;
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, certs[0].data, certs[0].size, digest) != 0)
        return NULL;
    out = nova_arena_alloc(a, nova_b64url_encoded_len(sizeof(digest)) + 1);
    if (!out)
        return NULL;
    nova_b64url_encode(digest, sizeof(digest), out);
    return out;
}

#else

bool nova_req_client_cert(nova_req_t *r, nova_client_cert_t *out)
{
    (void)r;
    memset(out, 0, sizeof(*out));
    return false;
}

const char *http_tls_thumbprint(void *mhd_connection, nova_arena_t *a)
{
    (void)mhd_connection;
    (void)a;
    return NULL;
}

#endif

const char *nova_req_client_cert_thumbprint(nova_req_t *r)
{
    if (!r->conn_)
        return NULL;
    return http_tls_thumbprint(r->conn_, &r->arena);
}
