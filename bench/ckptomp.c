/* ckptomp MIB: an OpenMP program (libgomp's pool, as many threads as OMP_NUM_THREADS says) whose
 * parallel loops keep MIB MiB of doubles in motion. It prints "ready" once the pool has touched all
 * of it, then goes on, a parallel pass at a time, recording the longest gap between two passes seen
 * by the main thread, until a file named "go" appears; then it sums every value in parallel (so a
 * restart pays for every page) and prints the figures. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	long mib = argc > 1 ? atol(argv[1]) : 256, n = mib * (1L << 20) / (long)sizeof(double);
	double *v = malloc((size_t)n * sizeof(double));
	if (!v)
		return 1;
#pragma omp parallel for schedule(static)
	for (long i = 0; i < n; i++)
		v[i] = (double)(i % 1000);
	printf("ready with %d threads\n", omp_get_max_threads());
	fflush(stdout);
	double last = now_ms(), gap = 0;
	for (long pass = 0; access("go", F_OK) != 0; pass++) {
#pragma omp parallel for schedule(static)
		for (long i = pass % 512; i < n; i += 512)
			v[i] = v[i] * 0.5 + 1.0;
		double t = now_ms();
		if (t - last > gap)
			gap = t - last;
		last = t;
	}
	double sum = 0;
#pragma omp parallel for reduction(+:sum) schedule(static)
	for (long i = 0; i < n; i++)
		sum += v[i];
	printf("stopped_ms=%.1f sum=%.0f\n", gap, sum);
	return 0;
}
