/*
 * cel.c: the Common Expression Language as OpenFGA conditions use it. A lexer and a
 * precedence-climbing parser build an AST in the program's arena; the evaluator walks it over
 * dynamically typed values. Missing parameters are CEL "unknowns": they propagate through
 * every operator except where && and || can decide without them, so `x < 1 || y < 2` with
 * x = 0 and no y is true, and with x = 5 reports y missing.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- AST ---- */

typedef enum node_kind {
    N_LIT,
    N_IDENT,
    N_NOT,
    N_NEG,
    N_BINARY,
    N_AND,
    N_OR,
    N_COND,
    N_CALL,
    N_SELECT,
    N_INDEX,
    N_LIST,
    N_MAP,
} node_kind;

typedef enum binop {
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_IN,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
} binop;

typedef struct node node_t;
struct node {
    node_kind kind;
    binop op;
    cel_value_t lit;
    const char *name; /* ident, call, select */
    node_t *target;   /* receiver of a call or select; operand of unary */
    node_t **args;    /* call args, binary [l, r], cond [c, t, f], list items, map k/v pairs */
    size_t nargs;
    int line, column;
};

struct nova_cel_program {
    nova_arena_t arena;
    node_t *root;
};

/* ---- lexer ---- */

typedef enum tok_kind {
    T_EOF,
    T_IDENT,
    T_INT,
    T_UINT,
    T_DOUBLE,
    T_STRING,
    T_BYTES,
    T_PUNCT,
} tok_kind;

typedef struct tok {
    tok_kind kind;
    const char *p; /* punct/ident text */
    size_t n;
    cel_value_t v; /* literals */
    int line, column;
} tok_t;

typedef struct parser {
    const char *s, *end, *cur;
    int line;
    const char *line_start;
    tok_t t;
    nova_arena_t *a;
    nova_policy_error_t *err;
    bool failed;
    int depth;
} parser_t;

static void perr(parser_t *ps, int line, int col, const char *msg)
{
    if (ps->failed)
        return;
    ps->failed = true;
    pol_error(ps->err, NOVA_POLICY_E_INVALID_MODEL, line, col, "%s", msg);
}

static void skip_space(parser_t *ps)
{
    while (ps->cur < ps->end) {
        char c = *ps->cur;
        if (c == '\n') {
            ps->line++;
            ps->cur++;
            ps->line_start = ps->cur;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            ps->cur++;
        } else if (c == '/' && ps->cur + 1 < ps->end && ps->cur[1] == '/') {
            while (ps->cur < ps->end && *ps->cur != '\n')
                ps->cur++;
        } else {
            break;
        }
    }
}

