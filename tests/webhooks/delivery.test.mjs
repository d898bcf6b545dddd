// Event webhooks (issue 9 item 6) end to end: the real novad delivers the gateway's outbox
// events to local mTLS receivers (node https, requestCert + rejectUnauthorized, certificates
// made with openssl here). The first attempt answers 500 and the second 200: the event
// arrives, its signature verifies with the npm standardwebhooks library, the delivery log
// shows both attempts. The verification's callback_url gets the same signed event. A receiver
// whose certificate is not from the endpoint's CA, and one that wants another client
// certificate, get nothing (fail closed). Replay re-sends; another tenant can neither see nor
// replay the events. A novad not allowed private addresses refuses the loopback receiver
// before sending anything. Two novads on one store dispatching the same outbox send each event once.
// Waits are bounded polls, no timed assertions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { pki } from './pki.mjs';
import { startNova, makeTenant, token, call } from '../integration/lib.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const SUFFIX = randomBytes(4).toString('hex');
const SCOPES = 'workflows:write verifications:read verifications:write reviews:read reviews:write webhooks:read webhooks:write';
let nova, a, aTok, b, bTok, doc, hook, strict, work;
// The receivers listen on 127.0.0.1: only a novad told so may deliver to a loopback address.
const LOCAL = { NOVA_WEBHOOK_ALLOW_PRIVATE: 'true' };
const METRICS = 'metrics-token-for-webhook-tests';
// This process's nova_webhook_attempts_total of the webhook channel by outcome.
async function attempts(n) {
  const r = await call(n, 'GET', '/metrics', { tok: METRICS });
  assert.equal(r.status, 200, r.text);
  const out = {};
  for (const m of r.text.matchAll(/^nova_webhook_attempts_total\{channel="webhook",outcome="(\w+)"\} (\d+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

let ca, leaf, pem; // from pki(work) in before()

// An mTLS receiver: answers[path] lists the statuses of successive requests (then 200).
async function receiver(clientCa, answers = {}) {
  const got = [];
  const srv = createServer({ key: pem('receiver.key'), cert: pem('receiver.pem'), ca: clientCa, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const n = got.filter((g) => g.path === req.url).length;
      const status = (answers[req.url] || [])[n] || 200;
      got.push({ path: req.url, headers: req.headers, body, status, peer: req.socket.getPeerCertificate().subject?.CN });
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok' : 'not now');
    });
  });
  let tlsErrors = 0;
  srv.on('tlsClientError', () => { tlsErrors++; });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  return { srv, got, url: (p) => `https://127.0.0.1:${srv.address().port}${p}`, tlsErrors: () => tlsErrors };
}

async function until(what, fn, tries = 300) {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v;
    await sleep(100);
  }
  throw new Error('gave up waiting for ' + what);
}

const KYC = {
  name: 'kyc hooks',
  steps: [
    { check: 'ocr', config: { min_confidence: 0.5 } },
    { check: 'mrz' },
    { check: 'document_authenticity', on_fail: 'review' },
    { check: 'age', config: { min_age: 18 } },
  ],
  review_rules: [{ any_step: 'review' }],
  decision: { approve_at: 0.7, reject_below: 0.4 },
};

function endpointBody(url, extra = {}) {
  return {
    url, events: ['verification.completed', 'verification.failed', 'verification.review_required', 'review.decided'],
    client_certificate: pem('nova.pem'), client_key: pem('nova.key'), ca_certificate: pem('rca.pem'), ...extra,
  };
}

// Submits a verification that lands in review (a document number the MRZ contradicts).
async function submitForReview(tok, callback) {
  const w = await call(nova, 'POST', '/v1/workflows', { tok, body: KYC });
  assert.equal(w.status, 201, w.text);
  const body = { workflow_id: w.json.id, mode: 'async', images: { document_front: doc.b64 }, applicant: { ...doc.truth.applicant, document_number: 'ZZ0000001' } };
  if (callback) body.callback_url = callback;
  const r = await call(nova, 'POST', '/v1/verifications', { tok, body });
  assert.ok(r.status === 202 || r.status === 201, r.text); // 201: decided before the reply
  return until('the decision', async () => {
    const v = await call(nova, 'GET', '/v1/verifications/' + r.json.id, { tok });
    return v.json.status === 'completed' || v.json.status === 'failed' ? v.json : null;
  });
}

async function eventOf(tok, type, subject) {
  return until(type, async () => {
    const l = await call(nova, 'GET', '/v1/events?type=' + type + '&limit=200', { tok });
    assert.equal(l.status, 200, l.text);
    return l.json.events.find((e) => e.subject === subject);
  });
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'nova-hooks-'));
  ({ ca, leaf, pem } = pki(work));
  ca('rca'); ca('cca'); ca('xca'); ca('yca');
  leaf('receiver', 'rca'); // the receivers' certificate
  leaf('nova', 'cca'); // the client certificate Nova presents
  const g = spawnSync(PY, [join(ROOT, 'tools/idv_docgen.py'), work, '--count', '1', '--formats', 'TD3', '--seed', '9'], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  const f = readdirSync(work).find((x) => x.endsWith('.jpg'));
  doc = { b64: readFileSync(join(work, f)).toString('base64'), truth: JSON.parse(readFileSync(join(work, f.replace('.jpg', '.json')), 'utf8')) };
  hook = await receiver(pem('cca.pem'), { '/hook': [500] });
  strict = await receiver(pem('yca.pem')); // wants a client certificate from another CA
  nova = await startNova({ NOVA_IDV_WORKERS: '1', NOVA_METRICS_TOKEN: METRICS, ...LOCAL });
  a = makeTenant(nova, 'hooks-a-' + SUFFIX, SCOPES);
  b = makeTenant(nova, 'hooks-b-' + SUFFIX, SCOPES);
  aTok = await token(nova, a);
  bTok = await token(nova, b);
});

