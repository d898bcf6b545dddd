/* saml.c: a tenant's SAML Identity Providers (nova/saml.h): validation of the configuration
 * (the IdP's metadata read by Lasso, fetched with libcurl when given as a URL), the SP key
 * pairs novad makes per IdP (the private keys sealed with the tenant's data key: the signing
 * key with context "saml.sp_key", the encryption key with "saml.sp_enc_key"), the SP's
 * metadata, and the view the API shows (never a key).
 *
 * The row keeps the configuration as one JSON object (config) beside the sealed signing key;
 * the region the key was sealed in is a member of it ("key_region"), not shown. The
 * encryption key came later and lives inside config, sealed the same way (no migration):
 * "enc_key_sealed" (base64url of the sealed key), "enc_key_region", "enc_cert" (its
 * certificate, public). An IdP made before it gets one on its next update. */
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/saml.h"

#define SAML_KEY_CTX "saml.sp_key"
#define SAML_ENC_KEY_CTX "saml.sp_enc_key"

static const char *const idp_members[] = {"metadata_xml",
                                          "metadata_url",
                                          "sp_entity_id",
                                          "group_attribute",
                                          "email_attribute",
                                          "name_attribute",
                                          "role_mappings",
                                          "enabled",
                                          "mfa_authn_contexts",
                                          "requested_authn_contexts",
                                          "authn_context_comparison",
                                          "require_encrypted_assertions",
                                          NULL};

static const char *const default_mfa[] = {NOVA_SAML_DEFAULT_MFA_AUTHN_CONTEXTS};
static const char *const comparisons[] = {"exact", "minimum", "better", "maximum"};

/* An array of 0..NOVA_SAML_MAX_AUTHN_CONTEXTS AuthnContextClassRefs: URIs of 1..256
 * printable characters without spaces, quotes or XML's markup characters. */
static bool class_refs_ok(json_t *v)
{
    size_t i;
    json_t *a;
    if (!json_is_array(v) || json_array_size(v) > NOVA_SAML_MAX_AUTHN_CONTEXTS)
        return false;
    json_array_foreach(v, i, a)
    {
        if (!json_is_string(a) || !people_printable(json_string_value(a), 256) ||
            strpbrk(json_string_value(a), " \"'<>&\\"))
            return false;
    }
    return true;
}

/* ---- the SP's key pair and metadata ---- */

nova_status nova_saml_sp_keygen(nova_arena_t *ar, const char **key_pem, const char **cert_pem)
{
    *key_pem = *cert_pem = NULL;
    EVP_PKEY *k = EVP_RSA_gen(2048);
    X509 *x = k ? X509_new() : NULL;
    BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
    nova_status st = NOVA_INTERNAL;
    uint8_t serial[16];
    BIGNUM *bn = NULL;
    if (x == NULL || kb == NULL || cb == NULL || nova_random_bytes(serial, sizeof(serial)))
        goto end;
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    X509_NAME *name = X509_get_subject_name(x);
    if (bn == NULL || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
        !X509_set_version(x, 2) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"nova SAML SP",
                                    -1, -1, 0) ||
        !X509_set_issuer_name(x, name) || !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) || !X509_set_pubkey(x, k) ||
        !X509_sign(x, k, EVP_sha256()) ||
        !PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL) || !PEM_write_bio_X509(cb, x))
        goto end;
    char *kd, *cd;
    long kl = BIO_get_mem_data(kb, &kd), cl = BIO_get_mem_data(cb, &cd);
    *key_pem = nova_arena_strndup(ar, kd, (size_t)kl);
    *cert_pem = nova_arena_strndup(ar, cd, (size_t)cl);
    st = *key_pem && *cert_pem ? NOVA_OK : NOVA_NOMEM;
end:
    BN_free(bn);
    BIO_free(kb); /* BIO_s_mem frees its buffer; the key's copy is in the arena */
    BIO_free(cb);
    X509_free(x);
    EVP_PKEY_free(k);
    return st;
}

