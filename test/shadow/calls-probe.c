/*
 * Makes the file calls runtime/remote/calls.h forwards, each by path and by descriptor, in the
 * tree DIR (a file f of 10 bytes, a directory d, a symlink sl -> f), and prints every result, its
 * errno and what the tree holds after it: run natively on a local copy and relinked against the
 * shadow, the two outputs must be equal (test/shadow/file-calls.test.ts). Each call is made with
 * syscall(2), so the call named is the call made. Every line starts with the call's name.
 *
 *   calls-probe forwarded DIR           the forwarded calls
 *   calls-probe refused DIR NR:SPEC...  each refused call with a remote descriptor or path in every
 *                                       argument that names one: prints "NR result"
 *   calls-probe placeholders DIR [FD]   fchmod, fchown, ftruncate, fallocate, futimens, ioctl, mmap,
 *                                       xattrs, flock, write, read on DIR/f, or on descriptor FD
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

static long r(long v)
{
	return v < 0 ? -errno : v;
}

static void show(const char *label, long v)
{
	if (v < 0)
		printf("%s = -1 %s\n", label, strerrorname_np((int)-v));
	else
		printf("%s = %ld\n", label, v);
}

/* What a name is now: type, mode, owner, links, size, mtime (seconds and milliseconds), target */
static void state(const char *name)
{
	struct stat st;
	char target[256];
	if (lstat(name, &st) < 0) {
		printf("  %s: %s\n", name, strerrorname_np(errno));
		return;
	}
	char type = S_ISREG(st.st_mode) ? 'f' : S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : S_ISFIFO(st.st_mode) ? 'p' : '?';
	printf("  %s: %c %04o %u:%u n%lu s%lld", name, type, st.st_mode & 07777, st.st_uid, st.st_gid, (unsigned long)st.st_nlink,
	       (long long)st.st_size);
	/* a time the probe set (before 2020), not one the clock gave when the file was made */
	if (!S_ISLNK(st.st_mode) && !S_ISDIR(st.st_mode) && st.st_mtime < 1600000000)
		printf(" m%lld.%03ld", (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec / 1000000);
	ssize_t n = S_ISLNK(st.st_mode) ? readlink(name, target, sizeof target - 1) : -1;
	if (n >= 0) {
		target[n] = 0;
		printf(" -> %s", target);
	}
	printf("\n");
}

static void content(const char *name)
{
	char buf[64];
	int fd = open(name, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (fd >= 0)
		close(fd);
	buf[n < 0 ? 0 : n] = 0;
	printf("  %s holds \"%s\"\n", name, buf);
}

#define CALL(label, expr, ...) do { show(label, r(expr)); const char *names_[] = { __VA_ARGS__ }; \
	for (unsigned i_ = 0; i_ < sizeof names_ / sizeof names_[0]; i_++) state(names_[i_]); } while (0)

static void links(int dfd)
{
	CALL("symlink", syscall(SYS_symlink, "any text: ../../../etc/passwd", "s1"), "s1");
	CALL("symlink exists", syscall(SYS_symlink, "f", "sl"), "sl");
	CALL("symlinkat", syscall(SYS_symlinkat, "../f", dfd, "s2"), "d/s2");
	content("d/s2");
	CALL("link", syscall(SYS_link, "f", "h1"), "f", "h1");
	CALL("link exists", syscall(SYS_link, "f", "h1"), "h1");
	CALL("link missing", syscall(SYS_link, "nothing", "h9"), "h9");
	CALL("link directory", syscall(SYS_link, "d", "h8"), "h8");
	CALL("linkat symlink itself", syscall(SYS_linkat, AT_FDCWD, "sl", dfd, "h2", 0), "d/h2");
	CALL("linkat AT_SYMLINK_FOLLOW", syscall(SYS_linkat, AT_FDCWD, "sl", dfd, "h3", AT_SYMLINK_FOLLOW), "d/h3", "f");
	int fd = open("f", O_RDONLY);
	CALL("linkat AT_EMPTY_PATH", syscall(SYS_linkat, fd, "", AT_FDCWD, "h4", AT_EMPTY_PATH), "h4", "f");
	close(fd);
	char buf[64];
	long n = r(syscall(SYS_readlinkat, dfd, "s2", buf, sizeof buf));
	show("readlinkat", n);
}

static void modes(int dfd)
{
	int fd = open("f", O_RDWR);
	CALL("chmod", syscall(SYS_chmod, "f", 0640), "f");
	CALL("chmod missing", syscall(SYS_chmod, "nothing", 0640));
	CALL("fchmod", syscall(SYS_fchmod, fd, 04711), "f");
	CALL("fchmodat", syscall(SYS_fchmodat, dfd, "..//f", 0604), "f");
	CALL("chmod through a symlink", syscall(SYS_chmod, "sl", 0620), "f", "sl");
	CALL("fchmodat2 AT_SYMLINK_NOFOLLOW on a symlink", syscall(SYS_fchmodat2, AT_FDCWD, "sl", 0600, AT_SYMLINK_NOFOLLOW), "sl");
	CALL("fchmodat2 AT_SYMLINK_NOFOLLOW on a file", syscall(SYS_fchmodat2, AT_FDCWD, "f", 0644, AT_SYMLINK_NOFOLLOW), "f");
	CALL("fchmodat2 AT_EMPTY_PATH", syscall(SYS_fchmodat2, fd, "", 0664, AT_EMPTY_PATH), "f");
	CALL("chown", syscall(SYS_chown, "f", 1000, 1001), "f");
	CALL("lchown", syscall(SYS_lchown, "sl", 1002, 1003), "sl", "f");
	CALL("chown through a symlink", syscall(SYS_chown, "sl", 1006, 1007), "sl", "f");
	CALL("fchown, gid unchanged", syscall(SYS_fchown, fd, 1004, -1), "f");
	CALL("fchownat, uid unchanged", syscall(SYS_fchownat, dfd, "../f", -1, 1005, 0), "f");
	CALL("fchownat AT_SYMLINK_NOFOLLOW", syscall(SYS_fchownat, AT_FDCWD, "sl", 0, 0, AT_SYMLINK_NOFOLLOW), "sl");
	CALL("fchownat AT_EMPTY_PATH", syscall(SYS_fchownat, fd, "", 0, 0, AT_EMPTY_PATH), "f");
	CALL("chown missing", syscall(SYS_chown, "nothing", 0, 0));
	close(fd);
}

static void times(int dfd)
{
	int fd = open("f", O_RDWR);
	struct { time_t a, m; } ub = { 1000000000, 1000000001 };
	CALL("utime", syscall(SYS_utime, "f", &ub), "f");
	struct timeval tv[2] = { { 1100000000, 500000 }, { 1100000001, 250000 } };
	CALL("utimes", syscall(SYS_utimes, "f", tv), "f");
	tv[1].tv_sec = 1100000002;
	CALL("futimesat", syscall(SYS_futimesat, dfd, "../f", tv), "f");
	tv[1].tv_usec = 1000000;
	CALL("utimes bad usec", syscall(SYS_utimes, "f", tv), "f");
	struct timespec ts[2] = { { 1200000000, 0 }, { 1200000001, 750000000 } };
	CALL("utimensat", syscall(SYS_utimensat, AT_FDCWD, "f", ts, 0), "f");
	ts[1].tv_sec = 1200000002;
	CALL("utimensat AT_SYMLINK_NOFOLLOW", syscall(SYS_utimensat, AT_FDCWD, "sl", ts, AT_SYMLINK_NOFOLLOW), "sl", "f");
	ts[1].tv_sec = 1200000003;
	CALL("futimens", syscall(SYS_utimensat, fd, NULL, ts, 0), "f");
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = 1200000004;
	CALL("utimensat UTIME_OMIT atime", syscall(SYS_utimensat, dfd, "../f", ts, 0), "f");
	ts[1].tv_nsec = UTIME_OMIT;
	CALL("utimensat UTIME_OMIT both", syscall(SYS_utimensat, AT_FDCWD, "f", ts, 0), "f");
	CALL("utimensat UTIME_OMIT both, missing", syscall(SYS_utimensat, AT_FDCWD, "nothing", ts, 0));
	ts[1].tv_nsec = 1000000000;
	CALL("utimensat bad nsec", syscall(SYS_utimensat, AT_FDCWD, "f", ts, 0));
	CALL("utimensat AT_EMPTY_PATH", syscall(SYS_utimensat, fd, "", (struct timespec[2]){ { 1, 0 }, { 1300000000, 0 } }, AT_EMPTY_PATH), "f");
	/* now: the time is the clock's, so only whether it moved to about now is printed */
	long now = r(syscall(SYS_utimensat, AT_FDCWD, "f", NULL, 0));
	struct stat st;
	stat("f", &st);
	printf("utimensat NULL (now) = %ld, mtime within a minute of now: %d\n", now, st.st_mtime > time(0) - 60 && st.st_mtime <= time(0) + 60);
	close(fd);
}

static void nodes(int dfd)
{
	CALL("mknod FIFO", syscall(SYS_mknod, "p1", S_IFIFO | 0640, 0), "p1");
	CALL("mknod FIFO exists", syscall(SYS_mknod, "p1", S_IFIFO | 0640, 0), "p1");
	CALL("mknodat regular", syscall(SYS_mknodat, dfd, "r1", S_IFREG | 0600, 0), "d/r1");
	CALL("mknodat type 0", syscall(SYS_mknodat, dfd, "r2", 0644, 0), "d/r2");
	CALL("mknod directory", syscall(SYS_mknod, "n1", S_IFDIR | 0755, 0), "n1");
	CALL("mknod in a missing directory", syscall(SYS_mknod, "nothing/p", S_IFIFO | 0600, 0));
}

static void filesystems(void)
{
	struct statfs a, b;
	int fd = open("f", O_RDONLY);
	long x = r(syscall(SYS_statfs, "d", &a)), y = r(syscall(SYS_fstatfs, fd, &b));
	show("statfs", x);
	show("fstatfs", y);
	printf("  statfs: type %lx bsize %ld blocks %llu files %llu namelen %ld frsize %ld\n", (long)a.f_type, (long)a.f_bsize,
	       (unsigned long long)a.f_blocks, (unsigned long long)a.f_files, (long)a.f_namelen, (long)a.f_frsize);
	printf("  fstatfs: same as statfs %d\n", a.f_type == b.f_type && a.f_bsize == b.f_bsize && a.f_blocks == b.f_blocks);
	show("statfs missing", r(syscall(SYS_statfs, "nothing", &a)));
	close(fd);
}

static void sizes(void)
{
	int fd = open("g", O_RDWR | O_CREAT, 0644), ro = open("g", O_RDONLY);
	CALL("fallocate", syscall(SYS_fallocate, fd, 0, 0, 5000), "g");
	CALL("fallocate KEEP_SIZE", syscall(SYS_fallocate, fd, FALLOC_FL_KEEP_SIZE, 0, 9000), "g");
	CALL("fallocate within", syscall(SYS_fallocate, fd, 0, 100, 100), "g");
	CALL("fallocate read-only", syscall(SYS_fallocate, ro, 0, 0, 9000), "g");
	CALL("fallocate length 0", syscall(SYS_fallocate, fd, 0, 0, 0), "g");
	close(fd);
	close(ro);
}

static void renames(int dfd)
{
	CALL("renameat2 RENAME_NOREPLACE onto a file", syscall(SYS_renameat2, AT_FDCWD, "h1", AT_FDCWD, "f", RENAME_NOREPLACE), "h1", "f");
	CALL("renameat2 RENAME_NOREPLACE", syscall(SYS_renameat2, AT_FDCWD, "h1", dfd, "moved", RENAME_NOREPLACE), "h1", "d/moved");
	syscall(SYS_mkdir, "e", 0755);
	CALL("renameat2 RENAME_NOREPLACE directory", syscall(SYS_renameat2, AT_FDCWD, "e", dfd, "e2", RENAME_NOREPLACE), "e", "d/e2");
	CALL("renameat2 RENAME_NOREPLACE onto a directory", syscall(SYS_renameat2, dfd, "e2", AT_FDCWD, "d", RENAME_NOREPLACE), "d/e2");
	CALL("renameat2 flags 0", syscall(SYS_renameat2, dfd, "moved", AT_FDCWD, "h1", 0), "d/moved", "h1");
}

static void copies(void)
{
	int a = open("f", O_RDWR), b = open("c", O_RDWR | O_CREAT | O_TRUNC, 0644), p[2];
	loff_t in = 2, out = 1;
	CALL("copy_file_range", syscall(SYS_copy_file_range, a, NULL, b, NULL, 4, 0), "c");
	content("c");
	CALL("copy_file_range at offsets", syscall(SYS_copy_file_range, a, &in, b, &out, 100, 0), "c");
	printf("  offsets now %lld %lld, file offsets %lld %lld\n", (long long)in, (long long)out, (long long)lseek(a, 0, SEEK_CUR),
	       (long long)lseek(b, 0, SEEK_CUR));
	content("c");
	CALL("copy_file_range flags", syscall(SYS_copy_file_range, a, NULL, b, NULL, 4, 1));
	off_t off = 7;
	CALL("sendfile", syscall(SYS_sendfile, b, a, &off, 3), "c");
	printf("  offset now %lld\n", (long long)off);
	content("c");
	if (pipe(p) == 0) {
		char buf[16] = { 0 };
		loff_t at = 3;
		show("splice to a pipe", r(syscall(SYS_splice, a, &at, p[1], NULL, 5, 0)));
		ssize_t n = read(p[0], buf, sizeof buf - 1);
		printf("  the pipe gave %zd \"%s\"\n", n, buf);
		write(p[1], "XY", 2);
		show("splice from a pipe", r(syscall(SYS_splice, p[0], NULL, b, NULL, 2, 0)));
		content("c");
		close(p[0]);
		close(p[1]);
	}
	show("splice between files", r(syscall(SYS_splice, a, NULL, b, NULL, 2, 0)));
	close(a);
	close(b);
}

static void waits(void)
{
	int fd = open("f", O_RDWR);
	struct pollfd pf[2] = { { fd, POLLIN | POLLOUT, 0 }, { -1, POLLIN, 0 } };
	long n = r(syscall(SYS_poll, pf, 2, 10000));
	printf("poll = %ld revents %x fd kept %d\n", n, pf[0].revents, pf[0].fd == fd);
	fd_set rd, wr;
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(fd, &rd);
	FD_SET(fd, &wr);
	struct timeval tv = { 10, 0 };
	n = r(syscall(SYS_select, fd + 1, &rd, &wr, NULL, &tv));
	printf("select = %ld readable %d writable %d\n", n, FD_ISSET(fd, &rd), FD_ISSET(fd, &wr));
	close(fd);
}

static void descriptors(void)
{
	int fd = open("f", O_RDONLY), fd2 = dup(fd);
	show("close_range", r(syscall(SYS_close_range, fd, fd2, 0)));
	show("read after close_range", r(read(fd2, &fd, 1)));
	struct { uint64_t flags, mode, resolve; } how = { O_RDONLY, 0, 0 };
	fd = (int)syscall(SYS_openat2, AT_FDCWD, "sl", &how, sizeof how);
	char buf[4] = { 0 };
	printf("openat2 gave a descriptor %d, read %zd \"%s\"\n", fd >= 0, fd >= 0 ? read(fd, buf, 3) : -1, buf);
	show("fcntl F_GETFL", r(syscall(SYS_fcntl, fd, F_GETFL)) & O_ACCMODE);
	show("syncfs", r(syscall(SYS_syncfs, fd)));
	show("sync_file_range", r(syscall(SYS_sync_file_range, fd, 0, 0, 0)));
	show("fadvise64", r(syscall(SYS_fadvise64, fd, 0, 0, POSIX_FADV_SEQUENTIAL)));
	show("readahead", r(syscall(SYS_readahead, fd, 0, 4096)));
	close(fd);
}

/* The calls of the first remote-call work, in their forms, for the same comparison */
static void basics(int dfd)
{
	char buf[256], cwd[256];
	struct stat st;
	struct statx sx;
	CALL("open O_CREAT", syscall(SYS_open, "b1", O_WRONLY | O_CREAT | O_EXCL, 0640) >= 0, "b1");
	CALL("open O_EXCL exists", syscall(SYS_open, "b1", O_WRONLY | O_CREAT | O_EXCL, 0640));
	CALL("creat", syscall(SYS_creat, "b2", 0600) >= 0, "b2");
	int fd = (int)syscall(SYS_openat, dfd, "../b2", O_RDWR);
	show("openat", fd >= 0);
	struct iovec iov[2] = { { "ab", 2 }, { "cdef", 4 } };
	show("writev", r(syscall(SYS_writev, fd, iov, 2)));
	show("pwrite64", r(syscall(SYS_pwrite64, fd, "XY", 2, 1)));
	show("pwritev", r(syscall(SYS_pwritev, fd, iov, 1, 10, 0)));
	show("pwritev2 at the file offset", r(syscall(SYS_pwritev2, fd, iov + 1, 1, -1, -1, 0)));
	show("write", r(syscall(SYS_write, fd, "gh", 2)));
	show("lseek", r(syscall(SYS_lseek, fd, 0, SEEK_SET)));
	show("read", r(syscall(SYS_read, fd, buf, 3)));
	char a[4] = { 0 }, b[8] = { 0 };
	struct iovec in[2] = { { a, 3 }, { b, 7 } };
	show("readv", r(syscall(SYS_readv, fd, in, 2)));
	show("preadv", r(syscall(SYS_preadv, fd, in, 2, 2, 0)));
	show("preadv2", r(syscall(SYS_preadv2, fd, in, 1, 0, 0, 0)));
	show("pread64", r(syscall(SYS_pread64, fd, buf, 20, 0)));
	printf("  read back \"%.12s\" \"%s\" \"%s\"\n", buf, a, b);
	show("fsync", r(syscall(SYS_fsync, fd)));
	show("fdatasync", r(syscall(SYS_fdatasync, fd)));
	CALL("ftruncate", syscall(SYS_ftruncate, fd, 4), "b2");
	CALL("truncate", syscall(SYS_truncate, "b2", 2), "b2");
	int d1 = (int)syscall(SYS_dup, fd), d2 = (int)syscall(SYS_dup2, fd, 40), d3 = (int)syscall(SYS_dup3, fd, 41, O_CLOEXEC);
	printf("dup dup2 dup3 = %d %d %d, offsets shared %d\n", d1 > 2, d2, d3, lseek(d1, 1, SEEK_SET) == 1 && lseek(40, 0, SEEK_CUR) == 1);
	show("fstat", r(syscall(SYS_fstat, fd, &st)));
	printf("  size %lld mode %o\n", (long long)st.st_size, st.st_mode);
	show("stat", r(syscall(SYS_stat, "sl", &st)) ?: (long)st.st_size);
	show("lstat", r(syscall(SYS_lstat, "sl", &st)) ?: (long)st.st_size);
	show("newfstatat", r(syscall(SYS_newfstatat, dfd, "../sl", &st, AT_SYMLINK_NOFOLLOW)) ?: (long)st.st_size);
	show("statx", r(syscall(SYS_statx, AT_FDCWD, "f", 0, STATX_BASIC_STATS, &sx)) ?: (long)sx.stx_size);
	show("access", r(syscall(SYS_access, "f", R_OK | W_OK)));
	show("faccessat", r(syscall(SYS_faccessat, dfd, "nothing", F_OK)));
	show("faccessat2", r(syscall(SYS_faccessat2, dfd, "../f", R_OK, 0)));
	show("readlink", r(syscall(SYS_readlink, "sl", buf, sizeof buf)));
	CALL("mkdir", syscall(SYS_mkdir, "m1", 0750), "m1");
	CALL("mkdirat", syscall(SYS_mkdirat, dfd, "m2", 0700), "d/m2");
	CALL("rename", syscall(SYS_rename, "b1", "m1/b1"), "b1", "m1/b1");
	CALL("rmdir not empty", syscall(SYS_rmdir, "m1"), "m1");
	CALL("renameat", syscall(SYS_renameat, AT_FDCWD, "m1/b1", dfd, "b1"), "d/b1");
	CALL("unlink", syscall(SYS_unlink, "d/b1"), "d/b1");
	CALL("unlinkat", syscall(SYS_unlinkat, dfd, "m2", AT_REMOVEDIR), "d/m2");
	CALL("rmdir", syscall(SYS_rmdir, "m1"), "m1");
	int dd = open("d", O_RDONLY | O_DIRECTORY);
	long n = r(syscall(SYS_getdents64, dd, buf, sizeof buf)), names = 0;
	for (long at = 0; at < n; at += *(unsigned short *)(buf + at + 16))
		names++;
	printf("getdents64 = %ld entries\n", names);
	show("fchdir", r(syscall(SYS_fchdir, dd)));
	show("getcwd ends in /d", r(syscall(SYS_getcwd, cwd, sizeof cwd)) > 0 && strlen(cwd) >= 2 && !strcmp(cwd + strlen(cwd) - 2, "/d"));
	if (r(syscall(SYS_chdir, "..")) < 0 || access("sl", F_OK) < 0) {
		printf("chdir .. did not come back to the tree\n");
		exit(1);
	}
	show("chdir", 0);
	struct pollfd pf = { fd, POLLIN, 0 };
	struct timespec zero = { 1, 0 };
	show("ppoll", r(syscall(SYS_ppoll, &pf, 1, &zero, NULL, 8)));
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(fd, &rd);
	show("pselect6", r(syscall(SYS_pselect6, fd + 1, &rd, NULL, NULL, &zero, NULL)));
	show("close", r(syscall(SYS_close, dd)));
	show("close again", r(syscall(SYS_close, dd)));
	close(fd);
	close(d1);
	close(40);
	close(41);
}

static int forwarded(void)
{
	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	basics(dfd);
	links(dfd);
	modes(dfd);
	times(dfd);
	nodes(dfd);
	filesystems();
	sizes();
	renames(dfd);
	copies();
	waits();
	descriptors();
	return 0;
}

/* Every refused call, with a remote descriptor in each 'f', a remote path in each 'p' (the
 * directory descriptor of a 'd' is AT_FDCWD), and zero elsewhere: NR:SPEC pairs from calls.h */
static int refused(int argc, char **argv)
{
	int fd = open("f", O_RDWR);
	for (int i = 0; i < argc; i++) {
		long nr = strtol(argv[i], 0, 10), a[6] = { 0 };
		const char *spec = strchr(argv[i], ':');
		for (int k = 0; spec && spec[k + 1] && k < 6; k++)
			a[k] = spec[k + 1] == 'f' ? fd : spec[k + 1] == 'p' ? (long)"f" : spec[k + 1] == 'd' ? AT_FDCWD : 0;
		long v = r(syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]));
		printf("%ld %s\n", nr, v < 0 ? strerrorname_np((int)-v) : "0");
	}
	return 0;
}

