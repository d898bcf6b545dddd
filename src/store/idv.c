/*
 * idv.c: the repository of the verification gateway (nova/idv_store.h, migration 0015).
 *
 * Statements are prepared per call (slot -1) rather than cached in the store's shared
 * statement catalogue: the gateway's statements run a few times per verification, not per
 * request, so the cache would buy little and the catalogue stays other modules' to grow.
 *
 * Every write that a caller's decision makes (a workflow version, an accepted verification,
 * a decision, a price list) appends its audit entry in the same transaction. Step results and usage
 * rows are the worker's record of its own progress, written in one transaction per step.
 */
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/idv_store.h"
#include "nova/webhook_store.h"

#define WF_COLS "tenant_id, id, version, name, definition, created_by, created_at"
#define V_COLS                                                                                     \
    "tenant_id, id, workflow_id, workflow_version, status, mode, reference, decision, result, "    \
    "trace_id, callback_url, applicant, idempotency_key, request_digest, attempts, created_by, "   \
    "created_at, updated_at, completed_at"

static const nova_sql_t Q_WF_MAX = {
    -1, "idv workflow max",
    "SELECT COALESCE(MAX(version), 0) FROM idv_workflows WHERE tenant_id = ? AND id = ?", NULL};
static const nova_sql_t Q_WF_INSERT = {
    -1, "idv workflow insert",
    "INSERT INTO idv_workflows (" WF_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?)", NULL};
static const nova_sql_t Q_WF_GET = {-1, "idv workflow get",
                                    "SELECT " WF_COLS " FROM idv_workflows WHERE tenant_id = ? "
                                    "AND id = ? AND version = ?",
                                    NULL};
static const nova_sql_t Q_WF_NEWEST = {-1, "idv workflow newest",
                                       "SELECT " WF_COLS " FROM idv_workflows WHERE tenant_id = ? "
                                       "AND id = ? ORDER BY version DESC LIMIT 1",
                                       NULL};
static const nova_sql_t Q_WF_LIST = {
    -1, "idv workflow list",
    "SELECT " WF_COLS " FROM idv_workflows w WHERE tenant_id = ? AND version = "
    "(SELECT MAX(version) FROM idv_workflows x WHERE x.tenant_id = w.tenant_id AND x.id = w.id) "
    "ORDER BY id",
    NULL};
static const nova_sql_t Q_TENANT = {-1, "idv tenant exists", "SELECT 1 FROM tenants WHERE id = ?",
                                    NULL};

static const nova_sql_t Q_V_BY_KEY = {
    -1, "idv verification by key",
    "SELECT id FROM idv_verifications WHERE tenant_id = ? AND idempotency_key = ?", NULL};
static const nova_sql_t Q_V_INSERT = {-1, "idv verification insert",
                                      "INSERT INTO idv_verifications (" V_COLS
                                      ") VALUES (?, ?, ?, ?, ?, ?, ?, '', '{}', ?, ?, ?, ?, "
                                      "?, 0, ?, ?, ?, 0)",
                                      NULL};
static const nova_sql_t Q_JOB_INSERT = {-1, "idv job insert",
                                        "INSERT INTO idv_jobs (tenant_id, verification_id, "
                                        "payload, created_at) VALUES (?, ?, ?, ?)",
                                        NULL};
static const nova_sql_t Q_V_GET = {
    -1, "idv verification get",
    "SELECT " V_COLS " FROM idv_verifications WHERE tenant_id = ? AND id = ?", NULL};
static const nova_sql_t Q_V_START = {-1, "idv verification start",
                                     "UPDATE idv_verifications SET status = 'running', attempts = "
                                     "attempts + 1, updated_at = ? WHERE tenant_id = ? AND id = ? "
                                     "AND status IN ('queued', 'running')",
                                     NULL};
