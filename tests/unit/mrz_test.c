/*
 * mrz_test.c: the MRZ engine on the specimen zones of ICAO Doc 9303 (the Utopian passport, ID
 * card and TD2 document of parts 4-6, and the two visas of part 7), field by field; every
 * check digit broken in turn; repairs a check digit proves, reported, and repairs it cannot
 * prove, left failed; country codes checked apart from the check digits; dates and centuries;
 * the JSON shape; malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "nova/mrz.h"
#include "nova/mrz_json.h"

static const char TD3[] = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
                          "L898902C36UTO7408122F1204159ZE184226B<<<<<10";
static const char TD1[] = "I<UTOD231458907<<<<<<<<<<<<<<<\n"
                          "7408122F1204159UTO<<<<<<<<<<<6\n"
                          "ERIKSSON<<ANNA<MARIA<<<<<<<<<<";
static const char TD2[] = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\n"
                          "D231458907UTO7408122F1204159<<<<<<<6";
/* Doc 9303 part 7's specimens: Utopia's visas for a holder of unspecified nationality. */
static const char MRVA[] = "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
                           "L8988901C4XXX4009078F96121096ZE184226B<<<<<<";
static const char MRVB[] = "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\n"
                           "L8988901C4XXX4009078F9612109<<<<<<<<";

static nova_mrz_t parse(const char *s)
{
    nova_mrz_t m;
    const char *why;
    assert_int_equal(nova_mrz_parse(s, strlen(s), 2026, &m, &why), NOVA_OK);
    return m;
}

/* s with the character at (line, col) set to c, into buf. */
static const char *with(char *buf, size_t cap, const char *s, size_t line, size_t col, char c)
{
    snprintf(buf, cap, "%s", s);
    char *p = buf;
    for (size_t l = 0; l < line; l++)
        p = strchr(p, '\n') + 1;
    p[col] = c;
    return buf;
}

static bool has_error(const nova_mrz_t *m, const char *field, const char *code)
{
    for (size_t i = 0; i < m->nerrors; i++)
        if (strcmp(m->errors[i].field, field) == 0 && strcmp(m->errors[i].code, code) == 0)
            return true;
    return false;
}

static void assert_all_ok(const nova_mrz_t *m)
{
    for (int k = 0; k < NOVA_MRZ_CHECKS; k++)
        assert_true(m->checks[k] == NOVA_MRZ_OK || m->checks[k] == NOVA_MRZ_ABSENT);
    assert_int_equal(m->nerrors, 0);
    assert_int_equal(m->nrepairs, 0);
    assert_true(nova_mrz_valid(m));
}

static void test_check_digit(void **state)
{
    (void)state;
    assert_int_equal(nova_mrz_check_digit("L898902C3", 9), '6');
    assert_int_equal(nova_mrz_check_digit("740812", 6), '2');
    assert_int_equal(nova_mrz_check_digit("120415", 6), '9');
    assert_int_equal(nova_mrz_check_digit("<<<<<", 5), '0');
    assert_int_equal(nova_mrz_check_digit("a", 1), -1);
}

static void test_td3(void **state)
{
    (void)state;
    nova_mrz_t m = parse(TD3);
    assert_int_equal(m.format, NOVA_MRZ_TD3);
    assert_string_equal(nova_mrz_format_name(m.format), "TD3");
    assert_string_equal(m.document_code, "P");
    assert_string_equal(m.issuer, "UTO");
    assert_string_equal(m.surname, "ERIKSSON");
    assert_string_equal(m.given_names, "ANNA MARIA");
    assert_string_equal(m.document_number, "L898902C3");
    assert_string_equal(m.nationality, "UTO");
    assert_int_equal(m.birth.year, 1974);
    assert_int_equal(m.birth.month, 8);
    assert_int_equal(m.birth.day, 12);
    assert_int_equal(m.sex, 'F');
    assert_int_equal(m.expiry.year, 2012);
    assert_int_equal(m.expiry.month, 4);
    assert_int_equal(m.expiry.day, 15);
    assert_string_equal(m.optional_data, "ZE184226B");
    assert_false(m.names_truncated);
    assert_all_ok(&m);
    for (int k = 0; k < NOVA_MRZ_CHECKS; k++)
        assert_int_equal(m.checks[k], NOVA_MRZ_OK); /* TD3 has all five */
    assert_true(m.proved[NOVA_MRZ_DOCUMENT_NUMBER]);
    assert_true(m.proved[NOVA_MRZ_BIRTH_DATE]);
    assert_true(m.proved[NOVA_MRZ_EXPIRY_DATE]);
    assert_true(m.proved[NOVA_MRZ_OPTIONAL_DATA]);
    /* No check digit covers these. */
    assert_false(m.proved[NOVA_MRZ_DOCUMENT_CODE]);
    assert_false(m.proved[NOVA_MRZ_ISSUER]);
    assert_false(m.proved[NOVA_MRZ_NATIONALITY]);
    assert_false(m.proved[NOVA_MRZ_SEX]);
    assert_false(m.proved[NOVA_MRZ_SURNAME]);
    assert_false(m.proved[NOVA_MRZ_GIVEN_NAMES]);
}

