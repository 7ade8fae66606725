/* flussonic:native — random bytes and files (the agent's state file, its CA and token files). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "native.h"

/* /dev/urandom, opened once: never blocks at boot and needs no getrandom(2) (Linux 3.17+). */
int flussonic_urandom(void *buf, size_t len)
{
    static int fd = -1;
    uint8_t *p = buf;

    if (fd < 0) {
        fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
    }
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

JSValue native_random_bytes(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    uint64_t n;
    if (JS_ToIndex(ctx, &n, argv[0]))
        return JS_EXCEPTION;
    if (n > IO_CHUNK)
        return JS_ThrowRangeError(ctx, "randomBytes: at most %d bytes", IO_CHUNK);
    if (flussonic_urandom(flussonic_io_buf, (size_t)n))
        return flussonic_throw_errno(ctx, "/dev/urandom");
    return JS_NewArrayBufferCopy(ctx, flussonic_io_buf, (size_t)n);
}

/* readFile(path): the whole file (at most 16 MB), null when it does not exist. */
JSValue native_read_file(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    const char *path = JS_ToCString(ctx, argv[0]);
    JSValue ret;
    struct stat st;
    uint8_t *buf;
    size_t got = 0;
    int fd;

    if (!path)
        return JS_EXCEPTION;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ret = errno == ENOENT ? JS_NULL : flussonic_throw_errno(ctx, path);
        JS_FreeCString(ctx, path);
        return ret;
    }
    if (fstat(fd, &st) < 0) { /* st is unspecified now: report errno, read nothing from it */
        ret = flussonic_throw_errno(ctx, path);
        goto out;
    }
    if (st.st_size > (16 << 20)) {
        ret = JS_ThrowRangeError(ctx, "%s: file too large", path);
        goto out;
    }
    buf = js_malloc(ctx, (size_t)st.st_size + 1);
    if (!buf) {
        ret = JS_EXCEPTION;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            js_free(ctx, buf);
            ret = flussonic_throw_errno(ctx, path);
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    ret = JS_NewArrayBufferCopy(ctx, buf, got);
    js_free(ctx, buf);
out:
    close(fd);
    JS_FreeCString(ctx, path);
    return ret;
}

/* mkdir -p of a directory path (the state directory may not exist on first boot). */
static int mkdir_p(const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(buf))
        return n == 0 ? 0 : -1;
    memcpy(buf, dir, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0700) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Temp file in the same directory, fsync, rename over path, fsync the directory: after a power
 * cut the file is either the old or the new content, never a torn mix. One fixed temp name
 * (".NAME.tmp", as the Node platform): a writer killed mid-write leaves at most one stale temp. */
JSValue native_write_file_atomic(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    const char *path = JS_ToCString(ctx, argv[0]);
    char tmp[4096], dir[4096];
    const char *base;
    const uint8_t *data;
    size_t len;
    int fd, dfd;
    char *slash;
    JSValue ret = JS_UNDEFINED;

    if (!path)
        return JS_EXCEPTION;
    data = flussonic_get_bytes(ctx, argv[1], &len);
    if (!data) {
        JS_FreeCString(ctx, path);
        return JS_EXCEPTION;
    }
    if (strlen(path) + 8 >= sizeof(tmp)) {
        JS_FreeCString(ctx, path);
        return JS_ThrowRangeError(ctx, "path too long");
    }
    strcpy(dir, path);
    slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, base) >= (int)sizeof(tmp)) {
        ret = JS_ThrowRangeError(ctx, "path too long");
        goto out;
    }
    if (mkdir_p(dir) < 0) {
        ret = flussonic_throw_errno(ctx, dir);
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        ret = flussonic_throw_errno(ctx, tmp);
        goto out;
    }
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ret = flussonic_throw_errno(ctx, tmp);
            close(fd);
            unlink(tmp);
            goto out;
        }
        data += n;
        len -= (size_t)n;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        ret = flussonic_throw_errno(ctx, tmp);
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) < 0) {
        ret = flussonic_throw_errno(ctx, path);
        unlink(tmp);
        goto out;
    }
    dfd = open(dir, O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
        /* Some filesystems (e.g. jffs2 on old kernels) refuse fsync on a directory: the rename is
         * already done then, so this is best effort. */
        fsync(dfd);
        close(dfd);
    }
out:
    JS_FreeCString(ctx, path);
    return ret;
}
