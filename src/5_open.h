/*
 * 5_open.h -- images of an arena, for the checker (5_open.c).
 */
#ifndef SMA_OPEN_H
#define SMA_OPEN_H

#include "0_layout.h"

/* A private copy of a's segment as an image handle, and its release. */
HIDDEN struct sma *sma__image_of(const struct sma *a);
HIDDEN void sma__image_free(struct sma *a);

#endif /* SMA_OPEN_H */
