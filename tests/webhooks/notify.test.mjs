// Email and SMS notifications (issue 9 item 6) and endpoint/channel update end to end: the
// real novad delivers the gateway's outbox events to
// - a real SMTP server (the npm smtp-server package) that offers STARTTLS with a certificate
//   from a CA made here and wants AUTH (refused over a connection that is not TLS): its first
//   message is answered 451 (try later), the retry lands;
// - a stand-in for Africa's Talking (node http) that checks the request shape of
//   POST /version1/messaging (form-encoded username, to, message, from; headers apiKey and
//   Accept: application/json) and answers the shape of SMSMessageData; its first request is
//   answered 500, the retry lands.
// A disabled channel or endpoint gets nothing, enabled again it gets the next event; replay
// resends through both channels; a server that offers no STARTTLS at an address not written
// as loopback, or one whose certificate the channel's CA does not sign, gets nothing; no
// password, API key or personal data reaches a message or novad's log. Waits are bounded
// polls, no timed assertions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer as createHttp } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { SMTPServer } from 'smtp-server';
import { pki } from './pki.mjs';
import { startNova, makeTenant, token, call } from '../integration/lib.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const SUFFIX = randomBytes(4).toString('hex');
const SCOPES = 'workflows:write verifications:read verifications:write reviews:read reviews:write webhooks:read webhooks:write';
const SMTP_USER = 'nova-mailer';
const SMTP_PASS = 'smtp-pass-' + randomBytes(8).toString('hex');
const AT_KEY = 'atsk_' + randomBytes(16).toString('hex');
const METRICS = 'metrics-token-for-notify-tests';
// This process's delivery metrics of one channel: attempts by outcome, failures, latency count.
async function channelMetrics(channel) {
  const r = await call(nova, 'GET', '/metrics', { tok: METRICS });
  assert.equal(r.status, 200, r.text);
  const out = { attempts: {} };
  for (const m of r.text.matchAll(new RegExp(`^nova_webhook_attempts_total\\{channel="${channel}",outcome="(\\w+)"\\} (\\d+)$`, 'gm'))) out.attempts[m[1]] = Number(m[2]);
  out.failures = Number(r.text.match(new RegExp(`^nova_webhook_failures_total\\{channel="${channel}"\\} (\\d+)$`, 'm'))?.[1]);
  out.count = Number(r.text.match(new RegExp(`^nova_webhook_attempt_duration_seconds_count\\{channel="${channel}"\\} (\\d+)$`, 'm'))?.[1]);
  out.inf = Number(r.text.match(new RegExp(`^nova_webhook_attempt_duration_seconds_bucket\\{channel="${channel}",le="\\+Inf"\\} (\\d+)$`, 'm'))?.[1]);
  return out;
}
let nova, tok, otherTok, doc, work, smtp, at, hook;

let ca, leaf, pem; // from pki(work) in before()

async function until(what, fn, tries = 600) {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v;
    await sleep(100);
  }
  throw new Error('gave up waiting for ' + what);
}

// A real SMTP server: STARTTLS offered (certificate from smtpca), AUTH PLAIN/LOGIN required
// and refused without TLS; the first message gets 451, the rest are kept.
async function smtpServer() {
  const mails = [];
  let tried = 0;
  const srv = new SMTPServer({
    key: pem('smtp.key'), cert: pem('smtp.pem'), authMethods: ['PLAIN', 'LOGIN'], allowInsecureAuth: false,
    logger: false, disabledCommands: [],
    onAuth(auth, session, cb) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASS) return cb(null, { user: auth.username });
      return cb(new Error('bad credentials'));
    },
    onData(stream, session, cb) {
      let raw = '';
      stream.on('data', (d) => { raw += d; });
      stream.on('end', () => {
        tried++;
        if (tried === 1) {
          const e = new Error('try again later');
          e.responseCode = 451;
          return cb(e);
        }
        mails.push({ raw, secure: session.secure, user: session.user, from: session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address) });
        cb(null, 'queued as ' + mails.length);
      });
    },
  });
  // A client that gives up on the TLS handshake (one that cannot verify the server) is an
  // 'error' of the server; counted, not thrown.
  let tlsErrors = 0;
  srv.on('error', () => { tlsErrors++; });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  return { srv, mails, url: `smtp://127.0.0.1:${srv.server.address().port}`, tried: () => tried, tlsErrors: () => tlsErrors };
}

