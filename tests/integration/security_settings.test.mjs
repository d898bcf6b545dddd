// Tenant security settings (seed 003 §14, §15.1): GET/PUT /v1/tenants/{id}/security,
// validated (422 naming the field), audited, scoped (own tenant with security:read/write, any
// with platform:admin), and each one enforced where it applies: allowed_ip_ranges on every
// authenticated request and grant (403 ip_not_allowed), resident_regions against NOVA_REGION
// (421 region_not_resident), require_dpop and require_mtls_for_m2m at the token endpoint,
// session_timeout_minutes on SDK sessions. A change on one novad reaches another sharing
// Redis within 1 s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomUUID, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, startNova, makeTenant, token, call } from './lib.mjs';

let nova, admin, adminTok;
const uniq = () => randomUUID().slice(0, 8);
const path = (t) => `/v1/tenants/${t}/security`;

before(async () => {
  nova = await startNova();
  admin = makeTenant(nova, 'sec-platform-' + uniq(), 'platform:admin');
  adminTok = await token(nova, admin);
});
after(async () => { await nova.stop(); });

// A fresh tenant whose client holds the security scopes (and sdk:sessions).
async function tenant(scopes = 'security:read security:write sdk:sessions') {
  const t = makeTenant(nova, 'sec-' + uniq(), scopes);
  return { ...t, tok: await token(nova, t) };
}

async function tokenReply(n, client, headers = {}, body = {}) {
  const r = await fetch(n.base + '/oauth/token', {
    method: 'POST',
    headers: {
      authorization: 'Basic ' + Buffer.from(`${client.id}:${client.secret}`).toString('base64'),
      'content-type': 'application/x-www-form-urlencoded',
      ...headers,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...body }),
  });
  return { status: r.status, headers: r.headers, json: await r.json() };
}

test('GET gives the defaults, PUT replaces them and bumps the version', async () => {
  const t = await tenant();
  let r = await call(nova, 'GET', path(t.tenant), { tok: t.tok });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, {
    tenant_id: t.tenant, version: 0, mfa_required_for_all_users: false, session_timeout_minutes: 1440,
    allowed_ip_ranges: [], resident_regions: [], require_dpop: false, require_mtls_for_m2m: false,
  });
  const want = { mfa_required_for_all_users: true, session_timeout_minutes: 30, allowed_ip_ranges: ['127.0.0.0/8', '::1/128', '2001:db8::/32'] };
  r = await call(nova, 'PUT', path(t.tenant), { tok: t.tok, body: want });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.version, 1);
  r = await call(nova, 'GET', path(t.tenant), { tok: t.tok });
  assert.equal(r.json.version, 1);
  assert.equal(r.json.mfa_required_for_all_users, true);
  assert.equal(r.json.session_timeout_minutes, 30);
  assert.deepEqual(r.json.allowed_ip_ranges, want.allowed_ip_ranges);
  // A PUT is a replacement: what it leaves out goes back to its default.
  r = await call(nova, 'PUT', path(t.tenant), { tok: t.tok, body: { require_dpop: false } });
  assert.equal(r.json.version, 2);
  assert.equal(r.json.mfa_required_for_all_users, false);
  assert.deepEqual(r.json.allowed_ip_ranges, []);
});

