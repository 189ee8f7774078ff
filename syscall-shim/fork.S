/*
 * System calls after which the caller's stack frame cannot be trusted: a child that starts on a
 * new stack, and a vfork parent whose stack the child has used. Both enter the kernel with the
 * program's own registers loaded and leave without returning through the runtime's C frames.
 * Branches after the syscall use jrcxz on a copy of rax: it is the one test that keeps the flags.
 */
#include <asm/unistd_64.h>
#include "include/ckpt_contract.h"
#include "arch/x86_64/ctx.h"
#include "regs.inc"

	/* Load the program's registers from the struct rt_ctx at %r11; rsp, rcx and r11 excepted */
	.macro LOAD_PROGRAM_GPRS
	mov	RT_CTX_RBX(%r11), %rbx
	mov	RT_CTX_RBP(%r11), %rbp
	mov	RT_CTX_R12(%r11), %r12
	mov	RT_CTX_R13(%r11), %r13
	mov	RT_CTX_R14(%r11), %r14
	mov	RT_CTX_R15(%r11), %r15
	mov	RT_CTX_RDI(%r11), %rdi
	mov	RT_CTX_RSI(%r11), %rsi
	mov	RT_CTX_RDX(%r11), %rdx
	mov	RT_CTX_R10(%r11), %r10
	mov	RT_CTX_R8(%r11), %r8
	mov	RT_CTX_R9(%r11), %r9
	mov	RT_CTX_RAX(%r11), %rax
	.endm

	.text
	.globl	rt_clone_on_stack
	.hidden	rt_clone_on_stack
	.type	rt_clone_on_stack, @function
/*
 * long rt_clone_on_stack(const struct rt_ctx *c, uint64_t child_sp)
 * clone/clone3 with a new stack. The caller stored c->rip at child_sp - 8. The parent returns the
 * result here; the child runs rt_child_started on its new stack, then resumes at c->rip with the
 * program's registers, rax = 0, rsp = child_sp.
 */
rt_clone_on_stack:
	push	%rbx
	push	%rbp
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rdi, %r11
	push	RT_CTX_FLAGS(%r11)
	LOAD_PROGRAM_GPRS
	popfq
	syscall
	mov	%rax, %rcx
	jrcxz	.Lchild_on_stack
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbp
	pop	%rbx
	ret

.Lchild_on_stack:
	lea	-8(%rsp), %rsp		/* [rsp] = the resume address the parent stored */
	pushfq
	PUSH_ALL
	mov	%rsp, %rbx
	and	$-16, %rsp
	cld
	movzbl	rt_child_shares_memory(%rip), %edi
	call	rt_child_started
	mov	%rbx, %rsp
	POP_ALL
	popfq
	ret
	.size	rt_clone_on_stack, .-rt_clone_on_stack

	.globl	rt_vfork_parent
	.hidden	rt_vfork_parent
	.type	rt_vfork_parent, @function
/*
 * void rt_vfork_parent(const struct rt_ctx *c), no return.
 * vfork, or clone with CLONE_VM on the caller's stack. The child borrows the stack and will
 * overwrite everything below the program's rsp, runtime frames included, so the call is made with
 * the program's own rsp and both sides resume at c->rip directly. Nothing the program keeps below
 * its rsp can live across a vfork (the child may write there), so that is where the resume address
 * goes: the child takes it from the slot below rsp at once; the parent, suspended until the child
 * execs or exits, from its thread's own slot (rt_vfork_resume_address: threads vfork at once).
 */
rt_vfork_parent:
	mov	%rdi, %r11
	mov	RT_CTX_RSP(%r11), %rcx
	mov	RT_CTX_RIP(%r11), %rax
	mov	%rax, -8(%rcx)			/* the child's way back */
	sub	$(CKPT_RED_ZONE + 8), %rcx	/* flags go below the red zone */
	mov	RT_CTX_FLAGS(%r11), %rax
	mov	%rax, (%rcx)
	LOAD_PROGRAM_GPRS
	mov	%rcx, %rsp
	popfq
	lea	CKPT_RED_ZONE(%rsp), %rsp
	syscall
	mov	%rax, %rcx
	jrcxz	.Lvfork_child
	lea	-8(%rsp), %rsp			/* the parent's way back goes in that slot again */
	pushfq
	PUSH_ALL
	mov	%rsp, %rbx
	and	$-16, %rsp
	cld
	mov	%rcx, %rdi			/* vfork's result: the child's pid, or -errno */
	call	rt_vfork_resume_address
	mov	%rbx, %rsp
	mov	%rax, RT_CTX_RIP(%rsp)		/* the slot above the saved flags */
	POP_ALL
	popfq
	ret
/* The child owns the parent's stack now; below its red zone it may run C to note its state */
.Lvfork_child:
	lea	-CKPT_RED_ZONE(%rsp), %rsp
	pushfq
	PUSH_ALL
	mov	%rsp, %rbx
	and	$-16, %rsp
	cld
	mov	$RT_CHILD_KIND_VFORK, %edi
	call	rt_child_started
	mov	%rbx, %rsp
	POP_ALL
	popfq
	lea	CKPT_RED_ZONE - 8(%rsp), %rsp
	ret
	.size	rt_vfork_parent, .-rt_vfork_parent

	.globl	rt_unmap_stack_and_exit
	.hidden	rt_unmap_stack_and_exit
	.type	rt_unmap_stack_and_exit, @function
/*
 * void rt_unmap_stack_and_exit(uint64_t addr, uint64_t len), no return: munmap of the stack this
 * thread runs on, then exit(0), neither touching the stack (musl's detached threads end so).
 */
rt_unmap_stack_and_exit:
	mov	$__NR_munmap, %eax
	syscall
	xor	%edi, %edi
	mov	$__NR_exit, %eax
	syscall
	ud2
	.size	rt_unmap_stack_and_exit, .-rt_unmap_stack_and_exit

	.globl	rt_sigreturn_at
	.hidden	rt_sigreturn_at
	.type	rt_sigreturn_at, @function
/* void rt_sigreturn_at(uint64_t rsp), no return: rt_sigreturn on the frame at rsp */
rt_sigreturn_at:
	mov	%rdi, %rsp
	mov	$__NR_rt_sigreturn, %eax
	syscall
	ud2
	.size	rt_sigreturn_at, .-rt_sigreturn_at

	.section .note.GNU-stack,"",@progbits
