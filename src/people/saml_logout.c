/* saml_logout.c: SAML 2.0 Single Logout as a service provider (Profiles §4.4; nova/saml.h),
 * HTTP-Redirect and HTTP-POST bindings, on Debian's Lasso (LassoLogout): Lasso builds and
 * signs the LogoutRequest and LogoutResponse Nova sends and verifies the signature of the
 * ones the IdP sends (the query's of HTTP-Redirect, the XML signature inside the message of
 * HTTP-POST); this file adds what Lasso leaves to its caller: a signature is required,
 * the Issuer is the IdP, the Destination is this SP's SingleLogoutService, a LogoutRequest
 * is recent and seen once (its ID in the control plane), a LogoutResponse answers a request
 * this novad sent for this IdP (single use).
 *
 * Lasso keeps the SP's view of a sign-in in a LassoSession (the assertion); Nova keeps its
 * own sessions, so the one LassoLogout needs is made for the message at hand: an assertion
 * of the NameID and SessionIndex alone. What the SP-initiated logout needs of a session (its
 * NameID and SessionIndex) is kept in the control plane at sign-in, for the session's life,
 * as OIDC keeps the ID token for RP-initiated logout. Nothing of a NameID, SessionIndex or
 * message reaches a log line or an audit entry. */
#include <jansson.h>
#include <lasso/lasso.h>
#include <lasso/xml/saml-2.0/saml2_assertion.h>
#include <lasso/xml/saml-2.0/saml2_authn_statement.h>
#include <lasso/xml/saml-2.0/saml2_name_id.h>
#include <lasso/xml/saml-2.0/saml2_subject.h>
#include <lasso/xml/saml-2.0/samlp2_logout_request.h>
#include <lasso/xml/saml-2.0/samlp2_logout_response.h>
#include <lasso/xml/saml-2.0/samlp2_status.h>
#include <lasso/xml/saml-2.0/samlp2_status_code.h>
#include <lasso/xml/saml-2.0/samlp2_status_response.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/log.h"
#include "nova/saml.h"

#define SES_PREFIX "saml:ses:"   /* a SAML session's IdP, NameID and SessionIndex */
#define LREQ_PREFIX "saml:lreq:" /* a LogoutRequest this novad sent, until answered */
#define LID_PREFIX "saml:lid:"   /* a LogoutRequest of an IdP, seen (replay) */
#define NO_SESSION_INDEX "_nova-no-session-index"

static nova_status refuse(nova_saml_fail *fail, nova_saml_fail f, const char **why,
                          const char *text)
{
    *fail = f;
    *why = text;
    return NOVA_OK;
}

/* A LassoSession holding, for the IdP, an assertion of name_id (and session_index): what a
 * LassoLogout needs to build a request for, or to answer a request about, that subject. */
static LassoSession *session_of(const char *idp_entity_id, const char *name_id, const char *format,
                                const char *session_index)
{
    LassoSession *ses = lasso_session_new();
    LassoSaml2Assertion *as = LASSO_SAML2_ASSERTION(lasso_saml2_assertion_new());
    LassoSaml2NameID *nid =
        LASSO_SAML2_NAME_ID(lasso_saml2_name_id_new_with_string((char *)name_id));
    if (ses == NULL || as == NULL || nid == NULL) {
        if (nid)
            g_object_unref(nid);
        if (as)
            g_object_unref(as);
        if (ses)
            g_object_unref(ses);
        return NULL;
    }
    if (format)
        nid->Format = g_strdup(format);
    as->Subject = LASSO_SAML2_SUBJECT(lasso_saml2_subject_new());
    as->Subject->NameID = nid;
    /* Lasso finds a subject's sessions by their SessionIndex, so one without is given a
     * stand-in (a request built on it has its SessionIndex taken out again). */
    LassoSaml2AuthnStatement *an = LASSO_SAML2_AUTHN_STATEMENT(lasso_saml2_authn_statement_new());
    an->SessionIndex = g_strdup(session_index ? session_index : NO_SESSION_INDEX);
    as->AuthnStatement = g_list_append(NULL, an);
    int rc = lasso_session_add_assertion(ses, idp_entity_id, LASSO_NODE(as));
    g_object_unref(as);
    if (rc != 0) {
        g_object_unref(ses);
        return NULL;
    }
    return ses;
}

