/*
 * idv_test.c: the verification gateway without the server: aggregation (src/idv/gateway/
 * decide.c), the checks that work on earlier outputs (mrz, age, address), the MRZ line
 * extraction from OCR text, the list cursor, and the repository (src/store/idv.c) on SQLite
 * (and on PostgreSQL with NOVA_TEST_PG_URL): workflow versions, idempotency keys, a step
 * recorded and billed once however often a job is delivered, decisions once, tenant isolation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/idv/gateway/internal.h"
#include "nova/auth.h"

json_t *idv_mrz_lines(const char *text, unsigned *repairs);
double idv_address_score(const char *claimed, const char *document);
double idv_skew_degrees(const uint8_t *g, int w, int h);

/* ---- aggregation ---- */

static nova_workflow_def_t def_of(const char *json)
{
    nova_workflow_def_t d;
    char field[128], why[200];
    assert_int_equal(
        nova_workflow_validate(json, strlen(json), &d, field, sizeof(field), why, sizeof(why)),
        NOVA_OK);
    return d;
}

static const char *decide(const char *wf, const char *results, double *score, json_t **reasons)
{
    nova_workflow_def_t d = def_of(wf);
    json_t *def = json_loads(wf, 0, NULL), *res = json_loads(results, 0, NULL);
    assert_non_null(res);
    json_t *out = idv_decide(&d, def, res);
    static char decision[32];
    snprintf(decision, sizeof(decision), "%s", json_string_value(json_object_get(out, "decision")));
    if (score)
        *score = json_number_value(json_object_get(out, "score"));
    if (reasons)
        *reasons = json_incref(json_object_get(out, "reasons"));
    json_decref(out);
    json_decref(def);
    json_decref(res);
    return decision;
}

static const char WF[] = "{\"name\":\"w\",\"steps\":[{\"check\":\"ocr\"},{\"check\":\"mrz\"},"
                         "{\"check\":\"age\",\"on_fail\":\"review\"},"
                         "{\"check\":\"address\",\"required\":false}],"
                         "\"decision\":{\"approve_at\":0.8,\"reject_below\":0.4}}";

static void test_decide(void **state)
{
    (void)state;
    double score;
    json_t *reasons = NULL;
    /* All passed, high scores: approved. */
    assert_string_equal(decide(WF,
                               "[{\"status\":\"passed\",\"score\":0.9},{\"status\":\"passed\","
                               "\"score\":1},{\"status\":\"passed\",\"score\":1},"
                               "{\"status\":\"passed\",\"score\":0.9}]",
                               &score, NULL),
                        "approved");
    assert_true(score > 0.94 && score < 0.96);
    /* A required reject step failed: rejected, whatever the score, with the step named. */
    assert_string_equal(decide(WF,
                               "[{\"status\":\"passed\",\"score\":1},{\"status\":\"failed\","
                               "\"score\":0.9}]",
                               NULL, &reasons),
                        "rejected");
    assert_string_equal(json_string_value(json_object_get(json_array_get(reasons, 0), "code")),
                        "step_failed");
    assert_string_equal(json_string_value(json_object_get(json_array_get(reasons, 0), "step")),
                        "mrz");
    json_decref(reasons);
    /* on_fail review: review_required. */
    assert_string_equal(decide(WF,
                               "[{\"status\":\"passed\",\"score\":1},{\"status\":\"passed\","
                               "\"score\":1},{\"status\":\"failed\",\"score\":1},"
                               "{\"status\":\"passed\",\"score\":1}]",
                               NULL, NULL),
                        "review_required");
    /* A failed step that is not required is ignored (noted). */
    assert_string_equal(decide(WF,
                               "[{\"status\":\"passed\",\"score\":1},{\"status\":\"passed\","
                               "\"score\":1},{\"status\":\"passed\",\"score\":1},"
                               "{\"status\":\"failed\",\"score\":1}]",
                               NULL, &reasons),
                        "approved");
    assert_string_equal(json_string_value(json_object_get(json_array_get(reasons, 0), "code")),
                        "step_failed_ignored");
    json_decref(reasons);
    /* The decision rule's bands. */
    assert_string_equal(decide(WF, "[{\"status\":\"passed\",\"score\":0.6}]", NULL, NULL),
                        "review_required");
    assert_string_equal(decide(WF, "[{\"status\":\"passed\",\"score\":0.3}]", NULL, NULL),
                        "rejected");
    /* Review rules: a step in review, a score band. */
    static const char RULES[] =
        "{\"name\":\"w\",\"steps\":[{\"check\":\"ocr\"},{\"check\":\"mrz\"}],"
        "\"review_rules\":[{\"any_step\":\"review\"},"
        "{\"score_between\":[0.9,0.95]}],"
        "\"decision\":{\"approve_at\":0.5,\"reject_below\":0.1}}";
    assert_string_equal(
        decide(RULES, "[{\"status\":\"passed\",\"score\":1},{\"status\":\"review\",\"score\":1}]",
               NULL, NULL),
        "review_required");
    assert_string_equal(decide(RULES,
                               "[{\"status\":\"passed\",\"score\":0.92},{\"status\":\"passed\","
                               "\"score\":0.92}]",
                               NULL, NULL),
                        "review_required");
    assert_string_equal(
        decide(RULES, "[{\"status\":\"passed\",\"score\":1},{\"status\":\"passed\",\"score\":1}]",
               NULL, NULL),
        "approved");
    /* Deterministic: the same input, the same answer. */
    for (int i = 0; i < 3; i++)
        assert_string_equal(decide(WF, "[{\"status\":\"passed\",\"score\":0.6}]", NULL, NULL),
                            "review_required");
}

/* ---- checks over earlier outputs ---- */

