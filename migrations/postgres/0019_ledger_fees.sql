-- 0019_ledger_fees: an account fee on savings and overdraft products (issue 8 item 9): each
-- member account pays fee_amount (minor units; 0: no fee) once per fee_period ('monthly')
-- into fee_account, posted by the daily run as "fee:<product>:<account>:<YYYY-MM>". The
-- table's row-level security (0012) covers the new columns.
ALTER TABLE ledger_products ADD COLUMN fee_amount BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ledger_products ADD COLUMN fee_period TEXT NOT NULL DEFAULT '';
ALTER TABLE ledger_products ADD COLUMN fee_account TEXT NOT NULL DEFAULT '';
