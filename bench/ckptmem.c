/* ckptmem MIB [touch-only]: touches MIB MiB of anonymous memory, then spins on CLOCK_MONOTONIC, recording the
 * longest gap between two readings (how long a checkpoint stopped it), until a file named "go"
 * appears; then it sums all its memory (so a restart pays for every page) and prints the figures,
 * with the CLOCK_MONOTONIC times (ns) it saw "go" and ended its sum, and its resident KiB on
 * seeing "go" (a restart that returned before reading memory has little). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "touched.h"

static unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static long resident_kib(void)
{
	long size = 0, pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f && fscanf(f, "%ld %ld", &size, &pages) != 2)
		pages = -1;
	if (f)
		fclose(f);
	return pages * 4;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 256, len = mib << 20;
	unsigned char *mem = touched_memory(len);
	if (!mem)
		return 1;
	if (argc > 2)	/* "touch-only": the memory is freed at once (bench/restart.mjs) */
		return 0;
	double last = now_ms(), gap = 0;
	for (unsigned n = 0;; n++) {
		double t = now_ms();
		if (t - last > gap)
			gap = t - last;
		last = t;
		if ((n & 0xffff) == 0 && access("go", F_OK) == 0)
			break;
	}
	unsigned long long go_ns = now_ns();
	long go_rss = resident_kib();
	unsigned long sum = 0;
	for (size_t i = 0; i < len; i += 4096)
		sum += mem[i];
	printf("stopped_ms=%.1f sum=%lu go_ns=%llu done_ns=%llu go_rss_kib=%ld\n", gap, sum, go_ns, now_ns(), go_rss);
	return 0;
}
