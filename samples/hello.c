/* hello: the smallest observable behaviour -- one line on each output
 * stream and a nonzero exit status, so a harness can check all three. */
#include <stdio.h>

int main(void)
{
	puts("hello from stdout");
	fputs("hello from stderr\n", stderr);
	return 3;
}
