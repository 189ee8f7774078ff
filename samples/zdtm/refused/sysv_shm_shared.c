/*
 * sysv_shm_shared: a System V shared memory segment, removed (IPC_RMID), that a child attached
 * too. Brought back as a new segment it would no longer be shared with that child, which the
 * image does not hold: the checkpoint warns, and a restart refuses the image, naming the segment.
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/prctl.h>
#include <sys/shm.h>

int main(void)
{
	int id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
	zdtm_check(id >= 0, "shmget: %s", strerror(errno));
	char *at = shmat(id, NULL, 0);
	zdtm_check(at != (void *)-1, "shmat: %s", strerror(errno));
	pid_t parent = getpid(), child = fork();
	zdtm_check(child >= 0, "fork: %s", strerror(errno));
	if (child == 0) {	/* it holds its inherited attach until the sample dies */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		while (getppid() == parent)
			pause();
		_exit(0);
	}
	shmctl(id, IPC_RMID, NULL);	/* gone with the last detach: no segment is left behind */
	at[0] = 1;
	zdtm_ready();
	zdtm_wait();
	zdtm_pass();
}
