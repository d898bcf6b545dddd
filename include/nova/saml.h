/*
 * saml.h: SAML 2.0 federation per tenant (issue 11 item 7; seed 003 §3.3). A tenant names
 * its SAML Identity Providers (the IdP's metadata XML, or a URL novad fetches it from, the
 * attribute that carries groups and group->role mappings, each optionally time-boxed, as
 * OIDC's); novad makes an SP key and certificate for each (the key sealed with the tenant's
 * data key) and serves the SP's metadata. Its people sign in with SP-initiated Web Browser
 * SSO: an AuthnRequest over HTTP-Redirect, the Response back at the ACS over HTTP-POST, and
 * the same session a password or OIDC sign-in gives.
 *
 * Lasso (Debian's liblasso3) parses every SAML message and verifies its XML signatures; Nova
 * adds the checks a relying party owes on top (src/people/saml_login.c): the assertion is
 * signed by the IdP (an unsigned one is refused even inside a signed Response), its issuer is
 * the IdP, the audience is the SP, Destination and Recipient are the ACS, NotBefore and
 * NotOnOrAfter hold (NOVA_SAML_CLOCK_SKEW), InResponseTo names a request this novad issued
 * (single use, in the control plane for NOVA_SAML_REQUEST_TTL) and the assertion's ID was not
 * seen before (kept in the control plane until it expires). An IdP may encrypt the assertion
 * or the NameID to the SP's encryption certificate (a second key pair per IdP, sealed as the
 * signing key): novad decrypts it itself (RSA-OAEP key transport and AES content only; Lasso
 * is given no decryption key) and checks it as a plain one, its signature still required.
 */
#ifndef NOVA_SAML_H
#define NOVA_SAML_H

#include "nova/base.h"
#include "nova/oidc.h"
#include "nova/people.h"
#include "nova/saml_store.h"

#define NOVA_SAML_REQUEST_TTL 600     /* seconds an AuthnRequest may be answered */
#define NOVA_SAML_CLOCK_SKEW 90       /* seconds of tolerance on NotBefore / NotOnOrAfter */
#define NOVA_SAML_METADATA_MAX 262144 /* bytes of an IdP's metadata */
#define NOVA_SAML_RESPONSE_MAX 262144 /* bytes of a base64 SAMLResponse */
#define NOVA_SAML_MAX_GROUPS 64
#define NOVA_SAML_MAX_AUTHN_CONTEXTS 16 /* class refs counted as MFA, or asked for */

/* The AuthnContextClassRefs counted as multi-factor (AAL2) by an IdP that names none: SAML
 * 2.0's two-factor classes (Authentication Context 2.0 §3.4: MobileTwoFactorUnregistered,
 * MobileTwoFactorContract, Smartcard, SmartcardPKI, TimeSyncToken), the MultiFactor class
 * several IdPs send, REFEDS MFA and AD FS's multipleauthn. */
#define NOVA_SAML_DEFAULT_MFA_AUTHN_CONTEXTS                                                       \
    "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered",                          \
        "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",                          \
        "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard",                                        \
        "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI",                                     \
        "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",                                    \
        "urn:oasis:names:tc:SAML:2.0:ac:classes:MultiFactor", "https://refeds.org/profile/mfa",    \
        "http://schemas.microsoft.com/claims/multipleauthn"

/* ---- Lasso-backed pieces (no store, no HTTP) ---- */

/* Starts Lasso (once per process; thread-safe). */
void nova_saml_init(void);

/* What an IdP's metadata says (arena strings): its entity ID, its HTTP-Redirect
 * SingleSignOnService and, when it offers them, its HTTP-Redirect and HTTP-POST
 * SingleLogoutServices. NOVA_INVALID with *why (static text) when the XML is not an IdP's
 * EntityDescriptor Lasso can load, lacks the sign-on endpoint, has a logout endpoint that is
 * not https (http only on a loopback host), or names no signing certificate. */
typedef struct nova_saml_idp_meta {
    const char *entity_id;
    const char *sso_url;
    const char *slo_url;      /* NULL: the IdP offers no Single Logout over HTTP-Redirect */
    const char *slo_post_url; /* NULL: none over HTTP-POST */
} nova_saml_idp_meta_t;
nova_status nova_saml_idp_metadata_parse(nova_arena_t *ar, const char *xml, size_t n,
                                         nova_saml_idp_meta_t *out, const char **why);

