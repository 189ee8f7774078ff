/*
 * task_state: the process settings a program sets itself come back (CRIU's prctl, sched_policy00,
 * sched_prio00, pdeath_sig, child_subreaper, dumpable01): its name (PR_SET_NAME), not dumpable,
 * a parent-death signal, child subreaper, no_new_privs, THP disabled, a timer slack, the
 * SCHED_BATCH policy and nice value 7 (CRIU's thp_disable, seccomp_no_new_privs, oom_score_adj,
 * membarrier, selfexe00): oom_score_adj 500, a membarrier registration for private expedited
 * barriers (which fail with EPERM without it), the robust-mutex list the C library registered
 * (glibc does at start), and /proc/self/exe.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

/* linux/membarrier.h, which musl's headers lack */
#define MEMBARRIER_CMD_PRIVATE_EXPEDITED (1 << 3)
#define MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED (1 << 4)

/* the system calls themselves: musl's sched_setscheduler and sched_getscheduler return ENOSYS */
static int set_policy(int policy, const struct sched_param *param) { return (int)syscall(SYS_sched_setscheduler, 0, policy, param); }
static int get_policy(void) { return (int)syscall(SYS_sched_getscheduler, 0); }

#define NAME "zdtm-task"
#define NICE 7
#define SLACK_NS 123456
#define OOM_SCORE_ADJ "500\n"

static void read_text(const char *path, char *out, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, out, size - 1);
	zdtm_check(n >= 0, "cannot read %s", path);
	out[n] = 0;
	close(fd);
}

int main(void)
{
	struct sched_param param = { 0 };
	zdtm_check(prctl(PR_SET_NAME, NAME) == 0, "PR_SET_NAME: %s", strerror(errno));
	zdtm_check(prctl(PR_SET_DUMPABLE, 0) == 0, "PR_SET_DUMPABLE: %s", strerror(errno));
	zdtm_check(prctl(PR_SET_PDEATHSIG, SIGUSR1) == 0, "PR_SET_PDEATHSIG: %s", strerror(errno));
	zdtm_check(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0, "PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	zdtm_check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	zdtm_check(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0, "PR_SET_THP_DISABLE: %s", strerror(errno));
	zdtm_check(prctl(PR_SET_TIMERSLACK, SLACK_NS) == 0, "PR_SET_TIMERSLACK: %s", strerror(errno));
	zdtm_check(set_policy(SCHED_BATCH, &param) == 0, "SCHED_BATCH: %s", strerror(errno));
	zdtm_check(setpriority(PRIO_PROCESS, 0, NICE) == 0, "setpriority: %s", strerror(errno));
	int fd = open("/proc/self/oom_score_adj", O_WRONLY);
	zdtm_check(fd >= 0 && write(fd, OOM_SCORE_ADJ, strlen(OOM_SCORE_ADJ)) > 0, "oom_score_adj: %s", strerror(errno));
	close(fd);
	zdtm_check(syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0, "membarrier: %s", strerror(errno));
	void *robust_before = NULL, *robust_after = NULL;
	size_t robust_len_before = 0, robust_len_after = 0;
	syscall(SYS_get_robust_list, 0, &robust_before, &robust_len_before);
	char exe_before[256] = "", exe_after[256] = "", text[32];
	zdtm_check(readlink("/proc/self/exe", exe_before, sizeof exe_before - 1) > 0, "readlink /proc/self/exe");
	zdtm_ready();
	zdtm_wait();

	char name[17] = "";
	int value = -1;
	prctl(PR_GET_NAME, name);
	zdtm_check(!strcmp(name, NAME), "the name is %s", name);
	zdtm_check(prctl(PR_GET_DUMPABLE) == 0, "the process is dumpable again");
	prctl(PR_GET_PDEATHSIG, &value);
	zdtm_check(value == SIGUSR1, "the parent-death signal is %d", value);
	value = -1;
	prctl(PR_GET_CHILD_SUBREAPER, &value);
	zdtm_check(value == 1, "child subreaper is %d", value);
	zdtm_check(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, "no_new_privs is off");
	zdtm_check(prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1, "THP is enabled again");
	zdtm_check(prctl(PR_GET_TIMERSLACK) == SLACK_NS, "the timer slack is %d ns", prctl(PR_GET_TIMERSLACK));
	zdtm_check(get_policy() == SCHED_BATCH, "the policy is %d, not SCHED_BATCH", get_policy());
	errno = 0;
	zdtm_check(getpriority(PRIO_PROCESS, 0) == NICE, "the nice value is %d", getpriority(PRIO_PROCESS, 0));
	read_text("/proc/self/oom_score_adj", text, sizeof text);
	zdtm_check(!strcmp(text, OOM_SCORE_ADJ), "oom_score_adj is %s", text);
	zdtm_check(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0,
		"a private expedited membarrier fails: %s (the registration is gone)", strerror(errno));
	syscall(SYS_get_robust_list, 0, &robust_after, &robust_len_after);
	zdtm_check(robust_after == robust_before && robust_len_after == robust_len_before,
		"the robust list is %p (%zu), was %p (%zu)", robust_after, robust_len_after, robust_before, robust_len_before);
	zdtm_check(readlink("/proc/self/exe", exe_after, sizeof exe_after - 1) > 0 && !strcmp(exe_after, exe_before),
		"/proc/self/exe is %s, was %s", exe_after, exe_before);
	zdtm_pass();
}
