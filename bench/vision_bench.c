/*
 * vision_bench.c: times the vision engine on one core (OpenBLAS single-threaded) and prints one
 * JSON object: descriptor per face, detection + landmarks on a 640x480 picture (tiny detector
 * and SSD MobileNet v1), the whole
 * face-match check (two JPEG decodes, detection, landmarks, descriptors, quality), JPEG decode
 * alone, the liveness verification of a 10-frame burst (ten JPEG decodes and
 * nova_vision_liveness, on a live burst made by tests/unit/vision_synth.c), liveness over
 * every face of the sample photos (live bursts passed; a still, a slid photo and another
 * person's descriptor failed; NOVA_LIVENESS_TRACE=1 prints each live result), and the
 * process's peak RSS. Inputs come from the sample photos of the npm package
 * (scripts/models.sh). With OUT_DIR it also writes the 640x480 JPEG and the match pair there,
 * so bench/vision.sh can time the tfjs reference on the same pictures.
 *   vision_bench [ITERATIONS [OUT_DIR]]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../src/vision/internal.h"
#include "../tests/unit/vision_synth.h"
#include "nova/vision.h"

#define MODEL NOVA_SRC_DIR "/tools/models/nova-face.bin"
#define SAMPLES NOVA_SRC_DIR "/tools/models/node_modules/@vladmandic/face-api/demo/"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* CPU time of the process (the engine and OpenBLAS run on this one thread): on a machine
 * shared with other work, wall time measures the queue for the core too; this does not. */
static double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double *ct; /* the CPU time of each timed iteration, beside t's wall time */

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Prints "name": {"p50":..,"p95":..,"mean":..,"n":..} of t[0..n), and "cpu_p50_ms",
 * "cpu_p95_ms" of ct[0..n). */
static void stats(const char *name, double *t, int n, int last)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += t[i];
    qsort(t, (size_t)n, sizeof *t, cmp);
    int p95 = (int)ceil(0.95 * n) - 1;
    qsort(ct, (size_t)n, sizeof *ct, cmp);
    printf(
        "  \"%s\": {\"p50_ms\": %.3f, \"p95_ms\": %.3f, \"mean_ms\": %.3f, \"cpu_p50_ms\": %.3f, "
        "\"cpu_p95_ms\": %.3f, \"n\": %d}%s\n",
        name, t[n / 2], t[p95 < 0 ? 0 : p95], sum / n, ct[n / 2], ct[p95 < 0 ? 0 : p95], n,
        last ? "" : ",");
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static uint8_t *encode(const nova_vision_image_t *im, int q, unsigned long *len)
{
    uint8_t *out = NULL;
    size_t n = 0;
    if (nova_vision_encode_jpeg(im, q, &out, &n) != NOVA_OK)
        n = 0;
    *len = (unsigned long)n;
    return out;
}

/* The (x, y, w, h) region of src resized to ow x oh with the engine's bilinear resize. */
static nova_vision_image_t region(const nova_vision_image_t *src, int x, int y, int w, int h,
                                  int ow, int oh)
{
    vt_t t, r;
    nova_vision_image_t out = {ow, oh, malloc((size_t)ow * oh * 3)};
    if (vt_from_image(src, x, y, w, h, &t) != NOVA_OK ||
        vt_resize_bilinear(&t, oh, ow, &r) != NOVA_OK || !out.rgb) {
        fprintf(stderr, "vision_bench: resize failed\n");
        exit(1);
    }
    for (size_t i = 0; i < (size_t)ow * oh * 3; i++)
        out.rgb[i] = (uint8_t)lrintf(r.d[i] < 0 ? 0 : r.d[i] > 255 ? 255 : r.d[i]);
    vt_free(&t);
    vt_free(&r);
    return out;
}

