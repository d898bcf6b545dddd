/*
 * people.c: the people module's repository (nova/people_store.h, migration 0013).
 *
 * Statements are prepared per call (slot -1): the catalogue of cached slots is the store's
 * shared list, and these run at sign-in and administration rates, not per request (the
 * per-request session check reads the control plane, not the store).
 *
 * Single use under concurrency: a TOTP step is spent by an UPDATE whose WHERE clause requires
 * the stored last step to be earlier, a recovery code by a DELETE of its digest; either
 * changes no row when another transaction spent it first, and the caller's transaction rolls
 * back with NOVA_CONFLICT. Refresh-token rotation follows src/store/sessions.c.
 */
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/people_store.h"

#define USER_COLS                                                                                  \
    "id, tenant_id, status, roles, email_index, email_sealed, name_sealed, pii_region, "           \
    "password_hash, totp_sealed, totp_alg, totp_digits, totp_state, totp_last_step, created_by, "  \
    "created_at, updated_at"
#define SES_COLS                                                                                   \
    "id, tenant_id, user_id, aal, amr, device, ip, created_at, expires_at, revoked_at, "           \
    "revoked_reason, idp_id, idp_sid"

#define Q(name, text) static const nova_sql_t name = {-1, #name, text, NULL}

Q(Q_USER_INSERT, "INSERT INTO people_users (" USER_COLS ") VALUES "
                 "(?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'SHA1', 6, 'none', 0, ?, ?, ?)");
Q(Q_USER_GET, "SELECT " USER_COLS " FROM people_users WHERE id = ? AND tenant_id = ?");
Q(Q_USER_EMAIL, "SELECT " USER_COLS " FROM people_users WHERE email_index = ? AND tenant_id = ?");
Q(Q_USER_LIST, "SELECT " USER_COLS " FROM people_users WHERE tenant_id = ? "
               "ORDER BY created_at, id LIMIT ?");
Q(Q_USER_LIST_AFTER,
  "SELECT " USER_COLS " FROM people_users u WHERE tenant_id = ? AND (created_at, id) > "
  "(SELECT created_at, id FROM people_users WHERE id = ? AND tenant_id = u.tenant_id) "
  "ORDER BY created_at, id LIMIT ?");
Q(Q_USER_UPDATE, "UPDATE people_users SET status = ?, roles = ?, name_sealed = ?, "
                 "updated_at = ? WHERE id = ? AND tenant_id = ?");
Q(Q_USER_DELETE, "DELETE FROM people_users WHERE id = ? AND tenant_id = ?");
Q(Q_USER_PW, "UPDATE people_users SET password_hash = ?, updated_at = ? "
             "WHERE id = ? AND tenant_id = ?");
Q(Q_TOTP_BEGIN, "UPDATE people_users SET totp_sealed = ?, totp_alg = ?, totp_digits = ?, "
                "totp_state = 'pending', totp_last_step = 0, updated_at = ? "
                "WHERE id = ? AND tenant_id = ? AND totp_state <> 'active'");
Q(Q_TOTP_ACTIVATE, "UPDATE people_users SET totp_state = 'active', totp_last_step = ?, "
                   "updated_at = ? WHERE id = ? AND tenant_id = ? AND totp_state = 'pending'");
Q(Q_TOTP_REMOVE, "UPDATE people_users SET totp_sealed = NULL, totp_state = 'none', "
                 "totp_last_step = 0, updated_at = ? WHERE id = ? AND tenant_id = ?");
Q(Q_TOTP_ACTIVE, "SELECT count(*) FROM people_users WHERE id = ? AND tenant_id = ? "
                 "AND totp_state = 'active'");
Q(Q_TOTP_SPEND, "UPDATE people_users SET totp_last_step = ? WHERE id = ? AND tenant_id = ? "
                "AND totp_state = 'active' AND totp_last_step < ? AND status = 'active'");
Q(Q_RC_DELETE_ALL, "DELETE FROM people_recovery_codes WHERE user_id = ? AND tenant_id = ?");
Q(Q_RC_INSERT, "INSERT INTO people_recovery_codes (user_id, digest, tenant_id, created_at) "
               "VALUES (?, ?, ?, ?)");
Q(Q_RC_SPEND, "DELETE FROM people_recovery_codes WHERE user_id = ? AND digest = ? "
              "AND tenant_id = ?");
Q(Q_RC_COUNT, "SELECT count(*) FROM people_recovery_codes WHERE user_id = ? AND tenant_id = ?");
Q(Q_WA_DELETE_USER, "DELETE FROM people_webauthn_credentials WHERE user_id = ? AND tenant_id = ?");
Q(Q_KEY_GET, "SELECT tenant_id, name, kid, region, sealed, created_at FROM people_keys "
             "WHERE tenant_id = ? AND name = ?");
