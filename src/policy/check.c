/*
 * check.c: Check, ListObjects and ListUsers over a model, an index and contextual tuples.
 *
 * Results are three-valued (false, true, error) and combine as OpenFGA's do: a union is true
 * as soon as one branch is, an intersection false as soon as one branch is, an exclusion false
 * when its base is false or its subtraction true; otherwise an error anywhere is the answer.
 * A tuple the current model no longer admits (type restrictions, condition) is skipped, as
 * OpenFGA filters them at read time. A relation met again on the path with the same user is a
 * cycle and counts as false; more than max_depth nested resolutions is error 2002.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/policy_decision.h"

#define DEFAULT_DEPTH 25
#define MAX_PATH 128

/* R_CYCLE is "false because the path came back to itself": false at the top, but a
 * subtraction that cycles does not make an exclusion true (OpenFGA's cycle semantics). */
typedef enum res { R_FALSE = 0, R_TRUE = 1, R_ERR = 2, R_CYCLE = 3 } res_t;

static bool valid_name(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || c == ':' || c == '#' || c == '@' || c == '*')
            return false;
    }
    return true;
}

static bool valid_id(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || c == ':' || c == '#')
            return false;
    }
    return true;
}

bool pol_parse_user(const char *s, pol_user_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!s)
        return false;
    const char *colon = strchr(s, ':');
    if (!colon)
        return false;
    out->type = (nova_str_t){s, (size_t)(colon - s)};
    const char *id = colon + 1;
    const char *hash = strchr(id, '#');
    size_t idn = hash ? (size_t)(hash - id) : strlen(id);
    out->id = (nova_str_t){id, idn};
    if (hash) {
        out->relation = (nova_str_t){hash + 1, strlen(hash + 1)};
        if (!valid_name(out->relation.base, out->relation.len))
            return false;
    }
    if (!valid_name(out->type.base, out->type.len))
        return false;
    if (idn == 1 && id[0] == '*') {
        out->wildcard = true;
        return !hash;
    }
    return valid_id(id, idn) && strlen(s) <= 512;
}

bool pol_parse_object(const char *s, pol_user_t *out)
{
    return pol_parse_user(s, out) && !out->wildcard && out->relation.len == 0;
}

/* ---- validation of tuples against the model ---- */

/* The restriction of rel admitting a user of this shape with this condition, or NULL. */
static const rel_ref_t *admits(const pol_relation_t *rel, const pol_user_t *u, const char *cond,
                               size_t condn)
{
    for (size_t i = 0; i < rel->ndirect; i++) {
        const rel_ref_t *r = &rel->direct[i];
        if (strlen(r->type) != u->type.len || memcmp(r->type, u->type.base, u->type.len) != 0)
            continue;
        if (r->wildcard != u->wildcard)
            continue;
        if (!r->relation != (u->relation.len == 0))
            continue;
        if (r->relation && (strlen(r->relation) != u->relation.len ||
                            memcmp(r->relation, u->relation.base, u->relation.len) != 0))
            continue;
        if (!r->condition != (condn == 0))
            continue;
        if (r->condition &&
            (strlen(r->condition) != condn || memcmp(r->condition, cond, condn) != 0))
            continue;
        return r;
    }
    return NULL;
}

nova_status nova_policy_tuple_validate(const nova_policy_model_t *m, const nova_policy_tuple_t *t,
                                       nova_policy_error_t *err)
{
    pol_user_t o, u;
    const char *why = NULL;
    const pol_type_t *ot = NULL;
    const pol_relation_t *rel = NULL;
    size_t condn = t->condition ? strlen(t->condition) : 0;
    if (!t->object || !pol_parse_object(t->object, &o))
        why = "invalid object";
    else if (!t->user || !pol_parse_user(t->user, &u))
        why = "invalid user";
    else if (!t->relation || !valid_name(t->relation, strlen(t->relation)))
        why = "invalid relation";
    else if (!(ot = pol_type_find(m, o.type.base, o.type.len)))
        why = "type not found";
    else if (!(rel = pol_relation_find(ot, t->relation, strlen(t->relation))))
        why = "relation not found";
    else if (!pol_type_find(m, u.type.base, u.type.len))
        why = "user type not found";
    else if (u.relation.len && !pol_relation_find(pol_type_find(m, u.type.base, u.type.len),
                                                  u.relation.base, u.relation.len))
        why = "userset relation not found";
    else if (condn && !pol_condition_find(m, t->condition))
        why = "condition not found";
    else if (!admits(rel, &u, t->condition, condn))
        why = "type restrictions of the relation do not admit this user";
    else if (t->context && !json_is_object(t->context))
        why = "condition context must be an object";
    else if (t->context && json_object_size(t->context) > 0 && !condn)
        why = "context given without a condition";
    if (why) {
        pol_error(err, NOVA_POLICY_E_INVALID_TUPLE, 0, 0, "invalid tuple '%s#%s@%s': %s",
                  t->object ? t->object : "", t->relation ? t->relation : "",
                  t->user ? t->user : "", why);
        return NOVA_INVALID;
    }
    return NOVA_OK;
}

/* ---- the query context ---- */

typedef struct path_entry {
    const char *obj;
    size_t objn;
    const pol_relation_t *rel;
} path_entry_t;

typedef struct qctx {
    const nova_policy_query_t *q;
    const nova_policy_model_t *m;
    const nova_policy_index_t *ix;
    const char *user; /* the user asked about */
    size_t usern;
    pol_user_t u;
    uint32_t user_id; /* in the index, 0 if unknown there (set with fixed_user) */
    bool fixed_user;  /* one user for the whole query: user_id is its id */
    uint32_t wild_id; /* "type:*" of the user's type in the index */
    int max_depth;
    path_entry_t path[MAX_PATH];
    int npath;
    nova_arena_t arena;
    nova_policy_error_t err; /* the first error met */
    bool have_err;
    struct memo *memo; /* ListObjects: settled (object, relation) results for its user */
    unsigned ncycles;  /* cycles met so far (a result that met none is path-independent) */
    bool want_trace;   /* record the path of the first tuple that matched */
    json_t *trace;
} qctx_t;

static res_t qerr(qctx_t *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static res_t qerr(qctx_t *c, int code, const char *fmt, ...)
{
    if (!c->have_err) {
        c->have_err = true;
        c->err.code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err.message, sizeof(c->err.message), fmt, ap);
        va_end(ap);
    }
    return R_ERR;
}

/* A tuple as check.c sees it, from the index or the contextual list. */
typedef struct view_tuple {
    const char *user;
    size_t usern;
    const char *cond; /* NULL when none */
    size_t condn;
    const json_t *context;
} view_tuple_t;

