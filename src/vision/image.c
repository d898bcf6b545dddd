/* JPEG decode with libjpeg-turbo (default islow IDCT and fancy upsampling, as Debian's djpeg,
 * which the reference fixtures are made with) and EXIF orientation. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "internal.h"

/* Progressive files can hold thousands of scans, each a full pass over the image; libjpeg-turbo
 * suggests refusing more than 500 (its TJFLAG_LIMITSCANS). */
#define JPEG_MAX_SCANS 500

typedef struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
} jerr_t;

static void on_error(j_common_ptr c)
{
    jerr_t *e = (jerr_t *)c->err;
    longjmp(e->jb, 1);
}

static void on_message(j_common_ptr c)
{
    (void)c; /* warnings (corrupt data, extraneous bytes) are not logged by an engine */
}

static void on_progress(j_common_ptr c)
{
    if (c->is_decompressor) {
        j_decompress_ptr d = (j_decompress_ptr)c;
        if (d->input_scan_number > JPEG_MAX_SCANS) {
            jerr_t *e = (jerr_t *)c->err;
            longjmp(e->jb, 1);
        }
    }
}

static unsigned rd16(const uint8_t *p, int le)
{
    return le ? (unsigned)p[0] | (unsigned)p[1] << 8 : (unsigned)p[0] << 8 | p[1];
}

static uint32_t rd32(const uint8_t *p, int le)
{
    return le ? (uint32_t)rd16(p, 1) | (uint32_t)rd16(p + 2, 1) << 16
              : (uint32_t)rd16(p, 0) << 16 | rd16(p + 2, 0);
}

/* The entry of tag in IFD0 of a TIFF block (the body of an Exif APP1 after "Exif\0\0"): its
 * offset in t, with *le the byte order; 0 when there is none or the block is malformed. */
static size_t tiff_entry(const uint8_t *t, size_t n, unsigned tag, int *le)
{
    if (n < 8)
        return 0;
    if (t[0] == 'I' && t[1] == 'I')
        *le = 1;
    else if (t[0] == 'M' && t[1] == 'M')
        *le = 0;
    else
        return 0;
    if (rd16(t + 2, *le) != 42)
        return 0;
    uint32_t ifd = rd32(t + 4, *le);
    if (ifd > n - 2 || ifd < 8)
        return 0;
    unsigned entries = rd16(t + ifd, *le);
    for (unsigned i = 0; i < entries; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > n)
            return 0;
        if (rd16(t + e, *le) == tag)
            return e;
    }
    return 0;
}

