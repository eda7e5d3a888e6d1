/* TCP and UDP over loopback: an echo server serving clients that are
 * threads and vfork+exec'd processes; half-close, reset, non-blocking
 * connect, ECONNREFUSED, EADDRINUSE, EPIPE with SIGPIPE; UDP; IPv6 and
 * v4-mapped addresses. Ports come from the kernel (port 0) and are never
 * printed, so runs match on any machine. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLIENTS 4
static volatile int sigpipes;
static void on_sigpipe(int sig) { (void)sig; sigpipes++; }

static void show(const char *what, long r)
{
    if (r < 0)
        printf("%s: -1 %s\n", what, strerror(errno));
    else
        printf("%s: %ld\n", what, r);
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int port_of(int s)
{
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    return ntohs(((struct sockaddr_in *)&a)->sin_port);
}

static int listener(int *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0), on = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in a = loopback(0);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 8) < 0)
        perror("listener");
    *port = port_of(s);
    return s;
}

/* A client: connect, send a few lines, check each echo. 0 if all came back. */
static int client(int port, int id)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(port);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0)
        return 1;
    for (int i = 0; i < 3; i++) {
        char line[64], back[64];
        int n = snprintf(line, sizeof line, "client %d line %d\n", id, i);
        if (write(s, line, n) != n)
            return 2;
        int got = 0;
        while (got < n) {
            int r = read(s, back + got, n - got);
            if (r <= 0)
                return 3;
            got += r;
        }
        if (memcmp(line, back, n))
            return 4;
    }
    shutdown(s, SHUT_WR);
    char c;
    int r = read(s, &c, 1);
    close(s);
    return r == 0 ? 0 : 5;
}

static void *client_thread(void *arg)
{
    long *p = arg;
    p[1] = client((int)p[0], (int)p[2]);
    return NULL;
}

static void serve(int srv, int clients)
{
    struct pollfd fds[CLIENTS + 1];
    int open = 0, done = 0, bytes = 0;
    fds[0].fd = srv;
    fds[0].events = POLLIN;
    while (done < clients) {
        if (poll(fds, open + 1, 10000) <= 0) {
            printf("server: poll timed out\n");
            return;
        }
        if (fds[0].revents & POLLIN) {
            int c = accept(srv, NULL, NULL);
            fds[++open].fd = c;
            fds[open].events = POLLIN;
        }
        for (int i = 1; i <= open; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
                continue;
            char buf[256];
            int n = read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                done++;
            } else {
                write(fds[i].fd, buf, n);
                bytes += n;
            }
        }
    }
    printf("server: %d connections, %d bytes echoed\n", done, bytes);
}

static void echo_server(void)
{
    int port, srv = listener(&port);
    pthread_t th[2];
    long args[2][3];
    pid_t pids[2];
    printf("-- echo server\n");
    for (int i = 0; i < 2; i++) {
        args[i][0] = port;
        args[i][2] = i;
        pthread_create(&th[i], NULL, client_thread, args[i]);
    }
    for (int i = 0; i < 2; i++) {
        char portstr[16], idstr[16];
        snprintf(portstr, sizeof portstr, "%d", port);
        snprintf(idstr, sizeof idstr, "%d", 2 + i);
        pids[i] = vfork();
        if (pids[i] == 0) {
            char *argv[] = { "sock_inet", "client", portstr, idstr, NULL };
            execv("./sock_inet", argv);
            _exit(127);
        }
    }
    serve(srv, CLIENTS);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        printf("thread client %d: %ld\n", i, args[i][1]);
    }
    for (int i = 0; i < 2; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        printf("process client %d: %d\n", 2 + i, WEXITSTATUS(status));
    }
    close(srv);
}

static int connect_to(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(port);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0)
        perror("connect");
    return s;
}

static void names(int srv, int port)
{
    int c = connect_to(port);
    struct sockaddr_in me, peer, acc;
    socklen_t len = sizeof acc;
    int s = accept(srv, (struct sockaddr *)&acc, &len);
    len = sizeof me;
    getsockname(c, (struct sockaddr *)&me, &len);
    len = sizeof peer;
    getpeername(c, (struct sockaddr *)&peer, &len);
    char a[32], b[32];
    printf("client %s -> %s, server port ok %d, accept saw client port %d\n",
           inet_ntop(AF_INET, &me.sin_addr, a, sizeof a), inet_ntop(AF_INET, &peer.sin_addr, b, sizeof b),
           ntohs(peer.sin_port) == port, ntohs(acc.sin_port) == ntohs(me.sin_port));
    len = sizeof me;
    getsockname(s, (struct sockaddr *)&me, &len);
    printf("accepted socket port ok %d\n", ntohs(me.sin_port) == port);
    close(c);
    close(s);
}

