/*
 * 2_object.h -- the object layer: live objects, their class, giving one back (2_object.c).
 */
#ifndef SMA_OBJECT_H
#define SMA_OBJECT_H

#include "0_layout.h"

/* 1 when off is a live object (with its usable size and kind), else 0. */
HIDDEN int sma__object_live(const struct sma *a, uint64_t off, uint64_t *usable, unsigned *kind);
/* Gives a dead object's memory back to its slab or the heap. */
HIDDEN int sma__free_object_locked(struct sma *a, uint64_t off);
/* The cache class of object off, or NCLASSES when no cache takes it. */
HIDDEN uint64_t sma__object_class(const struct sma *a, uint64_t off);

#endif /* SMA_OBJECT_H */
