// Interop: the real novad driven by OAuth and JOSE clients that were not written here.
//   oauth4webapi: RFC 8414 discovery of the tenant's issuer, client credentials
//                 (client_secret_basic and _post), RFC 7662 introspection, RFC 7009 revocation.
//   jose:         the access token checked against the tenant's JWKS, found through its
//                 metadata (RFC 9068 profile).
// Each tenant is an issuer of its own ({base}/tenants/{id}); clients discover it from there.
// Versions are pinned in package.json to majors that still run on Node 18 (see there).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import * as jose from 'jose';
import { startNova, makeTenant } from '../integration/lib.mjs';

const AUDIENCE = 'nova-api';
let nova, app, other, as, jwks, ISS;

before(async () => {
  nova = await startNova();
  app = makeTenant(nova, 'interop', 'clients:read clients:write');
  other = makeTenant(nova, 'interop-other', 'clients:read');
  ISS = `${nova.base}/tenants/${app.tenant}`;
  const issuer = new URL(ISS);
  // oauth4webapi 2.x accepts http: issuers as they are; 3.x would need allowInsecureRequests.
  // algorithm oauth2: RFC 8414 §3.1, /.well-known/oauth-authorization-server/tenants/{id}.
  const res = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2' });
  as = await oauth.processDiscoveryResponse(issuer, res);
  jwks = jose.createRemoteJWKSet(new URL(as.jwks_uri));
});
after(async () => { await nova.stop(); });

function client(method) {
  return { client_id: app.id, client_secret: app.secret, token_endpoint_auth_method: method };
}

async function grant(method, params = {}) {
  const c = client(method);
  const res = await oauth.clientCredentialsGrantRequest(as, c, new URLSearchParams(params));
  const r = await oauth.processClientCredentialsResponse(as, c, res);
  assert.ok(!oauth.isOAuth2Error(r), 'token error: ' + JSON.stringify(r));
  return r;
}

async function verify(tok) {
  return jose.jwtVerify(tok, jwks, { issuer: ISS, audience: AUDIENCE, typ: 'at+jwt' });
}

async function me(tok) {
  const r = await fetch(nova.base + '/v1/me', { headers: { authorization: 'Bearer ' + tok } });
  return { status: r.status, json: await r.json().catch(() => null) };
}

function checkClaims(payload, header, scope) {
  assert.equal(header.typ, 'at+jwt');
  assert.ok(['EdDSA', 'ES256'].includes(header.alg), header.alg);
  assert.ok(header.kid, 'kid');
  assert.equal(payload.iss, ISS);
  assert.equal(payload.sub, app.id);
  assert.equal(payload.tid, app.tenant);
  assert.ok(typeof payload.jti === 'string' && payload.jti.length >= 16, 'jti');
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  assert.ok(aud.includes(AUDIENCE), 'aud');
  const now = Math.floor(Date.now() / 1000);
  assert.ok(Number.isInteger(payload.iat) && Math.abs(payload.iat - now) < 60, 'iat');
  assert.ok(Number.isInteger(payload.exp) && payload.exp > now && payload.exp > payload.iat, 'exp');
  assert.equal(payload.scope, scope);
}

test("discovery: the tenant's RFC 8414 metadata as oauth4webapi reads it", async () => {
  assert.equal(as.issuer, ISS);
  assert.equal(as.token_endpoint, nova.base + '/oauth/token');
  assert.equal(as.jwks_uri, ISS + '/.well-known/jwks.json');
  assert.ok(as.introspection_endpoint && as.revocation_endpoint);
  for (const m of ['client_secret_basic', 'client_secret_post'])
    assert.ok(as.token_endpoint_auth_methods_supported.includes(m), m);
  // The same document under the issuer (where OpenID-style clients append the well-known
  // segment); oauth4webapi checks the issuer matches there too.
  const under = await fetch(ISS + '/.well-known/oauth-authorization-server');
  assert.deepEqual(await oauth.processDiscoveryResponse(new URL(ISS), under), as);
  // Another tenant's issuer is not accepted for this document, nor an unknown tenant's.
  const wrong = await oauth.discoveryRequest(new URL(`${nova.base}/tenants/${other.tenant}`), { algorithm: 'oauth2' });
  await assert.rejects(oauth.processDiscoveryResponse(issuerOf(app.tenant), wrong));
  const unknown = await oauth.discoveryRequest(issuerOf('ten_AAAAAAAAAAAAAAAAAAAAAA'), { algorithm: 'oauth2' });
  assert.equal(unknown.status, 404);
});

function issuerOf(tenant) { return new URL(`${nova.base}/tenants/${tenant}`); }

for (const method of ['client_secret_basic', 'client_secret_post']) {
  test(`${method}: token verifies with jose against the JWKS and opens /v1/me`, async () => {
    const r = await grant(method);
    assert.equal(r.token_type, 'bearer'); // oauth4webapi lower-cases it
    assert.ok(r.expires_in > 0);
    assert.equal(r.scope, 'clients:read clients:write');
    const { payload, protectedHeader } = await verify(r.access_token);
    checkClaims(payload, protectedHeader, 'clients:read clients:write');
    const m = await me(r.access_token);
    assert.equal(m.status, 200, JSON.stringify(m.json));
    assert.equal(m.json.client_id, app.id);
    assert.equal(m.json.tenant.id, app.tenant);
    assert.equal(m.json.token_expires_at, payload.exp);
  });
}

