/* login.c: sign-in for people (issue 11 items 3, 4, 6): POST /auth/login (password, then
 * TOTP or a recovery code), /auth/refresh, /auth/logout, GET /auth/session, TOTP enrolment
 * and recovery codes, and request-bound step-up (/auth/mfa/challenge, /auth/mfa/complete).
 * These routes are public to the router: the caller is a person holding a user access token
 * (Authorization: Bearer), which this file verifies itself (nova_people_token_verify).
 *
 * Protected actions: removing TOTP and regenerating recovery codes need AAL2. Attempted
 * below it they answer 403 MFA_REQUIRED with a challenge bound to the request (api_stepup).
 * Failed sign-ins and second factors count against the failed-authentication rate limits
 * (per address, and per account and address). */
#include <string.h>

#include "internal.h"
#include "nova/people.h"

static void user_error(nova_req_t *r, const char *why)
{
    nova_resp_header(r, "WWW-Authenticate", "Bearer realm=\"nova\", error=\"invalid_token\"");
    nova_resp_problem(r, 401, "invalid_token", "Unauthorized", why ? why : "invalid token");
}

/* Verifies a user access token; false with the reply written. */
static bool user_verify(nova_req_t *r, nova_api_t *api, nova_people_t *p, nova_store_t *s,
                        const char *token, nova_user_claims_t *c, bool allow_enrol_only)
{
    const char *why = NULL;
    nova_status st = nova_people_token_verify(p, s, &r->arena, token, nova_req_peer_ip(r),
                                              nova_req_header(r, "User-Agent"), c, &why);
    if (st == NOVA_UNAUTHORIZED) {
        user_error(r, why);
        return false;
    }
    if (st) {
        api_people_status(r, st, NULL);
        return false;
    }
    if (c->enrol_only && !allow_enrol_only) {
        nova_resp_problem(r, 403, "mfa_enrollment_required", "Forbidden",
                          "this tenant requires a second factor: enrol TOTP "
                          "(POST /auth/totp/enroll) and sign in again");
        return false;
    }
    if (!api_security_enforce(r, api, c->tenant_id, NULL))
        return false;
    return true;
}

/* Verifies the user token of the request; false with the reply written. */
bool api_user_authenticate(nova_req_t *r, nova_api_t *api, nova_people_t *p, nova_store_t *s,
                           nova_user_claims_t *c, bool allow_enrol_only)
{
    const char *authz = nova_req_header(r, "Authorization");
    if (authz == NULL || strncasecmp(authz, "Bearer ", 7) != 0) {
        nova_resp_header(r, "WWW-Authenticate", "Bearer realm=\"nova\"");
        nova_resp_problem(r, 401, "unauthorized", "Unauthorized",
                          "a user access token is required (Authorization: Bearer)");
        return false;
    }
    return user_verify(r, api, p, s, authz + 7, c, allow_enrol_only);
}

/* A person at a /v1 route: what the body check needs once the body is in. */
typedef struct user_caller {
    nova_api_t *api;
    nova_user_claims_t c;
    int required_aal; /* the policy asked for step-up to this AAL; 0: it did not */
} user_caller;

/* The second step of a person's request (the body is in): a step-up the policy asked for
 * becomes the request-bound 403 MFA_REQUIRED (or is met by a step-up token bound to exactly
 * this request), and a step-up token is good for its one request only. */
static bool user_body_check(nova_req_t *r, void *ud)
{
    user_caller *u = ud;
    if (u->required_aal == 0 && u->c.orig == NULL)
        return true;
    nova_store_t *s = api_store(r, u->api);
    nova_people_t *p = s ? api_people(r, u->api) : NULL;
    if (p == NULL)
        return false;
    int aal = u->required_aal > 0 ? u->required_aal : 1;
    return api_stepup(r, p, s, &u->c, aal);
}

