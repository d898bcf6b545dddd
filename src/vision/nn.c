/* Tensor layers on HWC float32, matching tfjs's CPU kernels in shape and padding. Plain
 * convolutions go through im2col and OpenBLAS sgemm; depthwise convolutions and pools are
 * direct loops (they are a small share of the work). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Upper bound on one tensor: 2^28 floats (1 GiB), far above any layer of these nets. */
#define VT_MAX_ELEMS ((size_t)1 << 28)

static nova_status alloc(vt_t *t, int h, int w, int c, int zero)
{
    t->h = t->w = t->c = 0;
    t->d = NULL;
    if (h <= 0 || w <= 0 || c <= 0)
        return NOVA_INVALID;
    size_t n = (size_t)h * (size_t)w;
    if (n > VT_MAX_ELEMS || n * (size_t)c > VT_MAX_ELEMS)
        return NOVA_TOO_LARGE;
    t->d = zero ? calloc(n * (size_t)c, sizeof(float)) : malloc(n * (size_t)c * sizeof(float));
    if (!t->d)
        return NOVA_NOMEM;
    t->h = h;
    t->w = w;
    t->c = c;
    return NOVA_OK;
}

nova_status vt_alloc(vt_t *t, int h, int w, int c)
{
    return alloc(t, h, w, c, 1);
}

/* For outputs every element of which is written. */
static nova_status vt_alloc_raw(vt_t *t, int h, int w, int c)
{
    return alloc(t, h, w, c, 0);
}

void vt_free(vt_t *t)
{
    if (!t)
        return;
    free(t->d);
    t->d = NULL;
    t->h = t->w = t->c = 0;
}

static size_t vt_len(const vt_t *t)
{
    return (size_t)t->h * (size_t)t->w * (size_t)t->c;
}

/* Output size and leading padding of one spatial axis, TensorFlow's rules. */
static int pad_dims(int in, int k, int s, vt_pad pad, int *before)
{
    if (pad == VT_SAME) {
        int out = (in + s - 1) / s;
        int total = (out - 1) * s + k - in;
        *before = total > 0 ? total / 2 : 0;
        return out;
    }
    *before = 0;
    return in >= k ? (in - k + s) / s : 0;
}

nova_status vt_conv2d(const vt_t *x, const vparam_t *filt, const vparam_t *bias, int stride,
                      vt_pad pad, vt_t *y)
{
    return vt_conv2d_act(x, filt, bias, stride, pad, VT_NONE, y);
}

void vt_bias_act(vt_t *x, const vparam_t *bias, vt_act act)
{
    size_t px = (size_t)x->h * x->w, n = px * (size_t)x->c;
    int c = x->c;
    float *v = x->d;
    if (bias)
        for (size_t i = 0; i < px; i++)
            for (int ch = 0; ch < c; ch++)
                v[i * c + ch] += bias->d[ch];
    /* written as `x < 0 ? 0 : x` so the compiler makes it a vector max */
    if (act == VT_RELU) {
        for (size_t i = 0; i < n; i++)
            v[i] = v[i] < 0.0f ? 0.0f : v[i];
    } else if (act == VT_LEAKY) {
        for (size_t i = 0; i < n; i++) {
            float m = v[i] * 0.10000000149011612f;
            float r = v[i] - m;
            v[i] = (r < 0.0f ? 0.0f : r) + m;
        }
    }
}

nova_status vt_conv2d_act(const vt_t *x, const vparam_t *filt, const vparam_t *bias, int stride,
                          vt_pad pad, vt_act act, vt_t *y)
{
    int kh = filt->shape[0], kw = filt->shape[1], cin = filt->shape[2], cout = filt->shape[3];
    int pt, pl;
    if (filt->ndim != 4 || cin != x->c || stride < 1)
        return NOVA_INVALID;
    int oh = pad_dims(x->h, kh, stride, pad, &pt);
    int ow = pad_dims(x->w, kw, stride, pad, &pl);
    nova_status st = vt_alloc_raw(y, oh, ow, cout);
    if (st != NOVA_OK)
        return st;
    size_t m = (size_t)oh * (size_t)ow, k = (size_t)kh * (size_t)kw * (size_t)cin;
    const float *a = x->d;
    float *cols = NULL;
    if (!(kh == 1 && kw == 1 && stride == 1)) {
        if (m * k > VT_MAX_ELEMS) {
            vt_free(y);
            return NOVA_TOO_LARGE;
        }
        cols = malloc(m * k * sizeof(float));
        if (!cols) {
            vt_free(y);
            return NOVA_NOMEM;
        }
        float *row = cols;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                int ix0 = ox * stride - pl;
                for (int ky = 0; ky < kh; ky++) {
                    int iy = oy * stride - pt + ky;
                    if (iy >= 0 && iy < x->h && ix0 >= 0 && ix0 + kw <= x->w) {
                        /* the kw pixels of this filter row are contiguous in x */
                        memcpy(row, x->d + ((size_t)iy * x->w + ix0) * cin,
                               (size_t)kw * cin * sizeof(float));
                        row += kw * cin;
                        continue;
                    }
                    for (int kx = 0; kx < kw; kx++) {
                        int ix = ix0 + kx;
                        if (iy < 0 || iy >= x->h || ix < 0 || ix >= x->w)
                            memset(row, 0, (size_t)cin * sizeof(float));
                        else
                            memcpy(row, x->d + ((size_t)iy * x->w + ix) * cin,
                                   (size_t)cin * sizeof(float));
                        row += cin;
                    }
                }
            }
        }
        a = cols;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, cout, (int)k, 1.0f, a, (int)k,
                filt->d, cout, 0.0f, y->d, cout);
    free(cols);
    if (bias || act != VT_NONE)
        vt_bias_act(y, bias, act);
    return NOVA_OK;
}

