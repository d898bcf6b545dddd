/*
 * interest.c: daily interest accrual (issue 8 item 9), pure computation. A product's annual
 * rate is a decimal string held as an integer in 10^-8 ("0.0525" -> 5250000); a day's interest
 * on an end-of-day balance is computed in 10^-9 minor units (nano-units) with 128-bit
 * intermediates, by the product's day-count convention. What is posted for a day is the
 * whole minor units the period's cumulative accrual crossed that day, so the postings of a
 * period sum to the floor of its exact interest, with no drift and no state: the cumulative
 * figure is recomputed from end-of-day balances, which never change once the day is over.
 */
#include <string.h>
#include <time.h>

#include "nova/ledger.h"

#define NANO 1000000000LL
#define RATE_SCALE 100000000LL /* 10^8 */

nova_status nova_ledger_rate_parse(const char *text, int64_t *rate_e8)
{
    *rate_e8 = 0;
    if (text == NULL || text[0] == '\0')
        return NOVA_INVALID;
    int64_t whole = 0, frac = 0;
    int digits = 0, fdigits = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9'; p++, digits++)
        whole = whole * 10 + (*p - '0');
    if (digits == 0 || digits > 2)
        return NOVA_INVALID; /* at most 99 (9900 %) a year */
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, fdigits++) {
            if (fdigits == 8)
                return NOVA_INVALID;
            frac = frac * 10 + (*p - '0');
        }
        if (fdigits == 0)
            return NOVA_INVALID;
    }
    if (*p != '\0')
        return NOVA_INVALID;
    for (int i = fdigits; i < 8; i++)
        frac *= 10;
    *rate_e8 = whole * RATE_SCALE + frac;
    return NOVA_OK;
}

static const char *const conventions[NOVA_LEDGER_DAYCOUNT_N] = {
    [NOVA_LEDGER_ACT_365] = "ACT/365",
    [NOVA_LEDGER_ACT_360] = "ACT/360",
    [NOVA_LEDGER_30_360] = "30/360",
};

int nova_ledger_daycount_parse(const char *name)
{
    for (int i = 0; name && i < NOVA_LEDGER_DAYCOUNT_N; i++)
        if (strcmp(conventions[i], name) == 0)
            return i;
    return -1;
}

const char *nova_ledger_daycount_name(nova_ledger_daycount dc)
{
    return dc < NOVA_LEDGER_DAYCOUNT_N ? conventions[dc] : "unknown";
}

static int days_in_month(int year, int month)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : d[month - 1];
}

/* The day's share of a year as a fraction num/den. ACT/365 and ACT/360: 1/365, 1/360 every
 * day. 30/360: every month counts 30 days, so day 31 counts 0 and the last day of February
 * counts the days February lacks plus one. */
static void day_fraction(nova_ledger_daycount dc, int year, int month, int day, int64_t *num,
                         int64_t *den)
{
    *num = 1;
    *den = dc == NOVA_LEDGER_ACT_365 ? 365 : 360;
    if (dc != NOVA_LEDGER_30_360)
        return;
    int dim = days_in_month(year, month);
    if (day == 31)
        *num = 0;
    else if (month == 2 && day == dim)
        *num = 30 - dim + 1;
}

nova_status nova_ledger_interest_day(int64_t balance, int64_t rate_e8, nova_ledger_daycount dc,
                                     int64_t min_balance, int year, int month, int day,
                                     int64_t *nano)
{
    *nano = 0;
    if (dc >= NOVA_LEDGER_DAYCOUNT_N || rate_e8 < 0 || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month))
        return NOVA_INVALID;
    if (balance <= 0 || balance < min_balance)
        return NOVA_OK;
    int64_t num, den;
    day_fraction(dc, year, month, day, &num, &den);
    /* balance x rate x num / den, in nano-units: balance * rate_e8 * 10 * num / den. */
    __int128 v = (__int128)balance * rate_e8 * 10 * num / den;
    if (v > INT64_MAX / 64)
        return NOVA_TOO_LARGE;
    *nano = (int64_t)v;
    return NOVA_OK;
}

int64_t nova_ledger_interest_post(int64_t cum_before_nano, int64_t cum_after_nano)
{
    return cum_after_nano / NANO - cum_before_nano / NANO;
}

