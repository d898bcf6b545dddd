/*
 * prices.c: a tenant's price list (issue 9 item 7). Each executed check costs the units of the
 * tenant's own price for its kind, or the built-in price of the check table (checks.c) when it
 * has none. The worker reads the price when it bills a step (idv_price_units), so the usage
 * rows keep the price in force when each step ran and a new list applies forward only.
 */
#include <string.h>

#include "internal.h"

#define PRICE_MAX 1000000

int64_t idv_price_units(nova_store_t *s, const char *tenant_id, nova_check_kind kind)
{
    const idv_check_t *c = idv_check_find(kind);
    int64_t units = c ? c->units : 0;
    /* a read that fails bills the built-in price rather than losing the step */
    if (nova_store_idv_price_of(s, tenant_id, nova_check_name(kind), &units) != NOVA_OK)
        units = c ? c->units : 0;
    return units;
}

nova_status nova_idv_prices_json(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                 json_t **out)
{
    nova_idv_price_row_t *rows = NULL;
    size_t n = 0;
    nova_status st = nova_store_idv_prices_get(s, a, tenant_id, &rows, &n);
    if (st != NOVA_OK)
        return st;
    json_t *list = json_array();
    int64_t updated_at = 0;
    for (int k = 0; list && k < NOVA_CHECK_N; k++) {
        const idv_check_t *c = idv_check_find((nova_check_kind)k);
        const char *name = nova_check_name((nova_check_kind)k);
        int64_t units = c ? c->units : 0;
        const char *source = "default";
        for (size_t i = 0; i < n; i++)
            if (strcmp(rows[i].check_name, name) == 0) {
                units = rows[i].units;
                source = "tenant";
                if (rows[i].updated_at > updated_at)
                    updated_at = rows[i].updated_at;
            }
        json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:s}", "check", name, "units",
                                              (json_int_t)units, "default",
                                              (json_int_t)(c ? c->units : 0), "source", source));
    }
    *out = json_pack("{s:o, s:I}", "prices", list ? list : json_array(), "updated_at",
                     (json_int_t)updated_at);
    return *out ? NOVA_OK : NOVA_NOMEM;
}

static nova_status refuse(nova_idv_problem_t *pb, const char *field, const char *why)
{
    snprintf(pb->field, sizeof(pb->field), "%s", field);
    snprintf(pb->why, sizeof(pb->why), "%s", why);
    return NOVA_INVALID;
}

nova_status nova_idv_prices_put(nova_store_t *s, nova_arena_t *a, const nova_audit_actor_t *by,
                                const char *tenant_id, const json_t *body, json_t **out,
                                nova_idv_problem_t *pb)
{
    memset(pb, 0, sizeof(*pb));
    const json_t *prices = json_object_get(body, "prices");
    if (!json_is_object(body) || json_object_size(body) != 1 || !json_is_object(prices))
        return refuse(pb, "/prices",
                      "an object of check name -> units, e.g. {\"prices\": {\"ocr\": 3}}");
    size_t n = json_object_size(prices);
    nova_idv_price_row_t *rows = n ? nova_arena_alloc(a, n * sizeof(*rows)) : NULL;
    if (n && !rows)
        return NOVA_NOMEM;
    const char *k;
    json_t *v;
    size_t i = 0;
    int64_t now = nova_time_now();
    json_object_foreach((json_t *)prices, k, v)
    {
        bool known = false;
        for (int c = 0; c < NOVA_CHECK_N; c++)
            known |= strcmp(k, nova_check_name((nova_check_kind)c)) == 0;
        char field[96];
        snprintf(field, sizeof(field), "/prices/%.80s", k);
        if (!known)
            return refuse(pb, field,
                          "not a check (ocr, mrz, document_authenticity, face_match, liveness, "
                          "age, address, custom_webhook)");
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > PRICE_MAX)
            return refuse(pb, field, "whole units from 0 to 1000000");
        rows[i++] = (nova_idv_price_row_t){.check_name = k,
                                           .units = json_integer_value(v),
                                           .updated_at = now,
                                           .updated_by = by && by->id ? by->id : "system"};
    }
    nova_audit_entry_t e;
    json_t *attrs = json_pack("{s:O}", "prices", prices);
    nova_status st = nova_audit_entry_make(&e, a, by, tenant_id, "idv.prices.update", "prices",
                                           tenant_id, attrs);
    if (st == NOVA_OK)
        st = nova_store_idv_prices_put(s, tenant_id, rows, n, &e);
    if (st == NOVA_OK)
        st = nova_idv_prices_json(s, a, tenant_id, out);
    return st;
}
