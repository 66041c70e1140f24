/*
 * main.c - heapscan: what is this process's malloc heap made of?
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addrmap.h"
#include "core.h"
#include "diff.h"
#include "error.h"
#include "glibc.h"
#include "par.h"
#include "probe.h"
#include "pyobj.h"
#include "reach.h"
#include "report.h"
#include "report_retain.h"
#include "retain.h"
#include "report_py.h"
#include "scan.h"
#include "seize.h"
#include "snapshot.h"
#include "version.h"
#include "xmalloc.h"
#include "types.h"
#include "unwind.h"


struct options {
	bool json;
	bool vtables;
	bool types;             /* --types: every runtime's classes, with bytes */
	bool threads;           /* --threads */
	const char *snapshot;   /* --snapshot FILE */
	bool contents;          /* --contents */
	const char *file;       /* a snapshot to read in place of a pid */
	const char *core;       /* an ELF core file to read in place of a pid */
	bool diff;              /* --diff A B [C ...] */
	bool leaks;             /* --leaks */
	bool why, referrers;    /* --why ADDR, --referrers ADDR */
	bool retained, folded;  /* --retained, --folded */
	const char *pprof;      /* --pprof FILE */
	uint64_t addr;
	bool top_set;
	bool locate_set;        /* --locate given */
	struct diff_opts dopts;
	int top;
	pid_t pid;
	struct scan_opts scan;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: heapscan [--json] [--top N] PID|CORE\n"
		"       heapscan --vtables PID\n"
		"       heapscan --types PID|FILE\n"
		"       heapscan --threads [--json] PID\n"
		"       heapscan --leaks [--json] PID|FILE\n"
		"       heapscan --why ADDR PID | --referrers ADDR PID\n"
		"       heapscan --retained [--json] [--top N] PID\n"
		"       heapscan --pprof FILE PID | --folded PID\n"
		"       heapscan --snapshot FILE [--contents] PID\n"
		"       heapscan [--json | --vtables] FILE\n"
		"       heapscan --diff [--json] [--svg FILE] [--force] A B [C ...]\n"
		"\n"
		"Stops every thread of process PID for as long as it takes to copy its\n"
		"writable memory, lets it go, and reports what its glibc malloc heap holds.\n"
		"\n"
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
		"  FILE        a snapshot in place of PID: the report as it was\n"
		"  CORE        an ELF core file (gcore, the kernel's, coredumpctl dump) in\n"
		"              place of PID: every mode but --cow works on it\n"
		"  --diff      compare snapshots: which types grew (rank by steady growth for 3+)\n"
		"  --svg FILE  with --diff: a line chart of the top growing types\n"
		"  --force     with --diff: compare snapshots of different processes\n"
		"  --cow       stop PID only while it forks; read the fork (copy-on-write)\n"
		"  --locate code|memory|auto  find malloc's state in libc's code (needs\n"
		"              libc's file), in the copied memory alone, or (auto, the\n"
		"              default, or $HEAPSCAN_LOCATE) in the code when it\n"
		"              matches, else in memory\n"
		"  --version   print the version\n"
		"  -h, --help  this text\n"
		"\n"
		"Exit status: 0 ok, 1 failure, 2 usage, 3 no such process, 4 permission\n"
		"denied, 5 unsupported target, 6 target changed during the scan (retry).\n");
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
static void __attribute__((noreturn))
unknown_option(int argc, char **argv)
{
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	const char *eq = strchr(arg, '=');

	if (strncmp(arg, "--", 2) || !optopt) {
		if (!strncmp(arg, "--", 2))
			error_msg_and_die(EXIT_USAGE, "unknown option '%s'; see heapscan --help", arg);
		error_msg_and_die(EXIT_USAGE, "unknown option '-%c'; see heapscan --help", optopt);
	}
	if (eq)
		error_msg_and_die(EXIT_USAGE, "option '%.*s' takes no value; see heapscan --help",
				  (int)(eq - arg), arg);
	error_msg_and_die(EXIT_USAGE, "option '%s' needs a value; see heapscan --help", arg);
}