/* The base64 body of a PEM certificate (no armour, no line breaks), arena. */
static const char *cert_body(nova_arena_t *ar, const char *pem)
{
    const char *b = strstr(pem, "-----BEGIN CERTIFICATE-----"), *e;
    if (b == NULL || (e = strstr(b, "-----END CERTIFICATE-----")) == NULL)
        return NULL;
    b += strlen("-----BEGIN CERTIFICATE-----");
    char *out = nova_arena_alloc(ar, (size_t)(e - b) + 1);
    size_t n = 0;
    if (out == NULL)
        return NULL;
    for (; b < e; b++)
        if (*b != '\n' && *b != '\r')
            out[n++] = *b;
    out[n] = '\0';
    return out;
}

/* XML attribute text: & < > " escaped (arena). */
static const char *xml_attr(nova_arena_t *ar, const char *s)
{
    nova_buf_t b;
    nova_buf_init(&b);
    nova_buf_append_xml(&b, s);
    const char *r = nova_arena_strndup(ar, b.data ? (const char *)b.data : "", b.len);
    nova_buf_free(&b);
    return r;
}

/* What the SP takes for an EncryptedAssertion or EncryptedID (saml_login.c refuses the rest):
 * AES-GCM or AES-CBC content, its key transported with RSA-OAEP. */
#define ENC_METHODS                                                                                \
    "      <md:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes256-gcm\"/>\n"      \
    "      <md:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes128-gcm\"/>\n"      \
    "      <md:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes256-cbc\"/>\n"     \
    "      <md:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes128-cbc\"/>\n"     \
    "      <md:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\"/>\n"

const char *nova_saml_sp_metadata(nova_arena_t *ar, const char *entity_id, const char *acs_url,
                                  const char *slo_url, const char *cert_pem,
                                  const char *enc_cert_pem)
{
    const char *cert = cert_pem ? cert_body(ar, cert_pem) : NULL;
    const char *enc = enc_cert_pem ? cert_body(ar, enc_cert_pem) : "";
    if (enc == NULL)
        return NULL;
    const char *enc_el =
        *enc ? nova_arena_printf(ar,
                                 "    <md:KeyDescriptor use=\"encryption\">\n"
                                 "      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s"
                                 "</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\n" ENC_METHODS
                                 "    </md:KeyDescriptor>\n",
                                 enc)
             : "";
    if (enc_el == NULL)
        return NULL;
    const char *eid = entity_id ? xml_attr(ar, entity_id) : NULL;
    const char *acs = acs_url ? xml_attr(ar, acs_url) : NULL;
    const char *slo = slo_url ? xml_attr(ar, slo_url) : "";
    if (cert == NULL || eid == NULL || acs == NULL || slo == NULL)
        return NULL;
    const char *slo_el =
        *slo ? nova_arena_printf(ar,
                                 "    <md:SingleLogoutService "
                                 "Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" "
                                 "Location=\"%s\"/>\n"
                                 "    <md:SingleLogoutService "
                                 "Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" "
                                 "Location=\"%s\"/>\n",
                                 slo, slo)
             : "";
    if (slo_el == NULL)
        return NULL;
    return nova_arena_printf(
        ar,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
        "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"%s\">\n"
        "  <md:SPSSODescriptor AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"true\" "
        "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n"
        "    <md:KeyDescriptor use=\"signing\">\n"
        "      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate>"
        "</ds:X509Data></ds:KeyInfo>\n"
        "    </md:KeyDescriptor>\n"
        "%s"
        "%s"
        "    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
        "</md:NameIDFormat>\n"
        "    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
        "</md:NameIDFormat>\n"
        "    <md:AssertionConsumerService "
        "Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"%s\" "
        "index=\"0\" isDefault=\"true\"/>\n"
        "  </md:SPSSODescriptor>\n"
        "</md:EntityDescriptor>\n",
        eid, cert, enc_el, slo_el, acs);
}

/* ---- configuration ---- */

/* The metadata of in (XML given, or fetched from the URL given) into cfg with the entity ID
 * and SSO URL Lasso read from it. Neither given: nothing to do. */
