-- 0023_scim_groups: SCIM 2.0 Groups (issue 11 item 8). A group of a tenant's users as the
-- IdP provisions it; its displayName (an organisational name, not personal data) is unique in
-- the tenant without regard to ASCII case (name_key, the lower-cased name). scim_group_members:
-- its members, users of the same tenant (gone with the user or the group). scim_group_roles:
-- the tenant's mapping of group names to the roles membership gives. scim_role_grants: the
-- roles a user holds only because of its groups, so that leaving a group takes away exactly
-- those (a role the user held before a group gave it stays).
CREATE TABLE scim_groups (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    display_name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    external_id TEXT,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX scim_groups_name_idx ON scim_groups (tenant_id, name_key);
CREATE UNIQUE INDEX scim_groups_ext_idx ON scim_groups (tenant_id, external_id);

CREATE TABLE scim_group_members (
    group_id TEXT NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES people_users (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    added_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX scim_group_members_user_idx ON scim_group_members (tenant_id, user_id);

CREATE TABLE scim_group_roles (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    name_key TEXT NOT NULL,
    group_name TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name_key, role)
) STRICT, WITHOUT ROWID;

CREATE TABLE scim_role_grants (
    user_id TEXT NOT NULL PRIMARY KEY REFERENCES people_users (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    roles TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
