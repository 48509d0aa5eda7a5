// SPDX-License-Identifier: GPL-2.0
/*
 * libkvmig's guest memory map and bitmap helpers: slots from memfds and
 * from addresses, gpa <-> page index <-> host address with bounds checks,
 * and a clear error for every bad input (overlap, not a memfd, a memfd too
 * small, misalignment, a closed fd, unknown slot ids).
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "kvmig/kvmig.h"

/* libkvmig internals, linked from the static library */
uint64_t kvmig_bitmap_or_at(uint64_t *dst, uint64_t off, const uint64_t *src,
			    uint64_t nbits);
void kvmig_bitmap_extract(uint64_t *dst, const uint64_t *src, uint64_t off,
			  uint64_t nbits);

static char last_msg[512];

static void capture(enum kvmig_log_level l, const char *msg, void *opaque)
{
	(void)l;
	(void)opaque;
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
}

static int memfd_of(uint64_t size)
{
	int fd = memfd_create("test", MFD_CLOEXEC);

	TEST_ASSERT(fd >= 0 && !ftruncate(fd, (off_t)size), "memfd");
	return fd;
}

static int add(struct kvmig_memmap *m, uint32_t id, uint64_t gpa, uint64_t size,
	       int fd, uint64_t off, void *hva)
{
	struct kvmig_slot_desc d = {
		.sz = sizeof(d), .id = id, .gpa = gpa, .size = size,
		.memfd = fd, .offset = off, .hva = hva,
	};

	last_msg[0] = 0;
	return kvmig_memmap_add(m, &d);
}

static void bad(struct kvmig_memmap *m, int want, const char *msg, uint32_t id,
		uint64_t gpa, uint64_t size, int fd, uint64_t off)
{
	int r = add(m, id, gpa, size, fd, off, NULL);

	ksft_test_result(r == want && strstr(last_msg, msg),
			 "refused with %d (%s): '%s'", r, strerror(-r), last_msg);
}

static void test_bitmaps(void)
{
	uint64_t src[8], dst[10], ref[10], ext[8];
	unsigned int iter, ok = 1;

	srand(7);
	for (iter = 0; iter < 2000 && ok; iter++) {
		uint64_t off = (uint64_t)(rand() % 130), n = 1 + (uint64_t)(rand() % 500);
		uint64_t i, cnt = 0, got;

		for (i = 0; i < 8; i++)
			src[i] = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ (uint64_t)rand();
		for (i = 0; i < 10; i++)
			dst[i] = ref[i] = (iter & 1) ? ((uint64_t)rand() << 32) : 0;
		for (i = 0; i < n; i++) {
			if (kvmig_bitmap_test(src, i)) {
				kvmig_bitmap_set(ref, off + i);
				cnt++;
			}
		}
		got = kvmig_bitmap_or_at(dst, off, src, n);
		ok &= got == cnt && !memcmp(dst, ref, sizeof(dst));
		memset(ext, 0xa5, sizeof(ext));
		kvmig_bitmap_extract(ext, dst, off, n);
		for (i = 0; i < n; i++)
			ok &= kvmig_bitmap_test(ext, i) == kvmig_bitmap_test(ref, off + i);
		ok &= kvmig_bitmap_count(ext, n) <= n;
	}
	ksft_test_result(ok, "bitmap or/extract at every offset agree with a bit-by-bit reference");
}

