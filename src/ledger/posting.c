/*
 * posting.c: a posting body's validation (balanced entries per currency, Amounts, the
 * descriptive members), its idempotency fingerprint (SHA-256 of the canonical JSON), the
 * per-account sums the store locks and checks, reversals, and naming what differs between
 * two bodies sent under one id.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nova/crypto.h"
#include "nova/ledger.h"

const char *const nova_ledger_posting_members[] = {"id",      "entries",    "description",
                                                   "purpose", "channel",    "metadata",
                                                   "pending", "expires_at", NULL};

#define YEAR_SECONDS (366 * 86400LL)

static nova_status fail(char *field, size_t fieldlen, char *why, size_t whylen, const char *f,
                        const char *w)
{
    snprintf(field, fieldlen, "%s", f);
    snprintf(why, whylen, "%s", w);
    return NOVA_INVALID;
}

/* An optional printable string member of 1..max bytes (no control characters). */
static bool text_member(json_t *body, const char *name, size_t max, nova_arena_t *a,
                        const char **out)
{
    json_t *v = json_object_get(body, name);
    *out = NULL;
    if (v == NULL)
        return true;
    if (!json_is_string(v))
        return false;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0 || n > max || strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    *out = nova_arena_strndup(a, s, n);
    return *out != NULL;
}

static char *canonical(nova_arena_t *a, json_t *v)
{
    char *t = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    if (t == NULL)
        return NULL;
    char *c = nova_arena_strdup(a, t);
    free(t);
    return c;
}

static int cmp_currency(const void *x, const void *y)
{
    return strcmp(((const nova_ledger_entry_t *)x)->currency,
                  ((const nova_ledger_entry_t *)y)->currency);
}

