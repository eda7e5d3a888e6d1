/*
 * [ - the same program as test (see test.c), used as [ EXPR ].
 */
#include "test.c"
