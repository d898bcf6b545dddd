/* Active liveness: a burst of frames in which the applicant performs the asked actions. Each
 * frame is detected, landmarked and described like a face-match image (match_check_image);
 * the pose comes from the 68 landmarks in the face's own axes (origin between the eyes, unit
 * the eye distance, x along the eye line), so a tilted or moved camera does not read as an
 * action. What a still photo cannot do: change its landmarks other than by a planar (affine)
 * map, which a head turn, a blink or a smile does; see docs/ARCHITECTURE.md ("Liveness"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const ACTIONS[NOVA_VISION_ACTION_COUNT] = {
    "turn_left", "turn_right", "blink", "smile", "nod",
};

static const char *const LV_REASONS[NOVA_VISION_LV_COUNT] = {
    "no_face",        "several_faces", "other_person", "action_missing", "action_order",
    "repeated_frame", "affine_replay", "timing",       "not_neutral",
};

const char *nova_vision_action_name(nova_vision_action a)
{
    return (unsigned)a < NOVA_VISION_ACTION_COUNT ? ACTIONS[a] : NULL;
}

int nova_vision_action_parse(const char *s)
{
    for (int i = 0; s && i < NOVA_VISION_ACTION_COUNT; i++)
        if (strcmp(s, ACTIONS[i]) == 0)
            return i;
    return -1;
}

const char *nova_vision_liveness_decision_name(nova_vision_liveness_decision d)
{
    switch (d) {
    case NOVA_VISION_LIVE_PASS:
        return "pass";
    case NOVA_VISION_LIVE_REVIEW:
        return "review";
    default:
        return "fail";
    }
}

const char *nova_vision_liveness_reason_name(unsigned bit)
{
    for (int i = 0; i < NOVA_VISION_LV_COUNT; i++)
        if (bit == 1u << i)
            return LV_REASONS[i];
    return NULL;
}

static nova_vision_point_t mean_pts(const nova_vision_point_t *p, int n)
{
    nova_vision_point_t m = {0, 0};
    for (int i = 0; i < n; i++)
        m.x += p[i].x / n, m.y += p[i].y / n;
    return m;
}

static double eye_ratio(const nova_vision_point_t *p)
{
    double w = hypot(p[0].x - p[3].x, p[0].y - p[3].y);
    return w > 0 ? (hypot(p[1].x - p[5].x, p[1].y - p[5].y) +
                    hypot(p[2].x - p[4].x, p[2].y - p[4].y)) /
                       (2 * w)
                 : 0;
}

/* How open the eyes look: the luma contrast (standard deviation over mean) inside an
 * ellipse around each eye's six points, averaged over both eyes. An open eye shows iris and
 * sclera, a closed one skin; the landmark net's eye points move less than the lids do. */
static double eye_open(const nova_vision_image_t *img, const nova_vision_point_t *lm)
{
    double sum = 0;
    for (int eye = 0; eye < 2; eye++) {
        const nova_vision_point_t *p = lm + 36 + 6 * eye;
        nova_vision_point_t c = mean_pts(p, 6);
        double ew = hypot(p[3].x - p[0].x, p[3].y - p[0].y);
        double ax = 0.55 * ew, ay = 0.3 * ew, s = 0, s2 = 0;
        long n = 0;
        for (int y = (int)(c.y - ay); y <= (int)(c.y + ay); y++)
            for (int x = (int)(c.x - ax); x <= (int)(c.x + ax); x++) {
                double dx = (x - c.x) / ax, dy = (y - c.y) / ay;
                if (dx * dx + dy * dy > 1 || x < 0 || y < 0 || x >= img->width || y >= img->height)
                    continue;
                const uint8_t *q = img->rgb + ((size_t)y * img->width + x) * 3;
                double l = 0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2];
                s += l, s2 += l * l, n++;
            }
        if (n > 0 && s > 0)
            sum += sqrt(fmax(0, s2 / n - (s / n) * (s / n))) / (s / n);
    }
    return sum / 2;
}

