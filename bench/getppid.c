/* getppid: the cost of one round trip through the cheapest system call,
 * so the relinked binary's figure over the native one is the per-call
 * overhead of entering the runtime. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CALLS 5000000L

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? strtol(argv[1], NULL, 10) : DEFAULT_CALLS;
	if (calls <= 0) {
		fprintf(stderr, "usage: %s [calls > 0]\n", argv[0]);
		return 2;
	}
	double start = now_ns();
	for (long i = 0; i < calls; i++)
		syscall(SYS_getppid);
	double elapsed = now_ns() - start;
	printf("ns_per_call=%.3f\n", elapsed / (double)calls);
	return 0;
}
