// The decision point against the real novad: a tenant's policy published as signed versions,
// promoted, shadowed, simulated and rolled back (each audited); decisions allow, deny and
// step_up_required with explain; fail-closed answers (no policy, a tampered signature, missing
// condition context, a CEL error, another tenant); OpenID AuthZEN 1.0 evaluations; Envoy's
// ext_authz HTTP service with requests shaped as Envoy sends them; metrics; decision logs
// without secrets or context values.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startNova, makeTenant, token, call } from './lib.mjs';

const onSqlite = !process.env.NOVA_TEST_DATABASE_URL;
const METRICS = 'authz-metrics-token-0123456789';
let nova, app, tok, other, otherTok, store, model, cid;

const MODEL = {
  schema_version: '1.1',
  type_definitions: [
    { type: 'user' },
    { type: 'client' },
    {
      type: 'team', relations: { member: { this: {} } },
      metadata: { relations: { member: { directly_related_user_types: [{ type: 'user' }, { type: 'team', relation: 'member' }] } } },
    },
    {
      type: 'account',
      relations: {
        owner: { this: {} },
        viewer: { union: { child: [{ this: {} }, { computedUserset: { relation: 'owner' } }] } },
        mover: { this: {} },
      },
      metadata: {
        relations: {
          owner: { directly_related_user_types: [{ type: 'user' }, { type: 'team', relation: 'member' }] },
          viewer: { directly_related_user_types: [{ type: 'user', condition: 'in_region' }, { type: 'client' }] },
          mover: { directly_related_user_types: [{ type: 'user' }, { type: 'client' }] },
        },
      },
    },
  ],
  conditions: {
    in_region: {
      name: 'in_region', expression: 'region in allowed',
      parameters: { region: { type_name: 'TYPE_NAME_STRING' }, allowed: { type_name: 'TYPE_NAME_LIST', generic_types: [{ type_name: 'TYPE_NAME_STRING' }] } },
    },
  },
};

const bundle = (extraRules = []) => ({
  store_id: store,
  authorization_model_id: model,
  actions: {
    'account.read': { relation: 'viewer', resource_types: ['account'] },
    'payment.create': { relation: 'mover', resource_types: ['account'] },
  },
  purposes: { servicing: { resource_types: ['account'], actions: ['account.read', 'payment.create'] } },
  rules: [
    { id: 'not_frozen', effect: 'deny', when: 'has(resource.attrs.frozen) && resource.attrs.frozen' },
    { id: 'payments_aal2', effect: 'step_up', aal: 2, actions: ['payment.create'] },
    { id: 'high_risk', effect: 'step_up', aal: 2, when: "has(context.risk) && context.risk == 'high'" },
    ...extraRules,
  ],
  http: {
    subject_type: 'client',
    routes: [
      { method: 'GET', path: '/v1/accounts/{id}', action: 'account.read', resource_type: 'account' },
      { method: 'POST', path: '/v1/accounts/{id}/payments', action: 'payment.create', resource_type: 'account' },
    ],
  },
});

const input = (over = {}) => ({
  tenant: { id: app.tenant },
  subject: { type: 'user', id: 'ada', aal: 1, ...(over.subject || {}) },
  resource: { type: 'account', id: 'acc1', tenant_id: app.tenant, ...(over.resource || {}) },
  action: over.action || 'account.read',
  purpose: 'purpose' in over ? over.purpose : 'servicing',
  ...(over.context ? { context: over.context } : {}),
});

const decide = async (body, t = tok) => {
  const r = await call(nova, 'POST', '/v1/authz/decision', { tok: t, body });
  assert.equal(r.status, 200, r.text);
  return r.json;
};