// Africa's Talking's messaging API as its documentation gives it: the shape is checked, a
// wrong one is a 400 that the test then fails on. The first request is answered 500 unless
// failFirst is false; codes[number] lists the statusCode of that number in each request that
// holds it (the last repeats; 'omit' leaves it out of the reply; default 101).
const AT_STATUS = { 101: 'Success', 403: 'InvalidPhoneNumber', 405: 'InsufficientBalance', 502: 'RejectedByGateway' };
async function atServer({ failFirst = true, codes = {} } = {}) {
  const seen = {};
  const got = [];
  const bad = [];
  const srv = createHttp((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const f = new URLSearchParams(body);
      const problems = [];
      if (req.method !== 'POST' || req.url !== '/version1/messaging') problems.push('path ' + req.method + ' ' + req.url);
      if (req.headers.apikey !== AT_KEY) problems.push('apiKey header');
      if (req.headers.accept !== 'application/json') problems.push('accept');
      if (!(req.headers['content-type'] || '').startsWith('application/x-www-form-urlencoded')) problems.push('content-type');
      for (const k of ['username', 'to', 'message']) if (!f.get(k)) problems.push('missing ' + k);
      for (const k of f.keys()) if (!['username', 'to', 'message', 'from', 'bulkSMSMode', 'enqueue', 'keyword', 'linkId', 'retryDurationInHours'].includes(k)) problems.push('unknown field ' + k);
      if (problems.length) {
        bad.push(problems);
        res.writeHead(400, { 'content-type': 'text/plain' });
        return res.end(problems.join(', '));
      }
      got.push({ headers: req.headers, form: Object.fromEntries(f) });
      if (failFirst && got.length === 1) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        return res.end('Internal Server Error');
      }
      const to = f.get('to').split(',');
      const lines = [];
      for (const [i, n] of to.entries()) {
        const list = codes[n] || [101];
        const k = seen[n] = (seen[n] ?? -1) + 1;
        const code = list[Math.min(k, list.length - 1)];
        if (code === 'omit') continue;
        lines.push({ statusCode: code, number: n, status: AT_STATUS[code] || 'Failed', cost: code === 101 ? 'KES 0.8000' : '0', messageId: code === 101 ? 'ATXid_' + got.length + '_' + i : 'None' });
      }
      const sent = lines.filter((l) => l.statusCode === 101).length;
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ SMSMessageData: {
        Message: `Sent to ${sent}/${to.length} Total Cost: KES ${(0.8 * sent).toFixed(4)}`,
        Recipients: lines,
      } }));
    });
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  return { srv, got, bad, url: `http://127.0.0.1:${srv.address().port}` };
}

