/*
 * ckpt/: checkpoint and restart. The checkpoint signal and its writer (checkpoint.c, writer.c),
 * the record area (record.c), one file per kind of state, each with its save and restore
 * functions (process.c: the process and its registers, threads.c, memory.c, files.c and the kernel
 * objects behind descriptors in kobjects.c, fdata.c, inotify.c, signals.c, limits.c, cwd.c,
 * timers.c: POSIX timers, locks.c: file locks, task.c: prctl and scheduling, advice.c: madvise and
 * mlock, shm.c: System V shared memory), /proc/self/maps (maps.c), the image checks (image.c),
 * incremental images (track.c: the pages written, chain.c: parents, merge.c: a chain at restart), and
 * the restart that calls each
 * kind in turn and hands over to the restorer in pie/ (restore.c). docs/image-format.md is the
 * format. This header is what the rooms above use, and what the files of this room share; save.h,
 * image.h and restore.h hold each side's own.
 */
#ifndef RT_CKPT_H
#define RT_CKPT_H

#include "sys/sys.h"
#include "remote/remote.h"

#pragma GCC visibility push(hidden)

/* Kernel objects one checkpoint keeps, and one restart makes: pipes held whole (kobjects.c), and
 * unlinked files and memfds with their contents (fdata.c) */
#define RT_MAX_PIPES	256
#define RT_MAX_UNLINKED	256

/* checkpoint.c */
void rt_checkpoint_init(char **envp);
const char *rt_restart_source(const char *spec);
void rt_checkpoint_forked(void);
void rt_checkpoint_reap_writer(void);
extern int rt_ckpt_signal;
extern int rt_vacate_signal;
extern uint32_t rt_ckpt_interval;
extern long rt_ckpt_timer;		/* the CKPT_INTERVAL timer's kernel id, -1 when none */
long rt_ckpt_timer_arm(uint32_t seconds, int sig);
uint64_t rt_binary_id(void);

/* publish.c: the job's name and its checkpoints' generation (CKPT_IH_JOB_*, CKPT_IH_GENERATION) */
struct rt_job { uint64_t start, nonce, generation; };
extern struct rt_job rt_job;
void rt_job_begin(void);
uint64_t rt_job_restarted(uint64_t generation);

#define RT_MAX_THREADS	512		/* threads one image holds */
#define RT_MAX_CHAIN	255		/* incremental links below an image that a restart resolves */
#define RT_MAX_XSAVE	16384		/* bytes of one thread's xsave area an image may hold */

/* fdata.c: a /proc/self/fd link of a file whose name was removed ends " (deleted)" */
int rt_is_deleted(const char *path);
size_t rt_live_path(char *out, const char *path);	/* the path without it, in out (RT_PATH_MAX); its length */
/* track.c: the program's memory calls, seen before and after they are made */
struct rt_call_args { uint64_t a0, a1, a2, a3, a4; };	/* a call's first five arguments */
void rt_track_before_call(long nr, const struct rt_call_args *args);
void rt_track_after_brk(long result);

/* restore.c */
_Noreturn void rt_restart(const char *path, const char *name, char **envp);


/* maps.c */
struct rt_map {
	uint64_t start, end, offset;
	uint64_t dev, inode;		/* of the file mapped, as stat gives them; inode 0: none */
	uint32_t prot, shared;
	char path[256];
};
long rt_read_maps(struct rt_map *out, long max, char *buf, size_t size);
const char *rt_parse_map(const char *s, struct rt_map *m);	/* one line; returns the next */

/* lazy.c: memory a restart mapped from its image */
extern uint64_t rt_image_dev, rt_image_ino;
extern long rt_verifier_fd;
int rt_image_backed(const struct rt_map *m);
void rt_lazy_settle(void);
long rt_sys_madvise(uint64_t addr, uint64_t len, long advice);
long rt_sys_mremap(uint64_t addr, uint64_t old_len, uint64_t new_len, long flags, uint64_t to);
long rt_materialize_image_ranges(uint64_t addr, uint64_t len);

/*
 * Where a region record's extents start: after the path's NUL, at the next multiple of 8 of the
 * payload; 0 when the path has no NUL within the payload's size bytes.
 */
static inline uint32_t rt_region_extents_at(const unsigned char *p, uint32_t size)
{
	for (uint32_t i = CKPT_RG_SIZE; i < size; i++)
		if (!p[i])
			return (i + 1 + 7) & ~7u;
	return 0;
}
uint32_t rt_map_role(const struct rt_map *m);
int rt_map_is_vsyscall(const struct rt_map *m);

#pragma GCC visibility pop
#endif
