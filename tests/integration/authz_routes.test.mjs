// Nova's own /v1 routes go through the decision point (issue 7 item 7): authenticate, then
// the route's scope, then the tenant's promoted policy wherever its http.routes map the method
// and path (relation, purpose, rules, step-up), then the handler. Routes the policy does not
// map stay decided by their scope; /v1/authz/ itself is never governed by a tenant policy (so a
// policy that denies too much can be rolled back); another tenant's policy never decides here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNova, makeTenant, token, call } from './lib.mjs';

const METRICS = 'authz-routes-metrics-0123456789';
let nova, app, tok, other, otherTok, cid, acctA, acctB, store, model, version;

const MODEL = {
  schema_version: '1.1',
  type_definitions: [
    { type: 'client' },
    {
      type: 'account',
      relations: { viewer: { this: {} } },
      metadata: { relations: { viewer: { directly_related_user_types: [{ type: 'client' }] } } },
    },
  ],
};

const bundle = () => ({
  store_id: store,
  authorization_model_id: model,
  actions: { 'account.read': { relation: 'viewer', resource_types: ['account'] } },
  rules: [
    { id: 'high_risk', effect: 'step_up', aal: 2, when: "has(context.risk) && context.risk == 'high'" },
    // scopes are an input like any other: a rule can read them
    { id: 'needs_ledger_read', effect: 'require', when: "'ledger:read' in subject.attrs.scopes" },
  ],
  http: {
    subject_type: 'client',
    routes: [
      { method: 'GET', path: '/v1/core/accounts/{id}', action: 'account.read', resource_type: 'account' },
      { method: 'GET', path: '/v1/core/accounts/{id}/balances', action: 'account.read', resource_type: 'account' },
      // mapped, but /v1/authz/ is exempt: the policy never decides its own lifecycle
      { method: 'GET', path: '/v1/authz/policies/{id}', action: 'account.read', resource_type: 'account' },
    ],
  },
});

async function account(t) {
  const r = await call(nova, 'POST', '/v1/core/accounts', { tok: t, body: { currency: 'KES', type: 'customer_wallet' } });
  assert.equal(r.status, 201, r.text);
  return r.json.id;
}

before(async () => {
  nova = await startNova({ NOVA_METRICS_TOKEN: METRICS });
  const scopes = 'ledger:read ledger:write fga:read fga:write policy:read policy:write';
  app = makeTenant(nova, 'routes-it', scopes);
  other = makeTenant(nova, 'routes-it-other', scopes);
  tok = await token(nova, app);
  otherTok = await token(nova, other);
  cid = app.id;
  acctA = await account(tok);
  acctB = await account(tok);
  const s = await call(nova, 'POST', '/stores', { tok, body: { name: 'routes' } });
  assert.equal(s.status, 201, s.text);
  store = s.json.id;
  const m = await call(nova, 'POST', `/stores/${store}/authorization-models`, { tok, body: MODEL });
  assert.equal(m.status, 201, m.text);
  model = m.json.authorization_model_id;
  const w = await call(nova, 'POST', `/stores/${store}/write`, {
    tok, body: { writes: { tuple_keys: [{ user: 'client:' + cid, relation: 'viewer', object: 'account:' + acctA }] } },
  });
  assert.equal(w.status, 200, w.text);
});
after(async () => { await nova.stop(); });

test('without a promoted policy the scope alone decides', async () => {
  assert.equal((await call(nova, 'GET', `/v1/core/accounts/${acctB}`, { tok })).status, 200);
  const p = await call(nova, 'POST', '/v1/authz/policies', { tok, body: bundle() });
  assert.equal(p.status, 201, p.text);
  version = p.json.version;
  // published, not promoted: still the scope alone
  assert.equal((await call(nova, 'GET', `/v1/core/accounts/${acctB}`, { tok })).status, 200);
});

test('a promoted policy decides the routes it maps: allow, deny with the reason, step-up', async () => {
  const pr = await call(nova, 'POST', `/v1/authz/policies/${version}/promote`, { tok });
  assert.equal(pr.status, 200, pr.text);
  // the relation is there: the handler runs
  let r = await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.id, acctA);
  assert.equal((await call(nova, 'GET', `/v1/core/accounts/${acctA}/balances`, { tok })).status, 200);
  // no relation on B: denied before the handler, with the stage and reason
  r = await call(nova, 'GET', `/v1/core/accounts/${acctB}`, { tok });
  assert.equal(r.status, 403, r.text);
  assert.match(r.headers.get('content-type'), /problem\+json/);
  assert.equal(r.json.code, 'policy_denied');
  assert.match(r.json.detail, /relation \(no_relation\)/);
  // a high-risk request needs step-up (a client-credentials token is AAL 1)
  r = await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok, headers: { 'x-nova-risk': 'high' } });
  assert.equal(r.status, 401, r.text);
  assert.equal(r.json.code, 'step_up_required');
  // a route the policy does not map: the scope decides (the list shows both accounts)
  r = await call(nova, 'GET', '/v1/core/accounts', { tok });
  assert.equal(r.status, 200, r.text);
  // the lifecycle routes stay reachable however the policy maps them
  r = await call(nova, 'GET', `/v1/authz/policies/${version}`, { tok });
  assert.equal(r.status, 200, r.text);
});

test('the scope is still the first stage, and another tenant is decided by its own policy', async () => {
  const narrow = makeTenant(nova, 'routes-it-narrow', 'fga:read');
  const nt = await token(nova, narrow);
  const r = await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok: nt });
  assert.equal(r.status, 403);
  assert.equal(r.json.code, 'insufficient_scope');
  // the other tenant has no policy: its own account is decided by scope; ours is not visible
  const mine = await account(otherTok);
  assert.equal((await call(nova, 'GET', `/v1/core/accounts/${mine}`, { tok: otherTok })).status, 200);
  assert.equal((await call(nova, 'GET', `/v1/core/accounts/${acctA}`, { tok: otherTok })).status, 404);
});

test('metrics count what decided each request', async () => {
  const m = await call(nova, 'GET', '/metrics', { tok: METRICS });
  assert.equal(m.status, 200);
  const n = (label) => Number((m.text.match(new RegExp(`^nova_authz_route_decisions_total\\{${label}\\} (\\d+)$`, 'm')) || [])[1]);
  assert.ok(n('decider="policy",decision="allow"') >= 2);
  assert.ok(n('decider="policy",decision="deny"') >= 1);
  assert.ok(n('decider="policy",decision="step_up_required"') >= 1);
  assert.ok(n('decider="scope",decision="allow"') >= 5);
  assert.ok(n('decider="scope",decision="deny"') >= 1);
  // the policy's decisions are logged like every decision, without the token
  const logs = nova.logs().split('\n').filter((l) => l.includes('"authz decision"') && l.includes('account.read'));
  assert.ok(logs.length >= 4, String(logs.length));
  for (const l of logs) assert.ok(!l.includes(tok));
});
