/*
 * The restorer: copied by ckpt/restore.c into a holding area outside both address spaces, it
 * replaces the new process's memory with the image's and returns into the program through
 * rt_sigreturn.
 * Memory is real anonymous memory (or a private mapping of its file), with the stored pages read in,
 * or, for a region planned RT_MAP_IMAGE, its large extents mapped privately from the image file
 * (ckpt/lazy.c says what the runtime does so that the program cannot tell).
 * It must be position-independent and use nothing outside the holding area: registers, the plan
 * (rdi), and the stack restore.c gave it. Nothing after the first munmap can be undone: ckpt/
 * has checked every byte of the image (image.c) before this runs.
 */
#include <asm/unistd_64.h>
#include <asm-generic/errno.h>
#include <asm/prctl.h>
#include <linux/mman.h>
#include "include/ckpt_contract.h"
#include "pie/plan.h"

	/* rseq(addr, len, 0, sig) from the fields at offsets addr, len, sig of \base; none when addr is 0 */
	.macro	REGISTER_RSEQ base, addr, len, sig
	mov	\addr(\base), %rdi
	test	%rdi, %rdi
	jz	1f
	mov	\len(\base), %rsi
	xor	%edx, %edx
	mov	\sig(\base), %r10
	mov	$__NR_rseq, %eax
	syscall
1:
	.endm

	/* set_robust_list(head, len) from the fields at offsets head, len of \base; none when head is 0 */
	.macro	SET_ROBUST_LIST base, head, len
	mov	\head(\base), %rdi
	test	%rdi, %rdi
	jz	1f
	mov	\len(\base), %rsi
	mov	$__NR_set_robust_list, %eax
	syscall
1:
	.endm

	/* mmap(\addr, \len, rdx, \flags, \fd, \off), which must return \addr: .Lfail otherwise */
	.macro	MMAP_AT addr, len, flags, fd, off
	mov	\addr, %rdi
	mov	\len, %rsi
	mov	\flags, %r10
	mov	\fd, %r8
	mov	\off, %r9
	mov	$__NR_mmap, %eax
	syscall
	cmp	\addr, %rax
	jne	.Lfail
	.endm

	.text
	.globl	rt_restorer_code_start
	.hidden	rt_restorer_code_start
	.globl	rt_restorer_code_end
	.hidden	rt_restorer_code_end
	.p2align 4
rt_restorer_code_start:
	mov	%rdi, %rbx
	lea	RT_PLAN_ENTRIES(%rbx), %r12

	mov	RT_PLAN_UNMAPS(%rbx), %r13
1:	test	%r13, %r13
	jz	2f
	mov	(%r12), %rdi
	mov	8(%r12), %rsi
	mov	$__NR_munmap, %eax
	syscall
	add	$16, %r12
	dec	%r13
	jmp	1b

	/* the new kernel's vvar and vdso go where the program's libc expects them */
2:	mov	RT_PLAN_REMAPS(%rbx), %r13
3:	test	%r13, %r13
	jz	4f
	mov	(%r12), %rdi
	mov	8(%r12), %rsi
	mov	%rsi, %rdx
	mov	$(MREMAP_MAYMOVE | MREMAP_FIXED), %r10d
	mov	16(%r12), %r8
	mov	$__NR_mremap, %eax
	syscall
	cmp	16(%r12), %rax
	jne	.Lfail
	add	$24, %r12
	dec	%r13
	jmp	3b

	/* memory: anonymous, or privately from the file it maps, with its stored pages read in */
4:	mov	RT_PLAN_MAPS(%rbx), %r13
	/* at (%rsp) the extent at hand, as CKPT_RE_*: then its address and bytes; above it a batch of
	 * RT_EXTENT_BATCH extents as the image has them, read with one pread */
	sub	$(32 + RT_EXTENT_BATCH * CKPT_RE_SIZE), %rsp
