/*
 * main.c - heapscan: what is this process's malloc heap made of?
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "addrmap.h"
#include "core.h"
#include "diff.h"
#include "error.h"
#include "glibc.h"
#include "pager.h"
#include "par.h"
#include "probe.h"
#include "progress.h"
#include "pyobj.h"
#include "pynodes.h"
#include "reach.h"
#include "report.h"
#include "report_py.h"
#include "report_retain.h"
#include "retain.h"
#include "scan.h"
#include "seize.h"
#include "snapshot.h"
#include "version.h"
#include "xmalloc.h"
#include "types.h"
#include "unwind.h"


/* What the positional argument (or -p) names.  One place decides, so a new
 * kind of input (a core file) is one more case here and one in main. */
enum target_kind {
	TARGET_NONE,
	TARGET_PID,      /* a live process: PID, -p PID, --pid PID */
	TARGET_SNAPSHOT, /* a snapshot file written by --snapshot */
	TARGET_STDIN,    /* "-": a snapshot read from standard input */
	TARGET_CORE,     /* an ELF core file (gcore, the kernel's, coredumpctl dump) */
};

struct options {
	bool json;
	bool vtables;
	bool types;             /* --types: every runtime's classes, with bytes */
	bool threads;           /* --threads */
	const char *snapshot;   /* --snapshot FILE */
	bool contents;          /* --contents */
	enum target_kind kind;
	const char *file;       /* TARGET_SNAPSHOT, TARGET_CORE: its path; TARGET_STDIN: "-" */
	const char *pid_opt;    /* -p/--pid's argument */
	bool diff;              /* --diff A B [C ...] */
	bool leaks;             /* --leaks */
	bool why, referrers;    /* --why ADDR, --referrers ADDR */
	bool retained, folded;  /* --retained, --folded */
	const char *pprof;      /* --pprof FILE */
	bool locate_set;        /* --locate given */
	bool quiet;             /* --quiet: no progress line */
	int jobs;               /* --jobs N; 0: as many as the CPUs we may use */
	uint64_t addr;
	bool top_set;
	struct diff_opts dopts;
	int top;
	pid_t pid;
	struct scan_opts scan;
};

/* The exit codes, in the words the README and doc/heapscan.1 use too
 * (test/cases/cli_docs.sh holds the three to one another). */
