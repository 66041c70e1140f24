// workload.cc - the heap `make bench` measures: THREADS threads allocate
// CHUNKS chunks in all, about 125 bytes a chunk on average (10M chunks ~ 1.2
// GiB), then stay alive (so heapscan has threads to stop) while the process
// writes a ready file and waits.  Usage: workload READYFILE CHUNKS THREADS [CLASSES]
//
// CLASSES > 4 (at most 4 + GEN_CLASSES): the C++ objects are of that many
// classes, the 4 below and shop::Gen<0>, shop::Gen<1>, ... (16..64 bytes of
// fields), as a program of dozens of classes has.
//
// Per thread, in one interleaved stream (so every arena holds every kind):
//   35%  C++ objects of 4 polymorphic classes, 32..96 bytes   (class types)
//   15%  strings: a few repeated texts, and numbered ones      (content)
//   25%  linked-list nodes {id, name, next, payload}            (shape)
//   25%  buffers of 24..480 bytes of random bytes               (size)
// and 1 chunk in 16 freed again (tcache, fastbins, bins).  The objects are
// held in arrays (big mmapped chunks) and lists so nothing leaks.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <string>
#include <unistd.h>

namespace shop {
struct Base { virtual ~Base() {} long id = 0; };
struct Order : Base { long qty = 1; double price = 2.5; };
struct Item : Base { double price = 2; char sku[24] = "sku"; };
struct Session : Base { void *user = nullptr; long t[8] = {}; };
template <int K> struct Gen : Base { long f[2 + K % 7] = {}; };
}

#include <utility>

#define GEN_CLASSES 60
template <int K> static shop::Base *make_gen() { return new shop::Gen<K>; }
template <size_t... K>
static constexpr std::array<shop::Base *(*)(), sizeof...(K)> gen_table(std::index_sequence<K...>)
{
	return { make_gen<(int)K>... };
}
static const auto makers = gen_table(std::make_index_sequence<GEN_CLASSES>());
static int nclasses = 4;

struct node {
	long id;
	const char *name;
	node *next;
	long payload[3];
};

static const char *const texts[] = {
	"GET /index.html HTTP/1.1", "application/json", "user@example.com",
	"Content-Type: text/plain; charset=utf-8",
};

static long per_thread;
static pthread_barrier_t done;

static void *
work(void *arg)
{
	unsigned long seed = (unsigned long)arg * 2654435761UL + 7;
	void **keep = (void **)malloc(sizeof(void *) * per_thread);
	node *list = nullptr;
	long nkeep = 0;

	for (long i = 0; i < per_thread; i++) {
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		unsigned r = (seed >> 33) % 100;
		void *p;

		if (r < 35) {
			int k = (int)((seed >> 40) % (unsigned long)nclasses);
			p = k == 0 ? new shop::Base : k == 1 ? (shop::Base *)new shop::Order
			  : k == 2 ? (shop::Base *)new shop::Item : k == 3 ? new shop::Session
			  : makers[k - 4]();
		} else if (r < 50) {
			char buf[64];
			if ((seed >> 45) % 2)
				snprintf(buf, sizeof(buf), "%s", texts[(seed >> 50) % 4]);
			else
				snprintf(buf, sizeof(buf), "customer-%lu-%ld", (unsigned long)arg, i);
			p = strdup(buf);
		} else if (r < 75) {
			node *n = (node *)malloc(sizeof(node));
			n->id = i;
			n->name = texts[i % 4];
			n->next = list;
			n->payload[0] = i * 3;
			n->payload[1] = 0;
			n->payload[2] = -1;
			list = n;
			continue;
		} else {
			size_t len = 24 + (seed >> 20) % 457;
			unsigned long v = seed;
			p = malloc(len);
			for (size_t o = 0; o + 8 <= len; o += 8) {
				v = v * 6364136223846793005UL + 1;
				memcpy((char *)p + o, &v, 8);
			}
		}
		keep[nkeep++] = p;
	}
	// some free chunks on every list (operator new is malloc here)
	for (long i = 0; i < nkeep; i += 16) {
		free(keep[i]);
		keep[i] = nullptr;
	}
	pthread_barrier_wait(&done);
	for (;;)
		pause();
	return list;
}

int
main(int argc, char **argv)
{
	long chunks, nthreads;
	pthread_t t[64];

	if (argc < 4 || argc > 5 || (chunks = atol(argv[2])) <= 0 ||
	    (nthreads = atol(argv[3])) <= 0 || nthreads > 64)
		return 2;
	if (argc == 5 && ((nclasses = atoi(argv[4])) < 4 || nclasses > 4 + GEN_CLASSES))
		return 2;
	per_thread = chunks / nthreads;
	pthread_barrier_init(&done, nullptr, (unsigned)nthreads + 1);
	for (long i = 0; i < nthreads; i++)
		pthread_create(&t[i], nullptr, work, (void *)i);
	pthread_barrier_wait(&done);
	std::string tmp = std::string(argv[1]) + ".tmp";
	FILE *f = fopen(tmp.c_str(), "w");
	if (!f)
		return 1;
	fprintf(f, "pid %d\n", (int)getpid());
	fclose(f);
	rename(tmp.c_str(), argv[1]);
	for (;;)
		pause();
}