/* Decodes a quoted string literal starting at ps->cur (after any r/b prefix). */
static bool lex_string(parser_t *ps, bool raw, nova_buf_t *out)
{
    char q = *ps->cur;
    bool triple = ps->end - ps->cur >= 3 && ps->cur[1] == q && ps->cur[2] == q;
    ps->cur += triple ? 3 : 1;
    for (;;) {
        if (ps->cur >= ps->end)
            return false;
        char c = *ps->cur;
        if (triple && c == q && ps->end - ps->cur >= 3 && ps->cur[1] == q && ps->cur[2] == q) {
            ps->cur += 3;
            return true;
        }
        if (!triple && c == q) {
            ps->cur++;
            return true;
        }
        if (!triple && c == '\n')
            return false;
        if (c == '\\' && !raw) {
            if (ps->cur + 1 >= ps->end)
                return false;
            char e = ps->cur[1];
            ps->cur += 2;
            char o;
            switch (e) {
            case 'n':
                o = '\n';
                break;
            case 't':
                o = '\t';
                break;
            case 'r':
                o = '\r';
                break;
            case 'a':
                o = '\a';
                break;
            case 'b':
                o = '\b';
                break;
            case 'f':
                o = '\f';
                break;
            case 'v':
                o = '\v';
                break;
            case '\\':
            case '\'':
            case '"':
            case '`':
            case '?':
                o = e;
                break;
            case 'x':
            case 'u':
            case 'U': {
                int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                uint32_t cp = 0;
                for (int i = 0; i < digits; i++) {
                    if (ps->cur >= ps->end || !isxdigit((unsigned char)*ps->cur))
                        return false;
                    char h = *ps->cur++;
                    cp = cp * 16 +
                         (uint32_t)(isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
                }
                if (e == 'x') {
                    o = (char)cp;
                    break;
                }
                if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                    return false;
                char u[4];
                size_t un;
                if (cp < 0x80) {
                    u[0] = (char)cp;
                    un = 1;
                } else if (cp < 0x800) {
                    u[0] = (char)(0xC0 | (cp >> 6));
                    u[1] = (char)(0x80 | (cp & 0x3F));
                    un = 2;
                } else if (cp < 0x10000) {
                    u[0] = (char)(0xE0 | (cp >> 12));
                    u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    u[2] = (char)(0x80 | (cp & 0x3F));
                    un = 3;
                } else {
                    u[0] = (char)(0xF0 | (cp >> 18));
                    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    u[3] = (char)(0x80 | (cp & 0x3F));
                    un = 4;
                }
                if (nova_buf_append(out, u, un) != NOVA_OK)
                    return false;
                continue;
            }
            default:
                if (e >= '0' && e <= '3' && ps->end - ps->cur >= 2 && ps->cur[0] >= '0' &&
                    ps->cur[0] <= '7' && ps->cur[1] >= '0' && ps->cur[1] <= '7') {
                    o = (char)((e - '0') * 64 + (ps->cur[0] - '0') * 8 + (ps->cur[1] - '0'));
                    ps->cur += 2;
                    break;
                }
                return false;
            }
            if (nova_buf_append(out, &o, 1) != NOVA_OK)
                return false;
            continue;
        }
        if (c == '\n') {
            ps->line++;
            ps->line_start = ps->cur + 1;
        }
        if (nova_buf_append(out, &c, 1) != NOVA_OK)
            return false;
        ps->cur++;
    }
}

static void next(parser_t *ps)
{
    skip_space(ps);
    tok_t *t = &ps->t;
    memset(t, 0, sizeof(*t));
    t->line = ps->line;
    t->column = (int)(ps->cur - ps->line_start) + 1;
    t->p = ps->cur;
    if (ps->cur >= ps->end) {
        t->kind = T_EOF;
        return;
    }
    char c = *ps->cur;
    bool raw = false, bytes = false;
    const char *save = ps->cur;
    if ((c == 'r' || c == 'R' || c == 'b' || c == 'B') && ps->cur + 1 < ps->end) {
        /* prefixes: r, b, rb, br */
        const char *q = ps->cur;
        while (q < ps->end && q - ps->cur < 2 && strchr("rRbB", *q)) {
            if (*q == 'r' || *q == 'R')
                raw = true;
            else
                bytes = true;
            q++;
        }
        if (q < ps->end && (*q == '"' || *q == '\'')) {
            ps->cur = q;
            c = *q;
        } else {
            raw = bytes = false;
        }
    }
    if (c == '"' || c == '\'') {
        nova_buf_t b;
        nova_buf_init(&b);
        if (!lex_string(ps, raw, &b)) {
            nova_buf_free(&b);
            perr(ps, t->line, t->column, "unterminated or malformed string literal");
            t->kind = T_EOF;
            return;
        }
        if (!bytes && !nova_utf8_valid(b.data ? b.data : "", b.len)) {
            nova_buf_free(&b);
            perr(ps, t->line, t->column, "string literal is not valid UTF-8");
            t->kind = T_EOF;
            return;
        }
        t->kind = bytes ? T_BYTES : T_STRING;
        t->v.kind = bytes ? CEL_BYTES : CEL_STRING;
        t->v.s.p = nova_arena_strndup(ps->a, b.data ? b.data : "", b.len);
        t->v.s.n = b.len;
        nova_buf_free(&b);
        return;
    }
    ps->cur = save;
    if (isalpha((unsigned char)c) || c == '_') {
        while (ps->cur < ps->end && (isalnum((unsigned char)*ps->cur) || *ps->cur == '_'))
            ps->cur++;
        t->kind = T_IDENT;
        t->n = (size_t)(ps->cur - t->p);
        return;
    }
    if (isdigit((unsigned char)c) ||
        (c == '.' && ps->cur + 1 < ps->end && isdigit((unsigned char)ps->cur[1]))) {
        const char *q = ps->cur;
        bool hex = false, dbl = false;
        if (c == '0' && q + 1 < ps->end && (q[1] == 'x' || q[1] == 'X')) {
            hex = true;
            q += 2;
            while (q < ps->end && isxdigit((unsigned char)*q))
                q++;
        } else {
            while (q < ps->end && isdigit((unsigned char)*q))
                q++;
            if (q < ps->end && *q == '.' && q + 1 < ps->end && isdigit((unsigned char)q[1])) {
                dbl = true;
                q++;
                while (q < ps->end && isdigit((unsigned char)*q))
                    q++;
            }
            if (q < ps->end && (*q == 'e' || *q == 'E')) {
                const char *e = q + 1;
                if (e < ps->end && (*e == '+' || *e == '-'))
                    e++;
                if (e < ps->end && isdigit((unsigned char)*e)) {
                    dbl = true;
                    q = e;
                    while (q < ps->end && isdigit((unsigned char)*q))
                        q++;
                }
            }
        }
        char buf[64];
        size_t n = (size_t)(q - ps->cur);
        if (n >= sizeof(buf)) {
            perr(ps, t->line, t->column, "numeric literal too long");
            t->kind = T_EOF;
            return;
        }
        memcpy(buf, ps->cur, n);
        buf[n] = '\0';
        ps->cur = q;
        errno = 0;
        if (dbl) {
            t->kind = T_DOUBLE;
            t->v.kind = CEL_DOUBLE;
            t->v.d = strtod(buf, NULL);
        } else if (ps->cur < ps->end && (*ps->cur == 'u' || *ps->cur == 'U')) {
            ps->cur++;
            t->kind = T_UINT;
            t->v.kind = CEL_UINT;
            t->v.u = strtoull(buf, NULL, hex ? 16 : 10);
        } else {
            t->kind = T_INT;
            t->v.kind = CEL_INT;
            unsigned long long u = strtoull(buf, NULL, hex ? 16 : 10);
            /* 9223372036854775808 is allowed only under a unary minus; the parser folds it */
            if (u > (unsigned long long)INT64_MAX + 1ULL)
                errno = ERANGE;
            t->v.u = u;
        }
        if (errno == ERANGE)
            perr(ps, t->line, t->column, "numeric literal out of range");
        return;
    }
    static const char *const two[] = {"&&", "||", "==", "!=", "<=", ">=", NULL};
    for (int i = 0; two[i]; i++) {
        if (ps->end - ps->cur >= 2 && memcmp(ps->cur, two[i], 2) == 0) {
            t->kind = T_PUNCT;
            t->n = 2;
            ps->cur += 2;
            return;
        }
    }
    if (strchr("()[]{}.,:?!<>+-*/%", c) && c != '\0') {
        t->kind = T_PUNCT;
        t->n = 1;
        ps->cur++;
        return;
    }
    perr(ps, t->line, t->column, "unexpected character in expression");
    t->kind = T_EOF;
}

static bool is_punct(parser_t *ps, const char *p)
{
    size_t n = strlen(p);
    return ps->t.kind == T_PUNCT && ps->t.n == n && memcmp(ps->t.p, p, n) == 0;
}

static bool is_ident(parser_t *ps, const char *w)
{
    size_t n = strlen(w);
    return ps->t.kind == T_IDENT && ps->t.n == n && memcmp(ps->t.p, w, n) == 0;
}

static node_t *mk(parser_t *ps, node_kind k)
{
    node_t *n = nova_arena_alloc(ps->a, sizeof(*n));
    if (!n) {
        perr(ps, ps->t.line, ps->t.column, "out of memory");
        return NULL;
    }
    memset(n, 0, sizeof(*n));
    n->kind = k;
    n->line = ps->t.line;
    n->column = ps->t.column;
    return n;
}

static bool expect(parser_t *ps, const char *p)
{
    if (!is_punct(ps, p)) {
        char msg[64];
        snprintf(msg, sizeof(msg), "expected '%s'", p);
        perr(ps, ps->t.line, ps->t.column, msg);
        return false;
    }
    next(ps);
    return true;
}

/* Growable node list on the heap while parsing, copied into the arena when done. */
typedef struct nlist {
    node_t **v;
    size_t n, cap;
} nlist_t;

static void nl_push(parser_t *ps, nlist_t *l, node_t *x)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        node_t **v = realloc(l->v, cap * sizeof(*v));
        if (!v) {
            perr(ps, ps->t.line, ps->t.column, "out of memory");
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
}

static void nl_finish(parser_t *ps, nlist_t *l, node_t *into)
{
    into->nargs = l->n;
    if (l->n) {
        into->args = nova_arena_alloc(ps->a, l->n * sizeof(node_t *));
        if (into->args)
            memcpy(into->args, l->v, l->n * sizeof(node_t *));
        else
            perr(ps, ps->t.line, ps->t.column, "out of memory");
    }
    free(l->v);
}

static node_t *parse_expr(parser_t *ps);

/* args after '(' up to ')' */
static void parse_args(parser_t *ps, node_t *call, const char *close)
{
    nlist_t l = {0};
    if (!is_punct(ps, close)) {
        for (;;) {
            node_t *x = parse_expr(ps);
            if (ps->failed)
                break;
            nl_push(ps, &l, x);
            if (!is_punct(ps, ","))
                break;
            next(ps);
            if (is_punct(ps, close))
                break; /* trailing comma */
        }
    }
    nl_finish(ps, &l, call);
    if (!ps->failed)
        expect(ps, close);
}

static node_t *parse_primary(parser_t *ps)
{
    tok_t t = ps->t;
    node_t *n;
    switch (t.kind) {
    case T_INT:
    case T_UINT:
    case T_DOUBLE:
    case T_STRING:
    case T_BYTES:
        n = mk(ps, N_LIT);
        if (!n)
            return NULL;
        n->lit = t.v;
        if (t.kind == T_INT) {
            if (t.v.u > (uint64_t)INT64_MAX) {
                perr(ps, t.line, t.column, "integer literal out of range");
                return NULL;
            }
            n->lit.i = (int64_t)t.v.u;
        }
        next(ps);
        return n;
    case T_IDENT:
        if (is_ident(ps, "true") || is_ident(ps, "false")) {
            n = mk(ps, N_LIT);
            if (!n)
                return NULL;
            n->lit.kind = CEL_BOOL;
            n->lit.b = is_ident(ps, "true");
            next(ps);
            return n;
        }
        if (is_ident(ps, "null")) {
            n = mk(ps, N_LIT);
            if (!n)
                return NULL;
            n->lit.kind = CEL_NULL;
            next(ps);
            return n;
        }
        if (is_ident(ps, "in")) {
            perr(ps, t.line, t.column, "reserved word 'in' used as identifier");
            return NULL;
        }
        n = mk(ps, N_IDENT);
        if (!n)
            return NULL;
        n->name = nova_arena_strndup(ps->a, t.p, t.n);
        next(ps);
        if (is_punct(ps, "(")) {
            n->kind = N_CALL;
            next(ps);
            parse_args(ps, n, ")");
        }
        return n;
    case T_PUNCT:
        if (is_punct(ps, "(")) {
            next(ps);
            n = parse_expr(ps);
            if (!ps->failed)
                expect(ps, ")");
            return n;
        }
        if (is_punct(ps, "[")) {
            n = mk(ps, N_LIST);
            next(ps);
            if (n)
                parse_args(ps, n, "]");
            return n;
        }
        if (is_punct(ps, "{")) {
            n = mk(ps, N_MAP);
            if (!n)
                return NULL;
            next(ps);
            nlist_t l = {0};
            if (!is_punct(ps, "}")) {
                for (;;) {
                    node_t *k = parse_expr(ps);
                    if (ps->failed || !expect(ps, ":"))
                        break;
                    node_t *v = parse_expr(ps);
                    if (ps->failed)
                        break;
                    nl_push(ps, &l, k);
                    nl_push(ps, &l, v);
                    if (!is_punct(ps, ","))
                        break;
                    next(ps);
                    if (is_punct(ps, "}"))
                        break;
                }
            }
            nl_finish(ps, &l, n);
            if (!ps->failed)
                expect(ps, "}");
            return n;
        }
        if (is_punct(ps, ".")) {
            next(ps); /* leading dot: root-scoped identifier */
            if (ps->t.kind != T_IDENT) {
                perr(ps, ps->t.line, ps->t.column, "expected identifier after '.'");
                return NULL;
            }
            return parse_primary(ps);
        }
        break;
    default:
        break;
    }
    perr(ps, t.line, t.column,
         t.kind == T_EOF ? "unexpected end of expression" : "unexpected token");
    return NULL;
}

static node_t *parse_member(parser_t *ps)
{
    node_t *n = parse_primary(ps);
    while (!ps->failed) {
        if (is_punct(ps, ".")) {
            next(ps);
            if (ps->t.kind != T_IDENT) {
                perr(ps, ps->t.line, ps->t.column, "expected field or method name after '.'");
                return NULL;
            }
            node_t *s = mk(ps, N_SELECT);
            if (!s)
                return NULL;
            s->name = nova_arena_strndup(ps->a, ps->t.p, ps->t.n);
            s->target = n;
            next(ps);
            if (is_punct(ps, "(")) {
                s->kind = N_CALL;
                next(ps);
                parse_args(ps, s, ")");
            }
            n = s;
        } else if (is_punct(ps, "[")) {
            node_t *x = mk(ps, N_INDEX);
            if (!x)
                return NULL;
            next(ps);
            x->target = n;
            x->args = nova_arena_alloc(ps->a, sizeof(node_t *));
            if (!x->args) {
                perr(ps, ps->t.line, ps->t.column, "out of memory");
                return NULL;
            }
            x->args[0] = parse_expr(ps);
            x->nargs = 1;
            if (!ps->failed)
                expect(ps, "]");
            n = x;
        } else {
            break;
        }
    }
    return n;
}

static node_t *parse_unary(parser_t *ps)
{
    if (++ps->depth > 64) {
        perr(ps, ps->t.line, ps->t.column, "expression nested too deeply");
        return NULL;
    }
    node_t *r;
    if (is_punct(ps, "!")) {
        r = mk(ps, N_NOT);
        next(ps);
        if (r)
            r->target = parse_unary(ps);
    } else if (is_punct(ps, "-")) {
        r = mk(ps, N_NEG);
        next(ps);
        if (r) {
            if (ps->t.kind == T_INT && ps->t.v.u == (uint64_t)INT64_MAX + 1ULL) {
                /* -9223372036854775808 */
                r->kind = N_LIT;
                r->lit.kind = CEL_INT;
                r->lit.i = INT64_MIN;
                next(ps);
            } else {
                r->target = parse_unary(ps);
            }
        }
    } else {
        r = parse_member(ps);
    }
    ps->depth--;
    return r;
}

static node_t *bin(parser_t *ps, node_kind k, binop op, node_t *l, node_t *r, int line, int col)
{
    node_t *n = mk(ps, k);
    if (!n)
        return NULL;
    n->op = op;
    n->line = line;
    n->column = col;
    n->args = nova_arena_alloc(ps->a, 2 * sizeof(node_t *));
    if (!n->args) {
        perr(ps, line, col, "out of memory");
        return NULL;
    }
    n->args[0] = l;
    n->args[1] = r;
    n->nargs = 2;
    return n;
}

static node_t *parse_mul(parser_t *ps)
{
    node_t *l = parse_unary(ps);
    while (!ps->failed && (is_punct(ps, "*") || is_punct(ps, "/") || is_punct(ps, "%"))) {
        binop op = is_punct(ps, "*") ? OP_MUL : is_punct(ps, "/") ? OP_DIV : OP_MOD;
        int line = ps->t.line, col = ps->t.column;
        next(ps);
        l = bin(ps, N_BINARY, op, l, parse_unary(ps), line, col);
    }
    return l;
}

static node_t *parse_add(parser_t *ps)
{
    node_t *l = parse_mul(ps);
    while (!ps->failed && (is_punct(ps, "+") || is_punct(ps, "-"))) {
        binop op = is_punct(ps, "+") ? OP_ADD : OP_SUB;
        int line = ps->t.line, col = ps->t.column;
        next(ps);
        l = bin(ps, N_BINARY, op, l, parse_mul(ps), line, col);
    }
    return l;
}

static node_t *parse_rel(parser_t *ps)
{
    node_t *l = parse_add(ps);
    for (;;) {
        if (ps->failed)
            return l;
        binop op;
        if (is_punct(ps, "=="))
            op = OP_EQ;
        else if (is_punct(ps, "!="))
            op = OP_NE;
        else if (is_punct(ps, "<"))
            op = OP_LT;
        else if (is_punct(ps, "<="))
            op = OP_LE;
        else if (is_punct(ps, ">"))
            op = OP_GT;
        else if (is_punct(ps, ">="))
            op = OP_GE;
        else if (is_ident(ps, "in"))
            op = OP_IN;
        else
            return l;
        int line = ps->t.line, col = ps->t.column;
        next(ps);
        l = bin(ps, N_BINARY, op, l, parse_add(ps), line, col);
    }
}

static node_t *parse_and(parser_t *ps)
{
    node_t *l = parse_rel(ps);
    while (!ps->failed && is_punct(ps, "&&")) {
        int line = ps->t.line, col = ps->t.column;
        next(ps);
        l = bin(ps, N_AND, OP_EQ, l, parse_rel(ps), line, col);
    }
    return l;
}

static node_t *parse_or(parser_t *ps)
{
    node_t *l = parse_and(ps);
    while (!ps->failed && is_punct(ps, "||")) {
        int line = ps->t.line, col = ps->t.column;
        next(ps);
        l = bin(ps, N_OR, OP_EQ, l, parse_and(ps), line, col);
    }
    return l;
}

static node_t *parse_expr(parser_t *ps)
{
    if (++ps->depth > 64) {
        perr(ps, ps->t.line, ps->t.column, "expression nested too deeply");
        return NULL;
    }
    node_t *c = parse_or(ps);
    if (!ps->failed && is_punct(ps, "?")) {
        node_t *n = mk(ps, N_COND);
        next(ps);
        node_t *t = parse_or(ps);
        if (!ps->failed)
            expect(ps, ":");
        node_t *f = ps->failed ? NULL : parse_expr(ps);
        if (n && !ps->failed) {
            n->args = nova_arena_alloc(ps->a, 3 * sizeof(node_t *));
            if (!n->args) {
                perr(ps, ps->t.line, ps->t.column, "out of memory");
            } else {
                n->args[0] = c;
                n->args[1] = t;
                n->args[2] = f;
                n->nargs = 3;
            }
        }
        c = n;
    }
    ps->depth--;
    return c;
}

nova_status nova_cel_compile(const char *expr, size_t len, nova_cel_program_t **out,
                             nova_policy_error_t *err)
{
    *out = NULL;
    nova_cel_program_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NOVA_NOMEM;
    nova_arena_init(&p->arena, 4096);
    parser_t ps = {.s = expr,
                   .end = expr + len,
                   .cur = expr,
                   .line = 1,
                   .line_start = expr,
                   .a = &p->arena,
                   .err = err};
    next(&ps);
    p->root = ps.failed ? NULL : parse_expr(&ps);
    if (!ps.failed && ps.t.kind != T_EOF)
        perr(&ps, ps.t.line, ps.t.column, "unexpected token after expression");
    if (!ps.failed && !p->root)
        perr(&ps, 1, 1, "empty expression");
    if (ps.failed) {
        nova_cel_free(p);
        return NOVA_INVALID;
    }
    *out = p;
    return NOVA_OK;
}

void nova_cel_free(nova_cel_program_t *p)
{
    if (!p)
        return;
    nova_arena_free(&p->arena);
    free(p);
}

static bool is_macro(const node_t *n)
{
    static const char *const names[] = {"all", "exists", "exists_one", "map", "filter"};
    if (n->kind != N_CALL || !n->target || n->nargs != 2 || n->args[0]->kind != N_IDENT)
        return false;
    for (int i = 0; i < 5; i++)
        if (strcmp(n->name, names[i]) == 0)
            return true;
    return false;
}

/* Reports free identifiers: a comprehension's variable is bound inside its predicate. */
static void idents_walk(const node_t *n, const char **bound, size_t nbound,
                        void (*fn)(void *, const char *), void *arg)
{
    if (!n)
        return;
    if (n->kind == N_IDENT) {
        for (size_t i = 0; i < nbound; i++)
            if (strcmp(bound[i], n->name) == 0)
                return;
        fn(arg, n->name);
        return;
    }
    if (is_macro(n) && nbound < 8) {
        idents_walk(n->target, bound, nbound, fn, arg);
        bound[nbound] = n->args[0]->name;
        idents_walk(n->args[1], bound, nbound + 1, fn, arg);
        return;
    }
    if (n->kind == N_CALL && strcmp(n->name, "has") == 0 && n->nargs == 1 &&
        n->args[0]->kind == N_SELECT) {
        idents_walk(n->args[0]->target, bound, nbound, fn, arg);
        return;
    }
    idents_walk(n->target, bound, nbound, fn, arg);
    for (size_t i = 0; i < n->nargs; i++)
        idents_walk(n->args[i], bound, nbound, fn, arg);
}

void cel_idents(const nova_cel_program_t *p, void (*fn)(void *arg, const char *name), void *arg)
{
    const char *bound[8];
    idents_walk(p->root, bound, 0, fn, arg);
}

/* ---- values ---- */

typedef struct local {
    const char *name;
    cel_value_t v;
} local_t;

typedef struct evalctx {
    const cel_binding_t *b;
    size_t nb;
    nova_arena_t *a;
    local_t locals[8];
    size_t nlocals;
    int depth;
} evalctx_t;

static cel_value_t verr(evalctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static cel_value_t verr(evalctx_t *c, const char *fmt, ...)
{
    cel_value_t v = {.kind = CEL_ERROR};
    char buf[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    v.s.p = nova_arena_strdup(c->a, buf);
    v.s.n = v.s.p ? strlen(v.s.p) : 0;
    if (!v.s.p)
        v.s.p = "out of memory";
    return v;
}

static cel_value_t vbool(bool b)
{
    cel_value_t v = {.kind = CEL_BOOL};
    v.b = b;
    return v;
}

static cel_value_t vint(int64_t i)
{
    cel_value_t v = {.kind = CEL_INT};
    v.i = i;
    return v;
}

static cel_value_t vuint(uint64_t u)
{
    cel_value_t v = {.kind = CEL_UINT};
    v.u = u;
    return v;
}

static cel_value_t vdouble(double d)
{
    cel_value_t v = {.kind = CEL_DOUBLE};
    v.d = d;
    return v;
}

static cel_value_t vstr(evalctx_t *c, cel_kind k, const char *p, size_t n)
{
    cel_value_t v = {.kind = k};
    char *s = nova_arena_strndup(c->a, p, n);
    if (!s)
        return verr(c, "out of memory");
    v.s.p = s;
    v.s.n = n;
    return v;
}

static const char *kind_name(cel_kind k)
{
    static const char *const names[] = {"null_type", "bool",  "int",       "uint",     "double",
                                        "string",    "bytes", "timestamp", "duration", "ipaddress",
                                        "list",      "map",   "dyn",       "unknown",  "error"};
    return (size_t)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

static bool is_num(const cel_value_t *v)
{
    return v->kind == CEL_INT || v->kind == CEL_UINT || v->kind == CEL_DOUBLE;
}

/* -1, 0, 1, or 2 when unordered (NaN) */
static int num_cmp(const cel_value_t *a, const cel_value_t *b)
{
    if (a->kind == CEL_DOUBLE || b->kind == CEL_DOUBLE) {
        double x = a->kind == CEL_DOUBLE ? a->d : a->kind == CEL_INT ? (double)a->i : (double)a->u;
        double y = b->kind == CEL_DOUBLE ? b->d : b->kind == CEL_INT ? (double)b->i : (double)b->u;
        if (isnan(x) || isnan(y))
            return 2;
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a->kind == CEL_INT && b->kind == CEL_INT)
        return a->i < b->i ? -1 : a->i > b->i ? 1 : 0;
    if (a->kind == CEL_UINT && b->kind == CEL_UINT)
        return a->u < b->u ? -1 : a->u > b->u ? 1 : 0;
    if (a->kind == CEL_INT) /* int vs uint */
        return a->i < 0 ? -1 : (uint64_t)a->i < b->u ? -1 : (uint64_t)a->i > b->u ? 1 : 0;
    return b->i < 0 ? 1 : a->u < (uint64_t)b->i ? -1 : a->u > (uint64_t)b->i ? 1 : 0;
}

static int bytes_cmp(const cel_value_t *a, const cel_value_t *b)
{
    size_t n = a->s.n < b->s.n ? a->s.n : b->s.n;
    int r = memcmp(a->s.p, b->s.p, n);
    if (r)
        return r < 0 ? -1 : 1;
    return a->s.n < b->s.n ? -1 : a->s.n > b->s.n ? 1 : 0;
}

static bool val_eq(const cel_value_t *a, const cel_value_t *b);

/* Ordering; *ok false when the two are not comparable. */
static int val_cmp(const cel_value_t *a, const cel_value_t *b, bool *ok)
{
    *ok = true;
    if (is_num(a) && is_num(b)) {
        int r = num_cmp(a, b);
        if (r == 2)
            *ok = false;
        return r;
    }
    if (a->kind != b->kind) {
        *ok = false;
        return 0;
    }
    switch (a->kind) {
    case CEL_BOOL:
        return (int)a->b - (int)b->b;
    case CEL_STRING:
    case CEL_BYTES:
        return bytes_cmp(a, b);
    case CEL_TIMESTAMP:
        if (a->ts.sec != b->ts.sec)
            return a->ts.sec < b->ts.sec ? -1 : 1;
        return a->ts.nsec < b->ts.nsec ? -1 : a->ts.nsec > b->ts.nsec ? 1 : 0;
    case CEL_DURATION:
        return a->dur_ns < b->dur_ns ? -1 : a->dur_ns > b->dur_ns ? 1 : 0;
    default:
        *ok = false;
        return 0;
    }
}

static bool val_eq(const cel_value_t *a, const cel_value_t *b)
{
    if (is_num(a) && is_num(b))
        return num_cmp(a, b) == 0;
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case CEL_NULL:
        return true;
    case CEL_IPADDRESS:
        return a->ip.family == b->ip.family &&
               memcmp(a->ip.addr, b->ip.addr, a->ip.family == 4 ? 4 : 16) == 0;
    case CEL_LIST:
        if (a->list.n != b->list.n)
            return false;
        for (size_t i = 0; i < a->list.n; i++)
            if (!val_eq(&a->list.v[i], &b->list.v[i]))
                return false;
        return true;
    case CEL_MAP:
        if (a->list.n != b->list.n)
            return false;
        for (size_t i = 0; i < a->list.n; i += 2) {
            bool found = false;
            for (size_t j = 0; j < b->list.n; j += 2) {
                if (val_eq(&a->list.v[i], &b->list.v[j])) {
                    if (!val_eq(&a->list.v[i + 1], &b->list.v[j + 1]))
                        return false;
                    found = true;
                    break;
                }
            }
            if (!found)
                return false;
        }
        return true;
    default: {
        bool ok;
        return val_cmp(a, b, &ok) == 0 && ok;
    }
    }
}

/* ---- time ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* Timestamps must lie in CEL's range, 0001-01-01 to 9999-12-31. */
#define TS_MIN (-62135596800LL)
#define TS_MAX (253402300799LL)

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm) */
static bool parse_rfc3339(const char *s, size_t n, int64_t *sec, int32_t *nsec)
{
    if (n < 20)
        return false;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2), h = digits(s + 11, 2),
        mi = digits(s + 14, 2), se = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        se < 0 || se > 60 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':')
        return false;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return false;
    size_t i = 19;
    int32_t ns = 0;
    if (i < n && s[i] == '.') {
        i++;
        int nd = 0;
        while (i < n && isdigit((unsigned char)s[i])) {
            if (nd < 9) {
                ns = ns * 10 + (s[i] - '0');
                nd++;
            }
            i++;
        }
        if (nd == 0)
            return false;
        while (nd++ < 9)
            ns *= 10;
    }
    int off = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return false;
        off = (oh * 60 + om) * 60 * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return false;
    }
    if (i != n)
        return false;
    int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
                (se == 60 ? 59 : se) - off;
    if (t < TS_MIN || t > TS_MAX)
        return false;
    *sec = t;
    *nsec = ns;
    return true;
}

