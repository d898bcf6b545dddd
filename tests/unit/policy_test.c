/*
 * policy_test.c: the relationship engine without a server: the modeling language (and its
 * error positions), the JSON form, CEL values and operators, the tuple index, Check with
 * contextual tuples, ListObjects and ListUsers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/policy/internal.h"

static nova_policy_model_t *parse_ok(const char *text)
{
    nova_policy_model_t *m = NULL;
    nova_policy_error_t err;
    nova_status st = nova_policy_model_parse(text, strlen(text), &m, &err);
    if (st != NOVA_OK)
        fail_msg("model rejected at %d:%d: %s", err.line, err.column, err.message);
    return m;
}

static void parse_fails_at(const char *text, int line, int column, const char *needle)
{
    nova_policy_model_t *m = NULL;
    nova_policy_error_t err;
    assert_int_equal(nova_policy_model_parse(text, strlen(text), &m, &err), NOVA_INVALID);
    assert_null(m);
    assert_int_equal(err.code, NOVA_POLICY_E_INVALID_MODEL);
    if (err.line != line || err.column != column || !strstr(err.message, needle))
        fail_msg("got %d:%d '%s', want %d:%d containing '%s'", err.line, err.column, err.message,
                 line, column, needle);
}

static const char *const bank =
    "model\n"
    "  schema 1.1\n"
    "# customers and their accounts\n"
    "type user\n"
    "type group\n"
    "  relations\n"
    "    define member: [user, group#member]\n"
    "type account\n"
    "  relations\n"
    "    define parent: [account]\n"
    "    define owner: [user, group#member with in_hours]\n"
    "    define blocked: [user]\n"
    "    define auditor: [user:*]\n"
    "    define viewer: (owner or viewer from parent or auditor) but not blocked\n"
    "    define mover: owner and viewer\n"
    "condition in_hours(now: timestamp, open: duration) {\n"
    "  now - timestamp(\"2024-01-01T00:00:00Z\") < open\n"
    "}\n";

static void test_dsl_parses_every_construct(void **state)
{
    (void)state;
    nova_policy_model_t *m = parse_ok(bank);
    assert_int_equal(m->ntypes, 3);
    const pol_type_t *acct = pol_type_find(m, "account", 7);
    assert_non_null(acct);
    const pol_relation_t *viewer = pol_relation_find(acct, "viewer", 6);
    assert_non_null(viewer);
    assert_int_equal(viewer->rw->kind, RW_DIFFERENCE);
    assert_int_equal(viewer->rw->child[0]->kind, RW_UNION);
    assert_int_equal(viewer->rw->child[0]->child[1]->kind, RW_TTU);
    const pol_relation_t *owner = pol_relation_find(acct, "owner", 5);
    assert_int_equal(owner->ndirect, 2);
    assert_string_equal(owner->direct[1].relation, "member");
    assert_string_equal(owner->direct[1].condition, "in_hours");
    assert_true(pol_relation_find(acct, "auditor", 7)->direct[0].wildcard);
    assert_int_equal(pol_relation_find(acct, "mover", 5)->rw->kind, RW_INTERSECTION);
    assert_int_equal(m->nconds, 1);
    nova_policy_model_free(m);
}

static void test_dsl_errors_name_line_and_column(void **state)
{
    (void)state;
    parse_fails_at("model\n  schema 1.0\ntype user\n", 2, 10, "not supported");
    parse_fails_at("model\n  schema 1.1\n", 1, 1, "at least one type"); /* found by policy_fuzz */
    char longname[400];
    snprintf(longname, sizeof(longname), "model\n  schema 1.1\ntype %0300d\n", 7);
    parse_fails_at(longname, 3, 6, "longer than 254"); /* the JSON form refuses it: fuzz */
    parse_fails_at("model\n  schema 1.1\ntype doc\n  relations\n    define viewer: [usr]\n", 5, 21,
                   "type 'usr' is not defined");
    parse_fails_at("model\n  schema 1.1\ntype user\ntype doc\n  relations\n"
                   "    define viewer: [user] or editor\n",
                   6, 30, "relation 'editor'");
    parse_fails_at("model\n  schema 1.1\ntype user\ntype doc\n  relations\n"
                   "    define a: [user]\n    define b: a or a and a\n",
                   7, 22, "cannot be mixed");
    parse_fails_at("model\n  schema 1.1\ntype user\ntype doc\n  relations\n"
                   "    define a: [user with c]\ncondition c(x: int) {\n  x < \n}\n",
                   8, 6, "condition 'c'");
    parse_fails_at("model\n  schema 1.1\ntype user\ntype doc\n  relations\n"
                   "    define a: [user with nope]\n",
                   6, 16, "condition 'nope' is not defined");
    parse_fails_at("model\n  schema 1.1\ntype user\ntype doc\n  relations\n"
                   "    define a: [user]\n    define a: [user]\n",
                   7, 12, "defined twice");
    parse_fails_at("model\n  schema 1.1\ntype user\ntype doc\n  relations\n"
                   "    define a: [user with c]\ncondition c(x: int) {\n  y < 1\n}\n",
                   7, 1, "undeclared reference to 'y'");
}

