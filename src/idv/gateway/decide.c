/*
 * decide.c: aggregation of step results into a decision (nova/idv.h), deterministic: the same
 * workflow version and step results always give the same decision and reasons.
 *
 *   1. A failed step that is required and has on_fail reject rejects; on_fail review asks for
 *      review (unless something rejects); on_fail continue, or a step that is not required,
 *      is noted and ignored.
 *   2. The score is the mean of the scores of the steps that ran.
 *   3. Review rules, in order, the first that holds sends to review: {"any_step": "review"}
 *      when a step's status is review, {"score_between": [lo, hi]} when the score lies in it,
 *      {"when": CEL} when the expression holds over `steps` (step id -> check, status, score,
 *      reasons (their codes), extracted) and `score`. A `when` that cannot be evaluated (a
 *      step that did not run, a field it lacks, a type error) sends to review too, with the
 *      reason review_rule_error: a rule never lets a verification through by failing.
 *   4. Otherwise the decision rule: score >= approve_at approves, < reject_below rejects, and
 *      the band between goes to review.
 */
#include <string.h>

#include "internal.h"
#include "nova/policy.h"

static void reason(json_t *reasons, const char *code, const char *step)
{
    json_t *o = json_pack("{s:s}", "code", code);
    if (o && step)
        json_object_set_new(o, "step", json_string(step));
    json_array_append_new(reasons, o);
}

/* The variables of a `when` rule: steps (by id) and the score. */
static json_t *when_vars(json_t *results, double score)
{
    json_t *steps = json_object();
    for (size_t i = 0; steps && i < json_array_size(results); i++) {
        json_t *r = json_array_get(results, i), *codes = json_array();
        json_t *rs = json_object_get(r, "reasons");
        for (size_t k = 0; codes && k < json_array_size(rs); k++) {
            json_t *c = json_object_get(json_array_get(rs, k), "code");
            if (json_is_string(c))
                json_array_append(codes, c);
        }
        json_t *e = json_object_get(r, "extracted");
        json_t *o = json_pack("{s:O?, s:O?, s:O?, s:o, s:O}", "check", json_object_get(r, "check"),
                              "status", json_object_get(r, "status"), "score",
                              json_object_get(r, "score"), "reasons", codes ? codes : json_array(),
                              "extracted", json_is_object(e) ? e : json_object());
        const char *id = json_string_value(json_object_get(r, "id"));
        if (o && id)
            json_object_set_new(steps, id, o);
        else
            json_decref(o);
    }
    return json_pack("{s:o, s:f}", "steps", steps ? steps : json_object(), "score", score);
}

/* 1 when the rule's expression holds, 0 when not, -1 when it cannot be evaluated. */
static int when_holds(const char *expr, json_t **vars, json_t *results, double score)
{
    nova_cel_program_t *p = NULL;
    nova_policy_error_t err;
    bool ok = false;
    char why[160];
    if (!expr || nova_cel_compile(expr, strlen(expr), &p, &err) != NOVA_OK)
        return -1;
    if (!*vars)
        *vars = when_vars(results, score);
    nova_status st = *vars ? nova_cel_eval_json(p, *vars, &ok, why, sizeof(why)) : NOVA_NOMEM;
    nova_cel_free(p);
    return st != NOVA_OK ? -1 : ok ? 1 : 0;
}

json_t *idv_decide(const nova_workflow_def_t *def, json_t *definition, json_t *results)
{
    json_t *reasons = json_array();
    enum { NONE, REVIEW, REJECT } forced = NONE;
    double sum = 0;
    size_t n = 0;
    bool any_review = false;
    for (size_t i = 0; i < json_array_size(results) && i < def->nsteps; i++) {
        const nova_workflow_step_t *step = &def->steps[i];
        json_t *r = json_array_get(results, i);
        const char *status = json_string_value(json_object_get(r, "status"));
        double score = json_number_value(json_object_get(r, "score"));
        sum += score;
        n++;
        if (status && strcmp(status, "failed") == 0) {
            if (step->required && step->on_fail == NOVA_ON_FAIL_REJECT) {
                forced = REJECT;
                reason(reasons, "step_failed", step->id);
            } else if (step->required && step->on_fail == NOVA_ON_FAIL_REVIEW) {
                if (forced == NONE)
                    forced = REVIEW;
                reason(reasons, "step_failed_review", step->id);
            } else {
                reason(reasons, "step_failed_ignored", step->id);
            }
        } else if (status && strcmp(status, "review") == 0) {
            any_review = true;
            reason(reasons, "step_review", step->id);
        }
    }
    double score = n ? sum / (double)n : 0;
    json_t *rules = json_object_get(definition, "review_rules"), *vars = NULL;
    for (size_t i = 0; forced == NONE && i < json_array_size(rules); i++) {
        json_t *rule = json_array_get(rules, i), *v;
        int held;
        if (json_object_get(rule, "any_step") && any_review) {
            forced = REVIEW;
            reason(reasons, "review_rule_any_step", NULL);
        } else if ((v = json_object_get(rule, "score_between")) != NULL &&
                   score >= json_number_value(json_array_get(v, 0)) &&
                   score <= json_number_value(json_array_get(v, 1))) {
            forced = REVIEW;
            reason(reasons, "review_rule_score_between", NULL);
        } else if ((v = json_object_get(rule, "when")) != NULL &&
                   (held = when_holds(json_string_value(v), &vars, results, score)) != 0) {
            forced = REVIEW;
            json_t *o =
                json_pack("{s:s, s:I}", "code", held > 0 ? "review_rule_when" : "review_rule_error",
                          "rule", (json_int_t)i);
            json_array_append_new(reasons, o);
        }
    }
    json_decref(vars);
    const char *decision;
    if (forced == REJECT) {
        decision = "rejected";
    } else if (forced == REVIEW) {
        decision = "review_required";
    } else if (score >= def->approve_at) {
        decision = "approved";
    } else if (score < def->reject_below) {
        decision = "rejected";
        reason(reasons, "score_below_reject_threshold", NULL);
    } else {
        decision = "review_required";
        reason(reasons, "score_in_review_band", NULL);
    }
    return json_pack("{s:s, s:f, s:o}", "decision", decision, "score", score, "reasons", reasons);
}