/* A fresh SP key pair: an RSA-2048 private key and a self-signed certificate (subject CN
 * "nova SAML SP", 10 years), both PEM (arena). */
nova_status nova_saml_sp_keygen(nova_arena_t *ar, const char **key_pem, const char **cert_pem);

/* The SP's metadata (arena XML): an SPSSODescriptor of entity_id with the certificate for
 * signing, the encryption certificate (KeyDescriptor use="encryption" with the
 * EncryptionMethods the SP takes; none when enc_cert_pem is NULL), AuthnRequestsSigned and
 * WantAssertionsSigned true, HTTP-Redirect and HTTP-POST SingleLogoutServices at slo_url
 * (none when NULL), one HTTP-POST ACS at acs_url. */
const char *nova_saml_sp_metadata(nova_arena_t *ar, const char *entity_id, const char *acs_url,
                                  const char *slo_url, const char *cert_pem,
                                  const char *enc_cert_pem);

/* Why a SAML login failed (metrics, the problem's code). */
typedef enum nova_saml_fail {
    NOVA_SAML_FAIL_NONE = 0,
    NOVA_SAML_FAIL_UNKNOWN_IDP,    /* no such IdP for the tenant, or disabled */
    NOVA_SAML_FAIL_MALFORMED,      /* not base64, not XML, not a SAML Response, no assertion */
    NOVA_SAML_FAIL_STATUS,         /* the IdP answered with a non-Success status */
    NOVA_SAML_FAIL_SIGNATURE,      /* a signature that does not verify with the IdP's key */
    NOVA_SAML_FAIL_UNSIGNED,       /* the assertion carries no signature */
    NOVA_SAML_FAIL_ISSUER,         /* the Response or assertion comes from another entity */
    NOVA_SAML_FAIL_DESTINATION,    /* Destination or Recipient is not this ACS */
    NOVA_SAML_FAIL_AUDIENCE,       /* no AudienceRestriction naming this SP */
    NOVA_SAML_FAIL_EXPIRED,        /* outside NotBefore / NotOnOrAfter (with the skew) */
    NOVA_SAML_FAIL_IN_RESPONSE_TO, /* not an answer to a live request of this novad */
    NOVA_SAML_FAIL_REPLAY,         /* this assertion was presented before */
    NOVA_SAML_FAIL_SUBJECT,        /* no usable NameID */
    NOVA_SAML_FAIL_PROVISIONING,   /* no email to create the user with, or it is taken */
    NOVA_SAML_FAIL_SUSPENDED,      /* the linked user is suspended */
    NOVA_SAML_FAIL_POLICY,         /* the tenant requires MFA, the assertion's context is not */
    NOVA_SAML_FAIL_DECRYPTION,     /* an EncryptedAssertion/EncryptedID this SP cannot open */
    NOVA_SAML_FAIL_UNENCRYPTED,    /* the IdP requires encrypted assertions, this one is not */
    NOVA_SAML_FAIL_N
} nova_saml_fail;
/* "unknown_idp", "malformed", ... */
const char *nova_saml_fail_name(nova_saml_fail f);

/* What the Response must match. */
typedef struct nova_saml_expect {
    const char *sp_metadata; /* XML, as nova_saml_sp_metadata made it */
    const char *sp_key_pem;
    const char *sp_cert_pem;
    const char *sp_enc_key_pem; /* the SP's encryption key (PEM), NULL: none */
    bool require_encrypted;     /* a plain assertion is refused (UNENCRYPTED) */
    const char *idp_metadata;   /* XML */
    const char *idp_entity_id;
    const char *sp_entity_id; /* the audience */
    const char *acs_url;      /* Destination and Recipient */
    const char *slo_url;      /* the SP's SingleLogoutService: a logout message's Destination */
    const char *group_attribute;
    const char *email_attribute;
    const char *name_attribute;
    int64_t now;
} nova_saml_expect_t;

/* What a verified assertion vouches for (arena strings). */
typedef struct nova_saml_identity {
    const char *name_id;
    const char *name_id_format; /* NULL when absent */
    const char *email;          /* the email attribute, else an emailAddress NameID, or NULL */
    const char *name;           /* NULL when absent */
    const char *groups[NOVA_SAML_MAX_GROUPS];
    size_t ngroups;
    const char *in_response_to; /* the request it answers */
    const char *assertion_id;
    int64_t not_on_or_after;   /* the earliest of the assertion's limits (unix seconds) */
    const char *authn_context; /* the AuthnStatement's AuthnContextClassRef, or NULL */
    const char *session_index; /* the AuthnStatement's SessionIndex (the IdP's session), or NULL */
} nova_saml_identity_t;

