// SMS through Twilio, and SMS whose outcome the provider leaves unknown (issue 9 item 6), end
// to end: the real novad delivers the gateway's outbox events to
// - a stand-in for Twilio's Programmable Messaging API (node http) that speaks its protocol:
//   POST /2010-04-01/Accounts/{AccountSid}/Messages.json with HTTP Basic auth (account SID and
//   auth token, or API key SID and secret), a form of To, From or MessagingServiceSid, Body
//   and StatusCallback, JSON replies {sid, status, ...} (201) or {code, message, more_info,
//   status} (400 code 21211 for an invalid number, 401 code 20003, 429 code 20429, 500); a
//   request of another shape is refused and recorded, and fails the test;
// - an Africa's Talking stand-in that takes the request and answers a 201 that is not
//   SMSMessageData, or never answers at all.
// Each recipient receives the message exactly once across retries, a number Twilio refuses
// for good is asked for once, the unknown outcome is not resent (until a replay), the metrics
// count recipients by provider and outcome, and no token, key or phone number reaches
// novad's log, the audit log or the API's delivery log unmasked. Waits are bounded polls.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import twilio from 'twilio';
import { startNova, makeTenant, token, call } from '../integration/lib.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const SUFFIX = randomBytes(4).toString('hex');
const SCOPES = 'workflows:write verifications:read verifications:write webhooks:read webhooks:write audit:read';
const METRICS = 'metrics-token-for-sms-provider-tests';
const ACCOUNT = 'AC' + randomBytes(16).toString('hex');
const AUTH_TOKEN = randomBytes(16).toString('hex');
const KEY_SID = 'SK' + randomBytes(16).toString('hex');
const KEY_SECRET = 'keysecret' + randomBytes(12).toString('hex');
const SERVICE = 'MG' + randomBytes(16).toString('hex');
const FROM = '+15005550006';
const AT_KEY = 'atsk_' + randomBytes(16).toString('hex');
const NUMBERS = ['+254711000001', '+254722000002', '+254733000003', '+254744000004', '+254755000005'];
const ALL = ['verification.completed', 'verification.failed', 'verification.review_required', 'review.decided'];
const KYC = {
  name: 'kyc sms providers',
  steps: [
    { check: 'ocr', config: { min_confidence: 0.5 } },
    { check: 'mrz' },
    { check: 'document_authenticity', on_fail: 'review' },
    { check: 'age', config: { min_age: 18 } },
  ],
  review_rules: [{ any_step: 'review' }],
  decision: { approve_at: 0.7, reject_below: 0.4 },
};
let nova, work, doc;

async function until(what, fn, tries = 600) {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v;
    await sleep(100);
  }
  throw new Error('gave up waiting for ' + what);
}

