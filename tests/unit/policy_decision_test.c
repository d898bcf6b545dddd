/*
 * policy_decision_test.c: the decision point without a server: bundle and input validation
 * (every refusal names its field), each stage's refusal and its reason, step-up by action and
 * by context, fail-closed on a missing model, missing condition context and CEL errors, and the
 * relation path in explain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/policy/internal.h"
#include "nova/policy_decision.h"

static const char *const MODEL =
    "model\n"
    "  schema 1.1\n"
    "type user\n"
    "type team\n"
    "  relations\n"
    "    define member: [user, team#member]\n"
    "type merchant\n"
    "  relations\n"
    "    define owner: [user]\n"
    "    define editor: [user, team#member, user with in_region] or owner\n"
    "    define viewer: [user] or editor\n"
    "type account\n"
    "  relations\n"
    "    define merchant: [merchant]\n"
    "    define viewer: viewer from merchant\n"
    "condition in_region(region: string, allowed: list<string>) {\n"
    "  region in allowed\n"
    "}\n";

static const char *const BUNDLE =
    "{\"store_id\": \"01HZX0000000000000000000ST\","
    " \"authorization_model_id\": \"01HZX0000000000000000000MD\","
    " \"actions\": {"
    "   \"settlement.update\": {\"relation\": \"editor\", \"resource_types\": [\"merchant\"]},"
    "   \"merchant.read\": {\"relation\": \"viewer\", \"resource_types\": [\"merchant\"]},"
    "   \"account.read\": {\"relation\": \"viewer\", \"resource_types\": [\"account\"]}},"
    " \"purposes\": {"
    "   \"reconciliation\": {\"resource_types\": [\"merchant\"],"
    "                        \"actions\": [\"settlement.update\", \"merchant.read\"]},"
    "   \"support\": {\"resource_types\": [\"account\"], \"actions\": [\"account.read\"]}},"
    " \"rules\": ["
    "   {\"id\": \"kenya_only\", \"effect\": \"require\", \"actions\": [\"settlement.update\"],"
    "    \"when\": \"resource.attrs.region == 'KE'\"},"
    "   {\"id\": \"no_frozen\", \"effect\": \"deny\","
    "    \"when\": \"has(resource.attrs.frozen) && resource.attrs.frozen\"},"
    "   {\"id\": \"settlement_aal2\", \"effect\": \"step_up\", \"aal\": 2,"
    "    \"actions\": [\"settlement.update\"]},"
    "   {\"id\": \"high_risk\", \"effect\": \"step_up\", \"aal\": 3,"
    "    \"when\": \"has(context.risk) && context.risk == 'high'\"}]}";

typedef struct fixture {
    nova_policy_model_t *m;
    nova_policy_index_t *ix;
    nova_policy_bundle_t *b;
} fixture_t;

static void add(nova_policy_index_t *ix, const char *o, const char *r, const char *u,
                const char *cond)
{
    nova_policy_tuple_t t = {o, r, u, cond, NULL};
    assert_int_equal(nova_policy_index_add(ix, &t), NOVA_OK);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    nova_policy_error_t perr;
    assert_int_equal(nova_policy_model_parse(MODEL, strlen(MODEL), &f->m, &perr), NOVA_OK);
    f->ix = nova_policy_index_new();
    add(f->ix, "merchant:m1", "editor", "team:ops#member", NULL);
    add(f->ix, "team:ops", "member", "user:ada", NULL);
    add(f->ix, "merchant:m1", "owner", "user:bob", NULL);
    add(f->ix, "merchant:m2", "editor", "user:cy", "in_region");
    add(f->ix, "account:a1", "merchant", "merchant:m1", NULL);
    json_t *doc = json_loads(BUNDLE, 0, NULL);
    assert_non_null(doc);
    char err[256] = "";
    if (nova_policy_bundle_parse(doc, &f->b, err, sizeof(err)) != NOVA_OK)
        fail_msg("bundle refused: %s", err);
    json_decref(doc);
    if (nova_policy_bundle_bind(f->b, f->m, err, sizeof(err)) != NOVA_OK)
        fail_msg("bundle does not bind: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    nova_policy_bundle_free(f->b);
    nova_policy_index_free(f->ix);
    nova_policy_model_free(f->m);
    free(f);
    return 0;
}

/* An input for acme: subject user:<who>, aal, resource, action, purpose, extra members. */
static json_t *input(const char *who, int aal, const char *rtype, const char *rid,
                     const char *action, const char *purpose, const char *attrs, const char *ctx)
{
    char buf[2048];
    snprintf(buf, sizeof(buf),
             "{\"tenant\": {\"id\": \"acme\"},"
             " \"subject\": {\"type\": \"user\", \"id\": \"%s\", \"aal\": %d},"
             " \"resource\": {\"type\": \"%s\", \"id\": \"%s\", \"tenant_id\": \"acme\","
             "                \"attrs\": %s},"
             " \"action\": \"%s\"%s%s%s, \"context\": %s}",
             who, aal, rtype, rid, attrs ? attrs : "{}", action, purpose ? ", \"purpose\": \"" : "",
             purpose ? purpose : "", purpose ? "\"" : "", ctx ? ctx : "{}");
    json_error_t je;
    json_t *j = json_loads(buf, 0, &je);
    if (!j)
        fail_msg("bad test input: %s", je.text);
    char err[256];
    if (nova_policy_input_validate(j, err, sizeof(err)) != NOVA_OK)
        fail_msg("input refused: %s", err);
    return j;
}