before(async () => {
  nova = await startNova({ NOVA_METRICS_TOKEN: METRICS });
  app = makeTenant(nova, 'authz-it', 'fga:read fga:write authz:decide policy:read policy:write audit:read');
  tok = await token(nova, app);
  cid = app.id;
  other = makeTenant(nova, 'authz-it-other', 'authz:decide policy:read policy:write fga:read fga:write');
  otherTok = await token(nova, other);
  const s = await call(nova, 'POST', '/stores', { tok, body: { name: 'bank' } });
  assert.equal(s.status, 201, s.text);
  store = s.json.id;
  const m = await call(nova, 'POST', `/stores/${store}/authorization-models`, { tok, body: MODEL });
  assert.equal(m.status, 201, m.text);
  model = m.json.authorization_model_id;
  const w = await call(nova, 'POST', `/stores/${store}/write`, {
    tok,
    body: {
      writes: {
        tuple_keys: [
          { user: 'team:ops#member', relation: 'owner', object: 'account:acc1' },
          { user: 'user:ada', relation: 'member', object: 'team:ops' },
          { user: 'user:ada', relation: 'mover', object: 'account:acc1' },
          { user: 'user:cy', relation: 'viewer', object: 'account:acc2', condition: { name: 'in_region' } },
          { user: 'client:' + cid, relation: 'viewer', object: 'account:acc1' },
          { user: 'client:' + cid, relation: 'mover', object: 'account:acc1' },
        ],
      },
    },
  });
  assert.equal(w.status, 200, w.text);
});
after(async () => { await nova.stop(); });

let v1, v2;

test('publish: bad bundles are refused naming the field; a good one is signed and verifies', async () => {
  const bad = [
    [{ ...bundle(), store_id: 'nope' }, '/store_id'],
    [{ ...bundle(), actions: {} }, '/actions'],
    [{ ...bundle(), rules: [{ id: 'x', effect: 'deny', when: 'secret == 1' }] }, '/rules/0/when'],
    [{ ...bundle(), purposes: undefined, http: undefined, rules: [], actions: { a: { relation: 'approver' } } }, '/actions/a/relation'],
    [{ ...bundle(), authorization_model_id: '01HZX0000000000000000000MD' }, '/authorization_model_id'],
    [{ ...bundle(), http: { routes: [{ method: 'TRACE', path: '/x', action: 'account.read', resource_type: 'account' }] } }, '/http/routes/0/method'],
  ];
  for (const [b, field] of bad) {
    const r = await call(nova, 'POST', '/v1/authz/policies', { tok, body: b });
    assert.equal(r.status, 422, r.text);
    assert.ok(r.json.detail.includes(field), `${field} in ${r.json.detail}`);
  }
  // another tenant cannot bind to this tenant's store
  const o = await call(nova, 'POST', '/v1/authz/policies', { tok: otherTok, body: bundle() });
  assert.equal(o.status, 422, o.text);
  const r = await call(nova, 'POST', '/v1/authz/policies', { tok, body: bundle() });
  assert.equal(r.status, 201, r.text);
  v1 = r.json.version;
  assert.equal(v1, 1);
  assert.match(r.json.signature, /^[A-Za-z0-9_-]{86}$/);
  assert.match(r.json.digest, /^[0-9a-f]{64}$/);
  const g = await call(nova, 'GET', `/v1/authz/policies/${v1}`, { tok });
  assert.equal(g.status, 200, g.text);
  assert.equal(g.json.verified, true);
  assert.equal(g.json.bundle.store_id, store);
  // the platform key (novactl audit key) verifies the signature with openssl alone
  const key = nova.ctl('audit', 'key');
  assert.equal(key.code, 0, key.stderr);
  {
    const dir = nova.dir;
    const fs = await import('node:fs');
    fs.writeFileSync(join(dir, 'k.pem'), key.json.public_key_pem);
    fs.writeFileSync(join(dir, 'msg'), `nova policy bundle v1\n${app.tenant}\n${v1}\n${r.json.digest}`);
    fs.writeFileSync(join(dir, 'sig'), Buffer.from(r.json.signature, 'base64url'));
    const v = spawnSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', join(dir, 'k.pem'), '-rawin', '-in', join(dir, 'msg'), '-sigfile', join(dir, 'sig')], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stdout + v.stderr);
  }
  const l = await call(nova, 'GET', '/v1/authz/policies', { tok });
  assert.equal(l.json.versions.length, 1);
  assert.equal(l.json.active_version, 0);
  // nothing of this tenant shows to the other
  const lo = await call(nova, 'GET', '/v1/authz/policies', { tok: otherTok });
  assert.equal(lo.json.versions.length, 0);
  assert.equal((await call(nova, 'GET', `/v1/authz/policies/${v1}`, { tok: otherTok })).status, 404);
});

