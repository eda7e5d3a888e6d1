/* stack_overflow linked with a 1 MiB stack: see stack_overflow.c. */
#include "stack_overflow.c"
