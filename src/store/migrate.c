/*
 * migrate.c: versioned schema migrations. The SQL files of migrations/<dialect>/ are compiled
 * into the binary (tools/embed_sql.py); schema_version records what a database has applied.
 *
 * Each migration runs in its own write transaction that first takes the migration lock
 * (SQLite: BEGIN IMMEDIATE is the database's one write lock; PostgreSQL: an advisory
 * transaction lock) and then re-reads the version, so processes starting together apply each
 * migration exactly once and the later ones find nothing to do.
 */
#include <stdio.h>

#include "internal.h"

static const nova_sql_t create_version_table = {
    -1, "schema_version create",
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
    "name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
    "name TEXT NOT NULL, applied_at BIGINT NOT NULL)"};
static const nova_sql_t version_table_exists = {
    -1, "schema_version exists",
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
    "SELECT count(*) FROM pg_catalog.pg_tables "
    "WHERE schemaname = current_schema() AND tablename = 'schema_version'"};
static const nova_sql_t version_max = {
    -1, "schema_version max", "SELECT COALESCE(MAX(version), 0) FROM schema_version", NULL};
static const nova_sql_t version_insert = {
    -1, "schema_version insert",
    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)", NULL};

int nova_store_code_version(void)
{
    /* Both dialects carry the same versions; embed_sql.py refuses to build otherwise. */
    size_t n = nova_store_migrations_sqlite_count;
    return n ? nova_store_migrations_sqlite[n - 1].version : 0;
}

static const char *dialect_sql(nova_store_t *s, const nova_sql_t *q)
{
    return s->drv->dialect == NOVA_DIALECT_POSTGRES && q->pg ? q->pg : q->sql;
}

static nova_status read_version(nova_store_t *s, int *out)
{
    int64_t exists = 0, v = 0;
    nova_status st = nova_store_query_int(s, &version_table_exists, NULL, NULL, 0, &exists);
    if (st != NOVA_OK)
        return st;
    if (exists) {
        st = nova_store_query_int(s, &version_max, NULL, NULL, 0, &v);
        if (st != NOVA_OK)
            return st;
    }
    *out = (int)v;
    return NOVA_OK;
}

nova_status nova_store_schema_version(nova_store_t *s, int *out)
{
    return read_version(s, out);
}

/* One step: under the lock, reads the version and applies the next migration if there is
 * one. *version gets the version found (before this step); *more is true after applying. */
static nova_status migrate_step(nova_store_t *s, int *version, bool *more)
{
    const nova_store_driver_t *drv = s->drv;
    int code = nova_store_code_version(), cur = 0;
    nova_status st;

    *more = false;
    /* Migrations may touch tenant-owned rows (backfills): platform-wide context. */
    st = drv->begin(s, true, NOVA_STORE_ALL_TENANTS);
    if (st != NOVA_OK)
        return st;
    s->in_tx = true;
    if ((st = drv->migrate_lock(s)) != NOVA_OK || (st = read_version(s, &cur)) != NOVA_OK)
        goto error;
    *version = cur;
    if (cur > code) {
        st = NOVA_CONFLICT;
        goto error;
    }
    if (cur == code)
        goto error; /* nothing to do: roll back the empty transaction */
    const nova_store_migration_t *m = &drv->migrations[cur];
    nova_assert(m->version == cur + 1);
    if (cur == 0 && (st = drv->exec(s, dialect_sql(s, &create_version_table))) != NOVA_OK)
        goto error;
    if ((st = drv->exec(s, m->sql)) != NOVA_OK)
        goto error;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(m->version), NOVA_SQL_P_TEXT(m->name),
                            NOVA_SQL_P_INT(nova_time_now())};
    if ((st = nova_store_exec_q(s, &version_insert, NULL, p, 3, NULL)) != NOVA_OK)
        goto error;
    st = drv->commit(s);
    if (st != NOVA_OK)
        goto error;
    s->in_tx = false;
    *more = true;
    return NOVA_OK;

error:
    drv->rollback(s);
    s->in_tx = false;
    return st;
}

nova_status nova_store_migrate(nova_store_t *s, int *from, int *to)
{
    int first = -1, cur = 0;
    bool more = true;
    nova_status st = NOVA_OK;

    nova_assert(*s->drv->n_migrations == (size_t)nova_store_code_version());
    while (more) {
        st = migrate_step(s, &cur, &more);
        if (st != NOVA_OK)
            break;
        if (first < 0)
            first = cur;
        if (more)
            cur++;
    }
    if (from)
        *from = first < 0 ? cur : first;
    if (to)
        *to = cur;
    return st;
}
