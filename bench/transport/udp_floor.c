/* The UDP floor (BENCHMARKING.md): recvfrom -> sendto with no parsing.
 * The reply is the request with its first line swapped for a status line
 * (SIPp needs the Call-ID back), so the only work per message is one
 * memchr and one copy. usage: udp_floor PORT */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	static const char head[] = "SIP/2.0 200 OK\r\nAllow: OPTIONS\r\n";
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char buf[65536], out[65600];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (argc < 2 || fd < 0)
		return 2;
	a.sin_port = htons((uint16_t)atoi(argv[1]));
	int sz = 4 * 1024 * 1024; /* as tp_server: bursts must not drop */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		return perror("bind"), 1;
	memcpy(out, head, sizeof(head) - 1);
	for (;;) {
		struct sockaddr_storage src;
		socklen_t sl = sizeof(src);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0,
				     (struct sockaddr *)&src, &sl);
		if (n <= 0)
			continue;
		char *eol = memchr(buf, '\n', (size_t)n);
		if (!eol)
			continue;
		size_t rest = (size_t)(buf + n - (eol + 1));
		memcpy(out + sizeof(head) - 1, eol + 1, rest);
		sendto(fd, out, sizeof(head) - 1 + rest, 0,
		       (struct sockaddr *)&src, sl);
	}
}
