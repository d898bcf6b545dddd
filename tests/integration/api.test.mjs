// Integration tests: the real novad over HTTP. Run against SQLite and PostgreSQL by tests/run.sh.
// Tenant names are unique per deployment and the PostgreSQL run shares one database between
// files: names here start with api-.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync, readdirSync } from 'node:fs';
import { startNova, makeTenant, token, call } from './lib.mjs';

let nova, a, b, ops;
const METRICS = 'metrics-token-for-api-tests';

before(async () => {
  nova = await startNova({ NOVA_METRICS_TOKEN: METRICS });
  a = makeTenant(nova, 'api-tenant-a', 'clients:read clients:write');
  b = makeTenant(nova, 'api-tenant-b', 'clients:read clients:write');
  ops = makeTenant(nova, 'api-operator', 'platform:admin clients:read');
});
after(async () => { await nova.stop(); });

// Sends raw bytes, returns everything the server answers until it closes (or 2 s pass).
function rawRequest(port, text) {
  return new Promise((ok, fail) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(text));
    let got = '';
    sock.on('data', (d) => { got += d; });
    sock.on('error', fail);
    sock.on('close', () => ok(got));
    sock.setTimeout(2000, () => sock.destroy());
  });
}

function isProblem(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type'), /^application\/(problem\+)?json/);
  assert.equal(r.json.status, status);
  if (code) assert.equal(r.json.code, code);
  assert.ok(r.json.type && r.json.title, 'problem has type and title');
}

test('health, ready, metadata, jwks, openapi', async () => {
  assert.equal((await call(nova, 'GET', '/v1/health')).json.status, 'ok');
  const ready = await call(nova, 'GET', '/v1/ready', { tok: METRICS });
  assert.equal(ready.status, 200);
  assert.equal(ready.json.store, process.env.NOVA_TEST_DATABASE_URL ? 'postgres' : 'sqlite');
  const md = await call(nova, 'GET', '/.well-known/oauth-authorization-server');
  assert.equal(md.json.issuer, nova.base);
  assert.equal(md.json.token_endpoint, md.json.issuer + '/oauth/token');
  assert.deepEqual(md.json.grant_types_supported, ['client_credentials', 'refresh_token']);
  const tmd = await call(nova, 'GET', `/.well-known/oauth-authorization-server/tenants/${a.tenant}`);
  assert.equal(tmd.json.issuer, `${nova.base}/tenants/${a.tenant}`);
  assert.equal(tmd.json.token_endpoint, nova.base + '/oauth/token');
  for (const t of [a, b, ops]) {
    const jwks = await call(nova, 'GET', `/tenants/${t.tenant}/.well-known/jwks.json`);
    assert.equal(jwks.status, 200);
    assert.equal(jwks.json.keys.length, 1, 'one key per tenant');
    for (const k of jwks.json.keys) {
      assert.ok(k.kid && k.alg === 'EdDSA' && k.kty === 'OKP' && k.crv === 'Ed25519');
      assert.equal(k.d, undefined, 'no private part in the JWKS');
    }
  }
  assert.equal((await call(nova, 'GET', '/.well-known/jwks.json')).status, 404, 'combined JWKS off by default');
  const oa = await call(nova, 'GET', '/openapi.json');
  assert.equal(oa.json.openapi, '3.1.0');
});

test('client_secret_basic and client_secret_post both issue tokens; /v1/me answers', async () => {
  const t1 = await token(nova, a);
  const r = await fetch(nova.base + '/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: a.id, client_secret: a.secret }),
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const j = await r.json();
  assert.equal(j.token_type, 'Bearer');
  assert.ok(j.expires_in >= 300 && j.expires_in <= 600);
  for (const t of [t1, j.access_token]) {
    const me = await call(nova, 'GET', '/v1/me', { tok: t });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.tenant.id, a.tenant);
    assert.equal(me.json.client_id, a.id);
    assert.deepEqual(me.json.scopes, ['clients:read', 'clients:write']);
  }
  const claims = JSON.parse(Buffer.from(t1.split('.')[1], 'base64url'));
  for (const c of ['iss', 'sub', 'tid', 'jti', 'iat', 'exp', 'aud', 'scope']) assert.ok(c in claims, c);
  assert.equal(claims.tid, a.tenant);
  assert.equal(claims.aud, 'nova-api');
  assert.ok(claims.exp - claims.iat >= 300 && claims.exp - claims.iat <= 600);
});

