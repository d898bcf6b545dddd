#!/usr/bin/env python3
# bench/route_setup.py BASE CLIENT_JSON: for bench/dpop_cpu.sh's decision-point rounds, sets up
# one tenant's route under policy: a token for the client (ledger, fga and policy scopes), an
# account, a relationship store granting the client viewer on it, and a published (not yet
# promoted) policy whose http.routes map GET /v1/core/accounts/{id} to a relation check plus
# two CEL rules, and a person (a user with the teller role and the viewer relation on the
# account, signing in with a password) for the same route decided as user:<id>.
# Prints "TOKEN ACCOUNT_ID POLICY_VERSION TENANT_ID".
import base64
import json
import sys
import urllib.request

base, client = sys.argv[1], json.loads(sys.argv[2])


def call(method, path, tok=None, body=None, form=None):
    h, data = {}, None
    if form is not None:
        data = form.encode()
        h["content-type"] = "application/x-www-form-urlencoded"
        h["authorization"] = "Basic " + base64.b64encode(
            f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    else:
        h["authorization"] = "Bearer " + tok
        if body is not None:
            data = json.dumps(body).encode()
            h["content-type"] = "application/json"
    with urllib.request.urlopen(urllib.request.Request(base + path, data, h, method=method)) as r:
        return json.load(r)


tok = call("POST", "/oauth/token", form="grant_type=client_credentials")["access_token"]
acct = call("POST", "/v1/core/accounts", tok, {"currency": "KES", "type": "customer_wallet"})["id"]
store = call("POST", "/stores", tok, {"name": "bench-routes"})["id"]
model = call("POST", f"/stores/{store}/authorization-models", tok, {
    "schema_version": "1.1",
    "type_definitions": [{"type": "client"}, {"type": "user"}, {
        "type": "account", "relations": {"viewer": {"this": {}}},
        "metadata": {"relations": {"viewer": {"directly_related_user_types": [
            {"type": "client"}, {"type": "user"}]}}},
    }],
})["authorization_model_id"]
user = call("POST", "/v1/users", tok, {"email": "bench.teller@example.com", "roles": ["teller"],
                                       "password": "a long enough bench passphrase"})
call("POST", f"/stores/{store}/write", tok, {"writes": {"tuple_keys": [
    {"user": "client:" + client["client_id"], "relation": "viewer", "object": "account:" + acct},
    {"user": "user:" + user["id"], "relation": "viewer", "object": "account:" + acct}]}})
policy = call("POST", "/v1/authz/policies", tok, {
    "store_id": store, "authorization_model_id": model,
    "actions": {"account.read": {"relation": "viewer", "resource_types": ["account"]}},
    "rules": [
        {"id": "high_risk", "effect": "step_up", "aal": 2,
         "when": "has(context.risk) && context.risk == 'high'"},
        {"id": "needs_ledger_read", "effect": "require",
         "when": "subject.type != 'client' || 'ledger:read' in subject.attrs.scopes"},
        {"id": "tellers", "effect": "require",
         "when": "subject.type != 'user' || 'teller' in subject.roles"},
    ],
    "http": {"subject_type": "client", "user_subject_type": "user", "routes": [
        {"method": "GET", "path": "/v1/core/accounts/{id}", "action": "account.read",
         "resource_type": "account"}]},
})["version"]
print(tok, acct, policy, user["tenant_id"])
