/*
 * Checkpoint: when CKPT_SIGNAL (default SIGUSR2) arrives, write the whole process to CKPT_IMAGE
 * (docs/image-format.md) and let the program go on. The writer runs on a scratch mapping of its
 * own, left out of the image, so that nothing it saves changes while it is written; the image is
 * written to PATH.tmp, fsynced, then renamed, so a crash at any moment leaves the previous image.
 */
#include "include/rt.h"

#define RT_MAX_REGIONS	2048
#define RT_MAX_FILES	256
#define RT_MAPS_TEXT	(256 * 1024)
#define RT_RECORDS	(2 * 1024 * 1024)
#define RT_SCRATCH_STACK (128 * 1024)

int rt_ckpt_signal;
static char rt_image_path[RT_PATH_MAX];
static char rt_image_tmp[RT_PATH_MAX + 8];

struct rt_ckpt_work {
	void *uc;
	uint64_t scratch_start, scratch_end;
	struct rt_map maps[RT_MAX_REGIONS];
	char maps_text[RT_MAPS_TEXT];
	unsigned char records[RT_RECORDS];
	char linkbuf[RT_PATH_MAX];
	char fdbuf[4096];
	size_t used;		/* bytes of records[] */
	uint32_t count;		/* records */
	uint64_t data_end;	/* next free page-aligned offset in the data area */
};

#define RT_SCRATCH_SIZE	((sizeof(struct rt_ckpt_work) + RT_SCRATCH_STACK + 4095) & ~4095UL)

/* names inline, not pointers: the runtime may hold no absolute relocations */
static const struct { char name[8]; int sig; } rt_signal_names[] = {
	{ "HUP", 1 }, { "INT", 2 }, { "QUIT", 3 }, { "USR1", 10 }, { "USR2", 12 },
	{ "ALRM", 14 }, { "TERM", 15 }, { "XCPU", 24 }, { "VTALRM", 26 }, { "PROF", 27 },
};

static int rt_parse_signal(const char *v)
{
	if (v[0] == 'S' && v[1] == 'I' && v[2] == 'G')
		v += 3;
	for (unsigned i = 0; i < sizeof rt_signal_names / sizeof rt_signal_names[0]; i++)
		if (rt_streq(v, rt_signal_names[i].name))
			return rt_signal_names[i].sig;
	int n = 0;
	for (; *v >= '0' && *v <= '9'; v++)
		n = n * 10 + (*v - '0');
	return (*v || n < 1 || n > 64 || n == 9 || n == 19) ? 0 : n;
}

static void *rt_record(struct rt_ckpt_work *w, uint32_t kind, uint32_t flags, size_t payload)
{
	unsigned char *h = w->records + w->used;
	if (w->used + CKPT_RH_SIZE + payload > RT_RECORDS)
		return 0;
	for (size_t i = 0; i < CKPT_RH_SIZE + payload; i++)
		h[i] = 0;
	*(uint32_t *)(h + CKPT_RH_KIND) = kind;
	*(uint32_t *)(h + CKPT_RH_FLAGS) = flags;
	*(uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE) = (uint32_t)payload;
	w->used += CKPT_RH_SIZE + payload;
	w->count++;
	return h + CKPT_RH_SIZE;
}

static void rt_seal(unsigned char *payload)
{
	unsigned char *h = payload - CKPT_RH_SIZE;
	*(uint32_t *)(h + CKPT_RH_PAYLOAD_CRC) = rt_crc32c(0, payload, *(uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE));
	*(uint32_t *)(h + CKPT_RH_CRC) = rt_crc32c(0, h, CKPT_RH_CRC);
}

/* Size of the signal frame's xsave area: the whole extended area when the kernel marked it */
static uint32_t rt_fpstate_size(const unsigned char *fp)
{
	if (*(const uint32_t *)(fp + 464) == 0x46505853 /* FP_XSTATE_MAGIC1 */)
		return *(const uint32_t *)(fp + 468);
	return 512;
}