/* Go/CEL duration: [-]( number unit )+ with units h m s ms us µs ns; "0" alone allowed. */
static bool parse_duration(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+')) {
        neg = s[i] == '-';
        i++;
    }
    if (i == n)
        return false;
    if (n - i == 1 && s[i] == '0') {
        *out = 0;
        return true;
    }
    long double total = 0;
    while (i < n) {
        size_t st = i;
        while (i < n && (isdigit((unsigned char)s[i]) || s[i] == '.'))
            i++;
        if (i == st)
            return false;
        char num[40];
        if (i - st >= sizeof(num))
            return false;
        memcpy(num, s + st, i - st);
        num[i - st] = '\0';
        char *endp;
        long double v = strtold(num, &endp);
        if (*endp)
            return false;
        long double unit;
        if (i + 2 <= n && memcmp(s + i, "ns", 2) == 0) {
            unit = 1;
            i += 2;
        } else if (i + 2 <= n && memcmp(s + i, "us", 2) == 0) {
            unit = 1e3L;
            i += 2;
        } else if (i + 3 <= n && memcmp(s + i, "\xc2\xb5s", 3) == 0) {
            unit = 1e3L;
            i += 3;
        } else if (i + 2 <= n && memcmp(s + i, "ms", 2) == 0) {
            unit = 1e6L;
            i += 2;
        } else if (i < n && s[i] == 's') {
            unit = 1e9L;
            i++;
        } else if (i < n && s[i] == 'm') {
            unit = 60e9L;
            i++;
        } else if (i < n && s[i] == 'h') {
            unit = 3600e9L;
            i++;
        } else {
            return false;
        }
        total += v * unit;
        if (total > 9.2e18L)
            return false;
    }
    *out = (int64_t)(neg ? -total : total);
    return true;
}

