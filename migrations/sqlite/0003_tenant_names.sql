-- 0003_tenant_names: a tenant name names one tenant per deployment. Names compare with ASCII
-- letters folded to lower case ("Acme" and "acme" are the same name) and every other character
-- exactly; SQLite's built-in lower() folds ASCII only, which is that rule, and the PostgreSQL
-- migration spells the same fold out with translate(), so both stores agree.
--
-- A deployment that already holds two tenants of one name keeps the oldest as it is; each
-- later one gets its id appended, " (ten_...)", so the index can be built and nobody loses a
-- tenant. Operators may rename them afterwards.
UPDATE tenants SET name = name || ' (' || id || ')'
WHERE EXISTS (SELECT 1 FROM tenants o
              WHERE lower(o.name) = lower(tenants.name)
                AND (o.created_at < tenants.created_at
                     OR (o.created_at = tenants.created_at AND o.id < tenants.id)));
CREATE UNIQUE INDEX tenants_name_key ON tenants (lower(name));
