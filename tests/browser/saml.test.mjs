// SAML 2.0 federation (issue 11 item 7) against an IdP nobody here wrote: the npm samlify as
// the Identity Provider, started on loopback by this test behind a small sign-in page (a
// form, then an auto-posting form to the ACS, as IdPs answer with the HTTP-POST binding).
// samlify parses and verifies novad's signed AuthnRequest (HTTP-Redirect) and signs the
// Response with xml-crypto; novad checks it with Lasso. Chromium (Debian's, through
// playwright-core) drives every login: novad's /auth/saml/login?tenant_id=&idp= -> the IdP's
// page -> novad's ACS, which answers with the session. Then the refusals, each through the
// browser too: a tampered assertion (signature broken), a wrong audience, an expired
// assertion, a replayed Response, an unsigned assertion (inside a signed Response), a wrong
// Recipient, an answer to no request of novad's, and another IdP's signature.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as netServer } from 'node:net';
import { createServer as httpServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { chromium } from 'playwright-core';
import * as samlify from 'samlify';
import { startNova, makeTenant, token, call } from '../integration/lib.mjs';

const CHROMIUM = process.env.NOVA_CHROMIUM || '/usr/bin/chromium';
const METRICS = 'saml-metrics-token';
let nova, browser, novaBase, idpBase, idpServer, tenant, tenantB, adminTok, adminTokB;
let idpKey, idpCert, otherKey, otherCert, idp, spMetadata, samlIdp, samlIdpOther, samlIdpStranger;
// What the next Response the IdP's page makes looks like (one login's worth; reset after).
let mode = {};
let lastResponse = null; // the base64 SAMLResponse the IdP's page last posted
let lastRequest = null; // the AuthnRequest (XML) the IdP last received
// Single Logout at the IdP: what its /slo saw of novad's messages, and the URLs it sent the
// browser to (novad's SingleLogoutService with the IdP's signed message).
const slo = { requests: [], responses: [], sent: [] };

// SAML's schema is checked by novad's Lasso; samlify asks for a validator of its own.
samlify.setSchemaValidator({ validate: async () => 'skipped' });

const accounts = {
  ada: { email: 'ada@saml.example', name: 'Ada S', groups: ['engineering', 'contractors'] },
  bob: { email: 'bob@saml.example', name: 'Bob T', groups: ['engineering'] },
  cyd: { email: 'cyd@saml.example', name: 'Cyd U', groups: ['sales'] },
};

function freePort() {
  return new Promise((ok, fail) => {
    const s = netServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); });
    s.on('error', fail);
  });
}

function keyPair(dir, name) {
  const k = join(dir, name + '.key'), c = join(dir, name + '.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', k, '-out', c,
    '-days', '2', '-subj', `/CN=${name}`], { stdio: 'ignore' });
  return [readFileSync(k, 'utf8'), readFileSync(c, 'utf8')];
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const iso = (ms) => new Date(ms).toISOString();

// The Response of a login, the IdP's own shape (samlify signs it; mode bends one field).
function responseXml(ctx, user, requestId) {
  const now = Date.now();
  const a = accounts[user];
  const notOnOrAfter = mode.expired ? iso(now - 3600_000) : iso(now + 300_000);
  const notBefore = mode.expired ? iso(now - 7200_000) : iso(now - 5_000);
  const audience = mode.audience || ctx.spEntityId;
  const recipient = mode.recipient || ctx.acs;
  const irt = mode.inResponseTo || requestId;
  const attrs = [
    ['email', [a.email]], ['name', [a.name]], ['groups', a.groups],
  ].map(([n, vs]) => `<saml:Attribute Name="${n}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${
    vs.map((v) => `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`).join('');
  const id = '_' + randomUUID();
  const aid = '_' + randomUUID();
  return { id, context: `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${iso(now)}" Destination="${esc(ctx.acs)}" InResponseTo="${esc(irt)}">`
    + `<saml:Issuer>${esc(ctx.idpEntityId)}</saml:Issuer>`
    + '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
    + `<saml:Assertion ID="${aid}" Version="2.0" IssueInstant="${iso(now)}">`
    + `<saml:Issuer>${esc(ctx.idpEntityId)}</saml:Issuer>`
    + `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${esc(a.email)}</saml:NameID>`
    + `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${notOnOrAfter}" Recipient="${esc(recipient)}" InResponseTo="${esc(irt)}"/></saml:SubjectConfirmation></saml:Subject>`
    + `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}"><saml:AudienceRestriction><saml:Audience>${esc(audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>`
    + `<saml:AuthnStatement AuthnInstant="${iso(now)}" SessionIndex="${aid}"><saml:AuthnContext><saml:AuthnContextClassRef>${esc(mode.authnContext || 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport')}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`
    + `<saml:AttributeStatement>${attrs}</saml:AttributeStatement>`
    + '</saml:Assertion></samlp:Response>' };
}

