/*
 * The process and its registers. Saved: ids, brk, fs base, umask, rseq, the alternate stack and
 * what is pending (the process record), and the interrupted context with its xsave area (the
 * register record), both from the checkpoint signal's frame and the kernel. Restored: the umask
 * before the teardown, and the registers as the rt_sigreturn frame the restorer returns through.
 */
#include "arch/x86_64/cpu.h"
#include "ckpt/save.h"
#include "ckpt/restore.h"

#define RT_FRAME_UC	512		/* room for the ucontext in a rebuilt frame */

/* Size of the signal frame's xsave area: the whole extended area when the kernel marked it */
static uint32_t rt_fpstate_size(const unsigned char *fp)
{
	if (*(const uint32_t *)(fp + 464) == FP_XSTATE_MAGIC1)
		return *(const uint32_t *)(fp + 468);
	return 512;
}

static const unsigned char *rt_fpstate(const unsigned char *uc)
{
	return *(unsigned char *const *)(uc + RT_UC_GREGS + 23 * 8);
}

/* Bytes of the CKPT_RR_* block (with its xsave area) that holds the context of the frame uc */
uint32_t rt_regs_size(const void *uc)
{
	const unsigned char *fp = rt_fpstate(uc);
	return CKPT_RR_SIZE + (fp ? rt_fpstate_size(fp) : 0);
}

/* The interrupted context of the signal frame uc, as a CKPT_RR_* block at p */
void rt_put_regs(unsigned char *p, const void *uc_frame)
{
	const unsigned char *uc = uc_frame, *fp = rt_fpstate(uc);
	uint32_t fpsize = fp ? rt_fpstate_size(fp) : 0;
	*(uint64_t *)(p + CKPT_RR_UC_FLAGS) = *(const uint64_t *)uc;
	rt_memcpy(p + CKPT_RR_GREGS, uc + RT_UC_GREGS, 23 * 8);
	*(uint64_t *)(p + CKPT_RR_SIGMASK) = *(const uint64_t *)(uc + RT_UC_SIGMASK);
	*(uint32_t *)(p + CKPT_RR_XSAVE_SIZE) = fpsize;
	if (fpsize)
		rt_memcpy(p + CKPT_RR_SIZE, fp, fpsize);
}

int rt_save_process(struct rt_ckpt_work *w)
{
	const unsigned char *uc = w->uc;
	unsigned char *p = rt_record(w, CKPT_REC_PROCESS, 0, CKPT_RP_SIZE);
	if (!p)
		return -1;
	*(uint32_t *)(p + CKPT_RP_PID) = (uint32_t)rt_ids_virtual.pid;
	*(uint32_t *)(p + CKPT_RP_TID) = (uint32_t)w->self->vtid;
	*(uint32_t *)(p + CKPT_RP_PPID) = (uint32_t)rt_ids_virtual.ppid;
	*(uint32_t *)(p + CKPT_RP_SIGNAL) = (uint32_t)w->sig;
	*(uint32_t *)(p + CKPT_RP_CKPT_SIGNAL) = (uint32_t)rt_ckpt_signal;
	*(uint64_t *)(p + CKPT_RP_LOAD_BIAS) = rt_load_bias;
	*(uint64_t *)(p + CKPT_RP_BRK) = rt_restarted ? rt_brk_top : (uint64_t)rt_syscall1(__NR_brk, 0);
	*(uint64_t *)(p + CKPT_RP_XFEATURES) = rt_xgetbv0();
	rt_syscall2(__NR_arch_prctl, ARCH_GET_FS, (long)(p + CKPT_RP_FS_BASE));
	long mask = rt_syscall1(__NR_umask, 0);
	rt_syscall1(__NR_umask, mask);
	*(uint32_t *)(p + CKPT_RP_UMASK) = (uint32_t)mask;
	*(uint64_t *)(p + CKPT_RP_RSEQ_ADDR) = w->self->rseq.addr;
	*(uint32_t *)(p + CKPT_RP_RSEQ_LEN) = w->self->rseq.len;
	*(uint32_t *)(p + CKPT_RP_RSEQ_SIG) = w->self->rseq.sig;
	/* uc_stack: the alternate stack as it was when the signal came */
	*(uint64_t *)(p + CKPT_RP_ALTSTACK_SP) = *(const uint64_t *)(uc + 16);
	*(uint32_t *)(p + CKPT_RP_ALTSTACK_FLAGS) = *(const uint32_t *)(uc + 24);
	*(uint64_t *)(p + CKPT_RP_ALTSTACK_SIZE) = *(const uint64_t *)(uc + 32);
	*(uint32_t *)(p + CKPT_RP_INTERVAL) = rt_ckpt_interval;
	*(uint32_t *)(p + CKPT_RP_VACATE_SIGNAL) = (uint32_t)rt_vacate_signal;
	*(uint32_t *)(p + CKPT_RP_FLAGS) = w->sig == rt_vacate_signal ? CKPT_PROC_VACATE : 0;
	struct { int64_t sec, nsec; } now = { 0, 0 };
	rt_syscall2(__NR_clock_gettime, CLOCK_REALTIME, (long)&now);
	*(uint64_t *)(p + CKPT_RP_TIME) = (uint64_t)now.sec;
	uint64_t pending = 0;
	rt_syscall2(__NR_rt_sigpending, (long)&pending, RT_SIGSET_SIZE);
	*(uint64_t *)(p + CKPT_RP_PENDING) = pending & ~RT_SIGBIT(w->sig);
	rt_seal(p);
	return 0;
}