nova_status nova_ledger_posting_parse(json_t *body, nova_arena_t *a, int64_t now,
                                      nova_ledger_posting_t *out, char *field, size_t fieldlen,
                                      char *why, size_t whylen)
{
    memset(out, 0, sizeof(*out));
    field[0] = why[0] = '\0';
    if (!json_is_object(body))
        return fail(field, fieldlen, why, whylen, "", "a JSON object");
    json_t *id = json_object_get(body, "id");
    if (!json_is_string(id) || !nova_ledger_id_valid(json_string_value(id)))
        return fail(field, fieldlen, why, whylen, "/id",
                    "required: 1 to 64 of A-Z a-z 0-9 _ . : - chosen by the client (the "
                    "idempotency key)");
    out->id = nova_arena_strdup(a, json_string_value(id));
    json_t *entries = json_object_get(body, "entries");
    if (!json_is_array(entries) || json_array_size(entries) < 2 ||
        json_array_size(entries) > NOVA_LEDGER_MAX_ENTRIES)
        return fail(field, fieldlen, why, whylen, "/entries",
                    "required: an array of 2 to 64 entries");
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        char at[48];
        snprintf(at, sizeof(at), "/entries/%zu", i);
        if (!json_is_object(e))
            return fail(field, fieldlen, why, whylen, at,
                        "an entry {\"account\", \"direction\", \"amount\"}");
        const char *key;
        json_t *v;
        json_object_foreach(e, key, v)
        {
            if (strcmp(key, "account") && strcmp(key, "direction") && strcmp(key, "amount")) {
                snprintf(field, fieldlen, "%s/%s", at, key);
                snprintf(why, whylen, "unknown member: an entry has account, direction, amount");
                return NOVA_INVALID;
            }
        }
        nova_ledger_entry_t *en = &out->entries[i];
        json_t *acc = json_object_get(e, "account"), *dir = json_object_get(e, "direction");
        if (!json_is_string(acc) || !nova_ledger_id_valid(json_string_value(acc))) {
            snprintf(field, fieldlen, "%s/account", at);
            snprintf(why, whylen, "required: an account id");
            return NOVA_INVALID;
        }
        en->account = nova_arena_strdup(a, json_string_value(acc));
        const char *d = json_is_string(dir) ? json_string_value(dir) : "";
        if (strcmp(d, "debit") != 0 && strcmp(d, "credit") != 0) {
            snprintf(field, fieldlen, "%s/direction", at);
            snprintf(why, whylen, "required: \"debit\" or \"credit\"");
            return NOVA_INVALID;
        }
        en->credit = d[0] == 'c';
        const char *member, *reason;
        if (nova_ledger_amount_json(json_object_get(e, "amount"), false, en->currency, &en->amount,
                                    &member, &reason) != NOVA_OK) {
            snprintf(field, fieldlen, "%s/amount%s", at, member);
            snprintf(why, whylen, "%s", reason);
            return NOVA_INVALID;
        }
        if (en->account == NULL)
            return NOVA_NOMEM;
    }
    out->n = json_array_size(entries);
    /* Debits equal credits in each currency: sort a copy by currency, sum each run. Amounts
     * are at most 10^15 and entries at most 64, so no sum overflows. */
    nova_ledger_entry_t sorted[NOVA_LEDGER_MAX_ENTRIES];
    memcpy(sorted, out->entries, out->n * sizeof(sorted[0]));
    qsort(sorted, out->n, sizeof(sorted[0]), cmp_currency);
    for (size_t j = 0; j < out->n;) {
        int64_t net = 0;
        size_t k = j;
        for (; k < out->n && strcmp(sorted[k].currency, sorted[j].currency) == 0; k++)
            net += sorted[k].credit ? sorted[k].amount : -sorted[k].amount;
        if (net != 0) {
            snprintf(field, fieldlen, "/entries");
            snprintf(why, whylen, "unbalanced: debits and credits in %s differ by %lld minor units",
                     sorted[j].currency, (long long)(net < 0 ? -net : net));
            return NOVA_INVALID;
        }
        j = k;
    }
    static const struct {
        const char *name;
        size_t max;
        size_t off;
    } texts[] = {
        {"description", 500, offsetof(nova_ledger_posting_t, description)},
        {"purpose", 64, offsetof(nova_ledger_posting_t, purpose)},
        {"channel", 64, offsetof(nova_ledger_posting_t, channel)},
    };
    for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
        const char **dst = (const char **)((char *)out + texts[t].off);
        if (!text_member(body, texts[t].name, texts[t].max, a, dst)) {
            snprintf(field, fieldlen, "/%s", texts[t].name);
            snprintf(why, whylen, "a string of 1 to %zu printable characters", texts[t].max);
            return NOVA_INVALID;
        }
    }
    json_t *md = json_object_get(body, "metadata");
    if (md) {
        if (!json_is_object(md) || json_object_size(md) > 32)
            return fail(field, fieldlen, why, whylen, "/metadata",
                        "an object of at most 32 members");
        const char *key;
        json_t *v;
        json_object_foreach(md, key, v)
        {
            if (!json_is_string(v) || json_string_length(v) > 256 || strlen(key) > 64) {
                snprintf(field, fieldlen, "/metadata/%.64s", key);
                snprintf(why, whylen,
                         "metadata values are strings of at most 256 bytes, "
                         "names at most 64");
                return NOVA_INVALID;
            }
        }
        if ((out->metadata = canonical(a, md)) == NULL)
            return NOVA_NOMEM;
    }
    json_t *pending = json_object_get(body, "pending"), *exp = json_object_get(body, "expires_at");
    if (pending && !json_is_boolean(pending))
        return fail(field, fieldlen, why, whylen, "/pending", "true or false");
    out->pending = pending && json_is_true(pending);
    if (exp) {
        if (!out->pending)
            return fail(field, fieldlen, why, whylen, "/expires_at",
                        "only a hold (\"pending\": true) expires");
        if (!json_is_integer(exp) || json_integer_value(exp) <= now ||
            json_integer_value(exp) > now + YEAR_SECONDS)
            return fail(field, fieldlen, why, whylen, "/expires_at",
                        "unix seconds in the future, at most a year ahead");
        out->expires_at = json_integer_value(exp);
    }
    if ((out->canonical = canonical(a, body)) == NULL)
        return NOVA_NOMEM;
    uint8_t d[32];
    nova_sha256(out->canonical, strlen(out->canonical), d);
    for (int b = 0; b < 32; b++)
        snprintf(out->digest + 2 * b, 3, "%02x", d[b]);
    return NOVA_OK;
}

/* Rank (1-based) of unit k of leg j among the units of legs a[0..n) ordered by (k / a[i], i):
 * 1 + the units of every leg ranked before it. Unit m of leg i ranks before when
 * m / a[i] < k / a[j], i.e. m < k a[i] / a[j], or equal to it with i < j. */
static __int128 unit_rank(const int64_t *a, size_t n, size_t j, int64_t k)
{
    __int128 rank = k; /* the leg's own units 1..k-1, and this one */
    for (size_t i = 0; i < n; i++) {
        if (i == j)
            continue;
        __int128 x = (__int128)k * a[i];
        rank += (x - 1) / a[j];
        if (i < j && x % a[j] == 0)
            rank += 1;
    }
    return rank;
}

