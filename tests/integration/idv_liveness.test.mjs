// Active liveness through the verification gateway (issue 9, the biometrics issue's engine):
// a workflow whose liveness step is in mode active takes the challenge of
// POST /v1/liveness/challenges with the verification (liveness.nonce, frame_times_ms and
// images.liveness_frames), spends the nonce once the verification is recorded, and the worker
// checks the burst against the challenge's actions with the vision engine (the selfie as
// the reference). A live burst passes; a replayed nonce, a burst without the asked actions,
// a missing challenge and mismatched times are refused or failed, each naming why.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { BIN, startNova, makeTenant, token, call } from './lib.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const MODEL = resolve(ROOT, 'tools/models/nova-face.bin');
const FRAMES = join(dirname(BIN), '..', 'tests', 'unit', 'vision_frames');
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
let nova, tok, dir, doc, wf;

before(async () => {
  assert.ok(existsSync(MODEL), 'the face model exists (scripts/models.sh, which make test runs)');
  dir = mkdtempSync(join(tmpdir(), 'nova-idv-live-'));
  assert.equal(spawnSync(FRAMES, [dir], { encoding: 'utf8' }).status, 0);
  const g = spawnSync(PY, [join(ROOT, 'tools/idv_docgen.py'), join(dir, 'docs'), '--count', '1', '--formats', 'TD3', '--seed', '5'], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  doc = readFileSync(join(dir, 'docs', readdirSync(join(dir, 'docs')).find((f) => f.endsWith('.jpg')))).toString('base64');
  nova = await startNova({ NOVA_FACE_MODEL: MODEL, NOVA_IDV_WORKERS: '1', NOVA_MAX_BODY: String(16 << 20) });
  tok = await token(nova, makeTenant(nova, 'idv-live-' + Date.now(), 'workflows:write workflows:read verifications:write verifications:read'));
  const w = await call(nova, 'POST', '/v1/workflows', {
    tok,
    body: { name: 'active liveness', steps: [{ check: 'ocr', on_fail: 'continue' }, { check: 'liveness', config: { mode: 'active' } }], decision: { approve_at: 0.7, reject_below: 0.4 } },
  });
  assert.equal(w.status, 201, w.text);
  wf = w.json.id;
});
after(async () => {
  await nova.stop();
  rmSync(dir, { recursive: true, force: true });
});

const jpg = (name) => readFileSync(join(dir, name + '.jpg')).toString('base64');
async function challenge() {
  const r = await call(nova, 'POST', '/v1/liveness/challenges', { tok, body: {} });
  assert.equal(r.status, 201, r.text);
  return r.json;
}
// neutral, then each action and back to neutral
function burst(actions) {
  const names = ['neutral_1'];
  actions.forEach((a, i) => names.push(a, 'neutral_' + (i + 2)));
  return names;
}
function body(nonce, names, extra = {}) {
  return {
    workflow_id: wf,
    mode: 'sync',
    images: { document_front: doc, selfie: jpg('neutral_5'), liveness_frames: names.map(jpg) },
    liveness: { nonce, frame_times_ms: names.map((_, i) => 1000 + 250 * i) },
    ...extra,
  };
}
const step = (v) => v.steps.find((s) => s.check === 'liveness');

test('a live burst performing the challenge passes the active step; its nonce is spent', async () => {
  const c = await challenge();
  const r = await call(nova, 'POST', '/v1/verifications', { tok, body: body(c.nonce, burst(c.actions)) });
  assert.equal(r.status, 201, r.text);
  const s = step(r.json);
  assert.equal(s.status, 'passed', JSON.stringify(s));
  assert.equal(s.extracted.mode, 'active');
  assert.equal(s.extracted.reference, 'selfie');
  assert.deepEqual(s.extracted.actions.map((a) => a.action), c.actions);
  // the same challenge again: refused before anything is recorded
  const again = await call(nova, 'POST', '/v1/verifications', { tok, body: body(c.nonce, burst(c.actions)) });
  assert.equal(again.status, 422, again.text);
  assert.match(again.text, /liveness\.nonce/);
  // and /v1/liveness/verify cannot use it either
  const v = await call(nova, 'POST', '/v1/liveness/verify', { tok, body: { nonce: c.nonce, frames: burst(c.actions).map((n, i) => ({ image: jpg(n), t_ms: i * 100 })) } });
  assert.equal(v.status, 400);
});

test('a burst without the asked actions fails the step, naming them', async () => {
  const c = await challenge();
  const names = ['neutral_1', 'neutral_2', 'neutral_3', 'neutral_4'];
  const r = await call(nova, 'POST', '/v1/verifications', { tok, body: body(c.nonce, names) });
  assert.equal(r.status, 201, r.text);
  const s = step(r.json);
  assert.equal(s.status, 'failed', JSON.stringify(s));
  assert.ok(s.reasons.includes('action_missing'), JSON.stringify(s.reasons));
  assert.notEqual(r.json.decision, 'approved');
});

test('bad input is a 422 naming the field, and the nonce stays usable', async () => {
  const c = await challenge();
  const names = burst(c.actions);
  const good = body(c.nonce, names);
  const cases = [
    [{ ...good, liveness: undefined }, /"liveness"|liveness:/],
    [{ ...good, liveness: { nonce: c.nonce } }, /liveness/],
    [{ ...good, liveness: { nonce: c.nonce, frame_times_ms: [1, 2] } }, /liveness\.frame_times_ms/],
    [{ ...good, liveness: { nonce: c.nonce, frame_times_ms: names.map(() => 5) } }, /liveness\.frame_times_ms/],
    [{ ...good, images: { ...good.images, liveness_frames: [jpg('neutral_1')] }, liveness: { nonce: c.nonce, frame_times_ms: [1] } }, /images\.liveness_frames/],
    [{ ...good, liveness: { nonce: 'lvn_unknown', frame_times_ms: good.liveness.frame_times_ms } }, /liveness\.nonce/],
  ];
  for (const [b, field] of cases) {
    const r = await call(nova, 'POST', '/v1/verifications', { tok, body: JSON.parse(JSON.stringify(b)) });
    assert.equal(r.status, 422, r.text.slice(0, 300));
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
    assert.match(r.text, field);
  }
  const r = await call(nova, 'POST', '/v1/verifications', { tok, body: good });
  assert.equal(r.status, 201, r.text);
  assert.equal(step(r.json).status, 'passed', JSON.stringify(step(r.json)));
});