static const nova_sql_t Q_V_FINISH = {
    -1, "idv verification finish",
    "UPDATE idv_verifications SET status = ?, decision = ?, result = ?, updated_at = ?, "
    "completed_at = ? WHERE tenant_id = ? AND id = ? AND status IN ('queued', 'running')",
    NULL};
static const nova_sql_t Q_DOC_INSERT = {
    -1, "idv document insert",
    "INSERT INTO idv_documents (tenant_id, verification_id, number_digest, applicant_digest, "
    "created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    NULL};
static const nova_sql_t Q_DOC_OTHERS = {
    -1, "idv document others",
    "SELECT count(*) FROM idv_documents d JOIN idv_verifications v ON v.tenant_id = d.tenant_id "
    "AND v.id = d.verification_id WHERE d.tenant_id = ? AND d.number_digest = ? AND "
    "d.applicant_digest <> ? AND d.verification_id <> ? AND v.decision = 'approved'",
    NULL};
static const nova_sql_t Q_INDEX_KEY_GET = {
    -1, "idv index key get", "SELECT region, sealed FROM idv_index_keys WHERE tenant_id = ?", NULL};
static const nova_sql_t Q_INDEX_KEY_PUT = {
    -1, "idv index key put",
    "INSERT INTO idv_index_keys (tenant_id, region, sealed, created_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING",
    NULL};
static const nova_sql_t Q_JOB_DELETE = {
    -1, "idv job delete", "DELETE FROM idv_jobs WHERE tenant_id = ? AND verification_id = ?", NULL};
static const nova_sql_t Q_JOB_KEEP = {-1, "idv job keep",
                                      "UPDATE idv_jobs SET expires_at = ? WHERE tenant_id = ? AND "
                                      "verification_id = ?",
                                      NULL};
static const nova_sql_t Q_JOB_GET = {
    -1, "idv job get", "SELECT payload FROM idv_jobs WHERE tenant_id = ? AND verification_id = ?",
    NULL};
static const nova_sql_t Q_JOB_PENDING = {
    -1, "idv job pending",
    "SELECT j.tenant_id, j.verification_id FROM idv_jobs j JOIN idv_verifications v ON "
    "v.tenant_id = j.tenant_id AND v.id = j.verification_id WHERE v.status IN ('queued', "
    "'running') ORDER BY j.created_at LIMIT ?",
    NULL};
static const nova_sql_t Q_JOB_EXPIRE = {
    -1, "idv job expire", "DELETE FROM idv_jobs WHERE expires_at > 0 AND expires_at <= ?", NULL};
static const nova_sql_t Q_STEP_INSERT = {
    -1, "idv step insert",
    "INSERT INTO idv_steps (tenant_id, verification_id, idx, step_id, check_name, status, result, "
    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    NULL};
static const nova_sql_t Q_USAGE_INSERT = {
    -1, "idv usage insert",
    "INSERT INTO idv_usage (tenant_id, verification_id, idx, check_name, units, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    NULL};
static const nova_sql_t Q_STEP_LIST = {
    -1, "idv step list",
    "SELECT idx, step_id, check_name, status, result, created_at FROM idv_steps WHERE "
    "tenant_id = ? AND verification_id = ? ORDER BY idx",
    NULL};
static const nova_sql_t Q_USAGE = {
    -1, "idv usage",
    "SELECT check_name, COUNT(*), CAST(SUM(units) AS BIGINT) FROM idv_usage WHERE tenant_id = ? "
    "AND created_at "
    ">= ? AND created_at <= ? GROUP BY check_name ORDER BY check_name",
    NULL};

/* ---- workflows ---- */

static nova_status read_wf(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_idv_workflow_row_t *w = out;
    nova_status st = nova_store_col_str(r, 0, a, &w->tenant_id);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 1, a, &w->id);
    w->version = r->s->drv->col_int64(r, 2);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 3, a, &w->name);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 4, a, &w->definition);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 5, a, &w->created_by);
    w->created_at = r->s->drv->col_int64(r, 6);
    return st;
}

