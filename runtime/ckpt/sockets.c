/*
 * Sockets, the checkpoint's side: what each of the program's sockets is, told by what an
 * unprivileged process can ask (getsockopt, getsockname, getpeername, TCP_INFO, the unix_diag
 * netlink query for an AF_UNIX socket's peer, backlog and shutdown state), and its unread messages,
 * copied with MSG_PEEK so the program's socket keeps them. One CKPT_REC_SOCKET record each
 * (sockets-restore.c makes them again, docs/limits.md says what is restored).
 *
 * A socket that cannot be made again as it is (a TCP connection, a peer in another process,
 * descriptors in flight, a family other than unix, inet and inet6...) is recorded with the
 * reason, warned about in those words ("a restart will refuse this image") and refused by the
 * restart in the same words; the vacate signal makes no such image (task.c). Never silently a
 * socket whose peer has gone.
 */
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include "ckpt/save.h"
#include "ckpt/image.h"
#include "ckpt/sockets.h"

#define RT_PEEK_CHUNK		(64 * 1024)	/* the most one peek copies; a longer datagram is refused */
#define RT_MAX_MESSAGES		4096

/* What unix_diag tells of an AF_UNIX socket */
struct rt_unix_state { uint32_t state, shutdown, rqueue, wqueue, has_peer, vfs_ino, vfs_dev; uint64_t peer; };	/* peer 0: closed */

static void rt_unix_attribute(const struct nlattr *a, struct rt_unix_state *s)
{
	const void *v = (const char *)a + NLA_HDRLEN;
	if (a->nla_type == UNIX_DIAG_PEER) {
		s->peer = *(const uint32_t *)v;
		s->has_peer = 1;
	}
	else if (a->nla_type == UNIX_DIAG_RQLEN) {
		s->rqueue = ((const struct unix_diag_rqlen *)v)->udiag_rqueue;
		s->wqueue = ((const struct unix_diag_rqlen *)v)->udiag_wqueue;
	} else if (a->nla_type == UNIX_DIAG_VFS) {
		s->vfs_ino = ((const struct unix_diag_vfs *)v)->udiag_vfs_ino;
		s->vfs_dev = ((const struct unix_diag_vfs *)v)->udiag_vfs_dev;
	} else if (a->nla_type == UNIX_DIAG_SHUTDOWN)
		s->shutdown = *(const uint8_t *)v;
}

