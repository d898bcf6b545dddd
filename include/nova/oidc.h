/*
 * oidc.h: OpenID Connect federation per tenant (issue 11 item 7; seed 003 §3.3). A tenant
 * names its OpenID Providers (issuer, client, redirect URIs, scopes, the claim that carries
 * groups and group->role mappings, each optionally time-boxed); its people sign in through
 * them with the authorization code flow and PKCE (S256), and get the same session a password
 * sign-in gives.
 *
 * The parsers of what an IdP sends (discovery document, JWK Set, token response) and the ID
 * token's claim checks are pure (bytes in, structs out) and fuzzed. The flow
 * (src/people/oidc_login.c) fetches discovery and the JWKS with libcurl, caches both with a
 * TTL per process, and keeps each login's state, nonce and PKCE verifier in the control plane
 * (single use, 600 s).
 */
#ifndef NOVA_OIDC_H
#define NOVA_OIDC_H

#include "nova/base.h"
#include "nova/oidc_store.h"
#include "nova/people.h"

#define NOVA_OIDC_MAX_MAPPINGS 64
#define NOVA_OIDC_MAX_REDIRECTS 8
#define NOVA_OIDC_STATE_TTL 600  /* seconds a login's state lives */
#define NOVA_OIDC_CLOCK_SKEW 60  /* seconds of tolerance on exp and iat */
#define NOVA_OIDC_MAX_AGE 600    /* an ID token issued longer ago than this is refused */
#define NOVA_OIDC_DOC_MAX 262144 /* bytes of a discovery document, JWKS or token response */

/* ---- pure: what an IdP sends ---- */

/* An URL an IdP may be reached at: https, or http on a loopback host (127.0.0.1, localhost,
 * [::1]: a development IdP); no userinfo, fragment, spaces or control characters; at most
 * 2048 bytes. */
bool nova_oidc_url_ok(const char *url);

/* The members of a discovery document (OpenID Connect Discovery 1.0 §3) a login needs. Arena
 * strings. */
typedef struct nova_oidc_discovery {
    const char *issuer;
    const char *authorization_endpoint;
    const char *token_endpoint;
    const char *jwks_uri;
    const char *userinfo_endpoint;    /* NULL when absent */
    const char *end_session_endpoint; /* NULL when absent (RP-Initiated Logout 1.0 §2.1) */
    bool s256; /* code_challenge_methods_supported lists S256, or the member is absent */
} nova_oidc_discovery_t;

/* Parses a discovery document: a JSON object whose issuer equals expected_issuer exactly
 * (§4.3) and whose endpoints are https URLs (http only on a loopback host, as the issuer's
 * rule allows); userinfo_endpoint and end_session_endpoint, optional, are kept only when they
 * are such URLs. NOVA_INVALID with *why (static text) otherwise. */
nova_status nova_oidc_discovery_parse(nova_arena_t *ar, const char *text, size_t n,
                                      const char *expected_issuer, nova_oidc_discovery_t *out,
                                      const char **why);

/* The signing keys of a JWK Set that Nova can verify with (EC P-256 for ES256, OKP Ed25519
 * for EdDSA; use "sig" or absent). Keys of other types (RSA among them) are skipped. */
typedef struct nova_oidc_keyset {
    size_t n;
    nova_key_t **keys; /* owned */
} nova_oidc_keyset_t;

/* Parses a JWK Set ({"keys":[...]}, at most 32 keys). NOVA_INVALID with *why for anything
 * that is not a JWK Set. Free with nova_oidc_keyset_clear. */
nova_status nova_oidc_jwks_parse(const char *text, size_t n, nova_oidc_keyset_t *out,
                                 const char **why);
void nova_oidc_keyset_clear(nova_oidc_keyset_t *ks);
/* The key with this kid ("" matches a set of one key without kid), or NULL. Borrowed. */
const nova_key_t *nova_oidc_keyset_find(const nova_oidc_keyset_t *ks, const char *kid);

/* Parses a token response (RFC 6749 §5.1, OIDC Core §3.1.3.3): a JSON object with a string
 * id_token and token_type Bearer (case-insensitive), or an error response (§5.2, *why names
 * it: NOVA_UNAUTHORIZED). *id_token in ar. */
nova_status nova_oidc_token_response_parse(nova_arena_t *ar, const char *text, size_t n,
                                           const char **id_token, const char **why);
/* The same, with *access_token the response's access_token (arena; NULL when absent or not a
 * string of 1..8192 bytes). */
nova_status nova_oidc_token_response_parse_at(nova_arena_t *ar, const char *text, size_t n,
                                              const char **id_token, const char **access_token,
                                              const char **why);

