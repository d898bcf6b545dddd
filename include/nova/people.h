/*
 * people.h: human principals (issue 11; seed 003 §3). Users of a tenant with roles and a
 * status, their factors (a password at AAL1; TOTP and single-use recovery codes as second
 * factors), sign-in that issues a session with a short access token and a rotating refresh
 * token, the session checks made on every request (idle and absolute timeouts, revocation),
 * and request-bound step-up (§3.2): a challenge bound to one request's method, path and body,
 * completed with a second factor into an AAL2 token usable for that request once.
 *
 * The factor functions (password, TOTP, recovery codes) are pure: bytes in, results out. The
 * rest takes the caller's store connection (its thread's), the control plane and an arena
 * for returned strings.
 */
#ifndef NOVA_PEOPLE_H
#define NOVA_PEOPLE_H

#include "nova/apikey.h"
#include "nova/auth.h"
#include "nova/base.h"
#include "nova/kv.h"
#include "nova/people_store.h"
#include "nova/store.h"

struct nova_webauthn_rp; /* below, with the passkey ceremonies */

/* ---- passwords (first factor, AAL1) ---- */

#define NOVA_PASSWORD_MIN 12  /* code points */
#define NOVA_PASSWORD_MAX 128 /* code points (NIST SP 800-63B asks for at least 64) */
#define NOVA_PASSWORD_HASH_MAX 128

/* Checks a new password: valid UTF-8 without control characters, NOVA_PASSWORD_MIN to
 * NOVA_PASSWORD_MAX code points, not one of the embedded common (breached) passwords, not a
 * single repeated character or a run of the keyboard or alphabet, and not containing the
 * account's own identifier (context, may be NULL: the email's local part). NOVA_INVALID with
 * *why (a static string, safe to return) otherwise. */
nova_status nova_password_check(const char *pw, size_t n, const char *context, const char **why);
/* argon2id (libsodium crypto_pwhash_str, 19 MiB, 2 passes) of the password into out
 * (NOVA_PASSWORD_HASH_MAX bytes, NUL-terminated). */
nova_status nova_password_hash(const char *pw, size_t n, char out[NOVA_PASSWORD_HASH_MAX]);
/* true when pw matches hash. A NULL or empty hash runs a comparison against a fixed hash so
 * that an unknown user costs the same time, and answers false. */
bool nova_password_verify(const char *hash, const char *pw, size_t n);

/* ---- TOTP (RFC 6238) ---- */

typedef enum nova_totp_alg { NOVA_TOTP_SHA1 = 0, NOVA_TOTP_SHA256, NOVA_TOTP_SHA512 } nova_totp_alg;

#define NOVA_TOTP_STEP 30     /* seconds */
#define NOVA_TOTP_DIGITS 6    /* digits of a code */
#define NOVA_TOTP_B32_MAX 104 /* base32 of up to 64 bytes, NUL included */

/* "SHA1", "SHA256", "SHA512" (the otpauth algorithm parameter). */
const char *nova_totp_alg_name(nova_totp_alg alg);
nova_status nova_totp_alg_parse(const char *name, nova_totp_alg *out);
/* The code of counter (RFC 4226 HOTP with the RFC 6238 algorithms; digits 6 to 8). */
uint32_t nova_totp_code(nova_totp_alg alg, const uint8_t *key, size_t klen, uint64_t counter,
                        unsigned digits);
/* Checks a code typed at time now against steps now-1, now, now+1 (RFC 6238 §5.2). A step at
 * or before last_step (the last one accepted for this secret) is refused, so a code is used
 * once. NOVA_OK with *step the step matched; NOVA_UNAUTHORIZED otherwise. code must be exactly
 * digits ASCII digits. Compares in constant time. */
nova_status nova_totp_verify(nova_totp_alg alg, const uint8_t *key, size_t klen, unsigned digits,
                             const char *code, int64_t now, int64_t last_step, int64_t *step);
/* RFC 4648 base32 without padding (the otpauth secret). encode writes a NUL-terminated string
 * to out (8 * ceil(n / 5) / 5 + 1 bytes suffice; NOVA_TOTP_B32_MAX for 64 bytes). decode
 * accepts upper or lower case, no padding or spaces; NOVA_INVALID otherwise. */
void nova_base32_encode(const uint8_t *in, size_t n, char *out);
nova_status nova_base32_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *outlen);
/* The enrolment URI (Key Uri Format): otpauth://totp/<issuer>:<account>?secret=..&issuer=..
 * &algorithm=..&digits=..&period=30, issuer and account percent-encoded. In ar. */
char *nova_totp_uri(nova_arena_t *ar, const char *issuer, const char *account, nova_totp_alg alg,
                    unsigned digits, const char *secret_b32);

/* ---- recovery codes ---- */

#define NOVA_RECOVERY_CODES 10
#define NOVA_RECOVERY_CODE_LEN 20 /* "xxxx-xxxx-xxxx-xxxx" and the NUL: 80 random bits */