/* The query's parameter name is there (raw, before any decoding). */
static bool has_param(const char *query, const char *name)
{
    size_t n = strlen(name);
    for (const char *q = query; q && *q;) {
        if (strncmp(q, name, n) == 0 && q[n] == '=' && q[n + 1] != '\0' && q[n + 1] != '&')
            return true;
        q = strchr(q, '&');
        q = q ? q + 1 : NULL;
    }
    return false;
}

/* What Lasso's processing of a logout message refused, as a reason. */
static nova_saml_fail logout_reason(int rc, const char **why)
{
    switch (rc) {
    case LASSO_DS_ERROR_SIGNATURE_NOT_FOUND:
        *why = "the message is not signed";
        return NOVA_SAML_FAIL_UNSIGNED;
    case LASSO_DS_ERROR_INVALID_SIGNATURE:
    case LASSO_DS_ERROR_SIGNATURE_VERIFICATION_FAILED:
    case LASSO_DS_ERROR_INVALID_SIGALG:
    case LASSO_DS_ERROR_SIGNATURE_FAILED:
    case LASSO_PROFILE_ERROR_CANNOT_VERIFY_SIGNATURE:
        *why = "the message's signature does not verify with the IdP's certificate";
        return NOVA_SAML_FAIL_SIGNATURE;
    case LASSO_SERVER_ERROR_PROVIDER_NOT_FOUND:
    case LASSO_PROFILE_ERROR_MISSING_ISSUER:
        *why = "the message's issuer is not this IdP";
        return NOVA_SAML_FAIL_ISSUER;
    default:
        *why = "not a SAML 2.0 logout message of the HTTP-Redirect or HTTP-POST binding";
        return NOVA_SAML_FAIL_MALFORMED;
    }
}

/* Issuer and Destination of a message Lasso verified: the IdP's, this SP's SLO. */
static nova_status check_ends(const LassoSaml2NameID *issuer, const char *destination,
                              const nova_saml_expect_t *e, nova_saml_fail *fail, const char **why)
{
    if (issuer == NULL || issuer->content == NULL || strcmp(issuer->content, e->idp_entity_id))
        return refuse(fail, NOVA_SAML_FAIL_ISSUER, why, "the message's Issuer is not this IdP");
    /* Bindings §3.4.5.2: a signed message names its Destination, which must be here. */
    if (destination == NULL || e->slo_url == NULL || strcmp(destination, e->slo_url) != 0)
        return refuse(fail, NOVA_SAML_FAIL_DESTINATION, why,
                      "the message's Destination is not this SP's SingleLogoutService");
    return NOVA_OK;
}

/* The query is the HTTP-Redirect binding's with a signature (Lasso would accept an unsigned
 * one when the metadata does not ask for signatures). */
static bool signed_query(const char *query, const char *what, nova_saml_fail *fail,
                         const char **why)
{
    if (query == NULL || strlen(query) > NOVA_SAML_RESPONSE_MAX || !has_param(query, what)) {
        refuse(fail, NOVA_SAML_FAIL_MALFORMED, why,
               "the query must carry SAMLRequest or SAMLResponse (HTTP-Redirect binding)");
        return false;
    }
    if (!has_param(query, "SigAlg") || !has_param(query, "Signature")) {
        refuse(fail, NOVA_SAML_FAIL_UNSIGNED, why,
               "the message is not signed (SigAlg and Signature of the HTTP-Redirect binding)");
        return false;
    }
    return true;
}

/* The value of the HTTP-POST binding's SAMLRequest or SAMLResponse: base64 only, padding
 * only at its end (so Lasso, which guesses the format, cannot read it as a query or raw XML). */
static bool post_message_ok(const char *b64, nova_saml_fail *fail, const char **why)
{
    size_t n = b64 ? strlen(b64) : 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = b64[i];
        bool alpha = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                     (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
        if (ch == '=')
            pad++;
        else if ((!alpha && ch != '\r' && ch != '\n') || (alpha && pad))
            n = 0;
    }
    if (n == 0 || n > NOVA_SAML_RESPONSE_MAX || pad > 2) {
        refuse(fail, NOVA_SAML_FAIL_MALFORMED, why,
               "SAMLRequest or SAMLResponse: base64 of at most 256 KiB (HTTP-POST binding)");
        return false;
    }
    return true;
}