/* Doc 9303 part 4 specimen (TD3), as OCR would hand it over. */
static const char *const TD3[] = {"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                                  "L898902C36UTO7408122F1204159ZE184226B<<<<<10"};

static idv_check_out_t run(idv_check_fn fn, json_t *steps, json_t *applicant, json_t *config)
{
    idv_images_t im = {0};
    idv_check_in_t in = {NULL, &im,  config, steps, applicant, 1796000000 /* 2026-12 */,
                         NULL, NULL, NULL,   NULL,  NULL,      NULL};
    idv_check_out_t out = {0};
    assert_int_equal(fn(&in, &out), NOVA_OK);
    return out;
}

static void out_free(idv_check_out_t *o)
{
    json_decref(o->reasons);
    json_decref(o->extracted);
}

static bool has_reason(const idv_check_out_t *o, const char *code)
{
    for (size_t i = 0; i < json_array_size(o->reasons); i++)
        if (strcmp(json_string_value(json_array_get(o->reasons, i)), code) == 0)
            return true;
    return false;
}

static json_t *ocr_steps(const char *l1, const char *l2, const char *text)
{
    return json_pack("{s:{s:s, s:{s:[s, s], s:s}}}", "ocr", "check", "ocr", "extracted",
                     "mrz_lines", l1, l2, "text", text);
}

/* A field of the mrz step's output (nova_mrz_json's fields, names as the visual zone left). */
static const char *field_of(const idv_check_out_t *o, const char *name)
{
    return json_string_value(json_object_get(json_object_get(o->extracted, "fields"), name));
}

static void test_mrz_check(void **state)
{
    (void)state;
    json_t *steps = ocr_steps(TD3[0], TD3[1], "ERIKSSON ANNA MARIA L898902C3");
    idv_check_out_t o = run(idv_check_mrz, steps, NULL, NULL);
    assert_string_equal(o.status, "passed");
    assert_string_equal(field_of(&o, "document_number"), "L898902C3");
    assert_string_equal(field_of(&o, "issuer"), "UTO");
    assert_true(json_is_true(json_object_get(o.extracted, "valid")));
    assert_string_equal(json_string_value(json_object_get(o.extracted, "format")), "TD3");
    json_t *proved = json_object_get(o.extracted, "proved");
    assert_true(json_is_true(json_object_get(proved, "surname")));
    assert_true(json_is_true(json_object_get(proved, "given_names")));
    assert_true(json_is_true(json_object_get(proved, "document_number")));
    assert_true(json_is_false(json_object_get(proved, "nationality")));
    assert_true(json_is_false(json_object_get(proved, "sex")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(o.extracted, "checks"), "composite")),
        "ok");
    out_free(&o);
    /* The claim disagrees with the zone: review, named. */
    json_t *ap = json_pack("{s:s}", "document_number", "X1234567");
    o = run(idv_check_mrz, steps, ap, NULL);
    assert_string_equal(o.status, "review");
    assert_true(has_reason(&o, "document_number_differs_from_claim"));
    out_free(&o);
    json_decref(ap);
    json_decref(steps);
    /* A names field the visual zone does not show is not proved. */
    steps = ocr_steps(TD3[0], TD3[1], "SOMEONE ELSE");
    o = run(idv_check_mrz, steps, NULL, NULL);
    assert_string_equal(o.status, "review");
    assert_true(has_reason(&o, "names_not_proved_by_visual_zone"));
    out_free(&o);
    json_decref(steps);
    /* "<<" read as "K<" ran surname and given names together; the visual zone repairs it. */
    steps = ocr_steps("P<UTOERIKSSONK<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", TD3[1],
                      "Surname\nERIKSSON\nGiven names\nANNA MARIA\n"
                      "P<UTOERIKSSONK<ANNA<MARIA<<<<<<<<<<<<<<<<<<<");
    o = run(idv_check_mrz, steps, NULL, NULL);
    assert_string_equal(o.status, "passed");
    assert_string_equal(field_of(&o, "surname"), "ERIKSSON");
    assert_string_equal(field_of(&o, "given_names"), "ANNA MARIA");
    assert_int_equal(json_integer_value(json_object_get(o.extracted, "names_repaired")), 1);
    out_free(&o);
    json_decref(steps);
    /* "<<" read as "<X<". */
    steps = ocr_steps("P<UTOERIKSSON<X<ANNA<MARIA<<<<<<<<<<<<<<<<<<", TD3[1],
                      "Surname\nERIKSSON\nGiven names\nANNA MARIA\n");
    o = run(idv_check_mrz, steps, NULL, NULL);
    assert_string_equal(o.status, "passed");
    assert_string_equal(field_of(&o, "given_names"), "ANNA MARIA");
    out_free(&o);
    json_decref(steps);
    /* "<<" read as one filler: the visual zone's separate lines split the names. */
    steps = ocr_steps("P<UTOERIKSSON<ANNA<MARIA<<<<<<<<<<<<<<<<<<<<", TD3[1],
                      "Surname\nERIKSSON\nGiven names\nANNA MARIA\n");
    o = run(idv_check_mrz, steps, NULL, NULL);
    assert_string_equal(o.status, "passed");
    assert_string_equal(field_of(&o, "surname"), "ERIKSSON");
    assert_string_equal(field_of(&o, "given_names"), "ANNA MARIA");
    out_free(&o);
    json_decref(steps);
    /* Digits read for letters (0 for O, 1 for I), one glyph read as several (IVI for M) and a
     * filler read as S behind a word: the visual zone's word, when exactly one word of it is
     * the read up to them. */
    static const char *const VIZ = "Surname\nERIKSSON\nGiven names\nANNA MARIA\n";
    static const struct {
        const char *line, *surname, *given;
    } looks[] = {
        {"P<UTOERIKSS0N<<ANNA<MAR1A<<<<<<<<<<<<<<<<<<<", "ERIKSSON", "ANNA MARIA"},
        {"P<UTOERIKSSON<<ANNA<IVIARIA<<<<<<<<<<<<<<<<<", "ERIKSSON", "ANNA MARIA"},
        {"P<UTOERIKSSONS<ANNA<MARIAS<<<<<<<<<<<<<<<<<<", "ERIKSSON", "ANNA MARIA"},
    };
    for (size_t i = 0; i < sizeof(looks) / sizeof(looks[0]); i++) {
        steps = ocr_steps(looks[i].line, TD3[1], VIZ);
        o = run(idv_check_mrz, steps, NULL, NULL);
        assert_string_equal(o.status, "passed");
        assert_string_equal(field_of(&o, "surname"), looks[i].surname);
        assert_string_equal(field_of(&o, "given_names"), looks[i].given);
        assert_true(json_integer_value(json_object_get(o.extracted, "names_repaired")) >= 1);
        out_free(&o);
        json_decref(steps);
    }
    /* A letter for a letter (T or L for I): either reader may be wrong, so no repair and not
     * proved. Two words of the visual zone the read can be (BOB, BDB for B0B): neither is
     * taken. */
    for (int k = 0; k < 2; k++) {
        steps = ocr_steps(k ? "P<UTOERIKSSON<<ANNA<MARLA<<<<<<<<<<<<<<<<<<<"
                            : "P<UTOERIKSSON<<ANNA<MARTA<<<<<<<<<<<<<<<<<<<",
                          TD3[1], VIZ);
        o = run(idv_check_mrz, steps, NULL, NULL);
        assert_string_equal(o.status, "review");
        assert_string_equal(field_of(&o, "given_names"), k ? "ANNA MARLA" : "ANNA MARTA");
        out_free(&o);
        json_decref(steps);
    }
    steps = ocr_steps("P<UTOERIKSSON<<B0B<<<<<<<<<<<<<<<<<<<<<<<<<<", TD3[1],
                      "Surname\nERIKSSON\nGiven names\nBOB BDB\n");
    o = run(idv_check_mrz, steps, NULL, NULL);
    assert_string_equal(o.status, "review");
    assert_string_equal(field_of(&o, "given_names"), "B0B");
    out_free(&o);
    json_decref(steps);
    /* The reading with the best check digits shows names the visual zone does not prove,
     * another reading of the same zone shows them right: its names are taken. */
    steps = json_pack("{s:{s:s, s:{s:[s, s], s:[[s, s], [s, s]], s:s}}}", "ocr", "check", "ocr",
                      "extracted", "mrz_lines", "P<UTOERIKSSON<<ANNA<MARTA<<<<<<<<<<<<<<<<<<<",
                      TD3[1], "mrz_candidates", "P<UTOERIKSSON<<ANNA<MARTA<<<<<<<<<<<<<<<<<<<",
                      TD3[1], TD3[0], "L898902C36UTO7408122F1204159ZE184226B<<<<<1<", "text", VIZ);
    o = run(idv_check_mrz, steps, NULL, NULL);
    assert_string_equal(o.status, "passed");
    assert_string_equal(field_of(&o, "given_names"), "ANNA MARIA");
    assert_true(json_is_true(json_object_get(o.extracted, "names_from_another_reading")));
    out_free(&o);
    json_decref(steps);
    /* G read as 6 in a number (or 6 as G): both weigh 6 mod 10, every check digit holds.
     * The visual zone printing the other one proves neither; printed as read, it passes. */
    {
        static const char *const Z[] = {"P<ZAFNKOSI<<NALEDI<<<<<<<<<<<<<<<<<<<<<<<<<<",
                                        "U628129912ZAF7703274M3204256<<<<<<<<<<<<<<02"};
        static const char *const viz[] = {"UG2812991", "", "U62812991"};
        static const char *const want[] = {"review", "review", "passed"};
        for (int k = 0; k < 3; k++) {
            char text[160];
            snprintf(text, sizeof(text), "Surname\nNKOSI\nGiven names\nNALEDI\nDocument no\n%s\n",
                     viz[k]);
            steps = ocr_steps(Z[0], Z[1], text);
            o = run(idv_check_mrz, steps, NULL, NULL);
            assert_string_equal(o.status, want[k]);
            assert_string_equal(field_of(&o, "document_number"), "U62812991");
            assert_int_equal(has_reason(&o, "document_number_g6_not_in_visual_zone"), k < 2);
            out_free(&o);
            json_decref(steps);
        }
    }
    /* The zone's own line in the page text proves nothing: a name read only there is not. */
    steps = ocr_steps("P<UTOERIKSSON<<ANNAK<MARIA<<<<<<<<<<<<<<<<<<", TD3[1],
                      "ERIKSSON\nP<UTOERIKSSON<<ANNAK<MARIA<<<<<<<<<<<<<<<<<<");
    o = run(idv_check_mrz, steps, NULL, NULL);
    assert_string_equal(o.status, "review");
    assert_true(has_reason(&o, "names_not_proved_by_visual_zone"));
    out_free(&o);
    json_decref(steps);
    /* A document number misread (0 as O): repaired because exactly one OCR confusion makes
     * the number's check digit and the composite hold, and passed because the visual zone
     * prints the repaired number. */
    char misread[45];
    memcpy(misread, TD3[1], 45);
    misread[5] = 'O';
    steps = ocr_steps(TD3[0], misread, "ERIKSSON ANNA MARIA\nDocument no\nL898902C3");
    o = run(idv_check_mrz, steps, NULL, NULL);
    assert_string_equal(field_of(&o, "document_number"), "L898902C3");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o.extracted, "checks"),
                                                          "document_number")),
                        "repaired");
    assert_true(has_reason(&o, "document_number_repaired_by_check_digits"));
    assert_true(has_reason(&o, "ocr_confusions_repaired"));
    assert_string_equal(o.status, "passed");
    out_free(&o);
    json_decref(steps);
    /* The same repair the visual zone does not show: review, the number not proved. */
    steps = ocr_steps(TD3[0], misread, "ERIKSSON ANNA MARIA");
    o = run(idv_check_mrz, steps, NULL, NULL);
    assert_string_equal(o.status, "review");
    assert_true(has_reason(&o, "document_number_repair_not_in_visual_zone"));
    assert_true(
        json_is_false(json_object_get(json_object_get(o.extracted, "proved"), "document_number")));
    out_free(&o);
    json_decref(steps);
    /* A misread no check digit can settle (8 read as B where another swap fits too): the
     * number stays as read and failed. */
    memcpy(misread, TD3[1], 45);
    misread[1] = 'B';
    steps = ocr_steps(TD3[0], misread, "ERIKSSON ANNA MARIA L898902C3");
    o = run(idv_check_mrz, steps, NULL, NULL);
    assert_string_equal(o.status, "failed");
    assert_string_equal(field_of(&o, "document_number"), "LB98902C3");
    assert_true(has_reason(&o, "document_number_check_digit_failed"));
    out_free(&o);
    json_decref(steps);
    /* Every check digit holds but the nationality is no country: not valid, named. */
    memcpy(misread, TD3[1], 45);
    misread[12] = 'X';
    steps = ocr_steps(TD3[0], misread, "ERIKSSON ANNA MARIA");
    o = run(idv_check_mrz, steps, NULL, NULL);
    assert_string_equal(o.status, "failed");
    assert_true(has_reason(&o, "nationality_unknown_country"));
    out_free(&o);
    json_decref(steps);
    /* A misread check digit: failed, which one named. */
    char bad[45];
    memcpy(bad, TD3[1], 45);
    bad[27] = '0'; /* the expiry's check digit */
    steps = ocr_steps(TD3[0], bad, "ERIKSSON ANNA MARIA");
    o = run(idv_check_mrz, steps, NULL, NULL);
    assert_string_equal(o.status, "failed");
    assert_true(has_reason(&o, "expiry_date_check_digit_failed"));
    out_free(&o);
    json_decref(steps);
    /* No zone at all. */
    steps = json_pack("{s:{s:s, s:{s:[]}}}", "ocr", "check", "ocr", "extracted", "mrz_lines");
    o = run(idv_check_mrz, steps, NULL, NULL);
    assert_string_equal(o.status, "failed");
    assert_true(has_reason(&o, "mrz_not_found"));
    out_free(&o);
    json_decref(steps);
}

