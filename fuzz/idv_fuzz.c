/*
 * idv_fuzz.c: libFuzzer target for what the verification gateway parses from outside: OCR text
 * turned into MRZ lines (the text comes from a photo anyone can send), the list cursor (a query
 * parameter), the fuzzy word match of addresses and names, and the mrz step over OCR's
 * reading: the zone's lines and the visual zone's text, where the names are repaired and proved
 * against the visual zone. The first byte picks the parser. Invariants: MRZ lines are 2 or 3
 * lines of one ICAO width (30, 36, 44) in the MRZ alphabet; a cursor that parses makes the same
 * cursor again; a match score lies in [0, 1]; the mrz step answers passed, review or failed,
 * and names it passes are words of the visual zone; the OCR step's third-read rule sees the
 * names proved exactly when the mrz step proves them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/idv/gateway/internal.h"

json_t *idv_mrz_lines(const char *text, unsigned *repairs);
double idv_address_score(const char *claimed, const char *document);

static void mrz_lines(const char *s)
{
    unsigned repairs = 0;
    json_t *l = idv_mrz_lines(s, &repairs);
    size_t n = json_array_size(l), w = 0;
    if (n != 0 && n != 2 && n != 3)
        abort();
    for (size_t i = 0; i < n; i++) {
        const char *line = json_string_value(json_array_get(l, i));
        size_t len = strlen(line);
        if ((len != 30 && len != 36 && len != 44) || (i && len != w) ||
            strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<") != len)
            abort();
        w = len;
    }
    if (n == 3 && w != 30)
        abort();
    json_decref(l);
}

static void cursor(const char *s)
{
    nova_arena_t a;
    nova_arena_init(&a, 512);
    int64_t t = 0;
    const char *id = NULL;
    if (nova_idv_cursor_parse(&a, s, &t, &id) == NOVA_OK) {
        const char *again = nova_idv_cursor_make(&a, t, id);
        int64_t t2 = 0;
        const char *id2 = NULL;
        if (again == NULL || nova_idv_cursor_parse(&a, again, &t2, &id2) != NOVA_OK || t2 != t ||
            strcmp(id, id2) != 0)
            abort();
    }
    nova_arena_free(&a);
}

/* OCR's reading of the band, a form feed, then the page's text. */
static void mrz_step(char *s)
{
    char *nl = strchr(s, '\f');
    const char *page = nl ? nl + 1 : "";
    if (nl)
        *nl = '\0';
    json_t *lines = idv_mrz_lines(s, NULL);
    json_t *steps =
        json_pack("{s:{s:s, s:{s:O, s:[O, O], s:s}}}", "ocr", "check", "ocr", "extracted",
                  "mrz_lines", lines, "mrz_candidates", lines, lines, "text", page);
    json_decref(lines);
    if (steps == NULL)
        return;
    idv_check_in_t in = {.steps = steps, .now = 1796000000};
    idv_check_out_t out = {0};
    if (idv_check_mrz(&in, &out) != NOVA_OK)
        abort();
    if (strcmp(out.status, "passed") != 0 && strcmp(out.status, "review") != 0 &&
        strcmp(out.status, "failed") != 0)
        abort();
    /* The OCR step's rule for a third read asks the mrz step's own question: the names it
     * proves are the names the rule sees proved, and unproved names always read again. */
    json_t *cands = json_object_get(json_object_get(json_object_get(steps, "ocr"), "extracted"),
                                    "mrz_candidates");
    bool named = json_is_true(json_object_get(json_object_get(out.extracted, "proved"), "surname"));
    if (named != idv_mrz_names_proved(cands, page, in.now) ||
        (!named && !idv_ocr_wants_legacy_read(cands, page, in.now)))
        abort();
    json_t *f = json_object_get(out.extracted, "fields");
    if (strcmp(out.status, "passed") == 0) {
        char names[256];
        snprintf(names, sizeof(names), "%s %s", json_string_value(json_object_get(f, "surname")),
                 json_string_value(json_object_get(f, "given_names")));
        for (char *save = NULL, *w = strtok_r(names, " ", &save); w; w = strtok_r(NULL, " ", &save))
            if (!idv_word_in(w, page))
                abort();
    }
    json_decref(out.reasons);
    json_decref(out.extracted);
    json_decref(steps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    char *s = malloc(size);
    if (s == NULL)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 4) {
    case 0:
        mrz_lines(s);
        break;
    case 1:
        cursor(s);
        break;
    case 3:
        mrz_step(s);
        break;
    default: {
        char *nl = strchr(s, '\n');
        const char *doc = nl ? nl + 1 : "";
        if (nl)
            *nl = '\0';
        double sc = idv_address_score(s, doc);
        if (!(sc >= 0 && sc <= 1))
            abort();
    }
    }
    free(s);
    return 0;
}
