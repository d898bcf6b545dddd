/* saml_login.c: SAML 2.0 Web Browser SSO as a service provider (nova/saml.h), on Debian's
 * Lasso. Lasso builds the AuthnRequest (HTTP-Redirect, signed with the SP key), decodes the
 * Response of the HTTP-POST binding, and verifies every XML signature with xmlsec; this file
 * adds what a relying party must check on top and Lasso leaves to it: an assertion signature
 * is required (Lasso accepts an unsigned assertion inside a signed Response), the issuer, the
 * Destination and Recipient, the audience, the time limits, InResponseTo against a request
 * this novad made (single use, kv) and the assertion's single use (kv until it expires).
 *
 * A LassoServer is made per login from the IdP row (the SP metadata, its key and certificate,
 * the IdP's metadata): sign-ins are rare enough that parsing them each time costs less than
 * a cache's invalidation rules. Nothing of a Response, a NameID or an attribute reaches a log
 * line or an audit entry; Lasso's own log messages are dropped. */
#include <jansson.h>
#include <lasso/lasso.h>
#include <lasso/saml-2.0/saml2_helper.h>
#include <lasso/xml/misc_text_node.h>
#include <lasso/xml/saml-2.0/saml2_assertion.h>
#include <lasso/xml/saml-2.0/saml2_attribute.h>
#include <lasso/xml/saml-2.0/saml2_attribute_statement.h>
#include <lasso/xml/saml-2.0/saml2_attribute_value.h>
#include <lasso/xml/saml-2.0/saml2_audience_restriction.h>
#include <lasso/xml/saml-2.0/saml2_authn_context.h>
#include <lasso/xml/saml-2.0/saml2_authn_statement.h>
#include <lasso/xml/saml-2.0/saml2_conditions.h>
#include <lasso/xml/saml-2.0/saml2_encrypted_element.h>
#include <lasso/xml/saml-2.0/saml2_name_id.h>
#include <lasso/xml/saml-2.0/saml2_subject.h>
#include <lasso/xml/saml-2.0/saml2_subject_confirmation.h>
#include <lasso/xml/saml-2.0/saml2_subject_confirmation_data.h>
#include <lasso/xml/saml-2.0/samlp2_authn_request.h>
#include <lasso/xml/saml-2.0/samlp2_name_id_policy.h>
#include <lasso/xml/saml-2.0/samlp2_requested_authn_context.h>
#include <lasso/xml/saml-2.0/samlp2_response.h>
#include <lasso/xml/saml-2.0/samlp2_status.h>
#include <lasso/xml/saml-2.0/samlp2_status_code.h>
#include <libxml/tree.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xmlsec/keys.h>
#include <xmlsec/openssl/app.h>

#include "internal.h"
#include "nova/saml.h"

#define REQ_PREFIX "saml:req:"
#define AID_PREFIX "saml:aid:"
#define DSIG_NS "http://www.w3.org/2000/09/xmldsig#"
#define XENC_NS "http://www.w3.org/2001/04/xmlenc#"

/* ---- Lasso ---- */

static pthread_once_t lasso_once = PTHREAD_ONCE_INIT;

static void quiet(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer ud)
{
    (void)domain, (void)level, (void)msg, (void)ud;
}

static void lasso_start(void)
{
    lasso_init();
    /* Lasso logs under both spellings of its domain. */
    static const char *const domains[] = {"Lasso", "lasso"};
    for (size_t i = 0; i < 2; i++)
        g_log_set_handler(domains[i], G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                          quiet, NULL);
}

/* Lasso's logger, replaced. Lasso 2.8.1 logs some schema violations of a message it parses
 * with error() (G_LOG_LEVEL_ERROR: a LogoutRequest without a NameID, BaseID or EncryptedID;
 * ECP and PAOS headers), and glib aborts the process after any handler has seen an ERROR
 * message, whatever handler or fatal mask is set: one unsigned message from anyone would end
 * novad. Lasso calls lasso_log through the PLT, so this definition in the executable
 * preempts the library's (saml_test's test_slo_post_request posts such a message); like
 * Lasso's messages under the handlers below, everything is dropped: nothing of a message
 * may reach a log line. */
void lasso_log(GLogLevelFlags level, const char *filename, int line, const char *function,
               const char *format, ...)
{
    (void)level, (void)filename, (void)line, (void)function, (void)format;
}

void nova_saml_init(void)
{
    pthread_once(&lasso_once, lasso_start);
}

nova_status nova_saml_idp_metadata_parse(nova_arena_t *ar, const char *xml, size_t n,
                                         nova_saml_idp_meta_t *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    nova_saml_init();
    if (xml == NULL || n == 0 || n > NOVA_SAML_METADATA_MAX || strlen(xml) != n) {
        *why = "metadata: an IdP's EntityDescriptor of at most 256 KiB";
        return NOVA_INVALID;
    }
    LassoProvider *pv = lasso_provider_new_from_buffer(LASSO_PROVIDER_ROLE_IDP, xml, NULL, NULL);
    if (pv == NULL || pv->ProviderID == NULL) {
        if (pv)
            g_object_unref(pv);
        *why = "metadata: not SAML 2.0 metadata of an IdP (an EntityDescriptor with an "
               "IDPSSODescriptor)";
        return NOVA_INVALID;
    }
    gchar *sso = lasso_provider_get_metadata_one_for_role(pv, LASSO_PROVIDER_ROLE_IDP,
                                                          "SingleSignOnService HTTP-Redirect");
    gchar *slo = NULL, *slo_post = lasso_provider_get_metadata_one_for_role(
                           pv, LASSO_PROVIDER_ROLE_IDP, "SingleLogoutService HTTP-POST");
    nova_status st = NOVA_OK;
    if (sso == NULL) {
        *why = "metadata: the IdP offers no SingleSignOnService with the HTTP-Redirect binding";
        st = NOVA_INVALID;
    } else if (strlen(pv->ProviderID) > 1024 || !nova_oidc_url_ok(sso)) {
        *why = "metadata: the entityID is too long, or the SingleSignOnService is not an https "
               "URL (http only on a loopback host)";
        st = NOVA_INVALID;
    } else if ((slo = lasso_provider_get_metadata_one_for_role(
                    pv, LASSO_PROVIDER_ROLE_IDP, "SingleLogoutService HTTP-Redirect")) != NULL &&
               !nova_oidc_url_ok(slo)) {
        *why = "metadata: the SingleLogoutService is not an https URL (http only on a loopback "
               "host)";
        st = NOVA_INVALID;
    } else if (slo_post && !nova_oidc_url_ok(slo_post)) {
        *why = "metadata: the HTTP-POST SingleLogoutService is not an https URL (http only on a "
               "loopback host)";
        st = NOVA_INVALID;
    } else if (strstr(xml, "X509Certificate") == NULL) {
        /* Lasso loads keys lazily; metadata without a certificate could verify nothing. */
        *why = "metadata: the IdP names no signing certificate (KeyDescriptor/X509Certificate)";
        st = NOVA_INVALID;
    } else {
        out->entity_id = nova_arena_strdup(ar, pv->ProviderID);
        out->sso_url = nova_arena_strdup(ar, sso);
        out->slo_url = slo ? nova_arena_strdup(ar, slo) : NULL;
        out->slo_post_url = slo_post ? nova_arena_strdup(ar, slo_post) : NULL;
        if (!out->entity_id || !out->sso_url || (slo && !out->slo_url) ||
            (slo_post && !out->slo_post_url))
            st = NOVA_NOMEM;
    }
    g_free(sso);
    g_free(slo);
    g_free(slo_post);
    g_object_unref(pv);
    return st;
}