/* What an ID token must match (OIDC Core §3.1.3.7). */
typedef struct nova_oidc_expect {
    const char *issuer;
    const char *client_id;
    const char *nonce;
    const char *group_claim; /* NULL or "": no groups read */
    int64_t now;
} nova_oidc_expect_t;

#define NOVA_OIDC_MAX_GROUPS 64
#define NOVA_OIDC_MAX_AMR 16
#define NOVA_OIDC_MAX_ACR 8

/* The claims a verified ID token vouches for. Arena strings. */
typedef struct nova_oidc_identity {
    const char *sub;
    const char *email; /* NULL when absent */
    bool email_verified;
    const char *name; /* NULL when absent */
    const char *groups[NOVA_OIDC_MAX_GROUPS];
    size_t ngroups;
    const char *acr;                    /* NULL when absent */
    const char *amr[NOVA_OIDC_MAX_AMR]; /* RFC 8176 method references, as sent */
    size_t namr;
    const char *sid; /* the IdP's session id (Front/Back-Channel Logout), NULL when absent */
} nova_oidc_identity_t;

/* Checks the claims of an ID token whose signature verified: iss equals the issuer; aud is
 * the client id or an array holding it; with several audiences azp is required, and when
 * present azp equals the client id; nonce equals the one sent; exp is after now (less the
 * skew); iat is present, not in the future (plus the skew) nor older than NOVA_OIDC_MAX_AGE;
 * sub is 1..255 bytes. Groups are read from the group claim (an array of strings, or one
 * string). NOVA_UNAUTHORIZED with *why (static text naming the claim) otherwise. */
nova_status nova_oidc_claims_check(nova_arena_t *ar, const char *payload, size_t n,
                                   const nova_oidc_expect_t *e, nova_oidc_identity_t *out,
                                   const char **why);

/* OpenID Connect Back-Channel Logout 1.0 §2.4: the event a logout token carries. */
#define NOVA_OIDC_BCL_EVENT "http://schemas.openid.net/event/backchannel-logout"
#define NOVA_OIDC_LOGOUT_TOKEN_MAX 16384 /* bytes of a logout_token */

/* What a logout token whose signature verified names (arena strings). */
typedef struct nova_oidc_logout {
    const char *sub; /* NULL when absent */
    const char *sid; /* NULL when absent; one of sub and sid at least */
    const char *jti;
    int64_t iat;
    int64_t exp; /* 0 when absent */
} nova_oidc_logout_t;

/* Checks a logout token's claims (Back-Channel Logout 1.0 §2.4, §2.6): iss equals e's
 * issuer; aud is the client id or an array holding it (azp, when present, the client id);
 * iat present, not in the future (plus the skew) nor older than NOVA_OIDC_MAX_AGE; exp, when
 * present, not past (less the skew); jti a string of 1..255 bytes; events a JSON object with
 * a member NOVA_OIDC_BCL_EVENT whose value is a JSON object; no nonce (an ID token is not a
 * logout token); sub and/or sid (1..255 bytes each). e->nonce and e->group_claim are not
 * used. NOVA_UNAUTHORIZED with *why (static text naming the claim) otherwise. Pure. */
nova_status nova_oidc_logout_claims_check(nova_arena_t *ar, const char *payload, size_t n,
                                          const nova_oidc_expect_t *e, nova_oidc_logout_t *out,
                                          const char **why);

/* The AAL a federated sign-in earns (OIDC Core §2 acr and amr, RFC 8176): 2 when the IdP
 * asserts a second factor - amr holds "mfa", "otp", "hwk" or "swk", or acr is one of
 * mfa_acr (the values the tenant configured as meaning multi-factor) - else 1. */
int nova_oidc_aal(const nova_oidc_identity_t *who, const char *const *mfa_acr, size_t nmfa_acr);

/* The address classifier of the fetches' guard: whether a peer address (AF_INET or AF_INET6
 * struct sockaddr) is public unicast. Not public: loopback, unspecified, private (RFC 1918,
 * ULA fc00::/7), shared CGNAT (100.64/10), link-local (169.254/16 with the cloud metadata
 * address 169.254.169.254, fe80::/10), site-local fec0::/10, benchmarking, reserved,
 * multicast, broadcast; an IPv4-mapped, NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address is
 * judged by the IPv4 address it carries (nova_webhook_address_public's rules, the one
 * classifier of Nova's outbound fetches). Other families: false. */
bool nova_oidc_addr_public(const void *sockaddr);

