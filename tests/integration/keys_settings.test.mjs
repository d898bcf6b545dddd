// Signing-key rotation, tenant security settings and kill switches against the real novad
// (issue 6 items 6 and 8): a grace key keeps verifying and stays in the JWKS, a retired key's
// tokens fail (also on a second instance that has the key cached), `novactl tenant contain`
// retires the key and ends every session, and every change is in the audit log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNova, makeTenant, token, call } from './lib.mjs';

let nova;
// One issuer for every instance (by default it is each one's own address and port).
const ISSUER = 'https://nova.keys.test';
before(async () => { nova = await startNova({ NOVA_KEY_GRACE: '600', NOVA_ISSUER: ISSUER }); });
after(async () => { await nova.stop(); });

const kidOf = (tok) => JSON.parse(Buffer.from(tok.split('.')[0], 'base64url')).kid;
const jwksKids = async (n, tenant) => {
  const r = await call(n, 'GET', `/tenants/${tenant}/.well-known/jwks.json`);
  assert.equal(r.status, 200, r.text);
  return r.json.keys.map((k) => k.kid).sort();
};
const me = (n, tok) => call(n, 'GET', '/v1/me', { tok });
// A token that works: after a rotation made by another process (novactl), an instance signs
// with the new key once its 1 s recheck has run (poll, bounded).
async function liveToken(n, client) {
  for (let i = 0; i < 30; i++) {
    const t = await token(n, client);
    if ((await me(n, t)).status === 200) return t;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error('no working token within 3 s');
}

test('rotation: the grace key verifies and is published, a retired one neither', async () => {
  const t = makeTenant(nova, 'rot-a', 'keys:read keys:write');
  const t0 = await token(nova, t);
  const k0 = kidOf(t0);
  assert.deepEqual(await jwksKids(nova, t.tenant), [k0]);
  // No body: the deployment's grace (NOVA_KEY_GRACE=600).
  let r = await call(nova, 'POST', '/v1/keys/rotate', { tok: t0 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.previous.kid, k0);
  assert.equal(r.json.previous.state, 'grace');
  const k1 = r.json.kid;
  assert.ok(r.json.previous.grace_until >= Math.floor(Date.now() / 1000) + 590);
  assert.equal((await me(nova, t0)).status, 200, 'a grace key still verifies');
  const t1 = await token(nova, t);
  assert.equal(kidOf(t1), k1);
  assert.deepEqual(await jwksKids(nova, t.tenant), [k0, k1].sort());
  const list = await call(nova, 'GET', '/v1/keys', { tok: t1 });
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(Object.fromEntries(list.json.keys.map((k) => [k.kid, k.state])), { [k0]: 'grace', [k1]: 'active' });
  // grace 0: k1 retired at once, and k0 (in grace) retired with it.
  r = await call(nova, 'POST', '/v1/keys/rotate', { tok: t1, body: { grace_seconds: 0, reason: 'drill' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.previous.state, 'retired');
  for (const old of [t0, t1]) {
    const x = await me(nova, old);
    assert.equal(x.status, 401, 'a retired key\'s token fails');
    assert.equal(x.json.code, 'invalid_token');
  }
  const t2 = await token(nova, t);
  assert.equal(kidOf(t2), r.json.kid);
  assert.equal((await me(nova, t2)).status, 200);
  assert.deepEqual(await jwksKids(nova, t.tenant), [r.json.kid]);
  const states = (await call(nova, 'GET', '/v1/keys', { tok: t2 })).json.keys.map((k) => k.state).sort();
  assert.deepEqual(states, ['active', 'retired', 'retired']);
});

test('rotation: bad input is a 4xx problem naming the field, and the scope is needed', async () => {
  const t = makeTenant(nova, 'rot-bad', 'keys:read keys:write');
  const tok = await token(nova, t);
  for (const body of [{ grace_seconds: -1 }, { grace_seconds: 86401 }, { grace_seconds: 'soon' }, { reason: '' }]) {
    const r = await call(nova, 'POST', '/v1/keys/rotate', { tok, body });
    assert.equal(r.status, 422, JSON.stringify(body));
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
    assert.match(r.json.detail, new RegExp(Object.keys(body)[0]));
  }
  assert.equal((await call(nova, 'POST', '/v1/keys/rotate', { tok, body: { grace: 1 } })).status, 400);
  assert.equal((await call(nova, 'POST', '/v1/keys/rotate', { tok, raw: 'x', headers: { 'content-type': 'text/plain' } })).status, 415);
  const ro = makeTenant(nova, 'rot-ro', 'keys:read');
  const rt = await token(nova, ro);
  assert.equal((await call(nova, 'POST', '/v1/keys/rotate', { tok: rt })).status, 403);
  assert.equal((await call(nova, 'GET', '/v1/keys', { tok: rt })).status, 200);
  // Nothing was rotated by the refused calls.
  assert.equal((await call(nova, 'GET', '/v1/keys', { tok })).json.keys.length, 1);
});

test('a key retired on one instance fails at once on another that has it cached', async () => {
  const second = await startNova({ NOVA_ISSUER: ISSUER }, { shareWith: nova });
  try {
    const t = makeTenant(nova, 'rot-shared', 'keys:write clients:read');
    const tok = await token(nova, t);
    assert.equal((await me(second, tok)).status, 200); // second has verified (cached) it
    const r = await call(nova, 'POST', '/v1/keys/rotate', { tok, body: { grace_seconds: 0 } });
    assert.equal(r.status, 200, r.text);
    assert.equal((await me(second, tok)).status, 401);
    // The second instance signs with the new key within its 1 s recheck (poll, bounded).
    let kid = null;
    for (let i = 0; i < 30 && kid !== r.json.kid; i++) {
      kid = kidOf(await token(second, t));
      if (kid !== r.json.kid) await new Promise((ok) => setTimeout(ok, 100));
    }
    assert.equal(kid, r.json.kid);
  } finally {
    await second.stop();
  }
});

test('novactl tenant contain: key retired, every session ended, all of it audited', async () => {
  const t = makeTenant(nova, 'contain-me', 'sdk:sessions audit:read keys:read');
  const tok = await token(nova, t);
  const s = await call(nova, 'POST', '/v1/sdk/sessions', { tok, body: { subject: 'applicant_1' } });
  assert.equal(s.status, 201, s.text);
  const c = nova.ctl('tenant', 'contain', t.tenant);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.json.sessions_revoked, 1);
  assert.equal(c.json.retired_kid, kidOf(tok));
  assert.equal((await me(nova, tok)).status, 401);
  assert.equal((await me(nova, s.json.access_token)).status, 401);
  const refresh = await fetch(nova.base + '/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: s.json.refresh_token }),
  });
  assert.ok(refresh.status === 400 || refresh.status === 401, 'the refresh token is dead');
  const fresh = await liveToken(nova, t);
  const log = await call(nova, 'GET', '/v1/audit?limit=200', { tok: fresh });
  assert.equal(log.status, 200, log.text);
  const actions = log.json.entries.map((e) => `${e.action} ${e.actor}`);
  for (const a of ['key.rotate novactl', 'session.revoke_all novactl', 'tenant.contain novactl'])
    assert.ok(actions.includes(a), `${a} in ${actions}`);
  const contain = log.json.entries.find((e) => e.action === 'tenant.contain');
  assert.equal(contain.attrs.retired_kid, kidOf(tok));
  assert.equal(contain.attrs.sessions_revoked, 1);
  // novactl key rotate / list.
  const rot = nova.ctl('key', 'rotate', '--tenant', t.tenant, '--grace', '30');
  assert.equal(rot.code, 0, rot.stderr);
  assert.equal(rot.json.previous_state, 'grace');
  const ls = nova.ctl('key', 'list', '--tenant', t.tenant);
  assert.equal(ls.code, 0, ls.stderr);
  assert.deepEqual(ls.json.keys.map((k) => k.state).sort(), ['active', 'grace', 'retired']);
  assert.equal(nova.ctl('key', 'rotate', '--tenant', t.tenant, '--grace', '86401').code, 6);
  assert.equal(nova.ctl('tenant', 'contain', 'ten_nope').code, 7);
});

test('kill switches: set, listed, cleared, validated, audited', async () => {
  const t = makeTenant(nova, 'ks-a', 'killswitches:read killswitches:write audit:read');
  const tok = await token(nova, t);
  const put = (action, body) => call(nova, 'PUT', '/v1/kill-switches/' + action, { tok, body });
  let r = await put('cashout', { active: true, region: 'UG', reason: 'fraud spike' });
  assert.equal(r.status, 200, r.text);
  r = await call(nova, 'GET', '/v1/kill-switches', { tok });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.kill_switches.map((k) => [k.region, k.action, k.reason, k.set_by]), [['UG', 'cashout', 'fraud spike', t.id]]);
  // Another tenant sees none of them.
  const o = makeTenant(nova, 'ks-other', 'killswitches:read');
  assert.deepEqual((await call(nova, 'GET', '/v1/kill-switches', { tok: await token(nova, o) })).json.kill_switches, []);
  for (const [action, body, field] of [
    ['Cash Out', { active: true, reason: 'x' }, 'action'],
    ['cashout', { active: 'yes' }, 'active'],
    ['cashout', { active: true, region: 'kenya', reason: 'x' }, 'region'],
    ['cashout', { active: true }, 'reason'],
  ]) {
    const b = await put(encodeURIComponent(action), body);
    assert.equal(b.status, 422, `${action} ${JSON.stringify(body)}: ${b.text}`);
    assert.match(b.json.detail, new RegExp('^' + field));
  }
  r = await put('cashout', { active: false, region: 'UG' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual((await call(nova, 'GET', '/v1/kill-switches', { tok })).json.kill_switches, []);
  const log = await call(nova, 'GET', '/v1/audit?limit=200', { tok });
  const mine = log.json.entries.filter((e) => e.target === 'killswitch:UG:cashout').map((e) => e.action);
  assert.deepEqual(mine, ['killswitch.set', 'killswitch.clear']);
  const ro = makeTenant(nova, 'ks-ro', 'killswitches:read');
  assert.equal((await call(nova, 'PUT', '/v1/kill-switches/cashout', { tok: await token(nova, ro), body: { active: false } })).status, 403);
});

test('a kill switch flipped on one novad takes effect on another sharing Redis within 1 s',
  { skip: !process.env.NOVA_TEST_REDIS_URL && 'needs the shared control plane (NOVA_TEST_REDIS_URL)' }, async () => {
    const second = await startNova({ NOVA_ISSUER: ISSUER }, { shareWith: nova });
    try {
      const t = makeTenant(nova, 'ks-shared', 'killswitches:read killswitches:write');
      const tok = await token(nova, t);
      const seen = async (want) => {
        const until = Date.now() + 1000; // the bound: poll up to 1 s
        for (;;) {
          const r = await call(second, 'GET', '/v1/kill-switches', { tok });
          assert.equal(r.status, 200, r.text);
          const on = r.json.kill_switches.some((k) => k.action === 'settlement' && k.region === '*');
          if (on === want) return true;
          if (Date.now() > until) return false;
          await new Promise((ok) => setTimeout(ok, 25));
        }
      };
      assert.equal(await seen(false), true);
      const r = await call(nova, 'PUT', '/v1/kill-switches/settlement', { tok, body: { active: true, reason: 'eod incident' } });
      assert.equal(r.status, 200, r.text);
      assert.equal(await seen(true), true, 'the second novad sees the switch on within 1 s');
      await call(nova, 'PUT', '/v1/kill-switches/settlement', { tok, body: { active: false } });
      assert.equal(await seen(false), true, 'and off again within 1 s');
    } finally {
      await second.stop();
    }
  });
