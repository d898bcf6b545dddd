// novactl's command line: options anywhere (getopt_long with `--`), usage errors exit 2, help
// never opens the store, tenant names are unique per deployment (exit 8 / HTTP 409), and an
// empty store tells the user the one command to run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startNova, makeTenant, token, call, CTL } from './lib.mjs';

const PG = process.env.NOVA_TEST_DATABASE_URL || '';
// Names are unique per deployment and the PostgreSQL run shares one database between files.
const tag = randomBytes(4).toString('hex');

// A store of novactl's own (no novad): SQLite in a fresh directory, or the run's PostgreSQL.
function ctlEnv(dir, extra = {}) {
  return {
    PATH: process.env.PATH,
    ASAN_OPTIONS: process.env.ASAN_OPTIONS || '',
    UBSAN_OPTIONS: process.env.UBSAN_OPTIONS || '',
    NOVA_DATA_DIR: dir,
    NOVA_MASTER_KEY: PG ? process.env.NOVA_TEST_MASTER_KEY : randomBytes(32).toString('base64url'),
    NOVA_DATABASE_URL: PG,
    ...extra,
  };
}

function run(env, ...args) {
  const r = spawnSync(CTL, args, { env, encoding: 'utf8' });
  let json = null;
  try { json = JSON.parse(r.stdout); } catch { /* not JSON */ }
  let err = null;
  try { err = JSON.parse(r.stderr); } catch { /* not JSON */ }
  return { code: r.status, json, err, stdout: r.stdout, stderr: r.stderr };
}

function isUsageError(r, why) {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '', 'nothing on stdout');
  assert.match(r.stderr, /usage: novactl/);
  if (why) assert.match(r.stderr, why);
}

let dir, env;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nova-ctl-'));
  env = ctlEnv(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function names() {
  const r = run(env, '--json', 'tenant', 'list');
  assert.equal(r.code, 0, r.stderr);
  return r.json.map((t) => t.name);
}

test('options after the command are options, not names', () => {
  const r = run(env, 'tenant', 'create', '--json', `barb-${tag}`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.name, `barb-${tag}`, 'JSON output: --json was taken as an option');
  assert.ok(!names().includes('--json'));
  // Between the command words too, and for value options.
  const c = run(env, 'client', '--tenant', r.json.id, 'create', '--scopes', 'clients:read', '--json', '--name', 'w');
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.json.tenant_id, r.json.id);
  assert.deepEqual(c.json.scopes, ['clients:read']);
  // POSIXLY_CORRECT does not switch permutation off.
  const p = run({ ...env, POSIXLY_CORRECT: '1' }, 'tenant', 'create', `posix-${tag}`, '--json');
  assert.equal(p.code, 0, p.stderr);
  assert.equal(p.json.name, `posix-${tag}`);
});

test('`--` ends the options: what follows is a name, whatever it looks like', () => {
  const name = `--json-${tag}`;
  const r = run(env, '--json', 'tenant', 'create', '--', name);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.name, name);
  assert.ok(names().includes(name));
  // A client id after `--` is an argument too (and then not found).
  const v = run(env, '--json', 'client', 'revoke', '--tenant', r.json.id, '--', '--x');
  assert.equal(v.code, 7, v.stderr);
});

test('usage errors exit 2 with the usage on stderr and change nothing', () => {
  const before = names().length;
  isUsageError(run(env, 'tenant', 'create', '--bogus', `x-${tag}`), /unknown option --bogus/);
  isUsageError(run(env, 'tenant', 'create', `x-${tag}`, '-q'), /unknown option -q/);
  isUsageError(run(env, 'tenant', 'create'), /missing argument/);
  isUsageError(run(env, 'tenant', 'create', 'a', 'b'), /too many arguments/);
  isUsageError(run(env, 'tenant', 'create', '--tenant', 'x', 'a'), /takes no --tenant/);
  isUsageError(run(env, 'tenant', 'delete', 'a'), /no such command/);
  isUsageError(run(env, 'frobnicate'), /no such command/);
  isUsageError(run(env), /no command/);
  isUsageError(run(env, 'client', 'list'), /missing --tenant/);
  isUsageError(run(env, 'client', 'list', '--tenant'), /--tenant needs a value/);
  isUsageError(run(env, 'client', 'list', '--tenant', 'a', '--tenant', 'b'), /given twice/);
  isUsageError(run(env, 'client', 'create', '--tenant', 'a', '--name', 'n'), /missing --scopes/);
  assert.equal(names().length, before);
  // With --json (wherever it stands) the error is one JSON object that carries the usage.
  const j = run(env, 'tenant', 'create', '--bogus', 'x', '--json');
  assert.equal(j.code, 2);
  assert.equal(j.err.error, 'usage');
  assert.match(j.err.message, /--bogus/);
  assert.match(j.err.usage, /tenant create NAME/);
});

