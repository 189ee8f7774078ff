/*
 * seccomp_filter: the program installs a seccomp filter of its own (one that allows every call).
 * Without CAP_SYS_ADMIN a filter cannot be read back, so it cannot be installed again: the
 * checkpoint warns, and a restart refuses the image, naming the filter (CRIU's seccomp_filter,
 * which restores it with privilege).
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>

int main(void)
{
	struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sock_fprog prog = { .len = 1, .filter = allow };
	zdtm_check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	zdtm_check(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0, "PR_SET_SECCOMP: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();
	zdtm_pass();
}
