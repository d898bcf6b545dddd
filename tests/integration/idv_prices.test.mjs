// A tenant's price list for the verification gateway (issue 9 item 7): every executed check
// costs the units of the tenant's own price for its kind, or the built-in one; a new list
// applies to the checks run after it (usage keeps the price each step ran at); bad lists are
// 422s naming the field and change nothing; one tenant's prices never bill another; audited.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startNova, makeTenant, token, call } from './lib.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const WF = { name: 'priced kyc', steps: [{ check: 'ocr' }, { check: 'mrz' }, { check: 'age' }] };
const SCOPES = 'workflows:read workflows:write verifications:read verifications:write audit:read';
let nova, doc, a, aTok, b, bTok;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nova-prices-docs-'));
  const g = spawnSync(PY, [join(ROOT, 'tools/idv_docgen.py'), dir, '--count', '1', '--formats', 'TD3', '--seed', '7'], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  doc = readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.jpg')))).toString('base64');
  rmSync(dir, { recursive: true, force: true });
  nova = await startNova();
  a = makeTenant(nova, 'prices-a', SCOPES);
  b = makeTenant(nova, 'prices-b', SCOPES);
  aTok = await token(nova, a);
  bTok = await token(nova, b);
});
after(async () => { await nova.stop(); });

async function verify(tok) {
  const w = await call(nova, 'POST', '/v1/workflows', { tok, body: WF });
  assert.equal(w.status, 201, w.text);
  const v = await call(nova, 'POST', '/v1/verifications', { tok, body: { workflow_id: w.json.id, mode: 'sync', images: { document_front: doc } } });
  assert.equal(v.status, 201, v.text);
  assert.equal(v.json.status, 'completed');
  return v.json;
}

const usage = async (tok) => Object.fromEntries((await call(nova, 'GET', '/v1/usage', { tok })).json.checks.map((c) => [c.check, c]));
const priceOf = (list, check) => list.prices.find((p) => p.check === check);

test('the built-in prices until a tenant sets its own', async () => {
  const r = await call(nova, 'GET', '/v1/prices', { tok: aTok });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.prices.length, 8);
  for (const p of r.json.prices) {
    assert.equal(p.source, 'default');
    assert.equal(p.units, p.default);
  }
  assert.equal(priceOf(r.json, 'ocr').units, 2);
  await verify(aTok);
  const u = await usage(aTok);
  assert.equal(u.ocr.units, 2);
  assert.equal(u.mrz.units, 1);
});

test('a tenant price list bills the checks run after it, and only that tenant', async () => {
  const p = await call(nova, 'PUT', '/v1/prices', { tok: aTok, body: { prices: { ocr: 5, mrz: 0 } } });
  assert.equal(p.status, 200, p.text);
  assert.deepEqual([priceOf(p.json, 'ocr').units, priceOf(p.json, 'ocr').source], [5, 'tenant']);
  assert.deepEqual([priceOf(p.json, 'mrz').units, priceOf(p.json, 'mrz').source], [0, 'tenant']);
  assert.deepEqual([priceOf(p.json, 'age').units, priceOf(p.json, 'age').source], [1, 'default']);
  await verify(aTok);
  const u = await usage(aTok);
  // the first verification ran at the old prices (2 + 1), the second at the new (5 + 0)
  assert.deepEqual([u.ocr.checks, u.ocr.units], [2, 7]);
  assert.deepEqual([u.mrz.checks, u.mrz.units], [2, 1]);
  // tenant b: its own (default) prices
  assert.equal(priceOf((await call(nova, 'GET', '/v1/prices', { tok: bTok })).json, 'ocr').source, 'default');
  await verify(bTok);
  assert.equal((await usage(bTok)).ocr.units, 2);
  // audited, with the list itself (no personal data in it)
  const audit = await call(nova, 'GET', '/v1/audit?action=idv.prices.update', { tok: aTok });
  assert.equal(audit.status, 200, audit.text);
  assert.equal(audit.json.entries.length, 1);
  assert.equal(audit.json.entries[0].actor, a.id);
  // an empty list goes back to the defaults
  const back = await call(nova, 'PUT', '/v1/prices', { tok: aTok, body: { prices: {} } });
  assert.equal(priceOf(back.json, 'ocr').source, 'default');
});

test('a bad price list is a 422 naming the field and changes nothing', async () => {
  await call(nova, 'PUT', '/v1/prices', { tok: bTok, body: { prices: { ocr: 3 } } });
  for (const [body, field] of [
    [{ prices: { selfie: 1 } }, '/prices/selfie'],
    [{ prices: { ocr: -1 } }, '/prices/ocr'],
    [{ prices: { ocr: 1.5 } }, '/prices/ocr'],
    [{ prices: { ocr: '3' } }, '/prices/ocr'],
    [{ prices: { ocr: 1000001 } }, '/prices/ocr'],
    [{ prices: [] }, '/prices'],
  ]) {
    const r = await call(nova, 'PUT', '/v1/prices', { tok: bTok, body });
    assert.equal(r.status, 422, JSON.stringify(body) + ' ' + r.text);
    assert.equal(r.json.code, 'invalid_field');
    assert.ok(r.json.detail.startsWith(field + ':'), r.json.detail);
  }
  assert.equal((await call(nova, 'PUT', '/v1/prices', { tok: bTok, body: { prices: {}, extra: 1 } })).status, 400);
  assert.equal(priceOf((await call(nova, 'GET', '/v1/prices', { tok: bTok })).json, 'ocr').units, 3);
  // scopes: reading needs workflows:read, writing workflows:write
  const ro = makeTenant(nova, 'prices-ro', 'workflows:read');
  const roTok = await token(nova, ro);
  assert.equal((await call(nova, 'GET', '/v1/prices', { tok: roTok })).status, 200);
  assert.equal((await call(nova, 'PUT', '/v1/prices', { tok: roTok, body: { prices: {} } })).status, 403);
});
