/*
 * flussonic:native — the relay pump: camera bytes to the tunnel without passing through JS.
 *
 * Once a tunnel stream is joined to a camera socket, each readable event of that socket used to
 * cost a JS ArrayBuffer, a Stream queue entry, a frame header and a native write. Here one call
 * reads the camera straight behind a 12-byte frame header and sends header + payload as one TLS
 * record (docs/PROTOCOL.md, DATA), for as many reads as the credit allows. JS keeps every
 * decision: it grants credit (the peer's WINDOW), calls pumpRun when the camera is readable, and
 * acts on the outcome (bytes sent, camera EOF or error, link full). The wire does not change.
 *
 * Memory: nothing is buffered here. A read is never larger than the credit left nor than one
 * record, and a record the socket does not take is held by mbedTLS (its one output record),
 * after which the pump stops until the link drains. A camera faster than the link is therefore
 * read no faster than the link and the window allow; the kernel's socket buffer absorbs the rest
 * and TCP pushes back on the camera.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "native.h"

#define FRAME_HEADER 12
#define FRAME_DATA 0x01
#define PROTOCOL_VERSION 1
/* Reads per call, so that one fast camera cannot starve the other descriptors of the loop. */
#define READS_PER_RUN 16

/* How a run ended (the low 3 bits of pumpRun's result; quickjs.ts mirrors them). */
enum {
    PUMP_DRY = 0,          /* the camera has nothing more now: wait until it is readable */
    PUMP_NO_CREDIT = 1,    /* the window is used up: wait for pumpCredit */
    PUMP_LINK_FULL = 2,    /* the link's socket is full: wait for the link to drain */
    PUMP_EOF = 3,          /* the camera closed its side; everything before it was sent */
    PUMP_BUDGET = 4,       /* READS_PER_RUN done and more may be ready: run again soon */
    PUMP_SOURCE_ERROR = 5, /* reading the camera failed (pumpError says why) */
    PUMP_LINK_ERROR = 6,   /* writing the link failed (pumpError says why) */
    PUMP_STOPPED = 7,      /* pumpStop was called */
};

typedef struct {
    JSValue link;      /* the TlsConn object: kept alive as long as the pump */
    int fd;            /* the camera socket (owned by JS), -1 once stopped */
    uint32_t stream;
    uint32_t credit;   /* payload bytes the peer still accepts on this stream */
    /* Sent by the read handler (pumpHandler) and not yet told to JS: JS takes them with its next
     * outcome or with pumpTakeSent. At most the credit granted, so below 2^32 each. */
    uint32_t unreported_bytes, unreported_frames;
    char err[160];
} Pump;

static JSClassID pump_class_id;

static void pump_finalizer(JSRuntime *rt, JSValue val)
{
    Pump *p = JS_GetOpaque(val, pump_class_id);
    if (p) {
        JS_FreeValueRT(rt, p->link);
        js_free_rt(rt, p);
    }
}

static void pump_mark(JSRuntime *rt, JSValueConst val, JS_MarkFunc *mark_func)
{
    Pump *p = JS_GetOpaque(val, pump_class_id);
    if (p)
        JS_MarkValue(rt, p->link, mark_func);
}

static JSClassDef pump_class = { "Pump", .finalizer = pump_finalizer, .gc_mark = pump_mark };

int flussonic_pump_init(JSContext *ctx)
{
    JS_NewClassID(&pump_class_id);
    return JS_NewClass(JS_GetRuntime(ctx), pump_class_id, &pump_class);
}

static Pump *get_pump(JSContext *ctx, JSValueConst v)
{
    return JS_GetOpaque2(ctx, v, pump_class_id);
}

static void put_u32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

/* pumpNew(cameraFd, linkConn, streamId): a stopped-at-zero-credit pump of one stream. */
JSValue native_pump_new(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    JSValue obj;
    Pump *p;
    int fd;
    int64_t id;

    if (flussonic_get_fd(ctx, &fd, argv[0]) || JS_ToInt64(ctx, &id, argv[2]))
        return JS_EXCEPTION;
    if (fd < 0)
        return JS_ThrowRangeError(ctx, "pumpNew: bad descriptor");
    if (id <= 0 || id > 0xffffffffLL)
        return JS_ThrowRangeError(ctx, "pumpNew: stream id out of range");
    if (!flussonic_tls_conn(ctx, argv[1]))
        return JS_EXCEPTION;
    obj = JS_NewObjectClass(ctx, pump_class_id);
    if (JS_IsException(obj))
        return obj;
    p = js_mallocz(ctx, sizeof(*p));
    if (!p) {
        JS_FreeValue(ctx, obj);
        return JS_EXCEPTION;
    }
    p->link = JS_DupValue(ctx, argv[1]);
    p->fd = fd;
    p->stream = (uint32_t)id;
    JS_SetOpaque(obj, p);
    return obj;
}

