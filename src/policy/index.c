/*
 * index.c: the in-memory tuple index. Every string (object, relation, user, condition name)
 * is interned once into one pool and named by a 32-bit id; the tuples of one
 * (object, relation) pair are one array of 16-byte entries sorted by user id, found through
 * an open-addressing table keyed by the two ids. A check is then hash lookups and binary
 * searches over small arrays, with no allocation.
 *
 * The reverse index (for ListObjects' reverse expansion) keeps, per interned id used as a
 * tuple's user, the indices of the sets holding it: one entry inline in an 8-byte slot per
 * id, a heap array (named by a 16-byte slot of its own) for a user in two sets or more.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* u64 -> u32 open-addressing map (linear probing, power-of-two capacity, 0 key unused). */
typedef struct u64map {
    uint64_t *keys;
    uint32_t *vals;
    size_t cap, n;
} u64map_t;

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static bool u64map_grow(u64map_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    uint64_t *keys = calloc(cap, sizeof(*keys));
    uint32_t *vals = malloc(cap * sizeof(*vals));
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return false;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = mix64(m->keys[i]) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return true;
}

static bool u64map_get(const u64map_t *m, uint64_t key, uint32_t *val)
{
    if (!m->cap)
        return false;
    size_t j = mix64(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (m->keys[j] == key) {
            *val = m->vals[j];
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return false;
}

static bool u64map_put(u64map_t *m, uint64_t key, uint32_t val)
{
    if ((m->n + 1) * 4 > m->cap * 3 && !u64map_grow(m))
        return false;
    size_t j = mix64(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (m->keys[j] == key) {
            m->vals[j] = val;
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = key;
    m->vals[j] = val;
    m->n++;
    return true;
}

/* The sets holding one user: while n has no REV_BIG bit, at most one, in x; with it, x names
 * a revbig_t holding them (kept once made, even when the user's sets drop to one). */
#define REV_BIG 0x80000000u
typedef struct revlist {
    uint32_t n, x;
} revlist_t;

typedef struct revbig {
    uint32_t *v;
    uint32_t cap;
} revbig_t;

typedef struct objlist {
    uint32_t *v;
    uint32_t n, cap;
} objlist_t;

struct nova_policy_index {
    /* interned strings: pool holds them NUL-terminated; off/len by id (id 0 unused) */
    char *pool;
    size_t pool_len, pool_cap;
    uint32_t *off, *len;
    uint64_t *slots; /* hash slots: the string's 32-bit hash << 32 | its id; 0 empty */
    size_t nstr, str_cap, slot_cap;
    uint8_t *known; /* per id: bit 0 = listed as an object of its type, IX_NOT_PLAIN */
    revlist_t *rev; /* per id: the sets holding it as a user */
    revbig_t *big;  /* the heap lists of users in two sets or more */
    size_t nbig, big_cap;
    u64map_t sets_by_key; /* (object << 32 | relation) -> set index */
    ix_set_t *sets;
    size_t nsets, sets_cap;
    u64map_t types; /* type id -> objlist index */
    objlist_t *objs;
    size_t nobjs, objs_cap;
    size_t ntuples;
    uint32_t last_object, last_set; /* of the last add */
    u64map_t ctx_by_text;           /* interned compact text of a context -> its index in ctxs */
    json_t **ctxs; /* one copy of each distinct tuple context, shared by its tuples */
    size_t nctxs, ctxs_cap;
};

static inline uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return mix64(h);
}

nova_policy_index_t *nova_policy_index_new(void)
{
    nova_policy_index_t *ix = calloc(1, sizeof(*ix));
    return ix;
}

void nova_policy_index_free(nova_policy_index_t *ix)
{
    if (!ix)
        return;
    for (size_t i = 0; i < ix->nsets; i++) {
        for (uint32_t k = 0; k < ix->sets[i].n; k++)
            json_decref(ix->sets[i].e[k].context);
        free(ix->sets[i].e);
    }
    for (size_t i = 0; i < ix->nbig; i++)
        free(ix->big[i].v);
    free(ix->big);
    free(ix->rev);
    for (size_t i = 0; i < ix->nobjs; i++)
        free(ix->objs[i].v);
    free(ix->objs);
    for (size_t i = 0; i < ix->nctxs; i++)
        json_decref(ix->ctxs[i]);
    free(ix->ctxs);
    free(ix->ctx_by_text.keys);
    free(ix->ctx_by_text.vals);
    free(ix->sets);
    free(ix->sets_by_key.keys);
    free(ix->sets_by_key.vals);
    free(ix->types.keys);
    free(ix->types.vals);
    free(ix->pool);
    free(ix->off);
    free(ix->len);
    free(ix->slots);
    free(ix->known);
    free(ix);
}

static inline bool str_is(const nova_policy_index_t *ix, uint32_t id, const char *s, size_t n)
{
    return ix->len[id] == n && memcmp(ix->pool + ix->off[id], s, n) == 0;
}

/* The id of s (hash h), or 0 with *slot the empty slot where it would go. A slot keeps the
 * hash beside the id, so a probe past another string reads neither its length nor its bytes
 * (each a cache miss in a large index), and growing rehashes no string. */
static uint32_t lookup_h(const nova_policy_index_t *ix, const char *s, size_t n, uint32_t h,
                         size_t *slot)
{
    size_t j = h & (ix->slot_cap - 1);
    for (uint64_t v; (v = ix->slots[j]) != 0; j = (j + 1) & (ix->slot_cap - 1))
        if ((uint32_t)(v >> 32) == h && str_is(ix, (uint32_t)v, s, n))
            return (uint32_t)v;
    if (slot)
        *slot = j;
    return 0;
}

uint32_t ix_lookup(const nova_policy_index_t *ix, const char *s, size_t n)
{
    if (!ix || !ix->slot_cap)
        return 0;
    return lookup_h(ix, s, n, (uint32_t)hash_bytes(s, n), NULL);
}

const char *ix_string(const nova_policy_index_t *ix, uint32_t id, size_t *len)
{
    if (len)
        *len = ix->len[id];
    return ix->pool + ix->off[id];
}

static bool slots_grow(nova_policy_index_t *ix)
{
    size_t cap = ix->slot_cap ? ix->slot_cap * 2 : 1024;
    uint64_t *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return false;
    for (size_t i = 0; i < ix->slot_cap; i++) {
        uint64_t v = ix->slots[i];
        if (!v)
            continue;
        size_t j = (uint32_t)(v >> 32) & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = v;
    }
    free(ix->slots);
    ix->slots = slots;
    ix->slot_cap = cap;
    return true;
}

static uint32_t intern(nova_policy_index_t *ix, const char *s, size_t n)
{
    uint32_t h = (uint32_t)hash_bytes(s, n);
    size_t slot = 0;
    uint32_t id = ix->slot_cap ? lookup_h(ix, s, n, h, &slot) : 0;
    if (id)
        return id;
    if (n > UINT32_MAX / 2 || ix->nstr + 2 >= UINT32_MAX)
        return 0;
    if ((ix->nstr + 2) * 4 > ix->slot_cap * 3) {
        if (!slots_grow(ix))
            return 0;
        lookup_h(ix, s, n, h, &slot);
    }
    if (ix->nstr + 2 > ix->str_cap) {
        size_t cap = ix->str_cap ? ix->str_cap * 2 : 256;
        uint32_t *off = realloc(ix->off, cap * sizeof(*off));
        if (!off)
            return 0;
        ix->off = off;
        uint32_t *len = realloc(ix->len, cap * sizeof(*len));
        if (!len)
            return 0;
        ix->len = len;
        uint8_t *known = realloc(ix->known, cap);
        if (!known)
            return 0;
        ix->known = known;
        revlist_t *rev = realloc(ix->rev, cap * sizeof(*rev));
        if (!rev)
            return 0;
        ix->rev = rev;
        ix->str_cap = cap;
    }
    if (ix->pool_len + n + 1 > ix->pool_cap) {
        size_t cap = ix->pool_cap ? ix->pool_cap : 4096;
        while (cap < ix->pool_len + n + 1)
            cap *= 2;
        if (cap > UINT32_MAX)
            return 0;
        char *pool = realloc(ix->pool, cap);
        if (!pool)
            return 0;
        ix->pool = pool;
        ix->pool_cap = cap;
    }
    id = (uint32_t)++ix->nstr;
    ix->off[id] = (uint32_t)ix->pool_len;
    ix->len[id] = (uint32_t)n;
    ix->known[id] = 0;
    ix->rev[id] = (revlist_t){0, 0};
    memcpy(ix->pool + ix->pool_len, s, n);
    ix->pool[ix->pool_len + n] = '\0';
    ix->pool_len += n + 1;
    ix->slots[slot] = (uint64_t)h << 32 | id;
    return id;
}

const ix_set_t *ix_find(const nova_policy_index_t *ix, uint32_t object, uint32_t relation)
{
    uint32_t si;
    if (!ix || !object || !relation ||
        !u64map_get(&ix->sets_by_key, (uint64_t)object << 32 | relation, &si))
        return NULL;
    return &ix->sets[si];
}

/* Records object oid (type:id, its type typen bytes long) in its type's list, once. */
static bool note_object(nova_policy_index_t *ix, uint32_t oid, size_t typen)
{
    if (ix->known[oid] & 1)
        return true;
    uint32_t tid = intern(ix, ix->pool + ix->off[oid], typen);
    if (!tid)
        return false;
    uint32_t li;
    if (!u64map_get(&ix->types, tid, &li)) {
        if (ix->nobjs == ix->objs_cap) {
            size_t cap = ix->objs_cap ? ix->objs_cap * 2 : 16;
            objlist_t *o = realloc(ix->objs, cap * sizeof(*o));
            if (!o)
                return false;
            ix->objs = o;
            ix->objs_cap = cap;
        }
        li = (uint32_t)ix->nobjs++;
        memset(&ix->objs[li], 0, sizeof(objlist_t));
        if (!u64map_put(&ix->types, tid, li))
            return false;
    }
    objlist_t *l = &ix->objs[li];
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 8;
        uint32_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = oid;
    ix->known[oid] |= 1;
    return true;
}

void ix_objects_of_type(const nova_policy_index_t *ix, const char *type, size_t n,
                        void (*fn)(void *arg, const char *object), void *arg)
{
    uint32_t tid = ix_lookup(ix, type, n), li;
    if (!tid || !u64map_get(&ix->types, tid, &li))
        return;
    const objlist_t *l = &ix->objs[li];
    for (uint32_t i = 0; i < l->n; i++)
        fn(arg, ix->pool + ix->off[l->v[i]]);
}

static bool rev_add(nova_policy_index_t *ix, uint32_t user, uint32_t si)
{
    revlist_t *r = &ix->rev[user];
    if (r->n == 0) {
        *r = (revlist_t){1, si};
        return true;
    }
    if (!(r->n & REV_BIG)) { /* one inline: move it to a heap list */
        if (ix->nbig == ix->big_cap) {
            size_t cap = ix->big_cap ? 2 * ix->big_cap : 64;
            revbig_t *b = realloc(ix->big, cap * sizeof(*b));
            if (!b)
                return false;
            ix->big = b;
            ix->big_cap = cap;
        }
        uint32_t *v = malloc(4 * sizeof(*v));
        if (!v)
            return false;
        v[0] = r->x;
        ix->big[ix->nbig] = (revbig_t){v, 4};
        *r = (revlist_t){REV_BIG | 1, (uint32_t)ix->nbig++};
    }
    revbig_t *b = &ix->big[r->x];
    uint32_t n = r->n & ~REV_BIG;
    if (n == b->cap) {
        uint32_t *v = realloc(b->v, 2 * (size_t)b->cap * sizeof(*v));
        if (!v)
            return false;
        b->v = v;
        b->cap *= 2;
    }
    b->v[n] = si;
    r->n++;
    return true;
}

/* Removes si from user's list (order is not kept). */
static void rev_remove(nova_policy_index_t *ix, uint32_t user, uint32_t si)
{
    revlist_t *r = &ix->rev[user];
    if (!(r->n & REV_BIG)) {
        if (r->n == 1 && r->x == si)
            *r = (revlist_t){0, 0};
        return;
    }
    uint32_t *v = ix->big[r->x].v, n = r->n & ~REV_BIG;
    for (uint32_t i = 0; i < n; i++)
        if (v[i] == si) {
            v[i] = v[n - 1];
            r->n--;
            return;
        }
}

const uint32_t *ix_user_sets(const nova_policy_index_t *ix, uint32_t user, uint32_t *n)
{
    *n = 0;
    if (!ix || !user || user > ix->nstr)
        return NULL;
    const revlist_t *r = &ix->rev[user];
    *n = r->n & ~REV_BIG;
    if (!*n)
        return NULL;
    return r->n & REV_BIG ? ix->big[r->x].v : &r->x;
}

const ix_set_t *ix_set_at(const nova_policy_index_t *ix, uint32_t si)
{
    return &ix->sets[si];
}

size_t ix_nsets(const nova_policy_index_t *ix)
{
    return ix ? ix->nsets : 0;
}

/* A reference to the index's copy of context c: equal contexts (most tuples of a condition
 * carry the same few) are held once; the index never changes one. NULL when out of memory. */
static json_t *ctx_share(nova_policy_index_t *ix, const json_t *c)
{
    char *txt = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    uint32_t sid = txt ? intern(ix, txt, strlen(txt)) : 0, ci;
    free(txt);
    if (!sid)
        return NULL;
    if (u64map_get(&ix->ctx_by_text, sid, &ci))
        return json_incref(ix->ctxs[ci]);
    if (ix->nctxs == ix->ctxs_cap) {
        size_t cap = ix->ctxs_cap ? 2 * ix->ctxs_cap : 16;
        json_t **v = realloc(ix->ctxs, cap * sizeof(*v));
        if (!v)
            return NULL;
        ix->ctxs = v;
        ix->ctxs_cap = cap;
    }
    json_t *copy = json_deep_copy(c);
    if (!copy || !u64map_put(&ix->ctx_by_text, sid, (uint32_t)ix->nctxs)) {
        json_decref(copy);
        return NULL;
    }
    ix->ctxs[ix->nctxs++] = copy;
    return json_incref(copy);
}

/* Position of user in set (or where it would go). */
static uint32_t set_pos(const ix_set_t *s, uint32_t user, bool *found)
{
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->e[mid].user < user)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < s->n && s->e[lo].user == user;
    return lo;
}

nova_status nova_policy_index_add(nova_policy_index_t *ix, const nova_policy_tuple_t *t)
{
    pol_user_t o, u;
    if (!t->object || !t->relation || !t->user || !pol_parse_object(t->object, &o) ||
        !pol_parse_user(t->user, &u) || !*t->relation)
        return NOVA_INVALID;
    /* a bulk load meets the tuples of one object together more often than not */
    size_t on = strlen(t->object);
    uint32_t oid = ix->last_object && str_is(ix, ix->last_object, t->object, on)
                       ? ix->last_object
                       : intern(ix, t->object, on);
    ix->last_object = oid;
    uint32_t rid = intern(ix, t->relation, strlen(t->relation));
    uint32_t uid = intern(ix, t->user, strlen(t->user));
    uint32_t cid =
        t->condition && *t->condition ? intern(ix, t->condition, strlen(t->condition)) : 0;
    if (!oid || !rid || !uid || (t->condition && *t->condition && !cid))
        return NOVA_NOMEM;
    if (u.wildcard || u.relation.len)
        ix->known[uid] |= IX_NOT_PLAIN;
    if (!note_object(ix, oid, o.type.len))
        return NOVA_NOMEM;
    if (!u.wildcard) { /* the user's object: the user itself unless a userset */
        uint32_t uo = u.relation.len
                          ? intern(ix, u.type.base, (size_t)(u.id.base + u.id.len - u.type.base))
                          : uid;
        if (!uo || !note_object(ix, uo, u.type.len))
            return NOVA_NOMEM;
    }
    uint64_t key = (uint64_t)oid << 32 | rid;
    uint32_t si = ix->last_set;
    if ((ix->nsets == 0 || key != ((uint64_t)ix->sets[si].object << 32 | ix->sets[si].relation)) &&
        !u64map_get(&ix->sets_by_key, key, &si)) {
        if (ix->nsets == ix->sets_cap) {
            size_t cap = ix->sets_cap ? ix->sets_cap * 2 : 64;
            ix_set_t *s = realloc(ix->sets, cap * sizeof(*s));
            if (!s)
                return NOVA_NOMEM;
            ix->sets = s;
            ix->sets_cap = cap;
        }
        si = (uint32_t)ix->nsets;
        ix->sets[si] = (ix_set_t){.object = oid, .relation = rid};
        if (!u64map_put(&ix->sets_by_key, key, si))
            return NOVA_NOMEM;
        ix->nsets++;
    }
    ix->last_set = si;
    ix_set_t *s = &ix->sets[si];
    bool found;
    uint32_t pos = set_pos(s, uid, &found);
    if (found)
        return NOVA_CONFLICT;
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 1;
        ix_entry_t *e = realloc(s->e, cap * sizeof(*e));
        if (!e)
            return NOVA_NOMEM;
        s->e = e;
        s->cap = cap;
    }
    json_t *ctx = NULL;
    if (t->context && json_object_size(t->context) > 0) {
        ctx = ctx_share(ix, t->context);
        if (!ctx)
            return NOVA_NOMEM;
    }
    if (!rev_add(ix, uid, si)) {
        json_decref(ctx);
        return NOVA_NOMEM;
    }
    memmove(&s->e[pos + 1], &s->e[pos], (s->n - pos) * sizeof(ix_entry_t));
    s->e[pos] = (ix_entry_t){.user = uid, .cond = cid, .context = ctx};
    s->n++;
    ix->ntuples++;
    return NOVA_OK;
}

nova_status nova_policy_index_remove(nova_policy_index_t *ix, const char *object,
                                     const char *relation, const char *user)
{
    uint32_t oid = ix_lookup(ix, object, strlen(object));
    uint32_t rid = ix_lookup(ix, relation, strlen(relation));
    uint32_t uid = ix_lookup(ix, user, strlen(user));
    ix_set_t *s = (ix_set_t *)ix_find(ix, oid, rid);
    if (!s || !uid)
        return NOVA_NOT_FOUND;
    bool found;
    uint32_t pos = set_pos(s, uid, &found);
    if (!found)
        return NOVA_NOT_FOUND;
    json_decref(s->e[pos].context);
    rev_remove(ix, uid, (uint32_t)(s - ix->sets));
    memmove(&s->e[pos], &s->e[pos + 1], (s->n - pos - 1) * sizeof(ix_entry_t));
    s->n--;
    ix->ntuples--;
    return NOVA_OK;
}

/* realloc to n elements of size sz, keeping the old block when it fails or n is 0. */
static void *shrink_to(void *p, size_t n, size_t sz)
{
    if (!p || !n)
        return p;
    void *q = realloc(p, n * sz);
    return q ? q : p;
}

void nova_policy_index_shrink(nova_policy_index_t *ix)
{
    if (!ix)
        return;
    /* a failed realloc keeps the larger block, so each capacity below is a lower bound */
    if (ix->pool_len && ix->pool_len < ix->pool_cap) {
        ix->pool = shrink_to(ix->pool, ix->pool_len, 1);
        ix->pool_cap = ix->pool_len;
    }
    size_t ns = ix->nstr + 2; /* intern keeps room for the next id */
    if (ix->nstr && ns < ix->str_cap) {
        ix->off = shrink_to(ix->off, ns, sizeof(*ix->off));
        ix->len = shrink_to(ix->len, ns, sizeof(*ix->len));
        ix->known = shrink_to(ix->known, ns, 1);
        ix->rev = shrink_to(ix->rev, ns, sizeof(*ix->rev));
        ix->str_cap = ns;
    }
    if (ix->nsets && ix->nsets < ix->sets_cap) {
        ix->sets = shrink_to(ix->sets, ix->nsets, sizeof(*ix->sets));
        ix->sets_cap = ix->nsets;
    }
    if (ix->nbig && ix->nbig < ix->big_cap) {
        ix->big = shrink_to(ix->big, ix->nbig, sizeof(*ix->big));
        ix->big_cap = ix->nbig;
    }
}

size_t nova_policy_index_count(const nova_policy_index_t *ix)
{
    return ix ? ix->ntuples : 0;
}

size_t nova_policy_index_memory(const nova_policy_index_t *ix)
{
    if (!ix)
        return 0;
    size_t b =
        sizeof(*ix) + ix->pool_cap + ix->str_cap * (2 * sizeof(uint32_t) + 1 + sizeof(revlist_t)) +
        ix->slot_cap * sizeof(uint64_t) +
        ix->sets_by_key.cap * (sizeof(uint64_t) + sizeof(uint32_t)) +
        ix->sets_cap * sizeof(ix_set_t) + ix->types.cap * (sizeof(uint64_t) + sizeof(uint32_t)) +
        ix->ctx_by_text.cap * (sizeof(uint64_t) + sizeof(uint32_t)) +
        ix->ctxs_cap * sizeof(json_t *) + ix->objs_cap * sizeof(objlist_t);
    for (size_t i = 0; i < ix->nsets; i++)
        b += ix->sets[i].cap * sizeof(ix_entry_t);
    for (size_t i = 0; i < ix->nobjs; i++)
        b += ix->objs[i].cap * sizeof(uint32_t);
    b += ix->big_cap * sizeof(revbig_t);
    for (size_t i = 0; i < ix->nbig; i++)
        b += ix->big[i].cap * sizeof(uint32_t);
    return b;
}

bool ix_plain_user(const nova_policy_index_t *ix, uint32_t id)
{
    return !(ix->known[id] & IX_NOT_PLAIN);
}
