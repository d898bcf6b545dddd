/* users.c: users of a tenant (issue 11 item 1) and their TOTP enrolment. Email and name are
 * sealed with the tenant's data key before they reach the store; the store finds a user by
 * the email's blind index. Audit entries name the user id and what changed, never a value
 * of personal data. */
#include <jansson.h>
#include <openssl/crypto.h>
#include <string.h>

#include "internal.h"

#define ROLES_MAX 16
#define ROLE_LEN 64

static bool email_valid(const char *e)
{
    size_t n = e ? strlen(e) : 0;
    const char *at = e ? strchr(e, '@') : NULL;
    if (n < 3 || n > 254 || at == NULL || at == e || at[1] == '\0' || strchr(at + 1, '@'))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)e[i];
        if (c <= 0x20 || c == 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == ',')
            return false;
    }
    return nova_utf8_valid(e, n) && strchr(at + 1, '.') != NULL;
}

static bool name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200 || !nova_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static bool roles_valid(const char *r)
{
    size_t words = 0, len = 0;
    if (strlen(r) > ROLES_MAX * (ROLE_LEN + 1))
        return false;
    for (const char *p = r;; p++) {
        if (*p == ' ' || *p == '\0') {
            if (len == 0 && (*p == ' ' || words > 0))
                return false; /* empty word: leading, double or trailing space */
            if (len)
                words++;
            len = 0;
            if (*p == '\0')
                break;
            continue;
        }
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == ':' ||
              c == '.' || c == '-') ||
            ++len > ROLE_LEN)
            return false;
    }
    return words <= ROLES_MAX;
}

static bool status_valid(const char *s)
{
    return strcmp(s, "active") == 0 || strcmp(s, "suspended") == 0;
}

static nova_status view_of(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                           const nova_user_t *u, nova_user_view_t *v)
{
    char *email = NULL, *name = NULL;
    nova_status st = people_open(p, s, ar, u->tenant_id, u->pii_region, "user.email",
                                 u->email_sealed, u->email_sealed_len, &email, NULL);
    if (st == NOVA_OK && u->name_sealed)
        st = people_open(p, s, ar, u->tenant_id, u->pii_region, "user.name", u->name_sealed,
                         u->name_sealed_len, &name, NULL);
    if (st)
        return st;
    *v = (nova_user_view_t){.id = u->id,
                            .tenant_id = u->tenant_id,
                            .email = email,
                            .name = name,
                            .status = u->status,
                            .roles = u->roles,
                            .has_password = u->password_hash && *u->password_hash,
                            .totp_state = u->totp_state,
                            .created_at = u->created_at,
                            .updated_at = u->updated_at};
    return NOVA_OK;
}

/* The local part of an email, for the password check's "contains the account's name". */
static const char *local_part(nova_arena_t *ar, const char *email)
{
    const char *at = strchr(email, '@');
    return at ? nova_arena_strndup(ar, email, (size_t)(at - email)) : email;
}