Q(Q_KEY_PUT, "INSERT INTO people_keys (tenant_id, name, kid, region, sealed, created_at) "
             "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
Q(Q_SES_INSERT, "INSERT INTO people_sessions (" SES_COLS ") VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', ?, ?)");
Q(Q_RT_INSERT, "INSERT INTO people_refresh_tokens (digest, tenant_id, session_id, created_at) "
               "VALUES (?, ?, ?, ?)");
Q(Q_RT_FIND, "SELECT r.used_at, s.id, s.tenant_id, s.user_id, s.aal, s.amr, s.device, s.ip, "
             "s.created_at, s.expires_at, s.revoked_at, s.revoked_reason, s.idp_id, s.idp_sid "
             "FROM people_refresh_tokens r JOIN people_sessions s "
             "ON s.id = r.session_id AND s.tenant_id = r.tenant_id "
             "WHERE r.digest = ? AND r.tenant_id = ?");
Q(Q_RT_USE, "UPDATE people_refresh_tokens SET used_at = ? "
            "WHERE digest = ? AND tenant_id = ? AND used_at = 0");
Q(Q_SES_GET, "SELECT " SES_COLS " FROM people_sessions WHERE id = ? AND tenant_id = ?");
Q(Q_SES_LIST_USER,
  "SELECT " SES_COLS " FROM people_sessions WHERE tenant_id = ? AND user_id = ? "
  "AND (? = 0 OR (revoked_at = 0 AND expires_at > ?)) ORDER BY created_at DESC, id LIMIT 500");
Q(Q_SES_LIST_ALL, "SELECT " SES_COLS " FROM people_sessions WHERE tenant_id = ? "
                  "AND (? = 0 OR (revoked_at = 0 AND expires_at > ?)) "
                  "ORDER BY created_at DESC, id LIMIT 500");
Q(Q_SES_REVOKE, "UPDATE people_sessions SET revoked_at = ?, revoked_reason = ? "
                "WHERE id = ? AND tenant_id = ? AND revoked_at = 0");
Q(Q_SES_REVOKE_USER, "UPDATE people_sessions SET revoked_at = ?, revoked_reason = ? "
                     "WHERE tenant_id = ? AND user_id = ? AND revoked_at = 0 RETURNING id");
/* An IdP's sessions, narrowed to one of its sessions (sid) and/or one user when not ''. */
#define SES_OF_IDP                                                                                 \
    "tenant_id = ? AND idp_id = ? AND revoked_at = 0 AND (CAST(? AS TEXT) = '' OR idp_sid = ?) "   \
    "AND (CAST(? AS TEXT) = '' OR user_id = ?)"
Q(Q_SES_IDP_LIVE, "SELECT id FROM people_sessions WHERE " SES_OF_IDP " AND expires_at > ? "
                  "ORDER BY created_at, id LIMIT 500");
Q(Q_SES_REVOKE_IDP,
  "UPDATE people_sessions SET revoked_at = ?, revoked_reason = ? WHERE " SES_OF_IDP
  " RETURNING id");

#define PK_COLS                                                                                    \
    "id, tenant_id, user_id, public_key, alg, sign_count, aaguid, attestation, user_verified, "    \
    "created_at, last_used_at, flagged_at"
Q(Q_PK_INSERT, "INSERT INTO people_webauthn_credentials (" PK_COLS ") VALUES "
               "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)");
Q(Q_PK_GET, "SELECT " PK_COLS " FROM people_webauthn_credentials WHERE id = ? AND tenant_id = ?");
Q(Q_PK_EXISTS, "SELECT count(*) FROM people_webauthn_credentials WHERE id = ?");
Q(Q_PK_LIST, "SELECT " PK_COLS " FROM people_webauthn_credentials WHERE tenant_id = ? "
             "AND user_id = ? ORDER BY created_at, id");
Q(Q_PK_USE, "UPDATE people_webauthn_credentials SET sign_count = ?, last_used_at = ? "
            "WHERE id = ? AND tenant_id = ? AND sign_count = ?");
Q(Q_PK_FLAG, "UPDATE people_webauthn_credentials SET flagged_at = ? WHERE id = ? "
             "AND tenant_id = ?");

Q(Q_SET_GET, "SELECT settings FROM people_settings WHERE tenant_id = ?");
Q(Q_SET_PUT, "INSERT INTO people_settings (tenant_id, settings, updated_at) VALUES (?, ?, ?) "
             "ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings, "
             "updated_at = excluded.updated_at");

#define ACR_COLS                                                                                   \
    "id, tenant_id, requester, role, reason, ticket, kind, required_approvals, approvals, "        \
    "status, duration_s, created_at, approved_at, expires_at"
Q(Q_ACR_INSERT, "INSERT INTO people_access_requests (" ACR_COLS ") VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, '', 'pending', ?, ?, 0, 0)");
Q(Q_ACR_GET, "SELECT " ACR_COLS " FROM people_access_requests WHERE id = ? AND tenant_id = ?");
Q(Q_ACR_LIST, "SELECT " ACR_COLS " FROM people_access_requests WHERE tenant_id = ? "
              "ORDER BY created_at DESC, id LIMIT 200");
Q(Q_ACR_LIST_MINE, "SELECT " ACR_COLS " FROM people_access_requests WHERE tenant_id = ? "
                   "AND requester = ? ORDER BY created_at DESC, id LIMIT 200");
Q(Q_ACR_APPROVE, "UPDATE people_access_requests SET approvals = ?, status = ?, approved_at = ?, "
                 "expires_at = ? WHERE id = ? AND tenant_id = ? AND approvals = ? "
                 "AND status = 'pending'");

static bool audit_ok(const char *tenant_id, const nova_audit_entry_t *audit)
{
    return nova_store_valid_id(tenant_id) && nova_store_audit_for(audit, tenant_id);
}

static nova_status read_user(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_user_t *o = out;
    const nova_store_driver_t *d = r->s->drv;
    nova_status st;
    memset(o, 0, sizeof(*o));
    const struct {
        int col;
        const char **out;
    } strs[] = {
        {0, &o->id},          {1, &o->tenant_id},  {2, &o->status},        {3, &o->roles},
        {4, &o->email_index}, {7, &o->pii_region}, {8, &o->password_hash}, {10, &o->totp_alg},
        {12, &o->totp_state}, {14, &o->created_by}};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if ((st = nova_store_col_str(r, strs[i].col, a, strs[i].out)) != NOVA_OK)
            return st;
    if ((st = nova_store_col_blob(r, 5, a, &o->email_sealed, &o->email_sealed_len)) != NOVA_OK ||
        (st = nova_store_col_blob(r, 6, a, &o->name_sealed, &o->name_sealed_len)) != NOVA_OK ||
        (st = nova_store_col_blob(r, 9, a, &o->totp_sealed, &o->totp_sealed_len)) != NOVA_OK)
        return st;
    o->totp_digits = d->col_int64(r, 11);
    o->totp_last_step = d->col_int64(r, 13);
    o->created_at = d->col_int64(r, 15);
    o->updated_at = d->col_int64(r, 16);
    return NOVA_OK;
}

/* Reads SES_COLS from column `from`. */
static nova_status read_session_at(nova_rows_t *r, int from, nova_arena_t *a,
                                   nova_user_session_t *o)
{
    const nova_store_driver_t *d = r->s->drv;
    nova_status st;
    memset(o, 0, sizeof(*o));
    const struct {
        int col;
        const char **out;
    } strs[] = {{0, &o->id},      {1, &o->tenant_id}, {2, &o->user_id},         {4, &o->amr},
                {5, &o->device},  {6, &o->ip},        {10, &o->revoked_reason}, {11, &o->idp_id},
                {12, &o->idp_sid}};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if ((st = nova_store_col_str(r, from + strs[i].col, a, strs[i].out)) != NOVA_OK)
            return st;
    o->aal = d->col_int64(r, from + 3);
    o->created_at = d->col_int64(r, from + 7);
    o->expires_at = d->col_int64(r, from + 8);
    o->revoked_at = d->col_int64(r, from + 9);
    return NOVA_OK;
}

static nova_status read_session(nova_rows_t *r, nova_arena_t *a, void *out)
{
    return read_session_at(r, 0, a, out);
}

/* Ends the open transaction: commit when st is OK, else roll back and return st. */
static nova_status finish(nova_store_t *s, nova_status st)
{
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

/* Runs one statement and the audit entry in one transaction; need_one: NOT_FOUND unless one
 * row changed (none_is: the status to answer when none did). */
static nova_status write_tx(nova_store_t *s, const nova_sql_t *q, const nova_sql_param_t *p, int n,
                            const char *tenant_id, const nova_audit_entry_t *audit,
                            nova_status none_is)
{
    int64_t changed = 0;
    if (!audit_ok(tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    st = nova_store_exec_q(s, q, NULL, p, n, &changed);
    if (st == NOVA_OK && none_is != NOVA_OK && changed != 1)
        st = none_is;
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

/* ---- users ---- */

nova_status nova_store_user_create(nova_store_t *s, const nova_user_t *u,
                                   const nova_audit_entry_t *audit)
{
    if (!u || !nova_store_valid_id(u->id) || !u->status || !u->roles || !u->email_index ||
        !u->email_sealed || !u->email_sealed_len || !u->pii_region || !u->password_hash ||
        !u->created_by)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(u->id),
                            NOVA_SQL_P_TEXT(u->tenant_id),
                            NOVA_SQL_P_TEXT(u->status),
                            NOVA_SQL_P_TEXT(u->roles),
                            NOVA_SQL_P_TEXT(u->email_index),
                            NOVA_SQL_P_BLOB(u->email_sealed, u->email_sealed_len),
                            u->name_sealed ? NOVA_SQL_P_BLOB(u->name_sealed, u->name_sealed_len)
                                           : NOVA_SQL_P_TEXT(NULL),
                            NOVA_SQL_P_TEXT(u->pii_region),
                            NOVA_SQL_P_TEXT(u->password_hash),
                            NOVA_SQL_P_TEXT(u->created_by),
                            NOVA_SQL_P_INT(u->created_at),
                            NOVA_SQL_P_INT(u->updated_at)};
    return write_tx(s, &Q_USER_INSERT, p, 12, u->tenant_id, audit, NOVA_OK);
}

nova_status nova_store_user_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                const char *id, nova_user_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_one(s, &Q_USER_GET, tenant_id, p, 2, a, read_user, out);
}

nova_status nova_store_user_find_email(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                       const char *email_index, nova_user_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !email_index)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(email_index), NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_one(s, &Q_USER_EMAIL, tenant_id, p, 2, a, read_user, out);
}

nova_status nova_store_user_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                 const char *after, int64_t limit, nova_user_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id) || limit <= 0)
        return NOVA_INVALID;
    if (after) {
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(after),
                                NOVA_SQL_P_INT(limit)};
        return nova_store_get_all(s, &Q_USER_LIST_AFTER, tenant_id, p, 3, a, read_user,
                                  sizeof(nova_user_t), (void **)out, n);
    }
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_INT(limit)};
    return nova_store_get_all(s, &Q_USER_LIST, tenant_id, p, 2, a, read_user, sizeof(nova_user_t),
                              (void **)out, n);
}

