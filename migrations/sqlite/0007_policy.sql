-- 0007_policy: the relationship engine's data (issue 7), OpenFGA's objects per tenant.
--
-- fga_stores: a tenant's OpenFGA stores (ids are ULIDs); deleted_at > 0 is a deleted store,
-- kept so that its ids are never reused. fga_models: authorization models, written once and
-- never updated (the JSON form as OpenFGA's API writes it). fga_tuples: the relationship
-- tuples, one row per (object, relation, user) in a store, with an optional condition and
-- its context (a JSON object). fga_changes: the change feed, one row per tuple written or
-- deleted, seq 1, 2, ... per store; every novad's in-memory index follows it. Writers of one
-- store serialise on its fga_stores row (here the write transaction, BEGIN IMMEDIATE), so seq
-- is taken as MAX + 1 and commits in seq order. fga_assertions: a model's assertions (JSON).
-- Times are unix microseconds.
CREATE TABLE fga_stores (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
CREATE INDEX fga_stores_tenant_idx ON fga_stores (tenant_id, id);

CREATE TABLE fga_models (
    id TEXT NOT NULL PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES fga_stores (id),
    tenant_id TEXT NOT NULL,
    schema_version TEXT NOT NULL,
    json TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX fga_models_store_idx ON fga_models (store_id, id);

CREATE TABLE fga_tuples (
    store_id TEXT NOT NULL REFERENCES fga_stores (id),
    tenant_id TEXT NOT NULL,
    object TEXT NOT NULL,
    relation TEXT NOT NULL,
    user TEXT NOT NULL,
    condition_name TEXT NOT NULL DEFAULT '',
    condition_context TEXT NOT NULL DEFAULT '',
    ulid TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (store_id, object, relation, user)
) STRICT, WITHOUT ROWID;
CREATE INDEX fga_tuples_user_idx ON fga_tuples (store_id, user);

CREATE TABLE fga_changes (
    store_id TEXT NOT NULL REFERENCES fga_stores (id),
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL CHECK (seq >= 1),
    op TEXT NOT NULL CHECK (op IN ('write', 'delete')),
    tuple TEXT NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (store_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE fga_assertions (
    store_id TEXT NOT NULL REFERENCES fga_stores (id),
    tenant_id TEXT NOT NULL,
    model_id TEXT NOT NULL REFERENCES fga_models (id),
    json TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (store_id, model_id)
) STRICT, WITHOUT ROWID;
