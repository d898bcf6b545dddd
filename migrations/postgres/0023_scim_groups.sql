-- 0023_scim_groups: SCIM 2.0 Groups (issue 11 item 8).
-- See migrations/sqlite/0023_scim_groups.sql; here with row-level security per tenant.
CREATE TABLE scim_groups (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    display_name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    external_id TEXT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX scim_groups_name_idx ON scim_groups (tenant_id, name_key);
CREATE UNIQUE INDEX scim_groups_ext_idx ON scim_groups (tenant_id, external_id);

CREATE TABLE scim_group_members (
    group_id TEXT NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES people_users (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    added_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX scim_group_members_user_idx ON scim_group_members (tenant_id, user_id);

CREATE TABLE scim_group_roles (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    name_key TEXT NOT NULL,
    group_name TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name_key, role)
);

CREATE TABLE scim_role_grants (
    user_id TEXT NOT NULL PRIMARY KEY REFERENCES people_users (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    roles TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE scim_groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim_groups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim_groups
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
ALTER TABLE scim_group_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim_group_members FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim_group_members
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
ALTER TABLE scim_group_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim_group_roles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim_group_roles
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
ALTER TABLE scim_role_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim_role_grants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim_role_grants
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