static void test_json_round_trip(void **state)
{
    (void)state;
    nova_policy_model_t *m = parse_ok(bank);
    json_t *j = nova_policy_model_to_json(m);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "schema_version")), "1.1");
    nova_policy_model_t *m2 = NULL;
    nova_policy_error_t err;
    assert_int_equal(nova_policy_model_from_json(j, &m2, &err), NOVA_OK);
    json_t *j2 = nova_policy_model_to_json(m2);
    assert_true(json_equal(j, j2));
    /* the SDK's camelCase spellings are accepted too */
    json_t *camel =
        json_loads("{\"schemaVersion\":\"1.1\",\"typeDefinitions\":[{\"type\":\"user\"},"
                   "{\"type\":\"doc\",\"relations\":{\"v\":{\"this\":{}}},"
                   "\"metadata\":{\"relations\":{\"v\":{\"directlyRelatedUserTypes\":"
                   "[{\"type\":\"user\"}]}}}}]}",
                   0, NULL);
    nova_policy_model_t *m3 = NULL;
    assert_int_equal(nova_policy_model_from_json(camel, &m3, &err), NOVA_OK);
    /* a relation that is assignable but names no type is refused */
    json_object_del(
        json_object_get(json_array_get(json_object_get(camel, "typeDefinitions"), 1), "metadata"),
        "relations");
    nova_policy_model_t *m4 = NULL;
    assert_int_equal(nova_policy_model_from_json(camel, &m4, &err), NOVA_INVALID);
    assert_int_equal(err.code, NOVA_POLICY_E_INVALID_MODEL);
    json_decref(camel);
    json_decref(j);
    json_decref(j2);
    nova_policy_model_free(m);
    nova_policy_model_free(m2);
    nova_policy_model_free(m3);
}

