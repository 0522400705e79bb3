/*
 * 3_registry.h -- the handles of this process, by id (3_registry.c).
 */
#ifndef SMA_REGISTRY_H
#define SMA_REGISTRY_H

#include "0_layout.h"

HIDDEN extern pthread_mutex_t sma__registry_lock;
HIDDEN extern struct sma *sma__registry;
/* The handle of id hid, or NULL; call with sma__registry_lock held. */
HIDDEN struct sma *sma__registry_find(uint64_t hid);
/* Gives a its id and lists it; unlists it. */
HIDDEN void sma__registry_add(struct sma *a);
HIDDEN void sma__registry_remove(struct sma *a);

#endif /* SMA_REGISTRY_H */
