/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A ring of chunk buffers between the caller's thread and one helper
 * thread, so that the two kinds of work of a pass over a bundle run on two
 * cores: sealing while the sealed chunks are hashed, hashing or decrypting
 * while the next chunks are read, encrypting a volume while the encrypted
 * chunks are written and hashed. One side fills slots in order, the other
 * drains them in order; the helper is one of the two. Until the ring goes
 * parallel, and for good without a second CPU, the helper's step runs
 * inline on the caller's thread with one slot: the same path for the bytes.
 *
 * Both sides wait only on a full or an empty ring, and a waiting side is
 * woken when half the ring is ready for it (or at the end), so that the
 * threads meet once per half ring, not once per chunk.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/lib.h"

enum chunk_ring_mode chunk_ring_mode = RING_AUTO;

struct chunk_ring {
	/* the caller's alone, or fixed while the thread lives */
	enum chunk_ring_role role;
	chunk_ring_fn step; /* the helper's side, on its thread or inline */
	void *ctx;
	struct chunk_slot slot[CHUNK_RING_MAX];
	size_t nslots, active, slot_size; /* active: 1 inline, nslots in parallel */
	pthread_t th;
	bool tried, parallel;
	bool held; /* the caller holds its side's next slot */
	/* both threads', under mu while the thread lives */
	pthread_mutex_t mu;
	pthread_cond_t room, items; /* a slot to fill; a slot to drain */
	uint64_t filled, drained;
	size_t wake_room; /* the filler waits for at most this many filled slots */
	int err;	  /* the helper's first error (drain role) */
	bool waiting_room, waiting_items;
	bool ended, quit; /* no more slots will be filled; the helper must stop */
};

static struct chunk_slot *slot_at(struct chunk_ring *q, uint64_t n)
{
	return &q->slot[n % q->active];
}

int chunk_ring_new(enum chunk_ring_role role, size_t nslots, size_t slot_size, chunk_ring_fn step,
		   void *ctx, struct chunk_ring **out)
{
	struct chunk_ring *q = calloc(1, sizeof(*q));

	*out = NULL;
	if (!q)
		return -ENOMEM;
	q->role = role;
	q->step = step;
	q->ctx = ctx;
	q->nslots = nslots < 2 ? 2 : nslots > CHUNK_RING_MAX ? CHUNK_RING_MAX : nslots;
	q->slot_size = slot_size;
	q->active = 1;
	if (!(q->slot[0].p = secret_alloc(slot_size))) {
		free(q);
		return -ENOMEM;
	}
	*out = q;
	return 0;
}

static bool second_cpu(void)
{
	cpu_set_t set;

	if (chunk_ring_mode != RING_AUTO)
		return chunk_ring_mode == RING_THREAD;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return CPU_COUNT(&set) >= 2;
	return sysconf(_SC_NPROCESSORS_ONLN) >= 2;
}

/* Wakes a waiting side when half the ring is ready for it, or at the end. Under mu. */
static void wake(struct chunk_ring *q)
{
	uint64_t pending = q->filled - q->drained;

	if (q->waiting_items && (pending >= q->nslots / 2 || q->ended || q->quit))
		pthread_cond_signal(&q->items);
	if (q->waiting_room && (pending <= q->wake_room || q->err || q->quit))
		pthread_cond_signal(&q->room);
}

/* The helper as drainer: each filled slot in order, until the end or an error. */
static void helper_drain(struct chunk_ring *q)
{
	pthread_mutex_lock(&q->mu);
	for (;;) {
		struct chunk_slot *s;
		int r;

		while (q->filled == q->drained && !q->ended && !q->quit) {
			q->waiting_items = true;
			pthread_cond_wait(&q->items, &q->mu);
			q->waiting_items = false;
		}
		if (q->quit || q->filled == q->drained)
			break;
		s = slot_at(q, q->drained);
		pthread_mutex_unlock(&q->mu);
		r = q->step(q->ctx, s);
		pthread_mutex_lock(&q->mu);
		if (r < 0) {
			q->err = r;
			wake(q);
			break;
		}
		q->drained++;
		wake(q);
	}
	pthread_mutex_unlock(&q->mu);
}

/* The helper as filler: slots in order, until the step says the last one is filled. */
static void helper_fill(struct chunk_ring *q)
{
	pthread_mutex_lock(&q->mu);
	while (!q->ended) {
		struct chunk_slot *s;
		int r;

		while (q->filled - q->drained == q->active && !q->quit) {
			q->waiting_room = true;
			pthread_cond_wait(&q->room, &q->mu);
			q->waiting_room = false;
		}
		if (q->quit)
			break;
		s = slot_at(q, q->filled);
		pthread_mutex_unlock(&q->mu);
		r = q->step(q->ctx, s);
		pthread_mutex_lock(&q->mu);
		q->filled++;
		q->ended = r != 0;
		wake(q);
	}
	pthread_mutex_unlock(&q->mu);
}

