/* fileops [ROUNDS [DIR]]: small file operations, the kind a job sends to the shadow: create,
 * write, read back, fstat, lseek, stat, access, rename, mkdir/rmdir, an O_APPEND log, readdir,
 * unlink. About ten system calls on files a round (default 100 rounds, in DIR, default
 * "fileops.d", removed at the end). Prints counts and checksums that any correct file system
 * gives alike, and exits 1 at the first surprise. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned long ops;

static void fail(const char *what, const char *path)
{
	printf("FAIL: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static unsigned long mix(unsigned long h, const void *p, size_t n)
{
	const unsigned char *b = p;
	while (n--)
		h = (h ^ *b++) * 1099511628211UL;
	return h;
}

static void write_file(const char *path, int round)
{
	char line[64];
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0)
		fail("create", path);
	int n = snprintf(line, sizeof line, "round %d: %d\n", round, round * round);
	for (int i = 0; i <= round % 7; i++)
		if (write(fd, line, (size_t)n) != n)
			fail("write", path);
	close(fd);
	ops += 3;
}

static unsigned long read_back(const char *path, unsigned long h)
{
	char buf[1024];
	struct stat st;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		fail("open", path);
	ssize_t n = read(fd, buf, sizeof buf);
	if (n < 0 || fstat(fd, &st) < 0 || st.st_size != n || lseek(fd, 0, SEEK_END) != n)
		fail("read back", path);
	close(fd);
	ops += 5;
	return mix(h, buf, (size_t)n);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 100;
	const char *dir = argc > 2 ? argv[2] : "fileops.d";
	char path[512], other[512], log[512];
	unsigned long h = 14695981039346656037UL;
	if (mkdir(dir, 0755) < 0)
		fail("mkdir", dir);
	snprintf(log, sizeof log, "%s/log", dir);
	int logfd = open(log, O_CREAT | O_WRONLY | O_APPEND, 0644);
	if (logfd < 0)
		fail("create", log);
	for (int r = 0; r < rounds; r++) {
		snprintf(path, sizeof path, "%s/f%d", dir, r);
		write_file(path, r);
		h = read_back(path, h);
		struct stat st;
		if (stat(path, &st) < 0 || access(path, R_OK) < 0)
			fail("stat", path);
		ops += 2;
		if (r % 10 == 0) {
			snprintf(other, sizeof other, "%s/g%d", dir, r);
			if (rename(path, other) < 0 || mkdir(path, 0700) < 0 || rmdir(path) < 0)
				fail("rename/mkdir/rmdir", path);
			ops += 3;
		}
		char line[32];
		int n = snprintf(line, sizeof line, "%d\n", r);
		if (write(logfd, line, (size_t)n) != n)
			fail("append", log);
		ops++;
	}
	close(logfd);
	DIR *d = opendir(dir);
	unsigned long names = 0;
	int entries = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		if (e->d_name[0] != '.') {
			names += mix(14695981039346656037UL, e->d_name, strlen(e->d_name));	/* order-free */
			entries++;
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			if (strcmp(e->d_name, "log") && unlink(path) < 0)
				fail("unlink", path);
		}
	if (d)
		closedir(d);
	struct stat st;
	if (stat(log, &st) < 0)
		fail("stat", log);
	printf("rounds=%d ops=%lu data=%016lx entries=%d names=%016lx log=%ld\n", rounds, ops, h, entries, names, (long)st.st_size);
	if (unlink(log) < 0 || rmdir(dir) < 0)
		fail("clean up", dir);
	return 0;
}
