/*
 * sysv_shm: a System V shared memory segment attached (CRIU's shm, with an IPC namespace). Its
 * id cannot be given again without privilege: the checkpoint warns, and a restart refuses the
 * image, naming the mapping.
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/shm.h>

int main(void)
{
	int id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
	zdtm_check(id >= 0, "shmget: %s", strerror(errno));
	char *at = shmat(id, NULL, 0);
	zdtm_check(at != (void *)-1, "shmat: %s", strerror(errno));
	shmctl(id, IPC_RMID, NULL);	/* gone with the last detach: no segment is left behind */
	at[0] = 1;
	zdtm_ready();
	zdtm_wait();
	zdtm_pass();
}
