/*
 * vision_test.c: src/vision. The model file's parser against truncated and corrupt input, JPEG
 * decoding and EXIF orientation on images encoded here, the layers' padding rules, and the
 * fidelity of the whole pipeline against @vladmandic/face-api on tfjs's CPU backend
 * (tests/fixtures/vision/reference.json, written by tools/face_reference.js from the sample
 * photos inside the npm package): box IoU >= 0.95, landmarks within 1 px, descriptor L2
 * difference < 1e-3 on every reference face (20 faces in 6 photos).
 *
 * Needs scripts/models.sh to have run (tools/models/nova-face.bin and the package's
 * demo/sample*.jpg); make test runs it first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/vision/internal.h"
#include "nova/vision.h"

#define MODEL_PATH NOVA_SRC_DIR "/tools/models/nova-face.bin"
#define SAMPLES NOVA_SRC_DIR "/tools/models/node_modules/@vladmandic/face-api/demo/"
#define REFERENCE NOVA_SRC_DIR "/tests/fixtures/vision/reference.json"
#define REFERENCE_SSD NOVA_SRC_DIR "/tests/fixtures/vision/reference_ssd.json"

static nova_vision_model_t *model;

static int setup_model(void **state)
{
    (void)state;
    nova_status st = nova_vision_model_open(MODEL_PATH, &model);
    if (st != NOVA_OK) {
        fprintf(stderr, "vision_test: cannot open %s (%s); run scripts/models.sh\n", MODEL_PATH,
                nova_status_name(st));
        return -1;
    }
    return 0;
}

static int teardown_model(void **state)
{
    (void)state;
    nova_vision_model_free(model);
    model = NULL;
    return 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* ---- model file ---- */

static void test_model_missing(void **state)
{
    (void)state;
    nova_vision_model_t *m = (void *)1;
    assert_int_equal(nova_vision_model_open("/nonexistent/nova-face.bin", &m), NOVA_NOT_FOUND);
    assert_null(m);
    nova_vision_model_free(NULL);
}

static void test_model_corrupt(void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = read_file(MODEL_PATH, &len);
    assert_non_null(data);
    nova_vision_model_t m = {0};
    /* the real file parses; every truncation and a flipped magic, version or shape do not */
    assert_int_equal(vm_parse(&m, data, len), NOVA_OK);
    assert_true(m.count >= 180);
    const vparam_t *fc = vm_find(&m, "recog/fc", 2);
    assert_non_null(fc);
    assert_int_equal(fc->shape[0], 256);
    assert_int_equal(fc->shape[1], 128);
    assert_null(vm_find(&m, "recog/fc", 1));
    free(m.tensors);
    free(m.floats);
    size_t cuts[] = {0, 8, 63, 64, 200, len / 2, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        nova_vision_model_t t = {0};
        assert_int_equal(vm_parse(&t, data, cuts[i]), NOVA_INVALID);
        assert_null(t.tensors);
    }
    uint8_t *bad = malloc(len);
    assert_non_null(bad);
    /* {byte, value}: magic, version, count (2^31), size, first entry's rank, a dimension of
     * 2^31, an offset past the end */
    static const struct {
        size_t at;
        uint8_t v;
    } edits[] = {{0, 'X'},     {8, 2},          {15, 0x7f},      {32, 0x01},
                 {64 + 84, 5}, {64 + 91, 0x7f}, {64 + 127, 0x7f}};
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(bad, data, len);
        bad[edits[i].at] = edits[i].v == bad[edits[i].at] ? (uint8_t)~edits[i].v : edits[i].v;
        nova_vision_model_t t = {0};
        assert_int_equal(vm_parse(&t, bad, len), NOVA_INVALID);
    }
    /* a well-formed file that lacks one of the nets' tensors does not open */
    memcpy(bad, data, len);
    assert_string_equal((char *)bad + 64, "tiny/conv0/filters");
    bad[64 + 9] = 'X';
    char tmp[] = "/tmp/nova-face-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bad, len), (ssize_t)len);
    close(fd);
    nova_vision_model_t *opened = NULL;
    assert_int_equal(nova_vision_model_open(tmp, &opened), NOVA_INVALID);
    assert_null(opened);
    unlink(tmp);
    free(bad);
    free(data);
}

/* ---- JPEG ---- */

/* Encodes w x h RGB at quality 95 into a malloc'd buffer. */
static uint8_t *encode_jpeg(const uint8_t *rgb, int w, int h, size_t *len)
{
    nova_vision_image_t img = {w, h, (uint8_t *)rgb};
    uint8_t *out = NULL;
    assert_int_equal(nova_vision_encode_jpeg(&img, 95, &out, len), NOVA_OK);
    return out;
}

