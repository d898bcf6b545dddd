/*
 * mrz_test.c: the MRZ engine on the specimen zones of ICAO Doc 9303 (the Utopian passport, ID
 * card and TD2 document of parts 4-6), with every check digit broken in turn, OCR confusions
 * in digit fields, long TD1 document numbers, dates and centuries, and malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "nova/mrz.h"

static const char TD3[] = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
                          "L898902C36UTO7408122F1204159ZE184226B<<<<<10";
static const char TD1[] = "I<UTOD231458907<<<<<<<<<<<<<<<\n"
                          "7408122F1204159UTO<<<<<<<<<<<6\n"
                          "ERIKSSON<<ANNA<MARIA<<<<<<<<<<";
static const char TD2[] = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\n"
                          "D231458907UTO7408122F1204159<<<<<<<6";

static nova_mrz_t parse(const char *s)
{
    nova_mrz_t m;
    const char *why;
    assert_int_equal(nova_mrz_parse(s, strlen(s), 2026, &m, &why), NOVA_OK);
    return m;
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
    assert_string_equal(m.document_code, "P");
    assert_string_equal(m.issuing_state, "UTO");
    assert_string_equal(m.surname, "ERIKSSON");
    assert_string_equal(m.given_names, "ANNA MARIA");
    assert_string_equal(m.document_number, "L898902C3");
    assert_string_equal(m.nationality, "UTO");
    assert_int_equal(m.birth.year, 1974);
    assert_int_equal(m.birth.month, 8);
    assert_int_equal(m.birth.day, 12);
    assert_int_equal(m.sex, 'F');
    assert_int_equal(m.expiry.year, 2012);
    assert_string_equal(m.optional1, "ZE184226B");
    assert_true(nova_mrz_valid(&m));
    assert_int_equal(m.corrections, 0);
    assert_false(m.names_truncated);
}

static void test_td1_td2(void **state)
{
    (void)state;
    nova_mrz_t m = parse(TD1);
    assert_int_equal(m.format, NOVA_MRZ_TD1);
    assert_string_equal(m.document_code, "I");
    assert_string_equal(m.document_number, "D23145890");
    assert_string_equal(m.surname, "ERIKSSON");
    assert_string_equal(m.given_names, "ANNA MARIA");
    assert_int_equal(m.birth.year, 1974);
    assert_int_equal(m.expiry.year, 2012);
    assert_true(nova_mrz_valid(&m));

    m = parse(TD2);
    assert_int_equal(m.format, NOVA_MRZ_TD2);
    assert_string_equal(m.document_number, "D23145890");
    assert_string_equal(m.given_names, "ANNA MARIA");
    assert_true(nova_mrz_valid(&m));
}

/* Every character of line 2 changed in turn: a digit field breaks its own check digit or the
 * composite; nothing breaks silently. */
static void test_every_change_is_caught(void **state)
{
    (void)state;
    char buf[sizeof(TD3)];
    size_t l2 = 45;
    int caught = 0, tried = 0;
    for (size_t i = l2; i < sizeof(TD3) - 1; i++) {
        if (i == l2 + 20 || (i >= l2 + 10 && i < l2 + 13))
            continue; /* sex and nationality carry no check digit in TD3 */
        memcpy(buf, TD3, sizeof(TD3));
        buf[i] = buf[i] == '7' ? '8' : '7';
        nova_mrz_t m;
        const char *why;
        assert_int_equal(nova_mrz_parse(buf, strlen(buf), 2026, &m, &why), NOVA_OK);
        tried++;
        caught += !nova_mrz_valid(&m);
    }
    assert_int_equal(caught, tried);
}

static void test_ocr_confusions(void **state)
{
    (void)state;
    /* 740812 read as 74O8I2, and the expiry check digit 9 read as g (upper-cased: G -> 6 is
     * wrong, so it must fail), then as 9 again. */
    const char *s = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
                    "L898902C36UTO74O8I22F1204159ZE184226B<<<<<10";
    nova_mrz_t m = parse(s);
    assert_int_equal(m.corrections, 2);
    assert_true(nova_mrz_valid(&m));
    assert_int_equal(m.birth.month, 8);
    const char *bad = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
                      "L898902C36UTO7408122F120415GZE184226B<<<<<10";
    m = parse(bad);
    assert_false(m.expiry_ok);
    assert_false(nova_mrz_valid(&m));
    /* Lower case, spaces around lines, CRLF and blank lines are tolerated. */
    const char *loose = "  p<utoeriksson<<anna<maria<<<<<<<<<<<<<<<<<<<  \r\n\r\n"
                        "L898902C36UTO7408122F1204159ZE184226B<<<<<10\r\n";
    m = parse(loose);
    assert_true(nova_mrz_valid(&m));
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
    assert_true(m.number_ok);
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
    assert_true(m.birth_ok);
    memcpy(s + 45 + 13, "010229", 6);
    s[45 + 19] = (char)nova_mrz_check_digit("010229", 6);
    m = parse(s);
    assert_int_equal(m.birth.year, 0);
    assert_false(nova_mrz_valid(&m));
    /* A birth year in the future of now_year is last century's. */
    memcpy(s, TD3, sizeof(TD3));
    memcpy(s + 45 + 13, "990501", 6);
    s[45 + 19] = (char)nova_mrz_check_digit("990501", 6);
    m = parse(s);
    assert_int_equal(m.birth.year, 1999);
}

static void test_malformed(void **state)
{
    (void)state;
    const char *bad[] = {"", "P<UTO", "P<UTO€RIKSSON", "a\nb\nc\nd",
                         "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO"};
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
        cmocka_unit_test(test_check_digit),    cmocka_unit_test(test_td3),
        cmocka_unit_test(test_td1_td2),        cmocka_unit_test(test_every_change_is_caught),
        cmocka_unit_test(test_ocr_confusions), cmocka_unit_test(test_td1_long_number),
        cmocka_unit_test(test_dates),          cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
