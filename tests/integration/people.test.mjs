// People against the real novad (issue 11): users with sealed personal data, passwords,
// TOTP (codes computed here with node:crypto, RFC 6238) and recovery codes, sign-in with
// sessions (list, revoke one, revoke all, refresh rotation and reuse), the tenant's
// mfa_required_for_all_users, and request-bound step-up (a bound token replayed on another
// request or twice is refused).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startNova, makeTenant, token, call, CTL } from './lib.mjs';
import { SoftAuthenticator } from './people_audit.mjs';

let nova, admin, adminTok, other, otherTok;
const onSqlite = !process.env.NOVA_TEST_DATABASE_URL;

before(async () => {
  nova = await startNova();
  admin = makeTenant(nova, 'people-' + Date.now(), 'users:read users:write security:read security:write audit:read');
  adminTok = await token(nova, admin);
  other = makeTenant(nova, 'people-other-' + Date.now(), 'users:read users:write');
  otherTok = await token(nova, other);
});
after(async () => { await nova.stop(); });

function b32decode(s) {
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, acc = 0; const out = [];
  for (const c of s.toUpperCase()) { acc = (acc << 5) | a.indexOf(c); bits += 5; if (bits >= 8) { out.push((acc >> (bits - 8)) & 255); bits -= 8; } }
  return Buffer.from(out);
}
// RFC 6238 with SHA-1, 6 digits, at step `step`.
function totp(secret, step) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', b32decode(secret)).update(msg).digest();
  const off = mac[mac.length - 1] & 15;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 1e6).padStart(6, '0');
}
const nowStep = () => Math.floor(Date.now() / 1000 / 30);

async function createUser(email, extra = {}) {
  const r = await call(nova, 'POST', '/v1/users', { tok: adminTok, body: { email, password: 'a long enough passphrase', ...extra } });
  assert.equal(r.status, 201, r.text);
  return r.json;
}
const login = (body) => call(nova, 'POST', '/auth/login', { body: { tenant_id: admin.tenant, ...body }, headers: { 'user-agent': 'people-test' } });

test('users: create, read, list, update, validation naming the field, tenant isolation, sealed', async () => {
  const u = await createUser('Ada.Lovelace@example.com', { name: 'Ada Lovelace', roles: ['operator', 'auditor'] });
  assert.match(u.id, /^usr_/);
  assert.equal(u.email, 'Ada.Lovelace@example.com');
  assert.equal(u.name, 'Ada Lovelace');
  assert.deepEqual(u.roles, ['operator', 'auditor']);
  assert.equal(u.status, 'active');
  assert.equal(u.has_password, true);
  assert.equal(u.totp, 'none');
  const g = await call(nova, 'GET', '/v1/users/' + u.id, { tok: adminTok });
  assert.equal(g.status, 200);
  assert.equal(g.json.email, 'Ada.Lovelace@example.com');
  // The same email in another case is the same account.
  const dup = await call(nova, 'POST', '/v1/users', { tok: adminTok, body: { email: 'ada.lovelace@EXAMPLE.com' } });
  assert.equal(dup.status, 409, dup.text);
  for (const [body, field] of [
    [{ email: 'not-an-email' }, 'email'],
    [{ email: 'x@example.com', password: 'short' }, 'password'],
    [{ email: 'x@example.com', password: 'password1234' }, 'password'],
    [{ email: 'x@example.com', roles: ['Bad Role'] }, 'roles'],
    [{ email: 'x@example.com', roles: 'admin' }, 'roles'],
    [{ email: 'x@example.com', status: 'gone' }, 'status'],
    [{ email: 42 }, 'email'],
    [{ name: 'no email' }, 'email'],
  ]) {
    const r = await call(nova, 'POST', '/v1/users', { tok: adminTok, body });
    assert.equal(r.status, 422, JSON.stringify(body) + ' ' + r.text);
    assert.ok(r.json.detail.startsWith(field + ':'), r.json.detail);
  }
  const unknown = await call(nova, 'POST', '/v1/users', { tok: adminTok, body: { email: 'y@example.com', admin: true } });
  assert.equal(unknown.status, 400);
  const p = await call(nova, 'PATCH', '/v1/users/' + u.id, { tok: adminTok, body: { roles: ['operator'], name: 'Ada King' } });
  assert.equal(p.status, 200, p.text);
  assert.deepEqual(p.json.roles, ['operator']);
  assert.equal(p.json.name, 'Ada King');
  const l = await call(nova, 'GET', '/v1/users?limit=200', { tok: adminTok });
  assert.equal(l.status, 200);
  assert.ok(l.json.users.some((x) => x.id === u.id));
  // Another tenant sees nothing of it.
  assert.equal((await call(nova, 'GET', '/v1/users/' + u.id, { tok: otherTok })).status, 404);
  assert.ok((await call(nova, 'GET', '/v1/users', { tok: otherTok })).json.users.every((x) => x.id !== u.id));
  assert.equal((await call(nova, 'PATCH', '/v1/users/' + u.id, { tok: otherTok, body: { status: 'suspended' } })).status, 404);
  // Personal data is not in the database in clear.
  if (onSqlite) {
    const db = readFileSync(join(nova.dir, 'nova.db'));
    const wal = existsSync(join(nova.dir, 'nova.db-wal')) ? readFileSync(join(nova.dir, 'nova.db-wal')) : Buffer.alloc(0);
    for (const needle of ['Ada.Lovelace', 'ada.lovelace', 'Ada King', 'Lovelace'])
      assert.ok(!db.includes(needle) && !wal.includes(needle), 'found ' + needle + ' in clear');
  }
  // Scopes: reading needs users:read.
  const weak = makeTenant(nova, 'people-weak-' + Date.now(), 'clients:read');
  assert.equal((await call(nova, 'GET', '/v1/users', { tok: await token(nova, weak) })).status, 403);
});

