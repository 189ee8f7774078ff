/* passes MIB PASSES: a computation over MIB MiB of memory, one pass at a time, each pass changing
 * every word from the last pass's value (so a job that starts over must redo every pass). After each
 * pass: "pass N t=MS" (N from 1, MS the wall clock in ms), so that bench/requeue.mjs can tell how far
 * the job has got and when; at the end, "done sum=X". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 256, words = (mib << 20) / 8;
	unsigned long passes = argc > 2 ? strtoul(argv[2], 0, 10) : 1000000;
	uint64_t *mem = mmap(0, words * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < words; i++)
		mem[i] = i;
	for (unsigned long pass = 1; pass <= passes; pass++) {
		for (size_t i = 0; i < words; i++)
			mem[i] = mem[i] * 6364136223846793005ull + pass;
		printf("pass %lu t=%.0f\n", pass, wall_ms());
		fflush(stdout);
	}
	uint64_t sum = 0;
	for (size_t i = 0; i < words; i++)
		sum += mem[i];
	printf("done sum=%llu\n", (unsigned long long)sum);
	return 0;
}
