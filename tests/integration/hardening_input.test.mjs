// Integration tests for the input findings of issue 5: out-of-range token times (1), the cost
// of decoding JSON bodies (4), control bytes in form values and Basic credentials (5), the
// access log staying JSON and UTF-8 (7), and unknown clients answered like known ones (8).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startNova, makeTenant, token, call } from './lib.mjs';

let nova, a, stderrBytes;

before(async () => {
  nova = await startNova();
  // The raw bytes of the log: lib.mjs keeps it as a string, decoded with replacement, which
  // would hide the invalid UTF-8 these tests look for.
  stderrBytes = [];
  nova.proc.stderr.on('data', (d) => stderrBytes.push(Buffer.from(d)));
  a = makeTenant(nova, 'tenant-a', 'clients:read clients:write');
});
after(async () => { await nova.stop(); });

function isProblem(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
  assert.equal(r.json.status, status);
  if (code) assert.equal(r.json.code, code);
  assert.ok(r.json.type && r.json.title, 'problem has type and title');
}

// Sends raw bytes, returns the raw answer once the server closes (or 2 s pass).
function rawRequest(port, bytes) {
  return new Promise((ok, fail) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(bytes));
    const got = [];
    sock.on('data', (d) => got.push(d));
    sock.on('error', fail);
    sock.on('close', () => ok(Buffer.concat(got)));
    sock.setTimeout(2000, () => sock.destroy());
  });
}

const b64u = (s) => Buffer.from(s).toString('base64url');

// A token with the header and signature of a real one and claims written as raw JSON, so that
// integers past 2^53 keep their exact value; iss is the real token's (it may be per tenant).
async function forged(claimsFor) {
  const [h, p, s] = (await token(nova, a)).split('.');
  const { iss } = JSON.parse(Buffer.from(p, 'base64url'));
  return `${h}.${b64u(claimsFor(iss))}.${s}`;
}

test('1: token times outside [0, 2^40] are refused before any arithmetic (401, server alive)', async () => {
  const now = Math.floor(Date.now() / 1000);
  const cases = [
    ['-9223372036854775808', '9223372036854775807'],
    ['-9223372036854775808', String(now + 300)],
    [String(now), '9223372036854775807'],
    ['-1', String(now + 300)],
    [String(now), String(2 ** 40 + 1)],
  ];
  for (const [iat, exp] of cases) {
    const claims = (iss) => `{"iss":${JSON.stringify(iss)},"sub":"${a.id}","client_id":"${a.id}",` +
      `"tid":"${a.tenant}","aud":"nova-api","scope":"clients:read","jti":"forged",` +
      `"iat":${iat},"exp":${exp}}`;
    const r = await call(nova, 'GET', '/v1/me', { tok: await forged(claims) });
    isProblem(r, 401, 'invalid_token');
    assert.match(r.headers.get('www-authenticate'), /error_description="bad token lifetime"/);
  }
  // The ASan+UBSan build aborted on the first case; the server still answers.
  assert.equal((await call(nova, 'GET', '/v1/health')).status, 200);
});

const clientsPost = async (raw) => {
  const tok = await token(nova, a);
  return call(nova, 'POST', '/v1/clients', { tok, raw, headers: { 'content-type': 'application/json' } });
};
const emptyObjects = (member, n, prefix = '') => `{${prefix}"${member}":[${Array(n).fill('{}').join(',')}]}`;

test('4: a huge value under an unknown member is refused at the name, before it is decoded', async () => {
  // 1 MiB of empty objects (80x its size to decode) under a member no route takes.
  const r = await clientsPost(emptyObjects('evil', 349000));
  if (r.status === 413) {
    isProblem(r, 413); // refused on size before the body was read (per-route body limit)
  } else {
    isProblem(r, 400, 'invalid_json');
    assert.equal(r.json.detail, 'unknown member "evil"');
  }
});

test('4: a body that would cost more than 16x its size to decode is a 413 problem', async () => {
  // About 1.5 KB, under any body limit, that needs ~100 KB of parser allocations.
  const body = emptyObjects('scopes', 490, '"name":"x",');
  assert.ok(body.length < 1600);
  const r = await clientsPost(body);
  isProblem(r, 413, 'payload_too_large');
  assert.match(r.json.detail, /16 times its size/);
  // The same request with a sane body goes through.
  const ok = await clientsPost(JSON.stringify({ name: 'fine', scopes: ['clients:read'] }));
  assert.equal(ok.status, 201, ok.text);
});

