/*
 * What madvise, mlock and mmap set on a region beyond its protection: locked, not copied into
 * children (MADV_DONTFORK), not dumped, transparent huge pages asked for or refused, read-ahead
 * advice, wiped in children, merged by KSM, a stack that grows down. Saved: the VmFlags line of
 * each region in /proc/self/smaps, as CKPT_VM_* bits in the region record (CKPT_RG_ADVICE).
 * Restored: MAP_GROWSDOWN when the region is mapped (memory.c), the rest as madvise and mlock2
 * calls the restorer makes once every region is mapped (RT_PLAN_CALLS). The table lives in the
 * checkpoint's work area, left out of the image.
 *
 * Guard pages (MADV_GUARD_INSTALL, Linux 6.13) are not in VmFlags: memory.c finds them in
 * pagemap, they are saved as runs (CKPT_REC_GUARDS) and installed again the same way; a restart
 * on a kernel without them refuses the image.
 */
#include "ckpt/save.h"
#include "ckpt/restore.h"

#define RT_SMAPS_CHUNK	(RT_PROC_TEXT - 1)
#define RT_MADV_GUARD_INSTALL	102	/* Linux 6.13; Debian 12's headers lack it */

static const struct { char flag[3]; uint32_t bit; } rt_vm_flags[] = {
	{ "lo", CKPT_VM_LOCKED }, { "lf", CKPT_VM_LOCKONFAULT }, { "dc", CKPT_VM_DONTFORK }, { "dd", CKPT_VM_DONTDUMP },
	{ "hg", CKPT_VM_HUGEPAGE }, { "nh", CKPT_VM_NOHUGEPAGE }, { "rr", CKPT_VM_RANDOM }, { "sr", CKPT_VM_SEQUENTIAL },
	{ "wf", CKPT_VM_WIPEONFORK }, { "mg", CKPT_VM_MERGEABLE }, { "gd", CKPT_VM_GROWSDOWN },
	{ "ht", CKPT_VM_HUGETLB },
};


static uint32_t rt_parse_vmflags(const char *s)
{
	uint32_t bits = 0;
	for (s += 8; *s && *s != '\n'; s++)
		for (unsigned i = 0; i < sizeof rt_vm_flags / sizeof rt_vm_flags[0]; i++)
			if (s[0] == rt_vm_flags[i].flag[0] && s[1] == rt_vm_flags[i].flag[1] && (s[2] == ' ' || s[2] == '\n'))
				bits |= rt_vm_flags[i].bit;
	return bits;
}

static int rt_is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* One line of smaps: a region's "start-end ..." line opens an entry, its VmFlags line fills it */
static void rt_smaps_line(struct rt_ckpt_work *w, const char *s)
{
	if (rt_is_hex(*s)) {
		uint64_t v = 0;
		if (w->nadvice == RT_MAX_REGIONS)
			return;
		for (; rt_is_hex(*s); s++)
			v = v << 4 | (uint64_t)(*s <= '9' ? *s - '0' : *s - 'a' + 10);
		w->advice[w->nadvice].start = v;
		for (v = 0, s++; rt_is_hex(*s); s++)
			v = v << 4 | (uint64_t)(*s <= '9' ? *s - '0' : *s - 'a' + 10);
		w->advice[w->nadvice].end = v;
		w->advice[w->nadvice++].bits = 0;
	} else if (rt_starts_with(s, "VmFlags:") && w->nadvice) {
		w->advice[w->nadvice - 1].bits = rt_parse_vmflags(s);
	}
}

/* /proc/self/smaps, read a chunk at a time (it can be megabytes), before the regions are saved */
void rt_read_advice(struct rt_ckpt_work *w)
{
	char *text = w->proc_text;
	long fd = rt_syscall4(__NR_openat, AT_FDCWD, (long)"/proc/self/smaps", O_RDONLY | O_CLOEXEC, 0);
	size_t kept = 0;
	w->nadvice = 0;
	if (fd < 0)
		return;
	for (;;) {
		long n = rt_syscall3(__NR_read, fd, (long)(text + kept), (long)(RT_SMAPS_CHUNK - kept));
		if (n <= 0)
			break;
		size_t have = kept + (size_t)n, at = 0;
		text[have] = 0;
		for (size_t i = 0; i < have; i++)
			if (text[i] == '\n') {
				rt_smaps_line(w, text + at);
				at = i + 1;
			}
		kept = have - at;
		rt_memcpy(text, text + at, kept);	/* a line cut by the chunk's end */
		if (kept == RT_SMAPS_CHUNK)
			kept = 0;
	}
	rt_syscall1(__NR_close, fd);
}

/* The CKPT_VM_* bits of the region holding [start, end) */
uint32_t rt_advice_of(const struct rt_ckpt_work *w, uint64_t start, uint64_t end)
{
	for (long i = 0; i < w->nadvice; i++)
		if (w->advice[i].start <= start && end <= w->advice[i].end)
			return w->advice[i].bits;
	return 0;
}