static void connection_endings(void)
{
    int port, srv = listener(&port);
    char buf[64];
    printf("-- half-close, reset, EPIPE\n");
    names(srv, port);

    int c = connect_to(port), s = accept(srv, NULL, NULL);
    show("client write", write(c, "request", 7));
    show("shutdown wr", shutdown(c, SHUT_WR));
    show("server read", read(s, buf, sizeof buf));
    show("server read eof", read(s, buf, sizeof buf));
    show("server reply", write(s, "reply", 5));
    close(s);
    show("client read", read(c, buf, sizeof buf));
    show("client read eof", read(c, buf, sizeof buf));
    close(c);

    c = connect_to(port);
    s = accept(srv, NULL, NULL);
    write(c, "unread", 6);
    usleep(10000);
    close(s); /* with unread data: a reset */
    usleep(10000);
    show("read after reset", read(c, buf, sizeof buf));
    show("read again", read(c, buf, sizeof buf));
    close(c);

    c = connect_to(port);
    s = accept(srv, NULL, NULL);
    close(s);
    usleep(10000);
    show("read after peer close", read(c, buf, sizeof buf));
    show("first write", write(c, "x", 1));
    usleep(10000);
    show("second write", write(c, "x", 1));
    printf("sigpipes %d\n", sigpipes);
    show("send nosignal", send(c, "x", 1, MSG_NOSIGNAL));
    printf("sigpipes %d\n", sigpipes);
    close(c);
    close(srv);
}

static void connect_errors(void)
{
    printf("-- connect and bind errors\n");
    /* a port held by a socket that does not listen: nobody can connect */
    int hold = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(0);
    bind(hold, (struct sockaddr *)&a, sizeof a);
    int closed_port = port_of(hold);
    a = loopback(closed_port);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    show("connect refused", connect(s, (struct sockaddr *)&a, sizeof a));
    close(s);

    s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show("nonblocking connect refused", connect(s, (struct sockaddr *)&a, sizeof a));
    struct pollfd p = { s, POLLOUT, 0 };
    show("poll", poll(&p, 1, 1000));
    printf("revents out %d err %d\n", !!(p.revents & POLLOUT), !!(p.revents & POLLERR));
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
    printf("SO_ERROR %s\n", strerror(err));
    close(s);

    int port, srv = listener(&port);
    a = loopback(port);
    s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show("nonblocking connect", connect(s, (struct sockaddr *)&a, sizeof a));
    p.fd = s;
    p.events = POLLOUT;
    show("poll", poll(&p, 1, 1000));
    printf("revents out %d err %d\n", !!(p.revents & POLLOUT), !!(p.revents & POLLERR));
    len = sizeof err;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
    printf("SO_ERROR %d\n", err);
    show("connect again", connect(s, (struct sockaddr *)&a, sizeof a));
    show("connect once more", connect(s, (struct sockaddr *)&a, sizeof a));
    int c = accept(srv, NULL, NULL);
    show("accepted", c >= 0);
    close(c);
    close(s);

    s = socket(AF_INET, SOCK_STREAM, 0);
    show("bind listening port", bind(s, (struct sockaddr *)&a, sizeof a));
    close(s);
    int on = 1;
    s = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    show("bind listening port with SO_REUSEADDR", bind(s, (struct sockaddr *)&a, sizeof a));
    close(s);
    a = loopback(closed_port);
    s = socket(AF_INET, SOCK_STREAM, 0);
    show("bind held port", bind(s, (struct sockaddr *)&a, sizeof a));
    close(s);
    struct sockaddr_in far = loopback(closed_port);
    far.sin_addr.s_addr = inet_addr("192.0.2.1");
    s = socket(AF_INET, SOCK_STREAM, 0);
    show("bind foreign address", bind(s, (struct sockaddr *)&far, sizeof far));
    show("listen unconnected read", read(s, &err, 1));
    show("shutdown unconnected", shutdown(s, SHUT_RD));
    close(s);
    close(hold);
    close(srv);

    s = socket(AF_INET, SOCK_STREAM, 0);
    len = sizeof err;
    getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &err, &len);
    printf("TCP_NODELAY %d\n", err);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    len = sizeof err;
    getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &err, &len);
    printf("TCP_NODELAY %d\n", err);
    len = sizeof err;
    getsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &err, &len);
    printf("SO_KEEPALIVE %d\n", err);
    len = sizeof err;
    getsockopt(s, SOL_SOCKET, SO_TYPE, &err, &len);
    printf("SO_TYPE %d\n", err);
    close(s);
}