#define EXIT_CODES_HELP \
	"Exit status:\n" \
	"  0  the report was written (heap problems, if any, are in it)\n" \
	"  1  an operation failed (reading memory or a file, a damaged snapshot)\n" \
	"  2  usage: an unknown option, a missing or malformed argument, options\n" \
	"     that do not go together\n" \
	"  3  no such process, or it exited during the scan\n" \
	"  4  not allowed to trace the process (the message says why)\n" \
	"  5  not a target heapscan reads (zombie, kernel thread, 32-bit, no glibc\n" \
	"     malloc, an unsupported glibc)\n" \
	"  6  the target changed during the scan (exec, thread churn): retry\n" \
	"  7  --why/--referrers: the address is in no malloc chunk\n" \
	"  8  not enough memory for the copy and the analysis (see --no-memory-check)\n"

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: heapscan [OPTIONS] PID | -p PID | CORE | FILE | -\n"
		"       heapscan --diff [--json] [--svg FILE] [--force] A B [C ...]\n"
		"\n"
		"Stops every thread of process PID for as long as it takes to copy its\n"
		"writable memory, lets it go, and reports what its glibc malloc heap holds.\n"
		"CORE is an ELF core file (gcore, the kernel's, coredumpctl dump) read in\n"
		"place of a process: every mode but --cow works on it.  FILE is a snapshot\n"
		"(--snapshot) read in place of a process; - reads one from standard input.\n"
		"\n"
		"  -p, --pid PID  the process to scan (the same as PID alone)\n"
		"  --json      one JSON object instead of the text report\n"
		"  --top N     rows in the text report's tables (default 10)\n"
		"  --vtables   C++ instances per class: \"COUNT<TAB>CLASS\" lines only\n"
		"  --types     C++ classes and Python types: \"COUNT<TAB>BYTES<TAB>TYPE\"\n"
		"  --threads   each thread's backtrace (unwound from the copy)\n"
		"  --leaks     chunks nothing reachable points to, by type: leaked directly\n"
		"              (no pointer at all) and indirectly (only from leaked chunks)\n"
		"  --why ADDR  the shortest chain of pointers from a root (register, stack,\n"
		"              global) to the chunk holding ADDR\n"
		"  --referrers ADDR  every root and chunk that points into that chunk\n"
		"  --retained  who holds the memory: the roots (and chunks several roots\n"
		"              share) that retain the most, and retained bytes per type\n"
		"  --pprof FILE  the retention paths as a gzipped pprof profile\n"
		"  --folded    the retention paths as folded stacks (flame graphs)\n"
		"  --snapshot FILE  save the scan to FILE (mode 0600; - for stdout)\n"
		"  --contents  with --snapshot: also the bytes of every in-use chunk\n"
		"  --diff      compare snapshots: which types grew (rank by steady growth for 3+)\n"
		"  --svg FILE  with --diff: a chart of the top growing types over time\n"
		"  --force     with --diff: compare snapshots of different processes\n"
		"  --cow       stop PID only while it forks; read the fork (copy-on-write)\n"
		"  --locate code|memory|auto  find malloc's state in libc's code (needs\n"
		"              libc's file), in the copied memory alone, or (auto, the\n"
		"              default, or $HEAPSCAN_LOCATE) in the code when it\n"
		"              matches, else in memory\n"
		"  --no-memory-check  scan even when the copy and the analysis look larger\n"
		"              than the memory available (MemAvailable, the cgroup's limit)\n"
		"  --jobs N    threads for the walk and the analysis (default: the CPUs\n"
		"              heapscan may use: affinity and cgroup CPU quota); the\n"
		"              results are the same whatever N\n"
		"  --max-memory SIZE  hold at most SIZE (64K, 512M, 2G) of the target's memory and\n"
		"              the tables over it (all but the chunk list, 16 bytes a chunk):\n"
		"              read it in windows, from a fork (as --cow) or a core file\n"
		"  -q, --quiet no progress line on stderr (shown only on a terminal, after 1 s)\n"
		"  -V, --version  print the version\n"
		"  -h, --help  this text\n"
		"\n"
		EXIT_CODES_HELP
		"\n"
		"See heapscan(1).\n");
}

/* A usage error: one line, the cause and where to look, exit 2. */
static void ATTR_PRINTF(1, 2) ATTR_NORETURN
usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	error_msg_and_die(EXIT_USAGE, "%s; try 'heapscan --help'", msg);
}

static int
parse_addr(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (*end || errno)
		return -1;
	*out = v;
	return 0;
}

static int
parse_count(const char *s, int *out)
{
	char *end;
	long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	if (*end || v < 0 || v > 1000000)
		return -1;
	*out = (int)v;
	return 0;
}

/* A size: digits and an optional k, M, G or T (powers of 1024). */
static int
parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "kmgt";
	unsigned long long v;
	const char *u;
	char *end;
	int shift = 0;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (*end) {
		if (end[1] || !(u = strchr(units, end[0] | 0x20)))
			return -1;
		shift = 10 * (int)(u - units + 1);
	}
	if (v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int
parse_locate(const char *s, enum locate_mode *out)
{
	if (!strcmp(s, "auto"))
		*out = LOCATE_AUTO;
	else if (!strcmp(s, "code"))
		*out = LOCATE_CODE;
	else if (!strcmp(s, "memory"))
		*out = LOCATE_MEMORY;
	else
		return -1;
	return 0;
}

/* getopt said '?': one line that names what was wrong. */
/* "-1" would reach getopt as option '1': it is a process id, negative. */
static void
refuse_negative_pid(int argc, char **argv)
{
	pid_t pid;

	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (argv[i][0] == '-' && parse_pid(argv[i] + 1, &pid) == 0)
			usage_error("'%s' is not a process id: process ids are positive", argv[i]);
}

static void
read_test_hooks(struct options *o)
{
	const char *delay = getenv("HEAPSCAN_TEST_STOP_DELAY_MS");
	int c;

	if (delay && parse_count(delay, &c) == 0)
		o->scan.test_stop_delay_ms = c;
	delay = getenv("HEAPSCAN_TEST_COW_DELAY_MS");
	if (delay && parse_count(delay, &c) == 0)
		o->scan.test_cow_delay_ms = c;
	delay = getenv("HEAPSCAN_TEST_COW_BORROW_MS");
	if (delay && parse_count(delay, &c) == 0)
		o->scan.test_cow_borrow_ms = c;
	/* --locate's default, so a whole test suite can run either way */
	delay = getenv("HEAPSCAN_LOCATE");
	if (delay && parse_locate(delay, &o->scan.locate))
		usage_error("HEAPSCAN_LOCATE takes code, memory or auto, not '%s'", delay);
	if (getenv("HEAPSCAN_TEST_LOCATE_BLIND")) /* the memory way infers the version */
		o->scan.test_locate_blind = true;
	if (getenv("HEAPSCAN_TEST_CODE_WRONG"))
		o->scan.test_code_wrong = true;
	if (getenv("HEAPSCAN_TEST_LOCATE_MS"))
		o->scan.test_locate_ms = true;
	if (getenv("HEAPSCAN_TEST_SPLIT")) { /* --jobs parts however small the heap */
		glibc_walk_split_for_tests = true;
		par_min_for_tests = 2;
	}
	if (getenv("HEAPSCAN_TEST_WALK_STATS"))
		glibc_walk_stats_for_tests = true;
}

/* The option getopt did not take, as the user typed it. */
static const char *
bad_option(int argc, char **argv)
{
	static char one[3] = "-?", name[64];
	const char *a = optind - 1 < argc ? argv[optind - 1] : "";

	if (!strncmp(a, "--", 2)) { /* a long option: as typed, less any "=VALUE" */
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(a, "="), a);
		return name;
	}
	one[1] = optopt > ' ' && optopt < 127 ? (char)optopt : '?';
	return one;
}

