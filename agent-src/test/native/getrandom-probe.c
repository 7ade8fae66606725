/* Calls getrandom(2) (Linux 3.17+) directly and prints the outcome: under the old-kernel
 * launcher it must print "getrandom: ENOSYS", proving the seccomp filter reaches the guest. */
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    unsigned char b[8];
    long r = syscall(SYS_getrandom, b, sizeof(b), 0);
    if (r < 0 && errno == ENOSYS)
        puts("getrandom: ENOSYS");
    else if (r < 0)
        printf("getrandom: errno %d\n", errno);
    else
        printf("getrandom: %ld bytes\n", r);
    return 0;
}
