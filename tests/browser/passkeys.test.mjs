// Passkeys in a real browser (issue 11 item 2): Debian's Chromium driven by playwright-core
// (executablePath /usr/bin/chromium, nothing downloaded) with a CDP virtual authenticator, on
// the sign-in page novad serves. Registration (packed attestation from the authenticator),
// sign-in with user verification (AAL2), then a cloned authenticator (the same key with a
// lower signature counter) refused and the credential flagged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { chromium } from 'playwright-core';
import { startNova, makeTenant, token, call } from '../integration/lib.mjs';

const CHROMIUM = process.env.NOVA_CHROMIUM || '/usr/bin/chromium';
let nova, browser, tenant, adminTok, base;

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); });
    s.on('error', fail);
  });
}

before(async () => {
  const port = await freePort();
  base = `http://localhost:${port}`;
  // The relying party is the deployment's address: NOVA_ISSUER's host is the RP ID.
  nova = await startNova({ NOVA_PORT: String(port), NOVA_ISSUER: base });
  tenant = makeTenant(nova, 'passkeys-' + Date.now(), 'users:read users:write audit:read');
  adminTok = await token(nova, tenant);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => {
  await browser?.close();
  await nova?.stop();
});

async function pageWithAuthenticator(options = {}) {
  const page = await browser.newPage();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true, ...options },
  });
  const r = await page.goto(`${base}/auth/signin?tenant=${tenant.tenant}`);
  assert.equal(r.status(), 200);
  return { page, cdp, authenticatorId };
}

async function passwordSession(email) {
  const u = await call(nova, 'POST', '/v1/users', { tok: adminTok, body: { email, password: 'a long enough passphrase' } });
  assert.equal(u.status, 201, u.text);
  const s = await call(nova, 'POST', '/auth/login', { body: { tenant_id: tenant.tenant, email, password: 'a long enough passphrase' } });
  assert.equal(s.status, 200, s.text);
  return { user: u.json, tok: s.json.access_token };
}

test('register a passkey in Chromium, sign in with it at AAL2, a clone is refused and flagged', async () => {
  const { user, tok } = await passwordSession('grace.hopper@example.com');
  const { page, cdp, authenticatorId } = await pageWithAuthenticator();
  const reg = await page.evaluate((t) => window.novaRegister(t), tok);
  assert.equal(reg.status, 201, JSON.stringify(reg.json));
  // Chromium's virtual authenticator attests with a batch certificate (packed, x5c).
  assert.equal(reg.json.attestation, 'packed-x5c');
  assert.equal(reg.json.alg, -8); // EdDSA: the first of the server's algorithms it supports
  assert.equal(reg.json.user_verified, true);
  // The same authenticator again is excluded by the options (InvalidStateError in the page).
  const again = await page.evaluate((t) => window.novaRegister(t).then((r) => r.status, (e) => e.name), tok);
  assert.equal(again, 'InvalidStateError');

  const login = await page.evaluate(([t, e]) => window.novaLogin(t, e), [tenant.tenant, 'grace.hopper@example.com']);
  assert.equal(login.status, 200, JSON.stringify(login.json));
  assert.equal(login.json.aal, 2);
  assert.deepEqual(login.json.amr, ['hwk', 'user']);
  const me = await call(nova, 'GET', '/auth/session', { tok: login.json.access_token });
  assert.equal(me.json.user_id, user.id);
  assert.equal(me.json.aal, 2);
  // A discoverable credential signs in without the email too.
  const bare = await page.evaluate((t) => window.novaLogin(t), tenant.tenant);
  assert.equal(bare.status, 200, JSON.stringify(bare.json));

  // Clone the authenticator: the same private key on a second authenticator whose counter is
  // behind the original's.
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assert.equal(credentials.length, 1);
  const original = credentials[0];
  assert.ok(original.signCount >= 2, 'the counter grew with each assertion');
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
  const { authenticatorId: cloneId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  await cdp.send('WebAuthn.addCredential', { authenticatorId: cloneId, credential: { ...original, signCount: original.signCount - 2 } });
  const cloned = await page.evaluate(([t, e]) => window.novaLogin(t, e), [tenant.tenant, 'grace.hopper@example.com']);
  assert.equal(cloned.status, 401, JSON.stringify(cloned.json));
  assert.equal(cloned.json.code, 'passkey_cloned');
  // Flagged: even the original authenticator (counter ahead) is refused from now on.
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: cloneId });
  const { authenticatorId: origId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  await cdp.send('WebAuthn.addCredential', { authenticatorId: origId, credential: { ...original, signCount: original.signCount + 5 } });
  const after = await page.evaluate(([t, e]) => window.novaLogin(t, e), [tenant.tenant, 'grace.hopper@example.com']);
  assert.equal(after.status, 401);
  assert.equal(after.json.code, 'passkey_cloned');
  const audit = await call(nova, 'GET', '/v1/audit?limit=200&action=passkey.clone_detected', { tok: adminTok });
  assert.equal(audit.status, 200, audit.text);
  assert.equal(audit.json.entries.length, 1);
  await page.close();
});

