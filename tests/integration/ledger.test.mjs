// The core ledger (issue 8) against the real novad, on SQLite or (NOVA_TEST_DATABASE_URL)
// PostgreSQL: accounts, Amount validation, balanced postings, idempotency, holds, reversals,
// refusals with nothing written, concurrency with many clients, a seeded model-based
// workload from two novad processes on one store checked against an in-memory model, and a
// kill -9 under load after which every acknowledged posting is there and none is partial.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startNova, makeTenant, token, call, faketime } from './lib.mjs';
import { parseXml, checkCamt053 } from './camt053.mjs';

let nova, ten, tok, other, otherTok;
const uid = (p) => `${p}_${randomBytes(6).toString('hex')}`;

before(async () => {
  nova = await startNova({ NOVA_LEDGER_SWEEP_MS: '250' });
  ten = makeTenant(nova, uid('ledger'), 'ledger:read ledger:write audit:read');
  tok = await token(nova, ten);
  other = makeTenant(nova, uid('ledger-other'), 'ledger:read ledger:write');
  otherTok = await token(nova, other);
});
after(async () => {
  for (const s of [ten.secret, tok, other.secret, otherTok]) assert.ok(!nova.logs().includes(s), 'a secret reached the log');
  await nova.stop();
});

const KES = (value) => ({ currency: 'KES', value });
const entry = (account, direction, value, currency = 'KES') => ({ account, direction, amount: { currency, value } });

async function account(n, body, t = tok) {
  const r = await call(n, 'POST', '/v1/core/accounts', { tok: t, body: { currency: 'KES', type: 'customer_wallet', ...body } });
  assert.equal(r.status, 201, r.text);
  return r.json.id;
}
async function balances(n, id, t = tok) {
  const r = await call(n, 'GET', `/v1/core/accounts/${id}/balances`, { tok: t });
  assert.equal(r.status, 200, r.text);
  return r.json;
}
const post = (n, body, t = tok) => call(n, 'POST', '/v1/core/postings', { tok: t, body });

// A treasury (no flags: it may go negative, the money's source) and a wallet that may not.
async function funded(n, value, t = tok, extra = {}) {
  const treasury = await account(n, { type: 'treasury' }, t);
  const wallet = await account(n, { flags: { debits_must_not_exceed_credits: true }, ...extra }, t);
  if (value !== '0') {
    const r = await post(n, { id: uid('fund'), entries: [entry(treasury, 'debit', value), entry(wallet, 'credit', value)] }, t);
    assert.equal(r.status, 201, r.text);
  }
  return { treasury, wallet };
}

