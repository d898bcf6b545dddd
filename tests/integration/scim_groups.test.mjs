// SCIM 2.0 Groups (RFC 7643 §4.2, RFC 7644; issue 11 item 8) against the real novad: the IdP's
// client (this test) creates, reads, filters, pages, replaces, patches (Entra ID and Okta
// shapes, members[value eq "..."] paths) and deletes groups; members must be users of the
// tenant; ETags and If-Match; discovery lists Group; a user's read-only groups; the tenant's
// group->role mapping gives and takes roles; memberships become group:<id>#member@user:<id>
// tuples the check API sees; another tenant sees none of it; every change is audited without
// names.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNova, makeTenant, token, call } from './lib.mjs';

const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
let nova, admin, adminTok, scimTok, other, otherTok, otherScim, store;
let n = 0;

const MODEL = {
  schema_version: '1.1',
  type_definitions: [
    { type: 'user' },
    {
      type: 'group',
      relations: { member: { this: {} } },
      metadata: { relations: { member: { directly_related_user_types: [{ type: 'user' }] } } },
    },
    {
      type: 'report',
      relations: { reader: { this: {} } },
      metadata: { relations: { reader: { directly_related_user_types: [{ type: 'group', relation: 'member' }] } } },
    },
  ],
};

before(async () => {
  nova = await startNova();
  admin = makeTenant(nova, 'scimg-' + Date.now(), 'users:read users:write audit:read fga:read fga:write');
  adminTok = await token(nova, admin);
  const t = await call(nova, 'POST', '/v1/scim/tokens', { tok: adminTok, body: {} });
  assert.equal(t.status, 201, t.text);
  scimTok = t.json.token;
  other = makeTenant(nova, 'scimg-other-' + Date.now(), 'users:read users:write fga:read fga:write');
  otherTok = await token(nova, other);
  const o = await call(nova, 'POST', '/v1/scim/tokens', { tok: otherTok, body: {} });
  otherScim = o.json.token;
  // The tenant's policy store, whose model knows group#member.
  const s = await call(nova, 'POST', '/stores', { tok: adminTok, body: { name: 'scim groups' } });
  assert.equal(s.status, 201, s.text);
  const m = await call(nova, 'POST', `/stores/${s.json.id}/authorization-models`, { tok: adminTok, body: MODEL });
  assert.equal(m.status, 201, m.text);
  store = s.json.id;
});
after(async () => { await nova.stop(); });

function scim(method, path, body, { tok = scimTok, headers = {} } = {}) {
  return call(nova, method, '/scim/v2' + path, {
    tok, body, headers: body ? { 'content-type': 'application/scim+json', ...headers } : headers,
  });
}

function errorOf(r, status, scimType) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type'), /^application\/scim\+json/);
  assert.deepEqual(r.json.schemas, ['urn:ietf:params:scim:api:messages:2.0:Error']);
  assert.equal(r.json.status, String(status));
  if (scimType) assert.equal(r.json.scimType, scimType, r.text);
}

async function user(tok = scimTok, roles = []) {
  const r = await scim('POST', '/Users', { userName: `g${n++}-${Date.now()}@example.com`, roles: roles.map((value) => ({ value })) }, { tok });
  assert.equal(r.status, 201, r.text);
  return r.json.id;
}
async function group(displayName, members = [], extra = {}) {
  const r = await scim('POST', '/Groups', { schemas: [GROUP], displayName, members: members.map((value) => ({ value })), ...extra });
  assert.equal(r.status, 201, r.text);
  return r.json;
}
const ids = (g) => (g.members ?? []).map((m) => m.value).sort();
const patch = (id, Operations, headers = {}) => scim('PATCH', '/Groups/' + id, { schemas: [PATCH], Operations }, { headers });
const rolesOf = async (uid) => (await call(nova, 'GET', '/v1/users/' + uid, { tok: adminTok })).json.roles.slice().sort();
const check = async (uid, gid, extra = {}) => {
  const r = await call(nova, 'POST', `/stores/${store}/check`, {
    tok: adminTok, body: { tuple_key: { user: 'user:' + uid, relation: 'member', object: 'group:' + gid }, ...extra },
  });
  assert.equal(r.status, 200, r.text);
  return r.json.allowed;
};

