/*
 * scm_rights: a descriptor passed with SCM_RIGHTS over a socket pair, not yet received (CRIU's
 * scm00-scm05, scm09): the descriptors in flight are not restored, so the checkpoint warns about
 * the socket they wait on and a restart refuses the image, naming it.
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/socket.h>

int main(void)
{
	int sv[2], passed = open("/dev/null", O_RDONLY);
	zdtm_check(passed >= 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair: %s", strerror(errno));
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } control = { 0 };
	struct iovec iov = { "fd", 2 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &passed, sizeof(int));
	zdtm_check(sendmsg(sv[0], &msg, 0) == 2, "sendmsg: %s", strerror(errno));
	close(passed);
	zdtm_ready();
	zdtm_wait();
	char buf[2];
	zdtm_check(recv(sv[1], buf, 2, 0) == 2, "the message is gone");
	zdtm_pass();
}
