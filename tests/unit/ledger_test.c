/*
 * ledger_test.c: the money engine (src/ledger): the currency table, Amount parsing and
 * formatting (every refusal, the bounds, round trips), posting validation (one refusal per
 * rule, each naming its field), idempotency fingerprints, per-account sums, reversals and the
 * balance rules (flags, frozen, closed, overdraft lines and their expiry, overflow).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../src/ledger/amount.c"
#include "nova/ledger.h"
#include "nova/ledger_accrue.h"
#include "nova/ledger_store.h"
#include "nova/store.h"

static void test_currency_table(void **state)
{
    (void)state;
    size_t n = sizeof(currencies) / sizeof(currencies[0]);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(currencies[i - 1].code, currencies[i].code) < 0);
    for (size_t i = 0; i < n; i++)
        assert_ptr_equal(nova_ledger_currency(currencies[i].code), &currencies[i]);
    assert_int_equal(nova_ledger_currency("KES")->exponent, 2);
    assert_int_equal(nova_ledger_currency("UGX")->exponent, 0);
    assert_int_equal(nova_ledger_currency("BHD")->exponent, 3);
    assert_int_equal(nova_ledger_currency("XOF")->exponent, 0);
    assert_null(nova_ledger_currency("kes"));
    assert_null(nova_ledger_currency("KESS"));
    assert_null(nova_ledger_currency("QQQ"));
    assert_null(nova_ledger_currency(NULL));
}

static void test_amount_parse(void **state)
{
    (void)state;
    static const struct {
        const char *cur, *val;
        int64_t minor;
    } good[] = {
        {"KES", "1500.00", 150000},
        {"KES", "1500", 150000},
        {"KES", "0.5", 50},
        {"KES", "0.01", 1},
        {"UGX", "2500", 2500},
        {"BHD", "1.234", 1234},
        {"BHD", "0.001", 1},
        {"CLF", "1.0001", 10001},
        {"KES", "10000000000000.00", 1000000000000000LL},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t m;
        bool badc;
        const char *why = NULL;
        if (nova_ledger_amount_parse(good[i].cur, good[i].val, false, &m, &badc, &why) != NOVA_OK)
            fail_msg("%s %s refused: %s", good[i].cur, good[i].val, why);
        assert_int_equal(m, good[i].minor);
    }
    static const struct {
        const char *cur, *val;
        bool bad_currency;
    } bad[] = {
        {"KES", "1500.001", false},
        {"KES", "-1", false},
        {"KES", "+1", false},
        {"KES", "01", false},
        {"KES", "1.", false},
        {"KES", ".5", false},
        {"KES", "1e3", false},
        {"KES", "", false},
        {"KES", " 1", false},
        {"KES", "1 ", false},
        {"KES", "0", false},
        {"KES", "0.00", false},
        {"UGX", "1.0", false},
        {"UGX", "1.", false},
        {"BHD", "1.2345", false},
        {"KES", "10000000000000.01", false},
        {"KES", "99999999999999999999999", false},
        {"KES", "1,5", false},
        {"KES", "NaN", false},
        {"QQQ", "1", true},
        {"kes", "1", true},
        {"", "1", true},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t m = 7;
        bool badc = !bad[i].bad_currency;
        const char *why = NULL;
        if (nova_ledger_amount_parse(bad[i].cur, bad[i].val, false, &m, &badc, &why) !=
            NOVA_INVALID)
            fail_msg("%s \"%s\" accepted", bad[i].cur, bad[i].val);
        assert_int_equal(badc, bad[i].bad_currency);
        assert_non_null(why);
        assert_int_equal(m, 0);
    }
    int64_t m;
    bool badc;
    const char *why;
    assert_int_equal(nova_ledger_amount_parse("KES", "0", true, &m, &badc, &why), NOVA_OK);
    assert_int_equal(m, 0);
    assert_int_equal(nova_ledger_amount_parse("KES", "0.00", true, &m, &badc, &why), NOVA_OK);
}

static void test_amount_format(void **state)
{
    (void)state;
    char buf[32];
    static const struct {
        const char *cur;
        int64_t minor;
        const char *text;
    } cases[] = {
        {"KES", 150000, "1500.00"},
        {"KES", 5, "0.05"},
        {"KES", 0, "0.00"},
        {"KES", -1250, "-12.50"},
        {"UGX", 2500, "2500"},
        {"UGX", -3, "-3"},
        {"BHD", 1, "0.001"},
        {"BHD", 1234, "1.234"},
        {"CLF", 10001, "1.0001"},
        {"KES", INT64_MIN, "-92233720368547758.08"},
        {"KES", INT64_MAX, "92233720368547758.07"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(nova_ledger_amount_format(cases[i].cur, cases[i].minor, buf, sizeof(buf)),
                         NOVA_OK);
        assert_string_equal(buf, cases[i].text);
    }
    assert_int_equal(nova_ledger_amount_format("QQQ", 1, buf, sizeof(buf)), NOVA_INVALID);
    assert_int_equal(nova_ledger_amount_format("KES", 150000, buf, 7), NOVA_TOO_LARGE);
    assert_int_equal(nova_ledger_amount_format("KES", 150000, buf, 8), NOVA_OK);
    /* Round trip over every currency and a spread of values. */
    size_t n = sizeof(currencies) / sizeof(currencies[0]);
    for (size_t c = 0; c < n; c++)
        for (int64_t v = 1; v <= NOVA_LEDGER_AMOUNT_MAX; v = v * 7 + 3) {
            int64_t back;
            bool badc;
            const char *why;
            assert_int_equal(nova_ledger_amount_format(currencies[c].code, v, buf, sizeof(buf)),
                             NOVA_OK);
            assert_int_equal(
                nova_ledger_amount_parse(currencies[c].code, buf, false, &back, &badc, &why),
                NOVA_OK);
            assert_int_equal(back, v);
        }
}

