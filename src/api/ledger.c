/* ledger.c: the core ledger's HTTP resource (issue 8): accounts, balances, postings, holds,
 * reversals under /v1/core. Decode (src/ledger validates), call the repository
 * (nova/ledger_store.h) with the balance rules as its check, encode. Every mutation is
 * audited in its own transaction by the store call that makes it; a refused posting is
 * recorded (state "failed", its problem kept) so its id keeps failing the same way.
 *
 * Background work on novad's one scheduler (registered in api_ledger_register): hold expiry
 * every NOVA_LEDGER_SWEEP_MS voids holds past expires_at (state "expired"), so an expired
 * hold stops counting within that period with no request touching it (a server without a
 * scheduler sweeps from the ledger's routes instead); a post after expires_at is refused and
 * voids the hold on the spot. The daily run accrues yesterday (UTC) once a day per process. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "nova/audit.h"
#include "nova/audit_store.h"
#include "nova/crypto.h"
#include "nova/killswitch.h"
#include "nova/ledger.h"
#include "nova/ledger_accrue.h"
#include "nova/ledger_store.h"
#include "nova/log.h"

#define PAGE_DEFAULT 50
#define PAGE_MAX 500

/* ---- helpers ---- */

static void invalid(nova_req_t *r, const char *field, const char *why)
{
    const char *d = nova_arena_printf(&r->arena, "%s: %s", field, why);
    nova_resp_problem(r, 422, "invalid_field", "Unprocessable Content", d ? d : why);
}

static nova_ledger_rules_t rules_of(const nova_ledger_account_t *a)
{
    int st = nova_ledger_status_parse(a->status);
    nova_ledger_rules_t rules = {a->flags, st < 0 ? NOVA_LEDGER_CLOSED : (nova_ledger_status)st,
                                 a->overdraft_limit, a->overdraft_expires_at};
    return rules;
}

static nova_ledger_refusal check_account(const nova_ledger_account_t *a,
                                         const nova_ledger_balance_t *delta, void *ud)
{
    const int64_t *now = ud;
    nova_ledger_rules_t rules = rules_of(a);
    return nova_ledger_check(&rules, &a->balance, delta, *now);
}

/* The limits of an account's KYC tier and its own, the stricter applying (nova_ledger_limits_*). */
static nova_ledger_refusal
limit_account(const nova_ledger_account_t *a, const nova_ledger_balance_t *delta,
              const nova_ledger_limits_t *tier, const nova_ledger_limits_t *own,
              const nova_ledger_usage_t *usage, void *ud, nova_ledger_limit_kind *which)
{
    const int64_t *now = ud;
    nova_ledger_limits_t m;
    nova_ledger_limits_merge(tier, own, &m);
    int64_t out = delta->debits_posted + delta->debits_pending;
    int64_t ledger_after = INT64_MIN;
    if (delta->credits_posted > 0) {
        nova_ledger_rules_t rules = rules_of(a);
        nova_ledger_derived_t d;
        nova_ledger_derive(&rules, &a->balance, *now, &d);
        ledger_after = d.ledger;
    }
    nova_ledger_limit_result_t res;
    nova_ledger_limit_check(&m, usage, out > 0 ? out : 0, ledger_after, &res);
    if (res.allowed)
        return NOVA_LEDGER_ALLOWED;
    *which = res.decides;
    return NOVA_LEDGER_LIMIT_EXCEEDED;
}

static json_t *amount_or_null(const char *currency, int64_t v)
{
    json_t *j = nova_ledger_amount_new(currency, v);
    return j ? j : json_null();
}

static json_t *account_json(const nova_ledger_account_t *a)
{
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s,s:{s:b,s:b},s:I,s:I}", "id", a->id, "currency", a->currency,
                  "type", a->type, "status", a->status, "flags", "debits_must_not_exceed_credits",
                  (a->flags & NOVA_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS) != 0,
                  "credits_must_not_exceed_debits",
                  (a->flags & NOVA_LEDGER_CREDITS_MUST_NOT_EXCEED_DEBITS) != 0, "created_at",
                  (json_int_t)a->created_at, "updated_at", (json_int_t)a->updated_at);
    if (o == NULL)
        return NULL;
    if (a->overdraft_limit > 0) {
        json_t *od = json_pack("{s:o}", "limit", amount_or_null(a->currency, a->overdraft_limit));
        if (od && a->overdraft_expires_at)
            json_object_set_new(od, "expires_at", json_integer(a->overdraft_expires_at));
        if (od && a->overdraft_rate[0])
            json_object_set_new(od, "rate", json_string(a->overdraft_rate));
        json_object_set_new(o, "overdraft", od ? od : json_null());
    } else {
        json_object_set_new(o, "overdraft", json_null());
    }
    if (a->kyc_tier[0])
        json_object_set_new(o, "kyc_tier", json_string(a->kyc_tier));
    if (a->owner_ref[0])
        json_object_set_new(o, "owner_ref", json_string(a->owner_ref));
    if (a->product && a->product[0])
        json_object_set_new(o, "product", json_string(a->product));
    json_t *md = json_loads(a->metadata, 0, NULL);
    json_object_set_new(o, "metadata", md ? md : json_object());
    return o;
}

static json_t *balances_json(const nova_ledger_account_t *a, int64_t now)
{
    nova_ledger_rules_t rules = rules_of(a);
    nova_ledger_derived_t d;
    nova_ledger_derive(&rules, &a->balance, now, &d);
    const char *c = a->currency;
    return json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I}", "account", a->id, "currency",
                     c, "debits_posted", amount_or_null(c, a->balance.debits_posted),
                     "credits_posted", amount_or_null(c, a->balance.credits_posted),
                     "debits_pending", amount_or_null(c, a->balance.debits_pending),
                     "credits_pending", amount_or_null(c, a->balance.credits_pending), "ledger",
                     amount_or_null(c, d.ledger), "held", amount_or_null(c, d.held),
                     "overdraft_headroom",
                     amount_or_null(c, nova_ledger_overdraft_headroom(&rules, now)), "available",
                     amount_or_null(c, d.available), "as_of", (json_int_t)now);
}

/* The reply for a posting: its request (canonical) with what the ledger added. */
typedef struct posting_view {
    const char *request;
    const char *kind;
    const char *state;
    const char *parent_id;
    const char *actor;
    int64_t created_at;
    int64_t reversed;
    int64_t posted_amount;
} posting_view;

static json_t *posting_json(const posting_view *v, const char *audit_id)
{
    json_t *o = json_loads(v->request, 0, NULL);
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "kind", json_string(v->kind));
    json_object_set_new(o, "state", json_string(v->state));
    if (v->parent_id && v->parent_id[0])
        json_object_set_new(o, "reverses", json_string(v->parent_id));
    json_object_set_new(o, "actor", json_string(v->actor));
    json_object_set_new(o, "audit_entry_id", json_string(audit_id ? audit_id : ""));
    json_object_set_new(o, "created_at", json_integer(v->created_at));
    return o;
}

static const char *render_posting(void *ud, nova_arena_t *ar, const char *audit_id)
{
    json_t *o = posting_json(ud, audit_id);
    char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    const char *c = t ? nova_arena_strdup(ar, t) : NULL;
    free(t);
    return c;
}

/* A replay answers as the first time did, but a created posting is 200 (nothing new). */
static void reply_text(nova_req_t *r, int status, const char *text, bool replayed)
{
    if (replayed) {
        nova_resp_header(r, "Idempotent-Replayed", "true");
        if (status == 201)
            status = 200;
    }
    if (status >= 400) {
        json_t *p = json_loads(text, 0, NULL);
        json_t *code = p ? json_object_get(p, "code") : NULL;
        r->problem_code = nova_arena_strdup(
            &r->arena, json_is_string(code) ? json_string_value(code) : "refused");
        json_decref(p);
        nova_resp_body(r, status, "application/problem+json", text, strlen(text));
    } else {
        nova_resp_json(r, status, text, strlen(text));
    }
}

static bool audit_make(nova_req_t *r, nova_audit_entry_t *e, const char *tenant, const char *action,
                       const char *type, const char *id, json_t *attrs)
{
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    if (nova_audit_entry_make(e, &r->arena, &by, tenant, action, type, id, attrs) != NOVA_OK) {
        nova_resp_status(r, NOVA_INTERNAL, NULL);
        return false;
    }
    return true;
}

/* Kill switches (nova/killswitch.h): "ledger.posting" stops every money movement of the
 * tenant; a posting's purpose ("cashout", "disbursement", ...) is a switch of its own. */
static bool killed(nova_req_t *r, nova_api_t *api, const char *purpose)
{
    const char *t = r->principal->tenant_id;
    const char *region = api->region && api->region[0] ? api->region : NULL;
    const char *which = NULL;
    if (nova_killswitch_active(api->kv, t, region, "ledger.posting"))
        which = "ledger.posting";
    else if (purpose && nova_killswitch_action_valid(purpose) &&
             nova_killswitch_active(api->kv, t, region, purpose))
        which = purpose;
    if (which == NULL)
        return false;
    const char *d = nova_arena_printf(&r->arena,
                                      "the kill switch \"%s\" is on for this tenant (or the "
                                      "control plane cannot confirm it is off)",
                                      which);
    nova_resp_header(r, "Retry-After", "60");
    nova_resp_problem(r, 503, "kill_switch_active", "Service Unavailable", d);
    return true;
}

/* ---- the expiry sweep ---- */

static nova_ledger_refusal allow_all(const nova_ledger_account_t *a,
                                     const nova_ledger_balance_t *delta, void *ud)
{
    (void)a;
    (void)delta;
    (void)ud;
    return NOVA_LEDGER_ALLOWED;
}

/* Voids every hold past its expires_at at now (state "expired"), each in its own transaction
 * with its audit entry (actor "system", action ledger.hold.expire), as a manual void is. A hold
 * another process resolved meanwhile is skipped (its resolution won). At most 50 pages of 100
 * a call, and a page that voids nothing ends it, so a hold that cannot be voided (the store is
 * away) never spins the job. */
static nova_status sweep_expired(nova_store_t *s, int64_t now, size_t *voided)
{
    nova_status st = NOVA_OK;
    *voided = 0;
    for (int page = 0; st == NOVA_OK && page < 50; page++) {
        nova_arena_t a;
        nova_arena_init(&a, 4096);
        const char **tenants, **ids;
        size_t n = 0, done = 0;
        st = nova_store_ledger_due(s, &a, now, 100, &tenants, &ids, &n);
        for (size_t i = 0; st == NOVA_OK && i < n; i++) {
            nova_audit_actor_t by = {"system", NULL};
            nova_audit_entry_t e;
            const char *state;
            nova_ledger_outcome_t out;
            st = nova_audit_entry_make(&e, &a, &by, tenants[i], "ledger.hold.expire", "posting",
                                       ids[i], NULL);
            if (st == NOVA_OK)
                st = nova_store_ledger_resolve(s, &a, tenants[i], ids[i], false, true, 0, now,
                                               allow_all, NULL, &e, &state, &out);
            if (st == NOVA_OK)
                done++;
            else if (st == NOVA_CONFLICT || st == NOVA_NOT_FOUND)
                st = NOVA_OK;
        }
        nova_arena_free(&a);
        *voided += done;
        if (n < 100 || done == 0)
            break;
    }
    return st;
}

/* Without a scheduler (a server that runs no background work), the ledger's routes sweep, at
 * most once a second per process. */
static bool route_sweep = true;
static _Atomic int64_t last_sweep;

static void sweep_due(nova_store_t *s)
{
    if (!route_sweep)
        return;
    int64_t now = nova_time_now();
    int64_t prev = atomic_load(&last_sweep);
    size_t n;
    if (prev >= now || !atomic_compare_exchange_strong(&last_sweep, &prev, now))
        return;
    sweep_expired(s, now, &n);
}

/* ---- background jobs on novad's scheduler ---- */

static const char *jobs_database_url;

static nova_status job_hold_expiry(void *arg)
{
    (void)arg;
    nova_store_t *s = NULL;
    size_t n = 0;
    nova_status st = nova_store_thread(jobs_database_url, &s);
    if (st == NOVA_OK)
        st = sweep_expired(s, nova_time_now(), &n);
    if (n)
        nova_log_info("ledger: %zu expired holds voided", n);
    return st;
}

/* The day this process last ran in full; the job runs only its own thread at a time. */
static char accrued_day[16];

static nova_status job_accrual(void *arg)
{
    (void)arg;
    nova_store_t *s = NULL;
    nova_arena_t a;
    nova_arena_init(&a, 16384);
    nova_ledger_accrual_run_t run;
    bool ran = false;
    nova_status st = nova_store_thread(jobs_database_url, &s);
    if (st == NOVA_OK)
        st = nova_ledger_accrue_due(s, &a, NULL, nova_time_now(), accrued_day, &ran, &run);
    if (st == NOVA_OK && ran)
        nova_log_info("ledger: the daily run for %s: %zu accounts, %zu posted, %zu replayed, "
                      "%zu refused",
                      accrued_day, run.accounts, run.posted, run.replayed, run.failed);
    nova_arena_free(&a);
    return st;
}

/* ---- accounts ---- */

static const char *const account_members[] = {"id",        "currency", "type",      "flags",
                                              "overdraft", "kyc_tier", "owner_ref", "metadata",
                                              "product",   NULL};

