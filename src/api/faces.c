/*
 * faces.c: POST /v1/faces/compare (scope verifications:write), the face-match check on two JPEGs
 * sent as base64 in a JSON body: {"document": "...", "selfie": "...", "match_max"?: 0.45,
 * "review_max"?: 0.55}. The reply is the engine's result (src/vision/json.c): decision,
 * distance, similarity, reasons, and each image's face and quality. Images are decoded in
 * memory and dropped with the request; nothing of them is stored or logged.
 *
 * The nets (NOVA_FACE_MODEL) are opened on the first request and shared by every thread; when
 * the file is missing the route answers 503 face_model_unavailable and novad keeps serving.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/log.h"
#include "nova/vision.h"

/* Two phone photos (a few MB each) in base64, plus the JSON around them; NOVA_MAX_BODY
 * (1 MiB by default) caps it, so an operator who takes full-size photos raises that. */
#define FACES_MAX_BODY (24u << 20)

static pthread_once_t model_once = PTHREAD_ONCE_INIT;
static const char *model_path;
static nova_vision_model_t *model;

static void model_open(void)
{
    nova_status st = nova_vision_model_open(model_path, &model);
    if (st != NOVA_OK)
        nova_log(NOVA_LOG_WARN, "face model %s cannot be opened (%s): run scripts/models.sh",
                 model_path, nova_status_name(st));
}

static const char *const compare_members[] = {"document", "selfie", "match_max", "review_max",
                                              NULL};

/* Decodes the base64 JPEG in member name of body into img; on failure replies and returns
 * false. */
static bool image_member(nova_req_t *r, json_t *body, const char *name, nova_vision_image_t *img)
{
    json_t *v = json_object_get(body, name);
    const char *s = json_string_value(v);
    if (s == NULL || json_string_length(v) == 0) {
        char *m = nova_arena_printf(&r->arena, "%s: a base64 JPEG is required", name);
        nova_resp_problem(r, 400, "invalid_request", "Bad Request", m ? m : name);
        return false;
    }
    size_t n = json_string_length(v), len = 0;
    uint8_t *jpg = malloc(n / 4 * 3 + 3);
    nova_status st = jpg ? nova_b64std_decode(s, n, jpg, &len) : NOVA_NOMEM;
    if (st == NOVA_OK)
        st = nova_vision_decode_jpeg(jpg, len, img);
    free(jpg);
    if (st == NOVA_OK)
        return true;
    if (st == NOVA_NOMEM) {
        nova_resp_status(r, st, NULL);
        return false;
    }
    char *m = nova_arena_printf(&r->arena,
                                st == NOVA_TOO_LARGE
                                    ? "%s: the image is larger than 40 megapixels"
                                    : "%s: not standard base64 of a JPEG image Nova can decode",
                                name);
    nova_resp_problem(r, st == NOVA_TOO_LARGE ? 413 : 400,
                      st == NOVA_TOO_LARGE ? "payload_too_large" : "invalid_image",
                      st == NOVA_TOO_LARGE ? "Payload Too Large" : "Bad Request", m ? m : name);
    return false;
}

/* An optional threshold member in (0, 2]; on a bad one replies and returns false. */
static bool threshold_member(nova_req_t *r, json_t *body, const char *name, double *out)
{
    json_t *v = json_object_get(body, name);
    if (v == NULL)
        return true;
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(d > 0 && d <= 2)) {
        char *m = nova_arena_printf(&r->arena, "%s: a number in (0, 2]", name);
        nova_resp_problem(r, 400, "invalid_request", "Bad Request", m ? m : name);
        return false;
    }
    *out = d;
    return true;
}

/* 200 with o (consumed), reals to 9 significant digits like novactl's. */
static void reply(nova_req_t *r, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(o);
    if (text == NULL) {
        nova_resp_status(r, NOVA_NOMEM, NULL);
        return;
    }
    nova_resp_json(r, 200, text, strlen(text));
    free(text);
}

static void api_faces_compare(nova_req_t *r, void *ud)
{
    (void)ud;
    pthread_once(&model_once, model_open);
    if (model == NULL) {
        nova_resp_problem(r, 503, "face_model_unavailable", "Service Unavailable",
                          "the face model is not installed on this instance");
        return;
    }
    json_t *body = api_json_body(r, compare_members);
    if (body == NULL)
        return;
    nova_vision_match_opts_t o = {0};
    nova_vision_image_t doc = {0}, selfie = {0};
    nova_vision_match_t res;
    if (threshold_member(r, body, "match_max", &o.match_max) &&
        threshold_member(r, body, "review_max", &o.review_max) &&
        image_member(r, body, "document", &doc) && image_member(r, body, "selfie", &selfie)) {
        double match_max = o.match_max ? o.match_max : 0.45;
        double review_max = o.review_max ? o.review_max : (match_max > 0.55 ? match_max : 0.55);
        o.review_max = review_max;
        nova_status st = review_max < match_max ? NOVA_INVALID
                                                : nova_vision_match(model, &doc, &selfie, &o, &res);
        if (st == NOVA_INVALID)
            nova_resp_problem(r, 400, "invalid_request", "Bad Request",
                              "review_max must not be below match_max");
        else if (st != NOVA_OK)
            nova_resp_status(r, st, NULL);
        else
            reply(r, nova_vision_match_json(&res));
    }
    nova_vision_image_free(&doc);
    nova_vision_image_free(&selfie);
    json_decref(body);
}

nova_status api_faces_register(nova_api_t *api, nova_http_server_t *srv)
{
    model_path = api->face_model ? api->face_model : "tools/models/nova-face.bin";
    return nova_http_route(srv, "POST", "/v1/faces/compare", "verifications:write", FACES_MAX_BODY,
                           api_faces_compare, api);
}