nova_status nova_store_user_update(nova_store_t *s, const nova_user_t *u,
                                   const nova_audit_entry_t *audit)
{
    if (!u || !nova_store_valid_id(u->id) || !u->status || !u->roles)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(u->status),
                            NOVA_SQL_P_TEXT(u->roles),
                            u->name_sealed ? NOVA_SQL_P_BLOB(u->name_sealed, u->name_sealed_len)
                                           : NOVA_SQL_P_TEXT(NULL),
                            NOVA_SQL_P_INT(u->updated_at),
                            NOVA_SQL_P_TEXT(u->id),
                            NOVA_SQL_P_TEXT(u->tenant_id)};
    return write_tx(s, &Q_USER_UPDATE, p, 6, u->tenant_id, audit, NOVA_NOT_FOUND);
}

/* Runs q (UPDATE ... RETURNING id) and collects the ids. */
static nova_status returning_ids(nova_store_t *s, const nova_sql_t *q, const nova_sql_param_t *p,
                                 int n, nova_arena_t *a, const char ***ids, size_t *count)
{
    nova_rows_t r;
    size_t cap = 0;
    *ids = NULL;
    *count = 0;
    nova_status st = s->drv->query(s, q, NULL, p, n, &r);
    if (st != NOVA_OK)
        return st;
    while ((st = s->drv->next(&r)) == NOVA_OK) {
        if (*count == cap) {
            size_t nc = cap ? cap * 2 : 8;
            const char **grown = nova_arena_alloc(a, nc * sizeof(*grown));
            if (grown == NULL) {
                st = NOVA_NOMEM;
                break;
            }
            if (*count)
                memcpy(grown, *ids, *count * sizeof(*grown));
            *ids = grown;
            cap = nc;
        }
        if ((st = nova_store_col_str(&r, 0, a, &(*ids)[*count])) != NOVA_OK)
            break;
        (*count)++;
    }
    s->drv->done(&r);
    return st == NOVA_NOT_FOUND ? NOVA_OK : st;
}

