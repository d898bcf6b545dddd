// Process lifecycle: graceful shutdown and schema-version refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startNova, BIN } from './lib.mjs';

test('SIGTERM stops novad cleanly with exit 0', async () => {
  const nova = await startNova();
  assert.equal((await fetch(nova.base + '/v1/health')).status, 200);
  const r = await nova.stop();
  assert.equal(r.code, 0);
});

test('novad migrate is idempotent and config lists every key', () => {
  const c = spawnSync(BIN, ['config'], { encoding: 'utf8' });
  assert.equal(c.status, 0);
  for (const k of ['NOVA_DATABASE_URL', 'NOVA_TOKEN_TTL', 'NOVA_MAX_BODY', 'NOVA_MASTER_KEY']) assert.match(c.stdout, new RegExp(k));
  // The README's table is the same text, so the documentation cannot drift from the code.
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes(c.stdout.trim()), 'README configuration table matches `novad config`');
  const bad = spawnSync(BIN, ['serve'], { encoding: 'utf8', env: { PATH: process.env.PATH, NOVA_TOKEN_TTL: '5' } });
  assert.equal(bad.status, 3, 'bad configuration exits 3');
  assert.match(bad.stderr, /NOVA_TOKEN_TTL/);
});
