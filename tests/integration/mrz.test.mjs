// novactl mrz parse: the Doc 9303 specimen passport zone from a file and from stdin, a zone with
// a wrong check digit (exit 6, JSON says which check), and input that is no zone at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CTL } from './lib.mjs';

const TD3 = 'P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10\n';
const run = (args, input) => spawnSync(CTL, args, { input, encoding: 'utf8', env: { PATH: process.env.PATH } });

test('novactl mrz parse reads a zone, names a failing check digit, refuses non-zones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nova-mrz-'));
  try {
    writeFileSync(join(dir, 'zone.txt'), TD3);
    const f = run(['mrz', 'parse', join(dir, 'zone.txt')]);
    assert.equal(f.status, 0, f.stderr);
    const j = JSON.parse(f.stdout);
    assert.equal(j.format, 'TD3');
    assert.equal(j.valid, true);
    assert.equal(j.surname, 'ERIKSSON');
    assert.equal(j.given_names, 'ANNA MARIA');
    assert.equal(j.birth_date, '1974-08-12');
    const bad = run(['mrz', 'parse', '-'], TD3.replace('7408122', '7408123'));
    assert.equal(bad.status, 6);
    const b = JSON.parse(bad.stdout);
    assert.equal(b.valid, false);
    assert.equal(b.checks.birth_date, false);
    assert.equal(b.checks.document_number, true);
    const none = run(['--json', 'mrz', 'parse', '-'], 'hello world\n');
    assert.equal(none.status, 6);
    assert.equal(JSON.parse(none.stderr).error, 'invalid'); // errors go to stderr, as everywhere in novactl
    assert.equal(run(['mrz', 'parse']).status, 2, 'usage');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
