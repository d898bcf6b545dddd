/*
 * policy.c: the relationship engine's repository (nova/policy_store.h).
 *
 * Every statement filters on tenant_id itself; on PostgreSQL row-level security is the second
 * fence. A tuple write locks the store's row first (UPDATE of updated_at: the row lock on
 * PostgreSQL, inside BEGIN IMMEDIATE on SQLite), which also proves the store is live, then
 * takes seq = MAX + 1 for each change: writers of one store run one at a time, so the feed
 * commits in seq order.
 */
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/policy_store.h"

#define STORE_COLS "id, tenant_id, name, created_at, updated_at"
#define MODEL_COLS "id, store_id, tenant_id, schema_version, json, created_at"
#define TUPLE_COLS "object, relation, \"user\", condition_name, condition_context, ulid, created_at"

static const nova_sql_t Q_STORE_INSERT = {
    NOVA_Q_FGA_STORE_INSERT, "fga store insert",
    "INSERT INTO fga_stores (" STORE_COLS ", deleted_at) VALUES (?, ?, ?, ?, ?, 0)", NULL};
static const nova_sql_t Q_STORE_GET = {
    NOVA_Q_FGA_STORE_GET, "fga store get",
    "SELECT " STORE_COLS " FROM fga_stores WHERE id = ? AND tenant_id = ? AND deleted_at = 0",
    NULL};
/* A live store with, in the same read, its latest model id ("" when none) and its change
 * feed's head: what every query route needs before it evaluates. */
static const nova_sql_t Q_STORE_STATE = {
    NOVA_Q_FGA_STORE_STATE, "fga store state",
    "SELECT s.id, s.tenant_id, s.name, s.created_at, s.updated_at, "
    "COALESCE((SELECT m.id FROM fga_models m WHERE m.store_id = s.id AND m.tenant_id = s.tenant_id "
    "ORDER BY m.id DESC LIMIT 1), ''), "
    "COALESCE((SELECT MAX(c.seq) FROM fga_changes c WHERE c.store_id = s.id "
    "AND c.tenant_id = s.tenant_id), 0) "
    "FROM fga_stores s WHERE s.id = ? AND s.tenant_id = ? AND s.deleted_at = 0",
    NULL};
static const nova_sql_t Q_STORE_LIST = {NOVA_Q_FGA_STORE_LIST, "fga store list",
                                        "SELECT " STORE_COLS " FROM fga_stores "
                                        "WHERE tenant_id = ? AND deleted_at = 0 AND id > ? "
                                        "ORDER BY id LIMIT ?",
                                        NULL};
static const nova_sql_t Q_STORE_DELETE = {NOVA_Q_FGA_STORE_DELETE, "fga store delete",
                                          "UPDATE fga_stores SET deleted_at = ?, updated_at = ? "
                                          "WHERE id = ? AND tenant_id = ? AND deleted_at = 0",
                                          NULL};
/* Takes the store's row lock for the transaction and proves the store live. */
static const nova_sql_t Q_STORE_TOUCH = {NOVA_Q_FGA_STORE_TOUCH, "fga store touch",
                                         "UPDATE fga_stores SET updated_at = ? "
                                         "WHERE id = ? AND tenant_id = ? AND deleted_at = 0",
                                         NULL};
static const nova_sql_t Q_MODEL_INSERT = {
    NOVA_Q_FGA_MODEL_INSERT, "fga model insert",
    "INSERT INTO fga_models (" MODEL_COLS ") VALUES (?, ?, ?, ?, ?, ?)", NULL};
static const nova_sql_t Q_MODEL_GET = {
    NOVA_Q_FGA_MODEL_GET, "fga model get",
    "SELECT " MODEL_COLS " FROM fga_models WHERE id = ? AND store_id = ? AND tenant_id = ?", NULL};
static const nova_sql_t Q_MODEL_LIST = {
    NOVA_Q_FGA_MODEL_LIST, "fga model list",
    "SELECT " MODEL_COLS " FROM fga_models WHERE store_id = ? AND tenant_id = ? "
    "AND (CAST(? AS TEXT) = '' OR id < ?) ORDER BY id DESC LIMIT ?",
    NULL};
static const nova_sql_t Q_TUPLE_INSERT = {
    NOVA_Q_FGA_TUPLE_INSERT, "fga tuple insert",
    "INSERT INTO fga_tuples (store_id, tenant_id, " TUPLE_COLS
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    NULL};
static const nova_sql_t Q_TUPLE_GET = {
    NOVA_Q_FGA_TUPLE_GET, "fga tuple get",
    "SELECT condition_name, condition_context FROM fga_tuples "
    "WHERE store_id = ? AND tenant_id = ? AND object = ? AND relation = ? AND \"user\" = ?",
    NULL};
static const nova_sql_t Q_TUPLE_DELETE = {
    NOVA_Q_FGA_TUPLE_DELETE, "fga tuple delete",
    "DELETE FROM fga_tuples "
    "WHERE store_id = ? AND tenant_id = ? AND object = ? AND relation = ? AND \"user\" = ?",
    NULL};
