#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-Dfuzz=true) and runs each one found in
# $FUZZ_BUILD/fuzz/ for FUZZ_SECONDS (default 60) on a corpus kept in $FUZZ_BUILD/corpus-NAME,
# seeded with a few valid inputs. Exits non-zero if any target crashed, leaked or timed out;
# the input that did it is left as $FUZZ_BUILD/crash-NAME-*.
#   FUZZ_SECONDS=300 bash fuzz/run.sh          FUZZ_TARGETS="json_fuzz" bash fuzz/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}

if [ ! -f "$BUILD/build.ninja" ]; then
    CC=clang meson setup "$BUILD" -Dfuzz=true -Db_lundef=false
else
    meson configure "$BUILD" -Dfuzz=true -Db_lundef=false >/dev/null
fi
ninja -C "$BUILD"

b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# seed NAME DIR: writes a few valid inputs for target NAME into DIR (kept across runs).
seed() {
    local name=$1 dir=$2
    case $name in
    webauthn_fuzz)
        # mode 0: a none attestation object; a packed one; mode 2: an assertion; mode 3: a
        # recovery code and a step-up body (see fuzz/webauthn_fuzz.c)
        printf '%s' '00a363666d74646e6f6e656761747453746d74a0686175746844617461589456d982012de18edf08cf57d8d94b5e81a97199d3eb14f23b7c2b75c5c75f546d4500000000000000000000000000000000000000000010ababababababababababababababababa5010203262001215820000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f225820202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f' | xxd -r -p >"$dir/seed-none"
        printf '%s' '00a363666d74667061636b65646761747453746d74a263616c672663736967584600000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000686175746844617461589456d982012de18edf08cf57d8d94b5e81a97199d3eb14f23b7c2b75c5c75f546d4500000000000000000000000000000000000000000010ababababababababababababababababa5010203262001215820000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f225820202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f' | xxd -r -p >"$dir/seed-packed"
        printf '%s' '02004da5010203262001215820000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f225820202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f002556d982012de18edf08cf57d8d94b5e81a97199d3eb14f23b7c2b75c5c75f546d050000000900000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' | xxd -r -p >"$dir/seed-assert"
        printf '\x03\x00\x13abcd-efgh-ijkl-mnop{"b":[1,2],"a":"x"}' >"$dir/seed-codes"
        printf '\x03\x00\x00eyJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJub3ZhOnBlb3BsZSJ9.c2ln' >"$dir/seed-user-token"
        ;;
    oidc_fuzz)
        # the first byte picks the parser (see fuzz/oidc_fuzz.c): discovery, JWKS, token
        # response, ID token claims, a UserInfo response
        printf '\x00%s' '{"issuer":"https://idp.example","authorization_endpoint":"https://idp.example/a","token_endpoint":"https://idp.example/t","jwks_uri":"https://idp.example/j","code_challenge_methods_supported":["S256"]}' >"$dir/seed-discovery"
        printf '\x01%s' '{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k","use":"sig","alg":"ES256"},{"kty":"RSA","n":"AQAB","e":"AQAB"}]}' >"$dir/seed-jwks"
        printf '\x02%s' '{"access_token":"x","token_type":"Bearer","id_token":"a.b.c","expires_in":60}' >"$dir/seed-token"
        printf '\x03%s' '{"iss":"https://idp.example","aud":["nova-rp","api"],"azp":"nova-rp","nonce":"n","exp":1800000100,"iat":1800000000,"sub":"s","email":"a@b.example","email_verified":true,"groups":["eng","ops"]}' >"$dir/seed-claims"
        printf '\x03%s' '{"iss":"https://idp.example","aud":"nova-rp","nonce":"n","exp":1800000100,"iat":1800000000,"sub":"s","acr":"urn:nova:mfa","amr":["pwd","otp"]}' >"$dir/seed-claims-amr"
        printf '\x04%s' '{"sub":"248289761001","email":"a@b.example","email_verified":"true","name":"A","groups":["eng",""]}' >"$dir/seed-userinfo"
        ;;
    saml_fuzz)
        # the first byte picks (see fuzz/saml_fuzz.c): 0 a base64 SAMLResponse as posted, 1 the
        # Response's XML, 2 IdP metadata, 3/4 an SLO query as sent, 5/6 a LogoutRequest's or
        # LogoutResponse's XML, 7/8 the same posted (HTTP-POST)
        local resp='<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" IssueInstant="2027-01-15T08:00:00Z" Destination="https://nova.example/auth/saml/acs/ten_1/sidp_1" InResponseTo="_q"><saml:Issuer>https://idp.example/saml</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a" Version="2.0" IssueInstant="2027-01-15T08:00:00Z"><saml:Issuer>https://idp.example/saml</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_a"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">a@b.example</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="2027-01-15T08:05:00Z" Recipient="https://nova.example/auth/saml/acs/ten_1/sidp_1" InResponseTo="_q"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="2027-01-15T07:59:00Z" NotOnOrAfter="2027-01-15T08:05:00Z"><saml:AudienceRestriction><saml:Audience>https://nova.example/sp</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AttributeStatement><saml:Attribute Name="groups"><saml:AttributeValue>eng</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>'
        printf '\0%s' "$(printf '%s' "$resp" | base64 -w0)" >"$dir/seed-b64"
        printf '\1%s' "$resp" >"$dir/seed-xml"
        printf '\1%s' '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r" Version="2.0"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Requester"/></samlp:Status></samlp:Response>' >"$dir/seed-status"
        printf '\2%s' '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example/saml"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>' >"$dir/seed-metadata"
        printf '\5%s' '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_l" Version="2.0" IssueInstant="2027-01-15T08:00:00Z" Destination="https://nova.example/auth/saml/slo/ten_1/sidp_1"><saml:Issuer>https://idp.example/saml</saml:Issuer><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">a@b.example</saml:NameID><samlp:SessionIndex>_s1</samlp:SessionIndex><samlp:SessionIndex>_s2</samlp:SessionIndex></samlp:LogoutRequest>' >"$dir/seed-logout-request"
        printf '\6%s' '<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lr" Version="2.0" IssueInstant="2027-01-15T08:00:00Z" Destination="https://nova.example/auth/saml/slo/ten_1/sidp_1" InResponseTo="_l"><saml:Issuer>https://idp.example/saml</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>' >"$dir/seed-logout-response"
        printf '\3%s' 'SAMLRequest=fZDNTsMwEITvfYrId2q7TZvEStJWrXpBQqh%2FE&SigAlg=x&Signature=AAAA' >"$dir/seed-slo-query"
        # the same logout messages posted (HTTP-POST binding), and a value that is no base64
        sed '1s/^\x05/\x07/' "$dir/seed-logout-request" >"$dir/seed-post-logout-request"
        sed '1s/^\x06/\x08/' "$dir/seed-logout-response" >"$dir/seed-post-logout-response"
        printf '\7!%s' 'SAMLRequest=AAAA&x=1' >"$dir/seed-post-raw"
        # an EncryptedAssertion (RSA-OAEP, then RSA PKCS#1 v1.5) the SP's key cannot open
        printf '\1%s' '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" IssueInstant="2027-01-15T08:00:00Z" Destination="https://nova.example/auth/saml/acs/ten_1/sidp_1" InResponseTo="_q"><saml:Issuer>https://idp.example/saml</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/><xenc:CipherData><xenc:CipherValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion></samlp:Response>' >"$dir/seed-encrypted"
        printf '\1%s' '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" IssueInstant="2027-01-15T08:00:00Z" Destination="https://nova.example/auth/saml/acs/ten_1/sidp_1" InResponseTo="_q"><saml:Issuer>https://idp.example/saml</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-1_5"/><xenc:CipherData><xenc:CipherValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion></samlp:Response>' >"$dir/seed-encrypted-rsa15"
        printf '\1%s' '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" IssueInstant="2027-01-15T08:00:00Z" Destination="https://nova.example/auth/saml/acs/ten_1/sidp_1" InResponseTo="_q"><saml:Issuer>https://idp.example/saml</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a" Version="2.0" IssueInstant="2027-01-15T08:00:00Z"><saml:Issuer>https://idp.example/saml</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_a"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature><saml:Subject><saml:EncryptedID><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/><xenc:CipherData><xenc:CipherValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="2027-01-15T08:05:00Z" Recipient="https://nova.example/auth/saml/acs/ten_1/sidp_1" InResponseTo="_q"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="2027-01-15T07:59:00Z" NotOnOrAfter="2027-01-15T08:05:00Z"><saml:AudienceRestriction><saml:Audience>https://nova.example/sp</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AttributeStatement><saml:Attribute Name="groups"><saml:AttributeValue>eng</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>' >"$dir/seed-encrypted-id"
        ;;
    json_fuzz)
        printf '%s' '{}' >"$dir/seed-empty"
        printf '%s' '{"name":"billing","scopes":["clients:read","clients:write"],"audiences":["nova-api"]}' >"$dir/seed-client"
        printf '%s' '{"name":"ops","tenant":"ten_AAAAAAAAAAAAAAAAAAAAAA","scopes":[]}' >"$dir/seed-tenant"
        printf '%s' '{"client":{"name":"x","scopes":["a"]},"n":[1,2.5e3,-0,true,false,null],"u":"\u00e9\ud83d\ude00"}' >"$dir/seed-nested"
        ;;
    jws_fuzz)
        local h p s
        h=$(printf '%s' '{"alg":"EdDSA","typ":"at+jwt","kid":"fuzz-ed"}' | b64u)
        p=$(printf '%s' '{"iss":"http://127.0.0.1:8080","sub":"cli_x","tid":"ten_x","aud":"nova-api","jti":"j","iat":1,"exp":2,"scope":"a b"}' | b64u)
        s=$(head -c 64 /dev/zero | b64u)
        printf '%s' "$h.$p.$s" >"$dir/seed-eddsa"
        h=$(printf '%s' '{"alg":"ES256","typ":"at+jwt","kid":"fuzz-es"}' | b64u)
        printf '%s' "$h.$p.$s" >"$dir/seed-es256"
        # an RSA-PSS header with a 256-byte signature (parsed only with NOVA_JWS_ALLOW_PS256)
        h=$(printf '%s' '{"alg":"PS256","kid":"pss-1"}' | b64u)
        printf '%s' "$h.$p.$(head -c 256 /dev/zero | b64u)" >"$dir/seed-ps256"
        printf '%s' '{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k","alg":"EdDSA"}' >"$dir/seed-jwk-ed"
        printf '%s' '{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k","alg":"ES256"}' >"$dir/seed-jwk-ec"
        ;;
    log_fuzz)
        printf '%s' 'GET' >"$dir/seed-method"
        printf 'G\xffT' >"$dir/seed-high-byte"
        printf 'caf\xc3\xa9 \xf0\x9f\x98\x80 "q" \\ \n\t\x01' >"$dir/seed-mixed"
        printf '\xed\xa0\x80\xc0\x80\xf4\x90\x80\x80\xe2\x82' >"$dir/seed-invalid"
        ;;
    form_fuzz)
        printf '%s' 'client_credentials' >"$dir/seed-grant"
        printf '%s' 'a+b%20c%3Dd%26e%25' >"$dir/seed-escapes"
        printf '%s' 'caf%C3%A9' >"$dir/seed-utf8"
        printf '%s' 'cli_AAAAAAAAAAAAAAAAAAAAAA:c2VjcmV0' >"$dir/seed-credentials"
        printf '%s' 'Y2xpX3g6c2VjcmV0' >"$dir/seed-basic"
        printf 'id:secret\0junk' >"$dir/seed-nul"
        ;;
    http_fuzz)
        printf 'GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n' >"$dir/seed-get"
        printf 'GET /v1/things/a%%2fb/parts/%%41 HTTP/1.1\r\nHost: x\r\n\r\n' >"$dir/seed-params"
        printf 'POST /v1/things HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ok\r\nContent-Length: 5\r\n\r\nabcde' >"$dir/seed-body"
        printf 'POST /v1/things HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ok\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' >"$dir/seed-chunked"
        printf 'GET /v1/health?a=1&b=2 HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n X-Fold\r\n\r\nGET / HTTP/1.1\r\n\r\n' >"$dir/seed-odd"
        ;;
    jpeg_fuzz)
        # Small JPEGs from a generated 16 x 8 picture (cjpeg, libjpeg-turbo-progs): baseline,
        # progressive, greyscale, 4:2:0 and 4:4:4, restart markers, and an Exif orientation 6.
        local ppm="$dir/.seed.ppm" y
        { printf 'P6\n16 8\n255\n'
          for y in 0 1 2 3 4 5 6 7; do
              printf '\xdc\x14\x14%.0s' 1 2 3 4 5 6 7 8; printf '\x14\x14\xdc%.0s' 1 2 3 4 5 6 7 8
          done; } >"$ppm"
        cjpeg -quality 90 "$ppm" >"$dir/seed-baseline"
        cjpeg -progressive "$ppm" >"$dir/seed-progressive"
        cjpeg -grayscale "$ppm" >"$dir/seed-grey"
        cjpeg -sample 1x1 -restart 1 "$ppm" >"$dir/seed-444-restart"
        { printf '\xff\xd8\xff\xe1\x00\x22Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08'
          printf '\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00'
          tail -c +3 "$dir/seed-baseline"; } >"$dir/seed-exif6"
        rm -f "$ppm"
        ;;
    policy_fuzz)
        # first byte: 0 modeling language, 1 JSON model, 2 CEL
        printf '\0model\n  schema 1.1\ntype user\ntype group\n  relations\n    define member: [user, group#member]\ntype doc\n  relations\n    define parent: [doc]\n    define owner: [user with ok, user:*]\n    define blocked: [user]\n    define viewer: (owner or viewer from parent) but not blocked\n    define both: owner and viewer\ncondition ok(x: int, t: timestamp) {\n  x < 100 && t < timestamp("2030-01-01T00:00:00Z")\n}\n' >"$dir/seed-dsl"
        printf '\1{"schema_version":"1.1","type_definitions":[{"type":"user"},{"type":"doc","relations":{"v":{"union":{"child":[{"this":{}},{"computedUserset":{"relation":"e"}}]}},"e":{"this":{}}},"metadata":{"relations":{"v":{"directly_related_user_types":[{"type":"user","wildcard":{}}]},"e":{"directly_related_user_types":[{"type":"user","condition":"c"}]}}}}],"conditions":{"c":{"name":"c","expression":"ip.in_cidr(\\"10.0.0.0/8\\")","parameters":{"ip":{"type_name":"TYPE_NAME_IPADDRESS"}}}}}' >"$dir/seed-json"
        printf '\2x < 100 || s.startsWith("a") && [1, 2u, 3.0].exists(v, v == x) ? m["k"] : size(b"\\x00") == 1' >"$dir/seed-cel"
        printf '\2timestamp("2024-01-01T00:00:00Z") + duration("1h30m") > timestamp("2024-01-01T01:00:00+01:00") && "ab".matches("^a\\\\d*b$")' >"$dir/seed-time"
        ;;
    apikey_fuzz)
        # x-api-key-id, x-signature, x-nonce, date, one per line; CIDRs alone
        printf 'ak_live_AAAAAAAAAAAAAAAAAAAAAA\nNE_vwi9bN1L--IeCy9UUcJIVoPTwDRC-rG5LTWPNtFU\nn0nce-0123456789ab\nSun, 06 Nov 1994 08:49:37 GMT' >"$dir/seed-headers"
        printf 'ak_test_AAAAAAAAAAAAAAAAAAAAAA\ngoO7pnaZMHsEOoi1poqguKGZmpX6eG_sUWKnv7MTHgQ\nn0nce-0123456789ab\nThu, 29 Feb 2024 23:59:59 GMT' >"$dir/seed-leap"
        printf '%s' '203.0.113.0/24' >"$dir/seed-cidr4"
        printf '%s' '2001:db8:abcd:12::/63' >"$dir/seed-cidr6"
        printf '%s' '10.0.0.0/8 ::1/128 192.0.2.1' >"$dir/seed-list"
        ;;
    workflow_fuzz)
        printf '%s' '{"name":"kyc","steps":[{"check":"ocr","config":{"min_confidence":0.6}},{"id":"face","check":"face_match","config":{"match_max":0.45,"review_max":0.55},"depends_on":["ocr"],"on_fail":"review"},{"check":"custom_webhook","config":{"url":"https://h.example/x"}}],"review_rules":[{"any_step":"review"},{"score_between":[0.4,0.7]},{"when":"steps.face.distance > 0.5"}],"decision":{"approve_at":0.8,"reject_below":0.3}}' >"$dir/seed-full"
        printf '%s' '{"name":"m","steps":[{"check":"ocr"}]}' >"$dir/seed-min"
        ;;
    idv_fuzz)
        # first byte: 0 OCR text to MRZ lines, 1 list cursor, 2 claimed address + OCR text,
        # 3 the mrz step
        printf '\0PASSPORT\nP<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<K<<<<<<<<<<\nL898902C36UTO 7408122F1204159ZE184226B<<<<<10\n' >"$dir/seed-td3"
        printf '\0I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<\n' >"$dir/seed-td1"
        printf '\1MTc5NjAwMDAwMC52ZXJfYWJj' >"$dir/seed-cursor"
        printf '\2%s\nADDRESS\n%s' '12 Moi Avenue, Nairobi' '12 MOI AVENUE NAIROBI' >"$dir/seed-address"
        # 3: the band's reading, a form feed, the page's text (the mrz step's name repairs)
        printf '\3P<UTOERIKSSONS<ANNA<IVIARIA<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10\fSurname\nERIKSSON\nGiven names\nANNA MARIA\n' >"$dir/seed-names"
        ;;
    webhook_endpoint_fuzz)
        # a valid configuration (a throwaway self-signed certificate and key), and a pinned one
        local k c
        k=$(mktemp) c=$(mktemp)
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$k" -out "$c" \
            -days 1 -subj /CN=seed >/dev/null 2>&1
        python3 -c 'import json,sys; c=open(sys.argv[1]).read(); k=open(sys.argv[2]).read(); print(json.dumps({"url":"https://h.example/x","events":["verification.completed","review.decided"],"client_certificate":c,"client_key":k,"ca_certificate":c}))' "$c" "$k" >"$dir/seed-ca"
        python3 -c 'import json,sys; c=open(sys.argv[1]).read(); k=open(sys.argv[2]).read(); print(json.dumps({"url":"https://h.example:8443/x","events":["verification.failed"],"client_certificate":c,"client_key":k,"pin":"sha256//"+"A"*43+"=","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}))' "$c" "$k" >"$dir/seed-pin"
        rm -f "$k" "$c"
        ;;
    at_reply_fuzz)
        printf '%s' '{"SMSMessageData":{"Message":"Sent to 2/2 Total Cost: KES 1.6000","Recipients":[{"statusCode":101,"number":"+254711000001","status":"Success","cost":"KES 0.8000","messageId":"ATXid_1"},{"statusCode":403,"number":"+254722000002","status":"InvalidPhoneNumber","cost":"0","messageId":"None"}]}}' >"$dir/seed-mixed"
        printf '%s' '{"SMSMessageData":{"Message":"InvalidSenderId","Recipients":[]}}' >"$dir/seed-empty"
        ;;
    twilio_reply_fuzz)
        printf '%s' '{"account_sid":"AC0123456789abcdef0123456789abcdef","api_version":"2010-04-01","body":"Nova","error_code":null,"error_message":null,"num_segments":"1","sid":"SM0123456789abcdef0123456789abcdef","status":"queued","to":"+254711000001"}' >"$dir/seed-created"
        printf '%s' '{"code":21211,"message":"The '"'"'To'"'"' number +254711000001 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}' >"$dir/seed-21211"
        printf '%s' '{"code":20429,"message":"Too Many Requests","more_info":"https://www.twilio.com/docs/errors/20429","status":429}' >"$dir/seed-429"
        ;;
    twilio_callback_fuzz)
        printf '%s' 'ApiVersion=2010-04-01&AccountSid=AC0123456789abcdef0123456789abcdef&From=%2B15017122661&MessageSid=SM0123456789abcdef0123456789abcdef&MessageStatus=delivered&SmsSid=SM0123456789abcdef0123456789abcdef&SmsStatus=delivered&To=%2B254711000001' >"$dir/seed-delivered"
        printf '%s' 'AccountSid=AC0123456789abcdef0123456789abcdef&ErrorCode=30003&MessageSid=SM0123456789abcdef0123456789abcdef&MessageStatus=undelivered&To=%2B254711000001&From=NOVA+Alerts' >"$dir/seed-undelivered"
        ;;
    notify_channel_fuzz)
        printf '%s' '{"type":"email","smtp_url":"smtp://mail.example.com:587","username":"u","password":"p","from":"nova@example.com","to":["ops@example.com"],"events":["verification.completed"]}' >"$dir/seed-email"
        printf '%s' '{"type":"sms","provider":"africastalking","username":"sandbox","api_key":"k","sender_id":"NOVA","to":["+254711000001"],"base_url":"http://127.0.0.1:9","events":["review.decided"],"enabled":false}' >"$dir/seed-sms"
        printf '%s' '{"type":"verification.completed","timestamp":"2026-01-01T00:00:00Z","data":{"verification_id":"vrf_1","status":"completed","decision":"approved","reasons":["ok"]}}' >"$dir/seed-payload"
        printf '%s' '{"type":"sms","provider":"twilio","account_sid":"AC0123456789abcdef0123456789abcdef","api_key_sid":"SK0123456789abcdef0123456789abcdef","api_key_secret":"s","messaging_service_sid":"MG0123456789abcdef0123456789abcdef","to":["+254711000001"],"status_callback":"https://cb.example.com/s","events":["review.decided"]}' >"$dir/seed-twilio"
        ;;
    custom_reply_fuzz)
        printf '%s' '{"result":"pass","score":0.9,"reasons":["known_customer"]}' >"$dir/seed-pass"
        printf '%s' '{"result":"review"}' >"$dir/seed-review"
        ;;
    scim_filter_fuzz)
        # filters as IdPs send them, and Groups PATCH paths (the same bytes feed both parsers)
        printf '%s' 'userName eq "a@b.example" and (emails[type eq "work"] or not (active eq false))' >"$dir/seed-filter"
        printf '%s' 'members[value eq "usr_1" or type eq "User"].display' >"$dir/seed-path"
        printf '%s' 'urn:ietf:params:scim:schemas:core:2.0:Group:displayName' >"$dir/seed-urn"
        ;;
    mrz_fuzz)
        printf 'P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10' >"$dir/seed-td3"
        printf 'I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<' >"$dir/seed-td1"
        printf 'I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6' >"$dir/seed-td2"
        printf 'V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL8988901C4XXX4009078F96121096ZE184226B<<<<<<' >"$dir/seed-mrva"
        printf 'V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nL8988901C4XXX4009078F9612109<<<<<<<<' >"$dir/seed-mrvb"
        # repairs: 0 read as O in the number, a date's O and I, a personal number's 8 read as B;
        # a personal number check digit's filler read as K
        printf 'P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL8989O2C36UTO74O8I22F1204159ZE1B4226B<<<<<10' >"$dir/seed-repair"
        printf 'P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159<<<<<<<<<<<<<<K8' >"$dir/seed-filler"
        ;;
    *)
        printf '%s' '{}' >"$dir/seed-empty"
        ;;
    esac
}

targets=()
if [ -n "${FUZZ_TARGETS:-}" ]; then
    for t in $FUZZ_TARGETS; do targets+=("$BUILD/fuzz/$t"); done
else
    for t in "$BUILD"/fuzz/*_fuzz; do [ -x "$t" ] && targets+=("$t"); done
fi
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz: no targets in $BUILD/fuzz (is the compiler clang?)" >&2
    exit 1
fi

failed=()
for t in "${targets[@]}"; do
    name=$(basename "$t")
    corpus="$BUILD/corpus-$name"
    mkdir -p "$corpus"
    seed "$name" "$corpus"
    log="$BUILD/$name.log"
    echo "== $name: ${SECONDS_EACH}s, corpus $corpus, log $log"
    rc=0
    "$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$BUILD/crash-$name-" "$corpus" >"$log" 2>&1 || rc=$?
    grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' \
        "$log" || true
    if [ "$rc" -ne 0 ]; then
        echo "== $name FAILED (exit $rc); last lines of $log:"
        tail -n 40 "$log"
        failed+=("$name")
    else
        echo "== $name ok ($(ls "$corpus" | wc -l) inputs in corpus)"
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: crashes in ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, no crash"
