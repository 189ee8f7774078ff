/*
 * Kernel ABI structures and layouts of x86-64 that the runtime needs and that no UAPI header gives
 * in a form usable here (no libc headers in a freestanding build). The numbers (SA_*, SIG*, SI_*)
 * come from the UAPI headers through lib/kernel.h.
 */
#ifndef RT_ARCH_ABI_H
#define RT_ARCH_ABI_H

#include <stdint.h>
#include "include/ckpt_contract.h"

/*
 * struct sigaction as rt_sigaction takes it. The UAPI one types its handler as __sighandler_t and
 * its mask as sigset_t; this one keeps void * and a plain 64-bit mask, which the runtime copies and
 * compares as they are (RT_SIG_DFL and RT_SIG_IGN are SIG_DFL and SIG_IGN in that type).
 */
struct rt_kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};
#define RT_SIG_DFL	((void *)0)
#define RT_SIG_IGN	((void *)1)
#define RT_SIGBIT(s)	(1ULL << ((s) - 1))
#define RT_SIGSET_SIZE	8	/* the kernel's sigset_t: 64 signals, a bit each */

/* struct stat as the x86-64 kernel fills it */
struct rt_stat {
	uint64_t dev, ino, nlink;
	uint32_t mode, uid, gid, pad0;
	uint64_t rdev;
	int64_t size, blksize, blocks;
	uint64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
	int64_t reserved[3];
};
/* The shadow sends the kernel's layout as it is (ckpt_contract.h): the two must agree */
#define RT_STAT_AT(field, off) _Static_assert(__builtin_offsetof(struct rt_stat, field) == (off), "stat " #field)
RT_STAT_AT(dev, CKPT_SH_STAT_DEV);
RT_STAT_AT(ino, CKPT_SH_STAT_INO);
RT_STAT_AT(nlink, CKPT_SH_STAT_NLINK);
RT_STAT_AT(mode, CKPT_SH_STAT_MODE);
RT_STAT_AT(uid, CKPT_SH_STAT_UID);
RT_STAT_AT(gid, CKPT_SH_STAT_GID);
RT_STAT_AT(rdev, CKPT_SH_STAT_RDEV);
RT_STAT_AT(size, CKPT_SH_STAT_SZ);
RT_STAT_AT(blksize, CKPT_SH_STAT_BLKSIZE);
RT_STAT_AT(blocks, CKPT_SH_STAT_BLOCKS);
RT_STAT_AT(atime_sec, CKPT_SH_STAT_ATIME);
RT_STAT_AT(mtime_sec, CKPT_SH_STAT_MTIME);
RT_STAT_AT(ctime_sec, CKPT_SH_STAT_CTIME);
#undef RT_STAT_AT
_Static_assert(sizeof(struct rt_stat) == CKPT_SH_STAT_SIZE, "stat size");

/* ucontext_t and siginfo_t as the kernel lays them out on x86-64 */
#define RT_UC_GREGS	40	/* byte offset of mcontext.gregs in ucontext */
#define RT_UC_SIGMASK	296
enum rt_greg { RT_REG_R8, RT_REG_R9, RT_REG_R10, RT_REG_R11, RT_REG_R12, RT_REG_R13, RT_REG_R14,
	RT_REG_R15, RT_REG_RDI, RT_REG_RSI, RT_REG_RBP, RT_REG_RBX, RT_REG_RDX, RT_REG_RAX,
	RT_REG_RCX, RT_REG_RSP, RT_REG_RIP, RT_REG_EFL };
#define RT_SI_CODE	8
#define RT_SI_PID	16	/* sent by kill, tgkill, sigqueue */
#define RT_SI_TIMERID	16	/* SI_TIMER: the kernel's timer id */
#define RT_SI_VALUE	24	/* SI_QUEUE: the sigval sent with the signal */

#endif
