// Audit drivers for the people routes (issue 11), used by audit.test.mjs: each makes its
// change in a tenant of its own (whose chain it names) and says which entry must appear.
// Not a test file itself.
import assert from 'node:assert/strict';
import { createHmac, createHash, generateKeyPairSync, sign as cryptoSign, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { makeTenant, token, call } from './lib.mjs';

function b32decode(s) {
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, acc = 0; const out = [];
  for (const c of s.toUpperCase()) { acc = (acc << 5) | a.indexOf(c); bits += 5; if (bits >= 8) { out.push((acc >> (bits - 8)) & 255); bits -= 8; } }
  return Buffer.from(out);
}
export function totpCode(secret, step) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', b32decode(secret)).update(msg).digest();
  const off = mac[mac.length - 1] & 15;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 1e6).padStart(6, '0');
}

// ---- a software authenticator (ES256, attestation none), for the WebAuthn routes ----
function cborHead(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  return Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
}
export function cbor(v) {
  if (Buffer.isBuffer(v)) return Buffer.concat([cborHead(2, v.length), v]);
  if (typeof v === 'string') { const b = Buffer.from(v); return Buffer.concat([cborHead(3, b.length), b]); }
  if (typeof v === 'number') return v >= 0 ? cborHead(0, v) : cborHead(1, -1 - v);
  if (v instanceof Map) return Buffer.concat([cborHead(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
  throw new Error('cbor: unsupported value');
}
export class SoftAuthenticator {
  constructor(origin, rpId) {
    this.origin = origin; this.rpId = rpId; this.count = 0;
    this.id = randomBytes(16);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.key = privateKey;
    const jwk = publicKey.export({ format: 'jwk' });
    this.cose = cbor(new Map([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x, 'base64url')], [-3, Buffer.from(jwk.y, 'base64url')]]));
  }
  authData(flags, attested) {
    const c = Buffer.alloc(4); c.writeUInt32BE(this.count);
    const parts = [createHash('sha256').update(this.rpId).digest(), Buffer.from([flags]), c];
    if (attested) parts.push(Buffer.alloc(16), Buffer.from([0, this.id.length]), this.id, this.cose);
    return Buffer.concat(parts);
  }
  clientData(type, challenge) {
    return Buffer.from(JSON.stringify({ type, challenge, origin: this.origin, crossOrigin: false }));
  }
  create(options) {
    const cd = this.clientData('webauthn.create', options.challenge);
    const ao = cbor(new Map([['fmt', 'none'], ['attStmt', new Map()], ['authData', this.authData(0x45, true)]]));
    return { id: this.id.toString('base64url'), type: 'public-key', response: { clientDataJSON: cd.toString('base64url'), attestationObject: ao.toString('base64url') } };
  }
  get(options) {
    this.count++;
    const cd = this.clientData('webauthn.get', options.challenge), ad = this.authData(0x05, false);
    const sig = cryptoSign('sha256', Buffer.concat([ad, createHash('sha256').update(cd).digest()]), this.key);
    return { id: this.id.toString('base64url'), type: 'public-key', response: { clientDataJSON: cd.toString('base64url'), authenticatorData: ad.toString('base64url'), signature: sig.toString('base64url') } };
  }
}

// getNova: returns the suite's novad (started in its before hook); secrets: the suite's list
// of secrets that must appear in no entry.
export function peopleAuditDrivers(getNova, secrets) {
  let ctx = null;
  const PW = 'a long enough passphrase';
  async function setup() {
    if (ctx) return ctx;
    const nova = getNova();
    const t = makeTenant(nova, 'audit-people-' + Date.now(), 'users:read users:write');
    const tok = await token(nova, t);
    secrets.push(t.secret, tok);
    ctx = { nova, t, tok, n: 0 };
    return ctx;
  }
  async function user() {
    const c = await setup();
    const r = await call(c.nova, 'POST', '/v1/users', { tok: c.tok, body: { email: `u${c.n++}-${Date.now()}@example.com`, password: PW } });
    assert.equal(r.status, 201, r.text);
    return { ...r.json, c };
  }
  async function signIn(u, extra = {}) {
    const r = await call(u.c.nova, 'POST', '/auth/login', { body: { tenant_id: u.c.t.tenant, email: u.email, password: PW, ...extra } });
    assert.equal(r.status, 200, r.text);
    secrets.push(r.json.access_token, r.json.refresh_token);
    return r.json;
  }
  async function withTotp() {
    const u = await user();
    const s = await signIn(u);
    const e = await call(u.c.nova, 'POST', '/auth/totp/enroll', { tok: s.access_token });
    assert.equal(e.status, 201, e.text);
    secrets.push(e.json.secret);
    const step = Math.floor(Date.now() / 30000);
    const c = await call(u.c.nova, 'POST', '/auth/totp/confirm', { tok: s.access_token, body: { code: totpCode(e.json.secret, step) } });
    assert.equal(c.status, 200, c.text);
    return { u, s, secret: e.json.secret, step };
  }
  // A step-up token for `method path` (AAL1 session, TOTP enrolled in it).
  async function stepUp(w, method, path) {
    const ch = await call(w.u.c.nova, 'POST', '/auth/mfa/challenge', { tok: w.s.access_token, body: { method, path } });
    assert.equal(ch.status, 200, ch.text);
    const d = await call(w.u.c.nova, 'POST', '/auth/mfa/complete', { tok: w.s.access_token, body: { challenge: ch.json.challenge, method, path, totp_code: totpCode(w.secret, w.step + 1) } });
    assert.equal(d.status, 200, d.text);
    secrets.push(d.json.access_token);
    return d.json.access_token;
  }
  async function withPasskey() {
    const u = await user(); const s = await signIn(u);
    const b = await call(u.c.nova, 'POST', '/auth/webauthn/register/begin', { tok: s.access_token });
    assert.equal(b.status, 200, b.text);
    const a = new SoftAuthenticator(u.c.nova.base, new URL(u.c.nova.base).hostname);
    const f = await call(u.c.nova, 'POST', '/auth/webauthn/register/finish', { tok: s.access_token, body: { credential: a.create(b.json) } });
    assert.equal(f.status, 201, f.text);
    return { u, a };
  }
  const chain = (u, action, actor, target) => ({ chainOf: u.c.t.tenant, action, actor, target });
  const drivers = {
    'POST /v1/users': async () => { const u = await user(); return chain(u, 'user.create', u.c.t.id, 'user:' + u.id); },
    'PATCH /v1/users/{id}': async () => {
      const u = await user();
      const r = await call(u.c.nova, 'PATCH', '/v1/users/' + u.id, { tok: u.c.tok, body: { roles: ['auditor'] } });
      assert.equal(r.status, 200, r.text);
      return chain(u, 'user.update', u.c.t.id, 'user:' + u.id);
    },
    'DELETE /v1/users/{id}': async () => {
      const u = await user();
      assert.equal((await call(u.c.nova, 'DELETE', '/v1/users/' + u.id, { tok: u.c.tok })).status, 204);
      return chain(u, 'user.delete', u.c.t.id, 'user:' + u.id);
    },
    'PUT /v1/users/{id}/password': async () => {
      const u = await user();
      assert.equal((await call(u.c.nova, 'PUT', `/v1/users/${u.id}/password`, { tok: u.c.tok, body: { password: 'another long passphrase' } })).status, 204);
      return chain(u, 'user.password_set', u.c.t.id, 'user:' + u.id);
    },
    'DELETE /v1/sessions/{id}': async () => {
      const u = await user(); const s = await signIn(u);
      assert.equal((await call(u.c.nova, 'DELETE', '/v1/sessions/' + s.session_id, { tok: u.c.tok })).status, 204);
      return chain(u, 'session.revoke', u.c.t.id, 'session:' + s.session_id);
    },
    'DELETE /v1/sessions': async () => {
      const u = await user(); await signIn(u);
      assert.equal((await call(u.c.nova, 'DELETE', '/v1/sessions?user_id=' + u.id, { tok: u.c.tok })).status, 200);
      return chain(u, 'session.revoke_all', u.c.t.id, 'user:' + u.id);
    },
    'POST /auth/login': async () => { const u = await user(); const s = await signIn(u); return chain(u, 'session.create', u.id, 'session:' + s.session_id); },
    'POST /auth/refresh': async () => {
      const u = await user(); const s = await signIn(u);
      const r = await call(u.c.nova, 'POST', '/auth/refresh', { body: { refresh_token: s.refresh_token } });
      assert.equal(r.status, 200, r.text);
      secrets.push(r.json.access_token, r.json.refresh_token);
      return chain(u, 'session.refresh', u.id, 'session:' + s.session_id);
    },
    'POST /auth/logout': async () => {
      const u = await user(); const s = await signIn(u);
      assert.equal((await call(u.c.nova, 'POST', '/auth/logout', { tok: s.access_token })).status, 204);
      return chain(u, 'session.revoke', u.id, 'session:' + s.session_id);
    },
    // A password session: its RP-initiated logout ends it as /auth/logout does (no IdP to
    // send the browser to); the federated case is tests/browser/oidc.test.mjs's.
    'POST /auth/oidc/logout': async () => {
      const u = await user(); const s = await signIn(u);
      const r = await call(u.c.nova, 'POST', '/auth/oidc/logout', { tok: s.access_token });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.end_session_url, null);
      return chain(u, 'session.revoke', u.id, 'session:' + s.session_id);
    },
    // A password session: SP-initiated SAML logout ends it as /auth/logout does (no IdP to
    // send the browser to); the federated case is tests/browser/saml.test.mjs's.
    'POST /auth/saml/logout': async () => {
      const u = await user(); const s = await signIn(u);
      const r = await call(u.c.nova, 'POST', '/auth/saml/logout', { tok: s.access_token });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.logout_url, null);
      return chain(u, 'session.revoke', u.id, 'session:' + s.session_id);
    },
    'POST /auth/totp/enroll': async () => {
      const u = await user(); const s = await signIn(u);
      const e = await call(u.c.nova, 'POST', '/auth/totp/enroll', { tok: s.access_token });
      assert.equal(e.status, 201, e.text);
      secrets.push(e.json.secret);
      return chain(u, 'user.totp_begin', u.id, 'user:' + u.id);
    },
    'POST /auth/totp/confirm': async () => { const w = await withTotp(); return chain(w.u, 'user.totp_confirm', w.u.id, 'user:' + w.u.id); },
    'POST /auth/mfa/complete': async () => {
      const w = await withTotp();
      await stepUp(w, 'POST', '/auth/recovery-codes');
      return chain(w.u, 'stepup.complete', w.u.id, 'session:' + w.s.session_id);
    },
    'POST /auth/recovery-codes': async () => {
      const w = await withTotp();
      const tok = await stepUp(w, 'POST', '/auth/recovery-codes');
      const r = await call(w.u.c.nova, 'POST', '/auth/recovery-codes', { tok });
      assert.equal(r.status, 200, r.text);
      return chain(w.u, 'user.recovery_regenerate', w.u.id, 'user:' + w.u.id);
    },
    'DELETE /auth/totp': async () => {
      const w = await withTotp();
      const tok = await stepUp(w, 'DELETE', '/auth/totp');
      assert.equal((await call(w.u.c.nova, 'DELETE', '/auth/totp', { tok })).status, 204);
      return chain(w.u, 'user.totp_remove', w.u.id, 'user:' + w.u.id);
    },
  };
  drivers['POST /auth/webauthn/register/finish'] = async () => {
    const { u } = await withPasskey();
    return chain(u, 'passkey.register', u.id, 'user:' + u.id);
  };
  drivers['POST /auth/webauthn/login/finish'] = async () => {
    const { u, a } = await withPasskey();
    const b = await call(u.c.nova, 'POST', '/auth/webauthn/login/begin', { body: { tenant_id: u.c.t.tenant, email: u.email } });
    assert.equal(b.status, 200, b.text);
    const f = await call(u.c.nova, 'POST', '/auth/webauthn/login/finish', { body: { tenant_id: u.c.t.tenant, credential: a.get(b.json) } });
    assert.equal(f.status, 200, f.text);
    secrets.push(f.json.access_token, f.json.refresh_token);
    return chain(u, 'session.create', u.id, 'session:' + f.json.session_id);
  };
  // Federation (issue 11 item 7): an OIDC IdP of the tenant; its client secret is sealed and
  // never in an entry. Creating or changing one fetches nothing from the IdP.
  let idpN = 0;
  async function oidcIdp() {
    const c = await setup();
    const secret = `audit-rp-secret-${Date.now()}-0123456789`;
    const r = await call(c.nova, 'POST', '/v1/people/oidc/idps', { tok: c.tok, body: { issuer: `http://127.0.0.1:9/audit-idp-${idpN++}-${Date.now()}`, client_id: 'audit-rp', client_secret: secret, redirect_uris: [`${c.nova.base}/auth/oidc/callback`] } });
    assert.equal(r.status, 201, r.text);
    secrets.push(secret);
    return { c, id: r.json.id };
  }
  drivers['POST /v1/people/oidc/idps'] = async () => {
    const { c, id } = await oidcIdp();
    return { chainOf: c.t.tenant, action: 'oidc_idp.create', actor: c.t.id, target: 'oidc_idp:' + id };
  };
  drivers['PATCH /v1/people/oidc/idps/{id}'] = async () => {
    const { c, id } = await oidcIdp();
    const r = await call(c.nova, 'PATCH', '/v1/people/oidc/idps/' + id, { tok: c.tok, body: { enabled: false } });
    assert.equal(r.status, 200, r.text);
    return { chainOf: c.t.tenant, action: 'oidc_idp.update', actor: c.t.id, target: 'oidc_idp:' + id };
  };
  drivers['DELETE /v1/people/oidc/idps/{id}'] = async () => {
    const { c, id } = await oidcIdp();
    const r = await call(c.nova, 'DELETE', '/v1/people/oidc/idps/' + id, { tok: c.tok });
    assert.equal(r.status, 204, r.text);
    return { chainOf: c.t.tenant, action: 'oidc_idp.delete', actor: c.t.id, target: 'oidc_idp:' + id };
  };
  // Back-Channel Logout: a token that is no JWS is refused before anything is fetched, and
  // audited with the reason only.
  drivers['POST /auth/oidc/backchannel-logout/{tenant_id}/{idp}'] = async () => {
    const { c, id } = await oidcIdp();
    const r = await call(c.nova, 'POST', `/auth/oidc/backchannel-logout/${c.t.tenant}/${id}`, {
      raw: 'logout_token=not-a-jws', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.code, 'oidc_invalid_logout_token');
    return { chainOf: c.t.tenant, action: 'oidc.logout_failed', actor: 'oidc', target: 'oidc_idp:' + id };
  };
  // SAML federation: an IdP from metadata (a certificate of openssl's; nothing is fetched),
  // its SP key sealed and never in an entry; a refused Response at its ACS is audited with
  // the reason only.
  let samlCert = null;
  async function samlIdp() {
    const c = await setup();
    if (!samlCert) {
      const pem = execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', '/dev/null',
        '-days', '1', '-subj', '/CN=audit-idp'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      samlCert = pem.replace(/-----[A-Z ]+-----|\s/g, '');
    }
    const eid = `https://idp.example/audit-${idpN++}-${Date.now()}`;
    const md = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${eid}">`
      + '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
      + `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${samlCert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
      + '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/>'
      + '</md:IDPSSODescriptor></md:EntityDescriptor>';
    const r = await call(c.nova, 'POST', '/v1/people/saml/idps', { tok: c.tok, body: { metadata_xml: md } });
    assert.equal(r.status, 201, r.text);
    return { c, id: r.json.id };
  }
  drivers['POST /v1/people/saml/idps'] = async () => {
    const { c, id } = await samlIdp();
    return { chainOf: c.t.tenant, action: 'saml_idp.create', actor: c.t.id, target: 'saml_idp:' + id };
  };
  drivers['PATCH /v1/people/saml/idps/{id}'] = async () => {
    const { c, id } = await samlIdp();
    const r = await call(c.nova, 'PATCH', '/v1/people/saml/idps/' + id, { tok: c.tok, body: { enabled: false } });
    assert.equal(r.status, 200, r.text);
    return { chainOf: c.t.tenant, action: 'saml_idp.update', actor: c.t.id, target: 'saml_idp:' + id };
  };
  drivers['DELETE /v1/people/saml/idps/{id}'] = async () => {
    const { c, id } = await samlIdp();
    const r = await call(c.nova, 'DELETE', '/v1/people/saml/idps/' + id, { tok: c.tok });
    assert.equal(r.status, 204, r.text);
    return { chainOf: c.t.tenant, action: 'saml_idp.delete', actor: c.t.id, target: 'saml_idp:' + id };
  };
  drivers['POST /auth/saml/acs/{tenant_id}/{idp}'] = async () => {
    const { c, id } = await samlIdp();
    const r = await call(c.nova, 'POST', `/auth/saml/acs/${c.t.tenant}/${id}`, {
      raw: 'SAMLResponse=' + encodeURIComponent(Buffer.from('<samlp:Response/>').toString('base64')),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } });
    assert.equal(r.status, 400, r.text);
    return { chainOf: c.t.tenant, action: 'saml.login_failed', actor: 'saml', target: 'saml_idp:' + id };
  };
  // Single Logout over HTTP-POST: a form value that is no signed logout message is refused
  // (as the HTTP-Redirect one's) and audited with the reason only.
  drivers['POST /auth/saml/slo/{tenant_id}/{idp}'] = async () => {
    const { c, id } = await samlIdp();
    const r = await call(c.nova, 'POST', `/auth/saml/slo/${c.t.tenant}/${id}`, {
      raw: 'SAMLRequest=' + encodeURIComponent(Buffer.from('<samlp:LogoutRequest/>').toString('base64')),
      headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.code, 'saml_malformed_response');
    return { chainOf: c.t.tenant, action: 'saml.logout_failed', actor: 'saml', target: 'saml_idp:' + id };
  };
  drivers['PUT /v1/people/settings'] = async () => {
    const c = await setup();
    const r = await call(c.nova, 'PUT', '/v1/people/settings', { tok: c.tok, body: { ip_drift: 'step_up' } });
    assert.equal(r.status, 200, r.text);
    return { chainOf: c.t.tenant, action: 'people_settings.update', actor: c.t.id, target: 'tenant:' + c.t.tenant };
  };
  // Just-in-time access: a requester, an approver (access-approver), the three mutations.
  async function accessPair() {
    const c = await setup();
    const mk = async (roles) => {
      const email = `acc${c.n++}-${Date.now()}@example.com`;
      const r = await call(c.nova, 'POST', '/v1/users', { tok: c.tok, body: { email, password: PW, roles } });
      assert.equal(r.status, 201, r.text);
      const s = await signIn({ ...r.json, c });
      return { id: r.json.id, tok: s.access_token };
    };
    const req = await mk([]), appr = await mk(['access-approver']);
    const q = await call(c.nova, 'POST', '/auth/access-requests', { tok: req.tok, body: { role: 'ledger:read', reason: 'audit driver reconciliation', ticket: 'AUD-1', duration_seconds: 60 } });
    assert.equal(q.status, 201, q.text);
    return { c, req, appr, id: q.json.id };
  }
  drivers['POST /auth/access-requests'] = async () => {
    const a = await accessPair();
    return { chainOf: a.c.t.tenant, action: 'access.request', actor: a.req.id, target: 'access_request:' + a.id };
  };
  drivers['POST /auth/access-requests/{id}/approve'] = async () => {
    const a = await accessPair();
    assert.equal((await call(a.c.nova, 'POST', `/auth/access-requests/${a.id}/approve`, { tok: a.appr.tok })).status, 200);
    return { chainOf: a.c.t.tenant, action: 'access.approve', actor: a.appr.id, target: 'access_request:' + a.id };
  };
  drivers['POST /auth/access-requests/{id}/activate'] = async () => {
    const a = await accessPair();
    assert.equal((await call(a.c.nova, 'POST', `/auth/access-requests/${a.id}/approve`, { tok: a.appr.tok })).status, 200);
    const r = await call(a.c.nova, 'POST', `/auth/access-requests/${a.id}/activate`, { tok: a.req.tok });
    assert.equal(r.status, 200, r.text);
    secrets.push(r.json.access_token);
    return { chainOf: a.c.t.tenant, action: 'access.activate', actor: a.req.id, target: 'access_request:' + a.id };
  };
  // SCIM (issue 11 item 8): the IdP's token, and the users it provisions.
  async function scimToken() {
    const c = await setup();
    const r = await call(c.nova, 'POST', '/v1/scim/tokens', { tok: c.tok, body: {} });
    assert.equal(r.status, 201, r.text);
    secrets.push(r.json.token);
    return { c, id: r.json.id, token: r.json.token };
  }
  const scim = (k, method, path, body) => call(k.c.nova, method, '/scim/v2' + path, {
    tok: k.token, body, headers: body ? { 'content-type': 'application/scim+json' } : {},
  });
  async function scimUser() {
    const k = await scimToken();
    const r = await scim(k, 'POST', '/Users', { userName: `scim${k.c.n++}-${Date.now()}@example.com`, externalId: 'x' + Date.now() + k.c.n });
    assert.equal(r.status, 201, r.text);
    return { k, id: r.json.id };
  }
  const scimChain = (k, action, target) => ({ chainOf: k.c.t.tenant, action, actor: 'scim:' + k.id, target });
  drivers['POST /v1/scim/tokens'] = async () => {
    const k = await scimToken();
    return { chainOf: k.c.t.tenant, action: 'scim.token.create', actor: k.c.t.id, target: 'scim_token:' + k.id };
  };
  drivers['DELETE /v1/scim/tokens/{id}'] = async () => {
    const k = await scimToken();
    assert.equal((await call(k.c.nova, 'DELETE', '/v1/scim/tokens/' + k.id, { tok: k.c.tok })).status, 204);
    return { chainOf: k.c.t.tenant, action: 'scim.token.revoke', actor: k.c.t.id, target: 'scim_token:' + k.id };
  };
  drivers['POST /scim/v2/Users'] = async () => { const u = await scimUser(); return scimChain(u.k, 'user.create', 'user:' + u.id); };
  drivers['PUT /scim/v2/Users/{id}'] = async () => {
    const u = await scimUser();
    const g = await scim(u.k, 'GET', '/Users/' + u.id);
    const r = await scim(u.k, 'PUT', '/Users/' + u.id, { userName: g.json.userName, displayName: 'Put Name' });
    assert.equal(r.status, 200, r.text);
    return scimChain(u.k, 'user.update', 'user:' + u.id);
  };
  drivers['PATCH /scim/v2/Users/{id}'] = async () => {
    const u = await scimUser();
    const r = await scim(u.k, 'PATCH', '/Users/' + u.id, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] });
    assert.equal(r.status, 200, r.text);
    return scimChain(u.k, 'user.update', 'user:' + u.id);
  };
  drivers['DELETE /scim/v2/Users/{id}'] = async () => {
    const u = await scimUser();
    assert.equal((await scim(u.k, 'DELETE', '/Users/' + u.id)).status, 204);
    return scimChain(u.k, 'user.delete', 'user:' + u.id);
  };
  // SCIM Groups: a group of one provisioned user; the tenant's group->role mapping.
  async function scimGroup() {
    const u = await scimUser();
    const r = await scim(u.k, 'POST', '/Groups', { displayName: `audit group ${u.k.c.n++} ${Date.now()}`, members: [{ value: u.id }] });
    assert.equal(r.status, 201, r.text);
    return { k: u.k, id: r.json.id, user: u.id, name: r.json.displayName };
  }
  drivers['POST /scim/v2/Groups'] = async () => { const g = await scimGroup(); return scimChain(g.k, 'scim_group.create', 'scim_group:' + g.id); };
  drivers['PUT /scim/v2/Groups/{id}'] = async () => {
    const g = await scimGroup();
    const r = await scim(g.k, 'PUT', '/Groups/' + g.id, { displayName: g.name + ' put', members: [] });
    assert.equal(r.status, 200, r.text);
    return scimChain(g.k, 'scim_group.update', 'scim_group:' + g.id);
  };
  drivers['PATCH /scim/v2/Groups/{id}'] = async () => {
    const g = await scimGroup();
    const r = await scim(g.k, 'PATCH', '/Groups/' + g.id, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'remove', path: `members[value eq "${g.user}"]` }] });
    assert.equal(r.status, 200, r.text);
    return scimChain(g.k, 'scim_group.update', 'scim_group:' + g.id);
  };
  drivers['DELETE /scim/v2/Groups/{id}'] = async () => {
    const g = await scimGroup();
    assert.equal((await scim(g.k, 'DELETE', '/Groups/' + g.id)).status, 204);
    return scimChain(g.k, 'scim_group.delete', 'scim_group:' + g.id);
  };
  drivers['PUT /v1/scim/group-roles'] = async () => {
    const c = await setup();
    const r = await call(c.nova, 'PUT', '/v1/scim/group-roles', { tok: c.tok, body: { mappings: [{ group: 'Finance', role: 'finance' }] } });
    assert.equal(r.status, 200, r.text);
    return { chainOf: c.t.tenant, action: 'scim_group_roles.put', actor: c.t.id, target: 'scim_group_roles:' + c.t.tenant };
  };
  const readOnly = {
    'POST /auth/webauthn/register/begin': 'issues a challenge kept in the control plane for 300 s; nothing is stored',
    'POST /auth/webauthn/login/begin': 'issues a challenge kept in the control plane for 300 s; nothing is stored',
    'POST /auth/mfa/challenge': 'signs a challenge and returns it; nothing is stored (its single use is checked at completion)',
  };
  return { drivers, readOnly };
}
