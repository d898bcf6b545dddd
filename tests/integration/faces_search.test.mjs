// Duplicate-face search against the real novad and the real nets: POST /v1/faces/gallery
// enrols an applicant's face (its descriptor sealed with the tenant's data key; no image kept),
// POST /v1/faces/search finds the applicants within the threshold, DELETE removes one. The
// same person under another capture is found and another person is not; a tenant sees only
// its own gallery; each enrolment and removal is audited; the descriptor is not in clear in
// the database file; bad input gets its 4xx naming the field.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { BIN, CTL, startNova, makeTenant, token, call } from './lib.mjs';

const MODEL = resolve('tools/models/nova-face.bin');
const DEMO = resolve('tools/models/node_modules/@vladmandic/face-api/demo');
const FRAMES = join(dirname(BIN), '..', 'tests', 'unit', 'vision_frames');
const onSqlite = !process.env.NOVA_TEST_DATABASE_URL;
let nova, a, b, tokA, tokB, dir;

before(async () => {
  assert.ok(existsSync(MODEL), 'the face model exists (scripts/models.sh, which make test runs)');
  dir = mkdtempSync(join(tmpdir(), 'nova-gallery-'));
  const g = spawnSync(FRAMES, [dir], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  nova = await startNova({ NOVA_FACE_MODEL: MODEL, NOVA_MAX_BODY: String(4 << 20) });
  a = makeTenant(nova, 'gallery-a-' + Date.now(), 'verifications:write audit:read');
  b = makeTenant(nova, 'gallery-b-' + Date.now(), 'verifications:write');
  tokA = await token(nova, a);
  tokB = await token(nova, b);
});
after(async () => {
  await nova.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sample = (n) => readFileSync(`${DEMO}/sample${n}.jpg`).toString('base64');
const frame = (name) => readFileSync(join(dir, name + '.jpg')).toString('base64');
const enrol = (tok, subject, image) => call(nova, 'POST', '/v1/faces/gallery', { tok, body: { subject, image } });
const search = (tok, image, extra = {}) => call(nova, 'POST', '/v1/faces/search', { tok, body: { image, ...extra } });

test('enrol, find the same person under another capture, not another person; per tenant', async () => {
  const e3 = await enrol(tokA, 'applicant-3', frame('neutral_1'));
  assert.equal(e3.status, 201, e3.text);
  assert.match(e3.json.id, /^face_/);
  assert.equal(e3.json.subject, 'applicant-3');
  const e2 = await enrol(tokA, 'applicant-2', sample(2));
  assert.equal(e2.status, 201, e2.text);
  // another capture of applicant-3 (other sensor noise): found, and only that applicant
  const s = await search(tokA, frame('neutral_2'));
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.searched, 2);
  assert.deepEqual(s.json.matches.map((m) => m.subject), ['applicant-3']);
  assert.equal(s.json.matches[0].id, e3.json.id);
  assert.ok(s.json.matches[0].distance < 0.2, s.text);
  // the same photo: distance ~0; another person: nothing
  const same = await search(tokA, sample(2));
  assert.deepEqual(same.json.matches.map((m) => m.subject), ['applicant-2']);
  assert.ok(same.json.matches[0].distance < 0.01);
  assert.deepEqual((await search(tokA, frame('other'))).json.matches, []);
  // a generous threshold returns both, nearest first, and limit caps them
  const wide = await search(tokA, frame('neutral_2'), { max_distance: 2 });
  assert.deepEqual(wide.json.matches.map((m) => m.subject), ['applicant-3', 'applicant-2']);
  assert.equal((await search(tokA, frame('neutral_2'), { max_distance: 2, limit: 1 })).json.matches.length, 1);
  // tenant b sees none of tenant a's gallery
  const other = await search(tokB, sample(2));
  assert.equal(other.status, 200);
  assert.equal(other.json.searched, 0);
  assert.deepEqual(other.json.matches, []);
  assert.equal((await call(nova, 'DELETE', '/v1/faces/gallery/' + e2.json.id, { tok: tokB })).status, 404);
  // removal: gone from the next search (the cached index follows the gallery's version)
  assert.equal((await call(nova, 'DELETE', '/v1/faces/gallery/' + e2.json.id, { tok: tokA })).status, 204);
  assert.deepEqual((await search(tokA, sample(2))).json.matches, []);
  assert.equal((await call(nova, 'DELETE', '/v1/faces/gallery/' + e2.json.id, { tok: tokA })).status, 404);
  // both changes are in tenant a's audit chain
  const audit = await call(nova, 'GET', '/v1/audit?limit=50', { tok: tokA });
  assert.equal(audit.status, 200, audit.text);
  const acts = audit.json.entries.map((e) => e.action + ' ' + e.target);
  for (const want of ['face.enrol face:' + e3.json.id, 'face.enrol face:' + e2.json.id, 'face.delete face:' + e2.json.id])
    assert.ok(acts.includes(want), want);
});

test('the descriptor is sealed at rest', { skip: !onSqlite && 'reads the SQLite file' }, () => {
  const d = spawnSync(CTL, ['face', 'describe', join(dir, 'neutral_1.jpg')], { encoding: 'utf8', env: { PATH: process.env.PATH, NOVA_FACE_MODEL: MODEL, ASAN_OPTIONS: process.env.ASAN_OPTIONS || '' } });
  assert.equal(d.status, 0, d.stderr);
  const desc = JSON.parse(d.stdout).faces[0].descriptor;
  const raw = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) raw.writeFloatLE(desc[i], 4 * i);
  const files = ['nova.db', 'nova.db-wal'].map((f) => join(nova.dir, f)).filter((f) => existsSync(f));
  const db = Buffer.concat(files.map((f) => readFileSync(f)));
  assert.ok(db.indexOf(Buffer.from('applicant-3')) >= 0, 'the row is in the files read');
  assert.equal(db.indexOf(raw), -1, 'the first floats of the descriptor are not in the file');
});

// On PostgreSQL the rows are the tenant's by row-level security, not only by the queries'
// WHERE: the application role sees none of them under another tenant's setting.
test('row-level security keeps the gallery per tenant', { skip: onSqlite && 'PostgreSQL only' }, () => {
  const count = (tenant) => {
    const r = spawnSync('psql', [process.env.NOVA_TEST_DATABASE_URL, '-qAt', '-c', `SET nova.tenant_id = '${tenant}'`,
      '-c', 'SELECT count(*) FROM face_gallery', '-c', 'SELECT count(*) FROM face_gallery_versions'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split('\n').map(Number);
  };
  const [mine, myVersion] = count(a.tenant);
  assert.ok(mine >= 1 && myVersion === 1, `tenant a sees its rows: ${mine}, ${myVersion}`);
  assert.deepEqual(count(b.tenant), [0, 0]);
  assert.deepEqual(count('ten_nobody'), [0, 0]);
});

test('bad input: 4xx naming the field', async () => {
  const img = frame('neutral_3');
  const bad = [
    ['/v1/faces/gallery', { image: img }, 400, /subject/],
    ['/v1/faces/gallery', { subject: 'x'.repeat(129), image: img }, 400, /subject/],
    ['/v1/faces/gallery', { subject: 'bad\u0001', image: img }, 400, /subject/],
    ['/v1/faces/gallery', { subject: 'ok' }, 400, /image/],
    ['/v1/faces/gallery', { subject: 'ok', image: 'not base64 !' }, 400, /image/],
    ['/v1/faces/search', {}, 400, /image/],
    ['/v1/faces/search', { image: img, max_distance: 3 }, 400, /max_distance/],
    ['/v1/faces/search', { image: img, limit: 0 }, 400, /limit/],
    ['/v1/faces/search', { image: img, limit: 'ten' }, 400, /limit/],
  ];
  for (const [path, body, status, detail] of bad) {
    const r = await call(nova, 'POST', path, { tok: tokA, body });
    assert.equal(r.status, status, path + ' ' + JSON.stringify(Object.keys(body)) + ' ' + r.text.slice(0, 200));
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
    assert.match(r.json.detail, detail);
  }
  assert.equal((await call(nova, 'POST', '/v1/faces/search', { body: { image: img } })).status, 401);
  const weak = await token(nova, makeTenant(nova, 'gallery-weak-' + Date.now(), 'clients:read'));
  assert.equal((await call(nova, 'POST', '/v1/faces/gallery', { tok: weak, body: { subject: 's', image: img } })).status, 403);
});
