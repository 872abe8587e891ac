/*
 * Host side of the differential tests: lays out the instruction with two
 * landing pads and runs it natively, catching #DE/#UD/#GP/#BP as signals.
 * Test code: the signal handler needs the jump buffer in a static.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "harness.h"

void native_enter(const struct regs *in, struct regs *out, void *insn);
void native_return(void);

static sigjmp_buf jump_back;
static struct regs sig_regs;
static int sig_trapno;

/* ucontext greg index of each GPR in struct regs order */
static const int greg_of[16] = {
	REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
	REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)si;
	for (int k = 0; k < 16; k++)
		sig_regs.gpr[k] = (uint64_t)uc->uc_mcontext.gregs[greg_of[k]];
	sig_regs.rflags = (uint64_t)uc->uc_mcontext.gregs[REG_EFL];
	sig_regs.pad = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	memcpy(sig_regs.xmm, uc->uc_mcontext.fpregs->_xmm, sizeof(sig_regs.xmm));
	/* the kernel's software bytes sit past 464: not part of the image */
	memcpy(sig_regs.fx, uc->uc_mcontext.fpregs, 416);
	sig_trapno = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
	siglongjmp(jump_back, sig);
}

int native_init(uint8_t *area)
{
	static const int sigs[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGTRAP };
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | SA_ONSTACK };
	stack_t ss = { .ss_size = 1 << 16 };

	(void)area;
	ss.ss_sp = malloc(ss.ss_size);
	if (!ss.ss_sp || sigaltstack(&ss, NULL))
		return -1;
	sigemptyset(&sa.sa_mask);
	for (unsigned k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
		if (sigaction(sigs[k], &sa, NULL))
			return -1;
	return 0;
}

/* mov byte [rip + to LANDED], tag; jmp [rip]; .quad native_return */
static unsigned pad(uint8_t *area, unsigned off, uint8_t tag)
{
	uint8_t *p = area + off;
	int32_t rel = (int32_t)(LANDED_OFF - (off + 7));
	uint64_t ret = (uint64_t)(uintptr_t)native_return;

	p[0] = 0xc6;
	p[1] = 0x05;
	memcpy(p + 2, &rel, 4);
	p[6] = tag;
	p[7] = 0xff;
	p[8] = 0x25;
	memset(p + 9, 0, 4);
	memcpy(p + 13, &ret, 8);
	return 21;
}

void native_place(uint8_t *area, const uint8_t *insn, unsigned len)
{
	memset(area + INSN_OFF, 0xcc, LANDED_OFF - INSN_OFF);
	memcpy(area + INSN_OFF, insn, len);
	pad(area, INSN_OFF + len, 1);
	pad(area, INSN_OFF + len + BRANCH_REL, 2);
}

void native_run(uint8_t *area, const struct regs *in, struct native_result *res)
{
	volatile int sig;

	area[LANDED_OFF] = 0;
	sig = sigsetjmp(jump_back, 1);
	if (!sig) {
		native_enter(in, &res->out, area + INSN_OFF);
		res->sig = 0;
		res->landed = area[LANDED_OFF];
		return;
	}
	res->sig = sig;
	res->landed = 0;
	res->trapno = sig_trapno;
	res->out = sig_regs;
}