nova_status nova_ledger_date_parse(const char *text, int *year, int *month, int *day,
                                   int64_t *start)
{
    if (text == NULL || strlen(text) != 10 || text[4] != '-' || text[7] != '-')
        return NOVA_INVALID;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (text[i] < '0' || text[i] > '9'))
            return NOVA_INVALID;
    *year = (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 + (text[3] - '0');
    *month = (text[5] - '0') * 10 + (text[6] - '0');
    *day = (text[8] - '0') * 10 + (text[9] - '0');
    if (*year < 1970 || *month < 1 || *month > 12 || *day < 1 ||
        *day > days_in_month(*year, *month))
        return NOVA_INVALID;
    struct tm tm = {.tm_year = *year - 1900, .tm_mon = *month - 1, .tm_mday = *day};
    *start = (int64_t)timegm(&tm);
    return NOVA_OK;
}

bool nova_ledger_last_day(int year, int month, int day)
{
    return day == days_in_month(year, month);
}

/* The periods of account fees and of interest payouts: how each names the period a day falls
 * in. Weeks start on Monday (ISO 8601), quarters in January, April, July and October; all in
 * UTC. The monthly label is the one fees and payouts had before other periods existed, so
 * their posting ids stay the same. */
static const struct {
    const char *name;
    const char *label; /* strftime of a day of the period (its Monday for a week); Q: + 1..4 */
} periods[] = {
    {"daily", "%Y-%m-%d"}, {"weekly", "w%Y-%m-%d"}, {"monthly", "%Y-%m"},
    {"quarterly", "%Y-Q"}, {"annual", "%Y"},
};

static int period_find(const char *name)
{
    for (int i = 0; name && i < (int)(sizeof(periods) / sizeof(periods[0])); i++)
        if (strcmp(periods[i].name, name) == 0)
            return i;
    return -1;
}

bool nova_ledger_period_valid(const char *name)
{
    return period_find(name) >= 0;
}

const char *nova_ledger_period_names(void)
{
    return "\"daily\", \"weekly\", \"monthly\", \"quarterly\" or \"annual\"";
}

/* The first day of the period day falls in (its first second, UTC), into *first. */
static nova_status period_first(int i, int64_t day, int64_t *first)
{
    time_t t = (time_t)(day - day % 86400);
    struct tm tm;
    if (day < 0 || gmtime_r(&t, &tm) == NULL)
        return NOVA_INVALID;
    const char *name = periods[i].name;
    if (strcmp(name, "weekly") == 0) {
        *first = (int64_t)t - (int64_t)((tm.tm_wday + 6) % 7) * 86400; /* back to its Monday */
        return NOVA_OK;
    }
    if (strcmp(name, "daily") != 0) {
        if (strcmp(name, "quarterly") == 0)
            tm.tm_mon -= tm.tm_mon % 3;
        else if (strcmp(name, "annual") == 0)
            tm.tm_mon = 0;
        tm.tm_mday = 1;
        t = timegm(&tm);
    }
    *first = (int64_t)t;
    return NOVA_OK;
}

nova_status nova_ledger_period_label(const char *name, int64_t day, char out[16])
{
    int i = period_find(name);
    int64_t first;
    out[0] = '\0';
    if (i < 0 || period_first(i, day, &first) != NOVA_OK)
        return NOVA_INVALID;
    time_t t = (time_t)first;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        return NOVA_INVALID;
    size_t n = strftime(out, 16, periods[i].label, &tm);
    if (n == 0)
        return NOVA_INVALID;
    if (strcmp(name, "quarterly") == 0 && n < 15) {
        out[n] = (char)('1' + tm.tm_mon / 3);
        out[n + 1] = '\0';
    }
    return NOVA_OK;
}

nova_status nova_ledger_period_span(const char *name, int64_t day, int64_t *first, bool *last)
{
    int i = period_find(name);
    int64_t next;
    if (i < 0 || period_first(i, day, first) != NOVA_OK ||
        period_first(i, day - day % 86400 + 86400, &next) != NOVA_OK)
        return NOVA_INVALID;
    *last = next != *first;
    return NOVA_OK;
}
