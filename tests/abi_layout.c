/*
 * abi_layout.c -- prints the layout of every struct include/sma.h exports,
 * one line per struct (its size) and per field (its offset and size), for
 * tests/test_abi.sh to compare with tests/abi.expected.
 *
 * A field added in place of reserved words is a compatible change: list
 * it here, and the line of reserved shows the words that are left.
 */
#include <stddef.h>
#include <stdio.h>

#include "sma.h"

#define STRUCT(s) printf("size %s %zu\n", #s, sizeof(struct s))
#define FIELD(s, f) \
	printf("field %s.%s %zu %zu\n", #s, #f, offsetof(struct s, f), sizeof(((struct s *)0)->f))

int main(void)
{
	STRUCT(sma_stats);
	FIELD(sma_stats, size);
	FIELD(sma_stats, heap_size);
	FIELD(sma_stats, used);
	FIELD(sma_stats, free);
	FIELD(sma_stats, largest_free);
	FIELD(sma_stats, live);
	FIELD(sma_stats, allocs);
	FIELD(sma_stats, frees);
	FIELD(sma_stats, nattch);
	FIELD(sma_stats, reserved);

	STRUCT(sma_info);
	FIELD(sma_info, shmid);
	FIELD(sma_info, key);
	FIELD(sma_info, semid);
	FIELD(sma_info, layout_version);
	FIELD(sma_info, readonly);
	FIELD(sma_info, destroyed);
	FIELD(sma_info, uid);
	FIELD(sma_info, gid);
	FIELD(sma_info, cuid);
	FIELD(sma_info, cgid);
	FIELD(sma_info, mode);
	FIELD(sma_info, cpid);
	FIELD(sma_info, lpid);
	FIELD(sma_info, atime);
	FIELD(sma_info, dtime);
	FIELD(sma_info, ctime);
	FIELD(sma_info, size);
	FIELD(sma_info, nattch);
	FIELD(sma_info, path_dev);
	FIELD(sma_info, path_ino);
	FIELD(sma_info, created);
	FIELD(sma_info, lock_holder);
	FIELD(sma_info, lock_in_op);
	FIELD(sma_info, lock_ops);
	FIELD(sma_info, repairs);
	FIELD(sma_info, nslots);
	FIELD(sma_info, slots_used);
	FIELD(sma_info, nclasses);
	FIELD(sma_info, cached);
	FIELD(sma_info, sem_gone);
	FIELD(sma_info, sets_replaced);
	FIELD(sma_info, nsegs);
	FIELD(sma_info, limit);
	FIELD(sma_info, lock_waits);
	FIELD(sma_info, sem_ops);
	FIELD(sma_info, reserved);

	STRUCT(sma_class_stats);
	FIELD(sma_class_stats, size);
	FIELD(sma_class_stats, slab);
	FIELD(sma_class_stats, slabs);
	FIELD(sma_class_stats, used);
	FIELD(sma_class_stats, total);
	FIELD(sma_class_stats, requests);
	FIELD(sma_class_stats, failures);
	FIELD(sma_class_stats, cached);
	FIELD(sma_class_stats, reserved);

	STRUCT(sma_slot_info);
	FIELD(sma_slot_info, slot);
	FIELD(sma_slot_info, pid);
	FIELD(sma_slot_info, tid);
	FIELD(sma_slot_info, alive);
	FIELD(sma_slot_info, cached);
	FIELD(sma_slot_info, cached_bytes);
	FIELD(sma_slot_info, allocs);
	FIELD(sma_slot_info, frees);
	FIELD(sma_slot_info, reserved);

	STRUCT(sma_ls_entry);
	FIELD(sma_ls_entry, orphan);
	FIELD(sma_ls_entry, key);
	FIELD(sma_ls_entry, shmid);
	FIELD(sma_ls_entry, semid);
	FIELD(sma_ls_entry, size);
	FIELD(sma_ls_entry, nattch);
	FIELD(sma_ls_entry, uid);
	FIELD(sma_ls_entry, mode);
	FIELD(sma_ls_entry, cpid);
	FIELD(sma_ls_entry, destroyed);
	FIELD(sma_ls_entry, used);
	FIELD(sma_ls_entry, live);
	FIELD(sma_ls_entry, reserved);

	STRUCT(sma_mutex);
	FIELD(sma_mutex, opaque);
	return 0;
}
