/*
 * policy_testfile_test.c: OpenFGA test files and mutation testing (nova/policy_test.h): the
 * YAML reader, the sample banking policy (every assertion passes, the score and its one
 * survivor), a failing assertion reported with what was expected and got, each mutation
 * operator's places on a small model and the mutants the tests kill, and refusals of bad files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/policy/testfile.c"

static void test_yaml(void **state)
{
    (void)state;
    char err[256];
    const char *y = "a: 1\nb: [x, 'y', true, null, 2.5]\nc:\n  - {d: \"7\"}\n";
    json_t *j = nova_policy_yaml_parse(y, strlen(y), err, sizeof(err));
    assert_non_null(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"a\":1,\"b\":[\"x\",\"y\",true,null,2.5],\"c\":[{\"d\":\"7\"}]}");
    free(s);
    json_decref(j);
    assert_null(nova_policy_yaml_parse("a: [1, 2", 8, err, sizeof(err)));
    assert_non_null(strstr(err, "line"));
    assert_null(nova_policy_yaml_parse("a: 1\na: 2\n", 10, err, sizeof(err))); /* a key twice */
    assert_null(nova_policy_yaml_parse("a: &x 1\nb: *x\n", 14, err, sizeof(err)));
}

static json_t *run(const char *path, bool mutate)
{
    json_t *rep = NULL;
    char err[512] = "";
    if (nova_policy_test_run(path, mutate, &rep, err, sizeof(err)) != NOVA_OK)
        fail_msg("%s: %s", path, err);
    return rep;
}

static void test_banking_sample(void **state)
{
    (void)state;
    json_t *rep = run(NOVA_SRC_DIR "/tests/fixtures/policy/banking.fga.yaml", true);
    assert_int_equal(json_integer_value(json_object_get(rep, "tests")), 4);
    assert_int_equal(json_integer_value(json_object_get(rep, "assertions")), 24);
    assert_int_equal(json_integer_value(json_object_get(rep, "failed")), 0);
    const json_t *mu = json_object_get(rep, "mutation");
    assert_int_equal(json_integer_value(json_object_get(mu, "mutants")), 37);
    assert_int_equal(json_integer_value(json_object_get(mu, "killed")), 36);
    const json_t *sv = json_object_get(mu, "survivors");
    assert_int_equal(json_array_size(sv), 1);
    /* no test has a user who is an auditor directly: dropping that type changes nothing */
    assert_string_equal(json_string_value(json_object_get(json_array_get(sv, 0), "operator")),
                        "drop_direct_type");
    assert_non_null(
        strstr(json_string_value(json_object_get(json_array_get(sv, 0), "where")), "bank#auditor"));
    /* every operator found a place in the banking model */
    size_t i;
    const json_t *op;
    json_array_foreach(json_object_get(mu, "operators"), i, op)
        assert_true(json_integer_value(json_object_get(op, "mutants")) > 0);
    assert_int_equal(i, NOPERATORS);
    json_decref(rep);
}

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/policy_testfile_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static const char SMALL[] = "name: small\n"
                            "model: |\n"
                            "  model\n"
                            "    schema 1.1\n"
                            "  type user\n"
                            "  type doc\n"
                            "    relations\n"
                            "      define owner: [user]\n"
                            "      define editor: [user]\n"
                            "      define blocked: [user]\n"
                            "      define viewer: (owner or editor) but not blocked\n"
                            "tuples:\n"
                            "  - {user: user:a, relation: owner, object: doc:1}\n"
                            "  - {user: user:b, relation: editor, object: doc:1}\n"
                            "  - {user: user:c, relation: owner, object: doc:1}\n"
                            "  - {user: user:c, relation: blocked, object: doc:1}\n"
                            "tests:\n"
                            "  - name: t\n"
                            "    check:\n"
                            "      - user: user:a\n"
                            "        object: doc:1\n"
                            "        assertions: {viewer: true}\n"
                            "%s";