/* pumpCredit(pump, n): the peer accepts n more bytes (WINDOW). Saturates at 2^32-1. */
JSValue native_pump_credit(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    Pump *p = get_pump(ctx, argv[0]);
    int64_t n;

    if (!p || JS_ToInt64(ctx, &n, argv[1]))
        return JS_EXCEPTION;
    if (n < 0)
        return JS_ThrowRangeError(ctx, "pumpCredit: negative credit");
    if (n > (int64_t)(0xffffffffu - p->credit))
        p->credit = 0xffffffffu;
    else
        p->credit += (uint32_t)n;
    return JS_UNDEFINED;
}

static int32_t outcome(int status, uint32_t frames, uint32_t moved)
{
    /* moved <= READS_PER_RUN * IO_CHUNK < 2^19, frames <= READS_PER_RUN < 2^5: fits an int32. */
    return (int32_t)((moved << 8) | (frames << 3) | (uint32_t)status);
}

/* Moves what credit, camera and link allow now: the PUMP_* status, the payload bytes and frames
 * sent in *moved and *frames. */
static int pump_run(JSContext *ctx, Pump *p, uint32_t *moved, uint32_t *frames)
{
    TlsConn *c;
    uint8_t *buf = flussonic_io_buf;
    size_t room;
    ssize_t n;
    int r, i;

    *moved = *frames = 0;
    if (p->fd < 0)
        return PUMP_STOPPED;
    c = flussonic_tls_conn(ctx, p->link);
    if (!c) { /* the link is gone (freed): not an exception for the caller, an outcome */
        JS_FreeValue(ctx, JS_GetException(ctx));
        snprintf(p->err, sizeof(p->err), "tls write: link closed");
        return PUMP_LINK_ERROR;
    }
    room = flussonic_tls_record_max(c);
    if (room > IO_CHUNK)
        room = IO_CHUNK;
    if (room <= FRAME_HEADER) {
        snprintf(p->err, sizeof(p->err), "tls write: records too small");
        return PUMP_LINK_ERROR;
    }
    room -= FRAME_HEADER;

    for (i = 0; i < READS_PER_RUN; i++) {
        size_t want = room;
        /* A record held back from an earlier run goes first; nothing new is read meanwhile. */
        r = flussonic_tls_send_record(c, NULL, 0, p->err, sizeof(p->err));
        if (r < 0)
            return PUMP_LINK_ERROR;
        if (r > 0)
            return PUMP_LINK_FULL;
        if (p->credit == 0)
            return PUMP_NO_CREDIT;
        if (want > p->credit)
            want = p->credit;
        do
            n = recv(p->fd, buf + FRAME_HEADER, want, 0);
        while (n < 0 && errno == EINTR);
        if (n == 0)
            return PUMP_EOF;
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return PUMP_DRY;
            snprintf(p->err, sizeof(p->err), "read: %s", strerror(errno));
            return PUMP_SOURCE_ERROR;
        }
        buf[0] = PROTOCOL_VERSION;
        buf[1] = FRAME_DATA;
        buf[2] = 0;
        buf[3] = 0;
        put_u32(buf + 4, p->stream);
        put_u32(buf + 8, (uint32_t)n);
        r = flussonic_tls_send_record(c, buf, FRAME_HEADER + (size_t)n, p->err, sizeof(p->err));
        if (r < 0 || r == 1) {
            /* The bytes were read from the camera but cannot be sent: the stream cannot go on
             * (r == 1 cannot happen: the held record was flushed just above). */
            if (r == 1)
                snprintf(p->err, sizeof(p->err), "tls write: link busy");
            return PUMP_LINK_ERROR;
        }
        p->credit -= (uint32_t)n;
        *moved += (uint32_t)n;
        (*frames)++;
        if (r == 2)
            return PUMP_LINK_FULL;
        /* A short read emptied the socket: the loop's next select says when there is more. Asking
         * again now would cost a recv that only says EAGAIN (one system call per camera chunk,
         * which qemu-user and slow CPUs feel). */
        if ((size_t)n < want)
            return PUMP_DRY;
    }
    return PUMP_BUDGET;
}