/* Fresh codes (base32, lower case, grouped by four). */
nova_status nova_recovery_generate(char codes[NOVA_RECOVERY_CODES][NOVA_RECOVERY_CODE_LEN]);
/* hex(SHA-256("nova-recovery-v1|" user_id "|" normalized code)) into out: what is stored.
 * The code is normalized first (case folded, dashes and spaces dropped), so "ABCD EFGH..."
 * and "abcd-efgh-..." hash alike. NOVA_INVALID when it is not 16 base32 characters. 80 random
 * bits need no slow hash: guessing one takes 2^79 tries on average, offline or not. */
nova_status nova_recovery_hash(const char *user_id, const char *code, char out[65]);

/* ---- the domain ---- */

typedef struct nova_people nova_people_t;

/* Plans the policy tuples group:<group_id>#member@user:<id> of a SCIM group's change: writes
 * for every member after it and deletions for the removed ones, per policy store of the
 * tenant whose latest model admits them (arena array, n 0 when none). The group change writes
 * them in its own transaction. */
typedef nova_status (*nova_group_tuples_fn)(void *ud, nova_store_t *s, nova_arena_t *a,
                                            const nova_audit_actor_t *by, const char *tenant_id,
                                            const char *group_id, const char *const *members,
                                            size_t nmembers, const char *const *removed,
                                            size_t nremoved, nova_fga_batch_t **out, size_t *n);

typedef struct nova_people_config {
    const char *region;      /* data-key region personal data is sealed in (NULL/"": "global") */
    const char *totp_issuer; /* the otpauth issuer label (NULL: "Nova") */
    unsigned access_ttl;     /* seconds an access token lives (0: 300) */
    nova_group_tuples_fn group_tuples; /* NULL: groups write no policy tuples */
    /* After the change's commit: this process's policy indexes catch up with the batches
     * (read-your-writes); NULL: they catch up on their own (the change feed). */
    void (*group_tuples_synced)(void *ud, nova_store_t *s, const char *tenant_id,
                                const nova_fga_batch_t *b, size_t n);
    void *group_tuples_ud;
} nova_people_config_t;

/* A people domain over auth (borrowed: its data keys seal personal data) and kv (borrowed:
 * the hot session records, single-use facts). One serves every thread. */
nova_status nova_people_new(nova_auth_t *auth, nova_kv_t *kv, const nova_people_config_t *cfg,
                            nova_people_t **out);
void nova_people_free(nova_people_t *p);

/* A user as the API shows it: personal data opened (arena strings; reply with them, never log
 * them). */
typedef struct nova_user_view {
    const char *id;
    const char *tenant_id;
    const char *email;
    const char *name; /* NULL when none */
    const char *status;
    const char *roles;
    bool has_password;
    const char *totp_state;
    int64_t created_at;
    int64_t updated_at;
} nova_user_view_t;

typedef struct nova_user_spec {
    const char *email;    /* required on create */
    const char *name;     /* NULL: unchanged (update) or none (create) */
    const char *roles;    /* space-separated, up to 16 of [a-z0-9_:.-]{1,64}; NULL: unchanged/"" */
    const char *status;   /* "active" | "suspended"; NULL: unchanged/"active" */
    const char *password; /* create only; NULL: none (set later) */
} nova_user_spec_t;

/* Creates a user of tenant_id. NOVA_INVALID with *why naming the field; NOVA_CONFLICT when
 * the tenant has a user with that email. Audited "user.create" (no personal data). */
nova_status nova_people_user_create(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const nova_user_spec_t *spec, nova_user_view_t *out,
                                    const char **why);
nova_status nova_people_user_get(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const char *tenant_id, const char *id, nova_user_view_t *out);
/* The tenant's user with this email (through its blind index, case folded as at creation).
 * NOVA_NOT_FOUND when none. */
nova_status nova_people_user_find_email(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                        const char *tenant_id, const char *email,
                                        nova_user_view_t *out);
/* At most limit (1..200) users after the id `after` (NULL: from the start), oldest first. */
nova_status nova_people_user_list(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                  const char *tenant_id, const char *after, int64_t limit,
                                  nova_user_view_t **out, size_t *n);
/* Applies the non-NULL members name, roles, status. Suspending revokes the user's sessions.
 * Audited "user.update" (attrs: the members changed, never their values if personal). */
nova_status nova_people_user_update(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const char *id, const nova_user_spec_t *spec,
                                    nova_user_view_t *out, const char **why);
/* Deletes the user (personal data erased with the row) and ends its sessions. */
nova_status nova_people_user_delete(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const char *id);
/* Sets a user's password after nova_password_check. */
nova_status nova_people_password_set(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const nova_audit_actor_t *by, const char *tenant_id,
                                     const char *id, const char *password, const char **why);

/* ---- TOTP enrolment ---- */

typedef struct nova_totp_enrolment {
    const char *secret_b32;
    const char *uri; /* otpauth://... (QR-ready text) */
    const char *algorithm;
    unsigned digits;
    unsigned period;
} nova_totp_enrolment_t;