// Twilio's Messages resource. answers[number] lists what each request for that number gets
// (the last repeats; default 201): 201, 400 (code 21211), 429 (20429), 500. user/pass: the
// Basic credentials it accepts (others get 401 code 20003, as Twilio answers).
async function twilioServer({ answers = {}, user = ACCOUNT, pass = AUTH_TOKEN } = {}) {
  const got = [];
  const bad = [];
  const seen = {};
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const reply = (status, json) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      const error = (status, code, message) => reply(status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
      const problems = [];
      const path = `/2010-04-01/Accounts/${ACCOUNT}/Messages.json`;
      if (req.method !== 'POST' || req.url !== path) problems.push('path ' + req.method + ' ' + req.url);
      if (req.headers.accept !== 'application/json') problems.push('accept');
      if (!(req.headers['content-type'] || '').startsWith('application/x-www-form-urlencoded')) problems.push('content-type');
      const f = new URLSearchParams(body);
      for (const k of f.keys()) if (!['To', 'From', 'MessagingServiceSid', 'Body', 'StatusCallback'].includes(k)) problems.push('unknown field ' + k);
      if (!f.get('To') || !f.get('Body')) problems.push('To and Body');
      if (!!f.get('From') === !!f.get('MessagingServiceSid')) problems.push('From or MessagingServiceSid');
      if (f.getAll('To').length !== 1) problems.push('one To');
      if (problems.length) {
        bad.push(problems);
        return error(400, 21604, problems.join(', '));
      }
      const auth = req.headers.authorization || '';
      const [u, p] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString().split(':');
      if (!auth.startsWith('Basic ') || u !== user || p !== pass) {
        got.push({ form: Object.fromEntries(f), status: 401 });
        return error(401, 20003, 'Authenticate');
      }
      const to = f.get('To');
      const list = answers[to] || [201];
      const k = seen[to] = (seen[to] ?? -1) + 1;
      const status = list[Math.min(k, list.length - 1)];
      const sid = status === 201 ? 'SM' + randomBytes(16).toString('hex') : undefined;
      got.push({ form: Object.fromEntries(f), status, sid });
      if (status === 400) return error(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
      if (status === 429) return error(429, 20429, 'Too Many Requests');
      if (status === 500) { res.writeHead(500, { 'content-type': 'text/html' }); return res.end('<html>Internal Server Error</html>'); }
      reply(201, { account_sid: ACCOUNT, api_version: '2010-04-01', body: f.get('Body'), date_created: new Date().toUTCString(),
        direction: 'outbound-api', error_code: null, error_message: null, from: f.get('From') || null,
        messaging_service_sid: f.get('MessagingServiceSid') || null, num_media: '0', num_segments: '1', price: null,
        sid, status: f.get('MessagingServiceSid') ? 'accepted' : 'queued', to,
        uri: `/2010-04-01/Accounts/${ACCOUNT}/Messages/SMx.json` });
    });
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  return { srv, got, bad, url: `http://127.0.0.1:${srv.address().port}`, accepted: (n) => got.filter((g) => g.form.To === n && g.status === 201).length };
}

// Africa's Talking's endpoint that takes the request and then: 'html' answers 201 with a body
// that is not SMSMessageData; 'hang' never answers; 'ok' answers as Africa's Talking does.
async function atServer(mode) {
  const got = [];
  const open = new Set();
  const state = { mode };
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const f = new URLSearchParams(body);
      assert.equal(req.headers.apikey, AT_KEY);
      got.push(Object.fromEntries(f));
      if (state.mode === 'hang') { open.add(res); return; }
      if (state.mode === 'html') { res.writeHead(201, { 'content-type': 'text/html' }); return res.end('<html><body>Message queued</body></html>'); }
      const to = f.get('to').split(',');
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ SMSMessageData: { Message: `Sent to ${to.length}/${to.length}`,
        Recipients: to.map((n, i) => ({ statusCode: 101, number: n, status: 'Success', cost: 'KES 0.8000', messageId: 'ATXid_' + i })) } }));
    });
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  return { srv, got, state, url: `http://127.0.0.1:${srv.address().port}`, close: () => { for (const r of open) r.destroy(); srv.close(); } };
}

async function metrics() {
  const r = await call(nova, 'GET', '/metrics', { tok: METRICS });
  assert.equal(r.status, 200, r.text);
  const out = {};
  for (const m of r.text.matchAll(/^nova_sms_recipients_total\{provider="(\w+)",outcome="(\w+)"\} (\d+)$/gm)) out[m[1] + '.' + m[2]] = Number(m[3]);
  return out;
}