nova_status nova_store_user_delete(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   const char *id, int64_t now, nova_fga_batch_t *fga, size_t nfga,
                                   const nova_audit_entry_t *audit, const char ***revoked,
                                   size_t *nrevoked)
{
    int64_t changed = 0;
    const char **ids = NULL;
    size_t n = 0;
    if (!nova_store_valid_id(id) || !audit_ok(tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t up[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    nova_sql_param_t rp[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT("deleted"),
                             NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    st = nova_store_exec_q(s, &Q_RC_DELETE_ALL, NULL, up, 2, NULL);
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_WA_DELETE_USER, NULL, up, 2, NULL);
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_USER_DELETE, NULL, up, 2, &changed);
    if (st == NOVA_OK && changed != 1)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        st = returning_ids(s, &Q_SES_REVOKE_USER, rp, 4, a, &ids, &n);
    if (st == NOVA_OK)
        st = nova_store_fga_batches_in_tx(s, tenant_id, fga, nfga);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    st = finish(s, st);
    if (revoked) {
        *revoked = st == NOVA_OK ? ids : NULL;
        *nrevoked = st == NOVA_OK ? n : 0;
    }
    return st;
}

nova_status nova_store_user_password_set(nova_store_t *s, const char *tenant_id, const char *id,
                                         const char *hash, int64_t now,
                                         const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(id) || !hash)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(hash), NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(id),
                            NOVA_SQL_P_TEXT(tenant_id)};
    return write_tx(s, &Q_USER_PW, p, 4, tenant_id, audit, NOVA_NOT_FOUND);
}

nova_status nova_store_user_totp_begin(nova_store_t *s, const char *tenant_id, const char *id,
                                       const uint8_t *sealed, size_t len, const char *alg,
                                       int64_t digits, int64_t now, const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(id) || !sealed || !len || !alg)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_BLOB(sealed, len), NOVA_SQL_P_TEXT(alg),
                            NOVA_SQL_P_INT(digits),       NOVA_SQL_P_INT(now),
                            NOVA_SQL_P_TEXT(id),          NOVA_SQL_P_TEXT(tenant_id)};
    return write_tx(s, &Q_TOTP_BEGIN, p, 6, tenant_id, audit, NOVA_CONFLICT);
}

