/* face-api's TinyFaceDetector: a tiny-YOLOv2 with depthwise-separable convolutions, 13 x 13
 * cells x 5 anchors at input 416, leaky ReLU, then sigmoid/exp box decoding and greedy
 * non-maximum suppression at IoU 0.4 (TinyYolov2Base.ts). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static const double ANCHORS[5][2] = {
    {1.603231, 2.094468}, {6.041143, 7.080126}, {2.882459, 3.518061},
    {4.266906, 5.178857}, {9.041765, 10.66308},
};
static const float MEAN_RGB[3] = {117.001f, 114.697f, 97.404f};
#define IOU_THRESHOLD 0.4

static nova_status bind(nova_vision_model_t *m, vparam_t *p, const char *name, int ndim)
{
    char full[VM_NAME];
    snprintf(full, sizeof full, "tiny/%s", name);
    const vparam_t *f = vm_find(m, full, ndim);
    if (!f)
        return NOVA_INVALID;
    *p = *f;
    return NOVA_OK;
}

nova_status tiny_bind(nova_vision_model_t *m)
{
    tiny_net_t *n = &m->tiny;
    nova_status st = bind(m, &n->conv0_f, "conv0/filters", 4);
    st = st ? st : bind(m, &n->conv0_b, "conv0/bias", 1);
    for (int i = 0; i < 5 && st == NOVA_OK; i++) {
        char name[64];
        snprintf(name, sizeof name, "conv%d/depthwise_filter", i + 1);
        st = bind(m, &n->dw[i], name, 4);
        snprintf(name, sizeof name, "conv%d/pointwise_filter", i + 1);
        st = st ? st : bind(m, &n->pw[i], name, 4);
        snprintf(name, sizeof name, "conv%d/bias", i + 1);
        st = st ? st : bind(m, &n->b[i], name, 1);
    }
    st = st ? st : bind(m, &n->conv8_f, "conv8/filters", 4);
    st = st ? st : bind(m, &n->conv8_b, "conv8/bias", 1);
    if (st == NOVA_OK && (n->conv8_f.shape[3] != 25 || n->conv0_f.shape[2] != 3))
        st = NOVA_INVALID;
    for (int i = 0; i < 5 && st == NOVA_OK; i++) /* forward() relies on 3 x 3 depthwise */
        if (n->dw[i].shape[0] != 3 || n->dw[i].shape[1] != 3)
            st = NOVA_INVALID;
    return st;
}

/* x := layer(x); frees the old x. */
#define STEP(call)                                                                                 \
    do {                                                                                           \
        vt_t y_;                                                                                   \
        st = (call);                                                                               \
        vt_free(&x);                                                                               \
        if (st != NOVA_OK)                                                                         \
            goto end;                                                                              \
        x = y_;                                                                                    \
    } while (0)

static nova_status forward(const tiny_net_t *n, const nova_vision_image_t *img, int size, vt_t *out)
{
    vt_t x = {0};
    nova_status st = vt_square_from_image(img, 0, 0, img->width, img->height, 0, size, &x);
    if (st != NOVA_OK)
        return st;
    vt_normalize(&x, MEAN_RGB);
    STEP(vt_conv2d_act(&x, &n->conv0_f, &n->conv0_b, 1, VT_VALID, VT_LEAKY, &y_));
    for (int i = 0; i < 5; i++) {
        STEP(vt_maxpool(&x, 2, 2, VT_SAME, &y_));
        /* depthwiseSeparableConv (tinyYolov2): pad 1 then separable VALID, which for a 3 x 3
         * filter at stride 1 is SAME; bias, leaky */
        STEP(vt_depthwise(&x, &n->dw[i], 1, VT_SAME, &y_));
        STEP(vt_conv2d_act(&x, &n->pw[i], &n->b[i], 1, VT_VALID, VT_LEAKY, &y_));
    }
    STEP(vt_maxpool(&x, 2, 1, VT_SAME, &y_));
    STEP(vt_conv2d(&x, &n->conv8_f, &n->conv8_b, 1, VT_VALID, &y_));
    *out = x;
    return NOVA_OK;
end:
    return st;
}

