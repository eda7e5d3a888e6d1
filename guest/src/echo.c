/*
 * echo - print the arguments, separated by spaces, and a newline.
 *
 * Usage: echo [-n] [-e] [ARG...] (see guest/include/echo.h, shared with the
 * shell's builtin). Exits 0 (1 if writing fails).
 */
#include "echo.h"

int main(int argc, char **argv)
{
	return echo_args(argc, argv);
}
