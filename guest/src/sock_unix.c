/* AF_UNIX sockets: stream, datagram and seqpacket; path and abstract names;
 * descriptor passing (SCM_RIGHTS) and credentials (SCM_CREDENTIALS,
 * SO_PEERCRED); shutdown, EPIPE and SIGPIPE; MSG_PEEK/DONTWAIT/TRUNC/WAITALL.
 * Prints only what is the same on any Linux (no pids, no inode numbers). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int sigpipes;
static void on_sigpipe(int sig) { (void)sig; sigpipes++; }

#define CHECK(expr) do { if ((expr) < 0) { printf("%s: %s\n", #expr, strerror(errno)); } } while (0)

static void show(const char *what, long r)
{
    if (r < 0)
        printf("%s: -1 %s\n", what, strerror(errno));
    else
        printf("%s: %ld\n", what, r);
}

static socklen_t unix_addr(struct sockaddr_un *a, const char *path)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, path);
    return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static void stream_pair(void)
{
    int sv[2];
    char buf[64];
    printf("-- stream socketpair\n");
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    show("write", write(sv[0], "hello", 5));
    show("send", send(sv[0], " world", 6, 0));
    show("peek", recv(sv[1], buf, 3, MSG_PEEK));
    show("recv", recv(sv[1], buf, sizeof buf, 0));
    printf("got '%.11s'\n", buf);
    show("dontwait", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    struct pollfd p = { sv[1], POLLIN | POLLOUT, 0 };
    show("poll", poll(&p, 1, 0));
    printf("revents in=%d out=%d hup=%d\n", !!(p.revents & POLLIN), !!(p.revents & POLLOUT), !!(p.revents & POLLHUP));
    int type = 0;
    socklen_t len = sizeof type;
    CHECK(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &len));
    printf("SO_TYPE %d len %d\n", type, (int)len);
    struct ucred cred;
    len = sizeof cred;
    CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cred, &len));
    printf("peercred pid ok %d uid ok %d\n", cred.pid == getpid(), cred.uid == getuid());
    show("shutdown wr", shutdown(sv[0], SHUT_WR));
    show("read after shutdown", read(sv[1], buf, sizeof buf));
    show("write back", write(sv[1], "x", 1));
    show("read back", read(sv[0], buf, 1));
    show("write after shutdown", write(sv[0], "x", 1));
    printf("sigpipes %d\n", sigpipes);
    close(sv[1]);
    show("send nosignal", send(sv[0], "x", 1, MSG_NOSIGNAL));
    printf("sigpipes %d\n", sigpipes);
    close(sv[0]);

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    close(sv[1]);
    show("write to closed peer", write(sv[0], "x", 1));
    printf("sigpipes %d\n", sigpipes);
    show("read from closed peer", read(sv[0], buf, 1));
    p.fd = sv[0];
    p.events = POLLIN | POLLOUT;
    show("poll", poll(&p, 1, 0));
    printf("revents in=%d hup=%d\n", !!(p.revents & POLLIN), !!(p.revents & POLLHUP));
    close(sv[0]);

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    write(sv[0], "unread", 6);
    close(sv[1]);
    show("read after peer closed with unread data", read(sv[0], buf, 1));
    close(sv[0]);
}

static void waitall(void)
{
    int sv[2];
    char buf[16];
    printf("-- MSG_WAITALL\n");
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    pid_t pid = vfork();
    if (pid == 0) {
        char *argv[] = { "sock_unix", "writer", NULL };
        dup2(sv[0], 0);
        execv("./sock_unix", argv);
        _exit(127);
    }
    close(sv[0]);
    show("recv waitall", recv(sv[1], buf, 10, MSG_WAITALL));
    printf("got '%.10s'\n", buf);
    show("recv rest", recv(sv[1], buf, sizeof buf, MSG_WAITALL));
    int status;
    waitpid(pid, &status, 0);
    printf("writer exited %d\n", WEXITSTATUS(status));
    close(sv[1]);
}

static int writer(void)
{
    /* the other end of waitall(): bytes in small pieces, slowly */
    const char *parts[] = { "01", "234", "56789", "ab" };
    for (int i = 0; i < 4; i++) {
        usleep(2000);
        write(0, parts[i], strlen(parts[i]));
    }
    return 0;
}