after(async () => {
  const logs = nova ? nova.logs() : '';
  if (nova) await nova.stop();
  hook?.srv.close();
  strict?.srv.close();
  // No secret, key or event body in novad's log.
  assert.ok(!logs.includes('BEGIN PRIVATE KEY') && !logs.includes('whsec_'), 'key material reached the log');
  if (work) rmSync(work, { recursive: true, force: true });
});

test('endpoints: bad configurations are 422s naming the field; nothing sent without mTLS material', async () => {
  const cases = [
    [{ url: 'http://127.0.0.1:1/x' }, 'url'],
    [{ url: 'https://u:p@127.0.0.1:1/x' }, 'url'],
    [{ events: ['verification.exploded'] }, 'events'],
    [{ events: [] }, 'events'],
    [{ client_certificate: 'not a pem' }, 'client_certificate'],
    [{ client_key: pem('receiver.key') }, 'client_key'],
    [{ ca_certificate: undefined }, 'ca_certificate'],
    [{ pin: 'md5//abc' }, 'pin'],
    [{ secret: 'whsec_c2hvcnQ=' }, 'secret'],
  ];
  for (const [extra, field] of cases) {
    const r = await call(nova, 'POST', '/v1/webhooks/endpoints', { tok: aTok, body: endpointBody('https://127.0.0.1:1/x', extra) });
    assert.equal(r.status, 422, field + ': ' + r.text);
    assert.ok(r.json.detail.startsWith(field + ':'), r.json.detail);
  }
  const extraMember = await call(nova, 'POST', '/v1/webhooks/endpoints', { tok: aTok, body: { ...endpointBody('https://127.0.0.1:1/x'), oops: 1 } });
  assert.equal(extraMember.status, 400, extraMember.text);
  assert.equal((await call(nova, 'GET', '/v1/webhooks/endpoints', { tok: aTok })).json.endpoints.length, 0);
});

