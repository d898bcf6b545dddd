/*
 * people_bench.c: the people module's costs, in process (issue 11's bench list):
 *   login_password_totp   POST /auth/login's two steps as the domain runs them: argon2id of
 *                         the password, then a TOTP code (a fresh 30 s step each round)
 *   passkey_assertion_*   nova_webauthn_verify_assertion (ES256, EdDSA): client data, authData,
 *                         COSE key decode, signature
 *   session_check         nova_people_token_verify: the user token's signature and claims plus
 *                         the session's control-plane record (idle, absolute, revoked); the
 *                         per-request cost, target p99 < 1 ms
 *   client_token_verify   nova_auth_token_verify of a client token (its cache and the store's
 *                         liveness read), the /v1 path the session check is compared with
 * Usage: people_bench SCALE OUT.json [REDIS_URL] (SCALE 1 for the full run, 0.05 for a smoke).
 * SQLite store in a temporary file; the control plane in-process, or Redis when a URL is given
 * (then the session check pays one round trip).
 */
#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nova/auth.h"
#include "nova/people.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static json_t *summary(double *t, long n)
{
    double sum = 0;
    qsort(t, (size_t)n, sizeof(*t), cmp);
    for (long i = 0; i < n; i++)
        sum += t[i];
    return json_pack("{s:I, s:f, s:f, s:f, s:f}", "n", (json_int_t)n, "mean_us", sum / (double)n,
                     "p50_us", t[n / 2], "p99_us", t[(long)((double)n * 0.99)], "max_us", t[n - 1]);
}

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if ((x) != NOVA_OK) {                                                                      \
            fprintf(stderr, "people_bench: %s failed at line %d\n", #x, __LINE__);                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* One assertion of a fresh key for alg, verified n times. */
static json_t *assertion_bench(int alg, long n)
{
    EVP_PKEY *k =
        alg == NOVA_COSE_ES256 ? EVP_EC_gen("P-256") : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    uint8_t cose[128], ad[37], msg[69], sig[128], h[32];
    size_t cl = 0;
    if (alg == NOVA_COSE_ES256) {
        uint8_t pt[65];
        size_t pl;
        EVP_PKEY_get_octet_string_param(k, "pub", pt, sizeof(pt), &pl);
        const uint8_t head[] = {0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20};
        memcpy(cose, head, sizeof(head));
        cl = sizeof(head);
        memcpy(cose + cl, pt + 1, 32);
        cl += 32;
        cose[cl++] = 0x22;
        cose[cl++] = 0x58;
        cose[cl++] = 0x20;
        memcpy(cose + cl, pt + 33, 32);
        cl += 32;
    } else {
        uint8_t x[32];
        size_t xl = 32;
        EVP_PKEY_get_raw_public_key(k, x, &xl);
        const uint8_t head[] = {0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06, 0x21, 0x58, 0x20};
        memcpy(cose, head, sizeof(head));
        cl = sizeof(head);
        memcpy(cose + cl, x, 32);
        cl += 32;
    }
    const char *cd = "{\"type\":\"webauthn.get\",\"challenge\":"
                     "\"q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80\",\"origin\":"
                     "\"https://app.example\",\"crossOrigin\":false}";
    nova_sha256("app.example", 11, ad);
    ad[32] = 0x05;
    memset(ad + 33, 0, 4);
    ad[36] = 7;
    nova_sha256(cd, strlen(cd), h);
    memcpy(msg, ad, 37);
    memcpy(msg + 37, h, 32);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t sl = sizeof(sig);
    EVP_DigestSignInit(c, NULL, alg == NOVA_COSE_ES256 ? EVP_sha256() : NULL, NULL, k);
    EVP_DigestSign(c, sig, &sl, msg, sizeof(msg));
    EVP_MD_CTX_free(c);
    nova_webauthn_expect_t e = {.type = "webauthn.get",
                                .challenge = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80",
                                .origin = "https://app.example",
                                .rp_id = "app.example"};
    double *t = calloc((size_t)n, sizeof(*t));
    for (long i = 0; i < n; i++) {
        nova_webauthn_assertion_t as;
        const char *why;
        double t0 = now_us();
        CHECK(nova_webauthn_verify_assertion(&e, cose, cl, (const uint8_t *)cd, strlen(cd), ad,
                                             sizeof(ad), sig, sl, &as, &why));
        t[i] = now_us() - t0;
    }
    EVP_PKEY_free(k);
    json_t *o = summary(t, n);
    free(t);
    return o;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: people_bench SCALE OUT.json [REDIS_URL]\n");
        return 2;
    }
    double scale = atof(argv[1]);
    if (scale <= 0 || scale > 10)
        scale = 1;
    char dir[] = "/tmp/people-bench.______", url[300], err[256];
    memset(dir + strlen(dir) - 6, 'X', 6); /* mkdtemp's template */
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(url, sizeof(url), "sqlite:%s/bench.db", dir);
    nova_store_t *s;
    int from, to;
    CHECK(nova_store_open(url, &s, err, sizeof(err)));
    CHECK(nova_store_migrate(s, &from, &to));
    nova_auth_config_t cfg = {.issuer = "http://localhost:8080",
                              .audience = "nova-api",
                              .token_ttl = 300,
                              .alg = NOVA_JWS_EDDSA,
                              .token_cache = 1024};
    CHECK(nova_random_bytes(cfg.master_key, 32));
    nova_auth_t *auth;
    nova_kv_t *kv;
    nova_people_t *p;
    CHECK(nova_auth_new(&cfg, &auth));
    CHECK(nova_auth_master_key_bind(s, cfg.master_key));
    CHECK(nova_kv_open(argc == 4 ? argv[3] : "", NULL, &kv, err, sizeof(err)));
    CHECK(nova_people_new(auth, kv, NULL, &p));
    nova_arena_t ar;
    nova_arena_init(&ar, 1 << 16);
    nova_audit_actor_t by = {.id = "bench"};
    nova_tenant_t t;
    CHECK(nova_auth_tenant_create(auth, s, &ar, &by, "people-bench", &t));
    char tid[64];
    snprintf(tid, sizeof(tid), "%s", t.id); /* the arena is reset between rounds */
    t.id = tid;
    nova_user_spec_t spec = {.email = "bench@example.com", .password = "a long enough passphrase"};
    nova_user_view_t u;
    const char *why;
    CHECK(nova_people_user_create(p, s, &ar, &by, t.id, &spec, &u, &why));

    /* A session to enrol TOTP in. */
    nova_login_request_t req = {.tenant_id = t.id,
                                .email = spec.email,
                                .password = spec.password,
                                .device = "bench",
                                .ip = "127.0.0.1",
                                .session_timeout_minutes = 30};
    nova_login_result_t g;
    CHECK(nova_people_login(p, s, &ar, &req, &g));
    nova_user_claims_t c;
    CHECK(nova_people_token_verify(p, s, &ar, g.access_token, "127.0.0.1", "bench", &c, &why));
    nova_totp_enrolment_t en;
    CHECK(nova_people_totp_begin(p, s, &ar, &by, t.id, u.id, NULL, &en));
    uint8_t key[64];
    size_t kl;
    CHECK(nova_base32_decode(en.secret_b32, strlen(en.secret_b32), key, sizeof(key), &kl));
    int64_t base = nova_time_now();
    char code[12], codes[NOVA_RECOVERY_CODES][NOVA_RECOVERY_CODE_LEN];
    snprintf(code, sizeof(code), "%06u",
             nova_totp_code(NOVA_TOTP_SHA1, key, kl, (uint64_t)(base / 30), 6));
    CHECK(nova_people_totp_confirm(p, s, &ar, &by, t.id, u.id, code, codes));

    json_t *out = json_pack("{s:s}", "control_plane", nova_kv_driver(kv));
    long nl = (long)(40 * scale) < 3 ? 3 : (long)(40 * scale);
    double *tl = calloc((size_t)nl, sizeof(double));
    for (long i = 0; i < nl; i++) {
        /* Each round at a later 30 s step: a code is accepted once. */
        int64_t at = base + 30 * (i + 1);
        nova_time_set_fake(at);
        nova_login_result_t one, two;
        double t0 = now_us();
        CHECK(nova_people_login(p, s, &ar, &req, &one));
        snprintf(code, sizeof(code), "%06u",
                 nova_totp_code(NOVA_TOTP_SHA1, key, kl, (uint64_t)(at / 30), 6));
        nova_login_request_t second = {.tenant_id = t.id,
                                       .mfa_token = one.mfa_token,
                                       .totp_code = code,
                                       .device = "bench",
                                       .ip = "127.0.0.1",
                                       .session_timeout_minutes = 30};
        CHECK(nova_people_login(p, s, &ar, &second, &two));
        tl[i] = now_us() - t0;
        if (one.outcome != NOVA_LOGIN_MFA || two.outcome != NOVA_LOGIN_OK) {
            fprintf(stderr, "people_bench: login outcomes %d %d\n", one.outcome, two.outcome);
            return 1;
        }
        nova_arena_reset(&ar);
    }
    nova_time_set_fake(0);
    json_object_set_new(out, "login_password_totp", summary(tl, nl));
    free(tl);

    long na = (long)(4000 * scale) < 50 ? 50 : (long)(4000 * scale);
    json_object_set_new(out, "passkey_assertion_es256", assertion_bench(NOVA_COSE_ES256, na));
    json_object_set_new(out, "passkey_assertion_eddsa", assertion_bench(NOVA_COSE_EDDSA, na));

    /* The per-request check, against a fresh AAL1 session's token. */
    CHECK(nova_people_login(p, s, &ar, &req, &g));
    const char *tok = g.mfa_token; /* TOTP is active now: step 2 to get the token */
    snprintf(code, sizeof(code), "%06u",
             nova_totp_code(NOVA_TOTP_SHA1, key, kl, (uint64_t)(base / 30) + (uint64_t)nl + 1, 6));
    nova_time_set_fake(base + 30 * (nl + 1));
    nova_login_request_t second = {.tenant_id = t.id,
                                   .mfa_token = tok,
                                   .totp_code = code,
                                   .device = "bench",
                                   .ip = "127.0.0.1",
                                   .session_timeout_minutes = 30};
    CHECK(nova_people_login(p, s, &ar, &second, &g));
    nova_time_set_fake(0);
    const char *access = nova_arena_strdup(&ar, g.access_token);
    long ns = (long)(20000 * scale) < 200 ? 200 : (long)(20000 * scale);
    double *ts = calloc((size_t)ns, sizeof(double));
    nova_arena_t rq;
    nova_arena_init(&rq, 4096);
    for (long i = 0; i < ns; i++) {
        double t0 = now_us();
        CHECK(nova_people_token_verify(p, s, &rq, access, "127.0.0.1", "bench", &c, &why));
        ts[i] = now_us() - t0;
        nova_arena_reset(&rq);
    }
    json_object_set_new(out, "session_check", summary(ts, ns));

    /* The /v1 client token path for comparison. */
    nova_client_t cl;
    const char *secret;
    CHECK(nova_auth_client_create(auth, s, &ar, &by, t.id, "bench", "clients:read", NULL, &cl,
                                  &secret));
    nova_token_t at;
    const char *oe;
    CHECK(nova_auth_token_issue(auth, s, &ar, &cl, NULL, NULL, &at, &oe));
    for (long i = 0; i < ns; i++) {
        nova_claims_t cc;
        double t0 = now_us();
        CHECK(nova_auth_token_verify(auth, s, &rq, at.access_token, strlen(at.access_token), NULL,
                                     &cc, &why));
        ts[i] = now_us() - t0;
        nova_arena_reset(&rq);
    }
    json_object_set_new(out, "client_token_verify", summary(ts, ns));
    free(ts);
    nova_arena_free(&rq);
    nova_arena_free(&ar);
    if (json_dump_file(out, argv[2], JSON_INDENT(2)) != 0)
        return 1;
    json_decref(out);
    nova_people_free(p);
    nova_kv_close(kv);
    nova_auth_free(auth);
    nova_store_close(s);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
