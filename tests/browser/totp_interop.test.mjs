// TOTP interop (issue 11 item 3): codes made by npm otplib (authenticator, RFC 6238) are the
// codes novad accepts, for SHA-1, SHA-256 and SHA-512 secrets; a code used once is refused;
// the enrolment URI carries what otplib's keyuri does. (otplib stretches a key shorter than
// the hash by repetition, as RFC 6238's reference seeds are; Nova makes keys of the hash's
// length, 20, 32 and 64 bytes, so both compute the same codes.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import otplib from 'otplib';
import { startNova, makeTenant, token, call } from '../integration/lib.mjs';

const { authenticator } = otplib;
let nova, t, tok;
before(async () => {
  nova = await startNova();
  t = makeTenant(nova, 'totp-interop', 'users:write');
  tok = await token(nova, t);
});
after(async () => { await nova.stop(); });

const PW = 'a long enough passphrase';
const login = (body) => call(nova, 'POST', '/auth/login', { body: { tenant_id: t.tenant, ...body } });

for (const alg of ['SHA1', 'SHA256', 'SHA512']) {
  test(`otplib ${alg} codes confirm enrolment and sign in; a reused one is refused`, async () => {
    const email = `otp-${alg.toLowerCase()}@example.com`;
    assert.equal((await call(nova, 'POST', '/v1/users', { tok, body: { email, password: PW } })).status, 201);
    const s = await login({ email, password: PW });
    assert.equal(s.status, 200, s.text);
    const e = await call(nova, 'POST', '/auth/totp/enroll', { tok: s.json.access_token, body: { algorithm: alg } });
    assert.equal(e.status, 201, e.text);
    assert.equal(e.json.algorithm, alg);
    const gen = authenticator.clone({ algorithm: alg.toLowerCase() });
    // The URI: the same parameters otplib's keyuri writes.
    const ours = new URL(e.json.otpauth_uri), theirs = new URL(gen.keyuri(email, 'Nova', e.json.secret));
    assert.equal(ours.pathname, theirs.pathname);
    for (const k of ['secret', 'issuer', 'algorithm', 'digits', 'period'])
      assert.equal(ours.searchParams.get(k), theirs.searchParams.get(k), k);
    const now = Date.now();
    const c = await call(nova, 'POST', '/auth/totp/confirm', { tok: s.json.access_token, body: { code: gen.clone({ epoch: now }).generate(e.json.secret) } });
    assert.equal(c.status, 200, c.text);
    // The next step's code (within the ±1 window) signs in; the same code again does not.
    const next = gen.clone({ epoch: now + 30000 }).generate(e.json.secret);
    const one = await login({ email, password: PW });
    const ok = await login({ mfa_token: one.json.mfa_token, totp_code: next });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.aal, 2);
    const two = await login({ email, password: PW });
    assert.equal((await login({ mfa_token: two.json.mfa_token, totp_code: next })).status, 401);
    // A code two steps away is outside the window.
    const far = gen.clone({ epoch: now + 90000 }).generate(e.json.secret);
    assert.equal((await login({ mfa_token: two.json.mfa_token, totp_code: far })).status, 401);
  });
}