static bool short_text(json_t *body, const char *name, size_t max, const char **out)
{
    json_t *v = json_object_get(body, name);
    *out = "";
    if (v == NULL)
        return true;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max)
        return false;
    const char *s = json_string_value(v);
    for (size_t i = 0; s[i]; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    if (strlen(s) != json_string_length(v))
        return false;
    *out = s;
    return true;
}

/* A decimal rate such as "0.185": digits, at most one point, at most 8 decimals. */
static bool rate_valid(const char *s)
{
    size_t digits = 0, frac = 0;
    bool point = false;
    for (; *s; s++) {
        if (*s == '.' && !point && digits)
            point = true;
        else if (*s >= '0' && *s <= '9')
            point ? frac++ : digits++;
        else
            return false;
    }
    return digits > 0 && digits <= 4 && (!point || (frac > 0 && frac <= 8));
}

static void accounts_create(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, account_members);
    if (body == NULL)
        return;
    nova_ledger_account_t a = {0};
    const char *bad = NULL, *why = NULL;
    char idbuf[40];
    json_t *v;
    a.tenant_id = r->principal->tenant_id;
    if ((v = json_object_get(body, "id"))) {
        if (!json_is_string(v) || !nova_ledger_id_valid(json_string_value(v)))
            bad = "/id", why = "1 to 64 of A-Z a-z 0-9 _ . : -";
        else
            a.id = json_string_value(v);
    } else if (nova_id_new("acc", idbuf, sizeof(idbuf)) == NOVA_OK) {
        a.id = idbuf;
    }
    v = json_object_get(body, "currency");
    if (!bad && (!json_is_string(v) || !nova_ledger_currency(json_string_value(v))))
        bad = "/currency", why = "required: an ISO 4217 currency code Nova knows";
    else if (!bad)
        a.currency = json_string_value(v);
    v = json_object_get(body, "type");
    if (!bad && (!json_is_string(v) || !nova_ledger_type_valid(json_string_value(v))))
        bad = "/type", why = "required: customer_wallet, agent_float, merchant, commission_pool, "
                             "fees, suspense, settlement, treasury, savings or loan";
    else if (!bad)
        a.type = json_string_value(v);
    json_t *flags = json_object_get(body, "flags");
    if (!bad && flags) {
        json_t *d = json_object_get(flags, "debits_must_not_exceed_credits");
        json_t *c = json_object_get(flags, "credits_must_not_exceed_debits");
        size_t known = (d != NULL) + (c != NULL);
        if (!json_is_object(flags) || json_object_size(flags) != known ||
            (d && !json_is_boolean(d)) || (c && !json_is_boolean(c)))
            bad = "/flags", why = "{\"debits_must_not_exceed_credits\": bool, "
                                  "\"credits_must_not_exceed_debits\": bool}";
        else if (d && c && json_is_true(d) && json_is_true(c))
            bad = "/flags", why = "at most one of the two flags";
        else
            a.flags = (d && json_is_true(d) ? NOVA_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS : 0) |
                      (c && json_is_true(c) ? NOVA_LEDGER_CREDITS_MUST_NOT_EXCEED_DEBITS : 0);
    }
    json_t *od = json_object_get(body, "overdraft");
    a.overdraft_rate = "";
    if (!bad && od) {
        json_t *lim = json_object_get(od, "limit"), *exp = json_object_get(od, "expires_at");
        json_t *rate = json_object_get(od, "rate");
        size_t known = (lim != NULL) + (exp != NULL) + (rate != NULL);
        char cur[4];
        const char *member;
        if (!json_is_object(od) || json_object_size(od) != known || lim == NULL) {
            bad = "/overdraft", why = "{\"limit\": Amount, \"expires_at\": unix seconds, "
                                      "\"rate\": \"0.18\"}";
        } else if (nova_ledger_amount_json(lim, false, cur, &a.overdraft_limit, &member, &why) !=
                   NOVA_OK) {
            bad = nova_arena_printf(&r->arena, "/overdraft/limit%s", member);
        } else if (strcmp(cur, a.currency) != 0) {
            bad = "/overdraft/limit/currency", why = "the account's currency";
        } else if (exp && (!json_is_integer(exp) || json_integer_value(exp) <= nova_time_now() ||
                           !nova_time_in_range(json_integer_value(exp)))) {
            bad = "/overdraft/expires_at", why = "unix seconds in the future";
        } else if (rate && (!json_is_string(rate) || !rate_valid(json_string_value(rate)))) {
            bad = "/overdraft/rate", why = "an annual rate as a decimal string such as \"0.18\"";
        } else {
            a.overdraft_expires_at = exp ? json_integer_value(exp) : 0;
            a.overdraft_rate = rate ? json_string_value(rate) : "";
            if (!(a.flags & NOVA_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS))
                bad = "/overdraft", why = "an overdraft line needs "
                                          "flags.debits_must_not_exceed_credits";
        }
    }
    if (!bad && !short_text(body, "kyc_tier", 32, &a.kyc_tier))
        bad = "/kyc_tier", why = "a string of 1 to 32 printable characters";
    if (!bad && !short_text(body, "owner_ref", 128, &a.owner_ref))
        bad = "/owner_ref", why = "a string of 1 to 128 printable characters";
    json_t *prod = json_object_get(body, "product");
    a.product = "";
    if (!bad && prod) {
        if (!json_is_string(prod) || !nova_ledger_id_valid(json_string_value(prod)))
            bad = "/product", why = "a savings product id";
        else
            a.product = json_string_value(prod);
    }
    json_t *md = json_object_get(body, "metadata");
    char *mdtext = NULL;
    if (!bad && md) {
        if (!json_is_object(md) || json_object_size(md) > 32)
            bad = "/metadata", why = "an object of at most 32 string members";
        const char *k;
        json_t *mv;
        json_object_foreach(md, k,
                            mv) if (!bad && (!json_is_string(mv) || json_string_length(mv) > 256))
        {
            bad = "/metadata", why = "an object of at most 32 string members";
        }
        if (!bad)
            mdtext = json_dumps(md, JSON_COMPACT | JSON_SORT_KEYS);
    }
    if (bad) {
        invalid(r, bad, why);
        json_decref(body);
        return;
    }
    a.metadata = mdtext ? nova_arena_strdup(&r->arena, mdtext) : "{}";
    free(mdtext);
    a.status = "open";
    a.created_at = a.updated_at = nova_time_now();
    nova_store_t *s = api_store(r, api);
    if (s && a.product[0]) {
        nova_ledger_product_t pr;
        nova_status pst = nova_store_ledger_product_get(s, &r->arena, a.tenant_id, a.product, &pr);
        if (pst == NOVA_OK && strcmp(pr.currency, a.currency) != 0)
            pst = NOVA_CONFLICT;
        if (pst == NOVA_NOT_FOUND || pst == NOVA_CONFLICT) {
            invalid(r, "/product",
                    pst == NOVA_CONFLICT ? "the product is in another currency"
                                         : "the tenant has no product with this id");
            json_decref(body);
            return;
        }
        if (pst) {
            api_unavailable(r, pst);
            json_decref(body);
            return;
        }
    }
    nova_audit_entry_t e;
    if (s && audit_make(r, &e, a.tenant_id, "ledger.account.create", "account", a.id,
                        json_pack("{s:s,s:s}", "currency", a.currency, "type", a.type))) {
        nova_status st = nova_store_ledger_account_create(s, &a, &e);
        if (st == NOVA_CONFLICT) {
            nova_resp_problem(r, 409, "account_exists", "Conflict",
                              "/id: the tenant has an account with this id");
        } else if (st) {
            api_unavailable(r, st);
        } else {
            a.kyc_tier = a.kyc_tier ? a.kyc_tier : "";
            char *loc = nova_arena_printf(&r->arena, "/v1/core/accounts/%s", a.id);
            if (loc)
                nova_resp_header(r, "Location", loc);
            api_reply_json(r, 201, account_json(&a));
        }
    }
    json_decref(body);
}

static bool get_account(nova_req_t *r, nova_store_t *s, const char *id, nova_ledger_account_t *a)
{
    nova_status st = nova_store_ledger_account_get(s, &r->arena, r->principal->tenant_id, id, a);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        nova_resp_problem(r, 404, "account_not_found", "Not Found",
                          "the tenant has no account with this id");
        return false;
    }
    if (st) {
        api_unavailable(r, st);
        return false;
    }
    return true;
}

static void accounts_get(nova_req_t *r, void *ud)
{
    nova_store_t *s = api_store(r, ud);
    nova_ledger_account_t a;
    if (s && get_account(r, s, r->params[0], &a))
        api_reply_json(r, 200, account_json(&a));
}

static void accounts_balances(nova_req_t *r, void *ud)
{
    nova_store_t *s = api_store(r, ud);
    if (s == NULL)
        return;
    sweep_due(s);
    nova_ledger_account_t a;
    if (get_account(r, s, r->params[0], &a))
        api_reply_json(r, 200, balances_json(&a, nova_time_now()));
}

/* limit from the query (1..PAGE_MAX, default PAGE_DEFAULT); false with 422 written. */
static bool page_limit(nova_req_t *r, size_t *limit)
{
    const char *l = nova_req_query(r, "limit");
    *limit = PAGE_DEFAULT;
    if (l == NULL)
        return true;
    char *end;
    long v = strtol(l, &end, 10);
    if (*l == '\0' || *end != '\0' || v < 1 || v > PAGE_MAX) {
        invalid(r, "limit", "an integer from 1 to 500");
        return false;
    }
    *limit = (size_t)v;
    return true;
}

