// Nova's SCIM PATCH (src/api/scim.c) against the npm scim-patch library (an RFC 7644 §3.5.2
// implementation nobody here wrote) on the same operations: for each case, the user as Nova
// serves it is patched locally with scim-patch and on the real novad, and the attributes
// Nova keeps must come out the same.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { scimPatch } from 'scim-patch';
import { startNova, makeTenant, token, call } from '../integration/lib.mjs';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
let nova, tok, n = 0;

before(async () => {
  nova = await startNova();
  const t = makeTenant(nova, 'scim-interop-' + Date.now(), 'users:read users:write');
  const r = await call(nova, 'POST', '/v1/scim/tokens', { tok: await token(nova, t), body: {} });
  assert.equal(r.status, 201, r.text);
  tok = r.json.token;
});
after(async () => { await nova.stop(); });

const scim = (method, path, body) => call(nova, method, '/scim/v2' + path, {
  tok, body, headers: body ? { 'content-type': 'application/scim+json' } : {},
});

// What Nova keeps of a User, in a comparable form (roles as a sorted list of values).
const kept = (u) => ({
  userName: u.userName, active: u.active, externalId: u.externalId,
  displayName: u.displayName, formatted: u.name?.formatted,
  roles: (u.roles ?? []).map((r) => r.value).sort(),
});

const CASES = {
  'replace active (Okta deactivation)': [{ op: 'replace', path: 'active', value: false }],
  'replace with a value object, no path (Okta)': [{ op: 'replace', value: { active: false, displayName: 'Dee' } }],
  'replace displayName (Entra ID)': [{ op: 'Replace', path: 'displayName', value: 'Dee Two' }],
  'add externalId (Entra ID)': [{ op: 'Add', path: 'externalId', value: 'ext-new' }],
  'remove externalId': [{ op: 'remove', path: 'externalId' }],
  'add roles: a union': [{ op: 'add', path: 'roles', value: [{ value: 'approver' }, { value: 'staff' }] }],
  'replace roles': [{ op: 'replace', path: 'roles', value: [{ value: 'auditor' }] }],
  'remove all roles': [{ op: 'remove', path: 'roles' }],
  'several operations in order': [
    { op: 'replace', path: 'active', value: false },
    { op: 'replace', path: 'active', value: true },
    { op: 'add', path: 'roles', value: [{ value: 'ops' }] },
    { op: 'replace', path: 'externalId', value: 'ext-final' },
  ],
};

for (const [name, ops] of Object.entries(CASES)) {
  test(`PATCH ${name}: Nova agrees with scim-patch`, async () => {
    const c = await scim('POST', '/Users', {
      userName: `interop${n++}-${Date.now()}@example.com`, externalId: `ext-${Date.now()}-${n}`,
      displayName: 'Dee', roles: [{ value: 'staff' }],
    });
    assert.equal(c.status, 201, c.text);
    const before = structuredClone(c.json);
    // Nova keeps one name: displayName and name.formatted move together, so the reference
    // resource carries the same rule (what a displayName op sets, formatted reads).
    const want = scimPatch(structuredClone(before), ops);
    const got = await scim('PATCH', '/Users/' + c.json.id, { schemas: [PATCH], Operations: ops });
    assert.equal(got.status, 200, got.text);
    const w = kept(want), g = kept(got.json);
    if (w.displayName !== before.displayName) w.formatted = w.displayName;
    assert.deepEqual(g, w);
    // And what Nova answered is what it stored.
    assert.deepEqual(kept((await scim('GET', '/Users/' + c.json.id)).json), g);
  });
}