/* Which kind of input ARG names.  A pid is digits; "-" is standard input;
 * a file with an ELF core header is a core, as a snapshot is known by its
 * magic; any other existing path is a snapshot (the reader says what is
 * wrong with it). */
static enum target_kind
classify_target(const char *arg, pid_t *pid)
{
	if (parse_pid(arg, pid) == 0)
		return TARGET_PID;
	if (!strcmp(arg, "-"))
		return TARGET_STDIN;
	if (access(arg, F_OK) == 0)
		return core_is_core(arg) ? TARGET_CORE : TARGET_SNAPSHOT;
	return TARGET_NONE;
}

/* Options that mean nothing for the input given are refused, with why. */
static void
check_applies(const struct options *o)
{
	bool file = o->kind == TARGET_SNAPSHOT || o->kind == TARGET_STDIN;

	if (o->threads && (o->vtables || o->types || o->snapshot || o->contents || o->top_set ||
			   o->leaks || o->why || o->referrers))
		usage_error("--threads goes with --json and a process id or core only");
	if (o->contents && !o->snapshot)
		usage_error("--contents goes with --snapshot");
	if (o->kind == TARGET_CORE && o->scan.cow)
		usage_error("--cow needs a live process: %s is a core file", o->file);
	if (!file)
		return;
	if (o->folded || o->pprof)
		usage_error("--pprof and --folded need a live process or a core: a snapshot holds "
			    "no memory to follow pointers in");
	if (o->locate_set)
		usage_error("--locate goes with a process id or a core, not a snapshot");
	if (o->threads)
		usage_error("--threads needs a live process, not a snapshot file");
	if (o->why || o->referrers)
		usage_error("--why and --referrers need a live process: a snapshot holds no "
			    "memory to follow pointers in");
	if (o->scan.cow)
		usage_error("--cow changes how a live process is stopped; a snapshot file is read "
			    "as it was saved");
	if (o->scan.max_memory)
		usage_error("--max-memory reads a process or a core in windows; a snapshot file "
			    "holds no memory to read");
	if (o->snapshot)
		usage_error("--snapshot saves a live process; to copy a snapshot, copy the file");
}