/* The unix_diag answer for the socket with this inode; -1 when the kernel gives none */
static int rt_unix_query(struct rt_ckpt_work *w, uint64_t inode, struct rt_unix_state *s)
{
	struct { struct nlmsghdr h; struct unix_diag_req r; } req = {
		{ sizeof req, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0 },
		{ RT_AF_UNIX, 0, 0, ~0u, (uint32_t)inode, UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_VFS, { ~0u, ~0u } } };
	long nl = rt_syscall3(__NR_socket, RT_AF_NETLINK, RT_SOCK_DGRAM | RT_SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return -1;
	long n = rt_syscall6(__NR_sendto, nl, (long)&req, sizeof req, 0, 0, 0) == (long)sizeof req
		 ? rt_syscall6(__NR_recvfrom, nl, (long)w->fdinfo, sizeof w->fdinfo, 0, 0, 0) : -1;
	rt_syscall1(__NR_close, nl);
	const struct nlmsghdr *h = (const struct nlmsghdr *)w->fdinfo;
	if (n < (long)NLMSG_LENGTH(sizeof(struct unix_diag_msg)) || h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    h->nlmsg_len > (uint32_t)n)
		return -1;
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	*s = (struct rt_unix_state){ m->udiag_state, 0, 0, 0, 0, 0, 0, 0 };
	const char *a = (const char *)m + NLMSG_ALIGN(sizeof *m), *end = (const char *)h + h->nlmsg_len;
	while (a + NLA_HDRLEN <= end && ((const struct nlattr *)a)->nla_len >= NLA_HDRLEN) {
		rt_unix_attribute((const struct nlattr *)a, s);
		a += NLA_ALIGN(((const struct nlattr *)a)->nla_len);
	}
	return 0;
}

/* Whether a descriptor of the program holds "socket:[inode]" */
struct rt_sock_scan { uint64_t inode; int found; };

static int rt_note_socket(void *arg, long fd)
{
	struct rt_sock_scan *s = arg;
	char link[64], path[32];
	uint64_t inode;
	long n = rt_syscall4(__NR_readlinkat, AT_FDCWD, (long)rt_fd_path(path, fd), (long)link, sizeof link - 1);
	if (n <= 0)
		return 0;
	link[n] = 0;
	if (rt_starts_with(link, "socket:[") && *rt_parse_number(link + 8, 10, &inode) == ']' && inode == s->inode)
		s->found = 1;
	return 0;
}

static int rt_holds_socket(struct rt_ckpt_work *w, uint64_t inode)
{
	struct rt_sock_scan s = { inode, 0 };
	rt_each_fd(w->scanbuf, sizeof w->scanbuf, rt_note_socket, &s);
	return s.found;
}

/* An AF_UNIX address with a name (a path or an abstract name), not an unnamed socket's */
static int rt_named(const unsigned char *p, int at_len)
{
	return u32at(p, at_len) > 2;
}

/* Whether one of the program's sockets listens on the address at addr (AF_UNIX, len bytes) */
struct rt_listener_scan { const unsigned char *addr; uint32_t len; int found; };

static int rt_note_listener(void *arg, long fd)
{
	struct rt_listener_scan *s = arg;
	unsigned char name[RT_SOCK_ADDR_MAX];
	uint32_t len = sizeof name;
	int listening = 0;
	uint32_t olen = sizeof listening;
	if (rt_syscall3(__NR_getsockname, fd, (long)name, (long)&len) == 0 && len == s->len && !rt_memcmp(name, s->addr, len) &&
	    rt_syscall5(__NR_getsockopt, fd, RT_SOL_SOCKET, SO_ACCEPTCONN, (long)&listening, (long)&olen) == 0 && listening)
		s->found = 1;
	return 0;
}

static int rt_listener_held(struct rt_ckpt_work *w, const unsigned char *addr, uint32_t len)
{
	struct rt_listener_scan s = { addr, len, 0 };
	rt_each_fd(w->scanbuf, sizeof w->scanbuf, rt_note_listener, &s);
	return s.found;
}

/* Whether the file a socket bound to a path made is gone from the path (removed, or another's now) */
static int rt_name_gone(const unsigned char *p, const struct rt_unix_state *s)
{
	struct rt_stat st;
	const char *path = (const char *)p + CKPT_RSK_ADDR + 2;
	if (u32at(p, CKPT_RSK_ADDR_LEN) <= 2 || !path[0] || !s->vfs_ino)
		return 0;	/* unnamed, or an abstract name: no file */
	uint32_t major = s->vfs_dev >> 20, minor = s->vfs_dev & 0xfffff;	/* unix_diag gives the kernel's dev_t */
	uint64_t dev = (minor & 0xff) | (major << 8) | ((uint64_t)(minor & ~0xffu) << 12);	/* stat's encoding */
	return rt_syscall4(__NR_newfstatat, AT_FDCWD, (long)path, (long)&st, AT_SYMLINK_NOFOLLOW) < 0 || st.ino != s->vfs_ino ||
	       st.dev != dev;
}

/* An AF_UNIX socket's role, or why it cannot be restored */
static const char *rt_unix_role(struct rt_ckpt_work *w, unsigned char *p)
{
	struct rt_unix_state s;
	uint32_t type = u32at(p, CKPT_RSK_TYPE), role = CKPT_SOCK_PLAIN;
	if (rt_unix_query(w, u64at(p, CKPT_RSK_INODE), &s) < 0)
		return "the kernel does not describe it (unix_diag)";
	*(uint32_t *)(p + CKPT_RSK_SHUTDOWN) = s.shutdown;
	*(uint32_t *)(p + CKPT_RSK_FLAGS) = rt_name_gone(p, &s) ? CKPT_SOCK_NAME_GONE : 0;
	*(uint64_t *)(p + CKPT_RSK_PEER) = s.peer;
	int named = rt_named(p, CKPT_RSK_ADDR_LEN), peer_named = rt_named(p, CKPT_RSK_PEER_ADDR_LEN);
	if (s.state == RT_TCP_LISTEN) {
		if (s.rqueue)
			return "connections wait on it to be accepted, and their sockets cannot be made again";
		*(uint32_t *)(p + CKPT_RSK_BACKLOG) = s.wqueue;
		role = CKPT_SOCK_LISTENING;
	} else if (s.peer && type == RT_SOCK_DGRAM && peer_named) {
		role = CKPT_SOCK_CONNECTED;	/* connected again by name */
	} else if (s.peer && !rt_holds_socket(w, s.peer)) {
		return "its peer is not one of the process's sockets (another process's, or a connection not yet accepted)";
	} else if (s.has_peer && (named || peer_named)) {
		if (!s.peer)
			return "its peer, a named socket, was closed or is not accepted yet: such a connection is not restored";
		if (type == RT_SOCK_DGRAM || !(rt_listener_held(w, p + CKPT_RSK_PEER_ADDR, u32at(p, CKPT_RSK_PEER_ADDR_LEN)) ||
					       rt_listener_held(w, p + CKPT_RSK_ADDR, u32at(p, CKPT_RSK_ADDR_LEN))))
			return "a connection made through a listening socket that is gone is not restored";
		role = CKPT_SOCK_ACCEPTED;	/* connected to the listener and accepted again */
	} else if (s.has_peer) {
		role = s.peer ? CKPT_SOCK_PAIRED : CKPT_SOCK_PEER_CLOSED;
	}
	*(uint32_t *)(p + CKPT_RSK_ROLE) = role;
	return 0;
}

/* The head of struct tcp_info; a listener's unacked and sacked are its queued connections and backlog */
struct rt_tcp_info { uint8_t state, ca_state, retransmits, probes, backoff, options, wscale, flags;
		     uint32_t rto, ato, snd_mss, rcv_mss, unacked, sacked; };

/* The TCP state of a TCP socket (RT_TCP_LISTEN, TCP_CLOSE...), or -1 */
static int rt_tcp_state(long fd, struct rt_tcp_info *info)
{
	uint32_t len = sizeof *info;
	return rt_syscall5(__NR_getsockopt, fd, RT_SOL_TCP, TCP_INFO, (long)info, (long)&len) < 0 ? -1 : info->state;
}

/* What poll says of a socket now: POLLRDHUP means its receives are shut down */
static int rt_poll_now(long fd, short events)
{
	struct { int fd; short events, revents; } p = { (int)fd, events, 0 };
	return rt_syscall3(__NR_poll, (long)&p, 1, 0) == 1 ? p.revents : 0;
}

/* A datagram socket's shutdown bits: receives by poll, sends by a send that cannot copy (EPIPE is
 * checked first, EFAULT otherwise: nothing is sent either way) */
static uint32_t rt_dgram_shutdown(long fd, int connected)
{
	uint32_t bits = rt_poll_now(fd, POLLRDHUP) & POLLRDHUP ? 1 : 0;
	if (connected && rt_syscall6(__NR_sendto, fd, 1, 1, RT_MSG_DONTWAIT | RT_MSG_NOSIGNAL, 0, 0) == -EPIPE)
		bits |= 2;
	return bits;
}

/* An AF_INET or AF_INET6 socket's role, or why it cannot be restored */
static const char *rt_inet_role(long fd, unsigned char *p)
{
	uint32_t type = u32at(p, CKPT_RSK_TYPE), role = CKPT_SOCK_PLAIN;
	int queued = 0, unsent = 0;	/* FIONREAD, TIOCOUTQ: SIOCINQ, SIOCOUTQ */
	if (type == RT_SOCK_STREAM && u32at(p, CKPT_RSK_PROTOCOL) == IPPROTO_TCP) {
		struct rt_tcp_info info;
		int state = rt_tcp_state(fd, &info);
		if (state == RT_TCP_LISTEN) {
			if (info.unacked)
				return "connections wait on it to be accepted, and they cannot be made again";
			*(uint32_t *)(p + CKPT_RSK_BACKLOG) = info.sacked;
			role = CKPT_SOCK_LISTENING;
		} else if (state != RT_TCP_CLOSE) {
			role = CKPT_SOCK_TCP_CONNECTED;
		} else if (rt_poll_now(fd, POLLRDHUP) & POLLRDHUP) {
			role = CKPT_SOCK_TCP_CLOSED;	/* a connection that ended; a new socket has no shutdown */
		}
	} else if (type == RT_SOCK_DGRAM) {
		rt_syscall3(__NR_ioctl, fd, FIONREAD, (long)&queued);
		rt_syscall3(__NR_ioctl, fd, TIOCOUTQ, (long)&unsent);
		if (queued)
			return "datagrams wait on it unread, and their senders' addresses cannot be given again";
		if (unsent)
			return "data held back by UDP_CORK waits to be sent";
		if (u32at(p, CKPT_RSK_PEER_ADDR_LEN))
			role = CKPT_SOCK_CONNECTED;
		*(uint32_t *)(p + CKPT_RSK_SHUTDOWN) = rt_dgram_shutdown(fd, role == CKPT_SOCK_CONNECTED);
	} else {
		return "raw sockets and protocols other than TCP, UDP, UDP-Lite and ICMP echo are not restored";
	}
	*(uint32_t *)(p + CKPT_RSK_ROLE) = role;
	if (role == CKPT_SOCK_TCP_CONNECTED)
		return "a TCP connection needs TCP_REPAIR (CAP_NET_ADMIN) to be made again; CKPT_TCP_CLOSE=1 at the restart makes it a closed socket";
	return 0;
}

/* A received control message: descriptors in flight are closed again here, and refuse the socket */
static int rt_rights_in(const unsigned char *control, uint64_t len)
{
	int found = 0;
	for (const struct { uint64_t len; int level, type; } *c = (const void *)control;
	     (const unsigned char *)c + sizeof *c <= control + len && c->len >= sizeof *c;
	     c = (const void *)((const unsigned char *)c + ((c->len + 7) & ~7ull))) {
		if (c->level != RT_SOL_SOCKET || c->type != RT_SCM_RIGHTS)
			continue;
		const int *fds = (const int *)(c + 1);
		for (uint64_t i = 0; i < (c->len - sizeof *c) / sizeof(int); i++)
			rt_syscall1(__NR_close, fds[i]);
		found = 1;
	}
	return found;
}

/*
 * The socket's unread messages, peeked one after another (SO_PEEK_OFF moves past each), each a
 * u32 length then its bytes. Stream bytes come in chunks whose bounds mean nothing; datagrams
 * and records keep theirs. Returns 0, RT_SAVE_FULL, or 1 with *why set.
 */
static int rt_peek_messages(struct rt_ckpt_work *w, unsigned char *p, long fd, const char **why)
{
	int dgram = u32at(p, CKPT_RSK_TYPE) == RT_SOCK_DGRAM, zero = 0;
	if (rt_syscall5(__NR_setsockopt, fd, RT_SOL_SOCKET, SO_PEEK_OFF, (long)&zero, sizeof zero) < 0)
		return *why = "its unread messages cannot be peeked at (SO_PEEK_OFF)", 1;
	for (uint32_t count = 0; count < RT_MAX_MESSAGES; count++) {
		uint32_t before = u32at(p - CKPT_RH_SIZE, CKPT_RH_PAYLOAD_SIZE);
		unsigned char *e = rt_record_grow(w, p, 4 + RT_PEEK_CHUNK);
		if (!e)
			return RT_SAVE_FULL;
		unsigned char control[256], from[RT_SOCK_ADDR_MAX];
		struct { void *base; uint64_t len; } iov = { e + 4, RT_PEEK_CHUNK };
		struct { void *name; uint32_t namelen; void *iov; uint64_t iovlen; void *control; uint64_t controllen; int flags; } msg =
			{ from, sizeof from, &iov, 1, control, sizeof control, 0 };
		long n = rt_syscall3(__NR_recvmsg, fd, (long)&msg, RT_MSG_PEEK | RT_MSG_DONTWAIT | RT_MSG_CMSG_CLOEXEC |
				     (u32at(p, CKPT_RSK_TYPE) == RT_SOCK_STREAM ? 0 : RT_MSG_TRUNC));
		if (n == -EAGAIN || (n == 0 && (!dgram || msg.namelen == 0)) || n < 0)
			rt_record_cut(w, p, before);
		if (n == -EAGAIN || (n == 0 && (!dgram || msg.namelen == 0)))
			return 0;	/* all peeked (a stream's end, or a shut-down datagram socket's) */
		if (n < 0)
			return *why = "its unread messages cannot be peeked at", 1;
		if (rt_rights_in(control, msg.controllen))
			return *why = "descriptors passed on it (SCM_RIGHTS) wait unread, and they are not restored", 1;
		if (n > RT_PEEK_CHUNK)	/* MSG_TRUNC's whole length: never a stream's */
			return *why = "an unread datagram or record is longer than a checkpoint copies (64 KiB)", 1;
		if (dgram && msg.namelen > 2 && u32at(p, CKPT_RSK_ROLE) != CKPT_SOCK_PAIRED)
			return *why = "an unread datagram came from a named socket, whose address cannot be given again", 1;
		uint32_t len = (uint32_t)n;
		rt_record_cut(w, p, before + 4 + ((len + 3) & ~3u));	/* the peeked bytes stay where they are */
		*(uint32_t *)e = len;
		(*(uint32_t *)(p + CKPT_RSK_MESSAGES))++;
	}
	return *why = "more unread messages than a checkpoint copies (4096)", 1;
}

/* Unread messages of an AF_UNIX socket, with SO_PEEK_OFF as the program had it */
static int rt_save_messages(struct rt_ckpt_work *w, unsigned char *p, long fd, const char **why)
{
	int offset = -1;
	uint32_t len = sizeof offset;
	uint32_t role = u32at(p, CKPT_RSK_ROLE);
	if (u32at(p, CKPT_RSK_FAMILY) != RT_AF_UNIX || role == CKPT_SOCK_LISTENING ||
	    (role == CKPT_SOCK_PLAIN && u32at(p, CKPT_RSK_TYPE) != RT_SOCK_DGRAM))
		return 0;	/* nothing can be queued on it */
	rt_syscall5(__NR_getsockopt, fd, RT_SOL_SOCKET, SO_PEEK_OFF, (long)&offset, (long)&len);
	int r = rt_peek_messages(w, p, fd, why);
	rt_syscall5(__NR_setsockopt, fd, RT_SOL_SOCKET, SO_PEEK_OFF, (long)&offset, sizeof offset);
	if (!r && u32at(p, CKPT_RSK_MESSAGES) && u32at(p, CKPT_RSK_ROLE) == CKPT_SOCK_PLAIN && !rt_named(p, CKPT_RSK_ADDR_LEN))
		return *why = "an unnamed socket holds unread messages nothing can send it again", 1;
	return r;
}

/* The record cut back to its fixed part, the reason after it; warned about in the same words */
static int rt_save_refusal(struct rt_ckpt_work *w, unsigned char *p, long fd, const char *path, const char *why)
{
	rt_record_cut(w, p, CKPT_RSK_SIZE);
	*(uint32_t *)(p + CKPT_RSK_OPTIONS) = *(uint32_t *)(p + CKPT_RSK_FILTER) = *(uint32_t *)(p + CKPT_RSK_MESSAGES) = 0;
	size_t len = rt_strlen(why) + 1;
	unsigned char *e = rt_record_grow(w, p, len);
	if (!e)
		return RT_SAVE_FULL;
	rt_memcpy(e, why, len);
	*(uint32_t *)(p + CKPT_RSK_REFUSAL_AT) = CKPT_RSK_SIZE;
	rt_seal(p);
	char num[24];
	rt_utoa((uint64_t)fd, num);
	const char *parts[] = { "ckpt: warning: descriptor ", num, " (", path, ") cannot be restored: ", why,
		": a restart will refuse this image (docs/limits.md)\n" };
	rt_write_line(parts, 7);
	rt_note_unrestorable();
	return 0;
}

static void rt_socket_identity(unsigned char *p, long fd)
{
	uint32_t len = sizeof(int);
	rt_syscall5(__NR_getsockopt, fd, RT_SOL_SOCKET, SO_DOMAIN, (long)(p + CKPT_RSK_FAMILY), (long)&len);
	len = sizeof(int);
	rt_syscall5(__NR_getsockopt, fd, RT_SOL_SOCKET, SO_TYPE, (long)(p + CKPT_RSK_TYPE), (long)&len);
	len = sizeof(int);
	rt_syscall5(__NR_getsockopt, fd, RT_SOL_SOCKET, SO_PROTOCOL, (long)(p + CKPT_RSK_PROTOCOL), (long)&len);
	len = RT_SOCK_ADDR_MAX;
	if (rt_syscall3(__NR_getsockname, fd, (long)(p + CKPT_RSK_ADDR), (long)&len) == 0)
		*(uint32_t *)(p + CKPT_RSK_ADDR_LEN) = len;
	len = RT_SOCK_ADDR_MAX;
	if (rt_syscall3(__NR_getpeername, fd, (long)(p + CKPT_RSK_PEER_ADDR), (long)&len) == 0)
		*(uint32_t *)(p + CKPT_RSK_PEER_ADDR_LEN) = len;
}

/* Its role, options, filter and messages, or why not */
static int rt_save_socket_state(struct rt_ckpt_work *w, unsigned char *p, long fd, const char **why)
{
	uint32_t family = u32at(p, CKPT_RSK_FAMILY);
	if (family == RT_AF_UNIX)
		*why = rt_unix_role(w, p);
	else if (family == RT_AF_INET || family == RT_AF_INET6)
		*why = rt_inet_role(fd, p);
	else
		*why = "sockets of this family (netlink, packet...) are not restored";
	if (*why)
		return 1;
	long probe = rt_syscall3(__NR_socket, family, u32at(p, CKPT_RSK_TYPE) | RT_SOCK_CLOEXEC, u32at(p, CKPT_RSK_PROTOCOL));
	int r = rt_save_sock_options(w, p, fd, probe);
	if (probe >= 0)
		rt_syscall1(__NR_close, probe);
	if (!r && (r = rt_save_sock_filter(w, p, fd)) > 0)
		*why = "its socket filter cannot be read back (SO_GET_FILTER)";
	return r ? r : rt_save_messages(w, p, fd, why);
}

/* A socket of the program's (not one it inherited): 0, RT_SAVE_FULL */
int rt_save_socket(struct rt_ckpt_work *w, long fd, const char *path)
{
	uint64_t inode = 0;
	if (rt_starts_with(path, "socket:["))
		rt_parse_number(path + 8, 10, &inode);
	unsigned char *p = rt_fd_record(w, CKPT_REC_SOCKET, CKPT_RSK_SIZE, fd);
	if (!p)
		return RT_SAVE_FULL;
	*(uint64_t *)(p + CKPT_RSK_INODE) = inode;
	rt_socket_identity(p, fd);
	const char *why = 0;
	int r = rt_save_socket_state(w, p, fd, &why);
	if (r == RT_SAVE_FULL)
		return r;
	if (r)
		return rt_save_refusal(w, p, fd, path, why);
	rt_seal(p);
	return 0;
}
