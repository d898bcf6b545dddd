/*
 * saml_store.h: the repository of SAML federation (src/store/federation.c, migration 0025): a
 * tenant's SAML Identity Providers and the links from an IdP's subject (NameID) to a user.
 * A row has the shape of an OIDC IdP's: issuer is the IdP's entity ID and secret_sealed the
 * SP's private key (PEM) sealed by the domain; the store never sees it in clear. Every
 * mutation appends its audit entry in the same transaction. Strings and bytes of returned
 * rows are in the caller's arena.
 */
#ifndef NOVA_SAML_STORE_H
#define NOVA_SAML_STORE_H

#include "nova/oidc_store.h"

typedef nova_oidc_idp_row_t nova_saml_idp_row_t; /* id "sidp_..." */

/* NOVA_CONFLICT when the tenant has an IdP with this entity ID. */
nova_status nova_store_saml_idp_create(nova_store_t *s, const nova_saml_idp_row_t *row,
                                       const nova_audit_entry_t *audit);
/* NOVA_NOT_FOUND when the tenant has no IdP of this id. */
nova_status nova_store_saml_idp_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                    const char *id, nova_saml_idp_row_t *out);
/* The tenant's IdPs, oldest first (at most 100). */
nova_status nova_store_saml_idp_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     nova_saml_idp_row_t **out, size_t *n);
/* Writes row's config, secret_sealed and updated_at. NOVA_NOT_FOUND when absent. */
nova_status nova_store_saml_idp_update(nova_store_t *s, const nova_saml_idp_row_t *row,
                                       const nova_audit_entry_t *audit);
/* As nova_store_oidc_idp_delete: the row goes, the sessions it opened are revoked. */
nova_status nova_store_saml_idp_delete(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                       const char *id, int64_t now, const nova_audit_entry_t *audit,
                                       const char ***revoked, size_t *nrevoked);
/* The user an IdP's NameID is linked to (*user_id, arena); NOVA_NOT_FOUND when none. */
nova_status nova_store_saml_link_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     const char *entity_id, const char *name_id,
                                     const char **user_id);
/* Links (entity_id, name_id) to user_id. NOVA_CONFLICT when the subject is linked already. */
nova_status nova_store_saml_link_put(nova_store_t *s, const char *tenant_id, const char *entity_id,
                                     const char *name_id, const char *user_id, int64_t now,
                                     const nova_audit_entry_t *audit);

#endif
