/*
 * The restart's side: the restore function of every kind of state, and the plan for the restorer
 * (pie/plan.h) as restore.c and the kinds lay it out in the holding area.
 */
#ifndef RT_CKPT_RESTORE_H
#define RT_CKPT_RESTORE_H

#include "ckpt/image.h"
#include "pie/plan.h"

#pragma GCC visibility push(hidden)

/* The holding area, mapped at an address free both now and in the image: the restorer lives there */
#define RT_HOLD_CODE	0x2000
#define RT_HOLD_PLAN	0x40000		/* plan entries */
#define RT_HOLD_STACK	0x10000
#define RT_HOLD_FRAME	0x10000		/* sigreturn frame and xsave area */
#define RT_HOLD_THREADS	0x1000000	/* the other threads' entries and frames (pie/plan.h RT_TA_*) */
#define RT_HOLD_SIZE	(RT_HOLD_CODE + RT_HOLD_PLAN + RT_HOLD_STACK + RT_HOLD_FRAME + RT_HOLD_THREADS)

struct rt_plan_builder {
	unsigned char *plan, *next;
	const struct rt_image *im;
	long region;			/* region records laid out so far */
	int huge;			/* CKPT_HUGE=1: large regions read in get 2 MiB pages */
	int map_image;			/* large extents are mapped from the image (lazy.c) */
};

static inline void rt_plan_u64(struct rt_plan_builder *b, uint64_t v)
{
	*(uint64_t *)b->next = v;
	b->next += 8;
}

/* The new process's vvar/vclock/vdso, by role; and checks the image's have the same sizes */
struct rt_vdso_check { const struct rt_image *im; int bad; uint64_t from[4], len[4], to[4]; };

/* The rt_sigreturn frame as built in the holding area, and where it goes (0: it stays there) */
struct rt_frame { unsigned char *built; uint64_t len, target; };

/* What a thread's rt_sigreturn frame is made of: its CKPT_RR_* block, its alternate stack */
struct rt_frame_state { const unsigned char *regs; uint64_t ss_sp, ss_size; uint32_t ss_flags; };

/* restore.c */
uint64_t rt_in_image(const struct rt_image *im, const volatile void *here);

/* threads.c: the other threads' entries and frames in the thread area; 1 when every frame has
 * its place on its thread's stack (else the holding area must stay) */
void rt_check_threads(const struct rt_image *im);
int rt_prepare_threads(const struct rt_image *im, unsigned char *plan, unsigned char *area);
unsigned rt_plan_thread_pokes(struct rt_plan_builder *b, const struct rt_image *im);

/* process.c */
void rt_restore_umask(const struct rt_image *im);
void rt_build_frame(const struct rt_image *im, const struct rt_frame_state *s, unsigned char *area, struct rt_frame *f);
void rt_prepare_frame(const struct rt_image *im, unsigned char *area, struct rt_frame *f);

/* memory.c */
long rt_collect_maps(void);
void rt_check_vdso(const struct rt_image *im, struct rt_vdso_check *v);
uint64_t rt_pick_hold(const struct rt_image *im);
void rt_prepare_unmaps(struct rt_plan_builder *b, uint64_t hold);
void rt_prepare_remaps(struct rt_plan_builder *b, const struct rt_vdso_check *v);
void rt_prepare_region_files(const struct rt_image *im);
int rt_region_file_held(long fd);
void rt_prepare_maps(struct rt_plan_builder *b);
void rt_prepare_closes(struct rt_plan_builder *b);
int rt_taken_now(uint64_t lo, uint64_t hi);

/* lazy.c */
int rt_pages_from_env(char **envp);
long rt_start_verifier(const struct rt_image *im, long *go);

/* shm.c: System V segments attached before the region files, moved in place by remaps */
void rt_prepare_shm(const struct rt_image *im, uint64_t hold);
int rt_shm_placed(uint64_t start);
void rt_prepare_shm_remaps(struct rt_plan_builder *b);

/* advice.c: the regions' madvise and mlock state, as calls the restorer makes after the maps */
void rt_prepare_advice(struct rt_plan_builder *b);

/* files.c: opens every descriptor again (refusing the image if one cannot be), then places them */
void rt_prepare_files(struct rt_image *im);
int rt_restore_files(const struct rt_image *im);	/* returns 1 when a terminal was taken over */

/* kobjects.c, fdata.c: kernel objects and nameless files, made during the checks, completed once
 * files.c has placed every descriptor */
#define RT_OPEN_NOT_MINE	(-3)	/* files.c's own rule applies */
long rt_open_kobject(const struct rt_image *im, const unsigned char *file, const char *path, long above);
void rt_restore_kobjects(const struct rt_image *im);
long rt_fd_above(long fd, long above);
_Noreturn void rt_refuse_kobject(const struct rt_image *im, uint32_t fd, const char *what, const char *why);
long rt_open_file_data(const struct rt_image *im, const unsigned char *file, const char *path, long above);
long rt_fdata_made(uint32_t fd);	/* the file made again for descriptor fd, or -1 */
const unsigned char *rt_find_kobject(const struct rt_image *im, uint32_t kind, uint32_t fd, uint64_t inode,
				     uint32_t min, uint32_t *size);
long rt_make_inotify(const struct rt_image *im, uint32_t fd);	/* inotify.c */
long rt_open_fifo(const struct rt_image *im, const unsigned char *file, const char *path, long above);	/* fifo.c */
long rt_open_symlink(const struct rt_image *im, uint32_t fd, const char *path);	/* symlink.c */
long rt_open_socket(const struct rt_image *im, const unsigned char *file, long above);	/* sockets-restore.c */

/* signals.c */
void rt_restore_sigactions(const struct rt_image *im);
void rt_restore_queued_signals(const struct rt_image *im, int terminal);

/* cwd.c */
void rt_check_cwd(const struct rt_image *im);
void rt_restore_cwd(const struct rt_image *im);

/* locks.c: the image's locks noted before the region files are opened, taken once files are placed */
void rt_prepare_locks(const struct rt_image *im);
long rt_posix_locked_fd(const struct rt_image *im, const char *path, int writes);
void rt_restore_locks(const struct rt_image *im);

/* timers.c: before the runtime's own CKPT_INTERVAL timer is made */
void rt_restore_posix_timers(const struct rt_image *im);

/* sysvipc.c: the queues and semaphore sets the program used are still there, or the image is refused */
void rt_check_sysv_ipc(const struct rt_image *im);

/* task.c: prctl state and scheduling; refuses what cannot be set again */
void rt_restore_task(const struct rt_image *im);

/* limits.c */
void rt_restore_rlimits(const struct rt_image *im);
void rt_restore_itimers(const struct rt_image *im);

#pragma GCC visibility pop
#endif
