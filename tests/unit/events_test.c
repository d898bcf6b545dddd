/*
 * events_test.c: the outbox's repository and rules (src/store/webhooks.c, src/events): an
 * event written inside another call's transaction gets a delivery per subscribed endpoint
 * and for its callback_url, and none when rolled back; a claimed delivery is leased (a second
 * dispatcher gets nothing until the lease runs out, and cannot record on a lease it does not
 * hold); replay makes every delivery pending again; another tenant sees nothing; pruning
 * takes only finished events past the cutoff; the retry delays double, stay in their upper
 * half and are capped. SQLite in memory, or NOVA_TEST_PG_URL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/store/internal.h"
#include "nova/auth.h"
#include "nova/events.h"

static nova_store_t *open_store(void)
{
    const char *pg = getenv("NOVA_TEST_PG_URL");
    nova_store_t *s = NULL;
    char err[256];
    assert_int_equal(nova_store_open(pg && *pg ? pg : "sqlite::memory:", &s, err, sizeof(err)),
                     NOVA_OK);
    assert_int_equal(nova_store_migrate(s, NULL, NULL), NOVA_OK);
    return s;
}

static const nova_audit_actor_t by = {.id = "test"};

static const char *tenant(nova_auth_t *auth, nova_store_t *s, nova_arena_t *a, const char *name)
{
    nova_tenant_t t;
    char unique[64];
    snprintf(unique, sizeof(unique), "%s-%lld-%d", name, (long long)nova_time_now(), rand());
    assert_int_equal(nova_auth_tenant_create(auth, s, a, &by, unique, &t), NOVA_OK);
    return t.id;
}

static nova_audit_entry_t audit(nova_arena_t *a, const char *tenant_id, const char *action)
{
    nova_audit_entry_t e;
    assert_int_equal(nova_audit_entry_make(&e, a, &by, tenant_id, action, "test", "x", NULL),
                     NOVA_OK);
    return e;
}

/* Writes ev in a transaction of its own, as a repository call would (commit or roll back). */
static void append(nova_store_t *s, const nova_event_row_t *ev, bool commit)
{
    assert_int_equal(nova_store_tx_begin(s, ev->tenant_id), NOVA_OK);
    assert_int_equal(nova_store_event_append_tx(s, ev), NOVA_OK);
    if (commit)
        assert_int_equal(nova_store_tx_commit(s), NOVA_OK);
    else
        nova_store_tx_rollback(s);
}