nova_status nova_people_user_create(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const nova_user_spec_t *spec, nova_user_view_t *out,
                                    const char **why)
{
    char id[64], idx[65];
    char pwh[NOVA_PASSWORD_HASH_MAX] = "";
    const people_keys_t *k;
    *why = NULL;
    if (!email_valid(spec->email))
        *why = "email: an address like name@example.com (at most 254 bytes)";
    else if (spec->name && !name_valid(spec->name))
        *why = "name: 1 to 200 bytes of UTF-8 without control characters";
    else if (spec->roles && !roles_valid(spec->roles))
        *why = "roles: up to 16 names of [a-z0-9_:.-], at most 64 characters each";
    else if (spec->status && !status_valid(spec->status))
        *why = "status: active or suspended";
    else if (spec->password)
        (void)nova_password_check(spec->password, strlen(spec->password),
                                  local_part(ar, spec->email), why); /* sets *why when bad */
    if (*why)
        return NOVA_INVALID;
    nova_status st = people_keys_get(p, s, tenant_id, &k);
    if (st)
        return st;
    if ((st = nova_id_new("usr", id, sizeof(id))) != NOVA_OK)
        return st;
    people_email_index(k, spec->email, idx);
    if (spec->password &&
        (st = nova_password_hash(spec->password, strlen(spec->password), pwh)) != NOVA_OK)
        return st;
    int64_t now = nova_time_now();
    nova_user_t u = {.id = id,
                     .tenant_id = tenant_id,
                     .status = spec->status ? spec->status : "active",
                     .roles = spec->roles ? spec->roles : "",
                     .email_index = idx,
                     .pii_region = p->region,
                     .password_hash = pwh,
                     .totp_alg = "SHA1",
                     .totp_digits = 6,
                     .totp_state = "none",
                     .created_by = by->id,
                     .created_at = now,
                     .updated_at = now};
    st = people_seal(p, s, ar, tenant_id, "user.email", spec->email, strlen(spec->email),
                     &u.email_sealed, &u.email_sealed_len);
    if (st == NOVA_OK && spec->name)
        st = people_seal(p, s, ar, tenant_id, "user.name", spec->name, strlen(spec->name),
                         &u.name_sealed, &u.name_sealed_len);
    if (st)
        return st;
    nova_audit_entry_t ae;
    json_t *attrs = json_pack("{s:s, s:s, s:b}", "status", u.status, "roles", u.roles, "password",
                              spec->password != NULL);
    st = nova_audit_entry_make(&ae, ar, by, tenant_id, "user.create", "user", id, attrs);
    if (st == NOVA_OK)
        st = nova_store_user_create(s, &u, &ae);
    if (st)
        return st;
    nova_user_t stored;
    st = nova_store_user_get(s, ar, tenant_id, id, &stored);
    return st ? st : view_of(p, s, ar, &stored, out);
}

nova_status nova_people_user_get(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                 const char *tenant_id, const char *id, nova_user_view_t *out)
{
    nova_user_t u;
    nova_status st = nova_store_user_get(s, ar, tenant_id, id, &u);
    return st ? st : view_of(p, s, ar, &u, out);
}

nova_status nova_people_token_roles(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                    const nova_user_claims_t *c, const char **roles)
{
    (void)p;
    nova_user_t u;
    *roles = NULL;
    nova_status st = nova_store_user_get(s, ar, c->tenant_id, c->user_id, &u);
    if (st == NOVA_NOT_FOUND)
        return NOVA_UNAUTHORIZED;
    if (st)
        return st;
    if (strcmp(u.status, "active") != 0)
        return NOVA_UNAUTHORIZED;
    if (c->jit_role == NULL || nova_auth_scope_has(u.roles, c->jit_role))
        *roles = u.roles;
    else
        *roles = *u.roles ? nova_arena_printf(ar, "%s %s", u.roles, c->jit_role)
                          : nova_arena_strdup(ar, c->jit_role);
    return *roles ? NOVA_OK : NOVA_NOMEM;
}

nova_status nova_people_user_find_email(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                        const char *tenant_id, const char *email,
                                        nova_user_view_t *out)
{
    char idx[65];
    const people_keys_t *k;
    if (!email_valid(email))
        return NOVA_NOT_FOUND; /* no user can have it */
    nova_status st = people_keys_get(p, s, tenant_id, &k);
    if (st)
        return st;
    people_email_index(k, email, idx);
    nova_user_t u;
    st = nova_store_user_find_email(s, ar, tenant_id, idx, &u);
    return st ? st : view_of(p, s, ar, &u, out);
}

nova_status nova_people_user_list(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                  const char *tenant_id, const char *after, int64_t limit,
                                  nova_user_view_t **out, size_t *n)
{
    nova_user_t *rows;
    size_t m;
    *out = NULL;
    *n = 0;
    if (limit < 1 || limit > 200)
        return NOVA_INVALID;
    nova_status st = nova_store_user_list(s, ar, tenant_id, after, limit, &rows, &m);
    if (st)
        return st;
    nova_user_view_t *v = nova_arena_alloc(ar, (m ? m : 1) * sizeof(*v));
    if (v == NULL)
        return NOVA_NOMEM;
    for (size_t i = 0; i < m; i++)
        if ((st = view_of(p, s, ar, &rows[i], &v[i])) != NOVA_OK)
            return st;
    *out = v;
    *n = m;
    return NOVA_OK;
}

