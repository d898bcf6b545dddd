/* Vision engine internals: tensors, layers, the model file, the three nets. */
#ifndef NOVA_VISION_INTERNAL_H
#define NOVA_VISION_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "nova/vision.h"

/* A float tensor in tfjs's layout for one image: height x width x channels, channels fastest.
 * d is owned by the tensor (vt_free). Parameters keep tfjs's shapes: conv filters HWIO,
 * depthwise filters HWC1, fully connected weights IO. */
typedef struct vt {
    int h, w, c;
    float *d;
} vt_t;

/* Returns NOVA_NOMEM or NOVA_TOO_LARGE on failure; the tensor is zero-filled. */
nova_status vt_alloc(vt_t *t, int h, int w, int c);
void vt_free(vt_t *t);

typedef enum { VT_VALID, VT_SAME } vt_pad;
typedef enum { VT_NONE, VT_RELU, VT_LEAKY } vt_act;

/* A parameter tensor from the model file, dequantized to float32 exactly as tfjs does
 * (double q * scale + min, rounded to float). */
typedef struct vparam {
    int ndim;
    int shape[4];
    size_t count;
    const float *d;
} vparam_t;

/* Layers. Each writes a new tensor into *y (the caller frees it) and returns NOVA_OK or
 * NOVA_NOMEM/NOVA_TOO_LARGE. Padding follows TensorFlow: SAME gives ceil(in / stride) outputs
 * with the extra row or column at the bottom and right; VALID gives ceil((in - k + 1) / s). */
nova_status vt_conv2d(const vt_t *x, const vparam_t *filt, const vparam_t *bias, int stride,
                      vt_pad pad, vt_t *y);
/* The same, then bias and activation in one pass over the output. */
nova_status vt_conv2d_act(const vt_t *x, const vparam_t *filt, const vparam_t *bias, int stride,
                          vt_pad pad, vt_act act, vt_t *y);
/* In place: x += bias (when not NULL), then the activation. */
void vt_bias_act(vt_t *x, const vparam_t *bias, vt_act act);
nova_status vt_depthwise(const vt_t *x, const vparam_t *filt, int stride, vt_pad pad, vt_t *y);
nova_status vt_maxpool(const vt_t *x, int k, int stride, vt_pad pad, vt_t *y);
nova_status vt_avgpool(const vt_t *x, int k, int stride, vt_t *y); /* VALID only */
nova_status vt_pad_zero(const vt_t *x, int top, int bottom, int left, int right, vt_t *y);
/* In place. */
void vt_add_bias(vt_t *x, const vparam_t *bias);
void vt_scale(vt_t *x, const vparam_t *w, const vparam_t *b);
void vt_relu(vt_t *x);
void vt_leaky(vt_t *x); /* tfjs's leaky: m = 0.1x; relu(x - m) + m */
void vt_add(vt_t *x, const vt_t *y);
/* out[n] = sum_i in[i] * w[i][n] (+ bias[n] when bias is not NULL). */
void vt_fc(const float *in, int nin, const vparam_t *w, const vparam_t *bias, float *out);

/* Images as tensors. */
/* Float tensor of the crop (x, y, w, h) of img; the rectangle must lie inside the image. */
nova_status vt_from_image(const nova_vision_image_t *img, int x, int y, int w, int h, vt_t *t);
/* face-api's padToSquare: zero rows or columns to make the tensor square; with center, the
 * larger half (round(diff / 2)) after the image and the rest before, else all after. */
nova_status vt_pad_square(const vt_t *x, int center, vt_t *y);
/* vt_from_image, vt_pad_square and vt_resize_bilinear to size x size in one pass (the same
 * numbers), without materialising the full-size float copy and its padding. */
nova_status vt_square_from_image(const nova_vision_image_t *img, int x, int y, int w, int h,
                                 int center, int size, vt_t *t);
/* tf.image.resizeBilinear(alignCorners false, halfPixelCenters false). */
nova_status vt_resize_bilinear(const vt_t *x, int oh, int ow, vt_t *y);
/* (x - mean[c]) / 255 per channel, in float32 as tfjs computes it. */
void vt_normalize(vt_t *x, const float mean[3]);

/* The model file (see tools/face_convert.js for its layout). */
#define VM_MAGIC "NOVAFACE"
#define VM_VERSION 1
#define VM_HEADER 64
#define VM_ENTRY 128
#define VM_NAME 80

typedef struct vm_tensor {
    char name[VM_NAME];
    vparam_t p;
} vm_tensor_t;