/* Yaw, pitch, eye aspect ratio and mouth width of one face's landmarks. */
static void pose(const nova_vision_point_t *lm, nova_vision_frame_pose_t *p)
{
    nova_vision_point_t a = mean_pts(lm + 36, 6), b = mean_pts(lm + 42, 6);
    double d = hypot(b.x - a.x, b.y - a.y);
    if (d <= 0) {
        p->yaw = p->pitch = p->ear = p->mouth = 0;
        return;
    }
    double ux = (b.x - a.x) / d, uy = (b.y - a.y) / d, ox = (a.x + b.x) / 2, oy = (a.y + b.y) / 2;
#define PU(i) (((lm[i].x - ox) * ux + (lm[i].y - oy) * uy) / d)
#define PV(i) (((lm[i].x - ox) * -uy + (lm[i].y - oy) * ux) / d)
    double half = (PU(16) - PU(0)) / 2;
    p->yaw = half > 0 ? (PU(30) - (PU(0) + PU(16)) / 2) / half : 0;
    p->pitch = PV(8) > 0 ? PV(30) / PV(8) : 0;
#undef PU
#undef PV
    p->ear = (eye_ratio(lm + 36) + eye_ratio(lm + 42)) / 2;
    p->mouth = hypot(lm[54].x - lm[48].x, lm[54].y - lm[48].y) / d;
}

/* Solves the n x n system a x = b (n <= 8) by Gaussian elimination with partial pivoting;
 * b becomes x. 0 when the system is singular. */
static int solve(int n, double a[8][8], double *b)
{
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(a[r][c]) > fabs(a[piv][c]))
                piv = r;
        if (fabs(a[piv][c]) < 1e-12)
            return 0;
        for (int k = 0; k < n; k++) {
            double t = a[c][k];
            a[c][k] = a[piv][k], a[piv][k] = t;
        }
        double t = b[c];
        b[c] = b[piv], b[piv] = t;
        for (int r = c + 1; r < n; r++) {
            double f = a[r][c] / a[c][c];
            for (int k = c; k < n; k++)
                a[r][k] -= f * a[c][k];
            b[r] -= f * b[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        for (int k = c + 1; k < n; k++)
            b[c] -= a[c][k] * b[k];
        b[c] /= a[c][c];
    }
    return 1;
}

/* Least-squares affine map of the 68 landmarks of a onto b: x_b = m[0] x + m[1] y + m[2],
 * y_b = m[3] x + m[4] y + m[5]. 0 when degenerate. */
static int landmark_affine(const nova_vision_point_t *a, const nova_vision_point_t *b, double m[6])
{
    double h[8][8] = {{0}}, hy[8][8], vx[8] = {0}, vy[8] = {0};
    for (int i = 0; i < NOVA_VISION_LANDMARKS; i++) {
        double r[3] = {a[i].x, a[i].y, 1};
        for (int j = 0; j < 3; j++) {
            for (int k = 0; k < 3; k++)
                h[j][k] += r[j] * r[k];
            vx[j] += r[j] * b[i].x;
            vy[j] += r[j] * b[i].y;
        }
    }
    memcpy(hy, h, sizeof hy);
    if (!solve(3, h, vx) || !solve(3, hy, vy))
        return 0;
    for (int j = 0; j < 3; j++)
        m[j] = vx[j], m[3 + j] = vy[j];
    return 1;
}

/* Grey image of img averaged over f x f blocks. */
typedef struct grey {
    int w, h;
    float *d;
} grey_t;

static nova_status grey_down(const nova_vision_image_t *img, int f, grey_t *g)
{
    g->w = img->width / f, g->h = img->height / f;
    if (g->w < 4 || g->h < 4)
        return NOVA_INVALID;
    g->d = calloc((size_t)g->w * g->h, sizeof *g->d);
    if (!g->d)
        return NOVA_NOMEM;
    for (int y = 0; y < g->h * f; y++) {
        const uint8_t *p = img->rgb + (size_t)y * img->width * 3;
        float *row = g->d + (size_t)(y / f) * g->w;
        for (int x = 0; x < g->w * f; x++, p += 3)
            row[x / f] += 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
    }
    float k = 1.0f / (float)(f * f);
    for (size_t i = 0; i < (size_t)g->w * g->h; i++)
        g->d[i] *= k;
    return NOVA_OK;
}

static double grey_at(const grey_t *g, double x, double y)
{
    x = fmin(fmax(x, 0), g->w - 1.001);
    y = fmin(fmax(y, 0), g->h - 1.001);
    int ix = (int)x, iy = (int)y;
    double fx = x - ix, fy = y - iy;
    const float *p = g->d + (size_t)iy * g->w + ix;
    return (1 - fy) * ((1 - fx) * p[0] + fx * p[1]) + fy * ((1 - fx) * p[g->w] + fx * p[g->w + 1]);
}

#define LK_N 48    /* the face is compared on an LK_N x LK_N grid */
#define LK_CELLS 4 /* ... and its error read in LK_CELLS x LK_CELLS cells */

