/* Strings and memory: the few libc-like helpers the runtime needs, since it links no libc. */
#include "lib/lib.h"

size_t rt_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* Value of NAME in an envp array, or 0 */
const char *rt_getenv(char **envp, const char *name)
{
	size_t len = rt_strlen(name);
	for (; envp && *envp; envp++) {
		const char *e = *envp;
		size_t i = 0;
		while (i < len && e[i] == name[i])
			i++;
		if (i == len && e[i] == '=')
			return e + len + 1;
	}
	return 0;
}

/* gcc may emit calls to memcpy and memset for struct copies: provide them, hidden */
void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;
	__asm__ volatile ("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

int rt_memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}

void *rt_memcpy(void *dst, const void *src, size_t n)
{
	return memcpy(dst, src, n);
}

int rt_starts_with(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

int rt_streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* S copied to OUT with its NUL; returns where the next piece goes (the NUL), so pieces chain */
char *rt_put(char *out, const char *s)
{
	while ((*out = *s++))
		out++;
	return out;
}
