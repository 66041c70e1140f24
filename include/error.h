/*
 * error.h - one way to report problems and leave.
 *
 * Every message goes to stderr with a "heapscan: " prefix.  The *_and_die
 * variants run the registered cleanup hook first (it detaches from the
 * target), so no exit path can leave the target stopped.
 *
 * Exit codes are part of the user interface: documented once, in the same words,
 * in the README, `heapscan --help` and doc/heapscan.1 (a test compares them).
 */
#ifndef HEAPSCAN_ERROR_H
#define HEAPSCAN_ERROR_H

#include <stdarg.h>

#define ATTR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ATTR_NORETURN __attribute__((noreturn))

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAIL = 1,        /* an operation failed (I/O, out of memory, ...) */
	EXIT_USAGE = 2,       /* bad command line */
	EXIT_NOPROC = 3,      /* no such process, or it exited during the scan */
	EXIT_PERM = 4,        /* not allowed to trace or read the target */
	EXIT_UNSUPPORTED = 5, /* zombie, kernel thread, self, 32-bit, not glibc, glibc layout */
	EXIT_CHANGED = 6,     /* the target changed under us (exec, threads kept appearing) */
	EXIT_NOCHUNK = 7,     /* --why/--referrers: the address is in no malloc chunk */
	EXIT_MEMORY = 8,      /* not enough memory for the copy and the analysis (the guard) */
};

void error_msg(const char *fmt, ...) ATTR_PRINTF(1, 2);
void perror_msg(const char *fmt, ...) ATTR_PRINTF(1, 2);
void error_msg_and_die(int code, const char *fmt, ...) ATTR_PRINTF(2, 3) ATTR_NORETURN;
void perror_msg_and_die(int code, const char *fmt, ...) ATTR_PRINTF(2, 3) ATTR_NORETURN;

/* Called by the *_and_die functions before exit; at most one. */
void error_set_cleanup(void (*fn)(void));

#endif
