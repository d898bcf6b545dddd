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
#include <unistd.h>

#include "internal.h"
#include "nova/datakey.h"
#include "nova/face_store.h"
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

/* A burst frame's pixels: 30 decoded frames then hold at most 190 MB. */
#define FRAME_MAX_PIXELS 2100000u
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
    return nova_arena_printf(&r->arena, NOVA_LIVENESS_KEY_FMT, r->principal->tenant_id, nonce);
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
        if ((uint64_t)v->img[i].width * (uint64_t)v->img[i].height > FRAME_MAX_PIXELS) {
            char *m = nova_arena_printf(&r->arena,
                                        "%s: a burst frame is at most 2.1 megapixels (1920 x "
                                        "1080 fits)",
                                        img_field ? img_field : field);
            nova_resp_problem(r, 413, "payload_too_large", "Payload Too Large", m ? m : field);
            return false;
        }
        v->f[i].img = &v->img[i];
        v->f[i].jpeg = v->jpeg[i];
        v->f[i].t_ms = (int64_t)json_integer_value(t);
    }
    return true;
}

/* The descriptor of the largest face in img (field names it); false with 422 written when it
 * has none. */
static bool face_descriptor(nova_req_t *r, const nova_vision_image_t *img, const char *field,
                            float out[128])
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
    else if (!ok) {
        char *m = nova_arena_printf(&r->arena, "%s: no face found in the image", field);
        nova_resp_problem(r, 422, "no_face", "Unprocessable Content", m ? m : field);
    }
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
                             face_descriptor(r, &v->selfie, "selfie", ref)));
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

/* ---- duplicate-face search: the tenant's gallery ---- */

#define GALLERY_CONTEXT "face.descriptor"
#define GALLERY_CACHE 32  /* tenants whose index this process keeps */
#define GALLERY_LIMIT 100 /* most matches one search returns */

/* One tenant's gallery as this process knows it: the index and, per item, the row's id and
 * subject (NULL once removed), found by id through an open-addressing table. Shared by the
 * searches running on it (refs, under gallery_mu); a reload at a newer version replaces it and
 * the last holder to let go frees it. Searches hold lock for reading; this process's own
 * enrolments and removals are applied under it for writing when the gallery was at the
 * version just before theirs (so a change never reloads and reopens the whole gallery), and
 * the background rebuild swaps its new index in the same way. */
typedef struct gallery {
    char tenant[64];
    int refs;     /* under gallery_mu */
    bool retired; /* under gallery_mu */
    bool queued;  /* under rebuild_mu: waiting for or in the rebuild */
    struct gallery *next_job;
    pthread_rwlock_t lock; /* the members below */
    int64_t version;
    nova_vision_index_t *ix;
    char **ids, **subjects;
    size_t cap;
    size_t *slots, nslots, used; /* item + 1 per slot, 0 empty; a removed item's slot stays */
    /* removals of items the running rebuild copied (replayed on its copy before the swap) */
    bool tracking;
    size_t snap, *pending, npending, pcap;
} gallery_t;

static pthread_mutex_t gallery_mu = PTHREAD_MUTEX_INITIALIZER;
static gallery_t *galleries[GALLERY_CACHE];
static unsigned gallery_next; /* the slot replaced when every one is taken */

static void gallery_free(gallery_t *g)
{
    if (!g)
        return;
    size_t n = g->ix ? nova_vision_index_size(g->ix) : 0;
    for (size_t i = 0; i < n; i++) {
        free(g->ids[i]);
        free(g->subjects[i]);
    }
    nova_vision_index_free(g->ix);
    free(g->ids);
    free(g->subjects);
    free(g->slots);
    free(g->pending);
    pthread_rwlock_destroy(&g->lock);
    free(g);
}

static void gallery_release(gallery_t *g)
{
    pthread_mutex_lock(&gallery_mu);
    bool last = --g->refs == 0 && g->retired;
    pthread_mutex_unlock(&gallery_mu);
    if (last)
        gallery_free(g);
}

static const char *gallery_region(nova_api_t *api)
{
    return api->region && api->region[0] ? api->region : "global";
}

static size_t id_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return (size_t)h;
}

static void slot_put(size_t *slots, size_t nslots, const char *id, size_t item)
{
    size_t i = id_hash(id) & (nslots - 1);
    while (slots[i])
        i = (i + 1) & (nslots - 1);
    slots[i] = item + 1;
}

