/*
 * postgres.c: the PostgreSQL driver (libpq). Catalogue statements are PQprepare'd once per
 * connection; results come back in binary format so integers and bytea need no parsing.
 *
 * Tenant context. Tenant-owned tables carry a row-level security policy on the transaction-
 * local setting nova.tenant_id (see migrations/postgres). Every statement runs with it set:
 *   - inside a transaction, begin() sends BEGIN and set_config(..., true) in one pipeline;
 *   - a statement outside a transaction is sent in one libpq pipeline together with
 *     set_config(..., true) and a single Sync. Statements before a Sync share one implicit
 *     transaction, so the setting applies to the statement and dies with it, and the pair
 *     costs one network round trip, not the two (or four, with BEGIN/COMMIT) that separate
 *     calls would.
 * Measured on loopback (PostgreSQL 15, one connection, token check, medians of interleaved
 * runs on a loaded 2-core box): plain prepared statement 46-49 us, pipelined set_config plus
 * statement 53-59 us, set_config and statement as two round trips 108-125 us. The ~15%
 * premium buys a setting that cannot leak from one statement to the next, so every
 * tenant-scoped call, reads included, goes through the pipeline. Putting set_config inside
 * the statement (a CTE or a WHERE term) was rejected: nothing orders its evaluation before the
 * policy's current_setting(), which the executor may even evaluate first as an index key.
 * A connection with no setting sees no tenant rows at all (the policy fails closed).
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/log.h"

#define CTX_STMT "nova_ctx"
#define CTX_SQL "SELECT set_config('nova.tenant_id', $1, true)"

/* pg_type OIDs of the binary results we decode. */
enum { OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23 };

typedef struct pg_store {
    nova_store_t base;
    PGconn *conn;
    bool prepared[NOVA_SQL_SLOTS];
    bool ctx_prepared;
} pg_store_t;

/* One statement of a pipeline: a prepared name, or SQL text with $n placeholders. */
typedef struct pg_step {
    const char *name;
    const char *sql;
    int n;
    const char *const *vals;
    const int *lens;
    const int *fmts;
} pg_step_t;

static nova_status map_state(pg_store_t *s, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(s->conn) != CONNECTION_OK)
        return NOVA_UNAVAILABLE;
    if (state == NULL)
        return NOVA_INTERNAL;
    if (strcmp(state, "23505") == 0)
        return NOVA_CONFLICT; /* unique_violation */
    if (strcmp(state, "23503") == 0)
        return NOVA_NOT_FOUND; /* foreign_key_violation */
    if (strncmp(state, "22", 2) == 0 || strcmp(state, "23502") == 0 || strcmp(state, "23514") == 0)
        return NOVA_INVALID; /* data exception, not null, check */
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
        strncmp(state, "57P", 3) == 0 || strncmp(state, "40", 2) == 0)
        return NOVA_UNAVAILABLE; /* connection, resources, shutdown, deadlock: retry */
    return NOVA_INTERNAL;
}

static nova_status fail(pg_store_t *s, const char *what, const PGresult *res)
{
    nova_status st = map_state(s, res);
    if (st == NOVA_INTERNAL || st == NOVA_UNAVAILABLE) {
        /* The primary message only: DETAIL may quote row values. */
        const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (msg == NULL) {
            msg = PQerrorMessage(s->conn);
        }
        nova_log_warn("store: postgres %s: %.*s (%s)", what, (int)strcspn(msg, "\n"), msg,
                      state ? state : "-");
    }
    return st;
}

/* Rewrites `?` placeholders to $1..$n, leaving quoted text and comments alone. Caller frees. */
static char *rewrite_placeholders(const char *sql)
{
    size_t len = strlen(sql);
    char *out = malloc(len * 4 + 1), *o = out;
    int n = 0;
    if (out == NULL)
        return NULL;
    for (const char *p = sql; *p; p++) {
        if (*p == '\'' || *p == '"') {
            char q = *p;
            *o++ = *p++;
            while (*p && *p != q)
                *o++ = *p++;
            if (*p == '\0')
                break;
            *o++ = *p;
        } else if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                *o++ = *p++;
            if (*p == '\0')
                break;
            *o++ = *p;
        } else if (*p == '?') {
            o += sprintf(o, "$%d", ++n);
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

static const char *pg_sql(const nova_sql_t *q)
{
    return q->pg ? q->pg : q->sql;
}

static void stmt_name(char *buf, size_t size, int slot)
{
    snprintf(buf, size, "nova_q%d", slot);
}

/* Server notices (e.g. "table does not exist, skipping") are not errors; keep warnings. */
static void on_notice(void *arg, const PGresult *res)
{
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    (void)arg;
    if (sev && strcmp(sev, "WARNING") == 0)
        nova_log_warn("store: postgres: %s", msg ? msg : "warning");
}

static PGconn *connect_url(const char *url)
{
    /* Later entries override earlier ones, and the URL (expanded from dbname) overrides the
     * defaults before it. */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"5", "nova", url, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c != NULL)
        PQsetNoticeReceiver(c, on_notice, NULL);
    return c;
}

/* Makes sure the connection is usable. After it broke, reconnects (outside a transaction
 * only: a transaction does not survive its session) and forgets what the old session had
 * prepared. */
static nova_status ensure_conn(pg_store_t *s)
{
    if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK)
        return NOVA_OK;
    if (s->base.in_tx || s->base.url == NULL)
        return NOVA_UNAVAILABLE;
    PQfinish(s->conn);
    memset(s->prepared, 0, sizeof(s->prepared));
    s->ctx_prepared = false;
    s->conn = connect_url(s->base.url);
    if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
        nova_log_warn("store: postgres reconnect failed");
        return NOVA_UNAVAILABLE;
    }
    return NOVA_OK;
}