/* Process-wide (NOVA_OIDC_ALLOW_PRIVATE, set once at start): whether the discovery, JWKS,
 * token and userinfo fetches of an https issuer may reach a non-public address. Off (the default),
 * such a fetch is refused before its socket connects, whatever DNS answered (the check is on the
 * address libcurl is about to connect to, so a rebinding answer gains nothing). An http
 * issuer (a development IdP on loopback, accepted only while novad itself runs on one) is
 * not guarded. */
void nova_oidc_allow_private(bool allow);

/* Merges a UserInfo response (OIDC Core §5.3.2: a JSON object; a signed or encrypted one is
 * not read) into who: its sub must equal who->sub (§5.3.4; NOVA_UNAUTHORIZED otherwise);
 * email with email_verified, name and the groups of group_claim are taken from it only where
 * the ID token had none (the ID token's signed claims win). NOVA_INVALID with *why for a
 * document that is not such an object. */
nova_status nova_oidc_userinfo_merge(nova_arena_t *ar, const char *text, size_t n,
                                     const char *group_claim, nova_oidc_identity_t *who,
                                     const char **why);
/* The claims of a signed UserInfo response (OIDC Core §5.3.2), once its signature verified:
 * a JSON object whose iss is issuer and whose aud (a string or an array) names client_id.
 * NOVA_INVALID with *why otherwise. */
nova_status nova_oidc_userinfo_jwt_claims_check(const char *payload, size_t n, const char *issuer,
                                                const char *client_id, const char **why);

/* ---- a tenant's IdPs ---- */

typedef struct nova_oidc_mapping {
    const char *group;
    const char *role;
    int64_t valid_until; /* 0: no end; else unix seconds after which the mapping is ignored */
} nova_oidc_mapping_t;

/* An IdP as the API shows it (never the client secret). Arena strings. */
typedef struct nova_oidc_idp {
    const char *id;
    const char *tenant_id;
    const char *issuer;
    const char *client_id;
    bool has_client_secret;
    bool private_key_jwt;   /* the token endpoint is authenticated with RFC 7523's client JWT */
    const char *client_jwk; /* private_key_jwt: the client's public JWK (JSON), else NULL */
    /* The client's JWK Set as the IdP fetches it ({"keys": [...]}: the signing key, then a
     * staged or just retired one); NULL without private_key_jwt. */
    const char *client_jwks;
    /* A graceful rotation's staged key (public JWK) and when it starts signing; NULL/0 when
     * none is waiting. */
    const char *client_jwk_next;
    int64_t client_key_next_at;
    const char *redirect_uris[NOVA_OIDC_MAX_REDIRECTS];
    size_t nredirect;
    const char *scopes; /* space-separated, "openid" among them */
    const char *group_claim;
    nova_oidc_mapping_t mappings[NOVA_OIDC_MAX_MAPPINGS];
    size_t nmappings;
    unsigned id_token_algs; /* bit (1u << nova_jws_alg) per accepted ID token algorithm */
    const char *acr_values; /* space-separated, sent in the authorization request; "" none */
    const char *mfa_acr[NOVA_OIDC_MAX_ACR]; /* acr values that mean multi-factor (AAL2) */
    size_t nmfa_acr;
    const char *post_logout_redirect_uris[NOVA_OIDC_MAX_REDIRECTS]; /* RP-Initiated Logout */
    size_t npost_logout;
    bool enabled;
    int64_t created_at, updated_at;
} nova_oidc_idp_t;

/* The roles groups give at now: the mappings whose group is among groups and which have not
 * ended, deduplicated, space-separated, in mapping order (arena; "" when none). */
const char *nova_oidc_roles_for(nova_arena_t *ar, const nova_oidc_idp_t *idp,
                                const char *const *groups, size_t ngroups, int64_t now);

/* Creates an IdP from a JSON object (json_t *): issuer (https, or http on a loopback host),
 * client_id, client_secret (optional, sealed with the tenant's data key), redirect_uris
 * (1..8 absolute URLs), scopes (optional, "openid" required), group_claim (optional,
 * "groups"), role_mappings ([{group, role, valid_until?}], optional), enabled (optional),
 * id_token_signing_algs (optional, of ES256 EdDSA RS256 PS256; default all but PS256, which
 * a tenant opts in to), acr_values (optional, 0..8 requested of the IdP), mfa_acr_values
 * (optional, 0..8 acr values that give AAL2), post_logout_redirect_uris (optional, 0..8 URLs
 * the IdP may send the browser back to after an RP-initiated logout).
 * NOVA_INVALID with *why; NOVA_CONFLICT when the tenant has an IdP of that issuer. Audited
 * "oidc_idp.create" (no secret). */