/* Runs q expecting one row, read by rd. */
nova_status nova_store_idv_workflow_put(nova_store_t *s, const nova_idv_workflow_row_t *w,
                                        bool create, const nova_audit_entry_t *audit,
                                        int64_t *version)
{
    if (!w || !nova_store_valid_id(w->tenant_id) || !nova_store_valid_id(w->id) || !w->name ||
        !w->definition || !w->created_by || w->created_at <= 0 ||
        !nova_store_audit_for(audit, w->tenant_id))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, w->tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t tp[] = {NOVA_SQL_P_TEXT(w->tenant_id), NOVA_SQL_P_TEXT(w->id)};
    int64_t max = 0, one = 0;
    st = nova_store_query_int(s, &Q_TENANT, NULL, tp, 1, &one);
    if (st == NOVA_NOT_FOUND)
        st = NOVA_INVALID;
    if (st == NOVA_OK)
        st = nova_store_query_int(s, &Q_WF_MAX, NULL, tp, 2, &max);
    if (st == NOVA_OK && create && max > 0)
        st = NOVA_CONFLICT;
    if (st == NOVA_OK && !create && max == 0)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK) {
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(w->tenant_id),  NOVA_SQL_P_TEXT(w->id),
                                NOVA_SQL_P_INT(max + 1),        NOVA_SQL_P_TEXT(w->name),
                                NOVA_SQL_P_TEXT(w->definition), NOVA_SQL_P_TEXT(w->created_by),
                                NOVA_SQL_P_INT(w->created_at)};
        st = nova_store_exec_q(s, &Q_WF_INSERT, NULL, p, 7, NULL);
    }
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    st = nova_store_tx_commit(s);
    if (st == NOVA_OK && version)
        *version = max + 1;
    return st;
}

nova_status nova_store_idv_workflow_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                        const char *id, int64_t version,
                                        nova_idv_workflow_row_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id) || version < 0)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id),
                            NOVA_SQL_P_INT(version)};
    return nova_store_get_one(s, version ? &Q_WF_GET : &Q_WF_NEWEST, tenant_id, p, version ? 3 : 2,
                              a, read_wf, out);
}

nova_status nova_store_idv_workflow_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                         nova_idv_workflow_row_t **out, size_t *n)
{
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q_WF_LIST, tenant_id, p, 1, a, read_wf,
                              sizeof(nova_idv_workflow_row_t), (void **)out, n);
}

/* ---- verifications ---- */

static nova_status read_v(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_idv_verification_row_t *v = out;
    const char **strs[] = {&v->tenant_id, &v->id,       &v->workflow_id, NULL,
                           &v->status,    &v->mode,     &v->reference,   &v->decision,
                           &v->result,    &v->trace_id, &v->callback_url};
    nova_status st = NOVA_OK;
    for (int i = 0; i < 11 && st == NOVA_OK; i++)
        if (strs[i])
            st = nova_store_col_str(r, i, a, strs[i]);
    v->workflow_version = r->s->drv->col_int64(r, 3);
    size_t len = 0;
    const void *b = r->s->drv->col_bytes(r, 11, &len);
    if (st == NOVA_OK && b && len) {
        uint8_t *c = nova_arena_alloc(a, len);
        if (c == NULL)
            return NOVA_NOMEM;
        memcpy(c, b, len);
        v->applicant = c;
        v->applicant_len = len;
    }
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 12, a, &v->idempotency_key);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 13, a, &v->request_digest);
    v->attempts = r->s->drv->col_int64(r, 14);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 15, a, &v->created_by);
    v->created_at = r->s->drv->col_int64(r, 16);
    v->updated_at = r->s->drv->col_int64(r, 17);
    v->completed_at = r->s->drv->col_int64(r, 18);
    return st;
}

