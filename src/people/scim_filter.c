/* scim_filter.c: SCIM filters (RFC 7644 §3.4.2.2), parsed into a tree in the caller's arena
 * and matched against a resource's attributes. Pure: text in, tree out.
 *
 * Grammar (precedence: not, and, or; keywords and operators case-insensitive):
 *   filter  = term *("or" term)
 *   term    = factor *("and" factor)
 *   factor  = ["not"] "(" filter ")" | attrPath "pr" | attrPath op value
 *           | attrPath "[" filter "]"   (a value path: the inner paths are under attrPath)
 *   op      = eq ne co sw ew gt ge lt le;  value = JSON string | true | false | null | number
 * An attrPath may carry its schema URN ("urn:...:User:userName"); the URN is dropped. A value
 * path's inner filter is matched attribute by attribute over the resource's flattened values
 * (emails.type, emails.value), which is exact for resources with one value per
 * multi-valued attribute, as Nova's users have. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define FILTER_MAX_TEXT 4096
#define FILTER_MAX_DEPTH 16
#define FILTER_MAX_NODES 256
#define FILTER_MAX_PATH 128

typedef enum { N_AND, N_OR, N_NOT, N_CMP, N_PR } node_kind;
typedef enum { V_STR, V_BOOL, V_NULL, V_NUM } value_kind;
typedef enum { OP_EQ, OP_NE, OP_CO, OP_SW, OP_EW, OP_GT, OP_GE, OP_LT, OP_LE } cmp_op;

struct nova_scim_filter {
    node_kind kind;
    cmp_op op;
    const char *path; /* lower case, URN dropped */
    value_kind vkind;
    const char *value; /* V_STR, V_NUM */
    bool b;            /* V_BOOL */
    const nova_scim_filter_t *a, *b_;
};

static const struct {
    const char *name;
    cmp_op op;
} ops[] = {{"eq", OP_EQ}, {"ne", OP_NE}, {"co", OP_CO}, {"sw", OP_SW}, {"ew", OP_EW},
           {"gt", OP_GT}, {"ge", OP_GE}, {"lt", OP_LT}, {"le", OP_LE}};

typedef struct parser {
    nova_arena_t *ar;
    const char *s, *end;
    int depth, nodes;
    const char *prefix; /* a value path's attribute, or NULL */
    const char *why;
} parser;

static void skip_ws(parser *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t'))
        p->s++;
}

static bool is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == ':' || c == '$' || c == '-';
}

/* The next word (attribute path, keyword or number) without consuming it; its length. */
static size_t peek_word(parser *p)
{
    skip_ws(p);
    size_t n = 0;
    while (p->s + n < p->end && is_word_char(p->s[n]))
        n++;
    return n;
}

static bool word_is(parser *p, size_t n, const char *kw)
{
    return n == strlen(kw) && strncasecmp(p->s, kw, n) == 0;
}

static nova_scim_filter_t *node(parser *p, node_kind k)
{
    if (++p->nodes > FILTER_MAX_NODES) {
        p->why = "filter: too many expressions (at most 256)";
        return NULL;
    }
    nova_scim_filter_t *f = nova_arena_alloc(p->ar, sizeof(*f));
    if (f == NULL) {
        p->why = "filter: out of memory";
        return NULL;
    }
    memset(f, 0, sizeof(*f));
    f->kind = k;
    return f;
}

static const nova_scim_filter_t *parse_or(parser *p);

/* A JSON string value: the escapes \" \\ \/ \b \f \n \r \t; \u of ASCII only. */
static const char *parse_string(parser *p)
{
    nova_buf_t b;
    nova_buf_init(&b);
    p->s++; /* the opening quote */
    while (p->s < p->end && *p->s != '"') {
        char c = *p->s++;
        if ((unsigned char)c < 0x20) {
            p->why = "filter: a control character in a string";
            goto fail;
        }
        if (c == '\\') {
            if (p->s >= p->end)
                break;
            char e = *p->s++;
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *k = strchr(from, e);
            if (e != '\0' && k) {
                c = to[k - from];
            } else if (e == 'u' && p->end - p->s >= 4) {
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    char h = *p->s++;
                    if (!isxdigit((unsigned char)h)) {
                        p->why = "filter: a bad \\u escape in a string";
                        goto fail;
                    }
                    v = v * 16 +
                        (unsigned)(isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
                }
                if (v == 0 || v > 0x7f) {
                    p->why = "filter: \\u escapes of ASCII characters only";
                    goto fail;
                }
                c = (char)v;
            } else {
                p->why = "filter: a bad escape in a string";
                goto fail;
            }
        }
        if (nova_buf_append(&b, &c, 1) != NOVA_OK) {
            p->why = "filter: out of memory";
            goto fail;
        }
    }
    if (p->s >= p->end) {
        p->why = "filter: a string is not closed";
        goto fail;
    }
    p->s++;
    const char *out = nova_arena_strndup(p->ar, b.data ? b.data : "", b.len);
    nova_buf_free(&b);
    if (out == NULL)
        p->why = "filter: out of memory";
    return out;
fail:
    nova_buf_free(&b);
    return NULL;
}