/* The AAL an assertion vouches for: 2 when its AuthnContextClassRef is one of mfa[0..n)
 * (exact comparison), else 1. Pure. */
int nova_saml_aal(const nova_saml_identity_t *who, const char *const *mfa, size_t n);

/* Decodes and checks a base64 SAMLResponse (HTTP-POST binding) against e: Lasso parses it
 * and verifies the signatures (of the Response when signed; the assertion's always, and one
 * must be there), then issuer, Destination, audience, Recipient, the time limits and the
 * bearer SubjectConfirmation are checked here. NOVA_OK with *fail NONE and *out filled, or
 * NOVA_OK with *fail and *why (static text or arena); an error status only for memory. The
 * request ID and the assertion's single use are the caller's (nova_saml_acs). */
nova_status nova_saml_response_check(nova_arena_t *ar, const char *b64, size_t n,
                                     const nova_saml_expect_t *e, nova_saml_identity_t *out,
                                     nova_saml_fail *fail, const char **why);

/* ---- a tenant's IdPs ---- */

/* An IdP as the API shows it (never the SP key). Arena strings. */
typedef struct nova_saml_idp {
    const char *id;
    const char *tenant_id;
    const char *entity_id;    /* the IdP's, from its metadata */
    const char *sso_url;      /* its HTTP-Redirect SingleSignOnService */
    const char *metadata_url; /* NULL when the metadata was given as XML */
    const char *metadata_xml;
    const char *sp_entity_id;
    const char *acs_url;
    const char *slo_url; /* the SP's SingleLogoutService: .../auth/saml/slo/{tenant}/{id} */
    const char *sp_cert_pem;
    const char *sp_enc_cert_pem; /* the SP's encryption certificate, NULL: none yet */
    bool require_encrypted_assertions;
    const char *group_attribute;
    const char *email_attribute;
    const char *name_attribute;
    nova_oidc_mapping_t mappings[NOVA_OIDC_MAX_MAPPINGS];
    size_t nmappings;
    /* AuthnContextClassRefs that give AAL2 (default NOVA_SAML_DEFAULT_MFA_AUTHN_CONTEXTS) */
    const char *mfa_authn_contexts[NOVA_SAML_MAX_AUTHN_CONTEXTS];
    size_t nmfa_authn_contexts;
    /* asked for in the AuthnRequest's RequestedAuthnContext (none: no such element) */
    const char *requested_authn_contexts[NOVA_SAML_MAX_AUTHN_CONTEXTS];
    size_t nrequested_authn_contexts;
    const char *authn_context_comparison; /* exact (default), minimum, better, maximum */
    bool enabled;
    int64_t created_at, updated_at;
} nova_saml_idp_t;

/* Creates an IdP from a JSON object (json_t *): metadata_xml or metadata_url (one of them;
 * the URL https, or http on a loopback host, fetched now with libcurl), sp_entity_id
 * (optional: the SP metadata URL), group_attribute (optional, "groups"), email_attribute
 * (optional, "email"), name_attribute (optional, "name"), role_mappings ([{group, role,
 * valid_until?}], as OIDC's), mfa_authn_contexts (optional: the AuthnContextClassRefs that
 * mean multi-factor, default NOVA_SAML_DEFAULT_MFA_AUTHN_CONTEXTS), requested_authn_contexts
 * (optional, none: sent as RequestedAuthnContext) with authn_context_comparison (optional,
 * "exact"), enabled (optional). base_url is novad's public URL: the ACS is
 * base_url/auth/saml/acs/{tenant}/{id}, the SP metadata (and default SP entity ID)
 * base_url/auth/saml/metadata?tenant_id=&idp=.
 * A fresh SP key pair is made; the key sealed with the tenant's data key. NOVA_INVALID with
 * *why; NOVA_CONFLICT when the tenant has an IdP of that entity ID; NOVA_UNAVAILABLE with
 * *why when the metadata URL cannot be fetched. Audited "saml_idp.create" (no key). */
nova_status nova_saml_idp_create(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const char *base_url, const void *obj, nova_saml_idp_t *out,
                                 const char **why);
/* Applies the members of obj (as create's, all optional; new metadata must name the same
 * entity ID: NOVA_INVALID; sp_entity_id cannot change). Audited "saml_idp.update" (the
 * members changed). */