5:	test	%r13, %r13
	jz	6f
	mov	RT_MAP_PROT(%r12), %rdx
	cmpq	$RT_NO_DATA, RT_MAP_DATA(%r12)
	je	51f
	mov	$(PROT_READ | PROT_WRITE), %edx	/* while the contents are read in */
51:	MMAP_AT	RT_MAP_ADDR(%r12), RT_MAP_LEN(%r12), RT_MAP_FLAGS(%r12), RT_MAP_FD(%r12), RT_MAP_OFFSET(%r12)
	cmpq	$RT_NO_DATA, RT_MAP_DATA(%r12)
	je	54f
	testb	$RT_MAP_HUGE, RT_MAP_HUGE_FLAG(%r12)
	jz	55f
	mov	RT_MAP_ADDR(%r12), %rdi
	mov	RT_MAP_LEN(%r12), %rsi
	mov	$MADV_HUGEPAGE, %edx
	mov	$__NR_madvise, %eax
	syscall
55:	mov	RT_MAP_DATA(%r12), %rbp		/* image offset of the next stored page */
	xor	%r15d, %r15d			/* extents read in */
56:	cmp	RT_MAP_EXTENTS(%r12), %r15
	jae	53f
	test	$(RT_EXTENT_BATCH - 1), %r15
	jnz	59f
57:	mov	RT_PLAN_IMAGE_FD(%rbx), %rdi
	lea	32(%rsp), %rsi
	mov	RT_MAP_EXTENTS(%r12), %rdx
	sub	%r15, %rdx			/* extents left, at most a batch */
	cmp	$RT_EXTENT_BATCH, %rdx
	jbe	571f
	mov	$RT_EXTENT_BATCH, %edx
571:	shl	$4, %rdx			/* CKPT_RE_SIZE */
	mov	%r15, %r10
	shl	$4, %r10
	add	RT_MAP_EXTENTS_AT(%r12), %r10
	mov	$__NR_pread64, %eax
	syscall
	cmp	$-EINTR, %rax
	je	57b
	cmp	%rdx, %rax
	jne	.Lfail
59:	mov	%r15, %rax
	and	$(RT_EXTENT_BATCH - 1), %eax
	shl	$4, %rax
	mov	32 + CKPT_RE_FIRST(%rsp,%rax), %rcx
	mov	%rcx, CKPT_RE_FIRST(%rsp)
	mov	32 + CKPT_RE_COUNT(%rsp,%rax), %rcx
	mov	%rcx, CKPT_RE_COUNT(%rsp)
	mov	CKPT_RE_FIRST(%rsp), %rax
	shl	$12, %rax			/* pages to bytes (CKPT_IMAGE_PAGE) */
	add	RT_MAP_ADDR(%r12), %rax
	mov	%rax, CKPT_RE_FIRST(%rsp)
	shlq	$12, CKPT_RE_COUNT(%rsp)
	xor	%r14d, %r14d			/* bytes of this extent read so far */
	testb	$RT_MAP_IMAGE, RT_MAP_HUGE_FLAG(%r12)
	jz	52f
	cmpq	$RT_MAP_IMAGE_MIN, CKPT_RE_COUNT(%rsp)
	jb	52f
	/* a large extent: the image's own pages, mapped privately (faults bring them in) */
	mov	$(PROT_READ | PROT_WRITE), %edx
	MMAP_AT	CKPT_RE_FIRST(%rsp), CKPT_RE_COUNT(%rsp), $(MAP_PRIVATE | MAP_FIXED), RT_PLAN_IMAGE_FD(%rbx), %rbp
	mov	CKPT_RE_COUNT(%rsp), %r14
	jmp	58f
52:	cmp	CKPT_RE_COUNT(%rsp), %r14
	jae	58f
	mov	RT_PLAN_IMAGE_FD(%rbx), %rdi
	mov	CKPT_RE_FIRST(%rsp), %rsi
	add	%r14, %rsi
	mov	CKPT_RE_COUNT(%rsp), %rdx
	sub	%r14, %rdx
	mov	%rbp, %r10
	add	%r14, %r10
	mov	$__NR_pread64, %eax
	syscall
	cmp	$-EINTR, %rax
	je	52b
	test	%rax, %rax
	jle	.Lfail
	add	%rax, %r14
	jmp	52b