function page(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html><head><meta charset="utf-8"><title>Test IdP</title></head><body>${html}</body></html>`);
}

// The IdP's two pages: GET /sso (novad's AuthnRequest, verified by samlify, then a sign-in
// form) and POST /signin (the Response, auto-posted to the ACS the request named).
const pending = new Map();
async function idpHandler(req, res) {
  const u = new URL(req.url, idpBase);
  try {
    if (req.method === 'GET' && u.pathname === '/sso') {
      const sp = samlify.ServiceProvider({ metadata: spMetadata });
      const octetString = u.search.slice(1).split('&').filter((p) => !p.startsWith('Signature=')).join('&');
      const query = Object.fromEntries(u.searchParams);
      const info = await samlIdp.parseLoginRequest(sp, 'redirect', { query, octetString });
      lastRequest = info.samlContent;
      const rid = info.extract.request.id;
      pending.set(rid, { acs: info.extract.request.assertionConsumerServiceUrl, sigAlg: info.sigAlg });
      return page(res, 200, `<form method="post" action="/signin"><input type="hidden" name="rid" value="${esc(rid)}">`
        + '<input name="login" autocomplete="off"><button type="submit">Sign in</button></form>');
    }
    if (req.method === 'POST' && u.pathname === '/signin') {
      let body = '';
      for await (const d of req) body += d;
      const f = new URLSearchParams(body);
      const rid = f.get('rid'), user = f.get('login');
      const p = pending.get(rid);
      if (!p || !accounts[user]) return page(res, 400, 'unknown request or user');
      pending.delete(rid);
      let md = spMetadata;
      // An IdP that signs only the Response (the SP's metadata read as not wanting signed
      // assertions): the assertion inside is unsigned.
      if (mode.unsignedAssertion) md = md.replace('WantAssertionsSigned="true"', 'WantAssertionsSigned="false"');
      const sp = samlify.ServiceProvider({ metadata: md, wantMessageSigned: !!mode.unsignedAssertion });
      const ctx = { acs: idp.acs_url, spEntityId: idp.sp_entity_id, idpEntityId: `${idpBase}/metadata` };
      const signer = mode.otherKey ? samlIdpOther : samlIdp;
      const { context } = await signer.createLoginResponse(sp, { extract: { request: { id: rid } } }, 'post', { email: accounts[user].email },
        () => responseXml(ctx, user, rid));
      let out = context;
      if (mode.tamper) {
        // Another user's address in the signed assertion: the digest no longer matches.
        const xml = Buffer.from(context, 'base64').toString('utf8');
        const t = xml.replaceAll(accounts[user].email, 'mallory@saml.example');
        assert.notEqual(t, xml);
        out = Buffer.from(t, 'utf8').toString('base64');
      }
      lastResponse = out;
      mode = {};
      return page(res, 200, `<form id="post" method="post" action="${esc(p.acs)}"><input type="hidden" name="SAMLResponse" value="${esc(out)}">`
        + '<button type="submit" id="continue">Continue</button></form>');
    }
    // Single Logout, HTTP-Redirect: novad's signed LogoutRequest (SP-initiated; verified by
    // samlify, answered with a signed LogoutResponse back to novad) or novad's signed
    // LogoutResponse to the IdP's request (verified, recorded).
    if (req.method === 'GET' && u.pathname === '/slo') {
      const sp = samlify.ServiceProvider({ metadata: spMetadata, wantLogoutRequestSigned: true, wantLogoutResponseSigned: true });
      const octetString = u.search.slice(1).split('&').filter((p) => !p.startsWith('Signature=')).join('&');
      const query = Object.fromEntries(u.searchParams);
      if (query.SAMLRequest) {
        const info = await samlIdp.parseLogoutRequest(sp, 'redirect', { query, octetString });
        slo.requests.push(info);
        const { context } = samlIdp.createLogoutResponse(sp, info, 'redirect');
        slo.sent.push(context);
        res.writeHead(302, { location: context });
        return res.end();
      }
      const info = await samlIdp.parseLogoutResponse(sp, 'redirect', { query, octetString });
      slo.responses.push(info);
      return page(res, 200, '<p id="idp-signed-out">Signed out at the IdP.</p>');
    }
    // The IdP's own "sign out" for the session of SessionIndex si of user: a LogoutRequest to
    // novad (signed by the other key, or as another entity, when asked).
    if (req.method === 'GET' && u.pathname === '/idp-logout') {
      const sp = samlify.ServiceProvider({ metadata: spMetadata, wantLogoutRequestSigned: true, wantLogoutResponseSigned: true });
      const signer = u.searchParams.get('signer') === 'other' ? samlIdpOther
        : u.searchParams.get('signer') === 'stranger' ? samlIdpStranger : samlIdp;
      const user = accounts[u.searchParams.get('user')];
      const { context, id } = signer.createLogoutRequest(sp, 'redirect', { logoutNameID: user.email, sessionIndex: u.searchParams.get('si') });
      slo.sent.push(context);
      slo.lastRequestId = id;
      res.writeHead(302, { location: context });
      return res.end();
    }
    page(res, 404, 'not found');
  } catch (e) {
    console.error('idp error', e);
    page(res, 500, esc(e.message));
  }
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nova-saml-'));
  [idpKey, idpCert] = keyPair(dir, 'test-idp');
  [otherKey, otherCert] = keyPair(dir, 'other-idp');
  const idpPort = await freePort();
  const novaPort = await freePort();
  idpBase = `http://localhost:${idpPort}`;
  novaBase = `http://localhost:${novaPort}`;
  const idpOpts = (key, cert, entityID = `${idpBase}/metadata`) => ({
    entityID, privateKey: key, signingCert: cert, wantAuthnRequestsSigned: true,
    wantLogoutRequestSigned: true, wantLogoutResponseSigned: true,
    singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${idpBase}/sso` }],
    singleLogoutService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${idpBase}/slo` }],
    nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
  });
  samlIdp = samlify.IdentityProvider(idpOpts(idpKey, idpCert));
  samlIdpOther = samlify.IdentityProvider(idpOpts(otherKey, otherCert));
  samlIdpStranger = samlify.IdentityProvider(idpOpts(otherKey, otherCert, `${idpBase}/stranger`));
  idpServer = httpServer((req, res) => { idpHandler(req, res); });
  await new Promise((ok) => idpServer.listen(idpPort, '127.0.0.1', ok));
  nova = await startNova({ NOVA_PORT: String(novaPort), NOVA_ISSUER: novaBase, NOVA_METRICS_TOKEN: METRICS });
  tenant = makeTenant(nova, 'saml-' + Date.now(), 'users:read users:write audit:read');
  tenantB = makeTenant(nova, 'saml-b-' + Date.now(), 'users:read users:write');
  adminTok = await token(nova, tenant);
  adminTokB = await token(nova, tenantB);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => {
  await browser?.close();
  await nova?.stop();
  idpServer?.close();
  idpServer?.closeAllConnections?.();
});

