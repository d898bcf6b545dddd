/*
 * ocr.c: the OCR step, Tesseract 5 through its C API (Debian libtesseract-dev). Two passes on
 * the document's grey image: the whole page (automatic layout) for the visual zone's text,
 * and the bottom band where ICAO 9303 puts the machine-readable zone, read as one block with
 * the MRZ alphabet only (A-Z, 0-9, '<'), whose lines of 30, 36 or 44 characters become
 * mrz_lines for the mrz step. The MRZ engine, not OCR, decides what a character is: it repairs
 * letter-for-digit confusions only where a check digit proves them.
 *
 * Two recognisers: Tesseract's LSTM on Debian's tesseract-ocr-eng reads both passes; when
 * neither pass gives a zone every check digit proves, or the mrz step would not prove the names
 * from them with the visual zone (idv_mrz_names_proved: after its repairs of digits read for
 * letters, fillers read as K/X/S, one glyph read as several, and from either reading), the
 * legacy (pattern) engine of the npm eng.traineddata (NOVA_TESSDATA, fetched by
 * scripts/models.sh; Debian's model has no legacy part) reads the MRZ band once more and its
 * lines join mrz_candidates. The two err in different places, and the mrz step keeps the
 * reading its check digits prove best, so that read can only add a proved zone; a document
 * whose zone and names the two LSTM passes prove costs no third read.
 *
 * A TessBaseAPI is not thread-safe and costs ~100 ms to load, so each worker thread keeps its
 * own (pthread keys), made on its first OCR step.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tesseract/capi.h>

#include "internal.h"
#include "nova/log.h"
#include "nova/mrz.h"
#include "nova/vision.h"

static pthread_key_t tess_key, legacy_key;
static pthread_once_t tess_once = PTHREAD_ONCE_INIT;

static void tess_free(void *p)
{
    TessBaseAPIDelete(p);
}

static void tess_key_make(void)
{
    pthread_key_create(&tess_key, tess_free);
    pthread_key_create(&legacy_key, tess_free);
}

/* Tesseract's LSTM asks OpenMP for 4 threads per layer (num_threads(4) in its source), and
 * those threads only contend with the other workers (each worker is a thread already) and
 * spin: on one core a document cost ~3 times its CPU time in threads of OpenMP that the
 * worker's own clock did not see. OMP_THREAD_LIMIT cannot be set from here (libgomp reads its
 * environment when it loads, before main), so the calling thread's max-active-levels ICV is
 * set to 0: its parallel regions run on itself. Looked up at run time, as Debian's Tesseract
 * links libgomp and one built without OpenMP does not; an operator's OMP_THREAD_LIMIT in the
 * environment is left to rule. */
static void omp_one_thread(void)
{
    if (getenv("OMP_THREAD_LIMIT"))
        return;
    void (*set_levels)(int);
    *(void **)&set_levels = dlsym(RTLD_DEFAULT, "omp_set_max_active_levels");
    if (set_levels)
        set_levels(0);
}

/* This thread's second reader of the MRZ band: Tesseract's legacy (pattern) engine on a model
 * that has one (the npm eng.traineddata in datapath), or NULL when none loads. Its lines are one
 * more candidate for the mrz step, which keeps the one its check digits prove best. */
static TessBaseAPI *legacy_engine(const char *datapath)
{
    static _Atomic int warned;
    pthread_once(&tess_once, tess_key_make);
    TessBaseAPI *api = pthread_getspecific(legacy_key);
    if (api || !datapath || !*datapath)
        return api;
    api = TessBaseAPICreate();
    if (api == NULL)
        return NULL;
    if (TessBaseAPIInit2(api, datapath, "eng", OEM_TESSERACT_ONLY) != 0) {
        if (!atomic_exchange(&warned, 1))
            nova_log_warn("idv: no legacy-engine eng.traineddata in NOVA_TESSDATA: the MRZ band "
                          "is read once");
        TessBaseAPIDelete(api);
        return NULL;
    }
    TessBaseAPISetVariable(api, "debug_file", "/dev/null");
    pthread_setspecific(legacy_key, api);
    return api;
}

