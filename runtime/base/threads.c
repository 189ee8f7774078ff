/*
 * The runtime's per-thread state, with no TLS: one slot per thread in a table keyed by the kernel's
 * tid (gettid). A slot holds what the runtime must keep apart for each thread: the tid the program
 * knows (vtid: the kernel's until a restart, the old run's after one), the dispatcher's busy depth
 * and the checkpoint signal it held meanwhile (restartable.c), the thread's rseq registration
 * (sys/rseq.c).
 *
 * A thread takes its slot the first time it needs one (a dispatch, the checkpoint's stop) and gives
 * it back when it exits through the dispatcher. Only a thread inserts its own tid, so two threads
 * never race for one key; they may race for one free slot, which a compare-and-swap settles (the
 * slot is claimed, filled, then keyed: a signal handler of the same thread never sees it half
 * filled; if one interrupts the filling, that slot stays claimed, and the handler takes another). A
 * freed slot becomes a tombstone (-1), never empty again, so a search for a tid never stops short.
 * A checkpoint frees the slots of threads that are gone and lists those it saves (ckpt/threads.c);
 * a restart writes each recreated thread's new tid into its slot before the thread runs.
 */
#include "base/base.h"

#define RT_SLOT_FREE	0
#define RT_SLOT_GONE	(-1)
#define RT_SLOT_CLAIMED	(-2)	/* being filled: its tid is published once its fields are */

struct rt_thread rt_thread_table[RT_THREAD_SLOTS];
/* The slots of the threads a checkpoint saved: after a restart their keys (written by the restorer)
 * are new tids, not where the hash puts them, so a search that misses looks through these */
uint32_t rt_thread_saved[RT_THREAD_SLOTS];
uint32_t rt_thread_saved_count;
static struct rt_thread rt_thread_overflow;	/* shared by threads beyond the table: see docs/limits.md */

static unsigned rt_slot_hash(long tid)
{
	return (unsigned)((uint64_t)tid * 0x9e3779b1u) % RT_THREAD_SLOTS;
}

/* The slot of the kernel's tid, or 0 */
struct rt_thread *rt_thread_find(long tid)
{
	unsigned h = rt_slot_hash(tid);
	for (unsigned i = 0; i < RT_THREAD_SLOTS; i++) {
		struct rt_thread *t = &rt_thread_table[(h + i) % RT_THREAD_SLOTS];
		int64_t key = __atomic_load_n(&t->tid, __ATOMIC_ACQUIRE);
		if (key == tid)
			return t;
		if (key == RT_SLOT_FREE)
			break;
	}
	for (uint32_t i = 0; i < rt_thread_saved_count; i++) {
		struct rt_thread *t = &rt_thread_table[rt_thread_saved[i] % RT_THREAD_SLOTS];
		if (__atomic_load_n(&t->tid, __ATOMIC_ACQUIRE) == tid)
			return t;
	}
	return 0;
}

/* A new thread or vfork child: a slot its tid left from an earlier thread starts over */
void rt_thread_started(void)
{
	long tid = rt_syscall0(__NR_gettid);
	struct rt_thread *t = rt_thread_find(tid);
	if (t)
		*t = (struct rt_thread){ .tid = tid, .vtid = tid };
}

/* The thread is ending (or its slot is stale): the slot is free for another */
void rt_thread_release(struct rt_thread *t)
{
	if (t != &rt_thread_overflow)
		__atomic_store_n(&t->tid, (int64_t)RT_SLOT_GONE, __ATOMIC_RELEASE);
}

/*
 * Frees the slots of tids that are no thread of this process (a vfork child that exec'd); how many.
 * The process is the table's: a vfork child sweeping its parent's table (it shares its memory) has
 * a pid of its own, under which every thread of the parent would look gone, the parent's own slot
 * and the way back from its vfork with them (a python that spawned a thousand children crashed so).
 */
static unsigned rt_threads_sweep(void)
{
	unsigned freed = 0;
	long pid = (long)rt_ids_real.pid;
	for (unsigned i = 0; i < RT_THREAD_SLOTS; i++) {
		int64_t key = __atomic_load_n(&rt_thread_table[i].tid, __ATOMIC_ACQUIRE);
		if (key > 0 && rt_syscall3(__NR_tgkill, pid, key, 0) == -ESRCH) {
			rt_thread_release(&rt_thread_table[i]);
			freed++;
		}
	}
	return freed;
}

/* A new slot for tid: the first tombstone or free slot on its probe path */
static struct rt_thread *rt_thread_insert(long tid)
{
	for (;;) {
		unsigned h = rt_slot_hash(tid);
		struct rt_thread *spot = 0;
		for (unsigned i = 0; i < RT_THREAD_SLOTS && !spot; i++) {
			struct rt_thread *t = &rt_thread_table[(h + i) % RT_THREAD_SLOTS];
			int64_t key = __atomic_load_n(&t->tid, __ATOMIC_ACQUIRE);
			if (key == RT_SLOT_GONE || key == RT_SLOT_FREE)
				spot = t;
		}
		if (!spot && rt_threads_sweep())
			continue;
		if (!spot)
			return &rt_thread_overflow;
		int64_t expected = spot->tid;
		if (expected != RT_SLOT_GONE && expected != RT_SLOT_FREE)
			continue;
		if (!__atomic_compare_exchange_n(&spot->tid, &expected, (int64_t)RT_SLOT_CLAIMED, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		*spot = (struct rt_thread){ .tid = RT_SLOT_CLAIMED, .vtid = tid };
		__atomic_store_n(&spot->tid, (int64_t)tid, __ATOMIC_RELEASE);
		return spot;
	}
}

/* The calling thread's slot, made on first use */
struct rt_thread *rt_thread_self(void)
{
	long tid = rt_syscall0(__NR_gettid);
	struct rt_thread *t = rt_thread_find(tid);
	return t ? t : rt_thread_insert(tid);
}

/* A child with its own memory has one thread, whose slot is new; its mask is its parent thread's */
void rt_threads_forked(uint64_t prog_blocked)
{
	rt_thread_saved_count = 0;
	for (unsigned i = 0; i < RT_THREAD_SLOTS; i++)
		rt_thread_table[i].tid = RT_SLOT_FREE;
	rt_thread_overflow = (struct rt_thread){ 0 };
	rt_thread_self()->prog_blocked = prog_blocked;
}

/* The kernel's tid of the thread the program calls vtid, or 0 when no slot has it */
long rt_thread_real(long vtid)
{
	for (unsigned i = 0; i < RT_THREAD_SLOTS; i++) {
		struct rt_thread *t = &rt_thread_table[i];
		int64_t key = __atomic_load_n(&t->tid, __ATOMIC_ACQUIRE);
		if (key > 0 && t->vtid == vtid)
			return key;
	}
	return 0;
}

/*
 * The calling thread is a vfork child, in the memory of the process that made it (the flag is its
 * own slot's: the other threads of that process run on meanwhile, and are no vfork children)
 */
int rt_in_shared_child(void)
{
	return rt_thread_self()->shared_child;
}

/* A vfork parent runs again: its child exec'd or ended, and the child's slot is free (an exec
 * leaves the runtime no chance to give it back itself) */
void rt_vfork_child_gone(long pid)
{
	struct rt_thread *t = pid > 0 ? rt_thread_find(pid) : 0;
	if (t && t->shared_child)
		rt_thread_release(t);
}