static void path_names(void)
{
    struct sockaddr_un a, got;
    socklen_t alen = unix_addr(&a, "tmp/sock_unix.sock"), len;
    struct stat st;
    char buf[32];
    printf("-- path names\n");
    unlink(a.sun_path);
    int srv = socket(AF_UNIX, SOCK_STREAM, 0);
    show("listen unbound", listen(srv, 1));
    show("bind", bind(srv, (struct sockaddr *)&a, alen));
    show("stat", stat(a.sun_path, &st));
    printf("S_ISSOCK %d\n", S_ISSOCK(st.st_mode));
    show("open socket file", open(a.sun_path, O_RDONLY));
    int other = socket(AF_UNIX, SOCK_STREAM, 0);
    show("bind again", bind(other, (struct sockaddr *)&a, alen));
    show("connect before listen", connect(other, (struct sockaddr *)&a, alen));
    show("listen", listen(srv, 5));
    int cli = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect", connect(cli, (struct sockaddr *)&a, alen));
    len = sizeof got;
    int conn = accept(srv, (struct sockaddr *)&got, &len);
    printf("accept ok %d, peer name len %d\n", conn >= 0, (int)len);
    len = sizeof got;
    CHECK(getsockname(conn, (struct sockaddr *)&got, &len));
    printf("server end name '%s' len %d\n", got.sun_path, (int)len);
    len = sizeof got;
    CHECK(getpeername(cli, (struct sockaddr *)&got, &len));
    printf("client peer '%s' len %d\n", got.sun_path, (int)len);
    len = sizeof got;
    show("getpeername unconnected", getpeername(other, (struct sockaddr *)&got, &len));
    show("send", send(cli, "ping", 4, 0));
    show("recv", recv(conn, buf, sizeof buf, 0));
    int fl = fcntl(srv, F_GETFL);
    fcntl(srv, F_SETFL, fl | O_NONBLOCK);
    show("accept nonblocking", accept(srv, NULL, NULL));
    show("unlink", unlink(a.sun_path));
    int late = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect after unlink", connect(late, (struct sockaddr *)&a, alen));
    struct sockaddr_un file;
    socklen_t flen = unix_addr(&file, "sock_unix");
    show("connect to a regular file", connect(late, (struct sockaddr *)&file, flen));
    close(srv); close(cli); close(conn); close(other); close(late);
}

static void abstract_names(void)
{
    struct sockaddr_un a, got;
    char name[64];
    printf("-- abstract names\n");
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    int n = snprintf(name, sizeof name, "nommu-abstract-%d", (int)getpid());
    memcpy(a.sun_path + 1, name, n);
    socklen_t alen = offsetof(struct sockaddr_un, sun_path) + 1 + n;
    int srv = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    show("bind", bind(srv, (struct sockaddr *)&a, alen));
    int dup = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    show("bind again", bind(dup, (struct sockaddr *)&a, alen));
    show("listen", listen(srv, 2));
    int cli = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    show("connect", connect(cli, (struct sockaddr *)&a, alen));
    int conn = accept(srv, NULL, NULL);
    socklen_t len = sizeof got;
    CHECK(getsockname(srv, (struct sockaddr *)&got, &len));
    printf("name len matches %d, first byte %d\n", len == alen, got.sun_path[0]);
    send(cli, "one", 3, 0);
    send(cli, "two!", 4, 0);
    char buf[16];
    show("seqpacket recv", recv(conn, buf, sizeof buf, 0));
    show("seqpacket recv short", recv(conn, buf, 2, 0));
    show("seqpacket recv empty", recv(conn, buf, sizeof buf, MSG_DONTWAIT));
    int stream = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect wrong type", connect(stream, (struct sockaddr *)&a, alen));
    close(cli);
    show("recv after close", recv(conn, buf, sizeof buf, 0));
    close(conn); close(srv); close(dup); close(stream);
    int again = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    show("connect after close", connect(again, (struct sockaddr *)&a, alen));
    close(again);
}

