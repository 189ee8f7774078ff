/*
 * The records of a checkpoint image (docs/image-format.md), built from the interrupted context, the
 * kernel's answers about this process, and /proc/self. Each record is sealed with its checksums as
 * soon as it is complete; memory contents are checksummed by the writer as it writes them.
 */
#include "arch/x86_64/cpu.h"
#include "ckpt/save.h"

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

/* A record whose payload is one NUL-terminated string */
static int rt_add_string(struct rt_ckpt_work *w, uint32_t kind, const char *s, size_t len)
{
	unsigned char *p = rt_record(w, kind, 0, len + 1);
	if (!p)
		return -1;
	rt_memcpy(p, s, len);
	rt_seal(p);
	return 0;
}

/* Size of the signal frame's xsave area: the whole extended area when the kernel marked it */
static uint32_t rt_fpstate_size(const unsigned char *fp)
{
	if (*(const uint32_t *)(fp + 464) == FP_XSTATE_MAGIC1)
		return *(const uint32_t *)(fp + 468);
	return 512;
}

int rt_add_process(struct rt_ckpt_work *w)
{
	const unsigned char *uc = w->uc;
	unsigned char *p = rt_record(w, CKPT_REC_PROCESS, 0, CKPT_RP_SIZE);
	if (!p)
		return -1;
	*(uint32_t *)(p + CKPT_RP_PID) = (uint32_t)rt_ids_virtual.pid;
	*(uint32_t *)(p + CKPT_RP_TID) = (uint32_t)rt_ids_virtual.tid;
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
	*(uint64_t *)(p + CKPT_RP_RSEQ_ADDR) = rt_rseq_reg.addr;
	*(uint32_t *)(p + CKPT_RP_RSEQ_LEN) = rt_rseq_reg.len;
	*(uint32_t *)(p + CKPT_RP_RSEQ_SIG) = rt_rseq_reg.sig;
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

int rt_add_regs(struct rt_ckpt_work *w)
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

int rt_add_sigactions(struct rt_ckpt_work *w)
{
	unsigned char *p = rt_record(w, CKPT_REC_SIGACTIONS, 0, 64 * sizeof(struct rt_kernel_sigaction));
	if (!p)
		return -1;
	for (int sig = 1; sig <= 64; sig++)
		rt_syscall4(__NR_rt_sigaction, sig, 0, (long)(p + (sig - 1) * sizeof(struct rt_kernel_sigaction)), RT_SIGSET_SIZE);
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
		w->data_end += m->end - m->start;
	}
	rt_seal(p);	/* the writer adds the contents' checksum and seals the header again */
	return 0;
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

int rt_add_memory(struct rt_ckpt_work *w)
{
	long n = rt_read_maps(w->maps, RT_MAX_REGIONS, w->maps_text, RT_MAPS_TEXT);
	if (n < 0)
		return -1;
	for (long i = 0; i < n; i++)
		if (!rt_map_is_vsyscall(&w->maps[i]) && rt_add_outside_scratch(w, &w->maps[i]))
			return -1;
	return 0;
}

static uint32_t rt_file_type(long fd, const struct rt_stat *st, const char *path)
{
	unsigned char termios[64];
	switch (st->mode & 0170000) {
	case 0100000:
		return rt_starts_with(path, "anon_inode:") ? CKPT_FT_OTHER : CKPT_FT_REGULAR;
	case 0040000:
		return CKPT_FT_DIRECTORY;
	case 0020000:
		return rt_syscall3(__NR_ioctl, fd, TCGETS, (long)termios) == 0 ? CKPT_FT_TERMINAL : CKPT_FT_CHAR;
	case 0010000:
		return CKPT_FT_PIPE;
	case 0140000:
		return CKPT_FT_SOCKET;
	default:
		return CKPT_FT_OTHER;
	}
}

/* The lowest descriptor recorded so far that shares fd's open file description, or ~0 */
static uint32_t rt_shared_with(const struct rt_ckpt_work *w, long fd)
{
	for (int i = 0; i < w->nfds; i++)
		if (rt_syscall5(__NR_kcmp, (long)rt_ids_real.pid, (long)rt_ids_real.pid, KCMP_FILE, w->fds[i], fd) == 0)
			return (uint32_t)w->fds[i];
	return ~0u;
}

/*
 * Descriptors the program inherited when it started, 0 to 1023: a launcher's pipes and sockets
 * (a shell's job control, a batch system's monitoring) are listed in the image but not warned
 * about at every checkpoint, into the program's own stderr.
 */
static uint64_t rt_inherited[16];

static int rt_note_inherited(void *arg, long fd)
{
	(void)arg;
	if (fd < 1024)
		rt_inherited[fd / 64] |= 1ULL << (fd % 64);
	return 0;
}

void rt_note_inherited_fds(void)
{
	char buf[1024];
	rt_each_fd(buf, sizeof buf, rt_note_inherited, 0);
}

/* Pipes, sockets and the like cannot be rebuilt: say so when it happens, not only at restart */
static void rt_warn_unrestorable(long fd, const char *path)
{
	char msg[64] = "ckpt: warning: descriptor ";
	char *e = rt_utoa((uint64_t)fd, msg + rt_strlen(msg));
	rt_put(e, " (");
	const char *parts[] = { msg, path, ") cannot be restored (docs/limits.md)\n" };
	rt_write_line(parts, 3);
}

static int rt_add_file(struct rt_ckpt_work *w, long fd)
{
	struct rt_stat st;
	char name[32];
	long len = rt_syscall4(__NR_readlinkat, AT_FDCWD, (long)rt_fd_path(name, fd), (long)w->linkbuf, RT_PATH_MAX - 1);
	if (len <= 0 || rt_syscall2(__NR_fstat, fd, (long)&st) < 0)
		return 0;
	w->linkbuf[len] = 0;
	uint32_t type = rt_file_type(fd, &st, w->linkbuf);
	unsigned char *p = rt_record(w, CKPT_REC_FILE, 0, CKPT_RF_SIZE + (size_t)len + 1);
	if (!p)
		return -1;
	long offset = rt_syscall3(__NR_lseek, fd, 0, SEEK_CUR);
	*(uint32_t *)(p + CKPT_RF_FD) = (uint32_t)fd;
	*(uint32_t *)(p + CKPT_RF_FLAGS) = (uint32_t)rt_syscall2(__NR_fcntl, fd, F_GETFL);
	*(uint64_t *)(p + CKPT_RF_OFFSET) = offset < 0 ? 0 : (uint64_t)offset;
	*(uint32_t *)(p + CKPT_RF_TYPE) = type;
	*(uint32_t *)(p + CKPT_RF_FD_FLAGS) = (uint32_t)rt_syscall2(__NR_fcntl, fd, F_GETFD);
	*(uint64_t *)(p + CKPT_RF_FILE_SIZE) = (uint64_t)st.size;
	*(uint64_t *)(p + CKPT_RF_MTIME_SEC) = st.mtime_sec;
	*(uint32_t *)(p + CKPT_RF_MTIME_NSEC) = (uint32_t)st.mtime_nsec;
	*(uint32_t *)(p + CKPT_RF_PATH_AT) = CKPT_RF_SIZE;
	*(uint32_t *)(p + CKPT_RF_SAME_AS) = rt_shared_with(w, fd);
	if (type == CKPT_FT_TERMINAL &&
	    rt_syscall3(__NR_ioctl, fd, TCGETS, (long)(p + CKPT_RF_TERMIOS)) == 0 &&
	    rt_syscall3(__NR_ioctl, fd, TIOCGWINSZ, (long)(p + CKPT_RF_WINSIZE)) == 0)
		*(uint32_t *)(p - CKPT_RH_SIZE + CKPT_RH_FLAGS) |= CKPT_FILE_HAS_TERMIOS;
	rt_memcpy(p + CKPT_RF_SIZE, w->linkbuf, (size_t)len + 1);
	rt_seal(p);
	if (w->nfds < RT_MAX_FILES)
		w->fds[w->nfds++] = (int)fd;
	if (fd > 2 && type >= CKPT_FT_PIPE && !(fd < 1024 && (rt_inherited[fd / 64] >> (fd % 64) & 1)))
		rt_warn_unrestorable(fd, w->linkbuf);
	return 0;
}

static int rt_add_file_of(void *arg, long fd)
{
	struct rt_ckpt_work *w = arg;
	return fd == w->image_fd || fd == rt_remote_fd || fd == rt_cursors_fd ? 0 : rt_add_file(w, fd);	/* the runtime's own */
}

/* Every descriptor of the program, in increasing order (getdents lists /proc/self/fd that way) */
int rt_add_files(struct rt_ckpt_work *w)
{
	w->nfds = 0;
	return rt_each_fd(w->fdbuf, sizeof w->fdbuf, rt_add_file_of, w);
}

int rt_add_cwd_and_exe(struct rt_ckpt_work *w)
{
	long len = rt_syscall2(__NR_getcwd, (long)w->linkbuf, RT_PATH_MAX);
	if (len > 0 && rt_add_string(w, CKPT_REC_CWD, w->linkbuf, (size_t)len - 1))
		return -1;
	len = rt_syscall4(__NR_readlinkat, AT_FDCWD, (long)"/proc/self/exe", (long)w->linkbuf, RT_PATH_MAX - 1);
	if (len > 0 && rt_add_string(w, CKPT_REC_EXE, w->linkbuf, (size_t)len))
		return -1;
	return 0;
}

int rt_add_limits_and_timers(struct rt_ckpt_work *w)
{
	unsigned char *p = rt_record(w, CKPT_REC_RLIMITS, 0, CKPT_RLIMITS_COUNT * 16);
	if (!p)
		return -1;
	for (int r = 0; r < CKPT_RLIMITS_COUNT; r++)
		if (rt_syscall4(__NR_prlimit64, 0, r, 0, (long)(p + r * 16)) < 0)
			*(uint64_t *)(p + r * 16) = *(uint64_t *)(p + r * 16 + 8) = ~0ULL;
	rt_seal(p);
	p = rt_record(w, CKPT_REC_ITIMERS, 0, 3 * CKPT_ITIMER_SIZE);
	if (!p)
		return -1;
	for (int which = 0; which < 3; which++)
		rt_syscall2(__NR_getitimer, which, (long)(p + which * CKPT_ITIMER_SIZE));
	rt_seal(p);
	return 0;
}

/*
 * Signals pending at the checkpoint, with their siginfo (a sigqueue value, the sender): taken off
 * the queue one by one and queued again at once, in the same order, so the program loses none.
 * A restart queues them the same way.
 */
int rt_add_queued_signals(struct rt_ckpt_work *w)
{
	uint64_t pending = 0;
	struct { int64_t sec, nsec; } now = { 0, 0 };
	int n = 0;
	rt_syscall2(__NR_rt_sigpending, (long)&pending, RT_SIGSET_SIZE);
	pending &= ~rt_reserved_mask;
	for (int sig = 1; sig <= 64 && n < RT_MAX_QUEUED; sig++) {
		uint64_t set = RT_SIGBIT(sig);
		if (!(pending & set))
			continue;
		while (n < RT_MAX_QUEUED && rt_syscall4(__NR_rt_sigtimedwait, (long)&set, (long)w->queued[n], (long)&now, RT_SIGSET_SIZE) == sig)
			n++;
	}
	for (int i = 0; i < n; i++)
		rt_syscall4(__NR_rt_tgsigqueueinfo, (long)rt_ids_real.pid, (long)rt_ids_real.tid,
			    *(const int *)w->queued[i], (long)w->queued[i]);
	unsigned char *p = rt_record(w, CKPT_REC_SIGINFO, 0, (size_t)n * CKPT_SIGINFO_SIZE);
	if (!p)
		return -1;
	rt_memcpy(p, w->queued, (size_t)n * CKPT_SIGINFO_SIZE);
	rt_seal(p);
	return 0;
}