test('password sign-in: wrong password and unknown user alike, suspended refused, AAL1 session', async () => {
  const u = await createUser('grace@example.com');
  const bad = await login({ email: 'grace@example.com', password: 'a long enough passphrasf' });
  assert.equal(bad.status, 401);
  assert.equal(bad.json.code, 'invalid_credentials');
  const nobody = await login({ email: 'nobody@example.com', password: 'a long enough passphrase' });
  assert.equal(nobody.status, 401);
  assert.equal(nobody.json.code, 'invalid_credentials');
  const ok = await login({ email: 'GRACE@example.com', password: 'a long enough passphrase' });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.aal, 1);
  assert.deepEqual(ok.json.amr, ['pwd']);
  assert.match(ok.json.refresh_token, /^prt\./);
  const me = await call(nova, 'GET', '/auth/session', { tok: ok.json.access_token });
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json.user_id, u.id);
  assert.equal(me.json.aal, 1);
  // A tenant client token is not a user token, nor the reverse.
  assert.equal((await call(nova, 'GET', '/auth/session', { tok: adminTok })).status, 401);
  // A user token at a /v1 route is verified as the person's, and refused: no policy of the
  // tenant opens the route to people (authz_users.test.mjs has the routes that are).
  const asUser = await call(nova, 'GET', '/v1/users', { tok: ok.json.access_token });
  assert.equal(asUser.status, 403, asUser.text);
  assert.equal(asUser.json.code, 'user_route_not_mapped');
  const s = await call(nova, 'PATCH', '/v1/users/' + u.id, { tok: adminTok, body: { status: 'suspended' } });
  assert.equal(s.status, 200);
  // Suspension ended the session and refuses sign-in.
  assert.equal((await call(nova, 'GET', '/auth/session', { tok: ok.json.access_token })).status, 401);
  const sus = await login({ email: 'grace@example.com', password: 'a long enough passphrase' });
  assert.equal(sus.status, 403);
  assert.equal(sus.json.code, 'account_suspended');
  const missing = await login({ email: 'grace@example.com' });
  assert.equal(missing.status, 422);
});

