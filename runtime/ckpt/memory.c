/*
 * Memory regions. Saved: every mapping of /proc/self/maps but the vsyscall page and the
 * checkpoint's own scratch mapping, one region record each, readable private memory with its
 * contents (written by the writer). Restored: checked against the new process's mappings first
 * (the vDSO layout, a free holding address for the restorer), then laid out in the restorer's plan
 * as what to unmap, the vDSO to move, and every region to map back, from its file when it can be.
 */
#include "ckpt/save.h"
#include "ckpt/restore.h"

#define RT_MAX_MAPS	2048

static int rt_save_region(struct rt_ckpt_work *w, const struct rt_map *m)
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
static int rt_save_outside_scratch(struct rt_ckpt_work *w, const struct rt_map *m)
{
	struct rt_map part = *m;
	if (m->end <= w->scratch_start || m->start >= w->scratch_end)
		return rt_save_region(w, m);
	if (m->start < w->scratch_start) {
		part.end = w->scratch_start;
		if (rt_save_region(w, &part))
			return -1;
	}
	if (m->end > w->scratch_end) {
		part.start = w->scratch_end;
		part.end = m->end;
		part.offset = m->offset + (w->scratch_end - m->start);
		if (rt_save_region(w, &part))
			return -1;
	}
	return 0;
}

int rt_save_memory(struct rt_ckpt_work *w)
{
	long n = rt_read_maps(w->maps, RT_MAX_REGIONS, w->maps_text, RT_MAPS_TEXT);
	if (n < 0)
		return -1;
	for (long i = 0; i < n; i++)
		if (!rt_map_is_vsyscall(&w->maps[i]) && rt_save_outside_scratch(w, &w->maps[i]))
			return -1;
	return 0;
}

static struct rt_map rt_current[RT_MAX_MAPS];
static char rt_maps_text[256 * 1024];
static long rt_current_count;

/* The new process's own mappings, read once before anything is checked against them; <0: unreadable */
long rt_collect_maps(void)
{
	rt_current_count = rt_read_maps(rt_current, RT_MAX_MAPS, rt_maps_text, sizeof rt_maps_text);
	return rt_current_count;
}

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

/* Checks the image's vvar, vclock and vdso have the sizes of the new process's, noting where each goes */
void rt_check_vdso(const struct rt_image *im, struct rt_vdso_check *v)
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

/* A holding address free both now and in the image: the restorer lives there */
struct rt_hold_check { uint64_t lo, hi; int clash; };

static void rt_hold_clash(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_hold_check *c = arg;
	(void)h;
	if (u64at(p, CKPT_RG_START) < c->hi && c->lo < u64at(p, CKPT_RG_END))
		c->clash = 1;
}

uint64_t rt_pick_hold(const struct rt_image *im)
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

/* The new process's mappings the restorer tears down: all but the vDSO's and its own holding area */
void rt_prepare_unmaps(struct rt_plan_builder *b, uint64_t hold)
{
	for (long i = 0; i < rt_current_count; i++) {
		const struct rt_map *m = &rt_current[i];
		if (rt_map_is_vsyscall(m) || rt_map_role(m) != CKPT_ROLE_MEMORY || m->start == hold)
			continue;
		rt_plan_u64(b, m->start);
		rt_plan_u64(b, m->end - m->start);
		(*(uint64_t *)(b->plan + RT_PLAN_UNMAPS))++;
	}
}

/* The new kernel's vvar, vclock and vdso, moved to where the image had them */
void rt_prepare_remaps(struct rt_plan_builder *b, const struct rt_vdso_check *v)
{
	for (int r = 1; r <= 3; r++) {
		if (!v->len[r])
			continue;
		rt_plan_u64(b, v->from[r]);
		rt_plan_u64(b, v->len[r]);
		rt_plan_u64(b, v->to[r]);
		(*(uint64_t *)(b->plan + RT_PLAN_REMAPS))++;
	}
}

void rt_prepare_maps(struct rt_plan_builder *b)
{
	rt_each(b->im, CKPT_REC_REGION, rt_plan_map, b);
}
