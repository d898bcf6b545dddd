/*
 * internal.h: what the store's files share and nothing outside src/store (but its unit test)
 * sees: bound parameters, row cursors, the driver vtable, the statement catalogue and the
 * migrations embedded at build time.
 *
 * A driver runs statements written once in portable SQL with `?` placeholders (the postgres
 * driver rewrites them to $1..$n). A statement with a slot is prepared once per connection
 * and cached; slot -1 is prepared for one call (migrations, tests).
 */
#ifndef NOVA_STORE_INTERNAL_H
#define NOVA_STORE_INTERNAL_H

#include "nova/audit.h"
#include "nova/store.h"

typedef enum nova_sql_type { NOVA_SQL_TEXT, NOVA_SQL_INT64, NOVA_SQL_BLOB } nova_sql_type;

/* A bound parameter. TEXT is NUL-terminated (NULL binds SQL NULL); BLOB is len bytes. The
 * pointed-to data must stay valid until the rows are done. */
typedef struct nova_sql_param {
    nova_sql_type type;
    const void *p;
    size_t len;
    int64_t i;
} nova_sql_param_t;

#define NOVA_SQL_P_TEXT(s) ((nova_sql_param_t){NOVA_SQL_TEXT, (s), 0, 0})
#define NOVA_SQL_P_INT(v) ((nova_sql_param_t){NOVA_SQL_INT64, NULL, 0, (v)})
#define NOVA_SQL_P_BLOB(b, n) ((nova_sql_param_t){NOVA_SQL_BLOB, (b), (n), 0})
#define NOVA_SQL_MAX_PARAMS 16

typedef struct nova_sql {
    int slot;         /* index into the per-connection cache, or -1 */
    const char *name; /* for log lines */
    const char *sql;  /* portable SQL, `?` placeholders */
    const char *pg;   /* PostgreSQL text when the dialects differ, else NULL */
} nova_sql_t;

/* A cursor over one statement's result. Always end it with drv->done, also after errors. */
typedef struct nova_rows {
    nova_store_t *s;
    void *h;         /* sqlite3_stmt * or PGresult * */
    int row;         /* postgres: current row */
    int nrows;       /* postgres: rows in the result */
    bool pending;    /* sqlite: the first row was stepped to by query */
    bool finished;   /* sqlite: SQLITE_DONE seen */
    bool owned;      /* sqlite: uncached statement, finalize at done */
    int64_t changes; /* rows inserted/updated/deleted */
} nova_rows_t;

typedef enum nova_store_dialect { NOVA_DIALECT_SQLITE, NOVA_DIALECT_POSTGRES } nova_store_dialect;

typedef struct nova_store_migration {
    int version;
    const char *name;
    const char *sql;
} nova_store_migration_t;

struct nova_store_driver {
    const char *name;
    nova_store_dialect dialect;
    const nova_store_migration_t *migrations; /* sorted, versions 1..n */
    const size_t *n_migrations;
    void (*close)(nova_store_t *s);
    /* Runs a script of ;-separated statements without parameters or rows. */
    nova_status (*exec)(nova_store_t *s, const char *sql);
    /* Runs q. tenant: value of nova.tenant_id for this statement (postgres row-level
     * security) when not in a transaction; ignored inside one (begin set it) and by sqlite.
     * On NOVA_OK, step rows with next; always call done. */
    nova_status (*query)(nova_store_t *s, const nova_sql_t *q, const char *tenant,
                         const nova_sql_param_t *p, int n, nova_rows_t *r);
    /* NOVA_OK: a row is current. NOVA_NOT_FOUND: no more rows. Else an error. */
    nova_status (*next)(nova_rows_t *r);
    /* Bytes of a TEXT or BLOB column; NULL for SQL NULL (len 0). Valid until next/done. */
    const void *(*col_bytes)(nova_rows_t *r, int i, size_t *len);
    /* Integer or boolean column. */
    int64_t (*col_int64)(nova_rows_t *r, int i);
    void (*done)(nova_rows_t *r);
    /* write: sqlite takes the write lock up front (BEGIN IMMEDIATE). tenant as for query. */
    nova_status (*begin)(nova_store_t *s, bool write, const char *tenant);
    nova_status (*commit)(nova_store_t *s);
    void (*rollback)(nova_store_t *s);
    /* Serialises migrations across processes for the current transaction. */
    nova_status (*migrate_lock)(nova_store_t *s);
    /* Background upkeep (nova_store_checkpoint); NULL: nothing to do. */
    nova_status (*checkpoint)(nova_store_t *s);
};

