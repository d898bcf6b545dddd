/* Error-level analysis (ELA) of a JPEG: signs that part of a document photo was edited.
 *
 * A JPEG saved again at the same quality changes little where its pixels have been through
 * that compression before, and more where they have not. A photo edited and saved again has
 * two kinds of regions: the untouched ones, now compressed twice, and the pasted or redrawn
 * ones, compressed once. The image is re-encoded with libjpeg at `quality`, decoded, and the
 * mean absolute luma difference of each 8x8 block (the JPEG grid) is taken over its texture
 * (mean absolute luma gradient): compression error grows with texture, so the ratio compares
 * blocks of unlike content fairly. Flat blocks (texture under a floor) say nothing and are
 * left out. A region of adjacent blocks whose ratio stands well above the image's median is
 * what an edit leaves; its size and how far it stands out are reported, the caller decides.
 * Pure computation: no I/O. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BLOCK 8
#define TEXTURE_FLOOR 2.0 /* mean |gradient| of a block under which it is flat */
#define OUTLIER 2.5       /* a block stands out at this multiple of the median error */
#define ERROR_FLOOR 1.0   /* and at least this mean |luma error| */
/* What nova_vision_ela_suspicious asks of the region, set on bench/ela.sh's documents: an
 * edit saved at 95 over them stood out 6x-8x with 36-100 blocks at ~3 grey levels; genuine
 * photos, a hard single compression (quality 40) included, under 3.5x. */
#define SUSPICIOUS_BLOCKS 24
#define SUSPICIOUS_RATIO 5.0
#define SUSPICIOUS_ERROR 2.0

static inline double luma(const uint8_t *p)
{
    return 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

nova_status nova_vision_ela(const nova_vision_image_t *img, int quality, nova_vision_ela_t *out)
{
    memset(out, 0, sizeof(*out));
    if (img == NULL || img->rgb == NULL || img->width < 4 * BLOCK || img->height < 4 * BLOCK ||
        quality < 1 || quality > 100)
        return NOVA_INVALID;
    uint8_t *jpg = NULL;
    size_t jlen = 0;
    nova_status st = nova_vision_encode_jpeg(img, quality, &jpg, &jlen);
    if (st != NOVA_OK)
        return st;
    nova_vision_image_t re = {0};
    st = nova_vision_decode_jpeg(jpg, jlen, &re);
    free(jpg);
    if (st != NOVA_OK)
        return NOVA_INTERNAL;
    if (re.width != img->width || re.height != img->height) {
        nova_vision_image_free(&re);
        return NOVA_INTERNAL;
    }
    int bw = img->width / BLOCK, bh = img->height / BLOCK;
    size_t nb = (size_t)bw * bh;
    double *ratio = malloc(nb * sizeof(double)), *sorted = malloc(nb * sizeof(double));
    double *error = malloc(nb * sizeof(double));
    int *stack = malloc(nb * sizeof(int));
    uint8_t *mark = calloc(nb, 1);
    if (!ratio || !sorted || !error || !stack || !mark) {
        st = NOVA_NOMEM;
        goto end;
    }
    size_t textured = 0;
    int w = img->width;
    for (int by = 0; by < bh; by++)
        for (int bx = 0; bx < bw; bx++) {
            double err = 0, tex = 0;
            for (int y = by * BLOCK; y < (by + 1) * BLOCK; y++)
                for (int x = bx * BLOCK; x < (bx + 1) * BLOCK; x++) {
                    size_t i = ((size_t)y * w + x) * 3;
                    double l = luma(img->rgb + i);
                    err += fabs(l - luma(re.rgb + i));
                    if (x + 1 < w)
                        tex += fabs(l - luma(img->rgb + i + 3));
                    if (y + 1 < img->height)
                        tex += fabs(l - luma(img->rgb + i + (size_t)w * 3));
                }
            err /= BLOCK * BLOCK;
            tex /= 2 * BLOCK * BLOCK;
            size_t b = (size_t)by * bw + bx;
            error[b] = err;
            ratio[b] = tex >= TEXTURE_FLOOR ? err : -1;
            if (ratio[b] >= 0)
                sorted[textured++] = ratio[b];
        }
    out->textured_blocks = (int)textured;
    if (textured < 16)
        goto end; /* too little texture to compare: nothing to say */
    qsort(sorted, textured, sizeof(double), cmp_double);
    double median = sorted[textured / 2];
    out->median = median;
    double cut = median * OUTLIER > ERROR_FLOOR ? median * OUTLIER : ERROR_FLOOR;
    /* The largest 8-connected region of outlier blocks. */
    for (size_t b0 = 0; b0 < nb; b0++) {
        if (mark[b0] || ratio[b0] < cut)
            continue;
        int top = 0, count = 0, x0 = bw, y0 = bh, x1 = -1, y1 = -1;
        double sum = 0, esum = 0;
        stack[top++] = (int)b0;
        mark[b0] = 1;
        while (top > 0) {
            int b = stack[--top], x = b % bw, y = b / bw;
            count++;
            sum += ratio[b];
            esum += error[b];
            x0 = x < x0 ? x : x0;
            y0 = y < y0 ? y : y0;
            x1 = x > x1 ? x : x1;
            y1 = y > y1 ? y : y1;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int nx = x + dx, ny = y + dy;
                    if (nx < 0 || ny < 0 || nx >= bw || ny >= bh)
                        continue;
                    size_t n = (size_t)ny * bw + nx;
                    if (!mark[n] && ratio[n] >= cut) {
                        mark[n] = 1;
                        stack[top++] = (int)n;
                    }
                }
        }
        if (count > out->region_blocks) {
            out->region_blocks = count;
            out->region_ratio = median > 0 ? sum / count / median : 0;
            out->region_error = esum / count;
            out->region_x = x0 * BLOCK;
            out->region_y = y0 * BLOCK;
            out->region_w = (x1 - x0 + 1) * BLOCK;
            out->region_h = (y1 - y0 + 1) * BLOCK;
        }
    }
    for (size_t b = 0; b < nb; b++)
        out->outlier_blocks += ratio[b] >= cut;
end:
    free(ratio);
    free(error);
    free(sorted);
    free(stack);
    free(mark);
    nova_vision_image_free(&re);
    return st;
}

bool nova_vision_ela_suspicious(const nova_vision_ela_t *e)
{
    return e->region_blocks >= SUSPICIOUS_BLOCKS && e->region_ratio >= SUSPICIOUS_RATIO &&
           e->region_error >= SUSPICIOUS_ERROR;
}
