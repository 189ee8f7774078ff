/*
 * Restart from an image (CKPT_RESTART=PATH or ckpt-restart). Everything is checked before anything
 * is torn down: the image itself (image.c), the vDSO layout, the working directory, the files it
 * had open (files.c). Then kernel state that outlives the teardown (files, signal actions, umask)
 * is restored, the plan for the restorer is laid out in a holding area, and the restorer (pie/)
 * replaces the address space.
 */
#include "ckpt/image.h"
#include "pie/plan.h"

_Static_assert(RT_PR_SET_SYSCALL_USER_DISPATCH == PR_SET_SYSCALL_USER_DISPATCH &&
	       RT_PR_SYS_DISPATCH_ON == PR_SYS_DISPATCH_ON, "pie/plan.h's prctl numbers");

#define RT_HOLD_CODE	0x2000
#define RT_HOLD_PLAN	0x40000		/* plan entries */
#define RT_HOLD_STACK	0x10000
#define RT_HOLD_FRAME	0x10000		/* sigreturn frame and xsave area */
#define RT_HOLD_SIZE	(RT_HOLD_CODE + RT_HOLD_PLAN + RT_HOLD_STACK + RT_HOLD_FRAME)
#define RT_MAX_MAPS	2048
#define RT_FRAME_UC	512		/* room for the ucontext in a rebuilt frame */


static struct rt_map rt_current[RT_MAX_MAPS];
static char rt_maps_text[256 * 1024];
static long rt_current_count;

/* The new process's vvar/vclock/vdso, by role; and checks the image's have the same sizes */
struct rt_vdso_check { const struct rt_image *im; int bad; uint64_t from[4], len[4], to[4]; };

static void rt_note_kernel_region(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_vdso_check *v = arg;
	uint32_t role = u32at(p, CKPT_RG_ROLE);
	(void)h;
	if (role == CKPT_ROLE_MEMORY || role > CKPT_ROLE_VDSO)
		return;
	v->to[role] = u64at(p, CKPT_RG_START);
	if (v->len[role] != u64at(p, CKPT_RG_END) - u64at(p, CKPT_RG_START))
		v->bad = 1;
}

static void rt_check_vdso(const struct rt_image *im, struct rt_vdso_check *v)
{
	v->im = im;
	for (long i = 0; i < rt_current_count; i++) {
		uint32_t role = rt_map_role(&rt_current[i]);
		if (role != CKPT_ROLE_MEMORY) {
			v->from[role] = rt_current[i].start;
			v->len[role] = rt_current[i].end - rt_current[i].start;
		}
	}
	rt_each(im, CKPT_REC_REGION, rt_note_kernel_region, v);
	for (int r = 1; r <= 3; r++)
		if (v->len[r] && !v->to[r])
			v->bad = 1;
	if (v->bad)
		rt_refuse(im, "the vDSO layout differs from the kernel the image was made on");
}

/* A limit above this process's hard limit cannot be had without privilege: keep the hard one */
static void rt_restore_rlimits(const struct rt_image *im)
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

static void rt_restore_itimers(const struct rt_image *im)
{
	for (int which = 0; im->itimers && which < 3; which++) {
		const unsigned char *t = im->itimers + which * CKPT_ITIMER_SIZE;
		if (u64at(t, 16) || u64at(t, 24))	/* armed: a value remains */
			rt_syscall3(__NR_setitimer, which, (long)t, 0);
	}
}

/*
 * Kernel state that outlives the teardown. Signals are blocked from the start of the restart;
 * the queued ones are queued again now with their siginfo (images without that record: raised),
 * to be delivered when rt_sigreturn puts the program's mask back.
 */