test('--help and help COMMAND print usage on stdout, exit 0 and never open the store', () => {
  // A store that cannot be opened and a data directory that does not exist: opening either
  // would fail (exit 3/4) or create the directory.
  const missing = join(dir, 'never-created');
  const henv = ctlEnv(missing, { NOVA_DATABASE_URL: 'postgres://nova@127.0.0.1:1/none', NOVA_MASTER_KEY: '' });
  const cases = [
    [['--help'], /client create --tenant ID/],
    [['-h'], /tenant list/],
    [['help'], /migrate/],
    [['help', 'tenant'], /tenant create NAME/],
    [['help', 'client', 'revoke'], /client revoke --tenant ID CLIENT_ID/],
    [['tenant', 'create', '--help'], /tenant create NAME/],
    [['tenant', 'create', 'acme', '--help', '--json'], /tenant create NAME/],
    [['client', '--help'], /client list --tenant ID/],
    [['migrate', '--help'], /migrate/],
  ];
  for (const [args, want] of cases) {
    const r = run(henv, ...args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /^usage: novactl/);
    assert.match(r.stdout, want, args.join(' '));
    assert.equal(r.stderr, '');
  }
  // Only the asked command's lines.
  assert.doesNotMatch(run(henv, 'help', 'tenant').stdout, /client create/);
  isUsageError(run(henv, 'help', 'frobnicate'), /no such command/);
  assert.ok(!existsSync(missing), 'help created the data directory: it opened the store');
  // The same environment really does fail once a command needs the store.
  assert.notEqual(run(henv, 'tenant', 'list').code, 0);
});

test('tenant names are unique per deployment; ASCII case does not make a new name', async () => {
  const name = `Acme-${tag}`;
  const first = run(env, '--json', 'tenant', 'create', name);
  assert.equal(first.code, 0, first.stderr);
  for (const again of [name, name.toLowerCase(), name.toUpperCase()]) {
    const r = run(env, '--json', 'tenant', 'create', again);
    assert.equal(r.code, 8, `${again}: ${r.stderr}`);
    assert.equal(r.err.error, 'conflict');
    assert.match(r.err.message, /exists already/);
    assert.equal(r.stdout, '');
  }
  const text = run(env, 'tenant', 'create', name);
  assert.equal(text.code, 8);
  assert.match(text.stderr, /a tenant named ".*" exists already/);
  // Other characters are compared exactly.
  assert.equal(run(env, '--json', 'tenant', 'create', name + ' ').code, 0);
  assert.equal(names().filter((n) => n.toLowerCase() === name.toLowerCase()).length, 1);
});

test('POST /v1/tenants with a taken name is a 409 problem, and creates nothing', async () => {
  const nova = await startNova();
  try {
    const ops = makeTenant(nova, `ops-${tag}`, 'platform:admin');
    const t = await token(nova, ops);
    const name = `Shared-${tag}`;
    const ok = await call(nova, 'POST', '/v1/tenants', { tok: t, body: { name } });
    assert.equal(ok.status, 201, ok.text);
    const count = async () => (await call(nova, 'GET', '/v1/tenants', { tok: t })).json.tenants.length;
    const n = await count();
    for (const again of [name, name.toUpperCase()]) {
      const r = await call(nova, 'POST', '/v1/tenants', {
        tok: t, body: { name: again, client: { name: 'admin', scopes: ['clients:read'] } },
      });
      assert.equal(r.status, 409, r.text);
      assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
      assert.equal(r.json.code, 'conflict');
      assert.match(r.json.detail, /name exists already/);
    }
    assert.equal(await count(), n);
    // novactl on the same store agrees.
    assert.equal(nova.ctl('tenant', 'create', name.toLowerCase()).code, 8);
  } finally {
    await nova.stop();
  }
});