/* Starts TOTP enrolment: a fresh secret, sealed and pending until confirmed. alg NULL: SHA1
 * (what every authenticator app reads). NOVA_CONFLICT when TOTP is already active. */
nova_status nova_people_totp_begin(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                   const nova_audit_actor_t *by, const char *tenant_id,
                                   const char *user_id, const char *alg,
                                   nova_totp_enrolment_t *out);
/* Confirms enrolment with a code of the pending secret; activates it and returns fresh
 * recovery codes (shown once). NOVA_UNAUTHORIZED for a wrong code, NOVA_CONFLICT when
 * nothing is pending. */
nova_status nova_people_totp_confirm(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const nova_audit_actor_t *by, const char *tenant_id,
                                     const char *user_id, const char *code,
                                     char codes[NOVA_RECOVERY_CODES][NOVA_RECOVERY_CODE_LEN]);
nova_status nova_people_totp_remove(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const char *user_id);
nova_status
nova_people_recovery_regenerate(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                const nova_audit_actor_t *by, const char *tenant_id,
                                const char *user_id,
                                char codes[NOVA_RECOVERY_CODES][NOVA_RECOVERY_CODE_LEN]);

/* ---- sign-in and sessions ---- */

/* What a token or session vouches for. Arena strings. */
typedef struct nova_user_claims {
    const char *tenant_id;
    const char *user_id;
    const char *session_id;
    const char *jti;
    const char *amr;  /* space-separated */
    const char *orig; /* cnf.orig of a step-up token (the request it is bound to), else NULL */
    int aal;
    bool enrol_only; /* the session may only enrol a second factor (mfa required, none yet) */
    bool cae_held;   /* continuous evaluation forced a step-up that is not done yet */
    int64_t exp;
    const char *jit;      /* a just-in-time credential: the access request that granted it */
    const char *jit_role; /* and the role it grants */
    const char *ctx_ip;   /* the request's address and User-Agent (borrowed) */
    const char *ctx_device;
} nova_user_claims_t;

typedef struct nova_login_request {
    const char *tenant_id;
    const char *email;
    const char *password;
    const char *mfa_token;     /* second step: the token the first step returned */
    const char *totp_code;     /* second step */
    const char *recovery_code; /* second step, instead of totp_code */
    const char *device;        /* User-Agent (truncated) */
    const char *ip;
    int session_timeout_minutes; /* the tenant's (idle timeout; the absolute lifetime is 12x,
                                    at most 24 h) */
    bool mfa_required;           /* the tenant's mfa_required_for_all_users */
} nova_login_request_t;

typedef enum nova_login_outcome {
    NOVA_LOGIN_OK = 0,
    NOVA_LOGIN_MFA,       /* password accepted, second factor needed: mfa_token set */
    NOVA_LOGIN_ENROL,     /* the tenant requires MFA and the user has none: an enrol-only
                             session (its token may only enrol TOTP) */
    NOVA_LOGIN_BAD,       /* wrong email or password (one answer for both) */
    NOVA_LOGIN_BAD_MFA,   /* wrong, reused or expired second factor */
    NOVA_LOGIN_SUSPENDED, /* the account is suspended */
    NOVA_LOGIN_CLONED,    /* a passkey's signature counter went backwards: flagged */
    NOVA_LOGIN_OUTCOME_N
} nova_login_outcome;
/* "ok", "mfa_required", ... for metrics and the audit. */
const char *nova_login_outcome_name(nova_login_outcome o);

typedef struct nova_login_result {
    nova_login_outcome outcome;
    nova_user_session_t session;
    const char *access_token;
    int64_t expires_in;
    const char *refresh_token;
    const char *mfa_token; /* NOVA_LOGIN_MFA: single use, 5 minutes */
    const char *user_id;   /* when the user is known (for rate limits and the audit) */
} nova_login_result_t;

/* POST /auth/login: password first (AAL1), then TOTP or a recovery code (AAL2) when the user
 * has TOTP or the tenant requires MFA. A failure is NOVA_OK with the outcome set (so the
 * caller counts it); an error status only for store or control-plane failures. Successful
 * sign-ins are audited "session.create" with the AAL and methods. */
nova_status nova_people_login(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                              const nova_login_request_t *req, nova_login_result_t *out);
/* Rotates a refresh token into a new access and refresh token. A spent one presented again
 * revokes its session. NOVA_UNAUTHORIZED for an unknown, spent, expired or revoked token. */
nova_status nova_people_refresh(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                const char *refresh_token, const char *ip,
                                nova_login_result_t *out);
/* Verifies a user access token: signature by the tenant's people key, iss, aud, exp, then the
 * session in the control plane (not revoked, within its idle and absolute timeouts; activity
 * recorded), then continuous access evaluation of this request's ip and device (User-Agent)
 * against the session's (the tenant's settings: downgrade, step-up, revoke); out->aal is the
 * effective AAL. NOVA_UNAUTHORIZED with *why; NOVA_UNAVAILABLE when kv or the store are down. */
