// The custom_webhook check (issue 9 item 4) end to end: a workflow step POSTs the step's input
// synchronously over mTLS to the tenant's receiver (node https, requestCert +
// rejectUnauthorized), signed per Standard Webhooks with the tenant's endpoint secret
// (verified here with the npm standardwebhooks library). The receiver's answer decides the
// step: pass, fail with reasons, review. A non-2xx status, a bad body, a receiver that is slower
// than timeout_ms and a receiver outside the endpoint's CA all fail the step with a reason code,
// and the step's on_fail (here review) decides what follows; a tenant without an endpoint gets
// custom_check_no_endpoint. Waits are bounded polls, no timed assertions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { pki } from './pki.mjs';
import { startNova, makeTenant, token, call } from '../integration/lib.mjs';

const SUFFIX = randomBytes(4).toString('hex');
const SCOPES = 'workflows:write verifications:read verifications:write webhooks:read webhooks:write';
let nova, a, aTok, c, cTok, work, rx, secret;
// What the receiver answers per path: [status, body, delay ms].
const ANSWERS = {
  '/pass': [200, { result: 'pass', score: 0.9, reasons: ['known_customer'] }],
  '/fail': [200, { result: 'fail', reasons: ['duplicate_applicant'] }],
  '/review': [200, { result: 'review' }],
  '/500': [500, { result: 'pass' }],
  '/garbage': [200, 'not json'],
  '/bad-shape': [200, { result: 'pass', score: 7 }],
  '/slow': [200, { result: 'pass' }, 3000],
};

let ca, leaf, pem; // from pki(work) in before()

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'nova-custom-'));
  ({ ca, leaf, pem } = pki(work));
  ca('rca'); ca('cca'); ca('xca');
  leaf('receiver', 'rca');
  leaf('nova', 'cca');
  const got = [];
  const srv = createServer({ key: pem('receiver.key'), cert: pem('receiver.pem'), ca: pem('cca.pem'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', async () => {
      got.push({ path: req.url, headers: req.headers, body });
      const [status, answer, delay] = ANSWERS[req.url] || [404, 'no'];
      if (delay) await sleep(delay);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof answer === 'string' ? answer : JSON.stringify(answer));
    });
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  rx = { srv, got, url: (p) => `https://127.0.0.1:${srv.address().port}${p}` };
  nova = await startNova({ NOVA_IDV_WORKERS: '1', NOVA_WEBHOOK_ALLOW_PRIVATE: 'true' }); // the receiver is on 127.0.0.1
  a = makeTenant(nova, 'custom-a-' + SUFFIX, SCOPES);
  c = makeTenant(nova, 'custom-c-' + SUFFIX, SCOPES);
  aTok = await token(nova, a);
  cTok = await token(nova, c);
  const ep = await call(nova, 'POST', '/v1/webhooks/endpoints', { tok: aTok, body: {
    url: rx.url('/events'), events: ['verification.completed'], client_certificate: pem('nova.pem'), client_key: pem('nova.key'), ca_certificate: pem('rca.pem'),
  } });
  assert.equal(ep.status, 201, ep.text);
  secret = ep.json.secret;
});