bool api_user_caller(nova_req_t *r, nova_api_t *api, const char *token)
{
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    user_caller *u = nova_arena_alloc(&r->arena, sizeof(*u));
    nova_principal_t *pr = nova_arena_alloc(&r->arena, sizeof(*pr));
    if (p == NULL)
        return false;
    if (u == NULL || pr == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return false;
    }
    memset(u, 0, sizeof(*u));
    memset(pr, 0, sizeof(*pr));
    u->api = api;
    if (!user_verify(r, api, p, s, token, &u->c, false))
        return false;
    const char *roles = NULL;
    nova_status st = nova_people_token_roles(p, s, &r->arena, &u->c, &roles);
    if (st == NOVA_UNAUTHORIZED) {
        user_error(r, "the user is suspended or gone");
        return false;
    }
    if (st) {
        api_people_status(r, st, NULL);
        return false;
    }
    pr->tenant_id = u->c.tenant_id;
    pr->client_id =
        u->c.jit ? nova_arena_printf(&r->arena, "%s#%s", u->c.user_id, u->c.jit) : u->c.user_id;
    pr->scope = "";
    pr->jti = u->c.jti;
    pr->exp = u->c.exp;
    pr->user_id = u->c.user_id;
    pr->amr = u->c.amr;
    pr->roles = roles;
    pr->aal = u->c.aal;
    if (pr->client_id == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return false;
    }
    r->principal = pr;
    r->body_check = user_body_check;
    r->body_check_ud = u;
    return true;
}

bool api_user_bound(const nova_req_t *r)
{
    return r->body_check == user_body_check && ((user_caller *)r->body_check_ud)->c.orig != NULL;
}

void api_user_stepup_later(nova_req_t *r, int required_aal)
{
    if (r->body_check == user_body_check)
        ((user_caller *)r->body_check_ud)->required_aal = required_aal;
}

/* Common start of a user route: store, domain, token. */
typedef struct user_ctx {
    nova_api_t *api;
    nova_store_t *s;
    nova_people_t *p;
    nova_user_claims_t c;
    nova_audit_actor_t by;
} user_ctx;

static bool user_begin(nova_req_t *r, nova_api_t *api, user_ctx *u, bool enrol_ok)
{
    u->api = api;
    u->s = api_store(r, api);
    u->p = u->s ? api_people(r, api) : NULL;
    if (u->p == NULL || !api_user_authenticate(r, api, u->p, u->s, &u->c, enrol_ok))
        return false;
    /* Under a just-in-time credential every entry names the request it acts under. */
    const char *actor =
        u->c.jit ? nova_arena_printf(&r->arena, "%s#%s", u->c.user_id, u->c.jit) : u->c.user_id;
    if (actor == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return false;
    }
    u->by = (nova_audit_actor_t){.id = actor, .request_id = r->req_id};
    return true;
}

/* The request target as sent: raw path, and "?" raw query when present. */
static const char *target_of(nova_req_t *r)
{
    return r->query ? nova_arena_printf(&r->arena, "%s?%s", r->path, r->query) : r->path;
}

bool api_stepup(nova_req_t *r, nova_people_t *p, nova_store_t *s, const nova_user_claims_t *c,
                int aal)
{
    char h[44];
    const char *target = target_of(r), *why = NULL;
    if (target == NULL ||
        nova_stepup_orig_hash(r->method, target, r->body.data, r->body.len, h) != NOVA_OK) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return false;
    }
    nova_status st = nova_people_stepup_admit(p, c, aal, h, &why);
    if (st == NOVA_OK)
        return true;
    if (st != NOVA_FORBIDDEN) {
        api_people_status(r, st, NULL);
        return false;
    }
    const char *challenge = NULL;
    st = nova_people_stepup_challenge(p, s, &r->arena, c, h, &challenge);
    if (st) {
        api_people_status(r, st, NULL);
        return false;
    }
    /* The problem, then the seed's members appended to it: error, challenge, required_aal. */
    nova_resp_problem(r, 403, "MFA_REQUIRED", "Forbidden", why);
    nova_buf_t *body = &r->resp_body;
    if (body->len > 0 && body->data[body->len - 1] == '}') {
        body->len--;
        if (nova_buf_printf(body,
                            ",\"error\":\"MFA_REQUIRED\",\"challenge\":\"%s\","
                            "\"required_aal\":%d}",
                            challenge, aal) != NOVA_OK)
            nova_resp_status(r, NOVA_NOMEM, NULL);
    }
    return false;
}

