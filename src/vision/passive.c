/* Passive liveness signals of one face: sharpness (as the face match check), screen moire
 * (periodic peaks in the spectrum of the face at its native resolution), colourfulness
 * (Hasler and Suesstrunk 2003: a print or a greyed screen loses it), texture (the share of
 * high-frequency energy, which a print or a second camera pass removes) and whether the EXIF
 * names a camera. The spectrum is FFTW's (libfftw3f): the plan is made once, execution with
 * fresh arrays is thread-safe (FFTW's "new-array execute" functions). */
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SPEC 128 /* side of the analysed square of luma */
#define SPEC_C (SPEC / 2 + 1)
#define MOIRE_R0 10 /* radii below it are the face's own shape, not a screen's grid */
#define TEXTURE_R (SPEC / 8)

static const char *const PV_REASONS[NOVA_VISION_PV_COUNT] = {
    "blurred", "screen_moire", "low_colour", "flat_texture", "no_camera_exif",
};

const char *nova_vision_passive_reason_name(unsigned bit)
{
    for (int i = 0; i < NOVA_VISION_PV_COUNT; i++)
        if (bit == 1u << i)
            return PV_REASONS[i];
    return NULL;
}

static pthread_once_t plan_once = PTHREAD_ONCE_INIT;
static fftwf_plan plan;

static void plan_make(void)
{
    float *in = fftwf_malloc(sizeof(float) * SPEC * SPEC);
    fftwf_complex *out = fftwf_malloc(sizeof(fftwf_complex) * SPEC * SPEC_C);
    if (in && out)
        plan = fftwf_plan_dft_r2c_2d(SPEC, SPEC, in, out, FFTW_ESTIMATE);
    fftwf_free(in);
    fftwf_free(out);
}

/* Luma at (x, y), clamped to the image. */
static float luma(const nova_vision_image_t *img, int x, int y)
{
    x = x < 0 ? 0 : x >= img->width ? img->width - 1 : x;
    y = y < 0 ? 0 : y >= img->height ? img->height - 1 : y;
    const uint8_t *p = img->rgb + ((size_t)y * img->width + x) * 3;
    return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
}

/* Moire and texture from the SPEC x SPEC square at the centre of the face box: at native
 * resolution when the face is at least SPEC pixels wide (a resize would alias a screen's
 * grid away), else sampled up to it (nearest pixel). */
static nova_status spectrum(const nova_vision_image_t *img, const nova_vision_box_t *b,
                            double *moire, double *texture)
{
    pthread_once(&plan_once, plan_make);
    if (plan == NULL)
        return NOVA_NOMEM;
    float *in = fftwf_malloc(sizeof(float) * SPEC * SPEC);
    fftwf_complex *out = fftwf_malloc(sizeof(fftwf_complex) * SPEC * SPEC_C);
    if (!in || !out) {
        fftwf_free(in);
        fftwf_free(out);
        return NOVA_NOMEM;
    }
    double side = fmin(b->w, b->h);
    double step = side >= SPEC ? 1.0 : side / SPEC;
    double x0 = b->x + b->w / 2 - step * SPEC / 2, y0 = b->y + b->h / 2 - step * SPEC / 2;
    double mean = 0;
    for (int r = 0; r < SPEC; r++)
        for (int c = 0; c < SPEC; c++) {
            float v = luma(img, (int)(x0 + c * step), (int)(y0 + r * step));
            in[r * SPEC + c] = v;
            mean += v;
        }
    mean /= SPEC * SPEC;
    /* Hann window, so the square's borders do not smear a cross over the spectrum */
    for (int r = 0; r < SPEC; r++) {
        double wr = 0.5 - 0.5 * cos(2 * M_PI * r / (SPEC - 1));
        for (int c = 0; c < SPEC; c++) {
            double wc = 0.5 - 0.5 * cos(2 * M_PI * c / (SPEC - 1));
            in[r * SPEC + c] = (float)((in[r * SPEC + c] - mean) * wr * wc);
        }
    }
    fftwf_execute_dft_r2c(plan, in, out);
    fftwf_free(in);
    /* radial mean of the magnitude, then the largest bin over its radius' mean */
    double sum[SPEC] = {0}, high = 0, total = 0;
    int cnt[SPEC] = {0};
    float *mag = malloc(sizeof(float) * SPEC * SPEC_C);
    if (!mag) {
        fftwf_free(out);
        return NOVA_NOMEM;
    }
    for (int r = 0; r < SPEC; r++) {
        int fy = r < SPEC / 2 ? r : r - SPEC;
        for (int c = 0; c < SPEC_C; c++) {
            double re = out[r * SPEC_C + c][0], im = out[r * SPEC_C + c][1];
            double m = sqrt(re * re + im * im);
            mag[r * SPEC_C + c] = (float)m;
            int rad = (int)lround(sqrt((double)fy * fy + (double)c * c));
            if (rad == 0 || rad >= SPEC)
                continue;
            sum[rad] += m;
            cnt[rad]++;
            double e = m * m * (c == 0 || c == SPEC / 2 ? 1 : 2);
            total += e;
            if (rad > TEXTURE_R)
                high += e;
        }
    }
    fftwf_free(out);
    double peak = 0;
    for (int r = 0; r < SPEC; r++) {
        int fy = r < SPEC / 2 ? r : r - SPEC;
        for (int c = 0; c < SPEC_C; c++) {
            int rad = (int)lround(sqrt((double)fy * fy + (double)c * c));
            if (rad < MOIRE_R0 || rad > SPEC / 2 || sum[rad] <= 0)
                continue;
            double ratio = mag[r * SPEC_C + c] / (sum[rad] / cnt[rad]);
            if (ratio > peak)
                peak = ratio;
        }
    }
    free(mag);
    *moire = peak;
    *texture = total > 0 ? high / total : 0;
    return NOVA_OK;
}