static bool parse_ip(const char *s, size_t n, cel_value_t *v)
{
    char buf[64];
    if (n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    memset(v, 0, sizeof(*v));
    v->kind = CEL_IPADDRESS;
    if (inet_pton(AF_INET, buf, v->ip.addr) == 1) {
        v->ip.family = 4;
        return true;
    }
    if (inet_pton(AF_INET6, buf, v->ip.addr) == 1) {
        v->ip.family = 6;
        return true;
    }
    return false;
}

/* ---- conversions from JSON (request and tuple context) ---- */

cel_value_t cel_from_json(const json_t *j, const cel_type_t *t, nova_arena_t *a)
{
    evalctx_t c = {.a = a};
    cel_kind k = t ? t->kind : CEL_ANY;
    if (json_is_null(j) && k != CEL_ANY)
        return verr(&c, "null is not a %s", kind_name(k));
    switch (k) {
    case CEL_ANY:
        if (json_is_null(j))
            return (cel_value_t){.kind = CEL_NULL};
        if (json_is_boolean(j))
            return vbool(json_is_true(j));
        if (json_is_integer(j))
            return vint(json_integer_value(j));
        if (json_is_real(j))
            return vdouble(json_real_value(j));
        if (json_is_string(j))
            return vstr(&c, CEL_STRING, json_string_value(j), json_string_length(j));
        if (json_is_array(j)) {
            cel_type_t any = {.kind = CEL_ANY};
            cel_type_t lt = {.kind = CEL_LIST, .elem = &any};
            return cel_from_json(j, &lt, a);
        }
        {
            cel_type_t any = {.kind = CEL_ANY};
            cel_type_t mt = {.kind = CEL_MAP, .elem = &any};
            return cel_from_json(j, &mt, a);
        }
    case CEL_BOOL:
        if (!json_is_boolean(j))
            return verr(&c, "expected a bool");
        return vbool(json_is_true(j));
    case CEL_INT:
        if (json_is_integer(j))
            return vint(json_integer_value(j));
        if (json_is_real(j)) {
            double d = json_real_value(j);
            if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18)
                return vint((int64_t)d);
        }
        if (json_is_string(j)) {
            const char *s = json_string_value(j);
            char *e;
            errno = 0;
            long long v = strtoll(s, &e, 10);
            if (*s && !*e && errno == 0)
                return vint(v);
        }
        return verr(&c, "expected an int");
    case CEL_UINT:
        if (json_is_integer(j) && json_integer_value(j) >= 0)
            return vuint((uint64_t)json_integer_value(j));
        if (json_is_real(j)) {
            double d = json_real_value(j);
            if (d == floor(d) && d >= 0 && d <= 1.8e19)
                return vuint((uint64_t)d);
        }
        if (json_is_string(j)) {
            const char *s = json_string_value(j);
            char *e;
            errno = 0;
            unsigned long long v = strtoull(s, &e, 10);
            if (*s && *s != '-' && !*e && errno == 0)
                return vuint(v);
        }
        return verr(&c, "expected a uint");
    case CEL_DOUBLE:
        if (json_is_number(j))
            return vdouble(json_number_value(j));
        if (json_is_string(j)) {
            const char *s = json_string_value(j);
            char *e;
            errno = 0;
            double d = strtod(s, &e);
            if (*s && !*e && errno == 0)
                return vdouble(d);
        }
        return verr(&c, "expected a double");
    case CEL_STRING:
        if (!json_is_string(j))
            return verr(&c, "expected a string");
        return vstr(&c, CEL_STRING, json_string_value(j), json_string_length(j));
    case CEL_BYTES:
        if (!json_is_string(j))
            return verr(&c, "expected bytes (a string)");
        return vstr(&c, CEL_BYTES, json_string_value(j), json_string_length(j));
    case CEL_TIMESTAMP: {
        cel_value_t v = {.kind = CEL_TIMESTAMP};
        if (!json_is_string(j) ||
            !parse_rfc3339(json_string_value(j), json_string_length(j), &v.ts.sec, &v.ts.nsec))
            return verr(&c, "expected an RFC 3339 timestamp");
        return v;
    }
    case CEL_DURATION: {
        cel_value_t v = {.kind = CEL_DURATION};
        if (!json_is_string(j) ||
            !parse_duration(json_string_value(j), json_string_length(j), &v.dur_ns))
            return verr(&c, "expected a duration such as \"1h30m\"");
        return v;
    }
    case CEL_IPADDRESS: {
        cel_value_t v;
        if (!json_is_string(j) || !parse_ip(json_string_value(j), json_string_length(j), &v))
            return verr(&c, "expected an IP address");
        return v;
    }
    case CEL_LIST: {
        if (!json_is_array(j))
            return verr(&c, "expected a list");
        cel_value_t v = {.kind = CEL_LIST};
        v.list.n = json_array_size(j);
        v.list.v = nova_arena_alloc(a, (v.list.n ? v.list.n : 1) * sizeof(cel_value_t));
        if (!v.list.v)
            return verr(&c, "out of memory");
        for (size_t i = 0; i < v.list.n; i++) {
            v.list.v[i] = cel_from_json(json_array_get(j, i), t->elem, a);
            if (v.list.v[i].kind == CEL_ERROR)
                return v.list.v[i];
        }
        return v;
    }
    case CEL_MAP: {
        if (!json_is_object(j))
            return verr(&c, "expected a map");
        cel_value_t v = {.kind = CEL_MAP};
        v.list.n = json_object_size(j) * 2;
        v.list.v = nova_arena_alloc(a, (v.list.n ? v.list.n : 1) * sizeof(cel_value_t));
        if (!v.list.v)
            return verr(&c, "out of memory");
        size_t i = 0;
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)j, key, val)
        {
            v.list.v[i] = vstr(&c, CEL_STRING, key, strlen(key));
            v.list.v[i + 1] = cel_from_json(val, t->elem, a);
            if (v.list.v[i + 1].kind == CEL_ERROR)
                return v.list.v[i + 1];
            i += 2;
        }
        return v;
    }
    default:
        return verr(&c, "unsupported parameter type");
    }
}

