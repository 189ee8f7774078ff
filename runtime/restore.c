/*
 * Restart from an image (CKPT_RESTART=PATH or ckpt-restart). Everything is checked before anything
 * is torn down: header, every record and every data byte (CRC-32C), the binary it was made by, the
 * CPU's xsave features, the vDSO layout, the files it had open. A refused image exits
 * CKPT_EXIT_BAD_IMAGE with one line on stderr, the process untouched. Then kernel state that
 * outlives the teardown (files, signal actions, umask) is restored, the plan for the restorer is
 * laid out in a holding area, and the restorer replaces the address space.
 */
#include "include/rt.h"
#include "include/rt_restore.h"

#define RT_HOLD_CODE	0x2000
#define RT_HOLD_PLAN	0x40000		/* plan entries */
#define RT_HOLD_STACK	0x10000
#define RT_HOLD_FRAME	0x10000		/* sigreturn frame and xsave area */
#define RT_HOLD_SIZE	(RT_HOLD_CODE + RT_HOLD_PLAN + RT_HOLD_STACK + RT_HOLD_FRAME)
#define RT_MAX_MAPS	2048

volatile uint64_t rt_restarted;
volatile uint64_t rt_brk_top;

struct rt_image {
	const char *path;
	long fd;
	const unsigned char *base;
	uint64_t size;
	const unsigned char *process, *regs, *sigactions;
	uint32_t records;
};

static struct rt_map rt_current[RT_MAX_MAPS];
static char rt_maps_text[256 * 1024];
static long rt_current_count;

static _Noreturn void rt_refuse(const struct rt_image *im, const char *why)
{
	const char *parts[] = { "ckpt: cannot restart from ", im->path, ": ", why, "\n" };
	for (unsigned i = 0; i < 5; i++)
		rt_write_all(2, parts[i], rt_strlen(parts[i]));
	for (;;)
		rt_syscall1(__NR_exit_group, CKPT_EXIT_BAD_IMAGE);
}

static uint32_t u32at(const unsigned char *p, int off) { return *(const uint32_t *)(p + off); }
static uint64_t u64at(const unsigned char *p, int off) { return *(const uint64_t *)(p + off); }

static void rt_open_image(struct rt_image *im)
{
	struct { uint64_t dev, ino, nlink; uint32_t mode, uid, gid, pad; uint64_t rdev; int64_t size; uint64_t rest[10]; } st;
	im->fd = rt_syscall4(__NR_openat, -100, (long)im->path, 02000000 /* O_CLOEXEC */, 0);
	if (im->fd < 0)
		rt_refuse(im, "cannot open it");
	if (rt_syscall2(__NR_fstat, im->fd, (long)&st) < 0 || (st.mode & 0170000) != 0100000)
		rt_refuse(im, "not a regular file");
	if (st.size < CKPT_IH_SIZE)
		rt_refuse(im, "truncated (shorter than an image header)");
	im->size = (uint64_t)st.size;
	long m = rt_syscall6(__NR_mmap, 0, (long)im->size, 1 /* PROT_READ */, 2 /* MAP_PRIVATE */, im->fd, 0);
	if (m < 0 && m > -4096)
		rt_refuse(im, "cannot map it");
	im->base = (const unsigned char *)m;
}

static void rt_check_header(struct rt_image *im)
{
	const unsigned char *h = im->base;
	if (u64at(h, CKPT_IH_MAGIC) != CKPT_IMAGE_MAGIC)
		rt_refuse(im, "not a checkpoint image (bad magic)");
	if (u32at(h, CKPT_IH_VERSION) != CKPT_IMAGE_VERSION)
		rt_refuse(im, "image format version not supported by this runtime");
	if (rt_crc32c(0, h, CKPT_IH_CRC) != u32at(h, CKPT_IH_CRC))
		rt_refuse(im, "image header is corrupt (checksum)");
	if (u64at(h, CKPT_IH_FILE_SIZE) != im->size)
		rt_refuse(im, "image is truncated or has trailing bytes (size differs from its header)");
	if (u64at(h, CKPT_IH_BINARY_ID) != rt_binary_id())
		rt_refuse(im, "image was made by a different binary");
	im->records = u32at(h, CKPT_IH_RECORDS);
}

static int rt_check_region(const unsigned char *p, uint32_t size)
{
	return size > CKPT_RG_SIZE && u64at(p, CKPT_RG_START) < u64at(p, CKPT_RG_END) &&
	       !(u64at(p, CKPT_RG_START) & 4095) && !(u64at(p, CKPT_RG_END) & 4095) && p[size - 1] == 0;
}

