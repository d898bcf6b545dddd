// Continuous access evaluation (issue 11 item 5) against the real novad: a session bound to
// 127.0.0.1 and one User-Agent, then requests from 127.0.0.2 (IP drift; the tenant's location
// table puts the two addresses in Nairobi and Lagos, 3,800 km apart: impossible travel) or with
// another User-Agent, under each tenant setting: revoke, downgrade to AAL1, force a step-up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startNova, makeTenant, token, call } from './lib.mjs';
import { totpCode } from './people_audit.mjs';

let nova, t, tok;
before(async () => {
  nova = await startNova();
  t = makeTenant(nova, 'people-cae', 'users:read users:write audit:read');
  tok = await token(nova, t);
});
after(async () => { await nova.stop(); });

// A request from a chosen loopback source address and User-Agent.
function from(localAddress, method, path, { tok: bearer, body, ua = 'cae-test/1' } = {}) {
  return new Promise((ok, fail) => {
    const u = new URL(nova.base + path);
    const headers = { 'user-agent': ua };
    if (bearer) headers.authorization = 'Bearer ' + bearer;
    const b = body === undefined ? null : JSON.stringify(body);
    if (b) { headers['content-type'] = 'application/json'; headers['content-length'] = Buffer.byteLength(b); }
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, localAddress }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => { let json = null; try { json = JSON.parse(text); } catch { /* none */ } ok({ status: res.statusCode, json, text }); });
    });
    req.on('error', fail);
    if (b) req.write(b);
    req.end();
  });
}

const PW = 'a long enough passphrase';
let n = 0;
async function settings(body) {
  const r = await call(nova, 'PUT', '/v1/people/settings', { tok, body });
  assert.equal(r.status, 200, r.text);
  return r.json;
}
// A user with TOTP signed in at AAL2 from 127.0.0.1.
async function aal2Session() {
  const email = `cae${n++}@example.com`;
  assert.equal((await call(nova, 'POST', '/v1/users', { tok, body: { email, password: PW } })).status, 201);
  const s1 = await from('127.0.0.1', 'POST', '/auth/login', { body: { tenant_id: t.tenant, email, password: PW } });
  const e = await from('127.0.0.1', 'POST', '/auth/totp/enroll', { tok: s1.json.access_token });
  const step = Math.floor(Date.now() / 30000);
  const c = await from('127.0.0.1', 'POST', '/auth/totp/confirm', { tok: s1.json.access_token, body: { code: totpCode(e.json.secret, step) } });
  assert.equal(c.status, 200, c.text);
  const one = await from('127.0.0.1', 'POST', '/auth/login', { body: { tenant_id: t.tenant, email, password: PW } });
  const two = await from('127.0.0.1', 'POST', '/auth/login', { body: { tenant_id: t.tenant, mfa_token: one.json.mfa_token, totp_code: totpCode(e.json.secret, step + 1) } });
  assert.equal(two.status, 200, two.text);
  assert.equal(two.json.aal, 2);
  return { tok: two.json.access_token, codes: c.json.recovery_codes, session: two.json.session_id };
}

test('settings: defaults, validation naming the field, round trip', async () => {
  const g = await call(nova, 'GET', '/v1/people/settings', { tok });
  assert.equal(g.status, 200, g.text);
  assert.deepEqual(g.json, { ip_drift: 'none', device_change: 'none', impossible_travel: 'none', max_speed_kmh: 900, locations: [] });
  for (const [body, field] of [[{ ip_drift: 'maybe' }, 'ip_drift'], [{ max_speed_kmh: 1 }, 'max_speed_kmh'],
    [{ locations: [{ cidr: '10.0.0.1/8', lat: 0, lon: 0 }] }, 'locations[].cidr'], [{ locations: [{ cidr: '10.0.0.0/8', lat: 91, lon: 0 }] }, 'locations[].lat']]) {
    const r = await call(nova, 'PUT', '/v1/people/settings', { tok, body });
    assert.equal(r.status, 422, r.text);
    assert.ok(r.json.detail.startsWith(field), r.json.detail);
  }
});