static json_t *grant_json(const nova_login_result_t *g)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:i, s:o}", "access_token", g->access_token,
                     "token_type", "Bearer", "expires_in", (json_int_t)g->expires_in,
                     "refresh_token", g->refresh_token, "session_id", g->session.id, "aal",
                     (int)g->session.aal, "amr", api_words(g->session.amr));
}

json_t *api_people_grant_json(const struct nova_login_result *g)
{
    return grant_json(g);
}

static const char *str_member(json_t *body, const char *name, bool *bad)
{
    json_t *v = json_object_get(body, name);
    if (v && !json_is_string(v))
        *bad = true;
    return v ? json_string_value(v) : NULL;
}

static const char *const login_members[] = {"tenant_id", "email",         "password", "mfa_token",
                                            "totp_code", "recovery_code", NULL};

static void login(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, login_members);
    if (body == NULL)
        return;
    bool bad = false;
    nova_login_request_t req = {.tenant_id = str_member(body, "tenant_id", &bad),
                                .email = str_member(body, "email", &bad),
                                .password = str_member(body, "password", &bad),
                                .mfa_token = str_member(body, "mfa_token", &bad),
                                .totp_code = str_member(body, "totp_code", &bad),
                                .recovery_code = str_member(body, "recovery_code", &bad),
                                .device = nova_req_header(r, "User-Agent"),
                                .ip = nova_req_peer_ip(r)};
    const char *why = NULL;
    if (bad)
        why = "tenant_id, email, password, mfa_token, totp_code, recovery_code: strings";
    else if (!req.tenant_id || !*req.tenant_id || strlen(req.tenant_id) > 64)
        why = "tenant_id: required";
    else if (req.mfa_token && !req.totp_code && !req.recovery_code)
        why = "totp_code or recovery_code: required with mfa_token";
    else if (req.mfa_token && req.totp_code && req.recovery_code)
        why = "totp_code, recovery_code: give one";
    else if (!req.mfa_token && (!req.email || !req.password))
        why = "email, password: required (or mfa_token with a code)";
    else if (!req.mfa_token && (strlen(req.password) > 1024 || strlen(req.email) > 254))
        why = "password: at most 1024 bytes; email: at most 254";
    if (why) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", why);
        json_decref(body);
        return;
    }
    /* Rate-limit key: the account as typed (or the mfa token's), from this address. */
    const char *rl = nova_arena_printf(&r->arena, "login:%s:%s", req.tenant_id,
                                       req.mfa_token ? req.mfa_token : req.email);
    nova_store_t *s = api_store(r, api);
    nova_people_t *p = s ? api_people(r, api) : NULL;
    nova_security_settings_t sec;
    if (p == NULL || rl == NULL || !api_ratelimit_auth_allowed(r, api, rl)) {
        json_decref(body);
        return;
    }
    nova_tenant_t t;
    nova_status st = nova_store_tenant_get(s, &r->arena, req.tenant_id, &t);
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        api_ratelimit_auth_failed(r, api, rl);
        nova_resp_problem(r, 401, "invalid_credentials", "Unauthorized",
                          "wrong tenant, email or password");
        json_decref(body);
        return;
    }
    if (st || !api_security_enforce(r, api, req.tenant_id, &sec)) {
        if (st)
            api_unavailable(r, st);
        json_decref(body);
        return;
    }
    req.session_timeout_minutes = sec.session_timeout_minutes;
    req.mfa_required = sec.mfa_required_for_all_users;
    nova_login_result_t g;
    st = nova_people_login(p, s, &r->arena, &req, &g);
    json_decref(body);
    if (st) {
        api_people_status(r, st, NULL);
        return;
    }
    switch (g.outcome) {
    case NOVA_LOGIN_OK:
        api_reply_json(r, 200, grant_json(&g));
        return;
    case NOVA_LOGIN_ENROL: {
        json_t *o = grant_json(&g);
        json_object_set_new(o, "mfa_enrollment_required", json_true());
        api_reply_json(r, 200, o);
        return;
    }
    case NOVA_LOGIN_MFA:
        api_reply_json(r, 200,
                       json_pack("{s:b, s:s, s:[s,s], s:i}", "mfa_required", 1, "mfa_token",
                                 g.mfa_token, "methods", "totp", "recovery_code", "expires_in",
                                 300));
        return;
    case NOVA_LOGIN_SUSPENDED:
        nova_resp_problem(r, 403, "account_suspended", "Forbidden", "this account is suspended");
        return;
    case NOVA_LOGIN_BAD_MFA:
        api_ratelimit_auth_failed(r, api, rl);
        nova_resp_problem(r, 401, "invalid_second_factor", "Unauthorized",
                          "wrong or reused code, or the mfa_token is unknown or expired");
        return;
    default:
        api_ratelimit_auth_failed(r, api, rl);
        nova_resp_problem(r, 401, "invalid_credentials", "Unauthorized",
                          "wrong tenant, email or password");
        return;
    }
}

