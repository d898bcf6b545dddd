// The gateway's message-driven orchestration (issue 9 item 3) with processes killed mid-job:
//  - in-process queue: the novad running the workers is SIGKILLed while jobs are queued and one
//    is running; a novad restarted on the same store publishes the undecided jobs again and
//    decides every one;
//  - RabbitMQ (a throwaway rabbitmq-server from scripts/rabbitmq.sh, `rabbitmqctl
//    await_startup`): one `novad serve` takes requests and runs no worker; two `novad worker`
//    processes (no HTTP) compete for the jobs of idv-gateway-v2; one is SIGKILLed while it
//    holds a job, which the broker delivers again to the other. Sync mode works across
//    processes as AMQP RPC (the worker answers the API novad's reply queue). `novad worker` without a broker is a configuration error (exit 3).
// Either way nothing accepted is lost and no check is billed twice.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startNova, makeTenant, token, call, BIN } from './lib.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const WF = { name: 'queue kyc', steps: [{ check: 'ocr' }, { check: 'mrz' }, { check: 'age' }] };
const N = 4;
let docs, rabbitDir, amqpUrl;

before(() => {
  const dir = mkdtempSync(join(tmpdir(), 'nova-idvq-docs-'));
  const g = spawnSync(PY, [join(ROOT, 'tools/idv_docgen.py'), dir, '--count', '2', '--formats', 'TD3', '--seed', '5'], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  docs = readdirSync(dir).filter((f) => f.endsWith('.jpg')).map((f) => readFileSync(join(dir, f)).toString('base64'));
  rmSync(dir, { recursive: true, force: true });
  rabbitDir = mkdtempSync(join(tmpdir(), 'nova-rabbitmq-'));
  const r = spawnSync('bash', [join(ROOT, 'scripts/rabbitmq.sh'), 'start', rabbitDir], { encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, 'rabbitmq.sh start: ' + r.stderr);
  amqpUrl = r.stdout.trim();
});
after(() => {
  spawnSync('bash', [join(ROOT, 'scripts/rabbitmq.sh'), 'stop', rabbitDir], { encoding: 'utf8', timeout: 60000 });
});

async function setup(nova) {
  const t = makeTenant(nova, 'idvq-' + Date.now(), 'workflows:read workflows:write verifications:read verifications:write');
  const tok = await token(nova, t);
  const w = await call(nova, 'POST', '/v1/workflows', { tok, body: WF });
  assert.equal(w.status, 201, w.text);
  return { t, tok, wf: w.json.id };
}

async function submit(nova, s, n) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const r = await call(nova, 'POST', '/v1/verifications', { tok: s.tok, body: { workflow_id: s.wf, images: { document_front: docs[i % docs.length] } } });
    assert.equal(r.status, 202, r.text);
    ids.push(r.json.id);
  }
  return ids;
}

async function decided(nova, tok, ids, seconds = 120) {
  const out = {};
  for (let i = 0; i < seconds * 5 && Object.keys(out).length < ids.length; i++) {
    for (const id of ids) {
      if (out[id]) continue;
      const r = await call(nova, 'GET', '/v1/verifications/' + id, { tok });
      assert.equal(r.status, 200, r.text);
      if (r.json.status === 'completed' || r.json.status === 'failed') out[id] = r.json;
    }
    await sleep(200);
  }
  assert.equal(Object.keys(out).length, ids.length, 'every accepted verification is decided');
  return out;
}

async function waitLog(nova, re, ms = 60000) {
  for (let i = 0; i < ms / 10; i++) {
    const m = nova.logs().match(re);
    if (m) return m;
    await sleep(10);
  }
  throw new Error('log line never came: ' + re);
}

// Each check ran exactly once per verification: the usage rows count one per (verification, step).
async function assertBilledOnce(nova, tok, n) {
  const u = await call(nova, 'GET', '/v1/usage', { tok });
  const by = Object.fromEntries(u.json.checks.map((c) => [c.check, c.checks]));
  assert.equal(by.ocr, n, JSON.stringify(u.json));
  assert.ok((by.mrz ?? 0) <= n);
}

// A `novad worker` on the API novad's store and master key: resolves once it says it started.
function startWorker(api, extraEnv) {
  const env = { ...api.env, ...extraEnv };
  const proc = spawn(BIN, ['worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const w = {
    proc, logs: () => stderr,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return { code: proc.exitCode };
      const done = new Promise((ok) => proc.on('exit', (code, sig) => ok({ code, sig })));
      proc.kill('SIGTERM');
      return done;
    },
  };
  return new Promise((ok, fail) => {
    const t = setTimeout(() => fail(new Error('novad worker did not start: ' + stderr)), 30000);
    proc.stderr.on('data', () => { if (/"msg":"novad worker started"/.test(stderr)) { clearTimeout(t); ok(w); } });
    proc.on('exit', (code) => { clearTimeout(t); fail(new Error(`novad worker exited ${code}: ${stderr}`)); });
  });
}

