/* Face match check: the largest face of a document portrait against the largest face of a
 * selfie, with quality reasons. Thresholds and how to calibrate them: docs/ARCHITECTURE.md
 * ("Vision engine"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CHIP 150

static const char *const REASONS[NOVA_VISION_REASON_COUNT] = {
    "no_face", "several_faces", "face_too_small", "eyes_closed", "blurred", "too_dark",
};

const char *nova_vision_reason_name(unsigned bit)
{
    for (int i = 0; i < NOVA_VISION_REASON_COUNT; i++)
        if (bit == 1u << i)
            return REASONS[i];
    return NULL;
}

const char *nova_vision_decision_name(nova_vision_decision d)
{
    switch (d) {
    case NOVA_VISION_MATCH:
        return "match";
    case NOVA_VISION_REVIEW:
        return "review";
    default:
        return "no_match";
    }
}

static double dist(nova_vision_point_t a, nova_vision_point_t b)
{
    return hypot(a.x - b.x, a.y - b.y);
}

/* Eye aspect ratio (Soukupova and Cech 2016) of the six points of one eye. */
static double eye_ratio(const nova_vision_point_t *p)
{
    double w = dist(p[0], p[3]);
    return w > 0 ? (dist(p[1], p[5]) + dist(p[2], p[4])) / (2 * w) : 0;
}

nova_status nova_vision_face_quality(const nova_vision_image_t *img, const nova_vision_face_t *f,
                                     double *ear, double *sharpness, double *brightness)
{
    *ear = (eye_ratio(f->landmarks + 36) + eye_ratio(f->landmarks + 42)) / 2;
    *sharpness = *brightness = 0;
    int x = (int)f->aligned.x, y = (int)f->aligned.y, w = (int)f->aligned.w, h = (int)f->aligned.h;
    if (w <= 0 || h <= 0)
        return NOVA_OK;
    vt_t t, g;
    nova_status st = vt_from_image(img, x, y, w, h, &t);
    if (st != NOVA_OK)
        return st;
    st = vt_resize_bilinear(&t, CHIP, CHIP, &g);
    vt_free(&t);
    if (st != NOVA_OK)
        return st;
    /* luma (BT.601) of the chip, then the variance of its 4-neighbour Laplacian */
    float *l = malloc(CHIP * CHIP * sizeof *l);
    if (!l) {
        vt_free(&g);
        return NOVA_NOMEM;
    }
    double sum = 0;
    for (int i = 0; i < CHIP * CHIP; i++) {
        const float *p = g.d + (size_t)i * 3;
        l[i] = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
        sum += l[i];
    }
    vt_free(&g);
    double s = 0, s2 = 0;
    int n = 0;
    for (int r = 1; r < CHIP - 1; r++) {
        for (int c = 1; c < CHIP - 1; c++) {
            const float *p = l + r * CHIP + c;
            double v = p[-1] + p[1] + p[-CHIP] + p[CHIP] - 4.0 * p[0];
            s += v;
            s2 += v * v;
            n++;
        }
    }
    free(l);
    *brightness = sum / (CHIP * CHIP);
    *sharpness = s2 / n - (s / n) * (s / n);
    return NOVA_OK;
}

/* Finds the faces of img and keeps one: with target (the document's descriptor), the face
 * closest to it, so a bystander in a selfie neither hides the applicant nor stands in for
 * them (several_faces caps the decision at review); without, the largest. */
