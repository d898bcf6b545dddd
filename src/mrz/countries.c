/*
 * countries.c: the codes an MRZ may name as issuer or nationality (nova_mrz_country_known).
 * Check digits do not cover these fields, so a misread code is caught only here.
 *
 * Sources (data, not code):
 *   - ISO 3166-1 alpha-3, the 249 codes of Debian's iso-codes 4.15.0
 *     (/usr/share/iso-codes/json/iso_3166-1.json), current as of 2026;
 *   - ICAO Doc 9303 part 3 (8th edition, 2021), section 5: "D" for Germany; GBD, GBN, GBO, GBP,
 *     GBS (British nationality classes); UNO, UNA, UNK (United Nations); the organisations'
 *     codes XBA, XIM, XCC, XCE, XCO, XEC, XES, XOM, XPO, XDC; EUE (European Union); XXA, XXB,
 *     XXC, XXX (stateless, refugees, unspecified nationality); UTO, the specimen state Utopia;
 *   - codes in use on documents still in circulation though in neither list: RKS and XXK
 *     (Kosovo's own passports; UNK is the UNMIK one), ANT (Netherlands Antilles, deleted from
 *     ISO 3166-1 in 2010) and NTZ (Neutral Zone, a transitional code).
 * Sorted, for bsearch.
 */
#include <stdlib.h>
#include <string.h>

#include "nova/mrz.h"

static const char codes[][4] = {
    "ABW", "AFG", "AGO", "AIA", "ALA", "ALB", "AND", "ANT", "ARE", "ARG", "ARM", "ASM", "ATA",
    "ATF", "ATG", "AUS", "AUT", "AZE", "BDI", "BEL", "BEN", "BES", "BFA", "BGD", "BGR", "BHR",
    "BHS", "BIH", "BLM", "BLR", "BLZ", "BMU", "BOL", "BRA", "BRB", "BRN", "BTN", "BVT", "BWA",
    "CAF", "CAN", "CCK", "CHE", "CHL", "CHN", "CIV", "CMR", "COD", "COG", "COK", "COL", "COM",
    "CPV", "CRI", "CUB", "CUW", "CXR", "CYM", "CYP", "CZE", "D",   "DEU", "DJI", "DMA", "DNK",
    "DOM", "DZA", "ECU", "EGY", "ERI", "ESH", "ESP", "EST", "ETH", "EUE", "FIN", "FJI", "FLK",
    "FRA", "FRO", "FSM", "GAB", "GBD", "GBN", "GBO", "GBP", "GBR", "GBS", "GEO", "GGY", "GHA",
    "GIB", "GIN", "GLP", "GMB", "GNB", "GNQ", "GRC", "GRD", "GRL", "GTM", "GUF", "GUM", "GUY",
    "HKG", "HMD", "HND", "HRV", "HTI", "HUN", "IDN", "IMN", "IND", "IOT", "IRL", "IRN", "IRQ",
    "ISL", "ISR", "ITA", "JAM", "JEY", "JOR", "JPN", "KAZ", "KEN", "KGZ", "KHM", "KIR", "KNA",
    "KOR", "KWT", "LAO", "LBN", "LBR", "LBY", "LCA", "LIE", "LKA", "LSO", "LTU", "LUX", "LVA",
    "MAC", "MAF", "MAR", "MCO", "MDA", "MDG", "MDV", "MEX", "MHL", "MKD", "MLI", "MLT", "MMR",
    "MNE", "MNG", "MNP", "MOZ", "MRT", "MSR", "MTQ", "MUS", "MWI", "MYS", "MYT", "NAM", "NCL",
    "NER", "NFK", "NGA", "NIC", "NIU", "NLD", "NOR", "NPL", "NRU", "NTZ", "NZL", "OMN", "PAK",
    "PAN", "PCN", "PER", "PHL", "PLW", "PNG", "POL", "PRI", "PRK", "PRT", "PRY", "PSE", "PYF",
    "QAT", "REU", "RKS", "ROU", "RUS", "RWA", "SAU", "SDN", "SEN", "SGP", "SGS", "SHN", "SJM",
    "SLB", "SLE", "SLV", "SMR", "SOM", "SPM", "SRB", "SSD", "STP", "SUR", "SVK", "SVN", "SWE",
    "SWZ", "SXM", "SYC", "SYR", "TCA", "TCD", "TGO", "THA", "TJK", "TKL", "TKM", "TLS", "TON",
    "TTO", "TUN", "TUR", "TUV", "TWN", "TZA", "UGA", "UKR", "UMI", "UNA", "UNK", "UNO", "URY",
    "USA", "UTO", "UZB", "VAT", "VCT", "VEN", "VGB", "VIR", "VNM", "VUT", "WLF", "WSM", "XBA",
    "XCC", "XCE", "XCO", "XDC", "XEC", "XES", "XIM", "XOM", "XPO", "XXA", "XXB", "XXC", "XXK",
    "XXX", "YEM", "ZAF", "ZMB", "ZWE",
};

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

bool nova_mrz_country_known(const char *code)
{
    if (code == NULL || strlen(code) > 3)
        return false;
    return bsearch(code, codes, sizeof(codes) / sizeof(codes[0]), sizeof(codes[0]), cmp) != NULL;
}