/* Replaces the user's recovery codes inside the open transaction. */
static nova_status codes_replace(nova_store_t *s, const char *tenant_id, const char *id,
                                 const char *const *digests, size_t n, int64_t now)
{
    nova_sql_param_t dp[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    nova_status st = nova_store_exec_q(s, &Q_RC_DELETE_ALL, NULL, dp, 2, NULL);
    for (size_t i = 0; st == NOVA_OK && i < n; i++) {
        nova_sql_param_t ip[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(digests[i]),
                                 NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_INT(now)};
        st = nova_store_exec_q(s, &Q_RC_INSERT, NULL, ip, 4, NULL);
    }
    return st;
}

nova_status nova_store_user_totp_activate(nova_store_t *s, const char *tenant_id, const char *id,
                                          int64_t step, const char *const *digests, size_t n,
                                          int64_t now, const nova_audit_entry_t *audit)
{
    int64_t changed = 0;
    if (!nova_store_valid_id(id) || (n && !digests) || !audit_ok(tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(step), NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(id),
                            NOVA_SQL_P_TEXT(tenant_id)};
    st = nova_store_exec_q(s, &Q_TOTP_ACTIVATE, NULL, p, 4, &changed);
    if (st == NOVA_OK && changed != 1)
        st = NOVA_CONFLICT;
    if (st == NOVA_OK)
        st = codes_replace(s, tenant_id, id, digests, n, now);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

nova_status nova_store_user_totp_remove(nova_store_t *s, const char *tenant_id, const char *id,
                                        int64_t now, const nova_audit_entry_t *audit)
{
    int64_t changed = 0;
    if (!nova_store_valid_id(id) || !audit_ok(tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    st = nova_store_exec_q(s, &Q_TOTP_REMOVE, NULL, p, 3, &changed);
    if (st == NOVA_OK && changed != 1)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        st = codes_replace(s, tenant_id, id, NULL, 0, now);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

nova_status nova_store_user_recovery_replace(nova_store_t *s, const char *tenant_id, const char *id,
                                             const char *const *digests, size_t n, int64_t now,
                                             const nova_audit_entry_t *audit)
{
    int64_t active = 0;
    if (!nova_store_valid_id(id) || !digests || !audit_ok(tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    st = nova_store_query_int(s, &Q_TOTP_ACTIVE, NULL, p, 2, &active);
    if (st == NOVA_OK && active != 1)
        st = NOVA_CONFLICT;
    if (st == NOVA_OK)
        st = codes_replace(s, tenant_id, id, digests, n, now);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

nova_status nova_store_user_recovery_count(nova_store_t *s, const char *tenant_id, const char *id,
                                           int64_t *n)
{
    *n = 0;
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_query_int(s, &Q_RC_COUNT, tenant_id, p, 2, n);
}

/* Spends f inside the open transaction; NOVA_CONFLICT when it was spent already. */
static nova_status spend_tx(nova_store_t *s, const char *tenant_id, const nova_factor_spend_t *f)
{
    int64_t changed = 0;
    nova_status st = NOVA_OK;
    if (!nova_store_valid_id(f->user_id))
        return NOVA_INVALID;
    if (f->totp_step > 0) {
        nova_sql_param_t p[] = {NOVA_SQL_P_INT(f->totp_step), NOVA_SQL_P_TEXT(f->user_id),
                                NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_INT(f->totp_step)};
        st = nova_store_exec_q(s, &Q_TOTP_SPEND, NULL, p, 4, &changed);
    } else if (f->recovery_digest) {
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(f->user_id), NOVA_SQL_P_TEXT(f->recovery_digest),
                                NOVA_SQL_P_TEXT(tenant_id)};
        st = nova_store_exec_q(s, &Q_RC_SPEND, NULL, p, 3, &changed);
    } else {
        return NOVA_INVALID;
    }
    if (st == NOVA_OK && changed != 1)
        st = NOVA_CONFLICT;
    return st;
}

nova_status nova_store_factor_spend(nova_store_t *s, const char *tenant_id,
                                    const nova_factor_spend_t *f, const nova_audit_entry_t *audit)
{
    if (!f || !audit_ok(tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    st = spend_tx(s, tenant_id, f);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

/* ---- keys ---- */

static nova_status read_key(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_people_key_t *k = out;
    nova_status st;
    memset(k, 0, sizeof(*k));
    if ((st = nova_store_col_str(r, 0, a, &k->tenant_id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 1, a, &k->name)) != NOVA_OK ||
        (st = nova_store_col_str(r, 2, a, &k->kid)) != NOVA_OK ||
        (st = nova_store_col_str(r, 3, a, &k->region)) != NOVA_OK ||
        (st = nova_store_col_blob(r, 4, a, &k->sealed, &k->sealed_len)) != NOVA_OK)
        return st;
    k->created_at = r->s->drv->col_int64(r, 5);
    return NOVA_OK;
}

nova_status nova_store_people_key_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      const char *name, nova_people_key_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !name)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(name)};
    return nova_store_get_one(s, &Q_KEY_GET, tenant_id, p, 2, a, read_key, out);
}

nova_status nova_store_people_key_put(nova_store_t *s, const nova_people_key_t *k,
                                      const nova_audit_entry_t *audit)
{
    int64_t changed = 0;
    if (!k || !k->name || !k->kid || !k->region || !k->sealed || !k->sealed_len ||
        !audit_ok(k->tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, k->tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(k->tenant_id),
                            NOVA_SQL_P_TEXT(k->name),
                            NOVA_SQL_P_TEXT(k->kid),
                            NOVA_SQL_P_TEXT(k->region),
                            NOVA_SQL_P_BLOB(k->sealed, k->sealed_len),
                            NOVA_SQL_P_INT(k->created_at)};
    st = nova_store_exec_q(s, &Q_KEY_PUT, NULL, p, 6, &changed);
    if (st == NOVA_OK && changed == 0) {
        nova_store_tx_rollback(s); /* another instance made it first: nothing to record */
        return NOVA_OK;
    }
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

/* ---- sessions ---- */

nova_status nova_store_user_session_create(nova_store_t *s, const nova_user_session_t *ses,
                                           const char *rt_digest, const nova_factor_spend_t *f,
                                           const nova_audit_entry_t *audit)
{
    if (!ses || !nova_store_valid_id(ses->id) || !nova_store_valid_id(ses->user_id) || !ses->amr ||
        !ses->device || !ses->ip || !rt_digest || !audit_ok(ses->tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, ses->tenant_id);
    if (st != NOVA_OK)
        return st;
    if (f)
        st = spend_tx(s, ses->tenant_id, f);
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(ses->id),
                            NOVA_SQL_P_TEXT(ses->tenant_id),
                            NOVA_SQL_P_TEXT(ses->user_id),
                            NOVA_SQL_P_INT(ses->aal),
                            NOVA_SQL_P_TEXT(ses->amr),
                            NOVA_SQL_P_TEXT(ses->device),
                            NOVA_SQL_P_TEXT(ses->ip),
                            NOVA_SQL_P_INT(ses->created_at),
                            NOVA_SQL_P_INT(ses->expires_at),
                            NOVA_SQL_P_TEXT(ses->idp_id ? ses->idp_id : ""),
                            NOVA_SQL_P_TEXT(ses->idp_sid ? ses->idp_sid : "")};
    nova_sql_param_t rp[] = {NOVA_SQL_P_TEXT(rt_digest), NOVA_SQL_P_TEXT(ses->tenant_id),
                             NOVA_SQL_P_TEXT(ses->id), NOVA_SQL_P_INT(ses->created_at)};
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_SES_INSERT, NULL, p, 11, NULL);
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_RT_INSERT, NULL, rp, 4, NULL);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

nova_status nova_store_user_session_rotate(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                           const char *old_digest, const char *new_digest,
                                           int64_t now, nova_user_session_audit_fn build_audit,
                                           void *ud, nova_user_session_t *out,
                                           nova_user_rotate *outcome)
{
    nova_rows_t r;
    int64_t used = 0, changed = 0;
    *outcome = NOVA_USER_ROTATE_INVALID;
    if (!nova_store_valid_id(tenant_id) || !old_digest || !new_digest || !build_audit || now <= 0)
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t fp[] = {NOVA_SQL_P_TEXT(old_digest), NOVA_SQL_P_TEXT(tenant_id)};
    st = s->drv->query(s, &Q_RT_FIND, NULL, fp, 2, &r);
    if (st == NOVA_OK) {
        st = s->drv->next(&r);
        if (st == NOVA_OK) {
            used = s->drv->col_int64(&r, 0);
            st = read_session_at(&r, 1, a, out);
        }
        s->drv->done(&r);
    }
    if (st == NOVA_NOT_FOUND ||
        (st == NOVA_OK && (out->revoked_at != 0 || out->expires_at <= now))) {
        nova_store_tx_rollback(s); /* unknown, or its family is over: nothing to record */
        return NOVA_OK;
    }
    if (st == NOVA_OK && used == 0) {
        nova_sql_param_t up[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(old_digest),
                                 NOVA_SQL_P_TEXT(tenant_id)};
        st = nova_store_exec_q(s, &Q_RT_USE, NULL, up, 3, &changed);
    }
    if (st == NOVA_OK && changed == 1) {
        nova_sql_param_t ip[] = {NOVA_SQL_P_TEXT(new_digest), NOVA_SQL_P_TEXT(tenant_id),
                                 NOVA_SQL_P_TEXT(out->id), NOVA_SQL_P_INT(now)};
        st = nova_store_exec_q(s, &Q_RT_INSERT, NULL, ip, 4, NULL);
        *outcome = NOVA_USER_ROTATE_OK;
    } else if (st == NOVA_OK) {
        /* Presented after its rotation, or beaten by a concurrent presentation: someone else
         * holds this family's tokens. End the family. */
        nova_sql_param_t vp[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT("refresh_reuse"),
                                 NOVA_SQL_P_TEXT(out->id), NOVA_SQL_P_TEXT(tenant_id)};
        st = nova_store_exec_q(s, &Q_SES_REVOKE, NULL, vp, 4, NULL);
        out->revoked_at = now;
        out->revoked_reason = "refresh_reuse";
        *outcome = NOVA_USER_ROTATE_REUSED;
    }
    if (st == NOVA_OK) {
        const nova_audit_entry_t *e = build_audit(out, *outcome == NOVA_USER_ROTATE_REUSED, ud);
        st = e ? nova_store_audit_append_tx(s, e, NULL, NULL) : NOVA_NOMEM;
    }
    if (st != NOVA_OK)
        *outcome = NOVA_USER_ROTATE_INVALID;
    return finish(s, st);
}

nova_status nova_store_user_session_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                        const char *id, nova_user_session_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_one(s, &Q_SES_GET, tenant_id, p, 2, a, read_session, out);
}

nova_status nova_store_user_session_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                         const char *user_id, int64_t live_at,
                                         nova_user_session_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    if (user_id) {
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(user_id),
                                NOVA_SQL_P_INT(live_at), NOVA_SQL_P_INT(live_at)};
        return nova_store_get_all(s, &Q_SES_LIST_USER, tenant_id, p, 4, a, read_session,
                                  sizeof(nova_user_session_t), (void **)out, n);
    }
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_INT(live_at),
                            NOVA_SQL_P_INT(live_at)};
    return nova_store_get_all(s, &Q_SES_LIST_ALL, tenant_id, p, 3, a, read_session,
                              sizeof(nova_user_session_t), (void **)out, n);
}

nova_status nova_store_user_session_revoke(nova_store_t *s, const char *tenant_id, const char *id,
                                           const char *reason, int64_t now,
                                           const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(id) || !reason)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(reason), NOVA_SQL_P_TEXT(id),
                            NOVA_SQL_P_TEXT(tenant_id)};
    return write_tx(s, &Q_SES_REVOKE, p, 4, tenant_id, audit, NOVA_NOT_FOUND);
}

nova_status nova_store_user_session_revoke_user(nova_store_t *s, nova_arena_t *a,
                                                const char *tenant_id, const char *user_id,
                                                const char *reason, int64_t now,
                                                const nova_audit_entry_t *audit, const char ***ids,
                                                size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (!nova_store_valid_id(user_id) || !reason || !audit_ok(tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(reason),
                            NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(user_id)};
    st = returning_ids(s, &Q_SES_REVOKE_USER, p, 4, a, ids, n);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    st = finish(s, st);
    if (st != NOVA_OK) {
        *ids = NULL;
        *n = 0;
    }
    return st;
}

static nova_status read_id(nova_rows_t *r, nova_arena_t *a, void *out)
{
    return nova_store_col_str(r, 0, a, (const char **)out);
}

static bool idp_args_ok(const char *tenant_id, const char *idp_id, const char *sid,
                        const char *user_id)
{
    return nova_store_valid_id(tenant_id) && nova_store_valid_id(idp_id) &&
           (sid == NULL || strlen(sid) <= 255) && (user_id == NULL || strlen(user_id) <= 64);
}

nova_status nova_store_user_session_idp_live(nova_store_t *s, nova_arena_t *a,
                                             const char *tenant_id, const char *idp_id,
                                             const char *sid, const char *user_id, int64_t now,
                                             const char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (!idp_args_ok(tenant_id, idp_id, sid, user_id))
        return NOVA_INVALID;
    const char *sv = sid ? sid : "", *uv = user_id ? user_id : "";
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(idp_id),
                            NOVA_SQL_P_TEXT(sv),        NOVA_SQL_P_TEXT(sv),
                            NOVA_SQL_P_TEXT(uv),        NOVA_SQL_P_TEXT(uv),
                            NOVA_SQL_P_INT(now)};
    return nova_store_get_all(s, &Q_SES_IDP_LIVE, tenant_id, p, 7, a, read_id, sizeof(char *),
                              (void **)ids, n);
}

nova_status nova_store_people_revoke_idp_tx(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                            const char *idp_id, const char *sid,
                                            const char *user_id, const char *reason, int64_t now,
                                            const char ***ids, size_t *n)
{
    const char *sv = sid ? sid : "", *uv = user_id ? user_id : "";
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now),        NOVA_SQL_P_TEXT(reason),
                            NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(idp_id),
                            NOVA_SQL_P_TEXT(sv),        NOVA_SQL_P_TEXT(sv),
                            NOVA_SQL_P_TEXT(uv),        NOVA_SQL_P_TEXT(uv)};
    return returning_ids(s, &Q_SES_REVOKE_IDP, p, 8, a, ids, n);
}

nova_status nova_store_user_session_revoke_idp(nova_store_t *s, nova_arena_t *a,
                                               const char *tenant_id, const char *idp_id,
                                               const char *sid, const char *user_id,
                                               const char *reason, int64_t now,
                                               const nova_audit_entry_t *audit, const char ***ids,
                                               size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (!idp_args_ok(tenant_id, idp_id, sid, user_id) || !reason || !audit_ok(tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    st =
        nova_store_people_revoke_idp_tx(s, a, tenant_id, idp_id, sid, user_id, reason, now, ids, n);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    st = finish(s, st);
    if (st != NOVA_OK) {
        *ids = NULL;
        *n = 0;
    }
    return st;
}

/* ---- passkeys ---- */

static nova_status read_passkey(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_passkey_t *k = out;
    const nova_store_driver_t *d = r->s->drv;
    nova_status st;
    memset(k, 0, sizeof(*k));
    if ((st = nova_store_col_str(r, 0, a, &k->id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 1, a, &k->tenant_id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 2, a, &k->user_id)) != NOVA_OK ||
        (st = nova_store_col_blob(r, 3, a, &k->public_key, &k->public_key_len)) != NOVA_OK ||
        (st = nova_store_col_str(r, 6, a, &k->aaguid)) != NOVA_OK ||
        (st = nova_store_col_str(r, 7, a, &k->attestation)) != NOVA_OK)
        return st;
    k->alg = d->col_int64(r, 4);
    k->sign_count = d->col_int64(r, 5);
    k->user_verified = d->col_int64(r, 8) != 0;
    k->created_at = d->col_int64(r, 9);
    k->last_used_at = d->col_int64(r, 10);
    k->flagged_at = d->col_int64(r, 11);
    return NOVA_OK;
}

nova_status nova_store_passkey_create(nova_store_t *s, const nova_passkey_t *k,
                                      const nova_audit_entry_t *audit)
{
    int64_t exists = 0;
    if (!k || !nova_store_valid_id(k->id) || !nova_store_valid_id(k->user_id) || !k->public_key ||
        !k->public_key_len || !k->aaguid || !k->attestation || !audit_ok(k->tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, k->tenant_id);
    if (st != NOVA_OK)
        return st;
    /* Credential ids are global (an authenticator's), so the check sees every tenant. */
    nova_sql_param_t ep[] = {NOVA_SQL_P_TEXT(k->id)};
    st = nova_store_query_int(s, &Q_PK_EXISTS, NULL, ep, 1, &exists);
    if (st == NOVA_OK && exists)
        st = NOVA_CONFLICT;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(k->id),
                            NOVA_SQL_P_TEXT(k->tenant_id),
                            NOVA_SQL_P_TEXT(k->user_id),
                            NOVA_SQL_P_BLOB(k->public_key, k->public_key_len),
                            NOVA_SQL_P_INT(k->alg),
                            NOVA_SQL_P_INT(k->sign_count),
                            NOVA_SQL_P_TEXT(k->aaguid),
                            NOVA_SQL_P_TEXT(k->attestation),
                            NOVA_SQL_P_INT(k->user_verified ? 1 : 0),
                            NOVA_SQL_P_INT(k->created_at)};
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_PK_INSERT, NULL, p, 10, NULL);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

nova_status nova_store_passkey_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   const char *id, nova_passkey_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_one(s, &Q_PK_GET, tenant_id, p, 2, a, read_passkey, out);
}

nova_status nova_store_passkey_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                    const char *user_id, nova_passkey_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(user_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(user_id)};
    return nova_store_get_all(s, &Q_PK_LIST, tenant_id, p, 2, a, read_passkey,
                              sizeof(nova_passkey_t), (void **)out, n);
}

nova_status nova_store_passkey_use(nova_store_t *s, const char *tenant_id, const char *id,
                                   int64_t seen_before, int64_t count, int64_t now)
{
    int64_t changed = 0;
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(count), NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(id),
                            NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_INT(seen_before)};
    nova_status st = nova_store_exec_q(s, &Q_PK_USE, tenant_id, p, 5, &changed);
    return st ? st : changed == 1 ? NOVA_OK : NOVA_CONFLICT;
}

