/*
 * checks.c: the check table and the checks that work on earlier steps' outputs and the images
 * (one C interface, idv_check_fn: images + config + earlier outputs -> status, score, reasons,
 * extracted). Each is stateless and runs without the server (tests/unit/idv_test.c).
 *
 * custom_webhook runs in custom.c (the tenant's mTLS endpoint). Active liveness has no runner
 * yet (its challenge nonce does not reach the gateway); a workflow naming it is refused with a
 * 422 that says so, never run with a made-up result.
 */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"
#include "nova/log.h"
#include "nova/mrz.h"
#include "nova/mrz_json.h"
#include "nova/vision.h"

static const idv_check_t checks[] = {
    {NOVA_CHECK_OCR, idv_check_ocr, 2, NULL},
    {NOVA_CHECK_MRZ, idv_check_mrz, 1, NULL},
    {NOVA_CHECK_DOCUMENT_AUTHENTICITY, idv_check_authenticity, 2, NULL},
    {NOVA_CHECK_FACE_MATCH, idv_check_face_match, 3, NULL},
    {NOVA_CHECK_LIVENESS, idv_check_liveness, 3, NULL},
    {NOVA_CHECK_AGE, idv_check_age, 1, NULL},
    {NOVA_CHECK_ADDRESS, idv_check_address, 1, NULL},
    {NOVA_CHECK_CUSTOM_WEBHOOK, idv_check_custom_webhook, 1, NULL},
};

const idv_check_t *idv_check_find(nova_check_kind k)
{
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
        if (checks[i].kind == k)
            return &checks[i];
    return NULL;
}

void idv_reason(idv_check_out_t *out, const char *code)
{
    if (out->reasons == NULL)
        out->reasons = json_array();
    json_array_append_new(out->reasons, json_string(code));
}

static double num(json_t *config, const char *key, double def)
{
    json_t *v = json_object_get(config, key);
    return json_is_number(v) ? json_number_value(v) : def;
}

