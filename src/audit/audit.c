/*
 * audit.c: the audit domain over the store: verifying a tenant's chain and exporting it with
 * a signed manifest.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "nova/audit.h"
#include "nova/audit_store.h"
#include "nova/crypto.h"

#define PAGE 500

nova_status nova_audit_verify_tenant(nova_store_t *s, const char *tenant_id,
                                     nova_audit_verifier_t *v)
{
    nova_arena_t ar;
    int64_t count = 0, rows = 0;
    const char *last = NULL;
    nova_arena_init(&ar, 64 * 1024);
    nova_status st = nova_store_audit_head(s, &ar, tenant_id, &count, &last);
    if (st == NOVA_NOT_FOUND) {
        st = NOVA_OK;
        last = NULL;
    }
    if (st == NOVA_OK)
        st = nova_store_audit_rows(s, tenant_id, &rows);
    if (st != NOVA_OK)
        goto end;
    nova_audit_verify_init(v, count, last, rows);
    nova_audit_query_t q = {.tenant_id = tenant_id, .limit = PAGE};
    for (;;) {
        nova_audit_record_t *page;
        size_t n = 0;
        nova_arena_reset(&ar);
        st = nova_store_audit_list(s, &ar, &q, &page, &n);
        if (st != NOVA_OK)
            goto end;
        for (size_t i = 0; i < n; i++)
            if (!nova_audit_verify_next(v, &page[i]))
                goto end;
        if (n < q.limit)
            break;
        q.after_seq = page[n - 1].seq;
    }
    nova_audit_verify_end(v);
end:
    nova_arena_free(&ar);
    return st;
}

/* The export-signing key, derived from the master key. Caller frees with EVP_PKEY_free. */
static EVP_PKEY *signing_key(const uint8_t master_key[32])
{
    uint8_t seed[32];
    if (nova_hkdf_sha256(master_key, 32, "nova audit export signing v1", seed, sizeof(seed)))
        return NULL;
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
    OPENSSL_cleanse(seed, sizeof(seed));
    return k;
}

nova_status nova_audit_export_public_pem(const uint8_t master_key[32], nova_buf_t *pem)
{
    EVP_PKEY *k = signing_key(master_key);
    BIO *bio = BIO_new(BIO_s_mem());
    nova_status st = NOVA_INTERNAL;
    char *p;
    if (k && bio && PEM_write_bio_PUBKEY(bio, k) == 1) {
        long n = BIO_get_mem_data(bio, &p);
        st = n > 0 ? nova_buf_append(pem, p, (size_t)n) : NOVA_INTERNAL;
    }
    BIO_free(bio);
    EVP_PKEY_free(k);
    return st;
}

static nova_status sign(const uint8_t master_key[32], const void *msg, size_t n, uint8_t sig[64])
{
    EVP_PKEY *k = signing_key(master_key);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t sl = 64;
    nova_status st = NOVA_INTERNAL;
    if (k && ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
        EVP_DigestSign(ctx, sig, &sl, msg, n) == 1 && sl == 64)
        st = NOVA_OK;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    return st;
}

nova_status nova_audit_platform_sign(const uint8_t master_key[32], const void *msg, size_t n,
                                     uint8_t sig[64])
{
    return sign(master_key, msg, n, sig);
}

nova_status nova_audit_platform_verify(const uint8_t master_key[32], const void *msg, size_t n,
                                       const uint8_t sig[64])
{
    EVP_PKEY *k = signing_key(master_key);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    nova_status st = k && ctx ? NOVA_UNAUTHORIZED : NOVA_INTERNAL;
    if (k && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1 &&
        EVP_DigestVerify(ctx, sig, 64, msg, n) == 1)
        st = NOVA_OK;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    return st;
}

static json_t *record_json(const nova_audit_record_t *r)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", r->id,
                     "tenant_id", r->tenant_id, "seq", (json_int_t)r->seq, "ts", (json_int_t)r->ts,
                     "actor", r->actor, "action", r->action, "target", r->target, "decision",
                     r->decision, "attrs", r->attrs, "prev_hash", r->prev_hash, "row_hash",
                     r->row_hash);
}