/* The live item whose id is id, or SIZE_MAX. */
static size_t gallery_find(const gallery_t *g, const char *id)
{
    if (!g->nslots)
        return SIZE_MAX;
    for (size_t i = id_hash(id) & (g->nslots - 1); g->slots[i]; i = (i + 1) & (g->nslots - 1)) {
        size_t item = g->slots[i] - 1;
        if (g->ids[item] && strcmp(g->ids[item], id) == 0)
            return item;
    }
    return SIZE_MAX;
}

/* Appends an item (descriptor, id, subject), growing the arrays and the id table. */
static nova_status gallery_add(gallery_t *g, const char *id, const char *subject,
                               const float d[NOVA_VISION_DESCRIPTOR])
{
    size_t n = nova_vision_index_size(g->ix);
    if (n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        char **ids = realloc(g->ids, cap * sizeof *ids);
        if (!ids)
            return NOVA_NOMEM;
        g->ids = ids;
        char **subjects = realloc(g->subjects, cap * sizeof *subjects);
        if (!subjects)
            return NOVA_NOMEM;
        g->subjects = subjects;
        g->cap = cap;
    }
    if ((g->used + 1) * 2 > g->nslots) {
        size_t nslots = g->nslots ? g->nslots * 2 : 128;
        size_t *slots = calloc(nslots, sizeof *slots);
        if (!slots)
            return NOVA_NOMEM;
        g->used = 0;
        for (size_t i = 0; i < n; i++)
            if (g->ids[i]) {
                slot_put(slots, nslots, g->ids[i], i);
                g->used++;
            }
        free(g->slots);
        g->slots = slots;
        g->nslots = nslots;
    }
    char *i = strdup(id), *sj = strdup(subject);
    nova_status st = i && sj ? nova_vision_index_add(g->ix, d) : NOVA_NOMEM;
    if (st != NOVA_OK) {
        free(i);
        free(sj);
        return st;
    }
    g->ids[n] = i;
    g->subjects[n] = sj;
    slot_put(g->slots, g->nslots, id, n);
    g->used++;
    return NOVA_OK;
}

/* Removes the item of id (false when this gallery has no such live item). */
static bool gallery_remove(gallery_t *g, const char *id)
{
    size_t item = gallery_find(g, id);
    if (item == SIZE_MAX || nova_vision_index_remove(g->ix, item) != NOVA_OK)
        return false;
    if (g->tracking && item < g->snap) {
        if (g->npending == g->pcap) {
            size_t cap = g->pcap ? g->pcap * 2 : 16;
            size_t *p = realloc(g->pending, cap * sizeof *p);
            if (!p)
                return false; /* the caller drops the gallery: a reload is exact */
            g->pending = p;
            g->pcap = cap;
        }
        g->pending[g->npending++] = item;
    }
    free(g->ids[item]);
    free(g->subjects[item]);
    g->ids[item] = g->subjects[item] = NULL;
    return true;
}

/* ---- the background rebuild: one job on novad's scheduler for every tenant's gallery,
 * kicked when a gallery is queued, building one IVF at a time on a copy while searches keep
 * the index they have ---- */

static unsigned ivf_min = 100000, ivf_nprobe = 128;
static pthread_mutex_t rebuild_mu = PTHREAD_MUTEX_INITIALIZER;
static gallery_t *rebuild_head, *rebuild_tail;
static nova_sched_job_t *rebuild_job; /* NULL without a scheduler: searches stay exact */

/* Whether g (read-locked) wants a new IVF: it is large enough, and it has none or a tenth of
 * its items came after the one it has (scanned exactly on every search). */
static bool wants_rebuild(const gallery_t *g)
{
    size_t live = nova_vision_index_live(g->ix), n = nova_vision_index_size(g->ix);
    size_t late = nova_vision_index_unbuilt(g->ix);
    if (live < ivf_min || live < 2)
        return false;
    return nova_vision_index_cells(g->ix) == 0 || late * 10 > n - late;
}

