/*
 * router.c: method + pattern routes with "{name}" segments. Patterns are split once when
 * registered; a lookup splits the path once and scans the (few dozen) routes linearly, which
 * costs far less than the rest of a request.
 */
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

static void route_free(http_route_t *r)
{
    free(r->method);
    free(r->pattern);
    free(r->scope);
}

void http_router_free(http_router_t *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->n; i++)
        route_free(&rt->routes[i]);
    free(rt->routes);
    rt->routes = NULL;
    rt->n = rt->cap = 0;
}

static bool method_valid(const char *m)
{
    if (!m || !*m || strlen(m) > 16)
        return false;
    for (; *m; m++)
        if (*m < 'A' || *m > 'Z')
            return false;
    return true;
}

/* Splits pattern (owned by r) into r->segs. */
static nova_status route_compile(http_route_t *r)
{
    const char *p = r->pattern;
    size_t nparams = 0;

    if (p[0] != '/')
        return NOVA_INVALID;
    if (p[1] == '\0')
        return NOVA_OK; /* "/" */
    while (*p == '/') {
        const char *s = ++p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - s);
        if (r->nsegs == HTTP_MAX_SEGS)
            return NOVA_INVALID;
        if (len >= 4 && s[0] == '{' && s[len - 2] == '*' && s[len - 1] == '}') {
            if (*p) /* only as the last segment */
                return NOVA_INVALID;
            if (memchr(s + 1, '{', len - 3) || memchr(s + 1, '}', len - 3) ||
                memchr(s + 1, '*', len - 3))
                return NOVA_INVALID;
            r->segs[r->nsegs] = (nova_str_t){NULL, 0};
            r->rest = true;
            r->nsegs++;
            break;
        }
        if (len >= 2 && s[0] == '{' && s[len - 1] == '}') {
            if (len == 2 || nparams == NOVA_HTTP_MAX_PARAMS)
                return NOVA_INVALID;
            if (memchr(s + 1, '{', len - 2) || memchr(s + 1, '}', len - 2) ||
                memchr(s + 1, '*', len - 2)) /* "*" only ends a catch-all's name */
                return NOVA_INVALID;
            r->segs[r->nsegs] = (nova_str_t){NULL, 0};
            r->param_mask |= 1u << (HTTP_MAX_SEGS - 1 - r->nsegs);
            nparams++;
        } else {
            if (memchr(s, '{', len) || memchr(s, '}', len))
                return NOVA_INVALID;
            if (len == 2 && s[0] == '.' && s[1] == '.')
                return NOVA_INVALID;
            r->segs[r->nsegs] = (nova_str_t){s, len};
        }
        r->nsegs++;
    }
    return NOVA_OK;
}

static bool same_shape(const http_route_t *a, const http_route_t *b)
{
    if (a->nsegs != b->nsegs || a->param_mask != b->param_mask || a->rest != b->rest)
        return false;
    for (size_t i = 0; i < a->nsegs; i++)
        if (a->segs[i].base && !nova_str_eq(a->segs[i], b->segs[i]))
            return false;
    return true;
}

nova_status http_router_add(http_router_t *rt, const char *method, const char *pattern,
                            const char *scope, size_t max_body, nova_handler_fn fn, void *ud)
{
    http_route_t r = {0};
    nova_status st = NOVA_NOMEM;

    if (!method_valid(method) || !pattern || !fn)
        return NOVA_INVALID;
    r.method = strdup(method);
    r.pattern = strdup(pattern);
    r.scope = scope ? strdup(scope) : NULL;
    if (!r.method || !r.pattern || (scope && !r.scope))
        goto error;
    r.fn = fn;
    r.ud = ud;
    r.max_body = max_body;
    r.order = rt->n;
    st = route_compile(&r);
    if (st != NOVA_OK)
        goto error;
    for (size_t i = 0; i < rt->n; i++) {
        if (strcmp(rt->routes[i].method, method) == 0 && same_shape(&rt->routes[i], &r)) {
            st = NOVA_CONFLICT;
            goto error;
        }
    }
    if (rt->n == rt->cap) {
        size_t cap = rt->cap ? rt->cap * 2 : 16;
        http_route_t *nr = realloc(rt->routes, cap * sizeof(*nr));
        if (!nr) {
            st = NOVA_NOMEM;
            goto error;
        }
        rt->routes = nr;
        rt->cap = cap;
    }
    rt->routes[rt->n++] = r;
    return NOVA_OK;

error:
    route_free(&r);
    return st;
}