// An mTLS webhook receiver (as in delivery.test.mjs) recording what arrives.
async function receiver() {
  const got = [];
  const srv = createHttps({ key: pem('receiver.key'), cert: pem('receiver.pem'), ca: pem('cca.pem'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { got.push({ path: req.url, id: req.headers['webhook-id'], body }); res.writeHead(200); res.end('ok'); });
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  return { srv, got, url: (p) => `https://127.0.0.1:${srv.address().port}${p}` };
}

const KYC = {
  name: 'kyc notify',
  steps: [
    { check: 'ocr', config: { min_confidence: 0.5 } },
    { check: 'mrz' },
    { check: 'document_authenticity', on_fail: 'review' },
    { check: 'age', config: { min_age: 18 } },
  ],
  review_rules: [{ any_step: 'review' }],
  decision: { approve_at: 0.7, reject_below: 0.4 },
};
const ALL = ['verification.completed', 'verification.failed', 'verification.review_required', 'review.decided'];
let workflowId;

async function verify() {
  if (!workflowId) {
    const w = await call(nova, 'POST', '/v1/workflows', { tok, body: KYC });
    assert.equal(w.status, 201, w.text);
    workflowId = w.json.id;
  }
  const r = await call(nova, 'POST', '/v1/verifications', { tok, body: { workflow_id: workflowId, mode: 'async', images: { document_front: doc.b64 }, applicant: doc.truth.applicant } });
  assert.ok(r.status === 202 || r.status === 201, r.text);
  const v = await until('the decision', async () => {
    const g = await call(nova, 'GET', '/v1/verifications/' + r.json.id, { tok });
    return g.json.status === 'completed' || g.json.status === 'failed' ? g.json : null;
  });
  const ev = await until('the event', async () => {
    const l = await call(nova, 'GET', '/v1/events?limit=200', { tok });
    return l.json.events.find((e) => e.subject === v.id);
  });
  return { v, ev };
}

// The event's deliveries once none is pending.
async function settled(ev) {
  return until('deliveries settled', async () => {
    const g = await call(nova, 'GET', '/v1/events/' + ev.id, { tok });
    assert.equal(g.status, 200, g.text);
    return g.json.deliveries.every((d) => d.state !== 'pending') ? g.json.deliveries : null;
  }, 900);
}

function emailBody(extra = {}) {
  return { type: 'email', smtp_url: smtp.url, username: SMTP_USER, password: SMTP_PASS, from: 'nova@example.com',
    to: ['ops@example.com', 'risk@example.org'], ca_certificate: pem('smtpca.pem'), events: ALL, ...extra };
}
function smsBody(extra = {}) {
  return { type: 'sms', provider: 'africastalking', username: 'novatest', api_key: AT_KEY, sender_id: 'NOVA',
    to: ['+254711000001', '+254722000002'], base_url: at.url, events: ALL, ...extra };
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'nova-notify-'));
  ({ ca, leaf, pem } = pki(work));
  ca('smtpca'); ca('rca'); ca('cca');
  leaf('smtp', 'smtpca');
  leaf('receiver', 'rca');
  leaf('nova', 'cca');
  const g = spawnSync(PY, [join(ROOT, 'tools/idv_docgen.py'), work, '--count', '1', '--formats', 'TD3', '--seed', '11'], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  const f = readdirSync(work).find((x) => x.endsWith('.jpg'));
  doc = { b64: readFileSync(join(work, f)).toString('base64'), truth: JSON.parse(readFileSync(join(work, f.replace('.jpg', '.json')), 'utf8')) };
  smtp = await smtpServer();
  at = await atServer();
  hook = await receiver();
  nova = await startNova({ NOVA_IDV_WORKERS: '1', NOVA_WEBHOOK_ALLOW_PRIVATE: 'true', NOVA_METRICS_TOKEN: METRICS });
  tok = await token(nova, makeTenant(nova, 'notify-a-' + SUFFIX, SCOPES));
  otherTok = await token(nova, makeTenant(nova, 'notify-b-' + SUFFIX, SCOPES));
});

after(async () => {
  const logs = nova ? nova.logs() : '';
  if (nova) await nova.stop();
  smtp?.srv.close();
  at?.srv.close();
  hook?.srv.close();
  assert.ok(!logs.includes(SMTP_PASS), 'the SMTP password reached the log');
  assert.ok(!logs.includes(AT_KEY), 'the API key reached the log');
  assert.ok(!logs.includes('BEGIN PRIVATE KEY'), 'a private key reached the log');
  for (const n of ['+254711000001', '+254722000002', '+254733000003', '+254744000004', 'ops@example.com', 'risk@example.org'])
    assert.ok(!logs.includes(n), n + ' reached the log');
  if (work) rmSync(work, { recursive: true, force: true });
});

