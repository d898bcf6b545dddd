/* novactl: Nova's admin CLI, working on the same store as novad (same configuration).
 *   novactl [--json] [--config FILE] tenant create NAME | tenant list
 *   novactl [--json] client create --tenant ID --name NAME --scopes "a b" [--audiences "x y"]
 *   novactl [--json] client list --tenant ID | client revoke --tenant ID CLIENT_ID
 *   novactl [--json] migrate
 *   novactl [--json] audit verify [--tenant ID] | audit key
 *   novactl [--json] audit export --tenant ID [--from T] [--to T] [--out DIR]
 *   novactl [--json] key rotate --tenant ID [--grace SECONDS] | key list --tenant ID
 *   novactl [--json] tenant contain ID   (key compromise: retire the key, end every session)
 *   novactl [--json] datakey rotate --tenant ID [--region R] | datakey list --tenant ID
 *   novactl [--json] channel list --tenant ID | channel show --tenant ID CHANNEL_ID
 *   novactl [--json] channel create --tenant ID FILE|- | channel delete --tenant ID CHANNEL_ID
 *   novactl [--json] channel update --tenant ID CHANNEL_ID FILE|-
 *   novactl face detect IMG.jpg | face describe IMG.jpg | face compare DOCUMENT.jpg SELFIE.jpg
 *   novactl face liveness ACTION,ACTION DIR | face passive IMG.jpg
 *   novactl [--json] idp list --tenant ID | idp delete --tenant ID IDP_ID
 *   novactl help [COMMAND] | COMMAND --help
 * Options may stand anywhere on the line; `--` ends them, so `tenant create -- --odd` names a
 * tenant "--odd". Exit codes: 0 ok, 1 internal, 2 usage, 3 config, 4 store unavailable,
 * 5 schema, 6 invalid input, 7 not found, 8 conflict (a tenant of that name exists),
 * 9 an audit chain failed verification. */
#include <getopt.h>
#include <glob.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "nova/app.h"
#include "nova/audit_store.h"
#include "nova/datakey.h"
#include "nova/events.h"
#include "nova/idv.h"
#include "nova/ledger_accrue.h"
#include "nova/log.h"
#include "nova/mrz_json.h"
#include "nova/people.h"
#include "nova/policy_test.h"
#include "nova/vision.h"

/* Options, as bits: each command says which it requires and which it accepts. */
enum {
    OPT_TENANT = 1 << 0,
    OPT_NAME = 1 << 1,
    OPT_SCOPES = 1 << 2,
    OPT_AUDIENCES = 1 << 3,
    OPT_FROM = 1 << 4,
    OPT_TO = 1 << 5,
    OPT_OUT = 1 << 6,
    OPT_GRACE = 1 << 7,
    OPT_REGION = 1 << 8,
    OPT_MUTATE = 1 << 9, /* a flag: no value */
};

/* `audit verify` found a chain that does not verify. */
#define EXIT_AUDIT_BROKEN 9

typedef struct cli {
    bool json, help;
    const char *config;
    const char *tenant, *name, *scopes, *audiences, *from, *to, *out, *grace, *region;
    unsigned given; /* OPT_* bits seen */
    const char *pos[8];
    int npos;
} cli_t;

typedef int (*run_fn)(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args);

typedef struct command {
    const char *group, *verb; /* verb NULL: the group is the whole command */
    int nargs;                /* positional arguments after the command words; -1: none or one */
    unsigned required, allowed;
    const char *synopsis;
    run_fn run;
} command_t;