/* "-1" would reach getopt as option '1': it is a process id, negative. */
static void
refuse_negative_pid(int argc, char **argv)
{
	pid_t pid;

	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (argv[i][0] == '-' && parse_pid(argv[i] + 1, &pid) == 0)
			error_msg_and_die(EXIT_USAGE, "'%s' is not a process id: process ids are "
					  "positive", argv[i]);
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
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *delay = getenv("HEAPSCAN_TEST_STOP_DELAY_MS");
	int c;

	memset(o, 0, sizeof(*o));
	o->top = 10;
	o->scan.max_attempts = 5;
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
		error_msg_and_die(EXIT_USAGE, "HEAPSCAN_LOCATE takes code, memory or auto, not '%s'",
				  delay);
	if (getenv("HEAPSCAN_TEST_LOCATE_BLIND")) /* the memory way infers the version */
		o->scan.test_locate_blind = true;
	if (getenv("HEAPSCAN_TEST_CODE_WRONG"))
		o->scan.test_code_wrong = true;
	if (getenv("HEAPSCAN_TEST_LOCATE_MS"))
		o->scan.test_locate_ms = true;
	if (getenv("HEAPSCAN_TEST_SPLIT")) { /* two threads however small the heap */
		glibc_walk_split_for_tests = true;
		par_min_for_tests = 2;
	}
	refuse_negative_pid(argc, argv);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'C':
			o->scan.cow = true;
			break;
		case 'l':
			if (parse_locate(optarg, &o->scan.locate))
				error_msg_and_die(EXIT_USAGE, "--locate takes code, memory or auto, "
						  "not '%s'", optarg);
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
				error_msg_and_die(EXIT_USAGE, "--%s takes an address (0x...), not '%s'",
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
		case 't':
			if (parse_count(optarg, &o->top))
				error_msg_and_die(EXIT_USAGE, "--top takes a whole number, not '%s'", optarg);
			o->top_set = true;
			break;
		case 'V':
			printf("heapscan %s\n", HEAPSCAN_VERSION);
			exit(EXIT_OK);
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		default: /* one line: not getopt's message and the whole usage */
			unknown_option(argc, argv);
		}
	}
	/* --snapshot FILE --retained: the snapshot keeps the retainers */
	if (o->leaks + o->why + o->referrers + o->vtables + o->types + !!o->snapshot +
		    (o->retained && (!o->snapshot || o->folded || o->pprof)) > 1)
		error_msg_and_die(EXIT_USAGE, "--leaks, --why, --referrers, --vtables, --types, "
				  "--snapshot and --retained are separate modes: one at a time");
	if (o->retained && (o->threads || o->diff || (o->folded && o->json)))
		error_msg_and_die(EXIT_USAGE, "--retained, --pprof and --folded go with --json (not "
				  "with --folded), --top and a process id only");
	if (o->threads && (o->vtables || o->types || o->snapshot || o->contents || o->diff ||
			   o->top_set ||
			   o->leaks || o->why || o->referrers))
		error_msg_and_die(EXIT_USAGE, "--threads goes with --json and a process id only");
	if ((o->dopts.svg || o->dopts.force) && !o->diff)
		error_msg_and_die(EXIT_USAGE, "--svg and --force go with --diff");
	if (o->diff) {
		if (o->locate_set)
			error_msg_and_die(EXIT_USAGE, "--locate goes with a process id");
		if (o->snapshot || o->vtables || o->types || o->contents || o->leaks || o->why ||
		    o->referrers)
			error_msg_and_die(EXIT_USAGE, "--diff compares snapshot files only");
		o->dopts.json = o->json;
		o->dopts.top = o->top_set ? o->top : 20;
		return;
	}
	if (optind != argc - 1) {
		error_msg(optind >= argc ? "no process id given" : "one process id, please");
		usage(stderr);
		exit(EXIT_USAGE);
	}
	if (o->contents && !o->snapshot)
		error_msg_and_die(EXIT_USAGE, "--contents goes with --snapshot");
	if (parse_pid(argv[optind], &o->pid) == 0)
		return;
	/* a core is recognised by its ELF header, as a snapshot by its magic */
	if (access(argv[optind], F_OK) == 0 && core_is_core(argv[optind])) {
		if (o->scan.cow)
			error_msg_and_die(EXIT_USAGE, "--cow needs a live process: %s is a core file",
					  argv[optind]);
		o->core = argv[optind];
		return;
	}
	/* an existing file is read as a snapshot: the reader says what is wrong with it */
	if (!o->snapshot && access(argv[optind], F_OK) == 0) {
		if (o->why || o->referrers || o->folded || o->pprof)
			error_msg_and_die(EXIT_USAGE, "--why, --referrers, --pprof and --folded need a "
					  "live process or a core: a snapshot holds no memory to follow "
					  "pointers in");
		if (o->locate_set)
			error_msg_and_die(EXIT_USAGE, "--locate goes with a process id, not a snapshot");
		o->file = argv[optind];
		return;
	}
	error_msg_and_die(EXIT_USAGE, "'%s' is not a process id%s", argv[optind],
			  o->snapshot ? "" : " or a snapshot file");
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
analyze(struct scan *s, struct addrmap *am, struct type_table *tt)
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
					   .stack_low = low, .nstack_low = nlow },
		    tt);
	free(low);
	s->analyze_ms = now_ms() - t0;
}

