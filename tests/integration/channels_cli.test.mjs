// novactl channel list|show|create|update|delete on the store a running novad serves: the
// same rows and audit entries as /v1/notifications/channels (action notify.channel.*, actor
// novactl), the same refusals naming the field (exit 6), another tenant's channel not found
// (exit 7), a body read from a file or standard input, and no secret, number or address in
// what novactl prints as text, in its errors or in the audit entries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startNova, makeTenant, token, call, CTL } from './lib.mjs';

const tag = randomBytes(4).toString('hex');
const API_KEY = 'atsk_' + randomBytes(16).toString('hex');
const SMTP_PASS = 'smtp-' + randomBytes(12).toString('hex');
const NUMBER = '+254711000001';
const SCOPES = 'webhooks:read webhooks:write audit:read';
let nova, a, aTok, b, bTok;

before(async () => {
  nova = await startNova();
  a = makeTenant(nova, 'ctl-channels-a-' + tag, SCOPES);
  b = makeTenant(nova, 'ctl-channels-b-' + tag, SCOPES);
  aTok = await token(nova, a);
  bTok = await token(nova, b);
});
after(async () => { await nova.stop(); });

// novactl with a body on standard input (args end in '-').
function ctlIn(input, ...args) {
  const r = spawnSync(CTL, ['--json', ...args], { env: nova.env, encoding: 'utf8', input });
  let json = null;
  try { json = JSON.parse(r.stdout); } catch { /* not JSON */ }
  let err = null;
  try { err = JSON.parse(r.stderr); } catch { /* not JSON */ }
  return { code: r.status, json, err, stdout: r.stdout, stderr: r.stderr };
}
function ctlText(...args) {
  return spawnSync(CTL, args, { env: nova.env, encoding: 'utf8' });
}
function file(name, body) {
  const p = join(nova.dir, name);
  writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
  return p;
}

// A GET sent again once when the kept-alive connection it went out on was being closed by
// novad's idle limit at that moment (a GET changes nothing, so sending it twice is safe).
async function get(path, tok) {
  try {
    return await call(nova, 'GET', path, { tok });
  } catch (e) {
    if (e.message !== 'fetch failed') throw e;
    return call(nova, 'GET', path, { tok });
  }
}

async function auditOf(tok) {
  const out = [];
  let cursor = null;
  do {
    const r = await call(nova, 'GET', `/v1/audit?limit=200${cursor ? '&cursor=' + cursor : ''}`, { tok });
    assert.equal(r.status, 200, r.text);
    out.push(...r.json.entries);
    cursor = r.json.next_cursor;
  } while (cursor);
  return out;
}

const sms = { type: 'sms', username: 'sandbox', api_key: API_KEY, to: [NUMBER], events: ['verification.completed'] };
const email = { type: 'email', smtp_url: 'smtp://127.0.0.1:2525', username: 'mailer', password: SMTP_PASS, from: 'nova@example.com',
  to: ['ops@example.com'], events: ['verification.completed', 'review.decided'] };