static void accounts_list(nova_req_t *r, void *ud)
{
    size_t limit;
    if (!page_limit(r, &limit))
        return;
    const char *after = nova_req_query(r, "cursor");
    if (after && !nova_ledger_id_valid(after)) {
        invalid(r, "cursor", "the next_cursor of the previous page");
        return;
    }
    nova_store_t *s = api_store(r, ud);
    if (s == NULL)
        return;
    nova_ledger_account_t *rows;
    size_t n;
    nova_status st = nova_store_ledger_account_list(s, &r->arena, r->principal->tenant_id,
                                                    after ? after : "", limit, &rows, &n);
    if (st) {
        api_unavailable(r, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, account_json(&rows[i]));
    json_t *o = json_pack("{s:o}", "accounts", arr);
    json_object_set_new(o, "next_cursor", n == limit ? json_string(rows[n - 1].id) : json_null());
    api_reply_json(r, 200, o);
}

static const char *const status_members[] = {"status", "reason", NULL};

typedef struct status_check {
    nova_ledger_status to;
    bool not_zero;
    bool was_closed;
} status_check;

static nova_status allow_status(const nova_ledger_account_t *cur, void *ud)
{
    status_check *c = ud;
    const nova_ledger_balance_t *b = &cur->balance;
    if (strcmp(cur->status, "closed") == 0) {
        c->was_closed = true;
        return NOVA_CONFLICT;
    }
    if (c->to == NOVA_LEDGER_CLOSED && (b->debits_posted != b->credits_posted ||
                                        b->debits_pending != 0 || b->credits_pending != 0)) {
        c->not_zero = true;
        return NOVA_CONFLICT;
    }
    return NOVA_OK;
}

static void accounts_status(nova_req_t *r, void *ud)
{
    json_t *body = api_json_body(r, status_members);
    if (body == NULL)
        return;
    const char *reason = "";
    json_t *v = json_object_get(body, "status");
    int to = json_is_string(v) ? nova_ledger_status_parse(json_string_value(v)) : -1;
    if (to < 0)
        invalid(r, "/status", "required: \"open\", \"frozen\" or \"closed\"");
    else if (!short_text(body, "reason", 200, &reason))
        invalid(r, "/reason", "a string of 1 to 200 printable characters");
    nova_store_t *s = r->status ? NULL : api_store(r, ud);
    nova_audit_entry_t e;
    if (s && audit_make(
                 r, &e, r->principal->tenant_id, "ledger.account.status", "account", r->params[0],
                 json_pack("{s:s,s:s}", "status", nova_ledger_status_name(to), "reason", reason))) {
        status_check c = {(nova_ledger_status)to, false, false};
        nova_ledger_account_t a;
        nova_status st = nova_store_ledger_account_set_status(
            s, &r->arena, r->principal->tenant_id, r->params[0], nova_ledger_status_name(to),
            nova_time_now(), allow_status, &c, &e, &a);
        if (st == NOVA_NOT_FOUND || st == NOVA_INVALID)
            nova_resp_problem(r, 404, "account_not_found", "Not Found",
                              "the tenant has no account with this id");
        else if (st == NOVA_CONFLICT && c.was_closed)
            nova_resp_problem(r, 409, "account_closed", "Conflict",
                              "a closed account stays closed");
        else if (st == NOVA_CONFLICT && c.not_zero)
            nova_resp_problem(r, 409, "balance_not_zero", "Conflict",
                              "/status: closing requires a zero balance and no holds");
        else if (st)
            api_unavailable(r, st);
        else
            api_reply_json(r, 200, account_json(&a));
    }
    json_decref(body);
}

static void accounts_postings(nova_req_t *r, void *ud)
{
    size_t limit;
    if (!page_limit(r, &limit))
        return;
    const char *c = nova_req_query(r, "cursor");
    int64_t after = 0;
    if (c) {
        char *end;
        long long v = strtoll(c, &end, 10);
        if (*c == '\0' || *end != '\0' || v < 0) {
            invalid(r, "cursor", "the next_cursor of the previous page");
            return;
        }
        after = v;
    }
    nova_store_t *s = api_store(r, ud);
    nova_ledger_account_t a;
    if (s == NULL || !get_account(r, s, r->params[0], &a))
        return;
    nova_ledger_entry_row_t *rows;
    size_t n;
    nova_status st = nova_store_ledger_account_entries(s, &r->arena, r->principal->tenant_id, a.id,
                                                       after, limit, &rows, &n);
    if (st) {
        api_unavailable(r, st);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr,
                              json_pack("{s:s,s:s,s:o,s:I}", "posting", rows[i].posting_id,
                                        "direction", rows[i].credit ? "credit" : "debit", "amount",
                                        amount_or_null(rows[i].currency, rows[i].amount),
                                        "created_at", (json_int_t)rows[i].created_at));
    json_t *o = json_pack("{s:s,s:o}", "account", a.id, "entries", arr);
    char cur[24];
    snprintf(cur, sizeof(cur), "%lld", n ? (long long)rows[n - 1].ord : 0LL);
    json_object_set_new(o, "next_cursor", n == limit ? json_string(cur) : json_null());
    api_reply_json(r, 200, o);
}

/* ---- postings ---- */

static const char *entry_field(nova_req_t *r, const nova_ledger_posting_t *p, const char *account)
{
    for (size_t i = 0; account && i < p->n; i++)
        if (strcmp(p->entries[i].account, account) == 0)
            return nova_arena_printf(&r->arena, "/entries/%zu/account", i);
    return "/id";
}

static const char *refusal_detail(nova_ledger_refusal why)
{
    static const char *const details[NOVA_LEDGER_REFUSAL_N] = {
        [NOVA_LEDGER_INSUFFICIENT_FUNDS] =
            "debits would exceed credits (plus the overdraft line) of this account "
            "(debits_must_not_exceed_credits)",
        [NOVA_LEDGER_CREDITS_EXCEED] =
            "credits would exceed debits of this account (credits_must_not_exceed_debits)",
        [NOVA_LEDGER_ACCOUNT_FROZEN] = "the account is frozen: it takes no debits",
        [NOVA_LEDGER_ACCOUNT_CLOSED] = "the account is closed",
        [NOVA_LEDGER_TOTAL_OVERFLOW] = "the account's totals would pass 9 x 10^18 minor units",
        [NOVA_LEDGER_ACCOUNT_UNKNOWN] = "the tenant has no account with this id",
        [NOVA_LEDGER_CURRENCY_MISMATCH] = "the entry's currency is not the account's",
        [NOVA_LEDGER_OVER_REVERSAL] =
            "reversals would exceed the original posting's amount (or it cannot be reversed)",
    };
    return why < NOVA_LEDGER_REFUSAL_N && details[why] ? details[why] : "refused";
}

/* Writes p (kind, parent) and answers: 201, a replay, 409 naming what differs, or a
 * recorded 422 refusal. A reversal (parent) applies only while the original's reversed total
 * is still parent_reversed: false when it moved meanwhile, with nothing written or answered
 * (the caller computes the reversal again). */
/* A reversal's reply shows the legs it moved (its request names only an amount): the request
 * with "entries" added, in ar; the request itself when that fails. */
static const char *with_entries(nova_arena_t *ar, const nova_ledger_posting_t *p)
{
    json_t *o = json_loads(p->canonical, 0, NULL), *es = json_array();
    for (size_t i = 0; o && es && i < p->n; i++) {
        const nova_ledger_entry_t *e = &p->entries[i];
        json_array_append_new(es, json_pack("{s:s,s:s,s:o}", "account", e->account, "direction",
                                            e->credit ? "credit" : "debit", "amount",
                                            amount_or_null(e->currency, e->amount)));
    }
    char *t = NULL;
    if (o && es && json_object_set(o, "entries", es) == 0)
        t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(es);
    json_decref(o);
    const char *c = t ? nova_arena_strdup(ar, t) : NULL;
    free(t);
    return c ? c : p->canonical;
}

/* parent_legs: a reversal naming legs, what every reversal of the original took of each leg
 * with this one (nova_ledger_write_t.parent_legs); NULL otherwise. */
static bool write_posting(nova_req_t *r, nova_store_t *s, const nova_ledger_posting_t *p,
                          const char *kind, const char *parent, int64_t parent_units,
                          int64_t parent_reversed, const char *parent_legs)
{
    const char *tenant = r->principal->tenant_id;
    nova_ledger_account_delta_t deltas[NOVA_LEDGER_MAX_ENTRIES];
    size_t nd = 0;
    if (nova_ledger_posting_deltas(p, deltas, &nd) != NOVA_OK) {
        invalid(r, "/entries", "an account appears with two currencies");
        return true;
    }
    int64_t total = 0;
    for (size_t i = 0; i < p->n; i++)
        total += p->entries[i].credit ? 0 : p->entries[i].amount;
    int64_t now = nova_time_now();
    char periods[3][16];
    nova_ledger_periods(now, periods);
    bool limited = strcmp(kind, "posting") == 0;
    posting_view view = {parent ? with_entries(&r->arena, p) : p->canonical,
                         kind,
                         p->pending ? "pending" : "posted",
                         parent,
                         r->principal->client_id,
                         now,
                         0,
                         0};
    nova_ledger_write_t w = {p,
                             deltas,
                             nd,
                             kind,
                             parent,
                             parent_units,
                             total,
                             r->principal->client_id,
                             now,
                             check_account,
                             &now,
                             render_posting,
                             &view,
                             false,
                             limited ? limit_account : NULL,
                             periods,
                             parent_reversed,
                             parent_legs};
    nova_audit_entry_t e;
    json_t *attrs =
        json_pack("{s:s,s:i,s:b}", "kind", kind, "entries", (int)p->n, "pending", p->pending);
    if (p->purpose)
        json_object_set_new(attrs, "purpose", json_string(p->purpose));
    if (parent)
        json_object_set_new(attrs, "reverses", json_string(parent));
    if (!audit_make(r, &e, tenant,
                    strcmp(kind, "reversal") ? "ledger.posting.create" : "ledger.posting.reverse",
                    "posting", p->id, attrs))
        return true;
    nova_ledger_outcome_t out;
    nova_status st = nova_store_ledger_post(s, &r->arena, tenant, &w, &e, &out);
    if (st == NOVA_UNAVAILABLE && out.stale)
        return false;
    if (st == NOVA_FORBIDDEN) {
        const char *code = nova_ledger_refusal_code(out.refusal);
        const char *field = out.refusal == NOVA_LEDGER_OVER_REVERSAL
                                ? (parent_legs ? "/legs" : "/amount")
                                : entry_field(r, p, out.refused_account);
        const char *d =
            out.refusal == NOVA_LEDGER_LIMIT_EXCEEDED
                ? nova_arena_printf(&r->arena,
                                    "%s: over the limit %s of this account or its "
                                    "KYC tier (account %s)",
                                    field, nova_ledger_limit_name(out.limit), out.refused_account)
                : nova_arena_printf(&r->arena, "%s: %s (account %s)", field,
                                    refusal_detail(out.refusal), out.refused_account);
        nova_resp_problem(r, 422, code, "Unprocessable Content", d);
        const char *problem = nova_arena_strndup(&r->arena, r->resp_body.data, r->resp_body.len);
        nova_audit_entry_t fe;
        if (problem == NULL ||
            !audit_make(r, &fe, tenant, "ledger.posting.refuse", "posting", p->id,
                        json_pack("{s:s,s:s}", "kind", kind, "code", code)))
            return true;
        st = nova_store_ledger_refuse(s, &r->arena, tenant, &w, 422, problem, &fe, &out);
        if (st == NOVA_OK && !out.replayed)
            return true; /* the problem written above is the reply */
    }
    if (st == NOVA_CONFLICT) {
        const char *diff = nova_ledger_posting_diff(&r->arena, out.differs, p->canonical);
        const char *d = nova_arena_printf(
            &r->arena, "this id was used with another body; members that differ: %s",
            diff[0] ? diff : "(the request the id was first used for)");
        nova_resp_problem(r, 409, "idempotency_conflict", "Conflict", d);
        return true;
    }
    if (st) {
        api_unavailable(r, st);
        return true;
    }
    reply_text(r, out.http_status, out.result, out.replayed);
    return true;
}

static void postings_create(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, nova_ledger_posting_members);
    if (body == NULL)
        return;
    nova_ledger_posting_t *p = nova_arena_alloc(&r->arena, sizeof(*p));
    char field[96], why[256];
    nova_status st = p ? nova_ledger_posting_parse(body, &r->arena, nova_time_now(), p, field,
                                                   sizeof(field), why, sizeof(why))
                       : NOVA_NOMEM;
    json_decref(body);
    if (st == NOVA_INVALID) {
        invalid(r, field, why);
        return;
    }
    if (st) {
        nova_resp_status(r, st, NULL);
        return;
    }
    if (killed(r, api, p->purpose))
        return;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    sweep_due(s);
    write_posting(r, s, p, "posting", NULL, 0, 0, NULL);
}

static const char *const batch_members[] = {"postings", NULL};

/* Linked postings: all or nothing, in one transaction, in order (a later posting may spend
 * what an earlier one credits). A refusal names /postings/<i>/...; nothing is written or
 * recorded, so the same batch may be sent again. */
static void postings_batch(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, batch_members);
    if (body == NULL)
        return;
    json_t *arr = json_object_get(body, "postings");
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n == 0 || n > NOVA_LEDGER_BATCH_MAX) {
        json_decref(body);
        invalid(r, "/postings", "required: an array of 1 to 1000 postings");
        return;
    }
    const char *tenant = r->principal->tenant_id;
    int64_t now = nova_time_now();
    char periods[3][16];
    nova_ledger_periods(now, periods);
    nova_ledger_posting_t *p = nova_arena_alloc(&r->arena, n * sizeof(*p));
    nova_ledger_account_delta_t *deltas =
        nova_arena_alloc(&r->arena, n * NOVA_LEDGER_MAX_ENTRIES * sizeof(*deltas));
    nova_ledger_write_t *w = nova_arena_alloc(&r->arena, n * sizeof(*w));
    posting_view *views = nova_arena_alloc(&r->arena, n * sizeof(*views));
    nova_ledger_outcome_t *out = nova_arena_alloc(&r->arena, n * sizeof(*out));
    if (!p || !deltas || !w || !views || !out) {
        json_decref(body);
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return;
    }
    for (size_t i = 0; i < n && r->status == 0; i++) {
        json_t *one = json_array_get(arr, i);
        char field[96], why[256], err[160];
        const char *at = NULL;
        if (!json_is_object(one) ||
            nova_json_only_members(one, nova_ledger_posting_members, err, sizeof(err)) != NOVA_OK) {
            invalid(r, nova_arena_printf(&r->arena, "/postings/%zu", i),
                    json_is_object(one) ? err : "a posting object");
            break;
        }
        nova_status st = nova_ledger_posting_parse(one, &r->arena, now, &p[i], field, sizeof(field),
                                                   why, sizeof(why));
        if (st == NOVA_INVALID)
            at = nova_arena_printf(&r->arena, "/postings/%zu%s", i, field);
        for (size_t k = 0; st == NOVA_OK && k < i; k++)
            if (strcmp(p[k].id, p[i].id) == 0) {
                at = nova_arena_printf(&r->arena, "/postings/%zu/id", i);
                snprintf(why, sizeof(why), "the same id as /postings/%zu", k);
                st = NOVA_INVALID;
            }
        size_t nd = 0;
        nova_ledger_account_delta_t *d = &deltas[i * NOVA_LEDGER_MAX_ENTRIES];
        if (st == NOVA_OK && nova_ledger_posting_deltas(&p[i], d, &nd) != NOVA_OK) {
            at = nova_arena_printf(&r->arena, "/postings/%zu/entries", i);
            snprintf(why, sizeof(why), "an account appears with two currencies");
            st = NOVA_INVALID;
        }
        if (st == NOVA_INVALID) {
            invalid(r, at ? at : "/postings", why);
            break;
        }
        if (st) {
            nova_resp_status(r, st, NULL);
            break;
        }
        int64_t total = 0;
        for (size_t k = 0; k < p[i].n; k++)
            total += p[i].entries[k].credit ? 0 : p[i].entries[k].amount;
        views[i] = (posting_view){p[i].canonical,
                                  "posting",
                                  p[i].pending ? "pending" : "posted",
                                  NULL,
                                  r->principal->client_id,
                                  now,
                                  0,
                                  0};
        w[i] = (nova_ledger_write_t){&p[i],
                                     d,
                                     nd,
                                     "posting",
                                     NULL,
                                     0,
                                     total,
                                     r->principal->client_id,
                                     now,
                                     check_account,
                                     &now,
                                     render_posting,
                                     &views[i],
                                     false,
                                     limit_account,
                                     periods,
                                     0,
                                     NULL};
    }
    json_decref(body);
    if (r->status)
        return;
    for (size_t i = 0; i < n; i++)
        if (killed(r, api, p[i].purpose))
            return;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    /* One entry for the batch (one transaction, one decision): its target the first posting,
     * the count and the last id in its attributes; every posting records the entry's id. */
    nova_audit_entry_t e;
    if (!audit_make(r, &e, tenant, "ledger.posting.batch", "posting", p[0].id,
                    json_pack("{s:i,s:s}", "postings", (int)n, "last", p[n - 1].id)))
        return;
    size_t failed = 0;
    nova_status st = nova_store_ledger_post_batch(s, &r->arena, tenant, w, n, &e, out, &failed);
    if (st == NOVA_FORBIDDEN) {
        const nova_ledger_outcome_t *o = &out[failed];
        const char *field = entry_field(r, &p[failed], o->refused_account);
        const char *d =
            o->refusal == NOVA_LEDGER_LIMIT_EXCEEDED
                ? nova_arena_printf(&r->arena,
                                    "/postings/%zu%s: over the limit %s of this account or its "
                                    "KYC tier (account %s)",
                                    failed, field, nova_ledger_limit_name(o->limit),
                                    o->refused_account)
                : nova_arena_printf(&r->arena, "/postings/%zu%s: %s (account %s)", failed, field,
                                    refusal_detail(o->refusal), o->refused_account);
        const char *code = nova_ledger_refusal_code(o->refusal);
        nova_resp_problem(r, 422, code, "Unprocessable Content", d);
        /* Kept, so the same batch keeps failing the same way. */
        const char *problem = nova_arena_strndup(&r->arena, r->resp_body.data, r->resp_body.len);
        nova_audit_entry_t fe;
        if (problem == NULL ||
            !audit_make(
                r, &fe, tenant, "ledger.posting.refuse", "posting", p[0].id,
                json_pack("{s:s,s:i,s:s}", "kind", "batch", "postings", (int)n, "code", code)))
            return;
        st = nova_store_ledger_refuse_batch(s, &r->arena, tenant, w, n, 422, problem, &fe, out);
        if (st == NOVA_OK && !out[0].replayed)
            return; /* the problem written above is the reply */
    }
    if (st == NOVA_OK && out[0].replayed && out[0].http_status >= 400) {
        reply_text(r, out[0].http_status, out[0].result, true);
        return;
    }
    if (st == NOVA_CONFLICT) {
        const char *diff =
            out[failed].differs
                ? nova_ledger_posting_diff(&r->arena, out[failed].differs, p[failed].canonical)
                : "";
        const char *d = nova_arena_printf(
            &r->arena,
            "/postings/%zu/id: this id was used with another body or in another batch%s%s", failed,
            diff[0] ? "; members that differ: " : "", diff);
        nova_resp_problem(r, 409, "idempotency_conflict", "Conflict", d);
        return;
    }
    if (st) {
        api_unavailable(r, st);
        return;
    }
    json_t *results = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *one = json_loads(out[i].result, 0, NULL);
        json_array_append_new(results, one ? one : json_null());
    }
    if (out[0].replayed)
        nova_resp_header(r, "Idempotent-Replayed", "true");
    api_reply_json(r, out[0].replayed ? 200 : 201, json_pack("{s:o}", "postings", results));
}

