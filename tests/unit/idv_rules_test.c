/*
 * idv_rules_test.c: the verification gateway's `when` review rules (src/idv/gateway/decide.c)
 * evaluated with the policy engine's CEL (nova_cel_eval_json): a rule that holds over the step
 * outputs sends an otherwise approved verification to review, naming the rule; one that does
 * not hold changes nothing; one that cannot be evaluated (a step that did not run, a field it
 * lacks, not a bool) sends to review as review_rule_error, never letting it through; rules run
 * in order after any_step and score_between; and nova_cel_eval_json itself on JSON inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/idv/gateway/internal.h"
#include "nova/policy.h"

/* Decides results under a workflow with one `when` rule; returns the decision and the first
 * reason's code (and rule index, -1 when none). */
static const char *decide_when(const char *when, const char *results, char *code, int *rule)
{
    char wf[1024];
    snprintf(wf, sizeof(wf),
             "{\"name\":\"w\",\"steps\":[{\"check\":\"ocr\"},{\"check\":\"mrz\"},"
             "{\"check\":\"age\",\"config\":{\"min_age\":18}}],"
             "\"review_rules\":[{\"when\":\"%s\"}],"
             "\"decision\":{\"approve_at\":0.8,\"reject_below\":0.4}}",
             when);
    nova_workflow_def_t d;
    char field[128], why[200];
    assert_int_equal(
        nova_workflow_validate(wf, strlen(wf), &d, field, sizeof(field), why, sizeof(why)),
        NOVA_OK);
    json_t *def = json_loads(wf, 0, NULL), *res = json_loads(results, 0, NULL);
    assert_non_null(def);
    assert_non_null(res);
    json_t *out = idv_decide(&d, def, res);
    assert_non_null(out);
    static char decision[32];
    snprintf(decision, sizeof(decision), "%s", json_string_value(json_object_get(out, "decision")));
    json_t *r0 = json_array_get(json_object_get(out, "reasons"), 0);
    snprintf(code, 64, "%s", r0 ? json_string_value(json_object_get(r0, "code")) : "");
    json_t *ri = json_object_get(r0, "rule");
    *rule = ri ? (int)json_integer_value(ri) : -1;
    json_decref(out);
    json_decref(def);
    json_decref(res);
    return decision;
}

/* Three passing steps with high scores (approved without rules), the age step extracting 19. */
static const char PASSING[] =
    "[{\"id\":\"ocr\",\"check\":\"ocr\",\"status\":\"passed\",\"score\":0.95,\"reasons\":[],"
    "\"extracted\":{\"lines\":3}},"
    "{\"id\":\"mrz\",\"check\":\"mrz\",\"status\":\"passed\",\"score\":0.9,"
    "\"reasons\":[{\"code\":\"repaired\"}],\"extracted\":{\"fields\":{\"issuer\":\"KEN\"},"
    "\"checks\":{\"document_number\":\"repaired\",\"composite\":\"ok\"}}},"
    "{\"id\":\"age\",\"check\":\"age\",\"status\":\"passed\",\"score\":1,\"reasons\":[],"
    "\"extracted\":{\"age\":19}}]";

static void test_when_rules(void **state)
{
    (void)state;
    char code[64];
    int rule;
    /* holds: an approved verification goes to review, naming the rule */
    assert_string_equal(decide_when("steps.age.extracted.age < 21", PASSING, code, &rule),
                        "review_required");
    assert_string_equal(code, "review_rule_when");
    assert_int_equal(rule, 0);
    /* does not hold: approved as without the rule */
    assert_string_equal(decide_when("steps.age.extracted.age < 18", PASSING, code, &rule),
                        "approved");
    /* reasons are their codes; strings, lists and the aggregate score are there */
    assert_string_equal(decide_when("'repaired' in steps.mrz.reasons && "
                                    "steps.mrz.extracted.fields.issuer == 'KEN'",
                                    PASSING, code, &rule),
                        "review_required");
    /* over the mrz step's nova_mrz_json: a repaired number sent to review */
    assert_string_equal(decide_when("steps.mrz.extracted.checks.document_number == 'repaired'",
                                    PASSING, code, &rule),
                        "review_required");
    assert_string_equal(
        decide_when("steps.mrz.extracted.checks.composite == 'failed'", PASSING, code, &rule),
        "approved");
    assert_string_equal(decide_when("score > 0.99", PASSING, code, &rule), "approved");
    assert_string_equal(
        decide_when("score > 0.9 && steps.ocr.status == 'passed'", PASSING, code, &rule),
        "review_required");
    /* cannot be evaluated: review, as an error, never through */
    assert_string_equal(decide_when("steps.face.score < 0.5", PASSING, code, &rule),
                        "review_required");
    assert_string_equal(code, "review_rule_error");
    assert_string_equal(decide_when("steps.age.extracted.nope > 1", PASSING, code, &rule),
                        "review_required");
    assert_string_equal(code, "review_rule_error");
    assert_string_equal(decide_when("steps.age.score", PASSING, code, &rule), "review_required");
    assert_string_equal(code, "review_rule_error");
    /* a rejection by a failed required step stands: rules only ask for review */
    assert_string_equal(decide_when("true",
                                    "[{\"id\":\"ocr\",\"status\":\"passed\",\"score\":1},"
                                    "{\"id\":\"mrz\",\"status\":\"failed\",\"score\":0}]",
                                    code, &rule),
                        "rejected");
}

static void test_eval_json(void **state)
{
    (void)state;
    nova_cel_program_t *p = NULL;
    nova_policy_error_t err;
    const char *e = "a.b[1] == 2 && s.startsWith('x') && m['k'] > 1.5";
    assert_int_equal(nova_cel_compile(e, strlen(e), &p, &err), NOVA_OK);
    json_t *vars =
        json_pack("{s:{s:[i,i]}, s:s, s:{s:f}}", "a", "b", 1, 2, "s", "xy", "m", "k", 2.0);
    bool ok = false;
    char why[128];
    assert_int_equal(nova_cel_eval_json(p, vars, &ok, why, sizeof(why)), NOVA_OK);
    assert_true(ok);
    json_object_set_new(vars, "s", json_string("yx"));
    assert_int_equal(nova_cel_eval_json(p, vars, &ok, why, sizeof(why)), NOVA_OK);
    assert_false(ok);
    /* a variable missing: refused, naming it */
    json_object_del(vars, "a");
    json_object_set_new(vars, "s", json_string("xy"));
    assert_int_equal(nova_cel_eval_json(p, vars, &ok, why, sizeof(why)), NOVA_INVALID);
    assert_non_null(strstr(why, "a"));
    json_decref(vars);
    nova_cel_free(p);
    /* not a bool */
    assert_int_equal(nova_cel_compile("1 + 2", 5, &p, &err), NOVA_OK);
    json_t *none = json_object();
    assert_int_equal(nova_cel_eval_json(p, none, &ok, why, sizeof(why)), NOVA_INVALID);
    assert_non_null(strstr(why, "bool"));
    json_decref(none);
    nova_cel_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_when_rules),
        cmocka_unit_test(test_eval_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