nova_status vt_depthwise(const vt_t *x, const vparam_t *filt, int stride, vt_pad pad, vt_t *y)
{
    int kh = filt->shape[0], kw = filt->shape[1], c = filt->shape[2];
    int pt, pl;
    if (filt->ndim != 4 || c != x->c || filt->shape[3] != 1 || stride < 1)
        return NOVA_INVALID;
    int oh = pad_dims(x->h, kh, stride, pad, &pt);
    int ow = pad_dims(x->w, kw, stride, pad, &pl);
    nova_status st = vt_alloc_raw(y, oh, ow, c);
    if (st != NOVA_OK)
        return st;
    for (int oy = 0; oy < oh; oy++) {
        for (int ox = 0; ox < ow; ox++) {
            float *out = y->d + ((size_t)oy * ow + ox) * c;
            int first = 1;
            for (int ky = 0; ky < kh; ky++) {
                int iy = oy * stride - pt + ky;
                if (iy < 0 || iy >= x->h)
                    continue;
                for (int kx = 0; kx < kw; kx++) {
                    int ix = ox * stride - pl + kx;
                    if (ix < 0 || ix >= x->w)
                        continue;
                    const float *in = x->d + ((size_t)iy * x->w + ix) * c;
                    const float *w = filt->d + ((size_t)ky * kw + kx) * c;
                    if (first) {
                        for (int ch = 0; ch < c; ch++)
                            out[ch] = in[ch] * w[ch];
                        first = 0;
                    } else {
                        for (int ch = 0; ch < c; ch++)
                            out[ch] += in[ch] * w[ch];
                    }
                }
            }
            if (first)
                memset(out, 0, (size_t)c * sizeof(float));
        }
    }
    return NOVA_OK;
}

nova_status vt_maxpool(const vt_t *x, int k, int stride, vt_pad pad, vt_t *y)
{
    int pt, pl;
    int oh = pad_dims(x->h, k, stride, pad, &pt);
    int ow = pad_dims(x->w, k, stride, pad, &pl);
    nova_status st = vt_alloc_raw(y, oh, ow, x->c);
    if (st != NOVA_OK)
        return st;
    int c = x->c;
    for (int oy = 0; oy < oh; oy++) {
        int y0 = oy * stride - pt, y1 = y0 + k;
        y0 = y0 < 0 ? 0 : y0;
        y1 = y1 > x->h ? x->h : y1;
        for (int ox = 0; ox < ow; ox++) {
            int x0 = ox * stride - pl, x1 = x0 + k;
            x0 = x0 < 0 ? 0 : x0;
            x1 = x1 > x->w ? x->w : x1;
            float *out = y->d + ((size_t)oy * ow + ox) * c;
            memcpy(out, x->d + ((size_t)y0 * x->w + x0) * c, (size_t)c * sizeof(float));
            for (int iy = y0; iy < y1; iy++) {
                for (int ix = iy == y0 ? x0 + 1 : x0; ix < x1; ix++) {
                    const float *in = x->d + ((size_t)iy * x->w + ix) * c;
                    for (int ch = 0; ch < c; ch++)
                        out[ch] = in[ch] > out[ch] ? in[ch] : out[ch];
                }
            }
        }
    }
    return NOVA_OK;
}