static void test_td1(void **state)
{
    (void)state;
    nova_mrz_t m = parse(TD1);
    assert_int_equal(m.format, NOVA_MRZ_TD1);
    assert_string_equal(m.document_code, "I");
    assert_string_equal(m.issuer, "UTO");
    assert_string_equal(m.document_number, "D23145890");
    assert_int_equal(m.birth.year, 1974);
    assert_int_equal(m.birth.month, 8);
    assert_int_equal(m.birth.day, 12);
    assert_int_equal(m.sex, 'F');
    assert_int_equal(m.expiry.year, 2012);
    assert_string_equal(m.nationality, "UTO");
    assert_string_equal(m.optional_data, "");
    assert_string_equal(m.optional_data_2, "");
    assert_string_equal(m.surname, "ERIKSSON");
    assert_string_equal(m.given_names, "ANNA MARIA");
    assert_all_ok(&m);
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_OPTIONAL], NOVA_MRZ_ABSENT);
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_COMPOSITE], NOVA_MRZ_OK);
    assert_true(m.proved[NOVA_MRZ_OPTIONAL_DATA]); /* by the composite */
    assert_true(m.proved[NOVA_MRZ_OPTIONAL_DATA_2]);
}

static void test_td2(void **state)
{
    (void)state;
    nova_mrz_t m = parse(TD2);
    assert_int_equal(m.format, NOVA_MRZ_TD2);
    assert_string_equal(m.document_code, "I");
    assert_string_equal(m.issuer, "UTO");
    assert_string_equal(m.surname, "ERIKSSON");
    assert_string_equal(m.given_names, "ANNA MARIA");
    assert_string_equal(m.document_number, "D23145890");
    assert_string_equal(m.nationality, "UTO");
    assert_int_equal(m.birth.year, 1974);
    assert_int_equal(m.sex, 'F');
    assert_int_equal(m.expiry.year, 2012);
    assert_string_equal(m.optional_data, "");
    assert_all_ok(&m);
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_OPTIONAL], NOVA_MRZ_ABSENT);
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_COMPOSITE], NOVA_MRZ_OK);
}

static void test_visas(void **state)
{
    (void)state;
    const char *zones[] = {MRVA, MRVB};
    for (size_t i = 0; i < 2; i++) {
        nova_mrz_t m = parse(zones[i]);
        assert_int_equal(m.format, i == 0 ? NOVA_MRZ_MRVA : NOVA_MRZ_MRVB);
        assert_string_equal(nova_mrz_format_name(m.format), i == 0 ? "MRV-A" : "MRV-B");
        assert_string_equal(m.document_code, "V");
        assert_string_equal(m.issuer, "UTO");
        assert_string_equal(m.surname, "ERIKSSON");
        assert_string_equal(m.given_names, "ANNA MARIA");
        assert_string_equal(m.document_number, "L8988901C");
        assert_string_equal(m.nationality, "XXX"); /* ICAO: unspecified nationality */
        assert_int_equal(m.birth.year, 1940);
        assert_int_equal(m.birth.month, 9);
        assert_int_equal(m.birth.day, 7);
        assert_int_equal(m.sex, 'F');
        /* 96 in 2026: the earliest year not before 1976 */
        assert_int_equal(m.expiry.year, 1996);
        assert_int_equal(m.expiry.month, 12);
        assert_int_equal(m.expiry.day, 10);
        assert_string_equal(m.optional_data, i == 0 ? "6ZE184226B" : "");
        assert_all_ok(&m);
        /* Visas have no composite and no optional check digit. */
        assert_int_equal(m.checks[NOVA_MRZ_CHECK_COMPOSITE], NOVA_MRZ_ABSENT);
        assert_int_equal(m.checks[NOVA_MRZ_CHECK_OPTIONAL], NOVA_MRZ_ABSENT);
        assert_true(m.proved[NOVA_MRZ_DOCUMENT_NUMBER]);
        assert_false(m.proved[NOVA_MRZ_OPTIONAL_DATA]);
    }
    /* The shape alone does not make a visa: a 2 x 44 zone not starting with V is TD3. */
    nova_mrz_t m = parse(TD3);
    assert_int_equal(m.format, NOVA_MRZ_TD3);
}

/* Where each format prints each check digit: (line, column). */
typedef struct digit_at {
    const char *zone;
    nova_mrz_check check;
    size_t line, col;
} digit_at_t;

