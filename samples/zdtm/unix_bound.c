/*
 * AF_UNIX sockets bound to names (CRIU's sockets_dgram, sk-unix-unconn, unbound_sock,
 * del_standalone_un, sk-unix-rel and their seqpacket twins): datagram sockets bound to relative paths, one holding an unread datagram
 * from an unnamed sender, one connected to another by name, one connected to itself; a stream
 * socket listening on a relative path and a seqpacket one on an abstract name; a bound stream
 * socket that does not listen; an unbound one; a listener whose file was removed and another
 * listener bound to the same path since (the first keeps its name, without a file); stream and
 * seqpacket connections made through the listeners and accepted, with unread data both ways and
 * one shut down for writing (they come back connected through their listeners, with their names). The killed process leaves its socket files behind:
 * a restart removes them (nobody is bound there) and binds the same names. Afterwards every name
 * is the same, the unread datagram is there, and every socket works as before.
 */
#include "zdtm.h"
#include <sys/socket.h>
#include <sys/un.h>
#include <stddef.h>
#include <poll.h>

static socklen_t name_of(struct sockaddr_un *a, const char *path, int abstract)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	strcpy(a->sun_path + abstract, path);
	return offsetof(struct sockaddr_un, sun_path) + abstract + strlen(path) + (abstract ? 0 : 1);
}

static int bound(int type, const char *path, int abstract)
{
	struct sockaddr_un a;
	socklen_t len = name_of(&a, path, abstract);
	int fd = socket(AF_UNIX, type, 0);
	if (!abstract)
		unlink(path);
	zdtm_check(fd >= 0 && bind(fd, (struct sockaddr *)&a, len) == 0, "bind %s: %s", path, strerror(errno));
	return fd;
}

static void expect_name(int fd, const char *path, int abstract)
{
	struct sockaddr_un want, got;
	socklen_t len = name_of(&want, path, abstract), got_len = sizeof got;
	zdtm_check(getsockname(fd, (struct sockaddr *)&got, &got_len) == 0 && got_len == len && !memcmp(&got, &want, len),
		   "%s: the name is not the same", path);
}

static void expect_read(int fd, const char *want)
{
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
	zdtm_check(n == (ssize_t)strlen(want) && !memcmp(buf, want, n), "read %zd bytes, want \"%s\"", n, want);
}