static bool get_posting(nova_req_t *r, nova_store_t *s, const char *id,
                        nova_ledger_posting_row_t *row)
{
    /* Only a client's id (a path parameter may be anything). */
    nova_status st =
        nova_ledger_id_valid(id)
            ? nova_store_ledger_posting_get(s, &r->arena, r->principal->tenant_id, id, row)
            : NOVA_NOT_FOUND;
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        nova_resp_problem(r, 404, "posting_not_found", "Not Found",
                          "the tenant has no posting with this id");
        return false;
    }
    if (st) {
        api_unavailable(r, st);
        return false;
    }
    return true;
}

static void postings_get(nova_req_t *r, void *ud)
{
    nova_store_t *s = api_store(r, ud);
    nova_ledger_posting_row_t row;
    if (s == NULL || !get_posting(r, s, r->params[0], &row))
        return;
    if (strcmp(row.state, "failed") == 0) {
        reply_text(r, row.http_status, row.result, true);
        return;
    }
    posting_view v = {row.request, row.kind,       row.state,    row.parent_id,
                      row.actor,   row.created_at, row.reversed, row.posted_amount};
    json_t *o = posting_json(&v, row.audit_id);
    if (o && strcmp(row.kind, "posting") == 0) {
        json_t *cur = json_object_get(json_array_get(json_object_get(o, "entries"), 0), "amount");
        const char *c = json_string_value(json_object_get(cur, "currency"));
        if (c && row.reversed)
            json_object_set_new(o, "reversed", amount_or_null(c, row.reversed));
        if (c && row.posted_amount)
            json_object_set_new(o, "posted_amount", amount_or_null(c, row.posted_amount));
    }
    api_reply_json(r, 200, o);
}

static const char *const resolve_members[] = {"amount", NULL};

static void resolve(nova_req_t *r, nova_api_t *api, bool post)
{
    int64_t amount = 0;
    if (!nova_ledger_id_valid(r->params[0])) {
        nova_resp_problem(r, 404, "posting_not_found", "Not Found",
                          "the tenant has no posting with this id");
        return;
    }
    if (r->body.len) {
        json_t *body = api_json_body(r, resolve_members);
        if (body == NULL)
            return;
        json_t *am = json_object_get(body, "amount");
        char cur[4];
        const char *member, *why;
        bool bad = am && (!post || nova_ledger_amount_json(am, false, cur, &amount, &member,
                                                           &why) != NOVA_OK);
        json_decref(body);
        if (bad) {
            invalid(r, post ? nova_arena_printf(&r->arena, "/amount%s", member) : "/amount",
                    post ? why : "a void releases the whole hold");
            return;
        }
    }
    if (post && killed(r, api, NULL))
        return;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    const char *tenant = r->principal->tenant_id, *id = r->params[0];
    nova_audit_entry_t e;
    json_t *attrs = amount ? json_pack("{s:I}", "amount_minor", (json_int_t)amount) : NULL;
    if (!audit_make(r, &e, tenant, post ? "ledger.hold.post" : "ledger.hold.void", "posting", id,
                    attrs))
        return;
    int64_t now = nova_time_now();
    const char *state = NULL;
    nova_ledger_outcome_t out;
    nova_status st = nova_store_ledger_resolve(s, &r->arena, tenant, id, post, false, amount, now,
                                               check_account, &now, &e, &state, &out);
    if (st == NOVA_CONFLICT && state && strcmp(state, "expired") == 0 && post) {
        nova_audit_actor_t by = {"system", r->req_id};
        nova_audit_entry_t xe;
        if (nova_audit_entry_make(&xe, &r->arena, &by, tenant, "ledger.hold.expire", "posting", id,
                                  NULL) == NOVA_OK)
            nova_store_ledger_resolve(s, &r->arena, tenant, id, false, true, 0, now, allow_all,
                                      NULL, &xe, &state, &out);
        nova_resp_problem(r, 409, "hold_expired", "Conflict",
                          "the hold passed its expires_at and is void");
        return;
    }
    if (st == NOVA_CONFLICT) {
        const char *d = nova_arena_printf(&r->arena,
                                          "only a pending hold can be posted or voided, once; "
                                          "this posting is %s",
                                          state ? state : "not a hold");
        nova_resp_problem(r, 409, "hold_not_pending", "Conflict", d);
        return;
    }
    if (st == NOVA_NOT_FOUND) {
        nova_resp_problem(r, 404, "posting_not_found", "Not Found",
                          "the tenant has no posting with this id");
        return;
    }
    if (st == NOVA_INVALID) {
        invalid(r, "/amount",
                "a partial post is at most the hold's amount, on a hold of one debit and one "
                "credit");
        return;
    }
    if (st == NOVA_FORBIDDEN) {
        const char *d = nova_arena_printf(&r->arena, "account %s: %s", out.refused_account,
                                          refusal_detail(out.refusal));
        nova_resp_problem(r, 422, nova_ledger_refusal_code(out.refusal), "Unprocessable Content",
                          d);
        return;
    }
    if (st) {
        api_unavailable(r, st);
        return;
    }
    nova_ledger_posting_row_t row;
    if (get_posting(r, s, id, &row)) {
        posting_view v = {row.request, row.kind,       row.state,    row.parent_id,
                          row.actor,   row.created_at, row.reversed, row.posted_amount};
        api_reply_json(r, 200, posting_json(&v, out.audit_id));
    }
}

static void postings_post(nova_req_t *r, void *ud)
{
    resolve(r, ud, true);
}

static void postings_void(nova_req_t *r, void *ud)
{
    resolve(r, ud, false);
}

static const char *const reverse_members[] = {"id", "amount", "legs", "reason", NULL};
static const char *const leg_members[] = {"leg", "amount", NULL};

/* "legs": [{"leg": index into the original's entries, "amount": Amount}, ...] into legs (in
 * ar); false with the reply made. */
static bool legs_parse(nova_req_t *r, json_t *v, nova_ledger_leg_t **legs, size_t *n)
{
    *n = json_is_array(v) ? json_array_size(v) : 0;
    *legs = *n >= 2 && *n <= NOVA_LEDGER_MAX_ENTRIES
                ? nova_arena_alloc(&r->arena, *n * sizeof(**legs))
                : NULL;
    if (*legs == NULL) {
        invalid(r, "/legs", "2 to 64 legs of the original, {\"leg\": index, \"amount\": Amount}");
        return false;
    }
    for (size_t i = 0; i < *n; i++) {
        json_t *o = json_array_get(v, i), *k = json_object_get(o, "leg");
        json_t *am = json_object_get(o, "amount");
        const char *member = "", *why = NULL;
        char cur[4];
        size_t known = 0;
        for (int m = 0; leg_members[m]; m++)
            known += json_object_get(o, leg_members[m]) != NULL;
        if (!json_is_object(o) || json_object_size(o) != known || !am) {
            invalid(r, nova_arena_printf(&r->arena, "/legs/%zu", i),
                    "{\"leg\": index, \"amount\": Amount}");
            return false;
        }
        if (!json_is_integer(k) || json_integer_value(k) < 0 ||
            json_integer_value(k) >= NOVA_LEDGER_MAX_ENTRIES) {
            invalid(r, nova_arena_printf(&r->arena, "/legs/%zu/leg", i),
                    "the index of an entry of the original posting, from 0");
            return false;
        }
        if (nova_ledger_amount_json(am, false, cur, &(*legs)[i].amount, &member, &why) != NOVA_OK) {
            invalid(r, nova_arena_printf(&r->arena, "/legs/%zu/amount%s", i, member), why);
            return false;
        }
        (*legs)[i].leg = (size_t)json_integer_value(k);
        (*legs)[i].currency = nova_arena_strdup(&r->arena, cur);
    }
    return true;
}

/* prior[i]: what of the original's leg i its reversals took so far: as the last reversal
 * naming legs left it, else the shares of the reversals by amount (reversed units of it). */
static bool legs_prior(nova_req_t *r, nova_store_t *s, const nova_ledger_posting_t *orig,
                       const nova_ledger_posting_row_t *row, int64_t *prior, bool *named)
{
    const char *kept = NULL;
    nova_status st =
        nova_store_ledger_reversed_legs(s, &r->arena, r->principal->tenant_id, row->id, &kept);
    *named = st == NOVA_OK;
    if (st == NOVA_NOT_FOUND)
        st = nova_ledger_posting_shares(orig, row->reversed, prior);
    else if (st == NOVA_OK) {
        json_t *a = json_loads(kept, 0, NULL);
        st = json_is_array(a) && json_array_size(a) == orig->n ? NOVA_OK : NOVA_INTERNAL;
        for (size_t i = 0; st == NOVA_OK && i < orig->n; i++) {
            json_t *x = json_array_get(a, i);
            prior[i] = json_is_integer(x) ? json_integer_value(x) : -1;
            if (prior[i] < 0 || prior[i] > orig->entries[i].amount)
                st = NOVA_INTERNAL;
        }
        json_decref(a);
    }
    if (st != NOVA_OK)
        api_unavailable(r, st == NOVA_UNAVAILABLE ? st : NOVA_INTERNAL);
    return st == NOVA_OK;
}