static const nova_sql_t Q_TUPLE_READ = {
    NOVA_Q_FGA_TUPLE_READ, "fga tuple read",
    "SELECT " TUPLE_COLS " FROM fga_tuples WHERE store_id = ? AND tenant_id = ? "
    "AND (CAST(? AS TEXT) = '' OR object = ?) "
    "AND (CAST(? AS TEXT) = '' OR substr(object, 1, length(CAST(? AS TEXT))) = ?) "
    "AND (CAST(? AS TEXT) = '' OR relation = ?) AND (CAST(? AS TEXT) = '' OR \"user\" = ?) "
    "AND (object, relation, \"user\") > (?, ?, ?) "
    "ORDER BY object, relation, \"user\" LIMIT ?",
    NULL};
static const nova_sql_t Q_TUPLE_SCAN = {
    NOVA_Q_FGA_TUPLE_SCAN, "fga tuple scan",
    "SELECT " TUPLE_COLS " FROM fga_tuples WHERE store_id = ? AND tenant_id = ?", NULL};
static const nova_sql_t Q_CHANGE_HEAD = {
    NOVA_Q_FGA_CHANGE_HEAD, "fga change head",
    "SELECT COALESCE(MAX(seq), 0) FROM fga_changes WHERE store_id = ? AND tenant_id = ?", NULL};
static const nova_sql_t Q_CHANGE_INSERT = {
    NOVA_Q_FGA_CHANGE_INSERT, "fga change insert",
    "INSERT INTO fga_changes (store_id, tenant_id, seq, op, tuple, ts) VALUES (?, ?, ?, ?, ?, ?)",
    NULL};
static const nova_sql_t Q_CHANGE_LIST = {
    NOVA_Q_FGA_CHANGE_LIST, "fga change list",
    "SELECT seq, op, tuple, ts FROM fga_changes WHERE store_id = ? AND tenant_id = ? "
    "AND seq > ? AND ts >= ? ORDER BY seq LIMIT ?",
    NULL};
static const nova_sql_t Q_ASSERT_PUT = {
    NOVA_Q_FGA_ASSERT_PUT, "fga assertions put",
    "INSERT INTO fga_assertions (store_id, tenant_id, model_id, json, updated_at) "
    "SELECT m.store_id, m.tenant_id, m.id, CAST(? AS TEXT), CAST(? AS BIGINT) FROM fga_models m "
    "WHERE m.id = ? AND m.store_id = ? AND m.tenant_id = ? "
    "ON CONFLICT (store_id, model_id) DO UPDATE SET json = excluded.json, "
    "updated_at = excluded.updated_at",
    NULL};
static const nova_sql_t Q_ASSERT_GET = {NOVA_Q_FGA_ASSERT_GET, "fga assertions get",
                                        "SELECT json FROM fga_assertions "
                                        "WHERE store_id = ? AND model_id = ? AND tenant_id = ?",
                                        NULL};

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* Runs one statement and the audit append in a write transaction; NOVA_NOT_FOUND when the
 * statement changed no row. */
static nova_status exec_audited(nova_store_t *s, const char *tenant_id, const nova_sql_t *q,
                                const nova_sql_param_t *p, int n, const nova_audit_entry_t *audit)
{
    nova_store_stmt_t x = {q, p, n, NOVA_NOT_FOUND, NOVA_OK};
    return nova_store_exec_audited(s, tenant_id, &x, 1, audit);
}

static nova_status read_store(nova_rows_t *r, nova_arena_t *a, nova_fga_store_t *o)
{
    nova_status st;
    if ((st = nova_store_col_str(r, 0, a, &o->id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 1, a, &o->tenant_id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 2, a, &o->name)) != NOVA_OK)
        return st;
    o->created_at = r->s->drv->col_int64(r, 3);
    o->updated_at = r->s->drv->col_int64(r, 4);
    return NOVA_OK;
}

static nova_status read_model(nova_rows_t *r, nova_arena_t *a, nova_fga_model_t *o)
{
    nova_status st;
    const char **strs[] = {&o->id, &o->store_id, &o->tenant_id, &o->schema_version, &o->json};
    for (int i = 0; i < 5; i++)
        if ((st = nova_store_col_str(r, i, a, strs[i])) != NOVA_OK)
            return st;
    o->created_at = r->s->drv->col_int64(r, 5);
    return NOVA_OK;
}

static nova_status read_tuple(nova_rows_t *r, nova_arena_t *a, nova_fga_tuple_t *o)
{
    nova_status st;
    const char **strs[] = {&o->object,    &o->relation, &o->user,
                           &o->condition, &o->context,  &o->ulid};
    for (int i = 0; i < 6; i++)
        if ((st = nova_store_col_str(r, i, a, strs[i])) != NOVA_OK)
            return st;
    o->change = NULL;
    o->created_at = r->s->drv->col_int64(r, 6);
    return NOVA_OK;
}