nova_status nova_people_token_verify(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const char *token, const char *ip, const char *device,
                                     nova_user_claims_t *out, const char **why);
/* Whether a token says it is a user access token (its unverified payload's aud is
 * "nova:people"): which verifier to hand it to, never a verification. */
bool nova_people_token_looks_user(const char *token);
/* The roles a user access token acts with (c from nova_people_token_verify): the user's,
 * and under a just-in-time credential its role too. NOVA_UNAUTHORIZED when the user is gone
 * or not active. One store read, no personal data opened. */
nova_status nova_people_token_roles(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                    const nova_user_claims_t *c, const char **roles);
/* Ends one session (the store row and the control-plane record), audited "session.revoke". */
nova_status nova_people_session_revoke(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                       const nova_audit_actor_t *by, const char *tenant_id,
                                       const char *session_id, const char *reason);
/* Ends every session of the user; *n how many. Audited "session.revoke_all". */
nova_status nova_people_session_revoke_user(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                            const nova_audit_actor_t *by, const char *tenant_id,
                                            const char *user_id, const char *reason, size_t *n);
/* The control-plane record's last activity (0 when the session is over). */
int64_t nova_people_session_last_seen(nova_people_t *p, nova_arena_t *ar, const char *tenant_id,
                                      const char *session_id);

/* ---- continuous access evaluation (seed 003 §3.4, src/people/cae.c) ---- */

typedef enum nova_cae_action {
    NOVA_CAE_NONE = 0,
    NOVA_CAE_DOWNGRADE, /* the session drops to AAL1 and adopts the new context */
    NOVA_CAE_STEP_UP,   /* AAL1 until a step-up completes from the new context */
    NOVA_CAE_REVOKE,    /* the session ends */
} nova_cae_action;

#define NOVA_CAE_LOCATIONS_MAX 64

typedef struct nova_cae_location {
    nova_cidr_t cidr;
    char cidr_text[50];
    double lat, lon;
    char name[32];
} nova_cae_location_t;

/* A tenant's people settings: what each event does, the speed over which travel between two
 * located requests is impossible, and the tenant's IP-range location table. */
typedef struct nova_people_settings {
    nova_cae_action ip_drift, device_change, impossible_travel;
    int max_speed_kmh; /* 50..5000, default 900 */
    size_t nloc;
    nova_cae_location_t loc[NOVA_CAE_LOCATIONS_MAX];
} nova_people_settings_t;

/* Defaults: every action none, 900 km/h, no locations. */
void nova_people_settings_default(nova_people_settings_t *s);
/* From a JSON object (json_t *), members optional; NOVA_INVALID with *why naming the field. */
nova_status nova_people_settings_from_json(const void *obj, nova_people_settings_t *out,
                                           const char **why);
/* Every member (json_t *, caller decrefs). */
void *nova_people_settings_to_json(const nova_people_settings_t *s);
/* The tenant's settings (defaults when none are stored), cached by the process for 5 s. */
nova_status nova_people_settings_get(nova_people_t *p, nova_store_t *s, const char *tenant_id,
                                     nova_people_settings_t *out);
/* Validates and stores them (audited "people_settings.update"). */
nova_status nova_people_settings_put(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const nova_audit_actor_t *by, const char *tenant_id,
                                     const void *obj, nova_people_settings_t *out,
                                     const char **why);

/* ---- request-bound step-up (seed 003 §3.2) ---- */

#define NOVA_STEPUP_CHALLENGE_TTL 300
#define NOVA_STEPUP_TOKEN_TTL 600

/* base64url(SHA-256(method "|" path "|" normalized body)) into out (44 bytes). path is the
 * raw request target (path, and "?query" when there is one). The body is normalized when it
 * is a JSON object or array: parsed strictly, then written with keys sorted and no
 * whitespace (jansson's JSON_COMPACT | JSON_SORT_KEYS, its escaping); any other body (empty,
 * or not JSON) is taken byte for byte. */
nova_status nova_stepup_orig_hash(const char *method, const char *path, const void *body,
                                  size_t len, char out[44]);
/* A challenge JWT for the user of c: {origHash, tid, sub, sid, jti, iat, exp: now + 300},
 * signed by the tenant's people key (typ "mfa-challenge+jwt"). In ar. */
nova_status nova_people_stepup_challenge(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                         const nova_user_claims_t *c, const char *orig_hash,
                                         const char **challenge);
/* Completes a step-up: the challenge verifies, is the caller's (same tenant, user and
 * session), unexpired and unused (single use in kv), its origHash equals orig_hash (the
 * caller recomputes it from the request the client names), and the factor is right: a TOTP
 * code or a recovery code (spent in the transaction of the "stepup.complete" entry), or a
 * passkey assertion (passkey: json_t *, UV required) whose WebAuthn challenge is
 * base64url(SHA-256(challenge)). Issues an AAL2
 * access token with cnf.orig = origHash, valid 600 s and for one request.
 * NOVA_UNAUTHORIZED with *why otherwise. */