/* Evaluates expr with params declared as "name:type" and their values as a JSON object. */
static cel_value_t cel(const char *expr, const char *decls, const char *values, nova_arena_t *a)
{
    nova_cel_program_t *p = NULL;
    nova_policy_error_t err;
    if (nova_cel_compile(expr, strlen(expr), &p, &err) != NOVA_OK)
        fail_msg("'%s' did not compile: %s", expr, err.message);
    json_t *vals = json_loads(values ? values : "{}", 0, NULL);
    assert_non_null(vals);
    cel_binding_t b[8];
    size_t nb = 0;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", decls ? decls : "");
    for (char *save = NULL, *d = strtok_r(buf, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(d, ':');
        *colon = '\0';
        cel_type_t *t;
        assert_true(cel_type_parse(colon + 1, strlen(colon + 1), a, &t));
        b[nb].name = nova_arena_strdup(a, d);
        json_t *v = json_object_get(vals, d);
        if (v) {
            b[nb].value = cel_from_json(v, t, a);
        } else {
            b[nb].value = (cel_value_t){.kind = CEL_UNKNOWN};
            b[nb].value.s.p = b[nb].name;
        }
        nb++;
    }
    cel_value_t r = cel_eval(p, b, nb, a);
    json_decref(vals);
    nova_cel_free(p);
    return r;
}

static void cel_true(const char *expr, const char *decls, const char *values)
{
    nova_arena_t a;
    nova_arena_init(&a, 1024);
    cel_value_t r = cel(expr, decls, values, &a);
    if (r.kind != CEL_BOOL || !r.b)
        fail_msg("'%s' with %s: kind %d %.*s, want true", expr, values ? values : "{}", r.kind,
                 r.kind == CEL_ERROR ? (int)r.s.n : 0, r.kind == CEL_ERROR ? r.s.p : "");
    nova_arena_free(&a);
}

static void cel_kind_is(const char *expr, const char *decls, const char *values, cel_kind k)
{
    nova_arena_t a;
    nova_arena_init(&a, 1024);
    cel_value_t r = cel(expr, decls, values, &a);
    if (r.kind != k)
        fail_msg("'%s': kind %d, want %d", expr, r.kind, k);
    nova_arena_free(&a);
}

static void test_cel_types_and_operators(void **state)
{
    (void)state;
    cel_true("x < 100 && x >= -5", "x:int", "{\"x\": 10}");
    cel_true("u == 3u && u + 1u == 4u", "u:uint", "{\"u\": 3}");
    cel_true("d > 0.0 && d * 2.0 == 5.0", "d:double", "{\"d\": 2.5}");
    cel_true("1 == 1.0 && 2u < 3", NULL, NULL);
    cel_true("b && !false", "b:bool", "{\"b\": true}");
    cel_true("s + \"!\" == 'hi!' && size(s) == 2", "s:string", "{\"s\": \"hi\"}");
    cel_true("size(\"h\\u00e9\") == 2 && size(b\"h\\xc3\\xa9\") == 3", NULL, NULL);
    cel_true("s.startsWith(\"ab\") && s.endsWith(\"yz\") && s.contains(\"mm\")", "s:string",
             "{\"s\": \"abmmyz\"}");
    cel_true("s.matches('^[a-z]+\\\\d{2}$') && !s.matches('^x')", "s:string", "{\"s\": \"abc42\"}");
    /* Patterns that could blow up the regex compiler are evaluation errors, not hangs. */
    cel_kind_is("'a'.matches('a{1000}')", NULL, NULL, CEL_ERROR);
    cel_kind_is("'a'.matches('(a+)+$+++')", NULL, NULL, CEL_ERROR);
    cel_kind_is("'a'.matches('a**')", NULL, NULL, CEL_ERROR);
    cel_true("'a+b'.matches('^a[+*]b$') && 'aab'.matches('^a{1,3}b$')", NULL, NULL);
    cel_true("by == b'ab'", "by:bytes", "{\"by\": \"ab\"}");
    cel_true("t < timestamp(\"2023-10-11T10:00:00.000Z\")", "t:timestamp",
             "{\"t\": \"2023-10-11T09:59:59.999Z\"}");
    cel_true("t + duration(\"1h\") == timestamp(\"2024-01-01T01:00:00Z\") && "
             "timestamp(\"2024-01-01T01:00:00+01:00\") == t",
             "t:timestamp", "{\"t\": \"2024-01-01T00:00:00Z\"}");
    cel_true(
        "t2 - t1 == duration(\"90m\") && t2 - t1 > d", "t1:timestamp,t2:timestamp,d:duration",
        "{\"t1\":\"2024-03-01T10:00:00Z\",\"t2\":\"2024-03-01T11:30:00Z\",\"d\":\"1h29m59.5s\"}");
    cel_true("t.getFullYear() == 2024 && t.getMonth() == 1 && t.getDate() == 29 && "
             "t.getHours() == 23 && t.getDayOfWeek() == 4",
             "t:timestamp", "{\"t\": \"2024-02-29T23:10:00Z\"}");
    cel_true("ip.in_cidr(\"192.168.0.0/16\") && !ip.in_cidr(\"10.0.0.0/8\")", "ip:ipaddress",
             "{\"ip\": \"192.168.4.20\"}");
    cel_true("ipaddress(\"2001:db8::1\").in_cidr(\"2001:db8::/32\")", NULL, NULL);
    cel_true("\"eu\" in regions && !(\"us\" in regions) && size(regions) == 2 && regions[1] == "
             "\"af\"",
             "regions:list<string>", "{\"regions\": [\"eu\", \"af\"]}");
    cel_true("m[\"tier\"] == \"gold\" && \"tier\" in m && m.tier == \"gold\" && has(m.tier)",
             "m:map<string>", "{\"m\": {\"tier\": \"gold\"}}");
    cel_true("x > 5 ? s == \"big\" : s == \"small\"", "x:int,s:string",
             "{\"x\": 3, \"s\": \"small\"}");
    cel_true("[1, 2, 3].exists(v, v == 2) && [1, 2, 3].all(v, v > 0) && "
             "[1, 2, 3].filter(v, v > 1) == [2, 3] && [1, 2].map(v, v * 10) == [10, 20]",
             NULL, NULL);
    cel_true("7 / 2 == 3 && 7 % 2 == 1 && -7 / 2 == -3 && int(\"42\") == 42 && "
             "double(\"1.5\") == 1.5 && string(12) == \"12\" && uint(5) == 5u",
             NULL, NULL);
    /* errors: overflow, division by zero, mismatched types, bad parameter values */
    cel_kind_is("9223372036854775807 + 1 == 0", NULL, NULL, CEL_ERROR);
    cel_kind_is("1 / 0 == 0", NULL, NULL, CEL_ERROR);
    cel_kind_is("\"a\" < 1", NULL, NULL, CEL_ERROR);
    cel_kind_is("x < 1", "x:int", "{\"x\": \"ten\"}", CEL_ERROR);
    cel_kind_is("t < timestamp(\"2024-01-01T00:00:00Z\")", "t:timestamp", "{\"t\": \"yesterday\"}",
                CEL_ERROR);
    /* a missing parameter is unknown unless && or || can decide without it */
    cel_kind_is("x < 100 || y < 50", "x:int,y:int", "{\"x\": 500}", CEL_UNKNOWN);
    cel_true("x < 100 || y < 50", "x:int,y:int", "{\"x\": 5}");
    cel_kind_is("false && y", "y:bool", NULL, CEL_BOOL);
    cel_kind_is("x + 1", "x:int", "{\"x\": 1}", CEL_ERROR); /* not a bool */
}

static void test_cel_compile_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "x <", "(x", "\"open", "x ? 1", "1 +* 2", "a.", "x in", "99999999999999999999", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        nova_cel_program_t *p = NULL;
        nova_policy_error_t err;
        if (nova_cel_compile(bad[i], strlen(bad[i]), &p, &err) != NOVA_INVALID)
            fail_msg("'%s' compiled", bad[i]);
        assert_null(p);
        assert_true(err.line >= 1 && err.column >= 1);
    }
}

