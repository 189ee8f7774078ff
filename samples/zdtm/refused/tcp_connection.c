/*
 * tcp_connection: a TCP connection between two of the program's own sockets, over 127.0.0.1
 * (CRIU's socket-tcp-local, socket-tcp-close0/1/2, socket-dump-tcp-close and the tcp4v6 states):
 * a connection cannot be made again without TCP_REPAIR (CAP_NET_ADMIN), so the checkpoint warns
 * about both ends and a restart refuses the image, naming the first. Restarted with
 * CKPT_TCP_CLOSE=1 (CRIU's --tcp-close), both ends come back closed (TCP_CLOSE, a read says end of
 * file, a write EPIPE, poll POLLHUP) and the listener, which is not a connection, still accepts.
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

static void expect_closed(int fd, const char *what)
{
	struct tcp_info info;
	char c;
	zdtm_check(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &(socklen_t){ sizeof info }) == 0 && info.tcpi_state == TCP_CLOSE,
		   "%s: not in TCP_CLOSE", what);
	zdtm_check(recv(fd, &c, 1, MSG_DONTWAIT) == 0, "%s: a read does not say end of file: %s", what, strerror(errno));
	struct pollfd p = { fd, POLLIN, 0 };
	zdtm_check(poll(&p, 1, 0) == 1 && (p.revents & POLLHUP), "%s: no POLLHUP", what);
	zdtm_check(send(fd, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EPIPE, "%s: a write does not fail with EPIPE", what);
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int listener = socket(AF_INET, SOCK_STREAM, 0), client = socket(AF_INET, SOCK_STREAM, 0);
	/* as servers do: its port's connections, left in TIME_WAIT by the killed process, would block
	 * a bind without it (the restart would be refused, naming the port) */
	zdtm_check(setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)) == 0, "SO_REUSEADDR");
	zdtm_check(bind(listener, (struct sockaddr *)&a, sizeof a) == 0 && listen(listener, 4) == 0 &&
		   getsockname(listener, (struct sockaddr *)&a, &len) == 0, "listen: %s", strerror(errno));
	zdtm_check(connect(client, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s", strerror(errno));
	int server = accept(listener, NULL, NULL);
	zdtm_check(server >= 0, "accept: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();
	expect_closed(client, "the client's end");
	expect_closed(server, "the server's end");
	int again = socket(AF_INET, SOCK_STREAM, 0);
	zdtm_check(connect(again, (struct sockaddr *)&a, sizeof a) == 0 && accept(listener, NULL, NULL) >= 0,
		   "the listener does not accept: %s", strerror(errno));
	zdtm_pass();
}
