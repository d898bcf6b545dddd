/*
 * posting_fuzz.c: libFuzzer target for posting bodies (POST /v1/core/postings is outside
 * input). The bytes go through Nova's strict JSON decoder, then posting validation. A refusal
 * names a JSON Pointer and a reason; an accepted posting has 2..64 entries with positive
 * bounded amounts, debits equal to credits in every currency, a 64-hex fingerprint, and a
 * canonical text that parses to the same posting (same fingerprint).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nova/json.h"
#include "nova/ledger.h"

static void check(const nova_ledger_posting_t *p)
{
    if (p->n < 2 || p->n > NOVA_LEDGER_MAX_ENTRIES || strlen(p->digest) != 64)
        abort();
    for (size_t i = 0; i < p->n; i++) {
        int64_t net = 0;
        for (size_t k = 0; k < p->n; k++) {
            const nova_ledger_entry_t *e = &p->entries[k];
            if (e->amount <= 0 || e->amount > NOVA_LEDGER_AMOUNT_MAX)
                abort();
            if (strcmp(e->currency, p->entries[i].currency) == 0)
                net += e->credit ? e->amount : -e->amount;
        }
        if (net != 0)
            abort();
    }
}

/* Partial reversals of an accepted posting in one currency, in steps up to its total: each
 * balances at the step, every leg is the original's side swapped, no leg's cumulative
 * reversal passes it, and the whole total reverses every leg exactly; one more unit is
 * refused. */
static void reverse_steps(const nova_ledger_posting_t *p)
{
    int64_t total = 0, done[NOVA_LEDGER_MAX_ENTRIES] = {0}, before = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->entries[i].currency, p->entries[0].currency) != 0)
            return;
        total += p->entries[i].credit ? 0 : p->entries[i].amount;
    }
    const int64_t steps[] = {1, total / 3, total / 2, total};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]) && before < total; s++) {
        int64_t step = steps[s] < total - before ? steps[s] : total - before;
        if (step <= 0)
            continue;
        nova_ledger_posting_t r;
        if (nova_ledger_posting_reverse(p, "fuzz", before, step, &r) != NOVA_OK)
            abort();
        int64_t d = 0, c = 0;
        for (size_t k = 0; k < r.n; k++) {
            size_t leg = 0;
            while (leg < p->n && p->entries[leg].account != r.entries[k].account)
                leg++;
            if (leg == p->n || r.entries[k].credit == p->entries[leg].credit ||
                r.entries[k].amount <= 0)
                abort();
            done[leg] += r.entries[k].amount;
            if (done[leg] > p->entries[leg].amount)
                abort();
            *(r.entries[k].credit ? &c : &d) += r.entries[k].amount;
        }
        if (d != step || c != step)
            abort();
        before += step;
    }
    for (size_t i = 0; i < p->n; i++)
        if (done[i] != p->entries[i].amount)
            abort();
    nova_ledger_posting_t r;
    if (nova_ledger_posting_reverse(p, "fuzz", total, 1, &r) != NOVA_TOO_LARGE)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = NULL;
    char err[160];
    if (nova_json_parse_body((const char *)data, size, nova_ledger_posting_members, &body, err,
                             sizeof(err)) != NOVA_OK)
        return 0;
    nova_arena_t a;
    nova_arena_init(&a, 4096);
    nova_ledger_posting_t p;
    char field[96], why[256];
    nova_status st =
        nova_ledger_posting_parse(body, &a, 1000, &p, field, sizeof(field), why, sizeof(why));
    json_decref(body);
    if (st != NOVA_OK) {
        if (st != NOVA_INVALID || why[0] == '\0' || (field[0] != '\0' && field[0] != '/'))
            abort();
    } else {
        check(&p);
        reverse_steps(&p);
        json_t *again = json_loads(p.canonical, 0, NULL);
        nova_ledger_posting_t q;
        if (again == NULL ||
            nova_ledger_posting_parse(again, &a, 1000, &q, field, sizeof(field), why,
                                      sizeof(why)) != NOVA_OK ||
            strcmp(q.digest, p.digest) != 0)
            abort();
        json_decref(again);
        nova_ledger_account_delta_t d[NOVA_LEDGER_MAX_ENTRIES];
        size_t n;
        if (nova_ledger_posting_deltas(&p, d, &n) == NOVA_OK)
            for (size_t i = 1; i < n; i++)
                if (strcmp(d[i - 1].account, d[i].account) >= 0)
                    abort();
    }
    nova_arena_free(&a);
    return 0;
}
