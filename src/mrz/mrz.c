/*
 * mrz.c: ICAO Doc 9303 machine-readable zones (TD1, TD2, TD3): shape, fields, check digits.
 * Field positions are the tables of Doc 9303 parts 4 (TD3), 5 (TD1) and 6 (TD2); the composite
 * check digit covers the ranges listed with each format below.
 */
#include <stdio.h>
#include <string.h>

#include "nova/mrz.h"

#define MAX_LINES 3
#define MAX_LEN 44

typedef struct zone {
    char line[MAX_LINES][MAX_LEN + 1];
    size_t len[MAX_LINES];
    size_t n;
} zone;

static int char_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    if (c == '<')
        return 0;
    return -1;
}

int nova_mrz_check_digit(const char *s, size_t n)
{
    static const int w[3] = {7, 3, 1};
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        int v = char_value(s[i]);
        if (v < 0)
            return -1;
        sum += v * w[i % 3];
    }
    return '0' + sum % 10;
}

/* Splits text into lines of allowed characters. */
static bool split(const char *text, size_t len, zone *z, const char **why)
{
    memset(z, 0, sizeof(*z));
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && text[end] != '\n')
            end++;
        size_t a = i, b = end;
        while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r'))
            a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r'))
            b--;
        if (b > a) {
            if (z->n == MAX_LINES || b - a > MAX_LEN) {
                *why = "not a machine-readable zone: too many or too long lines";
                return false;
            }
            for (size_t k = a; k < b; k++) {
                char c = text[k];
                if (c >= 'a' && c <= 'z')
                    c = (char)(c - 'a' + 'A');
                if (char_value(c) < 0) {
                    *why = "a character outside A-Z, 0-9 and <";
                    return false;
                }
                z->line[z->n][k - a] = c;
            }
            z->len[z->n++] = b - a;
        }
        i = end + 1;
    }
    return true;
}

/* OCR's letter-for-digit confusions, in fields that hold only digits. */
static void digits_only(char *s, size_t n, unsigned *corrections)
{
    static const char from[] = "OQDILZSGB", to[] = "000112568";
    for (size_t i = 0; i < n; i++) {
        const char *p = strchr(from, s[i]);
        if (s[i] && p) {
            s[i] = to[p - from];
            (*corrections)++;
        }
    }
}

/* Copies s[0..n) without fillers at the end; inner '<' becomes sep (or is dropped if 0). */
static void field(char *dst, size_t cap, const char *s, size_t n, char sep)
{
    size_t end = n, k = 0;
    while (end > 0 && s[end - 1] == '<')
        end--;
    for (size_t i = 0; i < end && k + 1 < cap; i++) {
        if (s[i] != '<')
            dst[k++] = s[i];
        else if (sep && k > 0 && dst[k - 1] != sep)
            dst[k++] = sep;
    }
    dst[k] = '\0';
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* A YYMMDD date, birth (latest year not after now) or expiry (window from now - 50). */
static void date(const char *s, int now_year, bool birth, nova_mrz_date_t *d)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    memset(d, 0, sizeof(*d));
    for (int i = 0; i < 6; i++)
        if (s[i] < '0' || s[i] > '9')
            return;
    int yy = (s[0] - '0') * 10 + (s[1] - '0'), mm = (s[2] - '0') * 10 + (s[3] - '0'),
        dd = (s[4] - '0') * 10 + (s[5] - '0');
    int century = now_year / 100 * 100, y = century + yy;
    if (birth ? y > now_year : y < now_year - 50)
        y += birth ? -100 : 100;
    if (mm < 1 || mm > 12 || dd < 1 || dd > mdays[mm - 1] + (mm == 2 && leap(y)))
        return;
    d->year = y;
    d->month = mm;
    d->day = dd;
}

static bool check(const char *s, size_t n, char digit)
{
    return nova_mrz_check_digit(s, n) == (digit == '<' ? '0' : digit);
}

static void names(nova_mrz_t *m, const char *s, size_t n)
{
    const char *sep = NULL;
    for (size_t i = 0; i + 1 < n && !sep; i++)
        if (s[i] == '<' && s[i + 1] == '<')
            sep = s + i;
    m->names_truncated = s[n - 1] != '<';
    if (sep == NULL) {
        field(m->surname, sizeof(m->surname), s, n, ' ');
        return;
    }
    field(m->surname, sizeof(m->surname), s, (size_t)(sep - s), ' ');
    field(m->given_names, sizeof(m->given_names), sep + 2, n - (size_t)(sep + 2 - s), ' ');
}

/* The fields shared by TD2 and TD3 line 2: number, nationality, birth, sex, expiry. */
static void line_two(nova_mrz_t *m, char *l, int now_year)
{
    digits_only(l + 13, 7, &m->corrections);
    digits_only(l + 21, 7, &m->corrections);
    digits_only(l + 9, 1, &m->corrections);
    field(m->document_number, sizeof(m->document_number), l, 9, 0);
    m->number_ok = check(l, 9, l[9]);
    field(m->nationality, sizeof(m->nationality), l + 10, 3, 0);
    date(l + 13, now_year, true, &m->birth);
    m->birth_ok = check(l + 13, 6, l[19]);
    m->sex = l[20] == '<' ? 'X' : l[20];
    date(l + 21, now_year, false, &m->expiry);
    m->expiry_ok = check(l + 21, 6, l[27]);
}