/* How far frame b is from a planar (affine) warp of frame a over a's face: b is aligned to a
 * by an affine map of the pixels (started from the landmarks' least-squares map, refined by
 * Gauss-Newton on grey levels with a gain and an offset, so a print under other light still
 * aligns), and the result is the largest RMS grey-level error among the face's cells. A photo
 * slid, turned or scaled aligns to the noise; a head that turns, eyes that close or a mouth
 * that widens leave cells that no affine map explains. */
static nova_status planar_residual(const nova_vision_image_t *ia, const nova_vision_face_t *fa,
                                   const nova_vision_image_t *ib, const nova_vision_face_t *fb,
                                   double *out)
{
    *out = INFINITY;
    double side = fmax(fa->box.w, fa->box.h), sp = side / LK_N;
    int f = sp >= 2 ? (int)sp : 1;
    double m[6];
    if (!landmark_affine(fa->landmarks, fb->landmarks, m))
        return NOVA_OK;
    grey_t ga = {0}, gb = {0};
    nova_status st = grey_down(ia, f, &ga);
    if (st == NOVA_OK)
        st = grey_down(ib, f, &gb);
    double *t = st == NOVA_OK ? malloc(sizeof(double) * LK_N * LK_N * 2) : NULL;
    if (st != NOVA_OK || !t) {
        free(ga.d);
        free(gb.d);
        return st == NOVA_INVALID ? NOVA_OK : st != NOVA_OK ? st : NOVA_NOMEM;
    }
    double *e = t + LK_N * LK_N;
    /* grid in a's reduced pixels, relative to the face centre (cx, cy) */
    double cx = (fa->box.x + fa->box.w / 2) / f, cy = (fa->box.y + fa->box.h / 2) / f;
    double step = sp / f;
    for (int i = 0; i < LK_N; i++)
        for (int j = 0; j < LK_N; j++)
            t[i * LK_N + j] = grey_at(&ga, cx + (j + 0.5 - LK_N / 2.0) * step,
                                      cy + (i + 0.5 - LK_N / 2.0) * step);
    /* p: b's reduced pixel of grid offset (u, v) is (p0 u + p1 v + p2, p3 u + p4 v + p5) */
    double p[6] = {m[0], m[1], (m[0] * cx * f + m[1] * cy * f + m[2]) / f,
                   m[3], m[4], (m[3] * cx * f + m[4] * cy * f + m[5]) / f};
    for (int it = 0; it < 40; it++) {
        /* gain and offset first: t ~ g * b + o */
        double sb = 0, sbb = 0, st_ = 0, sbt = 0, n = LK_N * LK_N;
        for (int i = 0; i < LK_N; i++)
            for (int j = 0; j < LK_N; j++) {
                double u = (j + 0.5 - LK_N / 2.0) * step, v = (i + 0.5 - LK_N / 2.0) * step;
                double bv = grey_at(&gb, p[0] * u + p[1] * v + p[2], p[3] * u + p[4] * v + p[5]);
                double tv = t[i * LK_N + j];
                e[i * LK_N + j] = bv;
                sb += bv, sbb += bv * bv, st_ += tv, sbt += bv * tv;
            }
        double var = sbb - sb * sb / n;
        double g = var > 1e-9 ? (sbt - sb * st_ / n) / var : 1, o = (st_ - g * sb) / n;
        double h[8][8] = {{0}}, r[8] = {0};
        for (int i = 0; i < LK_N; i++)
            for (int j = 0; j < LK_N; j++) {
                double u = (j + 0.5 - LK_N / 2.0) * step, v = (i + 0.5 - LK_N / 2.0) * step;
                double x = p[0] * u + p[1] * v + p[2], y = p[3] * u + p[4] * v + p[5];
                double gx = g * (grey_at(&gb, x + 1, y) - grey_at(&gb, x - 1, y)) / 2;
                double gy = g * (grey_at(&gb, x, y + 1) - grey_at(&gb, x, y - 1)) / 2;
                double jac[6] = {gx * u, gx * v, gx, gy * u, gy * v, gy};
                double err = t[i * LK_N + j] - (g * e[i * LK_N + j] + o);
                e[i * LK_N + j] = err;
                for (int a = 0; a < 6; a++) {
                    r[a] += jac[a] * err;
                    for (int c = 0; c < 6; c++)
                        h[a][c] += jac[a] * jac[c];
                }
            }
        if (!solve(6, h, r))
            break;
        double move = 0;
        for (int a = 0; a < 6; a++)
            p[a] += r[a];
        move = fabs(r[2]) + fabs(r[5]) +
               LK_N * step * (fabs(r[0]) + fabs(r[1]) + fabs(r[3]) + fabs(r[4]));
        if (move < 1e-3)
            break;
    }
    /* e holds the last pass's errors */
    double worst = 0;
    int cs = LK_N / LK_CELLS;
    for (int ci = 0; ci < LK_CELLS; ci++)
        for (int cj = 0; cj < LK_CELLS; cj++) {
            double s2 = 0;
            for (int i = ci * cs; i < (ci + 1) * cs; i++)
                for (int j = cj * cs; j < (cj + 1) * cs; j++)
                    s2 += e[i * LK_N + j] * e[i * LK_N + j];
            worst = fmax(worst, sqrt(s2 / (cs * cs)));
        }
    free(t);
    free(ga.d);
    free(gb.d);
    *out = worst;
    return NOVA_OK;
}

