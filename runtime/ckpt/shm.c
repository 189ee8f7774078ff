/*
 * System V shared memory (shmget, shmat). Saved: for every region mapped from a segment
 * ("/SYSVkey (deleted)" in /proc/self/maps, its inode the segment's id), the segment's size, key,
 * mode and attach count from /proc/sysvipc/shm; the region record stores its contents whole.
 *
 * Restored before the teardown, each at an address free now and in the image, then moved into
 * place by the restorer's remaps (mremap keeps it a segment's attach):
 *   removed (IPC_RMID), attached by this process alone   a new segment with the stored contents,
 *                                                         removed at once: no id to keep;
 *   not removed                                          the segment with that id, when it is still
 *                                                         there with its key and size (it outlives
 *                                                         the process, as a file does), else refused:
 *                                                         its id cannot be given again unprivileged;
 *   removed and attached elsewhere too                   refused: it is shared with a process the
 *                                                         image does not hold (warned at the checkpoint).
 */
#include "ckpt/save.h"
#include "ckpt/restore.h"
#include <linux/ipc.h>

#define RT_SHM_DEST	01000		/* linux/shm.h: the segment is removed once the last attach goes */
#define RT_SHM_EXEC	0100000
#define RT_MAX_SHM	64
#define RT_SHM_STAGE	(1ULL << 32)	/* where attaches wait, past the restorer's holding area */

static char rt_sysvipc[64 * 1024];	/* a restart's: a checkpoint reads into its work area */

struct rt_segment { uint64_t id, key, mode, bytes, attaches; };

static const char *rt_column(const char *s, uint64_t *v, int octal)
{
	uint64_t x = 0;
	int negative = 0;
	while (*s == ' ')
		s++;
	if (*s == '-')
		negative = 1, s++;
	for (; *s >= '0' && *s <= '9'; s++)
		x = x * (octal ? 8 : 10) + (uint64_t)(*s - '0');
	*v = negative ? (uint64_t)(uint32_t)-(int64_t)x : x;
	return s;
}

/* The segment `id` as /proc/sysvipc/shm lists it ("key shmid perms size cpid lpid nattch ..."); 0 when not listed */
static int rt_find_segment(uint64_t id, struct rt_segment *seg, char *text, size_t size)
{
	long n = rt_read_file("/proc/sysvipc/shm", text, size - 1);
	text[n > 0 ? n : 0] = 0;
	for (const char *s = text; *s;) {
		uint64_t pid;
		const char *t = rt_column(s, &seg->key, 0);
		t = rt_column(t, &seg->id, 0);
		t = rt_column(t, &seg->mode, 1);
		t = rt_column(t, &seg->bytes, 0);
		t = rt_column(rt_column(t, &pid, 0), &pid, 0);
		rt_column(t, &seg->attaches, 0);
		if (seg->id == id && s != text)	/* the first line is the header */
			return 1;
		while (*s && *s++ != '\n')
			;
	}
	return 0;
}

static int rt_is_segment(const char *path)
{
	return rt_starts_with(path, "/SYSV");
}

static void rt_warn_shared_segment(uint64_t id)
{
	char num[24];
	rt_utoa(id, num);
	rt_warn("System V shared memory segment", num, "is removed and attached by another process too: a restart will "
		"refuse this image (docs/limits.md)");
	rt_note_unrestorable();
}

