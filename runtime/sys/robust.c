/*
 * Robust mutexes whose owner dies after a restart. A thread of the image keeps its old tid in
 * userspace (libc's thread block caches it, and gettid answers it), so the owner field libc writes
 * into a robust futex word is the old tid, while the kernel, walking the dying thread's robust list
 * (set_robust_list), marks a word dead only when it names the thread's new, kernel tid: a waiter
 * would never learn that the owner died. So such a thread's list is walked here when it exits
 * through the dispatcher, as the kernel would walk it (the same entry encoding and limit): each word
 * that names its old tid gets FUTEX_OWNER_DIED, keeps FUTEX_WAITERS, and one waiter is woken; the
 * kernel's own walk then finds no word of this thread's. A PI mutex with waiters is left to the
 * kernel (its waiters are queued on kernel state that names the owner: docs/limits.md).
 */
#include "sys/sys.h"

#define RT_ROBUST_LIST_LIMIT	2048	/* the kernel's ROBUST_LIST_LIMIT */

struct rt_robust_head { uint64_t next; int64_t futex_offset; uint64_t pending; };

/* The word of ENTRY (bit 0: a PI mutex), if it names OWNER: the owner died */
static void rt_owner_died(uint64_t entry, int64_t futex_offset, uint32_t owner)
{
	volatile uint32_t *word = (volatile uint32_t *)((entry & ~1UL) + (uint64_t)futex_offset);
	int pi = entry & 1;
	uint32_t v = __atomic_load_n(word, __ATOMIC_ACQUIRE);
	while ((v & FUTEX_TID_MASK) == owner) {
		if (pi && (v & FUTEX_WAITERS))
			return;
		uint32_t dead = (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
		if (__atomic_compare_exchange_n(word, &v, dead, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			if (!pi && (v & FUTEX_WAITERS))	/* robust waiters wait on the shared key */
				rt_syscall3(__NR_futex, (long)word, FUTEX_WAKE, 1);
			return;
		}
	}
}

/* The calling thread exits: its robust mutexes, if it is a thread of the image */
void rt_robust_exit(const struct rt_thread *self)
{
	uint64_t head = 0, len = 0;
	if (self->vtid == self->tid || self->vtid <= 0)
		return;
	if (rt_syscall3(__NR_get_robust_list, 0, (long)&head, (long)&len) < 0 || !head ||
	    len != sizeof(struct rt_robust_head))
		return;
	const volatile struct rt_robust_head *h = (const volatile struct rt_robust_head *)head;
	uint64_t pending = h->pending, entry = h->next;
	int64_t offset = h->futex_offset;
	for (int n = 0; (entry & ~1UL) != head && entry && n < RT_ROBUST_LIST_LIMIT; n++) {
		uint64_t next = *(const volatile uint64_t *)(entry & ~1UL);	/* read first: the word may free it */
		if (entry != pending)
			rt_owner_died(entry, offset, (uint32_t)self->vtid);
		entry = next;
	}
	if (pending)
		rt_owner_died(pending, offset, (uint32_t)self->vtid);
}