static void test_amount_json(void **state)
{
    (void)state;
    static const struct {
        const char *json, *member;
    } cases[] = {
        {"{\"currency\":\"KES\",\"value\":\"1.00\"}", NULL},
        {"{\"currency\":\"KES\",\"value\":1}", "/value"},
        {"{\"currency\":\"KES\"}", "/value"},
        {"{\"currency\":\"QQQ\",\"value\":\"1\"}", "/currency"},
        {"{\"currency\":3,\"value\":\"1\"}", "/currency"},
        {"{\"currency\":\"KES\",\"value\":\"1\",\"x\":1}", ""},
        {"[1]", ""},
        {"{\"currency\":\"UGX\",\"value\":\"1.5\"}", "/value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = json_loads(cases[i].json, 0, NULL);
        assert_non_null(j);
        char cur[4];
        int64_t m;
        const char *member = "?", *why = NULL;
        nova_status st = nova_ledger_amount_json(j, false, cur, &m, &member, &why);
        json_decref(j);
        if (cases[i].member == NULL) {
            assert_int_equal(st, NOVA_OK);
            assert_string_equal(cur, "KES");
            assert_int_equal(m, 100);
        } else {
            assert_int_equal(st, NOVA_INVALID);
            assert_string_equal(member, cases[i].member);
        }
    }
    json_t *o = nova_ledger_amount_new("BHD", 1500);
    assert_string_equal(json_string_value(json_object_get(o, "value")), "1.500");
    json_decref(o);
    assert_null(nova_ledger_amount_new("QQQ", 1));
}

static void test_ids(void **state)
{
    (void)state;
    assert_true(nova_ledger_id_valid("pst_01:a-b.c_D"));
    assert_false(nova_ledger_id_valid(""));
    assert_false(nova_ledger_id_valid("a b"));
    assert_false(nova_ledger_id_valid("a/b"));
    assert_false(nova_ledger_id_valid("*"));
    char longid[66];
    memset(longid, 'a', 65);
    longid[65] = '\0';
    assert_false(nova_ledger_id_valid(longid));
    longid[64] = '\0';
    assert_true(nova_ledger_id_valid(longid));
}

static nova_status parse(const char *text, nova_arena_t *a, nova_ledger_posting_t *p, char *field,
                         char *why)
{
    json_t *j = json_loads(text, 0, NULL);
    if (j == NULL)
        return NOVA_INTERNAL;
    nova_status st = nova_ledger_posting_parse(j, a, 1000, p, field, 96, why, 256);
    json_decref(j);
    return st;
}

#define E(acc, dir, cur, val)                                                                      \
    "{\"account\":\"" acc "\",\"direction\":\"" dir "\",\"amount\":{\"currency\":\"" cur           \
    "\",\"value\":\"" val "\"}}"

static void test_posting_valid(void **state)
{
    (void)state;
    nova_arena_t a;
    nova_arena_init(&a, 4096);
    nova_ledger_posting_t p;
    char field[96], why[256];
    const char *body = "{\"id\":\"p1\",\"entries\":[" E("w1", "debit", "KES", "10.00") "," E(
        "f1", "credit", "KES",
        "9.50") "," E("fee", "credit", "KES",
                      "0.50") "," E("u1", "debit", "UGX",
                                    "300") "," E("u2", "credit", "UGX",
                                                 "300") "],\"description\":\"cash out\","
                                                        "\"purpose\":\"cashout\",\"channel\":"
                                                        "\"ussd\",\"metadata\":{\"ref\":\"x\"},"
                                                        "\"pending\":true,\"expires_at\":2000}";
    if (parse(body, &a, &p, field, why) != NOVA_OK)
        fail_msg("refused at %s: %s", field, why);
    assert_string_equal(p.id, "p1");
    assert_int_equal(p.n, 5);
    assert_false(p.entries[0].credit);
    assert_int_equal(p.entries[0].amount, 1000);
    assert_true(p.entries[2].credit);
    assert_int_equal(p.entries[2].amount, 50);
    assert_int_equal(p.entries[3].amount, 300);
    assert_string_equal(p.purpose, "cashout");
    assert_string_equal(p.metadata, "{\"ref\":\"x\"}");
    assert_true(p.pending);
    assert_int_equal(p.expires_at, 2000);
    assert_int_equal(strlen(p.digest), 64);
    /* The fingerprint ignores member order and whitespace, and nothing else. */
    char d1[65];
    memcpy(d1, p.digest, 65);
    const char *reordered =
        "{ \"expires_at\":2000, \"pending\":true, "
        "\"metadata\":{\"ref\":\"x\"},\"channel\":\"ussd\","
        "\"purpose\":\"cashout\",\"description\":\"cash out\",\"entries\":[" E(
            "w1", "debit", "KES",
            "10.00") "," E("f1", "credit", "KES",
                           "9.50") "," E("fee", "credit", "KES",
                                         "0.50") "," E("u1", "debit", "UGX",
                                                       "300") "," E("u2", "credit", "UGX",
                                                                    "300") "],\"id\":\"p1\"}";
    assert_int_equal(parse(reordered, &a, &p, field, why), NOVA_OK);
    assert_string_equal(p.digest, d1);
    const char *other = "{\"id\":\"p1\",\"entries\":[" E("w1", "debit", "KES", "10.00") "," E(
        "f1", "credit", "KES", "10.00") "],\"description\":\"cash out\"}";
    assert_int_equal(parse(other, &a, &p, field, why), NOVA_OK);
    assert_string_not_equal(p.digest, d1);

    /* Per-account sums, sorted by account. */
    const char *same = "{\"id\":\"p2\",\"entries\":[" E("b", "debit", "KES", "5") "," E(
        "a", "credit", "KES", "3") "," E("a", "credit", "KES",
                                         "2") "," E("b", "credit", "KES",
                                                    "1") "," E("a", "debit", "KES", "1") "]}";
    assert_int_equal(parse(same, &a, &p, field, why), NOVA_OK);
    nova_ledger_account_delta_t d[NOVA_LEDGER_MAX_ENTRIES];
    size_t n;
    assert_int_equal(nova_ledger_posting_deltas(&p, d, &n), NOVA_OK);
    assert_int_equal(n, 2);
    assert_string_equal(d[0].account, "a");
    assert_int_equal(d[0].credits, 500);
    assert_int_equal(d[0].debits, 100);
    assert_string_equal(d[1].account, "b");
    assert_int_equal(d[1].debits, 500);
    assert_int_equal(d[1].credits, 100);
    const char *mixed = "{\"id\":\"p3\",\"entries\":[" E("a", "debit", "KES", "5") "," E(
        "b", "credit", "KES", "5") "," E("a", "debit", "UGX", "5") "," E("c", "credit", "UGX",
                                                                         "5") "]}";
    assert_int_equal(parse(mixed, &a, &p, field, why), NOVA_OK);
    assert_int_equal(nova_ledger_posting_deltas(&p, d, &n), NOVA_INVALID);
    nova_arena_free(&a);
}

static void test_posting_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *json, *field;
    } bad[] = {
        {"{\"entries\":[" E("a", "debit", "KES", "1") "," E("b", "credit", "KES", "1") "]}", "/id"},
        {"{\"id\":\"a b\",\"entries\":[]}", "/id"},
        {"{\"id\":\"p\"}", "/entries"},
        {"{\"id\":\"p\",\"entries\":[" E("a", "debit", "KES", "1") "]}", "/entries"},
        {"{\"id\":\"p\",\"entries\":[" E("a", "debit", "KES", "1") "," E("b", "credit", "KES",
                                                                         "2") "]}",
         "/entries"},
        {"{\"id\":\"p\",\"entries\":[" E("a", "debit", "KES", "1") "," E("b", "credit", "UGX",
                                                                         "100") "]}",
         "/entries"},
        {"{\"id\":\"p\",\"entries\":[" E("a", "debit", "KES", "1") "," E("b", "sideways", "KES",
                                                                         "1") "]}",
         "/entries/1/direction"},
        {"{\"id\":\"p\",\"entries\":[" E("a", "debit", "KES", "1.001") "," E("b", "credit", "KES",
                                                                             "1") "]}",
         "/entries/0/amount/value"},
        {"{\"id\":\"p\",\"entries\":[" E("a", "debit", "KES", "-1") "," E("b", "credit", "KES",
                                                                          "1") "]}",
         "/entries/0/amount/value"},
        {"{\"id\":\"p\",\"entries\":[" E("a", "debit", "ABC", "1") "," E("b", "credit", "ABC",
                                                                         "1") "]}",
         "/entries/0/amount/currency"},
        {"{\"id\":\"p\",\"entries\":[" E("a", "debit", "KES", "99999999999999999") "," E(
             "b", "credit", "KES", "99999999999999999") "]}",
         "/entries/0/amount/value"},
        {"{\"id\":\"p\",\"entries\":[" E("a/x", "debit", "KES", "1") "," E("b", "credit", "KES",
                                                                           "1") "]}",
         "/entries/0/account"},
        {"{\"id\":\"p\",\"entries\":[{\"account\":\"a\",\"direction\":\"debit\",\"amount\":{"
         "\"currency\":\"KES\",\"value\":\"1\"},\"x\":1}," E("b", "credit", "KES", "1") "]}",
         "/entries/0/x"},
        {"{\"id\":\"p\",\"entries\":[" E("a", "debit", "KES", "1") "," E(
             "b", "credit", "KES", "1") "],\"description\":\"\"}",
         "/description"},
        {"{\"id\":\"p\",\"entries\":[" E("a", "debit", "KES", "1") "," E(
             "b", "credit", "KES", "1") "],\"purpose\":\"a\\nb\"}",
         "/purpose"},
        {"{\"id\":\"p\",\"entries\":[" E("a", "debit", "KES", "1") "," E(
             "b", "credit", "KES", "1") "],\"metadata\":{\"k\":1}}",
         "/metadata/k"},
        {"{\"id\":\"p\",\"entries\":[" E("a", "debit", "KES", "1") "," E("b", "credit", "KES",
                                                                         "1") "],\"pending\":1}",
         "/pending"},
        {"{\"id\":\"p\",\"entries\":[" E("a", "debit", "KES", "1") "," E(
             "b", "credit", "KES", "1") "],\"expires_at\":5000}",
         "/expires_at"},
        {"{\"id\":\"p\",\"entries\":[" E("a", "debit", "KES", "1") "," E(
             "b", "credit", "KES", "1") "],\"pending\":true,\"expires_at\":999}",
         "/expires_at"},
    };
    nova_arena_t a;
    nova_arena_init(&a, 4096);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        nova_ledger_posting_t p;
        char field[96] = "?", why[256] = "";
        nova_status st = parse(bad[i].json, &a, &p, field, why);
        if (st != NOVA_INVALID || strcmp(field, bad[i].field) != 0)
            fail_msg("case %zu: status %d field %s (%s), expected %s", i, st, field, why,
                     bad[i].field);
        assert_true(why[0] != '\0');
    }
    nova_arena_free(&a);
}