static bool flag(json_t *config, const char *key, bool def)
{
    json_t *v = json_object_get(config, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

/* The extracted data of the first earlier step running check. */
static json_t *earlier(const idv_check_in_t *in, const char *check)
{
    const char *key;
    json_t *v;
    json_object_foreach(in->steps, key, v)
    {
        const char *c = json_string_value(json_object_get(v, "check"));
        if (c && strcmp(c, check) == 0)
            return json_object_get(v, "extracted");
    }
    return NULL;
}

static int year_of(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    return tm.tm_year + 1900;
}

/* ---- mrz: the zone OCR found, every check digit ---- */

/* The zone of one candidate (lines from OCR): parsed and repaired (src/mrz, the one place
 * that repairs a zone, and only where a check digit proves it) into *m; scored 2 per check
 * digit that holds as read, 1 per one that holds after repairs, -1 per other error, 3 more
 * when the zone is valid; -1 when it is no zone. */
static int mrz_candidate(json_t *lines, int year, nova_mrz_t *m)
{
    char text[256];
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(lines); i++) {
        const char *l = json_string_value(json_array_get(lines, i));
        size_t ll = l ? strlen(l) : 0;
        if (ll == 0 || n + ll + 2 > sizeof(text))
            return -1;
        memcpy(text + n, l, ll);
        n += ll;
        text[n++] = '\n';
    }
    const char *why = NULL;
    if (n == 0 || nova_mrz_parse(text, n, year, m, &why) != NOVA_OK)
        return -1;
    int score = nova_mrz_valid(m) ? 3 : 0;
    for (int k = 0; k < NOVA_MRZ_CHECKS; k++)
        score += m->checks[k] == NOVA_MRZ_OK ? 2 : m->checks[k] == NOVA_MRZ_REPAIRED ? 1 : 0;
    for (size_t i = 0; i < m->nerrors; i++)
        score -= strcmp(m->errors[i].code, "check_digit_failed") != 0;
    return score < 0 ? 0 : score;
}

/* Whether the visual zone (OCR text) holds the name: each word within one edit per five
 * letters. Names have no check digit; this is their proof. */
double idv_address_score(const char *claimed, const char *document);

bool idv_word_in(const char *word, const char *text)
{
    size_t n = strlen(word);
    if (n == 0 || text == NULL)
        return false;
    for (const char *p = text; (p = strcasestr(p, word)) != NULL; p++) {
        bool left = p == text || !isalnum((unsigned char)p[-1]);
        bool right = !isalnum((unsigned char)p[n]);
        if (left && right)
            return true;
    }
    return false;
}

#define NAME_WORDS 12

static size_t split_words(const char *s, char w[][64])
{
    size_t n = 0;
    while (*s && n < NAME_WORDS) {
        while (*s == ' ')
            s++;
        size_t l = strcspn(s, " ");
        if (l == 0)
            break;
        snprintf(w[n++], 64, "%.*s", (int)(l < 63 ? l : 63), s);
        s += l;
    }
    return n;
}

/* Digits OCR reads for letters (digit, letter). A name in the MRZ has no digit, so a digit
 * there is a misread; two letters read for one another (I and L, O and D) are not repaired
 * this way: the visual zone is read by OCR too, and either read may be the wrong one. */
static const char *const LOOKALIKE[] = {"0O", "0D", "0Q", "1I", "1L", "2Z", "4A", "5S", "6G", "8B"};

static bool lookalike(char read, char printed)
{
    for (size_t i = 0; i < sizeof(LOOKALIKE) / sizeof(LOOKALIKE[0]); i++)
        if (LOOKALIKE[i][0] == read && LOOKALIKE[i][1] == printed)
            return true;
    return false;
}

/* The fewest lookalike substitutions that make the read word r the printed word v (one glyph
 * read as several counts one: "IVI" or "IV" or "RN" for M, "VV" for W); -1 when r and v differ
 * otherwise (no letter is ever dropped or added). */
static int lookalike_cost(const char *r, const char *v)
{
    size_t n = strlen(r), m = strlen(v);
    if (n > 63 || m > 63)
        return -1;
    int d[64][64];
    for (size_t i = 0; i <= n; i++)
        for (size_t j = 0; j <= m; j++)
            d[i][j] = -1;
    d[0][0] = 0;
    for (size_t i = 0; i <= n; i++)
        for (size_t j = 0; j <= m; j++) {
            int c = d[i][j];
            if (c < 0 || i == n || j == m)
                continue;
#define STEP(di, cost)                                                                             \
    do {                                                                                           \
        if (d[i + (di)][j + 1] < 0 || d[i + (di)][j + 1] > c + (cost))                             \
            d[i + (di)][j + 1] = c + (cost);                                                       \
    } while (0)
            if (r[i] == v[j])
                STEP(1, 0);
            else if (lookalike(r[i], v[j]))
                STEP(1, 1);
            if (v[j] == 'M' && i + 3 <= n && strncmp(r + i, "IVI", 3) == 0)
                STEP(3, 1);
            if (v[j] == 'M' && i + 2 <= n &&
                (strncmp(r + i, "IV", 2) == 0 || strncmp(r + i, "RN", 2) == 0))
                STEP(2, 1);
            if (v[j] == 'W' && i + 2 <= n && strncmp(r + i, "VV", 2) == 0)
                STEP(2, 1);
#undef STEP
        }
    return d[n][m];
}

/* A name word as OCR read it, the visual zone not showing it: fillers read as letters at its
 * ends ("MENSAHK" for "MENSAH<", "AMINAS" for "AMINA<", "MOSESXKKKK", "KMOSES" for "<MOSES"),
 * digits read for letters ("J0SEPH", "NALED1") and one glyph read as several ("DLAIVIINI" for
 * "DLAMINI"). Rewrites w to the visual zone's word when exactly one word of it is w, up to at
 * most one filler stripped in front, any number behind, and at most one lookalike (two in a
 * word of eight letters or more); *tail says whether a filler behind was stripped (the "<<"
 * after a surname read as "K<"). */
static bool viz_match(char *w, const char *text, bool *tail)
{
    size_t l = strlen(w);
    *tail = false;
    if (l < 3 || text == NULL || idv_word_in(w, text))
        return false;
    char found[64] = "";
    int found_cost = -1;
    bool found_tail = false, ambiguous = false;
    for (const char *p = text; *p;) {
        while (*p && !isupper((unsigned char)*p))
            p++;
        size_t vl = 0;
        while (isupper((unsigned char)p[vl]))
            vl++;
        bool whole = vl >= 2 && vl < 64 && (p == text || !isalnum((unsigned char)p[-1])) &&
                     !isalnum((unsigned char)p[vl]);
        char v[64];
        snprintf(v, sizeof(v), "%.*s", (int)(vl < 63 ? vl : 63), p);
        p += vl ? vl : (*p != '\0');
        if (!whole)
            continue;
        int max = vl >= 8 ? 2 : 1, best = -1;
        bool best_tail = false;
        for (size_t lead = 0; lead <= 1; lead++) {
            if (lead && w[0] != 'K' && w[0] != 'X')
                break;
            for (size_t e = l; e > lead + 1; e--) {
                if (e < l && !strchr("KXS", w[e]))
                    break; /* only fillers read as K, X or S are stripped behind */
                char r[64];
                snprintf(r, sizeof(r), "%.*s", (int)(e - lead), w + lead);
                int c = lookalike_cost(r, v);
                if (c >= 0 && c <= max && (best < 0 || c < best)) {
                    best = c;
                    best_tail = e < l;
                }
            }
        }
        if (best < 0)
            continue;
        if (found_cost >= 0 && strcmp(found, v) != 0) {
            if (best == found_cost)
                ambiguous = true;
            else if (best > found_cost)
                continue;
            else
                ambiguous = false;
        }
        if (found_cost < 0 || best <= found_cost) {
            snprintf(found, sizeof(found), "%s", v);
            found_cost = best;
            found_tail = best_tail;
        }
    }
    if (found_cost < 0 || ambiguous)
        return false;
    snprintf(w, 64, "%s", found);
    *tail = found_tail;
    return true;
}

/* A name word OCR grew by a filler read behind it ("MENSAHK", "AMINAS"): the "<<" after a
 * surname read as "K<" or "S<". */
static bool filler_stem(char *w, const char *text)
{
    char keep[64];
    bool tail = false;
    snprintf(keep, sizeof(keep), "%.63s", w);
    if (viz_match(w, text, &tail) && tail)
        return true;
    snprintf(w, 64, "%s", keep);
    return false;
}

static bool viz_word(char *w, const char *text)
{
    bool tail;
    return viz_match(w, text, &tail);
}

/* A filler read as K inside a word joins two names: "BRIANKESTHER" for "BRIAN<ESTHER". Splits
 * word i of w (n words, at most NAME_WORDS) at the K whose two sides the visual zone shows. */
static bool filler_join(char w[][64], size_t *n, size_t i, const char *text)
{
    char *word = w[i];
    size_t l = strlen(word);
    if (*n >= NAME_WORDS || idv_word_in(word, text))
        return false;
    if (l > 0 && (word[l - 1] == 'K' || word[l - 1] == 'X'))
        word[--l] = '\0';
    for (size_t k = 2; k + 2 < l; k++) {
        if (word[k] != 'K' && word[k] != 'X')
            continue;
        char left[64], right[64];
        snprintf(left, sizeof(left), "%.*s", (int)k, word);
        snprintf(right, sizeof(right), "%s", word + k + 1);
        if (idv_word_in(left, text) && idv_word_in(right, text)) {
            memmove(w[i + 2], w[i + 1], (*n - i - 1) * 64);
            snprintf(w[i], 64, "%s", left);
            snprintf(w[i + 1], 64, "%s", right);
            (*n)++;
            return true;
        }
    }
    return false;
}

/* Whether a line of text, trimmed, is s (case folded). */
static bool line_in(const char *s, const char *text)
{
    size_t n = strlen(s);
    for (const char *p = text; p && *p;) {
        size_t len = strcspn(p, "\n");
        const char *q = p, *e = p + len;
        while (q < e && *q == ' ')
            q++;
        while (e > q && e[-1] == ' ')
            e--;
        if ((size_t)(e - q) == n && strncasecmp(q, s, n) == 0)
            return true;
        p += len;
        if (*p == '\n')
            p++;
    }
    return false;
}

/* Whether the visual zone prints words[0..i] on one line and words[i+1..] on another: the
 * "<<" between surname and given names was read as one filler ("KAMAU<NALEDI"). */
static bool split_confirmed(char w[][64], size_t n, size_t i, const char *text)
{
    char left[256] = "", right[256] = "";
    for (size_t k = 0; k < n; k++) {
        char *dst = k <= i ? left : right;
        size_t used = strlen(dst);
        snprintf(dst + used, 256 - used, "%s%s", used ? " " : "", w[k]);
    }
    bool l = false, r = false;
    for (const char *p = text; p && *p;) {
        size_t len = strcspn(p, "\n");
        while (len && p[len - 1] == ' ')
            len--;
        const char *q = p;
        while (*q == ' ' && q < p + len)
            q++;
        size_t ql = len - (size_t)(q - p);
        l = l || (ql == strlen(left) && strncasecmp(q, left, ql) == 0);
        r = r || (ql == strlen(right) && strncasecmp(q, right, ql) == 0);
        p += strcspn(p, "\n");
        if (*p == '\n')
            p++;
    }
    return l && r;
}

/* Names have no check digit: they are proved only when every word is in the visual zone. Before
 * that, three repairs that the visual zone must confirm: a filler read as K or X at the end of a
 * word, "<<" read as "X<" (surname and given names run together), and trailing words made only
 * of filler confusions (K S E C X). Writes surname and given_names back into ex with the count
 * (fields, the parser's) with the count of repairs (ex); *proved says whether the names are
 * proved. */
static void names_check(json_t *ex, json_t *fields, const char *sur, const char *giv,
                        const char *text, bool *proved)
{
    char sw[NAME_WORDS][64], gw[NAME_WORDS][64];
    size_t ns = split_words(sur, sw), ng = split_words(giv, gw);
    unsigned repairs = 0;
    /* Trailing given-name words made only of filler confusions go first: they hide a
     * surname that swallowed the given names ("KAMAUK<NALEDI<<...<<KKKEEE"). */
    while (ng > 0 && !idv_word_in(gw[ng - 1], text) &&
           strspn(gw[ng - 1], "KSECX") == strlen(gw[ng - 1])) {
        ng--;
        repairs++;
    }
    /* "<<" read as "<X<" or "<K<": a lone letter the visual zone does not show separates. */
    for (size_t i = 1; ng == 0 && i + 1 < ns; i++)
        if ((strcmp(sw[i], "X") == 0 || strcmp(sw[i], "K") == 0) && !idv_word_in(sw[i], text)) {
            for (size_t k = i + 1; k < ns; k++)
                memcpy(gw[ng++], sw[k], 64);
            ns = i;
            repairs++;
        }
    if (ng == 0 && ns > 1) {
        for (size_t i = 0; i + 1 < ns; i++)
            if (filler_stem(sw[i], text) || split_confirmed(sw, ns, i, text)) {
                for (size_t k = i + 1; k < ns; k++)
                    memcpy(gw[ng++], sw[k], 64);
                ns = i + 1;
                repairs++;
                break;
            }
    }
    for (size_t i = 0; i < ns; i++)
        repairs += viz_word(sw[i], text) || filler_join(sw, &ns, i, text);
    for (size_t i = 0; i < ng; i++)
        repairs += viz_word(gw[i], text) || filler_join(gw, &ng, i, text);
    bool ok = ns > 0;
    char s2[256] = "", g2[256] = "";
    for (size_t i = 0; i < ns; i++) {
        ok = ok && idv_word_in(sw[i], text);
        snprintf(s2 + strlen(s2), sizeof(s2) - strlen(s2), "%s%s", i ? " " : "", sw[i]);
    }
    for (size_t i = 0; i < ng; i++) {
        ok = ok && idv_word_in(gw[i], text);
        snprintf(g2 + strlen(g2), sizeof(g2) - strlen(g2), "%s%s", i ? " " : "", gw[i]);
    }
    /* Several surname words and no given names: proved only when the visual zone prints
     * them as one line (else the given names may hide in the surname). */
    if (ns > 1 && ng == 0)
        ok = ok && line_in(s2, text);
    json_object_set_new(fields, "surname", json_string(s2));
    json_object_set_new(fields, "given_names", json_string(g2));
    json_object_set_new(ex, "names_repaired", json_integer(repairs));
    *proved = ok;
}

#define MRZ_READS 8

/* The names of the zone when the reading whose check digits proved it best does not show
 * names the visual zone proves: the OCR step reads the zone up to three times (the band, the
 * page, the legacy engine), and a filler or a letter one reading got wrong another often got
 * right. The first other reading whose names the visual zone proves gives the names. */
static void names_from_other_reads(json_t *ex, const nova_mrz_t *read, size_t n,
                                   const nova_mrz_t *best, const char *text, bool *proved)
{
    json_t *fields = json_object_get(ex, "fields");
    for (size_t i = 0; i < n && !*proved; i++) {
        if (strcmp(read[i].surname, best->surname) == 0 &&
            strcmp(read[i].given_names, best->given_names) == 0)
            continue;
        json_t *tex = json_object(), *tf = json_object();
        bool ok = false;
        if (tex && tf)
            names_check(tex, tf, read[i].surname, read[i].given_names, text, &ok);
        if (ok) {
            json_object_set(fields, "surname", json_object_get(tf, "surname"));
            json_object_set(fields, "given_names", json_object_get(tf, "given_names"));
            json_object_set_new(
                ex, "names_repaired",
                json_integer(json_integer_value(json_object_get(ex, "names_repaired")) + 1 +
                             json_integer_value(json_object_get(tex, "names_repaired"))));
            json_object_set_new(ex, "names_from_another_reading", json_true());
            *proved = true;
        }
        json_decref(tex);
        json_decref(tf);
    }
}

/* The readings among cands (the OCR step's mrz_candidates, arrays of lines) that parse as a
 * zone, into read[] (the first MRZ_READS), and the one whose check digits score best into
 * *best; false when none parses. */
static bool mrz_readings(json_t *cands, int year, nova_mrz_t *best, nova_mrz_t read[MRZ_READS],
                         size_t *nread)
{
    nova_mrz_t m;
    int best_score = -1;
    *nread = 0;
    for (size_t i = 0; i < json_array_size(cands); i++) {
        int sc = mrz_candidate(json_array_get(cands, i), year, &m);
        if (sc >= 0 && *nread < MRZ_READS)
            read[(*nread)++] = m;
        if (sc > best_score) {
            best_score = sc;
            *best = m;
        }
    }
    return best_score >= 0;
}

/* The visual zone: the page's text without its MRZ lines (any line holding a filler is
 * blanked); malloc'd, NULL for no page. */
static char *visual_zone(const char *page)
{
    char *text = page ? strdup(page) : NULL;
    for (char *line = text; line && *line;) {
        size_t l = strcspn(line, "\n");
        if (memchr(line, '<', l))
            memset(line, ' ', l);
        line += l + (line[l] == '\n');
    }
    return text;
}

/* Whether the visual zone text proves the names of best, after its repairs, or else those of
 * another reading (names_check, names_from_other_reads); the names and repairs go into ex and
 * its fields. */
static bool names_prove(json_t *ex, const nova_mrz_t *best, const nova_mrz_t *read, size_t nread,
                        const char *text)
{
    bool proved = false;
    names_check(ex, json_object_get(ex, "fields"), best->surname, best->given_names, text, &proved);
    if (!proved)
        names_from_other_reads(ex, read, nread, best, text, &proved);
    return proved;
}

bool idv_mrz_names_proved(json_t *cands, const char *page, int64_t now)
{
    nova_mrz_t best, read[MRZ_READS];
    size_t nread = 0;
    if (page == NULL || !mrz_readings(cands, year_of(now), &best, read, &nread))
        return false;
    char *text = visual_zone(page);
    json_t *ex = json_pack("{s:{}}", "fields");
    bool proved = text && ex && names_prove(ex, &best, read, nread, text);
    json_decref(ex);
    free(text);
    return proved;
}

nova_status idv_check_mrz(const idv_check_in_t *in, idv_check_out_t *out)
{
    json_t *ocr = earlier(in, "ocr");
    json_t *cands = json_object_get(ocr, "mrz_candidates"), *single = NULL;
    if (cands == NULL) {
        cands = single = json_array();
        if (json_object_get(ocr, "mrz_lines"))
            json_array_append(single, json_object_get(ocr, "mrz_lines"));
    }
    nova_mrz_t m, read[MRZ_READS];
    size_t nread = 0;
    bool found = mrz_readings(cands, year_of(in->now), &m, read, &nread);
    json_decref(single);
    if (!found) {
        out->status = "failed";
        out->score = 0;
        idv_reason(out, json_array_size(json_object_get(ocr, "mrz_lines")) ? "mrz_unreadable"
                                                                           : "mrz_not_found");
        return NOVA_OK;
    }
    out->extracted = nova_mrz_json(&m);
    if (out->extracted == NULL)
        return NOVA_NOMEM;
    bool valid = nova_mrz_valid(&m);
    /* One reason per error of the zone, "<field>_<code>": document_number_check_digit_failed,
     * composite_check_digit_failed, issuer_unknown_country, ... */
    for (size_t i = 0; i < m.nerrors; i++) {
        char code[96];
        snprintf(code, sizeof(code), "%s_%s", m.errors[i].field, m.errors[i].code);
        idv_reason(out, code);
    }
    bool repaired = false;
    for (size_t i = 0; i < m.nrepairs; i++)
        repaired = repaired || m.repairs[i].proved;
    if (repaired)
        idv_reason(out, "ocr_confusions_repaired");
    if (m.checks[NOVA_MRZ_CHECK_NUMBER] == NOVA_MRZ_REPAIRED)
        idv_reason(out, "document_number_repaired_by_check_digits");
    /* Names, sex and nationality are not covered by check digits: the names are proved only
     * when the visual zone shows the same name (the page's text without its MRZ lines, any
     * line holding a filler). */
    char *text = visual_zone(json_string_value(json_object_get(ocr, "text")));
    bool name_proved = names_prove(out->extracted, &m, read, nread, text);
    /* A repaired number is the one confusion swap the check digits accept; a misread of
     * another kind in the same field could have been "repaired" that way too (the composite
     * weighs the number as its own digit does), so it passes only when the visual zone prints
     * the repaired number. */
    bool number_seen = idv_word_in(m.document_number, text);
    /* G and 6 look alike and weigh the same in a check digit (16 and 6 mod 10): a number read
     * with one for the other passes every check. A number holding either passes only when the
     * visual zone prints it as read; where it prints the other one, either read may be the
     * wrong one, so the number is not proved (review). Other letters weighing as a digit (S as
     * 8, L as 1, U as 0) do not look like it in OCR-B. */
    bool swappable = strpbrk(m.document_number, "G6") != NULL;
    bool number_doubt =
        (m.checks[NOVA_MRZ_CHECK_NUMBER] == NOVA_MRZ_REPAIRED || swappable) && !number_seen;
    free(text);
    json_object_set_new(out->extracted, "document_number_in_visual_zone",
                        json_boolean(number_seen));
    json_t *proved = json_object_get(out->extracted, "proved");
    json_object_set_new(proved, "surname", json_boolean(name_proved));
    json_object_set_new(proved, "given_names", json_boolean(name_proved));
    if (number_doubt) {
        json_object_set_new(proved, "document_number", json_false());
        idv_reason(out, m.checks[NOVA_MRZ_CHECK_NUMBER] == NOVA_MRZ_REPAIRED
                            ? "document_number_repair_not_in_visual_zone"
                            : "document_number_g6_not_in_visual_zone");
    }
    if (!name_proved)
        idv_reason(out, "names_not_proved_by_visual_zone");
    const char *claimed = json_string_value(json_object_get(in->applicant, "document_number"));
    bool mismatch = claimed && strcmp(claimed, m.document_number) != 0;
    if (mismatch)
        idv_reason(out, "document_number_differs_from_claim");
    if (valid && !mismatch) {
        out->status = name_proved && !number_doubt ? "passed" : "review";
        out->score = name_proved && !number_doubt ? 1 : 0.8;
    } else if (valid || !flag(in->config, "require_valid", true)) {
        out->status = "review";
        out->score = 0.5;
    } else {
        out->status = "failed";
        out->score = 0;
    }
    return NOVA_OK;
}

/* ---- age: from the MRZ's birth date, else the claimed one ---- */

static bool parse_date(const char *s, int *y, int *m, int *d)
{
    return s && strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d", y, m, d) == 3;
}

nova_status idv_check_age(const idv_check_in_t *in, idv_check_out_t *out)
{
    const char *mrz_birth = json_string_value(
        json_object_get(json_object_get(earlier(in, "mrz"), "fields"), "birth_date"));
    const char *claimed = json_string_value(json_object_get(in->applicant, "date_of_birth"));
    const char *birth = mrz_birth ? mrz_birth : claimed;
    int y, mo, d;
    if (!parse_date(birth, &y, &mo, &d)) {
        out->status = "failed";
        out->score = 0;
        idv_reason(out, "birth_date_unknown");
        return NOVA_OK;
    }
    time_t now = (time_t)in->now;
    struct tm tm;
    gmtime_r(&now, &tm);
    int age = tm.tm_year + 1900 - y;
    if (tm.tm_mon + 1 < mo || (tm.tm_mon + 1 == mo && tm.tm_mday < d))
        age--;
    double min = num(in->config, "min_age", 18), max = num(in->config, "max_age", 150);
    out->extracted = json_pack("{s:i, s:s, s:s}", "age", age, "birth_date", birth, "source",
                               mrz_birth ? "mrz" : "claimed");
    bool ok = age >= min && age <= max;
    if (!ok)
        idv_reason(out, age < min ? "under_minimum_age" : "over_maximum_age");
    if (mrz_birth && claimed && strcmp(mrz_birth, claimed) != 0)
        idv_reason(out, "birth_date_differs_from_claim");
    out->status = !ok                                                         ? "failed"
                  : (mrz_birth && claimed && strcmp(mrz_birth, claimed) != 0) ? "review"
                  : mrz_birth                                                 ? "passed"
                                                                              : "review";
    if (ok && !mrz_birth)
        idv_reason(out, "birth_date_not_proved_by_document");
    out->score = !ok ? 0 : strcmp(out->status, "passed") == 0 ? 1 : 0.5;
    return NOVA_OK;
}

/* Whether s (its first n characters; 0: all of it) is one of list's strings. */
static bool listed(json_t *list, const char *s, size_t n)
{
    size_t i;
    json_t *v;
    if (s == NULL || *s == '\0')
        return false;
    json_array_foreach(list, i, v)
    {
        const char *e = json_string_value(v);
        if (e && (n ? strlen(e) == n && strncmp(e, s, n) == 0 : strcmp(e, s) == 0))
            return true;
    }
    return false;
}

/* ---- address: the claimed address against what OCR read from the documents ---- */

/* Lower-case alphanumeric words of s, at most max, each up to 31 bytes. */
static size_t words(const char *s, char out[][32], size_t max)
{
    size_t n = 0;
    while (s && *s && n < max) {
        while (*s && !isalnum((unsigned char)*s))
            s++;
        size_t l = 0;
        while (*s && isalnum((unsigned char)*s)) {
            if (l < 31)
                out[n][l++] = (char)tolower((unsigned char)*s);
            s++;
        }
        if (l) {
            out[n][l] = '\0';
            n++;
        }
    }
    return n;
}

/* Levenshtein distance of two short words (<= 31 bytes). */
static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b), prev[32], cur[32];
    for (int j = 0; j <= lb; j++)
        prev[j] = j;
    for (int i = 1; i <= la; i++) {
        cur[0] = i;
        for (int j = 1; j <= lb; j++) {
            int c = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = c < del ? (c < ins ? c : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (size_t)(lb + 1));
    }
    return prev[lb];
}

