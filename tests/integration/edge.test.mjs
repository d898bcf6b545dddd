// The HTTP edge against hostile and careless clients (issue 5): request smuggling shapes,
// bytes libmicrohttpd would hide, raw-path routing, over-long queries, slow clients,
// connection limits, bodies answered without being read, memory after a burst, and the
// spread of connections over the worker threads. Raw sockets, so every byte is ours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { startNova, makeTenant, token } from './lib.mjs';

// Sends raw bytes, collects everything until the server closes (or `waitMs` passes with the
// connection still open: then `closed` is false). Resolves { text, status, json, closed }.
function raw(port, bytes, { waitMs = 5000, localAddress } = {}) {
  return new Promise((ok) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    const chunks = [];
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      s.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = text.match(/^HTTP\/1\.1 (\d{3})/);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      let json = null;
      try { json = JSON.parse(body); } catch { /* not JSON */ }
      ok({ text, status: m ? Number(m[1]) : 0, json, closed, headers: text.slice(0, text.indexOf('\r\n\r\n')) });
    };
    const t = setTimeout(() => finish(false), waitMs);
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
    s.on('connect', () => s.write(bytes));
  });
}

// An open socket that has said nothing yet; resolves once connected.
function idle(port, localAddress) {
  return new Promise((ok, fail) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    s.on('connect', () => ok(s));
    s.on('error', fail);
    s.resume(); /* read (and drop) what comes, so that 'end' and 'close' are emitted */
  });
}

const closedPromise = (s) => new Promise((ok) => { if (s.destroyed) ok(); else s.on('close', ok); });

