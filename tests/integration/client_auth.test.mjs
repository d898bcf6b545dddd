// Client authentication beyond secrets (issue 6 item 4): private_key_jwt (RFC 7523) with the
// client's JWK Set registered on the client, and mutual TLS (RFC 8705): tls_client_auth with a
// certificate from the client CA and a registered subject, self_signed_tls_client_auth with a
// registered certificate; such clients get certificate-bound tokens (cnf.x5t#S256) that only
// work over a connection with that certificate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomUUID, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNova, makeTenant, token, call } from './lib.mjs';

const b64u = (b) => Buffer.from(b).toString('base64url');
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

function assertionFor(clientId, aud, { key, kid = 'k1', exp, jti } = {}) {
  const h = { alg: 'ES256', kid, typ: 'JWT' };
  const now = Math.floor(Date.now() / 1000);
  const p = { iss: clientId, sub: clientId, aud, jti: jti || randomUUID(), iat: now, exp: exp ?? now + 60 };
  const input = b64u(JSON.stringify(h)) + '.' + b64u(JSON.stringify(p));
  return input + '.' + b64u(sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }));
}

const grant = (nova, assertion, extra = {}) => fetch(nova.base + '/oauth/token', {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion, ...extra,
  }),
}).then(async (r) => ({ status: r.status, json: await r.json() }));

test('private_key_jwt: the client proves itself with a key it registered', async () => {
  const nova = await startNova();
  try {
    const admin = makeTenant(nova, 'pkjwt-' + randomUUID().slice(0, 8), 'clients:read clients:write');
    const tok = await token(nova, admin);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig', alg: 'ES256' };
    const made = await call(nova, 'POST', '/v1/clients', { tok, body: {
      name: 'signer', scopes: ['clients:read'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] },
    } });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.json.client_secret, undefined, 'no secret for a key-authenticated client');
    assert.equal(made.json.token_endpoint_auth_method, 'private_key_jwt');
    const id = made.json.client_id;
    const endpoint = nova.base + '/oauth/token';
    const issuer = `${nova.base}/tenants/${admin.tenant}`;

    // The audience may be the token endpoint, the issuer, or both (as oauth4webapi sends it).
    for (const aud of [endpoint, issuer, [issuer, endpoint], nova.base]) {
      const r = await grant(nova, assertionFor(id, aud, { key: privateKey }));
      assert.equal(r.status, 200, JSON.stringify(aud) + ' ' + JSON.stringify(r.json));
      assert.equal(claimsOf(r.json.access_token).client_id, id);
    }
    const once = assertionFor(id, endpoint, { key: privateKey });
    assert.equal((await grant(nova, once)).status, 200);
    const replay = await grant(nova, once);
    assert.equal(replay.status, 401);
    assert.match(replay.json.error_description, /replayed/);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const now = Math.floor(Date.now() / 1000);
    for (const [name, a] of Object.entries({
      'another key': assertionFor(id, endpoint, { key: other }),
      'unknown kid': assertionFor(id, endpoint, { key: privateKey, kid: 'k2' }),
      'other audience': assertionFor(id, 'https://elsewhere.example/token', { key: privateKey }),
      expired: assertionFor(id, endpoint, { key: privateKey, exp: now - 5 }),
      'too long': assertionFor(id, endpoint, { key: privateKey, exp: now + 3600 }),
      'another client': assertionFor(admin.id, endpoint, { key: privateKey }),
    })) {
      const r = await grant(nova, a);
      assert.equal(r.status, 401, name);
      assert.equal(r.json.error, 'invalid_client', name);
    }
    // client_id in the form must agree; the method's parameters must be right.
    assert.equal((await grant(nova, assertionFor(id, endpoint, { key: privateKey }), { client_id: admin.id })).status, 401);
    const badType = await grant(nova, assertionFor(id, endpoint, { key: privateKey }), { client_assertion_type: 'saml' });
    assert.equal(badType.status, 400);
    // No secret opens this client.
    const basic = await fetch(endpoint, {
      method: 'POST',
      headers: { authorization: 'Basic ' + Buffer.from(`${id}:anything`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    assert.equal(basic.status, 401);
    // Registration is validated.
    const bodies = [
      { token_endpoint_auth_method: 'private_key_jwt' },
      { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [] } },
      { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'p' }] } },
      { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk, jwk] } },
      // RSA public keys verify IdPs' ID tokens only: client assertions are EdDSA or ES256
      { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }), kid: 'r', alg: 'RS256', use: 'sig' }] } },
      { token_endpoint_auth_method: 'client_secret_basic', jwks: { keys: [jwk] } },
      { token_endpoint_auth_method: 'tls_client_auth' },
      { token_endpoint_auth_method: 'none' },
    ];
    for (const b of bodies) {
      const r = await call(nova, 'POST', '/v1/clients', { tok, body: { name: 'x', scopes: ['clients:read'], ...b } });
      assert.equal(r.status, 422, JSON.stringify(b) + ' ' + r.text);
    }
  } finally {
    await nova.stop();
  }
});