nova_status nova_store_idv_verification_insert(nova_store_t *s, nova_arena_t *a,
                                               const nova_idv_verification_row_t *v,
                                               const uint8_t *job, size_t job_len,
                                               const nova_audit_entry_t *audit,
                                               const char **existing_id)
{
    if (!v || !nova_store_valid_id(v->tenant_id) || !nova_store_valid_id(v->id) ||
        !v->workflow_id || !v->status || !v->mode || !v->trace_id || !v->created_by || !job ||
        !job_len || !nova_store_audit_for(audit, v->tenant_id))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, v->tenant_id);
    if (st != NOVA_OK)
        return st;
    if (v->idempotency_key) {
        nova_sql_param_t kp[] = {NOVA_SQL_P_TEXT(v->tenant_id),
                                 NOVA_SQL_P_TEXT(v->idempotency_key)};
        nova_rows_t r;
        st = s->drv->query(s, &Q_V_BY_KEY, NULL, kp, 2, &r);
        if (st == NOVA_OK) {
            st = s->drv->next(&r);
            if (st == NOVA_OK) {
                st = nova_store_col_str(&r, 0, a, existing_id);
                if (st == NOVA_OK)
                    st = NOVA_CONFLICT;
            } else if (st == NOVA_NOT_FOUND) {
                st = NOVA_OK;
            }
            s->drv->done(&r);
        }
    }
    if (st == NOVA_OK) {
        nova_sql_param_t p[] = {
            NOVA_SQL_P_TEXT(v->tenant_id),
            NOVA_SQL_P_TEXT(v->id),
            NOVA_SQL_P_TEXT(v->workflow_id),
            NOVA_SQL_P_INT(v->workflow_version),
            NOVA_SQL_P_TEXT(v->status),
            NOVA_SQL_P_TEXT(v->mode),
            NOVA_SQL_P_TEXT(v->reference ? v->reference : ""),
            NOVA_SQL_P_TEXT(v->trace_id),
            NOVA_SQL_P_TEXT(v->callback_url ? v->callback_url : ""),
            v->applicant ? NOVA_SQL_P_BLOB(v->applicant, v->applicant_len) : NOVA_SQL_P_TEXT(NULL),
            NOVA_SQL_P_TEXT(v->idempotency_key),
            NOVA_SQL_P_TEXT(v->request_digest ? v->request_digest : ""),
            NOVA_SQL_P_TEXT(v->created_by),
            NOVA_SQL_P_INT(v->created_at),
            NOVA_SQL_P_INT(v->created_at),
        };
        st = nova_store_exec_q(s, &Q_V_INSERT, NULL, p, 15, NULL);
    }
    if (st == NOVA_OK) {
        nova_sql_param_t jp[] = {NOVA_SQL_P_TEXT(v->tenant_id), NOVA_SQL_P_TEXT(v->id),
                                 NOVA_SQL_P_BLOB(job, job_len), NOVA_SQL_P_INT(v->created_at)};
        st = nova_store_exec_q(s, &Q_JOB_INSERT, NULL, jp, 4, NULL);
    }
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

nova_status nova_store_idv_verification_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                            const char *id, nova_idv_verification_row_t *out)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    memset(out, 0, sizeof(*out));
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    return nova_store_get_one(s, &Q_V_GET, tenant_id, p, 2, a, read_v, out);
}