test('bad settings are 422 naming the field; unknown members and bodies are refused', async () => {
  const t = await tenant();
  const bad = {
    mfa_required_for_all_users: [1, 'yes', null],
    session_timeout_minutes: [4, 1441, 30.5, '30', -1, null],
    allowed_ip_ranges: ['10.0.0.0/8', ['10.0.0.1/8'], ['10.0.0.0/33'], ['nope'], [42], ['10.0.0.0/8', '10.0.0.0/8'],
      ['2001:db8::/129'], Array.from({ length: 33 }, (_, i) => `10.${i}.0.0/16`), [' 10.0.0.0/8']],
    resident_regions: ['KE', ['ke'], ['K'], ['TOOLONGCODE'], ['*'], ['KE', 'KE'], [7]],
    require_dpop: ['true', 0],
    require_mtls_for_m2m: [1],
  };
  for (const [field, values] of Object.entries(bad)) {
    for (const v of values) {
      const r = await call(nova, 'PUT', path(t.tenant), { tok: t.tok, body: { [field]: v } });
      assert.equal(r.status, 422, `${field}=${JSON.stringify(v)}: ${r.text}`);
      assert.match(r.json.type, /invalid_field$/);
      assert.ok(r.json.detail.startsWith(field + ':'), `${field}: ${r.json.detail}`);
    }
  }
  let r = await call(nova, 'PUT', path(t.tenant), { tok: t.tok, body: { mfa: true } });
  assert.equal(r.status, 400, r.text);
  r = await call(nova, 'PUT', path(t.tenant), { tok: t.tok, raw: '{"require_dpop": true', headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 400, r.text);
  r = await call(nova, 'PUT', path(t.tenant), { tok: t.tok, raw: '{}', headers: { 'content-type': 'text/plain' } });
  assert.equal(r.status, 415, r.text);
  // Nothing was stored.
  assert.equal((await call(nova, 'GET', path(t.tenant), { tok: t.tok })).json.version, 0);
});

test('own tenant with security:read/write, any tenant with platform:admin', async () => {
  const t = await tenant();
  const ro = await tenant('security:read');
  const none = await tenant('clients:read');
  assert.equal((await call(nova, 'GET', path(ro.tenant), { tok: ro.tok })).status, 200);
  assert.equal((await call(nova, 'PUT', path(ro.tenant), { tok: ro.tok, body: {} })).status, 403);
  assert.equal((await call(nova, 'GET', path(none.tenant), { tok: none.tok })).status, 403);
  // Another tenant's settings: not with the tenant scopes.
  assert.equal((await call(nova, 'GET', path(ro.tenant), { tok: t.tok })).status, 403);
  assert.equal((await call(nova, 'PUT', path(ro.tenant), { tok: t.tok, body: {} })).status, 403);
  assert.equal((await call(nova, 'GET', path(t.tenant))).status, 401);
  // The platform admin: any tenant, 404 for none.
  let r = await call(nova, 'PUT', path(ro.tenant), { tok: adminTok, body: { session_timeout_minutes: 60 } });
  assert.equal(r.status, 200, r.text);
  r = await call(nova, 'GET', path(ro.tenant), { tok: adminTok });
  assert.equal(r.json.session_timeout_minutes, 60);
  assert.equal((await call(nova, 'GET', path('ten_nosuchtenant'), { tok: adminTok })).status, 404);
  assert.equal((await call(nova, 'PUT', path('ten_nosuchtenant'), { tok: adminTok, body: {} })).status, 404);
});

test('allowed_ip_ranges: requests and grants from elsewhere are 403 ip_not_allowed', async () => {
  const t = await tenant();
  // A tenant cannot shut itself out ...
  let r = await call(nova, 'PUT', path(t.tenant), { tok: t.tok, body: { allowed_ip_ranges: ['10.0.0.0/8'] } });
  assert.equal(r.status, 422, r.text);
  assert.match(r.json.detail, /^allowed_ip_ranges: /);
  // ... but may pin itself to where it is.
  r = await call(nova, 'PUT', path(t.tenant), { tok: t.tok, body: { allowed_ip_ranges: ['127.0.0.0/8', '::1/128'] } });
  assert.equal(r.status, 200, r.text);
  assert.equal((await call(nova, 'GET', '/v1/me', { tok: t.tok })).status, 200);
  // The platform admin moves it elsewhere: every request and grant of the tenant is refused.
  r = await call(nova, 'PUT', path(t.tenant), { tok: adminTok, body: { allowed_ip_ranges: ['10.0.0.0/8', '2001:db8::/32'] } });
  assert.equal(r.status, 200, r.text);
  r = await call(nova, 'GET', '/v1/me', { tok: t.tok });
  assert.equal(r.status, 403, r.text);
  assert.match(r.json.type, /ip_not_allowed/);
  r = await tokenReply(nova, t);
  assert.equal(r.status, 403, JSON.stringify(r.json));
  assert.match(r.json.type, /ip_not_allowed/);
  // Other tenants are not affected.
  assert.equal((await call(nova, 'GET', '/v1/me', { tok: adminTok })).status, 200);
  // Back to any address.
  r = await call(nova, 'PUT', path(t.tenant), { tok: adminTok, body: { allowed_ip_ranges: [] } });
  assert.equal(r.status, 200, r.text);
  assert.equal((await call(nova, 'GET', '/v1/me', { tok: t.tok })).status, 200);
});

test('resident_regions: a novad outside them refuses the tenant (421 region_not_resident)', async () => {
  // Three novads on one store with one issuer, so a token of one is good on the others: this
  // one without NOVA_REGION, one in KE, one in NG.
  const issuer = 'https://nova-regions.test';
  const home = await startNova({ NOVA_ISSUER: issuer });
  const ke = await startNova({ NOVA_ISSUER: issuer, NOVA_REGION: 'KE' }, { shareWith: home });
  const ng = await startNova({ NOVA_ISSUER: issuer, NOVA_REGION: 'NG' }, { shareWith: home });
  try {
    const op = makeTenant(home, 'sec-regions-platform', 'platform:admin');
    const opTok = await token(home, op);
    const t = makeTenant(home, 'sec-regions-' + uniq(), 'security:read security:write');
    const tok = await token(home, t);
    // No NOVA_REGION here: the tenant may not make this novad refuse its own requests.
    let r = await call(home, 'PUT', path(t.tenant), { tok, body: { resident_regions: ['KE'] } });
    assert.equal(r.status, 422, r.text);
    assert.match(r.json.detail, /^resident_regions: /);
    r = await call(home, 'PUT', path(t.tenant), { tok: opTok, body: { resident_regions: ['KE', 'UG'] } });
    assert.equal(r.status, 200, r.text);
    r = await call(home, 'GET', '/v1/me', { tok });
    assert.equal(r.status, 421, r.text);
    assert.match(r.json.type, /region_not_resident$/);
    assert.match(r.json.detail, /NOVA_REGION/);
    // KE serves it, tokens too.
    assert.equal((await call(ke, 'GET', '/v1/me', { tok })).status, 200);
    const keTok = await token(ke, t);
    assert.equal((await call(ke, 'GET', path(t.tenant), { tok: keTok })).status, 200);
    // NG refuses its requests and its grants, and serves other tenants.
    r = await call(ng, 'GET', '/v1/me', { tok: keTok });
    assert.equal(r.status, 421, r.text);
    assert.match(r.json.type, /region_not_resident$/);
    r = await tokenReply(ng, t);
    assert.equal(r.status, 421, JSON.stringify(r.json));
    assert.equal((await call(ng, 'GET', '/v1/me', { tok: opTok })).status, 200);
    // In KE the tenant may narrow its regions to KE, not to NG alone.
    r = await call(ke, 'PUT', path(t.tenant), { tok: keTok, body: { resident_regions: ['NG'] } });
    assert.equal(r.status, 422, r.text);
    r = await call(ke, 'PUT', path(t.tenant), { tok: keTok, body: { resident_regions: ['KE'] } });
    assert.equal(r.status, 200, r.text);
  } finally {
    await ng.stop();
    await ke.stop();
    await home.stop();
  }
  const bad = spawnSync(BIN, ['serve'], { env: { ...nova.env, NOVA_REGION: 'ke' }, encoding: 'utf8', timeout: 10000 });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /NOVA_REGION/);
});

