/*
 * mem_guard: guard pages (MADV_GUARD_INSTALL, Linux 6.13; CRIU's maps12) come back as guards.
 * In an 8-page read-write region, pages 2 and 3 and page 6 are made guard pages and the others
 * written. (A checkpoint that read them would fault: they are not stored.) After the restart the
 * region is one read-write region, the guard pages fault when read and pagemap marks them so
 * (bit 58), and the other pages hold their contents and take writes.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <stdint.h>
#include <sys/mman.h>

#define PAGE 4096
#define PAGES 8
#define MADV_GUARD_INSTALL_ 102	/* Linux 6.13; the C libraries' headers may lack it */
#define PM_GUARD_REGION (1ULL << 58)

static int is_guard(int page) { return page == 2 || page == 3 || page == 6; }

static uint64_t pagemap_entry(const void *at)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	zdtm_check(fd >= 0 && pread(fd, &e, sizeof e, (off_t)((uintptr_t)at / PAGE * sizeof e)) == sizeof e, "cannot read pagemap");
	close(fd);
	return e;
}

int main(void)
{
	char *region = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	zdtm_check(region != MAP_FAILED, "mmap: %s", strerror(errno));
	for (int i = 0; i < PAGES; i++)
		if (is_guard(i))
			zdtm_check(madvise(region + i * PAGE, PAGE, MADV_GUARD_INSTALL_) == 0, "MADV_GUARD_INSTALL: %s", strerror(errno));
		else
			memset(region + i * PAGE, 'a' + i, PAGE);
	zdtm_ready();
	zdtm_wait();

	zdtm_check(!strcmp(zdtm_perms_at(region), "rw-p"), "the region shows as %s", zdtm_perms_at(region));
	for (int i = 0; i < PAGES; i++) {
		char *page = region + i * PAGE;
		if (is_guard(i)) {
			zdtm_check(zdtm_faults(page, 0), "guard page %d can be read", i);
			zdtm_check(pagemap_entry(page) & PM_GUARD_REGION, "pagemap does not mark page %d as a guard", i);
			continue;
		}
		for (int j = 0; j < PAGE; j++)
			zdtm_check(page[j] == 'a' + i, "page %d byte %d is %#x", i, j, page[j]);
		zdtm_check(!zdtm_faults(page, 1), "page %d does not take writes", i);
	}
	zdtm_pass();
}