/* Walks every record, checking bounds and checksums; remembers the singletons */
static void rt_check_records(struct rt_image *im)
{
	uint64_t at = CKPT_IH_SIZE;
	for (uint32_t i = 0; i < im->records; i++) {
		if (at + CKPT_RH_SIZE > im->size)
			rt_refuse(im, "image is truncated (a record header is missing)");
		const unsigned char *h = im->base + at, *p = h + CKPT_RH_SIZE;
		uint32_t size = u32at(h, CKPT_RH_PAYLOAD_SIZE);
		uint64_t doff = u64at(h, CKPT_RH_DATA_OFFSET), dsize = u64at(h, CKPT_RH_DATA_SIZE);
		if (rt_crc32c(0, h, CKPT_RH_CRC) != u32at(h, CKPT_RH_CRC))
			rt_refuse(im, "a record header is corrupt (checksum)");
		if (at + CKPT_RH_SIZE + size > im->size || (dsize && (doff & 4095 || doff + dsize > im->size || doff + dsize < doff)))
			rt_refuse(im, "a record points outside the image");
		if (rt_crc32c(0, p, size) != u32at(h, CKPT_RH_PAYLOAD_CRC))
			rt_refuse(im, "a record is corrupt (checksum)");
		if (dsize && rt_crc32c(0, im->base + doff, dsize) != u32at(h, CKPT_RH_DATA_CRC))
			rt_refuse(im, "memory contents are corrupt (checksum)");
		switch (u32at(h, CKPT_RH_KIND)) {
		case CKPT_REC_PROCESS:
			if (size < CKPT_RP_SIZE) rt_refuse(im, "process record too short (image from an older runtime)");
			im->process = p;
			break;
		case CKPT_REC_REGS:
			if (size < CKPT_RR_SIZE || size < CKPT_RR_SIZE + u32at(p, CKPT_RR_XSAVE_SIZE)) rt_refuse(im, "register record too short");
			im->regs = p;
			break;
		case CKPT_REC_SIGACTIONS:
			if (size < 64 * sizeof(struct rt_kernel_sigaction)) rt_refuse(im, "signal record too short");
			im->sigactions = p;
			break;
		case CKPT_REC_REGION:
			if (!rt_check_region(p, size) || ((u32at(h, CKPT_RH_FLAGS) & CKPT_REGION_HAS_DATA) && dsize != u64at(p, CKPT_RG_END) - u64at(p, CKPT_RG_START)))
				rt_refuse(im, "a memory region record is inconsistent");
			break;
		default:
			break;	/* kinds added later are skipped: fields are only ever added */
		}
		at += CKPT_RH_SIZE + size;
	}
	if (!im->process || !im->regs || !im->sigactions)
		rt_refuse(im, "image lacks its process, register or signal record");
}

/* Calls fn(arg, header, payload) for every record of one kind */
static void rt_each(const struct rt_image *im, uint32_t kind, void (*fn)(void *, const unsigned char *, const unsigned char *), void *arg)
{
	uint64_t at = CKPT_IH_SIZE;
	for (uint32_t i = 0; i < im->records; i++) {
		const unsigned char *h = im->base + at;
		if (u32at(h, CKPT_RH_KIND) == kind)
			fn(arg, h, h + CKPT_RH_SIZE);
		at += CKPT_RH_SIZE + u32at(h, CKPT_RH_PAYLOAD_SIZE);
	}
}

static void rt_check_cpu(const struct rt_image *im)
{
	uint64_t want = u64at(im->process, CKPT_RP_XFEATURES);
	if (want & ~rt_xgetbv0())
		rt_refuse(im, "this CPU lacks xsave features (AVX, AVX-512...) the image uses");
}

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

/*
 * Files: opened now, so that a missing one refuses the image before anything is torn down. Every
 * descriptor the runtime holds meanwhile (the image, the files just opened) is moved above the
 * highest one the program had, so that placing one never closes another.
 */
struct rt_files { const struct rt_image *im; int opened[1024]; int count; long above; };

#define RT_F_DUPFD_CLOEXEC 1030

static long rt_move_above(long fd, long above)
{
	long moved = rt_syscall3(__NR_fcntl, fd, RT_F_DUPFD_CLOEXEC, above);
	rt_syscall1(__NR_close, fd);
	return moved;
}

static void rt_highest_fd(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_files *f = arg;
	(void)h;
	if ((long)u32at(p, CKPT_RF_FD) >= f->above)
		f->above = (long)u32at(p, CKPT_RF_FD) + 1;
}

static void rt_open_file(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_files *f = arg;
	(void)h;
	uint32_t flags = u32at(p, CKPT_RF_FLAGS) & ~(0100 | 01000 | 0200) /* CREAT TRUNC EXCL */;
	long fd = rt_syscall4(__NR_openat, -100, (long)(p + CKPT_RF_SIZE), flags, 0);
	if (fd < 0)
		rt_refuse(f->im, "a file the program had open cannot be opened again");
	fd = rt_move_above(fd, f->above);
	if (fd < 0)
		rt_refuse(f->im, "out of file descriptors");
	if (f->count < 1024)
		f->opened[f->count++] = (int)fd;
}

