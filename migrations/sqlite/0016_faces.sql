-- 0016_faces: the duplicate-face gallery (issue 10 item 6). One row per enrolled face of a
-- tenant's applicant: the 128-D descriptor (never the image) sealed with the tenant's data key
-- for the region (nova/datakey.h, context "face.descriptor"), as nova_sealed_encode's bytes.
-- subject is the tenant's own reference for the applicant. face_gallery_versions counts the
-- changes of each tenant's gallery, so an instance knows when its in-memory index is stale.
CREATE TABLE face_gallery (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    subject TEXT NOT NULL,
    region TEXT NOT NULL,
    descriptor BLOB NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX face_gallery_tenant_idx ON face_gallery (tenant_id, created_at, id);

CREATE TABLE face_gallery_versions (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    version INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
