/*
 * sockbench - socket round trips and bulk throughput between two threads.
 *
 * Usage: sockbench tcp N     N 1-byte round trips over loopback TCP
 *        sockbench unix N    N 1-byte round trips over an AF_UNIX socketpair
 *        sockbench bulk MIB  MIB mebibytes streamed over loopback TCP
 * The partner is a thread (so qemu-i386 runs it too): it echoes each byte + 1,
 * or writes the stream in 64 KiB pieces. TCP_NODELAY on both TCP ends, so a
 * round trip is not held up by Nagle's algorithm. Prints "sockbench: N round
 * trips ok" or "sockbench: MIB MiB ok"; exits 0, or 1 on a wrong answer.
 */
#include "guest.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static int partner_fd;
static unsigned long count;

static void *echo(void *arg)
{
	unsigned char c;
	while (read(partner_fd, &c, 1) == 1) {
		c++;
		if (write(partner_fd, &c, 1) != 1)
			break;
	}
	return NULL;
}

static void *stream(void *arg)
{
	static char chunk[65536];
	for (unsigned long i = 0; i < count * 16; i++)
		if (write(partner_fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk)
			break;
	close(partner_fd);
	return NULL;
}

/* A connected loopback TCP pair: *a the client end, *b the accepted one. */
static void tcp_pair(int *a, int *b)
{
	int srv = socket(AF_INET, SOCK_STREAM, 0), on = 1;
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof addr;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(srv, (struct sockaddr *)&addr, sizeof addr) || listen(srv, 1) ||
	    getsockname(srv, (struct sockaddr *)&addr, &len)) {
		report("tcp set-up", -1);
		exit(1);
	}
	*a = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(*a, (struct sockaddr *)&addr, sizeof addr)) {
		report("connect", -1);
		exit(1);
	}
	*b = accept(srv, NULL, NULL);
	setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	setsockopt(*b, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	close(srv);
}

static int round_trips(int fd)
{
	unsigned char c = 0, back;
	for (unsigned long i = 0; i < count; i++) {
		if (write(fd, &c, 1) != 1 || read(fd, &back, 1) != 1 || back != (unsigned char)(c + 1)) {
			printf("sockbench: wrong answer at round trip %lu\n", i);
			return 1;
		}
		c = back;
	}
	printf("sockbench: %lu round trips ok\n", count);
	return 0;
}

static int bulk(int fd)
{
	static char buf[65536];
	unsigned long long total = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		total += n;
	if (total != (unsigned long long)count << 20) {
		printf("sockbench: got %llu bytes\n", total);
		return 1;
	}
	printf("sockbench: %lu MiB ok\n", count);
	return 0;
}

int main(int argc, char **argv)
{
	int fds[2];
	pthread_t th;
	if (argc != 3) {
		fprintf(stderr, "usage: sockbench tcp|unix|bulk N\n");
		return 2;
	}
	count = strtoul(argv[2], NULL, 10);
	if (strcmp(argv[1], "unix") == 0)
		socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
	else
		tcp_pair(&fds[0], &fds[1]);
	partner_fd = fds[1];
	int is_bulk = strcmp(argv[1], "bulk") == 0;
	pthread_create(&th, NULL, is_bulk ? stream : echo, NULL);
	int status = is_bulk ? bulk(fds[0]) : round_trips(fds[0]);
	if (!is_bulk)
		shutdown(fds[0], SHUT_WR);
	pthread_join(th, NULL);
	return status;
}