static const char *const refresh_members[] = {"refresh_token", NULL};

static void refresh(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    json_t *body = api_json_body(r, refresh_members);
    if (body == NULL)
        return;
    json_t *t = json_object_get(body, "refresh_token");
    nova_store_t *s = NULL;
    nova_people_t *p = NULL;
    if (!json_is_string(t)) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", "refresh_token: a string");
    } else if ((s = api_store(r, api)) && (p = api_people(r, api)) &&
               api_ratelimit_auth_allowed(r, api, NULL)) {
        nova_login_result_t g;
        nova_status st =
            nova_people_refresh(p, s, &r->arena, json_string_value(t), nova_req_peer_ip(r), &g);
        if (st == NOVA_UNAUTHORIZED) {
            api_ratelimit_auth_failed(r, api, NULL);
            nova_resp_problem(r, 401, "invalid_grant", "Unauthorized",
                              "the refresh token is unknown, spent, expired or revoked");
        } else if (st) {
            api_people_status(r, st, NULL);
        } else {
            api_reply_json(r, 200, grant_json(&g));
        }
    }
    json_decref(body);
}

static void logout(nova_req_t *r, void *ud)
{
    user_ctx u;
    if (!user_begin(r, ud, &u, true))
        return;
    nova_status st = nova_people_session_revoke(u.p, u.s, &r->arena, &u.by, u.c.tenant_id,
                                                u.c.session_id, "logout");
    if (st)
        api_people_status(r, st, NULL);
    else
        nova_resp_body(r, 204, NULL, NULL, 0);
}

static void session_get(nova_req_t *r, void *ud)
{
    user_ctx u;
    if (!user_begin(r, ud, &u, true))
        return;
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:i, s:o, s:b, s:I}", "tenant_id", u.c.tenant_id, "user_id",
                  u.c.user_id, "session_id", u.c.session_id, "aal", u.c.aal, "amr",
                  api_words(u.c.amr), "enrol_only", u.c.enrol_only, "exp", (json_int_t)u.c.exp);
    if (o && u.c.orig)
        json_object_set_new(o, "bound_to", json_string(u.c.orig));
    api_reply_json(r, 200, o);
}

static const char *const enroll_members[] = {"algorithm", NULL};

static void totp_enroll(nova_req_t *r, void *ud)
{
    user_ctx u;
    if (!user_begin(r, ud, &u, true))
        return;
    json_t *body = r->body.len ? api_json_body(r, enroll_members) : json_object();
    if (body == NULL)
        return;
    json_t *alg = json_object_get(body, "algorithm");
    nova_totp_enrolment_t e;
    nova_status st = NOVA_INVALID;
    if (alg && !json_is_string(alg))
        alg = NULL;
    else
        st = nova_people_totp_begin(u.p, u.s, &r->arena, &u.by, u.c.tenant_id, u.c.user_id,
                                    alg ? json_string_value(alg) : NULL, &e);
    json_decref(body);
    if (st == NOVA_CONFLICT)
        nova_resp_problem(r, 409, "totp_active", "Conflict",
                          "TOTP is active: remove it first (DELETE /auth/totp, a step-up action)");
    else if (st == NOVA_INVALID)
        nova_resp_problem(r, 422, "invalid_field", "Invalid field",
                          "algorithm: SHA1, SHA256 or SHA512");
    else if (st)
        api_people_status(r, st, NULL);
    else
        api_reply_json(r, 201,
                       json_pack("{s:s, s:s, s:s, s:i, s:i}", "secret", e.secret_b32, "otpauth_uri",
                                 e.uri, "algorithm", e.algorithm, "digits", (int)e.digits, "period",
                                 (int)e.period));
}