nova_status nova_people_stepup_complete(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                        const nova_user_claims_t *c, const char *challenge,
                                        const char *orig_hash, const char *totp_code,
                                        const char *recovery_code, void *passkey,
                                        const struct nova_webauthn_rp *rp, const char **token,
                                        const char **why);
/* Whether c may perform the request whose hash is orig_hash at aal: a session at aal or
 * more without a binding, or a step-up token bound to exactly this request and not used
 * before (the use is recorded in kv: a replay is refused). NOVA_FORBIDDEN when step-up is
 * needed (*why says why), NOVA_UNAVAILABLE when kv is down. */
nova_status nova_people_stepup_admit(nova_people_t *p, const nova_user_claims_t *c, int aal,
                                     const char *orig_hash, const char **why);

/* ---- WebAuthn (passkeys), the relying party's checks (src/people/webauthn.c) ---- */

enum { NOVA_COSE_ES256 = -7, NOVA_COSE_EDDSA = -8, NOVA_COSE_RS256 = -257 };

/* What a ceremony must match. */
typedef struct nova_webauthn_expect {
    const char *type;      /* "webauthn.create" | "webauthn.get" */
    const char *challenge; /* base64url of the challenge this server issued */
    const char *origin;    /* "https://app.example" (the RP's web origin) */
    const char *rp_id;     /* "app.example" */
    bool require_uv;       /* refuse without the UV flag */
} nova_webauthn_expect_t;

typedef struct nova_webauthn_reg {
    const uint8_t *cred_id; /* in the arena */
    size_t cred_id_len;
    const uint8_t *public_key; /* the COSE_Key bytes, to store */
    size_t public_key_len;
    int alg;         /* NOVA_COSE_* */
    const char *fmt; /* "none", "packed-self", "packed-x5c" */
    uint32_t sign_count;
    bool user_verified;
    char aaguid[37];
} nova_webauthn_reg_t;

/* §7.1: clientDataJSON (type, challenge, origin, not cross-origin), the attestation object
 * (CBOR: fmt, attStmt, authData), rpIdHash, UP (and UV when required), the credential's
 * COSE key (ES256, EdDSA, RS256) and the attestation (none, packed self or x5c).
 * NOVA_UNAUTHORIZED with *why (static text naming the part) otherwise. */
nova_status nova_webauthn_verify_registration(nova_arena_t *ar, const nova_webauthn_expect_t *e,
                                              const uint8_t *client_data, size_t cdl,
                                              const uint8_t *attestation, size_t aol,
                                              nova_webauthn_reg_t *out, const char **why);

typedef struct nova_webauthn_assertion {
    uint32_t sign_count;
    bool user_verified;
} nova_webauthn_assertion_t;

/* §7.2: client data, authenticator data (rpIdHash, UP, UV when required) and the signature
 * over authData || SHA-256(clientDataJSON) with the stored COSE key. The counter is the
 * caller's to compare (nova_webauthn_counter_ok). */
nova_status nova_webauthn_verify_assertion(const nova_webauthn_expect_t *e,
                                           const uint8_t *public_key, size_t pkl,
                                           const uint8_t *client_data, size_t cdl,
                                           const uint8_t *auth_data, size_t adl, const uint8_t *sig,
                                           size_t sl, nova_webauthn_assertion_t *out,
                                           const char **why);
/* false when the signature counter did not grow (both 0: an authenticator without one). */
bool nova_webauthn_counter_ok(uint32_t stored, uint32_t seen);

/* ---- passkey ceremonies (src/people/passkeys.c) ---- */

/* The relying party: its id (a host name) and the web origin ceremonies run on. */
typedef struct nova_webauthn_rp {
    const char *rp_id;
    const char *rp_name;
    const char *origin;
} nova_webauthn_rp_t;

/* PublicKeyCredentialCreationOptions for the user of c (JSON text, caller frees with free()):
 * a fresh challenge (single use, 300 s), EdDSA, ES256 and RS256, the user's credentials
 * excluded, direct attestation requested. */
nova_status nova_people_passkey_register_begin(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                               const nova_user_claims_t *c,
                                               const nova_webauthn_rp_t *rp, char **options);
/* Verifies the browser's credential (a json_t * object: id, type, response.clientDataJSON,
 * response.attestationObject, base64url) against the challenge issued to this user, and
 * stores the passkey (audited "passkey.register"). NOVA_INVALID / NOVA_UNAUTHORIZED with
 * *why; NOVA_CONFLICT when registered already. */
nova_status nova_people_passkey_register_finish(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                                const nova_user_claims_t *c,
                                                const nova_webauthn_rp_t *rp, void *credential,
                                                nova_passkey_t *out, const char **why);
