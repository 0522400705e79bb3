// boost_ipc.cpp -- Boost.Interprocess behind the benchmark's C calls.
//
// A managed_xsi_shared_memory is the System V segment Boost users pick
// today: objects are allocated and deallocated through its segment manager
// (a best-fit allocator under one process-shared mutex).  The segment is
// made on IPC_PRIVATE with mode 0600; processes forked after bb_create
// inherit the attachment.  Handles are offsets from the segment's address,
// as sma's are from its own, so the loops treat both alike.

#include <boost/interprocess/managed_xsi_shared_memory.hpp>
#include <boost/version.hpp>

#include <new>

#include "bench.h"

namespace bip = boost::interprocess;

struct bench_boost {
	explicit bench_boost(std::size_t size)
		: seg(bip::create_only, bip::xsi_key(), size, 0,
		      bip::permissions(0600))
	{
		base = static_cast<char *>(seg.get_address());
	}
	bip::managed_xsi_shared_memory seg;
	char *base; // the segment's address in this process
};

extern "C" struct bench_boost *bb_create(std::size_t size)
{
	try {
		return new bench_boost(size);
	} catch (...) {
		return nullptr; // Boost removes what it made before throwing
	}
}

extern "C" void bb_destroy(struct bench_boost *b)
{
	bip::xsi_shared_memory::remove(b->seg.get_shmid());
	delete b; // detaches
}

extern "C" char *bb_base(struct bench_boost *b)
{
	return b->base;
}

extern "C" std::size_t bb_size(struct bench_boost *b)
{
	return b->seg.get_size();
}

extern "C" uint64_t bb_alloc(struct bench_boost *b, std::size_t n)
{
	void *p = b->seg.allocate(n, std::nothrow);

	return p ? static_cast<uint64_t>(static_cast<char *>(p) - b->base) : 0;
}

extern "C" void bb_free(struct bench_boost *b, uint64_t off)
{
	b->seg.deallocate(b->base + off);
}

extern "C" const char *bb_version(void)
{
	return BOOST_LIB_VERSION;
}
