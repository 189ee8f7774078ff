/*
 * AF_UNIX socket pairs whose both ends the process holds (CRIU's sockets_spair, socket_queues,
 * sockets01, sockets02, socket_close_data and their seqpacket twins): stream, seqpacket and
 * datagram pairs with unread messages in both directions (datagram and record boundaries kept,
 * the stream's bytes whole), shut down one way or both, and pairs whose other end was closed with
 * messages still unread. After a restart every message is read back in its order, the shutdown
 * states answer as before, and the pairs still carry what is written afterwards.
 */
#include "zdtm.h"
#include <sys/socket.h>

static const char *const msgs[] = { "first message", "the second, longer message", "3" };

static void pair(int type, int sv[2])
{
	zdtm_check(socketpair(AF_UNIX, type, 0, sv) == 0, "socketpair(%d): %s", type, strerror(errno));
}

static void send_all(int fd)
{
	for (int i = 0; i < 3; i++)
		zdtm_check(write(fd, msgs[i], strlen(msgs[i])) == (ssize_t)strlen(msgs[i]), "write: %s", strerror(errno));
}

/* Datagrams and records come back one by one; a stream's bytes come back together */
static void expect_messages(int fd, int type, const char *what)
{
	char buf[256];
	if (type == SOCK_STREAM) {
		char want[256] = "";
		for (int i = 0; i < 3; i++)
			strcat(want, msgs[i]);
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		zdtm_check(n == (ssize_t)strlen(want) && !memcmp(buf, want, n), "%s: stream read %zd bytes", what, n);
		return;
	}
	for (int i = 0; i < 3; i++) {
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		zdtm_check(n == (ssize_t)strlen(msgs[i]) && !memcmp(buf, msgs[i], n), "%s: message %d is %zd bytes", what, i, n);
	}
}

static void expect_empty(int fd, const char *what)
{
	char c;
	zdtm_check(recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN, "%s: more to read than was sent", what);
}

static void expect_talks(int a, int b, const char *what)
{
	char buf[8];
	zdtm_check(write(a, "ping", 4) == 4 && read(b, buf, sizeof buf) == 4 && !memcmp(buf, "ping", 4), "%s: a to b", what);
	zdtm_check(write(b, "pong", 4) == 4 && read(a, buf, sizeof buf) == 4 && !memcmp(buf, "pong", 4), "%s: b to a", what);
}

int main(void)
{
	static const int types[] = { SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM };
	int queued[3][2], half[3][2], closed[3][2], both[2];
	signal(SIGPIPE, SIG_IGN);
	for (int t = 0; t < 3; t++) {
		pair(types[t], queued[t]);
		send_all(queued[t][0]);
		send_all(queued[t][1]);
		pair(types[t], half[t]);	/* half[0] reads no more, half[1] still does */
		zdtm_check(shutdown(half[t][0], SHUT_RD) == 0, "shutdown: %s", strerror(errno));
		pair(types[t], closed[t]);
		send_all(closed[t][1]);
		close(closed[t][1]);
	}
	pair(SOCK_STREAM, both);
	zdtm_check(write(both[1], "last", 4) == 4, "write");
	zdtm_check(shutdown(both[0], SHUT_RDWR) == 0, "shutdown: %s", strerror(errno));
	int peek_off = 0;
	zdtm_check(setsockopt(queued[0][0], SOL_SOCKET, SO_PEEK_OFF, &peek_off, sizeof peek_off) == 0, "SO_PEEK_OFF");
	zdtm_ready();
	zdtm_wait();

	char buf[64];
	zdtm_check(getsockopt(queued[0][0], SOL_SOCKET, SO_PEEK_OFF, &peek_off, &(socklen_t){ sizeof peek_off }) == 0 &&
		   peek_off == 0, "SO_PEEK_OFF is %d, was 0", peek_off);
	zdtm_check(setsockopt(queued[0][0], SOL_SOCKET, SO_PEEK_OFF, &(int){ -1 }, sizeof(int)) == 0, "SO_PEEK_OFF");
	for (int t = 0; t < 3; t++) {
		int type = 0;
		zdtm_check(getsockopt(queued[t][0], SOL_SOCKET, SO_TYPE, &type, &(socklen_t){ sizeof type }) == 0 && type == types[t],
			   "type %d, was %d", type, types[t]);
		expect_messages(queued[t][0], types[t], "queued, end 0");
		expect_messages(queued[t][1], types[t], "queued, end 1");
		expect_empty(queued[t][0], "queued, end 0");
		expect_talks(queued[t][0], queued[t][1], "queued");

		ssize_t n = recv(half[t][0], buf, sizeof buf, MSG_DONTWAIT);
		zdtm_check(types[t] == SOCK_DGRAM ? n < 0 && errno == EAGAIN : n == 0, "type %d: a shut-down end reads %zd", types[t], n);
		zdtm_check(write(half[t][1], "x", 1) < 0 && errno == EPIPE, "type %d: a shut-down reader still receives", types[t]);
		zdtm_check(write(half[t][0], "y", 1) == 1 && read(half[t][1], buf, 1) == 1 && buf[0] == 'y',
			   "type %d: the other way of a half-shut pair", types[t]);

		expect_messages(closed[t][0], types[t], "peer closed");
		if (types[t] != SOCK_DGRAM) {
			zdtm_check(read(closed[t][0], buf, sizeof buf) == 0, "type %d: no EOF after the closed peer's messages", types[t]);
			zdtm_check(write(closed[t][0], "z", 1) < 0 && errno == EPIPE, "type %d: write to a closed peer: %s", types[t], strerror(errno));
		} else {
			expect_empty(closed[t][0], "peer closed");
			zdtm_check(write(closed[t][0], "z", 1) < 0, "datagram to a closed peer was sent");
		}
	}
	zdtm_check(read(both[0], buf, sizeof buf) == 4 && !memcmp(buf, "last", 4), "the bytes before a full shutdown");
	zdtm_check(read(both[0], buf, sizeof buf) == 0, "no EOF after a full shutdown");
	zdtm_check(write(both[0], "w", 1) < 0 && errno == EPIPE, "a fully shut-down end still writes");
	zdtm_check(write(both[1], "w", 1) < 0 && errno == EPIPE, "the peer of a fully shut-down end still writes");
	zdtm_pass();
}