bool cel_type_parse(const char *s, size_t n, nova_arena_t *a, cel_type_t **out)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    static const struct {
        const char *name;
        cel_kind kind;
    } names[] = {{"bool", CEL_BOOL},           {"int", CEL_INT},
                 {"uint", CEL_UINT},           {"double", CEL_DOUBLE},
                 {"string", CEL_STRING},       {"bytes", CEL_BYTES},
                 {"timestamp", CEL_TIMESTAMP}, {"duration", CEL_DURATION},
                 {"ipaddress", CEL_IPADDRESS}, {"any", CEL_ANY}};
    cel_type_t *t = nova_arena_alloc(a, sizeof(*t));
    if (!t)
        return false;
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i].name) == n && memcmp(s, names[i].name, n) == 0) {
            t->kind = names[i].kind;
            *out = t;
            return true;
        }
    }
    size_t pre = 0;
    if (n > 6 && memcmp(s, "list<", 5) == 0) {
        t->kind = CEL_LIST;
        pre = 5;
    } else if (n > 5 && memcmp(s, "map<", 4) == 0) {
        t->kind = CEL_MAP;
        pre = 4;
    } else {
        return false;
    }
    if (s[n - 1] != '>')
        return false;
    if (!cel_type_parse(s + pre, n - pre - 1, a, &t->elem))
        return false;
    *out = t;
    return true;
}

/* ---- evaluation ---- */

static cel_value_t eval(evalctx_t *c, const node_t *n);

/* Unknown wins over error, error over value: the first unknown/error of args, or kind 0. */
static const cel_value_t *first_bad(const cel_value_t *v, size_t n)
{
    const cel_value_t *e = NULL;
    for (size_t i = 0; i < n; i++) {
        if (v[i].kind == CEL_UNKNOWN)
            return &v[i];
        if (v[i].kind == CEL_ERROR && !e)
            e = &v[i];
    }
    return e;
}

static cel_value_t ts_add(evalctx_t *c, int64_t sec, int64_t nsec, int64_t dns)
{
    __int128 total = (__int128)sec * 1000000000 + nsec + dns;
    __int128 s = total / 1000000000;
    __int128 ns = total % 1000000000;
    if (ns < 0) {
        ns += 1000000000;
        s -= 1;
    }
    if (s < TS_MIN || s > TS_MAX)
        return verr(c, "timestamp out of range");
    cel_value_t v = {.kind = CEL_TIMESTAMP};
    v.ts.sec = (int64_t)s;
    v.ts.nsec = (int32_t)ns;
    return v;
}

static cel_value_t arith(evalctx_t *c, binop op, const cel_value_t *l, const cel_value_t *r)
{
    if (l->kind == CEL_INT && r->kind == CEL_INT) {
        int64_t x = l->i, y = r->i, z;
        switch (op) {
        case OP_ADD:
            if (__builtin_add_overflow(x, y, &z))
                return verr(c, "integer overflow");
            return vint(z);
        case OP_SUB:
            if (__builtin_sub_overflow(x, y, &z))
                return verr(c, "integer overflow");
            return vint(z);
        case OP_MUL:
            if (__builtin_mul_overflow(x, y, &z))
                return verr(c, "integer overflow");
            return vint(z);
        case OP_DIV:
            if (y == 0)
                return verr(c, "division by zero");
            if (x == INT64_MIN && y == -1)
                return verr(c, "integer overflow");
            return vint(x / y);
        case OP_MOD:
            if (y == 0)
                return verr(c, "modulus by zero");
            if (x == INT64_MIN && y == -1)
                return vint(0);
            return vint(x % y);
        default:
            break;
        }
    }
    if (l->kind == CEL_UINT && r->kind == CEL_UINT) {
        uint64_t x = l->u, y = r->u, z;
        switch (op) {
        case OP_ADD:
            if (__builtin_add_overflow(x, y, &z))
                return verr(c, "unsigned integer overflow");
            return vuint(z);
        case OP_SUB:
            if (__builtin_sub_overflow(x, y, &z))
                return verr(c, "unsigned integer overflow");
            return vuint(z);
        case OP_MUL:
            if (__builtin_mul_overflow(x, y, &z))
                return verr(c, "unsigned integer overflow");
            return vuint(z);
        case OP_DIV:
            if (y == 0)
                return verr(c, "division by zero");
            return vuint(x / y);
        case OP_MOD:
            if (y == 0)
                return verr(c, "modulus by zero");
            return vuint(x % y);
        default:
            break;
        }
    }
    if (l->kind == CEL_DOUBLE && r->kind == CEL_DOUBLE && op != OP_MOD) {
        double x = l->d, y = r->d;
        return vdouble(op == OP_ADD ? x + y : op == OP_SUB ? x - y : op == OP_MUL ? x * y : x / y);
    }
    if (op == OP_ADD && l->kind == r->kind &&
        (l->kind == CEL_STRING || l->kind == CEL_BYTES || l->kind == CEL_LIST)) {
        if (l->kind == CEL_LIST) {
            cel_value_t v = {.kind = CEL_LIST};
            v.list.n = l->list.n + r->list.n;
            v.list.v = nova_arena_alloc(c->a, (v.list.n ? v.list.n : 1) * sizeof(cel_value_t));
            if (!v.list.v)
                return verr(c, "out of memory");
            if (l->list.n)
                memcpy(v.list.v, l->list.v, l->list.n * sizeof(cel_value_t));
            if (r->list.n)
                memcpy(v.list.v + l->list.n, r->list.v, r->list.n * sizeof(cel_value_t));
            return v;
        }
        char *p = nova_arena_alloc(c->a, l->s.n + r->s.n + 1);
        if (!p)
            return verr(c, "out of memory");
        memcpy(p, l->s.p, l->s.n);
        memcpy(p + l->s.n, r->s.p, r->s.n);
        p[l->s.n + r->s.n] = '\0';
        cel_value_t v = {.kind = l->kind};
        v.s.p = p;
        v.s.n = l->s.n + r->s.n;
        return v;
    }
    if (l->kind == CEL_TIMESTAMP && r->kind == CEL_DURATION && (op == OP_ADD || op == OP_SUB)) {
        if (op == OP_SUB && r->dur_ns == INT64_MIN)
            return verr(c, "duration overflow");
        return ts_add(c, l->ts.sec, l->ts.nsec, op == OP_ADD ? r->dur_ns : -r->dur_ns);
    }
    if (l->kind == CEL_DURATION && r->kind == CEL_TIMESTAMP && op == OP_ADD)
        return ts_add(c, r->ts.sec, r->ts.nsec, l->dur_ns);
    if (l->kind == CEL_TIMESTAMP && r->kind == CEL_TIMESTAMP && op == OP_SUB) {
        __int128 d = ((__int128)l->ts.sec - r->ts.sec) * 1000000000 + (l->ts.nsec - r->ts.nsec);
        if (d > INT64_MAX || d < INT64_MIN)
            return verr(c, "duration overflow");
        cel_value_t v = {.kind = CEL_DURATION};
        v.dur_ns = (int64_t)d;
        return v;
    }
    if (l->kind == CEL_DURATION && r->kind == CEL_DURATION && (op == OP_ADD || op == OP_SUB)) {
        cel_value_t v = {.kind = CEL_DURATION};
        bool of = op == OP_ADD ? __builtin_add_overflow(l->dur_ns, r->dur_ns, &v.dur_ns)
                               : __builtin_sub_overflow(l->dur_ns, r->dur_ns, &v.dur_ns);
        if (of)
            return verr(c, "duration overflow");
        return v;
    }
    static const char *const opn[] = {
        "==", "!=", "<", "<=", ">", ">=", "in", "+", "-", "*", "/", "%"};
    return verr(c, "no such overload: %s %s %s", kind_name(l->kind), opn[op], kind_name(r->kind));
}

static cel_value_t binary(evalctx_t *c, binop op, const cel_value_t *l, const cel_value_t *r)
{
    bool ok;
    int cmp;
    switch (op) {
    case OP_EQ:
        return vbool(val_eq(l, r));
    case OP_NE:
        return vbool(!val_eq(l, r));
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
        cmp = val_cmp(l, r, &ok);
        if (!ok) {
            if (is_num(l) && is_num(r))
                return vbool(false); /* NaN */
            return verr(c, "no such overload: %s < %s", kind_name(l->kind), kind_name(r->kind));
        }
        return vbool(op == OP_LT   ? cmp < 0
                     : op == OP_LE ? cmp <= 0
                     : op == OP_GT ? cmp > 0
                                   : cmp >= 0);
    case OP_IN:
        if (r->kind == CEL_LIST) {
            for (size_t i = 0; i < r->list.n; i++)
                if (val_eq(l, &r->list.v[i]))
                    return vbool(true);
            return vbool(false);
        }
        if (r->kind == CEL_MAP) {
            for (size_t i = 0; i < r->list.n; i += 2)
                if (val_eq(l, &r->list.v[i]))
                    return vbool(true);
            return vbool(false);
        }
        return verr(c, "no such overload: %s in %s", kind_name(l->kind), kind_name(r->kind));
    default:
        return arith(c, op, l, r);
    }
}

/* ---- functions: a table of name -> implementation ---- */

typedef cel_value_t (*cel_fn)(evalctx_t *c, const cel_value_t *args, size_t n);

static bool utf8_count(const char *s, size_t n, size_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t l = nova_utf8_len(s + i, n - i);
        if (!l)
            return false;
        i += l;
        k++;
    }
    *out = k;
    return true;
}

static cel_value_t fn_size(evalctx_t *c, const cel_value_t *a, size_t n)
{
    if (n != 1)
        return verr(c, "size takes one argument");
    switch (a[0].kind) {
    case CEL_STRING: {
        size_t k;
        if (!utf8_count(a[0].s.p, a[0].s.n, &k))
            return verr(c, "invalid UTF-8");
        return vint((int64_t)k);
    }
    case CEL_BYTES:
        return vint((int64_t)a[0].s.n);
    case CEL_LIST:
        return vint((int64_t)a[0].list.n);
    case CEL_MAP:
        return vint((int64_t)(a[0].list.n / 2));
    default:
        return verr(c, "no such overload: size(%s)", kind_name(a[0].kind));
    }
}

