/* flussonic:native — the process: build information, clock, stdout/stderr, exit, logging. */
#define _GNU_SOURCE
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "native.h"

#ifndef FLUSSONIC_VERSION
#define FLUSSONIC_VERSION "0.0.0"
#endif
#ifndef FLUSSONIC_ARCH
#define FLUSSONIC_ARCH "unknown"
#endif
#ifndef QUICKJS_VERSION
#define QUICKJS_VERSION "unknown"
#endif

JSValue native_build_info(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    JSValue o = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, o, "version", JS_NewString(ctx, FLUSSONIC_VERSION));
    JS_SetPropertyStr(ctx, o, "quickjs", JS_NewString(ctx, QUICKJS_VERSION));
    JS_SetPropertyStr(ctx, o, "tls", JS_NewString(ctx, flussonic_tls_version()));
    JS_SetPropertyStr(ctx, o, "arch", JS_NewString(ctx, FLUSSONIC_ARCH));
#if defined(__GLIBC__)
    JS_SetPropertyStr(ctx, o, "libc", JS_NewString(ctx, "glibc"));
#elif defined(__UCLIBC__)
    JS_SetPropertyStr(ctx, o, "libc", JS_NewString(ctx, "uclibc"));
#else
    JS_SetPropertyStr(ctx, o, "libc", JS_NewString(ctx, "musl"));
#endif
#ifdef FLUSSONIC_TEST_SERVER
    JS_SetPropertyStr(ctx, o, "testServer", JS_TRUE);
#else
    JS_SetPropertyStr(ctx, o, "testServer", JS_FALSE);
#endif
    return o;
}

JSValue native_now(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return JS_NewFloat64(ctx, (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6);
}

static JSValue write_all_fd(JSContext *ctx, int fd, JSValueConst str)
{
    size_t len;
    const char *str0 = JS_ToCStringLen(ctx, &len, str), *s = str0;
    if (!s)
        return JS_EXCEPTION;
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* stdout gone: nothing sensible left to do */
        s += n;
        len -= (size_t)n;
    }
    JS_FreeCString(ctx, str0);
    return JS_UNDEFINED;
}

JSValue native_write_out(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    return write_all_fd(ctx, 1, argv[0]);
}

JSValue native_write_err(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    return write_all_fd(ctx, 2, argv[0]);
}

JSValue native_exit(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int code = 0;
    JS_ToInt32(ctx, &code, argv[0]);
    _exit(code);
    return JS_UNDEFINED;
}

JSValue native_open_syslog(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    const char *s = JS_ToCString(ctx, argv[0]);
    if (!s)
        return JS_EXCEPTION;
    flussonic_log_to_syslog(s);
    JS_FreeCString(ctx, s);
    return JS_UNDEFINED;
}

/* log(priority 0..3 = debug/info/warn/error, line): never blocks (log.c) */
JSValue native_log(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int level = 1;
    const char *s;

    JS_ToInt32(ctx, &level, argv[0]);
    s = JS_ToCString(ctx, argv[1]);
    if (!s)
        return JS_EXCEPTION;
    flussonic_log(level, s);
    JS_FreeCString(ctx, s);
    return JS_UNDEFINED;
}