async function enrolTotp(accessToken) {
  const e = await call(nova, 'POST', '/auth/totp/enroll', { tok: accessToken });
  assert.equal(e.status, 201, e.text);
  assert.match(e.json.otpauth_uri, /^otpauth:\/\/totp\/Nova:.*\?secret=[A-Z2-7]+&issuer=Nova&algorithm=SHA1&digits=6&period=30$/);
  const wrong = await call(nova, 'POST', '/auth/totp/confirm', { tok: accessToken, body: { code: '000000' === totp(e.json.secret, nowStep()) ? '111111' : '000000' } });
  assert.equal(wrong.status, 422);
  const step = nowStep();
  const c = await call(nova, 'POST', '/auth/totp/confirm', { tok: accessToken, body: { code: totp(e.json.secret, step) } });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.recovery_codes.length, 10);
  return { secret: e.json.secret, step, codes: c.json.recovery_codes };
}

test('TOTP and recovery codes: two-step sign-in at AAL2, a used code refused, a recovery code once', async () => {
  await createUser('alan@example.com');
  const first = await login({ email: 'alan@example.com', password: 'a long enough passphrase' });
  assert.equal(first.status, 200);
  const t = await enrolTotp(first.json.access_token);
  const again = await call(nova, 'POST', '/auth/totp/enroll', { tok: first.json.access_token });
  assert.equal(again.status, 409);
  const one = await login({ email: 'alan@example.com', password: 'a long enough passphrase' });
  assert.equal(one.status, 200);
  assert.equal(one.json.mfa_required, true);
  assert.match(one.json.mfa_token, /^pmt_/);
  assert.equal(one.json.access_token, undefined);
  // The code of the step already used at enrolment is refused (used once).
  const reused = await login({ mfa_token: one.json.mfa_token, totp_code: totp(t.secret, t.step) });
  assert.equal(reused.status, 401);
  assert.equal(reused.json.code, 'invalid_second_factor');
  const next = totp(t.secret, t.step + 1); // one step ahead is inside the window
  const two = await login({ mfa_token: one.json.mfa_token, totp_code: next });
  assert.equal(two.status, 200, two.text);
  assert.equal(two.json.aal, 2);
  assert.deepEqual(two.json.amr, ['pwd', 'otp']);
  // The mfa token is spent, and the code cannot sign in again.
  assert.equal((await login({ mfa_token: one.json.mfa_token, totp_code: next })).status, 401);
  const three = await login({ email: 'alan@example.com', password: 'a long enough passphrase' });
  assert.equal((await login({ mfa_token: three.json.mfa_token, totp_code: next })).status, 401);
  // A recovery code works once, typed in capitals without dashes too.
  const rc = t.codes[0].toUpperCase().replaceAll('-', '');
  const r1 = await login({ mfa_token: three.json.mfa_token, recovery_code: rc });
  assert.equal(r1.status, 200, r1.text);
  assert.equal(r1.json.aal, 2);
  const four = await login({ email: 'alan@example.com', password: 'a long enough passphrase' });
  assert.equal((await login({ mfa_token: four.json.mfa_token, recovery_code: t.codes[0] })).status, 401);
  assert.equal((await login({ mfa_token: four.json.mfa_token, recovery_code: t.codes[1] })).status, 200);
});

