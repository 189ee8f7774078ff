/*
 * sem_undo: a System V semaphore set the program changed with SEM_UNDO. The kernel undoes those
 * adjustments when the process ends, so after a kill the set no longer holds what the program
 * took: the checkpoint warns, and a restart refuses the image, naming the set. (The set is removed
 * at the exit of whichever process runs last; a refused restart leaves it to the test.)
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/sem.h>

int main(void)
{
	int s = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	zdtm_check(s >= 0, "semget: %s", strerror(errno));
	struct sembuf give = { 0, 1, SEM_UNDO };
	zdtm_check(semop(s, &give, 1) == 0, "semop: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();
	semctl(s, 0, IPC_RMID);
	zdtm_pass();
}
