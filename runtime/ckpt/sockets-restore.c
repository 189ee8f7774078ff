/*
 * Sockets, the restart's side: each CKPT_REC_SOCKET record made again during the restart's checks
 * (before anything is torn down), with its options, then bound, listening, connected or paired as
 * it was, its unread messages sent to it again in their order (datagrams and records one by one),
 * its shutdown state set last. A socket pair is made whole at its first descriptor; the other end,
 * and a named socket another one connects to, wait in a table until their descriptors take them.
 *
 * A name that cannot be bound again refuses the image, naming the descriptor and the name: a stale
 * socket file (nobody accepts connections on it: connect says ECONNREFUSED) is removed first, but
 * a name another process is bound to now is never taken from it. A record that carries a refusal
 * refuses the image in the words the checkpoint warned with; a TCP connection is made a closed
 * socket instead when the restart is given CKPT_TCP_CLOSE=1.
 */
#include "ckpt/restore.h"
#include "ckpt/sockets.h"

#define RT_MAX_SOCKETS	256

/* fd: made ahead, waiting for its descriptor (-1 once taken); spare: a listener's own copy, for
 * accepting connections made again (closed with every descriptor the image does not have) */
static struct { uint64_t inode; long fd, spare; } rt_made_socks[RT_MAX_SOCKETS];
static int rt_nmade_socks;

/* "socket:[N]" in buf, as /proc/self/fd named it */
static const char *rt_socket_name(char *buf, const unsigned char *rec)
{
	rt_put(rt_utoa(u64at(rec, CKPT_RSK_INODE), rt_put(buf, "socket:[")), "]");
	return buf;
}

static _Noreturn void rt_refuse_socket(const struct rt_image *im, const unsigned char *rec, const char *why)
{
	char name[40];
	rt_refuse_kobject(im, u32at(rec, CKPT_RSK_FD), rt_socket_name(name, rec), why);
}

/* why, then the name (a path, @ and an abstract name, or a port) into buf */
static const char *rt_with_address(char *buf, size_t size, const char *why, const unsigned char *addr, uint32_t len)
{
	char *e = rt_put(buf, why);
	uint16_t family = *(const uint16_t *)addr;
	if (family == RT_AF_UNIX && len > 2) {
		*e++ = addr[2] ? (char)addr[2] : '@';
		for (uint32_t i = 3; i < len && i < 110 && e < buf + size - 1 && (addr[i] || !addr[2]); i++)
			*e++ = addr[i] ? (char)addr[i] : '@';	/* a path ends at its NUL; an abstract name does not */
		*e = 0;
	} else if (family == RT_AF_INET || family == RT_AF_INET6) {
		rt_utoa((uint64_t)(addr[2] << 8 | addr[3]), rt_put(e, "port "));
	}
	return buf;
}

static _Noreturn void rt_refuse_address(const struct rt_image *im, const unsigned char *rec, const char *why, int peer)
{
	char buf[256];
	rt_refuse_socket(im, rec, rt_with_address(buf, sizeof buf, why, rec + (peer ? CKPT_RSK_PEER_ADDR : CKPT_RSK_ADDR),
						   u32at(rec, peer ? CKPT_RSK_PEER_ADDR_LEN : CKPT_RSK_ADDR_LEN)));
}

struct rt_sock_find { uint64_t inode; const unsigned char *addr; uint32_t addr_len; const unsigned char *found; uint32_t size; };

static void rt_match_socket(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_sock_find *f = arg;
	uint32_t size = u32at(h, CKPT_RH_PAYLOAD_SIZE);
	if (f->found || size < CKPT_RSK_SIZE)
		return;
	if (f->addr ? u32at(p, CKPT_RSK_ADDR_LEN) == f->addr_len && !rt_memcmp(p + CKPT_RSK_ADDR, f->addr, f->addr_len)
		    : u64at(p, CKPT_RSK_INODE) == f->inode) {
		f->found = p;
		f->size = size;
	}
}

/* The record of the socket with this inode, or bound to this address; 0 when none */
static const unsigned char *rt_find_socket(const struct rt_image *im, uint64_t inode, const unsigned char *addr, uint32_t len)
{
	struct rt_sock_find f = { inode, addr, len, 0, 0 };
	rt_each(im, CKPT_REC_SOCKET, rt_match_socket, &f);
	return f.found;
}