nova_status nova_store_passkey_flag(nova_store_t *s, const char *tenant_id, const char *id,
                                    int64_t now, const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    return write_tx(s, &Q_PK_FLAG, p, 3, tenant_id, audit, NOVA_NOT_FOUND);
}

/* ---- settings ---- */

static nova_status read_text0(nova_rows_t *r, nova_arena_t *a, void *out)
{
    return nova_store_col_str(r, 0, a, out);
}

nova_status nova_store_people_settings_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                           const char **json)
{
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_one(s, &Q_SET_GET, tenant_id, p, 1, a, read_text0, json);
}

nova_status nova_store_people_settings_put(nova_store_t *s, const char *tenant_id, const char *json,
                                           int64_t now, const nova_audit_entry_t *audit)
{
    if (!json)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(json), NOVA_SQL_P_INT(now)};
    return write_tx(s, &Q_SET_PUT, p, 3, tenant_id, audit, NOVA_OK);
}

/* ---- access requests ---- */

static nova_status read_acr(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_access_request_t *q = out;
    const nova_store_driver_t *d = r->s->drv;
    nova_status st;
    memset(q, 0, sizeof(*q));
    const char **strs[] = {&q->id,     &q->tenant_id, &q->requester, &q->role,
                           &q->reason, &q->ticket,    &q->kind};
    for (int i = 0; i < 7; i++)
        if ((st = nova_store_col_str(r, i, a, strs[i])) != NOVA_OK)
            return st;
    if ((st = nova_store_col_str(r, 8, a, &q->approvals)) != NOVA_OK ||
        (st = nova_store_col_str(r, 9, a, &q->status)) != NOVA_OK)
        return st;
    q->required_approvals = d->col_int64(r, 7);
    q->duration_s = d->col_int64(r, 10);
    q->created_at = d->col_int64(r, 11);
    q->approved_at = d->col_int64(r, 12);
    q->expires_at = d->col_int64(r, 13);
    return NOVA_OK;
}

