/* Numbers written as text for messages, paths and the environment. */
#include "lib/lib.h"

/* Decimal digits of v, NUL-terminated, into buf (at least 21 bytes); returns the end */
char *rt_utoa(uint64_t v, char *buf)
{
	char tmp[21];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*buf++ = tmp[--n];
	*buf = 0;
	return buf;
}
