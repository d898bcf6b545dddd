/*
 * tls.c: the client certificate thumbprint for mTLS-bound tokens (RFC 8705 "x5t#S256"). Needs
 * GnuTLS at build time (the session MHD hands out is a gnutls_session_t); without it there
 * is no thumbprint.
 */
#include <microhttpd.h>

#include "http_internal.h"

#ifdef NOVA_HAVE_GNUTLS
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

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