test('sessions: listed per user, one revoked, all revoked, refresh rotates and a reuse ends the family', async () => {
  const u = await createUser('edsger@example.com');
  const a = await login({ email: 'edsger@example.com', password: 'a long enough passphrase' });
  const b = await login({ email: 'edsger@example.com', password: 'a long enough passphrase' });
  const c = await login({ email: 'edsger@example.com', password: 'a long enough passphrase' });
  const list = await call(nova, 'GET', '/v1/sessions?user_id=' + u.id, { tok: adminTok });
  assert.equal(list.status, 200, list.text);
  assert.equal(list.json.sessions.length, 3);
  const ses = list.json.sessions.find((x) => x.id === a.json.session_id);
  assert.equal(ses.aal, 1);
  assert.equal(ses.device, 'people-test');
  assert.equal(ses.ip, '127.0.0.1');
  assert.ok(ses.last_seen > 0);
  assert.equal((await call(nova, 'GET', '/v1/sessions?user_id=' + u.id, { tok: otherTok })).json.sessions.length, 0);
  assert.equal((await call(nova, 'DELETE', '/v1/sessions/' + a.json.session_id, { tok: otherTok })).status, 404);
  const d = await call(nova, 'DELETE', '/v1/sessions/' + a.json.session_id, { tok: adminTok });
  assert.equal(d.status, 204, d.text);
  assert.equal((await call(nova, 'GET', '/auth/session', { tok: a.json.access_token })).status, 401);
  assert.equal((await call(nova, 'GET', '/auth/session', { tok: b.json.access_token })).status, 200);
  // Refresh: a new pair; the old refresh token presented again revokes the session.
  const r1 = await call(nova, 'POST', '/auth/refresh', { body: { refresh_token: b.json.refresh_token } });
  assert.equal(r1.status, 200, r1.text);
  assert.notEqual(r1.json.refresh_token, b.json.refresh_token);
  assert.equal(r1.json.session_id, b.json.session_id);
  const replay = await call(nova, 'POST', '/auth/refresh', { body: { refresh_token: b.json.refresh_token } });
  assert.equal(replay.status, 401);
  assert.equal((await call(nova, 'POST', '/auth/refresh', { body: { refresh_token: r1.json.refresh_token } })).status, 401);
  assert.equal((await call(nova, 'GET', '/auth/session', { tok: r1.json.access_token })).status, 401);
  // A revoked session's refresh token is refused too.
  assert.equal((await call(nova, 'POST', '/auth/refresh', { body: { refresh_token: a.json.refresh_token } })).status, 401);
  // All of a user's sessions.
  const e = await login({ email: 'edsger@example.com', password: 'a long enough passphrase' });
  const all = await call(nova, 'DELETE', '/v1/sessions?user_id=' + u.id, { tok: adminTok });
  assert.equal(all.status, 200, all.text);
  assert.equal(all.json.revoked, 2);
  for (const s of [c, e]) assert.equal((await call(nova, 'GET', '/auth/session', { tok: s.json.access_token })).status, 401);
  assert.equal((await call(nova, 'DELETE', '/v1/sessions', { tok: adminTok })).status, 400);
  // Logout ends the caller's own session.
  const f = await login({ email: 'edsger@example.com', password: 'a long enough passphrase' });
  assert.equal((await call(nova, 'POST', '/auth/logout', { tok: f.json.access_token })).status, 204);
  assert.equal((await call(nova, 'GET', '/auth/session', { tok: f.json.access_token })).status, 401);
});