/* Orientation from a TIFF block, or 1. */
static int tiff_orientation(const uint8_t *t, size_t n)
{
    int le = 0;
    size_t e = tiff_entry(t, n, 0x0112, &le);
    if (e && rd16(t + e + 2, le) == 3 && rd32(t + e + 4, le) == 1) {
        unsigned v = rd16(t + e + 8, le);
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

/* The TIFF block of the first Exif APP1 segment before the scan, or NULL. */
static const uint8_t *jpeg_exif(const uint8_t *data, size_t len, size_t *n)
{
    if (len < 4 || data[0] != 0xFF || data[1] != 0xD8)
        return NULL;
    size_t p = 2;
    while (p + 4 <= len) {
        if (data[p] != 0xFF)
            return NULL;
        uint8_t marker = data[p + 1];
        if (marker == 0xFF) { /* fill byte */
            p++;
            continue;
        }
        if (marker == 0xDA || marker == 0xD9) /* start of scan, end of image */
            return NULL;
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
            p += 2;
            continue;
        }
        size_t seg = rd16(data + p + 2, 0);
        if (seg < 2 || seg > len - p - 2)
            return NULL;
        const uint8_t *body = data + p + 4;
        size_t blen = seg - 2;
        if (marker == 0xE1 && blen >= 6 && memcmp(body, "Exif\0\0", 6) == 0) {
            *n = blen - 6;
            return body + 6;
        }
        p += 2 + seg;
    }
    return NULL;
}

int nova_vision_jpeg_orientation(const uint8_t *data, size_t len)
{
    size_t n = 0;
    const uint8_t *t = jpeg_exif(data, len, &n);
    return t ? tiff_orientation(t, n) : 1;
}

int nova_vision_jpeg_camera(const uint8_t *data, size_t len)
{
    size_t n = 0;
    int le = 0;
    const uint8_t *t = jpeg_exif(data, len, &n);
    if (t == NULL)
        return 0;
    /* Make (0x010F) or Model (0x0110): ASCII with a count of at least two (a letter and NUL) */
    for (unsigned tag = 0x010F; tag <= 0x0110; tag++) {
        size_t e = tiff_entry(t, n, tag, &le);
        if (e && rd16(t + e + 2, le) == 2 && rd32(t + e + 4, le) >= 2)
            return 1;
    }
    return 0;
}

/* Source pixel of output (ox, oy) for EXIF orientation o of a w x h stored image. */
static void orient_src(int o, int w, int h, int ox, int oy, int *sx, int *sy)
{
    switch (o) {
    case 2:
        *sx = w - 1 - ox;
        *sy = oy;
        break;
    case 3:
        *sx = w - 1 - ox;
        *sy = h - 1 - oy;
        break;
    case 4:
        *sx = ox;
        *sy = h - 1 - oy;
        break;
    case 5:
        *sx = oy;
        *sy = ox;
        break;
    case 6:
        *sx = oy;
        *sy = h - 1 - ox;
        break;
    case 7:
        *sx = w - 1 - oy;
        *sy = h - 1 - ox;
        break;
    case 8:
        *sx = w - 1 - oy;
        *sy = ox;
        break;
    default:
        *sx = ox;
        *sy = oy;
        break;
    }
}

static nova_status apply_orientation(nova_vision_image_t *img, int o)
{
    if (o <= 1 || o > 8)
        return NOVA_OK;
    int w = img->width, h = img->height;
    int ow = o >= 5 ? h : w, oh = o >= 5 ? w : h;
    uint8_t *out = malloc((size_t)w * (size_t)h * 3);
    if (!out)
        return NOVA_NOMEM;
    for (int y = 0; y < oh; y++) {
        for (int x = 0; x < ow; x++) {
            int sx, sy;
            orient_src(o, w, h, x, y, &sx, &sy);
            memcpy(out + ((size_t)y * ow + x) * 3, img->rgb + ((size_t)sy * w + sx) * 3, 3);
        }
    }
    free(img->rgb);
    img->rgb = out;
    img->width = ow;
    img->height = oh;
    return NOVA_OK;
}

nova_status nova_vision_decode_jpeg(const uint8_t *data, size_t len, nova_vision_image_t *out)
{
    memset(out, 0, sizeof *out);
    if (!data || len < 4 || len > (size_t)1 << 30 || data[0] != 0xFF || data[1] != 0xD8)
        return NOVA_INVALID;
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress = {.progress_monitor = on_progress};
    jerr_t err;
    /* volatile: these change between setjmp and a longjmp back to it. */
    uint8_t *volatile rgb = NULL;
    volatile nova_status st = NOVA_INVALID;
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error;
    err.pub.output_message = on_message;
    if (setjmp(err.jb)) {
        jpeg_destroy_decompress(&cinfo);
        free(rgb);
        return st;
    }
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.image_width == 0 || cinfo.image_height == 0 ||
        cinfo.image_width > NOVA_VISION_MAX_SIDE || cinfo.image_height > NOVA_VISION_MAX_SIDE ||
        (uint64_t)cinfo.image_width * cinfo.image_height > NOVA_VISION_MAX_PIXELS) {
        st = NOVA_TOO_LARGE;
        longjmp(err.jb, 1);
    }
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK)
        longjmp(err.jb, 1);
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 3)
        longjmp(err.jb, 1);
    size_t stride = (size_t)cinfo.output_width * 3;
    st = NOVA_NOMEM;
    rgb = malloc(stride * cinfo.output_height);
    if (!rgb)
        longjmp(err.jb, 1);
    st = NOVA_INVALID;
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = rgb + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    out->width = (int)cinfo.output_width;
    out->height = (int)cinfo.output_height;
    out->rgb = rgb;
    jpeg_destroy_decompress(&cinfo);
    nova_status ost = apply_orientation(out, nova_vision_jpeg_orientation(data, len));
    if (ost != NOVA_OK)
        nova_vision_image_free(out);
    return ost;
}

void nova_vision_image_free(nova_vision_image_t *img)
{
    if (!img)
        return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

nova_status nova_vision_encode_jpeg(const nova_vision_image_t *img, int quality, uint8_t **out,
                                    size_t *len)
{
    *out = NULL;
    *len = 0;
    if (img == NULL || img->rgb == NULL || img->width <= 0 || img->height <= 0 || quality < 1 ||
        quality > 100)
        return NOVA_INVALID;
    struct jpeg_compress_struct c;
    jerr_t e;
    unsigned char *buf = NULL;
    unsigned long n = 0;
    c.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = on_error;
    e.pub.output_message = on_message;
    if (setjmp(e.jb)) {
        jpeg_destroy_compress(&c);
        free(buf);
        return NOVA_NOMEM; /* the only failure of an in-memory encode of valid pixels */
    }
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &n);
    c.image_width = (JDIMENSION)img->width;
    c.image_height = (JDIMENSION)img->height;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(img->rgb + (size_t)c.next_scanline * img->width * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *out = buf;
    *len = n;
    return NOVA_OK;
}
