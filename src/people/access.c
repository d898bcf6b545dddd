/* access.c: just-in-time access and break-glass (issue 11 item 9; seed 003 §1, §12.3, §14).
 * A user asks for a role for a time box, with a reason and a ticket reference. Approvers are
 * other users holding the role access-approver (in their record, or granted just in time):
 * one approval for just-in-time access, two distinct ones for break-glass. Once approved, the
 * requester activates it and gets a credential: a user access token of the same session with
 * the claims jit (the request) and roles [role], expiring at the request's end by itself.
 * Every action taken with it is audited with the actor "<user>#<request>", which links it to
 * the request. Break-glass entries are also written as their own log stream
 * ("stream":"breakglass", level warn) for the SIEM, apart from the tenant's chain. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/audit_store.h"
#include "nova/log.h"

#define APPROVER_ROLE "access-approver"
#define JIT_MAX_S 28800
#define BREAKGLASS_MAX_S 3600

static bool word_in(const char *list, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = list; p && *p;) {
        size_t l = strcspn(p, " ");
        if (l == n && strncmp(p, w, n) == 0)
            return true;
        p += l;
        while (*p == ' ')
            p++;
    }
    return false;
}

nova_status people_has_role(nova_store_t *s, nova_arena_t *ar, const nova_user_claims_t *c,
                            const char *role, bool *out)
{
    *out = c->jit_role && strcmp(c->jit_role, role) == 0;
    if (*out)
        return NOVA_OK;
    nova_user_t u;
    nova_status st = nova_store_user_get(s, ar, c->tenant_id, c->user_id, &u);
    if (st)
        return st;
    *out = strcmp(u.status, "active") == 0 && word_in(u.roles, role);
    return NOVA_OK;
}

/* Writes one break-glass event to its own log stream (ids only). */
static void breakglass_log(const char *action, const nova_access_request_t *q, const char *actor)
{
    char *f = NULL;
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "stream", "breakglass", "action", action,
                  "tenant", q->tenant_id, "request", q->id, "actor", actor, "role", q->role);
    if (o)
        f = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (f && strlen(f) > 2) {
        f[strlen(f) - 1] = '\0'; /* the member list without braces */
        nova_log_json(NOVA_LOG_WARN, "break-glass", f + 1);
    }
    free(f);
}

static const char *kind_action(const nova_access_request_t *q, const char *verb, nova_arena_t *ar)
{
    return nova_arena_printf(ar, "%s.%s",
                             strcmp(q->kind, "break_glass") == 0 ? "breakglass" : "access", verb);
}

