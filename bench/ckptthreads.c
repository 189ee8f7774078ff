/* ckptthreads THREADS MIB: THREADS threads share MIB MiB of anonymous memory, each touching its
 * part. The main thread then spins on CLOCK_MONOTONIC, recording the longest gap between two
 * readings (how long a checkpoint stopped it), while the other threads wait on a condition
 * variable (as an idle pool does), until a file named "go" appears; it prints the figure. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done, touched;
static unsigned char *mem;
static size_t part;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *member(void *arg)
{
	unsigned char *mine = mem + (size_t)arg * part;
	for (size_t i = 0; i < part; i += 4096)
		mine[i] = (unsigned char)(i >> 12);
	pthread_mutex_lock(&lock);
	touched++;
	while (!done)
		pthread_cond_wait(&done_cond, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	long threads = argc > 1 ? atol(argv[1]) : 8;
	size_t mib = argc > 2 ? strtoul(argv[2], 0, 10) : 256, len = mib << 20;
	pthread_t *t = calloc((size_t)threads, sizeof *t);
	mem = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || !t)
		return 1;
	part = len / (size_t)threads & ~4095UL;
	for (long i = 1; i < threads; i++)
		pthread_create(&t[i], NULL, member, (void *)i);
	for (size_t i = 0; i < part; i += 4096)
		mem[i] = (unsigned char)(i >> 12);
	for (;;) {
		pthread_mutex_lock(&lock);
		int all = touched == threads - 1;
		pthread_mutex_unlock(&lock);
		if (all)
			break;
		usleep(1000);
	}
	printf("ready\n");
	fflush(stdout);
	double last = now_ms(), gap = 0;
	for (unsigned n = 0;; n++) {
		double t1 = now_ms();
		if (t1 - last > gap)
			gap = t1 - last;
		last = t1;
		if ((n & 0xffff) == 0 && access("go", F_OK) == 0)
			break;
	}
	pthread_mutex_lock(&lock);
	done = 1;
	pthread_cond_broadcast(&done_cond);
	pthread_mutex_unlock(&lock);
	for (long i = 1; i < threads; i++)
		pthread_join(t[i], NULL);
	printf("stopped_ms=%.1f\n", gap);
	return 0;
}
