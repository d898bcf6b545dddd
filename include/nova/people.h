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

#include "nova/base.h"

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

#define NOVA_TOTP_STEP 30       /* seconds */
#define NOVA_TOTP_DIGITS 6      /* digits of a code */
#define NOVA_TOTP_SECRET_LEN 20 /* bytes of a fresh secret (160 bits, RFC 4226 §4) */
#define NOVA_TOTP_B32_MAX 104   /* base32 of up to 64 bytes, NUL included */

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

#endif