static void test_reverse_and_diff(void **state)
{
    (void)state;
    nova_arena_t a;
    nova_arena_init(&a, 4096);
    nova_ledger_posting_t p, r;
    char field[96], why[256];
    const char *body = "{\"id\":\"p1\",\"entries\":[" E("w", "debit", "KES", "10.00") "," E(
        "f", "credit", "KES", "10.00") "],\"purpose\":\"cashin\"}";
    assert_int_equal(parse(body, &a, &p, field, why), NOVA_OK);
    assert_int_equal(nova_ledger_posting_reverse(&p, "r1", 0, 0, &r), NOVA_OK);
    assert_string_equal(r.id, "r1");
    assert_true(r.entries[0].credit);
    assert_false(r.entries[1].credit);
    assert_int_equal(r.entries[0].amount, 1000);
    assert_int_equal(nova_ledger_posting_reverse(&p, "r1", 0, 400, &r), NOVA_OK);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.entries[0].amount, 400);
    assert_int_equal(r.entries[1].amount, 400);
    assert_int_equal(nova_ledger_posting_reverse(&p, "r1", 600, 400, &r), NOVA_OK);
    assert_int_equal(nova_ledger_posting_reverse(&p, "r1", 601, 400, &r), NOVA_TOO_LARGE);
    assert_int_equal(nova_ledger_posting_reverse(&p, "r1", 0, 1001, &r), NOVA_TOO_LARGE);
    assert_int_equal(nova_ledger_posting_reverse(&p, "r1", 1, 0, &r), NOVA_TOO_LARGE);
    assert_int_equal(nova_ledger_posting_reverse(&p, "r 1", 0, 0, &r), NOVA_INVALID);
    const char *c1 = p.canonical;

    /* Three legs: a payment of 10.00 with a 0.30 fee. Half of it reverses 5.00 to the payer
     * and takes back 4.85 and 0.15, exactly in proportion. */
    const char *fee = "{\"id\":\"p2\",\"entries\":[" E("w", "debit", "KES", "10.00") "," E(
        "m", "credit", "KES", "9.70") "," E("f", "credit", "KES", "0.30") "]}";
    assert_int_equal(parse(fee, &a, &p, field, why), NOVA_OK);
    assert_int_equal(nova_ledger_posting_reverse(&p, "r2", 0, 500, &r), NOVA_OK);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.entries[0].account, "w");
    assert_true(r.entries[0].credit);
    assert_int_equal(r.entries[0].amount, 500);
    assert_string_equal(r.entries[1].account, "m");
    assert_false(r.entries[1].credit);
    assert_int_equal(r.entries[1].amount, 485);
    assert_string_equal(r.entries[2].account, "f");
    assert_int_equal(r.entries[2].amount, 15);
    /* One cent goes to the larger leg; the fee leg's first cent waits for its turn. */
    assert_int_equal(nova_ledger_posting_reverse(&p, "r2", 0, 1, &r), NOVA_OK);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.entries[1].account, "m");
    assert_int_equal(r.entries[1].amount, 1);

    /* Cent by cent and in uneven steps, over many seeded leg shapes: each step balances, no
     * leg's cumulative reversal ever falls or passes its amount, and the whole amount
     * reverses every leg exactly. */
    uint32_t seed = 12345;
    for (int shape = 0; shape < 200; shape++) {
        nova_ledger_posting_t o;
        memset(&o, 0, sizeof(o));
        o.id = "shape";
        size_t nd = 1 + (seed = seed * 1103515245u + 12345u) % 4;
        size_t nc = 1 + (seed = seed * 1103515245u + 12345u) % 5;
        int64_t tot = 0, ctot = 0;
        static const char *const names[] = {"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"};
        int64_t legs[9];
        for (size_t i = 0; i < nc; i++) {
            legs[i] = 1 + (seed = seed * 1103515245u + 12345u) % (shape < 100 ? 7 : 5000);
            ctot += legs[i];
        }
        if ((int64_t)nd > ctot)
            nd = (size_t)ctot;
        for (size_t i = 0; i < nd; i++) {
            legs[nc + i] = i + 1 < nd ? 1 + (ctot - (int64_t)nd) / (int64_t)(2 * nd) : ctot - tot;
            tot += legs[nc + i];
        }
        for (size_t i = 0; i < nc + nd; i++)
            o.entries[o.n++] = (nova_ledger_entry_t){names[i], i < nc, "KES", legs[i]};
        int64_t done[9] = {0}, before = 0;
        while (before < tot) {
            int64_t step = 1 + (seed = seed * 1103515245u + 12345u) % (shape % 2 ? 1 : 97);
            if (step > tot - before)
                step = tot - before;
            assert_int_equal(nova_ledger_posting_reverse(&o, "x", before, step, &r), NOVA_OK);
            int64_t dsum = 0, csum = 0;
            for (size_t k = 0; k < r.n; k++) {
                size_t leg = (size_t)(r.entries[k].account[1] - '0');
                assert_true(r.entries[k].amount > 0);
                assert_int_equal(r.entries[k].credit, !o.entries[leg].credit);
                done[leg] += r.entries[k].amount;
                assert_true(done[leg] <= legs[leg]);
                *(r.entries[k].credit ? &csum : &dsum) += r.entries[k].amount;
            }
            assert_int_equal(dsum, step);
            assert_int_equal(csum, step);
            before += step;
        }
        for (size_t i = 0; i < nc + nd; i++)
            assert_int_equal(done[i], legs[i]);
        assert_int_equal(nova_ledger_posting_reverse(&o, "x", tot, 1, &r), NOVA_TOO_LARGE);
    }
    /* A posting in two currencies reverses only whole. */
    const char *fx = "{\"id\":\"p3\",\"entries\":[" E("w", "debit", "KES", "10.00") "," E(
        "t", "credit", "KES", "10.00") "," E("u", "debit", "UGX", "300") "," E("v", "credit", "UGX",
                                                                               "300") "]}";
    assert_int_equal(parse(fx, &a, &p, field, why), NOVA_OK);
    assert_int_equal(nova_ledger_posting_reverse(&p, "r3", 0, 100, &r), NOVA_INVALID);
    assert_int_equal(nova_ledger_posting_reverse(&p, "r3", 0, 0, &r), NOVA_OK);
    assert_int_equal(r.n, 4);

    const char *body2 = "{\"id\":\"p1\",\"entries\":[" E("w", "debit", "KES", "10.00") "," E(
        "f", "credit", "KES", "10.00") "],\"purpose\":\"cashout\",\"channel\":\"app\"}";
    assert_int_equal(parse(body, &a, &p, field, why), NOVA_OK);
    c1 = p.canonical;
    assert_int_equal(parse(body2, &a, &p, field, why), NOVA_OK);
    assert_string_equal(nova_ledger_posting_diff(&a, c1, p.canonical), "purpose, channel");
    assert_string_equal(nova_ledger_posting_diff(&a, c1, c1), "");
    nova_arena_free(&a);
}

static void test_balance_rules(void **state)
{
    (void)state;
    nova_ledger_rules_t wallet = {NOVA_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS, NOVA_LEDGER_OPEN, 0,
                                  0};
    nova_ledger_balance_t after = {.debits_posted = 100, .credits_posted = 100};
    nova_ledger_balance_t debit = {.debits_posted = 100};
    nova_ledger_balance_t credit = {.credits_posted = 100};
    assert_int_equal(nova_ledger_check(&wallet, &after, &debit, 0), NOVA_LEDGER_ALLOWED);
    after.debits_posted = 101;
    assert_int_equal(nova_ledger_check(&wallet, &after, &debit, 0), NOVA_LEDGER_INSUFFICIENT_FUNDS);
    /* A credit reaches an account that is short (its overdraft line expired). */
    assert_int_equal(nova_ledger_check(&wallet, &after, &credit, 0), NOVA_LEDGER_ALLOWED);
    /* Holds count against the balance; releasing one is always allowed. */
    nova_ledger_balance_t held = {.debits_posted = 50, .credits_posted = 100, .debits_pending = 51};
    nova_ledger_balance_t hold = {.debits_pending = 51};
    nova_ledger_balance_t release = {.debits_pending = -10};
    assert_int_equal(nova_ledger_check(&wallet, &held, &hold, 0), NOVA_LEDGER_INSUFFICIENT_FUNDS);
    assert_int_equal(nova_ledger_check(&wallet, &held, &release, 0), NOVA_LEDGER_ALLOWED);
    /* Pending credits fund nothing. */
    nova_ledger_balance_t pc = {.debits_posted = 10, .credits_pending = 100};
    assert_int_equal(nova_ledger_check(&wallet, &pc, &debit, 0), NOVA_LEDGER_INSUFFICIENT_FUNDS);
    /* Overdraft headroom until it expires. */
    nova_ledger_rules_t od = wallet;
    od.overdraft_limit = 50;
    od.overdraft_expires_at = 1000;
    nova_ledger_balance_t over = {.debits_posted = 150, .credits_posted = 100};
    assert_int_equal(nova_ledger_check(&od, &over, &debit, 999), NOVA_LEDGER_ALLOWED);
    assert_int_equal(nova_ledger_check(&od, &over, &debit, 1000), NOVA_LEDGER_INSUFFICIENT_FUNDS);
    over.debits_posted = 151;
    assert_int_equal(nova_ledger_check(&od, &over, &debit, 0), NOVA_LEDGER_INSUFFICIENT_FUNDS);
    /* The other flag. */
    nova_ledger_rules_t settle = {NOVA_LEDGER_CREDITS_MUST_NOT_EXCEED_DEBITS, NOVA_LEDGER_OPEN, 0,
                                  0};
    nova_ledger_balance_t s = {.debits_posted = 100, .credits_posted = 101};
    assert_int_equal(nova_ledger_check(&settle, &s, &credit, 0), NOVA_LEDGER_CREDITS_EXCEED);
    assert_int_equal(nova_ledger_check(&settle, &s, &debit, 0), NOVA_LEDGER_ALLOWED);
    /* No flags: anything goes but overflow. */
    nova_ledger_rules_t free_ = {0, NOVA_LEDGER_OPEN, 0, 0};
    nova_ledger_balance_t big = {.debits_posted = NOVA_LEDGER_TOTAL_MAX};
    assert_int_equal(nova_ledger_check(&free_, &big, &debit, 0), NOVA_LEDGER_ALLOWED);
    big.debits_posted = NOVA_LEDGER_TOTAL_MAX + 1;
    assert_int_equal(nova_ledger_check(&free_, &big, &debit, 0), NOVA_LEDGER_TOTAL_OVERFLOW);
    /* Status. */
    nova_ledger_rules_t frozen = {0, NOVA_LEDGER_FROZEN, 0, 0};
    nova_ledger_balance_t zero = {0};
    assert_int_equal(nova_ledger_check(&frozen, &zero, &debit, 0), NOVA_LEDGER_ACCOUNT_FROZEN);
    assert_int_equal(nova_ledger_check(&frozen, &zero, &hold, 0), NOVA_LEDGER_ACCOUNT_FROZEN);
    assert_int_equal(nova_ledger_check(&frozen, &zero, &credit, 0), NOVA_LEDGER_ALLOWED);
    nova_ledger_rules_t closed = {0, NOVA_LEDGER_CLOSED, 0, 0};
    assert_int_equal(nova_ledger_check(&closed, &zero, &credit, 0), NOVA_LEDGER_ACCOUNT_CLOSED);
    assert_int_equal(nova_ledger_check(&closed, &zero, &release, 0), NOVA_LEDGER_ALLOWED);
    assert_string_equal(nova_ledger_refusal_code(NOVA_LEDGER_INSUFFICIENT_FUNDS),
                        "insufficient_funds");
    assert_int_equal(nova_ledger_status_parse("frozen"), NOVA_LEDGER_FROZEN);
    assert_int_equal(nova_ledger_status_parse("thawed"), -1);
    assert_true(nova_ledger_type_valid("agent_float"));
    assert_false(nova_ledger_type_valid("float"));
}

static void test_derive(void **state)
{
    (void)state;
    nova_ledger_rules_t od = {NOVA_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS, NOVA_LEDGER_OPEN, 5000,
                              0};
    nova_ledger_balance_t b = {
        .debits_posted = 300, .credits_posted = 1000, .debits_pending = 200, .credits_pending = 77};
    nova_ledger_derived_t d;
    nova_ledger_derive(&od, &b, 0, &d);
    assert_int_equal(d.ledger, 700);
    assert_int_equal(d.held, 200);
    assert_int_equal(d.available, 5500);
    nova_ledger_rules_t loan = {NOVA_LEDGER_CREDITS_MUST_NOT_EXCEED_DEBITS, NOVA_LEDGER_OPEN, 0, 0};
    nova_ledger_derive(&loan, &b, 0, &d);
    assert_int_equal(d.ledger, -700);
    assert_int_equal(d.held, 77);
    assert_int_equal(d.available, -777);
    nova_ledger_balance_t extreme = {.debits_posted = NOVA_LEDGER_TOTAL_MAX,
                                     .debits_pending = NOVA_LEDGER_TOTAL_MAX};
    nova_ledger_derive(&od, &extreme, 0, &d);
    assert_int_equal(d.ledger, -NOVA_LEDGER_TOTAL_MAX);
    assert_int_equal(d.available, INT64_MIN);
}