nova_status vt_avgpool(const vt_t *x, int k, int stride, vt_t *y)
{
    int pt, pl;
    int oh = pad_dims(x->h, k, stride, VT_VALID, &pt);
    int ow = pad_dims(x->w, k, stride, VT_VALID, &pl);
    nova_status st = vt_alloc(y, oh, ow, x->c);
    if (st != NOVA_OK)
        return st;
    int c = x->c;
    double *acc = malloc((size_t)c * sizeof(double));
    if (!acc) {
        vt_free(y);
        return NOVA_NOMEM;
    }
    /* tfjs sums in double and divides by the count of pixels inside the window. */
    for (int oy = 0; oy < oh; oy++) {
        for (int ox = 0; ox < ow; ox++) {
            int count = 0;
            memset(acc, 0, (size_t)c * sizeof(double));
            for (int ky = 0; ky < k; ky++) {
                int iy = oy * stride + ky;
                if (iy >= x->h)
                    continue;
                for (int kx = 0; kx < k; kx++) {
                    int ix = ox * stride + kx;
                    if (ix >= x->w)
                        continue;
                    const float *in = x->d + ((size_t)iy * x->w + ix) * c;
                    for (int ch = 0; ch < c; ch++)
                        acc[ch] += in[ch];
                    count++;
                }
            }
            float *out = y->d + ((size_t)oy * ow + ox) * c;
            for (int ch = 0; ch < c; ch++)
                out[ch] = (float)(acc[ch] / count);
        }
    }
    free(acc);
    return NOVA_OK;
}

nova_status vt_pad_zero(const vt_t *x, int top, int bottom, int left, int right, vt_t *y)
{
    nova_status st = vt_alloc(y, x->h + top + bottom, x->w + left + right, x->c);
    if (st != NOVA_OK)
        return st;
    for (int r = 0; r < x->h; r++)
        memcpy(y->d + ((size_t)(r + top) * y->w + left) * x->c, x->d + (size_t)r * x->w * x->c,
               (size_t)x->w * x->c * sizeof(float));
    return NOVA_OK;
}

void vt_add_bias(vt_t *x, const vparam_t *bias)
{
    size_t px = (size_t)x->h * x->w;
    for (size_t i = 0; i < px; i++) {
        float *v = x->d + i * x->c;
        for (int ch = 0; ch < x->c; ch++)
            v[ch] += bias->d[ch];
    }
}

void vt_scale(vt_t *x, const vparam_t *w, const vparam_t *b)
{
    size_t px = (size_t)x->h * x->w;
    for (size_t i = 0; i < px; i++) {
        float *v = x->d + i * x->c;
        for (int ch = 0; ch < x->c; ch++) {
            float m = v[ch] * w->d[ch];
            v[ch] = m + b->d[ch];
        }
    }
}

void vt_relu(vt_t *x)
{
    size_t n = vt_len(x);
    for (size_t i = 0; i < n; i++)
        if (!(x->d[i] > 0.0f))
            x->d[i] = 0.0f;
}

void vt_leaky(vt_t *x)
{
    size_t n = vt_len(x);
    for (size_t i = 0; i < n; i++) {
        float v = x->d[i];
        float m = v * 0.10000000149011612f;
        float r = v - m;
        x->d[i] = (r > 0.0f ? r : 0.0f) + m;
    }
}

void vt_add(vt_t *x, const vt_t *y)
{
    size_t n = vt_len(x);
    for (size_t i = 0; i < n; i++)
        x->d[i] += y->d[i];
}

void vt_fc(const float *in, int nin, const vparam_t *w, const vparam_t *bias, float *out)
{
    int nout = w->shape[1];
    cblas_sgemv(CblasRowMajor, CblasTrans, nin, nout, 1.0f, w->d, nout, in, 1, 0.0f, out, 1);
    if (bias)
        for (int i = 0; i < nout; i++)
            out[i] += bias->d[i];
}

nova_status vt_from_image(const nova_vision_image_t *img, int x, int y, int w, int h, vt_t *t)
{
    if (x < 0 || y < 0 || w <= 0 || h <= 0 || x > img->width - w || y > img->height - h)
        return NOVA_INVALID;
    nova_status st = vt_alloc(t, h, w, 3);
    if (st != NOVA_OK)
        return st;
    for (int r = 0; r < h; r++) {
        const uint8_t *src = img->rgb + ((size_t)(y + r) * img->width + x) * 3;
        float *dst = t->d + (size_t)r * w * 3;
        for (int i = 0; i < w * 3; i++)
            dst[i] = src[i];
    }
    return NOVA_OK;
}