static void rt_place_file(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_files *f = arg;
	(void)h;
	long fd = f->opened[f->count++];
	long want = u32at(p, CKPT_RF_FD);
	if (fd != want) {
		rt_syscall2(__NR_dup2, fd, want);
		rt_syscall1(__NR_close, fd);
	}
	rt_syscall3(__NR_lseek, want, (long)u64at(p, CKPT_RF_OFFSET), 0 /* SEEK_SET */);
}

static void rt_restore_files(struct rt_image *im)
{
	static struct rt_files f;
	f.im = im;
	f.above = 3;
	rt_each(im, CKPT_REC_FILE, rt_highest_fd, &f);
	im->fd = rt_move_above(im->fd, f.above);
	if (im->fd < 0)
		rt_refuse(im, "out of file descriptors");
	rt_each(im, CKPT_REC_FILE, rt_open_file, &f);
	f.count = 0;
	rt_each(im, CKPT_REC_FILE, rt_place_file, &f);
}

static void rt_restore_sigactions(const struct rt_image *im)
{
	const struct rt_kernel_sigaction *a = (const void *)im->sigactions;
	for (int sig = 1; sig <= 64; sig++)
		if (sig != 9 && sig != 19)
			rt_syscall4(__NR_rt_sigaction, sig, (long)&a[sig - 1], 0, 8);
	rt_syscall1(__NR_umask, u32at(im->process, CKPT_RP_UMASK));
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

struct rt_plan_builder { unsigned char *plan; unsigned char *next; const struct rt_image *im; };

static void rt_plan_u64(struct rt_plan_builder *b, uint64_t v)
{
	*(uint64_t *)b->next = v;
	b->next += 8;
}

static void rt_plan_map(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_plan_builder *b = arg;
	if (u32at(p, CKPT_RG_ROLE) != CKPT_ROLE_MEMORY)
		return;
	int data = u32at(h, CKPT_RH_FLAGS) & CKPT_REGION_HAS_DATA;
	rt_plan_u64(b, u64at(p, CKPT_RG_START));
	rt_plan_u64(b, u64at(p, CKPT_RG_END) - u64at(p, CKPT_RG_START));
	rt_plan_u64(b, u32at(p, CKPT_RG_PROT));
	rt_plan_u64(b, 0x12 | (data ? 0 : 0x20));	/* MAP_PRIVATE|MAP_FIXED, ANONYMOUS without data */
	rt_plan_u64(b, data ? (uint64_t)b->im->fd : (uint64_t)-1);
	rt_plan_u64(b, data ? u64at(h, CKPT_RH_DATA_OFFSET) : 0);
	(*(uint64_t *)(b->plan + RT_PLAN_MAPS))++;
}

/* An address of this runtime, translated into the image's address space */
static uint64_t rt_in_image(const struct rt_image *im, const volatile void *here)
{
	return (uint64_t)here - rt_load_bias + u64at(im->process, CKPT_RP_LOAD_BIAS);
}

static void rt_plan_build(const struct rt_image *im, unsigned char *plan, const struct rt_vdso_check *v, uint64_t frame)
{
	struct rt_plan_builder b = { plan, plan + RT_PLAN_ENTRIES, im };
	for (int i = 0; i < RT_PLAN_ENTRIES; i++)
		plan[i] = 0;
	for (long i = 0; i < rt_current_count; i++) {
		const struct rt_map *m = &rt_current[i];
		if (rt_map_is_vsyscall(m) || rt_map_role(m) != CKPT_ROLE_MEMORY || m->start == (uint64_t)plan - RT_HOLD_CODE)
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
	/* the restored runtime learns it was restarted, and owns brk from the saved break */
	rt_plan_u64(&b, rt_in_image(im, &rt_restarted));
	rt_plan_u64(&b, 1);
	rt_plan_u64(&b, rt_in_image(im, &rt_brk_top));
	rt_plan_u64(&b, u64at(im->process, CKPT_RP_BRK));
	rt_plan_u64(&b, rt_in_image(im, &rt_sud_on));
	rt_plan_u64(&b, (uint64_t)rt_sud_on);
	*(uint64_t *)(plan + RT_PLAN_POKES) = 3;
	*(uint64_t *)(plan + RT_PLAN_FS_BASE) = u64at(im->process, CKPT_RP_FS_BASE);
	*(uint64_t *)(plan + RT_PLAN_FRAME) = frame;
	*(uint64_t *)(plan + RT_PLAN_IMAGE_FD) = (uint64_t)im->fd;
	*(uint64_t *)(plan + RT_PLAN_SIGRETURN) = rt_in_image(im, (const void *)rt_restorer);
	*(uint64_t *)(plan + RT_PLAN_RSEQ_ADDR) = u64at(im->process, CKPT_RP_RSEQ_ADDR);
	*(uint64_t *)(plan + RT_PLAN_RSEQ_LEN) = u32at(im->process, CKPT_RP_RSEQ_LEN);
	*(uint64_t *)(plan + RT_PLAN_RSEQ_SIG) = u32at(im->process, CKPT_RP_RSEQ_SIG);
	if (rt_sud_on) {
		*(uint64_t *)(plan + RT_PLAN_SUD_START) = rt_config.rt_text + u64at(im->process, CKPT_RP_LOAD_BIAS);
		*(uint64_t *)(plan + RT_PLAN_SUD_LEN) = rt_config.rt_text_size;
		*(uint64_t *)(plan + RT_PLAN_SUD_SELECTOR) = rt_in_image(im, &rt_sud_selector);
	}
}

/* The rt_sigreturn frame: return address slot, ucontext, then the xsave area, 64-byte aligned */
static uint64_t rt_build_frame(const struct rt_image *im, unsigned char *area)
{
	const unsigned char *r = im->regs;
	unsigned char *uc = area + 8;
	uint32_t fpsize = u32at(r, CKPT_RR_XSAVE_SIZE);
	unsigned char *fp = (unsigned char *)(((uint64_t)uc + 1024 + 63) & ~63UL);
	for (int i = 0; i < 1024; i++)
		area[i] = 0;
	*(uint64_t *)uc = u64at(r, CKPT_RR_UC_FLAGS);
	*(uint32_t *)(uc + 24) = 2;	/* uc_stack.ss_flags = SS_DISABLE */
	rt_memcpy(uc + RT_UC_GREGS, r + CKPT_RR_GREGS, 23 * 8);
	*(uint64_t *)(uc + RT_UC_GREGS + 23 * 8) = fpsize ? (uint64_t)fp : 0;
	*(uint64_t *)(uc + RT_UC_SIGMASK) = u64at(r, CKPT_RR_SIGMASK);
	if (fpsize)
		rt_memcpy(fp, r + CKPT_RR_SIZE, fpsize);
	return (uint64_t)uc;
}

typedef void (*rt_restorer_fn)(const unsigned char *plan);

_Noreturn void rt_restart(const char *path)
{
	static struct rt_image im;
	static struct rt_vdso_check v;
	im.path = path;
	rt_open_image(&im);
	rt_check_header(&im);
	rt_check_records(&im);
	rt_check_cpu(&im);
	rt_current_count = rt_read_maps(rt_current, RT_MAX_MAPS, rt_maps_text, sizeof rt_maps_text);
	if (rt_current_count < 0)
		rt_refuse(&im, "cannot read /proc/self/maps");
	rt_check_vdso(&im, &v);
	uint64_t hold = rt_pick_hold(&im);
	long m = rt_syscall6(__NR_mmap, (long)hold, RT_HOLD_SIZE, 3, 0x22 | 0x100000 /* FIXED_NOREPLACE */, -1, 0);
	if ((uint64_t)m != hold)
		rt_refuse(&im, "cannot map the restorer's holding area");
	/* past this point the image is known good: kernel state first, then the address space */
	rt_restore_files(&im);
	rt_restore_sigactions(&im);
	unsigned char *code = (unsigned char *)hold, *plan = code + RT_HOLD_CODE;
	unsigned char *frame = plan + RT_HOLD_PLAN + RT_HOLD_STACK;
	rt_memcpy(code, rt_restorer_code_start, (size_t)(rt_restorer_code_end - rt_restorer_code_start));
	rt_syscall3(__NR_mprotect, (long)code, RT_HOLD_CODE, 5 /* READ|EXEC */);
	rt_plan_build(&im, plan, &v, rt_build_frame(&im, frame));
	rt_call_on_stack((void (*)(void *))(void *)code, plan, frame - 64);
	for (;;)
		rt_syscall1(__NR_exit_group, CKPT_EXIT_RUNTIME);
}

/* brk after a restart: the kernel's break is the new process's, so the runtime keeps its own */
long rt_sys_brk(uint64_t addr)
{
	uint64_t top = rt_brk_top, old_end = (top + 4095) & ~4095UL, new_end = (addr + 4095) & ~4095UL;
	if (!rt_restarted)
		return rt_syscall1(__NR_brk, (long)addr);
	if (!addr || addr == top)
		return (long)top;
	if (new_end > old_end) {
		long m = rt_syscall6(__NR_mmap, (long)old_end, (long)(new_end - old_end), 3, 0x22 | 0x100000, -1, 0);
		if ((uint64_t)m != old_end)
			return (long)top;
	} else if (new_end < old_end) {
		rt_syscall2(__NR_munmap, (long)new_end, (long)(old_end - new_end));
	}
	rt_brk_top = addr;
	return (long)addr;
}