static void test_index_add_remove(void **state)
{
    (void)state;
    nova_policy_index_t *ix = nova_policy_index_new();
    nova_policy_tuple_t t = {.object = "doc:1", .relation = "viewer", .user = "user:a"};
    assert_int_equal(nova_policy_index_add(ix, &t), NOVA_OK);
    assert_int_equal(nova_policy_index_add(ix, &t), NOVA_CONFLICT);
    nova_policy_tuple_t bad = {.object = "doc", .relation = "viewer", .user = "user:a"};
    assert_int_equal(nova_policy_index_add(ix, &bad), NOVA_INVALID);
    bad.object = "doc:1";
    bad.user = "user:a#";
    assert_int_equal(nova_policy_index_add(ix, &bad), NOVA_INVALID);
    char obj[32], user[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(obj, sizeof(obj), "doc:%d", i % 10);
        snprintf(user, sizeof(user), "user:%d", i);
        t = (nova_policy_tuple_t){.object = obj, .relation = "viewer", .user = user};
        assert_int_equal(nova_policy_index_add(ix, &t), NOVA_OK);
    }
    assert_int_equal(nova_policy_index_count(ix), 1001);
    assert_true(nova_policy_index_memory(ix) > 0);
    assert_int_equal(nova_policy_index_remove(ix, "doc:1", "viewer", "user:a"), NOVA_OK);
    assert_int_equal(nova_policy_index_remove(ix, "doc:1", "viewer", "user:a"), NOVA_NOT_FOUND);
    assert_int_equal(nova_policy_index_remove(ix, "doc:9", "viewer", "user:999"), NOVA_OK);
    assert_int_equal(nova_policy_index_count(ix), 999);
    nova_policy_index_free(ix);
}

static bool check(const nova_policy_query_t *q, const char *o, const char *r, const char *u)
{
    bool allowed = false;
    nova_policy_error_t err;
    nova_status st = nova_policy_check(q, o, r, u, &allowed, &err);
    if (st != NOVA_OK)
        fail_msg("check %s#%s@%s: error %d %s", o, r, u, err.code, err.message);
    return allowed;
}

static void add(nova_policy_index_t *ix, const nova_policy_model_t *m, const char *o, const char *r,
                const char *u, const char *cond)
{
    nova_policy_tuple_t t = {.object = o, .relation = r, .user = u, .condition = cond};
    nova_policy_error_t err;
    if (nova_policy_tuple_validate(m, &t, &err) != NOVA_OK)
        fail_msg("%s", err.message);
    assert_int_equal(nova_policy_index_add(ix, &t), NOVA_OK);
}