static void test_failures_and_kills(void **state)
{
    (void)state;
    char text[2048];
    /* only user:a is tested: dropping the editor branch, the exclusion, or the owner's type
     * survive; the owner branch and union->intersection are killed */
    snprintf(text, sizeof(text), SMALL, "");
    char *p = write_tmp(text);
    json_t *rep = run(p, true);
    const json_t *mu = json_object_get(rep, "mutation");
    size_t killed = (size_t)json_integer_value(json_object_get(mu, "killed"));
    size_t mutants = (size_t)json_integer_value(json_object_get(mu, "mutants"));
    /* union: 2 branches + and; exclusion: drop + to-and; 4 direct types; 2 computed */
    assert_int_equal(mutants, 2 + 1 + 1 + 1 + 4 + 2);
    char *sv = json_dumps(json_object_get(mu, "survivors"), JSON_COMPACT);
    assert_non_null(strstr(sv, "branch 2 of 2"));
    assert_null(strstr(sv, "branch 1 of 2"));
    assert_non_null(strstr(sv, "drop_exclusion"));
    free(sv);
    json_decref(rep);
    unlink(p);
    free(p);
    /* more tests kill more: b (editor) and c (blocked owner) */
    snprintf(text, sizeof(text), SMALL,
             "      - user: user:b\n        object: doc:1\n        assertions: {viewer: true}\n"
             "      - user: user:c\n        object: doc:1\n        assertions: {viewer: false}\n");
    p = write_tmp(text);
    rep = run(p, true);
    mu = json_object_get(rep, "mutation");
    assert_true((size_t)json_integer_value(json_object_get(mu, "killed")) > killed);
    sv = json_dumps(json_object_get(mu, "survivors"), JSON_COMPACT);
    assert_null(strstr(sv, "drop_exclusion"));
    assert_null(strstr(sv, "drop_union_branch"));
    free(sv);
    json_decref(rep);
    unlink(p);
    free(p);
    /* a wrong expectation is a failure naming what was expected and what came back */
    snprintf(text, sizeof(text), SMALL,
             "      - user: user:c\n        object: doc:1\n        assertions: {viewer: true}\n");
    p = write_tmp(text);
    rep = run(p, false);
    assert_int_equal(json_integer_value(json_object_get(rep, "failed")), 1);
    const json_t *f = json_array_get(json_object_get(rep, "failures"), 0);
    assert_string_equal(json_string_value(json_object_get(f, "kind")), "check");
    assert_true(json_is_true(json_object_get(f, "expected")));
    assert_true(json_is_false(json_object_get(f, "got")));
    assert_null(json_object_get(rep, "mutation"));
    json_decref(rep);
    unlink(p);
    free(p);
}

static void refused(const char *text, const char *needle)
{
    char *p = write_tmp(text);
    json_t *rep = NULL;
    char err[512] = "";
    assert_int_equal(nova_policy_test_run(p, false, &rep, err, sizeof(err)), NOVA_INVALID);
    assert_null(rep);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not contain '%s'", err, needle);
    unlink(p);
    free(p);
}

static void test_bad_files(void **state)
{
    (void)state;
    json_t *rep = NULL;
    char err[256];
    assert_int_equal(nova_policy_test_run("/nonexistent.fga.yaml", false, &rep, err, sizeof(err)),
                     NOVA_INVALID);
    assert_non_null(strstr(err, "cannot be read"));
    refused("- a\n- b\n", "not a test file");
    refused("name: x\ntests: [{}]\n", "model");
    refused("model: \"model\\n  schema 1.1\\ntype user\\n\"\ntests: []\n", "tests");
    refused("model: \"model\\n  schema 1.1\\ntype\\n\"\ntests: [{}]\n", "does not parse");
    refused("model: \"model\\n  schema 1.1\\ntype user\\n\"\ntuples: [{user: 1}]\ntests: [{}]\n",
            "/tuples/0");
    refused("model_file: nope.fga\ntests: [{}]\n", "model_file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml),
        cmocka_unit_test(test_banking_sample),
        cmocka_unit_test(test_failures_and_kills),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
