/*
 * amount.c: currencies (ISO 4217 codes with their exponents, one sorted table) and Amounts in
 * integer minor units: parsing the wire's decimal strings and writing them back. Digits are
 * accumulated as integers with the bound checked before each step, so no input overflows.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "nova/ledger.h"

/* ISO 4217 (list one, 2024), the currencies Nova's markets and their partners use. Sorted by
 * code for bsearch; ledger_test checks the order. */
static const nova_currency_t currencies[] = {
    {"AED", 2}, {"AOA", 2}, {"AUD", 2}, {"BHD", 3}, {"BIF", 0}, {"BWP", 2}, {"CAD", 2}, {"CDF", 2},
    {"CHF", 2}, {"CLF", 4}, {"CNY", 2}, {"CVE", 2}, {"DJF", 0}, {"DZD", 2}, {"EGP", 2}, {"ERN", 2},
    {"ETB", 2}, {"EUR", 2}, {"GBP", 2}, {"GHS", 2}, {"GMD", 2}, {"GNF", 0}, {"INR", 2}, {"IQD", 3},
    {"JOD", 3}, {"JPY", 0}, {"KES", 2}, {"KMF", 0}, {"KRW", 0}, {"KWD", 3}, {"LRD", 2}, {"LSL", 2},
    {"LYD", 3}, {"MAD", 2}, {"MGA", 2}, {"MRU", 2}, {"MUR", 2}, {"MWK", 2}, {"MZN", 2}, {"NAD", 2},
    {"NGN", 2}, {"OMR", 3}, {"RWF", 0}, {"SAR", 2}, {"SCR", 2}, {"SDG", 2}, {"SLE", 2}, {"SOS", 2},
    {"SSP", 2}, {"STN", 2}, {"SZL", 2}, {"TND", 3}, {"TZS", 2}, {"UGX", 0}, {"USD", 2}, {"XAF", 0},
    {"XOF", 0}, {"ZAR", 2}, {"ZMW", 2}, {"ZWG", 2},
};

static int cmp_code(const void *key, const void *elem)
{
    return strcmp(key, ((const nova_currency_t *)elem)->code);
}

const nova_currency_t *nova_ledger_currency(const char *code)
{
    if (code == NULL || strlen(code) != 3)
        return NULL;
    return bsearch(code, currencies, sizeof(currencies) / sizeof(currencies[0]),
                   sizeof(currencies[0]), cmp_code);
}

nova_status nova_ledger_amount_parse(const char *currency, const char *value, bool allow_zero,
                                     int64_t *minor, bool *bad_currency, const char **why)
{
    *minor = 0;
    *bad_currency = false;
    const nova_currency_t *c = nova_ledger_currency(currency);
    if (c == NULL) {
        *bad_currency = true;
        *why = "not an ISO 4217 currency code Nova knows (upper case, e.g. \"KES\")";
        return NOVA_INVALID;
    }
    if (value == NULL || value[0] == '\0') {
        *why = "a decimal string such as \"1500.00\"";
        return NOVA_INVALID;
    }
    const char *p = value;
    if (*p == '-' || *p == '+') {
        *why = "an amount carries no sign";
        return NOVA_INVALID;
    }
    if (p[0] == '0' && p[1] >= '0' && p[1] <= '9') {
        *why = "no leading zeros";
        return NOVA_INVALID;
    }
    int64_t v = 0;
    size_t int_digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, int_digits++) {
        if (v > (NOVA_LEDGER_AMOUNT_MAX - (*p - '0')) / 10) {
            *why = "too large: at most 10^15 minor units";
            return NOVA_INVALID;
        }
        v = v * 10 + (*p - '0');
    }
    if (int_digits == 0) {
        *why = "a decimal string such as \"1500.00\" (digits before the point)";
        return NOVA_INVALID;
    }
    int frac = 0;
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++, frac++) {
            if (frac >= c->exponent) {
                *why = c->exponent == 0 ? "this currency has no minor unit: no decimal point"
                                        : "more decimal places than the currency's exponent";
                return NOVA_INVALID;
            }
            if (v > (NOVA_LEDGER_AMOUNT_MAX - (*p - '0')) / 10) {
                *why = "too large: at most 10^15 minor units";
                return NOVA_INVALID;
            }
            v = v * 10 + (*p - '0');
        }
        if (frac == 0) {
            *why = c->exponent == 0 ? "this currency has no minor unit: no decimal point"
                                    : "digits after the decimal point";
            return NOVA_INVALID;
        }
    }
    if (*p != '\0') {
        *why = "a decimal string of digits and at most one point";
        return NOVA_INVALID;
    }
    for (; frac < c->exponent; frac++) {
        if (v > NOVA_LEDGER_AMOUNT_MAX / 10) {
            *why = "too large: at most 10^15 minor units";
            return NOVA_INVALID;
        }
        v *= 10;
    }
    if (v == 0 && !allow_zero) {
        *why = "must be greater than zero";
        return NOVA_INVALID;
    }
    *minor = v;
    return NOVA_OK;
}