/* Decides and checks answer, stage and reason; returns the explain (caller decrefs). */
static json_t *expect(fixture_t *f, json_t *in, nova_policy_answer want, const char *stage,
                      const char *reason)
{
    nova_policy_decision_t d;
    nova_policy_decide(f->b, f->m, f->ix, in, "acme", &d);
    json_decref(in);
    if (d.answer != want || strcmp(d.stage, stage) != 0 || strcmp(d.reason, reason) != 0) {
        char *e = json_dumps(d.explain, JSON_COMPACT);
        fail_msg("got %s/%s/%s, want %s/%s/%s; explain %s", nova_policy_answer_name(d.answer),
                 d.stage, d.reason, nova_policy_answer_name(want), stage, reason, e);
    }
    assert_string_equal(json_string_value(json_object_get(d.explain, "reason")), reason);
    assert_string_equal(json_string_value(json_object_get(d.explain, "authorization_model_id")),
                        "01HZX0000000000000000000MD");
    return d.explain;
}

static const json_t *find_stage(const json_t *explain, const char *name)
{
    const json_t *stages = json_object_get(explain, "stages");
    for (size_t i = 0; i < json_array_size(stages); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(stages, i), "stage")), name) ==
            0)
            return json_array_get(stages, i);
    return NULL;
}

static void test_allow_with_path(void **state)
{
    fixture_t *f = *state;
    json_t *e = expect(f,
                       input("ada", 2, "merchant", "m1", "settlement.update", "reconciliation",
                             "{\"region\": \"KE\"}", NULL),
                       NOVA_POLICY_ALLOW, "allow", "allowed");
    const json_t *rel = find_stage(e, "relation");
    assert_non_null(rel);
    char *path = json_dumps(json_object_get(rel, "path"), JSON_COMPACT);
    /* merchant:m1#editor via team:ops#member to the tuple's user */
    assert_string_equal(path, "[\"merchant:m1#editor\",\"team:ops#member\",\"user:ada\"]");
    free(path);
    json_decref(e);
    /* a parent chain: account -> merchant -> owner */
    e = expect(f, input("bob", 1, "account", "a1", "account.read", "support", NULL, NULL),
               NOVA_POLICY_ALLOW, "allow", "allowed");
    path = json_dumps(json_object_get(find_stage(e, "relation"), "path"), JSON_COMPACT);
    assert_non_null(strstr(path, "merchant:m1#owner"));
    free(path);
    json_decref(e);
}

