/*
 * mrz.h: machine-readable zones of travel documents (ICAO Doc 9303 parts 4-7): TD3 (passports,
 * 2 lines of 44), TD1 (ID cards, 3 of 30), TD2 (2 of 36), and the visas MRV-A (2 of 44) and
 * MRV-B (2 of 36), told from TD3 and TD2 by a document code starting with V. Pure computation:
 * text in, fields out, no I/O. The verification gateway's `mrz` check calls it on what OCR read.
 *
 * Input: the zone's lines separated by '\n' (a '\r' before it, spaces and tabs at either end of
 * a line, and blank lines are ignored); letters are upper-cased. Every other character must be
 * one of A-Z, 0-9 and '<'.
 *
 * Repairs (this is the one place that repairs a zone; the gateway only adds visual-zone
 * cross-checks). A character is changed only when a check digit proves the change, and each
 * change is reported in `repairs`:
 *   - in fields that hold only digits (dates, check digits), a letter OCR confuses with a digit
 *     (O Q D -> 0, I L -> 1, Z -> 2, S -> 5, G -> 6, B -> 8) is read as that digit; the field's
 *     check then says "repaired" when it holds and "failed" when it does not (a K where TD3's
 *     empty personal number has its digit is the filler '<');
 *   - in a document number or TD3 personal number whose check digit fails, one character is
 *     swapped for its OCR confusion (O/0, I/1, B/8, S/5, either way): the repair stands only
 *     when it is the only such swap after which the field's check digit and the composite
 *     hold (two failing fields: the only combination the composite accepts); in TD1 and TD2,
 *     optional data only the composite covers is repaired the same way. Visas (no composite)
 *     get no swap repair: one check digit cannot tell a misread character from a misread digit.
 * What "proves" means, measured: inside a field the composite weighs characters as the field's
 * own digit does, so a misread outside the confusions (E read as 7) can be compensated by a
 * swap elsewhere in that field; the check then says "repaired", never "ok" (see src/mrz/mrz.c).
 * K and '<', L and 1, G and 6, A and 0 weigh the same (mod 10) at every position, so no check
 * digit can tell them apart: a K beside a filler in a number or optional data is the error
 * ambiguous_filler. Nothing is repaired in a field no check digit covers (document code,
 * issuer, nationality, sex, names): those are validated (ISO 3166-1 / ICAO codes, sex M F X <,
 * document code per format) and, when wrong, reported in `errors`; `proved` says per field
 * which ones a check digit holds.
 */
#ifndef NOVA_MRZ_H
#define NOVA_MRZ_H

#include "nova/base.h"

typedef enum nova_mrz_format {
    NOVA_MRZ_TD1 = 1,
    NOVA_MRZ_TD2 = 2,
    NOVA_MRZ_TD3 = 3,
    NOVA_MRZ_MRVA = 4,
    NOVA_MRZ_MRVB = 5
} nova_mrz_format;

/* The check digits of a zone; not every format has each (see nova_mrz_check_state). */
typedef enum nova_mrz_check {
    NOVA_MRZ_CHECK_NUMBER,    /* document number: every format */
    NOVA_MRZ_CHECK_BIRTH,     /* every format */
    NOVA_MRZ_CHECK_EXPIRY,    /* every format */
    NOVA_MRZ_CHECK_OPTIONAL,  /* TD3's personal number only */
    NOVA_MRZ_CHECK_COMPOSITE, /* TD1, TD2, TD3; visas have none */
    NOVA_MRZ_CHECKS
} nova_mrz_check;

typedef enum nova_mrz_check_state {
    NOVA_MRZ_ABSENT = 0,  /* the format has no such check digit */
    NOVA_MRZ_OK = 1,      /* holds as read */
    NOVA_MRZ_FAILED = 2,  /* does not hold, and no provable repair makes it */
    NOVA_MRZ_REPAIRED = 3 /* holds after repairs it proves (listed in repairs) */
} nova_mrz_check_state;

/* The fields of a zone, in the order of nova_mrz_field_name. */
typedef enum nova_mrz_field {
    NOVA_MRZ_DOCUMENT_CODE,
    NOVA_MRZ_ISSUER,
    NOVA_MRZ_DOCUMENT_NUMBER,
    NOVA_MRZ_NATIONALITY,
    NOVA_MRZ_BIRTH_DATE,
    NOVA_MRZ_SEX,
    NOVA_MRZ_EXPIRY_DATE,
    NOVA_MRZ_SURNAME,
    NOVA_MRZ_GIVEN_NAMES,
    NOVA_MRZ_OPTIONAL_DATA,
    NOVA_MRZ_OPTIONAL_DATA_2, /* TD1 only: line 2's optional data */
    NOVA_MRZ_FIELDS
} nova_mrz_field;