/* After the memory: the segments of the regions rt_save_memory read (w->maps) */
int rt_save_shm(struct rt_ckpt_work *w, long nmaps)
{
	unsigned char *p = rt_record(w, CKPT_REC_SYSV_SHM, 0, 0);
	if (!p)
		return -1;
	for (long i = 0; i < nmaps; i++) {
		const struct rt_map *m = &w->maps[i];
		struct rt_segment seg;
		if (!m->shared || !rt_is_segment(m->path) || !rt_find_segment(m->inode, &seg, w->proc_text, RT_PROC_TEXT))
			continue;
		if ((seg.mode & RT_SHM_DEST) && seg.attaches > 1)
			rt_warn_shared_segment(seg.id);
		unsigned char *e = rt_record_grow(w, p, CKPT_SM_SIZE);
		if (!e)
			return -1;
		*(uint64_t *)(e + CKPT_SM_START) = m->start;
		*(uint64_t *)(e + CKPT_SM_BYTES) = seg.bytes;
		*(uint32_t *)(e + CKPT_SM_ID) = (uint32_t)seg.id;
		*(uint32_t *)(e + CKPT_SM_KEY) = (uint32_t)seg.key;
		*(uint32_t *)(e + CKPT_SM_MODE) = (uint32_t)seg.mode;
		*(uint32_t *)(e + CKPT_SM_ATTACHES) = (uint32_t)seg.attaches;
	}
	rt_seal(p);
	return 0;
}

static struct { uint64_t from, len, to; } rt_placed[RT_MAX_SHM];
static int rt_nplaced;

struct rt_shm_walk { const struct rt_image *im; uint64_t stage; const unsigned char *entry; };

_Noreturn static void rt_refuse_segment(const struct rt_image *im, const char *why, uint32_t id)
{
	char num[24];
	rt_utoa(id, num);
	rt_refuse_path(im, why, num);
}

/* The stored pages of region record h/p, read into the segment attached at `at` */
static void rt_fill_segment(const struct rt_image *im, const unsigned char *h, const unsigned char *p, uint64_t at)
{
	uint32_t size = u32at(h, CKPT_RH_PAYLOAD_SIZE);
	uint64_t data = u64at(h, CKPT_RH_DATA_OFFSET);
	for (uint32_t e = rt_region_extents_at(p, size); u64at(h, CKPT_RH_DATA_SIZE) && e + CKPT_RE_SIZE <= size; e += CKPT_RE_SIZE) {
		uint64_t bytes = u64at(p, e + CKPT_RE_COUNT) * CKPT_IMAGE_PAGE;
		rt_memcpy((void *)(at + u64at(p, e + CKPT_RE_FIRST) * CKPT_IMAGE_PAGE), im->base + data, bytes);
		data += bytes;
	}
}

/* Segment entry e of region h/p attached at `stage`: the old one again, or a new removed one */
static void rt_attach_segment(struct rt_shm_walk *s, const unsigned char *h, const unsigned char *p)
{
	const unsigned char *e = s->entry;
	uint32_t id = u32at(e, CKPT_SM_ID), mode = u32at(e, CKPT_SM_MODE), prot = u32at(p, CKPT_RG_PROT);
	uint64_t len = u64at(p, CKPT_RG_END) - u64at(p, CKPT_RG_START);
	long shmid;
	struct rt_segment now;
	if (u64at(p, CKPT_RG_OFFSET) || (u64at(e, CKPT_SM_BYTES) + CKPT_IMAGE_PAGE - 1) / CKPT_IMAGE_PAGE * CKPT_IMAGE_PAGE != len)
		rt_refuse_segment(s->im, "a System V shared memory segment was attached only in part: id ", id);
	if (mode & RT_SHM_DEST) {
		if (u32at(e, CKPT_SM_ATTACHES) > 1)
			rt_refuse_segment(s->im, "a removed System V shared memory segment was attached by another process too: id ", id);
		shmid = rt_syscall3(__NR_shmget, IPC_PRIVATE, (long)u64at(e, CKPT_SM_BYTES), IPC_CREAT | (mode & 0777));
	} else {
		if (!rt_find_segment(id, &now, rt_sysvipc, sizeof rt_sysvipc) || now.key != u32at(e, CKPT_SM_KEY) || now.bytes != u64at(e, CKPT_SM_BYTES) ||
		    (now.mode & RT_SHM_DEST))
			rt_refuse_segment(s->im, "a System V shared memory segment is gone (its id cannot be given again): id ", id);
		shmid = id;
	}
	/* read-write (and executable if it was) so that it can be filled and given any protection */
	long at = shmid < 0 ? shmid : rt_syscall3(__NR_shmat, shmid, (long)s->stage, prot & PROT_EXEC ? RT_SHM_EXEC : 0);
	if (at < 0 && at > -4096)
		rt_refuse_segment(s->im, "a System V shared memory segment cannot be attached again: id ", id);
	if (mode & RT_SHM_DEST) {
		rt_fill_segment(s->im, h, p, (uint64_t)at);
		rt_syscall3(__NR_shmctl, shmid, IPC_RMID, 0);
	}
	if (prot != (PROT_READ | PROT_WRITE))
		rt_syscall3(__NR_mprotect, at, (long)len, prot);
	rt_placed[rt_nplaced].from = (uint64_t)at;
	rt_placed[rt_nplaced].len = len;
	rt_placed[rt_nplaced++].to = u64at(p, CKPT_RG_START);
	s->stage += len;
}