nova_status nova_oidc_idp_create(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const void *obj, nova_oidc_idp_t *out, const char **why);
/* Applies the members of obj (as create's, all optional; issuer cannot change: NOVA_INVALID).
 * client_secret null removes the secret. Audited "oidc_idp.update" (the members changed). */
nova_status nova_oidc_idp_update(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const char *id, const void *obj, nova_oidc_idp_t *out,
                                 const char **why);
/* Removes the IdP with its group->role mappings; a login through it is refused from now on,
 * one under way too (its callback finds no IdP), and the sessions it opened are revoked at
 * once (reason "idp_deleted"; NOVA_UNAVAILABLE and nothing changed when the control plane
 * is down). Audited "oidc_idp.delete". NOVA_NOT_FOUND when the tenant has no IdP of this
 * id. */
nova_status nova_oidc_idp_delete(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const nova_audit_actor_t *by, const char *tenant_id,
                                 const char *id);
nova_status nova_oidc_idp_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                              const char *id, nova_oidc_idp_t *out);
nova_status nova_oidc_idp_list(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                               nova_oidc_idp_t **out, size_t *n);
/* The view as JSON (json_t *, caller decrefs). */
void *nova_oidc_idp_to_json(const nova_oidc_idp_t *idp);
/* The client's JWK Set as the IdP fetches it (RFC 7517 {"keys": [...]}; a jansson object,
 * idp->client_jwks parsed). NULL when the IdP does not use private_key_jwt. */
void *nova_oidc_client_jwks(const nova_oidc_idp_t *idp);

/* ---- the login ---- */

/* Why a federated login failed (metrics and the problem's code). */
typedef enum nova_oidc_fail {
    NOVA_OIDC_FAIL_NONE = 0,
    NOVA_OIDC_FAIL_UNKNOWN_IDP,  /* no such IdP for the tenant, or disabled */
    NOVA_OIDC_FAIL_STATE,        /* unknown, used or expired state */
    NOVA_OIDC_FAIL_IDP_ERROR,    /* the IdP answered the browser with an error */
    NOVA_OIDC_FAIL_DISCOVERY,    /* discovery document unreachable or invalid */
    NOVA_OIDC_FAIL_TOKEN,        /* the token exchange failed */
    NOVA_OIDC_FAIL_JWKS,         /* JWKS unreachable or invalid */
    NOVA_OIDC_FAIL_SIGNATURE,    /* malformed ID token, unknown kid after refetch, bad sig */
    NOVA_OIDC_FAIL_CLAIMS,       /* iss, aud, azp, nonce, exp, iat or sub wrong */
    NOVA_OIDC_FAIL_PROVISIONING, /* no email to create the user with, or it is taken */
    NOVA_OIDC_FAIL_SUSPENDED,    /* the linked user is suspended */
    NOVA_OIDC_FAIL_POLICY,       /* the tenant requires MFA and the IdP asserted none */
    NOVA_OIDC_FAIL_USERINFO,     /* the userinfo endpoint failed or sent no JSON object */
    NOVA_OIDC_FAIL_LOGOUT_TOKEN, /* a back-channel logout token's claims wrong, or replayed */
    NOVA_OIDC_FAIL_FRONTCHANNEL, /* a front-channel logout without this IdP's iss, or no sid */
    NOVA_OIDC_FAIL_N
} nova_oidc_fail;
/* "unknown_idp", "state", ... */
const char *nova_oidc_fail_name(nova_oidc_fail f);

/* Starts a login through the tenant's IdP idp_id: discovery (cached), fresh state, nonce and
 * PKCE verifier kept in kv for NOVA_OIDC_STATE_TTL, and *location the IdP's authorization
 * URL to redirect the browser to (arena). redirect_uri NULL: the IdP's first. A failure is
 * NOVA_OK with *fail set and *why; an error status only for kv or store failures. */
nova_status nova_oidc_login_begin(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                  const char *tenant_id, const char *idp_id,
                                  const char *redirect_uri, const char **location,
                                  nova_oidc_fail *fail, const char **why);

/* Completes a login at the redirect URI: takes the state (single use), exchanges the code
 * with the verifier, verifies the ID token (JWKS cached, re-fetched once on an unknown kid)
 * and its claims, finds the user by (issuer, sub) or provisions one (email from the token,
 * audited "user.create" and "user.oidc_link"), sets the roles the groups map to, and opens a
 * session (AAL2 with amr "fed mfa" when the IdP asserted a second factor, see nova_oidc_aal,
 * else AAL1 with amr "fed") with req's device, ip and timeout (req->tenant_id is ignored: the
 * state names the tenant). A failure is NOVA_OK with *fail and *why; out->outcome
 * NOVA_LOGIN_OK on success. */
