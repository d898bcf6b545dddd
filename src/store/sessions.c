/*
 * sessions.c: the repository of sessions and refresh tokens (nova/session_store.h).
 *
 * Rotation is one write transaction. On SQLite it is BEGIN IMMEDIATE, so rotations of one
 * database run one at a time. On PostgreSQL two rotations of the same token both read it
 * unused; the first UPDATE ... WHERE used_at = 0 takes the row lock, and the second, once the
 * first commits, re-checks the condition, changes nothing and so sees a reuse. Either way
 * exactly one presentation of a refresh token succeeds.
 */
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/session_store.h"

#define SES_COLS                                                                                   \
    "id, tenant_id, kind, client_id, subject, scope, audience, created_at, expires_at, "           \
    "revoked_at, revoked_reason"

static const nova_sql_t Q_SES_INSERT = {
    NOVA_Q_SES_INSERT, "session insert",
    "INSERT INTO sessions (" SES_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '')", NULL};
static const nova_sql_t Q_RT_INSERT = {
    NOVA_Q_RT_INSERT, "refresh token insert",
    "INSERT INTO refresh_tokens (digest, tenant_id, session_id, created_at) VALUES (?, ?, ?, ?)",
    NULL};
static const nova_sql_t Q_RT_FIND = {
    NOVA_Q_RT_FIND, "refresh token find",
    "SELECT r.used_at, s.id, s.tenant_id, s.kind, s.client_id, s.subject, s.scope, s.audience, "
    "s.created_at, s.expires_at, s.revoked_at, s.revoked_reason FROM refresh_tokens r "
    "JOIN sessions s ON s.id = r.session_id AND s.tenant_id = r.tenant_id "
    "WHERE r.digest = ? AND r.tenant_id = ?",
    NULL};
static const nova_sql_t Q_RT_USE = {NOVA_Q_RT_USE, "refresh token use",
                                    "UPDATE refresh_tokens SET used_at = ? "
                                    "WHERE digest = ? AND tenant_id = ? AND used_at = 0",
                                    NULL};
static const nova_sql_t Q_SES_REVOKE = {NOVA_Q_SES_REVOKE, "session revoke",
                                        "UPDATE sessions SET revoked_at = ?, revoked_reason = ? "
                                        "WHERE id = ? AND tenant_id = ? AND revoked_at = 0",
                                        NULL};
static const nova_sql_t Q_SES_REVOKE_ALL = {
    NOVA_Q_SES_REVOKE_ALL, "session revoke all",
    "UPDATE sessions SET revoked_at = ?, revoked_reason = ? "
    "WHERE tenant_id = ? AND revoked_at = 0",
    NULL};
static const nova_sql_t Q_SES_GET = {
    NOVA_Q_SES_GET, "session get",
    "SELECT " SES_COLS " FROM sessions WHERE id = ? AND tenant_id = ?", NULL};
static const nova_sql_t Q_SES_RESOLVE = {
    NOVA_Q_SES_RESOLVE, "session token resolve",
    "SELECT t.id, t.name, t.created_at FROM tenants t WHERE t.id = ? "
    "AND EXISTS (SELECT 1 FROM clients WHERE id = ? AND tenant_id = t.id AND revoked_at = 0) "
    "AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ? AND tenant_id = t.id) "
    "AND EXISTS (SELECT 1 FROM sessions WHERE id = ? AND tenant_id = t.id AND revoked_at = 0 "
    "AND expires_at > ?) "
    "AND EXISTS (SELECT 1 FROM signing_keys WHERE kid = ? AND tenant_id = t.id "
    "AND " NOVA_SQL_KEY_LIVE ")",
    NULL};

