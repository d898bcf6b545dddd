/* clients.c: API clients (OAuth 2.0 confidential clients, RFC 6749 §2.3.1). Secrets are 256
 * random bits shown once; the store keeps HMAC-SHA-256(pepper, secret). A high-entropy secret
 * cannot be guessed offline, so a slow hash would only cap the token endpoint's throughput. */
#include <string.h>

#include <jansson.h>

#include "internal.h"

bool nova_auth_scopes_known(const char *scopes)
{
    const char *p = scopes;
    size_t words = 0;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t l = strcspn(p, " ");
        if (l == 0)
            break;
        bool ok = false;
        for (const char *const *k = nova_auth_scopes; *k; k++)
            if (strlen(*k) == l && memcmp(*k, p, l) == 0)
                ok = true;
        if (!ok)
            return false;
        words++;
        p += l;
    }
    return words > 0;
}

static bool audiences_valid(const char *aud)
{
    size_t n = strlen(aud);
    if (n == 0 || n > 512)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)aud[i] < 0x20 || aud[i] == '"' || aud[i] == '\\' || aud[i] == 0x7f)
            return false;
    return true;
}

nova_status nova_auth_client_create(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const char *name, const char *scopes, const char *audiences,
                                    nova_client_t *out, const char **secret)
{
    size_t nl = name ? strlen(name) : 0;
    if (nl == 0 || nl > 128 || scopes == NULL || strlen(scopes) > 1024 ||
        !nova_auth_scopes_known(scopes))
        return NOVA_INVALID;
    for (size_t i = 0; i < nl; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return NOVA_INVALID;
    if (audiences == NULL)
        audiences = a->audience;
    if (!audiences_valid(audiences))
        return NOVA_INVALID;

    char id[64];
    uint8_t raw[32];
    char *sec = nova_arena_alloc(ar, 48);
    char *digest = nova_arena_alloc(ar, 65);
    if (sec == NULL || digest == NULL)
        return NOVA_NOMEM;
    nova_status st = nova_id_new("cli", id, sizeof(id));
    if (st == NOVA_OK)
        st = nova_random_bytes(raw, sizeof(raw));
    if (st)
        return st;
    nova_b64url_encode(raw, sizeof(raw), sec);
    nova_secret_digest(a->pepper, sec, strlen(sec), digest);

    memset(out, 0, sizeof(*out));
    out->id = nova_arena_strdup(ar, id);
    out->tenant_id = nova_arena_strdup(ar, tenant_id);
    out->name = nova_arena_strdup(ar, name);
    out->secret_digest = digest;
    out->scopes = nova_arena_strdup(ar, scopes);
    out->audiences = nova_arena_strdup(ar, audiences);
    out->created_at = nova_time_now();
    if (!out->id || !out->tenant_id || !out->name || !out->scopes || !out->audiences)
        return NOVA_NOMEM;
    nova_audit_entry_t ae;
    st = nova_audit_entry_make(
        &ae, ar, by, tenant_id, "client.create", "client", out->id,
        json_pack("{s:s, s:s, s:s}", "name", name, "scopes", scopes, "audiences", audiences));
    if (st == NOVA_OK)
        st = nova_store_client_create(s, out, &ae);
    if (st == NOVA_OK)
        *secret = sec;
    return st;
}

/* What an unknown client's secret is compared with. 64 hex digits like a real digest, so the
 * compare costs the same; all zeros, so no secret matches it short of an HMAC preimage. */
static const char unknown_client_digest[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

nova_status nova_auth_client_authenticate(nova_auth_t *a, nova_store_t *s, nova_arena_t *ar,
                                          const char *client_id, const char *secret,
                                          nova_client_t *out)
{
    if (client_id == NULL || secret == NULL || strlen(client_id) > 64 || strlen(secret) > 256)
        return NOVA_UNAUTHORIZED;
    nova_status st = nova_store_client_get(s, ar, client_id, out);
    if (st != NOVA_OK && st != NOVA_NOT_FOUND && st != NOVA_INVALID)
        return st;
    /* An unknown client_id costs the same HMAC and constant-time compare as a known one with
     * a wrong secret, so the time of the answer does not tell which client ids exist. */
    bool known = st == NOVA_OK;
    bool ok = nova_secret_verify(a->pepper, secret, strlen(secret),
                                 known ? out->secret_digest : unknown_client_digest);
    if (!known || !ok || out->revoked_at != 0)
        return NOVA_UNAUTHORIZED;
    return NOVA_OK;
}

nova_status nova_auth_client_revoke(nova_auth_t *a, nova_store_t *s, const nova_audit_actor_t *by,
                                    const char *tenant_id, const char *client_id)
{
    (void)a;
    nova_arena_t ar;
    nova_audit_entry_t ae;
    nova_arena_init(&ar, 512);
    /* Cached verifications of this client's tokens are not dropped here: verification asks
     * the store whether the client is live on every request, so they stop working at once. */
    nova_status st = client_id ? nova_audit_entry_make(&ae, &ar, by, tenant_id, "client.revoke",
                                                       "client", client_id, NULL)
                               : NOVA_INVALID;
    if (st == NOVA_OK)
        st = nova_store_client_revoke(s, tenant_id, client_id, nova_time_now(), &ae);
    nova_arena_free(&ar);
    return st;
}
