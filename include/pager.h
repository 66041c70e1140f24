/*
 * pager.h - an image's bytes read in windows, never more than a budget held.
 *
 * --max-memory SIZE: the target's writable memory is not copied whole.  Its
 * regions get address space in one reserved mapping, registered with
 * userfaultfd; the first read of a window (an aligned slice of the mapping)
 * faults, and a pager's thread reads that window from the source (the
 * frozen fork's /proc/PID/mem, a core file) and puts it in place; a reader
 * walking forward gets the next windows read ahead of it.  When the
 * windows in place would pass the budget, the oldest is dropped
 * (MADV_DONTNEED) and faults in again if it is read again.  The budget is
 * shared with the analyses' big tables (xmalloc.h mem_charge): windows are
 * dropped to make room for a table as it is made, down to a floor of a few
 * windows, so that windows and tables together stay within it.
 *
 * The analyses see ordinary region data: pointers into it stay valid for as
 * long as the image lives, only the bytes behind them come and go.  That is
 * exact only when the source cannot change: a fork nothing runs in, a file.
 *
 *   mapping:  | region 0 ..........| region 1 ....| region 2 ......... |
 *   windows:  |  w0  |  w1  |  w2  |  w3  |  w4  |  w5  |  w6  |  w7  |
 *   in place:    ^^^^          ^^^^^^^^^^^^^                (<= budget)
 */
#ifndef HEAPSCAN_PAGER_H
#define HEAPSCAN_PAGER_H

#include <stddef.h>
#include <stdint.h>

struct pager;

struct pager_stats {
	uint64_t budget;     /* bytes of windows held at most */
	uint64_t window;     /* bytes a window */
	uint64_t faults;     /* windows read (on a fault or ahead of one) */
	uint64_t ahead;      /* of which read ahead of a reader walking forward */
	uint64_t waits;      /* faults a reader waited on a read for */
	uint64_t workers;    /* threads reading windows */
	uint64_t can_move;   /* 1: UFFDIO_MOVE to be had (Linux 6.8) */
	uint64_t moved;      /* windows read into a dropped window's pages and
				moved in (UFFDIO_MOVE), not copied */
	uint64_t held_back;  /* read-aheads given up not to drop a window a
				reader stands in */
	uint64_t bytes_read; /* from the source */
	uint64_t peak;       /* most bytes of windows in place at once */
	uint64_t unread;     /* bytes the source refused (left zero) */
	uint64_t floor;      /* bytes of windows kept however much is charged */
	uint64_t tables;     /* most bytes charged at once (mem_charged) */
	uint64_t total;      /* most bytes of windows + charged at once */
	uint64_t dropped;    /* windows dropped to make room for a table */
	uint64_t held;       /* bytes of windows in place now */
};

/* 0 when a pager can be had here, else -1 with the cause in why. */
int pager_available(char *why, size_t whylen);

/* A pager holding at most budget bytes of windows, for up to total bytes of
 * regions, reading from fd (which it owns from here, even on failure).
 * NULL with the cause in why when userfaultfd is not to be had. */
struct pager *pager_new(uint64_t budget, uint64_t total, int fd, char *why, size_t whylen);

/* Room for a region of len bytes whose first avail bytes are at offset off
 * of the source (the rest reads as zeros).  Call before pager_start. */
unsigned char *pager_add(struct pager *pg, uint64_t len, uint64_t off, uint64_t avail);

/* Start serving faults: 0, or -1 with the cause in why. */
int pager_start(struct pager *pg, char *why, size_t whylen);

void pager_get_stats(struct pager *pg, struct pager_stats *st);

/* Stop the thread, drop the mapping, close the source. NULL is fine. */
void pager_free(struct pager *pg);

/* The smallest budget accepted (a few windows of one page). */
#define PAGER_MIN_BUDGET ((uint64_t)64 << 10)

#endif
