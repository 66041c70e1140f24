/*
 * test_reach.c - the reachability marker on a made-up process: a heap
 * segment of chunks laid out by hand, a module data region as the only
 * root, and pointers placed exactly where each case needs them.
 *
 *   DATA  0x10000: root words
 *   HEAP  0x20000: chunks of 0x40 bytes (header at +0, user bytes at +16),
 *                  chunk i at HEAP + i * 0x40, kinds as the case says
 */
#include <stdlib.h>
#include <string.h>

#include "reach.h"
#include "scan.h"
#include "unit.h"

#define DATA 0x10000ULL
#define HEAP 0x20000ULL
#define CSZ 0x40ULL
#define NCH 16

struct world {
	struct scan s;
	unsigned char data[0x100];
	unsigned char heap[NCH * CSZ + 16];
	struct hs_chunk chunks[NCH];
};

static void
world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	for (int i = 0; i < NCH; i++)
		w->chunks[i] = (struct hs_chunk){ .addr = HEAP + (uint64_t)i * CSZ, .size = CSZ,
						  .kind = CK_INUSE, .arena = 0 };
	image_init(&w->s.img);
	image_init(&w->s.ro);
}

static uint64_t
user(int i)
{
	return HEAP + (uint64_t)i * CSZ + 16;
}

/* word at offset off of chunk i's user bytes points to addr */
static void
link_to(struct world *w, int i, uint64_t off, uint64_t addr)
{
	memcpy(w->heap + (size_t)i * CSZ + 16 + off, &addr, 8);
}

static void
root_to(struct world *w, int slot, uint64_t addr)
{
	memcpy(w->data + slot * 8, &addr, 8);
}

static void
run(struct world *w, struct reach *r, bool chains)
{
	CHECK(image_add_copy(&w->s.img, DATA, w->data, sizeof(w->data), MAP_PERM_R | MAP_PERM_W,
			     "/bin/app") == 0);
	CHECK(image_add_copy(&w->s.img, HEAP, w->heap, sizeof(w->heap), MAP_PERM_R | MAP_PERM_W,
			     "[heap]") == 0);
	w->s.heap.chunks = w->chunks;
	w->s.heap.nchunks = NCH;
	reach_run(&w->s, &(struct reach_opts){ .chains = chains }, r);
}

static void
done(struct world *w, struct reach *r)
{
	reach_free(r);
	image_free(&w->s.img);
	image_free(&w->s.ro);
}

UNIT_TEST(reach_direct_indirect_and_cycles)
{
	struct world w;
	struct reach r;

	world_init(&w);
	root_to(&w, 0, user(0));          /* 0 reachable, and 1 through it */
	link_to(&w, 0, 8, user(1));
	link_to(&w, 2, 0, user(3));       /* 2 -> 3 -> 4: a lost list */
	link_to(&w, 3, 0, user(4));
	link_to(&w, 5, 0, user(6));       /* 5 <-> 6: a lost cycle */
	link_to(&w, 6, 0, user(5));
	link_to(&w, 7, 0, user(7));       /* 7 points only to itself */
	w.chunks[9].kind = CK_TCACHE;     /* a free chunk pointing at 8: no root */
	link_to(&w, 9, 0, user(8));
	link_to(&w, 10, 0, user(9));      /* a lost chunk pointing at a free one */
	root_to(&w, 1, user(11) + 0x21);  /* an interior pointer keeps 11 */
	root_to(&w, 2, HEAP + 12 * CSZ);  /* 12's header: counts as 11's tail, not 12 */
	root_to(&w, 3, user(13) - 8);     /* 13's size field: nothing */
	link_to(&w, 1, 16, user(14));     /* reached through a reachable chunk */
	run(&w, &r, true);

	CHECK_EQ_U64(r.state[0], RS_REACHABLE);
	CHECK_EQ_U64(r.state[1], RS_REACHABLE);
	CHECK_EQ_U64(r.state[2], RS_DIRECT);
	CHECK_EQ_U64(r.state[3], RS_INDIRECT);
	CHECK_EQ_U64(r.state[4], RS_INDIRECT);
	CHECK_EQ_U64(r.state[5], RS_DIRECT); /* the cycle's lower address leads */
	CHECK_EQ_U64(r.state[6], RS_INDIRECT);
	CHECK_EQ_U64(r.state[7], RS_DIRECT);
	CHECK_EQ_U64(r.state[8], RS_DIRECT);
	CHECK_EQ_U64(r.state[9], RS_FREE);
	CHECK_EQ_U64(r.state[10], RS_DIRECT);
	CHECK_EQ_U64(r.state[11], RS_REACHABLE);
	CHECK_EQ_U64(r.state[12], RS_DIRECT);
	CHECK_EQ_U64(r.state[13], RS_DIRECT);
	CHECK_EQ_U64(r.state[14], RS_REACHABLE);
	CHECK_EQ_U64(r.count[RS_REACHABLE], 4);
	CHECK_EQ_U64(r.state[15], RS_DIRECT); /* nothing points to it at all */
	CHECK_EQ_U64(r.count[RS_DIRECT], 8);
	CHECK_EQ_U64(r.count[RS_INDIRECT], 3);
	CHECK_EQ_U64(r.count[RS_FREE], 1);
	CHECK_EQ_U64(r.bytes[RS_INDIRECT], 3 * CSZ);

	/* the chain to 14: root word DATA+0 -> chunk 0 (+0x18) -> 1 (+0x20) -> 14 */
	uint32_t chain[8];
	struct reach_root root;
	size_t n = reach_chain(&r, 14, chain, 8, &root);

	CHECK_EQ_U64(n, 3);
	if (n == 3) {
		CHECK_EQ_U64(chain[0], 0);
		CHECK_EQ_U64(chain[1], 1);
		CHECK_EQ_U64(chain[2], 14);
		CHECK_EQ_U64(r.via[1], 16 + 8);
		CHECK_EQ_U64(r.via[14], 16 + 16);
	}
	CHECK_EQ_U64(root.kind, ROOT_MODULE);
	CHECK_EQ_U64(root.addr, DATA);
	CHECK_EQ_U64(reach_chain(&r, 2, chain, 8, &root), 0); /* leaked: no chain */
	CHECK_EQ_U64(reach_chunk_of(&r, &w.s.heap, user(3) + 5), 3);
	CHECK(reach_chunk_of(&r, &w.s.heap, user(9)) < 0); /* free */
	done(&w, &r);
}