nova_status nova_store_idv_verification_list(nova_store_t *s, nova_arena_t *a,
                                             const char *tenant_id, const nova_idv_list_query_t *q,
                                             nova_idv_verification_row_t **out, size_t *n)
{
    if (!nova_store_valid_id(tenant_id) || q->limit <= 0 || q->limit > 1000)
        return NOVA_INVALID;
    /* One statement for every filter combination: a NULL or 0 filter matches all. */
    static const nova_sql_t Q_V_LIST = {
        -1, "idv verification list",
        "SELECT " V_COLS " FROM idv_verifications WHERE tenant_id = ? "
        "AND (? = '' OR status = ?) AND (? = '' OR decision = ?) "
        "AND (? = 0 OR created_at >= ?) AND (? = 0 OR created_at <= ?) "
        "AND (? = '' OR created_at > ? OR (created_at = ? AND id > ?)) "
        "ORDER BY created_at, id LIMIT ?",
        "SELECT " V_COLS " FROM idv_verifications WHERE tenant_id = $1 "
        "AND ($2::text = '' OR status = $3::text) AND ($4::text = '' OR decision = $5::text) "
        "AND ($6::bigint = 0 OR created_at >= $7::bigint) "
        "AND ($8::bigint = 0 OR created_at <= $9::bigint) AND ($10::text = '' OR created_at > "
        "$11::bigint OR (created_at = $12::bigint AND id > $13::text)) "
        "ORDER BY created_at, id LIMIT $14::bigint"};
    const char *status = q->status ? q->status : "";
    const char *decision = q->decision ? q->decision : "";
    const char *after = q->after_id ? q->after_id : "";
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id),
                            NOVA_SQL_P_TEXT(status),
                            NOVA_SQL_P_TEXT(status),
                            NOVA_SQL_P_TEXT(decision),
                            NOVA_SQL_P_TEXT(decision),
                            NOVA_SQL_P_INT(q->from),
                            NOVA_SQL_P_INT(q->from),
                            NOVA_SQL_P_INT(q->to),
                            NOVA_SQL_P_INT(q->to),
                            NOVA_SQL_P_TEXT(after),
                            NOVA_SQL_P_INT(q->after_created),
                            NOVA_SQL_P_INT(q->after_created),
                            NOVA_SQL_P_TEXT(after),
                            NOVA_SQL_P_INT(q->limit)};
    return nova_store_get_all(s, &Q_V_LIST, tenant_id, p, 14, a, read_v,
                              sizeof(nova_idv_verification_row_t), (void **)out, n);
}

nova_status nova_store_idv_verification_start(nova_store_t *s, const char *tenant_id,
                                              const char *id, int64_t now)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    int64_t changes = 0;
    nova_status st = nova_store_exec_q(s, &Q_V_START, tenant_id, p, 3, &changes);
    if (st == NOVA_OK && changes == 0)
        st = NOVA_NOT_FOUND;
    return st;
}

nova_status nova_store_idv_verification_finish(nova_store_t *s, const char *tenant_id,
                                               const char *id, const char *status,
                                               const char *decision, const char *result,
                                               int64_t now, int64_t keep_until,
                                               const nova_audit_entry_t *audit,
                                               const nova_event_row_t *event,
                                               const nova_idv_document_row_t *document)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id) || !status || !decision ||
        !result || !nova_store_audit_for(audit, tenant_id) ||
        (document && (!document->number_digest || !document->applicant_digest)))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(status), NOVA_SQL_P_TEXT(decision),
                            NOVA_SQL_P_TEXT(result), NOVA_SQL_P_INT(now),
                            NOVA_SQL_P_INT(now),     NOVA_SQL_P_TEXT(tenant_id),
                            NOVA_SQL_P_TEXT(id)};
    nova_sql_param_t jp[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    nova_sql_param_t kp[] = {NOVA_SQL_P_INT(keep_until), NOVA_SQL_P_TEXT(tenant_id),
                             NOVA_SQL_P_TEXT(id)};
    int64_t changes = 0;
    st = nova_store_exec_q(s, &Q_V_FINISH, NULL, p, 7, &changes);
    if (st == NOVA_OK && changes == 0)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        st = keep_until > 0 ? nova_store_exec_q(s, &Q_JOB_KEEP, NULL, kp, 3, NULL)
                            : nova_store_exec_q(s, &Q_JOB_DELETE, NULL, jp, 2, NULL);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st == NOVA_OK && event != NULL)
        st = nova_store_event_append_tx(s, event);
    if (st == NOVA_OK && document != NULL) {
        nova_sql_param_t dp[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id),
                                 NOVA_SQL_P_TEXT(document->number_digest),
                                 NOVA_SQL_P_TEXT(document->applicant_digest), NOVA_SQL_P_INT(now)};
        st = nova_store_exec_q(s, &Q_DOC_INSERT, NULL, dp, 5, NULL);
    }
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

