// POST /v1/faces/compare against the real novad and the real nets (tools/models/nova-face.bin,
// made by scripts/models.sh) on the sample photos shipped in the face-api npm package: the same
// photo matches, two people do not, and bad input gets its 4xx.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startNova, makeTenant, token, call } from './lib.mjs';

const DEMO = resolve('tools/models/node_modules/@vladmandic/face-api/demo');
const MODEL = resolve('tools/models/nova-face.bin');
const img = (n) => readFileSync(`${DEMO}/sample${n}.jpg`).toString('base64');

test('face match on the sample photos, with scopes and bad input', async () => {
  assert.ok(existsSync(MODEL), 'the face model exists (scripts/models.sh, which make test runs)');
  const nova = await startNova({ NOVA_FACE_MODEL: MODEL, NOVA_MAX_BODY: String(4 << 20) });
  try {
    const t = makeTenant(nova, 'faces-' + Date.now(), 'verifications:write');
    const tok = await token(nova, t);
    const same = await call(nova, 'POST', '/v1/faces/compare', { tok, body: { document: img(1), selfie: img(1) } });
    assert.equal(same.status, 200, same.text);
    assert.equal(same.json.decision, 'match');
    assert.ok(same.json.distance < 0.01);
    assert.equal(same.json.document.faces, 1);
    const other = await call(nova, 'POST', '/v1/faces/compare', { tok, body: { document: img(1), selfie: img(2) } });
    assert.equal(other.status, 200);
    assert.equal(other.json.decision, 'no_match');
    assert.ok(other.json.distance > 0.55);
    // A stricter threshold the same photo still passes; a threshold order that makes no sense.
    assert.equal((await call(nova, 'POST', '/v1/faces/compare', { tok, body: { document: img(1), selfie: img(1), match_max: 0.1 } })).json.decision, 'match');
    const bad = [
      [{ document: img(1) }, 400, 'invalid_request'],
      [{ document: img(1), selfie: 'not base64 !' }, 400, 'invalid_image'],
      [{ document: img(1), selfie: Buffer.from('plain text').toString('base64') }, 400, 'invalid_image'],
      [{ document: img(1), selfie: img(1), match_max: 3 }, 400, 'invalid_request'],
      [{ document: img(1), selfie: img(1), match_max: 0.5, review_max: 0.4 }, 400, 'invalid_request'],
      [{ document: img(1), selfie: img(1), extra: true }, 400, null],
    ];
    for (const [body, status, code] of bad) {
      const r = await call(nova, 'POST', '/v1/faces/compare', { tok, body });
      assert.equal(r.status, status, JSON.stringify(Object.keys(body)) + ' ' + r.text.slice(0, 200));
      assert.equal(r.headers.get('content-type'), 'application/problem+json');
      if (code) assert.equal(r.json.code, code);
    }
    assert.equal((await call(nova, 'POST', '/v1/faces/compare', { body: { document: img(1), selfie: img(1) } })).status, 401);
    const other2 = makeTenant(nova, 'faces-noscope-' + Date.now(), 'clients:read');
    assert.equal((await call(nova, 'POST', '/v1/faces/compare', { tok: await token(nova, other2), body: { document: img(1), selfie: img(1) } })).status, 403);
  } finally {
    await nova.stop();
  }
});
