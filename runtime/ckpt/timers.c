/*
 * POSIX timers (timer_create). Saved: every timer of the program as /proc/self/timers lists it
 * (id, signal and sigev value, how it notifies, its clock) with timer_gettime's time left and
 * interval; the runtime's own CKPT_INTERVAL timer (rt_ckpt_timer) is left out. Restored, before
 * the teardown: each made again with the same id (PR_TIMER_CREATE_RESTORE_IDS, Linux 6.16; on an
 * older kernel the id the kernel gives must match, or the restart is refused), then armed with
 * the time it had left, relative, as CRIU does: an absolute timer's clock may have jumped.
 *
 * A timer that signals a thread is pointed at the restarted process's thread; a timer on the CPU
 * clock of this process or thread is kept on it (the clock is saved as "self"); one on another
 * process's CPU clock cannot be made again: refused, with a warning at the checkpoint.
 */
#include "ckpt/save.h"
#include "ckpt/restore.h"

#define RT_PR_TIMER_CREATE_RESTORE_IDS	77	/* linux/prctl.h of Linux 6.16; Debian 12's headers lack it */
#define RT_CPUCLOCK_PID(c)	(~((long)(c) >> 3))	/* kernel/time/posix-cpu-timers.c */
#define RT_CPUCLOCK_SELF(c)	((int)((~0UL << 3) | ((unsigned long)(c) & 7)))

/* The number after `key` on the line starting at s; 0 when absent. hex: base 16 */
static uint64_t rt_field(const char *s, const char *key, int hex)
{
	uint64_t v = 0;
	if (!rt_starts_with(s, key))
		return 0;
	for (s += rt_strlen(key); *s == ' '; s++)
		;
	int negative = *s == '-';
	for (s += negative;; s++) {
		unsigned d = (unsigned char)*s;
		if (d >= '0' && d <= '9')
			d -= '0';
		else if (hex && d >= 'a' && d <= 'f')
			d -= 'a' - 10;
		else
			break;
		v = v * (hex ? 16 : 10) + d;
	}
	return negative ? -v : v;
}

/* One timer's four lines ("ID:", "signal: N/PTR", "notify: KIND/pid.N", "ClockID:") into an entry */
static const char *rt_parse_timer(const char *s, unsigned char *e, uint32_t *other_clock)
{
	*(int32_t *)(e + CKPT_PT_ID) = (int32_t)rt_field(s, "ID:", 0);
	s = rt_next_line(s);
	*(uint32_t *)(e + CKPT_PT_SIGNO) = (uint32_t)rt_field(s, "signal:", 0);
	const char *slash = s;
	while (*slash && *slash != '/' && *slash != '\n')
		slash++;
	if (*slash == '/')
		*(uint64_t *)(e + CKPT_PT_VALUE) = rt_field(slash + 1, "", 1);
	s = rt_next_line(s);
	uint32_t notify = rt_starts_with(s, "notify: none") ? SIGEV_NONE : SIGEV_SIGNAL;
	for (const char *t = s; *t && *t != '\n'; t++)
		if (rt_starts_with(t, "/tid.")) {
			notify |= SIGEV_THREAD_ID;
			if ((long)rt_field(t, "/tid.", 0) != rt_syscall0(__NR_gettid))
				notify |= CKPT_PT_OTHER_THREAD;
		}
	*(uint32_t *)(e + CKPT_PT_NOTIFY) = notify;
	s = rt_next_line(s);
	int clock = (int)rt_field(s, "ClockID:", 0);
	if (clock < 0) {	/* a CPU clock: of this process or thread, or another's */
		long pid = RT_CPUCLOCK_PID(clock);
		if (pid == (long)rt_ids_real.pid || pid == (long)rt_ids_real.tid || pid == 0)
			clock = RT_CPUCLOCK_SELF(clock);
		else
			*other_clock = 1;
	}
	*(int32_t *)(e + CKPT_PT_CLOCK) = clock;
	return rt_next_line(s);
}

static void rt_warn_other_clock(const unsigned char *e)
{
	char id[24];
	rt_utoa((uint64_t)(uint32_t)*(const int32_t *)(e + CKPT_PT_ID), id);
	rt_warn("POSIX timer", id, "runs on another process's CPU clock: a restart will refuse this image (docs/limits.md)");
	rt_note_unrestorable();
}

/* A timer aimed at another thread (glibc's SIGEV_THREAD helper): its new tid is not known when
 * the timers are made again, before the threads are; aimed at the first thread instead, its signal
 * would kill the process */
