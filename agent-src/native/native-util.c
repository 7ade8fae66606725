/*
 * Helpers every part of flussonic:native shares: error values, byte arguments, the descriptor
 * cap, the I/O buffer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "native.h"

uint8_t flussonic_io_buf[IO_CHUNK];

_Static_assert(FD_CAP <= FD_SETSIZE / 4, "FD_CAP must stay far below FD_SETSIZE");

int flussonic_capped_fd(int fd)
{
    if (fd >= FD_CAP) {
        close(fd);
        errno = EMFILE;
        return -1;
    }
    return fd;
}

JSValue flussonic_throw_errno(JSContext *ctx, const char *what)
{
    return JS_ThrowInternalError(ctx, "%s: %s", what, strerror(errno));
}

uint8_t *flussonic_get_bytes(JSContext *ctx, JSValueConst val, size_t *plen)
{
    size_t size, boff = 0, blen = 0, bpe = 1;
    uint8_t *p;
    JSValue ab = JS_GetTypedArrayBuffer(ctx, val, &boff, &blen, &bpe);

    if (!JS_IsException(ab)) {
        p = JS_GetArrayBuffer(ctx, &size, ab);
        JS_FreeValue(ctx, ab);
        if (!p)
            return NULL;
        *plen = blen;
        return p + boff;
    }
    JS_FreeValue(ctx, JS_GetException(ctx)); /* not a typed array: try a plain ArrayBuffer */
    p = JS_GetArrayBuffer(ctx, &size, val);
    if (p)
        *plen = size;
    return p;
}
