/*
 * shared_deleted: a MAP_SHARED mapping of a file the program then deleted. No file at any path
 * can be mapped shared again in its place: the checkpoint warns, and a restart refuses the image,
 * naming the mapping (CRIU keeps such a file with its contents, as a hidden link, with
 * privilege).
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/mman.h>

int main(void)
{
	int fd = open("shared_deleted.data", O_RDWR | O_CREAT | O_TRUNC, 0644);
	zdtm_check(fd >= 0 && ftruncate(fd, 4096) == 0, "cannot make the file: %s", strerror(errno));
	char *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	zdtm_check(map != MAP_FAILED, "mmap: %s", strerror(errno));
	close(fd);
	unlink("shared_deleted.data");
	map[0] = 1;
	zdtm_ready();
	zdtm_wait();
	zdtm_pass();
}