// POST /oauth/token with a raw body (a Buffer may hold a NUL) and optional headers.
const tokenPost = (body, headers = {}) => fetch(nova.base + '/oauth/token', {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  body,
});
const basic = (raw) => ({ authorization: 'Basic ' + Buffer.from(raw).toString('base64') });

async function isInvalidRequest(r) {
  assert.equal(r.status, 400);
  assert.match(r.headers.get('content-type'), /^application\/(problem\+)?json/);
  const j = await r.json();
  assert.equal(j.error, 'invalid_request', JSON.stringify(j));
  assert.equal(j.status, 400);
}

test('5: a NUL or other control byte in a form value is invalid_request, not a truncation', async () => {
  const post = (secret, grant = 'client_credentials') => Buffer.concat([
    Buffer.from(`grant_type=${grant}&client_id=${a.id}&client_secret=`), Buffer.from(secret)]);
  // The real secret works as client_secret_post.
  assert.equal((await tokenPost(post(a.secret))).status, 200);
  for (const tail of ['\0junk', '%00junk', '%01', '\x01', '\x7f', '%0d%0a', '\t']) {
    await isInvalidRequest(await tokenPost(post(a.secret + tail)));
  }
  // Same for grant_type and the other parameters, and for invalid UTF-8.
  for (const grant of ['client_credentials\0x', 'client_credentials%00x', 'client_credentials%1b']) {
    await isInvalidRequest(await tokenPost(post(a.secret, grant)));
  }
  await isInvalidRequest(await tokenPost(Buffer.concat([post(a.secret), Buffer.from('&scope=clients:read%00')])));
  await isInvalidRequest(await tokenPost(Buffer.concat([post(a.secret), Buffer.from('&scope=%C3')])));
  await isInvalidRequest(await tokenPost(Buffer.concat([post(a.secret), Buffer.from('&scope=\xff', 'latin1')])));
});

test('5: a control byte in decoded Basic credentials is invalid_request (RFC 7617 §2)', async () => {
  const body = 'grant_type=client_credentials';
  assert.equal((await tokenPost(body, basic(`${a.id}:${a.secret}`))).status, 200);
  for (const raw of [`${a.id}:${a.secret}\0junk`, `${a.id}\0x:${a.secret}`, `${a.id}:${a.secret}\x01`,
    `${a.id}:${a.secret}%00junk`, `${a.id}:\n${a.secret}`]) {
    await isInvalidRequest(await tokenPost(body, basic(raw)));
  }
  // Malformed otherwise (no colon, not base64) is a malformed request too.
  await isInvalidRequest(await tokenPost(body, basic(`${a.id}${a.secret}`)));
  await isInvalidRequest(await tokenPost(body, { authorization: 'Basic !!!!' }));
});

// Every log line since the start, from the raw bytes: must be UTF-8 and JSON, one per line.
function logLines() {
  const text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(stderrBytes));
  return text.split('\n').filter((l) => l).map((l) => JSON.parse(l));
}

test('7: a method byte >= 0x80 reaches the access log as valid UTF-8 JSON', async () => {
  const before = logLines().length;
  const req = Buffer.concat([Buffer.from('G'), Buffer.from([0xff, 0xc0, 0x80]), Buffer.from('T /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]);
  const answer = await rawRequest(nova.port, req);
  assert.match(answer.toString('latin1'), /^HTTP\/1\.1 [45]\d\d /);
  // The line is written once the request completes; wait for it (bounded by the test timeout).
  let lines;
  for (;;) {
    lines = logLines().slice(before).filter((l) => l.msg === 'http' && l.method !== undefined && l.method !== 'GET' && l.method !== 'POST');
    if (lines.length) break;
    await new Promise((ok) => setTimeout(ok, 20));
  }
  assert.equal(lines[0].method, 'G\ufffd\ufffd\ufffdT');
  // And the whole log parses (logLines throws on invalid UTF-8 or a line that is not JSON).
  assert.ok(logLines().length > before);
});

test('8: an unknown client_id is answered exactly like a known one with a wrong secret', async () => {
  const body = 'grant_type=client_credentials';
  const wrong = a.secret.slice(0, -1) + (a.secret.endsWith('A') ? 'B' : 'A');
  const known = await tokenPost(body, basic(`${a.id}:${wrong}`));
  const unknown = await tokenPost(body, basic(`cli_AAAAAAAAAAAAAAAAAAAAAA:${wrong}`));
  assert.equal(known.status, 401);
  assert.equal(unknown.status, known.status);
  assert.equal(unknown.headers.get('www-authenticate'), known.headers.get('www-authenticate'));
  const [kj, uj] = [await known.json(), await unknown.json()];
  delete kj.instance;
  delete uj.instance;
  assert.deepEqual(uj, kj);
});