test('a down-scoped token carries only the scope asked for', async () => {
  const r = await grant('client_secret_basic', { scope: 'clients:read' });
  const { payload, protectedHeader } = await verify(r.access_token);
  checkClaims(payload, protectedHeader, 'clients:read');
  const c = client('client_secret_basic');
  const bad = await oauth.processClientCredentialsResponse(as, c,
    await oauth.clientCredentialsGrantRequest(as, c, new URLSearchParams({ scope: 'platform:admin' })));
  assert.ok(oauth.isOAuth2Error(bad));
  assert.equal(bad.error, 'invalid_scope');
});

test('wrong secret: invalid_client for both methods', async () => {
  for (const method of ['client_secret_basic', 'client_secret_post']) {
    const c = { ...client(method), client_secret: app.secret.slice(0, -2) + 'xx' };
    const res = await oauth.clientCredentialsGrantRequest(as, c, new URLSearchParams());
    const r = await oauth.processClientCredentialsResponse(as, c, res).catch((e) => e);
    assert.ok(oauth.isOAuth2Error(r), method + ': ' + r);
    assert.equal(r.error, 'invalid_client');
  }
});

test('introspection (RFC 7662), then revocation (RFC 7009) makes /v1/me answer 401', async () => {
  for (const method of ['client_secret_basic', 'client_secret_post']) {
    const c = client(method);
    const { access_token: tok } = await grant(method);
    const { payload } = await verify(tok);

    let r = await oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, tok));
    assert.ok(!oauth.isOAuth2Error(r), JSON.stringify(r));
    assert.equal(r.active, true);
    assert.equal(r.client_id, app.id);
    assert.equal(r.sub, app.id);
    assert.equal(r.jti, payload.jti);
    assert.equal(r.exp, payload.exp);
    assert.equal(r.iss, ISS);
    assert.equal(r.scope, 'clients:read clients:write');

    const rv = await oauth.processRevocationResponse(await oauth.revocationRequest(as, c, tok));
    assert.equal(rv, undefined, JSON.stringify(rv));

    r = await oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, tok));
    assert.ok(!oauth.isOAuth2Error(r), JSON.stringify(r));
    assert.equal(r.active, false);
    assert.deepEqual(Object.keys(r), ['active'], 'an inactive token reveals nothing else');
    assert.equal((await me(tok)).status, 401);

    // Revoking again, or revoking garbage, is still 200 (RFC 7009 §2.2).
    assert.equal(await oauth.processRevocationResponse(await oauth.revocationRequest(as, c, tok)), undefined);
    assert.equal(await oauth.processRevocationResponse(await oauth.revocationRequest(as, c, 'not-a-token')), undefined);
  }
});

function b64(obj) { return Buffer.from(JSON.stringify(obj)).toString('base64url'); }

test('jose (and novad) reject a tampered token', async () => {
  const { access_token: tok } = await grant('client_secret_basic');
  const [h, p, s] = tok.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  const forged = [
    // Payload changed, signature kept.
    [h, b64({ ...claims, scope: 'platform:admin' }), s].join('.'),
    [h, b64({ ...claims, tid: 'ten_someone_else' }), s].join('.'),
    // Signature bits flipped.
    [h, p, Buffer.from(Buffer.from(s, 'base64url').map((x, i) => (i === 5 ? x ^ 1 : x))).toString('base64url')].join('.'),
    // Signature dropped.
    [h, p, ''].join('.'),
  ];
  for (const f of forged) {
    await assert.rejects(verify(f), (e) => e instanceof jose.errors.JOSEError, f);
    assert.equal((await me(f)).status, 401, f);
  }
  assert.equal((await me(tok)).status, 200, 'the original still works');
});

test('jose (and novad) reject an alg "none" token', async () => {
  const { access_token: tok } = await grant('client_secret_basic');
  const [h, p] = tok.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString());
  for (const alg of ['none', 'None', 'NONE']) {
    const unsigned = [b64({ ...header, alg }), p, ''].join('.');
    await assert.rejects(verify(unsigned), (e) => e instanceof jose.errors.JOSEError, alg);
    assert.equal((await me(unsigned)).status, 401, alg);
  }
  // jose's own unsecured JWT of the same claims: still not accepted anywhere.
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  const unsecured = new jose.UnsecuredJWT(claims).encode();
  await assert.rejects(verify(unsecured), (e) => e instanceof jose.errors.JOSEError);
  assert.equal((await me(unsecured)).status, 401);
});

test('jose rejects the token for another audience or issuer', async () => {
  const { access_token: tok } = await grant('client_secret_basic');
  await assert.rejects(jose.jwtVerify(tok, jwks, { issuer: ISS, audience: 'other-api' }),
    (e) => e.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED');
  // The deployment is not the issuer; another tenant is not either.
  await assert.rejects(jose.jwtVerify(tok, jwks, { issuer: nova.base, audience: AUDIENCE }),
    (e) => e.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED');
  await assert.rejects(jose.jwtVerify(tok, jwks, { issuer: issuerOf(other.tenant).href, audience: AUDIENCE }),
    (e) => e.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED');
  await assert.rejects(jose.jwtVerify(tok, jwks, { issuer: 'http://evil.example', audience: AUDIENCE }),
    (e) => e.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED');
});

test("another tenant's JWKS (found through its own metadata) does not verify this tenant's token", async () => {
  const { access_token: tok } = await grant('client_secret_basic');
  const issuer = issuerOf(other.tenant);
  const md = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2' }));
  const otherJwks = jose.createRemoteJWKSet(new URL(md.jwks_uri));
  await assert.rejects(jose.jwtVerify(tok, otherJwks, { issuer: ISS, audience: AUDIENCE }),
    (e) => e.code === 'ERR_JWKS_NO_MATCHING_KEY');
  // And the combined set is not published by default.
  assert.equal((await fetch(nova.base + '/.well-known/jwks.json')).status, 404);
});