static nova_status prepare(pg_store_t *s, const char *name, const char *sql, const char *what)
{
    PGresult *res = PQprepare(s->conn, name, sql, 0, NULL);
    nova_status st = NOVA_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        st = fail(s, what, res);
    PQclear(res);
    return st;
}

static nova_status ensure_ctx(pg_store_t *s)
{
    if (s->ctx_prepared)
        return NOVA_OK;
    nova_status st = prepare(s, CTX_STMT, CTX_SQL, "set tenant");
    s->ctx_prepared = st == NOVA_OK;
    return st;
}

static int send_step(PGconn *c, const pg_step_t *st)
{
    if (st->name)
        return PQsendQueryPrepared(c, st->name, st->n, st->vals, st->lens, st->fmts, 1);
    return PQsendQueryParams(c, st->sql, st->n, NULL, st->vals, st->lens, st->fmts, 1);
}

/*
 * Sends the steps in one pipeline ending in one Sync (one round trip) and returns the last
 * step's result, or NULL with *st set when any step failed. Results arrive per step, each
 * followed by NULL, then PGRES_PIPELINE_SYNC; a failed step turns the later ones into
 * PGRES_PIPELINE_ABORTED.
 */
static PGresult *pipeline(pg_store_t *s, const pg_step_t *steps, int n, const char *what,
                          nova_status *st)
{
    PGconn *c = s->conn;
    PGresult *last = NULL, *err = NULL;
    int k = 0;

    *st = NOVA_OK;
    if (PQenterPipelineMode(c) != 1) {
        *st = fail(s, what, NULL);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (send_step(c, &steps[i]) != 1)
            goto broken;
    }
    if (PQpipelineSync(c) != 1)
        goto broken;
    for (;;) {
        PGresult *res = PQgetResult(c);
        if (res == NULL) {
            /* End of one step's results. More NULLs than steps: the connection died. */
            if (++k > n)
                goto broken;
            continue;
        }
        ExecStatusType es = PQresultStatus(res);
        if (es == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            break;
        }
        if (es == PGRES_FATAL_ERROR && err == NULL) {
            err = res;
        } else if (k == n - 1 && last == NULL && es != PGRES_PIPELINE_ABORTED) {
            last = res;
        } else {
            PQclear(res);
        }
    }
    if (PQexitPipelineMode(c) != 1)
        goto broken;
    if (err != NULL || last == NULL) {
        *st = fail(s, what, err);
        PQclear(err);
        PQclear(last);
        return NULL;
    }
    return last;

broken:
    *st = fail(s, what, err);
    PQclear(err);
    PQclear(last);
    /* Out of sync with the server: drop the session; ensure_conn reconnects next time. */
    PQfinish(s->conn);
    s->conn = NULL;
    return NULL;
}

