/*
 * mem_anon: anonymous mappings survive with their contents and their protections. A written
 * read-write region with a PROT_NONE guard page at each end; a region made read-only after it
 * was written; a region of code made read-exec; a large region never touched; a small region to
 * grow. After the restart contents are intact, the guards and the read-only region fault when
 * touched, the code runs, the untouched region reads as zeros and takes writes, and the memory
 * still behaves as anonymous memory does: pages dropped with MADV_DONTNEED read back as zeros,
 * and mremap grows a region with zeros.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <stdint.h>
#include <sys/mman.h>

#define PAGE 4096
#define GUARDED_PAGES 64
#define READ_ONLY_PAGES 16
#define UNTOUCHED_SIZE (16u << 20)
#define GROWING_PAGES 4
#define GROWN_PAGES 4096

static unsigned char *guarded, *read_only, *code, *untouched, *growing;

static unsigned char pattern(unsigned region, size_t j) { return (unsigned char)(region * 71 + j * 13 + (j >> 12)); }

static unsigned char *map(size_t size, int prot)
{
	void *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	zdtm_check(p != MAP_FAILED, "mmap of %zu bytes failed: %s", size, strerror(errno));
	return p;
}

static void set_up(void)
{
	/* pages 0 and GUARDED_PAGES + 1 are the guards */
	guarded = map((GUARDED_PAGES + 2) * PAGE, PROT_READ | PROT_WRITE);
	for (size_t j = 0; j < GUARDED_PAGES * PAGE; j++)
		guarded[PAGE + j] = pattern(1, j);
	mprotect(guarded, PAGE, PROT_NONE);
	mprotect(guarded + (GUARDED_PAGES + 1) * PAGE, PAGE, PROT_NONE);

	read_only = map(READ_ONLY_PAGES * PAGE, PROT_READ | PROT_WRITE);
	for (size_t j = 0; j < READ_ONLY_PAGES * PAGE; j++)
		read_only[j] = pattern(2, j);
	mprotect(read_only, READ_ONLY_PAGES * PAGE, PROT_READ);

	static const unsigned char return_42[] = { 0xb8, 42, 0, 0, 0, 0xc3 };	/* mov $42, %eax; ret */
	code = map(PAGE, PROT_READ | PROT_WRITE);
	memcpy(code, return_42, sizeof return_42);
	mprotect(code, PAGE, PROT_READ | PROT_EXEC);

	untouched = map(UNTOUCHED_SIZE, PROT_READ | PROT_WRITE);

	growing = map(GROWING_PAGES * PAGE, PROT_READ | PROT_WRITE);
	for (size_t j = 0; j < GROWING_PAGES * PAGE; j++)
		growing[j] = pattern(3, j);
}

static void check_region(const unsigned char *p, size_t size, unsigned region, const char *name, const char *perms)
{
	for (size_t j = 0; j < size; j++)
		zdtm_check(p[j] == pattern(region, j), "%s region byte %zu is %#x, not %#x", name, j, p[j], pattern(region, j));
	zdtm_check(!strcmp(zdtm_perms_at(p), perms), "%s region shows as %s in maps, not %s", name, zdtm_perms_at(p), perms);
}

static void check(void)
{
	check_region(guarded + PAGE, GUARDED_PAGES * PAGE, 1, "guarded", "rw-p");
	zdtm_check(!zdtm_faults((char *)guarded + PAGE, 1), "the guarded region does not take writes");
	zdtm_check(zdtm_faults((char *)guarded, 0), "the low guard page can be read");
	zdtm_check(zdtm_faults((char *)guarded + (GUARDED_PAGES + 1) * PAGE, 0), "the high guard page can be read");
	zdtm_check(!strcmp(zdtm_perms_at(guarded), "---p"), "the low guard page shows as %s, not ---p", zdtm_perms_at(guarded));

	check_region(read_only, READ_ONLY_PAGES * PAGE, 2, "read-only", "r--p");
	zdtm_check(zdtm_faults((char *)read_only + 5 * PAGE, 1), "the read-only region takes writes");

	zdtm_check(((int (*)(void))(void *)code)() == 42, "the code region does not return 42");
	zdtm_check(!strcmp(zdtm_perms_at(code), "r-xp"), "the code region shows as %s, not r-xp", zdtm_perms_at(code));

	for (size_t j = 0; j < UNTOUCHED_SIZE; j += PAGE)
		zdtm_check(untouched[j] == 0, "untouched region byte %zu is not zero", j);
	memset(untouched, 0x33, UNTOUCHED_SIZE);
}

/* What allocators rely on: dropped pages come back as zeros, a grown region's new part is zeros */
static void check_anonymous_behaviour(void)
{
	zdtm_check(madvise(guarded + PAGE, 4 * PAGE, MADV_DONTNEED) == 0, "madvise(MADV_DONTNEED) failed");
	for (size_t j = 0; j < 4 * PAGE; j++)
		zdtm_check(guarded[PAGE + j] == 0, "after MADV_DONTNEED, byte %zu reads %#x, not 0", j, guarded[PAGE + j]);

	unsigned char *grown = mremap(growing, GROWING_PAGES * PAGE, GROWN_PAGES * PAGE, MREMAP_MAYMOVE);
	zdtm_check(grown != MAP_FAILED, "mremap could not grow the region: %s", strerror(errno));
	for (size_t j = 0; j < GROWING_PAGES * PAGE; j++)
		zdtm_check(grown[j] == pattern(3, j), "mremap lost byte %zu of the region", j);
	for (size_t j = GROWING_PAGES * PAGE; j < GROWN_PAGES * PAGE; j += 512)
		zdtm_check(!zdtm_faults((char *)grown + j, 0) && grown[j] == 0, "the part mremap added is not zeros at byte %zu", j);
	memset(grown, 0x44, GROWN_PAGES * PAGE);
	for (size_t j = 0; j < GROWN_PAGES * PAGE; j += PAGE)
		zdtm_check(grown[j] == 0x44, "the grown region does not keep what was written");
}

int main(void)
{
	set_up();
	zdtm_ready();
	zdtm_wait();
	check();
	check_anonymous_behaviour();
	zdtm_pass();
}