test('decisions: none before a promotion, then allow, deny and step-up with explain', async () => {
  let d = await decide(input());
  assert.equal(d.decision, 'deny');
  assert.equal(d.reason, 'no_policy');
  const p = await call(nova, 'POST', `/v1/authz/policies/${v1}/promote`, { tok });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.active_version, v1);
  d = await decide(input());
  assert.equal(d.decision, 'allow', JSON.stringify(d));
  assert.equal(d.policy_version, v1);
  const rel = d.explain.stages.find((s) => s.stage === 'relation');
  assert.deepEqual(rel.path, ['account:acc1#viewer', 'account:acc1#owner', 'team:ops#member', 'user:ada']);
  assert.equal(d.explain.authorization_model_id, model);
  // the action needs aal 2
  d = await decide(input({ action: 'payment.create' }));
  assert.equal(d.decision, 'step_up_required');
  assert.equal(d.required_aal, 2);
  assert.equal(d.explain.rule, 'payments_aal2');
  d = await decide(input({ action: 'payment.create', subject: { aal: 2 } }));
  assert.equal(d.decision, 'allow');
  // high risk needs aal 2 for a read too
  d = await decide(input({ context: { risk: 'high' } }));
  assert.equal(d.decision, 'step_up_required');
  assert.equal(d.explain.rule, 'high_risk');
  // denies, each with its reason
  const denies = [
    [input({ subject: { id: 'eve' } }), 'no_relation'],
    [input({ resource: { attrs: { frozen: true } } }), 'rule_denied'],
    [{ ...input(), purpose: undefined }, 'purpose_missing'],
    [input({ purpose: 'marketing' }), 'purpose_unknown'],
    [input({ action: 'loan.approve' }), 'unknown_action'],
    [input({ resource: { tenant_id: other.tenant } }), 'tenant_mismatch'],
    [{ ...input(), tenant: { id: other.tenant } }, 'tenant_mismatch'],
    // a conditional tuple without its context: fail closed
    [input({ subject: { id: 'cy' }, resource: { id: 'acc2' } }), 'condition_missing_context'],
  ];
  for (const [body, reason] of denies) {
    const b = JSON.parse(JSON.stringify(body));
    const r = await decide(b);
    assert.equal(r.decision, 'deny', JSON.stringify(r));
    assert.equal(r.reason, reason, JSON.stringify(r.explain));
  }
  d = await decide(input({ subject: { id: 'cy' }, resource: { id: 'acc2' }, context: { region: 'KE', allowed: ['KE'] } }));
  assert.equal(d.decision, 'allow', JSON.stringify(d));
  // another tenant asking about this tenant's resources: its own policy (none) denies
  d = await decide({ ...input(), tenant: { id: other.tenant }, resource: { type: 'account', id: 'acc1', tenant_id: other.tenant } }, otherTok);
  assert.equal(d.decision, 'deny');
  assert.equal(d.reason, 'no_policy');
});

test('decision input errors are 400 naming the field', async () => {
  const bad = [
    [{ ...input(), subject: undefined }, '/subject'],
    [{ ...input(), extra: 1 }, 'extra'],
    [input({ subject: { aal: 7 } }), '/subject/aal'],
    [input({ resource: { id: 'a:b' } }), '/resource/id'],
    [{ ...input(), context: [1] }, '/context'],
  ];
  for (const [body, field] of bad) {
    const r = await call(nova, 'POST', '/v1/authz/decision', { tok, body: JSON.parse(JSON.stringify(body)) });
    assert.equal(r.status, 400, r.text);
    assert.ok(r.json.detail.includes(field), `${field} in ${r.json.detail}`);
  }
  const ns = await call(nova, 'POST', '/v1/authz/decision', { tok: otherTok, raw: 'x', headers: { 'content-type': 'text/plain' } });
  assert.equal(ns.status, 415);
  // the scope is required
  const ro = nova.ctl('client', 'create', '--tenant', app.tenant, '--name', 'ro', '--scopes', 'fga:read');
  const roTok = await token(nova, { id: ro.json.client_id, secret: ro.json.client_secret });
  const r = await call(nova, 'POST', '/v1/authz/decision', { tok: roTok, body: input() });
  assert.equal(r.status, 403, r.text);
});