static void rt_restore_kernel_state(const struct rt_image *im, int terminal)
{
	const struct rt_kernel_sigaction *a = (const void *)im->sigactions;
	const unsigned char *proc = im->process;
	for (int sig = 1; sig <= 64; sig++)
		if (sig != 9 && sig != 19)
			rt_syscall4(__NR_rt_sigaction, sig, (long)&a[sig - 1], 0, RT_SIGSET_SIZE);
	rt_syscall1(__NR_umask, u32at(proc, CKPT_RP_UMASK));
	if (im->cwd)
		rt_syscall1(__NR_chdir, (long)im->cwd);
	rt_restore_itimers(im);
	uint64_t pending = im->queued ? 0 : u64at(proc, CKPT_RP_PENDING);
	for (uint32_t i = 0; i < im->nqueued; i++) {
		const unsigned char *info = im->queued + i * CKPT_SIGINFO_SIZE;
		rt_syscall4(__NR_rt_tgsigqueueinfo, (long)rt_ids_real.pid, (long)rt_ids_real.tid, *(const int *)info, (long)info);
	}
	if (terminal)
		pending |= RT_SIGBIT(SIGWINCH);	/* a screen program redraws itself on the new terminal */
	for (int sig = 1; sig <= 64; sig++)
		if (pending & RT_SIGBIT(sig))
			rt_syscall3(__NR_tgkill, (long)rt_ids_real.pid, (long)rt_ids_real.tid, sig);
}

/* A holding address free both now and in the image: the restorer lives there */
struct rt_hold_check { uint64_t lo, hi; int clash; };

static void rt_hold_clash(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_hold_check *c = arg;
	(void)h;
	if (u64at(p, CKPT_RG_START) < c->hi && c->lo < u64at(p, CKPT_RG_END))
		c->clash = 1;
}

static uint64_t rt_pick_hold(const struct rt_image *im)
{
	for (uint64_t cand = 0x100000000000ULL; cand < 0x700000000000ULL; cand += 0x10000000000ULL) {
		struct rt_hold_check c = { cand, cand + RT_HOLD_SIZE, 0 };
		for (long i = 0; i < rt_current_count; i++)
			if (rt_current[i].start < c.hi && c.lo < rt_current[i].end)
				c.clash = 1;
		rt_each(im, CKPT_REC_REGION, rt_hold_clash, &c);
		if (!c.clash)
			return cand;
	}
	rt_refuse(im, "no free address range for the restorer");
}

struct rt_plan_builder {
	unsigned char *plan, *next;
	const struct rt_image *im;
	const char *last_path;		/* the file the previous region was mapped from */
	long last_fd;
	int nopened;
	long opened[256];		/* closed by the restorer once everything is mapped */
};

static void rt_plan_u64(struct rt_plan_builder *b, uint64_t v)
{
	*(uint64_t *)b->next = v;
	b->next += 8;
}

/*
 * The file a private region maps, opened again so that /proc/self/maps names it as before: only
 * if it still covers the region (touching a page past its end would be SIGBUS). -1: anonymous.
 */
static long rt_region_file(struct rt_plan_builder *b, const unsigned char *h, const unsigned char *p)
{
	const char *path = (const char *)p + CKPT_RG_SIZE;
	uint64_t end = u64at(p, CKPT_RG_OFFSET) + (u64at(p, CKPT_RG_END) - u64at(p, CKPT_RG_START));
	struct rt_stat st;
	size_t len = rt_strlen(path);
	if (path[0] != '/' || (u32at(h, CKPT_RH_FLAGS) & CKPT_REGION_SHARED) ||
	    (len > 10 && rt_streq(path + len - 10, " (deleted)")))
		return -1;
	if (b->last_path && rt_streq(b->last_path, path))
		return b->last_fd;
	if (b->nopened == (int)(sizeof b->opened / sizeof b->opened[0]))
		return -1;
	long opened = rt_syscall4(__NR_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0);
	if (opened < 0)
		return -1;
	long fd = rt_syscall3(__NR_fcntl, opened, F_DUPFD_CLOEXEC, b->im->fd + 1);
	rt_syscall1(__NR_close, opened);	/* it may sit on a number the program's descriptors need */
	if (fd < 0)
		return -1;
	if (rt_syscall2(__NR_fstat, fd, (long)&st) < 0 || (st.mode & 0170000) != 0100000 ||
	    (uint64_t)st.size + 4095 < end) {
		rt_syscall1(__NR_close, fd);
		return -1;
	}
	b->opened[b->nopened++] = fd;
	b->last_path = path;
	return b->last_fd = fd;
}

static int rt_huge = 1;

