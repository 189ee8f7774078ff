/*
 * O_PATH descriptors of a directory and of a file: still O_PATH, still naming the same objects,
 * and usable as they were (openat relative to the directory, fstat of the file).
 */
#include "zdtm.h"
#include <sys/stat.h>

int main(void)
{
	zdtm_check(mkdir("dir", 0755) == 0, "mkdir");
	int f = open("dir/file", O_WRONLY | O_CREAT, 0644);
	zdtm_check(f >= 0 && write(f, "data", 4) == 4 && close(f) == 0, "file");
	int dir = open("dir", O_PATH | O_DIRECTORY), file = open("dir/file", O_PATH | O_CLOEXEC);
	zdtm_check(dir >= 0 && file >= 0, "O_PATH: %s", strerror(errno));
	struct stat before;
	zdtm_check(fstat(file, &before) == 0, "fstat");
	zdtm_ready();
	zdtm_wait();

	struct stat st;
	zdtm_check((fcntl(dir, F_GETFL) & O_PATH) && (fcntl(file, F_GETFL) & O_PATH), "O_PATH lost");
	zdtm_check(fcntl(file, F_GETFD) & FD_CLOEXEC, "close-on-exec lost");
	zdtm_check(fstat(file, &st) == 0 && st.st_ino == before.st_ino && st.st_size == 4, "another file");
	char buf[4];
	int again = openat(dir, "file", O_RDONLY);
	zdtm_check(again >= 0 && read(again, buf, 4) == 4 && !memcmp(buf, "data", 4), "openat through the directory");
	zdtm_check(read(file, buf, 1) < 0 && errno == EBADF, "an O_PATH descriptor can be read");
	zdtm_pass();
}