static void rebuild_one(gallery_t *g)
{
    pthread_mutex_lock(&gallery_mu);
    bool retired = g->retired;
    pthread_mutex_unlock(&gallery_mu);
    nova_vision_index_t *cp = NULL;
    nova_status st = NOVA_OK;
    size_t live = 0;
    if (!retired) {
        pthread_rwlock_rdlock(&g->lock);
        st = nova_vision_index_copy(g->ix, &cp);
        live = nova_vision_index_live(g->ix);
        g->snap = nova_vision_index_size(g->ix);
        g->npending = 0;
        g->tracking = st == NOVA_OK;
        pthread_rwlock_unlock(&g->lock);
    }
    if (retired || st != NOVA_OK)
        return;
    size_t nlist = (size_t)sqrt((double)live);
    if (nlist < 1)
        nlist = 1;
    if (nlist > nova_vision_index_size(cp))
        nlist = nova_vision_index_size(cp);
    st = nova_vision_index_build_ivf(cp, nlist, 10, 0);
    /* room for what was enrolled meanwhile and more, so the catch-up under the write lock
     * copies only the new rows */
    pthread_rwlock_rdlock(&g->lock);
    size_t now = nova_vision_index_size(g->ix);
    pthread_rwlock_unlock(&g->lock);
    if (st == NOVA_OK)
        st = nova_vision_index_reserve(cp, now + now / 16 + 1024);
    pthread_rwlock_wrlock(&g->lock);
    if (st == NOVA_OK)
        st = nova_vision_index_catch_up(cp, g->ix);
    for (size_t i = 0; st == NOVA_OK && i < g->npending; i++)
        nova_vision_index_remove(cp, g->pending[i]);
    g->tracking = false;
    g->npending = 0;
    nova_vision_index_t *old = cp;
    if (st == NOVA_OK) {
        old = g->ix;
        g->ix = cp;
    }
    pthread_rwlock_unlock(&g->lock);
    nova_vision_index_free(old);
    if (st != NOVA_OK)
        nova_log(NOVA_LOG_WARN, "face gallery index rebuild failed (%s); searches stay exact",
                 nova_status_name(st));
}

/* The job: drains the queue, one gallery at a time. */
static nova_status rebuild_run(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&rebuild_mu);
        gallery_t *g = rebuild_head;
        if (g) {
            rebuild_head = g->next_job;
            if (!rebuild_head)
                rebuild_tail = NULL;
        }
        pthread_mutex_unlock(&rebuild_mu);
        if (!g)
            return NOVA_OK;
        rebuild_one(g);
        pthread_mutex_lock(&rebuild_mu);
        g->queued = false;
        pthread_mutex_unlock(&rebuild_mu);
        gallery_release(g);
    }
}

/* Queues g for a rebuild unless it is queued already; the queue holds a reference. */
static void rebuild_schedule(gallery_t *g)
{
    if (!rebuild_job)
        return;
    pthread_mutex_lock(&rebuild_mu);
    bool queue = !g->queued;
    if (queue) {
        g->queued = true;
        g->next_job = NULL;
        pthread_mutex_lock(&gallery_mu);
        g->refs++;
        pthread_mutex_unlock(&gallery_mu);
        if (rebuild_tail)
            rebuild_tail->next_job = g;
        else
            rebuild_head = g;
        rebuild_tail = g;
    }
    pthread_mutex_unlock(&rebuild_mu);
    if (queue)
        nova_sched_kick(rebuild_job);
}

static void maybe_rebuild(gallery_t *g)
{
    pthread_rwlock_rdlock(&g->lock);
    bool want = wants_rebuild(g);
    pthread_rwlock_unlock(&g->lock);
    if (want)
        rebuild_schedule(g);
}

/* Opens the sealed descriptor of row into d. */
static nova_status row_descriptor(nova_api_t *api, nova_store_t *s, const char *tenant,
                                  const nova_face_row_t *row, float d[NOVA_VISION_DESCRIPTOR])
{
    nova_sealed_t v;
    nova_plain_t *pl = NULL;
    nova_status st = nova_sealed_decode(row->sealed, row->sealed_len, &v);
    if (st == NOVA_OK)
        st = nova_field_open(api->auth, s, tenant, row->region, GALLERY_CONTEXT, &v, &pl);
    size_t len = 0;
    const uint8_t *b = st == NOVA_OK ? nova_plain_bytes(pl, &len) : NULL;
    if (st == NOVA_OK && len != NOVA_VISION_DESCRIPTOR * sizeof(float))
        st = NOVA_INTERNAL;
    if (st == NOVA_OK)
        memcpy(d, b, len);
    nova_plain_free(pl);
    return st;
}