after(async () => {
  if (nova) await nova.stop();
  rx?.srv.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

// A tiny JPEG is enough: OCR finds nothing on it, its on_fail continue lets the custom step run.
const JPEG = (() => {
  const r = spawnSync(existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3', ['-c', 'import io,sys\nfrom PIL import Image\nb=io.BytesIO()\nImage.new("RGB",(64,48),(200,200,200)).save(b,"JPEG")\nsys.stdout.buffer.write(b.getvalue())']);
  assert.equal(r.status, 0, String(r.stderr));
  return r.stdout.toString('base64');
})();

async function run(tok, path, extra = {}) {
  const w = await call(nova, 'POST', '/v1/workflows', { tok, body: {
    name: 'custom ' + path.slice(1),
    steps: [{ check: 'ocr', on_fail: 'continue' }, { check: 'custom_webhook', on_fail: 'review', config: { url: rx.url(path), ...extra } }],
    review_rules: [{ any_step: 'review' }],
  } });
  assert.equal(w.status, 201, w.text);
  const r = await call(nova, 'POST', '/v1/verifications', { tok, body: { workflow_id: w.json.id, mode: 'async', images: { document_front: JPEG }, applicant: { name: 'Ada Obi', date_of_birth: '1990-01-02' } } });
  assert.ok(r.status === 202 || r.status === 201, r.text); // 201: decided before the reply
  for (let i = 0; i < 300; i++) {
    const v = await call(nova, 'GET', '/v1/verifications/' + r.json.id, { tok });
    if (v.json.status === 'completed' || v.json.status === 'failed') {
      const step = (v.json.steps || v.json.results || []).find((s) => s.check === 'custom_webhook');
      assert.ok(step, JSON.stringify(v.json));
      return { v: v.json, step };
    }
    await sleep(100);
  }
  throw new Error('not decided');
}

test('the receiver decides the step: pass, fail with reasons, review; the request is signed and carries the step input', async () => {
  const pass = await run(aTok, '/pass');
  assert.equal(pass.step.status, 'passed', JSON.stringify(pass.step));
  assert.equal(pass.step.score, 0.9);
  assert.deepEqual(pass.step.reasons, ['known_customer']);
  const sent = rx.got.find((g) => g.path === '/pass');
  const body = new Webhook(secret).verify(sent.body, sent.headers);
  assert.equal(body.verification_id, pass.v.id);
  assert.equal(body.applicant.name, 'Ada Obi');
  assert.ok(body.steps && typeof body.steps === 'object');

  const fail = await run(aTok, '/fail');
  assert.equal(fail.step.status, 'failed');
  assert.deepEqual(fail.step.reasons, ['duplicate_applicant']);
  assert.equal(fail.v.decision, 'review_required', 'on_fail review');
  const review = await run(aTok, '/review');
  assert.equal(review.step.status, 'review');
  assert.equal(review.v.decision, 'review_required');
});

test('a non-2xx, a bad body, a slow receiver and no endpoint fail the step with a reason; on_fail decides', async () => {
  for (const [path, code, extra] of [['/500', 'custom_check_http_status'], ['/garbage', 'custom_check_bad_reply'],
    ['/bad-shape', 'custom_check_bad_reply'], ['/slow', 'custom_check_timeout', { timeout_ms: 500 }]]) {
    const r = await run(aTok, path, extra);
    assert.equal(r.step.status, 'failed', path + ' ' + JSON.stringify(r.step));
    assert.deepEqual(r.step.reasons, [code], path);
    assert.equal(r.v.decision, 'review_required', path);
  }
  const none = await run(cTok, '/pass'); // tenant c has no endpoint: nothing to connect with
  assert.deepEqual(none.step.reasons, ['custom_check_no_endpoint']);
  assert.equal(rx.got.filter((g) => g.path === '/pass').length, 1, 'nothing sent for tenant c');
  // Tenant c's endpoint trusts another CA than the receiver's: the handshake fails, nothing sent.
  const ep = await call(nova, 'POST', '/v1/webhooks/endpoints', { tok: cTok, body: {
    url: rx.url('/events'), events: ['verification.completed'], client_certificate: pem('nova.pem'), client_key: pem('nova.key'), ca_certificate: pem('xca.pem'),
  } });
  assert.equal(ep.status, 201, ep.text);
  const wrong = await run(cTok, '/pass');
  assert.deepEqual(wrong.step.reasons, ['custom_check_unreachable']);
  assert.equal(wrong.v.decision, 'review_required');
  assert.equal(rx.got.filter((g) => g.path === '/pass').length, 1, 'nothing reached a receiver Nova could not verify');
});

test('a step names the endpoint whose certificate and secret it uses; another tenant\'s, an unknown or a disabled one is no endpoint', async () => {
  const second = await call(nova, 'POST', '/v1/webhooks/endpoints', { tok: aTok, body: {
    url: rx.url('/events-2'), events: ['verification.completed'], client_certificate: pem('nova.pem'), client_key: pem('nova.key'), ca_certificate: pem('rca.pem'),
  } });
  assert.equal(second.status, 201, second.text);
  const before = rx.got.filter((g) => g.path === '/pass').length;
  const named = await run(aTok, '/pass', { endpoint_id: second.json.id });
  assert.equal(named.step.status, 'passed', JSON.stringify(named.step));
  const sent = rx.got.filter((g) => g.path === '/pass').at(-1);
  // signed with the named endpoint's secret, not the oldest one's
  assert.equal(new Webhook(second.json.secret).verify(sent.body, sent.headers).verification_id, named.v.id);
  assert.throws(() => new Webhook(secret).verify(sent.body, sent.headers));
  const cEps = (await call(nova, 'GET', '/v1/webhooks/endpoints', { tok: cTok })).json;
  const foreign = (cEps.endpoints ?? cEps.data ?? cEps)[0].id;
  for (const id of [foreign, 'whe_unknown0000000000000']) {
    const r = await run(aTok, '/pass', { endpoint_id: id });
    assert.deepEqual(r.step.reasons, ['custom_check_no_endpoint'], id);
  }
  const off = await call(nova, 'PATCH', '/v1/webhooks/endpoints/' + second.json.id, { tok: aTok, body: { enabled: false } });
  assert.equal(off.status, 200, off.text);
  const disabled = await run(aTok, '/pass', { endpoint_id: second.json.id });
  assert.deepEqual(disabled.step.reasons, ['custom_check_no_endpoint']);
  assert.equal(rx.got.filter((g) => g.path === '/pass').length, before + 1, 'only the named, enabled endpoint sent');
  // a malformed id is refused with the workflow, naming the field
  const bad = await call(nova, 'POST', '/v1/workflows', { tok: aTok, body: {
    name: 'bad endpoint', steps: [{ check: 'ocr' }, { check: 'custom_webhook', config: { url: rx.url('/pass'), endpoint_id: 'no spaces allowed' } }],
  } });
  assert.equal(bad.status, 422, bad.text);
  assert.match(bad.text, /endpoint_id/);
});