test('discovery lists Group: ResourceTypes, Schemas', async () => {
  const rts = await scim('GET', '/ResourceTypes');
  assert.deepEqual(rts.json.Resources.map((r) => r.endpoint), ['/Users', '/Groups']);
  const rt = await scim('GET', '/ResourceTypes/Group');
  assert.equal(rt.status, 200);
  assert.equal(rt.json.schema, GROUP);
  const sch = await scim('GET', '/Schemas/' + GROUP);
  assert.equal(sch.status, 200);
  assert.deepEqual(sch.json.attributes.map((a) => a.name), ['displayName', 'externalId', 'members']);
  assert.equal((await scim('GET', '/Schemas')).json.Resources.length, 2);
});

test('create, get, ETag, members as users of the tenant, a user\'s groups', async () => {
  const u1 = await user(), u2 = await user();
  const g = await group('Engineering ' + Date.now(), [u1, u2], { externalId: 'ext-eng-' + Date.now() });
  assert.deepEqual(g.schemas, [GROUP]);
  assert.match(g.id, /^grp_/);
  assert.deepEqual(ids(g), [u1, u2].sort());
  assert.equal(g.members[0].type, 'User');
  assert.match(g.members[0].$ref, /^\/scim\/v2\/Users\/usr_/);
  assert.equal(g.meta.resourceType, 'Group');
  assert.equal(g.meta.version, 'W/"1"');
  const got = await scim('GET', '/Groups/' + g.id);
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('etag'), 'W/"1"');
  assert.deepEqual(got.json, g);
  // excludedAttributes=members (Entra ID)
  const ex = await scim('GET', `/Groups/${g.id}?excludedAttributes=members`);
  assert.equal(ex.json.members, undefined);
  // The User's read-only groups.
  const u = await scim('GET', '/Users/' + u1);
  assert.deepEqual(u.json.groups, [{ value: g.id, display: g.displayName, $ref: '/scim/v2/Groups/' + g.id, type: 'direct' }]);
  // Sending groups back on a PUT of the user is tolerated (read-only, ignored).
  const put = await scim('PUT', '/Users/' + u1, { userName: u.json.userName, groups: u.json.groups });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.groups.length, 1);
  // Unknown and foreign member ids are refused: 400 invalidValue, nothing written.
  const foreign = await user(otherScim);
  errorOf(await scim('POST', '/Groups', { displayName: 'Bad ' + Date.now(), members: [{ value: foreign }] }), 400, 'invalidValue');
  errorOf(await scim('POST', '/Groups', { displayName: 'Bad2 ' + Date.now(), members: [{ value: 'usr_nobody' }] }), 400, 'invalidValue');
  errorOf(await patch(g.id, [{ op: 'add', path: 'members', value: [{ value: foreign }] }]), 400, 'invalidValue');
  assert.deepEqual(ids((await scim('GET', '/Groups/' + g.id)).json), [u1, u2].sort());
  // Uniqueness of displayName (case aside) and externalId.
  errorOf(await scim('POST', '/Groups', { displayName: g.displayName.toUpperCase() }), 409, 'uniqueness');
  errorOf(await scim('POST', '/Groups', { displayName: 'Other ' + Date.now(), externalId: g.externalId }), 409, 'uniqueness');
  // Malformed bodies.
  errorOf(await scim('POST', '/Groups', { members: [] }), 400, 'invalidValue');
  errorOf(await scim('POST', '/Groups', { displayName: 'X', colour: 'red' }), 400, 'invalidSyntax');
  errorOf(await scim('POST', '/Groups', { displayName: 'X', members: 'no' }), 400, 'invalidValue');
  errorOf(await scim('GET', '/Groups/grp_nope'), 404);
});