/* Common head of every driver's connection struct. */
struct nova_store {
    const struct nova_store_driver *drv;
    char *url; /* as opened; nova_store_thread checks it */
    bool in_tx;
    unsigned audit_pending; /* entries appended in the open transaction (counted at commit) */
    uint64_t file_id[2];    /* SQLite: the database file's device and inode at open; else 0 */
};

typedef struct nova_store_driver nova_store_driver_t;

/* The value of nova.tenant_id for platform-level statements that may see every tenant. */
#define NOVA_STORE_ALL_TENANTS "*"

/* Statement catalogue (store.c). */
enum {
    NOVA_Q_PING,
    NOVA_Q_TENANT_INSERT,
    NOVA_Q_TENANT_GET,
    NOVA_Q_TENANT_LIST,
    NOVA_Q_KEY_INSERT,
    NOVA_Q_KEY_GET,
    NOVA_Q_KEY_ACTIVE,
    NOVA_Q_KEY_LIST,
    NOVA_Q_KEY_LIST_TENANT,
    /* signing-key rotation (store.c, migration 0006) */
    NOVA_Q_KEY_HISTORY,
    NOVA_Q_KEY_DEMOTE,
    NOVA_Q_KEY_RETIRE_GRACE,
    NOVA_Q_KEY_RETIRE,
    NOVA_Q_KEY_DUE,
    NOVA_Q_KEY_GRACE_ENDED,
    NOVA_Q_CLIENT_INSERT,
    NOVA_Q_CLIENT_GET,
    NOVA_Q_CLIENT_GET_SCOPED,
    NOVA_Q_CLIENT_LIST,
    NOVA_Q_CLIENT_REVOKE,
    NOVA_Q_TOKEN_REVOKE,
    NOVA_Q_TOKEN_RESOLVE,
    NOVA_Q_TOKEN_PRUNE,
    NOVA_Q_SETTING_INSERT,
    NOVA_Q_SETTING_GET,
    /* src/store/audit.c */
    NOVA_Q_AUDIT_HEAD_ENSURE,
    NOVA_Q_AUDIT_INSERT,
    NOVA_Q_AUDIT_HEAD_MOVE,
    NOVA_Q_AUDIT_HEAD_GET,
    NOVA_Q_AUDIT_ROWS,
    NOVA_Q_AUDIT_LIST,
    NOVA_Q_AUDIT_TENANTS,
    /* src/store/sessions.c */
    NOVA_Q_SES_INSERT,
    NOVA_Q_RT_INSERT,
    NOVA_Q_RT_FIND,
    NOVA_Q_RT_USE,
    NOVA_Q_SES_REVOKE,
    NOVA_Q_SES_REVOKE_ALL,
    NOVA_Q_SES_GET,
    NOVA_Q_SES_RESOLVE,
    /* src/store/policy.c */
    NOVA_Q_FGA_STORE_INSERT,
    NOVA_Q_FGA_STORE_GET,
    NOVA_Q_FGA_STORE_LIST,
    NOVA_Q_FGA_STORE_DELETE,
    NOVA_Q_FGA_STORE_TOUCH,
    NOVA_Q_FGA_STORE_STATE,
    NOVA_Q_FGA_MODEL_INSERT,
    NOVA_Q_FGA_MODEL_GET,
    NOVA_Q_FGA_MODEL_LIST,
    NOVA_Q_FGA_TUPLE_INSERT,
    NOVA_Q_FGA_TUPLE_GET,
    NOVA_Q_FGA_TUPLE_DELETE,
    NOVA_Q_FGA_TUPLE_READ,
    NOVA_Q_FGA_TUPLE_SCAN,
    NOVA_Q_FGA_CHANGE_HEAD,
    NOVA_Q_FGA_CHANGE_INSERT,
    NOVA_Q_FGA_CHANGE_LIST,
    NOVA_Q_FGA_ASSERT_PUT,
    NOVA_Q_FGA_ASSERT_GET,
    NOVA_Q_POL_NEXT,
    NOVA_Q_POL_INSERT,
    NOVA_Q_POL_GET,
    NOVA_Q_POL_LIST,
    NOVA_Q_POL_STATE_GET,
    NOVA_Q_POL_STATE_PUT,
    NOVA_Q_POL_DRIFT_INSERT,
    NOVA_Q_POL_DRIFT_LIST,
    NOVA_Q_POL_DRIFT_COUNT,
    /* src/store/apikeys.c */
    NOVA_Q_AK_INSERT,
    NOVA_Q_AK_FIND,
    NOVA_Q_AK_GET,
    NOVA_Q_AK_LIST,
    NOVA_Q_AK_REVOKE,
    NOVA_Q_AK_ROTATE,
    NOVA_Q_AK_SPEND_ENSURE,
    NOVA_Q_AK_SPEND_ADD,
    NOVA_Q_AK_SPEND_GET,
    /* src/store/datakeys.c */
    NOVA_Q_DK_INSERT,
    NOVA_Q_DK_RETIRE,
    NOVA_Q_DK_GET,
    NOVA_Q_DK_NEWEST,
    NOVA_Q_DK_LIST,
    /* src/store/security.c */
    NOVA_Q_SEC_GET,
    NOVA_Q_SEC_VERSION,
    NOVA_Q_SEC_INSERT,
    NOVA_Q_SEC_TENANT,
    /* src/store/ledger.c */
    NOVA_Q_LA_INSERT,
    NOVA_Q_LA_GET,
    NOVA_Q_LA_LIST,
    NOVA_Q_LA_APPLY,
    NOVA_Q_LA_STATUS,
    NOVA_Q_LP_INSERT,
    NOVA_Q_LP_GET,
    NOVA_Q_LP_RESOLVE,
    NOVA_Q_LP_REVERSE,
    NOVA_Q_LP_DUE,
    NOVA_Q_LP_LEGS,
    NOVA_Q_LE_INSERT,
    NOVA_Q_LE_OF,
    NOVA_Q_LE_ACCOUNT,
    NOVA_Q_LA_LOCK,
    NOVA_Q_LL_PUT,
    NOVA_Q_LL_GET,
    NOVA_Q_LU_GET,
    NOVA_Q_LU_ADD,
    NOVA_Q_LE_SUM_BEFORE,
    NOVA_Q_LE_WINDOW,
    NOVA_Q_LPR_PUT,
    NOVA_Q_LPR_GET,
    NOVA_Q_LPR_LIST,
    NOVA_Q_LA_BY_PRODUCT,
    NOVA_Q_LP_INSERT_MANY,
    NOVA_Q_LE_INSERT_MANY,
    /* src/store/faces.c */
    NOVA_Q_FACE_INSERT,
    NOVA_Q_FACE_DELETE,
    NOVA_Q_FACE_BUMP,
    NOVA_Q_FACE_VERSION,
    NOVA_Q_FACE_LIST,
    NOVA_SQL_SLOTS
};