/* Runs q and reads up to limit rows of size elem with fn into an arena array. */
typedef nova_status (*row_fn)(nova_rows_t *r, nova_arena_t *a, void *elem);
static nova_status read_rows(nova_store_t *s, nova_arena_t *a, const nova_sql_t *q,
                             const char *tenant, const nova_sql_param_t *p, int n, size_t limit,
                             size_t size, row_fn fn, void **out, size_t *count)
{
    nova_rows_t r;
    *out = NULL;
    *count = 0;
    char *arr = limit ? nova_arena_alloc(a, limit * size) : NULL;
    if (limit && arr == NULL)
        return NOVA_NOMEM;
    nova_status st = s->drv->query(s, q, tenant, p, n, &r);
    if (st != NOVA_OK)
        return st;
    while (*count < limit && (st = s->drv->next(&r)) == NOVA_OK) {
        if ((st = fn(&r, a, arr + *count * size)) != NOVA_OK)
            break;
        (*count)++;
    }
    s->drv->done(&r);
    if (st != NOVA_OK && st != NOVA_NOT_FOUND)
        return st;
    *out = arr;
    return NOVA_OK;
}

/* ---- stores ---- */

nova_status nova_store_fga_store_create(nova_store_t *s, const nova_fga_store_t *fs,
                                        const nova_audit_entry_t *audit)
{
    if (!fs || !nova_store_valid_id(fs->tenant_id) || !nova_store_valid_id(fs->id) || !fs->name ||
        !nova_store_audit_for(audit, fs->tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(fs->id), NOVA_SQL_P_TEXT(fs->tenant_id),
                            NOVA_SQL_P_TEXT(fs->name), NOVA_SQL_P_INT(fs->created_at),
                            NOVA_SQL_P_INT(fs->updated_at)};
    return exec_audited(s, fs->tenant_id, &Q_STORE_INSERT, p, 5, audit);
}

nova_status nova_store_fga_store_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     const char *id, nova_fga_store_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    nova_fga_store_t *rows;
    size_t n;
    nova_status st = read_rows(s, a, &Q_STORE_GET, tenant_id, p, 2, 1, sizeof(*rows),
                               (row_fn)read_store, (void **)&rows, &n);
    if (st != NOVA_OK)
        return st;
    if (n == 0)
        return NOVA_NOT_FOUND;
    *out = rows[0];
    return NOVA_OK;
}

typedef struct store_state_row {
    nova_fga_store_t st;
    const char *latest_model;
    int64_t head;
} store_state_row_t;

static nova_status read_store_state(nova_rows_t *r, nova_arena_t *a, store_state_row_t *o)
{
    nova_status st = read_store(r, a, &o->st);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 5, a, &o->latest_model);
    o->head = r->s->drv->col_int64(r, 6);
    return st;
}

nova_status nova_store_fga_store_state(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                       const char *id, nova_fga_store_t *out,
                                       const char **latest_model, int64_t *head)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(tenant_id)};
    store_state_row_t *rows;
    size_t n;
    nova_status st = read_rows(s, a, &Q_STORE_STATE, tenant_id, p, 2, 1, sizeof(*rows),
                               (row_fn)read_store_state, (void **)&rows, &n);
    if (st != NOVA_OK)
        return st;
    if (n == 0)
        return NOVA_NOT_FOUND;
    *out = rows[0].st;
    *latest_model = rows[0].latest_model;
    *head = rows[0].head;
    return NOVA_OK;
}

nova_status nova_store_fga_store_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      const char *after, size_t limit, nova_fga_store_t **out,
                                      size_t *n)
{
    if (!nova_store_valid_id(tenant_id) || limit == 0 || limit > 1000)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(or_empty(after)),
                            NOVA_SQL_P_INT((int64_t)limit)};
    return read_rows(s, a, &Q_STORE_LIST, tenant_id, p, 3, limit, sizeof(**out), (row_fn)read_store,
                     (void **)out, n);
}

nova_status nova_store_fga_store_delete(nova_store_t *s, const char *tenant_id, const char *id,
                                        int64_t now, const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id) ||
        !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(id),
                            NOVA_SQL_P_TEXT(tenant_id)};
    return exec_audited(s, tenant_id, &Q_STORE_DELETE, p, 4, audit);
}

/* ---- models ---- */

nova_status nova_store_fga_model_insert(nova_store_t *s, const nova_fga_model_t *m,
                                        const nova_audit_entry_t *audit)
{
    if (!m || !nova_store_valid_id(m->tenant_id) || !nova_store_valid_id(m->id) ||
        !nova_store_valid_id(m->store_id) || !m->schema_version || !m->json ||
        !nova_store_audit_for(audit, m->tenant_id))
        return NOVA_INVALID;
    int64_t changed = 0;
    nova_status st = nova_store_tx_begin(s, m->tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t tp[] = {NOVA_SQL_P_INT(m->created_at), NOVA_SQL_P_TEXT(m->store_id),
                             NOVA_SQL_P_TEXT(m->tenant_id)};
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(m->id),        NOVA_SQL_P_TEXT(m->store_id),
                            NOVA_SQL_P_TEXT(m->tenant_id), NOVA_SQL_P_TEXT(m->schema_version),
                            NOVA_SQL_P_TEXT(m->json),      NOVA_SQL_P_INT(m->created_at)};
    st = nova_store_exec_q(s, &Q_STORE_TOUCH, NULL, tp, 3, &changed);
    if (st == NOVA_OK && changed == 0)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_MODEL_INSERT, NULL, p, 6, NULL);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