test('list: filter eq co sw and or on displayName, externalId, members.value; startIndex and count', async () => {
  const tag = 'L' + Date.now();
  const u1 = await user(), u2 = await user();
  const a = await group(`${tag} Alpha`, [u1], { externalId: `${tag}-a` });
  const b = await group(`${tag} Beta`, [u1, u2]);
  const c = await group(`${tag} Gamma`, []);
  const list = async (q) => {
    const r = await scim('GET', '/Groups?' + q);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.schemas, ['urn:ietf:params:scim:api:messages:2.0:ListResponse']);
    return r.json;
  };
  const f = (expr, more = '') => list('filter=' + encodeURIComponent(expr) + more);
  const names = (l) => l.Resources.map((g) => g.displayName).sort(); // listed oldest first; one second holds all three
  assert.deepEqual(names(await f(`displayName eq "${tag} alpha"`)), [`${tag} Alpha`], 'displayName is case-insensitive');
  assert.deepEqual(names(await f(`displayName sw "${tag}"`)), [`${tag} Alpha`, `${tag} Beta`, `${tag} Gamma`]);
  assert.deepEqual(names(await f(`displayName co "${tag} Bet"`)), [`${tag} Beta`]);
  assert.deepEqual(names(await f(`externalId eq "${tag}-a"`)), [`${tag} Alpha`]);
  assert.deepEqual(names(await f(`externalId eq "${tag}-A"`)), [], 'externalId is case-exact');
  assert.deepEqual(names(await f(`members.value eq "${u2}"`)), [`${tag} Beta`]);
  assert.deepEqual(names(await f(`members[value eq "${u1}"] and displayName sw "${tag}"`)), [`${tag} Alpha`, `${tag} Beta`]);
  assert.deepEqual(names(await f(`displayName eq "${tag} Alpha" or displayName eq "${tag} Gamma"`)), [`${tag} Alpha`, `${tag} Gamma`]);
  assert.deepEqual(names(await f(`(members.value eq "${u1}" or displayName eq "${tag} Gamma") and not (displayName co "Beta")`)), [`${tag} Alpha`, `${tag} Gamma`]);
  const all = (await f(`displayName sw "${tag}"`)).Resources.map((g) => g.displayName);
  const page = await f(`displayName sw "${tag}"`, '&startIndex=2&count=1');
  assert.equal(page.totalResults, 3);
  assert.equal(page.startIndex, 2);
  assert.equal(page.itemsPerPage, 1);
  assert.deepEqual(names(page), [all[1]], 'pages follow one stable order');
  const rest = await f(`displayName sw "${tag}"`, '&startIndex=3&count=5');
  assert.deepEqual(names(rest), [all[2]]);
  const none = await f(`displayName sw "${tag}"`, '&count=0');
  assert.equal(none.totalResults, 3);
  assert.deepEqual(none.Resources, []);
  const ex = await f(`displayName eq "${tag} Beta"`, '&excludedAttributes=members');
  assert.equal(ex.Resources[0].members, undefined);
  errorOf(await scim('GET', '/Groups?filter=' + encodeURIComponent('displayName eq')), 400, 'invalidFilter');
  void a; void b; void c;
});

