/*
 * spin - compute forever, without a syscall: a program that only a timeout
 * ends (tests of --timeout and of runners' time limits).
 *
 * Usage: spin
 */
int main(void)
{
	for (volatile unsigned x = 0;; x++)
		;
}