static const digit_at_t DIGITS[] = {
    {TD3, NOVA_MRZ_CHECK_NUMBER, 1, 9},     {TD3, NOVA_MRZ_CHECK_BIRTH, 1, 19},
    {TD3, NOVA_MRZ_CHECK_EXPIRY, 1, 27},    {TD3, NOVA_MRZ_CHECK_OPTIONAL, 1, 42},
    {TD3, NOVA_MRZ_CHECK_COMPOSITE, 1, 43}, {TD1, NOVA_MRZ_CHECK_NUMBER, 0, 14},
    {TD1, NOVA_MRZ_CHECK_BIRTH, 1, 6},      {TD1, NOVA_MRZ_CHECK_EXPIRY, 1, 14},
    {TD1, NOVA_MRZ_CHECK_COMPOSITE, 1, 29}, {TD2, NOVA_MRZ_CHECK_NUMBER, 1, 9},
    {TD2, NOVA_MRZ_CHECK_BIRTH, 1, 19},     {TD2, NOVA_MRZ_CHECK_EXPIRY, 1, 27},
    {TD2, NOVA_MRZ_CHECK_COMPOSITE, 1, 35}, {MRVA, NOVA_MRZ_CHECK_NUMBER, 1, 9},
    {MRVA, NOVA_MRZ_CHECK_BIRTH, 1, 19},    {MRVA, NOVA_MRZ_CHECK_EXPIRY, 1, 27},
    {MRVB, NOVA_MRZ_CHECK_NUMBER, 1, 9},    {MRVB, NOVA_MRZ_CHECK_BIRTH, 1, 19},
    {MRVB, NOVA_MRZ_CHECK_EXPIRY, 1, 27},
};

/* Each check digit of each format, changed to every other digit: that check fails, is named
 * in errors, and nothing repairs it (no swap can make a wrong digit hold with the composite,
 * and visas get no swap repair). */
static void test_each_check_digit_fails(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(DIGITS) / sizeof(DIGITS[0]); i++) {
        const digit_at_t *d = &DIGITS[i];
        nova_mrz_t ref = parse(d->zone);
        assert_int_equal(ref.checks[d->check], NOVA_MRZ_OK);
        for (char c = '0'; c <= '9'; c++) {
            char buf[160];
            const char *s = with(buf, sizeof(buf), d->zone, d->line, d->col, c);
            const char *p = s;
            for (size_t l = 0; l < d->line; l++)
                p = strchr(p, '\n') + 1;
            if (strcmp(s, d->zone) == 0)
                continue;
            nova_mrz_t m = parse(s);
            assert_int_equal(m.checks[d->check], NOVA_MRZ_FAILED);
            assert_true(has_error(&m, nova_mrz_check_name(d->check), "check_digit_failed"));
            assert_false(nova_mrz_valid(&m));
            for (size_t r = 0; r < m.nrepairs; r++)
                assert_false(m.repairs[r].proved);
        }
    }
}

/* Every character of TD3 line 2 changed in turn (to 7, or 8 for a 7): a digit field breaks
 * its own check digit or the composite, so nothing breaks silently: the zone is invalid, or
 * valid only through a repair it reports. A change outside the confusions (E read as 7) can be
 * "repaired" by a swap elsewhere in the same field that happens to restore the check digits
 * (the composite's weights there are the field's own): the check says "repaired", never
 * "ok", and the gateway passes a repaired number only when the visual zone shows it. */
static void test_every_change_is_caught(void **state)
{
    (void)state;
    char buf[sizeof(TD3)];
    size_t l2 = 45;
    int caught = 0, tried = 0, repaired = 0;
    for (size_t i = l2; i < sizeof(TD3) - 1; i++) {
        if (i == l2 + 20 || (i >= l2 + 10 && i < l2 + 13))
            continue; /* sex and nationality carry no check digit in TD3 */
        memcpy(buf, TD3, sizeof(TD3));
        buf[i] = buf[i] == '7' ? '8' : '7';
        nova_mrz_t m;
        const char *why;
        assert_int_equal(nova_mrz_parse(buf, strlen(buf), 2026, &m, &why), NOVA_OK);
        tried++;
        if (!nova_mrz_valid(&m)) {
            caught++;
            continue;
        }
        bool reported = m.nrepairs > 0;
        for (int k = 0; k < NOVA_MRZ_CHECKS; k++)
            reported = reported && m.checks[k] != NOVA_MRZ_FAILED;
        assert_true(reported);
        assert_int_equal(m.checks[NOVA_MRZ_CHECK_COMPOSITE], NOVA_MRZ_REPAIRED);
        repaired++;
    }
    assert_int_equal(caught + repaired, tried);
    assert_true(repaired <= 4); /* measured: 4 of 40, all in the personal number */
}

/* Letters OCR took for digits in digit-only fields: read as the digits, reported, and
 * "repaired" only when the field's check digit then holds. */
