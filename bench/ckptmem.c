/* ckptmem MIB: touches MIB MiB of anonymous memory, then spins on CLOCK_MONOTONIC, recording the
 * longest gap between two readings (how long a checkpoint stopped it), until a file named "go"
 * appears; then it sums all its memory (so a restart pays for every page) and prints the figures. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "touched.h"

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
	double last = now_ms(), gap = 0;
	for (unsigned n = 0;; n++) {
		double t = now_ms();
		if (t - last > gap)
			gap = t - last;
		last = t;
		if ((n & 0xffff) == 0 && access("go", F_OK) == 0)
			break;
	}
	unsigned long sum = 0;
	for (size_t i = 0; i < len; i += 4096)
		sum += mem[i];
	printf("stopped_ms=%.1f sum=%lu\n", gap, sum);
	return 0;
}
