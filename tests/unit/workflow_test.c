/*
 * workflow_test.c: workflow validation (src/idv/workflow.c): a full valid workflow with its
 * defaults, and one refusal per rule, each naming its field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "nova/workflow.h"

static const char GOOD[] =
    "{\"name\":\"kyc-basic\",\"steps\":["
    "{\"check\":\"ocr\",\"config\":{\"min_confidence\":0.6}},"
    "{\"check\":\"mrz\",\"config\":{\"require_valid\":true}},"
    "{\"id\":\"face\",\"check\":\"face_match\",\"config\":{\"match_max\":0.45,\"review_max\":0.55},"
    "\"depends_on\":[\"ocr\"],\"on_fail\":\"review\"},"
    "{\"check\":\"liveness\",\"config\":{\"mode\":\"active\"},\"required\":false,"
    "\"on_fail\":\"continue\"},"
    "{\"check\":\"document_authenticity\",\"config\":{\"issuers\":[\"KEN\",\"NGA\",\"D\"],"
    "\"document_types\":[\"P\",\"I\"]}},"
    "{\"check\":\"age\",\"config\":{\"min_age\":18}},"
    "{\"check\":\"address\",\"config\":{\"countries\":[\"KE\",\"NG\"]}},"
    "{\"check\":\"custom_webhook\",\"config\":{\"url\":\"https://hooks.example/check\","
    "\"timeout_ms\":2000},\"depends_on\":[\"face\",\"mrz\"]}],"
    "\"review_rules\":[{\"any_step\":\"review\"},{\"score_between\":[0.4,0.7]},"
    "{\"when\":\"steps.face.distance > 0.5\"}],"
    "\"decision\":{\"approve_at\":0.8,\"reject_below\":0.3}}";

static void test_valid(void **state)
{
    (void)state;
    nova_workflow_def_t w;
    char field[128], why[256];
    assert_int_equal(
        nova_workflow_validate(GOOD, strlen(GOOD), &w, field, sizeof(field), why, sizeof(why)),
        NOVA_OK);
    assert_string_equal(w.name, "kyc-basic");
    assert_int_equal(w.nsteps, 8);
    assert_string_equal(w.steps[2].id, "face");
    assert_int_equal(w.steps[2].check, NOVA_CHECK_FACE_MATCH);
    assert_int_equal(w.steps[2].on_fail, NOVA_ON_FAIL_REVIEW);
    assert_true(w.steps[1].required);
    assert_false(w.steps[3].required);
    assert_int_equal(w.steps[7].ndeps, 2);
    assert_int_equal(w.steps[7].deps[0], 2);
    assert_int_equal(w.steps[7].deps[1], 1);
    assert_int_equal(w.nreview_rules, 3);
    assert_true(w.approve_at == 0.8 && w.reject_below == 0.3);
    /* Defaults. */
    const char *min = "{\"name\":\"m\",\"steps\":[{\"check\":\"ocr\"}]}";
    assert_int_equal(
        nova_workflow_validate(min, strlen(min), &w, field, sizeof(field), why, sizeof(why)),
        NOVA_OK);
    assert_true(w.approve_at == 0.7 && w.reject_below == 0.4);
    assert_int_equal(w.steps[0].on_fail, NOVA_ON_FAIL_REJECT);
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *json, *field;
    } bad[] = {
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"mrz\"}]}", "/steps/0/check"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\"},{\"check\":\"selfie\"}]}",
         "/steps/1/check"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\"},{\"check\":\"ocr\"}]}", "/steps/1/check"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\",\"required\":false}]}",
         "/steps/0/required"},
        {"{\"name\":\"x\",\"steps\":[]}", "/steps"},
        {"{\"steps\":[{\"check\":\"ocr\"}]}", "/name"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\"},{\"check\":\"mrz\",\"depends_on\":["
         "\"face\"]},"
         "{\"id\":\"face\",\"check\":\"face_match\"}]}",
         "/steps/1/depends_on/0"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\"},{\"check\":\"mrz\",\"depends_on\":["
         "\"mrz\"]}]}",
         "/steps/1/depends_on/0"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\"},{\"check\":\"face_match\",\"config\":"
         "{\"match_max\":3}}]}",
         "/steps/1/config/match_max"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\"},{\"check\":\"face_match\",\"config\":"
         "{\"match_max\":0.5,\"review_max\":0.4}}]}",
         "/steps/1/config/review_max"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\",\"config\":{\"threshold\":1}}]}",
         "/steps/0/config/threshold"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\"},{\"check\":\"age\",\"config\":{\"min_"
         "age\":"
         "17.5}}]}",
         "/steps/1/config/min_age"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\"},{\"check\":\"address\",\"config\":"
         "{\"countries\":[\"ke\"]}}]}",
         "/steps/1/config/countries/0"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\"},{\"check\":\"document_"
         "authenticity\",\"config\":{\"issuers\":[\"KEN\",\"XYZ\"]}}]}",
         "/steps/1/config/issuers/1"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\"},{\"check\":\"document_"
         "authenticity\",\"config\":{\"document_types\":[\"P\",\"X\"]}}]}",
         "/steps/1/config/document_types/1"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\"},{\"check\":\"custom_webhook\",\"config\":"
         "{\"url\":\"http://plain.example\"}}]}",
         "/steps/1/config/url"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\"},{\"check\":\"custom_webhook\"}]}",
         "/steps/1/config/url"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\",\"on_fail\":\"ignore\"}]}",
         "/steps/0/on_fail"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\"}],\"review_rules\":[{\"when\":\"steps.(\"}]"
         "}",
         "/review_rules/0/when"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\"}],\"review_rules\":[{\"score_between\":[0."
         "8,"
         "0.2]}]}",
         "/review_rules/0/score_between"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\"}],\"decision\":{\"approve_at\":0.3,"
         "\"reject_below\":0.5}}",
         "/decision/reject_below"},
        {"{\"name\":\"x\",\"steps\":[{\"check\":\"ocr\"}],\"extra\":1}", ""},
        {"not json", ""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        nova_workflow_def_t w;
        char field[128] = "?", why[256] = "";
        assert_int_equal(nova_workflow_validate(bad[i].json, strlen(bad[i].json), &w, field,
                                                sizeof(field), why, sizeof(why)),
                         NOVA_INVALID);
        if (strcmp(field, bad[i].field) != 0)
            fail_msg("case %zu: field %s, expected %s (%s)", i, field, bad[i].field, why);
        assert_true(why[0] != '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