static void test_digit_field_readings(void **state)
{
    (void)state;
    /* 740812 read as 74O8I2 */
    nova_mrz_t m = parse("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
                         "L898902C36UTO74O8I22F1204159ZE184226B<<<<<10");
    assert_true(nova_mrz_valid(&m));
    assert_int_equal(m.birth.month, 8);
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_BIRTH], NOVA_MRZ_REPAIRED);
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_COMPOSITE], NOVA_MRZ_REPAIRED);
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_NUMBER], NOVA_MRZ_OK);
    assert_int_equal(m.nrepairs, 2);
    assert_int_equal(m.repairs[0].line, 1);
    assert_int_equal(m.repairs[0].column, 15);
    assert_int_equal(m.repairs[0].read, 'O');
    assert_int_equal(m.repairs[0].repaired, '0');
    assert_true(m.repairs[0].proved);
    assert_int_equal(m.repairs[1].column, 17);
    assert_int_equal(m.repairs[1].read, 'I');
    assert_true(m.proved[NOVA_MRZ_BIRTH_DATE]);
    assert_string_equal(m.lines[1], "L898902C36UTO7408122F1204159ZE184226B<<<<<10");
    /* A check digit read as a letter: S for 5 in TD2's composite... */
    m = parse("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\n"
              "D231458907UTO7408122F1204159<<<<<<<G");
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_COMPOSITE], NOVA_MRZ_REPAIRED);
    assert_true(nova_mrz_valid(&m));
    /* ...and one whose reading does not hold: the expiry digit 9 read as G (6) stays failed,
     * its reading reported as not proved. */
    m = parse("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
              "L898902C36UTO7408122F120415GZE184226B<<<<<10");
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_EXPIRY], NOVA_MRZ_FAILED);
    assert_false(m.proved[NOVA_MRZ_EXPIRY_DATE]);
    assert_int_equal(m.nrepairs, 1);
    assert_false(m.repairs[0].proved);
    assert_false(nova_mrz_valid(&m));
    /* Lower case, spaces around lines, CRLF and blank lines are tolerated. */
    m = parse("  p<utoeriksson<<anna<maria<<<<<<<<<<<<<<<<<<<  \r\n\r\n"
              "L898902C36UTO7408122F1204159ZE184226B<<<<<10\r\n");
    assert_all_ok(&m);
}

typedef struct swap_case {
    const char *zone;
    size_t line, col;
    char misread;
    nova_mrz_check check;
} swap_case_t;

/* A TD3 zone for the Utopian specimen with document number num (9 characters), its check
 * digits and composite computed. */
static const char *td3_with_number(char *buf, size_t cap, const char *num)
{
    char l2[45];
    memcpy(l2, "L898902C36UTO7408122F1204159ZE184226B<<<<<10", 45);
    memcpy(l2, num, 9);
    l2[9] = (char)nova_mrz_check_digit(l2, 10 - 1);
    char comp[40];
    memcpy(comp, l2, 10);
    memcpy(comp + 10, l2 + 13, 7);
    memcpy(comp + 17, l2 + 21, 22);
    l2[43] = (char)nova_mrz_check_digit(comp, 39);
    snprintf(buf, cap, "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n%s", l2);
    return buf;
}

/* One misread character in a document number or personal number, of each confusion the issue
 * names (O/0, I/1, B/8, S/5) and in each format with a composite: repaired when it is the only
 * swap that satisfies the check digits, reported, the zone valid again. */