static int tenant_create(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int tenant_list(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int client_create(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int client_list(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int client_revoke(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int migrate(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int audit_verify(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int audit_export(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int audit_key(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int key_rotate(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int key_list(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int tenant_contain(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int datakey_rotate(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int datakey_list(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int face_detect(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int face_describe(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int face_compare(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int face_liveness(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int face_passive(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int mrz_parse(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int policy_test(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int workflow_cmd(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int ocr_mrz(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int user_cmd(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int breakglass_drill(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int idp_cmd(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int ledger_accrue(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);
static int channel_cmd(nova_app_t *, nova_arena_t *, const cli_t *, const char *const *);

static const command_t commands[] = {
    {"tenant", "create", 1, 0, 0, "tenant create NAME", tenant_create},
    {"tenant", "list", 0, 0, 0, "tenant list", tenant_list},
    {"client", "create", 0, OPT_TENANT | OPT_NAME | OPT_SCOPES,
     OPT_TENANT | OPT_NAME | OPT_SCOPES | OPT_AUDIENCES,
     "client create --tenant ID --name NAME --scopes \"SCOPE ...\" [--audiences \"AUD ...\"]",
     client_create},
    {"client", "list", 0, OPT_TENANT, OPT_TENANT, "client list --tenant ID", client_list},
    {"client", "revoke", 1, OPT_TENANT, OPT_TENANT, "client revoke --tenant ID CLIENT_ID",
     client_revoke},
    {"migrate", NULL, 0, 0, 0, "migrate", migrate},
    {"audit", "verify", 0, 0, OPT_TENANT, "audit verify [--tenant ID]", audit_verify},
    {"audit", "export", 0, OPT_TENANT, OPT_TENANT | OPT_FROM | OPT_TO | OPT_OUT,
     "audit export --tenant ID [--from TIME] [--to TIME] [--out DIR]", audit_export},
    {"audit", "key", 0, 0, 0, "audit key", audit_key},
    {"key", "rotate", 0, OPT_TENANT, OPT_TENANT | OPT_GRACE,
     "key rotate --tenant ID [--grace SECONDS]", key_rotate},
    {"key", "list", 0, OPT_TENANT, OPT_TENANT, "key list --tenant ID", key_list},
    {"tenant", "contain", 1, 0, 0, "tenant contain ID", tenant_contain},
    {"datakey", "rotate", 0, OPT_TENANT, OPT_TENANT | OPT_REGION,
     "datakey rotate --tenant ID [--region REGION]", datakey_rotate},
    {"datakey", "list", 0, OPT_TENANT, OPT_TENANT, "datakey list --tenant ID", datakey_list},
    {"face", "detect", 1, 0, 0, "face detect IMAGE.jpg", face_detect},
    {"face", "describe", 1, 0, 0, "face describe IMAGE.jpg", face_describe},
    {"face", "compare", 2, 0, 0, "face compare DOCUMENT.jpg SELFIE.jpg", face_compare},
    {"face", "liveness", 2, 0, 0, "face liveness ACTION[,ACTION...] DIR", face_liveness},
    {"face", "passive", 1, 0, 0, "face passive IMAGE.jpg", face_passive},
    {"mrz", "parse", -1, 0, 0, "mrz parse [FILE|-]", mrz_parse},
    {"ocr", "mrz", 1, 0, 0, "ocr mrz IMAGE.jpg", ocr_mrz},
    {"policy", "test", 1, 0, OPT_MUTATE, "policy test FILE.fga.yaml [--mutate]", policy_test},
    {"workflow", "create", 1, OPT_TENANT, OPT_TENANT, "workflow create --tenant ID FILE|-",
     workflow_cmd},
    {"workflow", "list", 0, OPT_TENANT, OPT_TENANT, "workflow list --tenant ID", workflow_cmd},
    {"user", "create", 1, OPT_TENANT, OPT_TENANT | OPT_NAME,
     "user create --tenant ID [--name NAME] EMAIL", user_cmd},
    {"user", "list", 0, OPT_TENANT, OPT_TENANT, "user list --tenant ID", user_cmd},
    {"ledger", "accrue", 1, 0, OPT_TENANT, "ledger accrue DATE [--tenant ID]", ledger_accrue},
    {"user", "suspend", 1, OPT_TENANT, OPT_TENANT, "user suspend --tenant ID USER_ID", user_cmd},
    {"breakglass", "drill", 0, OPT_TENANT, OPT_TENANT, "breakglass drill --tenant ID",
     breakglass_drill},
    {"workflow", "show", 1, OPT_TENANT, OPT_TENANT, "workflow show --tenant ID WORKFLOW_ID",
     workflow_cmd},
    {"workflow", "update", 2, OPT_TENANT, OPT_TENANT,
     "workflow update --tenant ID WORKFLOW_ID FILE|-", workflow_cmd},
    {"channel", "list", 0, OPT_TENANT, OPT_TENANT, "channel list --tenant ID", channel_cmd},
    {"channel", "show", 1, OPT_TENANT, OPT_TENANT, "channel show --tenant ID CHANNEL_ID",
     channel_cmd},
    {"channel", "create", 1, OPT_TENANT, OPT_TENANT, "channel create --tenant ID FILE|-",
     channel_cmd},
    {"channel", "update", 2, OPT_TENANT, OPT_TENANT, "channel update --tenant ID CHANNEL_ID FILE|-",
     channel_cmd},
    {"channel", "delete", 1, OPT_TENANT, OPT_TENANT, "channel delete --tenant ID CHANNEL_ID",
     channel_cmd},
    {"idp", "list", 0, OPT_TENANT, OPT_TENANT, "idp list --tenant ID", idp_cmd},
    {"idp", "delete", 1, OPT_TENANT, OPT_TENANT, "idp delete --tenant ID IDP_ID", idp_cmd},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char empty_hint[] = "there are no tenants yet: run `novactl tenant create NAME`";

/* Usage of the commands whose group is group (NULL: all) and verb is verb (NULL: any). */
static void usage_text(nova_buf_t *b, const char *group, const char *verb)
{
    nova_buf_append_cstr(b, "usage: novactl [--json] [--config FILE] COMMAND [--help]\n");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const command_t *c = &commands[i];
        if ((group && strcmp(group, c->group) != 0) ||
            (verb && (c->verb == NULL || strcmp(verb, c->verb) != 0)))
            continue;
        nova_buf_printf(b, "  %s\n", c->synopsis);
    }
    if (group == NULL)
        nova_buf_append_cstr(b, "  help [COMMAND]\n");
    if (group == NULL || strcmp(group, "client") == 0)
        nova_buf_append_cstr(b, "scopes: platform:admin clients:read clients:write audit:read "
                                "sdk:sessions keys:read keys:write\n");
    if (group == NULL || strcmp(group, "tenant") == 0)
        nova_buf_append_cstr(b, "tenant names are unique per deployment (ASCII letters compare "
                                "without case)\n");
    nova_buf_append_cstr(b, "options may come anywhere; `--` ends them\n"
                            "exit codes: 0 ok, 1 internal, 2 usage, 3 config, 4 store "
                            "unavailable, 5 schema,\n"
                            "            6 invalid input, 7 not found, 8 conflict, 9 audit chain "
                            "broken\n");
    if (group == NULL || strcmp(group, "face") == 0)
        nova_buf_append_cstr(b, "face commands print JSON and need no store; the nets are read "
                                "from NOVA_FACE_MODEL (scripts/models.sh)\n");
    if (group == NULL || strcmp(group, "mrz") == 0)
        nova_buf_append_cstr(b, "mrz parse reads a machine-readable zone (ICAO 9303 TD1, TD2, TD3, "
                                "MRV-A, MRV-B; 2 or 3 lines) from FILE or standard input and "
                                "prints JSON; exit 0 when valid, 6 if not\n");
    if (group == NULL || strcmp(group, "ocr") == 0)
        nova_buf_append_cstr(b,
                             "ocr mrz runs OCR (Tesseract; NOVA_TESSDATA) then the MRZ engine on "
                             "a JPEG and prints the same JSON; exit 0 when valid, 6 if not\n");
    if (group == NULL || strcmp(group, "channel") == 0)
        nova_buf_append_cstr(b, "channel FILE: the JSON body of POST or PATCH "
                                "/v1/notifications/channels (\"-\": standard input), so a "
                                "password or API key never stands on the command line\n");
    if (group == NULL || strcmp(group, "audit") == 0)
        nova_buf_append_cstr(b, "TIME: unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC); "
                                "from inclusive, to exclusive\n");
}

static int help(const char *group, const char *verb)
{
    nova_buf_t b;
    nova_buf_init(&b);
    usage_text(&b, group, verb);
    fputs(b.data ? b.data : "", stdout);
    nova_buf_free(&b);
    return NOVA_EXIT_OK;
}

/* A usage error: the reason and the usage on stderr (one JSON object with --json), exit 2. */
static int usage_error(const cli_t *c, const char *group, const char *why)
{
    nova_buf_t b;
    nova_buf_init(&b);
    usage_text(&b, group, NULL);
    if (c->json) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "error", "usage", "message", why, "usage",
                              b.data ? b.data : "");
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        fprintf(stderr, "%s\n", s ? s : "{\"error\":\"usage\"}");
        free(s);
        json_decref(o);
    } else {
        fprintf(stderr, "novactl: %s\n%s", why, b.data ? b.data : "");
    }
    nova_buf_free(&b);
    return NOVA_EXIT_USAGE;
}

static bool json_out;

static int fail(nova_status st, const char *what)
{
    if (json_out) {
        json_t *o = json_pack("{s:s, s:s}", "error", nova_status_name(st), "message", what);
        char *s = json_dumps(o, JSON_COMPACT);
        fprintf(stderr, "%s\n", s);
        free(s);
        json_decref(o);
    } else {
        fprintf(stderr, "novactl: %s (%s)\n", what, nova_status_name(st));
    }
    return nova_app_exit_code(st);
}

static void print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    puts(s);
    free(s);
    json_decref(o);
}

static const char *when(int64_t t, char buf[21])
{
    nova_time_format(t, buf);
    return buf;
}

static json_t *words(const char *list)
{
    json_t *a = json_array();
    while (*list) {
        size_t l = strcspn(list, " ");
        if (l)
            json_array_append_new(a, json_stringn(list, l));
        list += l + (list[l] == ' ');
    }
    return a;
}

/* true when the store holds no tenant at all (then "no such tenant" gets the hint). */
static bool store_empty(nova_app_t *app, nova_arena_t *ar)
{
    nova_tenant_t *ts;
    size_t n = 1;
    return nova_store_tenant_list(app->store, ar, &ts, &n) == NOVA_OK && n == 0;
}

/* The tenant named by --tenant, or the error reply's exit code in *rc. */
static bool tenant_arg(nova_app_t *app, nova_arena_t *ar, const cli_t *c, int *rc)
{
    nova_tenant_t t;
    nova_status st = nova_store_tenant_get(app->store, ar, c->tenant, &t);
    if (st == NOVA_OK)
        return true;
    if (st == NOVA_NOT_FOUND || st == NOVA_INVALID) {
        *rc = fail(NOVA_NOT_FOUND, store_empty(app, ar) ? empty_hint : "no such tenant");
        return false;
    }
    *rc = fail(st, "cannot read the tenant");
    return false;
}

/* Who the audit log names for what novactl changes. */
static const nova_audit_actor_t novactl_actor = {.id = "novactl"};

static int tenant_create(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)c;
    nova_tenant_t t;
    nova_status st =
        nova_auth_tenant_create(app->auth, app->store, ar, &novactl_actor, args[0], &t);
    if (st == NOVA_INVALID)
        return fail(st, "tenant name must be 1-128 characters, none of them a control character");
    if (st == NOVA_CONFLICT) {
        char *m = nova_arena_printf(ar,
                                    "a tenant named \"%s\" exists already (names are unique per "
                                    "deployment; ASCII letters compare without case)",
                                    args[0]);
        return fail(st, m ? m : "a tenant of that name exists already");
    }
    if (st)
        return fail(st, "cannot create tenant");
    if (json_out)
        print_json(json_pack("{s:s, s:s, s:I}", "id", t.id, "name", t.name, "created_at",
                             (json_int_t)t.created_at));
    else
        printf("tenant %s created (%s)\n", t.id, t.name);
    return NOVA_EXIT_OK;
}

static int tenant_list(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)c;
    (void)args;
    char tb[21];
    nova_tenant_t *ts;
    size_t n;
    nova_status st = nova_store_tenant_list(app->store, ar, &ts, &n);
    if (st)
        return fail(st, "cannot list tenants");
    if (json_out) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a,
                                  json_pack("{s:s, s:s, s:I}", "id", ts[i].id, "name", ts[i].name,
                                            "created_at", (json_int_t)ts[i].created_at));
        print_json(a);
    } else if (n == 0) {
        printf("%s\n", empty_hint);
    } else {
        printf("%-28s  %-20s  %s\n", "ID", "CREATED", "NAME");
        for (size_t i = 0; i < n; i++)
            printf("%-28s  %-20s  %s\n", ts[i].id, when(ts[i].created_at, tb), ts[i].name);
    }
    return NOVA_EXIT_OK;
}

static int client_create(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)args;
    int rc;
    if (!tenant_arg(app, ar, c, &rc))
        return rc;
    nova_client_t cl;
    const char *secret;
    nova_status st = nova_auth_client_create(app->auth, app->store, ar, &novactl_actor, c->tenant,
                                             c->name, c->scopes, c->audiences, &cl, &secret);
    if (st)
        return fail(st,
                    st == NOVA_INVALID ? "bad name, scopes or audiences" : "cannot create client");
    if (json_out) {
        print_json(json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I}", "client_id", cl.id,
                             "client_secret", secret, "tenant_id", cl.tenant_id, "name", cl.name,
                             "scopes", words(cl.scopes), "audiences", words(cl.audiences),
                             "created_at", (json_int_t)cl.created_at));
    } else {
        printf("client %s created in tenant %s\n"
               "client_id:     %s\nclient_secret: %s\n"
               "The secret is shown only now; store it safely.\n",
               cl.name, cl.tenant_id, cl.id, secret);
    }
    return NOVA_EXIT_OK;
}

static int client_list(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)args;
    char tb[21];
    int rc;
    if (!tenant_arg(app, ar, c, &rc))
        return rc;
    nova_client_t *cs;
    size_t n;
    nova_status st = nova_store_client_list(app->store, ar, c->tenant, &cs, &n);
    if (st)
        return fail(st, "cannot list clients");
    if (json_out) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:I, s:b}", "client_id", cs[i].id, "name",
                                  cs[i].name, "scopes", words(cs[i].scopes), "audiences",
                                  words(cs[i].audiences), "created_at",
                                  (json_int_t)cs[i].created_at, "revoked", cs[i].revoked_at != 0);
            json_array_append_new(a, o);
        }
        print_json(a);
    } else {
        printf("%-28s  %-8s  %-20s  %-30s  %s\n", "CLIENT_ID", "STATUS", "CREATED", "SCOPES",
               "NAME");
        for (size_t i = 0; i < n; i++)
            printf("%-28s  %-8s  %-20s  %-30s  %s\n", cs[i].id,
                   cs[i].revoked_at ? "revoked" : "active", when(cs[i].created_at, tb),
                   cs[i].scopes, cs[i].name);
    }
    return NOVA_EXIT_OK;
}

static int client_revoke(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    int rc;
    if (!tenant_arg(app, ar, c, &rc))
        return rc;
    nova_status st =
        nova_auth_client_revoke(app->auth, app->store, &novactl_actor, c->tenant, args[0]);
    if (st)
        return fail(st, st == NOVA_NOT_FOUND ? "no such active client in this tenant"
                                             : "cannot revoke client");
    if (json_out)
        print_json(json_pack("{s:s, s:b}", "client_id", args[0], "revoked", 1));
    else
        printf("client %s revoked\n", args[0]);
    return NOVA_EXIT_OK;
}

/* ---- signing keys ---- */

static int key_rotate(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)args;
    int rc;
    int64_t grace = app->cfg.key_grace;
    if (c->grace) {
        char *end = NULL;
        long long g = strtoll(c->grace, &end, 10);
        if (*c->grace == '\0' || *end != '\0' || g < 0 || g > NOVA_KEY_GRACE_MAX)
            return fail(NOVA_INVALID, "--grace: seconds from 0 (retire the old key at once) "
                                      "to 86400");
        grace = g;
    }
    if (!tenant_arg(app, ar, c, &rc))
        return rc;
    nova_key_rotation_t rot;
    nova_status st = nova_auth_key_rotate(app->auth, app->store, ar, &novactl_actor, c->tenant,
                                          grace, "novactl", &rot);
    if (st)
        return fail(st, st == NOVA_CONFLICT ? "another rotation won; run it again"
                                            : "cannot rotate the signing key");
    if (json_out) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "tenant_id", c->tenant, "kid", rot.new_kid,
                              "previous_kid", rot.old_kid, "previous_state", rot.old_state);
        if (rot.grace_until)
            json_object_set_new(o, "grace_until", json_integer(rot.grace_until));
        print_json(o);
    } else {
        char t[21];
        printf("tenant %s signs with %s; %s is %s%s%s\n", c->tenant, rot.new_kid, rot.old_kid,
               rot.old_state, rot.grace_until ? " until " : "",
               rot.grace_until ? when(rot.grace_until, t) : "");
    }
    return NOVA_EXIT_OK;
}

static int key_list(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)args;
    int rc;
    if (!tenant_arg(app, ar, c, &rc))
        return rc;
    nova_signing_key_t *ks = NULL;
    size_t n = 0;
    nova_status st = nova_store_key_history(app->store, ar, c->tenant, &ks, &n);
    if (st)
        return fail(st, "cannot list signing keys");
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char t[21];
        if (!json_out) {
            printf("%s  %-7s  %s  created %s\n", ks[i].kid, ks[i].state, ks[i].alg,
                   when(ks[i].created_at, t));
            continue;
        }
        json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "kid", ks[i].kid, "state", ks[i].state, "alg",
                              ks[i].alg, "created_at", (json_int_t)ks[i].created_at);
        if (strcmp(ks[i].state, "grace") == 0)
            json_object_set_new(o, "grace_until", json_integer(ks[i].grace_until));
        json_array_append_new(arr, o);
    }
    if (json_out)
        print_json(json_pack("{s:o}", "keys", arr));
    else
        json_decref(arr);
    return NOVA_EXIT_OK;
}

/* A new data key version for one region, or for every region the tenant has data keys in. */
static int datakey_rotate(nova_app_t *app, nova_arena_t *ar, const cli_t *c,
                          const char *const *args)
{
    (void)args;
    int rc;
    if (c->region && !nova_envelope_region_valid(c->region))
        return fail(NOVA_INVALID, "--region: 2 to 16 of A-Z a-z 0-9 -");
    if (!tenant_arg(app, ar, c, &rc))
        return rc;
    const char *one[1] = {c->region};
    const char **regions = one;
    size_t nregions = 1;
    if (c->region == NULL) {
        nova_datakey_row_t *ks = NULL;
        size_t n = 0;
        nova_status st = nova_datakey_list(app->auth, app->store, ar, c->tenant, &ks, &n);
        if (st)
            return fail(st, "cannot list data keys");
        regions = nova_arena_alloc(ar, (n ? n : 1) * sizeof(*regions));
        if (regions == NULL)
            return fail(NOVA_NOMEM, "out of memory");
        nregions = 0;
        for (size_t i = 0; i < n; i++) /* listed by region: one entry per run */
            if (nregions == 0 || strcmp(regions[nregions - 1], ks[i].region) != 0)
                regions[nregions++] = ks[i].region;
        if (nregions == 0)
            return fail(NOVA_NOT_FOUND, "the tenant has no data keys yet; name one with --region");
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < nregions; i++) {
        nova_datakey_row_t k;
        nova_status st = nova_datakey_rotate(app->auth, app->store, ar, &novactl_actor, c->tenant,
                                             regions[i], &k);
        if (st) {
            json_decref(arr);
            return fail(st, st == NOVA_CONFLICT ? "another rotation won; run it again"
                                                : "cannot rotate the data key");
        }
        if (json_out)
            json_array_append_new(arr, json_pack("{s:s, s:I, s:s}", "region", k.region, "version",
                                                 (json_int_t)k.version, "envelope", k.envelope));
        else
            printf("tenant %s region %s seals with data key version %" PRId64
                   "; older versions still open\n",
                   c->tenant, k.region, k.version);
    }
    if (json_out)
        print_json(json_pack("{s:s, s:o}", "tenant_id", c->tenant, "rotated", arr));
    else
        json_decref(arr);
    return NOVA_EXIT_OK;
}

static int datakey_list(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)args;
    int rc;
    if (!tenant_arg(app, ar, c, &rc))
        return rc;
    nova_datakey_row_t *ks = NULL;
    size_t n = 0;
    nova_status st = nova_datakey_list(app->auth, app->store, ar, c->tenant, &ks, &n);
    if (st)
        return fail(st, "cannot list data keys");
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char t[21], r[21];
        if (!json_out) {
            printf("%s  v%" PRId64 "  %s  created %s%s%s\n", ks[i].region, ks[i].version,
                   ks[i].envelope, when(ks[i].created_at, t), ks[i].retired_at ? "  retired " : "",
                   ks[i].retired_at ? when(ks[i].retired_at, r) : "");
            continue;
        }
        json_array_append_new(arr,
                              json_pack("{s:s, s:I, s:s, s:I, s:I}", "region", ks[i].region,
                                        "version", (json_int_t)ks[i].version, "envelope",
                                        ks[i].envelope, "created_at", (json_int_t)ks[i].created_at,
                                        "retired_at", (json_int_t)ks[i].retired_at));
    }
    if (json_out)
        print_json(json_pack("{s:o}", "data_keys", arr));
    else
        json_decref(arr);
    return NOVA_EXIT_OK;
}

/* The key-compromise runbook (seed 003 §16.1) in one command. */
static int tenant_contain(nova_app_t *app, nova_arena_t *ar, const cli_t *c,
                          const char *const *args)
{
    int rc;
    cli_t t = *c;
    t.tenant = args[0];
    if (!tenant_arg(app, ar, &t, &rc))
        return rc;
    nova_contain_result_t res;
    nova_status st =
        nova_auth_tenant_contain(app->auth, app->store, ar, &novactl_actor, args[0], &res);
    if (st)
        return fail(st, "containment did not finish; run it again");
    if (json_out)
        print_json(json_pack("{s:s, s:s, s:s, s:I, s:b}", "tenant_id", args[0], "retired_kid",
                             res.rotation.old_kid, "kid", res.rotation.new_kid, "sessions_revoked",
                             (json_int_t)res.sessions_revoked, "contained", 1));
    else
        printf("tenant %s contained: key %s retired (its tokens fail now), new key %s, %lld "
               "session(s) revoked; recorded in the audit log\n",
               args[0], res.rotation.old_kid, res.rotation.new_kid,
               (long long)res.sessions_revoked);
    return NOVA_EXIT_OK;
}

static int migrate(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)ar;
    (void)c;
    (void)args;
    int v = 0;
    nova_store_schema_version(app->store, &v);
    if (json_out)
        printf("{\"schema_version\":%d}\n", v);
    else
        printf("schema version %d\n", v);
    return NOVA_EXIT_OK;
}

/* ---- audit ---- */

/* Verifies one tenant's chain; prints its line; *broken set when it does not verify. */
static nova_status verify_one(nova_app_t *app, const char *tenant, json_t *results, bool *broken)
{
    nova_audit_verifier_t v;
    nova_status st = nova_audit_verify_tenant(app->store, tenant, &v);
    if (st != NOVA_OK)
        return st;
    bool ok = v.fault == NOVA_AUDIT_INTACT;
    if (!ok)
        *broken = true;
    if (json_out) {
        json_t *o = json_pack("{s:s, s:s, s:I}", "tenant_id", tenant, "result",
                              nova_audit_fault_name(v.fault), "entries", (json_int_t)v.head_count);
        if (!ok) {
            json_object_set_new(o, "position", json_integer(v.bad_seq));
            if (v.bad_id[0])
                json_object_set_new(o, "entry_id", json_string(v.bad_id));
            json_object_set_new(o, "detail", json_string(v.detail));
        }
        json_array_append_new(results, o);
    } else if (ok) {
        printf("%s: intact (%" PRId64 " entries)\n", tenant, v.head_count);
    } else {
        printf("%s: %s at entry %" PRId64 "%s%s: %s\n", tenant, nova_audit_fault_name(v.fault),
               v.bad_seq, v.bad_id[0] ? " " : "", v.bad_id, v.detail);
    }
    return NOVA_OK;
}

static int audit_verify(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)args;
    const char **ids = NULL, *one[1] = {c->tenant};
    size_t n = 0;
    bool broken = false;
    nova_status st = NOVA_OK;
    json_t *results = json_array();
    if (c->tenant) {
        ids = one;
        n = 1;
    } else {
        st = nova_store_audit_tenants(app->store, ar, &ids, &n);
    }
    for (size_t i = 0; st == NOVA_OK && i < n; i++)
        st = verify_one(app, ids[i], results, &broken);
    if (st != NOVA_OK) {
        json_decref(results);
        return fail(st, "cannot read the audit log");
    }
    if (json_out)
        print_json(json_pack("{s:b, s:o}", "intact", !broken, "tenants", results));
    else
        json_decref(results);
    return broken ? EXIT_AUDIT_BROKEN : NOVA_EXIT_OK;
}

static int load_master_key(nova_app_t *app, uint8_t key[32])
{
    char err[256];
    nova_status st = nova_auth_master_key_load(app->cfg.master_key, app->cfg.master_key_file, false,
                                               key, err, sizeof(err));
    return st == NOVA_OK ? NOVA_EXIT_OK : fail(st, err);
}

static int audit_key(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)ar, (void)c, (void)args;
    uint8_t key[32];
    nova_buf_t pem;
    int rc = load_master_key(app, key);
    if (rc)
        return rc;
    nova_buf_init(&pem);
    nova_status st = nova_audit_export_public_pem(key, &pem);
    OPENSSL_cleanse(key, sizeof(key));
    if (st == NOVA_OK && json_out)
        print_json(json_pack("{s:s}", "public_key_pem", pem.data));
    else if (st == NOVA_OK)
        fputs(pem.data, stdout);
    nova_buf_free(&pem);
    return st ? fail(st, "cannot derive the export key") : NOVA_EXIT_OK;
}

