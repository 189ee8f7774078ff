/*
 * The process's own settings: what prctl holds (name, dumpable, parent-death signal, child
 * subreaper, no_new_privs, THP disabled, timer slack), the scheduling policy and the nice value,
 * the robust-mutex list the C library registered, membarrier registrations and oom_score_adj.
 * Restored before the teardown, each only when it differs from the restarting process's. A
 * scheduling policy that cannot be set again without privilege (a real-time one) refuses the
 * image, naming it; a nice value or oom_score_adj lower than the restarting process's, which a
 * user cannot set, is warned about and the process runs with the restarting one's (a restart
 * under a niced batch system is slower, not wrong).
 *
 * A seccomp filter the program installed cannot be read back without CAP_SYS_ADMIN
 * (PTRACE_SECCOMP_GET_FILTER), so it cannot be installed again: a warning at the checkpoint, and
 * the restart refuses the image. Other kinds of state warn the same way (rt_note_unrestorable),
 * and the vacate signal, after which the program does not go on, makes no image a restart would
 * refuse: the previous one stays.
 */
#include "ckpt/save.h"
#include "ckpt/restore.h"

#define RT_MEMBARRIER_GET_REGISTRATIONS	(1 << 9)	/* Linux 6.3; Debian 12's headers lack it */

static int rt_unrestorable;

/* A state a restart will refuse was found and warned about */
void rt_note_unrestorable(void)
{
	rt_unrestorable = 1;
}

/* Last of the checkpoint's records: 0, or -EOPNOTSUPP for the vacate signal when a state was warned about */
long rt_vacate_refusal(const struct rt_ckpt_work *w)
{
	int found = rt_unrestorable;
	rt_unrestorable = 0;
	if (!found || w->sig != rt_vacate_signal)
		return 0;
	rt_write_all(2, RT_LITERAL("ckpt: checkpoint refused: the vacate signal makes no image a restart would refuse\n"));
	return -EOPNOTSUPP;
}