const past = Math.floor(Date.now() / 1000) - 3600;
const future = Math.floor(Date.now() / 1000) + 86400;

// The whole login in Chromium: novad's login path -> the IdP's form -> the ACS. Returns the
// ACS's answer (status, and the page) with the IdP's next Response bent by m.
async function browserLogin(user, m = {}) {
  mode = m;
  const p = await browser.newPage();
  await p.goto(novaBase + idp.login_path);
  assert.ok(p.url().startsWith(`${idpBase}/sso`), `at the IdP: ${p.url()}`);
  await p.fill('input[name=login]', user);
  await p.click('button[type=submit]');
  await p.waitForSelector('#continue');
  const [resp] = await Promise.all([
    p.waitForResponse((r) => r.url().startsWith(`${novaBase}/auth/saml/acs/`)),
    p.click('#continue'),
  ]);
  await p.waitForLoadState();
  return { page: p, status: resp.status(), resp };
}

async function grantOf(p) {
  await p.waitForSelector('#nova-grant', { state: 'attached' });
  return JSON.parse(await p.textContent('#nova-grant'));
}

async function refusedWith(user, m, status, code) {
  const { page: p, status: st, resp } = await browserLogin(user, m);
  const body = await resp.json();
  assert.equal(st, status, JSON.stringify(body));
  assert.equal(body.code, code, JSON.stringify(body));
  await p.close();
  return body;
}

test('the tenant configures its SAML IdP from metadata; novad makes the SP key and serves SP metadata', async () => {
  const idpMeta = samlIdp.getMetadata();
  const bad = await call(nova, 'POST', '/v1/people/saml/idps', { tok: adminTok, body: { metadata_xml: '<nope/>' } });
  assert.equal(bad.status, 422, bad.text);
  assert.match(bad.json.detail, /metadata/);
  const none = await call(nova, 'POST', '/v1/people/saml/idps', { tok: adminTok, body: {} });
  assert.equal(none.status, 422);
  const r = await call(nova, 'POST', '/v1/people/saml/idps', {
    tok: adminTok,
    body: {
      metadata_xml: idpMeta,
      role_mappings: [
        { group: 'engineering', role: 'engineer' },
        { group: 'contractors', role: 'contractor', valid_until: past },
        { group: 'contractors', role: 'vendor', valid_until: future },
      ],
    },
  });
  assert.equal(r.status, 201, r.text);
  idp = r.json;
  assert.equal(idp.entity_id, `${idpBase}/metadata`);
  assert.equal(idp.sso_url, `${idpBase}/sso`);
  assert.equal(idp.acs_url, `${novaBase}/auth/saml/acs/${tenant.tenant}/${idp.id}`);
  assert.equal(idp.sp_entity_id, `${novaBase}/auth/saml/metadata?tenant_id=${tenant.tenant}&idp=${idp.id}`);
  assert.match(idp.sp_certificate, /BEGIN CERTIFICATE/);
  assert.ok(!r.text.includes('PRIVATE KEY'));
  assert.equal(idp.login_path, `/auth/saml/login?tenant_id=${tenant.tenant}&idp=${idp.id}`);
  const dup = await call(nova, 'POST', '/v1/people/saml/idps', { tok: adminTok, body: { metadata_xml: idpMeta } });
  assert.equal(dup.status, 409);
  // The SP metadata, public, read by the IdP's administrator (and by samlify here).
  const md = await fetch(novaBase + idp.sp_metadata_path);
  assert.equal(md.status, 200);
  assert.match(md.headers.get('content-type'), /samlmetadata\+xml/);
  spMetadata = await md.text();
  assert.match(spMetadata, /WantAssertionsSigned="true"/);
  assert.ok(spMetadata.includes(idp.acs_url));
  const sp = samlify.ServiceProvider({ metadata: spMetadata });
  assert.equal(sp.entityMeta.getEntityID(), idp.sp_entity_id);
  const list = await call(nova, 'GET', '/v1/people/saml/idps', { tok: adminTok });
  assert.deepEqual(list.json.idps.map((i) => i.id), [idp.id]);
  // Metadata of another entity cannot replace this IdP's; the SP entity ID is fixed.
  const other = samlify.IdentityProvider({ entityID: 'https://other.example/idp', signingCert: otherCert,
    singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: 'https://other.example/sso' }] });
  const swap = await call(nova, 'PATCH', `/v1/people/saml/idps/${idp.id}`, { tok: adminTok, body: { metadata_xml: other.getMetadata() } });
  assert.equal(swap.status, 422, swap.text);
  const spChange = await call(nova, 'PATCH', `/v1/people/saml/idps/${idp.id}`, { tok: adminTok, body: { sp_entity_id: 'urn:x' } });
  assert.equal(spChange.status, 422);
  const rename = await call(nova, 'PATCH', `/v1/people/saml/idps/${idp.id}`, { tok: adminTok, body: { group_attribute: 'groups' } });
  assert.equal(rename.status, 200, rename.text);
  // Another tenant sees none of it.
  assert.equal((await call(nova, 'GET', `/v1/people/saml/idps/${idp.id}`, { tok: adminTokB })).status, 404);
  assert.deepEqual((await call(nova, 'GET', '/v1/people/saml/idps', { tok: adminTokB })).json.idps, []);
  assert.equal((await fetch(`${novaBase}/auth/saml/metadata?tenant_id=${tenantB.tenant}&idp=${idp.id}`)).status, 404);
});

