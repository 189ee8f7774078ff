/*
 * fpu_regs: the floating-point and vector register file survives, not only memory. Distinct
 * patterns go into xmm0-15, ymm0-15 when the CPU has AVX, and zmm0-31 and k0-7 when it has
 * AVX-512; MXCSR (round toward zero, flush to zero) and the x87 control word (truncate, double
 * precision) are changed from their defaults, and two 80-bit values sit on the x87 stack. The
 * registers are loaded in assembly, which then prints READY and spins on read(0) through its own
 * syscall instruction without touching them; the checkpoint lands in that read. After the
 * restart the same assembly stores every register, and C compares.
 */
#include "zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <cpuid.h>
#include <stddef.h>
#include <stdint.h>

#define OFF_K		2048	/* after 32 vector registers of 64 bytes */
#define OFF_MXCSR	2064
#define OFF_FCW		2068
#define OFF_ST		2080	/* two 16-byte slots, 10 bytes used */
#define OFF_RESULT	2112
#define STR(x) #x
#define XSTR(x) STR(x)

struct fpu_state {
	unsigned char vec[32][64];
	uint16_t k[8];
	uint32_t mxcsr;
	uint16_t fcw;
	long double st[2];
	int64_t result;	/* the last read(0): 1 when the harness's line came */
};
_Static_assert(offsetof(struct fpu_state, k) == OFF_K, "k");
_Static_assert(offsetof(struct fpu_state, mxcsr) == OFF_MXCSR, "mxcsr");
_Static_assert(offsetof(struct fpu_state, fcw) == OFF_FCW, "fcw");
_Static_assert(offsetof(struct fpu_state, st) == OFF_ST, "st");
_Static_assert(offsetof(struct fpu_state, result) == OFF_RESULT, "result");

/* Each takes (in, out): loads `in`, prints READY, waits for the line, stores into `out` */
void hold_sse(const struct fpu_state *in, struct fpu_state *out);
void hold_avx(const struct fpu_state *in, struct fpu_state *out);
void hold_avx512(const struct fpu_state *in, struct fpu_state *out);

__asm__(
	".macro HOLD_BEGIN\n"
	"	push %rbx\n push %r12\n push %r12\n"	/* twice: keeps rsp 16-byte aligned */
	"	mov %rdi, %rbx\n mov %rsi, %r12\n"
	"	ldmxcsr " XSTR(OFF_MXCSR) "(%rbx)\n"
	"	fldcw " XSTR(OFF_FCW) "(%rbx)\n"
	"	fldt " XSTR(OFF_ST) "+16(%rbx)\n fldt " XSTR(OFF_ST) "(%rbx)\n"
	".endm\n"
	/* only rax, rcx, rdx, rsi, rdi and r11 change from here to HOLD_END */
	".macro HOLD_WAIT\n"
	"	mov $1, %eax\n mov $1, %edi\n lea zdtm_ready_text(%rip), %rsi\n mov $6, %edx\n syscall\n"
	"1:	xor %eax, %eax\n xor %edi, %edi\n lea zdtm_line_byte(%rip), %rsi\n mov $1, %edx\n syscall\n"
	"	cmp $1, %rax\n jne 2f\n"
	"	cmpb $10, zdtm_line_byte(%rip)\n jne 1b\n"
	"2:	mov %rax, " XSTR(OFF_RESULT) "(%r12)\n"
	".endm\n"
	".macro HOLD_END\n"
	"	stmxcsr " XSTR(OFF_MXCSR) "(%r12)\n"
	"	fnstcw " XSTR(OFF_FCW) "(%r12)\n"
	"	fstpt " XSTR(OFF_ST) "(%r12)\n fstpt " XSTR(OFF_ST) "+16(%r12)\n"
	"	ldmxcsr zdtm_default_mxcsr(%rip)\n fldcw zdtm_default_fcw(%rip)\n"
	"	pop %r12\n pop %r12\n pop %rbx\n ret\n"
	".endm\n"
	".section .rodata\n"
	"zdtm_ready_text: .ascii \"READY\\n\"\n"
	"zdtm_default_mxcsr: .long 0x1f80\n"
	"zdtm_default_fcw: .word 0x037f\n"
	".bss\n"
	"zdtm_line_byte: .byte 0\n"
	".text\n"

	".globl hold_sse\n.type hold_sse, @function\nhold_sse:\n"
	"	HOLD_BEGIN\n"
	"	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n movdqu 64*\\i(%rbx), %xmm\\i\n .endr\n"
	"	HOLD_WAIT\n"
	"	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n movdqu %xmm\\i, 64*\\i(%r12)\n .endr\n"
	"	HOLD_END\n"
	".size hold_sse, .-hold_sse\n"

	".globl hold_avx\n.type hold_avx, @function\nhold_avx:\n"
	"	HOLD_BEGIN\n"
	"	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n vmovdqu 64*\\i(%rbx), %ymm\\i\n .endr\n"
	"	HOLD_WAIT\n"
	"	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n vmovdqu %ymm\\i, 64*\\i(%r12)\n .endr\n"
	"	vzeroupper\n"
	"	HOLD_END\n"
	".size hold_avx, .-hold_avx\n"

	".globl hold_avx512\n.type hold_avx512, @function\nhold_avx512:\n"
	"	HOLD_BEGIN\n"
	"	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
	"	vmovdqu64 64*\\i(%rbx), %zmm\\i\n .endr\n"
	"	.irp i, 0,1,2,3,4,5,6,7\n kmovw " XSTR(OFF_K) "+2*\\i(%rbx), %k\\i\n .endr\n"
	"	HOLD_WAIT\n"
	"	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
	"	vmovdqu64 %zmm\\i, 64*\\i(%r12)\n .endr\n"
	"	.irp i, 0,1,2,3,4,5,6,7\n kmovw %k\\i, " XSTR(OFF_K) "+2*\\i(%r12)\n .endr\n"
	"	vzeroupper\n"
	"	HOLD_END\n"
	".size hold_avx512, .-hold_avx512\n");