nova_status nova_store_access_create(nova_store_t *s, const nova_access_request_t *q,
                                     const nova_audit_entry_t *audit)
{
    if (!q || !nova_store_valid_id(q->id) || !nova_store_valid_id(q->requester) || !q->role ||
        !q->reason || !q->ticket || !q->kind)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(q->id),        NOVA_SQL_P_TEXT(q->tenant_id),
                            NOVA_SQL_P_TEXT(q->requester), NOVA_SQL_P_TEXT(q->role),
                            NOVA_SQL_P_TEXT(q->reason),    NOVA_SQL_P_TEXT(q->ticket),
                            NOVA_SQL_P_TEXT(q->kind),      NOVA_SQL_P_INT(q->required_approvals),
                            NOVA_SQL_P_INT(q->duration_s), NOVA_SQL_P_INT(q->created_at)};
    return write_tx(s, &Q_ACR_INSERT, p, 10, q->tenant_id, audit, NOVA_OK);
}

nova_status nova_store_access_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                  const char *id, nova_access_request_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_one(s, &Q_ACR_GET, tenant_id, p, 2, a, read_acr, out);
}

nova_status nova_store_access_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   const char *requester, nova_access_request_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    if (requester) {
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(requester)};
        return nova_store_get_all(s, &Q_ACR_LIST_MINE, tenant_id, p, 2, a, read_acr,
                                  sizeof(nova_access_request_t), (void **)out, n);
    }
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q_ACR_LIST, tenant_id, p, 1, a, read_acr,
                              sizeof(nova_access_request_t), (void **)out, n);
}

