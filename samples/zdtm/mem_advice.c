/*
 * mem_advice: what madvise, mlock and mmap set on a region survives (CRIU's maps02, grow_map,
 * mlock, thp_disable's per-region part): regions advised MADV_DONTFORK, MADV_DONTDUMP,
 * MADV_NOHUGEPAGE, MADV_HUGEPAGE, MADV_RANDOM, MADV_SEQUENTIAL and MADV_WIPEONFORK, one locked
 * with mlock and one with mlock2(MLOCK_ONFAULT), and a MAP_GROWSDOWN mapping with room below it.
 * After the restart /proc/self/smaps shows each region's flag (and no flag a region did not
 * have), the contents are intact, a child does not get the DONTFORK region and sees the
 * WIPEONFORK region as zeros, and the MAP_GROWSDOWN mapping grows when the page below it is
 * touched.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/mman.h>
#include <sys/syscall.h>

#define PAGE 4096
#define PAGES 4
#define SIZE (PAGES * PAGE)
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

struct advised { const char *what; int advice; const char *flag; char *at; };

static struct advised regions[] = {
	{ "MADV_DONTFORK", MADV_DONTFORK, "dc", 0 }, { "MADV_DONTDUMP", MADV_DONTDUMP, "dd", 0 },
	{ "MADV_NOHUGEPAGE", MADV_NOHUGEPAGE, "nh", 0 }, { "MADV_HUGEPAGE", MADV_HUGEPAGE, "hg", 0 },
	{ "MADV_RANDOM", MADV_RANDOM, "rr", 0 }, { "MADV_SEQUENTIAL", MADV_SEQUENTIAL, "sr", 0 },
	{ "MADV_WIPEONFORK", MADV_WIPEONFORK, "wf", 0 }, { "mlock", -1, "lo", 0 }, { "mlock2 MLOCK_ONFAULT", -2, "lf", 0 },
};
#define NREGIONS (sizeof regions / sizeof regions[0])
static const char *const all_flags[] = { "dc", "dd", "nh", "hg", "rr", "sr", "wf", "lo", "lf", "gd" };

static char smaps[1 << 20];

/* The VmFlags line of the region starting at `at` in /proc/self/smaps, or "" */
static const char *vmflags_of(const void *at)
{
	static char line[256];
	size_t len = 0;
	ssize_t n;
	int fd = open("/proc/self/smaps", O_RDONLY);
	while (fd >= 0 && len < sizeof smaps - 1 && (n = read(fd, smaps + len, sizeof smaps - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	smaps[len] = 0;
	char head[32];
	snprintf(head, sizeof head, "%lx-", (unsigned long)at);
	for (char *s = smaps; (s = strstr(s, head)); s++) {
		if (s != smaps && s[-1] != '\n')
			continue;
		char *flags = strstr(s, "VmFlags:"), *end = flags ? strchr(flags, '\n') : NULL;
		if (!end)
			break;
		snprintf(line, sizeof line, "%.*s ", (int)(end - flags), flags);
		return line;
	}
	return "";
}

static int has_flag(const char *line, const char *flag)
{
	char word[8];
	snprintf(word, sizeof word, " %s ", flag);
	return strstr(line, word) != NULL;
}

static char *map_region(void)
{
	char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	zdtm_check(p != MAP_FAILED, "mmap: %s", strerror(errno));
	return p;
}

/* Each region's own flag, and none of the others it was not given */
static void check_flags(struct advised *r, char *grows)
{
	for (size_t i = 0; i < NREGIONS; i++) {
		const char *line = vmflags_of(regions[i].at);
		for (size_t f = 0; f < sizeof all_flags / sizeof all_flags[0]; f++) {
			int want = !strcmp(all_flags[f], regions[i].flag) ||
				   (regions[i].advice == -2 && !strcmp(all_flags[f], "lo"));	/* MLOCK_ONFAULT locks too */
			zdtm_check(has_flag(line, all_flags[f]) == want, "the %s region's %s%s flag %s (VmFlags:%s)", regions[i].what,
				want ? "" : "unexpected ", all_flags[f], want ? "is gone" : "is there", line + 8);
		}
	}
	(void)r;
	zdtm_check(has_flag(vmflags_of(grows), "gd"), "the MAP_GROWSDOWN mapping lost its flag (VmFlags:%s)", vmflags_of(grows) + 8);
}

/* In a child: 0 when the DONTFORK region is absent and the WIPEONFORK region reads as zeros */
static int child_checks(void)
{
	if (!zdtm_faults(regions[0].at, 0))
		return 10;
	for (size_t j = 0; j < SIZE; j++)
		if (regions[6].at[j])
			return 11;
	return 0;
}

int main(void)
{
	for (size_t i = 0; i < NREGIONS; i++) {
		struct advised *r = &regions[i];
		r->at = map_region();
		memset(r->at, (int)(0x40 + i), SIZE);
		if (r->advice >= 0)
			zdtm_check(madvise(r->at, SIZE, r->advice) == 0, "%s: %s", r->what, strerror(errno));
		else if (r->advice == -1)
			zdtm_check(mlock(r->at, SIZE) == 0, "mlock: %s", strerror(errno));
		else
			zdtm_check(syscall(SYS_mlock2, r->at, SIZE, MLOCK_ONFAULT) == 0, "mlock2: %s", strerror(errno));
	}
	/* a grow-down mapping at the top of 8 MiB left free below it */
	char *room = mmap(NULL, 8 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	zdtm_check(room != MAP_FAILED, "mmap: %s", strerror(errno));
	munmap(room, 8 << 20);
	char *grows = mmap(room + (8 << 20) - SIZE, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_FIXED, -1, 0);
	zdtm_check(grows == room + (8 << 20) - SIZE, "MAP_GROWSDOWN: %s", strerror(errno));
	grows[0] = 'g';
	zdtm_ready();
	zdtm_wait();

	check_flags(regions, grows);
	for (size_t i = 0; i < NREGIONS; i++)
		for (size_t j = 0; j < SIZE; j++)
			zdtm_check(regions[i].at[j] == (char)(0x40 + i), "the %s region's byte %zu changed", regions[i].what, j);
	int code = zdtm_in_child(child_checks);
	zdtm_check(code != 10, "a child still gets the MADV_DONTFORK region");
	zdtm_check(code != 11, "a child sees the MADV_WIPEONFORK region's contents");
	zdtm_check(code == 0, "the child failed");
	zdtm_check(grows[0] == 'g', "the MAP_GROWSDOWN mapping's contents changed");
	zdtm_check(!zdtm_faults(grows - PAGE, 1), "the MAP_GROWSDOWN mapping does not grow");
	zdtm_pass();
}