/* Reads the tenant's gallery at version from the store, opening each descriptor. */
static nova_status gallery_load(nova_api_t *api, nova_store_t *s, const char *tenant,
                                int64_t version, gallery_t **out)
{
    gallery_t *g = calloc(1, sizeof *g);
    if (!g)
        return NOVA_NOMEM;
    if (pthread_rwlock_init(&g->lock, NULL) != 0) {
        free(g);
        return NOVA_NOMEM;
    }
    snprintf(g->tenant, sizeof g->tenant, "%s", tenant);
    g->version = version;
    /* the rows (sealed bytes included) in a scratch arena */
    nova_arena_t scratch;
    nova_arena_init(&scratch, 64 * 1024);
    nova_face_row_t *rows = NULL;
    size_t n = 0;
    nova_status st = nova_store_face_list(s, &scratch, tenant, &rows, &n);
    if (st == NOVA_OK)
        st = nova_vision_index_new(n ? n : 1, &g->ix);
    for (size_t i = 0; st == NOVA_OK && i < n; i++) {
        float d[NOVA_VISION_DESCRIPTOR];
        st = row_descriptor(api, s, tenant, &rows[i], d);
        if (st == NOVA_OK)
            st = gallery_add(g, rows[i].id, rows[i].subject, d);
    }
    nova_arena_free(&scratch);
    if (st != NOVA_OK) {
        gallery_free(g);
        return st;
    }
    nova_log(NOVA_LOG_INFO, "face gallery of tenant %s loaded from the store: %zu faces", tenant,
             n);
    *out = g;
    return NOVA_OK;
}

/* The cached gallery of tenant (not retired), with a reference, or NULL. */
static gallery_t *gallery_cached(const char *tenant)
{
    gallery_t *found = NULL;
    pthread_mutex_lock(&gallery_mu);
    for (unsigned i = 0; i < GALLERY_CACHE && !found; i++)
        if (galleries[i] && strcmp(galleries[i]->tenant, tenant) == 0) {
            found = galleries[i];
            found->refs++;
        }
    pthread_mutex_unlock(&gallery_mu);
    return found;
}

/* Drops the tenant's cached gallery g (held by the caller), so the next search reloads it. */
static void gallery_drop(gallery_t *g)
{
    pthread_mutex_lock(&gallery_mu);
    for (unsigned i = 0; i < GALLERY_CACHE; i++)
        if (galleries[i] == g) {
            galleries[i] = NULL;
            g->retired = true;
            g->refs--; /* the cache's own; the caller still holds one */
        }
    pthread_mutex_unlock(&gallery_mu);
}

/* Brings g, behind the store's version after another process's changes, up to it from the
 * ids alone: faces no longer listed are removed, new ones read and opened one by one (the
 * rest is not read again). False when over a quarter of the gallery is new or on a failure:
 * the caller reloads. The list may be newer than version; the changes it already holds are
 * applied again harmlessly (gallery_apply skips a face present or absent already). */