static void test_outbox(void **state)
{
    (void)state;
    nova_store_t *s = open_store();
    nova_auth_config_t ac = {.issuer = "https://nova.test",
                             .audience = "nova-api",
                             .token_ttl = 300,
                             .alg = NOVA_JWS_EDDSA};
    memset(ac.master_key, 7, sizeof(ac.master_key));
    nova_auth_t *auth = NULL;
    assert_int_equal(nova_auth_new(&ac, &auth), NOVA_OK);
    nova_arena_t a;
    nova_arena_init(&a, 8192);
    const char *t1 = tenant(auth, s, &a, "ev-one"), *t2 = tenant(auth, s, &a, "ev-two");
    int64_t now = nova_time_now();

    static const uint8_t blob[] = {1, 2, 3};
    nova_webhook_endpoint_row_t ep = {t1,
                                      "whe_a",
                                      "https://r.example/a",
                                      "verification.completed review.decided",
                                      blob,
                                      3,
                                      "CERT",
                                      blob,
                                      3,
                                      "CA",
                                      "",
                                      true,
                                      "test",
                                      now,
                                      now};
    nova_audit_entry_t e = audit(&a, t1, "webhook.endpoint.create");
    assert_int_equal(nova_store_webhook_endpoint_insert(s, &ep, &e), NOVA_OK);
    assert_int_equal(nova_store_webhook_endpoint_insert(s, &ep, &e), NOVA_CONFLICT);
    ep.id = "whe_b";
    ep.events = "verification.failed";
    ep.created_at = now + 1;
    assert_int_equal(nova_store_webhook_endpoint_insert(s, &ep, &e), NOVA_OK);

    /* Subscribed endpoint + callback (with the oldest endpoint's material). */
    json_t *data = json_pack("{s:s}", "verification_id", "ver_1");
    nova_event_row_t ev;
    assert_int_equal(nova_event_make(&a, t1, "verification.completed", "ver_1", data,
                                     "https://cb.example/x", &ev),
                     NOVA_OK);
    assert_int_equal(nova_event_make(&a, t1, "verification.exploded", "ver_1", data, NULL, &ev),
                     NOVA_INVALID);
    assert_int_equal(nova_event_make(&a, t1, "verification.completed", "ver_1", data,
                                     "https://cb.example/x", &ev),
                     NOVA_OK);
    /* Rolled back with its change: nothing of it stays. */
    append(s, &ev, false);
    nova_event_row_t got;
    assert_int_equal(nova_store_event_get(s, &a, t1, ev.id, &got), NOVA_NOT_FOUND);
    append(s, &ev, true);
    assert_int_equal(nova_store_event_get(s, &a, t1, ev.id, &got), NOVA_OK);
    assert_string_equal(got.type, "verification.completed");
    assert_non_null(strstr(got.payload, "\"ver_1\""));
    nova_delivery_row_t *d = NULL;
    size_t nd = 0;
    assert_int_equal(nova_store_delivery_list(s, &a, t1, ev.id, &d, &nd), NOVA_OK);
    assert_int_equal(nd, 2);
    for (size_t i = 0; i < nd; i++) {
        assert_string_equal(d[i].endpoint_id, "whe_a"); /* not whe_b: not subscribed, not oldest */
        assert_string_equal(d[i].state, "pending");
    }
    /* Another tenant sees none of it. */
    assert_int_equal(nova_store_event_get(s, &a, t2, ev.id, &got), NOVA_NOT_FOUND);
    assert_int_equal(nova_store_delivery_list(s, &a, t2, ev.id, &d, &nd), NOVA_OK);
    assert_int_equal(nd, 0);
    nova_event_row_t *list = NULL;
    size_t nl = 0;
    assert_int_equal(nova_store_event_list(s, &a, t2, NULL, 0, NULL, 10, &list, &nl), NOVA_OK);
    assert_int_equal(nl, 0);
    assert_int_equal(nova_store_event_list(s, &a, t1, "review.decided", 0, NULL, 10, &list, &nl),
                     NOVA_OK);
    assert_int_equal(nl, 0);

    /* Leases: the first dispatcher gets both, the second none until the lease runs out. */
    nova_delivery_row_t *c1 = NULL, *c2 = NULL;
    size_t n1 = 0, n2 = 0;
    assert_int_equal(nova_store_delivery_claim(s, &a, now, now + 60, "o1", 16, &c1, &n1), NOVA_OK);
    assert_int_equal(n1, 2);
    assert_int_equal(nova_store_delivery_claim(s, &a, now, now + 60, "o2", 16, &c2, &n2), NOVA_OK);
    assert_int_equal(n2, 0);
    nova_attempt_row_t at = {c1[0].id, 1, 200, 12, "", now, NULL};
    assert_int_equal(nova_store_delivery_record(s, t1, "o2", &at, "delivered", now), NOVA_CONFLICT);
    assert_int_equal(nova_store_delivery_record(s, t1, "o1", &at, "delivered", now), NOVA_OK);
    assert_int_equal(nova_store_delivery_record(s, t1, "o1", &at, "delivered", now),
                     NOVA_CONFLICT); /* the lease was released */
    assert_int_equal(nova_store_delivery_claim(s, &a, now + 61, now + 121, "o2", 16, &c2, &n2),
                     NOVA_OK);
    assert_int_equal(n2, 1);
    assert_string_equal(c2[0].id, c1[1].id);
    nova_attempt_row_t at2 = {c2[0].id, 1, 500, 5, "HTTP status 500", now + 61, NULL};
    assert_int_equal(nova_store_delivery_record(s, t1, "o2", &at2, "pending", now + 3600), NOVA_OK);
    nova_attempt_row_t *log = NULL;
    size_t nlog = 0;
    assert_int_equal(nova_store_attempt_list(s, &a, t1, ev.id, &log, &nlog), NOVA_OK);
    assert_int_equal(nlog, 2);
    assert_int_equal(nova_store_attempt_list(s, &a, t2, ev.id, &log, &nlog), NOVA_OK);
    assert_int_equal(nlog, 0);
    /* Not due before next_at. */
    assert_int_equal(nova_store_delivery_claim(s, &a, now + 62, now + 122, "o3", 16, &c2, &n2),
                     NOVA_OK);
    assert_int_equal(n2, 0);

    /* Pruning keeps an event with a pending delivery. */
    int64_t pruned = -1;
    assert_int_equal(nova_store_event_prune(s, now + 10, &pruned), NOVA_OK);
    assert_int_equal(pruned, 0);
    /* Replay: both pending again, due now; not another tenant's. */
    int64_t pending = 0;
    e = audit(&a, t2, "event.replay");
    assert_int_equal(nova_store_event_replay(s, t2, ev.id, now, 8, &e, &pending), NOVA_NOT_FOUND);
    e = audit(&a, t1, "event.replay");
    assert_int_equal(nova_store_event_replay(s, t1, ev.id, now + 100, 8, &e, &pending), NOVA_OK);
    assert_int_equal(pending, 2);
    assert_int_equal(nova_store_delivery_claim(s, &a, now + 100, now + 160, "o4", 16, &c2, &n2),
                     NOVA_OK);
    assert_int_equal(n2, 2);
    for (size_t i = 0; i < n2; i++) {
        nova_attempt_row_t ok = {c2[i].id, c2[i].attempts + 1, 204, 3, "", now + 100, NULL};
        assert_int_equal(nova_store_delivery_record(s, t1, "o4", &ok, "delivered", now + 100),
                         NOVA_OK);
    }
    /* Finished: pruned once past the cutoff, with its deliveries and log. */
    assert_int_equal(nova_store_event_prune(s, ev.created_at, &pruned), NOVA_OK);
    assert_int_equal(pruned, 0);
    assert_int_equal(nova_store_event_prune(s, ev.created_at + 1, &pruned), NOVA_OK);
    assert_int_equal(pruned, 1);
    assert_int_equal(nova_store_event_get(s, &a, t1, ev.id, &got), NOVA_NOT_FOUND);
    assert_int_equal(nova_store_attempt_list(s, &a, t1, ev.id, &log, &nlog), NOVA_OK);
    assert_int_equal(nlog, 0);

    /* Deleting an endpoint fails what was pending for it. */
    nova_event_row_t ev2;
    assert_int_equal(nova_event_make(&a, t1, "verification.failed", "ver_2", data, NULL, &ev2),
                     NOVA_OK);
    append(s, &ev2, true);
    assert_int_equal(nova_store_delivery_list(s, &a, t1, ev2.id, &d, &nd), NOVA_OK);
    assert_int_equal(nd, 1);
    assert_string_equal(d[0].endpoint_id, "whe_b");
    e = audit(&a, t2, "webhook.endpoint.delete");
    assert_int_equal(nova_store_webhook_endpoint_delete(s, t2, "whe_b", now, &e), NOVA_NOT_FOUND);
    e = audit(&a, t1, "webhook.endpoint.delete");
    assert_int_equal(nova_store_webhook_endpoint_delete(s, t1, "whe_b", now, &e), NOVA_OK);
    assert_int_equal(nova_store_delivery_list(s, &a, t1, ev2.id, &d, &nd), NOVA_OK);
    assert_string_equal(d[0].state, "failed");

    json_decref(data);
    nova_arena_free(&a);
    nova_auth_free(auth);
    nova_store_close(s);
}

static void test_backoff(void **state)
{
    (void)state;
    assert_int_equal(nova_event_backoff(1, 0.0), 1);
    assert_int_equal(nova_event_backoff(1, 0.999), 1);
    assert_int_equal(nova_event_backoff(2, 0.0), 2);
    assert_int_equal(nova_event_backoff(2, 0.99), 3);
    assert_int_equal(nova_event_backoff(3, 0.0), 4);
    assert_int_equal(nova_event_backoff(3, 0.99), 7);
    for (int64_t n = 1; n < 40; n++)
        for (double r = 0.0; r < 1.0; r += 0.125) {
            int64_t d = nova_event_backoff(n, r);
            assert_true(d >= 1 && d <= NOVA_EVENT_BACKOFF_MAX_S);
            assert_true(d >= nova_event_backoff(n, 0.0));
        }
    assert_int_equal(nova_event_backoff(30, 0.0), NOVA_EVENT_BACKOFF_MAX_S / 2);
    /* A bad r is no jitter, not a wild delay. */
    assert_int_equal(nova_event_backoff(2, -1.0), 2);
    assert_int_equal(nova_event_backoff(2, 7.0), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outbox),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