static bool write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(data, 1, n, f) == n;
    if (f && fclose(f) != 0)
        ok = false;
    return ok;
}

static int audit_export(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)args;
    int64_t from = 0, to = 0;
    uint8_t key[32], sig[64];
    if ((c->from && nova_audit_parse_time(c->from, &from) != NOVA_OK) ||
        (c->to && nova_audit_parse_time(c->to, &to) != NOVA_OK))
        return fail(NOVA_INVALID, "--from/--to: unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
    int rc;
    if (!tenant_arg(app, ar, c, &rc))
        return rc;
    rc = load_master_key(app, key);
    if (rc)
        return rc;
    const char *dir = c->out ? c->out : ".";
    const char *base = nova_arena_printf(ar, "audit-%s", c->tenant);
    const char *jpath = nova_arena_printf(ar, "%s/%s.jsonl", dir, base);
    const char *mpath = nova_arena_printf(ar, "%s/%s.manifest.json", dir, base);
    const char *spath = nova_arena_printf(ar, "%s/%s.manifest.sig", dir, base);
    const char *kpath = nova_arena_printf(ar, "%s/audit-export.pub.pem", dir);
    nova_buf_t manifest, pem;
    nova_buf_init(&manifest);
    nova_buf_init(&pem);
    FILE *f = fopen(jpath, "wb");
    nova_status st = f ? NOVA_OK : NOVA_UNAVAILABLE;
    if (st == NOVA_OK)
        st = nova_audit_export(app->store, key, c->tenant, from, to,
                               nova_arena_printf(ar, "%s.jsonl", base), f, &manifest, sig);
    if (f && fclose(f) != 0 && st == NOVA_OK)
        st = NOVA_UNAVAILABLE;
    if (st == NOVA_OK)
        st = nova_audit_export_public_pem(key, &pem);
    OPENSSL_cleanse(key, sizeof(key));
    if (st == NOVA_OK &&
        (!write_file(mpath, manifest.data, manifest.len) || !write_file(spath, sig, sizeof(sig)) ||
         !write_file(kpath, pem.data, pem.len)))
        st = NOVA_UNAVAILABLE;
    if (st == NOVA_OK && json_out)
        print_json(json_pack("{s:s, s:s, s:s, s:s}", "jsonl", jpath, "manifest", mpath, "signature",
                             spath, "public_key", kpath));
    else if (st == NOVA_OK)
        printf("wrote %s\n      %s\n      %s (Ed25519 over the manifest's bytes)\n      %s\n",
               jpath, mpath, spath, kpath);
    nova_buf_free(&manifest);
    nova_buf_free(&pem);
    return st ? fail(st, "cannot export the audit log") : NOVA_EXIT_OK;
}