/* Evaluates the tuple's condition; R_TRUE when it has none. */
static res_t condition(qctx_t *c, const view_tuple_t *t)
{
    if (!t->cond)
        return R_TRUE;
    char name[256];
    if (t->condn >= sizeof(name))
        return R_FALSE;
    memcpy(name, t->cond, t->condn);
    name[t->condn] = '\0';
    const pol_condition_t *cd = pol_condition_find(c->m, name);
    if (!cd)
        return R_FALSE; /* filtered as invalid before we get here */
    cel_binding_t b[32];
    if (cd->nparams > 32)
        return qerr(c, NOVA_POLICY_E_VALIDATION, "condition '%s' has too many parameters", name);
    for (size_t i = 0; i < cd->nparams; i++) {
        const json_t *v = t->context ? json_object_get(t->context, cd->params[i].name) : NULL;
        if (!v && c->q->context)
            v = json_object_get(c->q->context, cd->params[i].name);
        b[i].name = cd->params[i].name;
        if (!v) {
            b[i].value = (cel_value_t){.kind = CEL_UNKNOWN};
            b[i].value.s.p = cd->params[i].name;
            b[i].value.s.n = strlen(cd->params[i].name);
            continue;
        }
        b[i].value = cel_from_json(v, cd->params[i].type, &c->arena);
        if (b[i].value.kind == CEL_ERROR)
            return qerr(c, NOVA_POLICY_E_VALIDATION,
                        "failed to evaluate relationship condition '%s': parameter '%s': %.*s",
                        name, cd->params[i].name, (int)b[i].value.s.n, b[i].value.s.p);
    }
    /* Every declared parameter is required, as in OpenFGA: `x < 1 || y < 2` with only x
     * given is an error even when x alone would decide. */
    bool missing_any = false;
    for (size_t i = 0; i < cd->nparams; i++)
        if (b[i].value.kind == CEL_UNKNOWN)
            missing_any = true;
    cel_value_t r = missing_any ? b[0].value : cel_eval(cd->program, b, cd->nparams, &c->arena);
    if (missing_any)
        r.kind = CEL_UNKNOWN;
    if (r.kind == CEL_BOOL)
        return r.b ? R_TRUE : R_FALSE;
    if (r.kind == CEL_UNKNOWN) {
        /* name every missing parameter, as OpenFGA does */
        char missing[160] = "";
        size_t off = 0;
        for (size_t i = 0; i < cd->nparams; i++)
            if (b[i].value.kind == CEL_UNKNOWN && off < sizeof(missing))
                off += (size_t)snprintf(missing + off, sizeof(missing) - off, "%s%s",
                                        off ? " " : "", cd->params[i].name);
        return qerr(c, NOVA_POLICY_E_VALIDATION,
                    "failed to evaluate relationship condition '%s': tuple '%.*s' is missing "
                    "context parameters '[%s]'",
                    name, (int)t->usern, t->user, missing);
    }
    return qerr(c, NOVA_POLICY_E_VALIDATION, "failed to evaluate relationship condition '%s': %.*s",
                name, (int)r.s.n, r.s.p);
}

static res_t check_rel(qctx_t *c, const pol_type_t *ot, const char *obj, size_t objn,
                       const pol_relation_t *rel, int depth);

static res_t combine_or(res_t acc, res_t r)
{
    if (acc == R_TRUE || r == R_TRUE)
        return R_TRUE;
    if (acc == R_ERR || r == R_ERR)
        return R_ERR;
    return acc == R_CYCLE || r == R_CYCLE ? R_CYCLE : R_FALSE;
}

/* Calls fn for every tuple of (obj, relation) admitted by rel's restrictions: the index's,
 * then the contextual ones. fn returns true to stop. */
typedef bool (*tuple_fn)(qctx_t *c, const view_tuple_t *t, const pol_user_t *tu, void *arg);
static bool direct_one(qctx_t *c, const view_tuple_t *t, const pol_user_t *tu, void *arg);

static void each_tuple(qctx_t *c, const char *obj, size_t objn, const pol_relation_t *rel,
                       tuple_fn fn, void *arg)
{
    /* Direct tuples for one fixed user: another plain user can never match, so only the
     * user's own entry, wildcards and usersets are looked at (no string parsed for the rest). */
    bool skip_plain = fn == direct_one && c->fixed_user;
    if (c->ix) {
        uint32_t oid = ix_lookup(c->ix, obj, objn);
        uint32_t rid = oid ? ix_lookup(c->ix, rel->name, strlen(rel->name)) : 0;
        const ix_set_t *s = ix_find(c->ix, oid, rid);
        for (uint32_t i = 0; s && i < s->n; i++) {
            if (skip_plain && s->e[i].user != c->user_id && ix_plain_user(c->ix, s->e[i].user))
                continue;
            view_tuple_t t = {.context = s->e[i].context};
            t.user = ix_string(c->ix, s->e[i].user, &t.usern);
            if (s->e[i].cond)
                t.cond = ix_string(c->ix, s->e[i].cond, &t.condn);
            pol_user_t tu;
            if (!pol_parse_user(t.user, &tu) || !admits(rel, &tu, t.cond, t.condn))
                continue;
            if (fn(c, &t, &tu, arg))
                return;
        }
    }
    for (size_t i = 0; i < c->q->ncontextual; i++) {
        const nova_policy_tuple_t *ct = &c->q->contextual[i];
        if (strlen(ct->object) != objn || memcmp(ct->object, obj, objn) != 0 ||
            strcmp(ct->relation, rel->name) != 0)
            continue;
        view_tuple_t t = {.user = ct->user, .usern = strlen(ct->user), .context = ct->context};
        if (ct->condition && *ct->condition) {
            t.cond = ct->condition;
            t.condn = strlen(ct->condition);
        }
        pol_user_t tu;
        if (!pol_parse_user(t.user, &tu) || !admits(rel, &tu, t.cond, t.condn))
            continue;
        if (fn(c, &t, &tu, arg))
            return;
    }
}

/* The resolution path (object#relation steps) down to the tuple t that matched, and its user.
 * Deeper steps of a userset or a parent are on the path already when their tuple matches. */
static void record_trace(qctx_t *c, const view_tuple_t *t)
{
    json_t *a = json_array();
    for (int i = 0; a && i < c->npath; i++)
        json_array_append_new(
            a, json_sprintf("%.*s#%s", (int)c->path[i].objn, c->path[i].obj, c->path[i].rel->name));
    if (a)
        json_array_append_new(a, json_stringn(t->user, t->usern));
    c->trace = a;
}

typedef struct dir_arg {
    int depth;
    res_t acc;
} dir_arg_t;

static bool direct_one(qctx_t *c, const view_tuple_t *t, const pol_user_t *tu, void *arg)
{
    dir_arg_t *d = arg;
    res_t r = R_FALSE;
    if (t->usern == c->usern && memcmp(t->user, c->user, c->usern) == 0) {
        r = condition(c, t);
    } else if (tu->wildcard) {
        if (c->u.relation.len == 0 && tu->type.len == c->u.type.len &&
            memcmp(tu->type.base, c->u.type.base, tu->type.len) == 0)
            r = condition(c, t);
    } else if (tu->relation.len) {
        const pol_type_t *st = pol_type_find(c->m, tu->type.base, tu->type.len);
        const pol_relation_t *sr =
            st ? pol_relation_find(st, tu->relation.base, tu->relation.len) : NULL;
        if (sr) {
            r = check_rel(c, st, tu->type.base, (size_t)(tu->id.base + tu->id.len - tu->type.base),
                          sr, d->depth + 1);
            if (r == R_TRUE)
                r = condition(c, t);
        }
    }
    if (r == R_TRUE && c->want_trace && !c->trace && !tu->relation.len)
        record_trace(c, t);
    d->acc = combine_or(d->acc, r);
    return d->acc == R_TRUE;
}