test('accounts: create, read, list with a cursor, every bad field named, tenants apart', async () => {
  const id = uid('acc');
  const r = await call(nova, 'POST', '/v1/core/accounts', {
    tok,
    body: {
      id, currency: 'KES', type: 'agent_float', flags: { debits_must_not_exceed_credits: true },
      overdraft: { limit: KES('500.00'), rate: '0.18' }, kyc_tier: 'tier2', owner_ref: 'agent-17', metadata: { branch: 'Westlands' },
    },
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.headers.get('location'), '/v1/core/accounts/' + id);
  assert.equal(r.json.status, 'open');
  assert.deepEqual(r.json.overdraft, { limit: KES('500.00'), rate: '0.18' });
  const g = await call(nova, 'GET', '/v1/core/accounts/' + id, { tok });
  assert.equal(g.status, 200);
  assert.equal(g.json.kyc_tier, 'tier2');
  assert.deepEqual(g.json.metadata, { branch: 'Westlands' });
  const b = await balances(nova, id);
  assert.deepEqual(b.available, KES('500.00'));
  assert.deepEqual(b.ledger, KES('0.00'));
  assert.equal((await call(nova, 'POST', '/v1/core/accounts', { tok, body: { id, currency: 'KES', type: 'fees' } })).status, 409);
  // Another tenant sees nothing of it.
  assert.equal((await call(nova, 'GET', '/v1/core/accounts/' + id, { tok: otherTok })).status, 404);
  assert.equal((await call(nova, 'GET', `/v1/core/accounts/${id}/balances`, { tok: otherTok })).status, 404);

  const bad = [
    [{ currency: 'KSH', type: 'fees' }, '/currency'],
    [{ currency: 'KES', type: 'piggy' }, '/type'],
    [{ currency: 'KES' }, '/type'],
    [{ currency: 'KES', type: 'fees', flags: { debits_must_not_exceed_credits: 1 } }, '/flags'],
    [{ currency: 'KES', type: 'fees', flags: { debits_must_not_exceed_credits: true, credits_must_not_exceed_debits: true } }, '/flags'],
    [{ currency: 'KES', type: 'fees', flags: { debits_must_not_exceed_credits: true }, overdraft: { limit: KES('1.001') } }, '/overdraft/limit/value'],
    [{ currency: 'KES', type: 'fees', flags: { debits_must_not_exceed_credits: true }, overdraft: { limit: { currency: 'UGX', value: '1' } } }, '/overdraft/limit/currency'],
    [{ currency: 'KES', type: 'fees', overdraft: { limit: KES('1') } }, '/overdraft'],
    [{ currency: 'KES', type: 'fees', flags: { debits_must_not_exceed_credits: true }, overdraft: { limit: KES('1'), rate: '18%' } }, '/overdraft/rate'],
    [{ currency: 'KES', type: 'fees', id: 'a b' }, '/id'],
    [{ currency: 'KES', type: 'fees', metadata: { n: 1 } }, '/metadata'],
  ];
  for (const [body, field] of bad) {
    const x = await call(nova, 'POST', '/v1/core/accounts', { tok, body });
    assert.equal(x.status, 422, JSON.stringify(body) + ' ' + x.text);
    assert.ok(x.json.detail.startsWith(field + ':'), `${field} not named: ${x.json.detail}`);
  }
  assert.equal((await call(nova, 'POST', '/v1/core/accounts', { tok, body: { currency: 'KES', type: 'fees', colour: 'red' } })).status, 400);

  // Pages: every account once, in id order.
  const mine = [];
  for (let i = 0; i < 5; i++) mine.push(await account(nova, { type: 'merchant' }, otherTok));
  const seen = [];
  let cursor = '';
  for (;;) {
    const p = await call(nova, 'GET', '/v1/core/accounts?limit=2' + (cursor ? '&cursor=' + cursor : ''), { tok: otherTok });
    assert.equal(p.status, 200, p.text);
    seen.push(...p.json.accounts.map((a) => a.id));
    if (!p.json.next_cursor) break;
    cursor = p.json.next_cursor;
  }
  assert.deepEqual(seen, [...mine].sort());
  assert.equal((await call(nova, 'GET', '/v1/core/accounts?limit=0', { tok })).status, 422);
  // Scopes: reading needs ledger:read, writing ledger:write.
  const ro = makeTenant(nova, uid('ledger-ro'), 'ledger:read');
  const roTok = await token(nova, ro);
  assert.equal((await call(nova, 'POST', '/v1/core/accounts', { tok: roTok, body: { currency: 'KES', type: 'fees' } })).status, 403);
  assert.equal((await call(nova, 'GET', '/v1/core/accounts', { tok: roTok })).status, 200);
});

test('postings: balanced entries move money; every bad posting is refused naming its field, nothing written', async () => {
  const { treasury, wallet } = await funded(nova, '1000.00');
  const fees = await account(nova, { type: 'fees' });
  const id = uid('pst');
  const r = await post(nova, {
    id, entries: [entry(wallet, 'debit', '100.00'), entry(treasury, 'credit', '99.50'), entry(fees, 'credit', '0.50')],
    description: 'cash out', purpose: 'cashout', channel: 'ussd', metadata: { ref: 'A1' },
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.state, 'posted');
  assert.match(r.json.audit_entry_id, /^aud_/);
  assert.equal(r.json.actor, ten.id);
  const b = await balances(nova, wallet);
  assert.deepEqual([b.credits_posted, b.debits_posted, b.ledger, b.available], [KES('1000.00'), KES('100.00'), KES('900.00'), KES('900.00')]);
  assert.deepEqual((await balances(nova, fees)).credits_posted, KES('0.50'));
  const g = await call(nova, 'GET', '/v1/core/postings/' + id, { tok });
  assert.equal(g.status, 200);
  assert.equal(g.json.entries.length, 3);
  assert.equal((await call(nova, 'GET', '/v1/core/postings/' + id, { tok: otherTok })).status, 404);

  const ugx = await account(nova, { currency: 'UGX', type: 'fees' });
  const bad = [
    [{ entries: [entry(wallet, 'debit', '1'), entry(treasury, 'credit', '1')] }, '/id', 422],
    [{ id: uid('p'), entries: [entry(wallet, 'debit', '1')] }, '/entries', 422],
    [{ id: uid('p'), entries: [entry(wallet, 'debit', '1.00'), entry(treasury, 'credit', '1.01')] }, '/entries', 422],
    [{ id: uid('p'), entries: [entry(wallet, 'debit', '1.001'), entry(treasury, 'credit', '1.001')] }, '/entries/0/amount/value', 422],
    [{ id: uid('p'), entries: [entry(wallet, 'debit', '-1'), entry(treasury, 'credit', '-1')] }, '/entries/0/amount/value', 422],
    [{ id: uid('p'), entries: [entry(wallet, 'debit', '100000000000000'), entry(treasury, 'credit', '100000000000000')] }, '/entries/0/amount/value', 422],
    [{ id: uid('p'), entries: [entry(wallet, 'debit', '1', 'KSH'), entry(treasury, 'credit', '1', 'KSH')] }, '/entries/0/amount/currency', 422],
    [{ id: uid('p'), entries: [entry(wallet, 'debit', '1'), { account: treasury, direction: 'credit', amount: { currency: 'KES', value: 1 } }] }, '/entries/1/amount/value', 422],
    [{ id: uid('p'), entries: [entry(wallet, 'up', '1'), entry(treasury, 'credit', '1')] }, '/entries/0/direction', 422],
    // Wrong currency for the account, an unknown account, funds short: refused by the store.
    [{ id: uid('p'), entries: [entry(ugx, 'debit', '5', 'UGX'), entry(wallet, 'credit', '5', 'UGX')] }, '/entries/1/account', 422, 'currency_mismatch'],
    [{ id: uid('p'), entries: [entry('nope', 'debit', '5'), entry(wallet, 'credit', '5')] }, '/entries/0/account', 422, 'account_not_found'],
    [{ id: uid('p'), entries: [entry(wallet, 'debit', '900.01'), entry(treasury, 'credit', '900.01')] }, '/entries/0/account', 422, 'insufficient_funds'],
    [{ id: uid('p'), entries: [entry(fees, 'debit', '1'), entry(wallet, 'credit', '1')], expires_at: 4102444800 }, '/expires_at', 422],
  ];
  const before = await balances(nova, wallet);
  for (const [body, field, status, code] of bad) {
    const x = await post(nova, body);
    assert.equal(x.status, status, JSON.stringify(body) + ' ' + x.text);
    assert.ok(x.json.detail.startsWith(field + ':'), `${field} not named: ${x.json.detail}`);
    if (code) assert.equal(x.json.code, code);
  }
  assert.deepEqual(await balances(nova, wallet).then((x) => ({ ...x, as_of: 0 })), { ...before, as_of: 0 });
  // Frozen: no debits, credits still arrive; closing needs a zero balance.
  const st = (s, t = wallet) => call(nova, 'PUT', `/v1/core/accounts/${t}/status`, { tok, body: { status: s, reason: 'fraud review' } });
  assert.equal((await st('frozen')).status, 200);
  const fz = await post(nova, { id: uid('p'), entries: [entry(wallet, 'debit', '1'), entry(treasury, 'credit', '1')] });
  assert.equal(fz.status, 422);
  assert.equal(fz.json.code, 'account_frozen');
  assert.equal((await post(nova, { id: uid('p'), entries: [entry(treasury, 'debit', '1'), entry(wallet, 'credit', '1')] })).status, 201);
  assert.equal((await st('closed')).status, 409);
  assert.equal((await st('open')).status, 200);
  assert.equal((await post(nova, { id: uid('p'), entries: [entry(wallet, 'debit', '901.00'), entry(treasury, 'credit', '901.00')] })).status, 201);
  assert.equal((await st('closed')).status, 200);
  assert.equal((await post(nova, { id: uid('p'), entries: [entry(treasury, 'debit', '1'), entry(wallet, 'credit', '1')] })).json.code, 'account_closed');
  assert.equal((await st('open')).status, 409);
  assert.equal((await st('sleeping')).status, 422);
});

test('idempotency: same id and body replays, another body is 409 naming it, a failure keeps failing', async () => {
  const { treasury, wallet } = await funded(nova, '50.00');
  const body = { id: uid('idem'), entries: [entry(wallet, 'debit', '20.00'), entry(treasury, 'credit', '20.00')], purpose: 'cashout' };
  const first = await post(nova, body);
  assert.equal(first.status, 201, first.text);
  // Members in another order are the same body.
  const again = await post(nova, { purpose: body.purpose, entries: body.entries, id: body.id });
  assert.equal(again.status, 200);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(again.json, first.json);
  const diff = await post(nova, { ...body, purpose: 'cashin', channel: 'app' });
  assert.equal(diff.status, 409);
  assert.equal(diff.json.code, 'idempotency_conflict');
  assert.match(diff.json.detail, /purpose, channel/);
  assert.deepEqual((await balances(nova, wallet)).debits_posted, KES('20.00'));
  // A refusal is kept: the same request fails the same way even once funds arrive.
  const big = { id: uid('idem'), entries: [entry(wallet, 'debit', '40.00'), entry(treasury, 'credit', '40.00')] };
  const f1 = await post(nova, big);
  assert.equal(f1.status, 422);
  assert.equal(f1.json.code, 'insufficient_funds');
  assert.equal((await post(nova, { id: uid('fund'), entries: [entry(treasury, 'debit', '100'), entry(wallet, 'credit', '100')] })).status, 201);
  const f2 = await post(nova, big);
  assert.equal(f2.status, 422);
  assert.equal(f2.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(f2.json, f1.json);
  // Concurrent requests with one id: one posting, every answer the same.
  const race = { id: uid('race'), entries: [entry(wallet, 'debit', '1.00'), entry(treasury, 'credit', '1.00')] };
  const answers = await Promise.all(Array.from({ length: 16 }, () => post(nova, race)));
  assert.equal(answers.filter((a) => a.status === 201).length, 1, answers.map((a) => a.status).join());
  assert.ok(answers.every((a) => a.status === 201 || (a.status === 200 && a.headers.get('idempotent-replayed') === 'true')));
  assert.deepEqual((await balances(nova, wallet)).debits_posted, KES('21.00'));
});

test('holds: reserve, partial post, at most once, void, expiry', async () => {
  const { treasury, wallet } = await funded(nova, '100.00');
  const hold = { id: uid('hold'), pending: true, entries: [entry(wallet, 'debit', '60.00'), entry(treasury, 'credit', '60.00')] };
  const h = await post(nova, hold);
  assert.equal(h.status, 201, h.text);
  assert.equal(h.json.state, 'pending');
  let b = await balances(nova, wallet);
  assert.deepEqual([b.ledger, b.held, b.available, b.debits_pending], [KES('100.00'), KES('60.00'), KES('40.00'), KES('60.00')]);
  // The reservation counts: 41 more does not fit.
  const over = await post(nova, { id: uid('p'), entries: [entry(wallet, 'debit', '40.01'), entry(treasury, 'credit', '40.01')] });
  assert.equal(over.json.code, 'insufficient_funds');
  assert.equal((await call(nova, 'POST', `/v1/core/postings/${hold.id}/post`, { tok, body: { amount: KES('60.01') } })).status, 422);
  const p = await call(nova, 'POST', `/v1/core/postings/${hold.id}/post`, { tok, body: { amount: KES('45.00') } });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.state, 'posted');
  b = await balances(nova, wallet);
  assert.deepEqual([b.debits_posted, b.debits_pending, b.available], [KES('45.00'), KES('0.00'), KES('55.00')]);
  const twice = await call(nova, 'POST', `/v1/core/postings/${hold.id}/post`, { tok });
  assert.equal(twice.status, 409);
  assert.equal(twice.json.code, 'hold_not_pending');
  assert.equal((await call(nova, 'POST', `/v1/core/postings/${hold.id}/void`, { tok })).status, 409);
  assert.equal((await call(nova, 'GET', `/v1/core/postings/${hold.id}`, { tok })).json.posted_amount.value, '45.00');
  // Void releases it all; concurrent post and void: exactly one wins.
  const h2 = { id: uid('hold'), pending: true, entries: [entry(wallet, 'debit', '30.00'), entry(treasury, 'credit', '30.00')] };
  assert.equal((await post(nova, h2)).status, 201);
  const both = await Promise.all([
    call(nova, 'POST', `/v1/core/postings/${h2.id}/post`, { tok }),
    call(nova, 'POST', `/v1/core/postings/${h2.id}/void`, { tok }),
    call(nova, 'POST', `/v1/core/postings/${h2.id}/post`, { tok }),
  ]);
  assert.equal(both.filter((x) => x.status === 200).length, 1, both.map((x) => x.text).join('\n'));
  b = await balances(nova, wallet);
  assert.deepEqual(b.debits_pending, KES('0.00'));
  assert.ok(['25.00', '55.00'].includes(b.available.value), b.available.value);
  // Expiry voids by itself.
  const now = Math.floor(Date.now() / 1000);
  const h3 = { id: uid('hold'), pending: true, expires_at: now + 2, entries: [entry(wallet, 'debit', '5.00'), entry(treasury, 'credit', '5.00')] };
  assert.equal((await post(nova, h3)).status, 201);
  const held = (await balances(nova, wallet)).debits_pending;
  assert.deepEqual(held, KES('5.00'));
  await new Promise((ok) => setTimeout(ok, 3200));
  b = await balances(nova, wallet);
  assert.deepEqual(b.debits_pending, KES('0.00'));
  const g = await call(nova, 'GET', `/v1/core/postings/${h3.id}`, { tok });
  assert.equal(g.json.state, 'expired');
  assert.equal((await call(nova, 'POST', `/v1/core/postings/${h3.id}/post`, { tok })).status, 409);
  assert.equal((await call(nova, 'POST', `/v1/core/postings/nope/post`, { tok })).status, 404);
});

test('reversals: a new posting linked to the original, partial, never more than the original', async () => {
  const { treasury, wallet } = await funded(nova, '10.00');
  const orig = { id: uid('pst'), entries: [entry(treasury, 'debit', '80.00'), entry(wallet, 'credit', '80.00')] };
  assert.equal((await post(nova, orig)).status, 201);
  const rev = (body) => call(nova, 'POST', `/v1/core/postings/${orig.id}/reverse`, { tok, body });
  const r1 = { id: uid('rev'), amount: KES('30.00'), reason: 'customer dispute' };
  const a = await rev(r1);
  assert.equal(a.status, 201, a.text);
  assert.equal(a.json.kind, 'reversal');
  assert.equal(a.json.reverses, orig.id);
  assert.deepEqual((await balances(nova, wallet)).ledger, KES('60.00'));
  const replay = await rev(r1);
  assert.equal(replay.status, 200);
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  const tooMuch = await rev({ id: uid('rev'), amount: KES('50.01') });
  assert.equal(tooMuch.status, 422);
  assert.equal(tooMuch.json.code, 'reversal_exceeds_original');
  assert.equal((await rev({ id: uid('rev') })).json.code, 'reversal_exceeds_original'); // full after partial
  assert.equal((await rev({ id: uid('rev'), amount: KES('50.00') })).status, 201);
  assert.deepEqual((await balances(nova, wallet)).ledger, KES('10.00'));
  assert.equal((await rev({ id: uid('rev'), amount: KES('0.01') })).json.code, 'reversal_exceeds_original');
  assert.equal((await call(nova, 'GET', '/v1/core/postings/' + orig.id, { tok })).json.reversed.value, '80.00');
  // A reversal is itself refused when it would break the account it debits.
  const o2 = { id: uid('pst'), entries: [entry(treasury, 'debit', '5.00'), entry(wallet, 'credit', '5.00')] };
  assert.equal((await post(nova, o2)).status, 201);
  assert.equal((await post(nova, { id: uid('p'), entries: [entry(wallet, 'debit', '15.00'), entry(treasury, 'credit', '15.00')] })).status, 201);
  const broke = await call(nova, 'POST', `/v1/core/postings/${o2.id}/reverse`, { tok, body: { id: uid('rev') } });
  assert.equal(broke.status, 422);
  assert.equal(broke.json.code, 'insufficient_funds');
  assert.equal((await call(nova, 'POST', `/v1/core/postings/${a.json.id}/reverse`, { tok, body: { id: uid('rev') } })).json.code, 'not_reversible');
  assert.equal((await call(nova, 'POST', `/v1/core/postings/nope/reverse`, { tok, body: { id: uid('rev') } })).status, 404);
});

test('reversals of multi-leg postings (proportional by leg) and of posted holds', async () => {
  const { treasury, wallet } = await funded(nova, '100.00');
  const merchant = await account(nova, { type: 'merchant' });
  const fees = await account(nova, { type: 'fees' });
  const pay = { id: uid('pay'), entries: [entry(wallet, 'debit', '10.00'), entry(merchant, 'credit', '9.70'), entry(fees, 'credit', '0.30')] };
  assert.equal((await post(nova, pay)).status, 201);
  const rev = (id, body) => call(nova, 'POST', `/v1/core/postings/${id}/reverse`, { tok, body: { id: uid('rev'), ...body } });
  const legs = (r) => r.json.entries.map((e) => [e.account, e.direction, e.amount.value]);
  // Half: 5.00 back to the payer, 4.85 and 0.15 taken back in proportion.
  let r = await rev(pay.id, { amount: KES('5.00') });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(legs(r), [[wallet, 'credit', '5.00'], [merchant, 'debit', '4.85'], [fees, 'debit', '0.15']]);
  // One cent comes from the larger leg only; the rest later takes each leg exactly to zero.
  r = await rev(pay.id, { amount: KES('0.01') });
  assert.deepEqual(legs(r), [[wallet, 'credit', '0.01'], [merchant, 'debit', '0.01']]);
  r = await rev(pay.id, { amount: KES('4.99') });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(legs(r), [[wallet, 'credit', '4.99'], [merchant, 'debit', '4.84'], [fees, 'debit', '0.15']]);
  assert.deepEqual([(await balances(nova, wallet)).ledger, (await balances(nova, merchant)).ledger, (await balances(nova, fees)).ledger], [KES('100.00'), KES('0.00'), KES('0.00')]);
  assert.equal((await call(nova, 'GET', '/v1/core/postings/' + pay.id, { tok })).json.reversed.value, '10.00');
  assert.equal((await rev(pay.id, { amount: KES('0.01') })).json.code, 'reversal_exceeds_original');
  // Concurrent partial reversals of a five-leg posting: exactly its total goes back, each
  // leg to zero, never past it.
  const a1 = await account(nova, {}), a2 = await account(nova, {}), a3 = await account(nova, {});
  const split = { id: uid('split'), entries: [entry(treasury, 'debit', '3.00'), entry(treasury, 'debit', '2.00'), entry(a1, 'credit', '2.00'), entry(a2, 'credit', '2.00'), entry(a3, 'credit', '1.00')] };
  assert.equal((await post(nova, split)).status, 201);
  const many = await Promise.all(Array.from({ length: 8 }, () => rev(split.id, { amount: KES('1.00') })));
  assert.equal(many.filter((x) => x.status === 201).length, 5, many.map((x) => x.text).join('\n'));
  for (const x of many.filter((y) => y.status !== 201)) assert.equal(x.json.code, 'reversal_exceeds_original', x.text);
  for (const id of [a1, a2, a3]) assert.deepEqual((await balances(nova, id)).ledger, KES('0.00'));
  // Several currencies: whole only.
  const u1 = await account(nova, { type: 'treasury', currency: 'UGX' }), u2 = await account(nova, { currency: 'UGX' });
  const fx = { id: uid('fx'), entries: [entry(treasury, 'debit', '1.00'), entry(a1, 'credit', '1.00'), { account: u1, direction: 'debit', amount: { currency: 'UGX', value: '300' } }, { account: u2, direction: 'credit', amount: { currency: 'UGX', value: '300' } }] };
  assert.equal((await post(nova, fx)).status, 201);
  r = await rev(fx.id, { amount: KES('0.50') });
  assert.equal(r.status, 422);
  assert.ok(r.json.detail.startsWith('/amount:'), r.text);
  assert.equal((await rev(fx.id, {})).status, 201);
  // A hold posted in part reverses what it posted, no more; a pending or voided hold does not.
  const hold = { id: uid('hold'), pending: true, entries: [entry(wallet, 'debit', '60.00'), entry(treasury, 'credit', '60.00')] };
  assert.equal((await post(nova, hold)).status, 201);
  assert.equal((await rev(hold.id, {})).json.code, 'not_reversible');
  assert.equal((await call(nova, 'POST', `/v1/core/postings/${hold.id}/post`, { tok, body: { amount: KES('45.00') } })).status, 200);
  assert.deepEqual((await balances(nova, wallet)).ledger, KES('55.00'));
  assert.equal((await rev(hold.id, { amount: KES('45.01') })).json.code, 'reversal_exceeds_original');
  r = await rev(hold.id, { amount: KES('5.00') });
  assert.deepEqual(legs(r), [[wallet, 'credit', '5.00'], [treasury, 'debit', '5.00']]);
  assert.equal((await rev(hold.id, {})).json.code, 'reversal_exceeds_original'); // whole after part
  assert.equal((await rev(hold.id, { amount: KES('40.00') })).status, 201);
  assert.deepEqual((await balances(nova, wallet)).ledger, KES('100.00'));
  const whole = { id: uid('hold'), pending: true, entries: [entry(wallet, 'debit', '20.00'), entry(treasury, 'credit', '20.00')] };
  assert.equal((await post(nova, whole)).status, 201);
  assert.equal((await call(nova, 'POST', `/v1/core/postings/${whole.id}/post`, { tok })).status, 200);
  assert.equal((await rev(whole.id, {})).status, 201);
  assert.deepEqual((await balances(nova, wallet)).ledger, KES('100.00'));
  const voided = { id: uid('hold'), pending: true, entries: [entry(wallet, 'debit', '1.00'), entry(treasury, 'credit', '1.00')] };
  assert.equal((await post(nova, voided)).status, 201);
  assert.equal((await call(nova, 'POST', `/v1/core/postings/${voided.id}/void`, { tok })).status, 200);
  assert.equal((await rev(voided.id, {})).json.code, 'not_reversible');
});

test('reversals naming their legs: which legs and how much of each, never more per leg than the original', async () => {
  const { treasury, wallet } = await funded(nova, '100.00');
  const merchant = await account(nova, { type: 'merchant' });
  const fees = await account(nova, { type: 'fees' });
  const agent = await account(nova, { type: 'commission_pool' });
  // A 10.00 payment: 9.50 to the merchant, 0.30 fee, 0.20 agent commission (legs 0..3).
  const pay = { id: uid('pay'), entries: [entry(wallet, 'debit', '10.00'), entry(merchant, 'credit', '9.50'), entry(fees, 'credit', '0.30'), entry(agent, 'credit', '0.20')] };
  assert.equal((await post(nova, pay)).status, 201);
  const rev = (id, body, rid = uid('rev')) => call(nova, 'POST', `/v1/core/postings/${id}/reverse`, { tok, body: { id: rid, ...body } });
  const legs = (r) => r.json.entries.map((e) => [e.account, e.direction, e.amount.value]);
  const leg = (i, v) => ({ leg: i, amount: KES(v) });
  // Refund the fee only: 0.30 back to the payer from the fee account; nothing else moves.
  let r = await rev(pay.id, { legs: [leg(0, '0.30'), leg(2, '0.30')], reason: 'fee waived' });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(legs(r), [[wallet, 'credit', '0.30'], [fees, 'debit', '0.30']]);
  assert.equal(r.json.reverses, pay.id);
  assert.deepEqual([(await balances(nova, fees)).ledger, (await balances(nova, merchant)).ledger], [KES('0.00'), KES('9.50')]);
  // The same id and body replays; another body under it is a conflict.
  const rid = uid('rev');
  const body = { legs: [leg(0, '1.00'), leg(1, '1.00')] };
  assert.equal((await rev(pay.id, body, rid)).status, 201);
  const again = await rev(pay.id, body, rid);
  assert.equal(again.status, 200, again.text);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.equal((await rev(pay.id, { legs: [leg(0, '2.00'), leg(1, '2.00')] }, rid)).status, 409);
  // The fee leg is used up: another 0.01 of it is refused, recorded, and keeps failing so.
  const over = uid('rev');
  r = await rev(pay.id, { legs: [leg(0, '0.01'), leg(2, '0.01')] }, over);
  assert.equal(r.status, 422, r.text);
  assert.equal(r.json.code, 'reversal_exceeds_original');
  assert.ok(r.json.detail.startsWith('/legs'), r.text);
  assert.equal((await rev(pay.id, { legs: [leg(0, '0.01'), leg(2, '0.01')] }, over)).json.code, 'reversal_exceeds_original');
  // Bad legs name their field; nothing is written.
  for (const [b, field] of [
    [{ legs: [leg(0, '0.10')] }, '/legs'], [{ legs: [] }, '/legs'], [{ legs: 'all' }, '/legs'],
    [{ legs: [leg(0, '0.10'), leg(1, '0.20')] }, '/legs'], // unbalanced
    [{ legs: [leg(0, '0.10'), leg(9, '0.10')] }, '/legs/1/leg'], [{ legs: [leg(0, '0.10'), { leg: -1, amount: KES('0.10') }] }, '/legs/1/leg'],
    [{ legs: [leg(0, '0.10'), leg(0, '0.10')] }, '/legs/1/amount'], [{ legs: [leg(0, '0.10'), { leg: 1, amount: { currency: 'UGX', value: '10' } }] }, '/legs/1/amount'],
    [{ legs: [leg(0, '0.10'), leg(1, '0.001')] }, '/legs/1/amount/value'], [{ legs: [leg(0, '0.10'), { leg: 1 }] }, '/legs/1'],
    [{ legs: [leg(0, '0.10'), { ...leg(1, '0.10'), extra: true }] }, '/legs/1'], [{ amount: KES('1.00'), legs: [leg(0, '1.00'), leg(1, '1.00')] }, '/legs'],
  ]) {
    const x = await rev(pay.id, b);
    assert.equal(x.status, 422, `${JSON.stringify(b)}: ${x.text}`);
    assert.ok(x.json.detail.startsWith(field + ':'), `${JSON.stringify(b)}: ${x.json.detail}`);
  }
  // After a reversal naming legs, one by amount is refused: it could not say what is left.
  assert.equal((await rev(pay.id, { amount: KES('1.00') })).json.code, 'reversal_legs_required');
  // Concurrent reversals of the merchant leg's remaining 8.50 in 1.00s: exactly eight win,
  // the leg is never passed; the last 0.50 then goes back with the commission leg's 0.20.
  const many = await Promise.all(Array.from({ length: 12 }, () => rev(pay.id, { legs: [leg(0, '1.00'), leg(1, '1.00')] })));
  assert.equal(many.filter((x) => x.status === 201).length, 8, many.map((x) => x.text).join('\n'));
  for (const x of many.filter((y) => y.status !== 201)) assert.equal(x.json.code, 'reversal_exceeds_original', x.text);
  r = await rev(pay.id, { legs: [leg(0, '0.70'), leg(1, '0.50'), leg(3, '0.20')] });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(legs(r), [[wallet, 'credit', '0.70'], [merchant, 'debit', '0.50'], [agent, 'debit', '0.20']]);
  assert.deepEqual([(await balances(nova, wallet)).ledger, (await balances(nova, merchant)).ledger, (await balances(nova, fees)).ledger, (await balances(nova, agent)).ledger],
    [KES('100.00'), KES('0.00'), KES('0.00'), KES('0.00')]);
  assert.equal((await call(nova, 'GET', '/v1/core/postings/' + pay.id, { tok })).json.reversed.value, '10.00');
  // What the legs took is kept beside the posting, under an id no client can send.
  assert.equal((await call(nova, 'GET', `/v1/core/postings/${pay.id}%23legs`, { tok })).status, 404);
  // After reversals by amount, legs are checked against the shares those took: 5.00 of a
  // 10.00 payment with a 0.30 fee took 4.85 and 0.15, so 0.15 of the fee is left, no more.
  const pay2 = { id: uid('pay'), entries: [entry(wallet, 'debit', '10.00'), entry(merchant, 'credit', '9.70'), entry(fees, 'credit', '0.30')] };
  assert.equal((await post(nova, pay2)).status, 201);
  assert.equal((await rev(pay2.id, { amount: KES('5.00') })).status, 201);
  assert.equal((await rev(pay2.id, { legs: [leg(0, '0.16'), leg(2, '0.16')] })).json.code, 'reversal_exceeds_original');
  assert.equal((await rev(pay2.id, { legs: [leg(0, '0.15'), leg(2, '0.15')] })).status, 201);
  // Several currencies: legs balance per currency.
  const u1 = await account(nova, { type: 'treasury', currency: 'UGX' }), u2 = await account(nova, { currency: 'UGX' });
  const fx = { id: uid('fx'), entries: [entry(treasury, 'debit', '1.00'), entry(merchant, 'credit', '1.00'), { account: u1, direction: 'debit', amount: { currency: 'UGX', value: '300' } }, { account: u2, direction: 'credit', amount: { currency: 'UGX', value: '300' } }] };
  assert.equal((await post(nova, fx)).status, 201);
  assert.equal((await rev(fx.id, { legs: [leg(0, '0.40'), { leg: 3, amount: { currency: 'UGX', value: '100' } }] })).status, 422);
  r = await rev(fx.id, { legs: [{ leg: 2, amount: { currency: 'UGX', value: '100' } }, { leg: 3, amount: { currency: 'UGX', value: '100' } }] });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(legs(r), [[u1, 'credit', '100'], [u2, 'debit', '100']]);
  // Audited as reversals.
  const log = await call(nova, 'GET', `/v1/audit?limit=200&action=ledger.posting.reverse`, { tok });
  assert.ok(log.json.entries.some((e) => e.target === 'posting:' + r.json.id), 'the reversal is audited');
});

test('account postings: the entries of an account in order, in cursor pages', async () => {
  const { treasury, wallet } = await funded(nova, '10.00');
  for (let i = 1; i <= 4; i++)
    assert.equal((await post(nova, { id: uid('p'), entries: [entry(wallet, 'debit', `${i}.00`), entry(treasury, 'credit', `${i}.00`)] })).status, 201);
  const seen = [];
  let cursor = null;
  do {
    const r = await call(nova, 'GET', `/v1/core/accounts/${wallet}/postings?limit=2${cursor ? '&cursor=' + cursor : ''}`, { tok });
    assert.equal(r.status, 200, r.text);
    seen.push(...r.json.entries);
    cursor = r.json.next_cursor;
  } while (cursor);
  assert.deepEqual(seen.map((e) => `${e.direction} ${e.amount.value}`), ['credit 10.00', 'debit 1.00', 'debit 2.00', 'debit 3.00', 'debit 4.00']);
});

test('every ledger mutation is audited with its actor', async () => {
  const { treasury, wallet } = await funded(nova, '5.00');
  const id = uid('pst');
  assert.equal((await post(nova, { id, entries: [entry(wallet, 'debit', '1'), entry(treasury, 'credit', '1')] })).status, 201);
  const refused = uid('pst');
  assert.equal((await post(nova, { id: refused, entries: [entry(wallet, 'debit', '100'), entry(treasury, 'credit', '100')] })).status, 422);
  const out = [];
  let cursor = null;
  do {
    const r = await call(nova, 'GET', `/v1/audit?limit=200${cursor ? '&cursor=' + cursor : ''}`, { tok });
    assert.equal(r.status, 200, r.text);
    out.push(...r.json.entries);
    cursor = r.json.next_cursor;
  } while (cursor);
  const has = (action, target) => out.find((e) => e.action === action && e.target === target);
  assert.ok(has('ledger.account.create', 'account:' + wallet));
  assert.equal(has('ledger.posting.create', 'posting:' + id).actor, ten.id);
  assert.ok(has('ledger.posting.refuse', 'posting:' + refused));
});

test('linked postings: a batch commits all or nothing, in order, and replays as one', async () => {
  const { treasury, wallet } = await funded(nova, '10.00');
  const other = await account(nova, { flags: { debits_must_not_exceed_credits: true } });
  const batch = (postings) => call(nova, 'POST', '/v1/core/postings:batch', { tok, body: { postings } });
  // The second spends what the first credits: fine in order.
  const ok = [
    { id: uid('b'), entries: [entry(treasury, 'debit', '5.00'), entry(wallet, 'credit', '5.00')] },
    { id: uid('b'), entries: [entry(wallet, 'debit', '15.00'), entry(other, 'credit', '15.00')] },
  ];
  const r = await batch(ok);
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.postings.length, 2);
  assert.deepEqual((await balances(nova, wallet)).ledger, KES('0.00'));
  const again = await batch(ok);
  assert.equal(again.status, 200, again.text);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(again.json, r.json);
  // One refusal undoes the whole batch.
  const bad = [
    { id: uid('b'), entries: [entry(treasury, 'debit', '1.00'), entry(other, 'credit', '1.00')] },
    { id: uid('b'), entries: [entry(wallet, 'debit', '0.01'), entry(treasury, 'credit', '0.01')] },
  ];
  const x = await batch(bad);
  assert.equal(x.status, 422, x.text);
  assert.equal(x.json.code, 'insufficient_funds');
  assert.ok(x.json.detail.startsWith('/postings/1/entries/0/account:'), x.json.detail);
  assert.deepEqual((await balances(nova, other)).credits_posted, KES('15.00'));
  // The refusal is kept: the same batch fails the same way, even once the funds are there.
  assert.equal((await call(nova, 'GET', '/v1/core/postings/' + bad[0].id, { tok })).status, 422);
  assert.equal((await post(nova, { id: uid('fund'), entries: [entry(treasury, 'debit', '1.00'), entry(wallet, 'credit', '1.00')] })).status, 201);
  const again2 = await batch(bad);
  assert.equal(again2.status, 422, again2.text);
  assert.equal(again2.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(again2.json, x.json);
  // Ids: another body under a used id, an id twice in one batch, a bad posting named.
  const c = await batch([{ ...ok[0], description: 'other' }]);
  assert.equal(c.status, 409);
  assert.match(c.json.detail, /^\/postings\/0\/id: .*description/);
  const dup = await batch([bad[0], bad[0]]);
  assert.equal(dup.status, 422);
  assert.ok(dup.json.detail.startsWith('/postings/1/id:'), dup.json.detail);
  const v = await batch([bad[0], { id: uid('b'), entries: [entry(wallet, 'debit', '1.001'), entry(treasury, 'credit', '1.001')] }]);
  assert.ok(v.json.detail.startsWith('/postings/1/entries/0/amount/value:'), v.json.detail);
  assert.equal((await batch([])).status, 422);
  assert.equal((await batch([{ ...bad[0], colour: 'red' }])).status, 422);
});

test('limits: per KYC tier and per account, enforced in the posting, checked by /limits/check', async () => {
  const tier = uid('tier');
  const put = (scope, body) => call(nova, 'PUT', scope.startsWith('tier:') ? `/v1/core/limits/tiers/${scope.slice(5)}` : `/v1/core/accounts/${scope.slice(8)}/limits`, { tok, body });
  const lim = await put('tier:' + tier, { currency: 'KES', per_transaction_max: KES('50.00'), daily_amount: KES('120.00'), daily_count: 3, balance_ceiling: KES('1000.00') });
  assert.equal(lim.status, 200, lim.text);
  assert.deepEqual(lim.json.daily_amount, KES('120.00'));
  assert.equal(lim.json.weekly_amount, null);
  assert.equal((await call(nova, 'GET', `/v1/core/limits/tiers/${tier}`, { tok })).json.daily_count, 3);
  assert.equal((await call(nova, 'GET', `/v1/core/limits/tiers/${tier}`, { tok: otherTok })).status, 404);
  for (const [body, field] of [
    [{ currency: 'KSH' }, '/currency'],
    [{ currency: 'KES', daily_count: 0 }, '/daily_count'],
    [{ currency: 'KES', daily_amount: { currency: 'UGX', value: '1' } }, '/daily_amount/currency'],
    [{ currency: 'KES', per_transaction_max: KES('1.001') }, '/per_transaction_max/value'],
  ]) {
    const x = await put('tier:' + tier, body);
    assert.equal(x.status, 422, x.text);
    assert.ok(x.json.detail.startsWith(field + ':'), x.json.detail);
  }
  assert.equal((await call(nova, 'PUT', '/v1/core/limits/tiers/a%20b', { tok, body: { currency: 'KES' } })).status, 404);

  const { treasury, wallet } = await funded(nova, '900.00', tok, { kyc_tier: tier });
  const pay = (v) => post(nova, { id: uid('lim'), entries: [entry(wallet, 'debit', v), entry(treasury, 'credit', v)] });
  const check = (v) => call(nova, 'POST', '/v1/core/limits/check', { tok, body: { account: wallet, amount: KES(v) } });
  let c = await check('50.00');
  assert.equal(c.status, 200, c.text);
  assert.deepEqual([c.json.allowed, c.json.remaining_amount, c.json.remaining_count], [true, KES('120.00'), 3]);
  assert.equal((await check('50.01')).json.limit, 'per_transaction_max');
  const big = await pay('50.01');
  assert.equal(big.status, 422);
  assert.equal(big.json.code, 'limit_exceeded');
  assert.match(big.json.detail, /per_transaction_max/);
  assert.equal((await pay('50.00')).status, 201);
  assert.equal((await pay('50.00')).status, 201);
  c = await check('20.01');
  assert.deepEqual([c.json.allowed, c.json.limit, c.json.remaining_amount], [false, 'daily_amount', KES('20.00')]);
  const over = await pay('20.01');
  assert.equal(over.json.code, 'limit_exceeded');
  assert.match(over.json.detail, /daily_amount/);
  assert.equal((await pay('20.00')).status, 201);
  assert.equal((await pay('0.01')).json.code, 'limit_exceeded'); // the count (3) or the amount: both spent
  // The balance ceiling refuses a credit that would pass it; a refused outflow used nothing.
  const fill = await post(nova, { id: uid('lim'), entries: [entry(treasury, 'debit', '220.01'), entry(wallet, 'credit', '220.01')] });
  assert.equal(fill.json.code, 'limit_exceeded', fill.text);
  assert.match(fill.json.detail, /balance_ceiling/);
  assert.equal((await post(nova, { id: uid('lim'), entries: [entry(treasury, 'debit', '220.00'), entry(wallet, 'credit', '220.00')] })).status, 201);
  // An account's own limits apply with its tier's, the stricter winning.
  const { treasury: t2, wallet: w2 } = await funded(nova, '100.00', tok, { kyc_tier: tier });
  assert.equal((await put('account:' + w2, { currency: 'KES', per_transaction_max: KES('10.00') })).status, 200);
  assert.equal((await post(nova, { id: uid('lim'), entries: [entry(w2, 'debit', '10.01'), entry(t2, 'credit', '10.01')] })).json.code, 'limit_exceeded');
  assert.equal((await post(nova, { id: uid('lim'), entries: [entry(w2, 'debit', '10.00'), entry(t2, 'credit', '10.00')] })).status, 201);
  // Limits in another currency do not apply; reversals are not counted.
  assert.equal((await check('1.00')).status, 200);
  // Many clients at once never pass a daily count.
  const tier2 = uid('tier');
  assert.equal((await put('tier:' + tier2, { currency: 'KES', daily_count: 5 })).status, 200);
  const { treasury: t3, wallet: w3 } = await funded(nova, '100.00', tok, { kyc_tier: tier2 });
  const rs = await Promise.all(Array.from({ length: 24 }, () => post(nova, { id: uid('lim'), entries: [entry(w3, 'debit', '1.00'), entry(t3, 'credit', '1.00')] })));
  assert.equal(rs.filter((x) => x.status === 201).length, 5, rs.map((x) => x.status).join());
  assert.deepEqual((await balances(nova, w3)).debits_posted, KES('5.00'));
});

const kid = (el, name) => el.children.find((c) => c.name === name);

test('statements: opening and closing balances, running balances, pages; JSON, CSV, camt.053; they reconcile', async () => {
  const { treasury, wallet } = await funded(nova, '100.00');
  assert.equal((await post(nova, { id: uid('s'), entries: [entry(wallet, 'debit', '10.00'), entry(treasury, 'credit', '10.00')] })).status, 201);
  await new Promise((ok) => setTimeout(ok, 1100));
  const from = Math.floor(Date.now() / 1000);
  const moves = ['5.00', '-2.50', '7.25', '-0.75', '1.00'];
  for (const v of moves) {
    const abs = v.replace('-', '');
    const e = v.startsWith('-') ? [entry(wallet, 'debit', abs), entry(treasury, 'credit', abs)] : [entry(treasury, 'debit', abs), entry(wallet, 'credit', abs)];
    assert.equal((await post(nova, { id: uid('s'), entries: e })).status, 201);
  }
  const to = Math.floor(Date.now() / 1000) + 5;
  const st = (body) => call(nova, 'POST', '/v1/core/statements', { tok, body: { account: wallet, from, to, ...body } });
  // JSON in pages of two; the running balance carries across pages.
  const seen = [];
  let cursor, first;
  do {
    const r = await st({ limit: 2, ...(cursor ? { cursor } : {}) });
    assert.equal(r.status, 200, r.text);
    first ??= r.json;
    assert.deepEqual([r.json.opening_balance, r.json.closing_balance], [KES('90.00'), KES('100.00')]);
    seen.push(...r.json.entries);
    cursor = r.json.next_cursor;
  } while (cursor);
  assert.equal(seen.length, 5);
  let running = 9000;
  for (const [i, e] of seen.entries()) {
    running += (e.direction === 'credit' ? 1 : -1) * Math.round(Number(e.amount.value) * 100);
    assert.equal(Math.round(Number(e.balance_after.value) * 100), running, `entry ${i}`);
    assert.equal(e.amount.value, moves[i].replace('-', ''));
  }
  // It reconciles with the balances at its end (now) and with the entries before it.
  assert.deepEqual((await balances(nova, wallet)).ledger, first.closing_balance);
  const early = await st({ from: from - 3600, to: from });
  assert.deepEqual([early.json.opening_balance, early.json.closing_balance], [KES('0.00'), KES('90.00')]);
  // CSV.
  const csv = await st({ format: 'csv' });
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type'), /^text\/csv/);
  const rows = csv.text.trim().split('\r\n').map((l) => l.split(','));
  assert.deepEqual(rows[0], ['type', 'posting', 'time', 'direction', 'amount', 'currency', 'balance']);
  assert.deepEqual([rows[1][0], rows[1][6]], ['opening', '90.00']);
  assert.deepEqual([rows.at(-1)[0], rows.at(-1)[6]], ['closing', '100.00']);
  assert.equal(rows.at(-2)[6], '100.00');
  assert.equal(rows.length, 1 + 1 + 5 + 1);
  // camt.053.001.02: structure, order and formats as the schema has them; balances reconcile.
  const x = await st({ format: 'camt.053' });
  assert.equal(x.status, 200, x.text);
  assert.match(x.headers.get('content-type'), /^application\/xml/);
  const doc = parseXml(x.text);
  checkCamt053(doc);
  // The checks catch what the schema refuses: an element out of order, a MsgId past 35
  // characters, an unknown balance code, a sixth decimal, a missing required element.
  const broken = [
    x.text.replace(/<CdtDbtInd>(\w+)<\/CdtDbtInd><Sts>BOOK<\/Sts>/, '<Sts>BOOK</Sts><CdtDbtInd>$1</CdtDbtInd>'),
    x.text.replace(/<MsgId>[^<]*<\/MsgId>/, `<MsgId>${'M'.repeat(36)}</MsgId>`),
    x.text.replace('<Cd>OPBD</Cd>', '<Cd>OPEN</Cd>'),
    x.text.replace(/<Amt Ccy="KES">([0-9.]+)<\/Amt>/, '<Amt Ccy="KES">1.000001</Amt>'),
    x.text.replace(/<BkTxCd>.*?<\/BkTxCd>/, ''),
    x.text.replace('<Ccy>KES</Ccy>', '<Ccy>KES</Ccy><Colour>red</Colour>'),
  ];
  for (const b of broken) {
    assert.notEqual(b, x.text);
    assert.throws(() => checkCamt053(parseXml(b)), undefined, b.slice(0, 400));
  }
  const stmt = kid(kid(doc, 'BkToCstmrStmt'), 'Stmt');
  const bals = stmt.children.filter((c) => c.name === 'Bal');
  const bal = (code) => bals.find((b) => kid(kid(kid(b, 'Tp'), 'CdOrPrtry'), 'Cd').text === code);
  assert.equal(kid(bal('OPBD'), 'Amt').text, '90.00');
  assert.equal(kid(bal('CLBD'), 'Amt').text, '100.00');
  const ntry = stmt.children.filter((c) => c.name === 'Ntry');
  assert.equal(ntry.length, 5);
  const net = ntry.reduce((acc, n) => acc + (kid(n, 'CdtDbtInd').text === 'CRDT' ? 1 : -1) * Math.round(Number(kid(n, 'Amt').text) * 100), 0);
  assert.equal(9000 + net, 10000);
  // Ids past the schema's lengths (Max34Text for the account, Max35Text for a reference):
  // still valid, each named in full where the schema has room (Nm, AddtlNtryInf).
  const longAcct = 'a'.repeat(30) + uid('acct');
  assert.equal((await call(nova, 'POST', '/v1/core/accounts', { tok, body: { id: longAcct, currency: 'KES', type: 'customer_wallet' } })).status, 201);
  const longPost = 'p'.repeat(40) + uid('x');
  assert.equal((await post(nova, { id: longPost, entries: [entry(treasury, 'debit', '1.25'), entry(longAcct, 'credit', '1.25')] })).status, 201);
  const lx = await call(nova, 'POST', '/v1/core/statements', { tok, body: { account: longAcct, from, to: Math.floor(Date.now() / 1000) + 5, format: 'camt.053' } });
  assert.equal(lx.status, 200, lx.text);
  const ldoc = parseXml(lx.text);
  checkCamt053(ldoc);
  const lacct = kid(kid(kid(ldoc, 'BkToCstmrStmt'), 'Stmt'), 'Acct');
  assert.equal(kid(lacct, 'Nm').text, longAcct);
  assert.equal(kid(kid(kid(lacct, 'Id'), 'Othr'), 'Id').text.length, 34);
  const lntry = kid(kid(kid(ldoc, 'BkToCstmrStmt'), 'Stmt'), 'Ntry');
  assert.equal(kid(lntry, 'NtryRef'), undefined);
  assert.equal(kid(lntry, 'AddtlNtryInf').text, 'posting ' + longPost);
  // Bad requests name their field; another tenant's account is not found.
  for (const [body, field] of [[{ format: 'pdf' }, '/format'], [{ to: from - 1 }, '/to'], [{ from: 'soon' }, '/from'], [{ limit: 0 }, '/limit'], [{ cursor: 'x' }, '/cursor']]) {
    const b = await st(body);
    assert.equal(b.status, 422, b.text);
    assert.ok(b.json.detail.startsWith(field + ':'), b.json.detail);
  }
  assert.equal((await call(nova, 'POST', '/v1/core/statements', { tok: otherTok, body: { account: wallet, from, to } })).status, 404);
});

test('savings products: configured, named by accounts; the accrual run over HTTP and novactl, finished days only, idempotent', async () => {
  const expense = await account(nova, { type: 'fees' });
  const accrued = await account(nova, { type: 'suspense' });
  const pid = uid('save');
  const put = (body, id = pid) => call(nova, 'PUT', `/v1/core/products/${id}`, { tok, body });
  const good = { kind: 'savings', currency: 'KES', rate: '0.0525', day_count: 'ACT/365', min_balance: KES('100.00'), interest_account: expense, accrual_account: accrued };
  const p = await put(good);
  assert.equal(p.status, 200, p.text);
  assert.deepEqual([p.json.rate, p.json.day_count, p.json.min_balance], ['0.0525', 'ACT/365', KES('100.00')]);
  assert.equal((await call(nova, 'GET', `/v1/core/products/${pid}`, { tok })).json.interest_account, expense);
  assert.equal((await call(nova, 'GET', `/v1/core/products/${pid}`, { tok: otherTok })).status, 404);
  for (const [body, field] of [
    [{ ...good, kind: 'loan' }, '/kind'], [{ ...good, rate: '5%' }, '/rate'], [{ ...good, day_count: 'ACT/366' }, '/day_count'],
    [{ ...good, min_balance: KES('1.001') }, '/min_balance/value'], [{ ...good, interest_account: 'nope' }, '/interest_account'],
    [{ ...good, accrual_account: expense }, '/accrual_account'],
  ]) {
    const x = await put(body);
    assert.equal(x.status, 422, x.text);
    assert.ok(x.json.detail.startsWith(field + ':'), x.json.detail);
  }
  const saver = await account(nova, { type: 'savings', product: pid, flags: { debits_must_not_exceed_credits: true } });
  assert.equal((await call(nova, 'GET', '/v1/core/accounts/' + saver, { tok })).json.product, pid);
  const noProduct = await call(nova, 'POST', '/v1/core/accounts', { tok, body: { currency: 'KES', type: 'savings', product: 'nope' } });
  assert.ok(noProduct.json.detail.startsWith('/product:'), noProduct.text);
  const ugx = await call(nova, 'POST', '/v1/core/accounts', { tok, body: { currency: 'UGX', type: 'savings', product: pid } });
  assert.ok(ugx.json.detail.startsWith('/product:'), ugx.text);
  // Yesterday is finished: the run sees the account (its balance then was zero: nothing to
  // post) and is recorded; today and bad dates are refused. The interest itself is checked
  // over 30 days with a moved clock in ledger_test (test_accrual_run).
  const day = (d) => new Date(Date.now() + d * 86400000).toISOString().slice(0, 10);
  const run = await call(nova, 'POST', '/v1/core/accruals', { tok, body: { date: day(-1) } });
  assert.equal(run.status, 200, run.text);
  assert.deepEqual([run.json.accounts, run.json.posted, run.json.failed], [1, 0, 0]);
  assert.equal((await call(nova, 'POST', '/v1/core/accruals', { tok, body: { date: day(0) } })).status, 422);
  assert.equal((await call(nova, 'POST', '/v1/core/accruals', { tok, body: { date: '2026-02-30' } })).status, 422);
  const ctl = nova.ctl('ledger', 'accrue', day(-1), '--tenant', ten.tenant);
  assert.equal(ctl.code, 0, ctl.stderr);
  assert.deepEqual([ctl.json.date, ctl.json.accounts], [day(-1), 1]);
  const all = nova.ctl('ledger', 'accrue', day(-2));
  assert.equal(all.code, 0, all.stderr);
  assert.ok(all.json.accounts >= 1);
  assert.notEqual(nova.ctl('ledger', 'accrue', day(0)).code, 0);
  assert.notEqual(nova.ctl('ledger', 'accrue', 'soon').code, 0);
});

// ---- concurrency and the model ----

// Many clients debit one wallet at once: exactly as many succeed as the funds allow.
test('concurrency: 64 clients racing for one wallet never overdraw it (and the hot fee account loses nothing)', async () => {
  const { treasury, wallet } = await funded(nova, '100.00');
  const fees = await account(nova, { type: 'fees' });
  const tries = 200;
  const results = [];
  const queue = Array.from({ length: tries }, (_, i) => i);
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (queue.length) {
      queue.pop();
      const r = await post(nova, { id: uid('c'), entries: [entry(wallet, 'debit', '1.00'), entry(treasury, 'credit', '0.90'), entry(fees, 'credit', '0.10')] });
      results.push(r.status === 201 ? 'ok' : r.json?.code);
    }
  }));
  assert.equal(results.filter((x) => x === 'ok').length, 100, JSON.stringify(results.filter((x) => x !== 'ok' && x !== 'insufficient_funds')));
  assert.equal(results.filter((x) => x === 'insufficient_funds').length, 100);
  const b = await balances(nova, wallet);
  assert.deepEqual([b.ledger, b.available], [KES('0.00'), KES('0.00')]);
  assert.deepEqual((await balances(nova, fees)).credits_posted, KES('10.00'));
});