function openssl(args) {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

// A server certificate, a client CA with one client certificate, and a self-signed client
// certificate (not from the CA).
function pki(dir) {
  const f = (n) => join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', f('srv.key'), '-out', f('srv.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  openssl(['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=Nova Test Client CA']);
  openssl(['req', ...ec, '-keyout', f('m1.key'), '-out', f('m1.csr'), '-subj', '/O=Acme/CN=machine-1']);
  openssl(['x509', '-req', '-in', f('m1.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('m1.pem'), '-days', '1']);
  openssl(['req', '-x509', ...ec, '-keyout', f('self.key'), '-out', f('self.pem'), '-days', '1', '-subj', '/CN=self-signed-machine']);
  const cert = (n) => ({ cert: readFileSync(f(n + '.pem')), key: readFileSync(f(n + '.key')) });
  return { f, srvCa: readFileSync(f('srv.pem')), m1: cert('m1'), self: cert('self') };
}

function tlsCall(nova, pk, { method = 'GET', path, headers = {}, body, client } = {}) {
  return new Promise((ok, fail) => {
    const req = https.request({ host: '127.0.0.1', port: nova.port, method, path, headers, ca: pk.srvCa, ...(client || {}) }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => { let json = null; try { json = JSON.parse(text); } catch { /* none */ } ok({ status: res.statusCode, json, text }); });
    });
    req.on('error', fail);
    if (body) req.write(body);
    req.end();
  });
}

const thumb = (pem) => createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');

test('mutual TLS: tls_client_auth and self_signed_tls_client_auth, with certificate-bound tokens', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nova-mtls-'));
  const pk = pki(dir);
  const nova = await startNova({ NOVA_TLS_CERT: pk.f('srv.pem'), NOVA_TLS_KEY: pk.f('srv.key'), NOVA_TLS_CLIENT_CA: pk.f('ca.pem') });
  try {
    const admin = makeTenant(nova, 'mtls-' + randomUUID().slice(0, 8), 'clients:read clients:write');
    const basic = 'Basic ' + Buffer.from(`${admin.id}:${admin.secret}`).toString('base64');
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const t = await tlsCall(nova, pk, { method: 'POST', path: '/oauth/token', headers: { ...form, authorization: basic }, body: 'grant_type=client_credentials' });
    assert.equal(t.status, 200, t.text);
    const tok = t.json.access_token;
    const make = (body) => tlsCall(nova, pk, { method: 'POST', path: '/v1/clients', headers: { authorization: 'Bearer ' + tok, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'machine', scopes: ['clients:read'], ...body }) });

    const dn = openssl(['x509', '-in', pk.f('m1.pem'), '-noout', '-subject', '-nameopt', 'RFC2253']).trim().replace(/^subject=/, '');
    const pkiClient = await make({ token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: dn });
    assert.equal(pkiClient.status, 201, pkiClient.text);
    const der = new X509Certificate(pk.self.cert).raw.toString('base64');
    const selfClient = await make({ token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [{ x5c: [der] }] } });
    assert.equal(selfClient.status, 201, selfClient.text);

    const grantOver = (id, client) => tlsCall(nova, pk, { method: 'POST', path: '/oauth/token', headers: form, body: `grant_type=client_credentials&client_id=${id}`, client });
    const me = (access, client) => tlsCall(nova, pk, { path: '/v1/me', headers: { authorization: 'Bearer ' + access }, client });

    // tls_client_auth: the CA's certificate with the registered subject.
    const g1 = await grantOver(pkiClient.json.client_id, pk.m1);
    assert.equal(g1.status, 200, g1.text);
    assert.equal(claimsOf(g1.json.access_token).cnf['x5t#S256'], thumb(pk.m1.cert));
    assert.equal((await me(g1.json.access_token, pk.m1)).status, 200);
    // The bound token over a connection with another certificate, or none: refused.
    assert.equal((await me(g1.json.access_token, pk.self)).status, 401);
    assert.equal((await me(g1.json.access_token)).status, 401);
    // The self-signed certificate is not from the CA: not good for tls_client_auth.
    assert.equal((await grantOver(pkiClient.json.client_id, pk.self)).status, 401);
    // No certificate at all.
    assert.equal((await grantOver(pkiClient.json.client_id)).status, 401);

    // self_signed_tls_client_auth: exactly the registered certificate.
    const g2 = await grantOver(selfClient.json.client_id, pk.self);
    assert.equal(g2.status, 200, g2.text);
    assert.equal(claimsOf(g2.json.access_token).cnf['x5t#S256'], thumb(pk.self.cert));
    assert.equal((await me(g2.json.access_token, pk.self)).status, 200);
    assert.equal((await me(g2.json.access_token, pk.m1)).status, 401);
    assert.equal((await grantOver(selfClient.json.client_id, pk.m1)).status, 401);

    // Another client's certificate does not open a secret client, and a wrong DN is refused.
    const wrongDn = await make({ token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=machine-2,O=Acme' });
    assert.equal((await grantOver(wrongDn.json.client_id, pk.m1)).status, 401);
    assert.equal((await grantOver(admin.id, pk.m1)).status, 401);
    // The metadata says so.
    const md = await tlsCall(nova, pk, { path: '/.well-known/oauth-authorization-server' });
    assert.equal(md.json.tls_client_certificate_bound_access_tokens, true);
    for (const m of ['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'])
      assert.ok(md.json.token_endpoint_auth_methods_supported.includes(m), m);
  } finally {
    await nova.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