nova_status match_check_image(const nova_vision_model_t *m, const nova_vision_image_t *img,
                              const nova_vision_match_opts_t *o, const float *target,
                              nova_vision_face_check_t *c)
{
    memset(c, 0, sizeof *c);
    /* Portraits and selfies are close-ups, which the tiny detector finds best at a small input
     * (the face then spans a few of its 13 cells); when the first size finds nothing the
     * others are tried in turn, 416 for a document photographed whole, and SSD MobileNet v1
     * (about 9x a tiny pass) last. */
    int sizes[5] = {o->detect_size, 160, 320, 416, 0};
    nova_vision_face_t *faces = NULL;
    size_t n = 0;
    nova_status st = NOVA_OK;
    for (int i = 0; i < 5 && st == NOVA_OK && n == 0; i++) {
        if (i > 0 && sizes[i] == o->detect_size)
            continue;
        nova_vision_detect_opts_t d = {.input_size = sizes[i] ? sizes[i] : 416,
                                       .score_threshold = 0.5,
                                       .describe = 1,
                                       .detector = sizes[i] ? NOVA_VISION_TINY : NOVA_VISION_SSD};
        free(faces);
        faces = NULL;
        st = nova_vision_detect(m, img, &d, &faces, &n);
    }
    if (st != NOVA_OK)
        return st;
    size_t largest = 0;
    for (size_t i = 1; i < n; i++)
        if (faces[i].box.w * faces[i].box.h > faces[largest].box.w * faces[largest].box.h)
            largest = i;
    size_t best = largest;
    double best_d = INFINITY;
    for (size_t i = 0; target && i < n; i++) {
        double d =
            faces[i].has_descriptor ? nova_vision_distance(target, faces[i].descriptor) : INFINITY;
        if (d < best_d)
            best_d = d, best = i;
    }
    if (n == 0 || !faces[best].has_descriptor) {
        free(faces);
        c->reasons = NOVA_VISION_NO_FACE;
        return NOVA_OK;
    }
    double area = faces[largest].box.w * faces[largest].box.h;
    for (size_t i = 0; i < n; i++)
        if (i != largest && faces[i].box.w * faces[i].box.h * 4 > area)
            c->reasons |= NOVA_VISION_SEVERAL_FACES;
    c->faces = n;
    c->face = faces[best];
    free(faces);
    if (fmin(c->face.box.w, c->face.box.h) < o->min_face)
        c->reasons |= NOVA_VISION_FACE_TOO_SMALL;
    st = nova_vision_face_quality(img, &c->face, &c->ear, &c->sharpness, &c->brightness);
    if (st != NOVA_OK)
        return st;
    if (c->ear < o->min_ear)
        c->reasons |= NOVA_VISION_EYES_CLOSED;
    if (c->sharpness < o->min_sharpness)
        c->reasons |= NOVA_VISION_BLURRED;
    if (c->brightness < o->min_brightness)
        c->reasons |= NOVA_VISION_TOO_DARK;
    return NOVA_OK;
}

void match_defaults(nova_vision_match_opts_t *o)
{
    o->match_max = o->match_max > 0 ? o->match_max : 0.45;
    o->review_max = o->review_max > 0 ? o->review_max : 0.55;
    o->min_face = o->min_face > 0 ? o->min_face : 64;
    o->detect_size = o->detect_size > 0 ? o->detect_size : 224;
    o->min_ear = o->min_ear > 0 ? o->min_ear : 0.15;
    o->min_sharpness = o->min_sharpness > 0 ? o->min_sharpness : 12;
    o->min_brightness = o->min_brightness > 0 ? o->min_brightness : 40;
}

nova_status nova_vision_match(const nova_vision_model_t *m, const nova_vision_image_t *document,
                              const nova_vision_image_t *selfie,
                              const nova_vision_match_opts_t *opts, nova_vision_match_t *out)
{
    memset(out, 0, sizeof *out);
    nova_vision_match_opts_t o = opts ? *opts : (nova_vision_match_opts_t){0};
    match_defaults(&o);
    if (o.review_max < o.match_max)
        return NOVA_INVALID;
    nova_status st = match_check_image(m, document, &o, NULL, &out->document);
    if (st == NOVA_OK)
        st = match_check_image(m, selfie, &o,
                               out->document.faces ? out->document.face.descriptor : NULL,
                               &out->selfie);
    if (st != NOVA_OK)
        return st;
    out->reasons = out->document.reasons | out->selfie.reasons;
    out->distance = -1;
    out->decision = NOVA_VISION_NO_MATCH;
    if (out->reasons & NOVA_VISION_NO_FACE)
        return NOVA_OK;
    out->distance =
        nova_vision_distance(out->document.face.descriptor, out->selfie.face.descriptor);
    out->similarity = fmax(0, 1 - out->distance);
    if (out->distance <= o.match_max)
        out->decision = out->reasons ? NOVA_VISION_REVIEW : NOVA_VISION_MATCH;
    else if (out->distance <= o.review_max)
        out->decision = NOVA_VISION_REVIEW;
    return NOVA_OK;
}