test('step-up bound to one request: MFA_REQUIRED with a challenge, an AAL2 token for that request once', async () => {
  await createUser('barbara@example.com');
  const s = await login({ email: 'barbara@example.com', password: 'a long enough passphrase' });
  const tok = s.json.access_token;
  const t = await enrolTotp(tok); // the session stays AAL1
  const denied = await call(nova, 'POST', '/auth/recovery-codes', { tok });
  assert.equal(denied.status, 403, denied.text);
  assert.equal(denied.json.error, 'MFA_REQUIRED');
  assert.equal(denied.json.required_aal, 2);
  const claims = JSON.parse(Buffer.from(denied.json.challenge.split('.')[1], 'base64url'));
  assert.equal(claims.exp - claims.iat, 300);
  assert.equal(claims.sub, (await call(nova, 'GET', '/auth/session', { tok })).json.user_id);
  assert.equal(claims.tid, admin.tenant);
  const { createHash } = await import('node:crypto');
  assert.equal(claims.origHash, createHash('sha256').update('POST|/auth/recovery-codes|').digest('base64url'));
  // Completing for another request than the challenge's is refused.
  const wrongReq = await call(nova, 'POST', '/auth/mfa/complete', { tok, body: { challenge: denied.json.challenge, method: 'DELETE', path: '/auth/totp', totp_code: totp(t.secret, t.step + 1) } });
  assert.equal(wrongReq.status, 401, wrongReq.text);
  const done = await call(nova, 'POST', '/auth/mfa/complete', { tok, body: { challenge: denied.json.challenge, method: 'POST', path: '/auth/recovery-codes', totp_code: totp(t.secret, t.step + 1) } });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.json.aal, 2);
  const st = JSON.parse(Buffer.from(done.json.access_token.split('.')[1], 'base64url'));
  assert.equal(st.aal, 2);
  assert.equal(st.cnf.orig, claims.origHash);
  assert.equal(st.exp - st.iat, 600);
  // The challenge is single use.
  const again = await call(nova, 'POST', '/auth/mfa/complete', { tok, body: { challenge: denied.json.challenge, method: 'POST', path: '/auth/recovery-codes', recovery_code: t.codes[0] } });
  assert.equal(again.status, 401);
  // Replayed on another request: refused, with a new challenge for that one.
  const other = await call(nova, 'DELETE', '/auth/totp', { tok: done.json.access_token });
  assert.equal(other.status, 403);
  assert.equal(other.json.error, 'MFA_REQUIRED');
  const okReq = await call(nova, 'POST', '/auth/recovery-codes', { tok: done.json.access_token });
  assert.equal(okReq.status, 200, okReq.text);
  assert.equal(okReq.json.recovery_codes.length, 10);
  // Once only.
  const twice = await call(nova, 'POST', '/auth/recovery-codes', { tok: done.json.access_token });
  assert.equal(twice.status, 403);
  // A challenge on demand for a request with a body: the body is normalised (member order and
  // whitespace do not matter), so the token fits the same JSON sent differently.
  const ch = await call(nova, 'POST', '/auth/mfa/challenge', { tok, body: { method: 'POST', path: '/auth/recovery-codes', body: '{ "b": 1, "a": [1, 2] }' } });
  assert.equal(ch.status, 200, ch.text);
  assert.equal(ch.json.origHash, createHash('sha256').update('POST|/auth/recovery-codes|{"a":[1,2],"b":1}').digest('base64url'));
  assert.equal((await call(nova, 'POST', '/auth/mfa/complete', { tok, body: { challenge: ch.json.challenge, method: 'POST', path: '/auth/recovery-codes', body: '{"a":[1,2],"b":1}', totp_code: '12345' } })).status, 401);
  const bad = await call(nova, 'POST', '/auth/mfa/challenge', { tok, body: { method: 'POST' } });
  assert.equal(bad.status, 422);
  assert.ok(bad.json.detail.startsWith('path:'));
});

test('mfa_required_for_all_users: a user without a second factor gets an enrol-only session', async () => {
  const t = makeTenant(nova, 'people-mfa-' + Date.now(), 'users:write security:read security:write');
  const tok = await token(nova, t);
  const put = await call(nova, 'PUT', `/v1/tenants/${t.tenant}/security`, { tok, body: { mfa_required_for_all_users: true } });
  assert.equal(put.status, 200, put.text);
  const u = await call(nova, 'POST', '/v1/users', { tok, body: { email: 'hedy@example.com', password: 'a long enough passphrase' } });
  assert.equal(u.status, 201);
  const s = await call(nova, 'POST', '/auth/login', { body: { tenant_id: t.tenant, email: 'hedy@example.com', password: 'a long enough passphrase' } });
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.mfa_enrollment_required, true);
  const me = await call(nova, 'GET', '/auth/session', { tok: s.json.access_token });
  assert.equal(me.json.enrol_only, true);
  const blocked = await call(nova, 'POST', '/auth/mfa/challenge', { tok: s.json.access_token, body: { method: 'GET', path: '/' } });
  assert.equal(blocked.status, 403);
  assert.equal(blocked.json.code, 'mfa_enrollment_required');
  assert.equal((await call(nova, 'POST', '/auth/totp/enroll', { tok: s.json.access_token })).status, 201);
});

