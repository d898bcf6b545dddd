/* vision_frames OUTDIR: writes the liveness test inputs of vision_synth.c as JPEGs for
 * tests/integration/faces_liveness.test.mjs: one person's neutral frames (neutral_1..6.jpg)
 * and one frame per action (turn_left.jpg, turn_right.jpg, blink.jpg, smile.jpg, nod.jpg),
 * another person's neutral frame (other.jpg), and a photo slid across the frame
 * (slid_1..4.jpg). SAMPLE FACE choose the person (sample<SAMPLE>.jpg's FACE-th largest face).
 * Exit 0 when every file was written. */
#include <stdio.h>
#include <stdlib.h>

#include "vision_synth.h"

#define MODEL_PATH NOVA_SRC_DIR "/tools/models/nova-face.bin"

static int write_jpeg(const char *dir, const char *name, const nova_vision_image_t *img)
{
    unsigned char *buf = NULL;
    unsigned long len = 0;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.jpg", dir, name);
    if (synth_jpeg(img, 92, &buf, &len) != NOVA_OK)
        return 1;
    FILE *f = fopen(path, "wb");
    int bad = !f || fwrite(buf, 1, len, f) != len;
    if (f)
        bad |= fclose(f) != 0;
    free(buf);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: vision_frames OUTDIR [SAMPLE FACE]\n");
        return 2;
    }
    nova_vision_model_t *m;
    if (nova_vision_model_open(MODEL_PATH, &m) != NOVA_OK) {
        fprintf(stderr, "vision_frames: cannot open %s (run scripts/models.sh)\n", MODEL_PATH);
        return 1;
    }
    nova_vision_image_t a = {0}, o = {0}, img;
    nova_vision_face_t fa, fo;
    int sample = argc == 4 ? atoi(argv[2]) : 3, face = argc == 4 ? atoi(argv[3]) : 1;
    int bad =
        synth_face(m, sample, face, &a, &fa) != NOVA_OK || synth_face(m, 1, 2, &o, &fo) != NOVA_OK;
    static const char *const poses[] = {"neutral", "turn_left", "turn_right",
                                        "blink",   "smile",     "nod"};
    for (int p = 0; !bad && p < 6; p++)
        for (int k = 1; !bad && k <= (p == 0 ? 6 : 1); k++) {
            char name[32];
            snprintf(name, sizeof name, p == 0 ? "%s_%d" : "%s", poses[p], k);
            bad = synth_pose_frame(&a, &fa, (synth_pose)p, (unsigned)(10 * p + k), &img) ||
                  write_jpeg(argv[1], name, &img);
            nova_vision_image_free(&img);
        }
    if (!bad) {
        bad =
            synth_pose_frame(&o, &fo, SYNTH_NEUTRAL, 7, &img) || write_jpeg(argv[1], "other", &img);
        nova_vision_image_free(&img);
    }
    for (int i = 1; !bad && i <= 4; i++) {
        double map[6] = {1 + 0.03 * i, 0.02 * i, 14.0 * i - 30, -0.02 * i, 1 + 0.03 * i, 5.0 * i};
        char name[32];
        snprintf(name, sizeof name, "slid_%d", i);
        bad = synth_affine(&a, map, (unsigned)(80 + i), &img) || write_jpeg(argv[1], name, &img);
        nova_vision_image_free(&img);
    }
    nova_vision_image_free(&a);
    nova_vision_image_free(&o);
    nova_vision_model_free(m);
    if (bad)
        fprintf(stderr, "vision_frames: cannot make or write the frames in %s\n", argv[1]);
    return bad;
}
