/*
 * netlink_socket: a socket of a family ckpt does not restore (a NETLINK_ROUTE socket here; packet
 * and raw sockets need privilege): the checkpoint warns about it, naming the descriptor, and a
 * restart refuses the image in the same words.
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <linux/netlink.h>
#include <sys/socket.h>

int main(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	zdtm_check(fd >= 0, "socket: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();
	zdtm_check(fcntl(fd, F_GETFD) >= 0, "the socket is gone");
	zdtm_pass();
}
