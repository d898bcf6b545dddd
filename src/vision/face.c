/* The face pipeline as face-api composes it (detectAllFaces(...).withFaceLandmarks()
 * .withFaceDescriptors()): detector boxes, landmarks on the clipped box, the dlib-style aligned
 * box from eye and mouth centres, descriptor on that crop. Box arithmetic follows the
 * reference step for step (its relative/absolute round trips included), so integer crops land
 * on the same pixels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct dbox {
    double x, y, w, h;
} dbox_t;

static dbox_t rescale(dbox_t b, double sx, double sy)
{
    return (dbox_t){b.x * sx, b.y * sy, b.w * sx, b.h * sy};
}

/* Box.clipAtImageBorders, floored. */
static dbox_t clip(dbox_t b, int w, int h)
{
    double cx = fmax(b.x, 0), cy = fmax(b.y, 0);
    double nw = (b.x + b.w) - cx, nh = (b.y + b.h) - cy;
    double cw = fmin(nw, w - cx), ch = fmin(nh, h - cy);
    return (dbox_t){floor(cx), floor(cy), floor(cw), floor(ch)};
}

/* relative box -> absolute (ObjectDetection), -> relative -> absolute (each FaceDetection). */
static dbox_t roundtrip(dbox_t abs, int w, int h)
{
    return rescale(rescale(abs, 1.0 / w, 1.0 / h), w, h);
}

typedef struct pt {
    double x, y;
} pt_t;

static pt_t center(const nova_vision_point_t *p, int n)
{
    pt_t s = {0, 0};
    for (int i = 0; i < n; i++) {
        s.x = s.x + p[i].x;
        s.y = s.y + p[i].y;
    }
    return (pt_t){s.x / n, s.y / n};
}

/* FaceLandmarks.alignDlib: a square from the eye and mouth centres. crop_w and crop_h are the
 * landmark crop's size, which the reference uses to cap the square. */
static dbox_t align_dlib(const nova_vision_point_t *lm, double crop_w, double crop_h)
{
    pt_t le = center(lm + 36, 6), re = center(lm + 42, 6), mo = center(lm + 48, 20);
    double dl = sqrt((mo.x - le.x) * (mo.x - le.x) + (mo.y - le.y) * (mo.y - le.y));
    double dr = sqrt((mo.x - re.x) * (mo.x - re.x) + (mo.y - re.y) * (mo.y - re.y));
    double size = floor(((dl + dr) / 2) / 0.45);
    pt_t ref = {((0 + le.x) + re.x + mo.x) / 3, ((0 + le.y) + re.y + mo.y) / 3};
    double x = floor(fmax(0, ref.x - 0.5 * size));
    double y = floor(fmax(0, ref.y - 0.43 * size));
    return (dbox_t){x, y, fmin(size, crop_w + x), fmin(size, crop_h + y)};
}

static nova_status one_face(const nova_vision_model_t *m, const nova_vision_image_t *img,
                            const tiny_box_t *tb, int describe, nova_vision_face_t *f, int *ok)
{
    int W = img->width, H = img->height;
    *ok = 0;
    memset(f, 0, sizeof *f);
    dbox_t rel = {tb->x, tb->y, tb->w, tb->h};
    dbox_t b2 = roundtrip(rescale(rel, W, H), W, H);  /* detection.box */
    dbox_t b4 = roundtrip(roundtrip(b2, W, H), W, H); /* detection.forSize(W, H).box */
    dbox_t crop = clip(b4, W, H);
    if (!(crop.w > 0 && crop.h > 0))
        return NOVA_OK;
    double rl[NOVA_VISION_LANDMARKS][2];
    nova_status st =
        landmark_run(&m->landmark, img, (int)crop.x, (int)crop.y, (int)crop.w, (int)crop.h, rl);
    if (st != NOVA_OK)
        return st;
    f->box = (nova_vision_box_t){b2.x, b2.y, b2.w, b2.h};
    f->score = tb->score;
    for (int i = 0; i < NOVA_VISION_LANDMARKS; i++) {
        /* FaceLandmarks(rel, crop) then shiftBy(detection.box.x, .y) */
        double px = rl[i][0] * crop.w + 0, py = rl[i][1] * crop.h + 0;
        f->landmarks[i].x = ((px - 0) / crop.w) * crop.w + b2.x;
        f->landmarks[i].y = ((py - 0) / crop.h) * crop.h + b2.y;
    }
    dbox_t al = clip(align_dlib(f->landmarks, crop.w, crop.h), W, H);
    f->aligned = (nova_vision_box_t){al.x, al.y, al.w, al.h};
    *ok = 1;
    if (!describe)
        return NOVA_OK;
    if (!(al.w > 0 && al.h > 0))
        return NOVA_OK; /* the reference drops such a face from the descriptor batch */
    st = recog_run(&m->recog, img, (int)al.x, (int)al.y, (int)al.w, (int)al.h, f->descriptor);
    if (st == NOVA_OK)
        f->has_descriptor = 1;
    return st;
}

nova_status nova_vision_detect(const nova_vision_model_t *m, const nova_vision_image_t *img,
                               const nova_vision_detect_opts_t *opts, nova_vision_face_t **faces,
                               size_t *n)
{
    *faces = NULL;
    *n = 0;
    int size = opts && opts->input_size ? opts->input_size : 416;
    double threshold = opts && opts->score_threshold > 0 ? opts->score_threshold : 0.5;
    int describe = opts ? opts->describe : 0;
    if (!m || !img || !img->rgb || img->width <= 0 || img->height <= 0 || size % 32 != 0 ||
        size < 32 || size > 1024 || !(threshold < 1))
        return NOVA_INVALID;
    tiny_box_t *boxes;
    size_t nb;
    nova_status st = opts && opts->detector == NOVA_VISION_SSD
                         ? ssd_detect(&m->ssd, img, threshold, &boxes, &nb)
                         : tiny_detect(&m->tiny, img, size, threshold, &boxes, &nb);
    if (st != NOVA_OK)
        return st;
    nova_vision_face_t *out = calloc(nb ? nb : 1, sizeof *out);
    if (!out) {
        free(boxes);
        return NOVA_NOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < nb && st == NOVA_OK; i++) {
        int ok;
        st = one_face(m, img, &boxes[i], describe, &out[k], &ok);
        if (ok)
            k++;
    }
    free(boxes);
    if (st != NOVA_OK || k == 0) {
        free(out);
        return st;
    }
    *faces = out;
    *n = k;
    return NOVA_OK;
}

double nova_vision_distance(const float *a, const float *b)
{
    double s = 0;
    for (int i = 0; i < NOVA_VISION_DESCRIPTOR; i++) {
        double d = (double)a[i] - b[i];
        s += d * d;
    }
    return sqrt(s);
}