static void udp(void)
{
    char buf[64];
    printf("-- UDP\n");
    int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr = loopback(0);
    bind(b, (struct sockaddr *)&addr, sizeof addr);
    int bport = port_of(b);
    addr = loopback(bport);
    show("sendto", sendto(a, "datagram one", 12, 0, (struct sockaddr *)&addr, sizeof addr));
    show("sendto", sendto(a, "two", 3, 0, (struct sockaddr *)&addr, sizeof addr));
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    show("recvfrom", recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &len));
    printf("from %s port ok %d\n", inet_ntop(AF_INET, &from.sin_addr, buf + 32, 32),
           ntohs(from.sin_port) == port_of(a));
    show("recv truncated", recv(b, buf, 2, 0));
    show("recv nothing", recv(b, buf, sizeof buf, MSG_DONTWAIT));
    show("send unconnected", send(a, "x", 1, 0));
    show("reply", sendto(b, "reply", 5, 0, (struct sockaddr *)&from, len));
    show("recv reply", recv(a, buf, sizeof buf, 0));

    /* connected to a port nobody holds: the error comes back */
    int hold = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in tmp = loopback(0);
    bind(hold, (struct sockaddr *)&tmp, sizeof tmp);
    tmp = loopback(port_of(hold));
    close(hold);
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    show("connect", connect(c, (struct sockaddr *)&tmp, sizeof tmp));
    show("send to nobody", send(c, "x", 1, 0));
    usleep(10000);
    show("recv error", recv(c, buf, sizeof buf, MSG_DONTWAIT));
    show("recv after", recv(c, buf, sizeof buf, MSG_DONTWAIT));
    close(a); close(b); close(c);
}

static void ipv6(void)
{
    char text[64];
    printf("-- IPv6\n");
    int srv = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = { 0 };
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_any;
    show("bind [::]:0", bind(srv, (struct sockaddr *)&a, sizeof a));
    show("listen", listen(srv, 4));
    socklen_t len = sizeof a;
    getsockname(srv, (struct sockaddr *)&a, &len);
    int port = ntohs(a.sin6_port);

    int c6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 to = a;
    to.sin6_addr = in6addr_loopback;
    show("connect [::1]", connect(c6, (struct sockaddr *)&to, sizeof to));
    struct sockaddr_in6 peer;
    len = sizeof peer;
    int s = accept(srv, (struct sockaddr *)&peer, &len);
    printf("accepted from %s\n", inet_ntop(AF_INET6, &peer.sin6_addr, text, sizeof text));
    write(c6, "six", 3);
    show("read", read(s, text, sizeof text));
    close(s);
    close(c6);

    int c4 = connect_to(port);
    len = sizeof peer;
    s = accept(srv, (struct sockaddr *)&peer, &len);
    printf("accepted from %s\n", inet_ntop(AF_INET6, &peer.sin6_addr, text, sizeof text));
    len = sizeof peer;
    getsockname(s, (struct sockaddr *)&peer, &len);
    printf("local %s\n", inet_ntop(AF_INET6, &peer.sin6_addr, text, sizeof text));
    close(s);
    close(c4);

    int on = 1;
    int v6only = socket(AF_INET6, SOCK_STREAM, 0);
    setsockopt(v6only, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    struct sockaddr_in6 any = { 0 };
    any.sin6_family = AF_INET6;
    show("bind v6only", bind(v6only, (struct sockaddr *)&any, sizeof any));
    listen(v6only, 1);
    len = sizeof any;
    getsockname(v6only, (struct sockaddr *)&any, &len);
    int v4 = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in four = loopback(ntohs(any.sin6_port));
    show("v4 connect to v6only", connect(v4, (struct sockaddr *)&four, sizeof four));
    close(v4);
    close(v6only);
    close(srv);
}

int main(int argc, char **argv)
{
    if (argc > 3 && !strcmp(argv[1], "client"))
        return client(atoi(argv[2]), atoi(argv[3]));
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGPIPE, on_sigpipe);
    echo_server();
    connection_endings();
    connect_errors();
    udp();
    ipv6();
    return 0;
}
