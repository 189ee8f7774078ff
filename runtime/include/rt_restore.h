/*
 * The restore plan: everything the restorer (syscall-shim/restore.S) needs, laid out by restore.c
 * in the holding area, so that the restorer runs with no memory but that area. All fields u64.
 */
#ifndef RT_RESTORE_H
#define RT_RESTORE_H

#define RT_PLAN_UNMAPS		0	/* count of { addr, len } */
#define RT_PLAN_REMAPS		8	/* count of { from, len, to } */
#define RT_PLAN_MAPS		16	/* count of { addr, len, prot, flags, fd, offset } */
#define RT_PLAN_POKES		24	/* count of { addr, value } */
#define RT_PLAN_FS_BASE		32
#define RT_PLAN_FRAME		40	/* rsp for rt_sigreturn: the frame's ucontext */
#define RT_PLAN_IMAGE_FD	48
#define RT_PLAN_SUD_LEN		56	/* 0: leave the net off */
#define RT_PLAN_SUD_START	64
#define RT_PLAN_SUD_SELECTOR	72
#define RT_PLAN_SIGRETURN	80	/* the restored runtime's rt_restorer: rt_sigreturn from the allowed region */
#define RT_PLAN_RSEQ_ADDR	88	/* 0: none to register */
#define RT_PLAN_RSEQ_LEN	96
#define RT_PLAN_RSEQ_SIG	104
#define RT_PLAN_ENTRIES		112

#define RT_UNMAP_SIZE		16
#define RT_REMAP_SIZE		24
#define RT_MAP_SIZE		48
#define RT_POKE_SIZE		16

#endif
