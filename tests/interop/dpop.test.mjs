// Interop for sender-constrained tokens: oauth4webapi obtains DPoP-bound tokens (answering
// the server's use_dpop_nonce with the nonce it sent, as RFC 9449 §8 and the library expect)
// and uses them on a protected resource; jose verifies the token against the tenant's JWKS and
// builds a proof of its own, which novad accepts, and a proof of another key, which it refuses.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import * as jose from 'jose';
import { startNova, makeTenant } from '../integration/lib.mjs';

let nova, app, as, jwks, ISS;

before(async () => {
  nova = await startNova();
  app = makeTenant(nova, 'interop-dpop-' + randomUUID().slice(0, 8), 'clients:read');
  ISS = `${nova.base}/tenants/${app.tenant}`;
  const issuer = new URL(ISS);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2' }));
  jwks = jose.createRemoteJWKSet(new URL(as.jwks_uri));
});
after(async () => { await nova.stop(); });

const client = () => ({ client_id: app.id, client_secret: app.secret, token_endpoint_auth_method: 'client_secret_basic' });

// One grant with the library's DPoP handling; the first answer asks for a nonce.
async function dpopGrant(DPoP) {
  const c = client();
  for (let attempt = 0; attempt < 2; attempt++) {
    const res = await oauth.clientCredentialsGrantRequest(as, c, new URLSearchParams(), { DPoP });
    const r = await oauth.processClientCredentialsResponse(as, c, res);
    if (oauth.isOAuth2Error(r) && r.error === 'use_dpop_nonce') continue; // the library kept the nonce
    return r;
  }
  throw new Error('no token after the nonce retry');
}

test('metadata advertises DPoP', () => {
  assert.deepEqual([...as.dpop_signing_alg_values_supported].sort(), ['ES256', 'EdDSA']);
  assert.ok(as.grant_types_supported.includes('refresh_token'));
});

for (const alg of ['ES256', 'EdDSA']) {
  test(`oauth4webapi: a DPoP-bound token (${alg}) for a protected resource`, async () => {
    const DPoP = await oauth.generateKeyPair(alg);
    const r = await dpopGrant(DPoP);
    assert.ok(!oauth.isOAuth2Error(r), JSON.stringify(r));
    assert.equal(r.token_type, 'dpop');
    // jose: the token verifies against the tenant's keys and names the proof key.
    const { payload } = await jose.jwtVerify(r.access_token, jwks, { issuer: ISS, audience: 'nova-api', typ: 'at+jwt' });
    const jwk = await jose.exportJWK(DPoP.publicKey);
    assert.equal(payload.cnf.jkt, await jose.calculateJwkThumbprint(jwk, 'sha256'));
    // The library's protected-resource request sends the token with a fresh proof (ath).
    const res = await oauth.protectedResourceRequest(r.access_token, 'GET', new URL(nova.base + '/v1/me'), new Headers(), null, { DPoP });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await res.json()).client_id, app.id);
    // Without the proof it is worthless.
    const bare = await fetch(nova.base + '/v1/me', { headers: { authorization: 'Bearer ' + r.access_token } });
    assert.equal(bare.status, 401);
  });
}

test('jose builds a proof novad accepts; a proof of another key is refused', async () => {
  const DPoP = await oauth.generateKeyPair('ES256');
  const r = await dpopGrant(DPoP);
  const url = nova.base + '/v1/me';
  const ath = createHash('sha256').update(r.access_token).digest('base64url');
  const proofWith = async (keys) => new jose.SignJWT({ htm: 'GET', htu: url, ath, jti: randomUUID() })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: await jose.exportJWK(keys.publicKey) })
    .setIssuedAt()
    .sign(keys.privateKey);
  const call = async (proof) => (await fetch(url, { headers: { authorization: 'DPoP ' + r.access_token, dpop: proof } })).status;
  assert.equal(await call(await proofWith(DPoP)), 200);
  assert.equal(await call(await proofWith(await oauth.generateKeyPair('ES256'))), 401);
});
