/*
 * idv_bench.c: the gateway's OCR + MRZ steps on generated documents (tools/idv_docgen.py), as a
 * worker runs them (idv_check_ocr, then idv_check_mrz on its output). For each image it
 * compares the MRZ fields with the truth file:
 *   correct          the field read equals the truth;
 *   wrong, flagged   it differs and the read says so (a failed check digit or an MRZ step that
 *                    did not pass: the verification goes to review or is rejected);
 *   wrong, silent    it differs and the MRZ step passed: the failure the issue forbids;
 *   missing          no zone was read (the step failed).
 * Prints JSON: per class (clean, degraded) and per variant the field-level read rate and how
 * many documents the legacy engine read a second time (mrz_second_reads), and the OCR + MRZ
 * latency per document (p50, p95).
 *
 *   idv_bench DOCS_DIR [TESSDATA_DIR]
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/idv/gateway/internal.h"

static const char *const FIELDS[] = {"document_code", "issuer",     "document_number",
                                     "nationality",   "birth_date", "sex",
                                     "expiry_date",   "surname",    "given_names"};
#define NFIELDS (sizeof(FIELDS) / sizeof(FIELDS[0]))

enum { CORRECT, FLAGGED, SILENT, MISSING, OUTCOMES };
typedef struct tally {
    long n[OUTCOMES], docs, docs_all_correct, second_reads;
} tally_t;

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[len] = 0;
        *n = (size_t)len;
    }
    return b;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double clock_ms(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static json_t *tally_json(const tally_t *t)
{
    long fields = t->n[CORRECT] + t->n[FLAGGED] + t->n[SILENT] + t->n[MISSING];
    return json_pack(
        "{s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:i}", "documents", (int)t->docs, "fields",
        (int)fields, "correct", (int)t->n[CORRECT], "wrong_flagged", (int)t->n[FLAGGED],
        "wrong_silent", (int)t->n[SILENT], "missing", (int)t->n[MISSING], "field_read_rate",
        fields ? (double)t->n[CORRECT] / (double)fields : 0, "documents_all_fields_correct",
        t->docs ? (double)t->docs_all_correct / (double)t->docs : 0, "mrz_second_reads",
        (int)t->second_reads);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: idv_bench DOCS_DIR [TESSDATA_DIR]\n");
        return 2;
    }
    struct nova_idv g = {0};
    g.tessdata = argc > 2 ? argv[2] : "";
    DIR *d = opendir(argv[1]);
    if (d == NULL) {
        perror(argv[1]);
        return 1;
    }
    struct dirent *e;
    size_t cap = 1024, n = 0;
    double *lat = malloc(cap * sizeof(double)), *cpu = malloc(cap * sizeof(double)),
           *pcpu = malloc(cap * sizeof(double));
    tally_t clean = {0}, degraded = {0};
    json_t *variants = json_object();
    static tally_t vt[16];
    const char *vnames[16];
    size_t nv = 0;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".jpg") != 0)
            continue;
        char path[4096], tpath[4096];
        snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
        snprintf(tpath, sizeof(tpath), "%s/%.*s.json", argv[1], (int)(l - 4), e->d_name);
        size_t jl = 0, tl = 0;
        unsigned char *jpg = slurp(path, &jl), *tt = slurp(tpath, &tl);
        json_t *truth = tt ? json_loads((char *)tt, 0, NULL) : NULL;
        free(tt);
        if (jpg == NULL || truth == NULL) {
            fprintf(stderr, "idv_bench: %s or its truth file unreadable\n", path);
            return 1;
        }
        idv_images_t im = {.document_front = jpg, .document_front_len = jl};
        json_t *steps = json_object();
        idv_check_in_t in = {&g,   &im,  NULL, steps, NULL, (int64_t)time(NULL),
                             NULL, NULL, NULL, NULL,  NULL, NULL};
        idv_check_out_t ocr = {0}, mrz = {0};
        double t0 = clock_ms(CLOCK_MONOTONIC), c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID),
               p0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
        if (idv_check_ocr(&in, &ocr) != NOVA_OK) {
            fprintf(stderr, "idv_bench: OCR unavailable (eng.traineddata)\n");
            return 1;
        }
        json_object_set_new(steps, "ocr",
                            json_pack("{s:s, s:o}", "check", "ocr", "extracted",
                                      ocr.extracted ? ocr.extracted : json_object()));
        idv_check_mrz(&in, &mrz);
        double ms = clock_ms(CLOCK_MONOTONIC) - t0, cms = clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0,
               pms = clock_ms(CLOCK_PROCESS_CPUTIME_ID) - p0;
        if (n == cap) {
            cap *= 2;
            lat = realloc(lat, cap * sizeof(double));
            cpu = realloc(cpu, cap * sizeof(double));
            pcpu = realloc(pcpu, cap * sizeof(double));
        }
        cpu[n] = cms;
        pcpu[n] = pms;
        lat[n++] = ms;
        const char *variant = json_string_value(json_object_get(truth, "variant"));
        tally_t *cls = strcmp(variant, "clean") == 0 ? &clean : &degraded;
        size_t vi = 0;
        while (vi < nv && strcmp(vnames[vi], variant) != 0)
            vi++;
        if (vi == nv && nv < 16)
            vnames[nv++] = strdup(variant);
        json_t *fields = json_object_get(truth, "fields");
        bool passed = strcmp(mrz.status, "passed") == 0, all = true;
        for (size_t f = 0; f < NFIELDS; f++) {
            const char *want = json_string_value(json_object_get(fields, FIELDS[f]));
            /* nova_mrz_json's fields carry the truth file's names. */
            const char *got = json_string_value(
                json_object_get(json_object_get(mrz.extracted, "fields"), FIELDS[f]));
            int k;
            if (mrz.extracted == NULL)
                k = MISSING;
            else if (got && want && strcmp(got, want) == 0)
                k = CORRECT;
            else
                k = passed ? SILENT : FLAGGED;
            cls->n[k]++;
            if (vi < 16)
                vt[vi].n[k]++;
            all = all && k == CORRECT;
            if (k == SILENT || k == FLAGGED)
                fprintf(stderr, "idv_bench: %s: %s read %s, truth %s, MRZ step %s\n", e->d_name,
                        FIELDS[f], got ? got : "(none)", want, mrz.status);
        }
        /* IDV_BENCH_DUMP=1: what OCR saw for each document read wrong (the MRZ candidates and
         * the visual zone's text: synthetic documents, no personal data), to stderr. */
        if (!all && getenv("IDV_BENCH_DUMP")) {
            json_t *ex = ocr.extracted;
            json_t *o = json_pack("{s:s, s:O?, s:O?, s:O?}", "document", e->d_name, "skew",
                                  json_object_get(ex, "skew_degrees"), "mrz_candidates",
                                  json_object_get(ex, "mrz_candidates"), "text",
                                  json_object_get(ex, "text"));
            char *dump = o ? json_dumps(o, JSON_COMPACT) : NULL;
            fprintf(stderr, "idv_bench: dump %s\n", dump ? dump : "");
            free(dump);
            json_decref(o);
        }
        /* The legacy engine read the band once more (ocr.c): the OCR step's costliest case. */
        bool second = json_is_true(json_object_get(ocr.extracted, "mrz_second_read"));
        cls->docs++;
        cls->docs_all_correct += all;
        cls->second_reads += second;
        if (vi < 16) {
            vt[vi].docs++;
            vt[vi].docs_all_correct += all;
            vt[vi].second_reads += second;
        }
        json_decref(ocr.reasons);
        json_decref(mrz.reasons);
        json_decref(mrz.extracted);
        json_decref(steps);
        json_decref(truth);
        free(jpg);
    }
    closedir(d);
    qsort(lat, n, sizeof(double), cmp_double);
    qsort(cpu, n, sizeof(double), cmp_double);
    qsort(pcpu, n, sizeof(double), cmp_double);
    for (size_t i = 0; i < nv; i++)
        json_object_set_new(variants, vnames[i], tally_json(&vt[i]));
    /* Wall time counts the machine's other load; CPU time is the document's own cost: the
     * thread's, and the process's, which also counts threads a library starts (OpenMP). */
    json_t *out = json_pack("{s:o, s:o, s:o, s:{s:i, s:f, s:f, s:f}, s:{s:f, s:f, s:f}, "
                            "s:{s:f, s:f, s:f}}",
                            "clean", tally_json(&clean), "degraded", tally_json(&degraded),
                            "by_variant", variants, "ocr_mrz_latency_ms", "documents", (int)n,
                            "p50", n ? lat[n / 2] : 0, "p95", n ? lat[(size_t)(n * 0.95)] : 0,
                            "max", n ? lat[n - 1] : 0, "ocr_mrz_cpu_ms", "p50", n ? cpu[n / 2] : 0,
                            "p95", n ? cpu[(size_t)(n * 0.95)] : 0, "max", n ? cpu[n - 1] : 0,
                            "ocr_mrz_process_cpu_ms", "p50", n ? pcpu[n / 2] : 0, "p95",
                            n ? pcpu[(size_t)(n * 0.95)] : 0, "max", n ? pcpu[n - 1] : 0);
    char *text = json_dumps(out, JSON_INDENT(2));
    puts(text);
    free(text);
    json_decref(out);
    free(lat);
    free(cpu);
    free(pcpu);
    return 0;
}
