/*
 * jpeg_fuzz.c: libFuzzer target for the vision engine's image intake: the EXIF orientation
 * and camera (Make/Model) scanners and the JPEG decoder with orientation applied
 * (nova_vision_decode_jpeg), which is where every uploaded selfie and document photo enters. A
 * decoded image must honour vision.h: positive size within NOVA_VISION_MAX_SIDE and
 * NOVA_VISION_MAX_PIXELS, pixels allocated (every byte is read, so ASan sees any short buffer), and
 * a refusal leaves the output empty. A violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>

#include "nova/vision.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int o = nova_vision_jpeg_orientation(data, size);
    if (o < 1 || o > 8)
        abort();
    int cam = nova_vision_jpeg_camera(data, size);
    if (cam != 0 && cam != 1)
        abort();
    nova_vision_image_t img;
    nova_status st = nova_vision_decode_jpeg(data, size, &img);
    if (st != NOVA_OK) {
        if (img.rgb != NULL || img.width != 0 || img.height != 0)
            abort();
        if (st != NOVA_INVALID && st != NOVA_TOO_LARGE && st != NOVA_NOMEM)
            abort();
        return 0;
    }
    if (img.rgb == NULL || img.width <= 0 || img.height <= 0 || img.width > NOVA_VISION_MAX_SIDE ||
        img.height > NOVA_VISION_MAX_SIDE ||
        (uint64_t)img.width * (uint64_t)img.height > NOVA_VISION_MAX_PIXELS)
        abort();
    size_t n = (size_t)img.width * (size_t)img.height * 3;
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum ^= img.rgb[i];
    (void)sum;
    nova_vision_image_free(&img);
    if (img.rgb != NULL)
        abort();
    return 0;
}