// A tenant with one SMS channel (body), one verification, its event and the SMS delivery once
// it is no longer pending.
// prepare(tok, channel, tenant), when given, runs once the channel exists, before the event.
async function run(name, channel, prepare) {
  const client = makeTenant(nova, name + '-' + SUFFIX, SCOPES);
  const tok = await token(nova, client);
  const ch = await call(nova, 'POST', '/v1/notifications/channels', { tok, body: channel });
  assert.equal(ch.status, 201, ch.text);
  if (prepare) await prepare(tok, ch.json, client.tenant);
  const w = await call(nova, 'POST', '/v1/workflows', { tok, body: KYC });
  assert.equal(w.status, 201, w.text);
  const r = await call(nova, 'POST', '/v1/verifications', { tok, body: { workflow_id: w.json.id, mode: 'async', images: { document_front: doc.b64 }, applicant: doc.truth.applicant } });
  assert.ok(r.status === 202 || r.status === 201, r.text);
  const ev = await until('the event', async () => (await call(nova, 'GET', '/v1/events?limit=200', { tok })).json.events.find((e) => e.subject === r.json.id));
  const settled = () => until('the SMS delivery settled', async () => {
    const g = await call(nova, 'GET', '/v1/events/' + ev.id, { tok });
    assert.equal(g.status, 200, g.text);
    return g.json.deliveries.length === 1 && g.json.deliveries[0].state !== 'pending' ? g : null;
  }, 900);
  return { tok, ch: ch.json, ev, settled, tenant: client.tenant };
}

// The items of an attempt's result: masked number -> { tag, code, status }.
function items(result) {
  return Object.fromEntries(result.split(' ').map((i) => {
    const m = i.match(/^(\+\d{3}\*+\d{2})#([0-9a-f]{16})=(-?\d+):([\w-]+)$/);
    assert.ok(m, i);
    return [m[1], { tag: m[2], code: Number(m[3]), status: m[4] }];
  }));
}

function twilioBody(url, extra = {}) {
  return { type: 'sms', provider: 'twilio', account_sid: ACCOUNT, auth_token: AUTH_TOKEN, from: FROM,
    to: NUMBERS.slice(0, 4), base_url: url, events: ALL, ...extra };
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'nova-sms-'));
  const g = spawnSync(PY, [join(ROOT, 'tools/idv_docgen.py'), work, '--count', '1', '--formats', 'TD3', '--seed', '11'], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  const f = readdirSync(work).find((x) => x.endsWith('.jpg'));
  doc = { b64: readFileSync(join(work, f)).toString('base64'), truth: JSON.parse(readFileSync(join(work, f.replace('.jpg', '.json')), 'utf8')) };
  nova = await startNova({ NOVA_IDV_WORKERS: '1', NOVA_WEBHOOK_ALLOW_PRIVATE: 'true', NOVA_METRICS_TOKEN: METRICS });
});

after(async () => {
  const logs = nova ? nova.logs() : '';
  if (nova) await nova.stop();
  for (const s of [AUTH_TOKEN, KEY_SECRET, AT_KEY]) assert.ok(!logs.includes(s), 'a secret reached the log');
  for (const n of NUMBERS) assert.ok(!logs.includes(n) && !logs.includes(n.slice(1)), n + ' reached the log');
  if (work) rmSync(work, { recursive: true, force: true });
});