enum level { SSE, AVX, AVX512 };

static uint64_t xcr0(void)
{
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

/* What the CPU has and the kernel enabled (XCR0: 0x6 for AVX state, 0xe0 more for AVX-512) */
static enum level cpu_level(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX) || (xcr0() & 0x6) != 0x6)
		return SSE;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & bit_AVX512F) || (xcr0() & 0xe6) != 0xe6)
		return AVX;
	return AVX512;
}

static const char *level_names[] = { "sse", "avx", "avx512" };
static const int vector_count[] = { 16, 16, 32 }, vector_width[] = { 16, 32, 64 };

static void compare(const struct fpu_state *in, const struct fpu_state *out, enum level level)
{
	static const char prefix[] = { 'x', 'y', 'z' };
	zdtm_check(out->result == 1, "the raw read(0) returned %lld", (long long)out->result);
	for (int i = 0; i < vector_count[level]; i++)
		for (int j = 0; j < vector_width[level]; j++)
			zdtm_check(out->vec[i][j] == in->vec[i][j], "%cmm%d byte %d is %#x, not %#x",
				prefix[level], i, j, out->vec[i][j], in->vec[i][j]);
	for (int i = 0; level == AVX512 && i < 8; i++)
		zdtm_check(out->k[i] == in->k[i], "k%d is %#x, not %#x", i, out->k[i], in->k[i]);
	zdtm_check(out->mxcsr == in->mxcsr, "MXCSR is %#x, not %#x", out->mxcsr, in->mxcsr);
	zdtm_check(out->fcw == in->fcw, "the x87 control word is %#x, not %#x", out->fcw, in->fcw);
	for (int i = 0; i < 2; i++)
		zdtm_check(!memcmp(&out->st[i], &in->st[i], 10), "x87 st(%d) is %La, not %La", i, out->st[i], in->st[i]);
}

int main(void)
{
	static struct fpu_state in, out;
	for (int i = 0; i < 32; i++)
		for (int j = 0; j < 64; j++)
			in.vec[i][j] = (unsigned char)(i * 17 + j * 5 + 3);
	for (int i = 0; i < 8; i++)
		in.k[i] = (uint16_t)(0x1111 * (i + 1) ^ 0x8421);
	in.mxcsr = 0x1f80 | 0x6000 | 0x8000;	/* round toward zero, flush to zero */
	in.fcw = 0x0e7f;	/* truncate and 53-bit precision; the default 0x037f rounds to nearest, 64-bit */
	in.st[0] = 3.14159265358979323846264338327950288L;
	in.st[1] = -1.0e4000L;	/* beyond double: only the 80-bit register holds it */
	enum level level = cpu_level();
	fprintf(stderr, "fpu_regs: %s registers\n", level_names[level]);
	void (*hold[])(const struct fpu_state *, struct fpu_state *) = { hold_sse, hold_avx, hold_avx512 };
	hold[level](&in, &out);
	compare(&in, &out, level);
	zdtm_pass();
}