static nova_status apply_metadata(nova_arena_t *ar, json_t *cfg, json_t *in, bool create,
                                  const char **why)
{
    json_t *x = json_object_get(in, "metadata_xml"), *u = json_object_get(in, "metadata_url");
    if (x && u) {
        *why = "metadata_xml, metadata_url: give one of them";
        return NOVA_INVALID;
    }
    if (x == NULL && u == NULL) {
        if (create) {
            *why = "metadata_xml or metadata_url: required";
            return NOVA_INVALID;
        }
        return NOVA_OK;
    }
    const char *xml = NULL;
    size_t n = 0;
    nova_buf_t b;
    nova_buf_init(&b);
    if (x) {
        if (!json_is_string(x)) {
            *why = "metadata_xml: the IdP's metadata (an EntityDescriptor) as a string";
            return NOVA_INVALID;
        }
        xml = json_string_value(x);
        n = json_string_length(x);
    } else {
        if (!json_is_string(u) || !nova_oidc_url_ok(json_string_value(u))) {
            *why = "metadata_url: an https URL (http only on a loopback host)";
            return NOVA_INVALID;
        }
        /* An https metadata URL is fetched under the guard an https OIDC issuer's fetches are:
         * never from an address that is not public (NOVA_OIDC_ALLOW_PRIVATE). */
        const char *url = json_string_value(u);
        nova_status st = people_http_fetch(url, "application/samlmetadata+xml", NULL, NULL, NULL,
                                           NULL, false, people_http_guarded(url), &b);
        if (st == NOVA_OK && nova_buf_append(&b, "", 1) != NOVA_OK)
            st = NOVA_NOMEM;
        if (st) {
            nova_buf_free(&b);
            *why = st == NOVA_FORBIDDEN ? "metadata_url: " PEOPLE_HTTP_PRIVATE_WHY
                                        : "metadata_url: the IdP's metadata could not be fetched";
            return st == NOVA_NOMEM ? st : NOVA_UNAVAILABLE;
        }
        xml = (const char *)b.data;
        n = b.len - 1;
    }
    nova_saml_idp_meta_t md;
    nova_status st = nova_saml_idp_metadata_parse(ar, xml, n, &md, why);
    const char *old = json_string_value(json_object_get(cfg, "entity_id"));
    if (st == NOVA_OK && !create && old && strcmp(old, md.entity_id) != 0) {
        *why = "metadata: names another entity ID (create another IdP)";
        st = NOVA_INVALID;
    }
    if (st == NOVA_OK) {
        json_object_set_new(cfg, "metadata_xml", json_stringn(xml, n));
        json_object_set_new(cfg, "entity_id", json_string(md.entity_id));
        json_object_set_new(cfg, "sso_url", json_string(md.sso_url));
        if (u)
            json_object_set(cfg, "metadata_url", u);
        else
            json_object_del(cfg, "metadata_url");
    }
    nova_buf_free(&b);
    return st;
}

static nova_status apply_name(json_t *cfg, json_t *in, const char *member, const char *dflt,
                              bool create, const char **why, const char *text)
{
    json_t *v = json_object_get(in, member);
    if (v) {
        if (!json_is_string(v) || !people_printable(json_string_value(v), 256)) {
            *why = text;
            return NOVA_INVALID;
        }
        json_object_set(cfg, member, v);
    } else if (create) {
        json_object_set_new(cfg, member, json_string(dflt));
    }
    return NOVA_OK;
}

