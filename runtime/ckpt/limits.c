/*
 * Resource limits and interval timers. A restart sets the limits last of all, so that a lower
 * RLIMIT_NOFILE cannot stop the restorer's plan opening files, and arms again only the timers
 * that were armed.
 */
#include "ckpt/save.h"
#include "ckpt/restore.h"

int rt_save_rlimits(struct rt_ckpt_work *w)
{
	unsigned char *p = rt_record(w, CKPT_REC_RLIMITS, 0, CKPT_RLIMITS_COUNT * 16);
	if (!p)
		return -1;
	for (int r = 0; r < CKPT_RLIMITS_COUNT; r++)
		if (rt_syscall4(__NR_prlimit64, 0, r, 0, (long)(p + r * 16)) < 0)
			*(uint64_t *)(p + r * 16) = *(uint64_t *)(p + r * 16 + 8) = ~0ULL;
	rt_seal(p);
	return 0;
}

int rt_save_itimers(struct rt_ckpt_work *w)
{
	unsigned char *p = rt_record(w, CKPT_REC_ITIMERS, 0, 3 * CKPT_ITIMER_SIZE);
	if (!p)
		return -1;
	for (int which = 0; which < 3; which++)
		rt_syscall2(__NR_getitimer, which, (long)(p + which * CKPT_ITIMER_SIZE));
	rt_seal(p);
	return 0;
}

/* A limit above this process's hard limit cannot be had without privilege: keep the hard one */
void rt_restore_rlimits(const struct rt_image *im)
{
	for (int r = 0; im->rlimits && r < CKPT_RLIMITS_COUNT; r++) {
		uint64_t want[2] = { u64at(im->rlimits, r * 16), u64at(im->rlimits, r * 16 + 8) }, now[2];
		if (rt_syscall4(__NR_prlimit64, 0, r, (long)want, 0) == 0 ||
		    rt_syscall4(__NR_prlimit64, 0, r, 0, (long)now) < 0)
			continue;
		want[1] = now[1];
		if (want[0] > want[1])
			want[0] = want[1];
		rt_syscall4(__NR_prlimit64, 0, r, (long)want, 0);
	}
}

void rt_restore_itimers(const struct rt_image *im)
{
	for (int which = 0; im->itimers && which < 3; which++) {
		const unsigned char *t = im->itimers + which * CKPT_ITIMER_SIZE;
		if (u64at(t, 16) || u64at(t, 24))	/* armed: a value remains */
			rt_syscall3(__NR_setitimer, which, (long)t, 0);
	}
}