/* A LassoServer for the SP of e with the IdP of e added. NULL when either will not load. */
static LassoServer *server_for(const char *sp_md, const char *key, const char *cert,
                               const char *idp_md)
{
    nova_saml_init();
    /* No certificate: a signature of the HTTP-Redirect binding carries no KeyInfo (the IdP
     * has the certificate from the SP's metadata), and given one, Lasso has xmlsec try it as
     * a file name when it signs, which leaks a BIO per AuthnRequest (xmlsec 1.2.37). */
    (void)cert;
    /* The key is set after: lasso_server_new_from_buffers would also make the signing key a
     * decryption key, and Lasso would then decrypt whatever an EncryptedAssertion names (RSA
     * PKCS#1 v1.5 too) with it. This server decrypts nothing (see "encrypted assertions"). */
    LassoServer *srv = lasso_server_new_from_buffers(sp_md, NULL, NULL, NULL);
    if (srv == NULL)
        return NULL;
    srv->private_key = g_strdup(key);
    if (srv->private_key == NULL) {
        g_object_unref(srv);
        return NULL;
    }
    /* The AuthnRequest's signature: RSA-SHA256 whatever the library's default. */
    srv->signature_method = LASSO_SIGNATURE_METHOD_RSA_SHA256;
    if (lasso_server_add_provider_from_buffer(srv, LASSO_PROVIDER_ROLE_IDP, idp_md, NULL, NULL) !=
        0) {
        g_object_unref(srv);
        return NULL;
    }
    return srv;
}

/* ---- counters ---- */

static _Atomic uint64_t saml_logins;
static _Atomic uint64_t saml_failures[NOVA_SAML_FAIL_N];
static const char *const fail_names[NOVA_SAML_FAIL_N] = {
    "none",    "unknown_idp",  "malformed", "status",     "signature",      "unsigned",
    "issuer",  "destination",  "audience",  "expired",    "in_response_to", "replay",
    "subject", "provisioning", "suspended", "mfa_policy", "decryption",     "unencrypted"};

const char *nova_saml_fail_name(nova_saml_fail f)
{
    return (unsigned)f < NOVA_SAML_FAIL_N ? fail_names[f] : "other";
}

void nova_saml_count(nova_saml_fail f)
{
    if (f == NOVA_SAML_FAIL_NONE)
        atomic_fetch_add_explicit(&saml_logins, 1, memory_order_relaxed);
    else if ((unsigned)f < NOVA_SAML_FAIL_N)
        atomic_fetch_add_explicit(&saml_failures[f], 1, memory_order_relaxed);
}

nova_status people_saml_failure_lines(nova_buf_t *out)
{
    return people_fed_failure_lines(out, "saml", fail_names, saml_failures, NOVA_SAML_FAIL_N);
}

nova_status nova_saml_metrics(nova_buf_t *out)
{
    return nova_buf_printf(
        out, "nova_people_federation_logins_total{protocol=\"saml\"} %llu\n",
        (unsigned long long)atomic_load_explicit(&saml_logins, memory_order_relaxed));
}

/* ---- the Response ---- */

static nova_status fail_with(nova_saml_fail *fail, nova_saml_fail f, const char **why,
                             const char *text)
{
    *fail = f;
    if (text)
        *why = text;
    return NOVA_OK;
}

/* xs:dateTime in UTC ("2026-12-01T20:11:14Z", fractions of a second and a +00:00 or -00:00
 * zone accepted) to unix seconds; -1 when it is not one. */
static int64_t xs_time(const char *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int y, mo, d, h, mi, s, used = 0;
    if (t == NULL || sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &used) != 6 ||
        used != 19)
        return -1;
    const char *z = t + used;
    if (*z == '.') {
        z++;
        if (*z < '0' || *z > '9')
            return -1;
        while (*z >= '0' && *z <= '9')
            z++;
    }
    if (strcmp(z, "Z") != 0 && strcmp(z, "+00:00") != 0 && strcmp(z, "-00:00") != 0)
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return -1;
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
    tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = s;
    return (int64_t)timegm(&tm);
}

/* Whether node's own element (not a descendant's) carries a ds:Signature child. */
static bool has_signature(LassoNode *node)
{
    xmlNode *x = lasso_node_get_original_xmlnode(node);
    for (xmlNode *c = x ? x->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "Signature") == 0 &&
            c->ns && c->ns->href && strcmp((const char *)c->ns->href, DSIG_NS) == 0)
            return true;
    return false;
}

/* The text of an AttributeValue (arena), or NULL. */
static const char *value_text(nova_arena_t *ar, LassoSaml2AttributeValue *v)
{
    for (GList *it = v->any; it; it = it->next) {
        if (LASSO_IS_MISC_TEXT_NODE(it->data)) {
            LassoMiscTextNode *t = it->data;
            if (t->content && *t->content)
                return nova_arena_strdup(ar, t->content);
        }
    }
    xmlNode *x = lasso_node_get_original_xmlnode(LASSO_NODE(v));
    if (x) {
        xmlChar *c = xmlNodeGetContent(x);
        const char *r = c && *c ? nova_arena_strdup(ar, (const char *)c) : NULL;
        xmlFree(c);
        return r;
    }
    return NULL;
}

static bool attr_is(LassoSaml2Attribute *a, const char *name)
{
    return name && *name &&
           ((a->Name && strcmp(a->Name, name) == 0) ||
            (a->FriendlyName && strcmp(a->FriendlyName, name) == 0));
}