static double sigmoid(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

static double box_iou(const tiny_box_t *a, const tiny_box_t *b)
{
    double w = fmax(0.0, fmin(a->x + a->w, b->x + b->w) - fmax(a->x, b->x));
    double h = fmax(0.0, fmin(a->y + a->h, b->y + b->h) - fmax(a->y, b->y));
    double inter = w * h;
    return inter / (a->w * a->h + b->w * b->h - inter);
}

nova_status tiny_detect(const tiny_net_t *net, const nova_vision_image_t *img, int input_size,
                        double threshold, tiny_box_t **boxes, size_t *n)
{
    *boxes = NULL;
    *n = 0;
    vt_t out = {0};
    nova_status st = forward(net, img, input_size, &out);
    if (st != NOVA_OK)
        return st;
    int cells = out.h;
    /* computeReshapedDimensions: the image's size inside the square input, rounded. */
    double scale = (double)input_size / (img->width > img->height ? img->width : img->height);
    double rw = round(img->width * scale), rh = round(img->height * scale);
    double cfx = input_size / rw, cfy = input_size / rh;
    size_t cap = (size_t)cells * cells * 5, count = 0;
    tiny_box_t *cand = malloc(cap * sizeof *cand);
    if (!cand) {
        vt_free(&out);
        return NOVA_NOMEM;
    }
    for (int row = 0; row < cells; row++) {
        for (int col = 0; col < cells; col++) {
            for (int a = 0; a < 5; a++) {
                const float *v = out.d + ((size_t)row * cells + col) * 25 + a * 5;
                double score = sigmoid(v[4]);
                if (!(score > threshold))
                    continue;
                double cx = ((col + sigmoid(v[0])) / cells) * cfx;
                double cy = ((row + sigmoid(v[1])) / cells) * cfy;
                double w = ((exp(v[2]) * ANCHORS[a][0]) / cells) * cfx;
                double h = ((exp(v[3]) * ANCHORS[a][1]) / cells) * cfy;
                double x = cx - w / 2, y = cy - h / 2;
                /* BoundingBox(x, y, x + w, y + h): width is right - left */
                cand[count++] = (tiny_box_t){x, y, (x + w) - x, (y + h) - y, score, 0};
            }
        }
    }
    vt_free(&out);
    /* nonMaxSuppression: stable ascending sort by score, pop the best, drop boxes over the
     * IoU threshold (computed on boxes rescaled to the input size). */
    size_t *order = malloc((count ? count : 1) * sizeof *order);
    tiny_box_t *kept = malloc((count ? count : 1) * sizeof *kept);
    if (!order || !kept) {
        free(order);
        free(kept);
        free(cand);
        return NOVA_NOMEM;
    }
    for (size_t i = 0; i < count; i++)
        order[i] = i;
    for (size_t i = 1; i < count; i++) { /* insertion sort: stable, count is small */
        size_t v = order[i], j = i;
        while (j > 0 && cand[order[j - 1]].score > cand[v].score) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    size_t left = count, nk = 0;
    while (left > 0) {
        size_t cur = order[--left];
        kept[nk++] = cand[cur];
        tiny_box_t a = cand[cur];
        a.x *= input_size, a.y *= input_size, a.w *= input_size, a.h *= input_size;
        size_t w = 0;
        for (size_t i = 0; i < left; i++) {
            tiny_box_t b = cand[order[i]];
            b.x *= input_size, b.y *= input_size, b.w *= input_size, b.h *= input_size;
            if (box_iou(&a, &b) <= IOU_THRESHOLD)
                order[w++] = order[i];
        }
        left = w;
    }
    free(order);
    free(cand);
    *boxes = kept;
    *n = nk;
    return NOVA_OK;
}