static void test_limits(void **state)
{
    (void)state;
    nova_ledger_limits_t tier = {{0}}, own = {{0}}, m;
    tier.v[NOVA_LEDGER_LIMIT_DAILY_AMOUNT] = 1000;
    tier.v[NOVA_LEDGER_LIMIT_PER_TRANSACTION] = 500;
    own.v[NOVA_LEDGER_LIMIT_PER_TRANSACTION] = 300;
    own.v[NOVA_LEDGER_LIMIT_WEEKLY_COUNT] = 4;
    nova_ledger_limits_merge(&tier, &own, &m);
    assert_int_equal(m.v[NOVA_LEDGER_LIMIT_PER_TRANSACTION], 300);
    assert_int_equal(m.v[NOVA_LEDGER_LIMIT_DAILY_AMOUNT], 1000);
    assert_int_equal(m.v[NOVA_LEDGER_LIMIT_WEEKLY_COUNT], 4);
    nova_ledger_limits_merge(NULL, &own, &m);
    assert_int_equal(m.v[NOVA_LEDGER_LIMIT_DAILY_AMOUNT], 0);
    nova_ledger_limits_merge(&tier, &own, &m);
    nova_ledger_usage_t u = {{900, 900, 900}, {1, 3, 3}};
    nova_ledger_limit_result_t r;
    nova_ledger_limit_check(&m, &u, 100, INT64_MIN, &r);
    assert_true(r.allowed);
    assert_int_equal(r.remaining_amount, 100);
    assert_int_equal(r.remaining_count, 1);
    nova_ledger_limit_check(&m, &u, 101, INT64_MIN, &r);
    assert_false(r.allowed);
    assert_int_equal(r.decides, NOVA_LEDGER_LIMIT_DAILY_AMOUNT);
    assert_string_equal(nova_ledger_limit_name(r.decides), "daily_amount");
    u.count[1] = 4;
    nova_ledger_limit_check(&m, &u, 1, INT64_MIN, &r);
    assert_false(r.allowed);
    assert_int_equal(r.decides, NOVA_LEDGER_LIMIT_WEEKLY_COUNT);
    nova_ledger_usage_t zero = {{0}, {0}};
    nova_ledger_limit_check(&m, &zero, 301, INT64_MIN, &r);
    assert_int_equal(r.decides, NOVA_LEDGER_LIMIT_PER_TRANSACTION);
    /* A credit meets only the ceiling; nothing taken out uses no count. */
    m.v[NOVA_LEDGER_LIMIT_BALANCE_CEILING] = 5000;
    nova_ledger_limit_check(&m, &u, 0, 5000, &r);
    assert_true(r.allowed);
    nova_ledger_limit_check(&m, &u, 0, 5001, &r);
    assert_int_equal(r.decides, NOVA_LEDGER_LIMIT_BALANCE_CEILING);
    nova_ledger_limits_t none = {{0}};
    nova_ledger_limit_check(&none, &u, 1000000, 1000000, &r);
    assert_true(r.allowed);
    assert_int_equal(r.remaining_amount, -1);
    /* Periods: 2026-12-03 is a Thursday; its week starts on Monday the 30th of November. */
    char k[3][16];
    nova_ledger_periods(1796256000 + 3600, k); /* 2026-12-03T01:00:00Z */
    assert_string_equal(k[0], "d2026-12-03");
    assert_string_equal(k[1], "w2026-11-30");
    assert_string_equal(k[2], "m2026-12");
    nova_ledger_periods(1795996800, k); /* 2026-11-30T00:00:00Z, a Monday */
    assert_string_equal(k[1], "w2026-11-30");
}