static void test_each_stage_refuses(void **state)
{
    fixture_t *f = *state;
    json_t *in = input("ada", 2, "merchant", "m1", "settlement.update", "reconciliation",
                       "{\"region\": \"KE\"}", NULL);
    /* another tenant's resource */
    json_object_set_new(json_object_get(in, "resource"), "tenant_id", json_string("other"));
    json_decref(expect(f, in, NOVA_POLICY_DENY, "same_tenant", "tenant_mismatch"));
    /* the caller is not the input's tenant */
    nova_policy_decision_t d;
    in = input("ada", 2, "merchant", "m1", "settlement.update", "reconciliation", NULL, NULL);
    nova_policy_decide(f->b, f->m, f->ix, in, "other-tenant", &d);
    assert_int_equal(d.answer, NOVA_POLICY_DENY);
    assert_string_equal(d.reason, "tenant_mismatch");
    json_decref(d.explain);
    json_decref(in);
    json_decref(expect(f, input("ada", 2, "merchant", "m1", "payout.create", NULL, NULL, NULL),
                       NOVA_POLICY_DENY, "action", "unknown_action"));
    json_decref(expect(f, input("ada", 2, "account", "a1", "settlement.update", NULL, NULL, NULL),
                       NOVA_POLICY_DENY, "action", "action_not_for_type"));
    json_decref(expect(f, input("ada", 2, "merchant", "m1", "settlement.update", NULL, NULL, NULL),
                       NOVA_POLICY_DENY, "purpose", "purpose_missing"));
    json_decref(
        expect(f, input("ada", 2, "merchant", "m1", "settlement.update", "marketing", NULL, NULL),
               NOVA_POLICY_DENY, "purpose", "purpose_unknown"));
    json_decref(
        expect(f, input("ada", 2, "merchant", "m1", "settlement.update", "support", NULL, NULL),
               NOVA_POLICY_DENY, "purpose", "purpose_not_allowed"));
    json_decref(expect(f,
                       input("eve", 2, "merchant", "m1", "settlement.update", "reconciliation",
                             "{\"region\": \"KE\"}", NULL),
                       NOVA_POLICY_DENY, "relation", "no_relation"));
    json_decref(expect(f,
                       input("ada", 2, "merchant", "m1", "settlement.update", "reconciliation",
                             "{\"region\": \"NG\"}", NULL),
                       NOVA_POLICY_DENY, "rule", "rule_not_met"));
    json_decref(expect(f,
                       input("ada", 2, "merchant", "m1", "merchant.read", "reconciliation",
                             "{\"frozen\": true}", NULL),
                       NOVA_POLICY_DENY, "rule", "rule_denied"));
}

static void test_fail_closed(void **state)
{
    fixture_t *f = *state;
    /* a require rule over an attribute that is not there: an error, so deny */
    json_t *e = expect(
        f, input("ada", 2, "merchant", "m1", "settlement.update", "reconciliation", NULL, NULL),
        NOVA_POLICY_DENY, "rule", "rule_error");
    assert_string_equal(json_string_value(json_object_get(e, "rule")), "kenya_only");
    json_decref(e);
    /* a conditional tuple without its context: deny, naming the condition's parameters */
    e = expect(f, input("cy", 2, "merchant", "m2", "merchant.read", "reconciliation", NULL, NULL),
               NOVA_POLICY_DENY, "relation", "condition_missing_context");
    assert_non_null(
        strstr(json_string_value(json_object_get(find_stage(e, "relation"), "why")), "region"));
    json_decref(e);
    /* with it: allowed; with a value outside the list: no relation */
    json_decref(expect(f,
                       input("cy", 2, "merchant", "m2", "merchant.read", "reconciliation", NULL,
                             "{\"region\": \"KE\", \"allowed\": [\"KE\", \"UG\"]}"),
                       NOVA_POLICY_ALLOW, "allow", "allowed"));
    json_decref(expect(f,
                       input("cy", 2, "merchant", "m2", "merchant.read", "reconciliation", NULL,
                             "{\"region\": \"NG\", \"allowed\": [\"KE\"]}"),
                       NOVA_POLICY_DENY, "relation", "no_relation"));
    /* a condition parameter of the wrong type is an error, so deny */
    json_decref(expect(f,
                       input("cy", 2, "merchant", "m2", "merchant.read", "reconciliation", NULL,
                             "{\"region\": 7, \"allowed\": [\"KE\"]}"),
                       NOVA_POLICY_DENY, "relation", "check_error"));
    /* no model or no policy */
    nova_policy_decision_t d;
    json_t *in = input("bob", 2, "merchant", "m1", "merchant.read", "reconciliation", NULL, NULL);
    nova_policy_decide(f->b, NULL, f->ix, in, "acme", &d);
    assert_int_equal(d.answer, NOVA_POLICY_DENY);
    assert_string_equal(d.reason, "model_missing");
    json_decref(d.explain);
    nova_policy_decide(NULL, f->m, f->ix, in, "acme", &d);
    assert_int_equal(d.answer, NOVA_POLICY_DENY);
    assert_string_equal(d.reason, "no_policy");
    json_decref(d.explain);
    /* no tuples at all */
    nova_policy_decide(f->b, f->m, NULL, in, "acme", &d);
    assert_int_equal(d.answer, NOVA_POLICY_DENY);
    assert_string_equal(d.reason, "no_relation");
    json_decref(d.explain);
    json_decref(in);
}

