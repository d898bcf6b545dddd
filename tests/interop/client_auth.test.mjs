// Interop for private_key_jwt (RFC 7523): oauth4webapi signs its own client assertion (with its
// audience of [issuer, token endpoint]) for a client whose public key was registered on Nova,
// and jose verifies the token it gets; a second grant with a fresh assertion works, and the
// library's assertion signed by another key is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import * as jose from 'jose';
import { startNova, makeTenant, token, call } from '../integration/lib.mjs';

let nova, admin, as, ISS, keys, client;

before(async () => {
  nova = await startNova();
  admin = makeTenant(nova, 'interop-pkjwt-' + randomUUID().slice(0, 8), 'clients:read clients:write');
  ISS = `${nova.base}/tenants/${admin.tenant}`;
  as = await oauth.processDiscoveryResponse(new URL(ISS), await oauth.discoveryRequest(new URL(ISS), { algorithm: 'oauth2' }));
  keys = await oauth.generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await jose.exportJWK(keys.publicKey)), kid: 'interop-1', alg: 'ES256', use: 'sig' };
  const made = await call(nova, 'POST', '/v1/clients', { tok: await token(nova, admin), body: {
    name: 'pkjwt', scopes: ['clients:read'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] },
  } });
  assert.equal(made.status, 201, made.text);
  client = { client_id: made.json.client_id, token_endpoint_auth_method: 'private_key_jwt' };
});
after(async () => { await nova.stop(); });

test('metadata lists private_key_jwt and its algorithms', () => {
  assert.ok(as.token_endpoint_auth_methods_supported.includes('private_key_jwt'));
  assert.deepEqual([...as.token_endpoint_auth_signing_alg_values_supported].sort(), ['ES256', 'EdDSA']);
});

test('oauth4webapi authenticates with private_key_jwt; jose verifies the token', async () => {
  for (let i = 0; i < 2; i++) {
    const res = await oauth.clientCredentialsGrantRequest(as, client, new URLSearchParams(),
      { clientPrivateKey: { key: keys.privateKey, kid: 'interop-1' } });
    const r = await oauth.processClientCredentialsResponse(as, client, res);
    assert.ok(!oauth.isOAuth2Error(r), JSON.stringify(r));
    const jwks = jose.createRemoteJWKSet(new URL(as.jwks_uri));
    const { payload } = await jose.jwtVerify(r.access_token, jwks, { issuer: ISS, audience: 'nova-api' });
    assert.equal(payload.client_id, client.client_id);
  }
  const other = await oauth.generateKeyPair('ES256');
  const res = await oauth.clientCredentialsGrantRequest(as, client, new URLSearchParams(),
    { clientPrivateKey: { key: other.privateKey, kid: 'interop-1' } });
  const r = await oauth.processClientCredentialsResponse(as, client, res).catch((e) => e);
  assert.ok(oauth.isOAuth2Error(r), String(r));
  assert.equal(r.error, 'invalid_client');
});