/* ---- ocr mrz: the gateway's OCR and MRZ steps on a local JPEG (no store) ---- */

static int ocr_mrz(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)app, (void)ar;
    nova_config_t cfg;
    char err[256];
    if (nova_config_load(&cfg, c->config, err, sizeof err) != NOVA_OK) {
        fail(NOVA_INVALID, err);
        return NOVA_EXIT_CONFIG;
    }
    int rc = nova_idv_ctl_ocr_mrz(args[0], *cfg.tessdata ? cfg.tessdata : NULL, json_out);
    nova_config_free(&cfg);
    return rc;
}

/* ---- workflow: the verification gateway's workflows (src/idv/gateway/workflows.c) ---- */

static int workflow_cmd(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    int rc;
    if (!tenant_arg(app, ar, c, &rc))
        return rc;
    return nova_idv_ctl_workflow(app->store, app->cfg.redis_url, c->pos[1], c->tenant, args,
                                 json_out);
}

/* ---- notification channels (issue 9 item 6): src/events/ctl.c ---- */

static int channel_cmd(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    int rc;
    if (!tenant_arg(app, ar, c, &rc))
        return rc;
    nova_events_cfg_t cfg = {app->auth, app->cfg.region, app->cfg.database_url};
    nova_events_problem_t pb;
    nova_status st =
        nova_events_ctl_channel(&cfg, app->store, ar, c->pos[1], c->tenant, args, json_out, &pb);
    if (st == NOVA_INVALID) {
        if (json_out) {
            json_t *o = json_pack("{s:s, s:s, s:s}", "error", nova_status_name(st), "field",
                                  pb.field, "message", pb.why);
            char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
            fprintf(stderr, "%s\n", t ? t : "{\"error\":\"invalid\"}");
            free(t);
            json_decref(o);
            return nova_app_exit_code(st);
        }
        char *m = nova_arena_printf(ar, "%s: %s", *pb.field ? pb.field : "(body)", pb.why);
        return fail(st, m ? m : pb.why);
    }
    if (st == NOVA_NOT_FOUND)
        return fail(st, "no notification channel of this tenant has this id");
    return st == NOVA_OK ? NOVA_EXIT_OK : fail(st, "cannot read or change the channel");
}