/* How many of the first r units go to leg j: the largest k <= a[j] whose rank is <= r. */
static int64_t leg_share(const int64_t *a, size_t n, size_t j, int64_t r)
{
    int64_t lo = 0, hi = a[j];
    while (lo < hi) {
        int64_t k = lo + (hi - lo + 1) / 2;
        if (unit_rank(a, n, j, k) <= r)
            lo = k;
        else
            hi = k - 1;
    }
    return lo;
}

nova_status nova_ledger_posting_reverse(const nova_ledger_posting_t *orig, const char *id,
                                        int64_t before, int64_t amount, nova_ledger_posting_t *out)
{
    memset(out, 0, sizeof(*out));
    if (orig->n < 2 || orig->n > NOVA_LEDGER_MAX_ENTRIES || !nova_ledger_id_valid(id) ||
        amount < 0 || before < 0)
        return NOVA_INVALID;
    out->id = id;
    if (amount == 0) {
        if (before != 0)
            return NOVA_TOO_LARGE;
        out->n = orig->n;
        for (size_t i = 0; i < orig->n; i++) {
            out->entries[i] = orig->entries[i];
            out->entries[i].credit = !orig->entries[i].credit;
        }
        return NOVA_OK;
    }
    int64_t total = 0;
    for (size_t i = 0; i < orig->n; i++) {
        if (strcmp(orig->entries[i].currency, orig->entries[0].currency) != 0 ||
            orig->entries[i].amount <= 0)
            return NOVA_INVALID;
        total += orig->entries[i].credit ? 0 : orig->entries[i].amount;
    }
    if (amount > total || before > total - amount)
        return NOVA_TOO_LARGE;
    /* Each side's legs share the units; the reversal keeps the original's order of legs. */
    int64_t part[NOVA_LEDGER_MAX_ENTRIES];
    for (int side = 0; side < 2; side++) {
        int64_t a[NOVA_LEDGER_MAX_ENTRIES];
        size_t idx[NOVA_LEDGER_MAX_ENTRIES], n = 0;
        for (size_t i = 0; i < orig->n; i++)
            if (orig->entries[i].credit == (side == 1)) {
                idx[n] = i;
                a[n++] = orig->entries[i].amount;
            }
        for (size_t j = 0; j < n; j++)
            part[idx[j]] = leg_share(a, n, j, before + amount) - leg_share(a, n, j, before);
    }
    for (size_t i = 0; i < orig->n; i++) {
        if (part[i] == 0)
            continue;
        out->entries[out->n] = orig->entries[i];
        out->entries[out->n].credit = !orig->entries[i].credit;
        out->entries[out->n].amount = part[i];
        out->n++;
    }
    return NOVA_OK;
}

nova_status nova_ledger_posting_shares(const nova_ledger_posting_t *orig, int64_t r,
                                       int64_t *shares)
{
    if (orig->n < 2 || orig->n > NOVA_LEDGER_MAX_ENTRIES || r < 0)
        return NOVA_INVALID;
    int64_t total = 0;
    bool one_currency = true;
    for (size_t i = 0; i < orig->n; i++) {
        one_currency &= strcmp(orig->entries[i].currency, orig->entries[0].currency) == 0;
        total += orig->entries[i].credit ? 0 : orig->entries[i].amount;
    }
    if (r > total)
        return NOVA_TOO_LARGE;
    /* Nothing, or everything (a whole reversal): any posting. In between only a posting in one
     * currency can have been reversed in part by amount. */
    if (r == 0 || r == total) {
        for (size_t i = 0; i < orig->n; i++)
            shares[i] = r ? orig->entries[i].amount : 0;
        return NOVA_OK;
    }
    if (!one_currency)
        return NOVA_INVALID;
    for (int side = 0; side < 2; side++) {
        int64_t a[NOVA_LEDGER_MAX_ENTRIES];
        size_t idx[NOVA_LEDGER_MAX_ENTRIES], n = 0;
        for (size_t i = 0; i < orig->n; i++)
            if (orig->entries[i].credit == (side == 1)) {
                idx[n] = i;
                a[n++] = orig->entries[i].amount;
            }
        for (size_t j = 0; j < n; j++)
            shares[idx[j]] = leg_share(a, n, j, r);
    }
    return NOVA_OK;
}

