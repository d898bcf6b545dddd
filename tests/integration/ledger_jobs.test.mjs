// The ledger's background work on novad's one scheduler (issue 8), on SQLite or
// (NOVA_TEST_DATABASE_URL) PostgreSQL: the hold-expiry job voids an expired hold with no
// request touching it (funds available again, audited), and the daily run: two more novads on
// the same store, their clocks two days ahead under libfaketime (so "yesterday" for them is a
// day whose balances this test made), each run that day by themselves; every accrual posting
// exists once, the two runs together post it once (the second replays).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startNova, makeTenant, token, call, faketime } from './lib.mjs';

let nova, ten, tok, other, otherTok;
const uid = (p) => `${p}_${randomBytes(6).toString('hex')}`;

before(async () => {
  nova = await startNova({ NOVA_LEDGER_SWEEP_MS: '300' });
  ten = makeTenant(nova, uid('jobs'), 'ledger:read ledger:write audit:read');
  tok = await token(nova, ten);
  other = makeTenant(nova, uid('jobs-other'), 'ledger:read ledger:write audit:read');
  otherTok = await token(nova, other);
});
after(async () => {
  for (const s of [ten.secret, tok, other.secret, otherTok]) assert.ok(!nova.logs().includes(s), 'a secret reached the log');
  await nova.stop();
});

const KES = (value) => ({ currency: 'KES', value });
const entry = (account, direction, value) => ({ account, direction, amount: KES(value) });
const post = (n, body, t = tok) => call(n, 'POST', '/v1/core/postings', { tok: t, body });
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

async function account(n, body, t = tok) {
  const r = await call(n, 'POST', '/v1/core/accounts', { tok: t, body: { currency: 'KES', type: 'customer_wallet', ...body } });
  assert.equal(r.status, 201, r.text);
  return r.json.id;
}
async function balances(id, t = tok) {
  const r = await call(nova, 'GET', `/v1/core/accounts/${id}/balances`, { tok: t });
  assert.equal(r.status, 200, r.text);
  return r.json;
}
async function audit(t = tok) {
  const out = [];
  let cursor = null;
  do {
    const r = await call(nova, 'GET', `/v1/audit?limit=200${cursor ? '&cursor=' + cursor : ''}`, { tok: t });
    assert.equal(r.status, 200, r.text);
    out.push(...r.json.entries);
    cursor = r.json.next_cursor;
  } while (cursor);
  return out;
}
// Waits (no time bound asserted: up to 60 s, then the assertion below fails) until pred holds
// on the tenant's audit log, reading nothing but the audit log meanwhile.
async function auditUntil(pred, t = tok) {
  let log = [];
  for (let i = 0; i < 300; i++) {
    log = await audit(t);
    if (pred(log)) return log;
    await sleep(200);
  }
  return log;
}

test('hold expiry: the scheduler voids an expired hold with no request touching it; funds available, audited', async () => {
  const treasury = await account(nova, { type: 'treasury' });
  const wallet = await account(nova, { flags: { debits_must_not_exceed_credits: true } });
  assert.equal((await post(nova, { id: uid('fund'), entries: [entry(treasury, 'debit', '10.00'), entry(wallet, 'credit', '10.00')] })).status, 201);
  const hold = { id: uid('hold'), pending: true, expires_at: Math.floor(Date.now() / 1000) + 2, entries: [entry(wallet, 'debit', '6.00'), entry(treasury, 'credit', '6.00')] };
  const keep = { id: uid('hold'), pending: true, entries: [entry(wallet, 'debit', '1.00'), entry(treasury, 'credit', '1.00')] };
  assert.equal((await post(nova, hold)).status, 201);
  assert.equal((await post(nova, keep)).status, 201);
  let b = await balances(wallet);
  assert.deepEqual([b.held, b.available], [KES('7.00'), KES('3.00')]);
  // From here until the expiry is in the audit log, only the audit log is read.
  const log = await auditUntil((l) => l.some((e) => e.action === 'ledger.hold.expire' && e.target === 'posting:' + hold.id));
  const x = log.filter((e) => e.action === 'ledger.hold.expire' && e.target === 'posting:' + hold.id);
  assert.equal(x.length, 1, 'the expiry is audited once');
  assert.equal(x[0].actor, 'system');
  assert.ok(!log.some((e) => e.target === 'posting:' + keep.id && e.action !== 'ledger.posting.create'), 'a hold without expires_at is left alone');
  b = await balances(wallet);
  assert.deepEqual([b.held, b.available, b.debits_pending, b.debits_posted], [KES('1.00'), KES('9.00'), KES('1.00'), KES('0.00')]);
  const g = await call(nova, 'GET', '/v1/core/postings/' + hold.id, { tok });
  assert.equal(g.json.state, 'expired');
  assert.equal((await call(nova, 'GET', '/v1/core/postings/' + keep.id, { tok })).json.state, 'pending');
  // The funds are usable again: 9.00 goes out, 9.01 would not.
  assert.equal((await post(nova, { id: uid('p'), entries: [entry(wallet, 'debit', '9.01'), entry(treasury, 'credit', '9.01')] })).json.code, 'insufficient_funds');
  assert.equal((await post(nova, { id: uid('p'), entries: [entry(wallet, 'debit', '9.00'), entry(treasury, 'credit', '9.00')] })).status, 201);
  assert.equal((await call(nova, 'POST', `/v1/core/postings/${hold.id}/post`, { tok })).status, 409);
  assert.equal((await call(nova, 'POST', `/v1/core/postings/${keep.id}/void`, { tok })).status, 200);
});