/*
 * The writer is a forked child: a MADV_DONTFORK region would be missing in it, a MADV_WIPEONFORK
 * one zeros. Around the fork they are inherited whole; `again` puts the advice back.
 */
void rt_advice_around_fork(const struct rt_ckpt_work *w, int again)
{
	for (long i = 0; i < w->nadvice; i++) {
		uint64_t len = w->advice[i].end - w->advice[i].start;
		if (w->advice[i].bits & CKPT_VM_DONTFORK)
			rt_syscall3(__NR_madvise, (long)w->advice[i].start, (long)len, again ? MADV_DONTFORK : MADV_DOFORK);
		if (w->advice[i].bits & CKPT_VM_WIPEONFORK)
			rt_syscall3(__NR_madvise, (long)w->advice[i].start, (long)len, again ? MADV_WIPEONFORK : MADV_KEEPONFORK);
	}
}

static void rt_plan_call(struct rt_plan_builder *b, long nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	rt_plan_u64(b, (uint64_t)nr);
	rt_plan_u64(b, a0);
	rt_plan_u64(b, a1);
	rt_plan_u64(b, a2);
	(*(uint64_t *)(b->plan + RT_PLAN_CALLS))++;
}

static const struct { uint32_t bit; int advice; } rt_madvice[] = {
	{ CKPT_VM_DONTFORK, MADV_DONTFORK }, { CKPT_VM_DONTDUMP, MADV_DONTDUMP }, { CKPT_VM_HUGEPAGE, MADV_HUGEPAGE },
	{ CKPT_VM_NOHUGEPAGE, MADV_NOHUGEPAGE }, { CKPT_VM_RANDOM, MADV_RANDOM }, { CKPT_VM_SEQUENTIAL, MADV_SEQUENTIAL },
	{ CKPT_VM_WIPEONFORK, MADV_WIPEONFORK }, { CKPT_VM_MERGEABLE, MADV_MERGEABLE },
};

static void rt_plan_region_advice(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_plan_builder *b = arg;
	uint32_t bits = u32at(p, CKPT_RG_ADVICE);
	uint64_t start = u64at(p, CKPT_RG_START), len = u64at(p, CKPT_RG_END) - start;
	(void)h;
	if (u32at(p, CKPT_RG_ROLE) != CKPT_ROLE_MEMORY)
		return;
	for (unsigned i = 0; i < sizeof rt_madvice / sizeof rt_madvice[0]; i++)
		if (bits & rt_madvice[i].bit)
			rt_plan_call(b, __NR_madvise, start, len, (uint64_t)rt_madvice[i].advice);
	if (bits & CKPT_VM_LOCKED)
		rt_plan_call(b, __NR_mlock2, start, len, bits & CKPT_VM_LOCKONFAULT ? MLOCK_ONFAULT : 0);
}

/* A guard page at `page`, extending the last run when it follows it; -1 when the table is full */
int rt_note_guard(struct rt_ckpt_work *w, uint64_t page)
{
	if (w->nguards && w->guards[w->nguards - 1].end == page) {
		w->guards[w->nguards - 1].end += 4096;
		return 0;
	}
	if (w->nguards == RT_MAX_GUARDS)
		return -1;
	w->guards[w->nguards].start = page;
	w->guards[w->nguards++].end = page + 4096;
	return 0;
}

int rt_save_guards(struct rt_ckpt_work *w)
{
	unsigned char *p = rt_record(w, CKPT_REC_GUARDS, 0, (size_t)w->nguards * CKPT_GUARD_SIZE);
	if (!p)
		return -1;
	rt_memcpy(p, w->guards, (size_t)w->nguards * CKPT_GUARD_SIZE);
	rt_seal(p);
	return 0;
}

/* Whether this kernel installs guard pages: tried on a page of its own */
static int rt_guards_work(void)
{
	long page = rt_syscall6(__NR_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page < 0 && page > -4096)
		return 0;
	long r = rt_syscall3(__NR_madvise, page, 4096, RT_MADV_GUARD_INSTALL);
	rt_syscall2(__NR_munmap, page, 4096);
	return r == 0;
}

static void rt_plan_guards(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_plan_builder *b = arg;
	uint32_t size = u32at(h, CKPT_RH_PAYLOAD_SIZE);
	if (size >= CKPT_GUARD_SIZE && !rt_guards_work())
		rt_refuse(b->im, "the program had guard pages (MADV_GUARD_INSTALL), which this kernel cannot install");
	for (uint32_t at = 0; at + CKPT_GUARD_SIZE <= size; at += CKPT_GUARD_SIZE)
		rt_plan_call(b, __NR_madvise, u64at(p, at), u64at(p, at + 8) - u64at(p, at), RT_MADV_GUARD_INSTALL);
}

/* After the closes in the plan: the calls the restorer makes once every region is mapped */
void rt_prepare_advice(struct rt_plan_builder *b)
{
	rt_each(b->im, CKPT_REC_REGION, rt_plan_region_advice, b);
	rt_each(b->im, CKPT_REC_GUARDS, rt_plan_guards, b);
}