test('token endpoint rejects bad clients and requests per RFC 6749 §5.2', async () => {
  const post = (headers, body) => fetch(nova.base + '/oauth/token', { method: 'POST', headers, body });
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const basic = (id, s) => ({ ...form, authorization: 'Basic ' + Buffer.from(`${id}:${s}`).toString('base64') });
  let r = await post(basic(a.id, a.secret + 'x'), 'grant_type=client_credentials');
  assert.equal(r.status, 401);
  assert.match(r.headers.get('www-authenticate'), /^Basic/);
  assert.equal((await r.json()).error, 'invalid_client');
  r = await post(basic('cli_unknown', a.secret), 'grant_type=client_credentials');
  assert.equal(r.status, 401);
  assert.equal((await r.json()).error, 'invalid_client');
  r = await post(basic(a.id, a.secret), 'grant_type=password');
  assert.equal((await r.json()).error, 'unsupported_grant_type');
  r = await post(basic(a.id, a.secret), 'grant_type=client_credentials&scope=platform:admin');
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error, 'invalid_scope');
  r = await post(basic(a.id, a.secret), 'grant_type=client_credentials&audience=elsewhere');
  assert.equal((await r.json()).error, 'invalid_target');
  r = await post(basic(a.id, a.secret), 'grant_type=client_credentials&grant_type=client_credentials');
  assert.equal((await r.json()).error, 'invalid_request');
  r = await post({ 'content-type': 'application/json' }, '{"grant_type":"client_credentials"}');
  assert.equal(r.status, 415);
  r = await post(basic(a.id, a.secret), 'grant_type=client_credentials&scope=clients:read');
  assert.equal((await r.json()).scope, 'clients:read');
});

test('bearer tokens: missing, malformed, alg none, tampered, wrong audience', async () => {
  let r = await call(nova, 'GET', '/v1/me');
  isProblem(r, 401);
  assert.match(r.headers.get('www-authenticate'), /^Bearer/);
  r = await call(nova, 'GET', '/v1/me', { tok: 'not.a.token' });
  isProblem(r, 401, 'invalid_token');
  assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
  const good = await token(nova, a);
  const [h, p] = good.split('.');
  const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url') + '.' + p + '.';
  isProblem(await call(nova, 'GET', '/v1/me', { tok: none }), 401, 'invalid_token');
  const hs = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid: JSON.parse(Buffer.from(h, 'base64url')).kid })).toString('base64url');
  isProblem(await call(nova, 'GET', '/v1/me', { tok: hs + '.' + p + '.' + good.split('.')[2] }), 401, 'invalid_token');
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  const forged = Buffer.from(JSON.stringify({ ...claims, scope: 'platform:admin' })).toString('base64url');
  isProblem(await call(nova, 'GET', '/v1/me', { tok: `${h}.${forged}.${good.split('.')[2]}` }), 401, 'invalid_token');
  // a token signed by tenant B's key but claiming tenant A
  const tb = await token(nova, b);
  const [hb, pb, sb] = tb.split('.');
  const cb = JSON.parse(Buffer.from(pb, 'base64url'));
  const swapped = Buffer.from(JSON.stringify({ ...cb, tid: a.tenant })).toString('base64url');
  isProblem(await call(nova, 'GET', '/v1/me', { tok: `${hb}.${swapped}.${sb}` }), 401, 'invalid_token');
  // wrong audience: a client allowed to ask for another audience gets a token for it
  const multi = makeTenant(nova, 'api-tenant-aud', 'clients:read', 'nova-api other-api');
  const other = await token(nova, multi, { audience: 'other-api' });
  r = await call(nova, 'GET', '/v1/me', { tok: other });
  isProblem(r, 401, 'invalid_token');
  assert.match(r.json.detail, /audience/);
  assert.equal((await call(nova, 'GET', '/v1/me', { tok: await token(nova, multi) })).status, 200);
});