/* Reads SES_COLS starting at column first. */
static nova_status read_session(nova_rows_t *r, int first, nova_arena_t *a, nova_session_t *o)
{
    const nova_store_driver_t *d = r->s->drv;
    nova_status st;
    const char **strs[] = {&o->id,      &o->tenant_id, &o->kind,    &o->client_id,
                           &o->subject, &o->scope,     &o->audience};
    for (int i = 0; i < 7; i++)
        if ((st = nova_store_col_str(r, first + i, a, strs[i])) != NOVA_OK)
            return st;
    o->created_at = d->col_int64(r, first + 7);
    o->expires_at = d->col_int64(r, first + 8);
    o->revoked_at = d->col_int64(r, first + 9);
    return nova_store_col_str(r, first + 10, a, &o->revoked_reason);
}

nova_status nova_store_session_create(nova_store_t *s, const nova_session_t *ses,
                                      const char *rt_digest, const nova_audit_entry_t *audit)
{
    if (!ses || !nova_store_valid_id(ses->tenant_id) || !nova_store_valid_id(ses->id) ||
        !rt_digest || !audit || !audit->tenant_id || strcmp(audit->tenant_id, ses->tenant_id) != 0)
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, ses->tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(ses->id),       NOVA_SQL_P_TEXT(ses->tenant_id),
                            NOVA_SQL_P_TEXT(ses->kind),     NOVA_SQL_P_TEXT(ses->client_id),
                            NOVA_SQL_P_TEXT(ses->subject),  NOVA_SQL_P_TEXT(ses->scope),
                            NOVA_SQL_P_TEXT(ses->audience), NOVA_SQL_P_INT(ses->created_at),
                            NOVA_SQL_P_INT(ses->expires_at)};
    nova_sql_param_t rp[] = {NOVA_SQL_P_TEXT(rt_digest), NOVA_SQL_P_TEXT(ses->tenant_id),
                             NOVA_SQL_P_TEXT(ses->id), NOVA_SQL_P_INT(ses->created_at)};
    st = nova_store_exec_q(s, &Q_SES_INSERT, NULL, p, 9, NULL);
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_RT_INSERT, NULL, rp, 4, NULL);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

nova_status nova_store_session_rotate(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      const char *old_digest, const char *new_digest, int64_t now,
                                      nova_session_audit_fn build_audit, void *ud,
                                      nova_session_t *out, nova_rotate_outcome *outcome)
{
    nova_rows_t r;
    int64_t used = 0, changed = 0;

    *outcome = NOVA_ROTATE_INVALID;
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
            st = read_session(&r, 1, a, out);
        }
        s->drv->done(&r);
    }
    if (st == NOVA_NOT_FOUND || (st == NOVA_OK && (out->revoked_at != 0 || out->expires_at <= now)))
        goto invalid; /* unknown, or its family is over: nothing to record */
    if (st != NOVA_OK)
        goto error;
    if (used == 0) {
        nova_sql_param_t up[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(old_digest),
                                 NOVA_SQL_P_TEXT(tenant_id)};
        if ((st = nova_store_exec_q(s, &Q_RT_USE, NULL, up, 3, &changed)) != NOVA_OK)
            goto error;
    }
    if (changed == 1) {
        nova_sql_param_t ip[] = {NOVA_SQL_P_TEXT(new_digest), NOVA_SQL_P_TEXT(tenant_id),
                                 NOVA_SQL_P_TEXT(out->id), NOVA_SQL_P_INT(now)};
        if ((st = nova_store_exec_q(s, &Q_RT_INSERT, NULL, ip, 4, NULL)) != NOVA_OK)
            goto error;
        *outcome = NOVA_ROTATE_OK;
    } else {
        /* Presented again after its rotation, or beaten to it by a concurrent presentation:
         * someone else holds this family's tokens. End the family. */
        nova_sql_param_t vp[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT("refresh_reuse"),
                                 NOVA_SQL_P_TEXT(out->id), NOVA_SQL_P_TEXT(tenant_id)};
        if ((st = nova_store_exec_q(s, &Q_SES_REVOKE, NULL, vp, 4, NULL)) != NOVA_OK)
            goto error;
        out->revoked_at = now;
        out->revoked_reason = "refresh_reuse";
        *outcome = NOVA_ROTATE_REUSED;
    }
    const nova_audit_entry_t *e = build_audit(out, *outcome == NOVA_ROTATE_REUSED, ud);
    if (e == NULL) {
        st = NOVA_NOMEM;
        goto error;
    }
    if ((st = nova_store_audit_append_tx(s, e, NULL, NULL)) != NOVA_OK)
        goto error;
    return nova_store_tx_commit(s);
