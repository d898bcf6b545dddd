/*
 * workflows.c: tenants' workflows as data (nova/idv.h). A workflow is validated by
 * src/idv/workflow.c, then checked against what this server can run (the check table), and
 * stored as a new version; the versions are immutable.
 *
 * Cache: the control plane holds each workflow's newest version under idv:wf:<tenant>:<id>
 * (60 s) and each version under idv:wf:<tenant>:<id>@<version> (a day; versions never change).
 * A write stores the new version and then sets the newest entry, so with Redis every novad
 * reads the new version from the next request on. With the in-process control plane a change
 * made by another process (novactl) reaches a running novad when its entry expires (60 s).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "nova/log.h"

#define WF_CACHE_NEWEST_MS 60000u
#define WF_CACHE_VERSION_MS 86400000u

static void cache_key(char *k, size_t n, const char *tenant, const char *id, int64_t version)
{
    if (version)
        snprintf(k, n, "idv:wf:%s:%s@%lld", tenant, id, (long long)version);
    else
        snprintf(k, n, "idv:wf:%s:%s", tenant, id);
}

static void cache_put(nova_kv_t *kv, const nova_idv_workflow_row_t *w, bool newest)
{
    if (kv == NULL)
        return;
    json_t *o = json_pack("{s:I, s:s, s:s, s:I, s:s}", "v", (json_int_t)w->version, "n", w->name,
                          "d", w->definition, "c", (json_int_t)w->created_at, "b", w->created_by);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    char key[NOVA_KV_KEY_MAX];
    if (text && strlen(text) < NOVA_KV_VALUE_MAX) {
        cache_key(key, sizeof(key), w->tenant_id, w->id, w->version);
        nova_kv_set(kv, key, text, strlen(text), WF_CACHE_VERSION_MS);
        if (newest) {
            cache_key(key, sizeof(key), w->tenant_id, w->id, 0);
            nova_kv_set(kv, key, text, strlen(text), WF_CACHE_NEWEST_MS);
        }
    }
    free(text);
}

static bool cache_get(nova_kv_t *kv, nova_arena_t *a, const char *tenant, const char *id,
                      int64_t version, nova_idv_workflow_row_t *out)
{
    char key[NOVA_KV_KEY_MAX], *val = NULL;
    size_t len = 0;
    if (kv == NULL)
        return false;
    cache_key(key, sizeof(key), tenant, id, version);
    if (nova_kv_get(kv, key, a, &val, &len) != NOVA_OK)
        return false;
    json_t *o = json_loadb(val, len, 0, NULL);
    const char *n = json_string_value(json_object_get(o, "n"));
    const char *d = json_string_value(json_object_get(o, "d"));
    const char *b = json_string_value(json_object_get(o, "b"));
    bool ok = n && d && b && json_is_integer(json_object_get(o, "v"));
    if (ok) {
        out->tenant_id = nova_arena_strdup(a, tenant);
        out->id = nova_arena_strdup(a, id);
        out->version = json_integer_value(json_object_get(o, "v"));
        out->name = nova_arena_strdup(a, n);
        out->definition = nova_arena_strdup(a, d);
        out->created_by = nova_arena_strdup(a, b);
        out->created_at = json_integer_value(json_object_get(o, "c"));
        ok = out->tenant_id && out->id && out->name && out->definition && out->created_by;
    }
    json_decref(o);
    return ok;
}

static nova_status refuse(nova_idv_problem_t *pb, const char *field, const char *why)
{
    snprintf(pb->field, sizeof(pb->field), "%s", field);
    snprintf(pb->why, sizeof(pb->why), "%s", why);
    return NOVA_INVALID;
}

bool idv_workflow_runnable(const nova_workflow_def_t *def, json_t *definition,
                           nova_idv_problem_t *pb)
{
    for (size_t i = 0; i < def->nsteps; i++) {
        const idv_check_t *c = idv_check_find(def->steps[i].check);
        if (c == NULL || c->run == NULL) {
            snprintf(pb->field, sizeof(pb->field), "/steps/%zu/check", i);
            snprintf(pb->why, sizeof(pb->why), "%s: %s", nova_check_name(def->steps[i].check),
                     c ? c->unavailable : "unknown check");
            return false;
        }
    }
    (void)definition;
    return true;
}

nova_status nova_idv_workflow_put(nova_kv_t *kv, nova_store_t *s, nova_arena_t *a,
                                  const nova_audit_actor_t *by, const char *tenant_id,
                                  const char *id, const char *json, size_t len,
                                  nova_idv_workflow_row_t *out, nova_idv_problem_t *pb)
{
    nova_workflow_def_t def;
    memset(pb, 0, sizeof(*pb));
    if (nova_workflow_validate(json, len, &def, pb->field, sizeof(pb->field), pb->why,
                               sizeof(pb->why)) != NOVA_OK)
        return NOVA_INVALID;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    if (o == NULL)
        return refuse(pb, "", "not a JSON object");
    if (!idv_workflow_runnable(&def, o, pb)) {
        json_decref(o);
        return NOVA_INVALID;
    }
    /* The stored text is jansson's canonical form of what was validated. */
    char *canon = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (canon == NULL)
        return NOVA_NOMEM;
    char newid[40];
    bool create = id == NULL;
    if (create && nova_id_new("wf_", newid, sizeof(newid)) != NOVA_OK) {
        free(canon);
        return NOVA_INTERNAL;
    }
    memset(out, 0, sizeof(*out));
    out->tenant_id = nova_arena_strdup(a, tenant_id);
    out->id = nova_arena_strdup(a, create ? newid : id);
    out->name = nova_arena_strdup(a, def.name);
    out->definition = nova_arena_strdup(a, canon);
    out->created_by = nova_arena_strdup(a, by && by->id ? by->id : "system");
    out->created_at = nova_time_now();
    free(canon);
    if (!out->tenant_id || !out->id || !out->name || !out->definition || !out->created_by)
        return NOVA_NOMEM;
    nova_audit_entry_t e;
    json_t *attrs = json_pack("{s:s, s:I}", "name", def.name, "steps", (json_int_t)def.nsteps);
    nova_status st =
        nova_audit_entry_make(&e, a, by, tenant_id, create ? "workflow.create" : "workflow.update",
                              "workflow", out->id, attrs);
    if (st != NOVA_OK)
        return st;
    st = nova_store_idv_workflow_put(s, out, create, &e, &out->version);
    if (st == NOVA_OK)
        cache_put(kv, out, true);
    return st;
}