static bool two_strings(const cel_value_t *a, size_t n)
{
    return n == 2 && a[0].kind == CEL_STRING && a[1].kind == CEL_STRING;
}

static cel_value_t fn_starts(evalctx_t *c, const cel_value_t *a, size_t n)
{
    if (!two_strings(a, n))
        return verr(c, "no such overload: startsWith");
    return vbool(a[1].s.n <= a[0].s.n && memcmp(a[0].s.p, a[1].s.p, a[1].s.n) == 0);
}

static cel_value_t fn_ends(evalctx_t *c, const cel_value_t *a, size_t n)
{
    if (!two_strings(a, n))
        return verr(c, "no such overload: endsWith");
    return vbool(a[1].s.n <= a[0].s.n &&
                 memcmp(a[0].s.p + a[0].s.n - a[1].s.n, a[1].s.p, a[1].s.n) == 0);
}

static cel_value_t fn_contains(evalctx_t *c, const cel_value_t *a, size_t n)
{
    if (!two_strings(a, n))
        return verr(c, "no such overload: contains");
    if (a[1].s.n == 0)
        return vbool(true);
    return vbool(memmem(a[0].s.p, a[0].s.n, a[1].s.p, a[1].s.n) != NULL);
}

/* RE2 patterns on POSIX extended regular expressions: the RE2 shorthands \d \D are rewritten
 * to bracket expressions (glibc already knows \w \W \s \S \b); anything else RE2-only (lazy
 * quantifiers, (?i) flags, named groups) fails to compile and is an evaluation error. */
/* Refuses patterns whose compilation can blow up in glibc's regcomp (measured: policy_fuzz
 * ran it out of memory on a repetition of a repetition): at most 256 bytes and 32 repetition
 * operators, at most 4 counted ones ({m,n}) with counts up to 100, and no repetition operator
 * right after another
 * (outside bracket expressions). NULL when the pattern is acceptable. */
static const char *regex_unsafe(const char *p, size_t n)
{
    size_t reps = 0, braces = 0;
    bool prev_rep = false, in_bracket = false;
    if (n > 256)
        return "matches: the pattern is longer than 256 bytes";
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (in_bracket) {
            if (ch == ']')
                in_bracket = false;
            continue;
        }
        if (ch == '\\') {
            i++;
            prev_rep = false;
            continue;
        }
        if (ch == '[') {
            in_bracket = true;
            if (i + 1 < n && p[i + 1] == ']')
                i++;
            prev_rep = false;
            continue;
        }
        bool rep = ch == '*' || ch == '+' || ch == '?' || ch == '{';
        if (rep && prev_rep)
            return "matches: a repetition of a repetition";
        if (ch == '{') {
            if (++braces > 4) /* nested counted repetitions multiply */
                return "matches: more than 4 counted repetitions";
            size_t j = i + 1;
            long v = 0;
            for (; j < n && p[j] != '}'; j++)
                if (p[j] >= '0' && p[j] <= '9' && (v = v * 10 + (p[j] - '0')) > 100)
                    return "matches: a repetition count over 100";
            i = j;
        }
        if (rep && ++reps > 32)
            return "matches: more than 32 repetitions";
        prev_rep = rep;
    }
    return NULL;
}

static cel_value_t fn_matches(evalctx_t *c, const cel_value_t *a, size_t n)
{
    if (!two_strings(a, n))
        return verr(c, "no such overload: matches");
    if (memchr(a[0].s.p, '\0', a[0].s.n) || memchr(a[1].s.p, '\0', a[1].s.n))
        return verr(c, "matches: NUL byte in string");
    const char *unsafe = regex_unsafe(a[1].s.p, a[1].s.n);
    if (unsafe)
        return verr(c, "%s", unsafe);
    nova_buf_t pat;
    nova_buf_init(&pat);
    for (size_t i = 0; i < a[1].s.n; i++) {
        char ch = a[1].s.p[i];
        if (ch == '\\' && i + 1 < a[1].s.n && (a[1].s.p[i + 1] == 'd' || a[1].s.p[i + 1] == 'D')) {
            nova_buf_append_cstr(&pat, a[1].s.p[i + 1] == 'd' ? "[0-9]" : "[^0-9]");
            i++;
            continue;
        }
        if (ch == '\\' && i + 1 < a[1].s.n) {
            nova_buf_append(&pat, a[1].s.p + i, 2);
            i++;
            continue;
        }
        nova_buf_append(&pat, &ch, 1);
    }
    regex_t re;
    int rc = regcomp(&re, pat.data ? pat.data : "", REG_EXTENDED | REG_NOSUB);
    nova_buf_free(&pat);
    if (rc != 0)
        return verr(c, "matches: invalid regular expression");
    rc = regexec(&re, a[0].s.p, 0, NULL, 0);
    regfree(&re);
    return vbool(rc == 0);
}

static cel_value_t fn_timestamp(evalctx_t *c, const cel_value_t *a, size_t n)
{
    if (n == 1 && a[0].kind == CEL_TIMESTAMP)
        return a[0];
    if (n == 1 && a[0].kind == CEL_INT)
        return ts_add(c, a[0].i, 0, 0);
    cel_value_t v = {.kind = CEL_TIMESTAMP};
    if (n != 1 || a[0].kind != CEL_STRING ||
        !parse_rfc3339(a[0].s.p, a[0].s.n, &v.ts.sec, &v.ts.nsec))
        return verr(c, "timestamp: expected an RFC 3339 string");
    return v;
}

static cel_value_t fn_duration(evalctx_t *c, const cel_value_t *a, size_t n)
{
    if (n == 1 && a[0].kind == CEL_DURATION)
        return a[0];
    cel_value_t v = {.kind = CEL_DURATION};
    if (n != 1 || a[0].kind != CEL_STRING || !parse_duration(a[0].s.p, a[0].s.n, &v.dur_ns))
        return verr(c, "duration: expected a string such as \"1h30m\"");
    return v;
}

static cel_value_t fn_ipaddress(evalctx_t *c, const cel_value_t *a, size_t n)
{
    if (n == 1 && a[0].kind == CEL_IPADDRESS)
        return a[0];
    cel_value_t v;
    if (n != 1 || a[0].kind != CEL_STRING || !parse_ip(a[0].s.p, a[0].s.n, &v))
        return verr(c, "ipaddress: not an IP address");
    return v;
}

static cel_value_t fn_in_cidr(evalctx_t *c, const cel_value_t *a, size_t n)
{
    if (n != 2 || a[0].kind != CEL_IPADDRESS || a[1].kind != CEL_STRING)
        return verr(c, "no such overload: in_cidr");
    const char *slash = memchr(a[1].s.p, '/', a[1].s.n);
    if (!slash)
        return verr(c, "in_cidr: expected a CIDR such as 10.0.0.0/8");
    cel_value_t net;
    if (!parse_ip(a[1].s.p, (size_t)(slash - a[1].s.p), &net))
        return verr(c, "in_cidr: bad network address");
    size_t plen_n = a[1].s.n - (size_t)(slash - a[1].s.p) - 1;
    int bits = digits(slash + 1, (int)plen_n);
    int maxbits = net.ip.family == 4 ? 32 : 128;
    if (plen_n == 0 || plen_n > 3 || bits < 0 || bits > maxbits)
        return verr(c, "in_cidr: bad prefix length");
    if (net.ip.family != a[0].ip.family)
        return vbool(false);
    for (int i = 0; i < bits; i++) {
        int byte = i / 8, bit = 7 - i % 8;
        if (((a[0].ip.addr[byte] >> bit) & 1) != ((net.ip.addr[byte] >> bit) & 1))
            return vbool(false);
    }
    return vbool(true);
}

static cel_value_t fn_int(evalctx_t *c, const cel_value_t *a, size_t n)
{
    if (n != 1)
        return verr(c, "int takes one argument");
    switch (a[0].kind) {
    case CEL_INT:
        return a[0];
    case CEL_UINT:
        if (a[0].u > (uint64_t)INT64_MAX)
            return verr(c, "int: range error");
        return vint((int64_t)a[0].u);
    case CEL_DOUBLE:
        if (!(a[0].d > -9223372036854775808.0 && a[0].d < 9223372036854775808.0))
            return verr(c, "int: range error");
        return vint((int64_t)a[0].d);
    case CEL_STRING: {
        char buf[32];
        if (a[0].s.n == 0 || a[0].s.n >= sizeof(buf))
            return verr(c, "int: bad string");
        memcpy(buf, a[0].s.p, a[0].s.n);
        buf[a[0].s.n] = '\0';
        char *e;
        errno = 0;
        long long v = strtoll(buf, &e, 10);
        if (*e || errno)
            return verr(c, "int: bad string");
        return vint(v);
    }
    case CEL_TIMESTAMP:
        return vint(a[0].ts.sec);
    case CEL_DURATION:
        return vint(a[0].dur_ns / 1000000000);
    default:
        return verr(c, "no such overload: int(%s)", kind_name(a[0].kind));
    }
}

static cel_value_t fn_uint(evalctx_t *c, const cel_value_t *a, size_t n)
{
    if (n != 1)
        return verr(c, "uint takes one argument");
    switch (a[0].kind) {
    case CEL_UINT:
        return a[0];
    case CEL_INT:
        if (a[0].i < 0)
            return verr(c, "uint: range error");
        return vuint((uint64_t)a[0].i);
    case CEL_DOUBLE:
        if (!(a[0].d >= 0 && a[0].d < 18446744073709551616.0))
            return verr(c, "uint: range error");
        return vuint((uint64_t)a[0].d);
    case CEL_STRING: {
        char buf[32];
        if (a[0].s.n == 0 || a[0].s.n >= sizeof(buf) || a[0].s.p[0] == '-')
            return verr(c, "uint: bad string");
        memcpy(buf, a[0].s.p, a[0].s.n);
        buf[a[0].s.n] = '\0';
        char *e;
        errno = 0;
        unsigned long long v = strtoull(buf, &e, 10);
        if (*e || errno)
            return verr(c, "uint: bad string");
        return vuint(v);
    }
    default:
        return verr(c, "no such overload: uint(%s)", kind_name(a[0].kind));
    }
}