static bool text_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max || !nova_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static void read_attributes(nova_arena_t *ar, LassoSaml2Assertion *as, const nova_saml_expect_t *e,
                            nova_saml_identity_t *out)
{
    for (GList *st = as->AttributeStatement; st; st = st->next) {
        if (!LASSO_IS_SAML2_ATTRIBUTE_STATEMENT(st->data))
            continue;
        for (GList *at = LASSO_SAML2_ATTRIBUTE_STATEMENT(st->data)->Attribute; at; at = at->next) {
            if (!LASSO_IS_SAML2_ATTRIBUTE(at->data))
                continue;
            LassoSaml2Attribute *a = at->data;
            for (GList *vi = a->AttributeValue; vi; vi = vi->next) {
                if (!LASSO_IS_SAML2_ATTRIBUTE_VALUE(vi->data))
                    continue;
                const char *v = value_text(ar, vi->data);
                if (!text_ok(v, 256))
                    continue;
                if (attr_is(a, e->group_attribute) && out->ngroups < NOVA_SAML_MAX_GROUPS)
                    out->groups[out->ngroups++] = v;
                else if (attr_is(a, e->email_attribute) && out->email == NULL)
                    out->email = v;
                else if (attr_is(a, e->name_attribute) && out->name == NULL)
                    out->name = v;
            }
        }
    }
}

/* What Lasso's processing of a Response refused, as a reason. */
static nova_saml_fail lasso_reason(int rc, const char **why)
{
    switch (rc) {
    case LASSO_PROFILE_ERROR_STATUS_NOT_SUCCESS:
    case LASSO_LOGIN_ERROR_STATUS_NOT_SUCCESS:
        *why = "the IdP answered with a status other than Success";
        return NOVA_SAML_FAIL_STATUS;
    case LASSO_DS_ERROR_SIGNATURE_NOT_FOUND:
        *why = "the Response is not signed";
        return NOVA_SAML_FAIL_UNSIGNED;
    case LASSO_DS_ERROR_INVALID_SIGNATURE:
    case LASSO_DS_ERROR_SIGNATURE_VERIFICATION_FAILED:
    case LASSO_DS_ERROR_INVALID_REFERENCE_FOR_SAML:
    case LASSO_DS_ERROR_TOO_MUCH_REFERENCES:
    case LASSO_DS_ERROR_INVALID_SIGALG:
    case LASSO_DS_ERROR_DIGEST_COMPUTE_FAILED:
    case LASSO_LOGIN_ERROR_INVALID_SIGNATURE:
    case LASSO_LOGIN_ERROR_INVALID_ASSERTION_SIGNATURE:
    case LASSO_PROFILE_ERROR_CANNOT_VERIFY_SIGNATURE:
        *why = "a signature of the Response does not verify with the IdP's certificate";
        return NOVA_SAML_FAIL_SIGNATURE;
    case LASSO_SERVER_ERROR_PROVIDER_NOT_FOUND:
    case LASSO_PROFILE_ERROR_MISSING_ISSUER:
        *why = "the Response's issuer is not this IdP";
        return NOVA_SAML_FAIL_ISSUER;
    default:
        *why = "the SAMLResponse is not a base64 SAML 2.0 Response with an assertion";
        return NOVA_SAML_FAIL_MALFORMED;
    }
}

/* ---- encrypted assertions and NameIDs ----
 *
 * The LassoServer holds no decryption key: were it given one, Lasso would decrypt whatever
 * EncryptionMethod the message names (RSA PKCS#1 v1.5 too, whose padding errors are
 * Bleichenbacher's oracle, and DES). So Lasso stops at an EncryptedAssertion it cannot read
 * (or an EncryptedID), and this file decrypts it with the SP's encryption key once the
 * algorithms are ones it accepts: the content AES-GCM or AES-CBC, its key transported with
 * RSA-OAEP (rsa-oaep-mgf1p, the one xmlsec 1.2.37 has). Every failure to open one reads the
 * same. The decrypted assertion then goes through every check a plain one does, its
 * signature first: the encryption certificate is public, anyone can encrypt to it. */

static const char *const data_algs[] = {
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",  "http://www.w3.org/2009/xmlenc11#aes192-gcm",
    "http://www.w3.org/2009/xmlenc11#aes256-gcm",  "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes192-cbc", "http://www.w3.org/2001/04/xmlenc#aes256-cbc"};
#define KEY_TRANSPORT_ALG "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"

static xmlNode *child_el(xmlNode *x, const char *name, const char *ns)
{
    for (xmlNode *c = x ? x->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0 && c->ns &&
            c->ns->href && strcmp((const char *)c->ns->href, ns) == 0)
            return c;
    return NULL;
}

/* The Algorithm of x's xenc:EncryptionMethod, or NULL. */
static const char *enc_algorithm(xmlNode *x)
{
    xmlNode *m = child_el(x, "EncryptionMethod", XENC_NS);
    xmlAttr *a = m ? xmlHasNsProp(m, (const xmlChar *)"Algorithm", NULL) : NULL;
    if (a == NULL || a->children == NULL || a->children->type != XML_TEXT_NODE ||
        a->children->next != NULL)
        return NULL;
    return (const char *)a->children->content;
}

/* Whether ee's algorithms are ones this SP takes, looking at the EncryptedKey Lasso's
 * decryption will use (the first EncryptedKey beside the EncryptedData, else the one in its
 * KeyInfo). */
static bool enc_algorithms_ok(LassoSaml2EncryptedElement *ee)
{
    xmlNode *key = NULL;
    if (ee->EncryptedKey) {
        for (GList *i = ee->EncryptedKey; i && key == NULL; i = i->next)
            if (i->data && strcmp((const char *)((xmlNode *)i->data)->name, "EncryptedKey") == 0)
                key = i->data;
    } else {
        key = child_el(child_el(ee->EncryptedData, "KeyInfo", DSIG_NS), "EncryptedKey", XENC_NS);
    }
    const char *da = enc_algorithm(ee->EncryptedData), *ka = enc_algorithm(key);
    if (da == NULL || ka == NULL || strcmp(ka, KEY_TRANSPORT_ALG) != 0)
        return false;
    for (size_t i = 0; i < sizeof(data_algs) / sizeof(data_algs[0]); i++)
        if (strcmp(da, data_algs[i]) == 0)
            return true;
    return false;
}

#define DECRYPT_WHY                                                                                \
    "an encrypted element of the Response does not open with this SP's encryption key (is it "     \
    "encrypted to the certificate of this SP's metadata, with RSA-OAEP and AES-GCM or AES-CBC?)"

