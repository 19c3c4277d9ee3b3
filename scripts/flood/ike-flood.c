/* ike-flood: spoofed IKE_SA_INIT requests, for the flood test and benchmark of a
 * vpnkit or charon responder (issue #12). Run it inside a network namespace of the
 * test's own: it sends only to the target given, for at most -t seconds and -n packets.
 *
 *   ike-flood -d 192.0.2.2 [-p 500] -s 198.18.0.0/15 [-S 192.0.2.9 -f 10] [-r PPS] -t SEC -n MAX
 *
 * Every request has a fresh random SPIi, KE (x25519, 32 bytes) and nonce, and comes from a
 * random source address inside -s (IP_HDRINCL raw socket, so the kernel does not check the
 * source). With -S, one request in -f comes from that address instead (the legitimate peer's,
 * to check per-source limits do not lock it out). -r caps the rate (0 = as fast as possible).
 * Prints one line at the end: sent packets, seconds, packets/s.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static uint64_t rng_state;
static uint64_t rnd(void)
{ /* xorshift64*: speed, not secrecy (the flood only needs distinct values) */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* IKE_SA_INIT: header, SA (AES-GCM-16-256, PRF-HMAC-SHA2-256, x25519), KE, Nonce. */
static size_t build_ike(uint8_t *p)
{
	static const uint8_t sa[] = {
		34, 0, 0, 40,			/* SA: next KE, length 40 */
		0, 0, 0, 36, 1, 1, 0, 3,	/* proposal 1, IKE, no SPI, 3 transforms */
		3, 0, 0, 12, 1, 0, 0, 20, 0x80, 14, 1, 0, /* ENCR AES-GCM-16, keylen 256 */
		3, 0, 0, 8, 2, 0, 0, 5,		/* PRF HMAC-SHA2-256 */
		0, 0, 0, 8, 4, 0, 0, 31,	/* DH curve25519 */
	};
	size_t o = 0;
	memset(p, 0, 28);
	p[16] = 33;			/* next payload: SA */
	p[17] = 0x20;			/* version 2.0 */
	p[18] = 34;			/* IKE_SA_INIT */
	p[19] = 0x08;			/* initiator */
	o = 28;
	memcpy(p + o, sa, sizeof sa);
	o += sizeof sa;
	p[o] = 40; p[o + 2] = 0; p[o + 3] = 8 + 32; p[o + 4] = 0; p[o + 5] = 31; /* KE: next Nonce, group 31 */
	o += 8 + 32;
	p[o] = 0; p[o + 2] = 0; p[o + 3] = 4 + 32;	/* Nonce: last, 32 bytes */
	o += 4 + 32;
	p[24] = o >> 24; p[25] = o >> 16; p[26] = o >> 8; p[27] = o;
	return o;
}

static void usage(void)
{
	fprintf(stderr, "usage: ike-flood -d DST [-p PORT] -s SRC/PREFIX [-S ADDR -f N] [-r PPS] -t SEC -n MAX\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dst = NULL, *srcnet = NULL, *legit = NULL;
	int port = 500, every = 10, opt;
	double rate = 0, secs = 0;
	long max = 0;
	while ((opt = getopt(argc, argv, "d:p:s:S:f:r:t:n:")) != -1) {
		switch (opt) {
		case 'd': dst = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 's': srcnet = optarg; break;
		case 'S': legit = optarg; break;
		case 'f': every = atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'n': max = atol(optarg); break;
		default: usage();
		}
	}
	/* both bounds are required: a flood never runs open-ended */
	if (!dst || !srcnet || secs <= 0 || secs > 600 || max <= 0 || every < 1) usage();
	char net[64];
	snprintf(net, sizeof net, "%s", srcnet);
	char *slash = strchr(net, '/');
	if (!slash) usage();
	*slash = 0;
	int plen = atoi(slash + 1);
	struct in_addr base, dsta, lega = { 0 };
	if (inet_pton(AF_INET, net, &base) != 1 || inet_pton(AF_INET, dst, &dsta) != 1 || plen < 8 || plen > 32) usage();
	if (legit && inet_pton(AF_INET, legit, &lega) != 1) usage();
	uint32_t mask = plen == 32 ? 0xffffffffu : ~(0xffffffffu >> plen);
	uint32_t netv = ntohl(base.s_addr) & mask;

	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) { perror("socket(AF_INET, SOCK_RAW)"); return 1; }
	int one = 1;
	setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof one);
	int sndbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

	rng_state = (uint64_t)getpid() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(now() * 1e9);
	static uint8_t pkts[BATCH][512];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dsta, .sin_port = htons(port) };
	size_t ike_len = 0;
	for (int i = 0; i < BATCH; i++) {
		uint8_t *p = pkts[i];
		memset(p, 0, sizeof pkts[i]);
		ike_len = build_ike(p + 28);
		struct iphdr *ip = (struct iphdr *)p;
		ip->version = 4; ip->ihl = 5; ip->ttl = 64; ip->protocol = IPPROTO_UDP;
		ip->tot_len = htons(28 + ike_len);
		ip->daddr = dsta.s_addr;
		struct udphdr *u = (struct udphdr *)(p + 20);
		u->source = htons(500); u->dest = htons(port); u->len = htons(8 + ike_len); u->check = 0;
		iov[i].iov_base = p;
		iov[i].iov_len = 28 + ike_len;
		memset(&msgs[i], 0, sizeof msgs[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &to;
		msgs[i].msg_hdr.msg_namelen = sizeof to;
	}
	long sent = 0, k = 0, errs = 0;
	double t0 = now(), end = t0 + secs;
	while (sent < max) {
		double t = now();
		if (t >= end) break;
		if (rate > 0 && sent > (t - t0) * rate) { usleep(200); continue; }
		int n = BATCH;
		if (max - sent < n) n = max - sent;
		for (int i = 0; i < n; i++, k++) {
			uint8_t *p = pkts[i];
			struct iphdr *ip = (struct iphdr *)p;
			uint64_t r = rnd();
			if (legit && k % every == 0) ip->saddr = lega.s_addr;
			else ip->saddr = htonl(netv | ((uint32_t)r & ~mask));
			ip->id = (uint16_t)(r >> 32);
			uint8_t *ike = p + 28;
			for (int j = 0; j < 8; j++) ike[j] = (uint8_t)(rnd() >> 24);	/* SPIi */
			uint8_t *ke = ike + ike_len - 36 - 32;
			for (int j = 0; j < 32; j += 8) { uint64_t v = rnd(); memcpy(ke + j, &v, 8); }
			uint8_t *nonce = ike + ike_len - 32;
			for (int j = 0; j < 32; j += 8) { uint64_t v = rnd(); memcpy(nonce + j, &v, 8); }
		}
		int m = sendmmsg(fd, msgs, n, 0);
		if (m < 0) {
			if (errno == ENOBUFS || errno == EAGAIN) { errs++; usleep(100); continue; }
			perror("sendmmsg");
			return 1;
		}
		sent += m;
	}
	double el = now() - t0;
	printf("sent %ld packets in %.2f s: %.0f packets/s (%ld ENOBUFS waits)\n", sent, el, sent / (el > 0 ? el : 1), errs);
	return 0;
}
