/*
 * workflow_fuzz.c: libFuzzer target for workflow validation (a tenant's workflow JSON is outside
 * input). It returns; a refusal names a field (a JSON Pointer or "") and a reason; an accepted
 * workflow has OCR first, unique ids and dependencies only on earlier steps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nova/workflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nova_workflow_def_t w;
    char field[128], why[256];
    nova_status st = nova_workflow_validate((const char *)data, size, &w, field, sizeof(field), why,
                                            sizeof(why));
    if (st != NOVA_OK) {
        if (st != NOVA_INVALID || why[0] == '\0' || (field[0] != '\0' && field[0] != '/'))
            abort();
        return 0;
    }
    if (w.nsteps == 0 || w.steps[0].check != NOVA_CHECK_OCR || w.reject_below > w.approve_at)
        abort();
    for (size_t i = 0; i < w.nsteps; i++) {
        for (size_t k = 0; k < i; k++)
            if (strcmp(w.steps[i].id, w.steps[k].id) == 0)
                abort();
        for (size_t d = 0; d < w.steps[i].ndeps; d++)
            if (w.steps[i].deps[d] >= i)
                abort();
    }
    return 0;
}