nova_status nova_store_fga_model_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     const char *store_id, const char *id, nova_fga_model_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(store_id) ||
        (id && !nova_store_valid_id(id)))
        return NOVA_INVALID;
    nova_fga_model_t *rows;
    size_t n;
    nova_status st;
    if (id == NULL) {
        st = nova_store_fga_model_list(s, a, tenant_id, store_id, "", 1, &rows, &n);
    } else {
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(id), NOVA_SQL_P_TEXT(store_id),
                                NOVA_SQL_P_TEXT(tenant_id)};
        st = read_rows(s, a, &Q_MODEL_GET, tenant_id, p, 3, 1, sizeof(*rows), (row_fn)read_model,
                       (void **)&rows, &n);
    }
    if (st != NOVA_OK)
        return st;
    if (n == 0)
        return NOVA_NOT_FOUND;
    *out = rows[0];
    return NOVA_OK;
}

nova_status nova_store_fga_model_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      const char *store_id, const char *before, size_t limit,
                                      nova_fga_model_t **out, size_t *n)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(store_id) || limit == 0 ||
        limit > 1000)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(store_id), NOVA_SQL_P_TEXT(tenant_id),
                            NOVA_SQL_P_TEXT(or_empty(before)), NOVA_SQL_P_TEXT(or_empty(before)),
                            NOVA_SQL_P_INT((int64_t)limit)};
    return read_rows(s, a, &Q_MODEL_LIST, tenant_id, p, 5, limit, sizeof(**out), (row_fn)read_model,
                     (void **)out, n);
}

/* ---- tuples and the change feed ---- */

/* true when the stored tuple (object, relation, user) has t's condition and context. */
static nova_status same_condition(nova_store_t *s, const char *tenant_id, const char *store_id,
                                  const nova_fga_tuple_t *t, bool *same)
{
    nova_rows_t r;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(store_id), NOVA_SQL_P_TEXT(tenant_id),
                            NOVA_SQL_P_TEXT(t->object), NOVA_SQL_P_TEXT(t->relation),
                            NOVA_SQL_P_TEXT(t->user)};
    *same = false;
    nova_status st = s->drv->query(s, &Q_TUPLE_GET, NULL, p, 5, &r);
    if (st != NOVA_OK)
        return st;
    if ((st = s->drv->next(&r)) == NOVA_OK) {
        size_t cl = 0, xl = 0;
        const char *c = s->drv->col_bytes(&r, 0, &cl), *x = s->drv->col_bytes(&r, 1, &xl);
        const char *wc = or_empty(t->condition), *wx = or_empty(t->context);
        *same = cl == strlen(wc) && (cl == 0 || memcmp(c, wc, cl) == 0) && xl == strlen(wx) &&
                (xl == 0 || memcmp(x, wx, xl) == 0);
    }
    s->drv->done(&r);
    return st == NOVA_NOT_FOUND ? NOVA_OK : st;
}

static nova_status add_change(nova_store_t *s, const char *tenant_id, const char *store_id,
                              int64_t seq, const char *op, const nova_fga_tuple_t *t, int64_t now)
{
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(store_id),  NOVA_SQL_P_TEXT(tenant_id),
                            NOVA_SQL_P_INT(seq),        NOVA_SQL_P_TEXT(op),
                            NOVA_SQL_P_TEXT(t->change), NOVA_SQL_P_INT(now)};
    return nova_store_exec_q(s, &Q_CHANGE_INSERT, NULL, p, 6, NULL);
}

static nova_status write_valid(const char *tenant_id, const char *store_id,
                               const nova_fga_write_t *w, const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(store_id) || !w ||
        !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    for (size_t i = 0; i < w->nwrites + w->ndeletes; i++) {
        const nova_fga_tuple_t *t = i < w->nwrites ? &w->writes[i] : &w->deletes[i - w->nwrites];
        if (!t->object || !t->relation || !t->user || !t->change || (i < w->nwrites && !t->ulid))
            return NOVA_INVALID;
    }
    return NOVA_OK;
}

/* The tuples of w, their change-feed rows and the audit entry, inside the transaction open
 * on s. NOVA_NOT_FOUND (nothing written): no such live store. */
