/*
 * task_state: the process settings a program sets itself come back (CRIU's prctl, sched_policy00,
 * sched_prio00, pdeath_sig, child_subreaper, dumpable01): its name (PR_SET_NAME), not dumpable,
 * a parent-death signal, child subreaper, no_new_privs, THP disabled, a timer slack, the
 * SCHED_BATCH policy and nice value 7.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#define NAME "zdtm-task"
#define NICE 7
#define SLACK_NS 123456

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
	zdtm_check(sched_setscheduler(0, SCHED_BATCH, &param) == 0, "SCHED_BATCH: %s", strerror(errno));
	zdtm_check(setpriority(PRIO_PROCESS, 0, NICE) == 0, "setpriority: %s", strerror(errno));
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
	zdtm_check(sched_getscheduler(0) == SCHED_BATCH, "the policy is %d, not SCHED_BATCH", sched_getscheduler(0));
	errno = 0;
	zdtm_check(getpriority(PRIO_PROCESS, 0) == NICE, "the nice value is %d", getpriority(PRIO_PROCESS, 0));
	zdtm_pass();
}
