/*
 * The kernel's names for its numbers, from its UAPI headers (they work freestanding). Errors are
 * the kernel's positive errno values; the runtime returns and compares them negated (-EINTR), as
 * the system calls return them. What no UAPI header defines is defined once here, said why.
 */
#ifndef RT_LIB_KERNEL_H
#define RT_LIB_KERNEL_H

#include <asm-generic/errno.h>
#include <asm/prctl.h>
#include <asm/sigcontext.h>
#include <asm-generic/poll.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/futex.h>
#include <linux/in.h>
#include <linux/kcmp.h>
#include <linux/memfd.h>
#include <linux/mman.h>
#include <linux/prctl.h>
#include <linux/resource.h>
#include <linux/rseq.h>
#include <linux/sched.h>
#include <linux/signal.h>
#include <linux/stat.h>
#include <linux/tcp.h>
#include <linux/time.h>
#include <linux/wait.h>
#include <asm/ioctls.h>
#include <linux/userfaultfd.h>

/* The socket API's numbers are libc's (sys/socket.h): the UAPI headers leave them out */
#define RT_AF_UNIX	1
#define RT_AF_INET	2
#define RT_SOCK_STREAM	1
#define RT_SOCK_DGRAM	2
#define RT_SOCK_CLOEXEC	O_CLOEXEC	/* the kernel checks it is the same bit */
#define RT_MSG_NOSIGNAL	0x4000
#define RT_EFD_SEMAPHORE	1	/* include/linux/eventfd.h is not UAPI */
#define RT_SPLICE_F_NONBLOCK	2	/* nor is include/linux/splice.h */

/* Older UAPI headers lack Syscall User Dispatch (Linux 5.11) */
#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH	59
#define PR_SYS_DISPATCH_ON		1
#endif
#ifndef SYSCALL_DISPATCH_FILTER_BLOCK
#define SYSCALL_DISPATCH_FILTER_BLOCK	1
#endif


/*
 * Write tracking for incremental checkpoints (ckpt/track.c): Linux 6.4 and 6.7 added these, and
 * Debian 12's headers are from 6.1. The values are the kernel's (include/uapi/linux/fs.h and
 * userfaultfd.h); the ioctl fails on a kernel without them, and the runtime then makes full images.
 */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1 << 15)
#endif
#ifndef PAGEMAP_SCAN
struct page_region { uint64_t start, end, categories; };
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN		_IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WRITTEN		(1 << 1)
#define PM_SCAN_WP_MATCHING	(1 << 0)
#define PM_SCAN_CHECK_WPASYNC	(1 << 1)
#endif

#endif