static void
parse_target(int argc, char **argv, struct options *o)
{
	const char *arg;

	if (o->pid_opt) {
		if (optind < argc)
			usage_error("-p %s and '%s': one target, please", o->pid_opt, argv[optind]);
		if (parse_pid(o->pid_opt, &o->pid))
			usage_error("-p takes a process id, not '%s'", o->pid_opt);
		o->kind = TARGET_PID;
		return;
	}
	if (optind >= argc)
		usage_error("no process id given");
	if (optind != argc - 1)
		usage_error("one process id or snapshot file, please (got %d arguments)",
			    argc - optind);
	arg = argv[optind];
	o->kind = classify_target(arg, &o->pid);
	if (o->kind == TARGET_NONE)
		usage_error("'%s' is not a process id%s", arg,
			    o->snapshot ? "" : " or a snapshot file");
	if (o->snapshot && o->kind != TARGET_PID && o->kind != TARGET_CORE)
		usage_error("--snapshot saves a live process or a core: '%s' is neither", arg);
	if (o->kind != TARGET_PID)
		o->file = arg;
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "top", required_argument, NULL, 't' },
		{ "vtables", no_argument, NULL, 'v' },
		{ "types", no_argument, NULL, 'y' },
		{ "threads", no_argument, NULL, 'T' },
		{ "leaks", no_argument, NULL, 'L' },
		{ "why", required_argument, NULL, 'W' },
		{ "referrers", required_argument, NULL, 'R' },
		{ "retained", no_argument, NULL, 'K' },
		{ "folded", no_argument, NULL, 'F' },
		{ "pprof", required_argument, NULL, 'P' },
		{ "snapshot", required_argument, NULL, 's' },
		{ "contents", no_argument, NULL, 'c' },
		{ "diff", no_argument, NULL, 'd' },
		{ "svg", required_argument, NULL, 'g' },
		{ "force", no_argument, NULL, 'f' },
		{ "cow", no_argument, NULL, 'C' },
		{ "locate", required_argument, NULL, 'l' },
		{ "pid", required_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "jobs", required_argument, NULL, 'J' },
		{ "no-memory-check", no_argument, NULL, 'M' },
		{ "max-memory", required_argument, NULL, 'm' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->top = 10;
	o->scan.max_attempts = 5;
	read_test_hooks(o);
	refuse_negative_pid(argc, argv);
	opterr = 0; /* our own one-line messages */
	while ((c = getopt_long(argc, argv, ":hVqp:", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'C':
			o->scan.cow = true;
			break;
		case 'l':
			if (parse_locate(optarg, &o->scan.locate))
				usage_error("--locate takes code, memory or auto, not '%s'", optarg);
			o->locate_set = true;
			break;
		case 'v':
			o->vtables = true;
			o->scan.allow_foreign = true;
			break;
		case 'y':
			o->types = true;
			o->scan.allow_foreign = true;
			break;
		case 'T':
			o->threads = true;
			o->scan.allow_foreign = true; /* backtraces need no malloc model */
			break;
		case 'L':
			o->leaks = true;
			break;
		case 'W':
		case 'R':
			if (parse_addr(optarg, &o->addr))
				usage_error("--%s takes an address (0x...), not '%s'",
					    c == 'W' ? "why" : "referrers", optarg);
			*(c == 'W' ? &o->why : &o->referrers) = true;
			break;
		case 'K':
			o->retained = true;
			break;
		case 'F':
			o->folded = o->retained = true;
			break;
		case 'P':
			o->pprof = optarg;
			o->retained = true;
			break;
		case 's':
			o->snapshot = optarg;
			break;
		case 'c':
			o->contents = true;
			break;
		case 'd':
			o->diff = true;
			break;
		case 'g':
			o->dopts.svg = optarg;
			break;
		case 'f':
			o->dopts.force = true;
			break;
		case 'p':
			if (o->pid_opt)
				usage_error("-p given twice");
			o->pid_opt = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'J':
			if (parse_count(optarg, &o->jobs) || o->jobs < 1 || o->jobs > PAR_MAX_JOBS)
				usage_error("--jobs takes a whole number from 1 to %d, not '%s'",
					    PAR_MAX_JOBS, optarg);
			break;
		case 'M':
			o->scan.no_memory_check = true;
			break;
		case 'm':
			if (parse_size(optarg, &o->scan.max_memory))
				usage_error("--max-memory takes a size (4096, 64K, 512M, 2G), not '%s'",
					    optarg);
			if (o->scan.max_memory < PAGER_MIN_BUDGET)
				usage_error("--max-memory takes at least 64K, not '%s'", optarg);
			break;
		case 't':
			if (parse_count(optarg, &o->top))
				usage_error("--top takes a whole number, not '%s'", optarg);
			o->top_set = true;
			break;
		case 'V':
			printf("heapscan %s\n", HEAPSCAN_VERSION);
			exit(EXIT_OK);
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case ':':
			usage_error("%s needs an argument", bad_option(argc, argv));
		default: /* getopt knows a long option's name when only its "=VALUE" is wrong */
			if (optopt && !strncmp(argv[optind - 1], "--", 2) && strchr(argv[optind - 1], '='))
				usage_error("%s takes no value", bad_option(argc, argv));
			usage_error("unknown option '%s'", bad_option(argc, argv));
		}
	}
	/* --snapshot FILE --retained: the snapshot keeps the retainers */
	if (o->leaks + o->why + o->referrers + o->vtables + o->types + !!o->snapshot +
		    (o->retained && (!o->snapshot || o->folded || o->pprof)) > 1)
		usage_error("--leaks, --why, --referrers, --vtables, --types, --snapshot and "
			    "--retained are separate modes: one at a time");
	if (o->retained && (o->threads || o->diff || (o->folded && o->json)))
		usage_error("--retained, --pprof and --folded go with --json (not with --folded), "
			    "--top and a process id, core or snapshot only");
	if ((o->dopts.svg || o->dopts.force) && !o->diff)
		usage_error("--svg and --force go with --diff");
	if (o->diff) {
		if (o->snapshot || o->vtables || o->types || o->contents || o->leaks || o->why ||
		    o->referrers || o->threads || o->pid_opt)
			usage_error("--diff compares snapshot files only");
		if (o->locate_set)
			usage_error("--locate goes with a process id or a core");
		if (o->scan.cow)
			usage_error("--cow changes how a live process is stopped; --diff reads "
				    "snapshot files");
		if (o->scan.max_memory)
			usage_error("--max-memory reads a process or a core in windows; --diff reads "
				    "snapshot files");
		o->dopts.json = o->json;
		o->dopts.top = o->top_set ? o->top : 20;
		return;
	}
	if (o->threads && o->scan.cow)
		usage_error("--cow does nothing for --threads: backtraces need only registers and "
			    "stacks, which the plain stop copies");
	parse_target(argc, argv, o);
	check_applies(o);
}

static void
analyze(struct scan *s, struct addrmap *am, struct type_table *tt, bool classes_only)
{
	double t0 = now_ms();

	uint64_t *low = xmalloc((s->nthreads ? s->nthreads : 1) * sizeof(*low));
	size_t nlow = 0;

	addrmap_build(am, &s->maps);
	for (size_t i = 0; s->regs && i < s->nthreads; i++)
		if (s->regs[i].have_regs)
			low[nlow++] = s->regs[i].regs.rsp - STACK_RED_ZONE;
	types_build(&(struct types_input){ .img = &s->img, .ro = &s->ro, .am = am, .maps = &s->maps,
					   .heap = s->foreign ? NULL : &s->heap, .pid = s->pid,
					   .stack_low = low, .nstack_low = nlow,
					   .classes_only = classes_only },
		    tt);
	free(low);
	s->analyze_ms = now_ms() - t0;
}

/* A CPython target: s with its objects as nodes of the pointer graph
 * (pynodes.h).  false when s is not CPython (or of a version not read: one
 * line says so). */
static bool
python_view(const struct scan *s, struct pyview *pv)
{
	char why[512];
	int ret = pyview_build(s, pv, why, sizeof(why));

	if (ret == -2)
		error_msg("%s; Python objects are not followed", why);
	return ret == 0;
}

/* analyze, for a model with Python nodes (cls per chunk, or NULL for none):
 * the objects by their Python class, the other chunks as C chunks. */
static void
analyze_nodes(struct scan *s, const uint32_t *cls, const struct py_summary *py,
	      struct addrmap *am, struct type_table *tt)
{
	struct scan sub = *s;
	struct type_table t0 = { 0 };
	size_t k = 0;

	if (!cls) {
		analyze(s, am, tt, false);
		return;
	}
	sub.heap.chunks = xmalloc((s->heap.nchunks ? s->heap.nchunks : 1) * sizeof(*sub.heap.chunks));
	sub.heap.chunks_big = false;
	sub.heap.whole = s->heap.whole ? s->heap.whole : &s->heap;
	sub.heap.py_pre = NULL;
	sub.heap.py_span = NULL;
	sub.heap.py_dead = NULL;
	sub.heap.npy_dead = 0;
	for (size_t j = 0; j < s->heap.nchunks; j++)
		if (cls[j] == PY_NODE_NONE)
			sub.heap.chunks[k++] = s->heap.chunks[j];
	sub.heap.nchunks = sub.heap.cap = k;
	analyze(&sub, am, &t0, false);
	pynodes_types(&s->heap, cls, py, &t0, tt);
	free(sub.heap.chunks);
	s->analyze_ms = sub.analyze_ms;
}

static void
report(const struct options *o, const struct scan *s, const struct type_table *tt)
{
	struct report_opts ro = { .top = o->top };

	progress_phase(NULL, 0);
	if (o->vtables) {
		if (s->foreign)
			error_msg("%s; counting C++ objects in all anonymous memory instead: free "
				  "memory could not be excluded", s->foreign_why);
		report_vtables(stdout, tt);
	} else if (o->types) {
		report_types_all(stdout, tt);
	} else if (o->json) {
		report_json(stdout, s, tt);
	} else {
		report_text(stdout, s, tt, &ro);
	}
	if (!o->vtables && s->heap.nproblems)
		error_msg("%zu heap problem(s) found in process %d; see the report",
			  s->heap.nproblems + s->heap.problems_dropped, (int)s->pid);
}

/* --leaks types only the leaked chunks: on a mostly reachable heap that is
 * a small part of the work of typing every chunk, and the content and shape
 * clusters form among the leaked chunks, which is what groups them best. */
static void
report_leaked_only(const struct options *o, const struct scan *s, const struct reach *r,
		   struct addrmap *am, const struct pyview *pv)
{
	struct scan view = *s; /* borrows s's image and maps; owns only its chunks */
	struct reach rv = *r;
	struct type_table tt = { 0 };
	size_t n = r->count[RS_DIRECT] + r->count[RS_INDIRECT], k = 0;
	uint32_t *cls = pv ? xmalloc((n ? n : 1) * sizeof(*cls)) : NULL;

	view.heap.chunks = xmalloc((n ? n : 1) * sizeof(*view.heap.chunks));
	view.heap.chunks_big = false;
	view.heap.whole = s->heap.whole ? s->heap.whole : &s->heap;
	view.heap.py_pre = s->heap.py_pre ? xmalloc(n ? n : 1) : NULL;
	view.heap.py_span = s->heap.py_span ? xmalloc((n ? n : 1) * sizeof(uint32_t)) : NULL;
	rv.state = xmalloc(n ? n : 1);
	for (size_t j = 0; j < r->nchunks && k < n; j++) {
		if (r->state[j] != RS_DIRECT && r->state[j] != RS_INDIRECT)
			continue;
		view.heap.chunks[k] = s->heap.chunks[j];
		if (cls)
			cls[k] = pv->cls[j];
		if (view.heap.py_pre)
			view.heap.py_pre[k] = s->heap.py_pre[j];
		if (view.heap.py_span)
			view.heap.py_span[k] = s->heap.py_span[j];
		rv.state[k++] = r->state[j];
	}
	view.heap.nchunks = view.heap.cap = k;
	rv.nchunks = k;
	analyze_nodes(&view, cls, pv ? &pv->py : NULL, am, &tt);
	progress_phase(NULL, 0);
	report_leaks(stdout, &view, &tt, &rv, o->json, o->top);
	type_table_free(&tt);
	free(view.heap.chunks);
	free(view.heap.py_pre);
	free(view.heap.py_span);
	free(cls);
	free(rv.state);
}

static int
reachability(const struct options *o, struct scan *s, struct addrmap *am, struct type_table *tt)
{
	struct reach r;
	struct pyview pv;
	bool py;
	int ret = EXIT_OK;

	if (s->foreign) {
		error_msg("%s; reachability needs glibc's heap model", s->foreign_why);
		return EXIT_UNSUPPORTED;
	}
	py = python_view(s, &pv);
	if (py)
		s = &pv.scan;
	reach_run(s, &(struct reach_opts){ .chains = o->why }, &r);
	if (o->leaks) {
		report_leaked_only(o, s, &r, am, py ? &pv : NULL);
	} else {
		/* stack roots are named by their frame */
		struct unwind_set u;
		bool have_u = unwind_all(s, &u) == 0;

		analyze_nodes(s, py ? pv.cls : NULL, py ? &pv.py : NULL, am, tt);
		progress_phase(NULL, 0);
		if (o->why)
			ret = report_why(stdout, s, tt, &r, have_u ? &u : NULL, o->addr);
		else
			ret = report_referrers(stdout, s, tt, &r, have_u ? &u : NULL, o->addr);
		if (have_u)
			unwind_free(&u);
	}
	reach_free(&r);
	if (py)
		pyview_free(&pv);
	return ret;
}

/* --retained, --pprof, --folded: the dominator tree over the whole heap, typed. */
static int
retained(const struct options *o, struct scan *s, struct addrmap *am, struct type_table *tt)
{
	struct retain_report_opts ro = { .json = o->json, .top = o->top, .folded = o->folded,
					 .pprof = o->pprof };
	struct unwind_set u;
	struct reach r;
	struct reach_graph g;
	struct retain rt;
	struct pyview pv;
	bool have_u, py;
	int ret;

	if (s->foreign) {
		error_msg("%s; retained sizes need glibc's heap model", s->foreign_why);
		return EXIT_UNSUPPORTED;
	}
	py = python_view(s, &pv);
	if (py)
		s = &pv.scan;
	have_u = unwind_all(s, &u) == 0; /* stack roots are grouped by frame */
	reach_run(s, &(struct reach_opts){ .graph = &g }, &r);
	reach_free(&r);
	retain_run(s, &g, have_u ? &u : NULL, &rt);
	analyze_nodes(s, py ? pv.cls : NULL, py ? &pv.py : NULL, am, tt);
	progress_phase(NULL, 0);
	ret = report_retained(stdout, s, tt, have_u ? &u : NULL, &rt, &ro);
	if (ret == EXIT_OK && o->pprof && strcmp(o->pprof, "-"))
		error_msg("profile of process %d written to %s (%zu roots)", (int)s->pid, o->pprof,
			  rt.nroots);
	retain_free(&rt);
	if (have_u)
		unwind_free(&u);
	if (py)
		pyview_free(&pv);
	return ret;
}

/* --threads: unwound after the target was let go, so the stop is as short as ever. */
static int
backtraces(const struct options *o, const struct scan *s)
{
	struct unwind_set u;

	progress_phase(NULL, 0);
	if (unwind_all(s, &u) < 0)
		return EXIT_FAIL;
	if (o->json)
		unwind_print_json(stdout, s, &u);
	else
		unwind_print_text(stdout, s, &u);
	unwind_free(&u);
	if (fflush(stdout) != 0 || ferror(stdout))
		perror_msg_and_die(EXIT_FAIL, "writing the backtraces");
	return EXIT_OK;
}

static int
save(const struct options *o, const struct scan *s, const struct type_table *tt)
{
	struct snap_write_opts wo = { .contents = o->contents };
	struct reach r;
	struct reach_graph g;
	struct retain_summary sum;
	int ret;

	if (!s->foreign) { /* so --diff can show leaks growing */
		reach_run(s, &(struct reach_opts){ .graph = o->retained ? &g : NULL }, &r);
		wo.reach = &r;
	}
	if (o->retained && !s->foreign) { /* --retained: and which retainers grew */
		struct unwind_set u;
		bool have_u = unwind_all(s, &u) == 0;
		struct retain rt;

		retain_run(s, &g, have_u ? &u : NULL, &rt);
		retain_summarize(s, tt, have_u ? &u : NULL, &rt, SNAP_RETAIN_MAX, &sum);
		wo.retain = &sum;
		retain_free(&rt);
		if (have_u)
			unwind_free(&u);
	}
	progress_phase(NULL, 0);
	ret = snap_write(o->snapshot, s, tt, &wo);
	if (wo.reach)
		reach_free(&r);
	if (wo.retain)
		retain_summary_free(&sum);
	if (ret < 0)
		return EXIT_FAIL;
	if (strcmp(o->snapshot, "-"))
		error_msg("snapshot of process %d written to %s (%zu chunks)", (int)s->pid,
			  o->snapshot, s->heap.nchunks);
	return EXIT_OK;
}

static int
from_file(const struct options *o)
{
	struct scan s;
	struct type_table tt;
	struct snap_meta m;
	char err[512];

	if (snap_read(o->file, &s, &tt, &m, err, sizeof(err)) < 0)
		error_msg_and_die(EXIT_FAIL, "%s", err);
	if (o->leaks) {
		struct reach r;

		if (!m.has_reach)
			error_msg_and_die(EXIT_FAIL, "%s holds no reachability (taken of a target "
					  "without glibc's heap, or by an older heapscan)", o->file);
		reach_adopt(&r, &s.heap, m.reach_state);
		m.reach_state = NULL;
		r.root_bytes = m.root_bytes;
		r.scanned_bytes = m.scanned_bytes;
		report_leaks(stdout, &s, &tt, &r, o->json, o->top);
		reach_free(&r);
	} else if (o->retained) {
		if (!m.has_retain)
			error_msg_and_die(EXIT_FAIL, "%s holds no retainers (taken without --retained, "
					  "or by an older heapscan)", o->file);
		report_retained_summary(stdout, &s, &tt, &m.retain, o->json, o->top);
	} else {
		report(o, &s, &tt);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		perror_msg_and_die(EXIT_FAIL, "writing the report");
	scan_free(&s);
	type_table_free(&tt);
	snap_meta_free(&m);
	return EXIT_OK;
}

/* Test hook HEAPSCAN_TEST_PAGER_STATS: how the windows went, on stderr, so a
 * test can tell that a bounded scan did read in many windows, within its
 * budget, and that windows and the tables charged beside them (the most
 * at once: total) stayed within it too. */
static void
pager_report(const struct scan *s)
{
	struct pager_stats st;

	if (!s->img.pager || !getenv("HEAPSCAN_TEST_PAGER_STATS"))
		return;
	pager_get_stats(s->img.pager, &st);
	error_msg("pager: budget %llu window %llu faults %llu read %llu peak %llu unread %llu "
		  "floor %llu tables %llu total %llu dropped %llu chunks %zu ahead %llu waits %llu workers %llu can_move %llu moved %llu",
		  (unsigned long long)st.budget, (unsigned long long)st.window,
		  (unsigned long long)st.faults, (unsigned long long)st.bytes_read,
		  (unsigned long long)st.peak, (unsigned long long)st.unread,
		  (unsigned long long)st.floor, (unsigned long long)st.tables,
		  (unsigned long long)st.total, (unsigned long long)st.dropped, s->heap.nchunks,
		  (unsigned long long)st.ahead, (unsigned long long)st.waits,
		  (unsigned long long)st.workers, (unsigned long long)st.can_move,
		  (unsigned long long)st.moved);
}

int
main(int argc, char **argv)
{
	struct options o;
	struct scan s;
	struct addrmap am = { 0 };
	struct type_table tt = { 0 };
	int ret;

	parse_options(argc, argv, &o);
	if (o.jobs)
		par_set_jobs(o.jobs);
	if (getenv("HEAPSCAN_TEST_SAY_JOBS")) { /* the tests of the CPU count */
		char why[400];
		int n = par_usable_cpus(why, sizeof(why));

		error_msg("%d jobs (%d usable CPUs: %s)", par_jobs(), n, why);
	}
	progress_init(!o.quiet);
	seize_install_signal_handlers(); /* also removes half-written output files */
	if (o.diff)
		return diff_run(argv + optind, argc - optind, &o.dopts);
	switch (o.kind) {
	case TARGET_SNAPSHOT:
	case TARGET_STDIN:
		return from_file(&o);
	case TARGET_PID:
	case TARGET_CORE:
		break;
	case TARGET_NONE: /* parse_options refused it */
		return EXIT_USAGE;
	}
	error_set_cleanup(seize_release_current);
	ret = o.kind == TARGET_CORE ? scan_core(o.file, &o.scan, &s) : scan_live(o.pid, &o.scan, &s);
	if (ret == EXIT_OK && o.threads) {
		ret = backtraces(&o, &s);
	} else if (ret == EXIT_OK && o.retained && !o.snapshot) {
		ret = retained(&o, &s, &am, &tt);
	} else if (ret == EXIT_OK && (o.leaks || o.why || o.referrers)) {
		ret = reachability(&o, &s, &am, &tt);
	} else if (ret == EXIT_OK) {
		double t0 = now_ms();

		/* --vtables: the classes alone (no types, clusters or holders) */
		analyze(&s, &am, &tt, o.vtables && !o.snapshot);
		if (!o.vtables) /* a CPython target's objects by type, in analyze_ms */
			pyobj_types(&s, &tt);
		s.analyze_ms = now_ms() - t0;
		if (o.snapshot)
			ret = save(&o, &s, &tt);
		else
			report(&o, &s, &tt);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		perror_msg_and_die(EXIT_FAIL, "writing the report");
	pager_report(&s);
	type_table_free(&tt);
	addrmap_free(&am);
	scan_free(&s);
	return ret;
}
