/*
 * Kernel ABI structures and layouts of x86-64 that the runtime needs and that no UAPI header gives
 * in a form usable here (no libc headers in a freestanding build).
 */
#ifndef RT_ARCH_ABI_H
#define RT_ARCH_ABI_H

#include <stdint.h>

/* struct sigaction as rt_sigaction takes it (the UAPI one carries sa_restorer only conditionally) */
struct rt_kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};
#define RT_SA_SIGINFO	0x00000004UL
#define RT_SA_ONSTACK	0x08000000UL
#define RT_SA_RESTART	0x10000000UL
#define RT_SA_NODEFER	0x40000000UL
#define RT_SA_RESTORER	0x04000000UL
#define RT_SIG_DFL	((void *)0)
#define RT_SIG_IGN	((void *)1)
#define RT_SIGTRAP	5
#define RT_SIGSYS	31
#define RT_SIG_BLOCK	0
#define RT_SIG_UNBLOCK	1
#define RT_SIG_SETMASK	2
#define RT_SIGBIT(s)	(1ULL << ((s) - 1))

/* struct stat as the x86-64 kernel fills it */
struct rt_stat {
	uint64_t dev, ino, nlink;
	uint32_t mode, uid, gid, pad0;
	uint64_t rdev;
	int64_t size, blksize, blocks;
	uint64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
	int64_t reserved[3];
};
#define RT_TCGETS	0x5401
#define RT_TCSETS	0x5402
#define RT_TIOCGWINSZ	0x5413
#define RT_SIGWINCH	28

/* ucontext_t and siginfo_t as the kernel lays them out on x86-64 */
#define RT_UC_GREGS	40	/* byte offset of mcontext.gregs in ucontext */
#define RT_UC_SIGMASK	296
enum rt_greg { RT_REG_R8, RT_REG_R9, RT_REG_R10, RT_REG_R11, RT_REG_R12, RT_REG_R13, RT_REG_R14,
	RT_REG_R15, RT_REG_RDI, RT_REG_RSI, RT_REG_RBP, RT_REG_RBX, RT_REG_RDX, RT_REG_RAX,
	RT_REG_RCX, RT_REG_RSP, RT_REG_RIP, RT_REG_EFL };
#define RT_SI_CODE	8
#define RT_SI_PID	16	/* sent by kill, tgkill, sigqueue */
#define RT_SI_TIMERID	16	/* SI_TIMER: the kernel's timer id */
#define RT_SI_USER	0
#define RT_SI_QUEUE	(-1)
#define RT_SI_TIMER	(-2)
#define RT_SI_TKILL	(-6)
#define RT_SYS_USER_DISPATCH 2	/* si_code of a SIGSYS raised by the SUD net */

#endif
