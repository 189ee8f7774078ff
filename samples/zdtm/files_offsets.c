/*
 * files_offsets: open files survive at their descriptor numbers, offsets and flags. A read-only
 * file part-read, a write-only file seeked back, a read-write file and a dup of it (one offset
 * shared by two descriptors), the read-only file opened again with O_NONBLOCK and FD_CLOEXEC, a
 * directory and /dev/null, all at chosen numbers. After the restart every descriptor has its
 * offset and flags, nothing else is open, reads and writes continue where they left off, the
 * dup still shares its offset, the directory is the same directory and /dev/null is /dev/null.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define SIZE 8192

enum { RO = 10, WO, RW, RO_AGAIN, DIR_FD, NULL_FD, RW_DUP = 20 };

struct expected { int fd; off_t offset; int flags; int cloexec; };

static const struct expected expected[] = {
	{ RO, 100, O_RDONLY, 0 },
	{ WO, 1234, O_WRONLY, 0 },
	{ RW, 777, O_RDWR, 0 },
	{ RO_AGAIN, 4096, O_RDONLY | O_NONBLOCK, FD_CLOEXEC },
	{ DIR_FD, 0, O_RDONLY | O_DIRECTORY, 0 },
	{ NULL_FD, 0, O_WRONLY, 0 },
	{ RW_DUP, 777, O_RDWR, 0 },
};
#define EXPECTED (sizeof expected / sizeof expected[0])

static unsigned char byte_at(off_t at) { return (unsigned char)(at * 7 + (at >> 8) + 1); }

static void open_at(const char *path, int flags, int fd)
{
	int got = open(path, flags, 0644);
	zdtm_check(got >= 0, "cannot open %s: %s", path, strerror(errno));
	zdtm_check(dup3(got, fd, flags & O_CLOEXEC) == fd, "cannot move %s to fd %d", path, fd);
	close(got);
}

static void write_pattern(int fd)
{
	static unsigned char buf[SIZE];
	for (off_t j = 0; j < SIZE; j++)
		buf[j] = byte_at(j);
	zdtm_check(write(fd, buf, SIZE) == SIZE, "cannot write the pattern");
}

static void set_up(void)
{
	unsigned char buf[100];
	open_at("offsets.rw", O_RDWR | O_CREAT | O_TRUNC, RW);
	write_pattern(RW);
	lseek(RW, 777, SEEK_SET);
	dup2(RW, RW_DUP);
	open_at("offsets.wo", O_WRONLY | O_CREAT | O_TRUNC, WO);
	write_pattern(WO);
	lseek(WO, 1234, SEEK_SET);
	open_at("offsets.rw", O_RDONLY, RO);
	zdtm_check(read(RO, buf, sizeof buf) == sizeof buf, "cannot read offsets.rw");
	open_at("offsets.rw", O_RDONLY | O_NONBLOCK | O_CLOEXEC, RO_AGAIN);
	lseek(RO_AGAIN, 4096, SEEK_SET);
	open_at(".", O_RDONLY | O_DIRECTORY, DIR_FD);
	open_at("/dev/null", O_WRONLY, NULL_FD);
}

static int expected_fd(int fd)
{
	for (const struct expected *e = expected; e < expected + EXPECTED; e++)
		if (e->fd == fd)
			return 1;
	return 0;
}

/* Descriptors the sample was started with (a test runner may pass some on): not its own */
static unsigned char open_at_start[256];

static void check_table(void)
{
	for (const struct expected *e = expected; e < expected + EXPECTED; e++) {
		int flags = fcntl(e->fd, F_GETFL), fd_flags = fcntl(e->fd, F_GETFD);
		zdtm_check(flags >= 0, "fd %d is not open", e->fd);
		flags &= O_ACCMODE | O_APPEND | O_NONBLOCK | O_DIRECTORY;
		zdtm_check(flags == e->flags, "fd %d has flags %#o, not %#o", e->fd, flags, e->flags);
		zdtm_check(fd_flags == e->cloexec, "fd %d has fd flags %#x, not %#x", e->fd, fd_flags, e->cloexec);
		off_t at = lseek(e->fd, 0, SEEK_CUR);
		zdtm_check(at == e->offset, "fd %d is at offset %lld, not %lld", e->fd, (long long)at, (long long)e->offset);
	}
	for (int fd = 3; fd < 256; fd++)
		zdtm_check(fcntl(fd, F_GETFD) < 0 || expected_fd(fd) || open_at_start[fd], "fd %d is open, and the sample never opened it", fd);
}

static void check_read(int fd, off_t at)
{
	unsigned char buf[64];
	zdtm_check(read(fd, buf, sizeof buf) == sizeof buf, "fd %d: read failed", fd);
	for (unsigned j = 0; j < sizeof buf; j++)
		zdtm_check(buf[j] == byte_at(at + j), "fd %d: byte %lld read is %#x, not %#x", fd, (long long)(at + j), buf[j], byte_at(at + j));
}

static void check_use(void)
{
	struct stat dir, cwd, dev;
	check_read(RO, 100);
	check_read(RO_AGAIN, 4096);
	check_read(RW_DUP, 777);
	zdtm_check(lseek(RW, 0, SEEK_CUR) == 777 + 64, "reading the dup did not move the offset they share");
	zdtm_check(write(WO, "XYZ", 3) == 3, "cannot write to the write-only file");
	int check = openat(DIR_FD, "offsets.wo", O_RDONLY);
	char back[3];
	zdtm_check(check >= 0 && pread(check, back, 3, 1234) == 3 && !memcmp(back, "XYZ", 3), "the write did not land at offset 1234");
	close(check);
	zdtm_check(fstat(DIR_FD, &dir) == 0 && stat(".", &cwd) == 0 && S_ISDIR(dir.st_mode) && dir.st_ino == cwd.st_ino,
		"the directory fd is not the working directory any more");
	zdtm_check(fstat(NULL_FD, &dev) == 0 && S_ISCHR(dev.st_mode) && dev.st_rdev == makedev(1, 3), "fd %d is not /dev/null", NULL_FD);
	zdtm_check(write(NULL_FD, "gone", 4) == 4, "cannot write to /dev/null");
}

int main(void)
{
	for (int fd = 3; fd < 256; fd++)
		open_at_start[fd] = fcntl(fd, F_GETFD) >= 0;
	set_up();
	zdtm_ready();
	zdtm_wait();
	check_table();
	check_use();
	zdtm_pass();
}
