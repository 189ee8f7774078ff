/*
 * Files with no name: one unlinked while open (as tmpfile() leaves it) and an O_TMPFILE one,
 * each with data, a hole and an offset. After a restart each has its contents with the hole
 * kept, its offset, no link, and the program's writes go on where they were. A third, unlinked
 * and then given another mode (fchmod), is sparse and over 3 GiB: a hole at its head, 2 GiB of
 * hole in the middle and 1 GiB at its tail; after a restart its holes are holes, its data is where
 * it was, and it has that mode. A fourth, given a modification time and then unlinked (CRIU's
 * file_attr), keeps that time. A fifth is opened under two names, both then removed (CRIU's
 * link10): after a restart both descriptors are one file still, each under its own name.
 */
#include "zdtm.h"
#include <sys/stat.h>

#define HOLE_AT	(1 << 20)

static char block[4096];

static void fill(int fd, const char *what)
{
	memset(block, what[0], sizeof block);
	zdtm_check(pwrite(fd, block, sizeof block, 0) == sizeof block, "%s: pwrite", what);
	zdtm_check(pwrite(fd, what, strlen(what), HOLE_AT) == (ssize_t)strlen(what), "%s: pwrite past the hole", what);
	zdtm_check(lseek(fd, 100, SEEK_SET) == 100, "%s: lseek", what);
}

static void check(int fd, const char *what)
{
	struct stat st;
	char buf[64];
	zdtm_check(fstat(fd, &st) == 0 && st.st_nlink == 0, "%s: has %ld links", what, (long)st.st_nlink);
	zdtm_check(st.st_size == HOLE_AT + (off_t)strlen(what), "%s: size %lld", what, (long long)st.st_size);
	zdtm_check(lseek(fd, 0, SEEK_CUR) == 100, "%s: offset %lld", what, (long long)lseek(fd, 0, SEEK_CUR));
	zdtm_check(pread(fd, block, sizeof block, 0) == sizeof block, "%s: pread", what);
	for (size_t i = 0; i < sizeof block; i++)
		zdtm_check(block[i] == what[0], "%s: byte %zu is %d", what, i, block[i]);
	zdtm_check(pread(fd, buf, sizeof buf, HOLE_AT) == (ssize_t)strlen(what) && !memcmp(buf, what, strlen(what)),
		   "%s: the bytes past the hole differ", what);
	zdtm_check(write(fd, "more", 4) == 4 && pread(fd, buf, 4, 100) == 4 && !memcmp(buf, "more", 4), "%s: write at the offset", what);
	zdtm_check(lseek(fd, sizeof block, SEEK_DATA) == HOLE_AT, "%s: the hole was filled (SEEK_DATA %lld)", what,
		   (long long)lseek(fd, sizeof block, SEEK_DATA));
}

#define FAR_AT	0x80002000LL		/* past 2 GiB, as CRIU's unlink_largefile writes */
#define SPARSE_SIZE (FAR_AT + sizeof block + (1LL << 30))

/* Data at 4 KiB and past 2 GiB, with holes before, between and after */
static int make_sparse(void)
{
	int fd = open("sparse.tmp", O_RDWR | O_CREAT | O_EXCL, 0600);
	zdtm_check(fd >= 0 && unlink("sparse.tmp") == 0, "sparse: open and unlink: %s", strerror(errno));
	memset(block, 's', sizeof block);
	zdtm_check(pwrite(fd, block, sizeof block, sizeof block) == sizeof block, "sparse: pwrite at 4 KiB");
	zdtm_check(pwrite(fd, block, sizeof block, FAR_AT) == sizeof block, "sparse: pwrite past 2 GiB");
	zdtm_check(ftruncate(fd, SPARSE_SIZE) == 0 && fchmod(fd, 0604) == 0, "sparse: ftruncate and fchmod");
	return fd;
}