double idv_address_score(const char *claimed, const char *document);
double idv_address_score(const char *claimed, const char *document)
{
    static char cw[64][32], dw[1024][32];
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu);
    size_t nc = words(claimed, cw, 64), nd = words(document, dw, 1024);
    /* Each claimed word counts when the document holds it within one edit per five letters
     * (OCR misreads, abbreviations aside). */
    size_t found = 0;
    for (size_t i = 0; i < nc; i++) {
        int allow = (int)strlen(cw[i]) / 5;
        for (size_t j = 0; j < nd; j++)
            if (edit_distance(cw[i], dw[j]) <= allow) {
                found++;
                break;
            }
    }
    pthread_mutex_unlock(&mu);
    return nc ? (double)found / (double)nc : 0;
}

nova_status idv_check_address(const idv_check_in_t *in, idv_check_out_t *out)
{
    const char *claimed = json_string_value(json_object_get(in->applicant, "address"));
    json_t *ocr = earlier(in, "ocr");
    const char *front = json_string_value(json_object_get(ocr, "text"));
    const char *back = json_string_value(json_object_get(ocr, "back_text"));
    const char *poa = json_string_value(json_object_get(ocr, "proof_of_address_text"));
    if (claimed == NULL) {
        out->status = "failed";
        out->score = 0;
        idv_reason(out, "address_not_claimed");
        return NOVA_OK;
    }
    /* countries: where the workflow accepts residents of. The country is the applicant's own
     * claim (address_country), which the text match below then has to bear out: no country
     * is guessed from free text or from the document's issuer (a Kenyan passport holder may
     * live in Uganda). */
    json_t *countries = json_object_get(in->config, "countries");
    const char *country = json_string_value(json_object_get(in->applicant, "address_country"));
    if (countries && !listed(countries, country, 0)) {
        out->status = "failed";
        out->score = 0;
        idv_reason(out, country ? "address_country_not_allowed" : "address_country_not_claimed");
        out->extracted = json_pack("{s:s?}", "country", country);
        return NOVA_OK;
    }
    /* A proof of address, when sent, is what the claim must match (a document's printed
     * address can be years old); without one, either side of the document. */
    double score;
    const char *source;
    if (poa) {
        score = idv_address_score(claimed, poa);
        source = "proof_of_address";
    } else {
        double sf = front ? idv_address_score(claimed, front) : 0;
        double sb = back ? idv_address_score(claimed, back) : 0;
        score = sf > sb ? sf : sb;
        source = sb > sf ? "back" : "front";
        if (flag(in->config, "require_proof_of_address", false))
            idv_reason(out, "proof_of_address_missing");
    }
    out->score = score;
    out->extracted =
        json_pack("{s:f, s:s, s:s?}", "match", score, "source", source, "country", country);
    if (!poa && flag(in->config, "require_proof_of_address", false)) {
        out->status = "failed";
    } else if (score >= 0.8) {
        out->status = "passed";
    } else if (score >= 0.5 || !flag(in->config, "require_match", true)) {
        out->status = "review";
        idv_reason(out, "address_partial_match");
    } else {
        out->status = "failed";
        idv_reason(out, "address_does_not_match");
    }
    return NOVA_OK;
}