test('Users filtered by their groups: groups.value, groups.display, groups, inside and/or/not', async () => {
  const tag = 'U' + Date.now();
  const u1 = await user(), u2 = await user(), u3 = await user();
  const a = (await group(`${tag} Tellers`, [u1, u2])).id;
  const b = (await group(`${tag} Auditors`, [u2])).id;
  const users = async (expr) => {
    const r = await scim('GET', '/Users?filter=' + encodeURIComponent(expr) + '&count=200');
    assert.equal(r.status, 200, r.text);
    return r.json.Resources.map((u) => u.id).sort();
  };
  const sorted = (...ids) => ids.sort();
  assert.deepEqual(await users(`groups.value eq "${a}"`), sorted(u1, u2));
  assert.deepEqual(await users(`groups eq "${b}"`), [u2], 'groups alone means its value');
  assert.deepEqual(await users(`groups.display eq "${tag} auditors"`), [u2], 'display is case-insensitive');
  assert.deepEqual(await users(`groups.value eq "${a}" and not (groups.value eq "${b}")`), [u1]);
  assert.deepEqual(await users(`groups.value eq "${b}" or id eq "${u3}"`), sorted(u2, u3));
  assert.deepEqual(await users(`groups.value eq "${a.toUpperCase()}"`), [], 'ids are case-exact');
  assert.ok(!(await users('not (groups pr)')).some((id) => id === u1 || id === u2), 'members have groups');
  assert.ok((await users('not (groups pr)')).includes(u3), 'a user in no group has none');
});

test('PUT replaces; If-Match on PUT, PATCH and DELETE', async () => {
  const u1 = await user(), u2 = await user();
  const g = await group('Put ' + Date.now(), [u1], { externalId: 'put-' + Date.now() });
  const r = await scim('PUT', '/Groups/' + g.id, { schemas: [GROUP], displayName: g.displayName + ' renamed', members: [{ value: u2 }] }, { headers: { 'if-match': 'W/"1"' } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(ids(r.json), [u2]);
  assert.equal(r.json.externalId, undefined, 'a PUT without externalId clears it');
  assert.equal(r.json.meta.version, 'W/"2"');
  errorOf(await scim('PUT', '/Groups/' + g.id, { displayName: 'stale' }, { headers: { 'if-match': 'W/"1"' } }), 412);
  errorOf(await patch(g.id, [{ op: 'replace', path: 'displayName', value: 'stale' }], { 'if-match': 'W/"1"' }), 412);
  errorOf(await scim('DELETE', '/Groups/' + g.id, undefined, { headers: { 'if-match': 'W/"1"' } }), 412);
  const p = await patch(g.id, [{ op: 'replace', path: 'displayName', value: g.displayName + ' again' }], { 'if-match': 'W/"2"' });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.headers.get('etag'), 'W/"3"');
  errorOf(await scim('PUT', '/Groups/grp_missing', { displayName: 'x' }), 404);
});

test('PATCH: members add, remove by filter and by value, replace; displayName; Okta and Entra ID shapes', async () => {
  const [u1, u2, u3] = [await user(), await user(), await user()];
  const g = await group('Patch ' + Date.now(), [u1]);
  let r = await patch(g.id, [{ op: 'Add', path: 'members', value: [{ value: u2 }, { value: u3 }] }]);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(ids(r.json), [u1, u2, u3].sort());
  // Okta: remove with a members[value eq] path.
  r = await patch(g.id, [{ op: 'remove', path: `members[value eq "${u2}"]` }]);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(ids(r.json), [u1, u3].sort());
  // Entra ID: remove with a value array.
  r = await patch(g.id, [{ op: 'Remove', path: 'members', value: [{ value: u1 }] }]);
  assert.deepEqual(ids(r.json), [u3]);
  // Removing a member who is not one is a no-op.
  r = await patch(g.id, [{ op: 'remove', path: `members[value eq "${u1}"]` }]);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(ids(r.json), [u3]);
  // Okta: replace with a value object and no path (displayName and members).
  r = await patch(g.id, [{ op: 'replace', value: { id: g.id, displayName: g.displayName + ' okta', members: [{ value: u1 }, { value: u2 }] } }]);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.displayName, g.displayName + ' okta');
  assert.deepEqual(ids(r.json), [u1, u2].sort());
  // Replace a member selected by a filter.
  r = await patch(g.id, [{ op: 'replace', path: `members[value eq "${u2}"]`, value: { value: u3 } }]);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(ids(r.json), [u1, u3].sort());
  errorOf(await patch(g.id, [{ op: 'replace', path: `members[value eq "${u2}"]`, value: { value: u3 } }]), 400, 'noTarget');
  // Remove all members; add externalId; several operations apply in order.
  r = await patch(g.id, [
    { op: 'remove', path: 'members' },
    { op: 'add', path: 'externalId', value: 'ext-p-' + Date.now() },
    { op: 'add', path: 'members', value: [{ value: u2 }] },
    { op: 'replace', path: `urn:ietf:params:scim:schemas:core:2.0:Group:displayName`, value: g.displayName + ' final' },
  ]);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(ids(r.json), [u2]);
  assert.match(r.json.externalId, /^ext-p-/);
  assert.equal(r.json.displayName, g.displayName + ' final');
  // Refusals: an operation fails, nothing of the request is applied.
  const before = (await scim('GET', '/Groups/' + g.id)).json;
  errorOf(await patch(g.id, [{ op: 'add', path: 'members', value: [{ value: u1 }] }, { op: 'remove', path: 'displayName' }]), 400, 'mutability');
  errorOf(await patch(g.id, [{ op: 'add', path: 'members[value eq' }]), 400, 'invalidPath');
  errorOf(await patch(g.id, [{ op: 'add', path: 'owner', value: 'x' }]), 400, 'invalidPath');
  errorOf(await patch(g.id, [{ op: 'replace', path: `members[value eq "${u2}"].display`, value: 'x' }]), 400, 'invalidPath');
  errorOf(await patch(g.id, [{ op: 'move', path: 'members' }]), 400, 'invalidSyntax');
  errorOf(await scim('PATCH', '/Groups/' + g.id, { Operations: [] }), 400, 'invalidSyntax');
  assert.deepEqual((await scim('GET', '/Groups/' + g.id)).json, before);
});