/* ee decrypted with the SP's key into *out (a new reference), of type want. */
static nova_status decrypt_el(xmlSecKey *key, LassoSaml2EncryptedElement *ee, GType want,
                              LassoNode **out, nova_saml_fail *fail, const char **why)
{
    *out = NULL;
    if (key == NULL)
        return fail_with(fail, NOVA_SAML_FAIL_DECRYPTION, why,
                         "the Response holds an encrypted element and this SP has no encryption "
                         "key yet (update the IdP once to make one, then give the IdP the SP's "
                         "new metadata)");
    if (!LASSO_IS_SAML2_ENCRYPTED_ELEMENT(ee) || ee->EncryptedData == NULL ||
        !enc_algorithms_ok(ee))
        return fail_with(fail, NOVA_SAML_FAIL_DECRYPTION, why,
                         "an encrypted element of the Response uses an algorithm this SP refuses "
                         "(content: AES-GCM or AES-CBC; key transport: RSA-OAEP "
                         "(rsa-oaep-mgf1p), never RSA PKCS#1 v1.5)");
    LassoNode *n = NULL;
    if (lasso_saml2_encrypted_element_decrypt(ee, key, &n) != 0 || n == NULL ||
        !G_TYPE_CHECK_INSTANCE_TYPE(n, want)) {
        if (n)
            g_object_unref(n);
        return fail_with(fail, NOVA_SAML_FAIL_DECRYPTION, why, DECRYPT_WHY);
    }
    *out = n;
    return NOVA_OK;
}

/* The SP's encryption key for xmlsec, NULL when there is none or it will not load. */
static xmlSecKey *enc_key_load(const char *pem)
{
    if (pem == NULL)
        return NULL;
    return xmlSecOpenSSLAppKeyLoadMemory((const xmlSecByte *)pem, (xmlSecSize)strlen(pem),
                                         xmlSecKeyDataFormatPem, NULL, NULL, NULL);
}

static nova_status identity_of(nova_arena_t *ar, LassoSamlp2StatusResponse *sr,
                               LassoSaml2Assertion *as, LassoSaml2Subject *sub,
                               LassoSaml2NameID *nid, int64_t limit, const nova_saml_expect_t *e,
                               nova_saml_identity_t *out, nova_saml_fail *fail, const char **why);

/* The checks on the one assertion of a Response Lasso processed (decrypted here when it came
 * encrypted). */
static nova_status check_assertion(nova_arena_t *ar, LassoServer *srv, LassoSaml2Assertion *as,
                                   LassoSamlp2Response *resp, xmlSecKey *enc_key,
                                   const nova_saml_expect_t *e, nova_saml_identity_t *out,
                                   nova_saml_fail *fail, const char **why)
{
    LassoSamlp2StatusResponse *sr = LASSO_SAMLP2_STATUS_RESPONSE(resp);
    if (sr->Issuer && sr->Issuer->content && strcmp(sr->Issuer->content, e->idp_entity_id) != 0)
        return fail_with(fail, NOVA_SAML_FAIL_ISSUER, why, "the Response's Issuer is not this IdP");
    if (as->Issuer == NULL || as->Issuer->content == NULL ||
        strcmp(as->Issuer->content, e->idp_entity_id) != 0)
        return fail_with(fail, NOVA_SAML_FAIL_ISSUER, why,
                         "the assertion's Issuer is not this IdP");
    /* The assertion itself must be signed by the IdP: a signed Response around an unsigned
     * assertion is refused too (WantAssertionsSigned in the SP's metadata). */
    if (!has_signature(LASSO_NODE(as)))
        return fail_with(fail, NOVA_SAML_FAIL_UNSIGNED, why, "the assertion is not signed");
    LassoProvider *idp = lasso_server_get_provider(srv, e->idp_entity_id);
    if (idp == NULL || lasso_provider_verify_single_node_signature(idp, LASSO_NODE(as), "ID") != 0)
        return fail_with(fail, NOVA_SAML_FAIL_SIGNATURE, why,
                         "the assertion's signature does not verify with the IdP's certificate");
    if (sr->Destination == NULL || strcmp(sr->Destination, e->acs_url) != 0)
        return fail_with(fail, NOVA_SAML_FAIL_DESTINATION, why,
                         "the Response's Destination is not this ACS");
    if (as->ID == NULL || !text_ok(as->ID, 256))
        return fail_with(fail, NOVA_SAML_FAIL_MALFORMED, why, "the assertion has no usable ID");
    if (!lasso_saml2_assertion_has_audience_restriction(as) ||
        lasso_saml2_assertion_validate_audience(as, e->sp_entity_id) != LASSO_SAML2_ASSERTION_VALID)
        return fail_with(fail, NOVA_SAML_FAIL_AUDIENCE, why,
                         "the assertion's AudienceRestriction does not name this SP");
    int64_t limit = INT64_MAX;
    LassoSaml2Conditions *c = as->Conditions;
    if (c == NULL || c->NotOnOrAfter == NULL)
        return fail_with(fail, NOVA_SAML_FAIL_EXPIRED, why,
                         "the assertion's Conditions carry no NotOnOrAfter");
    int64_t nb = c->NotBefore ? xs_time(c->NotBefore) : 0, na = xs_time(c->NotOnOrAfter);
    if (nb < 0 || na < 0)
        return fail_with(fail, NOVA_SAML_FAIL_MALFORMED, why,
                         "the assertion's NotBefore or NotOnOrAfter is not an xs:dateTime in UTC");
    if (e->now + NOVA_SAML_CLOCK_SKEW < nb)
        return fail_with(fail, NOVA_SAML_FAIL_EXPIRED, why, "the assertion is not valid yet");
    if (e->now - NOVA_SAML_CLOCK_SKEW >= na)
        return fail_with(fail, NOVA_SAML_FAIL_EXPIRED, why, "the assertion has expired");
    limit = na;
    LassoSaml2Subject *sub = as->Subject;
    LassoSaml2NameID *nid = sub ? sub->NameID : NULL;
    LassoNode *opened = NULL;
    if (sub && nid == NULL && sub->EncryptedID) {
        /* An EncryptedID (Core §2.2.4): opened only now, its assertion's signature verified. */
        nova_status st =
            decrypt_el(enc_key, sub->EncryptedID, LASSO_TYPE_SAML2_NAME_ID, &opened, fail, why);
        if (st || *fail)
            return st;
        nid = LASSO_SAML2_NAME_ID(opened);
    }
    nova_status st = identity_of(ar, sr, as, sub, nid, limit, e, out, fail, why);
    if (opened)
        g_object_unref(opened);
    return st;
}

/* The rest of check_assertion: the Subject (its NameID nid, in clear) and what the assertion
 * says of the person. */