/* Inserts an Exif APP1 with one IFD0 entry, Orientation = o, after SOI. */
static uint8_t *with_orientation(const uint8_t *jpg, size_t len, int o, int le, size_t *out_len)
{
    uint8_t app[2 + 2 + 6 + 8 + 2 + 12 + 4];
    size_t n = 0;
    app[n++] = 0xFF, app[n++] = 0xE1;
    size_t seg = sizeof app - 2;
    app[n++] = (uint8_t)(seg >> 8), app[n++] = (uint8_t)seg;
    memcpy(app + n, "Exif\0\0", 6), n += 6;
#define P16(v)                                                                                     \
    (le ? (app[n++] = (uint8_t)(v), app[n++] = (uint8_t)((v) >> 8))                                \
        : (app[n++] = (uint8_t)((v) >> 8), app[n++] = (uint8_t)(v)))
#define P32(v) (le ? (P16((v)&0xffff), P16((v) >> 16)) : (P16((v) >> 16), P16((v)&0xffff)))
    app[n++] = le ? 'I' : 'M', app[n++] = le ? 'I' : 'M';
    P16(42);
    P32(8u);
    P16(1);      /* one entry */
    P16(0x0112); /* Orientation */
    P16(3);      /* SHORT */
    P32(1u);
    P16((unsigned)o);
    P16(0);
    P32(0u); /* no next IFD */
#undef P16
#undef P32
    assert_int_equal(n, sizeof app);
    uint8_t *out = malloc(len + n);
    memcpy(out, jpg, 2);
    memcpy(out + 2, app, n);
    memcpy(out + 2 + n, jpg + 2, len - 2);
    *out_len = len + n;
    return out;
}

/* A 32 x 16 image: left half red, right half blue, and a green top-left 8 x 8 corner. */
static void make_pattern(uint8_t *rgb)
{
    for (int y = 0; y < 16; y++) {
        for (int x = 0; x < 32; x++) {
            uint8_t *p = rgb + (y * 32 + x) * 3;
            p[0] = x < 16 ? 220 : 20;
            p[1] = 20;
            p[2] = x < 16 ? 20 : 220;
            if (x < 8 && y < 8)
                p[0] = 20, p[1] = 220, p[2] = 20;
        }
    }
}

/* The colour at (x, y): 'r', 'g', 'b' or '?' */
static char colour_at(const nova_vision_image_t *img, int x, int y)
{
    const uint8_t *p = img->rgb + ((size_t)y * img->width + x) * 3;
    if (p[0] > 150 && p[1] < 80 && p[2] < 80)
        return 'r';
    if (p[1] > 150 && p[0] < 80 && p[2] < 80)
        return 'g';
    if (p[2] > 150 && p[0] < 80 && p[1] < 80)
        return 'b';
    return '?';
}

static void test_jpeg_orientation(void **state)
{
    (void)state;
    uint8_t rgb[32 * 16 * 3];
    make_pattern(rgb);
    size_t len;
    uint8_t *jpg = encode_jpeg(rgb, 32, 16, &len);
    assert_non_null(jpg);
    assert_int_equal(nova_vision_jpeg_orientation(jpg, len), 1);
    /* Where the green corner and the red half end up, per orientation, as a viewer shows it.
     * {w, h, green corner (x, y), a red pixel (x, y), a blue pixel (x, y)} */
    static const struct {
        int o, w, h, gx, gy, rx, ry, bx, by;
    } want[] = {
        {1, 32, 16, 2, 2, 12, 12, 28, 8}, {2, 32, 16, 29, 2, 20, 12, 4, 8},
        {3, 32, 16, 29, 13, 20, 3, 4, 8}, {4, 32, 16, 2, 13, 12, 3, 28, 8},
        {5, 16, 32, 2, 2, 12, 12, 8, 28}, {6, 16, 32, 13, 2, 3, 12, 8, 28},
        {7, 16, 32, 13, 29, 3, 20, 8, 4}, {8, 16, 32, 2, 29, 12, 20, 8, 4},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        for (int le = 0; le < 2; le++) {
            size_t olen;
            uint8_t *o = with_orientation(jpg, len, want[i].o, le, &olen);
            assert_int_equal(nova_vision_jpeg_orientation(o, olen), want[i].o);
            nova_vision_image_t img;
            assert_int_equal(nova_vision_decode_jpeg(o, olen, &img), NOVA_OK);
            assert_int_equal(img.width, want[i].w);
            assert_int_equal(img.height, want[i].h);
            assert_int_equal(colour_at(&img, want[i].gx, want[i].gy), 'g');
            assert_int_equal(colour_at(&img, want[i].rx, want[i].ry), 'r');
            assert_int_equal(colour_at(&img, want[i].bx, want[i].by), 'b');
            nova_vision_image_free(&img);
            free(o);
        }
    }
    free(jpg);
}

static void test_jpeg_refuses(void **state)
{
    (void)state;
    nova_vision_image_t img;
    const uint8_t junk[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0x00, 0x00, 0x12};
    assert_int_equal(nova_vision_decode_jpeg(junk, sizeof junk, &img), NOVA_INVALID);
    assert_null(img.rgb);
    assert_int_equal(nova_vision_decode_jpeg((const uint8_t *)"GIF89a", 6, &img), NOVA_INVALID);
    assert_int_equal(nova_vision_decode_jpeg(NULL, 0, &img), NOVA_INVALID);
    uint8_t rgb[32 * 16 * 3];
    make_pattern(rgb);
    size_t len;
    uint8_t *jpg = encode_jpeg(rgb, 32, 16, &len);
    /* cut inside the headers: refused; the orientation scan stops at the end of the data */
    for (size_t cut = 4; cut < 120 && cut < len; cut += 7)
        assert_int_equal(nova_vision_decode_jpeg(jpg, cut, &img), NOVA_INVALID);
    /* a 20000 x 20000 frame header is refused before any allocation */
    for (size_t p = 2; p + 9 < len; p++) {
        if (jpg[p] == 0xFF && jpg[p + 1] == 0xC0) {
            jpg[p + 5] = jpg[p + 7] = 0x4E;
            jpg[p + 6] = jpg[p + 8] = 0x20;
            break;
        }
    }
    assert_int_equal(nova_vision_decode_jpeg(jpg, len, &img), NOVA_TOO_LARGE);
    free(jpg);
}