test('create, list, show, update, delete: the rows and audit entries of the HTTP routes', async () => {
  const c = nova.ctl('channel', 'create', '--tenant', a.tenant, file('sms.json', sms));
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.json.id, /^nch_/);
  assert.equal(c.json.api_key, true);
  assert.equal(c.json.target, 'https://api.sandbox.africastalking.com/version1/messaging');
  assert.ok(!c.stdout.includes(API_KEY), 'the API key is never printed');
  // The same row over HTTP, and a channel made over HTTP in novactl's list.
  const g = await call(nova, 'GET', '/v1/notifications/channels/' + c.json.id, { tok: aTok });
  assert.equal(g.status, 200, g.text);
  assert.deepEqual(g.json, c.json);
  const h = await call(nova, 'POST', '/v1/notifications/channels', { tok: aTok, body: email });
  assert.equal(h.status, 201, h.text);
  const l = nova.ctl('channel', 'list', '--tenant', a.tenant);
  assert.equal(l.code, 0, l.stderr);
  // Oldest first; two made in one second come in id order.
  assert.deepEqual(l.json.channels.map((x) => x.id).sort(), [c.json.id, h.json.id].sort());
  assert.deepEqual(l.json.channels.find((x) => x.id === h.json.id), (await call(nova, 'GET', '/v1/notifications/channels/' + h.json.id, { tok: aTok })).json);
  const http = await call(nova, 'GET', '/v1/notifications/channels', { tok: aTok });
  assert.deepEqual(l.json.channels, http.json.channels, 'the same list as the route');
  // Text: one line each, id, type, state, types; no address, number or secret.
  const t = ctlText('channel', 'list', '--tenant', a.tenant);
  assert.equal(t.status, 0, t.stderr);
  assert.deepEqual(t.stdout.split('\n').filter(Boolean).sort(), [`${c.json.id}  sms  enabled  verification.completed`,
    `${h.json.id}  email  enabled  verification.completed review.decided`].sort());
  const s = nova.ctl('channel', 'show', '--tenant', a.tenant, h.json.id);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.json.password, true);
  assert.ok(!s.stdout.includes(SMTP_PASS));

  // Update from standard input (what is left out is kept); seen at once over HTTP.
  const u = ctlIn(JSON.stringify({ enabled: false, to: ['+254722000002', NUMBER] }), 'channel', 'update', '--tenant', a.tenant, c.json.id, '-');
  assert.equal(u.code, 0, u.stderr);
  assert.equal(u.json.enabled, false);
  assert.equal(u.json.api_key, true, 'the key is kept when not given');
  const after = await call(nova, 'GET', '/v1/notifications/channels/' + c.json.id, { tok: aTok });
  assert.equal(after.json.enabled, false);
  assert.deepEqual(after.json.to, ['+254722000002', NUMBER]);

  // Delete: gone over HTTP too; a second delete is not found.
  const d = nova.ctl('channel', 'delete', '--tenant', a.tenant, c.json.id);
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual(d.json, { id: c.json.id, deleted: true });
  assert.equal((await call(nova, 'GET', '/v1/notifications/channels/' + c.json.id, { tok: aTok })).status, 404);
  assert.equal(nova.ctl('channel', 'delete', '--tenant', a.tenant, c.json.id).code, 7);

  // The audit entries: the routes' actions, novactl's name, no secret, number or address.
  const entries = await auditOf(aTok);
  for (const action of ['notify.channel.create', 'notify.channel.update', 'notify.channel.delete']) {
    const e = entries.find((x) => x.action === action && x.target === 'notify_channel:' + c.json.id);
    assert.ok(e, 'no ' + action);
    assert.equal(e.actor, 'novactl');
  }
  const byHttp = entries.find((x) => x.action === 'notify.channel.create' && x.target === 'notify_channel:' + h.json.id);
  assert.equal(byHttp.actor, a.id);
  const text = JSON.stringify(entries);
  for (const secret of [API_KEY, SMTP_PASS, NUMBER, '+254722000002', 'ops@example.com', 'nova@example.com'])
    assert.ok(!text.includes(secret), 'the audit log holds ' + secret);
  const v = nova.ctl('audit', 'verify', '--tenant', a.tenant);
  assert.equal(v.code, 0, v.stderr);
});