int main(void)
{
	struct kvmig_memmap_opts mo = { .sz = sizeof(mo), .print = capture };
	struct kvmig_memmap *m = kvmig_memmap_new(&mo);
	const struct kvmig_slot *s;
	int fd0 = memfd_of(8 << 20), fd1 = memfd_of(4 << 20), tmp;
	uint64_t idx, gpa;
	char path[] = "/tmp/kvmig-memmap-XXXXXX";
	void *anon;
	uint8_t *p;

	ksft_print_header();
	ksft_set_plan(19);
	TEST_ASSERT(m, "memmap_new");

	/* slot 1 above a hole, added first: the map sorts by gpa */
	ksft_test_result(!add(m, 1, 64 << 20, 4 << 20, fd1, 0, NULL) &&
			 !add(m, 0, 0, 8 << 20, fd0, 0, NULL),
			 "two memfd slots with a hole");
	ksft_test_result(kvmig_memmap_nr_slots(m) == 2 &&
			 kvmig_memmap_pages(m) == (12 << 20) / 4096 &&
			 kvmig_memmap_slot(m, 0)->id == 0 &&
			 kvmig_memmap_slot(m, 1)->first_page == 2048,
			 "slots sorted by gpa, page indexes in slot order");
	ksft_test_result(!kvmig_memmap_gpa_to_index(m, (64 << 20) + 4096, &idx) &&
			 idx == 2049 && !kvmig_memmap_index_to_gpa(m, idx, &gpa) &&
			 gpa == (64 << 20) + 4096, "gpa <-> index round trip across the hole");
	ksft_test_result(kvmig_memmap_gpa_to_index(m, 32 << 20, &idx) == -EFAULT &&
			 kvmig_memmap_index_to_gpa(m, 3072, &gpa) == -ERANGE &&
			 !kvmig_memmap_gpa_to_hva(m, (8 << 20) - 4096, 8192) &&
			 !kvmig_memmap_index_to_hva(m, 3072),
			 "the hole, past the end, and ranges straddling a slot end are refused");
	/* the mapping is the memfd: a write through one shows in the other */
	p = kvmig_memmap_gpa_to_hva(m, (64 << 20) + 8192, 4096);
	TEST_ASSERT(p, "hva");
	p[5] = 0x42;
	{
		uint8_t b = 0;

		TEST_ASSERT(pread(fd1, &b, 1, 8192 + 5) == 1, "pread");
		ksft_test_result(b == 0x42, "host address maps the slot's memfd");
	}
	s = kvmig_memmap_slot_by_id(m, 1);
	ksft_test_result(s && s->gpa == 64 << 20 && !kvmig_memmap_slot_by_id(m, 7),
			 "slot by id; an unknown slot id gives NULL");

	bad(m, -EEXIST, "collides with slot 0", 2, 4 << 20, 2 << 20, fd0, 0);
	bad(m, -EEXIST, "collides with slot 1", 1, 128 << 20, 2 << 20, fd0, 0);
	bad(m, -EINVAL, "page aligned", 3, 100, 4096, fd0, 0);
	bad(m, -EINVAL, "page aligned", 3, 256 << 20, 0, fd0, 0);
	bad(m, -EINVAL, "page aligned", 3, 256 << 20, 4096, fd0, 12);
	bad(m, -ERANGE, "memfd holds 8388608 bytes", 3, 256 << 20, 8 << 20, fd0, 4096);
	bad(m, -EINVAL, "give a memfd or an address", 3, 256 << 20, 4096, -1, 0);
	tmp = mkstemp(path);
	TEST_ASSERT(tmp >= 0 && !ftruncate(tmp, 1 << 20), "tmp file");
	unlink(path);
	bad(m, -ENOTSUP, "is not a memfd", 3, 256 << 20, 4096, tmp, 0);
	close(tmp);
	{
		int pfd[2];

		TEST_ASSERT(!pipe(pfd), "pipe");
		bad(m, -ENOTSUP, "is not a memfd", 3, 256 << 20, 4096, pfd[0], 0);
		close(pfd[0]);
		close(pfd[1]);
	}
	bad(m, -EBADF, "Bad file descriptor", 3, 256 << 20, 4096, 1000, 0);

	/* a slot from an address the caller mapped */
	anon = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(anon != MAP_FAILED, "mmap");
	ksft_test_result(!add(m, 5, 512 << 20, 1 << 20, -1, 0, anon) &&
			 kvmig_memmap_gpa_to_hva(m, 512 << 20, 1) == anon,
			 "a slot from a caller's address");
	kvmig_memmap_free(m);
	munmap(anon, 1 << 20);
	kvmig_memmap_free(NULL);
	ksft_test_result(kvmig_bitmap_count((uint64_t[]){ ~0ULL, ~0ULL }, 70) == 70,
			 "bitmap count stops at the last page");
	test_bitmaps();
	close(fd0);
	close(fd1);
	ksft_finished();
}