/* A date of the zone, with the full year the century rule resolved (nova_mrz_parse). */
typedef struct nova_mrz_date {
    int year; /* 4 digits, or 0 when the field is not a valid date */
    int month, day;
} nova_mrz_date_t;

/* One problem with a zone. field is a field name (nova_mrz_field_name) or, for a check digit,
 * the check's name (nova_mrz_check_name, "composite" included); code one of
 * check_digit_failed, unknown_country, invalid_date, invalid_sex, unexpected_document_code,
 * ambiguous_filler;
 * message a sentence. All three are static strings. */
typedef struct nova_mrz_error {
    const char *field, *code, *message;
} nova_mrz_error_t;

/* One changed character: line and column (0-based) in the zone, as read and as repaired;
 * proved is false only for a digit-field reading whose check digit still fails. */
typedef struct nova_mrz_repair {
    nova_mrz_check check; /* the check digit that proves (or failed to prove) it */
    uint8_t line, column;
    char read, repaired;
    bool proved;
} nova_mrz_repair_t;

#define NOVA_MRZ_MAX_ERRORS 12
#define NOVA_MRZ_MAX_REPAIRS 16

typedef struct nova_mrz {
    nova_mrz_format format;
    char document_code[3];    /* "P", "I", "ID", "V", ... ('<' removed) */
    char issuer[4];           /* issuing state or organisation: "UTO"; "D<<" gives "D" */
    char document_number[32]; /* fillers removed; TD1 long numbers joined with their overflow */
    char nationality[4];
    nova_mrz_date_t birth;
    nova_mrz_date_t expiry;
    char sex;         /* 'M', 'F' or 'X' (printed '<' or 'X': unspecified); other: as read */
    char surname[64]; /* '<' between words becomes ' ' */
    char given_names[64];
    char optional_data[32];   /* TD3 personal number; TD1 line 1; TD2, MRV-A, MRV-B */
    char optional_data_2[32]; /* TD1 line 2 */
    bool names_truncated;     /* the name field was full: the name may be cut short */
    nova_mrz_check_state checks[NOVA_MRZ_CHECKS];
    bool proved[NOVA_MRZ_FIELDS]; /* held by a check digit (ok or repaired) */
    nova_mrz_error_t errors[NOVA_MRZ_MAX_ERRORS];
    size_t nerrors;
    nova_mrz_repair_t repairs[NOVA_MRZ_MAX_REPAIRS];
    size_t nrepairs;
    char lines[3][45]; /* the zone after repairs */
    size_t nlines;
} nova_mrz_t;

/* Parses and repairs a zone. NOVA_OK when its shape is one of the five formats and every
 * character is allowed, whatever its check digits say (see nova_mrz_valid and errors);
 * NOVA_INVALID otherwise, with *why (a static string) naming the problem. now_year (e.g. 2026)
 * resolves two-digit years (the century rule): a birth year is the latest not after now_year,
 * an expiry year the earliest not before now_year - 50 (so in 2026, birth 27-99 is 19xx and
 * 00-26 20xx; expiry 76-99 is 19xx and 00-75 20xx). */
nova_status nova_mrz_parse(const char *text, size_t len, int now_year, nova_mrz_t *out,
                           const char **why);
/* true when the zone has no error: every check digit holds (as read or repaired), both dates
 * are real, the issuer and nationality are known codes, the sex is M, F or X, and the document
 * code fits the format. */
bool nova_mrz_valid(const nova_mrz_t *m);
/* The ICAO 9303 check digit (weights 7, 3, 1) of s[0..n): '0'..'9', or -1 when s holds a
 * character outside A-Z, 0-9 and '<'. */
int nova_mrz_check_digit(const char *s, size_t n);
/* Whether code (3 letters, or "D" for Germany) is an ISO 3166-1 alpha-3 code or one of the
 * codes ICAO Doc 9303 part 3 adds for issuers and nationalities. */
bool nova_mrz_country_known(const char *code);
/* "TD1", "TD2", "TD3", "MRV-A", "MRV-B"; "" for anything else. */
const char *nova_mrz_format_name(nova_mrz_format f);
/* "document_number", "birth_date", "expiry_date", "optional_data", "composite". */
const char *nova_mrz_check_name(nova_mrz_check c);
/* "ok", "failed", "repaired"; NULL for NOVA_MRZ_ABSENT. */
const char *nova_mrz_check_state_name(nova_mrz_check_state s);
/* "document_code", "issuer", "document_number", ... as in nova_mrz_field. */
const char *nova_mrz_field_name(nova_mrz_field f);

#endif
