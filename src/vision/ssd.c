/* face-api's SsdMobilenetv1: MobileNet v1 (depthwise + batch norm + ReLU6, pointwise + offset +
 * ReLU6) on a 512 x 512 input scaled to [-1, 1], six box predictors over feature maps of 32,
 * 16, 8, 4, 2 and 1 cells (5118 anchors), box decoding against the stored anchors (extra_dim)
 * and face-api's greedy non-maximum suppression at IoU 0.5 (src/ssdMobilenetv1). Better than
 * the tiny detector on close-ups and small faces, about 3x its cost. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define INPUT 512
#define ANCHORS 5118
#define BN_EPSILON 0.0010000000474974513
#define IOU_THRESHOLD 0.5
#define MAX_RESULTS 100

static nova_status bind(nova_vision_model_t *m, vparam_t *p, const char *name, int ndim)
{
    char full[VM_NAME + 96];
    snprintf(full, sizeof full, "ssd/%s", name);
    const vparam_t *f = vm_find(m, full, ndim);
    if (!f)
        return NOVA_INVALID;
    *p = *f;
    return NOVA_OK;
}

nova_status ssd_bind(nova_vision_model_t *m)
{
    ssd_net_t *n = &m->ssd;
    char name[96];
    nova_status st = bind(m, &n->conv0_f, "MobilenetV1/Conv2d_0_pointwise/weights", 4);
    st = st ? st : bind(m, &n->conv0_b, "MobilenetV1/Conv2d_0_pointwise/convolution_bn_offset", 1);
    for (int i = 1; i <= 13 && st == NOVA_OK; i++) {
        ssd_pair_t *p = &n->pair[i - 1];
        static const char *const bn[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
        vparam_t *bnp[4] = {&p->gamma, &p->beta, &p->mean, &p->var};
        snprintf(name, sizeof name, "MobilenetV1/Conv2d_%d_depthwise/depthwise_weights", i);
        st = bind(m, &p->dw, name, 4);
        for (int k = 0; k < 4 && st == NOVA_OK; k++) {
            snprintf(name, sizeof name, "MobilenetV1/Conv2d_%d_depthwise/BatchNorm/%s", i, bn[k]);
            st = bind(m, bnp[k], name, 1);
        }
        snprintf(name, sizeof name, "MobilenetV1/Conv2d_%d_pointwise/weights", i);
        st = st ? st : bind(m, &p->pw, name, 4);
        snprintf(name, sizeof name, "MobilenetV1/Conv2d_%d_pointwise/convolution_bn_offset", i);
        st = st ? st : bind(m, &p->pw_b, name, 1);
    }
    for (int i = 0; i < 8 && st == NOVA_OK; i++) {
        snprintf(name, sizeof name, "Prediction/Conv2d_%d_pointwise/weights", i);
        st = bind(m, &n->pred_f[i], name, 4);
        snprintf(name, sizeof name, "Prediction/Conv2d_%d_pointwise/convolution_bn_offset", i);
        st = st ? st : bind(m, &n->pred_b[i], name, 1);
    }
    for (int i = 0; i < 6 && st == NOVA_OK; i++) {
        snprintf(name, sizeof name, "Prediction/BoxPredictor_%d/BoxEncodingPredictor/weights", i);
        st = bind(m, &n->box_f[i], name, 4);
        snprintf(name, sizeof name, "Prediction/BoxPredictor_%d/BoxEncodingPredictor/biases", i);
        st = st ? st : bind(m, &n->box_b[i], name, 1);
        snprintf(name, sizeof name, "Prediction/BoxPredictor_%d/ClassPredictor/weights", i);
        st = st ? st : bind(m, &n->cls_f[i], name, 4);
        snprintf(name, sizeof name, "Prediction/BoxPredictor_%d/ClassPredictor/biases", i);
        st = st ? st : bind(m, &n->cls_b[i], name, 1);
        if (st == NOVA_OK && n->box_f[i].shape[3] * 3 != n->cls_f[i].shape[3] * 4)
            st = NOVA_INVALID;
    }
    st = st ? st : bind(m, &n->anchors, "Output/extra_dim", 3);
    if (st == NOVA_OK && (n->anchors.shape[1] != ANCHORS || n->anchors.shape[2] != 4))
        st = NOVA_INVALID;
    return st;
}

/* tfjs batchNorm then clipByValue(0, 6): off + (x - mean) * scale / sqrt(var + eps), in double. */
static nova_status bn_relu6(vt_t *x, const ssd_pair_t *p)
{
    size_t px = (size_t)x->h * x->w;
    int c = x->c;
    double *sd = malloc((size_t)c * 3 * sizeof(double)), *mean = sd + c, *gamma = sd + 2 * c;
    if (!sd)
        return NOVA_NOMEM;
    for (int ch = 0; ch < c; ch++) {
        sd[ch] = sqrt((double)p->var.d[ch] + BN_EPSILON); /* the same double every element */
        mean[ch] = p->mean.d[ch];
        gamma[ch] = p->gamma.d[ch];
    }
    for (size_t i = 0; i < px; i++) {
        float *v = x->d + i * c;
        for (int ch = 0; ch < c; ch++) {
            float r = (float)(p->beta.d[ch] + ((double)v[ch] - mean[ch]) * gamma[ch] / sd[ch]);
            r = r < 0.0f ? 0.0f : r;
            v[ch] = r > 6.0f ? 6.0f : r;
        }
    }
    free(sd);
    return NOVA_OK;
}

