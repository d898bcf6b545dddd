/* The engine's results as JSON (jansson), the one shape novactl and the API print. */
#include <math.h>

#include "internal.h"

/* Coordinates to 0.01 px and scores to 1e-6: beyond that the digits are noise. */
static json_t *num(double v, double q)
{
    return json_real(round(v / q) * q);
}

static json_t *reasons_json(unsigned bits)
{
    json_t *a = json_array();
    for (int i = 0; a && i < NOVA_VISION_REASON_COUNT; i++)
        if (bits & (1u << i))
            json_array_append_new(a, json_string(nova_vision_reason_name(1u << i)));
    return a;
}

json_t *nova_vision_face_json(const nova_vision_face_t *f, unsigned what)
{
    json_t *o = json_pack("{s:{s:o, s:o, s:o, s:o}, s:o}", "box", "x", num(f->box.x, 0.01), "y",
                          num(f->box.y, 0.01), "w", num(f->box.w, 0.01), "h", num(f->box.h, 0.01),
                          "score", num(f->score, 1e-6));
    if (!o)
        return NULL;
    if (what & NOVA_VISION_JSON_LANDMARKS) {
        json_t *pts = json_array();
        for (int i = 0; pts && i < NOVA_VISION_LANDMARKS; i++)
            json_array_append_new(pts, json_pack("[o, o]", num(f->landmarks[i].x, 0.01),
                                                 num(f->landmarks[i].y, 0.01)));
        if (!pts || json_object_set_new(o, "landmarks", pts) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    if ((what & NOVA_VISION_JSON_DESCRIPTOR) && f->has_descriptor) {
        json_t *d = json_array();
        for (int i = 0; d && i < NOVA_VISION_DESCRIPTOR; i++)
            json_array_append_new(d, json_real(f->descriptor[i]));
        if (!d || json_object_set_new(o, "descriptor", d) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *check_json(const nova_vision_face_check_t *c)
{
    json_t *o =
        json_pack("{s:I, s:o}", "faces", (json_int_t)c->faces, "reasons", reasons_json(c->reasons));
    if (!o || c->faces == 0)
        return o;
    json_t *f = nova_vision_face_json(&c->face, 0);
    if (!f || json_object_update(o, f) != 0 ||
        json_object_set_new(o, "eye_ratio", num(c->ear, 1e-4)) != 0 ||
        json_object_set_new(o, "sharpness", num(c->sharpness, 0.01)) != 0 ||
        json_object_set_new(o, "brightness", num(c->brightness, 0.01)) != 0) {
        json_decref(f);
        json_decref(o);
        return NULL;
    }
    json_decref(f);
    return o;
}

json_t *nova_vision_match_json(const nova_vision_match_t *r)
{
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "decision",
                     nova_vision_decision_name(r->decision), "distance",
                     r->distance < 0 ? json_null() : num(r->distance, 1e-6), "similarity",
                     r->distance < 0 ? json_null() : num(r->similarity, 1e-6), "reasons",
                     reasons_json(r->reasons), "document", check_json(&r->document), "selfie",
                     check_json(&r->selfie));
}

static json_t *names_json(unsigned bits, int count, const char *(*name)(unsigned))
{
    json_t *a = json_array();
    for (int i = 0; a && i < count; i++)
        if (bits & (1u << i))
            json_array_append_new(a, json_string(name(1u << i)));
    return a;
}

json_t *nova_vision_passive_json(const nova_vision_passive_t *p)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "sharpness", num(p->sharpness, 0.01),
                     "moire", num(p->moire, 0.01), "colourfulness", num(p->colourfulness, 0.01),
                     "texture", num(p->texture, 1e-6), "camera_exif",
                     p->camera < 0 ? json_null() : json_boolean(p->camera), "reasons",
                     names_json(p->reasons, NOVA_VISION_PV_COUNT, nova_vision_passive_reason_name));
}

json_t *nova_vision_liveness_json(const nova_vision_liveness_t *r)
{
    json_t *actions = json_array(), *frames = json_array();
    for (size_t k = 0; actions && k < r->nactions; k++)
        json_array_append_new(
            actions,
            json_pack("{s:s, s:o}", "action", nova_vision_action_name(r->actions[k]), "frame",
                      r->action_frame[k] < 0 ? json_null() : json_integer(r->action_frame[k])));
    for (size_t i = 0; frames && i < r->frames; i++) {
        const nova_vision_frame_pose_t *p = &r->pose[i];
        json_array_append_new(
            frames,
            p->faces == 0
                ? json_pack("{s:i}", "faces", 0)
                : json_pack("{s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "faces", p->faces, "yaw",
                            num(p->yaw, 1e-4), "pitch", num(p->pitch, 1e-4), "eye_ratio",
                            num(p->ear, 1e-4), "eye_open", num(p->eye_open, 1e-4), "mouth",
                            num(p->mouth, 1e-4), "distance", num(p->distance, 1e-6), "residual",
                            num(p->residual, 1e-4)));
    }
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "decision",
                     nova_vision_liveness_decision_name(r->decision), "score", num(r->score, 1e-4),
                     "reasons",
                     names_json(r->reasons, NOVA_VISION_LV_COUNT, nova_vision_liveness_reason_name),
                     "actions", actions, "distance_max", num(r->distance_max, 1e-6), "residual_max",
                     num(r->residual_max, 1e-4), "passive", nova_vision_passive_json(&r->passive),
                     "frames", frames);
}