const b64u = (b) => Buffer.from(b).toString('base64url');
function dpopProof(htu, nonce) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const h = { typ: 'dpop+jwt', alg: 'ES256', jwk: publicKey.export({ format: 'jwk' }) };
  const p = { jti: randomUUID(), htm: 'POST', htu, iat: Math.floor(Date.now() / 1000), ...(nonce ? { nonce } : {}) };
  const input = b64u(JSON.stringify(h)) + '.' + b64u(JSON.stringify(p));
  return input + '.' + b64u(sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }));
}

// A grant with a DPoP proof, answering the server's nonce request if it makes one.
async function dpopGrant(n, send) {
  const url = n.base + '/oauth/token';
  let r = await send({ dpop: dpopProof(url) });
  if (r.status === 400 && r.json.error === 'use_dpop_nonce')
    r = await send({ dpop: dpopProof(url, r.headers.get('dpop-nonce')) });
  return r;
}

async function refresh(n, rt, headers = {}) {
  const r = await fetch(n.base + '/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt }),
  });
  return { status: r.status, headers: r.headers, json: await r.json() };
}

test('require_dpop: grants without a DPoP proof are 400 invalid_dpop_proof', async () => {
  const t = await tenant();
  // An SDK session minted before, to show refresh grants are held to it too.
  let r = await call(nova, 'POST', '/v1/sdk/sessions', { tok: t.tok, body: { subject: 'applicant-1' } });
  assert.equal(r.status, 201, r.text);
  const rt = r.json.refresh_token;
  r = await call(nova, 'PUT', path(t.tenant), { tok: t.tok, body: { require_dpop: true } });
  assert.equal(r.status, 200, r.text);
  r = await tokenReply(nova, t);
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_dpop_proof');
  r = await dpopGrant(nova, (h) => tokenReply(nova, t, h));
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.token_type, 'DPoP');
  r = await refresh(nova, rt);
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_dpop_proof');
  // The refresh token was not spent by the refusal.
  r = await dpopGrant(nova, (h) => refresh(nova, rt, h));
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.token_type, 'DPoP');
  // Other tenants: no proof needed.
  assert.equal((await tokenReply(nova, admin)).status, 200);
});

