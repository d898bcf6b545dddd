/* oidc_fuzz: what an OpenID Provider sends (src/people/oidc_token.c): the first byte picks
 * the parser (discovery document, JWK Set, token response, ID token claims, a UserInfo
 * response merged into an identity, a Back-Channel Logout token's claims, a signed UserInfo
 * response's claims), the rest is the
 * document as it arrives over the network. Accepted or refused, nothing may crash, leak or
 * read out of bounds; a refusal must say why, and what is accepted must hold what the parser
 * promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nova/base.h"
#include "nova/oidc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    nova_arena_t ar;
    nova_arena_init(&ar, 4096);
    const char *why = NULL;
    nova_status st;
    switch (data[0] % 7) {
    case 0: {
        nova_oidc_discovery_t d;
        st = nova_oidc_discovery_parse(&ar, text, n, "https://idp.example", &d, &why);
        if (st == NOVA_OK &&
            (!nova_oidc_url_ok(d.token_endpoint) || !nova_oidc_url_ok(d.jwks_uri) ||
             !nova_oidc_url_ok(d.authorization_endpoint) || !d.s256))
            abort();
        break;
    }
    case 1: {
        nova_oidc_keyset_t ks;
        st = nova_oidc_jwks_parse(text, n, &ks, &why);
        if (st == NOVA_OK) {
            (void)nova_oidc_keyset_find(&ks, "k");
            (void)nova_oidc_keyset_find(&ks, "");
            nova_oidc_keyset_clear(&ks);
        }
        break;
    }
    case 2: {
        const char *it = NULL, *at = NULL;
        st = nova_oidc_token_response_parse_at(&ar, text, n, &it, &at, &why);
        if (st == NOVA_OK && (it == NULL || *it == '\0' || (at && *at == '\0')))
            abort();
        break;
    }
    case 4: {
        nova_oidc_identity_t id = {.sub = "248289761001"};
        st = nova_oidc_userinfo_merge(&ar, text, n, "groups", &id, &why);
        if (st == NOVA_OK && (id.ngroups > NOVA_OIDC_MAX_GROUPS || (id.email && !*id.email)))
            abort();
        break;
    }
    case 5: {
        nova_oidc_expect_t e = {
            .issuer = "https://idp.example", .client_id = "nova-rp", .now = 1800000000};
        nova_oidc_logout_t lo;
        st = nova_oidc_logout_claims_check(&ar, text, n, &e, &lo, &why);
        if (st == NOVA_OK && (lo.jti == NULL || (lo.sub == NULL && lo.sid == NULL)))
            abort();
        break;
    }
    case 6:
        st = nova_oidc_userinfo_jwt_claims_check(text, n, "https://idp.example", "nova-rp", &why);
        if (st == NOVA_OK &&
            (memmem(text, n, "https:", 6) == NULL || !memmem(text, n, "nova-rp", 7)))
            abort(); /* accepted without naming the issuer and the client */
        break;
    default: {
        nova_oidc_expect_t e = {.issuer = "https://idp.example",
                                .client_id = "nova-rp",
                                .nonce = "n",
                                .group_claim = "groups",
                                .now = 1800000000};
        nova_oidc_identity_t id;
        st = nova_oidc_claims_check(&ar, text, n, &e, &id, &why);
        if (st == NOVA_OK && (id.sub == NULL || id.ngroups > NOVA_OIDC_MAX_GROUPS))
            abort();
        break;
    }
    }
    if (st != NOVA_OK && st != NOVA_NOMEM && why == NULL)
        abort();
    nova_arena_free(&ar);
    return 0;
}