static void test_interest(void **state)
{
    (void)state;
    int64_t r;
    assert_int_equal(nova_ledger_rate_parse("0.0525", &r), NOVA_OK);
    assert_int_equal(r, 5250000);
    assert_int_equal(nova_ledger_rate_parse("12", &r), NOVA_OK);
    assert_int_equal(r, 1200000000);
    const char *bad[] = {"", "-0.1", ".5", "1.", "0.123456789", "100", "1e-2", "0,5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(nova_ledger_rate_parse(bad[i], &r), NOVA_INVALID);
    assert_int_equal(nova_ledger_daycount_parse("30/360"), NOVA_LEDGER_30_360);
    assert_int_equal(nova_ledger_daycount_parse("ACT/366"), -1);
    /* 1,000,000.00 KES at 3.65 % ACT/365: exactly 100.00 KES (10000 cents) a day. */
    int64_t nano;
    assert_int_equal(
        nova_ledger_interest_day(100000000, 3650000, NOVA_LEDGER_ACT_365, 0, 2026, 12, 1, &nano),
        NOVA_OK);
    assert_int_equal(nano, 10000LL * 1000000000LL);
    /* ACT/360 earns 365/360 of that; below the minimum balance, nothing. */
    nova_ledger_interest_day(100000000, 3600000, NOVA_LEDGER_ACT_360, 0, 2026, 12, 1, &nano);
    assert_int_equal(nano, 10000LL * 1000000000LL);
    nova_ledger_interest_day(100000000, 3650000, NOVA_LEDGER_ACT_365, 100000001, 2026, 12, 1,
                             &nano);
    assert_int_equal(nano, 0);
    nova_ledger_interest_day(-5, 3650000, NOVA_LEDGER_ACT_365, 0, 2026, 12, 1, &nano);
    assert_int_equal(nano, 0);
    /* 30/360: a month is 30 days whatever its length. */
    for (int month = 1; month <= 12; month++) {
        int64_t sum = 0;
        for (int day = 1; day <= 31; day++) {
            if (nova_ledger_interest_day(3600000, 100000000, NOVA_LEDGER_30_360, 0, 2027, month,
                                         day, &nano) != NOVA_OK)
                break;
            sum += nano;
        }
        assert_int_equal(sum, 30LL * 10000 * 1000000000LL);
    }
    assert_int_equal(nova_ledger_interest_day(1, 1, NOVA_LEDGER_ACT_365, 0, 2027, 2, 29, &nano),
                     NOVA_INVALID);
    /* Daily postings sum to the floor of the period's exact interest: 1 cent at 10 % ACT/365
     * earns 0.000274 cents a day, so 31 days post 0; 10.00 KES earns 0.274 a day. */
    int64_t cum = 0, posted = 0;
    for (int day = 1; day <= 31; day++) {
        nova_ledger_interest_day(1000, 10000000, NOVA_LEDGER_ACT_365, 0, 2026, 12, day, &nano);
        posted += nova_ledger_interest_post(cum, cum + nano);
        cum += nano;
    }
    assert_int_equal(posted, cum / 1000000000LL);
    assert_int_equal(posted, 8); /* 1000 x 0.1 x 31 / 365 = 8.49 */
    int y, m, d;
    int64_t start;
    assert_int_equal(nova_ledger_date_parse("2026-12-01", &y, &m, &d, &start), NOVA_OK);
    assert_int_equal(start, 1796083200);
    assert_int_equal(nova_ledger_date_parse("2026-02-29", &y, &m, &d, &start), NOVA_INVALID);
    assert_int_equal(nova_ledger_date_parse("2026-1-01", &y, &m, &d, &start), NOVA_INVALID);
    assert_true(nova_ledger_last_day(2028, 2, 29));
    assert_false(nova_ledger_last_day(2028, 2, 28));
}

/* ---- the accrual run against a real store (SQLite file; PostgreSQL with NOVA_TEST_PG_URL) ---- */

static nova_ledger_refusal allow_any(const nova_ledger_account_t *a,
                                     const nova_ledger_balance_t *delta, void *ud)
{
    (void)a;
    (void)delta;
    (void)ud;
    return NOVA_LEDGER_ALLOWED;
}

static const char *render_empty(void *ud, nova_arena_t *ar, const char *audit_id)
{
    (void)ud;
    return nova_arena_printf(ar, "{\"audit_entry_id\":\"%s\"}", audit_id);
}

static void fund(nova_store_t *s, nova_arena_t *a, const char *tenant, const char *id,
                 const char *from, const char *to, int64_t amount)
{
    nova_ledger_posting_t *p = nova_arena_alloc(a, sizeof(*p));
    memset(p, 0, sizeof(*p));
    p->id = id;
    p->n = 2;
    p->entries[0] = (nova_ledger_entry_t){from, false, "KES", amount};
    p->entries[1] = (nova_ledger_entry_t){to, true, "KES", amount};
    p->canonical = id;
    snprintf(p->digest, sizeof(p->digest), "%s", id);
    nova_ledger_account_delta_t d[NOVA_LEDGER_MAX_ENTRIES];
    size_t nd;
    assert_int_equal(nova_ledger_posting_deltas(p, d, &nd), NOVA_OK);
    nova_ledger_write_t w = {
        p,         d,    nd,           "posting", NULL,  0,    amount, "test", nova_time_now(),
        allow_any, NULL, render_empty, NULL,      false, NULL, NULL,   0,      NULL};
    char target[96];
    snprintf(target, sizeof(target), "posting:%s", id);
    nova_audit_entry_t e = {tenant, "test", "ledger.posting.create", target, NULL, NULL};
    nova_ledger_outcome_t out;
    assert_int_equal(nova_store_ledger_post(s, a, tenant, &w, &e, &out), NOVA_OK);
}

static void test_accrual_run(void **state)
{
    (void)state;
    char path[64], url[96], err[256];
    const char *pg = getenv("NOVA_TEST_PG_URL");
    snprintf(path, sizeof(path), "/tmp/ledger_test_%d.db", (int)getpid());
    snprintf(url, sizeof(url), "sqlite:%s", path);
    nova_store_t *s = NULL;
    int from, to;
    assert_int_equal(nova_store_open(pg && pg[0] ? pg : url, &s, err, sizeof(err)), NOVA_OK);
    assert_int_equal(nova_store_migrate(s, &from, &to), NOVA_OK);
    nova_arena_t a;
    nova_arena_init(&a, 16384);
    char tenant[48];
    snprintf(tenant, sizeof(tenant), "ten_accrue_%d_%ld", (int)getpid(), (long)time(NULL));
    nova_tenant_t t = {tenant, tenant, 1};
    nova_audit_entry_t te = {tenant, "test", "tenant.create", "tenant:t", NULL, NULL};
    assert_int_equal(nova_store_tenant_create(s, &t, NULL, &te), NOVA_OK);
    /* 2026-11-01T00:00:10Z: the treasury funds the savings account with KES 1,000,000.00. */
    nova_time_set_fake(1793491210);
    const char *ids[] = {"treasury", "interest-expense", "interest-accrued", "saver",
                         "small",    "od-income",        "od-receivable",    "borrower"};
    const char *types[] = {"treasury", "fees", "suspense", "savings",
                           "savings",  "fees", "suspense", "customer_wallet"};
    const char *products[] = {"", "", "", "save365", "save365", "", "", "od"};
    for (int i = 0; i < 8; i++) {
        nova_ledger_account_t acc = {.tenant_id = tenant,
                                     .id = ids[i],
                                     .currency = "KES",
                                     .type = types[i],
                                     .status = "open",
                                     .created_at = 1,
                                     .product = products[i]};
        if (i == 7) { /* a KES 1,000.00 line at 36.5 % a year, used in full */
            acc.flags = NOVA_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS;
            acc.overdraft_limit = 100000;
            acc.overdraft_rate = "0.365";
        }
        char target[64];
        snprintf(target, sizeof(target), "account:%s", ids[i]);
        nova_audit_entry_t ae = {tenant, "test", "ledger.account.create", target, NULL, NULL};
        assert_int_equal(nova_store_ledger_account_create(s, &acc, &ae), NOVA_OK);
    }
    nova_ledger_product_t pr = {
        "save365",          "savings", "KES", "0.0365", "ACT/365", 100000, "interest-expense",
        "interest-accrued", 1,         0,     NULL,     NULL,      NULL};
    nova_audit_entry_t pe = {tenant, "test", "ledger.product.set", "product:save365", NULL, NULL};
    assert_int_equal(nova_store_ledger_product_put(s, tenant, &pr, &pe), NOVA_OK);
    nova_ledger_product_t od = {"od", "overdraft", "KES",           "0.10", "ACT/365",
                                0,    "od-income", "od-receivable", 1,      0,
                                NULL, NULL,        "monthly"};
    nova_audit_entry_t oe = {tenant, "test", "ledger.product.set", "product:od", NULL, NULL};
    assert_int_equal(nova_store_ledger_product_put(s, tenant, &od, &oe), NOVA_OK);
    fund(s, &a, tenant, "fund-1", "treasury", "saver", 100000000);
    fund(s, &a, tenant, "fund-2", "treasury", "small", 99999);    /* under the minimum balance */
    fund(s, &a, tenant, "spend", "borrower", "treasury", 100000); /* the whole line */
    /* Run every day of November from 2026-12-05, twice. */
    nova_time_set_fake(1796428800);
    nova_audit_actor_t by = {"test", NULL};
    for (int pass = 0; pass < 2; pass++) {
        size_t posted = 0, replayed = 0;
        for (int day = 1; day <= 30; day++) {
            char d[11];
            snprintf(d, sizeof(d), "2026-11-%02d", day);
            nova_ledger_accrual_run_t run;
            assert_int_equal(nova_ledger_accrue(s, &a, &by, tenant, d, &run), NOVA_OK);
            assert_int_equal(run.accounts, 3);
            assert_int_equal(run.failed, 0);
            posted += run.posted;
            replayed += run.replayed;
            nova_arena_reset(&a);
        }
        /* 30 daily accruals and one payout each for the saver and the borrower; the second
         * pass posts nothing. */
        assert_int_equal(pass ? posted : replayed, 0);
        assert_int_equal(pass ? replayed : posted, 62);
    }
    /* KES 100.00 a day for 30 days, paid on the 30th; the accrual account back to zero. */
    nova_ledger_account_t saver, accrued, expense, small;
    assert_int_equal(nova_store_ledger_account_get(s, &a, tenant, "saver", &saver), NOVA_OK);
    assert_int_equal(nova_store_ledger_account_get(s, &a, tenant, "interest-accrued", &accrued),
                     NOVA_OK);
    assert_int_equal(nova_store_ledger_account_get(s, &a, tenant, "interest-expense", &expense),
                     NOVA_OK);
    assert_int_equal(nova_store_ledger_account_get(s, &a, tenant, "small", &small), NOVA_OK);
    assert_int_equal(saver.balance.credits_posted, 100000000 + 30 * 10000);
    assert_int_equal(accrued.balance.credits_posted, 30 * 10000);
    assert_int_equal(accrued.balance.debits_posted, 30 * 10000);
    assert_int_equal(expense.balance.debits_posted, 30 * 10000);
    assert_int_equal(small.balance.credits_posted, 99999);
    /* The borrower: KES 1.00 a day at its line's 36.5 % (not the product's 10 %), charged on
     * the 30th although it takes the account past its line. */
    nova_ledger_account_t borrower, income, receivable;
    assert_int_equal(nova_store_ledger_account_get(s, &a, tenant, "borrower", &borrower), NOVA_OK);
    assert_int_equal(nova_store_ledger_account_get(s, &a, tenant, "od-income", &income), NOVA_OK);
    assert_int_equal(nova_store_ledger_account_get(s, &a, tenant, "od-receivable", &receivable),
                     NOVA_OK);
    assert_int_equal(borrower.balance.debits_posted, 100000 + 30 * 100);
    assert_int_equal(income.balance.credits_posted, 30 * 100);
    assert_int_equal(receivable.balance.debits_posted, 30 * 100);
    assert_int_equal(receivable.balance.credits_posted, 30 * 100);
    nova_ledger_posting_row_t row;
    assert_int_equal(
        nova_store_ledger_posting_get(s, &a, tenant, "accrue:save365:saver:2026-11-07", &row),
        NOVA_OK);
    assert_int_equal(row.amount_total, 10000);
    assert_int_equal(
        nova_store_ledger_posting_get(s, &a, tenant, "payout:save365:saver:2026-11", &row),
        NOVA_OK);
    assert_int_equal(row.amount_total, 300000);
    /* An unfinished day, or not a date, is refused. */
    nova_ledger_accrual_run_t run;
    assert_int_equal(nova_ledger_accrue(s, &a, &by, tenant, "2026-12-05", &run), NOVA_INVALID);
    assert_int_equal(nova_ledger_accrue(s, &a, &by, tenant, "2026-13-01", &run), NOVA_INVALID);

    /* The scheduler's daily run (for this tenant only: a shared PostgreSQL holds others) in
     * two processes on one store (two connections, two "last
     * day" states): at 2026-12-06T00:00:30Z both run 2026-12-05, the first posts the day's two
     * accruals, the second replays them and posts nothing, and neither runs the day again. */
    nova_time_set_fake(1796515230);
    nova_store_t *s2 = NULL;
    assert_int_equal(nova_store_open(pg && pg[0] ? pg : url, &s2, err, sizeof(err)), NOVA_OK);
    char done1[16] = "", done2[16] = "";
    bool ran = false;
    assert_int_equal(nova_ledger_accrue_due(s, &a, tenant, nova_time_now(), done1, &ran, &run),
                     NOVA_OK);
    assert_true(ran);
    assert_string_equal(done1, "2026-12-05");
    assert_int_equal(run.accounts, 3);
    assert_int_equal(run.posted, 2);
    assert_int_equal(nova_ledger_accrue_due(s2, &a, tenant, nova_time_now(), done2, &ran, &run),
                     NOVA_OK);
    assert_true(ran);
    assert_int_equal(run.posted, 0);
    assert_int_equal(run.replayed, 2);
    assert_int_equal(nova_ledger_accrue_due(s, &a, tenant, nova_time_now(), done1, &ran, &run),
                     NOVA_OK);
    assert_false(ran);
    assert_int_equal(run.posted + run.replayed, 0);
    /* Days 1-4 of December on KES 1,000,000.00 (the payout is stamped 2026-12-05), the 5th on
     * KES 1,003,000.00 at 3.65 % ACT/365: KES 100.30; the borrower overdrawn by KES 1,030.00
     * at 36.5 %: KES 1.03. */
    assert_int_equal(
        nova_store_ledger_posting_get(s, &a, tenant, "accrue:save365:saver:2026-12-05", &row),
        NOVA_OK);
    assert_int_equal(row.amount_total, 10030);
    assert_int_equal(
        nova_store_ledger_posting_get(s2, &a, tenant, "accrue:od:borrower:2026-12-05", &row),
        NOVA_OK);
    assert_int_equal(row.amount_total, 103);
    nova_store_close(s2);
    nova_time_set_fake(0);
    nova_arena_free(&a);
    nova_store_close(s);
    unlink(path);
    char wal[80];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    unlink(wal);
}

static int64_t credit_balance(nova_store_t *s, nova_arena_t *a, const char *tenant, const char *id)
{
    nova_ledger_account_t acc;
    assert_int_equal(nova_store_ledger_account_get(s, a, tenant, id, &acc), NOVA_OK);
    return acc.balance.credits_posted - acc.balance.debits_posted;
}

static void run_day(nova_store_t *s, nova_arena_t *a, const char *tenant, const char *day,
                    size_t posted, size_t replayed, size_t skipped)
{
    nova_audit_actor_t by = {"test", NULL};
    nova_ledger_accrual_run_t run;
    assert_int_equal(nova_ledger_accrue(s, a, &by, tenant, day, &run), NOVA_OK);
    assert_int_equal(run.posted, posted);
    assert_int_equal(run.replayed, replayed);
    assert_int_equal(run.fees_skipped, skipped);
    assert_int_equal(run.failed, skipped);
}

/* Account fees (issue 8 item 9): KES 2.50 a month, once per account and month, never below
 * zero for an account without an overdraft line (whatever its flags; an exact balance pays
 * to zero: the edge), within the line for one with; a refused fee is skipped, reported and
 * tried again by the next day's run; accounts opened after the day are not charged for it. */
static void test_account_fees(void **state)
{
    (void)state;
    char path[64], url[96], err[256];
    const char *pg = getenv("NOVA_TEST_PG_URL");
    snprintf(path, sizeof(path), "/tmp/ledger_fees_%d.db", (int)getpid());
    snprintf(url, sizeof(url), "sqlite:%s", path);
    nova_store_t *s = NULL;
    int from, to;
    assert_int_equal(nova_store_open(pg && pg[0] ? pg : url, &s, err, sizeof(err)), NOVA_OK);
    assert_int_equal(nova_store_migrate(s, &from, &to), NOVA_OK);
    nova_arena_t a;
    nova_arena_init(&a, 16384);
    char tenant[48];
    snprintf(tenant, sizeof(tenant), "ten_fees_%d_%ld", (int)getpid(), (long)time(NULL));
    nova_tenant_t t = {tenant, tenant, 1};
    nova_audit_entry_t te = {tenant, "test", "tenant.create", "tenant:t", NULL, NULL};
    assert_int_equal(nova_store_tenant_create(s, &t, NULL, &te), NOVA_OK);
    nova_time_set_fake(1793491210); /* 2026-11-01T00:00:10Z */
    const char *ids[] = {"treasury", "fee-income", "rich", "exact",     "poor",
                         "od",       "od-small",   "late", "unflagged", "interest"};
    for (int i = 0; i < 10; i++) {
        nova_ledger_account_t acc = {.tenant_id = tenant,
                                     .id = ids[i],
                                     .currency = "KES",
                                     .type = i < 2 ? "treasury" : "customer_wallet",
                                     .status = "open",
                                     .created_at = 1,
                                     .product = i >= 2 && i <= 8 ? "plan" : ""};
        if (i >= 2 && i <= 7)
            acc.flags = NOVA_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS;
        if (i == 5)
            acc.overdraft_limit = 500; /* KES 5.00 */
        if (i == 6)
            acc.overdraft_limit = 100; /* KES 1.00 */
        if (i == 7)
            acc.created_at = 1793836800; /* 2026-11-05T00:00:00Z: after the 4th */
        char target[64];
        snprintf(target, sizeof(target), "account:%s", ids[i]);
        nova_audit_entry_t ae = {tenant, "test", "ledger.account.create", target, NULL, NULL};
        assert_int_equal(nova_store_ledger_account_create(s, &acc, &ae), NOVA_OK);
    }
    nova_ledger_product_t pr = {"plan",    "savings",    "KES",      "0", "ACT/365",
                                0,         "interest",   "treasury", 1,   250,
                                "monthly", "fee-income", NULL};
    nova_audit_entry_t pe = {tenant, "test", "ledger.product.set", "product:plan", NULL, NULL};
    assert_int_equal(nova_store_ledger_product_put(s, tenant, &pr, &pe), NOVA_OK);
    nova_ledger_product_t back;
    assert_int_equal(nova_store_ledger_product_get(s, &a, tenant, "plan", &back), NOVA_OK);
    assert_int_equal(back.fee_amount, 250);
    assert_string_equal(back.fee_period, "monthly");
    assert_string_equal(back.fee_account, "fee-income");
    fund(s, &a, tenant, "f-rich", "treasury", "rich", 1000);
    fund(s, &a, tenant, "f-exact", "treasury", "exact", 250);
    fund(s, &a, tenant, "f-poor", "treasury", "poor", 249);
    fund(s, &a, tenant, "f-unflagged", "treasury", "unflagged", 100);

    /* 2026-11-04 (late did not exist yet): rich, exact and od pay; poor (1 cent short),
     * od-small (its line is KES 1.00) and unflagged (no flag, still never below zero) are
     * refused, skipped and reported. */
    nova_time_set_fake(1793836860); /* 2026-11-05T00:01:00Z */
    run_day(s, &a, tenant, "2026-11-04", 3, 0, 3);
    assert_int_equal(credit_balance(s, &a, tenant, "rich"), 750);
    assert_int_equal(credit_balance(s, &a, tenant, "exact"), 0);
    assert_int_equal(credit_balance(s, &a, tenant, "od"), -250);
    assert_int_equal(credit_balance(s, &a, tenant, "poor"), 249);
    assert_int_equal(credit_balance(s, &a, tenant, "od-small"), 0);
    assert_int_equal(credit_balance(s, &a, tenant, "unflagged"), 100);
    assert_int_equal(credit_balance(s, &a, tenant, "late"), 0);
    assert_int_equal(credit_balance(s, &a, tenant, "fee-income"), 750);
    nova_ledger_posting_row_t row;
    assert_int_equal(nova_store_ledger_posting_get(s, &a, tenant, "fee:plan:rich:2026-11", &row),
                     NOVA_OK);
    assert_int_equal(row.amount_total, 250);
    assert_int_equal(nova_store_ledger_posting_get(s, &a, tenant, "fee:plan:poor:2026-11", &row),
                     NOVA_NOT_FOUND);
    /* The same day again, and the next: nothing new; the refused are tried and refused again;
     * late now existed and pays November's fee. */
    run_day(s, &a, tenant, "2026-11-04", 0, 3, 3);
    nova_time_set_fake(1793923260); /* 2026-11-06T00:01:00Z */
    run_day(s, &a, tenant, "2026-11-05", 0, 3, 4);
    fund(s, &a, tenant, "f-late", "treasury", "late", 300);
    fund(s, &a, tenant, "f-poor-2", "treasury", "poor", 1);
    /* poor has KES 2.50 now: charged to exactly zero; late pays; the rest as before. */
    nova_time_set_fake(1794009660); /* 2026-11-07T00:01:00Z */
    run_day(s, &a, tenant, "2026-11-06", 2, 3, 2);
    assert_int_equal(credit_balance(s, &a, tenant, "poor"), 0);
    assert_int_equal(credit_balance(s, &a, tenant, "late"), 50);
    assert_int_equal(credit_balance(s, &a, tenant, "fee-income"), 1250);
    /* December: a new period. rich 7.50 -> 5.00, od -2.50 -> -5.00 (its whole line), late
     * 0.50 refused, exact and poor at zero refused, od-small and unflagged refused. */
    nova_time_set_fake(1796169660); /* 2026-12-02T00:01:00Z */
    run_day(s, &a, tenant, "2026-12-01", 2, 0, 5);
    assert_int_equal(credit_balance(s, &a, tenant, "rich"), 500);
    assert_int_equal(credit_balance(s, &a, tenant, "od"), -500);
    assert_int_equal(credit_balance(s, &a, tenant, "fee-income"), 1750);
    /* Every currency sums to zero. */
    int64_t sum = 0;
    for (int i = 0; i < 10; i++)
        sum += credit_balance(s, &a, tenant, ids[i]);
    assert_int_equal(sum, 0);
    /* Interest is rounded down, neither half-up nor banker's: a period's postings are the
     * floor of its exact cumulative interest, so 0.999999999 of a cent posts nothing and the
     * nano-unit that completes the cent posts it. */
    assert_int_equal(nova_ledger_interest_post(0, 999999999), 0);
    assert_int_equal(nova_ledger_interest_post(999999999, 1000000000), 1);
    assert_int_equal(nova_ledger_interest_post(1500000000, 2499999999), 1);
    assert_int_equal(nova_ledger_interest_post(1500000000, 2500000000), 1);
    nova_time_set_fake(0);
    nova_arena_free(&a);
    nova_store_close(s);
    unlink(path);
    char wal[80];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    unlink(wal);
}

/* Reversals naming legs: each leg at most its amount with what earlier reversals took of it,
 * balanced per currency, every bad leg named; shares say what reversals by amount took. */
static void test_reverse_legs(void **state)
{
    (void)state;
    nova_ledger_posting_t p = {0}, out;
    p.id = "p";
    p.n = 3;
    p.entries[0] = (nova_ledger_entry_t){"w", false, "KES", 1000};
    p.entries[1] = (nova_ledger_entry_t){"m", true, "KES", 970};
    p.entries[2] = (nova_ledger_entry_t){"f", true, "KES", 30};
    int64_t prior[3], units = 0;
    size_t bad = 0;
    /* 5.00 by amount took 5.00, 4.85 and 0.15; the whole total, everything. */
    assert_int_equal(nova_ledger_posting_shares(&p, 500, prior), NOVA_OK);
    assert_int_equal(prior[0], 500);
    assert_int_equal(prior[1], 485);
    assert_int_equal(prior[2], 15);
    assert_int_equal(nova_ledger_posting_shares(&p, 1000, prior), NOVA_OK);
    assert_int_equal(prior[2], 30);
    assert_int_equal(nova_ledger_posting_shares(&p, 1001, prior), NOVA_TOO_LARGE);
    assert_int_equal(nova_ledger_posting_shares(&p, 0, prior), NOVA_OK);
    /* The fee back: the payer's leg and the fee leg, sides swapped, in the original's order. */
    nova_ledger_leg_t fee[2] = {{2, "KES", 30}, {0, "KES", 30}};
    assert_int_equal(nova_ledger_posting_reverse_legs(&p, "r", prior, fee, 2, &out, &units, &bad),
                     NOVA_OK);
    assert_int_equal(out.n, 2);
    assert_string_equal(out.entries[0].account, "w");
    assert_true(out.entries[0].credit);
    assert_string_equal(out.entries[1].account, "f");
    assert_false(out.entries[1].credit);
    assert_int_equal(out.entries[1].amount, 30);
    assert_int_equal(units, 30);
    /* Past a leg with what was taken before: refused, naming it. */
    prior[2] = 1;
    assert_int_equal(nova_ledger_posting_reverse_legs(&p, "r", prior, fee, 2, &out, &units, &bad),
                     NOVA_TOO_LARGE);
    assert_int_equal(bad, 0);
    prior[2] = 0;
    /* Unbalanced, unknown, repeated, another currency, zero: each refused. */
    nova_ledger_leg_t unbal[2] = {{0, "KES", 30}, {1, "KES", 20}};
    assert_int_equal(nova_ledger_posting_reverse_legs(&p, "r", prior, unbal, 2, &out, &units, &bad),
                     NOVA_INVALID);
    assert_int_equal(bad, 2);
    nova_ledger_leg_t wrong[4][2] = {{{0, "KES", 30}, {3, "KES", 30}},
                                     {{0, "KES", 30}, {0, "KES", 30}},
                                     {{0, "KES", 30}, {2, "UGX", 30}},
                                     {{0, "KES", 30}, {2, "KES", 0}}};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(
            nova_ledger_posting_reverse_legs(&p, "r", prior, wrong[i], 2, &out, &units, &bad),
            NOVA_INVALID);
        assert_int_equal(bad, 1);
    }
    assert_int_equal(nova_ledger_posting_reverse_legs(&p, "r", prior, fee, 1, &out, &units, &bad),
                     NOVA_INVALID);
}