int rt_save_regs(struct rt_ckpt_work *w)
{
	unsigned char *p = rt_record(w, CKPT_REC_REGS, 0, rt_regs_size(w->uc));
	if (!p)
		return -1;
	rt_put_regs(p, w->uc);
	rt_seal(p);
	return 0;
}

void rt_restore_umask(const struct rt_image *im)
{
	rt_syscall1(__NR_umask, u32at(im->process, CKPT_RP_UMASK));
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

static uint64_t rt_frame_target(const struct rt_image *im, const unsigned char *regs, uint64_t len)
{
	uint64_t rsp = u64at(regs, CKPT_RR_GREGS + RT_REG_RSP * 8);
	struct rt_frame_place f = { (rsp - CKPT_RED_ZONE - len) & ~63UL, rsp - CKPT_RED_ZONE, 0 };
	rt_each(im, CKPT_REC_REGION, rt_frame_fits, &f);
	return f.ok ? f.lo : 0;
}

/*
 * The rt_sigreturn frame: return address slot, ucontext, then the xsave area, 64-byte aligned.
 * Built in the holding area with its pointers as they will be at its target on the program's
 * stack (or in the holding area itself when there is no room there).
 */
void rt_build_frame(const struct rt_image *im, const struct rt_frame_state *s, unsigned char *area, struct rt_frame *f)
{
	const unsigned char *r = s->regs;
	uint32_t fpsize = u32at(r, CKPT_RR_XSAVE_SIZE);
	uint64_t fp_at = (8 + RT_FRAME_UC + 63) & ~63UL;
	f->built = area;
	f->len = fp_at + fpsize;
	f->target = rt_frame_target(im, r, f->len);
	uint64_t base = f->target ? f->target : (uint64_t)area;
	unsigned char *uc = area + 8;
	for (uint64_t i = 0; i < fp_at; i++)
		area[i] = 0;
	*(uint64_t *)uc = u64at(r, CKPT_RR_UC_FLAGS);
	*(uint64_t *)(uc + 16) = s->ss_sp;	/* uc_stack: rt_sigreturn sets it */
	*(uint32_t *)(uc + 24) = s->ss_flags;
	*(uint64_t *)(uc + 32) = s->ss_size;
	rt_memcpy(uc + RT_UC_GREGS, r + CKPT_RR_GREGS, 23 * 8);
	*(uint64_t *)(uc + RT_UC_GREGS + 23 * 8) = fpsize ? base + fp_at : 0;
	*(uint64_t *)(uc + RT_UC_SIGMASK) = u64at(r, CKPT_RR_SIGMASK);
	if (fpsize)
		rt_memcpy(area + fp_at, r + CKPT_RR_SIZE, fpsize);
}

/* The leader's frame: the register record, the alternate stack of the process record */
void rt_prepare_frame(const struct rt_image *im, unsigned char *area, struct rt_frame *f)
{
	const unsigned char *proc = im->process;
	struct rt_frame_state s = { im->regs, u64at(proc, CKPT_RP_ALTSTACK_SP), u64at(proc, CKPT_RP_ALTSTACK_SIZE),
				    u32at(proc, CKPT_RP_ALTSTACK_FLAGS) };
	rt_build_frame(im, &s, area, f);
}
