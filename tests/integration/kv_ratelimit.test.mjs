// Rate limits on /oauth/token and the control plane under them: 429 problems with Retry-After
// and the IETF httpapi RateLimit-Policy / RateLimit headers, counters shared by two novad on
// one Redis, failed-authentication throttling, and fail-closed behaviour when Redis stops
// mid-run (503 problem with Retry-After, never an allow) and recovery when it comes back.
// The tests that share or stop Redis start a redis-server of their own on a free loopback
// port, so they neither disturb nor depend on the suite's shared one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNova, makeTenant } from './lib.mjs';

const haveRedis = spawnSync('redis-server', ['--version']).status === 0;
// Under `make test` (NOVA_TEST_REDIS_URL set) a missing redis-server is a failure, not a skip.
const needRedis = haveRedis || Boolean(process.env.NOVA_TEST_REDIS_URL);
const METRICS = 'metrics-token-for-tests-0123456789';

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
  });
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// The per-address counters are keyed by 127.0.0.1, which every test of the suite shares: a
// test that sets a low per-address limit counts on a Redis of its own (or in-process).
async function isolatedKv() {
  if (!haveRedis) return { env: { NOVA_REDIS_URL: '' }, stop: async () => {} };
  const redis = await startRedis();
  return { env: { NOVA_REDIS_URL: redis.url }, stop: () => redis.stop() };
}

