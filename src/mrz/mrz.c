/*
 * mrz.c: ICAO Doc 9303 machine-readable zones (TD1, TD2, TD3, MRV-A, MRV-B): shape, fields,
 * check digits, and the repairs a check digit proves (nova/mrz.h says which). Field positions
 * are the tables of Doc 9303 parts 4 (TD3), 5 (TD1), 6 (TD2) and 7 (MRV-A, MRV-B); each
 * format's layout below lists them, and its composite check digit's ranges.
 */
#include <stdio.h>
#include <string.h>

#include "nova/mrz.h"

#define MAX_LINES 3
#define MAX_LEN 44

/* A run of characters of the zone. len 0: none. */
typedef struct span {
    uint8_t line, start, len;
} span_t;

/* One check digit: the ranges it covers and where it is printed. */
typedef struct check_def {
    span_t data[4];
    size_t ndata;
    span_t digit;    /* len 0: the format has no such check digit */
    bool filler_ok;  /* '<' may stand for the digit when every covered character is '<' */
    bool repairable; /* its data may hold letters: one OCR confusion may be swapped back */
} check_def_t;

/* A format's layout (positions 0-based). */
typedef struct layout {
    nova_mrz_format format;
    size_t lines, width;
    span_t code, issuer, names, nationality, sex, optional, optional2;
    check_def_t checks[NOVA_MRZ_CHECKS];
} layout_t;

#define S(l, s, n)                                                                                 \
    {                                                                                              \
        (l), (s), (n)                                                                              \
    }
#define CD(d, dig)                                                                                 \
    {                                                                                              \
        {d}, 1, dig, false, false                                                                  \
    }

/* The lower line shared by TD2, TD3, MRV-A and MRV-B up to the expiry check digit. */
#define LINE2_CHECKS                                                                               \
    [NOVA_MRZ_CHECK_NUMBER] = {{S(1, 0, 9)}, 1, S(1, 9, 1), false, true},                          \
    [NOVA_MRZ_CHECK_BIRTH] = CD(S(1, 13, 6), S(1, 19, 1)),                                         \
    [NOVA_MRZ_CHECK_EXPIRY] = CD(S(1, 21, 6), S(1, 27, 1))

static const layout_t layouts[] = {
    /* Part 5. Composite: line 1 [5, 30), line 2 [0, 7), [8, 15), [18, 29). */
    {NOVA_MRZ_TD1,
     3,
     30,
     S(0, 0, 2),
     S(0, 2, 3),
     S(2, 0, 30),
     S(1, 15, 3),
     S(1, 7, 1),
     S(0, 15, 15),
     S(1, 18, 11),
     {[NOVA_MRZ_CHECK_NUMBER] = {{S(0, 5, 9)}, 1, S(0, 14, 1), false, true},
      [NOVA_MRZ_CHECK_BIRTH] = CD(S(1, 0, 6), S(1, 6, 1)),
      [NOVA_MRZ_CHECK_EXPIRY] = CD(S(1, 8, 6), S(1, 14, 1)),
      [NOVA_MRZ_CHECK_COMPOSITE] =
          {{S(0, 5, 25), S(1, 0, 7), S(1, 8, 7), S(1, 18, 11)}, 4, S(1, 29, 1), false, false}}},
    /* Part 6. Composite: line 2 [0, 10), [13, 20), [21, 35). */
    {NOVA_MRZ_TD2,
     2,
     36,
     S(0, 0, 2),
     S(0, 2, 3),
     S(0, 5, 31),
     S(1, 10, 3),
     S(1, 20, 1),
     S(1, 28, 7),
     S(0, 0, 0),
     {LINE2_CHECKS, [NOVA_MRZ_CHECK_COMPOSITE] =
                        {{S(1, 0, 10), S(1, 13, 7), S(1, 21, 14)}, 3, S(1, 35, 1), false, false}}},
    /* Part 4. Personal number [28, 42) with its digit at 42 ('<' when it is empty).
     * Composite: line 2 [0, 10), [13, 20), [21, 43). */
    {NOVA_MRZ_TD3,
     2,
     44,
     S(0, 0, 2),
     S(0, 2, 3),
     S(0, 5, 39),
     S(1, 10, 3),
     S(1, 20, 1),
     S(1, 28, 14),
     S(0, 0, 0),
     {LINE2_CHECKS, [NOVA_MRZ_CHECK_OPTIONAL] = {{S(1, 28, 14)}, 1, S(1, 42, 1), true, true},
      [NOVA_MRZ_CHECK_COMPOSITE] =
          {{S(1, 0, 10), S(1, 13, 7), S(1, 21, 22)}, 3, S(1, 43, 1), false, false}}},
    /* Part 7, format A: optional data [28, 44), no composite. */
    {NOVA_MRZ_MRVA,
     2,
     44,
     S(0, 0, 2),
     S(0, 2, 3),
     S(0, 5, 39),
     S(1, 10, 3),
     S(1, 20, 1),
     S(1, 28, 16),
     S(0, 0, 0),
     {LINE2_CHECKS}},
    /* Part 7, format B: optional data [28, 36), no composite. */
    {NOVA_MRZ_MRVB,
     2,
     36,
     S(0, 0, 2),
     S(0, 2, 3),
     S(0, 5, 31),
     S(1, 10, 3),
     S(1, 20, 1),
     S(1, 28, 8),
     S(0, 0, 0),
     {LINE2_CHECKS}},
};

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

