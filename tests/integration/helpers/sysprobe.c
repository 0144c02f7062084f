/* Calls one system call by name and prints "<name>: ok" or "<name>: <strerror>", so tests can
 * see from inside a container what its seccomp filter lets through. Built static at test time. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long r;
    if (argc < 2) {
        fprintf(stderr, "usage: sysprobe keyctl|add_key|request_key|unshare-user|unshare-mount|kexec_load|"
                        "open_by_handle_at|personality\n");
        return 2;
    }
    const char *what = argv[1];
    if (!strcmp(what, "keyctl"))
        r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session keyring */, 0);
    else if (!strcmp(what, "add_key"))
        r = syscall(SYS_add_key, "user", "dockyard-probe", "x", 1, -3);
    else if (!strcmp(what, "request_key"))
        r = syscall(SYS_request_key, "user", "dockyard-probe", NULL, 0);
    else if (!strcmp(what, "unshare-user"))
        r = syscall(SYS_unshare, CLONE_NEWUSER);
    else if (!strcmp(what, "unshare-mount"))
        r = syscall(SYS_unshare, CLONE_NEWNS);
    else if (!strcmp(what, "kexec_load"))
        r = syscall(SYS_kexec_load, 0, 0, NULL, 0);
    else if (!strcmp(what, "open_by_handle_at"))
        r = syscall(SYS_open_by_handle_at, -1, NULL, 0);
    else if (!strcmp(what, "personality"))
        r = syscall(SYS_personality, 0xffffffff);
    else {
        fprintf(stderr, "sysprobe: unknown call %s\n", what);
        return 2;
    }
    if (r < 0) {
        printf("%s: %s\n", what, strerror(errno));
        return 1;
    }
    printf("%s: ok\n", what);
    return 0;
}
