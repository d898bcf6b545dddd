/* entry.c: building the entry a mutation passes to the store. */
#include <string.h>

#include <jansson.h>

#include "nova/audit.h"

nova_status nova_audit_entry_make(nova_audit_entry_t *e, nova_arena_t *ar,
                                  const nova_audit_actor_t *by, const char *tenant_id,
                                  const char *action, const char *target_type,
                                  const char *target_id, json_t *attrs)
{
    memset(e, 0, sizeof(*e));
    if (by == NULL || by->id == NULL || tenant_id == NULL || target_id == NULL) {
        json_decref(attrs);
        return NOVA_INVALID;
    }
    if (by->request_id) {
        if (attrs == NULL)
            attrs = json_object();
        if (attrs == NULL || json_object_set_new(attrs, "request_id", json_string(by->request_id)))
            goto nomem;
    }
    e->tenant_id = tenant_id;
    e->actor = by->id;
    e->action = action;
    e->target = nova_arena_printf(ar, "%s:%s", target_type, target_id);
    if (e->target == NULL)
        goto nomem;
    return nova_audit_attrs(ar, attrs, &e->attrs);
nomem:
    json_decref(attrs);
    return NOVA_NOMEM;
}