/* Checks the members present in in and writes them into cfg (the stored object). */
static nova_status apply(nova_arena_t *ar, json_t *cfg, json_t *in, bool create, const char **why)
{
    json_t *v;
    nova_status st = people_fed_apply_common(
        cfg, in, idp_members, create,
        "unknown member (metadata_xml, metadata_url, sp_entity_id, group_attribute, "
        "email_attribute, name_attribute, role_mappings, enabled, mfa_authn_contexts, "
        "requested_authn_contexts, authn_context_comparison, require_encrypted_assertions)",
        why);
    if (st)
        return st;
    static const char *const ref_members[] = {"mfa_authn_contexts", "requested_authn_contexts"};
    for (size_t r = 0; r < 2; r++) {
        if ((v = json_object_get(in, ref_members[r])) == NULL)
            continue;
        if (!class_refs_ok(v)) {
            *why = r == 0 ? "mfa_authn_contexts: an array of at most 16 AuthnContextClassRef URIs "
                            "(1..256 characters, no spaces, quotes or <>&)"
                          : "requested_authn_contexts: an array of at most 16 "
                            "AuthnContextClassRef URIs (1..256 characters, no spaces, quotes or "
                            "<>&)";
            return NOVA_INVALID;
        }
        json_object_set(cfg, ref_members[r], v);
    }
    if ((v = json_object_get(in, "authn_context_comparison")) != NULL) {
        bool known = false;
        for (size_t c = 0; c < 4 && json_is_string(v); c++)
            known = known || strcmp(json_string_value(v), comparisons[c]) == 0;
        if (!known) {
            *why = "authn_context_comparison: exact, minimum, better or maximum";
            return NOVA_INVALID;
        }
        json_object_set(cfg, "authn_context_comparison", v);
    }
    if ((v = json_object_get(in, "require_encrypted_assertions")) != NULL) {
        if (!json_is_boolean(v)) {
            *why = "require_encrypted_assertions: true or false";
            return NOVA_INVALID;
        }
        json_object_set(cfg, "require_encrypted_assertions", v);
    }
    if ((v = json_object_get(in, "sp_entity_id")) != NULL) {
        if (!create) {
            *why = "sp_entity_id: cannot change (the IdP knows the SP by it)";
            return NOVA_INVALID;
        }
        if (!json_is_string(v) || !people_printable(json_string_value(v), 1024) ||
            strpbrk(json_string_value(v), " \"<>&")) {
            *why = "sp_entity_id: a URI of 1..1024 characters";
            return NOVA_INVALID;
        }
        json_object_set(cfg, "sp_entity_id", v);
    }
    st = apply_metadata(ar, cfg, in, create, why);
    if (st == NOVA_OK)
        st = apply_name(cfg, in, "group_attribute", "groups", create, why,
                        "group_attribute: the Name (or FriendlyName) of the attribute that lists "
                        "groups (1..256)");
    if (st == NOVA_OK)
        st = apply_name(cfg, in, "email_attribute", "email", create, why,
                        "email_attribute: the Name (or FriendlyName) of the email attribute");
    if (st == NOVA_OK)
        st = apply_name(cfg, in, "name_attribute", "name", create, why,
                        "name_attribute: the Name (or FriendlyName) of the display name");
    return st;
}

static const char *str_of(nova_arena_t *ar, json_t *c, const char *k)
{
    const char *v = json_string_value(json_object_get(c, k));
    return v ? nova_arena_strdup(ar, v) : NULL;
}

/* The SP's SingleLogoutService beside its ACS: .../auth/saml/acs/{tenant}/{id} ->
 * .../auth/saml/slo/{tenant}/{id} (derived, so IdPs made before Single Logout have one). */
static const char *slo_of(nova_arena_t *ar, const char *acs)
{
    const char *m = strstr(acs, "/auth/saml/acs/");
    if (m == NULL)
        return NULL;
    return nova_arena_printf(ar, "%.*s/auth/saml/slo/%s", (int)(m - acs), acs,
                             m + strlen("/auth/saml/acs/"));
}