nova_status nova_store_idv_document_others(nova_store_t *s, const char *tenant_id,
                                           const char *number_digest, const char *applicant_digest,
                                           const char *except_vid, int64_t *count)
{
    if (!nova_store_valid_id(tenant_id) || !number_digest || !applicant_digest || !except_vid ||
        !count)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(number_digest),
                            NOVA_SQL_P_TEXT(applicant_digest), NOVA_SQL_P_TEXT(except_vid)};
    *count = 0;
    return nova_store_query_int(s, &Q_DOC_OTHERS, tenant_id, p, 4, count);
}

typedef struct index_key {
    const char *region;
    const uint8_t *sealed;
    size_t len;
} index_key_t;

static nova_status read_index_key(nova_rows_t *r, nova_arena_t *a, void *out)
{
    index_key_t *k = out;
    nova_status st = nova_store_col_str(r, 0, a, &k->region);
    if (st == NOVA_OK)
        st = nova_store_col_blob(r, 1, a, &k->sealed, &k->len);
    return st;
}

nova_status nova_store_idv_index_key_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                         const char **region, const uint8_t **sealed, size_t *len)
{
    if (!nova_store_valid_id(tenant_id) || !region || !sealed || !len)
        return NOVA_INVALID;
    index_key_t k = {0};
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    nova_status st =
        nova_store_get_one(s, &Q_INDEX_KEY_GET, tenant_id, p, 1, a, read_index_key, &k);
    if (st == NOVA_OK) {
        *region = k.region;
        *sealed = k.sealed;
        *len = k.len;
    }
    return st;
}

nova_status nova_store_idv_index_key_put(nova_store_t *s, const char *tenant_id, const char *region,
                                         const uint8_t *sealed, size_t len, int64_t now,
                                         const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(tenant_id) || !region || !sealed || !len ||
        !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(region),
                            NOVA_SQL_P_BLOB(sealed, len), NOVA_SQL_P_INT(now)};
    /* No row inserted: another process made it first (the caller reads that one). */
    nova_store_stmt_t x = {&Q_INDEX_KEY_PUT, p, 4, NOVA_CONFLICT, NOVA_OK};
    return nova_store_exec_audited(s, tenant_id, &x, 1, audit);
}

nova_status nova_store_idv_review_decide(nova_store_t *s, const char *tenant_id, const char *id,
                                         const char *decision, const char *result, int64_t now,
                                         const nova_audit_entry_t *audit,
                                         const nova_event_row_t *event)
{
    static const nova_sql_t Q_REVIEW = {
        -1, "idv review decide",
        "UPDATE idv_verifications SET decision = ?, result = ?, updated_at = ? WHERE tenant_id = ? "
        "AND id = ? AND status = 'completed' AND decision = 'review_required'",
        NULL};
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(id) || !decision || !result ||
        !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(decision), NOVA_SQL_P_TEXT(result), NOVA_SQL_P_INT(now),
                            NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    nova_sql_param_t jp[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(id)};
    int64_t changes = 0;
    st = nova_store_exec_q(s, &Q_REVIEW, NULL, p, 5, &changes);
    if (st == NOVA_OK && changes == 0)
        st = NOVA_NOT_FOUND;
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_JOB_DELETE, NULL, jp, 2, NULL);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st == NOVA_OK && event != NULL)
        st = nova_store_event_append_tx(s, event);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

/* ---- steps, jobs, usage ---- */