static void postings_reverse(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, reverse_members);
    if (body == NULL)
        return;
    json_t *id = json_object_get(body, "id"), *am = json_object_get(body, "amount");
    json_t *lj = json_object_get(body, "legs");
    const char *reason = NULL, *member = "", *why = NULL;
    char cur[4] = "";
    int64_t amount = 0;
    nova_ledger_leg_t *legs = NULL;
    size_t nlegs = 0;
    if (!json_is_string(id) || !nova_ledger_id_valid(json_string_value(id)))
        invalid(r, "/id", "required: the reversal's own id, 1 to 64 of A-Z a-z 0-9 _ . : -");
    else if (am && lj)
        invalid(r, "/legs", "either an amount (shared by the legs) or the legs, not both");
    else if (am && nova_ledger_amount_json(am, false, cur, &amount, &member, &why) != NOVA_OK)
        invalid(r, nova_arena_printf(&r->arena, "/amount%s", member), why);
    else if (lj && !legs_parse(r, lj, &legs, &nlegs))
        ; /* the reply is made */
    else if (!short_text(body, "reason", 200, &reason))
        invalid(r, "/reason", "a string of 1 to 200 printable characters");
    /* The reversal's fingerprint covers its own body and the posting it reverses. */
    json_object_set_new(body, "reverses", json_string(r->params[0]));
    char *canon = r->status ? NULL : json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT);
    const char *rid = r->status ? NULL : nova_arena_strdup(&r->arena, json_string_value(id));
    /* reason points into body: copied before body goes. */
    reason = r->status || !reason ? NULL : nova_arena_strdup(&r->arena, reason);
    json_decref(body);
    if (r->status)
        return;
    if (killed(r, api, "reversal")) {
        free(canon);
        return;
    }
    nova_store_t *s = api_store(r, api);
    nova_ledger_posting_t *orig = nova_arena_alloc(&r->arena, sizeof(*orig));
    nova_ledger_posting_t *rev = nova_arena_alloc(&r->arena, sizeof(*rev));
    const char *rcanon = nova_arena_strdup(&r->arena, canon ? canon : "{}");
    free(canon);
    if (s == NULL || orig == NULL || rev == NULL || rcanon == NULL)
        return;
    /* Computed from the original's reversed total as read, and written only while it still is
     * that; a reversal that lost a race to another computes again. */
    for (int attempt = 0; attempt < 16; attempt++) {
        nova_ledger_posting_row_t row;
        if (!get_posting(r, s, r->params[0], &row))
            return;
        json_t *oj = json_loads(row.request, 0, NULL);
        char field[96], fwhy[256];
        /* A posted posting, or a hold once posted (what it posted: the whole, or the posted
         * part of a hold of one debit and one credit on each leg); not a pending, voided or
         * expired hold, not a refused posting, not a reversal. */
        bool reversible = strcmp(row.kind, "posting") == 0 && strcmp(row.state, "posted") == 0 &&
                          oj &&
                          nova_ledger_posting_parse(oj, &r->arena, row.created_at, orig, field,
                                                    sizeof(field), fwhy, sizeof(fwhy)) == NOVA_OK;
        json_decref(oj);
        if (!reversible) {
            nova_resp_problem(r, 422, "not_reversible", "Unprocessable Content",
                              "only a posted posting (or a posted hold) can be reversed (a "
                              "pending hold is voided; a reversal is not reversed)");
            return;
        }
        int64_t base = row.amount_total;
        if (orig->pending) {
            base = row.posted_amount;
            if (row.posted_amount < row.amount_total)
                for (size_t k = 0; k < orig->n; k++)
                    orig->entries[k].amount = row.posted_amount;
            orig->pending = false;
        }
        if (amount && strcmp(cur, orig->entries[0].currency) != 0) {
            invalid(r, "/amount/currency", "the original posting's currency");
            return;
        }
        /* Once a reversal named legs, the shares of the reversals by amount no longer say what
         * each leg has left: every later reversal names its legs. */
        int64_t prior[NOVA_LEDGER_MAX_ENTRIES];
        bool named = false;
        if (!legs_prior(r, s, orig, &row, prior, &named))
            return;
        if (named && !legs) {
            nova_resp_problem(r, 422, "reversal_legs_required", "Unprocessable Content",
                              "/legs: an earlier reversal of this posting named its legs; name "
                              "the legs this one reverses");
            return;
        }
        if (legs) {
            int64_t units = 0;
            size_t bad = 0;
            nova_status lst =
                nova_ledger_posting_reverse_legs(orig, rid, prior, legs, nlegs, rev, &units, &bad);
            if (lst == NOVA_INVALID && bad == nlegs) {
                invalid(r, "/legs",
                        "the legs must balance: per currency, the debits reversed equal the "
                        "credits reversed");
                return;
            }
            if (lst == NOVA_INVALID) {
                const nova_ledger_leg_t *l = &legs[bad];
                bool unknown = l->leg >= orig->n;
                invalid(r,
                        nova_arena_printf(&r->arena, unknown ? "/legs/%zu/leg" : "/legs/%zu/amount",
                                          bad),
                        unknown ? "not an entry of the original posting"
                                : "each leg once, in the leg's currency, above zero");
                return;
            }
            /* Past a leg: refused by the store on the original's row (a rise past its bound)
             * and recorded, so the id keeps failing the same way. */
            bool over = lst == NOVA_TOO_LARGE;
            if (over && nova_ledger_posting_reverse(orig, rid, 0, 0, rev) != NOVA_OK) {
                api_unavailable(r, NOVA_INTERNAL);
                return;
            }
            if (over)
                units = base - row.reversed + 1;
            json_t *after = json_array();
            for (size_t k = 0; after && k < orig->n; k++) {
                int64_t add = 0;
                for (size_t i = 0; i < nlegs; i++)
                    add += legs[i].leg == k ? legs[i].amount : 0;
                json_array_append_new(after, json_integer(prior[k] + (over ? 0 : add)));
            }
            char *at = after ? json_dumps(after, JSON_COMPACT) : NULL;
            json_decref(after);
            const char *kept = at ? nova_arena_strdup(&r->arena, at) : NULL;
            free(at);
            if (kept == NULL) {
                api_unavailable(r, NOVA_NOMEM);
                return;
            }
            rev->canonical = rcanon;
            rev->description = reason;
            rev->purpose = "reversal";
            uint8_t d[32];
            nova_sha256(rev->canonical, strlen(rev->canonical), d);
            for (int b = 0; b < 32; b++)
                snprintf(rev->digest + 2 * b, 3, "%02x", d[b]);
            if (write_posting(r, s, rev, "reversal", row.id, units, row.reversed, kept))
                return;
            continue;
        }
        nova_status st = nova_ledger_posting_reverse(orig, rid, row.reversed, amount, rev);
        if (st == NOVA_INVALID) {
            invalid(r, "/amount", "a partial reversal needs an original in one currency");
            return;
        }
        if (st == NOVA_TOO_LARGE) {
            /* More than what is left: the store refuses it (and records the refusal, so the
             * id keeps failing the same way) on the original's row. */
            st = nova_ledger_posting_reverse(orig, rid, 0, 0, rev);
            if (st != NOVA_OK) {
                api_unavailable(r, NOVA_INTERNAL);
                return;
            }
        }
        rev->canonical = rcanon;
        rev->description = reason;
        rev->purpose = "reversal";
        uint8_t d[32];
        nova_sha256(rev->canonical, strlen(rev->canonical), d);
        for (int b = 0; b < 32; b++)
            snprintf(rev->digest + 2 * b, 3, "%02x", d[b]);
        int64_t units = amount ? amount : base;
        if (write_posting(r, s, rev, "reversal", row.id, units, row.reversed, NULL))
            return;
    }
    nova_resp_header(r, "Retry-After", "1");
    nova_resp_problem(r, 503, "reversal_contended", "Service Unavailable",
                      "other reversals of this posting kept coming first; try again");
}

/* ---- limits (tenant configuration) ---- */

static const char *const limits_members[] = {
    "currency",     "per_transaction_max", "daily_amount",  "daily_count",     "weekly_amount",
    "weekly_count", "monthly_amount",      "monthly_count", "balance_ceiling", NULL};

static bool scope_valid(const char *scope)
{
    return nova_ledger_id_valid(scope) && ((strncmp(scope, "tier:", 5) == 0 && scope[5]) ||
                                           (strncmp(scope, "account:", 8) == 0 && scope[8]));
}

static json_t *limits_json(const char *scope, const char *currency, const nova_ledger_limits_t *l)
{
    json_t *o = json_pack("{s:s,s:s}", "scope", scope, "currency", currency);
    for (int i = 0; o && i < NOVA_LEDGER_LIMIT_N; i++) {
        const char *name = nova_ledger_limit_name((nova_ledger_limit_kind)i);
        bool count = strstr(name, "_count") != NULL;
        if (l->v[i] == 0)
            json_object_set_new(o, name, json_null());
        else
            json_object_set_new(o, name,
                                count ? json_integer(l->v[i]) : amount_or_null(currency, l->v[i]));
    }
    return o;
}

/* The scope a limits route names: "tier:<tier>" or "account:<id>". */
static const char *route_scope(nova_req_t *r)
{
    bool tier = strstr(r->route, "/tiers/") != NULL;
    return nova_arena_printf(&r->arena, "%s:%s", tier ? "tier" : "account", r->params[0]);
}

static void limits_put(nova_req_t *r, void *ud)
{
    const char *scope = route_scope(r);
    if (!scope || !scope_valid(scope)) {
        nova_resp_problem(r, 404, "not_found", "Not Found",
                          "a KYC tier or account id: 1 to 64 of A-Z a-z 0-9 _ . : -");
        return;
    }
    json_t *body = api_json_body(r, limits_members);
    if (body == NULL)
        return;
    json_t *cur = json_object_get(body, "currency");
    nova_ledger_limits_t l = {0};
    const char *bad = NULL, *why = NULL;
    if (!json_is_string(cur) || !nova_ledger_currency(json_string_value(cur)))
        bad = "/currency", why = "required: an ISO 4217 currency code Nova knows";
    for (int i = 0; !bad && i < NOVA_LEDGER_LIMIT_N; i++) {
        const char *name = nova_ledger_limit_name((nova_ledger_limit_kind)i);
        json_t *v = json_object_get(body, name);
        if (v == NULL || json_is_null(v))
            continue;
        if (strstr(name, "_count")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > 1000000000)
                bad = nova_arena_printf(&r->arena, "/%s", name), why = "a count from 1 to 10^9";
            else
                l.v[i] = json_integer_value(v);
            continue;
        }
        char c[4];
        const char *member;
        if (nova_ledger_amount_json(v, false, c, &l.v[i], &member, &why) != NOVA_OK)
            bad = nova_arena_printf(&r->arena, "/%s%s", name, member);
        else if (strcmp(c, json_string_value(cur)) != 0)
            bad = nova_arena_printf(&r->arena, "/%s/currency", name), why = "the limits' currency";
    }
    if (bad) {
        invalid(r, bad, why);
        json_decref(body);
        return;
    }
    nova_store_t *s = api_store(r, ud);
    nova_audit_entry_t e;
    if (s && audit_make(r, &e, r->principal->tenant_id, "ledger.limits.set", "limits", scope,
                        json_pack("{s:s}", "currency", json_string_value(cur)))) {
        nova_status st = nova_store_ledger_limits_put(
            s, r->principal->tenant_id, scope, json_string_value(cur), &l, nova_time_now(), &e);
        if (st)
            api_unavailable(r, st);
        else
            api_reply_json(r, 200, limits_json(scope, json_string_value(cur), &l));
    }
    json_decref(body);
}

static void limits_get(nova_req_t *r, void *ud)
{
    const char *scope = route_scope(r), *currency = NULL;
    nova_store_t *s = scope && scope_valid(scope) ? api_store(r, ud) : NULL;
    if (!scope || !scope_valid(scope)) {
        nova_resp_problem(r, 404, "not_found", "Not Found",
                          "a KYC tier or account id: 1 to 64 of A-Z a-z 0-9 _ . : -");
        return;
    }
    if (s == NULL)
        return;
    nova_ledger_limits_t l;
    nova_status st =
        nova_store_ledger_limits_get(s, &r->arena, r->principal->tenant_id, scope, &currency, &l);
    if (st == NOVA_NOT_FOUND)
        nova_resp_problem(r, 404, "limits_not_found", "Not Found",
                          "no limits are set for this scope");
    else if (st)
        api_unavailable(r, st);
    else
        api_reply_json(r, 200, limits_json(scope, currency, &l));
}

static const char *const check_members[] = {"account", "amount", NULL};

static void limits_check(nova_req_t *r, void *ud)
{
    json_t *body = api_json_body(r, check_members);
    if (body == NULL)
        return;
    json_t *acc = json_object_get(body, "account");
    char cur[4] = "";
    int64_t amount = 0;
    const char *member = "", *why = NULL;
    if (!json_is_string(acc) || !nova_ledger_id_valid(json_string_value(acc)))
        invalid(r, "/account", "required: an account id");
    else if (nova_ledger_amount_json(json_object_get(body, "amount"), false, cur, &amount, &member,
                                     &why) != NOVA_OK)
        invalid(r, nova_arena_printf(&r->arena, "/amount%s", member), why);
    const char *id = r->status ? NULL : nova_arena_strdup(&r->arena, json_string_value(acc));
    json_decref(body);
    if (r->status)
        return;
    nova_store_t *s = api_store(r, ud);
    nova_ledger_account_t a;
    if (s == NULL || !get_account(r, s, id, &a))
        return;
    if (strcmp(cur, a.currency) != 0) {
        invalid(r, "/amount/currency", "the account's currency");
        return;
    }
    char periods[3][16];
    nova_ledger_periods(nova_time_now(), periods);
    nova_ledger_limits_t tier, own, m;
    bool ht, ho;
    nova_ledger_usage_t u;
    nova_status st = nova_store_ledger_limits_of(s, &r->arena, r->principal->tenant_id, &a, periods,
                                                 &tier, &ht, &own, &ho, &u);
    if (st) {
        api_unavailable(r, st);
        return;
    }
    nova_ledger_limits_merge(ht ? &tier : NULL, ho ? &own : NULL, &m);
    nova_ledger_limit_result_t res;
    nova_ledger_limit_check(&m, &u, amount, INT64_MIN, &res);
    json_t *o = json_pack("{s:s,s:b}", "account", a.id, "allowed", res.allowed);
    json_object_set_new(o, "limit",
                        res.decides < NOVA_LEDGER_LIMIT_N
                            ? json_string(nova_ledger_limit_name(res.decides))
                            : json_null());
    json_object_set_new(o, "remaining_amount",
                        res.remaining_amount >= 0 ? amount_or_null(a.currency, res.remaining_amount)
                                                  : json_null());
    json_object_set_new(o, "remaining_count",
                        res.remaining_count >= 0 ? json_integer(res.remaining_count) : json_null());
    api_reply_json(r, 200, o);
}

/* ---- statements ---- */

