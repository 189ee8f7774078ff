/* thread_files [ROUNDS [HOLD]]: four threads at once, each on files of its own in the working directory:
 * every round a thread rewrites a data file (its size and bytes depend on the thread and the
 * round), reads it back through a second descriptor, fstat's and stat's it, appends a line to its
 * log through a descriptor it keeps open, and renames a file; at the end each keeps one data file
 * and its log. Run on the shadow, the threads' calls travel over one connection at the same time.
 * Prints one checksum line per thread, in thread order, and PASS; the first surprise prints FAIL
 * and exits 1. Default 150 rounds. With HOLD, each thread creates tN.held before its round HOLD and
 * waits there (asking the file system every 2 ms) until a file "go" exists: a test checkpoints
 * the threads there, all of them making calls. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define THREADS 4
#define MAX_DATA 9000

static int rounds = 150, hold = -1;
static unsigned long sums[THREADS];
static pthread_barrier_t start;

static void fail(int t, const char *what, const char *path)
{
	printf("FAIL: thread %d: %s %s: %s\n", t, what, path, strerror(errno));
	fflush(stdout);
	exit(1);
}

static unsigned long mix(unsigned long h, const void *p, size_t n)
{
	const unsigned char *b = p;
	while (n--)
		h = (h ^ *b++) * 1099511628211UL;
	return h;
}

/* The data file's bytes in round r of thread t: a length and a pattern of their own */
static size_t fill(char *buf, int t, int r)
{
	size_t n = 100 + (size_t)((t * 7919 + r * 104729) % (MAX_DATA - 100));
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + (i * (size_t)(t + 3) + (size_t)r) % 26);
	return n;
}

static void write_data(int t, const char *path, const char *buf, size_t n)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0)
		fail(t, "create", path);
	if (write(fd, buf, n) != (ssize_t)n)
		fail(t, "write", path);
	if (close(fd) < 0)
		fail(t, "close", path);
}

static void check_data(int t, const char *path, const char *want, size_t n)
{
	static __thread char got[MAX_DATA + 1];
	struct stat st, st2;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		fail(t, "open", path);
	if (fstat(fd, &st) < 0 || stat(path, &st2) < 0)
		fail(t, "stat", path);
	if ((size_t)st.st_size != n || st2.st_size != st.st_size || st2.st_ino != st.st_ino) {
		errno = 0;
		fail(t, "size or inode differ", path);
	}
	ssize_t r = read(fd, got, sizeof got);
	if (r != (ssize_t)n || memcmp(got, want, n)) {
		errno = 0;
		fail(t, "read back other bytes", path);
	}
	if (lseek(fd, (off_t)n / 2, SEEK_SET) != (off_t)n / 2 || read(fd, got, 1) != 1 || got[0] != want[n / 2]) {
		errno = 0;
		fail(t, "seek and read", path);
	}
	close(fd);
}

static void hold_until_go(int t)
{
	char held[64];
	snprintf(held, sizeof held, "t%d.held", t);
	int fd = open(held, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0 || close(fd) < 0)
		fail(t, "create", held);
	while (access("go", F_OK) < 0) {
		if (errno != ENOENT)
			fail(t, "access", "go");
		usleep(2000);
	}
}

static void *worker(void *arg)
{
	int t = (int)(long)arg;
	char data[MAX_DATA], path[64], moved[64], log[64], line[96];
	unsigned long h = 14695981039346656037UL;
	snprintf(path, sizeof path, "t%d.data", t);
	snprintf(moved, sizeof moved, "t%d.kept", t);
	snprintf(log, sizeof log, "t%d.log", t);
	int lfd = open(log, O_CREAT | O_WRONLY | O_TRUNC | O_APPEND, 0644);
	if (lfd < 0)
		fail(t, "create", log);
	pthread_barrier_wait(&start);
	for (int r = 0; r < rounds; r++) {
		if (r == hold)
			hold_until_go(t);
		size_t n = fill(data, t, r);
		write_data(t, path, data, n);
		check_data(t, path, data, n);
		if (r % 10 == 9 && rename(path, moved) < 0)
			fail(t, "rename", path);
		int k = snprintf(line, sizeof line, "thread %d round %d size %zu\n", t, r, n);
		if (write(lfd, line, (size_t)k) != k)
			fail(t, "append", log);
		h = mix(h, data, n);
	}
	close(lfd);
	sums[t] = h;
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t th[THREADS];
	if (argc > 1)
		rounds = atoi(argv[1]);
	if (argc > 2)
		hold = atoi(argv[2]);
	pthread_barrier_init(&start, 0, THREADS);
	for (long t = 0; t < THREADS; t++)
		if (pthread_create(&th[t], 0, worker, (void *)t))
			return 2;
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], 0);
	for (int t = 0; t < THREADS; t++)
		printf("thread %d: %d rounds, checksum %016lx\n", t, rounds, sums[t]);
	printf("PASS\n");
	return 0;
}
