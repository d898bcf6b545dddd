/*
 * faces.c: the biometric routes (scope verifications:write).
 *
 * POST /v1/faces/compare: the face-match check on two JPEGs
 * sent as base64 in a JSON body: {"document": "...", "selfie": "...", "match_max"?: 0.45,
 * "review_max"?: 0.55}. The reply is the engine's result (src/vision/json.c): decision,
 * distance, similarity, reasons, and each image's face and quality. Images are decoded in
 * memory and dropped with the request; nothing of them is stored or logged.
 *
 * POST /v1/liveness/challenges: a single-use nonce (kept in the control plane for two
 * minutes, under the tenant) and 2 or 3 distinct random actions. POST /v1/liveness/verify
 * {"nonce", "frames": [{"image", "t_ms"}], "selfie"?, "require_camera_exif"?}: the burst is
 * checked (src/vision/liveness.c) against the actions the nonce was issued with; the nonce is
 * taken atomically once the body is well-formed, so a replay gets 400 invalid_nonce.
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

/* Decodes the base64 JPEG v (field names it in errors) into img; with jpeg, also hands back
 * the bytes (malloc'd; the caller frees them). On failure replies and returns false. */
static bool image_value(nova_req_t *r, json_t *v, const char *field, nova_vision_image_t *img,
                        uint8_t **jpeg, size_t *jpeg_len)
{
    const char *s = json_string_value(v);
    if (s == NULL || json_string_length(v) == 0) {
        char *m = nova_arena_printf(&r->arena, "%s: a base64 JPEG is required", field);
        nova_resp_problem(r, 400, "invalid_request", "Bad Request", m ? m : field);
        return false;
    }
    size_t n = json_string_length(v), len = 0;
    uint8_t *jpg = malloc(n / 4 * 3 + 3);
    nova_status st = jpg ? nova_b64std_decode(s, n, jpg, &len) : NOVA_NOMEM;
    if (st == NOVA_OK)
        st = nova_vision_decode_jpeg(jpg, len, img);
    if (st == NOVA_OK && jpeg) {
        *jpeg = jpg;
        *jpeg_len = len;
        return true;
    }
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
                                field);
    nova_resp_problem(r, st == NOVA_TOO_LARGE ? 413 : 400,
                      st == NOVA_TOO_LARGE ? "payload_too_large" : "invalid_image",
                      st == NOVA_TOO_LARGE ? "Payload Too Large" : "Bad Request", m ? m : field);
    return false;
}

/* Decodes the base64 JPEG in member name of body into img; on failure replies and returns
 * false. */
