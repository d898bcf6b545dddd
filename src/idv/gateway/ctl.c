/* ctl.c: `novactl ocr mrz IMAGE.jpg`: the worker's OCR and MRZ steps on one local image, no
 * store or server, printing the MRZ JSON of `novactl mrz parse` (nova_mrz_json) as the mrz
 * step returns it (names proved and repaired by the visual zone), with the step's status and
 * reasons and the MRZ lines OCR read. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

int nova_idv_ctl_ocr_mrz(const char *path, const char *tessdata, bool json_out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "novactl: %s: cannot open\n", path);
        return 6;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
        if (n == cap) {
            uint8_t *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
            if (nb == NULL)
                free(buf);
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "novactl: %s: too large (64 MiB at most)\n", path);
        return 6;
    }
    struct nova_idv g = {0};
    g.tessdata = (char *)(tessdata ? tessdata : "");
    idv_images_t im = {.document_front = buf, .document_front_len = n};
    json_t *steps = json_object();
    idv_check_in_t in = {&g,   &im,  NULL, steps, NULL, nova_time_now(),
                         NULL, NULL, NULL, NULL,  NULL, NULL};
    idv_check_out_t ocr = {0}, mrz = {0};
    int rc = 1;
    if (idv_check_ocr(&in, &ocr) != NOVA_OK) {
        fprintf(stderr, "novactl: OCR unavailable: eng.traineddata not found (NOVA_TESSDATA)\n");
        goto end;
    }
    json_object_set_new(steps, "ocr",
                        json_pack("{s:s, s:O}", "check", "ocr", "extracted",
                                  ocr.extracted ? ocr.extracted : json_null()));
    idv_check_mrz(&in, &mrz);
    /* No zone: the same shape, empty, with the step's reason as the error. */
    json_t *o = mrz.extracted
                    ? json_incref(mrz.extracted)
                    : json_pack("{s:b, s:n, s:n, s:{}, s:{}, s:[{s:s, s:O, s:s}], s:[]}", "valid",
                                0, "format", "fields", "checks", "proved", "errors", "field",
                                "zone", "code", json_array_get(mrz.reasons, 0), "message",
                                "no machine-readable zone was read", "repairs");
    json_object_set_new(o, "status", json_string(mrz.status));
    json_object_set_new(o, "reasons", mrz.reasons ? json_incref(mrz.reasons) : json_array());
    json_object_set_new(o, "mrz_lines", json_incref(json_object_get(ocr.extracted, "mrz_lines")));
    char *text = json_dumps(o, json_out ? JSON_COMPACT : JSON_INDENT(2));
    printf("%s\n", text ? text : "{}");
    free(text);
    rc = json_is_true(json_object_get(o, "valid")) ? 0 : 6;
    json_decref(o);
end:
    json_decref(ocr.reasons);
    json_decref(ocr.extracted);
    json_decref(mrz.reasons);
    json_decref(mrz.extracted);
    json_decref(steps);
    free(buf);
    return rc;
}
