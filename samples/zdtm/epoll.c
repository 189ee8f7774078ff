/*
 * epoll: every registration comes back with its events and data, at the descriptor numbers the
 * program registered, and reports what happens after the restart; an edge-triggered one reports
 * an edge once, a one-shot one that fired stays disarmed until re-armed.
 */
#include "zdtm.h"
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

int main(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), efd = eventfd(0, EFD_NONBLOCK), p[2], once = eventfd(1, 0);
	zdtm_check(ep >= 0 && efd >= 0 && once >= 0 && pipe(p) == 0, "setup: %s", strerror(errno));
	struct epoll_event ev = { EPOLLIN, { .u64 = 0x1111 } }, got[4];
	zdtm_check(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == 0, "add eventfd");
	ev = (struct epoll_event){ EPOLLIN | EPOLLET, { .u64 = 0x2222 } };
	zdtm_check(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "add pipe");
	ev = (struct epoll_event){ EPOLLIN | EPOLLONESHOT, { .u64 = 0x3333 } };
	zdtm_check(epoll_ctl(ep, EPOLL_CTL_ADD, once, &ev) == 0, "add one-shot");
	zdtm_check(epoll_wait(ep, got, 4, 0) == 1 && got[0].data.u64 == 0x3333, "the one-shot did not fire");
	zdtm_ready();
	zdtm_wait();

	zdtm_check(epoll_wait(ep, got, 4, 0) == 0, "events reported with nothing happened");
	zdtm_check(write(p[1], "x", 1) == 1, "write");
	int n = epoll_wait(ep, got, 4, -1);
	zdtm_check(n == 1 && got[0].data.u64 == 0x2222 && (got[0].events & EPOLLIN), "pipe: %d events, data %llx", n,
		   (unsigned long long)got[0].data.u64);
	zdtm_check(epoll_wait(ep, got, 4, 0) == 0, "an edge-triggered registration reported the same edge twice");
	uint64_t one = 1;
	zdtm_check(write(efd, &one, sizeof one) == sizeof one, "write eventfd");
	n = epoll_wait(ep, got, 4, -1);
	zdtm_check(n == 1 && got[0].data.u64 == 0x1111, "eventfd: %d events, data %llx", n, (unsigned long long)got[0].data.u64);
	zdtm_check(epoll_wait(ep, got, 4, 0) == 1, "a level-triggered registration did not report again");
	ev = (struct epoll_event){ EPOLLIN | EPOLLONESHOT, { .u64 = 0x4444 } };
	zdtm_check(epoll_ctl(ep, EPOLL_CTL_ADD, once, &ev) < 0 && errno == EEXIST, "the one-shot is not registered at its number");
	zdtm_check(epoll_ctl(ep, EPOLL_CTL_MOD, once, &ev) == 0, "EPOLL_CTL_MOD: %s", strerror(errno));
	zdtm_check(read(efd, &one, sizeof one) == sizeof one, "read eventfd");
	n = epoll_wait(ep, got, 4, 0);
	zdtm_check(n == 1 && got[0].data.u64 == 0x4444, "re-armed one-shot: %d events", n);
	zdtm_check(fcntl(ep, F_GETFD) & FD_CLOEXEC, "close-on-exec lost");
	zdtm_pass();
}