static void test_swap_repairs(void **state)
{
    (void)state;
    char b8[160];
    td3_with_number(b8, sizeof(b8), "747389463"); /* only its 8 has a confusion */
    const swap_case_t cases[] = {
        {TD3, 1, 5, 'O', NOVA_MRZ_CHECK_NUMBER},    /* 0 read as O */
        {TD3, 1, 30, 'I', NOVA_MRZ_CHECK_OPTIONAL}, /* personal number: 1 read as I */
        {TD3, 1, 31, 'B', NOVA_MRZ_CHECK_OPTIONAL}, /* 8 read as B */
        {TD3, 1, 36, '8', NOVA_MRZ_CHECK_OPTIONAL}, /* B read as 8 */
        {b8, 1, 4, 'B', NOVA_MRZ_CHECK_NUMBER},     /* 8 read as B */
        {TD1, 0, 10, 'S', NOVA_MRZ_CHECK_NUMBER},   /* 5 read as S */
        {TD1, 0, 13, 'O', NOVA_MRZ_CHECK_NUMBER},   {TD2, 1, 5, 'S', NOVA_MRZ_CHECK_NUMBER},
        {TD2, 1, 8, 'O', NOVA_MRZ_CHECK_NUMBER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const swap_case_t *c = &cases[i];
        nova_mrz_t ref = parse(c->zone);
        assert_all_ok(&ref);
        char buf[160];
        const char *p = c->zone;
        for (size_t l = 0; l < c->line; l++)
            p = strchr(p, '\n') + 1;
        char truth = p[c->col];
        nova_mrz_t m = parse(with(buf, sizeof(buf), c->zone, c->line, c->col, c->misread));
        assert_int_equal(m.checks[c->check], NOVA_MRZ_REPAIRED);
        assert_int_equal(m.checks[NOVA_MRZ_CHECK_COMPOSITE], NOVA_MRZ_REPAIRED);
        assert_string_equal(m.document_number, ref.document_number);
        assert_string_equal(m.optional_data, ref.optional_data);
        assert_true(nova_mrz_valid(&m));
        assert_int_equal(m.nrepairs, 1);
        assert_int_equal(m.repairs[0].check, c->check);
        assert_int_equal(m.repairs[0].line, c->line);
        assert_int_equal(m.repairs[0].column, c->col);
        assert_int_equal(m.repairs[0].read, c->misread);
        assert_int_equal(m.repairs[0].repaired, truth);
        assert_true(m.repairs[0].proved);
        assert_true(m.proved[NOVA_MRZ_DOCUMENT_NUMBER]);
    }
    /* Two misreads, one in each repairable field: the one combination the composite holds. */
    char buf[160], two[160];
    with(buf, sizeof(buf), TD3, 1, 5, 'O');
    nova_mrz_t m = parse(with(two, sizeof(two), buf, 1, 31, 'B'));
    assert_true(nova_mrz_valid(&m));
    assert_int_equal(m.nrepairs, 2);
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_NUMBER], NOVA_MRZ_REPAIRED);
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_OPTIONAL], NOVA_MRZ_REPAIRED);
    /* The personal number check digit read as K where it is a filler (an empty field). */
    m = parse("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
              "L898902C36UTO7408122F1204159<<<<<<<<<<<<<<K8");
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_OPTIONAL], NOVA_MRZ_REPAIRED);
    assert_true(nova_mrz_valid(&m));
}

/* TD1 zone for the specimen with line 1's optional data opt (15 characters) and line 2's
 * opt2 (11), the composite computed. */
static const char *td1_with_optional(char *buf, size_t cap, const char *opt, const char *opt2)
{
    char l1[31] = "I<UTOD231458907<<<<<<<<<<<<<<<", l2[31] = "7408122F1204159UTO<<<<<<<<<<<6";
    memcpy(l1 + 15, opt, 15);
    memcpy(l2 + 18, opt2, 11);
    char comp[60];
    memcpy(comp, l1 + 5, 25);
    memcpy(comp + 25, l2, 7);
    memcpy(comp + 32, l2 + 8, 7);
    memcpy(comp + 39, l2 + 18, 11);
    l2[29] = (char)nova_mrz_check_digit(comp, 50);
    snprintf(buf, cap, "%s\n%s\nERIKSSON<<ANNA<MARIA<<<<<<<<<<", l1, l2);
    return buf;
}

/* Optional data only the composite covers (TD1's two fields, TD2's): one swap the composite
 * alone accepts is repaired; two that fit leave it failed. */
static void test_composite_only_repairs(void **state)
{
    (void)state;
    char z[160], buf[160];
    td1_with_optional(z, sizeof(z), "34789<<<<<<<<<<", "<<<<<<<<<<<");
    nova_mrz_t ref = parse(z);
    assert_all_ok(&ref);
    assert_string_equal(ref.optional_data, "34789");
    nova_mrz_t m = parse(with(buf, sizeof(buf), z, 0, 18, 'B')); /* 8 read as B */
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_COMPOSITE], NOVA_MRZ_REPAIRED);
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_NUMBER], NOVA_MRZ_OK);
    assert_string_equal(m.optional_data, "34789");
    assert_int_equal(m.nrepairs, 1);
    assert_int_equal(m.repairs[0].check, NOVA_MRZ_CHECK_COMPOSITE);
    assert_true(m.proved[NOVA_MRZ_OPTIONAL_DATA]);
    assert_true(nova_mrz_valid(&m));
    /* Line 2's optional data the same way; a misread that is no confusion stays failed. */
    td1_with_optional(z, sizeof(z), "<<<<<<<<<<<<<<<", "7356<<<<<<<");
    m = parse(with(buf, sizeof(buf), z, 1, 20, 'S')); /* 5 read as S */
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_COMPOSITE], NOVA_MRZ_REPAIRED);
    assert_string_equal(m.optional_data_2, "7356");
    assert_true(m.proved[NOVA_MRZ_OPTIONAL_DATA_2]);
    assert_true(nova_mrz_valid(&m));
    m = parse(with(buf, sizeof(buf), z, 1, 19, '4')); /* 3 read as 4 */
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_COMPOSITE], NOVA_MRZ_FAILED);
    assert_false(m.proved[NOVA_MRZ_OPTIONAL_DATA_2]);
    /* Two B whose swaps move the composite alike (both weigh 3): the 8 read as B at 15 and
     * the real B at 18 are equally good repairs, so neither is made. */
    td1_with_optional(z, sizeof(z), "8<<B<<<<<<<<<<<", "<<<<<<<<<<<");
    m = parse(with(buf, sizeof(buf), z, 0, 15, 'B'));
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_COMPOSITE], NOVA_MRZ_FAILED);
    assert_int_equal(m.nrepairs, 0);
    assert_string_equal(m.optional_data, "BB"); /* inner fillers dropped, as read */
    assert_false(nova_mrz_valid(&m));
    /* TD2's optional data [28, 35): 1 read as I. */
    char l2[37] = "D231458907UTO7408122F1204159<<<<<<<6", comp[40];
    memcpy(l2 + 28, "7156<<<", 7);
    memcpy(comp, l2, 10);
    memcpy(comp + 10, l2 + 13, 7);
    memcpy(comp + 17, l2 + 21, 14);
    l2[35] = (char)nova_mrz_check_digit(comp, 31);
    snprintf(z, sizeof(z), "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\n%s", l2);
    ref = parse(z);
    assert_all_ok(&ref);
    m = parse(with(buf, sizeof(buf), z, 1, 29, 'I'));
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_COMPOSITE], NOVA_MRZ_REPAIRED);
    assert_string_equal(m.optional_data, "7156");
    assert_true(nova_mrz_valid(&m));
}