typedef struct ttu_arg {
    const char *computed;
    int depth;
    res_t acc;
} ttu_arg_t;

static bool ttu_one(qctx_t *c, const view_tuple_t *t, const pol_user_t *tu, void *arg)
{
    ttu_arg_t *d = arg;
    if (tu->wildcard || tu->relation.len)
        return false;
    const pol_type_t *pt = pol_type_find(c->m, tu->type.base, tu->type.len);
    const pol_relation_t *pr = pt ? pol_relation_find(pt, d->computed, strlen(d->computed)) : NULL;
    if (!pr)
        return false;
    res_t r = check_rel(c, pt, t->user, t->usern, pr, d->depth + 1);
    if (r == R_TRUE)
        r = condition(c, t);
    d->acc = combine_or(d->acc, r);
    return d->acc == R_TRUE;
}

static res_t eval_rw(qctx_t *c, const pol_type_t *ot, const char *obj, size_t objn,
                     const pol_relation_t *rel, const rw_node_t *n, int depth)
{
    switch (n->kind) {
    case RW_THIS: {
        dir_arg_t d = {.depth = depth, .acc = R_FALSE};
        each_tuple(c, obj, objn, rel, direct_one, &d);
        return d.acc;
    }
    case RW_COMPUTED: {
        const pol_relation_t *r2 = pol_relation_find(ot, n->relation, strlen(n->relation));
        return r2 ? check_rel(c, ot, obj, objn, r2, depth + 1) : R_FALSE;
    }
    case RW_TTU: {
        const pol_relation_t *ts = pol_relation_find(ot, n->tupleset, strlen(n->tupleset));
        if (!ts)
            return R_FALSE;
        ttu_arg_t d = {.computed = n->relation, .depth = depth, .acc = R_FALSE};
        each_tuple(c, obj, objn, ts, ttu_one, &d);
        return d.acc;
    }
    case RW_UNION: {
        res_t acc = R_FALSE;
        for (size_t i = 0; i < n->nchild && acc != R_TRUE; i++)
            acc = combine_or(acc, eval_rw(c, ot, obj, objn, rel, n->child[i], depth));
        return acc;
    }
    case RW_INTERSECTION: {
        bool err = false;
        for (size_t i = 0; i < n->nchild; i++) {
            res_t r = eval_rw(c, ot, obj, objn, rel, n->child[i], depth);
            if (r == R_FALSE || r == R_CYCLE)
                return r;
            if (r == R_ERR)
                err = true;
        }
        return err ? R_ERR : R_TRUE;
    }
    case RW_DIFFERENCE: {
        res_t b = eval_rw(c, ot, obj, objn, rel, n->child[0], depth);
        if (b == R_FALSE || b == R_CYCLE)
            return b;
        res_t s = eval_rw(c, ot, obj, objn, rel, n->child[1], depth);
        if (s == R_TRUE)
            return R_FALSE;
        if (s == R_CYCLE)
            return R_CYCLE;
        return b == R_ERR || s == R_ERR ? R_ERR : R_TRUE;
    }
    }
    return R_FALSE;
}

/* ListObjects asks the same user about many objects whose resolutions share most steps (the
 * units of one parent chain); a result that met no cycle and no error does not depend on the
 * path it was reached by, so it is kept for the rest of the query and reused where at least as
 * much depth is left as when it was found (so no depth error is hidden). Open addressing, keys
 * copied (the query's arena is reset per candidate). */
typedef struct memo_slot {
    char *obj;
    size_t objn;
    const pol_relation_t *rel;
    res_t r;
    int depth; /* reached at this depth: reused only with as much headroom or more */
} memo_slot_t;

typedef struct memo {
    memo_slot_t *v;
    size_t n, cap;
} memo_t;

static size_t memo_hash(const char *obj, size_t objn, const pol_relation_t *rel)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)(uintptr_t)rel;
    for (size_t i = 0; i < objn; i++)
        h = (h ^ (unsigned char)obj[i]) * 0x100000001b3ULL;
    return (size_t)(h ^ (h >> 29));
}

static memo_slot_t *memo_find(memo_t *m, const char *obj, size_t objn, const pol_relation_t *rel)
{
    size_t i = memo_hash(obj, objn, rel) & (m->cap - 1);
    while (m->v[i].obj &&
           (m->v[i].rel != rel || m->v[i].objn != objn || memcmp(m->v[i].obj, obj, objn) != 0))
        i = (i + 1) & (m->cap - 1);
    return &m->v[i];
}

static void memo_put(memo_t *m, const char *obj, size_t objn, const pol_relation_t *rel, res_t r,
                     int depth)
{
    if (2 * (m->n + 1) > m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 1024;
        memo_slot_t *v = calloc(cap, sizeof(*v)), *old = m->v;
        if (!v)
            return;
        size_t oldcap = m->cap;
        m->v = v;
        m->cap = cap;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].obj)
                *memo_find(m, old[i].obj, old[i].objn, old[i].rel) = old[i];
        free(old);
    }
    memo_slot_t *sl = memo_find(m, obj, objn, rel);
    if (sl->obj || !(sl->obj = malloc(objn ? objn : 1)))
        return;
    memcpy(sl->obj, obj, objn);
    sl->objn = objn;
    sl->rel = rel;
    sl->r = r;
    sl->depth = depth;
    m->n++;
}

static void memo_free(memo_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->v[i].obj);
    free(m->v);
}

static res_t check_rel_eval(qctx_t *c, const pol_type_t *ot, const char *obj, size_t objn,
                            const pol_relation_t *rel, int depth);

static res_t check_rel(qctx_t *c, const pol_type_t *ot, const char *obj, size_t objn,
                       const pol_relation_t *rel, int depth)
{
    if (!c->memo)
        return check_rel_eval(c, ot, obj, objn, rel, depth);
    if (c->memo->cap) {
        memo_slot_t *sl = memo_find(c->memo, obj, objn, rel);
        if (sl->obj && depth <= sl->depth)
            return sl->r;
        if (sl->obj)
            return check_rel_eval(c, ot, obj, objn, rel, depth);
    }
    unsigned cycles = c->ncycles;
    bool had_err = c->have_err;
    res_t r = check_rel_eval(c, ot, obj, objn, rel, depth);
    if ((r == R_TRUE || r == R_FALSE) && c->ncycles == cycles && c->have_err == had_err)
        memo_put(c->memo, obj, objn, rel, r, depth);
    return r;
}