/* ---- users (issue 11): src/people/ctl.c ---- */

static int user_cmd(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    int rc;
    if (!tenant_arg(app, ar, c, &rc))
        return rc;
    return nova_people_ctl_user(app->auth, app->store, app->cfg.redis_url, c->pos[1], c->tenant,
                                c->name, args, json_out);
}

static int idp_cmd(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    int rc;
    if (!tenant_arg(app, ar, c, &rc))
        return rc;
    return nova_people_ctl_idp(app->auth, app->store, app->cfg.redis_url, c->pos[1], c->tenant,
                               args, json_out);
}

static int breakglass_drill(nova_app_t *app, nova_arena_t *ar, const cli_t *c,
                            const char *const *args)
{
    (void)args;
    int rc;
    if (!tenant_arg(app, ar, c, &rc))
        return rc;
    return nova_people_ctl_breakglass_drill(app->auth, app->store, app->cfg.redis_url, c->tenant,
                                            json_out);
}

/* ---- mrz: the MRZ engine on a local file or stdin (no store) ---- */

static void face_print(json_t *o);

/* policy test: an OpenFGA test file; --mutate adds the mutation score (nova/policy_test.h). */
static int policy_test(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)app, (void)ar;
    char err[512];
    json_t *rep = NULL;
    if (nova_policy_test_run(args[0], c->given & OPT_MUTATE, &rep, err, sizeof(err)) != NOVA_OK)
        return fail(NOVA_INVALID, err);
    int rc = json_integer_value(json_object_get(rep, "failed")) ? NOVA_EXIT_INVALID : NOVA_EXIT_OK;
    if (json_out)
        print_json(rep);
    else {
        nova_policy_test_print(rep, stdout);
        json_decref(rep);
    }
    return rc;
}