/* Repairs no check digit can prove stay failed, the field as read and not proved. */
static void test_unprovable_repairs(void **state)
{
    (void)state;
    char buf[160];
    /* L898902C3 read as LB98902C3: besides B -> 8 at 1, another swap satisfies both the
     * number's digit and the composite, so neither is proved. */
    nova_mrz_t m = parse(with(buf, sizeof(buf), TD3, 1, 1, 'B'));
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_NUMBER], NOVA_MRZ_FAILED);
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_COMPOSITE], NOVA_MRZ_FAILED);
    assert_string_equal(m.document_number, "LB98902C3");
    assert_false(m.proved[NOVA_MRZ_DOCUMENT_NUMBER]);
    assert_int_equal(m.nrepairs, 0);
    assert_true(has_error(&m, "document_number", "check_digit_failed"));
    assert_false(nova_mrz_valid(&m));
    /* A visa has no composite: one check digit cannot tell a misread number from a misread
     * check digit, so its number is never swapped back. */
    m = parse(with(buf, sizeof(buf), MRVA, 1, 6, 'O'));
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_NUMBER], NOVA_MRZ_FAILED);
    assert_string_equal(m.document_number, "L89889O1C");
    assert_false(m.proved[NOVA_MRZ_DOCUMENT_NUMBER]);
    assert_false(nova_mrz_valid(&m));
    /* A digit misread as another digit is no confusion: failed. */
    m = parse(with(buf, sizeof(buf), TD3, 1, 4, '3'));
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_NUMBER], NOVA_MRZ_FAILED);
    assert_int_equal(m.nrepairs, 0);
    /* K beside a filler may be a misread '<', and weighs what '<' does: flagged, not proved. */
    m = parse("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
              "L898902C36UTO7408122F1204159ZE184226B<<K<<10");
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_OPTIONAL], NOVA_MRZ_OK);
    assert_true(has_error(&m, "optional_data", "ambiguous_filler"));
    assert_false(m.proved[NOVA_MRZ_OPTIONAL_DATA]);
    assert_false(nova_mrz_valid(&m));
    /* "SS" read as "<<" at the front of a number: 7 * 28 + 3 * 28 = 280 weighs nothing, so
     * every check digit holds; a filler before a character of the number is still refused. */
    m = parse("I<RWAUWIMANA<<BRIAN<<<<<<<<<<<<<<<<<\n"
              "SS90680795RWA5501236F3101067<<<<<<<0");
    assert_true(nova_mrz_valid(&m));
    assert_string_equal(m.document_number, "SS9068079");
    m = parse("I<RWAUWIMANA<<BRIAN<<<<<<<<<<<<<<<<<\n"
              "<<90680795RWA5501236F3101067<<<<<<<0");
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_NUMBER], NOVA_MRZ_OK);
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_COMPOSITE], NOVA_MRZ_OK);
    assert_true(has_error(&m, "document_number", "filler_inside"));
    assert_false(nova_mrz_valid(&m));
}

/* Issuer and nationality are validated on their own: the check digits all hold, the zone is
 * still invalid. */
