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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