/* ---- error-level analysis ---- */

/* A 3x3 box blur of the rectangle (x0, y0, w, h): edges antialiased as rendered text has. */
static void soften(nova_vision_image_t *img, int x0, int y0, int w, int h)
{
    size_t n = (size_t)img->width * img->height * 3;
    uint8_t *src = malloc(n);
    assert_non_null(src);
    memcpy(src, img->rgb, n);
    for (int y = y0 > 0 ? y0 : 1; y < y0 + h && y + 1 < img->height; y++)
        for (int x = x0 > 0 ? x0 : 1; x < x0 + w && x + 1 < img->width; x++)
            for (int c = 0; c < 3; c++) {
                int sum = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                        sum += src[((size_t)(y + dy) * img->width + x + dx) * 3 + c];
                img->rgb[((size_t)y * img->width + x) * 3 + c] = (uint8_t)(sum / 9);
            }
    free(src);
}

/* A synthetic document page: a soft gradient with rows of dark "glyph" strokes. */
static void page(nova_vision_image_t *img, int w, int h, unsigned seed)
{
    img->width = w;
    img->height = h;
    img->rgb = malloc((size_t)w * h * 3);
    assert_non_null(img->rgb);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(200 + x * 30 / w);
            p[1] = (uint8_t)(205 + y * 20 / h);
            p[2] = 190;
        }
    for (int k = 0; k < 900; k++) {
        seed = seed * 1103515245u + 12345u;
        int x0 = (int)(seed >> 8) % (w - 12), y0 = 20 + 30 * ((int)(seed >> 20) % (h / 30 - 1));
        for (int y = y0; y < y0 + 14; y++)
            for (int x = x0; x < x0 + 2 + (int)(seed % 7); x++)
                memset(img->rgb + ((size_t)y * w + x) * 3, 30, 3);
    }
    soften(img, 0, 0, w, h);
}

static nova_vision_image_t jpeg_again(const nova_vision_image_t *src, int quality)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    assert_int_equal(nova_vision_encode_jpeg(src, quality, &buf, &n), NOVA_OK);
    nova_vision_image_t r;
    assert_int_equal(nova_vision_decode_jpeg(buf, n, &r), NOVA_OK);
    free(buf);
    return r;
}

static void reencode(nova_vision_image_t *img, int quality)
{
    nova_vision_image_t r = jpeg_again(img, quality);
    nova_vision_image_free(img);
    *img = r;
}

/* A photo saved at 60, then a box of new text pasted and the whole saved at 95: the box was
 * compressed once, the rest twice, and the largest standing-out region is the box. The same
 * page saved once at 95 has no such region. */
static void test_ela(void **state)
{
    (void)state;
    nova_vision_image_t forged, genuine, other;
    page(&forged, 640, 400, 7);
    reencode(&forged, 60);
    page(&other, 640, 400, 99);
    /* the pasted line: glyph strokes 2 px wide every 3 to 6 px, as printed text has */
    const int bx = 320, by = 140, bw = 160, bh = 64;
    unsigned seed = 5;
    for (int y = by; y < by + bh; y++) {
        uint8_t *row = forged.rgb + ((size_t)y * 640 + bx) * 3;
        for (int x = 0; x < bw; x++)
            row[x * 3] = row[x * 3 + 1] = row[x * 3 + 2] = 215;
    }
    for (int x = bx + 2; x < bx + bw - 4; x += 3 + (int)(seed % 4)) {
        seed = seed * 1103515245u + 12345u;
        for (int y = by + 4 + (int)(seed >> 28); y < by + bh - 4; y++)
            memset(forged.rgb + ((size_t)y * 640 + x) * 3, 25, 6);
    }
    soften(&forged, bx, by, bw, bh);
    reencode(&forged, 95);
    nova_vision_ela_t e;
    assert_int_equal(nova_vision_ela(&forged, 90, &e), NOVA_OK);
    assert_true(e.textured_blocks > 100);
    assert_true(e.region_blocks >= 24);
    /* the region lies on the pasted box */
    assert_true(e.region_x < bx + bw && e.region_x + e.region_w > bx);
    assert_true(e.region_y < by + bh && e.region_y + e.region_h > by);
    assert_true(e.region_x >= bx - 16 && e.region_x + e.region_w <= bx + bw + 16);

    page(&genuine, 640, 400, 7);
    reencode(&genuine, 95);
    nova_vision_ela_t g;
    assert_int_equal(nova_vision_ela(&genuine, 90, &g), NOVA_OK);
    assert_true(g.region_blocks * 2 < e.region_blocks);

    /* too small, or a bad quality: refused */
    nova_vision_image_t tiny = {16, 16, other.rgb};
    assert_int_equal(nova_vision_ela(&tiny, 90, &g), NOVA_INVALID);
    assert_int_equal(nova_vision_ela(&genuine, 0, &g), NOVA_INVALID);
    nova_vision_image_free(&forged);
    nova_vision_image_free(&genuine);
    nova_vision_image_free(&other);
}

/* ---- layers ---- */