static nova_status identity_of(nova_arena_t *ar, LassoSamlp2StatusResponse *sr,
                               LassoSaml2Assertion *as, LassoSaml2Subject *sub,
                               LassoSaml2NameID *nid, int64_t limit, const nova_saml_expect_t *e,
                               nova_saml_identity_t *out, nova_saml_fail *fail, const char **why)
{
    if (sub == NULL || nid == NULL || !text_ok(nid->content, 255))
        return fail_with(fail, NOVA_SAML_FAIL_SUBJECT, why,
                         "the assertion's Subject has no NameID (1..255 characters)");
    /* The bearer confirmation (Profiles §4.1.4.2): this ACS, this request, a time limit. */
    LassoSaml2SubjectConfirmation *sc = sub->SubjectConfirmation;
    LassoSaml2SubjectConfirmationData *scd = sc ? sc->SubjectConfirmationData : NULL;
    if (sc == NULL || sc->Method == NULL ||
        strcmp(sc->Method, LASSO_SAML2_CONFIRMATION_METHOD_BEARER) != 0 || scd == NULL)
        return fail_with(fail, NOVA_SAML_FAIL_SUBJECT, why,
                         "the assertion has no bearer SubjectConfirmation with its data");
    if (scd->Recipient == NULL || strcmp(scd->Recipient, e->acs_url) != 0)
        return fail_with(fail, NOVA_SAML_FAIL_DESTINATION, why,
                         "the SubjectConfirmationData's Recipient is not this ACS");
    int64_t sna = scd->NotOnOrAfter ? xs_time(scd->NotOnOrAfter) : -1;
    if (sna < 0)
        return fail_with(fail, NOVA_SAML_FAIL_EXPIRED, why,
                         "the SubjectConfirmationData carries no NotOnOrAfter");
    if (e->now - NOVA_SAML_CLOCK_SKEW >= sna)
        return fail_with(fail, NOVA_SAML_FAIL_EXPIRED, why, "the bearer confirmation has expired");
    if (sna < limit)
        limit = sna;
    const char *irt = scd->InResponseTo;
    if (irt == NULL || !text_ok(irt, 256) || (sr->InResponseTo && strcmp(sr->InResponseTo, irt)))
        return fail_with(fail, NOVA_SAML_FAIL_IN_RESPONSE_TO, why,
                         "the assertion answers no request of this SP (InResponseTo), or not the "
                         "one the Response names");
    out->name_id = nova_arena_strdup(ar, nid->content);
    out->name_id_format = nid->Format ? nova_arena_strdup(ar, nid->Format) : NULL;
    out->assertion_id = nova_arena_strdup(ar, as->ID);
    out->in_response_to = nova_arena_strdup(ar, irt);
    out->not_on_or_after = limit;
    if (!out->name_id || !out->assertion_id || !out->in_response_to)
        return NOVA_NOMEM;
    read_attributes(ar, as, e, out);
    /* How the IdP authenticated the person (Core §2.7.2.2): the first AuthnStatement's class
     * ref. Signed with the assertion, so it can be believed as far as the IdP is. */
    for (GList *it = as->AuthnStatement; it && out->authn_context == NULL; it = it->next) {
        if (!LASSO_IS_SAML2_AUTHN_STATEMENT(it->data))
            continue;
        LassoSaml2AuthnStatement *an = LASSO_SAML2_AUTHN_STATEMENT(it->data);
        /* The IdP's session (Core §2.7.2): what its LogoutRequest names. */
        if (text_ok(an->SessionIndex, 255) &&
            (out->session_index = nova_arena_strdup(ar, an->SessionIndex)) == NULL)
            return NOVA_NOMEM;
        LassoSaml2AuthnContext *ac = an->AuthnContext;
        if (ac && text_ok(ac->AuthnContextClassRef, 256) &&
            (out->authn_context = nova_arena_strdup(ar, ac->AuthnContextClassRef)) == NULL)
            return NOVA_NOMEM;
    }
    if (out->email == NULL && out->name_id_format &&
        strcmp(out->name_id_format, LASSO_SAML2_NAME_IDENTIFIER_FORMAT_EMAIL) == 0)
        out->email = out->name_id;
    return NOVA_OK;
}

int nova_saml_aal(const nova_saml_identity_t *who, const char *const *mfa, size_t n)
{
    for (size_t i = 0; who->authn_context && i < n; i++)
        if (mfa[i] && strcmp(who->authn_context, mfa[i]) == 0)
            return 2;
    return 1;
}

/* The AuthnRequest as this IdP wants it: an HTTP-POST answer to the ACS, any NameID, and
 * the RequestedAuthnContext when the tenant configured one (a wish the IdP may refuse or
 * ignore: only the assertion's own AuthnContext counts). */
static void request_shape(LassoSamlp2AuthnRequest *rq, const nova_saml_idp_t *idp)
{
    if (rq->NameIDPolicy == NULL)
        rq->NameIDPolicy = LASSO_SAMLP2_NAME_ID_POLICY(lasso_samlp2_name_id_policy_new());
    g_free(rq->NameIDPolicy->Format);
    rq->NameIDPolicy->Format = g_strdup(LASSO_SAML2_NAME_IDENTIFIER_FORMAT_UNSPECIFIED);
    rq->NameIDPolicy->AllowCreate = TRUE;
    g_free(rq->ProtocolBinding);
    rq->ProtocolBinding = g_strdup(LASSO_SAML2_METADATA_BINDING_POST);
    g_free(rq->AssertionConsumerServiceURL);
    rq->AssertionConsumerServiceURL = g_strdup(idp->acs_url);
    rq->AssertionConsumerServiceIndex = -1;
    if (idp->nrequested_authn_contexts == 0)
        return;
    LassoSamlp2RequestedAuthnContext *rac =
        LASSO_SAMLP2_REQUESTED_AUTHN_CONTEXT(lasso_samlp2_requested_authn_context_new());
    for (size_t i = 0; i < idp->nrequested_authn_contexts; i++)
        rac->AuthnContextClassRef =
            g_list_append(rac->AuthnContextClassRef, g_strdup(idp->requested_authn_contexts[i]));
    rac->Comparison =
        g_strdup(idp->authn_context_comparison ? idp->authn_context_comparison : "exact");
    if (rq->RequestedAuthnContext)
        g_object_unref(rq->RequestedAuthnContext);
    rq->RequestedAuthnContext = rac;
}

