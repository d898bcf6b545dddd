/* scim.c: SCIM 2.0 provisioning (RFC 7643, RFC 7644; issue 11 item 8) of a tenant's users by
 * its identity provider (Entra ID, Okta, ...): /scim/v2/Users (create, get, replace, patch,
 * delete, list with filter and startIndex/count), /scim/v2/ServiceProviderConfig,
 * /scim/v2/ResourceTypes, /scim/v2/Schemas. The IdP presents a per-tenant bearer token
 * ("scim.<tenant>.<secret>", made with POST /v1/scim/tokens and shown once, stored as its
 * SHA-256); errors are SCIM errors (application/scim+json, scimType).
 *
 * A SCIM User is the same user as /v1/users: userName and emails[].value are its email,
 * name.formatted and displayName its name (sealed as people seals them), active its status,
 * roles[].value its roles; externalId is kept in people_scim_users. DELETE deletes the user
 * (its personal data erased with the row, RFC 7644 §3.6); an IdP that deactivates sends
 * PATCH active false, which suspends the user and ends its sessions. The email of a user is
 * its sign-in identifier and is not changed through SCIM: a replace or patch of userName to
 * another value answers 400 mutability. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"
#include "nova/crypto.h"
#include "nova/people.h"
#include "scim_internal.h"

void api_scim_reply(nova_req_t *r, int status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return;
    }
    nova_resp_body(r, status, SCIM_CT, text, strlen(text));
    free(text);
}

/* RFC 7644 §3.12. scim_type may be NULL. */
/* What a refusal counts as in nova_people_federation_failures_total: by scimType, else by
 * status (401s name their reason through scim_unauthorized). */
static nova_fed_reason fed_reason(int status, const char *scim_type)
{
    static const struct {
        const char *type;
        nova_fed_reason reason;
    } by_type[] = {
        {"invalidFilter", NOVA_FED_INVALID_FILTER}, {"invalidSyntax", NOVA_FED_INVALID_SYNTAX},
        {"invalidValue", NOVA_FED_INVALID_VALUE},   {"invalidPath", NOVA_FED_INVALID_PATH},
        {"noTarget", NOVA_FED_INVALID_PATH},        {"mutability", NOVA_FED_MUTABILITY},
        {"uniqueness", NOVA_FED_UNIQUENESS},        {"tooLarge", NOVA_FED_INVALID_SYNTAX},
    };
    static const struct {
        int status;
        nova_fed_reason reason;
    } by_status[] = {{404, NOVA_FED_NOT_FOUND},
                     {412, NOVA_FED_PRECONDITION},
                     {415, NOVA_FED_INVALID_SYNTAX},
                     {503, NOVA_FED_UNAVAILABLE}};
    for (size_t i = 0; scim_type && i < sizeof(by_type) / sizeof(by_type[0]); i++)
        if (strcmp(scim_type, by_type[i].type) == 0)
            return by_type[i].reason;
    for (size_t i = 0; i < sizeof(by_status) / sizeof(by_status[0]); i++)
        if (status == by_status[i].status)
            return by_status[i].reason;
    return NOVA_FED_OTHER;
}

static void scim_error_body(nova_req_t *r, int status, const char *scim_type, const char *detail);

void api_scim_error(nova_req_t *r, int status, const char *scim_type, const char *detail)
{
    nova_people_count_federation_failure(NOVA_FED_SCIM, fed_reason(status, scim_type));
    scim_error_body(r, status, scim_type, detail);
}

static void scim_unauthorized(nova_req_t *r, nova_fed_reason reason, const char *challenge,
                              const char *detail)
{
    nova_people_count_federation_failure(NOVA_FED_SCIM, reason);
    nova_resp_header(r, "WWW-Authenticate", challenge);
    scim_error_body(r, 401, NULL, detail);
}

static void scim_error_body(nova_req_t *r, int status, const char *scim_type, const char *detail)
{
    char st[8];
    snprintf(st, sizeof(st), "%d", status);
    json_t *j = json_pack("{s:[s], s:s, s:s}", "schemas", SCIM_ERROR, "status", st, "detail",
                          detail ? detail : "error");
    if (j && scim_type)
        json_object_set_new(j, "scimType", json_string(scim_type));
    /* Nova's problem code beside the SCIM members (clients ignore members they do not know). */
    if (j)
        json_object_set_new(j, "code",
                            json_string(status == 401   ? "unauthorized"
                                        : status == 404 ? "not_found"
                                        : scim_type     ? scim_type
                                                        : "api_scim_error"));
    r->problem_code = scim_type ? scim_type : "api_scim_error";
    api_scim_reply(r, status, j);
}

void api_scim_status(nova_req_t *r, nova_status st, const char *why)
{
    static const struct {
        nova_status st;
        int http;
        const char *type, *detail;
    } map[] = {
        {NOVA_INVALID, 400, "invalidValue", "invalid value"},
        {NOVA_NOT_FOUND, 404, NULL, "no such resource"},
        {NOVA_CONFLICT, 409, "uniqueness", "a user of this tenant has this value"},
        {NOVA_UNAVAILABLE, 503, NULL, "the control plane is unavailable, retry"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].st == st) {
            if (st == NOVA_UNAVAILABLE)
                nova_resp_header(r, "Retry-After", "1");
            api_scim_error(r, map[i].http, map[i].type, why ? why : map[i].detail);
            return;
        }
    api_scim_error(r, 500, NULL, "internal error");
}

/* ---- the bearer token ---- */

static void token_digest(const char *tok, char out[65])
{
    uint8_t d[32];
    nova_sha256(tok, strlen(tok), d);
    nova_hex_encode(d, sizeof(d), out);
}