/* Mean absolute difference of two images' bytes (sampled every 7th), or INFINITY when their
 * sizes differ. */
static double pixel_difference(const nova_vision_image_t *a, const nova_vision_image_t *b)
{
    if (a->width != b->width || a->height != b->height)
        return INFINITY;
    size_t n = (size_t)a->width * a->height * 3, k = 0;
    double s = 0;
    for (size_t i = 0; i < n; i += 7, k++)
        s += abs((int)a->rgb[i] - (int)b->rgb[i]);
    return k ? s / k : 0;
}

/* Whether frame pose p performs action a relative to the first frame's pose p0. */
static int performs(nova_vision_action a, const nova_vision_frame_pose_t *p0,
                    const nova_vision_frame_pose_t *p, const nova_vision_liveness_opts_t *o)
{
    switch (a) {
    case NOVA_VISION_TURN_LEFT:
        return p->yaw - p0->yaw > o->yaw_min;
    case NOVA_VISION_TURN_RIGHT:
        return p0->yaw - p->yaw > o->yaw_min;
    case NOVA_VISION_BLINK:
        return p->ear < o->blink_ratio * p0->ear || p->eye_open < o->blink_ratio * p0->eye_open;
    case NOVA_VISION_SMILE:
        return p->mouth > o->smile_ratio * p0->mouth;
    case NOVA_VISION_NOD:
        return fabs(p->pitch - p0->pitch) > o->pitch_min;
    default:
        return 0;
    }
}

/* A frame counts for an action when it shows a face that no planar warp of the first frame
 * explains (a photo bent or turned to fake a pose does not count). */
static int counts(const nova_vision_frame_pose_t *p, size_t faces,
                  const nova_vision_liveness_opts_t *o)
{
    return faces > 0 && p->residual > o->affine_max;
}

static void defaults(nova_vision_liveness_opts_t *o)
{
    o->same_max = o->same_max > 0 ? o->same_max : 0.55;
    o->yaw_min = o->yaw_min > 0 ? o->yaw_min : 0.12;
    o->pitch_min = o->pitch_min > 0 ? o->pitch_min : 0.06;
    o->blink_ratio = o->blink_ratio > 0 ? o->blink_ratio : 0.75;
    o->smile_ratio = o->smile_ratio > 0 ? o->smile_ratio : 1.06;
    o->affine_max = o->affine_max > 0 ? o->affine_max : 6;
    o->neutral_max = o->neutral_max > 0 ? o->neutral_max : 0.45;
    o->span_max_ms = o->span_max_ms > 0 ? o->span_max_ms : 20000;
}

/* Orders the actions asked: each must be performed in a frame after the previous one's. An
 * action seen only before its predecessor is action_order, one never seen action_missing. */
static void sequence(nova_vision_liveness_t *out, const nova_vision_liveness_opts_t *o,
                     const nova_vision_face_check_t *checks)
{
    const nova_vision_frame_pose_t *p0 = &out->pose[0];
    size_t from = 1;
    for (size_t k = 0; k < out->nactions; k++) {
        out->action_frame[k] = -1;
        for (size_t i = from; i < out->frames; i++) {
            if (counts(&out->pose[i], checks[i].faces, o) &&
                performs(out->actions[k], p0, &out->pose[i], o)) {
                out->action_frame[k] = (int)i;
                from = i + 1;
                break;
            }
        }
        if (out->action_frame[k] >= 0)
            continue;
        int earlier = 0;
        for (size_t i = 1; i < from && !earlier; i++)
            earlier = counts(&out->pose[i], checks[i].faces, o) &&
                      performs(out->actions[k], p0, &out->pose[i], o);
        out->reasons |= earlier ? NOVA_VISION_LV_ACTION_ORDER : NOVA_VISION_LV_ACTION_MISSING;
    }
}