/* Registers and stacks: a thread's rsp decides which part of its stack is
 * a root. */
UNIT_TEST(reach_stack_from_sp_up)
{
	struct world w;
	struct reach r;
	unsigned char stack[0x1000];
	struct scan_thread th = { .tid = 7, .have_regs = true };
	uint64_t st = 0x40000, v;

	world_init(&w);
	memset(stack, 0, sizeof(stack));
	v = user(0);
	memcpy(stack + 0x800, &v, 8);  /* at sp: live */
	v = user(1);
	memcpy(stack + 0x400, &v, 8);  /* far below sp: a dead frame */
	v = user(2);
	memcpy(stack + 0x7c0, &v, 8);  /* in the red zone: live unless in a syscall */
	th.regs.rsp = st + 0x800;
	th.regs.r12 = user(3);         /* only a register holds 3 */
	th.regs.orig_rax = (uint64_t)-1;
	w.s.regs = &th;
	w.s.nthreads = 1;
	CHECK(image_add_copy(&w.s.img, st, stack, sizeof(stack), MAP_PERM_R | MAP_PERM_W, "") == 0);
	run(&w, &r, false);
	CHECK_EQ_U64(r.state[0], RS_REACHABLE);
	CHECK_EQ_U64(r.state[1], RS_DIRECT);
	CHECK_EQ_U64(r.state[2], RS_REACHABLE);
	CHECK_EQ_U64(r.state[3], RS_REACHABLE);
	reach_free(&r);

	th.regs.orig_rax = 35; /* stopped in nanosleep: the red zone is dead */
	reach_run(&w.s, &(struct reach_opts){ 0 }, &r);
	CHECK_EQ_U64(r.state[2], RS_DIRECT);
	CHECK_EQ_U64(r.state[0], RS_REACHABLE);
	done(&w, &r);
}

/* The two-thread mark (no chains, many chunks) against the breadth-first
 * one (chains): a random graph of 200000 chunks must come out the same. */
UNIT_TEST(reach_parallel_mark_matches_serial)
{
	enum { N = 200000, SZ = 0x20 };
	struct scan s;
	struct reach a, b;
	unsigned char *heap = calloc(N, SZ), data[64];
	struct hs_chunk *ch = calloc(N, sizeof(*ch));
	uint64_t seed = 12345, base = 0x100000, v;
	size_t same = 0;

	memset(&s, 0, sizeof(s));
	image_init(&s.img);
	image_init(&s.ro);
	for (size_t i = 0; i < N; i++) {
		ch[i] = (struct hs_chunk){ .addr = base + i * SZ, .size = SZ, .kind = CK_INUSE };
		for (int k = 0; k < 2; k++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			if ((seed >> 60) < 15) { /* most words point somewhere, a few nowhere */
				v = base + ((seed >> 20) % N) * SZ + 16 + k;
				memcpy(heap + i * SZ + 16 + k * 8, &v, 8);
			}
		}
		if (i % 97 == 0)
			ch[i].kind = CK_FASTBIN;
	}
	for (int k = 0; k < 8; k++) {
		v = base + (uint64_t)(k * 7919 % N) * SZ + 16;
		memcpy(data + k * 8, &v, 8);
	}
	CHECK(image_add_copy(&s.img, 0x10000, data, sizeof(data), MAP_PERM_R | MAP_PERM_W, "/a") == 0);
	CHECK(image_add_copy(&s.img, base, heap, (size_t)N * SZ, MAP_PERM_R | MAP_PERM_W, "[heap]") == 0);
	s.heap.chunks = ch;
	s.heap.nchunks = N;
	reach_run(&s, &(struct reach_opts){ .chains = false }, &a);
	reach_run(&s, &(struct reach_opts){ .chains = true }, &b);
	for (size_t i = 0; i < N; i++)
		same += a.state[i] == b.state[i];
	CHECK_EQ_U64(same, N);
	CHECK(a.count[RS_REACHABLE] > N / 2 && a.count[RS_DIRECT] > 0);
	CHECK_EQ_U64(a.scanned_bytes, b.scanned_bytes);
	reach_free(&a);
	reach_free(&b);
	image_free(&s.img);
	image_free(&s.ro);
	free(heap);
	free(ch);
}

