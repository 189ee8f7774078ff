/* Descriptors and small files: writing messages, reading /proc, moving descriptors out of the way. */
#include "lib/lib.h"

/* 0 once all of buf is written, or -errno (-EIO for a write that took nothing) */
int rt_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		long n = rt_syscall3(__NR_write, fd, (long)buf, (long)len);
		if (n == -EINTR)
			continue;
		if (n <= 0)
			return n ? (int)n : -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* len bytes at file offset off, in as many writes as it takes; 0 or -errno (-ENOSPC for a write of nothing) */
int rt_pwrite_all(long fd, const void *buf, uint64_t len, uint64_t off)
{
	const char *p = buf;
	while (len) {
		long n = rt_syscall4(__NR_pwrite64, fd, (long)p, (long)(len > (1UL << 30) ? (1UL << 30) : len), (long)off);
		if (n == -EINTR)
			continue;
		if (n <= 0)
			return n ? (int)n : -ENOSPC;
		p += n, off += (uint64_t)n, len -= (uint64_t)n;
	}
	return 0;
}

/*
 * PATH made absolute against the current directory, into out (RT_PATH_MAX bytes): files named in
 * the environment are relative to where the program started, not to where it is when it writes.
 * Returns 0, or -1 when the result does not fit.
 */
int rt_absolute_path(char *out, const char *path)
{
	size_t n = 0, len = rt_strlen(path);
	if (path[0] != '/') {
		if (rt_syscall2(__NR_getcwd, (long)out, RT_PATH_MAX) <= 0)
			return -1;
		n = rt_strlen(out);
		out[n++] = '/';
	}
	if (n + len >= RT_PATH_MAX)
		return -1;
	rt_memcpy(out + n, path, len + 1);
	return 0;
}

/*
 * The parts one after another on stderr: one message line, in one write when it fits the buffer,
 * so that the lines of others writing to the same file (ckpt-run's log, a job's output) are not
 * cut into it: a pipe takes a write of up to PIPE_BUF bytes whole.
 */
void rt_write_line(const char *const *parts, unsigned n)
{
	char line[512];
	size_t used = 0;
	for (unsigned i = 0; i < n; i++)
		for (const char *p = parts[i]; *p; p++) {
			if (used == sizeof line) {
				rt_write_all(2, line, used);
				used = 0;
			}
			line[used++] = *p;
		}
	rt_write_all(2, line, used);
}

/* "/proc/thread-self/fd/FD" in out (40 bytes); returns out */
char *rt_fd_path(char *out, long fd)
{
	rt_utoa((uint64_t)fd, rt_put(out, "/proc/thread-self/fd/"));
	return out;
}

/*
 * fd moved to BELOW under the top of RLIMIT_NOFILE, out of the way of the numbers a program
 * expects to get; fd itself when there is no room there
 */
long rt_high_fd(long fd, long below, int cloexec)
{
	uint64_t lim[2] = { 1024, 1024 };
	rt_syscall4(__NR_prlimit64, 0, RLIMIT_NOFILE, 0, (long)lim);
	long moved = rt_syscall3(__NR_fcntl, fd, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD,
				 lim[0] > 64 ? (long)lim[0] - below : 3);
	if (moved < 0)
		return fd;
	rt_syscall1(__NR_close, fd);
	return moved;
}

/*
 * A small file, as much of it as fits in buf, NUL-terminated: the length read, or -1 when it
 * cannot be opened. A length of size - 1 means it may not all have fit.
 */
long rt_read_file(const char *path, char *buf, size_t size)
{
	long fd = rt_syscall4(__NR_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0);
	size_t used = 0;
	long n;
	if (fd < 0)
		return -1;
	while (used + 1 < size && (n = rt_syscall3(__NR_read, fd, (long)(buf + used), (long)(size - used - 1))) > 0)
		used += (size_t)n;
	rt_syscall1(__NR_close, fd);
	buf[used] = 0;
	return (long)used;
}

static long rt_fd_number(const char *name)
{
	long fd = 0;
	if (name[0] < '0' || name[0] > '9')
		return -1;
	for (; *name; name++)
		fd = fd * 10 + (*name - '0');
	return fd;
}

/* Calls fn(arg, n) for every entry of a /proc directory named by a number, but the listing's own fd,
 * until fn returns non-zero; returns that, or -1 when the directory cannot be read */
int rt_each_number(const char *path, char *buf, size_t size, int (*fn)(void *, long), void *arg)
{
	long dir = rt_syscall4(__NR_openat, AT_FDCWD, (long)path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	long n;
	int r = 0;
	if (dir < 0)
		return -1;
	while (!r && (n = rt_syscall3(__NR_getdents64, dir, (long)buf, (long)size)) > 0)
		for (long off = 0; !r && off < n; off += *(uint16_t *)(buf + off + 16)) {
			long number = rt_fd_number(buf + off + 19);
			if (number >= 0 && number != dir)
				r = fn(arg, number);
		}
	rt_syscall1(__NR_close, dir);
	return r;
}

/* Calls fn(arg, fd) for every open descriptor but the directory's own; returns 0 or -1 */
int rt_each_fd(char *buf, size_t size, int (*fn)(void *arg, long fd), void *arg)
{
	return rt_each_number("/proc/thread-self/fd", buf, size, fn, arg);
}

/* Calls fn(arg, tid) for every thread of this process, as /proc/self/task lists them */
int rt_each_task(char *buf, size_t size, int (*fn)(void *arg, long tid), void *arg)
{
	return rt_each_number("/proc/self/task", buf, size, fn, arg);
}