/* Authenticates "Authorization: Bearer scim.<tenant>.<secret>"; false with 401/503 written. */
bool api_scim_auth(nova_req_t *r, nova_api_t *api, api_scim_caller *c)
{
    const char *h = nova_req_header(r, "authorization");
    memset(c, 0, sizeof(*c));
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || strncmp(h + 7, "scim.", 5) != 0) {
        scim_unauthorized(r, NOVA_FED_TOKEN_MISSING, "Bearer realm=\"nova\"",
                          "a SCIM bearer token of the tenant is required");
        return false;
    }
    const char *tok = h + 7, *tenant = tok + 5, *dot = strchr(tenant, '.');
    if (dot == NULL || dot == tenant || dot - tenant > 63 || strlen(dot + 1) != 43) {
        scim_unauthorized(r, NOVA_FED_TOKEN_MALFORMED,
                          "Bearer realm=\"nova\", error=\"invalid_token\"",
                          "the SCIM bearer token is malformed");
        return false;
    }
    char *tid = nova_arena_strndup(&r->arena, tenant, (size_t)(dot - tenant));
    char digest[65];
    token_digest(tok, digest);
    if (tid == NULL || (c->s = api_store(r, api)) == NULL)
        return false;
    const char *id = NULL;
    nova_status st = nova_store_scim_token_find(c->s, &r->arena, tid, digest, &id);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        scim_unauthorized(r, NOVA_FED_TOKEN_UNKNOWN,
                          "Bearer realm=\"nova\", error=\"invalid_token\"",
                          "the SCIM bearer token is unknown or revoked");
        return false;
    }
    if (st) {
        api_scim_status(r, st, NULL);
        return false;
    }
    if (!api_security_enforce(r, api, tid, NULL))
        return false;
    if ((c->p = api_people(r, api)) == NULL)
        return false;
    c->tenant_id = tid;
    c->by = (nova_audit_actor_t){.id = nova_arena_printf(&r->arena, "scim:%s", id),
                                 .request_id = r->req_id};
    return c->by.id != NULL;
}

/* ---- representation ---- */

const char *api_scim_time(nova_req_t *r, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char b[32];
    gmtime_r(&tt, &tm);
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return nova_arena_strndup(&r->arena, b, strlen(b));
}

static const char *etag_of(nova_req_t *r, const nova_user_view_t *u)
{
    return nova_arena_printf(&r->arena, "W/\"%lld\"", (long long)u->updated_at);
}

static json_t *user_json(nova_req_t *r, api_scim_caller *c, const nova_user_view_t *u,
                         const char *external_id)
{
    json_t *roles = json_array();
    json_t *words = api_words(u->roles);
    for (size_t i = 0; i < json_array_size(words); i++)
        json_array_append_new(roles, json_pack("{s:O}", "value", json_array_get(words, i)));
    json_decref(words);
    json_t *o = json_pack(
        "{s:[s], s:s, s:s, s:b, s:[{s:s, s:s, s:b}], s:o, s:{s:s, s:s, s:s, s:s, s:s}}", "schemas",
        SCIM_USER, "id", u->id, "userName", u->email, "active", strcmp(u->status, "active") == 0,
        "emails", "value", u->email, "type", "work", "primary", 1, "roles", roles, "meta",
        "resourceType", "User", "created", api_scim_time(r, u->created_at), "lastModified",
        api_scim_time(r, u->updated_at), "location",
        nova_arena_printf(&r->arena, "/scim/v2/Users/%s", u->id), "version", etag_of(r, u));
    if (o && u->name) {
        json_object_set_new(o, "displayName", json_string(u->name));
        json_object_set_new(o, "name", json_pack("{s:s}", "formatted", u->name));
    }
    if (o && external_id)
        json_object_set_new(o, "externalId", json_string(external_id));
    /* Read-only (RFC 7643 §4.1.2): what /scim/v2/Groups made the user a member of. */
    if (o)
        json_object_set_new(o, "groups", api_scim_user_groups(r, c, u->id));
    return o;
}

/* A user's groups as a filter sees them: ids and display names. */
typedef struct user_groups {
    const char **id, **display;
    size_t n;
} user_groups;

#define USER_ATTRS(ngroups) (8 + 3 * (ngroups))

/* The flattened attributes a filter is matched against (USER_ATTRS(g ? g->n : 0) of them):
 * groups (when g) as groups.value, groups.display and groups alone (its value, RFC 7644
 * §3.4.2.2: a multi-valued attribute without a sub-attribute means its value). */
static size_t user_attrs(const nova_user_view_t *u, const char *external_id, const user_groups *g,
                         nova_scim_attr_t *out)
{
    size_t n = 0;
    for (size_t i = 0; g && i < g->n; i++) {
        out[n++] = (nova_scim_attr_t){.path = "groups.value", .str = g->id[i], .case_exact = true};
        out[n++] = (nova_scim_attr_t){.path = "groups", .str = g->id[i], .case_exact = true};
        out[n++] = (nova_scim_attr_t){.path = "groups.display", .str = g->display[i]};
    }
    out[n++] = (nova_scim_attr_t){.path = "id", .str = u->id, .case_exact = true};
    out[n++] = (nova_scim_attr_t){.path = "username", .str = u->email};
    out[n++] = (nova_scim_attr_t){.path = "emails.value", .str = u->email};
    out[n++] = (nova_scim_attr_t){.path = "emails.type", .str = "work"};
    out[n++] = (nova_scim_attr_t){.path = "externalid", .str = external_id, .case_exact = true};
    out[n++] = (nova_scim_attr_t){.path = "displayname", .str = u->name};
    out[n++] = (nova_scim_attr_t){.path = "name.formatted", .str = u->name};
    out[n++] =
        (nova_scim_attr_t){.path = "active", .is_bool = true, .b = !strcmp(u->status, "active")};
    return n;
}

/* The groups of user_id (ids and display names, in the arena). */
static nova_status groups_of(nova_req_t *r, api_scim_caller *c, const char *user_id,
                             user_groups *out)
{
    nova_scim_member_t *m;
    size_t n;
    nova_status st = nova_people_user_groups(c->s, &r->arena, c->tenant_id, user_id, &m, &n);
    if (st != NOVA_OK)
        return st;
    out->id = nova_arena_alloc(&r->arena, sizeof(*out->id) * (n ? n : 1));
    out->display = nova_arena_alloc(&r->arena, sizeof(*out->display) * (n ? n : 1));
    if (out->id == NULL || out->display == NULL)
        return NOVA_NOMEM;
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        nova_scim_group_t row;
        st = nova_store_scim_group_get(c->s, &r->arena, c->tenant_id, m[i].group_id, &row);
        if (st == NOVA_NOT_FOUND)
            continue; /* deleted meanwhile */
        if (st != NOVA_OK)
            return st;
        out->id[out->n] = row.id;
        out->display[out->n++] = row.display_name;
    }
    return NOVA_OK;
}

static const char *external_of(const nova_scim_link_t *l, size_t n, const char *user_id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].user_id, user_id) == 0)
            return l[i].external_id;
    return NULL;
}