test('a 500 then a 200: delivered, signed per Standard Webhooks, both attempts logged; callback_url too; replay; review.decided; tenants isolated', async () => {
  const ep = await call(nova, 'POST', '/v1/webhooks/endpoints', { tok: aTok, body: endpointBody(hook.url('/hook')) });
  assert.equal(ep.status, 201, ep.text);
  assert.match(ep.json.secret, /^whsec_/);
  assert.equal(ep.json.ca_certificate, true);
  const shown = await call(nova, 'GET', '/v1/webhooks/endpoints/' + ep.json.id, { tok: aTok });
  assert.equal(shown.status, 200);
  assert.equal(shown.json.secret, undefined, 'the secret is shown once');
  assert.ok(!shown.text.includes('PRIVATE KEY'));
  assert.equal((await call(nova, 'GET', '/v1/webhooks/endpoints/' + ep.json.id, { tok: bTok })).status, 404);
  const wh = new Webhook(ep.json.secret);

  const v = await submitForReview(aTok, hook.url('/callback'));
  assert.equal(v.decision, 'review_required', JSON.stringify(v));
  const ev = await eventOf(aTok, 'verification.review_required', v.id);
  assert.match(ev.id, /^evt_/);
  assert.equal(ev.payload.type, 'verification.review_required');
  assert.equal(ev.payload.data.verification_id, v.id);
  assert.equal(ev.payload.data.decision, 'review_required');
  assert.ok(!JSON.stringify(ev).includes(doc.truth.applicant.name), 'no personal data in the event');

  const full = await until('delivery to /hook', async () => {
    const g = await call(nova, 'GET', '/v1/events/' + ev.id, { tok: aTok });
    assert.equal(g.status, 200, g.text);
    const d = g.json.deliveries.find((x) => x.endpoint_id === ep.json.id && x.url.endsWith('/hook'));
    return d && d.state === 'delivered' ? g.json : null;
  }, 600);
  const d = full.deliveries.find((x) => x.url.endsWith('/hook'));
  assert.equal(d.attempts, 2);
  assert.deepEqual(d.log.map((x) => x.status_code), [500, 200]);
  assert.equal(d.log[0].attempt, 1);
  assert.match(d.log[0].error, /500/);
  assert.equal(d.log[1].error, '');

  const arrived = hook.got.filter((g) => g.path === '/hook' && g.headers['webhook-id'] === ev.id);
  assert.equal(arrived.length, 2);
  assert.deepEqual(arrived.map((g) => g.status), [500, 200]);
  for (const g of arrived) {
    assert.equal(g.peer, 'nova', 'the receiver saw Nova\'s client certificate');
    const payload = wh.verify(g.body, g.headers); // throws on a bad signature
    assert.equal(payload.data.verification_id, v.id);
    assert.equal(payload.type, 'verification.review_required');
  }
  // A body changed in flight does not verify.
  assert.throws(() => wh.verify(arrived[1].body.replace('review_required', 'approved'), arrived[1].headers));

  // The verification's own callback_url received the same signed event.
  const cb = await until('the callback', async () => hook.got.find((g) => g.path === '/callback' && g.headers['webhook-id'] === ev.id));
  assert.equal(wh.verify(cb.body, cb.headers).data.verification_id, v.id);
  assert.ok(full.deliveries.some((x) => x.url.endsWith('/callback')));

  // Another tenant can neither see nor replay it.
  assert.equal((await call(nova, 'GET', '/v1/events/' + ev.id, { tok: bTok })).status, 404);
  assert.equal((await call(nova, 'POST', `/v1/events/${ev.id}/replay`, { tok: bTok })).status, 404);
  assert.ok(!(await call(nova, 'GET', '/v1/events?limit=200', { tok: bTok })).json.events.some((e) => e.id === ev.id));

  // Replay sends it again, same webhook-id.
  const rp = await call(nova, 'POST', `/v1/events/${ev.id}/replay`, { tok: aTok });
  assert.equal(rp.status, 202, rp.text);
  assert.ok(rp.json.pending >= 1);
  await until('the replay', async () => hook.got.filter((g) => g.path === '/hook' && g.headers['webhook-id'] === ev.id).length === 3);
  const third = hook.got.filter((g) => g.path === '/hook' && g.headers['webhook-id'] === ev.id)[2];
  assert.equal(wh.verify(third.body, third.headers).data.verification_id, v.id);

  // A rotation: both secrets sign until the old one is dropped.
  const rot = await call(nova, 'POST', `/v1/webhooks/endpoints/${ep.json.id}/rotate-secret`, { tok: aTok });
  assert.equal(rot.status, 200, rot.text);
  assert.equal(rot.json.secrets, 2);
  assert.notEqual(rot.json.secret, ep.json.secret);

  // The review's decision is an event of its own, signed by both secrets.
  const dec = await call(nova, 'POST', `/v1/reviews/${v.id}/decision`, { tok: aTok, body: { reviewer: 'alice', decision: 'approved', reason: 'checked' } });
  assert.equal(dec.status, 200, dec.text);
  const rev = await eventOf(aTok, 'review.decided', v.id);
  const got = await until('review.decided', async () => hook.got.find((g) => g.path === '/hook' && g.headers['webhook-id'] === rev.id && g.status === 200));
  assert.equal(wh.verify(got.body, got.headers).data.decision, 'approved');
  assert.equal(new Webhook(rot.json.secret).verify(got.body, got.headers).type, 'review.decided');
  assert.equal(got.headers['webhook-signature'].split(' ').length, 2);
  // The counters: on SQLite this novad alone sent all of it (the 500 a retry; the hook, the
  // callback, the replay of both and review.decided to the hook at least); on PostgreSQL
  // another test file's novad shares the outbox, so only the series are checked.
  const m = await attempts(nova);
  assert.deepEqual(Object.keys(m).sort(), ['delivered', 'failed', 'retry']);
  // The failures and the latency of the same channel agree with its attempts (one scrape:
  // the dispatcher may make another attempt between two).
  const text = (await call(nova, 'GET', '/metrics', { tok: METRICS })).text;
  const one = (re) => Number(text.match(re)?.[1]);
  const at = {};
  for (const x of text.matchAll(/^nova_webhook_attempts_total\{channel="webhook",outcome="(\w+)"\} (\d+)$/gm)) at[x[1]] = Number(x[2]);
  assert.equal(one(/^nova_webhook_failures_total\{channel="webhook"\} (\d+)$/m), at.retry + at.failed);
  assert.equal(one(/^nova_webhook_attempt_duration_seconds_count\{channel="webhook"\} (\d+)$/m), at.delivered + at.retry + at.failed);
  assert.equal(one(/^nova_webhook_attempt_duration_seconds_bucket\{channel="webhook",le="\+Inf"\} (\d+)$/m), at.delivered + at.retry + at.failed);
  if (!process.env.NOVA_TEST_DATABASE_URL) {
    assert.equal(m.retry, 1, JSON.stringify(m));
    assert.equal(m.failed, 0, JSON.stringify(m));
    assert.ok(m.delivered >= 5, JSON.stringify(m));
  }
});