static void rt_match_region(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_shm_walk *s = arg;
	if (u64at(p, CKPT_RG_START) == u64at(s->entry, CKPT_SM_START) && (u32at(h, CKPT_RH_FLAGS) & CKPT_REGION_SHARED))
		rt_attach_segment(s, h, p);
}

static int rt_stage_clashes(const struct rt_image *im, uint64_t lo, uint64_t hi);

static void rt_place_segments(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_shm_walk *s = arg;
	uint32_t size = u32at(h, CKPT_RH_PAYLOAD_SIZE);
	for (uint32_t at = 0; at + CKPT_SM_SIZE <= size; at += CKPT_SM_SIZE) {
		if (rt_nplaced == RT_MAX_SHM)
			rt_refuse(s->im, "more System V shared memory attaches than a restart can place");
		s->entry = p + at;
		int before = rt_nplaced;
		uint64_t len = (u64at(s->entry, CKPT_SM_BYTES) + CKPT_IMAGE_PAGE - 1) & ~(uint64_t)(CKPT_IMAGE_PAGE - 1);
		if (rt_stage_clashes(s->im, s->stage, s->stage + len))
			rt_refuse(s->im, "no free address range to attach System V shared memory at");
		rt_each(s->im, CKPT_REC_REGION, rt_match_region, s);
		if (rt_nplaced == before)
			rt_refuse_segment(s->im, "a System V shared memory record names no region: id ", u32at(s->entry, CKPT_SM_ID));
	}
}

/* Before the region files: every segment attached where it waits for the restorer's remaps */
void rt_prepare_shm(const struct rt_image *im, uint64_t hold)
{
	struct rt_shm_walk s = { im, hold + RT_SHM_STAGE, 0 };
	rt_nplaced = 0;
	rt_each(im, CKPT_REC_SYSV_SHM, rt_place_segments, &s);
}

/* Whether the region at start is a segment placed by rt_prepare_shm (its remap maps it) */
int rt_shm_placed(uint64_t start)
{
	for (int i = 0; i < rt_nplaced; i++)
		if (rt_placed[i].to == start)
			return 1;
	return 0;
}

void rt_prepare_shm_remaps(struct rt_plan_builder *b)
{
	for (int i = 0; i < rt_nplaced; i++) {
		rt_plan_u64(b, rt_placed[i].from);
		rt_plan_u64(b, rt_placed[i].len);
		rt_plan_u64(b, rt_placed[i].to);
		(*(uint64_t *)(b->plan + RT_PLAN_REMAPS))++;
	}
}

struct rt_clash { uint64_t lo, hi; int clash; };

static void rt_region_clash(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_clash *c = arg;
	(void)h;
	if (u64at(p, CKPT_RG_START) < c->hi && c->lo < u64at(p, CKPT_RG_END))
		c->clash = 1;
}

/* [lo, hi) is taken in the image, or now */
static int rt_stage_clashes(const struct rt_image *im, uint64_t lo, uint64_t hi)
{
	struct rt_clash c = { lo, hi, rt_taken_now(lo, hi) };
	rt_each(im, CKPT_REC_REGION, rt_region_clash, &c);
	return c.clash;
}