/* The user and its externalId; false with the reply written. */
static bool load_user(nova_req_t *r, api_scim_caller *c, const char *id, nova_user_view_t *u,
                      const char **external_id)
{
    nova_status st = nova_people_user_get(c->p, c->s, &r->arena, c->tenant_id, id, u);
    if (st) {
        api_scim_status(r, st == NOVA_INVALID ? NOVA_NOT_FOUND : st,
                        st == NOVA_INVALID || st == NOVA_NOT_FOUND ? "no such user" : NULL);
        return false;
    }
    nova_scim_link_t *l;
    size_t n;
    st = nova_store_scim_external_list(c->s, &r->arena, c->tenant_id, &l, &n);
    if (st) {
        api_scim_status(r, st, NULL);
        return false;
    }
    *external_id = external_of(l, n, id);
    return true;
}

/* ---- the body of create and replace ---- */

typedef struct scim_user_in {
    const char *user_name;
    const char *name; /* NULL: none */
    const char *roles;
    const char *external_id;
    int active; /* -1 absent, 0, 1 */
    bool has_name, has_roles, has_external;
} scim_user_in;

/* A boolean, or the strings "True"/"False" some IdPs send (Entra ID). -1: neither. */
static int bool_of(json_t *v)
{
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_string(v)) {
        if (strcasecmp(json_string_value(v), "true") == 0)
            return 1;
        if (strcasecmp(json_string_value(v), "false") == 0)
            return 0;
    }
    return -1;
}

/* name: name.formatted, else givenName and familyName joined. NULL when none. */
static const char *name_of(nova_req_t *r, json_t *name)
{
    if (!json_is_object(name))
        return NULL;
    const char *f = json_string_value(json_object_get(name, "formatted"));
    if (f && *f)
        return f;
    const char *g = json_string_value(json_object_get(name, "givenName"));
    const char *fa = json_string_value(json_object_get(name, "familyName"));
    if (g && fa)
        return nova_arena_printf(&r->arena, "%s %s", g, fa);
    return g ? g : fa;
}

/* roles: [{"value": "..."}] or ["..."], joined with spaces. false when malformed. */
static bool roles_of(nova_req_t *r, json_t *v, const char **out)
{
    if (!json_is_array(v) || json_array_size(v) > 16)
        return false;
    nova_buf_t b;
    nova_buf_init(&b);
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        const char *s = json_is_string(e) ? json_string_value(e)
                                          : json_string_value(json_object_get(e, "value"));
        if (s == NULL || *s == '\0' || strchr(s, ' ')) {
            nova_buf_free(&b);
            return false;
        }
        (void)nova_buf_printf(&b, "%s%s", b.len ? " " : "", s);
    }
    *out = nova_arena_strndup(&r->arena, b.data ? b.data : "", b.len);
    nova_buf_free(&b);
    return *out != NULL;
}

/* Reads a User resource body; false with 400 written. */
static bool user_in_of(nova_req_t *r, json_t *body, scim_user_in *in)
{
    memset(in, 0, sizeof(*in));
    in->active = -1;
    json_t *v;
    if ((v = json_object_get(body, "userName")) != NULL) {
        if (!json_is_string(v) || json_string_length(v) == 0) {
            api_scim_error(r, 400, "invalidValue", "userName: a non-empty string");
            return false;
        }
        in->user_name = json_string_value(v);
    }
    if (in->user_name == NULL) {
        json_t *em = json_array_get(json_object_get(body, "emails"), 0);
        in->user_name = json_string_value(json_object_get(em, "value"));
    }
    if ((v = json_object_get(body, "active")) != NULL && (in->active = bool_of(v)) < 0) {
        api_scim_error(r, 400, "invalidValue", "active: a boolean");
        return false;
    }
    if ((v = json_object_get(body, "externalId")) != NULL) {
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 256) {
            api_scim_error(r, 400, "invalidValue", "externalId: a string of 1 to 256 bytes");
            return false;
        }
        in->external_id = json_string_value(v);
        in->has_external = true;
    }
    const char *dn = json_string_value(json_object_get(body, "displayName"));
    const char *nm = name_of(r, json_object_get(body, "name"));
    in->name = nm ? nm : dn;
    in->has_name = in->name != NULL;
    if ((v = json_object_get(body, "roles")) != NULL) {
        if (!roles_of(r, v, &in->roles)) {
            api_scim_error(r, 400, "invalidValue", "roles: an array of {\"value\": role name}");
            return false;
        }
        in->has_roles = true;
    }
    return true;
}

json_t *api_scim_body(nova_req_t *r)
{
    const char *ct = nova_req_header(r, "content-type");
    if (ct && strncasecmp(ct, SCIM_CT, strlen(SCIM_CT)) != 0 &&
        strncasecmp(ct, "application/json", 16) != 0) {
        api_scim_error(r, 415, NULL, "content-type: application/scim+json");
        return NULL;
    }
    json_t *body = NULL;
    char err[128];
    nova_status st = nova_json_parse_object(r->body.data ? r->body.data : "", r->body.len, &body,
                                            err, sizeof(err));
    if (st == NOVA_TOO_LARGE)
        api_scim_error(r, 413, "tooLarge", "the body is too large");
    else if (st)
        api_scim_error(r, 400, "invalidSyntax", "the body is not a JSON object");
    return st ? NULL : body;
}

/* The user's roles as a space list when given, else NULL (unchanged). */
static void reply_user(nova_req_t *r, api_scim_caller *c, int status, const char *id)
{
    nova_user_view_t u;
    const char *ext = NULL;
    if (!load_user(r, c, id, &u, &ext))
        return;
    const char *etag = etag_of(r, &u);
    if (etag)
        nova_resp_header(r, "ETag", etag);
    if (status == 201) {
        char *loc = nova_arena_printf(&r->arena, "/scim/v2/Users/%s", u.id);
        if (loc)
            nova_resp_header(r, "Location", loc);
    }
    api_scim_reply(r, status, user_json(r, c, &u, ext));
}

bool api_scim_if_match(nova_req_t *r, const char *etag, const char *what)
{
    const char *im = nova_req_header(r, "if-match");
    if (im == NULL || strcmp(im, "*") == 0)
        return true;
    if (etag && strcmp(im, etag) == 0)
        return true;
    api_scim_error(
        r, 412, NULL,
        nova_arena_printf(&r->arena, "If-Match: the %s has changed since that version", what));
    return false;
}

/* If-Match against the user's version; false with 412 written. */
static bool if_match_ok(nova_req_t *r, const nova_user_view_t *u)
{
    return api_scim_if_match(r, etag_of(r, u), "user");
}

/* Applies in to an existing user (spec members and externalId); false with the reply
 * written. */