/* Fee periods (issue 8 item 9): the label of the period a day falls in, and a product per
 * period charging once per period: a daily fee every day, a weekly one once per ISO week (from
 * Monday), quarterly and annual once until the quarter or year turns; every run after the
 * first in a period replays. */
static void test_fee_periods(void **state)
{
    (void)state;
    static const struct {
        const char *period;
        int64_t day;
        const char *label;
    } labels[] = {
        {"daily", 1793750400, "2026-11-04"},   /* a Wednesday */
        {"weekly", 1793750400, "w2026-11-02"}, /* its Monday */
        {"weekly", 1793577600, "w2026-11-02"}, /* the Monday itself */
        {"weekly", 1767225600, "w2025-12-29"}, /* 2026-01-01, a Thursday: back into 2025 */
        {"monthly", 1793750400, "2026-11"},    /* as fees were labelled before periods */
        {"quarterly", 1774915200, "2026-Q1"},  /* 2026-03-31 */
        {"quarterly", 1775001600, "2026-Q2"},  /* 2026-04-01 */
        {"quarterly", 1793750400, "2026-Q4"},  {"annual", 1793750400, "2026"},
    };
    char out[16];
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        assert_true(nova_ledger_period_valid(labels[i].period));
        assert_int_equal(nova_ledger_period_label(labels[i].period, labels[i].day, out), NOVA_OK);
        assert_string_equal(out, labels[i].label);
    }
    assert_false(nova_ledger_period_valid("fortnightly"));
    assert_false(nova_ledger_period_valid(NULL));
    assert_int_equal(nova_ledger_period_label("Monthly", 1793750400, out), NOVA_INVALID);

    char path[64], url[96], err[256];
    const char *pg = getenv("NOVA_TEST_PG_URL");
    snprintf(path, sizeof(path), "/tmp/ledger_fee_periods_%d.db", (int)getpid());
    snprintf(url, sizeof(url), "sqlite:%s", path);
    nova_store_t *s = NULL;
    int from, to;
    assert_int_equal(nova_store_open(pg && pg[0] ? pg : url, &s, err, sizeof(err)), NOVA_OK);
    assert_int_equal(nova_store_migrate(s, &from, &to), NOVA_OK);
    nova_arena_t a;
    nova_arena_init(&a, 16384);
    char tenant[48];
    snprintf(tenant, sizeof(tenant), "ten_feep_%d_%ld", (int)getpid(), (long)time(NULL));
    nova_tenant_t t = {tenant, tenant, 1};
    nova_audit_entry_t te = {tenant, "test", "tenant.create", "tenant:t", NULL, NULL};
    assert_int_equal(nova_store_tenant_create(s, &t, NULL, &te), NOVA_OK);
    nova_time_set_fake(1793491210); /* 2026-11-01T00:00:10Z */
    static const char *const periods[] = {"daily", "weekly", "quarterly", "annual"};
    const char *ids[] = {"treasury", "fee-income", "interest", "daily",
                         "weekly",   "quarterly",  "annual"};
    for (int i = 0; i < 7; i++) {
        nova_ledger_account_t acc = {.tenant_id = tenant,
                                     .id = ids[i],
                                     .currency = "KES",
                                     .type = i < 3 ? "treasury" : "customer_wallet",
                                     .status = "open",
                                     .created_at = 1,
                                     .product = i >= 3 ? ids[i] : ""};
        char target[64];
        snprintf(target, sizeof(target), "account:%s", ids[i]);
        nova_audit_entry_t ae = {tenant, "test", "ledger.account.create", target, NULL, NULL};
        assert_int_equal(nova_store_ledger_account_create(s, &acc, &ae), NOVA_OK);
    }
    for (int i = 0; i < 4; i++) {
        nova_ledger_product_t pr = {periods[i], "savings",    "KES",      "0", "ACT/365",
                                    0,          "interest",   "treasury", 1,   100,
                                    periods[i], "fee-income", NULL};
        nova_audit_entry_t pe = {tenant, "test", "ledger.product.set", "product:p", NULL, NULL};
        assert_int_equal(nova_store_ledger_product_put(s, tenant, &pr, &pe), NOVA_OK);
        nova_ledger_product_t back;
        assert_int_equal(nova_store_ledger_product_get(s, &a, tenant, periods[i], &back), NOVA_OK);
        assert_string_equal(back.fee_period, periods[i]);
        char fid[32];
        snprintf(fid, sizeof(fid), "f-%s", periods[i]);
        fund(s, &a, tenant, fid, "treasury", periods[i], 100000);
    }
    /* Wednesday 2026-11-04: all four charge; Thursday: only the daily one (the rest replay);
     * Monday 2026-11-09: daily and weekly; Thursday 2026-12-31 the same; Friday 2027-01-01: all
     * but the weekly one (the same week as the 31st). */
    static const struct {
        const char *day;
        int64_t after;
        size_t posted, replayed;
    } runs[] = {
        {"2026-11-04", 1793836860, 4, 0}, {"2026-11-04", 1793836860, 0, 4},
        {"2026-11-05", 1793923260, 1, 3}, {"2026-11-09", 1794269000, 2, 2},
        {"2026-12-31", 1798761660, 2, 2}, {"2027-01-01", 1798848060, 3, 1},
    };
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        nova_time_set_fake(runs[i].after);
        run_day(s, &a, tenant, runs[i].day, runs[i].posted, runs[i].replayed, 0);
    }
    nova_ledger_posting_row_t row;
    const char *posted[] = {"fee:daily:daily:2026-11-04",      "fee:daily:daily:2026-11-05",
                            "fee:weekly:weekly:w2026-11-02",   "fee:weekly:weekly:w2026-11-09",
                            "fee:weekly:weekly:w2026-12-28",   "fee:quarterly:quarterly:2026-Q4",
                            "fee:quarterly:quarterly:2027-Q1", "fee:annual:annual:2026",
                            "fee:annual:annual:2027"};
    for (size_t i = 0; i < sizeof(posted) / sizeof(posted[0]); i++) {
        assert_int_equal(nova_store_ledger_posting_get(s, &a, tenant, posted[i], &row), NOVA_OK);
        assert_int_equal(row.amount_total, 100);
    }
    /* 2026-12-31 is a Thursday in the week of 2026-12-28, and 2027-01-01 the Friday after:
     * the same week, so no second weekly fee. */
    assert_int_equal(credit_balance(s, &a, tenant, "daily"), 100000 - 5 * 100);
    assert_int_equal(credit_balance(s, &a, tenant, "weekly"), 100000 - 3 * 100);
    assert_int_equal(credit_balance(s, &a, tenant, "quarterly"), 100000 - 2 * 100);
    assert_int_equal(credit_balance(s, &a, tenant, "annual"), 100000 - 2 * 100);
    assert_int_equal(credit_balance(s, &a, tenant, "fee-income"), 12 * 100);
    nova_time_set_fake(0);
    nova_arena_free(&a);
    nova_store_close(s);
    unlink(path);
    char wal[96];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    unlink(wal);
}