static nova_status write_in_tx(nova_store_t *s, const char *tenant_id, const char *store_id,
                               const nova_fga_write_t *w, int64_t now,
                               const nova_audit_entry_t *audit, nova_fga_write_result_t *res)
{
    memset(res, 0, sizeof(*res));
    int64_t changed = 0, seq = 0;
    nova_status st;
    nova_sql_param_t tp[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(store_id),
                             NOVA_SQL_P_TEXT(tenant_id)};
    nova_sql_param_t hp[] = {NOVA_SQL_P_TEXT(store_id), NOVA_SQL_P_TEXT(tenant_id)};
    st = nova_store_exec_q(s, &Q_STORE_TOUCH, NULL, tp, 3, &changed);
    if (st == NOVA_OK && changed == 0)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        st = nova_store_query_int(s, &Q_CHANGE_HEAD, NULL, hp, 2, &seq);
    for (size_t i = 0; st == NOVA_OK && i < w->nwrites; i++) {
        const nova_fga_tuple_t *t = &w->writes[i];
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(store_id),
                                NOVA_SQL_P_TEXT(tenant_id),
                                NOVA_SQL_P_TEXT(t->object),
                                NOVA_SQL_P_TEXT(t->relation),
                                NOVA_SQL_P_TEXT(t->user),
                                NOVA_SQL_P_TEXT(or_empty(t->condition)),
                                NOVA_SQL_P_TEXT(or_empty(t->context)),
                                NOVA_SQL_P_TEXT(t->ulid),
                                NOVA_SQL_P_INT(now)};
        if ((st = nova_store_exec_q(s, &Q_TUPLE_INSERT, NULL, p, 9, &changed)) != NOVA_OK)
            break;
        if (changed == 0) {
            bool same = false;
            if (w->ignore_duplicate &&
                (st = same_condition(s, tenant_id, store_id, t, &same)) != NOVA_OK)
                break;
            if (!same) {
                res->bad = i;
                st = NOVA_CONFLICT;
            }
            continue;
        }
        st = add_change(s, tenant_id, store_id, ++seq, "write", t, now);
    }
    for (size_t i = 0; st == NOVA_OK && i < w->ndeletes; i++) {
        const nova_fga_tuple_t *t = &w->deletes[i];
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(store_id), NOVA_SQL_P_TEXT(tenant_id),
                                NOVA_SQL_P_TEXT(t->object), NOVA_SQL_P_TEXT(t->relation),
                                NOVA_SQL_P_TEXT(t->user)};
        if ((st = nova_store_exec_q(s, &Q_TUPLE_DELETE, NULL, p, 5, &changed)) != NOVA_OK)
            break;
        if (changed == 0) {
            if (!w->ignore_missing) {
                res->bad = i;
                res->bad_delete = true;
                st = NOVA_CONFLICT;
            }
            continue;
        }
        st = add_change(s, tenant_id, store_id, ++seq, "delete", t, now);
    }
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st == NOVA_OK)
        res->seq = seq;
    return st;
}

nova_status nova_store_fga_write(nova_store_t *s, const char *tenant_id, const char *store_id,
                                 const nova_fga_write_t *w, int64_t now,
                                 const nova_audit_entry_t *audit, nova_fga_write_result_t *res)
{
    nova_status st = res ? write_valid(tenant_id, store_id, w, audit) : NOVA_INVALID;
    if (st == NOVA_OK)
        st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    int64_t seq = 0;
    if ((st = write_in_tx(s, tenant_id, store_id, w, now, audit, res)) != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    seq = res->seq;
    res->seq = 0;
    if ((st = nova_store_tx_commit(s)) == NOVA_OK)
        res->seq = seq;
    return st;
}

nova_status nova_store_fga_batches_in_tx(nova_store_t *s, const char *tenant_id,
                                         nova_fga_batch_t *b, size_t n)
{
    if (!s->in_tx)
        return NOVA_INVALID;
    for (size_t i = 0; i < n; i++) {
        nova_status st = write_valid(tenant_id, b[i].store_id, &b[i].w, &b[i].audit);
        nova_fga_write_result_t res;
        if (st == NOVA_OK)
            st = write_in_tx(s, tenant_id, b[i].store_id, &b[i].w, b[i].now, &b[i].audit, &res);
        b[i].seq = st == NOVA_OK ? res.seq : 0;
        if (st == NOVA_NOT_FOUND)
            continue; /* the store was deleted meanwhile: nothing of it to keep current */
        if (st != NOVA_OK)
            return st;
    }
    return NOVA_OK;
}

nova_status nova_store_fga_tuple_read(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      const char *store_id, const nova_fga_tuple_filter_t *f,
                                      size_t limit, nova_fga_tuple_t **out, size_t *n)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(store_id) || !f || limit == 0 ||
        limit > 1000)
        return NOVA_INVALID;
    const char *type = or_empty(f->object_type);
    const char *prefix = type[0] ? nova_arena_printf(a, "%s:", type) : "";
    if (prefix == NULL)
        return NOVA_NOMEM;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(store_id),
                            NOVA_SQL_P_TEXT(tenant_id),
                            NOVA_SQL_P_TEXT(or_empty(f->object)),
                            NOVA_SQL_P_TEXT(or_empty(f->object)),
                            NOVA_SQL_P_TEXT(prefix),
                            NOVA_SQL_P_TEXT(prefix),
                            NOVA_SQL_P_TEXT(prefix),
                            NOVA_SQL_P_TEXT(or_empty(f->relation)),
                            NOVA_SQL_P_TEXT(or_empty(f->relation)),
                            NOVA_SQL_P_TEXT(or_empty(f->user)),
                            NOVA_SQL_P_TEXT(or_empty(f->user)),
                            NOVA_SQL_P_TEXT(or_empty(f->after_object)),
                            NOVA_SQL_P_TEXT(or_empty(f->after_relation)),
                            NOVA_SQL_P_TEXT(or_empty(f->after_user)),
                            NOVA_SQL_P_INT((int64_t)limit)};
    return read_rows(s, a, &Q_TUPLE_READ, tenant_id, p, 15, limit, sizeof(**out),
                     (row_fn)read_tuple, (void **)out, n);
}