test('simulate, shadow with drift, promote and rollback, all audited', async () => {
  // v2 requires a KE region attribute on every resource
  const r = await call(nova, 'POST', '/v1/authz/policies', { tok, body: bundle([{ id: 'kenya_only', effect: 'require', when: "has(resource.attrs.region) && resource.attrs.region == 'KE'" }]) });
  assert.equal(r.status, 201, r.text);
  v2 = r.json.version;
  assert.equal(v2, 2);
  let s = await call(nova, 'POST', `/v1/authz/simulate?policy_ref=${v2}`, { tok, body: input() });
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.decision, 'deny');
  assert.equal(s.json.reason, 'rule_not_met');
  assert.equal(s.json.simulated, true);
  s = await call(nova, 'POST', `/v1/authz/simulate?policy_ref=${v2}`, { tok, body: input({ resource: { attrs: { region: 'KE' } } }) });
  assert.equal(s.json.decision, 'allow');
  assert.equal((await call(nova, 'POST', '/v1/authz/simulate?policy_ref=99', { tok, body: input() })).status, 404);
  assert.equal((await call(nova, 'POST', '/v1/authz/simulate?policy_ref=x', { tok, body: input() })).status, 400);
  // simulation changed nothing
  assert.equal((await decide(input())).decision, 'allow');
  // shadow v2 on every decision: the live answer stays v1's, the drift is recorded
  const bad = await call(nova, 'PUT', '/v1/authz/shadow', { tok, body: { version: v2, percent: 101 } });
  assert.equal(bad.status, 422);
  assert.ok(bad.json.detail.includes('percent'));
  const sh = await call(nova, 'PUT', '/v1/authz/shadow', { tok, body: { version: v2, percent: 100 } });
  assert.equal(sh.status, 200, sh.text);
  for (let i = 0; i < 3; i++) assert.equal((await decide(input())).decision, 'allow');
  assert.equal((await decide(input({ resource: { attrs: { region: 'KE' } } }))).decision, 'allow');
  const rep = await call(nova, 'GET', '/v1/authz/shadow', { tok });
  assert.equal(rep.status, 200, rep.text);
  assert.equal(rep.json.shadow_version, v2);
  assert.equal(rep.json.drifted, 3);
  // the four decisions above, this tenant's and this version's alone
  assert.equal(rep.json.evaluated, 4);
  assert.equal(rep.json.drift[0].live, 'allow');
  assert.equal(rep.json.drift[0].shadow, 'deny');
  assert.equal(rep.json.drift[0].shadow_reason, 'rule_not_met');
  // another tenant's report counts none of them
  const otherRep = await call(nova, 'GET', '/v1/authz/shadow', { tok: otherTok });
  assert.equal(otherRep.status, 200, otherRep.text);
  assert.equal(otherRep.json.evaluated, 0);
  if (process.env.NOVA_TEST_REDIS_URL) {
    // a second novad sharing the store and Redis adds to the same count
    const second = await startNova({}, { shareWith: nova });
    try {
      const tok2 = await token(second, app);
      for (let i = 0; i < 2; i++) {
        const d = await call(second, 'POST', '/v1/authz/decision', { tok: tok2, body: input() });
        assert.equal(d.status, 200, d.text);
      }
      const both = await call(nova, 'GET', '/v1/authz/shadow', { tok });
      assert.equal(both.json.evaluated, 6);
      assert.equal(both.json.drifted, 5);
    } finally {
      await second.stop();
    }
  }
  // promote v2: it decides now, and the shadow is cleared
  const p = await call(nova, 'POST', `/v1/authz/policies/${v2}/promote`, { tok });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.previous_version, v1);
  assert.equal(p.json.shadow_version, 0);
  assert.equal((await decide(input())).reason, 'rule_not_met');
  assert.equal((await call(nova, 'POST', `/v1/authz/policies/${v2}/promote`, { tok })).status, 409);
  assert.equal((await call(nova, 'POST', '/v1/authz/policies/9/promote', { tok })).status, 404);
  const rb = await call(nova, 'POST', '/v1/authz/rollback', { tok });
  assert.equal(rb.status, 200, rb.text);
  assert.equal(rb.json.active_version, v1);
  assert.equal((await decide(input())).decision, 'allow');
  assert.equal((await call(nova, 'POST', '/v1/authz/rollback', { tok })).status, 409);
  // every lifecycle change is in the tenant's audit chain
  const a = await call(nova, 'GET', '/v1/audit?limit=100', { tok });
  assert.equal(a.status, 200, a.text);
  const acts = a.json.entries.map((e) => e.action);
  for (const act of ['policy.publish', 'policy.promote', 'policy.shadow', 'policy.rollback']) assert.ok(acts.includes(act), act);
  assert.equal(acts.filter((x) => x === 'policy.publish').length, 2);
});

