/*
 * flussonic:native — listening sockets, for test builds only (the fake camera in QEMU, the
 * native test probe). The Makefile compiles this file only with TEST_SERVER=1: the production
 * agent has no way to listen.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "native.h"

#ifndef FLUSSONIC_TEST_SERVER
#error "native-test.c is for TEST_SERVER=1 builds only"
#endif

/* listenTcp(port, ip = "127.0.0.1"): listening fd. */
JSValue native_listen_tcp(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    struct sockaddr_in a;
    int port, fd, on = 1;

    if (JS_ToInt32(ctx, &port, argv[0]))
        return JS_EXCEPTION;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (argc > 1 && !JS_IsUndefined(argv[1])) {
        const char *ip = JS_ToCString(ctx, argv[1]);
        int ok;
        if (!ip)
            return JS_EXCEPTION;
        ok = inet_pton(AF_INET, ip, &a.sin_addr) == 1;
        JS_FreeCString(ctx, ip);
        if (!ok)
            return JS_ThrowRangeError(ctx, "bad listen address");
    }
    fd = flussonic_new_socket(AF_INET);
    if (fd < 0)
        return flussonic_throw_errno(ctx, "socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
        JSValue e = flussonic_throw_errno(ctx, "listen");
        close(fd);
        return e;
    }
    return JS_NewInt32(ctx, fd);
}

JSValue native_local_port(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    struct sockaddr_in a;
    socklen_t l = sizeof(a);
    int fd;
    if (flussonic_get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    if (getsockname(fd, (struct sockaddr *)&a, &l) < 0)
        return flussonic_throw_errno(ctx, "getsockname");
    return JS_NewInt32(ctx, ntohs(a.sin_port));
}

/* accept(fd): new non-blocking fd, or undefined when no connection is pending. */
JSValue native_accept(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd, c;
    if (flussonic_get_fd(ctx, &fd, argv[0]))
        return JS_EXCEPTION;
    do
        c = accept(fd, NULL, NULL);
    while (c < 0 && errno == EINTR);
    c = c < 0 ? c : flussonic_capped_fd(c);
    if (c < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED)
            return JS_UNDEFINED;
        return flussonic_throw_errno(ctx, "accept");
    }
    fcntl(c, F_SETFD, FD_CLOEXEC);
    fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
    return JS_NewInt32(ctx, c);
}
