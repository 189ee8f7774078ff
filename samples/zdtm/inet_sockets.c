/*
 * AF_INET and AF_INET6 sockets that are not connections (CRIU's socket-tcp-listen,
 * socket_listen6, socket_listen4v6, socket_udp, socket6_udp, socket_udplite, socket_udp-broadcast,
 * sk-freebind, socket-linger, socket-tcp-keepalive, sock_filter00, socket-tcp-close2...):
 * listening TCP sockets on IPv4, IPv6 only and dual-stack, bound and connected UDP sockets,
 * UDP-Lite, a UDP socket bound with IP_FREEBIND to an address this host does not have, an
 * unconnected TCP socket, a TCP connection both ends shut down and closed (socket-tcp-close2,
 * socket-tcp4v6-closed), two UDP sockets connected to each other, one shut down for sending and
 * the other for receiving (socket_udp_shutdown), and the options a program sets on them (SO_REUSEADDR, SO_LINGER,
 * SO_KEEPALIVE and TCP_KEEP*, SO_BROADCAST, buffer sizes, TCP_NODELAY, IPV6_V6ONLY) and a classic
 * BPF filter. After a restart each has its port and options, the listeners accept connections,
 * the UDP sockets exchange datagrams, the filter still drops what it dropped, the closed
 * connection's ends read end of file and fail writes with EPIPE, and the shut-down UDP sockets
 * still refuse to send and to receive.
 */
#include "zdtm.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

/* linux/filter.h's classic BPF, which musl's headers lack */
struct sock_filter { unsigned short code; unsigned char jt, jf; unsigned int k; };
struct sock_fprog { unsigned short len; struct sock_filter *filter; };
#define BPF_STMT(code, k) { (unsigned short)(code), 0, 0, k }
#define BPF_LD_W_LEN	0x80	/* BPF_LD | BPF_W | BPF_LEN */
#define BPF_RET_K	0x06	/* BPF_RET | BPF_K */
#ifndef SO_GET_FILTER
#define SO_GET_FILTER	SO_ATTACH_FILTER
#endif

static int opt(int fd, int level, int name)
{
	int v = -1;
	zdtm_check(getsockopt(fd, level, name, &v, &(socklen_t){ sizeof v }) == 0, "getsockopt %d/%d: %s", level, name, strerror(errno));
	return v;
}

static void set(int fd, int level, int name, int v)
{
	zdtm_check(setsockopt(fd, level, name, &v, sizeof v) == 0, "setsockopt %d/%d: %s", level, name, strerror(errno));
}

static int bound4(int type, int protocol, const char *ip, int freebind)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	inet_pton(AF_INET, ip, &a.sin_addr);
	int fd = socket(AF_INET, type, protocol);
	zdtm_check(fd >= 0, "socket: %s", strerror(errno));
	if (freebind)
		set(fd, SOL_IP, IP_FREEBIND, 1);
	zdtm_check(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind %s: %s", ip, strerror(errno));
	return fd;
}

static int bound6(int type, const char *ip, int v6only)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	inet_pton(AF_INET6, ip, &a.sin6_addr);
	int fd = socket(AF_INET6, type, 0);
	zdtm_check(fd >= 0, "socket: %s", strerror(errno));
	set(fd, SOL_IPV6, IPV6_V6ONLY, v6only);
	zdtm_check(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind %s: %s", ip, strerror(errno));
	return fd;
}

/* The socket's address, to compare before and after */
static struct sockaddr_storage name_of(int fd)
{
	struct sockaddr_storage s;
	memset(&s, 0, sizeof s);
	zdtm_check(getsockname(fd, (struct sockaddr *)&s, &(socklen_t){ sizeof s }) == 0, "getsockname: %s", strerror(errno));
	return s;
}

static int tcp_state(int fd)
{
	struct tcp_info info;
	zdtm_check(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &(socklen_t){ sizeof info }) == 0, "TCP_INFO: %s", strerror(errno));
	return info.tcpi_state;
}

