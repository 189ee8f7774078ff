/*
 * file_lease: a read lease on a file of the program's own (F_SETLEASE, CRIU's file_lease00).
 * A restart does not take leases again: it refuses the image, naming them.
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */

int main(void)
{
	int fd = open("file_lease.data", O_RDONLY | O_CREAT, 0644);
	zdtm_check(fd >= 0, "open: %s", strerror(errno));
	zdtm_check(fcntl(fd, F_SETLEASE, F_RDLCK) == 0, "F_SETLEASE: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();
	zdtm_check(fcntl(fd, F_GETLEASE) == F_RDLCK, "the lease is gone");
	zdtm_pass();
}
