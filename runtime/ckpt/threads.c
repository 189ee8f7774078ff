/*
 * Threads. Saved: the thread that took the checkpoint signal (the leader) stops every other thread
 * of the process before anything is recorded, records each one's own state (a CKPT_REC_THREAD
 * record: its registers and xsave area from the frame of the signal that stopped it, fs base,
 * alternate stack, clear_child_tid, robust list, rseq, the tid the program knows), and lets them
 * all go on once the writer is forked: memory is the writer's copy-on-write snapshot from then on.
 * Restored: every thread but the leader is made again by the restorer (pie/restorer.S), each from
 * its own rt_sigreturn frame, and all are released at once.
 *
 * The stop: the leader sends RT_STOP_SIGNAL (reserved by the runtime) to every thread that
 * /proc/self/task lists, each thread's handler notes where its frame is and what only it can read
 * of itself, says it arrived (a futex word) and waits on another futex word for the release. The
 * leader lists the threads again until a listing shows none it has not stopped, so a thread created
 * meanwhile is stopped too (its creator, being stopped, makes no more). A thread that exits meanwhile
 * (gone from the list, or a zombie) is dropped, never waited for: a thread is in the image whole or
 * not at all. The handler blocks every signal, so no handler of the program runs while its threads
 * are stopped.
 *
 * Signals pending on one stopped thread alone (tgkill'd to it while its mask blocks them) are its
 * own to take: each takes them off its queue in its handler, notes them with its slot and queues
 * them again at once, so a process that goes on loses none; the notes are in the image's memory,
 * and in a restarted process each thread queues its own again before any thread runs the program
 * (rt_restart_own_signals). The leader saves the process's and its own (signals.c).
 */
#include "ckpt/save.h"
#include "ckpt/restore.h"

#define RT_STOP_COOKIE	0x636b70747374ULL	/* si_value of the runtime's own stop signals: "ckptst" */
#define RT_STOP_POLL_NS	(20 * 1000 * 1000)	/* how often the leader looks for threads that exited */
#define RT_THREAD_QUEUED	128	/* signals pending on threads but the leader, in one image */

/* One thread being stopped. arrived: 0 signalled, 1 stopped, -1 gone (exited meanwhile) */
struct rt_stopped {
	int64_t tid;
	volatile int arrived;
	uint32_t slot;
	const void *uc;
	uint64_t fs_base, clear_tid, robust_head, robust_len;
};

/* Shared by the leader and the threads it stops; leader is poked to 0 in a restarted process */
static struct {
	volatile int64_t leader;	/* the leader's tid while a stop is under way, else 0 */
	volatile int arrived;		/* futex: threads stopped so far */
	volatile int release;		/* futex: bumped when the stopped threads may go on */
	int count;
	volatile int vacate;		/* a vacate signal came during this checkpoint */
	volatile int taken;		/* the snapshot is taken: a checkpoint signal now asks for another */
	volatile int again;		/* one did */
	struct rt_stopped t[RT_MAX_THREADS];
} rt_stop;

/* The signals pending on stopped threads (this image's: reset at each stop) */
static struct {
	volatile int count;		/* entries claimed, possibly more than there are */
	struct { uint32_t slot, taken; unsigned char info[CKPT_SIGINFO_SIZE]; } s[RT_THREAD_QUEUED];
} rt_thread_signals;

static long rt_futex(volatile int *word, int op, int val, const void *timeout)
{
	return rt_syscall6(__NR_futex, (long)word, op, val, (long)timeout, 0, 0);
}

static uint32_t rt_slot_index(const struct rt_thread *t)
{
	return (uint32_t)(t - rt_thread_table);
}

/* 1: this thread leads the checkpoint; 0: one is under way already (this thread's own, or
 * another's), and the signal that asked is that checkpoint's */
