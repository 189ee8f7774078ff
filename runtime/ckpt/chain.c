/*
 * The chain of incremental images, on the checkpoint's side (docs/image-format.md, "Incremental
 * images"). Every image that lands at PATH is also linked as PATH.g<generation> (publish.c); an
 * incremental image names its parent by that link's file name, its generation and its header
 * checksum, read from the link itself while the program is stopped. A checkpoint is incremental
 * only when the one before it, made by this process, is that link (its writer finished and put it
 * in place), and the pages written since are known (track.c); otherwise, and once the chain has
 * CKPT_CHAIN_MAX incremental links (default 16) or its links hold CKPT_CHAIN_PERCENT (default 100)
 * percent of its full image's bytes, it is full: the writer, a process of its own, writes it while the program runs on, so a chain is folded
 * back into one full image in the background, and the links it no longer needs are removed when
 * that image lands. Images given to a command or the shadow are always full (nothing to link to).
 */
#include "ckpt/save.h"

#define RT_CHAIN_MAX_DEFAULT	16

static struct {
	uint64_t generation;	/* the last checkpoint begun by this process; 0: none */
	uint64_t pid;
	uint32_t depth;		/* its incremental links down to the full image; 0: it is full */
	uint64_t chain_bytes;	/* bytes of memory stored by the incremental links since that full image */
	uint64_t full_bytes;	/* and by the full image */
} rt_last;
static uint32_t rt_chain_max = RT_CHAIN_MAX_DEFAULT;
static uint32_t rt_chain_percent = 100;	/* of the full image's bytes the links may hold; 0: no bound */

static void rt_env_number(char **envp, const char *name, uint32_t *out)
{
	const char *v = rt_getenv(envp, name);
	if (!v || *v < '0' || *v > '9')
		return;
	uint32_t n = 0;
	for (; *v >= '0' && *v <= '9' && n < 100000; v++)
		n = n * 10 + (uint32_t)(*v - '0');
	*out = n;
}

void rt_chain_init(char **envp)
{
	rt_track_init(envp);
	rt_env_number(envp, "CKPT_CHAIN_MAX", &rt_chain_max);
	if (rt_chain_max > RT_MAX_CHAIN)
		rt_chain_max = RT_MAX_CHAIN;	/* a longer chain would be refused at restart */
	rt_env_number(envp, "CKPT_CHAIN_PERCENT", &rt_chain_percent);
}

/* Whether the chain may take one more link: CKPT_CHAIN_MAX links, CKPT_CHAIN_PERCENT of the full image's bytes */
static int rt_chain_has_room(void)
{
	return rt_last.depth < rt_chain_max &&
	       (!rt_chain_percent || rt_last.chain_bytes * 100 < (uint64_t)rt_chain_percent * rt_last.full_bytes);
}

/* The parent's header checksum, if the link of the last checkpoint is there and holds that state */
static int rt_parent_landed(uint32_t *crc)
{
	char link[RT_PATH_MAX + 32];
	unsigned char h[CKPT_IH_SIZE];
	rt_link_name(link, rt_image_path, rt_last.generation);
	long fd = rt_syscall4(__NR_openat, AT_FDCWD, (long)link, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	long n = rt_syscall4(__NR_pread64, fd, (long)h, sizeof h, 0);
	rt_syscall1(__NR_close, fd);
	*crc = *(uint32_t *)(h + CKPT_IH_CRC);
	return n == (long)sizeof h && *(uint64_t *)(h + CKPT_IH_MAGIC) == CKPT_IMAGE_MAGIC &&
	       rt_crc32c(0, h, CKPT_IH_CRC) == *crc && *(uint64_t *)(h + CKPT_IH_JOB_START) == rt_job.start &&
	       *(uint64_t *)(h + CKPT_IH_JOB_NONCE) == rt_job.nonce &&
	       *(uint64_t *)(h + CKPT_IH_GENERATION) == rt_last.generation;
}

/* Before the records, the program stopped: full or incremental, and this checkpoint remembered as the next parent */
void rt_chain_begin(struct rt_ckpt_work *w, int to_file)
{
	w->track = to_file;
	w->incremental = to_file && rt_last.generation && rt_last.pid == rt_ids_real.pid &&
			 rt_chain_has_room() && rt_track_ready() &&
			 rt_parent_landed(&w->parent_crc);
	if (w->incremental) {
		w->parent_gen = rt_last.generation;
		w->depth = rt_last.depth + 1;
	}
	rt_last.generation = rt_job.generation;	/* a checkpoint that fails leaves no link: the next is full */
	rt_last.pid = rt_ids_real.pid;
}

/* After the records: what the chain holds once this image lands */
void rt_chain_end(const struct rt_ckpt_work *w)
{
	if (w->incremental) {
		rt_last.depth = w->depth;
		rt_last.chain_bytes += w->data_end;
	} else {
		rt_last.depth = 0;
		rt_last.chain_bytes = 0;
		rt_last.full_bytes = w->data_end;
	}
}

/* An incremental image's CKPT_REC_PARENT: the link's file name, in the image's own directory */
int rt_save_parent(struct rt_ckpt_work *w)
{
	char link[RT_PATH_MAX + 32];
	if (!w->incremental)
		return 0;
	rt_link_name(link, rt_image_path, w->parent_gen);
	const char *name = link;
	for (const char *s = link; *s; s++)
		if (*s == '/')
			name = s + 1;
	size_t len = rt_strlen(name) + 1;
	unsigned char *p = rt_record(w, CKPT_REC_PARENT, 0, CKPT_PA_SIZE + len);
	if (!p)
		return -1;
	*(uint64_t *)(p + CKPT_PA_GENERATION) = w->parent_gen;
	*(uint32_t *)(p + CKPT_PA_HEADER_CRC) = w->parent_crc;
	*(uint32_t *)(p + CKPT_PA_DEPTH) = w->depth;
	rt_memcpy(p + CKPT_PA_SIZE, name, len);
	rt_seal(p);
	return 0;
}
