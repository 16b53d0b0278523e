/* A minimal io_uring (raw system calls, no liburing) for the relay: one
 * ring per relay, owned by the relay's loop thread. Only what the relay
 * needs: submission/completion queues and a provided-buffer ring. */
#include <errno.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rtp_int.h"

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned submit, unsigned min, unsigned flags)
{
	return (int)syscall(__NR_io_uring_enter, fd, submit, min, flags, NULL,
			    0);
}

static int sys_register(int fd, unsigned op, void *arg, unsigned n)
{
	return (int)syscall(__NR_io_uring_register, fd, op, arg, n);
}

void cv_uring_free(struct cv_uring *u)
{
	if (u->br)
		munmap(u->br, u->br_sz);
	if (u->sqes)
		munmap(u->sqes, u->sqes_sz);
	if (u->cq_ptr && u->cq_ptr != u->sq_ptr)
		munmap(u->cq_ptr, u->cq_sz);
	if (u->sq_ptr)
		munmap(u->sq_ptr, u->sq_sz);
	if (u->fd >= 0)
		close(u->fd);
	*u = (struct cv_uring){.fd = -1};
}

int cv_uring_init(struct cv_uring *u, unsigned sq, unsigned cq, unsigned nbufs,
		  unsigned buf_size, uint8_t *bufs)
{
	*u = (struct cv_uring){.fd = -1};
	/* COOP_TASKRUN: completions run when the thread enters the kernel
	 * (it is woken for them when asleep, not interrupted when running),
	 * so a pass collects everything that arrived meanwhile; the ring's
	 * eventfd wakes the loop. (DEFER_TASKRUN batches better but does not
	 * signal a registered eventfd for deferred work on recent kernels.)
	 * R_DISABLED + SINGLE_ISSUER: the thread that enables the ring
	 * becomes its only submitter, so the relay may be created before its
	 * loop thread runs. */
	struct io_uring_params p = {
		.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_COOP_TASKRUN | IORING_SETUP_R_DISABLED |
			 IORING_SETUP_SUBMIT_ALL | IORING_SETUP_TASKRUN_FLAG,
		.cq_entries = cq,
	};
	int fd = sys_setup(sq, &p);
	if (fd < 0 && errno == EINVAL) {
		struct io_uring_params p2 = {
			.flags = p.flags & ~IORING_SETUP_TASKRUN_FLAG,
			.cq_entries = cq};
		p = p2;
		fd = sys_setup(sq, &p);
	}
	if (fd < 0)
		return -errno;
	u->fd = fd;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP) ||
	    !(p.features & IORING_FEAT_NODROP)) {
		cv_uring_free(u);
		return -ENOSYS;
	}
	u->sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	u->cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (u->cq_sz > u->sq_sz)
		u->sq_sz = u->cq_sz;
	u->sq_ptr = mmap(NULL, u->sq_sz, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
	if (u->sq_ptr == MAP_FAILED) {
		u->sq_ptr = NULL;
		cv_uring_free(u);
		return -ENOMEM;
	}
	u->cq_ptr = u->sq_ptr;
	u->sqes_sz = p.sq_entries * sizeof(struct io_uring_sqe);
	u->sqes = mmap(NULL, u->sqes_sz, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (u->sqes == MAP_FAILED) {
		u->sqes = NULL;
		cv_uring_free(u);
		return -ENOMEM;
	}
	uint8_t *sp = u->sq_ptr;
	u->sq_head = (unsigned *)(void *)(sp + p.sq_off.head);
	u->sq_tail = (unsigned *)(void *)(sp + p.sq_off.tail);
	u->sq_mask = *(unsigned *)(void *)(sp + p.sq_off.ring_mask);
	u->sq_entries = p.sq_entries;
	u->sq_array = (unsigned *)(void *)(sp + p.sq_off.array);
	u->cq_head = (unsigned *)(void *)(sp + p.cq_off.head);
	u->cq_tail = (unsigned *)(void *)(sp + p.cq_off.tail);
	u->cq_mask = *(unsigned *)(void *)(sp + p.cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)(void *)(sp + p.cq_off.cqes);
	u->sq_flags = (unsigned *)(void *)(sp + p.sq_off.flags);
	u->cq_flags = (unsigned *)(void *)(sp + p.cq_off.flags);
	u->local_tail = *u->sq_tail;
	/* Provided buffers for multishot receive (group 0). */
	u->nbufs = nbufs;
	u->buf_size = buf_size;
	u->bufs = bufs;
	u->br_sz = nbufs * sizeof(struct io_uring_buf);
	u->br = mmap(NULL, u->br_sz, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->br == MAP_FAILED) {
		u->br = NULL;
		cv_uring_free(u);
		return -ENOMEM;
	}
	struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)u->br,
				       .ring_entries = nbufs,
				       .bgid = 0};
	if (sys_register(fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0) {
		int e = -errno;
		cv_uring_free(u);
		return e;
	}
	for (unsigned i = 0; i < nbufs; i++)
		cv_uring_buf_put(u, (uint16_t)i);
	cv_uring_buf_commit(u);
	/* A sparse table of fixed files saves the file lookup and reference
	 * count of every operation; its size is bounded by RLIMIT_NOFILE.
	 * Without it (older kernels, low limits) plain descriptors are used. */
	struct rlimit rl;
	unsigned nf = 65536;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < nf)
		nf = (unsigned)rl.rlim_cur;
	struct io_uring_rsrc_register rr = {
		.nr = nf, .flags = IORING_RSRC_REGISTER_SPARSE};
	if (nf &&
	    sys_register(fd, IORING_REGISTER_FILES2, &rr, sizeof(rr)) >= 0)
		u->nfixed = nf;
	return 0;
}