test('IP drift with revoke ends the session; the original address never gets it back', async () => {
  await settings({ ip_drift: 'revoke' });
  const s = await aal2Session();
  assert.equal((await from('127.0.0.1', 'GET', '/auth/session', { tok: s.tok })).status, 200);
  const drift = await from('127.0.0.2', 'GET', '/auth/session', { tok: s.tok });
  assert.equal(drift.status, 401, drift.text);
  assert.match(drift.json.detail, /address changed/);
  assert.equal((await from('127.0.0.1', 'GET', '/auth/session', { tok: s.tok })).status, 401);
  const list = await call(nova, 'GET', '/v1/sessions?include_revoked=true', { tok });
  assert.equal(list.json.sessions.find((x) => x.id === s.session).revoked_reason, 'cae_ip_drift');
});

test('a device change with downgrade drops the session to AAL1: a protected action then needs step-up', async () => {
  await settings({ device_change: 'downgrade' });
  const s = await aal2Session();
  const before = await from('127.0.0.1', 'GET', '/auth/session', { tok: s.tok });
  assert.equal(before.json.aal, 2);
  const other = await from('127.0.0.1', 'GET', '/auth/session', { tok: s.tok, ua: 'another-browser/9' });
  assert.equal(other.status, 200, other.text);
  assert.equal(other.json.aal, 1);
  // It stays AAL1, from either device, and a protected action asks for the second factor.
  assert.equal((await from('127.0.0.1', 'GET', '/auth/session', { tok: s.tok })).json.aal, 1);
  const denied = await from('127.0.0.1', 'POST', '/auth/recovery-codes', { tok: s.tok, ua: 'another-browser/9' });
  assert.equal(denied.status, 403);
  assert.equal(denied.json.error, 'MFA_REQUIRED');
});

test('impossible travel with step_up: AAL1 until a step-up from the new place, which adopts it', async () => {
  await settings({ impossible_travel: 'step_up', max_speed_kmh: 900, locations: [
    { cidr: '127.0.0.1/32', lat: -1.2921, lon: 36.8219, name: 'Nairobi' },
    { cidr: '127.0.0.2/32', lat: 6.5244, lon: 3.3792, name: 'Lagos' }] });
  const s = await aal2Session();
  assert.equal((await from('127.0.0.1', 'GET', '/auth/session', { tok: s.tok })).json.aal, 2);
  const lagos = await from('127.0.0.2', 'GET', '/auth/session', { tok: s.tok });
  assert.equal(lagos.status, 200, lagos.text);
  assert.equal(lagos.json.aal, 1);
  const denied = await from('127.0.0.2', 'POST', '/auth/recovery-codes', { tok: s.tok });
  assert.equal(denied.status, 403);
  const done = await from('127.0.0.2', 'POST', '/auth/mfa/complete', { tok: s.tok, body: { challenge: denied.json.challenge, method: 'POST', path: '/auth/recovery-codes', recovery_code: s.codes[0] } });
  assert.equal(done.status, 200, done.text);
  assert.equal((await from('127.0.0.2', 'POST', '/auth/recovery-codes', { tok: done.json.access_token })).status, 200);
  // The session now lives in Lagos at its AAL again.
  assert.equal((await from('127.0.0.2', 'GET', '/auth/session', { tok: s.tok })).json.aal, 2);
  const audit = await call(nova, 'GET', '/v1/audit?limit=200&action=session.cae', { tok });
  assert.equal(audit.status, 200, audit.text);
  assert.equal(audit.json.entries.filter((e) => e.target === 'session:' + s.session).length, 1, 'one event audited once');
});

test('with every setting none, a new address changes nothing', async () => {
  await settings({});
  const s = await aal2Session();
  const r = await from('127.0.0.2', 'GET', '/auth/session', { tok: s.tok, ua: 'x' });
  assert.equal(r.status, 200);
  assert.equal(r.json.aal, 2);
});
