// Nova's SCIM Groups PATCH (src/api/scim_groups.c) against the npm scim-patch library on the
// same operations: for each case, the group as Nova serves it is patched locally with
// scim-patch and on the real novad, and what Nova keeps of a Group (displayName, externalId,
// the member ids) must come out the same. Member ids are filled in per case (users created
// here), so the operations are written with placeholders $0..$3.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { scimPatch } from 'scim-patch';
import { startNova, makeTenant, token, call } from '../integration/lib.mjs';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
let nova, tok, n = 0;
const users = [];

before(async () => {
  nova = await startNova();
  const t = makeTenant(nova, 'scim-groups-interop-' + Date.now(), 'users:read users:write');
  const r = await call(nova, 'POST', '/v1/scim/tokens', { tok: await token(nova, t), body: {} });
  assert.equal(r.status, 201, r.text);
  tok = r.json.token;
  for (let i = 0; i < 4; i++) {
    const u = await scim('POST', '/Users', { userName: `gi${i}-${Date.now()}@example.com` });
    assert.equal(u.status, 201, u.text);
    users.push(u.json.id);
  }
});
after(async () => { await nova.stop(); });

const scim = (method, path, body) => call(nova, method, '/scim/v2' + path, {
  tok, body, headers: body ? { 'content-type': 'application/scim+json' } : {},
});

// What Nova keeps of a Group, in a comparable form (members as a sorted list of ids).
const kept = (g) => ({
  displayName: g.displayName, externalId: g.externalId,
  members: (g.members ?? []).map((m) => m.value).sort(),
});

const asSent = (g) => ({ ...structuredClone(g), members: (g.members ?? []).map((m) => ({ value: m.value })) });

// $0..$3 in the operations become the users' ids.
const fill = (ops) => JSON.parse(JSON.stringify(ops).replace(/\$(\d)/g, (_, i) => users[Number(i)]));

const CASES = {
  'add members (a union)': [{ op: 'add', path: 'members', value: [{ value: '$1' }, { value: '$0' }] }],
  'add members, Entra ID casing': [{ op: 'Add', path: 'members', value: [{ value: '$2' }] }],
  'remove a member by filter (Okta)': [{ op: 'remove', path: 'members[value eq "$1"]' }],
  'remove members by value (Entra ID)': [{ op: 'Remove', path: 'members', value: [{ value: '$0' }] }],
  'remove all members': [{ op: 'remove', path: 'members' }],
  'replace a member selected by a filter': [{ op: 'replace', path: 'members[value eq "$1"]', value: { value: '$2' } }],
  'replace members': [{ op: 'replace', path: 'members', value: [{ value: '$3' }] }],
  'replace displayName': [{ op: 'replace', path: 'displayName', value: 'Renamed' }],
  'replace displayName, Entra ID casing': [{ op: 'Replace', path: 'displayName', value: 'Renamed Again' }],
  'add externalId': [{ op: 'add', path: 'externalId', value: 'ext-g' }],
  'remove externalId': [{ op: 'remove', path: 'externalId' }],
  'replace with a value object, no path (Okta)': [{ op: 'replace', value: { displayName: 'Okta Name', externalId: 'ext-okta' } }],
  'several operations in order': [
    { op: 'add', path: 'members', value: [{ value: '$2' }, { value: '$3' }] },
    { op: 'remove', path: 'members[value eq "$0"]' },
    { op: 'replace', path: 'displayName', value: 'Final' },
    { op: 'remove', path: 'members[value eq "$3"]' },
  ],
};

for (const [name, raw] of Object.entries(CASES)) {
  test(`Group PATCH ${name}: Nova agrees with scim-patch`, async () => {
    const ops = fill(raw);
    const c = await scim('POST', '/Groups', {
      schemas: [GROUP], displayName: `Interop ${n++} ${Date.now()}`, externalId: `ext-${Date.now()}-${n}`,
      members: [{ value: users[0] }, { value: users[1] }],
    });
    assert.equal(c.status, 201, c.text);
    const beforeG = structuredClone(c.json);
    // Names must stay unique in the tenant: give each case's new name its own suffix.
    for (const op of ops) {
      if (typeof op.value === 'string' && /displayName$/i.test(op.path ?? '')) op.value += ' ' + c.json.id;
      if (op.value && typeof op.value === 'object' && op.value.displayName) op.value.displayName += ' ' + c.json.id;
    }
    // The reference holds members as the IdP sent them ({value}): scim-patch matches values of a
    // multi-valued attribute by deep equality, Nova by value, and the $ref and type Nova adds
    // would otherwise make the same member two different values to scim-patch.
    const want = scimPatch(asSent(beforeG), ops);
    const got = await scim('PATCH', '/Groups/' + c.json.id, { schemas: [PATCH], Operations: ops });
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(kept(got.json), kept(want));
    // And what Nova answered is what it stored.
    assert.deepEqual(kept((await scim('GET', '/Groups/' + c.json.id)).json), kept(got.json));
  });
}

test('a filter that selects no member: remove leaves the group as it was, replace is refused (noTarget), in both', async () => {
  const c = await scim('POST', '/Groups', { displayName: `NoMatch ${Date.now()}`, members: [{ value: users[0] }] });
  assert.equal(c.status, 201, c.text);
  const rm = [{ op: 'remove', path: `members[value eq "${users[3]}"]` }];
  const got = await scim('PATCH', '/Groups/' + c.json.id, { schemas: [PATCH], Operations: rm });
  assert.equal(got.status, 200, got.text);
  assert.deepEqual(kept(got.json), kept(scimPatch(asSent(c.json), rm)));
  const rp = [{ op: 'replace', path: `members[value eq "${users[3]}"]`, value: { value: users[2] } }];
  assert.throws(() => scimPatch(asSent(c.json), rp), /no record match/);
  const refused = await scim('PATCH', '/Groups/' + c.json.id, { schemas: [PATCH], Operations: rp });
  assert.equal(refused.status, 400, refused.text);
  assert.equal(refused.json.scimType, 'noTarget');
});