invalid:
    nova_store_tx_rollback(s);
    *outcome = NOVA_ROTATE_INVALID;
    return NOVA_OK;
error:
    nova_store_tx_rollback(s);
    *outcome = NOVA_ROTATE_INVALID;
    return st;
}

static nova_status revoke(nova_store_t *s, const nova_sql_t *q, nova_sql_param_t *p, int n,
                          const char *tenant_id, const nova_audit_entry_t *audit, bool need_one,
                          int64_t *changed)
{
    if (!nova_store_valid_id(tenant_id) || !audit || !audit->tenant_id ||
        strcmp(audit->tenant_id, tenant_id) != 0)
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    st = nova_store_exec_q(s, q, NULL, p, n, changed);
    if (st == NOVA_OK && need_one && *changed == 0)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

nova_status nova_store_session_revoke(nova_store_t *s, const char *tenant_id,
                                      const char *session_id, const char *reason, int64_t now,
                                      const nova_audit_entry_t *audit)
{
    int64_t changed = 0;
    if (!session_id || !reason || now <= 0)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(reason),
                            NOVA_SQL_P_TEXT(session_id), NOVA_SQL_P_TEXT(tenant_id)};
    return revoke(s, &Q_SES_REVOKE, p, 4, tenant_id, audit, true, &changed);
}

nova_status nova_store_session_revoke_all(nova_store_t *s, const char *tenant_id,
                                          const char *reason, int64_t now,
                                          const nova_audit_entry_t *audit, int64_t *n)
{
    int64_t changed = 0;
    if (!reason || now <= 0)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(reason),
                            NOVA_SQL_P_TEXT(tenant_id)};
    nova_status st = revoke(s, &Q_SES_REVOKE_ALL, p, 3, tenant_id, audit, false, &changed);
    if (n)
        *n = changed;
    return st;
}

nova_status nova_store_session_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   const char *session_id, nova_session_t *out)
{
    nova_rows_t r;
    if (!nova_store_valid_id(tenant_id) || !session_id)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(session_id), NOVA_SQL_P_TEXT(tenant_id)};
    nova_status st = s->drv->query(s, &Q_SES_GET, tenant_id, p, 2, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK)
        st = read_session(&r, 0, a, out);
    s->drv->done(&r);
    return st;
}

nova_status nova_store_session_token_resolve(nova_store_t *s, nova_arena_t *a,
                                             const char *tenant_id, const char *client_id,
                                             const char *jti, const char *session_id,
                                             const char *kid, int64_t now, nova_tenant_t *out)
{
    nova_rows_t r;
    if (!nova_store_valid_id(tenant_id) || !client_id || !jti || !session_id || !kid)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(client_id),
                            NOVA_SQL_P_TEXT(jti),       NOVA_SQL_P_TEXT(session_id),
                            NOVA_SQL_P_INT(now),        NOVA_SQL_P_TEXT(kid),
                            NOVA_SQL_P_INT(now)};
    nova_status st = s->drv->query(s, &Q_SES_RESOLVE, tenant_id, p, 7, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK && (st = nova_store_col_str(&r, 0, a, &out->id)) == NOVA_OK &&
        (st = nova_store_col_str(&r, 1, a, &out->name)) == NOVA_OK)
        out->created_at = s->drv->col_int64(&r, 2);
    s->drv->done(&r);
    return st;
}
