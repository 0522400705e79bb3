/*
 * 5_open.h -- what the other public calls take from the opening (5_open.c).
 */
#ifndef SMA_OPEN_H
#define SMA_OPEN_H

#include "0_layout.h"

/* The library's one-time set-up (atfork, the repair hook). */
HIDDEN void sma__init_once(void);
/* A private copy of a's segment as an image handle, and its release. */
HIDDEN struct sma *sma__image_of(const struct sma *a);
HIDDEN void sma__image_free(struct sma *a);

#endif /* SMA_OPEN_H */