int cv_uring_file_set(struct cv_uring *u, unsigned slot, int fd)
{
	if (slot >= u->nfixed)
		return -ENOSPC;
	struct io_uring_files_update up = {.offset = slot,
					   .fds = (uint64_t)(uintptr_t)&fd};
	return sys_register(u->fd, IORING_REGISTER_FILES_UPDATE, &up, 1) < 0
		       ? -errno
		       : 0;
}

int cv_uring_enable(struct cv_uring *u)
{
	if (u->enabled)
		return 0;
	if (sys_register(u->fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return -errno;
	u->enabled = true;
	return 0;
}

int cv_uring_register_eventfd(struct cv_uring *u, int efd)
{
	return sys_register(u->fd, IORING_REGISTER_EVENTFD, &efd, 1) < 0
		       ? -errno
		       : 0;
}

struct io_uring_sqe *cv_uring_sqe(struct cv_uring *u)
{
	unsigned head = __atomic_load_n(u->sq_head, __ATOMIC_ACQUIRE);
	if (u->local_tail - head >= u->sq_entries)
		return NULL;
	unsigned idx = u->local_tail & u->sq_mask;
	struct io_uring_sqe *e = &u->sqes[idx];
	memset(e, 0, sizeof(*e));
	u->sq_array[idx] = idx;
	u->local_tail++;
	return e;
}

int cv_uring_submit(struct cv_uring *u)
{
	if (!u->enabled)
		return 0;
	unsigned n = u->local_tail - *u->sq_tail;
	__atomic_store_n(u->sq_tail, u->local_tail, __ATOMIC_RELEASE);
	unsigned pending =
		u->local_tail - __atomic_load_n(u->sq_head, __ATOMIC_ACQUIRE);
	(void)n;
	/* GETEVENTS with min 0 runs pending completions (the receives that
	 * became ready) without waiting. */
	int r = sys_enter(u->fd, pending, 0, IORING_ENTER_GETEVENTS);
	u->enters++;
	return r < 0 ? -errno : r;
}

void cv_uring_buf_put(struct cv_uring *u, uint16_t bid)
{
	struct io_uring_buf *b = &u->br->bufs[u->br_tail & (u->nbufs - 1)];
	b->addr = (uint64_t)(uintptr_t)(u->bufs + (size_t)bid * u->buf_size);
	b->len = u->buf_size;
	b->bid = bid;
	u->br_tail++;
}

void cv_uring_buf_commit(struct cv_uring *u)
{
	__atomic_store_n(&u->br->tail, u->br_tail, __ATOMIC_RELEASE);
}