static void relu6(vt_t *x)
{
    size_t n = (size_t)x->h * x->w * x->c;
    float *v = x->d;
    for (size_t i = 0; i < n; i++) {
        float r = v[i] < 0.0f ? 0.0f : v[i];
        v[i] = r > 6.0f ? 6.0f : r;
    }
}

/* pointwiseConvLayer: conv SAME at stride, + offset, ReLU6. */
static nova_status pointwise(const vt_t *x, const vparam_t *f, const vparam_t *b, int stride,
                             vt_t *y)
{
    nova_status st = vt_conv2d(x, f, b, stride, VT_SAME, y);
    if (st == NOVA_OK)
        relu6(y);
    return st;
}

/* Runs the net; raw box encodings (ANCHORS x 4) and face logits (ANCHORS) in anchor order. */
static nova_status forward(const ssd_net_t *n, const nova_vision_image_t *img, float *enc,
                           float *logit)
{
    vt_t x = {0}, y = {0}, conv11 = {0}, feat[6] = {{0}}, pred[8] = {{0}};
    nova_status st = vt_square_from_image(img, 0, 0, img->width, img->height, 0, INPUT, &y);
    if (st != NOVA_OK)
        goto end;
    size_t len = (size_t)y.h * y.w * y.c;
    for (size_t i = 0; i < len; i++) { /* tf.sub(tf.div(x, 127.5), 1) */
        float d = y.d[i] / 127.5f;
        y.d[i] = d - 1.0f;
    }
    st = pointwise(&y, &n->conv0_f, &n->conv0_b, 2, &x);
    vt_free(&y);
    for (int i = 1; i <= 13 && st == NOVA_OK; i++) {
        const ssd_pair_t *p = &n->pair[i - 1];
        int stride = (i == 2 || i == 4 || i == 6 || i == 12) ? 2 : 1;
        st = vt_depthwise(&x, &p->dw, stride, VT_SAME, &y);
        vt_free(&x);
        if (st != NOVA_OK)
            break;
        st = bn_relu6(&y, p);
        if (st == NOVA_OK)
            st = pointwise(&y, &p->pw, &p->pw_b, 1, &x);
        vt_free(&y);
        if (st == NOVA_OK && i == 11) {
            st = vt_alloc(&conv11, x.h, x.w, x.c);
            if (st == NOVA_OK)
                memcpy(conv11.d, x.d, (size_t)x.h * x.w * x.c * sizeof(float));
        }
    }
    if (st != NOVA_OK)
        goto end;
    /* prediction layer: conv_0..conv_7, strides 1,2,1,2,1,2,1,2 */
    const vt_t *in = &x;
    for (int i = 0; i < 8 && st == NOVA_OK; i++) {
        st = pointwise(in, &n->pred_f[i], &n->pred_b[i], i % 2 ? 2 : 1, &pred[i]);
        in = &pred[i];
    }
    if (st != NOVA_OK)
        goto end;
    const vt_t *maps[6] = {&conv11, &x, &pred[1], &pred[3], &pred[5], &pred[7]};
    size_t a = 0;
    for (int k = 0; k < 6 && st == NOVA_OK; k++) {
        vt_t be, ce;
        st = vt_conv2d(maps[k], &n->box_f[k], &n->box_b[k], 1, VT_SAME, &be);
        if (st != NOVA_OK)
            break;
        st = vt_conv2d(maps[k], &n->cls_f[k], &n->cls_b[k], 1, VT_SAME, &ce);
        if (st != NOVA_OK) {
            vt_free(&be);
            break;
        }
        /* reshape [cells * anchors, 4] and [cells * anchors, 3]: channels are anchor-major */
        size_t cells = (size_t)be.h * be.w, per = (size_t)be.c / 4;
        if (a + cells * per > ANCHORS) {
            st = NOVA_INTERNAL;
        } else {
            for (size_t i = 0; i < cells * per; i++) {
                memcpy(enc + 4 * (a + i), be.d + 4 * i, 4 * sizeof(float));
                logit[a + i] = ce.d[3 * i + 1];
            }
            a += cells * per;
        }
        vt_free(&be);
        vt_free(&ce);
    }
    if (st == NOVA_OK && a != ANCHORS)
        st = NOVA_INTERNAL;
end:
    vt_free(&x);
    vt_free(&y);
    vt_free(&conv11);
    for (int i = 0; i < 6; i++)
        vt_free(&feat[i]);
    for (int i = 0; i < 8; i++)
        vt_free(&pred[i]);
    return st;
}