// A small PRNG so a failing run can be replayed from its seed.
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('model: a seeded random workload from 2 novad processes and 16 clients matches the model exactly', async () => {
  const seed = Number(process.env.LEDGER_SEED || Math.floor(Math.random() * 2 ** 31));
  const steps = Number(process.env.LEDGER_STEPS || 600);
  console.log(`# ledger model: LEDGER_SEED=${seed} LEDGER_STEPS=${steps} (each of 16 clients replays its operations from the seed; their interleaving is the scheduler's)`);
  const second = await startNova({}, { shareWith: nova });
  try {
    const cents = (v) => (v / 100).toFixed(2);
    const wallets = [];
    const treasury = await account(nova, { type: 'treasury' });
    const hot = await account(nova, { type: 'fees' });
    // The model: per account posted/pending debits/credits in cents, and its rules.
    const model = new Map();
    const add = (id, rules) => model.set(id, { dp: 0, cp: 0, dpend: 0, cpend: 0, ...rules });
    add(treasury, {});
    add(hot, {});
    for (let i = 0; i < 6; i++) {
      const od = i < 2 ? 2000 : 0;
      const id = await account(nova, od ? { flags: { debits_must_not_exceed_credits: true }, overdraft: { limit: KES(cents(od)) } } : { flags: { debits_must_not_exceed_credits: true } });
      wallets.push(id);
      add(id, { dmnec: true, od });
    }
    // Limits: two wallets with their own (at most 30.00 a posting, 200.00 and 10 postings a
    // day), two in a KYC tier (25.00, 6 a day), one in both (the stricter of each applies).
    // Which postings they refuse depends on the interleaving; what the model checks is that
    // the accepted ones never add up past a limit.
    const tier = `mt${seed}`;
    const limits = new Map();
    const own = { per_transaction_max: 3000, daily_amount: 20000, daily_count: 10 }, tiered = { per_transaction_max: 2500, daily_count: 6 };
    const lim = (l) => Object.fromEntries(Object.entries(l).map(([k, v]) => [k, k.endsWith('_count') ? v : KES(cents(v))]));
    assert.equal((await call(nova, 'PUT', `/v1/core/limits/tiers/${tier}`, { tok, body: { currency: 'KES', ...lim(tiered) } })).status, 200);
    for (const w of wallets.slice(2, 4)) {
      assert.equal((await call(nova, 'PUT', `/v1/core/accounts/${w}/limits`, { tok, body: { currency: 'KES', ...lim(own) } })).status, 200);
      limits.set(w, own);
    }
    for (let i = 0; i < 3; i++) {
      const id = await account(nova, { flags: { debits_must_not_exceed_credits: true }, kyc_tier: tier });
      if (i === 2) assert.equal((await call(nova, 'PUT', `/v1/core/accounts/${id}/limits`, { tok, body: { currency: 'KES', ...lim(own) } })).status, 200);
      wallets.push(id);
      add(id, { dmnec: true, od: 0 });
      const both = Object.fromEntries(['per_transaction_max', 'daily_amount', 'daily_count'].map((k) => [k, Math.min(tiered[k] ?? Infinity, i === 2 ? own[k] : Infinity)]));
      limits.set(id, both);
    }
    // Fees: two wallets are members of a product charging 0.50 a day into feeIncome, posted
    // at the end by a novad whose clock runs two days ahead (its daily run does "tomorrow").
    const feeIncome = await account(nova, { type: 'fees' });
    add(feeIncome, {});
    const feeProduct = `mfee${seed}`;
    const feeAmount = 50;
    const product = { kind: 'savings', currency: 'KES', rate: '0', day_count: 'ACT/365', interest_account: treasury, accrual_account: feeIncome, fee: { amount: KES(cents(feeAmount)), period: 'daily', account: feeIncome } };
    assert.equal((await call(nova, 'PUT', `/v1/core/products/${feeProduct}`, { tok, body: product })).status, 200);
    const members = [];
    for (let i = 0; i < 2; i++) {
      const id = await account(nova, { type: 'savings', product: feeProduct, flags: { debits_must_not_exceed_credits: true } });
      wallets.push(id);
      members.push(id);
      add(id, { dmnec: true, od: 0 });
    }
    const day0 = new Date().toISOString().slice(0, 10);
    // Outflows the store accepted from each account (postings, holds and batches; never
    // reversals or fees, which limits do not count): count, sum and largest.
    const out = new Map();
    const spent = (id, v) => {
      const o = out.get(id) || { n: 0, sum: 0, max: 0 };
      o.n += 1; o.sum += v; o.max = Math.max(o.max, v);
      out.set(id, o);
    };
    let byLimits = 0;
    const refused = (r) => {
      if (r.status === 422 && r.json.code === 'limit_exceeded') byLimits++;
      return r.status === 422 && ['insufficient_funds', 'limit_exceeded'].includes(r.json.code);
    };
    const fits = (a, extraDebit) => !a.dmnec || a.dp + a.dpend + extraDebit <= a.cp + a.od;
    const acked = [];
    const expiring = [];
    const nodes = [nova, second];
    // Tokens name their issuer (each novad's own address): one token per process.
    const toks = new Map([[nova, tok], [second, await token(second, ten)]]);
    const post = (n, body) => call(n, 'POST', '/v1/core/postings', { tok: toks.get(n), body });
    // Each client has its own generator (seed, client) and its own holds, postings and
    // answers, so a seed replays every client's sequence of operations; only their
    // interleaving is left to the scheduler.
    async function client(c) {
      const n = nodes[c % 2];
      const rnd = prng(seed * 31 + c);
      const pick = (a) => a[Math.floor(rnd() * a.length)];
      const holds = [];
      const postings = [];
      const answers = new Map();
      for (let i = 0; i < Math.ceil(steps / 16); i++) {
        const s = `${c}-${i}`;
        const kind = rnd();
        if (kind < 0.03) { // open another wallet
          const id = await account(n, { flags: { debits_must_not_exceed_credits: true } }, toks.get(n));
          add(id, { dmnec: true, od: 0 });
          wallets.push(id);
        } else if (kind < 0.06) { // linked: A pays B, B pays C, all or nothing, in order
          const a = pick(wallets), b = pick(wallets), d = pick(wallets), v = 1 + Math.floor(rnd() * 2000);
          const batch = [
            { id: `mb${seed}-${s}-0`, entries: [entry(a, 'debit', cents(v)), entry(b, 'credit', cents(v))] },
            { id: `mb${seed}-${s}-1`, entries: [entry(b, 'debit', cents(v)), entry(d, 'credit', cents(v))] },
          ];
          const r = await call(n, 'POST', '/v1/core/postings:batch', { tok: toks.get(n), body: { postings: batch } });
          if (r.status === 201) {
            model.get(a).dp += v; model.get(b).cp += v; model.get(b).dp += v; model.get(d).cp += v;
            spent(a, v); spent(b, v);
            acked.push(batch[0].id, batch[1].id);
          } else {
            assert.ok(refused(r), r.text);
          }
        } else if (kind < 0.09) { // a hold that expires by itself
          const from = pick(wallets), v = 1 + Math.floor(rnd() * 500);
          const body = { id: `mx${seed}-${s}`, pending: true, expires_at: Math.floor(Date.now() / 1000) + 2, entries: [entry(from, 'debit', cents(v)), entry(treasury, 'credit', cents(v))] };
          const r = await post(n, body);
          if (r.status === 201) { model.get(from).dpend += v; model.get(treasury).cpend += v; spent(from, v); expiring.push({ id: body.id, from, v, at: body.expires_at }); } else assert.ok(refused(r), r.text);
        } else if (kind < 0.15) { // fund a wallet from the treasury
          const w = pick(wallets), v = 1 + Math.floor(rnd() * 5000);
          const body = { id: `m${seed}-${s}`, entries: [entry(treasury, 'debit', cents(v)), entry(w, 'credit', cents(v))] };
          const r = await post(n, body);
          assert.equal(r.status, 201, r.text);
          model.get(treasury).dp += v; model.get(w).cp += v;
          acked.push(body.id); postings.push({ id: body.id, legs: [[treasury, 'debit', v], [w, 'credit', v]] });
        } else if (kind < 0.55) { // pay between wallets with a fee to the hot account
          const from = pick(wallets), to = pick(wallets), v = 1 + Math.floor(rnd() * 3000), fee = 1 + Math.floor(rnd() * 50);
          const body = { id: `m${seed}-${s}`, entries: [entry(from, 'debit', cents(v + fee)), entry(to, 'credit', cents(v)), entry(hot, 'credit', cents(fee))] };
          const r = await post(n, body);
          // The answer must agree with the model at the moment the store decided, which for
          // concurrent clients is not now: check the outcome against the invariant instead.
          if (r.status === 201) {
            const a = model.get(from);
            a.dp += v + fee; model.get(to).cp += v; model.get(hot).cp += fee;
            spent(from, v + fee);
            acked.push(body.id);
            postings.push({ id: body.id, legs: [[from, 'debit', v + fee], [to, 'credit', v], [hot, 'credit', fee]] });
          } else {
            assert.ok(refused(r), r.text);
          }
          answers.set(body.id, { body, status: r.status });
        } else if (kind < 0.7) { // a hold
          const from = pick(wallets), v = 1 + Math.floor(rnd() * 2000);
          const body = { id: `m${seed}-${s}`, pending: true, entries: [entry(from, 'debit', cents(v)), entry(treasury, 'credit', cents(v))] };
          const r = await post(n, body);
          if (r.status === 201) { model.get(from).dpend += v; model.get(treasury).cpend += v; spent(from, v); holds.push({ id: body.id, from, v }); acked.push(body.id); } else assert.ok(refused(r), r.text);
        } else if (kind < 0.85 && holds.length) { // post (maybe partly) or void a hold
          const h = holds.splice(Math.floor(rnd() * holds.length), 1)[0];
          const part = rnd() < 0.5 ? h.v : 1 + Math.floor(rnd() * h.v);
          const doPost = rnd() < 0.6;
          const r = await call(n, 'POST', `/v1/core/postings/${h.id}/${doPost ? 'post' : 'void'}`, { tok: toks.get(n), body: doPost ? { amount: KES(cents(part)) } : undefined });
          assert.equal(r.status, 200, r.text);
          const a = model.get(h.from), t = model.get(treasury);
          a.dpend -= h.v; t.cpend -= h.v;
          if (doPost) { a.dp += part; t.cp += part; postings.push({ id: h.id, legs: [[h.from, 'debit', part], [treasury, 'credit', part]] }); }
        } else if (kind < 0.93 && postings.length) { // reverse an earlier posting (or posted hold), whole or in part
          const p = pick(postings);
          const total = p.legs.filter((l) => l[1] === 'debit').reduce((x, l) => x + l[2], 0);
          const part = rnd() < 0.5 ? 0 : 1 + Math.floor(rnd() * total);
          const r = await call(n, 'POST', `/v1/core/postings/${p.id}/reverse`, { tok: toks.get(n), body: part ? { id: `r${seed}-${s}`, amount: KES(cents(part)) } : { id: `r${seed}-${s}` } });
          if (r.status === 201) {
            // Balanced, of the amount asked, each leg the original's side swapped and its
            // cumulative reversal never past the leg; the model moves by the legs moved.
            p.done = p.done || p.legs.map(() => 0);
            let d = 0, c = 0;
            for (const e of r.json.entries) {
              const v = Math.round(Number(e.amount.value) * 100);
              const k = p.legs.findIndex((l, i) => l[0] === e.account && l[1] !== e.direction && p.done[i] + v <= l[2]);
              assert.ok(k >= 0, `${p.id}: leg ${JSON.stringify(e)} of ${JSON.stringify(p)}`);
              p.done[k] += v;
              if (e.direction === 'debit') { d += v; model.get(e.account).dp += v; } else { c += v; model.get(e.account).cp += v; }
            }
            assert.equal(d, c);
            assert.equal(d, part || total);
            acked.push(`r${seed}-${s}`);
          } else {
            assert.equal(r.status, 422, r.text);
            assert.ok(['insufficient_funds', 'reversal_exceeds_original'].includes(r.json.code), r.text);
          }
        } else if (answers.size) { // replay an earlier request: the same answer
          const [id, a] = pick([...answers.entries()]);
          const r = await post(n, a.body);
          assert.equal(r.status, a.status === 201 ? 200 : a.status, `${id}: ${r.text}`);
          assert.equal(r.headers.get('idempotent-replayed'), 'true');
        }
      }
    }
    await Promise.all(Array.from({ length: 16 }, (_, c) => client(c)));
    // The expiring holds: once past their time, each is void (by the sweep, or by this post,
    // which finds it expired), and its reservation released.
    const last = Math.max(0, ...expiring.map((h) => h.at));
    while (Math.floor(Date.now() / 1000) < last + 1) await new Promise((ok) => setTimeout(ok, 200));
    for (const h of expiring) {
      const r = await call(second, 'POST', `/v1/core/postings/${h.id}/post`, { tok: toks.get(second) });
      assert.equal(r.status, 409, r.text);
      assert.ok(['hold_expired', 'hold_not_pending'].includes(r.json.code), r.text);
      assert.equal((await call(nova, 'GET', '/v1/core/postings/' + h.id, { tok })).json.state, 'expired');
      model.get(h.from).dpend -= h.v; model.get(treasury).cpend -= h.v;
    }
    // No limit broken: within the day, every limited account's accepted outflows stay within
    // its limits (a run across midnight UTC starts a new day's usage: not checked then).
    if (new Date().toISOString().slice(0, 10) === day0) {
      for (const [id, l] of limits) {
        const o = out.get(id) || { n: 0, sum: 0, max: 0 };
        assert.ok(o.max <= l.per_transaction_max, `${id}: a posting of ${o.max} passed the limit ${l.per_transaction_max} (seed ${seed})`);
        if (l.daily_count < Infinity) assert.ok(o.n <= l.daily_count, `${id}: ${o.n} postings passed the daily count ${l.daily_count} (seed ${seed})`);
        if (l.daily_amount < Infinity) assert.ok(o.sum <= l.daily_amount, `${id}: ${o.sum} passed the daily amount ${l.daily_amount} (seed ${seed})`);
      }
      // The store counts the same usage: /limits/check answers the remaining count.
      for (const [id, l] of limits) {
        const ck = await call(second, 'POST', '/v1/core/limits/check', { tok: toks.get(second), body: { account: id, amount: KES('0.01') } });
        assert.equal(ck.status, 200, ck.text);
        assert.equal(ck.json.remaining_count, l.daily_count - (out.get(id)?.n ?? 0), `${id}: ${ck.text} (seed ${seed})`);
      }
    }
    // The fees: a novad two days ahead runs "tomorrow" by itself; each member pays 0.50 once,
    // exactly when the model says it can (nothing else moves now), else it is skipped.
    const day = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
    const charged = new Map();
    const ahead = await startNova(faketime(), { shareWith: nova });
    try {
      let runs = [];
      for (let i = 0; i < 300 && runs.length === 0; i++) {
        const l = await call(nova, 'GET', `/v1/audit?limit=200&action=ledger.accrual.run`, { tok: toks.get(nova) });
        runs = (l.json?.entries || []).filter((e) => e.target === 'accrual:' + day);
        if (!runs.length) await new Promise((ok) => setTimeout(ok, 200));
      }
      assert.equal(runs.length, 1, `the daily run of ${day} (seed ${seed})`);
      let posted = 0;
      for (const w of members) {
        const g = await call(nova, 'GET', `/v1/core/postings/fee:${feeProduct}:${w}:${day}`, { tok });
        const m = model.get(w);
        if (fits(m, feeAmount) && m.cp - m.dp >= feeAmount) {
          assert.equal(g.status, 200, `${w} could pay its fee: ${g.text} (seed ${seed})`);
          assert.deepEqual(g.json.entries.map((x) => [x.account, x.direction, x.amount.value]), [[w, 'debit', cents(feeAmount)], [feeIncome, 'credit', cents(feeAmount)]]);
          assert.equal(g.json.purpose, 'fee');
          m.dp += feeAmount; model.get(feeIncome).cp += feeAmount;
          charged.set(w, feeAmount);
          posted++;
        } else {
          assert.equal(g.status, 404, `${w} could not pay its fee: ${g.text} (seed ${seed})`);
        }
      }
      assert.equal(runs[0].attrs.fees_skipped, members.length - posted, JSON.stringify(runs[0].attrs));
      console.log(`# ledger model: ${byLimits} postings refused by limits, ${posted} of ${members.length} daily fees posted (seed ${seed})`);
    } finally {
      await ahead.stop();
    }
    // Every account against the model; no flag or overdraft line broken; all sums zero.
    let net = 0;
    for (const [id, m] of model) {
      const b = await balances(nova, id);
      const got = ['debits_posted', 'credits_posted', 'debits_pending', 'credits_pending'].map((k) => Math.round(Number(b[k].value) * 100));
      assert.deepEqual(got, [m.dp, m.cp, m.dpend, m.cpend], `account ${id} (seed ${seed})`);
      assert.ok(fits(m, 0), `account ${id} broke its rule (seed ${seed})`);
      net += m.cp - m.dp;
    }
    assert.equal(net, 0, `KES does not sum to zero (seed ${seed})`);
    // Statements reconcile with the balances: from the start to now, for every wallet.
    for (const w of wallets) {
      const st = await call(second, 'POST', '/v1/core/statements', { tok: toks.get(second), body: { account: w, from: 0, to: Math.floor(Date.now() / 1000) + 5, limit: 1000 } });
      assert.equal(st.status, 200, st.text);
      const m = model.get(w);
      // A fee is dated by its novad's clock, two days on: after the statement's end (now).
      assert.equal(Math.round(Number(st.json.closing_balance.value) * 100), m.cp - m.dp + (charged.get(w) || 0), `statement of ${w} (seed ${seed})`);
      const last = st.json.entries.at(-1);
      if (last && !st.json.next_cursor) assert.deepEqual(last.balance_after, st.json.closing_balance);
    }
    // Acknowledged postings are all readable from the other process.
    for (const id of acked.slice(0, 50)) assert.equal((await call(second, 'GET', '/v1/core/postings/' + id, { tok: toks.get(second) })).status, 200);
  } finally {
    await second.stop();
  }
});