static int rt_add_process(struct rt_ckpt_work *w, int sig)
{
	unsigned char *p = rt_record(w, CKPT_REC_PROCESS, 0, CKPT_RP_SIZE);
	if (!p)
		return -1;
	*(uint32_t *)(p + CKPT_RP_PID) = (uint32_t)rt_syscall0(__NR_getpid);
	*(uint32_t *)(p + CKPT_RP_TID) = (uint32_t)rt_syscall0(__NR_gettid);
	*(uint32_t *)(p + CKPT_RP_PPID) = (uint32_t)rt_syscall0(__NR_getppid);
	*(uint32_t *)(p + CKPT_RP_SIGNAL) = (uint32_t)sig;
	*(uint64_t *)(p + CKPT_RP_LOAD_BIAS) = rt_load_bias;
	*(uint64_t *)(p + CKPT_RP_BRK) = rt_restarted ? rt_brk_top : (uint64_t)rt_syscall1(__NR_brk, 0);
	*(uint64_t *)(p + CKPT_RP_XFEATURES) = rt_xgetbv0();
	rt_syscall2(__NR_arch_prctl, 0x1003 /* ARCH_GET_FS */, (long)(p + CKPT_RP_FS_BASE));
	long mask = rt_syscall1(__NR_umask, 0);
	rt_syscall1(__NR_umask, mask);
	*(uint32_t *)(p + CKPT_RP_UMASK) = (uint32_t)mask;
	*(uint64_t *)(p + CKPT_RP_RSEQ_ADDR) = rt_rseq_reg.addr;
	*(uint32_t *)(p + CKPT_RP_RSEQ_LEN) = rt_rseq_reg.len;
	*(uint32_t *)(p + CKPT_RP_RSEQ_SIG) = rt_rseq_reg.sig;
	rt_seal(p);
	return 0;
}

static int rt_add_regs(struct rt_ckpt_work *w)
{
	const unsigned char *uc = w->uc;
	const unsigned char *fp = *(unsigned char *const *)(uc + RT_UC_GREGS + 23 * 8);
	uint32_t fpsize = fp ? rt_fpstate_size(fp) : 0;
	unsigned char *p = rt_record(w, CKPT_REC_REGS, 0, CKPT_RR_SIZE + fpsize);
	if (!p)
		return -1;
	*(uint64_t *)(p + CKPT_RR_UC_FLAGS) = *(const uint64_t *)uc;
	rt_memcpy(p + CKPT_RR_GREGS, uc + RT_UC_GREGS, 23 * 8);
	*(uint64_t *)(p + CKPT_RR_SIGMASK) = *(const uint64_t *)(uc + RT_UC_SIGMASK);
	*(uint32_t *)(p + CKPT_RR_XSAVE_SIZE) = fpsize;
	if (fpsize)
		rt_memcpy(p + CKPT_RR_SIZE, fp, fpsize);
	rt_seal(p);
	return 0;
}

static int rt_add_sigactions(struct rt_ckpt_work *w)
{
	unsigned char *p = rt_record(w, CKPT_REC_SIGACTIONS, 0, 64 * sizeof(struct rt_kernel_sigaction));
	if (!p)
		return -1;
	for (int sig = 1; sig <= 64; sig++)
		rt_syscall4(__NR_rt_sigaction, sig, 0, (long)(p + (sig - 1) * sizeof(struct rt_kernel_sigaction)), 8);
	rt_seal(p);
	return 0;
}

static int rt_add_region(struct rt_ckpt_work *w, const struct rt_map *m)
{
	uint32_t role = rt_map_role(m);
	int data = role == CKPT_ROLE_MEMORY && (m->prot & 1);
	size_t plen = rt_strlen(m->path) + 1;
	unsigned char *p = rt_record(w, CKPT_REC_REGION, (data ? CKPT_REGION_HAS_DATA : 0) | (m->shared ? CKPT_REGION_SHARED : 0),
				     CKPT_RG_SIZE + plen);
	if (!p)
		return -1;
	*(uint64_t *)(p + CKPT_RG_START) = m->start;
	*(uint64_t *)(p + CKPT_RG_END) = m->end;
	*(uint64_t *)(p + CKPT_RG_OFFSET) = m->offset;
	*(uint32_t *)(p + CKPT_RG_PROT) = m->prot;
	*(uint32_t *)(p + CKPT_RG_ROLE) = role;
	rt_memcpy(p + CKPT_RG_SIZE, m->path, plen);
	if (data) {
		unsigned char *h = p - CKPT_RH_SIZE;
		*(uint64_t *)(h + CKPT_RH_DATA_OFFSET) = w->data_end;	/* made absolute later */
		*(uint64_t *)(h + CKPT_RH_DATA_SIZE) = m->end - m->start;
		*(uint32_t *)(h + CKPT_RH_DATA_CRC) = rt_crc32c(0, (const void *)m->start, m->end - m->start);
		w->data_end += m->end - m->start;
	}
	rt_seal(p);
	return 0;
}

