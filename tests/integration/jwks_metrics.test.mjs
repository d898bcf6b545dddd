// Operational routes and per-tenant issuers: /metrics and the detail of /v1/ready need the
// NOVA_METRICS_TOKEN (none set: nobody reads them), every tenant is its own issuer with its own
// JWKS and RFC 8414 metadata, and the combined JWKS (which reveals the tenant count) is off
// unless NOVA_JWKS_COMBINED is set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify as cryptoVerify, randomBytes } from 'node:crypto';
import { startNova, makeTenant, token, call, BIN } from './lib.mjs';

const METRICS = 'mt-' + randomBytes(16).toString('base64url');
const tag = randomBytes(4).toString('hex');
let nova, a, b;

before(async () => {
  nova = await startNova({ NOVA_METRICS_TOKEN: METRICS });
  a = makeTenant(nova, `jm-a-${tag}`, 'clients:read');
  b = makeTenant(nova, `jm-b-${tag}`, 'clients:read');
});
after(async () => { await nova.stop(); });

const claims = (tok) => JSON.parse(Buffer.from(tok.split('.')[1], 'base64url'));
const header = (tok) => JSON.parse(Buffer.from(tok.split('.')[0], 'base64url'));
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

function isProblem(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.headers.get('content-type'), 'application/problem+json');
  assert.equal(r.json.status, status);
  assert.equal(r.json.code, code);
}

test('metrics need the metrics token; the comparison is on the whole token', async () => {
  const none = await call(nova, 'GET', '/metrics');
  isProblem(none, 401, 'unauthorized');
  assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="nova"');
  assert.doesNotMatch(none.text, /nova_http/);
  for (const authorization of [`Bearer ${METRICS}x`, `Bearer ${METRICS.slice(0, -1)}`, 'Bearer ' + 'x'.repeat(METRICS.length),
    `Basic ${Buffer.from('a:' + METRICS).toString('base64')}`, METRICS, 'Bearer ']) {
    const r = await call(nova, 'GET', '/metrics', { headers: { authorization } });
    assert.equal(r.status, 401, authorization);
    assert.doesNotMatch(r.text, /nova_http/);
  }
  // An access token of a tenant is not the operator's token either.
  isProblem(await call(nova, 'GET', '/metrics', { tok: await token(nova, a) }), 401, 'invalid_token');
  const ok = await call(nova, 'GET', '/metrics', { tok: METRICS });
  assert.equal(ok.status, 200, ok.text);
  assert.match(ok.text, /^nova_http_requests_total\{[^}]*route="\/metrics",method="GET",status="401"\} \d+/m);
  // The one background scheduler lists its jobs (the security core's two run once a minute).
  for (const job of ['token-prune', 'signing-keys', 'face-index-rebuild', 'store-checkpoint'])
    assert.match(ok.text, new RegExp(`^nova_background_runs_total\\{job="${job}"\\} \\d+$`, 'm'));
  assert.match(ok.text, /^nova_background_failures_total\{job="token-prune"\} 0$/m);
  assert.match(ok.text, /^nova_background_failures_total\{job="store-checkpoint"\} 0$/m);
});

test('/v1/ready answers everyone, its detail only the metrics token', async () => {
  const r = await call(nova, 'GET', '/v1/ready');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { status: 'ready' });
  const d = await call(nova, 'GET', '/v1/ready', { tok: METRICS });
  assert.equal(d.status, 200);
  assert.equal(d.json.status, 'ready');
  assert.equal(d.json.store, process.env.NOVA_TEST_DATABASE_URL ? 'postgres' : 'sqlite');
  assert.ok(Number.isInteger(d.json.schema_version));
  assert.deepEqual((await call(nova, 'GET', '/v1/ready', { tok: 'wrong-token-wrong-token' })).json, { status: 'ready' });
});

test('without NOVA_METRICS_TOKEN nobody reads /metrics, not even from loopback', async () => {
  const plain = await startNova();
  try {
    isProblem(await call(plain, 'GET', '/metrics'), 401, 'unauthorized');
    isProblem(await call(plain, 'GET', '/metrics', { tok: METRICS }), 401, 'invalid_token');
    assert.deepEqual((await call(plain, 'GET', '/v1/ready', { tok: METRICS })).json, { status: 'ready' });
  } finally {
    await plain.stop();
  }
});

test('a metrics token too short to be secret is a configuration error (exit 3)', () => {
  const r = spawnSync(BIN, ['serve'], {
    env: { ...nova.env, NOVA_METRICS_TOKEN: 'short', NOVA_PORT: '0' }, encoding: 'utf8', timeout: 20000,
  });
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /NOVA_METRICS_TOKEN/);
});

