// The OpenFGA-compatible API (/stores) against the real novad: two novad on one store agree
// (each index follows the change feed; a write's consistency_token gives read-your-writes on
// the other), stores are per tenant, scopes are enforced, bad input gets OpenFGA's error
// shape, and reads and changes page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNova, makeTenant, token, call } from './lib.mjs';

let a, b, tok, readTok, otherTok;

const MODEL = {
  schema_version: '1.1',
  type_definitions: [
    { type: 'user' },
    {
      type: 'doc',
      relations: { viewer: { this: {} }, editor: { this: {} }, can_read: { union: { child: [{ computedUserset: { relation: 'viewer' } }, { computedUserset: { relation: 'editor' } }] } } },
      metadata: { relations: { viewer: { directly_related_user_types: [{ type: 'user' }] }, editor: { directly_related_user_types: [{ type: 'user' }] } } },
    },
  ],
};
const tk = (user, relation, object) => ({ user, relation, object });

before(async () => {
  a = await startNova();
  b = await startNova({ NOVA_ISSUER: a.base }, { shareWith: a });
  const app = makeTenant(a, 'fga-it', 'fga:read fga:write');
  const ro = a.ctl('client', 'create', '--tenant', app.tenant, '--name', 'ro', '--scopes', 'fga:read');
  const other = makeTenant(a, 'fga-it-other', 'fga:read fga:write');
  tok = await token(a, app);
  readTok = await token(a, { id: ro.json.client_id, secret: ro.json.client_secret });
  otherTok = await token(a, other);
});
after(async () => { await b.stop(); await a.stop(); });

async function newStore(nova = a) {
  const s = await call(nova, 'POST', '/stores', { tok, body: { name: 'it store' } });
  assert.equal(s.status, 201, s.text);
  const m = await call(nova, 'POST', `/stores/${s.json.id}/authorization-models`, { tok, body: MODEL });
  assert.equal(m.status, 201, m.text);
  return { id: s.json.id, model: m.json.authorization_model_id };
}
const post = (nova, store, what, body, t = tok) => call(nova, 'POST', `/stores/${store}/${what}`, { tok: t, body });
const check = async (nova, store, user, rel, obj, extra = {}) => {
  const r = await post(nova, store, 'check', { tuple_key: tk(user, rel, obj), ...extra });
  assert.equal(r.status, 200, r.text);
  return r.json.allowed;
};

test('two novad on one store agree; the consistency token reads the writes on the other', async () => {
  const s = await newStore();
  // b loads its index now (empty), so the later writes reach it only through the feed.
  assert.equal(await check(b, s.id, 'user:anne', 'can_read', 'doc:1'), false);
  const w = await post(a, s.id, 'write', { writes: { tuple_keys: [tk('user:anne', 'viewer', 'doc:1')] } });
  assert.equal(w.status, 200, w.text);
  assert.match(w.json.consistency_token, /^[0-9]+$/);
  assert.equal(w.headers.get('x-nova-consistency-token'), w.json.consistency_token);
  assert.equal(await check(a, s.id, 'user:anne', 'can_read', 'doc:1'), true, 'the writer reads its write');
  assert.equal(await check(b, s.id, 'user:anne', 'can_read', 'doc:1', { consistency_token: w.json.consistency_token }), true);
  // Without a token the default mode catches up with the feed's head too.
  const d = await post(b, s.id, 'write', { deletes: { tuple_keys: [tk('user:anne', 'viewer', 'doc:1')] }, writes: { tuple_keys: [tk('user:bob', 'editor', 'doc:1')] } });
  assert.equal(d.status, 200, d.text);
  assert.ok(Number(d.json.consistency_token) > Number(w.json.consistency_token));
  assert.equal(await check(a, s.id, 'user:anne', 'can_read', 'doc:1'), false);
  assert.equal(await check(a, s.id, 'user:bob', 'can_read', 'doc:1', { consistency: 'HIGHER_CONSISTENCY' }), true);
  const lo = await post(a, s.id, 'list-objects', { type: 'doc', relation: 'can_read', user: 'user:bob', consistency_token: d.json.consistency_token });
  assert.deepEqual(lo.json.objects, ['doc:1']);
  // A token from the future is refused, not silently ignored.
  const ahead = await post(a, s.id, 'check', { tuple_key: tk('user:bob', 'can_read', 'doc:1'), consistency_token: '999999' });
  assert.equal(ahead.status, 400, ahead.text);
  assert.equal(ahead.json.code, 'validation_error');
});

