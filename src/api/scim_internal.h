/* scim_internal.h: what the SCIM files of the API share (scim.c: Users, discovery and the
 * token; scim_groups.c: Groups): the bearer token's check, SCIM replies and errors. */
#ifndef NOVA_API_SCIM_INTERNAL_H
#define NOVA_API_SCIM_INTERNAL_H

#include "internal.h"
#include "nova/people.h"

#define SCIM_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define SCIM_LIST "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define SCIM_ERROR "urn:ietf:params:scim:api:messages:2.0:Error"
#define SCIM_PATCH "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#define SCIM_CT "application/scim+json"
#define SCIM_MAX_COUNT 200
#define SCIM_SCAN_MAX 10000 /* users a filtered list reads at most */
#define SCIM_GROUP "urn:ietf:params:scim:schemas:core:2.0:Group"

/* The IdP a SCIM request comes from: its tenant, the audit actor "scim:<token id>", and the
 * thread's store and the people domain. */
typedef struct api_scim_caller {
    const char *tenant_id;
    nova_audit_actor_t by;
    nova_store_t *s;
    nova_people_t *p;
} api_scim_caller;

/* Authenticates "Authorization: Bearer scim.<tenant>.<secret>"; false with 401/503 written. */
bool api_scim_auth(nova_req_t *r, nova_api_t *api, api_scim_caller *c);
/* Replies j (taken) as application/scim+json. */
void api_scim_reply(nova_req_t *r, int status, json_t *j);
/* A SCIM error (RFC 7644 §3.12; scim_type may be NULL), counted as a federation failure. */
void api_scim_error(nova_req_t *r, int status, const char *scim_type, const char *detail);
/* The SCIM error of a status (why: the detail, or NULL for the status's own). */
void api_scim_status(nova_req_t *r, nova_status st, const char *why);
/* The body as a JSON object (caller decrefs), or NULL with 400/413/415 written. */
json_t *api_scim_body(nova_req_t *r);
/* An RFC 3339 UTC time (arena). */
const char *api_scim_time(nova_req_t *r, int64_t t);
/* A list request's startIndex (1-based), count (0..SCIM_MAX_COUNT) and filter (NULL when
 * none, parsed into the request's arena); false with 400 written. */
bool api_scim_list_query(nova_req_t *r, long *start, long *count, const nova_scim_filter_t **f);
/* Replies a ListResponse of res (taken). */
void api_scim_list_reply(nova_req_t *r, long total, long start, json_t *res);
/* true when If-Match is absent, "*" or etag; else false with 412 written (what: "user"). */
bool api_scim_if_match(nova_req_t *r, const char *etag, const char *what);
/* The Operations of a PatchOp body (1 to 64, schemas the PatchOp's); NULL with 400 written. */
json_t *api_scim_patch_ops(nova_req_t *r, json_t *body);
/* One operation's op (add, replace or remove, any case), path (a string or NULL) and value
 * (borrowed); false with 400 written. */
bool api_scim_op(nova_req_t *r, json_t *op, const char **kind, json_t **path, json_t **value);
/* The Groups routes (scim_groups.c). */
nova_status api_scim_groups_register(nova_api_t *api, nova_http_server_t *srv);
/* The groups of a user as the User resource's read-only "groups" (a JSON array, new ref). */
json_t *api_scim_user_groups(nova_req_t *r, api_scim_caller *c, const char *user_id);

#endif
