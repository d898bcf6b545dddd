/*
 * sqlite.c: the SQLite driver. One sqlite3 handle per nova_store_t, opened without SQLite's
 * own mutexes because a connection never leaves its thread. Catalogue statements are prepared
 * on first use and kept for the life of the connection (SQLITE_PREPARE_PERSISTENT), so the
 * hot lookups cost one bind and one B-tree search.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "nova/log.h"

enum { TX_BEGIN, TX_BEGIN_IMMEDIATE, TX_COMMIT, TX_ROLLBACK, TX_COUNT };
static const char *const tx_sql[TX_COUNT] = {"BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"};

typedef struct sqlite_store {
    nova_store_t base;
    sqlite3 *db;
    sqlite3_stmt *cache[NOVA_SQL_SLOTS];
    sqlite3_stmt *tx[TX_COUNT];
} sqlite_store_t;

static nova_status map_rc(int rc)
{
    switch (rc) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return NOVA_OK;
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_ROWID:
        return NOVA_CONFLICT;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return NOVA_NOT_FOUND;
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
        return NOVA_INVALID;
    case SQLITE_NOMEM:
        return NOVA_NOMEM;
    }
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        return NOVA_CONFLICT;
    /* Locked out by another writer past busy_timeout, or the disk is gone: retry later. */
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
        return NOVA_UNAVAILABLE;
    default:
        return NOVA_INTERNAL;
    }
}

static nova_status fail(sqlite_store_t *s, const char *what, int rc)
{
    nova_status st = map_rc(rc);
    /* Constraint outcomes are answers, not faults; only log what an operator should see. */
    if (st == NOVA_INTERNAL || st == NOVA_UNAVAILABLE || st == NOVA_NOMEM)
        nova_log_warn("store: sqlite %s: %s (%d)", what, sqlite3_errmsg(s->db), rc);
    return st;
}

static void sq_close(nova_store_t *base)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    for (int i = 0; i < NOVA_SQL_SLOTS; i++)
        sqlite3_finalize(s->cache[i]);
    for (int i = 0; i < TX_COUNT; i++)
        sqlite3_finalize(s->tx[i]);
    sqlite3_close_v2(s->db);
    free(s);
}

static nova_status sq_exec(nova_store_t *base, const char *sql)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? NOVA_OK : fail(s, "exec", rc);
}

static nova_status bind(sqlite3_stmt *st, const nova_sql_param_t *p, int n)
{
    int rc = SQLITE_OK;
    for (int i = 0; i < n && rc == SQLITE_OK; i++) {
        switch (p[i].type) {
        case NOVA_SQL_TEXT:
            rc = p[i].p ? sqlite3_bind_text(st, i + 1, p[i].p, -1, SQLITE_STATIC)
                        : sqlite3_bind_null(st, i + 1);
            break;
        case NOVA_SQL_INT64:
            rc = sqlite3_bind_int64(st, i + 1, p[i].i);
            break;
        case NOVA_SQL_BLOB:
            if (p[i].len > INT32_MAX)
                return NOVA_TOO_LARGE;
            /* A NULL pointer would bind SQL NULL; an empty blob is still a blob. */
            rc = sqlite3_bind_blob(st, i + 1, p[i].p ? p[i].p : "", (int)p[i].len, SQLITE_STATIC);
            break;
        }
    }
    return map_rc(rc);
}

