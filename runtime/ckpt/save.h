/*
 * The checkpoint's work area (checkpoint.c, writer.c) and the record builders (records.c). The
 * work area lives in a scratch mapping of its own, left out of the image.
 */
#ifndef RT_CKPT_SAVE_H
#define RT_CKPT_SAVE_H

#include "ckpt/ckpt.h"

#pragma GCC visibility push(hidden)

#define RT_MAX_REGIONS	2048
#define RT_MAX_FILES	1024
#define RT_MAPS_TEXT	(256 * 1024)
#define RT_RECORDS	(2 * 1024 * 1024)
#define RT_MAX_QUEUED	256

struct rt_ckpt_work {
	void *uc;			/* the interrupted context, in the signal frame */
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
};

/* records.c: each returns 0, or -1 when the record area is full */
int rt_add_process(struct rt_ckpt_work *w);
int rt_add_regs(struct rt_ckpt_work *w);
int rt_add_sigactions(struct rt_ckpt_work *w);
int rt_add_memory(struct rt_ckpt_work *w);
int rt_add_files(struct rt_ckpt_work *w);
int rt_add_cwd_and_exe(struct rt_ckpt_work *w);
int rt_add_limits_and_timers(struct rt_ckpt_work *w);
int rt_add_queued_signals(struct rt_ckpt_work *w);
void rt_note_inherited_fds(void);

/* writer.c */
int rt_writer_target(const char *path);
long rt_checkpoint(int sig, void *uc);	/* 0 when an image is in place or being written, or -errno */
long rt_wait_writer(int options);
void rt_writer_forget(void);

#pragma GCC visibility pop
#endif
