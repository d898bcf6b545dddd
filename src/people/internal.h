/* internal.h: what the people module's files share. Not a public interface. */
#ifndef NOVA_PEOPLE_INTERNAL_H
#define NOVA_PEOPLE_INTERNAL_H

#include <stdio.h>

#include "nova/people.h"

#endif
