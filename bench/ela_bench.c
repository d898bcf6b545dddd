/* ela_bench: error-level analysis (src/vision/ela.c) over a directory of document photos,
 * genuine and forged (bench/ela.sh makes them). A file's group is its name's last '_' part
 * without ".jpg" (clean, blur, ..., forged95, forged90). Prints JSON: per group the images,
 * how many nova_vision_ela_suspicious flagged, and the time of one analysis (p50, p95 ms). */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nova/vision.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ela_bench DIR\n");
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (d == NULL) {
        perror(argv[1]);
        return 1;
    }
    json_t *groups = json_object();
    double *ms = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".jpg") != 0)
            continue;
        char path[4096], group[64];
        snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
        const char *u = strrchr(e->d_name, '_');
        snprintf(group, sizeof(group), "%.*s", u ? (int)(l - 4 - (size_t)(u + 1 - e->d_name)) : 0,
                 u ? u + 1 : "");
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        rewind(f);
        uint8_t *buf = malloc((size_t)len);
        if (buf == NULL || fread(buf, 1, (size_t)len, f) != (size_t)len) {
            fclose(f);
            free(buf);
            continue;
        }
        fclose(f);
        nova_vision_image_t img;
        if (nova_vision_decode_jpeg(buf, (size_t)len, &img) != NOVA_OK) {
            fprintf(stderr, "ela_bench: %s: not a JPEG\n", path);
            free(buf);
            continue;
        }
        nova_vision_ela_t ela;
        double t0 = now_ms();
        nova_status st = nova_vision_ela(&img, 90, &ela);
        double t = now_ms() - t0;
        bool flagged = st == NOVA_OK && nova_vision_ela_suspicious(&ela);
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            double *m = realloc(ms, cap * sizeof(double));
            if (m == NULL)
                return 1;
            ms = m;
        }
        ms[n++] = t;
        json_t *g = json_object_get(groups, group);
        if (g == NULL) {
            g = json_pack("{s:i, s:i}", "images", 0, "flagged", 0);
            json_object_set_new(groups, group, g);
        }
        json_object_set_new(g, "images",
                            json_integer(json_integer_value(json_object_get(g, "images")) + 1));
        json_object_set_new(
            g, "flagged",
            json_integer(json_integer_value(json_object_get(g, "flagged")) + flagged));
        nova_vision_image_free(&img);
        free(buf);
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "ela_bench: no JPEG in %s\n", argv[1]);
        return 1;
    }
    qsort(ms, n, sizeof(double), cmp);
    json_t *out = json_pack("{s:o, s:{s:f, s:f}}", "groups", groups, "ms", "p50", ms[n / 2], "p95",
                            ms[n * 95 / 100]);
    char *text = json_dumps(out, JSON_INDENT(2) | JSON_SORT_KEYS);
    puts(text);
    free(text);
    json_decref(out);
    free(ms);
    return 0;
}