static nova_status sq_query(nova_store_t *base, const nova_sql_t *q, const char *tenant,
                            const nova_sql_param_t *p, int n, nova_rows_t *r)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    sqlite3_stmt *st = q->slot >= 0 ? s->cache[q->slot] : NULL;
    nova_status ret;
    int rc;

    (void)tenant; /* one database file per deployment: isolation is the WHERE tenant_id */
    memset(r, 0, sizeof(*r));
    r->s = base;
    if (st == NULL) {
        unsigned flags = q->slot >= 0 ? SQLITE_PREPARE_PERSISTENT : 0;
        rc = sqlite3_prepare_v3(s->db, q->sql, -1, flags, &st, NULL);
        if (rc != SQLITE_OK)
            return fail(s, q->name, rc);
        if (q->slot >= 0)
            s->cache[q->slot] = st;
        else
            r->owned = true;
    }
    r->h = st;
    ret = bind(st, p, n);
    if (ret != NOVA_OK)
        goto error;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        r->pending = true;
        return NOVA_OK;
    }
    if (rc == SQLITE_DONE) {
        r->finished = true;
        r->changes = sqlite3_changes64(s->db);
        return NOVA_OK;
    }
    ret = fail(s, q->name, sqlite3_extended_errcode(s->db));
error:
    r->s->drv->done(r);
    return ret;
}

static nova_status sq_next(nova_rows_t *r)
{
    if (r->pending) {
        r->pending = false;
        return NOVA_OK;
    }
    if (r->finished || r->h == NULL)
        return NOVA_NOT_FOUND;
    int rc = sqlite3_step(r->h);
    if (rc == SQLITE_ROW)
        return NOVA_OK;
    r->finished = true;
    if (rc == SQLITE_DONE)
        return NOVA_NOT_FOUND;
    sqlite_store_t *s = (sqlite_store_t *)r->s;
    return fail(s, "step", sqlite3_extended_errcode(s->db));
}

static const void *sq_col_bytes(nova_rows_t *r, int i, size_t *len)
{
    if (sqlite3_column_type(r->h, i) == SQLITE_NULL) {
        *len = 0;
        return NULL;
    }
    /* blob before bytes: column_bytes after column_blob reports the blob's size. */
    const void *p = sqlite3_column_blob(r->h, i);
    *len = (size_t)sqlite3_column_bytes(r->h, i);
    return p ? p : "";
}

static int64_t sq_col_int64(nova_rows_t *r, int i)
{
    return sqlite3_column_int64(r->h, i);
}

static void sq_done(nova_rows_t *r)
{
    if (r->h == NULL)
        return;
    if (r->owned)
        sqlite3_finalize(r->h);
    else
        sqlite3_reset(r->h);
    r->h = NULL;
}

static nova_status tx_step(sqlite_store_t *s, int which)
{
    int rc;
    if (s->tx[which] == NULL) {
        rc = sqlite3_prepare_v3(s->db, tx_sql[which], -1, SQLITE_PREPARE_PERSISTENT, &s->tx[which],
                                NULL);
        if (rc != SQLITE_OK)
            return fail(s, tx_sql[which], rc);
    }
    rc = sqlite3_step(s->tx[which]);
    sqlite3_reset(s->tx[which]);
    return rc == SQLITE_DONE ? NOVA_OK : fail(s, tx_sql[which], sqlite3_extended_errcode(s->db));
}

static nova_status sq_begin(nova_store_t *base, bool write, const char *tenant)
{
    (void)tenant;
    return tx_step((sqlite_store_t *)base, write ? TX_BEGIN_IMMEDIATE : TX_BEGIN);
}

static nova_status sq_commit(nova_store_t *base)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    nova_status st = tx_step(s, TX_COMMIT);
    /* A failed COMMIT (SQLITE_BUSY) leaves the transaction open; the caller rolls back. */
    return st;
}

static void sq_rollback(nova_store_t *base)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    if (!sqlite3_get_autocommit(s->db))
        (void)tx_step(s, TX_ROLLBACK);
}

static nova_status sq_migrate_lock(nova_store_t *base)
{
    /* BEGIN IMMEDIATE already holds the database's single write lock. */
    (void)base;
    return NOVA_OK;
}

/* Set by nova_store_defer_checkpoints: connections opened afterwards leave WAL checkpoints to
 * nova_store_checkpoint. */
static _Atomic bool deferred_checkpoints;

void nova_store_defer_checkpoints(void)
{
    atomic_store(&deferred_checkpoints, true);
}