test('audit: every people change is in the chain, with no personal data or secret', async () => {
  const out = [];
  let cursor = null;
  do {
    const r = await call(nova, 'GET', `/v1/audit?limit=200${cursor ? '&cursor=' + cursor : ''}`, { tok: adminTok });
    assert.equal(r.status, 200, r.text);
    out.push(...r.json.entries);
    cursor = r.json.next_cursor;
  } while (cursor);
  const actions = new Set(out.map((e) => e.action));
  for (const a of ['user.create', 'user.update', 'session.create', 'session.revoke', 'session.revoke_all', 'session.refresh', 'session.refresh_reuse', 'user.totp_begin', 'user.totp_confirm', 'stepup.complete', 'user.recovery_regenerate', 'people_key.create'])
    assert.ok(actions.has(a), 'no ' + a + ' entry');
  const text = JSON.stringify(out);
  for (const needle of ['Lovelace', 'example.com', 'passphrase', 'prt.', 'pmt_'])
    assert.ok(!text.includes(needle), needle + ' in the audit log');
  assert.ok(!nova.logs().includes('example.com') && !nova.logs().includes('passphrase'));
});

test('login is rate limited per account and address', async () => {
  const n = await startNova({ NOVA_RATELIMIT_AUTH_FAILURES_CLIENT: '3' });
  try {
    const t = makeTenant(n, 'people-rl', 'users:write');
    const tok = await token(n, t);
    assert.equal((await call(n, 'POST', '/v1/users', { tok, body: { email: 'kay@example.com', password: 'a long enough passphrase' } })).status, 201);
    const go = (password) => call(n, 'POST', '/auth/login', { body: { tenant_id: t.tenant, email: 'kay@example.com', password } });
    for (let i = 0; i < 3; i++) assert.equal((await go('wrong wrong wrong')).status, 401);
    const limited = await go('a long enough passphrase');
    assert.equal(limited.status, 429);
    assert.ok(limited.headers.get('retry-after'));
  } finally {
    await n.stop();
  }
});

test('novactl user create, list and suspend', async () => {
  const t = nova.ctl('tenant', 'create', 'people-ctl-' + Date.now());
  assert.equal(t.code, 0, t.stderr);
  const c = nova.ctl('user', 'create', '--tenant', t.json.id, '--name', 'Ken Thompson', 'ken@example.com');
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.json.id, /^usr_/);
  assert.equal(c.json.email, 'ken@example.com');
  assert.equal(nova.ctl('user', 'create', '--tenant', t.json.id, 'KEN@example.com').code, 8);
  assert.equal(nova.ctl('user', 'create', '--tenant', t.json.id, 'not-an-email').code, 6);
  const l = nova.ctl('user', 'list', '--tenant', t.json.id);
  assert.equal(l.code, 0, l.stderr);
  assert.deepEqual(l.json.users.map((u) => u.id), [c.json.id]);
  const s = nova.ctl('user', 'suspend', '--tenant', t.json.id, c.json.id);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.json.status, 'suspended');
  assert.equal(nova.ctl('user', 'suspend', '--tenant', t.json.id, 'usr_nobody').code, 7);
  assert.equal(nova.ctl('user', 'list', '--tenant', 'ten_nobody').code, 7);
});