test('metadata_url: fetched with libcurl; an unreachable one is a 502', async () => {
  // The IdP's metadata served at a URL of its own (a second IdP entity, the other key).
  const alt = samlify.IdentityProvider({ entityID: `${idpBase}/alt`, signingCert: otherCert,
    singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${idpBase}/sso` }] });
  const srv = httpServer((req, res) => { res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }); res.end(alt.getMetadata()); });
  const port = await freePort();
  await new Promise((ok) => srv.listen(port, '127.0.0.1', ok));
  try {
    const r = await call(nova, 'POST', '/v1/people/saml/idps', { tok: adminTok, body: { metadata_url: `http://localhost:${port}/md` } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.entity_id, `${idpBase}/alt`);
    assert.equal(r.json.metadata_url, `http://localhost:${port}/md`);
  } finally {
    srv.close();
  }
  const gone = await call(nova, 'POST', '/v1/people/saml/idps', { tok: adminTok, body: { metadata_url: `http://localhost:${await freePort()}/md` } });
  assert.equal(gone.status, 502, gone.text);
});

test('an https metadata_url on a non-public address is refused before it connects, unless NOVA_OIDC_ALLOW_PRIVATE', async () => {
  // The guard of OIDC's fetches (people_http_fetch): loopback by name and literal, metadata
  // and RFC 1918 literals.
  const port = await freePort();
  for (const url of [`https://localhost:${port}/md`, `https://127.0.0.1:${port}/md`, 'https://169.254.169.254/md', 'https://10.0.0.1/md', 'https://[::1]:9/md']) {
    const t0 = Date.now();
    const r = await call(nova, 'POST', '/v1/people/saml/idps', { tok: adminTok, body: { metadata_url: url } });
    assert.equal(r.status, 502, `${url}: ${r.text}`);
    assert.match(r.json.detail, /not public/, url);
    assert.ok(Date.now() - t0 < 4000, `${url} refused at once (no connect timeout)`);
  }
  // Allowed: the fetch goes out (and fails here, nothing listening).
  const open = await startNova({ NOVA_OIDC_ALLOW_PRIVATE: 'true' });
  try {
    const t = makeTenant(open, 'saml-open-' + Date.now(), 'users:write');
    const tk = await token(open, t);
    const r = await call(open, 'POST', '/v1/people/saml/idps', { tok: tk, body: { metadata_url: `https://127.0.0.1:${port}/md` } });
    assert.equal(r.status, 502, r.text);
    assert.match(r.json.detail, /could not be fetched/);
  } finally {
    await open.stop();
  }
});

test('Chromium signs in through samlify: AuthnRequest verified by the IdP, user provisioned by (entity, NameID), groups mapped', async () => {
  const { page: p, status } = await browserLogin('ada');
  assert.equal(status, 200);
  const g = await grantOf(p);
  assert.equal(g.aal, 1);
  assert.deepEqual(g.amr, ['fed']);
  assert.equal(g.tenant_id, tenant.tenant);
  const me = await call(nova, 'GET', '/auth/session', { tok: g.access_token });
  assert.equal(me.status, 200, me.text);
  const user = await call(nova, 'GET', `/v1/users/${me.json.user_id}`, { tok: adminTok });
  assert.equal(user.json.email, 'ada@saml.example');
  assert.equal(user.json.name, 'Ada S');
  // engineering -> engineer; contractors -> vendor (open time box); contractor's box has ended.
  assert.deepEqual(user.json.roles, ['engineer', 'vendor']);
  const ref = await call(nova, 'POST', '/auth/refresh', { body: { refresh_token: g.refresh_token } });
  assert.equal(ref.status, 200, ref.text);
  await p.close();
  // Again: the same user, no second account.
  const again = await browserLogin('ada');
  const g2 = await grantOf(again.page);
  const me2 = await call(nova, 'GET', '/auth/session', { tok: g2.access_token });
  assert.equal(me2.json.user_id, me.json.user_id);
  await again.page.close();
  const users = await call(nova, 'GET', '/v1/users', { tok: adminTok });
  assert.equal(users.json.users.filter((u) => u.email === 'ada@saml.example').length, 1);
  const audit = await call(nova, 'GET', '/v1/audit?limit=100', { tok: adminTok });
  const actions = audit.json.entries.map((e) => e.action);
  for (const a of ['saml_idp.create', 'session.create', 'user.create', 'user.saml_link']) assert.ok(actions.includes(a), a);
  for (const secret of [g.access_token, g.refresh_token, lastResponse]) {
    assert.ok(!audit.text.includes(secret));
    assert.ok(!nova.logs().includes(secret));
  }
});

test('a replayed Response is refused (the assertion is single use)', async () => {
  const { page: p, status } = await browserLogin('bob');
  assert.equal(status, 200);
  await p.close();
  const replay = await fetch(idp.acs_url, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ SAMLResponse: lastResponse }),
  });
  assert.equal(replay.status, 401);
  assert.equal((await replay.json()).code, 'saml_replayed_assertion');
});

