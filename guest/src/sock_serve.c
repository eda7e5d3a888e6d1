/* A tiny TCP server and client, for reaching the machine from the host
 * (--publish) and the host from the machine (--net host).
 *   sock_serve serve PORT COUNT   answer COUNT connections on PORT, then exit
 *   sock_serve get IP PORT        send a line to IP:PORT, print the answer */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int serve(int port, int count)
{
    int s = socket(AF_INET, SOCK_STREAM, 0), on = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 16) < 0) {
        perror("serve");
        return 1;
    }
    printf("listening on %d\n", port);
    fflush(stdout);
    for (int i = 0; i < count; i++) {
        int c = accept(s, NULL, NULL);
        char req[256];
        int n = 0, r;
        while (n < (int)sizeof req - 1 && (r = read(c, req + n, sizeof req - 1 - n)) > 0) {
            n += r;
            if (memchr(req, '\n', n))
                break;
        }
        req[n] = 0;
        char reply[512];
        int len = snprintf(reply, sizeof reply, "hello from the guest, you said: %s", req);
        write(c, reply, len);
        close(c);
    }
    close(s);
    return 0;
}

static int get(const char *ip, int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        printf("connect: %s\n", strerror(errno));
        return 1;
    }
    write(s, "ping from the guest\n", 20);
    shutdown(s, SHUT_WR);
    char buf[512];
    int n, total = 0;
    while ((n = read(s, buf + total, sizeof buf - 1 - total)) > 0)
        total += n;
    buf[total] = 0;
    printf("answer: %s", buf);
    close(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "serve"))
        return serve(atoi(argv[2]), atoi(argv[3]));
    if (argc == 4 && !strcmp(argv[1], "get"))
        return get(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: sock_serve serve PORT COUNT | get IP PORT\n");
    return 2;
}
