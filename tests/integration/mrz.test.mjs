// novactl mrz parse: the Doc 9303 specimen zones of the five formats from standard input and
// from a file, a wrong check digit (exit 6, the check named), a repair a check digit proves
// (exit 0, reported), an unknown country code while every check digit holds (exit 6), and
// input that is no zone at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CTL } from './lib.mjs';

const TD3 = 'P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10\n';
const ZONES = {
  TD3,
  TD1: 'I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<\n',
  TD2: 'I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6\n',
  'MRV-A': 'V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL8988901C4XXX4009078F96121096ZE184226B<<<<<<\n',
  'MRV-B': 'V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nL8988901C4XXX4009078F9612109<<<<<<<<\n',
};
const FIELDS = ['document_code', 'issuer', 'document_number', 'nationality', 'birth_date', 'sex', 'expiry_date', 'surname', 'given_names', 'optional_data'];
const run = (args, input) => spawnSync(CTL, args, { input, encoding: 'utf8', env: { PATH: process.env.PATH } });

test('novactl mrz parse reads each format from standard input: valid, format, fields, checks, errors', () => {
  for (const [format, zone] of Object.entries(ZONES)) {
    const r = run(['mrz', 'parse'], zone);
    assert.equal(r.status, 0, format + ': ' + r.stderr + r.stdout);
    const j = JSON.parse(r.stdout);
    assert.equal(j.valid, true, format);
    assert.equal(j.format, format);
    for (const f of FIELDS) assert.equal(typeof j.fields[f], 'string', `${format} ${f}`);
    assert.equal(j.fields.issuer, 'UTO');
    assert.equal(j.fields.surname, 'ERIKSSON');
    assert.equal(j.fields.given_names, 'ANNA MARIA');
    assert.equal(j.fields.sex, 'F');
    assert.match(j.fields.birth_date, /^\d{4}-\d{2}-\d{2}$/);
    assert.deepEqual(j.errors, []);
    assert.ok(Object.values(j.checks).every((c) => c === 'ok'), format);
    // visas have no composite check digit; the others do
    assert.equal('composite' in j.checks, !format.startsWith('MRV'), format);
    assert.equal(j.proved.nationality, false);
  }
  const v = JSON.parse(run(['mrz', 'parse', '-'], ZONES['MRV-A']).stdout);
  assert.deepEqual([v.fields.document_number, v.fields.nationality, v.fields.birth_date, v.fields.expiry_date], ['L8988901C', 'XXX', '1940-09-07', '1996-12-10']);
});

test('novactl mrz parse names a failing check digit, reports a proved repair, refuses non-zones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nova-mrz-'));
  try {
    writeFileSync(join(dir, 'zone.txt'), TD3);
    const f = run(['mrz', 'parse', join(dir, 'zone.txt')]);
    assert.equal(f.status, 0, f.stderr);
    const j = JSON.parse(f.stdout);
    assert.equal(j.format, 'TD3');
    assert.equal(j.valid, true);
    assert.equal(j.fields.birth_date, '1974-08-12');
    assert.equal(j.fields.optional_data, 'ZE184226B');
    assert.deepEqual(j.checks, { document_number: 'ok', birth_date: 'ok', expiry_date: 'ok', optional_data: 'ok', composite: 'ok' });

    const bad = run(['mrz', 'parse', '-'], TD3.replace('7408122', '7408123'));
    assert.equal(bad.status, 6);
    const b = JSON.parse(bad.stdout);
    assert.equal(b.valid, false);
    assert.equal(b.checks.birth_date, 'failed');
    assert.equal(b.checks.document_number, 'ok');
    assert.ok(b.errors.some((e) => e.field === 'birth_date' && e.code === 'check_digit_failed'));

    // 0 read as O in the document number: the one swap the check digits accept.
    const rep = run(['mrz', 'parse'], TD3.replace('L898902C3', 'L8989O2C3'));
    assert.equal(rep.status, 0, rep.stdout);
    const r = JSON.parse(rep.stdout);
    assert.equal(r.fields.document_number, 'L898902C3');
    assert.equal(r.checks.document_number, 'repaired');
    assert.deepEqual(r.repairs, [{ check: 'document_number', line: 1, column: 5, read: 'O', repaired: '0', proved: true }]);

    // 8 read as B where two swaps fit: not proved, left failed and as read.
    const amb = run(['mrz', 'parse'], TD3.replace('L898902C3', 'LB98902C3'));
    assert.equal(amb.status, 6);
    const a = JSON.parse(amb.stdout);
    assert.equal(a.checks.document_number, 'failed');
    assert.equal(a.fields.document_number, 'LB98902C3');
    assert.equal(a.proved.document_number, false);

    // An unknown nationality while every check digit holds: an error, exit 6.
    const cc = run(['mrz', 'parse'], TD3.replace('C36UTO', 'C36UTX'));
    assert.equal(cc.status, 6);
    const c = JSON.parse(cc.stdout);
    assert.ok(Object.values(c.checks).every((x) => x === 'ok'));
    assert.deepEqual(c.errors.map((e) => [e.field, e.code]), [['nationality', 'unknown_country']]);

    const none = run(['--json', 'mrz', 'parse', '-'], 'hello world\n');
    assert.equal(none.status, 6);
    assert.equal(JSON.parse(none.stderr).error, 'invalid'); // errors go to stderr, as everywhere in novactl
    assert.equal(run(['mrz', 'parse', 'a', 'b']).status, 2, 'usage');
    assert.equal(run(['mrz', 'parse', join(dir, 'missing.txt')]).status, 7);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