static json_t *codes_json(char codes[NOVA_RECOVERY_CODES][NOVA_RECOVERY_CODE_LEN])
{
    json_t *a = json_array();
    for (int i = 0; i < NOVA_RECOVERY_CODES; i++)
        json_array_append_new(a, json_string(codes[i]));
    return a;
}

static const char *const confirm_members[] = {"code", NULL};

static void totp_confirm(nova_req_t *r, void *ud)
{
    user_ctx u;
    if (!user_begin(r, ud, &u, true))
        return;
    json_t *body = api_json_body(r, confirm_members);
    if (body == NULL)
        return;
    json_t *code = json_object_get(body, "code");
    char codes[NOVA_RECOVERY_CODES][NOVA_RECOVERY_CODE_LEN];
    if (!json_is_string(code)) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", "code: a string of 6 digits");
        json_decref(body);
        return;
    }
    nova_status st = nova_people_totp_confirm(u.p, u.s, &r->arena, &u.by, u.c.tenant_id,
                                              u.c.user_id, json_string_value(code), codes);
    json_decref(body);
    if (st == NOVA_UNAUTHORIZED)
        nova_resp_problem(r, 422, "invalid_field", "Invalid field",
                          "code: not the current code of the secret being enrolled");
    else if (st == NOVA_CONFLICT)
        nova_resp_problem(r, 409, "no_pending_totp", "Conflict",
                          "no TOTP enrolment is pending: POST /auth/totp/enroll first");
    else if (st)
        api_people_status(r, st, NULL);
    else
        api_reply_json(
            r, 200, json_pack("{s:s, s:o}", "totp", "active", "recovery_codes", codes_json(codes)));
    explicit_bzero(codes, sizeof(codes));
}

static void totp_remove(nova_req_t *r, void *ud)
{
    user_ctx u;
    if (!user_begin(r, ud, &u, false) || !api_stepup(r, u.p, u.s, &u.c, 2))
        return;
    nova_status st =
        nova_people_totp_remove(u.p, u.s, &r->arena, &u.by, u.c.tenant_id, u.c.user_id);
    if (st)
        api_people_status(r, st, NULL);
    else
        nova_resp_body(r, 204, NULL, NULL, 0);
}

static void recovery_regenerate(nova_req_t *r, void *ud)
{
    user_ctx u;
    char codes[NOVA_RECOVERY_CODES][NOVA_RECOVERY_CODE_LEN];
    if (!user_begin(r, ud, &u, false) || !api_stepup(r, u.p, u.s, &u.c, 2))
        return;
    nova_status st = nova_people_recovery_regenerate(u.p, u.s, &r->arena, &u.by, u.c.tenant_id,
                                                     u.c.user_id, codes);
    if (st == NOVA_CONFLICT)
        nova_resp_problem(r, 409, "totp_not_active", "Conflict",
                          "recovery codes come with TOTP: enrol it first");
    else if (st)
        api_people_status(r, st, NULL);
    else
        api_reply_json(r, 200, json_pack("{s:o}", "recovery_codes", codes_json(codes)));
    explicit_bzero(codes, sizeof(codes));
}

/* The request a challenge is for, as the client names it: method, path (the raw target) and
 * body (the exact text it will send, or absent for none). */
static bool named_request(nova_req_t *r, json_t *body, char h[44])
{
    json_t *m = json_object_get(body, "method"), *path = json_object_get(body, "path"),
           *b = json_object_get(body, "body");
    const char *why = NULL;
    if (!json_is_string(m))
        why = "method: the protected request's method";
    else if (!json_is_string(path) || json_string_value(path)[0] != '/')
        why = "path: the protected request's path (and ?query), starting with /";
    else if (b && !json_is_string(b))
        why = "body: the protected request's body as a string";
    if (why) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field", why);
        return false;
    }
    const char *bt = b ? json_string_value(b) : "";
    size_t bl = b ? json_string_length(b) : 0;
    if (nova_stepup_orig_hash(json_string_value(m), json_string_value(path), bt, bl, h) !=
        NOVA_OK) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return false;
    }
    return true;
}

static const char *const challenge_members[] = {"method", "path", "body", NULL};