nova_status nova_idv_workflow_get(nova_kv_t *kv, nova_store_t *s, nova_arena_t *a,
                                  const char *tenant_id, const char *id, int64_t version,
                                  nova_idv_workflow_row_t *out)
{
    if (cache_get(kv, a, tenant_id, id, version, out))
        return NOVA_OK;
    nova_status st = nova_store_idv_workflow_get(s, a, tenant_id, id, version, out);
    if (st == NOVA_OK)
        cache_put(kv, out, version == 0);
    return st;
}

json_t *nova_idv_workflow_json(const nova_idv_workflow_row_t *w)
{
    json_t *def = json_loads(w->definition, 0, NULL);
    return json_pack("{s:s, s:I, s:s, s:o, s:I, s:s}", "id", w->id, "version",
                     (json_int_t)w->version, "name", w->name, "definition",
                     def ? def : json_object(), "created_at", (json_int_t)w->created_at,
                     "created_by", w->created_by);
}

/* ---- novactl workflow ---- */

static char *read_all(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
        if (n == cap) {
            char *nb = cap < (1u << 20) ? realloc(buf, cap * 2) : NULL;
            if (nb == NULL) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (f != stdin)
        fclose(f);
    *len = n;
    return buf;
}

static void print_json(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    printf("%s\n", s ? s : "{}");
    free(s);
    json_decref(o);
}

static int exit_for(nova_status st)
{
    switch (st) {
    case NOVA_OK:
        return 0;
    case NOVA_INVALID:
        return 6;
    case NOVA_NOT_FOUND:
        return 7;
    case NOVA_CONFLICT:
        return 8;
    case NOVA_UNAVAILABLE:
        return 4;
    default:
        return 1;
    }
}

static int ctl_fail(nova_status st, const char *field, const char *why, bool json_out)
{
    if (json_out) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "error", nova_status_name(st), "field",
                              field ? field : "", "message", why ? why : "");
        char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
        fprintf(stderr, "%s\n", t ? t : "{}");
        free(t);
        json_decref(o);
    } else {
        fprintf(stderr, "novactl: workflow: %s%s%s\n", field && *field ? field : "",
                field && *field ? ": " : "", why ? why : nova_status_name(st));
    }
    return exit_for(st);
}

int nova_idv_ctl_workflow(nova_store_t *s, const char *redis_url, const char *verb,
                          const char *tenant_id, const char *const *args, bool json_out)
{
    nova_arena_t a;
    nova_arena_init(&a, 8192);
    nova_kv_t *kv = NULL;
    char err[256];
    int rc = 0;
    static const nova_audit_actor_t by = {.id = "novactl"};
    /* With a shared control plane, novactl's writes refresh every novad's cache at once. */
    if (redis_url && *redis_url && nova_kv_open(redis_url, NULL, &kv, err, sizeof(err))) {
        rc = ctl_fail(NOVA_UNAVAILABLE, "", err, json_out);
        goto end;
    }
    nova_idv_workflow_row_t w;
    if (strcmp(verb, "create") == 0 || strcmp(verb, "update") == 0) {
        bool create = verb[0] == 'c';
        const char *file = create ? args[0] : args[1];
        size_t len = 0;
        char *text = read_all(file, &len);
        if (text == NULL) {
            rc = ctl_fail(NOVA_INVALID, file, "cannot read the file", json_out);
            goto end;
        }
        nova_idv_problem_t pb;
        nova_status st = nova_idv_workflow_put(kv, s, &a, &by, tenant_id, create ? NULL : args[0],
                                               text, len, &w, &pb);
        free(text);
        if (st) {
            rc = ctl_fail(st, st == NOVA_INVALID ? pb.field : "",
                          st == NOVA_INVALID ? pb.why : nova_status_name(st), json_out);
            goto end;
        }
    } else if (strcmp(verb, "show") == 0) {
        nova_status st = nova_idv_workflow_get(NULL, s, &a, tenant_id, args[0], 0, &w);
        if (st) {
            rc = ctl_fail(st, "", st == NOVA_NOT_FOUND ? "no such workflow" : NULL, json_out);
            goto end;
        }
    } else {
        nova_idv_workflow_row_t *rows = NULL;
        size_t n = 0;
        nova_status st = nova_store_idv_workflow_list(s, &a, tenant_id, &rows, &n);
        if (st) {
            rc = ctl_fail(st, "", NULL, json_out);
            goto end;
        }
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            if (json_out)
                json_array_append_new(arr, nova_idv_workflow_json(&rows[i]));
            else
                printf("%s  v%lld  %s\n", rows[i].id, (long long)rows[i].version, rows[i].name);
        }
        if (json_out)
            print_json(json_pack("{s:o}", "workflows", arr));
        else
            json_decref(arr);
        goto end;
    }
    if (json_out)
        print_json(nova_idv_workflow_json(&w));
    else
        printf("%s  v%lld  %s\n", w.id, (long long)w.version, w.name);
end:
    nova_kv_close(kv);
    nova_arena_free(&a);
    return rc;
}