/*
 * pumpRun(pump): move what credit, camera and link allow now. Returns
 * (bytes << 8) | (frames << 3) | status: the payload bytes and DATA frames sent in this call,
 * and why it stopped (the PUMP_* values above).
 */
JSValue native_pump_run(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    Pump *p = get_pump(ctx, argv[0]);
    uint32_t moved, frames;
    int status;

    if (!p)
        return JS_EXCEPTION;
    status = pump_run(ctx, p, &moved, &frames);
    return JS_NewInt32(ctx, outcome(status, frames, moved));
}

/*
 * The camera socket's read handler for quickjs-libc's loop (os.setReadHandler): runs the pump
 * without entering JS. JS is called, as onOutcome(status, bytes, frames), only when it has
 * something to decide (no credit, link full, EOF, an error); the bytes sent meanwhile come with
 * it. Per camera chunk the agent then runs no JS at all: the interpreter's dispatch, which
 * qemu-user and small cores pay dearly for, was a large part of what a relayed chunk cost.
 */
static JSValue pump_handler_call(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv,
                                 int magic, JSValue *data)
{
    Pump *p = get_pump(ctx, data[0]);
    uint32_t moved, frames;
    JSValue args[3], ret;
    int status;

    if (!p)
        return JS_EXCEPTION;
    status = pump_run(ctx, p, &moved, &frames);
    p->unreported_bytes += moved;
    p->unreported_frames += frames;
    if (status == PUMP_DRY || status == PUMP_BUDGET)
        return JS_UNDEFINED; /* still watching: the loop calls again when the camera is readable */
    args[0] = JS_NewInt32(ctx, status);
    args[1] = JS_NewUint32(ctx, p->unreported_bytes);
    args[2] = JS_NewUint32(ctx, p->unreported_frames);
    p->unreported_bytes = p->unreported_frames = 0;
    ret = JS_Call(ctx, data[1], JS_UNDEFINED, 3, args);
    if (JS_IsException(ret))
        return ret;
    JS_FreeValue(ctx, ret);
    return JS_UNDEFINED;
}

/* pumpHandler(pump, onOutcome): the function to give os.setReadHandler for the camera socket. */
JSValue native_pump_handler(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    JSValue data[2];
    if (!get_pump(ctx, argv[0]))
        return JS_EXCEPTION;
    if (!JS_IsFunction(ctx, argv[1]))
        return JS_ThrowTypeError(ctx, "pumpHandler: onOutcome is not a function");
    data[0] = argv[0];
    data[1] = argv[1];
    return JS_NewCFunctionData(ctx, pump_handler_call, 0, 0, 2, data);
}

/* pumpTakeSent(pump): [bytes, frames] the read handler sent and did not report yet; resets them. */
JSValue native_pump_take_sent(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    Pump *p = get_pump(ctx, argv[0]);
    JSValue a;
    if (!p)
        return JS_EXCEPTION;
    a = JS_NewArray(ctx);
    if (JS_IsException(a))
        return a;
    JS_SetPropertyUint32(ctx, a, 0, JS_NewUint32(ctx, p->unreported_bytes));
    JS_SetPropertyUint32(ctx, a, 1, JS_NewUint32(ctx, p->unreported_frames));
    p->unreported_bytes = p->unreported_frames = 0;
    return a;
}

/* pumpError(pump): why the last run ended in an error. */
JSValue native_pump_error(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    Pump *p = get_pump(ctx, argv[0]);
    if (!p)
        return JS_EXCEPTION;
    return JS_NewString(ctx, p->err[0] ? p->err : "unknown error");
}

/* pumpStop(pump): never touch the camera descriptor again (JS closes it). Idempotent. */
JSValue native_pump_stop(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    Pump *p = get_pump(ctx, argv[0]);
    if (!p)
        return JS_EXCEPTION;
    p->fd = -1;
    return JS_UNDEFINED;
}