static void rt_warn_other_thread(const unsigned char *e)
{
	char id[24];
	rt_utoa((uint64_t)(uint32_t)*(const int32_t *)(e + CKPT_PT_ID), id);
	rt_warn("POSIX timer", id, "signals another thread (SIGEV_THREAD or SIGEV_THREAD_ID): a restart will refuse this image (docs/limits.md)");
	rt_note_unrestorable();
}

int rt_save_posix_timers(struct rt_ckpt_work *w)
{
	long n = rt_read_file("/proc/self/timers", w->proc_text, RT_PROC_TEXT - 1);
	unsigned char *p = rt_record(w, CKPT_REC_POSIX_TIMERS, 0, 0);
	if (!p)
		return -1;
	w->proc_text[n > 0 ? n : 0] = 0;
	for (const char *s = w->proc_text; rt_starts_with(s, "ID:");) {
		unsigned char entry[CKPT_PT_SIZE] = { 0 };
		uint32_t other_clock = 0;
		s = rt_parse_timer(s, entry, &other_clock);
		int32_t id = *(int32_t *)(entry + CKPT_PT_ID);
		if (id == rt_ckpt_timer)
			continue;
		if (other_clock)
			rt_warn_other_clock(entry);
		if (*(uint32_t *)(entry + CKPT_PT_NOTIFY) & CKPT_PT_OTHER_THREAD)
			rt_warn_other_thread(entry);
		rt_syscall2(__NR_timer_gettime, id, (long)(entry + CKPT_PT_INTERVAL_SEC));
		unsigned char *e = rt_record_grow(w, p, CKPT_PT_SIZE);
		if (!e)
			return -1;
		rt_memcpy(e, entry, CKPT_PT_SIZE);
	}
	rt_seal(p);
	return 0;
}

_Noreturn static void rt_refuse_timer(const struct rt_image *im, const char *why, int32_t id)
{
	char num[24];
	rt_utoa((uint64_t)(uint32_t)id, num);
	rt_refuse_path(im, why, num);
}

/* The timer of entry e, made with its own id; 0, or -errno */
static long rt_make_timer(const struct rt_image *im, const unsigned char *e, int exact_ids)
{
	int32_t want = *(const int32_t *)(e + CKPT_PT_ID);
	int clock = *(const int32_t *)(e + CKPT_PT_CLOCK);
	uint32_t notify = u32at(e, CKPT_PT_NOTIFY);
	struct { uint64_t value; int signo, notify, tid; char pad[44]; } ev = {
		u64at(e, CKPT_PT_VALUE), (int)u32at(e, CKPT_PT_SIGNO), (int)notify, (int)rt_ids_real.tid, { 0 } };
	int id = want;
	if (clock < 0 && RT_CPUCLOCK_PID(clock) != 0)
		rt_refuse_timer(im, "a POSIX timer runs on another process's CPU clock: timer ", want);
	if (notify & CKPT_PT_OTHER_THREAD)
		rt_refuse_timer(im, "a POSIX timer signals another thread (SIGEV_THREAD): timer ", want);
	long r = rt_syscall3(__NR_timer_create, clock, (long)&ev, (long)&id);
	if (r < 0)
		return r;
	if (!exact_ids && id != want) {
		rt_syscall1(__NR_timer_delete, id);
		rt_refuse_timer(im, "this kernel cannot give a POSIX timer its id again (Linux 6.16 can): timer ", want);
	}
	if (u64at(e, CKPT_PT_LEFT_SEC) || u64at(e, CKPT_PT_LEFT_NSEC))
		r = rt_syscall4(__NR_timer_settime, id, 0, (long)(e + CKPT_PT_INTERVAL_SEC), 0);
	return r;
}

struct rt_timer_restore { const struct rt_image *im; int exact_ids; };

static void rt_restore_timer_record(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_timer_restore *t = arg;
	uint32_t size = u32at(h, CKPT_RH_PAYLOAD_SIZE);
	if (size % CKPT_PT_SIZE)
		rt_refuse(t->im, "a POSIX timer record is inconsistent");
	for (uint32_t at = 0; at < size; at += CKPT_PT_SIZE)
		if (rt_make_timer(t->im, p + at, t->exact_ids) < 0)
			rt_refuse_timer(t->im, "a POSIX timer cannot be made again: timer ", *(const int32_t *)(p + at + CKPT_PT_ID));
}

/* Before the runtime's own CKPT_INTERVAL timer is made: the program's ids are free then */
void rt_restore_posix_timers(const struct rt_image *im)
{
	struct rt_timer_restore t = { im, 0 };
	t.exact_ids = rt_syscall5(__NR_prctl, RT_PR_TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0) == 0;
	rt_each(im, CKPT_REC_POSIX_TIMERS, rt_restore_timer_record, &t);
	if (t.exact_ids)
		rt_syscall5(__NR_prctl, RT_PR_TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0);
}