static void test_step_up(void **state)
{
    fixture_t *f = *state;
    nova_policy_decision_t d;
    /* the action needs aal 2 */
    json_t *in = input("bob", 1, "merchant", "m1", "settlement.update", "reconciliation",
                       "{\"region\": \"KE\"}", NULL);
    nova_policy_decide(f->b, f->m, f->ix, in, "acme", &d);
    assert_int_equal(d.answer, NOVA_POLICY_STEP_UP);
    assert_int_equal(d.required_aal, 2);
    assert_string_equal(json_string_value(json_object_get(d.explain, "rule")), "settlement_aal2");
    json_decref(d.explain);
    json_decref(in);
    /* a missing aal is aal 0 */
    in = input("bob", 0, "merchant", "m1", "settlement.update", "reconciliation",
               "{\"region\": \"KE\"}", NULL);
    json_object_del(json_object_get(in, "subject"), "aal");
    nova_policy_decide(f->b, f->m, f->ix, in, "acme", &d);
    assert_int_equal(d.answer, NOVA_POLICY_STEP_UP);
    json_decref(d.explain);
    json_decref(in);
    /* high risk needs aal 3 for any action, and wins over the action's 2 */
    in = input("bob", 2, "merchant", "m1", "settlement.update", "reconciliation",
               "{\"region\": \"KE\"}", "{\"risk\": \"high\"}");
    nova_policy_decide(f->b, f->m, f->ix, in, "acme", &d);
    assert_int_equal(d.answer, NOVA_POLICY_STEP_UP);
    assert_int_equal(d.required_aal, 3);
    assert_string_equal(json_string_value(json_object_get(d.explain, "rule")), "high_risk");
    json_decref(d.explain);
    json_decref(in);
    in = input("bob", 1, "merchant", "m1", "merchant.read", "reconciliation", NULL,
               "{\"risk\": \"high\"}");
    nova_policy_decide(f->b, f->m, f->ix, in, "acme", &d);
    assert_int_equal(d.answer, NOVA_POLICY_STEP_UP);
    assert_int_equal(d.required_aal, 3);
    json_decref(d.explain);
    json_decref(in);
    /* a step-up never turns a deny into anything else */
    json_decref(expect(f,
                       input("eve", 1, "merchant", "m1", "settlement.update", "reconciliation",
                             "{\"region\": \"KE\"}", "{\"risk\": \"high\"}"),
                       NOVA_POLICY_DENY, "relation", "no_relation"));
    /* reached: allowed */
    json_decref(expect(f,
                       input("bob", 3, "merchant", "m1", "settlement.update", "reconciliation",
                             "{\"region\": \"KE\"}", "{\"risk\": \"high\"}"),
                       NOVA_POLICY_ALLOW, "allow", "allowed"));
}

static void bundle_refused(const char *text, const char *needle)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    if (!doc)
        fail_msg("bad test bundle %s: %s", text, je.text);
    nova_policy_bundle_t *b = NULL;
    char err[256] = "";
    assert_int_equal(nova_policy_bundle_parse(doc, &b, err, sizeof(err)), NOVA_INVALID);
    assert_null(b);
    json_decref(doc);
    if (!strstr(err, needle))
        fail_msg("bundle error '%s' does not contain '%s'", err, needle);
}

#define IDS                                                                                        \
    "\"store_id\": \"01HZX0000000000000000000ST\", \"authorization_model_id\": "                   \
    "\"01HZX0000000000000000000MD\""

