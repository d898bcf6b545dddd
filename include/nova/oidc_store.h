/*
 * oidc_store.h: the repository of OIDC federation (src/store/federation.c, migration 0020): a
 * tenant's OpenID Providers and the links from an IdP's subject to a user. The client secret
 * is bytes sealed by the domain; the store never sees it in clear. Every mutation appends
 * its audit entry in the same transaction. Strings and bytes of returned rows are in the
 * caller's arena.
 */
#ifndef NOVA_OIDC_STORE_H
#define NOVA_OIDC_STORE_H

#include "nova/audit.h"
#include "nova/store.h"

typedef struct nova_oidc_idp_row {
    const char *id; /* "oidp_..." */
    const char *tenant_id;
    const char *issuer;
    const char *config;           /* JSON object text (the domain's) */
    const uint8_t *secret_sealed; /* NULL: a public client (PKCE only) */
    size_t secret_sealed_len;
    int64_t created_at;
    int64_t updated_at;
} nova_oidc_idp_row_t;

/* NOVA_CONFLICT when the tenant has an IdP with this issuer. */
nova_status nova_store_oidc_idp_create(nova_store_t *s, const nova_oidc_idp_row_t *row,
                                       const nova_audit_entry_t *audit);
/* NOVA_NOT_FOUND when the tenant has no IdP of this id. */
nova_status nova_store_oidc_idp_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                    const char *id, nova_oidc_idp_row_t *out);
/* The tenant's IdPs, oldest first (at most 100). */
nova_status nova_store_oidc_idp_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     nova_oidc_idp_row_t **out, size_t *n);
/* Writes row's config, secret_sealed and updated_at. NOVA_NOT_FOUND when absent. */
nova_status nova_store_oidc_idp_update(nova_store_t *s, const nova_oidc_idp_row_t *row,
                                       const nova_audit_entry_t *audit);
/* Removes the IdP (its configuration, group->role mappings and sealed secret with it; the
 * links of its subjects stay, so an IdP of the same issuer made again finds its users) and,
 * in the same transaction, revokes (reason "idp_deleted", now) the people sessions it opened:
 * *revoked their ids (arena array of *nrevoked), whose control-plane records the caller
 * drops. NOVA_NOT_FOUND when the tenant has no IdP of this id. */
nova_status nova_store_oidc_idp_delete(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                       const char *id, int64_t now, const nova_audit_entry_t *audit,
                                       const char ***revoked, size_t *nrevoked);
/* The user an IdP's subject is linked to (*user_id, arena); NOVA_NOT_FOUND when none. */
nova_status nova_store_oidc_link_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     const char *issuer, const char *sub, const char **user_id);
/* Links (issuer, sub) to user_id. NOVA_CONFLICT when the subject is linked already. */
nova_status nova_store_oidc_link_put(nova_store_t *s, const char *tenant_id, const char *issuer,
                                     const char *sub, const char *user_id, int64_t now,
                                     const nova_audit_entry_t *audit);

#endif