test('channels: bad settings are 422s naming the field; secrets are never shown', async () => {
  const cases = [
    [emailBody({ type: 'fax' }), 'type'],
    [emailBody({ smtp_url: 'http://127.0.0.1:25' }), 'smtp_url'],
    [emailBody({ smtp_url: 'smtp://user:pw@127.0.0.1:25' }), 'smtp_url'],
    [emailBody({ smtp_url: 'smtp://127.0.0.1:25/x?y' }), 'smtp_url'],
    [emailBody({ from: 'nova' }), 'from'],
    [emailBody({ to: ['ops@example.com\r\nBcc: thief@example.net'] }), 'to'],
    [emailBody({ to: [] }), 'to'],
    [emailBody({ to: ['a@example.com', 'a@example.com'] }), 'to'],
    [emailBody({ username: undefined }), 'username'],
    [emailBody({ password: 'a\r\nb' }), 'password'],
    [emailBody({ ca_certificate: 'not a pem' }), 'ca_certificate'],
    [emailBody({ api_key: 'x' }), 'api_key'],
    [emailBody({ events: ['verification.exploded'] }), 'events'],
    [emailBody({ enabled: 'yes' }), 'enabled'],
    [smsBody({ provider: 'sinch' }), 'provider'],
    [smsBody({ provider: 'twilio' }), 'username'], // Twilio's members differ (sms_providers.test.mjs)
    [smsBody({ to: ['0711000001'] }), 'to'],
    [smsBody({ to: ['+0711000001'] }), 'to'],
    [smsBody({ api_key: undefined }), 'api_key'],
    [smsBody({ username: 'a b' }), 'username'],
    [smsBody({ sender_id: 'NOVA LONG SENDER ID' }), 'sender_id'],
    [smsBody({ base_url: 'http://example.com' }), 'base_url'],
    [smsBody({ base_url: 'https://example.com/?q=1' }), 'base_url'],
    [smsBody({ from: 'nova@example.com' }), 'from'],
  ];
  for (const [body, field] of cases) {
    const r = await call(nova, 'POST', '/v1/notifications/channels', { tok, body });
    assert.equal(r.status, 422, field + ': ' + r.text);
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
    assert.ok(r.json.detail.startsWith(field + ':'), field + ' -> ' + r.json.detail);
  }
  const unknown = await call(nova, 'POST', '/v1/notifications/channels', { tok, body: { ...emailBody(), oops: 1 } });
  assert.equal(unknown.status, 400, unknown.text);
  assert.equal((await call(nova, 'GET', '/v1/notifications/channels', { tok })).json.channels.length, 0);

  // Production and sandbox hosts are chosen by the username when no base_url is given.
  const live = await call(nova, 'POST', '/v1/notifications/channels', { tok: otherTok, body: smsBody({ base_url: undefined }) });
  assert.equal(live.status, 201, live.text);
  assert.equal(live.json.target, 'https://api.africastalking.com/version1/messaging');
  const sandbox = await call(nova, 'POST', '/v1/notifications/channels', { tok: otherTok, body: smsBody({ base_url: undefined, username: 'sandbox' }) });
  assert.equal(sandbox.json.target, 'https://api.sandbox.africastalking.com/version1/messaging');
  assert.equal(sandbox.json.api_key, true);
  assert.ok(!sandbox.text.includes(AT_KEY), 'the API key is never shown');
  for (const id of [live.json.id, sandbox.json.id])
    assert.equal((await call(nova, 'DELETE', '/v1/notifications/channels/' + id, { tok: otherTok })).status, 204);
});