typedef struct tiny_net {
    vparam_t conv0_f, conv0_b;
    vparam_t dw[5], pw[5], b[5]; /* conv1..conv5 */
    vparam_t conv8_f, conv8_b;
} tiny_net_t;

typedef struct sep_params {
    vparam_t dw, pw, b;
} sep_params_t;

typedef struct landmark_net {
    vparam_t conv0_f, conv0_b; /* dense0/conv0: a plain conv */
    sep_params_t sep[4][4];    /* sep[block][conv]; sep[0][0] unused */
    vparam_t fc_w, fc_b;
} landmark_net_t;

typedef struct recog_conv {
    vparam_t f, b, sw, sb; /* conv filters, bias, scale weights, scale biases */
} recog_conv_t;

typedef struct recog_net {
    recog_conv_t down;       /* conv32_down */
    recog_conv_t res[13][2]; /* residual layers conv32_1 .. conv256_2, conv1 and conv2 */
    recog_conv_t last[2];    /* conv256_down_out */
    vparam_t fc;
} recog_net_t;

typedef struct ssd_pair {
    vparam_t dw, gamma, beta, mean, var; /* depthwise + batch norm */
    vparam_t pw, pw_b;                   /* pointwise + offset */
} ssd_pair_t;

typedef struct ssd_net {
    vparam_t conv0_f, conv0_b;
    ssd_pair_t pair[13];
    vparam_t pred_f[8], pred_b[8];
    vparam_t box_f[6], box_b[6], cls_f[6], cls_b[6];
    vparam_t anchors; /* Output/extra_dim: [1, 5118, 4] */
} ssd_net_t;

struct nova_vision_model {
    size_t count;
    vm_tensor_t *tensors;
    float *floats; /* dequantized parameters, one allocation */
    tiny_net_t tiny;
    landmark_net_t landmark;
    recog_net_t recog;
    ssd_net_t ssd;
};

/* Parses a model image held in memory (used by nova_vision_model_open after mapping, and by
 * tests). On success m->tensors and m->floats are set; map is not touched. */
nova_status vm_parse(nova_vision_model_t *m, const uint8_t *data, size_t len);
/* The tensor called name with the given rank, or NULL. */
const vparam_t *vm_find(const nova_vision_model_t *m, const char *name, int ndim);

/* Nets (tiny.c, landmark.c, recog.c). Bind: resolve parameters, NOVA_INVALID if any is
 * missing or misshapen. */
nova_status tiny_bind(nova_vision_model_t *m);
nova_status landmark_bind(nova_vision_model_t *m);
nova_status recog_bind(nova_vision_model_t *m);
nova_status ssd_bind(nova_vision_model_t *m);

/* A candidate box relative to the image, as the detector reports it. */
typedef struct tiny_box {
    double x, y, w, h; /* relative to the image (0..1) */
    double score;
    int direct; /* 1: the reference makes its FaceDetection from this box directly (SSD); 0: via
                 * an ObjectDetection first (tiny), one more relative/absolute round trip */
} tiny_box_t;

/* Runs the detector on img at input_size and returns the kept boxes after non-maximum
 * suppression (IoU 0.4), best first. *boxes is malloc'd. */
nova_status tiny_detect(const tiny_net_t *net, const nova_vision_image_t *img, int input_size,
                        double threshold, tiny_box_t **boxes, size_t *n);
/* The same with SSD MobileNet v1 (input 512, at most 100 faces, IoU 0.5). */
nova_status ssd_detect(const ssd_net_t *net, const nova_vision_image_t *img, double threshold,
                       tiny_box_t **boxes, size_t *n);
/* 68 landmarks of a face crop (w x h pixels at (x, y) of img), relative to the crop (0..1). */
nova_status landmark_run(const landmark_net_t *net, const nova_vision_image_t *img, int x, int y,
                         int w, int h, double rel[NOVA_VISION_LANDMARKS][2]);
/* Descriptor of the crop (w x h at (x, y) of img). */
nova_status recog_run(const recog_net_t *net, const nova_vision_image_t *img, int x, int y, int w,
                      int h, float out[NOVA_VISION_DESCRIPTOR]);

/* Face match internals (match.c), shared with liveness.c. */
/* Fills the zero members of o with their defaults. */
void match_defaults(nova_vision_match_opts_t *o);
/* Finds the faces of img (tiny at o->detect_size, then 160, 320, 416, then SSD) and keeps one:
 * with target, the face closest to it; without, the largest. Sets the quality reasons. */
nova_status match_check_image(const nova_vision_model_t *m, const nova_vision_image_t *img,
                              const nova_vision_match_opts_t *o, const float *target,
                              nova_vision_face_check_t *c);

#endif
