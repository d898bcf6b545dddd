-- 0027_ledger_interest_legs (issue 8 items 5 and 9).
-- interest_period: when a product pays out (savings) or charges (overdraft) the interest it
-- accrued: 'daily', 'weekly' (ISO weeks from Monday), 'monthly' (as before this column),
-- 'quarterly' or 'annual', UTC; the periods fees have (0019's fee_period).
ALTER TABLE ledger_products ADD COLUMN interest_period TEXT NOT NULL DEFAULT 'monthly';
-- reversed_legs: once a reversal of this posting named legs, what of each of its legs the
-- reversals took (a JSON array of minor units, one per entry); NULL while none did. Until now
-- that vector lived in a bookkeeping row of its own, id '<posting>#legs' (kind 'reversal',
-- parent_id the posting, digest '', the array in request): moved here, then those rows go.
-- No client id holds '#', so only such rows match.
ALTER TABLE ledger_postings ADD COLUMN reversed_legs TEXT;
UPDATE ledger_postings SET reversed_legs = (
    SELECT l.request FROM ledger_postings l
    WHERE l.tenant_id = ledger_postings.tenant_id AND l.id = ledger_postings.id || '#legs'
      AND l.parent_id = ledger_postings.id AND l.digest = '')
WHERE (tenant_id, id) IN (
    SELECT tenant_id, parent_id FROM ledger_postings
    WHERE id = parent_id || '#legs' AND kind = 'reversal' AND digest = '');
DELETE FROM ledger_postings
WHERE id = parent_id || '#legs' AND kind = 'reversal' AND digest = '';