test('an expired token (issued by a real novad whose clock is 2 hours behind) is refused', async () => {
  // A second instance on the same store and master key, under libfaketime, with the first
  // instance's issuer: its tokens are genuine except that they expired long ago.
  // libfaketime is preloaded directly (not through the faketime wrapper, which would leave
  // novad orphaned on SIGTERM).
  const arch = readdirSync('/usr/lib').find((d) => existsSync(`/usr/lib/${d}/faketime/libfaketime.so.1`));
  assert.ok(arch, 'libfaketime is installed (scripts/deps.sh test)');
  const past = await startNova({
    NOVA_ISSUER: nova.base,
    LD_PRELOAD: `/usr/lib/${arch}/faketime/libfaketime.so.1`,
    FAKETIME: '-2h',
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
    ASAN_OPTIONS: 'verify_asan_link_order=0:' + (process.env.ASAN_OPTIONS || ''),
  }, { shareWith: nova });
  try {
    const old = await token(past, a);
    const c = JSON.parse(Buffer.from(old.split('.')[1], 'base64url'));
    assert.ok(c.exp < Date.now() / 1000 - 3600, 'minted two hours ago');
    const r = await call(nova, 'GET', '/v1/me', { tok: old });
    isProblem(r, 401, 'invalid_token');
    assert.equal(r.json.detail, 'token expired');
    assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
  } finally {
    await past.stop();
  }
});

test('scopes are enforced per route and cannot be escalated', async () => {
  const ro = makeTenant(nova, 'api-tenant-ro', 'clients:read');
  const t = await token(nova, ro);
  assert.equal((await call(nova, 'GET', '/v1/clients', { tok: t })).status, 200);
  const r = await call(nova, 'POST', '/v1/clients', { tok: t, body: { name: 'x', scopes: ['clients:read'] } });
  isProblem(r, 403, 'insufficient_scope');
  assert.match(r.headers.get('www-authenticate'), /insufficient_scope/);
  const ta = await token(nova, a);
  isProblem(await call(nova, 'POST', '/v1/clients', { tok: ta, body: { name: 'x', scopes: ['platform:admin'] } }), 403, 'scope_escalation');
  isProblem(await call(nova, 'GET', '/v1/tenants', { tok: ta }), 403, 'insufficient_scope');
});

test('clients: create, list, revoke; revoked client tokens stop working', async () => {
  const ta = await token(nova, a);
  const c = await call(nova, 'POST', '/v1/clients', { tok: ta, body: { name: 'worker', scopes: ['clients:read'] } });
  assert.equal(c.status, 201, c.text);
  assert.ok(c.json.client_secret.length >= 43, '256-bit secret');
  assert.equal(c.headers.get('location'), '/v1/clients/' + c.json.client_id);
  const wc = { id: c.json.client_id, secret: c.json.client_secret };
  const wt = await token(nova, wc);
  assert.equal((await call(nova, 'GET', '/v1/me', { tok: wt })).status, 200);
  const list = await call(nova, 'GET', '/v1/clients', { tok: ta });
  assert.ok(list.json.clients.some((x) => x.client_id === wc.id));
  const one = await call(nova, 'GET', c.headers.get('location'), { tok: ta });
  assert.equal(one.status, 200);
  assert.equal(one.json.client_id, wc.id);
  assert.ok(!('client_secret' in one.json));
  assert.ok(list.json.clients.every((x) => x.tenant_id === a.tenant && !('client_secret' in x) && !('secret_digest' in x)));
  assert.equal((await call(nova, 'DELETE', '/v1/clients/' + wc.id, { tok: ta })).status, 204);
  isProblem(await call(nova, 'GET', '/v1/me', { tok: wt }), 401, 'invalid_token');
  isProblem(await call(nova, 'DELETE', '/v1/clients/' + wc.id, { tok: ta }), 404, 'not_found');
  const r = await fetch(nova.base + '/oauth/token', {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: wc.id, client_secret: wc.secret }),
  });
  assert.equal(r.status, 401);
});