test('email over STARTTLS with AUTH and SMS to Africa\'s Talking: a failed first attempt is retried, the log shows both, replay resends', async () => {
  const em = await call(nova, 'POST', '/v1/notifications/channels', { tok, body: emailBody() });
  assert.equal(em.status, 201, em.text);
  assert.equal(em.json.password, true);
  assert.equal(em.json.ca_certificate, true);
  assert.ok(!em.text.includes(SMTP_PASS), 'the password is never shown');
  const sms = await call(nova, 'POST', '/v1/notifications/channels', { tok, body: smsBody() });
  assert.equal(sms.status, 201, sms.text);
  assert.equal(sms.json.target, at.url + '/version1/messaging');
  const shown = await call(nova, 'GET', '/v1/notifications/channels/' + sms.json.id, { tok });
  assert.equal(shown.status, 200);
  assert.deepEqual(shown.json.to, ['+254711000001', '+254722000002']);
  assert.ok(!shown.text.includes(AT_KEY));
  assert.equal((await call(nova, 'GET', '/v1/notifications/channels/' + sms.json.id, { tok: otherTok })).status, 404);

  const { v, ev } = await verify();
  const ds = await settled(ev);
  const de = ds.find((d) => d.channel === 'email');
  const dsms = ds.find((d) => d.channel === 'sms');
  assert.equal(de.channel_id, em.json.id);
  assert.equal(de.state, 'delivered', JSON.stringify(de));
  assert.equal(de.attempts, 2);
  assert.deepEqual(de.log.map((x) => x.status_code), [451, 250]);
  assert.match(de.log[0].error, /451/);
  assert.match(de.log[1].result, /^250 .*queued as 1/);
  assert.equal(dsms.channel_id, sms.json.id);
  assert.equal(dsms.state, 'delivered', JSON.stringify(dsms));
  assert.deepEqual(dsms.log.map((x) => x.status_code), [500, 201]);
  // Per recipient, masked and tagged (the tag names the number without showing it).
  assert.match(dsms.log[1].result, /^\+254\*{7}01#[0-9a-f]{16}=101:Success \+254\*{7}02#[0-9a-f]{16}=101:Success$/);
  assert.ok(!JSON.stringify(ds).includes('+254711000001'), 'a phone number in the delivery log');
  assert.deepEqual(at.bad, [], 'every request had Africa\'s Talking\'s shape');

  // The mail: over TLS (STARTTLS), authenticated, to both recipients, event and ids only.
  assert.equal(smtp.mails.length, 1);
  const m = smtp.mails[0];
  assert.equal(m.secure, true, 'STARTTLS was used');
  assert.equal(m.user, SMTP_USER);
  assert.equal(m.from, 'nova@example.com');
  assert.deepEqual(m.to, ['ops@example.com', 'risk@example.org']);
  const [head, body] = m.raw.split('\r\n\r\n');
  assert.match(head, /^From: <nova@example\.com>$/m);
  assert.match(head, /^To: <ops@example\.com>, <risk@example\.org>$/m);
  assert.match(head, new RegExp(`^Subject: Nova: ${ev.type} ${v.id}$`, 'm'));
  assert.match(head, new RegExp(`^Message-ID: <${ev.id}\\.${em.json.id}@example\\.com>$`, 'm'));
  assert.match(head, /^Content-Type: text\/plain; charset=utf-8$/m);
  assert.match(head, /^Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/m);
  assert.match(body, new RegExp(`^Event: ${ev.type}$`, 'm'));
  assert.match(body, new RegExp(`^Event id: ${ev.id}$`, 'm'));
  assert.match(body, new RegExp(`^Verification: ${v.id}$`, 'm'));
  assert.match(body, new RegExp(`^Decision: ${v.decision}$`, 'm'));
  // The SMS: both numbers in one request, the sender id, the ids.
  const s = at.got[1];
  assert.equal(s.form.username, 'novatest');
  assert.equal(s.form.to, '+254711000001,+254722000002');
  assert.equal(s.form.from, 'NOVA');
  assert.equal(s.form.message, `Nova ${ev.type}: verification ${v.id}, decision ${v.decision} (${ev.id})`);
  // No personal data in either.
  const a = doc.truth.applicant;
  for (const secret of [a.name, a.document_number, a.date_of_birth, SMTP_PASS, AT_KEY].filter(Boolean)) {
    assert.ok(!m.raw.includes(secret), 'the mail holds ' + secret);
    assert.ok(!JSON.stringify(s.form).includes(secret), 'the SMS holds ' + secret);
  }

  // Replay resends through both channels.
  const rp = await call(nova, 'POST', `/v1/events/${ev.id}/replay`, { tok });
  assert.equal(rp.status, 202, rp.text);
  await until('the replayed mail and SMS', async () => smtp.mails.length === 2 && at.got.length === 3);
  assert.match(smtp.mails[1].raw, new RegExp(`Event id: ${ev.id}`));
  const again = await settled(ev);
  assert.equal(again.find((d) => d.channel === 'sms').attempts, 3);
});

test('PATCH: a disabled channel or endpoint receives nothing, re-enabled it resumes; bad changes are 422s naming the field', async () => {
  const chans = (await call(nova, 'GET', '/v1/notifications/channels', { tok })).json.channels;
  const em = chans.find((c) => c.type === 'email');
  const sms = chans.find((c) => c.type === 'sms');
  const ep = await call(nova, 'POST', '/v1/webhooks/endpoints', { tok, body: {
    url: hook.url('/a'), events: ALL, client_certificate: pem('nova.pem'), client_key: pem('nova.key'), ca_certificate: pem('rca.pem') } });
  assert.equal(ep.status, 201, ep.text);

  // Bad changes.
  const bad = [
    ['/v1/webhooks/endpoints/' + ep.json.id, { url: 'http://127.0.0.1/x' }, 'url'],
    ['/v1/webhooks/endpoints/' + ep.json.id, { events: ['nope'] }, 'events'],
    ['/v1/webhooks/endpoints/' + ep.json.id, { enabled: 'no' }, 'enabled'],
    ['/v1/webhooks/endpoints/' + ep.json.id, { ca_certificate: null }, 'ca_certificate'],
    ['/v1/webhooks/endpoints/' + ep.json.id, { client_key: pem('receiver.key') }, 'client_key'],
    ['/v1/webhooks/endpoints/' + ep.json.id, {}, '(body)'],
    ['/v1/notifications/channels/' + em.id, { type: 'sms' }, 'type'],
    ['/v1/notifications/channels/' + em.id, { to: ['x'] }, 'to'],
    ['/v1/notifications/channels/' + em.id, { username: null }, 'username'],
    ['/v1/notifications/channels/' + sms.id, { api_key: null }, 'api_key'],
    ['/v1/notifications/channels/' + sms.id, { smtp_url: smtp.url }, 'smtp_url'],
  ];
  for (const [path, body, field] of bad) {
    const r = await call(nova, 'PATCH', path, { tok, body });
    assert.equal(r.status, 422, field + ': ' + r.text);
    assert.ok(r.json.detail.startsWith(field + ':'), field + ' -> ' + r.json.detail);
  }
  assert.equal((await call(nova, 'PATCH', '/v1/webhooks/endpoints/' + ep.json.id, { tok: otherTok, body: { enabled: false } })).status, 404);
  assert.equal((await call(nova, 'PATCH', '/v1/notifications/channels/' + em.id, { tok: otherTok, body: { enabled: false } })).status, 404);
  assert.equal((await call(nova, 'PATCH', '/v1/webhooks/endpoints/whe_missing', { tok, body: { enabled: false } })).status, 404);

  // Disabled: nothing is sent anywhere.
  for (const [path, id] of [['/v1/webhooks/endpoints/', ep.json.id], ['/v1/notifications/channels/', em.id], ['/v1/notifications/channels/', sms.id]]) {
    const r = await call(nova, 'PATCH', path + id, { tok, body: { enabled: false } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.enabled, false);
  }
  const mails = smtp.mails.length, texts = at.got.length;
  const off = await verify();
  const none = await settled(off.ev);
  assert.deepEqual(none, [], 'no delivery to a disabled receiver');
  // A replay of an event while its receivers are disabled sends nothing either.
  const old = (await call(nova, 'GET', '/v1/events?limit=200', { tok })).json.events[0];
  assert.equal((await call(nova, 'POST', `/v1/events/${old.id}/replay`, { tok })).status, 202);
  const replayed = await settled(old);
  for (const d of replayed.filter((x) => x.channel !== 'webhook')) assert.equal(d.state, 'failed');
  assert.match(replayed.find((d) => d.channel === 'email').log.at(-1).error, /disabled/);
  assert.equal(smtp.mails.length, mails);
  assert.equal(at.got.length, texts);
  assert.equal(hook.got.length, 0);

  // Re-enabled (the endpoint moved to another path, the SMS to one number): the next event arrives.
  const moved = await call(nova, 'PATCH', '/v1/webhooks/endpoints/' + ep.json.id, { tok, body: { enabled: true, url: hook.url('/b') } });
  assert.equal(moved.status, 200, moved.text);
  assert.equal(moved.json.url, hook.url('/b'));
  assert.equal(moved.json.ca_certificate, true);
  assert.equal((await call(nova, 'PATCH', '/v1/notifications/channels/' + em.id, { tok, body: { enabled: true } })).status, 200);
  const smsOn = await call(nova, 'PATCH', '/v1/notifications/channels/' + sms.id, { tok, body: { enabled: true, to: ['+254733000003'] } });
  assert.equal(smsOn.status, 200, smsOn.text);
  assert.deepEqual(smsOn.json.to, ['+254733000003']);
  assert.equal(smsOn.json.api_key, true, 'the key is kept when not given');
  const on = await verify();
  const ds = await settled(on.ev);
  assert.equal(ds.length, 3, JSON.stringify(ds));
  assert.ok(ds.every((d) => d.state === 'delivered'), JSON.stringify(ds));
  assert.ok(hook.got.some((g) => g.path === '/b' && g.id === on.ev.id));
  assert.ok(!hook.got.some((g) => g.path === '/a'));
  assert.ok(smtp.mails.some((x) => x.raw.includes(on.ev.id)));
  assert.equal(at.got.at(-1).form.to, '+254733000003');

  // Deleting a channel: gone for its tenant, not deletable by another.
  assert.equal((await call(nova, 'DELETE', '/v1/notifications/channels/' + sms.id, { tok: otherTok })).status, 404);
  assert.equal((await call(nova, 'DELETE', '/v1/notifications/channels/' + sms.id, { tok })).status, 204);
  assert.equal((await call(nova, 'GET', '/v1/notifications/channels/' + sms.id, { tok })).status, 404);
});

test('SMS refused by some recipients: only those refused for a reason that may pass are sent to again, nobody gets it twice; replay sends to all', async () => {
  const A = '+254711000001', B = '+254722000002', C = '+254733000003', D = '+254744000004';
  // A accepted at once; B refused for lack of balance, then accepted; C an invalid number for
  // good; D missing from the first reply, then accepted.
  const atp = await atServer({ failFirst: false, codes: { [A]: [101], [B]: [405, 101], [C]: [403], [D]: ['omit', 101] } });
  const t = await token(nova, makeTenant(nova, 'notify-d-' + SUFFIX, SCOPES));
  try {
    const ch = await call(nova, 'POST', '/v1/notifications/channels', { tok: t, body: smsBody({ base_url: atp.url, to: [A, B, C, D] }) });
    assert.equal(ch.status, 201, ch.text);
    const w = await call(nova, 'POST', '/v1/workflows', { tok: t, body: KYC });
    const r = await call(nova, 'POST', '/v1/verifications', { tok: t, body: { workflow_id: w.json.id, mode: 'async', images: { document_front: doc.b64 }, applicant: doc.truth.applicant } });
    assert.ok(r.status === 202 || r.status === 201, r.text);
    const ev = await until('the event', async () => (await call(nova, 'GET', '/v1/events?limit=200', { tok: t })).json.events.find((e) => e.subject === r.json.id));
    const settledT = () => until('the SMS delivery settled', async () => {
      const g = await call(nova, 'GET', '/v1/events/' + ev.id, { tok: t });
      return g.json.deliveries.length === 1 && g.json.deliveries[0].state !== 'pending' ? g : null;
    }, 900);
    const g = await settledT();
    const d = g.json.deliveries[0];
    assert.equal(d.state, 'delivered', JSON.stringify(d));
    assert.equal(d.attempts, 2, JSON.stringify(d));
    assert.deepEqual(atp.bad, []);
    assert.deepEqual(atp.got.map((x) => x.form.to), [[A, B, C, D].join(','), [B, D].join(',')]);
    // The log: per recipient, masked and tagged; the same tag for the same number in both attempts.
    const items = (x) => Object.fromEntries(x.result.split(' ').map((i) => { const m = i.match(/^(\+\d{3}\*+\d{2})#([0-9a-f]{16})=(-?\d+):(\w+)$/); assert.ok(m, i); return [m[1], { tag: m[2], code: Number(m[3]), status: m[4] }]; }));
    const [one, two] = d.log.map(items);
    assert.deepEqual(Object.keys(one), ['+254*******01', '+254*******02', '+254*******03', '+254*******04']);
    assert.deepEqual(Object.values(one).map((x) => x.code), [101, 405, 403, 0]);
    assert.equal(one['+254*******04'].status, 'NotListed');
    assert.deepEqual(Object.keys(two), ['+254*******02', '+254*******04']);
    assert.deepEqual(Object.values(two).map((x) => x.code), [101, 101]);
    assert.equal(two['+254*******02'].tag, one['+254*******02'].tag);
    assert.equal(new Set(Object.values(one).map((x) => x.tag)).size, 4);
    assert.match(d.log[0].error, /^1 of 4 recipients accepted, 2 refused for now/);
    assert.match(d.log[1].error, /^1 of 4 recipients refused$/);
    for (const n of [A, B, C, D]) assert.ok(!g.text.includes(n) && !g.text.includes(n.slice(1)), 'a number in the delivery log');
    // Replay: a new round, sent to every recipient again (C is still refused).
    assert.equal((await call(nova, 'POST', `/v1/events/${ev.id}/replay`, { tok: t })).status, 202);
    await until('the replayed SMS', async () => atp.got.length === 3);
    assert.equal(atp.got[2].form.to, [A, B, C, D].join(','));
    const again = (await settledT()).json.deliveries[0];
    assert.equal(again.state, 'delivered', JSON.stringify(again));
    assert.equal(again.attempts, 3);
    assert.equal(atp.got.length, 3, 'nothing sent after the round settled');
    // The channel's metrics: this test's three SMS attempts (one retried) among them; the
    // failures and the latency histogram agree with the attempts; email is its own series.
    const sms = await channelMetrics('sms');
    const total = sms.attempts.delivered + sms.attempts.retry + sms.attempts.failed;
    assert.ok(sms.attempts.delivered >= 2 && sms.attempts.retry >= 1, JSON.stringify(sms));
    assert.equal(sms.failures, sms.attempts.retry + sms.attempts.failed);
    assert.equal(sms.count, total);
    assert.equal(sms.inf, total);
    const email = await channelMetrics('email');
    assert.ok(email.attempts.delivered >= 1 && email.attempts.retry >= 1, JSON.stringify(email));
    assert.equal(email.count, email.attempts.delivered + email.attempts.retry + email.attempts.failed);
  } finally {
    atp.srv.close();
  }
});

test('STARTTLS is required off loopback, and the SMTP server is verified: nothing is sent otherwise', async () => {
  // A server that offers no STARTTLS, reached at an address that is not written as loopback
  // (the IPv4-mapped form of 127.0.0.1): curl must stop before MAIL FROM.
  const plainMails = [];
  const plain = new SMTPServer({ disabledCommands: ['STARTTLS', 'AUTH'], logger: false,
    onData(stream, session, cb) { let raw = ''; stream.on('data', (d) => { raw += d; }); stream.on('end', () => { plainMails.push(raw); cb(); }); } });
  plain.on('error', () => {});
  await new Promise((ok) => plain.listen(0, '::', ok));
  const t = await token(nova, makeTenant(nova, 'notify-c-' + SUFFIX, SCOPES));
  try {
    const mapped = await call(nova, 'POST', '/v1/notifications/channels', { tok: t, body: emailBody({
      smtp_url: `smtp://[::ffff:127.0.0.1]:${plain.server.address().port}`, username: undefined, password: undefined, ca_certificate: undefined }) });
    assert.equal(mapped.status, 201, mapped.text);
    // STARTTLS offered, but with a certificate from a CA the channel does not trust.
    const wrongCa = await call(nova, 'POST', '/v1/notifications/channels', { tok: t, body: emailBody({ ca_certificate: pem('rca.pem') }) });
    assert.equal(wrongCa.status, 201, wrongCa.text);
    const before = smtp.mails.length;
    const w = await call(nova, 'POST', '/v1/workflows', { tok: t, body: KYC });
    const r = await call(nova, 'POST', '/v1/verifications', { tok: t, body: { workflow_id: w.json.id, mode: 'async', images: { document_front: doc.b64 }, applicant: doc.truth.applicant } });
    assert.ok(r.status === 202 || r.status === 201, r.text);
    const ev = await until('the event', async () => (await call(nova, 'GET', '/v1/events?limit=200', { tok: t })).json.events.find((e) => e.subject === r.json.id));
    const ds = await until('both first attempts', async () => {
      const g = await call(nova, 'GET', '/v1/events/' + ev.id, { tok: t });
      return g.json.deliveries.length === 2 && g.json.deliveries.every((d) => d.log.length >= 1) ? g.json.deliveries : null;
    }, 900);
    const dm = ds.find((d) => d.channel_id === mapped.json.id);
    assert.equal(dm.state, 'failed', 'refused for good: ' + JSON.stringify(dm));
    assert.match(dm.log[0].error, /STARTTLS/);
    const dw = ds.find((d) => d.channel_id === wrongCa.json.id);
    assert.notEqual(dw.state, 'delivered');
    assert.match(dw.log[0].error, /certificate|SSL|TLS/i, JSON.stringify(dw));
    assert.equal(plainMails.length, 0, 'nothing reached a server without STARTTLS');
    assert.ok(!smtp.mails.slice(before).some((m) => m.raw.includes(ev.id)), 'nothing reached a server Nova could not verify');
    assert.ok(smtp.tlsErrors() >= 1, 'the handshake was abandoned');
    // Stop the retries of the unverifiable one.
    assert.equal((await call(nova, 'PATCH', '/v1/notifications/channels/' + wrongCa.json.id, { tok: t, body: { enabled: false } })).status, 200);
  } finally {
    plain.close();
  }
});