static void test_bundle_refusals_name_the_field(void **state)
{
    (void)state;
    bundle_refused("[]", "/:");
    bundle_refused("{\"actions\": {\"a\": {\"relation\": \"r\"}}}", "/store_id");
    bundle_refused("{\"store_id\": \"01HZX0000000000000000000ST\", \"authorization_model_id\": 1,"
                   " \"actions\": {}}",
                   "/authorization_model_id");
    bundle_refused("{" IDS ", \"actions\": {}}", "/actions");
    bundle_refused("{" IDS ", \"actions\": {\"a\": {}}}", "/actions/a/relation");
    bundle_refused("{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\", \"x\": 1}}}",
                   "/actions/a/x: unknown member");
    bundle_refused("{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\", \"resource_types\": []}}}",
                   "/actions/a/resource_types");
    bundle_refused("{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\"}}, \"extra\": 1}",
                   "/extra: unknown member");
    bundle_refused("{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\"}},"
                   " \"purposes\": {\"p\": {\"resource_types\": [\"t\"], \"actions\": [\"b\"]}}}",
                   "/purposes/p/actions/0: action 'b'");
    bundle_refused("{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\"}},"
                   " \"purposes\": {\"p\": {\"actions\": [\"a\"]}}}",
                   "/purposes/p/resource_types: required");
    bundle_refused("{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\"}},"
                   " \"rules\": [{\"id\": \"x\", \"effect\": \"maybe\", \"when\": \"true\"}]}",
                   "/rules/0/effect");
    bundle_refused("{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\"}},"
                   " \"rules\": [{\"id\": \"x\", \"effect\": \"deny\"}]}",
                   "/rules/0/when: a CEL expression is required");
    bundle_refused("{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\"}},"
                   " \"rules\": [{\"id\": \"x\", \"effect\": \"deny\", \"when\": \"1 +\"}]}",
                   "/rules/0/when: 1:");
    bundle_refused(
        "{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\"}},"
        " \"rules\": [{\"id\": \"x\", \"effect\": \"deny\", \"when\": \"secret == 1\"}]}",
        "/rules/0/when: 'secret' is not an input");
    bundle_refused("{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\"}},"
                   " \"rules\": [{\"id\": \"x\", \"effect\": \"step_up\", \"aal\": 4}]}",
                   "/rules/0/aal");
    bundle_refused("{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\"}},"
                   " \"rules\": [{\"id\": \"x\", \"effect\": \"deny\", \"when\": \"true\", "
                   "\"aal\": 2}]}",
                   "/rules/0/aal: only a step_up rule");
    bundle_refused("{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\"}},"
                   " \"rules\": [{\"id\": \"x\", \"effect\": \"step_up\", \"aal\": 2},"
                   " {\"id\": \"x\", \"effect\": \"step_up\", \"aal\": 2}]}",
                   "/rules/1/id: id 'x' is given twice");
    bundle_refused("{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\"}},"
                   " \"rules\": [{\"id\": \"x\", \"effect\": \"step_up\", \"aal\": 2, "
                   "\"actions\": [\"zz\"]}]}",
                   "/rules/0/actions/0: action 'zz'");
    bundle_refused("{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\"}},"
                   " \"http\": {\"user_subject_type\": \"\"}}",
                   "/http/user_subject_type: a name is required");
    bundle_refused("{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\"}},"
                   " \"http\": {\"users\": \"person\"}}",
                   "/http/users: unknown member");
}

/* The subject types of the callers the HTTP routes see: clients and people. */
static void test_bundle_subject_types(void **state)
{
    (void)state;
    const char *texts[] = {
        "{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\"}}}",
        "{" IDS ", \"actions\": {\"a\": {\"relation\": \"r\"}},"
        " \"http\": {\"subject_type\": \"app\", \"user_subject_type\": \"employee\"}}"};
    const char *want[][2] = {{"client", "user"}, {"app", "employee"}};
    for (size_t i = 0; i < 2; i++) {
        json_t *doc = json_loads(texts[i], 0, NULL);
        assert_non_null(doc);
        nova_policy_bundle_t *b = NULL;
        char err[256] = "";
        assert_int_equal(nova_policy_bundle_parse(doc, &b, err, sizeof(err)), NOVA_OK);
        json_decref(doc);
        assert_string_equal(nova_policy_bundle_subject_type(b), want[i][0]);
        assert_string_equal(nova_policy_bundle_user_subject_type(b), want[i][1]);
        nova_policy_bundle_free(b);
    }
}