static void
report(const struct options *o, const struct scan *s, const struct type_table *tt)
{
	struct report_opts ro = { .top = o->top };

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
		   struct addrmap *am)
{
	struct scan view = *s; /* borrows s's image and maps; owns only its chunks */
	struct reach rv = *r;
	struct type_table tt = { 0 };
	size_t n = r->count[RS_DIRECT] + r->count[RS_INDIRECT], k = 0;

	view.heap.chunks = xmalloc((n ? n : 1) * sizeof(*view.heap.chunks));
	rv.state = xmalloc(n ? n : 1);
	for (size_t j = 0; j < r->nchunks && k < n; j++) {
		if (r->state[j] != RS_DIRECT && r->state[j] != RS_INDIRECT)
			continue;
		view.heap.chunks[k] = s->heap.chunks[j];
		rv.state[k++] = r->state[j];
	}
	view.heap.nchunks = view.heap.cap = k;
	rv.nchunks = k;
	analyze(&view, am, &tt);
	report_leaks(stdout, &view, &tt, &rv, o->json, o->top);
	type_table_free(&tt);
	free(view.heap.chunks);
	free(rv.state);
}

static int
reachability(const struct options *o, struct scan *s, struct addrmap *am, struct type_table *tt)
{
	struct reach r;
	int ret = EXIT_OK;

	if (s->foreign) {
		error_msg("%s; reachability needs glibc's heap model", s->foreign_why);
		return EXIT_UNSUPPORTED;
	}
	reach_run(s, &(struct reach_opts){ .chains = o->why }, &r);
	if (o->leaks) {
		report_leaked_only(o, s, &r, am);
	} else {
		/* stack roots are named by their frame */
		struct unwind_set u;
		bool have_u = unwind_all(s, &u) == 0;

		analyze(s, am, tt);
		if (o->why)
			ret = report_why(stdout, s, tt, &r, have_u ? &u : NULL, o->addr);
		else
			ret = report_referrers(stdout, s, tt, &r, have_u ? &u : NULL, o->addr);
		if (have_u)
			unwind_free(&u);
	}
	reach_free(&r);
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
	bool have_u;
	int ret;

	if (s->foreign) {
		error_msg("%s; retained sizes need glibc's heap model", s->foreign_why);
		return EXIT_UNSUPPORTED;
	}
	have_u = unwind_all(s, &u) == 0; /* stack roots are grouped by frame */
	reach_run(s, &(struct reach_opts){ .graph = &g }, &r);
	reach_free(&r);
	retain_run(s, &g, have_u ? &u : NULL, &rt);
	analyze(s, am, tt);
	ret = report_retained(stdout, s, tt, have_u ? &u : NULL, &rt, &ro);
	if (ret == EXIT_OK && o->pprof && strcmp(o->pprof, "-"))
		error_msg("profile of process %d written to %s (%zu roots)", (int)s->pid, o->pprof,
			  rt.nroots);
	retain_free(&rt);
	if (have_u)
		unwind_free(&u);
	return ret;
}

/* --threads: unwound after the target was let go, so the stop is as short as ever. */
static int
backtraces(const struct options *o, const struct scan *s)
{
	struct unwind_set u;

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

int
main(int argc, char **argv)
{
	struct options o;
	struct scan s;
	struct addrmap am = { 0 };
	struct type_table tt = { 0 };
	int ret;

	parse_options(argc, argv, &o);
	seize_install_signal_handlers(); /* also removes half-written output files */
	if (o.diff)
		return diff_run(argv + optind, argc - optind, &o.dopts);
	if (o.file && o.threads)
		error_msg_and_die(EXIT_USAGE, "--threads needs a live process, not a snapshot file");
	if (o.file)
		return from_file(&o);
	error_set_cleanup(seize_release_current);
	ret = o.core ? scan_core(o.core, &o.scan, &s) : scan_live(o.pid, &o.scan, &s);
	if (ret == EXIT_OK && o.threads) {
		ret = backtraces(&o, &s);
	} else if (ret == EXIT_OK && o.retained && !o.snapshot) {
		ret = retained(&o, &s, &am, &tt);
	} else if (ret == EXIT_OK && (o.leaks || o.why || o.referrers)) {
		ret = reachability(&o, &s, &am, &tt);
	} else if (ret == EXIT_OK) {
		double t0 = now_ms();

		analyze(&s, &am, &tt);
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
	type_table_free(&tt);
	addrmap_free(&am);
	scan_free(&s);
	return ret;
}