const char *nova_mrz_format_name(nova_mrz_format f)
{
    static const char *const names[] = {"", "TD1", "TD2", "TD3", "MRV-A", "MRV-B"};
    return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "";
}

const char *nova_mrz_check_name(nova_mrz_check c)
{
    static const char *const names[NOVA_MRZ_CHECKS] = {"document_number", "birth_date",
                                                       "expiry_date", "optional_data", "composite"};
    return (unsigned)c < NOVA_MRZ_CHECKS ? names[c] : "";
}

const char *nova_mrz_check_state_name(nova_mrz_check_state s)
{
    return s == NOVA_MRZ_OK         ? "ok"
           : s == NOVA_MRZ_FAILED   ? "failed"
           : s == NOVA_MRZ_REPAIRED ? "repaired"
                                    : NULL;
}

const char *nova_mrz_field_name(nova_mrz_field f)
{
    static const char *const names[NOVA_MRZ_FIELDS] = {
        "document_code", "issuer",  "document_number", "nationality",   "birth_date",     "sex",
        "expiry_date",   "surname", "given_names",     "optional_data", "optional_data_2"};
    return (unsigned)f < NOVA_MRZ_FIELDS ? names[f] : "";
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

/* ---- check digits over spans ---- */

static char *at(zone *z, span_t s)
{
    return z->line[s.line] + s.start;
}

/* Whether def's check digit holds on z. */
static bool holds(zone *z, const check_def_t *def)
{
    char buf[64];
    size_t n = 0;
    bool fillers = true;
    for (size_t i = 0; i < def->ndata; i++) {
        memcpy(buf + n, at(z, def->data[i]), def->data[i].len);
        n += def->data[i].len;
    }
    for (size_t i = 0; i < n; i++)
        fillers = fillers && buf[i] == '<';
    char digit = *at(z, def->digit);
    if (digit == '<')
        return def->filler_ok && fillers;
    return nova_mrz_check_digit(buf, n) == digit;
}

static bool in_span(span_t s, size_t line, size_t col)
{
    return s.len && s.line == line && col >= s.start && col < (size_t)s.start + s.len;
}

/* Whether (line, col) is one of the characters def covers, its digit included. */
static bool covers(const check_def_t *def, size_t line, size_t col)
{
    for (size_t i = 0; i < def->ndata; i++)
        if (in_span(def->data[i], line, col))
            return true;
    return in_span(def->digit, line, col);
}

/* ---- repairs ---- */

typedef struct cand {
    uint8_t line, col;
    char to;
} cand_t;

#define MAX_CANDS 16

static void add_repair(nova_mrz_t *m, nova_mrz_check c, size_t line, size_t col, char read, char to)
{
    if (m->nrepairs < NOVA_MRZ_MAX_REPAIRS)
        m->repairs[m->nrepairs++] =
            (nova_mrz_repair_t){c, (uint8_t)line, (uint8_t)col, read, to, false};
}

/* In fields that hold only digits (dates, check digits), letters OCR confuses with digits are
 * read as those digits: nothing else could be meant. Each reading is a repair of check c. */
static void digits_only(zone *z, nova_mrz_t *m, span_t s, nova_mrz_check c)
{
    static const char from[] = "OQDILZSGB", to[] = "000112568";
    for (size_t i = 0; i < s.len; i++) {
        char *p = at(z, s) + i;
        const char *f = *p ? strchr(from, *p) : NULL;
        if (f) {
            add_repair(m, c, s.line, s.start + i, *p, to[f - from]);
            *p = to[f - from];
        }
    }
}

/* OCR's confusions in fields of letters and digits, as (read, meant) pairs: O/0, I/1, B/8 and
 * S/5. Every pair more makes more zones ambiguous (two swaps that both satisfy the check digit:
 * nothing is repaired); with O/C, 0/C, O/D, 0/D and Z/2 as well, 1 of the 14 misreads of these
 * four kinds in the specimen zones' numbers was still proved, against 8 of 14 without them.
 * Pairs whose values differ by a multiple of 10 could never be proved: K (20) and '<' (0), L
 * (21) and 1, G (16) and 6, A (10) and 0 weigh the same at every position. */
static const char swaps[][2] = {{'O', '0'}, {'0', 'O'}, {'I', '1'}, {'1', 'I'},
                                {'B', '8'}, {'8', 'B'}, {'S', '5'}, {'5', 'S'}};

/* The single swaps in spans (of def's data, or given ones) after which def's check digit
 * holds: at most MAX_CANDS into c; returns how many (MAX_CANDS + 1 when more). A swap at the
 * digit itself must leave a digit (or an allowed filler). */
static size_t candidates(zone *z, const check_def_t *def, const span_t *spans, size_t nspans,
                         bool with_digit, cand_t *c)
{
    size_t n = 0;
    for (size_t si = 0; si < nspans + (with_digit ? 1 : 0); si++) {
        span_t s = si < nspans ? spans[si] : def->digit;
        for (size_t i = 0; i < s.len; i++) {
            char *p = at(z, s) + i, was = *p;
            for (size_t k = 0; k <= sizeof(swaps) / sizeof(swaps[0]); k++) {
                /* The last pair: a K where only a digit or '<' can be (TD3's empty personal
                 * number) is a filler; nothing else could be meant. */
                bool last = k == sizeof(swaps) / sizeof(swaps[0]);
                char from = last ? 'K' : swaps[k][0], to = last ? '<' : swaps[k][1];
                if (was != from || (last && (si != nspans || !def->filler_ok)))
                    continue;
                if (si == nspans && !(to >= '0' && to <= '9') && !(to == '<' && def->filler_ok))
                    continue;
                *p = to;
                if (holds(z, def)) {
                    if (n < MAX_CANDS)
                        c[n] = (cand_t){s.line, (uint8_t)(s.start + i), to};
                    n++;
                }
                *p = was;
            }
        }
    }
    return n > MAX_CANDS ? MAX_CANDS + 1 : n;
}

static void apply(zone *z, nova_mrz_t *m, nova_mrz_check c, const cand_t *k)
{
    char *p = &z->line[k->line][k->col];
    add_repair(m, c, k->line, k->col, *p, k->to);
    *p = k->to;
}

/* Swap repairs of the failed document number and personal number (repairable checks) and,
 * when those hold, of the data only the composite covers: the one combination of candidates
 * after which the composite holds too is applied (none, or more than one: nothing).
 *
 * Why the composite: inside the number (and TD3's personal number) its weights are the
 * field's own (both start at a multiple of 3), so it adds nothing against a second misread
 * there, but it does catch a misread check digit: a swap that makes a digit off by e hold moves
 * the composite by 8e (number) or 2e (personal number) mod 10, which is 0 only for e = 5, and
 * no swap above changes a weighted sum by 5 (none of their value differences is 5 mod 10).
 * Visas have no composite, so one check digit cannot tell a misread number from a misread
 * digit: they get no swap repair, only the digit-field readings. */
static void repair(zone *z, nova_mrz_t *m, const layout_t *L, const check_def_t *defs)
{
    const check_def_t *comp = &defs[NOVA_MRZ_CHECK_COMPOSITE];
    if (comp->digit.len == 0)
        return;
    cand_t c[2][MAX_CANDS];
    size_t nc[2] = {0, 0}, nf = 0;
    nova_mrz_check which[2];
    for (int k = 0; k < NOVA_MRZ_CHECKS; k++) {
        const check_def_t *d = &defs[k];
        if (!d->digit.len || k == NOVA_MRZ_CHECK_COMPOSITE || holds(z, d))
            continue;
        if (!d->repairable)
            return; /* a date that fails: no swap is proved while it does */
        size_t n = candidates(z, d, d->data, d->ndata, true, c[nf]);
        if (n == 0 || n > MAX_CANDS)
            return;
        which[nf] = (nova_mrz_check)k;
        nc[nf++] = n;
    }
    if (nf == 0) {
        if (holds(z, comp))
            return;
        /* Only the composite fails: the optional data no other digit covers (TD1, TD2). */
        span_t only[2] = {L->optional, L->optional2};
        size_t n = 0;
        for (size_t i = 0; i < 2; i++)
            if (only[i].len && !covers(&defs[NOVA_MRZ_CHECK_NUMBER], only[i].line, only[i].start) &&
                !covers(&defs[NOVA_MRZ_CHECK_OPTIONAL], only[i].line, only[i].start))
                only[n++] = only[i];
        cand_t k[MAX_CANDS];
        if (n && candidates(z, comp, only, n, false, k) == 1)
            apply(z, m, NOVA_MRZ_CHECK_COMPOSITE, &k[0]);
        return;
    }
    /* Every combination of one candidate per failed check. */
    size_t found = 0, pick[2] = {0, 0};
    for (size_t a = 0; a < nc[0]; a++)
        for (size_t b = 0; b < (nf > 1 ? nc[1] : 1); b++) {
            char *p0 = &z->line[c[0][a].line][c[0][a].col], w0 = *p0, *p1 = NULL, w1 = 0;
            *p0 = c[0][a].to;
            if (nf > 1) {
                p1 = &z->line[c[1][b].line][c[1][b].col];
                w1 = *p1;
                *p1 = c[1][b].to;
            }
            if (holds(z, comp)) {
                found++;
                pick[0] = a;
                pick[1] = b;
            }
            if (p1)
                *p1 = w1;
            *p0 = w0;
        }
    if (found != 1)
        return;
    for (size_t i = 0; i < nf; i++)
        apply(z, m, which[i], &c[i][pick[i]]);
}

/* ---- fields ---- */

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
    int y = now_year / 100 * 100 + yy;
    if (birth && y > now_year)
        y -= 100;
    if (!birth && y - 100 >= now_year - 50)
        y -= 100;
    else if (!birth && y < now_year - 50)
        y += 100;
    if (mm < 1 || mm > 12 || dd < 1 || dd > mdays[mm - 1] + (mm == 2 && leap(y)))
        return;
    d->year = y;
    d->month = mm;
    d->day = dd;
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

static void error(nova_mrz_t *m, const char *field, const char *code, const char *message)
{
    if (m->nerrors < NOVA_MRZ_MAX_ERRORS)
        m->errors[m->nerrors++] = (nova_mrz_error_t){field, code, message};
}

static bool ok(nova_mrz_check_state s)
{
    return s == NOVA_MRZ_OK || s == NOVA_MRZ_REPAIRED;
}

/* Fields, states, errors and what is proved, from the repaired zone. */
static void read_fields(zone *z, nova_mrz_t *m, const layout_t *L, const check_def_t *defs,
                        int now_year)
{
    char code0 = z->line[0][0];
    field(m->document_code, sizeof(m->document_code), at(z, L->code), L->code.len, 0);
    field(m->issuer, sizeof(m->issuer), at(z, L->issuer), L->issuer.len, 0);
    field(m->nationality, sizeof(m->nationality), at(z, L->nationality), L->nationality.len, 0);
    names(m, at(z, L->names), L->names.len);
    const check_def_t *num = &defs[NOVA_MRZ_CHECK_NUMBER];
    char number[40];
    size_t nl = 0;
    for (size_t i = 0; i < num->ndata; i++) {
        memcpy(number + nl, at(z, num->data[i]), num->data[i].len);
        nl += num->data[i].len;
    }
    field(m->document_number, sizeof(m->document_number), number, nl, 0);
    date(at(z, defs[NOVA_MRZ_CHECK_BIRTH].data[0]), now_year, true, &m->birth);
    date(at(z, defs[NOVA_MRZ_CHECK_EXPIRY].data[0]), now_year, false, &m->expiry);
    char sex = *at(z, L->sex);
    m->sex = sex == '<' ? 'X' : sex;
    field(m->optional_data, sizeof(m->optional_data), at(z, L->optional), L->optional.len, 0);
    if (L->optional2.len)
        field(m->optional_data_2, sizeof(m->optional_data_2), at(z, L->optional2), L->optional2.len,
              0);

    for (int k = 0; k < NOVA_MRZ_CHECKS; k++) {
        if (!defs[k].digit.len)
            continue;
        bool touched = false;
        for (size_t r = 0; r < m->nrepairs; r++)
            touched = touched || covers(&defs[k], m->repairs[r].line, m->repairs[r].column);
        m->checks[k] = !holds(z, &defs[k]) ? NOVA_MRZ_FAILED
                       : touched           ? NOVA_MRZ_REPAIRED
                                           : NOVA_MRZ_OK;
    }
    for (size_t r = 0; r < m->nrepairs; r++)
        m->repairs[r].proved = ok(m->checks[m->repairs[r].check]);

    static const char *const failed[NOVA_MRZ_CHECKS] = {
        "the document number's check digit fails", "the birth date's check digit fails",
        "the expiry date's check digit fails", "the optional data's check digit fails",
        "the composite check digit fails"};
    for (int k = 0; k < NOVA_MRZ_CHECKS; k++)
        if (m->checks[k] == NOVA_MRZ_FAILED)
            error(m, nova_mrz_check_name((nova_mrz_check)k), "check_digit_failed", failed[k]);
    if (m->birth.year == 0)
        error(m, "birth_date", "invalid_date", "the birth date is not a date");
    if (m->expiry.year == 0)
        error(m, "expiry_date", "invalid_date", "the expiry date is not a date");
    if (!nova_mrz_country_known(m->issuer))
        error(m, "issuer", "unknown_country",
              "the issuer is not an ISO 3166-1 alpha-3 or ICAO code");
    if (!nova_mrz_country_known(m->nationality))
        error(m, "nationality", "unknown_country",
              "the nationality is not an ISO 3166-1 alpha-3 or ICAO code");
    if (m->sex != 'M' && m->sex != 'F' && m->sex != 'X')
        error(m, "sex", "invalid_sex", "the sex is not M, F, X or <");
    bool code_ok = L->format == NOVA_MRZ_TD3 ? code0 == 'P'
                   : L->format == NOVA_MRZ_MRVA || L->format == NOVA_MRZ_MRVB
                       ? code0 == 'V'
                       : code0 == 'A' || code0 == 'C' || code0 == 'I';
    if (!code_ok)
        error(m, "document_code", "unexpected_document_code",
              "the document code does not fit the format (TD3: P; TD1, TD2: A, C or I; visas: V)");

    /* A K beside a filler in a number or optional data may be a misread '<', and no check
     * digit can tell (both weigh 0 mod 10): the field is flagged, never taken as proved. */
    bool ambiguous[NOVA_MRZ_FIELDS] = {0};
    span_t spans[] = {num->data[0], num->data[1], L->optional, L->optional2};
    nova_mrz_field owner[] = {NOVA_MRZ_DOCUMENT_NUMBER, NOVA_MRZ_DOCUMENT_NUMBER,
                              NOVA_MRZ_OPTIONAL_DATA, NOVA_MRZ_OPTIONAL_DATA_2};
    for (size_t i = 0; i < 4; i++) {
        const char *p = at(z, spans[i]);
        for (size_t k = 0; k < spans[i].len && !ambiguous[owner[i]]; k++)
            ambiguous[owner[i]] = p[k] == 'K' && ((k > 0 && p[k - 1] == '<') ||
                                                  (k + 1 < spans[i].len && p[k + 1] == '<'));
    }
    /* Fillers pad a document number on the right only (Doc 9303): one before a character of
     * the number is a misread, even where the check digit holds ("<<9068079" for "SS9068079":
     * S weighs 28, 7 * 28 + 3 * 28 = 280, nothing mod 10, as the fillers). */
    const char *np = at(z, num->data[0]);
    for (size_t k = 1; k < num->data[0].len; k++)
        if (np[k - 1] == '<' && np[k] != '<') {
            error(m, "document_number", "filler_inside",
                  "a filler stands before a character of the document number, which fillers "
                  "only pad on the right");
            break;
        }
    if (ambiguous[NOVA_MRZ_DOCUMENT_NUMBER])
        error(m, "document_number", "ambiguous_filler",
              "a K beside a filler may be a misread '<', which no check digit can tell");
    if (ambiguous[NOVA_MRZ_OPTIONAL_DATA] || ambiguous[NOVA_MRZ_OPTIONAL_DATA_2])
        error(m, ambiguous[NOVA_MRZ_OPTIONAL_DATA] ? "optional_data" : "optional_data_2",
              "ambiguous_filler",
              "a K beside a filler may be a misread '<', which no check digit can tell");

    bool comp =
        defs[NOVA_MRZ_CHECK_COMPOSITE].digit.len == 0 || ok(m->checks[NOVA_MRZ_CHECK_COMPOSITE]);
    bool has_comp = defs[NOVA_MRZ_CHECK_COMPOSITE].digit.len > 0;
    m->proved[NOVA_MRZ_DOCUMENT_NUMBER] = ok(m->checks[NOVA_MRZ_CHECK_NUMBER]) && comp;
    m->proved[NOVA_MRZ_BIRTH_DATE] = ok(m->checks[NOVA_MRZ_CHECK_BIRTH]) && m->birth.year;
    m->proved[NOVA_MRZ_EXPIRY_DATE] = ok(m->checks[NOVA_MRZ_CHECK_EXPIRY]) && m->expiry.year;
    m->proved[NOVA_MRZ_OPTIONAL_DATA] =
        has_comp && comp && (L->format != NOVA_MRZ_TD3 || ok(m->checks[NOVA_MRZ_CHECK_OPTIONAL]));
    m->proved[NOVA_MRZ_OPTIONAL_DATA_2] = L->optional2.len && has_comp && comp;
    for (int f = 0; f < NOVA_MRZ_FIELDS; f++)
        m->proved[f] = m->proved[f] && !ambiguous[f];
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
    const layout_t *L = NULL;
    for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]) && !L; i++) {
        const layout_t *c = &layouts[i];
        bool shape = z.n == c->lines;
        for (size_t k = 0; shape && k < z.n; k++)
            shape = z.len[k] == c->width;
        bool visa = c->format == NOVA_MRZ_MRVA || c->format == NOVA_MRZ_MRVB;
        if (shape && (c->lines == 3 || visa == (z.line[0][0] == 'V')))
            L = c;
    }
    if (L == NULL) {
        *why = "not a machine-readable zone: 3 lines of 30 (TD1), 2 of 36 (TD2, MRV-B) or 2 of "
               "44 (TD3, MRV-A)";
        return NOVA_INVALID;
    }
    out->format = L->format;
    check_def_t defs[NOVA_MRZ_CHECKS];
    memcpy(defs, L->checks, sizeof(defs));
    if (L->format == NOVA_MRZ_TD1 && z.line[0][14] == '<' && z.line[0][15] != '<') {
        /* A number longer than 9: it goes on in the optional data, whose last character
         * before the first filler is the check digit (Doc 9303-5, note j). */
        size_t k = 15;
        while (k < 30 && z.line[0][k] != '<')
            k++;
        check_def_t *n = &defs[NOVA_MRZ_CHECK_NUMBER];
        n->data[1] = (span_t)S(0, 15, (uint8_t)(k - 16));
        n->ndata = 2;
        n->digit = (span_t)S(0, (uint8_t)(k - 1), 1);
    }
    for (int k = 0; k < NOVA_MRZ_CHECKS; k++) {
        if (!defs[k].digit.len)
            continue;
        if (k == NOVA_MRZ_CHECK_BIRTH || k == NOVA_MRZ_CHECK_EXPIRY)
            digits_only(&z, out, defs[k].data[0], (nova_mrz_check)k);
        if (!defs[k].filler_ok || *at(&z, defs[k].digit) != '<')
            digits_only(&z, out, defs[k].digit, (nova_mrz_check)k);
    }
    repair(&z, out, L, defs);
    read_fields(&z, out, L, defs, now_year);
    if (L->format == NOVA_MRZ_TD1 && defs[NOVA_MRZ_CHECK_NUMBER].ndata == 2) {
        /* The optional data starts after the long number's check digit. */
        size_t k = (size_t)defs[NOVA_MRZ_CHECK_NUMBER].digit.start + 1;
        field(out->optional_data, sizeof(out->optional_data), z.line[0] + k, 30 - k, 0);
    }
    out->nlines = z.n;
    for (size_t i = 0; i < z.n; i++)
        memcpy(out->lines[i], z.line[i], z.len[i] + 1);
    return NOVA_OK;
}

bool nova_mrz_valid(const nova_mrz_t *m)
{
    return m->format && m->nerrors == 0;
}
