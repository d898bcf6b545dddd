/*
 * face_store.h: the repository of the duplicate-face gallery (src/store/faces.c, tables
 * face_gallery and face_gallery_versions, migration 0016). A row holds one applicant's face
 * descriptor sealed with the tenant's data key (the caller seals and opens: nova/datakey.h);
 * nothing here sees a descriptor in clear, and no image is ever stored. Every mutation appends
 * its audit entry in the same transaction and bumps the tenant's gallery version.
 */
#ifndef NOVA_FACE_STORE_H
#define NOVA_FACE_STORE_H

#include "nova/audit.h"
#include "nova/store.h"

#define NOVA_FACE_SUBJECT_MAX 128

typedef struct nova_face_row {
    const char *id; /* "face_..." */
    const char *tenant_id;
    const char *subject; /* the tenant's reference for the applicant, 1..128 printable bytes */
    const char *region;  /* where the data key that sealed it lives */
    const uint8_t *sealed;
    size_t sealed_len;
    const char *created_by;
    int64_t created_at; /* unix seconds */
} nova_face_row_t;

/* Inserts f and appends audit, in one transaction that also bumps the tenant's version; the
 * version this change made goes to *version (when not NULL), so a cache built at the version
 * before it can apply this change alone. */
nova_status nova_store_face_add(nova_store_t *s, const nova_face_row_t *f,
                                const nova_audit_entry_t *audit, int64_t *version);
/* Removes face id of tenant_id (NOVA_NOT_FOUND when absent) and appends audit, likewise. */
nova_status nova_store_face_delete(nova_store_t *s, const char *tenant_id, const char *id,
                                   const nova_audit_entry_t *audit, int64_t *version);
/* The tenant's gallery version: 0 before its first change, then one more per change. */
nova_status nova_store_face_version(nova_store_t *s, const char *tenant_id, int64_t *version);
/* Every face of the tenant by creation, sealed bytes included; an arena array of *n rows. */
nova_status nova_store_face_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                 nova_face_row_t **out, size_t *n);
/* The ids of every face of the tenant, in no order; an arena array of *n strings. */
nova_status nova_store_face_ids(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                const char ***out, size_t *n);
/* One face of the tenant by id, sealed bytes included, in a (NOVA_NOT_FOUND when absent). */
nova_status nova_store_face_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                const char *id, nova_face_row_t *out);

#endif