/* Hasler and Suesstrunk's colourfulness M of the face box (every other pixel). */
static double colourfulness(const nova_vision_image_t *img, const nova_vision_box_t *b)
{
    int x0 = (int)fmax(0, b->x), y0 = (int)fmax(0, b->y);
    int x1 = (int)fmin(img->width, b->x + b->w), y1 = (int)fmin(img->height, b->y + b->h);
    double srg = 0, srg2 = 0, syb = 0, syb2 = 0;
    long n = 0;
    for (int y = y0; y < y1; y += 2)
        for (int x = x0; x < x1; x += 2) {
            const uint8_t *p = img->rgb + ((size_t)y * img->width + x) * 3;
            double rg = (double)p[0] - p[1], yb = 0.5 * (p[0] + p[1]) - p[2];
            srg += rg, srg2 += rg * rg, syb += yb, syb2 += yb * yb;
            n++;
        }
    if (n == 0)
        return 0;
    double mrg = srg / n, myb = syb / n;
    double vrg = fmax(0, srg2 / n - mrg * mrg), vyb = fmax(0, syb2 / n - myb * myb);
    return sqrt(vrg + vyb) + 0.3 * sqrt(mrg * mrg + myb * myb);
}

nova_status nova_vision_passive(const nova_vision_image_t *img, const uint8_t *jpeg, size_t len,
                                const nova_vision_face_t *f, const nova_vision_passive_opts_t *opts,
                                nova_vision_passive_t *out)
{
    memset(out, 0, sizeof *out);
    nova_vision_passive_opts_t o = opts ? *opts : (nova_vision_passive_opts_t){0};
    o.min_sharpness = o.min_sharpness > 0 ? o.min_sharpness : 12;
    o.max_moire = o.max_moire > 0 ? o.max_moire : 15;
    o.min_colourfulness = o.min_colourfulness > 0 ? o.min_colourfulness : 10;
    o.min_texture = o.min_texture > 0 ? o.min_texture : 0.002;
    double ear, brightness;
    nova_status st = nova_vision_face_quality(img, f, &ear, &out->sharpness, &brightness);
    if (st == NOVA_OK)
        st = spectrum(img, &f->box, &out->moire, &out->texture);
    if (st != NOVA_OK)
        return st;
    out->colourfulness = colourfulness(img, &f->box);
    out->camera = jpeg ? nova_vision_jpeg_camera(jpeg, len) : -1;
    if (out->sharpness < o.min_sharpness)
        out->reasons |= NOVA_VISION_PV_BLURRED;
    if (out->moire > o.max_moire)
        out->reasons |= NOVA_VISION_PV_MOIRE;
    if (out->colourfulness < o.min_colourfulness)
        out->reasons |= NOVA_VISION_PV_COLOUR;
    if (out->texture < o.min_texture)
        out->reasons |= NOVA_VISION_PV_TEXTURE;
    if (o.require_camera && out->camera != 1)
        out->reasons |= NOVA_VISION_PV_NO_CAMERA;
    return NOVA_OK;
}