static bool gallery_sync(nova_api_t *api, nova_store_t *s, gallery_t *g, int64_t version)
{
    nova_arena_t a;
    nova_arena_init(&a, 64 * 1024);
    const char **ids = NULL, **fresh = NULL;
    size_t n = 0, nfresh = 0, removed = 0;
    bool ok = nova_store_face_ids(s, &a, g->tenant, &ids, &n) == NOVA_OK;
    fresh = ok ? nova_arena_alloc(&a, (n + 1) * sizeof *fresh) : NULL;
    ok = ok && fresh;
    int64_t v0 = 0;
    if (ok) {
        pthread_rwlock_rdlock(&g->lock);
        v0 = g->version;
        for (size_t i = 0; i < n; i++)
            if (gallery_find(g, ids[i]) == SIZE_MAX)
                fresh[nfresh++] = ids[i];
        size_t live = nova_vision_index_live(g->ix);
        pthread_rwlock_unlock(&g->lock);
        ok = nfresh <= 16 || nfresh * 4 <= live;
    }
    /* the new faces, read and opened with no lock held */
    nova_face_row_t *rows = ok ? nova_arena_alloc(&a, (nfresh + 1) * sizeof *rows) : NULL;
    float *d = ok ? malloc((nfresh + 1) * NOVA_VISION_DESCRIPTOR * sizeof(float)) : NULL;
    bool *got = ok ? calloc(nfresh + 1, sizeof *got) : NULL;
    ok = ok && rows && d && got;
    for (size_t i = 0; ok && i < nfresh; i++) {
        nova_status st = nova_store_face_get(s, &a, g->tenant, fresh[i], &rows[i]);
        if (st == NOVA_OK)
            st = row_descriptor(api, s, g->tenant, &rows[i], d + i * NOVA_VISION_DESCRIPTOR);
        got[i] = st == NOVA_OK;
        ok = st == NOVA_OK || st == NOVA_NOT_FOUND; /* removed since the list: skipped */
    }
    uint8_t *listed = NULL;
    if (ok) {
        pthread_rwlock_wrlock(&g->lock);
        size_t items = nova_vision_index_size(g->ix);
        listed = g->version == v0 ? calloc(items + 1, 1) : NULL;
        if (listed) {
            for (size_t i = 0; i < n; i++) {
                size_t item = gallery_find(g, ids[i]);
                if (item != SIZE_MAX)
                    listed[item] = 1;
            }
            for (size_t item = 0; ok && item < items; item++)
                if (g->ids[item] && !listed[item]) {
                    ok = gallery_remove(g, g->ids[item]);
                    removed++;
                }
            for (size_t i = 0; ok && i < nfresh; i++)
                if (got[i] && gallery_find(g, rows[i].id) == SIZE_MAX)
                    ok = gallery_add(g, rows[i].id, rows[i].subject,
                                     d + i * NOVA_VISION_DESCRIPTOR) == NOVA_OK;
            if (ok)
                g->version = version;
        } else {
            ok = g->version >= version; /* another search brought it up to date meanwhile */
        }
        pthread_rwlock_unlock(&g->lock);
    }
    if (listed && ok)
        nova_log(NOVA_LOG_INFO,
                 "face gallery of tenant %s brought up to date: %zu faces added, %zu removed",
                 g->tenant, nfresh, removed);
    free(listed);
    free(d);
    free(got);
    nova_arena_free(&a);
    return ok;
}

/* The tenant's gallery at its current version or later, with a reference the caller
 * releases. */
static nova_status gallery_get(nova_api_t *api, nova_store_t *s, const char *tenant,
                               gallery_t **out)
{
    int64_t version;
    nova_status st = nova_store_face_version(s, tenant, &version);
    if (st != NOVA_OK)
        return st;
    gallery_t *g = gallery_cached(tenant);
    if (g) {
        pthread_rwlock_rdlock(&g->lock);
        bool fresh = g->version >= version;
        pthread_rwlock_unlock(&g->lock);
        if (fresh || gallery_sync(api, s, g, version)) {
            if (!fresh)
                maybe_rebuild(g);
            *out = g;
            return NOVA_OK;
        }
        gallery_drop(g); /* half applied, perhaps: no search may use it */
        gallery_release(g);
    }
    st = gallery_load(api, s, tenant, version, &g);
    if (st != NOVA_OK)
        return st;
    g->refs = 1;
    gallery_t *old = NULL;
    pthread_mutex_lock(&gallery_mu);
    unsigned slot = GALLERY_CACHE;
    for (unsigned i = 0; i < GALLERY_CACHE && slot == GALLERY_CACHE; i++)
        if (galleries[i] && strcmp(galleries[i]->tenant, tenant) == 0)
            slot = i;
    for (unsigned i = 0; i < GALLERY_CACHE && slot == GALLERY_CACHE; i++)
        if (!galleries[i])
            slot = i;
    if (slot == GALLERY_CACHE)
        slot = gallery_next++ % GALLERY_CACHE;
    old = galleries[slot];
    galleries[slot] = g;
    g->refs++; /* the cache's own */
    if (old) {
        old->retired = true;
        old = --old->refs == 0 ? old : NULL;
    }
    pthread_mutex_unlock(&gallery_mu);
    gallery_free(old);
    maybe_rebuild(g);
    *out = g;
    return NOVA_OK;
}

/* After this process's change made version: applies it to the cached gallery when that was
 * at the version before (add: id, subject, d; remove: d NULL); a gallery further behind is
 * left for the next search to reload. */
static void gallery_apply(const char *tenant, int64_t version, const char *id, const char *subject,
                          const float *d)
{
    gallery_t *g = gallery_cached(tenant);
    if (!g)
        return;
    pthread_rwlock_wrlock(&g->lock);
    bool next = g->version == version - 1, applied = false;
    if (next) {
        /* a face present (or absent) already is a change a resync brought in */
        bool there = gallery_find(g, id) != SIZE_MAX;
        applied = d ? there || gallery_add(g, id, subject, d) == NOVA_OK
                    : !there || gallery_remove(g, id);
        if (applied)
            g->version = version;
    }
    pthread_rwlock_unlock(&g->lock);
    if (next && !applied)
        gallery_drop(g); /* out of memory half way: the next search reloads */
    else if (applied)
        maybe_rebuild(g);
    gallery_release(g);
}