nova_status nova_store_idv_step_put(nova_store_t *s, const char *tenant_id, const char *vid,
                                    const nova_idv_step_row_t *step, int64_t units, bool *fresh)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(vid) || !step || !step->step_id ||
        !step->check_name || !step->status || !step->result || !step->result_len || units < 0)
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id),
                            NOVA_SQL_P_TEXT(vid),
                            NOVA_SQL_P_INT(step->idx),
                            NOVA_SQL_P_TEXT(step->step_id),
                            NOVA_SQL_P_TEXT(step->check_name),
                            NOVA_SQL_P_TEXT(step->status),
                            NOVA_SQL_P_BLOB(step->result, step->result_len),
                            NOVA_SQL_P_INT(step->created_at)};
    nova_sql_param_t up[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(vid),
                             NOVA_SQL_P_INT(step->idx),  NOVA_SQL_P_TEXT(step->check_name),
                             NOVA_SQL_P_INT(units),      NOVA_SQL_P_INT(step->created_at)};
    int64_t changes = 0;
    st = nova_store_exec_q(s, &Q_STEP_INSERT, NULL, p, 8, &changes);
    /* a free check (a price of 0) is still an executed check: counted, at 0 units */
    if (st == NOVA_OK && changes > 0)
        st = nova_store_exec_q(s, &Q_USAGE_INSERT, NULL, up, 6, NULL);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    st = nova_store_tx_commit(s);
    if (st == NOVA_OK && fresh)
        *fresh = changes > 0;
    return st;
}

static nova_status read_step(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_idv_step_row_t *x = out;
    x->idx = r->s->drv->col_int64(r, 0);
    nova_status st = nova_store_col_str(r, 1, a, &x->step_id);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 2, a, &x->check_name);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 3, a, &x->status);
    size_t len = 0;
    const void *b = r->s->drv->col_bytes(r, 4, &len);
    if (st == NOVA_OK && b && len) {
        uint8_t *c = nova_arena_alloc(a, len);
        if (c == NULL)
            return NOVA_NOMEM;
        memcpy(c, b, len);
        x->result = c;
        x->result_len = len;
    }
    x->created_at = r->s->drv->col_int64(r, 5);
    return st;
}

nova_status nova_store_idv_step_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     const char *vid, nova_idv_step_row_t **out, size_t *n)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(vid))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(vid)};
    return nova_store_get_all(s, &Q_STEP_LIST, tenant_id, p, 2, a, read_step,
                              sizeof(nova_idv_step_row_t), (void **)out, n);
}

nova_status nova_store_idv_job_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   const char *vid, const uint8_t **payload, size_t *len)
{
    if (!nova_store_valid_id(tenant_id) || !nova_store_valid_id(vid))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(vid)};
    nova_rows_t r;
    nova_status st = s->drv->query(s, &Q_JOB_GET, tenant_id, p, 2, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK) {
        size_t n = 0;
        const void *b = s->drv->col_bytes(&r, 0, &n);
        uint8_t *c = n ? nova_arena_alloc(a, n) : NULL;
        if (c == NULL) {
            st = n ? NOVA_NOMEM : NOVA_NOT_FOUND;
        } else {
            memcpy(c, b, n);
            *payload = c;
            *len = n;
        }
    }
    s->drv->done(&r);
    return st;
}

static nova_status read_ref(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_idv_job_ref_t *j = out;
    nova_status st = nova_store_col_str(r, 0, a, &j->tenant_id);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 1, a, &j->verification_id);
    return st;
}

nova_status nova_store_idv_job_pending(nova_store_t *s, nova_arena_t *a, int limit,
                                       nova_idv_job_ref_t **out, size_t *n)
{
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(limit)};
    return nova_store_get_all(s, &Q_JOB_PENDING, NOVA_STORE_ALL_TENANTS, p, 1, a, read_ref,
                              sizeof(nova_idv_job_ref_t), (void **)out, n);
}

nova_status nova_store_idv_job_expire(nova_store_t *s, int64_t now, int64_t *n)
{
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now)};
    return nova_store_exec_q(s, &Q_JOB_EXPIRE, NOVA_STORE_ALL_TENANTS, p, 1, n);
}