/* The "Seccomp:" field of /proc/self/status: 0 none, 1 strict, 2 filter */
static uint32_t rt_seccomp_mode(void)
{
	char buf[4096];
	long n = rt_read_file("/proc/self/status", buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	for (const char *s = buf; *s; s++)
		if ((s == buf || s[-1] == '\n') && rt_starts_with(s, "Seccomp:")) {
			for (s += 8; *s == ' ' || *s == '\t'; s++)
				;
			return (uint32_t)(*s - '0');
		}
	return 0;
}

/* /proc/self/oom_score_adj as a number; 0 when unreadable */
static int32_t rt_read_oom_score_adj(void)
{
	char buf[16];
	long n = rt_read_file("/proc/self/oom_score_adj", buf, sizeof buf - 1);
	int32_t v = 0, sign = 1;
	buf[n > 0 ? n : 0] = 0;
	const char *s = buf;
	if (*s == '-')
		sign = -1, s++;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (*s - '0');
	return sign * v;
}

static void rt_save_more(unsigned char *p)
{
	uint64_t len = 0;
	rt_syscall3(__NR_get_robust_list, 0, (long)(p + CKPT_TK_ROBUST_LIST), (long)&len);
	*(uint64_t *)(p + CKPT_TK_ROBUST_LEN) = len;
	long registered = rt_syscall3(__NR_membarrier, RT_MEMBARRIER_GET_REGISTRATIONS, 0, 0);
	*(uint32_t *)(p + CKPT_TK_MEMBARRIER) = registered > 0 ? (uint32_t)registered : 0;
	*(int32_t *)(p + CKPT_TK_OOM_SCORE_ADJ) = rt_read_oom_score_adj();
}

int rt_save_task(struct rt_ckpt_work *w)
{
	unsigned char *p = rt_record(w, CKPT_REC_TASK, 0, CKPT_TK_SIZE);
	int value = 0;
	struct { int priority; } param = { 0 };
	if (!p)
		return -1;
	rt_syscall5(__NR_prctl, PR_GET_NAME, (long)(p + CKPT_TK_NAME), 0, 0, 0);
	*(uint32_t *)(p + CKPT_TK_DUMPABLE) = (uint32_t)rt_syscall5(__NR_prctl, PR_GET_DUMPABLE, 0, 0, 0, 0);
	rt_syscall5(__NR_prctl, PR_GET_PDEATHSIG, (long)&value, 0, 0, 0);
	*(uint32_t *)(p + CKPT_TK_PDEATHSIG) = (uint32_t)value;
	value = 0;
	rt_syscall5(__NR_prctl, PR_GET_CHILD_SUBREAPER, (long)&value, 0, 0, 0);
	*(uint32_t *)(p + CKPT_TK_SUBREAPER) = (uint32_t)value;
	*(uint32_t *)(p + CKPT_TK_NO_NEW_PRIVS) = (uint32_t)rt_syscall5(__NR_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	*(uint32_t *)(p + CKPT_TK_POLICY) = (uint32_t)rt_syscall1(__NR_sched_getscheduler, 0);
	rt_syscall2(__NR_sched_getparam, 0, (long)&param);
	*(uint32_t *)(p + CKPT_TK_PRIORITY) = (uint32_t)param.priority;
	*(int32_t *)(p + CKPT_TK_NICE) = 20 - (int32_t)rt_syscall2(__NR_getpriority, PRIO_PROCESS, 0);
	*(uint32_t *)(p + CKPT_TK_SECCOMP) = rt_seccomp_mode();
	*(uint32_t *)(p + CKPT_TK_THP_DISABLE) = (uint32_t)rt_syscall5(__NR_prctl, PR_GET_THP_DISABLE, 0, 0, 0, 0);
	*(uint64_t *)(p + CKPT_TK_TIMERSLACK) = (uint64_t)rt_syscall5(__NR_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0);
	rt_save_more(p);
	rt_seal(p);
	if (*(uint32_t *)(p + CKPT_TK_SECCOMP)) {
		rt_warn("the program runs under a seccomp filter", "(its own):",
			"it cannot be read back without privilege, so a restart will refuse this image (docs/limits.md)");
		rt_note_unrestorable();
	}
	return 0;
}

static void rt_set_scheduling(const struct rt_image *im, const unsigned char *t)
{
	uint32_t policy = u32at(t, CKPT_TK_POLICY);
	struct { int priority; } param = { (int)u32at(t, CKPT_TK_PRIORITY) }, now = { 0 };
	int32_t nice = *(const int32_t *)(t + CKPT_TK_NICE);
	rt_syscall2(__NR_sched_getparam, 0, (long)&now);
	if ((uint32_t)rt_syscall1(__NR_sched_getscheduler, 0) != policy || now.priority != param.priority) {
		if (rt_syscall3(__NR_sched_setscheduler, 0, policy, (long)&param) < 0)
			rt_refuse(im, "the program's scheduling policy cannot be set again (a real-time policy needs privilege)");
	}
	if (20 - rt_syscall2(__NR_getpriority, PRIO_PROCESS, 0) != nice &&
	    rt_syscall3(__NR_setpriority, PRIO_PROCESS, 0, nice) < 0)
		rt_warn("the program's nice value", "(lower than the restarting process's)",
			"cannot be set again without privilege or RLIMIT_NICE: it runs with the restarting process's");
}

static void rt_set_prctl(const unsigned char *t)
{
	char name[16];
	rt_memcpy(name, t + CKPT_TK_NAME, sizeof name);
	name[15] = 0;
	rt_syscall5(__NR_prctl, PR_SET_NAME, (long)name, 0, 0, 0);
	uint32_t dumpable = u32at(t, CKPT_TK_DUMPABLE);
	if (dumpable <= 1)	/* 2 (suid_dumpable) is the kernel's to give */
		rt_syscall5(__NR_prctl, PR_SET_DUMPABLE, dumpable, 0, 0, 0);
	rt_syscall5(__NR_prctl, PR_SET_PDEATHSIG, u32at(t, CKPT_TK_PDEATHSIG), 0, 0, 0);
	rt_syscall5(__NR_prctl, PR_SET_CHILD_SUBREAPER, u32at(t, CKPT_TK_SUBREAPER), 0, 0, 0);
	rt_syscall5(__NR_prctl, PR_SET_THP_DISABLE, u32at(t, CKPT_TK_THP_DISABLE), 0, 0, 0);
	if (u64at(t, CKPT_TK_TIMERSLACK))
		rt_syscall5(__NR_prctl, PR_SET_TIMERSLACK, (long)u64at(t, CKPT_TK_TIMERSLACK), 0, 0, 0);
	if (u32at(t, CKPT_TK_NO_NEW_PRIVS))	/* for good: the restart execs nothing after this */
		rt_syscall5(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static void rt_set_oom_score_adj(int32_t want)
{
	char text[16], *e = text;
	if (rt_read_oom_score_adj() == want)
		return;
	if (want < 0)
		*e++ = '-';
	e = rt_utoa((uint64_t)(want < 0 ? -want : want), e);
	long fd = rt_syscall4(__NR_openat, AT_FDCWD, (long)"/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC, 0);
	long n = fd < 0 ? fd : rt_syscall3(__NR_write, fd, (long)text, e - text);
	if (fd >= 0)
		rt_syscall1(__NR_close, fd);
	if (n < 0)
		rt_warn("the program's oom_score_adj", "(lower than the restarting process's)",
			"cannot be set again without privilege: it runs with the restarting process's");
}

/* Registered again: the commands it made stay registered for the process's memory, which the
 * teardown keeps */
static void rt_set_more(const struct rt_image *im, const unsigned char *t)
{
	if (u64at(t, CKPT_TK_ROBUST_LIST))
		rt_syscall2(__NR_set_robust_list, (long)u64at(t, CKPT_TK_ROBUST_LIST), (long)u64at(t, CKPT_TK_ROBUST_LEN));
	uint32_t registered = u32at(t, CKPT_TK_MEMBARRIER);
	for (uint32_t bit = 1; bit && bit <= registered; bit <<= 1)
		if ((registered & bit) && rt_syscall3(__NR_membarrier, bit, 0, 0) < 0)
			rt_refuse(im, "a membarrier registration of the program cannot be made again on this kernel");
	rt_set_oom_score_adj(*(const int32_t *)(t + CKPT_TK_OOM_SCORE_ADJ));
}

static void rt_restore_task_record(void *arg, const unsigned char *h, const unsigned char *t)
{
	const struct rt_image *im = arg;
	if (u32at(h, CKPT_RH_PAYLOAD_SIZE) < CKPT_TK_SIZE)
		rt_refuse(im, "the process settings record is too short");
	if (u32at(t, CKPT_TK_SECCOMP))
		rt_refuse(im, "the program ran under a seccomp filter of its own, which cannot be read back "
			  "without privilege to be installed again (docs/limits.md)");
	rt_set_scheduling(im, t);
	rt_set_more(im, t);
	rt_set_prctl(t);
}

void rt_restore_task(const struct rt_image *im)
{
	rt_each(im, CKPT_REC_TASK, rt_restore_task_record, (void *)im);
}