/* A socket made ahead of its descriptor, taken out of the table; -1 when none waits */
static long rt_take_made(uint64_t inode)
{
	for (int i = 0; i < rt_nmade_socks; i++)
		if (rt_made_socks[i].inode == inode && rt_made_socks[i].fd >= 0) {
			long fd = rt_made_socks[i].fd;
			rt_made_socks[i].fd = -1;
			return fd;
		}
	return -1;
}

static void rt_keep_made(const struct rt_image *im, const unsigned char *rec, long fd)
{
	if (rt_nmade_socks >= RT_MAX_SOCKETS)
		rt_refuse_socket(im, rec, "more sockets than a restart makes (256)");
	rt_made_socks[rt_nmade_socks].inode = u64at(rec, CKPT_RSK_INODE);
	rt_made_socks[rt_nmade_socks].spare = -1;
	rt_made_socks[rt_nmade_socks++].fd = fd;
}

static int rt_made_already(uint64_t inode)
{
	for (int i = 0; i < rt_nmade_socks; i++)
		if (rt_made_socks[i].inode == inode)
			return 1;
	return 0;
}

/* The new socket's options, filter first; it refuses the image when the kernel says no */
static long rt_prepared(const struct rt_image *im, const unsigned char *rec, long fd, long above)
{
	if (fd < 0)
		rt_refuse_socket(im, rec, "a socket of its kind cannot be made here");
	if (rt_restore_sock_options(fd, rec) < 0)
		rt_refuse_socket(im, rec, "its options or its filter cannot be set again");
	return rt_fd_above(fd, above);
}

static long rt_new_socket(const struct rt_image *im, const unsigned char *rec, long above)
{
	long fd = rt_syscall3(__NR_socket, u32at(rec, CKPT_RSK_FAMILY), u32at(rec, CKPT_RSK_TYPE) | RT_SOCK_CLOEXEC,
			      u32at(rec, CKPT_RSK_PROTOCOL));
	return rt_prepared(im, rec, fd, above);
}

/*
 * A relative AF_UNIX name means what it meant in the checkpoint's working directory (the
 * restart enters it later): entered for the call, and left. Returns what to go back to, or -1.
 */