58:	add	%r14, %rbp
	inc	%r15
	jmp	56b
53:	mov	RT_MAP_ADDR(%r12), %rdi
	mov	RT_MAP_LEN(%r12), %rsi
	mov	RT_MAP_PROT(%r12), %rdx
	mov	$__NR_mprotect, %eax
	syscall
	test	%rax, %rax
	jnz	.Lfail
54:	add	$RT_MAP_SIZE, %r12
	dec	%r13
	jmp	5b

6:	mov	RT_PLAN_POKES(%rbx), %r13
7:	test	%r13, %r13
	jz	8f
	mov	(%r12), %rdi
	mov	8(%r12), %rax
	mov	%rax, (%rdi)
	add	$16, %r12
	dec	%r13
	jmp	7b

8:	mov	RT_PLAN_CLOSES(%rbx), %r13
81:	test	%r13, %r13
	jz	82f
	mov	(%r12), %rdi
	mov	$__NR_close, %eax
	syscall
	add	$8, %r12
	dec	%r13
	jmp	81b
	/* the regions' advice and locks (ckpt/advice.c), their results not checked: an advice
	 * the kernel refuses now leaves the region as a fresh mapping is */
82:	mov	RT_PLAN_CALLS(%rbx), %r13
83:	test	%r13, %r13
	jz	84f
	mov	(%r12), %rax
	mov	8(%r12), %rdi
	mov	16(%r12), %rsi
	mov	24(%r12), %rdx
	syscall
	add	$RT_CALL_SIZE, %r12
	dec	%r13
	jmp	83b
84:	mov	RT_PLAN_IMAGE_FD(%rbx), %rdi
	mov	$__NR_close, %eax
	syscall
	mov	$ARCH_SET_FS, %edi
	mov	RT_PLAN_FS_BASE(%rbx), %rsi
	mov	$__NR_arch_prctl, %eax
	syscall
	/* the program's rseq area, registered again with this kernel (before the net is armed) */
	REGISTER_RSEQ %rbx, RT_PLAN_RSEQ_ADDR, RT_PLAN_RSEQ_LEN, RT_PLAN_RSEQ_SIG
	/* the first thread's clear_child_tid and robust list */
	mov	RT_PLAN_CLEAR_TID(%rbx), %rdi
	cmp	$RT_NO_DATA, %rdi
	je	11f
	mov	$__NR_set_tid_address, %eax
	syscall
11:	SET_ROBUST_LIST %rbx, RT_PLAN_ROBUST_HEAD, RT_PLAN_ROBUST_LEN
	call	.Lmake_threads
	mov	RT_PLAN_SUD_LEN(%rbx), %r10
	test	%r10, %r10
	jz	9f
	mov	$RT_PR_SET_SYSCALL_USER_DISPATCH, %edi
	mov	$RT_PR_SYS_DISPATCH_ON, %esi
	mov	RT_PLAN_SUD_START(%rbx), %rdx
	mov	RT_PLAN_SUD_SELECTOR(%rbx), %r8
	mov	$__NR_prctl, %eax
	syscall
	/* the signal frame goes onto the program's stack, so that the holding area can go */
9:	mov	RT_PLAN_FRAME_DST(%rbx), %rdi
	mov	RT_PLAN_FRAME_SRC(%rbx), %rsi
	mov	RT_PLAN_FRAME_LEN(%rbx), %rcx
	cld
	rep movsb
	/* rt_restart_finish, in the restored runtime's text (which the net allows), unmaps this
	 * holding area and makes the rt_sigreturn */
	mov	RT_PLAN_HOLD(%rbx), %rdi
	mov	RT_PLAN_HOLD_SIZE(%rbx), %rsi
	mov	RT_PLAN_SIGRETURN(%rbx), %rax
	mov	RT_PLAN_FRAME(%rbx), %rsp
	jmp	*%rax

