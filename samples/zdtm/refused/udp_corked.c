/*
 * udp_corked: a UDP socket with UDP_CORK set and a datagram held back in it (CRIU's
 * socket_udp-corked): the held-back data cannot be read out, so the checkpoint warns about the
 * socket and a restart refuses the image.
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	zdtm_check(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0 &&
		   connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind: %s", strerror(errno));
	zdtm_check(setsockopt(fd, IPPROTO_UDP, UDP_CORK, &(int){ 1 }, sizeof(int)) == 0, "UDP_CORK: %s", strerror(errno));
	zdtm_check(write(fd, "held", 4) == 4, "write: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();
	char buf[8];
	zdtm_check(setsockopt(fd, IPPROTO_UDP, UDP_CORK, &(int){ 0 }, sizeof(int)) == 0 && recv(fd, buf, sizeof buf, 0) == 4,
		   "the held-back datagram is gone");
	zdtm_pass();
}
