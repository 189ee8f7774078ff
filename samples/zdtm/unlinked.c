/*
 * Files with no name: one unlinked while open (as tmpfile() leaves it) and an O_TMPFILE one,
 * each with data, a hole and an offset. After a restart each has its contents with the hole
 * kept, its offset, no link, and the program's writes go on where they were.
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
	zdtm_pass();
}