nova_status vt_square_from_image(const nova_vision_image_t *img, int x, int y, int w, int h,
                                 int center, int size, vt_t *t)
{
    if (x < 0 || y < 0 || w <= 0 || h <= 0 || x > img->width - w || y > img->height - h ||
        size <= 0)
        return NOVA_INVALID;
    int side = w > h ? w : h, diff = abs(h - w);
    int after = center ? (diff + 1) / 2 : diff, before = diff - after;
    int ox = h > w ? before : 0, oy = h > w ? 0 : before; /* the crop's place in the square */
    nova_status st = vt_alloc(t, size, size, 3);
    if (st != NOVA_OK)
        return st;
    const uint8_t *base = img->rgb + ((size_t)y * img->width + x) * 3;
    size_t stride = (size_t)img->width * 3;
    if (side == size) { /* no resize: the padded crop itself */
        for (int r = 0; r < h; r++)
            for (int i = 0; i < w * 3; i++)
                t->d[((size_t)(r + oy) * size + ox) * 3 + i] = base[r * stride + i];
        return NOVA_OK;
    }
    /* resizeBilinear of the zero-padded square, reading the padding as zeros */
    double ratio = (double)side / size;
    for (int r = 0; r < size; r++) {
        double fy = ratio * r;
        int y0 = (int)floor(fy), y1 = (int)ceil(fy);
        y0 = y0 < 0 ? 0 : y0;
        y1 = y1 > side - 1 ? side - 1 : y1;
        double dy = fy - y0;
        int iy0 = y0 - oy, iy1 = y1 - oy;
        for (int c = 0; c < size; c++) {
            double fx = ratio * c;
            int x0 = (int)floor(fx), x1 = (int)ceil(fx);
            x0 = x0 < 0 ? 0 : x0;
            x1 = x1 > side - 1 ? side - 1 : x1;
            double dx = fx - x0;
            int ix0 = x0 - ox, ix1 = x1 - ox;
            int in_y0 = iy0 >= 0 && iy0 < h, in_y1 = iy1 >= 0 && iy1 < h;
            int in_x0 = ix0 >= 0 && ix0 < w, in_x1 = ix1 >= 0 && ix1 < w;
            float *out = t->d + ((size_t)r * size + c) * 3;
            for (int ch = 0; ch < 3; ch++) {
                double tl = in_y0 && in_x0 ? base[iy0 * stride + ix0 * 3 + ch] : 0;
                double tr = in_y0 && in_x1 ? base[iy0 * stride + ix1 * 3 + ch] : 0;
                double bl = in_y1 && in_x0 ? base[iy1 * stride + ix0 * 3 + ch] : 0;
                double br = in_y1 && in_x1 ? base[iy1 * stride + ix1 * 3 + ch] : 0;
                double top = tl + (tr - tl) * dx;
                double bottom = bl + (br - bl) * dx;
                out[ch] = (float)(top + (bottom - top) * dy);
            }
        }
    }
    return NOVA_OK;
}

nova_status vt_pad_square(const vt_t *x, int center, vt_t *y)
{
    int diff = abs(x->h - x->w);
    /* Math.round(diff * 0.5): halves round up. */
    int after = center ? (diff + 1) / 2 : diff;
    int before = diff - after;
    if (x->h > x->w)
        return vt_pad_zero(x, 0, 0, before, after, y);
    return vt_pad_zero(x, before, after, 0, 0, y);
}

nova_status vt_resize_bilinear(const vt_t *x, int oh, int ow, vt_t *y)
{
    nova_status st = vt_alloc(y, oh, ow, x->c);
    if (st != NOVA_OK)
        return st;
    double ry = (double)x->h / oh, rx = (double)x->w / ow;
    int c = x->c;
    for (int r = 0; r < oh; r++) {
        double fy = ry * r;
        int y0 = (int)floor(fy);
        if (y0 < 0)
            y0 = 0;
        double dy = fy - y0;
        int y1 = (int)ceil(fy);
        if (y1 > x->h - 1)
            y1 = x->h - 1;
        for (int col = 0; col < ow; col++) {
            double fx = rx * col;
            int x0 = (int)floor(fx);
            if (x0 < 0)
                x0 = 0;
            double dx = fx - x0;
            int x1 = (int)ceil(fx);
            if (x1 > x->w - 1)
                x1 = x->w - 1;
            const float *tl = x->d + ((size_t)y0 * x->w + x0) * c;
            const float *tr = x->d + ((size_t)y0 * x->w + x1) * c;
            const float *bl = x->d + ((size_t)y1 * x->w + x0) * c;
            const float *br = x->d + ((size_t)y1 * x->w + x1) * c;
            float *out = y->d + ((size_t)r * ow + col) * c;
            for (int ch = 0; ch < c; ch++) {
                double top = tl[ch] + ((double)tr[ch] - tl[ch]) * dx;
                double bottom = bl[ch] + ((double)br[ch] - bl[ch]) * dx;
                out[ch] = (float)(top + (bottom - top) * dy);
            }
        }
    }
    return NOVA_OK;
}

void vt_normalize(vt_t *x, const float mean[3])
{
    size_t px = (size_t)x->h * x->w;
    for (size_t i = 0; i < px; i++) {
        float *v = x->d + i * 3;
        for (int ch = 0; ch < 3; ch++) {
            float d = v[ch] - mean[ch];
            v[ch] = d / 255.0f;
        }
    }
}
