/*
 * faces.c: the repository of the duplicate-face gallery (nova/face_store.h).
 *
 * An enrolment or a removal is one write transaction: the row, the tenant's version bump (an
 * upsert, so the first change creates it) and the audit entry. Readers compare the version
 * with the one their in-memory index was built at.
 */
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/face_store.h"

#define FACE_COLS "id, tenant_id, subject, region, descriptor, created_by, created_at"

static const nova_sql_t Q_FACE_INSERT = {
    NOVA_Q_FACE_INSERT, "face insert",
    "INSERT INTO face_gallery (" FACE_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?)", NULL};
static const nova_sql_t Q_FACE_DELETE = {NOVA_Q_FACE_DELETE, "face delete",
                                         "DELETE FROM face_gallery WHERE tenant_id = ? AND id = ?",
                                         NULL};
static const nova_sql_t Q_FACE_BUMP = {
    NOVA_Q_FACE_BUMP, "face version bump",
    "INSERT INTO face_gallery_versions (tenant_id, version) VALUES (?, 1) "
    "ON CONFLICT (tenant_id) DO UPDATE SET version = face_gallery_versions.version + 1",
    NULL};
static const nova_sql_t Q_FACE_VERSION = {
    NOVA_Q_FACE_VERSION, "face version",
    "SELECT version FROM face_gallery_versions WHERE tenant_id = ?", NULL};
static const nova_sql_t Q_FACE_LIST = {NOVA_Q_FACE_LIST, "face list",
                                       "SELECT " FACE_COLS " FROM face_gallery "
                                       "WHERE tenant_id = ? ORDER BY created_at, id",
                                       NULL};

/* Unslotted (prepared per call): a resync after another process's change is rare. */
static const nova_sql_t Q_FACE_IDS = {-1, "face ids",
                                      "SELECT id FROM face_gallery WHERE tenant_id = ?", NULL};
static const nova_sql_t Q_FACE_GET = {
    -1, "face get", "SELECT " FACE_COLS " FROM face_gallery WHERE tenant_id = ? AND id = ?", NULL};

static nova_status read_row(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_face_row_t *o = out;
    const nova_store_driver_t *d = r->s->drv;
    nova_status st;
    memset(o, 0, sizeof(*o));
    if ((st = nova_store_col_str(r, 0, a, &o->id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 1, a, &o->tenant_id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 2, a, &o->subject)) != NOVA_OK ||
        (st = nova_store_col_str(r, 3, a, &o->region)) != NOVA_OK ||
        (st = nova_store_col_str(r, 5, a, &o->created_by)) != NOVA_OK)
        return st;
    o->created_at = d->col_int64(r, 6);
    size_t len;
    const void *p = d->col_bytes(r, 4, &len);
    if (p == NULL || len == 0)
        return NOVA_INTERNAL; /* NOT NULL column: a damaged row */
    uint8_t *b = nova_arena_alloc(a, len);
    if (b == NULL)
        return NOVA_NOMEM;
    memcpy(b, p, len);
    o->sealed = b;
    o->sealed_len = len;
    return NOVA_OK;
}

/* The tenant's version as this connection sees it (inside its transaction, when open). */
static nova_status read_version(nova_store_t *s, const char *tenant_id, int64_t *version)
{
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    nova_rows_t r;
    nova_status st = s->drv->query(s, &Q_FACE_VERSION, tenant_id, p, 1, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK)
        *version = s->drv->col_int64(&r, 0);
    s->drv->done(&r);
    return st == NOVA_NOT_FOUND ? NOVA_OK : st;
}

/* Runs q with p, the version bump and the audit entry in one transaction of tenant_id, and
 * reads the version that change made (when version is not NULL). A statement that changed no
 * row is NOVA_NOT_FOUND. */
static nova_status write_tx(nova_store_t *s, const char *tenant_id, const nova_sql_t *q,
                            const nova_sql_param_t *p, int n, const nova_audit_entry_t *audit,
                            int64_t *version)
{
    int64_t v = 0;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    int64_t changed = 0;
    nova_sql_param_t vp[] = {NOVA_SQL_P_TEXT(tenant_id)};
    st = nova_store_exec_q(s, q, NULL, p, n, &changed);
    if (st == NOVA_OK && changed == 0)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_FACE_BUMP, NULL, vp, 1, NULL);
    if (st == NOVA_OK)
        st = read_version(s, tenant_id, &v);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    st = nova_store_tx_commit(s);
    if (st == NOVA_OK && version)
        *version = v;
    return st;
}

nova_status nova_store_face_add(nova_store_t *s, const nova_face_row_t *f,
                                const nova_audit_entry_t *audit, int64_t *version)
{
    if (!f || !f->id || !f->id[0] || !nova_store_valid_id(f->tenant_id) || !f->subject ||
        !f->subject[0] || strlen(f->subject) > NOVA_FACE_SUBJECT_MAX || !f->region ||
        !f->region[0] || !f->sealed || !f->sealed_len || !f->created_by || f->created_at <= 0 ||
        !audit || !audit->tenant_id || strcmp(audit->tenant_id, f->tenant_id) != 0)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(f->id),
                            NOVA_SQL_P_TEXT(f->tenant_id),
                            NOVA_SQL_P_TEXT(f->subject),
                            NOVA_SQL_P_TEXT(f->region),
                            NOVA_SQL_P_BLOB(f->sealed, f->sealed_len),
                            NOVA_SQL_P_TEXT(f->created_by),
                            NOVA_SQL_P_INT(f->created_at)};
    return write_tx(s, f->tenant_id, &Q_FACE_INSERT, p, 7, audit, version);
}

nova_status nova_store_face_delete(nova_store_t *s, const char *tenant_id, const char *id,
                                   const nova_audit_entry_t *audit, int64_t *version)
{
    if (!nova_store_valid_id(tenant_id) || !id || !id[0] || !audit || !audit->tenant_id ||
        strcmp(audit->tenant_id, tenant_id) != 0)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    return write_tx(s, tenant_id, &Q_FACE_DELETE, p, 2, audit, version);
}

nova_status nova_store_face_version(nova_store_t *s, const char *tenant_id, int64_t *version)
{
    *version = 0;
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    return read_version(s, tenant_id, version);
}

nova_status nova_store_face_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                 nova_face_row_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q_FACE_LIST, tenant_id, p, 1, a, read_row,
                              sizeof(nova_face_row_t), (void **)out, n);
}

static nova_status read_id(nova_rows_t *r, nova_arena_t *a, void *out)
{
    return nova_store_col_str(r, 0, a, (const char **)out);
}

nova_status nova_store_face_ids(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                const char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q_FACE_IDS, tenant_id, p, 1, a, read_id, sizeof(const char *),
                              (void **)out, n);
}

nova_status nova_store_face_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                const char *id, nova_face_row_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!nova_store_valid_id(tenant_id) || !id || !id[0])
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    nova_face_row_t *rows = NULL;
    size_t n = 0;
    nova_status st = nova_store_get_all(s, &Q_FACE_GET, tenant_id, p, 2, a, read_row,
                                        sizeof(nova_face_row_t), (void **)&rows, &n);
    if (st == NOVA_OK && n == 0)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        *out = rows[0];
    return st;
}