static nova_status read_usage(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_idv_usage_row_t *u = out;
    nova_status st = nova_store_col_str(r, 0, a, &u->check_name);
    u->checks = r->s->drv->col_int64(r, 1);
    u->units = r->s->drv->col_int64(r, 2);
    return st;
}

nova_status nova_store_idv_usage(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                 int64_t from, int64_t to, nova_idv_usage_row_t **out, size_t *n)
{
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_INT(from),
                            NOVA_SQL_P_INT(to ? to : INT64_MAX)};
    return nova_store_get_all(s, &Q_USAGE, tenant_id, p, 3, a, read_usage,
                              sizeof(nova_idv_usage_row_t), (void **)out, n);
}

/* ---- price list ---- */

static const nova_sql_t Q_PRICES = {-1, "idv prices",
                                    "SELECT check_name, units, updated_at, updated_by FROM "
                                    "idv_prices WHERE tenant_id = ? ORDER BY check_name",
                                    NULL};
static const nova_sql_t Q_PRICE_OF = {
    -1, "idv price of", "SELECT units FROM idv_prices WHERE tenant_id = ? AND check_name = ?",
    NULL};
static const nova_sql_t Q_PRICES_DELETE = {-1, "idv prices delete",
                                           "DELETE FROM idv_prices WHERE tenant_id = ?", NULL};
static const nova_sql_t Q_PRICE_INSERT = {-1, "idv price insert",
                                          "INSERT INTO idv_prices (tenant_id, check_name, units, "
                                          "updated_at, updated_by) VALUES (?, ?, ?, ?, ?)",
                                          NULL};

static nova_status read_price(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_idv_price_row_t *p = out;
    nova_status st = nova_store_col_str(r, 0, a, &p->check_name);
    p->units = r->s->drv->col_int64(r, 1);
    p->updated_at = r->s->drv->col_int64(r, 2);
    if (st == NOVA_OK)
        st = nova_store_col_str(r, 3, a, &p->updated_by);
    return st;
}

nova_status nova_store_idv_prices_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      nova_idv_price_row_t **out, size_t *n)
{
    if (!nova_store_valid_id(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q_PRICES, tenant_id, p, 1, a, read_price,
                              sizeof(nova_idv_price_row_t), (void **)out, n);
}

nova_status nova_store_idv_price_of(nova_store_t *s, const char *tenant_id, const char *check_name,
                                    int64_t *units)
{
    if (!nova_store_valid_id(tenant_id) || !check_name)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(check_name)};
    int64_t v = 0;
    nova_status st = nova_store_query_int(s, &Q_PRICE_OF, tenant_id, p, 2, &v);
    if (st == NOVA_NOT_FOUND)
        return NOVA_OK;
    if (st == NOVA_OK)
        *units = v;
    return st;
}

nova_status nova_store_idv_prices_put(nova_store_t *s, const char *tenant_id,
                                      const nova_idv_price_row_t *rows, size_t n,
                                      const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(tenant_id) || (n && !rows) || !nova_store_audit_for(audit, tenant_id))
        return NOVA_INVALID;
    for (size_t i = 0; i < n; i++)
        if (!rows[i].check_name || rows[i].units < 0 || !rows[i].updated_by)
            return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t tp[] = {NOVA_SQL_P_TEXT(tenant_id)};
    int64_t one = 0;
    st = nova_store_query_int(s, &Q_TENANT, NULL, tp, 1, &one);
    if (st == NOVA_NOT_FOUND)
        st = NOVA_INVALID;
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q_PRICES_DELETE, NULL, tp, 1, NULL);
    for (size_t i = 0; st == NOVA_OK && i < n; i++) {
        nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(rows[i].check_name),
                                NOVA_SQL_P_INT(rows[i].units), NOVA_SQL_P_INT(rows[i].updated_at),
                                NOVA_SQL_P_TEXT(rows[i].updated_by)};
        st = nova_store_exec_q(s, &Q_PRICE_INSERT, NULL, p, 5, NULL);
    }
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}