/* The Response checked with srv (the SP and the IdP of e loaded). */
static nova_status check_with(LassoServer *srv, nova_arena_t *ar, const char *b64, size_t n,
                              const nova_saml_expect_t *e, nova_saml_identity_t *out,
                              nova_saml_fail *fail, const char **why)
{
    memset(out, 0, sizeof(*out));
    *fail = NOVA_SAML_FAIL_NONE;
    if (b64 == NULL || n == 0 || n > NOVA_SAML_RESPONSE_MAX || strlen(b64) != n)
        return fail_with(fail, NOVA_SAML_FAIL_MALFORMED, why,
                         "SAMLResponse: required, base64 of at most 256 KiB");
    /* Base64 only (the HTTP-POST binding): Lasso would also take raw XML or a query. */
    for (size_t i = 0; i < n; i++) {
        char ch = b64[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '+' || ch == '/' || ch == '=' || ch == '\r' || ch == '\n'))
            return fail_with(fail, NOVA_SAML_FAIL_MALFORMED, why, "SAMLResponse: not base64");
    }
    LassoLogin *login = lasso_login_new(srv);
    LassoSaml2Assertion *opened = NULL;
    xmlSecKey *enc_key = NULL;
    nova_status st = NOVA_OK;
    if (login == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    /* FORCE: a signature Lasso finds must verify, whatever the metadata says; the assertion's
     * presence of one is required below. */
    lasso_profile_set_signature_verify_hint(LASSO_PROFILE(login),
                                            LASSO_PROFILE_SIGNATURE_VERIFY_HINT_FORCE);
    int rc = lasso_login_process_authn_response_msg(login, (gchar *)b64);
    LassoProfile *pr = LASSO_PROFILE(login);
    LassoSamlp2Response *resp =
        LASSO_IS_SAMLP2_RESPONSE(pr->response) ? LASSO_SAMLP2_RESPONSE(pr->response) : NULL;
    if (resp && ((rc == LASSO_PROFILE_ERROR_MISSING_ASSERTION && resp->EncryptedAssertion) ||
                 rc == LASSO_PROFILE_ERROR_MISSING_ENCRYPTION_PRIVATE_KEY)) {
        /* Lasso, holding no decryption key, stopped at an EncryptedAssertion (or an
         * EncryptedID) it could not read; what it checked before is the Response's own
         * signature, whose verdict stands. The rest is checked below, as for any assertion. */
        rc = pr->signature_status;
    }
    if (rc == LASSO_DS_ERROR_SIGNATURE_NOT_FOUND && resp) {
        /* An unsigned Response whose assertion is signed is the common shape (the signature
         * on the assertion is what binds it); the assertion's signature is verified below. */
        rc = 0;
    }
    if (rc != 0) {
        fail_with(fail, lasso_reason(rc, why), why, NULL);
        goto end;
    }
    if (resp == NULL) {
        fail_with(fail, NOVA_SAML_FAIL_MALFORMED, why, "the message is not a SAML 2.0 Response");
        goto end;
    }
    LassoSamlp2Status *status = LASSO_SAMLP2_STATUS_RESPONSE(resp)->Status;
    if (status == NULL || status->StatusCode == NULL || status->StatusCode->Value == NULL ||
        strcmp(status->StatusCode->Value, LASSO_SAML2_STATUS_CODE_SUCCESS) != 0) {
        fail_with(fail, NOVA_SAML_FAIL_STATUS, why,
                  "the IdP answered with a status other than Success");
        goto end;
    }
    /* Lasso decrypted nothing: resp->Assertion holds the plain assertions only. */
    guint plain = g_list_length(resp->Assertion), sealed = g_list_length(resp->EncryptedAssertion);
    if (plain + sealed != 1 || (plain && !LASSO_IS_SAML2_ASSERTION(resp->Assertion->data))) {
        fail_with(fail, NOVA_SAML_FAIL_MALFORMED, why,
                  "the Response must hold exactly one assertion (plain or encrypted)");
        goto end;
    }
    if (plain && e->require_encrypted) {
        fail_with(fail, NOVA_SAML_FAIL_UNENCRYPTED, why,
                  "this IdP's assertions must come encrypted (require_encrypted_assertions) and "
                  "this one is not");
        goto end;
    }
    enc_key = enc_key_load(e->sp_enc_key_pem);
    if (e->sp_enc_key_pem && enc_key == NULL) {
        st = NOVA_INTERNAL;
        goto end;
    }
    LassoSaml2Assertion *as = NULL;
    if (sealed) {
        LassoNode *n = NULL;
        st = decrypt_el(enc_key, resp->EncryptedAssertion->data, LASSO_TYPE_SAML2_ASSERTION, &n,
                        fail, why);
        if (st || *fail)
            goto end;
        as = opened = LASSO_SAML2_ASSERTION(n);
    } else {
        as = resp->Assertion->data;
    }
    st = check_assertion(ar, srv, as, resp, enc_key, e, out, fail, why);
end:
    if (opened)
        g_object_unref(opened);
    if (enc_key)
        xmlSecKeyDestroy(enc_key);
    if (login)
        g_object_unref(login);
    return st;
}

nova_status nova_saml_response_check(nova_arena_t *ar, const char *b64, size_t n,
                                     const nova_saml_expect_t *e, nova_saml_identity_t *out,
                                     nova_saml_fail *fail, const char **why)
{
    memset(out, 0, sizeof(*out));
    *fail = NOVA_SAML_FAIL_NONE;
    LassoServer *srv = server_for(e->sp_metadata, e->sp_key_pem, e->sp_cert_pem, e->idp_metadata);
    if (srv == NULL)
        return NOVA_INTERNAL;
    nova_status st = check_with(srv, ar, b64, n, e, out, fail, why);
    g_object_unref(srv);
    return st;
}

int64_t people_saml_time(const char *t)
{
    return xs_time(t);
}

bool people_saml_text_ok(const char *s, size_t max)
{
    return text_ok(s, max);
}

LassoServer *people_saml_server_new(const nova_saml_expect_t *e)
{
    return server_for(e->sp_metadata, e->sp_key_pem, e->sp_cert_pem, e->idp_metadata);
}

/* ---- the servers of the tenants' IdPs ----
 *
 * Making a LassoServer costs some 50 ms, nearly all of it xmlsec loading the system's CA
 * bundle into the keys manager's X509 store (SAML trusts the metadata's certificate, not a
 * CA); a login on a made one costs 1.5 ms. So each IdP row's server is kept, keyed by the
 * row's id and a digest of its config (new metadata makes a new one, however soon after the
 * last change), at most SERVERS of them, the least
 * recently used dropped. Lasso objects are not shared between threads: every use of a kept
 * server is under servers_mu, which is never held across I/O (only Lasso's computation; a
 * server is made outside it). The SP's private key stays in the kept server's memory, as the
 * tenants' token keys stay in people_keys_get's. */