static bool apply(nova_req_t *r, api_scim_caller *c, const nova_user_view_t *u, const char *ext,
                  const scim_user_in *in)
{
    if (in->user_name && strcasecmp(in->user_name, u->email) != 0) {
        api_scim_error(r, 400, "mutability",
                       "userName: the sign-in email of a user is not changed through SCIM");
        return false;
    }
    nova_user_spec_t spec = {0};
    if (in->has_name)
        spec.name = in->name;
    if (in->has_roles)
        spec.roles = in->roles;
    if (in->active >= 0)
        spec.status = in->active ? "active" : "suspended";
    bool changed = (spec.name && (!u->name || strcmp(spec.name, u->name))) ||
                   (spec.roles && strcmp(spec.roles, u->roles)) ||
                   (spec.status && strcmp(spec.status, u->status));
    const char *why = NULL;
    nova_user_view_t out;
    nova_status st = NOVA_OK;
    if (changed)
        st = nova_people_user_update(c->p, c->s, &r->arena, &c->by, c->tenant_id, u->id, &spec,
                                     &out, &why);
    bool ext_changed = in->has_external &&
                       (ext == NULL || in->external_id == NULL ? ext != in->external_id
                                                               : strcmp(ext, in->external_id) != 0);
    if (st == NOVA_OK && ext_changed) {
        nova_audit_entry_t ae;
        st = nova_audit_entry_make(&ae, &r->arena, &c->by, c->tenant_id, "user.scim_link", "user",
                                   u->id, json_pack("{s:b}", "external_id", 1));
        if (st == NOVA_OK)
            st = nova_store_scim_external_set(c->s, c->tenant_id, u->id, in->external_id,
                                              nova_time_now(), &ae);
        if (st == NOVA_CONFLICT)
            why = "externalId: another user of this tenant has it";
    }
    if (st) {
        api_scim_status(r, st, why);
        return false;
    }
    return true;
}

/* ---- /scim/v2/Users ---- */

static const char *const user_members[] = {
    "schemas",
    "id",
    "externalId",
    "userName",
    "name",
    "displayName",
    "emails",
    "active",
    "roles",
    "meta",
    "title",
    "locale",
    "timezone",
    "nickName",
    "phoneNumbers",
    "addresses",
    "preferredLanguage",
    "userType",
    "password",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "groups", /* read-only (RFC 7643 §4.1.2): ignored when an IdP sends it back */
    NULL};

static bool members_ok(nova_req_t *r, json_t *body)
{
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        bool known = false;
        for (size_t i = 0; user_members[i] && !known; i++)
            known = strcmp(key, user_members[i]) == 0;
        if (!known) {
            char *w = nova_arena_printf(&r->arena, "%s: not an attribute of User", key);
            api_scim_error(r, 400, "invalidSyntax", w);
            return false;
        }
    }
    if (json_object_get(body, "password")) {
        api_scim_error(r, 400, "invalidValue",
                       "password: Nova does not take passwords through SCIM (users sign in with a "
                       "passkey or set their own)");
        return false;
    }
    return true;
}

static void scim_users_create(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    if (!api_scim_auth(r, ud, &c))
        return;
    json_t *body = api_scim_body(r);
    scim_user_in in;
    if (body == NULL)
        return;
    if (!members_ok(r, body) || !user_in_of(r, body, &in))
        goto end;
    if (in.user_name == NULL) {
        api_scim_error(r, 400, "invalidValue", "userName: required");
        goto end;
    }
    if (in.has_external) {
        nova_scim_link_t *l;
        size_t n;
        nova_status st = nova_store_scim_external_list(c.s, &r->arena, c.tenant_id, &l, &n);
        for (size_t i = 0; st == NOVA_OK && i < n; i++)
            if (strcmp(l[i].external_id, in.external_id) == 0)
                st = NOVA_CONFLICT;
        if (st) {
            api_scim_status(
                r, st, st == NOVA_CONFLICT ? "externalId: a user of this tenant has it" : NULL);
            goto end;
        }
    }
    nova_user_spec_t spec = {.email = in.user_name,
                             .name = in.name,
                             .roles = in.roles,
                             .status = in.active == 0 ? "suspended" : "active"};
    nova_user_view_t u;
    const char *why = NULL;
    nova_status st =
        nova_people_user_create(c.p, c.s, &r->arena, &c.by, c.tenant_id, &spec, &u, &why);
    if (st == NOVA_CONFLICT)
        why = "userName: this tenant has a user with this email";
    if (st == NOVA_OK && in.has_external) {
        nova_audit_entry_t ae;
        st = nova_audit_entry_make(&ae, &r->arena, &c.by, c.tenant_id, "user.scim_link", "user",
                                   u.id, json_pack("{s:b}", "external_id", 1));
        if (st == NOVA_OK)
            st = nova_store_scim_external_set(c.s, c.tenant_id, u.id, in.external_id,
                                              nova_time_now(), &ae);
    }
    if (st) {
        api_scim_status(r, st, why);
    } else {
        nova_people_count_provisioned(NOVA_FED_SCIM, NOVA_FED_CREATED);
        reply_user(r, &c, 201, u.id);
    }
end:
    json_decref(body);
}

static void scim_users_get(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    if (api_scim_auth(r, ud, &c))
        reply_user(r, &c, 200, r->params[0]);
}

static bool api_scim_index(nova_req_t *r, const char *name, long dflt, long min, long max,
                           long *out)
{
    const char *v = nova_req_query(r, name);
    *out = dflt;
    if (v == NULL)
        return true;
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0') {
        char *w = nova_arena_printf(&r->arena, "%s: an integer", name);
        api_scim_error(r, 400, "invalidValue", w);
        return false;
    }
    /* RFC 7644 §3.4.2.4: a startIndex below 1 is 1; a negative count is 0. */
    *out = x < min ? min : x > max ? max : x;
    return true;
}

bool api_scim_list_query(nova_req_t *r, long *start, long *count, const nova_scim_filter_t **f)
{
    *f = NULL;
    if (!api_scim_index(r, "startIndex", 1, 1, 1L << 30, start) ||
        !api_scim_index(r, "count", 100, 0, SCIM_MAX_COUNT, count))
        return false;
    const char *ftext = nova_req_query(r, "filter");
    const char *why = NULL;
    if (ftext && nova_scim_filter_parse(&r->arena, ftext, strlen(ftext), f, &why)) {
        api_scim_error(r, 400, "invalidFilter", why);
        return false;
    }
    return true;
}