/* The OCR step's rule for a third read (the legacy engine on the MRZ band): only when the two
 * LSTM readings prove no whole zone, or the mrz step would not prove the names from them with
 * the visual zone. Names the visual-zone repairs prove (a digit for a letter, IVI for M, a
 * filler read as K behind a word, the right names in the other reading) cost no third read,
 * and the rule agrees with what the mrz step then proves. */
static void test_legacy_read_rule(void **state)
{
    (void)state;
    static const char *const VIZ = "Surname\nERIKSSON\nGiven names\nANNA MARIA\n";
    char bad[45];
    memcpy(bad, TD3[1], 45);
    bad[27] = '0'; /* the expiry's check digit */
    const struct {
        const char *band, *page, *second; /* the band's first line, the page's; line 2 */
        bool legacy;
    } cases[] = {
        /* The names as printed: no third read. */
        {"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
         "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", NULL, false},
        /* Misread in both readings, but the repairs prove them: no third read (the raw words
         * ERIKSS0N, MAR1A, IVIARIA, ERIKSSONK are not in the visual zone). */
        {"P<UTOERIKSS0N<<ANNA<MAR1A<<<<<<<<<<<<<<<<<<<",
         "P<UTOERIKSSON<<ANNA<IVIARIA<<<<<<<<<<<<<<<<<", NULL, false},
        {"P<UTOERIKSSONK<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
         "P<UTOERIKSSONK<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", NULL, false},
        /* The band reads a letter for a letter (T for I: never repaired), the page reads the
         * names right: the mrz step takes the page's, no third read. */
        {"P<UTOERIKSSON<<ANNA<MARTA<<<<<<<<<<<<<<<<<<<",
         "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", NULL, false},
        /* Both read a letter for a letter: the names are not proved, the legacy engine reads. */
        {"P<UTOERIKSSON<<ANNA<MARTA<<<<<<<<<<<<<<<<<<<",
         "P<UTOERIKSSON<<ANNA<MARLA<<<<<<<<<<<<<<<<<<<", NULL, true},
        /* Names proved but no reading is a zone every check digit proves: it reads. */
        {"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
         "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", bad, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *l2 = cases[i].second ? cases[i].second : TD3[1];
        json_t *cands = json_pack("[[s, s], [s, s]]", cases[i].band, l2, cases[i].page, l2);
        assert_int_equal(idv_ocr_wants_legacy_read(cands, VIZ, 1796000000), cases[i].legacy);
        /* The mrz step on the same readings proves the names exactly when the rule says they
         * are proved (the zone's validity aside). */
        json_t *steps =
            json_pack("{s:{s:s, s:{s:[s, s], s:O, s:s}}}", "ocr", "check", "ocr", "extracted",
                      "mrz_lines", cases[i].band, l2, "mrz_candidates", cands, "text", VIZ);
        idv_check_out_t o = run(idv_check_mrz, steps, NULL, NULL);
        bool named =
            json_is_true(json_object_get(json_object_get(o.extracted, "proved"), "surname"));
        assert_int_equal(named, idv_mrz_names_proved(cands, VIZ, 1796000000));
        if (cases[i].second == NULL) {
            assert_int_equal(named, !cases[i].legacy);
            assert_string_equal(o.status, cases[i].legacy ? "review" : "passed");
        }
        out_free(&o);
        json_decref(steps);
        json_decref(cands);
    }
    /* No page text, no readings: it reads. */
    json_t *none = json_array();
    assert_true(idv_ocr_wants_legacy_read(none, VIZ, 1796000000));
    assert_false(idv_mrz_names_proved(none, NULL, 1796000000));
    json_decref(none);
}

/* Authenticity reads the mrz step's nova_mrz_json: any check digit "failed" costs, and the
 * expiry comes from fields. The image is missing here, so only the reasons are looked at. */
static void test_authenticity_reads_mrz(void **state)
{
    (void)state;
    json_t *steps = ocr_steps(TD3[0], TD3[1], "ERIKSSON ANNA MARIA L898902C3");
    idv_check_out_t m = run(idv_check_mrz, steps, NULL, NULL);
    json_object_set_new(steps, "mrz",
                        json_pack("{s:s, s:O}", "check", "mrz", "extracted", m.extracted));
    idv_check_out_t o = run(idv_check_authenticity, steps, NULL, NULL);
    assert_false(has_reason(&o, "check_digit_failed"));
    assert_true(has_reason(&o, "document_expired")); /* the specimen expired in 2012 */
    assert_false(has_reason(&o, "mrz_name_not_in_visual_zone"));
    out_free(&o);
    /* A visa's checks have no composite: absent is not failed. */
    json_t *checks = json_object_get(m.extracted, "checks");
    json_object_del(checks, "composite");
    o = run(idv_check_authenticity, steps, NULL, NULL);
    assert_false(has_reason(&o, "check_digit_failed"));
    out_free(&o);
    json_object_set_new(checks, "birth_date", json_string("failed"));
    o = run(idv_check_authenticity, steps, NULL, NULL);
    assert_true(has_reason(&o, "check_digit_failed"));
    out_free(&o);
    /* The workflow's issuing states and document kinds: UTO's passport (P) is accepted by a
     * list naming them, refused by one that does not. */
    json_t *cfg = json_pack("{s:[s,s], s:[s]}", "issuers", "KEN", "UTO", "document_types", "P");
    o = run(idv_check_authenticity, steps, NULL, cfg);
    assert_false(has_reason(&o, "issuer_not_supported"));
    assert_false(has_reason(&o, "document_type_not_supported"));
    out_free(&o);
    json_decref(cfg);
    cfg = json_pack("{s:[s], s:[s,s]}", "issuers", "NGA", "document_types", "I", "A");
    o = run(idv_check_authenticity, steps, NULL, cfg);
    assert_true(has_reason(&o, "issuer_not_supported"));
    assert_true(has_reason(&o, "document_type_not_supported"));
    assert_string_equal(o.status, "failed");
    out_free(&o);
    json_decref(cfg);
    out_free(&m);
    json_decref(steps);
}

static void test_age_check(void **state)
{
    (void)state;
    json_t *steps = json_pack("{s:{s:s, s:{s:{s:s}}}}", "mrz", "check", "mrz", "extracted",
                              "fields", "birth_date", "2010-06-01");
    json_t *cfg = json_pack("{s:i}", "min_age", 18);
    idv_check_out_t o = run(idv_check_age, steps, NULL, cfg);
    assert_string_equal(o.status, "failed");
    assert_int_equal(json_integer_value(json_object_get(o.extracted, "age")), 16);
    assert_true(has_reason(&o, "under_minimum_age"));
    out_free(&o);
    json_decref(steps);
    steps = json_pack("{s:{s:s, s:{s:{s:s}}}}", "mrz", "check", "mrz", "extracted", "fields",
                      "birth_date", "1980-12-31");
    o = run(idv_check_age, steps, NULL, cfg);
    assert_string_equal(o.status, "passed");
    assert_int_equal(json_integer_value(json_object_get(o.extracted, "age")), 45);
    out_free(&o);
    /* The claim differs from the document: review. */
    json_t *ap = json_pack("{s:s}", "date_of_birth", "1981-01-01");
    o = run(idv_check_age, steps, ap, cfg);
    assert_string_equal(o.status, "review");
    assert_true(has_reason(&o, "birth_date_differs_from_claim"));
    out_free(&o);
    json_decref(ap);
    json_decref(steps);
    /* Only a claim: never passed on the applicant's word alone. */
    ap = json_pack("{s:s}", "date_of_birth", "1980-01-01");
    steps = json_object();
    o = run(idv_check_age, steps, ap, cfg);
    assert_string_equal(o.status, "review");
    assert_true(has_reason(&o, "birth_date_not_proved_by_document"));
    out_free(&o);
    json_decref(ap);
    json_decref(steps);
    json_decref(cfg);
}

static void test_address(void **state)
{
    (void)state;
    assert_true(idv_address_score("12 Moi Avenue, Nairobi", "ADDRESS\n12 MOI AVENUE NAIROBI") ==
                1.0);
    /* One OCR misread in a long word still matches. */
    assert_true(idv_address_score("12 Kenyatta Avenue Nairobi", "12 KENYATIA AVENUE NAIROBI") ==
                1.0);
    assert_true(idv_address_score("12 Moi Avenue Nairobi", "4 OXFORD STREET ACCRA") < 0.3);
    json_t *steps = json_pack("{s:{s:s, s:{s:s}}}", "ocr", "check", "ocr", "extracted", "text",
                              "ADDRESS 81 OXFORD STREET JOHANNESBURG");
    json_t *ap = json_pack("{s:s}", "address", "81 Oxford Street, Johannesburg");
    idv_check_out_t o = run(idv_check_address, steps, ap, NULL);
    assert_string_equal(o.status, "passed");
    out_free(&o);
    json_decref(ap);
    ap = json_pack("{s:s}", "address", "3 Kampala Road Kampala");
    o = run(idv_check_address, steps, ap, NULL);
    assert_string_equal(o.status, "failed");
    out_free(&o);
    json_decref(ap);
    /* countries: the claimed country must be one of them, and the text must still match. */
    json_t *cfg = json_pack("{s:[s, s]}", "countries", "ZA", "NA");
    ap = json_pack("{s:s, s:s}", "address", "81 Oxford Street, Johannesburg", "address_country",
                   "ZA");
    o = run(idv_check_address, steps, ap, cfg);
    assert_string_equal(o.status, "passed");
    assert_string_equal(json_string_value(json_object_get(o.extracted, "country")), "ZA");
    out_free(&o);
    json_decref(ap);
    ap = json_pack("{s:s, s:s}", "address", "81 Oxford Street, Johannesburg", "address_country",
                   "KE");
    o = run(idv_check_address, steps, ap, cfg);
    assert_string_equal(o.status, "failed");
    assert_true(has_reason(&o, "address_country_not_allowed"));
    out_free(&o);
    json_decref(ap);
    ap = json_pack("{s:s}", "address", "81 Oxford Street, Johannesburg");
    o = run(idv_check_address, steps, ap, cfg);
    assert_string_equal(o.status, "failed");
    assert_true(has_reason(&o, "address_country_not_claimed"));
    out_free(&o);
    json_decref(ap);
    ap = json_pack("{s:s, s:s}", "address", "3 Kampala Road Kampala", "address_country", "NA");
    o = run(idv_check_address, steps, ap, cfg);
    assert_string_equal(o.status, "failed");
    assert_true(has_reason(&o, "address_does_not_match"));
    out_free(&o);
    json_decref(ap);
    json_decref(cfg);
    json_decref(steps);
}

static void test_mrz_lines(void **state)
{
    (void)state;
    unsigned repairs = 0;
    /* OCR noise around a TD3 zone: spaces, a guillemet for '<', a K read for a filler. */
    json_t *l = idv_mrz_lines("PASSPORT\nP<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
                              "L898902C36UTO 7408122F1204159ZE184226B<<<<<10\n",
                              &repairs);
    assert_int_equal(json_array_size(l), 2);
    assert_string_equal(json_string_value(json_array_get(l, 0)), TD3[0]);
    assert_string_equal(json_string_value(json_array_get(l, 1)), TD3[1]);
    json_decref(l);
    l = idv_mrz_lines("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<K<<<<<<<<<<\n"
                      "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
                      &repairs);
    assert_string_equal(json_string_value(json_array_get(l, 0)), TD3[0]);
    assert_int_equal(repairs, 1);
    json_decref(l);
    /* A TD1 zone: the last three lines, 30 wide. */
    l = idv_mrz_lines("I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\n"
                      "ERIKSSON<<ANNA<MARIA<<<<<<<<<<\n",
                      NULL);
    assert_int_equal(json_array_size(l), 3);
    json_decref(l);
    /* Letters-only fields: a digit there is a misread letter (document code, issuer). */
    l = idv_mrz_lines("1<UT0D231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\n"
                      "ERIKSSON<<ANNA<MARIA<<<<<<<<<<\n",
                      &repairs);
    assert_string_equal(json_string_value(json_array_get(l, 0)), "I<UTOD231458907<<<<<<<<<<<<<<<");
    assert_int_equal(repairs, 2);
    json_decref(l);
    /* Text without a zone. */
    l = idv_mrz_lines("REPUBLIC OF KENYA\nSurname\nOTIENO\n", NULL);
    assert_int_equal(json_array_size(l), 0);
    json_decref(l);
    l = idv_mrz_lines("", NULL);
    assert_int_equal(json_array_size(l), 0);
    json_decref(l);
}

/* Text lines drawn at a known angle: the estimate finds it (to the 0.5 degree grid). */
static void test_skew(void **state)
{
    (void)state;
    const int w = 600, h = 400;
    uint8_t *g = malloc((size_t)w * h);
    for (double a = -9; a <= 9; a += 4.5) {
        double r = a * M_PI / 180;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int row = (int)floor(y * cos(r) - x * sin(r));
                bool ink = ((row % 24) + 24) % 24 < 5 && (x / 7) % 3 != 0;
                g[(size_t)y * w + x] = ink ? 20 : 230;
            }
        double est = idv_skew_degrees(g, w, h);
        assert_true(fabs(est - a) <= 0.5);
    }
    free(g);
}

