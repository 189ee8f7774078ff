/*
 * A socket's options and its classic BPF filter, both sides. Saved: every option of the table
 * below whose value differs from a new socket's of the same family, type and protocol (so a
 * restart sets only what the program set, and a default such as an autotuned buffer stays the
 * kernel's); and the filter SO_GET_FILTER reads back. Restored on the new socket before it is
 * bound, connected or filled (SO_REUSEADDR, IPV6_V6ONLY and IP_FREEBIND matter to bind), the
 * filter first and SO_LOCK_FILTER last (a locked filter cannot be attached).
 */
#include <linux/filter.h>
#include <linux/in6.h>
#include "ckpt/save.h"
#include "ckpt/restore.h"
#include "ckpt/sockets.h"

/* What a program sets and a restart can set again unprivileged; SO_LOCK_FILTER stays last */
static const struct { uint16_t level, name; } rt_sock_options[] = {
	{ RT_SOL_SOCKET, SO_REUSEADDR }, { RT_SOL_SOCKET, SO_REUSEPORT }, { RT_SOL_SOCKET, SO_KEEPALIVE },
	{ RT_SOL_SOCKET, SO_BROADCAST }, { RT_SOL_SOCKET, SO_LINGER }, { RT_SOL_SOCKET, SO_RCVBUF },
	{ RT_SOL_SOCKET, SO_SNDBUF }, { RT_SOL_SOCKET, SO_OOBINLINE }, { RT_SOL_SOCKET, SO_PASSCRED },
	{ RT_SOL_SOCKET, SO_RCVLOWAT }, { RT_SOL_SOCKET, SO_RCVTIMEO_OLD }, { RT_SOL_SOCKET, SO_SNDTIMEO_OLD },
	{ RT_SOL_SOCKET, SO_PRIORITY }, { RT_SOL_SOCKET, SO_DONTROUTE }, { RT_SOL_SOCKET, SO_PEEK_OFF },
	{ RT_SOL_SOCKET, SO_TIMESTAMP_OLD }, { RT_SOL_SOCKET, SO_PASSSEC },
	{ RT_SOL_IP, IP_FREEBIND }, { RT_SOL_IP, IP_TOS }, { RT_SOL_IP, IP_TTL }, { RT_SOL_IP, IP_RECVERR },
	{ RT_SOL_IP, IP_PKTINFO }, { RT_SOL_IP, IP_MULTICAST_TTL }, { RT_SOL_IP, IP_MULTICAST_LOOP },
	{ RT_SOL_IPV6, IPV6_V6ONLY }, { RT_SOL_IPV6, IPV6_FREEBIND }, { RT_SOL_IPV6, IPV6_UNICAST_HOPS },
	{ RT_SOL_IPV6, IPV6_RECVPKTINFO }, { RT_SOL_IPV6, IPV6_TCLASS },
	{ RT_SOL_TCP, TCP_NODELAY }, { RT_SOL_TCP, TCP_KEEPIDLE }, { RT_SOL_TCP, TCP_KEEPINTVL },
	{ RT_SOL_TCP, TCP_KEEPCNT }, { RT_SOL_TCP, TCP_USER_TIMEOUT }, { RT_SOL_TCP, TCP_DEFER_ACCEPT },
	/* not TCP_MAXSEG nor TCP_QUICKACK: a connection sets them, and a new socket refuses its values */
	{ RT_SOL_UDP, RT_UDP_CORK },
	{ RT_SOL_SOCKET, SO_LOCK_FILTER },
};

/* One option set to what getsockopt gave */
static long rt_restore_one(long fd, uint32_t level, uint32_t name, const unsigned char *value, uint32_t len)
{
	int half;
	const void *at = value;
	if (level == RT_SOL_SOCKET && (name == SO_RCVBUF || name == SO_SNDBUF)) {
		half = *(const int *)value / 2;	/* the kernel doubles what it is given, and reports the double */
		at = &half;
	}
	return len > CKPT_SOCK_VALUE_MAX ? -EINVAL : rt_syscall5(__NR_setsockopt, fd, level, name, (long)at, len);
}

