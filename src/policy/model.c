/*
 * model.c: authorization models. The OpenFGA modeling language (schema 1.1) and the JSON
 * form of the API both build the same structure in the model's arena; one validator checks
 * references, duplicates and conditions for both; one writer emits the JSON form.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void pol_error(nova_policy_error_t *err, int code, int line, int column, const char *fmt, ...)
{
    if (!err)
        return;
    err->code = code;
    err->line = line;
    err->column = column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

const char *nova_policy_error_name(int code)
{
    static const struct {
        int code;
        const char *name;
    } names[] = {
        {NOVA_POLICY_E_VALIDATION, "validation_error"},
        {NOVA_POLICY_E_AUTHZ_MODEL_NOT_FOUND, "authorization_model_not_found"},
        {NOVA_POLICY_E_RESOLUTION_DEPTH, "authorization_model_resolution_too_complex"},
        {NOVA_POLICY_E_INVALID_WRITE, "invalid_write_input"},
        {NOVA_POLICY_E_TUPLE_EXISTS, "cannot_allow_duplicate_tuples_in_one_request"},
        {NOVA_POLICY_E_INVALID_MODEL, "invalid_authorization_model"},
        {NOVA_POLICY_E_TYPE_NOT_FOUND, "type_not_found"},
        {NOVA_POLICY_E_RELATION_NOT_FOUND, "relation_not_found"},
        {NOVA_POLICY_E_INVALID_TUPLE, "invalid_tuple"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].code == code)
            return names[i].name;
    return "internal_error";
}

const pol_type_t *pol_type_find(const nova_policy_model_t *m, const char *name, size_t n)
{
    for (size_t i = 0; i < m->ntypes; i++)
        if (m->types[i].name_len == n && memcmp(m->types[i].name, name, n) == 0)
            return &m->types[i];
    return NULL;
}

const pol_relation_t *pol_relation_find(const pol_type_t *t, const char *name, size_t n)
{
    for (size_t i = 0; i < t->nrels; i++)
        if (strlen(t->rels[i].name) == n && memcmp(t->rels[i].name, name, n) == 0)
            return &t->rels[i];
    return NULL;
}

const pol_condition_t *pol_condition_find(const nova_policy_model_t *m, const char *name)
{
    for (size_t i = 0; i < m->nconds; i++)
        if (strcmp(m->conds[i].name, name) == 0)
            return &m->conds[i];
    return NULL;
}

void nova_policy_model_free(nova_policy_model_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nconds; i++)
        nova_cel_free(m->conds[i].program);
    nova_arena_free(&m->arena);
    free(m);
}

static nova_policy_model_t *model_new(void)
{
    nova_policy_model_t *m = calloc(1, sizeof(*m));
    if (m)
        nova_arena_init(&m->arena, 8192);
    return m;
}

/* A growable array on the heap while building; moved into the arena at the end. */
typedef struct vec {
    void *v;
    size_t n, cap, size;
} vec_t;

static void *vec_push(vec_t *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        void *p = realloc(v->v, cap * v->size);
        if (!p)
            return NULL;
        v->v = p;
        v->cap = cap;
    }
    void *slot = (char *)v->v + v->n * v->size;
    memset(slot, 0, v->size);
    v->n++;
    return slot;
}

static void *vec_to_arena(vec_t *v, nova_arena_t *a)
{
    void *p = NULL;
    if (v->n) {
        p = nova_arena_alloc(a, v->n * v->size);
        if (p)
            memcpy(p, v->v, v->n * v->size);
    }
    free(v->v);
    v->v = NULL;
    return p;
}

/* ---- validation (both forms) ---- */

struct ident_check {
    const pol_condition_t *c;
    const char *bad;
};

static void ident_cb(void *arg, const char *name)
{
    struct ident_check *ic = arg;
    if (ic->bad)
        return;
    for (size_t i = 0; i < ic->c->nparams; i++)
        if (strcmp(ic->c->params[i].name, name) == 0)
            return;
    ic->bad = name;
}

static nova_status check_rewrite(const nova_policy_model_t *m, const pol_type_t *t,
                                 const pol_relation_t *r, const rw_node_t *n, int depth,
                                 nova_policy_error_t *err)
{
    if (depth > 32) {
        pol_error(err, NOVA_POLICY_E_INVALID_MODEL, n->line, n->column,
                  "relation '%s' of type '%s' is nested too deeply", r->name, t->name);
        return NOVA_INVALID;
    }
    switch (n->kind) {
    case RW_THIS:
        if (r->ndirect == 0) {
            pol_error(err, NOVA_POLICY_E_INVALID_MODEL, n->line, n->column,
                      "relation '%s' of type '%s' is directly assignable but names no type",
                      r->name, t->name);
            return NOVA_INVALID;
        }
        return NOVA_OK;
    case RW_COMPUTED:
        if (!pol_relation_find(t, n->relation, strlen(n->relation))) {
            pol_error(err, NOVA_POLICY_E_INVALID_MODEL, n->line, n->column,
                      "relation '%s' of type '%s' is not defined (used by '%s')", n->relation,
                      t->name, r->name);
            return NOVA_INVALID;
        }
        if (strcmp(n->relation, r->name) == 0 && depth == 0) {
            pol_error(err, NOVA_POLICY_E_INVALID_MODEL, n->line, n->column,
                      "relation '%s' of type '%s' is defined as itself", r->name, t->name);
            return NOVA_INVALID;
        }
        return NOVA_OK;
    case RW_TTU: {
        const pol_relation_t *ts = pol_relation_find(t, n->tupleset, strlen(n->tupleset));
        if (!ts) {
            pol_error(err, NOVA_POLICY_E_INVALID_MODEL, n->line, n->column,
                      "relation '%s' of type '%s' is not defined (used by '%s' ... from)",
                      n->tupleset, t->name, r->name);
            return NOVA_INVALID;
        }
        if (ts->rw->kind != RW_THIS) {
            pol_error(err, NOVA_POLICY_E_INVALID_MODEL, n->line, n->column,
                      "'%s' after 'from' in '%s' of type '%s' must be directly assignable only",
                      n->tupleset, r->name, t->name);
            return NOVA_INVALID;
        }
        bool found = false;
        for (size_t i = 0; i < ts->ndirect; i++) {
            if (ts->direct[i].relation || ts->direct[i].wildcard) {
                pol_error(err, NOVA_POLICY_E_INVALID_MODEL, ts->direct[i].line,
                          ts->direct[i].column,
                          "'%s' of type '%s' is used after 'from', so it may only name types "
                          "(no usersets or wildcards)",
                          ts->name, t->name);
                return NOVA_INVALID;
            }
            const pol_type_t *pt = pol_type_find(m, ts->direct[i].type, strlen(ts->direct[i].type));
            if (pt && pol_relation_find(pt, n->relation, strlen(n->relation)))
                found = true;
        }
        if (!found) {
            pol_error(err, NOVA_POLICY_E_INVALID_MODEL, n->line, n->column,
                      "no type related by '%s' defines relation '%s' (used by '%s' of type '%s')",
                      n->tupleset, n->relation, r->name, t->name);
            return NOVA_INVALID;
        }
        return NOVA_OK;
    }
    default:
        for (size_t i = 0; i < n->nchild; i++)
            if (check_rewrite(m, t, r, n->child[i], depth + 1, err) != NOVA_OK)
                return NOVA_INVALID;
        return NOVA_OK;
    }
}