nova_status nova_vision_liveness(const nova_vision_model_t *m, const nova_vision_frame_t *frames,
                                 size_t n, const nova_vision_action *actions, size_t nactions,
                                 const float *reference, const nova_vision_liveness_opts_t *opts,
                                 nova_vision_liveness_t *out)
{
    memset(out, 0, sizeof *out);
    if (n < 2 || n > NOVA_VISION_LIVENESS_MAX_FRAMES || nactions < 1 ||
        nactions > NOVA_VISION_LIVENESS_MAX_ACTIONS)
        return NOVA_INVALID;
    for (size_t k = 0; k < nactions; k++)
        if ((unsigned)actions[k] >= NOVA_VISION_ACTION_COUNT)
            return NOVA_INVALID;
    nova_vision_liveness_opts_t o = opts ? *opts : (nova_vision_liveness_opts_t){0};
    defaults(&o);
    nova_vision_match_opts_t mo = {0};
    match_defaults(&mo);
    out->frames = n;
    out->nactions = nactions;
    memcpy(out->actions, actions, nactions * sizeof *actions);
    nova_vision_face_check_t *checks = calloc(n, sizeof *checks);
    if (!checks)
        return NOVA_NOMEM;
    nova_status st = NOVA_OK;
    const float *ref = reference;
    for (size_t i = 0; i < n && st == NOVA_OK; i++) {
        st = match_check_image(m, frames[i].img, &mo, ref, &checks[i]);
        nova_vision_frame_pose_t *p = &out->pose[i];
        p->distance = -1;
        if (st != NOVA_OK || checks[i].faces == 0) {
            out->reasons |= NOVA_VISION_LV_NO_FACE;
            continue;
        }
        if (ref == NULL)
            ref = checks[i].face.descriptor;
        p->faces = (int)checks[i].faces;
        if (checks[i].reasons & NOVA_VISION_SEVERAL_FACES)
            out->reasons |= NOVA_VISION_LV_SEVERAL_FACES;
        pose(checks[i].face.landmarks, p);
        p->eye_open = eye_open(frames[i].img, checks[i].face.landmarks);
        p->distance = nova_vision_distance(ref, checks[i].face.descriptor);
        out->distance_max = fmax(out->distance_max, p->distance);
        if (p->distance > o.same_max)
            out->reasons |= NOVA_VISION_LV_OTHER_PERSON;
    }
    if (st != NOVA_OK) {
        free(checks);
        return st;
    }
    /* the first frame is the neutral pose every action is measured from */
    if (checks[0].faces && fabs(out->pose[0].yaw) > o.neutral_max)
        out->reasons |= NOVA_VISION_LV_NOT_NEUTRAL;
    if (checks[0].faces) {
        /* planar warps: every frame's landmarks an affine map of the first's */
        for (size_t i = 1; i < n && st == NOVA_OK; i++) {
            if (!checks[i].faces)
                continue;
            st = planar_residual(frames[0].img, &checks[0].face, frames[i].img, &checks[i].face,
                                 &out->pose[i].residual);
            out->residual_max = fmax(out->residual_max, out->pose[i].residual);
        }
        if (out->residual_max <= o.affine_max)
            out->reasons |= NOVA_VISION_LV_AFFINE;
        sequence(out, &o, checks);
        if (st == NOVA_OK)
            st = nova_vision_passive(frames[0].img, frames[0].jpeg, frames[0].len, &checks[0].face,
                                     &o.passive, &out->passive);
    }
    free(checks);
    if (st != NOVA_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (pixel_difference(frames[i].img, frames[j].img) < 0.25)
                out->reasons |= NOVA_VISION_LV_REPEATED;
    for (size_t i = 1; i < n; i++)
        if (frames[i].t_ms <= frames[i - 1].t_ms)
            out->reasons |= NOVA_VISION_LV_TIMING;
    if (frames[n - 1].t_ms - frames[0].t_ms > o.span_max_ms)
        out->reasons |= NOVA_VISION_LV_TIMING;
    if (out->reasons) {
        out->decision = NOVA_VISION_LIVE_FAIL;
        out->score = 0;
        return NOVA_OK;
    }
    int passive = __builtin_popcount(out->passive.reasons);
    out->decision = passive ? NOVA_VISION_LIVE_REVIEW : NOVA_VISION_LIVE_PASS;
    out->score = fmax(0, 1 - 0.2 * passive);
    return NOVA_OK;
}
