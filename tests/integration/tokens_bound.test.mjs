// Sender-constrained and session tokens (issue 6 items 3 and 4): DPoP-bound access tokens
// (RFC 9449) at the token endpoint and on resource calls, and SDK sessions with rotating
// refresh tokens whose reuse revokes the family. Proofs are built here with node:crypto, so
// every claim and header is under the test's control.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { startNova, makeTenant, token, call } from './lib.mjs';

const b64u = (b) => Buffer.from(b).toString('base64url');
const sha256 = (s) => createHash('sha256').update(s).digest();

function dpopKey(kind = 'ec') {
  const { privateKey, publicKey } = kind === 'ec'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' });
  const canon = kind === 'ec'
    ? JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })
    : JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return { privateKey, jwk, alg: kind === 'ec' ? 'ES256' : 'EdDSA', jkt: b64u(sha256(canon)) };
}

// A DPoP proof; over lets a test break one thing at a time.
function proof(key, htm, htu, { ath, nonce, iat, jti, header = {}, claims = {}, signWith } = {}) {
  const h = { typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk, ...header };
  const p = { jti: jti || randomUUID(), htm, htu, iat: iat ?? Math.floor(Date.now() / 1000), ...claims };
  if (ath) p.ath = b64u(sha256(ath));
  if (nonce) p.nonce = nonce;
  const input = b64u(JSON.stringify(h)) + '.' + b64u(JSON.stringify(p));
  const k = signWith || key;
  const sig = k.alg === 'ES256'
    ? sign('sha256', Buffer.from(input), { key: k.privateKey, dsaEncoding: 'ieee-p1363' })
    : sign(null, Buffer.from(input), k.privateKey);
  return input + '.' + b64u(sig);
}

const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

async function tokenRequest(nova, client, key, { nonce, extra = {} } = {}) {
  const url = nova.base + '/oauth/token';
  return fetch(url, {
    method: 'POST',
    headers: {
      authorization: 'Basic ' + Buffer.from(`${client.id}:${client.secret}`).toString('base64'),
      'content-type': 'application/x-www-form-urlencoded',
      dpop: proof(key, 'POST', url, { nonce }),
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...extra }),
  });
}

// The token endpoint asks for a nonce first (DPoP-Nonce), as RFC 9449 §8 lets it.
async function dpopToken(nova, client, key) {
  const first = await tokenRequest(nova, client, key);
  assert.equal(first.status, 400);
  assert.equal((await first.json()).error, 'use_dpop_nonce');
  const nonce = first.headers.get('dpop-nonce');
  assert.ok(nonce, 'DPoP-Nonce header');
  const r = await tokenRequest(nova, client, key, { nonce });
  const j = await r.json();
  assert.equal(r.status, 200, JSON.stringify(j));
  assert.ok(r.headers.get('dpop-nonce'));
  return j;
}

const meWith = (nova, scheme, tok, dpop) => call(nova, 'GET', '/v1/me', {
  headers: { authorization: `${scheme} ${tok}`, ...(dpop ? { dpop } : {}) },
});