static const char *const statement_members[] = {"account", "from",  "to", "format",
                                                "cursor",  "limit", NULL};

/* A time bound: unix seconds (integer), or a string nova_audit_parse_time reads (a date,
 * RFC 3339 UTC, unix seconds). */
static bool time_bound(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return nova_time_in_range(*out);
    }
    int64_t us;
    if (!json_is_string(v) || nova_audit_parse_time(json_string_value(v), &us) != NOVA_OK)
        return false;
    *out = us / 1000000;
    return nova_time_in_range(*out);
}

/* The account's balance in its own sense (credit-normal: credits - debits). */
static int64_t sense(const nova_ledger_account_t *a, const nova_ledger_sums_t *x)
{
    bool debit_normal = (a->flags & NOVA_LEDGER_CREDITS_MUST_NOT_EXCEED_DEBITS) &&
                        !(a->flags & NOVA_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS);
    return debit_normal ? x->debits - x->credits : x->credits - x->debits;
}

/* An identifier for a camt.053 field of at most max characters (Max35Text, Max34Text):
 * text itself when it fits, else prefix and the SHA-256 of text in hex, cut to max (stable:
 * the same text gives the same identifier). */
static void camt_id(const char *prefix, const char *text, size_t max, char out[36])
{
    if (strlen(text) <= max) {
        snprintf(out, 36, "%s", text);
        return;
    }
    uint8_t d[32];
    nova_sha256(text, strlen(text), d);
    size_t k = (size_t)snprintf(out, 36, "%s", prefix);
    for (int i = 0; k + 2 <= max && i < 32; i++, k += 2)
        snprintf(out + k, 3, "%02x", d[i]);
    out[max < k ? max : k] = '\0';
}

/* ISO 20022 camt.053.001.02 (BankToCustomerStatement): one Stmt with the opening (OPBD) and
 * closing (CLBD) booked balances and one Ntry per entry, elements in the schema's order and
 * within its lengths: MsgId and Stmt/Id (Max35Text) a digest of what the statement covers,
 * the account's Othr/Id (Max34Text) its id or, past 34 characters, a digest of it (its Nm,
 * Max70Text, is always the id), an entry's NtryRef (Max35Text) its posting's id when that
 * fits, and AddtlNtryInf (Max500Text) names the posting in full. */
static void camt053(nova_buf_t *b, const nova_ledger_account_t *a, int64_t from, int64_t to,
                    int64_t opening, int64_t closing, const nova_ledger_entry_row_t *e, size_t n,
                    const char *statement)
{
    char msg_id[36], acct_id[36];
    camt_id("STMT", statement, 35, msg_id);
    camt_id("NOVA", a->id, 34, acct_id);
    char t0[21], t1[21], now[21], v[32];
    nova_time_format(from, t0);
    nova_time_format(to, t1);
    nova_time_format(nova_time_now(), now);
    nova_buf_append_cstr(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                            "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">"
                            "<BkToCstmrStmt><GrpHdr><MsgId>");
    nova_buf_append_xml(b, msg_id);
    nova_buf_printf(b, "</MsgId><CreDtTm>%s</CreDtTm></GrpHdr><Stmt><Id>", now);
    nova_buf_append_xml(b, msg_id);
    nova_buf_printf(b,
                    "</Id><CreDtTm>%s</CreDtTm><FrToDt><FrDtTm>%s</FrDtTm><ToDtTm>%s</ToDtTm>"
                    "</FrToDt><Acct><Id><Othr><Id>",
                    now, t0, t1);
    nova_buf_append_xml(b, acct_id);
    nova_buf_printf(b, "</Id></Othr></Id><Ccy>%s</Ccy><Nm>", a->currency);
    nova_buf_append_xml(b, a->id);
    nova_buf_append_cstr(b, "</Nm></Acct>");
    const struct {
        const char *code;
        int64_t value;
        const char *at;
    } bals[2] = {{"OPBD", opening, t0}, {"CLBD", closing, t1}};
    for (int i = 0; i < 2; i++) {
        int64_t mag = bals[i].value < 0 ? -bals[i].value : bals[i].value;
        nova_ledger_amount_format(a->currency, mag, v, sizeof(v));
        nova_buf_printf(b,
                        "<Bal><Tp><CdOrPrtry><Cd>%s</Cd></CdOrPrtry></Tp><Amt Ccy=\"%s\">%s</Amt>"
                        "<CdtDbtInd>%s</CdtDbtInd><Dt><DtTm>%s</DtTm></Dt></Bal>",
                        bals[i].code, a->currency, v, bals[i].value < 0 ? "DBIT" : "CRDT",
                        bals[i].at);
    }
    for (size_t i = 0; i < n; i++) {
        char when[21];
        nova_time_format(e[i].created_at, when);
        nova_ledger_amount_format(e[i].currency, e[i].amount, v, sizeof(v));
        nova_buf_append_cstr(b, "<Ntry>");
        if (strlen(e[i].posting_id) <= 35) {
            nova_buf_append_cstr(b, "<NtryRef>");
            nova_buf_append_xml(b, e[i].posting_id);
            nova_buf_append_cstr(b, "</NtryRef>");
        }
        nova_buf_printf(
            b,
            "<Amt Ccy=\"%s\">%s</Amt><CdtDbtInd>%s</CdtDbtInd><Sts>BOOK</Sts>"
            "<BookgDt><DtTm>%s</DtTm></BookgDt><ValDt><DtTm>%s</DtTm></ValDt>"
            "<AcctSvcrRef>%lld</AcctSvcrRef><BkTxCd><Prtry><Cd>NOVA</Cd></Prtry></BkTxCd>"
            "<AddtlNtryInf>posting ",
            e[i].currency, v, e[i].credit ? "CRDT" : "DBIT", when, when, (long long)e[i].ord);
        nova_buf_append_xml(b, e[i].posting_id);
        nova_buf_append_cstr(b, "</AddtlNtryInf></Ntry>");
    }
    nova_buf_append_cstr(b, "</Stmt></BkToCstmrStmt></Document>\n");
}

static void statements_create(nova_req_t *r, void *ud)
{
    json_t *body = api_json_body(r, statement_members);
    if (body == NULL)
        return;
    json_t *acc = json_object_get(body, "account"), *fmt = json_object_get(body, "format");
    json_t *cur = json_object_get(body, "cursor"), *lim = json_object_get(body, "limit");
    int64_t from = 0, to = 0, after = 0, limit = 100;
    const char *format = fmt ? json_string_value(fmt) : "json";
    int64_t now = nova_time_now();
    if (!json_is_string(acc) || !nova_ledger_id_valid(json_string_value(acc)))
        invalid(r, "/account", "required: an account id");
    else if (!time_bound(json_object_get(body, "from"), &from))
        invalid(r, "/from", "required: unix seconds, a date (2026-12-01) or RFC 3339 UTC");
    else if (!time_bound(json_object_get(body, "to"), &to) || to <= from)
        invalid(r, "/to", "required: a time after from");
    else if (!format ||
             (strcmp(format, "json") && strcmp(format, "csv") && strcmp(format, "camt.053")))
        invalid(r, "/format", "\"json\", \"csv\" or \"camt.053\"");
    else if (cur &&
             (!json_is_string(cur) || (after = strtoll(json_string_value(cur), NULL, 10)) <= 0))
        invalid(r, "/cursor", "the next_cursor of the previous page");
    else if (lim && (!json_is_integer(lim) || json_integer_value(lim) < 1 ||
                     json_integer_value(lim) > 1000))
        invalid(r, "/limit", "1 to 1000 entries a page");
    if (lim && r->status == 0)
        limit = json_integer_value(lim);
    const char *id = r->status ? NULL : nova_arena_strdup(&r->arena, json_string_value(acc));
    format = r->status ? NULL : nova_arena_strdup(&r->arena, format);
    json_decref(body);
    if (r->status)
        return;
    /* The window ends now at the latest: what is in it no longer changes. */
    if (to > now + 1)
        to = now + 1;
    nova_store_t *s = api_store(r, ud);
    nova_ledger_account_t a;
    if (s == NULL || !get_account(r, s, id, &a))
        return;
    const char *tenant = r->principal->tenant_id;
    nova_ledger_sums_t before, upto, whole, unused;
    nova_ledger_entry_row_t *e;
    size_t n;
    nova_status st =
        nova_store_ledger_statement_sums(s, tenant, a.id, from, to, after, &before, &upto);
    if (st == NOVA_OK)
        st =
            nova_store_ledger_statement_sums(s, tenant, a.id, from, to, INT64_MAX, &unused, &whole);
    if (st == NOVA_OK)
        st = nova_store_ledger_statement_entries(s, &r->arena, tenant, a.id, from, to, after,
                                                 (size_t)limit, &e, &n);
    if (st) {
        api_unavailable(r, st);
        return;
    }
    nova_ledger_sums_t start = {before.debits + upto.debits, before.credits + upto.credits};
    nova_ledger_sums_t end = {before.debits + whole.debits, before.credits + whole.credits};
    int64_t opening = sense(&a, &before), closing = sense(&a, &end), running = sense(&a, &start);
    char next[24] = "";
    if (n == (size_t)limit)
        snprintf(next, sizeof(next), "%lld", (long long)e[n - 1].ord);
    if (next[0])
        nova_resp_header(r, "Nova-Next-Cursor", next);
    nova_buf_t b;
    nova_buf_init(&b);
    if (strcmp(format, "camt.053") == 0) {
        const char *msg =
            nova_arena_printf(&r->arena, "%s-%lld-%lld", a.id, (long long)from, (long long)to);
        camt053(&b, &a, from, to, opening, closing, e, n, msg ? msg : "STMT");
        nova_resp_body(r, 200, "application/xml", b.data, b.len);
    } else if (strcmp(format, "csv") == 0) {
        char t[21], v[32];
        nova_buf_append_cstr(&b, "type,posting,time,direction,amount,currency,balance\r\n");
        nova_time_format(from, t);
        nova_ledger_amount_format(a.currency, opening, v, sizeof(v));
        nova_buf_printf(&b, "opening,,%s,,,%s,%s\r\n", t, a.currency, v);
        for (size_t i = 0; i < n; i++) {
            char amt[32];
            running +=
                (e[i].credit ? 1 : -1) * (sense(&a, &(nova_ledger_sums_t){0, 1}) * e[i].amount);
            nova_time_format(e[i].created_at, t);
            nova_ledger_amount_format(a.currency, e[i].amount, amt, sizeof(amt));
            nova_ledger_amount_format(a.currency, running, v, sizeof(v));
            nova_buf_printf(&b, "entry,%s,%s,%s,%s,%s,%s\r\n", e[i].posting_id, t,
                            e[i].credit ? "credit" : "debit", amt, a.currency, v);
        }
        nova_time_format(to, t);
        nova_ledger_amount_format(a.currency, closing, v, sizeof(v));
        nova_buf_printf(&b, "closing,,%s,,,%s,%s\r\n", t, a.currency, v);
        nova_resp_body(r, 200, "text/csv", b.data, b.len);
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            running +=
                (e[i].credit ? 1 : -1) * (sense(&a, &(nova_ledger_sums_t){0, 1}) * e[i].amount);
            json_array_append_new(arr,
                                  json_pack("{s:s,s:s,s:o,s:o,s:I}", "posting", e[i].posting_id,
                                            "direction", e[i].credit ? "credit" : "debit", "amount",
                                            amount_or_null(a.currency, e[i].amount),
                                            "balance_after", amount_or_null(a.currency, running),
                                            "created_at", (json_int_t)e[i].created_at));
        }
        json_t *o =
            json_pack("{s:s,s:s,s:I,s:I,s:o,s:o,s:o}", "account", a.id, "currency", a.currency,
                      "from", (json_int_t)from, "to", (json_int_t)to, "opening_balance",
                      amount_or_null(a.currency, opening), "closing_balance",
                      amount_or_null(a.currency, closing), "entries", arr);
        json_object_set_new(o, "next_cursor", next[0] ? json_string(next) : json_null());
        api_reply_json(r, 200, o);
    }
    nova_buf_free(&b);
}

/* ---- savings products and the accrual run ---- */

static const char *const product_members[] = {"kind",
                                              "currency",
                                              "rate",
                                              "day_count",
                                              "min_balance",
                                              "interest_account",
                                              "accrual_account",
                                              "fee",
                                              "interest_period",
                                              NULL};

static json_t *product_json(const nova_ledger_product_t *p)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:I}", "id", p->id, "kind", p->kind,
                          "currency", p->currency, "rate", p->rate, "day_count", p->day_count,
                          "min_balance", amount_or_null(p->currency, p->min_balance),
                          "interest_account", p->interest_account, "accrual_account",
                          p->accrual_account, "updated_at", (json_int_t)p->updated_at);
    if (o)
        json_object_set_new(o, "interest_period",
                            json_string(p->interest_period && p->interest_period[0]
                                            ? p->interest_period
                                            : "monthly"));
    if (o && p->fee_amount > 0)
        json_object_set_new(o, "fee",
                            json_pack("{s:o,s:s,s:s}", "amount",
                                      amount_or_null(p->currency, p->fee_amount), "period",
                                      p->fee_period, "account", p->fee_account));
    return o;
}

/* The product's optional fee {"amount": Amount, "period": "daily" | "weekly" | "monthly" |
 * "quarterly" | "annual", "account": id} into p; false with *bad and *why set. */