static bool text_ok(const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > max || !nova_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

nova_status nova_people_access_request(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                       const nova_user_claims_t *c, const nova_access_spec_t *spec,
                                       nova_access_request_t *out, const char **why)
{
    (void)p;
    int64_t max = spec->break_glass ? BREAKGLASS_MAX_S : JIT_MAX_S;
    *why = NULL;
    if (!text_ok(spec->role, 1, 64) ||
        strspn(spec->role, "abcdefghijklmnopqrstuvwxyz0123456789_:.-") != strlen(spec->role))
        *why = "role: a role name of [a-z0-9_:.-], at most 64 characters";
    else if (!text_ok(spec->reason, 10, 500))
        *why = "reason: 10 to 500 characters saying why";
    else if (!text_ok(spec->ticket, 1, 64) || strchr(spec->ticket, ' '))
        *why = "ticket: the ticket reference, 1 to 64 characters without spaces";
    else if (spec->duration_s < 5 || spec->duration_s > max)
        *why = spec->break_glass ? "duration_seconds: 5 to 3600 for break-glass"
                                 : "duration_seconds: 5 to 28800";
    if (*why)
        return NOVA_INVALID;
    char id[64];
    nova_status st = nova_id_new("acr", id, sizeof(id));
    if (st)
        return st;
    *out = (nova_access_request_t){.id = nova_arena_strdup(ar, id),
                                   .tenant_id = c->tenant_id,
                                   .requester = c->user_id,
                                   .role = spec->role,
                                   .reason = spec->reason,
                                   .ticket = spec->ticket,
                                   .kind = spec->break_glass ? "break_glass" : "jit",
                                   .required_approvals = spec->break_glass ? 2 : 1,
                                   .approvals = "",
                                   .status = "pending",
                                   .duration_s = spec->duration_s,
                                   .created_at = nova_time_now()};
    nova_audit_entry_t ae;
    nova_audit_actor_t by = {.id = c->user_id};
    /* The reason is the requester's free text: kept on the request, not in the audit attrs. */
    st = nova_audit_entry_make(&ae, ar, &by, c->tenant_id, kind_action(out, "request", ar),
                               "access_request", out->id,
                               json_pack("{s:s, s:s, s:I}", "role", spec->role, "ticket",
                                         spec->ticket, "duration_s", (json_int_t)spec->duration_s));
    if (st == NOVA_OK)
        st = nova_store_access_create(s, out, &ae);
    if (st == NOVA_OK && spec->break_glass)
        breakglass_log("request", out, c->user_id);
    return st;
}

nova_status nova_people_access_approve(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                       const nova_user_claims_t *c, const char *id,
                                       nova_access_request_t *out, const char **why)
{
    (void)p;
    bool approver = false;
    nova_status st = people_has_role(s, ar, c, APPROVER_ROLE, &approver);
    if (st)
        return st;
    if (!approver) {
        *why = "only a user holding access-approver approves access requests";
        return NOVA_FORBIDDEN;
    }
    if ((st = nova_store_access_get(s, ar, c->tenant_id, id, out)) != NOVA_OK)
        return st;
    if (strcmp(out->requester, c->user_id) == 0) {
        *why = "a request is approved by someone other than its requester";
        return NOVA_FORBIDDEN;
    }
    if (strcmp(out->status, "pending") != 0) {
        *why = "this request is approved already";
        return NOVA_CONFLICT;
    }
    if (word_in(out->approvals, c->user_id)) {
        *why = "this approver approved it already: break-glass needs a second, different one";
        return NOVA_CONFLICT;
    }
    const char *seen = out->approvals;
    char *approvals = nova_arena_printf(ar, "%s%s%s", seen, *seen ? " " : "", c->user_id);
    if (approvals == NULL)
        return NOVA_NOMEM;
    int64_t n = 1;
    for (const char *q = approvals; *q; q++)
        n += *q == ' ';
    int64_t now = nova_time_now();
    bool done = n >= out->required_approvals;
    nova_audit_entry_t ae;
    nova_audit_actor_t by = {.id = c->jit ? nova_arena_printf(ar, "%s#%s", c->user_id, c->jit)
                                          : c->user_id};
    st = nova_audit_entry_make(&ae, ar, &by, c->tenant_id, kind_action(out, "approve", ar),
                               "access_request", out->id,
                               json_pack("{s:I, s:I, s:b}", "approvals", (json_int_t)n, "required",
                                         (json_int_t)out->required_approvals, "approved", done));
    if (st == NOVA_OK)
        st = nova_store_access_approve(s, c->tenant_id, id, seen, approvals,
                                       done ? "approved" : "pending", done ? now : 0,
                                       done ? now + out->duration_s : 0, &ae);
    if (st == NOVA_CONFLICT)
        *why = "another approval was recorded meanwhile: read the request again";
    if (st)
        return st;
    out->approvals = approvals;
    if (done) {
        out->status = "approved";
        out->approved_at = now;
        out->expires_at = now + out->duration_s;
    }
    if (strcmp(out->kind, "break_glass") == 0)
        breakglass_log(done ? "approved" : "approve", out, by.id);
    return NOVA_OK;
}

nova_status nova_people_access_activate(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                        const nova_user_claims_t *c, const char *id,
                                        nova_access_request_t *out, const char **token,
                                        const char **why)
{
    nova_status st = nova_store_access_get(s, ar, c->tenant_id, id, out);
    if (st)
        return st;
    int64_t now = nova_time_now();
    if (strcmp(out->requester, c->user_id) != 0) {
        *why = "only the requester activates a request";
        return NOVA_FORBIDDEN;
    }
    if (strcmp(out->status, "approved") != 0) {
        *why = strcmp(out->kind, "break_glass") == 0
                   ? "not approved: break-glass needs two approvals"
                   : "not approved yet";
        return NOVA_CONFLICT;
    }
    if (out->expires_at <= now) {
        *why = "this access has expired";
        return NOVA_CONFLICT;
    }
    nova_user_session_t ses = {
        .id = c->session_id, .tenant_id = c->tenant_id, .user_id = c->user_id};
    st = people_mint_jit(p, s, ar, &ses, c->aal, c->amr, NULL, out->expires_at - now, out->id,
                         out->role, token);
    if (st)
        return st;
    nova_audit_entry_t ae;
    nova_audit_actor_t by = {.id = c->user_id};
    st = nova_audit_entry_make(
        &ae, ar, &by, c->tenant_id, kind_action(out, "activate", ar), "access_request", out->id,
        json_pack("{s:s, s:I}", "role", out->role, "expires_at", (json_int_t)out->expires_at));
    if (st == NOVA_OK)
        st = nova_store_audit_append(s, ar, &ae, NULL);
    if (st == NOVA_OK && strcmp(out->kind, "break_glass") == 0)
        breakglass_log("activate", out, c->user_id);
    return st;
}

nova_status nova_people_access_list(nova_people_t *p, nova_store_t *s, nova_arena_t *ar,
                                    const nova_user_claims_t *c, nova_access_request_t **out,
                                    size_t *n)
{
    (void)p;
    bool approver = false;
    nova_status st = people_has_role(s, ar, c, APPROVER_ROLE, &approver);
    if (st)
        return st;
    return nova_store_access_list(s, ar, c->tenant_id, approver ? NULL : c->user_id, out, n);
}
