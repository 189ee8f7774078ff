/* Sockets (sockets.c, sockopts.c): the socket API's numbers the UAPI headers leave to libc */
#ifndef RT_CKPT_SOCKETS_H
#define RT_CKPT_SOCKETS_H

#include <asm/socket.h>

#pragma GCC visibility push(hidden)

#define RT_AF_INET6		10
#define RT_AF_NETLINK		16
#define RT_SOCK_SEQPACKET	5
#define RT_SOL_IP		0
#define RT_SOL_SOCKET		1
#define RT_SOL_TCP		6
#define RT_SOL_UDP		17
#define RT_SOL_IPV6		41
#define RT_UDP_CORK		1	/* linux/udp.h has it, but drags in more than it gives */
#define RT_MSG_PEEK		2
#define RT_MSG_DONTWAIT		0x40
#define RT_MSG_TRUNC		0x20	/* a datagram's whole length, even when cut */
#define RT_MSG_CMSG_CLOEXEC	0x40000000
#define RT_SCM_RIGHTS		1
#define RT_SHUT_RD		0
#define RT_SHUT_WR		1
#define RT_SHUT_RDWR		2
/* include/net/tcp_states.h is not UAPI; unix_diag reports AF_UNIX states in the same numbers */
#define RT_TCP_ESTABLISHED	1
#define RT_TCP_CLOSE		7
#define RT_TCP_LISTEN		10
#define RT_SOCK_ADDR_MAX	128	/* sockaddr_storage */

struct rt_ckpt_work;
int rt_save_sock_options(struct rt_ckpt_work *w, unsigned char *p, long fd, long probe);
int rt_save_sock_filter(struct rt_ckpt_work *w, unsigned char *p, long fd);
int rt_restore_sock_options(long fd, const unsigned char *rec);
uint32_t rt_sock_options_size(const unsigned char *rec);

#pragma GCC visibility pop
#endif