static void check_sparse(int fd)
{
	struct stat st;
	zdtm_check(fstat(fd, &st) == 0 && st.st_size == SPARSE_SIZE && st.st_nlink == 0 && (st.st_mode & 0777) == 0604,
		   "sparse: size %lld, %ld links, mode %o", (long long)st.st_size, (long)st.st_nlink, st.st_mode & 0777);
	zdtm_check(lseek(fd, 0, SEEK_DATA) == sizeof block, "sparse: the head hole ends at %lld", (long long)lseek(fd, 0, SEEK_DATA));
	zdtm_check(lseek(fd, sizeof block, SEEK_HOLE) == 2 * sizeof block, "sparse: the first data ends at %lld",
		   (long long)lseek(fd, sizeof block, SEEK_HOLE));
	zdtm_check(lseek(fd, 2 * sizeof block, SEEK_DATA) == FAR_AT, "sparse: the middle hole ends at %lld",
		   (long long)lseek(fd, 2 * sizeof block, SEEK_DATA));
	zdtm_check(lseek(fd, FAR_AT, SEEK_HOLE) == FAR_AT + (off_t)sizeof block, "sparse: the far data ends at %lld",
		   (long long)lseek(fd, FAR_AT, SEEK_HOLE));
	errno = 0;
	zdtm_check(lseek(fd, FAR_AT + sizeof block, SEEK_DATA) < 0 && errno == ENXIO, "sparse: data in the tail hole");
	const off_t data_at[] = { sizeof block, FAR_AT };
	for (int k = 0; k < 2; k++) {
		zdtm_check(pread(fd, block, sizeof block, data_at[k]) == sizeof block, "sparse: pread at %lld", (long long)data_at[k]);
		for (size_t i = 0; i < sizeof block; i++)
			zdtm_check(block[i] == 's', "sparse: byte %lld is %d", (long long)(data_at[k] + (off_t)i), block[i]);
	}
}

#define OLD_MTIME	1000000000	/* 2001: a time no restart gives a file it makes */

static int make_dated(void)
{
	int fd = open("dated.tmp", O_RDWR | O_CREAT | O_EXCL, 0600);
	struct timespec times[2] = { { 0, UTIME_OMIT }, { OLD_MTIME, 0 } };
	zdtm_check(fd >= 0 && write(fd, "dated", 5) == 5 && futimens(fd, times) == 0 && unlink("dated.tmp") == 0,
		   "dated: %s", strerror(errno));
	return fd;
}

/* The name /proc/self/fd shows for fd ends with `name` */
static void named(int fd, const char *name)
{
	char link[64], target[512];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof target - 1);
	zdtm_check(n > 0, "readlink %s", link);
	target[n] = 0;
	zdtm_check(n >= (ssize_t)strlen(name) && !strcmp(target + n - strlen(name), name), "fd %d is %s, not ...%s", fd, target, name);
}

int main(void)
{
	int unlinked = open("spill.tmp", O_RDWR | O_CREAT | O_EXCL, 0600);
	int nameless = open(".", O_TMPFILE | O_RDWR, 0640);
	zdtm_check(unlinked >= 0 && nameless >= 0, "open: %s", strerror(errno));
	zdtm_check(unlink("spill.tmp") == 0, "unlink");
	fill(unlinked, "unlinked");
	fill(nameless, "tmpfile");
	int reader = open("/proc/self/fd/3", O_RDONLY);	/* a second open of the unlinked file, read-only */
	zdtm_check(reader >= 0, "reopen: %s", strerror(errno));
	int sparse = make_sparse();
	int dated = make_dated();
	int first = open("twice.a", O_RDWR | O_CREAT | O_EXCL, 0600);
	zdtm_check(first >= 0 && link("twice.a", "twice.b") == 0, "twice: %s", strerror(errno));
	int second = open("twice.b", O_RDONLY);
	zdtm_check(second >= 0 && unlink("twice.a") == 0 && unlink("twice.b") == 0 && write(first, "one file", 8) == 8, "twice");
	zdtm_ready();
	zdtm_wait();

	check(unlinked, "unlinked");
	check(nameless, "tmpfile");
	zdtm_check(access("spill.tmp", F_OK) < 0, "the unlinked file has its name again");
	zdtm_check((fcntl(reader, F_GETFL) & O_ACCMODE) == O_RDONLY && write(reader, "x", 1) < 0, "the read-only open can write");
	char buf[4];
	zdtm_check(pread(reader, buf, 4, 100) == 4 && !memcmp(buf, "more", 4), "the second open is not of the same file");
	struct stat st;
	zdtm_check(fstat(nameless, &st) == 0 && (st.st_mode & 0777) == 0640, "mode %o", st.st_mode & 0777);
	check_sparse(sparse);
	zdtm_check(fstat(dated, &st) == 0 && st.st_mtime == OLD_MTIME, "dated: its modification time is %lld",
		   (long long)st.st_mtime);
	struct stat one, two;
	zdtm_check(fstat(first, &one) == 0 && fstat(second, &two) == 0 && one.st_ino == two.st_ino && one.st_nlink == 0,
		   "twice: two files, or one with a name");
	zdtm_check(pread(second, buf, 4, 4) == 4 && !memcmp(buf, "file", 4), "twice: the second name reads other bytes");
	named(first, "/twice.a (deleted)");
	named(second, "/twice.b (deleted)");
	zdtm_check(access("twice.a", F_OK) < 0 && access("twice.b", F_OK) < 0, "twice: a name is back");
	zdtm_pass();
}