static void test_layers_padding(void **state)
{
    (void)state;
    /* 5 x 5 single channel 1..25; 3 x 3 box filter of ones */
    vt_t x, y;
    assert_int_equal(vt_alloc(&x, 5, 5, 1), NOVA_OK);
    for (int i = 0; i < 25; i++)
        x.d[i] = (float)(i + 1);
    float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    vparam_t f = {4, {3, 3, 1, 1}, 9, ones};
    /* SAME stride 2: 3 x 3 outputs, no leading pad (total pad 2 -> 1 before) */
    assert_int_equal(vt_conv2d(&x, &f, NULL, 2, VT_SAME, &y), NOVA_OK);
    assert_int_equal(y.h, 3);
    assert_float_equal(y.d[0], 1 + 2 + 6 + 7, 1e-6); /* window rows -1..1 */
    assert_float_equal(y.d[4], 7 + 8 + 9 + 12 + 13 + 14 + 17 + 18 + 19, 1e-6);
    vt_free(&y);
    /* the depthwise path gives the same numbers */
    assert_int_equal(vt_depthwise(&x, &f, 2, VT_SAME, &y), NOVA_OK);
    assert_float_equal(y.d[4], 117, 1e-6);
    vt_free(&y);
    /* VALID stride 2: ceil((5 - 3 + 1) / 2) = 2 */
    assert_int_equal(vt_conv2d(&x, &f, NULL, 2, VT_VALID, &y), NOVA_OK);
    assert_int_equal(y.h, 2);
    assert_float_equal(y.d[0], 1 + 2 + 3 + 6 + 7 + 8 + 11 + 12 + 13, 1e-6);
    vt_free(&y);
    /* max pool 2, stride 2, SAME on 5: 3 outputs, the last window only the last row/col */
    assert_int_equal(vt_maxpool(&x, 2, 2, VT_SAME, &y), NOVA_OK);
    assert_int_equal(y.h, 3);
    assert_float_equal(y.d[8], 25, 1e-6);
    assert_float_equal(y.d[2], 10, 1e-6);
    vt_free(&y);
    /* average pool 2, VALID: 2 outputs */
    assert_int_equal(vt_avgpool(&x, 2, 2, &y), NOVA_OK);
    assert_int_equal(y.h, 2);
    assert_float_equal(y.d[0], (1 + 2 + 6 + 7) / 4.0, 1e-6);
    vt_free(&y);
    /* leaky: 0.1 x below zero */
    x.d[0] = -2.0f;
    vt_leaky(&x);
    assert_float_equal(x.d[0], -0.2, 1e-6);
    assert_float_equal(x.d[1], 2, 1e-6);
    /* resize 5 -> 2 without aligned corners samples rows 0 and 2.5 */
    assert_int_equal(vt_resize_bilinear(&x, 2, 2, &y), NOVA_OK);
    assert_float_equal(y.d[3], (13 + 14 + 18 + 19) / 4.0, 1e-5);
    vt_free(&y);
    /* centred square padding puts the larger half after */
    vt_t r;
    assert_int_equal(vt_alloc(&r, 2, 5, 1), NOVA_OK);
    for (int i = 0; i < 10; i++)
        r.d[i] = 1;
    assert_int_equal(vt_pad_square(&r, 1, &y), NOVA_OK);
    assert_int_equal(y.h, 5);
    assert_float_equal(y.d[0], 0, 0);  /* row 0: before */
    assert_float_equal(y.d[5], 1, 0);  /* rows 1, 2: image */
    assert_float_equal(y.d[15], 0, 0); /* rows 3, 4: after */
    vt_free(&y);
    vt_free(&r);
    vt_free(&x);
}

/* ---- fidelity ---- */

static double iou(const nova_vision_box_t *a, double x, double y, double w, double h)
{
    double iw = fmax(0, fmin(a->x + a->w, x + w) - fmax(a->x, x));
    double ih = fmax(0, fmin(a->y + a->h, y + h) - fmax(a->y, y));
    double inter = iw * ih;
    return inter / (a->w * a->h + w * h - inter);
}

/* Every face of fixture (made by tools/face_reference.js with detector det) against the
 * engine's: same count per image, box IoU >= 0.95, every landmark within 1 px, descriptor L2
 * difference < 1e-3. */
