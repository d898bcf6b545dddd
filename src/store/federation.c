/*
 * federation.c: the repositories of federation (nova/oidc_store.h, migration 0020;
 * nova/saml_store.h, migration 0025; an IdP's delete revokes the people sessions it opened,
 * migration 0026). An OIDC IdP and a SAML IdP are rows of one shape in
 * tables of their own (an id, the IdP's name -- issuer or entity ID --, a JSON config, sealed
 * bytes), and a link from an IdP's subject to a user is (tenant, IdP name, subject, user) for
 * both, so one body serves both with the statements of each protocol. Statements are
 * prepared per call (slot -1): they run at sign-in and administration rates.
 */
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/oidc_store.h"
#include "nova/saml_store.h"

#define Q(name, text) static const nova_sql_t name = {-1, #name, text, NULL}

/* The statements of one protocol, columns in the order of nova_oidc_idp_row_t. */
typedef struct fed_sql {
    const nova_sql_t *idp_insert, *idp_taken, *idp_get, *idp_list, *idp_update;
    const nova_sql_t *idp_delete;
    const nova_sql_t *link_get, *link_taken, *link_put;
} fed_sql;

#define OIDC_COLS "id, tenant_id, issuer, config, secret_sealed, created_at, updated_at"
Q(Q_OIDC_INSERT, "INSERT INTO people_oidc_idps (" OIDC_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?)");
Q(Q_OIDC_TAKEN, "SELECT count(*) FROM people_oidc_idps WHERE tenant_id = ? AND issuer = ?");
Q(Q_OIDC_GET, "SELECT " OIDC_COLS " FROM people_oidc_idps WHERE id = ? AND tenant_id = ?");
Q(Q_OIDC_LIST, "SELECT " OIDC_COLS " FROM people_oidc_idps WHERE tenant_id = ? "
               "ORDER BY created_at, id LIMIT 100");
Q(Q_OIDC_UPDATE, "UPDATE people_oidc_idps SET config = ?, secret_sealed = ?, updated_at = ? "
                 "WHERE id = ? AND tenant_id = ?");
Q(Q_OIDC_DELETE, "DELETE FROM people_oidc_idps WHERE id = ? AND tenant_id = ?");
Q(Q_OIDC_LINK_GET, "SELECT user_id FROM people_oidc_links WHERE tenant_id = ? AND issuer = ? "
                   "AND sub = ?");
Q(Q_OIDC_LINK_TAKEN, "SELECT count(*) FROM people_oidc_links WHERE tenant_id = ? AND issuer = ? "
                     "AND sub = ?");
Q(Q_OIDC_LINK_PUT, "INSERT INTO people_oidc_links (tenant_id, issuer, sub, user_id, created_at) "
                   "VALUES (?, ?, ?, ?, ?)");
static const fed_sql oidc_sql = {&Q_OIDC_INSERT,   &Q_OIDC_TAKEN,      &Q_OIDC_GET,
                                 &Q_OIDC_LIST,     &Q_OIDC_UPDATE,     &Q_OIDC_DELETE,
                                 &Q_OIDC_LINK_GET, &Q_OIDC_LINK_TAKEN, &Q_OIDC_LINK_PUT};

#define SAML_COLS "id, tenant_id, entity_id, config, key_sealed, created_at, updated_at"
Q(Q_SAML_INSERT, "INSERT INTO people_saml_idps (" SAML_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?)");
Q(Q_SAML_TAKEN, "SELECT count(*) FROM people_saml_idps WHERE tenant_id = ? AND entity_id = ?");
Q(Q_SAML_GET, "SELECT " SAML_COLS " FROM people_saml_idps WHERE id = ? AND tenant_id = ?");
Q(Q_SAML_LIST, "SELECT " SAML_COLS " FROM people_saml_idps WHERE tenant_id = ? "
               "ORDER BY created_at, id LIMIT 100");
Q(Q_SAML_UPDATE, "UPDATE people_saml_idps SET config = ?, key_sealed = ?, updated_at = ? "
                 "WHERE id = ? AND tenant_id = ?");
Q(Q_SAML_DELETE, "DELETE FROM people_saml_idps WHERE id = ? AND tenant_id = ?");
Q(Q_SAML_LINK_GET, "SELECT user_id FROM people_saml_links WHERE tenant_id = ? "
                   "AND entity_id = ? AND name_id = ?");
Q(Q_SAML_LINK_TAKEN, "SELECT count(*) FROM people_saml_links WHERE tenant_id = ? "
                     "AND entity_id = ? AND name_id = ?");
Q(Q_SAML_LINK_PUT, "INSERT INTO people_saml_links (tenant_id, entity_id, name_id, user_id, "
                   "created_at) VALUES (?, ?, ?, ?, ?)");
static const fed_sql saml_sql = {&Q_SAML_INSERT,   &Q_SAML_TAKEN,      &Q_SAML_GET,
                                 &Q_SAML_LIST,     &Q_SAML_UPDATE,     &Q_SAML_DELETE,
                                 &Q_SAML_LINK_GET, &Q_SAML_LINK_TAKEN, &Q_SAML_LINK_PUT};

