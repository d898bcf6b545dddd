// Just-in-time access and break-glass (issue 11 item 9) against the real novad: a role for a
// time box with a reason and a ticket, approved by another user holding access-approver, a
// credential that expires by itself, actions under it linked to the request in the audit log;
// break-glass refused with one approval and written to its own log stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNova, makeTenant, token, call } from './lib.mjs';

let nova, t, tok;
const PW = 'a long enough passphrase';
const users = {};
before(async () => {
  nova = await startNova();
  t = makeTenant(nova, 'people-access', 'users:write audit:read');
  tok = await token(nova, t);
  for (const [name, roles] of [['alice', []], ['bob', ['access-approver']], ['carol', []], ['dave', []], ['erin', ['access-approver']]]) {
    const u = await call(nova, 'POST', '/v1/users', { tok, body: { email: `${name}@example.com`, password: PW, roles } });
    assert.equal(u.status, 201, u.text);
    const s = await call(nova, 'POST', '/auth/login', { body: { tenant_id: t.tenant, email: `${name}@example.com`, password: PW } });
    assert.equal(s.status, 200, s.text);
    users[name] = { id: u.json.id, tok: s.json.access_token };
  }
});
after(async () => { await nova.stop(); });

const ask = (who, body) => call(nova, 'POST', '/auth/access-requests', { tok: users[who].tok, body });
const approve = (who, id, tk) => call(nova, 'POST', `/auth/access-requests/${id}/approve`, { tok: tk ?? users[who].tok });
const activate = (who, id) => call(nova, 'POST', `/auth/access-requests/${id}/activate`, { tok: users[who].tok });
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

test('validation names the field', async () => {
  for (const [body, field] of [
    [{ role: 'Payments Refund', reason: 'refund a duplicate charge', ticket: 'INC-1', duration_seconds: 60 }, 'role'],
    [{ role: 'payments:refund', reason: 'short', ticket: 'INC-1', duration_seconds: 60 }, 'reason'],
    [{ role: 'payments:refund', reason: 'refund a duplicate charge', ticket: 'INC 1', duration_seconds: 60 }, 'ticket'],
    [{ role: 'payments:refund', reason: 'refund a duplicate charge', ticket: 'INC-1', duration_seconds: 0 }, 'duration_seconds'],
    [{ role: 'payments:refund', reason: 'refund a duplicate charge', ticket: 'INC-1', duration_seconds: 7200, break_glass: true }, 'duration_seconds'],
  ]) {
    const r = await ask('alice', body);
    assert.equal(r.status, 422, r.text);
    assert.ok(r.json.detail.startsWith(field), r.json.detail);
  }
});

test('just-in-time access: another user approves, the credential links actions and expires on time', async () => {
  const q = await ask('alice', { role: 'access-approver', reason: 'cover approvals during the on-call handover', ticket: 'CHG-42', duration_seconds: 5 });
  assert.equal(q.status, 201, q.text);
  assert.equal(q.json.status, 'pending');
  assert.equal(q.json.required_approvals, 1);
  assert.equal((await approve('alice', q.json.id)).status, 403); // not an approver (nor may approve her own)
  assert.equal((await approve('dave', q.json.id)).status, 403);
  assert.equal((await activate('alice', q.json.id)).status, 409); // not approved yet
  const a = await approve('bob', q.json.id);
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.status, 'approved');
  assert.ok(a.json.expires_at - a.json.approved_at === 5);
  assert.equal((await approve('erin', q.json.id)).status, 409); // approved already
  assert.equal((await activate('bob', q.json.id)).status, 403); // only the requester
  const cred = await activate('alice', q.json.id);
  assert.equal(cred.status, 200, cred.text);
  const claims = JSON.parse(Buffer.from(cred.json.access_token.split('.')[1], 'base64url'));
  assert.equal(claims.jit, q.json.id);
  assert.deepEqual(claims.roles, ['access-approver']);
  assert.ok(claims.exp <= a.json.expires_at);
  // Acting under it: alice approves carol's request; the entry names alice and the request.
  const cq = await ask('carol', { role: 'ledger:read', reason: 'reconcile yesterday\'s float', ticket: 'INC-77', duration_seconds: 600 });
  const ca = await approve(null, cq.json.id, cred.json.access_token);
  assert.equal(ca.status, 200, ca.text);
  const audit = await call(nova, 'GET', '/v1/audit?limit=200&action=access.approve', { tok });
  const e = audit.json.entries.find((x) => x.target === 'access_request:' + cq.json.id);
  assert.equal(e.actor, `${users.alice.id}#${q.json.id}`);
  // After the time box the credential is worthless and cannot be taken again.
  await sleep(6000);
  assert.equal((await call(nova, 'GET', '/auth/session', { tok: cred.json.access_token })).status, 401);
  const late = await activate('alice', q.json.id);
  assert.equal(late.status, 409);
  assert.match(late.json.detail, /expired/);
  const dq = await ask('dave', { role: 'ledger:read', reason: 'another reconciliation', ticket: 'INC-78', duration_seconds: 60 });
  assert.equal((await approve(null, dq.json.id, cred.json.access_token)).status, 401);
});