// A redis-server of this test's own: no persistence, loopback only.
async function startRedis(port) {
  const dir = mkdtempSync(join(tmpdir(), 'nova-it-redis-'));
  port = port || await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}/0`;
  for (let i = 0; i < 200; i++) {
    const r = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' });
    if (r.stdout.trim() === 'PONG') break;
    await sleep(25);
  }
  return {
    url, port,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const done = new Promise((ok) => proc.on('exit', ok));
      proc.kill('SIGTERM');
      await done;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function grant(nova, client, secret = client.secret) {
  return fetch(nova.base + '/oauth/token', {
    method: 'POST',
    headers: {
      authorization: 'Basic ' + Buffer.from(`${client.id}:${secret}`).toString('base64'),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
}

// RFC 9110 Retry-After in seconds, within (0, max].
function retryAfter(r, max) {
  const v = r.headers.get('retry-after');
  assert.match(v || '', /^[0-9]+$/, 'Retry-After in seconds');
  const n = Number(v);
  assert.ok(n >= 1 && n <= max, `Retry-After ${n} in [1, ${max}]`);
  return n;
}

async function assert429(r, policy, q, w) {
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('content-type'), 'application/problem+json');
  const p = await r.json();
  assert.equal(p.status, 429);
  assert.equal(p.code, 'rate_limited');
  assert.match(p.type, /rate_limited$/);
  const t = retryAfter(r, w);
  assert.equal(r.headers.get('ratelimit-policy'), `"${policy}";q=${q};w=${w}`);
  const m = /^"([a-z-]+)";r=([0-9]+);t=([0-9]+)$/.exec(r.headers.get('ratelimit') || '');
  assert.ok(m, 'RateLimit: ' + r.headers.get('ratelimit'));
  assert.equal(m[1], policy);
  assert.equal(Number(m[2]), 0);
  assert.ok(Number(m[3]) >= 1 && Number(m[3]) <= w && Math.abs(Number(m[3]) - t) <= 1);
}

test('grants beyond the per-client limit are 429 with Retry-After and RateLimit headers', async () => {
  const nova = await startNova({ NOVA_RATELIMIT_TOKEN_CLIENT: '3', NOVA_RATELIMIT_WINDOW: '60',
    NOVA_METRICS_TOKEN: METRICS });
  try {
    const c = makeTenant(nova, 'rl-client', 'clients:read');
    for (let i = 1; i <= 3; i++) {
      const r = await grant(nova, c);
      assert.equal(r.status, 200, await r.text());
      assert.equal(r.headers.get('ratelimit-policy'), '"token-client";q=3;w=60');
      assert.match(r.headers.get('ratelimit'), new RegExp(`^"token-client";r=${3 - i};t=[0-9]+$`));
    }
    await assert429(await grant(nova, c), 'token-client', 3, 60);
    // Another client of the same address is not affected.
    const other = makeTenant(nova, 'rl-other', 'clients:read');
    assert.equal((await grant(nova, other)).status, 200);
    const m = await fetch(nova.base + '/metrics', { headers: { authorization: 'Bearer ' + METRICS } });
    const text = await m.text();
    const hits = /^nova_ratelimit_hits_total\{limit="token-client"\} ([0-9]+)$/m.exec(text);
    assert.ok(hits && Number(hits[1]) === 1, text.slice(0, 400));
  } finally {
    await nova.stop();
  }
});

test('every token request from one address counts against the per-address limit', async () => {
  const kv = await isolatedKv();
  const nova = await startNova({ ...kv.env, NOVA_RATELIMIT_TOKEN_IP: '4', NOVA_RATELIMIT_WINDOW: '30' });
  try {
    const c = makeTenant(nova, 'rl-ip', 'clients:read');
    assert.equal((await grant(nova, c, 'wrong')).status, 401);
    assert.equal((await grant(nova, c)).status, 200);
    const bad = await fetch(nova.base + '/oauth/token', { method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=x' });
    assert.notEqual(bad.status, 429);
    assert.equal((await grant(nova, c)).status, 200);
    await assert429(await grant(nova, c), 'token-ip', 4, 30);
  } finally {
    await nova.stop();
    await kv.stop();
  }
});

test('failed authentications are throttled per client and address, right secret or not', async () => {
  const kv = await isolatedKv();
  const nova = await startNova({ ...kv.env, NOVA_RATELIMIT_AUTH_FAILURES_CLIENT: '3',
    NOVA_RATELIMIT_AUTH_FAILURES_IP: '6', NOVA_RATELIMIT_AUTH_WINDOW: '120' });
  try {
    const c = makeTenant(nova, 'rl-fail', 'clients:read');
    for (let i = 0; i < 3; i++) assert.equal((await grant(nova, c, 'guess-' + i)).status, 401);
    // Locked for this client from this address: even the right secret is refused unchecked.
    await assert429(await grant(nova, c), 'auth-failures-client', 3, 120);
    // Introspection authenticates clients the same way and is throttled the same way.
    const intro = await fetch(nova.base + '/oauth/introspect', { method: 'POST',
      headers: { authorization: 'Basic ' + Buffer.from(`${c.id}:${c.secret}`).toString('base64'),
        'content-type': 'application/x-www-form-urlencoded' }, body: 'token=x' });
    assert.equal(intro.status, 429);
    // Another client from the same address still works until the address limit is reached.
    const d = makeTenant(nova, 'rl-fail-2', 'clients:read');
    assert.equal((await grant(nova, d)).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await grant(nova, d, 'x' + i)).status, 401);
    // Six failures from this address: every client is refused now.
    const e = makeTenant(nova, 'rl-fail-3', 'clients:read');
    await assert429(await grant(nova, e), 'auth-failures-ip', 6, 120);
  } finally {
    await nova.stop();
    await kv.stop();
  }
});

test('two novad on one Redis share the counters', { skip: !needRedis && 'redis-server not installed' }, async () => {
  const redis = await startRedis();
  const env = { NOVA_REDIS_URL: redis.url, NOVA_RATELIMIT_TOKEN_CLIENT: '4', NOVA_RATELIMIT_WINDOW: '60' };
  const a = await startNova(env);
  const b = await startNova(env, { shareWith: a });
  try {
    const c = makeTenant(a, 'rl-shared', 'clients:read');
    assert.equal((await grant(a, c)).status, 200);
    assert.equal((await grant(b, c)).status, 200);
    assert.equal((await grant(a, c)).status, 200);
    const r = await grant(b, c);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('ratelimit'), /^"token-client";r=0;/);
    await assert429(await grant(a, c), 'token-client', 4, 60);
    await assert429(await grant(b, c), 'token-client', 4, 60);
  } finally {
    await b.stop();
    await a.stop();
    await redis.stop();
  }
});

test('Redis stopped mid-run: 503 with Retry-After, never an allow; started again: recovers', { skip: !needRedis && 'redis-server not installed' }, async () => {
  const redis = await startRedis();
  const nova = await startNova({ NOVA_REDIS_URL: redis.url, NOVA_REDIS_TIMEOUT_MS: '300',
    NOVA_METRICS_TOKEN: METRICS });
  let again = null;
  try {
    const c = makeTenant(nova, 'rl-outage', 'clients:read');
    assert.equal((await grant(nova, c)).status, 200);
    assert.equal((await fetch(nova.base + '/v1/ready')).status, 200);

    await redis.stop();
    for (let i = 0; i < 5; i++) {
      const r = await grant(nova, c);
      assert.equal(r.status, 503, 'no token without the control plane');
      assert.equal(r.headers.get('content-type'), 'application/problem+json');
      const p = await r.json();
      assert.equal(p.code, 'control_plane_unavailable');
      assert.equal(p.access_token, undefined);
      retryAfter(r, 5);
    }
    // A wrong secret is refused too, without the failure ever being let through as a 401
    // that skipped counting.
    assert.equal((await grant(nova, c, 'wrong')).status, 503);
    const ready = await fetch(nova.base + '/v1/ready', { headers: { authorization: 'Bearer ' + METRICS } });
    assert.equal(ready.status, 503);
    assert.match((await ready.json()).detail, /control plane/);
    // Liveness is not readiness: the process is fine.
    assert.equal((await fetch(nova.base + '/v1/health')).status, 200);

    again = await startRedis(redis.port);
    // Every thread reconnects on its own first call after the outage (100 ms apart at
    // most); under a sanitizer on a loaded machine that can take a while, so wait up to 15 s.
    let r, ready2;
    const until = Date.now() + 15000;
    do {
      r = await grant(nova, c);
      if (r.status !== 503) break;
      await sleep(50);
    } while (Date.now() < until);
    assert.equal(r.status, 200, 'grants resume once Redis is back');
    do {
      ready2 = (await fetch(nova.base + '/v1/ready')).status;
      if (ready2 === 200) break;
      await sleep(50);
    } while (Date.now() < until);
    assert.equal(ready2, 200, 'ready again once Redis is back');
    const m = await (await fetch(nova.base + '/metrics', { headers: { authorization: 'Bearer ' + METRICS } })).text();
    assert.match(m, /^nova_kv_unavailable_refusals_total [1-9][0-9]*$/m);
    assert.match(m, /^nova_kv_reconnects_total\{driver="redis"\} [1-9][0-9]*$/m);
  } finally {
    await nova.stop();
    if (again) await again.stop();
  }
});

test('novad refuses to start when the configured Redis cannot be reached', async () => {
  const port = await freePort();
  await assert.rejects(startNova({ NOVA_REDIS_URL: `redis://127.0.0.1:${port}/0` }),
    /control plane: redis 127\.0\.0\.1:[0-9]+: connect/);
});