nova_status nova_people_user_update(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const char *id, const nova_user_spec_t *spec,
                                    nova_user_view_t *out, const char **why)
{
    nova_status st = people_user_update(p, s, ar, by, tenant_id, id, spec, out, why);
    /* Roles set by hand or by the IdP's User resource: the roles the user's groups give stay
     * (src/people/groups.c). */
    bool changed = false;
    if (st == NOVA_OK && spec->roles)
        st = people_group_roles_refresh(p, s, ar, by, tenant_id, id, &changed);
    if (st == NOVA_OK && changed)
        st = nova_people_user_get(p, s, ar, tenant_id, id, out);
    return st;
}

nova_status people_user_update(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                               const nova_audit_actor_t *by, const char *tenant_id, const char *id,
                               const nova_user_spec_t *spec, nova_user_view_t *out,
                               const char **why)
{
    nova_user_t u;
    *why = NULL;
    if (spec->name && !name_valid(spec->name))
        *why = "name: 1 to 200 bytes of UTF-8 without control characters";
    else if (spec->roles && !roles_valid(spec->roles))
        *why = "roles: up to 16 names of [a-z0-9_:.-], at most 64 characters each";
    else if (spec->status && !status_valid(spec->status))
        *why = "status: active or suspended";
    if (*why)
        return NOVA_INVALID;
    nova_status st = nova_store_user_get(s, ar, tenant_id, id, &u);
    if (st)
        return st;
    bool suspend = spec->status && strcmp(spec->status, "suspended") == 0 &&
                   strcmp(u.status, "suspended") != 0;
    json_t *changed = json_array();
    if (spec->name) {
        st = people_seal(p, s, ar, tenant_id, "user.name", spec->name, strlen(spec->name),
                         &u.name_sealed, &u.name_sealed_len);
        json_array_append_new(changed, json_string("name"));
    }
    if (spec->roles) {
        u.roles = spec->roles;
        json_array_append_new(changed, json_string("roles"));
    }
    if (spec->status) {
        u.status = spec->status;
        json_array_append_new(changed, json_string("status"));
    }
    u.updated_at = nova_time_now();
    nova_audit_entry_t ae;
    json_t *attrs =
        json_pack("{s:o, s:s, s:s}", "changed", changed, "status", u.status, "roles", u.roles);
    if (st == NOVA_OK)
        st = nova_audit_entry_make(&ae, ar, by, tenant_id, "user.update", "user", id, attrs);
    else
        json_decref(attrs);
    if (st == NOVA_OK)
        st = nova_store_user_update(s, &u, &ae);
    if (st == NOVA_OK && suspend) {
        size_t n = 0;
        st = nova_people_session_revoke_user(p, s, ar, by, tenant_id, id, "suspended", &n);
    }
    if (st)
        return st;
    return nova_people_user_get(p, s, ar, tenant_id, id, out);
}

/* The deletions of the user's group tuples (group:<g>#member@user:<id>, one plan per group
 * it is a member of), for the deletion's own transaction (arena array). */
static nova_status user_group_tuples(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const nova_audit_actor_t *by, const char *tenant_id,
                                     const char *id, nova_fga_batch_t **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (p->group_tuples == NULL)
        return NOVA_OK;
    nova_scim_member_t *m;
    size_t ng = 0, cap = 0;
    nova_status st = nova_store_scim_members(s, ar, tenant_id, NULL, id, &m, &ng);
    const char *const who[] = {id};
    for (size_t i = 0; st == NOVA_OK && i < ng; i++) {
        nova_fga_batch_t *b = NULL;
        size_t nb = 0;
        st = p->group_tuples(p->group_tuples_ud, s, ar, by, tenant_id, m[i].group_id, NULL, 0, who,
                             1, &b, &nb);
        if (st == NOVA_OK && *nout + nb > cap) {
            size_t ncap = (*nout + nb) * 2;
            nova_fga_batch_t *grown = nova_arena_alloc(ar, ncap * sizeof(*grown));
            if (grown == NULL)
                return NOVA_NOMEM;
            if (*nout)
                memcpy(grown, *out, *nout * sizeof(*grown));
            *out = grown;
            cap = ncap;
        }
        for (size_t k = 0; st == NOVA_OK && k < nb; k++)
            (*out)[(*nout)++] = b[k];
    }
    return st;
}

