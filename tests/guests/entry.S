/*
 * Entry point of every guest program, reached as the Linux 64-bit boot
 * protocol enters a kernel: long mode, interrupts off, RSI = zero page.
 * Clears .bss, switches to the program's own stack and calls
 * guest_main(zero_page). If guest_main returns, the guest resets.
 */
	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	cli
	cld
	mov	%rsi, %rbx			/* keep the zero page across rep stosb */
	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx
	sub	%rdi, %rcx
	xor	%eax, %eax
	rep stosb
	lea	stack_top(%rip), %rsp
	mov	%rbx, %rdi
	call	guest_main
	call	guest_reset

	.section .bss
	.balign 16
stack:
	.skip	16384
stack_top:

	.section .note.GNU-stack, "", @progbits