int rt_stop_lead(void)
{
	int64_t none = 0;
	return __atomic_compare_exchange_n(&rt_stop.leader, &none, rt_syscall0(__NR_gettid), 0,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/*
 * The checkpoint is over: the next may start. Returns whether a vacate signal came meanwhile; *again
 * says whether a checkpoint signal came after the snapshot was taken (the state it asks for is
 * newer than the image's: the leader takes another)
 */
int rt_stop_end(int *again)
{
	int vacate = rt_stop.vacate;
	*again = __atomic_exchange_n(&rt_stop.again, 0, __ATOMIC_ACQ_REL);
	rt_stop.vacate = 0;
	rt_stop.taken = 0;
	__atomic_store_n(&rt_stop.leader, 0, __ATOMIC_RELEASE);
	return vacate;
}

void rt_stop_note_vacate(void)
{
	rt_stop.vacate = 1;
}

/* A checkpoint signal while another thread leads: that checkpoint's, unless its snapshot is taken */
void rt_stop_note_request(void)
{
	if (__atomic_load_n(&rt_stop.taken, __ATOMIC_ACQUIRE))
		__atomic_store_n(&rt_stop.again, 1, __ATOMIC_RELEASE);
}

/* The address the restorer pokes to 0: the image is made with a stop under way */
const volatile void *rt_stop_leader_word(void)
{
	return &rt_stop.leader;
}

static int rt_stop_sent_to(long tid)
{
	for (int i = 0; i < rt_stop.count; i++)
		if (rt_stop.t[i].tid == tid)
			return 1;
	return 0;
}

static void rt_send_stop(long tid)
{
	unsigned char info[CKPT_SIGINFO_SIZE] = { 0 };
	*(int *)(info + 0) = RT_STOP_SIGNAL;
	*(int *)(info + RT_SI_CODE) = SI_QUEUE;
	*(int *)(info + RT_SI_PID) = (int)rt_ids_real.pid;
	*(uint64_t *)(info + RT_SI_VALUE) = RT_STOP_COOKIE;
	struct rt_stopped *s = &rt_stop.t[rt_stop.count++];
	*s = (struct rt_stopped){ .tid = tid };
	if (rt_syscall4(__NR_rt_tgsigqueueinfo, (long)rt_ids_real.pid, tid, RT_STOP_SIGNAL, (long)info) < 0)
		s->arrived = -1;
}

struct rt_listing { long self; int added, full; };

static int rt_stop_listed(void *arg, long tid)
{
	struct rt_listing *l = arg;
	if (tid == l->self || rt_stop_sent_to(tid))
		return 0;
	if (rt_stop.count == RT_MAX_THREADS - 1) {
		l->full = 1;
		return -1;
	}
	rt_send_stop(tid);
	l->added++;
	return 0;
}

/* Whether the thread has exited: gone from /proc/self/task, or a zombie (an exited first thread) */
static int rt_thread_gone(long tid)
{
	char path[64] = "/proc/self/task/", buf[256];
	rt_put(rt_utoa((uint64_t)tid, path + rt_strlen(path)), "/stat");
	long n = rt_read_file(path, buf, sizeof buf - 1);
	if (n <= 0)
		return 1;
	buf[n] = 0;
	const char *close = 0;
	for (const char *c = buf; *c; c++)
		if (*c == ')')
			close = c;	/* the name may hold ')': the state follows the last one */
	return !close || close[1] != ' ' || close[2] == 'Z' || close[2] == 'X';
}

static int rt_stop_waiting(void)
{
	int waiting = 0;
	for (int i = 0; i < rt_stop.count; i++)
		waiting += rt_stop.t[i].arrived == 0;
	return waiting;
}

/* Until every thread signalled has arrived or is gone */
static void rt_stop_wait(void)
{
	struct { int64_t sec, nsec; } poll = { 0, RT_STOP_POLL_NS };
	for (;;) {
		int seen = rt_stop.arrived;
		if (!rt_stop_waiting())
			return;
		if (rt_futex(&rt_stop.arrived, FUTEX_WAIT_PRIVATE, seen, &poll) != -ETIMEDOUT)
			continue;
		for (int i = 0; i < rt_stop.count; i++)
			if (rt_stop.t[i].arrived == 0 && rt_thread_gone(rt_stop.t[i].tid))
				rt_stop.t[i].arrived = -1;
	}
}

/*
 * Every other thread stopped in its handler: 0, or -E2BIG when there are more than an image holds,
 * or -EIO when /proc/self/task cannot be read (then which threads there are is not known)
 */
long rt_stop_threads(struct rt_ckpt_work *w)
{
	struct rt_listing l = { rt_syscall0(__NR_gettid), 1, 0 };
	rt_stop.count = 0;
	rt_stop.arrived = 0;
	rt_thread_signals.count = 0;
	while (l.added) {
		l.added = 0;
		int r = rt_each_task(w->fdbuf, sizeof w->fdbuf, rt_stop_listed, &l);
		rt_stop_wait();
		if (l.full) {
			rt_write_all(2, RT_LITERAL("ckpt: checkpoint refused: the process has more threads than an image holds "
						   "(docs/limits.md)\n"));
			return -E2BIG;
		}
		if (r < 0)
			return -EIO;
	}
	if (rt_thread_signals.count > RT_THREAD_QUEUED) {
		rt_write_all(2, RT_LITERAL("ckpt: checkpoint refused: more signals are pending on single threads than an image "
					   "holds (docs/limits.md)\n"));
		return -E2BIG;
	}
	return 0;
}

void rt_resume_threads(void)
{
	__atomic_store_n(&rt_stop.taken, 1, __ATOMIC_RELEASE);	/* the writer has forked (or failed) */
	__atomic_add_fetch(&rt_stop.release, 1, __ATOMIC_RELEASE);
	rt_futex(&rt_stop.release, FUTEX_WAKE_PRIVATE, 0x7fffffff, 0);
}

static struct rt_stopped *rt_stopped_self(long tid)
{
	for (int i = 0; i < rt_stop.count; i++)
		if (rt_stop.t[i].tid == tid)
			return &rt_stop.t[i];
	return 0;
}

/* What only the thread itself can read of itself */
static void rt_note_own_state(struct rt_stopped *s)
{
	uint64_t head = 0, len = 0;
	rt_syscall2(__NR_arch_prctl, ARCH_GET_FS, (long)&s->fs_base);
	s->clear_tid = 0;
	rt_syscall2(__NR_prctl, PR_GET_TID_ADDRESS, (long)&s->clear_tid);
	if (rt_syscall3(__NR_get_robust_list, 0, (long)&head, (long)&len) == 0) {
		s->robust_head = head;
		s->robust_len = len;
	}
}

/*
 * The signals pending on the calling thread alone (/proc/thread-self/status's SigPnd; ShdPnd are
 * the process's). Read in small overlapping pieces: a stopped thread's stack may be small.
 */
static uint64_t rt_own_pending(void)
{
	static const char key[] = "\nSigPnd:\t";
	char buf[257];
	uint64_t mask = 0;
	long fd = rt_syscall3(__NR_open, (long)"/proc/thread-self/status", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	for (long at = 0;; at += 192) {
		long n = rt_syscall4(__NR_pread64, fd, (long)buf, sizeof buf - 1, at);
		if (n <= 0)
			break;
		buf[n] = 0;
		const char *hit = buf;
		while (*hit && !rt_starts_with(hit, key))
			hit++;
		if (*hit && hit + sizeof key - 1 + 16 <= buf + n) {
			for (const char *h = hit + sizeof key - 1; h < hit + sizeof key - 1 + 16; h++)
				mask = mask << 4 | (uint64_t)(*h <= '9' ? *h - '0' : *h - 'a' + 10);
			break;
		}
	}
	rt_syscall1(__NR_close, fd);
	return mask & ~rt_reserved_mask;
}

/* One signal pending on this thread alone, taken into the next entry (which another thread may not
 * claim); 0 when there was none to take or no room */
static int rt_take_own_signal(uint32_t slot, int sig)
{
	struct { int64_t sec, nsec; } now = { 0, 0 };
	uint64_t set = RT_SIGBIT(sig);
	int i = __atomic_fetch_add(&rt_thread_signals.count, 1, __ATOMIC_ACQ_REL);
	if (i >= RT_THREAD_QUEUED)
		return 0;	/* counted: the leader refuses the checkpoint */
	rt_thread_signals.s[i].slot = slot;
	rt_thread_signals.s[i].taken = rt_syscall4(__NR_rt_sigtimedwait, (long)&set, (long)rt_thread_signals.s[i].info,
						   (long)&now, RT_SIGSET_SIZE) == sig;
	return (int)rt_thread_signals.s[i].taken;
}

/* This thread's own pending signals: noted for the image, and queued again to it in their order */
static void rt_note_own_signals(uint32_t slot)
{
	long self = rt_syscall0(__NR_gettid);
	int first = rt_thread_signals.count;
	for (uint64_t mine = rt_own_pending(); mine; mine = rt_own_pending()) {
		int sig = __builtin_ctzll(mine) + 1;
		if (!rt_take_own_signal(slot, sig))
			break;
	}
	for (int i = first; i < rt_thread_signals.count && i < RT_THREAD_QUEUED; i++)
		if (rt_thread_signals.s[i].slot == slot && rt_thread_signals.s[i].taken)
			rt_syscall4(__NR_rt_tgsigqueueinfo, (long)rt_ids_real.pid, self, *(const int *)rt_thread_signals.s[i].info,
				    (long)rt_thread_signals.s[i].info);
}

static int rt_is_stop_signal(const void *si)
{
	return *(const int *)((const char *)si + RT_SI_CODE) == SI_QUEUE &&
	       *(const int *)((const char *)si + RT_SI_PID) == (int)rt_ids_real.pid &&
	       *(const uint64_t *)((const char *)si + RT_SI_VALUE) == RT_STOP_COOKIE;
}

/* RT_STOP_SIGNAL in a thread the leader stops: note, arrive, wait for the release */
static void rt_on_stop_signal(int sig, void *si, void *uc)
{
	if (!rt_is_stop_signal(si)) {
		rt_chain(sig, si, uc);	/* the program's own use of the number */
		return;
	}
	long tid = rt_syscall0(__NR_gettid);
	struct rt_stopped *s = rt_stop.leader ? rt_stopped_self(tid) : 0;
	if (!s)
		return;		/* a stop that ended before this thread took its signal */
	int release = rt_stop.release;
	rt_rewind_interrupted_call(uc);
	s->uc = uc;
	s->slot = rt_slot_index(rt_thread_self());
	rt_note_own_state(s);
	rt_note_own_signals(s->slot);
	__atomic_store_n(&s->arrived, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&rt_stop.arrived, 1, __ATOMIC_RELEASE);
	rt_futex(&rt_stop.arrived, FUTEX_WAKE_PRIVATE, 1, 0);
	while (__atomic_load_n(&rt_stop.release, __ATOMIC_ACQUIRE) == release)
		rt_futex(&rt_stop.release, FUTEX_WAIT_PRIVATE, release, 0);
}

void rt_threads_init(void)
{
	rt_reserve_signal_masked(RT_STOP_SIGNAL, rt_on_stop_signal, SA_RESTART, ~0ULL);
}

static void rt_put_thread(unsigned char *p, uint32_t tid, uint32_t flags, uint32_t slot, const struct rt_stopped *s)
{
	const struct rt_thread *t = &rt_thread_table[slot];
	*(uint32_t *)(p + CKPT_RT_TID) = tid;
	*(uint32_t *)(p + CKPT_RT_FLAGS) = flags;
	*(uint64_t *)(p + CKPT_RT_FS_BASE) = s->fs_base;
	*(uint64_t *)(p + CKPT_RT_CLEAR_TID) = s->clear_tid;
	*(uint64_t *)(p + CKPT_RT_ROBUST_HEAD) = s->robust_head;
	*(uint64_t *)(p + CKPT_RT_ROBUST_LEN) = s->robust_len;
	*(uint64_t *)(p + CKPT_RT_RSEQ_ADDR) = t->rseq.addr;
	*(uint32_t *)(p + CKPT_RT_RSEQ_LEN) = t->rseq.len;
	*(uint32_t *)(p + CKPT_RT_RSEQ_SIG) = t->rseq.sig;
	*(uint32_t *)(p + CKPT_RT_SLOT) = slot;
}

/* uc_stack of the frame: the alternate stack as it was when the signal came */
static void rt_put_altstack(unsigned char *p, const unsigned char *uc)
{
	*(uint64_t *)(p + CKPT_RT_ALTSTACK_SP) = *(const uint64_t *)(uc + 16);
	*(uint32_t *)(p + CKPT_RT_ALTSTACK_FLAGS) = *(const uint32_t *)(uc + 24);
	*(uint64_t *)(p + CKPT_RT_ALTSTACK_SIZE) = *(const uint64_t *)(uc + 32);
}

/*
 * GREGS (a frame's, or a record's: the same order) are those of a thread blocked in FUTEX_LOCK_PI
 * (or the other PI waits) at the fast path's syscall, which the kernel rewound to be made again
 * after the signal. SHIM is the fast path's return from its syscall in that address space. The
 * mutex's owner is named in its word by a tid that a restart changes, and a thread of the image
 * keeps writing its old one: the kernel could not find the owner and the waiter would wait for
 * ever (docs/limits.md), so a checkpoint warns and a restart refuses.
 */
static int rt_waits_on_pi_mutex(const uint64_t *gregs, uint64_t shim)
{
	int op = (int)gregs[RT_REG_RSI] & FUTEX_CMD_MASK;
	return gregs[RT_REG_RIP] == shim - 2 && gregs[RT_REG_RAX] == __NR_futex &&
	       (op == FUTEX_LOCK_PI || op == FUTEX_LOCK_PI2 || op == FUTEX_TRYLOCK_PI || op == FUTEX_WAIT_REQUEUE_PI);
}

static void rt_warn_pi_waiter(const void *uc, uint32_t vtid)
{
	char tid[24];
	if (!rt_waits_on_pi_mutex((const uint64_t *)((const char *)uc + RT_UC_GREGS), (uint64_t)rt_shim_after_syscall))
		return;
	rt_utoa(vtid, tid);
	rt_warn("thread", tid, "waits for a priority-inheritance mutex (FUTEX_LOCK_PI): a restart will refuse this image "
		"(docs/limits.md)");
	rt_note_unrestorable();
}

static int rt_save_stopped(struct rt_ckpt_work *w, const struct rt_stopped *s)
{
	unsigned char *p = rt_record(w, CKPT_REC_THREAD, 0, CKPT_RT_SIZE + rt_regs_size(s->uc));
	if (!p)
		return -1;
	rt_put_thread(p, (uint32_t)rt_thread_table[s->slot].vtid, 0, s->slot, s);
	rt_warn_pi_waiter(s->uc, (uint32_t)rt_thread_table[s->slot].vtid);
	rt_put_altstack(p, s->uc);
	rt_put_regs(p + CKPT_RT_REGS, s->uc);
	rt_seal(p);
	return 0;
}

static int rt_save_leader(struct rt_ckpt_work *w)
{
	struct rt_stopped own = { 0 };
	unsigned char *p = rt_record(w, CKPT_REC_THREAD, 0, CKPT_RT_SIZE);
	if (!p)
		return -1;
	rt_note_own_state(&own);
	rt_put_thread(p, (uint32_t)w->self->vtid, CKPT_THREAD_LEADER, rt_slot_index(w->self), &own);
	rt_warn_pi_waiter(w->uc, (uint32_t)w->self->vtid);
	rt_put_altstack(p, w->uc);
	rt_seal(p);
	return 0;
}

/* Slots of threads that are not in the image (exited without the dispatcher, vfork children) */
static void rt_forget_other_slots(const struct rt_ckpt_work *w)
{
	for (unsigned i = 0; i < RT_THREAD_SLOTS; i++) {
		struct rt_thread *t = &rt_thread_table[i];
		if (t->tid <= 0 || t == w->self)
			continue;
		struct rt_stopped *s = rt_stopped_self(t->tid);
		if (!s || s->arrived != 1)
			rt_thread_release(t);
	}
}

int rt_save_threads(struct rt_ckpt_work *w)
{
	rt_forget_other_slots(w);
	rt_thread_saved_count = 0;
	rt_thread_saved[rt_thread_saved_count++] = rt_slot_index(w->self);
	if (rt_save_leader(w))
		return -1;
	for (int i = 0; i < rt_stop.count; i++) {
		if (rt_stop.t[i].arrived != 1)
			continue;
		rt_thread_saved[rt_thread_saved_count++] = rt_stop.t[i].slot;
		if (rt_save_stopped(w, &rt_stop.t[i]))
			return -1;
	}
	return 0;
}

/* ---- restart: the plan for the restorer (pie/restorer.S makes the threads) */

struct rt_thread_plan {
	const struct rt_image *im;
	unsigned char *area, *frame;	/* the thread area; where the next frame is built */
	uint64_t count;
	int placed;			/* every frame goes onto its thread's stack */
};

/* A thread of the image blocked in a PI futex wait (see rt_waits_on_pi_mutex): refused */
static void rt_refuse_pi_waiter(const struct rt_image *im, const unsigned char *regs, uint32_t vtid)
{
	char tid[24];
	if (!rt_waits_on_pi_mutex((const uint64_t *)(regs + CKPT_RR_GREGS), rt_in_image(im, rt_shim_after_syscall)))
		return;
	rt_utoa(vtid, tid);
	rt_refuse_path(im, "a thread waits for a priority-inheritance mutex (FUTEX_LOCK_PI), whose owner a restart cannot "
		       "name again: thread ", tid);
}

static void rt_check_thread(void *arg, const unsigned char *h, const unsigned char *p)
{
	(void)h;
	if (!(u32at(p, CKPT_RT_FLAGS) & CKPT_THREAD_LEADER))
		rt_refuse_pi_waiter(arg, p + CKPT_RT_REGS, u32at(p, CKPT_RT_TID));
}

/* Before anything is torn down: no thread of the image is in a wait a restart cannot make again */
void rt_check_threads(const struct rt_image *im)
{
	rt_refuse_pi_waiter(im, im->regs, u32at(im->process, CKPT_RP_TID));
	rt_each(im, CKPT_REC_THREAD, rt_check_thread, (void *)im);
}

static void rt_plan_thread(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_thread_plan *tp = arg;
	(void)h;
	if (u32at(p, CKPT_RT_FLAGS) & CKPT_THREAD_LEADER)
		return;
	unsigned char *e = tp->area + RT_TA_ENTRIES + tp->count++ * RT_TH_SIZE;
	struct rt_frame_state s = { p + CKPT_RT_REGS, u64at(p, CKPT_RT_ALTSTACK_SP), u64at(p, CKPT_RT_ALTSTACK_SIZE),
				    u32at(p, CKPT_RT_ALTSTACK_FLAGS) };
	struct rt_frame f;
	rt_build_frame(tp->im, &s, tp->frame, &f);
	*(uint64_t *)(e + RT_TH_FRAME_SRC) = (uint64_t)f.built;
	*(uint64_t *)(e + RT_TH_FRAME_LEN) = f.target ? f.len : 0;
	*(uint64_t *)(e + RT_TH_FRAME_DST) = f.target;
	*(uint64_t *)(e + RT_TH_FRAME) = (f.target ? f.target : (uint64_t)f.built) + 8;
	*(uint64_t *)(e + RT_TH_FS_BASE) = u64at(p, CKPT_RT_FS_BASE);
	*(uint64_t *)(e + RT_TH_CLEAR_TID) = u64at(p, CKPT_RT_CLEAR_TID);
	*(uint64_t *)(e + RT_TH_ROBUST_HEAD) = u64at(p, CKPT_RT_ROBUST_HEAD);
	*(uint64_t *)(e + RT_TH_ROBUST_LEN) = u64at(p, CKPT_RT_ROBUST_LEN);
	*(uint64_t *)(e + RT_TH_RSEQ_ADDR) = u64at(p, CKPT_RT_RSEQ_ADDR);
	*(uint64_t *)(e + RT_TH_RSEQ_LEN) = u32at(p, CKPT_RT_RSEQ_LEN);
	*(uint64_t *)(e + RT_TH_RSEQ_SIG) = u32at(p, CKPT_RT_RSEQ_SIG);
	*(uint64_t *)(e + RT_TH_SLOT) = rt_in_image(tp->im, &rt_thread_table[u32at(p, CKPT_RT_SLOT)].tid);
	tp->frame += (f.len + 63) & ~63UL;
	tp->placed &= f.target != 0;
}

int rt_prepare_threads(const struct rt_image *im, unsigned char *plan, unsigned char *area)
{
	const unsigned char *leader = im->leader;
	uint64_t entries = (RT_TA_ENTRIES + (uint64_t)im->threads * RT_TH_SIZE + 63) & ~63UL;
	struct rt_thread_plan tp = { im, area, area + entries, 0, 1 };
	*(uint64_t *)(plan + RT_PLAN_CLEAR_TID) = leader ? u64at(leader, CKPT_RT_CLEAR_TID) : (uint64_t)RT_NO_DATA;
	*(uint64_t *)(plan + RT_PLAN_ROBUST_HEAD) = leader ? u64at(leader, CKPT_RT_ROBUST_HEAD) : 0;
	*(uint64_t *)(plan + RT_PLAN_ROBUST_LEN) = leader ? u64at(leader, CKPT_RT_ROBUST_LEN) : 0;
	if (!im->threads)
		return 1;
	rt_each(im, CKPT_REC_THREAD, rt_plan_thread, &tp);
	*(uint64_t *)(area + RT_TA_COUNT) = tp.count;
	*(uint64_t *)(area + RT_TA_FINISH) = rt_in_image(im, (const void *)rt_thread_restart_finish);
	*(uint64_t *)(plan + RT_PLAN_THREADS) = (uint64_t)area;
	return tp.placed;
}

/*
 * A thread of a restarted process, made and not yet running the program (from
 * rt_thread_restart_finish, before the first thread releases them all): the signals that were
 * pending on it alone, queued to it again (only a thread may queue itself a tgkill's siginfo), to
 * wait behind the mask its frame puts back
 */
void rt_restart_own_signals(void)
{
	long tid = rt_syscall0(__NR_gettid);
	struct rt_thread *self = rt_thread_find(tid);
	int n = rt_thread_signals.count < RT_THREAD_QUEUED ? rt_thread_signals.count : RT_THREAD_QUEUED;
	for (int i = 0; self && i < n; i++)
		if (rt_thread_signals.s[i].taken && rt_thread_signals.s[i].slot == rt_slot_index(self))
			rt_syscall4(__NR_rt_tgsigqueueinfo, (long)rt_ids_real.pid, tid, *(const int *)rt_thread_signals.s[i].info,
				    (long)rt_thread_signals.s[i].info);
}

/* The leader's slot keyed by this process's first thread; no stop under way in the new process,
 * and its threads held until the first one has unmapped the holding area */
unsigned rt_plan_thread_pokes(struct rt_plan_builder *b, const struct rt_image *im)
{
	rt_plan_u64(b, rt_in_image(im, rt_stop_leader_word()));
	rt_plan_u64(b, 0);
	rt_plan_u64(b, rt_in_image(im, &rt_restart_released));
	rt_plan_u64(b, 0);
	if (!im->leader)
		return 2;
	rt_plan_u64(b, rt_in_image(im, &rt_thread_table[u32at(im->leader, CKPT_RT_SLOT)].tid));
	rt_plan_u64(b, rt_ids_real.tid);
	return 3;
}
