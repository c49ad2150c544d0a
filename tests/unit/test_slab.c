/* test_slab.c — unit tests for common/slab.c: items of a size share slabs apart from other
 * sizes, an empty slab gives its pages back (but the last of its size), realloc moves an item
 * between sizes and to malloc, and several threads may allocate at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "slab.h"

/* Resident pages of [p, p + len), from mincore. */
static size_t
resident_pages(const void *p, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(page - 1);
	size_t n = ((uintptr_t)p + len - a + (size_t)page - 1) / (size_t)page, got = 0;
	unsigned char v[64];

	assert_true(n <= sizeof(v));
	assert_int_equal(mincore((void *)a, n * (size_t)page, v), 0);
	for (size_t i = 0; i < n; i++)
		got += v[i] & 1;
	return got;
}

/* MADANG_SLAB=off: no range, every item malloc's (the sanitizer suite's daemons). In a child
 * process that has not allocated yet, for the range is reserved once per process. */
static void
test_slab_off_leaves_everything_to_malloc(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	if ((pid = fork()) == 0) {
		struct slab_stats st;
		void *p;

		setenv("MADANG_SLAB", "off", 1);
		p = slab_realloc(NULL, 100);
		slab_stats(&st);
		_exit(slab_alloc(100) == NULL && p != NULL && !slab_owns(p) && st.reserved == 0
		          ? 0
		          : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* slab_strdup: a copy sized to 8 bytes in a slab, malloc's past SLAB_ITEM_MAX; slab_release
 * frees either. */
static void
test_slab_strdup_copies_into_a_slab_item(void **state)
{
	(void)state;
	char big[SLAB_ITEM_MAX + 10];
	struct slab_stats a, b;

	slab_stats(&a);
	char *s = slab_strdup("room-42");
	assert_non_null(s);
	assert_string_equal(s, "room-42");
	assert_true(slab_owns(s));
	assert_int_equal(slab_item_size(s), 8);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	char *l = slab_strdup(big);
	assert_non_null(l);
	assert_false(slab_owns(l));
	assert_string_equal(l, big);
	slab_stats(&b);
	assert_int_equal(b.items, a.items + 1);
	slab_release(s);
	slab_release(l);
	slab_stats(&b);
	assert_int_equal(b.items, a.items);
}

/* Under a limit of address space (ulimit -v, LimitAS=) the range is halved until it fits:
 * with 200 MiB to spare, 128 MiB; with less than 64 MiB, none, and malloc serves. In child
 * processes that have not allocated yet. Not under ASan, whose shadow memory needs more
 * address space than any such limit leaves. */
#if !defined(__SANITIZE_ADDRESS__)
static size_t
reserved_under_limit(size_t spare)
{
	int fd[2], status;
	size_t got = (size_t)-1;
	pid_t pid;

	assert_int_equal(pipe(fd), 0);
	if ((pid = fork()) == 0) {
		struct rlimit rl;
		struct slab_stats st;
		unsigned long vm_kb = 0;
		char line[256];
		FILE *f = fopen("/proc/self/status", "r");

		while (f != NULL && fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "VmSize: %lu kB", &vm_kb) == 1)
				break;
		if (f != NULL)
			fclose(f);
		rl.rlim_cur = rl.rlim_max = (rlim_t)vm_kb * 1024 + spare;
		if (vm_kb == 0 || setrlimit(RLIMIT_AS, &rl) != 0)
			_exit(1);
		void *p = slab_realloc(NULL, 100); /* a slab's, or malloc's without a range */
		slab_stats(&st);
		if (p == NULL || slab_owns(p) != (st.reserved > 0) ||
		    write(fd[1], &st.reserved, sizeof(st.reserved)) != sizeof(st.reserved))
			_exit(1);
		_exit(0);
	}
	assert_true(pid > 0);
	close(fd[1]);
	assert_int_equal(read(fd[0], &got, sizeof(got)), sizeof(got));
	close(fd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return got;
}
#endif

static void
test_slab_range_halves_under_an_address_space_limit(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip();
#else
	assert_int_equal(reserved_under_limit((size_t)200 << 20), (size_t)128 << 20);
	assert_int_equal(reserved_under_limit((size_t)40 << 20), 0);
#endif
}

/* Item sizes go by 8 up to 256 (a short string, lws's 148-byte receive buffer), then by 16;
 * an item whose size is a multiple of 16 is aligned to 16, every other one to 8. */
static void
test_slab_item_sizes_step_by_8_then_16(void **state)
{
	static const size_t ask[] = {1, 8, 9, 19, 148, 249, 256, 257, 272, 273, 953, 1023, 1024};
	static const size_t got[] = {8, 8, 16, 24, 152, 256, 256, 272, 272, 288, 960, 1024, 1024};
	void *p[sizeof(ask) / sizeof(*ask)];

	(void)state;
	for (size_t i = 0; i < sizeof(ask) / sizeof(*ask); i++) {
		assert_non_null(p[i] = slab_alloc(ask[i]));
		assert_int_equal(slab_item_size(p[i]), got[i]);
		assert_int_equal((uintptr_t)p[i] % (got[i] % 16 == 0 ? 16 : 8), 0);
		memset(p[i], 0x5a, ask[i]);
	}
	for (size_t i = 0; i < sizeof(ask) / sizeof(*ask); i++)
		slab_free(p[i]);
}

static void
test_slab_items_share_slabs_by_size_and_empty_ones_go(void **state)
{
	enum { N = 200 }; /* 200 items of 100 bytes (104 each): two 16 KiB slabs */
	struct slab_stats st0, st1, st;
	void *p[N], *q;

	(void)state;
	slab_stats(&st0);
	assert_null(slab_alloc(0));
	assert_null(slab_alloc(SLAB_ITEM_MAX + 1));
	for (int i = 0; i < N; i++) {
		assert_non_null(p[i] = slab_alloc(100));
		assert_true(slab_owns(p[i]));
		assert_int_equal(slab_item_size(p[i]), 104);
		assert_int_equal((uintptr_t)p[i] % 8, 0);
		memset(p[i], i, 100);
	}
	slab_stats(&st);
	assert_true(st.reserved >= (size_t)64 << 20);
	assert_int_equal(st.items, st0.items + N);
	assert_int_equal(st.slabs, st0.slabs + 2); /* 156 per slab */
	/* Another size never shares a slab with these. */
	assert_non_null(q = slab_alloc(33));
	assert_int_equal(slab_item_size(q), 40);
	for (int i = 0; i < N; i++)
		assert_true((uintptr_t)q / SLAB_BYTES != (uintptr_t)p[i] / SLAB_BYTES);
	slab_free(q); /* its slab stays: the last of its size */
	slab_stats(&st1);
	for (int i = 0; i < N; i++)
		for (int k = 0; k < 100; k++)
			assert_int_equal(((unsigned char *)p[i])[k], (unsigned char)i);
	/* Every other one back, then taken again: the same places, nothing new. */
	for (int i = 0; i < N; i += 2)
		slab_free(p[i]);
	for (int i = 0; i < N; i += 2)
		assert_non_null(p[i] = slab_alloc(100));
	slab_stats(&st);
	assert_int_equal(st.slabs, st1.slabs);
	/* All back: one of the two slabs goes, its pages with it; the other, the last of its
	 * size, stays. */
	char *sa = (char *)((uintptr_t)p[0] & ~(uintptr_t)(SLAB_BYTES - 1)), *sb = sa, *gone;
	for (int i = 0; i < N && sb == sa; i++)
		sb = (char *)((uintptr_t)p[i] & ~(uintptr_t)(SLAB_BYTES - 1));
	assert_true(sa != sb);
	for (int i = 0; i < N; i++)
		slab_free(p[i]);
	slab_stats(&st);
	assert_int_equal(st.items, st0.items);
	assert_int_equal(st.slabs, st1.slabs - 1);
	assert_true(resident_pages(sa, SLAB_BYTES) == 0 || resident_pages(sb, SLAB_BYTES) == 0);
	gone = resident_pages(sa, SLAB_BYTES) == 0 ? sa : sb;
	/* A slab given back is carved again before a new one. */
	assert_non_null(q = slab_alloc(500));
	assert_ptr_equal((char *)((uintptr_t)q & ~(uintptr_t)(SLAB_BYTES - 1)), gone);
	slab_free(q);
}

/* Brief items (frames) of a size never share a slab with lasting items of that size: when
 * the brief ones go, their slabs go with them, and the lasting ones' slabs stay full. A brief
 * item that grows stays brief. */
static void
test_slab_brief_items_keep_to_slabs_of_their_own(void **state)
{
	enum { N = 300 }; /* 224-byte items, 72 to a slab: five slabs of each kind */
	struct slab_stats st0, st1, st;
	void *lasting[N], *brief[N], *q;

	(void)state;
	slab_stats(&st0);
	for (int i = 0; i < N; i++) { /* interleaved, as sessions and join frames are */
		assert_non_null(lasting[i] = slab_alloc(220));
		assert_non_null(brief[i] = slab_malloc_brief(220));
		assert_true(slab_owns(brief[i]));
		assert_int_equal(slab_item_size(brief[i]), 224);
		memset(brief[i], 0xb, 220);
	}
	for (int i = 0; i < N; i++)
		for (int k = 0; k < N; k++)
			assert_true((uintptr_t)lasting[i] / SLAB_BYTES !=
			            (uintptr_t)brief[k] / SLAB_BYTES);
	slab_stats(&st1);
	assert_int_equal(st1.slabs, st0.slabs + 10);
	/* A brief item moved by realloc to a larger size is still in a brief slab. */
	assert_non_null(q = slab_realloc(brief[0], 300));
	brief[0] = q;
	assert_int_equal(((unsigned char *)q)[219], 0xb);
	for (int i = 0; i < N; i++)
		assert_true((uintptr_t)q / SLAB_BYTES != (uintptr_t)lasting[i] / SLAB_BYTES);
	/* The brief items go: every slab of theirs but the last of each size goes too. */
	for (int i = 0; i < N; i++)
		slab_release(brief[i]);
	slab_stats(&st);
	assert_int_equal(st.items, st0.items + N);
	assert_true(st.slabs <= st0.slabs + 5 + 2);
	for (int i = 0; i < N; i++)
		slab_free(lasting[i]);
}

/* The empty slab kept as its size's last gives its pages back at slab_trim (after a burst),
 * and is the first carved again; a slab with an item in it stays. */
static void
test_slab_trim_gives_back_the_kept_empty_slabs(void **state)
{
	struct slab_stats st0, st;
	void *p, *q, *keep;
	char *sa;

	(void)state;
	assert_non_null(keep = slab_alloc(1000)); /* its slab has an item: it stays */
	assert_non_null(p = slab_malloc_brief(1000));
	memset(p, 1, 1000);
	sa = (char *)((uintptr_t)p & ~(uintptr_t)(SLAB_BYTES - 1));
	slab_free(p); /* the last brief slab of its size: kept, its pages too */
	assert_true(resident_pages(sa, SLAB_BYTES) > 0);
	slab_stats(&st0);
	assert_true(slab_trim() >= 1);
	slab_stats(&st);
	assert_true(st.slabs < st0.slabs);
	assert_int_equal(st.items, st0.items);
	assert_int_equal(resident_pages(sa, SLAB_BYTES), 0);
	memset(keep, 7, 1000); /* still in use, and usable */
	/* Carved again first. */
	assert_non_null(q = slab_malloc_brief(1000));
	assert_ptr_equal((char *)((uintptr_t)q & ~(uintptr_t)(SLAB_BYTES - 1)), sa);
	slab_free(q);
	slab_free(keep);
	assert_true(slab_trim() >= 2); /* both kept slabs, now empty */
	assert_int_equal(slab_trim(), 0); /* nothing left to give back */
}

static void
test_slab_realloc_moves_between_sizes_and_to_malloc(void **state)
{
	char *p, *q;
	struct slab_stats st0, st;

	(void)state;
	slab_stats(&st0);
	assert_non_null(p = slab_realloc(NULL, 40));
	assert_true(slab_owns(p));
	memcpy(p, "0123456789012345678901234567890123456789", 40);
	/* The same size of item: it stays. */
	assert_ptr_equal(slab_realloc(p, 33), p);
	assert_ptr_equal(slab_realloc(p, 40), p);
	/* Larger: it moves, its bytes with it. */
	assert_non_null(q = slab_realloc(p, 600));
	assert_int_equal(slab_item_size(q), 608);
	assert_memory_equal(q, "012345678901234567890123456789012", 33);
	/* A smaller size of item: it moves too, so that a record shrunk to fit takes less. */
	assert_non_null(p = slab_realloc(q, 20));
	assert_int_equal(slab_item_size(p), 24);
	assert_memory_equal(p, "01234567890123456789", 20);
	/* Past SLAB_ITEM_MAX: malloc's, and back. */
	assert_non_null(q = slab_realloc(p, 5000));
	assert_false(slab_owns(q));
	assert_memory_equal(q, "01234567890123456789", 20);
	assert_non_null(q = slab_realloc(q, 6000)); /* malloc's realloc */
	assert_false(slab_owns(q));
	assert_null(slab_realloc(q, 0)); /* free, whichever allocator */
	slab_stats(&st);
	assert_int_equal(st.items, st0.items);
	/* malloc's memory is not a slab's; slab_zalloc zeroes, slab_release frees either. */
	assert_non_null(p = malloc(10));
	assert_false(slab_owns(p));
	slab_release(p);
	assert_non_null(p = slab_zalloc(200));
	for (int i = 0; i < 200; i++)
		assert_int_equal(p[i], 0);
	slab_release(p);
	assert_non_null(p = slab_zalloc(SLAB_ITEM_MAX + 100)); /* malloc's, zeroed */
	assert_false(slab_owns(p));
	assert_int_equal(p[SLAB_ITEM_MAX + 99], 0);
	slab_release(p);
	slab_release(NULL);
	slab_stats(&st);
	assert_int_equal(st.items, st0.items);
}

enum { THREADS = 4, ROUNDS = 20000 };

static void *
churn(void *arg)
{
	void *held[64] = {0};
	unsigned seed = (unsigned)(uintptr_t)arg;

	for (int i = 0; i < ROUNDS; i++) {
		size_t k = (size_t)rand_r(&seed) % 64;
		size_t size = 1 + (size_t)rand_r(&seed) % SLAB_ITEM_MAX;

		slab_release(held[k]);
		if ((held[k] = slab_alloc(size)) == NULL)
			return (void *)1;
		memset(held[k], (int)k, size);
		if (((unsigned char *)held[k])[size - 1] != (unsigned char)k)
			return (void *)1;
	}
	for (size_t k = 0; k < 64; k++)
		slab_release(held[k]);
	return NULL;
}

static void
test_slab_threads_allocate_at_once(void **state)
{
	pthread_t t[THREADS];
	struct slab_stats st0, st;
	void *rv;

	(void)state;
	slab_stats(&st0);
	for (uintptr_t i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)(i + 1)), 0);
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &rv), 0);
		assert_null(rv);
	}
	slab_stats(&st);
	assert_int_equal(st.items, st0.items);
	/* The last one of each size, lasting and brief, at most. */
	assert_true(st.slabs <=
	            2 * (SLAB_SMALL_MAX / SLAB_SMALL_STEP + (SLAB_ITEM_MAX - SLAB_SMALL_MAX) / SLAB_STEP));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_slab_off_leaves_everything_to_malloc),
	    cmocka_unit_test(test_slab_range_halves_under_an_address_space_limit),
	    cmocka_unit_test(test_slab_item_sizes_step_by_8_then_16),
	    cmocka_unit_test(test_slab_strdup_copies_into_a_slab_item),
	    cmocka_unit_test(test_slab_items_share_slabs_by_size_and_empty_ones_go),
	    cmocka_unit_test(test_slab_brief_items_keep_to_slabs_of_their_own),
	    cmocka_unit_test(test_slab_trim_gives_back_the_kept_empty_slabs),
	    cmocka_unit_test(test_slab_realloc_moves_between_sizes_and_to_malloc),
	    cmocka_unit_test(test_slab_threads_allocate_at_once),
	};
	unsetenv("MADANG_SLAB"); /* these tests check slab items: on, even in the sanitizer suite */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
