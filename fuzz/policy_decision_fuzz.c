/*
 * policy_decision_fuzz.c: libFuzzer target for the decision point's parsers of outside input:
 * the policy bundle document and the decision input (nova/policy_decision.h). The first byte
 * picks which one the rest is. A bundle that parses is bound to a fixed model and decides a
 * fixed input; an input that validates is decided under a fixed bundle. A decision must always
 * come back with an explain, and never allow what the fixed tuples do not grant.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nova/policy_decision.h"

static const char MODEL[] = "model\n  schema 1.1\ntype user\ntype team\n  relations\n"
                            "    define member: [user, team#member]\ntype merchant\n  relations\n"
                            "    define editor: [user, team#member, user with near]\n"
                            "    define viewer: [user] or editor\n"
                            "condition near(region: string) {\n  region == \"KE\"\n}\n";
static const char BUNDLE[] =
    "{\"store_id\":\"01HZX0000000000000000000ST\",\"authorization_model_id\":"
    "\"01HZX0000000000000000000MD\",\"actions\":{\"edit\":{\"relation\":\"editor\"},"
    "\"read\":{\"relation\":\"viewer\",\"resource_types\":[\"merchant\"]}},"
    "\"purposes\":{\"ops\":{\"resource_types\":[\"merchant\"],\"actions\":[\"edit\",\"read\"]}},"
    "\"rules\":[{\"id\":\"r\",\"effect\":\"require\",\"when\":\"has(resource.attrs) || true\"},"
    "{\"id\":\"s\",\"effect\":\"step_up\",\"aal\":2,\"when\":\"has(context.risk)\"}]}";
static const char INPUT[] =
    "{\"tenant\":{\"id\":\"t\"},\"subject\":{\"type\":\"user\",\"id\":\"ada\",\"aal\":1},"
    "\"resource\":{\"type\":\"merchant\",\"id\":\"m1\",\"tenant_id\":\"t\"},\"action\":\"edit\","
    "\"purpose\":\"ops\",\"context\":{\"region\":\"KE\"}}";

static nova_policy_model_t *model;
static nova_policy_index_t *ix;
static nova_policy_bundle_t *bundle;

static void init(void)
{
    nova_policy_error_t perr;
    char err[256];
    if (nova_policy_model_parse(MODEL, strlen(MODEL), &model, &perr) != NOVA_OK)
        abort();
    ix = nova_policy_index_new();
    nova_policy_tuple_t t = {"merchant:m1", "editor", "team:ops#member", NULL, NULL};
    nova_policy_tuple_t u = {"team:ops", "member", "user:ada", NULL, NULL};
    json_t *b = json_loads(BUNDLE, 0, NULL);
    if (!ix || nova_policy_index_add(ix, &t) || nova_policy_index_add(ix, &u) || !b ||
        nova_policy_bundle_parse(b, &bundle, err, sizeof(err)) ||
        nova_policy_bundle_bind(bundle, model, err, sizeof(err)))
        abort();
    json_decref(b);
}

static void decide(const nova_policy_bundle_t *b, const json_t *in)
{
    nova_policy_decision_t d;
    nova_policy_decide(b, model, ix, in, "t", &d);
    if (!d.explain || !d.stage || !d.reason)
        abort();
    /* only ada (through team:ops) has anything on merchant:m1 */
    const json_t *s = json_object_get(in, "subject");
    const char *id = json_string_value(json_object_get(s, "id"));
    if (d.answer == NOVA_POLICY_ALLOW &&
        (!id || strcmp(id, "ada") != 0 ||
         strcmp(json_string_value(json_object_get(s, "type")), "user") != 0))
        abort();
    json_decref(d.explain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!model)
        init();
    if (size < 1)
        return 0;
    json_t *j = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    char err[256];
    if (!j)
        return 0;
    if (data[0] & 1) {
        if (nova_policy_input_validate(j, err, sizeof(err)) == NOVA_OK)
            decide(bundle, j);
    } else {
        nova_policy_bundle_t *b = NULL;
        if (nova_policy_bundle_parse(j, &b, err, sizeof(err)) == NOVA_OK &&
            nova_policy_bundle_bind(b, model, err, sizeof(err)) == NOVA_OK) {
            json_t *in = json_loads(INPUT, 0, NULL);
            decide(b, in);
            json_decref(in);
        }
        nova_policy_bundle_free(b);
    }
    json_decref(j);
    return 0;
}