static bool rewrite_has_this(const rw_node_t *n)
{
    if (n->kind == RW_THIS)
        return true;
    for (size_t i = 0; i < n->nchild; i++)
        if (rewrite_has_this(n->child[i]))
            return true;
    return false;
}

nova_status pol_model_validate(nova_policy_model_t *m, nova_policy_error_t *err)
{
    if (!m->schema_version || strcmp(m->schema_version, "1.1") != 0) {
        pol_error(err, NOVA_POLICY_E_INVALID_MODEL, 1, 1,
                  "schema version '%s' is not supported (only 1.1)",
                  m->schema_version ? m->schema_version : "");
        return NOVA_INVALID;
    }
    if (m->ntypes == 0) {
        pol_error(err, NOVA_POLICY_E_INVALID_MODEL, 1, 1, "a model defines at least one type");
        return NOVA_INVALID;
    }
    for (size_t i = 0; i < m->nconds; i++) {
        pol_condition_t *c = &m->conds[i];
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->conds[j].name, c->name) == 0) {
                pol_error(err, NOVA_POLICY_E_INVALID_MODEL, c->line, c->column,
                          "condition '%s' is defined twice", c->name);
                return NOVA_INVALID;
            }
        for (size_t p = 0; p < c->nparams; p++)
            for (size_t q = 0; q < p; q++)
                if (strcmp(c->params[p].name, c->params[q].name) == 0) {
                    pol_error(err, NOVA_POLICY_E_INVALID_MODEL, c->line, c->column,
                              "condition '%s' declares parameter '%s' twice", c->name,
                              c->params[p].name);
                    return NOVA_INVALID;
                }
        if (!c->program) {
            nova_policy_error_t cerr = {0};
            if (nova_cel_compile(c->expression, strlen(c->expression), &c->program, &cerr) !=
                NOVA_OK) {
                pol_error(err, NOVA_POLICY_E_INVALID_MODEL, c->line + cerr.line - 1,
                          cerr.line == 1 ? c->column + cerr.column - 1 : cerr.column,
                          "condition '%s': %s", c->name, cerr.message);
                return NOVA_INVALID;
            }
        }
        struct ident_check ic = {.c = c};
        cel_idents(c->program, ident_cb, &ic);
        if (ic.bad) {
            pol_error(err, NOVA_POLICY_E_INVALID_MODEL, c->line, c->column,
                      "condition '%s': undeclared reference to '%s'", c->name, ic.bad);
            return NOVA_INVALID;
        }
    }
    for (size_t i = 0; i < m->ntypes; i++) {
        const pol_type_t *t = &m->types[i];
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->types[j].name, t->name) == 0) {
                pol_error(err, NOVA_POLICY_E_INVALID_MODEL, t->line, t->column,
                          "type '%s' is defined twice", t->name);
                return NOVA_INVALID;
            }
        for (size_t k = 0; k < t->nrels; k++) {
            const pol_relation_t *r = &t->rels[k];
            for (size_t j = 0; j < k; j++)
                if (strcmp(t->rels[j].name, r->name) == 0) {
                    pol_error(err, NOVA_POLICY_E_INVALID_MODEL, r->line, r->column,
                              "relation '%s' of type '%s' is defined twice", r->name, t->name);
                    return NOVA_INVALID;
                }
            for (size_t d = 0; d < r->ndirect; d++) {
                const rel_ref_t *ref = &r->direct[d];
                const pol_type_t *rt = pol_type_find(m, ref->type, strlen(ref->type));
                if (!rt) {
                    pol_error(err, NOVA_POLICY_E_INVALID_MODEL, ref->line, ref->column,
                              "type '%s' is not defined (in relation '%s' of type '%s')", ref->type,
                              r->name, t->name);
                    return NOVA_INVALID;
                }
                if (ref->relation && !pol_relation_find(rt, ref->relation, strlen(ref->relation))) {
                    pol_error(err, NOVA_POLICY_E_INVALID_MODEL, ref->line, ref->column,
                              "relation '%s' of type '%s' is not defined (in relation '%s' of "
                              "type '%s')",
                              ref->relation, ref->type, r->name, t->name);
                    return NOVA_INVALID;
                }
                if (ref->condition && !pol_condition_find(m, ref->condition)) {
                    pol_error(err, NOVA_POLICY_E_INVALID_MODEL, ref->line, ref->column,
                              "condition '%s' is not defined (in relation '%s' of type '%s')",
                              ref->condition, r->name, t->name);
                    return NOVA_INVALID;
                }
                for (size_t e = 0; e < d; e++) {
                    const rel_ref_t *o = &r->direct[e];
                    if (strcmp(o->type, ref->type) == 0 && o->wildcard == ref->wildcard &&
                        !o->relation == !ref->relation &&
                        (!o->relation || strcmp(o->relation, ref->relation) == 0) &&
                        !o->condition == !ref->condition &&
                        (!o->condition || strcmp(o->condition, ref->condition) == 0)) {
                        pol_error(err, NOVA_POLICY_E_INVALID_MODEL, ref->line, ref->column,
                                  "type restriction is listed twice in relation '%s' of type '%s'",
                                  r->name, t->name);
                        return NOVA_INVALID;
                    }
                }
            }
            if (r->ndirect && !rewrite_has_this(r->rw)) {
                pol_error(err, NOVA_POLICY_E_INVALID_MODEL, r->line, r->column,
                          "relation '%s' of type '%s' lists types but is not directly assignable",
                          r->name, t->name);
                return NOVA_INVALID;
            }
            if (check_rewrite(m, t, r, r->rw, 0, err) != NOVA_OK)
                return NOVA_INVALID;
        }
    }
    return NOVA_OK;
}

