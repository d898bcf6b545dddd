/*
 * workflow.h: verification workflows as data (seed 000: "customer-defined workflows ...
 * steps, order, thresholds, manual review rules"). A workflow is JSON:
 *
 *   {"name": "kyc-basic",
 *    "steps": [{"check": "ocr", "config": {"min_confidence": 0.6}},
 *              {"check": "mrz", "required": true, "on_fail": "reject"},
 *              {"id": "face", "check": "face_match", "config": {"match_max": 0.45,
 *               "review_max": 0.55}, "depends_on": ["ocr"], "on_fail": "review"}],
 *    "review_rules": [{"any_step": "review"}, {"score_between": [0.4, 0.7]},
 *                     {"when": "steps.face.distance > 0.5"}],
 *    "decision": {"approve_at": 0.7, "reject_below": 0.4}}
 *
 * This module validates one (pure computation: no store, no HTTP). Every refusal names the
 * field as a JSON Pointer ("/steps/2/config/match_max") and says why, for a 422 problem.
 */
#ifndef NOVA_WORKFLOW_H
#define NOVA_WORKFLOW_H

#include "nova/base.h"

typedef enum nova_check_kind {
    NOVA_CHECK_OCR,
    NOVA_CHECK_MRZ,
    NOVA_CHECK_DOCUMENT_AUTHENTICITY,
    NOVA_CHECK_FACE_MATCH,
    NOVA_CHECK_LIVENESS,
    NOVA_CHECK_AGE,
    NOVA_CHECK_ADDRESS,
    NOVA_CHECK_CUSTOM_WEBHOOK,
    NOVA_CHECK_N
} nova_check_kind;

typedef enum nova_on_fail {
    NOVA_ON_FAIL_REJECT,
    NOVA_ON_FAIL_REVIEW,
    NOVA_ON_FAIL_CONTINUE
} nova_on_fail;

#define NOVA_WORKFLOW_MAX_STEPS 16
#define NOVA_WORKFLOW_MAX_DEPS 8

typedef struct nova_workflow_step {
    nova_check_kind check;
    char id[33];          /* default: the check's name; unique in the workflow */
    bool required;        /* default true */
    nova_on_fail on_fail; /* default reject */
    size_t ndeps;
    size_t deps[NOVA_WORKFLOW_MAX_DEPS]; /* indexes of earlier steps */
} nova_workflow_step_t;

typedef struct nova_workflow_def {
    char name[65];
    size_t nsteps;
    nova_workflow_step_t steps[NOVA_WORKFLOW_MAX_STEPS];
    size_t nreview_rules;
    double approve_at, reject_below; /* the decision rule, scores in [0, 1] */
} nova_workflow_def_t;

/* "ocr", "mrz", "document_authenticity", "face_match", "liveness", "age", "address",
 * "custom_webhook". */
const char *nova_check_name(nova_check_kind k);

/* Validates the workflow JSON text (a strict object: known members only) into out. On
 * NOVA_INVALID, field gets the JSON Pointer of the offending member and why the reason:
 * unknown check, OCR missing or not first, a duplicate id, a dependency on a later or unknown
 * step, a threshold out of range or out of order, an unparseable review condition, a bad
 * decision rule. */
nova_status nova_workflow_validate(const char *json, size_t len, nova_workflow_def_t *out,
                                   char *field, size_t fieldlen, char *why, size_t whylen);

#endif
