// novactl policy test FILE.fga.yaml [--mutate]: the sample banking policy's OpenFGA test file
// passes, its mutation score and the one surviving mutant come out in text and JSON, a wrong
// expectation exits 6 naming it, and --mutate is refused on other commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CTL } from './lib.mjs';

const SAMPLE = resolve('tests/fixtures/policy/banking.fga.yaml');
const run = (args) => spawnSync(CTL, args, { encoding: 'utf8', env: { PATH: process.env.PATH } });

test('novactl policy test runs the banking sample and scores its mutants', () => {
  const t = run(['policy', 'test', SAMPLE]);
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /banking: 4 tests, 24 of 24 assertions pass/);
  assert.doesNotMatch(t.stdout, /mutation score/);
  const m = run(['policy', 'test', SAMPLE, '--mutate']);
  assert.equal(m.status, 0, m.stderr);
  assert.match(m.stdout, /mutation score: 97\.3% \(36 of 37 mutants killed\)/);
  assert.match(m.stdout, /SURVIVED drop_direct_type at bank#auditor/);
  const j = run(['--json', 'policy', 'test', SAMPLE, '--mutate']);
  assert.equal(j.status, 0, j.stderr);
  const r = JSON.parse(j.stdout);
  assert.equal(r.failed, 0);
  assert.equal(r.mutation.mutants, 37);
  assert.equal(r.mutation.killed, 36);
  assert.equal(r.mutation.operators.length, 9);
  assert.deepEqual(r.mutation.survivors.map((s) => s.operator), ['drop_direct_type']);
});

test('a failing assertion exits 6 and says what was expected; bad files and options are refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nova-policy-test-'));
  try {
    const text = readFileSync(SAMPLE, 'utf8').replace('assertions: {viewer: false, can_close: false, owner: true}',
      'assertions: {viewer: true, can_close: false, owner: true}');
    writeFileSync(join(dir, 'wrong.fga.yaml'), text);
    const w = run(['--json', 'policy', 'test', join(dir, 'wrong.fga.yaml')]);
    assert.equal(w.status, 6, w.stderr);
    const r = JSON.parse(w.stdout);
    assert.equal(r.failed, 1);
    assert.deepEqual(r.failures[0].assertion, { user: 'user:eli', relation: 'viewer', object: 'account:1002' });
    assert.equal(r.failures[0].expected, true);
    assert.equal(r.failures[0].got, false);
    const tx = run(['policy', 'test', join(dir, 'wrong.fga.yaml')]);
    assert.equal(tx.status, 6);
    assert.match(tx.stdout, /FAIL a frozen owner sees nothing and cannot close: check/);
    writeFileSync(join(dir, 'bad.fga.yaml'), 'model: [\n');
    const b = run(['policy', 'test', join(dir, 'bad.fga.yaml')]);
    assert.equal(b.status, 6);
    assert.match(b.stderr, /line/);
    assert.equal(run(['policy', 'test', join(dir, 'none.fga.yaml')]).status, 6);
    const o = run(['mrz', 'parse', '--mutate', join(dir, 'bad.fga.yaml')]);
    assert.equal(o.status, 2, o.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
