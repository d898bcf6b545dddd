/* face-api's FaceRecognitionNet: dlib's ResNet-29 (conv + scale layers, residual blocks, the
 * down blocks add a 2 x 2 average pool of their input, zero-padded in channels) on a 150 x 150
 * centred square crop, global mean, 256 x 128 matrix (FaceRecognitionNet.ts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const float MEAN_RGB[3] = {122.782f, 117.001f, 104.298f};
#define INPUT 150

/* The residual layers in forward order; the *_down ones halve the size. */
static const char *const LAYERS[13] = {
    "conv32_1",     "conv32_2",  "conv32_3",  "conv64_down",  "conv64_1",  "conv64_2",  "conv64_3",
    "conv128_down", "conv128_1", "conv128_2", "conv256_down", "conv256_1", "conv256_2",
};
/* ...then conv256_down_out (net->last), also a down block. */

static nova_status bind1(nova_vision_model_t *m, vparam_t *p, const char *prefix, const char *name,
                         int ndim)
{
    char full[VM_NAME];
    snprintf(full, sizeof full, "recog/%s/%s", prefix, name);
    const vparam_t *f = vm_find(m, full, ndim);
    if (!f)
        return NOVA_INVALID;
    *p = *f;
    return NOVA_OK;
}

static nova_status bind_conv(nova_vision_model_t *m, recog_conv_t *c, const char *prefix)
{
    nova_status st = bind1(m, &c->f, prefix, "conv/filters", 4);
    st = st ? st : bind1(m, &c->b, prefix, "conv/bias", 1);
    st = st ? st : bind1(m, &c->sw, prefix, "scale/weights", 1);
    st = st ? st : bind1(m, &c->sb, prefix, "scale/biases", 1);
    return st;
}

nova_status recog_bind(nova_vision_model_t *m)
{
    recog_net_t *n = &m->recog;
    nova_status st = bind_conv(m, &n->down, "conv32_down");
    char prefix[64];
    for (int i = 0; i < 14 && st == NOVA_OK; i++) {
        const char *name = i < 13 ? LAYERS[i] : "conv256_down_out";
        recog_conv_t *c = i < 13 ? n->res[i] : n->last;
        snprintf(prefix, sizeof prefix, "%s/conv1", name);
        st = bind_conv(m, &c[0], prefix);
        snprintf(prefix, sizeof prefix, "%s/conv2", name);
        st = st ? st : bind_conv(m, &c[1], prefix);
    }
    const vparam_t *fc = vm_find(m, "recog/fc", 2);
    if (st == NOVA_OK && (!fc || fc->shape[0] != 256 || fc->shape[1] != NOVA_VISION_DESCRIPTOR))
        st = NOVA_INVALID;
    if (st == NOVA_OK)
        n->fc = *fc;
    return st;
}

/* conv + bias, scale, optional relu. */
static nova_status conv(const vt_t *x, const recog_conv_t *c, int stride, vt_pad pad, int relu,
                        vt_t *y)
{
    nova_status st = vt_conv2d(x, &c->f, &c->b, stride, pad, y);
    if (st != NOVA_OK)
        return st;
    vt_scale(y, &c->sw, &c->sb);
    if (relu)
        vt_relu(y);
    return NOVA_OK;
}

static nova_status residual(const vt_t *x, const recog_conv_t c[2], int down, vt_t *y)
{
    vt_t a, b;
    nova_status st = down ? conv(x, &c[0], 2, VT_VALID, 1, &a) : conv(x, &c[0], 1, VT_SAME, 1, &a);
    if (st != NOVA_OK)
        return st;
    st = conv(&a, &c[1], 1, VT_SAME, 0, &b);
    vt_free(&a);
    if (st != NOVA_OK)
        return st;
    if (!down) {
        vt_add(&b, x);
        vt_relu(&b);
        *y = b;
        return NOVA_OK;
    }
    vt_t pooled;
    st = vt_avgpool(x, 2, 2, &pooled);
    if (st != NOVA_OK) {
        vt_free(&b);
        return st;
    }
    if (pooled.h != b.h || pooled.w != b.w) { /* one zero row below, one zero column right */
        st = vt_pad_zero(&b, 0, pooled.h - b.h, 0, pooled.w - b.w, &a);
        vt_free(&b);
        if (st != NOVA_OK) {
            vt_free(&pooled);
            return st;
        }
        b = a;
    }
    /* tf.add(pooled ++ zeros, out): channels past the input's get nothing added */
    st = vt_alloc(y, b.h, b.w, b.c);
    if (st == NOVA_OK) {
        size_t px = (size_t)b.h * b.w;
        for (size_t i = 0; i < px; i++) {
            const float *p = pooled.d + i * pooled.c;
            const float *o = b.d + i * b.c;
            float *r = y->d + i * b.c;
            for (int ch = 0; ch < b.c; ch++) {
                float v = (ch < pooled.c ? p[ch] : 0.0f) + o[ch];
                r[ch] = v > 0.0f ? v : 0.0f;
            }
        }
    }
    vt_free(&pooled);
    vt_free(&b);
    return st;
}

nova_status recog_run(const recog_net_t *net, const nova_vision_image_t *img, int x, int y, int w,
                      int h, float out[NOVA_VISION_DESCRIPTOR])
{
    vt_t t = {0}, u = {0};
    nova_status st = vt_square_from_image(img, x, y, w, h, 1, INPUT, &u);
    if (st != NOVA_OK)
        return st;
    vt_normalize(&u, MEAN_RGB);
    st = conv(&u, &net->down, 2, VT_VALID, 1, &t);
    vt_free(&u);
    if (st != NOVA_OK)
        return st;
    st = vt_maxpool(&t, 3, 2, VT_VALID, &u);
    vt_free(&t);
    if (st != NOVA_OK)
        return st;
    for (int i = 0; i < 14; i++) {
        const recog_conv_t *c = i < 13 ? net->res[i] : net->last;
        int down = i == 13 || strstr(LAYERS[i], "_down") != NULL;
        st = residual(&u, c, down, &t);
        vt_free(&u);
        if (st != NOVA_OK)
            return st;
        u = t;
    }
    /* out.mean([1, 2]): tfjs divides each value by the count (float32), then sums in double */
    float mean[256];
    if (u.c != 256) {
        vt_free(&u);
        return NOVA_INTERNAL;
    }
    size_t px = (size_t)u.h * u.w;
    for (int ch = 0; ch < 256; ch++) {
        double s = 0.0;
        for (size_t i = 0; i < px; i++)
            s += u.d[i * 256 + ch] / (float)px;
        mean[ch] = (float)s;
    }
    vt_free(&u);
    vt_fc(mean, 256, &net->fc, NULL, out);
    return NOVA_OK;
}
