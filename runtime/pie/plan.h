/*
 * The restore plan: everything the restorer (pie/restorer.S) needs, laid out by ckpt/restore.c
 * in the holding area, so that the restorer runs with no memory but that area. All fields u64.
 */
#ifndef RT_RESTORE_H
#define RT_RESTORE_H

#define RT_PLAN_UNMAPS		0	/* count of { addr, len } */
#define RT_PLAN_REMAPS		8	/* count of { from, len, to } */
#define RT_PLAN_MAPS		16	/* count of { addr, len, prot, flags, fd, offset, data, extents_at, extents, huge } */
#define RT_PLAN_POKES		24	/* count of { addr, value } */
#define RT_PLAN_FS_BASE		32
#define RT_PLAN_FRAME		40	/* rsp for rt_sigreturn: the frame's ucontext */
#define RT_PLAN_IMAGE_FD	48
#define RT_PLAN_SUD_LEN		56	/* 0: leave the net off */
#define RT_PLAN_SUD_START	64
#define RT_PLAN_SUD_SELECTOR	72
#define RT_PLAN_SIGRETURN	80	/* the restored runtime's rt_restart_finish: rt_sigreturn from the allowed region */
#define RT_PLAN_RSEQ_ADDR	88	/* 0: none to register */
#define RT_PLAN_RSEQ_LEN	96
#define RT_PLAN_RSEQ_SIG	104
#define RT_PLAN_FRAME_SRC	112	/* the frame as built in the holding area */
#define RT_PLAN_FRAME_LEN	120	/* 0: it stays there */
#define RT_PLAN_FRAME_DST	128	/* where it goes: below the program's rsp, in its own stack */
#define RT_PLAN_HOLD		136	/* the holding area, unmapped by rt_restart_finish */
#define RT_PLAN_HOLD_SIZE	144	/* 0: left mapped (the frame is in it) */
#define RT_PLAN_CLOSES		152	/* count of { fd }: the files regions were mapped from */
#define RT_PLAN_THREADS		160	/* the thread area (RT_TA_*): the other threads to make; 0: none */
#define RT_PLAN_CLEAR_TID	168	/* the first thread's clear_child_tid; RT_NO_DATA: leave it */
#define RT_PLAN_ROBUST_HEAD	176	/* its robust futex list; 0: none */
#define RT_PLAN_ROBUST_LEN	184
#define RT_PLAN_RESERVED	192	/* zero */
#define RT_PLAN_CALLS		200	/* count of { nr, a0, a1, a2 }: calls after the maps (madvise, mlock2) */
#define RT_PLAN_ENTRIES		208

#define RT_UNMAP_SIZE		16
#define RT_REMAP_SIZE		24
/* A map entry. data: image offset of the stored pages, back to back, read in; ~0: none. extents_at:
 * image offset of the region's extent list (ckpt_contract.h CKPT_RE_*), read RT_EXTENT_BATCH at a time. huge:
 * RT_MAP_HUGE, madvise(MADV_HUGEPAGE) before reading the pages in; RT_MAP_IMAGE, large extents
 * mapped MAP_PRIVATE from the image file instead of read. */
#define RT_MAP_ADDR		0
#define RT_MAP_LEN		8
#define RT_MAP_PROT		16
#define RT_MAP_FLAGS		24
#define RT_MAP_FD		32
#define RT_MAP_OFFSET		40
#define RT_MAP_DATA		48
#define RT_MAP_EXTENTS_AT	56
#define RT_MAP_EXTENTS		64
#define RT_MAP_HUGE_FLAG	72
#define RT_MAP_SIZE		80
#define RT_NO_DATA		(-1)
#define RT_MAP_HUGE		1
#define RT_MAP_IMAGE		2		/* extents of RT_MAP_IMAGE_MIN bytes and more: mapped from the image */
#define RT_MAP_IMAGE_MIN	0x40000		/* smaller ones are read: fewer mappings, and no cost to speak of */
#define RT_EXTENT_BATCH		256		/* extents the restorer reads at once (a power of two) */
#define RT_POKE_SIZE		16
#define RT_CALL_SIZE		32

/* The thread area: a header, then one entry per thread (RT_TH_*), then their frames */
#define RT_TA_COUNT		0	/* threads to make */
#define RT_TA_GO		8	/* 32-bit futex word: 1 releases them */
#define RT_TA_LEFT		16	/* 32-bit futex word: threads that left the holding area */
#define RT_TA_FINISH		24	/* the restored runtime's rt_thread_restart_finish */
#define RT_TA_ENTRIES		32
#define RT_TH_FRAME_SRC		0	/* the thread's rt_sigreturn frame as built */
#define RT_TH_FRAME_LEN		8	/* 0: it stays where it was built */
#define RT_TH_FRAME_DST		16
#define RT_TH_FRAME		24	/* rsp for its rt_sigreturn */
#define RT_TH_FS_BASE		32
#define RT_TH_CLEAR_TID		40
#define RT_TH_ROBUST_HEAD	48	/* 0: none */
#define RT_TH_ROBUST_LEN	56
#define RT_TH_RSEQ_ADDR		64	/* 0: none */
#define RT_TH_RSEQ_LEN		72
#define RT_TH_RSEQ_SIG		80
#define RT_TH_SLOT		88	/* where its new tid goes: its runtime slot's key */
#define RT_TH_SIZE		96
/* A thread as the restored program's: its own memory, files, signal actions, fs base, and the tid
 * word the kernel clears and wakes when it exits */
#define RT_THREAD_CLONE_FLAGS	0x2d0f00	/* CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|CHILD_CLEARTID */

#include "arch/x86_64/asm-numbers.h"

#ifndef __ASSEMBLER__
#pragma GCC visibility push(hidden)
/* restorer.S: the code ckpt/restore.c copies into the holding area and enters with the plan */
extern const char rt_restorer_code_start[], rt_restorer_code_end[];
#pragma GCC visibility pop
#endif

#endif
