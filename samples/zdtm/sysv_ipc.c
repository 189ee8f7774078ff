/*
 * System V message queue and semaphore set (CRIU's msgque and sem), the process's own: three
 * messages of different types in the queue, values in the set. Both outlive the process in the
 * kernel, so a restart finds them under the ids the program holds: the messages come back in
 * order with their types, by type too, the values are the same, and both are removed at the end.
 * (One gone at the restart refuses the image: test/runtime/state-refusals.test.ts.)
 */
#include "zdtm.h"
#include <sys/msg.h>
#include <sys/sem.h>

struct message { long type; char text[16]; };
static const struct message sent[] = { { 3, "third type" }, { 1, "first type" }, { 2, "second type" } };
static const unsigned short values[] = { 5, 0, 7 };

int main(void)
{
	int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600), s = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
	zdtm_check(q >= 0 && s >= 0, "msgget, semget: %s", strerror(errno));
	for (int i = 0; i < 3; i++)
		zdtm_check(msgsnd(q, &sent[i], sizeof sent[i].text, 0) == 0, "msgsnd: %s", strerror(errno));
	zdtm_check(semctl(s, 0, SETALL, values) == 0, "SETALL: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();

	struct message got;
	zdtm_check(msgrcv(q, &got, sizeof got.text, 2, IPC_NOWAIT) == sizeof got.text && got.type == 2 &&
		   !strcmp(got.text, "second type"), "the message of type 2 is not there");
	for (int i = 0; i < 2; i++)
		zdtm_check(msgrcv(q, &got, sizeof got.text, 0, IPC_NOWAIT) == sizeof got.text && got.type == sent[i].type &&
			   !strcmp(got.text, sent[i].text), "message %d: type %ld \"%.16s\"", i, got.type, got.text);
	zdtm_check(msgrcv(q, &got, sizeof got.text, 0, IPC_NOWAIT) < 0 && errno == ENOMSG, "the queue has more messages");
	unsigned short now[3];
	zdtm_check(semctl(s, 0, GETALL, now) == 0 && !memcmp(now, values, sizeof now), "the set's values changed");
	struct sembuf take = { 2, -7, IPC_NOWAIT };
	zdtm_check(semop(s, &take, 1) == 0 && semctl(s, 2, GETVAL) == 0, "semop on the set");
	zdtm_check(msgctl(q, IPC_RMID, NULL) == 0 && semctl(s, 0, IPC_RMID) == 0, "IPC_RMID: %s", strerror(errno));
	zdtm_pass();
}
