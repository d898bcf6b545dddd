// Starts the real novad (NOVA_BIN) on a free loopback port with a fresh store, and runs novactl
// against the same configuration. NOVA_TEST_DATABASE_URL selects PostgreSQL; empty means SQLite.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';

export const BIN = resolve(process.env.NOVA_BIN || 'build/cmd/novad');
export const CTL = join(dirname(BIN), 'novactl');

// The environment that runs a novad two days ahead of the real clock under libfaketime (its
// daily run then does "tomorrow", a day whose balances a test made today).
export function faketime() {
  const arch = readdirSync('/usr/lib').find((d) => existsSync(`/usr/lib/${d}/faketime/libfaketime.so.1`));
  if (!arch) throw new Error('libfaketime is not installed (scripts/deps.sh test)');
  return {
    LD_PRELOAD: `/usr/lib/${arch}/faketime/libfaketime.so.1`,
    FAKETIME: '+2d',
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
    ASAN_OPTIONS: 'verify_asan_link_order=0:' + (process.env.ASAN_OPTIONS || ''),
  };
}

// A database is bound to one master key. Each SQLite instance has a store of its own, so a
// fresh key; every instance on the shared PostgreSQL database must use the run's key.
function masterKey() {
  if (!process.env.NOVA_TEST_DATABASE_URL) return randomBytes(32).toString('base64url');
  if (!process.env.NOVA_TEST_MASTER_KEY) throw new Error('NOVA_TEST_MASTER_KEY must be set with NOVA_TEST_DATABASE_URL');
  return process.env.NOVA_TEST_MASTER_KEY;
}

// shareWith: another instance whose store, data directory and master key this one uses.
export async function startNova(extraEnv = {}, { shareWith = null } = {}) {
  const dir = shareWith ? shareWith.dir : mkdtempSync(join(tmpdir(), 'nova-it-'));
  const env = {
    PATH: process.env.PATH,
    ASAN_OPTIONS: process.env.ASAN_OPTIONS || '',
    UBSAN_OPTIONS: process.env.UBSAN_OPTIONS || '',
    NOVA_PORT: '0',
    NOVA_DATA_DIR: dir,
    NOVA_MASTER_KEY: shareWith ? shareWith.env.NOVA_MASTER_KEY : masterKey(),
    NOVA_DATABASE_URL: shareWith ? shareWith.env.NOVA_DATABASE_URL : (process.env.NOVA_TEST_DATABASE_URL || ''),
    NOVA_THREADS: '2',
    // The control plane: the suite's Redis when the run has one (PostgreSQL run), else in-process.
    NOVA_REDIS_URL: process.env.NOVA_TEST_REDIS_URL || '',
    ...extraEnv,
  };
  // NOVA_PORT=0 has novad pick a free port while it loads its configuration (the issuer names
  // the port) and bind it a moment later; another process on a busy machine can take the port
  // in between. That start exits 4 with EADDRINUSE: start again (a fresh pick), a few times.
  let proc, stderr, port;
  for (let attempt = 1; ; attempt++) {
    proc = spawn(BIN, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    stderr = '';
    const p = proc;
    try {
      port = await new Promise((ok, fail) => {
        const t = setTimeout(() => fail(new Error('novad did not start: ' + stderr)), 20000);
        // One listener keeps every line for nova.logs(); it looks for the port only until found.
        let started = false;
        p.stderr.on('data', (d) => {
          stderr += d;
          if (started) return;
          const m = stderr.match(/"msg":"novad listening".*?"port":(\d+)/);
          if (m) { started = true; clearTimeout(t); ok(Number(m[1])); }
        });
        // 'close': after the exit and the last of its stderr
        p.on('close', (code) => { clearTimeout(t); fail(Object.assign(new Error(`novad exited ${code}: ${stderr}`), { code })); });
      });
      break;
    } catch (e) {
      if (attempt < 4 && env.NOVA_PORT === '0' && e.code === 4 && /Address already in use/.test(stderr)) continue;
      throw e;
    }
  }
  const base = `http://127.0.0.1:${port}`;
  const nova = {
    proc, base, env, dir, port,
    logs: () => stderr,
    ctl: (...args) => {
      const r = spawnSync(CTL, ['--json', ...args], { env, encoding: 'utf8' });
      let json = null;
      try { json = JSON.parse(r.stdout); } catch { /* not JSON */ }
      return { code: r.status, json, stdout: r.stdout, stderr: r.stderr };
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const done = new Promise((ok) => proc.on('exit', (code, sig) => ok({ code, sig })));
        proc.kill('SIGTERM');
        const r = await done;
        if (!shareWith) rmSync(dir, { recursive: true, force: true });
        return r;
      }
      if (!shareWith) rmSync(dir, { recursive: true, force: true });
      return { code: proc.exitCode };
    },
  };
  return nova;
}

// A tenant with one client holding scopes; returns { tenant, id, secret }.
export function makeTenant(nova, name, scopes, audiences) {
  const t = nova.ctl('tenant', 'create', name);
  if (t.code !== 0) throw new Error('tenant create: ' + t.stderr);
  const args = ['client', 'create', '--tenant', t.json.id, '--name', name + ' client', '--scopes', scopes];
  if (audiences) args.push('--audiences', audiences);
  const c = nova.ctl(...args);
  if (c.code !== 0) throw new Error('client create: ' + c.stderr);
  return { tenant: t.json.id, id: c.json.client_id, secret: c.json.client_secret };
}

export async function token(nova, client, extra = {}) {
  const body = new URLSearchParams({ grant_type: 'client_credentials', ...extra });
  const r = await fetch(nova.base + '/oauth/token', {
    method: 'POST',
    headers: {
      authorization: 'Basic ' + Buffer.from(`${client.id}:${client.secret}`).toString('base64'),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body,
  });
  const j = await r.json();
  if (r.status !== 200) throw new Error('token: ' + JSON.stringify(j));
  return j.access_token;
}

export async function call(nova, method, path, { tok, body, headers = {}, raw } = {}) {
  const h = { ...headers };
  if (tok) h.authorization = 'Bearer ' + tok;
  let b = raw;
  if (body !== undefined) { h['content-type'] = h['content-type'] || 'application/json'; b = JSON.stringify(body); }
  const r = await fetch(nova.base + path, { method, headers: h, body: b });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, json, text };
}