void api_scim_list_reply(nova_req_t *r, long total, long start, json_t *res)
{
    api_scim_reply(r, 200,
                   json_pack("{s:[s], s:I, s:I, s:I, s:o}", "schemas", SCIM_LIST, "totalResults",
                             (json_int_t)total, "startIndex", (json_int_t)start, "itemsPerPage",
                             (json_int_t)json_array_size(res), "Resources", res));
}

static void scim_users_list(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    if (!api_scim_auth(r, ud, &c))
        return;
    long start, count;
    const nova_scim_filter_t *f;
    if (!api_scim_list_query(r, &start, &count, &f))
        return;
    nova_scim_link_t *links;
    size_t nlinks;
    nova_status st = nova_store_scim_external_list(c.s, &r->arena, c.tenant_id, &links, &nlinks);
    json_t *res = json_array();
    long total = 0;
    const char *after = NULL;
    const char *email = NULL, *want_ext = NULL;
    if (st == NOVA_OK && nova_scim_filter_is_eq(f, "externalid", &want_ext)) {
        /* The IdP's other lookup: its id, from the links already read (no user opened but
         * the one found). */
        const char *uid = NULL;
        for (size_t i = 0; i < nlinks && !uid; i++)
            if (strcmp(links[i].external_id, want_ext) == 0)
                uid = links[i].user_id;
        nova_user_view_t u;
        st = uid ? nova_people_user_get(c.p, c.s, &r->arena, c.tenant_id, uid, &u) : NOVA_NOT_FOUND;
        if (st == NOVA_OK) {
            total = 1;
            if (start == 1 && count > 0)
                json_array_append_new(res, user_json(r, &c, &u, want_ext));
        } else if (st == NOVA_NOT_FOUND) {
            st = NOVA_OK;
        }
        goto reply;
    }
    if (st == NOVA_OK && (nova_scim_filter_is_eq(f, "username", &email) ||
                          nova_scim_filter_is_eq(f, "emails.value", &email))) {
        /* The lookup IdPs make before a create: the blind index answers it at any size. */
        nova_user_view_t u;
        st = nova_people_user_find_email(c.p, c.s, &r->arena, c.tenant_id, email, &u);
        if (st == NOVA_OK) {
            total = 1;
            if (start == 1 && count > 0)
                json_array_append_new(res, user_json(r, &c, &u, external_of(links, nlinks, u.id)));
        } else if (st == NOVA_NOT_FOUND) {
            st = NOVA_OK;
        }
        goto reply;
    }
    /* Emails are sealed, so the filter runs here over the opened users (at most
     * SCIM_SCAN_MAX), in the order /v1/users lists them; their groups are read only when the
     * filter asks about groups. */
    bool need_groups = nova_scim_filter_mentions(f, "groups");
    for (long scanned = 0; st == NOVA_OK && scanned < SCIM_SCAN_MAX;) {
        nova_user_view_t *u;
        size_t n;
        st = nova_people_user_list(c.p, c.s, &r->arena, c.tenant_id, after, 200, &u, &n);
        for (size_t i = 0; st == NOVA_OK && i < n; i++) {
            const char *ext = external_of(links, nlinks, u[i].id);
            user_groups g = {0};
            if (need_groups && (st = groups_of(r, &c, u[i].id, &g)) != NOVA_OK)
                break;
            nova_scim_attr_t *attrs = nova_arena_alloc(&r->arena, sizeof(*attrs) * USER_ATTRS(g.n));
            if (attrs == NULL) {
                st = NOVA_NOMEM;
                break;
            }
            size_t na = user_attrs(&u[i], ext, need_groups ? &g : NULL, attrs);
            if (f && !nova_scim_filter_match(f, attrs, na))
                continue;
            total++;
            if (total >= start && (long)json_array_size(res) < count)
                json_array_append_new(res, user_json(r, &c, &u[i], ext));
        }
        scanned += (long)n;
        if (st || n < 200)
            break;
        after = u[n - 1].id;
    }
reply:
    if (st) {
        json_decref(res);
        api_scim_status(r, st, NULL);
        return;
    }
    api_scim_list_reply(r, total, start, res);
}

static void scim_users_replace(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    if (!api_scim_auth(r, ud, &c))
        return;
    json_t *body = api_scim_body(r);
    scim_user_in in;
    nova_user_view_t u;
    const char *ext;
    if (body == NULL)
        return;
    if (members_ok(r, body) && user_in_of(r, body, &in) &&
        load_user(r, &c, r->params[0], &u, &ext) && if_match_ok(r, &u)) {
        /* PUT replaces: what the body leaves out is cleared (roles) or kept as the default
         * (active); the name stays when none is given, since people keeps one name. */
        if (!in.has_roles) {
            in.roles = "";
            in.has_roles = true;
        }
        if (in.active < 0)
            in.active = 1;
        if (apply(r, &c, &u, ext, &in)) {
            nova_people_count_provisioned(NOVA_FED_SCIM, NOVA_FED_REPLACED);
            reply_user(r, &c, 200, u.id);
        }
    }
    json_decref(body);
}

bool api_scim_op(nova_req_t *r, json_t *op, const char **kind, json_t **path, json_t **value)
{
    *kind = json_string_value(json_object_get(op, "op"));
    *path = json_object_get(op, "path");
    *value = json_object_get(op, "value");
    if (!json_is_object(op)) {
        api_scim_error(r, 400, "invalidSyntax", "Operations[]: objects");
        return false;
    }
    if (*kind == NULL ||
        (strcasecmp(*kind, "add") && strcasecmp(*kind, "replace") && strcasecmp(*kind, "remove"))) {
        api_scim_error(r, 400, "invalidSyntax", "Operations[].op: add, replace or remove");
        return false;
    }
    if (*path && !json_is_string(*path)) {
        api_scim_error(r, 400, "invalidPath", "Operations[].path: a string");
        return false;
    }
    return true;
}

json_t *api_scim_patch_ops(nova_req_t *r, json_t *body)
{
    json_t *ops = json_object_get(body, "Operations");
    json_t *schemas = json_object_get(body, "schemas");
    if (!json_is_array(schemas) || !json_is_string(json_array_get(schemas, 0)) ||
        strcmp(json_string_value(json_array_get(schemas, 0)), SCIM_PATCH) != 0) {
        api_scim_error(r, 400, "invalidSyntax", "schemas: [\"" SCIM_PATCH "\"]");
        return NULL;
    }
    if (!json_is_array(ops) || json_array_size(ops) == 0 || json_array_size(ops) > 64) {
        api_scim_error(r, 400, "invalidSyntax", "Operations: an array of 1 to 64 operations");
        return NULL;
    }
    return ops;
}