/* ---- the modeling language ---- */

typedef enum dtok {
    D_EOF,
    D_NL,
    D_IDENT,
    D_PUNCT,
} dtok_kind;

typedef struct dparser {
    const char *s, *end, *cur, *line_start;
    int line;
    dtok_kind kind;
    const char *tp;
    size_t tn;
    int tline, tcol;
    int nest; /* inside ( or [: newlines are spaces */
    nova_policy_model_t *m;
    nova_policy_error_t *err;
    bool failed;
} dparser_t;

static void dfail(dparser_t *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void dfail(dparser_t *p, int line, int col, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pol_error(p->err, NOVA_POLICY_E_INVALID_MODEL, line, col, "%s", msg);
}

static bool ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.' || c == '/';
}

static void dnext(dparser_t *p)
{
    for (;;) {
        while (p->cur < p->end && (*p->cur == ' ' || *p->cur == '\t' || *p->cur == '\r'))
            p->cur++;
        /* a comment: '#' at the start of a line's text or after white space */
        if (p->cur < p->end && *p->cur == '#' &&
            (p->cur == p->s || p->cur[-1] == ' ' || p->cur[-1] == '\t' || p->cur[-1] == '\n')) {
            while (p->cur < p->end && *p->cur != '\n')
                p->cur++;
        }
        if (p->cur < p->end && *p->cur == '\n' && p->nest > 0) {
            p->cur++;
            p->line++;
            p->line_start = p->cur;
            continue;
        }
        break;
    }
    p->tp = p->cur;
    p->tline = p->line;
    p->tcol = (int)(p->cur - p->line_start) + 1;
    if (p->cur >= p->end) {
        p->kind = D_EOF;
        p->tn = 0;
        return;
    }
    char c = *p->cur;
    if (c == '\n') {
        p->kind = D_NL;
        p->tn = 1;
        p->cur++;
        p->line++;
        p->line_start = p->cur;
        return;
    }
    if (ident_char(c)) {
        while (p->cur < p->end && ident_char(*p->cur))
            p->cur++;
        p->kind = D_IDENT;
        p->tn = (size_t)(p->cur - p->tp);
        return;
    }
    if (strchr("[](),:#*{}<>", c)) {
        p->kind = D_PUNCT;
        p->tn = 1;
        p->cur++;
        return;
    }
    dfail(p, p->tline, p->tcol, "unexpected character '%c'", isprint((unsigned char)c) ? c : '?');
    p->kind = D_EOF;
}

static bool dis(dparser_t *p, const char *w)
{
    size_t n = strlen(w);
    return (p->kind == D_IDENT || p->kind == D_PUNCT) && p->tn == n && memcmp(p->tp, w, n) == 0;
}

static bool dexpect(dparser_t *p, const char *w)
{
    if (!dis(p, w)) {
        if (p->kind == D_EOF)
            dfail(p, p->tline, p->tcol, "expected '%s', found the end of the model", w);
        else if (p->kind == D_NL)
            dfail(p, p->tline, p->tcol, "expected '%s', found the end of the line", w);
        else
            dfail(p, p->tline, p->tcol, "expected '%s', found '%.*s'", w, (int)p->tn, p->tp);
        return false;
    }
    dnext(p);
    return true;
}