static bool fee_parse(json_t *fee, nova_arena_t *ar, nova_ledger_product_t *p, const char **bad,
                      const char **why)
{
    char cur[4];
    const char *member = "";
    json_t *am = json_object_get(fee, "amount"), *per = json_object_get(fee, "period");
    json_t *acc = json_object_get(fee, "account");
    size_t known = (am != NULL) + (per != NULL) + (acc != NULL);
    if (!json_is_object(fee) || json_object_size(fee) != known)
        *bad = "/fee", *why = "{\"amount\": Amount, \"period\": \"monthly\" (or another "
                              "period), \"account\": id}";
    else if (nova_ledger_amount_json(am, false, cur, &p->fee_amount, &member, why) != NOVA_OK)
        *bad = nova_arena_printf(ar, "/fee/amount%s", member);
    else if (strcmp(cur, p->currency) != 0)
        *bad = "/fee/amount/currency", *why = "the product's currency";
    else if (!json_is_string(per) || !nova_ledger_period_valid(json_string_value(per)))
        *bad = "/fee/period", *why = nova_arena_printf(ar, "required: %s (one fee per UTC period)",
                                                       nova_ledger_period_names());
    else if (!json_is_string(acc) || !nova_ledger_id_valid(json_string_value(acc)))
        *bad = "/fee/account", *why = "required: the account the fee is paid into";
    else {
        p->fee_period = nova_arena_strdup(ar, json_string_value(per));
        p->fee_account = nova_arena_strdup(ar, json_string_value(acc));
        return true;
    }
    if (*bad == NULL)
        *bad = "/fee";
    p->fee_amount = 0;
    return false;
}

static void products_put(nova_req_t *r, void *ud)
{
    if (!nova_ledger_id_valid(r->params[0])) {
        nova_resp_problem(r, 404, "not_found", "Not Found", "not a product id");
        return;
    }
    json_t *body = api_json_body(r, product_members);
    if (body == NULL)
        return;
    nova_ledger_product_t p = {.id = r->params[0], .updated_at = nova_time_now()};
    const char *bad = NULL, *why = NULL, *member = "";
    int64_t rate;
    char cur[4];
    json_t *v = json_object_get(body, "min_balance");
    p.kind = json_string_value(json_object_get(body, "kind"));
    p.currency = json_string_value(json_object_get(body, "currency"));
    p.rate = json_string_value(json_object_get(body, "rate"));
    p.day_count = json_string_value(json_object_get(body, "day_count"));
    p.interest_account = json_string_value(json_object_get(body, "interest_account"));
    p.accrual_account = json_string_value(json_object_get(body, "accrual_account"));
    json_t *ip = json_object_get(body, "interest_period");
    p.interest_period = json_is_string(ip) ? json_string_value(ip) : "monthly";
    if (!p.kind || (strcmp(p.kind, "savings") != 0 && strcmp(p.kind, "overdraft") != 0))
        bad = "/kind", why = "required: \"savings\" or \"overdraft\"";
    else if (!p.currency || !nova_ledger_currency(p.currency))
        bad = "/currency", why = "required: an ISO 4217 currency code Nova knows";
    else if (nova_ledger_rate_parse(p.rate, &rate) != NOVA_OK)
        bad = "/rate", why = "required: an annual rate as a decimal string (\"0.05\")";
    else if (nova_ledger_daycount_parse(p.day_count) < 0)
        bad = "/day_count", why = "required: \"ACT/365\", \"ACT/360\" or \"30/360\"";
    else if (v && nova_ledger_amount_json(v, true, cur, &p.min_balance, &member, &why) != NOVA_OK)
        bad = nova_arena_printf(&r->arena, "/min_balance%s", member);
    else if (v && strcmp(cur, p.currency) != 0)
        bad = "/min_balance/currency", why = "the product's currency";
    else if (!nova_ledger_id_valid(p.interest_account))
        bad = "/interest_account", why = "required: the account that pays the interest";
    else if (!nova_ledger_id_valid(p.accrual_account) ||
             strcmp(p.accrual_account, p.interest_account) == 0)
        bad = "/accrual_account",
        why = "required: the account interest accrues in (not the interest account)";
    else if (ip && (!json_is_string(ip) || !nova_ledger_period_valid(json_string_value(ip))))
        bad = "/interest_period",
        why = nova_arena_printf(&r->arena,
                                "%s (when the accrued interest is paid out or charged, "
                                "UTC; default \"monthly\")",
                                nova_ledger_period_names());
    else if (json_object_get(body, "fee"))
        fee_parse(json_object_get(body, "fee"), &r->arena, &p, &bad, &why);
    nova_store_t *s = bad ? NULL : api_store(r, ud);
    for (int i = 0; s && !bad && i < (p.fee_amount ? 3 : 2); i++) {
        nova_ledger_account_t a;
        static const char *const members[] = {"/interest_account", "/accrual_account",
                                              "/fee/account"};
        const char *id = i == 2 ? p.fee_account : i ? p.accrual_account : p.interest_account;
        nova_status st =
            nova_store_ledger_account_get(s, &r->arena, r->principal->tenant_id, id, &a);
        if (st == NOVA_NOT_FOUND || (st == NOVA_OK && strcmp(a.currency, p.currency) != 0)) {
            bad = members[i];
            why = "an account of the tenant in the product's currency";
        } else if (st) {
            api_unavailable(r, st);
            json_decref(body);
            return;
        }
    }
    if (bad) {
        invalid(r, bad, why);
        json_decref(body);
        return;
    }
    nova_audit_entry_t e;
    if (s && audit_make(r, &e, r->principal->tenant_id, "ledger.product.set", "product", p.id,
                        json_pack("{s:s,s:s,s:s}", "rate", p.rate, "day_count", p.day_count,
                                  "currency", p.currency))) {
        nova_status st = nova_store_ledger_product_put(s, r->principal->tenant_id, &p, &e);
        if (st)
            api_unavailable(r, st);
        else
            api_reply_json(r, 200, product_json(&p));
    }
    json_decref(body);
}

static void products_get(nova_req_t *r, void *ud)
{
    nova_store_t *s = api_store(r, ud);
    nova_ledger_product_t p;
    if (s == NULL)
        return;
    nova_status st =
        nova_store_ledger_product_get(s, &r->arena, r->principal->tenant_id, r->params[0], &p);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID)
        nova_resp_problem(r, 404, "product_not_found", "Not Found",
                          "the tenant has no product with this id");
    else if (st)
        api_unavailable(r, st);
    else
        api_reply_json(r, 200, product_json(&p));
}

/* One accrual posting (fixed id, deterministic body) through the posting path. */
/* Charging overdraft interest to an overdrawn account: the charge may take it past its line
 * (the bank's decision, as every bank makes it), and a frozen account is charged too; a closed
 * one is not, and totals stay bounded. */
static nova_ledger_refusal check_charge(const nova_ledger_account_t *a,
                                        const nova_ledger_balance_t *delta, void *ud)
{
    const int64_t *now = ud;
    nova_ledger_rules_t rules = rules_of(a);
    rules.flags = 0;
    if (rules.status == NOVA_LEDGER_FROZEN)
        rules.status = NOVA_LEDGER_OPEN;
    return nova_ledger_check(&rules, &a->balance, delta, *now);
}

static nova_status accrual_post(nova_store_t *s, nova_arena_t *ar, const nova_audit_actor_t *by,
                                const char *tenant, const char *id, const char *from,
                                const char *to, const char *currency, int64_t amount,
                                const char *description, const char *purpose,
                                nova_ledger_check_fn check, nova_ledger_accrual_run_t *run)
{
    char v[32];
    nova_ledger_amount_format(currency, amount, v, sizeof(v));
    json_t *body =
        json_pack("{s:s,s:[{s:s,s:s,s:{s:s,s:s}},{s:s,s:s,s:{s:s,s:s}}],s:s,s:s}", "id", id,
                  "entries", "account", from, "direction", "debit", "amount", "currency", currency,
                  "value", v, "account", to, "direction", "credit", "amount", "currency", currency,
                  "value", v, "description", description, "purpose", purpose);
    nova_ledger_posting_t *p = nova_arena_alloc(ar, sizeof(*p));
    char field[96], why[256];
    int64_t now = nova_time_now();
    nova_status st = p && body ? nova_ledger_posting_parse(body, ar, now, p, field, sizeof(field),
                                                           why, sizeof(why))
                               : NOVA_NOMEM;
    json_decref(body);
    nova_ledger_account_delta_t deltas[NOVA_LEDGER_MAX_ENTRIES];
    size_t nd = 0;
    if (st == NOVA_OK)
        st = nova_ledger_posting_deltas(p, deltas, &nd);
    if (st != NOVA_OK)
        return st;
    posting_view view = {p->canonical, "posting", "posted", NULL, by->id, now, 0, 0};
    nova_ledger_write_t w = {p,      deltas, nd,   "posting", NULL, 0,
                             amount, by->id, now,  check,     &now, render_posting,
                             &view,  false,  NULL, NULL,      0,    NULL};
    nova_audit_entry_t e;
    st = nova_audit_entry_make(&e, ar, by, tenant, "ledger.posting.create", "posting", id,
                               json_pack("{s:s,s:s}", "kind", "posting", "purpose", purpose));
    nova_ledger_outcome_t out;
    if (st == NOVA_OK)
        st = nova_store_ledger_post(s, ar, tenant, &w, &e, &out);
    if (st == NOVA_OK && out.replayed)
        run->replayed++;
    else if (st == NOVA_OK)
        run->posted++;
    else if (st == NOVA_FORBIDDEN) {
        run->failed++;
        nova_log_warn("ledger accrual %s refused: %s (account %s)", id,
                      nova_ledger_refusal_code(out.refusal), out.refused_account);
        st = NOVA_OK;
    }
    return st;
}

/* An account fee never takes a credit-normal account below zero, whatever its flags: the debit
 * rule applies as if debits_must_not_exceed_credits were set, so only an overdraft line (while
 * it lasts) lets a fee overdraw it. A frozen or closed account is refused as for any debit. The
 * fee account is only credited, which the rule never refuses. */
static nova_ledger_refusal check_fee(const nova_ledger_account_t *a,
                                     const nova_ledger_balance_t *delta, void *ud)
{
    const int64_t *now = ud;
    nova_ledger_rules_t rules = rules_of(a);
    if (!(a->flags & NOVA_LEDGER_CREDITS_MUST_NOT_EXCEED_DEBITS) ||
        (a->flags & NOVA_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS))
        rules.flags |= NOVA_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS;
    return nova_ledger_check(&rules, &a->balance, delta, *now);
}

/* The product's fee for the period of the run's day (its fee.period: a day, ISO week, month,
 * quarter or year, UTC), once per account and period ("fee:<product>:<account>:<label>", the
 * label from nova_ledger_period_label: "2026-12" for a month, as before other periods
 * existed), for an account that existed by the day's end and is not closed. A refusal (the fee
 * would overdraw it) writes nothing and is counted in fees_skipped (and failed), so the next
 * day's run tries again while the period lasts: the fee is posted once, on the first run of the
 * period that finds the funds (a daily fee has one day: refused, it is not carried over). A
 * product whose fee changed after this period's was posted keeps the posted one (the id's body
 * differs: counted as replayed). */
static nova_status fee_post(nova_store_t *s, nova_arena_t *ar, const nova_audit_actor_t *by,
                            const char *tenant, const nova_ledger_product_t *pr,
                            const nova_ledger_account_t *a, int64_t day_end,
                            nova_ledger_accrual_run_t *run)
{
    if (pr->fee_amount <= 0 || !pr->fee_account || !pr->fee_account[0] ||
        a->created_at >= day_end || strcmp(a->status, "closed") == 0 ||
        strcmp(a->id, pr->fee_account) == 0)
        return NOVA_OK;
    char label[16];
    const char *period = pr->fee_period && pr->fee_period[0] ? pr->fee_period : "monthly";
    nova_status st = nova_ledger_period_label(period, day_end - 86400, label);
    if (st != NOVA_OK) {
        nova_log_warn("ledger: product %s has an unknown fee period; no fee posted", pr->id);
        return NOVA_OK;
    }
    const char *id = nova_arena_printf(ar, "fee:%s:%s:%s", pr->id, a->id, label);
    const char *what = nova_arena_printf(ar, "%s account fee %s", period, label);
    if (id == NULL || what == NULL)
        return NOVA_NOMEM;
    size_t failed = run->failed;
    st = accrual_post(s, ar, by, tenant, id, a->id, pr->fee_account, pr->currency, pr->fee_amount,
                      what, "fee", check_fee, run);
    if (st == NOVA_CONFLICT) {
        run->replayed++;
        st = NOVA_OK;
    }
    if (run->failed > failed)
        run->fees_skipped++;
    return st;
}

/* The account's end-of-day balances, in its own sense, of the days from first (a day's first
 * second) to last (inclusive, at most 366 days): eod[k] for the day first + k days. One query
 * for what was posted before first, then the window's entries a page at a time, by day. */
