/* Shared by the benchmarks: clock, medians, percentiles, machine description. */
#ifndef TALLY_BENCH_COMMON_H
#define TALLY_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

double bench_now(void);                 /* seconds, monotonic */
double bench_median(double *v, size_t n); /* sorts v */
double bench_pct(double *v, size_t n, double p); /* sorts v; p in [0, 1] */
void bench_machine(FILE *f);            /* CPU model, cores, memory, kernel, date */
/* A fresh empty directory under base (on disk, never tmpfs, so fsync costs what it costs). */
char *bench_dir(const char *base, const char *tag);
void bench_rmdir(char *dir);            /* removes and frees */

#endif
