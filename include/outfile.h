/*
 * outfile.h - an output file written whole or not at all.
 *
 * The bytes go to a temporary file beside PATH (.NAME.XXXXXX), renamed over
 * PATH only once everything was written and synced; any failure, and a
 * SIGINT/SIGTERM/SIGHUP meanwhile, removes the temporary file, so a reader
 * never sees half a chart or half a profile.  One at a time.
 */
#ifndef HEAPSCAN_OUTFILE_H
#define HEAPSCAN_OUTFILE_H

#include <sys/types.h>

struct outfile {
	char *path, *tmp;
	int fd;
};

/* 0 with of->fd open for writing (mode & ~umask), or -1 after a message. */
int outfile_open(struct outfile *of, const char *path, mode_t mode);
/* Sync, close and rename into place (ok: everything was written), or
 * remove the temporary file.  0, or -1 after a message.  of->fd is closed
 * either way, unless the caller closed it and set it to -1. */
int outfile_close(struct outfile *of, int ok);

#endif
