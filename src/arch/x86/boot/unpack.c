/*
 * Streaming decompression of a bzImage payload (gzip, xz, lzma, zstd) as a
 * struct kstream: compressed input is read from the file in small chunks and
 * output lands wherever the reader asks (guest RAM, for the segments), so the
 * unpacked image is never held anywhere else.
 *
 * The decompressor's library is opened for the one payload and closed after
 * it (core/dynlib.h): only the VMM loading a compressed kernel maps it, and
 * only while it unpacks.
 */
#include <errno.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "arch/x86/boot/boot.h"
#include "core/dynlib.h"

#define UNPACK_IN_CHUNK   (256 * 1024)
#define UNPACK_SCRATCH    (64 * 1024)
#define UNPACK_STEP_MAX   (1u << 30) /* zlib counts in uInt */
#define LZMA_MEM_LIMIT    (512ull << 20)

struct unpack;

/* The functions each decompressor's library gives, typed as its header declares them. */
struct zlib_fns {
	__typeof__(inflateInit2_) *init2;
	__typeof__(inflate) *inflate;
	__typeof__(inflateEnd) *end;
};

struct lzma_fns {
	__typeof__(lzma_stream_decoder) *stream_decoder;
	__typeof__(lzma_alone_decoder) *alone_decoder;
	__typeof__(lzma_code) *code;
	__typeof__(lzma_end) *end;
};

struct zstd_fns {
	__typeof__(ZSTD_createDStream) *create;
	__typeof__(ZSTD_decompressStream) *decompress;
	__typeof__(ZSTD_isError) *is_error;
	__typeof__(ZSTD_getErrorName) *error_name;
	__typeof__(ZSTD_freeDStream) *free;
};

#define SYM(type, name, field) { #name, offsetof(struct type, field) }
#define NSYMS(a) (sizeof(a) / sizeof((a)[0]))

static const struct lib_symbol zlib_syms[] = {
	SYM(zlib_fns, inflateInit2_, init2),
	SYM(zlib_fns, inflate, inflate),
	SYM(zlib_fns, inflateEnd, end),
};

static const struct lib_symbol lzma_syms[] = {
	SYM(lzma_fns, lzma_stream_decoder, stream_decoder),
	SYM(lzma_fns, lzma_alone_decoder, alone_decoder),
	SYM(lzma_fns, lzma_code, code),
	SYM(lzma_fns, lzma_end, end),
};

static const struct lib_symbol zstd_syms[] = {
	SYM(zstd_fns, ZSTD_createDStream, create),
	SYM(zstd_fns, ZSTD_decompressStream, decompress),
	SYM(zstd_fns, ZSTD_isError, is_error),
	SYM(zstd_fns, ZSTD_getErrorName, error_name),
	SYM(zstd_fns, ZSTD_freeDStream, free),
};

/* Where a codec's functions come from: Debian's runtime packages. */
struct codec_lib {
	const char *soname;
	const char *package;
	const struct lib_symbol *syms;
	size_t nsyms;
};

static const struct codec_lib zlib_lib = { "libz.so.1", "zlib1g", zlib_syms, NSYMS(zlib_syms) };
static const struct codec_lib lzma_lib = { "liblzma.so.5", "liblzma5", lzma_syms,
					   NSYMS(lzma_syms) };
static const struct codec_lib zstd_lib = { "libzstd.so.1", "libzstd1", zstd_syms,
					   NSYMS(zstd_syms) };

struct codec {
	const char *name;
	uint8_t magic[6];
	size_t magic_len;
	const struct codec_lib *lib;
	int (*init)(struct unpack *u); /* NULL: recognised, not supported */
	/*
	 * Consumes u->in[in_pos..in_len) and produces up to len bytes into out
	 * (*done). Returns 1 at the end of the stream, 0 to go on, or -1 for
	 * corrupt data with a reason in u->why.
	 */
	int (*step)(struct unpack *u, uint8_t *out, size_t len, size_t *done);
	void (*fini)(struct unpack *u);
};

struct unpack {
	struct kstream s;
	const struct codec *codec;
	const struct logger *lg;
	const char *name;
	int fd;
	uint64_t in_off, in_left; /* compressed bytes still in the file */
	uint8_t *in;
	size_t in_pos, in_len;
	uint8_t *scratch;
	bool ended;
	const char *why;
	void *lib; /* the codec's library, open while the stream is */
	union {
		struct zlib_fns z;
		struct lzma_fns x;
		struct zstd_fns zs;
	} fn;
	union {
		z_stream z;
		lzma_stream x;
		ZSTD_DStream *zs;
	} d;
};

/* --- gzip (zlib) --- */

static int gz_init(struct unpack *u)
{
	memset(&u->d.z, 0, sizeof(u->d.z));
	return u->fn.z.init2(&u->d.z, 16 + MAX_WBITS, ZLIB_VERSION, (int)sizeof(z_stream)) == Z_OK ?
	       0 : -ENOMEM;
}