static long rt_getsockopt(long fd, uint32_t level, uint32_t name, void *value, uint32_t *len)
{
	*len = CKPT_SOCK_VALUE_MAX;
	return rt_syscall5(__NR_getsockopt, fd, level, name, (long)value, (long)len);
}

/* The options fd changed from a new socket's (probe), one entry each after the record's fixed part */
int rt_save_sock_options(struct rt_ckpt_work *w, unsigned char *p, long fd, long probe)
{
	for (unsigned i = 0; i < sizeof rt_sock_options / sizeof rt_sock_options[0]; i++) {
		unsigned char now[CKPT_SOCK_VALUE_MAX], fresh[CKPT_SOCK_VALUE_MAX];
		uint32_t level = rt_sock_options[i].level, name = rt_sock_options[i].name, len, fresh_len;
		if (rt_getsockopt(fd, level, name, now, &len) < 0)
			continue;
		if (probe >= 0 && rt_getsockopt(probe, level, name, fresh, &fresh_len) == 0 && fresh_len == len &&
		    !rt_memcmp(now, fresh, len))
			continue;
		if (probe >= 0 && rt_restore_one(probe, level, name, now, len) < 0)
			continue;	/* a value no program can set on this kind of socket: the kernel's (a connection's) */
		unsigned char *e = rt_record_grow(w, p, CKPT_SOCK_OPTION_SIZE);
		if (!e)
			return RT_SAVE_FULL;
		*(uint32_t *)e = level;
		*(uint32_t *)(e + 4) = name;
		*(uint32_t *)(e + 8) = len;
		rt_memcpy(e + 12, now, len);
		(*(uint32_t *)(p + CKPT_RSK_OPTIONS))++;
	}
	return 0;
}

/* The classic BPF filter attached (SO_ATTACH_FILTER), its instructions after the options: 0,
 * RT_SAVE_FULL, or 1 when it cannot be read */
int rt_save_sock_filter(struct rt_ckpt_work *w, unsigned char *p, long fd)
{
	uint32_t count = 0;
	if (rt_syscall5(__NR_getsockopt, fd, RT_SOL_SOCKET, SO_GET_FILTER, 0, (long)&count) < 0 || !count)
		return 0;	/* none (ENOENT would not be 0 instructions) */
	unsigned char *e = rt_record_grow(w, p, (size_t)count * sizeof(struct sock_filter));
	if (!e)
		return RT_SAVE_FULL;
	uint32_t got = count;
	if (rt_syscall5(__NR_getsockopt, fd, RT_SOL_SOCKET, SO_GET_FILTER, (long)e, (long)&got) < 0 || got != count)
		return 1;	/* said by the caller */
	*(uint32_t *)(p + CKPT_RSK_FILTER) = count;
	return 0;
}

/* The restart's side: the filter, then the options in their order; -1 when one cannot be set */
int rt_restore_sock_options(long fd, const unsigned char *rec)
{
	uint32_t options = u32at(rec, CKPT_RSK_OPTIONS), count = u32at(rec, CKPT_RSK_FILTER);
	const unsigned char *e = rec + CKPT_RSK_SIZE;
	if (count) {
		struct sock_fprog prog = { (unsigned short)count, (struct sock_filter *)(e + options * CKPT_SOCK_OPTION_SIZE) };
		if (rt_syscall5(__NR_setsockopt, fd, RT_SOL_SOCKET, SO_ATTACH_FILTER, (long)&prog, sizeof prog) < 0)
			return -1;
	}
	for (uint32_t i = 0; i < options; i++, e += CKPT_SOCK_OPTION_SIZE)
		if (rt_restore_one(fd, u32at(e, 0), u32at(e, 4), e + 12, u32at(e, 8)) < 0)
			return -1;
	return 0;
}

/* The bytes the options and the filter take after the fixed part */
uint32_t rt_sock_options_size(const unsigned char *rec)
{
	return u32at(rec, CKPT_RSK_OPTIONS) * CKPT_SOCK_OPTION_SIZE + u32at(rec, CKPT_RSK_FILTER) * (uint32_t)sizeof(struct sock_filter);
}
