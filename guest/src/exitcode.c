/*
 * exitcode - exits with the status it is given, printing nothing.
 *
 * Usage: exitcode [N]      (N defaults to 0; exit status is N & 255)
 * The smallest program to exec: used by the vfork/spawn tests and the spawn
 * benchmark.
 */
#include <stdlib.h>

int main(int argc, char **argv)
{
	return argc > 1 ? atoi(argv[1]) : 0;
}