static void rt_plan_map(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_plan_builder *b = arg;
	if (u32at(p, CKPT_RG_ROLE) != CKPT_ROLE_MEMORY)
		return;
	int data = u32at(h, CKPT_RH_FLAGS) & CKPT_REGION_HAS_DATA;
	long fd = rt_region_file(b, h, p);
	uint64_t flags = 0x12 | (fd < 0 ? 0x20 : 0);	/* MAP_PRIVATE|MAP_FIXED, ANONYMOUS without a file */
	if (rt_streq((const char *)p + CKPT_RG_SIZE, "[stack]"))
		flags |= 0x100;	/* MAP_GROWSDOWN: the stack goes on growing as the kernel's did */

	rt_plan_u64(b, u64at(p, CKPT_RG_START));
	rt_plan_u64(b, u64at(p, CKPT_RG_END) - u64at(p, CKPT_RG_START));
	rt_plan_u64(b, u32at(p, CKPT_RG_PROT));
	rt_plan_u64(b, flags);
	rt_plan_u64(b, (uint64_t)fd);
	rt_plan_u64(b, fd < 0 ? 0 : u64at(p, CKPT_RG_OFFSET));
	rt_plan_u64(b, data ? u64at(h, CKPT_RH_DATA_OFFSET) : (uint64_t)RT_NO_DATA);
	(*(uint64_t *)(b->plan + RT_PLAN_MAPS))++;
}

/* An address of this runtime, translated into the image's address space */
static uint64_t rt_in_image(const struct rt_image *im, const volatile void *here)
{
	return (uint64_t)here - rt_load_bias + u64at(im->process, CKPT_RP_LOAD_BIAS);
}

/* Where the rebuilt signal frame goes: below the program's rsp and red zone, where the kernel put
 * the checkpoint signal's own frame, so that memory is there and writable in the image */
struct rt_frame_place { uint64_t lo, hi; int ok; };

static void rt_frame_fits(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_frame_place *f = arg;
	(void)h;
	if (u32at(p, CKPT_RG_ROLE) == CKPT_ROLE_MEMORY && (u32at(p, CKPT_RG_PROT) & 2) &&
	    u64at(p, CKPT_RG_START) <= f->lo && f->hi <= u64at(p, CKPT_RG_END))
		f->ok = 1;
}

static uint64_t rt_frame_target(const struct rt_image *im, uint64_t len)
{
	uint64_t rsp = u64at(im->regs, CKPT_RR_GREGS + RT_REG_RSP * 8);
	struct rt_frame_place f = { (rsp - CKPT_RED_ZONE - len) & ~63UL, rsp - CKPT_RED_ZONE, 0 };
	rt_each(im, CKPT_REC_REGION, rt_frame_fits, &f);
	return f.ok ? f.lo : 0;
}

struct rt_frame { unsigned char *built; uint64_t len, target; };

static void rt_plan_pokes(struct rt_plan_builder *b, const struct rt_image *im, long timer)
{
	const volatile void *where[] = { &rt_restarted, &rt_brk_top, &rt_sud_on, &rt_ids_real.pid,
		&rt_ids_real.ppid, &rt_ids_real.tid, &rt_ckpt_timer, &rt_remote_fd, &rt_cursors_fd };
	uint64_t what[] = { 1, u64at(im->process, CKPT_RP_BRK), (uint64_t)rt_sud_on, rt_ids_real.pid,
		rt_ids_real.ppid, rt_ids_real.tid, (uint64_t)timer, (uint64_t)-1 /* connect again */,
		(uint64_t)-1 /* the cursor table is shared again at the next fork */ };
	unsigned n = sizeof what / sizeof what[0];
	for (unsigned i = 0; i < n; i++) {
		rt_plan_u64(b, rt_in_image(im, where[i]));
		rt_plan_u64(b, what[i]);
	}
	if (rt_remote_on) {	/* the shadow as this machine reaches it (CKPT_SHADOW at restart) */
		rt_plan_u64(b, rt_in_image(im, &rt_remote_target));
		rt_plan_u64(b, rt_remote_target.word);
		n++;
	}
	*(uint64_t *)(b->plan + RT_PLAN_POKES) = n;
}