/* Interest payout periods (issue 8 item 9, migration 0027): the span of each period (its
 * first day, whether a day is its last), then one savings product per period, each with its
 * own accrual account, run every day of November and December 2026: each period's payout
 * (payout:<product>:<account>:<label>, the fee periods' labels) is posted on the period's last
 * day only, equals the sum of that period's daily accruals to the minor unit, and leaves the
 * accrual account at zero; the monthly product keeps the ids it had before periods existed. */
static void test_interest_periods(void **state)
{
    (void)state;
    static const struct {
        const char *period;
        int64_t day, first;
        bool last;
    } spans[] = {
        {"daily", 1793750400, 1793750400, true},      /* 2026-11-04 */
        {"weekly", 1793750400, 1793577600, false},    /* a Wednesday: its Monday */
        {"weekly", 1794096000, 1793577600, true},     /* the Sunday after */
        {"weekly", 1767225600, 1766966400, false},    /* 2026-01-01: the week from 2025-12-29 */
        {"monthly", 1795996800, 1793491200, true},    /* 2026-11-30 */
        {"monthly", 1795910400, 1793491200, false},   /* 2026-11-29 */
        {"quarterly", 1774915200, 1767225600, true},  /* 2026-03-31 */
        {"quarterly", 1775001600, 1775001600, false}, /* 2026-04-01 */
        {"annual", 1798675200, 1767225600, true},     /* 2026-12-31 */
        {"annual", 1835395200, 1830297600, false},    /* 2028-02-29 */
    };
    for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
        int64_t first = -1;
        bool last = !spans[i].last;
        assert_int_equal(
            nova_ledger_period_span(spans[i].period, spans[i].day + 3600, &first, &last), NOVA_OK);
        assert_int_equal(first, spans[i].first);
        assert_int_equal(last, spans[i].last);
    }
    int64_t first;
    bool last;
    assert_int_equal(nova_ledger_period_span("fortnightly", 1793750400, &first, &last),
                     NOVA_INVALID);
    assert_int_equal(nova_ledger_period_span(NULL, 1793750400, &first, &last), NOVA_INVALID);

    char path[64], url[96], err[256];
    const char *pg = getenv("NOVA_TEST_PG_URL");
    snprintf(path, sizeof(path), "/tmp/ledger_interest_periods_%d.db", (int)getpid());
    snprintf(url, sizeof(url), "sqlite:%s", path);
    nova_store_t *s = NULL;
    int from, to;
    assert_int_equal(nova_store_open(pg && pg[0] ? pg : url, &s, err, sizeof(err)), NOVA_OK);
    assert_int_equal(nova_store_migrate(s, &from, &to), NOVA_OK);
    nova_arena_t a;
    nova_arena_init(&a, 16384);
    char tenant[48];
    snprintf(tenant, sizeof(tenant), "ten_intp_%d_%ld", (int)getpid(), (long)time(NULL));
    nova_tenant_t t = {tenant, tenant, 1};
    nova_audit_entry_t te = {tenant, "test", "tenant.create", "tenant:t", NULL, NULL};
    assert_int_equal(nova_store_tenant_create(s, &t, NULL, &te), NOVA_OK);
    nova_time_set_fake(1793491210); /* 2026-11-01T00:00:10Z */
    static const char *const periods[] = {"daily", "weekly", "monthly", "quarterly", "annual"};
    enum { NP = 5 };
    const char *names[] = {"treasury", "expense"};
    for (int i = 0; i < 2 + 2 * NP; i++) {
        char id[32];
        if (i < 2)
            snprintf(id, sizeof(id), "%s", names[i]);
        else
            snprintf(id, sizeof(id), "%s-%s", i % 2 ? "accrued" : "saver", periods[(i - 2) / 2]);
        nova_ledger_account_t acc = {.tenant_id = tenant,
                                     .id = nova_arena_strdup(&a, id),
                                     .currency = "KES",
                                     .type = i < 2   ? "treasury"
                                             : i % 2 ? "suspense"
                                                     : "savings",
                                     .status = "open",
                                     .created_at = 1,
                                     .product = i >= 2 && i % 2 == 0 ? periods[(i - 2) / 2] : ""};
        char target[64];
        snprintf(target, sizeof(target), "account:%s", id);
        nova_audit_entry_t ae = {tenant, "test", "ledger.account.create", target, NULL, NULL};
        assert_int_equal(nova_store_ledger_account_create(s, &acc, &ae), NOVA_OK);
    }
    for (int i = 0; i < NP; i++) {
        char accrued[32], saver[32], fid[32];
        snprintf(accrued, sizeof(accrued), "accrued-%s", periods[i]);
        snprintf(saver, sizeof(saver), "saver-%s", periods[i]);
        snprintf(fid, sizeof(fid), "fund-%s", periods[i]);
        /* "monthly" given as NULL: the default a product without the member gets. */
        nova_ledger_product_t pr = {periods[i],
                                    "savings",
                                    "KES",
                                    "0.0365",
                                    "ACT/365",
                                    0,
                                    "expense",
                                    nova_arena_strdup(&a, accrued),
                                    1,
                                    0,
                                    NULL,
                                    NULL,
                                    i == 2 ? NULL : periods[i]};
        nova_audit_entry_t pe = {tenant, "test", "ledger.product.set", "product:p", NULL, NULL};
        assert_int_equal(nova_store_ledger_product_put(s, tenant, &pr, &pe), NOVA_OK);
        nova_ledger_product_t back;
        assert_int_equal(nova_store_ledger_product_get(s, &a, tenant, periods[i], &back), NOVA_OK);
        assert_string_equal(back.interest_period, periods[i]);
        fund(s, &a, tenant, nova_arena_strdup(&a, fid), "treasury", nova_arena_strdup(&a, saver),
             100000000); /* KES 1,000,000.00: KES 100.00 a day at 3.65 % ACT/365 */
    }
    nova_time_set_fake(1798848000); /* 2027-01-02 */
    nova_audit_actor_t by = {"test", NULL};
    int64_t period_sum[NP] = {0}, paid[NP] = {0};
    size_t payouts[NP] = {0};
    for (int64_t day = 1793491200; day <= 1798675200; day += 86400) { /* 11-01 .. 12-31 */
        char d[16];
        time_t tt = (time_t)day;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(d, sizeof(d), "%Y-%m-%d", &tm);
        nova_ledger_accrual_run_t run;
        assert_int_equal(nova_ledger_accrue(s, &a, &by, tenant, d, &run), NOVA_OK);
        assert_int_equal(run.accounts, NP);
        assert_int_equal(run.failed, 0);
        for (int i = 0; i < NP; i++) {
            char id[96], label[16], saver[32], accrued[32];
            nova_ledger_posting_row_t row;
            snprintf(saver, sizeof(saver), "saver-%s", periods[i]);
            snprintf(accrued, sizeof(accrued), "accrued-%s", periods[i]);
            snprintf(id, sizeof(id), "accrue:%s:%s:%s", periods[i], saver, d);
            assert_int_equal(nova_store_ledger_posting_get(s, &a, tenant, id, &row), NOVA_OK);
            assert_int_equal(row.amount_total, 10000);
            period_sum[i] += row.amount_total;
            assert_int_equal(nova_ledger_period_span(periods[i], day, &first, &last), NOVA_OK);
            assert_int_equal(nova_ledger_period_label(periods[i], day, label), NOVA_OK);
            snprintf(id, sizeof(id), "payout:%s:%s:%s", periods[i], saver, label);
            nova_status got = nova_store_ledger_posting_get(s, &a, tenant, id, &row);
            if (!last) {
                assert_int_equal(got, NOVA_NOT_FOUND);
                assert_int_equal(credit_balance(s, &a, tenant, accrued), period_sum[i]);
                continue;
            }
            assert_int_equal(got, NOVA_OK);
            assert_int_equal(row.amount_total, period_sum[i]);
            assert_int_equal(credit_balance(s, &a, tenant, accrued), 0);
            paid[i] += period_sum[i];
            period_sum[i] = 0;
            payouts[i]++;
        }
        nova_arena_reset(&a);
    }
    /* 61 days: 61 daily payouts; weeks ending 11-01 .. 12-27 (nine Sundays), the week of
     * 12-28 still open; two months; Q4 once; the year once. */
    size_t want[NP] = {61, 9, 2, 1, 1};
    for (int i = 0; i < NP; i++) {
        char saver[32];
        snprintf(saver, sizeof(saver), "saver-%s", periods[i]);
        assert_int_equal(payouts[i], want[i]);
        assert_int_equal(credit_balance(s, &a, tenant, saver), 100000000 + paid[i]);
    }
    /* The first day of each: KES 100.00 exactly; only the daily and weekly (its week ends on
     * Sunday 11-01) were paid that day. */
    nova_ledger_posting_row_t row;
    assert_int_equal(
        nova_store_ledger_posting_get(s, &a, tenant, "payout:daily:saver-daily:2026-11-01", &row),
        NOVA_OK);
    assert_int_equal(row.amount_total, 10000);
    assert_int_equal(nova_store_ledger_posting_get(s, &a, tenant,
                                                   "payout:weekly:saver-weekly:w2026-10-26", &row),
                     NOVA_OK);
    assert_int_equal(row.amount_total, 10000);
    /* Monthly: 30 days of KES 100.00 in November, under the id it had before periods. */
    assert_int_equal(
        nova_store_ledger_posting_get(s, &a, tenant, "payout:monthly:saver-monthly:2026-11", &row),
        NOVA_OK);
    assert_int_equal(row.amount_total, 300000);
    /* Every run here comes after the last day (the clock stays at 2027-01-02), so no payout
     * is in any end-of-day balance of the two months: each day earns KES 100.00 and every
     * product pays 61 of them, but the weekly one, whose week from 12-28 is still open. */
    for (int i = 0; i < NP; i++)
        assert_int_equal(paid[i], i == 1 ? 57 * 10000 : 61 * 10000);
    assert_int_equal(credit_balance(s, &a, tenant, "accrued-weekly"), 4 * 10000);
    /* A second run of the last day posts nothing. */
    nova_ledger_accrual_run_t again;
    assert_int_equal(nova_ledger_accrue(s, &a, &by, tenant, "2026-12-31", &again), NOVA_OK);
    assert_int_equal(again.posted, 0);
    nova_time_set_fake(0);
    nova_arena_free(&a);
    nova_store_close(s);
    unlink(path);
    char wal[96];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    unlink(wal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_currency_table),
        cmocka_unit_test(test_amount_parse),
        cmocka_unit_test(test_amount_format),
        cmocka_unit_test(test_amount_json),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_posting_valid),
        cmocka_unit_test(test_posting_refusals),
        cmocka_unit_test(test_reverse_and_diff),
        cmocka_unit_test(test_balance_rules),
        cmocka_unit_test(test_derive),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_interest),
        cmocka_unit_test(test_accrual_run),
        cmocka_unit_test(test_account_fees),
        cmocka_unit_test(test_fee_periods),
        cmocka_unit_test(test_reverse_legs),
        cmocka_unit_test(test_interest_periods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