test('bad input is exit 6 naming the field; another tenant\'s channel is not found; nothing changes', async () => {
  // b's channel first, right after the previous test's requests: novad closes a kept-alive
  // connection idle for NOVA_HEADER_TIMEOUT (10 s), and the novactl runs below take about
  // that long under ASan, so a request sent then could meet the close (see get()).
  const bc = await call(nova, 'POST', '/v1/notifications/channels', { tok: bTok, body: sms });
  assert.equal(bc.status, 201, bc.text);
  const before = nova.ctl('channel', 'list', '--tenant', a.tenant).json.channels.length;
  const cases = [
    [{ ...sms, to: ['0711000001'] }, 'to'],
    [{ ...sms, api_key: undefined }, 'api_key'],
    [{ ...sms, type: 'fax' }, 'type'],
    [{ ...email, smtp_url: 'http://127.0.0.1:25' }, 'smtp_url'],
    [{ ...email, to: ['ops@example.com\r\nBcc: x@example.net'] }, 'to'],
    [{ ...sms, oops: 1 }, 'oops'],
    [{ ...email, events: ['verification.exploded'] }, 'events'],
  ];
  for (const [body, field] of cases) {
    const r = ctlIn(JSON.stringify(body), 'channel', 'create', '--tenant', a.tenant, '-');
    assert.equal(r.code, 6, field + ': ' + r.stderr);
    assert.equal(r.err.field, field, r.stderr);
    assert.equal(r.stdout, '');
    for (const secret of [API_KEY, SMTP_PASS]) assert.ok(!r.stderr.includes(secret));
  }
  for (const text of ['', 'not json', '[]', '{"type":"sms","type":"email"}']) {
    const r = ctlIn(text, 'channel', 'create', '--tenant', a.tenant, '-');
    assert.equal(r.code, 6, text + ': ' + r.stderr);
  }
  assert.equal(nova.ctl('channel', 'create', '--tenant', a.tenant, join(nova.dir, 'missing.json')).code, 6);
  assert.equal(nova.ctl('channel', 'create', '--tenant', a.tenant, file('big.json', ' '.repeat(210 << 10) + '{}')).code, 6);
  const empty = ctlIn('{}', 'channel', 'update', '--tenant', a.tenant, 'nch_x', '-');
  assert.equal(empty.code, 6, empty.stderr);
  // The text form names the field too.
  const t = spawnSync(CTL, ['channel', 'create', '--tenant', a.tenant, '-'], { env: nova.env, encoding: 'utf8', input: JSON.stringify({ ...sms, to: ['x'] }) });
  assert.equal(t.status, 6);
  assert.match(t.stderr, /^novactl: to: /);
  assert.equal(nova.ctl('channel', 'list', '--tenant', a.tenant).json.channels.length, before);

  // Tenant isolation: b's channel is not a's to show, change or delete.
  assert.equal(nova.ctl('channel', 'show', '--tenant', a.tenant, bc.json.id).code, 7);
  assert.equal(ctlIn('{"enabled":false}', 'channel', 'update', '--tenant', a.tenant, bc.json.id, '-').code, 7);
  assert.equal(nova.ctl('channel', 'delete', '--tenant', a.tenant, bc.json.id).code, 7);
  assert.equal((await get('/v1/notifications/channels/' + bc.json.id, bTok)).json.enabled, true);
  assert.equal(nova.ctl('channel', 'list', '--tenant', 'ten_nope').code, 7);
  // Usage errors: exit 2.
  assert.equal(nova.ctl('channel', 'list').code, 2);
  assert.equal(nova.ctl('channel', 'show', '--tenant', a.tenant).code, 2);
  assert.equal(nova.ctl('channel', 'frobnicate', '--tenant', a.tenant).code, 2);
});

test('a Twilio channel: created from a file, the same row over HTTP, its token sealed and never printed or audited; bad Twilio members are exit 6 naming the field', async () => {
  const account = 'AC' + randomBytes(16).toString('hex');
  const authToken = randomBytes(16).toString('hex');
  const twilio = { type: 'sms', provider: 'twilio', account_sid: account, auth_token: authToken, from: '+15005550006',
    to: [NUMBER], events: ['verification.completed'] };
  const c = nova.ctl('channel', 'create', '--tenant', a.tenant, file('twilio.json', twilio));
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.json.id, /^nch_/);
  assert.equal(c.json.provider, 'twilio');
  assert.equal(c.json.auth_token, true);
  assert.equal(c.json.target, `https://api.twilio.com/2010-04-01/Accounts/${account}/Messages.json`);
  assert.ok(!c.stdout.includes(authToken), 'the auth token is never printed');
  const g = await get('/v1/notifications/channels/' + c.json.id, aTok);
  assert.deepEqual(g.json, c.json);
  const t = ctlText('channel', 'show', '--tenant', a.tenant, c.json.id);
  assert.equal(t.status, 0, t.stderr);
  assert.equal(t.stdout.trim(), `${c.json.id}  sms  enabled  verification.completed`);
  for (const [body, field] of [[{ ...twilio, account_sid: 'AC1' }, 'account_sid'], [{ ...twilio, auth_token: undefined }, 'auth_token'],
    [{ ...twilio, from: undefined }, 'from'], [{ ...twilio, api_key: 'x' }, 'api_key']]) {
    const r = ctlIn(JSON.stringify(body), 'channel', 'create', '--tenant', a.tenant, '-');
    assert.equal(r.code, 6, field + ': ' + r.stderr);
    assert.equal(r.err.field, field, r.stderr);
    assert.ok(!r.stderr.includes(authToken));
  }
  const u = ctlIn(JSON.stringify({ provider: 'africastalking' }), 'channel', 'update', '--tenant', a.tenant, c.json.id, '-');
  assert.equal(u.code, 6, u.stderr);
  assert.equal(u.err.field, 'provider');
  const entries = await auditOf(aTok);
  const e = entries.find((x) => x.action === 'notify.channel.create' && x.target === 'notify_channel:' + c.json.id);
  assert.equal(e.actor, 'novactl');
  const text = JSON.stringify(entries);
  assert.ok(!text.includes(authToken) && !text.includes(NUMBER), 'the audit log holds the token or the number');
});
