// People as decision subjects (issues 7 and 11): a user access token (aud nova:people) at
// Nova's own /v1 routes. People have no scopes, so a route reaches them only where the
// tenant's promoted policy maps it in http.routes; the subject is user:<id> at the session's
// AAL with the user's roles, checked against the tenant's relationship tuples and rules. A
// policy's step_up answer is the request-bound 403 MFA_REQUIRED of the people issue: the
// challenge names exactly this request, and the AAL2 token /auth/mfa/complete gives admits that
// one request once. ext_authz sees people the same way (step-up there is a 401, as for clients).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startNova, makeTenant, token, call } from './lib.mjs';
import { totpCode as totp } from './people_audit.mjs';

const METRICS = 'authz-users-metrics-0123456789';
let nova, app, tok, other, otherTok, acctA, acctB, store, model, ada, bob, adaTok, bobTok, adaTotp;

const MODEL = {
  schema_version: '1.1',
  type_definitions: [
    { type: 'user' },
    { type: 'client' },
    {
      type: 'account',
      relations: { viewer: { this: {} }, operator: { this: {} } },
      metadata: {
        relations: {
          viewer: { directly_related_user_types: [{ type: 'user' }, { type: 'client' }] },
          operator: { directly_related_user_types: [{ type: 'user' }] },
        },
      },
    },
  ],
};

const bundle = () => ({
  store_id: store,
  authorization_model_id: model,
  actions: {
    'account.read': { relation: 'viewer', resource_types: ['account'] },
    'account.set_status': { relation: 'operator', resource_types: ['account'] },
  },
  rules: [
    // roles are the person's: only tellers read accounts (clients pass this rule)
    { id: 'tellers', effect: 'require', actions: ['account.read'], when: "subject.type != 'user' || 'teller' in subject.roles" },
    { id: 'risky', effect: 'step_up', aal: 2, when: "has(context.risk) && context.risk == 'high'" },
    // freezing or opening an account always needs a second factor, for that one request
    { id: 'status_needs_mfa', effect: 'step_up', aal: 2, actions: ['account.set_status'], when: 'true' },
  ],
  http: {
    subject_type: 'client',
    user_subject_type: 'user',
    routes: [
      { method: 'GET', path: '/v1/core/accounts/{id}', action: 'account.read', resource_type: 'account' },
      { method: 'PUT', path: '/v1/core/accounts/{id}/status', action: 'account.set_status', resource_type: 'account' },
      { method: 'GET', path: '/v1/authz/policies/{id}', action: 'account.read', resource_type: 'account' },
    ],
  },
});

const nowStep = () => Math.floor(Date.now() / 1000 / 30);

async function account(t) {
  const r = await call(nova, 'POST', '/v1/core/accounts', { tok: t, body: { currency: 'KES', type: 'customer_wallet' } });
  assert.equal(r.status, 201, r.text);
  return r.json.id;
}
async function user(email, roles) {
  const r = await call(nova, 'POST', '/v1/users', { tok, body: { email, roles, password: 'a long enough passphrase' } });
  assert.equal(r.status, 201, r.text);
  return r.json;
}
async function login(email) {
  const r = await call(nova, 'POST', '/auth/login', { body: { tenant_id: app.tenant, email, password: 'a long enough passphrase' } });
  assert.equal(r.status, 200, r.text);
  return r.json.access_token;
}
const tuple = (u, relation, object) => call(nova, 'POST', `/stores/${store}/write`, { tok, body: { writes: { tuple_keys: [{ user: u, relation, object }] } } });

before(async () => {
  nova = await startNova({ NOVA_METRICS_TOKEN: METRICS });
  const scopes = 'ledger:read ledger:write fga:read fga:write policy:read policy:write users:read users:write audit:read';
  app = makeTenant(nova, 'users-authz-' + Date.now(), scopes);
  other = makeTenant(nova, 'users-authz-other-' + Date.now(), scopes);
  tok = await token(nova, app);
  otherTok = await token(nova, other);
  acctA = await account(tok);
  acctB = await account(tok);
  ada = await user('ada@example.com', ['teller']);
  bob = await user('bob@example.com', ['auditor']);
  adaTok = await login('ada@example.com');
  bobTok = await login('bob@example.com');
  const s = await call(nova, 'POST', '/stores', { tok, body: { name: 'people' } });
  assert.equal(s.status, 201, s.text);
  store = s.json.id;
  const m = await call(nova, 'POST', `/stores/${store}/authorization-models`, { tok, body: MODEL });
  assert.equal(m.status, 201, m.text);
  model = m.json.authorization_model_id;
  for (const [u, rel, obj] of [[`user:${ada.id}`, 'viewer', `account:${acctA}`], [`user:${ada.id}`, 'operator', `account:${acctA}`],
    [`user:${bob.id}`, 'viewer', `account:${acctA}`], [`client:${app.id}`, 'viewer', `account:${acctA}`]]) {
    const w = await tuple(u, rel, obj);
    assert.equal(w.status, 200, w.text);
  }
  // Ada enrols TOTP: her session stays AAL1 until a step-up.
  const e = await call(nova, 'POST', '/auth/totp/enroll', { tok: adaTok });
  assert.equal(e.status, 201, e.text);
  const step = nowStep();
  const c = await call(nova, 'POST', '/auth/totp/confirm', { tok: adaTok, body: { code: totp(e.json.secret, step) } });
  assert.equal(c.status, 200, c.text);
  adaTotp = { secret: e.json.secret, step };
});
after(async () => { await nova.stop(); });

