// API keys (issue 6 item 5): keys made over the API, requests signed here with node:crypto
// exactly as docs/API.md describes (METHOD\ntarget\nhex(sha256(body))\ndate\nnonce, HMAC-SHA-256
// under the secret, base64url), and every refusal with its own code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startNova, makeTenant, token, call } from './lib.mjs';

const METRICS = 'apikeys-metrics-token-0123456789abcdef';
let nova, admin, adminTok;
const secrets = [];

before(async () => {
  nova = await startNova({ NOVA_METRICS_TOKEN: METRICS, NOVA_APIKEY_SKEW: '60' });
  admin = makeTenant(nova, 'ak-' + randomBytes(4).toString('hex'),
    'api-keys:read api-keys:write clients:read audit:read');
  adminTok = await token(nova, admin);
  secrets.push(admin.secret, adminTok);
});
after(async () => {
  // No secret, ever, in what novad wrote.
  for (const s of secrets) assert.ok(!nova.logs().includes(s), 'a secret reached the log');
  await nova.stop();
});

const imfDate = (ms = Date.now()) => new Date(ms).toUTCString();
const nonce = () => randomBytes(18).toString('base64url');

// The headers of a signed request; over lets a test change one input at a time.
function sign(key, method, target, body = '', over = {}) {
  const date = over.date ?? imfDate();
  const n = over.nonce ?? nonce();
  const digest = createHash('sha256').update(body).digest('hex');
  const canonical = [method, over.signedTarget ?? target, digest, date, n].join('\n');
  const sig = createHmac('sha256', over.secret ?? key.secret).update(canonical).digest('base64url');
  return { 'x-api-key-id': key.id, 'x-signature': sig, 'x-nonce': n, date };
}

// A request over node:http so the test chooses the source address and sends exactly the
// target and body it signed.
function send(method, target, headers, body = '', localAddress = '127.0.0.1') {
  return new Promise((ok, fail) => {
    const h = { ...headers };
    if (body) { h['content-type'] = 'application/json'; h['content-length'] = Buffer.byteLength(body); }
    const req = request({ host: '127.0.0.1', port: nova.port, method, path: target, headers: h, localAddress },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => {
          let json = null;
          try { json = JSON.parse(text); } catch { /* not JSON */ }
          ok({ status: res.statusCode, headers: res.headers, json, text });
        });
      });
    req.on('error', fail);
    req.end(body);
  });
}

const signed = (key, method, target, body = '', over = {}) =>
  send(method, target, sign(key, method, target, body, over), body, over.localAddress);

async function makeKey(body) {
  const r = await call(nova, 'POST', '/v1/api-keys', { tok: adminTok, body });
  assert.equal(r.status, 201, r.text);
  secrets.push(r.json.secret);
  return r.json;
}

function problem(r, status, code) {
  assert.equal(r.status, status, r.text);
  const ct = typeof r.headers.get === 'function' ? r.headers.get('content-type') : r.headers['content-type'];
  assert.match(ct, /application\/problem\+json/);
  assert.equal(r.json.code, code, r.text);
}

