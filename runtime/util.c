/* The few libc-like helpers the runtime needs; it links no libc. */
#include "include/rt.h"

size_t rt_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* Value of NAME in an envp array, or 0 */
const char *rt_getenv(char **envp, const char *name)
{
	size_t len = rt_strlen(name);
	for (; envp && *envp; envp++) {
		const char *e = *envp;
		size_t i = 0;
		while (i < len && e[i] == name[i])
			i++;
		if (i == len && e[i] == '=')
			return e + len + 1;
	}
	return 0;
}

/* gcc may emit calls to memcpy and memset for struct copies: provide them, hidden */
void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;
	__asm__ volatile ("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

int rt_memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}

void *rt_memcpy(void *dst, const void *src, size_t n)
{
	return memcpy(dst, src, n);
}

/* Decimal digits of v, NUL-terminated, into buf (at least 21 bytes); returns the end */
char *rt_utoa(uint64_t v, char *buf)
{
	char tmp[21];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*buf++ = tmp[--n];
	*buf = 0;
	return buf;
}

void rt_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		long n = rt_syscall3(__NR_write, fd, (long)buf, (long)len);
		if (n == -4)	/* EINTR */
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
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

/* XCR0: the xsave features the OS has enabled on this CPU */
uint64_t rt_xgetbv0(void)
{
	uint32_t lo, hi;
	__asm__ ("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

/* The parts one after another on stderr: one message line */
void rt_write_line(const char *const *parts, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		rt_write_all(2, parts[i], rt_strlen(parts[i]));
}

/* "/proc/self/fd/FD" in out (32 bytes); returns out */
char *rt_fd_path(char *out, long fd)
{
	rt_memcpy(out, "/proc/self/fd/", 14);
	rt_utoa((uint64_t)fd, out + 14);
	return out;
}

/*
 * fd moved to BELOW under the top of RLIMIT_NOFILE, out of the way of the numbers a program
 * expects to get; fd itself when there is no room there
 */
long rt_high_fd(long fd, long below, int cloexec)
{
	uint64_t lim[2] = { 1024, 1024 };
	rt_syscall4(__NR_prlimit64, 0, 7 /* RLIMIT_NOFILE */, 0, (long)lim);
	long moved = rt_syscall3(__NR_fcntl, fd, cloexec ? 1030 /* F_DUPFD_CLOEXEC */ : 0 /* F_DUPFD */,
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
	long fd = rt_syscall4(__NR_openat, -100, (long)path, 02000000 /* O_RDONLY|O_CLOEXEC */, 0);
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

/* Calls fn(arg, fd) for every open descriptor but the directory's own; returns 0 or -1 */
int rt_each_fd(char *buf, size_t size, int (*fn)(void *, long), void *arg)
{
	long dir = rt_syscall4(__NR_openat, -100, (long)"/proc/self/fd", 0200000 /* O_DIRECTORY */ | 02000000, 0);
	long n;
	int r = 0;
	if (dir < 0)
		return -1;
	while (!r && (n = rt_syscall3(__NR_getdents64, dir, (long)buf, (long)size)) > 0)
		for (long off = 0; !r && off < n; off += *(uint16_t *)(buf + off + 16)) {
			long fd = rt_fd_number(buf + off + 19);
			if (fd >= 0 && fd != dir)
				r = fn(arg, fd);
		}
	rt_syscall1(__NR_close, dir);
	return r;
}