static void *helper_main(void *arg)
{
	struct chunk_ring *q = arg;

	if (q->role == RING_HELPER_DRAINS)
		helper_drain(q);
	else
		helper_fill(q);
	return NULL;
}

/*
 * The thread takes no asynchronous signal (they stay the caller's, as
 * before there was a thread); the filler is woken at half the ring.
 */
static int start_thread(struct chunk_ring *q)
{
	sigset_t all, old;
	int r;

	if (pthread_mutex_init(&q->mu, NULL) != 0)
		return -EAGAIN;
	if (pthread_cond_init(&q->room, NULL) != 0 || pthread_cond_init(&q->items, NULL) != 0) {
		pthread_cond_destroy(&q->room);
		pthread_mutex_destroy(&q->mu);
		return -EAGAIN;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&q->th, NULL, helper_main, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		pthread_cond_destroy(&q->items);
		pthread_cond_destroy(&q->room);
		pthread_mutex_destroy(&q->mu);
		return -r;
	}
	return 0;
}

void chunk_ring_parallel(struct chunk_ring *q)
{
	if (q->tried)
		return;
	if (q->held || q->filled != q->drained || q->ended)
		return;
	q->tried = true;
	if (!second_cpu())
		return;
	for (size_t i = 1; i < q->nslots; i++)
		if (!q->slot[i].p && !(q->slot[i].p = secret_alloc(q->slot_size)))
			return; /* inline, with the one slot */
	q->wake_room = q->nslots / 2;
	/* the counters stay: both sides' next slot is filled % nslots from here on */
	q->active = q->nslots;
	if (start_thread(q) < 0) {
		q->active = 1;
		return;
	}
	q->parallel = true;
}

/* Waits, under mu, while more than until slots are filled (or until the helper fails). */
static void wait_room(struct chunk_ring *q, size_t wake_at, uint64_t until)
{
	q->wake_room = wake_at;
	while (q->filled - q->drained > until && !q->err) {
		q->waiting_room = true;
		pthread_cond_wait(&q->room, &q->mu);
		q->waiting_room = false;
	}
}

struct chunk_slot *chunk_ring_hold(struct chunk_ring *q)
{
	if (q->parallel && !q->held) {
		int err;

		pthread_mutex_lock(&q->mu);
		if (q->filled - q->drained == q->active)
			wait_room(q, q->nslots / 2, q->active - 1);
		err = q->err;
		pthread_mutex_unlock(&q->mu);
		if (err)
			return NULL;
	}
	q->held = true;
	return slot_at(q, q->filled);
}

int chunk_ring_post(struct chunk_ring *q)
{
	int r;

	q->held = false;
	if (!q->parallel) {
		r = q->step(q->ctx, slot_at(q, q->filled));
		if (r == 0)
			q->filled++, q->drained++;
		return r;
	}
	pthread_mutex_lock(&q->mu);
	q->filled++;
	wake(q);
	r = q->err;
	pthread_mutex_unlock(&q->mu);
	return r;
}

/* Ends the thread (which has nothing left to do, or must stop) and goes inline. */
static void stop_thread(struct chunk_ring *q)
{
	if (!q->parallel)
		return;
	pthread_mutex_lock(&q->mu);
	q->quit = true;
	pthread_cond_broadcast(&q->items);
	pthread_cond_broadcast(&q->room);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->th, NULL);
	pthread_cond_destroy(&q->items);
	pthread_cond_destroy(&q->room);
	pthread_mutex_destroy(&q->mu);
	q->parallel = false;
}

int chunk_ring_drain(struct chunk_ring *q)
{
	int r = 0;

	if (q->parallel) {
		pthread_mutex_lock(&q->mu);
		q->ended = true;
		wake(q);
		wait_room(q, 0, 0);
		r = q->err;
		pthread_mutex_unlock(&q->mu);
		stop_thread(q);
	}
	q->ended = true;
	return r;
}

struct chunk_slot *chunk_ring_next(struct chunk_ring *q)
{
	struct chunk_slot *s = NULL;

	if (!q->parallel) {
		q->drained += q->held;
		q->held = false;
		if (q->ended)
			return NULL;
		s = slot_at(q, q->filled);
		q->ended = q->step(q->ctx, s) != 0;
		q->filled++;
		q->held = true;
		return s;
	}
	pthread_mutex_lock(&q->mu);
	q->drained += q->held;
	wake(q);
	while (q->filled == q->drained && !q->ended) {
		q->waiting_items = true;
		pthread_cond_wait(&q->items, &q->mu);
		q->waiting_items = false;
	}
	if (q->filled != q->drained)
		s = slot_at(q, q->drained);
	pthread_mutex_unlock(&q->mu);
	q->held = s != NULL;
	return s;
}

void chunk_ring_free(struct chunk_ring *q)
{
	if (!q)
		return;
	stop_thread(q);
	for (size_t i = 0; i < q->nslots; i++)
		secret_free(q->slot[i].p, q->slot_size);
	free(q);
}