test('concurrent PATCHes without If-Match all land (each re-reads when another won the race)', async () => {
  const us = [];
  for (let i = 0; i < 6; i++) us.push(await user());
  const g = await group('Race ' + Date.now(), []);
  const rs = await Promise.all(us.map((u) => patch(g.id, [{ op: 'add', path: 'members', value: [{ value: u }] }])));
  for (const r of rs) assert.equal(r.status, 200, r.text);
  const got = (await scim('GET', '/Groups/' + g.id)).json;
  assert.deepEqual(ids(got), us.slice().sort());
  assert.equal(got.meta.version, 'W/"7"');
});

test('groups become roles through the tenant\'s mapping; leaving or deleting takes them away', async () => {
  const tag = 'R' + Date.now();
  // The mapping: GET and PUT /v1/scim/group-roles (the tenant's backend).
  const put = await call(nova, 'PUT', '/v1/scim/group-roles', {
    tok: adminTok, body: { mappings: [{ group: `${tag} Finance`, role: 'finance' }, { group: `${tag} Finance`, role: 'approver' }, { group: `${tag} Ops`, role: 'ops' }] },
  });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.mappings.length, 3);
  assert.deepEqual((await call(nova, 'GET', '/v1/scim/group-roles', { tok: adminTok })).json, put.json);
  assert.equal((await call(nova, 'PUT', '/v1/scim/group-roles', { tok: adminTok, body: { mappings: [{ group: 'x', role: 'Not A Role' }] } })).status, 400);
  const own = await user(scimTok, ['staff', 'approver']); // holds approver before any group
  const plain = await user();
  const fin = await group(`${tag} finance`, [own, plain]); // the mapping's names match case aside
  assert.deepEqual(await rolesOf(own), ['approver', 'finance', 'staff']);
  assert.deepEqual(await rolesOf(plain), ['approver', 'finance']);
  // The SCIM User shows them too.
  assert.deepEqual((await scim('GET', '/Users/' + plain)).json.roles.map((r) => r.value).sort(), ['approver', 'finance']);
  const ops = await group(`${tag} Ops`, [plain]);
  assert.deepEqual(await rolesOf(plain), ['approver', 'finance', 'ops']);
  // The user's own roles set again (Okta PUTs the whole user, roles left out; Entra ID PATCHes
  // them; the backend PATCHes /v1/users): the groups' roles stay.
  const plainUser = (await scim('GET', '/Users/' + plain)).json;
  let w = await scim('PUT', '/Users/' + plain, { userName: plainUser.userName });
  assert.equal(w.status, 200, w.text);
  assert.deepEqual(w.json.roles.map((x) => x.value).sort(), ['approver', 'finance', 'ops']);
  w = await scim('PATCH', '/Users/' + plain, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'roles', value: [{ value: 'auditor' }] }] });
  assert.equal(w.status, 200, w.text);
  assert.deepEqual(await rolesOf(plain), ['approver', 'auditor', 'finance', 'ops']);
  w = await call(nova, 'PATCH', '/v1/users/' + plain, { tok: adminTok, body: { roles: [] } });
  assert.equal(w.status, 200, w.text);
  assert.deepEqual(w.json.roles.slice().sort(), ['approver', 'finance', 'ops']);
  // Leaving Finance: the roles only Finance gave go; the user's own approver stays.
  let r = await patch(fin.id, [{ op: 'remove', path: `members[value eq "${own}"]` }]);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(await rolesOf(own), ['approver', 'staff']);
  // Renaming Ops away from its mapping takes ops away; back again gives it.
  r = await patch(ops.id, [{ op: 'replace', path: 'displayName', value: `${tag} Ops renamed` }]);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(await rolesOf(plain), ['approver', 'finance']);
  // A mapping change reaches existing members.
  const put2 = await call(nova, 'PUT', '/v1/scim/group-roles', {
    tok: adminTok, body: { mappings: [{ group: `${tag} Finance`, role: 'finance' }, { group: `${tag} Ops renamed`, role: 'ops' }] },
  });
  assert.equal(put2.status, 200, put2.text);
  assert.deepEqual(await rolesOf(plain), ['finance', 'ops']);
  // Deleting a group takes its roles away.
  assert.equal((await scim('DELETE', '/Groups/' + fin.id)).status, 204);
  assert.deepEqual(await rolesOf(plain), ['ops']);
  errorOf(await scim('GET', '/Groups/' + fin.id), 404);
  errorOf(await scim('DELETE', '/Groups/' + fin.id), 404);
  assert.equal((await call(nova, 'PUT', '/v1/scim/group-roles', { tok: adminTok, body: { mappings: [] } })).status, 200);
  assert.deepEqual(await rolesOf(plain), []);
});

