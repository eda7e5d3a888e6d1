/*
 * true - do nothing, successfully.
 *
 * Usage: true [ARG...]     Exits 0. (The shell also has it as a builtin.)
 */
int main(void)
{
	return 0;
}
