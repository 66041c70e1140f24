/* version.h - heapscan's version, shown by --version and stored in snapshots. */
#ifndef HEAPSCAN_VERSION_H
#define HEAPSCAN_VERSION_H
#define HEAPSCAN_VERSION "0.1.0"
#endif
