/*
 * memfd: its name, contents, size and seals come back; the seals still hold.
 */
#include "zdtm.h"
#include <sys/mman.h>
#include <sys/stat.h>

static const char text[] = "the contents of a memfd";

int main(void)
{
	int fd = memfd_create("zdtm-memfd", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	zdtm_check(fd >= 0, "memfd_create: %s", strerror(errno));
	zdtm_check(ftruncate(fd, 8192) == 0 && pwrite(fd, text, sizeof text, 4096) == sizeof text, "fill");
	zdtm_check(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0, "F_ADD_SEALS: %s", strerror(errno));
	int plain = memfd_create("no-sealing", 0);
	zdtm_check(plain >= 0 && write(plain, "abc", 3) == 3, "plain memfd");
	zdtm_ready();
	zdtm_wait();

	char buf[sizeof text], link[64];
	struct stat st;
	ssize_t n = readlink("/proc/self/fd/3", link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	zdtm_check(!strcmp(link, "/memfd:zdtm-memfd (deleted)"), "name: %s", link);
	zdtm_check(fstat(fd, &st) == 0 && st.st_size == 8192, "size %lld", (long long)st.st_size);
	zdtm_check(pread(fd, buf, sizeof buf, 4096) == sizeof buf && !memcmp(buf, text, sizeof text), "contents differ");
	zdtm_check(fcntl(fd, F_GET_SEALS) == (F_SEAL_SHRINK | F_SEAL_GROW), "seals %#x", fcntl(fd, F_GET_SEALS));
	zdtm_check(ftruncate(fd, 4096) < 0 && errno == EPERM, "F_SEAL_SHRINK does not hold");
	zdtm_check(pwrite(fd, "x", 1, 8192) < 0 && errno == EPERM, "F_SEAL_GROW does not hold");
	zdtm_check(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0, "more seals can no longer be added");
	zdtm_check(fcntl(plain, F_GET_SEALS) == F_SEAL_SEAL, "a memfd made without sealing can be sealed");
	zdtm_check(pread(plain, buf, 3, 0) == 3 && !memcmp(buf, "abc", 3) && lseek(plain, 0, SEEK_CUR) == 3, "plain memfd differs");
	zdtm_check(fcntl(fd, F_GETFD) & FD_CLOEXEC, "close-on-exec lost");
	zdtm_pass();
}
