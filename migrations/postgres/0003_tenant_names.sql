-- 0003_tenant_names: a tenant name names one tenant per deployment. Names compare with ASCII
-- letters folded to lower case ("Acme" and "acme" are the same name) and every other character
-- exactly. translate() over A-Z is that fold whatever the database's locale (lower() would also
-- fold non-ASCII letters under a UTF-8 locale) and matches SQLite's built-in lower().
--
-- A deployment that already holds two tenants of one name keeps the oldest as it is; each
-- later one gets its id appended, " (ten_...)", so the index can be built and nobody loses a
-- tenant. (Migrations run with nova.tenant_id = '*', so the policy on tenants shows every row.)
UPDATE tenants SET name = name || ' (' || id || ')'
WHERE EXISTS (SELECT 1 FROM tenants o
              WHERE translate(o.name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
                  = translate(tenants.name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                              'abcdefghijklmnopqrstuvwxyz')
                AND (o.created_at < tenants.created_at
                     OR (o.created_at = tenants.created_at AND o.id < tenants.id)));
CREATE UNIQUE INDEX tenants_name_key
    ON tenants (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'));