static void test_cursor(void **state)
{
    (void)state;
    nova_arena_t a;
    nova_arena_init(&a, 1024);
    const char *c = nova_idv_cursor_make(&a, 1796000000, "ver_abc-DEF_1");
    int64_t t = 0;
    const char *id = NULL;
    assert_int_equal(nova_idv_cursor_parse(&a, c, &t, &id), NOVA_OK);
    assert_int_equal(t, 1796000000);
    assert_string_equal(id, "ver_abc-DEF_1");
    const char *bad[] = {"", "%%%", "bm9kb3Q", "MTIz", "LTEuYQ", "MTIuYSdi"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(nova_idv_cursor_parse(&a, bad[i], &t, &id), NOVA_INVALID);
    nova_arena_free(&a);
}

/* ---- the repository ---- */

static nova_store_t *open_store(void)
{
    const char *pg = getenv("NOVA_TEST_PG_URL");
    nova_store_t *s = NULL;
    char err[256];
    assert_int_equal(nova_store_open(pg && *pg ? pg : "sqlite::memory:", &s, err, sizeof(err)),
                     NOVA_OK);
    assert_int_equal(nova_store_migrate(s, NULL, NULL), NOVA_OK);
    return s;
}

static const char *tenant(nova_auth_t *auth, nova_store_t *s, nova_arena_t *a, const char *name)
{
    nova_tenant_t t;
    static const nova_audit_actor_t by = {.id = "test"};
    char unique[64];
    snprintf(unique, sizeof(unique), "%s-%lld-%d", name, (long long)nova_time_now(), rand());
    assert_int_equal(nova_auth_tenant_create(auth, s, a, &by, unique, &t), NOVA_OK);
    return t.id;
}

static void test_store(void **state)
{
    (void)state;
    nova_store_t *s = open_store();
    nova_auth_config_t ac = {.issuer = "https://nova.test",
                             .audience = "nova-api",
                             .token_ttl = 300,
                             .alg = NOVA_JWS_EDDSA};
    memset(ac.master_key, 7, sizeof(ac.master_key));
    nova_auth_t *auth = NULL;
    assert_int_equal(nova_auth_new(&ac, &auth), NOVA_OK);
    nova_arena_t a;
    nova_arena_init(&a, 8192);
    const char *t1 = tenant(auth, s, &a, "idv-one"), *t2 = tenant(auth, s, &a, "idv-two");
    static const nova_audit_actor_t by = {.id = "test"};
    nova_idv_workflow_row_t w;
    nova_idv_problem_t pb;
    const char *wf = "{\"name\":\"w\",\"steps\":[{\"check\":\"ocr\"},{\"check\":\"mrz\"}]}";
    assert_int_equal(nova_idv_workflow_put(NULL, s, &a, &by, t1, NULL, wf, strlen(wf), &w, &pb),
                     NOVA_OK);
    assert_int_equal(w.version, 1);
    const char *wid = w.id;
    assert_int_equal(nova_idv_workflow_put(NULL, s, &a, &by, t1, wid, wf, strlen(wf), &w, &pb),
                     NOVA_OK);
    assert_int_equal(w.version, 2);
    /* Another tenant cannot read or version it. */
    assert_int_equal(nova_idv_workflow_get(NULL, s, &a, t2, wid, 0, &w), NOVA_NOT_FOUND);
    assert_int_equal(nova_idv_workflow_put(NULL, s, &a, &by, t2, wid, wf, strlen(wf), &w, &pb),
                     NOVA_NOT_FOUND);
    assert_int_equal(nova_idv_workflow_get(NULL, s, &a, t1, wid, 1, &w), NOVA_OK);
    assert_int_equal(w.version, 1);
    /* The custom check has its runner now. */
    const char *custom = "{\"name\":\"w\",\"steps\":[{\"check\":\"ocr\"},{\"check\":"
                         "\"custom_webhook\",\"config\":{\"url\":\"https://h.example/c\"}}]}";
    assert_int_equal(
        nova_idv_workflow_put(NULL, s, &a, &by, t1, NULL, custom, strlen(custom), &w, &pb),
        NOVA_OK);
    const char *live = "{\"name\":\"w\",\"steps\":[{\"check\":\"ocr\"},{\"check\":"
                       "\"liveness\",\"config\":{\"mode\":\"active\"}}]}";
    /* Active liveness runs in the gateway now (the challenge comes with the verification). */
    assert_int_equal(nova_idv_workflow_put(NULL, s, &a, &by, t1, NULL, live, strlen(live), &w, &pb),
                     NOVA_OK);

    /* Verifications: an idempotency key names the first one. */
    nova_idv_verification_row_t v = {.tenant_id = t1,
                                     .id = "ver_one",
                                     .workflow_id = wid,
                                     .workflow_version = 2,
                                     .status = "queued",
                                     .mode = "async",
                                     .trace_id = "00112233445566778899aabbccddeeff",
                                     .idempotency_key = "k1",
                                     .request_digest = "d1",
                                     .created_by = "test",
                                     .created_at = 1000};
    nova_audit_entry_t e;
    assert_int_equal(nova_audit_entry_make(&e, &a, &by, t1, "verification.create", "verification",
                                           "ver_one", NULL),
                     NOVA_OK);
    const uint8_t job[] = "sealed";
    const char *existing = NULL;
    assert_int_equal(nova_store_idv_verification_insert(s, &a, &v, job, 6, &e, &existing), NOVA_OK);
    v.id = "ver_two";
    assert_int_equal(nova_store_idv_verification_insert(s, &a, &v, job, 6, &e, &existing),
                     NOVA_CONFLICT);
    assert_string_equal(existing, "ver_one");
    assert_int_equal(nova_idv_verification_get(NULL, s, &a, t1, "ver_two", &(json_t *){NULL}),
                     NOVA_NOT_FOUND);
    /* A step recorded twice (a redelivered job) is stored and billed once. */
    uint8_t sealed[] = {1, 2, 3, 4};
    nova_idv_step_row_t st = {0, "ocr", "ocr", "passed", sealed, 4, 1001};
    bool fresh = false;
    assert_int_equal(nova_store_idv_step_put(s, t1, "ver_one", &st, 2, &fresh), NOVA_OK);
    assert_true(fresh);
    assert_int_equal(nova_store_idv_step_put(s, t1, "ver_one", &st, 2, &fresh), NOVA_OK);
    assert_false(fresh);
    nova_idv_usage_row_t *u = NULL;
    size_t n = 0;
    assert_int_equal(nova_store_idv_usage(s, &a, t1, 0, 0, &u, &n), NOVA_OK);
    assert_int_equal(n, 1);
    assert_int_equal(u[0].units, 2);
    assert_int_equal(u[0].checks, 1);
    assert_int_equal(nova_store_idv_usage(s, &a, t2, 0, 0, &u, &n), NOVA_OK);
    assert_int_equal(n, 0);
    /* Decided once; the job is dropped with the decision. */
    assert_int_equal(nova_store_idv_verification_start(s, t1, "ver_one", 1002), NOVA_OK);
    assert_int_equal(nova_audit_entry_make(&e, &a, &by, t1, "verification.decide", "verification",
                                           "ver_one", NULL),
                     NOVA_OK);
    nova_idv_document_row_t doc1 = {"digest-of-number", "digest-of-applicant-1"};
    assert_int_equal(nova_store_idv_verification_finish(s, t1, "ver_one", "completed", "approved",
                                                        "{}", 1003, 0, &e, NULL, &doc1),
                     NOVA_OK);
    assert_int_equal(nova_store_idv_verification_finish(s, t1, "ver_one", "completed", "rejected",
                                                        "{}", 1004, 0, &e, NULL, NULL),
                     NOVA_NOT_FOUND);
    assert_int_equal(nova_store_idv_verification_start(s, t1, "ver_one", 1005), NOVA_NOT_FOUND);
    const uint8_t *p = NULL;
    size_t plen = 0;
    assert_int_equal(nova_store_idv_job_get(s, &a, t1, "ver_one", &p, &plen), NOVA_NOT_FOUND);
    /* A verification sent to review keeps its job until the retention ends. */
    v.id = "ver_rev";
    v.idempotency_key = NULL;
    assert_int_equal(nova_audit_entry_make(&e, &a, &by, t1, "verification.create", "verification",
                                           "ver_rev", NULL),
                     NOVA_OK);
    assert_int_equal(nova_store_idv_verification_insert(s, &a, &v, job, 6, &e, &existing), NOVA_OK);
    nova_idv_document_row_t doc2 = {"digest-of-number", "digest-of-applicant-2"};
    assert_int_equal(nova_store_idv_verification_finish(s, t1, "ver_rev", "completed",
                                                        "review_required", "{}", 1003, 1500, &e,
                                                        NULL, &doc2),
                     NOVA_OK);
    /* The number is verified (approved) for applicant 1 only: applicant 2 meets it, applicant
     * 1 does not (its own), the review does not count until approved, t2 sees nothing. */
    int64_t others = -1;
    assert_int_equal(nova_store_idv_document_others(s, t1, "digest-of-number",
                                                    "digest-of-applicant-2", "ver_new", &others),
                     NOVA_OK);
    assert_int_equal(others, 1);
    assert_int_equal(nova_store_idv_document_others(s, t1, "digest-of-number",
                                                    "digest-of-applicant-1", "ver_new", &others),
                     NOVA_OK);
    assert_int_equal(others, 0);
    assert_int_equal(nova_store_idv_document_others(s, t1, "digest-of-number",
                                                    "digest-of-applicant-2", "ver_one", &others),
                     NOVA_OK);
    assert_int_equal(others, 0);
    assert_int_equal(nova_store_idv_document_others(s, t2, "digest-of-number",
                                                    "digest-of-applicant-2", "ver_new", &others),
                     NOVA_OK);
    assert_int_equal(others, 0);
    /* The index key: made once; a second maker is told to read the first. */
    const char *kregion = NULL;
    const uint8_t *kblob = NULL;
    size_t klen = 0;
    assert_int_equal(nova_store_idv_index_key_get(s, &a, t1, &kregion, &kblob, &klen),
                     NOVA_NOT_FOUND);
    assert_int_equal(
        nova_audit_entry_make(&e, &a, &by, t1, "idv_index_key.create", "idv_index_key", t1, NULL),
        NOVA_OK);
    const uint8_t kb1[] = {1, 1, 1}, kb2[] = {2, 2};
    assert_int_equal(nova_store_idv_index_key_put(s, t1, "default", kb1, 3, 1003, &e), NOVA_OK);
    assert_int_equal(nova_store_idv_index_key_put(s, t1, "default", kb2, 2, 1004, &e),
                     NOVA_CONFLICT);
    assert_int_equal(nova_store_idv_index_key_get(s, &a, t1, &kregion, &kblob, &klen), NOVA_OK);
    assert_string_equal(kregion, "default");
    assert_int_equal(klen, 3);
    assert_memory_equal(kblob, kb1, 3);
    assert_int_equal(nova_store_idv_index_key_get(s, &a, t2, &kregion, &kblob, &klen),
                     NOVA_NOT_FOUND);
    int64_t gone = 0;
    assert_int_equal(nova_store_idv_job_expire(s, 1400, &gone), NOVA_OK);
    assert_int_equal(gone, 0);
    assert_int_equal(nova_store_idv_job_get(s, &a, t1, "ver_rev", &p, &plen), NOVA_OK);
    assert_int_equal(nova_store_idv_job_expire(s, 1500, &gone), NOVA_OK);
    assert_int_equal(gone, 1);
    assert_int_equal(nova_store_idv_job_get(s, &a, t1, "ver_rev", &p, &plen), NOVA_NOT_FOUND);
    /* Another tenant sees nothing of it. */
    nova_idv_verification_row_t got;
    assert_int_equal(nova_store_idv_verification_get(s, &a, t2, "ver_one", &got), NOVA_NOT_FOUND);
    assert_int_equal(nova_store_idv_verification_get(s, &a, t1, "ver_one", &got), NOVA_OK);
    assert_string_equal(got.decision, "approved");
    assert_int_equal(got.attempts, 1);
    nova_arena_free(&a);
    nova_auth_free(auth);
    nova_store_close(s);
}

/* The custom check's reply: the documented shape maps to a status, a score and reasons;
 * anything else is refused (the runner then fails the step with custom_check_bad_reply). */
static void test_custom_reply(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        const char *status; /* NULL: refused */
        double score;
        size_t nreasons;
    } cases[] = {
        {"{\"result\":\"pass\"}", "passed", 1.0, 0},
        {"{\"result\":\"fail\",\"reasons\":[\"duplicate_applicant\"]}", "failed", 0.0, 1},
        {"{\"result\":\"review\",\"score\":0.25,\"reasons\":[\"a\",\"b.c\"]}", "review", 0.25, 2},
        {"{\"result\":\"maybe\"}", NULL, 0, 0},
        {"{\"result\":true}", NULL, 0, 0},
        {"{\"result\":\"pass\",\"score\":1.5}", NULL, 0, 0},
        {"{\"result\":\"pass\",\"score\":\"1\"}", NULL, 0, 0},
        {"{\"result\":\"pass\",\"reasons\":\"x\"}", NULL, 0, 0},
        {"{\"result\":\"pass\",\"reasons\":[\"has space\"]}", NULL, 0, 0},
        {"{\"result\":\"pass\",\"reasons\":[1]}", NULL, 0, 0},
        {"{\"result\":\"pass\",\"result\":\"fail\"}", NULL, 0, 0},
        {"[\"pass\"]", NULL, 0, 0},
        {"", NULL, 0, 0},
        {"{\"result\":\"pass\"", NULL, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        idv_check_out_t out = {0};
        nova_status st = idv_custom_reply_parse(cases[i].body, strlen(cases[i].body), &out);
        if (cases[i].status == NULL) {
            assert_int_equal(st, NOVA_INVALID);
        } else {
            assert_int_equal(st, NOVA_OK);
            assert_string_equal(out.status, cases[i].status);
            assert_true(fabs(out.score - cases[i].score) < 1e-9);
            assert_int_equal(json_array_size(out.reasons), cases[i].nreasons);
        }
        json_decref(out.reasons);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_mrz_check),
        cmocka_unit_test(test_age_check),
        cmocka_unit_test(test_address),
        cmocka_unit_test(test_mrz_lines),
        cmocka_unit_test(test_skew),
        cmocka_unit_test(test_legacy_read_rule),
        cmocka_unit_test(test_cursor),
        cmocka_unit_test(test_custom_reply),
        cmocka_unit_test(test_store),
        cmocka_unit_test(test_authenticity_reads_mrz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
