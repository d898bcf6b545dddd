-- 0002_settings: deployment-wide settings (not tenant data), such as the check value that
-- ties a database to its master key. No row-level security: nothing here belongs to a tenant.
CREATE TABLE settings (
    name TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