test('the daily run: two novads run yesterday by themselves; each accrual is posted once, the second run replays it', async () => {
  const expense = await account(nova, { type: 'fees' });
  const accrued = await account(nova, { type: 'suspense' });
  const treasury = await account(nova, { type: 'treasury' });
  const pid = uid('save');
  const income = await account(nova, { type: 'fees' });
  const fee = { amount: KES('2.50'), period: 'monthly', account: income };
  const p = await call(nova, 'PUT', `/v1/core/products/${pid}`, { tok, body: { kind: 'savings', currency: 'KES', rate: '0.0365', day_count: 'ACT/365', interest_account: expense, accrual_account: accrued, fee } });
  assert.equal(p.status, 200, p.text);
  assert.deepEqual(p.json.fee, fee);
  const saver = await account(nova, { type: 'savings', product: pid, flags: { debits_must_not_exceed_credits: true } });
  // A member account that cannot pay the fee: refused, skipped and reported, nothing written.
  const poor = await account(nova, { type: 'savings', product: pid, flags: { debits_must_not_exceed_credits: true } });
  assert.equal((await post(nova, { id: uid('fund'), entries: [entry(treasury, 'debit', '1000000.00'), entry(saver, 'credit', '1000000.00')] })).status, 201);
  // The other tenant has no product: the runs pass over it in silence.
  const day = new Date(Date.now() + 86400000).toISOString().slice(0, 10); // "yesterday" two days on
  const ahead = [];
  try {
    ahead.push(await startNova(faketime(), { shareWith: nova }));
    ahead.push(await startNova(faketime(), { shareWith: nova }));
    const runs = (l) => l.filter((e) => e.action === 'ledger.accrual.run' && e.target === 'accrual:' + day);
    const log = await auditUntil((l) => runs(l).length >= 2);
    const r = runs(log);
    assert.equal(r.length, 2, 'each novad ran the day once');
    for (const e of r) assert.equal(e.actor, 'system');
    // Together the two runs posted the interest and the saver's fee once; each refused poor's.
    const attrs = r.map((e) => e.attrs);
    assert.equal(attrs[0].posted + attrs[1].posted, 2, JSON.stringify(attrs));
    assert.equal(attrs[0].replayed + attrs[1].replayed, 2, JSON.stringify(attrs));
    assert.deepEqual(attrs.map((x) => [x.accounts, x.failed, x.fees_skipped]), [[2, 1, 1], [2, 1, 1]]);
    const fees = log.filter((e) => e.action === 'ledger.posting.create' && e.target.startsWith(`posting:fee:${pid}:`));
    assert.deepEqual(fees.map((e) => e.target), [`posting:fee:${pid}:${saver}:${day.slice(0, 7)}`]);
    const fp = await call(nova, 'GET', `/v1/core/postings/fee:${pid}:${saver}:${day.slice(0, 7)}`, { tok });
    assert.deepEqual(fp.json.entries.map((x) => [x.account, x.direction, x.amount.value]), [[saver, 'debit', '2.50'], [income, 'credit', '2.50']]);
    assert.equal(fp.json.purpose, 'fee');
    assert.equal((await call(nova, 'GET', `/v1/core/postings/fee:${pid}:${poor}:${day.slice(0, 7)}`, { tok })).status, 404);
    assert.deepEqual([(await balances(saver)).ledger, (await balances(poor)).ledger, (await balances(income)).ledger], [KES('999997.50'), KES('0.00'), KES('2.50')]);
    const created = log.filter((e) => e.action === 'ledger.posting.create' && e.target.startsWith(`posting:accrue:${pid}:`));
    assert.equal(created.length, 1, 'the accrual is posted once');
    assert.equal(created[0].target, `posting:accrue:${pid}:${saver}:${day}`);
    const g = await call(nova, 'GET', `/v1/core/postings/accrue:${pid}:${saver}:${day}`, { tok });
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json.state, 'posted');
    // KES 1,000,000.00 at 3.65 % ACT/365: KES 100.00 a day; the run for day crosses it.
    assert.deepEqual(g.json.entries.map((x) => [x.account, x.direction, x.amount.value]), [[expense, 'debit', '100.00'], [accrued, 'credit', '100.00']]);
    assert.equal((await audit(otherTok)).filter((e) => e.action === 'ledger.accrual.run').length, 0);
  } finally {
    for (const n of ahead) await n.stop();
  }
});

