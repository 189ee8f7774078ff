/*
 * timerfd: one that had expired (its expiration not read) gives exactly that count; one armed
 * for a short time fires after the restart, exactly once; a long periodic one keeps its clock,
 * interval and what remained of its time.
 */
#include "zdtm.h"
#include <poll.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <time.h>

static int clock_of(int fd)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	int f = open(path, O_RDONLY);
	ssize_t n = read(f, buf, sizeof buf - 1);
	close(f);
	buf[n > 0 ? n : 0] = 0;
	char *c = strstr(buf, "clockid:");
	return c ? atoi(c + 8) : -1;
}

int main(void)
{
	int expired = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int soon = timerfd_create(CLOCK_BOOTTIME, 0);
	int periodic = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
	struct itimerspec now = { { 0, 0 }, { 0, 1 } }, later = { { 0, 0 }, { 0, 50 * 1000 * 1000 } };
	struct itimerspec hourly = { { 3600, 0 }, { 3600, 0 } }, got;
	zdtm_check(expired >= 0 && soon >= 0 && periodic >= 0, "timerfd_create: %s", strerror(errno));
	zdtm_check(timerfd_settime(expired, 0, &now, NULL) == 0, "settime");
	struct pollfd pfd = { expired, POLLIN, 0 };
	zdtm_check(poll(&pfd, 1, -1) == 1, "the expired timer never fired");
	zdtm_check(timerfd_settime(periodic, 0, &hourly, NULL) == 0, "settime periodic");
	zdtm_ready();
	zdtm_check(timerfd_settime(soon, 0, &later, NULL) == 0, "settime soon");
	zdtm_wait();

	uint64_t ticks = 0;
	zdtm_check(read(expired, &ticks, sizeof ticks) == sizeof ticks && ticks == 1, "expired timer: %llu ticks, want 1",
		   (unsigned long long)ticks);
	zdtm_check(read(expired, &ticks, sizeof ticks) < 0 && errno == EAGAIN, "expired timer fired again");
	zdtm_check(read(soon, &ticks, sizeof ticks) == sizeof ticks && ticks == 1, "short timer: %llu ticks, want 1",
		   (unsigned long long)ticks);
	zdtm_check(timerfd_gettime(soon, &got) == 0 && got.it_value.tv_sec == 0 && got.it_value.tv_nsec == 0,
		   "the short timer is still armed");
	zdtm_check(timerfd_gettime(periodic, &got) == 0, "gettime");
	zdtm_check(got.it_interval.tv_sec == 3600 && got.it_interval.tv_nsec == 0, "interval %ld s", (long)got.it_interval.tv_sec);
	zdtm_check(got.it_value.tv_sec > 0 && got.it_value.tv_sec < 3600, "the hourly timer has %ld s left", (long)got.it_value.tv_sec);
	zdtm_check(clock_of(expired) == CLOCK_MONOTONIC && clock_of(soon) == CLOCK_BOOTTIME && clock_of(periodic) == CLOCK_REALTIME,
		   "clocks %d %d %d", clock_of(expired), clock_of(soon), clock_of(periodic));
	zdtm_check((fcntl(expired, F_GETFL) & O_NONBLOCK) && (fcntl(periodic, F_GETFD) & FD_CLOEXEC), "flags lost");
	zdtm_pass();
}