nova_status nova_audit_export(nova_store_t *s, const uint8_t master_key[32], const char *tenant_id,
                              int64_t from_ts, int64_t to_ts, const char *file_name, FILE *jsonl,
                              nova_buf_t *manifest, uint8_t sig[64])
{
    nova_arena_t ar, keep;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int64_t count = 0, head_count = 0, first_seq = 0, last_seq = 0;
    const char *head_hash = NULL, *first_prev = NULL, *first_hash = NULL, *last_hash = NULL;
    nova_status st = NOVA_INTERNAL;
    json_t *m = NULL;
    char *text = NULL;

    nova_arena_init(&ar, 64 * 1024);
    nova_arena_init(&keep, 1024);
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        goto end;
    /* The head first: entries appended after it are not in the export, so the manifest's
     * head never claims less than the file holds. */
    st = nova_store_audit_head(s, &keep, tenant_id, &head_count, &head_hash);
    if (st != NOVA_OK)
        goto end;
    nova_audit_query_t q = {
        .tenant_id = tenant_id, .from_ts = from_ts, .to_ts = to_ts, .limit = PAGE};
    for (;;) {
        nova_audit_record_t *page;
        size_t n = 0;
        nova_arena_reset(&ar);
        st = nova_store_audit_list(s, &ar, &q, &page, &n);
        if (st != NOVA_OK)
            goto end;
        for (size_t i = 0; i < n && page[i].seq <= head_count; i++) {
            json_t *o = record_json(&page[i]);
            char *line = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
            json_decref(o);
            if (line == NULL) {
                st = NOVA_NOMEM;
                goto end;
            }
            size_t ll = strlen(line);
            line[ll++] = '\n'; /* over the NUL: json_dumps' buffer holds ll + 1 bytes */
            bool ok = fwrite(line, 1, ll, jsonl) == ll && EVP_DigestUpdate(md, line, ll) == 1;
            free(line);
            if (!ok) {
                st = NOVA_UNAVAILABLE;
                goto end;
            }
            if (count++ == 0) {
                first_seq = page[i].seq;
                first_prev = nova_arena_strdup(&keep, page[i].prev_hash);
                first_hash = nova_arena_strdup(&keep, page[i].row_hash);
            }
            last_seq = page[i].seq;
            last_hash = nova_arena_strdup(&keep, page[i].row_hash);
        }
        if (n < q.limit)
            break;
        q.after_seq = page[n - 1].seq;
    }
    if (fflush(jsonl) != 0) {
        st = NOVA_UNAVAILABLE;
        goto end;
    }
    uint8_t d[32];
    unsigned dl = 0;
    char hex[65];
    if (EVP_DigestFinal_ex(md, d, &dl) != 1) {
        st = NOVA_INTERNAL;
        goto end;
    }
    nova_hex_encode(d, sizeof(d), hex);
    m = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:I, s:s, s:s, s:I}",
                  "format", "nova-audit-export-v1", "tenant_id", tenant_id, "file", file_name,
                  "from_ts", (json_int_t)from_ts, "to_ts", (json_int_t)to_ts, "count",
                  (json_int_t)count, "first_seq", (json_int_t)first_seq, "first_prev_hash",
                  first_prev ? json_string(first_prev) : json_null(), "first_hash",
                  first_hash ? json_string(first_hash) : json_null(), "last_hash",
                  last_hash ? json_string(last_hash) : json_null(), "last_seq",
                  (json_int_t)last_seq, "file_sha256", hex, "head_hash", head_hash, "head_count",
                  (json_int_t)head_count);
    text = m ? json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII) : NULL;
    if (text == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    st = nova_buf_printf(manifest, "%s\n", text);
    if (st == NOVA_OK)
        st = sign(master_key, manifest->data, manifest->len, sig);
end:
    free(text);
    json_decref(m);
    EVP_MD_CTX_free(md);
    nova_arena_free(&ar);
    nova_arena_free(&keep);
    return st;
}

nova_status nova_audit_parse_time(const char *text, int64_t *us)
{
    struct tm tm = {0};
    char *end = NULL;
    if (text == NULL || *text == '\0')
        return NOVA_INVALID;
    size_t n = strspn(text, "0123456789");
    if (n == strlen(text)) {
        if (n > 12)
            return NOVA_INVALID;
        long long v = strtoll(text, &end, 10);
        *us = (int64_t)v * 1000000;
        return NOVA_OK;
    }
    end = strptime(text, "%Y-%m-%d", &tm);
    if (end && *end == 'T')
        end = strptime(end, "T%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0')
        return NOVA_INVALID;
    time_t t = timegm(&tm);
    if (t < 0 || !nova_time_in_range((int64_t)t))
        return NOVA_INVALID;
    *us = (int64_t)t * 1000000;
    return NOVA_OK;
}
