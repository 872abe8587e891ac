/* SSE/SSE2 decoding: none yet; every SSE opcode is #UD. */
#include "accel/emu/decode.h"

bool dec_sse(struct dstate *d, struct emu_insn *i, unsigned b)
{
	(void)d;
	(void)i;
	(void)b;
	return false;
}