#define SERVERS 32

typedef struct server_slot {
    char id[64];
    uint8_t config[32]; /* SHA-256 of the row's config: metadata, SP entity and certificate */
    LassoServer *srv;
    uint64_t used;
} server_slot;

static pthread_mutex_t servers_mu = PTHREAD_MUTEX_INITIALIZER;
static server_slot servers[SERVERS];
static uint64_t servers_tick;

/* The kept server of row, under servers_mu (held on return with *out set), or NULL with the
 * lock not held when none is kept. */
static LassoServer *server_locked(const nova_saml_idp_row_t *row, const uint8_t config[32])
{
    pthread_mutex_lock(&servers_mu);
    for (int i = 0; i < SERVERS; i++)
        if (servers[i].srv && memcmp(servers[i].config, config, 32) == 0 &&
            strcmp(servers[i].id, row->id) == 0) {
            servers[i].used = ++servers_tick;
            return servers[i].srv;
        }
    pthread_mutex_unlock(&servers_mu);
    return NULL;
}

/* Keeps srv (a reference is taken) for row and returns with servers_mu held. */
static LassoServer *server_keep(const nova_saml_idp_row_t *row, const uint8_t config[32],
                                LassoServer *srv)
{
    pthread_mutex_lock(&servers_mu);
    int victim = 0;
    for (int i = 0; i < SERVERS; i++) {
        if (servers[i].srv && strcmp(servers[i].id, row->id) == 0) {
            victim = i; /* an older version of this row, or one another thread kept */
            break;
        }
        if (servers[i].srv == NULL || servers[i].used < servers[victim].used)
            victim = i;
    }
    if (servers[victim].srv)
        g_object_unref(servers[victim].srv);
    snprintf(servers[victim].id, sizeof(servers[victim].id), "%s", row->id);
    memcpy(servers[victim].config, config, 32);
    servers[victim].srv = g_object_ref(srv);
    servers[victim].used = ++servers_tick;
    return srv;
}

/* ---- the login ---- */

typedef people_saml_ctx saml_ctx;

nova_status people_saml_load(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                             const char *tenant_id, const char *idp_id, bool disabled_ok,
                             people_saml_ctx *c, nova_saml_fail *fail, const char **why)
{
    nova_status st = nova_store_saml_idp_get(s, ar, tenant_id, idp_id, &c->row);
    if (st == NOVA_OK)
        st = nova_saml_idp_get(s, ar, tenant_id, idp_id, &c->idp);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID ||
        (st == NOVA_OK && !c->idp.enabled && !disabled_ok))
        return fail_with(fail, NOVA_SAML_FAIL_UNKNOWN_IDP, why,
                         "this tenant has no enabled SAML IdP of this id");
    if (st == NOVA_OK)
        st = people_saml_key(p, s, ar, &c->row, &c->key_pem);
    if (st == NOVA_OK && c->key_pem == NULL)
        st = NOVA_INTERNAL;
    c->enc_key_pem = NULL; /* opened by the ACS only (nova_saml_acs) */
    if (st == NOVA_OK) {
        c->sp_metadata =
            nova_saml_sp_metadata(ar, c->idp.sp_entity_id, c->idp.acs_url, c->idp.slo_url,
                                  c->idp.sp_cert_pem, c->idp.sp_enc_cert_pem);
        st = c->sp_metadata ? NOVA_OK : NOVA_NOMEM;
    }
    return st;
}

static nova_status load(nova_people_t *p, nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                        const char *idp_id, saml_ctx *c, nova_saml_fail *fail, const char **why)
{
    return people_saml_load(p, s, ar, tenant_id, idp_id, false, c, fail, why);
}

static LassoServer *server_of(const saml_ctx *c);

LassoServer *people_saml_server(const people_saml_ctx *c)
{
    return server_of(c);
}

void people_saml_server_done(void)
{
    pthread_mutex_unlock(&servers_mu);
}

/* The kept server of c's row (made and kept when there is none), returned with servers_mu
 * held: the caller unlocks once done with it. NULL (not locked) when Lasso will not load it. */
static LassoServer *server_of(const saml_ctx *c)
{
    uint8_t config[32];
    nova_sha256(c->row.config, strlen(c->row.config), config);
    LassoServer *srv = server_locked(&c->row, config);
    if (srv)
        return srv;
    LassoServer *made = server_for(c->sp_metadata, c->key_pem, NULL, c->idp.metadata_xml);
    if (made == NULL)
        return NULL;
    srv = server_keep(&c->row, config, made);
    g_object_unref(made); /* the slot's reference remains */
    return srv;
}

nova_status nova_saml_login_begin(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                  const char *tenant_id, const char *idp_id, const char **location,
                                  nova_saml_fail *fail, const char **why)
{
    *fail = NOVA_SAML_FAIL_NONE;
    *location = NULL;
    saml_ctx c;
    nova_status st = load(p, s, ar, tenant_id, idp_id, &c, fail, why);
    if (st || *fail)
        return st;
    LassoServer *srv = server_of(&c);
    OPENSSL_cleanse((char *)c.key_pem, strlen(c.key_pem));
    if (srv == NULL)
        return NOVA_INTERNAL;
    LassoLogin *login = lasso_login_new(srv);
    const char *id = NULL;
    st = login ? NOVA_OK : NOVA_NOMEM;
    if (st == NOVA_OK &&
        lasso_login_init_authn_request(login, c.idp.entity_id, LASSO_HTTP_METHOD_REDIRECT) != 0)
        st = NOVA_INTERNAL;
    if (st == NOVA_OK) {
        LassoSamlp2AuthnRequest *rq = LASSO_SAMLP2_AUTHN_REQUEST(LASSO_PROFILE(login)->request);
        request_shape(rq, &c.idp);
        if (lasso_login_build_authn_request_msg(login) != 0 ||
            LASSO_PROFILE(login)->msg_url == NULL)
            st = NOVA_INTERNAL;
        else {
            id = nova_arena_strdup(ar, LASSO_SAMLP2_REQUEST_ABSTRACT(rq)->ID);
            *location = nova_arena_strdup(ar, LASSO_PROFILE(login)->msg_url);
            if (id == NULL || *location == NULL)
                st = NOVA_NOMEM;
        }
    }
    if (login)
        g_object_unref(login);
    pthread_mutex_unlock(&servers_mu);
    if (st)
        return st;
    json_t *rec = json_pack("{s:s, s:s}", "t", tenant_id, "i", c.idp.id);
    char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    const char *key = nova_arena_printf(ar, REQ_PREFIX "%s", id);
    if (text == NULL || key == NULL) {
        free(text);
        return NOVA_NOMEM;
    }
    st = nova_kv_set(p->kv, key, text, strlen(text), (uint64_t)NOVA_SAML_REQUEST_TTL * 1000);
    free(text);
    if (st)
        *location = NULL;
    return st;
}

