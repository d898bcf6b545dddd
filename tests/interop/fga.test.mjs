// Interop: the official OpenFGA JavaScript SDK (@openfga/sdk) against the real novad, with
// apiUrl pointing at it. The SDK gets its token itself, with its client-credentials method at
// {apiTokenIssuer}/oauth/token (it posts client_id, client_secret, audience and grant_type as
// a form), then runs the whole lifecycle: stores, models, tuple writes with conditions and
// contextual tuples, check, batch check, list objects (plain and streamed), list users,
// expand, read, changes, assertions, deletes, and the SDK's own error types.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OpenFgaClient, CredentialsMethod, FgaApiValidationError, FgaApiNotFoundError,
  FgaApiAuthenticationError } from '@openfga/sdk';
import { startNova, makeTenant } from '../integration/lib.mjs';

const AUDIENCE = 'nova-api';
let nova, app, other;

before(async () => {
  nova = await startNova();
  app = makeTenant(nova, 'fga-interop', 'fga:read fga:write');
  other = makeTenant(nova, 'fga-interop-other', 'fga:read fga:write');
});
after(async () => { await nova.stop(); });

function client(c, extra = {}) {
  return new OpenFgaClient({
    apiUrl: nova.base,
    credentials: {
      method: CredentialsMethod.ClientCredentials,
      config: { apiTokenIssuer: nova.base, apiAudience: AUDIENCE, clientId: c.id, clientSecret: c.secret },
    },
    retryParams: { maxRetry: 0 },
    ...extra,
  });
}

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
      type: 'folder',
      relations: { viewer: { this: {} } },
      metadata: { relations: { viewer: { directly_related_user_types: [{ type: 'user' }, { type: 'group', relation: 'member' }] } } },
    },
    {
      type: 'document',
      relations: {
        parent: { this: {} },
        owner: { this: {} },
        viewer: {
          union: {
            child: [
              { this: {} },
              { computedUserset: { relation: 'owner' } },
              { tupleToUserset: { tupleset: { relation: 'parent' }, computedUserset: { relation: 'viewer' } } },
            ],
          },
        },
      },
      metadata: {
        relations: {
          parent: { directly_related_user_types: [{ type: 'folder' }] },
          owner: { directly_related_user_types: [{ type: 'user' }] },
          viewer: { directly_related_user_types: [{ type: 'user' }, { type: 'user', wildcard: {} }, { type: 'user', condition: 'in_office_hours' }] },
        },
      },
    },
  ],
  conditions: {
    in_office_hours: {
      name: 'in_office_hours',
      expression: 'hour >= 9 && hour < 17',
      parameters: { hour: { type_name: 'TYPE_NAME_INT' } },
    },
  },
};

