// The verification gateway (issue 9) against the real novad on the in-process queue: workflows
// as data (versions, 422s naming the field, tenant isolation, novactl), verifications in sync
// and async modes on synthetic documents from tools/idv_docgen.py (OCR + MRZ + checks, a
// decision with reasons, the workflow version and a trace id), Idempotency-Key, SDK session
// tokens, the list with filters and cursor, usage units, bad inputs that leave no partial
// state, and no image or personal data in the data directory, the database or the logs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { startNova, makeTenant, token, call } from './lib.mjs';

const SUFFIX = randomBytes(4).toString('hex'); // tenant names are unique per deployment (shared PostgreSQL)

const ROOT = resolve(import.meta.dirname, '../..');
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
let nova, docs, a, aTok, b, bTok;
const secrets = [];

// Documents of the generator: name -> { jpg: Buffer, b64, truth }.
function loadDocs(dir) {
  const out = {};
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.jpg'))) {
    const jpg = readFileSync(join(dir, f));
    out[f.replace('.jpg', '')] = { jpg, b64: jpg.toString('base64'), truth: JSON.parse(readFileSync(join(dir, f.replace('.jpg', '.json')), 'utf8')) };
  }
  return out;
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nova-idv-docs-'));
  const g = spawnSync(PY, [join(ROOT, 'tools/idv_docgen.py'), dir, '--count', '2', '--formats', 'TD3', '--seed', '9'], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  docs = loadDocs(dir);
  rmSync(dir, { recursive: true, force: true });
  nova = await startNova({ NOVA_IDV_WORKERS: '2' });
  const scopes = 'workflows:read workflows:write verifications:read verifications:write reviews:read reviews:write audit:read sdk:sessions';
  a = makeTenant(nova, 'idv-a-' + SUFFIX, scopes);
  b = makeTenant(nova, 'idv-b-' + SUFFIX, scopes);
  aTok = await token(nova, a);
  bTok = await token(nova, b);
  secrets.push(a.secret, b.secret, aTok, bTok);
});
after(async () => {
  for (const s of secrets) assert.ok(!nova.logs().includes(s), 'a secret reached the log');
  await nova.stop();
});

const KYC = {
  name: 'kyc basic',
  steps: [
    { check: 'ocr', config: { min_confidence: 0.5 } },
    { check: 'mrz' },
    { check: 'document_authenticity', on_fail: 'review' },
    { check: 'age', config: { min_age: 18 } },
  ],
  review_rules: [{ any_step: 'review' }],
  decision: { approve_at: 0.7, reject_below: 0.4 },
};

