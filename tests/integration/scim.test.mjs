// SCIM 2.0 (RFC 7643/7644, issue 11 item 8) against the real novad: a tenant's backend makes a
// SCIM token; the IdP's client (this test) creates, reads, filters, pages, replaces, patches
// (the Entra ID and Okta shapes) and deletes users; SCIM errors with scimType; the users are
// the same users /v1/users shows; another tenant's token sees none of them; a revoked token
// is refused; every change is in the tenant's audit chain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNova, makeTenant, token, call } from './lib.mjs';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const METRICS = 'scim-metrics-token';
let nova, admin, adminTok, scimTok, scimId, other, otherScim;

before(async () => {
  nova = await startNova({ NOVA_METRICS_TOKEN: METRICS });
  admin = makeTenant(nova, 'scim-' + Date.now(), 'users:read users:write audit:read');
  adminTok = await token(nova, admin);
  const t = await call(nova, 'POST', '/v1/scim/tokens', { tok: adminTok, body: {} });
  assert.equal(t.status, 201, t.text);
  assert.match(t.json.token, /^scim\.[^.]+\.[A-Za-z0-9_-]{43}$/);
  scimTok = t.json.token;
  scimId = t.json.id;
  other = makeTenant(nova, 'scim-other-' + Date.now(), 'users:read users:write');
  const o = await call(nova, 'POST', '/v1/scim/tokens', { tok: await token(nova, other), body: {} });
  otherScim = o.json.token;
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
  assert.ok(r.json.detail);
}

const entraUser = (n) => ({
  schemas: [USER, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
  externalId: `ext-${n}`, userName: `person${n}@example.com`, active: true,
  displayName: `Person ${n}`, emails: [{ primary: true, type: 'work', value: `person${n}@example.com` }],
  name: { formatted: `Person ${n}`, familyName: `${n}`, givenName: 'Person' },
  roles: [{ value: 'staff' }],
});

test('the token: needed, per tenant, bad ones refused with 401 and a challenge', async () => {
  errorOf(await scim('GET', '/Users', undefined, { tok: null }), 401);
  const r = await scim('GET', '/Users', undefined, { tok: 'scim.x.y' });
  errorOf(r, 401);
  assert.match(r.headers.get('www-authenticate'), /^Bearer realm="nova"/);
  errorOf(await scim('GET', '/Users', undefined, { tok: scimTok.slice(0, -1) + (scimTok.endsWith('A') ? 'B' : 'A') }), 401);
  errorOf(await scim('GET', '/Users', undefined, { tok: adminTok }), 401); // an OAuth token is not a SCIM token
  // The token's tenant part cannot be swapped for another tenant's.
  const [, , secret] = scimTok.split('.');
  errorOf(await scim('GET', '/Users', undefined, { tok: `scim.${other.tenant}.${secret}` }), 401);
  assert.equal((await call(nova, 'POST', '/v1/scim/tokens', { body: {} })).status, 401);
});

test('discovery: ServiceProviderConfig, ResourceTypes, Schemas', async () => {
  const spc = await scim('GET', '/ServiceProviderConfig');
  assert.equal(spc.status, 200);
  assert.equal(spc.json.patch.supported, true);
  assert.equal(spc.json.filter.supported, true);
  assert.equal(spc.json.etag.supported, true);
  assert.equal(spc.json.authenticationSchemes[0].type, 'oauthbearertoken');
  const rts = await scim('GET', '/ResourceTypes');
  assert.equal(rts.json.Resources[0].endpoint, '/Users');
  assert.equal((await scim('GET', '/ResourceTypes/User')).json.schema, USER);
  errorOf(await scim('GET', '/ResourceTypes/Role'), 404); // User and Group are served (Groups: scim_groups.test.mjs)
  const sch = await scim('GET', '/Schemas');
  const user = sch.json.Resources[0];
  assert.equal(user.id, USER);
  const names = user.attributes.map((a) => a.name);
  for (const n of ['userName', 'externalId', 'name', 'displayName', 'active', 'emails', 'roles']) assert.ok(names.includes(n), n);
  assert.equal((await scim('GET', '/Schemas/' + USER)).json.id, USER);
});

test('create (Entra ID shape), get, the same user on /v1/users, uniqueness', async () => {
  const r = await scim('POST', '/Users', entraUser(1));
  assert.equal(r.status, 201, r.text);
  assert.match(r.headers.get('content-type'), /^application\/scim\+json/);
  assert.equal(r.headers.get('location'), `/scim/v2/Users/${r.json.id}`);
  assert.equal(r.json.userName, 'person1@example.com');
  assert.equal(r.json.externalId, 'ext-1');
  assert.equal(r.json.active, true);
  assert.equal(r.json.name.formatted, 'Person 1');
  assert.deepEqual(r.json.roles, [{ value: 'staff' }]);
  assert.equal(r.json.meta.resourceType, 'User');
  assert.equal(r.headers.get('etag'), r.json.meta.version);
  const g = await scim('GET', '/Users/' + r.json.id);
  assert.deepEqual(g.json, r.json);
  const v1 = await call(nova, 'GET', '/v1/users/' + r.json.id, { tok: adminTok });
  assert.equal(v1.status, 200);
  assert.equal(v1.json.email, 'person1@example.com');
  assert.deepEqual(v1.json.roles, ['staff']);
  errorOf(await scim('POST', '/Users', entraUser(1)), 409, 'uniqueness');
  errorOf(await scim('POST', '/Users', { ...entraUser(2), externalId: 'ext-1' }), 409, 'uniqueness');
  errorOf(await scim('GET', '/Users/usr_nope'), 404);
  // The other tenant's IdP sees nothing of it.
  errorOf(await scim('GET', '/Users/' + r.json.id, undefined, { tok: otherScim }), 404);
  assert.equal((await scim('GET', '/Users', undefined, { tok: otherScim })).json.totalResults, 0);
});

test('bad bodies: named fields, scimType', async () => {
  errorOf(await scim('POST', '/Users', { schemas: [USER] }), 400, 'invalidValue');
  errorOf(await scim('POST', '/Users', { ...entraUser(3), userName: 'not an email' }), 400, 'invalidValue');
  errorOf(await scim('POST', '/Users', { ...entraUser(3), active: 'maybe' }), 400, 'invalidValue');
  errorOf(await scim('POST', '/Users', { ...entraUser(3), shoeSize: 44 }), 400, 'invalidSyntax');
  errorOf(await scim('POST', '/Users', { ...entraUser(3), password: 'hunter2hunter2' }), 400, 'invalidValue');
  const raw = await call(nova, 'POST', '/scim/v2/Users', {
    tok: scimTok, raw: '{"userName":', headers: { 'content-type': 'application/scim+json' },
  });
  errorOf(raw, 400, 'invalidSyntax');
});

test('list: filters (eq, co, sw, and, or, not, value paths), startIndex and count', async () => {
  for (let i = 10; i < 15; i++) assert.equal((await scim('POST', '/Users', entraUser(i))).status, 201);
  const q = async (f, extra = '') => {
    const r = await scim('GET', '/Users?filter=' + encodeURIComponent(f) + extra);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.schemas, ['urn:ietf:params:scim:api:messages:2.0:ListResponse']);
    return r.json;
  };
  // What Entra ID and Okta send before creating a user.
  let l = await q('userName eq "PERSON12@example.com"'); // userName is not case-exact
  assert.equal(l.totalResults, 1);
  assert.equal(l.Resources[0].userName, 'person12@example.com');
  // userName eq goes through the blind index; the same question asked as a scan agrees.
  assert.deepEqual((await q('emails.value eq "Person12@example.com"')).Resources, l.Resources);
  assert.deepEqual((await q('userName eq "person12@example.com" and active eq true')).Resources, l.Resources);
  assert.equal((await q('userName eq "nobody@example.com"')).totalResults, 0);
  assert.equal((await q('userName eq "not an email"')).totalResults, 0);
  const second = await q('userName eq "person12@example.com"', '&startIndex=2');
  assert.equal(second.totalResults, 1);
  assert.equal(second.Resources.length, 0);
  assert.equal((await q('userName eq "person12@example.com"', '&count=0')).Resources.length, 0);
  assert.equal((await q('externalId eq "ext-13"')).Resources[0].userName, 'person13@example.com');
  assert.equal((await q('externalId eq "EXT-13"')).totalResults, 0); // externalId is case-exact
  // externalId eq goes through the links; as a scan it agrees.
  assert.deepEqual((await q('externalId eq "ext-13"')).Resources, (await q('externalId eq "ext-13" and id pr')).Resources);
  assert.equal((await q('externalId eq "ext-13"', '&startIndex=2')).Resources.length, 0);
  assert.equal((await q('userName sw "person1" and active eq true')).totalResults, 6);
  assert.equal((await q('userName eq "person10@example.com" or externalId eq "ext-11"')).totalResults, 2);
  assert.equal((await q('emails[type eq "work" and value co "son14"]')).totalResults, 1);
  assert.equal((await q('not (userName co "person1")')).totalResults, 0);
  assert.equal((await q('urn:ietf:params:scim:schemas:core:2.0:User:userName ew "11@example.com"')).totalResults, 1);
  assert.equal((await q('externalId pr')).totalResults, 6);
  // Pages: 1-based startIndex, count, totalResults of the whole filter.
  const whole = (await q('userName sw "person1"')).Resources.map((u) => u.id);
  l = await q('userName sw "person1"', '&startIndex=2&count=2');
  assert.equal(l.totalResults, 6);
  assert.equal(l.startIndex, 2);
  assert.equal(l.itemsPerPage, 2);
  assert.deepEqual(l.Resources.map((u) => u.id), whole.slice(1, 3));
  const last = await q('userName sw "person1"', '&startIndex=6&count=5');
  assert.deepEqual(last.Resources.map((u) => u.id), whole.slice(5));
  assert.equal((await q('userName sw "person1"', '&count=0')).Resources.length, 0);
  const all = await scim('GET', '/Users?startIndex=0');
  assert.equal(all.json.startIndex, 1);
  assert.equal(all.json.totalResults, 6);
  for (const bad of ['userName eq', 'userName zz "a"', '(userName eq "a"', 'userName eq "a" junk', 'emails[value eq "a"', 'userName eq "\\q"', 'active gt true', '']) {
    const r = await scim('GET', '/Users?filter=' + encodeURIComponent(bad));
    errorOf(r, 400, 'invalidFilter');
    assert.match(r.json.detail, /^filter: /);
  }
  errorOf(await scim('GET', '/Users?count=ten'), 400, 'invalidValue');
});

async function userByExt(ext) {
  const r = await scim('GET', '/Users?filter=' + encodeURIComponent(`externalId eq "${ext}"`));
  assert.equal(r.json.totalResults, 1, ext);
  return r.json.Resources[0];
}

test('PATCH as Entra ID sends it: paths, capitalised ops, "False" as a string', async () => {
  const u = await userByExt('ext-10');
  const r = await scim('PATCH', '/Users/' + u.id, {
    schemas: [PATCH],
    Operations: [
      { op: 'Replace', path: 'displayName', value: 'Person Ten' },
      { op: 'Add', path: 'roles', value: [{ value: 'approver' }] },
      { op: 'Replace', path: 'externalId', value: 'ext-10b' },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'person10@example.com' },
    ],
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.displayName, 'Person Ten');
  assert.deepEqual(r.json.roles, [{ value: 'staff' }, { value: 'approver' }]);
  assert.equal(r.json.externalId, 'ext-10b');
  const off = await scim('PATCH', '/Users/' + u.id, { schemas: [PATCH], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
  assert.equal(off.status, 200, off.text);
  assert.equal(off.json.active, false);
  assert.equal((await call(nova, 'GET', '/v1/users/' + u.id, { tok: adminTok })).json.status, 'suspended');
  const rm = await scim('PATCH', '/Users/' + u.id, { schemas: [PATCH], Operations: [{ op: 'Remove', path: 'roles', value: [{ value: 'staff' }] }] });
  assert.deepEqual(rm.json.roles, [{ value: 'approver' }]);
  const noExt = await scim('PATCH', '/Users/' + u.id, { schemas: [PATCH], Operations: [{ op: 'Remove', path: 'externalId' }] });
  assert.equal(noExt.status, 200, noExt.text);
  assert.equal(noExt.json.externalId, undefined);
  // The externalId is free again for another user.
  const w = await userByExt('ext-14');
  const take = await scim('PATCH', '/Users/' + w.id, { schemas: [PATCH], Operations: [{ op: 'Add', path: 'externalId', value: 'ext-10b' }] });
  assert.equal(take.status, 200, take.text);
  errorOf(await scim('PATCH', '/Users/' + u.id, { schemas: [PATCH], Operations: [{ op: 'Add', path: 'externalId', value: 'ext-10b' }] }), 409, 'uniqueness');
});

test('PATCH as Okta sends it: no path, a value object', async () => {
  const u = await userByExt('ext-11');
  const r = await scim('PATCH', '/Users/' + u.id, {
    schemas: [PATCH], Operations: [{ op: 'replace', value: { active: false, 'name.formatted': 'Eleven' } }],
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.active, false);
  assert.equal(r.json.name.formatted, 'Eleven');
  const back = await scim('PATCH', '/Users/' + u.id, { schemas: [PATCH], Operations: [{ op: 'replace', value: { active: true } }] });
  assert.equal(back.json.active, true);
});

test('PATCH and PUT errors, If-Match, userName immutable', async () => {
  const u = await userByExt('ext-12');
  const p = (ops, headers) => scim('PATCH', '/Users/' + u.id, { schemas: [PATCH], Operations: ops }, { headers });
  errorOf(await scim('PATCH', '/Users/' + u.id, { Operations: [] }), 400, 'invalidSyntax');
  errorOf(await p([]), 400, 'invalidSyntax');
  errorOf(await p([{ op: 'move', path: 'active', value: true }]), 400, 'invalidSyntax');
  errorOf(await p([{ op: 'replace', path: 'shoeSize', value: 44 }]), 400, 'invalidPath');
  errorOf(await p([{ op: 'replace', path: 'active', value: 'maybe' }]), 400, 'invalidValue');
  errorOf(await p([{ op: 'remove' }]), 400, 'noTarget');
  errorOf(await p([{ op: 'replace', path: 'userName', value: 'someone@else.example' }]), 400, 'mutability');
  errorOf(await p([{ op: 'replace', path: 'active', value: false }], { 'if-match': 'W/"1"' }), 412);
  // Nothing of a refused PATCH was applied.
  assert.equal((await scim('GET', '/Users/' + u.id)).json.active, true);
  const cur = await scim('GET', '/Users/' + u.id);
  const ok = await p([{ op: 'replace', path: 'active', value: false }], { 'if-match': cur.headers.get('etag') });
  assert.equal(ok.status, 200, ok.text);
  // PUT replaces: roles left out are cleared, active defaults to true.
  const put = await scim('PUT', '/Users/' + u.id, { schemas: [USER], userName: 'person12@example.com', externalId: 'ext-12', displayName: 'Twelve' });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.json.roles, []);
  assert.equal(put.json.active, true);
  assert.equal(put.json.displayName, 'Twelve');
  errorOf(await scim('PUT', '/Users/' + u.id, { schemas: [USER], userName: 'other@example.com' }), 400, 'mutability');
  errorOf(await scim('PUT', '/Users/usr_nope', { schemas: [USER], userName: 'x@example.com' }), 404);
});

test('DELETE removes the user; a revoked token is refused; every change audited', async () => {
  const u = await userByExt('ext-13');
  assert.equal((await scim('DELETE', '/Users/' + u.id)).status, 204);
  errorOf(await scim('GET', '/Users/' + u.id), 404);
  errorOf(await scim('DELETE', '/Users/' + u.id), 404);
  assert.equal((await call(nova, 'GET', '/v1/users/' + u.id, { tok: adminTok })).status, 404);
  const audit = [];
  let cursor = null;
  do {
    const a = await call(nova, 'GET', `/v1/audit?limit=200${cursor ? '&cursor=' + cursor : ''}`, { tok: adminTok });
    audit.push(...a.json.entries);
    cursor = a.json.next_cursor;
  } while (cursor);
  const by = audit.filter((e) => e.actor === 'scim:' + scimId);
  for (const action of ['user.create', 'user.update', 'user.scim_link', 'user.delete'])
    assert.ok(by.some((e) => e.action === action), action);
  assert.ok(by.some((e) => e.action === 'user.delete' && e.target === 'user:' + u.id));
  assert.ok(audit.some((e) => e.action === 'scim.token.create' && e.target === 'scim_token:' + scimId));
  // No personal data in the entries.
  assert.ok(!JSON.stringify(audit).includes('example.com'));
  assert.ok(!JSON.stringify(audit).includes('ext-1'));
  assert.equal((await call(nova, 'DELETE', '/v1/scim/tokens/' + scimId, { tok: adminTok })).status, 204);
  assert.equal((await call(nova, 'DELETE', '/v1/scim/tokens/' + scimId, { tok: adminTok })).status, 404);
  errorOf(await scim('GET', '/Users'), 401);
});

test('metrics: provisioning by change, refusals by reason (issue 11 item 10)', async () => {
  const m = await call(nova, 'GET', '/metrics', { tok: METRICS });
  assert.equal(m.status, 200);
  const v = (name, labels) => {
    const line = m.text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
    assert.ok(line, `${name}{${labels}}`);
    return Number(line.split(' ')[1]);
  };
  const fail = (reason) => v('nova_people_federation_failures_total', `protocol="scim",reason="${reason}"`);
  const prov = (change) => v('nova_people_provisioned_total', `protocol="scim",change="${change}"`);
  // This novad served only this file's requests: the counts are the ones made above.
  assert.equal(prov('created'), 6);
  assert.equal(prov('deleted'), 1);
  assert.equal(prov('replaced'), 1);
  assert.ok(prov('patched') >= 8);
  assert.equal(fail('invalid_filter'), 8);
  assert.equal(fail('uniqueness'), 3);
  assert.equal(fail('precondition'), 1);
  assert.equal(fail('mutability'), 2);
  assert.equal(fail('token_missing'), 2); // none, and an OAuth token (not a SCIM token)
  assert.equal(fail('token_unknown'), 3); // a changed secret, a swapped tenant, a revoked token
  assert.equal(fail('token_malformed'), 1);
});
