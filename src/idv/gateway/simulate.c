/*
 * simulate.c: workflow simulation (issue 9 item 8). A candidate workflow (a definition, or a
 * stored version) is applied to the recorded step results of the workflow's past verifications
 * in a time range: no image is needed, since every step's output is kept (sealed). Each
 * verification's steps are matched to the candidate's by step id; the candidate's aggregation
 * (decide.c) gives the decision it would have made. A candidate step with no recorded result
 * (a check the past workflow did not run) cannot be simulated and is reported, not guessed.
 */
#include <string.h>

#include "internal.h"

#define SIM_MAX 1000

static nova_status refuse(nova_idv_problem_t *pb, const char *field, const char *why)
{
    snprintf(pb->field, sizeof(pb->field), "%s", field);
    snprintf(pb->why, sizeof(pb->why), "%s", why);
    return NOVA_INVALID;
}

nova_status nova_idv_workflow_simulate(nova_idv_t *g, nova_store_t *s, nova_arena_t *a,
                                       const char *tenant_id, const char *workflow_id,
                                       const char *candidate, size_t candidate_len, int64_t from,
                                       int64_t to, json_t **out, nova_idv_problem_t *pb)
{
    memset(pb, 0, sizeof(*pb));
    nova_workflow_def_t def;
    char field[128], why[200];
    if (nova_workflow_validate(candidate, candidate_len, &def, field, sizeof(field), why,
                               sizeof(why)) != NOVA_OK) {
        snprintf(pb->field, sizeof(pb->field), "definition%.100s", field);
        snprintf(pb->why, sizeof(pb->why), "%s", why);
        return NOVA_INVALID;
    }
    json_t *cdef = json_loadb(candidate, candidate_len, 0, NULL);
    if (cdef == NULL)
        return refuse(pb, "definition", "a workflow object");
    nova_idv_workflow_row_t w;
    nova_status st = nova_idv_workflow_get(g->cfg.kv, s, a, tenant_id, workflow_id, 0, &w);
    if (st != NOVA_OK) {
        json_decref(cdef);
        return st;
    }
    json_t *changes = json_array(), *unsimulated = json_array();
    json_int_t seen = 0, changed = 0;
    json_t *tally = json_object();
    nova_idv_list_query_t q = {.status = "completed", .from = from, .to = to, .limit = 200};
    for (;;) {
        nova_idv_verification_row_t *rows = NULL;
        size_t n = 0;
        st = nova_store_idv_verification_list(s, a, tenant_id, &q, &rows, &n);
        if (st != NOVA_OK)
            break;
        for (size_t i = 0; i < n && seen < SIM_MAX; i++) {
            const nova_idv_verification_row_t *v = &rows[i];
            if (strcmp(v->workflow_id, workflow_id) != 0)
                continue;
            nova_idv_step_row_t *steps = NULL;
            size_t ns = 0;
            if ((st = nova_store_idv_step_list(s, a, tenant_id, v->id, &steps, &ns)) != NOVA_OK)
                break;
            json_t *recorded = json_object();
            for (size_t k = 0; k < ns && st == NOVA_OK; k++) {
                json_t *one = NULL;
                st = idv_open_json(g, s, tenant_id, IDV_CTX_STEP, steps[k].result,
                                   steps[k].result_len, &one);
                if (st == NOVA_OK)
                    json_object_set_new(recorded, steps[k].step_id, one);
            }
            if (st != NOVA_OK) {
                json_decref(recorded);
                break;
            }
            /* The candidate's steps in its order, as far as results were recorded: a run
             * stops where the past one stopped (a rejecting step ended it). */
            json_t *results = json_array();
            const char *missing = NULL;
            for (size_t k = 0; k < def.nsteps; k++) {
                json_t *r = json_object_get(recorded, def.steps[k].id);
                if (r == NULL) {
                    missing = def.steps[k].id;
                    break;
                }
                json_array_append(results, r);
            }
            json_decref(recorded);
            seen++;
            json_t *rv = json_loads(v->result, 0, NULL);
            json_t *review = json_object_get(rv, "review");
            const char *was =
                review ? json_string_value(json_object_get(review, "automated")) : v->decision;
            char was_copy[32];
            snprintf(was_copy, sizeof(was_copy), "%s", was ? was : v->decision);
            json_decref(rv);
            json_t *d = idv_decide(&def, cdef, results);
            json_decref(results);
            const char *now = json_string_value(json_object_get(d, "decision"));
            if (missing && json_array_size(unsimulated) < 100)
                json_array_append_new(unsimulated,
                                      json_pack("{s:s, s:s}", "id", v->id, "step", missing));
            json_t *cnt = json_object_get(tally, now);
            json_object_set_new(tally, now, json_integer(json_integer_value(cnt) + 1));
            if (strcmp(now, was_copy) != 0) {
                changed++;
                if (json_array_size(changes) < 200)
                    json_array_append_new(changes, json_pack("{s:s, s:I, s:s, s:s, s:O, s:O}", "id",
                                                             v->id, "workflow_version",
                                                             (json_int_t)v->workflow_version,
                                                             "from", was_copy, "to", now, "score",
                                                             json_object_get(d, "score"), "reasons",
                                                             json_object_get(d, "reasons")));
            }
            json_decref(d);
        }
        if (st != NOVA_OK || n < (size_t)q.limit || seen >= SIM_MAX)
            break;
        q.after_created = rows[n - 1].created_at;
        q.after_id = rows[n - 1].id;
    }
    json_decref(cdef);
    if (st != NOVA_OK) {
        json_decref(changes);
        json_decref(unsimulated);
        json_decref(tally);
        return st;
    }
    *out = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:b}", "workflow_id",
                     workflow_id, "current_version", (json_int_t)w.version, "from",
                     (json_int_t)from, "to", (json_int_t)to, "verifications", seen, "changed",
                     changed, "candidate_decisions", tally, "changes", changes, "not_simulated",
                     unsimulated, "truncated", seen >= SIM_MAX);
    return *out ? NOVA_OK : NOVA_NOMEM;
}