const refused = (r, status, code) => {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type'), /problem\+json/);
  assert.equal(r.json.code, code, r.text);
  return r.json;
};

test('without a policy no /v1 route admits a person, whatever it is', async () => {
  refused(await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok: adaTok }), 403, 'user_route_not_mapped');
  refused(await call(nova, 'GET', '/v1/users', { tok: adaTok }), 403, 'user_route_not_mapped');
  // the client of the tenant is decided by its scope as before
  assert.equal((await call(nova, 'GET', `/v1/core/accounts/${acctB}`, { tok })).status, 200);
  const p = await call(nova, 'POST', '/v1/authz/policies', { tok, body: bundle() });
  assert.equal(p.status, 201, p.text);
  const pr = await call(nova, 'POST', `/v1/authz/policies/${p.json.version}/promote`, { tok });
  assert.equal(pr.status, 200, pr.text);
});

test('a mapped route decides a person by relation and roles; unmapped routes stay closed to people', async () => {
  const r = await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok: adaTok });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.id, acctA);
  // no tuple for B
  assert.match(refused(await call(nova, 'GET', `/v1/core/accounts/${acctB}`, { tok: adaTok }), 403, 'policy_denied').detail, /relation \(no_relation\)/);
  // Bob views A by a tuple but is no teller: the rule refuses him
  assert.match(refused(await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok: bobTok }), 403, 'policy_denied').detail, /denied by rule \(rule_not_met\)/);
  // routes the policy does not map, and the policy lifecycle however mapped: never for people
  refused(await call(nova, 'GET', '/v1/core/accounts', { tok: adaTok }), 403, 'user_route_not_mapped');
  refused(await call(nova, 'GET', '/v1/authz/policies/1', { tok: adaTok }), 403, 'user_route_not_mapped');
  refused(await call(nova, 'GET', '/v1/users', { tok: adaTok }), 403, 'user_route_not_mapped');
  // the client is still decided as a client (its tuple on A, no role rule for it)
  assert.equal((await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok })).status, 200);
  // a user token under the DPoP scheme is no user token (and no DPoP-bound token either)
  assert.equal((await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { headers: { authorization: 'DPoP ' + adaTok } })).status, 401);
  // a user token of another tenant meets its own tenant's policy (none): closed
  const o = await call(nova, 'POST', '/v1/users', { tok: otherTok, body: { email: 'eve@example.com', roles: ['teller'], password: 'a long enough passphrase' } });
  assert.equal(o.status, 201, o.text);
  const ol = await call(nova, 'POST', '/auth/login', { body: { tenant_id: other.tenant, email: 'eve@example.com', password: 'a long enough passphrase' } });
  assert.equal(ol.status, 200, ol.text);
  refused(await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok: ol.json.access_token }), 403, 'user_route_not_mapped');
  // a forged user token (payload changed) is refused as a token
  const [h, pl, sg] = adaTok.split('.');
  const claims = JSON.parse(Buffer.from(pl, 'base64url'));
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: bob.id })).toString('base64url')}.${sg}`;
  refused(await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok: forged }), 401, 'invalid_token');
});

test("a policy's step-up is the request-bound MFA_REQUIRED: one token, that request, once", async () => {
  const body = JSON.stringify({ status: 'frozen', reason: 'fraud review' });
  const put = (t, b = body, acct = acctA) => call(nova, 'PUT', `/v1/core/accounts/${acct}/status`, { tok: t, body: JSON.parse(b) });
  const denied = await put(adaTok);
  assert.equal(denied.status, 403, denied.text);
  assert.equal(denied.json.error, 'MFA_REQUIRED');
  assert.equal(denied.json.required_aal, 2);
  const ch = JSON.parse(Buffer.from(denied.json.challenge.split('.')[1], 'base64url'));
  assert.equal(ch.sub, ada.id);
  assert.equal(ch.tid, app.tenant);
  // the account is not frozen
  assert.equal((await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok })).json.status, 'open');
  const done = await call(nova, 'POST', '/auth/mfa/complete', { tok: adaTok, body: { challenge: denied.json.challenge, method: 'PUT', path: `/v1/core/accounts/${acctA}/status`, body, totp_code: totp(adaTotp.secret, adaTotp.step + 1) } });
  assert.equal(done.status, 200, done.text);
  const up = done.json.access_token;
  const upClaims = JSON.parse(Buffer.from(up.split('.')[1], 'base64url'));
  assert.equal(upClaims.cnf.orig, ch.origHash);
  // another body, another account, another route: not this token's request
  assert.equal((await put(up, JSON.stringify({ status: 'closed', reason: 'fraud review' }))).json.error, 'MFA_REQUIRED');
  assert.equal((await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok: up })).json.error, 'MFA_REQUIRED');
  // nor a pass at ext_authz for another service (Envoy sends no body to bind it to)
  refused(await call(nova, 'GET', `/ext-authz/v1/core/accounts/${acctA}`, { tok: up }), 403, 'step_up_token_not_accepted');
  // its own request: done, and audited with Ada as the actor
  const ok = await put(up);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.status, 'frozen');
  // once only
  const again = await put(up);
  assert.equal(again.status, 403);
  assert.equal(again.json.error, 'MFA_REQUIRED');
  assert.match(again.json.detail, /used already/);
  const audit = await call(nova, 'GET', '/v1/audit?limit=50', { tok });
  const e = audit.json.entries.find((x) => x.target === 'account:' + acctA && x.actor === ada.id);
  assert.ok(e, audit.text);
  assert.ok(!audit.text.includes(up) && !audit.text.includes(adaTok));
  // Bob has no operator tuple: the relation refuses him before any step-up
  assert.match(refused(await put(bobTok), 403, 'policy_denied').detail, /relation/);
  // high risk on a read: step-up too
  const risky = await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok: adaTok, headers: { 'x-nova-risk': 'high' } });
  assert.equal(risky.status, 403);
  assert.equal(risky.json.error, 'MFA_REQUIRED');
  assert.equal(JSON.parse(Buffer.from(risky.json.challenge.split('.')[1], 'base64url')).origHash,
    createHash('sha256').update(`GET|/v1/core/accounts/${acctA}|`).digest('base64url'));
});

test("a just-in-time credential's role counts as the person's role while it lasts", async () => {
  const carol = await user('carol@example.com', ['access-approver']);
  const carolTok = await login('carol@example.com');
  // Bob is no teller: refused by the role rule
  refused(await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok: bobTok }), 403, 'policy_denied');
  const q = await call(nova, 'POST', '/auth/access-requests', { tok: bobTok, body: { role: 'teller', reason: 'cover the counter during the audit', ticket: 'CHG-7', duration_seconds: 600 } });
  assert.equal(q.status, 201, q.text);
  assert.equal((await call(nova, 'POST', `/auth/access-requests/${q.json.id}/approve`, { tok: carolTok })).status, 200);
  const cred = await call(nova, 'POST', `/auth/access-requests/${q.json.id}/activate`, { tok: bobTok });
  assert.equal(cred.status, 200, cred.text);
  const r = await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok: cred.json.access_token });
  assert.equal(r.status, 200, r.text);
  // his own token still has only his own roles; Carol has no tuple on A
  refused(await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok: bobTok }), 403, 'policy_denied');
  assert.equal((await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok: carolTok })).status, 403);
  assert.equal(carol.roles[0], 'access-approver');
});

test('ext_authz decides a person as user:<id>; a suspended person is refused; metrics count the closed routes', async () => {
  let r = await call(nova, 'GET', `/ext-authz/v1/core/accounts/${acctA}`, { tok: adaTok });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-nova-principal-id'), ada.id);
  r = await call(nova, 'GET', `/ext-authz/v1/core/accounts/${acctB}`, { tok: adaTok });
  assert.equal(r.status, 403);
  r = await call(nova, 'GET', `/ext-authz/v1/core/accounts/${acctA}`, { tok: adaTok, headers: { 'x-nova-risk': 'high' } });
  assert.equal(r.status, 401);
  assert.equal(r.json.code, 'step_up_required');
  assert.match(r.headers.get('www-authenticate'), /insufficient_user_authentication/);
  // suspended: the session is over and the token with it
  const s = await call(nova, 'PATCH', `/v1/users/${bob.id}`, { tok, body: { status: 'suspended' } });
  assert.equal(s.status, 200, s.text);
  refused(await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok: bobTok }), 401, 'invalid_token');
  const m = await (await fetch(nova.base + '/metrics', { headers: { authorization: 'Bearer ' + METRICS } })).text();
  const n = Number(m.match(/nova_authz_route_decisions_total\{decider="unmapped_user",decision="deny"\} (\d+)/)[1]);
  assert.equal(n, 6);
  for (const t of [adaTok, bobTok]) assert.ok(!nova.logs().includes(t));
});