test('novactl idp list and delete, both protocols, audited as DELETE /v1/people/<proto>/idps/{id}', async () => {
  const t = makeTenant(nova, 'idp-ctl-' + Date.now(), 'users:read users:write audit:read');
  const tok = await token(nova, t);
  const o = await call(nova, 'POST', '/v1/people/oidc/idps', { tok, body: { issuer: `http://127.0.0.1:9/ctl-idp-${Date.now()}`, client_id: 'ctl-rp', client_secret: 'ctl-rp-secret-0123456789', redirect_uris: [`${nova.base}/auth/oidc/callback`] } });
  assert.equal(o.status, 201, o.text);
  const cert = execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', '/dev/null', '-days', '1', '-subj', '/CN=ctl-idp'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).replace(/-----[A-Z ]+-----|\s/g, '');
  const md = '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example/ctl">'
    + '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
    + `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
    + '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/>'
    + '</md:IDPSSODescriptor></md:EntityDescriptor>';
  const sm = await call(nova, 'POST', '/v1/people/saml/idps', { tok, body: { metadata_xml: md } });
  assert.equal(sm.status, 201, sm.text);
  // The SP's encryption key: its certificate shown and in the SP metadata, the key never;
  // require_encrypted_assertions is a boolean (422 naming it otherwise).
  assert.match(sm.json.sp_encryption_certificate, /^-----BEGIN CERTIFICATE-----/);
  assert.notEqual(sm.json.sp_encryption_certificate, sm.json.sp_certificate);
  assert.equal(sm.json.require_encrypted_assertions, false);
  assert.ok(!sm.text.includes('PRIVATE KEY'));
  const spmd = await (await fetch(nova.base + sm.json.sp_metadata_path)).text();
  assert.match(spmd, /<md:KeyDescriptor use="encryption">/);
  assert.match(spmd, /Binding="urn:oasis:names:tc:SAML:2\.0:bindings:HTTP-POST" Location="[^"]*\/auth\/saml\/slo\//);
  const bad = await call(nova, 'PATCH', '/v1/people/saml/idps/' + sm.json.id, { tok, body: { require_encrypted_assertions: 'yes' } });
  assert.equal(bad.status, 422, bad.text);
  assert.match(bad.json.detail, /require_encrypted_assertions/);
  const req = await call(nova, 'PATCH', '/v1/people/saml/idps/' + sm.json.id, { tok, body: { require_encrypted_assertions: true } });
  assert.equal(req.status, 200, req.text);
  assert.equal(req.json.require_encrypted_assertions, true);
  assert.equal(req.json.sp_encryption_certificate, sm.json.sp_encryption_certificate); /* kept */
  const l = nova.ctl('idp', 'list', '--tenant', t.tenant);
  assert.equal(l.code, 0, l.stderr);
  assert.deepEqual(l.json.idps.map((i) => [i.protocol, i.id]), [['oidc', o.json.id], ['saml', sm.json.id]]);
  assert.ok(!l.stdout.includes('ctl-rp-secret') && !l.stdout.includes('PRIVATE KEY'));
  // Without --json: one line per IdP.
  const text = spawnSync(CTL, ['idp', 'list', '--tenant', t.tenant], { env: nova.env, encoding: 'utf8' });
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^${o.json.id}  oidc  enabled  http://127\\.0\\.0\\.1:9/ctl-idp-`, 'm'));
  assert.match(text.stdout, new RegExp(`^${sm.json.id}  saml  enabled  https://idp\\.example/ctl$`, 'm'));
  // Usage, unknown tenant, unknown or foreign ids.
  assert.equal(nova.ctl('idp', 'delete', '--tenant', t.tenant).code, 2);
  assert.equal(nova.ctl('idp', 'list').code, 2);
  assert.equal(nova.ctl('idp', 'list', '--tenant', 'ten_nobody').code, 7);
  assert.equal(nova.ctl('idp', 'delete', '--tenant', t.tenant, 'xidp_1').code, 7);
  assert.equal(nova.ctl('idp', 'delete', '--tenant', t.tenant, 'sidp_nobody').code, 7);
  const other = nova.ctl('tenant', 'create', 'idp-ctl-other-' + Date.now());
  assert.equal(nova.ctl('idp', 'delete', '--tenant', other.json.id, sm.json.id).code, 7);
  for (const [proto, id] of [['saml', sm.json.id], ['oidc', o.json.id]]) {
    const d = nova.ctl('idp', 'delete', '--tenant', t.tenant, id);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(d.json, { id, protocol: proto, deleted: true });
    assert.equal((await call(nova, 'GET', `/v1/people/${proto}/idps/${id}`, { tok })).status, 404);
    assert.equal(nova.ctl('idp', 'delete', '--tenant', t.tenant, id).code, 7);
  }
  assert.deepEqual(nova.ctl('idp', 'list', '--tenant', t.tenant).json.idps, []);
  const audit = await call(nova, 'GET', '/v1/audit?limit=50', { tok });
  for (const [action, id] of [['saml_idp.delete', sm.json.id], ['oidc_idp.delete', o.json.id]]) {
    const e = audit.json.entries.find((x) => x.action === action);
    assert.ok(e, action);
    assert.equal(e.actor, 'novactl');
    assert.equal(e.target, action.split('.')[0] + ':' + id);
    assert.equal(e.attrs.sessions_revoked, 0);
  }
  assert.ok(!audit.text.includes('ctl-rp-secret'));
});

