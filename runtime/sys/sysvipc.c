/*
 * System V message queues and semaphore sets the program uses. The kernel lists every queue and
 * set of the machine, not which ones a process uses, and both outlive the process; so the runtime
 * notes every id the program gets (msgget, semget) or passes to a call, and whether it changed a
 * set with SEM_UNDO (adjustments the kernel undoes when the process ends, which no restart can give
 * back). A checkpoint records those still there (ckpt/sysvipc.c). An id is forgotten when the
 * program removes it (IPC_RMID). Not thread-safe: two threads noting ids at the same instant may
 * lose one, which a checkpoint then does not record.
 */
#include <linux/ipc.h>
#include <linux/sem.h>
#include "sys/sys.h"

#define RT_SYSV_IDS	256

static struct rt_sysv_use rt_sysv_uses[RT_SYSV_IDS];
static int rt_nsysv;

static struct rt_sysv_use *rt_sysv_find(uint32_t kind, long id)
{
	for (int i = 0; i < rt_nsysv; i++)
		if (rt_sysv_uses[i].kind == kind && rt_sysv_uses[i].id == (int32_t)id)
			return &rt_sysv_uses[i];
	return 0;
}

/* An id of a kind in use; a full table keeps what it has (a checkpoint then misses the id) */
static struct rt_sysv_use *rt_sysv_note(uint32_t kind, long id)
{
	struct rt_sysv_use *u = rt_sysv_find(kind, id);
	if (u || id < 0)
		return u;
	u = rt_sysv_find(0, -1);	/* a forgotten entry */
	if (!u && rt_nsysv < RT_SYSV_IDS)
		u = &rt_sysv_uses[rt_nsysv++];
	if (u)
		*u = (struct rt_sysv_use){ kind, (int32_t)id, 0 };
	return u;
}

static uint32_t rt_sysv_kind(long nr)
{
	switch (nr) {
	case __NR_msgget: case __NR_msgsnd: case __NR_msgrcv: case __NR_msgctl:
		return RT_SYSV_MSG;
	case __NR_semget: case __NR_semop: case __NR_semtimedop: case __NR_semctl:
		return RT_SYSV_SEM;
	default:
		return 0;
	}
}

/* Whether a successful semop's operations asked for SEM_UNDO (their memory was valid: the kernel read it) */
static int rt_asks_undo(const struct sembuf *ops, unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		if (ops[i].sem_flg & SEM_UNDO)
			return 1;
	return 0;
}

/* Before the call: the id it names. A call a checkpoint interrupts may not come back here. */
void rt_sysv_before(const struct rt_ctx *c, long nr)
{
	uint32_t kind = rt_sysv_kind(nr);
	if (kind && nr != __NR_msgget && nr != __NR_semget)
		rt_sysv_note(kind, (long)(int32_t)c->rdi);
}

/* After it: the id a get returned, a removal, SEM_UNDO */
void rt_sysv_after(const struct rt_ctx *c, long nr, long r)
{
	uint32_t kind = rt_sysv_kind(nr);
	struct rt_sysv_use *u;
	if (!kind || r < 0)
		return;
	if (nr == __NR_msgget || nr == __NR_semget)
		rt_sysv_note(kind, r);
	else if ((nr == __NR_msgctl && (c->rsi & 0xff) == IPC_RMID) || (nr == __NR_semctl && (c->rdx & 0xff) == IPC_RMID)) {
		if ((u = rt_sysv_find(kind, (long)(int32_t)c->rdi)))
			*u = (struct rt_sysv_use){ 0, -1, 0 };
	} else if ((nr == __NR_semop || nr == __NR_semtimedop) && rt_asks_undo((const struct sembuf *)c->rsi, c->rdx)) {
		if ((u = rt_sysv_find(kind, (long)(int32_t)c->rdi)))
			u->undo = 1;
	}
}

/* The ids noted, for a checkpoint: entry i, or 0 past the last */
const struct rt_sysv_use *rt_sysv_use(int i)
{
	return i < rt_nsysv ? &rt_sysv_uses[i] : 0;
}
