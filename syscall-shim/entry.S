/*
 * The shim: where every patched system call site arrives, and where the program starts.
 * Nothing here may touch the program's red zone, vector registers or flags.
 */
#include <asm/unistd_64.h>
#include "include/ckpt_contract.h"
#include "arch/x86_64/ctx.h"
#include "arch/x86_64/asm-numbers.h"
#include "regs.inc"


	.text
	.globl	rt_shim_entry
	.hidden	rt_shim_entry
	.type	rt_shim_entry, @function
/*
 * Called from a trampoline with rsp CKPT_RED_ZONE bytes below the program's, rax = system call
 * number, the other registers as the program left them. Returns with rax = result and every other
 * register but rcx and r11 unchanged, flags included, as the syscall instruction would.
 *
 * Fast path: calls the runtime only counts go straight to the kernel. The arithmetic flags are
 * kept in rax as lahf/seto left them (ah = SF ZF AF PF CF, al = OF), the number in r11, because
 * popfq costs more than the whole fast path.
 */
rt_shim_entry:
	mov	%rax, %r11		/* r11 = number, rax = flags until the syscall */
	lahf
	seto	%al
	cmp	$RT_NR_MAX, %r11
	jae	.Lslow
	lea	rt_syscall_class(%rip), %rcx
	cmpb	$0, (%rcx,%r11)
	jne	.Lslow
	lea	rt_counts(%rip), %rcx
	lock addq $1, (%rcx,%r11,8)	/* threads count at the same time */
	add	$0x7f, %al		/* OF = (al == 1) */
	sahf
	mov	%r11, %rax
	push	%r11			/* for a checkpoint that has to make this call again */
	syscall
	.globl	rt_shim_after_syscall
	.hidden	rt_shim_after_syscall
rt_shim_after_syscall:
	pop	%rcx			/* rcx is the syscall's to clobber */
	ret

.Lslow:
	add	$0x7f, %al
	sahf
	mov	%r11, %rax		/* from here the flags are exactly the program's */
	pushfq
	cmp	$__NR_rt_sigreturn, %rax
	je	.Lsigreturn
	PUSH_ALL
	mov	%rsp, %rdi		/* struct rt_ctx *: a shim frame */
	mov	%rsp, %rbx
	and	$-16, %rsp
	cld
	call	rt_shim_dispatch
	mov	%rbx, %rsp
	POP_ALL
	popfq
	ret

/* rt_sigreturn reads its frame at the program's rsp: drop flags, return address and red-zone gap */
.Lsigreturn:
	lea	rt_counts(%rip), %rcx
	lock addq $1, 8*__NR_rt_sigreturn(%rcx)
	lea	16+CKPT_RED_ZONE(%rsp), %rsp
	syscall
	ud2
	.size	rt_shim_entry, .-rt_shim_entry

	.globl	rt_start
	.hidden	rt_start
	.type	rt_start, @function
/*
 * The new e_entry. Saves the registers the kernel started the program with, lets rt_init set up
 * the runtime, then enters the program's own entry with every register and flag as they were.
 */
rt_start:
	pushfq
	PUSH_ALL
	mov	%rsp, %rdi		/* saved registers */
	lea	RT_CTX_RIP(%rsp), %rsi	/* the initial stack: argc, argv, envp, auxv */
	mov	%rsp, %rbx
	and	$-16, %rsp
	call	rt_init
	mov	%rbx, %rsp
	POP_ALL
	popfq
	jmp	*rt_entry_target(%rip)
	.size	rt_start, .-rt_start

	.globl	rt_restart_finish
	.hidden	rt_restart_finish
	.type	rt_restart_finish, @function
/*
 * The restorer's last step, in the restored runtime's text (which the SUD net allows): unmap the
 * holding area the restorer ran from (rdi, rsi), release the other threads, then rt_sigreturn on
 * the frame at rsp.
 */
rt_restart_finish:
	mov	$__NR_munmap, %eax
	syscall
	movl	$1, rt_restart_released(%rip)	/* the other threads may run the program now */
	lea	rt_restart_released(%rip), %rdi
	mov	$RT_FUTEX_WAKE_PRIVATE, %esi
	mov	$0x7fffffff, %edx
	mov	$__NR_futex, %eax
	syscall
	mov	$__NR_rt_sigreturn, %eax
	syscall
	ud2
	.size	rt_restart_finish, .-rt_restart_finish

	.globl	rt_thread_restart_finish
	.hidden	rt_thread_restart_finish
	.type	rt_thread_restart_finish, @function
/*
 * A restarted thread's last step out of the holding area (pie/restorer.S), in the restored
 * runtime's text: arms its SUD net (rsi: length, 0 for none; rdx: start; r8: selector), queues
 * itself the signals that were pending on it alone (ckpt/threads.c), counts itself out in the
 * 32-bit word at rdi, which the first thread waits on before it unmaps the holding area, waits until the first thread says the process is whole (rt_restart_released), then
 * rt_sigreturn on its frame at rsp: no thread runs the program while the holding area is there.
 */
rt_thread_restart_finish:
	mov	%rdi, %r12
	mov	%rsi, %r10
	test	%r10, %r10
	jz	1f
	mov	$RT_PR_SET_SYSCALL_USER_DISPATCH, %edi
	mov	$RT_PR_SYS_DISPATCH_ON, %esi
	mov	$__NR_prctl, %eax
	syscall
1:	mov	%rsp, %rbx			/* C below the frame (rt_sigreturn puts every register back) */
	and	$-16, %rsp
	cld
	call	rt_restart_own_signals
	mov	%rbx, %rsp
	lock incl (%r12)
	mov	%r12, %rdi
	mov	$RT_FUTEX_WAKE_PRIVATE, %esi
	mov	$1, %edx
	mov	$__NR_futex, %eax
	syscall
	WAIT_WHILE_ZERO rt_restart_released(%rip)
	mov	$__NR_rt_sigreturn, %eax
	syscall
	ud2
	.size	rt_thread_restart_finish, .-rt_thread_restart_finish

	.globl	rt_restorer
	.hidden	rt_restorer
	.type	rt_restorer, @function
/* sa_restorer of the runtime's own signal handlers: its syscall is inside the allowed region */
rt_restorer:
	mov	$__NR_rt_sigreturn, %eax
	syscall
	ud2
	.size	rt_restorer, .-rt_restorer

	.section .note.GNU-stack,"",@progbits
