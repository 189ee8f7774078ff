/*
 * file_locks: locks are held again after a restart (CRIU's file_locks00 to 08, ofd_file_locks).
 * The sample takes an flock (exclusive) on one file, a POSIX write lock on bytes 10 to 29 of a
 * second, an OFD read lock on the whole of a third, and a POSIX write lock on a fourth that it
 * also maps MAP_SHARED (sqlite's WAL index: its -shm file). After the restart a child (another
 * process, another owner) finds each lock taken: it cannot get what conflicts, but gets what
 * does not (bytes outside the POSIX range, a read lock beside the OFD read lock); the fourth
 * file's mapping still reaches the file.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/file.h>
#include <sys/mman.h>

static int open_file(const char *name)
{
	int fd = open(name, O_RDWR | O_CREAT, 0644);
	zdtm_check(fd >= 0 && ftruncate(fd, 4096) == 0, "cannot make %s: %s", name, strerror(errno));
	return fd;
}

static int range_lock(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
	return fcntl(fd, cmd, &fl);
}

/* In a child, with descriptors of its own: 0 when each lock is found as the parent should hold it */
static int child_checks(void)
{
	int f = open("file_locks.flock", O_RDWR), p = open("file_locks.posix", O_RDWR);
	int o = open("file_locks.ofd", O_RDWR), m = open("file_locks.mapped", O_RDWR);
	if (f < 0 || p < 0 || o < 0 || m < 0)
		return 10;
	if (flock(f, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK)
		return 11;
	if (range_lock(p, F_SETLK, F_RDLCK, 15, 1) == 0)
		return 12;
	if (range_lock(p, F_SETLK, F_WRLCK, 30, 10) != 0 || range_lock(p, F_SETLK, F_WRLCK, 0, 10) != 0)
		return 13;	/* outside the parent's range */
	if (range_lock(o, F_OFD_SETLK, F_WRLCK, 0, 0) == 0)
		return 14;
	if (range_lock(o, F_OFD_SETLK, F_RDLCK, 0, 0) != 0)
		return 15;	/* readers share */
	if (range_lock(m, F_SETLK, F_RDLCK, 0, 1) == 0)
		return 16;
	return 0;
}

int main(void)
{
	int f = open_file("file_locks.flock"), p = open_file("file_locks.posix"), o = open_file("file_locks.ofd");
	int m = open_file("file_locks.mapped");
	zdtm_check(flock(f, LOCK_EX | LOCK_NB) == 0, "flock: %s", strerror(errno));
	zdtm_check(range_lock(p, F_SETLK, F_WRLCK, 10, 20) == 0, "F_SETLK: %s", strerror(errno));
	zdtm_check(range_lock(o, F_OFD_SETLK, F_RDLCK, 0, 0) == 0, "F_OFD_SETLK: %s", strerror(errno));
	char *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	zdtm_check(map != MAP_FAILED, "mmap: %s", strerror(errno));
	zdtm_check(range_lock(m, F_SETLK, F_WRLCK, 0, 0) == 0, "F_SETLK on the mapped file: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();

	int code = zdtm_in_child(child_checks);
	static const char *const what[] = { [10] = "the child cannot open the files", [11] = "the flock is not held",
		[12] = "the POSIX lock is not held", [13] = "the POSIX lock covers more than bytes 10 to 29",
		[14] = "the OFD read lock is not held", [15] = "the OFD lock is held for writing",
		[16] = "the POSIX lock on the mapped file is not held" };
	zdtm_check(code == 0, "%s", code >= 10 && code <= 16 ? what[code] : "the child failed");
	map[100] = 'x';
	zdtm_check(msync(map, 4096, MS_SYNC) == 0, "msync: %s", strerror(errno));
	char c = 0;
	zdtm_check(pread(m, &c, 1, 100) == 1 && c == 'x', "the mapped file's mapping no longer reaches the file");
	zdtm_pass();
}
