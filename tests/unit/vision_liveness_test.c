/*
 * vision_liveness_test.c: active and passive liveness (src/vision/liveness.c, passive.c) on
 * bursts made from the package's sample photos (tests/unit/vision_synth.c): live bursts of
 * three people performing every action pass; each attack the issue names fails with its
 * reason (a still repeated, a photo slid, turned and scaled across the frame, another person,
 * actions out of order, times that go backwards); the passive signals route a screen's grid
 * and a print's faded colours to review and never let an attack pass; and the real faces of
 * the sample photos raise no passive reason. NOVA_LIVENESS_TRACE=1 prints each result.
 *
 * Needs scripts/models.sh (the nets and the package's demo/sample*.jpg).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nova/vision.h"
#include "vision_synth.h"

#define MODEL_PATH NOVA_SRC_DIR "/tools/models/nova-face.bin"

static nova_vision_model_t *model;

static int setup(void **state)
{
    (void)state;
    if (nova_vision_model_open(MODEL_PATH, &model) != NOVA_OK) {
        fprintf(stderr, "vision_liveness_test: cannot open %s; run scripts/models.sh\n",
                MODEL_PATH);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nova_vision_model_free(model);
    return 0;
}

typedef struct burst {
    size_t n;
    nova_vision_image_t img[NOVA_VISION_LIVENESS_MAX_FRAMES];
    nova_vision_frame_t f[NOVA_VISION_LIVENESS_MAX_FRAMES];
} burst_t;

static void burst_free(burst_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        nova_vision_image_free(&b->img[i]);
    b->n = 0;
}

/* Appends pose of (src, f) to b, 200 ms after the previous frame. */
static void add_pose(burst_t *b, const nova_vision_image_t *src, const nova_vision_face_t *f,
                     synth_pose pose)
{
    assert_true(b->n < NOVA_VISION_LIVENESS_MAX_FRAMES);
    assert_int_equal(synth_pose_frame(src, f, pose, (unsigned)b->n + 1, &b->img[b->n]), NOVA_OK);
    b->f[b->n] = (nova_vision_frame_t){.img = &b->img[b->n], .t_ms = 1000 + 200 * (int64_t)b->n};
    b->n++;
}

/* A live burst: neutral, then each action followed by a return to neutral. */
static void live_burst(burst_t *b, const nova_vision_image_t *src, const nova_vision_face_t *f,
                       const nova_vision_action *a, size_t na)
{
    add_pose(b, src, f, SYNTH_NEUTRAL);
    for (size_t k = 0; k < na; k++) {
        add_pose(b, src, f, synth_action_pose(a[k]));
        add_pose(b, src, f, SYNTH_NEUTRAL);
    }
}

static void trace(const char *what, const nova_vision_liveness_t *r)
{
    if (!getenv("NOVA_LIVENESS_TRACE"))
        return;
    json_t *j = nova_vision_liveness_json(r);
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(5));
    fprintf(stderr, "%s: %s\n", what, s ? s : "?");
    free(s);
    json_decref(j);
}

static void check(const char *what, burst_t *b, const nova_vision_action *a, size_t na,
                  const float *ref, nova_vision_liveness_t *r)
{
    assert_int_equal(nova_vision_liveness(model, b->f, b->n, a, na, ref, NULL, r), NOVA_OK);
    trace(what, r);
}

static const nova_vision_action SEQS[3][3] = {
    {NOVA_VISION_TURN_LEFT, NOVA_VISION_BLINK, NOVA_VISION_SMILE},
    {NOVA_VISION_TURN_RIGHT, NOVA_VISION_NOD, NOVA_VISION_BLINK},
    {NOVA_VISION_SMILE, NOVA_VISION_TURN_LEFT, NOVA_VISION_NOD},
};
static const int PEOPLE[3][2] = {{3, 1}, {6, 0}, {5, 0}}; /* sample, face index */