static int gz_step(struct unpack *u, uint8_t *out, size_t len, size_t *done)
{
	z_stream *z = &u->d.z;
	int ret;

	z->next_in = u->in + u->in_pos;
	z->avail_in = (uInt)(u->in_len - u->in_pos);
	z->next_out = out;
	z->avail_out = (uInt)(len < UNPACK_STEP_MAX ? len : UNPACK_STEP_MAX);
	ret = u->fn.z.inflate(z, Z_NO_FLUSH);
	u->in_pos = u->in_len - z->avail_in;
	*done = (size_t)(z->next_out - out);
	if (ret == Z_STREAM_END)
		return 1;
	if (ret == Z_OK || ret == Z_BUF_ERROR)
		return 0;
	u->why = z->msg ? z->msg : "inflate failed";
	return -1;
}

static void gz_fini(struct unpack *u)
{
	u->fn.z.end(&u->d.z);
}

/* --- xz and lzma (liblzma) --- */

static int xz_init(struct unpack *u)
{
	u->d.x = (lzma_stream)LZMA_STREAM_INIT;
	return u->fn.x.stream_decoder(&u->d.x, LZMA_MEM_LIMIT, 0) == LZMA_OK ? 0 : -ENOMEM;
}

static int lzma_init(struct unpack *u)
{
	u->d.x = (lzma_stream)LZMA_STREAM_INIT;
	return u->fn.x.alone_decoder(&u->d.x, LZMA_MEM_LIMIT) == LZMA_OK ? 0 : -ENOMEM;
}

static const char *lzma_why(lzma_ret ret)
{
	switch (ret) {
	case LZMA_MEM_ERROR: return "out of memory";
	case LZMA_MEMLIMIT_ERROR: return "needs too much memory";
	case LZMA_FORMAT_ERROR: return "bad header";
	case LZMA_OPTIONS_ERROR: return "unsupported options";
	case LZMA_DATA_ERROR: return "corrupt data";
	default: return "decoder error";
	}
}

static int xz_step(struct unpack *u, uint8_t *out, size_t len, size_t *done)
{
	lzma_stream *x = &u->d.x;
	lzma_ret ret;

	x->next_in = u->in + u->in_pos;
	x->avail_in = u->in_len - u->in_pos;
	x->next_out = out;
	x->avail_out = len;
	ret = u->fn.x.code(x, LZMA_RUN);
	u->in_pos = u->in_len - x->avail_in;
	*done = len - x->avail_out;
	if (ret == LZMA_STREAM_END)
		return 1;
	if (ret == LZMA_OK || ret == LZMA_BUF_ERROR)
		return 0;
	u->why = lzma_why(ret);
	return -1;
}

static void xz_fini(struct unpack *u)
{
	u->fn.x.end(&u->d.x);
}

/* --- zstd --- */

static int zstd_init(struct unpack *u)
{
	u->d.zs = u->fn.zs.create();
	return u->d.zs ? 0 : -ENOMEM;
}

static int zstd_step(struct unpack *u, uint8_t *out, size_t len, size_t *done)
{
	ZSTD_inBuffer in = { u->in, u->in_len, u->in_pos };
	ZSTD_outBuffer ob = { out, len, 0 };
	size_t ret = u->fn.zs.decompress(u->d.zs, &ob, &in);

	u->in_pos = in.pos;
	*done = ob.pos;
	if (u->fn.zs.is_error(ret)) {
		u->why = u->fn.zs.error_name(ret);
		return -1;
	}
	/* The kernel appends the unpacked size after the frame: stop here. */
	return ret == 0 ? 1 : 0;
}

static void zstd_fini(struct unpack *u)
{
	u->fn.zs.free(u->d.zs);
}

/* Magic numbers as the kernel's own decompressor knows them. */
static const struct codec codecs[] = {
	{ "gzip", { 0x1f, 0x8b }, 2, &zlib_lib, gz_init, gz_step, gz_fini },
	{ "xz", { 0xfd, '7', 'z', 'X', 'Z', 0x00 }, 6, &lzma_lib, xz_init, xz_step, xz_fini },
	{ "lzma", { 0x5d, 0x00, 0x00 }, 3, &lzma_lib, lzma_init, xz_step, xz_fini },
	{ "zstd", { 0x28, 0xb5, 0x2f, 0xfd }, 4, &zstd_lib, zstd_init, zstd_step, zstd_fini },
	{ "bzip2", { 'B', 'Z', 'h' }, 3, NULL, NULL, NULL, NULL },
	{ "lz4", { 0x02, 0x21, 0x4c, 0x18 }, 4, NULL, NULL, NULL, NULL },
	{ "lzo", { 0x89, 'L', 'Z', 'O' }, 4, NULL, NULL, NULL, NULL },
};

