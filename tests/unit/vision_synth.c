/* vision_synth.c: liveness test inputs from the sample photos (see vision_synth.h). */
#include "vision_synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLES NOVA_SRC_DIR "/tools/models/node_modules/@vladmandic/face-api/demo/"

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = n > 0 ? malloc((size_t)n) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static nova_status alloc_like(const nova_vision_image_t *src, nova_vision_image_t *out)
{
    out->width = src->width;
    out->height = src->height;
    out->rgb = malloc((size_t)src->width * src->height * 3);
    return out->rgb ? NOVA_OK : NOVA_NOMEM;
}

nova_status synth_copy(const nova_vision_image_t *src, nova_vision_image_t *out)
{
    nova_status st = alloc_like(src, out);
    if (st == NOVA_OK)
        memcpy(out->rgb, src->rgb, (size_t)src->width * src->height * 3);
    return st;
}

static int cmp_area(const void *a, const void *b)
{
    const nova_vision_face_t *x = a, *y = b;
    double ax = x->box.w * x->box.h, ay = y->box.w * y->box.h;
    return ax < ay ? 1 : ax > ay ? -1 : 0;
}

nova_status synth_face(const nova_vision_model_t *m, int sample, int index,
                       nova_vision_image_t *out, nova_vision_face_t *face)
{
    char path[512];
    snprintf(path, sizeof path, SAMPLES "sample%d.jpg", sample);
    size_t len = 0;
    uint8_t *jpg = read_all(path, &len);
    if (!jpg)
        return NOVA_NOT_FOUND;
    nova_vision_image_t img = {0};
    nova_status st = nova_vision_decode_jpeg(jpg, len, &img);
    free(jpg);
    if (st != NOVA_OK)
        return st;
    nova_vision_detect_opts_t o = {.input_size = 416, .score_threshold = 0.5};
    nova_vision_face_t *faces = NULL;
    size_t n = 0;
    st = nova_vision_detect(m, &img, &o, &faces, &n);
    if (st == NOVA_OK && (size_t)index >= n)
        st = NOVA_NOT_FOUND;
    if (st != NOVA_OK) {
        free(faces);
        nova_vision_image_free(&img);
        return st;
    }
    qsort(faces, n, sizeof *faces, cmp_area);
    nova_vision_box_t b = faces[index].box;
    int side = (int)(2.2 * fmax(b.w, b.h));
    int x0 = (int)(b.x + b.w / 2 - side / 2.0), y0 = (int)(b.y + b.h / 2 - side / 2.0);
    out->width = out->height = side;
    out->rgb = malloc((size_t)side * side * 3);
    if (!out->rgb) {
        free(faces);
        nova_vision_image_free(&img);
        return NOVA_NOMEM;
    }
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            int sx = x0 + x, sy = y0 + y;
            sx = sx < 0 ? 0 : sx >= img.width ? img.width - 1 : sx;
            sy = sy < 0 ? 0 : sy >= img.height ? img.height - 1 : sy;
            memcpy(out->rgb + ((size_t)y * side + x) * 3,
                   img.rgb + ((size_t)sy * img.width + sx) * 3, 3);
        }
    *face = faces[index];
    face->box.x -= x0, face->box.y -= y0;
    for (int i = 0; i < NOVA_VISION_LANDMARKS; i++)
        face->landmarks[i].x -= x0, face->landmarks[i].y -= y0;
    free(faces);
    nova_vision_image_free(&img);
    return NOVA_OK;
}

/* Bilinear sample of src at (x, y), clamped to the edges, into px. */
static void sample(const nova_vision_image_t *src, double x, double y, uint8_t *px)
{
    x = fmin(fmax(x, 0), src->width - 1.001);
    y = fmin(fmax(y, 0), src->height - 1.001);
    int ix = (int)x, iy = (int)y;
    double fx = x - ix, fy = y - iy;
    const uint8_t *p = src->rgb + ((size_t)iy * src->width + ix) * 3;
    const uint8_t *q = p + (size_t)src->width * 3;
    for (int c = 0; c < 3; c++) {
        double v =
            (1 - fy) * ((1 - fx) * p[c] + fx * p[3 + c]) + fy * ((1 - fx) * q[c] + fx * q[3 + c]);
        px[c] = (uint8_t)lround(v);
    }
}