nova_status nova_people_user_delete(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const char *id)
{
    nova_audit_entry_t ae;
    const char **ids = NULL;
    size_t n = 0;
    nova_fga_batch_t *fga = NULL;
    size_t nfga = 0;
    nova_status st = nova_audit_entry_make(&ae, ar, by, tenant_id, "user.delete", "user", id, NULL);
    if (st == NOVA_OK)
        st = user_group_tuples(p, s, ar, by, tenant_id, id, &fga, &nfga);
    if (st == NOVA_OK)
        st =
            nova_store_user_delete(s, ar, tenant_id, id, nova_time_now(), fga, nfga, &ae, &ids, &n);
    if (st == NOVA_OK && nfga && p->group_tuples_synced)
        p->group_tuples_synced(p->group_tuples_ud, s, tenant_id, fga, nfga);
    for (size_t i = 0; st == NOVA_OK && i < n; i++) {
        char *key = nova_arena_printf(ar, "ps:%s:%s", tenant_id, ids[i]);
        if (key)
            (void)nova_kv_del(p->kv, key);
        people_count(PEOPLE_M_SES_REVOKED);
    }
    return st;
}

nova_status nova_people_password_set(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const nova_audit_actor_t *by, const char *tenant_id,
                                     const char *id, const char *password, const char **why)
{
    nova_user_view_t v;
    char h[NOVA_PASSWORD_HASH_MAX];
    nova_status st = nova_people_user_get(p, s, ar, tenant_id, id, &v);
    if (st)
        return st;
    if (password == NULL ||
        nova_password_check(password, strlen(password), local_part(ar, v.email), why) != NOVA_OK)
        return NOVA_INVALID;
    if ((st = nova_password_hash(password, strlen(password), h)) != NOVA_OK)
        return st;
    nova_audit_entry_t ae;
    st = nova_audit_entry_make(&ae, ar, by, tenant_id, "user.password_set", "user", id, NULL);
    return st ? st : nova_store_user_password_set(s, tenant_id, id, h, nova_time_now(), &ae);
}

/* ---- TOTP ---- */

nova_status people_totp_check(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                              const nova_user_t *u, const char *code, int64_t now, int64_t *step)
{
    nova_totp_alg alg;
    char *secret = NULL;
    size_t len = 0;
    if (u->totp_sealed == NULL || nova_totp_alg_parse(u->totp_alg, &alg) != NOVA_OK)
        return NOVA_UNAUTHORIZED;
    nova_status st = people_open(p, s, ar, u->tenant_id, u->pii_region, "user.totp_secret",
                                 u->totp_sealed, u->totp_sealed_len, &secret, &len);
    if (st)
        return st;
    st = nova_totp_verify(alg, (const uint8_t *)secret, len, (unsigned)u->totp_digits, code, now,
                          u->totp_last_step, step);
    OPENSSL_cleanse(secret, len);
    return st;
}

nova_status nova_people_totp_begin(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                   const nova_audit_actor_t *by, const char *tenant_id,
                                   const char *user_id, const char *alg_name,
                                   nova_totp_enrolment_t *out)
{
    nova_totp_alg alg = NOVA_TOTP_SHA1;
    nova_user_view_t v;
    /* A key as long as the hash's output, as RFC 6238's reference does (20, 32, 64 bytes):
     * apps that stretch shorter keys to that length (otplib) then compute the same codes. */
    static const size_t key_len[] = {
        [NOVA_TOTP_SHA1] = 20, [NOVA_TOTP_SHA256] = 32, [NOVA_TOTP_SHA512] = 64};
    uint8_t raw[64];
    if (alg_name && nova_totp_alg_parse(alg_name, &alg) != NOVA_OK)
        return NOVA_INVALID;
    nova_status st = nova_people_user_get(p, s, ar, tenant_id, user_id, &v);
    if (st)
        return st;
    if (strcmp(v.totp_state, "active") == 0)
        return NOVA_CONFLICT;
    size_t klen = key_len[alg];
    if ((st = nova_random_bytes(raw, klen)) != NOVA_OK)
        return st;
    char *b32 = nova_arena_alloc(ar, NOVA_TOTP_B32_MAX);
    const uint8_t *sealed = NULL;
    size_t slen = 0;
    if (b32 == NULL)
        return NOVA_NOMEM;
    nova_base32_encode(raw, klen, b32);
    st = people_seal(p, s, ar, tenant_id, "user.totp_secret", raw, klen, &sealed, &slen);
    OPENSSL_cleanse(raw, sizeof(raw));
    nova_audit_entry_t ae;
    json_t *attrs = json_pack("{s:s}", "algorithm", nova_totp_alg_name(alg));
    if (st == NOVA_OK)
        st = nova_audit_entry_make(&ae, ar, by, tenant_id, "user.totp_begin", "user", user_id,
                                   attrs);
    else
        json_decref(attrs);
    if (st == NOVA_OK)
        st =
            nova_store_user_totp_begin(s, tenant_id, user_id, sealed, slen, nova_totp_alg_name(alg),
                                       NOVA_TOTP_DIGITS, nova_time_now(), &ae);
    if (st)
        return st;
    out->secret_b32 = b32;
    out->uri = nova_totp_uri(ar, p->totp_issuer, v.email, alg, NOVA_TOTP_DIGITS, b32);
    out->algorithm = nova_totp_alg_name(alg);
    out->digits = NOVA_TOTP_DIGITS;
    out->period = NOVA_TOTP_STEP;
    return out->uri ? NOVA_OK : NOVA_NOMEM;
}

