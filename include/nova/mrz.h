/*
 * mrz.h: machine-readable zones of travel documents (ICAO Doc 9303 parts 4-6): TD1 (ID cards,
 * 3 lines of 30), TD2 (2 of 36) and TD3 (passports, 2 of 44). Pure computation: text in, fields
 * out, no I/O. The verification gateway's `mrz` check calls it on what OCR read.
 *
 * Input: the zone's lines separated by '\n' (a '\r' before it, spaces and tabs at either end of
 * a line, and blank lines are ignored); letters are upper-cased. Every other character must be
 * one of A-Z, 0-9 and '<'. In the fields that hold only digits (dates, check digits), the
 * letters OCR confuses with digits (O->0, Q->0, D->0, I->1, L->1, Z->2, S->5, G->6, B->8) are
 * read as those digits, and each such reading is counted in `corrections`; a document number
 * is never corrected (its check digit decides).
 */
#ifndef NOVA_MRZ_H
#define NOVA_MRZ_H

#include "nova/base.h"

typedef enum nova_mrz_format {
    NOVA_MRZ_TD1 = 1,
    NOVA_MRZ_TD2 = 2,
    NOVA_MRZ_TD3 = 3
} nova_mrz_format;

/* A date of the zone: yy, mm, dd as printed, and the full year the caller's rule resolved. */
typedef struct nova_mrz_date {
    int year; /* 4 digits, or 0 when the field is not a valid date */
    int month, day;
} nova_mrz_date_t;

typedef struct nova_mrz {
    nova_mrz_format format;
    char document_code[3];    /* "P", "I", "ID", "AC", ... ('<' removed) */
    char issuing_state[4];    /* "UTO"; 'D<<' style codes keep their letters only */
    char document_number[32]; /* fillers removed; TD1 long numbers joined with their overflow */
    char nationality[4];
    nova_mrz_date_t birth;
    nova_mrz_date_t expiry;
    char sex;         /* 'M', 'F' or 'X' (printed '<': unspecified) */
    char surname[64]; /* '<' between words becomes ' ' */
    char given_names[64];
    char optional1[32]; /* TD3: personal number; TD1 line 1 optional data */
    char optional2[32]; /* TD1 line 2 optional data; TD2 optional data */
    bool number_ok, birth_ok, expiry_ok, optional_ok, composite_ok; /* check digits */
    bool names_truncated; /* the name field was full: the name may be cut short */
    unsigned corrections; /* OCR confusions read as digits in digit-only fields */
} nova_mrz_t;

/* Parses a zone. NOVA_OK when its shape is TD1, TD2 or TD3 and every character is allowed,
 * whatever its check digits say (see nova_mrz_valid); NOVA_INVALID otherwise, with *why (a
 * static string) naming the problem. now_year (e.g. 2026) resolves two-digit years: a birth
 * year is the latest not after now_year, an expiry year the earliest not before
 * now_year - 50. */
nova_status nova_mrz_parse(const char *text, size_t len, int now_year, nova_mrz_t *out,
                           const char **why);
/* true when every check digit of the zone holds and both dates are real dates. */
bool nova_mrz_valid(const nova_mrz_t *m);
/* The ICAO 9303 check digit (weights 7, 3, 1) of s[0..n): '0'..'9', or -1 when s holds a
 * character outside A-Z, 0-9 and '<'. */
int nova_mrz_check_digit(const char *s, size_t n);
/* Whether code (3 letters, or "D" for Germany) is an ISO 3166-1 alpha-3 code or one of the
 * codes ICAO Doc 9303 part 3 adds for issuers and nationalities. */
bool nova_mrz_country_known(const char *code);

#endif
