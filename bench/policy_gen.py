#!/usr/bin/env python3
"""bench/policy_gen.py: a banking-shaped tenant for the policy bench (issue 7 item 11).

    python3 bench/policy_gen.py OUT_DIR STORE_ID TENANT_ID [TUPLES]

Writes into OUT_DIR, deterministically (seeded):
  model.fga      the model (modeling language): users, groups nested 5 deep, org units in
                 parent chains 10 deep, merchants, accounts, one condition
  tuples.tsv     TUPLES (default 1,000,000) rows in fga_tuples' column order, ready for
                 sqlite3 .import: store_id, tenant_id, object, relation, user, condition_name,
                 condition_context, ulid, created_at; 10% carry the condition
  tuples.csv     the same tuples as object,relation,user,condition,context for other engines
  shape.json     how many of each (units are the list-objects candidates)
  checks.tsv     10,000 checks: object, relation, user, context JSON ("" for none), expected
                 answer by construction (1, 0 or ? when the generator does not know it)
"""
import json
import os
import random
import sys

MODEL = """model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type unit
  relations
    define parent: [unit]
    define manager: [user, group#member] or manager from parent
type merchant
  relations
    define unit: [unit]
    define staff: [user, group#member]
    define operator: staff or manager from unit
type account
  relations
    define unit: [unit]
    define owner: [user, user with not_expired]
    define viewer: owner or manager from unit
    define mover: owner
condition not_expired(current_time: timestamp, expires_at: timestamp) {
  current_time < expires_at
}
"""

DEPTH, GROUP_DEPTH = 10, 5  # org-unit parent chains 10 deep, groups nested 5 deep
CONTEXT = '{"expires_at":"2030-01-01T00:00:00Z"}'


def main():
    out, store, tenant = sys.argv[1], sys.argv[2], sys.argv[3]
    total = int(sys.argv[4]) if len(sys.argv) > 4 else 1_000_000
    # at 1e6: 1000 unit chains (10,000 units), 400 group chains, 50,000 merchants, 200,000
    # customers; smaller tenants (the smoke) scale down with the same shape
    global CHAINS, GROUP_CHAINS, MERCHANTS, CUSTOMERS
    CHAINS = max(10, min(1000, total // 1000))
    GROUP_CHAINS = max(4, min(400, total // 2500))
    MERCHANTS, CUSTOMERS = max(10, total // 20), max(50, total // 5)
    rnd = random.Random(7)
    rows = []  # (object, relation, user, condition)
    seen = set()

    def add(o, r, u, cond=False):
        if (o, r, u) not in seen:  # a tuple is written once
            seen.add((o, r, u))
            rows.append((o, r, u, cond))

    units = [f"unit:u{c}_{d}" for c in range(CHAINS) for d in range(DEPTH)]
    for c in range(CHAINS):
        for d in range(1, DEPTH):
            add(f"unit:u{c}_{d}", "parent", f"unit:u{c}_{d - 1}")
    groups = [[f"group:g{c}_{d}" for d in range(GROUP_DEPTH)] for c in range(GROUP_CHAINS)]
    for chain in groups:
        for d in range(1, GROUP_DEPTH):
            add(chain[d - 1], "member", chain[d] + "#member")  # deeper groups are members
    # managers of each chain's root: a group (the deepest of a chain) or a user
    for c in range(CHAINS):
        if c % 2:
            add(f"unit:u{c}_0", "manager", groups[c % GROUP_CHAINS][0] + "#member")
        else:
            add(f"unit:u{c}_0", "manager", f"user:m{c}")
    for i in range(MERCHANTS):
        add(f"merchant:x{i}", "unit", units[rnd.randrange(len(units))])
        add(f"merchant:x{i}", "staff", groups[i % GROUP_CHAINS][0] + "#member")
        add(f"merchant:x{i}", "staff", f"user:s{i}")
    fixed = len(rows)
    # accounts take what is left but the group members: two tuples each, a tenth conditional
    members = CUSTOMERS // 2
    n_accounts = (total - fixed - members) // 2
    assert n_accounts > total // 10, "too few tuples for this shape"
    for i in range(n_accounts):
        add(f"account:a{i}", "unit", units[rnd.randrange(len(units))])
        add(f"account:a{i}", "owner", f"user:c{i % CUSTOMERS}", cond=(i % 10 == 0) and (len(rows) < total))
    k = 0
    while len(rows) < total:
        chain = groups[k % GROUP_CHAINS]
        add(chain[GROUP_DEPTH - 1], "member", f"user:c{rnd.randrange(CUSTOMERS)}")
        k += 1
    # exactly a tenth conditional: top up with conditional owners (rewrite some plain ones)
    want = total // 10
    have = sum(1 for r in rows if r[3])
    i = 1
    while have < want and fixed + 2 * i + 1 < len(rows):
        idx = fixed + 2 * i + 1
        if idx < len(rows) and rows[idx][1] == "owner" and not rows[idx][3]:
            rows[idx] = (rows[idx][0], rows[idx][1], rows[idx][2], True)
            have += 1
        i += 1
    assert len(rows) == total and have == want, (len(rows), have, want)

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "shape.json"), "w") as f:
        json.dump({"tuples": total, "units": CHAINS * DEPTH, "unit_chains": CHAINS,
                   "groups": GROUP_CHAINS * GROUP_DEPTH, "merchants": MERCHANTS,
                   "accounts": n_accounts, "customers": CUSTOMERS, "conditional": want}, f)
    with open(os.path.join(out, "model.fga"), "w") as f:
        f.write(MODEL)
    with open(os.path.join(out, "tuples.tsv"), "w") as f, open(os.path.join(out, "tuples.csv"), "w") as g:
        for n, (o, r, u, cond) in enumerate(rows):
            cn, cc = ("not_expired", CONTEXT) if cond else ("", "")
            f.write(f"{store}\t{tenant}\t{o}\t{r}\t{u}\t{cn}\t{cc}\t{n:026d}\t0\n")
            g.write(f"{o},{r},{u},{cn},{cc.replace(',', ';')}\n")
    ctx = '{"current_time":"2026-06-01T00:00:00Z"}'
    with open(os.path.join(out, "checks.tsv"), "w") as f:
        for q in range(10_000):
            kind = q % 5
            if kind == 0:  # an owner views their account (direct, maybe conditional)
                i = rnd.randrange(n_accounts)
                f.write(f"account:a{i}\tviewer\tuser:c{i % CUSTOMERS}\t{ctx}\t1\n")
            elif kind == 1:  # a root manager views an account through the 10-deep chain
                c = rnd.randrange(0, CHAINS, 2)
                i = rnd.randrange(n_accounts)
                f.write(f"account:a{i}\tviewer\tuser:m{c}\t{ctx}\t?\n")
            elif kind == 2:  # merchant staff through groups nested 5 deep
                i = rnd.randrange(MERCHANTS)
                f.write(f"merchant:x{i}\toperator\tuser:s{i}\t\t1\n")
            elif kind == 3:  # a stranger
                i = rnd.randrange(n_accounts)
                f.write(f"account:a{i}\tmover\tuser:nobody{q}\t{ctx}\t0\n")
            else:  # a group member operating a merchant (5-deep group chain)
                i = rnd.randrange(MERCHANTS)
                f.write(f"merchant:x{i}\toperator\tuser:c{rnd.randrange(CUSTOMERS)}\t\t?\n")


if __name__ == "__main__":
    main()