test('crash: kill -9 under load, restart: every acknowledged posting is there, none partial', async () => {
  const store = await startNova({}, { shareWith: nova });
  const crashTok = await token(store, ten);
  const { treasury, wallet } = await funded(nova, '0');
  const acked = new Set();
  let stop = false;
  const load = Array.from({ length: 16 }, async (_, c) => {
    for (let i = 0; !stop; i++) {
      const id = `crash-${c}-${i}-${randomBytes(3).toString('hex')}`;
      try {
        const r = await call(store, 'POST', '/v1/core/postings', {
          tok: crashTok, body: { id, entries: [entry(treasury, 'debit', '1.00'), entry(wallet, 'credit', '0.75'), entry(treasury, 'credit', '0.25')] },
        });
        if (r.status === 201) acked.add(id);
      } catch { return; } // the connection died with the process
    }
  });
  await new Promise((ok) => setTimeout(ok, 1500));
  store.proc.kill('SIGKILL');
  stop = true;
  await Promise.all(load);
  await store.stop();
  assert.ok(acked.size > 20, `only ${acked.size} postings acknowledged before the kill`);
  // A restarted process on the same store (the first one never stopped reading it).
  const again = await startNova({}, { shareWith: nova });
  try {
    const t2 = await token(again, ten);
    for (const id of acked) {
      const r = await call(again, 'GET', '/v1/core/postings/' + id, { tok: t2 });
      assert.equal(r.status, 200, `acknowledged ${id} lost`);
      assert.equal(r.json.entries.length, 3);
    }
    // None partial: the wallet's total is exactly 0.75 per posting that is there, and every
    // posting that is there (acknowledged or not) has its three entries.
    const seen = [];
    let cursor = null;
    do {
      const p = await call(again, 'GET', `/v1/core/accounts/${wallet}/postings?limit=500${cursor ? '&cursor=' + cursor : ''}`, { tok: t2 });
      seen.push(...p.json.entries);
      cursor = p.json.next_cursor;
    } while (cursor);
    for (const e of seen) assert.equal((await call(again, 'GET', '/v1/core/postings/' + e.posting, { tok: t2 })).json.entries.length, 3);
    const b = await balances(again, wallet, t2);
    assert.equal(Math.round(Number(b.credits_posted.value) * 100), seen.length * 75);
    assert.ok(seen.length >= acked.size);
    const tb = await balances(again, treasury, t2);
    assert.equal(Math.round(Number(tb.debits_posted.value) * 100) - Math.round(Number(tb.credits_posted.value) * 100), seen.length * 75);
  } finally {
    await again.stop();
  }
});