/* A passive checkpoint: copies what the WAL holds back into the database file as far as no
 * reader still needs it, never waiting for a lock; the writers then reuse the WAL from its
 * start. */
static nova_status sq_checkpoint(nova_store_t *base)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int frames = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &done);
    return rc == SQLITE_OK || rc == SQLITE_BUSY ? NOVA_OK : map_rc(rc);
}

static const nova_store_driver_t sqlite_driver = {
    .name = "sqlite",
    .dialect = NOVA_DIALECT_SQLITE,
    .migrations = nova_store_migrations_sqlite,
    .n_migrations = &nova_store_migrations_sqlite_count,
    .close = sq_close,
    .exec = sq_exec,
    .query = sq_query,
    .next = sq_next,
    .col_bytes = sq_col_bytes,
    .col_int64 = sq_col_int64,
    .done = sq_done,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .migrate_lock = sq_migrate_lock,
    .checkpoint = sq_checkpoint,
};

/* mkdir -p of path's parent directory. */
static int make_parent_dirs(const char *path)
{
    char *tmp = strdup(path);
    int ret = 0;
    if (tmp == NULL)
        return -1;
    char *slash = strrchr(tmp, '/');
    if (slash == NULL || slash == tmp)
        goto end;
    *slash = '\0';
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
            ret = -1;
            goto end;
        }
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        ret = -1;
end:
    free(tmp);
    return ret;
}

/* mmap_size 0: a connection that begins a read after another connection changed the database
 * unmaps its whole mapping (SQLite's pager does, in WAL mode), and each munmap shoots down the
 * TLBs of every thread of novad: with one connection per HTTP thread, 16% of a posting's CPU
 * under the ledger bench, and half its throughput. Reads through the page cache cost less. */
nova_status nova_store_sqlite_open(const char *path, nova_store_t **out, char *err, size_t errlen)
{
    static const char pragmas[] = "PRAGMA busy_timeout = 5000;"
                                  "PRAGMA journal_mode = WAL;"
                                  "PRAGMA synchronous = NORMAL;"
                                  "PRAGMA foreign_keys = ON;"
                                  "PRAGMA temp_store = MEMORY;"
                                  "PRAGMA cache_size = -16384;"
                                  "PRAGMA mmap_size = 0;"
                                  "PRAGMA journal_size_limit = 67108864;";
    bool memory = strcmp(path, ":memory:") == 0;
    sqlite_store_t *s = NULL;
    nova_status st = NOVA_UNAVAILABLE;
    int rc;

    *out = NULL;
    if (!memory && make_parent_dirs(path) != 0) {
        snprintf(err, errlen, "sqlite: cannot create the directory of %s: %s", path,
                 strerror(errno));
        return NOVA_UNAVAILABLE;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NOVA_NOMEM;
    s->base.drv = &sqlite_driver;
    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: cannot open %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto error;
    }
    sqlite3_extended_result_codes(s->db, 1);
    rc = sqlite3_exec(s->db, pragmas, NULL, NULL, NULL);
    /* With a background checkpoint, the committing thread does not copy the WAL back (16% of
     * a posting's CPU, and an fsync, when it did); past 16384 pages (64 MB) it still does, so
     * a stalled job cannot let the WAL grow without bound. */
    if (rc == SQLITE_OK && !memory && atomic_load(&deferred_checkpoints))
        rc = sqlite3_wal_autocheckpoint(s->db, 16384);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: cannot configure %s: %s", path, sqlite3_errmsg(s->db));
        st = map_rc(sqlite3_extended_errcode(s->db));
        goto error;
    }
    struct stat sb;
    if (!memory && stat(path, &sb) == 0) {
        s->base.file_id[0] = (uint64_t)sb.st_dev;
        s->base.file_id[1] = (uint64_t)sb.st_ino;
    }
    *out = &s->base;
    return NOVA_OK;

error:
    sqlite3_close_v2(s->db);
    free(s);
    return st == NOVA_OK ? NOVA_UNAVAILABLE : st;
}