static void rt_plan_build(const struct rt_image *im, unsigned char *plan, const struct rt_vdso_check *v,
			  const struct rt_frame *f, long timer)
{
	static struct rt_plan_builder b;
	b = (struct rt_plan_builder){ .plan = plan, .next = plan + RT_PLAN_ENTRIES, .im = im };
	uint64_t hold = (uint64_t)plan - RT_HOLD_CODE;
	for (int i = 0; i < RT_PLAN_ENTRIES; i++)
		plan[i] = 0;
	for (long i = 0; i < rt_current_count; i++) {
		const struct rt_map *m = &rt_current[i];
		if (rt_map_is_vsyscall(m) || rt_map_role(m) != CKPT_ROLE_MEMORY || m->start == hold)
			continue;
		rt_plan_u64(&b, m->start);
		rt_plan_u64(&b, m->end - m->start);
		(*(uint64_t *)(plan + RT_PLAN_UNMAPS))++;
	}
	for (int r = 1; r <= 3; r++) {
		if (!v->len[r])
			continue;
		rt_plan_u64(&b, v->from[r]);
		rt_plan_u64(&b, v->len[r]);
		rt_plan_u64(&b, v->to[r]);
		(*(uint64_t *)(plan + RT_PLAN_REMAPS))++;
	}
	rt_each(im, CKPT_REC_REGION, rt_plan_map, &b);
	/* the restored runtime learns it was restarted (it then owns brk) and its real ids */
	rt_plan_pokes(&b, im, timer);
	for (int i = 0; i < b.nopened; i++)
		rt_plan_u64(&b, (uint64_t)b.opened[i]);
	*(uint64_t *)(plan + RT_PLAN_CLOSES) = (uint64_t)b.nopened;
	*(uint64_t *)(plan + RT_PLAN_FS_BASE) = u64at(im->process, CKPT_RP_FS_BASE);
	*(uint64_t *)(plan + RT_PLAN_IMAGE_FD) = (uint64_t)im->fd;
	*(uint64_t *)(plan + RT_PLAN_SIGRETURN) = rt_in_image(im, (const void *)rt_restart_finish);
	*(uint64_t *)(plan + RT_PLAN_RSEQ_ADDR) = u64at(im->process, CKPT_RP_RSEQ_ADDR);
	*(uint64_t *)(plan + RT_PLAN_RSEQ_LEN) = u32at(im->process, CKPT_RP_RSEQ_LEN);
	*(uint64_t *)(plan + RT_PLAN_RSEQ_SIG) = u32at(im->process, CKPT_RP_RSEQ_SIG);
	if (rt_sud_on) {
		*(uint64_t *)(plan + RT_PLAN_SUD_START) = rt_config.rt_text + u64at(im->process, CKPT_RP_LOAD_BIAS);
		*(uint64_t *)(plan + RT_PLAN_SUD_LEN) = rt_config.rt_text_size;
		*(uint64_t *)(plan + RT_PLAN_SUD_SELECTOR) = rt_in_image(im, &rt_sud_selector);
	}
	*(uint64_t *)(plan + RT_PLAN_FLAGS_BYTE) = rt_huge ? RT_MAP_HUGE : 0;
	*(uint64_t *)(plan + RT_PLAN_FRAME_SRC) = (uint64_t)f->built;
	*(uint64_t *)(plan + RT_PLAN_HOLD) = hold;
	if (f->target) {
		*(uint64_t *)(plan + RT_PLAN_FRAME_DST) = f->target;
		*(uint64_t *)(plan + RT_PLAN_FRAME_LEN) = f->len;
		*(uint64_t *)(plan + RT_PLAN_FRAME) = f->target + 8;
		*(uint64_t *)(plan + RT_PLAN_HOLD_SIZE) = RT_HOLD_SIZE;
	} else {
		*(uint64_t *)(plan + RT_PLAN_FRAME) = (uint64_t)f->built + 8;
	}
}

/*
 * The rt_sigreturn frame: return address slot, ucontext, then the xsave area, 64-byte aligned.
 * Built in the holding area with its pointers as they will be at its target on the program's
 * stack (or in the holding area itself when there is no room there).
 */
