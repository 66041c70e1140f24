/*
 * par.c - two halves of a loop on two threads (see par.h).
 */
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "par.h"

struct half_job {
	par_fn *fn;
	void *arg;
	size_t begin, end;
};

static void *
half_main(void *p)
{
	struct half_job *j = p;

	j->fn(j->arg, j->begin, j->end, 1);
	return NULL;
}

static int ncpu;
static pthread_once_t ncpu_once = PTHREAD_ONCE_INIT;

static void
count_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	ncpu = n > 1 ? (int)(n > 1024 ? 1024 : n) : 1;
}

int
par_cpus(void)
{
	pthread_once(&ncpu_once, count_cpus);
	return ncpu;
}

size_t par_min_for_tests;

void
par_halves_at(size_t n, size_t mid, par_fn *fn, void *arg)
{
	struct half_job upper = { fn, arg, mid > n ? n : mid, n };
	bool small = par_min_for_tests ? n < par_min_for_tests : n < PAR_MIN || par_cpus() < 2;
	pthread_t th;

	if (small || pthread_create(&th, NULL, half_main, &upper)) {
		fn(arg, 0, upper.begin, 0);
		fn(arg, upper.begin, n, 1);
		return;
	}
	fn(arg, 0, upper.begin, 0);
	pthread_join(th, NULL);
}

void
par_halves(size_t n, par_fn *fn, void *arg)
{
	par_halves_at(n, n / 2, fn, arg);
}
