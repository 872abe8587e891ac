/*
 * Packed integer arithmetic, compares and logic (MMX and SSE2): one handler
 * per instruction, shared by the 8-byte (MMX) and 16-byte (XMM) forms.
 * Also ANDPS/ANDNPS/ORPS/XORPS (+PD): the same bitwise operations.
 */
#include "accel/emu/sse.h"

/* Element-wise d = f(d, s) over n bytes of lanes of type T. */
#define LANEWISE(name, T, expr)							\
	static inline void name(uint8_t *d, const uint8_t *s, unsigned n)	\
	{									\
		for (unsigned k = 0; k < n; k += sizeof(T)) {			\
			T a, b, r;						\
			memcpy(&a, d + k, sizeof(T));				\
			memcpy(&b, s + k, sizeof(T));				\
			r = (T)(expr);						\
			memcpy(d + k, &r, sizeof(T));				\
		}								\
	}

/* A handler around a lane-wise (or any in-place) function. */
#define VEC_HANDLER(op, fn)							\
	EMU_OP(op)								\
	{									\
		uint8_t s[16];							\
									\
		vsrc(cpu, i, s);						\
		fn(vreg(cpu, i->xreg, i->sz2), s, i->sz2);			\
		vdone(cpu, i);							\
		return emu_next(cpu, i);					\
	}

#define LANE_OP(op, T, expr) LANEWISE(f_##op, T, expr) VEC_HANDLER(op_##op, f_##op)

static inline int sat_s8(int v) { return v < -128 ? -128 : v > 127 ? 127 : v; }
static inline int sat_s16(int v) { return v < -32768 ? -32768 : v > 32767 ? 32767 : v; }
static inline int sat_u8(int v) { return v < 0 ? 0 : v > 255 ? 255 : v; }
static inline int sat_u16(int v) { return v < 0 ? 0 : v > 65535 ? 65535 : v; }

LANE_OP(paddb, uint8_t, a + b)
LANE_OP(paddw, uint16_t, a + b)
LANE_OP(paddd, uint32_t, a + b)
LANE_OP(paddq, uint64_t, a + b)
LANE_OP(psubb, uint8_t, a - b)
LANE_OP(psubw, uint16_t, a - b)
LANE_OP(psubd, uint32_t, a - b)
LANE_OP(psubq, uint64_t, a - b)
LANE_OP(paddusb, uint8_t, sat_u8(a + b))
LANE_OP(paddusw, uint16_t, sat_u16(a + b))
LANE_OP(psubusb, uint8_t, sat_u8(a - b))
LANE_OP(psubusw, uint16_t, sat_u16(a - b))
LANE_OP(paddsb, int8_t, sat_s8(a + b))
LANE_OP(paddsw, int16_t, sat_s16(a + b))
LANE_OP(psubsb, int8_t, sat_s8(a - b))
LANE_OP(psubsw, int16_t, sat_s16(a - b))
LANE_OP(pmullw, uint16_t, (uint32_t)a * b)
LANE_OP(pmulhw, int16_t, ((int32_t)a * b) >> 16)
LANE_OP(pmulhuw, uint16_t, ((uint32_t)a * b) >> 16)
LANE_OP(pmuludq, uint64_t, (a & 0xffffffffu) * (b & 0xffffffffu))
LANE_OP(pminub, uint8_t, a < b ? a : b)
LANE_OP(pmaxub, uint8_t, a > b ? a : b)
LANE_OP(pminsw, int16_t, a < b ? a : b)
LANE_OP(pmaxsw, int16_t, a > b ? a : b)
LANE_OP(pavgb, uint8_t, (a + b + 1) >> 1)
LANE_OP(pavgw, uint16_t, ((uint32_t)a + b + 1) >> 1)
LANE_OP(pcmpeqb, uint8_t, a == b ? 0xff : 0)
LANE_OP(pcmpeqw, uint16_t, a == b ? 0xffff : 0)
LANE_OP(pcmpeqd, uint32_t, a == b ? 0xffffffffu : 0)
LANE_OP(pcmpgtb, int8_t, a > b ? -1 : 0)
LANE_OP(pcmpgtw, int16_t, a > b ? -1 : 0)
LANE_OP(pcmpgtd, int32_t, a > b ? -1 : 0)
LANE_OP(pand, uint64_t, a & b)
LANE_OP(pandn, uint64_t, ~a & b)
LANE_OP(por, uint64_t, a | b)
LANE_OP(pxor, uint64_t, a ^ b)

/* PMADDWD: pairs of signed word products summed into dwords. 0x8000 *
 * 0x8000 twice wraps to 0x80000000, as on hardware. */
static inline void f_pmaddwd(uint8_t *d, const uint8_t *s, unsigned n)
{
	for (unsigned k = 0; k < n; k += 4) {
		int16_t a[2], b[2];
		uint32_t r;

		memcpy(a, d + k, 4);
		memcpy(b, s + k, 4);
		r = (uint32_t)((int32_t)a[0] * b[0]) + (uint32_t)((int32_t)a[1] * b[1]);
		memcpy(d + k, &r, 4);
	}
}
VEC_HANDLER(op_pmaddwd, f_pmaddwd)

/* PSADBW: per 8-byte group, the sum of absolute differences in the low
 * word, the rest zero. */
static inline void f_psadbw(uint8_t *d, const uint8_t *s, unsigned n)
{
	for (unsigned k = 0; k < n; k += 8) {
		uint64_t sum = 0;

		for (unsigned j = 0; j < 8; j++)
			sum += (unsigned)(d[k + j] > s[k + j] ? d[k + j] - s[k + j] :
					  s[k + j] - d[k + j]);
		memcpy(d + k, &sum, 8);
	}
}
VEC_HANDLER(op_psadbw, f_psadbw)