static void
count_referrer(void *arg, long chunk, uint64_t off, const struct reach_root *root)
{
	(void)chunk;
	(void)off;
	(void)root;
	++*(int *)arg;
}

/* A model with Python objects as nodes (pynodes.h): GC heads are neither
 * followed nor pointed into, a span stops the scan at the object's end, a
 * stale range inside a chunk is not scanned, and a pymalloc block counts
 * its own size. */
UNIT_TEST(reach_python_nodes)
{
	struct world w;
	struct reach r;
	uint8_t pre[NCH] = { 0 };
	uint32_t span[NCH] = { 0 };
	struct owned_range dead = { user(8) + 16, user(8) + 24 };
	int nref = 0;

	world_init(&w);
	pre[0] = pre[1] = pre[2] = pre[3] = 1;  /* GC objects: head at +0, object at +16 */
	root_to(&w, 0, user(0) + 16);           /* 0, by its object's address */
	link_to(&w, 0, 0, user(1));             /* 0's gc_next -> 1's GC head */
	link_to(&w, 0, 8, user(2) + 16 + 1);    /* 0's gc_prev (a flag set) -> into 2 */
	root_to(&w, 1, user(3) + 8);            /* a generation head -> 3's GC head */
	root_to(&w, 2, user(4));                /* 4 holds no GC object: reached */
	root_to(&w, 3, user(5) + 8);
	span[5] = 16 + 1;                       /* 5's object is 16 bytes long */
	link_to(&w, 5, 24, user(6));            /* slack past it: stale */
	link_to(&w, 5, 8, user(7));             /* inside it: a reference */
	root_to(&w, 4, user(8));
	link_to(&w, 8, 16, user(9));            /* in a stale range: not scanned */
	link_to(&w, 8, 0, user(10));
	w.chunks[15].kind = CK_MMAPPED;         /* a pymalloc block, 0x30 bytes */
	w.chunks[15].arena = CHUNK_ARENA_BLOCK;
	w.s.heap.py_pre = pre;
	w.s.heap.py_span = span;
	w.s.heap.py_dead = &dead;
	w.s.heap.npy_dead = 1;
	run(&w, &r, true);

	CHECK_EQ_U64(r.state[0], RS_REACHABLE);
	CHECK_EQ_U64(r.state[1], RS_DIRECT);
	CHECK_EQ_U64(r.state[2], RS_DIRECT);
	CHECK_EQ_U64(r.state[3], RS_DIRECT);
	CHECK_EQ_U64(r.state[4], RS_REACHABLE);
	CHECK_EQ_U64(r.state[5], RS_REACHABLE);
	CHECK_EQ_U64(r.state[6], RS_DIRECT);
	CHECK_EQ_U64(r.state[7], RS_REACHABLE);
	CHECK_EQ_U64(r.state[8], RS_REACHABLE);
	CHECK_EQ_U64(r.state[9], RS_DIRECT);
	CHECK_EQ_U64(r.state[10], RS_REACHABLE);
	CHECK_EQ_U64(r.state[15], RS_DIRECT);
	/* 15 counts 0x30 bytes, the others 0x40 */
	CHECK_EQ_U64(r.bytes[RS_DIRECT], (r.count[RS_DIRECT] - 1) * CSZ + CSZ - 16);
	/* a block has no header: an address in its first 16 bytes is not in it */
	CHECK(reach_chunk_of(&r, &w.s.heap, HEAP + 15 * CSZ + 8) < 0);
	CHECK_EQ_U64(reach_chunk_of(&r, &w.s.heap, user(15)), 15);
	/* nothing refers to 1: 0's GC head is not searched */
	reach_referrers(&w.s, &r, 1, count_referrer, &nref);
	CHECK_EQ_U64(nref, 0);
	reach_referrers(&w.s, &r, 7, count_referrer, &nref);
	CHECK_EQ_U64(nref, 1);
	CHECK_EQ_U64(heap_model_shown(&w.s.heap, 0), user(0) + 16);
	done(&w, &r);
}