test('AuthZEN 1.0 evaluation and evaluations', async () => {
  const req = {
    subject: { type: 'user', id: 'ada', properties: { aal: 1 } },
    resource: { type: 'account', id: 'acc1' },
    action: { name: 'account.read' },
    context: { purpose: 'servicing' },
  };
  let r = await call(nova, 'POST', '/access/v1/evaluation', { tok, body: req });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.decision, true);
  r = await call(nova, 'POST', '/access/v1/evaluation', { tok, body: { ...req, action: { name: 'payment.create' } } });
  assert.equal(r.json.decision, false);
  assert.equal(r.json.context.decision, 'step_up_required');
  assert.equal(r.json.context.required_aal, 2);
  r = await call(nova, 'POST', '/access/v1/evaluation', { tok, body: { ...req, subject: { type: 'user' } } });
  assert.equal(r.status, 400, r.text);
  r = await call(nova, 'POST', '/access/v1/evaluations', {
    tok,
    body: {
      ...req,
      evaluations: [{}, { subject: { type: 'user', id: 'eve' } }, { resource: { type: 'account', id: 'acc1', properties: { frozen: true } } }],
    },
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.evaluations.map((e) => e.decision), [true, false, false]);
  assert.equal(r.json.evaluations[2].context.reason, 'rule_denied');
  r = await call(nova, 'POST', '/access/v1/evaluations', {
    tok,
    body: { ...req, evaluations: [{ subject: { type: 'user', id: 'eve' } }, {}], options: { evaluations_semantic: 'deny_on_first_deny' } },
  });
  assert.deepEqual(r.json.evaluations.map((e) => e.decision), [false, false]);
  assert.equal(r.json.evaluations[1].context.reason, 'not_evaluated');
  r = await call(nova, 'POST', '/access/v1/evaluations', { tok, body: { ...req, options: { evaluations_semantic: 'maybe' } } });
  assert.equal(r.status, 400);
});

// Envoy's ext_authz HTTP service: the original method, the path prefix + the original path,
// the original headers Envoy allows (authorization, host, x-request-id, x-forwarded-proto,
// x-envoy-external-address, ...) and no body.
async function envoy(method, path, headers = {}) {
  const h = {
    host: 'api.bank.example',
    'x-request-id': '0f5d8f0e-0b1a-4c3d-9e8f-1a2b3c4d5e6f',
    'x-forwarded-proto': 'https',
    'x-envoy-external-address': '203.0.113.5',
    'x-envoy-expected-rq-timeout-ms': '200',
    'content-length': '0',
    ...headers,
  };
  const r = await fetch(nova.base + '/ext-authz' + path, { method, headers: h });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, json, text };
}