test("stores are per tenant: another tenant's store does not exist", async () => {
  const s = await newStore();
  for (const [m, p, body] of [['GET', `/stores/${s.id}`], ['DELETE', `/stores/${s.id}`], ['GET', `/stores/${s.id}/authorization-models`],
    ['POST', `/stores/${s.id}/write`, { writes: { tuple_keys: [tk('user:x', 'viewer', 'doc:1')] } }],
    ['POST', `/stores/${s.id}/check`, { tuple_key: tk('user:x', 'viewer', 'doc:1') }]]) {
    const r = await call(a, m, p, { tok: otherTok, body });
    assert.equal(r.status, 404, `${m} ${p}: ${r.text}`);
    assert.deepEqual(Object.keys(r.json).sort(), ['code', 'message']);
    assert.equal(r.json.code, 'store_id_not_found');
  }
  const list = await call(a, 'GET', '/stores', { tok: otherTok });
  assert.ok(!list.json.stores.some((x) => x.id === s.id));
  // The owner still sees it, and after DELETE nobody does.
  assert.equal((await call(a, 'GET', `/stores/${s.id}`, { tok })).status, 200);
  assert.equal((await call(a, 'DELETE', `/stores/${s.id}`, { tok })).status, 204);
  assert.equal((await call(b, 'GET', `/stores/${s.id}`, { tok })).status, 404);
  assert.equal((await post(b, s.id, 'check', { tuple_key: tk('user:x', 'viewer', 'doc:1') })).status, 404);
});

test('fga:read may query but not write', async () => {
  const s = await newStore();
  assert.equal((await post(a, s.id, 'check', { tuple_key: tk('user:x', 'viewer', 'doc:1') }, readTok)).status, 200);
  for (const [m, p, body] of [['POST', '/stores', { name: 'nope' }], ['DELETE', `/stores/${s.id}`],
    ['POST', `/stores/${s.id}/write`, { writes: { tuple_keys: [tk('user:x', 'viewer', 'doc:1')] } }],
    ['POST', `/stores/${s.id}/authorization-models`, MODEL]]) {
    const r = await call(a, m, p, { tok: readTok, body });
    assert.equal(r.status, 403, `${m} ${p}`);
    assert.equal(r.json.code, 'insufficient_scope');
  }
});

