/* rw: a small read from /dev/zero and write to /dev/null per iteration --
 * two system calls that carry a buffer, the common shape of real I/O. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_ITERATIONS 1000000L
#define CHUNK 64

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	long iterations = argc > 1 ? strtol(argv[1], NULL, 10) : DEFAULT_ITERATIONS;
	if (iterations <= 0) {
		fprintf(stderr, "usage: %s [iterations > 0]\n", argv[0]);
		return 2;
	}
	int zero = open_or_die("/dev/zero", O_RDONLY);
	int null = open_or_die("/dev/null", O_WRONLY);
	char buf[CHUNK];
	double start = now_ns();
	for (long i = 0; i < iterations; i++) {
		if (read(zero, buf, CHUNK) != CHUNK || write(null, buf, CHUNK) != CHUNK) {
			perror("read/write");
			return 1;
		}
	}
	double elapsed = now_ns() - start;
	printf("ns_per_iter=%.3f\n", elapsed / (double)iterations);
	return 0;
}
