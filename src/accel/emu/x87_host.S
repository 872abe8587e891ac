/*
 * Runs one guest x87 instruction on the host FPU: the exact encoding, from a
 * table of stubs, with the guest's whole x87 state loaded. This is how the
 * emulator gets results bit-exact with hardware (precision and rounding
 * control, denormals, NaN propagation, the status and tag words) without
 * emulating extended precision in software.
 *
 *   uint64_t emu_x87_host(void *img, const void *stub, void *mem, uint64_t rflags)
 *
 * img is a 108-byte FNSAVE image (32-bit format): FRSTOR loads it, the stub
 * runs with rdi = mem (its memory operand) and RFLAGS = rflags (FCMOVcc
 * reads them), FNSAVE stores the result back and reinitializes the FPU, and
 * the host's control word is restored: the host ABI's x87 state (empty
 * stack, callee-saved control word) survives. Returns RFLAGS after the stub
 * (FCOMI and friends write them). FNSAVE does not wait, so an unmasked
 * exception the guest instruction raises stays pending in the image instead
 * of faulting here; the caller never runs a waiting instruction while one is
 * pending in the guest state.
 */
	.intel_syntax noprefix
	.text
	.globl emu_x87_host
	.hidden emu_x87_host
	.type emu_x87_host, @function
emu_x87_host:
	sub rsp, 8
	fnstcw [rsp]
	mov r8, rdi
	frstor [r8]
	push rcx
	popfq
	mov rdi, rdx
	call rsi
	pushfq
	pop rax
	fnsave [r8]
	fldcw [rsp]
	add rsp, 8
	ret
	.size emu_x87_host, . - emu_x87_host

/*
 * Register forms: escape D8+e, ModRM C0+m, at emu_x87_reg_stubs + 4 * (e * 64 + m).
 * Only the encodings the decoder accepts are ever called.
 */
	.balign 64
	.globl emu_x87_reg_stubs
	.hidden emu_x87_reg_stubs
emu_x87_reg_stubs:
	.set esc, 0xd8
	.rept 8
	.set mrm, 0xc0
	.rept 64
	.byte esc, mrm, 0xc3, 0x90
	.set mrm, mrm + 1
	.endr
	.set esc, esc + 1
	.endr

/*
 * Memory forms with the operand at [rdi]: escape D8+e, digit d, at
 * emu_x87_mem_stubs + 4 * (e * 8 + d); then the same with a 66h prefix
 * (16-bit FLDENV/FNSTENV/FRSTOR/FNSAVE formats) at + 256.
 */
	.balign 64
	.globl emu_x87_mem_stubs
	.hidden emu_x87_mem_stubs
emu_x87_mem_stubs:
	.set esc, 0xd8
	.rept 8
	.set dig, 0
	.rept 8
	.byte esc, (dig << 3) | 7, 0xc3, 0x90
	.set dig, dig + 1
	.endr
	.set esc, esc + 1
	.endr
	.set esc, 0xd8
	.rept 8
	.set dig, 0
	.rept 8
	.byte 0x66, esc, (dig << 3) | 7, 0xc3
	.set dig, dig + 1
	.endr
	.set esc, esc + 1
	.endr

	.section .note.GNU-stack, "", @progbits