static void fidelity(const char *fixture, nova_vision_detector det)
{
    json_error_t jerr;
    json_t *ref = json_load_file(fixture, 0, &jerr);
    assert_non_null(ref);
    json_t *images = json_object_get(ref, "images");
    size_t ii, faces_checked = 0;
    json_t *im;
    double worst_iou = 1, worst_lm = 0, worst_desc = 0, worst_score = 0;
    json_array_foreach(images, ii, im)
    {
        char path[512];
        snprintf(path, sizeof path, SAMPLES "%s", json_string_value(json_object_get(im, "file")));
        size_t len;
        uint8_t *jpg = read_file(path, &len);
        if (!jpg)
            fail_msg("missing %s: run scripts/models.sh", path);
        nova_vision_image_t img;
        assert_int_equal(nova_vision_decode_jpeg(jpg, len, &img), NOVA_OK);
        free(jpg);
        assert_int_equal(img.width, json_integer_value(json_object_get(im, "width")));
        assert_int_equal(img.height, json_integer_value(json_object_get(im, "height")));
        nova_vision_detect_opts_t opts = {
            .input_size = 416, .score_threshold = 0.5, .describe = 1, .detector = det};
        nova_vision_face_t *faces;
        size_t n;
        assert_int_equal(nova_vision_detect(model, &img, &opts, &faces, &n), NOVA_OK);
        json_t *rfaces = json_object_get(im, "faces");
        assert_int_equal(n, json_array_size(rfaces));
        size_t fi;
        json_t *rf;
        json_array_foreach(rfaces, fi, rf)
        {
            json_t *b = json_object_get(rf, "box");
            double bx = json_number_value(json_object_get(b, "x"));
            double by = json_number_value(json_object_get(b, "y"));
            double bw = json_number_value(json_object_get(b, "w"));
            double bh = json_number_value(json_object_get(b, "h"));
            size_t best = 0;
            double best_iou = -1;
            for (size_t k = 0; k < n; k++) {
                double v = iou(&faces[k].box, bx, by, bw, bh);
                if (v > best_iou)
                    best_iou = v, best = k;
            }
            const nova_vision_face_t *f = &faces[best];
            double lm = 0, d2 = 0;
            json_t *pts = json_object_get(rf, "landmarks");
            for (int p = 0; p < NOVA_VISION_LANDMARKS; p++) {
                json_t *pt = json_array_get(pts, (size_t)p);
                double dx = f->landmarks[p].x - json_number_value(json_array_get(pt, 0));
                double dy = f->landmarks[p].y - json_number_value(json_array_get(pt, 1));
                lm = fmax(lm, sqrt(dx * dx + dy * dy));
            }
            json_t *desc = json_object_get(rf, "descriptor");
            assert_int_equal(json_array_size(desc), NOVA_VISION_DESCRIPTOR);
            assert_true(f->has_descriptor);
            for (int k = 0; k < NOVA_VISION_DESCRIPTOR; k++) {
                double d = f->descriptor[k] - json_number_value(json_array_get(desc, (size_t)k));
                d2 += d * d;
            }
            double score_d = fabs(f->score - json_number_value(json_object_get(rf, "score")));
            print_message("  %s face %zu: IoU %.6f, landmarks %.4f px, descriptor L2 %.2e, "
                          "score diff %.1e\n",
                          json_string_value(json_object_get(im, "file")), fi, best_iou, lm,
                          sqrt(d2), score_d);
            worst_iou = fmin(worst_iou, best_iou);
            worst_lm = fmax(worst_lm, lm);
            worst_desc = fmax(worst_desc, sqrt(d2));
            worst_score = fmax(worst_score, score_d);
            assert_true(best_iou >= 0.95);
            assert_true(lm < 1.0);
            assert_true(sqrt(d2) < 1e-3);
            faces_checked++;
        }
        free(faces);
        nova_vision_image_free(&img);
    }
    print_message("fidelity (%s): %zu faces, worst IoU %.6f, worst landmark %.4f px, worst "
                  "descriptor L2 %.2e, worst score diff %.1e\n",
                  det == NOVA_VISION_SSD ? "ssd" : "tiny", faces_checked, worst_iou, worst_lm,
                  worst_desc, worst_score);
    assert_true(faces_checked >= 10);
    json_decref(ref);
}

static void test_fidelity(void **state)
{
    (void)state;
    fidelity(REFERENCE, NOVA_VISION_TINY);
}

static void test_fidelity_ssd(void **state)
{
    (void)state;
    fidelity(REFERENCE_SSD, NOVA_VISION_SSD);
}

/* ---- face match check ---- */

static nova_vision_image_t img_new(int w, int h)
{
    nova_vision_image_t r = {w, h, calloc((size_t)w * h * 3, 1)};
    assert_non_null(r.rgb);
    return r;
}

/* Bilinear sample of channel c at (x, y), clamped at the borders. */
static double sample(const nova_vision_image_t *im, double x, double y, int c)
{
    x = fmin(fmax(x, 0), im->width - 1);
    y = fmin(fmax(y, 0), im->height - 1);
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < im->width ? x0 + 1 : x0, y1 = y0 + 1 < im->height ? y0 + 1 : y0;
    double fx = x - x0, fy = y - y0;
#define PX(a, b) im->rgb[((size_t)(b)*im->width + (a)) * 3 + c]
    double top = PX(x0, y0) + (PX(x1, y0) - PX(x0, y0)) * fx;
    double bot = PX(x0, y1) + (PX(x1, y1) - PX(x0, y1)) * fx;
#undef PX
    return top + (bot - top) * fy;
}

static uint8_t clamp8(double v)
{
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)lround(v);
}

/* The w x h region at (x, y) of src, scaled by s, rotated by deg about its centre, its
 * intensities times gain. */
static nova_vision_image_t warp(const nova_vision_image_t *src, double x, double y, double w,
                                double h, double s, double deg, double gain)
{
    int ow = (int)lround(w * s), oh = (int)lround(h * s);
    nova_vision_image_t r = img_new(ow, oh);
    double a = deg * M_PI / 180, ca = cos(a), sa = sin(a);
    for (int j = 0; j < oh; j++) {
        for (int i = 0; i < ow; i++) {
            double u = (i + 0.5) / s - w / 2, v = (j + 0.5) / s - h / 2;
            double sx = x + w / 2 + ca * u - sa * v - 0.5, sy = y + h / 2 + sa * u + ca * v - 0.5;
            for (int c = 0; c < 3; c++)
                r.rgb[((size_t)j * ow + i) * 3 + c] = clamp8(sample(src, sx, sy, c) * gain);
        }
    }
    return r;
}

static nova_vision_image_t box_blur(const nova_vision_image_t *src, int rad)
{
    nova_vision_image_t r = img_new(src->width, src->height);
    for (int y = 0; y < src->height; y++) {
        for (int x = 0; x < src->width; x++) {
            for (int c = 0; c < 3; c++) {
                int sum = 0, n = 0;
                for (int dy = -rad; dy <= rad; dy++) {
                    for (int dx = -rad; dx <= rad; dx++) {
                        int xx = x + dx, yy = y + dy;
                        if (xx < 0 || yy < 0 || xx >= src->width || yy >= src->height)
                            continue;
                        sum += src->rgb[((size_t)yy * src->width + xx) * 3 + c];
                        n++;
                    }
                }
                r.rgb[((size_t)y * src->width + x) * 3 + c] = (uint8_t)(sum / n);
            }
        }
    }
    return r;
}