/* PublicKeyCredentialRequestOptions (JSON text, free()): a fresh challenge; with an email,
 * that user's credentials as allowCredentials. */
nova_status nova_people_passkey_login_begin(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                            const char *tenant_id, const char *email,
                                            const nova_webauthn_rp_t *rp, char **options);
/* Verifies an assertion (json_t *: id, type, response.clientDataJSON, .authenticatorData,
 * .signature) and opens a session: AAL2 when the authenticator verified the user. A failure
 * is NOVA_OK with out->outcome set (BAD, SUSPENDED, CLONED) and *why; NOVA_INVALID for a
 * malformed credential. */
nova_status nova_people_passkey_login_finish(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                             const nova_login_request_t *req,
                                             const nova_webauthn_rp_t *rp, void *credential,
                                             nova_login_result_t *out, const char **why);

/* ---- just-in-time access and break-glass (src/people/access.c) ---- */

typedef struct nova_access_spec {
    const char *role;
    const char *reason; /* 10..500 characters */
    const char *ticket; /* the change or incident ticket reference */
    int64_t duration_s; /* 5..28800 (break-glass 5..3600) */
    bool break_glass;   /* two approvals, its own log stream */
} nova_access_spec_t;

/* The caller (c) asks for spec->role. Audited "access.request" / "breakglass.request". */
nova_status nova_people_access_request(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                       const nova_user_claims_t *c, const nova_access_spec_t *spec,
                                       nova_access_request_t *out, const char **why);
/* The caller approves request id: NOVA_FORBIDDEN unless they hold access-approver and are not
 * the requester; NOVA_CONFLICT when approved already or by them already. The last approval
 * needed starts the time box. Audited "access.approve" / "breakglass.approve". */
nova_status nova_people_access_approve(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                       const nova_user_claims_t *c, const char *id,
                                       nova_access_request_t *out, const char **why);
/* The requester takes the credential of an approved, unexpired request: *token, a user
 * access token with jit and roles, valid until the request's end. */
nova_status nova_people_access_activate(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                        const nova_user_claims_t *c, const char *id,
                                        nova_access_request_t *out, const char **token,
                                        const char **why);
/* The caller's requests, or the tenant's when the caller is an approver. */
nova_status nova_people_access_list(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                    const nova_user_claims_t *c, nova_access_request_t **out,
                                    size_t *n);

/* `novactl user create --tenant ID [--name NAME] EMAIL`, `user list --tenant ID`,
 * `user suspend --tenant ID USER_ID` (verb "create" | "list" | "suspend"; args the positional
 * arguments). Prints JSON when json, else one line per user. Returns novactl's exit code. */
int nova_people_ctl_user(nova_auth_t *auth, nova_store_t *s, const char *redis_url,
                         const char *verb, const char *tenant_id, const char *name,
                         const char *const *args, bool json);

/* `novactl idp list --tenant ID` (the tenant's OIDC and SAML IdPs, each with its
 * "protocol") and `novactl idp delete --tenant ID IDP_ID` (the protocol by the id's prefix;
 * as DELETE /v1/people/<proto>/idps/{id}: audited "<proto>_idp.delete" with the actor
 * "novactl", the sessions it opened revoked; with the in-process control plane a running
 * novad's session records are beyond novactl's reach, so those sessions end at their rows:
 * no refresh, access tokens within their 300 s). verb "list" | "delete". Prints JSON when
 * json, else one line per IdP. Returns novactl's exit code (7: no such tenant or IdP). */
int nova_people_ctl_idp(nova_auth_t *auth, nova_store_t *s, const char *redis_url, const char *verb,
                        const char *tenant_id, const char *const *args, bool json);

/* The sign-in page (src/people/signin.html, embedded at build time). */
extern const char nova_people_signin_html[];
extern const size_t nova_people_signin_html_len;

/* `novactl breakglass drill --tenant ID`: runs break-glass end to end on drill accounts
 * (made when absent: breakglass-drill@drill.invalid and two approvers): a request, one
 * approval (activation must be refused), a second approval, activation, the credential
 * verified; then the drill's sessions end. Everything is audited as in real use. Prints the
 * outcome (JSON when json); returns novactl's exit code (1 when a step did not behave). */
int nova_people_ctl_breakglass_drill(nova_auth_t *auth, nova_store_t *s, const char *redis_url,
                                     const char *tenant_id, bool json);

/* Counters for /metrics (Prometheus text). */
nova_status nova_people_metrics(nova_buf_t *out);

/* ---- groups (SCIM Groups, src/people/groups.c) ---- */

#define NOVA_GROUP_MAX_MEMBERS 1000
#define NOVA_GROUP_MAX_MAPPINGS 256

/* A group as the API shows it. Arena strings; members are user ids, ordered. */
typedef struct nova_group_view {
    const char *id;
    const char *display_name;
    const char *external_id; /* NULL when none */
    const char **members;
    size_t nmembers;
    int64_t version; /* one more at each change: the ETag */
    int64_t created_at, updated_at;
} nova_group_view_t;