nova_status nova_store_access_approve(nova_store_t *s, const char *tenant_id, const char *id,
                                      const char *seen, const char *approvals, const char *status,
                                      int64_t approved_at, int64_t expires_at,
                                      const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(id) || !seen || !approvals || !status)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(approvals),  NOVA_SQL_P_TEXT(status),
                            NOVA_SQL_P_INT(approved_at), NOVA_SQL_P_INT(expires_at),
                            NOVA_SQL_P_TEXT(id),         NOVA_SQL_P_TEXT(tenant_id),
                            NOVA_SQL_P_TEXT(seen)};
    return write_tx(s, &Q_ACR_APPROVE, p, 7, tenant_id, audit, NOVA_CONFLICT);
}

/* ---- SCIM provisioning (migration 0017) ---- */

Q(Q_SCIM_TOK_INSERT, "INSERT INTO scim_tokens (id, tenant_id, digest, created_by, created_at) "
                     "VALUES (?, ?, ?, ?, ?)");
Q(Q_SCIM_TOK_FIND, "SELECT id FROM scim_tokens WHERE tenant_id = ? AND digest = ? "
                   "AND revoked_at = 0");
Q(Q_SCIM_TOK_REVOKE, "UPDATE scim_tokens SET revoked_at = ? WHERE id = ? AND tenant_id = ? "
                     "AND revoked_at = 0");
Q(Q_SCIM_EXT_TAKEN, "SELECT count(*) FROM people_scim_users WHERE tenant_id = ? "
                    "AND external_id = ? AND user_id <> ?");
Q(Q_SCIM_EXT_PUT, "INSERT INTO people_scim_users (user_id, tenant_id, external_id, updated_at) "
                  "VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                  "external_id = excluded.external_id, updated_at = excluded.updated_at");
Q(Q_SCIM_EXT_DELETE, "DELETE FROM people_scim_users WHERE user_id = ? AND tenant_id = ?");
Q(Q_SCIM_EXT_LIST, "SELECT user_id, external_id FROM people_scim_users WHERE tenant_id = ?");

nova_status nova_store_scim_token_create(nova_store_t *s, const char *tenant_id, const char *id,
                                         const char *digest, const char *created_by, int64_t now,
                                         const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(id) || !digest || !created_by)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id),
                            NOVA_SQL_P_TEXT(digest), NOVA_SQL_P_TEXT(created_by),
                            NOVA_SQL_P_INT(now)};
    return write_tx(s, &Q_SCIM_TOK_INSERT, p, 5, tenant_id, audit, NOVA_OK);
}

static nova_status read_first_str(nova_rows_t *r, nova_arena_t *a, void *out)
{
    return nova_store_col_str(r, 0, a, (const char **)out);
}

nova_status nova_store_scim_token_find(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                       const char *digest, const char **id)
{
    *id = NULL;
    if (!nova_store_valid_id(tenant_id) || !digest)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(digest)};
    return nova_store_get_one(s, &Q_SCIM_TOK_FIND, tenant_id, p, 2, a, read_first_str, (void *)id);
}

nova_status nova_store_scim_token_revoke(nova_store_t *s, const char *tenant_id, const char *id,
                                         int64_t now, const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    return write_tx(s, &Q_SCIM_TOK_REVOKE, p, 3, tenant_id, audit, NOVA_NOT_FOUND);
}

nova_status nova_store_scim_external_set(nova_store_t *s, const char *tenant_id,
                                         const char *user_id, const char *external_id, int64_t now,
                                         const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(user_id) || !audit_ok(tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    if (external_id) {
        int64_t taken = 0;
        nova_sql_param_t q[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(external_id),
                                NOVA_SQL_P_TEXT(user_id)};
        st = nova_store_query_int(s, &Q_SCIM_EXT_TAKEN, tenant_id, q, 3, &taken);
        if (st == NOVA_OK && taken > 0)
            st = NOVA_CONFLICT;
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(user_id), NOVA_SQL_P_TEXT(tenant_id),
                                NOVA_SQL_P_TEXT(external_id), NOVA_SQL_P_INT(now)};
        if (st == NOVA_OK)
            st = nova_store_exec_q(s, &Q_SCIM_EXT_PUT, tenant_id, p, 4, NULL);
    } else {
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(user_id), NOVA_SQL_P_TEXT(tenant_id)};
        st = nova_store_exec_q(s, &Q_SCIM_EXT_DELETE, tenant_id, p, 2, NULL);
    }
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

static nova_status read_link(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_scim_link_t *l = out;
    nova_status st = nova_store_col_str(r, 0, a, &l->user_id);
    return st ? st : nova_store_col_str(r, 1, a, &l->external_id);
}

nova_status nova_store_scim_external_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                          nova_scim_link_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q_SCIM_EXT_LIST, tenant_id, p, 1, a, read_link,
                              sizeof(nova_scim_link_t), (void **)out, n);
}