static void test_live_bursts_pass(void **state)
{
    (void)state;
    for (int p = 0; p < 3; p++) {
        nova_vision_image_t src = {0};
        nova_vision_face_t f;
        assert_int_equal(synth_face(model, PEOPLE[p][0], PEOPLE[p][1], &src, &f), NOVA_OK);
        burst_t b = {0};
        live_burst(&b, &src, &f, SEQS[p], 3);
        nova_vision_liveness_t r;
        check("live", &b, SEQS[p], 3, NULL, &r);
        assert_int_equal(r.reasons, 0);
        assert_int_equal(r.passive.reasons, 0);
        assert_int_equal(r.decision, NOVA_VISION_LIVE_PASS);
        assert_true(r.score > 0.99);
        /* each action found in the frame that performs it (1, 3, 5) */
        for (int k = 0; k < 3; k++)
            assert_int_equal(r.action_frame[k], 1 + 2 * k);
        assert_true(r.residual_max > 0.035);
        burst_free(&b);
        nova_vision_image_free(&src);
    }
}

static void test_still_repeated_fails(void **state)
{
    (void)state;
    nova_vision_image_t src = {0};
    nova_vision_face_t f;
    assert_int_equal(synth_face(model, 3, 1, &src, &f), NOVA_OK);
    burst_t b = {0};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(synth_copy(&src, &b.img[i]), NOVA_OK);
        b.f[i] = (nova_vision_frame_t){.img = &b.img[i], .t_ms = 200 * i};
        b.n++;
    }
    nova_vision_liveness_t r;
    check("still", &b, SEQS[0], 3, NULL, &r);
    assert_int_equal(r.decision, NOVA_VISION_LIVE_FAIL);
    assert_true(r.reasons & NOVA_VISION_LV_REPEATED);
    assert_true(r.reasons & NOVA_VISION_LV_AFFINE);
    assert_true(r.reasons & NOVA_VISION_LV_ACTION_MISSING);
    assert_true(r.score == 0);
    burst_free(&b);
    nova_vision_image_free(&src);
}

/* A printed photo held up and moved: slid, turned in the image plane, scaled, sheared a
 * little (a tilted print seen at a distance), each frame with its own noise. */
static void test_photo_slid_fails(void **state)
{
    (void)state;
    for (int p = 0; p < 2; p++) {
        nova_vision_image_t src = {0};
        nova_vision_face_t f;
        assert_int_equal(synth_face(model, PEOPLE[p][0], PEOPLE[p][1], &src, &f), NOVA_OK);
        burst_t b = {0};
        for (int i = 0; i < 7; i++) {
            double a = 0.05 * (i - 3), s = 1 + 0.04 * (i % 3), sh = 0.03 * (i % 2);
            double map[6] = {s * cos(a), -s * sin(a) + sh, 12.0 * i - 36,
                             s * sin(a), s * cos(a),       6.0 * (i % 4) - 9};
            assert_int_equal(synth_affine(&src, map, 50 + i, &b.img[i]), NOVA_OK);
            b.f[i] = (nova_vision_frame_t){.img = &b.img[i], .t_ms = 200 * i};
            b.n++;
        }
        nova_vision_liveness_t r;
        check("slid", &b, SEQS[p], 3, NULL, &r);
        assert_int_equal(r.decision, NOVA_VISION_LIVE_FAIL);
        assert_true(r.reasons & NOVA_VISION_LV_AFFINE);
        assert_false(r.reasons & NOVA_VISION_LV_REPEATED);
        burst_free(&b);
        nova_vision_image_free(&src);
    }
}

static void test_other_person_fails(void **state)
{
    (void)state;
    nova_vision_image_t a = {0}, o = {0};
    nova_vision_face_t fa, fo;
    assert_int_equal(synth_face(model, 3, 1, &a, &fa), NOVA_OK);
    assert_int_equal(synth_face(model, 1, 2, &o, &fo), NOVA_OK);
    /* the selfie is another person's: a perfect live burst of the wrong face */
    nova_vision_detect_opts_t d = {.input_size = 224, .score_threshold = 0.5, .describe = 1};
    nova_vision_face_t *faces = NULL;
    size_t n = 0;
    assert_int_equal(nova_vision_detect(model, &o, &d, &faces, &n), NOVA_OK);
    assert_true(n >= 1);
    burst_t b = {0};
    live_burst(&b, &a, &fa, SEQS[0], 3);
    nova_vision_liveness_t r;
    check("other selfie", &b, SEQS[0], 3, faces[0].descriptor, &r);
    assert_int_equal(r.decision, NOVA_VISION_LIVE_FAIL);
    assert_true(r.reasons & NOVA_VISION_LV_OTHER_PERSON);
    assert_true(r.distance_max > 0.55);
    /* one frame of the burst is someone else's */
    nova_vision_image_free(&b.img[3]);
    assert_int_equal(synth_pose_frame(&o, &fo, SYNTH_NEUTRAL, 99, &b.img[3]), NOVA_OK);
    check("other frame", &b, SEQS[0], 3, NULL, &r);
    assert_int_equal(r.decision, NOVA_VISION_LIVE_FAIL);
    assert_true(r.reasons & NOVA_VISION_LV_OTHER_PERSON);
    free(faces);
    burst_free(&b);
    nova_vision_image_free(&a);
    nova_vision_image_free(&o);
}