static cel_value_t fn_double(evalctx_t *c, const cel_value_t *a, size_t n)
{
    if (n != 1)
        return verr(c, "double takes one argument");
    switch (a[0].kind) {
    case CEL_DOUBLE:
        return a[0];
    case CEL_INT:
        return vdouble((double)a[0].i);
    case CEL_UINT:
        return vdouble((double)a[0].u);
    case CEL_STRING: {
        char buf[64];
        if (a[0].s.n == 0 || a[0].s.n >= sizeof(buf))
            return verr(c, "double: bad string");
        memcpy(buf, a[0].s.p, a[0].s.n);
        buf[a[0].s.n] = '\0';
        char *e;
        double d = strtod(buf, &e);
        if (*e)
            return verr(c, "double: bad string");
        return vdouble(d);
    }
    default:
        return verr(c, "no such overload: double(%s)", kind_name(a[0].kind));
    }
}

static cel_value_t fn_string(evalctx_t *c, const cel_value_t *a, size_t n)
{
    if (n != 1)
        return verr(c, "string takes one argument");
    char buf[80];
    switch (a[0].kind) {
    case CEL_STRING:
        return a[0];
    case CEL_BYTES:
        if (!nova_utf8_valid(a[0].s.p, a[0].s.n))
            return verr(c, "string: bytes are not UTF-8");
        return vstr(c, CEL_STRING, a[0].s.p, a[0].s.n);
    case CEL_INT:
        snprintf(buf, sizeof(buf), "%lld", (long long)a[0].i);
        break;
    case CEL_UINT:
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)a[0].u);
        break;
    case CEL_DOUBLE:
        snprintf(buf, sizeof(buf), "%.17g", a[0].d);
        break;
    case CEL_BOOL:
        snprintf(buf, sizeof(buf), "%s", a[0].b ? "true" : "false");
        break;
    case CEL_IPADDRESS:
        inet_ntop(a[0].ip.family == 4 ? AF_INET : AF_INET6, a[0].ip.addr, buf, sizeof(buf));
        break;
    case CEL_TIMESTAMP: {
        int64_t y;
        unsigned mo, d;
        int64_t days = a[0].ts.sec >= 0 ? a[0].ts.sec / 86400 : -((-a[0].ts.sec + 86399) / 86400);
        int64_t rem = a[0].ts.sec - days * 86400;
        civil_from_days(days, &y, &mo, &d);
        if (a[0].ts.nsec)
            snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02d:%02d:%02d.%09dZ", (long long)y, mo, d,
                     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), a[0].ts.nsec);
        else
            snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, mo, d,
                     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
        break;
    }
    case CEL_DURATION:
        snprintf(buf, sizeof(buf), "%.9gs", (double)a[0].dur_ns / 1e9);
        break;
    default:
        return verr(c, "no such overload: string(%s)", kind_name(a[0].kind));
    }
    return vstr(c, CEL_STRING, buf, strlen(buf));
}

static cel_value_t fn_bytes(evalctx_t *c, const cel_value_t *a, size_t n)
{
    if (n != 1 || (a[0].kind != CEL_STRING && a[0].kind != CEL_BYTES))
        return verr(c, "no such overload: bytes");
    return vstr(c, CEL_BYTES, a[0].s.p, a[0].s.n);
}

static cel_value_t fn_bool(evalctx_t *c, const cel_value_t *a, size_t n)
{
    if (n == 1 && a[0].kind == CEL_BOOL)
        return a[0];
    if (n == 1 && a[0].kind == CEL_STRING) {
        static const char *const t[] = {"1", "t", "true", "TRUE", "True"};
        static const char *const f[] = {"0", "f", "false", "FALSE", "False"};
        for (int i = 0; i < 5; i++) {
            if (a[0].s.n == strlen(t[i]) && memcmp(a[0].s.p, t[i], a[0].s.n) == 0)
                return vbool(true);
            if (a[0].s.n == strlen(f[i]) && memcmp(a[0].s.p, f[i], a[0].s.n) == 0)
                return vbool(false);
        }
    }
    return verr(c, "no such overload: bool");
}

/* Timestamp and duration accessors, UTC only (a time zone argument is an error). */
static cel_value_t ts_part(evalctx_t *c, const cel_value_t *a, size_t n, int part)
{
    if (n != 1)
        return verr(c, "time zone arguments are not supported");
    if (a[0].kind == CEL_DURATION) {
        int64_t d = a[0].dur_ns;
        switch (part) {
        case 4:
            return vint(d / 3600000000000LL);
        case 5:
            return vint(d / 60000000000LL);
        case 6:
            return vint(d / 1000000000LL);
        case 7:
            return vint(d / 1000000LL);
        default:
            return verr(c, "no such overload on duration");
        }
    }
    if (a[0].kind != CEL_TIMESTAMP)
        return verr(c, "no such overload on %s", kind_name(a[0].kind));
    int64_t s = a[0].ts.sec;
    int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
    int64_t rem = s - days * 86400;
    int64_t y;
    unsigned mo, d;
    civil_from_days(days, &y, &mo, &d);
    switch (part) {
    case 0:
        return vint(y);
    case 1:
        return vint((int64_t)mo - 1);
    case 2:
        return vint((int64_t)d - 1); /* getDayOfMonth: 0-based */
    case 3:
        return vint((int64_t)d); /* getDate: 1-based */
    case 4:
        return vint(rem / 3600);
    case 5:
        return vint(rem / 60 % 60);
    case 6:
        return vint(rem % 60);
    case 7:
        return vint(a[0].ts.nsec / 1000000);
    case 8: /* day of week, 0 = Sunday; 1970-01-01 was a Thursday */
        return vint(((days % 7) + 11) % 7);
    case 9:
        return vint(days - days_from_civil(y, 1, 1));
    default:
        return verr(c, "bad accessor");
    }
}

#define TS_FN(name, part)                                                                          \
    static cel_value_t name(evalctx_t *c, const cel_value_t *a, size_t n)                          \
    {                                                                                              \
        return ts_part(c, a, n, part);                                                             \
    }
TS_FN(fn_year, 0)
TS_FN(fn_month, 1)
TS_FN(fn_dom, 2)
TS_FN(fn_date, 3)
TS_FN(fn_hours, 4)
TS_FN(fn_minutes, 5)
TS_FN(fn_seconds, 6)
TS_FN(fn_millis, 7)
TS_FN(fn_dow, 8)
TS_FN(fn_doy, 9)

static const struct {
    const char *name;
    cel_fn fn;
} functions[] = {
    {"size", fn_size},
    {"startsWith", fn_starts},
    {"endsWith", fn_ends},
    {"contains", fn_contains},
    {"matches", fn_matches},
    {"timestamp", fn_timestamp},
    {"duration", fn_duration},
    {"ipaddress", fn_ipaddress},
    {"in_cidr", fn_in_cidr},
    {"int", fn_int},
    {"uint", fn_uint},
    {"double", fn_double},
    {"string", fn_string},
    {"bytes", fn_bytes},
    {"bool", fn_bool},
    {"getFullYear", fn_year},
    {"getMonth", fn_month},
    {"getDayOfMonth", fn_dom},
    {"getDate", fn_date},
    {"getHours", fn_hours},
    {"getMinutes", fn_minutes},
    {"getSeconds", fn_seconds},
    {"getMilliseconds", fn_millis},
    {"getDayOfWeek", fn_dow},
    {"getDayOfYear", fn_doy},
};

static cel_value_t lookup(evalctx_t *c, const char *name)
{
    for (size_t i = c->nlocals; i > 0; i--)
        if (strcmp(c->locals[i - 1].name, name) == 0)
            return c->locals[i - 1].v;
    for (size_t i = 0; i < c->nb; i++)
        if (strcmp(c->b[i].name, name) == 0)
            return c->b[i].value;
    return verr(c, "undeclared reference to '%s'", name);
}

/* list.all(x, p), exists, exists_one, map(x, e), filter(x, p) */
static cel_value_t macro(evalctx_t *c, const node_t *n, bool *handled)
{
    static const char *const names[] = {"all", "exists", "exists_one", "map", "filter"};
    int which = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(n->name, names[i]) == 0)
            which = i;
    *handled = false;
    if (which < 0 || !n->target || n->nargs != 2 || n->args[0]->kind != N_IDENT)
        return (cel_value_t){0};
    *handled = true;
    cel_value_t range = eval(c, n->target);
    if (range.kind == CEL_UNKNOWN || range.kind == CEL_ERROR)
        return range;
    if (range.kind != CEL_LIST && range.kind != CEL_MAP)
        return verr(c, "%s: expected a list or a map", n->name);
    if (c->nlocals == sizeof(c->locals) / sizeof(c->locals[0]))
        return verr(c, "comprehensions nested too deeply");
    size_t step = range.kind == CEL_MAP ? 2 : 1;
    size_t count = range.list.n / step;
    cel_value_t *outv = NULL;
    size_t outn = 0;
    if (which >= 3) {
        outv = nova_arena_alloc(c->a, (count ? count : 1) * sizeof(cel_value_t));
        if (!outv)
            return verr(c, "out of memory");
    }
    bool any_true = false, any_false = false;
    size_t ntrue = 0;
    cel_value_t bad = {0};
    bool have_bad = false;
    size_t slot = c->nlocals++;
    c->locals[slot].name = n->args[0]->name;
    for (size_t i = 0; i < range.list.n; i += step) {
        c->locals[slot].v = range.list.v[i];
        cel_value_t r = eval(c, n->args[1]);
        if (which == 3) {
            if (r.kind == CEL_UNKNOWN || r.kind == CEL_ERROR) {
                c->nlocals--;
                return r;
            }
            outv[outn++] = range.list.v[i];
            outv[outn - 1] = r;
            continue;
        }
        if (r.kind == CEL_BOOL) {
            if (r.b) {
                any_true = true;
                ntrue++;
                if (which == 4)
                    outv[outn++] = range.list.v[i];
            } else {
                any_false = true;
            }
        } else if (r.kind == CEL_UNKNOWN || r.kind == CEL_ERROR) {
            if (!have_bad || r.kind == CEL_UNKNOWN)
                bad = r;
            have_bad = true;
        } else {
            if (!have_bad)
                bad = verr(c, "%s: predicate is not a bool", n->name);
            have_bad = true;
        }
    }
    c->nlocals--;
    if (which == 0) {
        if (any_false)
            return vbool(false);
        return have_bad ? bad : vbool(true);
    }
    if (which == 1) {
        if (any_true)
            return vbool(true);
        return have_bad ? bad : vbool(false);
    }
    if (have_bad)
        return bad;
    if (which == 2)
        return vbool(ntrue == 1);
    cel_value_t v = {.kind = CEL_LIST};
    v.list.v = outv;
    v.list.n = outn;
    return v;
}

