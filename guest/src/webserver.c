/* webserver: a tiny HTTP/1.0 server, the guest side of `nommu demo web`.
 *
 *   webserver [PORT [COUNT]]   serve GET requests on TCP PORT (default 80),
 *                              COUNT of them (default: until killed)
 *
 * One connection at a time: read the request head, answer "/" with a small
 * HTML page (which request this is, who asked, this process's pid) and
 * anything else with 404, close. Each request is logged on stdout. On a
 * no-MMU board this is all a web server needs: no fork, no threads. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Reads until the blank line that ends the request head (or the buffer is
 * full, or the client stops); returns the bytes read, NUL-terminated. */
static size_t read_head(int c, char *buf, size_t size)
{
    size_t got = 0;
    while (got < size - 1 && !strstr(buf, "\r\n\r\n")) {
        ssize_t n = read(c, buf + got, size - 1 - got);
        if (n <= 0)
            break;
        got += n;
        buf[got] = 0;
    }
    return got;
}

static void write_all(int c, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(c, p, len);
        if (n <= 0)
            return;
        p += n, len -= n;
    }
}

/* Answers one connection; returns the status code sent. */
static int answer(int c, int count, const char *client)
{
    char req[2048] = "", method[16] = "", path[256] = "", body[1024], head[256];
    int status = 200;
    read_head(c, req, sizeof req);
    if (sscanf(req, "%15s %255s", method, path) != 2 || strcmp(method, "GET"))
        status = 400;
    else if (strcmp(path, "/") && strcmp(path, "/index.html"))
        status = 404;
    if (status == 200)
        snprintf(body, sizeof body,
                 "<html><body><h1>Hello from a no-MMU machine</h1>\n"
                 "<p>Request %d, from %s, answered by pid %d inside nommu.</p>\n"
                 "</body></html>\n",
                 count, client, (int)getpid());
    else
        snprintf(body, sizeof body, "%d\n", status);
    snprintf(head, sizeof head,
             "HTTP/1.0 %d %s\r\nContent-Type: text/html\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n",
             status, status == 200 ? "OK" : status == 404 ? "Not Found" : "Bad Request",
             strlen(body));
    write_all(c, head, strlen(head));
    write_all(c, body, strlen(body));
    printf("webserver: %s %s from %s -> %d\n", method, path, client, status);
    fflush(stdout);
    return status;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 80, count = argc > 2 ? atoi(argv[2]) : -1, on = 1;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 8) < 0) {
        perror("webserver");
        return 1;
    }
    printf("webserver: listening on port %d\n", port);
    fflush(stdout);
    for (int n = 1; count < 0 || n <= count; n++) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        char client[64];
        int c = accept(s, (struct sockaddr *)&peer, &len);
        if (c < 0) {
            perror("webserver: accept");
            return 1;
        }
        snprintf(client, sizeof client, "%s:%d", inet_ntoa(peer.sin_addr), ntohs(peer.sin_port));
        answer(c, n, client);
        close(c);
    }
    close(s);
    return 0;
}
