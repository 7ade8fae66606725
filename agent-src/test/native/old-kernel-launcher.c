/*
 * old-kernel-launcher CMD [ARGS...]: runs CMD with a seccomp filter that answers ENOSYS to every
 * x86_64 system call newer than Linux 3.10 (getrandom, statx, clone3, rseq, io_uring, ...), as a
 * 3.10 vendor kernel would. qemu-user forwards the guest's calls to host calls, so wrapping
 * qemu-arm-static with this shows how the camera binary behaves on such a kernel.
 * Host-side (x86_64 numbers): 3.10 ended at finit_module (313); 314..334 and 424+ came later.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#define FIRST_AFTER_3_10 314 /* sched_setattr */
#define LAST_OF_GAP 334      /* rseq; 335..423 are unused on x86_64 */
#define FIRST_UNIFIED 424    /* pidfd_send_signal and everything after */

int main(int argc, char **argv)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, FIRST_UNIFIED, 3, 0), /* also x32 (0x40000000+) */
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, FIRST_AFTER_3_10, 0, 1),
        BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, LAST_OF_GAP, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
    };
    struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

    if (argc < 2) {
        fprintf(stderr, "usage: %s CMD [ARGS...]\n", argv[0]);
        return 2;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
        perror("seccomp");
        return 2;
    }
    execvp(argv[1], argv + 1);
    perror(argv[1]);
    return 127;
}