/* The view of a row (a nova_saml_idp_t). */
static nova_status view_of(nova_arena_t *ar, const nova_saml_idp_row_t *row, void *view)
{
    nova_saml_idp_t *out = view;
    memset(out, 0, sizeof(*out));
    json_error_t err;
    json_t *c = json_loads(row->config, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(c)) {
        json_decref(c);
        return NOVA_INTERNAL;
    }
    out->id = row->id;
    out->tenant_id = row->tenant_id;
    out->entity_id = row->issuer;
    out->created_at = row->created_at;
    out->updated_at = row->updated_at;
    out->sso_url = str_of(ar, c, "sso_url");
    out->metadata_url = str_of(ar, c, "metadata_url");
    out->metadata_xml = str_of(ar, c, "metadata_xml");
    out->sp_entity_id = str_of(ar, c, "sp_entity_id");
    out->acs_url = str_of(ar, c, "acs_url");
    out->slo_url = out->acs_url ? slo_of(ar, out->acs_url) : NULL;
    out->sp_cert_pem = str_of(ar, c, "sp_cert");
    out->sp_enc_cert_pem = str_of(ar, c, "enc_cert");
    out->require_encrypted_assertions =
        json_is_true(json_object_get(c, "require_encrypted_assertions"));
    out->group_attribute = str_of(ar, c, "group_attribute");
    out->email_attribute = str_of(ar, c, "email_attribute");
    out->name_attribute = str_of(ar, c, "name_attribute");
    out->enabled = json_is_true(json_object_get(c, "enabled"));
    people_fed_mappings_view(ar, json_object_get(c, "role_mappings"), out->mappings,
                             &out->nmappings);
    /* An IdP that never named its MFA classes (or was made before they existed) counts the
     * defaults. */
    json_t *mfa = json_object_get(c, "mfa_authn_contexts"), *v;
    size_t i;
    if (mfa == NULL)
        for (i = 0; i < sizeof(default_mfa) / sizeof(default_mfa[0]); i++)
            out->mfa_authn_contexts[out->nmfa_authn_contexts++] = default_mfa[i];
    json_array_foreach(mfa, i, v) if (i < NOVA_SAML_MAX_AUTHN_CONTEXTS)
        out->mfa_authn_contexts[out->nmfa_authn_contexts++] =
        nova_arena_strdup(ar, json_string_value(v));
    json_array_foreach(json_object_get(c, "requested_authn_contexts"), i,
                       v) if (i < NOVA_SAML_MAX_AUTHN_CONTEXTS)
        out->requested_authn_contexts[out->nrequested_authn_contexts++] =
        nova_arena_strdup(ar, json_string_value(v));
    const char *cmp = json_string_value(json_object_get(c, "authn_context_comparison"));
    out->authn_context_comparison = comparisons[0];
    for (i = 0; cmp && i < 4; i++)
        if (strcmp(cmp, comparisons[i]) == 0)
            out->authn_context_comparison = comparisons[i];
    json_decref(c);
    for (i = 0; i < out->nmfa_authn_contexts; i++)
        if (out->mfa_authn_contexts[i] == NULL)
            return NOVA_NOMEM;
    for (i = 0; i < out->nrequested_authn_contexts; i++)
        if (out->requested_authn_contexts[i] == NULL)
            return NOVA_NOMEM;
    if (!out->sso_url || !out->metadata_xml || !out->sp_entity_id || !out->acs_url ||
        !out->slo_url || !out->sp_cert_pem || !out->group_attribute || !out->email_attribute ||
        !out->name_attribute)
        return NOVA_NOMEM;
    return NOVA_OK;
}

void *nova_saml_idp_to_json(const nova_saml_idp_t *idp)
{
    json_t *maps = json_array();
    people_fed_mappings_json(maps, idp->mappings, idp->nmappings);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:I, s:I}", "id",
                  idp->id, "tenant_id", idp->tenant_id, "entity_id", idp->entity_id, "sso_url",
                  idp->sso_url, "sp_entity_id", idp->sp_entity_id, "acs_url", idp->acs_url,
                  "sp_certificate", idp->sp_cert_pem, "group_attribute", idp->group_attribute,
                  "email_attribute", idp->email_attribute, "name_attribute", idp->name_attribute,
                  "role_mappings", maps, "enabled", idp->enabled, "created_at",
                  (json_int_t)idp->created_at, "updated_at", (json_int_t)idp->updated_at);
    if (o) {
        json_object_set_new(o, "metadata_url",
                            idp->metadata_url ? json_string(idp->metadata_url) : json_null());
        json_object_set_new(
            o, "sp_metadata_path",
            json_sprintf("/auth/saml/metadata?tenant_id=%s&idp=%s", idp->tenant_id, idp->id));
        json_object_set_new(
            o, "login_path",
            json_sprintf("/auth/saml/login?tenant_id=%s&idp=%s", idp->tenant_id, idp->id));
        /* The SP's SingleLogoutService (also in its metadata), under novad's public URL. */
        json_object_set_new(o, "slo_url", json_string(idp->slo_url));
        json_t *mfa = json_array(), *req = json_array();
        for (size_t i = 0; i < idp->nmfa_authn_contexts; i++)
            json_array_append_new(mfa, json_string(idp->mfa_authn_contexts[i]));
        for (size_t i = 0; i < idp->nrequested_authn_contexts; i++)
            json_array_append_new(req, json_string(idp->requested_authn_contexts[i]));
        json_object_set_new(o, "mfa_authn_contexts", mfa);
        json_object_set_new(o, "requested_authn_contexts", req);
        json_object_set_new(o, "authn_context_comparison",
                            json_string(idp->authn_context_comparison));
        json_object_set_new(o, "sp_encryption_certificate",
                            idp->sp_enc_cert_pem ? json_string(idp->sp_enc_cert_pem) : json_null());
        json_object_set_new(o, "require_encrypted_assertions",
                            json_boolean(idp->require_encrypted_assertions));
    }
    return o;
}

