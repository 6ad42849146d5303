/*
 * bench.h -- measurement helpers shared by the C benchmark clients: the
 * monotonic clock, CPU time and resident memory of this process, the
 * open-file limit, environment parameters and the one result line that
 * run.lua reads.
 */
#ifndef LGW_BENCH_H
#define LGW_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline double bench_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User + system CPU seconds of this process (all threads). */
static inline double bench_cpu(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* A "VmRSS" / "VmHWM" field of /proc/self/status in KB, 0 if absent. */
static inline long bench_status_kb(const char *field)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  size_t n = strlen(field);
  long kb = 0;
  if (!f)
    return 0;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, field, n) == 0 && line[n] == ':') {
      kb = strtol(line + n + 1, NULL, 10);
      break;
    }
  fclose(f);
  return kb;
}

/* Soft open-file limit raised to the hard limit: thousands of sockets. */
static inline void bench_raise_nofile(void)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static inline long bench_env_long(const char *name, long dflt)
{
  const char *v = getenv(name);
  return v && *v ? strtol(v, NULL, 10) : dflt;
}

static inline const char *bench_env(const char *name, const char *dflt)
{
  const char *v = getenv(name);
  return v && *v ? v : dflt;
}

/* The line run.lua parses: key=value pairs after "BENCH". */
static inline void bench_report(const char *what, long n, long ok, double wall,
                         double cpu, long rss0)
{
  printf("BENCH what=%s n=%ld ok=%ld wall=%.6f cpu=%.6f rss0=%ld rss=%ld\n",
         what, n, ok, wall, cpu, rss0, bench_status_kb("VmHWM"));
  fflush(stdout);
}

/* The request body an openai_chat transport sends for one user message. */
#define BENCH_BODY                                                        \
  "{\"model\":\"bench-model\",\"messages\":[{\"role\":\"user\","          \
  "\"content\":\"Reply with ok.\"}],\"max_tokens\":4000,"                 \
  "\"temperature\":0,\"stream\":false}"

#endif