test('session_timeout_minutes caps the lifetime of SDK sessions', async () => {
  const t = await tenant();
  let r = await call(nova, 'PUT', path(t.tenant), { tok: t.tok, body: { session_timeout_minutes: 5 } });
  assert.equal(r.status, 200, r.text);
  r = await call(nova, 'POST', '/v1/sdk/sessions', { tok: t.tok, body: { subject: 'applicant-2', ttl: 3600 } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.refresh_token_expires_in, 300);
  r = await call(nova, 'POST', '/v1/sdk/sessions', { tok: t.tok, body: { subject: 'applicant-3', ttl: 120 } });
  assert.equal(r.json.refresh_token_expires_in, 120);
});

test('a change is audited in the tenant\'s chain with the new settings', async () => {
  const t = await tenant('security:read security:write audit:read');
  const r = await call(nova, 'PUT', path(t.tenant), { tok: t.tok, body: { require_dpop: true, resident_regions: [] } });
  assert.equal(r.status, 200, r.text);
  const a = await call(nova, 'GET', '/v1/audit?action=tenant_security.update', { tok: t.tok });
  assert.equal(a.status, 200, a.text);
  const e = a.json.entries.at(-1);
  assert.equal(e.target, 'tenant:' + t.tenant);
  assert.equal(e.actor, t.id);
  assert.equal(e.attrs.require_dpop, true);
});

function openssl(args) {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

function tlsCall(n, ca, { method = 'POST', path: p, headers = {}, body, client } = {}) {
  return new Promise((ok, fail) => {
    const req = https.request({ host: '127.0.0.1', port: n.port, method, path: p, headers, ca, ...(client || {}) }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => { let json = null; try { json = JSON.parse(text); } catch { /* none */ } ok({ status: res.statusCode, json, text }); });
    });
    req.on('error', fail);
    if (body) req.write(body);
    req.end();
  });
}