static void test_country_codes(void **state)
{
    (void)state;
    char buf[160];
    nova_mrz_t m = parse(with(buf, sizeof(buf), TD3, 1, 12, 'X')); /* nationality UTX */
    for (int k = 0; k < NOVA_MRZ_CHECKS; k++)
        assert_int_equal(m.checks[k], NOVA_MRZ_OK);
    assert_true(has_error(&m, "nationality", "unknown_country"));
    assert_int_equal(m.nerrors, 1);
    assert_false(nova_mrz_valid(&m));
    m = parse(with(buf, sizeof(buf), TD1, 0, 2, 'Q')); /* issuer QTO */
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_COMPOSITE], NOVA_MRZ_OK);
    assert_true(has_error(&m, "issuer", "unknown_country"));
    assert_false(nova_mrz_valid(&m));
    /* Germany's D<<, and ICAO's own codes. */
    char d[160];
    with(d, sizeof(d), TD2, 0, 3, '<');
    m = parse(with(buf, sizeof(buf), d, 0, 4, '<'));
    buf[2] = 'D';
    m = parse(buf);
    assert_string_equal(m.issuer, "D");
    assert_true(nova_mrz_valid(&m));
    const char *known[] = {"KEN", "NGA", "GHA", "ZAF", "UGA", "RWA", "DEU", "GBR", "USA", "D",
                           "GBD", "GBN", "GBO", "GBP", "GBS", "UNO", "UNA", "UNK", "XOM", "XXA",
                           "XXB", "XXC", "XXX", "EUE", "UTO", "XPO", "RKS", "ABW", "ZWE"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        assert_true(nova_mrz_country_known(known[i]));
    const char *unknown[] = {"", "ZZZ", "UTX", "DE", "DEUX", "KE", "XYZ", "AAA", "ken"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        assert_false(nova_mrz_country_known(unknown[i]));
    assert_false(nova_mrz_country_known(NULL));
}

/* Sex and document code are checked too; '<' is an unspecified sex (X). */
static void test_sex_and_code(void **state)
{
    (void)state;
    char buf[160];
    nova_mrz_t m = parse(with(buf, sizeof(buf), TD3, 1, 20, '<'));
    assert_int_equal(m.sex, 'X');
    assert_true(nova_mrz_valid(&m));
    m = parse(with(buf, sizeof(buf), TD3, 1, 20, 'Q'));
    assert_true(has_error(&m, "sex", "invalid_sex"));
    assert_false(nova_mrz_valid(&m));
    m = parse(with(buf, sizeof(buf), TD3, 0, 0, 'I')); /* a passport-size zone coded I */
    assert_true(has_error(&m, "document_code", "unexpected_document_code"));
    assert_false(nova_mrz_valid(&m));
}

static void test_td1_long_number(void **state)
{
    (void)state;
    /* Number D23145890123 (12 characters): 9 in place, '<' where the check digit was, the
     * rest and its check digit in the optional data. */
    char l1[31] = "I<UTOD23145890<1234<<<<<<<<<<<";
    int cd = nova_mrz_check_digit("D23145890123", 12);
    l1[18] = (char)cd;
    l1[17] = '3';
    l1[16] = '2';
    l1[15] = '1';
    char l2[31] = "7408122F1204159UTO<<<<<<<<<<<0";
    char comp[60];
    memcpy(comp, l1 + 5, 25);
    memcpy(comp + 25, l2, 7);
    memcpy(comp + 32, l2 + 8, 7);
    memcpy(comp + 39, l2 + 18, 11);
    l2[29] = (char)nova_mrz_check_digit(comp, 50);
    char text[128];
    snprintf(text, sizeof(text), "%s\n%s\nERIKSSON<<ANNA<MARIA<<<<<<<<<<", l1, l2);
    nova_mrz_t m = parse(text);
    assert_string_equal(m.document_number, "D23145890123");
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_NUMBER], NOVA_MRZ_OK);
    assert_string_equal(m.optional_data, "");
    assert_true(nova_mrz_valid(&m));
}

static void test_dates(void **state)
{
    (void)state;
    /* Born 1 March 2000 (a leap year), expires 2030; 29 Feb of a non-leap year is no date. */
    char s[sizeof(TD3)];
    memcpy(s, TD3, sizeof(TD3));
    memcpy(s + 45 + 13, "000301", 6);
    s[45 + 19] = (char)nova_mrz_check_digit("000301", 6);
    nova_mrz_t m = parse(s);
    assert_int_equal(m.birth.year, 2000);
    assert_int_equal(m.checks[NOVA_MRZ_CHECK_BIRTH], NOVA_MRZ_OK);
    memcpy(s + 45 + 13, "010229", 6);
    s[45 + 19] = (char)nova_mrz_check_digit("010229", 6);
    m = parse(s);
    assert_int_equal(m.birth.year, 0);
    assert_true(has_error(&m, "birth_date", "invalid_date"));
    assert_false(m.proved[NOVA_MRZ_BIRTH_DATE]);
    assert_false(nova_mrz_valid(&m));
    /* The century rule in 2026: birth 26 is 2026, 27 is 1927; expiry 75 is 2075, 76 1976. */
    const struct {
        const char *yymmdd;
        bool birth;
        int year;
    } years[] = {{"260101", true, 2026},  {"270101", true, 1927},  {"990501", true, 1999},
                 {"750101", false, 2075}, {"760101", false, 1976}, {"300101", false, 2030},
                 {"960101", false, 1996}};
    for (size_t i = 0; i < sizeof(years) / sizeof(years[0]); i++) {
        memcpy(s, TD3, sizeof(TD3));
        size_t at = 45 + (years[i].birth ? 13 : 21);
        memcpy(s + at, years[i].yymmdd, 6);
        s[at + 6] = (char)nova_mrz_check_digit(years[i].yymmdd, 6);
        m = parse(s);
        assert_int_equal(years[i].birth ? m.birth.year : m.expiry.year, years[i].year);
    }
}

