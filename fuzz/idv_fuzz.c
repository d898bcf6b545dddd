/*
 * idv_fuzz.c: libFuzzer target for what the verification gateway parses from outside: OCR text
 * turned into MRZ lines (the text comes from a photo anyone can send), the list cursor (a query
 * parameter) and the fuzzy word match of addresses and names. The first byte picks the parser.
 * Invariants: MRZ lines are 2 or 3 lines of one ICAO width (30, 36, 44) in the MRZ alphabet; a
 * cursor that parses makes the same cursor again; a match score lies in [0, 1].
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    char *s = malloc(size);
    if (s == NULL)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0:
        mrz_lines(s);
        break;
    case 1:
        cursor(s);
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