#define MAX_PORTRAITS 32

/* One portrait per reference face: the face's box grown to 1.6 x its size (clipped), so
 * that group photos give close-ups of 20 different people. */
static size_t portraits(nova_vision_image_t *out)
{
    json_error_t jerr;
    json_t *ref = json_load_file(REFERENCE, 0, &jerr);
    assert_non_null(ref);
    size_t n = 0, ii, fi;
    json_t *im, *rf;
    json_array_foreach(json_object_get(ref, "images"), ii, im)
    {
        char path[512];
        snprintf(path, sizeof path, SAMPLES "%s", json_string_value(json_object_get(im, "file")));
        size_t len;
        uint8_t *jpg = read_file(path, &len);
        assert_non_null(jpg);
        nova_vision_image_t img;
        assert_int_equal(nova_vision_decode_jpeg(jpg, len, &img), NOVA_OK);
        free(jpg);
        json_array_foreach(json_object_get(im, "faces"), fi, rf)
        {
            json_t *b = json_object_get(rf, "box");
            double w = json_number_value(json_object_get(b, "w"));
            double h = json_number_value(json_object_get(b, "h"));
            double cx = json_number_value(json_object_get(b, "x")) + w / 2;
            double cy = json_number_value(json_object_get(b, "y")) + h / 2;
            double side = fmax(w, h) * 1.6;
            double x0 = fmax(0, cx - side / 2), y0 = fmax(0, cy - side / 2);
            double x1 = fmin(img.width, cx + side / 2), y1 = fmin(img.height, cy + side / 2);
            if (n < MAX_PORTRAITS)
                out[n++] = warp(&img, x0, y0, x1 - x0, y1 - y0, 1, 0, 1);
        }
        nova_vision_image_free(&img);
    }
    json_decref(ref);
    return n;
}

/* Same person: each portrait against six variants of itself (another crop, half scale,
 * darker, brighter, rotated 8 degrees, JPEG quality 40). Different people: every pair of
 * portraits. False non-match and false match rates at the default thresholds; a variant that
 * lands in review counts as neither. */
static void test_match_rates(void **state)
{
    (void)state;
    nova_vision_image_t p[MAX_PORTRAITS];
    size_t n = portraits(p);
    assert_true(n >= 10);
    size_t same = 0, same_match = 0, same_review = 0, diff = 0, diff_match = 0, diff_review = 0;
    double same_max = 0, diff_min = 10;
    for (size_t i = 0; i < n; i++) {
        const nova_vision_image_t *im = &p[i];
        double w = im->width, h = im->height;
        nova_vision_image_t v[6] = {
            warp(im, w * 0.08, h * 0.05, w * 0.86, h * 0.9, 1, 0, 1),
            warp(im, 0, 0, w, h, 0.5, 0, 1),
            warp(im, 0, 0, w, h, 1, 0, 0.6),
            warp(im, 0, 0, w, h, 1, 0, 1.3),
            warp(im, 0, 0, w, h, 1, 8, 1),
            jpeg_again(im, 40),
        };
        for (int k = 0; k < 6; k++) {
            nova_vision_match_t r;
            assert_int_equal(nova_vision_match(model, im, &v[k], NULL, &r), NOVA_OK);
            if (r.distance < 0)
                print_message("  portrait %zu (%dx%d) variant %d (%dx%d): no face\n", i, im->width,
                              im->height, k, v[k].width, v[k].height);
            same++;
            same_match += r.decision == NOVA_VISION_MATCH;
            same_review += r.decision == NOVA_VISION_REVIEW;
            same_max = fmax(same_max, r.distance);
            if (r.distance > 0.45)
                print_message("  same person %zu variant %d: distance %.3f reasons 0x%x\n", i, k,
                              r.distance, r.reasons);
            nova_vision_image_free(&v[k]);
        }
    }
    /* Different people: each portrait described once (its largest face), every pair decided
     * by the same thresholds nova_vision_match applies. */
    float desc[MAX_PORTRAITS][NOVA_VISION_DESCRIPTOR];
    for (size_t i = 0; i < n; i++) {
        nova_vision_match_t r;
        assert_int_equal(nova_vision_match(model, &p[i], &p[i], NULL, &r), NOVA_OK);
        assert_true(r.distance >= 0 && r.distance < 1e-6);
        memcpy(desc[i], r.selfie.face.descriptor, sizeof desc[i]);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            double dd = nova_vision_distance(desc[i], desc[j]);
            diff++;
            diff_match += dd <= 0.45;
            diff_review += dd > 0.45 && dd <= 0.55;
            diff_min = fmin(diff_min, dd);
            if (dd <= 0.55)
                print_message("  different %zu/%zu: distance %.3f\n", i, j, dd);
        }
    }
    double fnmr = (double)(same - same_match - same_review) / same;
    double fmr = (double)diff_match / diff;
    print_message("match rates: %zu same-person pairs: %zu match, %zu review, FNMR %.4f, max "
                  "distance %.3f; %zu different-person pairs: %zu match, %zu review, FMR %.4f, "
                  "min distance %.3f\n",
                  same, same_match, same_review, fnmr, same_max, diff, diff_match, diff_review, fmr,
                  diff_min);
    assert_true(fnmr <= 0.05);
    assert_true(fmr <= 0.01);
    for (size_t i = 0; i < n; i++)
        nova_vision_image_free(&p[i]);
}