test('a tampered assertion (its signature broken) is refused', async () => {
  await refusedWith('cyd', { tamper: true }, 401, 'saml_invalid_signature');
  const users = await call(nova, 'GET', '/v1/users', { tok: adminTok });
  assert.ok(!users.text.includes('mallory@'));
});

test('an assertion for another audience is refused', async () => {
  await refusedWith('cyd', { audience: 'https://other-sp.example/metadata' }, 401, 'saml_invalid_audience');
});

test('an expired assertion is refused', async () => {
  await refusedWith('cyd', { expired: true }, 401, 'saml_assertion_expired');
});

test('an unsigned assertion is refused, even inside a signed Response', async () => {
  await refusedWith('cyd', { unsignedAssertion: true }, 401, 'saml_unsigned_assertion');
});

test('a Recipient other than this ACS, an answer to no request of novad, another key: refused', async () => {
  await refusedWith('cyd', { recipient: 'https://other-sp.example/acs' }, 401, 'saml_invalid_destination');
  await refusedWith('cyd', { inResponseTo: '_never-issued' }, 400, 'saml_unknown_request');
  await refusedWith('cyd', { otherKey: true }, 401, 'saml_invalid_signature');
  // Nothing refused made a user.
  const users = await call(nova, 'GET', '/v1/users', { tok: adminTok });
  assert.ok(!users.text.includes('cyd@saml.example'));
});

test('garbage at the ACS is a 400 problem; an unknown IdP a 404', async () => {
  const post = (url, body) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body });
  const g = await post(idp.acs_url, 'SAMLResponse=' + encodeURIComponent(Buffer.from('<x/>').toString('base64')));
  assert.equal(g.status, 400);
  assert.equal((await g.json()).code, 'saml_malformed_response');
  const nb = await post(idp.acs_url, 'SAMLResponse=%3Cnot-base64%3E');
  assert.equal(nb.status, 400);
  const missing = await post(idp.acs_url, 'RelayState=x');
  assert.equal(missing.status, 400);
  const unknown = await post(`${novaBase}/auth/saml/acs/${tenant.tenant}/sidp_nope`, 'SAMLResponse=eA==');
  assert.equal(unknown.status, 404);
  assert.equal((await unknown.json()).code, 'saml_unknown_idp');
  const login = await fetch(`${novaBase}/auth/saml/login?tenant_id=${tenant.tenant}&idp=sidp_nope`, { redirect: 'manual' });
  assert.equal(login.status, 404);
});

test('refusals are counted by reason and audited without what the IdP sent', async () => {
  const m = await fetch(novaBase + '/metrics', { headers: { authorization: 'Bearer ' + METRICS } });
  const text = await m.text();
  const val = (reason) => Number((text.match(new RegExp(`nova_people_federation_failures_total\\{protocol="saml",reason="${reason}"\\} (\\d+)`)) || [])[1]);
  for (const r of ['signature', 'audience', 'expired', 'replay', 'unsigned', 'destination', 'in_response_to', 'malformed', 'unknown_idp'])
    assert.ok(val(r) >= 1, `${r}: ${val(r)}`);
  assert.match(text, /nova_people_federation_logins_total\{protocol="saml"\} [3-9]/);
  assert.match(text, /nova_people_provisioned_total\{protocol="saml",change="created"\} [1-9]/);
  const audit = await call(nova, 'GET', '/v1/audit?limit=200', { tok: adminTok });
  const failed = audit.json.entries.filter((e) => e.action === 'saml.login_failed');
  assert.ok(failed.length >= 6, String(failed.length));
  assert.ok(!audit.text.includes('cyd@saml.example'));
  assert.ok(!audit.text.includes('mallory@'));
});

test('new IdP metadata (a signing key rollover) takes effect at the next login', async () => {
  // The same IdP entity with the other certificate: novad keeps a Lasso server per IdP and
  // must not keep trusting the old key after the PATCH.
  const rolled = await call(nova, 'PATCH', `/v1/people/saml/idps/${idp.id}`, { tok: adminTok, body: { metadata_xml: samlIdpOther.getMetadata() } });
  assert.equal(rolled.status, 200, rolled.text);
  await refusedWith('bob', {}, 401, 'saml_invalid_signature');
  const { page: p, status } = await browserLogin('bob', { otherKey: true });
  assert.equal(status, 200);
  await grantOf(p);
  await p.close();
  const back = await call(nova, 'PATCH', `/v1/people/saml/idps/${idp.id}`, { tok: adminTok, body: { metadata_xml: samlIdp.getMetadata() } });
  assert.equal(back.status, 200, back.text);
  const again = await browserLogin('bob');
  assert.equal(again.status, 200);
  await again.page.close();
});

// A tenant of its own with this IdP: its SP (key, entity, ACS) becomes the one the IdP's
// pages answer until the returned restore() is called.
async function ownTenantIdp(name, extra = {}) {
  const t = makeTenant(nova, `${name}-${Date.now()}`, 'users:read users:write audit:read security:write');
  const tok = await token(nova, t);
  const r = await call(nova, 'POST', '/v1/people/saml/idps', { tok, body: { metadata_xml: samlIdp.getMetadata(), ...extra } });
  assert.equal(r.status, 201, r.text);
  const saved = { idp, spMetadata };
  idp = r.json;
  spMetadata = await (await fetch(novaBase + idp.sp_metadata_path)).text();
  return { t, tok, idp: r.json, restore: () => { ({ idp, spMetadata } = saved); } };
}

