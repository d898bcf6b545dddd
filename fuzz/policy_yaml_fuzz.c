/*
 * policy_yaml_fuzz.c: libFuzzer target for the YAML reader of OpenFGA test files
 * (nova_policy_yaml_parse). Whatever it accepts must be JSON that dumps and loads back equal;
 * nothing may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nova/policy_test.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    json_t *j = nova_policy_yaml_parse((const char *)data, size, err, sizeof(err));
    if (!j)
        return 0;
    char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    json_t *back = s ? json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
    if (s && (!back || !json_equal(j, back)))
        abort();
    free(s);
    json_decref(back);
    json_decref(j);
    return 0;
}