/* ---- document authenticity ---- */

/* Variance of the Laplacian of the grey image: low means blurred. */
static double sharpness(const nova_vision_image_t *img)
{
    double sum = 0, sum2 = 0;
    size_t n = 0;
    int w = img->width, h = img->height, step = w > 1200 ? 2 : 1;
    for (int y = 1; y + 1 < h; y += step)
        for (int x = 1; x + 1 < w; x += step) {
            const uint8_t *p = img->rgb + ((size_t)y * w + x) * 3;
            double c = p[1], l = p[-3 + 1], r = p[3 + 1], u = p[-(ptrdiff_t)w * 3 + 1],
                   d = p[(ptrdiff_t)w * 3 + 1];
            double lap = l + r + u + d - 4 * c;
            sum += lap;
            sum2 += lap * lap;
            n++;
        }
    if (n == 0)
        return 0;
    double mean = sum / (double)n;
    return sum2 / (double)n - mean * mean;
}

/* Share of near-white saturated pixels (glare). */
static double glare(const nova_vision_image_t *img)
{
    size_t n = (size_t)img->width * img->height, bright = 0;
    for (size_t i = 0; i < n; i += 4) {
        const uint8_t *p = img->rgb + i * 3;
        if (p[0] > 250 && p[1] > 250 && p[2] > 250)
            bright++;
    }
    return n ? (double)bright / (double)(n / 4 + 1) : 0;
}