/* What a create or update sets. */
typedef struct nova_group_spec {
    const char *display_name; /* required on create; NULL: unchanged */
    const char *external_id;  /* with has_external: set (NULL clears) */
    bool has_external;
    const char *const *members; /* with has_members: the members after the change */
    size_t nmembers;
    bool has_members;
} nova_group_spec_t;

/* Who joined and who left in a change (arena arrays), and the relationship tuples the
 * config's group_tuples planned and the change's transaction wrote. */
typedef struct nova_group_change {
    const char **added;
    size_t nadded;
    const char **removed;
    size_t nremoved;
    nova_fga_batch_t *fga; /* the policy tuples written with the change (seq: each store's feed) */
    size_t nfga;
} nova_group_change_t;

/* Creates a group of tenant_id with its members (users of the tenant) and gives them the
 * roles the tenant maps the group's name to. displayName is unique in the tenant without
 * regard to ASCII case. NOVA_INVALID with *why (displayName, externalId, a member that is not
 * a user of the tenant, a member who would hold more than 16 roles); NOVA_CONFLICT with *why
 * when another group has the name or externalId. Audited "scim_group.create" (ids and counts,
 * no names), each member's role change "user.update". */
nova_status nova_people_group_create(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const nova_audit_actor_t *by, const char *tenant_id,
                                     const nova_group_spec_t *spec, nova_group_view_t *out,
                                     nova_group_change_t *change, const char **why);
/* Applies spec to the group id; if_version > 0: only if the group is at that version, else
 * NOVA_CONFLICT with *why "version". Roles follow as in create. Audited "scim_group.update". */
nova_status nova_people_group_update(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const nova_audit_actor_t *by, const char *tenant_id,
                                     const char *id, int64_t if_version,
                                     const nova_group_spec_t *spec, nova_group_view_t *out,
                                     nova_group_change_t *change, const char **why);
/* Deletes a group; its members lose the roles only it gave. change->removed: its members.
 * Audited "scim_group.delete". */
nova_status nova_people_group_delete(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const nova_audit_actor_t *by, const char *tenant_id,
                                     const char *id, nova_group_change_t *change);
nova_status nova_people_group_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                  const char *id, nova_group_view_t *out);
/* Every group of the tenant with its members, oldest first. */
nova_status nova_people_group_list(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                   nova_group_view_t **out, size_t *n);
/* The groups user_id is a member of (group_id of each row). */
nova_status nova_people_user_groups(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                    const char *user_id, nova_scim_member_t **out, size_t *n);
/* The tenant's group->role mapping (group_name, name_key, role). */
nova_status nova_people_group_roles_get(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                        nova_scim_group_role_t **out, size_t *n);
/* Replaces the mapping (at most NOVA_GROUP_MAX_MAPPINGS rows of a group name and one role;
 * name_key is computed here) and recomputes the roles of every group member. NOVA_INVALID
 * with *why. Audited "scim_group_roles.put". */
nova_status nova_people_group_roles_put(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                        const nova_audit_actor_t *by, const char *tenant_id,
                                        const nova_scim_group_role_t *rows, size_t n,
                                        const char **why);

/* ---- SCIM 2.0 filters (RFC 7644 §3.4.2.2; src/people/scim_filter.c) ---- */

typedef struct nova_scim_filter nova_scim_filter_t;
/* One attribute value of a resource: path lower case ("username", "emails.value"); a string
 * (case_exact: compared as is, else case-insensitively) or a boolean. A multi-valued
 * attribute has one entry per value; a NULL str is absent. */
typedef struct nova_scim_attr {
    const char *path;
    const char *str;
    bool is_bool, b, case_exact;
} nova_scim_attr_t;
/* Parses a filter (at most 4096 bytes, 16 levels, 256 expressions) into ar. NOVA_INVALID
 * with *why (a static string naming what is wrong, for scimType invalidFilter). */
nova_status nova_scim_filter_parse(nova_arena_t *ar, const char *text, size_t n,
                                   const nova_scim_filter_t **out, const char **why);
/* true when f is exactly `<path> eq "<string>"` (path lower case, as in nova_scim_attr_t),
 * with *value the string: the shape an IdP sends before it creates a user, which a caller
 * can answer through an index instead of a scan. */
bool nova_scim_filter_is_eq(const nova_scim_filter_t *f, const char *path, const char **value);
/* true when some comparison of f is on attr or one of its sub-attributes ("groups" for
 * groups.value), so a caller loads that attribute's values only when a filter needs them. */
bool nova_scim_filter_mentions(const nova_scim_filter_t *f, const char *attr);
/* true when the resource whose attribute values are attrs[0..n) matches f. */
bool nova_scim_filter_match(const nova_scim_filter_t *f, const nova_scim_attr_t *attrs, size_t n);