test("tenant isolation: A's token never reads or changes B's data", async () => {
  const ta = await token(nova, a);
  const tb = await token(nova, b);
  const listA = await call(nova, 'GET', '/v1/clients', { tok: ta });
  assert.ok(!listA.json.clients.some((x) => x.client_id === b.id));
  isProblem(await call(nova, 'DELETE', '/v1/clients/' + b.id, { tok: ta }), 404, 'not_found');
  isProblem(await call(nova, 'GET', '/v1/clients/' + b.id, { tok: ta }), 404, 'not_found');
  assert.equal((await call(nova, 'GET', '/v1/me', { tok: tb })).status, 200, "B's client still works");
  const listB = await call(nova, 'GET', '/v1/clients', { tok: tb });
  assert.ok(listB.json.clients.some((x) => x.client_id === b.id && !x.revoked_at));
  // A cannot introspect or revoke B's token
  const intro = await fetch(nova.base + '/oauth/introspect', {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: tb, client_id: a.id, client_secret: a.secret }),
  });
  assert.deepEqual(await intro.json(), { active: false });
  await fetch(nova.base + '/oauth/revoke', {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: tb, client_id: a.id, client_secret: a.secret }),
  });
  assert.equal((await call(nova, 'GET', '/v1/me', { tok: tb })).status, 200);
});

test('introspection and revocation (RFC 7662, RFC 7009)', async () => {
  const t = await token(nova, a);
  const form = (path, params) => fetch(nova.base + path, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: a.id, client_secret: a.secret, ...params }),
  });
  let j = await (await form('/oauth/introspect', { token: t })).json();
  assert.equal(j.active, true);
  assert.equal(j.tid, a.tenant);
  assert.equal(j.client_id, a.id);
  j = await (await form('/oauth/introspect', { token: 'garbage' })).json();
  assert.deepEqual(j, { active: false });
  let r = await form('/oauth/revoke', { token: t });
  assert.equal(r.status, 200);
  r = await form('/oauth/revoke', { token: 'garbage' });
  assert.equal(r.status, 200, 'invalid tokens are answered 200 too');
  isProblem(await call(nova, 'GET', '/v1/me', { tok: t }), 401, 'invalid_token');
  j = await (await form('/oauth/introspect', { token: t })).json();
  assert.equal(j.active, false);
  r = await form('/oauth/introspect', {});
  assert.equal((await r.json()).error, 'invalid_request');
});

test('platform operator creates tenants with a first client', async () => {
  const t = await token(nova, ops);
  const r = await call(nova, 'POST', '/v1/tenants', { tok: t, body: { name: 'api-acme', client: { name: 'acme admin', scopes: ['clients:read', 'clients:write'] } } });
  assert.equal(r.status, 201, r.text);
  const acme = { id: r.json.client.client_id, secret: r.json.client.client_secret };
  const me = await call(nova, 'GET', '/v1/me', { tok: await token(nova, acme) });
  assert.equal(me.json.tenant.id, r.json.id);
  assert.equal(me.json.tenant.name, 'api-acme');
  const list = await call(nova, 'GET', '/v1/tenants', { tok: t });
  assert.ok(list.json.tenants.some((x) => x.id === r.json.id));
  const got = await call(nova, 'GET', r.headers.get('location'), { tok: t });
  assert.deepEqual(got.json, { id: r.json.id, name: 'api-acme', created_at: r.json.created_at });
  isProblem(await call(nova, 'GET', '/v1/tenants/ten_nope', { tok: t }), 404, 'not_found');
  isProblem(await call(nova, 'POST', '/v1/tenants', { tok: t, body: { name: 'x', client: { name: 'y', scopes: ['platform:admin'] } } }), 403, 'scope_escalation');
  isProblem(await call(nova, 'POST', '/v1/tenants', { tok: t, body: { name: '' } }), 400);
});