test('Twilio: bad settings are 422s naming the field; the target is the account\'s Messages resource; secrets never shown', async () => {
  const tok = await token(nova, makeTenant(nova, 'sms-bad-' + SUFFIX, SCOPES));
  const url = 'http://127.0.0.1:9';
  const cases = [
    [twilioBody(url, { provider: 'sinch' }), 'provider'],
    [twilioBody(url, { account_sid: 'AC123' }), 'account_sid'],
    [twilioBody(url, { auth_token: undefined }), 'auth_token'],
    [twilioBody(url, { auth_token: 'a b' }), 'auth_token'],
    [twilioBody(url, { api_key_sid: KEY_SID }), 'auth_token'],
    [twilioBody(url, { auth_token: undefined, api_key_secret: KEY_SECRET }), 'api_key_secret'],
    [twilioBody(url, { from: undefined }), 'from'],
    [twilioBody(url, { messaging_service_sid: SERVICE }), 'messaging_service_sid'],
    [twilioBody(url, { to: ['0711000001'] }), 'to'],
    [twilioBody(url, { base_url: 'http://api.twilio.com' }), 'base_url'],
    [twilioBody(url, { status_callback: 'http://example.com/cb' }), 'status_callback'],
    [twilioBody(url, { username: 'x' }), 'username'],
    [twilioBody(url, { sender_id: 'NOVA' }), 'sender_id'],
  ];
  for (const [body, field] of cases) {
    const r = await call(nova, 'POST', '/v1/notifications/channels', { tok, body });
    assert.equal(r.status, 422, field + ': ' + r.text);
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
    assert.ok(r.json.detail.startsWith(field + ':'), field + ' -> ' + r.json.detail);
  }
  const live = await call(nova, 'POST', '/v1/notifications/channels', { tok, body: twilioBody(undefined) });
  assert.equal(live.status, 201, live.text);
  assert.equal(live.json.target, `https://api.twilio.com/2010-04-01/Accounts/${ACCOUNT}/Messages.json`);
  assert.equal(live.json.auth_token, true);
  assert.equal(live.json.provider, 'twilio');
  assert.ok(!live.text.includes(AUTH_TOKEN), 'the auth token is never shown');
  // The provider cannot change; switching to an API key wants its secret.
  for (const [body, field] of [[{ provider: 'africastalking' }, 'provider'], [{ api_key_sid: KEY_SID }, 'api_key_secret']]) {
    const r = await call(nova, 'PATCH', '/v1/notifications/channels/' + live.json.id, { tok, body });
    assert.equal(r.status, 422, r.text);
    assert.ok(r.json.detail.startsWith(field + ':'), r.json.detail);
  }
  const key = await call(nova, 'PATCH', '/v1/notifications/channels/' + live.json.id, { tok, body: { api_key_sid: KEY_SID, api_key_secret: KEY_SECRET } });
  assert.equal(key.status, 200, key.text);
  assert.equal(key.json.api_key_secret, true);
  assert.equal(key.json.auth_token, undefined);
  // The audit names members, never values.
  const audit = await call(nova, 'GET', '/v1/audit?limit=200', { tok });
  assert.equal(audit.status, 200, audit.text);
  const mine = audit.json.entries.filter((e) => e.action.startsWith('notify.channel.'));
  assert.deepEqual(mine.map((e) => e.action).sort(), ['notify.channel.create', 'notify.channel.update']);
  const text = JSON.stringify(audit.json);
  for (const s of [AUTH_TOKEN, KEY_SECRET, ...NUMBERS]) assert.ok(!text.includes(s), 'the audit holds a secret or a number');
});

