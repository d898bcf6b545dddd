/*
 * decide.c: aggregation of step results into a decision (nova/idv.h), deterministic: the same
 * workflow version and step results always give the same decision and reasons.
 *
 *   1. A failed step that is required and has on_fail reject rejects; on_fail review asks for
 *      review (unless something rejects); on_fail continue, or a step that is not required,
 *      is noted and ignored.
 *   2. The score is the mean of the scores of the steps that ran.
 *   3. Review rules: {"any_step": "review"} when a step's status is review,
 *      {"score_between": [lo, hi]} when the score lies in it.
 *   4. Otherwise the decision rule: score >= approve_at approves, < reject_below rejects, and
 *      the band between goes to review.
 */
#include <string.h>

#include "internal.h"

static void reason(json_t *reasons, const char *code, const char *step)
{
    json_t *o = json_pack("{s:s}", "code", code);
    if (o && step)
        json_object_set_new(o, "step", json_string(step));
    json_array_append_new(reasons, o);
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
    json_t *rules = json_object_get(definition, "review_rules");
    for (size_t i = 0; forced == NONE && i < json_array_size(rules); i++) {
        json_t *rule = json_array_get(rules, i), *v;
        if (json_object_get(rule, "any_step") && any_review) {
            forced = REVIEW;
            reason(reasons, "review_rule_any_step", NULL);
        } else if ((v = json_object_get(rule, "score_between")) != NULL &&
                   score >= json_number_value(json_array_get(v, 0)) &&
                   score <= json_number_value(json_array_get(v, 1))) {
            forced = REVIEW;
            reason(reasons, "review_rule_score_between", NULL);
        }
    }
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