nova_status nova_store_fga_tuple_scan(nova_store_t *s, const char *tenant_id, const char *store_id,
                                      nova_fga_tuple_fn fn, void *ud)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(store_id) || !fn)
        return NOVA_INVALID;
    nova_rows_t r;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(store_id), NOVA_SQL_P_TEXT(tenant_id)};
    nova_status st = s->drv->query(s, &Q_TUPLE_SCAN, tenant_id, p, 2, &r);
    if (st != NOVA_OK)
        return st;
    while ((st = s->drv->next(&r)) == NOVA_OK) {
        size_t len;
        nova_fga_tuple_t t = {0};
        const char **strs[] = {&t.object, &t.relation, &t.user, &t.condition, &t.context, &t.ulid};
        for (int i = 0; i < 6; i++) {
            *strs[i] = s->drv->col_bytes(&r, i, &len);
            if (*strs[i] == NULL)
                *strs[i] = "";
        }
        t.created_at = s->drv->col_int64(&r, 6);
        if ((st = fn(&t, ud)) != NOVA_OK)
            break;
    }
    s->drv->done(&r);
    return st == NOVA_NOT_FOUND ? NOVA_OK : st;
}

nova_status nova_store_fga_change_head(nova_store_t *s, const char *tenant_id, const char *store_id,
                                       int64_t *seq)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(store_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(store_id), NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_query_int(s, &Q_CHANGE_HEAD, tenant_id, p, 2, seq);
}

static nova_status read_change(nova_rows_t *r, nova_arena_t *a, nova_fga_change_t *o)
{
    nova_status st;
    o->seq = r->s->drv->col_int64(r, 0);
    if ((st = nova_store_col_str(r, 1, a, &o->op)) != NOVA_OK ||
        (st = nova_store_col_str(r, 2, a, &o->tuple)) != NOVA_OK)
        return st;
    o->ts = r->s->drv->col_int64(r, 3);
    return NOVA_OK;
}

nova_status nova_store_fga_changes(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   const char *store_id, int64_t after_seq, int64_t from_ts,
                                   size_t limit, nova_fga_change_t **out, size_t *n)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(store_id) || limit == 0 ||
        limit > 10000)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(store_id), NOVA_SQL_P_TEXT(tenant_id),
                            NOVA_SQL_P_INT(after_seq), NOVA_SQL_P_INT(from_ts),
                            NOVA_SQL_P_INT((int64_t)limit)};
    return read_rows(s, a, &Q_CHANGE_LIST, tenant_id, p, 5, limit, sizeof(**out),
                     (row_fn)read_change, (void **)out, n);
}

/* ---- assertions ---- */

nova_status nova_store_fga_assertions_put(nova_store_t *s, const char *tenant_id,
                                          const char *store_id, const char *model_id,
                                          const char *json, int64_t now,
                                          const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(store_id) ||
        !nova_store_valid_id(model_id) || !json || !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    int64_t changed = 0;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t tp[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(store_id),
                             NOVA_SQL_P_TEXT(tenant_id)};
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(json), NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(model_id),
                            NOVA_SQL_P_TEXT(store_id), NOVA_SQL_P_TEXT(tenant_id)};
    st = nova_store_exec_q(s, &Q_STORE_TOUCH, NULL, tp, 3, &changed);
    if (st == NOVA_OK && changed == 1)
        st = nova_store_exec_q(s, &Q_ASSERT_PUT, NULL, p, 5, &changed);
    if (st == NOVA_OK && changed == 0)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

nova_status nova_store_fga_assertions_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                          const char *store_id, const char *model_id,
                                          const char **json)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(store_id) ||
        !nova_store_valid_id(model_id))
        return NOVA_INVALID;
    nova_rows_t r;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(store_id), NOVA_SQL_P_TEXT(model_id),
                            NOVA_SQL_P_TEXT(tenant_id)};
    *json = "";
    nova_status st = s->drv->query(s, &Q_ASSERT_GET, tenant_id, p, 3, &r);
    if (st != NOVA_OK)
        return st;
    if ((st = s->drv->next(&r)) == NOVA_OK)
        st = nova_store_col_str(&r, 0, a, json);
    s->drv->done(&r);
    return st == NOVA_NOT_FOUND ? NOVA_OK : st;
}

/* ---- policy bundles and their lifecycle ---- */

#define POL_COLS "tenant_id, version, body, digest, signature, created_by, created_at"
#define DRIFT_COLS                                                                                 \
    "seq, shadow_version, active_version, action, resource_type, live, shadow, live_reason, "      \
    "shadow_reason, ts"

static const nova_sql_t Q_POL_NEXT = {
    NOVA_Q_POL_NEXT, "policy next version",
    "SELECT COALESCE(MAX(version), 0) + 1 FROM policy_bundles WHERE tenant_id = ?", NULL};