static const char *const enrol_members[] = {"subject", "image", NULL};

/* A subject: 1..128 printable ASCII bytes. */
static bool subject_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > NOVA_FACE_SUBJECT_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

/* POST /v1/faces/gallery {"subject", "image"}: enrols the image's largest face. */
static void api_gallery_enrol(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    if (!model_ready(r))
        return;
    json_t *body = api_json_body(r, enrol_members);
    if (body == NULL)
        return;
    const char *subject = json_string_value(json_object_get(body, "subject"));
    nova_vision_image_t img = {0};
    float d[NOVA_VISION_DESCRIPTOR];
    nova_store_t *s = NULL;
    if (!subject_ok(subject))
        bad_request(r, "subject: the applicant's reference, 1 to 128 printable ASCII characters");
    else if (image_member(r, body, "image", &img) && face_descriptor(r, &img, "image", d) &&
             (s = api_store(r, api)) != NULL) {
        const char *tenant = r->principal->tenant_id, *region = gallery_region(api);
        char id[64];
        nova_sealed_t v;
        nova_buf_t blob;
        nova_buf_init(&blob);
        nova_audit_actor_t by = {r->principal->client_id, r->req_id};
        nova_audit_entry_t audit;
        nova_status st = nova_id_new("face", id, sizeof id);
        if (st == NOVA_OK)
            st = nova_field_seal(api->auth, s, &r->arena, tenant, region, GALLERY_CONTEXT, d,
                                 sizeof d, &v);
        if (st == NOVA_OK)
            st = nova_sealed_encode(&v, &blob);
        if (st == NOVA_OK)
            st = nova_audit_entry_make(&audit, &r->arena, &by, tenant, "face.enrol", "face", id,
                                       NULL);
        nova_face_row_t row = {.id = id,
                               .tenant_id = tenant,
                               .subject = subject,
                               .region = region,
                               .sealed = (const uint8_t *)blob.data,
                               .sealed_len = blob.len,
                               .created_by = r->principal->client_id,
                               .created_at = nova_time_now()};
        int64_t version = 0;
        if (st == NOVA_OK)
            st = nova_store_face_add(s, &row, &audit, &version);
        if (st == NOVA_OK)
            gallery_apply(tenant, version, id, subject, d);
        nova_buf_free(&blob);
        if (st != NOVA_OK)
            api_unavailable(r, st);
        else
            api_reply_json(r, 201,
                           json_pack("{s:s, s:s, s:s, s:I}", "id", id, "subject", subject, "region",
                                     region, "created_at", (json_int_t)row.created_at));
    }
    nova_vision_image_free(&img);
    json_decref(body);
}

/* DELETE /v1/faces/gallery/{id}: removes an enrolled face (the applicant's erasure). */
static void api_gallery_delete(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    nova_store_t *s = api_store(r, api);
    if (s == NULL)
        return;
    nova_audit_actor_t by = {r->principal->client_id, r->req_id};
    nova_audit_entry_t audit;
    nova_status st = nova_audit_entry_make(&audit, &r->arena, &by, r->principal->tenant_id,
                                           "face.delete", "face", r->params[0], NULL);
    int64_t version = 0;
    if (st == NOVA_OK)
        st = nova_store_face_delete(s, r->principal->tenant_id, r->params[0], &audit, &version);
    if (st == NOVA_OK)
        gallery_apply(r->principal->tenant_id, version, r->params[0], NULL, NULL);
    if (st != NOVA_OK)
        api_unavailable(r, st == NOVA_INVALID ? NOVA_NOT_FOUND : st);
    else
        nova_resp_body(r, 204, NULL, NULL, 0);
}

static const char *const search_members[] = {"image", "max_distance", "limit", NULL};

/* POST /v1/faces/search {"image", "max_distance"?: 0.45, "limit"?: 10}: the enrolled faces of
 * the tenant within max_distance of the image's largest face, nearest first: an exact scan,
 * or from NOVA_FACE_IVF_MIN faces on, once the background rebuild has built it, the IVF's
 * NOVA_FACE_IVF_NPROBE nearest cells (faces enrolled since its build scanned exactly). The
 * reply's "index" says which ("exact" or "ivf"). */
