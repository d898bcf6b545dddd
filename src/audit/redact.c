/*
 * redact.c: the one set of redaction rules (seed 003 §8.2) and the canonical form of an
 * entry's attributes. A value is dropped for its name (a member called "client_secret" is a
 * secret whatever it holds) or for its shape (a compact JWS, a PEM block, a long random
 * string, a card number), so a secret under an innocent name is caught too.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nova/audit.h"

#define REDACTED "[redacted]"

/* Names containing one of these (ASCII case folded) are secrets. */
static const char *const secret_parts[] = {
    "secret",     "password",  "passwd",  "passphrase", "token",    "authorization", "cookie",
    "credential", "assertion", "private", "signature",  "mnemonic", "seed",          NULL,
};
/* Names with one of these as a whole word ("card_number", "pin") are card or PIN data. */
static const char *const secret_words[] = {
    "pin", "pan", "cvv", "cvc", "cvv2", "otp", "card", "iban", "ssn", "nin", "bvn", NULL,
};

static bool in_list(const char *w, size_t n, const char *const *list)
{
    for (const char *const *p = list; *p; p++)
        if (strlen(*p) == n && memcmp(*p, w, n) == 0)
            return true;
    return false;
}

bool nova_redact_name(const char *name)
{
    char low[128];
    size_t n = name ? strlen(name) : 0;
    if (n == 0)
        return false;
    if (n >= sizeof(low))
        return true; /* nobody names an attribute like that: refuse to guess */
    /* camelCase to snake_case words: "apiKey" -> "api_key". */
    size_t o = 0;
    for (size_t i = 0; i < n && o + 2 < sizeof(low); i++) {
        unsigned char c = (unsigned char)name[i];
        if (isupper(c) && i > 0 && islower((unsigned char)name[i - 1]))
            low[o++] = '_';
        low[o++] = (char)tolower(c);
    }
    low[o] = '\0';
    for (const char *const *p = secret_parts; *p; p++)
        if (strstr(low, *p))
            return true;
    const char *last = NULL;
    size_t last_len = 0;
    for (const char *p = low; *p;) {
        size_t l = strcspn(p, "_-. ");
        if (l && in_list(p, l, secret_words))
            return true;
        if (l) {
            last = p;
            last_len = l;
        }
        p += l;
        while (*p && strchr("_-. ", *p))
            p++;
    }
    /* "api_key", "key", "hmac_key", but not "key_id". */
    return last != NULL && last_len == 3 && memcmp(last, "key", 3) == 0;
}

static bool b64url_char(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_';
}

/* 13-19 digits (spaces and dashes between them allowed) that pass the Luhn check. */
static bool card_number_at(const char *s, size_t n, size_t *used)
{
    int digits[19], nd = 0;
    size_t i = 0;
    for (; i < n; i++) {
        if (isdigit((unsigned char)s[i])) {
            if (nd == 19)
                return false;
            digits[nd++] = s[i] - '0';
        } else if ((s[i] == ' ' || s[i] == '-') && nd > 0 && i + 1 < n &&
                   isdigit((unsigned char)s[i + 1])) {
            continue;
        } else {
            break;
        }
    }
    *used = i ? i : 1;
    if (nd < 13)
        return false;
    int sum = 0;
    for (int k = 0; k < nd; k++) {
        int d = digits[nd - 1 - k];
        if (k % 2 == 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

bool nova_redact_value(const char *v, size_t n)
{
    if (v == NULL || n == 0)
        return false;
    if (memmem(v, n, "-----BEGIN", 10) != NULL)
        return true;
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)v[i];
        if (isdigit(c) && (i == 0 || !isalnum((unsigned char)v[i - 1]))) {
            size_t used = 0;
            if (card_number_at(v + i, n - i, &used))
                return true;
        }
        if (!b64url_char(c) && c != '.') {
            i++;
            continue;
        }
        /* A word of base64url characters and dots. */
        size_t start = i, dots = 0, run = 0, longest = 0;
        while (i < n && (b64url_char((unsigned char)v[i]) || v[i] == '.')) {
            if (v[i] == '.') {
                dots++;
                run = 0;
            } else if (++run > longest) {
                longest = run;
            }
            i++;
        }
        size_t len = i - start;
        /* A compact JWS or JWE: "eyJ" (base64url of '{"') then two or four dots. */
        if (len >= 3 && memcmp(v + start, "eyJ", 3) == 0 && (dots == 2 || dots == 4))
            return true;
        /* 32+ random bytes in base64url (client secrets, refresh tokens, API key secrets) or
         * hex: ids are a short prefix and 22 characters, digests are not attributes. */
        if (longest >= 40)
            return true;
    }
    return false;
}

static void redact_in(json_t *v, int depth)
{
    const char *key;
    json_t *child;
    size_t i;
    if (depth > 32)
        return;
    if (json_is_object(v)) {
        void *tmp;
        json_object_foreach_safe(v, tmp, key, child)
        {
            if (nova_redact_name(key) ||
                (json_is_string(child) &&
                 nova_redact_value(json_string_value(child), json_string_length(child))))
                json_object_set_new(v, key, json_string(REDACTED));
            else
                redact_in(child, depth + 1);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child)
        {
            if (json_is_string(child) &&
                nova_redact_value(json_string_value(child), json_string_length(child)))
                json_array_set_new(v, i, json_string(REDACTED));
            else
                redact_in(child, depth + 1);
        }
    }
}

void nova_redact_json(json_t *obj)
{
    redact_in(obj, 0);
}

nova_status nova_audit_attrs(nova_arena_t *ar, json_t *obj, const char **out)
{
    *out = NULL;
    if (obj == NULL) {
        *out = "{}";
        return NOVA_OK;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        return NOVA_INVALID;
    }
    nova_redact_json(obj);
    /* Sorted keys, no whitespace, \uXXXX for everything outside ASCII: one text per value. */
    char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(obj);
    if (text == NULL)
        return NOVA_NOMEM;
    *out = nova_arena_strdup(ar, text);
    free(text);
    return *out ? NOVA_OK : NOVA_NOMEM;
}
