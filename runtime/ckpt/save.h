/*
 * The checkpoint's side: its work area (checkpoint.c, writer.c), the record area (record.c), and
 * the save function of every kind of state. The work area lives in a scratch mapping of its own,
 * left out of the image.
 */
#ifndef RT_CKPT_SAVE_H
#define RT_CKPT_SAVE_H

#include "ckpt/ckpt.h"

#pragma GCC visibility push(hidden)

#define RT_MAX_REGIONS	2048
#define RT_MAX_FILES	1024
#define RT_MAPS_TEXT	(256 * 1024)
#define RT_RECORDS	(8 * 1024 * 1024)	/* scratch: only what is used is touched */
#define RT_PAGEMAP_BATCH	8192	/* /proc/self/pagemap entries read at once: 32 MiB of memory */
#define RT_MAX_QUEUED	256
#define RT_STOP_SIGNAL	63	/* the runtime's: stops the other threads for a checkpoint (threads.c) */
#define RT_FDINFO_MAX	(256 * 1024)	/* an epoll instance's fdinfo: about 80 bytes a registration */

/* The payload of every kernel-object record but the pipe's starts with its descriptor (u32) */
_Static_assert(CKPT_REV_FD == 0 && CKPT_RTF_FD == 0 && CKPT_RSF_FD == 0 && CKPT_REP_FD == 0 && CKPT_RFD_FD == 0 &&
	       CKPT_RFO_FD == 0 && CKPT_RIN_FD == 0 && CKPT_RFI_FD == 0 && CKPT_RSL_FD == 0 && CKPT_RSK_FD == 0,
	       "kernel object records start with their fd");

/* What a kind's save returns besides 0 */
#define RT_SAVE_FULL		(-1)	/* the record area is full */
#define RT_SAVE_REFUSED		(-2)	/* state that cannot be restored: the checkpoint is refused (said on stderr) */
#define RT_SAVE_NOT_MINE	1	/* kobjects.c: not a kernel object it saves; files.c's rule applies */

struct rt_unlinked { uint64_t dev, ino, snapshot_at; uint32_t fd; };	/* snapshot_at: where its contents are */
#define RT_PROC_TEXT	(64 * 1024)
#define RT_MAX_GUARDS	4096
#define RT_MAX_INHERIT	(128 * 1024)	/* inherited runs of one region; more, and it is stored whole */

struct rt_ckpt_work {
	void *uc;			/* the interrupted context, in the signal frame */
	struct rt_thread *self;		/* the leader: the thread that took the checkpoint signal */
	int sig;			/* the signal that asked for this checkpoint */
	long image_fd;			/* the temporary image; left out of the file table */
	long result;			/* 0, or the -errno that stopped the checkpoint */
	uint64_t scratch_start, scratch_end;
	struct rt_map maps[RT_MAX_REGIONS];
	char maps_text[RT_MAPS_TEXT];
	unsigned char records[RT_RECORDS];
	char linkbuf[RT_PATH_MAX];
	char fdbuf[4096];
	unsigned char queued[RT_MAX_QUEUED][CKPT_SIGINFO_SIZE];	/* pending signals, drained and queued again */
	int fds[RT_MAX_FILES];		/* descriptors recorded so far, for sharing checks */
	int nfds;
	size_t used;			/* bytes of records[] */
	uint32_t count;			/* records */
	uint64_t data_end;		/* next free page-aligned offset in the data area */
	long pagemap_fd;		/* /proc/self/pagemap while regions are recorded; <0: store regions whole */
	uint64_t exe_dev, exe_ino;	/* the relinked binary, to know its regions */
	uint64_t pagemap[RT_PAGEMAP_BATCH];
	long snapshot_fd;		/* fdata.c: contents of unlinked files at their data-area offsets, or -1 */
	uint64_t pipes[RT_MAX_PIPES];	/* kobjects.c: inodes of the pipes recorded */
	int npipes, nunlinked;
	struct rt_unlinked unlinked[RT_MAX_UNLINKED];
	char scanbuf[4096];
	char fdinfo[RT_FDINFO_MAX];
	char proc_text[RT_PROC_TEXT];	/* a /proc file read whole (timers, fdinfo, sysvipc) or in chunks (smaps) */
	struct { uint64_t start, end; uint32_t bits; } advice[RT_MAX_REGIONS];	/* smaps VmFlags, as CKPT_VM_* */
	long nadvice;
	struct { uint64_t start, end; } guards[RT_MAX_GUARDS];	/* runs of guard pages (MADV_GUARD_INSTALL) */
	long nguards;
	int track;			/* the image goes to a file: the memory is write-tracked after it (track.c) */
	int incremental;		/* this image stores only pages written since its parent (chain.c) */
	uint64_t parent_gen;		/* with incremental: the parent's generation, header checksum, chain depth */
	uint32_t parent_crc, depth;
	long ninherit;
	uint64_t inherit[RT_MAX_INHERIT][2];	/* memory.c: the region being recorded's inherited extents */
	struct { uint64_t start, at; } shared_copies[RT_MAX_REGIONS];	/* fdata.c: shared memory's stored pages in the snapshot */
	int nshared;
};