/* Takes the request the assertion answers (single use); it must be of this tenant and IdP. */
static bool request_take(nova_people_t *p, nova_arena_t *ar, const char *id, const char *tenant,
                         const char *idp, nova_status *st)
{
    const char *key = nova_arena_printf(ar, REQ_PREFIX "%s", id);
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

nova_status nova_saml_acs(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                          const char *tenant_id, const char *idp_id, const char *saml_response,
                          const nova_login_request_t *req, nova_login_result_t *out,
                          nova_saml_fail *fail, const char **why)
{
    *fail = NOVA_SAML_FAIL_NONE;
    memset(out, 0, sizeof(*out));
    out->outcome = NOVA_LOGIN_BAD;
    saml_ctx c;
    nova_status st = load(p, s, ar, tenant_id, idp_id, &c, fail, why);
    if (st || *fail)
        return st;
    st = people_saml_enc_key(p, s, ar, &c.row, &c.enc_key_pem);
    if (st) {
        OPENSSL_cleanse((char *)c.key_pem, strlen(c.key_pem));
        return st;
    }
    int64_t now = nova_time_now();
    nova_saml_expect_t e = {.sp_metadata = c.sp_metadata,
                            .sp_key_pem = c.key_pem,
                            .sp_cert_pem = c.idp.sp_cert_pem,
                            .sp_enc_key_pem = c.enc_key_pem,
                            .require_encrypted = c.idp.require_encrypted_assertions,
                            .idp_metadata = c.idp.metadata_xml,
                            .idp_entity_id = c.idp.entity_id,
                            .sp_entity_id = c.idp.sp_entity_id,
                            .acs_url = c.idp.acs_url,
                            .slo_url = c.idp.slo_url,
                            .group_attribute = c.idp.group_attribute,
                            .email_attribute = c.idp.email_attribute,
                            .name_attribute = c.idp.name_attribute,
                            .now = now};
    nova_saml_identity_t who;
    LassoServer *srv = server_of(&c);
    OPENSSL_cleanse((char *)c.key_pem, strlen(c.key_pem));
    if (srv == NULL) {
        if (c.enc_key_pem)
            OPENSSL_cleanse((char *)c.enc_key_pem, strlen(c.enc_key_pem));
        return NOVA_INTERNAL;
    }
    st = check_with(srv, ar, saml_response, saml_response ? strlen(saml_response) : 0, &e, &who,
                    fail, why);
    pthread_mutex_unlock(&servers_mu);
    if (c.enc_key_pem)
        OPENSSL_cleanse((char *)c.enc_key_pem, strlen(c.enc_key_pem));
    if (st || *fail)
        return st;
    /* Single use of the assertion, kept until it could no longer be accepted anyway. The
     * key is a digest: an assertion ID is the IdP's text. */
    uint8_t h[32];
    char hx[65];
    const char *ak =
        nova_arena_printf(ar, "%s|%s|%s", tenant_id, c.idp.entity_id, who.assertion_id);
    if (ak == NULL)
        return NOVA_NOMEM;
    nova_sha256(ak, strlen(ak), h);
    for (int i = 0; i < 32; i++)
        snprintf(hx + 2 * i, 3, "%02x", h[i]);
    const char *key = nova_arena_printf(ar, AID_PREFIX "%s", hx);
    int64_t ttl = who.not_on_or_after - now + NOVA_SAML_CLOCK_SKEW;
    if (ttl < 60)
        ttl = 60;
    if (ttl > 86400)
        ttl = 86400; /* an assertion valid longer than a day is refused after it anyway */
    if (key == NULL)
        return NOVA_NOMEM;
    st = nova_kv_set_nx(p->kv, key, "1", 1, (uint64_t)ttl * 1000);
    if (st == NOVA_CONFLICT)
        return fail_with(fail, NOVA_SAML_FAIL_REPLAY, why,
                         "this assertion was presented before (replay)");
    if (st)
        return st;
    if (!request_take(p, ar, who.in_response_to, tenant_id, c.idp.id, &st)) {
        if (st)
            return st;
        return fail_with(fail, NOVA_SAML_FAIL_IN_RESPONSE_TO, why,
                         "InResponseTo: not a live request of this SP for this IdP (unknown, "
                         "answered already or expired; start the login again)");
    }
    int aal = nova_saml_aal(&who, c.idp.mfa_authn_contexts, c.idp.nmfa_authn_contexts);
    if (req->mfa_required && aal < 2)
        return fail_with(fail, NOVA_SAML_FAIL_POLICY, why,
                         "this tenant requires MFA for every user and the assertion's "
                         "AuthnContextClassRef is not one of the IdP's mfa_authn_contexts (sign "
                         "in at the IdP with a second factor, or here with a passkey, or a "
                         "password and TOTP)");
    const char *roles = c.idp.nmappings ? people_fed_roles(ar, c.idp.mappings, c.idp.nmappings,
                                                           who.groups, who.ngroups, now)
                                        : NULL;
    people_fed_subject_t w = {.proto = NOVA_FED_SAML,
                              .tenant_id = tenant_id,
                              .idp_id = c.idp.id,
                              .idp_name = c.idp.entity_id,
                              .sub = who.name_id,
                              .email = who.email,
                              .email_verified = who.email != NULL,
                              .name = who.name,
                              .roles = roles,
                              .aal = aal,
                              .sid = who.session_index};
    people_fed_result res = PEOPLE_FED_OK;
    st = people_fed_login(p, s, ar, &w, req, out, &res, why);
    if (st == NOVA_OK && res == PEOPLE_FED_PROVISIONING)
        *fail = NOVA_SAML_FAIL_PROVISIONING;
    else if (st == NOVA_OK && res == PEOPLE_FED_SUSPENDED)
        *fail = NOVA_SAML_FAIL_SUSPENDED;
    else if (st == NOVA_OK && res == PEOPLE_FED_UNKNOWN_IDP)
        *fail = NOVA_SAML_FAIL_UNKNOWN_IDP;
    if (st == NOVA_OK && res == PEOPLE_FED_OK)
        people_saml_session_keep(p, ar, out->session.id, out->session.expires_at, c.idp.id, &who);
    return st;
}