test('memberships are group#member tuples in the tenant\'s policy store, seen by check', async () => {
  const u1 = await user(), u2 = await user();
  const g = await group('Tuples ' + Date.now(), [u1]);
  assert.equal(await check(u1, g.id), true);
  assert.equal(await check(u2, g.id), false);
  // Through the model: a report readable by the group's members.
  const w = await call(nova, 'POST', `/stores/${store}/write`, { tok: adminTok, body: { writes: { tuple_keys: [{ user: `group:${g.id}#member`, relation: 'reader', object: 'report:q4' }] } } });
  assert.equal(w.status, 200, w.text);
  const reads = async (uid) => (await call(nova, 'POST', `/stores/${store}/check`, { tok: adminTok, body: { tuple_key: { user: 'user:' + uid, relation: 'reader', object: 'report:q4' } } })).json.allowed;
  assert.equal(await reads(u1), true);
  let r = await patch(g.id, [{ op: 'add', path: 'members', value: [{ value: u2 }] }, { op: 'remove', path: `members[value eq "${u1}"]` }]);
  assert.equal(r.status, 200, r.text);
  assert.equal(await check(u1, g.id), false);
  assert.equal(await check(u2, g.id), true);
  assert.equal(await reads(u2), true);
  // The tuples are readable through /read like any other.
  const rd = await call(nova, 'POST', `/stores/${store}/read`, { tok: adminTok, body: { tuple_key: { object: 'group:' + g.id, relation: 'member' } } });
  assert.deepEqual(rd.json.tuples.map((t) => t.key.user), ['user:' + u2]);
  // Deleting the SCIM user deletes its tuples; deleting the group deletes the rest.
  const g2 = await group('Tuples2 ' + Date.now(), [u2]);
  assert.equal(await check(u2, g2.id), true);
  assert.equal((await scim('DELETE', '/Users/' + u2)).status, 204);
  assert.equal(await check(u2, g.id), false);
  assert.equal(await check(u2, g2.id), false);
  assert.deepEqual(ids((await scim('GET', '/Groups/' + g.id)).json), []);
  // Through /v1/users too.
  const u4 = await user();
  const g3 = await group('Tuples3 ' + Date.now(), [u4]);
  assert.equal(await check(u4, g3.id), true);
  assert.equal((await call(nova, 'DELETE', '/v1/users/' + u4, { tok: adminTok })).status, 204);
  assert.equal(await check(u4, g3.id), false);
  assert.deepEqual(ids((await scim('GET', '/Groups/' + g3.id)).json), []);
  const u3 = await user();
  r = await patch(g.id, [{ op: 'add', path: 'members', value: [{ value: u3 }] }]);
  assert.equal(await check(u3, g.id), true);
  assert.equal((await scim('DELETE', '/Groups/' + g.id)).status, 204);
  assert.equal(await check(u3, g.id), false);
});