static long rt_enter_cwd(const struct rt_image *im, const unsigned char *addr, uint32_t len)
{
	if (*(const uint16_t *)addr != RT_AF_UNIX || len <= 2 || !addr[2] || addr[2] == '/' || !im->cwd)
		return -1;
	long back = rt_syscall4(__NR_openat, AT_FDCWD, (long)".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (back >= 0)
		rt_syscall1(__NR_chdir, (long)im->cwd);
	return back;
}

static void rt_leave_cwd(long back)
{
	if (back >= 0) {
		rt_syscall1(__NR_fchdir, back);
		rt_syscall1(__NR_close, back);
	}
}

/* A stale socket file at the name (a socket file nobody is bound to: connect is refused) removed;
 * 1 if it was */
static int rt_remove_stale(const unsigned char *addr, uint32_t len)
{
	long c = -1;
	for (long type = RT_SOCK_STREAM; type <= RT_SOCK_DGRAM; type++) {
		long probe = rt_syscall3(__NR_socket, RT_AF_UNIX, type | RT_SOCK_CLOEXEC, 0);
		c = probe < 0 ? probe : rt_syscall3(__NR_connect, probe, (long)addr, len);
		if (probe >= 0)
			rt_syscall1(__NR_close, probe);
		if (c != -EPROTOTYPE)	/* EPROTOTYPE: the other type's name */
			break;
	}
	struct rt_stat st;	/* connect says ECONNREFUSED for a file that is no socket too: never removed */
	return c == -ECONNREFUSED && rt_syscall4(__NR_newfstatat, AT_FDCWD, (long)(addr + 2), (long)&st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       (st.mode & S_IFMT) == S_IFSOCK && rt_syscall3(__NR_unlinkat, AT_FDCWD, (long)(addr + 2), 0) == 0;
}

/*
 * A socket whose file was removed or replaced (CKPT_SOCK_NAME_GONE): bound to its name, its new
 * file removed again. What is at the path now is moved aside meanwhile and put back.
 */
static long rt_bind_ghost(long fd, const unsigned char *addr, uint32_t len)
{
	char aside[RT_SOCK_ADDR_MAX + 16];
	const char *path = (const char *)addr + 2;
	rt_put(rt_put(aside, path), ".ckpt-aside");
	int moved = rt_syscall4(__NR_renameat, AT_FDCWD, (long)path, AT_FDCWD, (long)aside) == 0;
	long r = rt_syscall3(__NR_bind, fd, (long)addr, len);
	if (r == 0)
		rt_syscall3(__NR_unlinkat, AT_FDCWD, (long)path, 0);
	if (moved)
		rt_syscall4(__NR_renameat, AT_FDCWD, (long)aside, AT_FDCWD, (long)path);
	return r;
}

/* bind, a stale socket file of the old process's removed first */
static long rt_bind_at_cwd(const struct rt_image *im, const unsigned char *rec, long fd, const unsigned char *addr, uint32_t len)
{
	long back = rt_enter_cwd(im, addr, len);
	if (u32at(rec, CKPT_RSK_FLAGS) & CKPT_SOCK_NAME_GONE) {
		long r = rt_bind_ghost(fd, addr, len);
		rt_leave_cwd(back);
		return r;
	}
	long r = rt_syscall3(__NR_bind, fd, (long)addr, len);
	if (r == -EADDRINUSE && *(const uint16_t *)addr == RT_AF_UNIX && addr[2] && rt_remove_stale(addr, len))
		r = rt_syscall3(__NR_bind, fd, (long)addr, len);
	rt_leave_cwd(back);
	return r;
}

static void rt_bind_again(const struct rt_image *im, const unsigned char *rec, long fd)
{
	uint32_t len = u32at(rec, CKPT_RSK_ADDR_LEN);
	if (len > RT_SOCK_ADDR_MAX)
		rt_refuse_socket(im, rec, "its record is inconsistent");
	int tcp = u32at(rec, CKPT_RSK_FAMILY) != RT_AF_UNIX && u32at(rec, CKPT_RSK_TYPE) == RT_SOCK_STREAM;
	int reuse = 1, had = 0;
	uint32_t got = sizeof had;
	/* The old process's connections on the port wait in TIME_WAIT: SO_REUSEADDR binds past those,
	 * never past a listener; the program's own setting comes back after (UDP's means sharing) */
	rt_syscall5(__NR_getsockopt, fd, RT_SOL_SOCKET, SO_REUSEADDR, (long)&had, (long)&got);
	if (tcp)
		rt_syscall5(__NR_setsockopt, fd, RT_SOL_SOCKET, SO_REUSEADDR, (long)&reuse, sizeof reuse);
	long r = rt_bind_at_cwd(im, rec, fd, rec + CKPT_RSK_ADDR, len);
	if (tcp)
		rt_syscall5(__NR_setsockopt, fd, RT_SOL_SOCKET, SO_REUSEADDR, (long)&had, sizeof had);
	if (r == -EADDRINUSE && !tcp)
		rt_refuse_address(im, rec, "its name is taken now (by a socket another process is bound to, or a file that is no socket): ", 0);
	if (r == -EADDRINUSE)
		rt_refuse_address(im, rec, "its address is in use now (another socket's, or connections of the old process in TIME_WAIT): ", 0);
	if (r < 0)
		rt_refuse_address(im, rec, "it cannot be bound to its address again: ", 0);
}

/* Whether the record has an address to bind: a named AF_UNIX one, or an inet one with a port */
static int rt_bound(const unsigned char *rec)
{
	const unsigned char *a = rec + CKPT_RSK_ADDR;
	uint32_t len = u32at(rec, CKPT_RSK_ADDR_LEN);
	if (u32at(rec, CKPT_RSK_FAMILY) == RT_AF_UNIX)
		return len > 2;
	return len >= 4 && (a[2] | a[3]);
}

/* The record's unread messages sent to it again through from (to its address when to is set) */
static void rt_send_messages(const struct rt_image *im, const unsigned char *rec, uint32_t size, long from, int to)
{
	uint32_t at = CKPT_RSK_SIZE + rt_sock_options_size(rec);
	for (uint32_t i = 0; i < u32at(rec, CKPT_RSK_MESSAGES); i++) {
		uint32_t len = at + 4 <= size ? u32at(rec, (int)at) : ~0u;
		if (len > size - at - 4)
			rt_refuse_socket(im, rec, "its record is inconsistent");
		long sent = rt_syscall6(__NR_sendto, from, (long)(rec + at + 4), len, RT_MSG_DONTWAIT | RT_MSG_NOSIGNAL,
					to ? (long)(rec + CKPT_RSK_ADDR) : 0, to ? u32at(rec, CKPT_RSK_ADDR_LEN) : 0);
		if (sent != (long)len)
			rt_refuse_socket(im, rec, "its unread messages cannot be put back");
		at += 4 + ((len + 3) & ~3u);
	}
}

/* Shut down as it was, once its messages are back: the kernel's bits 1 (receive) and 2 (send) */
static void rt_shut_down(const unsigned char *rec, long fd)
{
	static const int how[] = { -1, RT_SHUT_RD, RT_SHUT_WR, RT_SHUT_RDWR };
	uint32_t bits = u32at(rec, CKPT_RSK_SHUTDOWN) & 3;
	if (bits)
		rt_syscall2(__NR_shutdown, fd, how[bits]);
}

/* The payload size of a socket's record */
static uint32_t rt_socket_size(const struct rt_image *im, const unsigned char *rec)
{
	struct rt_sock_find f = { u64at(rec, CKPT_RSK_INODE), 0, 0, 0, 0 };
	rt_each(im, CKPT_REC_SOCKET, rt_match_socket, &f);
	return f.size;
}

static long rt_make_socket(const struct rt_image *im, const unsigned char *rec, uint32_t size, long above);

/* A pair whose both ends the image holds, or one whose other end was closed (then closed again) */
static long rt_make_pair(const struct rt_image *im, const unsigned char *rec, uint32_t size, long above)
{
	int pair[2];
	const unsigned char *peer = 0;
	if (u32at(rec, CKPT_RSK_ROLE) == CKPT_SOCK_PAIRED && !(peer = rt_find_socket(im, u64at(rec, CKPT_RSK_PEER), 0, 0)))
		rt_refuse_socket(im, rec, "the socket it is connected to is not in the image");
	if (peer && u32at(peer, CKPT_RSK_REFUSAL_AT))
		rt_make_socket(im, peer, rt_socket_size(im, peer), above);	/* refuses, in its words */
	if (rt_syscall4(__NR_socketpair, RT_AF_UNIX, u32at(rec, CKPT_RSK_TYPE) | RT_SOCK_CLOEXEC, 0, (long)pair) < 0)
		rt_refuse_socket(im, rec, "a socket pair cannot be made");
	long mine = rt_prepared(im, rec, pair[0], above);
	long other = peer ? rt_prepared(im, peer, pair[1], above) : rt_fd_above(pair[1], above);
	rt_send_messages(im, rec, size, other, 0);
	if (peer) {
		rt_send_messages(im, peer, rt_socket_size(im, peer), mine, 0);
		rt_shut_down(peer, other);
		rt_keep_made(im, peer, other);
	} else {
		rt_syscall1(__NR_close, other);	/* its peer gone again: EOF after the messages, EPIPE */
	}
	rt_shut_down(rec, mine);
	return mine;
}

/* The listener bound to the address a connection was made to, made now if it is not yet */
static long rt_listener(const struct rt_image *im, const unsigned char *rec, const unsigned char *addr, uint32_t len, long above)
{
	struct rt_sock_find f = { 0, addr, len, 0, 0 };
	rt_each(im, CKPT_REC_SOCKET, rt_match_socket, &f);
	if (!f.found || u32at(f.found, CKPT_RSK_ROLE) != CKPT_SOCK_LISTENING)
		rt_refuse_socket(im, rec, "the listening socket it was connected through is not in the image");
	for (int i = 0; i < rt_nmade_socks; i++)
		if (rt_made_socks[i].inode == u64at(f.found, CKPT_RSK_INODE))
			return rt_made_socks[i].spare;
	long fd = rt_make_socket(im, f.found, f.size, above);
	rt_keep_made(im, f.found, fd);
	rt_made_socks[rt_nmade_socks - 1].spare = rt_syscall3(__NR_fcntl, fd, F_DUPFD_CLOEXEC, above);	/* for later ones */
	return fd;
}

/*
 * A connection made through a listener the image holds, both ends the image's: the client end
 * connects to the listener (made first when it is not yet) and the listener accepts the other,
 * so both keep their names; then their messages and shutdown state, as a pair's.
 */
static long rt_make_accepted(const struct rt_image *im, const unsigned char *rec, uint32_t size, long above)
{
	const unsigned char *peer = rt_find_socket(im, u64at(rec, CKPT_RSK_PEER), 0, 0);
	if (!peer || u32at(peer, CKPT_RSK_ROLE) != CKPT_SOCK_ACCEPTED)
		rt_refuse_socket(im, rec, "the socket it is connected to is not in the image");
	struct rt_sock_find f = { 0, rec + CKPT_RSK_PEER_ADDR, u32at(rec, CKPT_RSK_PEER_ADDR_LEN), 0, 0 };
	if (f.addr_len <= RT_SOCK_ADDR_MAX)
		rt_each(im, CKPT_REC_SOCKET, rt_match_socket, &f);
	int client_is_rec = f.found && u32at(f.found, CKPT_RSK_ROLE) == CKPT_SOCK_LISTENING;
	const unsigned char *client = client_is_rec ? rec : peer, *server = client_is_rec ? peer : rec;
	uint32_t len = u32at(client, CKPT_RSK_PEER_ADDR_LEN);
	if (len > RT_SOCK_ADDR_MAX)
		rt_refuse_socket(im, rec, "its record is inconsistent");
	long listener = rt_listener(im, rec, client + CKPT_RSK_PEER_ADDR, len, above);
	long c = rt_new_socket(im, client, above);
	if (rt_bound(client))
		rt_bind_again(im, client, c);
	long back = rt_enter_cwd(im, client + CKPT_RSK_PEER_ADDR, len);
	long r = rt_syscall3(__NR_connect, c, (long)(client + CKPT_RSK_PEER_ADDR), len);
	rt_leave_cwd(back);
	long s = r < 0 ? r : rt_syscall4(__NR_accept4, listener, 0, 0, RT_SOCK_CLOEXEC);
	if (s < 0)
		rt_refuse_address(im, rec, "it cannot be connected through its listening socket again: ", client == rec);
	s = rt_prepared(im, server, s, above);
	long mine = client == rec ? c : s, other = client == rec ? s : c;
	rt_send_messages(im, rec, size, other, 0);
	rt_send_messages(im, peer, rt_socket_size(im, peer), mine, 0);
	rt_shut_down(peer, other);
	rt_shut_down(rec, mine);
	rt_keep_made(im, peer, other);
	return mine;
}

/* A datagram socket connected by name; the socket of that name made first when the image has it */
static void rt_connect_again(const struct rt_image *im, const unsigned char *rec, long fd, long above)
{
	const unsigned char *addr = rec + CKPT_RSK_PEER_ADDR;
	uint32_t len = u32at(rec, CKPT_RSK_PEER_ADDR_LEN);
	if (len > RT_SOCK_ADDR_MAX)
		rt_refuse_socket(im, rec, "its record is inconsistent");
	struct rt_sock_find f = { 0, addr, len, 0, 0 };
	if (*(const uint16_t *)addr == RT_AF_UNIX)
		rt_each(im, CKPT_REC_SOCKET, rt_match_socket, &f);
	if (f.found && f.found != rec && !rt_made_already(u64at(f.found, CKPT_RSK_INODE)))
		rt_keep_made(im, f.found, rt_make_socket(im, f.found, f.size, above));
	long back = rt_enter_cwd(im, addr, len);
	long r = rt_syscall3(__NR_connect, fd, (long)addr, len);
	rt_leave_cwd(back);
	if (r < 0)
		rt_refuse_address(im, rec, "the socket it was connected to cannot be reached: ", 1);
}

/*
 * A TCP connection made a closed socket, as CRIU's --tcp-close does: in TCP_CLOSE, shut down both
 * ways (shutdown sets that even as it says ENOTCONN), so a read says end of file, a write EPIPE,
 * and poll POLLHUP, as after the peer's reset.
 */
static long rt_make_closed(const struct rt_image *im, const unsigned char *rec, long above)
{
	long fd = rt_syscall3(__NR_socket, u32at(rec, CKPT_RSK_FAMILY), u32at(rec, CKPT_RSK_TYPE) | RT_SOCK_CLOEXEC,
			      u32at(rec, CKPT_RSK_PROTOCOL));
	if (fd >= 0)
		rt_syscall2(__NR_shutdown, fd, RT_SHUT_RDWR);
	return rt_prepared(im, rec, fd, above);
}

static long rt_make_socket(const struct rt_image *im, const unsigned char *rec, uint32_t size, long above)
{
	uint32_t role = u32at(rec, CKPT_RSK_ROLE), refusal = u32at(rec, CKPT_RSK_REFUSAL_AT);
	if ((role == CKPT_SOCK_TCP_CONNECTED && im->tcp_close) || role == CKPT_SOCK_TCP_CLOSED)
		return rt_make_closed(im, rec, above);
	if (refusal)
		rt_refuse_socket(im, rec, refusal < size && rec[size - 1] == 0 ? (const char *)rec + refusal : "its record is inconsistent");
	if (CKPT_RSK_SIZE + rt_sock_options_size(rec) > size)
		rt_refuse_socket(im, rec, "its record is inconsistent");
	if (role == CKPT_SOCK_PAIRED || role == CKPT_SOCK_PEER_CLOSED)
		return rt_make_pair(im, rec, size, above);
	if (role == CKPT_SOCK_ACCEPTED)
		return rt_make_accepted(im, rec, size, above);
	long fd = rt_new_socket(im, rec, above);
	if (rt_bound(rec))
		rt_bind_again(im, rec, fd);
	if (role == CKPT_SOCK_LISTENING && rt_syscall2(__NR_listen, fd, u32at(rec, CKPT_RSK_BACKLOG)) < 0)
		rt_refuse_socket(im, rec, "it cannot listen again");
	if (role == CKPT_SOCK_CONNECTED)
		rt_connect_again(im, rec, fd, above);
	if (u32at(rec, CKPT_RSK_MESSAGES)) {
		long from = rt_syscall3(__NR_socket, RT_AF_UNIX, u32at(rec, CKPT_RSK_TYPE) | RT_SOCK_CLOEXEC, 0);
		long back = rt_enter_cwd(im, rec + CKPT_RSK_ADDR, u32at(rec, CKPT_RSK_ADDR_LEN));
		rt_send_messages(im, rec, size, from, 1);
		rt_leave_cwd(back);
		rt_syscall1(__NR_close, from);
	}
	rt_shut_down(rec, fd);
	return fd;
}

/*
 * The socket of a descriptor's file record, at a descriptor of its own above the image's; or
 * RT_OPEN_NOT_MINE when the image has no record for it (a socket the program inherited: files.c's
 * rule). Refuses the image when it cannot be made as it was.
 */
long rt_open_socket(const struct rt_image *im, const unsigned char *file, long above)
{
	uint32_t size;
	const unsigned char *rec = rt_find_kobject(im, CKPT_REC_SOCKET, u32at(file, CKPT_RF_FD), 0, CKPT_RSK_SIZE, &size);
	if (!rec)
		return RT_OPEN_NOT_MINE;
	long made = rt_take_made(u64at(rec, CKPT_RSK_INODE));
	if (made >= 0)
		return made;
	made = rt_make_socket(im, rec, size, above);
	rt_keep_made(im, rec, -1);	/* made and taken: a socket connecting to it finds it */
	if (u32at(rec, CKPT_RSK_ROLE) == CKPT_SOCK_LISTENING)
		rt_made_socks[rt_nmade_socks - 1].spare = rt_syscall3(__NR_fcntl, made, F_DUPFD_CLOEXEC, above);
	return made;
}
