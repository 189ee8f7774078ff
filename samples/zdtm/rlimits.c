/*
 * rlimits: resource limits survive. The sample lowers its soft limits (open files, core size,
 * stack, CPU time) and one hard limit (file size) before the checkpoint; after the restart
 * getrlimit reports the same soft and hard values, and the lowered open-file limit is enforced.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <fcntl.h>
#include <sys/resource.h>

static const int resources[] = { RLIMIT_NOFILE, RLIMIT_CORE, RLIMIT_STACK, RLIMIT_CPU, RLIMIT_FSIZE };
#define COUNT (sizeof resources / sizeof resources[0])

static void lower(int resource, rlim_t soft, int hard_too)
{
	struct rlimit r;
	zdtm_check(getrlimit(resource, &r) == 0, "getrlimit %d failed", resource);
	r.rlim_cur = soft;
	if (hard_too)
		r.rlim_max = soft;
	zdtm_check(setrlimit(resource, &r) == 0, "setrlimit %d failed: %s", resource, strerror(errno));
}

int main(void)
{
	struct rlimit before[COUNT], after;
	lower(RLIMIT_NOFILE, 40, 0);
	lower(RLIMIT_CORE, 0, 0);
	lower(RLIMIT_STACK, 4 << 20, 0);
	lower(RLIMIT_CPU, 3600, 0);
	lower(RLIMIT_FSIZE, 64 << 20, 1);
	for (unsigned i = 0; i < COUNT; i++)
		getrlimit(resources[i], &before[i]);
	zdtm_ready();
	zdtm_wait();

	for (unsigned i = 0; i < COUNT; i++) {
		zdtm_check(getrlimit(resources[i], &after) == 0, "getrlimit %d failed after the restart", resources[i]);
		zdtm_check(after.rlim_cur == before[i].rlim_cur && after.rlim_max == before[i].rlim_max,
			   "limit %d is %llu/%llu, not %llu/%llu", resources[i], (unsigned long long)after.rlim_cur,
			   (unsigned long long)after.rlim_max, (unsigned long long)before[i].rlim_cur,
			   (unsigned long long)before[i].rlim_max);
	}
	int fd = -1;
	for (int n = 0; n < 64; n++) {
		int next = open("/dev/null", O_RDONLY);
		if (next < 0)
			break;
		fd = next;
	}
	zdtm_check(fd == 39, "descriptors ran out at %d, not at the limit of 40", fd + 1);
	zdtm_pass();
}