test('require_mtls_for_m2m: client_credentials need a certificate-authenticated client', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nova-sec-mtls-'));
  const f = (x) => join(dir, x);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'];
  openssl(['req', '-x509', ...ec, '-keyout', f('srv.key'), '-out', f('srv.pem'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  openssl(['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-subj', '/CN=Nova Test Client CA']);
  openssl(['req', '-x509', ...ec, '-keyout', f('self.key'), '-out', f('self.pem'), '-subj', '/CN=self-signed-machine']);
  const n = await startNova({ NOVA_TLS_CERT: f('srv.pem'), NOVA_TLS_KEY: f('srv.key'), NOVA_TLS_CLIENT_CA: f('ca.pem') });
  const ca = readFileSync(f('srv.pem'));
  const self = { cert: readFileSync(f('self.pem')), key: readFileSync(f('self.key')) };
  try {
    const t = makeTenant(n, 'sec-mtls-' + uniq(), 'clients:write security:write');
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const basic = { ...form, authorization: 'Basic ' + Buffer.from(`${t.id}:${t.secret}`).toString('base64') };
    const grant = () => tlsCall(n, ca, { path: '/oauth/token', headers: basic, body: 'grant_type=client_credentials' });
    let r = await grant();
    assert.equal(r.status, 200, r.text);
    const auth = { authorization: 'Bearer ' + r.json.access_token, 'content-type': 'application/json' };
    const der = new X509Certificate(self.cert).raw.toString('base64');
    r = await tlsCall(n, ca, { path: '/v1/clients', headers: auth, body: JSON.stringify({ name: 'machine', scopes: ['clients:write'], token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [{ x5c: [der] }] } }) });
    assert.equal(r.status, 201, r.text);
    const machine = r.json.client_id;
    r = await tlsCall(n, ca, { method: 'PUT', path: path(t.tenant), headers: auth, body: JSON.stringify({ require_mtls_for_m2m: true }) });
    assert.equal(r.status, 200, r.text);
    // The secret client: refused.
    r = await grant();
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, 'invalid_client');
    // The certificate client: granted, its token bound to the certificate.
    r = await tlsCall(n, ca, { path: '/oauth/token', headers: form, body: `grant_type=client_credentials&client_id=${machine}`, client: self });
    assert.equal(r.status, 200, r.text);
    const claims = JSON.parse(Buffer.from(r.json.access_token.split('.')[1], 'base64url').toString());
    assert.equal(claims.cnf['x5t#S256'], createHash('sha256').update(new X509Certificate(self.cert).raw).digest('base64url'));
  } finally {
    await n.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a change on one novad is seen by another sharing Redis within 1 s', async (t) => {
  if (!process.env.NOVA_TEST_REDIS_URL) {
    const why = 'needs the shared control plane (NOVA_TEST_REDIS_URL); in-process control planes are private to each novad';
    console.log('# skipped: ' + why);
    t.skip(why);
    return;
  }
  // Two novads on one store and one Redis, with one issuer so a token is good on both.
  const issuer = 'https://nova-shared.test';
  const first = await startNova({ NOVA_ISSUER: issuer });
  const second = await startNova({ NOVA_ISSUER: issuer }, { shareWith: first });
  try {
    const op = makeTenant(first, 'sec-shared-platform-' + uniq(), 'platform:admin');
    const opTok = await token(first, op);
    const ten = makeTenant(first, 'sec-shared-' + uniq(), 'security:read');
    ten.tok = await token(first, ten);
    // The second novad has the tenant's settings cached once it served a request.
    assert.equal((await call(second, 'GET', '/v1/me', { tok: ten.tok })).status, 200);
    const seen = async (want) => {
      const until = Date.now() + 1000; // the bound: poll up to 1 s
      for (;;) {
        const r = await call(second, 'GET', '/v1/me', { tok: ten.tok });
        if (r.status === want) return true;
        if (Date.now() > until) return false;
        await new Promise((ok) => setTimeout(ok, 25));
      }
    };
    let r = await call(first, 'PUT', path(ten.tenant), { tok: opTok, body: { allowed_ip_ranges: ['10.0.0.0/8'] } });
    assert.equal(r.status, 200, r.text);
    assert.equal(await seen(403), true, 'the second novad refuses the tenant within 1 s');
    r = await call(first, 'PUT', path(ten.tenant), { tok: opTok, body: { allowed_ip_ranges: [] } });
    assert.equal(r.status, 200, r.text);
    assert.equal(await seen(200), true, 'and serves it again within 1 s');
  } finally {
    await second.stop();
    await first.stop();
  }
});
