-- 0021_idv_prices: a tenant's price list for the verification gateway (issue 9 item 7): the
-- units one executed check of each kind costs, where the built-in price does not apply. A step
-- is billed at the price in force when it ran (idv_usage.units), so a change applies forward.
CREATE TABLE idv_prices (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    check_name TEXT NOT NULL,
    units BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, check_name)
);

ALTER TABLE idv_prices ENABLE ROW LEVEL SECURITY;
ALTER TABLE idv_prices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idv_prices
    USING (tenant_id = current_setting('nova.tenant_id', true)
           OR current_setting('nova.tenant_id', true) = '*');