static void mfa_challenge(nova_req_t *r, void *ud)
{
    user_ctx u;
    char h[44];
    if (!user_begin(r, ud, &u, false))
        return;
    json_t *body = api_json_body(r, challenge_members);
    if (body == NULL)
        return;
    if (named_request(r, body, h)) {
        const char *ch = NULL;
        nova_status st = nova_people_stepup_challenge(u.p, u.s, &r->arena, &u.c, h, &ch);
        if (st)
            api_people_status(r, st, NULL);
        else
            api_reply_json(r, 200,
                           json_pack("{s:s, s:s, s:i}", "challenge", ch, "origHash", h,
                                     "expires_in", NOVA_STEPUP_CHALLENGE_TTL));
    }
    json_decref(body);
}

static const char *const complete_members[] = {"challenge", "method",        "path",       "body",
                                               "totp_code", "recovery_code", "credential", NULL};

static void mfa_complete(nova_req_t *r, void *ud)
{
    user_ctx u;
    char h[44];
    if (!user_begin(r, ud, &u, false))
        return;
    json_t *body = api_json_body(r, complete_members);
    if (body == NULL)
        return;
    bool bad = false;
    const char *ch = str_member(body, "challenge", &bad),
               *totp = str_member(body, "totp_code", &bad),
               *rc = str_member(body, "recovery_code", &bad);
    const char *rl = nova_arena_printf(&r->arena, "mfa:%s:%s", u.c.tenant_id, u.c.user_id);
    json_t *cred = json_object_get(body, "credential");
    int factors = (totp != NULL) + (rc != NULL) + (cred != NULL);
    if (bad || !ch || factors != 1 || (cred && !json_is_object(cred))) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field",
                          "challenge: required; totp_code, recovery_code or credential (a passkey "
                          "assertion): exactly one");
    } else if (rl && named_request(r, body, h) && api_ratelimit_auth_allowed(r, u.api, rl)) {
        const char *tok = NULL, *why = NULL;
        nova_webauthn_rp_t rp;
        if (cred && !api_webauthn_rp(r, u.api, &rp)) {
            json_decref(body);
            return;
        }
        nova_status st = nova_people_stepup_complete(u.p, u.s, &r->arena, &u.c, ch, h, totp, rc,
                                                     cred, cred ? &rp : NULL, &tok, &why);
        if (st == NOVA_UNAUTHORIZED) {
            api_ratelimit_auth_failed(r, u.api, rl);
            nova_resp_problem(r, 401, "step_up_failed", "Unauthorized", why);
        } else if (st) {
            api_people_status(r, st, NULL);
        } else {
            api_reply_json(r, 200,
                           json_pack("{s:s, s:s, s:i, s:i, s:s}", "access_token", tok, "token_type",
                                     "Bearer", "expires_in", NOVA_STEPUP_TOKEN_TTL, "aal", 2,
                                     "bound_to", h));
        }
    }
    json_decref(body);
}

/* ---- just-in-time access and break-glass ---- */

static json_t *access_json(const nova_access_request_t *q)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:s, s:I, s:I}", "id", q->id,
                          "requester", q->requester, "role", q->role, "reason", q->reason, "ticket",
                          q->ticket, "kind", q->kind, "required_approvals",
                          (json_int_t)q->required_approvals, "approvals", api_words(q->approvals),
                          "status", q->status, "duration_seconds", (json_int_t)q->duration_s,
                          "created_at", (json_int_t)q->created_at);
    if (o && q->expires_at) {
        json_object_set_new(o, "approved_at", json_integer(q->approved_at));
        json_object_set_new(o, "expires_at", json_integer(q->expires_at));
    }
    return o;
}

static void access_status(nova_req_t *r, nova_status st, const char *why)
{
    if (st == NOVA_FORBIDDEN)
        nova_resp_problem(r, 403, "forbidden", "Forbidden", why);
    else if (st == NOVA_CONFLICT)
        nova_resp_problem(r, 409, "access_request_state", "Conflict", why);
    else if (st == NOVA_INVALID && why == NULL)
        nova_resp_status(r, NOVA_NOT_FOUND, NULL);
    else
        api_people_status(r, st, why);
}

static const char *const access_members[] = {"role",        "reason", "ticket", "duration_seconds",
                                             "break_glass", NULL};

