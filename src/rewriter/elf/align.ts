// Rounding of addresses and file offsets. Added segments are page-aligned so that their file
// offset and address agree modulo the page size, as the kernel's loader requires.

/** The x86-64 page size; p_align of every segment the rewriter adds */
export const PAGE = 0x1000;

export const alignUp = (n: number, align: number) => Math.ceil(n / align) * align;
export const pageUp = (n: number) => alignUp(n, PAGE);