/* attrPath, lower-cased, its schema URN dropped, under the value path's prefix. */
static const char *parse_path(parser *p, size_t n)
{
    const char *w = p->s, *we = p->s + n;
    p->s += n;
    if (n > 4 && strncasecmp(w, "urn:", 4) == 0) {
        const char *colon = NULL;
        for (const char *c = w; c < we; c++)
            if (*c == ':')
                colon = c;
        w = colon + 1;
    }
    size_t len = (size_t)(we - w);
    if (len == 0 || len > FILTER_MAX_PATH || !isalpha((unsigned char)*w) || memchr(w, ':', len)) {
        p->why = "filter: an attribute path like userName or name.givenName";
        return NULL;
    }
    size_t pre = p->prefix ? strlen(p->prefix) + 1 : 0;
    char *out = nova_arena_alloc(p->ar, pre + len + 1);
    if (out == NULL) {
        p->why = "filter: out of memory";
        return NULL;
    }
    if (pre) {
        memcpy(out, p->prefix, pre - 1);
        out[pre - 1] = '.';
    }
    for (size_t i = 0; i < len; i++)
        out[pre + i] = (char)tolower((unsigned char)w[i]);
    out[pre + len] = '\0';
    return out;
}

static const nova_scim_filter_t *parse_factor(parser *p)
{
    size_t n = peek_word(p);
    bool negate = false;
    if (word_is(p, n, "not")) {
        p->s += n;
        skip_ws(p);
        if (p->s >= p->end || *p->s != '(') {
            p->why = "filter: not must be followed by a parenthesised filter";
            return NULL;
        }
        negate = true;
        n = 0;
    }
    if (n == 0 && p->s < p->end && *p->s == '(') {
        p->s++;
        if (++p->depth > FILTER_MAX_DEPTH) {
            p->why = "filter: nested too deeply (at most 16 levels)";
            return NULL;
        }
        const nova_scim_filter_t *in = parse_or(p);
        p->depth--;
        if (in == NULL)
            return NULL;
        skip_ws(p);
        if (p->s >= p->end || *p->s != ')') {
            p->why = "filter: a parenthesis is not closed";
            return NULL;
        }
        p->s++;
        if (!negate)
            return in;
        nova_scim_filter_t *f = node(p, N_NOT);
        if (f)
            f->a = in;
        return f;
    }
    if (n == 0) {
        p->why = p->s >= p->end ? "filter: an expression is missing at the end"
                                : "filter: an attribute path or ( expected";
        return NULL;
    }
    const char *path = parse_path(p, n);
    if (path == NULL)
        return NULL;
    if (p->s < p->end && *p->s == '[') {
        if (p->prefix) {
            p->why = "filter: a value path inside a value path";
            return NULL;
        }
        p->s++;
        p->prefix = path;
        p->depth++;
        const nova_scim_filter_t *in = parse_or(p);
        p->depth--;
        p->prefix = NULL;
        if (in == NULL)
            return NULL;
        skip_ws(p);
        if (p->s >= p->end || *p->s != ']') {
            p->why = "filter: a value path's [ is not closed";
            return NULL;
        }
        p->s++;
        return in;
    }
    n = peek_word(p);
    if (word_is(p, n, "pr")) {
        p->s += n;
        nova_scim_filter_t *f = node(p, N_PR);
        if (f)
            f->path = path;
        return f;
    }
    nova_scim_filter_t *f = NULL;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (word_is(p, n, ops[i].name)) {
            if ((f = node(p, N_CMP)) == NULL)
                return NULL;
            f->op = ops[i].op;
        }
    if (f == NULL) {
        p->why = "filter: an operator (eq ne co sw ew gt ge lt le pr) expected";
        return NULL;
    }
    f->path = path;
    p->s += n;
    skip_ws(p);
    if (p->s < p->end && *p->s == '"') {
        f->vkind = V_STR;
        if ((f->value = parse_string(p)) == NULL)
            return NULL;
        return f;
    }
    n = peek_word(p);
    if (word_is(p, n, "true") || word_is(p, n, "false")) {
        f->vkind = V_BOOL;
        f->b = word_is(p, n, "true");
    } else if (word_is(p, n, "null")) {
        f->vkind = V_NULL;
    } else if (n > 0 && (isdigit((unsigned char)*p->s) || *p->s == '-')) {
        for (size_t i = 0; i < n; i++)
            if (!isdigit((unsigned char)p->s[i]) && p->s[i] != '.' && p->s[i] != '-' &&
                p->s[i] != 'e' && p->s[i] != 'E') {
                p->why = "filter: a malformed number";
                return NULL;
            }
        f->vkind = V_NUM;
        f->value = nova_arena_strndup(p->ar, p->s, n);
    } else {
        p->why = "filter: a value (a \"string\", true, false, null or a number) expected";
        return NULL;
    }
    if ((f->vkind == V_BOOL || f->vkind == V_NULL) && f->op != OP_EQ && f->op != OP_NE) {
        p->why = "filter: true, false and null compare with eq or ne only";
        return NULL;
    }
    p->s += n;
    return f;
}