static void test_order_and_timing(void **state)
{
    (void)state;
    nova_vision_image_t src = {0};
    nova_vision_face_t f;
    assert_int_equal(synth_face(model, 3, 1, &src, &f), NOVA_OK);
    const nova_vision_action done[3] = {NOVA_VISION_SMILE, NOVA_VISION_BLINK,
                                        NOVA_VISION_TURN_LEFT};
    burst_t b = {0};
    live_burst(&b, &src, &f, done, 3);
    nova_vision_liveness_t r;
    check("order", &b, SEQS[0], 3, NULL, &r); /* asked: turn_left, blink, smile */
    assert_int_equal(r.decision, NOVA_VISION_LIVE_FAIL);
    assert_true(r.reasons & NOVA_VISION_LV_ACTION_ORDER);
    /* the asked order, but the clock goes back, then a burst too long */
    burst_free(&b);
    live_burst(&b, &src, &f, SEQS[0], 3);
    check("in order", &b, SEQS[0], 3, NULL, &r);
    assert_int_equal(r.reasons, 0);
    b.f[4].t_ms = b.f[3].t_ms;
    check("clock", &b, SEQS[0], 3, NULL, &r);
    assert_int_equal(r.reasons, NOVA_VISION_LV_TIMING);
    b.f[4].t_ms = b.f[3].t_ms + 100;
    b.f[b.n - 1].t_ms = b.f[0].t_ms + 25000;
    check("span", &b, SEQS[0], 3, NULL, &r);
    assert_int_equal(r.reasons, NOVA_VISION_LV_TIMING);
    /* arguments out of range */
    nova_vision_action bad = NOVA_VISION_ACTION_COUNT;
    assert_int_equal(nova_vision_liveness(model, b.f, 1, SEQS[0], 3, NULL, NULL, &r), NOVA_INVALID);
    assert_int_equal(nova_vision_liveness(model, b.f, b.n, SEQS[0], 0, NULL, NULL, &r),
                     NOVA_INVALID);
    assert_int_equal(nova_vision_liveness(model, b.f, b.n, &bad, 1, NULL, NULL, &r), NOVA_INVALID);
    burst_free(&b);
    nova_vision_image_free(&src);
}