function kill9(nova) {
  return new Promise((ok) => { nova.proc.on('exit', () => ok()); nova.proc.kill('SIGKILL'); });
}

test('in-process queue: novad SIGKILLed mid-job; the restarted one decides every verification', async () => {
  const first = await startNova({ NOVA_IDV_WORKERS: '1' });
  const s = await setup(first);
  const ids = await submit(first, s, N);
  const m = await waitLog(first, /verification (ver_\S+) trace \S+: attempt 1 started/);
  await kill9(first);
  const second = await startNova({ NOVA_IDV_WORKERS: '2' }, { shareWith: first });
  try {
    const tok = await token(second, s.t);
    const out = await decided(second, tok, ids);
    for (const v of Object.values(out)) {
      assert.equal(v.status, 'completed', JSON.stringify(v));
      assert.ok(['approved', 'rejected', 'review_required'].includes(v.decision));
    }
    assert.ok(out[m[1]].attempts >= 2, 'the job killed mid-run was started again');
    assert.match(second.logs(), /undecided verifications published again/);
    await assertBilledOnce(second, tok, N);
  } finally {
    await second.stop();
    rmSync(first.dir, { recursive: true, force: true });
  }
});

test('RabbitMQ: competing worker processes; one SIGKILLed holding a job, the broker redelivers it', async () => {
  const env = { NOVA_AMQP_URL: amqpUrl };
  const api = await startNova({ ...env, NOVA_IDV_WORKERS: '0' });
  // without a broker a worker has nothing to consume: a configuration error
  const bad = spawnSync(BIN, ['worker'], { env: { ...api.env, NOVA_AMQP_URL: '' }, encoding: 'utf8', timeout: 20000 });
  assert.equal(bad.status, 3, bad.stderr);
  assert.match(bad.stderr, /NOVA_AMQP_URL is required/);
  const w1 = await startWorker(api, { NOVA_IDV_WORKERS: '1' });
  let w2 = null;
  try {
    assert.match(api.logs(), /queue idv-gateway-v2 \(amqp\), 0 workers/);
    const s = await setup(api);
    // Only w1 consumes at first, so it holds the first job when it is killed.
    const ids = await submit(api, s, N);
    const m = await waitLog(w1, /verification (ver_\S+) trace \S+: attempt 1 started/);
    await kill9(w1);
    w2 = await startWorker(api, { NOVA_IDV_WORKERS: '2' });
    const out = await decided(api, s.tok, ids);
    for (const v of Object.values(out)) assert.equal(v.status, 'completed', JSON.stringify(v));
    assert.ok(out[m[1]].attempts >= 2, 'the killed worker\'s job was delivered again');
    assert.match(w2.logs(), new RegExp(`verification ${m[1]} trace \\S+: attempt 2 started`));
    await assertBilledOnce(api, s.tok, N);
    // Sync mode across processes: the request waits on the API novad, a worker decides.
    const r = await call(api, 'POST', '/v1/verifications', { tok: s.tok, body: { workflow_id: s.wf, mode: 'sync', images: { document_front: docs[0] } } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.status, 'completed');
    // ... woken by the worker's answer over the broker (AMQP RPC: reply_to + correlation_id),
    // not by reading the store on a timer
    assert.match(api.logs(), new RegExp(`verification ${r.json.id}: its worker answered the call`));
    // The broker holds nothing: every message was acknowledged, none dead-lettered.
    const q = spawnSync('bash', [join(ROOT, 'scripts/rabbitmq.sh'), 'ctl', rabbitDir, 'list_queues', '-q', 'name', 'messages'], { encoding: 'utf8' });
    const counts = Object.fromEntries(q.stdout.trim().split('\n').map((l) => l.split(/\s+/)).filter((x) => x.length === 2));
    assert.equal(counts['idv-gateway-v2'], '0', q.stdout);
    assert.equal(counts['idv-gateway-v2.dead'], '0', q.stdout);
  } finally {
    if (w2) assert.equal((await w2.stop()).code, 0, 'a worker stops cleanly on SIGTERM');
    await w1.stop();
    await api.stop();
  }
});