static bool image_member(nova_req_t *r, json_t *body, const char *name, nova_vision_image_t *img)
{
    return image_value(r, json_object_get(body, name), name, img, NULL, NULL);
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

/* ---- liveness ---- */

/* A challenge lives this long in the control plane; the burst must arrive within it. */
#define LIVENESS_TTL_MS (120u * 1000u)

static bool model_ready(nova_req_t *r)
{
    pthread_once(&model_once, model_open);
    if (model == NULL) {
        nova_resp_problem(r, 503, "face_model_unavailable", "Service Unavailable",
                          "the face model is not installed on this instance");
        return false;
    }
    return true;
}

static const char *liveness_key(nova_req_t *r, const char *nonce)
{
    return nova_arena_printf(&r->arena, "liveness:%s:%s", r->principal->tenant_id, nonce);
}

/* POST /v1/liveness/challenges {}: a single-use nonce and 2 or 3 distinct random actions. */
static void api_liveness_challenge(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    static const char *const none[] = {NULL};
    json_t *body = r->body.len ? api_json_body(r, none) : json_object();
    if (body == NULL)
        return;
    json_decref(body);
    uint8_t rnd[4];
    char nonce[64];
    if (nova_random_bytes(rnd, sizeof rnd) != NOVA_OK ||
        nova_id_new("lvn", nonce, sizeof nonce) != NOVA_OK) {
        nova_resp_status(r, NOVA_INTERNAL, NULL);
        return;
    }
    /* a partial Fisher-Yates shuffle of the actions picks the first count */
    int order[NOVA_VISION_ACTION_COUNT], count = 2 + rnd[0] % 2;
    for (int i = 0; i < NOVA_VISION_ACTION_COUNT; i++)
        order[i] = i;
    for (int i = 0; i < count; i++) {
        int j = i + rnd[1 + i] % (NOVA_VISION_ACTION_COUNT - i), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    char value[64] = "";
    json_t *actions = json_array();
    for (int i = 0; i < count; i++) {
        const char *name = nova_vision_action_name((nova_vision_action)order[i]);
        strcat(value, i ? "," : "");
        strcat(value, name);
        json_array_append_new(actions, json_string(name));
    }
    const char *key = liveness_key(r, nonce);
    nova_status st =
        key ? nova_kv_set_nx(api->kv, key, value, strlen(value), LIVENESS_TTL_MS) : NOVA_NOMEM;
    if (st != NOVA_OK) {
        json_decref(actions);
        if (st == NOVA_UNAVAILABLE)
            api_kv_unavailable(r);
        else
            nova_resp_status(r, st, NULL);
        return;
    }
    api_reply_json(r, 201,
                   json_pack("{s:s, s:o, s:i}", "nonce", nonce, "actions", actions, "expires_in",
                             (int)(LIVENESS_TTL_MS / 1000)));
}

static const char *const verify_members[] = {"nonce", "frames", "selfie", "require_camera_exif",
                                             NULL};

typedef struct verify_req {
    size_t n;
    nova_vision_image_t img[NOVA_VISION_LIVENESS_MAX_FRAMES];
    uint8_t *jpeg[NOVA_VISION_LIVENESS_MAX_FRAMES];
    nova_vision_frame_t f[NOVA_VISION_LIVENESS_MAX_FRAMES];
    nova_vision_image_t selfie;
} verify_req_t;

static void verify_free(verify_req_t *v)
{
    for (size_t i = 0; i < v->n; i++) {
        nova_vision_image_free(&v->img[i]);
        free(v->jpeg[i]);
    }
    nova_vision_image_free(&v->selfie);
}

static bool bad_request(nova_req_t *r, const char *msg)
{
    nova_resp_problem(r, 400, "invalid_request", "Bad Request", msg);
    return false;
}

/* frames: [{"image": base64 JPEG, "t_ms": integer}], 2..NOVA_VISION_LIVENESS_MAX_FRAMES. */
static bool frames_member(nova_req_t *r, json_t *body, verify_req_t *v)
{
    json_t *a = json_object_get(body, "frames");
    size_t n = json_array_size(a);
    if (!json_is_array(a) || n < 2 || n > NOVA_VISION_LIVENESS_MAX_FRAMES)
        return bad_request(r, "frames: an array of 2 to 30 {image, t_ms} objects is required");
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(a, i), *t = json_object_get(f, "t_ms");
        char *field = nova_arena_printf(&r->arena, "frames[%zu]", i);
        if (!field) {
            nova_resp_status(r, NOVA_NOMEM, NULL);
            return false;
        }
        if (!json_is_object(f) || json_object_size(f) != 2 || !json_is_integer(t) ||
            json_integer_value(t) < 0) {
            char *m = nova_arena_printf(&r->arena,
                                        "%s: an object with image (base64 JPEG) and t_ms (the "
                                        "capture time in milliseconds, >= 0) only",
                                        field);
            return bad_request(r, m ? m : field);
        }
        char *img_field = nova_arena_printf(&r->arena, "%s.image", field);
        if (!image_value(r, json_object_get(f, "image"), img_field ? img_field : field, &v->img[i],
                         &v->jpeg[i], &v->f[i].len))
            return false;
        v->n = i + 1;
        v->f[i].img = &v->img[i];
        v->f[i].jpeg = v->jpeg[i];
        v->f[i].t_ms = (int64_t)json_integer_value(t);
    }
    return true;
}

/* The descriptor of the selfie's largest face; false with 422 written when it has none. */
static bool selfie_descriptor(nova_req_t *r, const nova_vision_image_t *img, float out[128])
{
    static const int sizes[] = {224, 416};
    nova_vision_face_t *faces = NULL;
    size_t n = 0;
    nova_status st = NOVA_OK;
    for (size_t k = 0; k < 2 && st == NOVA_OK && n == 0; k++) {
        nova_vision_detect_opts_t d = {
            .input_size = sizes[k], .score_threshold = 0.5, .describe = 1};
        free(faces);
        faces = NULL;
        st = nova_vision_detect(model, img, &d, &faces, &n);
    }
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (faces[i].box.w * faces[i].box.h > faces[best].box.w * faces[best].box.h)
            best = i;
    bool ok = st == NOVA_OK && n > 0 && faces[best].has_descriptor;
    if (ok)
        memcpy(out, faces[best].descriptor, sizeof(float) * NOVA_VISION_DESCRIPTOR);
    free(faces);
    if (st != NOVA_OK)
        nova_resp_status(r, st, NULL);
    else if (!ok)
        nova_resp_problem(r, 422, "no_face", "Unprocessable Content",
                          "selfie: no face found in the image");
    return ok;
}

/* POST /v1/liveness/verify: the burst against the challenge its nonce names (consumed). */
static void api_liveness_verify(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    if (!model_ready(r))
        return;
    json_t *body = api_json_body(r, verify_members);
    if (body == NULL)
        return;
    verify_req_t *v = calloc(1, sizeof *v);
    json_t *nonce = json_object_get(body, "nonce"),
           *exif = json_object_get(body, "require_camera_exif");
    float ref[NOVA_VISION_DESCRIPTOR];
    bool has_ref = json_object_get(body, "selfie") != NULL, ok = v != NULL;
    if (!v)
        nova_resp_status(r, NOVA_NOMEM, NULL);
    else if (!json_is_string(nonce) || json_string_length(nonce) == 0 ||
             json_string_length(nonce) > 64)
        ok = bad_request(r, "nonce: the nonce of a challenge from POST /v1/liveness/challenges "
                            "is required");
    else if (exif && !json_is_boolean(exif))
        ok = bad_request(r, "require_camera_exif: a boolean");
    ok = ok && frames_member(r, body, v);
    ok = ok && (!has_ref || (image_member(r, body, "selfie", &v->selfie) &&
                             selfie_descriptor(r, &v->selfie, ref)));
    /* the nonce is spent only on a well-formed burst: a client's bad request leaves it */
    char *actions_text = NULL;
    if (ok) {
        const char *key = liveness_key(r, json_string_value(nonce));
        nova_status st =
            key ? nova_kv_take(api->kv, key, &r->arena, &actions_text, NULL) : NOVA_NOMEM;
        ok = st == NOVA_OK;
        if (st == NOVA_NOT_FOUND)
            nova_resp_problem(r, 400, "invalid_nonce", "Bad Request",
                              "nonce: unknown, already used or expired");
        else if (st == NOVA_UNAVAILABLE)
            api_kv_unavailable(r);
        else if (st != NOVA_OK)
            nova_resp_status(r, st, NULL);
    }
    nova_vision_action actions[NOVA_VISION_LIVENESS_MAX_ACTIONS];
    size_t na = 0;
    for (char *save = NULL, *t = ok ? strtok_r(actions_text, ",", &save) : NULL;
         t && na < NOVA_VISION_LIVENESS_MAX_ACTIONS; t = strtok_r(NULL, ",", &save)) {
        int a = nova_vision_action_parse(t);
        if (a >= 0)
            actions[na++] = (nova_vision_action)a;
    }
    if (ok) {
        nova_vision_liveness_opts_t o = {.passive.require_camera = json_is_true(exif)};
        nova_vision_liveness_t *res = malloc(sizeof *res);
        nova_status st = res ? nova_vision_liveness(model, v->f, v->n, actions, na,
                                                    has_ref ? ref : NULL, &o, res)
                             : NOVA_NOMEM;
        if (st != NOVA_OK)
            nova_resp_status(r, st, NULL);
        else
            reply(r, nova_vision_liveness_json(res));
        free(res);
    }
    if (v)
        verify_free(v);
    free(v);
    json_decref(body);
}

nova_status api_faces_register(nova_api_t *api, nova_http_server_t *srv)
{
    model_path = api->face_model ? api->face_model : "tools/models/nova-face.bin";
    nova_status st = nova_http_route(srv, "POST", "/v1/faces/compare", "verifications:write",
                                     FACES_MAX_BODY, api_faces_compare, api);
    if (st == NOVA_OK)
        st = nova_http_route(srv, "POST", "/v1/liveness/challenges", "verifications:write", 4096,
                             api_liveness_challenge, api);
    if (st == NOVA_OK)
        st = nova_http_route(srv, "POST", "/v1/liveness/verify", "verifications:write",
                             FACES_MAX_BODY, api_liveness_verify, api);
    return st;
}