test('Twilio: one message per recipient, each delivered exactly once across retries; a number refused for good is asked for once', async () => {
  const [A, B, C, D] = NUMBERS;
  // A accepted at once; B 429 (the send stops there), then accepted; C 21211 for good; D 500, then accepted.
  const tw = await twilioServer({ answers: { [B]: [429, 201], [C]: [400], [D]: [500, 201] } });
  const before = await metrics();
  try {
    const { tok, ev, settled } = await run('sms-twilio', twilioBody(tw.url, { status_callback: 'https://hooks.example.com/twilio/status' }));
    const g = await settled();
    const d = g.json.deliveries[0];
    assert.equal(d.state, 'delivered', JSON.stringify(d));
    assert.equal(d.attempts, 3, JSON.stringify(d));
    assert.deepEqual(tw.bad, [], 'every request spoke Twilio\'s protocol');
    // The requests, in order: A, B (429: stop); B, C, D; D.
    assert.deepEqual(tw.got.map((x) => [x.form.To, x.status]), [[A, 201], [B, 429], [B, 201], [C, 400], [D, 500], [D, 201]]);
    for (const n of [A, B, D]) assert.equal(tw.accepted(n), 1, n + ' received it once');
    assert.equal(tw.got.filter((x) => x.form.To === C).length, 1, 'the invalid number was asked for once');
    const f = tw.got[0].form;
    assert.equal(f.From, FROM);
    assert.equal(f.StatusCallback, 'https://hooks.example.com/twilio/status');
    assert.match(f.Body, new RegExp(`^Nova ${ev.type}: verification ${ev.subject}, decision \\w+ \\(${ev.id}\\)$`));
    assert.ok(tw.got.every((x) => x.form.Body === f.Body), 'the same message to everyone');
    // The delivery log: per recipient, masked and tagged, with Twilio's status or error code.
    const [one, two, three] = d.log.map((x) => items(x.result));
    assert.deepEqual(Object.keys(one), ['+254*******01', '+254*******02', '+254*******03', '+254*******04']);
    assert.deepEqual(Object.values(one).map((x) => [x.code, x.status]), [[201, 'queued'], [429, 'E20429'], [0, 'NotListed'], [0, 'NotListed']]);
    assert.deepEqual(Object.values(two).map((x) => [x.code, x.status]), [[201, 'queued'], [400, 'E21211'], [500, '-']]);
    assert.deepEqual(Object.keys(three), ['+254*******04']);
    assert.equal(three['+254*******04'].tag, one['+254*******04'].tag);
    assert.match(d.log[2].error, /^1 of 4 recipients refused$/);
    for (const n of NUMBERS) assert.ok(!g.text.includes(n) && !g.text.includes(n.slice(1)), 'a number in the delivery log');
    const after = await metrics();
    const delta = (k) => (after[k] ?? 0) - (before[k] ?? 0);
    assert.equal(delta('twilio.accepted'), 3);
    assert.equal(delta('twilio.refused'), 1);
    assert.equal(delta('twilio.retry'), 4); // B 429, C and D not tried, D 500
    assert.equal(delta('twilio.unknown'), 0);
    // Replay: a new round, every recipient again (C refused again).
    assert.equal((await call(nova, 'POST', `/v1/events/${ev.id}/replay`, { tok })).status, 202);
    await until('the replayed messages', async () => tw.got.length === 10);
    const again = (await settled()).json.deliveries[0];
    assert.equal(again.state, 'delivered', JSON.stringify(again));
    assert.deepEqual(tw.got.slice(6).map((x) => [x.form.To, x.status]), [[A, 201], [B, 201], [C, 400], [D, 201]]);
  } finally {
    tw.srv.close();
  }
});

test('Twilio: an API key and a messaging service; wrong credentials refuse the channel after one request', async () => {
  const tw = await twilioServer({ user: KEY_SID, pass: KEY_SECRET });
  try {
    const ok = await run('sms-twilio-key', twilioBody(tw.url, { auth_token: undefined, api_key_sid: KEY_SID, api_key_secret: KEY_SECRET,
      from: undefined, messaging_service_sid: SERVICE, to: [NUMBERS[4]] }));
    const d = (await ok.settled()).json.deliveries[0];
    assert.equal(d.state, 'delivered', JSON.stringify(d));
    assert.deepEqual(tw.got.map((x) => [x.form.MessagingServiceSid, x.form.From, x.status]), [[SERVICE, undefined, 201]]);
    assert.equal(items(d.log[0].result)['+254*******05'].status, 'accepted');
    // The auth token where the key's secret belongs: Twilio answers 401 (20003) and no other
    // recipient is asked for.
    const n = tw.got.length;
    const bad = await run('sms-twilio-401', twilioBody(tw.url));
    const b = (await bad.settled()).json.deliveries[0];
    assert.equal(b.state, 'failed', JSON.stringify(b));
    assert.equal(b.attempts, 1);
    assert.equal(tw.got.length, n + 1, 'one request, then the channel is refused');
    assert.deepEqual(Object.values(items(b.log[0].result)).map((x) => [x.code, x.status]), [[401, 'E20003'], [401, 'E20003'], [401, 'E20003'], [401, 'E20003']]);
    assert.match(b.log[0].error, /^every recipient refused/);
  } finally {
    tw.srv.close();
  }
});