/* One PatchOp operation (RFC 7644 §3.5.2) applied to in. false with 400 written. */
static bool patch_op(nova_req_t *r, json_t *op, scim_user_in *in, const nova_user_view_t *u)
{
    const char *kind;
    json_t *path, *value;
    if (!api_scim_op(r, op, &kind, &path, &value))
        return false;
    bool remove = strcasecmp(kind, "remove") == 0;
    if (path == NULL) {
        /* No path: value is an object of attributes (Okta, Entra ID for several). */
        if (remove || !json_is_object(value)) {
            api_scim_error(r, 400, remove ? "noTarget" : "invalidValue",
                           remove ? "Operations[].path: required for remove"
                                  : "Operations[].value: an object of attributes without a path");
            return false;
        }
        scim_user_in more;
        /* Dotted keys ("name.formatted") as Entra ID sends them without a path. */
        json_t *flat = json_deep_copy(value);
        const char *key;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(flat, tmp, key, v)
        {
            if (strcasecmp(key, "name.formatted") == 0 || strcasecmp(key, "name.givenName") == 0 ||
                strcasecmp(key, "name.familyName") == 0) {
                json_t *nm = json_object_get(flat, "name");
                if (!json_is_object(nm)) {
                    nm = json_object();
                    json_object_set_new(flat, "name", nm);
                }
                json_object_set(nm, key + 5, v);
                json_object_del(flat, key);
            }
        }
        bool ok = members_ok(r, flat) && user_in_of(r, flat, &more);
        /* The strings read live in flat: copy them before it goes. */
        const char **strs[] = {&more.user_name, &more.name, &more.external_id};
        for (size_t i = 0; ok && i < sizeof(strs) / sizeof(strs[0]); i++)
            if (*strs[i] &&
                (*strs[i] = nova_arena_strndup(&r->arena, *strs[i], strlen(*strs[i]))) == NULL)
                ok = false;
        json_decref(flat);
        if (!ok)
            return r->status == 0 ? (nova_resp_status(r, NOVA_NOMEM, NULL), false) : false;
        if (more.user_name)
            in->user_name = more.user_name;
        if (more.has_name) {
            in->name = more.name;
            in->has_name = true;
        }
        if (more.has_roles) {
            in->roles = more.roles;
            in->has_roles = true;
        }
        if (more.has_external) {
            in->external_id = more.external_id;
            in->has_external = true;
        }
        if (more.active >= 0)
            in->active = more.active;
        return true;
    }
    const char *p = json_string_value(path);
    if (strncasecmp(p, SCIM_USER ":", strlen(SCIM_USER) + 1) == 0)
        p += strlen(SCIM_USER) + 1;
    if (strcasecmp(p, "active") == 0) {
        int b = remove ? -1 : bool_of(value);
        if (b < 0) {
            api_scim_error(r, 400, remove ? "mutability" : "invalidValue",
                           remove ? "active: cannot be removed" : "active: a boolean");
            return false;
        }
        in->active = b;
    } else if (strcasecmp(p, "displayName") == 0 || strcasecmp(p, "name.formatted") == 0 ||
               strcasecmp(p, "name") == 0) {
        const char *nm = strcasecmp(p, "name") == 0 ? name_of(r, value) : json_string_value(value);
        if (remove) {
            api_scim_error(r, 400, "mutability", "name: a user's name is replaced, not removed");
            return false;
        }
        if (nm == NULL) {
            api_scim_error(r, 400, "invalidValue", "name: a string");
            return false;
        }
        in->name = nm;
        in->has_name = true;
    } else if (strcasecmp(p, "externalId") == 0) {
        if (remove) {
            in->external_id = NULL;
            in->has_external = true;
        } else if (!json_is_string(value) || json_string_length(value) == 0 ||
                   json_string_length(value) > 256) {
            api_scim_error(r, 400, "invalidValue", "externalId: a string of 1 to 256 bytes");
            return false;
        } else {
            in->external_id = json_string_value(value);
            in->has_external = true;
        }
    } else if (strcasecmp(p, "userName") == 0 || strncasecmp(p, "emails", 6) == 0) {
        const char *v = json_string_value(value);
        if (v == NULL && json_is_array(value))
            v = json_string_value(json_object_get(json_array_get(value, 0), "value"));
        if (remove || v == NULL) {
            api_scim_error(r, 400, remove ? "mutability" : "invalidValue",
                           remove ? "userName: required, cannot be removed" : "userName: a string");
            return false;
        }
        in->user_name = v;
    } else if (strcasecmp(p, "roles") == 0) {
        const char *add = NULL;
        if (!remove && !roles_of(r, json_is_array(value) ? value : NULL, &add)) {
            api_scim_error(r, 400, "invalidValue", "roles: an array of {\"value\": role name}");
            return false;
        }
        const char *cur = in->has_roles ? in->roles : u->roles;
        if (remove && value == NULL)
            in->roles = "";
        else if (remove || strcasecmp(kind, "add") == 0) {
            /* add: union; remove with a value: the difference. */
            const char *rm = NULL;
            if (remove && !roles_of(r, value, &rm)) {
                api_scim_error(r, 400, "invalidValue", "roles: an array of {\"value\": role name}");
                return false;
            }
            json_t *have = api_words(cur), *chg = api_words(remove ? rm : add);
            nova_buf_t b;
            nova_buf_init(&b);
            for (size_t i = 0; i < json_array_size(have); i++) {
                const char *w = json_string_value(json_array_get(have, i));
                bool drop = false;
                for (size_t j = 0; remove && j < json_array_size(chg); j++)
                    drop = drop || !strcmp(w, json_string_value(json_array_get(chg, j)));
                if (!drop)
                    (void)nova_buf_printf(&b, "%s%s", b.len ? " " : "", w);
            }
            for (size_t j = 0; !remove && j < json_array_size(chg); j++) {
                const char *w = json_string_value(json_array_get(chg, j));
                bool dup = false;
                for (size_t i = 0; i < json_array_size(have); i++)
                    dup = dup || !strcmp(w, json_string_value(json_array_get(have, i)));
                if (!dup)
                    (void)nova_buf_printf(&b, "%s%s", b.len ? " " : "", w);
            }
            in->roles = nova_arena_strndup(&r->arena, b.data ? b.data : "", b.len);
            nova_buf_free(&b);
            json_decref(have);
            json_decref(chg);
        } else {
            in->roles = add;
        }
        in->has_roles = true;
    } else {
        char *w = nova_arena_printf(&r->arena, "path: %s is not an attribute Nova keeps", p);
        api_scim_error(r, 400, "invalidPath", w);
        return false;
    }
    return true;
}

