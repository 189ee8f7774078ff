/*
 * Running C on a stack of the runtime's own: the checkpoint's scratch stack, the restart's holding
 * area. The program's stack is left as the signal frame or the start left it.
 */
	.text
	.globl	rt_call_on_stack
	.hidden	rt_call_on_stack
	.type	rt_call_on_stack, @function
/* void rt_call_on_stack(void (*fn)(void *), void *arg, void *stack_top) */
rt_call_on_stack:
	push	%rbp
	mov	%rsp, %rbp
	mov	%rdx, %rsp
	and	$-16, %rsp
	mov	%rdi, %rax
	mov	%rsi, %rdi
	call	*%rax
	mov	%rbp, %rsp
	pop	%rbp
	ret
	.size	rt_call_on_stack, .-rt_call_on_stack

	.section .note.GNU-stack,"",@progbits