/* record.c: the record area every kind writes into */
void *rt_record(struct rt_ckpt_work *w, uint32_t kind, uint32_t flags, size_t payload);
void *rt_record_grow(struct rt_ckpt_work *w, unsigned char *payload, size_t extra);
void rt_record_cut(struct rt_ckpt_work *w, unsigned char *payload, size_t size);
void rt_seal(unsigned char *payload);
int rt_record_string(struct rt_ckpt_work *w, uint32_t kind, const char *s, size_t len);

/* One file per kind of state: each returns 0, or -1 when the record area is full */
int rt_save_process(struct rt_ckpt_work *w);		/* process.c */
int rt_save_regs(struct rt_ckpt_work *w);
uint32_t rt_regs_size(const void *uc);
void rt_put_regs(unsigned char *p, const void *uc);
int rt_save_sigactions(struct rt_ckpt_work *w);		/* signals.c */
int rt_save_queued_signals(struct rt_ckpt_work *w);
int rt_save_memory(struct rt_ckpt_work *w);		/* memory.c */
int rt_save_shm(struct rt_ckpt_work *w, long nmaps);	/* shm.c: from rt_save_memory, its maps read */
void rt_read_advice(struct rt_ckpt_work *w);		/* advice.c: /proc/self/smaps, before the regions */
uint32_t rt_advice_of(const struct rt_ckpt_work *w, uint64_t start, uint64_t end);
void rt_advice_around_fork(const struct rt_ckpt_work *w, int again);
int rt_note_guard(struct rt_ckpt_work *w, uint64_t page);
int rt_save_guards(struct rt_ckpt_work *w);
int rt_save_files(struct rt_ckpt_work *w);		/* files.c: 0, RT_SAVE_FULL or RT_SAVE_REFUSED */
void rt_note_inherited_fds(void);
int rt_save_kobject(struct rt_ckpt_work *w, long fd, uint32_t type, const struct rt_stat *st, const char *path,
		    int inherited);