/* A PATCH operation's path (RFC 7644 §3.5.2): attr lower case with its schema URN dropped
 * ("members", "displayname"); filter the value filter of "members[value eq \"...\"]" (NULL:
 * none), whose paths are under attr ("members.value"); sub the sub-attribute after the
 * filter or after a dot ("members[...].display", "name.givenname"), lower case, or NULL. */
typedef struct nova_scim_path {
    const char *attr;
    const nova_scim_filter_t *filter;
    const char *sub;
} nova_scim_path_t;
/* Parses a PATCH path into ar. NOVA_INVALID with *why (static, for scimType invalidPath). */
nova_status nova_scim_path_parse(nova_arena_t *ar, const char *text, size_t n,
                                 nova_scim_path_t *out, const char **why);

/* ---- federation and provisioning counters (issue 11 item 10) ---- */

typedef enum nova_fed_protocol {
    NOVA_FED_SCIM = 0,
    NOVA_FED_OIDC,
    NOVA_FED_SAML,
    NOVA_FED_PROTOCOL_N
} nova_fed_protocol;
/* A federation protocol's IdP administration, one table per protocol (src/people/oidc.c,
 * src/people/saml.c): what the /v1/people/<name>/idps handlers (src/api/fed_idps.c) and
 * novactl's idp commands call. A view is the protocol's (nova_oidc_idp_t,
 * nova_saml_idp_t: view_size bytes, strings in the arena); obj is a json_t object. The
 * mutations audit "<name>_idp.create|update|delete" and answer NOVA_INVALID with *why,
 * NOVA_CONFLICT (an IdP of that issuer or entity ID exists), NOVA_NOT_FOUND, or
 * NOVA_UNAVAILABLE (metadata that could not be fetched, or the control plane on delete). */
typedef struct nova_fed_idp_ops {
    nova_fed_protocol proto;
    const char *name;           /* "oidc", "saml": the path segment and audit prefix */
    const char *const *members; /* what a create or update body may hold (NULL-terminated) */
    const char *url_member;     /* the member naming a URL novad fetches ("issuer", ...) */
    bool url_on_update;         /* whether an update may name it again */
    size_t view_size;
    /* base_url: novad's public URL (SAML's ACS and SP metadata live under it). */
    nova_status (*create)(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                          const nova_audit_actor_t *by, const char *tenant_id, const char *base_url,
                          const void *obj, void *out, const char **why);
    nova_status (*update)(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                          const nova_audit_actor_t *by, const char *tenant_id, const char *id,
                          const void *obj, void *out, const char **why);
    nova_status (*get)(nova_store_t *s, nova_arena_t *ar, const char *tenant_id, const char *id,
                       void *out);
    /* *out an arena array of *n views, oldest first (at most 100). */
    nova_status (*list)(nova_store_t *s, nova_arena_t *ar, const char *tenant_id, void **out,
                        size_t *n);
    /* Also revokes the sessions the IdP opened (nova_oidc_idp_delete). */
    nova_status (*remove)(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                          const nova_audit_actor_t *by, const char *tenant_id, const char *id);
    void *(*to_json)(const void *view); /* json_t *, caller decrefs */
    const char *(*id_of)(const void *view);
} nova_fed_idp_ops_t;
/* The table of NOVA_FED_OIDC or NOVA_FED_SAML, or of the name "oidc" or "saml"; NULL for
 * anything else. */
const nova_fed_idp_ops_t *nova_fed_idp_ops(nova_fed_protocol proto);
const nova_fed_idp_ops_t *nova_fed_idp_ops_named(const char *name);

typedef enum nova_fed_reason {
    NOVA_FED_TOKEN_MISSING = 0, /* no bearer token of the protocol */
    NOVA_FED_TOKEN_MALFORMED,
    NOVA_FED_TOKEN_UNKNOWN, /* unknown or revoked */
    NOVA_FED_INVALID_FILTER,
    NOVA_FED_INVALID_SYNTAX,
    NOVA_FED_INVALID_VALUE,
    NOVA_FED_INVALID_PATH,
    NOVA_FED_MUTABILITY,
    NOVA_FED_UNIQUENESS,
    NOVA_FED_NOT_FOUND,
    NOVA_FED_PRECONDITION, /* If-Match did not match */
    NOVA_FED_UNAVAILABLE,
    NOVA_FED_OTHER,
    NOVA_FED_REASON_N
} nova_fed_reason;
typedef enum nova_fed_change {
    NOVA_FED_CREATED = 0,
    NOVA_FED_REPLACED,
    NOVA_FED_PATCHED,
    NOVA_FED_DELETED,
    NOVA_FED_CHANGE_N
} nova_fed_change;
/* Counts a refused federation or provisioning request, shown by nova_people_metrics as
 * nova_people_federation_failures_total{protocol,reason}. */
void nova_people_count_federation_failure(nova_fed_protocol proto, nova_fed_reason reason);
/* Counts a user changed by provisioning: nova_people_provisioned_total{protocol,change}. */
void nova_people_count_provisioned(nova_fed_protocol proto, nova_fed_change change);

#endif