test("bad input is a 400 with OpenFGA's code", async () => {
  const s = await newStore();
  const cases = [
    ['POST', '/stores', { name: 'x' }, 'validation_error'],
    ['POST', '/stores', { name: 'ok name', extra: 1 }, 'validation_error'],
    ['GET', '/stores/not-a-ulid', undefined, 'validation_error'],
    ['GET', '/stores?page_size=0', undefined, 'validation_error'],
    ['GET', '/stores?continuation_token=zzz', undefined, 'invalid_continuation_token'],
    ['POST', `/stores/${s.id}/authorization-models`, { schema_version: '1.1', type_definitions: [{ type: 'doc', relations: { v: { computedUserset: { relation: 'missing' } } } }] }, 'invalid_authorization_model'],
    ['POST', `/stores/${s.id}/write`, {}, 'invalid_write_input'],
    ['POST', `/stores/${s.id}/write`, { writes: { tuple_keys: [tk('user:a', 'nope', 'doc:1')] } }, 'validation_error'],
    ['POST', `/stores/${s.id}/write`, { writes: { tuple_keys: [tk('user:a', 'viewer', 'doc:1'), tk('user:a', 'viewer', 'doc:1')] } }, 'cannot_allow_duplicate_tuples_in_one_request'],
    ['POST', `/stores/${s.id}/write`, { writes: { tuple_keys: Array.from({ length: 101 }, (_, i) => tk('user:' + i, 'viewer', 'doc:1')) } }, 'exceeded_entity_limit'],
    ['POST', `/stores/${s.id}/write`, { writes: { tuple_keys: [tk('user:a', 'viewer', 'doc:1')], on_duplicate: 'maybe' } }, 'validation_error'],
    ['POST', `/stores/${s.id}/write`, { deletes: { tuple_keys: [tk('user:a', 'viewer', 'doc:404')] } }, 'write_failed_due_to_invalid_input'],
    ['POST', `/stores/${s.id}/write`, { writes: { tuple_keys: [tk('user:a', 'viewer', 'doc:1')] }, authorization_model_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' }, 'authorization_model_not_found'],
    ['POST', `/stores/${s.id}/check`, { tuple_key: { user: 'user:a', relation: 'viewer' } }, 'validation_error'],
    ['POST', `/stores/${s.id}/check`, { tuple_key: tk('user:a', 'viewer', 'doc:1'), consistency: 'SOMETIMES' }, 'validation_error'],
    ['POST', `/stores/${s.id}/check`, { tuple_key: tk('user:a', 'viewer', 'doc:1'), context: [] }, 'validation_error'],
    ['POST', `/stores/${s.id}/check`, { tuple_key: tk('user:a', 'viewer', 'doc:1'), authorization_model_id: 'x' }, 'validation_error'],
    ['POST', `/stores/${s.id}/list-objects`, { type: 'nope', relation: 'viewer', user: 'user:a' }, 'type_not_found'],
    ['POST', `/stores/${s.id}/list-users`, { object: { type: 'doc', id: '1' }, relation: 'viewer', user_filters: [] }, 'validation_error'],
    ['POST', `/stores/${s.id}/batch-check`, { checks: [] }, 'validation_error'],
    ['POST', `/stores/${s.id}/batch-check`, { checks: [{ tuple_key: tk('user:a', 'viewer', 'doc:1'), correlation_id: 'x' }, { tuple_key: tk('user:b', 'viewer', 'doc:1'), correlation_id: 'x' }] }, 'validation_error'],
    ['POST', `/stores/${s.id}/expand`, { tuple_key: { object: 'doc:1', relation: 'nope' } }, 'relation_not_found'],
    ['POST', `/stores/${s.id}/read`, { tuple_key: { relation: 'viewer' } }, 'validation_error'],
    ['POST', `/stores/${s.id}/read`, { continuation_token: '!!' }, 'invalid_continuation_token'],
    ['GET', `/stores/${s.id}/changes?continuation_token=abc`, undefined, 'invalid_continuation_token'],
    ['GET', `/stores/${s.id}/changes?start_time=yesterday`, undefined, 'validation_error'],
    ['PUT', `/stores/${s.id}/assertions/${s.model}`, { assertions: [{ tuple_key: tk('user:a', 'viewer', 'doc:1') }] }, 'validation_error'],
  ];
  for (const [m, p, body, code] of cases) {
    const r = await call(a, m, p, { tok, body });
    assert.equal(r.status, 400, `${m} ${p} ${JSON.stringify(body)?.slice(0, 80)}: ${r.text}`);
    assert.equal(r.json.code, code, `${m} ${p}: ${r.text}`);
    assert.equal(typeof r.json.message, 'string');
  }
  const raw = await call(a, 'POST', `/stores/${s.id}/check`, { tok, raw: '{"tuple_key":', headers: { 'content-type': 'application/json' } });
  assert.equal(raw.status, 400);
  assert.equal(raw.json.code, 'validation_error');
  const ct = await call(a, 'POST', `/stores/${s.id}/check`, { tok, raw: '{}', headers: { 'content-type': 'text/plain' } });
  assert.equal(ct.status, 415);
  const empty = await newStore();
  const s2 = await call(a, 'POST', '/stores', { tok, body: { name: 'no model' } });
  const nm = await post(a, s2.json.id, 'check', { tuple_key: tk('user:a', 'viewer', 'doc:1') });
  assert.equal(nm.status, 400);
  assert.equal(nm.json.code, 'latest_authorization_model_not_found');
  assert.equal((await call(a, 'GET', `/stores/${empty.id}/authorization-models/01ARZ3NDEKTSV4RRFFQ69G5FAV`, { tok })).status, 404);
  assert.equal((await call(a, 'GET', `/stores/${empty.id}/assertions/01ARZ3NDEKTSV4RRFFQ69G5FAV`, { tok })).status, 404);
});

test('read, changes, stores and models page; the change feed filters by type and time', async () => {
  const s = await newStore();
  const keys = Array.from({ length: 7 }, (_, i) => tk('user:u' + i, 'viewer', 'doc:' + (i % 3)));
  assert.equal((await post(a, s.id, 'write', { writes: { tuple_keys: keys } })).status, 200);
  assert.equal((await post(a, s.id, 'write', { deletes: { tuple_keys: [keys[0]] } })).status, 200);
  const seen = [];
  let cont = '';
  do {
    const r = await post(a, s.id, 'read', { page_size: 2, continuation_token: cont || undefined });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.tuples.length <= 2);
    seen.push(...r.json.tuples.map((t) => t.key.user));
    cont = r.json.continuation_token;
  } while (cont);
  assert.deepEqual(seen.sort(), keys.slice(1).map((k) => k.user).sort());
  const byObject = await post(a, s.id, 'read', { tuple_key: { object: 'doc:1' } });
  assert.deepEqual(byObject.json.tuples.map((t) => t.key.user).sort(), ['user:u1', 'user:u4']);
  const byType = await post(a, s.id, 'read', { tuple_key: { object: 'doc:', user: 'user:u2' } });
  assert.deepEqual(byType.json.tuples.map((t) => t.key.object), ['doc:2']);

  const ops = [];
  cont = '';
  for (;;) {
    const r = await call(a, 'GET', `/stores/${s.id}/changes?page_size=3${cont ? '&continuation_token=' + cont : ''}`, { tok });
    assert.equal(r.status, 200, r.text);
    if (r.json.changes.length === 0) { assert.equal(r.json.continuation_token, cont, 'an empty page keeps the position'); break; }
    ops.push(...r.json.changes.map((c) => c.operation));
    cont = r.json.continuation_token;
  }
  assert.equal(ops.length, 8);
  assert.equal(ops.filter((o) => o === 'TUPLE_OPERATION_DELETE').length, 1);
  assert.equal((await call(a, 'GET', `/stores/${s.id}/changes?type=user`, { tok })).json.changes.length, 0);
  assert.equal((await call(a, 'GET', `/stores/${s.id}/changes?start_time=2999-01-01T00:00:00Z`, { tok })).json.changes.length, 0);
  assert.equal((await call(a, 'GET', `/stores/${s.id}/changes?start_time=2000-01-01T00:00:00Z`, { tok })).json.changes.length, 8);

  const m2 = await call(a, 'POST', `/stores/${s.id}/authorization-models`, { tok, body: MODEL });
  const models = await call(a, 'GET', `/stores/${s.id}/authorization-models?page_size=1`, { tok });
  assert.deepEqual(models.json.authorization_models.map((m) => m.id), [m2.json.authorization_model_id], 'newest first');
  const older = await call(a, 'GET', `/stores/${s.id}/authorization-models?page_size=1&continuation_token=${models.json.continuation_token}`, { tok });
  assert.deepEqual(older.json.authorization_models.map((m) => m.id), [s.model]);
  assert.equal(older.json.continuation_token, '');

  const names = new Set();
  cont = '';
  do {
    const r = await call(a, 'GET', `/stores?page_size=2${cont ? '&continuation_token=' + cont : ''}`, { tok });
    r.json.stores.forEach((x) => names.add(x.id));
    cont = r.json.continuation_token;
  } while (cont);
  assert.ok(names.has(s.id));
});

test('on_duplicate ignore skips an identical tuple but not one with another condition', async () => {
  const s = await call(a, 'POST', '/stores', { tok, body: { name: 'cond store' } });
  const id = s.json.id;
  const model = {
    schema_version: '1.1',
    type_definitions: [{ type: 'user' }, { type: 'doc', relations: { viewer: { this: {} } }, metadata: { relations: { viewer: { directly_related_user_types: [{ type: 'user', condition: 'lt' }] } } } }],
    conditions: { lt: { name: 'lt', expression: 'x < y', parameters: { x: { type_name: 'TYPE_NAME_INT' }, y: { type_name: 'TYPE_NAME_INT' } } } },
  };
  assert.equal((await call(a, 'POST', `/stores/${id}/authorization-models`, { tok, body: model })).status, 201);
  const t = { ...tk('user:a', 'viewer', 'doc:1'), condition: { name: 'lt', context: { x: 1 } } };
  assert.equal((await post(a, id, 'write', { writes: { tuple_keys: [t] } })).status, 200);
  assert.equal((await post(a, id, 'write', { writes: { tuple_keys: [t], on_duplicate: 'ignore' } })).status, 200);
  const other = { ...t, condition: { name: 'lt', context: { x: 5 } } };
  const r = await post(a, id, 'write', { writes: { tuple_keys: [other], on_duplicate: 'ignore' } });
  assert.equal(r.status, 400);
  assert.equal(r.json.code, 'write_failed_due_to_invalid_input');
  assert.equal(await check(a, id, 'user:a', 'viewer', 'doc:1', { context: { y: 2, x: 100 } }), true, "the tuple's x wins");
  assert.equal(await check(b, id, 'user:a', 'viewer', 'doc:1', { context: { y: 0 } }), false);
  const miss = await post(a, id, 'check', { tuple_key: tk('user:a', 'viewer', 'doc:1') });
  assert.equal(miss.status, 400, 'a missing parameter is an error');
});