nova_status nova_saml_idp_update(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const char *id, const void *obj, nova_saml_idp_t *out,
                                 const char **why);
/* Removes the IdP (its SP key and mappings with it; the links of its NameIDs stay): a login
 * through it is refused from now on, one under way too, and the sessions it opened are
 * revoked at once, as nova_oidc_idp_delete. Audited "saml_idp.delete". NOVA_NOT_FOUND when
 * the tenant has no IdP of this id. */
nova_status nova_saml_idp_delete(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const char *id);
nova_status nova_saml_idp_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                              const char *id, nova_saml_idp_t *out);
nova_status nova_saml_idp_list(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                               nova_saml_idp_t **out, size_t *n);
/* The view as JSON (json_t *, caller decrefs): no metadata XML, no key. */
void *nova_saml_idp_to_json(const nova_saml_idp_t *idp);

/* ---- the login ---- */

/* Starts a login through the tenant's IdP idp_id: an AuthnRequest for the IdP's
 * HTTP-Redirect endpoint, signed with the SP key, its ID kept in kv for
 * NOVA_SAML_REQUEST_TTL; *location the URL to send the browser to (arena). A failure is
 * NOVA_OK with *fail and *why; an error status only for kv or store failures. */
nova_status nova_saml_login_begin(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                  const char *tenant_id, const char *idp_id, const char **location,
                                  nova_saml_fail *fail, const char **why);

/* Completes a login at the ACS of (tenant_id, idp_id): nova_saml_response_check, then the
 * assertion ID kept in kv until it expires (a second presentation is a replay), the request
 * ID taken (single use, it must be this IdP's), the user found by (entity ID, NameID) or
 * provisioned (as OIDC's: audited "user.create" and "user.saml_link"), roles from the groups
 * set, and a session opened (AAL2 with amr "fed mfa" when the assertion's
 * AuthnContextClassRef is one of the IdP's mfa_authn_contexts, else AAL1 with amr "fed"; a
 * tenant requiring MFA refuses AAL1: NOVA_SAML_FAIL_POLICY) with req's device, ip and timeout. A
 * failure is NOVA_OK with *fail and *why; out->outcome NOVA_LOGIN_OK on success. */
nova_status nova_saml_acs(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                          const char *tenant_id, const char *idp_id, const char *saml_response,
                          const nova_login_request_t *req, nova_login_result_t *out,
                          nova_saml_fail *fail, const char **why);

/* ---- Single Logout (SAML 2.0 Profiles §4.4, HTTP-Redirect and HTTP-POST bindings) ---- */

#define NOVA_SAML_MAX_SESSION_INDEXES 16

/* What a LogoutRequest from the IdP asks (arena strings). */
typedef struct nova_saml_logout_req {
    const char *id;
    const char *name_id;
    const char *session_indexes[NOVA_SAML_MAX_SESSION_INDEXES];
    size_t nsession_indexes;
} nova_saml_logout_req_t;

/* The pieces on Lasso (no store, no HTTP), against e (sp_metadata, sp_key_pem,
 * idp_metadata, idp_entity_id, slo_url, now). */

/* A LogoutRequest for the IdP's HTTP-Redirect SingleLogoutService, signed with the SP key:
 * NameID name_id (of format, may be NULL), SessionIndex session_index (may be NULL).
 * *url the service's URL with the message, *id its ID (arena). NOVA_NOT_FOUND when the
 * IdP's metadata offers no such service. */
nova_status nova_saml_logout_request_make(nova_arena_t *ar, const nova_saml_expect_t *e,
                                          const char *name_id, const char *format,
                                          const char *session_index, const char **url,
                                          const char **id);
/* The signed LogoutResponse that answers an IdP's LogoutRequest (arena strings): over
 * HTTP-Redirect when the IdP's metadata offers that SingleLogoutService (url: the service's
 * URL with the message, saml_response NULL), else over HTTP-POST (url: the service's
 * Location, saml_response: the base64 message to auto-submit there as SAMLResponse); url
 * NULL when the IdP names neither. */
typedef struct nova_saml_logout_answer {
    const char *url;
    const char *saml_response;
} nova_saml_logout_answer_t;

/* Checks an IdP's LogoutRequest as nova_saml_slo does, all but its single use, and builds
 * the signed Success LogoutResponse (*answer). msg: the raw query of the HTTP-Redirect
 * binding, or when post the SAMLRequest form value of HTTP-POST (base64; its XML signature
 * verified). NOVA_OK with *fail NONE and *out filled, or NOVA_OK with *fail and *why; an
 * error status only for memory. */