static const nova_scim_filter_t *parse_and(parser *p)
{
    const nova_scim_filter_t *l = parse_factor(p);
    while (l) {
        size_t n = peek_word(p);
        if (!word_is(p, n, "and"))
            break;
        p->s += n;
        const nova_scim_filter_t *r = parse_factor(p);
        nova_scim_filter_t *f = r ? node(p, N_AND) : NULL;
        if (f == NULL)
            return NULL;
        f->a = l;
        f->b_ = r;
        l = f;
    }
    return l;
}

static const nova_scim_filter_t *parse_or(parser *p)
{
    const nova_scim_filter_t *l = parse_and(p);
    while (l) {
        size_t n = peek_word(p);
        if (!word_is(p, n, "or"))
            break;
        p->s += n;
        const nova_scim_filter_t *r = parse_and(p);
        nova_scim_filter_t *f = r ? node(p, N_OR) : NULL;
        if (f == NULL)
            return NULL;
        f->a = l;
        f->b_ = r;
        l = f;
    }
    return l;
}

nova_status nova_scim_filter_parse(nova_arena_t *ar, const char *text, size_t n,
                                   const nova_scim_filter_t **out, const char **why)
{
    *out = NULL;
    *why = NULL;
    if (n == 0 || n > FILTER_MAX_TEXT) {
        *why = "filter: 1 to 4096 bytes";
        return NOVA_INVALID;
    }
    if (memchr(text, '\0', n)) {
        *why = "filter: a NUL byte";
        return NOVA_INVALID;
    }
    parser p = {.ar = ar, .s = text, .end = text + n};
    const nova_scim_filter_t *f = parse_or(&p);
    if (f) {
        skip_ws(&p);
        if (p.s != p.end) {
            p.why = "filter: unexpected text after the expression";
            f = NULL;
        }
    }
    if (f == NULL) {
        *why = p.why ? p.why : "filter: malformed";
        return NOVA_INVALID;
    }
    *out = f;
    return NOVA_OK;
}

/* Compares one attribute value with a comparison node. */
static bool cmp_one(const nova_scim_filter_t *f, const nova_scim_attr_t *a)
{
    if (f->vkind == V_NULL)
        return false; /* the attribute has a value: "eq null" is false, "ne null" true (below) */
    if (f->vkind == V_BOOL)
        return a->is_bool && (a->b == f->b) == (f->op == OP_EQ);
    if (a->is_bool || a->str == NULL)
        return f->op == OP_NE;
    const char *v = a->str, *w = f->value;
    size_t vl = strlen(v), wl = strlen(w);
    int (*ncmp)(const char *, const char *, size_t) = a->case_exact ? strncmp : strncasecmp;
    switch (f->op) {
    case OP_EQ:
        return vl == wl && ncmp(v, w, vl) == 0;
    case OP_NE:
        return !(vl == wl && ncmp(v, w, vl) == 0);
    case OP_SW:
        return vl >= wl && ncmp(v, w, wl) == 0;
    case OP_EW:
        return vl >= wl && ncmp(v + vl - wl, w, wl) == 0;
    case OP_CO:
        for (size_t i = 0; i + wl <= vl; i++)
            if (ncmp(v + i, w, wl) == 0)
                return true;
        return false;
    default: {
        int c = a->case_exact ? strcmp(v, w) : strcasecmp(v, w);
        return f->op == OP_GT ? c > 0 : f->op == OP_GE ? c >= 0 : f->op == OP_LT ? c < 0 : c <= 0;
    }
    }
}