static nova_status pg_query(nova_store_t *base, const nova_sql_t *q, const char *tenant,
                            const nova_sql_param_t *p, int n, nova_rows_t *r)
{
    pg_store_t *s = (pg_store_t *)base;
    const char *vals[NOVA_SQL_MAX_PARAMS];
    int lens[NOVA_SQL_MAX_PARAMS], fmts[NOVA_SQL_MAX_PARAMS];
    char ints[NOVA_SQL_MAX_PARAMS][24];
    char name[32];
    char *sql = NULL;
    PGresult *res = NULL;
    nova_status st;

    memset(r, 0, sizeof(*r));
    r->s = base;
    r->row = -1;
    if (n > NOVA_SQL_MAX_PARAMS)
        return NOVA_INTERNAL;
    st = ensure_conn(s);
    if (st != NOVA_OK)
        return st;
    /* Text parameters (the server infers types from the statement), blobs as binary. */
    for (int i = 0; i < n; i++) {
        fmts[i] = 0;
        lens[i] = 0;
        switch (p[i].type) {
        case NOVA_SQL_TEXT:
            vals[i] = p[i].p;
            break;
        case NOVA_SQL_INT64:
            snprintf(ints[i], sizeof(ints[i]), "%lld", (long long)p[i].i);
            vals[i] = ints[i];
            break;
        case NOVA_SQL_BLOB:
            if (p[i].len > INT32_MAX)
                return NOVA_TOO_LARGE;
            vals[i] = p[i].p ? p[i].p : "";
            lens[i] = (int)p[i].len;
            fmts[i] = 1;
            break;
        }
    }
    pg_step_t step = {.n = n, .vals = vals, .lens = lens, .fmts = fmts};
    if (q->slot >= 0) {
        stmt_name(name, sizeof(name), q->slot);
        if (!s->prepared[q->slot]) {
            sql = rewrite_placeholders(pg_sql(q));
            if (sql == NULL)
                return NOVA_NOMEM;
            st = prepare(s, name, sql, q->name);
            free(sql);
            sql = NULL;
            if (st != NOVA_OK)
                return st;
            s->prepared[q->slot] = true;
        }
        step.name = name;
    } else {
        sql = rewrite_placeholders(pg_sql(q));
        if (sql == NULL)
            return NOVA_NOMEM;
        step.sql = sql;
    }

    if (tenant != NULL && !base->in_tx) {
        st = ensure_ctx(s);
        if (st != NOVA_OK)
            goto end;
        pg_step_t steps[2] = {{.name = CTX_STMT, .n = 1, .vals = &tenant}, step};
        res = pipeline(s, steps, 2, q->name, &st);
        if (res == NULL)
            goto end;
    } else {
        res = step.name ? PQexecPrepared(s->conn, step.name, n, vals, lens, fmts, 1)
                        : PQexecParams(s->conn, step.sql, n, NULL, vals, lens, fmts, 1);
    }
    ExecStatusType es = PQresultStatus(res);
    if (es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK) {
        st = fail(s, q->name, res);
        PQclear(res);
        goto end;
    }
    r->h = res;
    r->nrows = PQntuples(res);
    r->changes = strtoll(PQcmdTuples(res), NULL, 10);
    st = NOVA_OK;
end:
    free(sql);
    return st;
}

static nova_status pg_next(nova_rows_t *r)
{
    if (r->h == NULL || r->row + 1 >= r->nrows)
        return NOVA_NOT_FOUND;
    r->row++;
    return NOVA_OK;
}

static const void *pg_col_bytes(nova_rows_t *r, int i, size_t *len)
{
    if (PQgetisnull(r->h, r->row, i)) {
        *len = 0;
        return NULL;
    }
    *len = (size_t)PQgetlength(r->h, r->row, i);
    return PQgetvalue(r->h, r->row, i);
}

static int64_t pg_col_int64(nova_rows_t *r, int i)
{
    const unsigned char *v = (const unsigned char *)PQgetvalue(r->h, r->row, i);
    int len = PQgetlength(r->h, r->row, i);
    uint64_t u = 0;
    if (PQgetisnull(r->h, r->row, i))
        return 0;
    switch (PQftype(r->h, i)) {
    case OID_BOOL:
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
        break;
    default:
        nova_assert(!"postgres: integer column of unexpected type");
    }
    /* Big-endian two's complement of 1, 2, 4 or 8 bytes. */
    for (int k = 0; k < len; k++)
        u = (u << 8) | v[k];
    if (len < 8 && len > 0 && (v[0] & 0x80) && PQftype(r->h, i) != OID_BOOL)
        u |= ~(uint64_t)0 << (len * 8);
    return (int64_t)u;
}

static void pg_done(nova_rows_t *r)
{
    PQclear(r->h);
    r->h = NULL;
}

static nova_status pg_begin(nova_store_t *base, bool write, const char *tenant)
{
    pg_store_t *s = (pg_store_t *)base;
    nova_status st;
    PGresult *res;

    (void)write; /* READ COMMITTED plus row locks is enough for what the catalogue does */
    st = ensure_conn(s);
    if (st != NOVA_OK)
        return st;
    if (tenant == NULL) {
        res = PQexec(s->conn, "BEGIN");
    } else {
        st = ensure_ctx(s);
        if (st != NOVA_OK)
            return st;
        pg_step_t steps[2] = {{.sql = "BEGIN"}, {.name = CTX_STMT, .n = 1, .vals = &tenant}};
        res = pipeline(s, steps, 2, "begin", &st);
        if (res == NULL) {
            /* BEGIN may have run and set_config failed: leave no transaction behind. */
            if (s->conn && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
                PQclear(PQexec(s->conn, "ROLLBACK"));
            return st;
        }
    }
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        st = fail(s, "begin", res);
    PQclear(res);
    return st;
}

static nova_status pg_commit(nova_store_t *base)
{
    pg_store_t *s = (pg_store_t *)base;
    if (s->conn == NULL)
        return NOVA_UNAVAILABLE;
    PGresult *res = PQexec(s->conn, "COMMIT");
    nova_status st = NOVA_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        st = fail(s, "commit", res);
    else if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
        st = NOVA_INTERNAL; /* the transaction had failed: the server rolled it back */
    PQclear(res);
    return st;
}

static void pg_rollback(nova_store_t *base)
{
    pg_store_t *s = (pg_store_t *)base;
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK &&
        PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        PQclear(PQexec(s->conn, "ROLLBACK"));
}

static nova_status pg_exec(nova_store_t *base, const char *sql)
{
    pg_store_t *s = (pg_store_t *)base;
    nova_status st = ensure_conn(s);
    if (st != NOVA_OK)
        return st;
    /* Simple query protocol: several statements, one round trip. */
    PGresult *res = PQexec(s->conn, sql);
    ExecStatusType es = PQresultStatus(res);
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK)
        st = fail(s, "exec", res);
    PQclear(res);
    return st;
}

