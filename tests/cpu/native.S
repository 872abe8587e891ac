/*
 * Runs one instruction on the host CPU with every GPR, RFLAGS, XMM register
 * and the x87/MMX/MXCSR state (FXRSTOR) loaded from a struct regs, and saves
 * them back; the host's own x87/SSE state is kept aside meanwhile.
 *   void native_enter(const struct regs *in, struct regs *out, void *insn)
 * The instruction's landing pads jump back to native_return.
 */
	.intel_syntax noprefix
	.text
	.globl native_enter
	.globl native_return
	.type native_enter, @function
native_enter:
	push rbx
	push rbp
	push r12
	push r13
	push r14
	push r15
	mov [rip + host_rsp], rsp
	mov [rip + out_ptr], rsi
	mov [rip + insn_ptr], rdx
	fxsave [rip + host_fx]
	fxrstor [rdi + 400]
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu xmm\n, [rdi + 144 + 16 * \n]
	.endr
	mov rsp, rdi
	pop rax
	pop rcx
	pop rdx
	pop rbx
	pop rbp		/* the RSP slot: loaded last */
	pop rbp
	pop rsi
	pop rdi
	pop r8
	pop r9
	pop r10
	pop r11
	pop r12
	pop r13
	pop r14
	pop r15
	popfq
	mov rsp, [rsp - 136 + 32]
	jmp [rip + insn_ptr]

native_return:
	mov [rip + guest_rsp], rsp
	mov rsp, [rip + out_ptr]
	lea rsp, [rsp + 136]
	pushfq
	push r15
	push r14
	push r13
	push r12
	push r11
	push r10
	push r9
	push r8
	push rdi
	push rsi
	push rbp
	push rax	/* RSP slot, fixed below */
	push rbx
	push rdx
	push rcx
	push rax
	mov rax, [rip + guest_rsp]
	mov [rsp + 32], rax
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu [rsp + 144 + 16 * \n], xmm\n
	.endr
	fxsave [rsp + 400]
	fxrstor [rip + host_fx]
	cld
	mov rsp, [rip + host_rsp]
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbp
	pop rbx
	ret
	.size native_enter, . - native_enter

	.bss
	.balign 8
host_rsp:	.quad 0
guest_rsp:	.quad 0
out_ptr:	.quad 0
insn_ptr:	.quad 0
	.balign 16
host_fx:	.zero 512	/* the host's x87/SSE state while the test runs */
	.section .note.GNU-stack, "", @progbits