/* A fresh SP encryption key pair into cfg: the certificate ("enc_cert"), the private key
 * sealed with the tenant's data key ("enc_key_sealed", base64url) and the region it was
 * sealed in ("enc_key_region"). The key's clear text is cleansed before this returns. */
static nova_status enc_keygen(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                              const char *tenant_id, json_t *cfg)
{
    const char *key = NULL, *cert = NULL;
    const uint8_t *sealed = NULL;
    size_t sl = 0;
    nova_status st = nova_saml_sp_keygen(ar, &key, &cert);
    if (st == NOVA_OK)
        st = people_seal(p, s, ar, tenant_id, SAML_ENC_KEY_CTX, key, strlen(key), &sealed, &sl);
    if (key)
        OPENSSL_cleanse((char *)key, strlen(key));
    if (st)
        return st;
    char *b = nova_arena_alloc(ar, nova_b64url_encoded_len(sl) + 1);
    if (b == NULL)
        return NOVA_NOMEM;
    nova_b64url_encode(sealed, sl, b);
    json_object_set_new(cfg, "enc_cert", json_string(cert));
    json_object_set_new(cfg, "enc_key_sealed", json_string(b));
    json_object_set_new(cfg, "enc_key_region", json_string(p->region));
    return NOVA_OK;
}

nova_status nova_saml_idp_create(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const char *base_url, const void *obj, nova_saml_idp_t *out,
                                 const char **why)
{
    json_t *in = (json_t *)obj, *cfg = json_object();
    char id[64];
    const char *key = NULL, *cert = NULL;
    nova_saml_idp_row_t row = {.tenant_id = tenant_id};
    nova_status st = cfg ? NOVA_OK : NOVA_NOMEM;
    if (st == NOVA_OK && !json_is_object(in)) {
        *why = "the body must be a JSON object";
        st = NOVA_INVALID;
    }
    if (st == NOVA_OK)
        st = apply(ar, cfg, in, true, why);
    if (st == NOVA_OK)
        st = nova_id_new("sidp", id, sizeof(id));
    if (st == NOVA_OK) {
        size_t bl = strlen(base_url);
        while (bl && base_url[bl - 1] == '/')
            bl--;
        json_object_set_new(
            cfg, "acs_url",
            json_sprintf("%.*s/auth/saml/acs/%s/%s", (int)bl, base_url, tenant_id, id));
        if (!json_object_get(cfg, "sp_entity_id"))
            json_object_set_new(cfg, "sp_entity_id",
                                json_sprintf("%.*s/auth/saml/metadata?tenant_id=%s&idp=%s", (int)bl,
                                             base_url, tenant_id, id));
        st = nova_saml_sp_keygen(ar, &key, &cert);
    }
    if (st == NOVA_OK) {
        json_object_set_new(cfg, "sp_cert", json_string(cert));
        st = people_seal(p, s, ar, tenant_id, SAML_KEY_CTX, key, strlen(key), &row.secret_sealed,
                         &row.secret_sealed_len);
        json_object_set_new(cfg, "key_region", json_string(p->region));
    }
    if (key)
        OPENSSL_cleanse((char *)key, strlen(key));
    if (st == NOVA_OK)
        st = enc_keygen(p, s, ar, tenant_id, cfg);
    if (st == NOVA_OK)
        st = people_fed_idp_insert(
            s, ar, by, NOVA_FED_SAML, id, cfg, "entity_id", &row,
            json_pack("{s:O, s:b}", "entity_id", json_object_get(cfg, "entity_id"), "metadata_url",
                      json_object_get(cfg, "metadata_url") != NULL),
            "this tenant has a SAML IdP with this entity ID", view_of, out, why);
    json_decref(cfg);
    return st;
}

static nova_status apply_update(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                const char *tenant_id, json_t *cfg, json_t *in, bool create,
                                nova_oidc_idp_row_t *row, const char **why)
{
    (void)row; /* the SP's signing key never changes */
    nova_status st = apply(ar, cfg, in, create, why);
    /* An IdP made before the SP had an encryption key gets one now (its metadata then names
     * it; the IdP may start encrypting once it has read that). */
    if (st == NOVA_OK && json_object_get(cfg, "enc_key_sealed") == NULL)
        st = enc_keygen(p, s, ar, tenant_id, cfg);
    return st;
}