/* An editor's name in the JPEG's metadata segments (EXIF Software, XMP CreatorTool). */
static const char *editor_tag(const uint8_t *p, size_t n)
{
    static const char *const editors[] = {"Photoshop", "GIMP",    "Pixelmator", "Affinity",
                                          "Snapseed",  "PicsArt", "Lightroom"};
    size_t head = n < 65536 ? n : 65536;
    for (size_t i = 0; i < sizeof(editors) / sizeof(editors[0]); i++)
        if (memmem(p, head, editors[i], strlen(editors[i])))
            return editors[i];
    return NULL;
}

nova_status idv_check_authenticity(const idv_check_in_t *in, idv_check_out_t *out)
{
    json_t *mrz = earlier(in, "mrz");
    json_t *checks = json_object_get(mrz, "checks"), *fields = json_object_get(mrz, "fields");
    double score = 1;
    out->extracted = json_object();
    if (mrz == NULL) {
        idv_reason(out, "no_mrz_to_check");
        score -= 0.4;
    } else {
        /* Each check digit of the format (nova_mrz_json: "ok", "repaired" or "failed"). */
        const char *key;
        json_t *v;
        bool failed = json_object_size(checks) == 0;
        json_object_foreach(checks, key, v)
        {
            const char *st = json_string_value(v);
            failed = failed || st == NULL || strcmp(st, "failed") == 0;
        }
        if (failed) {
            score -= 0.25;
            idv_reason(out, "check_digit_failed");
        }
        /* The issuing states and document kinds the workflow accepts. */
        const char *issuer = json_string_value(json_object_get(fields, "issuer"));
        const char *code = json_string_value(json_object_get(fields, "document_code"));
        json_t *issuers = json_object_get(in->config, "issuers");
        json_t *kinds = json_object_get(in->config, "document_types");
        if (issuers && !listed(issuers, issuer, 0)) {
            idv_reason(out, "issuer_not_supported");
            score -= 0.6;
        }
        if (kinds && !listed(kinds, code, 1)) {
            idv_reason(out, "document_type_not_supported");
            score -= 0.6;
        }
        const char *exp = json_string_value(json_object_get(fields, "expiry_date"));
        int y, m, d;
        if (parse_date(exp, &y, &m, &d)) {
            time_t now = (time_t)in->now;
            struct tm tm;
            gmtime_r(&now, &tm);
            int today = (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
            if (y * 10000 + m * 100 + d < today) {
                idv_reason(out, "document_expired");
                score -= 0.5;
            }
        }
        /* The same proved number already approved for another applicant of the tenant
         * (documents.c; only inside a verification, where the store is at hand). */
        char number[65], who[65];
        int64_t others = 0;
        if (in->store && in->g && in->tenant_id && in->verification_id &&
            idv_document_digests(in->g, in->store, in->tenant_id, mrz, in->reference, in->applicant,
                                 number, who) == NOVA_OK) {
            nova_status ds = nova_store_idv_document_others(in->store, in->tenant_id, number, who,
                                                            in->verification_id, &others);
            if (ds != NOVA_OK)
                return ds; /* the job is tried again: never pass a check it could not run */
            json_object_set_new(out->extracted, "document_number_seen_for_others",
                                json_integer((json_int_t)others));
            if (others > 0) {
                idv_reason(out, "document_number_used_by_another_applicant");
                score -= num(in->config, "duplicate_document_penalty", 0.5);
            }
        }
        const char *name = json_string_value(json_object_get(fields, "surname"));
        json_t *ocr = earlier(in, "ocr");
        const char *text = json_string_value(json_object_get(ocr, "text"));
        if (name && *name && text && idv_address_score(name, text) < 0.5) {
            idv_reason(out, "mrz_name_not_in_visual_zone");
            score -= 0.2;
        }
    }
    nova_vision_image_t img = {0};
    if (in->images->document_front &&
        nova_vision_decode_jpeg(in->images->document_front, in->images->document_front_len, &img) ==
            NOVA_OK) {
        double sh = sharpness(&img), gl = glare(&img);
        int shorter = img.width < img.height ? img.width : img.height;
        json_object_set_new(out->extracted, "sharpness", json_real(sh));
        json_object_set_new(out->extracted, "glare", json_real(gl));
        json_object_set_new(out->extracted, "width", json_integer(img.width));
        json_object_set_new(out->extracted, "height", json_integer(img.height));
        if (shorter < 400) {
            idv_reason(out, "low_resolution");
            score -= 0.2;
        }
        if (sh < num(in->config, "min_sharpness", 20)) {
            idv_reason(out, "blurred");
            score -= 0.2;
        }
        if (gl > 0.05) {
            idv_reason(out, "glare");
            score -= 0.1;
        }
        /* Error-level analysis (src/vision/ela.c): a region saved fewer times than the rest
         * of the photo. */
        nova_vision_ela_t ela;
        if (nova_vision_ela(&img, 90, &ela) == NOVA_OK) {
            json_object_set_new(out->extracted, "ela",
                                json_pack("{s:i, s:f, s:f}", "region_blocks", ela.region_blocks,
                                          "region_ratio", ela.region_ratio, "region_error",
                                          ela.region_error));
            if (nova_vision_ela_suspicious(&ela)) {
                idv_reason(out, "error_level_inconsistent");
                score -= 0.3;
            }
        }
        const char *ed = editor_tag(in->images->document_front, in->images->document_front_len);
        if (ed) {
            idv_reason(out, "edited_with_software");
            json_object_set_new(out->extracted, "software", json_string(ed));
            score -= 0.5;
        }
    } else {
        idv_reason(out, "document_image_unreadable");
        score = 0;
    }
    nova_vision_image_free(&img);
    out->score = score < 0 ? 0 : score;
    double min = num(in->config, "min_score", 0.7);
    out->status = out->score >= min ? "passed" : out->score >= min / 2 ? "review" : "failed";
    return NOVA_OK;
}

/* ---- face match: the document portrait against the selfie (src/vision) ---- */

static pthread_once_t face_once = PTHREAD_ONCE_INIT;
static nova_vision_model_t *face_model;
static const char *face_path;

static void face_open(void)
{
    if (nova_vision_model_open(face_path, &face_model) != NOVA_OK)
        nova_log_warn("idv: face model %s cannot be opened: run scripts/models.sh", face_path);
}

nova_status idv_check_face_match(const idv_check_in_t *in, idv_check_out_t *out)
{
    if (in->images->selfie == NULL) {
        out->status = "failed";
        out->score = 0;
        idv_reason(out, "selfie_missing");
        return NOVA_OK;
    }
    face_path = in->g->face_model;
    pthread_once(&face_once, face_open);
    if (face_model == NULL)
        return NOVA_UNAVAILABLE; /* retried: the operator installs the model */
    nova_vision_image_t doc = {0}, selfie = {0};
    nova_status st =
        nova_vision_decode_jpeg(in->images->document_front, in->images->document_front_len, &doc);
    if (st == NOVA_OK)
        st = nova_vision_decode_jpeg(in->images->selfie, in->images->selfie_len, &selfie);
    nova_vision_match_t m;
    nova_vision_match_opts_t o = {.match_max = num(in->config, "match_max", 0),
                                  .review_max = num(in->config, "review_max", 0)};
    if (st == NOVA_OK)
        st = nova_vision_match(face_model, &doc, &selfie, &o, &m);
    nova_vision_image_free(&doc);
    nova_vision_image_free(&selfie);
    if (st != NOVA_OK) {
        out->status = "failed";
        out->score = 0;
        idv_reason(out, "image_unreadable");
        return NOVA_OK;
    }
    out->extracted = nova_vision_match_json(&m);
    out->score = m.similarity;
    out->status = m.decision == NOVA_VISION_MATCH    ? "passed"
                  : m.decision == NOVA_VISION_REVIEW ? "review"
                                                     : "failed";
    for (unsigned bit = 1; bit < (1u << NOVA_VISION_REASON_COUNT); bit <<= 1)
        if (m.reasons & bit)
            idv_reason(out, nova_vision_reason_name(bit));
    return NOVA_OK;
}

/* ---- liveness, passive: the selfie's signals (src/vision) ----
 * Passive signals can send a verification to review but never prove liveness on their own:
 * a clean selfie passes with score 0.7 and the reason passive_only, so the decision rule (not
 * this step alone) decides whether that is enough. */

/* Active liveness: the burst of images.liveness_frames against the challenge's actions the job
 * carries (taken from the control plane when the verification was accepted), the selfie's
 * face as the reference when there is one (src/vision/liveness.c). */
static nova_status liveness_active(const idv_check_in_t *in, idv_check_out_t *out)
{
    json_t *times = json_object_get(in->liveness, "t_ms");
    const char *text = json_string_value(json_object_get(in->liveness, "actions"));
    size_t n = in->images->nframes;
    if (text == NULL || n < 2 || json_array_size(times) != n) {
        out->status = "failed";
        out->score = 0;
        idv_reason(out, "liveness_challenge_missing");
        return NOVA_OK;
    }
    nova_vision_action actions[NOVA_VISION_LIVENESS_MAX_ACTIONS];
    size_t na = 0;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", text);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save);
         t && na < NOVA_VISION_LIVENESS_MAX_ACTIONS; t = strtok_r(NULL, ",", &save)) {
        int a = nova_vision_action_parse(t);
        if (a >= 0)
            actions[na++] = (nova_vision_action)a;
    }
    nova_vision_image_t img[IDV_MAX_FRAMES] = {0}, selfie = {0};
    nova_vision_frame_t f[IDV_MAX_FRAMES] = {0};
    nova_status st = NOVA_OK;
    for (size_t i = 0; i < n && st == NOVA_OK; i++) {
        if (nova_vision_decode_jpeg(in->images->frames[i], in->images->frame_len[i], &img[i]) !=
            NOVA_OK) {
            out->status = "failed";
            out->score = 0;
            idv_reason(out, "image_unreadable");
            st = NOVA_INVALID;
            break;
        }
        f[i] = (nova_vision_frame_t){&img[i], in->images->frames[i], in->images->frame_len[i],
                                     (int64_t)json_integer_value(json_array_get(times, i))};
    }
    /* The selfie's largest face is who the frames must show. */
    float ref[NOVA_VISION_DESCRIPTOR];
    bool has_ref = false;
    if (st == NOVA_OK && in->images->selfie &&
        nova_vision_decode_jpeg(in->images->selfie, in->images->selfie_len, &selfie) == NOVA_OK) {
        nova_vision_detect_opts_t o = {.describe = 1, .detector = NOVA_VISION_SSD};
        nova_vision_face_t *faces = NULL;
        size_t nf = 0;
        if (nova_vision_detect(face_model, &selfie, &o, &faces, &nf) == NOVA_OK && nf > 0) {
            size_t big = 0;
            for (size_t i = 1; i < nf; i++)
                if (faces[i].box.w * faces[i].box.h > faces[big].box.w * faces[big].box.h)
                    big = i;
            memcpy(ref, faces[big].descriptor, sizeof(ref));
            has_ref = true;
        }
        free(faces);
    }
    nova_vision_liveness_t *res = st == NOVA_OK ? malloc(sizeof(*res)) : NULL;
    if (st == NOVA_OK && res == NULL)
        st = NOVA_NOMEM;
    nova_vision_liveness_opts_t o = {0};
    if (st == NOVA_OK)
        st = nova_vision_liveness(face_model, f, n, actions, na, has_ref ? ref : NULL, &o, res);
    if (st == NOVA_OK) {
        out->extracted = nova_vision_liveness_json(res);
        json_object_set_new(out->extracted, "mode", json_string("active"));
        json_object_set_new(out->extracted, "reference", json_string(has_ref ? "selfie" : "frame"));
        for (unsigned bit = 1; bit < (1u << NOVA_VISION_LV_COUNT); bit <<= 1)
            if (res->reasons & bit)
                idv_reason(out, nova_vision_liveness_reason_name(bit));
        for (unsigned bit = 1; bit < (1u << NOVA_VISION_PV_COUNT); bit <<= 1)
            if (res->passive.reasons & bit)
                idv_reason(out, nova_vision_passive_reason_name(bit));
        out->status = res->decision == NOVA_VISION_LIVE_PASS     ? "passed"
                      : res->decision == NOVA_VISION_LIVE_REVIEW ? "review"
                                                                 : "failed";
        out->score = res->score;
    } else if (st == NOVA_INVALID) {
        st = NOVA_OK; /* a frame that does not decode, or counts out of range: failed above */
        if (out->status == NULL) {
            out->status = "failed";
            out->score = 0;
            idv_reason(out, "liveness_burst_invalid");
        }
    }
    free(res);
    for (size_t i = 0; i < n; i++)
        nova_vision_image_free(&img[i]);
    nova_vision_image_free(&selfie);
    return st;
}

