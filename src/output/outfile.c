/*
 * outfile.c - see outfile.h.
 */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "outfile.h"
#include "seize.h"
#include "xmalloc.h"

static char pending[4096]; /* the temporary file, for the signal handler */

static void
unlink_pending(void)
{
	if (pending[0])
		unlink(pending);
}

int
outfile_open(struct outfile *of, const char *path, mode_t mode)
{
	char *d = xstrdup(path), *bn = xstrdup(path);
	mode_t mask = umask(0);

	umask(mask);
	of->path = xstrdup(path);
	of->tmp = xasprintf("%s/.%s.XXXXXX", dirname(d), basename(bn));
	free(d);
	free(bn);
	of->fd = mkostemp(of->tmp, O_CLOEXEC);
	if (of->fd < 0) {
		perror_msg("cannot create a temporary file next to %s", path);
		free(of->tmp);
		free(of->path);
		return -1;
	}
	if (strlen(of->tmp) < sizeof(pending)) {
		memcpy(pending, of->tmp, strlen(of->tmp) + 1);
		seize_set_signal_cleanup(unlink_pending);
	}
	fchmod(of->fd, mode & ~mask);
	return 0;
}

int
outfile_close(struct outfile *of, int ok)
{
	int ret = ok ? 0 : -1;

	if (of->fd >= 0) {
		if (ok && fsync(of->fd) < 0) {
			perror_msg("writing %s", of->path);
			ret = -1;
		}
		if (close(of->fd) < 0 && ret == 0) {
			perror_msg("writing %s", of->path);
			ret = -1;
		}
	}
	if (ret == 0 && rename(of->tmp, of->path) < 0) {
		perror_msg("cannot rename %s to %s", of->tmp, of->path);
		ret = -1;
	}
	if (ret < 0)
		unlink(of->tmp);
	seize_set_signal_cleanup(NULL);
	pending[0] = '\0';
	free(of->tmp);
	free(of->path);
	return ret;
}