nova_status nova_ledger_posting_reverse_legs(const nova_ledger_posting_t *orig, const char *id,
                                             const int64_t *prior, const nova_ledger_leg_t *legs,
                                             size_t n, nova_ledger_posting_t *out, int64_t *units,
                                             size_t *bad)
{
    memset(out, 0, sizeof(*out));
    *units = 0;
    *bad = n;
    if (orig->n < 2 || orig->n > NOVA_LEDGER_MAX_ENTRIES || !nova_ledger_id_valid(id) || n < 2 ||
        n > orig->n)
        return NOVA_INVALID;
    bool named[NOVA_LEDGER_MAX_ENTRIES] = {false};
    int64_t amount[NOVA_LEDGER_MAX_ENTRIES] = {0};
    for (size_t i = 0; i < n; i++) {
        size_t k = legs[i].leg;
        if (k >= orig->n || named[k] || legs[i].amount <= 0 ||
            strcmp(legs[i].currency, orig->entries[k].currency) != 0) {
            *bad = i;
            return NOVA_INVALID;
        }
        named[k] = true;
        amount[k] = legs[i].amount;
    }
    /* Never past a leg: what earlier reversals took from it plus this one. */
    for (size_t i = 0; i < n; i++) {
        size_t k = legs[i].leg;
        if (prior[k] < 0 || prior[k] > orig->entries[k].amount ||
            amount[k] > orig->entries[k].amount - prior[k]) {
            *bad = i;
            return NOVA_TOO_LARGE;
        }
    }
    /* In the original's order of legs, each side swapped; balanced per currency. */
    for (size_t k = 0; k < orig->n; k++) {
        if (!named[k])
            continue;
        out->entries[out->n] = orig->entries[k];
        out->entries[out->n].credit = !orig->entries[k].credit;
        out->entries[out->n].amount = amount[k];
        out->n++;
        *units += orig->entries[k].credit ? 0 : amount[k];
    }
    for (size_t i = 0; i < out->n; i++) {
        int64_t net = 0;
        for (size_t j = 0; j < out->n; j++)
            if (strcmp(out->entries[j].currency, out->entries[i].currency) == 0)
                net += out->entries[j].credit ? out->entries[j].amount : -out->entries[j].amount;
        if (net != 0)
            return NOVA_INVALID; /* *bad == n: the legs do not balance */
    }
    out->id = id;
    return NOVA_OK;
}

static int cmp_delta(const void *x, const void *y)
{
    return strcmp(((const nova_ledger_account_delta_t *)x)->account,
                  ((const nova_ledger_account_delta_t *)y)->account);
}

nova_status nova_ledger_posting_deltas(const nova_ledger_posting_t *p,
                                       nova_ledger_account_delta_t *out, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < p->n; i++) {
        const nova_ledger_entry_t *e = &p->entries[i];
        size_t k = 0;
        while (k < *n && strcmp(out[k].account, e->account) != 0)
            k++;
        if (k == *n) {
            memset(&out[k], 0, sizeof(out[k]));
            out[k].account = e->account;
            memcpy(out[k].currency, e->currency, 4);
            (*n)++;
        } else if (strcmp(out[k].currency, e->currency) != 0) {
            return NOVA_INVALID;
        }
        if (e->credit)
            out[k].credits += e->amount;
        else
            out[k].debits += e->amount;
    }
    qsort(out, *n, sizeof(out[0]), cmp_delta);
    return NOVA_OK;
}

const char *nova_ledger_posting_diff(nova_arena_t *a, const char *canonical_a,
                                     const char *canonical_b)
{
    json_t *x = json_loads(canonical_a ? canonical_a : "{}", 0, NULL);
    json_t *y = json_loads(canonical_b ? canonical_b : "{}", 0, NULL);
    nova_buf_t b;
    nova_buf_init(&b);
    for (const char *const *m = nova_ledger_posting_members; *m; m++) {
        json_t *u = x ? json_object_get(x, *m) : NULL, *v = y ? json_object_get(y, *m) : NULL;
        if ((u == NULL) != (v == NULL) || (u && !json_equal(u, v))) {
            if (b.len)
                nova_buf_append_cstr(&b, ", ");
            nova_buf_append_cstr(&b, *m);
        }
    }
    json_decref(x);
    json_decref(y);
    const char *r = nova_arena_strndup(a, b.len ? (const char *)b.data : "", b.len);
    nova_buf_free(&b);
    return r ? r : "";
}
