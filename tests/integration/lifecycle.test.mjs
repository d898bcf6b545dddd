// Process lifecycle: graceful shutdown and schema-version refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { startNova, makeTenant, token, BIN, CTL } from './lib.mjs';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';

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

test('HTTPS when given a certificate: the issuer is https and the API answers over TLS', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nova-tls-'));
  const key = join(dir, 'key.pem'), cert = join(dir, 'cert.pem');
  const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  const nova = await startNova({ NOVA_TLS_CERT: cert, NOVA_TLS_KEY: key });
  try {
    const ca = readFileSync(cert);
    const get = (path) => new Promise((ok, fail) => {
      https.get({ host: '127.0.0.1', port: nova.port, path, ca }, (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => ok({ status: res.statusCode, body: JSON.parse(body) }));
      }).on('error', fail);
    });
    const h = await get('/v1/health');
    assert.equal(h.status, 200);
    const md = await get('/.well-known/oauth-authorization-server');
    assert.equal(md.body.issuer, `https://127.0.0.1:${nova.port}`);
    // Plain HTTP on the TLS port gets no API answer.
    const plain = await fetch(`http://127.0.0.1:${nova.port}/v1/health`).then((r) => r.status, () => 'refused');
    assert.notEqual(plain, 200);
  } finally {
    await nova.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a process with another master key is refused (exit 3) instead of writing unusable keys', async () => {
  const nova = await startNova();
  try {
    const env = { ...nova.env, NOVA_MASTER_KEY: Buffer.alloc(32, 1).toString('base64url') };
    const ctl = spawnSync(CTL, ['tenant', 'create', 'x'], { env, encoding: 'utf8' });
    assert.equal(ctl.status, 3, ctl.stderr);
    assert.match(ctl.stderr, /master key/);
    const srv = spawnSync(BIN, ['migrate'], { env, encoding: 'utf8' });
    assert.equal(srv.status, 3, srv.stderr);
    assert.equal(nova.ctl('tenant', 'create', 'y').code, 0, 'the right key still works');
  } finally {
    await nova.stop();
  }
});

test('NOVA_TOKEN_ALG=ES256: tokens verify against the JWKS with an independent implementation', async () => {
  const nova = await startNova({ NOVA_TOKEN_ALG: 'ES256' });
  try {
    const c = makeTenant(nova, 'es', 'clients:read');
    const tok = await token(nova, c);
    const [h, p, s] = tok.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url'));
    assert.equal(header.alg, 'ES256');
    assert.equal(header.typ, 'at+jwt');
    const jwks = await (await fetch(`${nova.base}/tenants/${c.tenant}/.well-known/jwks.json`)).json();
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    assert.equal(jwk.kty, 'EC');
    assert.equal(jwk.crv, 'P-256');
    // node:crypto (OpenSSL inside Node, not Nova's code) checks the raw R||S signature.
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    const ok = cryptoVerify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
    assert.ok(ok, 'signature verifies');
    const me = await fetch(nova.base + '/v1/me', { headers: { authorization: 'Bearer ' + tok } });
    assert.equal(me.status, 200);
  } finally {
    await nova.stop();
  }
});