nova_status nova_saml_idp_update(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const char *id, const void *obj, nova_saml_idp_t *out,
                                 const char **why)
{
    return people_fed_idp_update(p, s, ar, by, NOVA_FED_SAML, tenant_id, id, (json_t *)obj,
                                 apply_update, view_of, out, why);
}

nova_status nova_saml_idp_delete(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const char *id)
{
    nova_saml_idp_t idp;
    nova_status st = nova_saml_idp_get(s, ar, tenant_id, id, &idp);
    if (st)
        return st;
    return people_fed_idp_delete(p, s, ar, by, NOVA_FED_SAML, tenant_id, id, "saml_idp.delete",
                                 "saml_idp",
                                 json_pack("{s:s, s:I}", "entity_id", idp.entity_id,
                                           "role_mappings", (json_int_t)idp.nmappings),
                                 NULL);
}

nova_status nova_saml_idp_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                              const char *id, nova_saml_idp_t *out)
{
    return people_fed_idp_get(s, ar, NOVA_FED_SAML, tenant_id, id, view_of, out);
}

nova_status nova_saml_idp_list(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                               nova_saml_idp_t **out, size_t *n)
{
    return people_fed_idp_list(s, ar, NOVA_FED_SAML, tenant_id, view_of, sizeof(**out),
                               (void **)out, n);
}

nova_status people_saml_key(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                            const nova_saml_idp_row_t *row, const char **key_pem)
{
    return people_fed_open(p, s, ar, row, "key_region", SAML_KEY_CTX, key_pem);
}

nova_status people_saml_enc_key(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                const nova_saml_idp_row_t *row, const char **key_pem)
{
    *key_pem = NULL;
    json_error_t err;
    json_t *c = json_loads(row->config, 0, &err);
    const char *b = json_string_value(json_object_get(c, "enc_key_sealed"));
    const char *region = json_string_value(json_object_get(c, "enc_key_region"));
    nova_status st = NOVA_OK;
    if (b) {
        size_t n = strlen(b), len = 0, tl = 0;
        uint8_t *sealed = nova_arena_alloc(ar, nova_b64url_decoded_max(n) + 1);
        char *text = NULL;
        st = sealed ? nova_b64url_decode(b, n, sealed, &len) : NOVA_NOMEM;
        if (st == NOVA_OK)
            st = people_open(p, s, ar, row->tenant_id, region ? region : "global", SAML_ENC_KEY_CTX,
                             sealed, len, &text, &tl);
        else if (st != NOVA_NOMEM)
            st = NOVA_INTERNAL;
        *key_pem = st == NOVA_OK ? text : NULL;
    }
    json_decref(c);
    return st;
}

/* ---- the protocol's table (nova_fed_idp_ops) ---- */

static nova_status ops_create(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                              const nova_audit_actor_t *by, const char *tenant_id,
                              const char *base_url, const void *obj, void *out, const char **why)
{
    return nova_saml_idp_create(p, s, ar, by, tenant_id, base_url ? base_url : "", obj, out, why);
}
static nova_status ops_update(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                              const nova_audit_actor_t *by, const char *tenant_id, const char *id,
                              const void *obj, void *out, const char **why)
{
    return nova_saml_idp_update(p, s, ar, by, tenant_id, id, obj, out, why);
}
static nova_status ops_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id, const char *id,
                           void *out)
{
    return nova_saml_idp_get(s, ar, tenant_id, id, out);
}
static nova_status ops_list(nova_store_t *s, nova_arena_t *ar, const char *tenant_id, void **out,
                            size_t *n)
{
    return nova_saml_idp_list(s, ar, tenant_id, (nova_saml_idp_t **)out, n);
}
static void *ops_json(const void *view)
{
    return nova_saml_idp_to_json(view);
}
static const char *ops_id(const void *view)
{
    return ((const nova_saml_idp_t *)view)->id;
}

const nova_fed_idp_ops_t people_saml_idp_ops = {.proto = NOVA_FED_SAML,
                                                .name = "saml",
                                                .members = idp_members,
                                                .url_member = "metadata_url",
                                                .url_on_update = true,
                                                .view_size = sizeof(nova_saml_idp_t),
                                                .create = ops_create,
                                                .update = ops_update,
                                                .get = ops_get,
                                                .list = ops_list,
                                                .remove = nova_saml_idp_delete,
                                                .to_json = ops_json,
                                                .id_of = ops_id};