/* Fresh codes and their digests for the store. */
static nova_status codes_make(nova_arena_t *ar, const char *user_id,
                              char codes[NOVA_RECOVERY_CODES][NOVA_RECOVERY_CODE_LEN],
                              const char **digests)
{
    nova_status st = nova_recovery_generate(codes);
    for (int i = 0; st == NOVA_OK && i < NOVA_RECOVERY_CODES; i++) {
        char *d = nova_arena_alloc(ar, 65);
        if (d == NULL)
            return NOVA_NOMEM;
        st = nova_recovery_hash(user_id, codes[i], d);
        digests[i] = d;
    }
    return st;
}

nova_status nova_people_totp_confirm(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                     const nova_audit_actor_t *by, const char *tenant_id,
                                     const char *user_id, const char *code,
                                     char codes[NOVA_RECOVERY_CODES][NOVA_RECOVERY_CODE_LEN])
{
    nova_user_t u;
    int64_t step = 0;
    const char *digests[NOVA_RECOVERY_CODES];
    nova_status st = nova_store_user_get(s, ar, tenant_id, user_id, &u);
    if (st)
        return st;
    if (strcmp(u.totp_state, "pending") != 0)
        return NOVA_CONFLICT;
    if ((st = people_totp_check(p, s, ar, &u, code, nova_time_now(), &step)) != NOVA_OK)
        return st;
    if ((st = codes_make(ar, user_id, codes, digests)) != NOVA_OK)
        return st;
    nova_audit_entry_t ae;
    st = nova_audit_entry_make(&ae, ar, by, tenant_id, "user.totp_confirm", "user", user_id,
                               json_pack("{s:i}", "recovery_codes", NOVA_RECOVERY_CODES));
    return st ? st
              : nova_store_user_totp_activate(s, tenant_id, user_id, step, digests,
                                              NOVA_RECOVERY_CODES, nova_time_now(), &ae);
}

nova_status nova_people_totp_remove(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                    const nova_audit_actor_t *by, const char *tenant_id,
                                    const char *user_id)
{
    (void)p;
    nova_audit_entry_t ae;
    nova_status st =
        nova_audit_entry_make(&ae, ar, by, tenant_id, "user.totp_remove", "user", user_id, NULL);
    return st ? st : nova_store_user_totp_remove(s, tenant_id, user_id, nova_time_now(), &ae);
}

nova_status nova_people_recovery_regenerate(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                            const nova_audit_actor_t *by, const char *tenant_id,
                                            const char *user_id,
                                            char codes[NOVA_RECOVERY_CODES][NOVA_RECOVERY_CODE_LEN])
{
    (void)p;
    const char *digests[NOVA_RECOVERY_CODES];
    nova_status st = codes_make(ar, user_id, codes, digests);
    nova_audit_entry_t ae;
    if (st == NOVA_OK)
        st = nova_audit_entry_make(&ae, ar, by, tenant_id, "user.recovery_regenerate", "user",
                                   user_id, NULL);
    return st ? st
              : nova_store_user_recovery_replace(s, tenant_id, user_id, digests,
                                                 NOVA_RECOVERY_CODES, nova_time_now(), &ae);
}