static bool audit_ok(const char *tenant_id, const nova_audit_entry_t *audit)
{
    return nova_store_valid_id(tenant_id) && nova_store_audit_for(audit, tenant_id);
}

static nova_status finish(nova_store_t *s, nova_status st)
{
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

static nova_status read_idp(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_oidc_idp_row_t *o = out;
    nova_status st;
    memset(o, 0, sizeof(*o));
    if ((st = nova_store_col_str(r, 0, a, &o->id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 1, a, &o->tenant_id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 2, a, &o->issuer)) != NOVA_OK ||
        (st = nova_store_col_str(r, 3, a, &o->config)) != NOVA_OK ||
        (st = nova_store_col_blob(r, 4, a, &o->secret_sealed, &o->secret_sealed_len)) != NOVA_OK)
        return st;
    o->created_at = r->s->drv->col_int64(r, 5);
    o->updated_at = r->s->drv->col_int64(r, 6);
    return NOVA_OK;
}

static nova_sql_param_t secret_param(const nova_oidc_idp_row_t *row)
{
    return row->secret_sealed ? NOVA_SQL_P_BLOB(row->secret_sealed, row->secret_sealed_len)
                              : NOVA_SQL_P_TEXT(NULL); /* binds SQL NULL */
}

static nova_status fed_idp_create(const fed_sql *f, nova_store_t *s, const nova_oidc_idp_row_t *row,
                                  const nova_audit_entry_t *audit)
{
    if (!row || !nova_store_valid_id(row->id) || !row->issuer || !row->config ||
        !audit_ok(row->tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, row->tenant_id);
    if (st != NOVA_OK)
        return st;
    int64_t taken = 0;
    nova_sql_param_t q[] = {NOVA_SQL_P_TEXT(row->tenant_id), NOVA_SQL_P_TEXT(row->issuer)};
    st = nova_store_query_int(s, f->idp_taken, row->tenant_id, q, 2, &taken);
    if (st == NOVA_OK && taken > 0)
        st = NOVA_CONFLICT;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(row->id),
                            NOVA_SQL_P_TEXT(row->tenant_id),
                            NOVA_SQL_P_TEXT(row->issuer),
                            NOVA_SQL_P_TEXT(row->config),
                            secret_param(row),
                            NOVA_SQL_P_INT(row->created_at),
                            NOVA_SQL_P_INT(row->updated_at)};
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, f->idp_insert, NULL, p, 7, NULL);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

static nova_status fed_idp_get(const fed_sql *f, nova_store_t *s, nova_arena_t *a,
                               const char *tenant_id, const char *id, nova_oidc_idp_row_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    nova_rows_t r;
    nova_status st = s->drv->query(s, f->idp_get, tenant_id, p, 2, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK)
        st = read_idp(&r, a, out);
    s->drv->done(&r);
    return st;
}

static nova_status fed_idp_list(const fed_sql *f, nova_store_t *s, nova_arena_t *a,
                                const char *tenant_id, nova_oidc_idp_row_t **out, size_t *n)
{
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, f->idp_list, tenant_id, p, 1, a, read_idp,
                              sizeof(nova_oidc_idp_row_t), (void **)out, n);
}

static nova_status fed_idp_update(const fed_sql *f, nova_store_t *s, const nova_oidc_idp_row_t *row,
                                  const nova_audit_entry_t *audit)
{
    if (!row || !nova_store_valid_id(row->id) || !row->config || !audit_ok(row->tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, row->tenant_id);
    if (st != NOVA_OK)
        return st;
    int64_t changed = 0;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(row->config), secret_param(row),
                            NOVA_SQL_P_INT(row->updated_at), NOVA_SQL_P_TEXT(row->id),
                            NOVA_SQL_P_TEXT(row->tenant_id)};
    st = nova_store_exec_q(s, f->idp_update, NULL, p, 5, &changed);
    if (st == NOVA_OK && changed != 1)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

static nova_status fed_idp_delete(const fed_sql *f, nova_store_t *s, nova_arena_t *a,
                                  const char *tenant_id, const char *id, int64_t now,
                                  const nova_audit_entry_t *audit, const char ***revoked,
                                  size_t *nrevoked)
{
    const char **ids = NULL;
    size_t n = 0;
    *revoked = NULL;
    *nrevoked = 0;
    if (!nova_store_valid_id(id) || !audit_ok(tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    int64_t changed = 0;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    st = nova_store_exec_q(s, f->idp_delete, NULL, p, 2, &changed);
    if (st == NOVA_OK && changed != 1)
        st = NOVA_NOT_FOUND;
    /* The sessions it opened end with it, in the same transaction: a session opened after this
     * commit finds no IdP row (people_fed_login looks again once its session is open). */
    if (st == NOVA_OK)
        st = nova_store_people_revoke_idp_tx(s, a, tenant_id, id, NULL, NULL, "idp_deleted", now,
                                             &ids, &n);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    st = finish(s, st);
    if (st == NOVA_OK) {
        *revoked = ids;
        *nrevoked = n;
    }
    return st;
}

static nova_status fed_link_get(const fed_sql *f, nova_store_t *s, nova_arena_t *a,
                                const char *tenant_id, const char *issuer, const char *sub,
                                const char **user_id)
{
    *user_id = NULL;
    if (!nova_store_valid_id(tenant_id) || !issuer || !sub)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(issuer),
                            NOVA_SQL_P_TEXT(sub)};
    nova_rows_t r;
    nova_status st = s->drv->query(s, f->link_get, tenant_id, p, 3, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK)
        st = nova_store_col_str(&r, 0, a, user_id);
    s->drv->done(&r);
    return st;
}

static nova_status fed_link_put(const fed_sql *f, nova_store_t *s, const char *tenant_id,
                                const char *issuer, const char *sub, const char *user_id,
                                int64_t now, const nova_audit_entry_t *audit)
{
    if (!issuer || !sub || !nova_store_valid_id(user_id) || !audit_ok(tenant_id, audit))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    int64_t taken = 0;
    nova_sql_param_t q[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(issuer),
                            NOVA_SQL_P_TEXT(sub)};
    st = nova_store_query_int(s, f->link_taken, tenant_id, q, 3, &taken);
    if (st == NOVA_OK && taken > 0)
        st = NOVA_CONFLICT;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(issuer),
                            NOVA_SQL_P_TEXT(sub), NOVA_SQL_P_TEXT(user_id), NOVA_SQL_P_INT(now)};
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, f->link_put, NULL, p, 5, NULL);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    return finish(s, st);
}