test("each tenant's tokens carry its own issuer and verify against its own JWKS only", async () => {
  const tok = await token(nova, a);
  const c = claims(tok);
  assert.equal(c.iss, `${nova.base}/tenants/${a.tenant}`);
  assert.equal(c.tid, a.tenant);
  const ja = await call(nova, 'GET', `/tenants/${a.tenant}/.well-known/jwks.json`);
  assert.equal(ja.status, 200);
  assert.equal(ja.headers.get('content-type'), 'application/jwk-set+json');
  assert.match(ja.headers.get('cache-control'), /max-age/);
  const jb = await call(nova, 'GET', `/tenants/${b.tenant}/.well-known/jwks.json`);
  assert.equal(ja.json.keys.length, 1);
  assert.equal(jb.json.keys.length, 1);
  const kid = header(tok).kid;
  const jwk = ja.json.keys.find((k) => k.kid === kid);
  assert.ok(jwk, "the token's key is in its tenant's JWKS");
  assert.ok(!jb.json.keys.some((k) => k.kid === kid), "and not in another tenant's");
  assert.equal(jwk.d, undefined);
  const [h, p, s] = tok.split('.');
  assert.ok(cryptoVerify(null, Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url')));
  // Introspection reports the same issuer.
  const intro = await fetch(nova.base + '/oauth/introspect', {
    method: 'POST',
    headers: { authorization: 'Basic ' + Buffer.from(`${a.id}:${a.secret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: tok }),
  }).then((r) => r.json());
  assert.equal(intro.active, true);
  assert.equal(intro.iss, c.iss);
});

test('a token naming another issuer than its tenant is refused before its signature', async () => {
  const tok = await token(nova, a);
  const [h, , s] = tok.split('.');
  const c = claims(tok);
  for (const iss of [nova.base, `${nova.base}/tenants/${b.tenant}`, `${nova.base}/tenants/${a.tenant}/`, 'https://evil.example/tenants/' + a.tenant]) {
    const forged = `${h}.${b64({ ...c, iss })}.${s}`;
    const r = await call(nova, 'GET', '/v1/me', { tok: forged });
    isProblem(r, 401, 'invalid_token');
    assert.equal(r.json.detail, 'wrong issuer', iss);
  }
  // Moving the token to tenant b (with b's issuer) keeps a's key: the key does not vouch for b.
  const moved = `${h}.${b64({ ...c, tid: b.tenant, iss: `${nova.base}/tenants/${b.tenant}` })}.${s}`;
  const r = await call(nova, 'GET', '/v1/me', { tok: moved });
  isProblem(r, 401, 'invalid_token');
  assert.equal((await call(nova, 'GET', '/v1/me', { tok })).status, 200);
});

test('per-tenant RFC 8414 metadata at both well-known places', async () => {
  const iss = `${nova.base}/tenants/${a.tenant}`;
  for (const path of [`/.well-known/oauth-authorization-server/tenants/${a.tenant}`, `/tenants/${a.tenant}/.well-known/oauth-authorization-server`]) {
    const r = await call(nova, 'GET', path);
    assert.equal(r.status, 200, path);
    assert.equal(r.json.issuer, iss);
    assert.equal(r.json.jwks_uri, `${iss}/.well-known/jwks.json`);
    assert.equal(r.json.token_endpoint, `${nova.base}/oauth/token`);
    const jwks = await fetch(r.json.jwks_uri).then((x) => x.json());
    assert.equal(jwks.keys.length, 1);
  }
  // The deployment's own document names no JWKS while the combined one is off.
  const md = await call(nova, 'GET', '/.well-known/oauth-authorization-server');
  assert.equal(md.json.issuer, nova.base);
  assert.equal(md.json.jwks_uri, undefined);
});

test('an unknown tenant is a plain 404 problem on every per-tenant route', async () => {
  const ids = ['ten_AAAAAAAAAAAAAAAAAAAAAA', '*', '%2A', 'x'.repeat(200), "ten_a'--"];
  const shapes = new Set();
  for (const id of ids) {
    for (const path of [`/tenants/${id}/.well-known/jwks.json`, `/tenants/${id}/.well-known/oauth-authorization-server`,
      `/.well-known/oauth-authorization-server/tenants/${id}`]) {
      const r = await call(nova, 'GET', path);
      isProblem(r, 404, 'not_found');
      const { instance, ...rest } = r.json;
      assert.ok(instance);
      shapes.add(JSON.stringify(rest));
      assert.doesNotMatch(r.text, /keys|issuer|tenants\//);
    }
  }
  assert.equal(shapes.size, 1, `one answer for every unknown tenant: ${[...shapes]}`);
});

test('the combined JWKS is off by default and lists every tenant with NOVA_JWKS_COMBINED', async () => {
  const off = await call(nova, 'GET', '/.well-known/jwks.json');
  isProblem(off, 404, 'not_found');
  assert.doesNotMatch(off.text, /"keys"/);
  const on = await startNova({ NOVA_JWKS_COMBINED: 'true' });
  try {
    const x = makeTenant(on, `jm-x-${tag}`, 'clients:read');
    const y = makeTenant(on, `jm-y-${tag}`, 'clients:read');
    const all = await call(on, 'GET', '/.well-known/jwks.json');
    assert.equal(all.status, 200);
    for (const t of [x, y]) {
      const own = await call(on, 'GET', `/tenants/${t.tenant}/.well-known/jwks.json`);
      assert.ok(all.json.keys.some((k) => k.kid === own.json.keys[0].kid));
    }
    const md = await call(on, 'GET', '/.well-known/oauth-authorization-server');
    assert.equal(md.json.jwks_uri, `${on.base}/.well-known/jwks.json`);
    // Tokens still carry their tenant's issuer.
    assert.equal(claims(await token(on, x)).iss, `${on.base}/tenants/${x.tenant}`);
  } finally {
    await on.stop();
  }
});