static void scim_users_patch(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    if (!api_scim_auth(r, ud, &c))
        return;
    json_t *body = api_scim_body(r);
    nova_user_view_t u;
    const char *ext;
    if (body == NULL)
        return;
    json_t *ops = api_scim_patch_ops(r, body);
    if (ops && load_user(r, &c, r->params[0], &u, &ext) && if_match_ok(r, &u)) {
        scim_user_in in;
        memset(&in, 0, sizeof(in));
        in.active = -1;
        bool ok = true;
        for (size_t i = 0; ok && i < json_array_size(ops); i++)
            ok = json_is_object(json_array_get(ops, i)) &&
                 patch_op(r, json_array_get(ops, i), &in, &u);
        if (ok && apply(r, &c, &u, ext, &in)) {
            nova_people_count_provisioned(NOVA_FED_SCIM, NOVA_FED_PATCHED);
            reply_user(r, &c, 200, u.id);
        } else if (!ok && r->status == 0)
            api_scim_error(r, 400, "invalidSyntax", "Operations[]: objects");
    }
    json_decref(body);
}

static void scim_users_delete(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    if (!api_scim_auth(r, ud, &c))
        return;
    nova_status st = api_user_delete(r, c.p, c.s, &c.by, c.tenant_id, r->params[0]);
    if (st)
        api_scim_status(r, st == NOVA_INVALID ? NOVA_NOT_FOUND : st, "no such user");
    else {
        nova_people_count_provisioned(NOVA_FED_SCIM, NOVA_FED_DELETED);
        nova_resp_body(r, 204, NULL, NULL, 0);
    }
}

/* ---- discovery (RFC 7644 §4) ---- */

static const char spc_json[] =
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig\"],"
    "\"documentationUri\":\"/openapi.json\","
    "\"patch\":{\"supported\":true},\"bulk\":{\"supported\":false,\"maxOperations\":0,"
    "\"maxPayloadSize\":0},\"filter\":{\"supported\":true,\"maxResults\":200},"
    "\"changePassword\":{\"supported\":false},\"sort\":{\"supported\":false},"
    "\"etag\":{\"supported\":true},\"authenticationSchemes\":[{\"type\":\"oauthbearertoken\","
    "\"name\":\"Bearer token\",\"description\":\"A per-tenant SCIM token made with POST "
    "/v1/scim/tokens\",\"primary\":true}],"
    "\"meta\":{\"resourceType\":\"ServiceProviderConfig\","
    "\"location\":\"/scim/v2/ServiceProviderConfig\"}}";

static const char rt_user_json[] =
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:ResourceType\"],\"id\":\"User\","
    "\"name\":\"User\",\"endpoint\":\"/Users\",\"description\":\"A person of the tenant\","
    "\"schema\":\"" SCIM_USER "\",\"meta\":{\"resourceType\":\"ResourceType\","
    "\"location\":\"/scim/v2/ResourceTypes/User\"}}";

static const char rt_group_json[] =
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:ResourceType\"],\"id\":\"Group\","
    "\"name\":\"Group\",\"endpoint\":\"/Groups\",\"description\":\"A group of the tenant's "
    "users; the tenant maps group names to roles\",\"schema\":\"" SCIM_GROUP "\","
    "\"meta\":{\"resourceType\":\"ResourceType\",\"location\":\"/scim/v2/ResourceTypes/Group\"}}";

static json_t *attr_def(const char *name, const char *type, bool multi, bool required,
                        bool case_exact, const char *mutability, const char *uniqueness)
{
    return json_pack("{s:s, s:s, s:b, s:b, s:b, s:s, s:s, s:s}", "name", name, "type", type,
                     "multiValued", multi, "required", required, "caseExact", case_exact,
                     "mutability", mutability, "returned", "default", "uniqueness", uniqueness);
}

static json_t *user_schema(void)
{
    json_t *name = attr_def("name", "complex", false, false, false, "readWrite", "none");
    json_object_set_new(
        name, "subAttributes",
        json_pack("[o, o, o]",
                  attr_def("formatted", "string", false, false, false, "readWrite", "none"),
                  attr_def("givenName", "string", false, false, false, "writeOnly", "none"),
                  attr_def("familyName", "string", false, false, false, "writeOnly", "none")));
    json_t *emails = attr_def("emails", "complex", true, false, false, "readWrite", "none");
    json_object_set_new(
        emails, "subAttributes",
        json_pack("[o, o, o]",
                  attr_def("value", "string", false, false, false, "readWrite", "none"),
                  attr_def("type", "string", false, false, false, "readOnly", "none"),
                  attr_def("primary", "boolean", false, false, false, "readOnly", "none")));
    json_t *roles = attr_def("roles", "complex", true, false, true, "readWrite", "none");
    json_object_set_new(
        roles, "subAttributes",
        json_pack("[o]", attr_def("value", "string", false, true, true, "readWrite", "none")));
    json_t *attrs =
        json_pack("[o, o, o, o, o, o]",
                  attr_def("userName", "string", false, true, false, "readWrite", "server"),
                  attr_def("externalId", "string", false, false, true, "readWrite", "server"), name,
                  attr_def("displayName", "string", false, false, false, "readWrite", "none"),
                  attr_def("active", "boolean", false, false, false, "readWrite", "none"), emails);
    json_array_append_new(attrs, roles);
    return json_pack("{s:[s], s:s, s:s, s:s, s:o, s:{s:s, s:s}}", "schemas",
                     "urn:ietf:params:scim:schemas:core:2.0:Schema", "id", SCIM_USER, "name",
                     "User", "description", "User Account", "attributes", attrs, "meta",
                     "resourceType", "Schema", "location", "/scim/v2/Schemas/" SCIM_USER);
}

