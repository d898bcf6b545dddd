/*
 * custom_reply_fuzz.c: libFuzzer target for the reply of a tenant's custom check (the body its
 * receiver answers, outside input) through idv_custom_reply_parse. It returns; an accepted reply
 * has one of the three statuses, a score in [0, 1] and at most 16 reasons, all strings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/idv/gateway/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    idv_check_out_t out = {0};
    nova_status st = idv_custom_reply_parse((const char *)data, size, &out);
    if (st == NOVA_OK) {
        if (strcmp(out.status, "passed") != 0 && strcmp(out.status, "failed") != 0 &&
            strcmp(out.status, "review") != 0)
            abort();
        if (!(out.score >= 0.0 && out.score <= 1.0) || json_array_size(out.reasons) > 16)
            abort();
        for (size_t i = 0; i < json_array_size(out.reasons); i++)
            if (!json_is_string(json_array_get(out.reasons, i)))
                abort();
    } else if (st != NOVA_INVALID) {
        abort();
    }
    json_decref(out.reasons);
    return 0;
}
