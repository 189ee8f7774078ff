/*
 * brk_grow: the program break survives and keeps moving. The sample grows the break by 1 MiB and
 * fills it. After the restart the break is where it was and the memory below it intact; growing
 * by 2 MiB more gives writable memory that starts at the old break; shrinking by those 2 MiB
 * brings the break back, the memory above it is gone and the 1 MiB below it still intact.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <stdint.h>
#include <sys/syscall.h>

#define FIRST (1 << 20)
#define SECOND (2 << 20)
#define PAGE 4096

/* sbrk as glibc has it. musl's sbrk only reports the break, so there the brk call makes it */
static char *grow(intptr_t by)
{
#ifdef __GLIBC__
	return sbrk(by);
#else
	char *old = (char *)syscall(SYS_brk, 0);
	return (char *)syscall(SYS_brk, old + by) == old + by ? old : (char *)-1;
#endif
}

static unsigned char byte_at(size_t j) { return (unsigned char)(j * 13 + (j >> 12) + 5); }

int main(void)
{
	char *start = grow(0), *first = grow(FIRST);
	zdtm_check(first == start, "sbrk did not grow from the break");
	for (size_t j = 0; j < FIRST; j++)
		first[j] = (char)byte_at(j);
	zdtm_ready();
	zdtm_wait();

	char *end = grow(0);
	zdtm_check(end == start + FIRST, "the break is at %p, not %p", (void *)end, (void *)(start + FIRST));
	char *second = grow(SECOND);
	zdtm_check(second == end, "growing again gave %p, not the old break %p", (void *)second, (void *)end);
	memset(second, 0x77, SECOND);
	for (size_t j = 0; j < SECOND; j += PAGE)
		zdtm_check((unsigned char)second[j] == 0x77, "the grown memory does not keep what was written");
	zdtm_check(grow(-SECOND) != (char *)-1 && grow(0) == end, "shrinking did not bring the break back to %p", (void *)end);
	zdtm_check(zdtm_faults(second + SECOND - PAGE, 0), "memory above the shrunk break can still be read");
	for (size_t j = 0; j < FIRST; j++)
		zdtm_check((unsigned char)first[j] == byte_at(j), "break memory byte %zu is %#x, not %#x",
			j, (unsigned char)first[j], byte_at(j));
	zdtm_pass();
}
