/*
 * policy_test.h: OpenFGA CLI test files (the format of `fga model test`: name, model or
 * model_file, tuples or tuple_file, tests with tuples, check, list_objects and list_users
 * assertions) run against the engine, and policy mutation testing (seed 003 §12.1): each
 * mutation operator of a table applied at each place of the model where it can be, the tests
 * run on every mutant, the score the share of mutants some test kills.
 */
#ifndef NOVA_POLICY_TEST_H
#define NOVA_POLICY_TEST_H

#include <jansson.h>
#include <stdio.h>

#include "nova/base.h"

/* Parses YAML text (maps, sequences and scalars: what OpenFGA's test files and corpora use)
 * into JSON: plain scalars become null, booleans, integers or reals when they read as such,
 * anything quoted a string. NULL on a syntax error, with err naming the line. The caller
 * owns the result. */
json_t *nova_policy_yaml_parse(const char *text, size_t n, char *err, size_t errlen);

/* Runs the test file at path (model_file and tuple_file relative to its directory). With
 * mutate, also generates every mutant and runs the tests on each. On NOVA_OK *report is a
 * new JSON object:
 *   {"name", "tests", "assertions", "passed", "failed",
 *    "failures": [{"test", "kind", "assertion", "expected", "got"}],
 *    "mutation": {"operators": [...], "mutants", "killed", "score", "survivors":
 *                 [{"operator", "where"}]}}     (mutation only with mutate)
 * NOVA_INVALID with err when the file cannot be read or is not a test file, or its model
 * does not parse. */
nova_status nova_policy_test_run(const char *path, bool mutate, json_t **report, char *err,
                                 size_t errlen);

/* Writes report as text: the summary, each failed assertion, the score by operator and each
 * surviving mutant. */
void nova_policy_test_print(const json_t *report, FILE *out);

#endif