static cel_value_t eval_call(evalctx_t *c, const node_t *n)
{
    if (strcmp(n->name, "has") == 0 && !n->target && n->nargs == 1 &&
        n->args[0]->kind == N_SELECT) {
        cel_value_t m = eval(c, n->args[0]->target);
        if (m.kind == CEL_UNKNOWN || m.kind == CEL_ERROR)
            return m;
        if (m.kind != CEL_MAP)
            return verr(c, "has: expected a map");
        for (size_t i = 0; i < m.list.n; i += 2)
            if (m.list.v[i].kind == CEL_STRING && strlen(n->args[0]->name) == m.list.v[i].s.n &&
                memcmp(m.list.v[i].s.p, n->args[0]->name, m.list.v[i].s.n) == 0)
                return vbool(true);
        return vbool(false);
    }
    bool handled;
    cel_value_t mv = macro(c, n, &handled);
    if (handled)
        return mv;
    cel_fn fn = NULL;
    for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++)
        if (strcmp(functions[i].name, n->name) == 0)
            fn = functions[i].fn;
    if (!fn)
        return verr(c, "undeclared function '%s'", n->name);
    size_t argc = n->nargs + (n->target ? 1 : 0);
    if (argc > 4)
        return verr(c, "too many arguments to '%s'", n->name);
    cel_value_t args[4];
    size_t k = 0;
    if (n->target)
        args[k++] = eval(c, n->target);
    for (size_t i = 0; i < n->nargs; i++)
        args[k++] = eval(c, n->args[i]);
    const cel_value_t *bad = first_bad(args, k);
    if (bad)
        return *bad;
    return fn(c, args, k);
}

static cel_value_t eval(evalctx_t *c, const node_t *n)
{
    if (++c->depth > 200) {
        c->depth--;
        return verr(c, "evaluation nested too deeply");
    }
    cel_value_t r;
    switch (n->kind) {
    case N_LIT:
        r = n->lit;
        break;
    case N_IDENT:
        r = lookup(c, n->name);
        break;
    case N_NOT: {
        cel_value_t v = eval(c, n->target);
        if (v.kind == CEL_BOOL)
            r = vbool(!v.b);
        else if (v.kind == CEL_UNKNOWN || v.kind == CEL_ERROR)
            r = v;
        else
            r = verr(c, "no such overload: !%s", kind_name(v.kind));
        break;
    }
    case N_NEG: {
        cel_value_t v = eval(c, n->target);
        if (v.kind == CEL_INT) {
            r = v.i == INT64_MIN ? verr(c, "integer overflow") : vint(-v.i);
        } else if (v.kind == CEL_DOUBLE) {
            r = vdouble(-v.d);
        } else if (v.kind == CEL_DURATION && v.dur_ns != INT64_MIN) {
            r = v;
            r.dur_ns = -v.dur_ns;
        } else if (v.kind == CEL_UNKNOWN || v.kind == CEL_ERROR) {
            r = v;
        } else {
            r = verr(c, "no such overload: -%s", kind_name(v.kind));
        }
        break;
    }
    case N_AND:
    case N_OR: {
        bool decisive = n->kind == N_OR; /* the value that decides alone */
        cel_value_t l = eval(c, n->args[0]);
        if (l.kind == CEL_BOOL && l.b == decisive) {
            r = l;
            break;
        }
        cel_value_t rr = eval(c, n->args[1]);
        if (rr.kind == CEL_BOOL && rr.b == decisive) {
            r = rr;
            break;
        }
        if (l.kind == CEL_BOOL && rr.kind == CEL_BOOL) {
            r = vbool(!decisive);
            break;
        }
        cel_value_t pair[2] = {l, rr};
        const cel_value_t *bad = first_bad(pair, 2);
        r = bad ? *bad : verr(c, "no such overload: logical operator on non-bool");
        break;
    }
    case N_COND: {
        cel_value_t cond = eval(c, n->args[0]);
        if (cond.kind == CEL_BOOL)
            r = eval(c, n->args[cond.b ? 1 : 2]);
        else if (cond.kind == CEL_UNKNOWN || cond.kind == CEL_ERROR)
            r = cond;
        else
            r = verr(c, "conditional on a non-bool");
        break;
    }
    case N_BINARY: {
        cel_value_t pair[2] = {eval(c, n->args[0]), eval(c, n->args[1])};
        const cel_value_t *bad = first_bad(pair, 2);
        r = bad ? *bad : binary(c, n->op, &pair[0], &pair[1]);
        break;
    }
    case N_CALL:
        r = eval_call(c, n);
        break;
    case N_SELECT: {
        cel_value_t m = eval(c, n->target);
        if (m.kind == CEL_UNKNOWN || m.kind == CEL_ERROR) {
            r = m;
            break;
        }
        if (m.kind != CEL_MAP) {
            r = verr(c, "no field '%s' on %s", n->name, kind_name(m.kind));
            break;
        }
        r = verr(c, "no such key: %s", n->name);
        size_t nl = strlen(n->name);
        for (size_t i = 0; i < m.list.n; i += 2)
            if (m.list.v[i].kind == CEL_STRING && m.list.v[i].s.n == nl &&
                memcmp(m.list.v[i].s.p, n->name, nl) == 0)
                r = m.list.v[i + 1];
        break;
    }
    case N_INDEX: {
        cel_value_t pair[2] = {eval(c, n->target), eval(c, n->args[0])};
        const cel_value_t *bad = first_bad(pair, 2);
        if (bad) {
            r = *bad;
            break;
        }
        if (pair[0].kind == CEL_LIST) {
            cel_value_t zero = vint(0), len = vint((int64_t)pair[0].list.n);
            if (!is_num(&pair[1]) ||
                (pair[1].kind == CEL_DOUBLE && pair[1].d != floor(pair[1].d))) {
                r = verr(c, "list index must be an integer");
            } else if (num_cmp(&pair[1], &zero) < 0 || num_cmp(&pair[1], &len) >= 0) {
                r = verr(c, "index out of range");
            } else {
                int64_t i = pair[1].kind == CEL_INT    ? pair[1].i
                            : pair[1].kind == CEL_UINT ? (int64_t)pair[1].u
                                                       : (int64_t)pair[1].d;
                r = pair[0].list.v[i];
            }
        } else if (pair[0].kind == CEL_MAP) {
            r = verr(c, "no such key");
            for (size_t i = 0; i < pair[0].list.n; i += 2)
                if (val_eq(&pair[0].list.v[i], &pair[1]))
                    r = pair[0].list.v[i + 1];
        } else {
            r = verr(c, "cannot index a %s", kind_name(pair[0].kind));
        }
        break;
    }
    case N_LIST:
    case N_MAP: {
        r = (cel_value_t){.kind = n->kind == N_LIST ? CEL_LIST : CEL_MAP};
        r.list.n = n->nargs;
        r.list.v = nova_arena_alloc(c->a, (n->nargs ? n->nargs : 1) * sizeof(cel_value_t));
        if (!r.list.v) {
            r = verr(c, "out of memory");
            break;
        }
        for (size_t i = 0; i < n->nargs; i++)
            r.list.v[i] = eval(c, n->args[i]);
        const cel_value_t *bad = first_bad(r.list.v, r.list.n);
        if (bad)
            r = *bad;
        break;
    }
    default:
        r = verr(c, "bad node");
    }
    c->depth--;
    return r;
}

cel_value_t cel_eval(const nova_cel_program_t *p, const cel_binding_t *b, size_t nb,
                     nova_arena_t *a)
{
    evalctx_t c = {.b = b, .nb = nb, .a = a};
    cel_value_t v = eval(&c, p->root);
    if (v.kind != CEL_BOOL && v.kind != CEL_UNKNOWN && v.kind != CEL_ERROR)
        v = verr(&c, "condition did not evaluate to a bool (got %s)", kind_name(v.kind));
    return v;
}

nova_status nova_cel_eval_json(const nova_cel_program_t *p, const json_t *vars, bool *result,
                               char *why, size_t whylen)
{
    enum { MAX_VARS = 16 };
    cel_binding_t b[MAX_VARS];
    size_t nb = 0;
    const char *k;
    json_t *v;
    nova_arena_t a;
    nova_arena_init(&a, 4096);
    *result = false;
    if (json_is_object(vars) && json_object_size(vars) > MAX_VARS) {
        snprintf(why, whylen, "at most %d variables", MAX_VARS);
        nova_arena_free(&a);
        return NOVA_INVALID;
    }
    json_object_foreach((json_t *)vars, k, v)
    {
        b[nb].name = k;
        b[nb].value = cel_from_json(v, NULL, &a);
        nb++;
    }
    cel_value_t r = cel_eval(p, b, nb, &a);
    nova_status st = NOVA_INVALID;
    if (r.kind == CEL_BOOL) {
        *result = r.b;
        st = NOVA_OK;
    } else if (r.kind == CEL_UNKNOWN) {
        snprintf(why, whylen, "'%.*s' is not defined", (int)r.s.n, r.s.p);
    } else if (r.kind == CEL_ERROR) {
        snprintf(why, whylen, "%.*s", (int)r.s.n, r.s.p);
    } else {
        snprintf(why, whylen, "the expression is not a bool");
    }
    nova_arena_free(&a);
    return st;
}