static int mrz_parse(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)app;
    (void)ar;
    (void)c;
    bool in = args[0] == NULL || strcmp(args[0], "-") == 0;
    FILE *f = in ? stdin : fopen(args[0], "rb");
    char buf[4097];
    size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
    if (f && !in)
        fclose(f);
    if (f == NULL)
        return fail(NOVA_NOT_FOUND, "cannot read the file");
    if (n == sizeof(buf))
        return fail(NOVA_INVALID, "not a machine-readable zone: more than 4 KiB");
    nova_mrz_t m;
    const char *why;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    if (nova_mrz_parse(buf, n, tm.tm_year + 1900, &m, &why) != NOVA_OK)
        return fail(NOVA_INVALID, why);
    face_print(nova_mrz_json(&m));
    return nova_mrz_valid(&m) ? NOVA_EXIT_OK : NOVA_EXIT_INVALID;
}

/* ---- face: the vision engine on local JPEG files (no store) ---- */

/* Loads the configuration for NOVA_FACE_MODEL and opens the nets. */
static int face_model(const cli_t *c, nova_vision_model_t **m)
{
    nova_config_t cfg;
    char err[256];
    if (nova_config_load(&cfg, c->config, err, sizeof err) != NOVA_OK) {
        fail(NOVA_INVALID, err);
        return NOVA_EXIT_CONFIG;
    }
    nova_status st = nova_vision_model_open(cfg.face_model, m);
    char msg[512];
    snprintf(msg, sizeof msg, "cannot open the face model %s (run scripts/models.sh)",
             cfg.face_model);
    nova_config_free(&cfg);
    return st ? fail(st, msg) : NOVA_EXIT_OK;
}

/* Prints o (consumed) with reals to 9 significant digits: a float descriptor exactly, pixel
 * coordinates without binary noise. */
static void face_print(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));
    puts(s ? s : "{}");
    free(s);
    json_decref(o);
}

/* Reads and decodes a JPEG file. */
static int face_image(const char *path, nova_vision_image_t *img)
{
    FILE *f = fopen(path, "rb");
    nova_buf_t b = {0};
    char chunk[65536];
    size_t n;
    nova_status st = f ? NOVA_OK : NOVA_NOT_FOUND;
    while (st == NOVA_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        st = b.len + n > (64u << 20) ? NOVA_TOO_LARGE : nova_buf_append(&b, chunk, n);
    if (f)
        fclose(f);
    if (st == NOVA_OK)
        st = nova_vision_decode_jpeg((const uint8_t *)b.data, b.len, img);
    nova_buf_free(&b);
    if (st == NOVA_OK)
        return NOVA_EXIT_OK;
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %s", path,
             st == NOVA_NOT_FOUND ? "cannot read the file" : "not a JPEG image Nova can decode");
    return fail(st, msg);
}

static int face_faces(const cli_t *c, const char *const *args, unsigned what)
{
    nova_vision_model_t *m;
    nova_vision_image_t img = {0};
    int rc = face_model(c, &m);
    if (rc)
        return rc;
    rc = face_image(args[0], &img);
    nova_vision_face_t *faces = NULL;
    size_t n = 0;
    nova_vision_detect_opts_t opts = {.input_size = 416,
                                      .score_threshold = 0.5,
                                      .describe = (what & NOVA_VISION_JSON_DESCRIPTOR) != 0};
    nova_status st = rc ? NOVA_OK : nova_vision_detect(m, &img, &opts, &faces, &n);
    if (!rc && st)
        rc = fail(st, "face detection failed");
    if (!rc) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, nova_vision_face_json(&faces[i], what));
        face_print(
            json_pack("{s:i, s:i, s:o}", "width", img.width, "height", img.height, "faces", a));
    }
    free(faces);
    nova_vision_image_free(&img);
    nova_vision_model_free(m);
    return rc;
}

static int face_detect(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)app, (void)ar;
    return face_faces(c, args, NOVA_VISION_JSON_LANDMARKS);
}

static int face_describe(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)app, (void)ar;
    return face_faces(c, args, NOVA_VISION_JSON_DESCRIPTOR);
}

static int face_compare(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)app, (void)ar;
    nova_vision_model_t *m;
    nova_vision_image_t doc = {0}, selfie = {0};
    int rc = face_model(c, &m);
    if (rc)
        return rc;
    rc = face_image(args[0], &doc);
    if (!rc)
        rc = face_image(args[1], &selfie);
    nova_vision_match_t r;
    nova_status st = rc ? NOVA_OK : nova_vision_match(m, &doc, &selfie, NULL, &r);
    if (!rc && st)
        rc = fail(st, "face comparison failed");
    if (!rc)
        face_print(nova_vision_match_json(&r));
    nova_vision_image_free(&doc);
    nova_vision_image_free(&selfie);
    nova_vision_model_free(m);
    return rc;
}

/* Reads a JPEG file into *bytes (malloc'd) and decodes it. */
static int face_file(const char *path, nova_vision_image_t *img, uint8_t **bytes, size_t *len)
{
    FILE *f = fopen(path, "rb");
    nova_buf_t b = {0};
    char chunk[65536];
    size_t n;
    nova_status st = f ? NOVA_OK : NOVA_NOT_FOUND;
    while (st == NOVA_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        st = b.len + n > (64u << 20) ? NOVA_TOO_LARGE : nova_buf_append(&b, chunk, n);
    if (f)
        fclose(f);
    if (st == NOVA_OK)
        st = nova_vision_decode_jpeg((const uint8_t *)b.data, b.len, img);
    *bytes = (uint8_t *)b.data;
    *len = b.len;
    if (st == NOVA_OK)
        return NOVA_EXIT_OK;
    nova_buf_free(&b);
    *bytes = NULL;
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %s", path,
             st == NOVA_NOT_FOUND ? "cannot read the file" : "not a JPEG image Nova can decode");
    return fail(st, msg);
}