nova_status nova_ledger_amount_format(const char *currency, int64_t minor, char *out, size_t n)
{
    const nova_currency_t *c = nova_ledger_currency(currency);
    if (c == NULL)
        return NOVA_INVALID;
    /* Digits of |minor| from the right, in unsigned arithmetic (INT64_MIN has no positive). */
    uint64_t u = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    char tmp[32];
    size_t k = 0;
    do {
        tmp[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (k <= (size_t)c->exponent)
        tmp[k++] = '0';
    size_t need = (minor < 0) + k + (c->exponent > 0) + 1;
    if (need > n)
        return NOVA_TOO_LARGE;
    size_t o = 0;
    if (minor < 0)
        out[o++] = '-';
    while (k > 0) {
        if (k == (size_t)c->exponent && c->exponent > 0)
            out[o++] = '.';
        out[o++] = tmp[--k];
    }
    out[o] = '\0';
    return NOVA_OK;
}

nova_status nova_ledger_amount_json(json_t *amount, bool allow_zero, char currency[4],
                                    int64_t *minor, const char **member, const char **why)
{
    currency[0] = '\0';
    *minor = 0;
    *member = "";
    if (!json_is_object(amount)) {
        *why = "an Amount object {\"currency\": \"KES\", \"value\": \"1500.00\"}";
        return NOVA_INVALID;
    }
    const char *key;
    json_t *v;
    json_object_foreach(amount, key, v)
    {
        if (strcmp(key, "currency") != 0 && strcmp(key, "value") != 0) {
            *why = "an Amount has only \"currency\" and \"value\"";
            return NOVA_INVALID;
        }
    }
    json_t *cur = json_object_get(amount, "currency"), *val = json_object_get(amount, "value");
    if (!json_is_string(cur)) {
        *member = "/currency";
        *why = "a three-letter ISO 4217 code";
        return NOVA_INVALID;
    }
    if (!json_is_string(val)) {
        *member = "/value";
        *why = "a decimal string such as \"1500.00\" (never a JSON number)";
        return NOVA_INVALID;
    }
    bool bad_currency;
    const char *code = json_string_value(cur);
    if (nova_ledger_amount_parse(code, json_string_value(val), allow_zero, minor, &bad_currency,
                                 why) != NOVA_OK) {
        *member = bad_currency ? "/currency" : "/value";
        return NOVA_INVALID;
    }
    memcpy(currency, code, 4);
    return NOVA_OK;
}

json_t *nova_ledger_amount_new(const char *currency, int64_t minor)
{
    char buf[32];
    if (nova_ledger_amount_format(currency, minor, buf, sizeof(buf)) != NOVA_OK)
        return NULL;
    return json_pack("{s:s,s:s}", "currency", currency, "value", buf);
}

bool nova_ledger_id_valid(const char *id)
{
    if (id == NULL)
        return false;
    size_t n = strlen(id);
    if (n == 0 || n > NOVA_LEDGER_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.' || ch == ':';
        if (!ok)
            return false;
    }
    return true;
}