static res_t check_rel_eval(qctx_t *c, const pol_type_t *ot, const char *obj, size_t objn,
                            const pol_relation_t *rel, int depth)
{
    /* a userset is itself: document:1#viewer is a viewer of document:1 */
    if (c->u.relation.len && strcmp(rel->name, "") != 0 && c->u.relation.len == strlen(rel->name) &&
        memcmp(c->u.relation.base, rel->name, c->u.relation.len) == 0 &&
        (size_t)(c->u.id.base + c->u.id.len - c->u.type.base) == objn &&
        memcmp(c->u.type.base, obj, objn) == 0)
        return R_TRUE;
    if (depth > c->max_depth)
        return qerr(c, NOVA_POLICY_E_RESOLUTION_DEPTH,
                    "resolution depth exceeded (more than %d nested resolutions)", c->max_depth);
    for (int i = 0; i < c->npath; i++)
        if (c->path[i].rel == rel && c->path[i].objn == objn &&
            memcmp(c->path[i].obj, obj, objn) == 0) {
            c->ncycles++;
            return R_CYCLE;
        }
    if (c->npath == MAX_PATH)
        return qerr(c, NOVA_POLICY_E_RESOLUTION_DEPTH, "resolution depth exceeded");
    c->path[c->npath++] = (path_entry_t){obj, objn, rel};
    res_t r = eval_rw(c, ot, obj, objn, rel, rel->rw, depth);
    c->npath--;
    return r;
}

/* ---- request validation ---- */

static void ctx_init(qctx_t *c, const nova_policy_query_t *q)
{
    memset(c, 0, sizeof(*c));
    c->q = q;
    c->m = q->model;
    c->ix = q->index;
    c->max_depth = q->max_depth > 0 ? q->max_depth : DEFAULT_DEPTH;
    if (c->max_depth > MAX_PATH - 1)
        c->max_depth = MAX_PATH - 1;
    nova_arena_init(&c->arena, 4096);
}

static nova_status ctx_fail(qctx_t *c, nova_policy_error_t *err)
{
    if (err)
        *err = c->err;
    nova_arena_free(&c->arena);
    return NOVA_INVALID;
}

static nova_status verr(nova_policy_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static nova_status verr(nova_policy_error_t *err, int code, const char *fmt, ...)
{
    if (err) {
        memset(err, 0, sizeof(*err));
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return NOVA_INVALID;
}

static nova_status validate_contextual(const nova_policy_query_t *q, nova_policy_error_t *err)
{
    if (q->context && !json_is_object(q->context))
        return verr(err, NOVA_POLICY_E_VALIDATION, "context must be an object");
    for (size_t i = 0; i < q->ncontextual; i++)
        if (nova_policy_tuple_validate(q->model, &q->contextual[i], err) != NOVA_OK)
            return NOVA_INVALID;
    return NOVA_OK;
}

/* Parses and checks the user against the model: code is the error to report. */
static nova_status validate_user(qctx_t *c, const char *user, int code, nova_policy_error_t *err)
{
    if (!user || !pol_parse_user(user, &c->u))
        return verr(err, code, "invalid user '%s'", user ? user : "");
    const pol_type_t *ut = pol_type_find(c->m, c->u.type.base, c->u.type.len);
    if (!ut)
        return verr(err, code, "type '%.*s' of user '%s' is not in the model", (int)c->u.type.len,
                    c->u.type.base, user);
    if (c->u.relation.len && !pol_relation_find(ut, c->u.relation.base, c->u.relation.len))
        return verr(err, code, "relation '%.*s' of user '%s' is not in the model",
                    (int)c->u.relation.len, c->u.relation.base, user);
    c->user = user;
    c->usern = strlen(user);
    return NOVA_OK;
}

static nova_status check(const nova_policy_query_t *q, const char *object, const char *relation,
                         const char *user, bool *allowed, json_t **trace, nova_policy_error_t *err);

nova_status nova_policy_check(const nova_policy_query_t *q, const char *object,
                              const char *relation, const char *user, bool *allowed,
                              nova_policy_error_t *err)
{
    return check(q, object, relation, user, allowed, NULL, err);
}

nova_status nova_policy_check_explain(const nova_policy_query_t *q, const char *object,
                                      const char *relation, const char *user, bool *allowed,
                                      json_t **path, nova_policy_error_t *err)
{
    *path = NULL;
    nova_status st = check(q, object, relation, user, allowed, path, err);
    if (st == NOVA_OK && (!*allowed || *path == NULL)) {
        json_decref(*path);
        *path = json_array();
    }
    if (st == NOVA_OK && *path == NULL)
        st = NOVA_NOMEM;
    if (st != NOVA_OK) {
        json_decref(*path);
        *path = NULL;
    }
    return st;
}

static nova_status check(const nova_policy_query_t *q, const char *object, const char *relation,
                         const char *user, bool *allowed, json_t **trace, nova_policy_error_t *err)
{
    *allowed = false;
    if (err)
        memset(err, 0, sizeof(*err));
    pol_user_t o;
    if (!object || !pol_parse_object(object, &o))
        return verr(err, NOVA_POLICY_E_VALIDATION, "invalid object '%s'", object ? object : "");
    const pol_type_t *ot = pol_type_find(q->model, o.type.base, o.type.len);
    if (!ot)
        return verr(err, NOVA_POLICY_E_VALIDATION, "type '%.*s' is not in the model",
                    (int)o.type.len, o.type.base);
    const pol_relation_t *rel = relation ? pol_relation_find(ot, relation, strlen(relation)) : NULL;
    if (!rel)
        return verr(err, NOVA_POLICY_E_VALIDATION, "relation '%s' is not defined on type '%s'",
                    relation ? relation : "", ot->name);
    qctx_t c;
    ctx_init(&c, q);
    if (validate_user(&c, user, NOVA_POLICY_E_VALIDATION, err) != NOVA_OK ||
        validate_contextual(q, err) != NOVA_OK) {
        nova_arena_free(&c.arena);
        return NOVA_INVALID;
    }
    c.want_trace = trace != NULL;
    c.fixed_user = true;
    c.user_id = c.ix ? ix_lookup(c.ix, user, strlen(user)) : 0;
    res_t r = check_rel(&c, ot, object, strlen(object), rel, 0);
    if (trace)
        *trace = c.trace;
    else
        json_decref(c.trace);
    if (r == R_ERR)
        return ctx_fail(&c, err);
    nova_arena_free(&c.arena);
    *allowed = r == R_TRUE;
    return NOVA_OK;
}

/* ---- ListObjects ---- */

typedef struct strset {
    char **v;
    size_t n, cap;
} strset_t;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool strset_add(strset_t *s, const char *p, size_t n)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return false;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n] = strndup(p, n);
    if (!s->v[s->n])
        return false;
    s->n++;
    return true;
}