static nova_status pg_migrate_lock(nova_store_t *base)
{
    /* A transaction-scoped advisory lock: released by COMMIT/ROLLBACK, even on a crash. */
    static const nova_sql_t lock = {-1, "migrate lock",
                                    "SELECT pg_advisory_xact_lock(7206547734385094913)", NULL};
    return nova_store_exec_q(base, &lock, NULL, NULL, 0, NULL);
}

static void pg_close(nova_store_t *base)
{
    pg_store_t *s = (pg_store_t *)base;
    PQfinish(s->conn);
    free(s);
}

static const nova_store_driver_t pg_driver = {
    .name = "postgres",
    .dialect = NOVA_DIALECT_POSTGRES,
    .migrations = nova_store_migrations_postgres,
    .n_migrations = &nova_store_migrations_postgres_count,
    .close = pg_close,
    .exec = pg_exec,
    .query = pg_query,
    .next = pg_next,
    .col_bytes = pg_col_bytes,
    .col_int64 = pg_col_int64,
    .done = pg_done,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .migrate_lock = pg_migrate_lock,
};

/* Replaces every occurrence of secret in msg by "***" (into out). */
static void redact(const char *msg, const char *secret, char *out, size_t outlen)
{
    size_t slen = secret ? strlen(secret) : 0, o = 0;
    for (const char *p = msg; *p && o + 1 < outlen;) {
        if (slen > 0 && strncmp(p, secret, slen) == 0) {
            for (const char *r = "***"; *r && o + 1 < outlen; r++)
                out[o++] = *r;
            p += slen;
        } else {
            out[o++] = *p == '\n' ? ' ' : *p;
            p++;
        }
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

/* The password as written in the URL (still percent-encoded), for redaction. */
static char *raw_url_password(const char *url)
{
    const char *p = strstr(url, "://");
    if (p == NULL)
        return NULL;
    p += 3;
    size_t auth = strcspn(p, "/?#");
    const char *at = memrchr(p, '@', auth);
    const char *colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
    if (colon == NULL || colon + 1 >= at)
        return NULL;
    return strndup(colon + 1, (size_t)(at - colon - 1));
}

nova_status nova_store_pg_open(const char *url, nova_store_t **out, char *err, size_t errlen)
{
    PQconninfoOption *opts = NULL;
    char *perr = NULL, *raw = NULL, *pass = NULL;
    pg_store_t *s = NULL;
    nova_status st = NOVA_UNAVAILABLE;

    *out = NULL;
    opts = PQconninfoParse(url, &perr);
    if (opts == NULL) {
        /* libpq's parse error may quote the URL; say nothing more specific. */
        snprintf(err, errlen, "postgres: malformed connection URL");
        PQfreemem(perr);
        return NOVA_INVALID;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "password") == 0 && o->val)
            pass = strdup(o->val);
    }
    raw = raw_url_password(url);
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    s->base.drv = &pg_driver;
    s->conn = connect_url(url);
    if (s->conn == NULL) {
        st = NOVA_NOMEM;
        goto end;
    }
    if (PQstatus(s->conn) != CONNECTION_OK) {
        char once[512], twice[512];
        redact(PQerrorMessage(s->conn), pass, once, sizeof(once));
        redact(once, raw, twice, sizeof(twice));
        snprintf(err, errlen, "postgres: %s", twice);
        goto end;
    }
    st = ensure_ctx(s);
    if (st != NOVA_OK) {
        snprintf(err, errlen, "postgres: cannot prepare statements");
        goto end;
    }
    *out = &s->base;
    s = NULL;
end:
    if (s) {
        PQfinish(s->conn);
        free(s);
    }
    PQconninfoFree(opts);
    free(pass);
    free(raw);
    return st;
}