/* The one JSON shape (novactl and the gateway's mrz step). */
static void test_json(void **state)
{
    (void)state;
    char buf[160];
    nova_mrz_t m = parse(with(buf, sizeof(buf), TD3, 1, 5, 'O'));
    json_t *j = nova_mrz_json(&m);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "valid")));
    assert_string_equal(json_string_value(json_object_get(j, "format")), "TD3");
    json_t *f = json_object_get(j, "fields");
    assert_string_equal(json_string_value(json_object_get(f, "issuer")), "UTO");
    assert_string_equal(json_string_value(json_object_get(f, "document_number")), "L898902C3");
    assert_string_equal(json_string_value(json_object_get(f, "birth_date")), "1974-08-12");
    assert_string_equal(json_string_value(json_object_get(f, "expiry_date")), "2012-04-15");
    assert_string_equal(json_string_value(json_object_get(f, "sex")), "F");
    assert_string_equal(json_string_value(json_object_get(f, "optional_data")), "ZE184226B");
    json_t *c = json_object_get(j, "checks");
    assert_string_equal(json_string_value(json_object_get(c, "document_number")), "repaired");
    assert_string_equal(json_string_value(json_object_get(c, "birth_date")), "ok");
    assert_string_equal(json_string_value(json_object_get(c, "composite")), "repaired");
    assert_true(json_is_true(json_object_get(json_object_get(j, "proved"), "document_number")));
    assert_true(json_is_false(json_object_get(json_object_get(j, "proved"), "nationality")));
    assert_int_equal(json_array_size(json_object_get(j, "errors")), 0);
    json_t *r = json_array_get(json_object_get(j, "repairs"), 0);
    assert_string_equal(json_string_value(json_object_get(r, "check")), "document_number");
    assert_string_equal(json_string_value(json_object_get(r, "read")), "O");
    assert_string_equal(json_string_value(json_object_get(r, "repaired")), "0");
    json_decref(j);
    /* A visa: no composite key; an unknown nationality is an error with field and code. */
    m = parse(with(buf, sizeof(buf), MRVB, 1, 12, 'Q'));
    j = nova_mrz_json(&m);
    assert_string_equal(json_string_value(json_object_get(j, "format")), "MRV-B");
    assert_null(json_object_get(json_object_get(j, "checks"), "composite"));
    assert_true(json_is_false(json_object_get(j, "valid")));
    json_t *e = json_array_get(json_object_get(j, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "field")), "nationality");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "unknown_country");
    assert_non_null(json_string_value(json_object_get(e, "message")));
    json_decref(j);
}

static void test_malformed(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "P<UTO",
                         "P<UTO€RIKSSON",
                         "a\nb\nc\nd",
                         "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO",
                         "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        nova_mrz_t m;
        const char *why = NULL;
        assert_int_equal(nova_mrz_parse(bad[i], strlen(bad[i]), 2026, &m, &why), NOVA_INVALID);
        assert_non_null(why);
        assert_false(nova_mrz_valid(&m));
    }
    nova_mrz_t m;
    const char *why;
    assert_int_equal(nova_mrz_parse(TD3, 20000, 2026, &m, &why), NOVA_INVALID);
    assert_int_equal(nova_mrz_parse(NULL, 0, 2026, &m, &why), NOVA_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_digit),
        cmocka_unit_test(test_td3),
        cmocka_unit_test(test_td1),
        cmocka_unit_test(test_td2),
        cmocka_unit_test(test_visas),
        cmocka_unit_test(test_each_check_digit_fails),
        cmocka_unit_test(test_every_change_is_caught),
        cmocka_unit_test(test_digit_field_readings),
        cmocka_unit_test(test_swap_repairs),
        cmocka_unit_test(test_composite_only_repairs),
        cmocka_unit_test(test_unprovable_repairs),
        cmocka_unit_test(test_country_codes),
        cmocka_unit_test(test_sex_and_code),
        cmocka_unit_test(test_td1_long_number),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