static void strset_free(strset_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

/* Sorts and removes duplicates. */
static void strset_unique(strset_t *s)
{
    if (!s->n)
        return;
    qsort(s->v, s->n, sizeof(char *), cmp_str);
    size_t k = 1;
    for (size_t i = 1; i < s->n; i++) {
        if (strcmp(s->v[i], s->v[k - 1]) == 0)
            free(s->v[i]);
        else
            s->v[k++] = s->v[i];
    }
    s->n = k;
}

/* ---- ListObjects by reverse expansion ----
 *
 * Instead of checking every object of the asked type, walk backwards from the user: the
 * reverse index gives the (object, relation) sets holding the user (and, for a plain user,
 * its type's wildcard `type:*`); each such pair reached is a place the user may be a member
 * of, and the model's rewrites, inverted, say which pairs that membership feeds: a computed
 * userset `define r2: r` feeds (object, r2); `r from ts` feeds every object holding this one
 * through ts; a userset `type#r` as a tuple's user feeds every set holding `object#r`.
 * Intersections count as any child and exclusions as their base, and every condition as
 * possibly true, so the pairs reached over-approximate the answer; each candidate of the
 * asked (type, relation) is then confirmed by check_rel, which keeps conditions, contextual
 * tuples, intersection and exclusion exact. Only pairs from which the asked relation can be
 * reached in the model's graph are expanded (the relevance table). Contextual tuples are few
 * and scanned at each step. */

/* Models with more (type, relation) pairs than this are listed by the scan instead (the
 * relevance and edge tables are per query). Every schema 1.1 rewrite shape is handled. */
#define RX_MAX_PAIRS 4096

/* An inverted rewrite edge: membership in (from) may give membership in (to): a computed
 * userset (ts NULL, same object) or a tuple-to-userset over the tupleset ts of `to`'s type. */
typedef struct rx_edge {
    uint32_t from; /* pair number */
    const pol_type_t *tt;
    const pol_relation_t *tr, *ts;
} rx_edge_t;

typedef struct rx_node {
    const char *obj;
    size_t objn;
    const pol_type_t *t;
    const pol_relation_t *rel;
} rx_node_t;

typedef struct rx {
    qctx_t *c;
    const nova_policy_model_t *m;
    uint32_t *roff; /* per type: the pair number of its first relation */
    uint32_t npairs;
    uint8_t *relevant;   /* per pair: the asked pair is reachable from it */
    uint8_t *as_userset; /* per pair: some relation admits `type#relation` users */
    rx_edge_t *edges;
    size_t nedges, edges_cap;
    rx_node_t *nodes;
    size_t nnodes, nodes_cap;
    uint32_t *slots; /* node index + 1, open addressing */
    size_t slot_cap;
    bool nomem;
} rx_t;

static uint32_t rx_pair(const rx_t *x, const pol_type_t *t, const pol_relation_t *r)
{
    return x->roff[t - x->m->types] + (uint32_t)(r - t->rels);
}

static void rx_mark(rx_t *x, const pol_type_t *t, const pol_relation_t *r);

static void rx_mark_rw(rx_t *x, const pol_type_t *t, const pol_relation_t *r, const rw_node_t *n)
{
    switch (n->kind) {
    case RW_THIS:
        for (size_t i = 0; i < r->ndirect; i++) {
            const rel_ref_t *d = &r->direct[i];
            const pol_type_t *t2 =
                d->relation ? pol_type_find(x->m, d->type, strlen(d->type)) : NULL;
            const pol_relation_t *r2 =
                t2 ? pol_relation_find(t2, d->relation, strlen(d->relation)) : NULL;
            if (r2)
                rx_mark(x, t2, r2);
        }
        break;
    case RW_COMPUTED: {
        const pol_relation_t *r2 = pol_relation_find(t, n->relation, strlen(n->relation));
        if (r2)
            rx_mark(x, t, r2);
        break;
    }
    case RW_TTU: {
        const pol_relation_t *ts = pol_relation_find(t, n->tupleset, strlen(n->tupleset));
        for (size_t i = 0; ts && i < ts->ndirect; i++) {
            const rel_ref_t *d = &ts->direct[i];
            const pol_type_t *t2 =
                d->relation || d->wildcard ? NULL : pol_type_find(x->m, d->type, strlen(d->type));
            const pol_relation_t *r2 =
                t2 ? pol_relation_find(t2, n->relation, strlen(n->relation)) : NULL;
            if (r2)
                rx_mark(x, t2, r2);
        }
        break;
    }
    case RW_DIFFERENCE: /* the subtraction never grants */
        rx_mark_rw(x, t, r, n->child[0]);
        break;
    default:
        for (size_t i = 0; i < n->nchild; i++)
            rx_mark_rw(x, t, r, n->child[i]);
    }
}

/* Marks (t, r) and everything its rewrite depends on: the pairs the asked one is reachable
 * from when walking backwards. */
static void rx_mark(rx_t *x, const pol_type_t *t, const pol_relation_t *r)
{
    uint32_t p = rx_pair(x, t, r);
    if (x->relevant[p])
        return;
    x->relevant[p] = 1;
    rx_mark_rw(x, t, r, r->rw);
}

static void rx_edge(rx_t *x, uint32_t from, const pol_type_t *tt, const pol_relation_t *tr,
                    const pol_relation_t *ts)
{
    if (x->nedges == x->edges_cap) {
        size_t cap = x->edges_cap ? 2 * x->edges_cap : 32;
        rx_edge_t *e = realloc(x->edges, cap * sizeof(*e));
        if (!e) {
            x->nomem = true;
            return;
        }
        x->edges = e;
        x->edges_cap = cap;
    }
    x->edges[x->nedges++] = (rx_edge_t){from, tt, tr, ts};
}

/* The inverted edges into (t, r) from its rewrite's positive parts. */
static void rx_edges_rw(rx_t *x, const pol_type_t *t, const pol_relation_t *r, const rw_node_t *n)
{
    switch (n->kind) {
    case RW_THIS:
        break;
    case RW_COMPUTED: {
        const pol_relation_t *r2 = pol_relation_find(t, n->relation, strlen(n->relation));
        if (r2)
            rx_edge(x, rx_pair(x, t, r2), t, r, NULL);
        break;
    }
    case RW_TTU: {
        const pol_relation_t *ts = pol_relation_find(t, n->tupleset, strlen(n->tupleset));
        for (size_t i = 0; ts && i < ts->ndirect; i++) {
            const rel_ref_t *d = &ts->direct[i];
            const pol_type_t *t2 =
                d->relation || d->wildcard ? NULL : pol_type_find(x->m, d->type, strlen(d->type));
            const pol_relation_t *r2 =
                t2 ? pol_relation_find(t2, n->relation, strlen(n->relation)) : NULL;
            if (r2)
                rx_edge(x, rx_pair(x, t2, r2), t, r, ts);
        }
        break;
    }
    case RW_DIFFERENCE:
        rx_edges_rw(x, t, r, n->child[0]);
        break;
    default:
        for (size_t i = 0; i < n->nchild; i++)
            rx_edges_rw(x, t, r, n->child[i]);
    }
}

static size_t rx_hash(const char *obj, size_t objn, const pol_relation_t *rel)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)(uintptr_t)rel;
    for (size_t i = 0; i < objn; i++)
        h = (h ^ (unsigned char)obj[i]) * 0x100000001b3ULL;
    return (size_t)(h ^ (h >> 29));
}

static bool rx_grow(rx_t *x)
{
    size_t cap = x->slot_cap ? 2 * x->slot_cap : 256;
    uint32_t *s = calloc(cap, sizeof(*s));
    if (!s)
        return false;
    for (size_t i = 0; i < x->nnodes; i++) {
        const rx_node_t *nd = &x->nodes[i];
        size_t j = rx_hash(nd->obj, nd->objn, nd->rel) & (cap - 1);
        while (s[j])
            j = (j + 1) & (cap - 1);
        s[j] = (uint32_t)i + 1;
    }
    free(x->slots);
    x->slots = s;
    x->slot_cap = cap;
    return true;
}

