/* Socket odds and ends: i386's socketcall(2) multiplexer, socket descriptors
 * across dup and vfork+exec, and (argument "families") what families exist. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r)
{
    if (r < 0)
        printf("%s: -1 %s\n", what, strerror(errno));
    else
        printf("%s: %ld\n", what, r);
}

static long socketcall(int call, long *args)
{
#ifdef SYS_socketcall
    return syscall(SYS_socketcall, call, args);
#else /* (ARM EABI has no multiplexer: only the direct calls) */
    switch (call) {
    case 8: return socketpair(args[0], args[1], args[2], (int *)args[3]);
    case 9: return send(args[0], (void *)args[1], args[2], args[3]);
    case 10: return recv(args[0], (void *)args[1], args[2], args[3]);
    case 13: return shutdown(args[0], args[1]);
    default: errno = EINVAL; return -1;
    }
#endif
}

static int families(void)
{
    int fams[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_APPLETALK };
    for (unsigned i = 0; i < sizeof fams / sizeof *fams; i++) {
        int s = socket(fams[i], SOCK_DGRAM, 0);
        printf("family %d: %s\n", fams[i], s < 0 ? strerror(errno) : "ok");
        if (s >= 0)
            close(s);
    }
    return 0;
}

/* getaddrinfo("localhost") (musl reads the root's /etc/hosts) and gethostname */
static int resolve(void)
{
    struct addrinfo hints = { 0 }, *res, *ai;
    char host[64], text[64];
    hints.ai_socktype = SOCK_STREAM;
    int r = getaddrinfo("localhost", "80", &hints, &res);
    printf("getaddrinfo localhost: %s\n", r ? gai_strerror(r) : "ok");
    for (ai = r ? NULL : res; ai; ai = ai->ai_next) {
        void *a = ai->ai_family == AF_INET ? (void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                           : (void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        printf("  %s\n", inet_ntop(ai->ai_family, a, text, sizeof text));
    }
    show("gethostname", gethostname(host, sizeof host));
    printf("hostname '%s'\n", host);
    return 0;
}

static long mem_free_kb(void)
{
    char line[128];
    long kb = -1;
    FILE *f = fopen("/proc/meminfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemFree: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* Socket buffers are kernel memory: fill socketpairs until the machine has
 * no RAM left for them (ENOBUFS), then give it back by closing them. */
static int fill(void)
{
    static char chunk[65536];
    int pairs[64][2], n = 0, enobufs = 0;
    long before = mem_free_kb(), queued = 0;
    while (n < 64 && !enobufs) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pairs[n]) < 0)
            break;
        for (;;) {
            long w = write(pairs[n][0], chunk, sizeof chunk);
            if (w > 0) {
                queued += w;
                continue;
            }
            enobufs = errno == ENOBUFS;
            break;
        }
        n++;
    }
    long full = mem_free_kb();
    printf("ENOBUFS %d, queued more than 1 MiB %d, RAM went down by about that %d\n", enobufs,
           queued > (1 << 20), before - full >= queued / 1024 - 128);
    for (int i = 0; i < n; i++) {
        close(pairs[i][0]);
        close(pairs[i][1]);
    }
    printf("given back %d\n", mem_free_kb() >= before - 128); /* (the kernel keeps 64 KiB) */
    return 0;
}

static int alarm_fd;
static void on_alarm(int sig)
{
    (void)sig;
    write(alarm_fd, "!", 1); /* (under SA_RESTART the recv restarts and gets this) */
}

/* A signal handler interrupts a blocked recv and accept: EINTR without
 * SA_RESTART; with it the call goes on. */
static void interrupted(void)
{
    int sv[2];
    char c;
    struct sigaction sa = { 0 };
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    alarm_fd = -1;
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    ualarm(20000, 0);
    show("recv interrupted", recv(sv[1], &c, 1, 0));
    int srv = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = { AF_UNIX, "" };
    bind(srv, (struct sockaddr *)&a, sizeof(sa_family_t)); /* (autobind) */
    listen(srv, 1);
    ualarm(20000, 0);
    show("accept interrupted", accept(srv, NULL, NULL));
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    alarm_fd = sv[0];
    ualarm(20000, 0);
    show("recv restarted", recv(sv[1], &c, 1, 0));
    struct timeval tv = { 0, 50000 };
    show("SO_RCVTIMEO", setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    show("recv with a timeout", recv(sv[1], &c, 1, 0));
    memset(&tv, 0, sizeof tv);
    socklen_t len = sizeof tv;
    getsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, &len);
    printf("timeout set %d len %d\n", tv.tv_usec > 0, (int)len); /* (Linux rounds it to ticks) */
    close(srv);
    close(sv[0]);
    close(sv[1]);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && !strcmp(argv[1], "families"))
        return families();
    if (argc > 1 && !strcmp(argv[1], "resolve"))
        return resolve();
    if (argc > 1 && !strcmp(argv[1], "fill"))
        return fill();
    if (argc > 2 && !strcmp(argv[1], "bind")) {
        /* bind a path name and exit: the socket file stays */
        struct sockaddr_un a = { AF_UNIX, "" };
        strncpy(a.sun_path, argv[2], sizeof a.sun_path - 1);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        show("bind", bind(s, (struct sockaddr *)&a, sizeof a));
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "child")) {
        /* exec'd with the socket on descriptor 3 */
        show("child write", write(3, "from the child", 14));
        return 0;
    }
    int sv[2];
    long args[6] = { AF_UNIX, SOCK_STREAM, 0, (long)sv };
    show("socketcall socketpair", socketcall(8, args));
    long send_args[4] = { sv[0], (long)"via socketcall", 14, 0 };
    show("socketcall send", socketcall(9, send_args));
    char buf[32] = { 0 };
    long recv_args[4] = { sv[1], (long)buf, sizeof buf, 0 };
    show("socketcall recv", socketcall(10, recv_args));
    printf("got '%s'\n", buf);
    show("socketcall bad call", socketcall(99, args));
    long sn_args[3] = { sv[0], 99, 0 };
    show("socketcall shutdown", socketcall(13, sn_args));

    int avail = -1;
    write(sv[0], "four", 4);
    show("FIONREAD", ioctl(sv[1], FIONREAD, &avail));
    printf("waiting %d\n", avail);
    int on = 1;
    show("FIONBIO", ioctl(sv[1], FIONBIO, &on));
    printf("nonblocking %d\n", !!(fcntl(sv[1], F_GETFL) & O_NONBLOCK));
    read(sv[1], buf, sizeof buf);
    show("read empty", read(sv[1], buf, sizeof buf));
    on = 0;
    ioctl(sv[1], FIONBIO, &on);
    show("TCGETS", ioctl(sv[1], TCGETS, buf));

    int d = dup(sv[1]);
    show("write on dup", write(d, "dup", 3));
    show("read", read(sv[0], buf, sizeof buf));
    close(d);

    int cl = fcntl(sv[0], F_DUPFD_CLOEXEC, 10);
    pid_t pid = vfork();
    if (pid == 0) {
        dup2(sv[0], 3);
        char *av[] = { "sock_misc", "child", NULL };
        execv("./sock_misc", av);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("child status %d\n", WEXITSTATUS(status));
    memset(buf, 0, sizeof buf);
    show("parent read", read(sv[1], buf, sizeof buf));
    printf("got '%s'\n", buf);
    close(cl);
    interrupted();
    return 0;
}
