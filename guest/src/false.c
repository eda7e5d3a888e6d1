/*
 * false - do nothing, unsuccessfully.
 *
 * Usage: false [ARG...]    Exits 1. (The shell also has it as a builtin.)
 */
int main(void)
{
	return 1;
}