/* Adds the pair (obj, rel) to the walk once, if the asked pair is reachable from it. obj must
 * outlive the query (an index string, a contextual tuple's, or the user's). */
static void rx_add(rx_t *x, const char *obj, size_t objn, const pol_type_t *t,
                   const pol_relation_t *rel)
{
    if (x->nomem || !x->relevant[rx_pair(x, t, rel)])
        return;
    if (2 * (x->nnodes + 1) > x->slot_cap && !rx_grow(x)) {
        x->nomem = true;
        return;
    }
    size_t j = rx_hash(obj, objn, rel) & (x->slot_cap - 1);
    for (; x->slots[j]; j = (j + 1) & (x->slot_cap - 1)) {
        const rx_node_t *nd = &x->nodes[x->slots[j] - 1];
        if (nd->rel == rel && nd->objn == objn && memcmp(nd->obj, obj, objn) == 0)
            return;
    }
    if (x->nnodes == x->nodes_cap) {
        size_t cap = x->nodes_cap ? 2 * x->nodes_cap : 64;
        rx_node_t *v = realloc(x->nodes, cap * sizeof(*v));
        if (!v) {
            x->nomem = true;
            return;
        }
        x->nodes = v;
        x->nodes_cap = cap;
    }
    x->nodes[x->nnodes] = (rx_node_t){obj, objn, t, rel};
    x->slots[j] = (uint32_t)++x->nnodes;
}

/* A tuple (obj, relation, user) was found holding the walk's current user: adds the pair, or
 * with a tuple-to-userset edge, the edge's target pair when relation is its tupleset and the
 * object its type. */
static void rx_tuple(rx_t *x, const char *obj, size_t objn, const char *relation, size_t reln,
                     const rx_edge_t *e)
{
    const char *colon = memchr(obj, ':', objn);
    if (!colon)
        return;
    const pol_type_t *t = pol_type_find(x->m, obj, (size_t)(colon - obj));
    if (!t)
        return;
    if (e) {
        if (t == e->tt && strlen(e->ts->name) == reln && memcmp(e->ts->name, relation, reln) == 0)
            rx_add(x, obj, objn, t, e->tr);
        return;
    }
    const pol_relation_t *r = pol_relation_find(t, relation, reln);
    if (r)
        rx_add(x, obj, objn, t, r);
}

/* Every tuple, indexed or contextual, whose user is exactly u. */
static void rx_from_user(rx_t *x, const char *u, size_t un, const rx_edge_t *e)
{
    const nova_policy_index_t *ix = x->c->ix;
    uint32_t uid = ix ? ix_lookup(ix, u, un) : 0, n = 0;
    const uint32_t *sets = uid ? ix_user_sets(ix, uid, &n) : NULL;
    for (uint32_t i = 0; i < n; i++) {
        const ix_set_t *s = ix_set_at(ix, sets[i]);
        size_t on, rn;
        const char *o = ix_string(ix, s->object, &on);
        const char *r = ix_string(ix, s->relation, &rn);
        rx_tuple(x, o, on, r, rn, e);
    }
    const nova_policy_query_t *q = x->c->q;
    for (size_t i = 0; i < q->ncontextual; i++) {
        const nova_policy_tuple_t *ct = &q->contextual[i];
        if (strlen(ct->user) == un && memcmp(ct->user, u, un) == 0)
            rx_tuple(x, ct->object, strlen(ct->object), ct->relation, strlen(ct->relation), e);
    }
}

/* Walks from the query's user; the pairs of (ot, rel) reached go into cand. Returns
 * NOVA_UNAVAILABLE when the model is too large for the walk's tables (the caller scans). */
static nova_status rx_candidates(qctx_t *c, const pol_type_t *ot, const pol_relation_t *rel,
                                 const char *user, strset_t *cand)
{
    const nova_policy_model_t *m = c->m;
    rx_t x = {.c = c, .m = m};
    nova_status st = NOVA_OK;
    x.roff = calloc(m->ntypes + 1, sizeof(*x.roff));
    if (!x.roff)
        return NOVA_NOMEM;
    for (size_t i = 0; i < m->ntypes; i++)
        x.roff[i + 1] = x.roff[i] + (uint32_t)m->types[i].nrels;
    x.npairs = x.roff[m->ntypes];
    if (x.npairs > RX_MAX_PAIRS) {
        free(x.roff);
        return NOVA_UNAVAILABLE;
    }
    x.relevant = calloc(2 * (size_t)x.npairs + 1, 1);
    if (!x.relevant) {
        free(x.roff);
        return NOVA_NOMEM;
    }
    x.as_userset = x.relevant + x.npairs;
    rx_mark(&x, ot, rel);
    for (size_t i = 0; i < m->ntypes; i++)
        for (size_t j = 0; j < m->types[i].nrels; j++) {
            const pol_type_t *t = &m->types[i];
            const pol_relation_t *r = &t->rels[j];
            if (!x.relevant[rx_pair(&x, t, r)])
                continue;
            rx_edges_rw(&x, t, r, r->rw);
            for (size_t k = 0; k < r->ndirect; k++) {
                const rel_ref_t *d = &r->direct[k];
                const pol_type_t *t2 =
                    d->relation ? pol_type_find(m, d->type, strlen(d->type)) : NULL;
                const pol_relation_t *r2 =
                    t2 ? pol_relation_find(t2, d->relation, strlen(d->relation)) : NULL;
                if (r2)
                    x.as_userset[rx_pair(&x, t2, r2)] = 1;
            }
        }
    /* the start: tuples naming the user, its type's wildcard, and a userset user itself */
    size_t un = strlen(user);
    rx_from_user(&x, user, un, NULL);
    if (!c->u.wildcard && !c->u.relation.len) {
        char *w = nova_arena_alloc(&c->arena, c->u.type.len + 3);
        if (!w) {
            x.nomem = true;
        } else {
            memcpy(w, c->u.type.base, c->u.type.len);
            memcpy(w + c->u.type.len, ":*", 3);
            rx_from_user(&x, w, c->u.type.len + 2, NULL);
        }
    }
    if (c->u.relation.len) {
        const pol_type_t *ut = pol_type_find(m, c->u.type.base, c->u.type.len);
        const pol_relation_t *ur =
            ut ? pol_relation_find(ut, c->u.relation.base, c->u.relation.len) : NULL;
        if (ur)
            rx_add(&x, user, (size_t)(c->u.id.base + c->u.id.len - user), ut, ur);
    }
    char buf[1100];
    for (size_t i = 0; i < x.nnodes && !x.nomem; i++) {
        rx_node_t nd = x.nodes[i]; /* copied: rx_add may move the array */
        uint32_t p = rx_pair(&x, nd.t, nd.rel);
        if (nd.t == ot && nd.rel == rel && !strset_add(cand, nd.obj, nd.objn))
            x.nomem = true;
        if (x.as_userset[p]) {
            int bn = snprintf(buf, sizeof(buf), "%.*s#%s", (int)nd.objn, nd.obj, nd.rel->name);
            if (bn > 0 && (size_t)bn < sizeof(buf))
                rx_from_user(&x, buf, (size_t)bn, NULL);
        }
        for (size_t k = 0; k < x.nedges; k++) {
            const rx_edge_t *e = &x.edges[k];
            if (e->from != p)
                continue;
            if (!e->ts) {
                rx_add(&x, nd.obj, nd.objn, nd.t, e->tr);
            } else {
                rx_from_user(&x, nd.obj, nd.objn, e);
            }
        }
    }
    if (x.nomem)
        st = NOVA_NOMEM;
    free(x.nodes);
    free(x.slots);
    free(x.edges);
    free(x.relevant);
    free(x.roff);
    return st;
}