static void save(const char *dir, const char *name, const uint8_t *b, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n) {
        fprintf(stderr, "vision_bench: cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 30;
    const char *out_dir = argc > 2 ? argv[2] : NULL;
    if (iters < 1)
        iters = 1;
    double t0 = now_ms();
    nova_vision_model_t *m;
    if (nova_vision_model_open(MODEL, &m) != NOVA_OK) {
        fprintf(stderr, "vision_bench: cannot open %s (run scripts/models.sh)\n", MODEL);
        return 1;
    }
    double load_ms = now_ms() - t0;
    size_t len;
    uint8_t *jpg = read_file(SAMPLES "sample4.jpg", &len);
    nova_vision_image_t full;
    if (!jpg || nova_vision_decode_jpeg(jpg, len, &full) != NOVA_OK) {
        fprintf(stderr, "vision_bench: cannot read the sample photos (run scripts/models.sh)\n");
        return 1;
    }
    double *t = malloc(sizeof(double) * (size_t)iters);
    ct = malloc(sizeof(double) * (size_t)iters);
    printf("{\n  \"engine\": \"nova vision (OpenBLAS, 1 thread)\",\n  \"model_load_ms\": %.1f,\n",
           load_ms);

    /* JPEG decode of the 1920x1448 sample */
    for (int i = 0; i < iters; i++) {
        nova_vision_image_t im;
        double s = now_ms(), sc = cpu_ms();
        nova_vision_decode_jpeg(jpg, len, &im);
        t[i] = now_ms() - s, ct[i] = cpu_ms() - sc;
        nova_vision_image_free(&im);
    }
    stats("decode_1920x1448", t, iters, 0);

    /* detection + landmarks on 640x480 */
    nova_vision_image_t vga = region(&full, 0, 0, full.width, full.height, 640, 480);
    nova_vision_detect_opts_t det = {.input_size = 416, .score_threshold = 0.5};
    nova_vision_face_t *faces;
    size_t n = 0;
    for (int i = 0; i < iters; i++) {
        double s = now_ms(), sc = cpu_ms();
        nova_vision_detect(m, &vga, &det, &faces, &n);
        t[i] = now_ms() - s, ct[i] = cpu_ms() - sc;
        free(faces);
    }
    printf("  \"faces_in_640x480\": %zu,\n", n);
    stats("detect_landmarks_640x480", t, iters, 0);

    /* the same with SSD MobileNet v1 (the face-match check's last resort) */
    nova_vision_detect_opts_t ssd = {.score_threshold = 0.5, .detector = NOVA_VISION_SSD};
    for (int i = 0; i < iters; i++) {
        double s = now_ms(), sc = cpu_ms();
        nova_vision_detect(m, &vga, &ssd, &faces, &n);
        t[i] = now_ms() - s, ct[i] = cpu_ms() - sc;
        free(faces);
    }
    printf("  \"faces_in_640x480_ssd\": %zu,\n", n);
    stats("detect_landmarks_640x480_ssd", t, iters, 0);

    /* descriptor per face: the aligned crop of the first face of the full sample */
    det.describe = 1;
    nova_vision_detect(m, &full, &det, &faces, &n);
    if (n == 0) {
        fprintf(stderr, "vision_bench: no face in the sample\n");
        return 1;
    }
    nova_vision_face_t f0 = faces[0];
    free(faces);
    for (int i = 0; i < iters; i++) {
        float d[NOVA_VISION_DESCRIPTOR];
        double s = now_ms(), sc = cpu_ms();
        recog_run(&m->recog, &full, (int)f0.aligned.x, (int)f0.aligned.y, (int)f0.aligned.w,
                  (int)f0.aligned.h, d);
        t[i] = now_ms() - s, ct[i] = cpu_ms() - sc;
    }
    stats("descriptor_per_face", t, iters, 0);

    /* face-match check end to end: a 640x640 portrait JPEG against a rescaled, recompressed
     * 480x480 copy, both decoded inside the timed part */
    double side = fmax(f0.box.w, f0.box.h) * 1.8;
    int px = (int)fmax(0, f0.box.x + f0.box.w / 2 - side / 2);
    int py = (int)fmax(0, f0.box.y + f0.box.h / 2 - side / 2);
    int ps = (int)fmin(side, fmin(full.width - px, full.height - py));
    nova_vision_image_t doc = region(&full, px, py, ps, ps, 640, 640);
    nova_vision_image_t sel = region(&full, px, py, ps, ps, 480, 480);
    unsigned long dlen, slen;
    uint8_t *djpg = encode(&doc, 90, &dlen), *sjpg = encode(&sel, 60, &slen);
    nova_vision_match_t r = {0};
    for (int i = 0; i < iters; i++) {
        nova_vision_image_t a, b;
        double s = now_ms(), sc = cpu_ms();
        nova_vision_decode_jpeg(djpg, dlen, &a);
        nova_vision_decode_jpeg(sjpg, slen, &b);
        nova_vision_match(m, &a, &b, NULL, &r);
        t[i] = now_ms() - s, ct[i] = cpu_ms() - sc;
        nova_vision_image_free(&a);
        nova_vision_image_free(&b);
    }
    printf("  \"match_decision\": \"%s\",\n  \"match_distance\": %.4f,\n",
           nova_vision_decision_name(r.decision), r.distance);
    stats("face_match_check", t, iters, 0);

    /* liveness: a 10-frame live burst (neutral, turn_left, neutral, blink, neutral, smile,
     * then neutral frames) as JPEGs, each decoded inside the timed part */
    {
        nova_vision_image_t src = {0};
        nova_vision_face_t lf;
        if (synth_face(m, 3, 1, &src, &lf) != NOVA_OK) {
            fprintf(stderr, "vision_bench: cannot make the liveness burst\n");
            return 1;
        }
        static const synth_pose poses[10] = {
            SYNTH_NEUTRAL, SYNTH_TURN_LEFT, SYNTH_NEUTRAL, SYNTH_BLINK,   SYNTH_NEUTRAL,
            SYNTH_SMILE,   SYNTH_NEUTRAL,   SYNTH_NEUTRAL, SYNTH_NEUTRAL, SYNTH_NEUTRAL};
        static const nova_vision_action acts[3] = {NOVA_VISION_TURN_LEFT, NOVA_VISION_BLINK,
                                                   NOVA_VISION_SMILE};
        uint8_t *fj[10];
        unsigned long fl[10];
        for (int k = 0; k < 10; k++) {
            nova_vision_image_t im;
            synth_pose_frame(&src, &lf, poses[k], (unsigned)k + 1, &im);
            fj[k] = encode(&im, 90, &fl[k]);
            nova_vision_image_free(&im);
        }
        nova_vision_liveness_t *lr = malloc(sizeof *lr);
        for (int i = 0; i < iters; i++) {
            nova_vision_image_t im[10];
            nova_vision_frame_t fr[10];
            double s = now_ms(), sc = cpu_ms();
            for (int k = 0; k < 10; k++) {
                nova_vision_decode_jpeg(fj[k], fl[k], &im[k]);
                fr[k] = (nova_vision_frame_t){&im[k], fj[k], fl[k], 100 * k};
            }
            nova_vision_liveness(m, fr, 10, acts, 3, NULL, NULL, lr);
            t[i] = now_ms() - s, ct[i] = cpu_ms() - sc;
            for (int k = 0; k < 10; k++)
                nova_vision_image_free(&im[k]);
        }
        printf("  \"liveness_burst_side_px\": %d,\n  \"liveness_decision\": \"%s\",\n", src.width,
               nova_vision_liveness_decision_name(lr->decision));
        stats("liveness_verify_10_frames", t, iters, 0);
        free(lr);
        for (int k = 0; k < 10; k++)
            free(fj[k]);
        nova_vision_image_free(&src);
    }

    /* liveness over every face of the sample photos (up to three per photo): a live burst
     * (neutral, then each of three actions and back), a still repeated, a photo slid and
     * turned, and the live burst against another person's descriptor */
    {
        static const nova_vision_action seqs[3][3] = {
            {NOVA_VISION_TURN_LEFT, NOVA_VISION_BLINK, NOVA_VISION_SMILE},
            {NOVA_VISION_TURN_RIGHT, NOVA_VISION_NOD, NOVA_VISION_BLINK},
            {NOVA_VISION_SMILE, NOVA_VISION_TURN_LEFT, NOVA_VISION_NOD},
        };
        int people = 0, live_pass = 0, live_review = 0, still_fail = 0, slid_fail = 0,
            other_fail = 0, eligible = 0, eligible_pass = 0;
        float prev[NOVA_VISION_DESCRIPTOR];
        int have_prev = 0;
        nova_vision_liveness_t *lr = malloc(sizeof *lr);
        for (int sm = 1; sm <= 6; sm++)
            for (int fi = 0; fi < 3; fi++) {
                nova_vision_image_t src = {0}, im[7];
                nova_vision_face_t lf;
                nova_vision_frame_t fr[7];
                if (synth_face(m, sm, fi, &src, &lf) != NOVA_OK)
                    continue;
                const nova_vision_action *a = seqs[people % 3];
                synth_pose poses[7] = {
                    SYNTH_NEUTRAL, synth_action_pose(a[0]), SYNTH_NEUTRAL, synth_action_pose(a[1]),
                    SYNTH_NEUTRAL, synth_action_pose(a[2]), SYNTH_NEUTRAL};
                for (int k = 0; k < 7; k++) {
                    synth_pose_frame(&src, &lf, poses[k], (unsigned)(k + 1), &im[k]);
                    fr[k] = (nova_vision_frame_t){&im[k], NULL, 0, 200 * k};
                }
                nova_vision_liveness(m, fr, 7, a, 3, NULL, NULL, lr);
                live_pass += lr->decision == NOVA_VISION_LIVE_PASS;
                if (getenv("NOVA_LIVENESS_TRACE")) {
                    json_t *j = nova_vision_liveness_json(lr);
                    char *t = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(4));
                    fprintf(stderr, "sample%d face %d: %s\n", sm, fi, t ? t : "?");
                    free(t);
                    json_decref(j);
                }
                live_review += lr->decision == NOVA_VISION_LIVE_REVIEW;
                /* eligible: the crop shows one face, frontal enough to start from (a photo of
                 * a group or a profile is not a selfie burst) */
                int ok =
                    !(lr->reasons & (NOVA_VISION_LV_SEVERAL_FACES | NOVA_VISION_LV_NOT_NEUTRAL));
                eligible += ok;
                eligible_pass += ok && lr->decision == NOVA_VISION_LIVE_PASS;
                float mine[NOVA_VISION_DESCRIPTOR];
                int have_mine = lr->pose[0].faces > 0;
                if (have_prev) {
                    nova_vision_liveness(m, fr, 7, a, 3, prev, NULL, lr);
                    other_fail += lr->decision == NOVA_VISION_LIVE_FAIL;
                }
                for (int k = 0; k < 7; k++)
                    nova_vision_image_free(&im[k]);
                /* the neutral frame's descriptor stands for this person next time */
                nova_vision_detect_opts_t dd = {
                    .input_size = 224, .score_threshold = 0.5, .describe = 1};
                nova_vision_face_t *ff = NULL;
                size_t nf = 0;
                nova_vision_detect(m, &src, &dd, &ff, &nf);
                size_t near = 0; /* the face at the crop's centre: the one the burst is of */
                for (size_t k = 1; k < nf; k++)
                    if (hypot(ff[k].box.x + ff[k].box.w / 2 - src.width / 2.0,
                              ff[k].box.y + ff[k].box.h / 2 - src.height / 2.0) <
                        hypot(ff[near].box.x + ff[near].box.w / 2 - src.width / 2.0,
                              ff[near].box.y + ff[near].box.h / 2 - src.height / 2.0))
                        near = k;
                if (have_mine && nf > 0) {
                    memcpy(mine, ff[near].descriptor, sizeof mine);
                    memcpy(prev, mine, sizeof prev);
                    have_prev = 1;
                }
                free(ff);
                for (int k = 0; k < 5; k++) {
                    nova_vision_image_t c = {src.width, src.height,
                                             malloc((size_t)src.width * src.height * 3)};
                    memcpy(c.rgb, src.rgb, (size_t)src.width * src.height * 3);
                    im[k] = c;
                    fr[k] = (nova_vision_frame_t){&im[k], NULL, 0, 200 * k};
                }
                nova_vision_liveness(m, fr, 5, a, 3, NULL, NULL, lr);
                still_fail += lr->decision == NOVA_VISION_LIVE_FAIL;
                for (int k = 0; k < 5; k++) {
                    nova_vision_image_free(&im[k]);
                    double ang = 0.05 * (k - 2), sc = 1 + 0.04 * (k % 3);
                    double map[6] = {sc * cos(ang), -sc * sin(ang) + 0.03 * (k % 2),
                                     12.0 * k - 24, sc * sin(ang),
                                     sc * cos(ang), 6.0 * (k % 4) - 9};
                    synth_affine(&src, map, (unsigned)(50 + k), &im[k]);
                }
                nova_vision_liveness(m, fr, 5, a, 3, NULL, NULL, lr);
                slid_fail += lr->decision == NOVA_VISION_LIVE_FAIL;
                for (int k = 0; k < 5; k++)
                    nova_vision_image_free(&im[k]);
                nova_vision_image_free(&src);
                people++;
            }
        free(lr);
        printf("  \"liveness_eval\": {\"people\": %d, \"live_pass\": %d, \"live_review\": %d, "
               "\"live_eligible\": %d, \"live_eligible_pass\": %d, \"still_fail\": %d, "
               "\"slid_fail\": %d, \"other_person_fail\": %d, \"other_person_tried\": %d},\n",
               people, live_pass, live_review, eligible, eligible_pass, still_fail, slid_fail,
               other_fail, people > 0 ? people - 1 : 0);
    }

    if (out_dir) {
        unsigned long vlen;
        uint8_t *vjpg = encode(&vga, 95, &vlen);
        save(out_dir, "vga.jpg", vjpg, vlen);
        save(out_dir, "document.jpg", djpg, dlen);
        save(out_dir, "selfie.jpg", sjpg, slen);
        free(vjpg);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("  \"peak_rss_mb\": %.1f\n}\n", ru.ru_maxrss / 1024.0);
    free(djpg);
    free(sjpg);
    nova_vision_image_free(&doc);
    nova_vision_image_free(&sel);
    nova_vision_image_free(&vga);
    nova_vision_image_free(&full);
    free(jpg);
    free(t);
    free(ct);
    nova_vision_model_free(m);
    return 0;
}