/* A TCP connection that ended: end of file, EPIPE, as after the peer's close */
static void expect_closed(int fd, const char *what)
{
	char c;
	zdtm_check(tcp_state(fd) == TCP_CLOSE, "%s: state %d, not TCP_CLOSE", what, tcp_state(fd));
	zdtm_check(recv(fd, &c, 1, MSG_DONTWAIT) == 0, "%s: a read does not say end of file: %s", what, strerror(errno));
	zdtm_check(send(fd, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EPIPE, "%s: a write does not fail with EPIPE", what);
}

static void expect_accepts(int listener, int family)
{
	struct sockaddr_storage a = name_of(listener);
	if (a.ss_family == AF_INET6 && family == AF_INET) {	/* the dual-stack one, on :: */
		in_port_t port = ((struct sockaddr_in6 *)&a)->sin6_port;
		struct sockaddr_in *v4 = (struct sockaddr_in *)&a;
		*v4 = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = port, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	} else if (family == AF_INET6 && ((struct sockaddr_in6 *)&a)->sin6_addr.s6_addr[15] == 0) {
		((struct sockaddr_in6 *)&a)->sin6_addr = in6addr_loopback;
	}
	int c = socket(family, SOCK_STREAM, 0);
	zdtm_check(connect(c, (struct sockaddr *)&a, family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) == 0,
		   "connect to the listener: %s", strerror(errno));
	int s = accept(listener, NULL, NULL);
	char buf[8];
	zdtm_check(s >= 0 && write(c, "tcp", 3) == 3 && read(s, buf, sizeof buf) == 3, "accept: %s", strerror(errno));
	close(c);
	close(s);
}

static void expect_datagram(int to, int from, int arrives)
{
	struct sockaddr_storage a = name_of(to);
	char buf[16];
	zdtm_check(sendto(from, "udp", 3, 0, (struct sockaddr *)&a, sizeof a) == 3, "sendto: %s", strerror(errno));
	ssize_t n = recv(to, buf, sizeof buf, MSG_DONTWAIT);
	if (arrives)
		zdtm_check(n == 3, "the datagram did not arrive: %s", strerror(errno));
	else
		zdtm_check(n < 0 && errno == EAGAIN, "the filter let a datagram through");
}

int main(void)
{
	int listen4 = bound4(SOCK_STREAM, 0, "127.0.0.1", 0), listen6 = bound6(SOCK_STREAM, "::1", 1);
	int listen46 = bound6(SOCK_STREAM, "::", 0), udp = bound4(SOCK_DGRAM, 0, "127.0.0.1", 0);
	int udp6 = bound6(SOCK_DGRAM, "::1", 1), lite = bound4(SOCK_DGRAM, IPPROTO_UDPLITE, "127.0.0.1", 0);
	int filtered = bound4(SOCK_DGRAM, 0, "127.0.0.1", 0), freebind = bound4(SOCK_DGRAM, 0, "192.0.2.55", 1);
	int tcp_unconn = socket(AF_INET, SOCK_STREAM, 0), udp_conn = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_storage udp_name = name_of(udp);
	zdtm_check(connect(udp_conn, (struct sockaddr *)&udp_name, sizeof(struct sockaddr_in)) == 0, "connect: %s", strerror(errno));
	int shut_w = bound4(SOCK_DGRAM, 0, "127.0.0.1", 0), shut_r = bound4(SOCK_DGRAM, 0, "127.0.0.1", 0);
	struct sockaddr_storage w_name = name_of(shut_w), r_name = name_of(shut_r);
	zdtm_check(connect(shut_w, (struct sockaddr *)&r_name, sizeof(struct sockaddr_in)) == 0 &&
		   connect(shut_r, (struct sockaddr *)&w_name, sizeof(struct sockaddr_in)) == 0, "connect: %s", strerror(errno));
	zdtm_check(shutdown(shut_w, SHUT_WR) == 0 && shutdown(shut_r, SHUT_RD) == 0, "UDP shutdown: %s", strerror(errno));
	set(listen4, SOL_SOCKET, SO_REUSEADDR, 1);
	set(listen4, SOL_SOCKET, SO_KEEPALIVE, 1);
	set(listen4, SOL_TCP, TCP_KEEPIDLE, 77);
	set(listen4, SOL_TCP, TCP_KEEPINTVL, 11);
	set(listen4, SOL_TCP, TCP_KEEPCNT, 5);
	set(listen4, SOL_TCP, TCP_NODELAY, 1);
	set(listen4, SOL_SOCKET, SO_RCVBUF, 40000);
	struct linger linger = { 1, 7 };
	zdtm_check(setsockopt(tcp_unconn, SOL_SOCKET, SO_LINGER, &linger, sizeof linger) == 0, "SO_LINGER: %s", strerror(errno));
	set(udp, SOL_SOCKET, SO_BROADCAST, 1);
	set(udp, SOL_SOCKET, SO_SNDBUF, 50000);
	struct sock_filter drop_all[] = { BPF_STMT(BPF_LD_W_LEN, 0), BPF_STMT(BPF_RET_K, 0) };
	struct sock_fprog prog = { 2, drop_all };
	zdtm_check(setsockopt(filtered, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) == 0, "SO_ATTACH_FILTER: %s", strerror(errno));
	zdtm_check(listen(listen4, 5) == 0 && listen(listen6, 5) == 0 && listen(listen46, 5) == 0, "listen: %s", strerror(errno));
	int closed_client = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_storage l4 = name_of(listen4);
	zdtm_check(connect(closed_client, (struct sockaddr *)&l4, sizeof(struct sockaddr_in)) == 0, "connect: %s", strerror(errno));
	int closed_server = accept(listen4, NULL, NULL);
	char eof;
	zdtm_check(closed_server >= 0 && shutdown(closed_client, SHUT_WR) == 0 && read(closed_server, &eof, 1) == 0 &&
		   shutdown(closed_server, SHUT_WR) == 0 && read(closed_client, &eof, 1) == 0, "closing the connection: %s", strerror(errno));
	for (int tries = 0; tcp_state(closed_server) != TCP_CLOSE || tcp_state(closed_client) != TCP_CLOSE; tries++)
		zdtm_check(tries < 1000 && usleep(1000) == 0, "the closed connection's ends are in states %d and %d",
			   tcp_state(closed_client), tcp_state(closed_server));
	int sockets[] = { listen4, listen6, listen46, udp, udp6, lite, filtered, freebind };
	struct sockaddr_storage names[8];
	for (int i = 0; i < 8; i++)
		names[i] = name_of(sockets[i]);
	int rcvbuf = opt(listen4, SOL_SOCKET, SO_RCVBUF), sndbuf = opt(udp, SOL_SOCKET, SO_SNDBUF);
	zdtm_ready();
	zdtm_wait();

	for (int i = 0; i < 8; i++) {
		struct sockaddr_storage now = name_of(sockets[i]);
		zdtm_check(!memcmp(&now, &names[i], sizeof now), "socket %d: its address or port changed", i);
	}
	zdtm_check(opt(listen4, SOL_SOCKET, SO_ACCEPTCONN) && opt(listen6, SOL_SOCKET, SO_ACCEPTCONN), "a listener no longer listens");
	zdtm_check(opt(listen4, SOL_SOCKET, SO_REUSEADDR) == 1 && opt(listen4, SOL_SOCKET, SO_KEEPALIVE) == 1, "SO_REUSEADDR or SO_KEEPALIVE lost");
	zdtm_check(opt(listen4, SOL_TCP, TCP_KEEPIDLE) == 77 && opt(listen4, SOL_TCP, TCP_KEEPINTVL) == 11 &&
		   opt(listen4, SOL_TCP, TCP_KEEPCNT) == 5 && opt(listen4, SOL_TCP, TCP_NODELAY) == 1, "TCP options lost");
	zdtm_check(opt(listen4, SOL_SOCKET, SO_RCVBUF) == rcvbuf && opt(udp, SOL_SOCKET, SO_SNDBUF) == sndbuf,
		   "buffer sizes %d %d, were %d %d", opt(listen4, SOL_SOCKET, SO_RCVBUF), opt(udp, SOL_SOCKET, SO_SNDBUF), rcvbuf, sndbuf);
	zdtm_check(opt(listen6, SOL_IPV6, IPV6_V6ONLY) == 1 && opt(listen46, SOL_IPV6, IPV6_V6ONLY) == 0, "IPV6_V6ONLY differs");
	zdtm_check(opt(udp, SOL_SOCKET, SO_BROADCAST) == 1 && opt(freebind, SOL_IP, IP_FREEBIND) == 1, "SO_BROADCAST or IP_FREEBIND lost");
	zdtm_check(getsockopt(tcp_unconn, SOL_SOCKET, SO_LINGER, &linger, &(socklen_t){ sizeof linger }) == 0 &&
		   linger.l_onoff == 1 && linger.l_linger == 7, "SO_LINGER lost");
	zdtm_check(opt(lite, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_UDPLITE, "not UDP-Lite any more");
	struct sock_filter back[4];
	socklen_t count = 4;
	zdtm_check(getsockopt(filtered, SOL_SOCKET, SO_GET_FILTER, back, &count) == 0 && count == 2 &&
		   !memcmp(back, drop_all, sizeof drop_all), "the filter differs");
	expect_accepts(listen4, AF_INET);
	expect_accepts(listen6, AF_INET6);
	expect_accepts(listen46, AF_INET6);
	expect_accepts(listen46, AF_INET);
	expect_datagram(udp, udp_conn, 1);
	zdtm_check(send(udp_conn, "conn", 4, 0) == 4, "the connected UDP socket cannot send: %s", strerror(errno));
	char buf[8];
	zdtm_check(recv(udp, buf, sizeof buf, MSG_DONTWAIT) == 4, "the connected UDP socket's datagram did not arrive");
	expect_datagram(udp6, socket(AF_INET6, SOCK_DGRAM, 0), 1);
	expect_datagram(lite, socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE), 1);
	expect_datagram(filtered, udp, 0);
	expect_closed(closed_client, "the closed connection's client");
	expect_closed(closed_server, "the closed connection's server");
	zdtm_check(send(shut_w, "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE, "the UDP socket shut down for sending sends");
	zdtm_check(send(shut_r, "x", 1, 0) == 1, "the UDP socket shut down for receiving cannot send: %s", strerror(errno));
	struct pollfd p = { shut_r, POLLIN | POLLRDHUP, 0 };
	zdtm_check(poll(&p, 1, 0) == 1 && (p.revents & POLLRDHUP), "the UDP socket shut down for receiving is not shut down");
	struct sockaddr_in any = { .sin_family = AF_INET };
	zdtm_check(bind(tcp_unconn, (struct sockaddr *)&any, sizeof any) == 0 && listen(tcp_unconn, 1) == 0, "the unconnected TCP socket: %s", strerror(errno));
	zdtm_pass();
}