int main(void)
{
	char abstract_name[64];
	snprintf(abstract_name, sizeof abstract_name, "ckpt-unix-bound-%d", getpid());
	int server = bound(SOCK_DGRAM, "unix_bound.dgram", 0);
	int sender = socket(AF_UNIX, SOCK_DGRAM, 0);
	int conn_server = bound(SOCK_DGRAM, "unix_bound.conn", 0);
	int conn_client = socket(AF_UNIX, SOCK_DGRAM, 0);
	int self = bound(SOCK_DGRAM, "unix_bound.self", 0);
	int listener = bound(SOCK_STREAM, "unix_bound.listen", 0);
	int seq_listener = bound(SOCK_SEQPACKET, abstract_name, 1);
	int unconn = bound(SOCK_STREAM, "unix_bound.unconn", 0);
	int unbound = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a;
	socklen_t len = name_of(&a, "unix_bound.dgram", 0);
	zdtm_check(sendto(sender, "queued", 6, 0, (struct sockaddr *)&a, len) == 6, "sendto: %s", strerror(errno));
	len = name_of(&a, "unix_bound.conn", 0);
	zdtm_check(connect(conn_client, (struct sockaddr *)&a, len) == 0, "connect: %s", strerror(errno));
	len = name_of(&a, "unix_bound.self", 0);
	zdtm_check(connect(self, (struct sockaddr *)&a, len) == 0, "connect to itself: %s", strerror(errno));
	zdtm_check(listen(listener, 7) == 0 && listen(seq_listener, 3) == 0, "listen: %s", strerror(errno));
	int conn_c = socket(AF_UNIX, SOCK_STREAM, 0), seq_c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	len = name_of(&a, "unix_bound.listen", 0);
	zdtm_check(connect(conn_c, (struct sockaddr *)&a, len) == 0, "connect: %s", strerror(errno));
	int conn_s = accept(listener, NULL, NULL);
	len = name_of(&a, abstract_name, 1);
	zdtm_check(connect(seq_c, (struct sockaddr *)&a, len) == 0, "connect: %s", strerror(errno));
	int seq_s = accept(seq_listener, NULL, NULL);
	zdtm_check(conn_s >= 0 && seq_s >= 0, "accept: %s", strerror(errno));
	zdtm_check(write(conn_c, "to server", 9) == 9 && write(conn_s, "to client", 9) == 9 && shutdown(conn_s, SHUT_WR) == 0 &&
		   write(seq_c, "rec1", 4) == 4 && write(seq_c, "rec2", 4) == 4, "write: %s", strerror(errno));
	int ghost = bound(SOCK_SEQPACKET, "unix_bound.ghost", 0);
	zdtm_check(listen(ghost, 1) == 0 && unlink("unix_bound.ghost") == 0, "the ghost: %s", strerror(errno));
	int heir = bound(SOCK_SEQPACKET, "unix_bound.ghost", 0);
	zdtm_check(listen(heir, 1) == 0, "listen: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();

	expect_name(server, "unix_bound.dgram", 0);
	expect_name(listener, "unix_bound.listen", 0);
	expect_name(seq_listener, abstract_name, 1);
	expect_name(unconn, "unix_bound.unconn", 0);
	expect_read(server, "queued");
	zdtm_check(recv(server, a.sun_path, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN, "more datagrams than were sent");
	len = name_of(&a, "unix_bound.dgram", 0);
	zdtm_check(sendto(sender, "after", 5, 0, (struct sockaddr *)&a, len) == 5, "sendto after: %s", strerror(errno));
	expect_read(server, "after");
	zdtm_check(write(conn_client, "conn", 4) == 4, "write to the connected server: %s", strerror(errno));
	expect_read(conn_server, "conn");
	zdtm_check(write(self, "self", 4) == 4, "write to itself: %s", strerror(errno));
	expect_read(self, "self");

	int client = socket(AF_UNIX, SOCK_STREAM, 0);
	len = name_of(&a, "unix_bound.listen", 0);
	zdtm_check(connect(client, (struct sockaddr *)&a, len) == 0, "connect to the listener: %s", strerror(errno));
	int accepted = accept(listener, NULL, NULL);
	zdtm_check(accepted >= 0 && write(client, "hello", 5) == 5, "accept: %s", strerror(errno));
	expect_read(accepted, "hello");
	int seq_client = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	len = name_of(&a, abstract_name, 1);
	zdtm_check(connect(seq_client, (struct sockaddr *)&a, len) == 0, "connect to the abstract listener: %s", strerror(errno));
	zdtm_check(accept(seq_listener, NULL, NULL) >= 0, "accept on the abstract listener: %s", strerror(errno));
	zdtm_check(listen(unconn, 1) == 0, "listen on the bound socket: %s", strerror(errno));
	len = name_of(&a, "unix_bound.unbound", 0);
	unlink("unix_bound.unbound");
	zdtm_check(bind(unbound, (struct sockaddr *)&a, len) == 0, "bind the unbound socket: %s", strerror(errno));
	expect_read(conn_s, "to server");
	expect_read(conn_c, "to client");
	zdtm_check(read(conn_c, a.sun_path, 1) == 0, "the accepted end's shutdown is gone");
	expect_name(conn_s, "unix_bound.listen", 0);
	struct sockaddr_un peer;
	socklen_t peer_len = sizeof peer;
	zdtm_check(getpeername(conn_c, (struct sockaddr *)&peer, &peer_len) == 0 && !strcmp(peer.sun_path, "unix_bound.listen"),
		   "the client's peer is not the listener's name");
	zdtm_check(write(conn_c, "more", 4) == 4, "the client cannot write any more: %s", strerror(errno));
	expect_read(conn_s, "more");
	expect_read(seq_s, "rec1");
	expect_read(seq_s, "rec2");
	expect_name(seq_s, abstract_name, 1);
	expect_name(ghost, "unix_bound.ghost", 0);
	expect_name(heir, "unix_bound.ghost", 0);
	int heir_client = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	len = name_of(&a, "unix_bound.ghost", 0);
	zdtm_check(connect(heir_client, (struct sockaddr *)&a, len) == 0, "connect to the path: %s", strerror(errno));
	struct pollfd waiting[2] = { { heir, POLLIN, 0 }, { ghost, POLLIN, 0 } };
	zdtm_check(poll(waiting, 2, 0) == 1 && waiting[0].revents == POLLIN, "the path's file is not the second listener's");
	zdtm_pass();
}