test('fail closed: a receiver outside the endpoint\'s CA, or one that wants another client certificate, gets nothing', async () => {
  const wrongCa = await call(nova, 'POST', '/v1/webhooks/endpoints', { tok: bTok, body: endpointBody(hook.url('/wrong-ca'), { ca_certificate: pem('xca.pem') }) });
  assert.equal(wrongCa.status, 201, wrongCa.text);
  const other = await call(nova, 'POST', '/v1/webhooks/endpoints', { tok: bTok, body: endpointBody(strict.url('/strict')) });
  assert.equal(other.status, 201, other.text);
  const v = await submitForReview(bTok);
  const ev = await eventOf(bTok, 'verification.review_required', v.id);
  const g = await until('two failed first attempts', async () => {
    const r = await call(nova, 'GET', '/v1/events/' + ev.id, { tok: bTok });
    return r.json.deliveries.length === 2 && r.json.deliveries.every((d) => d.log.length >= 1) ? r.json : null;
  }, 600);
  for (const d of g.deliveries) {
    assert.equal(d.log[0].status_code, 0, JSON.stringify(d));
    assert.notEqual(d.log[0].error, '');
    assert.notEqual(d.state, 'delivered');
  }
  assert.ok(!hook.got.some((x) => x.path === '/wrong-ca'), 'nothing reached a receiver Nova could not verify');
  assert.ok(!strict.got.length, 'nothing reached a receiver that refused Nova\'s certificate');
  assert.ok(strict.tlsErrors() >= 1);
  // Tenant a does not see b's events.
  assert.equal((await call(nova, 'GET', '/v1/events/' + ev.id, { tok: aTok })).status, 404);
});