static void test_check_bank_model(void **state)
{
    (void)state;
    nova_policy_model_t *m = parse_ok(bank);
    nova_policy_index_t *ix = nova_policy_index_new();
    add(ix, m, "account:main", "owner", "user:ama", NULL);
    add(ix, m, "account:sub", "parent", "account:main", NULL);
    add(ix, m, "group:ops", "member", "user:kofi", NULL);
    add(ix, m, "account:sub", "owner", "group:ops#member", "in_hours");
    add(ix, m, "account:sub", "blocked", "user:eve", NULL);
    add(ix, m, "account:pub", "auditor", "user:*", NULL);
    json_t *ctx = json_pack("{s:s,s:s}", "now", "2024-01-01T08:00:00Z", "open", "9h");
    nova_policy_query_t q = {.model = m, .index = ix, .context = ctx};
    assert_true(check(&q, "account:main", "viewer", "user:ama"));
    assert_true(check(&q, "account:sub", "viewer", "user:ama")); /* from parent */
    assert_true(check(&q, "account:main", "mover", "user:ama"));
    assert_false(check(&q, "account:sub", "mover", "user:ama")); /* owner only of main */
    assert_true(check(&q, "account:sub", "mover", "user:kofi")); /* group, in hours */
    assert_true(check(&q, "account:pub", "viewer", "user:anyone"));
    assert_true(check(&q, "account:pub", "viewer", "user:*"));
    assert_false(check(&q, "account:main", "viewer", "user:eve"));
    /* contextual tuples add to the index for one query; the exclusion still wins */
    nova_policy_tuple_t ct[] = {{.object = "account:sub", .relation = "owner", .user = "user:eve"}};
    q.contextual = ct;
    q.ncontextual = 1;
    assert_false(check(&q, "account:sub", "viewer", "user:eve"));
    assert_true(check(&q, "account:sub", "owner", "user:eve"));
    q.contextual = NULL;
    q.ncontextual = 0;
    /* outside the hours the group grant is off; without the context it is an error */
    json_object_set_new(ctx, "now", json_string("2024-01-01T10:00:00Z"));
    assert_false(check(&q, "account:sub", "owner", "user:kofi"));
    q.context = NULL;
    bool allowed = true;
    nova_policy_error_t err;
    assert_int_equal(nova_policy_check(&q, "account:sub", "owner", "user:kofi", &allowed, &err),
                     NOVA_INVALID);
    assert_int_equal(err.code, NOVA_POLICY_E_VALIDATION);
    assert_non_null(strstr(err.message, "missing context parameters"));
    assert_false(allowed);
    /* validation errors */
    assert_int_equal(nova_policy_check(&q, "account:sub", "nope", "user:kofi", &allowed, &err),
                     NOVA_INVALID);
    assert_int_equal(nova_policy_check(&q, "bank:sub", "owner", "user:kofi", &allowed, &err),
                     NOVA_INVALID);
    assert_int_equal(nova_policy_check(&q, "account:sub", "owner", "a:b:c", &allowed, &err),
                     NOVA_INVALID);
    nova_policy_tuple_t badct[] = {
        {.object = "account:sub", .relation = "owner", .user = "user:*"}};
    q.contextual = badct;
    q.ncontextual = 1;
    assert_int_equal(nova_policy_check(&q, "account:sub", "owner", "user:kofi", &allowed, &err),
                     NOVA_INVALID);
    assert_int_equal(err.code, NOVA_POLICY_E_INVALID_TUPLE);
    q.contextual = NULL;
    q.ncontextual = 0;
    /* ListObjects and ListUsers */
    q.context = ctx;
    json_object_set_new(ctx, "now", json_string("2024-01-01T08:00:00Z"));
    json_t *out = NULL;
    assert_int_equal(nova_policy_list_objects(&q, "account", "viewer", "user:ama", &out, &err),
                     NOVA_OK);
    char *s = json_dumps(out, JSON_COMPACT);
    assert_string_equal(s, "[\"account:main\",\"account:pub\",\"account:sub\"]");
    free(s);
    json_decref(out);
    const char *filters[] = {"user"};
    assert_int_equal(nova_policy_list_users(&q, "account:sub", "viewer", filters, 1, &out, &err),
                     NOVA_OK);
    s = json_dumps(out, JSON_COMPACT);
    assert_string_equal(s, "[\"user:ama\",\"user:kofi\"]");
    free(s);
    json_decref(out);
    assert_int_equal(nova_policy_list_objects(&q, "bank", "viewer", "user:ama", &out, &err),
                     NOVA_INVALID);
    assert_int_equal(err.code, NOVA_POLICY_E_TYPE_NOT_FOUND);
    json_decref(ctx);
    nova_policy_index_free(ix);
    nova_policy_model_free(m);
}