/* This thread's LSTM engine on Debian's model, or NULL when it cannot be loaded. */
static TessBaseAPI *engine(void)
{
    pthread_once(&tess_once, tess_key_make);
    TessBaseAPI *api = pthread_getspecific(tess_key);
    if (api)
        return api;
    omp_one_thread();
    api = TessBaseAPICreate();
    if (api == NULL)
        return NULL;
    if (TessBaseAPIInit3(api, NULL, "eng") != 0) {
        nova_log_warn("idv: tesseract cannot load Debian's eng.traineddata (tesseract-ocr-eng)");
        TessBaseAPIDelete(api);
        return NULL;
    }
    TessBaseAPISetVariable(api, "debug_file", "/dev/null");
    /* Documents print dark on light: the inverted-text retry of every line only costs time. */
    TessBaseAPISetVariable(api, "tessedit_do_invert", "0");
    pthread_setspecific(tess_key, api);
    return api;
}

/* Grey (luma) copy of an RGB image; malloc'd. */
static uint8_t *grey(const nova_vision_image_t *img)
{
    size_t n = (size_t)img->width * img->height;
    uint8_t *g = malloc(n);
    for (size_t i = 0; g && i < n; i++) {
        const uint8_t *p = img->rgb + i * 3;
        g[i] = (uint8_t)((p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8);
    }
    return g;
}

/* The MRZ lines of text. Each line is cut to the MRZ alphabet: spaces dropped, lower case
 * raised, any other character read as the filler '<', and a lone 'K' between fillers read as
 * '<' (OCR's classic confusion; the MRZ step reports the zone's repairs, and names, which no
 * check digit covers, are cross-checked with the visual zone). Lines of 26-48 characters with
 * at least half of them not fillers-by-substitution are kept; then the last 3 (TD1, 30 wide)
 * or 2 (TD2 36, TD3 44) are padded or cut to the ICAO width. */
json_t *idv_mrz_lines(const char *text, unsigned *repairs);
json_t *idv_mrz_lines(const char *text, unsigned *repairs)
{
    char lines[12][64];
    size_t n = 0;
    unsigned fixed = 0;
    for (const char *p = text; p && *p && n < 12;) {
        size_t l = 0, bad = 0;
        for (; *p && *p != '\n'; p++) {
            unsigned char c = (unsigned char)*p;
            if (c == ' ' || c == '\r' || c == '\t')
                continue;
            if (c >= 0x80) {
                /* A UTF-8 sequence ('«' for '<'): one filler for the whole character. */
                while ((unsigned char)p[1] >= 0x80 && ((unsigned char)p[1] & 0xC0) == 0x80)
                    p++;
                c = '<';
                bad++;
            } else if (islower(c)) {
                c = (unsigned char)toupper(c);
            } else if (!(isupper(c) || isdigit(c) || c == '<')) {
                c = '<';
                bad++;
            }
            if (l < 63)
                lines[n][l++] = (char)c;
        }
        if (*p == '\n')
            p++;
        lines[n][l] = '\0';
        if (l >= 26 && l <= 48 && bad * 2 <= l)
            n++;
    }
    json_t *arr = json_array();
    if (n < 2)
        return arr;
    size_t last = strlen(lines[n - 1]);
    size_t want = last <= 33 ? 30 : last <= 40 ? 36 : 44;
    size_t take = want == 30 && n >= 3 ? 3 : 2;
    for (size_t i = n - take; i < n; i++) {
        char *line = lines[i];
        size_t l = strlen(line);
        /* Fields of letters only (document code, issuer; nationality on the next line): a
         * digit there is a letter misread. */
        static const char digit_letter[] = "OIZ3A5G7B9"; /* 0->O 1->I 2->Z 5->S 6->G 8->B */
        size_t nat = want == 30 ? 15 : 10;
        for (size_t k = 0; k < l; k++) {
            bool letters =
                (i == n - take && k < 5) || (i == n - take + 1 && k >= nat && k < nat + 3);
            char c = line[k];
            if (letters && c >= '0' && c <= '9' && c != '3' && c != '4' && c != '7' && c != '9') {
                line[k] = c == '5' ? 'S' : digit_letter[c - '0'];
                fixed++;
            }
        }
        /* Fillers read as K: a K (or a run of them) with a filler or the line's end on both
         * sides is fillers ("<<<<K<K<KKKK", "MOKOENA<K<DAVID"); a K touching a letter or a
         * digit is part of a word ("ERIK<<", "<<KAMAU"). */
        for (size_t k = 0; k < l;) {
            if (line[k] != 'K') {
                k++;
                continue;
            }
            size_t e = k;
            while (e < l && line[e] == 'K')
                e++;
            bool left = k == 0 || line[k - 1] == '<', right = e == l || line[e] == '<';
            if (left && right && (k > 0 || e < l))
                for (size_t q = k; q < e; q++) {
                    line[q] = '<';
                    fixed++;
                }
            k = e;
        }
        while (l < want)
            line[l++] = '<';
        line[want] = '\0';
        json_array_append_new(arr, json_string(line));
    }
    if (repairs)
        *repairs = fixed;
    return arr;
}

/* The skew of the text lines in degrees (within +-12), by projection profiles: the ink edges
 * of a downscaled copy are projected onto the vertical axis at each candidate angle, and the
 * angle whose row histogram is the most peaked (largest sum of squares) is the lines' angle.
 * Phone photos of documents are rarely straight; Tesseract's own deskew copes with a degree or
 * two, not ten. */
double idv_skew_degrees(const uint8_t *g, int w, int h);
double idv_skew_degrees(const uint8_t *g, int w, int h)
{
    int step = w > 800 ? w / 400 : 1;
    int sw = w / step, sh = h / step, diag = (int)ceil(sqrt((double)sw * sw + (double)sh * sh));
    size_t cap = (size_t)sw * sh / 4 + 1, n = 0;
    int *xs = malloc(cap * sizeof(int)), *ys = malloc(cap * sizeof(int));
    double *hist = calloc((size_t)(2 * diag + 1), sizeof(double));
    double best = 0, best_score = -1;
    if (xs == NULL || ys == NULL || hist == NULL)
        goto end;
    /* The points: the edges of ink along the vertical (a step's difference above and below
     * of more than 48 grey levels), which the tops and bottoms of text lines make at any
     * sharpness. Dark pixels alone would let a dark portrait outweigh text a blur has greyed
     * (a blob's projection peaks at some angle as well). */
    for (int y = 1; y + 1 < sh && n < cap; y++)
        for (int x = 0; x < sw && n < cap; x++) {
            int up = g[(size_t)(y - 1) * step * w + (size_t)x * step];
            int down = g[(size_t)(y + 1) * step * w + (size_t)x * step];
            if (abs(up - down) > 48) {
                xs[n] = x;
                ys[n++] = y;
            }
        }
    for (double a = -12; a <= 12.001; a += 0.5) {
        double r = a * M_PI / 180, sn = sin(r), cs = cos(r), score = 0;
        memset(hist, 0, sizeof(double) * (size_t)(2 * diag + 1));
        for (size_t i = 0; i < n; i++) {
            int row = (int)lround(ys[i] * cs - xs[i] * sn) + diag;
            if (row >= 0 && row <= 2 * diag)
                hist[row]++;
        }
        for (int i = 0; i <= 2 * diag; i++)
            score += hist[i] * hist[i];
        if (score > best_score) {
            best_score = score;
            best = a;
        }
    }
end:
    free(xs);
    free(ys);
    free(hist);
    return best;
}

/* g rotated by deg about its centre (bilinear; outside filled white), same size; malloc'd. */
static uint8_t *rotate(const uint8_t *g, int w, int h, double deg)
{
    uint8_t *out = malloc((size_t)w * h);
    double r = deg * M_PI / 180, sn = sin(r), cs = cos(r), cx = w / 2.0, cy = h / 2.0;
    for (int y = 0; out && y < h; y++)
        for (int x = 0; x < w; x++) {
            double dx = x - cx, dy = y - cy;
            double sx = cs * dx - sn * dy + cx, sy = sn * dx + cs * dy + cy;
            int x0 = (int)floor(sx), y0 = (int)floor(sy);
            uint8_t v = 255;
            if (x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h) {
                double fx = sx - x0, fy = sy - y0;
                const uint8_t *p = g + (size_t)y0 * w + x0;
                v = (uint8_t)lround(p[0] * (1 - fx) * (1 - fy) + p[1] * fx * (1 - fy) +
                                    p[w] * (1 - fx) * fy + p[w + 1] * fx * fy);
            }
            out[(size_t)y * w + x] = v;
        }
    return out;
}

/* OCR of one image: *text (malloc'd) and mean confidence in [0, 1]; band_top > 0 reads only
 * the rows from there down, MRZ alphabet only; band_top < 0 the rows above -band_top, any
 * text; 0 the whole image. */
static nova_status read_image(TessBaseAPI *api, const uint8_t *g, int w, int h, int band_top,
                              char **text, double *conf)
{
    TessBaseAPISetImage(api, g, w, h, 1, w);
    TessBaseAPISetSourceResolution(api, 300);
    if (band_top > 0) {
        TessBaseAPISetVariable(api, "tessedit_char_whitelist",
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<");
        TessBaseAPISetPageSegMode(api, PSM_SINGLE_BLOCK);
        TessBaseAPISetRectangle(api, 0, band_top, w, h - band_top);
    } else {
        TessBaseAPISetVariable(api, "tessedit_char_whitelist", "");
        TessBaseAPISetPageSegMode(api, PSM_AUTO);
        if (band_top < 0) /* the visual zone: the page above the MRZ band */
            TessBaseAPISetRectangle(api, 0, 0, w, -band_top);
    }
    char *t = TessBaseAPIGetUTF8Text(api);
    *conf = TessBaseAPIMeanTextConf(api) / 100.0;
    *text = t ? strdup(t) : NULL;
    TessDeleteText(t);
    TessBaseAPIClear(api);
    return *text ? NOVA_OK : NOVA_NOMEM;
}

/* Whether the lines parse as a zone every check digit proves. */
static bool zone_valid(json_t *lines, int64_t now)
{
    char text[256];
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(lines); i++) {
        const char *l = json_string_value(json_array_get(lines, i));
        size_t ll = l ? strlen(l) : 0;
        if (ll == 0 || n + ll + 2 > sizeof(text))
            return false;
        memcpy(text + n, l, ll);
        n += ll;
        text[n++] = '\n';
    }
    time_t t = (time_t)now;
    struct tm tm;
    gmtime_r(&t, &tm);
    nova_mrz_t m;
    const char *why = NULL;
    return n > 0 && nova_mrz_parse(text, n, tm.tm_year + 1900, &m, &why) == NOVA_OK &&
           nova_mrz_valid(&m);
}

bool idv_ocr_wants_legacy_read(json_t *cands, const char *page, int64_t now)
{
    bool proved = false;
    for (size_t i = 0; i < json_array_size(cands) && !proved; i++)
        proved = zone_valid(json_array_get(cands, i), now);
    return !proved || !idv_mrz_names_proved(cands, page, now);
}

/* The page text of another image of the verification (the document's back, a proof of
 * address): *text stays NULL when there is none or it does not decode. */
static nova_status read_page(TessBaseAPI *api, const uint8_t *jpeg, size_t len, char **text,
                             double *conf)
{
    nova_vision_image_t img = {0};
    *text = NULL;
    if (jpeg == NULL || nova_vision_decode_jpeg(jpeg, len, &img) != NOVA_OK)
        return NOVA_OK;
    uint8_t *g = grey(&img);
    nova_status st = g ? read_image(api, g, img.width, img.height, 0, text, conf) : NOVA_NOMEM;
    free(g);
    nova_vision_image_free(&img);
    return st;
}

nova_status idv_check_ocr(const idv_check_in_t *in, idv_check_out_t *out)
{
    TessBaseAPI *api = engine();
    if (api == NULL)
        return NOVA_UNAVAILABLE;
    nova_vision_image_t img = {0};
    if (nova_vision_decode_jpeg(in->images->document_front, in->images->document_front_len, &img) !=
        NOVA_OK) {
        out->status = "failed";
        out->score = 0;
        idv_reason(out, "document_image_unreadable");
        return NOVA_OK;
    }
    uint8_t *g = grey(&img);
    double skew = g ? idv_skew_degrees(g, img.width, img.height) : 0;
    if (g && fabs(skew) >= 1) {
        uint8_t *straight = rotate(g, img.width, img.height, skew);
        if (straight) {
            free(g);
            g = straight;
        }
    }
    char *page = NULL, *band = NULL;
    double conf = 0, band_conf = 0;
    nova_status st = g ? read_image(api, g, img.width, img.height, 0, &page, &conf) : NOVA_NOMEM;
    if (st == NOVA_OK)
        st = read_image(api, g, img.width, img.height, img.height * 60 / 100, &band, &band_conf);
    char *band2 = NULL;
    char *back = NULL, *poa = NULL;
    double back_conf = 0, poa_conf = 0;
    if (st == NOVA_OK)
        st = read_page(api, in->images->document_back, in->images->document_back_len, &back,
                       &back_conf);
    if (st == NOVA_OK)
        st = read_page(api, in->images->proof_of_address, in->images->proof_of_address_len, &poa,
                       &poa_conf);
    if (st == NOVA_OK) {
        unsigned r1 = 0, r2 = 0;
        json_t *lines = idv_mrz_lines(band, &r1), *page_lines = idv_mrz_lines(page, &r2);
        out->extracted =
            json_pack("{s:s, s:O, s:[o, o], s:f, s:f, s:i, s:i}", "text", page, "mrz_lines", lines,
                      "mrz_candidates", lines, page_lines, "confidence", conf, "mrz_confidence",
                      band_conf, "width", img.width, "height", img.height);
        /* Neither read proves a whole zone, or the mrz step would not prove the names from
         * them: the legacy engine reads the band once more (a different recogniser errs
         * elsewhere); the mrz step keeps the best-proved reading, and names the visual zone
         * proves from any reading. */
        TessBaseAPI *legacy = NULL;
        double band2_conf = 0;
        if (out->extracted &&
            idv_ocr_wants_legacy_read(json_object_get(out->extracted, "mrz_candidates"), page,
                                      in->now) &&
            (legacy = legacy_engine(in->g->tessdata)) != NULL &&
            read_image(legacy, g, img.width, img.height, img.height * 60 / 100, &band2,
                       &band2_conf) == NOVA_OK) {
            unsigned r3 = 0;
            json_array_append_new(json_object_get(out->extracted, "mrz_candidates"),
                                  idv_mrz_lines(band2, &r3));
            json_object_set_new(out->extracted, "mrz_second_read", json_true());
        }
        if (back)
            json_object_set_new(out->extracted, "back_text", json_string(back));
        if (poa) {
            json_object_set_new(out->extracted, "proof_of_address_text", json_string(poa));
            json_object_set_new(out->extracted, "proof_of_address_confidence",
                                json_real(poa_conf < 0 ? 0 : poa_conf));
        } else if (in->images->proof_of_address) {
            idv_reason(out, "proof_of_address_unreadable");
        }
        json_object_set_new(out->extracted, "skew_degrees", json_real(skew));
        double min = 0.6;
        json_t *mc = json_object_get(in->config, "min_confidence");
        if (json_is_number(mc))
            min = json_number_value(mc);
        out->score = conf < 0 ? 0 : conf;
        bool empty = page == NULL || strspn(page, " \n\t") == strlen(page);
        if (empty)
            idv_reason(out, "no_text_found");
        if (conf < min)
            idv_reason(out, "low_confidence");
        if (json_array_size(lines) == 0)
            idv_reason(out, "mrz_band_not_found");
        out->status = !empty && conf >= min ? "passed" : "failed";
    }
    free(page);
    free(band);
    free(band2);
    free(back);
    free(poa);
    free(g);
    nova_vision_image_free(&img);
    return st;
}