/* Lasso's processing of an inbound logout query, in frames of its own: Lasso 2.8.1 leaks the
 * signature it decoded (the signature's length, ~260 bytes for RSA-2048), whether it verifies
 * or not, and saml_test's LeakSanitizer suppression names saml_lasso_logout_query, so every
 * other leak on the path is still caught. Two frames, because Lasso keeps no frame
 * pointers: the fast unwinder skips the frame that calls into it and shows its caller. In
 * novad a refused query also costs its sender a failure of the auth-failure rate limit. */
__attribute__((noinline)) static int saml_lasso_logout_call(LassoLogout *lo, const char *query,
                                                            bool request)
{
    int rc = request ? lasso_logout_process_request_msg(lo, (char *)query)
                     : lasso_logout_process_response_msg(lo, (char *)query);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame stays on the stack */
    return rc;
}

__attribute__((noinline)) static int saml_lasso_logout_query(LassoLogout *lo, const char *query,
                                                             bool request)
{
    int rc = saml_lasso_logout_call(lo, query, request);
    __asm__ volatile("" ::: "memory");
    return rc;
}

/* ---- the pieces on a LassoServer ---- */

static nova_status request_make_with(LassoServer *srv, nova_arena_t *ar,
                                     const nova_saml_expect_t *e, const char *name_id,
                                     const char *format, const char *session_index,
                                     const char **url, const char **id)
{
    *url = *id = NULL;
    LassoLogout *lo = lasso_logout_new(srv);
    if (lo == NULL)
        return NOVA_NOMEM;
    nova_status st = NOVA_OK;
    LassoProfile *pr = LASSO_PROFILE(lo);
    pr->session = session_of(e->idp_entity_id, name_id, format, session_index);
    if (pr->session == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    int rc = lasso_logout_init_request(lo, (char *)e->idp_entity_id, LASSO_HTTP_METHOD_REDIRECT);
    if (rc == LASSO_PROFILE_ERROR_UNSUPPORTED_PROFILE ||
        rc == LASSO_PROFILE_ERROR_UNKNOWN_PROFILE_URL) {
        st = NOVA_NOT_FOUND; /* the IdP offers no Single Logout over HTTP-Redirect */
        goto end;
    }
    if (rc != 0 || !LASSO_IS_SAMLP2_LOGOUT_REQUEST(pr->request)) {
        st = NOVA_INTERNAL;
        goto end;
    }
    if (session_index == NULL) {
        LassoSamlp2LogoutRequest *rq = LASSO_SAMLP2_LOGOUT_REQUEST(pr->request);
        g_free(rq->SessionIndex);
        rq->SessionIndex = NULL;
    }
    rc = lasso_logout_build_request_msg(lo);
    if (rc == LASSO_PROFILE_ERROR_UNKNOWN_PROFILE_URL) {
        st = NOVA_NOT_FOUND;
        goto end;
    }
    if (rc != 0 || pr->msg_url == NULL) {
        st = NOVA_INTERNAL;
        goto end;
    }
    *url = nova_arena_strdup(ar, pr->msg_url);
    *id = nova_arena_strdup(ar, LASSO_SAMLP2_REQUEST_ABSTRACT(pr->request)->ID);
    if (*url == NULL || *id == NULL)
        st = NOVA_NOMEM;
end:
    g_object_unref(lo);
    return st;
}

/* How the answer to an IdP's LogoutRequest goes back: over HTTP-Redirect when the IdP's
 * metadata offers it (whatever binding the request came by), else over HTTP-POST, else not
 * at all. */
static LassoHttpMethod answer_method(LassoServer *srv, const nova_saml_expect_t *e)
{
    LassoProvider *idp = lasso_server_get_provider(srv, e->idp_entity_id);
    static const char *const services[] = {"SingleLogoutService HTTP-Redirect",
                                           "SingleLogoutService HTTP-POST"};
    for (int i = 0; idp && i < 2; i++) {
        gchar *u =
            lasso_provider_get_metadata_one_for_role(idp, LASSO_PROVIDER_ROLE_IDP, services[i]);
        bool ok = u && nova_oidc_url_ok(u);
        g_free(u);
        if (ok)
            return i == 0 ? LASSO_HTTP_METHOD_REDIRECT : LASSO_HTTP_METHOD_POST;
    }
    return LASSO_HTTP_METHOD_NONE;
}

static nova_status request_check_with(LassoServer *srv, nova_arena_t *ar, const char *msg,
                                      bool post, const nova_saml_expect_t *e,
                                      nova_saml_logout_req_t *out, nova_saml_logout_answer_t *ans,
                                      nova_saml_fail *fail, const char **why)
{
    memset(out, 0, sizeof(*out));
    memset(ans, 0, sizeof(*ans));
    *fail = NOVA_SAML_FAIL_NONE;
    if (post ? !post_message_ok(msg, fail, why) : !signed_query(msg, "SAMLRequest", fail, why))
        return NOVA_OK;
    LassoLogout *lo = lasso_logout_new(srv);
    if (lo == NULL)
        return NOVA_NOMEM;
    LassoProfile *pr = LASSO_PROFILE(lo);
    GList *indexes = NULL;
    nova_status st = NOVA_OK;
    /* FORCE: the signature (the query's, or the XML one of HTTP-POST) must be there and
     * verify, whatever the metadata says. */
    lasso_profile_set_signature_verify_hint(pr, LASSO_PROFILE_SIGNATURE_VERIFY_HINT_FORCE);
    int rc = saml_lasso_logout_query(lo, msg, true);
    if (rc == 0 &&
        pr->http_request_method != (post ? LASSO_HTTP_METHOD_POST : LASSO_HTTP_METHOD_REDIRECT))
        rc = LASSO_PROFILE_ERROR_INVALID_MSG; /* not of the binding it came by */
    if (rc != 0 || !LASSO_IS_SAMLP2_LOGOUT_REQUEST(pr->request)) {
        nova_saml_fail f = logout_reason(rc ? rc : LASSO_PROFILE_ERROR_INVALID_MSG, why);
        *fail = f;
        goto end;
    }
    LassoSamlp2LogoutRequest *rq = LASSO_SAMLP2_LOGOUT_REQUEST(pr->request);
    LassoSamlp2RequestAbstract *ra = LASSO_SAMLP2_REQUEST_ABSTRACT(rq);
    if ((st = check_ends(ra->Issuer, ra->Destination, e, fail, why)) || *fail)
        goto end;
    if (!people_saml_text_ok(ra->ID, 256)) {
        refuse(fail, NOVA_SAML_FAIL_MALFORMED, why, "the LogoutRequest has no usable ID");
        goto end;
    }
    /* Recent: its ID is remembered for as long as it could be accepted. */
    int64_t at = people_saml_time(ra->IssueInstant);
    if (at < 0 || at > e->now + NOVA_SAML_CLOCK_SKEW ||
        at < e->now - NOVA_SAML_REQUEST_TTL - NOVA_SAML_CLOCK_SKEW) {
        refuse(fail, NOVA_SAML_FAIL_EXPIRED, why,
               "the LogoutRequest's IssueInstant is not within the last 10 minutes");
        goto end;
    }
    if (rq->NotOnOrAfter) {
        int64_t na = people_saml_time(rq->NotOnOrAfter);
        if (na < 0 || e->now - NOVA_SAML_CLOCK_SKEW >= na) {
            refuse(fail, NOVA_SAML_FAIL_EXPIRED, why, "the LogoutRequest has expired");
            goto end;
        }
    }
    if (rq->NameID == NULL || !people_saml_text_ok(rq->NameID->content, 255)) {
        refuse(fail, NOVA_SAML_FAIL_SUBJECT, why,
               "the LogoutRequest names no NameID (1..255 characters; an EncryptedID or BaseID "
               "is not supported)");
        goto end;
    }
    indexes = lasso_samlp2_logout_request_get_session_indexes(rq);
    for (GList *it = indexes; it; it = it->next) {
        if (out->nsession_indexes == NOVA_SAML_MAX_SESSION_INDEXES ||
            !people_saml_text_ok(it->data, 255)) {
            refuse(fail, NOVA_SAML_FAIL_MALFORMED, why,
                   "the LogoutRequest's SessionIndexes: at most 16, each 1..255 characters");
            goto end;
        }
        if ((out->session_indexes[out->nsession_indexes++] = nova_arena_strdup(ar, it->data)) ==
            NULL) {
            st = NOVA_NOMEM;
            goto end;
        }
    }
    out->id = nova_arena_strdup(ar, ra->ID);
    out->name_id = nova_arena_strdup(ar, rq->NameID->content);
    if (out->id == NULL || out->name_id == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    /* The answer (Success): Lasso matches the request against a session of the subject, so
     * it is given the one the request names; Nova's own sessions are ended by the caller. */
    pr->session = session_of(e->idp_entity_id, rq->NameID->content, rq->NameID->Format,
                             out->nsession_indexes ? out->session_indexes[0] : NULL);
    if (pr->session == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    if (lasso_logout_validate_request(lo) != 0) {
        st = NOVA_INTERNAL;
        goto end;
    }
    /* Lasso answers by the binding the request came by; the IdP's metadata decides here. */
    LassoHttpMethod how = answer_method(srv, e);
    if (how == LASSO_HTTP_METHOD_NONE)
        goto end; /* the IdP names no SingleLogoutService to answer at */
    lo->initial_http_request_method = how;
    rc = lasso_logout_build_response_msg(lo);
    if (rc == 0 && pr->msg_url && (how == LASSO_HTTP_METHOD_REDIRECT || pr->msg_body)) {
        ans->url = nova_arena_strdup(ar, pr->msg_url);
        ans->saml_response =
            how == LASSO_HTTP_METHOD_POST ? nova_arena_strdup(ar, pr->msg_body) : NULL;
        if (ans->url == NULL || (how == LASSO_HTTP_METHOD_POST && ans->saml_response == NULL))
            st = NOVA_NOMEM;
    } else if (rc != LASSO_PROFILE_ERROR_UNKNOWN_PROFILE_URL) {
        st = NOVA_INTERNAL;
    }
end:
    if (indexes)
        g_list_free_full(indexes, g_free);
    g_object_unref(lo);
    return st;
}

static nova_status response_check_with(LassoServer *srv, nova_arena_t *ar, const char *msg,
                                       bool post, const nova_saml_expect_t *e,
                                       const char **in_response_to, nova_saml_fail *fail,
                                       const char **why)
{
    *in_response_to = NULL;
    *fail = NOVA_SAML_FAIL_NONE;
    if (post ? !post_message_ok(msg, fail, why) : !signed_query(msg, "SAMLResponse", fail, why))
        return NOVA_OK;
    LassoLogout *lo = lasso_logout_new(srv);
    if (lo == NULL)
        return NOVA_NOMEM;
    LassoProfile *pr = LASSO_PROFILE(lo);
    nova_status st = NOVA_OK;
    lasso_profile_set_signature_verify_hint(pr, LASSO_PROFILE_SIGNATURE_VERIFY_HINT_FORCE);
    int rc = saml_lasso_logout_query(lo, msg, false);
    /* (Lasso guesses the format; the checks above leave it one: a query with SAMLResponse=
     * and the signature's parameters, or base64 alone, never raw XML) */
    bool denied =
        rc == LASSO_PROFILE_ERROR_STATUS_NOT_SUCCESS || rc == LASSO_LOGOUT_ERROR_REQUEST_DENIED ||
        rc == LASSO_LOGOUT_ERROR_UNKNOWN_PRINCIPAL || rc == LASSO_LOGOUT_ERROR_PARTIAL_LOGOUT;
    /* Lasso returns a status other than Success before it looks at the signature's verdict:
     * a denial counts only signed (else a forged one would use up the request it names). */
    if (denied && pr->signature_status != 0) {
        rc = pr->signature_status;
        denied = false;
    }
    if ((rc != 0 && !denied) || !LASSO_IS_SAMLP2_STATUS_RESPONSE(pr->response)) {
        *fail = logout_reason(rc ? rc : LASSO_PROFILE_ERROR_INVALID_MSG, why);
        goto end;
    }
    LassoSamlp2StatusResponse *sr = LASSO_SAMLP2_STATUS_RESPONSE(pr->response);
    if ((st = check_ends(sr->Issuer, sr->Destination, e, fail, why)) || *fail)
        goto end;
    if (!people_saml_text_ok(sr->InResponseTo, 256)) {
        refuse(fail, NOVA_SAML_FAIL_IN_RESPONSE_TO, why,
               "the LogoutResponse answers no request (InResponseTo)");
        goto end;
    }
    if ((*in_response_to = nova_arena_strdup(ar, sr->InResponseTo)) == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    LassoSamlp2Status *status = sr->Status;
    if (denied || status == NULL || status->StatusCode == NULL ||
        status->StatusCode->Value == NULL ||
        strcmp(status->StatusCode->Value, LASSO_SAML2_STATUS_CODE_SUCCESS) != 0)
        refuse(fail, NOVA_SAML_FAIL_STATUS, why,
               "the IdP answered the LogoutRequest with a status other than Success (the "
               "session here has ended; the IdP's may not have)");
end:
    g_object_unref(lo);
    return st;
}

/* ---- the pieces without a store ---- */

nova_status nova_saml_logout_request_make(nova_arena_t *ar, const nova_saml_expect_t *e,
                                          const char *name_id, const char *format,
                                          const char *session_index, const char **url,
                                          const char **id)
{
    LassoServer *srv = people_saml_server_new(e);
    if (srv == NULL)
        return NOVA_INTERNAL;
    nova_status st = request_make_with(srv, ar, e, name_id, format, session_index, url, id);
    g_object_unref(srv);
    return st;
}

nova_status nova_saml_logout_request_check(nova_arena_t *ar, const char *msg, bool post,
                                           const nova_saml_expect_t *e, nova_saml_logout_req_t *out,
                                           nova_saml_logout_answer_t *answer, nova_saml_fail *fail,
                                           const char **why)
{
    LassoServer *srv = people_saml_server_new(e);
    if (srv == NULL)
        return NOVA_INTERNAL;
    nova_status st = request_check_with(srv, ar, msg, post, e, out, answer, fail, why);
    g_object_unref(srv);
    return st;
}

nova_status nova_saml_logout_response_check(nova_arena_t *ar, const char *msg, bool post,
                                            const nova_saml_expect_t *e,
                                            const char **in_response_to, nova_saml_fail *fail,
                                            const char **why)
{
    LassoServer *srv = people_saml_server_new(e);
    if (srv == NULL)
        return NOVA_INTERNAL;
    nova_status st = response_check_with(srv, ar, msg, post, e, in_response_to, fail, why);
    g_object_unref(srv);
    return st;
}

/* ---- the tenant's IdPs ---- */

static nova_saml_expect_t expect_of(const people_saml_ctx *c, int64_t now)
{
    nova_saml_expect_t e = {.sp_metadata = c->sp_metadata,
                            .sp_key_pem = c->key_pem,
                            .sp_cert_pem = c->idp.sp_cert_pem,
                            .idp_metadata = c->idp.metadata_xml,
                            .idp_entity_id = c->idp.entity_id,
                            .sp_entity_id = c->idp.sp_entity_id,
                            .acs_url = c->idp.acs_url,
                            .slo_url = c->idp.slo_url,
                            .now = now};
    return e;
}

/* sha256(text) in hex under prefix (arena): the control plane's key for the IdP's text. */
static const char *digest_key(nova_arena_t *ar, const char *prefix, const char *text)
{
    uint8_t h[32];
    char hx[65];
    if (text == NULL)
        return NULL;
    nova_sha256(text, strlen(text), h);
    nova_hex_encode(h, sizeof(h), hx);
    return nova_arena_printf(ar, "%s%s", prefix, hx);
}

void people_saml_session_keep(nova_people_t *p, nova_arena_t *ar, const char *session_id,
                              int64_t expires_at, const char *idp_id,
                              const nova_saml_identity_t *who)
{
    int64_t ttl = expires_at - nova_time_now();
    json_t *rec = json_pack("{s:s, s:s}", "i", idp_id, "n", who->name_id);
    if (rec && who->name_id_format)
        json_object_set_new(rec, "f", json_string(who->name_id_format));
    if (rec && who->session_index)
        json_object_set_new(rec, "x", json_string(who->session_index));
    char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    const char *key = session_id ? nova_arena_printf(ar, SES_PREFIX "%s", session_id) : NULL;
    /* A failure costs the IdP-side logout only, never the sign-in. */
    if (text && key && ttl > 0 &&
        nova_kv_set(p->kv, key, text, strlen(text), (uint64_t)ttl * 1000) != NOVA_OK)
        nova_log_warn("saml: the session's logout record could not be kept");
    if (text) {
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
}

void nova_saml_logout_forget(nova_people_t *p, nova_arena_t *ar, const char *session_id)
{
    const char *key = nova_arena_printf(ar, SES_PREFIX "%s", session_id);
    if (key)
        (void)nova_kv_del(p->kv, key);
}

nova_status nova_saml_logout_begin(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                   const char *tenant_id, const char *session_id,
                                   const char **location)
{
    *location = NULL;
    const char *key = nova_arena_printf(ar, SES_PREFIX "%s", session_id);
    char *val = NULL;
    size_t len = 0;
    if (key == NULL)
        return NOVA_NOMEM;
    nova_status st = nova_kv_get(p->kv, key, ar, &val, &len);
    if (st == NOVA_NOT_FOUND)
        return NOVA_OK; /* not a SAML session, or its record is gone: nothing to tell an IdP */
    if (st)
        return st;
    json_error_t err;
    json_t *rec = json_loadb(val, len, 0, &err);
    OPENSSL_cleanse(val, len);
    const char *idp = json_string_value(json_object_get(rec, "i"));
    const char *nid = json_string_value(json_object_get(rec, "n"));
    const char *fmt = json_string_value(json_object_get(rec, "f"));
    const char *six = json_string_value(json_object_get(rec, "x"));
    people_saml_ctx c;
    nova_saml_fail fail = NOVA_SAML_FAIL_NONE;
    const char *why = NULL, *id = NULL, *url = NULL;
    st = idp && nid ? people_saml_load(p, s, ar, tenant_id, idp, true, &c, &fail, &why) : NOVA_OK;
    if (st || fail || idp == NULL || nid == NULL) {
        json_decref(rec);
        return st; /* the IdP is gone: nothing to tell it */
    }
    nova_saml_expect_t e = expect_of(&c, nova_time_now());
    LassoServer *srv = people_saml_server(&c);
    OPENSSL_cleanse((char *)c.key_pem, strlen(c.key_pem));
    if (srv == NULL) {
        json_decref(rec);
        return NOVA_INTERNAL;
    }
    st = request_make_with(srv, ar, &e, nid, fmt, six, &url, &id);
    people_saml_server_done();
    json_decref(rec);
    if (st == NOVA_NOT_FOUND)
        return NOVA_OK; /* the IdP offers no Single Logout */
    if (st)
        return st;
    /* The IdP's answer must name this request, for this tenant and IdP, once. */
    json_t *r = json_pack("{s:s, s:s}", "t", tenant_id, "i", c.idp.id);
    char *text = r ? json_dumps(r, JSON_COMPACT) : NULL;
    json_decref(r);
    const char *rk = digest_key(ar, LREQ_PREFIX, id);
    if (text == NULL || rk == NULL) {
        free(text);
        return NOVA_NOMEM;
    }
    st = nova_kv_set(p->kv, rk, text, strlen(text), (uint64_t)NOVA_SAML_REQUEST_TTL * 1000);
    free(text);
    if (st == NOVA_OK)
        *location = url;
    return st;
}

/* Takes the LogoutRequest this answers (single use): of this tenant and IdP. */
static bool logout_request_take(nova_people_t *p, nova_arena_t *ar, const char *id,
                                const char *tenant, const char *idp, nova_status *st)
{
    const char *key = digest_key(ar, LREQ_PREFIX, id);
    char *val = NULL;
    size_t len = 0;
    *st = key ? nova_kv_take(p->kv, key, ar, &val, &len) : NOVA_NOMEM;
    if (*st == NOVA_NOT_FOUND) {
        *st = NOVA_OK;
        return false;
    }
    if (*st)
        return false;
    json_error_t err;
    json_t *j = json_loadb(val, len, 0, &err);
    const char *t = json_string_value(json_object_get(j, "t"));
    const char *i = json_string_value(json_object_get(j, "i"));
    bool ok = t && i && strcmp(t, tenant) == 0 && strcmp(i, idp) == 0;
    json_decref(j);
    return ok;
}

nova_status nova_saml_slo(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                          const char *tenant_id, const char *idp_id, const char *query,
                          const char *post_request, const char *post_response,
                          nova_saml_slo_result_t *out, nova_saml_fail *fail, const char **why)
{
    memset(out, 0, sizeof(*out));
    *fail = NOVA_SAML_FAIL_NONE;
    bool post = query == NULL;
    const char *msg = post ? (post_request ? post_request : post_response) : query;
    out->was_request = post ? post_request != NULL : has_param(query, "SAMLRequest");
    if (post && post_request && post_response)
        return refuse(fail, NOVA_SAML_FAIL_MALFORMED, why,
                      "the form must carry SAMLRequest or SAMLResponse, not both");
    if (post ? msg == NULL : !out->was_request && !has_param(query, "SAMLResponse"))
        return refuse(fail, NOVA_SAML_FAIL_MALFORMED, why,
                      post ? "the form must carry SAMLRequest or SAMLResponse (HTTP-POST binding)"
                           : "the query must carry SAMLRequest or SAMLResponse (HTTP-Redirect "
                             "binding)");
    people_saml_ctx c;
    /* A disabled IdP still ends its sessions: a logout only ever takes access away. */
    nova_status st = people_saml_load(p, s, ar, tenant_id, idp_id, true, &c, fail, why);
    if (st || *fail)
        return st;
    int64_t now = nova_time_now();
    nova_saml_expect_t e = expect_of(&c, now);
    LassoServer *srv = people_saml_server(&c);
    OPENSSL_cleanse((char *)c.key_pem, strlen(c.key_pem));
    if (srv == NULL)
        return NOVA_INTERNAL;
    nova_saml_logout_req_t rq = {0};
    nova_saml_logout_answer_t ans = {0};
    const char *irt = NULL;
    st = out->was_request ? request_check_with(srv, ar, msg, post, &e, &rq, &ans, fail, why)
                          : response_check_with(srv, ar, msg, post, &e, &irt, fail, why);
    people_saml_server_done();
    out->location = ans.url;
    out->saml_response = ans.saml_response;
    if (st || (*fail && !irt))
        return st;
    if (!out->was_request) {
        /* A denied answer still uses up the request it answers. */
        nova_saml_fail denied = *fail;
        if (!logout_request_take(p, ar, irt, tenant_id, c.idp.id, &st)) {
            out->location = NULL;
            return st ? st
                      : refuse(fail, NOVA_SAML_FAIL_IN_RESPONSE_TO, why,
                               "InResponseTo: not a live LogoutRequest of this SP for this IdP "
                               "(unknown, answered already or expired)");
        }
        *fail = denied;
        return NOVA_OK;
    }
    /* Single use of the request, remembered as long as its IssueInstant is accepted; the key
     * is a digest, as the ID is the IdP's text. */
    const char *ik = nova_arena_printf(ar, "%s|%s|%s", tenant_id, c.idp.id, rq.id);
    const char *key = digest_key(ar, LID_PREFIX, ik);
    if (key == NULL)
        return NOVA_NOMEM;
    st = nova_kv_set_nx(p->kv, key, "1", 1,
                        (uint64_t)(NOVA_SAML_REQUEST_TTL + 2 * NOVA_SAML_CLOCK_SKEW) * 1000);
    if (st == NOVA_CONFLICT) {
        out->location = out->saml_response = NULL;
        return refuse(fail, NOVA_SAML_FAIL_REPLAY, why,
                      "this LogoutRequest was presented before (replay)");
    }
    if (st)
        return st;
    /* The sessions it names: of the user linked to the NameID (none linked: none), of each
     * SessionIndex when it names any, else all that this IdP opened for the user. */
    const char *user = NULL;
    st = nova_store_saml_link_get(s, ar, tenant_id, c.idp.entity_id, rq.name_id, &user);
    if (st == NOVA_NOT_FOUND)
        return NOVA_OK;
    for (size_t i = 0; st == NOVA_OK && i < (rq.nsession_indexes ? rq.nsession_indexes : 1); i++) {
        const char **ids = NULL;
        size_t n = 0;
        st = people_fed_logout_sessions(p, s, ar, NOVA_FED_SAML, tenant_id, c.idp.id,
                                        rq.nsession_indexes ? rq.session_indexes[i] : NULL, user,
                                        "session.saml_logout", now, &ids, &n);
        for (size_t k = 0; st == NOVA_OK && k < n; k++)
            nova_saml_logout_forget(p, ar, ids[k]);
        out->revoked += n;
    }
    if (st) {
        out->location = out->saml_response = NULL;
        (void)nova_kv_del(p->kv, key); /* not done: the IdP's retry must not be a replay */
    }
    return st;
}
