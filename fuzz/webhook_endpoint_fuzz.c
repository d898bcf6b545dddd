/*
 * webhook_endpoint_fuzz.c: libFuzzer target for a tenant's webhook endpoint configuration
 * (POST /v1/webhooks/endpoints: a JSON body with a URL, event types and PEM certificates and
 * keys, all outside input) through nova_endpoint_parse, which also runs the PEM and pin checks
 * of nova_webhook_tls_check. It returns; a refusal names a field and a reason; an accepted
 * configuration has an https URL and known, space-separated event types.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nova/events.h"
#include "nova/webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (body == NULL)
        return 0;
    nova_arena_t a;
    nova_arena_init(&a, 4096);
    nova_endpoint_in_t in;
    nova_events_problem_t pb;
    nova_status st = nova_endpoint_parse(&a, body, &in, &pb);
    if (st == NOVA_INVALID) {
        if (pb.field == NULL || pb.why == NULL || *pb.why == '\0')
            abort();
    } else if (st == NOVA_OK) {
        if (!nova_webhook_url_valid(in.url) || in.events == NULL || *in.events == '\0')
            abort();
        char *list = strdup(in.events);
        for (char *t = strtok(list, " "); t; t = strtok(NULL, " "))
            if (!nova_event_type_valid(t))
                abort();
        free(list);
    }
    nova_arena_free(&a);
    json_decref(body);
    return 0;
}