/* Regular files open in the process: path, flags and offset (pipes, sockets, ttys: not yet) */
static int rt_add_files(struct rt_ckpt_work *w, long image_fd)
{
	long dir = rt_syscall4(__NR_openat, -100, (long)"/proc/self/fd", 0200000 /* O_DIRECTORY */, 0);
	long n;
	if (dir < 0)
		return -1;
	while ((n = rt_syscall3(__NR_getdents64, dir, (long)w->fdbuf, sizeof w->fdbuf)) > 0) {
		for (long off = 0; off < n; off += *(uint16_t *)(w->fdbuf + off + 16)) {
			const char *name = w->fdbuf + off + 19;
			long fd = 0;
			if (name[0] < '0' || name[0] > '9')
				continue;
			for (const char *c = name; *c; c++)
				fd = fd * 10 + (*c - '0');
			if (fd == dir || fd == image_fd)
				continue;
			struct { uint64_t dev, ino, nlink; uint32_t mode, uid, gid, pad; uint64_t rest[12]; } st;
			if (rt_syscall2(__NR_fstat, fd, (long)&st) < 0 || (st.mode & 0170000) != 0100000)
				continue;
			char path[32] = "/proc/self/fd/";
			rt_utoa((uint64_t)fd, path + 14);
			long len = rt_syscall4(__NR_readlinkat, -100, (long)path, (long)w->linkbuf, RT_PATH_MAX - 1);
			if (len <= 0)
				continue;
			w->linkbuf[len] = 0;
			unsigned char *p = rt_record(w, CKPT_REC_FILE, 0, CKPT_RF_SIZE + (size_t)len + 1);
			if (!p)
				break;
			*(uint32_t *)(p + CKPT_RF_FD) = (uint32_t)fd;
			*(uint32_t *)(p + CKPT_RF_FLAGS) = (uint32_t)rt_syscall2(__NR_fcntl, fd, 3 /* F_GETFL */);
			*(uint64_t *)(p + CKPT_RF_OFFSET) = (uint64_t)rt_syscall3(__NR_lseek, fd, 0, 1 /* SEEK_CUR */);
			rt_memcpy(p + CKPT_RF_SIZE, w->linkbuf, (size_t)len + 1);
			rt_seal(p);
		}
	}
	rt_syscall1(__NR_close, dir);
	return 0;
}

static int rt_write_fully(long fd, const void *buf, uint64_t len, uint64_t off)
{
	const char *p = buf;
	while (len) {
		long n = rt_syscall4(__NR_pwrite64, fd, (long)p, (long)(len > (1UL << 30) ? (1UL << 30) : len), (long)off);
		if (n == -4)
			continue;
		if (n <= 0)
			return n ? (int)n : -28;
		p += n, off += (uint64_t)n, len -= (uint64_t)n;
	}
	return 0;
}

/* Moves region data offsets behind the records, then writes header, records and contents */
static int rt_write_image(struct rt_ckpt_work *w, long fd)
{
	unsigned char header[CKPT_IH_SIZE] = { 0 };
	uint64_t data_start = (CKPT_IH_SIZE + w->used + CKPT_IMAGE_PAGE - 1) & ~(uint64_t)(CKPT_IMAGE_PAGE - 1);
	for (size_t at = 0; at < w->used;) {
		unsigned char *h = w->records + at;
		if (*(uint64_t *)(h + CKPT_RH_DATA_SIZE)) {
			*(uint64_t *)(h + CKPT_RH_DATA_OFFSET) += data_start;
			*(uint32_t *)(h + CKPT_RH_CRC) = rt_crc32c(0, h, CKPT_RH_CRC);
		}
		at += CKPT_RH_SIZE + *(uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE);
	}
	*(uint64_t *)(header + CKPT_IH_MAGIC) = CKPT_IMAGE_MAGIC;
	*(uint32_t *)(header + CKPT_IH_VERSION) = CKPT_IMAGE_VERSION;
	*(uint32_t *)(header + CKPT_IH_RECORDS) = w->count;
	*(uint64_t *)(header + CKPT_IH_FILE_SIZE) = data_start + w->data_end;
	*(uint64_t *)(header + CKPT_IH_BINARY_ID) = rt_binary_id();
	*(uint32_t *)(header + CKPT_IH_CRC) = rt_crc32c(0, header, CKPT_IH_CRC);
	int r = rt_write_fully(fd, header, CKPT_IH_SIZE, 0);
	if (!r)
		r = rt_write_fully(fd, w->records, w->used, CKPT_IH_SIZE);
	for (size_t at = 0; !r && at < w->used;) {
		unsigned char *h = w->records + at;
		const unsigned char *p = h + CKPT_RH_SIZE;
		uint64_t size = *(uint64_t *)(h + CKPT_RH_DATA_SIZE);
		if (size)
			r = rt_write_fully(fd, (const void *)*(const uint64_t *)(p + CKPT_RG_START), size, *(uint64_t *)(h + CKPT_RH_DATA_OFFSET));
		at += CKPT_RH_SIZE + *(uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE);
	}
	if (!r && rt_syscall2(__NR_ftruncate, fd, (long)(data_start + w->data_end)) < 0)
		r = -5;
	return r;
}

/*
 * The scratch mapping is left out, but the kernel may have merged it with a neighbouring anonymous
 * mapping of the program's into one region: keep the parts of that region outside it.
 */