test('a change and its tuples commit together: a refused tuple leaves the group, and every store, as it was', async () => {
  // A second store whose model lets the tenant hold group#member under a condition.
  const s2 = await call(nova, 'POST', '/stores', { tok: adminTok, body: { name: 'scim groups conditional' } });
  assert.equal(s2.status, 201, s2.text);
  const cond = {
    schema_version: '1.1',
    type_definitions: [
      { type: 'user' },
      {
        type: 'group',
        relations: { member: { this: {} } },
        metadata: { relations: { member: { directly_related_user_types: [{ type: 'user' }, { type: 'user', condition: 'in_hours' }] } } },
      },
    ],
    conditions: {
      in_hours: { name: 'in_hours', expression: 'hour < 18', parameters: { hour: { type_name: 'TYPE_NAME_INT' } } },
    },
  };
  const m2 = await call(nova, 'POST', `/stores/${s2.json.id}/authorization-models`, { tok: adminTok, body: cond });
  assert.equal(m2.status, 201, m2.text);
  const u1 = await user(), u2 = await user();
  const g = await group('Atomic ' + Date.now(), [u1]);
  const read2 = async () => (await call(nova, 'POST', `/stores/${s2.json.id}/read`, { tok: adminTok, body: { tuple_key: { object: 'group:' + g.id, relation: 'member' } } })).json.tuples;
  assert.deepEqual((await read2()).map((t) => t.key.user), ['user:' + u1]);
  // The tenant grants u2 membership under a condition by hand; SCIM then adds u2 plainly.
  const w = await call(nova, 'POST', `/stores/${s2.json.id}/write`, { tok: adminTok, body: { writes: { tuple_keys: [{ user: 'user:' + u2, relation: 'member', object: 'group:' + g.id, condition: { name: 'in_hours' } }] } } });
  assert.equal(w.status, 200, w.text);
  const before = await scim('GET', '/Groups/' + g.id);
  const r = await patch(g.id, [{ op: 'add', path: 'members', value: [{ value: u2 }] }, { op: 'remove', path: `members[value eq "${u1}"]` }]);
  assert.equal(r.status, 409, r.text);
  assert.match(r.json.detail, /condition/);
  assert.equal(r.json.scimType, undefined);
  // Nothing of the change landed: not the group's rows, not the first store's tuples.
  const after = await scim('GET', '/Groups/' + g.id);
  assert.equal(after.json.meta.version, before.json.meta.version);
  assert.deepEqual(ids(after.json), [u1]);
  assert.equal(await check(u1, g.id), true);
  assert.equal(await check(u2, g.id), false);
  assert.equal((await read2()).length, 2);
  // Once the tenant deletes its tuple, the same change lands everywhere at once.
  const d = await call(nova, 'POST', `/stores/${s2.json.id}/write`, { tok: adminTok, body: { deletes: { tuple_keys: [{ user: 'user:' + u2, relation: 'member', object: 'group:' + g.id }] } } });
  assert.equal(d.status, 200, d.text);
  const r2 = await patch(g.id, [{ op: 'add', path: 'members', value: [{ value: u2 }] }, { op: 'remove', path: `members[value eq "${u1}"]` }]);
  assert.equal(r2.status, 200, r2.text);
  assert.equal(await check(u1, g.id), false);
  assert.equal(await check(u2, g.id), true);
  assert.deepEqual((await read2()).map((t) => t.key.user), ['user:' + u2]);
  assert.equal((await call(nova, 'DELETE', `/stores/${s2.json.id}`, { tok: adminTok })).status, 204);
});