/*
 * The other threads: each made with its fs base and clear_child_tid, on its own stack (the frame it
 * returns through), each waits for the go, then all are released at once. They leave the holding
 * area through the restored runtime's rt_thread_restart_finish, which arms their net, counts them
 * out and makes their rt_sigreturn; the first thread goes on once all have left, since it then
 * unmaps the holding area. r14: the thread area, r12: the entry, r13: threads left to make.
 */
.Lmake_threads:
	mov	RT_PLAN_THREADS(%rbx), %r14
	test	%r14, %r14
	jz	24f
	mov	RT_TA_COUNT(%r14), %r13
	lea	RT_TA_ENTRIES(%r14), %r12
20:	test	%r13, %r13
	jz	22f
	mov	$RT_THREAD_CLONE_FLAGS, %edi
	mov	RT_TH_FRAME(%r12), %rsi
	xor	%edx, %edx
	mov	RT_TH_CLEAR_TID(%r12), %r10
	mov	RT_TH_FS_BASE(%r12), %r8
	mov	$__NR_clone, %eax
	syscall
	test	%rax, %rax
	jz	.Lthread
	js	.Lfail
	mov	RT_TH_SLOT(%r12), %rdi
	mov	%rax, (%rdi)		/* the runtime's slot for the thread, keyed by its new tid */
	add	$RT_TH_SIZE, %r12
	dec	%r13
	jmp	20b
22:	movl	$1, RT_TA_GO(%r14)
	lea	RT_TA_GO(%r14), %rdi
	mov	$RT_FUTEX_WAKE_PRIVATE, %esi
	mov	$0x7fffffff, %edx
	mov	$__NR_futex, %eax
	syscall
23:	mov	RT_TA_LEFT(%r14), %edx
	cmp	RT_TA_COUNT(%r14), %edx
	je	24f
	lea	RT_TA_LEFT(%r14), %rdi
	mov	$RT_FUTEX_WAIT_PRIVATE, %esi
	xor	%r10d, %r10d
	mov	$__NR_futex, %eax
	syscall
	jmp	23b
24:	ret

/* A new thread: its robust list and rseq area, its frame onto its stack, then the go */
.Lthread:
	SET_ROBUST_LIST %r12, RT_TH_ROBUST_HEAD, RT_TH_ROBUST_LEN
	REGISTER_RSEQ %r12, RT_TH_RSEQ_ADDR, RT_TH_RSEQ_LEN, RT_TH_RSEQ_SIG
	mov	RT_TH_FRAME_DST(%r12), %rdi
	mov	RT_TH_FRAME_SRC(%r12), %rsi
	mov	RT_TH_FRAME_LEN(%r12), %rcx
	cld
	rep movsb
	WAIT_WHILE_ZERO RT_TA_GO(%r14)
	lea	RT_TA_LEFT(%r14), %rdi
	mov	RT_PLAN_SUD_LEN(%rbx), %rsi
	mov	RT_PLAN_SUD_START(%rbx), %rdx
	mov	RT_PLAN_SUD_SELECTOR(%rbx), %r8
	jmp	*RT_TA_FINISH(%r14)

.Lfail:
	mov	$2, %edi		/* stderr */
	lea	.Lmsg(%rip), %rsi
	mov	$(.Lmsg_end - .Lmsg), %edx
	mov	$__NR_write, %eax
	syscall
	mov	$CKPT_EXIT_RUNTIME, %edi
	mov	$__NR_exit_group, %eax
	syscall
	ud2
.Lmsg:	.ascii	"ckpt: restore failed while rebuilding memory\n"
.Lmsg_end:
rt_restorer_code_end:

	.section .note.GNU-stack,"",@progbits
