/*
 * rmdir_open: a directory the program has open and then removed (CRIU's rmdir_open, cwd01's
 * open case). There is nothing to open again at its path: a restart refuses the image, naming it.
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/stat.h>

int main(void)
{
	zdtm_check(mkdir("rmdir_open.dir", 0755) == 0, "mkdir: %s", strerror(errno));
	int fd = open("rmdir_open.dir", O_RDONLY | O_DIRECTORY);
	zdtm_check(fd >= 0, "open: %s", strerror(errno));
	zdtm_check(rmdir("rmdir_open.dir") == 0, "rmdir: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();
	zdtm_pass();
}
