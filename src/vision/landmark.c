/* face-api's FaceLandmark68Net: four dense blocks of separable convolutions on a 112 x 112
 * centred square crop, a 7 x 7 average pool and a fully connected layer to 68 (x, y) pairs,
 * relative to the crop (FaceFeatureExtractor.ts, FaceLandmark68NetBase.ts). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static const float MEAN_RGB[3] = {122.782f, 117.001f, 104.298f};
#define INPUT 112

static nova_status bind(nova_vision_model_t *m, vparam_t *p, const char *name, int ndim)
{
    char full[VM_NAME];
    snprintf(full, sizeof full, "landmark/%s", name);
    const vparam_t *f = vm_find(m, full, ndim);
    if (!f)
        return NOVA_INVALID;
    *p = *f;
    return NOVA_OK;
}

nova_status landmark_bind(nova_vision_model_t *m)
{
    landmark_net_t *n = &m->landmark;
    nova_status st = bind(m, &n->conv0_f, "dense0/conv0/filters", 4);
    st = st ? st : bind(m, &n->conv0_b, "dense0/conv0/bias", 1);
    for (int b = 0; b < 4; b++) {
        for (int c = 0; c < 4 && st == NOVA_OK; c++) {
            if (b == 0 && c == 0)
                continue;
            char name[64];
            sep_params_t *s = &n->sep[b][c];
            snprintf(name, sizeof name, "dense%d/conv%d/depthwise_filter", b, c);
            st = bind(m, &s->dw, name, 4);
            snprintf(name, sizeof name, "dense%d/conv%d/pointwise_filter", b, c);
            st = st ? st : bind(m, &s->pw, name, 4);
            snprintf(name, sizeof name, "dense%d/conv%d/bias", b, c);
            st = st ? st : bind(m, &s->b, name, 1);
        }
    }
    st = st ? st : bind(m, &n->fc_w, "fc/weights", 2);
    st = st ? st : bind(m, &n->fc_b, "fc/bias", 1);
    if (st == NOVA_OK && (n->fc_w.shape[0] != 256 || n->fc_w.shape[1] != 136))
        st = NOVA_INVALID;
    return st;
}

/* common/depthwiseSeparableConv: separable SAME at stride, plus bias (no activation). */
static nova_status sep(const vt_t *x, const sep_params_t *p, int stride, vt_t *y)
{
    vt_t d;
    nova_status st = vt_depthwise(x, &p->dw, stride, VT_SAME, &d);
    if (st != NOVA_OK)
        return st;
    st = vt_conv2d(&d, &p->pw, &p->b, 1, VT_VALID, y);
    vt_free(&d);
    return st;
}

/* denseBlock4: out1 = relu(first conv); out_k = sep(relu(out1 + ... + out_{k-1})). */
static nova_status dense(const landmark_net_t *n, int b, const vt_t *x, vt_t *y)
{
    vt_t o[4] = {{0}}, in = {0};
    nova_status st;
    if (b == 0)
        st = vt_conv2d_act(x, &n->conv0_f, &n->conv0_b, 2, VT_SAME, VT_RELU, &o[0]);
    else
        st = sep(x, &n->sep[b][0], 2, &o[0]);
    if (st != NOVA_OK)
        return st;
    if (b != 0)
        vt_relu(&o[0]);
    for (int k = 1; k < 4 && st == NOVA_OK; k++) {
        if (k == 1) {
            st = sep(&o[0], &n->sep[b][1], 1, &o[1]);
            continue;
        }
        /* tf.add(out1, tf.add(out2, ...)): the innermost sum first */
        st = vt_alloc(&in, o[0].h, o[0].w, o[0].c);
        if (st != NOVA_OK)
            break;
        size_t len = (size_t)in.h * in.w * in.c;
        for (size_t i = 0; i < len; i++) {
            float s = o[k - 1].d[i];
            for (int j = k - 2; j >= 0; j--)
                s = o[j].d[i] + s;
            in.d[i] = s > 0.0f ? s : 0.0f;
        }
        st = sep(&in, &n->sep[b][k], 1, &o[k]);
        vt_free(&in);
    }
    if (st == NOVA_OK) {
        st = vt_alloc(y, o[0].h, o[0].w, o[0].c);
        if (st == NOVA_OK) {
            size_t len = (size_t)y->h * y->w * y->c;
            for (size_t i = 0; i < len; i++) {
                float s = o[3].d[i];
                for (int j = 2; j >= 0; j--)
                    s = o[j].d[i] + s;
                y->d[i] = s > 0.0f ? s : 0.0f;
            }
        }
    }
    for (int k = 0; k < 4; k++)
        vt_free(&o[k]);
    return st;
}

nova_status landmark_run(const landmark_net_t *net, const nova_vision_image_t *img, int x, int y,
                         int w, int h, double rel[NOVA_VISION_LANDMARKS][2])
{
    vt_t t = {0}, u = {0};
    nova_status st = vt_square_from_image(img, x, y, w, h, 1, INPUT, &u);
    if (st != NOVA_OK)
        return st;
    vt_normalize(&u, MEAN_RGB);
    for (int b = 0; b < 4; b++) {
        st = dense(net, b, &u, &t);
        vt_free(&u);
        if (st != NOVA_OK)
            return st;
        u = t;
    }
    st = vt_avgpool(&u, 7, 2, &t);
    vt_free(&u);
    if (st != NOVA_OK)
        return st;
    if (t.h * t.w * t.c != 256) {
        vt_free(&t);
        return NOVA_INTERNAL;
    }
    float out[136];
    vt_fc(t.d, 256, &net->fc_w, &net->fc_b, out);
    vt_free(&t);
    /* postProcess: out * 112 - padding, / the crop's size inside the square, in float32. */
    double s = (double)INPUT / (w > h ? w : h);
    double dw = w * s, dh = h * s;
    float iw = (float)dw, ih = (float)dh;
    float px = dw < dh ? (float)(fabs(dw - dh) / 2) : 0.0f;
    float py = dh < dw ? (float)(fabs(dw - dh) / 2) : 0.0f;
    for (int i = 0; i < NOVA_VISION_LANDMARKS; i++) {
        float vx = out[2 * i] * (float)INPUT, vy = out[2 * i + 1] * (float)INPUT;
        rel[i][0] = (vx - px) / iw;
        rel[i][1] = (vy - py) / ih;
    }
    return NOVA_OK;
}