test('an empty store says the one command to run', { skip: PG ? 'needs a store of its own (SQLite)' : false }, () => {
  const fresh = mkdtempSync(join(tmpdir(), 'nova-ctl-empty-'));
  try {
    const fenv = ctlEnv(fresh);
    // Never migrated, never served: a store without schema is set up on first use.
    const l = run(fenv, 'tenant', 'list');
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /no tenants yet: run `novactl tenant create NAME`/);
    const j = run(fenv, '--json', 'tenant', 'list');
    assert.equal(j.code, 0);
    assert.deepEqual(j.json, [], 'JSON output stays machine-readable');
    const c = run(fenv, '--json', 'client', 'list', '--tenant', 'ten_x');
    assert.equal(c.code, 7);
    assert.match(c.err.message, /novactl tenant create NAME/);
    // After the one command, the hint is gone and the not-found error is plain.
    const t = run(fenv, '--json', 'tenant', 'create', 'first');
    assert.equal(t.code, 0, t.stderr);
    assert.doesNotMatch(run(fenv, 'tenant', 'list').stdout, /no tenants yet/);
    const c2 = run(fenv, '--json', 'client', 'list', '--tenant', 'ten_x');
    assert.equal(c2.code, 7);
    assert.equal(c2.err.message, 'no such tenant');
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
});

test('datakey rotate makes a new data key version per region, audited; list shows the history', () => {
  const t = run(env, '--json', 'tenant', 'create', `datakeys-${tag}`);
  assert.equal(t.code, 0, t.stderr);
  const id = t.json.id;
  // No data keys yet: which region is unknown, so the command says to name one.
  const none = run(env, '--json', 'datakey', 'rotate', '--tenant', id);
  assert.equal(none.code, 7, none.stderr);
  assert.match(none.err.message, /--region/);
  isUsageError(run(env, 'datakey', 'rotate'), /--tenant/);
  const bad = run(env, '--json', 'datakey', 'rotate', '--tenant', id, '--region', '*');
  assert.equal(bad.code, 6, bad.stderr);
  for (const [region, want] of [['KE', 1], ['KE', 2], ['NG', 1]]) {
    const r = run(env, '--json', 'datakey', 'rotate', '--tenant', id, '--region', region);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json, { tenant_id: id, rotated: [{ region, version: want, envelope: 'derived-v1' }] });
  }
  // Without --region: every region the tenant has keys in.
  const all = run(env, '--json', 'datakey', 'rotate', '--tenant', id);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(all.json.rotated.map((k) => [k.region, k.version]), [['KE', 3], ['NG', 2]]);
  const l = run(env, '--json', 'datakey', 'list', '--tenant', id);
  assert.equal(l.code, 0, l.stderr);
  assert.deepEqual(l.json.data_keys.map((k) => [k.region, k.version, k.retired_at > 0]),
    [['KE', 1, true], ['KE', 2, true], ['KE', 3, false], ['NG', 1, true], ['NG', 2, false]]);
  for (const k of l.json.data_keys) assert.deepEqual(Object.keys(k).sort(),
    ['created_at', 'envelope', 'region', 'retired_at', 'version'], 'no key material listed');
  const text = run(env, 'datakey', 'list', '--tenant', id);
  assert.match(text.stdout, /^KE {2}v1 {2}derived-v1 {2}created .* {2}retired /m);
  // Each rotation is in the tenant's audit chain, which still verifies.
  const v = run(env, '--json', 'audit', 'verify', '--tenant', id);
  assert.equal(v.code, 0, v.stderr);
});