static int rt_add_outside_scratch(struct rt_ckpt_work *w, const struct rt_map *m)
{
	struct rt_map part = *m;
	if (m->end <= w->scratch_start || m->start >= w->scratch_end)
		return rt_add_region(w, m);
	if (m->start < w->scratch_start) {
		part.end = w->scratch_start;
		if (rt_add_region(w, &part))
			return -1;
	}
	if (m->end > w->scratch_end) {
		part.start = w->scratch_end;
		part.end = m->end;
		part.offset = m->offset + (w->scratch_end - m->start);
		if (rt_add_region(w, &part))
			return -1;
	}
	return 0;
}

static int rt_collect(struct rt_ckpt_work *w, int sig, long image_fd)
{
	long n = rt_read_maps(w->maps, RT_MAX_REGIONS, w->maps_text, RT_MAPS_TEXT);
	if (n < 0 || rt_add_process(w, sig) || rt_add_regs(w) || rt_add_sigactions(w))
		return -1;
	for (long i = 0; i < n; i++) {
		const struct rt_map *m = &w->maps[i];
		if (!rt_map_is_vsyscall(m) && rt_add_outside_scratch(w, m))
			return -1;
	}
	return rt_add_files(w, image_fd);
}

static void rt_report_failure(long err)
{
	char msg[64] = "ckpt: checkpoint failed (error ";
	char *e = rt_utoa((uint64_t)-err, msg + rt_strlen(msg));
	rt_memcpy(e, "), previous image kept\n", 24);
	rt_write_all(2, msg, rt_strlen(msg));
}

static void rt_checkpoint_on_scratch(void *arg)
{
	struct rt_ckpt_work *w = arg;
	long fd = rt_syscall4(__NR_openat, -100, (long)rt_image_tmp, 01 | 0100 | 01000 | 02000000 /* WRONLY CREAT TRUNC CLOEXEC */, 0600);
	long r = fd;
	if (fd >= 0) {
		r = rt_collect(w, rt_ckpt_signal, fd) ? -12 : 0;
		if (!r)
			r = rt_write_image(w, fd);
		if (!r)
			r = rt_syscall1(__NR_fsync, fd);
		rt_syscall1(__NR_close, fd);
	}
	if (!r)
		r = rt_syscall2(__NR_rename, (long)rt_image_tmp, (long)rt_image_path);
	if (r < 0) {
		rt_syscall1(__NR_unlink, (long)rt_image_tmp);
		rt_report_failure(r);
	}
}

static void rt_on_checkpoint_signal(int sig, void *si, void *uc)
{
	(void)sig, (void)si;
	long scratch = rt_syscall6(__NR_mmap, 0, RT_SCRATCH_SIZE, 3, 0x22 /* PRIVATE|ANONYMOUS */, -1, 0);
	if (scratch < 0 && scratch > -4096) {
		rt_report_failure(scratch);
		return;
	}
	struct rt_ckpt_work *w = (void *)scratch;
	w->uc = uc;
	w->scratch_start = (uint64_t)scratch;
	w->scratch_end = (uint64_t)scratch + RT_SCRATCH_SIZE;
	rt_rseq_pause();	/* or the kernel may change memory between its checksum and its write */
	rt_call_on_stack(rt_checkpoint_on_scratch, w, (char *)scratch + RT_SCRATCH_SIZE);
	rt_rseq_resume();
	rt_syscall2(__NR_munmap, scratch, RT_SCRATCH_SIZE);
}

/* A tag for the binary an image belongs to: same relinked file, same config block */
uint64_t rt_binary_id(void)
{
	return rt_crc32c(0, &rt_config, sizeof rt_config);
}

void rt_checkpoint_init(char **envp)
{
	const char *path = rt_getenv(envp, "CKPT_IMAGE"), *sig = rt_getenv(envp, "CKPT_SIGNAL");
	if (!path || !*path || rt_absolute_path(rt_image_path, path) < 0)
		return;
	size_t len = rt_strlen(rt_image_path);
	rt_memcpy(rt_image_tmp, rt_image_path, len);
	rt_memcpy(rt_image_tmp + len, ".tmp", 5);
	rt_ckpt_signal = sig ? rt_parse_signal(sig) : 12 /* SIGUSR2 */;
	if (!rt_ckpt_signal)
		return;
	struct rt_kernel_sigaction a = { (void *)rt_on_checkpoint_signal,
		RT_SA_SIGINFO | RT_SA_RESTORER | RT_SA_RESTART, (void *)rt_restorer, 0 };
	rt_syscall4(__NR_rt_sigaction, rt_ckpt_signal, (long)&a, 0, 8);
	rt_reserved_mask |= RT_SIGBIT(rt_ckpt_signal);
}