nova_status nova_oidc_login_complete(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const char *state, const char *code,
                                     const nova_login_request_t *req, nova_login_result_t *out,
                                     const char **tenant_id, nova_oidc_fail *fail,
                                     const char **why);

/* RP-Initiated Logout 1.0 for the session session_id of tenant_id: when the session was
 * opened through an IdP whose discovery names an end_session_endpoint, *url is that endpoint
 * with id_token_hint (the ID token of the login, kept in the control plane for the session's
 * life), client_id, post_logout_redirect_uri (the one given, which must be among the IdP's
 * post_logout_redirect_uris, else the first of them, else none) and state (optional, 1..128
 * of [A-Za-z0-9._~-]). *url NULL: not a federated session, its IdP is gone, or the IdP
 * offers no end-session endpoint. NOVA_INVALID with *why for a post_logout_redirect_uri not
 * registered or a bad state. Revoking the session is the caller's, then
 * nova_oidc_logout_forget. */
nova_status nova_oidc_logout_url(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const char *tenant_id, const char *session_id,
                                 const char *post_logout_redirect_uri, const char *state,
                                 const char **url, const char **why);
/* Drops what nova_oidc_logout_url reads (the session's ID token). */
void nova_oidc_logout_forget(nova_people_t *p, nova_arena_t *ar, const char *session_id);

/* OpenID Connect Back-Channel Logout 1.0 at the RP: a logout_token the tenant's IdP idp_id
 * POSTed. Verified with the IdP's JWKS as an ID token is (its id_token_signing_algs; typ,
 * when present, logout+jwt or JWT), its claims by nova_oidc_logout_claims_check, its jti
 * single use in the control plane (until it could no longer be accepted); then the live
 * sessions the IdP opened for it end (reason "idp_logout"): those of the IdP's session sid,
 * and/or of the user linked to sub (none when no user is), their control-plane records
 * first. Audited "session.backchannel_logout" (actor "oidc:<idp id>", counts only).
 * *revoked the sessions ended. A refusal is NOVA_OK with *fail (UNKNOWN_IDP, DISCOVERY,
 * JWKS, SIGNATURE, LOGOUT_TOKEN) and *why; an error status for store or control-plane
 * failures. */
nova_status nova_oidc_backchannel_logout(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                         const char *tenant_id, const char *idp_id,
                                         const char *logout_token, size_t *revoked,
                                         nova_oidc_fail *fail, const char **why);

/* OpenID Connect Front-Channel Logout 1.0 at the RP: the IdP's logout page loaded the
 * frontchannel_logout_uri of the tenant's IdP idp_id with iss and sid (§2: both required
 * here, frontchannel_logout_session_required; checked before the IdP is looked up). iss must
 * be the IdP's issuer (exact), sid 1..255 printable bytes; then the live sessions the IdP opened
 * with that sid end (reason "idp_logout"), their control-plane records first. Nothing is signed in
 * this binding: the sid, unguessable and known only to the IdP and the browser that signed in, is
 * the credential, so a request can end only the session it names. Audited
 * "session.frontchannel_logout" (actor "oidc:<idp id>", counts only). *revoked the
 * sessions ended (0 for a sid no live session has: the IdP's page cannot tell them apart
 * anyway). A disabled IdP still ends its sessions. A refusal is NOVA_OK with *fail
 * (UNKNOWN_IDP, FRONTCHANNEL) and *why; an error status for store or control-plane
 * failures. */
nova_status nova_oidc_frontchannel_logout(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                          const char *tenant_id, const char *idp_id,
                                          const char *iss, const char *sid, size_t *revoked,
                                          nova_oidc_fail *fail, const char **why);

/* The tenant named by a login's state without taking it (so the caller can read the tenant's
 * settings first): NOVA_NOT_FOUND when the state is unknown. */
nova_status nova_oidc_state_tenant(nova_people_t *p, nova_arena_t *ar, const char *state,
                                   const char **tenant_id);

/* Counts a login (fail NONE) or a failure by reason, and appends the counters (Prometheus
 * text: nova_people_federation_logins_total{protocol="oidc"},
 * nova_people_federation_failures_total{protocol="oidc",reason}). */
void nova_oidc_count(nova_oidc_fail f);
nova_status nova_oidc_metrics(nova_buf_t *out);

#endif