test('two novads on one store: every event is delivered exactly once', async () => {
  const other = await startNova({ NOVA_IDV_WORKERS: '1', ...LOCAL }, { shareWith: nova });
  try {
    const t = makeTenant(nova, 'hooks-d-' + SUFFIX, SCOPES);
    const tok = await token(nova, t);
    const otherTok = await token(other, t); // each novad is its own issuer
    const ep = await call(nova, 'POST', '/v1/webhooks/endpoints', { tok, body: endpointBody(hook.url('/once')) });
    assert.equal(ep.status, 201, ep.text);
    const w = await call(nova, 'POST', '/v1/workflows', { tok, body: KYC });
    const ids = [];
    for (let i = 0; i < 6; i++) { // submitted through both processes; either's workers and dispatcher may take each
      const [via, viaTok] = i % 2 ? [other, otherTok] : [nova, tok];
      const r = await call(via, 'POST', '/v1/verifications', { tok: viaTok, body: { workflow_id: w.json.id, mode: 'async', images: { document_front: doc.b64 }, applicant: doc.truth.applicant } });
      assert.ok(r.status === 202 || r.status === 201, r.text); // 201: decided before the reply
      ids.push(r.json.id);
    }
    const events = await until('six events', async () => {
      const l = await call(nova, 'GET', '/v1/events?limit=200', { tok });
      const mine = l.json.events.filter((e) => ids.includes(e.subject));
      return mine.length === 6 ? mine : null;
    }, 900);
    await until('six deliveries', async () => {
      const states = await Promise.all(events.map(async (e) => (await call(other, 'GET', '/v1/events/' + e.id, { tok: otherTok })).json.deliveries[0]?.state));
      return states.every((x) => x === 'delivered');
    }, 600);
    for (const e of events) {
      const got = hook.got.filter((g) => g.path === '/once' && g.headers['webhook-id'] === e.id);
      assert.equal(got.length, 1, 'event ' + e.id + ' arrived ' + got.length + ' times');
      const d = (await call(nova, 'GET', '/v1/events/' + e.id, { tok })).json.deliveries[0];
      assert.equal(d.attempts, 1);
      assert.equal(d.log.length, 1);
    }
    // Deleting the endpoint: gone for its tenant (through either novad), not deletable by another.
    assert.equal((await call(nova, 'DELETE', '/v1/webhooks/endpoints/' + ep.json.id, { tok: bTok })).status, 404);
    assert.equal((await call(other, 'DELETE', '/v1/webhooks/endpoints/' + ep.json.id, { tok: otherTok })).status, 204);
    assert.equal((await call(nova, 'GET', '/v1/webhooks/endpoints/' + ep.json.id, { tok })).status, 404);
    assert.equal((await call(nova, 'DELETE', '/v1/webhooks/endpoints/' + ep.json.id, { tok })).status, 404);
    assert.equal((await call(nova, 'GET', '/v1/webhooks/endpoints', { tok })).json.endpoints.length, 0);
  } finally {
    await other.stop();
  }
});