test('Africa\'s Talking: a 201 that is not SMSMessageData, or no reply once the form is sent, leaves the outcome unknown: not resent, counted, shown; a replay resends', async () => {
  for (const mode of ['html', 'hang']) {
    const at = await atServer(mode);
    const before = await metrics();
    try {
      const { tok, ev, settled } = await run('sms-at-' + mode, { type: 'sms', provider: 'africastalking', username: 'novatest', api_key: AT_KEY,
        to: NUMBERS.slice(0, 2), base_url: at.url, events: ALL });
      const d = (await settled()).json.deliveries[0];
      assert.equal(d.state, 'failed', JSON.stringify(d));
      assert.equal(d.attempts, 1, 'not retried');
      assert.equal(at.got.length, 1);
      assert.deepEqual(Object.values(items(d.log[0].result)).map((x) => [x.code, x.status]), [[-1, 'Unknown'], [-1, 'Unknown']]);
      assert.match(d.log[0].error, /^outcome unknown for 2 of 2 recipients/);
      const after = await metrics();
      assert.equal((after['africastalking.unknown'] ?? 0) - (before['africastalking.unknown'] ?? 0), 2);
      assert.match(nova.logs(), new RegExp(`sms delivery ${d.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the provider took the request, outcome unknown for 2 recipients`));
      // Still nothing more after a backoff's worth of time.
      await sleep(2500);
      assert.equal(at.got.length, 1, 'an unknown outcome is not resent');
      // A replay (someone's decision) sends again; the provider now answers properly.
      at.state.mode = 'ok';
      assert.equal((await call(nova, 'POST', `/v1/events/${ev.id}/replay`, { tok })).status, 202);
      await until('the replayed SMS', async () => at.got.length === 2);
      const again = (await settled()).json.deliveries[0];
      assert.equal(again.state, 'delivered', JSON.stringify(again));
      assert.equal(at.got[1].to, NUMBERS.slice(0, 2).join(','));
    } finally {
      at.close();
    }
  }
});

// Twilio's status callback as Twilio posts it: a form of its parameters, signed in
// X-Twilio-Signature by the npm twilio library's own signer (getExpectedTwilioSignature) with
// the auth token over the StatusCallback URL, so Nova's check is proven against Twilio's
// algorithm, not against itself. sign: false sends no signature; a string signs with it.
async function statusCallback(url, params, { sign = AUTH_TOKEN, body, postTo } = {}) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
  if (sign) headers['x-twilio-signature'] = twilio.getExpectedTwilioSignature(sign, url, params);
  // The library's validator agrees with the signature it made (and so with Nova's, below).
  if (sign === AUTH_TOKEN) assert.ok(twilio.validateRequest(AUTH_TOKEN, headers['x-twilio-signature'], url, params));
  const r = await fetch(postTo || url, { method: 'POST', headers, body: body ?? new URLSearchParams(params).toString() });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, text, json, headers: r.headers };
}

function callbackParams(sid, status, extra = {}) {
  return { ApiVersion: '2010-04-01', AccountSid: ACCOUNT, From: FROM, MessageSid: sid, MessageStatus: status,
    SmsSid: sid, SmsStatus: status, To: NUMBERS[0], ...extra };
}

async function callbackMetrics() {
  const r = await call(nova, 'GET', '/metrics', { tok: METRICS });
  const out = {};
  for (const m of r.text.matchAll(/^nova_sms_status_callbacks_total\{provider="twilio",status="(\w+)"\} (\d+)$/gm)) out[m[1]] = Number(m[2]);
  for (const m of r.text.matchAll(/^nova_sms_status_callback_refusals_total\{provider="twilio",reason="(\w+)"\} (\d+)$/gm)) out['refused.' + m[1]] = Number(m[2]);
  return out;
}