async function metric(nova, name) {
  const r = await fetch(nova.base + '/metrics', { headers: nova.metricsAuth || {} });
  const text = await r.text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

function problem(r, status, code) {
  assert.equal(r.status, status, r.text.slice(0, 300));
  assert.match(r.headers, /content-type: application\/problem\+json/i);
  if (code) assert.equal(r.json.code, code);
}

const METRICS_TOKEN = 'edge-test-metrics-token-0123456789';
async function start(env = {}) {
  const nova = await startNova({ NOVA_METRICS_TOKEN: METRICS_TOKEN, ...env });
  nova.metricsAuth = { authorization: 'Bearer ' + METRICS_TOKEN };
  return nova;
}

test('request smuggling shapes are refused with a 400 problem and the connection is closed', async () => {
  const nova = await start();
  try {
    const shapes = {
      'two different Content-Length': 'POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde',
      'two equal Content-Length': 'POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nabcde',
      'Content-Length with chunked': 'POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'space before the colon': 'GET /v1/health HTTP/1.1\r\nHost : x\r\n\r\n',
      'tab before the colon': 'GET /v1/health HTTP/1.1\r\nHost\t: x\r\n\r\n',
      'two Host headers': 'GET /v1/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
      'no Host in HTTP/1.1': 'GET /v1/health HTTP/1.1\r\n\r\n',
      'bare LF between headers': 'GET /v1/health HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n',
      'folded header line': 'GET /v1/health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n',
      'Transfer-Encoding in HTTP/1.0': 'POST /oauth/token HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    };
    for (const [name, bytes] of Object.entries(shapes)) {
      const r = await raw(nova.port, bytes);
      problem(r, 400, 'malformed_request');
      assert.ok(r.closed, `${name}: connection closed`);
    }
    const te = await raw(nova.port, 'POST /oauth/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n');
    problem(te, 501, 'unsupported_transfer_coding');
    assert.ok(te.closed);
    // A well-formed chunked body still works (and reaches the handler: 401 for no client).
    const ok = await raw(nova.port, 'POST /oauth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n1d\r\ngrant_type=client_credentials\r\n0\r\n\r\n');
    assert.equal(ok.status, 401);
  } finally {
    await nova.stop();
  }
});

test('NUL and control bytes in header values are refused, wherever the header sits', async () => {
  const nova = await start();
  try {
    const tenant = makeTenant(nova, 'edge-nul', 'clients:read');
    const basic = Buffer.from(`${tenant.id}:${tenant.secret}`).toString('base64');
    const grant = 'grant_type=client_credentials';
    const form = (auth, tail = '') => `POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${grant.length}\r\n${tail}Authorization: ${auth}\r\n\r\n${grant}`;
    // The valid credential works ...
    const good = await raw(nova.port, form('Basic ' + basic, 'Connection: close\r\n'));
    assert.equal(good.status, 200, good.text);
    // ... but not with bytes hidden behind a NUL, in the last header or in the middle.
    problem(await raw(nova.port, form('Basic ' + basic + '\0junk')), 400, 'malformed_request');
    problem(await raw(nova.port, form('Basic ' + basic + '\0\0junk')), 400, 'malformed_request');
    problem(await raw(nova.port, `GET /v1/health HTTP/1.1\r\nX-A: a\0b\r\nHost: x\r\n\r\n`), 400, 'malformed_request');
    problem(await raw(nova.port, `GET /v1/health HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n`), 400, 'malformed_request');
    problem(await raw(nova.port, `GET /v1/health HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n`), 400, 'malformed_request');
    // Tabs and obs-text are allowed in values (RFC 9110 §5.5).
    const tab = await raw(nova.port, `GET /v1/health HTTP/1.1\r\nHost: x\r\nX-A: a\tb\xe9\r\nConnection: close\r\n\r\n`);
    assert.equal(tab.status, 200);
  } finally {
    await nova.stop();
  }
});

test('routing uses the raw path: encoded slashes and dot segments never reach a route', async () => {
  const nova = await start();
  try {
    const admin = makeTenant(nova, 'edge-admin', 'platform:admin');
    const tok = await token(nova, admin);
    const get = (path) => raw(nova.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok}\r\nConnection: close\r\n\r\n`);
    assert.equal((await get('/v1/tenants')).status, 200);
    problem(await get('/v1%2ftenants'), 404, 'not_found');
    problem(await get('/v1%2Ftenants'), 404, 'not_found');
    problem(await get('/v1/%74enants'), 404, 'not_found');
    problem(await get('/v1/tenants/%2e%2e'), 400);
    problem(await get('/v1/x/../tenants'), 400);
    problem(await get('/v1/tenants/a%2fb'), 400);
    problem(await get('/v1/tenants/%zz'), 400);
    // Parameters are decoded: an encoded id finds the tenant.
    const enc = admin.tenant.replace(/^t/, '%74');
    const r = await get('/v1/tenants/' + enc);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.id, admin.tenant);
  } finally {
    await nova.stop();
  }
});

test('an over-long query is answered 414 at once, not left hanging', { timeout: 15000 }, async () => {
  const nova = await start({ NOVA_CONNECTION_TIMEOUT: '60' });
  try {
    const many = Array.from({ length: 1000 }, (_, i) => `a${i}=${i}`).join('&');
    const r = await raw(nova.port, `GET /v1/health?${many} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, { waitMs: 10000 });
    problem(r, 414, 'uri_too_long');
    const long = await raw(nova.port, `GET /v1/health?q=${'x'.repeat(5000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, { waitMs: 10000 });
    problem(long, 414, 'uri_too_long');
    const fine = await raw(nova.port, `GET /v1/health?${many.split('&').slice(0, 64).join('&')} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(fine.status, 200);
  } finally {
    await nova.stop();
  }
});

test('bodies are not read when the answer is known from the headers', async () => {
  const nova = await start();
  try {
    const t = makeTenant(nova, 'edge-body', 'clients:write');
    const tok = await token(nova, t);
    // Each request announces a body and sends none of it: an answer proves it was not awaited.
    const announce = (line, extra = '') => raw(nova.port, `${line} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n${extra}\r\n`);
    problem(await announce('POST /nope'), 404, 'not_found');
    problem(await announce('PUT /v1/clients'), 405, 'method_not_allowed');
    problem(await announce('POST /v1/clients'), 401);
    problem(await announce('POST /v1/clients', 'Authorization: Bearer not.a.token\r\n'), 401);
    problem(await announce('POST /v1/clients', `Authorization: Bearer ${tok}\r\n`), 413);
    problem(await announce('POST /oauth/token'), 413);
    // A route that takes no body refuses one.
    const get = await raw(nova.port, `GET /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n`);
    problem(get, 413);
    // The limit is the route's own: 4 KiB for client creation, whatever NOVA_MAX_BODY says.
    const body = JSON.stringify({ name: 'x'.repeat(5000), scopes: ['clients:read'] });
    const big = await raw(nova.port, `POST /v1/clients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    problem(big, 413);
    const small = JSON.stringify({ name: 'fine', scopes: ['clients:write'] });
    const ok = await raw(nova.port, `POST /v1/clients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${small.length}\r\n\r\n${small}`);
    assert.equal(ok.status, 201, ok.text);
  } finally {
    await nova.stop();
  }
});

function rssKb(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
  return Number(m[1]);
}

test('unauthenticated bodies do not pin memory, and memory goes back after a burst', { timeout: 60000 }, async () => {
  const nova = await start({ NOVA_MAX_CONNECTIONS_PER_IP: '0' });
  try {
    const before = rssKb(nova.proc.pid);
    // 300 connections each sending a 1 MB body to an unknown route (the original finding:
    // 1,000 of these took RSS from 31 MB to 1.12 GB).
    const chunk = Buffer.alloc(1 << 20, 'x');
    const socks = await Promise.all(Array.from({ length: 300 }, () => new Promise((ok) => {
      const s = net.connect({ host: '127.0.0.1', port: nova.port });
      s.on('error', () => {});
      s.on('connect', () => { s.write(`POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: ${chunk.length}\r\n\r\n`); s.write(chunk, () => ok(s)); });
      s.on('close', () => ok(s));
    })));
    const during = rssKb(nova.proc.pid);
    socks.forEach((s) => s.destroy());
    await new Promise((r) => setTimeout(r, 500));
    const after = rssKb(nova.proc.pid);
    // A 1 MB buffer per connection would be 300 MB; unread bodies cost nothing.
    assert.ok(during - before < 64 * 1024, `RSS grew by ${during - before} kB during the burst`);
    assert.ok(after - before < 64 * 1024, `RSS ${after - before} kB above start after the burst`);
  } finally {
    await nova.stop();
  }
});

test('slow headers and slow bodies are cut at their deadlines while others are served', { timeout: 30000 }, async () => {
  const nova = await start({ NOVA_HEADER_TIMEOUT: '2', NOVA_BODY_TIMEOUT: '1', NOVA_BODY_MIN_RATE: '1000000' });
  try {
    // Slowloris: a request line, then one header line every 200 ms (each resets an idle timer).
    const slow = await idle(nova.port);
    slow.on('error', () => {});
    slow.write('GET /v1/health HTTP/1.1\r\n');
    const drip = setInterval(() => { if (!slow.destroyed) slow.write('X-Drip: 1\r\n'); }, 200);
    // A slow body: announced 4,000 bytes, 10 bytes every 200 ms.
    const body = await idle(nova.port);
    body.on('error', () => {});
    body.write('POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n');
    const drip2 = setInterval(() => { if (!body.destroyed) body.write('a=bbbbbbb&'); }, 200);
    // Meanwhile a normal client is answered.
    const probe = await fetch(nova.base + '/v1/health');
    assert.equal(probe.status, 200);
    await Promise.all([closedPromise(slow), closedPromise(body)]);
    clearInterval(drip);
    clearInterval(drip2);
    // The slow client, and any kept-alive connection idle past the deadline (the probe's).
    assert.ok(await metric(nova, 'nova_http_connections_timed_out_total{phase="headers"}') >= 1);
    assert.equal(await metric(nova, 'nova_http_connections_timed_out_total{phase="body"}'), 1);
    // A kept-alive connection idle past the header deadline is closed too.
    const kept = await idle(nova.port);
    kept.write('GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n');
    await closedPromise(kept);
  } finally {
    await nova.stop();
  }
});

test('connection limits: per address and in total, refusals are 503 problems and counted', { timeout: 30000 }, async () => {
  const nova = await start({ NOVA_MAX_CONNECTIONS_PER_IP: '4', NOVA_MAX_CONNECTIONS: '16' });
  const held = [];
  try {
    // 127.0.0.2 is the attacker: four connections are its share.
    for (let i = 0; i < 4; i++) held.push(await idle(nova.port, '127.0.0.2'));
    const fifth = await raw(nova.port, 'GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n', { localAddress: '127.0.0.2' });
    problem(fifth, 503, 'too_many_connections');
    assert.match(fifth.headers, /retry-after: 1/i);
    // Another address is served.
    const other = await raw(nova.port, 'GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { localAddress: '127.0.0.3' });
    assert.equal(other.status, 200);
    await new Promise((r) => setTimeout(r, 100));
    // Fill the server from other addresses up to 16 in all.
    for (let i = 0; held.length < 16; i++) held.push(await idle(nova.port, `127.0.1.${1 + (i % 200)}`));
    const full = await raw(nova.port, 'GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n', { localAddress: '127.0.2.1' });
    problem(full, 503, 'too_many_connections');
    // Closing one frees a slot.
    held.pop().destroy();
    await new Promise((r) => setTimeout(r, 200));
    const again = await raw(nova.port, 'GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { localAddress: '127.0.2.1' });
    assert.equal(again.status, 200);
    held.forEach((s) => s.destroy());
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await metric(nova, 'nova_http_connections_refused_total{reason="max_connections"}'), 1);
    assert.equal(await metric(nova, 'nova_http_connections_refused_total{reason="per_ip"}'), 1);
  } finally {
    held.forEach((s) => s.destroy());
    await nova.stop();
  }
});

test('connections are spread evenly over the worker threads', async () => {
  const nova = await start({ NOVA_THREADS: '2' });
  try {
    const socks = [];
    for (let i = 0; i < 8; i++) socks.push(await idle(nova.port));
    await Promise.all(socks.map((s) => new Promise((ok) => {
      s.once('data', ok);
      s.write('GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n');
    })));
    socks.forEach((s) => s.destroy());
    await new Promise((r) => setTimeout(r, 100));
    const w0 = await metric(nova, 'nova_http_worker_requests_total{worker="0"}');
    const w1 = await metric(nova, 'nova_http_worker_requests_total{worker="1"}');
    // Eight connections open at once: four each (the metrics call itself may add one).
    assert.ok(w0 >= 4 && w0 <= 5 && w1 >= 4 && w1 <= 5, `worker 0: ${w0}, worker 1: ${w1}`);
  } finally {
    await nova.stop();
  }
});