test('@openfga/sdk runs the whole lifecycle against novad with a token it fetched itself', async () => {
  const fga = client(app);
  // Stores: create, get, list.
  const store = await fga.createStore({ name: 'interop store' });
  assert.match(store.id, /^[0-9A-HJKMNP-TV-Z]{26}$/, 'store ids are ULIDs');
  assert.equal(store.name, 'interop store');
  fga.storeId = store.id;
  assert.equal((await fga.getStore()).id, store.id);
  assert.ok((await fga.listStores()).stores.some((s) => s.id === store.id));

  // Models: write, read back, latest.
  const { authorization_model_id: modelId } = await fga.writeAuthorizationModel(MODEL);
  assert.match(modelId, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  const read = await fga.readAuthorizationModel({ authorizationModelId: modelId });
  assert.equal(read.authorization_model.id, modelId);
  assert.deepEqual(read.authorization_model.type_definitions.map((t) => t.type), ['user', 'group', 'folder', 'document']);
  assert.equal((await fga.readLatestAuthorizationModel()).authorization_model.id, modelId);
  fga.authorizationModelId = modelId;

  // Tuples, one with a condition and its context.
  await fga.write({
    writes: [
      { user: 'user:anne', relation: 'owner', object: 'document:plan' },
      { user: 'folder:eng', relation: 'parent', object: 'document:plan' },
      { user: 'group:eng#member', relation: 'viewer', object: 'folder:eng' },
      { user: 'user:bob', relation: 'member', object: 'group:eng' },
      { user: 'user:carl', relation: 'viewer', object: 'document:memo', condition: { name: 'in_office_hours', context: { hour: 10 } } },
      { user: 'user:dora', relation: 'viewer', object: 'document:memo', condition: { name: 'in_office_hours' } },
    ],
  });
  // on_duplicate: ignore makes a repeated write a no-op; the default fails it.
  await fga.writeTuples([{ user: 'user:anne', relation: 'owner', object: 'document:plan' }],
    { conflict: { onDuplicateWrites: 'ignore' } });
  await assert.rejects(fga.writeTuples([{ user: 'user:anne', relation: 'owner', object: 'document:plan' }]),
    (e) => e instanceof FgaApiValidationError && e.apiErrorCode === 'write_failed_due_to_invalid_input');

  // Check: direct, computed, through a parent and a group, conditions.
  const check = async (user, relation, object, more = {}) => (await fga.check({ user, relation, object, ...more })).allowed;
  assert.equal(await check('user:anne', 'viewer', 'document:plan'), true);
  assert.equal(await check('user:bob', 'viewer', 'document:plan'), true);
  assert.equal(await check('user:erin', 'viewer', 'document:plan'), false);
  assert.equal(await check('user:carl', 'viewer', 'document:memo'), true, 'the tuple context satisfies it');
  assert.equal(await check('user:carl', 'viewer', 'document:memo', { context: { hour: 20 } }), true, "the tuple's context wins");
  assert.equal(await check('user:dora', 'viewer', 'document:memo', { context: { hour: 20 } }), false);
  assert.equal(await check('user:dora', 'viewer', 'document:memo', { context: { hour: 11 } }), true);
  await assert.rejects(check('user:dora', 'viewer', 'document:memo'),
    (e) => e instanceof FgaApiValidationError, 'a missing condition parameter is an error, not a no');
  assert.equal(await check('user:erin', 'viewer', 'document:plan', {
    contextualTuples: [{ user: 'user:erin', relation: 'member', object: 'group:eng' }],
  }), true, 'contextual tuples count');

  // Batch check (server-side /batch-check) with correlation ids.
  const batch = await fga.batchCheck({
    checks: [
      { user: 'user:anne', relation: 'viewer', object: 'document:plan', correlationId: 'c1' },
      { user: 'user:erin', relation: 'viewer', object: 'document:plan', correlationId: 'c2' },
    ],
  });
  const byId = Object.fromEntries(batch.result.map((x) => [x.correlationId, x.allowed]));
  assert.deepEqual(byId, { c1: true, c2: false });

  // List objects, plain and streamed; list users; expand.
  assert.deepEqual((await fga.listObjects({ user: 'user:bob', relation: 'viewer', type: 'document' })).objects, ['document:plan']);
  const streamed = [];
  for await (const x of fga.streamedListObjects({ user: 'user:bob', relation: 'viewer', type: 'document' })) streamed.push(x.object);
  assert.deepEqual(streamed, ['document:plan']);
  const users = await fga.listUsers({ object: { type: 'document', id: 'plan' }, relation: 'viewer', user_filters: [{ type: 'user' }] });
  assert.deepEqual(users.users.map((u) => u.object.id).sort(), ['anne', 'bob']);
  const tree = await fga.expand({ relation: 'viewer', object: 'document:plan' });
  assert.equal(tree.tree.root.name, 'document:plan#viewer');
  assert.equal(tree.tree.root.union.nodes.length, 3);

  // Read (paged) and the change feed.
  const page1 = await fga.read({}, { pageSize: 4 });
  assert.equal(page1.tuples.length, 4);
  assert.ok(page1.continuation_token);
  const page2 = await fga.read({}, { pageSize: 4, continuationToken: page1.continuation_token });
  assert.equal(page2.tuples.length, 2);
  assert.equal(page2.continuation_token, '');
  const carl = (await fga.read({ user: 'user:carl', relation: 'viewer', object: 'document:memo' })).tuples;
  assert.deepEqual(carl[0].key.condition, { name: 'in_office_hours', context: { hour: 10 } });
  const changes = await fga.readChanges({ type: 'document' });
  assert.equal(changes.changes.length, 4);
  assert.ok(changes.changes.every((c) => c.operation === 'TUPLE_OPERATION_WRITE'));

  // Assertions.
  await fga.writeAssertions([{ user: 'user:anne', relation: 'viewer', object: 'document:plan', expectation: true }]);
  const as = await fga.readAssertions();
  assert.equal(as.authorization_model_id, modelId);
  assert.deepEqual(as.assertions.map((a) => [a.tuple_key.user, a.expectation]), [['user:anne', true]]);

  // Deletes, then the answer changes; deleting again fails unless on_missing is ignore.
  await fga.deleteTuples([{ user: 'user:bob', relation: 'member', object: 'group:eng' }]);
  assert.equal(await check('user:bob', 'viewer', 'document:plan'), false);
  await assert.rejects(fga.deleteTuples([{ user: 'user:bob', relation: 'member', object: 'group:eng' }]),
    (e) => e instanceof FgaApiValidationError);
  await fga.deleteTuples([{ user: 'user:bob', relation: 'member', object: 'group:eng' }],
    { conflict: { onMissingDeletes: 'ignore' } });
  const deletes = await fga.readChanges({ type: 'group' });
  assert.deepEqual(deletes.changes.map((c) => c.operation), ['TUPLE_OPERATION_WRITE', 'TUPLE_OPERATION_DELETE']);

  // A tuple the model does not admit is refused with OpenFGA's error shape.
  await assert.rejects(fga.writeTuples([{ user: 'user:anne', relation: 'nope', object: 'document:plan' }]),
    (e) => e instanceof FgaApiValidationError && e.apiErrorCode === 'validation_error');

  // Another tenant does not see the store at all.
  const stranger = client(other, { storeId: store.id });
  await assert.rejects(stranger.getStore(), (e) => e instanceof FgaApiNotFoundError);
  assert.ok(!(await stranger.listStores()).stores.some((s) => s.id === store.id));

  // Delete the store: then it is gone.
  await fga.deleteStore();
  await assert.rejects(fga.getStore(), (e) => e instanceof FgaApiNotFoundError);
});

test('the SDK reports a bad client secret as an authentication error', async () => {
  const bad = client({ id: app.id, secret: 'wrong' });
  await assert.rejects(bad.listStores(), (e) => e instanceof FgaApiAuthenticationError);
});