test('Twilio status callbacks: signed as Twilio signs, a message\'s status moves forward only, once; every refusal is a problem', async () => {
  const [A, B] = NUMBERS;
  const tw = await twilioServer();
  const before = await callbackMetrics();
  try {
    let cbUrl;
    const { tok, ev, settled, ch, tenant } = await run('sms-twilio-cb', twilioBody(tw.url, { to: [A, B] }), async (tok, ch, tenant) => {
      cbUrl = `${nova.base}/webhooks/twilio/status/${tenant}/${ch.id}`;
      const p = await call(nova, 'PATCH', '/v1/notifications/channels/' + ch.id, { tok, body: { status_callback: cbUrl } });
      assert.equal(p.status, 200, p.text);
    });
    const g = await settled();
    assert.equal(g.json.deliveries[0].state, 'delivered', g.text);
    assert.deepEqual(tw.got.map((x) => [x.form.To, x.form.StatusCallback, x.status]), [[A, cbUrl, 201], [B, cbUrl, 201]]);
    const [sa, sb] = tw.got.map((x) => x.sid);
    // The delivery log view ties each MessageSid to the delivery and the recipient's tag.
    const log = items(g.json.deliveries[0].log[0].result);
    const msgs = () => call(nova, 'GET', '/v1/events/' + ev.id, { tok }).then((r) => Object.fromEntries(r.json.sms_messages.map((m) => [m.message_sid, m])));
    let m = await msgs();
    assert.deepEqual(Object.keys(m).sort(), [sa, sb].sort());
    assert.equal(m[sa].recipient, log['+254*******01'].tag);
    assert.equal(m[sb].recipient, log['+254*******02'].tag);
    assert.equal(m[sa].status, 'queued');
    assert.equal(m[sa].delivery_id, g.json.deliveries[0].id);

    // delivered: the status moves.
    let r = await statusCallback(cbUrl, callbackParams(sa, 'delivered'));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { message_sid: sa, status: 'delivered', reported: 'delivered', changed: true });
    // sent after delivered (Twilio's callbacks come out of order): no regression.
    r = await statusCallback(cbUrl, callbackParams(sa, 'sent'));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { message_sid: sa, status: 'delivered', reported: 'sent', changed: false });
    // The same callback twice: one change.
    r = await statusCallback(cbUrl, callbackParams(sa, 'delivered'));
    assert.equal(r.json.changed, false);
    // undelivered with Twilio's error code.
    r = await statusCallback(cbUrl, callbackParams(sb, 'undelivered', { ErrorCode: '30003', To: B }));
    assert.equal(r.json.changed, true, r.text);
    m = await msgs();
    assert.equal(m[sa].status, 'delivered');
    assert.equal(m[sb].status, 'undelivered');
    assert.equal(m[sb].error_code, 30003);

    // Refusals, each a problem+json.
    const refused = async (res, status, code) => {
      assert.equal(res.status, status, res.text);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      assert.equal(res.json.code, code, res.text);
    };
    await refused(await statusCallback(cbUrl, callbackParams(sa, 'read'), { sign: 'not-the-token' }), 403, 'invalid_signature');
    await refused(await statusCallback(cbUrl, callbackParams(sa, 'read'), { sign: false }), 403, 'invalid_signature');
    // A parameter changed after signing.
    const signed = callbackParams(sa, 'failed');
    const tampered = new URLSearchParams({ ...signed, MessageStatus: 'read' }).toString();
    const sig = twilio.getExpectedTwilioSignature(AUTH_TOKEN, cbUrl, signed);
    const t = await fetch(cbUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig }, body: tampered });
    assert.equal(t.status, 403);
    // Signed with the right token, but another account's callback.
    await refused(await statusCallback(cbUrl, callbackParams(sa, 'read', { AccountSid: 'AC' + randomBytes(16).toString('hex') })), 403, 'account_mismatch');
    // A channel that does not exist, and this channel under another tenant's path.
    const other = makeTenant(nova, 'sms-twilio-cb-other-' + SUFFIX, SCOPES);
    for (const path of [`/webhooks/twilio/status/${tenant}/nch_doesnotexist`, `/webhooks/twilio/status/${other.tenant}/${ch.id}`]) {
      const u = nova.base + path;
      await refused(await statusCallback(u, callbackParams(sa, 'read')), 404, 'unknown_channel');
    }
    // A malformed form, and a MessageSid that is not Twilio's.
    await refused(await statusCallback(cbUrl, callbackParams(sa, 'read'), { body: 'MessageSid=%zz&MessageStatus=read' }), 400, 'twilio_malformed_callback');
    await refused(await statusCallback(cbUrl, callbackParams('SM123', 'read')), 400, 'twilio_malformed_callback');
    // A message this channel did not send.
    await refused(await statusCallback(cbUrl, callbackParams('SM' + randomBytes(16).toString('hex'), 'delivered')), 404, 'unknown_message');
    // Not a form.
    const j = await fetch(cbUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(j.status, 415);
    m = await msgs();
    assert.equal(m[sa].status, 'delivered', 'no refused callback changed anything');

    // A channel that sends with an API key has no auth token to check Twilio's signature with.
    const key = await call(nova, 'POST', '/v1/notifications/channels', { tok, body: twilioBody(tw.url, { auth_token: undefined, api_key_sid: KEY_SID, api_key_secret: KEY_SECRET }) });
    assert.equal(key.status, 201, key.text);
    const keyUrl = `${nova.base}/webhooks/twilio/status/${tenant}/${key.json.id}`;
    assert.equal((await call(nova, 'PATCH', '/v1/notifications/channels/' + key.json.id, { tok, body: { status_callback: keyUrl } })).status, 200);
    await refused(await statusCallback(keyUrl, callbackParams(sa, 'read')), 403, 'twilio_auth_token_required');

    // The audit: one entry per change, by "twilio", naming the message, never a number.
    const audit = await call(nova, 'GET', '/v1/audit?limit=200', { tok });
    const mine = audit.json.entries.filter((e) => e.action === 'sms.status');
    assert.equal(mine.length, 2, JSON.stringify(mine));
    assert.deepEqual(mine.map((e) => e.target).sort(), [`sms_message:${sa}`, `sms_message:${sb}`].sort());
    assert.ok(mine.every((e) => e.actor === 'twilio'));
    const text = JSON.stringify(audit.json) + JSON.stringify(await msgs());
    for (const n of NUMBERS) assert.ok(!text.includes(n) && !text.includes(n.slice(1)), 'a number in the audit or the log view');

    const after = await callbackMetrics();
    const delta = (k) => (after[k] ?? 0) - (before[k] ?? 0);
    assert.equal(delta('delivered'), 2);
    assert.equal(delta('sent'), 1);
    assert.equal(delta('undelivered'), 1);
    assert.equal(delta('refused.signature'), 3);
    assert.equal(delta('refused.account'), 1);
    assert.equal(delta('refused.unknown_channel'), 2);
    assert.equal(delta('refused.malformed'), 2);
    assert.equal(delta('refused.unknown_message'), 1);
    assert.equal(delta('refused.no_auth_token'), 1);
  } finally {
    tw.srv.close();
  }
});

test('Twilio status callbacks: a sender refused too often is refused 429 before anything is read', async () => {
  const strict = await startNova({ NOVA_RATELIMIT_AUTH_FAILURES_IP: '2' });
  try {
    const client = makeTenant(strict, 'sms-twilio-rl-' + SUFFIX, SCOPES);
    const url = `${strict.base}/webhooks/twilio/status/${client.tenant}/nch_nothere`;
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await statusCallback(url, callbackParams('SM' + randomBytes(16).toString('hex'), 'sent'))).status);
    assert.deepEqual(codes, [404, 404, 429]);
  } finally {
    await strict.stop();
  }
});
