/*
 * mem_zero_region: an anonymous region whose every page exists and holds only zeros (each written
 * with a zero) survives: the image stores none of its pages (they are holes, docs/image-format.md),
 * its region record is left with no data, and that record must still check out at restart. After
 * the restart the region is where it was, writable, and all zeros.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/mman.h>

#define SIZE (1 << 20)

int main(void)
{
	volatile unsigned char *zeros = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	zdtm_check(zeros != MAP_FAILED, "mmap failed: %s", strerror(errno));
	for (size_t i = 0; i < SIZE; i += 4096)
		zeros[i] = 0;	/* present, and zero */
	zdtm_ready();
	zdtm_wait();

	for (size_t i = 0; i < SIZE; i++)
		zdtm_check(zeros[i] == 0, "byte %zu of the zero region is %d", i, zeros[i]);
	zdtm_check(!zdtm_faults((volatile char *)zeros + SIZE / 2, 1), "the zero region is not writable");
	zdtm_pass();
}