test('DELETE of a SAML IdP: its sessions end at once, later logins and one under way are refused; audited', async () => {
  const own = await ownTenantIdp('saml-del');
  try {
    const { page: p, status } = await browserLogin('ada');
    assert.equal(status, 200);
    const g = await grantOf(p);
    await p.close();
    assert.equal((await call(nova, 'GET', '/auth/session', { tok: g.access_token })).status, 200);
    // A login left at the IdP's auto-posting form when the IdP goes.
    mode = {};
    const q = await browser.newPage();
    await q.goto(novaBase + idp.login_path);
    await q.fill('input[name=login]', 'bob');
    await q.click('button[type=submit]');
    await q.waitForSelector('#continue');
    assert.equal((await call(nova, 'DELETE', `/v1/people/saml/idps/${own.idp.id}`, { tok: adminTokB })).status, 404);
    const del = await call(nova, 'DELETE', `/v1/people/saml/idps/${own.idp.id}`, { tok: own.tok });
    assert.equal(del.status, 204, del.text);
    const gone = await call(nova, 'GET', '/auth/session', { tok: g.access_token });
    assert.equal(gone.status, 401, gone.text);
    assert.equal((await call(nova, 'POST', '/auth/refresh', { body: { refresh_token: g.refresh_token } })).status, 401);
    const [resp] = await Promise.all([
      q.waitForResponse((r) => r.url().startsWith(`${novaBase}/auth/saml/acs/`)),
      q.click('#continue'),
    ]);
    assert.equal(resp.status(), 404);
    assert.equal((await resp.json()).code, 'saml_unknown_idp');
    await q.close();
    const start = await fetch(novaBase + own.idp.login_path, { redirect: 'manual' });
    assert.equal(start.status, 404);
    assert.equal((await start.json()).code, 'saml_unknown_idp');
    assert.equal((await call(nova, 'GET', `/v1/people/saml/idps/${own.idp.id}`, { tok: own.tok })).status, 404);
    assert.equal((await call(nova, 'DELETE', `/v1/people/saml/idps/${own.idp.id}`, { tok: own.tok })).status, 404);
    assert.equal((await fetch(novaBase + own.idp.sp_metadata_path)).status, 404);
    const ses = await call(nova, 'GET', '/v1/sessions?include_revoked=true', { tok: own.tok });
    assert.equal(ses.status, 200, ses.text);
    const fed = ses.json.sessions.find((x) => x.idp_id === own.idp.id);
    assert.ok(fed, ses.text);
    assert.equal(fed.revoked_reason, 'idp_deleted');
    const audit = await call(nova, 'GET', '/v1/audit?limit=100', { tok: own.tok });
    const e = audit.json.entries.find((x) => x.action === 'saml_idp.delete');
    assert.ok(e, 'saml_idp.delete audited');
    assert.equal(e.attrs.sessions_revoked, 1, JSON.stringify(e));
    assert.ok(!audit.text.includes('PRIVATE KEY'));
    assert.ok(!audit.text.includes('ada@saml.example'));
  } finally {
    own.restore();
  }
});

test('AuthnContextClassRef -> AAL: a two-factor class passes a tenant requiring MFA, a password class does not; RequestedAuthnContext asked for', async () => {
  const TST = 'urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken';
  const PPT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
  const own = await ownTenantIdp('saml-aal', { requested_authn_contexts: [TST], authn_context_comparison: 'minimum' });
  try {
    assert.ok(own.idp.mfa_authn_contexts.includes(TST), JSON.stringify(own.idp));
    assert.ok(!own.idp.mfa_authn_contexts.includes(PPT));
    assert.deepEqual(own.idp.requested_authn_contexts, [TST]);
    assert.equal(own.idp.authn_context_comparison, 'minimum');
    for (const body of [{ mfa_authn_contexts: 'x' }, { mfa_authn_contexts: ['has space'] }, { mfa_authn_contexts: ['<x>'] },
      { requested_authn_contexts: Array(17).fill(TST) }, { authn_context_comparison: 'sometimes' }, { authn_context_comparison: 1 }]) {
      const r = await call(nova, 'PATCH', `/v1/people/saml/idps/${own.idp.id}`, { tok: own.tok, body });
      assert.equal(r.status, 422, JSON.stringify(body) + r.text);
      assert.match(r.headers.get('content-type'), /problem\+json/);
    }
    const put = await call(nova, 'PUT', `/v1/tenants/${own.t.tenant}/security`, { tok: own.tok, body: { mfa_required_for_all_users: true } });
    assert.equal(put.status, 200, put.text);
    // The IdP authenticated with a one-time-password token: AAL2, admitted under the MFA rule.
    const { page: p, status } = await browserLogin('ada', { authnContext: TST });
    assert.equal(status, 200);
    const g = await grantOf(p);
    await p.close();
    assert.equal(g.aal, 2);
    assert.deepEqual(g.amr, ['fed', 'mfa']);
    assert.equal((await call(nova, 'GET', '/auth/session', { tok: g.access_token })).json.aal, 2);
    // novad asked for it (a wish the IdP may ignore: only the assertion counts).
    assert.match(lastRequest, /RequestedAuthnContext[^>]*Comparison="minimum"/);
    assert.ok(lastRequest.includes(`AuthnContextClassRef>${TST}<`), lastRequest);
    // A password at the IdP: AAL1, refused by the tenant's rule.
    const refused = await refusedWith('bob', {}, 403, 'saml_mfa_required');
    assert.match(refused.detail, /mfa_authn_contexts/);
    // The tenant decides what counts: now the password class does, and nothing else.
    const patched = await call(nova, 'PATCH', `/v1/people/saml/idps/${own.idp.id}`, { tok: own.tok, body: { mfa_authn_contexts: [PPT], requested_authn_contexts: [] } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(patched.json.mfa_authn_contexts, [PPT]);
    const bob = await browserLogin('bob');
    assert.equal(bob.status, 200);
    assert.equal((await grantOf(bob.page)).aal, 2);
    await bob.page.close();
    assert.ok(!lastRequest.includes('RequestedAuthnContext'), lastRequest);
    await refusedWith('cyd', { authnContext: TST }, 403, 'saml_mfa_required');
  } finally {
    own.restore();
  }
});

// The SessionIndex of the assertion in a base64 Response (the IdP's session it names).
const sessionIndexOf = (b64) => /SessionIndex="([^"]+)"/.exec(Buffer.from(b64, 'base64').toString('utf8'))[1];