/* The calls that used to reach /dev/null, on a descriptor of a remote file: one the probe opens,
 * or (not relinked) one it was given */
static int placeholders(int fd)
{
	struct timespec ts[2] = { { 978307200, 0 }, { 978307200, 0 } };
	char c;
	int v = 0;
	show("fchmod", r(syscall(SYS_fchmod, fd, 0600)));
	show("fchown", r(syscall(SYS_fchown, fd, 4321, 4321)));
	show("ftruncate", r(syscall(SYS_ftruncate, fd, 3)));
	show("fallocate", r(syscall(SYS_fallocate, fd, 0, 0, 8192)));
	show("write", r(syscall(SYS_write, fd, "x", 1)));
	show("read", r(syscall(SYS_read, fd, &c, 1)));
	show("futimens", r(syscall(SYS_utimensat, fd, NULL, ts, 0)));
	show("ioctl FIONREAD", r(syscall(SYS_ioctl, fd, FIONREAD, &v)));
	show("mmap", (long)mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == -1 ? -errno : 0);
	show("fsetxattr", r(syscall(SYS_fsetxattr, fd, "user.x", "1", 1, 0)));
	show("flock", r(syscall(SYS_flock, fd, 2)));
	if (access("f", F_OK) == 0)
		state("f");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, 0, _IOLBF, 0);
	if (argc < 3 || chdir(argv[2]) < 0) {
		fprintf(stderr, "usage: calls-probe forwarded|refused|placeholders DIR [NR:SPEC...]\n");
		return 2;
	}
	if (!strcmp(argv[1], "forwarded"))
		return forwarded();
	if (!strcmp(argv[1], "refused"))
		return refused(argc - 3, argv + 3);
	if (!strcmp(argv[1], "placeholders"))
		return placeholders(argc > 3 ? atoi(argv[3]) : open("f", O_RDWR));
	return 2;
}
