-- 0012_ledger: the core ledger (issue 8). Accounts carry their running totals (posted and
-- pending debits and credits, TigerBeetle's four balances) so a balance is one row read and
-- a posting one conditional row update per account; entries are written once and never
-- edited; postings keep the request's fingerprint and the reply they got, for idempotency.
-- Amounts are integers in the account currency's minor units; times unix seconds.
CREATE TABLE ledger_accounts (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    currency TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'frozen', 'closed')),
    flags BIGINT NOT NULL DEFAULT 0,
    overdraft_limit BIGINT NOT NULL DEFAULT 0,
    overdraft_expires_at BIGINT NOT NULL DEFAULT 0,
    overdraft_rate TEXT NOT NULL DEFAULT '',
    kyc_tier TEXT NOT NULL DEFAULT '',
    owner_ref TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}',
    product TEXT NOT NULL DEFAULT '',
    debits_posted BIGINT NOT NULL DEFAULT 0,
    credits_posted BIGINT NOT NULL DEFAULT 0,
    debits_pending BIGINT NOT NULL DEFAULT 0,
    credits_pending BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- kind: 'posting' (single-phase or a hold) or 'reversal' (parent_id: the original).
-- state: 'posted', 'pending' (a hold), 'voided', 'expired', or 'failed' (refused; the reply
-- is kept so the same id keeps failing the same way). amount_total: the posting's debits,
-- against which reversed (the reversals' total) and a hold's posted part are bounded.
CREATE TABLE ledger_postings (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('posting', 'reversal')),
    state TEXT NOT NULL CHECK (state IN ('posted', 'pending', 'voided', 'expired', 'failed')),
    digest TEXT NOT NULL,
    request TEXT NOT NULL,
    result TEXT NOT NULL DEFAULT '',
    http_status BIGINT NOT NULL DEFAULT 201,
    parent_id TEXT NOT NULL DEFAULT '',
    amount_total BIGINT NOT NULL DEFAULT 0,
    reversed BIGINT NOT NULL DEFAULT 0,
    posted_amount BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL DEFAULT 0,
    actor TEXT NOT NULL,
    audit_id TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    resolved_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ledger_postings_due_idx ON ledger_postings (state, expires_at)
    WHERE state = 'pending' AND expires_at > 0;

-- One row per entry. pending 1: a hold's reservation (counted in the pending totals while
-- the hold is pending); 0: a posted entry. seq orders a posting's entries (a hold's posted
-- part starts at 100). ord: a store-wide increasing number, the order of statements.
CREATE TABLE ledger_entries (
    ord BIGSERIAL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    posting_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    account_id TEXT NOT NULL,
    credit BIGINT NOT NULL CHECK (credit IN (0, 1)),
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    pending BIGINT NOT NULL CHECK (pending IN (0, 1)),
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, posting_id, seq)
);
CREATE INDEX ledger_entries_account_idx ON ledger_entries (tenant_id, account_id, ord);

-- Limits (tenant configuration): scope 'tier:<kyc tier>' or 'account:<id>'; amounts in minor
-- units of currency, 0 for none. An account's outflows are counted per UTC day, ISO week and
-- month in ledger_limit_usage (period 'd2026-12-01', 'w2026-11-30', 'm2026-12'), in the
-- posting's own transaction.
CREATE TABLE ledger_limits (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    scope TEXT NOT NULL,
    currency TEXT NOT NULL,
    per_transaction_max BIGINT NOT NULL DEFAULT 0,
    daily_amount BIGINT NOT NULL DEFAULT 0,
    daily_count BIGINT NOT NULL DEFAULT 0,
    weekly_amount BIGINT NOT NULL DEFAULT 0,
    weekly_count BIGINT NOT NULL DEFAULT 0,
    monthly_amount BIGINT NOT NULL DEFAULT 0,
    monthly_count BIGINT NOT NULL DEFAULT 0,
    balance_ceiling BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, scope)
);

CREATE TABLE ledger_limit_usage (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    account_id TEXT NOT NULL,
    period TEXT NOT NULL,
    amount BIGINT NOT NULL DEFAULT 0,
    count BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, account_id, period)
);

-- Savings and overdraft products (tenant configuration): an annual rate (decimal string), a
-- day-count convention, a minimum balance, the interest account (pays savings interest,
-- receives overdraft interest) and the account it accrues in until the month ends. Accounts
-- name theirs in ledger_accounts.product.
CREATE TABLE ledger_products (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('savings', 'overdraft')),
    currency TEXT NOT NULL,
    rate TEXT NOT NULL,
    day_count TEXT NOT NULL,
    min_balance BIGINT NOT NULL DEFAULT 0,
    interest_account TEXT NOT NULL,
    accrual_account TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ledger_accounts_product_idx ON ledger_accounts (tenant_id, product, id);

ALTER TABLE ledger_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ledger_accounts
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE ledger_postings ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_postings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ledger_postings
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE ledger_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ledger_entries
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE ledger_limits ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_limits FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ledger_limits
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE ledger_limit_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_limit_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ledger_limit_usage
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');

ALTER TABLE ledger_products ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_products FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ledger_products
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