static const char *dident(dparser_t *p, const char *what)
{
    if (p->kind != D_IDENT) {
        dfail(p, p->tline, p->tcol, "expected %s", what);
        return NULL;
    }
    static const char *const reserved[] = {"or",        "and",       "but",    "not",
                                           "from",      "with",      "define", "type",
                                           "relations", "condition", "model",  "schema"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (dis(p, reserved[i]) && strcmp(what, "a condition parameter") != 0) {
            dfail(p, p->tline, p->tcol, "expected %s, found the keyword '%s'", what, reserved[i]);
            return NULL;
        }
    if (p->tn > 254) { /* the JSON form's limit too */
        dfail(p, p->tline, p->tcol, "%s is longer than 254 characters", what);
        return NULL;
    }
    char *s = nova_arena_strndup(&p->m->arena, p->tp, p->tn);
    if (!s)
        dfail(p, p->tline, p->tcol, "out of memory");
    dnext(p);
    return s;
}

static void skip_nl(dparser_t *p)
{
    while (p->kind == D_NL)
        dnext(p);
}

static rw_node_t *rw_new(dparser_t *p, rw_kind k)
{
    rw_node_t *n = nova_arena_alloc(&p->m->arena, sizeof(*n));
    if (!n) {
        dfail(p, p->tline, p->tcol, "out of memory");
        return NULL;
    }
    memset(n, 0, sizeof(*n));
    n->kind = k;
    n->line = p->tline;
    n->column = p->tcol;
    return n;
}

typedef struct relctx {
    vec_t direct; /* rel_ref_t */
    bool have_direct;
} relctx_t;

static rw_node_t *dexpr(dparser_t *p, relctx_t *rc, int depth);

static rw_node_t *dterm(dparser_t *p, relctx_t *rc, int depth)
{
    if (p->failed)
        return NULL;
    if (dis(p, "[")) {
        if (rc->have_direct) {
            dfail(p, p->tline, p->tcol, "a relation may list its directly related types once");
            return NULL;
        }
        rc->have_direct = true;
        rw_node_t *n = rw_new(p, RW_THIS);
        p->nest++;
        dnext(p);
        for (;;) {
            rel_ref_t *ref = vec_push(&rc->direct);
            if (!ref) {
                dfail(p, p->tline, p->tcol, "out of memory");
                return NULL;
            }
            ref->line = p->tline;
            ref->column = p->tcol;
            ref->type = dident(p, "a type name");
            if (p->failed)
                return NULL;
            if (dis(p, ":")) {
                dnext(p);
                if (!dexpect(p, "*"))
                    return NULL;
                ref->wildcard = true;
            } else if (dis(p, "#")) {
                dnext(p);
                ref->relation = dident(p, "a relation name after '#'");
                if (p->failed)
                    return NULL;
            }
            if (dis(p, "with")) {
                dnext(p);
                ref->condition = dident(p, "a condition name after 'with'");
                if (p->failed)
                    return NULL;
            }
            if (dis(p, ",")) {
                dnext(p);
                continue;
            }
            break;
        }
        p->nest--;
        if (!dexpect(p, "]"))
            return NULL;
        return n;
    }
    if (dis(p, "(")) {
        p->nest++;
        dnext(p);
        rw_node_t *n = dexpr(p, rc, depth + 1);
        p->nest--;
        if (!p->failed && !dexpect(p, ")"))
            return NULL;
        return n;
    }
    rw_node_t *n = rw_new(p, RW_COMPUTED);
    if (!n)
        return NULL;
    n->relation = dident(p, "a relation name, '[' or '('");
    if (p->failed)
        return NULL;
    if (dis(p, "from")) {
        dnext(p);
        n->kind = RW_TTU;
        n->tupleset = dident(p, "a relation name after 'from'");
    }
    return n;
}

static rw_node_t *dexpr(dparser_t *p, relctx_t *rc, int depth)
{
    if (depth > 32) {
        dfail(p, p->tline, p->tcol, "relation definition nested too deeply");
        return NULL;
    }
    int line = p->tline, col = p->tcol;
    rw_node_t *first = dterm(p, rc, depth);
    if (p->failed)
        return NULL;
    rw_node_t *base = first;
    if (dis(p, "or") || dis(p, "and")) {
        bool is_or = dis(p, "or");
        const char *op = is_or ? "or" : "and";
        vec_t kids = {.size = sizeof(rw_node_t *)};
        rw_node_t **slot = vec_push(&kids);
        if (!slot) {
            dfail(p, line, col, "out of memory");
            return NULL;
        }
        *slot = first;
        while (!p->failed && (dis(p, "or") || dis(p, "and"))) {
            if (!dis(p, op)) {
                dfail(p, p->tline, p->tcol, "'or' and 'and' cannot be mixed without parentheses");
                break;
            }
            dnext(p);
            rw_node_t *t = dterm(p, rc, depth);
            slot = vec_push(&kids);
            if (!slot) {
                dfail(p, line, col, "out of memory");
                break;
            }
            *slot = t;
        }
        if (p->failed) {
            free(kids.v);
            return NULL;
        }
        base = rw_new(p, is_or ? RW_UNION : RW_INTERSECTION);
        if (!base) {
            free(kids.v);
            return NULL;
        }
        base->line = line;
        base->column = col;
        base->nchild = kids.n;
        base->child = vec_to_arena(&kids, &p->m->arena);
    }
    if (dis(p, "but")) {
        int bl = p->tline, bc = p->tcol;
        dnext(p);
        if (!dexpect(p, "not"))
            return NULL;
        rw_node_t *sub = dterm(p, rc, depth);
        if (p->failed)
            return NULL;
        rw_node_t *d = rw_new(p, RW_DIFFERENCE);
        if (!d)
            return NULL;
        d->line = bl;
        d->column = bc;
        d->child = nova_arena_alloc(&p->m->arena, 2 * sizeof(rw_node_t *));
        if (!d->child) {
            dfail(p, bl, bc, "out of memory");
            return NULL;
        }
        d->child[0] = base;
        d->child[1] = sub;
        d->nchild = 2;
        if (dis(p, "or") || dis(p, "and") || dis(p, "but"))
            dfail(p, p->tline, p->tcol, "use parentheses to combine 'but not' with more operators");
        return d;
    }
    return base;
}

static void dcondition(dparser_t *p, vec_t *conds)
{
    int line = p->tline, col = p->tcol;
    dnext(p); /* 'condition' */
    pol_condition_t *c = vec_push(conds);
    if (!c) {
        dfail(p, line, col, "out of memory");
        return;
    }
    c->line = line;
    c->column = col;
    c->name = dident(p, "a condition name");
    if (p->failed)
        return;
    p->nest++;
    if (!dexpect(p, "("))
        return;
    vec_t params = {.size = sizeof(pol_param_t)};
    if (!dis(p, ")")) {
        for (;;) {
            pol_param_t *pp = vec_push(&params);
            if (!pp) {
                dfail(p, p->tline, p->tcol, "out of memory");
                break;
            }
            pp->name = dident(p, "a condition parameter");
            if (p->failed || !dexpect(p, ":"))
                break;
            /* the type: an identifier with optional <...> */
            const char *ts = p->tp;
            int tl = p->tline, tc = p->tcol;
            if (p->kind != D_IDENT) {
                dfail(p, tl, tc, "expected a parameter type");
                break;
            }
            dnext(p);
            int angle = 0;
            while (!p->failed &&
                   (dis(p, "<") || dis(p, ">") || (angle > 0 && p->kind == D_IDENT))) {
                angle += dis(p, "<") ? 1 : dis(p, ">") ? -1 : 0;
                dnext(p);
                if (angle == 0)
                    break;
            }
            size_t tn = (size_t)(p->tp - ts);
            while (tn && isspace((unsigned char)ts[tn - 1]))
                tn--;
            if (p->failed || !cel_type_parse(ts, tn, &p->m->arena, &pp->type)) {
                dfail(p, tl, tc, "unknown parameter type '%.*s'", (int)tn, ts);
                break;
            }
            if (!dis(p, ","))
                break;
            dnext(p);
        }
    }
    c->nparams = params.n;
    c->params = vec_to_arena(&params, &p->m->arena);
    p->nest--;
    if (p->failed || !dexpect(p, ")"))
        return;
    while (p->kind == D_NL)
        dnext(p);
    if (!dis(p, "{")) {
        dfail(p, p->tline, p->tcol, "expected '{' to open the condition's expression");
        return;
    }
    /* The body is CEL, taken raw up to the matching brace (strings skipped). */
    const char *b = p->cur;
    int bline = p->line, bcol = (int)(p->cur - p->line_start) + 1;
    int depth = 1;
    const char *q = b;
    while (q < p->end && depth > 0) {
        char ch = *q;
        if (ch == '"' || ch == '\'') {
            q++;
            while (q < p->end && *q != ch && *q != '\n') {
                if (*q == '\\' && q + 1 < p->end)
                    q++;
                q++;
            }
        } else if (ch == '{') {
            depth++;
        } else if (ch == '}') {
            depth--;
            if (depth == 0)
                break;
        } else if (ch == '\n') {
            p->line++;
            p->line_start = q + 1;
        }
        if (q < p->end)
            q++;
    }
    if (depth != 0) {
        dfail(p, line, col, "condition '%s' has no closing '}'", c->name);
        return;
    }
    /* skip leading blank lines so error positions count from the first expression line */
    const char *e = b;
    while (e < q && (*e == ' ' || *e == '\t' || *e == '\r' || *e == '\n')) {
        if (*e == '\n') {
            bline++;
            bcol = 1;
        } else {
            bcol++;
        }
        e++;
    }
    c->expression = nova_arena_strndup(&p->m->arena, e, (size_t)(q - e));
    if (!c->expression) {
        dfail(p, line, col, "out of memory");
        return;
    }
    /* trim trailing white space */
    char *x = (char *)c->expression + strlen(c->expression);
    while (x > c->expression && isspace((unsigned char)x[-1]))
        *--x = '\0';
    nova_policy_error_t cerr = {0};
    if (nova_cel_compile(c->expression, strlen(c->expression), &c->program, &cerr) != NOVA_OK) {
        dfail(p, bline + cerr.line - 1, cerr.line == 1 ? bcol + cerr.column - 1 : cerr.column,
              "condition '%s': %s", c->name, cerr.message);
        return;
    }
    p->cur = q + 1;
    dnext(p);
}

nova_status nova_policy_model_parse(const char *text, size_t len, nova_policy_model_t **out,
                                    nova_policy_error_t *err)
{
    *out = NULL;
    if (err)
        memset(err, 0, sizeof(*err));
    nova_policy_model_t *m = model_new();
    if (!m)
        return NOVA_NOMEM;
    dparser_t p = {.s = text,
                   .end = text + len,
                   .cur = text,
                   .line_start = text,
                   .line = 1,
                   .m = m,
                   .err = err};
    vec_t types = {.size = sizeof(pol_type_t)};
    vec_t conds = {.size = sizeof(pol_condition_t)};
    if (memchr(text, '\0', len)) {
        dfail(&p, 1, 1, "the model contains a NUL byte");
        goto done;
    }
    dnext(&p);
    skip_nl(&p);
    if (!dexpect(&p, "model"))
        goto done;
    skip_nl(&p);
    if (!dexpect(&p, "schema"))
        goto done;
    if (p.kind != D_IDENT) {
        dfail(&p, p.tline, p.tcol, "expected a schema version");
        goto done;
    }
    m->schema_version = nova_arena_strndup(&m->arena, p.tp, p.tn);
    if (strcmp(m->schema_version, "1.1") != 0) {
        dfail(&p, p.tline, p.tcol, "schema version '%s' is not supported (only 1.1)",
              m->schema_version);
        goto done;
    }
    dnext(&p);
    while (!p.failed) {
        skip_nl(&p);
        if (p.kind == D_EOF)
            break;
        if (dis(&p, "condition")) {
            dcondition(&p, &conds);
            continue;
        }
        if (!dis(&p, "type")) {
            dfail(&p, p.tline, p.tcol, "expected 'type' or 'condition', found '%.*s'", (int)p.tn,
                  p.tp);
            break;
        }
        pol_type_t *t = vec_push(&types);
        if (!t) {
            dfail(&p, p.tline, p.tcol, "out of memory");
            break;
        }
        t->line = p.tline;
        t->column = p.tcol;
        dnext(&p);
        t->name = dident(&p, "a type name");
        if (p.failed)
            break;
        t->name_len = strlen(t->name);
        if (p.kind != D_NL && p.kind != D_EOF) {
            dfail(&p, p.tline, p.tcol, "unexpected '%.*s' after the type name", (int)p.tn, p.tp);
            break;
        }
        skip_nl(&p);
        if (!dis(&p, "relations"))
            continue;
        dnext(&p);
        vec_t rels = {.size = sizeof(pol_relation_t)};
        skip_nl(&p);
        while (!p.failed && dis(&p, "define")) {
            pol_relation_t *r = vec_push(&rels);
            if (!r) {
                dfail(&p, p.tline, p.tcol, "out of memory");
                break;
            }
            dnext(&p);
            r->line = p.tline;
            r->column = p.tcol;
            r->name = dident(&p, "a relation name");
            if (p.failed || !dexpect(&p, ":"))
                break;
            relctx_t rc = {.direct = {.size = sizeof(rel_ref_t)}};
            r->rw = dexpr(&p, &rc, 0);
            r->ndirect = rc.direct.n;
            r->direct = vec_to_arena(&rc.direct, &m->arena);
            if (!p.failed && p.kind != D_NL && p.kind != D_EOF)
                dfail(&p, p.tline, p.tcol, "unexpected '%.*s' in the definition of '%s'", (int)p.tn,
                      p.tp, r->name);
            skip_nl(&p);
        }
        t->nrels = rels.n;
        t->rels = vec_to_arena(&rels, &m->arena);
        if (!p.failed && t->nrels == 0)
            dfail(&p, p.tline, p.tcol, "type '%s' declares 'relations' but defines none", t->name);
    }
done:
    m->ntypes = types.n;
    m->types = vec_to_arena(&types, &m->arena);
    m->nconds = conds.n;
    m->conds = vec_to_arena(&conds, &m->arena);
    if (!p.failed && pol_model_validate(m, err) != NOVA_OK)
        p.failed = true;
    if (p.failed) {
        nova_policy_model_free(m);
        return NOVA_INVALID;
    }
    *out = m;
    return NOVA_OK;
}

/* ---- the JSON form ---- */

static const struct {
    const char *json;
    cel_kind kind;
} type_names[] = {
    {"TYPE_NAME_ANY", CEL_ANY},
    {"TYPE_NAME_BOOL", CEL_BOOL},
    {"TYPE_NAME_STRING", CEL_STRING},
    {"TYPE_NAME_INT", CEL_INT},
    {"TYPE_NAME_UINT", CEL_UINT},
    {"TYPE_NAME_DOUBLE", CEL_DOUBLE},
    {"TYPE_NAME_DURATION", CEL_DURATION},
    {"TYPE_NAME_TIMESTAMP", CEL_TIMESTAMP},
    {"TYPE_NAME_MAP", CEL_MAP},
    {"TYPE_NAME_LIST", CEL_LIST},
    {"TYPE_NAME_IPADDRESS", CEL_IPADDRESS},
    {"TYPE_NAME_BYTES", CEL_BYTES},
};

static json_t *member(const json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (!v && b)
        v = json_object_get(o, b);
    return v;
}

typedef struct jctx {
    nova_policy_model_t *m;
    nova_policy_error_t *err;
    bool failed;
} jctx_t;

static void jfail(jctx_t *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jfail(jctx_t *j, const char *fmt, ...)
{
    if (j->failed)
        return;
    j->failed = true;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pol_error(j->err, NOVA_POLICY_E_INVALID_MODEL, 0, 0, "%s", msg);
}

static const char *jstr(jctx_t *j, const json_t *v, const char *what)
{
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 254 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        jfail(j, "%s must be a non-empty string", what);
        return NULL;
    }
    const char *s = nova_arena_strdup(&j->m->arena, json_string_value(v));
    if (!s)
        jfail(j, "out of memory");
    return s;
}

static bool name_ok(const char *s)
{
    for (; *s; s++)
        if (*s == ':' || *s == '#' || *s == '@' || *s == '*' || isspace((unsigned char)*s) ||
            (unsigned char)*s < 0x20)
            return false;
    return true;
}

static const char *jname(jctx_t *j, const json_t *v, const char *what)
{
    const char *s = jstr(j, v, what);
    if (s && !name_ok(s)) {
        jfail(j, "%s '%s' contains a character it may not (':', '#', '@', '*', space)", what, s);
        return NULL;
    }
    return s;
}

static cel_type_t *jtype(jctx_t *j, const json_t *v, int depth)
{
    cel_type_t *t = nova_arena_alloc(&j->m->arena, sizeof(*t));
    if (!t || depth > 8 || !json_is_object(v)) {
        jfail(j, "a condition parameter type must be an object with type_name");
        return NULL;
    }
    memset(t, 0, sizeof(*t));
    const char *tn = json_string_value(member(v, "type_name", "typeName"));
    bool found = false;
    for (size_t i = 0; tn && i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (strcmp(tn, type_names[i].json) == 0) {
            t->kind = type_names[i].kind;
            found = true;
        }
    if (!found) {
        jfail(j, "unknown condition parameter type '%s'", tn ? tn : "");
        return NULL;
    }
    if (t->kind == CEL_LIST || t->kind == CEL_MAP) {
        json_t *g = member(v, "generic_types", "genericTypes");
        if (!json_is_array(g) || json_array_size(g) != 1) {
            jfail(j, "list and map parameters need one generic type");
            return NULL;
        }
        t->elem = jtype(j, json_array_get(g, 0), depth + 1);
    }
    return t;
}

static rw_node_t *juserset(jctx_t *j, const json_t *v, int depth)
{
    if (j->failed)
        return NULL;
    if (!json_is_object(v) || depth > 32) {
        jfail(j, "a relation definition must be an object");
        return NULL;
    }
    rw_node_t *n = nova_arena_alloc(&j->m->arena, sizeof(*n));
    if (!n) {
        jfail(j, "out of memory");
        return NULL;
    }
    memset(n, 0, sizeof(*n));
    json_t *x;
    if (json_object_size(v) != 1) {
        jfail(j, "a relation definition must have exactly one of this, computedUserset, "
                 "tupleToUserset, union, intersection, difference");
        return NULL;
    }
    if ((x = json_object_get(v, "this"))) {
        n->kind = RW_THIS;
    } else if ((x = member(v, "computedUserset", "computed_userset"))) {
        n->kind = RW_COMPUTED;
        n->relation = jname(j, json_object_get(x, "relation"), "computedUserset.relation");
    } else if ((x = member(v, "tupleToUserset", "tuple_to_userset"))) {
        n->kind = RW_TTU;
        n->tupleset = jname(j, json_object_get(json_object_get(x, "tupleset"), "relation"),
                            "tupleToUserset.tupleset.relation");
        n->relation =
            jname(j, json_object_get(member(x, "computedUserset", "computed_userset"), "relation"),
                  "tupleToUserset.computedUserset.relation");
    } else if ((x = json_object_get(v, "union")) || (x = json_object_get(v, "intersection"))) {
        n->kind = json_object_get(v, "union") ? RW_UNION : RW_INTERSECTION;
        json_t *kids = json_object_get(x, "child");
        if (!json_is_array(kids) || json_array_size(kids) < 1 || json_array_size(kids) > 64) {
            jfail(j, "union and intersection need a child array");
            return NULL;
        }
        n->nchild = json_array_size(kids);
        n->child = nova_arena_alloc(&j->m->arena, n->nchild * sizeof(rw_node_t *));
        if (!n->child) {
            jfail(j, "out of memory");
            return NULL;
        }
        for (size_t i = 0; i < n->nchild; i++)
            n->child[i] = juserset(j, json_array_get(kids, i), depth + 1);
    } else if ((x = json_object_get(v, "difference"))) {
        n->kind = RW_DIFFERENCE;
        n->nchild = 2;
        n->child = nova_arena_alloc(&j->m->arena, 2 * sizeof(rw_node_t *));
        if (!n->child) {
            jfail(j, "out of memory");
            return NULL;
        }
        n->child[0] = juserset(j, json_object_get(x, "base"), depth + 1);
        n->child[1] = juserset(j, json_object_get(x, "subtract"), depth + 1);
    } else {
        jfail(j, "unknown relation definition member");
    }
    return j->failed ? NULL : n;
}

nova_status nova_policy_model_from_json(const json_t *json, nova_policy_model_t **out,
                                        nova_policy_error_t *err)
{
    *out = NULL;
    if (err)
        memset(err, 0, sizeof(*err));
    nova_policy_model_t *m = model_new();
    if (!m)
        return NOVA_NOMEM;
    jctx_t j = {.m = m, .err = err};
    if (!json_is_object(json)) {
        jfail(&j, "the model must be a JSON object");
        goto done;
    }
    m->schema_version = jstr(&j, member(json, "schema_version", "schemaVersion"), "schema_version");
    json_t *tds = member(json, "type_definitions", "typeDefinitions");
    if (!j.failed && (!json_is_array(tds) || json_array_size(tds) == 0)) {
        jfail(&j, "type_definitions must be a non-empty array");
        goto done;
    }
    json_t *conds = json_object_get(json, "conditions");
    if (conds && !json_is_null(conds)) {
        if (!json_is_object(conds)) {
            jfail(&j, "conditions must be an object");
            goto done;
        }
        m->nconds = json_object_size(conds);
        m->conds =
            nova_arena_alloc(&m->arena, (m->nconds ? m->nconds : 1) * sizeof(pol_condition_t));
        if (!m->conds) {
            jfail(&j, "out of memory");
            goto done;
        }
        memset(m->conds, 0, (m->nconds ? m->nconds : 1) * sizeof(pol_condition_t));
        size_t i = 0;
        const char *key;
        json_t *cv;
        json_object_foreach(conds, key, cv)
        {
            pol_condition_t *c = &m->conds[i++];
            c->name = nova_arena_strdup(&m->arena, key);
            const char *nm = json_string_value(json_object_get(cv, "name"));
            if (!c->name || !name_ok(key) || (nm && strcmp(nm, key) != 0)) {
                jfail(&j, "condition '%s': name must match its key", key);
                goto done;
            }
            c->expression = jstr(&j, json_object_get(cv, "expression"), "condition expression");
            json_t *params = json_object_get(cv, "parameters");
            if (j.failed)
                goto done;
            if (params && !json_is_object(params)) {
                jfail(&j, "condition '%s': parameters must be an object", key);
                goto done;
            }
            c->nparams = json_object_size(params);
            c->params =
                nova_arena_alloc(&m->arena, (c->nparams ? c->nparams : 1) * sizeof(pol_param_t));
            if (!c->params) {
                jfail(&j, "out of memory");
                goto done;
            }
            size_t k = 0;
            const char *pk;
            json_t *pv;
            json_object_foreach(params, pk, pv)
            {
                c->params[k].name = nova_arena_strdup(&m->arena, pk);
                c->params[k].type = jtype(&j, pv, 0);
                k++;
                if (j.failed)
                    goto done;
            }
        }
    }
    m->ntypes = json_array_size(tds);
    m->types = nova_arena_alloc(&m->arena, m->ntypes * sizeof(pol_type_t));
    if (!m->types) {
        jfail(&j, "out of memory");
        goto done;
    }
    memset(m->types, 0, m->ntypes * sizeof(pol_type_t));
    for (size_t i = 0; i < m->ntypes && !j.failed; i++) {
        json_t *td = json_array_get(tds, i);
        pol_type_t *t = &m->types[i];
        t->name = jname(&j, json_object_get(td, "type"), "type");
        if (j.failed)
            break;
        t->name_len = strlen(t->name);
        json_t *rels = json_object_get(td, "relations");
        json_t *meta = json_object_get(json_object_get(td, "metadata"), "relations");
        if (rels && !json_is_null(rels) && !json_is_object(rels)) {
            jfail(&j, "type '%s': relations must be an object", t->name);
            break;
        }
        t->nrels = json_object_size(rels);
        if (!t->nrels)
            continue;
        t->rels = nova_arena_alloc(&m->arena, t->nrels * sizeof(pol_relation_t));
        if (!t->rels) {
            jfail(&j, "out of memory");
            break;
        }
        memset(t->rels, 0, t->nrels * sizeof(pol_relation_t));
        size_t k = 0;
        const char *rk;
        json_t *rv;
        json_object_foreach(rels, rk, rv)
        {
            pol_relation_t *r = &t->rels[k++];
            r->name = nova_arena_strdup(&m->arena, rk);
            if (!r->name || !name_ok(rk) || !*rk) {
                jfail(&j, "type '%s': bad relation name '%s'", t->name, rk);
                break;
            }
            r->rw = juserset(&j, rv, 0);
            json_t *drt = json_object_get(json_object_get(meta, rk), "directly_related_user_types");
            if (!drt)
                drt = json_object_get(json_object_get(meta, rk), "directlyRelatedUserTypes");
            if (drt && json_is_array(drt) && json_array_size(drt) > 0) {
                r->ndirect = json_array_size(drt);
                r->direct = nova_arena_alloc(&m->arena, r->ndirect * sizeof(rel_ref_t));
                if (!r->direct) {
                    jfail(&j, "out of memory");
                    break;
                }
                memset(r->direct, 0, r->ndirect * sizeof(rel_ref_t));
                for (size_t d = 0; d < r->ndirect && !j.failed; d++) {
                    json_t *ref = json_array_get(drt, d);
                    r->direct[d].type = jname(&j, json_object_get(ref, "type"), "related type");
                    json_t *rr = json_object_get(ref, "relation");
                    if (rr && !(json_is_string(rr) && json_string_length(rr) == 0))
                        r->direct[d].relation = jname(&j, rr, "related relation");
                    json_t *wc = json_object_get(ref, "wildcard");
                    r->direct[d].wildcard = wc && !json_is_null(wc);
                    json_t *cn = json_object_get(ref, "condition");
                    if (cn && !(json_is_string(cn) && json_string_length(cn) == 0))
                        r->direct[d].condition = jname(&j, cn, "condition");
                    if (r->direct[d].wildcard && r->direct[d].relation)
                        jfail(&j, "a related type cannot be both a wildcard and a userset");
                }
            }
            if (j.failed)
                break;
        }
    }
done:
    if (!j.failed && pol_model_validate(m, err) != NOVA_OK)
        j.failed = true;
    if (j.failed) {
        nova_policy_model_free(m);
        return NOVA_INVALID;
    }
    *out = m;
    return NOVA_OK;
}

static json_t *rw_json(const rw_node_t *n)
{
    switch (n->kind) {
    case RW_THIS:
        return json_pack("{s:{}}", "this");
    case RW_COMPUTED:
        return json_pack("{s:{s:s,s:s}}", "computedUserset", "object", "", "relation", n->relation);
    case RW_TTU:
        return json_pack("{s:{s:{s:s,s:s},s:{s:s,s:s}}}", "tupleToUserset", "tupleset", "object",
                         "", "relation", n->tupleset, "computedUserset", "object", "", "relation",
                         n->relation);
    case RW_DIFFERENCE:
        return json_pack("{s:{s:o,s:o}}", "difference", "base", rw_json(n->child[0]), "subtract",
                         rw_json(n->child[1]));
    default: {
        json_t *kids = json_array();
        for (size_t i = 0; i < n->nchild; i++)
            json_array_append_new(kids, rw_json(n->child[i]));
        return json_pack("{s:{s:o}}", n->kind == RW_UNION ? "union" : "intersection", "child",
                         kids);
    }
    }
}

static json_t *type_json(const cel_type_t *t)
{
    const char *name = "TYPE_NAME_ANY";
    for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (type_names[i].kind == t->kind)
            name = type_names[i].json;
    json_t *o = json_pack("{s:s}", "type_name", name);
    if (o && t->elem)
        json_object_set_new(o, "generic_types", json_pack("[o]", type_json(t->elem)));
    return o;
}

json_t *nova_policy_model_to_json(const nova_policy_model_t *m)
{
    json_t *tds = json_array();
    for (size_t i = 0; i < m->ntypes; i++) {
        const pol_type_t *t = &m->types[i];
        json_t *rels = json_object();
        json_t *meta = json_object();
        for (size_t k = 0; k < t->nrels; k++) {
            const pol_relation_t *r = &t->rels[k];
            json_object_set_new(rels, r->name, rw_json(r->rw));
            json_t *drt = json_array();
            for (size_t d = 0; d < r->ndirect; d++) {
                const rel_ref_t *ref = &r->direct[d];
                json_t *o = json_pack("{s:s}", "type", ref->type);
                if (ref->relation)
                    json_object_set_new(o, "relation", json_string(ref->relation));
                if (ref->wildcard)
                    json_object_set_new(o, "wildcard", json_object());
                json_object_set_new(o, "condition",
                                    json_string(ref->condition ? ref->condition : ""));
                json_array_append_new(drt, o);
            }
            json_object_set_new(meta, r->name,
                                json_pack("{s:o}", "directly_related_user_types", drt));
        }
        json_t *td = json_pack("{s:s,s:o}", "type", t->name, "relations", rels);
        if (t->nrels)
            json_object_set_new(td, "metadata", json_pack("{s:o}", "relations", meta));
        else {
            json_decref(meta);
            json_object_set_new(td, "metadata", json_null());
        }
        json_array_append_new(tds, td);
    }
    json_t *conds = json_object();
    for (size_t i = 0; i < m->nconds; i++) {
        const pol_condition_t *c = &m->conds[i];
        json_t *params = json_object();
        for (size_t p = 0; p < c->nparams; p++)
            json_object_set_new(params, c->params[p].name, type_json(c->params[p].type));
        json_object_set_new(conds, c->name,
                            json_pack("{s:s,s:s,s:o}", "name", c->name, "expression", c->expression,
                                      "parameters", params));
    }
    return json_pack("{s:s,s:o,s:o}", "schema_version", m->schema_version, "type_definitions", tds,
                     "conditions", conds);
}