/* face-api's IOU on [top, left, bottom, right] boxes. */
static double iou(const float *bi, const float *bj)
{
    double yi0 = fmin(bi[0], bi[2]), xi0 = fmin(bi[1], bi[3]);
    double yi1 = fmax(bi[0], bi[2]), xi1 = fmax(bi[1], bi[3]);
    double yj0 = fmin(bj[0], bj[2]), xj0 = fmin(bj[1], bj[3]);
    double yj1 = fmax(bj[0], bj[2]), xj1 = fmax(bj[1], bj[3]);
    double ai = (yi1 - yi0) * (xi1 - xi0), aj = (yj1 - yj0) * (xj1 - xj0);
    if (ai <= 0 || aj <= 0)
        return 0.0;
    double inter =
        fmax(fmin(yi1, yj1) - fmax(yi0, yj0), 0.0) * fmax(fmin(xi1, xj1) - fmax(xi0, xj0), 0.0);
    return inter / (ai + aj - inter);
}

typedef struct cand {
    float score;
    int idx;
} cand_t;

static int by_score_desc(const void *a, const void *b)
{
    const cand_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->idx - y->idx; /* JS's sort is stable */
}

nova_status ssd_detect(const ssd_net_t *net, const nova_vision_image_t *img, double threshold,
                       tiny_box_t **boxes, size_t *n)
{
    *boxes = NULL;
    *n = 0;
    float *enc = malloc(ANCHORS * 4 * sizeof(float)), *logit = malloc(ANCHORS * sizeof(float));
    float *box = malloc(ANCHORS * 4 * sizeof(float));
    cand_t *c = malloc(ANCHORS * sizeof(cand_t));
    int *sel = malloc(MAX_RESULTS * sizeof(int));
    tiny_box_t *out = NULL;
    nova_status st = enc && logit && box && c && sel ? forward(net, img, enc, logit) : NOVA_NOMEM;
    if (st != NOVA_OK)
        goto end;
    /* decodeBoxesLayer, in float32 as the tensor ops compute it */
    const float *anc = net->anchors.d;
    size_t nc = 0;
    for (int i = 0; i < ANCHORS; i++) {
        const float *v = anc + 4 * i, *p = enc + 4 * i;
        float s0 = v[2] - v[0], s1 = v[3] - v[1];
        float c0 = v[0] + s0 / 2.0f, c1 = v[1] + s1 / 2.0f;
        float div0 = ((float)exp(p[2] / 5.0f) * s0) / 2.0f;
        float add0 = (p[0] / 10.0f) * s0 + c0;
        float div1 = ((float)exp(p[3] / 5.0f) * s1) / 2.0f;
        float add1 = (p[1] / 10.0f) * s1 + c1;
        box[4 * i + 0] = add0 - div0;
        box[4 * i + 1] = add1 - div1;
        box[4 * i + 2] = add0 + div0;
        box[4 * i + 3] = add1 + div1;
        float score = (float)(1.0 / (1.0 + exp(-(double)logit[i])));
        if (score > threshold)
            c[nc++] = (cand_t){score, i};
    }
    qsort(c, nc, sizeof *c, by_score_desc);
    size_t ns = 0;
    for (size_t k = 0; k < nc && ns < MAX_RESULTS; k++) {
        double score = c[k].score;
        for (size_t j = ns; j-- > 0;) {
            double v = iou(box + 4 * c[k].idx, box + 4 * sel[j]);
            if (v == 0.0)
                continue;
            score *= v <= IOU_THRESHOLD ? 1 : 0;
            if (score <= threshold)
                break;
        }
        if (score == c[k].score)
            sel[ns++] = c[k].idx;
    }
    out = malloc((ns ? ns : 1) * sizeof *out);
    if (!out) {
        st = NOVA_NOMEM;
        goto end;
    }
    /* relative to the image: the square input's [0, 1] scaled by input / reshaped size */
    double scale = (double)INPUT / (img->width > img->height ? img->width : img->height);
    double padx = INPUT / round(img->width * scale), pady = INPUT / round(img->height * scale);
    for (size_t k = 0; k < ns; k++) {
        const float *b = box + 4 * sel[k];
        double top = fmax(0, b[0]) * pady, bottom = fmin(1.0, b[2]) * pady;
        double left = fmax(0, b[1]) * padx, right = fmin(1.0, b[3]) * padx;
        double score = 0;
        for (size_t j = 0; j < nc; j++)
            if (c[j].idx == sel[k])
                score = c[j].score;
        out[k] = (tiny_box_t){left, top, right - left, bottom - top, score, 1};
    }
    *boxes = out;
    *n = ns;
end:
    free(enc);
    free(logit);
    free(box);
    free(c);
    free(sel);
    return st;
}
