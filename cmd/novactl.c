/* novactl: Nova's admin CLI, working on the same store as novad (same configuration).
 *   novactl [--json] [--config FILE] tenant create NAME | tenant list
 *   novactl [--json] client create --tenant ID --name NAME --scopes "a b" [--audiences "x y"]
 *   novactl [--json] client list --tenant ID | client revoke --tenant ID CLIENT_ID
 *   novactl [--json] migrate
 * Exit codes: 0 ok, 1 internal, 2 usage, 3 config, 4 store unavailable, 5 schema,
 * 6 invalid input, 7 not found, 8 conflict. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nova/app.h"
#include "nova/log.h"

static bool json_out;

static void usage(FILE *f)
{
    fputs("usage: novactl [--json] [--config FILE] COMMAND\n"
          "  tenant create NAME\n"
          "  tenant list\n"
          "  client create --tenant ID --name NAME --scopes \"SCOPE ...\" [--audiences \"AUD "
          "...\"]\n"
          "  client list --tenant ID\n"
          "  client revoke --tenant ID CLIENT_ID\n"
          "  migrate\n"
          "scopes: platform:admin clients:read clients:write\n"
          "exit codes: 0 ok, 1 internal, 2 usage, 3 config, 4 store unavailable, 5 schema,\n"
          "            6 invalid input, 7 not found, 8 conflict\n",
          f);
}

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

static const char *opt(int argc, char **argv, const char *name)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
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

static int tenant_cmd(nova_app_t *app, nova_arena_t *ar, int argc, char **argv)
{
    char tb[21];
    if (argc >= 2 && strcmp(argv[0], "create") == 0) {
        nova_tenant_t t;
        nova_status st = nova_auth_tenant_create(app->auth, app->store, ar, argv[1], &t);
        if (st)
            return fail(st, st == NOVA_INVALID ? "tenant name must be 1-128 printable characters"
                                               : "cannot create tenant");
        if (json_out)
            print_json(json_pack("{s:s, s:s, s:I}", "id", t.id, "name", t.name, "created_at",
                                 (json_int_t)t.created_at));
        else
            printf("tenant %s created (%s)\n", t.id, t.name);
        return NOVA_EXIT_OK;
    }
    if (argc >= 1 && strcmp(argv[0], "list") == 0) {
        nova_tenant_t *ts;
        size_t n;
        nova_status st = nova_store_tenant_list(app->store, ar, &ts, &n);
        if (st)
            return fail(st, "cannot list tenants");
        if (json_out) {
            json_t *a = json_array();
            for (size_t i = 0; i < n; i++)
                json_array_append_new(a, json_pack("{s:s, s:s, s:I}", "id", ts[i].id, "name",
                                                   ts[i].name, "created_at",
                                                   (json_int_t)ts[i].created_at));
            print_json(a);
        } else {
            printf("%-28s  %-20s  %s\n", "ID", "CREATED", "NAME");
            for (size_t i = 0; i < n; i++)
                printf("%-28s  %-20s  %s\n", ts[i].id, when(ts[i].created_at, tb), ts[i].name);
        }
        return NOVA_EXIT_OK;
    }
    usage(stderr);
    return NOVA_EXIT_USAGE;
}

static int client_cmd(nova_app_t *app, nova_arena_t *ar, int argc, char **argv)
{
    char tb[21];
    const char *tenant = opt(argc, argv, "--tenant");
    if (argc < 1 || tenant == NULL) {
        usage(stderr);
        return NOVA_EXIT_USAGE;
    }
    nova_tenant_t t;
    nova_status st = nova_store_tenant_get(app->store, ar, tenant, &t);
    if (st)
        return fail(st, "no such tenant");
    if (strcmp(argv[0], "create") == 0) {
        const char *name = opt(argc, argv, "--name"), *scopes = opt(argc, argv, "--scopes");
        const char *auds = opt(argc, argv, "--audiences");
        if (name == NULL || scopes == NULL) {
            usage(stderr);
            return NOVA_EXIT_USAGE;
        }
        nova_client_t c;
        const char *secret;
        st = nova_auth_client_create(app->auth, app->store, ar, tenant, name, scopes, auds, &c,
                                     &secret);
        if (st)
            return fail(st, st == NOVA_INVALID ? "bad name, scopes or audiences"
                                               : "cannot create client");
        if (json_out) {
            print_json(json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I}", "client_id", c.id,
                                 "client_secret", secret, "tenant_id", c.tenant_id, "name", c.name,
                                 "scopes", words(c.scopes), "audiences", words(c.audiences),
                                 "created_at", (json_int_t)c.created_at));
        } else {
            printf("client %s created in tenant %s\n"
                   "client_id:     %s\nclient_secret: %s\n"
                   "The secret is shown only now; store it safely.\n",
                   c.name, c.tenant_id, c.id, secret);
        }
        return NOVA_EXIT_OK;
    }
    if (strcmp(argv[0], "list") == 0) {
        nova_client_t *cs;
        size_t n;
        st = nova_store_client_list(app->store, ar, tenant, &cs, &n);
        if (st)
            return fail(st, "cannot list clients");
        if (json_out) {
            json_t *a = json_array();
            for (size_t i = 0; i < n; i++) {
                json_t *o = json_pack(
                    "{s:s, s:s, s:o, s:o, s:I, s:b}", "client_id", cs[i].id, "name", cs[i].name,
                    "scopes", words(cs[i].scopes), "audiences", words(cs[i].audiences),
                    "created_at", (json_int_t)cs[i].created_at, "revoked", cs[i].revoked_at != 0);
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
    if (strcmp(argv[0], "revoke") == 0) {
        const char *id = argv[argc - 1];
        if (argc < 4 || id[0] == '-' || strcmp(id, tenant) == 0) {
            usage(stderr);
            return NOVA_EXIT_USAGE;
        }
        st = nova_auth_client_revoke(app->auth, app->store, tenant, id);
        if (st)
            return fail(st, st == NOVA_NOT_FOUND ? "no such active client in this tenant"
                                                 : "cannot revoke client");
        if (json_out)
            print_json(json_pack("{s:s, s:b}", "client_id", id, "revoked", 1));
        else
            printf("client %s revoked\n", id);
        return NOVA_EXIT_OK;
    }
    usage(stderr);
    return NOVA_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json_out = true;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return NOVA_EXIT_OK;
        } else {
            usage(stderr);
            return NOVA_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return NOVA_EXIT_USAGE;
    }
    const char *cmd = argv[i++];
    bool migrate = strcmp(cmd, "migrate") == 0;
    if (!migrate && strcmp(cmd, "tenant") != 0 && strcmp(cmd, "client") != 0) {
        usage(stderr);
        return NOVA_EXIT_USAGE;
    }
    /* The CLI's own log lines would only clutter its output. */
    setenv("NOVA_LOG_LEVEL", getenv("NOVA_LOG_LEVEL") ? getenv("NOVA_LOG_LEVEL") : "warn", 1);
    nova_app_t app;
    char err[512];
    int rc;
    if (nova_app_open(&app, config, migrate, true, err, sizeof(err), &rc) != NOVA_OK) {
        if (json_out) {
            json_t *o = json_pack("{s:s, s:s}", "error", "startup", "message", err);
            char *s = json_dumps(o, JSON_COMPACT);
            fprintf(stderr, "%s\n", s ? s : "{}");
            free(s);
            json_decref(o);
        } else {
            fprintf(stderr, "novactl: %s\n", err);
        }
        return rc;
    }
    nova_arena_t ar;
    nova_arena_init(&ar, 8192);
    if (migrate) {
        int v = 0;
        nova_store_schema_version(app.store, &v);
        if (json_out)
            printf("{\"schema_version\":%d}\n", v);
        else
            printf("schema version %d\n", v);
        rc = NOVA_EXIT_OK;
    } else if (strcmp(cmd, "tenant") == 0) {
        rc = tenant_cmd(&app, &ar, argc - i, argv + i);
    } else {
        rc = client_cmd(&app, &ar, argc - i, argv + i);
    }
    nova_arena_free(&ar);
    nova_app_close(&app);
    return rc;
}
