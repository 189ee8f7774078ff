/*
 * System V message queues and semaphore sets the program used (sys/sysvipc.c notes their ids).
 * Both outlive the process in the kernel, as files do, and the program holds their ids, which an
 * unprivileged restart cannot give a new queue or set: so, as for a System V shared memory segment
 * not removed (shm.c), the image records each one still there at the checkpoint (its id, key,
 * size and last change), and a restart uses it where it still is:
 *   there with its key (and for a set, its size)    restored: the program goes on with it; one
 *                                                    changed since the checkpoint is warned about,
 *                                                    or refused under CKPT_FILES_CHANGED=refuse;
 *   gone, or another one under the id now            refused, naming the id (a restart on another
 *                                                    machine: its messages or values are not there);
 *   a set the program changed with SEM_UNDO          refused: the kernel undid the adjustments when
 *                                                    the process ended (warned at the checkpoint).
 */
#include <linux/ipc.h>
#include <linux/msg.h>
#include <linux/sem.h>
#include "ckpt/save.h"
#include "ckpt/restore.h"

_Static_assert(RT_SYSV_MSG == CKPT_SYSV_MSG && RT_SYSV_SEM == CKPT_SYSV_SEM, "System V kinds");

struct rt_sysv_state { uint32_t key; uint64_t count, changed; };

static uint64_t rt_latest(int64_t a, int64_t b, int64_t c)
{
	int64_t m = a > b ? a : b;
	return (uint64_t)(m > c ? m : c);
}

/* The queue or set under id as the kernel has it now; -1 when there is none */
static int rt_sysv_stat(uint32_t kind, long id, struct rt_sysv_state *s)
{
	if (kind == CKPT_SYSV_MSG) {
		struct msqid64_ds q;
		if (rt_syscall3(__NR_msgctl, id, IPC_STAT, (long)&q) < 0)
			return -1;
		*s = (struct rt_sysv_state){ (uint32_t)q.msg_perm.key, q.msg_qnum, rt_latest(q.msg_stime, q.msg_rtime, q.msg_ctime) };
		return 0;
	}
	struct semid64_ds set;
	if (rt_syscall4(__NR_semctl, id, 0, IPC_STAT, (long)&set) < 0)
		return -1;
	*s = (struct rt_sysv_state){ (uint32_t)set.sem_perm.key, set.sem_nsems, rt_latest(set.sem_otime, set.sem_ctime, 0) };
	return 0;
}

static const char *rt_sysv_name(uint32_t kind)
{
	return kind == CKPT_SYSV_MSG ? "System V message queue" : "System V semaphore set";
}

static void rt_warn_undo(long id)
{
	char num[24];
	rt_utoa((uint64_t)id, num);
	rt_warn("System V semaphore set", num, "was changed with SEM_UNDO, whose adjustments the kernel undoes when the "
		"process ends: a restart will refuse this image (docs/limits.md)");
	rt_note_unrestorable();
}

int rt_save_sysv_ipc(struct rt_ckpt_work *w)
{
	unsigned char *p = rt_record(w, CKPT_REC_SYSV_IPC, 0, 0);
	if (!p)
		return -1;
	const struct rt_sysv_use *u;
	for (int i = 0; (u = rt_sysv_use(i)); i++) {
		struct rt_sysv_state s;
		if (!u->kind || rt_sysv_stat(u->kind, u->id, &s) < 0)
			continue;	/* removed by another process meanwhile: nothing to keep */
		if (u->undo)
			rt_warn_undo(u->id);
		unsigned char *e = rt_record_grow(w, p, CKPT_SI_SIZE);
		if (!e)
			return -1;
		*(uint32_t *)(e + CKPT_SI_KIND) = u->kind;
		*(uint32_t *)(e + CKPT_SI_ID) = (uint32_t)u->id;
		*(uint32_t *)(e + CKPT_SI_KEY) = s.key;
		*(uint32_t *)(e + CKPT_SI_FLAGS) = u->undo ? CKPT_SYSV_UNDO : 0;
		*(uint64_t *)(e + CKPT_SI_COUNT) = s.count;
		*(uint64_t *)(e + CKPT_SI_CHANGED) = s.changed;
	}
	rt_seal(p);
	return 0;
}

/* ---- the restart's side ---- */

static const char *rt_sysv_refusal(uint32_t kind, int undo)
{
	if (undo)
		return "a System V semaphore set was changed with SEM_UNDO, whose adjustments the kernel undid when the process ended: id ";
	return kind == CKPT_SYSV_MSG ? "a System V message queue the program used is gone, or another one has its id now: id "
				     : "a System V semaphore set the program used is gone, or another one has its id now: id ";
}

static void rt_check_sysv_entry(const struct rt_image *im, const unsigned char *e)
{
	uint32_t kind = u32at(e, CKPT_SI_KIND), id = u32at(e, CKPT_SI_ID);
	struct rt_sysv_state now;
	char num[24];
	rt_utoa(id, num);
	if (kind != CKPT_SYSV_MSG && kind != CKPT_SYSV_SEM)
		rt_refuse(im, "a System V object of an unknown kind in the image");
	if (u32at(e, CKPT_SI_FLAGS) & CKPT_SYSV_UNDO)
		rt_refuse_path(im, rt_sysv_refusal(kind, 1), num);
	if (rt_sysv_stat(kind, id, &now) < 0 || now.key != u32at(e, CKPT_SI_KEY) ||
	    (kind == CKPT_SYSV_SEM && now.count != u64at(e, CKPT_SI_COUNT)))
		rt_refuse_path(im, rt_sysv_refusal(kind, 0), num);
	if (now.count == u64at(e, CKPT_SI_COUNT) && now.changed == u64at(e, CKPT_SI_CHANGED))
		return;
	if (!im->warn_only)
		rt_refuse_path(im, kind == CKPT_SYSV_MSG ? "a System V message queue changed since the checkpoint (CKPT_FILES_CHANGED=refuse): id "
							 : "a System V semaphore set changed since the checkpoint (CKPT_FILES_CHANGED=refuse): id ", num);
	rt_warn(rt_sysv_name(kind), num, "changed since the checkpoint");
}

static void rt_check_sysv_record(void *arg, const unsigned char *h, const unsigned char *p)
{
	const struct rt_image *im = arg;
	uint32_t size = u32at(h, CKPT_RH_PAYLOAD_SIZE);
	if (size % CKPT_SI_SIZE)
		rt_refuse(im, "a System V object record is not a whole number of entries");
	for (uint32_t at = 0; at < size; at += CKPT_SI_SIZE)
		rt_check_sysv_entry(im, p + at);
}

/* During the checks: each queue and set is where the program left it, or the image is refused */
void rt_check_sysv_ipc(const struct rt_image *im)
{
	rt_each(im, CKPT_REC_SYSV_IPC, rt_check_sysv_record, (void *)im);
}