/* A live burst replayed from a screen (grating) or a faded print is review, not pass. */
static void test_passive_routes_to_review(void **state)
{
    (void)state;
    nova_vision_image_t src = {0};
    nova_vision_face_t f;
    assert_int_equal(synth_face(model, 3, 1, &src, &f), NOVA_OK);
    struct {
        const char *what;
        unsigned want;
    } cases[] = {{"moire", NOVA_VISION_PV_MOIRE}, {"faded", NOVA_VISION_PV_COLOUR}};
    for (int c = 0; c < 2; c++) {
        burst_t b = {0};
        live_burst(&b, &src, &f, SEQS[0], 3);
        for (size_t i = 0; i < b.n; i++) {
            if (c == 0)
                synth_moire(&b.img[i], 5.0, 14);
            else
                synth_fade(&b.img[i], 0.1);
        }
        nova_vision_liveness_t r;
        check(cases[c].what, &b, SEQS[0], 3, NULL, &r);
        assert_int_equal(r.reasons, 0);
        assert_true(r.passive.reasons & cases[c].want);
        assert_int_equal(r.decision, NOVA_VISION_LIVE_REVIEW);
        assert_true(r.score < 1 && r.score > 0);
        burst_free(&b);
    }
    /* the EXIF signal: counted only when asked for; an EXIF Make makes it a camera's */
    burst_t b = {0};
    live_burst(&b, &src, &f, SEQS[0], 3);
    unsigned char *jpg = NULL;
    unsigned long len = 0;
    assert_int_equal(synth_jpeg(&b.img[0], 90, &jpg, &len), NOVA_OK);
    b.f[0].jpeg = jpg;
    b.f[0].len = len;
    nova_vision_liveness_opts_t o = {.passive = {.require_camera = 1}};
    nova_vision_liveness_t r;
    assert_int_equal(nova_vision_liveness(model, b.f, b.n, SEQS[0], 3, NULL, &o, &r), NOVA_OK);
    assert_int_equal(r.passive.camera, 0);
    assert_int_equal(r.passive.reasons, NOVA_VISION_PV_NO_CAMERA);
    assert_int_equal(r.decision, NOVA_VISION_LIVE_REVIEW);
    /* SOI, then an APP1 Exif with IFD0 { Make = "Nova" } (big-endian TIFF), then the rest */
    static const uint8_t app1[] = {0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0,    0,    'M', 'M',
                                   0,    42,   0,    0,    0,   8,   0,   1,   0x01, 0x0F, 0,   2,
                                   0,    0,    0,    4,    'N', 'o', 'v', 'a', 0,    0,    0,   0};
    uint8_t *cam = malloc(len + sizeof app1);
    assert_non_null(cam);
    memcpy(cam, jpg, 2);
    memcpy(cam + 2, app1, sizeof app1);
    memcpy(cam + 2 + sizeof app1, jpg + 2, len - 2);
    assert_int_equal(nova_vision_jpeg_camera(cam, len + sizeof app1), 1);
    assert_int_equal(nova_vision_jpeg_camera(jpg, len), 0);
    b.f[0].jpeg = cam;
    b.f[0].len = len + sizeof app1;
    assert_int_equal(nova_vision_liveness(model, b.f, b.n, SEQS[0], 3, NULL, &o, &r), NOVA_OK);
    assert_int_equal(r.passive.camera, 1);
    assert_int_equal(r.decision, NOVA_VISION_LIVE_PASS);
    /* a passive signal never rescues an attack: the still with a camera's EXIF still fails */
    for (size_t i = 1; i < b.n; i++) {
        nova_vision_image_free(&b.img[i]);
        assert_int_equal(synth_copy(&b.img[0], &b.img[i]), NOVA_OK);
    }
    assert_int_equal(nova_vision_liveness(model, b.f, b.n, SEQS[0], 3, NULL, &o, &r), NOVA_OK);
    assert_int_equal(r.decision, NOVA_VISION_LIVE_FAIL);
    free(cam);
    free(jpg);
    burst_free(&b);
    nova_vision_image_free(&src);
}

/* No real face of the sample photos (15 of the largest, one per person) raises a passive
 * reason: the thresholds sit outside what real photos measure. */
static void test_passive_real_faces_clean(void **state)
{
    (void)state;
    int seen = 0;
    for (int s = 1; s <= 6; s++)
        for (int i = 0; i < 3; i++) {
            nova_vision_image_t src = {0};
            nova_vision_face_t f;
            if (synth_face(model, s, i, &src, &f) != NOVA_OK)
                continue;
            nova_vision_detect_opts_t d = {
                .input_size = 224, .score_threshold = 0.5, .describe = 1};
            nova_vision_face_t *faces = NULL;
            size_t n = 0;
            assert_int_equal(nova_vision_detect(model, &src, &d, &faces, &n), NOVA_OK);
            size_t best = 0;
            for (size_t k = 1; k < n; k++)
                if (faces[k].box.w > faces[best].box.w)
                    best = k;
            if (n > 0) {
                nova_vision_passive_t p;
                assert_int_equal(nova_vision_passive(&src, NULL, 0, &faces[best], NULL, &p),
                                 NOVA_OK);
                if (getenv("NOVA_LIVENESS_TRACE"))
                    fprintf(stderr,
                            "sample%d face %d: sharp %.1f moire %.1f colour %.1f "
                            "texture %.5f\n",
                            s, i, p.sharpness, p.moire, p.colourfulness, p.texture);
                assert_int_equal(p.reasons, 0);
                assert_int_equal(p.camera, -1);
                seen++;
            }
            free(faces);
            nova_vision_image_free(&src);
        }
    assert_true(seen >= 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_bursts_pass),
        cmocka_unit_test(test_still_repeated_fails),
        cmocka_unit_test(test_photo_slid_fails),
        cmocka_unit_test(test_other_person_fails),
        cmocka_unit_test(test_order_and_timing),
        cmocka_unit_test(test_passive_routes_to_review),
        cmocka_unit_test(test_passive_real_faces_clean),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