/* A signing key that verifies tokens and is published: the active one, or one in grace before
 * its end (the one `?` is now). The rule's only statement: both liveness reads and both JWKS
 * lists use it. */
#define NOVA_SQL_KEY_LIVE "(state = 'active' OR (state = 'grace' AND grace_until > ?))"

/* Driver constructors. path: a file or ":memory:"; url: the postgres URL. */
nova_status nova_store_sqlite_open(const char *path, nova_store_t **out, char *err, size_t errlen);
nova_status nova_store_pg_open(const char *url, nova_store_t **out, char *err, size_t errlen);

/* Runs q to completion, discarding rows; *changes (may be NULL) gets the affected rows. */
nova_status nova_store_exec_q(nova_store_t *s, const nova_sql_t *q, const char *tenant,
                              const nova_sql_param_t *p, int n, int64_t *changes);
/* Runs q and reads the first column of its first row as an integer (NOT_FOUND: no row). */
nova_status nova_store_query_int(nova_store_t *s, const nova_sql_t *q, const char *tenant,
                                 const nova_sql_param_t *p, int n, int64_t *out);

/* Write transactions for repository files (store.c, audit.c, ...). begin takes the write lock
 * (SQLite BEGIN IMMEDIATE) and sets the tenant context (PostgreSQL); commit rolls back when it
 * fails and counts the audit entries the transaction appended; every path ends in exactly
 * one commit or rollback. */
nova_status nova_store_tx_begin(nova_store_t *s, const char *tenant);
nova_status nova_store_tx_commit(nova_store_t *s);
void nova_store_tx_rollback(nova_store_t *s);

/* One statement of an audited change (nova_store_exec_audited). */
typedef struct nova_store_stmt {
    const nova_sql_t *q;
    const nova_sql_param_t *p;
    int n;
    /* NOVA_OK: whatever q changes will do. Else the status the change fails with when q
     * changes no row (an UPDATE or DELETE of the row the call names: NOVA_NOT_FOUND). */
    nova_status if_none;
    /* NOVA_OK: q changes rows. Else q is a probe (a SELECT) that must find no row, and the
     * change fails with this status when it finds one (an id taken: NOVA_CONFLICT). */
    nova_status if_row;
} nova_store_stmt_t;