test('ext_authz: allow with the upstream headers, deny as 401/403 problems, never 5xx', async () => {
  const auth = { authorization: 'Bearer ' + tok, 'x-nova-purpose': 'servicing' };
  let r = await envoy('GET', '/v1/accounts/acc1', auth);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-nova-tenant-id'), app.tenant);
  assert.equal(r.headers.get('x-nova-principal-id'), cid);
  assert.equal(r.headers.get('x-tenant-id'), app.tenant);
  assert.equal(r.headers.get('x-principal-id'), cid);
  assert.ok(r.headers.get('x-req-id'));
  // no purpose header: the policy requires one
  r = await envoy('GET', '/v1/accounts/acc1', { authorization: 'Bearer ' + tok });
  assert.equal(r.status, 403);
  assert.match(r.headers.get('content-type'), /problem\+json/);
  assert.ok(r.json.detail.includes('purpose_missing'), r.text);
  // no relation
  r = await envoy('GET', '/v1/accounts/acc9', auth);
  assert.equal(r.status, 403);
  assert.ok(r.json.detail.includes('no_relation'));
  // a payment needs aal 2: a client-credentials token is aal 1
  r = await envoy('POST', '/v1/accounts/acc1/payments', auth);
  assert.equal(r.status, 401, r.text);
  assert.equal(r.json.code, 'step_up_required');
  assert.match(r.headers.get('www-authenticate'), /insufficient_user_authentication/);
  // high risk by header
  r = await envoy('GET', '/v1/accounts/acc1', { ...auth, 'x-nova-risk': 'high' });
  assert.equal(r.status, 401);
  // no route in the policy for this method and path
  r = await envoy('DELETE', '/v1/accounts/acc1', auth);
  assert.equal(r.status, 403);
  assert.equal(r.json.code, 'no_route');
  r = await envoy('GET', '/v1/other', auth);
  assert.equal(r.status, 403);
  // an original path of any depth reaches the decision (no router limit of four segments)
  r = await envoy('GET', '/v1/accounts/acc1/statements/2026/11/pdf', auth);
  assert.equal(r.status, 403, r.text);
  assert.equal(r.json.code, 'no_route');
  // no token, a bad token
  r = await envoy('GET', '/v1/accounts/acc1', {});
  assert.equal(r.status, 401);
  r = await envoy('GET', '/v1/accounts/acc1', { authorization: 'Bearer nope' });
  assert.equal(r.status, 401);
  // another tenant's token: its own (absent) policy decides
  r = await envoy('GET', '/v1/accounts/acc1', { authorization: 'Bearer ' + otherTok, 'x-nova-purpose': 'servicing' });
  assert.equal(r.status, 403);
  assert.equal(r.json.code, 'policy_unavailable');
});

test('metrics and decision logs', async () => {
  const m = await call(nova, 'GET', '/metrics', { tok: METRICS });
  assert.equal(m.status, 200);
  for (const name of ['nova_authz_decisions_total{decision="allow"}', 'nova_authz_decisions_total{decision="step_up_required"}',
    'nova_authz_decisions_by_stage_total{stage="relation"}', 'nova_authz_decision_reasons_total{reason="no_relation"}',
    'nova_authz_decision_seconds_bucket{le="+Inf"}', 'nova_authz_shadow_total{result="drift"} 3',
    `nova_authz_policy_version{tenant="${app.tenant}"} ${v1}`, `nova_fga_tuples{store="${store}"} 6`,
    'nova_fga_change_feed_lag_seconds', 'nova_fga_model_cache_total{result="hit"}', 'nova_authz_policy_cache_total{result="hit"}']) {
    assert.ok(m.text.includes(name), name);
  }
  const allow = Number(m.text.match(/nova_authz_decisions_total\{decision="allow"\} (\d+)/)[1]);
  assert.ok(allow >= 8, String(allow));
  const logs = nova.logs().split('\n').filter((l) => l.includes('"authz decision"'));
  assert.ok(logs.length >= 20, String(logs.length));
  const one = JSON.parse(logs.find((l) => l.includes('"context_keys":["region","allowed"]')));
  assert.equal(one.decision, 'allow');
  for (const l of logs) {
    assert.ok(!l.includes(tok) && !l.includes(otherTok), 'no token in a decision log');
    assert.ok(!l.includes('203.0.113.5') && !l.includes('"KE"'), 'no context value in a decision log: ' + l);
  }
});

test('a version whose signature no longer verifies is not loaded: deny', { skip: !onSqlite }, async () => {
  // tamper with the active version's text in the store, then ask a fresh novad (empty cache)
  const db = join(nova.dir, 'nova.db');
  const sq = spawnSync('sqlite3', [db, `UPDATE policy_bundles SET body = replace(body, 'servicing', 'servicinG') WHERE version = ${v1}`], { encoding: 'utf8' });
  if (sq.error) return; // no sqlite3 CLI here
  assert.equal(sq.status, 0, sq.stderr);
  const fresh = await startNova({ NOVA_ISSUER: nova.base }, { shareWith: nova });
  try {
    const t2 = await token(fresh, app);
    const r = await call(fresh, 'POST', '/v1/authz/decision', { tok: t2, body: input() });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.decision, 'deny');
    assert.equal(r.json.reason, 'policy_unverified');
    const g = await call(fresh, 'GET', `/v1/authz/policies/${v1}`, { tok: t2 });
    assert.equal(g.json.verified, false);
    assert.equal((await call(fresh, 'POST', `/v1/authz/policies/${v1}/promote`, { tok: t2 })).status, 409);
  } finally {
    await fresh.stop();
  }
});