static json_t *group_schema(void)
{
    json_t *members = attr_def("members", "complex", true, false, false, "readWrite", "none");
    json_t *value = attr_def("value", "string", false, true, true, "immutable", "none");
    json_t *ref = attr_def("$ref", "reference", false, false, true, "immutable", "none");
    json_object_set_new(ref, "referenceTypes", json_pack("[s]", "User"));
    json_object_set_new(
        members, "subAttributes",
        json_pack("[o, o, o]", value, ref,
                  attr_def("type", "string", false, false, false, "immutable", "none")));
    json_t *attrs = json_pack(
        "[o, o, o]", attr_def("displayName", "string", false, true, false, "readWrite", "server"),
        attr_def("externalId", "string", false, false, true, "readWrite", "server"), members);
    return json_pack("{s:[s], s:s, s:s, s:s, s:o, s:{s:s, s:s}}", "schemas",
                     "urn:ietf:params:scim:schemas:core:2.0:Schema", "id", SCIM_GROUP, "name",
                     "Group", "description", "Group", "attributes", attrs, "meta", "resourceType",
                     "Schema", "location", "/scim/v2/Schemas/" SCIM_GROUP);
}

static void reply_static(nova_req_t *r, const char *text)
{
    nova_resp_body(r, 200, SCIM_CT, text, strlen(text));
}

static void scim_spc(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    if (api_scim_auth(r, ud, &c))
        reply_static(r, spc_json);
}

static json_t *list_of(json_t *one, json_t *two)
{
    return json_pack("{s:[s], s:i, s:i, s:i, s:[o, o]}", "schemas", SCIM_LIST, "totalResults", 2,
                     "startIndex", 1, "itemsPerPage", 2, "Resources", one, two);
}

static void scim_resource_types(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    if (api_scim_auth(r, ud, &c))
        api_scim_reply(
            r, 200, list_of(json_loads(rt_user_json, 0, NULL), json_loads(rt_group_json, 0, NULL)));
}

static void scim_resource_type(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    if (!api_scim_auth(r, ud, &c))
        return;
    if (strcmp(r->params[0], "User") == 0)
        reply_static(r, rt_user_json);
    else if (strcmp(r->params[0], "Group") == 0)
        reply_static(r, rt_group_json);
    else
        api_scim_error(r, 404, NULL, "no such resource type (User and Group are served)");
}

static void scim_schemas(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    if (api_scim_auth(r, ud, &c))
        api_scim_reply(r, 200, list_of(user_schema(), group_schema()));
}

static void scim_schema(nova_req_t *r, void *ud)
{
    api_scim_caller c;
    if (!api_scim_auth(r, ud, &c))
        return;
    if (strcmp(r->params[0], SCIM_USER) == 0)
        api_scim_reply(r, 200, user_schema());
    else if (strcmp(r->params[0], SCIM_GROUP) == 0)
        api_scim_reply(r, 200, group_schema());
    else
        api_scim_error(r, 404, NULL, "no such schema (the User and Group schemas are served)");
}

/* ---- /v1/scim/tokens (the tenant's backend makes the IdP's token) ---- */

static void scim_token_create(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    static const char *const members[] = {NULL};
    json_t *body = r->body.len ? api_json_body(r, members) : json_object();
    if (body == NULL)
        return;
    json_decref(body);
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    const char *tenant = r->principal->tenant_id;
    char id[64], digest[65];
    uint8_t secret[32];
    char sec[64];
    nova_status st = nova_id_new("sct", id, sizeof(id));
    if (st == NOVA_OK)
        st = nova_random_bytes(secret, sizeof(secret));
    if (st) {
        nova_resp_status(r, st, NULL);
        return;
    }
    nova_b64url_encode(secret, sizeof(secret), sec);
    char *tok = nova_arena_printf(&r->arena, "scim.%s.%s", tenant, sec);
    nova_audit_actor_t by = {.id = r->principal->client_id, .request_id = r->req_id};
    nova_audit_entry_t ae;
    if (tok == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return;
    }
    token_digest(tok, digest);
    st = nova_audit_entry_make(&ae, &r->arena, &by, tenant, "scim.token.create", "scim_token", id,
                               NULL);
    if (st == NOVA_OK)
        st = nova_store_scim_token_create(s, tenant, id, digest, by.id, nova_time_now(), &ae);
    if (st) {
        nova_resp_status(r, st, NULL);
        return;
    }
    nova_resp_header(r, "Cache-Control", "no-store");
    api_reply_json(r, 201,
                   json_pack("{s:s, s:s, s:s}", "id", id, "token", tok, "base_url", "/scim/v2"));
}

static void scim_token_revoke(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    const char *tenant = r->principal->tenant_id;
    nova_audit_actor_t by = {.id = r->principal->client_id, .request_id = r->req_id};
    nova_audit_entry_t ae;
    nova_status st = nova_audit_entry_make(&ae, &r->arena, &by, tenant, "scim.token.revoke",
                                           "scim_token", r->params[0], NULL);
    if (st == NOVA_OK)
        st = nova_store_scim_token_revoke(s, tenant, r->params[0], nova_time_now(), &ae);
    if (st)
        nova_resp_status(r, st == NOVA_INVALID ? NOVA_NOT_FOUND : st, "no such live SCIM token");
    else
        nova_resp_body(r, 204, NULL, NULL, 0);
}

nova_status api_scim_register(nova_api_t *api, nova_http_server_t *srv)
{
    static const struct {
        const char *method, *pattern, *scope;
        nova_handler_fn fn;
        size_t max_body;
    } routes[] = {
        {"POST", "/v1/scim/tokens", "users:write", scim_token_create, 64},
        {"DELETE", "/v1/scim/tokens/{id}", "users:write", scim_token_revoke, 0},
        /* The SCIM routes authenticate the IdP's token themselves (api_scim_auth). */
        {"POST", "/scim/v2/Users", NULL, scim_users_create, 16384},
        {"GET", "/scim/v2/Users", NULL, scim_users_list, 0},
        {"GET", "/scim/v2/Users/{id}", NULL, scim_users_get, 0},
        {"PUT", "/scim/v2/Users/{id}", NULL, scim_users_replace, 16384},
        {"PATCH", "/scim/v2/Users/{id}", NULL, scim_users_patch, 16384},
        {"DELETE", "/scim/v2/Users/{id}", NULL, scim_users_delete, 0},
        {"GET", "/scim/v2/ServiceProviderConfig", NULL, scim_spc, 0},
        {"GET", "/scim/v2/ResourceTypes", NULL, scim_resource_types, 0},
        {"GET", "/scim/v2/ResourceTypes/{id}", NULL, scim_resource_type, 0},
        {"GET", "/scim/v2/Schemas", NULL, scim_schemas, 0},
        {"GET", "/scim/v2/Schemas/{id}", NULL, scim_schema, 0},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, routes[i].scope,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    return api_scim_groups_register(api, srv);
}
