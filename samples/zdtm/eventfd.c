/*
 * eventfd: a counter's value, a semaphore's count, O_NONBLOCK and close-on-exec come back.
 */
#include "zdtm.h"
#include <stdint.h>
#include <sys/eventfd.h>

int main(void)
{
	int counter = eventfd(7, EFD_NONBLOCK | EFD_CLOEXEC), sem = eventfd(2, EFD_SEMAPHORE);
	uint64_t v = 3;
	zdtm_check(counter >= 0 && sem >= 0, "eventfd: %s", strerror(errno));
	zdtm_check(write(counter, &v, sizeof v) == sizeof v, "write");
	zdtm_ready();
	zdtm_wait();

	zdtm_check(fcntl(counter, F_GETFD) & FD_CLOEXEC, "close-on-exec lost");
	zdtm_check(fcntl(counter, F_GETFL) & O_NONBLOCK, "O_NONBLOCK lost");
	zdtm_check(read(counter, &v, sizeof v) == sizeof v && v == 10, "counter %llu, want 10", (unsigned long long)v);
	zdtm_check(read(counter, &v, sizeof v) < 0 && errno == EAGAIN, "the counter was not reset by reading it");
	for (int i = 0; i < 2; i++)
		zdtm_check(read(sem, &v, sizeof v) == sizeof v && v == 1, "semaphore read %d gave %llu, want 1", i, (unsigned long long)v);
	zdtm_check(fcntl(sem, F_SETFL, O_NONBLOCK) == 0 && read(sem, &v, sizeof v) < 0 && errno == EAGAIN,
		   "the semaphore had more than 2");
	zdtm_pass();
}