static void access_create(nova_req_t *r, void *ud)
{
    user_ctx u;
    if (!user_begin(r, ud, &u, false))
        return;
    json_t *body = api_json_body(r, access_members);
    if (body == NULL)
        return;
    bool bad = false;
    json_t *d = json_object_get(body, "duration_seconds"),
           *bg = json_object_get(body, "break_glass");
    nova_access_spec_t spec = {.role = str_member(body, "role", &bad),
                               .reason = str_member(body, "reason", &bad),
                               .ticket = str_member(body, "ticket", &bad),
                               .duration_s = json_is_integer(d) ? json_integer_value(d) : 0,
                               .break_glass = json_is_true(bg)};
    if (bad || (bg && !json_is_boolean(bg)) || (d && !json_is_integer(d))) {
        nova_resp_problem(r, 422, "invalid_field", "Invalid field",
                          "role, reason, ticket: strings; duration_seconds: an integer; "
                          "break_glass: true or false");
    } else {
        nova_access_request_t q;
        const char *why = NULL;
        nova_status st = nova_people_access_request(u.p, u.s, &r->arena, &u.c, &spec, &q, &why);
        if (st)
            access_status(r, st, why);
        else
            api_reply_json(r, 201, access_json(&q));
    }
    json_decref(body);
}

static void access_list(nova_req_t *r, void *ud)
{
    user_ctx u;
    if (!user_begin(r, ud, &u, false))
        return;
    nova_access_request_t *q;
    size_t n;
    nova_status st = nova_people_access_list(u.p, u.s, &r->arena, &u.c, &q, &n);
    if (st) {
        access_status(r, st, NULL);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, access_json(&q[i]));
    api_reply_json(r, 200, json_pack("{s:o}", "access_requests", a));
}

static void access_approve(nova_req_t *r, void *ud)
{
    user_ctx u;
    if (!user_begin(r, ud, &u, false))
        return;
    nova_access_request_t q;
    const char *why = NULL;
    nova_status st = nova_people_access_approve(u.p, u.s, &r->arena, &u.c, r->params[0], &q, &why);
    if (st)
        access_status(r, st, why);
    else
        api_reply_json(r, 200, access_json(&q));
}

static void access_activate(nova_req_t *r, void *ud)
{
    user_ctx u;
    if (!user_begin(r, ud, &u, false))
        return;
    nova_access_request_t q;
    const char *why = NULL, *tok = NULL;
    nova_status st =
        nova_people_access_activate(u.p, u.s, &r->arena, &u.c, r->params[0], &q, &tok, &why);
    if (st)
        access_status(r, st, why);
    else
        api_reply_json(r, 200,
                       json_pack("{s:s, s:s, s:I, s:s, s:I}", "access_token", tok, "token_type",
                                 "Bearer", "expires_in",
                                 (json_int_t)(q.expires_at - nova_time_now()), "role", q.role,
                                 "expires_at", (json_int_t)q.expires_at));
}

nova_status api_login_register(nova_api_t *api, nova_http_server_t *srv)
{
    static const struct {
        const char *method, *pattern;
        nova_handler_fn fn;
        size_t max_body;
    } routes[] = {
        {"POST", "/auth/login", login, 4096},
        {"POST", "/auth/refresh", refresh, 1024},
        {"POST", "/auth/logout", logout, 0},
        {"GET", "/auth/session", session_get, 0},
        {"POST", "/auth/totp/enroll", totp_enroll, 256},
        {"POST", "/auth/totp/confirm", totp_confirm, 256},
        {"DELETE", "/auth/totp", totp_remove, 0},
        {"POST", "/auth/recovery-codes", recovery_regenerate, 0},
        {"POST", "/auth/mfa/challenge", mfa_challenge, 8192},
        {"POST", "/auth/mfa/complete", mfa_complete, 12288},
        {"POST", "/auth/access-requests", access_create, 2048},
        {"GET", "/auth/access-requests", access_list, 0},
        {"POST", "/auth/access-requests/{id}/approve", access_approve, 0},
        {"POST", "/auth/access-requests/{id}/activate", access_activate, 0},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        nova_status st = nova_http_route(srv, routes[i].method, routes[i].pattern, NULL,
                                         routes[i].max_body, routes[i].fn, api);
        if (st)
            return st;
    }
    return NOVA_OK;
}