static const struct codec *codec_find(const uint8_t *magic, size_t len)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		if (len >= codecs[i].magic_len &&
		    !memcmp(magic, codecs[i].magic, codecs[i].magic_len))
			return &codecs[i];
	}
	return NULL;
}

const char *unpack_detect(const uint8_t *magic, size_t len, bool *supported)
{
	const struct codec *c = codec_find(magic, len);

	*supported = c && c->init;
	return c ? c->name : NULL;
}

static int unpack_refill(struct unpack *u)
{
	size_t n = u->in_left < UNPACK_IN_CHUNK ? (size_t)u->in_left : UNPACK_IN_CHUNK;
	int err = pread_full(u->fd, u->in, n, u->in_off);

	if (err == -ENODATA)
		err = -EIO; /* the file shrank under us */
	if (err) {
		log_error(u->lg, "%s: read failed: %s", u->name, strerror(-err));
		return err;
	}
	u->in_off += n;
	u->in_left -= n;
	u->in_pos = 0;
	u->in_len = n;
	return 0;
}

static int unpack_read(struct kstream *s, void *dst, size_t len)
{
	struct unpack *u = (struct unpack *)s;
	uint8_t *out = dst;

	while (len) {
		size_t done = 0, before;
		int ret;

		if (u->ended)
			return -ENODATA;
		if (u->in_pos == u->in_len && u->in_left && (ret = unpack_refill(u)))
			return ret;
		before = u->in_pos;
		ret = u->codec->step(u, out, len, &done);
		if (ret < 0) {
			log_error(u->lg, "%s: corrupt %s payload (%s)", u->name, u->codec->name,
				  u->why);
			return -ENOEXEC;
		}
		out += done;
		len -= done;
		s->pos += done;
		u->ended = ret == 1;
		if (!done && u->in_pos == before && u->in_pos == u->in_len && !u->in_left &&
		    !u->ended) {
			log_error(u->lg, "%s: %s payload is truncated", u->name, u->codec->name);
			return -ENOEXEC;
		}
	}
	return 0;
}

static int unpack_skip(struct kstream *s, uint64_t len)
{
	struct unpack *u = (struct unpack *)s;

	while (len) {
		size_t n = len < UNPACK_SCRATCH ? (size_t)len : UNPACK_SCRATCH;
		int err = unpack_read(s, u->scratch, n);

		if (err)
			return err;
		len -= n;
	}
	return 0;
}

/* The codec's functions from its library: 0, or -ENOEXEC (logged) without it. */
static int open_codec_lib(struct unpack *u)
{
	const struct codec_lib *l = u->codec->lib;
	const char *why;
	int err;

	u->lib = lib_open_table(&lib_loader_dl, l->soname, l->syms, l->nsyms, &u->fn, &why,
				&err);
	if (u->lib)
		return 0;
	if (err == -ELIBBAD)
		log_error(u->lg, "%s: %s payload: %s has no %s", u->name, u->codec->name,
			  l->soname, why);
	else
		log_error(u->lg, "%s: %s payload: %s cannot be loaded: %s (Debian: apt-get "
			  "install %s)", u->name, u->codec->name, l->soname, why, l->package);
	return -ENOEXEC;
}

int unpack_open(int fd, uint64_t off, uint64_t len, const struct logger *lg,
		const char *name, struct kstream **out)
{
	uint8_t magic[6] = { 0 };
	size_t n = len < sizeof(magic) ? (size_t)len : sizeof(magic);
	const struct codec *codec = NULL;
	struct unpack *u;
	int err;

	if (!pread_full(fd, magic, n, off))
		codec = codec_find(magic, n);
	if (!codec || !codec->init)
		return -EINVAL; /* callers detect the format first */
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	*u = (struct unpack){
		.s = { .read = unpack_read, .skip = unpack_skip, .size = UINT64_MAX },
		.codec = codec, .lg = lg, .name = name, .fd = fd, .in_off = off,
		.in_left = len, .in = malloc(UNPACK_IN_CHUNK), .scratch = malloc(UNPACK_SCRATCH),
	};
	err = open_codec_lib(u);
	if (err)
		goto fail;
	err = -ENOMEM;
	if (!u->in || !u->scratch || codec->init(u))
		goto fail;
	*out = &u->s;
	return 0;
fail:
	if (u->lib)
		lib_loader_dl.close(u->lib);
	free(u->in);
	free(u->scratch);
	free(u);
	return err;
}

int unpack_finish(struct kstream *s)
{
	struct unpack *u = (struct unpack *)s;
	int err;

	do
		err = unpack_read(s, u->scratch, UNPACK_SCRATCH);
	while (!err);
	return err == -ENODATA ? 0 : err;
}

void unpack_close(struct kstream *s)
{
	struct unpack *u = (struct unpack *)s;

	if (!s)
		return;
	u->codec->fini(u);
	lib_loader_dl.close(u->lib);
	free(u->in);
	free(u->scratch);
	free(u);
}
