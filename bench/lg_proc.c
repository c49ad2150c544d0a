/* lg_proc.c — readings from /proc: a process's RSS and CPU time, CPU pressure, TCP
 * retransmissions and input-backlog drops. Each returns 0 or -1 when the file is missing. */
#include "loadgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* VmRSS of pid in KiB, -1 when unreadable. */
long
lg_rss_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* System-wide TCP segments retransmitted (/proc/net/snmp) and packets dropped by the kernel's
 * per-CPU input backlog (/proc/net/softnet_stat, second column): on loopback a drop shows up as a
 * retransmission 200 ms or more later, which is what a latency tail of that size usually is. */
void
lg_net_counters(unsigned long long *retrans, unsigned long long *drops)
{
	char hdr[1024], val[1024];
	FILE *f;

	*retrans = *drops = 0;
	if ((f = fopen("/proc/net/snmp", "r")) != NULL) {
		while (fgets(hdr, sizeof(hdr), f) && fgets(val, sizeof(val), f)) {
			char *hs, *vs, *h = strtok_r(hdr, " \n", &hs), *v = strtok_r(val, " \n", &vs);

			if (h == NULL || strcmp(h, "Tcp:") != 0)
				continue;
			while ((h = strtok_r(NULL, " \n", &hs)) && (v = strtok_r(NULL, " \n", &vs)))
				if (strcmp(h, "RetransSegs") == 0)
					*retrans = strtoull(v, NULL, 10);
			break;
		}
		fclose(f);
	}
	if ((f = fopen("/proc/net/softnet_stat", "r")) != NULL) {
		unsigned int processed, dropped;

		while (fscanf(f, "%x %x%*[^\n]", &processed, &dropped) == 2)
			*drops += dropped;
		fclose(f);
	}
}

/* Microseconds during which some runnable task waited for a CPU (/proc/pressure/cpu): how much
 * the rest of the machine got in the way during the run. 0 when the kernel has no PSI. */
unsigned long long
lg_cpu_pressure_us(void)
{
	unsigned long long total = 0;
	FILE *f = fopen("/proc/pressure/cpu", "r");

	if (f != NULL) {
		if (fscanf(f, "some avg10=%*f avg60=%*f avg300=%*f total=%llu", &total) != 1)
			total = 0;
		fclose(f);
	}
	return total;
}

/* CPU time (user + system) of pid in seconds, -1 when unreadable. */
double
lg_cpu_s(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces: state is field 3, utime 14. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double
lg_self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}