test('passkeys over HTTP with a software authenticator (ES256, attestation none): sign-in, counter regression flagged', async () => {
  await createUser('margaret@example.com');
  const s = await login({ email: 'margaret@example.com', password: 'a long enough passphrase' });
  const b = await call(nova, 'POST', '/auth/webauthn/register/begin', { tok: s.json.access_token });
  assert.equal(b.status, 200, b.text);
  assert.equal(b.json.rp.id, new URL(nova.base).hostname);
  assert.deepEqual(b.json.pubKeyCredParams.map((p) => p.alg), [-8, -7, -257]);
  const a = new SoftAuthenticator(nova.base, new URL(nova.base).hostname);
  const cred = a.create(b.json);
  const f = await call(nova, 'POST', '/auth/webauthn/register/finish', { tok: s.json.access_token, body: { credential: cred } });
  assert.equal(f.status, 201, f.text);
  assert.equal(f.json.attestation, 'none');
  assert.equal(f.json.alg, -7);
  // The registration challenge was single use.
  assert.equal((await call(nova, 'POST', '/auth/webauthn/register/finish', { tok: s.json.access_token, body: { credential: cred } })).status, 400);
  const signIn = async () => {
    const lb = await call(nova, 'POST', '/auth/webauthn/login/begin', { body: { tenant_id: admin.tenant, email: 'margaret@example.com' } });
    assert.equal(lb.status, 200, lb.text);
    assert.equal(lb.json.allowCredentials.length, 1);
    return call(nova, 'POST', '/auth/webauthn/login/finish', { body: { tenant_id: admin.tenant, credential: a.get(lb.json) } });
  };
  const ok = await signIn();
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.aal, 2); // its assertions carry UP and UV
  assert.equal((await signIn()).status, 200);
  // A passkey completes a step-up: its WebAuthn challenge is the digest of the step-up challenge.
  const { createHash } = await import('node:crypto');
  const ses = s.json; // the password session: AAL1
  const denied = await call(nova, 'POST', '/auth/recovery-codes', { tok: ses.access_token });
  assert.equal(denied.status, 403);
  assert.equal(denied.json.error, 'MFA_REQUIRED');
  const wchal = createHash('sha256').update(denied.json.challenge).digest('base64url');
  const wrongChal = await call(nova, 'POST', '/auth/mfa/complete', { tok: ses.access_token, body: { challenge: denied.json.challenge, method: 'POST', path: '/auth/recovery-codes', credential: a.get({ challenge: 'A'.repeat(43) }) } });
  assert.equal(wrongChal.status, 401, wrongChal.text);
  const up = await call(nova, 'POST', '/auth/mfa/complete', { tok: ses.access_token, body: { challenge: denied.json.challenge, method: 'POST', path: '/auth/recovery-codes', credential: a.get({ challenge: wchal }) } });
  assert.equal(up.status, 200, up.text);
  // No TOTP is enrolled, so recovery codes cannot be made, but the bound token was accepted.
  const rc = await call(nova, 'POST', '/auth/recovery-codes', { tok: up.json.access_token });
  assert.equal(rc.status, 409, rc.text);
  assert.equal(rc.json.code, 'totp_not_active');
  // Another tenant does not know the credential.
  const lb = await call(nova, 'POST', '/auth/webauthn/login/begin', { body: { tenant_id: other.tenant } });
  const foreign = await call(nova, 'POST', '/auth/webauthn/login/finish', { body: { tenant_id: other.tenant, credential: a.get(lb.json) } });
  assert.equal(foreign.status, 401);
  a.count -= 3; // a clone behind the original
  const cloned = await signIn();
  assert.equal(cloned.status, 401);
  assert.equal(cloned.json.code, 'passkey_cloned');
});