static void noise(nova_vision_image_t *img, unsigned seed)
{
    uint32_t s = seed * 2654435761u + 12345u;
    size_t n = (size_t)img->width * img->height * 3;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        int v = img->rgb[i] + (int)((s >> 24) % 7) - 3;
        img->rgb[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

static nova_vision_point_t centre(const nova_vision_point_t *p, int n)
{
    nova_vision_point_t c = {0, 0};
    for (int i = 0; i < n; i++)
        c.x += p[i].x / n, c.y += p[i].y / n;
    return c;
}

/* cos^2 taper: 1 for t <= t0, 0 at t >= 1. */
static double taper(double t, double t0)
{
    t = fabs(t);
    return t <= t0 ? 1 : t >= 1 ? 0 : 0.5 * (1 + cos(M_PI * (t - t0) / (1 - t0)));
}

/* The source point of output (x, y) for pose. */
static void pose_map(const nova_vision_face_t *f, synth_pose pose, double x, double y, double *sx,
                     double *sy)
{
    const nova_vision_point_t *lm = f->landmarks;
    *sx = x, *sy = y;
    if (pose == SYNTH_TURN_LEFT || pose == SYNTH_TURN_RIGHT) {
        double cx = (lm[0].x + lm[16].x) / 2, r = lm[16].x - lm[0].x;
        double th = pose == SYNTH_TURN_LEFT ? 0.8 : -0.8, s = (x - cx) / r;
        if (fabs(s) < 1)
            *sx = cx + r * sin(fmin(fmax(asin(s) - th, -M_PI / 2), M_PI / 2));
    } else if (pose == SYNTH_NOD) {
        /* looking down: the nose, nearer the camera than the eyes and mouth, moves down
         * across the face more than they do */
        nova_vision_point_t e = centre(lm + 36, 12);
        double d = hypot(lm[45].x - lm[36].x, lm[45].y - lm[36].y), r0 = 0.45 * d;
        double shift = 0.22 * (lm[8].y - e.y), dist = hypot(x - lm[30].x, y - (lm[30].y + shift));
        *sy = y - shift * taper(dist / r0, 0.35);
    } else if (pose == SYNTH_BLINK) {
        /* the upper lid's skin drawn down over the eye: inside an ellipse around each eye
         * the pixels come from above it, the lash line from the lid's edge */
        for (int eye = 0; eye < 2; eye++) {
            const nova_vision_point_t *p = lm + 36 + 6 * eye;
            nova_vision_point_t c = centre(p, 6);
            double ew = hypot(p[3].x - p[0].x, p[3].y - p[0].y), open = 0;
            for (int i = 0; i < 6; i++)
                open = fmax(open, fabs(p[i].y - c.y));
            double ax = 0.75 * ew, ay = fmax(2.2 * open, 0.3 * ew);
            double dx = (x - c.x) / ax, dy = (y - c.y) / ay, r = sqrt(dx * dx + dy * dy);
            if (r >= 1)
                continue;
            double w = taper(r, 0.6);
            *sy = y + w * 1.6 * ay * (1 - fabs(dy) * 0.5);
        }
    } else if (pose == SYNTH_SMILE) {
        nova_vision_point_t c = {(lm[48].x + lm[54].x) / 2, (lm[48].y + lm[54].y) / 2};
        double mw = hypot(lm[54].x - lm[48].x, lm[54].y - lm[48].y), dx = x - c.x;
        double b = taper(dx / (1.3 * mw), 0) * taper((y - c.y) / (0.8 * mw), 0.3);
        *sx = c.x + dx * (1 - 0.6 * b);
    }
}

synth_pose synth_action_pose(nova_vision_action a)
{
    switch (a) {
    case NOVA_VISION_TURN_LEFT:
        return SYNTH_TURN_LEFT;
    case NOVA_VISION_TURN_RIGHT:
        return SYNTH_TURN_RIGHT;
    case NOVA_VISION_BLINK:
        return SYNTH_BLINK;
    case NOVA_VISION_SMILE:
        return SYNTH_SMILE;
    case NOVA_VISION_NOD:
        return SYNTH_NOD;
    default:
        return SYNTH_NEUTRAL;
    }
}

nova_status synth_pose_frame(const nova_vision_image_t *src, const nova_vision_face_t *f,
                             synth_pose pose, unsigned seed, nova_vision_image_t *out)
{
    nova_status st = alloc_like(src, out);
    if (st != NOVA_OK)
        return st;
    for (int y = 0; y < src->height; y++)
        for (int x = 0; x < src->width; x++) {
            double sx, sy;
            pose_map(f, pose, x, y, &sx, &sy);
            sample(src, sx, sy, out->rgb + ((size_t)y * src->width + x) * 3);
        }
    noise(out, seed);
    return NOVA_OK;
}

nova_status synth_affine(const nova_vision_image_t *src, const double map[6], unsigned seed,
                         nova_vision_image_t *out)
{
    nova_status st = alloc_like(src, out);
    if (st != NOVA_OK)
        return st;
    double cx = src->width / 2.0, cy = src->height / 2.0;
    for (int y = 0; y < src->height; y++)
        for (int x = 0; x < src->width; x++) {
            double dx = x - cx, dy = y - cy;
            sample(src, cx + map[0] * dx + map[1] * dy + map[2],
                   cy + map[3] * dx + map[4] * dy + map[5],
                   out->rgb + ((size_t)y * src->width + x) * 3);
        }
    noise(out, seed);
    return NOVA_OK;
}

void synth_moire(nova_vision_image_t *img, double period, double amp)
{
    double a = 0.3, ca = cos(a), sa = sin(a);
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            double v = amp * sin(2 * M_PI * (x * ca + y * sa) / period);
            uint8_t *p = img->rgb + ((size_t)y * img->width + x) * 3;
            for (int c = 0; c < 3; c++) {
                double w = p[c] + v;
                p[c] = (uint8_t)(w < 0 ? 0 : w > 255 ? 255 : lround(w));
            }
        }
}

void synth_fade(nova_vision_image_t *img, double keep)
{
    size_t n = (size_t)img->width * img->height;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = img->rgb + i * 3;
        double g = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        for (int c = 0; c < 3; c++)
            p[c] = (uint8_t)lround(g + keep * (p[c] - g));
    }
}

nova_status synth_jpeg(const nova_vision_image_t *img, int q, unsigned char **buf,
                       unsigned long *len)
{
    uint8_t *out = NULL;
    size_t n = 0;
    nova_status st = nova_vision_encode_jpeg(img, q, &out, &n);
    *buf = out;
    *len = (unsigned long)n;
    return st;
}