test('Single Logout through samlify: IdP-initiated and SP-initiated (HTTP-Redirect, signed both ways); unsigned, tampered, foreign and replayed messages refused', { timeout: 120000 }, async () => {
  const own = await ownTenantIdp('saml-slo');
  const ctx = await browser.newContext();
  try {
    assert.equal(own.idp.slo_url, `${novaBase}/auth/saml/slo/${own.t.tenant}/${own.idp.id}`);
    assert.ok(spMetadata.includes(`<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${own.idp.slo_url}"/>`), spMetadata);
    const sp = samlify.ServiceProvider({ metadata: spMetadata });
    assert.equal(sp.entityMeta.getSingleLogoutService('redirect'), own.idp.slo_url);
    // Two sign-ins of ada (two IdP sessions, two SessionIndexes), one of bob.
    const signIn = async (user) => {
      const r = await browserLogin(user);
      assert.equal(r.status, 200);
      const g = await grantOf(r.page);
      await r.page.context().close();
      return { g, si: sessionIndexOf(lastResponse) };
    };
    const a1 = await signIn('ada'), a2 = await signIn('ada'), b = await signIn('bob');
    assert.notEqual(a1.si, a2.si);
    const live = async (s) => (await call(nova, 'GET', '/auth/session', { tok: s.g.access_token })).status;
    // IdP-initiated: the IdP ends ada's first session; novad ends it and answers signed.
    const p = await ctx.newPage();
    await p.goto(`${idpBase}/idp-logout?user=ada&si=${encodeURIComponent(a1.si)}`);
    await p.waitForSelector('#idp-signed-out', { state: 'attached' });
    assert.equal(slo.responses.length, 1);
    const lr = slo.responses[0].extract;
    assert.equal(lr.response.inResponseTo, slo.lastRequestId);
    assert.equal(lr.issuer, own.idp.sp_entity_id);
    assert.match(slo.responses[0].samlContent, /urn:oasis:names:tc:SAML:2.0:status:Success/);
    assert.equal(await live(a1), 401);
    assert.equal((await call(nova, 'POST', '/auth/refresh', { body: { refresh_token: a1.g.refresh_token } })).status, 401);
    assert.equal(await live(a2), 200, 'another IdP session of the same person lives');
    assert.equal(await live(b), 200);
    const requestUrl = slo.sent[0];
    assert.ok(requestUrl.startsWith(own.idp.slo_url + '?SAMLRequest='), requestUrl);
    const refused = async (url, status, code) => {
      const r = await fetch(url, { redirect: 'manual' });
      assert.equal(r.status, status, url);
      assert.match(r.headers.get('content-type'), /problem\+json/);
      assert.equal(r.headers.get('cache-control'), 'no-store');
      const j = await r.json();
      assert.equal(j.code, code, JSON.stringify(j));
      return j;
    };
    // The same request again: its ID is spent.
    const replay = await refused(requestUrl, 401, 'saml_replayed_assertion');
    assert.match(replay.detail, /replay/);
    // Unsigned (the signature's parameters taken off), a Signature changed, a byte of the
    // message changed, signed by a key the metadata does not name, from another entity.
    const fresh = async (signer = '') => {
      const r = await fetch(`${idpBase}/idp-logout?user=ada&si=${encodeURIComponent(a2.si)}${signer ? '&signer=' + signer : ''}`, { redirect: 'manual' });
      assert.equal(r.status, 302);
      return r.headers.get('location');
    };
    const u1 = new URL(await fresh());
    u1.searchParams.delete('SigAlg');
    u1.searchParams.delete('Signature');
    await refused(u1.toString(), 401, 'saml_unsigned_assertion');
    const u2 = await fresh();
    const sig = /Signature=([^&]+)/.exec(u2)[1];
    await refused(u2.replace(sig, sig.startsWith('A') ? 'B' + sig.slice(1) : 'A' + sig.slice(1)), 401, 'saml_invalid_signature');
    const u3 = await fresh();
    const msg = /SAMLRequest=([^&]+)/.exec(u3)[1];
    const bent = msg.slice(0, 20) + (msg[20] === 'A' ? 'B' : 'A') + msg.slice(21);
    const t = await fetch(u3.replace(msg, bent), { redirect: 'manual' });
    assert.ok([400, 401].includes(t.status), String(t.status));
    assert.match((await t.json()).code, /^saml_(invalid_signature|malformed_response)$/);
    await refused(await fresh('other'), 401, 'saml_invalid_signature');
    await refused(await fresh('stranger'), 401, 'saml_invalid_issuer');
    await refused(`${own.idp.slo_url}?RelayState=x`, 400, 'saml_malformed_response');
    await refused(`${novaBase}/auth/saml/slo/${own.t.tenant}/sidp_nope?${new URL(await fresh()).search.slice(1)}`, 404, 'saml_unknown_idp');
    await refused(`${novaBase}/auth/saml/slo/${tenantB.tenant}/${own.idp.id}?${new URL(await fresh()).search.slice(1)}`, 404, 'saml_unknown_idp');
    // HTTP-POST: the IdP's LogoutRequest posted as a form, signed inside the XML (samlify's
    // 'post' binding; a NameID linked to nobody, so no session ends), is answered over
    // HTTP-Redirect (the IdP offers it); posted again it is a replay; altered, refused.
    const spPost = samlify.ServiceProvider({ metadata: spMetadata, wantLogoutRequestSigned: true, wantLogoutResponseSigned: true });
    const pr = samlIdp.createLogoutRequest(spPost, 'post', { logoutNameID: 'nobody@saml.example', sessionIndex: '_none' });
    assert.equal(pr.entityEndpoint, own.idp.slo_url);
    assert.match(Buffer.from(pr.context, 'base64').toString(), /SignatureValue/);
    const postSlo = (v) => fetch(own.idp.slo_url, { method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'SAMLRequest=' + encodeURIComponent(v) });
    const p1 = await postSlo(pr.context);
    assert.equal(p1.status, 302, await p1.text());
    assert.ok(p1.headers.get('location').startsWith(`${idpBase}/slo?SAMLResponse=`), p1.headers.get('location'));
    const p2 = await postSlo(pr.context);
    assert.equal(p2.status, 401);
    assert.equal((await p2.json()).code, 'saml_replayed_assertion');
    const altered = Buffer.from(pr.context, 'base64').toString().replace('nobody@saml.example', 'nobodz@saml.example');
    const p3 = await postSlo(Buffer.from(altered).toString('base64'));
    assert.equal(p3.status, 401);
    assert.equal((await p3.json()).code, 'saml_invalid_signature');
    assert.equal(await live(a2), 200, 'a2 survived every refusal');
    // SP-initiated: bob signs out at novad; his session ends, the browser carries novad's
    // signed LogoutRequest to the IdP (samlify verifies it) and its signed answer back.
    const out = await call(nova, 'POST', '/auth/saml/logout', { tok: b.g.access_token });
    assert.equal(out.status, 200, out.text);
    assert.ok(out.json.logout_url.startsWith(`${idpBase}/slo?SAMLRequest=`), out.text);
    assert.match(out.json.logout_url, /SigAlg=http%3A%2F%2Fwww\.w3\.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256/);
    assert.equal(await live(b), 401);
    assert.equal((await call(nova, 'POST', '/auth/refresh', { body: { refresh_token: b.g.refresh_token } })).status, 401);
    const [back] = await Promise.all([
      p.waitForResponse((r) => r.url().startsWith(own.idp.slo_url)),
      p.goto(out.json.logout_url),
    ]);
    assert.equal(back.status(), 200);
    await p.waitForSelector('#nova-status', { state: 'attached' });
    assert.equal(await p.textContent('#nova-status'), 'Signed out.');
    assert.equal(slo.requests.length, 1);
    const rq = slo.requests[0].extract;
    assert.equal(rq.nameID, 'bob@saml.example');
    assert.equal(rq.sessionIndex, b.si);
    assert.equal(rq.issuer, own.idp.sp_entity_id);
    // The IdP's answer again: the request it answers is spent.
    await refused(slo.sent[slo.sent.length - 1], 400, 'saml_unknown_request');
    // ada's other session signs out the same way; a second logout of it is a 401.
    assert.ok((await call(nova, 'POST', '/auth/saml/logout', { tok: a2.g.access_token })).json.logout_url.startsWith(`${idpBase}/slo?`));
    assert.equal((await call(nova, 'POST', '/auth/saml/logout', { tok: a2.g.access_token })).status, 401);
    const audit = await call(nova, 'GET', '/v1/audit?limit=200', { tok: own.tok });
    const done = audit.json.entries.filter((e) => e.action === 'session.saml_logout');
    assert.equal(done.length, 1, audit.text);
    assert.equal(done[0].actor, `saml:${own.idp.id}`);
    assert.equal(done[0].attrs.sessions, 1);
    const failed = audit.json.entries.filter((e) => e.action === 'saml.logout_failed').map((e) => e.attrs.reason);
    for (const r of ['replay', 'unsigned', 'signature', 'issuer', 'malformed', 'in_response_to']) assert.ok(failed.includes(r), `${r} in ${failed}`);
    for (const secret of [a1.si, b.si, 'bob@saml.example', rq.request?.id].filter(Boolean)) {
      assert.ok(!audit.text.includes(secret), secret);
      assert.ok(!nova.logs().includes(secret), secret);
    }
    const m = await (await fetch(novaBase + '/metrics', { headers: { authorization: 'Bearer ' + METRICS } })).text();
    assert.match(m, /nova_people_federation_failures_total\{protocol="saml",reason="replay"\} [1-9]/);
  } finally {
    await Promise.race([ctx.close(), new Promise((ok) => setTimeout(ok, 5000))]);
    own.restore();
  }
});
