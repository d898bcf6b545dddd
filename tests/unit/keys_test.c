/*
 * keys_test.c: signing-key rotation on a real store (SQLite in a temp file): grace keys keep
 * verifying and stay in the JWKS, a retired key's tokens fail at once even on an instance that
 * has the key cached, another instance starts signing with the new key within the recheck
 * bound, the scheduler rotates and retires on time (fake clock), and containment retires the
 * key, ends every session and writes its audit entries; kill switches (nova/killswitch.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "nova/audit_store.h"
#include "nova/auth.h"
#include "nova/killswitch.h"
#include "nova/session_store.h"

static const nova_audit_actor_t actor = {.id = "test", .request_id = "req_test"};

typedef struct fx {
    char dir[64];
    char url[128];
    nova_store_t *s;
    nova_auth_t *a, *b; /* two instances on one store */
    nova_arena_t ar;
    nova_tenant_t t;
    nova_client_t c;
    const char *sec;
} fx;

static nova_auth_t *new_auth(void)
{
    nova_auth_config_t cfg = {.issuer = "https://nova.test",
                              .audience = "nova-api",
                              .token_ttl = 300,
                              .alg = NOVA_JWS_EDDSA,
                              .token_cache = 128};
    memset(cfg.master_key, 7, 32);
    nova_auth_t *a = NULL;
    assert_int_equal(nova_auth_new(&cfg, &a), NOVA_OK);
    return a;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    char err[256];
    snprintf(f->dir, sizeof(f->dir), "/tmp/nova-keys-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->url, sizeof(f->url), "sqlite:%s/nova.db", f->dir);
    assert_int_equal(nova_store_open(f->url, &f->s, err, sizeof(err)), NOVA_OK);
    assert_int_equal(nova_store_migrate(f->s, NULL, NULL), NOVA_OK);
    f->a = new_auth();
    f->b = new_auth();
    nova_arena_init(&f->ar, 4096);
    assert_int_equal(nova_auth_tenant_create(f->a, f->s, &f->ar, &actor, "one", &f->t), NOVA_OK);
    assert_int_equal(nova_auth_client_create(f->a, f->s, &f->ar, &actor, f->t.id, "c",
                                             "clients:read sdk:sessions", NULL, &f->c, &f->sec),
                     NOVA_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    nova_time_set_fake(0);
    nova_auth_free(f->a);
    nova_auth_free(f->b);
    nova_store_close(f->s);
    nova_arena_free(&f->ar);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static const char *issue(fx *f, nova_auth_t *a)
{
    nova_token_t tok;
    const char *oerr = NULL;
    assert_int_equal(nova_auth_token_issue(a, f->s, &f->ar, &f->c, NULL, NULL, &tok, &oerr),
                     NOVA_OK);
    return tok.access_token;
}

static nova_status verify(fx *f, nova_auth_t *a, const char *tok, const char **why)
{
    nova_claims_t c;
    return nova_auth_token_verify(a, f->s, &f->ar, tok, strlen(tok), NULL, &c, why);
}

/* The kid of a compact JWS, from its header. */
static const char *kid_of(fx *f, const char *tok)
{
    const char *dot = strchr(tok, '.');
    assert_non_null(dot);
    uint8_t hdr[512];
    size_t n = 0;
    assert_int_equal(nova_b64url_decode(tok, (size_t)(dot - tok), hdr, &n), NOVA_OK);
    json_t *h = json_loadb((const char *)hdr, n, 0, NULL);
    assert_non_null(h);
    const char *kid = nova_arena_strdup(&f->ar, json_string_value(json_object_get(h, "kid")));
    json_decref(h);
    return kid;
}

static size_t jwks_keys(fx *f)
{
    nova_buf_t b;
    nova_buf_init(&b);
    assert_int_equal(nova_auth_tenant_jwks(f->a, f->s, f->t.id, &b), NOVA_OK);
    json_t *d = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(d);
    size_t n = json_array_size(json_object_get(d, "keys"));
    json_decref(d);
    nova_buf_free(&b);
    return n;
}

/* How many entries of the tenant's chain have this action. */
static int audited(fx *f, const char *action)
{
    nova_audit_query_t q = {.tenant_id = f->t.id, .action = action, .limit = 100};
    nova_audit_record_t *rows = NULL;
    size_t n = 0;
    assert_int_equal(nova_store_audit_list(f->s, &f->ar, &q, &rows, &n), NOVA_OK);
    return (int)n;
}

static void t_rotate_with_grace(void **state)
{
    fx *f = *state;
    const char *why = NULL;
    const char *old = issue(f, f->a);
    const char *old_kid = kid_of(f, old);
    assert_int_equal(jwks_keys(f), 1);
    nova_key_rotation_t rot;
    assert_int_equal(nova_auth_key_rotate(f->a, f->s, &f->ar, &actor, f->t.id, 3600, "test", &rot),
                     NOVA_OK);
    assert_string_equal(rot.old_kid, old_kid);
    assert_string_equal(rot.old_state, "grace");
    assert_true(rot.grace_until > 0);
    assert_string_not_equal(rot.new_kid, old_kid);
    /* The old key's token still verifies during grace; new tokens carry the new kid; the JWKS
     * publishes both. */
    assert_int_equal(verify(f, f->a, old, &why), NOVA_OK);
    const char *fresh = issue(f, f->a);
    assert_string_equal(kid_of(f, fresh), rot.new_kid);
    assert_int_equal(verify(f, f->a, fresh, &why), NOVA_OK);
    assert_int_equal(jwks_keys(f), 2);
    assert_int_equal(audited(f, "key.rotate"), 1);
    /* A second rotation retires the key still in grace: never more than two verify. */
    assert_int_equal(nova_auth_key_rotate(f->a, f->s, &f->ar, &actor, f->t.id, 60, "test", &rot),
                     NOVA_OK);
    assert_int_equal(verify(f, f->a, old, &why), NOVA_UNAUTHORIZED);
    assert_int_equal(verify(f, f->a, fresh, &why), NOVA_OK);
    assert_int_equal(jwks_keys(f), 2);
    nova_signing_key_t *ks = NULL;
    size_t n = 0;
    assert_int_equal(nova_store_key_history(f->s, &f->ar, f->t.id, &ks, &n), NOVA_OK);
    assert_int_equal(n, 3);
    /* Keys made in one second are ordered by kid: look each up. */
    for (size_t i = 0; i < n; i++) {
        const char *want = strcmp(ks[i].kid, old_kid) == 0       ? "retired"
                           : strcmp(ks[i].kid, rot.old_kid) == 0 ? "grace"
                                                                 : "active";
        assert_string_equal(ks[i].state, want);
    }
    assert_string_equal(kid_of(f, issue(f, f->a)), rot.new_kid);
}

static void t_rotate_bad_input(void **state)
{
    fx *f = *state;
    nova_key_rotation_t rot;
    assert_int_equal(nova_auth_key_rotate(f->a, f->s, &f->ar, &actor, f->t.id,
                                          NOVA_KEY_GRACE_MAX + 1, "test", &rot),
                     NOVA_INVALID);
    assert_int_equal(nova_auth_key_rotate(f->a, f->s, &f->ar, &actor, f->t.id, -1, "test", &rot),
                     NOVA_INVALID);
    assert_int_equal(nova_auth_key_rotate(f->a, f->s, &f->ar, &actor, "ten_nope", 0, "test", &rot),
                     NOVA_NOT_FOUND);
    assert_int_equal(nova_auth_key_rotate(f->a, f->s, &f->ar, &actor, "*", 0, "test", &rot),
                     NOVA_NOT_FOUND);
    assert_int_equal(audited(f, "key.rotate"), 0);
}

/* Instance b has verified (and so cached) the old key and signed with it; a retires it. */
static void t_retired_key_on_other_instance(void **state)
{
    fx *f = *state;
    const char *why = NULL;
    const char *by_a = issue(f, f->a);
    const char *by_b = issue(f, f->b);
    const char *old_kid = kid_of(f, by_b);
    assert_int_equal(verify(f, f->b, by_a, &why), NOVA_OK);
    assert_int_equal(verify(f, f->b, by_b, &why), NOVA_OK);
    nova_key_rotation_t rot;
    assert_int_equal(nova_auth_key_rotate(f->a, f->s, &f->ar, &actor, f->t.id, 0, "test", &rot),
                     NOVA_OK);
    assert_string_equal(rot.old_state, "retired");
    /* Both tokens (cached as verified on b) fail on both instances from the next request. */
    assert_int_equal(verify(f, f->b, by_a, &why), NOVA_UNAUTHORIZED);
    assert_int_equal(verify(f, f->b, by_b, &why), NOVA_UNAUTHORIZED);
    assert_int_equal(verify(f, f->a, by_b, &why), NOVA_UNAUTHORIZED);
    assert_int_equal(jwks_keys(f), 1);
    /* a signs with the new key at once; b once its signing entry is re-confirmed (1 s). */
    assert_string_equal(kid_of(f, issue(f, f->a)), rot.new_kid);
    const char *kid = old_kid;
    for (int i = 0; i < 200 && strcmp(kid, rot.new_kid) != 0; i++) { /* up to 10 s */
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        kid = kid_of(f, issue(f, f->b));
    }
    assert_string_equal(kid, rot.new_kid);
    assert_int_equal(verify(f, f->a, issue(f, f->b), &why), NOVA_OK);
}

static void t_scheduler(void **state)
{
    fx *f = *state;
    unsigned rotated = 9, retired = 9;
    int64_t t0 = nova_time_now();
    /* Not due yet. */
    assert_int_equal(nova_auth_keys_maintain(f->a, f->s, t0, 86400, 600, &rotated, &retired),
                     NOVA_OK);
    assert_int_equal(rotated, 0);
    assert_int_equal(retired, 0);
    /* A day later: rotated, the old key in grace for 600 s. */
    nova_time_set_fake(t0 + 86400);
    const char *why = NULL;
    assert_int_equal(
        nova_auth_keys_maintain(f->a, f->s, t0 + 86400, 86400, 600, &rotated, &retired), NOVA_OK);
    assert_int_equal(rotated, 1);
    assert_int_equal(retired, 0);
    assert_int_equal(audited(f, "key.rotate"), 1);
    /* Rotation off (0): nothing more is rotated; at the grace's end the old key is retired. */
    assert_int_equal(
        nova_auth_keys_maintain(f->a, f->s, t0 + 86400 + 600, 0, 0, &rotated, &retired), NOVA_OK);
    assert_int_equal(rotated, 0);
    assert_int_equal(retired, 1);
    assert_int_equal(audited(f, "key.retire"), 1);
    nova_time_set_fake(t0 + 86400 + 600);
    assert_int_equal(jwks_keys(f), 1);
    /* A second instance running the same pass finds nothing left to do. */
    assert_int_equal(
        nova_auth_keys_maintain(f->b, f->s, t0 + 86400 + 600, 86400, 600, &rotated, &retired),
        NOVA_OK);
    assert_int_equal(rotated + retired, 0);
    (void)why;
}

static void t_contain(void **state)
{
    fx *f = *state;
    const char *why = NULL;
    nova_session_request_t req = {.tenant_id = f->t.id, .client_id = f->c.id, .subject = "app_1"};
    nova_session_grant_t g;
    assert_int_equal(nova_auth_session_create(f->a, f->s, &f->ar, &req, &g, &why), NOVA_OK);
    const char *tok = issue(f, f->a);
    nova_contain_result_t res;
    assert_int_equal(nova_auth_tenant_contain(f->a, f->s, &f->ar, &actor, f->t.id, &res), NOVA_OK);
    assert_string_equal(res.rotation.old_state, "retired");
    assert_int_equal(res.sessions_revoked, 1);
    assert_int_equal(verify(f, f->a, tok, &why), NOVA_UNAUTHORIZED);
    assert_int_equal(verify(f, f->a, g.access.access_token, &why), NOVA_UNAUTHORIZED);
    nova_session_grant_t g2;
    assert_int_equal(
        nova_auth_session_refresh(f->a, f->s, &f->ar, g.refresh_token, NULL, NULL, &g2, &why),
        NOVA_UNAUTHORIZED);
    assert_int_equal(audited(f, "key.rotate"), 1);
    assert_int_equal(audited(f, "session.revoke_all"), 1);
    assert_int_equal(audited(f, "tenant.contain"), 1);
    /* The tenant works again with its new key. */
    assert_int_equal(verify(f, f->a, issue(f, f->a), &why), NOVA_OK);
}

/* Kill switches on the in-process control plane: region and every-region switches, invalid
 * input fails closed, each change audited. (Staleness fail-closed is kv_test's, on Redis.) */
static void t_killswitch(void **state)
{
    fx *f = *state;
    nova_kv_t *kv = NULL;
    char err[128];
    assert_int_equal(nova_kv_open(NULL, NULL, &kv, err, sizeof(err)), NOVA_OK);
    assert_false(nova_killswitch_active(kv, f->t.id, "KE", "cashout"));
    assert_int_equal(
        nova_killswitch_set(kv, f->s, &f->ar, &actor, f->t.id, "KE", "cashout", true, "fraud"),
        NOVA_OK);
    assert_true(nova_killswitch_active(kv, f->t.id, "KE", "cashout"));
    assert_false(nova_killswitch_active(kv, f->t.id, "UG", "cashout"));
    assert_false(nova_killswitch_active(kv, f->t.id, NULL, "cashout"));
    assert_false(nova_killswitch_active(kv, f->t.id, "KE", "settlement"));
    assert_false(nova_killswitch_active(kv, "ten_other", "KE", "cashout"));
    assert_int_equal(
        nova_killswitch_set(kv, f->s, &f->ar, &actor, f->t.id, "*", "settlement", true, "eod"),
        NOVA_OK);
    assert_true(nova_killswitch_active(kv, f->t.id, "UG", "settlement"));
    assert_true(nova_killswitch_active(kv, f->t.id, NULL, "settlement"));
    nova_killswitch_t *ks = NULL;
    size_t n = 0;
    assert_int_equal(nova_killswitch_list(kv, &f->ar, f->t.id, &ks, &n), NOVA_OK);
    assert_int_equal(n, 2);
    assert_int_equal(
        nova_killswitch_set(kv, f->s, &f->ar, &actor, f->t.id, "KE", "cashout", false, NULL),
        NOVA_OK);
    assert_false(nova_killswitch_active(kv, f->t.id, "KE", "cashout"));
    /* Bad input: refused, and a question the switch cannot answer is "active". */
    assert_int_equal(
        nova_killswitch_set(kv, f->s, &f->ar, &actor, f->t.id, "KE", "Cash Out", true, "x"),
        NOVA_INVALID);
    assert_int_equal(
        nova_killswitch_set(kv, f->s, &f->ar, &actor, f->t.id, "kenya", "cashout", true, "x"),
        NOVA_INVALID);
    assert_int_equal(
        nova_killswitch_set(kv, f->s, &f->ar, &actor, f->t.id, "KE", "cashout", true, NULL),
        NOVA_INVALID);
    assert_true(nova_killswitch_active(kv, f->t.id, "KE", "Cash Out"));
    assert_true(nova_killswitch_active(kv, "ten:x", "KE", "cashout"));
    assert_true(nova_killswitch_active(kv, f->t.id, "kenya", "cashout"));
    assert_int_equal(audited(f, "killswitch.set"), 2);
    assert_int_equal(audited(f, "killswitch.clear"), 1);
    nova_kv_close(kv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_rotate_with_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(t_rotate_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(t_retired_key_on_other_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(t_scheduler, setup, teardown),
        cmocka_unit_test_setup_teardown(t_contain, setup, teardown),
        cmocka_unit_test_setup_teardown(t_killswitch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