/* ---- the reverse index and ListObjects by reverse expansion ---- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The reverse index, compared after every step of random adds and removes with the sets
 * found by scanning every set for the user. */
static void test_reverse_index_exact(void **state)
{
    (void)state;
    nova_policy_index_t *ix = nova_policy_index_new();
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    const char *rels[] = {"viewer", "owner", "parent"};
    char users[24][24];
    for (int i = 0; i < 24; i++)
        snprintf(users[i], sizeof(users[i]), i < 20 ? "user:%d" : "group:%d#member", i);
    size_t present = 0;
    for (int step = 0; step < 3000; step++) {
        char obj[16];
        snprintf(obj, sizeof(obj), "doc:%d", (int)(rng_next(&seed) % 12));
        const char *rel = rels[rng_next(&seed) % 3];
        const char *user = users[rng_next(&seed) % 24];
        if (rng_next(&seed) % 3) {
            nova_policy_tuple_t t = {.object = obj, .relation = rel, .user = user};
            nova_status st = nova_policy_index_add(ix, &t);
            assert_true(st == NOVA_OK || st == NOVA_CONFLICT);
            present += st == NOVA_OK;
        } else {
            nova_status st = nova_policy_index_remove(ix, obj, rel, user);
            assert_true(st == NOVA_OK || st == NOVA_NOT_FOUND);
            present -= st == NOVA_OK;
        }
        if (step % 50 != 0 && step != 2999)
            continue;
        assert_int_equal(nova_policy_index_count(ix), present);
        size_t total = 0;
        for (int u = 0; u < 24; u++) {
            uint32_t uid = ix_lookup(ix, users[u], strlen(users[u])), n = 0;
            const uint32_t *sets = uid ? ix_user_sets(ix, uid, &n) : NULL;
            uint8_t seen[4096] = {0};
            for (uint32_t k = 0; k < n; k++) {
                assert_true(sets[k] < ix_nsets(ix));
                assert_int_equal(seen[sets[k]], 0); /* each set once */
                seen[sets[k]] = 1;
            }
            uint32_t want = 0;
            for (size_t si = 0; uid && si < ix_nsets(ix); si++) {
                const ix_set_t *s = ix_set_at(ix, (uint32_t)si);
                bool holds = false;
                for (uint32_t e = 0; e < s->n; e++)
                    holds = holds || s->e[e].user == uid;
                assert_int_equal(holds, seen[si]);
                want += holds;
                assert_ptr_equal(ix_find(ix, s->object, s->relation), s);
            }
            assert_int_equal(n, want);
            total += n;
        }
        assert_int_equal(total, present);
    }
    nova_policy_index_free(ix);
}

/* Equal tuple contexts are held once and stay with their tuples through removals. */
static void test_index_shares_contexts(void **state)
{
    (void)state;
    nova_policy_index_t *ix = nova_policy_index_new();
    json_t *c1 = json_pack("{s:i,s:s}", "x", 1, "y", "a");
    json_t *c1b = json_pack("{s:s,s:i}", "y", "a", "x", 1); /* same members, other order */
    json_t *c2 = json_pack("{s:i}", "x", 2);
    const char *users[] = {"user:a", "user:b", "user:c", "user:d"};
    const json_t *ctx[] = {c1, c1b, c2, c1};
    for (int i = 0; i < 4; i++) {
        nova_policy_tuple_t t = {"doc:1", "viewer", users[i], "cond", ctx[i]};
        assert_int_equal(nova_policy_index_add(ix, &t), NOVA_OK);
    }
    json_object_set_new(c1, "x", json_integer(9)); /* the caller's object is not the index's */
    assert_int_equal(nova_policy_index_remove(ix, "doc:1", "viewer", "user:a"), NOVA_OK);
    assert_int_equal(nova_policy_index_remove(ix, "doc:1", "viewer", "user:d"), NOVA_OK);
    uint32_t obj = ix_lookup(ix, "doc:1", 5), rel = ix_lookup(ix, "viewer", 6);
    const ix_set_t *s = ix_find(ix, obj, rel);
    assert_non_null(s);
    assert_int_equal(s->n, 2);
    json_t *want1 = json_pack("{s:i,s:s}", "x", 1, "y", "a"), *want2 = json_pack("{s:i}", "x", 2);
    for (uint32_t i = 0; i < s->n; i++) {
        size_t n;
        const char *u = ix_string(ix, s->e[i].user, &n);
        assert_true(json_equal(s->e[i].context, strcmp(u, "user:b") == 0 ? want1 : want2));
    }
    json_decref(want1);
    json_decref(want2);
    json_decref(c1);
    json_decref(c1b);
    json_decref(c2);
    nova_policy_index_free(ix);
}