bool nova_scim_filter_match(const nova_scim_filter_t *f, const nova_scim_attr_t *attrs, size_t n)
{
    switch (f->kind) {
    case N_AND:
        return nova_scim_filter_match(f->a, attrs, n) && nova_scim_filter_match(f->b_, attrs, n);
    case N_OR:
        return nova_scim_filter_match(f->a, attrs, n) || nova_scim_filter_match(f->b_, attrs, n);
    case N_NOT:
        return !nova_scim_filter_match(f->a, attrs, n);
    default:
        break;
    }
    bool present = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(attrs[i].path, f->path) != 0 || (!attrs[i].is_bool && attrs[i].str == NULL))
            continue;
        present = true;
        if (f->kind == N_PR)
            return true;
        /* ne on a multi-valued attribute: no value equals; else some value matches. */
        if (f->op == OP_NE && f->vkind != V_NULL) {
            if (!cmp_one(f, &attrs[i]))
                return false;
        } else if (f->vkind != V_NULL && cmp_one(f, &attrs[i])) {
            return true;
        }
    }
    if (f->kind == N_PR)
        return false;
    if (f->vkind == V_NULL)
        return (f->op == OP_EQ) != present;
    return f->op == OP_NE;
}

bool nova_scim_filter_mentions(const nova_scim_filter_t *f, const char *attr)
{
    if (f == NULL)
        return false;
    if (f->kind == N_AND || f->kind == N_OR)
        return nova_scim_filter_mentions(f->a, attr) || nova_scim_filter_mentions(f->b_, attr);
    if (f->kind == N_NOT)
        return nova_scim_filter_mentions(f->a, attr);
    size_t n = strlen(attr);
    return strncmp(f->path, attr, n) == 0 && (f->path[n] == '\0' || f->path[n] == '.');
}

bool nova_scim_filter_is_eq(const nova_scim_filter_t *f, const char *path, const char **value)
{
    if (f == NULL || f->kind != N_CMP || f->op != OP_EQ || f->vkind != V_STR ||
        strcmp(f->path, path) != 0)
        return false;
    *value = f->value;
    return true;
}

/* ---- PATCH paths (RFC 7644 §3.5.2: attrPath ["[" valFilter "]"] ["." subAttr]) ---- */

nova_status nova_scim_path_parse(nova_arena_t *ar, const char *text, size_t n,
                                 nova_scim_path_t *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (n == 0 || n > FILTER_MAX_TEXT || memchr(text, '\0', n)) {
        *why = "path: 1 to 4096 bytes";
        return NOVA_INVALID;
    }
    parser p = {.ar = ar, .s = text, .end = text + n};
    if (p.s < p.end && (*p.s == ' ' || *p.s == '\t')) {
        *why = "path: an attribute path like members or members[value eq \"...\"]";
        return NOVA_INVALID;
    }
    size_t w = peek_word(&p);
    const char *path = w ? parse_path(&p, w) : NULL;
    if (path == NULL) {
        *why = "path: an attribute path like members or members[value eq \"...\"]";
        return NOVA_INVALID;
    }
    const char *dot = strchr(path, '.');
    if (p.s < p.end && *p.s == '[') {
        if (dot) {
            *why = "path: a value filter follows a top-level attribute";
            return NOVA_INVALID;
        }
        p.s++;
        p.prefix = path;
        p.depth = 1;
        const nova_scim_filter_t *f = parse_or(&p);
        p.prefix = NULL;
        if (f) {
            skip_ws(&p);
            if (p.s >= p.end || *p.s != ']') {
                p.why = "path: a value filter's [ is not closed";
                f = NULL;
            } else {
                p.s++;
            }
        }
        if (f == NULL) {
            *why = p.why ? p.why : "path: a malformed value filter";
            return NOVA_INVALID;
        }
        out->filter = f;
        if (p.s < p.end && *p.s == '.') {
            p.s++;
            size_t k = 0;
            while (p.s + k < p.end && (isalnum((unsigned char)p.s[k]) || p.s[k] == '_' ||
                                       p.s[k] == '$' || p.s[k] == '-'))
                k++;
            char *sub = k && k <= FILTER_MAX_PATH && isalpha((unsigned char)*p.s)
                            ? nova_arena_strndup(ar, p.s, k)
                            : NULL;
            if (sub == NULL) {
                *why = "path: a sub-attribute after the value filter";
                return NOVA_INVALID;
            }
            for (char *c = sub; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            out->sub = sub;
            p.s += k;
        }
        out->attr = path;
    } else if (dot) {
        char *attr = nova_arena_strndup(ar, path, (size_t)(dot - path));
        if (attr == NULL || dot[1] == '\0' || strchr(dot + 1, '.')) {
            *why = "path: at most one sub-attribute (name.givenName)";
            return NOVA_INVALID;
        }
        out->attr = attr;
        out->sub = dot + 1;
    } else {
        out->attr = path;
    }
    if (p.s != p.end) {
        *why = "path: unexpected text after the attribute path";
        memset(out, 0, sizeof(*out));
        return NOVA_INVALID;
    }
    return NOVA_OK;
}
