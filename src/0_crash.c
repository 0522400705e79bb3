/*
 * 0_crash.c -- the crash points of the crash-test build (libsma_crash.la,
 * for tests only): every STEP() in an operation that changes the arena
 * counts one step; after sma__crash_after(n) the nth step _exits the
 * process with status 77, as a SIGKILL would stop it there.
 * sma__crash_steps() tells how many steps were taken since the last
 * sma__crash_after(), so that a test can learn how many steps an operation
 * has and then crash it at each.
 */
#ifdef SMA_CRASH_POINTS
#include <unistd.h>

static long crash_left;
static long crash_count;

void sma__crash_after(long n)
{
	crash_left = n;
	crash_count = 0;
}

long sma__crash_steps(void)
{
	return crash_count;
}

__attribute__((visibility("hidden"))) void sma__step(void)
{
	crash_count++;
	if (crash_left > 0 && --crash_left == 0)
		_exit(77);
}
#else
typedef int sma__no_crash_points; /* ISO C wants something here */
#endif