static int route_cmp(const void *pa, const void *pb)
{
    const http_route_t *a = pa, *b = pb;
    if (a->rest != b->rest) /* catch-alls after every exact shape */
        return a->rest ? 1 : -1;
    if (a->param_mask != b->param_mask)
        return a->param_mask < b->param_mask ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

void http_router_finish(http_router_t *rt)
{
    if (rt->n > 1)
        qsort(rt->routes, rt->n, sizeof(*rt->routes), route_cmp);
    /* segs point into pattern strings, which did not move: nothing else to fix up. */
}

void http_path_split(char *path, http_path_t *out)
{
    char *p = path;

    out->nsegs = 0;
    out->too_long = false;
    if (p[0] == '/' && p[1] == '\0')
        return;
    while (*p == '/') {
        *p++ = '\0';
        char *s = p;
        while (*p && *p != '/')
            p++;
        if (out->nsegs == HTTP_MAX_SEGS) {
            out->too_long = true;
            return;
        }
        out->segs[out->nsegs] = s;
        out->lens[out->nsegs] = (size_t)(p - s);
        out->nsegs++;
    }
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool http_param_decode(char *seg)
{
    char *w = seg;
    for (const char *p = seg; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            int hi = hex_val(p[1]), lo = hi < 0 ? -1 : hex_val(p[2]);
            if (lo < 0)
                return false;
            c = (unsigned char)(hi << 4 | lo);
            p += 2;
        }
        if (c < 0x20 || c == 0x7f || c == '/')
            return false;
        *w++ = (char)c;
    }
    *w = '\0';
    return true;
}

static bool path_matches(const http_route_t *r, const http_path_t *p)
{
    if (p->too_long || (r->rest ? p->nsegs < r->nsegs : r->nsegs != p->nsegs))
        return false;
    for (size_t i = 0; i < r->nsegs; i++) {
        if (r->rest && i == r->nsegs - 1)
            return p->lens[i] != 0; /* "{name*}": this segment and any after it */
        if (r->segs[i].base == NULL) {
            if (p->lens[i] == 0)
                return false;
        } else if (r->segs[i].len != p->lens[i] ||
                   memcmp(r->segs[i].base, p->segs[i], p->lens[i]) != 0) {
            return false;
        }
    }
    return true;
}

/* HEAD is served by the GET route unless a HEAD route exists (MHD sends no body for HEAD). */
static bool method_matches(const http_route_t *r, const char *method, bool allow_get)
{
    return strcmp(r->method, method) == 0 || (allow_get && strcmp(r->method, "GET") == 0);
}

http_match http_router_match(const http_router_t *rt, const char *method, const http_path_t *p,
                             size_t *idx, const char **params, size_t *nparams)
{
    size_t first_path = SIZE_MAX, head_get = SIZE_MAX;
    bool is_head = strcmp(method, "HEAD") == 0;

    *nparams = 0;
    for (size_t i = 0; i < rt->n; i++) {
        const http_route_t *r = &rt->routes[i];
        if (!path_matches(r, p))
            continue;
        if (first_path == SIZE_MAX)
            first_path = i;
        if (strcmp(r->method, method) == 0) {
            head_get = i;
            break;
        }
        if (is_head && head_get == SIZE_MAX && method_matches(r, method, true))
            head_get = i; /* keep looking for an explicit HEAD route */
    }
    if (head_get == SIZE_MAX) {
        *idx = first_path;
        return first_path == SIZE_MAX ? HTTP_MATCH_NOT_FOUND : HTTP_MATCH_BAD_METHOD;
    }
    *idx = head_get;
    const http_route_t *r = &rt->routes[head_get];
    for (size_t i = 0; i < r->nsegs - (r->rest ? 1 : 0); i++)
        if (r->segs[i].base == NULL)
            params[(*nparams)++] = p->segs[i];
    return HTTP_MATCH_OK;
}

char *http_router_allow(const http_router_t *rt, const http_path_t *p, nova_arena_t *a)
{
    const char *seen[32];
    size_t nseen = 0;
    bool has_head = false;
    nova_buf_t b;
    char *out = NULL;

    for (size_t i = 0; i < rt->n && nseen < 32; i++) {
        const http_route_t *r = &rt->routes[i];
        bool dup = false;
        if (!path_matches(r, p))
            continue;
        for (size_t j = 0; j < nseen && !dup; j++)
            dup = strcmp(seen[j], r->method) == 0;
        if (dup)
            continue;
        seen[nseen++] = r->method;
        has_head |= strcmp(r->method, "HEAD") == 0;
    }
    if (nseen == 0)
        return NULL;
    nova_buf_init(&b);
    for (size_t j = 0; j < nseen; j++) {
        if (nova_buf_printf(&b, "%s%s", j ? ", " : "", seen[j]) != NOVA_OK)
            goto end;
        if (strcmp(seen[j], "GET") == 0 && !has_head &&
            nova_buf_append_cstr(&b, ", HEAD") != NOVA_OK)
            goto end;
    }
    out = nova_arena_strndup(a, b.data, b.len);
end:
    nova_buf_free(&b);
    return out;
}