static void datagrams(void)
{
    struct sockaddr_un a, b, from;
    socklen_t alen = unix_addr(&a, "tmp/dgram_a"), blen = unix_addr(&b, "tmp/dgram_b");
    char buf[16];
    printf("-- datagrams\n");
    unlink(a.sun_path);
    unlink(b.sun_path);
    int sa = socket(AF_UNIX, SOCK_DGRAM, 0), sb = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(bind(sa, (struct sockaddr *)&a, alen));
    CHECK(bind(sb, (struct sockaddr *)&b, blen));
    show("sendto", sendto(sa, "first", 5, 0, (struct sockaddr *)&b, blen));
    show("sendto", sendto(sa, "second", 6, 0, (struct sockaddr *)&b, blen));
    socklen_t flen = sizeof from;
    show("recvfrom", recvfrom(sb, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen));
    printf("from '%s'\n", from.sun_path);
    show("recv truncated", recv(sb, buf, 3, MSG_TRUNC));
    show("recv nothing", recv(sb, buf, sizeof buf, MSG_DONTWAIT));
    show("send unconnected", send(sa, "x", 1, 0));
    CHECK(connect(sa, (struct sockaddr *)&b, blen));
    show("send connected", send(sa, "third", 5, 0));
    show("recv", recv(sb, buf, sizeof buf, 0));
    unlink(a.sun_path);
    unlink(b.sun_path);
    struct sockaddr_un none;
    socklen_t nlen = unix_addr(&none, "tmp/nobody");
    show("sendto missing", sendto(sb, "x", 1, 0, (struct sockaddr *)&none, nlen));
    close(sa); close(sb);

    /* a bound receiver nobody reads: unconnected senders may queue 11 */
    sb = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(bind(sb, (struct sockaddr *)&b, blen));
    sa = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int sent = 0;
    while (sendto(sa, buf, 100 > sizeof buf ? sizeof buf : 16, 0, (struct sockaddr *)&b, blen) > 0)
        sent++;
    printf("queued %d, then %s\n", sent, strerror(errno));
    unlink(b.sun_path);
    close(sa); close(sb);

    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    send(sv[0], "abc", 3, 0);
    send(sv[0], "", 0, 0);
    send(sv[0], "defg", 4, 0);
    show("pair recv", recv(sv[1], buf, sizeof buf, 0));
    show("pair recv empty datagram", recv(sv[1], buf, sizeof buf, 0));
    show("pair recv", recv(sv[1], buf, sizeof buf, 0));

    /* several datagrams in one call each way */
    struct iovec out[3] = { { "uno", 3 }, { "dos!", 4 }, { "tres", 4 } };
    struct mmsghdr mm[3];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        mm[i].msg_hdr.msg_iov = &out[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    show("sendmmsg", sendmmsg(sv[0], mm, 3, 0));
    printf("lengths %u %u %u\n", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
    char in[3][8];
    struct iovec iv[3] = { { in[0], 8 }, { in[1], 8 }, { in[2], 2 } };
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        mm[i].msg_hdr.msg_iov = &iv[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    show("recvmmsg", recvmmsg(sv[1], mm, 3, 0, NULL));
    printf("got %u '%.3s' %u '%.4s' %u truncated %d\n", mm[0].msg_len, in[0], mm[1].msg_len, in[1],
           mm[2].msg_len, !!(mm[2].msg_hdr.msg_flags & MSG_TRUNC));
    close(sv[0]); close(sv[1]);
}

static void pass_fds(void)
{
    int sv[2], pipefd[2];
    char buf[32];
    printf("-- SCM_RIGHTS\n");
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CHECK(pipe(pipefd));
    write(pipefd[1], "through the pipe", 16);
    close(pipefd[1]);

    union { struct cmsghdr h; char buf[CMSG_SPACE(2 * sizeof(int))]; } ctl;
    struct iovec iov = { "fd!", 3 };
    struct msghdr m = { 0 };
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl.buf;
    m.msg_controllen = CMSG_SPACE(2 * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    int fds[2] = { pipefd[0], pipefd[0] };
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    show("sendmsg", sendmsg(sv[0], &m, 0));
    close(pipefd[0]);
    show("send more", send(sv[0], "after", 5, 0));

    union { struct cmsghdr h; char buf[CMSG_SPACE(4 * sizeof(int))]; } in;
    char data[16];
    struct iovec iov2 = { data, sizeof data };
    struct msghdr r = { 0 };
    r.msg_iov = &iov2;
    r.msg_iovlen = 1;
    r.msg_control = in.buf;
    r.msg_controllen = sizeof in.buf;
    show("recvmsg", recvmsg(sv[1], &r, MSG_CMSG_CLOEXEC));
    printf("data '%.3s' flags %#x controllen %d\n", data, r.msg_flags, (int)r.msg_controllen);
    for (c = CMSG_FIRSTHDR(&r); c; c = CMSG_NXTHDR(&r, c)) {
        int n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        printf("cmsg level %d type %d fds %d\n", c->cmsg_level, c->cmsg_type, n);
        memcpy(fds, CMSG_DATA(c), sizeof fds);
        printf("cloexec %d\n", fcntl(fds[0], F_GETFD));
        show("read passed fd", read(fds[0], buf, sizeof buf));
        printf("'%.16s'\n", buf);
        show("second copy at eof", read(fds[1], buf, sizeof buf));
        close(fds[0]);
        close(fds[1]);
    }
    show("recv rest", recv(sv[1], data, sizeof data, 0));

    /* too little control space: MSG_CTRUNC, the descriptors are closed */
    CHECK(pipe(pipefd));
    m.msg_controllen = CMSG_SPACE(sizeof(int));
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pipefd[0], sizeof(int));
    show("sendmsg", sendmsg(sv[0], &m, 0));
    close(pipefd[0]);
    r.msg_control = NULL;
    r.msg_controllen = 0;
    show("recvmsg no control", recvmsg(sv[1], &r, 0));
    printf("flags ctrunc %d\n", !!(r.msg_flags & MSG_CTRUNC));
    show("write to pipe whose reader was dropped", write(pipefd[1], "x", 1));
    printf("sigpipes %d\n", sigpipes);
    close(pipefd[1]);
    close(sv[0]);
    close(sv[1]);
}

static void credentials(void)
{
    int sv[2], on = 1;
    printf("-- SCM_CREDENTIALS\n");
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
    int got = 0;
    socklen_t len = sizeof got;
    CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &got, &len));
    printf("SO_PASSCRED %d\n", got);
    send(sv[0], "who", 3, 0);

    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(struct ucred))]; } ctl;
    char data[8];
    struct iovec iov = { data, sizeof data };
    struct msghdr m = { 0 };
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl.buf;
    m.msg_controllen = sizeof ctl.buf;
    show("recvmsg", recvmsg(sv[1], &m, 0));
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    if (c) {
        struct ucred u;
        memcpy(&u, CMSG_DATA(c), sizeof u);
        printf("cmsg type %d pid ok %d uid ok %d gid ok %d\n", c->cmsg_type, u.pid == getpid(),
               u.uid == getuid(), u.gid == getgid());
    }

    /* sending credentials explicitly */
    struct ucred me = { getpid(), getuid(), getgid() };
    struct iovec iov2 = { "cred", 4 };
    struct msghdr s = { 0 };
    s.msg_iov = &iov2;
    s.msg_iovlen = 1;
    s.msg_control = ctl.buf;
    s.msg_controllen = sizeof ctl.buf;
    c = CMSG_FIRSTHDR(&s);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof me);
    memcpy(CMSG_DATA(c), &me, sizeof me);
    show("sendmsg creds", sendmsg(sv[0], &s, 0));
    m.msg_controllen = sizeof ctl.buf;
    show("recvmsg", recvmsg(sv[1], &m, 0));
    printf("controllen %d\n", (int)m.msg_controllen);
    write(sv[0], "w", 1); /* write() too carries the writer's credentials */
    m.msg_controllen = sizeof ctl.buf;
    show("recvmsg", recvmsg(sv[1], &m, 0));
    c = CMSG_FIRSTHDR(&m);
    if (c) {
        struct ucred u;
        memcpy(&u, CMSG_DATA(c), sizeof u);
        printf("after write: pid ok %d\n", u.pid == getpid());
    }
    close(sv[0]);
    close(sv[1]);
}

