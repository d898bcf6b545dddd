// POST /v1/liveness/challenges and /v1/liveness/verify against the real novad and the real nets
// (tools/models/nova-face.bin, scripts/models.sh), on bursts that the build's vision_frames
// writes from the face-api package's sample photos (tests/unit/vision_synth.c): a live burst
// performing the challenge's actions passes; a replayed nonce, a still photo repeated, a photo
// slid across the frame and another person's selfie fail; bad input gets its 4xx naming the
// field and leaves the nonce usable; a nonce is the tenant's own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { BIN, CTL, startNova, makeTenant, token, call } from './lib.mjs';

const MODEL = resolve('tools/models/nova-face.bin');
const DEMO = resolve('tools/models/node_modules/@vladmandic/face-api/demo');
const FRAMES = join(dirname(BIN), '..', 'tests', 'unit', 'vision_frames');
const ACTIONS = ['turn_left', 'turn_right', 'blink', 'smile', 'nod'];
let nova, tok, dir;

before(async () => {
  assert.ok(existsSync(MODEL), 'the face model exists (scripts/models.sh, which make test runs)');
  dir = mkdtempSync(join(tmpdir(), 'nova-frames-'));
  const g = spawnSync(FRAMES, [dir], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  nova = await startNova({ NOVA_FACE_MODEL: MODEL, NOVA_MAX_BODY: String(8 << 20) });
  tok = await token(nova, makeTenant(nova, 'liveness-' + Date.now(), 'verifications:write'));
});
after(async () => {
  await nova.stop();
  rmSync(dir, { recursive: true, force: true });
});

const jpg = (name) => readFileSync(join(dir, name + '.jpg')).toString('base64');
const frames = (names) => names.map((n, i) => ({ image: jpg(n), t_ms: 1000 + 250 * i }));

async function challenge(t = tok) {
  const r = await call(nova, 'POST', '/v1/liveness/challenges', { tok: t, body: {} });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

// neutral, then each action and back to neutral: the burst a live applicant sends.
function live(actions) {
  const names = ['neutral_1'];
  actions.forEach((a, i) => names.push(a, 'neutral_' + (i + 2)));
  return frames(names);
}

test('a challenge: single-use nonce, 2 or 3 distinct actions, two minutes', async () => {
  const seen = new Set();
  for (let i = 0; i < 8; i++) {
    const c = await challenge();
    assert.match(c.nonce, /^lvn_[A-Za-z0-9_-]{22}$/);
    assert.ok(c.actions.length === 2 || c.actions.length === 3, JSON.stringify(c));
    assert.equal(new Set(c.actions).size, c.actions.length);
    for (const a of c.actions) assert.ok(ACTIONS.includes(a), a);
    assert.equal(c.expires_in, 120);
    seen.add(c.nonce);
  }
  assert.equal(seen.size, 8);
  const extra = await call(nova, 'POST', '/v1/liveness/challenges', { tok, body: { actions: 5 } });
  assert.equal(extra.status, 400);
});

test('a live burst passes; the same nonce again is refused', async () => {
  const c = await challenge();
  const body = { nonce: c.nonce, frames: live(c.actions), selfie: jpg('neutral_5') };
  const r = await call(nova, 'POST', '/v1/liveness/verify', { tok, body });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.decision, 'pass', r.text);
  assert.deepEqual(r.json.reasons, []);
  assert.deepEqual(r.json.actions.map((a) => a.action), c.actions);
  assert.deepEqual(r.json.actions.map((a) => a.frame), c.actions.map((_, i) => 1 + 2 * i));
  assert.equal(r.json.frames.length, body.frames.length);
  assert.ok(r.json.distance_max < 0.55);
  const again = await call(nova, 'POST', '/v1/liveness/verify', { tok, body });
  assert.equal(again.status, 400);
  assert.equal(again.json.code, 'invalid_nonce');
});

test('attacks fail: a still repeated, a photo slid, another person', async () => {
  const cases = [
    ['still', () => frames(['neutral_1', 'neutral_1', 'neutral_1', 'neutral_1', 'neutral_1']), null, ['repeated_frame', 'affine_replay', 'action_missing']],
    ['slid', () => frames(['neutral_1', 'slid_1', 'slid_2', 'slid_3', 'slid_4']), null, ['affine_replay', 'action_missing']],
    ['other', (c) => live(c.actions), 'other', ['other_person']],
  ];
  for (const [what, make, selfie, want] of cases) {
    const c = await challenge();
    const body = { nonce: c.nonce, frames: make(c) };
    if (selfie) body.selfie = jpg(selfie);
    const r = await call(nova, 'POST', '/v1/liveness/verify', { tok, body });
    assert.equal(r.status, 200, what + ' ' + r.text);
    assert.equal(r.json.decision, 'fail', what);
    assert.equal(r.json.score, 0);
    for (const w of want) assert.ok(r.json.reasons.includes(w), `${what}: ${w} in ${r.json.reasons}`);
  }
});

test('bad input: 4xx naming the field, and the nonce is not spent', async () => {
  const c = await challenge();
  const good = live(c.actions);
  const bad = [
    [{ frames: good }, 400, 'invalid_request', /nonce/],
    [{ nonce: c.nonce }, 400, 'invalid_request', /frames/],
    [{ nonce: c.nonce, frames: good.slice(0, 1) }, 400, 'invalid_request', /frames/],
    [{ nonce: c.nonce, frames: [good[0], { image: good[1].image }] }, 400, 'invalid_request', /frames\[1\]/],
    [{ nonce: c.nonce, frames: [good[0], { image: 'not base64 !', t_ms: 5 }] }, 400, 'invalid_image', /frames\[1\]\.image/],
    [{ nonce: c.nonce, frames: [good[0], { image: Buffer.from('text').toString('base64'), t_ms: 5 }] }, 400, 'invalid_image', /frames\[1\]\.image/],
    [{ nonce: c.nonce, frames: good, selfie: 'AAAA' }, 400, 'invalid_image', /selfie/],
    [{ nonce: c.nonce, frames: [good[0], { image: readFileSync(`${DEMO}/sample1.jpg`).toString('base64'), t_ms: 9 }] }, 413, 'payload_too_large', /frames\[1\]\.image: a burst frame is at most 2\.1 megapixels/],
    [{ nonce: c.nonce, frames: good, require_camera_exif: 'yes' }, 400, 'invalid_request', /require_camera_exif/],
    [{ nonce: c.nonce, frames: good, extra: 1 }, 400, null, null],
    [{ nonce: 'lvn_unknown', frames: good }, 400, 'invalid_nonce', /nonce/],
  ];
  for (const [body, status, code, detail] of bad) {
    const r = await call(nova, 'POST', '/v1/liveness/verify', { tok, body });
    assert.equal(r.status, status, JSON.stringify(Object.keys(body)) + ' ' + r.text.slice(0, 200));
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
    if (code) assert.equal(r.json.code, code);
    if (detail) assert.match(r.json.detail, detail);
  }
  // none of those spent the nonce; another tenant cannot use it either
  const other = await token(nova, makeTenant(nova, 'liveness-other-' + Date.now(), 'verifications:write'));
  const stolen = await call(nova, 'POST', '/v1/liveness/verify', { tok: other, body: { nonce: c.nonce, frames: good } });
  assert.equal(stolen.status, 400);
  assert.equal(stolen.json.code, 'invalid_nonce');
  const r = await call(nova, 'POST', '/v1/liveness/verify', { tok, body: { nonce: c.nonce, frames: good } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.decision, 'pass');
  // the camera EXIF signal routes a burst without it to review when the caller asks for it
  const c2 = await challenge();
  const r2 = await call(nova, 'POST', '/v1/liveness/verify', { tok, body: { nonce: c2.nonce, frames: live(c2.actions), require_camera_exif: true } });
  assert.equal(r2.status, 200, r2.text);
  assert.equal(r2.json.decision, 'review');
  assert.deepEqual(r2.json.passive.reasons, ['no_camera_exif']);
});

test('scopes: a token without verifications:write, and none at all', async () => {
  const weak = await token(nova, makeTenant(nova, 'liveness-weak-' + Date.now(), 'clients:read'));
  for (const path of ['/v1/liveness/challenges', '/v1/liveness/verify']) {
    assert.equal((await call(nova, 'POST', path, { body: {} })).status, 401);
    assert.equal((await call(nova, 'POST', path, { tok: weak, body: {} })).status, 403);
  }
});

test('novactl face liveness DIR and face passive IMG print the engine\'s JSON', () => {
  const burst = join(dir, 'burst');
  mkdirSync(burst);
  ['neutral_1', 'blink', 'neutral_2', 'turn_left', 'neutral_3'].forEach((n, i) => copyFileSync(join(dir, n + '.jpg'), join(burst, `${i}.jpg`)));
  const ctl = (...args) => {
    const r = spawnSync(CTL, args, { encoding: 'utf8', env: { PATH: process.env.PATH, NOVA_FACE_MODEL: MODEL, ASAN_OPTIONS: process.env.ASAN_OPTIONS || '' } });
    return { code: r.status, json: r.status === 0 ? JSON.parse(r.stdout) : null, stderr: r.stderr };
  };
  const ok = ctl('face', 'liveness', 'blink,turn_left', burst);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.json.decision, 'pass');
  assert.deepEqual(ok.json.actions, [{ action: 'blink', frame: 1 }, { action: 'turn_left', frame: 3 }]);
  const order = ctl('face', 'liveness', 'turn_left,blink', burst);
  assert.equal(order.json.decision, 'fail');
  assert.deepEqual(order.json.reasons, ['action_order']);
  const p = ctl('face', 'passive', join(dir, 'neutral_1.jpg'));
  assert.equal(p.code, 0, p.stderr);
  assert.deepEqual(p.json.reasons, []);
  assert.equal(p.json.camera_exif, false);
  assert.equal(ctl('face', 'liveness', 'jump', burst).code, 6);
  assert.equal(ctl('face', 'liveness', 'blink', join(dir, 'absent')).code, 6);
});