async function workflow(tok, body = KYC) {
  const r = await call(nova, 'POST', '/v1/workflows', { tok, body });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

const clean = () => Object.values(docs).find((d) => d.truth.variant === 'clean');

async function until(tok, id, done = (v) => v.status === 'completed' || v.status === 'failed') {
  for (let i = 0; i < 600; i++) {
    const r = await call(nova, 'GET', '/v1/verifications/' + id, { tok });
    assert.equal(r.status, 200, r.text);
    if (done(r.json)) return r.json;
    await sleep(100);
  }
  throw new Error('verification ' + id + ' was not decided in 60 s');
}

test('workflows: create, version, read back, list; each tenant sees its own', async () => {
  const w = await workflow(aTok);
  assert.match(w.id, /^wf_/);
  assert.equal(w.version, 1);
  assert.equal(w.definition.steps[0].check, 'ocr');
  const upd = await call(nova, 'PUT', '/v1/workflows/' + w.id, { tok: aTok, body: { ...KYC, decision: { approve_at: 0.9, reject_below: 0.3 } } });
  assert.equal(upd.status, 200, upd.text);
  assert.equal(upd.json.version, 2);
  const now = await call(nova, 'GET', '/v1/workflows/' + w.id, { tok: aTok });
  assert.equal(now.json.version, 2);
  assert.equal(now.json.definition.decision.approve_at, 0.9);
  const v1 = await call(nova, 'GET', `/v1/workflows/${w.id}?version=1`, { tok: aTok });
  assert.equal(v1.json.version, 1);
  assert.equal(v1.json.definition.decision.approve_at, 0.7);
  assert.equal((await call(nova, 'GET', `/v1/workflows/${w.id}?version=3`, { tok: aTok })).status, 404);
  assert.equal((await call(nova, 'GET', `/v1/workflows/${w.id}?version=x`, { tok: aTok })).status, 400);
  const list = await call(nova, 'GET', '/v1/workflows', { tok: aTok });
  assert.ok(list.json.workflows.some((x) => x.id === w.id && x.version === 2));
  // Another tenant: not found, not listed, not updatable.
  assert.equal((await call(nova, 'GET', '/v1/workflows/' + w.id, { tok: bTok })).status, 404);
  assert.ok(!(await call(nova, 'GET', '/v1/workflows', { tok: bTok })).json.workflows.some((x) => x.id === w.id));
  assert.equal((await call(nova, 'PUT', '/v1/workflows/' + w.id, { tok: bTok, body: KYC })).status, 404);
  // Audited with the caller as actor.
  const audit = await call(nova, 'GET', '/v1/audit?action=workflow.update', { tok: aTok });
  assert.ok(audit.json.entries.some((e) => e.target === 'workflow:' + w.id && e.actor === a.id));
});

test('workflows: an invalid one is a 422 naming the field, and nothing is stored', async () => {
  const before = (await call(nova, 'GET', '/v1/workflows', { tok: aTok })).json.workflows.length;
  const cases = [
    [{ ...KYC, steps: [{ check: 'mrz' }] }, '/steps/0/check'],
    [{ ...KYC, steps: [{ check: 'ocr' }, { check: 'selfie_dance' }] }, '/steps/1/check'],
    [{ ...KYC, steps: [{ check: 'ocr' }, { check: 'age', config: { min_age: 500 } }] }, '/steps/1/config/min_age'],
    [{ ...KYC, steps: [{ check: 'ocr' }, { check: 'mrz', depends_on: ['age'] }, { check: 'age' }] }, '/steps/1/depends_on/0'],
    [{ ...KYC, decision: { approve_at: 0.2, reject_below: 0.5 } }, '/decision/reject_below'],
    [{ ...KYC, steps: [{ check: 'ocr' }, { check: 'liveness', config: { mode: 'blink' } }] }, '/steps/1/config/mode'],
    // The custom check runs (tests/webhooks/custom_check.test.mjs) but needs its https url.
    [{ ...KYC, steps: [{ check: 'ocr' }, { check: 'custom_webhook', config: { url: 'http://x.example/check' } }] }, '/steps/1/config/url'],
    // a `when` rule must be CEL (one that is runs: below, and idv_rules_test)
    [{ ...KYC, review_rules: [{ when: 'steps.(' }] }, '/review_rules/0/when'],
  ];
  for (const [body, field] of cases) {
    const r = await call(nova, 'POST', '/v1/workflows', { tok: aTok, body });
    assert.equal(r.status, 422, JSON.stringify(body) + ' ' + r.text);
    assert.equal(r.json.code, 'invalid_field');
    assert.ok(r.json.detail.startsWith(field + ':'), `${field} in ${r.json.detail}`);
  }
  const r = await call(nova, 'POST', '/v1/workflows', { tok: aTok, raw: '{"name":"x","steps":[', headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 422);
  const nojson = await call(nova, 'POST', '/v1/workflows', { tok: aTok, raw: 'name=x', headers: { 'content-type': 'text/plain' } });
  assert.equal(nojson.status, 415);
  assert.equal((await call(nova, 'GET', '/v1/workflows', { tok: aTok })).json.workflows.length, before);
  // conditions over step outputs are accepted: the gateway evaluates them (CEL)
  const when = await call(nova, 'POST', '/v1/workflows', { tok: aTok, body: { ...KYC, review_rules: [{ when: "steps.mrz.score < 0.5 || 'repaired' in steps.mrz.reasons" }] } });
  assert.equal(when.status, 201, when.text);
});

test('workflows need workflows:* scopes (an SDK session never holds them)', async () => {
  const c = makeTenant(nova, 'idv-noscope-' + SUFFIX, 'verifications:read verifications:write');
  const tok = await token(nova, c);
  secrets.push(c.secret, tok);
  assert.equal((await call(nova, 'POST', '/v1/workflows', { tok, body: KYC })).status, 403);
  assert.equal((await call(nova, 'GET', '/v1/workflows', { tok })).status, 403);
  assert.equal((await call(nova, 'GET', '/v1/workflows')).status, 401);
});

test('novactl workflow create, list, show, update from a JSON file', () => {
  const file = join(nova.dir, 'wf.json');
  writeFileSync(file, JSON.stringify(KYC));
  const c = nova.ctl('workflow', 'create', '--tenant', a.tenant, file);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.json.version, 1);
  const u = nova.ctl('workflow', 'update', '--tenant', a.tenant, c.json.id, file);
  assert.equal(u.code, 0, u.stderr);
  assert.equal(u.json.version, 2);
  const s = nova.ctl('workflow', 'show', '--tenant', a.tenant, c.json.id);
  assert.equal(s.json.version, 2);
  assert.ok(nova.ctl('workflow', 'list', '--tenant', a.tenant).json.workflows.some((w) => w.id === c.json.id));
  writeFileSync(file, JSON.stringify({ ...KYC, steps: [{ check: 'age' }] }));
  const bad = nova.ctl('workflow', 'create', '--tenant', a.tenant, file);
  assert.equal(bad.code, 6);
  assert.match(bad.stderr, /\/steps\/0\/check/);
  assert.equal(nova.ctl('workflow', 'show', '--tenant', a.tenant, 'wf_nope').code, 7);
});

test('a sync verification: OCR, MRZ, authenticity, age; decision with reasons, version, trace', async () => {
  const w = await workflow(aTok);
  const d = clean();
  const r = await call(nova, 'POST', '/v1/verifications', {
    tok: aTok,
    body: { workflow_id: w.id, mode: 'sync', reference: 'case-1', images: { document_front: d.b64 }, applicant: d.truth.applicant },
  });
  assert.equal(r.status, 201, r.text);
  const v = r.json;
  assert.match(v.id, /^ver_/);
  assert.equal(v.status, 'completed');
  assert.equal(v.workflow_version, 1);
  assert.match(v.trace_id, /^[0-9a-f]{32}$/);
  assert.equal(v.reference, 'case-1');
  assert.deepEqual(v.steps.map((s) => s.check), ['ocr', 'mrz', 'document_authenticity', 'age']);
  for (const s of v.steps) {
    assert.ok(['passed', 'failed', 'review'].includes(s.status));
    assert.ok(s.score >= 0 && s.score <= 1);
    assert.ok(Array.isArray(s.reasons));
    assert.equal(typeof s.duration_ms, 'number');
  }
  const mrz = v.steps[1];
  assert.equal(mrz.status, 'passed', JSON.stringify(mrz));
  // The step's extracted is nova_mrz_json (novactl mrz parse's shape) plus visual-zone fields.
  assert.equal(mrz.extracted.valid, true);
  assert.equal(mrz.extracted.format, d.truth.format);
  for (const f of ['document_code', 'issuer', 'document_number', 'nationality', 'birth_date', 'sex', 'expiry_date'])
    assert.equal(mrz.extracted.fields[f], d.truth.fields[f], f);
  assert.equal(mrz.extracted.checks.composite, 'ok');
  assert.deepEqual(mrz.extracted.errors, []);
  assert.equal(mrz.extracted.proved.document_number, true);
  assert.equal(mrz.extracted.proved.nationality, false);
  assert.equal(v.steps[3].extracted.birth_date, d.truth.fields.birth_date);
  assert.equal(v.decision, 'approved', JSON.stringify(v.reasons));
  assert.ok(Array.isArray(v.reasons));
  // Polling gives the same record.
  const g = await call(nova, 'GET', '/v1/verifications/' + v.id, { tok: aTok });
  assert.equal(g.json.decision, 'approved');
  assert.equal(g.json.steps.length, 4);
  // Audited: accepted by the caller, decided by the worker.
  const audit = (await call(nova, 'GET', '/v1/audit?target=verification:' + v.id, { tok: aTok })).json.entries;
  assert.deepEqual(audit.map((e) => e.action), ['verification.create', 'verification.decide']);
  assert.equal(audit[0].actor, a.id);
});

test('a document number verified for one applicant is flagged for another, per tenant, never stored in clear', async () => {
  const w = await workflow(aTok);
  // A document of its own (the other tests approve the shared ones for their own references).
  const dir = mkdtempSync(join(tmpdir(), 'nova-idv-dup-'));
  const g = spawnSync(PY, [join(ROOT, 'tools/idv_docgen.py'), dir, '--count', '1', '--formats', 'TD3', '--seed', '31'], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  const d = Object.values(loadDocs(dir))[0];
  rmSync(dir, { recursive: true, force: true });
  const run = async (tok, wid, reference) => {
    const r = await call(nova, 'POST', '/v1/verifications', {
      tok,
      body: { workflow_id: wid, mode: 'sync', reference, images: { document_front: d.b64 }, applicant: d.truth.applicant },
    });
    assert.equal(r.status, 201, r.text);
    return r.json;
  };
  const auth = (v) => v.steps.find((s) => s.check === 'document_authenticity');
  const ref = 'dup-' + SUFFIX;
  const first = await run(aTok, w.id, ref + '-1');
  assert.equal(first.decision, 'approved', JSON.stringify(first.reasons));
  assert.ok(!auth(first).reasons.includes('document_number_used_by_another_applicant'));
  // The same person again: their own document, nothing to flag.
  const again = await run(aTok, w.id, ref + '-1');
  assert.equal(auth(again).extracted.document_number_seen_for_others, 0, JSON.stringify(auth(again)));
  assert.equal(again.decision, 'approved');
  // Another applicant presenting it: flagged, the score drops, the run goes to review.
  const other = await run(aTok, w.id, ref + '-2');
  assert.ok(auth(other).reasons.includes('document_number_used_by_another_applicant'), JSON.stringify(auth(other)));
  assert.ok(auth(other).extracted.document_number_seen_for_others >= 1);
  assert.ok(auth(other).score < auth(first).score);
  assert.notEqual(other.decision, 'approved');
  // Another tenant has its own history (and its own key).
  const wb = await workflow(bTok);
  const inB = await run(bTok, wb.id, ref + '-2');
  assert.equal(auth(inB).extracted.document_number_seen_for_others, 0);
  // The key's creation is audited; the entry names no document and no applicant.
  const ar = await call(nova, 'GET', '/v1/audit?action=idv_index_key.create', { tok: aTok });
  assert.equal(ar.status, 200, ar.text);
  assert.equal(ar.json.entries.length, 1, ar.text);
  assert.equal(ar.json.entries[0].actor, 'system');
  const text = JSON.stringify(ar.json.entries);
  assert.ok(!text.includes(d.truth.fields.document_number) && !text.includes(ref));
});

test('error-level analysis: a name pasted over a document photo and saved again is flagged; the photo itself is not', async () => {
  const w = await workflow(aTok);
  const dir = mkdtempSync(join(tmpdir(), 'nova-idv-ela-'));
  const g = spawnSync(PY, [join(ROOT, 'tools/idv_docgen.py'), dir, '--count', '1', '--formats', 'TD3', '--seed', '41'], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  const f = readdirSync(dir).find((x) => x.endsWith('.jpg'));
  // The edit a forger makes (tools/idv_forge.py): new text over the name, saved at 95.
  const p = spawnSync(PY, [join(ROOT, 'tools/idv_forge.py'), join(dir, f), join(dir, 'forged.jpg'), '--quality', '95'], { encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
  const genuine = readFileSync(join(dir, f)).toString('base64');
  const forged = readFileSync(join(dir, 'forged.jpg')).toString('base64');
  rmSync(dir, { recursive: true, force: true });
  const auth = async (b64) => {
    const r = await call(nova, 'POST', '/v1/verifications', { tok: aTok, body: { workflow_id: w.id, mode: 'sync', images: { document_front: b64 } } });
    assert.equal(r.status, 201, r.text);
    return r.json.steps.find((s) => s.check === 'document_authenticity');
  };
  const a1 = await auth(genuine);
  assert.ok(!a1.reasons.includes('error_level_inconsistent'), JSON.stringify(a1));
  const a2 = await auth(forged);
  assert.ok(a2.reasons.includes('error_level_inconsistent'), JSON.stringify(a2));
  assert.ok(a2.extracted.ela.region_blocks >= 24 && a2.extracted.ela.region_ratio > a1.extracted.ela.region_ratio);
  assert.ok(a2.score < a1.score);
});

test('proof of address: OCR reads the bill, the address check compares the claim with it', async () => {
  const w = await workflow(aTok, {
    name: 'kyc with address',
    steps: [{ check: 'ocr' }, { check: 'mrz' }, { check: 'address', config: { require_proof_of_address: true } }],
    decision: { approve_at: 0.7, reject_below: 0.4 },
  });
  const d = clean();
  const dir = mkdtempSync(join(tmpdir(), 'nova-idv-poa-'));
  const bill = join(dir, 'bill.jpg');
  const g = spawnSync(PY, [join(ROOT, 'tools/idv_poa.py'), bill, '--name', d.truth.applicant.name, '--address', '14 Kenyatta Avenue Nairobi'], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  const poa = readFileSync(bill).toString('base64');
  rmSync(dir, { recursive: true, force: true });
  const run = async (address, images) => {
    const r = await call(nova, 'POST', '/v1/verifications', {
      tok: aTok,
      body: { workflow_id: w.id, mode: 'sync', images: { document_front: d.b64, ...images }, applicant: { ...d.truth.applicant, address } },
    });
    assert.equal(r.status, 201, r.text);
    return r.json.steps.find((s) => s.check === 'address');
  };
  const same = await run('14 Kenyatta Avenue, Nairobi', { proof_of_address: poa });
  assert.equal(same.status, 'passed', JSON.stringify(same));
  assert.equal(same.extracted.source, 'proof_of_address');
  const other = await run('77 Lumumba Drive Kampala', { proof_of_address: poa });
  assert.notEqual(other.status, 'passed', JSON.stringify(other));
  assert.ok(other.score < same.score);
  const none = await run('14 Kenyatta Avenue, Nairobi', {});
  assert.equal(none.status, 'failed');
  assert.ok(none.reasons.includes('proof_of_address_missing'), JSON.stringify(none));
  // countries: residents of Kenya and Tanzania only, by the applicant's claimed country
  const wc = await workflow(aTok, {
    name: 'kyc east africa',
    steps: [{ check: 'ocr' }, { check: 'address', config: { countries: ['KE', 'TZ'] } }],
    decision: { approve_at: 0.7, reject_below: 0.4 },
  });
  const inCountry = async (address_country) => {
    const r = await call(nova, 'POST', '/v1/verifications', {
      tok: aTok,
      body: { workflow_id: wc.id, mode: 'sync', images: { document_front: d.b64, proof_of_address: poa }, applicant: { ...d.truth.applicant, address: '14 Kenyatta Avenue, Nairobi', ...(address_country ? { address_country } : {}) } },
    });
    assert.equal(r.status, 201, r.text);
    return r.json.steps.find((s) => s.check === 'address');
  };
  const ke = await inCountry('KE');
  assert.equal(ke.status, 'passed', JSON.stringify(ke));
  assert.equal(ke.extracted.country, 'KE');
  const ug = await inCountry('UG');
  assert.equal(ug.status, 'failed');
  assert.ok(ug.reasons.includes('address_country_not_allowed'), JSON.stringify(ug));
  const unclaimed = await inCountry(null);
  assert.ok(unclaimed.reasons.includes('address_country_not_claimed'), JSON.stringify(unclaimed));
  // Not a JPEG: refused up front, naming the image.
  const bad = await call(nova, 'POST', '/v1/verifications', {
    tok: aTok, body: { workflow_id: w.id, images: { document_front: d.b64, proof_of_address: Buffer.from('%PDF-1.4').toString('base64') } },
  });
  assert.equal(bad.status, 422, bad.text);
  assert.match(bad.text, /images\.proof_of_address/);
});

test('the liveness step (passive) and face match run on the selfie through the vision engine', async () => {
  const selfie = readFileSync(join(ROOT, 'tools/models/node_modules/@vladmandic/face-api/demo/sample1.jpg')).toString('base64');
  const w = await workflow(aTok, { name: 'bio', steps: [{ check: 'ocr', on_fail: 'continue' }, { check: 'liveness', on_fail: 'review' }, { check: 'face_match', on_fail: 'review' }] });
  const r = await call(nova, 'POST', '/v1/verifications', { tok: aTok, body: { workflow_id: w.id, mode: 'sync', images: { document_front: clean().b64, selfie } } });
  assert.equal(r.status, 201, r.text);
  const [, live, face] = r.json.steps;
  assert.equal(live.check, 'liveness');
  assert.equal(live.extracted.mode, 'passive');
  assert.ok(live.extracted.faces >= 1, JSON.stringify(live));
  assert.ok(['passed', 'review'].includes(live.status));
  assert.equal(typeof live.extracted.sharpness, 'number');
  // The drawn portrait is no person: the face match does not match it.
  assert.equal(face.check, 'face_match');
  assert.notEqual(face.status, 'passed', JSON.stringify(face));
  assert.notEqual(r.json.decision, 'approved');
});

test('async mode answers 202 at once; the decision follows; a wrong claim is reviewed', async () => {
  const w = await workflow(aTok);
  const d = clean();
  const r = await call(nova, 'POST', '/v1/verifications', {
    tok: aTok,
    body: { workflow_id: w.id, images: { document_front: d.b64 }, applicant: { ...d.truth.applicant, document_number: 'ZZ0000000' } },
  });
  assert.equal(r.status, 202, r.text);
  assert.ok(['queued', 'running'].includes(r.json.status));
  assert.equal(r.headers.get('location'), '/v1/verifications/' + r.json.id);
  const v = await until(aTok, r.json.id);
  assert.equal(v.decision, 'review_required', JSON.stringify(v));
  assert.ok(v.steps[1].reasons.includes('document_number_differs_from_claim'));
});

test('manual review: listed with its images, decided once by a reviewer, audited, images gone', async () => {
  const w = await workflow(aTok);
  const d = clean();
  const r = await call(nova, 'POST', '/v1/verifications', {
    tok: aTok,
    body: { workflow_id: w.id, images: { document_front: d.b64 }, applicant: { ...d.truth.applicant, document_number: 'ZZ0000001' } },
  });
  assert.equal(r.status, 202, r.text);
  const v = await until(aTok, r.json.id);
  assert.equal(v.decision, 'review_required', JSON.stringify(v.reasons));
  const list = await call(nova, 'GET', '/v1/reviews?limit=200', { tok: aTok });
  assert.equal(list.status, 200, list.text);
  assert.ok(list.json.reviews.some((x) => x.id === v.id));
  assert.ok(list.json.reviews.every((x) => x.decision === 'review_required'));
  const g = await call(nova, 'GET', '/v1/reviews/' + v.id, { tok: aTok });
  assert.equal(g.status, 200, g.text);
  assert.equal(g.json.review_status, 'pending');
  assert.equal(g.json.images.document_front, d.b64, 'the reviewer sees the image as sent');
  assert.equal(g.json.applicant.document_number, 'ZZ0000001');
  assert.equal(g.headers.get('cache-control'), 'no-store');
  assert.equal((await call(nova, 'GET', '/v1/reviews/' + v.id, { tok: bTok })).status, 404);
  const path = `/v1/reviews/${v.id}/decision`;
  for (const [body, field] of [[{ reviewer: 'alice', decision: 'maybe', reason: 'x' }, 'decision'],
    [{ reviewer: '', decision: 'approved', reason: 'x' }, 'reviewer'], [{ reviewer: 'alice', decision: 'approved' }, 'reason']]) {
    const bad = await call(nova, 'POST', path, { tok: aTok, body });
    assert.equal(bad.status, 422, bad.text);
    assert.ok(bad.json.detail.startsWith(field + ':'), bad.json.detail);
  }
  assert.equal((await call(nova, 'POST', path, { tok: bTok, body: { reviewer: 'mallory', decision: 'approved', reason: 'x' } })).status, 404);
  const ok = await call(nova, 'POST', path, { tok: aTok, body: { reviewer: 'alice', decision: 'approved', reason: 'number checked against the issuer' } });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.decision, 'approved');
  assert.equal(ok.json.review.reviewer, 'alice');
  assert.equal(ok.json.review.automated, 'review_required');
  const again = await call(nova, 'POST', path, { tok: aTok, body: { reviewer: 'bob', decision: 'rejected', reason: 'late' } });
  assert.equal(again.status, 409, again.text);
  const after = await call(nova, 'GET', '/v1/reviews/' + v.id, { tok: aTok });
  assert.equal(after.json.review_status, 'decided');
  assert.equal(after.json.images, undefined, 'the images are deleted with the decision');
  assert.ok(!(await call(nova, 'GET', '/v1/reviews?limit=200', { tok: aTok })).json.reviews.some((x) => x.id === v.id));
  const audit = (await call(nova, 'GET', '/v1/audit?action=review.decide', { tok: aTok })).json.entries;
  assert.ok(audit.some((e) => e.target === 'verification:' + v.id && e.actor === a.id));
  assert.equal((await call(nova, 'GET', '/v1/reviews/ver_nope', { tok: aTok })).status, 404);
});

test('simulation: a candidate workflow replayed over recorded step results, changes explained', async () => {
  const w = await workflow(aTok);
  const d = clean();
  const ok = await call(nova, 'POST', '/v1/verifications', { tok: aTok, body: { workflow_id: w.id, mode: 'sync', images: { document_front: d.b64 } } });
  const rv = await call(nova, 'POST', '/v1/verifications', { tok: aTok, body: { workflow_id: w.id, mode: 'sync', images: { document_front: d.b64 }, applicant: { document_number: 'ZZ0000002' } } });
  assert.equal(ok.json.decision, 'approved', ok.text);
  assert.equal(rv.json.decision, 'review_required', rv.text);
  const path = `/v1/workflows/${w.id}/simulate`;
  // The same version: nothing changes.
  const same = await call(nova, 'POST', path, { tok: aTok, body: { version: 1 } });
  assert.equal(same.status, 200, same.text);
  assert.equal(same.json.verifications, 2);
  assert.equal(same.json.changed, 0);
  // Without the any_step rule the reviewed one would have been approved.
  const cand = { ...KYC, review_rules: [] };
  const sim = await call(nova, 'POST', path, { tok: aTok, body: { definition: cand } });
  assert.equal(sim.status, 200, sim.text);
  assert.equal(sim.json.changed, 1, JSON.stringify(sim.json));
  assert.deepEqual(sim.json.changes.map((c) => [c.id, c.from, c.to]), [[rv.json.id, 'review_required', 'approved']]);
  assert.equal(sim.json.candidate_decisions.approved, 2);
  // A stricter rule rejects both, and says why.
  const strict = await call(nova, 'POST', path, { tok: aTok, body: { definition: { ...KYC, review_rules: [], decision: { approve_at: 1, reject_below: 0.99 } } } });
  assert.equal(strict.json.changed, 2, JSON.stringify(strict.json));
  assert.ok(strict.json.changes.every((c) => c.to === 'rejected' && c.reasons.some((r) => r.code === 'score_below_reject_threshold')));
  // A check the past runs never had cannot be replayed: reported, not guessed.
  const more = await call(nova, 'POST', path, { tok: aTok, body: { definition: { ...KYC, steps: [...KYC.steps, { check: 'address' }] } } });
  assert.equal(more.json.not_simulated.length, 2);
  assert.equal(more.json.not_simulated[0].step, 'address');
  // The range, bad candidates, another tenant.
  assert.equal((await call(nova, 'POST', path, { tok: aTok, body: { version: 1, from: 1, to: 2 } })).json.verifications, 0);
  const bad = await call(nova, 'POST', path, { tok: aTok, body: { definition: { ...KYC, steps: [{ check: 'age' }] } } });
  assert.equal(bad.status, 422);
  assert.ok(bad.json.detail.startsWith('definition/steps/0/check:'), bad.json.detail);
  assert.equal((await call(nova, 'POST', path, { tok: aTok, body: {} })).status, 422);
  assert.equal((await call(nova, 'POST', path, { tok: aTok, body: { version: 9 } })).status, 404);
  assert.equal((await call(nova, 'POST', path, { tok: bTok, body: { version: 1 } })).status, 404);
});

test('Idempotency-Key: the same request answers the first verification; another body is 409', async () => {
  const w = await workflow(aTok);
  const d = clean();
  const body = { workflow_id: w.id, images: { document_front: d.b64 } };
  const headers = { 'idempotency-key': 'idem-' + Date.now() };
  const r1 = await call(nova, 'POST', '/v1/verifications', { tok: aTok, body, headers });
  assert.equal(r1.status, 202, r1.text);
  const r2 = await call(nova, 'POST', '/v1/verifications', { tok: aTok, body, headers });
  assert.equal(r2.json.id, r1.json.id);
  assert.equal(r2.headers.get('idempotent-replayed'), 'true');
  const r3 = await call(nova, 'POST', '/v1/verifications', { tok: aTok, body: { ...body, reference: 'other' }, headers });
  assert.equal(r3.status, 409, r3.text);
  assert.equal(r3.json.code, 'idempotency_key_reused');
  // Keys are per tenant.
  const wb = await workflow(bTok);
  const rb = await call(nova, 'POST', '/v1/verifications', { tok: bTok, body: { ...body, workflow_id: wb.id }, headers });
  assert.equal(rb.status, 202, rb.text);
  assert.notEqual(rb.json.id, r1.json.id);
  await until(aTok, r1.json.id);
  await until(bTok, rb.json.id);
});

test('an SDK session token submits and reads verifications', async () => {
  const w = await workflow(aTok);
  const s = await call(nova, 'POST', '/v1/sdk/sessions', { tok: aTok, body: { subject: 'applicant-7', scope: 'verifications:read verifications:write' } });
  assert.equal(s.status, 201, s.text);
  secrets.push(s.json.access_token, s.json.refresh_token);
  const r = await call(nova, 'POST', '/v1/verifications', { tok: s.json.access_token, body: { workflow_id: w.id, images: { document_front: clean().b64 } } });
  assert.equal(r.status, 202, r.text);
  assert.equal((await call(nova, 'GET', '/v1/verifications/' + r.json.id, { tok: s.json.access_token })).status, 200);
  assert.equal((await call(nova, 'POST', '/v1/workflows', { tok: s.json.access_token, body: KYC })).status, 403);
  await until(aTok, r.json.id);
});

test('bad inputs get a clear 4xx naming the field and leave no verification behind', async () => {
  const w = await workflow(aTok);
  const count = async () => (await call(nova, 'GET', '/v1/verifications?limit=200', { tok: aTok })).json.verifications.length;
  const n0 = await count();
  const img = clean().b64;
  // A JPEG header claiming 20000 x 20000 pixels (SOI, SOF0 with the size, EOI).
  const huge = Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x4e, 0x20, 0x4e, 0x20, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xd9]).toString('base64');
  const cases = [
    [{ workflow_id: w.id, images: { document_front: Buffer.from('GIF89a not a jpeg').toString('base64') } }, 422, 'images.document_front'],
    [{ workflow_id: w.id, images: { document_front: img.slice(0, 1001) } }, 422, 'images.document_front'],
    [{ workflow_id: w.id, images: { document_front: img.slice(0, img.length / 2) } }, 422, 'images.document_front'],
    [{ workflow_id: w.id, images: { document_front: huge } }, 422, 'images.document_front'],
    [{ workflow_id: w.id, images: { selfie: img } }, 422, 'images.document_front'],
    [{ workflow_id: w.id, images: { document_front: img, passport_photo: img } }, 422, 'images.passport_photo'],
    [{ workflow_id: w.id, images: { document_front: img }, mode: 'later' }, 422, 'mode'],
    [{ workflow_id: w.id, images: { document_front: img }, applicant: { date_of_birth: '1990-13-45' } }, 422, 'applicant.date_of_birth'],
    [{ workflow_id: w.id, images: { document_front: img }, applicant: { address_country: 'KEN' } }, 422, 'applicant.address_country'],
    [{ workflow_id: w.id, images: { document_front: img }, applicant: { address_country: 'ke' } }, 422, 'applicant.address_country'],
    [{ workflow_id: w.id, images: { document_front: img }, callback_url: 'http://plain.example/' }, 422, 'callback_url'],
    [{ workflow_id: 'wf_unknown', images: { document_front: img } }, 404, 'workflow_id'],
  ];
  for (const [body, status, field] of cases) {
    const r = await call(nova, 'POST', '/v1/verifications', { tok: aTok, body });
    assert.equal(r.status, status, field + ' ' + r.text);
    assert.ok(r.json.detail.startsWith(field + ':'), field + ' in ' + r.json.detail);
  }
  // Another tenant's workflow is unknown here.
  const wb = await workflow(bTok);
  assert.equal((await call(nova, 'POST', '/v1/verifications', { tok: aTok, body: { workflow_id: wb.id, images: { document_front: img } } })).status, 404);
  // Unknown member, not JSON, no body.
  assert.equal((await call(nova, 'POST', '/v1/verifications', { tok: aTok, body: { workflow_id: w.id, images: {}, extra: 1 } })).status, 400);
  assert.equal((await call(nova, 'POST', '/v1/verifications', { tok: aTok, raw: '{"workflow_id":', headers: { 'content-type': 'application/json' } })).status, 400);
  // 50 MB: refused before it is read.
  const big = await fetch(nova.base + '/v1/verifications', { method: 'POST', headers: { authorization: 'Bearer ' + aTok, 'content-type': 'application/json', 'content-length': String(50 << 20) }, body: Buffer.alloc(50 << 20, 0x20), duplex: 'half' }).catch((e) => ({ status: 'reset', e }));
  assert.ok(big.status === 413 || big.status === 'reset', String(big.status));
  assert.equal(await count(), n0);
});

test('another tenant\'s verification is not found; list filters and pages by cursor', async () => {
  const w = await workflow(aTok);
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const r = await call(nova, 'POST', '/v1/verifications', { tok: aTok, body: { workflow_id: w.id, images: { document_front: clean().b64 }, reference: 'page-' + i } });
    assert.equal(r.status, 202, r.text);
    ids.push(r.json.id);
  }
  assert.equal((await call(nova, 'GET', '/v1/verifications/' + ids[0], { tok: bTok })).status, 404);
  assert.ok(!(await call(nova, 'GET', '/v1/verifications?limit=200', { tok: bTok })).json.verifications.some((v) => ids.includes(v.id)));
  for (const id of ids) await until(aTok, id);
  const seen = [];
  let cursor = null;
  do {
    const r = await call(nova, 'GET', '/v1/verifications?status=completed&limit=2' + (cursor ? '&cursor=' + cursor : ''), { tok: aTok });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.verifications.length <= 2);
    assert.ok(r.json.verifications.every((v) => v.status === 'completed'));
    seen.push(...r.json.verifications.map((v) => v.id));
    cursor = r.json.next_cursor;
  } while (cursor);
  for (const id of ids) assert.ok(seen.includes(id));
  assert.equal(new Set(seen).size, seen.length, 'a page repeated an entry');
  assert.equal((await call(nova, 'GET', '/v1/verifications?from=2000-01-01&to=2000-01-02', { tok: aTok })).json.verifications.length, 0);
  for (const q of ['status=done', 'limit=0', 'cursor=%%%', 'from=soon'])
    assert.equal((await call(nova, 'GET', '/v1/verifications?' + q, { tok: aTok })).status, 400, q);
});

test('usage: every executed check consumed its units', async () => {
  const u = await call(nova, 'GET', '/v1/usage', { tok: aTok });
  assert.equal(u.status, 200, u.text);
  const by = Object.fromEntries(u.json.checks.map((c) => [c.check, c]));
  assert.ok(by.ocr.checks >= 1 && by.ocr.units === by.ocr.checks * 2, JSON.stringify(u.json));
  assert.ok(by.mrz.checks >= 1 && by.mrz.units === by.mrz.checks);
  assert.equal(u.json.total_units, u.json.checks.reduce((s, c) => s + c.units, 0));
  assert.equal((await call(nova, 'GET', '/v1/usage?from=2000-01-01&to=2000-01-02', { tok: aTok })).json.total_units, 0);
  assert.equal((await call(nova, 'GET', '/v1/usage?from=x', { tok: aTok })).status, 400);
});

test('no image bytes and no applicant data in the data directory, the database or the logs', () => {
  const needles = [];
  for (const d of Object.values(docs)) {
    needles.push(d.jpg.subarray(2000, 2064), Buffer.from(d.b64.slice(4000, 4064)));
    needles.push(Buffer.from(d.truth.applicant.address), Buffer.from(d.truth.fields.document_number));
  }
  const files = [];
  const walk = (p) => { for (const f of readdirSync(p)) { const q = join(p, f); statSync(q).isDirectory() ? walk(q) : files.push(q); } };
  walk(nova.dir);
  if (!process.env.NOVA_TEST_DATABASE_URL) assert.ok(files.some((f) => f.endsWith('.db')), 'the SQLite store is in the data directory');
  const blobs = files.map((f) => readFileSync(f)).concat([Buffer.from(nova.logs())]);
  for (const n of needles)
    for (const b of blobs) assert.equal(b.indexOf(n), -1, 'found data of a document in clear');
});

// Last: spawnSync blocks the event loop for the OCR, and fetch's pooled keep-alive connections
// may be closed by novad meanwhile (idle past NOVA_HEADER_TIMEOUT on a loaded machine).
test('novactl ocr mrz IMAGE.jpg: OCR then MRZ, the fields as JSON, exit 0 valid and 6 not', () => {
  const d = clean();
  const dir = mkdtempSync(join(tmpdir(), 'nova-idv-ocr-'));
  try {
    writeFileSync(join(dir, 'doc.jpg'), d.jpg);
    const r = nova.ctl('ocr', 'mrz', join(dir, 'doc.jpg'));
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(r.json.valid, true);
    assert.equal(r.json.format, d.truth.format);
    assert.equal(r.json.fields.document_number, d.truth.fields.document_number);
    assert.equal(r.json.fields.surname, d.truth.fields.surname);
    assert.equal(r.json.proved.surname, true);
    assert.equal(r.json.checks.document_number, 'ok');
    assert.deepEqual(r.json.errors, []);
    writeFileSync(join(dir, 'not.jpg'), 'not a jpeg');
    const bad = nova.ctl('ocr', 'mrz', join(dir, 'not.jpg'));
    assert.equal(bad.code, 6);
    assert.equal(bad.json.valid, false);
    assert.equal(bad.json.errors.length, 1);
    assert.equal(bad.json.errors[0].field, 'zone');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
