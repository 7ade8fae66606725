/*
 * Host unit test of readFile (agent-src/native/native-fs.c) when fstat(2) fails after open(2)
 * succeeded. Under qemu-user a real fstat failure cannot be forced reliably from JS, and where it
 * can, the kernel leaves the caller's struct stat as it was: code that reads st_size after a
 * failed fstat then sees stale stack bytes and passes or fails by luck. So this test links
 * native-fs.c with fstat wrapped (-Wl,--wrap=fstat): the wrapper fails with EIO and fills the
 * struct with 0x7f bytes (st_size far above readFile's 16 MB limit), as POSIX allows (its
 * contents are unspecified after a failure), so a read of it shows up every time.
 *
 * Usage: read-file-unit [PATH of a readable file, default /proc/self/exe]
 * Prints one line per check ("ok ..." / "not ok ...") and exits 1 if any failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "native.h"

static int fail_fstat;

int __real_fstat(int fd, struct stat *st);
int __wrap_fstat(int fd, struct stat *st)
{
    if (!fail_fstat)
        return __real_fstat(fd, st);
    memset(st, 0x7f, sizeof(*st));
    errno = EIO;
    return -1;
}

/* Unused by readFile; native-util.c and native-fs.c need only QuickJS. */
const char *flussonic_tls_version(void) { return "none"; }

static int failures;

static void check(int ok, const char *what, const char *detail)
{
    printf("%s %s%s%s\n", ok ? "ok" : "not ok", what, detail ? ": " : "", detail ? detail : "");
    failures += !ok;
}

/* readFile(path) -> the exception message, or NULL when it returned a value. */
static const char *read_file_error(JSContext *ctx, const char *path, char *msg, size_t size)
{
    JSValue arg = JS_NewString(ctx, path);
    JSValue r = native_read_file(ctx, JS_UNDEFINED, 1, &arg);
    JS_FreeValue(ctx, arg);
    if (!JS_IsException(r)) {
        JS_FreeValue(ctx, r);
        return NULL;
    }
    JSValue e = JS_GetException(ctx);
    const char *s = JS_ToCString(ctx, e);
    snprintf(msg, size, "%s", s ? s : "?");
    JS_FreeCString(ctx, s);
    JS_FreeValue(ctx, e);
    return msg;
}

int main(int argc, char **argv)
{
    JSRuntime *rt = JS_NewRuntime();
    JSContext *ctx = JS_NewContext(rt);
    const char *path = argc > 1 ? argv[1] : "/proc/self/exe";
    char msg[512], want[512];
    int before, after;

    check(read_file_error(ctx, path, msg, sizeof(msg)) == NULL, "readFile works while fstat does", NULL);

    fail_fstat = 1;
    before = open("/dev/null", O_RDONLY);
    close(before);
    snprintf(want, sizeof(want), "InternalError: %s: %s", path, strerror(EIO));
    read_file_error(ctx, path, msg, sizeof(msg));
    check(strcmp(msg, want) == 0, "a failed fstat is reported with its errno", msg);
    after = open("/dev/null", O_RDONLY);
    close(after);
    check(after == before, "the file is closed after the failure", NULL);
    fail_fstat = 0;

    /* The size limit still holds where fstat works: a sparse 17 MB file. */
    char big[] = "/tmp/read-file-unit-XXXXXX";
    int fd = mkstemp(big);
    check(fd >= 0 && ftruncate(fd, 17 << 20) == 0, "made a 17 MB file", NULL);
    snprintf(want, sizeof(want), "RangeError: %s: file too large", big);
    read_file_error(ctx, big, msg, sizeof(msg));
    check(strcmp(msg, want) == 0, "a file over 16 MB is refused", msg);
    close(fd);
    unlink(big);

    JS_FreeContext(ctx);
    JS_FreeRuntime(rt);
    return failures ? 1 : 0;
}