nova_status nova_saml_logout_request_check(nova_arena_t *ar, const char *msg, bool post,
                                           const nova_saml_expect_t *e, nova_saml_logout_req_t *out,
                                           nova_saml_logout_answer_t *answer, nova_saml_fail *fail,
                                           const char **why);
/* Checks an IdP's LogoutResponse (raw query of HTTP-Redirect, or when post the SAMLResponse
 * form value of HTTP-POST) as nova_saml_slo does, all but the request it answers:
 * *in_response_to (arena) is that request's ID. */
nova_status nova_saml_logout_response_check(nova_arena_t *ar, const char *msg, bool post,
                                            const nova_saml_expect_t *e,
                                            const char **in_response_to, nova_saml_fail *fail,
                                            const char **why);

/* The SP-initiated logout of session_id, begun: when the session came through a SAML IdP
 * whose metadata offers an HTTP-Redirect SingleLogoutService, *location is that service's
 * URL with a LogoutRequest signed with the SP key (the session's NameID and SessionIndex,
 * kept in the control plane at sign-in), its ID kept for NOVA_SAML_REQUEST_TTL so that the
 * IdP's LogoutResponse can be matched; otherwise *location is NULL (nothing to tell the IdP).
 * The caller revokes the session itself, then calls nova_saml_logout_forget. */
nova_status nova_saml_logout_begin(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                   const char *tenant_id, const char *session_id,
                                   const char **location);
/* Drops what nova_saml_logout_begin reads (the session's NameID and SessionIndex). */
void nova_saml_logout_forget(nova_people_t *p, nova_arena_t *ar, const char *session_id);

/* What the SLO endpoint did. */
typedef struct nova_saml_slo_result {
    bool was_request;          /* the IdP's LogoutRequest (else its LogoutResponse to ours) */
    const char *location;      /* a request: the signed LogoutResponse to send the browser to, or
                                  with saml_response the IdP's HTTP-POST SingleLogoutService */
    const char *saml_response; /* non-NULL: post it there as SAMLResponse (auto-submit form) */
    size_t revoked;            /* a request: the sessions ended */
} nova_saml_slo_result_t;

/* The SP's SingleLogoutService of (tenant_id, idp_id). HTTP-Redirect binding: query is the
 * raw query (still encoded: the signature covers it) holding SAMLRequest or SAMLResponse,
 * SigAlg and Signature. HTTP-POST binding (query NULL): post_request or post_response, the
 * form's SAMLRequest or SAMLResponse (base64; one of them), signed inside the XML. Either
 * must be signed by the IdP (Lasso verifies the signature), come from it (Issuer), name this
 * endpoint (Destination).
 * A LogoutRequest must also be recent (IssueInstant within NOVA_SAML_REQUEST_TTL and the
 * skew, NotOnOrAfter not past) and unseen (its ID single use in the control plane); then the
 * sessions of the user linked to its NameID that this IdP opened (of its SessionIndexes,
 * when it names any) end, audited "session.saml_logout" (actor "saml:<idp id>", counts
 * only), and out->location (with out->saml_response for HTTP-POST) is a signed
 * LogoutResponse (Success) to the IdP's SingleLogoutService, HTTP-Redirect preferred (NULL
 * when its metadata names none). A LogoutResponse must answer a
 * live LogoutRequest of this novad for this IdP (InResponseTo, single use) with Success.
 * A refusal is NOVA_OK with *fail (UNKNOWN_IDP, MALFORMED, UNSIGNED, SIGNATURE, ISSUER,
 * DESTINATION, EXPIRED, REPLAY, SUBJECT, IN_RESPONSE_TO, STATUS) and *why. */
nova_status nova_saml_slo(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                          const char *tenant_id, const char *idp_id, const char *query,
                          const char *post_request, const char *post_response,
                          nova_saml_slo_result_t *out, nova_saml_fail *fail, const char **why);

/* Counts a login (fail NONE) or a failure by reason, and appends the login counter's line
 * (nova_people_federation_logins_total{protocol="saml"}; the failures are in
 * nova_people_federation_failures_total{protocol="saml",reason}). */
void nova_saml_count(nova_saml_fail f);
nova_status nova_saml_metrics(nova_buf_t *out);

#endif
