// gencxx.cc - C++ workload for benchmarks: THREADS threads create OBJECTS
// polymorphic objects in all (4 classes, 1 in 8 deleted) beside strings, then
// the process writes a ready file holding the truth and waits.
// Usage: gencxx READYFILE OBJECTS THREADS [main-only]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <unistd.h>

namespace app {
struct Base { virtual ~Base() {} long id = 0; };
struct Order : Base { long qty = 1; };
struct Item : Base { double price = 2; char sku[16] = "sku"; };
struct Session : Base { void *user = nullptr; long t[4] = {}; };
}

static long per_thread;
static long live[4];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *work(void *arg)
{
	unsigned long seed = (unsigned long)arg * 2654435761UL + 7;
	long mine[4] = {};
	for (long i = 0; i < per_thread; i++) {
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		int k = (seed >> 33) % 4;
		app::Base *o = k == 0 ? new app::Base : k == 1 ? (app::Base *)new app::Order
			     : k == 2 ? (app::Base *)new app::Item : new app::Session;
		if ((seed >> 40) % 8 == 0)
			delete o;
		else
			mine[k]++;
		if (i % 4 == 0)
			strdup("a string of text");
	}
	pthread_mutex_lock(&mu);
	for (int k = 0; k < 4; k++)
		live[k] += mine[k];
	pthread_mutex_unlock(&mu);
	return nullptr;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	long n = atol(argv[2]), threads = atol(argv[3]);
	bool main_only = argc > 4;
	per_thread = n / threads;
	if (main_only) {
		for (long i = 0; i < threads; i++)
			work((void *)i);
	} else {
		pthread_t t[64];
		for (long i = 0; i < threads && i < 64; i++)
			pthread_create(&t[i], nullptr, work, (void *)i);
		for (long i = 0; i < threads && i < 64; i++)
			pthread_join(t[i], nullptr);
	}
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	FILE *f = fopen(tmp, "w");
	fprintf(f, "pid %d\nclass app::Base %ld\nclass app::Order %ld\nclass app::Item %ld\n"
		   "class app::Session %ld\n", (int)getpid(), live[0], live[1], live[2], live[3]);
	fclose(f);
	rename(tmp, argv[1]);
	for (;;)
		pause();
}