test('break-glass: refused with one approval, two distinct approvers open it, its own log stream', async () => {
  const q = await ask('carol', { role: 'platform:operator', reason: 'settlement outage: restart the payout worker', ticket: 'SEV1-9', duration_seconds: 900, break_glass: true });
  assert.equal(q.status, 201, q.text);
  assert.equal(q.json.kind, 'break_glass');
  assert.equal(q.json.required_approvals, 2);
  const one = await approve('bob', q.json.id);
  assert.equal(one.status, 200, one.text);
  assert.equal(one.json.status, 'pending');
  const refused = await activate('carol', q.json.id);
  assert.equal(refused.status, 409);
  assert.match(refused.json.detail, /two approvals/);
  assert.equal((await approve('bob', q.json.id)).status, 409); // the same approver twice
  const two = await approve('erin', q.json.id);
  assert.equal(two.json.status, 'approved');
  assert.equal((await activate('carol', q.json.id)).status, 200);
  const audit = await call(nova, 'GET', '/v1/audit?limit=200', { tok });
  const mine = audit.json.entries.filter((x) => x.target === 'access_request:' + q.json.id).map((x) => x.action);
  assert.deepEqual(mine, ['breakglass.request', 'breakglass.approve', 'breakglass.approve', 'breakglass.activate']);
  // (lib.mjs collects novad's stderr twice after start-up: count distinct lines)
  const stream = [...new Set(nova.logs().split('\n').filter((l) => l.includes('"stream":"breakglass"') && l.includes(q.json.id)))];
  assert.equal(stream.length, 4, stream.join('\n'));
  assert.ok(stream.every((l) => !l.includes('settlement outage')), 'the reason stays out of the log');
  const list = await call(nova, 'GET', '/auth/access-requests', { tok: users.bob.tok });
  assert.ok(list.json.access_requests.some((x) => x.id === q.json.id));
  const own = await call(nova, 'GET', '/auth/access-requests', { tok: users.dave.tok });
  assert.ok(own.json.access_requests.every((x) => x.requester === users.dave.id));
});

test('novactl breakglass drill: one command runs break-glass end to end and reports it', async () => {
  const d = nova.ctl('breakglass', 'drill', '--tenant', t.tenant);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(d.json.refused_with_one_approval, true);
  assert.equal(d.json.opened_with_two, true);
  assert.equal(d.json.credential_verified, true);
  assert.match(d.json.request, /^acr_/);
  assert.match(d.stderr, /"stream":"breakglass"/);
  const audit = await call(nova, 'GET', '/v1/audit?limit=200', { tok });
  const acts = audit.json.entries.filter((x) => x.target === 'access_request:' + d.json.request).map((x) => x.action);
  assert.deepEqual(acts, ['breakglass.request', 'breakglass.approve', 'breakglass.approve', 'breakglass.activate']);
  assert.equal(nova.ctl('breakglass', 'drill', '--tenant', 'ten_nobody').code, 7);
});