static const nova_sql_t Q_POL_INSERT = {NOVA_Q_POL_INSERT, "policy insert",
                                        "INSERT INTO policy_bundles (" POL_COLS
                                        ") VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                        NULL};
static const nova_sql_t Q_POL_GET = {
    NOVA_Q_POL_GET, "policy get",
    "SELECT " POL_COLS " FROM policy_bundles WHERE tenant_id = ? AND version = ?", NULL};
static const nova_sql_t Q_POL_LIST = {NOVA_Q_POL_LIST, "policy list",
                                      "SELECT " POL_COLS " FROM policy_bundles "
                                      "WHERE tenant_id = ? AND (? = 0 OR version < ?) "
                                      "ORDER BY version DESC LIMIT ?",
                                      NULL};
static const nova_sql_t Q_POL_STATE_GET = {
    NOVA_Q_POL_STATE_GET, "policy state get",
    "SELECT active_version, previous_version, shadow_version, shadow_percent, updated_at "
    "FROM policy_state WHERE tenant_id = ?",
    NULL};
/* Inserts the first state, or replaces it while active_version is still the expected one. */
static const nova_sql_t Q_POL_STATE_PUT = {
    NOVA_Q_POL_STATE_PUT, "policy state put",
    "INSERT INTO policy_state (tenant_id, active_version, previous_version, shadow_version, "
    "shadow_percent, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant_id) DO UPDATE SET active_version = excluded.active_version, "
    "previous_version = excluded.previous_version, shadow_version = excluded.shadow_version, "
    "shadow_percent = excluded.shadow_percent, updated_at = excluded.updated_at "
    "WHERE policy_state.active_version = ?",
    NULL};
static const nova_sql_t Q_POL_DRIFT_INSERT = {
    NOVA_Q_POL_DRIFT_INSERT, "policy drift insert",
    "INSERT INTO policy_drift (tenant_id, " DRIFT_COLS
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    NULL};
static const nova_sql_t Q_POL_DRIFT_LIST = {NOVA_Q_POL_DRIFT_LIST, "policy drift list",
                                            "SELECT " DRIFT_COLS " FROM policy_drift "
                                            "WHERE tenant_id = ? AND shadow_version = ? "
                                            "ORDER BY seq DESC LIMIT ?",
                                            NULL};
static const nova_sql_t Q_POL_DRIFT_COUNT = {
    NOVA_Q_POL_DRIFT_COUNT, "policy drift count",
    "SELECT COUNT(*) FROM policy_drift WHERE tenant_id = ? AND shadow_version = ?", NULL};

static nova_status read_policy(nova_rows_t *r, nova_arena_t *a, nova_policy_version_t *o)
{
    nova_status st;
    if ((st = nova_store_col_str(r, 0, a, &o->tenant_id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 2, a, &o->body)) != NOVA_OK ||
        (st = nova_store_col_str(r, 3, a, &o->digest)) != NOVA_OK ||
        (st = nova_store_col_str(r, 4, a, &o->signature)) != NOVA_OK ||
        (st = nova_store_col_str(r, 5, a, &o->created_by)) != NOVA_OK)
        return st;
    o->version = r->s->drv->col_int64(r, 1);
    o->created_at = r->s->drv->col_int64(r, 6);
    return NOVA_OK;
}

static nova_status read_state(nova_rows_t *r, nova_arena_t *a, nova_policy_state_t *o)
{
    (void)a;
    o->active = r->s->drv->col_int64(r, 0);
    o->previous = r->s->drv->col_int64(r, 1);
    o->shadow = r->s->drv->col_int64(r, 2);
    o->shadow_percent = (int)r->s->drv->col_int64(r, 3);
    o->updated_at = r->s->drv->col_int64(r, 4);
    return NOVA_OK;
}

static nova_status read_drift(nova_rows_t *r, nova_arena_t *a, nova_policy_drift_t *o)
{
    nova_status st;
    const char **strs[] = {&o->action, &o->resource_type, &o->live,
                           &o->shadow, &o->live_reason,   &o->shadow_reason};
    for (int i = 0; i < 6; i++)
        if ((st = nova_store_col_str(r, 3 + i, a, strs[i])) != NOVA_OK)
            return st;
    o->seq = r->s->drv->col_int64(r, 0);
    o->shadow_version = r->s->drv->col_int64(r, 1);
    o->active_version = r->s->drv->col_int64(r, 2);
    o->ts = r->s->drv->col_int64(r, 9);
    return NOVA_OK;
}

nova_status nova_store_policy_next_version(nova_store_t *s, const char *tenant_id, int64_t *out)
{
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_query_int(s, &Q_POL_NEXT, tenant_id, p, 1, out);
}

nova_status nova_store_policy_insert(nova_store_t *s, const nova_policy_version_t *v,
                                     const nova_audit_entry_t *audit)
{
    if (!v || !nova_store_valid_id(v->tenant_id) || v->version < 1 || !v->body || !v->digest ||
        !v->signature || !v->created_by || !nova_store_audit_for(audit, v->tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(v->tenant_id), NOVA_SQL_P_INT(v->version),
                            NOVA_SQL_P_TEXT(v->body),      NOVA_SQL_P_TEXT(v->digest),
                            NOVA_SQL_P_TEXT(v->signature), NOVA_SQL_P_TEXT(v->created_by),
                            NOVA_SQL_P_INT(v->created_at)};
    nova_status st = exec_audited(s, v->tenant_id, &Q_POL_INSERT, p, 7, audit);
    return st == NOVA_NOT_FOUND ? NOVA_CONFLICT : st;
}

nova_status nova_store_policy_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                  int64_t version, nova_policy_version_t *out)
{
    if (!nova_store_valid_id(tenant_id) || version < 1)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_INT(version)};
    nova_policy_version_t *rows;
    size_t n;
    nova_status st = read_rows(s, a, &Q_POL_GET, tenant_id, p, 2, 1, sizeof(*rows),
                               (row_fn)read_policy, (void **)&rows, &n);
    if (st != NOVA_OK)
        return st;
    if (n == 0)
        return NOVA_NOT_FOUND;
    *out = rows[0];
    return NOVA_OK;
}

