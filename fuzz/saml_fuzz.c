/* saml_fuzz: what reaches the ACS (src/people/saml_login.c): a SAMLResponse, base64 then
 * Lasso's parse and signature checks, then Nova's checks of the assertion; and an IdP's
 * metadata as a tenant's administrator hands it in. The first byte picks: 0 the input is the
 * form value as sent (base64 text), 1 the input is the XML (base64-encoded here first, so the
 * fuzzer reaches the XML parser), 2 the input is IdP metadata. Nothing may crash, leak or read
 * out of bounds; a refusal must say why. Nothing unsigned can be accepted: no input made here
 * carries the IdP key's signature, so an acceptance aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "nova/base.h"
#include "nova/saml.h"

static nova_arena_t keep;
static nova_saml_expect_t e;

static const char *cert_line(const char *pem)
{
    const char *b = strstr(pem, "-----BEGIN CERTIFICATE-----") + 27, *x = strstr(pem, "-----END");
    char *out = nova_arena_alloc(&keep, (size_t)(x - b) + 1);
    size_t n = 0;
    for (; b < x; b++)
        if (*b != '\n')
            out[n++] = *b;
    out[n] = '\0';
    return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    nova_arena_init(&keep, 65536);
    nova_saml_init();
    const char *sk, *sc, *ik, *ic;
    if (nova_saml_sp_keygen(&keep, &sk, &sc) || nova_saml_sp_keygen(&keep, &ik, &ic))
        abort();
    e.sp_key_pem = sk;
    e.sp_cert_pem = sc;
    e.sp_entity_id = "https://nova.example/sp";
    e.acs_url = "https://nova.example/auth/saml/acs/ten_1/sidp_1";
    e.sp_metadata = nova_saml_sp_metadata(&keep, e.sp_entity_id, e.acs_url, sc);
    e.idp_entity_id = "https://idp.example/saml";
    e.idp_metadata = nova_arena_printf(
        &keep,
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
        "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"%s\"><md:IDPSSODescriptor "
        "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"><md:KeyDescriptor "
        "use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate>"
        "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService "
        "Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" "
        "Location=\"https://idp.example/sso\"/></md:IDPSSODescriptor></md:EntityDescriptor>",
        e.idp_entity_id, cert_line(ic));
    e.group_attribute = "groups";
    e.email_attribute = "email";
    e.name_attribute = "name";
    e.now = 1800000000;
    if (e.sp_metadata == NULL || e.idp_metadata == NULL)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    nova_arena_t ar;
    nova_arena_init(&ar, 4096);
    const char *why = NULL;
    char *text = nova_arena_alloc(&ar, 4 * ((size + 2) / 3) + 2);
    if (text == NULL)
        abort();
    if (data[0] % 3 == 1) {
        EVP_EncodeBlock((unsigned char *)text, data + 1, (int)(size - 1));
    } else {
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
    }
    size_t n = strlen(text);
    if (data[0] % 3 == 2) {
        nova_saml_idp_meta_t m;
        nova_status st = nova_saml_idp_metadata_parse(&ar, text, n, &m, &why);
        if (st == NOVA_OK && (m.entity_id == NULL || !nova_oidc_url_ok(m.sso_url)))
            abort();
        if (st == NOVA_INVALID && why == NULL)
            abort();
    } else {
        nova_saml_identity_t who;
        nova_saml_fail f = NOVA_SAML_FAIL_N;
        nova_status st = nova_saml_response_check(&ar, text, n, &e, &who, &f, &why);
        if (st == NOVA_OK && (f == NOVA_SAML_FAIL_NONE || f >= NOVA_SAML_FAIL_N || why == NULL))
            abort();
    }
    nova_arena_free(&ar);
    return 0;
}