test('a key is made once, its secret shown once, and signs requests', async () => {
  const k = await makeKey({ purpose: 'payouts backend', scopes: ['clients:read', 'api-keys:read'] });
  assert.match(k.id, /^ak_live_[A-Za-z0-9_-]{22}$/);
  assert.match(k.secret, /^aks_[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(k.scopes, ['clients:read', 'api-keys:read']);
  assert.equal(k.version, 1);
  const got = await call(nova, 'GET', '/v1/api-keys/' + k.id, { tok: adminTok });
  assert.equal(got.status, 200);
  assert.equal(got.json.secret, undefined, 'the secret is shown once');
  assert.equal(got.json.purpose, 'payouts backend');
  const list = await call(nova, 'GET', '/v1/api-keys', { tok: adminTok });
  assert.ok(list.json.api_keys.some((x) => x.id === k.id && x.secret === undefined));

  const me = await signed(k, 'GET', '/v1/me');
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json.client_id, k.id);
  assert.equal(me.json.tenant.id, admin.tenant);
  // The query is part of what is signed.
  const q = await signed(k, 'GET', '/v1/api-keys?limit=5');
  assert.equal(q.status, 200, q.text);
  problem(await signed(k, 'GET', '/v1/api-keys?limit=5', '', { signedTarget: '/v1/api-keys' }),
    401, 'bad_signature');
  // Scopes bind: no audit:read on this key.
  problem(await signed(k, 'GET', '/v1/audit'), 403, 'insufficient_scope');
  const test = await makeKey({ purpose: 'sandbox', scopes: ['clients:read'], mode: 'test' });
  assert.match(test.id, /^ak_test_/);
  assert.equal((await signed(test, 'GET', '/v1/clients')).status, 200);
});

test('the body is signed: a changed body or a wrong secret is bad_signature', async () => {
  const k = await makeKey({ purpose: 'key admin', scopes: ['api-keys:write', 'clients:read'] });
  const body = JSON.stringify({ purpose: 'made by a key', scopes: ['clients:read'] });
  const ok = await signed(k, 'POST', '/v1/api-keys', body);
  assert.equal(ok.status, 201, ok.text);
  secrets.push(ok.json.secret);
  assert.equal(ok.json.created_by, k.id);
  // Signed over one body, sent with another.
  const h = sign(k, 'POST', '/v1/api-keys', body);
  problem(await send('POST', '/v1/api-keys', h, body.replace('made', 'mad!')), 401, 'bad_signature');
  problem(await signed(k, 'GET', '/v1/me', '', { secret: 'aks_' + 'A'.repeat(43) }), 401, 'bad_signature');
  // A key cannot give more than it holds.
  const esc = JSON.stringify({ purpose: 'escalate', scopes: ['audit:read'] });
  problem(await signed(k, 'POST', '/v1/api-keys', esc), 403, 'scope_escalation');
});

test('malformed, unknown, mixed credentials, replayed nonce and clock skew have their codes', async () => {
  const k = await makeKey({ purpose: 'refusals', scopes: ['clients:read'] });
  const good = sign(k, 'GET', '/v1/me');
  problem(await send('GET', '/v1/me', { ...good, 'x-signature': 'short' }), 401, 'signature_malformed');
  problem(await send('GET', '/v1/me', { ...good, 'x-nonce': 'x' }), 401, 'signature_malformed');
  problem(await send('GET', '/v1/me', { ...good, date: '2026-01-01T00:00:00Z' }), 401, 'signature_malformed');
  const { date, ...noDate } = good;
  assert.ok(date);
  problem(await send('GET', '/v1/me', noDate), 401, 'signature_malformed');
  problem(await send('GET', '/v1/me', { ...good, 'x-api-key-id': 'ak_live_' + 'x'.repeat(22) }), 401, 'api_key_unknown');
  problem(await send('GET', '/v1/me', { ...good, authorization: 'Bearer ' + adminTok }), 400, 'invalid_request');

  const n = nonce();
  assert.equal((await signed(k, 'GET', '/v1/me', '', { nonce: n })).status, 200);
  const replay = await signed(k, 'GET', '/v1/me', '', { nonce: n });
  problem(replay, 401, 'nonce_replayed');
  assert.match(replay.headers['www-authenticate'], /Nova-HMAC-SHA256 .*error="nonce_replayed"/);
  // The same nonce on another key is that key's first use.
  const k2 = await makeKey({ purpose: 'other', scopes: ['clients:read'] });
  assert.equal((await signed(k2, 'GET', '/v1/me', '', { nonce: n })).status, 200);

  // NOVA_APIKEY_SKEW is 60 s here.
  problem(await signed(k, 'GET', '/v1/me', '', { date: imfDate(Date.now() - 120_000) }), 401, 'clock_skew');
  problem(await signed(k, 'GET', '/v1/me', '', { date: imfDate(Date.now() + 120_000) }), 401, 'clock_skew');
  assert.equal((await signed(k, 'GET', '/v1/me', '', { date: imfDate(Date.now() - 30_000) })).status, 200);
});

test('the IP allow-list admits 127.0.0.1/32 and refuses 127.0.0.2', async () => {
  const k = await makeKey({ purpose: 'pinned', scopes: ['clients:read'], ip_allowlist: ['127.0.0.1/32', '2001:db8::/32'] });
  assert.deepEqual(k.ip_allowlist, ['127.0.0.1/32', '2001:db8::/32']);
  assert.equal((await signed(k, 'GET', '/v1/me', '', { localAddress: '127.0.0.1' })).status, 200);
  problem(await signed(k, 'GET', '/v1/me', '', { localAddress: '127.0.0.2' }), 403, 'ip_not_allowed');
  for (const bad of [['10.0.0.1/8'], ['300.1.1.1/32'], ['::1/129'], ['x']]) {
    const r = await call(nova, 'POST', '/v1/api-keys', { tok: adminTok, body: { purpose: 'p', scopes: ['clients:read'], ip_allowlist: bad } });
    problem(r, 422, 'invalid_field');
  }
});

test('over rate_per_minute is 429 BUDGET_EXCEEDED with Retry-After', async () => {
  const k = await makeKey({ purpose: 'metered', scopes: ['clients:read'], rate_per_minute: 2,
    budget: { amount_daily: 100000, currency: 'KES' } });
  assert.deepEqual(k.budget, { amount_daily: 100000, currency: 'KES' });
  assert.equal((await signed(k, 'GET', '/v1/me')).status, 200);
  assert.equal((await signed(k, 'GET', '/v1/me')).status, 200);
  const r = await signed(k, 'GET', '/v1/me');
  problem(r, 429, 'BUDGET_EXCEEDED');
  assert.ok(Number(r.headers['retry-after']) >= 1);
  assert.match(r.headers['ratelimit-policy'], /"api-key";q=2;w=60/);
  // A refused signature spends nothing of another key's budget.
  const k2 = await makeKey({ purpose: 'metered2', scopes: ['clients:read'], rate_per_minute: 1 });
  problem(await signed(k2, 'GET', '/v1/me', '', { secret: k.secret }), 401, 'bad_signature');
  assert.equal((await signed(k2, 'GET', '/v1/me')).status, 200);
  problem((await call(nova, 'POST', '/v1/api-keys', { tok: adminTok, body: { purpose: 'p', scopes: ['clients:read'], budget: { amount_daily: 1, currency: 'kes' } } })), 422, 'invalid_field');
});

test('a revoked key stops at once; an expired one is refused', async () => {
  const k = await makeKey({ purpose: 'doomed', scopes: ['clients:read'] });
  assert.equal((await signed(k, 'GET', '/v1/me')).status, 200);
  const d = await call(nova, 'DELETE', '/v1/api-keys/' + k.id, { tok: adminTok });
  assert.equal(d.status, 204);
  problem(await signed(k, 'GET', '/v1/me'), 401, 'api_key_revoked');
  assert.equal((await call(nova, 'DELETE', '/v1/api-keys/' + k.id, { tok: adminTok })).status, 404);
  assert.ok((await call(nova, 'GET', '/v1/api-keys/' + k.id, { tok: adminTok })).json.revoked_at > 0);

  problem(await call(nova, 'POST', '/v1/api-keys', { tok: adminTok, body: { purpose: 'p', scopes: ['clients:read'], expires_at: 1000 } }), 422, 'invalid_field');
  const soon = Math.floor(Date.now() / 1000) + 2;
  const e = await makeKey({ purpose: 'short-lived', scopes: ['clients:read'], expires_at: soon });
  assert.equal(e.expires_at, soon);
  while (Math.floor(Date.now() / 1000) <= soon) await sleep(200);
  problem(await signed(e, 'GET', '/v1/me'), 401, 'api_key_expired');
});

test('rotation: the old secret works until the overlap ends, then only the new one', async () => {
  const k = await makeKey({ purpose: 'rotating', scopes: ['clients:read'] });
  assert.equal((await signed(k, 'GET', '/v1/me')).status, 200);
  const r1 = await call(nova, 'POST', `/v1/api-keys/${k.id}/rotate`, { tok: adminTok, body: { overlap_seconds: 600 } });
  assert.equal(r1.status, 200, r1.text);
  secrets.push(r1.json.secret);
  assert.notEqual(r1.json.secret, k.secret);
  assert.equal(r1.json.version, 2);
  assert.ok(r1.json.previous_secret_valid_until > Date.now() / 1000 + 500);
  const k1 = { id: k.id, secret: r1.json.secret };
  assert.equal((await signed(k, 'GET', '/v1/me')).status, 200, 'old secret inside the overlap');
  assert.equal((await signed(k1, 'GET', '/v1/me')).status, 200, 'new secret');
  // Rotating again with no overlap ends both older secrets at once.
  const r2 = await call(nova, 'POST', `/v1/api-keys/${k.id}/rotate`, { tok: adminTok, body: { overlap_seconds: 0 } });
  assert.equal(r2.status, 200, r2.text);
  secrets.push(r2.json.secret);
  const k2 = { id: k.id, secret: r2.json.secret };
  problem(await signed(k1, 'GET', '/v1/me'), 401, 'bad_signature');
  problem(await signed(k, 'GET', '/v1/me'), 401, 'bad_signature');
  assert.equal((await signed(k2, 'GET', '/v1/me')).status, 200);
  // Bad input and unknown keys.
  problem(await call(nova, 'POST', `/v1/api-keys/${k.id}/rotate`, { tok: adminTok, body: { overlap_seconds: -1 } }), 422, 'invalid_field');
  assert.equal((await call(nova, 'POST', '/v1/api-keys/ak_live_nope/rotate', { tok: adminTok, body: {} })).status, 404);
  // Another tenant sees none of it.
  const other = makeTenant(nova, 'ak-other-' + randomBytes(4).toString('hex'), 'api-keys:read api-keys:write');
  const otherTok = await token(nova, other);
  secrets.push(other.secret, otherTok);
  assert.equal((await call(nova, 'GET', '/v1/api-keys/' + k.id, { tok: otherTok })).status, 404);
  assert.equal((await call(nova, 'DELETE', '/v1/api-keys/' + k.id, { tok: otherTok })).status, 404);
  assert.equal((await call(nova, 'GET', '/v1/api-keys', { tok: otherTok })).json.api_keys.length, 0);
});

test('mutations are audited without the secret; failures are counted by reason', async () => {
  const k = await makeKey({ purpose: 'audited', scopes: ['clients:read'] });
  const a = await call(nova, 'GET', '/v1/audit?limit=200&target=api_key:' + k.id, { tok: adminTok });
  assert.equal(a.status, 200, a.text);
  const e = a.json.entries.find((x) => x.action === 'api_key.create');
  assert.ok(e, a.text);
  assert.equal(e.actor, admin.id);
  assert.ok(!a.text.includes(k.secret));
  const m = await call(nova, 'GET', '/metrics', { headers: { authorization: 'Bearer ' + METRICS } });
  assert.equal(m.status, 200);
  const count = (re) => Number((m.text.match(re) || [])[1]);
  assert.ok(count(/nova_apikey_auth_failures_total\{reason="nonce_replayed"\} (\d+)/) >= 1, m.text);
  assert.ok(count(/nova_apikey_auth_failures_total\{reason="bad_signature"\} (\d+)/) >= 1);
  assert.ok(count(/nova_apikey_auth_failures_total\{reason="ip_not_allowed"\} (\d+)/) >= 1);
  assert.ok(count(/nova_apikey_nonce_replays_total (\d+)/) >= 1);
});