nova_status nova_mrz_parse(const char *text, size_t len, int now_year, nova_mrz_t *out,
                           const char **why)
{
    zone z;
    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (text == NULL || len > 4096 || now_year < 1950 || now_year > 9999) {
        *why = "not a machine-readable zone";
        return NOVA_INVALID;
    }
    if (!split(text, len, &z, why))
        return NOVA_INVALID;
    if (z.n == 3 && z.len[0] == 30 && z.len[1] == 30 && z.len[2] == 30) {
        /* TD1. Composite: line 1 [5, 30), line 2 [0, 7), [8, 15), [18, 29). */
        char *l1 = z.line[0], *l2 = z.line[1];
        out->format = NOVA_MRZ_TD1;
        digits_only(l2, 7, &out->corrections);
        digits_only(l2 + 8, 7, &out->corrections);
        digits_only(l2 + 29, 1, &out->corrections);
        field(out->document_code, sizeof(out->document_code), l1, 2, 0);
        field(out->issuing_state, sizeof(out->issuing_state), l1 + 2, 3, 0);
        if (l1[14] == '<' && l1[15] != '<') {
            /* A number longer than 9: it goes on in the optional data, whose last character
             * before the first filler is the check digit (Doc 9303-5, note j). */
            size_t k = 15;
            while (k < 30 && l1[k] != '<')
                k++;
            char num[32];
            memcpy(num, l1 + 5, 9);
            memcpy(num + 9, l1 + 15, k - 16);
            field(out->document_number, sizeof(out->document_number), num, 9 + k - 16, 0);
            out->number_ok = check(num, 9 + k - 16, l1[k - 1]);
            field(out->optional1, sizeof(out->optional1), l1 + k, 30 - k, 0);
        } else {
            field(out->document_number, sizeof(out->document_number), l1 + 5, 9, 0);
            out->number_ok = check(l1 + 5, 9, l1[14]);
            field(out->optional1, sizeof(out->optional1), l1 + 15, 15, 0);
        }
        date(l2, now_year, true, &out->birth);
        out->birth_ok = check(l2, 6, l2[6]);
        out->sex = l2[7] == '<' ? 'X' : l2[7];
        date(l2 + 8, now_year, false, &out->expiry);
        out->expiry_ok = check(l2 + 8, 6, l2[14]);
        field(out->nationality, sizeof(out->nationality), l2 + 15, 3, 0);
        field(out->optional2, sizeof(out->optional2), l2 + 18, 11, 0);
        out->optional_ok = true;
        char comp[60];
        memcpy(comp, l1 + 5, 25);
        memcpy(comp + 25, l2, 7);
        memcpy(comp + 32, l2 + 8, 7);
        memcpy(comp + 39, l2 + 18, 11);
        out->composite_ok = check(comp, 50, l2[29]);
        names(out, z.line[2], 30);
    } else if (z.n == 2 && z.len[0] == 36 && z.len[1] == 36) {
        /* TD2. Composite: line 2 [0, 10), [13, 20), [21, 35). */
        char *l1 = z.line[0], *l2 = z.line[1];
        out->format = NOVA_MRZ_TD2;
        field(out->document_code, sizeof(out->document_code), l1, 2, 0);
        field(out->issuing_state, sizeof(out->issuing_state), l1 + 2, 3, 0);
        names(out, l1 + 5, 31);
        line_two(out, l2, now_year);
        digits_only(l2 + 35, 1, &out->corrections);
        field(out->optional2, sizeof(out->optional2), l2 + 28, 7, 0);
        out->optional_ok = true;
        char comp[40];
        memcpy(comp, l2, 10);
        memcpy(comp + 10, l2 + 13, 7);
        memcpy(comp + 17, l2 + 21, 14);
        out->composite_ok = check(comp, 31, l2[35]);
    } else if (z.n == 2 && z.len[0] == 44 && z.len[1] == 44) {
        /* TD3. Composite: line 2 [0, 10), [13, 20), [21, 43). */
        char *l1 = z.line[0], *l2 = z.line[1];
        out->format = NOVA_MRZ_TD3;
        field(out->document_code, sizeof(out->document_code), l1, 2, 0);
        field(out->issuing_state, sizeof(out->issuing_state), l1 + 2, 3, 0);
        names(out, l1 + 5, 39);
        line_two(out, l2, now_year);
        digits_only(l2 + 42, 2, &out->corrections);
        field(out->optional1, sizeof(out->optional1), l2 + 28, 14, 0);
        out->optional_ok = check(l2 + 28, 14, l2[42]);
        char comp[50];
        memcpy(comp, l2, 10);
        memcpy(comp + 10, l2 + 13, 7);
        memcpy(comp + 17, l2 + 21, 22);
        out->composite_ok = check(comp, 39, l2[43]);
    } else {
        *why = "not a machine-readable zone: 3 lines of 30 (TD1), 2 of 36 (TD2) or 2 of 44 (TD3)";
        memset(out, 0, sizeof(*out));
        return NOVA_INVALID;
    }
    return NOVA_OK;
}

bool nova_mrz_valid(const nova_mrz_t *m)
{
    return m->format && m->number_ok && m->birth_ok && m->expiry_ok && m->optional_ok &&
           m->composite_ok && m->birth.year && m->expiry.year;
}
