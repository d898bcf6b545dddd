/* scim_filter_fuzz: the SCIM filter parser (src/people/scim_filter.c), fed the bytes of a
 * ?filter= query as an IdP sends them, and the PATCH path parser on the same bytes (a
 * Groups PATCH's "path", such as members[value eq "..."]). A parsed filter is matched against
 * a fixed user's attributes, a path's value filter against a group member's. Accepted or
 * refused, nothing may crash, leak or read out of bounds; a refusal must say why. */
#include <stdint.h>
#include <stdlib.h>

#include "nova/base.h"
#include "nova/people.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nova_arena_t ar;
    nova_arena_init(&ar, 4096);
    const nova_scim_filter_t *f = NULL;
    const char *why = NULL;
    nova_status st = nova_scim_filter_parse(&ar, (const char *)data, size, &f, &why);
    if (st == NOVA_OK) {
        if (f == NULL)
            abort();
        const nova_scim_attr_t attrs[] = {
            {.path = "id", .str = "usr_1", .case_exact = true},
            {.path = "username", .str = "person@example.com"},
            {.path = "emails.value", .str = "person@example.com"},
            {.path = "emails.type", .str = "work"},
            {.path = "externalid", .str = NULL, .case_exact = true},
            {.path = "active", .is_bool = true, .b = true},
            {.path = "groups.value", .str = "grp_1", .case_exact = true},
            {.path = "groups", .str = "grp_1", .case_exact = true},
            {.path = "groups.display", .str = "Tellers"},
        };
        size_t n = sizeof(attrs) / sizeof(attrs[0]);
        /* Without the groups' values a filter that does not mention groups decides the same. */
        if (!nova_scim_filter_mentions(f, "groups") &&
            nova_scim_filter_match(f, attrs, n) != nova_scim_filter_match(f, attrs, n - 3))
            abort();
    } else if (why == NULL || st != NOVA_INVALID) {
        abort();
    }
    nova_scim_path_t path;
    why = NULL;
    st = nova_scim_path_parse(&ar, (const char *)data, size, &path, &why);
    if (st == NOVA_OK) {
        if (path.attr == NULL || path.attr[0] == '\0')
            abort();
        const nova_scim_attr_t member[] = {
            {.path = "members.value", .str = "usr_1", .case_exact = true},
            {.path = "members.type", .str = "User"},
            {.path = "members.$ref", .str = "/scim/v2/Users/usr_1", .case_exact = true},
        };
        if (path.filter)
            (void)nova_scim_filter_match(path.filter, member, sizeof(member) / sizeof(member[0]));
    } else if (why == NULL || st != NOVA_INVALID) {
        abort();
    }
    nova_arena_free(&ar);
    return 0;
}