test('without user verification a passkey signs in at AAL1 only', async () => {
  await passwordSession('alan.kay@example.com');
  const s = await call(nova, 'POST', '/auth/login', { body: { tenant_id: tenant.tenant, email: 'alan.kay@example.com', password: 'a long enough passphrase' } });
  const { page, cdp, authenticatorId } = await pageWithAuthenticator({ hasUserVerification: false, isUserVerified: false });
  const reg = await page.evaluate((t) => window.novaRegister(t), s.json.access_token);
  assert.equal(reg.status, 201, JSON.stringify(reg.json));
  assert.equal(reg.json.user_verified, false);
  const login = await page.evaluate(([t, e]) => window.novaLogin(t, e), [tenant.tenant, 'alan.kay@example.com']);
  assert.equal(login.status, 200, JSON.stringify(login.json));
  assert.equal(login.json.aal, 1);
  assert.deepEqual(login.json.amr, ['hwk']);
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
  await page.close();
});

test('a replayed assertion and a foreign origin are refused', async () => {
  await passwordSession('radia@example.com');
  const s = await call(nova, 'POST', '/auth/login', { body: { tenant_id: tenant.tenant, email: 'radia@example.com', password: 'a long enough passphrase' } });
  const { page } = await pageWithAuthenticator();
  assert.equal((await page.evaluate((t) => window.novaRegister(t), s.json.access_token)).status, 201);
  // Capture one assertion in the page, send it twice: the challenge is single use.
  const replay = await page.evaluate(async ([t, e]) => {
    const origFetch = window.fetch;
    let finishBody = null;
    window.fetch = (url, init) => { if (url.endsWith('/login/finish')) finishBody = init.body; return origFetch(url, init); };
    const first = await window.novaLogin(t, e);
    window.fetch = origFetch;
    const second = await fetch('/auth/webauthn/login/finish', { method: 'POST', headers: { 'content-type': 'application/json' }, body: finishBody });
    return [first.status, second.status, (await second.json()).code];
  }, [tenant.tenant, 'radia@example.com']);
  assert.deepEqual(replay, [200, 401, 'webauthn_rejected']);
  // Client data from another origin: what a phishing page would produce.
  const cd = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: 'A'.repeat(43), origin: 'https://evil.example' })).toString('base64url');
  const forged = await call(nova, 'POST', '/auth/webauthn/login/finish', { body: { tenant_id: tenant.tenant, credential: { id: 'AAAA', type: 'public-key', response: { clientDataJSON: cd, authenticatorData: 'AAAA', signature: 'AAAA' } } } });
  assert.equal(forged.status, 401);
  const malformed = await call(nova, 'POST', '/auth/webauthn/login/finish', { body: { tenant_id: tenant.tenant, credential: { id: 'x', type: 'password' } } });
  assert.equal(malformed.status, 422);
  assert.ok(malformed.json.detail.startsWith('credential'));
  await page.close();
});