int rt_refuse_descriptor(const struct rt_ckpt_work *w, long fd, const char *kind, const char *why);	/* kobjects.c */
long rt_read_fdinfo(struct rt_ckpt_work *w, long fd);
const char *rt_parse_number(const char *s, unsigned base, uint64_t *out);
const char *rt_next_line(const char *line);
const char *rt_in_line(const char *s, const char *key);
unsigned char *rt_fd_record(struct rt_ckpt_work *w, uint32_t kind, size_t size, long fd);
int rt_copy_unread(long reader, unsigned char *out, uint32_t bytes, uint32_t capacity);
int rt_save_inotify(struct rt_ckpt_work *w, long fd);	/* inotify.c */
int rt_is_fifo(const struct rt_stat *st, const char *path);	/* fifo.c */
int rt_save_fifo(struct rt_ckpt_work *w, long fd, const struct rt_stat *st, const char *path);
int rt_is_symlink(const struct rt_stat *st);		/* symlink.c */
int rt_save_symlink(struct rt_ckpt_work *w, long fd, const char *path);
int rt_save_socket(struct rt_ckpt_work *w, long fd, const char *path);	/* sockets.c */
long rt_check_unread_events(struct rt_ckpt_work *w);
int rt_save_file_data(struct rt_ckpt_work *w, long fd, const struct rt_stat *st, const char *path);	/* fdata.c */
int64_t rt_snapshot_at(const struct rt_ckpt_work *w, uint32_t fd);
int rt_snapshot_shared_region(struct rt_ckpt_work *w, const unsigned char *p, uint32_t size);
int64_t rt_shared_snapshot_at(const struct rt_ckpt_work *w, uint64_t start);
int rt_save_cwd_and_exe(struct rt_ckpt_work *w);	/* cwd.c */
int rt_save_rlimits(struct rt_ckpt_work *w);		/* limits.c */
int rt_save_itimers(struct rt_ckpt_work *w);
int rt_save_posix_timers(struct rt_ckpt_work *w);	/* timers.c */
int rt_save_locks(struct rt_ckpt_work *w);		/* locks.c: after the files */
int rt_save_task(struct rt_ckpt_work *w);		/* task.c */
int rt_save_sysv_ipc(struct rt_ckpt_work *w);		/* sysvipc.c */
void rt_note_unrestorable(void);			/* a state a restart will refuse, warned about */
long rt_vacate_refusal(const struct rt_ckpt_work *w);	/* last: -EOPNOTSUPP when the vacate signal must make no image */

/* track.c: the pages written since the last checkpoint */
void rt_track_init(char **envp);
int rt_track_ready(void);
int rt_track_wanted(void);
int rt_track_owns_fd(long fd);
void rt_track_forked(void);
void rt_track_forget(uint64_t start, uint64_t len);
uint64_t rt_track_stretch(uint64_t addr, uint64_t end, int *tracked);
long rt_track_written(uint64_t start, uint64_t end, int (*fn)(void *arg, uint64_t start, uint64_t end), void *arg);
void rt_track_rearm(struct rt_ckpt_work *w, long nmaps);

/* chain.c: an image's parent, and when a full image is due */
void rt_chain_init(char **envp);
void rt_chain_begin(struct rt_ckpt_work *w, int to_file);
int rt_save_parent(struct rt_ckpt_work *w);
void rt_chain_end(const struct rt_ckpt_work *w);

/* threads.c: the other threads stopped for the checkpoint, and their records */
void rt_threads_init(void);
int rt_stop_lead(void);
int rt_stop_end(int *again);
void rt_stop_note_vacate(void);
void rt_stop_note_request(void);
const volatile void *rt_stop_leader_word(void);
long rt_stop_threads(struct rt_ckpt_work *w);
void rt_resume_threads(void);
int rt_save_threads(struct rt_ckpt_work *w);

/* checkpoint.c */
void rt_rewind_interrupted_call(void *uc);

/* writer.c */
extern char rt_image_path[RT_PATH_MAX];	/* CKPT_IMAGE, absolute */
int rt_writer_target(const char *path);
void rt_elide_zero_pages(struct rt_ckpt_work *w);
void rt_stream_environment(char **envp);
long rt_command_start(const char *cmd, int to_command, long *pid);	/* stream.c: our end of its pipe */
long rt_command_status(long pid);
long rt_checkpoint(int sig, void *uc, struct rt_thread *self);	/* 0 when an image is in place or being written, or -errno */
long rt_wait_writer(int options);
void rt_writer_forget(void);

/* publish.c: one writer per image */
void rt_publish_target(const char *path);
void rt_publish_tmp_path(char *out, const char *path);
long rt_publish_open_tmp(const char *tmp);
long rt_publish(const char *tmp, int incremental);
char *rt_link_name(char *out, const char *path, uint64_t generation);

#pragma GCC visibility pop
#endif