/* Models for the differential: usersets, tuple-to-userset chains, wildcards, intersection,
 * exclusion and conditions. */
static const char *const rx_models[] = {
    "model\n  schema 1.1\n"
    "type user\n"
    "type group\n  relations\n"
    "    define member: [user, user:*, group#member, user with small]\n"
    "type folder\n  relations\n"
    "    define parent: [folder]\n"
    "    define owner: [user, group#member]\n"
    "    define viewer: [user, user:*, group#member with small] or owner or viewer from parent\n"
    "type doc\n  relations\n"
    "    define parent: [folder]\n"
    "    define writer: [user, group#member]\n"
    "    define blocked: [user, group#member]\n"
    "    define reader: [user:*, user with small]\n"
    "    define viewer: (writer or viewer from parent) but not blocked\n"
    "    define both: writer and reader\n"
    "    define audit: viewer and (reader or owner from parent)\n"
    "condition small(x: int, limit: int) {\n  x < limit\n}\n",
    "model\n  schema 1.1\n"
    "type user\n"
    "type team\n  relations\n"
    "    define lead: [user]\n"
    "    define member: [user, team#member] or lead\n"
    "type org\n  relations\n"
    "    define parent: [org]\n"
    "    define admin: [user, team#lead, team#member] or admin from parent\n"
    "    define member: [user, user:*] or admin\n"
    "type repo\n  relations\n"
    "    define org: [org]\n"
    "    define banned: [user, team#member]\n"
    "    define maintainer: [user, team#member with small] or admin from org\n"
    "    define reader: ([user:*] or maintainer or member from org) but not banned\n"
    "    define triager: maintainer and member from org\n"
    "condition small(x: int, limit: int) {\n  x < limit\n}\n",
};

#define RX_IDS 5

/* Random tuples admitted by the model's direct types: objects type:0..4, users of every shape
 * a relation admits; conditional ones get a context x in 0..9. */
static void rx_fill(nova_policy_index_t *ix, const nova_policy_model_t *m, uint64_t *seed,
                    int count, nova_policy_tuple_t *ct, size_t *nct, char (*buf)[3][48])
{
    for (int k = 0; k < count; k++) {
        const pol_type_t *t = &m->types[rng_next(seed) % m->ntypes];
        if (!t->nrels)
            continue;
        const pol_relation_t *r = &t->rels[rng_next(seed) % t->nrels];
        if (!r->ndirect)
            continue;
        const rel_ref_t *d = &r->direct[rng_next(seed) % r->ndirect];
        char obj[48], user[48];
        snprintf(obj, sizeof(obj), "%s:%d", t->name, (int)(rng_next(seed) % RX_IDS));
        int uid = (int)(rng_next(seed) % RX_IDS);
        if (d->wildcard)
            snprintf(user, sizeof(user), "%s:*", d->type);
        else if (d->relation)
            snprintf(user, sizeof(user), "%s:%d#%s", d->type, uid, d->relation);
        else
            snprintf(user, sizeof(user), "%s:%d", d->type, uid);
        json_t *cx = d->condition ? json_pack("{s:i}", "x", (int)(rng_next(seed) % 10)) : NULL;
        nova_policy_tuple_t tp = {obj, r->name, user, d->condition, cx};
        nova_policy_error_t err;
        if (nova_policy_tuple_validate(m, &tp, &err) != NOVA_OK)
            fail_msg("generated tuple rejected: %s", err.message);
        if (ct && *nct < 3 && rng_next(seed) % 4 == 0) { /* a contextual tuple instead */
            snprintf(buf[*nct][0], 48, "%s", obj);
            snprintf(buf[*nct][1], 48, "%s", user);
            snprintf(buf[*nct][2], 48, "%s", r->name);
            ct[*nct] = (nova_policy_tuple_t){buf[*nct][0], buf[*nct][2], buf[*nct][1], d->condition,
                                             cx ? json_incref(cx) : NULL};
            (*nct)++;
        } else {
            nova_status st = nova_policy_index_add(ix, &tp);
            assert_true(st == NOVA_OK || st == NOVA_CONFLICT);
        }
        json_decref(cx);
    }
}