/* The burst is DIR's *.jpg files in name order, taken 200 ms apart; the first is the neutral
 * pose and the reference face (nova_vision_liveness). */
static int face_liveness(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)app, (void)ar;
    nova_vision_action actions[NOVA_VISION_LIVENESS_MAX_ACTIONS];
    size_t na = 0;
    char list[256];
    snprintf(list, sizeof list, "%s", args[0]);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int a = nova_vision_action_parse(t);
        if (a < 0 || na == NOVA_VISION_LIVENESS_MAX_ACTIONS)
            return fail(NOVA_INVALID, "ACTIONS: 1 to 3 of turn_left, turn_right, blink, smile, "
                                      "nod, comma-separated");
        actions[na++] = (nova_vision_action)a;
    }
    char pattern[4096];
    snprintf(pattern, sizeof pattern, "%s/*.jpg", args[1]);
    glob_t g;
    int gr = glob(pattern, 0, NULL, &g);
    if (gr != 0 || g.gl_pathc < 2 || g.gl_pathc > NOVA_VISION_LIVENESS_MAX_FRAMES) {
        if (gr == 0)
            globfree(&g);
        return fail(NOVA_INVALID, "DIR: 2 to 30 .jpg frames are required");
    }
    nova_vision_model_t *m = NULL;
    int rc = face_model(c, &m);
    nova_vision_image_t img[NOVA_VISION_LIVENESS_MAX_FRAMES] = {0};
    uint8_t *bytes[NOVA_VISION_LIVENESS_MAX_FRAMES] = {0};
    nova_vision_frame_t fr[NOVA_VISION_LIVENESS_MAX_FRAMES];
    for (size_t i = 0; !rc && i < g.gl_pathc; i++) {
        rc = face_file(g.gl_pathv[i], &img[i], &bytes[i], &fr[i].len);
        fr[i] = (nova_vision_frame_t){&img[i], bytes[i], fr[i].len, 200 * (int64_t)i};
    }
    nova_vision_liveness_t *r = rc ? NULL : malloc(sizeof *r);
    nova_status st = rc  ? NOVA_OK
                     : r ? nova_vision_liveness(m, fr, g.gl_pathc, actions, na, NULL, NULL, r)
                         : NOVA_NOMEM;
    if (!rc && st)
        rc = fail(st, "liveness check failed");
    if (!rc)
        face_print(nova_vision_liveness_json(r));
    free(r);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        nova_vision_image_free(&img[i]);
        free(bytes[i]);
    }
    globfree(&g);
    nova_vision_model_free(m);
    return rc;
}

/* The passive liveness signals of the image's largest face. */
static int face_passive(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    (void)app, (void)ar;
    nova_vision_model_t *m;
    int rc = face_model(c, &m);
    if (rc)
        return rc;
    nova_vision_image_t img = {0};
    uint8_t *bytes = NULL;
    size_t len = 0;
    rc = face_file(args[0], &img, &bytes, &len);
    nova_vision_face_t *faces = NULL;
    size_t n = 0;
    nova_vision_detect_opts_t o = {.input_size = 416, .score_threshold = 0.5, .describe = 0};
    nova_status st = rc ? NOVA_OK : nova_vision_detect(m, &img, &o, &faces, &n);
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (faces[i].box.w * faces[i].box.h > faces[best].box.w * faces[best].box.h)
            best = i;
    nova_vision_passive_t p;
    if (!rc && st == NOVA_OK && n == 0)
        rc = fail(NOVA_INVALID, "no face found in the image");
    else if (!rc && st == NOVA_OK)
        st = nova_vision_passive(&img, bytes, len, &faces[best], NULL, &p);
    if (!rc && st)
        rc = fail(st, "passive liveness failed");
    if (!rc)
        face_print(nova_vision_passive_json(&p));
    free(faces);
    free(bytes);
    nova_vision_image_free(&img);
    nova_vision_model_free(m);
    return rc;
}

static const struct {
    const char *name;
    unsigned bit;
} value_opts[] = {
    {"tenant", OPT_TENANT}, {"name", OPT_NAME},
    {"scopes", OPT_SCOPES}, {"audiences", OPT_AUDIENCES},
    {"from", OPT_FROM},     {"to", OPT_TO},
    {"out", OPT_OUT},       {"grace", OPT_GRACE},
    {"region", OPT_REGION}, {"mutate", OPT_MUTATE},
};

static const char *opt_name(unsigned bit)
{
    for (size_t i = 0; i < sizeof(value_opts) / sizeof(value_opts[0]); i++)
        if (value_opts[i].bit == bit)
            return value_opts[i].name;
    return "?";
}

/* Records the first usage error; parsing goes on so that a --json later on the line still
 * shapes the error. */
static void bad(const char **why, const char *what)
{
    if (*why == NULL)
        *why = what ? what : "bad arguments";
}

/* Parses the whole line: options anywhere (getopt_long in argument order, so that
 * POSIXLY_CORRECT cannot turn an option after the command into a name), `--` ends them.
 * On a usage error sets *why (static text or an arena string) and returns false. */
static bool parse_args(int argc, char **argv, nova_arena_t *ar, cli_t *c, const char **why)
{
    enum {
        L_JSON = 256,
        L_CONFIG,
        L_TENANT,
        L_NAME,
        L_SCOPES,
        L_AUDIENCES,
        L_FROM,
        L_TO,
        L_OUT,
        L_GRACE,
        L_REGION,
        L_MUTATE
    };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, L_JSON},
        {"config", required_argument, NULL, L_CONFIG},
        {"help", no_argument, NULL, 'h'},
        {"tenant", required_argument, NULL, L_TENANT},
        {"name", required_argument, NULL, L_NAME},
        {"scopes", required_argument, NULL, L_SCOPES},
        {"audiences", required_argument, NULL, L_AUDIENCES},
        {"from", required_argument, NULL, L_FROM},
        {"to", required_argument, NULL, L_TO},
        {"out", required_argument, NULL, L_OUT},
        {"grace", required_argument, NULL, L_GRACE},
        {"region", required_argument, NULL, L_REGION},
        {"mutate", no_argument, NULL, L_MUTATE},
        {NULL, 0, NULL, 0},
    };
    const int maxpos = (int)(sizeof(c->pos) / sizeof(c->pos[0]));
    memset(c, 0, sizeof(*c));
    *why = NULL;
    opterr = 0;
    optind = 1;
    int ch;
    /* "-": non-options come back in order as code 1; ":": a missing value is ':'. */
    while ((ch = getopt_long(argc, argv, "-:h", longopts, NULL)) != -1) {
        const char **slot = NULL;
        unsigned bit = 0;
        switch (ch) {
        case 1:
            if (c->npos == maxpos)
                bad(why, "too many arguments");
            else
                c->pos[c->npos++] = optarg;
            continue;
        case L_JSON:
            c->json = true;
            continue;
        case 'h':
            c->help = true;
            continue;
        case L_CONFIG:
            if (c->config)
                bad(why, "option --config given twice");
            c->config = optarg;
            continue;
        case L_TENANT:
            slot = &c->tenant, bit = OPT_TENANT;
            break;
        case L_NAME:
            slot = &c->name, bit = OPT_NAME;
            break;
        case L_SCOPES:
            slot = &c->scopes, bit = OPT_SCOPES;
            break;
        case L_AUDIENCES:
            slot = &c->audiences, bit = OPT_AUDIENCES;
            break;
        case L_FROM:
            slot = &c->from, bit = OPT_FROM;
            break;
        case L_TO:
            slot = &c->to, bit = OPT_TO;
            break;
        case L_OUT:
            slot = &c->out, bit = OPT_OUT;
            break;
        case L_GRACE:
            slot = &c->grace, bit = OPT_GRACE;
            break;
        case L_REGION:
            slot = &c->region, bit = OPT_REGION;
            break;
        case L_MUTATE:
            c->given |= OPT_MUTATE;
            continue;
        case ':':
            bad(why, nova_arena_printf(ar, "option %s needs a value", argv[optind - 1]));
            continue;
        default:
            if (optopt)
                bad(why, nova_arena_printf(ar, "unknown option -%c", optopt));
            else
                bad(why, nova_arena_printf(ar, "unknown option %s", argv[optind - 1]));
            continue;
        }
        if (c->given & bit)
            bad(why, nova_arena_printf(ar, "option --%s given twice", opt_name(bit)));
        c->given |= bit;
        *slot = optarg;
    }
    /* After `--`: the rest are arguments, whatever they look like. */
    for (; optind < argc; optind++) {
        if (c->npos == maxpos)
            bad(why, "too many arguments");
        else
            c->pos[c->npos++] = argv[optind];
    }
    return *why == NULL;
}