static void rt_build_frame(const struct rt_image *im, unsigned char *area, struct rt_frame *f)
{
	const unsigned char *r = im->regs, *proc = im->process;
	uint32_t fpsize = u32at(r, CKPT_RR_XSAVE_SIZE);
	uint64_t fp_at = (8 + RT_FRAME_UC + 63) & ~63UL;
	f->built = area;
	f->len = fp_at + fpsize;
	f->target = rt_frame_target(im, f->len);
	uint64_t base = f->target ? f->target : (uint64_t)area;
	unsigned char *uc = area + 8;
	for (uint64_t i = 0; i < fp_at; i++)
		area[i] = 0;
	*(uint64_t *)uc = u64at(r, CKPT_RR_UC_FLAGS);
	*(uint64_t *)(uc + 16) = u64at(proc, CKPT_RP_ALTSTACK_SP);	/* uc_stack: rt_sigreturn sets it */
	*(uint32_t *)(uc + 24) = u32at(proc, CKPT_RP_ALTSTACK_FLAGS);
	*(uint64_t *)(uc + 32) = u64at(proc, CKPT_RP_ALTSTACK_SIZE);
	rt_memcpy(uc + RT_UC_GREGS, r + CKPT_RR_GREGS, 23 * 8);
	*(uint64_t *)(uc + RT_UC_GREGS + 23 * 8) = fpsize ? base + fp_at : 0;
	*(uint64_t *)(uc + RT_UC_SIGMASK) = u64at(r, CKPT_RR_SIGMASK);
	if (fpsize)
		rt_memcpy(area + fp_at, r + CKPT_RR_SIZE, fpsize);
}

typedef void (*rt_restorer_fn)(const unsigned char *plan);

static void rt_read_policy(struct rt_image *im, char **envp)
{
	const char *v = rt_getenv(envp, "CKPT_FILES_CHANGED");
	im->warn_only = !(v && rt_streq(v, "refuse"));
	v = rt_getenv(envp, "CKPT_HUGE");
	rt_huge = !(v && rt_streq(v, "0"));
}

_Noreturn void rt_restart(const char *path, char **envp)
{
	static struct rt_image im;
	static struct rt_vdso_check v;
	static struct rt_frame frame;
	uint64_t all = ~0ULL;
	rt_syscall4(__NR_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, RT_SIGSET_SIZE);
	im.path = path;
	rt_read_policy(&im, envp);
	rt_check_image(&im);
	rt_current_count = rt_read_maps(rt_current, RT_MAX_MAPS, rt_maps_text, sizeof rt_maps_text);
	if (rt_current_count < 0)
		rt_refuse(&im, "cannot read /proc/self/maps");
	rt_check_vdso(&im, &v);
	rt_check_cwd(&im);
	uint64_t hold = rt_pick_hold(&im);
	long m = rt_syscall6(__NR_mmap, (long)hold, RT_HOLD_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if ((uint64_t)m != hold)
		rt_refuse(&im, "cannot map the restorer's holding area");
	rt_files_open(&im);
	/* past this point the image is known good: kernel state first, then the address space */
	int terminal = rt_files_place(&im);
	rt_restore_kernel_state(&im, terminal);
	long timer = rt_ckpt_timer_arm(u32at(im.process, CKPT_RP_INTERVAL), (int)u32at(im.process, CKPT_RP_CKPT_SIGNAL));
	unsigned char *code = (unsigned char *)hold, *plan = code + RT_HOLD_CODE;
	unsigned char *stack_top = plan + RT_HOLD_PLAN + RT_HOLD_STACK;
	rt_memcpy(code, rt_restorer_code_start, (size_t)(rt_restorer_code_end - rt_restorer_code_start));
	rt_syscall3(__NR_mprotect, (long)code, RT_HOLD_CODE, PROT_READ | PROT_EXEC);
	rt_build_frame(&im, stack_top, &frame);
	rt_plan_build(&im, plan, &v, &frame, timer);
	rt_restore_rlimits(&im);	/* last: a lower RLIMIT_NOFILE must not stop the plan opening files */
	rt_call_on_stack((void (*)(void *))(void *)code, plan, stack_top - 64);
	rt_exit(CKPT_EXIT_RUNTIME);
}