static char *rx_answer(nova_status st, json_t *out, const nova_policy_error_t *err)
{
    char *s = NULL;
    if (st == NOVA_OK) {
        s = json_dumps(out, JSON_COMPACT);
    } else {
        s = malloc(32);
        snprintf(s, 32, "error %d/%d", (int)st, err->code);
    }
    json_decref(out);
    return s;
}

/* ListObjects by reverse expansion against the scan (every object checked) on random data:
 * every (type, relation) for users of every shape (plain, wildcard, userset), with and
 * without the condition's context, with and without contextual tuples. */
static void test_list_objects_reverse_differential(void **state)
{
    (void)state;
    uint64_t seed = 0x2545f4914f6cdd1dULL;
    size_t compared = 0, nonempty = 0, errors = 0;
    for (size_t mi = 0; mi < sizeof(rx_models) / sizeof(rx_models[0]); mi++) {
        nova_policy_model_t *m = parse_ok(rx_models[mi]);
        for (int round = 0; round < 12; round++) {
            nova_policy_index_t *ix = nova_policy_index_new();
            nova_policy_tuple_t ct[3];
            char ctbuf[3][3][48];
            size_t nct = 0;
            rx_fill(ix, m, &seed, 20 + round * 6, round % 3 == 2 ? ct : NULL, &nct, ctbuf);
            json_t *ctx = json_pack("{s:i}", "limit", 5);
            nova_policy_query_t q = {.model = m,
                                     .index = ix,
                                     .context = round % 4 == 3 ? NULL : ctx,
                                     .contextual = nct ? ct : NULL,
                                     .ncontextual = nct};
            for (size_t ti = 0; ti < m->ntypes; ti++)
                for (size_t ri = 0; ri < m->types[ti].nrels; ri++)
                    for (size_t ui = 0; ui < m->ntypes; ui++) {
                        const pol_type_t *ut = &m->types[ui];
                        for (int v = -1; v < (int)(3 + ut->nrels); v++) {
                            char user[64];
                            if (v == -1)
                                snprintf(user, sizeof(user), "%s:*", ut->name);
                            else if (v < 3)
                                snprintf(user, sizeof(user), "%s:%d", ut->name, v);
                            else
                                snprintf(user, sizeof(user), "%s:%d#%s", ut->name,
                                         (int)(rng_next(&seed) % RX_IDS), ut->rels[v - 3].name);
                            const char *type = m->types[ti].name;
                            const char *rel = m->types[ti].rels[ri].name;
                            json_t *a = NULL, *b = NULL;
                            nova_policy_error_t ea = {0}, eb = {0};
                            nova_status sa = nova_policy_list_objects(&q, type, rel, user, &a, &ea);
                            nova_status sb = pol_list_objects_scan(&q, type, rel, user, &b, &eb);
                            nonempty += sa == NOVA_OK && json_array_size(a) > 0;
                            errors += sa != NOVA_OK;
                            char *x = rx_answer(sa, a, &ea), *y = rx_answer(sb, b, &eb);
                            if (strcmp(x, y) != 0)
                                fail_msg("model %zu round %d: list-objects %s#%s@%s: reverse %s, "
                                         "scan %s",
                                         mi, round, type, rel, user, x, y);
                            free(x);
                            free(y);
                            compared++;
                        }
                    }
            for (size_t i = 0; i < nct; i++)
                json_decref((json_t *)ct[i].context);
            json_decref(ctx);
            nova_policy_index_free(ix);
        }
        nova_policy_model_free(m);
    }
    /* the comparison is not vacuous: many answers list objects, some are errors */
    print_message("list-objects differential: %zu queries, %zu non-empty, %zu errors\n", compared,
                  nonempty, errors);
    assert_true(compared > 1000);
    assert_true(nonempty > compared / 10);
    assert_true(errors > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dsl_parses_every_construct),
        cmocka_unit_test(test_dsl_errors_name_line_and_column),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_cel_types_and_operators),
        cmocka_unit_test(test_cel_compile_errors),
        cmocka_unit_test(test_index_add_remove),
        cmocka_unit_test(test_check_bank_model),
        cmocka_unit_test(test_reverse_index_exact),
        cmocka_unit_test(test_index_shares_contexts),
        cmocka_unit_test(test_list_objects_reverse_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
