/*
 * tests/test_open_races.c -- arenas made and removed while other processes
 * race them: many processes creating one new path at the same instant
 * share one arena made once, and an arena destroyed while another process
 * lists every arena (as sma ls does) leaves no semaphore set behind.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- many processes creating one arena ----------------------------------------------- */

#define RACERS 8
#define RACE_ROUNDS 4

struct race {
	const char *path;     /* the path all create */
	struct t_gate gate;   /* lets them go together */
	int out;	      /* write end of the pipe for the reports */
};

struct race_report {
	pid_t pid;     /* the child */
	int shmid;     /* the segment it opened */
	sma_off_t off; /* the object it made, holding its pid */
};

static int create_at_once(void *arg)
{
	struct race *r = arg;
	struct race_report rep;
	sma_t *a;

	t_gate_wait(&r->gate);
	a = sma_open(r->path, SMA_CREATE, T_MIB(4), 0600);
	T_REQUIRE(a != NULL);
	rep.pid = getpid();
	rep.shmid = sma_shmid(a);
	rep.off = sma_alloc(a, 64);
	T_REQUIRE(rep.off != SMA_NULL);
	memcpy(sma_ptr(a, rep.off), &rep.pid, sizeof(rep.pid));
	T_REQUIRE(t_write_all(r->out, &rep, sizeof(rep)) == 0);
	T_REQUIRE(sma_close(a) == 0);
	return 0;
}

static void test_eight_processes_creating_one_new_path_at_once_share_one_arena_made_once(
	void **state)
{
	for (int round = 0; round < RACE_ROUNDS; round++) {
		struct race r;
		struct race_report rep[RACERS];
		pid_t pid[RACERS];
		struct sma_stats st;
		int fd[2];
		sma_t *a;

		r.path = t_path("race");
		t_gate_init(&r.gate);
		t_pipe(fd);
		r.out = fd[1];
		for (int i = 0; i < RACERS; i++)
			pid[i] = t_fork(create_at_once, &r);
		close(fd[1]);
		assert_int_equal(t_gate_release(&r.gate, RACERS), RACERS);
		for (int i = 0; i < RACERS; i++)
			assert_int_equal(t_read_all(fd[0], &rep[i], sizeof(rep[i])), 0);
		close(fd[0]);
		for (int i = 0; i < RACERS; i++)
			t_wait_ok(pid[i]);

		a = OPEN_OK(sma_open(r.path, 0, 0, 0));
		st = t_stats(a);
		assert_int_equal(st.live, RACERS);
		assert_int_equal(st.allocs, RACERS);
		assert_int_equal(t_nattch(a, 1), 1);
		for (int i = 0; i < RACERS; i++) {
			pid_t owner;
			assert_int_equal(rep[i].shmid, sma_shmid(a));
			for (int j = 0; j < i; j++)
				assert_int_not_equal(rep[i].off, rep[j].off);
			memcpy(&owner, sma_ptr(a, rep[i].off), sizeof(owner));
			assert_int_equal(owner, rep[i].pid);
		}
		t_assert_check(a);
		for (int i = 0; i < RACERS; i++)
			assert_int_equal(sma_free(a, rep[i].off), 0);
		t_destroy(a);
	}
}

/* ---- destroy while another process lists the arenas ------------------------------ */

static int list_slowly(const struct sma_ls_entry *e, void *arg)
{
	(void)e;
	(void)arg;
	usleep(1000);
	return 0;
}

static int lister(void *arg)
{
	sma_t *a = arg;

	/* The inherited handle is closed as a program would; what remains is
	 * a process looking at every arena, as sma ls does. */
	T_REQUIRE(sma_close(a) == 0);
	T_REQUIRE(sma_ls(list_slowly, NULL) == 0);
	return 0;
}

static void test_an_arena_destroyed_while_another_process_lists_arenas_leaves_no_semaphore_set(void **state)
{
	(void)state;
	for (int round = 0; round < 40; round++) {
		sma_t *a = t_open_private(SMA_MIN_SIZE);
		int semid = sma_semid(a);
		pid_t pid = t_fork(lister, a);

		usleep((useconds_t)(round % 7) * 300);
		t_destroy(a);
		t_wait_ok(pid);
		assert_false(t_sem_exists(semid));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_an_arena_destroyed_while_another_process_lists_arenas_leaves_no_semaphore_set),
		T_TEST(test_eight_processes_creating_one_new_path_at_once_share_one_arena_made_once),
	};
	return T_RUN_GROUP(tests);
}