test('bad input: malformed JSON, duplicate keys, unknown members, 413, 415, 404, 405', async () => {
  const t = await token(nova, a);
  const post = (raw, ct = 'application/json') => call(nova, 'POST', '/v1/clients', { tok: t, raw, headers: { 'content-type': ct } });
  isProblem(await post('{"name": "x", '), 400, 'invalid_json');
  isProblem(await post('{"name":"x","name":"y","scopes":["clients:read"]}'), 400, 'invalid_json');
  isProblem(await post('{"name":"x","scopes":["clients:read"],"admin":true}'), 400, 'invalid_json');
  isProblem(await post('[1,2]'), 400, 'invalid_json');
  isProblem(await post('{"name":"x","scopes":"clients:read"}'), 400);
  isProblem(await post('{"name":"x","scopes":["no-such-scope"]}'), 400, 'invalid_scope');
  isProblem(await post('{"name":"' + 'x'.repeat(200) + '","scopes":["clients:read"]}'), 400);
  isProblem(await post('{"name":"x","scopes":["clients:read"]}', 'text/plain'), 415, 'unsupported_media_type');
  // Over the 1 MiB limit: answered from the headers alone, the body is never read.
  const big = await rawRequest(nova.port, 'POST /v1/clients HTTP/1.1\r\nHost: x\r\n' +
    `Authorization: Bearer ${t}\r\nContent-Type: application/json\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n{"a":"`);
  assert.match(big, /^HTTP\/1\.1 413/);
  assert.match(big, /application\/problem\+json/);
  assert.match(big, /"code":"payload_too_large"/);
  isProblem(await post('['.repeat(100) + ']'.repeat(100)), 400, 'invalid_json');
  isProblem(await call(nova, 'GET', '/v1/nope'), 404, 'not_found');
  const r = await call(nova, 'PUT', '/v1/clients', { tok: t });
  isProblem(r, 405, 'method_not_allowed');
  assert.match(r.headers.get('allow'), /GET/);
});

test('request id and traceparent are echoed; logs carry no secrets', async () => {
  const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  let r = await call(nova, 'GET', '/v1/health', { headers: { 'x-req-id': 'abc-123', traceparent: tp } });
  assert.equal(r.headers.get('x-req-id'), 'abc-123');
  assert.equal(r.headers.get('traceparent'), tp);
  r = await call(nova, 'GET', '/v1/health', { headers: { 'x-req-id': 'bad id with spaces' } });
  assert.notEqual(r.headers.get('x-req-id'), 'bad id with spaces');
  assert.ok(r.headers.get('x-req-id'));
  const t = await token(nova, a);
  await call(nova, 'GET', '/v1/me', { tok: t });
  await new Promise((ok) => setTimeout(ok, 100));
  const logs = nova.logs();
  assert.ok(!logs.includes(a.secret), 'client secret never logged');
  assert.ok(!logs.includes(t.split('.')[2]), 'token never logged');
  assert.match(logs, /"route":"\/v1\/me"/);
  const m = await call(nova, 'GET', '/metrics', { tok: METRICS });
  assert.match(m.text, /nova_http_requests_total\{[^}]*route="\/v1\/me"/);
  assert.match(m.text, /nova_http_request_duration_seconds_bucket/);
  assert.match(m.text, /nova_http_requests_in_flight/);
});

test('novactl: json output and exit codes', async () => {
  const l = nova.ctl('tenant', 'list');
  assert.equal(l.code, 0);
  assert.ok(l.json.some((x) => x.id === a.tenant));
  assert.equal(nova.ctl('client', 'revoke', '--tenant', a.tenant, 'cli_nope').code, 7);
  assert.equal(nova.ctl('client', 'list', '--tenant', 'ten_nope').code, 7);
  assert.equal(nova.ctl('bogus').code, 2);
  assert.equal(nova.ctl('client', 'create', '--tenant', a.tenant, '--name', 'x', '--scopes', 'root').code, 6);
  const cl = nova.ctl('client', 'list', '--tenant', b.tenant);
  assert.ok(cl.json.every((x) => !('client_secret' in x)));
});