test('a tenant sees none of another tenant\'s groups, and its store gets none of their tuples', async () => {
  const u = await user();
  const g = await group('Mine ' + Date.now(), [u]);
  errorOf(await scim('GET', '/Groups/' + g.id, undefined, { tok: otherScim }), 404);
  errorOf(await scim('PUT', '/Groups/' + g.id, { displayName: 'taken' }, { tok: otherScim }), 404);
  errorOf(await scim('PATCH', '/Groups/' + g.id, { schemas: [PATCH], Operations: [{ op: 'remove', path: 'members' }] }, { tok: otherScim }), 404);
  errorOf(await scim('DELETE', '/Groups/' + g.id, undefined, { tok: otherScim }), 404);
  const l = await scim('GET', '/Groups?filter=' + encodeURIComponent(`displayName eq "${g.displayName}"`), undefined, { tok: otherScim });
  assert.equal(l.json.totalResults, 0);
  // The same name is free in the other tenant; its members must be its own users.
  const ou = await user(otherScim);
  const og = await scim('POST', '/Groups', { displayName: g.displayName, members: [{ value: ou }] }, { tok: otherScim });
  assert.equal(og.status, 201, og.text);
  errorOf(await scim('PATCH', '/Groups/' + og.json.id, { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: u }] }] }, { tok: otherScim }), 400, 'invalidValue');
  // The other tenant's stores are its own: this tenant's store is not found to it.
  assert.equal((await call(nova, 'POST', `/stores/${store}/check`, { tok: otherTok, body: { tuple_key: { user: 'user:' + ou, relation: 'member', object: 'group:' + og.json.id } } })).status, 404);
  assert.equal(await check(ou, og.json.id), false);
  errorOf(await scim('GET', '/Groups', undefined, { tok: null }), 401);
});

test('every change is in the tenant\'s audit chain, without group names', async () => {
  const u = await user();
  const name = 'Audited Secret Name ' + Date.now();
  const g = await group(name, [u]);
  await patch(g.id, [{ op: 'remove', path: 'members' }]);
  assert.equal((await scim('DELETE', '/Groups/' + g.id)).status, 204);
  const a = await call(nova, 'GET', `/v1/audit?limit=200&target=scim_group:${g.id}`, { tok: adminTok });
  assert.equal(a.status, 200, a.text);
  const actions = a.json.entries.map((e) => e.action).sort();
  assert.deepEqual(actions, ['scim_group.create', 'scim_group.delete', 'scim_group.update']);
  const all = await call(nova, 'GET', `/v1/audit?limit=200&target=fga_store:${store}`, { tok: adminTok });
  assert.ok(all.json.entries.some((e) => e.action === 'fga_tuples.write' && e.actor.startsWith('scim:')), 'the tuple writes are audited');
  const every = await call(nova, 'GET', '/v1/audit?limit=200', { tok: adminTok });
  assert.ok(!a.text.includes(name) && !all.text.includes(name) && !every.text.includes(name), 'no group name in the audit log');
});