test('pinned receivers: the right SPKI pin is delivered to without a CA, a wrong pin gets nothing', async () => {
  const spki = spawnSync('sh', ['-c', 'openssl x509 -in receiver.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64'], { cwd: work, encoding: 'utf8' });
  assert.equal(spki.status, 0, spki.stderr);
  const pin = 'sha256//' + spki.stdout.trim();
  const t = makeTenant(nova, 'hooks-f-' + SUFFIX, SCOPES);
  const tok = await token(nova, t);
  const good = await call(nova, 'POST', '/v1/webhooks/endpoints', { tok, body: endpointBody(hook.url('/pin-ok'), { ca_certificate: undefined, pin }) });
  assert.equal(good.status, 201, good.text);
  assert.equal(good.json.pin, true);
  assert.equal(good.json.ca_certificate, false);
  const bad = await call(nova, 'POST', '/v1/webhooks/endpoints', { tok, body: endpointBody(hook.url('/pin-bad'), { ca_certificate: undefined, pin: 'sha256//' + 'A'.repeat(43) + '=' }) });
  assert.equal(bad.status, 201, bad.text);
  const v = await submitForReview(tok);
  const ev = await eventOf(tok, 'verification.review_required', v.id);
  const g = await until('both first attempts', async () => {
    const r = await call(nova, 'GET', '/v1/events/' + ev.id, { tok });
    return r.json.deliveries.length === 2 && r.json.deliveries.every((d) => d.log.length >= 1) ? r.json : null;
  }, 600);
  const ok = g.deliveries.find((d) => d.url.endsWith('/pin-ok'));
  const no = g.deliveries.find((d) => d.url.endsWith('/pin-bad'));
  assert.equal(ok.state, 'delivered', JSON.stringify(ok));
  assert.equal(no.log[0].status_code, 0, JSON.stringify(no));
  assert.ok(hook.got.some((x) => x.path === '/pin-ok' && x.headers['webhook-id'] === ev.id));
  assert.ok(!hook.got.some((x) => x.path === '/pin-bad'), 'nothing reached a receiver with another key');
});

test('a novad without NOVA_WEBHOOK_ALLOW_PRIVATE sends nothing to a loopback receiver', async () => {
  const closed = await startNova({ NOVA_IDV_WORKERS: '1', NOVA_METRICS_TOKEN: METRICS });
  try {
    const t = makeTenant(closed, 'hooks-e-' + SUFFIX, SCOPES);
    const tok = await token(closed, t);
    const ep = await call(closed, 'POST', '/v1/webhooks/endpoints', { tok, body: endpointBody(hook.url('/private')) });
    assert.equal(ep.status, 201, ep.text);
    const w = await call(closed, 'POST', '/v1/workflows', { tok, body: KYC });
    const r = await call(closed, 'POST', '/v1/verifications', { tok, body: { workflow_id: w.json.id, mode: 'async', images: { document_front: doc.b64 }, applicant: doc.truth.applicant } });
    assert.ok(r.status === 202 || r.status === 201, r.text); // 201: decided before the reply
    const d = await until('the refused attempt', async () => {
      const l = await call(closed, 'GET', '/v1/events?limit=200', { tok });
      const e = l.json.events.find((x) => x.subject === r.json.id);
      if (!e) return null;
      const g = await call(closed, 'GET', '/v1/events/' + e.id, { tok });
      const x = g.json.deliveries[0];
      return x && x.state !== 'pending' ? x : null;
    }, 600);
    assert.equal(d.state, 'failed', 'refused for good, not retried');
    assert.equal(d.log.length, 1);
    assert.equal(d.log[0].status_code, 0);
    assert.match(d.log[0].error, /not public/);
    assert.ok(!hook.got.some((g) => g.path === '/private'), 'nothing was sent');
    // Every receiver here is on loopback: this novad delivered and retried nothing, it only
    // refused (on PostgreSQL also other tenants' due deliveries it took from the shared store;
    // one whose TLS handshake fails, as the strict receiver's does, fails before its address
    // can be judged and counts as a retry, so there only deliveries are counted).
    const m = await attempts(closed);
    assert.equal(m.delivered, 0, JSON.stringify(m));
    if (!process.env.NOVA_TEST_DATABASE_URL) assert.equal(m.retry, 0, JSON.stringify(m));
    if (process.env.NOVA_TEST_DATABASE_URL) assert.ok(m.failed >= 1, JSON.stringify(m));
    else assert.equal(m.failed, 1, JSON.stringify(m));
  } finally {
    await closed.stop();
  }
});
