// The approximate index behind POST /v1/faces/search, against the real novad and the real
// nets. Two novads share one store: one searches with the IVF from 8 faces on
// (NOVA_FACE_IVF_MIN=8, NOVA_FACE_IVF_NPROBE=2 of its sqrt(n) cells), the other exactly (the
// default minimum, 100000). The IVF is built in the background once the gallery reaches the
// minimum, while searches keep the exact scan; once built, its answers equal the exact
// novad's on every probe. This process's own enrolments and removals are applied to its
// cached index without reading the gallery again (its log shows one load), and the other's are
// brought in from the ids (only new faces read); a removal, here or by the other process, is
// never returned again; a tenant sees only its own faces.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { BIN, startNova, makeTenant, token, call } from './lib.mjs';

const MODEL = resolve('tools/models/nova-face.bin');
const DEMO = resolve('tools/models/node_modules/@vladmandic/face-api/demo');
const FRAMES = join(dirname(BIN), '..', 'tests', 'unit', 'vision_frames');
let ivf, exact, a, b, tokA, tokAx, tokB, dir;

before(async () => {
  assert.ok(existsSync(MODEL), 'the face model exists (scripts/models.sh, which make test runs)');
  dir = mkdtempSync(join(tmpdir(), 'nova-ivf-'));
  const g = spawnSync(FRAMES, [dir], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  const env = { NOVA_FACE_MODEL: MODEL, NOVA_MAX_BODY: String(4 << 20) };
  ivf = await startNova({ ...env, NOVA_FACE_IVF_MIN: '8', NOVA_FACE_IVF_NPROBE: '2' });
  exact = await startNova(env, { shareWith: ivf });
  a = makeTenant(ivf, 'ivf-a-' + Date.now(), 'verifications:write');
  b = makeTenant(ivf, 'ivf-b-' + Date.now(), 'verifications:write');
  tokA = await token(ivf, a);
  tokAx = await token(exact, a);
  tokB = await token(ivf, b);
});
after(async () => {
  await exact.stop();
  await ivf.stop();
  rmSync(dir, { recursive: true, force: true });
});

const jpeg = (name) => readFileSync(name.startsWith('sample') ? `${DEMO}/${name}.jpg` : join(dir, name + '.jpg')).toString('base64');
const enrol = (nova, tok, subject, image) => call(nova, 'POST', '/v1/faces/gallery', { tok, body: { subject, image: jpeg(image) } });
const search = (nova, tok, image, extra = {}) => call(nova, 'POST', '/v1/faces/search', { tok, body: { image: jpeg(image), ...extra } });
const loads = (nova, tenant) => nova.logs().split('\n').filter((l) => l.includes('face gallery of tenant ' + tenant + ' loaded')).length;

// The IVF novad's answer equals the exact one's: same faces, same order, same distances.
async function sameAsExact(image, extra = {}) {
  const [x, y] = [await search(ivf, tokA, image, extra), await search(exact, tokAx, image, extra)];
  assert.equal(x.status, 200, x.text);
  assert.equal(y.status, 200, y.text);
  assert.equal(x.json.index, 'ivf', image);
  assert.equal(y.json.index, 'exact', image);
  assert.equal(x.json.searched, y.json.searched);
  assert.deepEqual(x.json.matches.map((m) => m.id), y.json.matches.map((m) => m.id), image);
  // |x|^2 + |q|^2 - 2 x.q summed in another order: equal squares, up to float rounding (a
  // distance near 0 is the square root of that rounding)
  x.json.matches.forEach((m, i) => assert.ok(Math.abs(m.distance ** 2 - y.json.matches[i].distance ** 2) < 1e-4, image));
  return x.json;
}

const gallery = ['sample1', 'sample2', 'sample3', 'sample4', 'sample5', 'sample6', 'neutral_1', 'other',
  'neutral_3', 'smile', 'turn_left', 'neutral_5', 'blink'];
const probes = ['neutral_2', 'neutral_4', 'neutral_6', 'sample1', 'sample3', 'sample5', 'other', 'turn_right', 'nod'];
const ids = {};

test('the IVF is built in the background from the minimum on and answers as the exact scan', async () => {
  for (const [i, name] of gallery.entries()) {
    const e = await enrol(ivf, tokA, 'applicant-' + name, name);
    assert.equal(e.status, 201, e.text);
    ids[name] = e.json.id;
    if (i === 6) { // 7 faces: under the minimum, exact
      const s = await search(ivf, tokA, 'neutral_2');
      assert.equal(s.json.index, 'exact');
      assert.equal(s.json.searched, 7);
    }
  }
  // the rebuild runs apart from the searches: poll until it has swapped its index in
  let s;
  for (let t = 0; t < 100; t++) {
    s = await search(ivf, tokA, 'neutral_2');
    if (s.json.index === 'ivf') break;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  assert.equal(s.json.index, 'ivf', 'the IVF was built');
  assert.equal(s.json.searched, gallery.length);
  // the synthetic applicant is found under other captures (its neutral frames among them),
  // another person is not
  const found = (await sameAsExact('neutral_2')).matches.map((m) => m.id);
  for (const n of ['neutral_1', 'neutral_3', 'neutral_5']) assert.ok(found.includes(ids[n]), n);
  assert.ok(!found.includes(ids.other));
  for (const p of probes) await sameAsExact(p);
  await sameAsExact('sample2', { max_distance: 0.6, limit: 3 });
  // the gallery was read from the store once in this process: every enrolment was applied
  assert.equal(loads(ivf, a.tenant), 1, ivf.logs().slice(-2000));
});

test('enrolments and removals are applied to the cached index; a removed face never returns', async () => {
  const before = loads(ivf, a.tenant);
  const e = await enrol(ivf, tokA, 'applicant-nod', 'nod');
  assert.equal(e.status, 201, e.text);
  ids.nod = e.json.id;
  assert.equal((await call(ivf, 'DELETE', '/v1/faces/gallery/' + ids.neutral_3, { tok: tokA })).status, 204);
  const n = await sameAsExact('nod', { max_distance: 0.05 });
  assert.deepEqual(n.matches.map((m) => m.id), [ids.nod], 'the new face (after the build) is found');
  const s = await sameAsExact('neutral_2');
  assert.ok(!s.matches.some((m) => m.id === ids.neutral_3), 'the removed face is not');
  assert.equal(s.searched, gallery.length); // one more, one less
  const own = (await search(ivf, tokA, 'neutral_3', { max_distance: 0.5 })).json.matches;
  assert.ok(own.length > 0 && !own.some((m) => m.id === ids.neutral_3), 'its own image finds the others, not it');
  assert.equal(loads(ivf, a.tenant), before, 'no reload for this process own changes');
  // removed and enrolled by the other process: this one sees the version moved and brings its
  // index up to date from the ids (reading only the new face), never returning the removed one
  const syncs = () => ivf.logs().split('\n').filter((l) => l.includes('face gallery of tenant ' + a.tenant + ' brought up to date')).length;
  assert.equal((await call(exact, 'DELETE', '/v1/faces/gallery/' + ids.neutral_5, { tok: tokAx })).status, 204);
  const ex = await enrol(exact, tokAx, 'applicant-slid', 'slid_1');
  assert.equal(ex.status, 201, ex.text);
  const r = await search(ivf, tokA, 'neutral_5', { max_distance: 2, limit: 100 });
  assert.equal(r.status, 200, r.text);
  assert.ok(!r.json.matches.some((m) => m.id === ids.neutral_5 || m.id === ids.neutral_3), r.text);
  assert.ok(r.json.matches.some((m) => m.id === ex.json.id), r.text);
  assert.equal(r.json.searched, gallery.length);
  assert.equal(loads(ivf, a.tenant), before, 'brought up to date, not reloaded');
  assert.equal(syncs(), 1);
  assert.match(ivf.logs(), /brought up to date: 1 faces added, 1 removed/);
  for (const p of ['neutral_2', 'neutral_5', 'nod', 'slid_2', 'sample4']) await sameAsExact(p);
});

test('a tenant searches only its own gallery', async () => {
  const e = await enrol(ivf, tokB, 'b-applicant', 'neutral_4');
  assert.equal(e.status, 201, e.text);
  const s = await search(ivf, tokB, 'neutral_2', { max_distance: 2, limit: 100 });
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.index, 'exact');
  assert.equal(s.json.searched, 1);
  assert.deepEqual(s.json.matches.map((m) => m.id), [e.json.id]);
  const mine = await search(ivf, tokA, 'neutral_4', { max_distance: 2, limit: 100 });
  assert.ok(!mine.json.matches.some((m) => m.id === e.json.id));
  assert.equal((await call(ivf, 'DELETE', '/v1/faces/gallery/' + ids.nod, { tok: tokB })).status, 404);
  assert.ok((await search(ivf, tokA, 'nod')).json.matches.some((m) => m.id === ids.nod), 'still there for a');
});
