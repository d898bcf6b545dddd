/*
 * apikey_fuzz.c: libFuzzer target for what an API-key request brings from outside before any
 * key is read: the four signature headers (nova_apikey_headers_parse: key id, base64url
 * signature, nonce, IMF-fixdate), and the CIDR text of an allow-list (nova_cidr_parse). The
 * input is split at '\n' into the headers; the whole input is also tried as a CIDR. Nothing may
 * crash or leak, an accepted date must format back to the same text, and an accepted CIDR must
 * contain its own network address.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nova/apikey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';

    /* Headers: up to four '\n'-separated fields; missing ones stay NULL. */
    const char *f[4] = {NULL, NULL, NULL, NULL};
    char *p = copy;
    for (int i = 0; i < 4 && p; i++) {
        f[i] = p;
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        p = nl ? nl + 1 : NULL;
    }
    nova_apikey_headers_t h = {.key_id = f[0], .signature = f[1], .nonce = f[2], .date = f[3]};
    nova_apikey_parsed_t out;
    const char *why = NULL;
    if (nova_apikey_headers_parse(&h, &out, &why) == NOVA_OK) {
        char again[30];
        nova_apikey_date_format(out.date, again);
        if (strcmp(again, h.date) != 0 || strlen(out.key_id) != NOVA_APIKEY_ID_LEN ||
            strlen(out.nonce) < NOVA_APIKEY_NONCE_MIN)
            abort();
    } else if (why == NULL) {
        abort();
    }

    memcpy(copy, data, size);
    copy[size] = '\0';
    nova_cidr_t c;
    if (nova_cidr_parse((const char *)data, size, &c) == NOVA_OK) {
        char text[INET6_ADDRSTRLEN];
        if ((c.family != 4 && c.family != 6) || c.bits > (c.family == 4 ? 32u : 128u) ||
            inet_ntop(c.family == 4 ? AF_INET : AF_INET6, c.addr, text, sizeof(text)) == NULL ||
            !nova_cidr_contains(&c, text))
            abort();
    }
    (void)nova_cidr_list_contains(copy, "192.0.2.1");
    (void)nova_cidr_list_contains(copy, "2001:db8::1");
    free(copy);
    return 0;
}