/* The one shape of a repository's mutation: in one write transaction of tenant (SQLite's
 * BEGIN IMMEDIATE, PostgreSQL's tenant context), runs the n statements in order, then
 * appends audit to the tenant's chain (nova_store_audit_append_tx), then commits. The first
 * failure (a driver's error, or a statement's if_none / if_row) rolls everything back and is
 * returned; nothing is half done. NOVA_INVALID, nothing run, when tenant is not an id a
 * repository may act for or audit is not an entry of its chain. */
nova_status nova_store_exec_audited(nova_store_t *s, const char *tenant,
                                    const nova_store_stmt_t *stmts, size_t n,
                                    const nova_audit_entry_t *audit);

/* Appends e to its tenant's chain inside the open write transaction: checks it
 * (nova_audit_entry_check), locks the tenant's head (creating it for the first entry), writes
 * the row with seq = count + 1 and prev_hash = the head's hash, and moves the head. Every
 * mutating repository call does this before its commit, with the entry its caller passed.
 * out (may be NULL) gets the stored entry, strings in ar. */
nova_status nova_store_audit_append_tx(nova_store_t *s, const nova_audit_entry_t *e,
                                       nova_arena_t *ar, nova_audit_record_t *out);

/* Reads one row into out (an element of the caller's type). */
typedef nova_status (*nova_store_read_fn)(nova_rows_t *r, nova_arena_t *a, void *out);
/* Runs q and reads its first row with rd into out: NOVA_NOT_FOUND when it has none. */
nova_status nova_store_get_one(nova_store_t *s, const nova_sql_t *q, const char *tenant,
                               const nova_sql_param_t *p, int n, nova_arena_t *a,
                               nova_store_read_fn rd, void *out);
/* Runs q and reads every row with rd into an arena array of elem-byte elements (zeroed before
 * each read): *out (never NULL on NOVA_OK, even when empty) and *count. */
nova_status nova_store_get_all(nova_store_t *s, const nova_sql_t *q, const char *tenant,
                               const nova_sql_param_t *p, int n, nova_arena_t *a,
                               nova_store_read_fn rd, size_t elem, void **out, size_t *count);

/* Copies a text column into the arena (NULL stays NULL). */
nova_status nova_store_col_str(nova_rows_t *r, int i, nova_arena_t *a, const char **out);
/* Copies a BLOB column into the arena; SQL NULL or an empty value gives *out NULL, *outlen 0. */
nova_status nova_store_col_blob(nova_rows_t *r, int i, nova_arena_t *a, const uint8_t **out,
                                size_t *outlen);

/* An id a repository call may act for: set, not empty, and not the all-tenants marker (which
 * only platform-level statements may use). Every repository checks its tenant ids with it. */
bool nova_store_valid_id(const char *s);
/* e is an audit entry for tenant_id's chain (set, and its tenant is tenant_id). */
bool nova_store_audit_for(const nova_audit_entry_t *e, const char *tenant_id);

/* nova_store_audit_append_tx with the entry's id chosen by the caller (as, from
 * nova_id_new("aud", ...)), for a repository that writes the id elsewhere in the same
 * transaction first; as NULL: a fresh id. */
nova_status nova_store_audit_append_tx_as(nova_store_t *s, const nova_audit_entry_t *e,
                                          const char *as, nova_arena_t *ar,
                                          nova_audit_record_t *out);

/* The connection to write on: for a SQLite file, the process's one writer connection to it
 * (opened on first use, kept warm across transactions), with every other writer of this
 * process queued behind writer_mu until nova_store_writer_release(*locked); for PostgreSQL,
 * s itself, nothing locked. A SQLite store already in a transaction, or in memory, writes on
 * s (still queued). The writer is borrowed: use it only until the release, and never close
 * it. */
nova_store_t *nova_store_writer_acquire(nova_store_t *s, bool *locked);
void nova_store_writer_release(bool locked);

/* Inside the open write transaction: revokes (reason, now) the live people sessions the IdP
 * idp_id opened, narrowed to its session sid and/or user_id when not NULL; *ids the revoked
 * ids (arena array of *n). src/store/people.c; federation.c's IdP delete calls it. */
nova_status nova_store_people_revoke_idp_tx(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                            const char *idp_id, const char *sid,
                                            const char *user_id, const char *reason, int64_t now,
                                            const char ***ids, size_t *n);

/* Connections currently open in this process (tests check the per-thread destructor). */
int nova_store_live_connections(void);
void nova_store_live_add(int delta);

extern const nova_store_migration_t nova_store_migrations_sqlite[];
extern const size_t nova_store_migrations_sqlite_count;
extern const nova_store_migration_t nova_store_migrations_postgres[];
extern const size_t nova_store_migrations_postgres_count;

#endif
