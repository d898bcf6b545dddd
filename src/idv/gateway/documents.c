/* documents.c: the document numbers the gateway has seen (issue 9 item 4: "a document number
 * already verified for another applicant of the tenant"), kept only as keyed digests.
 *
 * Each tenant has an index key: 32 random bytes made on first use and stored sealed with the
 * tenant's data key (idv_index_keys, context idv.index_key; its creation audited). A document
 * is HMAC-SHA-256("doc|<issuing state>|<document code>|<number>") under that key, an applicant
 * HMAC-SHA-256("ref|<reference>") (the tenant's own id for its customer) or, without a
 * reference, HMAC-SHA-256("claim|<name>|<date of birth>") of the claimed data (case folded,
 * spaces collapsed). Only a number its check digit proves is used: an unproved read could
 * match another person's document by accident. Neither value is kept in clear, logged or
 * audited; the digests differ between tenants. */
#include <ctype.h>
#include <openssl/crypto.h>
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/crypto.h"
#include "nova/datakey.h"
#include "nova/idv_store.h"

static const nova_audit_actor_t key_actor = {.id = "system"};

static const char *region_of(const nova_idv_t *g)
{
    return g->region && *g->region ? g->region : "default";
}

static nova_status key_make(nova_idv_t *g, nova_store_t *s, nova_arena_t *a, const char *tenant)
{
    uint8_t raw[32];
    nova_status st = nova_random_bytes(raw, sizeof(raw));
    nova_sealed_t v;
    nova_buf_t blob;
    nova_buf_init(&blob);
    if (st == NOVA_OK)
        st = nova_field_seal(g->cfg.auth, s, a, tenant, region_of(g), IDV_CTX_INDEX_KEY, raw,
                             sizeof(raw), &v);
    OPENSSL_cleanse(raw, sizeof(raw));
    if (st == NOVA_OK)
        st = nova_sealed_encode(&v, &blob);
    nova_audit_entry_t e;
    if (st == NOVA_OK)
        st = nova_audit_entry_make(&e, a, &key_actor, tenant, "idv_index_key.create",
                                   "idv_index_key", tenant,
                                   json_pack("{s:s}", "region", region_of(g)));
    if (st == NOVA_OK)
        st = nova_store_idv_index_key_put(s, tenant, region_of(g), (const uint8_t *)blob.data,
                                          blob.len, nova_time_now(), &e);
    nova_buf_free(&blob);
    return st == NOVA_CONFLICT ? NOVA_OK : st; /* another process made it: read that one */
}

/* The tenant's index key into key (made on first use). */
static nova_status index_key(nova_idv_t *g, nova_store_t *s, const char *tenant, uint8_t key[32])
{
    nova_arena_t a;
    nova_arena_init(&a, 1024);
    const char *region = NULL;
    const uint8_t *sealed = NULL;
    size_t len = 0;
    nova_status st = nova_store_idv_index_key_get(s, &a, tenant, &region, &sealed, &len);
    if (st == NOVA_NOT_FOUND && (st = key_make(g, s, &a, tenant)) == NOVA_OK)
        st = nova_store_idv_index_key_get(s, &a, tenant, &region, &sealed, &len);
    nova_sealed_t v;
    nova_plain_t *plain = NULL;
    if (st == NOVA_OK)
        st = nova_sealed_decode(sealed, len, &v);
    if (st == NOVA_OK)
        st = nova_field_open(g->cfg.auth, s, tenant, region, IDV_CTX_INDEX_KEY, &v, &plain);
    if (st == NOVA_OK) {
        size_t n = 0;
        const uint8_t *b = nova_plain_bytes(plain, &n);
        if (n == 32)
            memcpy(key, b, 32);
        else
            st = NOVA_INTERNAL;
    }
    nova_plain_free(plain);
    nova_arena_free(&a);
    return st;
}

/* Appends s to out (from *len), case folded, runs of space collapsed, '<' fillers dropped;
 * false when it does not fit. */
static bool fold(const char *s, char *out, size_t cap, size_t *len)
{
    bool space = false;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '<')
            continue;
        if (isspace(c)) {
            space = *len > 0;
            continue;
        }
        if (space) {
            if (*len + 1 >= cap)
                return false;
            out[(*len)++] = ' ';
            space = false;
        }
        if (*len + 1 >= cap)
            return false;
        out[(*len)++] = (char)toupper(c);
    }
    out[*len] = '\0';
    return true;
}

static bool digest(const uint8_t key[32], const char *const *parts, size_t nparts, char out[65])
{
    char text[512];
    size_t len = 0;
    text[0] = '\0';
    for (size_t i = 0; i < nparts; i++) {
        if (i > 0) {
            if (len + 1 >= sizeof(text))
                return false;
            text[len++] = '|';
            text[len] = '\0';
        }
        if (!fold(parts[i], text, sizeof(text), &len))
            return false;
    }
    uint8_t mac[32];
    nova_hmac_sha256(key, 32, text, len, mac);
    nova_hex_encode(mac, sizeof(mac), out);
    OPENSSL_cleanse(text, sizeof(text));
    return true;
}

nova_status idv_document_digests(nova_idv_t *g, nova_store_t *s, const char *tenant, json_t *mrz,
                                 const char *reference, json_t *applicant, char number[65],
                                 char who[65])
{
    json_t *fields = json_object_get(mrz, "fields");
    const char *num = json_string_value(json_object_get(fields, "document_number"));
    const char *state = json_string_value(json_object_get(fields, "issuer"));
    const char *code = json_string_value(json_object_get(fields, "document_code"));
    const char *check =
        json_string_value(json_object_get(json_object_get(mrz, "checks"), "document_number"));
    if (!num || !*num || !state || !check ||
        (strcmp(check, "ok") != 0 && strcmp(check, "repaired") != 0))
        return NOVA_NOT_FOUND; /* no number a check digit proves (as read or repaired) */
    const char *name = json_string_value(json_object_get(applicant, "name"));
    const char *dob = json_string_value(json_object_get(applicant, "date_of_birth"));
    bool by_ref = reference && *reference;
    if (!by_ref && (!name || !*name || !dob || !*dob))
        return NOVA_NOT_FOUND; /* nothing says who the applicant is */
    uint8_t key[32];
    nova_status st = index_key(g, s, tenant, key);
    if (st != NOVA_OK)
        return st;
    /* The document code's first letter: P, I, A, C or V (its second is the issuer's choice). */
    char kind[2] = {code && *code ? code[0] : '?', '\0'};
    const char *doc[] = {"doc", state, kind, num};
    const char *ref[] = {"ref", reference};
    const char *claim[] = {"claim", name, dob};
    bool ok = digest(key, doc, 4, number) &&
              (by_ref ? digest(key, ref, 2, who) : digest(key, claim, 3, who));
    OPENSSL_cleanse(key, sizeof(key));
    return ok ? NOVA_OK : NOVA_INVALID;
}