/* Eye aspect ratio from landmarks: open eyes (height a third of the width) and closed ones. */
static void test_eye_ratio(void **state)
{
    (void)state;
    nova_vision_face_t f = {0};
    nova_vision_image_t img = img_new(8, 8);
    for (int e = 0; e < 2; e++) {
        nova_vision_point_t *p = f.landmarks + 36 + 6 * e;
        double x0 = 10 + 40 * e;
        /* corners, two upper lid points, corner, two lower lid points (dlib order) */
        p[0] = (nova_vision_point_t){x0, 20};
        p[1] = (nova_vision_point_t){x0 + 10, 15};
        p[2] = (nova_vision_point_t){x0 + 20, 15};
        p[3] = (nova_vision_point_t){x0 + 30, 20};
        p[4] = (nova_vision_point_t){x0 + 20, 25};
        p[5] = (nova_vision_point_t){x0 + 10, 25};
    }
    double ear, sharp, bright;
    assert_int_equal(nova_vision_face_quality(&img, &f, &ear, &sharp, &bright), NOVA_OK);
    assert_float_equal(ear, 10.0 / 30.0, 1e-9);
    for (int i = 36; i < 48; i++)
        f.landmarks[i].y = 20;
    assert_int_equal(nova_vision_face_quality(&img, &f, &ear, &sharp, &bright), NOVA_OK);
    assert_true(ear < 0.15);
    nova_vision_image_free(&img);
}

/* The JSON shapes novactl and the API print. */
static void test_json(void **state)
{
    (void)state;
    nova_vision_face_t f = {.box = {10.004, 20.5, 30.25, 40.125}, .score = 0.87654321};
    for (int i = 0; i < NOVA_VISION_LANDMARKS; i++)
        f.landmarks[i] = (nova_vision_point_t){i + 0.123, i * 2 + 0.5};
    for (int i = 0; i < NOVA_VISION_DESCRIPTOR; i++)
        f.descriptor[i] = (float)i / 256;
    f.has_descriptor = 1;
    json_t *o = nova_vision_face_json(&f, NOVA_VISION_JSON_LANDMARKS);
    assert_non_null(o);
    assert_float_equal(json_real_value(json_object_get(json_object_get(o, "box"), "x")), 10.0,
                       1e-9);
    assert_float_equal(json_real_value(json_object_get(o, "score")), 0.876543, 1e-9);
    assert_int_equal(json_array_size(json_object_get(o, "landmarks")), 68);
    json_t *last = json_array_get(json_object_get(o, "landmarks"), 67);
    assert_float_equal(json_real_value(json_array_get(last, 1)), 134.5, 1e-9);
    assert_null(json_object_get(o, "descriptor"));
    json_decref(o);
    o = nova_vision_face_json(&f, NOVA_VISION_JSON_DESCRIPTOR);
    assert_null(json_object_get(o, "landmarks"));
    json_t *d = json_object_get(o, "descriptor");
    assert_int_equal(json_array_size(d), 128);
    assert_float_equal(json_real_value(json_array_get(d, 127)), 127.0 / 256, 0);
    json_decref(o);
    /* a match without a comparison: null distance, the reason names, per-image faces */
    nova_vision_match_t r = {.decision = NOVA_VISION_NO_MATCH,
                             .distance = -1,
                             .reasons = NOVA_VISION_NO_FACE | NOVA_VISION_TOO_DARK};
    r.document.faces = 1;
    r.document.face = f;
    r.document.reasons = NOVA_VISION_TOO_DARK;
    r.document.brightness = 12.345;
    r.selfie.reasons = NOVA_VISION_NO_FACE;
    o = nova_vision_match_json(&r);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "decision")), "no_match");
    assert_true(json_is_null(json_object_get(o, "distance")));
    json_t *reasons = json_object_get(o, "reasons");
    assert_int_equal(json_array_size(reasons), 2);
    assert_string_equal(json_string_value(json_array_get(reasons, 0)), "no_face");
    assert_string_equal(json_string_value(json_array_get(reasons, 1)), "too_dark");
    json_t *doc = json_object_get(o, "document"), *sel = json_object_get(o, "selfie");
    assert_int_equal(json_integer_value(json_object_get(doc, "faces")), 1);
    assert_float_equal(json_real_value(json_object_get(doc, "brightness")), 12.35, 1e-9);
    assert_non_null(json_object_get(doc, "box"));
    assert_int_equal(json_integer_value(json_object_get(sel, "faces")), 0);
    assert_null(json_object_get(sel, "box"));
    json_decref(o);
}