static nova_status eod_balances(nova_store_t *s, nova_arena_t *ar, const char *tenant,
                                const nova_ledger_account_t *a, int64_t first, int64_t last,
                                int64_t *eod)
{
    nova_ledger_sums_t before, within, day[367] = {{0}};
    size_t ndays = (size_t)((last - first) / 86400 + 1);
    nova_assert(ndays >= 1 && ndays <= 366);
    int64_t end = last + 86400, after = 0;
    nova_status st =
        nova_store_ledger_statement_sums(s, tenant, a->id, first, first, 0, &before, &within);
    while (st == NOVA_OK) {
        nova_ledger_entry_row_t *rows;
        size_t n;
        st = nova_store_ledger_statement_entries(s, ar, tenant, a->id, first, end, after, 1000,
                                                 &rows, &n);
        for (size_t i = 0; st == NOVA_OK && i < n; i++) {
            nova_ledger_sums_t *d = &day[(rows[i].created_at - first) / 86400];
            if (rows[i].credit)
                d->credits += rows[i].amount;
            else
                d->debits += rows[i].amount;
        }
        if (st != NOVA_OK || n < 1000)
            break;
        after = rows[n - 1].ord;
    }
    for (size_t k = 0; st == NOVA_OK && k < ndays; k++) {
        before.debits += day[k].debits;
        before.credits += day[k].credits;
        eod[k] = sense(a, &before);
    }
    return st;
}

static nova_status accrue_account(nova_store_t *s, nova_arena_t *ar, const nova_audit_actor_t *by,
                                  const char *tenant, const nova_ledger_product_t *pr, int64_t rate,
                                  int dc, const nova_ledger_account_t *a, int64_t start,
                                  const char *dtext, nova_ledger_accrual_run_t *run)
{
    /* The interest period's cumulative accrual before this day and after it (the period of
     * the product's interest_period the day falls in: a month unless it says otherwise). An
     * overdraft product charges on what the account is overdrawn by, at the account's own
     * line rate when it has one. */
    bool od = strcmp(pr->kind, "overdraft") == 0;
    const char *period =
        pr->interest_period && pr->interest_period[0] ? pr->interest_period : "monthly";
    int64_t own_rate, first;
    bool last;
    if (od && a->overdraft_rate && a->overdraft_rate[0] &&
        nova_ledger_rate_parse(a->overdraft_rate, &own_rate) == NOVA_OK)
        rate = own_rate;
    nova_status st = nova_ledger_period_span(period, start, &first, &last);
    if (st != NOVA_OK) {
        nova_log_warn("ledger: product %s has an unknown interest period; no interest", pr->id);
        return fee_post(s, ar, by, tenant, pr, a, start + 86400, run);
    }
    int64_t eod[366];
    st = eod_balances(s, ar, tenant, a, first, start, eod);
    int64_t cum = 0, before = 0;
    for (int64_t t = first, k = 0; st == NOVA_OK && t <= start; t += 86400, k++) {
        int64_t bal = od ? (eod[k] < 0 ? -eod[k] : 0) : eod[k], nano = 0;
        time_t tt = (time_t)t;
        struct tm tm;
        if (gmtime_r(&tt, &tm) == NULL)
            st = NOVA_INVALID;
        if (st == NOVA_OK)
            st = nova_ledger_interest_day(bal, rate, (nova_ledger_daycount)dc, pr->min_balance,
                                          tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, &nano);
        if (t == start)
            before = cum;
        /* A year of days each under interest_day's bound can still pass int64. */
        if (st == NOVA_OK && __builtin_add_overflow(cum, nano, &cum))
            st = NOVA_TOO_LARGE;
    }
    if (st != NOVA_OK)
        return st;
    int64_t today = nova_ledger_interest_post(before, cum);
    const char *id = nova_arena_printf(ar, "accrue:%s:%s:%s", pr->id, a->id, dtext);
    if (id == NULL)
        return NOVA_NOMEM;
    /* Savings: the interest account pays into the accrual account, which pays the saver at
     * the month's end. Overdraft: the accrual account (interest receivable) is owed by the
     * interest (income) account's side, and the month's total is charged to the account. */
    if (today > 0)
        st = od ? accrual_post(s, ar, by, tenant, id, pr->accrual_account, pr->interest_account,
                               pr->currency, today, "overdraft interest accrued", "interest",
                               check_account, run)
                : accrual_post(s, ar, by, tenant, id, pr->interest_account, pr->accrual_account,
                               pr->currency, today, "interest accrued", "interest", check_account,
                               run);
    /* On the period's last day its total is paid out (charged), under the period's label:
     * "payout:<product>:<account>:2026-11" for a month, as before other periods existed. */
    int64_t total = cum / 1000000000LL;
    char label[16];
    if (st == NOVA_OK && total > 0 && last &&
        nova_ledger_period_label(period, start, label) == NOVA_OK) {
        const char *pid =
            nova_arena_printf(ar, "%s:%s:%s:%s", od ? "charge" : "payout", pr->id, a->id, label);
        if (pid == NULL)
            return NOVA_NOMEM;
        st = od ? accrual_post(s, ar, by, tenant, pid, a->id, pr->accrual_account, pr->currency,
                               total, "overdraft interest charged", "interest", check_charge, run)
                : accrual_post(s, ar, by, tenant, pid, pr->accrual_account, a->id, pr->currency,
                               total, "interest paid", "interest", check_account, run);
    }
    if (st == NOVA_OK)
        st = fee_post(s, ar, by, tenant, pr, a, start + 86400, run);
    return st;
}

/* every: the run of every tenant, which passes over a tenant without products in silence
 * (a run asked for one tenant is recorded in its chain even then). */
static nova_status accrue_tenant(nova_store_t *s, nova_arena_t *ar, const nova_audit_actor_t *by,
                                 const char *tenant, int64_t start, const char *dtext, bool every,
                                 nova_ledger_accrual_run_t *run)
{
    nova_ledger_product_t *prods;
    size_t np;
    nova_ledger_accrual_run_t was = *run;
    nova_status st = nova_store_ledger_product_list(s, ar, tenant, &prods, &np);
    if (st == NOVA_OK && np == 0 && every)
        return NOVA_OK;
    for (size_t i = 0; st == NOVA_OK && i < np; i++) {
        int64_t rate;
        int dc = nova_ledger_daycount_parse(prods[i].day_count);
        if (nova_ledger_rate_parse(prods[i].rate, &rate) != NOVA_OK || dc < 0)
            continue;
        const char *after = "";
        for (;;) {
            nova_ledger_account_t *accs;
            size_t na;
            st = nova_store_ledger_accounts_of_product(s, ar, tenant, prods[i].id, after, 200,
                                                       &accs, &na);
            if (st != NOVA_OK || na == 0)
                break;
            for (size_t k = 0; st == NOVA_OK && k < na; k++) {
                run->accounts++;
                st = accrue_account(s, ar, by, tenant, &prods[i], rate, dc, &accs[k], start, dtext,
                                    run);
            }
            if (st != NOVA_OK || na < 200)
                break;
            after = accs[na - 1].id;
        }
    }
    /* The run itself is recorded in the tenant's chain (the postings have entries of their
     * own), so that a day's run is visible even when it posted nothing. */
    nova_audit_entry_t e;
    if (st == NOVA_OK)
        st = nova_audit_entry_make(&e, ar, by, tenant, "ledger.accrual.run", "accrual", dtext,
                                   json_pack("{s:I,s:I,s:I,s:I,s:I}", "accounts",
                                             (json_int_t)(run->accounts - was.accounts), "posted",
                                             (json_int_t)(run->posted - was.posted), "replayed",
                                             (json_int_t)(run->replayed - was.replayed), "failed",
                                             (json_int_t)(run->failed - was.failed), "fees_skipped",
                                             (json_int_t)(run->fees_skipped - was.fees_skipped)));
    if (st == NOVA_OK)
        st = nova_store_audit_append(s, ar, &e, NULL);
    return st;
}

nova_status nova_ledger_accrue(nova_store_t *s, nova_arena_t *ar, const nova_audit_actor_t *by,
                               const char *tenant_id, const char *day,
                               nova_ledger_accrual_run_t *out)
{
    memset(out, 0, sizeof(*out));
    int y, m, d;
    int64_t start;
    /* Only a finished day: its end-of-day balances are final. */
    if (nova_ledger_date_parse(day, &y, &m, &d, &start) != NOVA_OK ||
        start + 86400 > nova_time_now())
        return NOVA_INVALID;
    if (tenant_id)
        return accrue_tenant(s, ar, by, tenant_id, start, day, false, out);
    nova_tenant_t *ts;
    size_t n;
    nova_status st = nova_store_tenant_list(s, ar, &ts, &n);
    for (size_t i = 0; st == NOVA_OK && i < n; i++)
        st = accrue_tenant(s, ar, by, ts[i].id, start, day, true, out);
    return st;
}

nova_status nova_ledger_accrue_due(nova_store_t *s, nova_arena_t *ar, const char *tenant_id,
                                   int64_t now, char done[16], bool *ran,
                                   nova_ledger_accrual_run_t *out)
{
    char day[16];
    *ran = false;
    memset(out, 0, sizeof(*out));
    time_t y = (time_t)(now - 86400);
    struct tm tm;
    if (gmtime_r(&y, &tm) == NULL || strftime(day, sizeof(day), "%Y-%m-%d", &tm) == 0)
        return NOVA_INVALID;
    if (strcmp(day, done) == 0)
        return NOVA_OK;
    nova_audit_actor_t by = {"system", NULL};
    nova_status st = nova_ledger_accrue(s, ar, &by, tenant_id, day, out);
    if (st == NOVA_OK) {
        memcpy(done, day, sizeof(day));
        *ran = true;
    }
    return st;
}

static const char *const accrual_members[] = {"date", NULL};

static void accruals_run(nova_req_t *r, void *ud)
{
    json_t *body = api_json_body(r, accrual_members);
    if (body == NULL)
        return;
    const char *day = json_string_value(json_object_get(body, "date"));
    day = day ? nova_arena_strdup(&r->arena, day) : NULL;
    json_decref(body);
    nova_store_t *s = api_store(r, ud);
    if (s == NULL)
        return;
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    nova_ledger_accrual_run_t run;
    nova_status st = nova_ledger_accrue(s, &r->arena, &by, r->principal->tenant_id, day, &run);
    if (st == NOVA_INVALID)
        invalid(r, "/date", "required: a finished UTC day, YYYY-MM-DD");
    else if (st)
        api_unavailable(r, st);
    else
        api_reply_json(r, 200,
                       json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "date", day, "accounts",
                                 (json_int_t)run.accounts, "posted", (json_int_t)run.posted,
                                 "replayed", (json_int_t)run.replayed, "failed",
                                 (json_int_t)run.failed, "fees_skipped",
                                 (json_int_t)run.fees_skipped));
}

nova_status api_ledger_register(nova_api_t *api, nova_http_server_t *srv)
{
    /* Hold expiry every NOVA_LEDGER_SWEEP_MS; the daily run checked every ten minutes (first
     * 5 s after start), so yesterday runs once a day in each process: a second process's run
     * replays the first's postings (fixed ids, deterministic bodies) and posts nothing. */
    if (api->sched) {
        jobs_database_url = api->database_url;
        route_sweep = false;
        uint32_t sweep = api->ledger_sweep_ms ? api->ledger_sweep_ms : 2000;
        nova_status st = nova_sched_add(api->sched, "ledger-hold-expiry", sweep, sweep,
                                        job_hold_expiry, NULL, NULL);
        if (st == NOVA_OK)
            st =
                nova_sched_add(api->sched, "ledger-accrual", 600000, 5000, job_accrual, NULL, NULL);
        if (st)
            return st;
    }
    static const struct {
        const char *method, *pattern, *scope;
        nova_handler_fn fn;
        size_t max_body;
    } routes[] = {
        {"POST", "/v1/core/accounts", "ledger:write", accounts_create, 8192},
        {"GET", "/v1/core/accounts", "ledger:read", accounts_list, 0},
        {"GET", "/v1/core/accounts/{id}", "ledger:read", accounts_get, 0},
        {"GET", "/v1/core/accounts/{id}/balances", "ledger:read", accounts_balances, 0},
        {"PUT", "/v1/core/accounts/{id}/status", "ledger:write", accounts_status, 1024},
        {"GET", "/v1/core/accounts/{id}/postings", "ledger:read", accounts_postings, 0},
        {"POST", "/v1/core/postings", "ledger:write", postings_create, 65536},
        {"POST", "/v1/core/postings:batch", "ledger:write", postings_batch, 1048576},
        {"GET", "/v1/core/postings/{id}", "ledger:read", postings_get, 0},
        {"POST", "/v1/core/postings/{id}/post", "ledger:write", postings_post, 1024},
        {"POST", "/v1/core/postings/{id}/void", "ledger:write", postings_void, 1024},
        {"POST", "/v1/core/postings/{id}/reverse", "ledger:write", postings_reverse, 2048},
        {"PUT", "/v1/core/limits/tiers/{tier}", "ledger:write", limits_put, 4096},
        {"GET", "/v1/core/limits/tiers/{tier}", "ledger:read", limits_get, 0},
        {"PUT", "/v1/core/accounts/{id}/limits", "ledger:write", limits_put, 4096},
        {"GET", "/v1/core/accounts/{id}/limits", "ledger:read", limits_get, 0},
        {"POST", "/v1/core/limits/check", "ledger:read", limits_check, 1024},
        {"POST", "/v1/core/statements", "ledger:read", statements_create, 1024},
        {"PUT", "/v1/core/products/{id}", "ledger:write", products_put, 4096},
        {"GET", "/v1/core/products/{id}", "ledger:read", products_get, 0},
        {"POST", "/v1/core/accruals", "ledger:write", accruals_run, 256},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, routes[i].scope,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    return NOVA_OK;
}