static void errors(void)
{
    printf("-- errors\n");
    show("bad type", socket(AF_UNIX, 99, 0));
    show("bad protocol", socket(AF_UNIX, SOCK_STREAM, 7));
    show("bad flags", socket(AF_UNIX, SOCK_STREAM | 0x100000, 0));
    show("inet socketpair", socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0}));
    int fd = open("sock_unix", O_RDONLY);
    show("not a socket", listen(fd, 1));
    close(fd);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    printf("cloexec %d nonblock %d\n", fcntl(s, F_GETFD), !!(fcntl(s, F_GETFL) & O_NONBLOCK));
    show("read unconnected", read(s, &fd, 1));
    show("write unconnected", write(s, "x", 1));
    show("bad level", setsockopt(s, 99, 1, &fd, sizeof fd));
    show("bad option", setsockopt(s, SOL_SOCKET, 999, &fd, sizeof fd));
    int v = 4096;
    CHECK(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof v));
    socklen_t len = sizeof v;
    CHECK(getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &len));
    printf("SO_RCVBUF %d\n", v);
    len = sizeof v;
    CHECK(getsockopt(s, SOL_SOCKET, SO_ERROR, &v, &len));
    printf("SO_ERROR %d\n", v);
    show("shutdown unconnected", shutdown(s, SHUT_RDWR));
    close(s);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "writer"))
        return writer();
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGPIPE, on_sigpipe);
    stream_pair();
    waitall();
    path_names();
    abstract_names();
    datagrams();
    pass_fds();
    credentials();
    errors();
    return 0;
}