/* Each reason code from an image made to have it. */
static void test_match_reasons(void **state)
{
    (void)state;
    nova_vision_image_t p[MAX_PORTRAITS];
    size_t n = portraits(p);
    nova_vision_match_t r;
    /* no face: a flat grey picture */
    nova_vision_image_t grey = img_new(320, 240);
    memset(grey.rgb, 128, (size_t)320 * 240 * 3);
    assert_int_equal(nova_vision_match(model, &p[0], &grey, NULL, &r), NOVA_OK);
    assert_int_equal(r.decision, NOVA_VISION_NO_MATCH);
    assert_int_equal(r.reasons, NOVA_VISION_NO_FACE);
    assert_true(r.distance < 0);
    assert_int_equal(r.selfie.faces, 0);
    /* blurred */
    nova_vision_image_t b = box_blur(&p[0], 5);
    assert_int_equal(nova_vision_match(model, &p[0], &b, NULL, &r), NOVA_OK);
    print_message("  blurred: sharpness %.1f (original %.1f), distance %.3f\n", r.selfie.sharpness,
                  r.document.sharpness, r.distance);
    assert_true(r.selfie.reasons & NOVA_VISION_BLURRED);
    assert_false(r.document.reasons & NOVA_VISION_BLURRED);
    assert_int_not_equal(r.decision, NOVA_VISION_MATCH);
    /* too dark */
    nova_vision_image_t d = warp(&p[1], 0, 0, p[1].width, p[1].height, 1, 0, 0.12);
    assert_int_equal(nova_vision_match(model, &p[1], &d, NULL, &r), NOVA_OK);
    print_message("  dark: brightness %.1f (original %.1f), distance %.3f, faces %zu\n",
                  r.selfie.brightness, r.document.brightness, r.distance, r.selfie.faces);
    assert_true(r.selfie.reasons & (NOVA_VISION_TOO_DARK | NOVA_VISION_NO_FACE));
    assert_int_not_equal(r.decision, NOVA_VISION_MATCH);
    /* too small: the portrait at a scale that leaves the face under 64 px */
    double s = 50.0 / fmax(p[2].width / 1.6, p[2].height / 1.6);
    nova_vision_image_t sm = warp(&p[2], 0, 0, p[2].width, p[2].height, s, 0, 1);
    assert_int_equal(nova_vision_match(model, &p[2], &sm, NULL, &r), NOVA_OK);
    print_message("  small: %dx%d, faces %zu, box %.0fx%.0f, distance %.3f\n", sm.width, sm.height,
                  r.selfie.faces, r.selfie.face.box.w, r.selfie.face.box.h, r.distance);
    assert_true(r.selfie.reasons & (NOVA_VISION_FACE_TOO_SMALL | NOVA_VISION_NO_FACE));
    assert_int_not_equal(r.decision, NOVA_VISION_MATCH);
    /* several faces: two portraits side by side */
    nova_vision_image_t two =
        img_new(p[3].width + p[4].width, p[3].height > p[4].height ? p[3].height : p[4].height);
    for (int y = 0; y < p[3].height; y++)
        memcpy(two.rgb + (size_t)y * two.width * 3, p[3].rgb + (size_t)y * p[3].width * 3,
               (size_t)p[3].width * 3);
    for (int y = 0; y < p[4].height; y++)
        memcpy(two.rgb + ((size_t)y * two.width + p[3].width) * 3,
               p[4].rgb + (size_t)y * p[4].width * 3, (size_t)p[4].width * 3);
    assert_int_equal(nova_vision_match(model, &p[3], &two, NULL, &r), NOVA_OK);
    print_message("  two faces: faces %zu, distance %.3f\n", r.selfie.faces, r.distance);
    assert_true(r.selfie.reasons & NOVA_VISION_SEVERAL_FACES);
    assert_int_not_equal(r.decision, NOVA_VISION_MATCH);
    /* thresholds: a tight match_max turns the same face into review, then no_match */
    nova_vision_image_t j = jpeg_again(&p[5], 60);
    nova_vision_match_opts_t o = {0};
    assert_int_equal(nova_vision_match(model, &p[5], &j, &o, &r), NOVA_OK);
    assert_int_equal(r.decision, NOVA_VISION_MATCH);
    assert_int_equal(r.reasons, 0);
    assert_true(fabs(r.similarity - (1 - r.distance)) < 1e-12);
    o.match_max = r.distance / 2;
    o.review_max = r.distance * 2;
    assert_int_equal(nova_vision_match(model, &p[5], &j, &o, &r), NOVA_OK);
    assert_int_equal(r.decision, NOVA_VISION_REVIEW);
    o.review_max = r.distance * 0.75;
    assert_int_equal(nova_vision_match(model, &p[5], &j, &o, &r), NOVA_OK);
    assert_int_equal(r.decision, NOVA_VISION_NO_MATCH);
    o.review_max = o.match_max / 2;
    assert_int_equal(nova_vision_match(model, &p[5], &j, &o, &r), NOVA_INVALID);
    assert_string_equal(nova_vision_reason_name(NOVA_VISION_EYES_CLOSED), "eyes_closed");
    assert_null(nova_vision_reason_name(3));
    assert_string_equal(nova_vision_decision_name(NOVA_VISION_REVIEW), "review");
    nova_vision_image_free(&j);
    nova_vision_image_free(&two);
    nova_vision_image_free(&sm);
    nova_vision_image_free(&d);
    nova_vision_image_free(&b);
    nova_vision_image_free(&grey);
    for (size_t i = 0; i < n; i++)
        nova_vision_image_free(&p[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_missing),
        cmocka_unit_test(test_model_corrupt),
        cmocka_unit_test(test_jpeg_orientation),
        cmocka_unit_test(test_jpeg_refuses),
        cmocka_unit_test(test_ela),
        cmocka_unit_test(test_layers_padding),
        cmocka_unit_test(test_fidelity),
        cmocka_unit_test(test_fidelity_ssd),
        cmocka_unit_test(test_match_rates),
        cmocka_unit_test(test_match_reasons),
        cmocka_unit_test(test_eye_ratio),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, setup_model, teardown_model);
}