static void bind_refused(fixture_t *f, const char *text, const char *needle)
{
    json_t *doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    nova_policy_bundle_t *b = NULL;
    char err[256] = "";
    if (nova_policy_bundle_parse(doc, &b, err, sizeof(err)) != NOVA_OK)
        fail_msg("parse refused %s: %s", text, err);
    json_decref(doc);
    assert_int_equal(nova_policy_bundle_bind(b, f->m, err, sizeof(err)), NOVA_INVALID);
    nova_policy_bundle_free(b);
    if (!strstr(err, needle))
        fail_msg("bind error '%s' does not contain '%s'", err, needle);
}

static void test_bundle_binds_to_the_model(void **state)
{
    fixture_t *f = *state;
    bind_refused(f, "{" IDS ", \"actions\": {\"a\": {\"relation\": \"approver\"}}}",
                 "/actions/a/relation: no type of the model has 'approver'");
    bind_refused(f,
                 "{" IDS ", \"actions\": {\"a\": {\"relation\": \"owner\", \"resource_types\": "
                 "[\"account\"]}}}",
                 "/actions/a/relation: type 'account' has no relation 'owner'");
    bind_refused(f,
                 "{" IDS ", \"actions\": {\"a\": {\"relation\": \"viewer\", \"resource_types\": "
                 "[\"loan\"]}}}",
                 "/actions/a/resource_types/0: type 'loan'");
    bind_refused(f,
                 "{" IDS ", \"actions\": {\"a\": {\"relation\": \"viewer\"}}, \"purposes\": "
                 "{\"p\": {\"resource_types\": [\"loan\"], \"actions\": [\"a\"]}}}",
                 "/purposes/p/resource_types/0: type 'loan'");
}

static void input_refused(const char *text, const char *needle)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    char err[256] = "";
    assert_int_equal(nova_policy_input_validate(j, err, sizeof(err)), NOVA_INVALID);
    json_decref(j);
    if (!strstr(err, needle))
        fail_msg("input error '%s' does not contain '%s'", err, needle);
}

#define SUBJ "\"subject\": {\"type\": \"user\", \"id\": \"u\"}"
#define RES "\"resource\": {\"type\": \"merchant\", \"id\": \"m\", \"tenant_id\": \"t\"}"
#define TEN "\"tenant\": {\"id\": \"t\"}"

static void test_input_refusals_name_the_field(void **state)
{
    (void)state;
    input_refused("{" SUBJ ", " RES ", \"action\": \"a\"}", "/tenant");
    input_refused("{" TEN ", " RES ", \"action\": \"a\"}", "/subject");
    input_refused("{" TEN ", " SUBJ ", \"action\": \"a\"}", "/resource");
    input_refused("{" TEN ", " SUBJ ", " RES "}", "/action");
    input_refused("{" TEN ", " SUBJ ", " RES ", \"action\": \"a\", \"x\": 1}", "/x: unknown");
    input_refused("{" TEN ", \"subject\": {\"type\": \"user\", \"id\": \"u:1\"}, " RES
                  ", \"action\": \"a\"}",
                  "/subject/id");
    input_refused("{" TEN ", \"subject\": {\"type\": \"user\", \"id\": \"u\", \"aal\": 9}, " RES
                  ", \"action\": \"a\"}",
                  "/subject/aal");
    input_refused("{" TEN ", " SUBJ ", \"resource\": {\"type\": \"m\", \"id\": \"m\"}, "
                  "\"action\": \"a\"}",
                  "/resource/tenant_id");
    input_refused("{" TEN ", " SUBJ ", " RES ", \"action\": \"a\", \"context\": []}", "/context");
    input_refused("{" TEN ", " SUBJ ", " RES ", \"action\": \"a\", \"purpose\": 3}", "/purpose");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_allow_with_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_stage_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_up, setup, teardown),
        cmocka_unit_test(test_bundle_refusals_name_the_field),
        cmocka_unit_test(test_bundle_subject_types),
        cmocka_unit_test_setup_teardown(test_bundle_binds_to_the_model, setup, teardown),
        cmocka_unit_test(test_input_refusals_name_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