static const command_t *find_command(const char *group, const char *verb)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].group, group) == 0 &&
            (commands[i].verb == NULL || (verb && strcmp(commands[i].verb, verb) == 0)))
            return &commands[i];
    return NULL;
}

static bool known_group(const char *group)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].group, group) == 0)
            return true;
    return false;
}

/* `help [GROUP [VERB]]` and `... --help`: usage on stdout, exit 0; an unknown topic is a usage
 * error. Nothing here opens the store. */
static int help_for(const cli_t *c, const char *const *words, int n)
{
    if (n == 0)
        return help(NULL, NULL);
    if (!known_group(words[0]))
        return usage_error(c, NULL, "no such command");
    if (n == 1)
        return help(words[0], NULL);
    const command_t *cmd = find_command(words[0], words[1]);
    if (cmd == NULL || cmd->verb == NULL || n > 2)
        return usage_error(c, words[0], "no such command");
    return help(words[0], words[1]);
}

int main(int argc, char **argv)
{
    nova_arena_t ar;
    nova_arena_init(&ar, 8192);
    cli_t c;
    const char *why = NULL;
    int rc;
    bool ok = parse_args(argc, argv, &ar, &c, &why);
    json_out = c.json;
    if (!ok) {
        rc = usage_error(&c, NULL, why ? why : "bad arguments");
        goto end;
    }
    if (c.npos > 0 && strcmp(c.pos[0], "help") == 0) {
        rc = help_for(&c, c.pos + 1, c.npos - 1);
        goto end;
    }
    if (c.help) {
        rc = help_for(&c, c.pos, c.npos < 2 ? c.npos : 2);
        goto end;
    }
    if (c.npos == 0) {
        rc = usage_error(&c, NULL, "no command given");
        goto end;
    }
    if (!known_group(c.pos[0])) {
        char *m = nova_arena_printf(&ar, "no such command: %s", c.pos[0]);
        rc = usage_error(&c, NULL, m ? m : "no such command");
        goto end;
    }
    const command_t *cmd = find_command(c.pos[0], c.npos > 1 ? c.pos[1] : NULL);
    if (cmd == NULL) {
        rc = usage_error(&c, c.pos[0], c.npos > 1 ? "no such command" : "which one?");
        goto end;
    }
    int words = cmd->verb ? 2 : 1;
    int given = c.npos - words;
    if (cmd->nargs < 0 ? given > 1 : given != cmd->nargs) {
        rc = usage_error(&c, cmd->group,
                         given < cmd->nargs ? "missing argument" : "too many arguments");
        goto end;
    }
    unsigned extra = c.given & ~cmd->allowed, missing = cmd->required & ~c.given;
    if (extra || missing) {
        unsigned bit = extra ? extra & -extra : missing & -missing;
        char *m = nova_arena_printf(&ar, "%s --%s", extra ? "this command takes no" : "missing",
                                    opt_name(bit));
        rc = usage_error(&c, cmd->group, m ? m : "bad options");
        goto end;
    }

    /* face, mrz and policy commands work on local input with an engine alone: app is NULL */
    if (strcmp(cmd->group, "face") == 0 || strcmp(cmd->group, "mrz") == 0 ||
        strcmp(cmd->group, "ocr") == 0 || strcmp(cmd->group, "policy") == 0) {
        rc = cmd->run(NULL, &ar, &c, c.pos + words);
        goto end;
    }
    /* The CLI's own log lines would only clutter its output. */
    setenv("NOVA_LOG_LEVEL", getenv("NOVA_LOG_LEVEL") ? getenv("NOVA_LOG_LEVEL") : "warn", 1);
    nova_app_t app;
    char err[512];
    bool do_migrate = cmd->run == migrate;
    if (nova_app_open(&app, c.config, do_migrate, true, err, sizeof(err), &rc) != NOVA_OK) {
        if (json_out) {
            json_t *o = json_pack("{s:s, s:s}", "error", "startup", "message", err);
            char *s = json_dumps(o, JSON_COMPACT);
            fprintf(stderr, "%s\n", s ? s : "{}");
            free(s);
            json_decref(o);
        } else {
            fprintf(stderr, "novactl: %s\n", err);
        }
        goto end;
    }
    rc = cmd->run(&app, &ar, &c, c.pos + words);
    nova_app_close(&app);
end:
    nova_arena_free(&ar);
    return rc;
}

/* The savings products' interest run for one finished day (nova/ledger_accrue.h). */
static int ledger_accrue(nova_app_t *app, nova_arena_t *ar, const cli_t *c, const char *const *args)
{
    nova_ledger_accrual_run_t run;
    nova_status st = nova_ledger_accrue(app->store, ar, &novactl_actor,
                                        (c->given & OPT_TENANT) ? c->tenant : NULL, args[0], &run);
    if (st)
        return fail(st, st == NOVA_INVALID ? "DATE must be a finished UTC day, YYYY-MM-DD"
                                           : "the accrual run failed");
    if (json_out)
        print_json(json_pack("{s:s,s:I,s:I,s:I,s:I}", "date", args[0], "accounts",
                             (json_int_t)run.accounts, "posted", (json_int_t)run.posted, "replayed",
                             (json_int_t)run.replayed, "failed", (json_int_t)run.failed));
    else
        printf("%s: %zu accounts, %zu postings written, %zu already there, %zu refused\n", args[0],
               run.accounts, run.posted, run.replayed, run.failed);
    return NOVA_EXIT_OK;
}