nova_status nova_store_policy_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   int64_t before, size_t limit, nova_policy_version_t **out,
                                   size_t *n)
{
    if (!nova_store_valid_id(tenant_id) || before < 0 || limit == 0 || limit > 1000)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_INT(before),
                            NOVA_SQL_P_INT(before), NOVA_SQL_P_INT((int64_t)limit)};
    return read_rows(s, a, &Q_POL_LIST, tenant_id, p, 4, limit, sizeof(**out), (row_fn)read_policy,
                     (void **)out, n);
}

nova_status nova_store_policy_state_get(nova_store_t *s, const char *tenant_id,
                                        nova_policy_state_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    nova_policy_state_t *rows;
    size_t n;
    nova_arena_t a = {0};
    nova_arena_init(&a, 256);
    nova_status st = read_rows(s, &a, &Q_POL_STATE_GET, tenant_id, p, 1, 1, sizeof(*rows),
                               (row_fn)read_state, (void **)&rows, &n);
    if (st == NOVA_OK && n == 1)
        *out = rows[0];
    nova_arena_free(&a);
    return st;
}

nova_status nova_store_policy_state_put(nova_store_t *s, const char *tenant_id,
                                        const nova_policy_state_t *ps, int64_t expect_active,
                                        const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(tenant_id) || !ps || ps->active < 0 || ps->previous < 0 ||
        ps->shadow < 0 || ps->shadow_percent < 0 || ps->shadow_percent > 100 ||
        !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id),         NOVA_SQL_P_INT(ps->active),
                            NOVA_SQL_P_INT(ps->previous),       NOVA_SQL_P_INT(ps->shadow),
                            NOVA_SQL_P_INT(ps->shadow_percent), NOVA_SQL_P_INT(ps->updated_at),
                            NOVA_SQL_P_INT(expect_active)};
    nova_status st = exec_audited(s, tenant_id, &Q_POL_STATE_PUT, p, 7, audit);
    return st == NOVA_NOT_FOUND ? NOVA_CONFLICT : st;
}

nova_status nova_store_policy_drift_insert(nova_store_t *s, const char *tenant_id,
                                           const nova_policy_drift_t *d)
{
    if (!nova_store_valid_id(tenant_id) || !d || !d->action || !d->resource_type || !d->live ||
        !d->shadow || !d->live_reason || !d->shadow_reason)
        return NOVA_INVALID;
    uint16_t r = 0;
    if (nova_random_bytes(&r, sizeof(r)) != NOVA_OK)
        return NOVA_INTERNAL;
    /* ordered by time; the random low digits keep two rows of one microsecond apart */
    int64_t seq = d->ts * 1000 + r % 1000;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id),
                            NOVA_SQL_P_INT(seq),
                            NOVA_SQL_P_INT(d->shadow_version),
                            NOVA_SQL_P_INT(d->active_version),
                            NOVA_SQL_P_TEXT(d->action),
                            NOVA_SQL_P_TEXT(d->resource_type),
                            NOVA_SQL_P_TEXT(d->live),
                            NOVA_SQL_P_TEXT(d->shadow),
                            NOVA_SQL_P_TEXT(d->live_reason),
                            NOVA_SQL_P_TEXT(d->shadow_reason),
                            NOVA_SQL_P_INT(d->ts)};
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    st = nova_store_exec_q(s, &Q_POL_DRIFT_INSERT, NULL, p, 11, NULL);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

nova_status nova_store_policy_drift_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                         int64_t shadow_version, size_t limit,
                                         nova_policy_drift_t **out, size_t *n, int64_t *total)
{
    if (!nova_store_valid_id(tenant_id) || limit == 0 || limit > 1000)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_INT(shadow_version),
                            NOVA_SQL_P_INT((int64_t)limit)};
    nova_status st = nova_store_query_int(s, &Q_POL_DRIFT_COUNT, tenant_id, p, 2, total);
    if (st != NOVA_OK)
        return st;
    return read_rows(s, a, &Q_POL_DRIFT_LIST, tenant_id, p, 3, limit, sizeof(**out),
                     (row_fn)read_drift, (void **)out, n);
}