nova_status nova_store_oidc_idp_create(nova_store_t *s, const nova_oidc_idp_row_t *row,
                                       const nova_audit_entry_t *audit)
{
    return fed_idp_create(&oidc_sql, s, row, audit);
}
nova_status nova_store_oidc_idp_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                    const char *id, nova_oidc_idp_row_t *out)
{
    return fed_idp_get(&oidc_sql, s, a, tenant_id, id, out);
}
nova_status nova_store_oidc_idp_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     nova_oidc_idp_row_t **out, size_t *n)
{
    return fed_idp_list(&oidc_sql, s, a, tenant_id, out, n);
}
nova_status nova_store_oidc_idp_update(nova_store_t *s, const nova_oidc_idp_row_t *row,
                                       const nova_audit_entry_t *audit)
{
    return fed_idp_update(&oidc_sql, s, row, audit);
}
nova_status nova_store_oidc_idp_delete(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                       const char *id, int64_t now, const nova_audit_entry_t *audit,
                                       const char ***revoked, size_t *nrevoked)
{
    return fed_idp_delete(&oidc_sql, s, a, tenant_id, id, now, audit, revoked, nrevoked);
}
nova_status nova_store_oidc_link_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     const char *issuer, const char *sub, const char **user_id)
{
    return fed_link_get(&oidc_sql, s, a, tenant_id, issuer, sub, user_id);
}
nova_status nova_store_oidc_link_put(nova_store_t *s, const char *tenant_id, const char *issuer,
                                     const char *sub, const char *user_id, int64_t now,
                                     const nova_audit_entry_t *audit)
{
    return fed_link_put(&oidc_sql, s, tenant_id, issuer, sub, user_id, now, audit);
}

nova_status nova_store_saml_idp_create(nova_store_t *s, const nova_saml_idp_row_t *row,
                                       const nova_audit_entry_t *audit)
{
    return fed_idp_create(&saml_sql, s, row, audit);
}
nova_status nova_store_saml_idp_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                    const char *id, nova_saml_idp_row_t *out)
{
    return fed_idp_get(&saml_sql, s, a, tenant_id, id, out);
}
nova_status nova_store_saml_idp_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     nova_saml_idp_row_t **out, size_t *n)
{
    return fed_idp_list(&saml_sql, s, a, tenant_id, out, n);
}
nova_status nova_store_saml_idp_update(nova_store_t *s, const nova_saml_idp_row_t *row,
                                       const nova_audit_entry_t *audit)
{
    return fed_idp_update(&saml_sql, s, row, audit);
}
nova_status nova_store_saml_idp_delete(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                       const char *id, int64_t now, const nova_audit_entry_t *audit,
                                       const char ***revoked, size_t *nrevoked)
{
    return fed_idp_delete(&saml_sql, s, a, tenant_id, id, now, audit, revoked, nrevoked);
}
nova_status nova_store_saml_link_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     const char *entity_id, const char *name_id,
                                     const char **user_id)
{
    return fed_link_get(&saml_sql, s, a, tenant_id, entity_id, name_id, user_id);
}
nova_status nova_store_saml_link_put(nova_store_t *s, const char *tenant_id, const char *entity_id,
                                     const char *name_id, const char *user_id, int64_t now,
                                     const nova_audit_entry_t *audit)
{
    return fed_link_put(&saml_sql, s, tenant_id, entity_id, name_id, user_id, now, audit);
}
