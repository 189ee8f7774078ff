/* Which calls the shim passes straight to the kernel, and which it hands to the dispatcher. */
#include "base/base.h"

/*
 * Nonzero: the shim must take the slow path into rt_dispatch. Zero: the shim counts the call and
 * makes it itself. Writable: a checkpoint routes the pid calls here in the image it writes (pids.c).
 */
uint8_t rt_syscall_class[RT_NR_MAX] = {
	[__NR_rt_sigaction] = 1,
	[__NR_rt_sigprocmask] = 1,
	[__NR_rt_sigreturn] = 1,
	[__NR_rt_sigsuspend] = 1,
	[__NR_clone] = 1,
	[__NR_fork] = 1,
	[__NR_vfork] = 1,
	[__NR_execve] = 1,
	[__NR_exit] = 1,
	[__NR_exit_group] = 1,
	[__NR_execveat] = 1,
	[__NR_clone3] = 1,
	[__NR_brk] = 1,
	[__NR_rseq] = 1,
	[__NR_munmap] = 1,	/* a thread may unmap the stack it runs on: see core/dispatch.c */
	[__NR_madvise] = 1,	/* memory mapped from an image drops to zeros, grows as anonymous */
	[__NR_mremap] = 1,	/* memory (ckpt/lazy.c); both, and these, change memory behind */
	[__NR_mmap] = 1,	/* the write tracking (ckpt/track.c) */
	[__NR_mprotect] = 1,
	[__NR_pkey_mprotect] = 1,
	[__NR_nanosleep] = 1,	/* EINTR after a checkpoint signal is not the program's, and the */
	[__NR_clock_nanosleep] = 1,	/* sleep goes on for what is left: rt_sleep_restartable */
	[__NR_inotify_add_watch] = 1,	/* a watch's path, which a checkpoint needs */
	[__NR_inotify_rm_watch] = 1,
	[__NR_msgget] = 1,	/* the System V queues and semaphore sets the program uses, */
	[__NR_msgsnd] = 1,	/* which a checkpoint records (sys/sysvipc.c) */
	[__NR_msgrcv] = 1,
	[__NR_msgctl] = 1,
	[__NR_semget] = 1,
	[__NR_semop] = 1,
	[__NR_semtimedop] = 1,
	[__NR_semctl] = 1,
};