nova_status idv_check_liveness(const idv_check_in_t *in, idv_check_out_t *out)
{
    const char *mode = json_string_value(json_object_get(in->config, "mode"));
    if (mode && strcmp(mode, "active") == 0) {
        face_path = in->g->face_model;
        pthread_once(&face_once, face_open);
        if (face_model == NULL)
            return NOVA_UNAVAILABLE;
        return liveness_active(in, out);
    }
    if (in->images->selfie == NULL) {
        out->status = "failed";
        out->score = 0;
        idv_reason(out, "selfie_missing");
        return NOVA_OK;
    }
    face_path = in->g->face_model;
    pthread_once(&face_once, face_open);
    if (face_model == NULL)
        return NOVA_UNAVAILABLE;
    nova_vision_image_t img = {0};
    if (nova_vision_decode_jpeg(in->images->selfie, in->images->selfie_len, &img) != NOVA_OK) {
        out->status = "failed";
        out->score = 0;
        idv_reason(out, "image_unreadable");
        return NOVA_OK;
    }
    nova_vision_detect_opts_t o = {.describe = 1, .detector = NOVA_VISION_SSD};
    nova_vision_face_t *faces = NULL;
    size_t n = 0;
    nova_status st = nova_vision_detect(face_model, &img, &o, &faces, &n);
    if (st == NOVA_OK && n == 0) {
        out->status = "failed";
        out->score = 0;
        idv_reason(out, "no_face");
    } else if (st == NOVA_OK) {
        size_t big = 0;
        for (size_t i = 1; i < n; i++)
            if (faces[i].box.w * faces[i].box.h > faces[big].box.w * faces[big].box.h)
                big = i;
        nova_vision_passive_t p;
        st = nova_vision_passive(&img, in->images->selfie, in->images->selfie_len, &faces[big],
                                 NULL, &p);
        if (st == NOVA_OK) {
            out->extracted = nova_vision_passive_json(&p);
            json_object_set_new(out->extracted, "mode", json_string("passive"));
            json_object_set_new(out->extracted, "faces", json_integer((json_int_t)n));
            for (unsigned bit = 1; bit < (1u << NOVA_VISION_PV_COUNT); bit <<= 1)
                if (p.reasons & bit)
                    idv_reason(out, nova_vision_passive_reason_name(bit));
            if (n > 1)
                idv_reason(out, "several_faces");
            bool clean = p.reasons == 0 && n == 1;
            out->status = clean ? "passed" : "review";
            out->score = clean ? 0.7 : 0.4;
            if (clean)
                idv_reason(out, "passive_only");
        }
    }
    free(faces);
    nova_vision_image_free(&img);
    return st;
}