test('DPoP: a bound token needs a fresh proof of its key for this request and token', async () => {
  const nova = await startNova();
  try {
    const c = makeTenant(nova, 'dpop-' + randomUUID().slice(0, 8), 'clients:read');
    const key = dpopKey('ec');
    const t = await dpopToken(nova, c, key);
    assert.equal(t.token_type, 'DPoP');
    assert.equal(claimsOf(t.access_token).cnf.jkt, key.jkt);
    const url = nova.base + '/v1/me';
    const good = () => proof(key, 'GET', url, { ath: t.access_token });

    assert.equal((await meWith(nova, 'DPoP', t.access_token, good())).status, 200);
    // As a bearer token it is refused.
    const bearer = await meWith(nova, 'Bearer', t.access_token);
    assert.equal(bearer.status, 401);
    assert.match(bearer.json.detail, /DPoP-bound/);
    // No proof, a replayed proof, another URL, another method, no ath, another token's ath.
    const p = good();
    assert.equal((await meWith(nova, 'DPoP', t.access_token, p)).status, 200);
    const cases = {
      'no proof': undefined,
      replayed: p,
      'other URL': proof(key, 'GET', nova.base + '/v1/clients', { ath: t.access_token }),
      'other method': proof(key, 'POST', url, { ath: t.access_token }),
      'no ath': proof(key, 'GET', url),
      'other ath': proof(key, 'GET', url, { ath: t.access_token + 'x' }),
      'old iat': proof(key, 'GET', url, { ath: t.access_token, iat: Math.floor(Date.now() / 1000) - 600 }),
      'future iat': proof(key, 'GET', url, { ath: t.access_token, iat: Math.floor(Date.now() / 1000) + 600 }),
      'wrong typ': proof(key, 'GET', url, { ath: t.access_token, header: { typ: 'JWT' } }),
      'private jwk': proof(key, 'GET', url, { ath: t.access_token, header: { jwk: { ...key.jwk, d: 'AAAA' } } }),
      'signed by another key': proof(key, 'GET', url, { ath: t.access_token, signWith: dpopKey('ec') }),
    };
    for (const [name, pr] of Object.entries(cases)) {
      const r = await meWith(nova, 'DPoP', t.access_token, pr);
      assert.equal(r.status, 401, name);
      assert.match(r.headers.get('www-authenticate') || '', /^DPoP /, name);
    }
    // A proof of another key, properly self-signed, is a proof of the wrong key.
    const other = dpopKey('ed25519');
    const wrong = await meWith(nova, 'DPoP', t.access_token, proof(other, 'GET', url, { ath: t.access_token }));
    assert.equal(wrong.status, 401);
    assert.match(wrong.json.detail, /not the token's key/);
    // An unbound token with the DPoP scheme is refused too.
    const plain = await token(nova, c);
    assert.equal((await meWith(nova, 'DPoP', plain, proof(key, 'GET', url, { ath: plain }))).status, 401);
    assert.equal((await meWith(nova, 'Bearer', plain)).status, 200);
    // Introspection tells a resource server what the token is bound to.
    const intro = await fetch(nova.base + '/oauth/introspect', {
      method: 'POST',
      headers: { authorization: 'Basic ' + Buffer.from(`${c.id}:${c.secret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: t.access_token }),
    });
    const ij = await intro.json();
    assert.equal(ij.active, true);
    assert.equal(ij.token_type, 'DPoP');
    assert.equal(ij.cnf.jkt, key.jkt);
  } finally {
    await nova.stop();
  }
});

test('DPoP at the token endpoint: bad proofs are OAuth errors and nothing is issued', async () => {
  const nova = await startNova();
  try {
    const c = makeTenant(nova, 'dpop-te-' + randomUUID().slice(0, 8), 'clients:read');
    const key = dpopKey('ed25519');
    const first = await tokenRequest(nova, c, key);
    const nonce = first.headers.get('dpop-nonce');
    const url = nova.base + '/oauth/token';
    const send = (dpop) => fetch(url, {
      method: 'POST',
      headers: {
        authorization: 'Basic ' + Buffer.from(`${c.id}:${c.secret}`).toString('base64'),
        'content-type': 'application/x-www-form-urlencoded', dpop,
      },
      body: 'grant_type=client_credentials',
    });
    const bad = {
      'forged nonce': proof(key, 'POST', url, { nonce: 'A'.repeat(32) }),
      'other URL': proof(key, 'POST', nova.base + '/oauth/revoke', { nonce }),
      'not a JWS': 'abc.def',
    };
    for (const [name, p] of Object.entries(bad)) {
      const r = await send(p);
      assert.equal(r.status, 400, name);
      assert.match((await r.json()).error, /invalid_dpop_proof|use_dpop_nonce/, name);
    }
    const ok = await send(proof(key, 'POST', url, { nonce }));
    assert.equal(ok.status, 200);
    assert.equal(claimsOf((await ok.json()).access_token).cnf.jkt, key.jkt);
  } finally {
    await nova.stop();
  }
});

async function newSession(nova, backend, body) {
  const tok = await token(nova, backend);
  return call(nova, 'POST', '/v1/sdk/sessions', { tok, body });
}

const refresh = (nova, rt, headers = {}) => fetch(nova.base + '/oauth/token', {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt }),
}).then(async (r) => ({ status: r.status, json: await r.json() }));

test('SDK sessions: scoped tokens for one subject; refresh rotates; reuse revokes the family', async () => {
  const nova = await startNova();
  try {
    const backend = makeTenant(nova, 'sdk-' + randomUUID().slice(0, 8), 'sdk:sessions clients:read');
    const s = await newSession(nova, backend, { subject: 'applicant-42', ttl: 600 });
    assert.equal(s.status, 201, s.text);
    assert.match(s.json.id, /^ses_/);
    assert.equal(s.json.scope, 'verifications:write');
    assert.match(s.json.refresh_token, /^nrt\./);
    const c0 = claimsOf(s.json.access_token);
    assert.equal(c0.sub, 'applicant-42');
    assert.equal(c0.sid, s.json.id);
    assert.equal(c0.client_id, backend.id);
    assert.equal((await call(nova, 'GET', '/v1/me', { tok: s.json.access_token })).status, 200);
    // The session's token cannot do what the backend can.
    assert.equal((await call(nova, 'GET', '/v1/clients', { tok: s.json.access_token })).status, 403);

    // Rotation: each refresh token works once.
    const r1 = await refresh(nova, s.json.refresh_token);
    assert.equal(r1.status, 200, JSON.stringify(r1.json));
    assert.notEqual(r1.json.refresh_token, s.json.refresh_token);
    assert.equal(claimsOf(r1.json.access_token).sid, s.json.id);
    const r2 = await refresh(nova, r1.json.refresh_token);
    assert.equal(r2.status, 200);
    // The first token again: a theft signal. The whole family dies, the newest token too.
    const reuse = await refresh(nova, s.json.refresh_token);
    assert.equal(reuse.status, 400);
    assert.equal(reuse.json.error, 'invalid_grant');
    assert.match(reuse.json.error_description, /reused/);
    assert.equal((await refresh(nova, r2.json.refresh_token)).status, 400);
    assert.equal((await call(nova, 'GET', '/v1/me', { tok: r2.json.access_token })).status, 401);
    const got = await call(nova, 'GET', '/v1/sdk/sessions/' + s.json.id, { tok: await token(nova, backend) });
    assert.equal(got.json.revoked_reason, 'refresh_reuse');

    // A backend ends a session: its tokens stop at once.
    const s2 = await newSession(nova, backend, { subject: 'applicant-43' });
    const bt = await token(nova, backend);
    assert.equal((await call(nova, 'DELETE', '/v1/sdk/sessions/' + s2.json.id, { tok: bt })).status, 204);
    assert.equal((await call(nova, 'GET', '/v1/me', { tok: s2.json.access_token })).status, 401);
    assert.equal((await refresh(nova, s2.json.refresh_token)).status, 400);
    assert.equal((await call(nova, 'DELETE', '/v1/sdk/sessions/' + s2.json.id, { tok: bt })).status, 404);
  } finally {
    await nova.stop();
  }
});

test('SDK sessions refuse what they must', async () => {
  const nova = await startNova();
  try {
    const backend = makeTenant(nova, 'sdk-bad-' + randomUUID().slice(0, 8), 'sdk:sessions clients:write');
    for (const body of [
      { subject: '' }, { subject: 'a b' }, { subject: 'x'.repeat(129) }, {},
      { subject: 'ok', scope: 'clients:write' }, { subject: 'ok', scope: 'platform:admin' },
      { subject: 'ok', ttl: 10 }, { subject: 'ok', ttl: 100000 }, { subject: 'ok', ttl: 'long' },
    ]) {
      const r = await newSession(nova, backend, body);
      assert.equal(r.status, 422, JSON.stringify(body) + ' ' + r.text);
      assert.equal(r.headers.get('content-type'), 'application/problem+json');
    }
    assert.equal((await newSession(nova, backend, { subject: 'ok', extra: 1 })).status, 400);
    // Without the sdk:sessions scope there is no minting.
    const other = makeTenant(nova, 'sdk-no-' + randomUUID().slice(0, 8), 'clients:read');
    assert.equal((await newSession(nova, other, { subject: 'ok' })).status, 403);
    // Refresh tokens take no client secret, and unknown or malformed ones are invalid_grant.
    const s = await newSession(nova, backend, { subject: 'applicant-1' });
    const basic = 'Basic ' + Buffer.from(`${backend.id}:${backend.secret}`).toString('base64');
    assert.equal((await refresh(nova, s.json.refresh_token, { authorization: basic })).status, 400);
    for (const rt of ['nope', 'nrt.ten_x.' + 'A'.repeat(43), s.json.refresh_token.slice(0, -1) + (s.json.refresh_token.endsWith('A') ? 'B' : 'A')]) {
      const r = await refresh(nova, rt);
      assert.equal(r.status, 400);
      assert.equal(r.json.error, 'invalid_grant');
    }
    // Another tenant's refresh token shape with this tenant's id is still nothing.
    assert.equal((await refresh(nova, s.json.refresh_token)).status, 200);
  } finally {
    await nova.stop();
  }
});

test('metrics count grants by type and result, DPoP outcomes and client-auth failures', async () => {
  const mt = 'tokens-metrics-token-0123456789';
  const nova = await startNova({ NOVA_METRICS_TOKEN: mt });
  try {
    const metric = async (line) => {
      const text = await (await fetch(nova.base + '/metrics', { headers: { authorization: 'Bearer ' + mt } })).text();
      const l = text.split('\n').find((x) => x.startsWith(line + ' '));
      return l ? Number(l.split(' ')[1]) : NaN;
    };
    const c = makeTenant(nova, 'metrics-' + randomUUID().slice(0, 8), 'clients:read sdk:sessions');
    const key = dpopKey('ec');
    const t = await dpopToken(nova, c, key); // one use_dpop_nonce, then one verified proof
    const url = nova.base + '/v1/me';
    const p = proof(key, 'GET', url, { ath: t.access_token });
    await meWith(nova, 'DPoP', t.access_token, p);
    await meWith(nova, 'DPoP', t.access_token, p); // replayed
    await fetch(nova.base + '/oauth/token', {
      method: 'POST',
      headers: { authorization: 'Basic ' + Buffer.from(`${c.id}:wrong`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    const s = await newSession(nova, c, { subject: 'm-1' });
    await refresh(nova, s.json.refresh_token);
    await refresh(nova, s.json.refresh_token); // reused: refused
    assert.equal(await metric('nova_dpop_proofs_total{outcome="use_dpop_nonce"}'), 1);
    assert.equal(await metric('nova_dpop_proofs_total{outcome="verified"}'), 2);
    assert.equal(await metric('nova_dpop_proofs_total{outcome="replayed"}'), 1);
    assert.equal(await metric('nova_client_auth_failures_total{method="client_secret"}'), 1);
    assert.equal(await metric('nova_token_grants_total{grant_type="refresh_token",result="issued"}'), 1);
    assert.equal(await metric('nova_token_grants_total{grant_type="refresh_token",result="refused"}'), 1);
    // dpopToken's two requests, token()'s grant inside newSession, and the wrong secret.
    assert.equal(await metric('nova_token_grants_total{grant_type="client_credentials",result="issued"}'), 2);
    assert.equal(await metric('nova_token_grants_total{grant_type="client_credentials",result="refused"}'), 2);
  } finally {
    await nova.stop();
  }
});
