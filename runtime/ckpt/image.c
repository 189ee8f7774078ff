/*
 * The image checks: everything an image holds is checked before a restart destroys anything:
 * header, every record's bounds and checksums, every data byte (CRC-32C), the binary it was made
 * by, the CPU's xsave features. A refused image exits CKPT_EXIT_BAD_IMAGE with one line on
 * stderr, the process untouched. docs/image-format.md is the format.
 */
#include "arch/x86_64/cpu.h"
#include "ckpt/image.h"

_Noreturn void rt_refuse_path(const struct rt_image *im, const char *why, const char *path)
{
	const char *parts[] = { "ckpt: cannot restart from ", im->name, ": ", why, path, "\n" };
	rt_write_line(parts, 6);
	rt_exit(CKPT_EXIT_BAD_IMAGE);
}

_Noreturn void rt_refuse(const struct rt_image *im, const char *why)
{
	rt_refuse_path(im, why, "");
}

void rt_warn(const char *what, const char *path, const char *why)
{
	const char *parts[] = { "ckpt: warning: ", what, " ", path, " ", why, "\n" };
	rt_write_line(parts, 7);
}

static void rt_open_image(struct rt_image *im)
{
	struct { uint64_t dev, ino, nlink; uint32_t mode, uid, gid, pad; uint64_t rdev; int64_t size; uint64_t rest[10]; } st;
	im->fd = rt_syscall4(__NR_openat, AT_FDCWD, (long)im->path, O_CLOEXEC, 0);
	if (im->fd < 0)
		rt_refuse(im, "cannot open it");
	if (rt_syscall2(__NR_fstat, im->fd, (long)&st) < 0 || (st.mode & S_IFMT) != S_IFREG)
		rt_refuse(im, "not a regular file");
	if (st.size < CKPT_IH_SIZE)
		rt_refuse(im, "truncated (shorter than an image header)");
	im->size = (uint64_t)st.size;
	im->dev = st.dev;
	im->ino = st.ino;
	long m = rt_syscall6(__NR_mmap, 0, (long)im->size, PROT_READ, MAP_PRIVATE, im->fd, 0);
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

/* Extents in order, apart, not empty, inside the region, and as many pages as the data holds */
static int rt_check_extents(const unsigned char *p, uint32_t size, uint32_t at, uint64_t dsize)
{
	uint64_t pages = (u64at(p, CKPT_RG_END) - u64at(p, CKPT_RG_START)) / CKPT_IMAGE_PAGE, next = 0, stored = 0;
	if (at > size || (size - at) % CKPT_RE_SIZE)
		return 0;
	for (; at < size; at += CKPT_RE_SIZE) {
		uint64_t first = u64at(p, at + CKPT_RE_FIRST), count = u64at(p, at + CKPT_RE_COUNT);
		if (first < next || !count || first > pages || count > pages - first)
			return 0;
		next = first + count;
		stored += count;
	}
	return stored * CKPT_IMAGE_PAGE == dsize;
}

static int rt_check_region(const unsigned char *h, const unsigned char *p, uint32_t size)
{
	uint32_t flags = u32at(h, CKPT_RH_FLAGS), at = rt_region_extents_at(p, size);
	uint64_t dsize = u64at(h, CKPT_RH_DATA_SIZE);
	return size > CKPT_RG_SIZE && at && u64at(p, CKPT_RG_START) < u64at(p, CKPT_RG_END) &&
	       !(u64at(p, CKPT_RG_START) & 4095) && !(u64at(p, CKPT_RG_END) & 4095) &&
	       u32at(p, CKPT_RG_ROLE) <= CKPT_ROLE_VDSO && !(flags & CKPT_REGION_BINARY && !(flags & CKPT_REGION_FILE)) &&
	       !(flags & CKPT_REGION_HAS_DATA) == !dsize && rt_check_extents(p, size, at, dsize) &&
	       (u32at(p, CKPT_RG_ROLE) == CKPT_ROLE_MEMORY || !dsize);
}

/* A thread's slot in the runtime's table; the others' registers whole, with a bounded xsave area */
static int rt_check_thread(const unsigned char *p, uint32_t size)
{
	if (size < CKPT_RT_SIZE || u32at(p, CKPT_RT_SLOT) >= RT_THREAD_SLOTS)
		return 0;
	if (u32at(p, CKPT_RT_FLAGS) & CKPT_THREAD_LEADER)
		return 1;
	uint32_t xsave = size >= CKPT_RT_REGS + CKPT_RR_SIZE ? u32at(p, CKPT_RT_REGS + CKPT_RR_XSAVE_SIZE) : ~0u;
	return xsave <= RT_MAX_XSAVE && size >= CKPT_RT_REGS + CKPT_RR_SIZE + xsave;
}

/*
 * The data area starts at the first page after the records, zeros before it (so that no byte of
 * the file escapes a check: records dropped from the count would sit there), and contents follow
 * each other in record order without overlapping.
 */
static void rt_check_layout(const struct rt_image *im, uint64_t records_end)
{
	uint64_t data_start = (records_end + CKPT_IMAGE_PAGE - 1) & ~(uint64_t)(CKPT_IMAGE_PAGE - 1);
	uint64_t at = CKPT_IH_SIZE, next = data_start;
	for (uint64_t i = records_end; i < data_start && i < im->size; i++)
		if (im->base[i])
			rt_refuse(im, "unexpected bytes between the records and the memory contents");
	for (uint32_t i = 0; i < im->records; i++) {
		const unsigned char *h = im->base + at;
		uint64_t doff = u64at(h, CKPT_RH_DATA_OFFSET), dsize = u64at(h, CKPT_RH_DATA_SIZE);
		if (dsize && doff < next)
			rt_refuse(im, "memory contents overlap the records or each other");
		if (dsize)
			next = doff + dsize;
		at += CKPT_RH_SIZE + u32at(h, CKPT_RH_PAYLOAD_SIZE);
	}
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
		if (dsize && im->pages != RT_PAGES_LAZY && rt_crc32c(0, im->base + doff, dsize) != u32at(h, CKPT_RH_DATA_CRC))
			rt_refuse(im, "memory contents are corrupt (checksum)");
		switch (u32at(h, CKPT_RH_KIND)) {
		case CKPT_REC_PROCESS:
			if (size < CKPT_RP_SIZE) rt_refuse(im, "process record too short (image from an older runtime)");
			im->process = p;
			break;
		case CKPT_REC_CWD:
			if (!size || p[size - 1]) rt_refuse(im, "working directory record is inconsistent");
			im->cwd = p;
			break;
		case CKPT_REC_RLIMITS:
			if (size < CKPT_RLIMITS_COUNT * 16) rt_refuse(im, "resource limit record too short");
			im->rlimits = p;
			break;
		case CKPT_REC_SIGINFO:
			im->queued = p;
			im->nqueued = size / CKPT_SIGINFO_SIZE;
			break;
		case CKPT_REC_ITIMERS:
			if (size < 3 * CKPT_ITIMER_SIZE) rt_refuse(im, "interval timer record too short");
			im->itimers = p;
			break;
		case CKPT_REC_FILE:
			if (size < CKPT_RF_SIZE || u32at(p, CKPT_RF_PATH_AT) >= size || p[size - 1] ||
			    (u32at(p, CKPT_RF_SAME_AS) != ~0u && u32at(p, CKPT_RF_SAME_AS) >= u32at(p, CKPT_RF_FD)))
				rt_refuse(im, "an open file record is inconsistent");
			break;
		case CKPT_REC_REGS:
			if (size < CKPT_RR_SIZE || size < CKPT_RR_SIZE + u32at(p, CKPT_RR_XSAVE_SIZE)) rt_refuse(im, "register record too short");
			im->regs = p;
			break;
		case CKPT_REC_SIGACTIONS:
			if (size < 64 * sizeof(struct rt_kernel_sigaction)) rt_refuse(im, "signal record too short");
			im->sigactions = p;
			break;
		case CKPT_REC_THREAD:
			if (!rt_check_thread(p, size))
				rt_refuse(im, "a thread record is inconsistent");
			if (u32at(p, CKPT_RT_FLAGS) & CKPT_THREAD_LEADER)
				im->leader = p;
			else
				im->threads++;
			break;
		case CKPT_REC_REGION:
			if (!rt_check_region(h, p, size))
				rt_refuse(im, "a memory region record is inconsistent");
			break;
		default:
			break;	/* kinds added later are skipped: fields are only ever added */
		}
		at += CKPT_RH_SIZE + size;
	}
	if (!im->process || !im->regs || !im->sigactions)
		rt_refuse(im, "image lacks its process, register or signal record");
	if (im->threads >= RT_MAX_THREADS)
		rt_refuse(im, "image has more threads than this runtime restores");
	rt_check_layout(im, at);
}

/* Calls fn(arg, header, payload) for every record of one kind */
void rt_each(const struct rt_image *im, uint32_t kind, rt_record_fn fn, void *arg)
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

/* The image at im->path, opened, mapped and checked whole; refused (no return) if anything is wrong */
void rt_check_image(struct rt_image *im)
{
	rt_open_image(im);
	rt_check_header(im);
	rt_check_records(im);
	rt_check_cpu(im);
}