static void add_candidate(void *arg, const char *obj)
{
    strset_add(arg, obj, strlen(obj));
}

/* The scan: every known object of the type (and of the contextual tuples) is a candidate. */
static void scan_candidates(qctx_t *c, const char *type, const char *user, strset_t *cand)
{
    const nova_policy_query_t *q = c->q;
    size_t tn = strlen(type);
    if (q->index)
        ix_objects_of_type(q->index, type, tn, add_candidate, cand);
    for (size_t i = 0; i < q->ncontextual; i++) {
        const nova_policy_tuple_t *ct = &q->contextual[i];
        pol_user_t cu;
        if (strncmp(ct->object, type, tn) == 0 && ct->object[tn] == ':')
            strset_add(cand, ct->object, strlen(ct->object));
        if (pol_parse_user(ct->user, &cu) && !cu.wildcard && cu.type.len == tn &&
            memcmp(cu.type.base, type, tn) == 0)
            strset_add(cand, ct->user, (size_t)(cu.id.base + cu.id.len - ct->user));
    }
    /* the user's own object, for usersets of the listed type (document:1#viewer) */
    if (c->u.relation.len && c->u.type.len == tn && memcmp(c->u.type.base, type, tn) == 0)
        strset_add(cand, user, (size_t)(c->u.id.base + c->u.id.len - user));
}

static nova_status list_objects(const nova_policy_query_t *q, const char *type,
                                const char *relation, const char *user, bool by_scan, json_t **out,
                                nova_policy_error_t *err);

nova_status nova_policy_list_objects(const nova_policy_query_t *q, const char *type,
                                     const char *relation, const char *user, json_t **out,
                                     nova_policy_error_t *err)
{
    return list_objects(q, type, relation, user, false, out, err);
}

nova_status pol_list_objects_scan(const nova_policy_query_t *q, const char *type,
                                  const char *relation, const char *user, json_t **out,
                                  nova_policy_error_t *err)
{
    return list_objects(q, type, relation, user, true, out, err);
}

static nova_status list_objects(const nova_policy_query_t *q, const char *type,
                                const char *relation, const char *user, bool by_scan, json_t **out,
                                nova_policy_error_t *err)
{
    *out = NULL;
    if (err)
        memset(err, 0, sizeof(*err));
    const pol_type_t *ot = type ? pol_type_find(q->model, type, strlen(type)) : NULL;
    if (!ot)
        return verr(err, NOVA_POLICY_E_TYPE_NOT_FOUND, "type '%s' is not in the model",
                    type ? type : "");
    const pol_relation_t *rel = relation ? pol_relation_find(ot, relation, strlen(relation)) : NULL;
    if (!rel)
        return verr(err, NOVA_POLICY_E_RELATION_NOT_FOUND,
                    "relation '%s' is not defined on type '%s'", relation ? relation : "", type);
    qctx_t c;
    ctx_init(&c, q);
    if (validate_user(&c, user, NOVA_POLICY_E_VALIDATION, err) != NOVA_OK ||
        validate_contextual(q, err) != NOVA_OK) {
        nova_arena_free(&c.arena);
        return NOVA_INVALID;
    }
    c.fixed_user = true;
    c.user_id = c.ix ? ix_lookup(c.ix, user, strlen(user)) : 0;
    strset_t cand = {0};
    nova_status rs = by_scan ? NOVA_UNAVAILABLE : rx_candidates(&c, ot, rel, user, &cand);
    if (rs == NOVA_NOMEM) {
        strset_free(&cand);
        nova_arena_free(&c.arena);
        return rs;
    }
    if (rs == NOVA_UNAVAILABLE)
        scan_candidates(&c, type, user, &cand);
    strset_unique(&cand);
    memo_t memo = {0};
    c.memo = &memo;
    json_t *arr = json_array();
    nova_status st = arr ? NOVA_OK : NOVA_NOMEM;
    for (size_t i = 0; i < cand.n && st == NOVA_OK; i++) {
        c.npath = 0;
        res_t r = check_rel(&c, ot, cand.v[i], strlen(cand.v[i]), rel, 0);
        nova_arena_reset(&c.arena);
        if (r == R_ERR) {
            st = NOVA_INVALID;
        } else if (r == R_TRUE && json_array_append_new(arr, json_string(cand.v[i])) != 0) {
            st = NOVA_NOMEM;
        }
    }
    strset_free(&cand);
    memo_free(&memo);
    c.memo = NULL;
    if (st != NOVA_OK) {
        json_decref(arr);
        if (st == NOVA_INVALID)
            return ctx_fail(&c, err);
        nova_arena_free(&c.arena);
        return st;
    }
    nova_arena_free(&c.arena);
    *out = arr;
    return NOVA_OK;
}

/* ---- ListUsers ---- */

typedef struct filter {
    nova_str_t type, relation;
} filter_t;

typedef struct lu {
    qctx_t *c;
    const filter_t *f;
    size_t nf;
    strset_t cand;
    strset_t seen; /* obj#rel visited */
    bool failed;   /* a condition failed to evaluate, or the depth was exceeded */
} lu_t;

static bool filter_match(const lu_t *l, const char *type, size_t tn, const char *rel, size_t rn)
{
    for (size_t i = 0; i < l->nf; i++)
        if (l->f[i].type.len == tn && memcmp(l->f[i].type.base, type, tn) == 0 &&
            l->f[i].relation.len == rn && (rn == 0 || memcmp(l->f[i].relation.base, rel, rn) == 0))
            return true;
    return false;
}

static void collect(lu_t *l, const pol_type_t *ot, const char *obj, size_t objn,
                    const pol_relation_t *rel, int depth);

typedef struct col_arg {
    lu_t *l;
    int depth;
    const char *computed; /* ttu */
} col_arg_t;

static bool collect_direct(qctx_t *c, const view_tuple_t *t, const pol_user_t *tu, void *arg)
{
    (void)c;
    col_arg_t *a = arg;
    lu_t *l = a->l;
    /* OpenFGA's ListUsers evaluates every condition it meets: an error anywhere fails */
    res_t cr = condition(c, t);
    if (cr == R_ERR)
        l->failed = true;
    if (cr != R_TRUE)
        return l->failed;
    if (filter_match(l, tu->type.base, tu->type.len, tu->relation.base, tu->relation.len))
        strset_add(&l->cand, t->user, t->usern);
    if (tu->relation.len) {
        const pol_type_t *st = pol_type_find(c->m, tu->type.base, tu->type.len);
        const pol_relation_t *sr =
            st ? pol_relation_find(st, tu->relation.base, tu->relation.len) : NULL;
        if (sr)
            collect(l, st, t->user, (size_t)(tu->id.base + tu->id.len - t->user), sr, a->depth + 1);
    }
    return false;
}