test("account fees: the product's fee is validated, naming the field; tenants apart", async () => {
  const expense = await account(nova, { type: 'fees' });
  const accrued = await account(nova, { type: 'suspense' });
  const income = await account(nova, { type: 'fees' });
  const ugx = await account(nova, { type: 'fees', currency: 'UGX' });
  const theirs = await account(nova, { type: 'fees' }, otherTok);
  const good = { kind: 'overdraft', currency: 'KES', rate: '0.20', day_count: 'ACT/360', interest_account: expense, accrual_account: accrued, fee: { amount: KES('1.00'), period: 'monthly', account: income } };
  const pid = uid('od');
  const put = (body) => call(nova, 'PUT', `/v1/core/products/${pid}`, { tok, body });
  for (const [fee, field] of [
    [null, '/fee'], ['monthly', '/fee'], [{ ...good.fee, extra: 1 }, '/fee'],
    [{ ...good.fee, amount: KES('0.00') }, '/fee/amount'], [{ ...good.fee, amount: KES('1.001') }, '/fee/amount/value'],
    [{ ...good.fee, amount: { currency: 'UGX', value: '100' } }, '/fee/amount/currency'], [{ ...good.fee, amount: undefined }, '/fee/amount'],
    [{ ...good.fee, period: 'fortnightly' }, '/fee/period'], [{ ...good.fee, period: 'Weekly' }, '/fee/period'], [{ ...good.fee, period: undefined }, '/fee'],
    [{ ...good.fee, account: 'no such' }, '/fee/account'], [{ ...good.fee, account: 'nope' }, '/fee/account'],
    [{ ...good.fee, account: ugx }, '/fee/account'], [{ ...good.fee, account: theirs }, '/fee/account'],
  ]) {
    const x = await put({ ...good, fee });
    assert.equal(x.status, 422, `${JSON.stringify(fee)}: ${x.text}`);
    assert.ok(x.json.detail.startsWith(field + ':') || x.json.detail.startsWith(field + '/'), `${JSON.stringify(fee)}: ${x.json.detail}`);
  }
  // Every period the product model knows is kept as given (ledger_test charges each once per period).
  for (const period of ['daily', 'weekly', 'quarterly', 'annual']) {
    const x = await put({ ...good, fee: { ...good.fee, period } });
    assert.equal(x.status, 200, x.text);
    assert.equal(x.json.fee.period, period);
  }
  const ok = await put(good);
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.json.fee, good.fee);
  assert.deepEqual((await call(nova, 'GET', `/v1/core/products/${pid}`, { tok })).json.fee, good.fee);
  // Without a fee the member is absent; the change is audited.
  const { fee: _, ...noFee } = good;
  const again = await put(noFee);
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.fee, undefined);
  assert.ok((await audit()).filter((e) => e.action === 'ledger.product.set' && e.target === 'product:' + pid).length === 6, 'each change audited');
});

test("interest periods: interest_period is validated as a 422 problem naming it, kept as given, monthly by default", async () => {
  const expense = await account(nova, { type: 'fees' });
  const accrued = await account(nova, { type: 'suspense' });
  const base = { kind: 'savings', currency: 'KES', rate: '0.05', day_count: 'ACT/365', interest_account: expense, accrual_account: accrued };
  const pid = uid('ip');
  const put = (body) => call(nova, 'PUT', `/v1/core/products/${pid}`, { tok, body });
  for (const bad of ['fortnightly', 'Monthly', '', 7, null, ['daily'], { period: 'daily' }]) {
    const x = await put({ ...base, interest_period: bad });
    assert.equal(x.status, 422, `${JSON.stringify(bad)}: ${x.text}`);
    assert.match(x.headers.get('content-type'), /^application\/problem\+json/);
    assert.equal(x.json.code, 'invalid_field');
    assert.ok(x.json.detail.startsWith('/interest_period:'), x.json.detail);
    assert.match(x.json.detail, /"daily", "weekly", "monthly", "quarterly" or "annual"/);
  }
  // Nothing was written by the refusals.
  assert.equal((await call(nova, 'GET', `/v1/core/products/${pid}`, { tok })).status, 404);
  const dflt = await put(base);
  assert.equal(dflt.status, 200, dflt.text);
  assert.equal(dflt.json.interest_period, 'monthly');
  for (const period of ['daily', 'weekly', 'monthly', 'quarterly', 'annual']) {
    const x = await put({ ...base, interest_period: period });
    assert.equal(x.status, 200, x.text);
    assert.equal(x.json.interest_period, period);
    assert.equal((await call(nova, 'GET', `/v1/core/products/${pid}`, { tok })).json.interest_period, period);
  }
});