static void api_gallery_search(nova_req_t *r, void *ud)
{
    nova_api_t *api = ud;
    if (!model_ready(r))
        return;
    json_t *body = api_json_body(r, search_members);
    if (body == NULL)
        return;
    double max_distance = 0.45;
    json_t *lim = json_object_get(body, "limit");
    json_int_t limit = lim ? (json_is_integer(lim) ? json_integer_value(lim) : -1) : 10;
    nova_vision_image_t img = {0};
    float d[NOVA_VISION_DESCRIPTOR];
    nova_store_t *s = NULL;
    if (!threshold_member(r, body, "max_distance", &max_distance))
        ;
    else if (limit < 1 || limit > GALLERY_LIMIT)
        bad_request(r, "limit: an integer from 1 to 100");
    else if (image_member(r, body, "image", &img) && face_descriptor(r, &img, "image", d) &&
             (s = api_store(r, api)) != NULL) {
        gallery_t *g = NULL;
        nova_vision_hit_t hits[GALLERY_LIMIT];
        size_t n = 0;
        nova_status st = gallery_get(api, s, r->principal->tenant_id, &g);
        json_t *matches = json_array();
        size_t searched = 0;
        bool ivf = false;
        if (st == NOVA_OK) {
            pthread_rwlock_rdlock(&g->lock);
            searched = nova_vision_index_live(g->ix);
            ivf = searched >= ivf_min && nova_vision_index_cells(g->ix) > 0;
            st = ivf ? nova_vision_index_search_ivf(g->ix, d, ivf_nprobe, max_distance,
                                                    (size_t)limit, hits, &n)
                     : nova_vision_index_search(g->ix, d, max_distance, (size_t)limit, hits, &n);
            /* the strings are copied while the lock keeps a removal from freeing them */
            for (size_t i = 0; st == NOVA_OK && i < n; i++)
                json_array_append_new(matches,
                                      json_pack("{s:s, s:s, s:f}", "id", g->ids[hits[i].item],
                                                "subject", g->subjects[hits[i].item], "distance",
                                                round(hits[i].distance * 1e6) / 1e6));
            pthread_rwlock_unlock(&g->lock);
            gallery_release(g);
        }
        if (st != NOVA_OK) {
            json_decref(matches);
            api_unavailable(r, st);
        } else {
            reply(r, json_pack("{s:o, s:I, s:f, s:s}", "matches", matches, "searched",
                               (json_int_t)searched, "max_distance", max_distance, "index",
                               ivf ? "ivf" : "exact"));
        }
    }
    nova_vision_image_free(&img);
    json_decref(body);
}

nova_status api_faces_register(nova_api_t *api, nova_http_server_t *srv)
{
    model_path = api->face_model ? api->face_model : "tools/models/nova-face.bin";
    if (api->face_ivf_min)
        ivf_min = api->face_ivf_min;
    if (api->face_ivf_nprobe)
        ivf_nprobe = api->face_ivf_nprobe;
    nova_status st = NOVA_OK;
    if (api->sched && !rebuild_job)
        st =
            nova_sched_add(api->sched, "face-index-rebuild", 0, 0, rebuild_run, NULL, &rebuild_job);
    if (st == NOVA_OK)
        st = nova_http_route(srv, "POST", "/v1/faces/compare", "verifications:write",
                             FACES_MAX_BODY, api_faces_compare, api);
    if (st == NOVA_OK)
        st = nova_http_route(srv, "POST", "/v1/liveness/challenges", "verifications:write", 4096,
                             api_liveness_challenge, api);
    if (st == NOVA_OK)
        st = nova_http_route(srv, "POST", "/v1/liveness/verify", "verifications:write",
                             FACES_MAX_BODY, api_liveness_verify, api);
    if (st == NOVA_OK)
        st = nova_http_route(srv, "POST", "/v1/faces/gallery", "verifications:write",
                             FACES_MAX_BODY, api_gallery_enrol, api);
    if (st == NOVA_OK)
        st = nova_http_route(srv, "DELETE", "/v1/faces/gallery/{id}", "verifications:write", 0,
                             api_gallery_delete, api);
    if (st == NOVA_OK)
        st = nova_http_route(srv, "POST", "/v1/faces/search", "verifications:write", FACES_MAX_BODY,
                             api_gallery_search, api);
    return st;
}