static bool collect_ttu(qctx_t *c, const view_tuple_t *t, const pol_user_t *tu, void *arg)
{
    col_arg_t *a = arg;
    if (tu->wildcard || tu->relation.len)
        return false;
    res_t cr = condition(c, t);
    if (cr == R_ERR)
        a->l->failed = true;
    if (cr != R_TRUE)
        return a->l->failed;
    const pol_type_t *pt = pol_type_find(c->m, tu->type.base, tu->type.len);
    const pol_relation_t *pr = pt ? pol_relation_find(pt, a->computed, strlen(a->computed)) : NULL;
    if (pr)
        collect(a->l, pt, t->user, t->usern, pr, a->depth + 1);
    return false;
}

static void collect_rw(lu_t *l, const pol_type_t *ot, const char *obj, size_t objn,
                       const pol_relation_t *rel, const rw_node_t *n, int depth)
{
    switch (n->kind) {
    case RW_THIS: {
        col_arg_t a = {.l = l, .depth = depth};
        each_tuple(l->c, obj, objn, rel, collect_direct, &a);
        break;
    }
    case RW_COMPUTED: {
        const pol_relation_t *r2 = pol_relation_find(ot, n->relation, strlen(n->relation));
        if (r2)
            collect(l, ot, obj, objn, r2, depth + 1);
        break;
    }
    case RW_TTU: {
        const pol_relation_t *ts = pol_relation_find(ot, n->tupleset, strlen(n->tupleset));
        col_arg_t a = {.l = l, .depth = depth, .computed = n->relation};
        if (ts)
            each_tuple(l->c, obj, objn, ts, collect_ttu, &a);
        break;
    }
    case RW_DIFFERENCE: /* only the base can grant */
        collect_rw(l, ot, obj, objn, rel, n->child[0], depth);
        break;
    default:
        for (size_t i = 0; i < n->nchild; i++)
            collect_rw(l, ot, obj, objn, rel, n->child[i], depth);
    }
}

static void collect(lu_t *l, const pol_type_t *ot, const char *obj, size_t objn,
                    const pol_relation_t *rel, int depth)
{
    if (l->failed)
        return;
    if (depth > l->c->max_depth) {
        qerr(l->c, NOVA_POLICY_E_RESOLUTION_DEPTH,
             "resolution depth exceeded (more than %d nested resolutions)", l->c->max_depth);
        l->failed = true;
        return;
    }
    char key[1024];
    int kn = snprintf(key, sizeof(key), "%.*s#%s", (int)objn, obj, rel->name);
    if (kn < 0 || (size_t)kn >= sizeof(key))
        return;
    for (size_t i = 0; i < l->seen.n; i++)
        if (strcmp(l->seen.v[i], key) == 0)
            return;
    strset_add(&l->seen, key, (size_t)kn);
    if (filter_match(l, ot->name, ot->name_len, rel->name, strlen(rel->name)))
        strset_add(&l->cand, key, (size_t)kn);
    collect_rw(l, ot, obj, objn, rel, rel->rw, depth);
}

nova_status nova_policy_list_users(const nova_policy_query_t *q, const char *object,
                                   const char *relation, const char *const *filters,
                                   size_t nfilters, json_t **out, nova_policy_error_t *err)
{
    *out = NULL;
    if (err)
        memset(err, 0, sizeof(*err));
    pol_user_t o;
    if (!object || !pol_parse_object(object, &o))
        return verr(err, NOVA_POLICY_E_VALIDATION, "invalid object '%s'", object ? object : "");
    const pol_type_t *ot = pol_type_find(q->model, o.type.base, o.type.len);
    if (!ot)
        return verr(err, NOVA_POLICY_E_TYPE_NOT_FOUND, "type '%.*s' is not in the model",
                    (int)o.type.len, o.type.base);
    const pol_relation_t *rel = relation ? pol_relation_find(ot, relation, strlen(relation)) : NULL;
    if (!rel)
        return verr(err, NOVA_POLICY_E_RELATION_NOT_FOUND,
                    "relation '%s' is not defined on type '%s'", relation ? relation : "",
                    ot->name);
    if (nfilters == 0 || nfilters > 32)
        return verr(err, NOVA_POLICY_E_VALIDATION, "between 1 and 32 user filters are required");
    filter_t f[32];
    for (size_t i = 0; i < nfilters; i++) {
        const char *s = filters[i];
        const char *h = s ? strchr(s, '#') : NULL;
        size_t tn = s ? (h ? (size_t)(h - s) : strlen(s)) : 0;
        f[i].type = (nova_str_t){s, tn};
        f[i].relation = h ? (nova_str_t){h + 1, strlen(h + 1)} : (nova_str_t){"", 0};
        if (!s || !valid_name(s, tn) || (h && !valid_name(h + 1, strlen(h + 1))))
            return verr(err, NOVA_POLICY_E_VALIDATION, "invalid user filter '%s'", s ? s : "");
        const pol_type_t *ft = pol_type_find(q->model, s, tn);
        if (!ft)
            return verr(err, NOVA_POLICY_E_TYPE_NOT_FOUND, "type '%.*s' is not in the model",
                        (int)tn, s);
        if (h && !pol_relation_find(ft, h + 1, strlen(h + 1)))
            return verr(err, NOVA_POLICY_E_RELATION_NOT_FOUND,
                        "relation '%s' is not defined on type '%.*s'", h + 1, (int)tn, s);
    }
    qctx_t c;
    ctx_init(&c, q);
    if (validate_contextual(q, err) != NOVA_OK) {
        nova_arena_free(&c.arena);
        return NOVA_INVALID;
    }
    /* collecting needs no user: give the context a harmless one */
    c.user = "";
    c.usern = 0;
    lu_t l = {.c = &c, .f = f, .nf = nfilters};
    collect(&l, ot, object, strlen(object), rel, 0);
    strset_free(&l.seen);
    strset_unique(&l.cand);
    json_t *arr = json_array();
    nova_status st = !arr ? NOVA_NOMEM : l.failed ? NOVA_INVALID : NOVA_OK;
    for (size_t i = 0; i < l.cand.n && st == NOVA_OK; i++) {
        memset(&c.u, 0, sizeof(c.u));
        pol_parse_user(l.cand.v[i], &c.u);
        c.user = l.cand.v[i];
        c.usern = strlen(c.user);
        c.npath = 0;
        res_t r = check_rel(&c, ot, object, strlen(object), rel, 0);
        nova_arena_reset(&c.arena);
        if (r == R_ERR)
            st = NOVA_INVALID;
        else if (r == R_TRUE && json_array_append_new(arr, json_string(l.cand.v[i])) != 0)
            st = NOVA_NOMEM;
    }
    strset_free(&l.cand);
    if (st != NOVA_OK) {
        json_decref(arr);
        if (st == NOVA_INVALID)
            return ctx_fail(&c, err);
        nova_arena_free(&c.arena);
        return st;
    }
    nova_arena_free(&c.arena);
    *out = arr;
    return NOVA_OK;
}
