//go:build cudaemu && !cuda

// emu.cc: the CPU emulator's runtime (fibers, barriers, kernel registry) and
// the kernels (kern_entry.h) compiled for it. See emu_cuda.h.

#define ADB_EMU 1

#include <sys/mman.h>
#include <ucontext.h>

// Fiber switches. On x86-64 a few instructions save the callee-saved
// registers and swap stacks (swapcontext would also save the signal mask, a
// system call per switch, which made the emulator several times slower);
// elsewhere ucontext serves.
#if defined(__x86_64__)
extern "C" void emu_switch(void **save_sp, void *load_sp);
__asm__(".text\n"
        ".globl emu_switch\n"
        ".type emu_switch,@function\n"
        "emu_switch:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n"
        ".size emu_switch,.-emu_switch\n");
#define EMU_FAST_SWITCH 1
#endif

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "emu_cuda.h"
#include "emu_api.h"

namespace emu {

namespace {

struct Kernel {
	size_t size;
	entry_fn fn;
};

std::map<std::string, Kernel> &registry() {
	static std::map<std::string, Kernel> r;
	return r;
}

struct FiberState {
#ifdef EMU_FAST_SWITCH
	void *sp;
#else
	ucontext_t ctx;
#endif
	uint3 tid;
	int warp, lane;
	bool done;
	int waits; // 0 running, 1 at __syncthreads, 2 at a warp barrier
	unsigned gen;
};

const size_t kStack = 256 << 10;
const unsigned kMaxThreads = 1024;

// The launch in progress (one at a time: emu_launch holds mu).
std::mutex mu;
char *stacks;
#ifdef EMU_FAST_SWITCH
void *sched_sp;
#else
ucontext_t sched;
#endif
std::vector<FiberState> fibers;
FiberState *cur;
dim3 grid, block;
uint3 bidx;
int live, block_arrived;
unsigned block_gen;
std::vector<int> warp_live, warp_arrived;
std::vector<unsigned> warp_gen;
std::vector<std::array<uint64_t, 32>> xbuf;
std::vector<std::array<float, 256>> scratch;
std::vector<unsigned char> dyn;
entry_fn fn;
const void *args;

void release_block() {
	block_arrived = 0;
	block_gen++;
}

void release_warp(int w) {
	warp_arrived[w] = 0;
	warp_gen[w]++;
}

// to_scheduler suspends the running fiber; resume continues one.
void to_scheduler(FiberState *f) {
#ifdef EMU_FAST_SWITCH
	emu_switch(&f->sp, sched_sp);
#else
	swapcontext(&f->ctx, &sched);
#endif
}

void resume(FiberState *f) {
#ifdef EMU_FAST_SWITCH
	emu_switch(&sched_sp, f->sp);
#else
	swapcontext(&sched, &f->ctx);
#endif
}

void fiber_main() {
	fn(args);
	FiberState *f = cur;
	f->done = true;
	live--;
	warp_live[f->warp]--;
	// A thread that leaves no longer holds back the others at a barrier.
	if (block_arrived > 0 && block_arrived >= live) release_block();
	if (warp_arrived[f->warp] > 0 && warp_arrived[f->warp] >= warp_live[f->warp]) release_warp(f->warp);
#ifdef EMU_FAST_SWITCH
	void *dead;
	emu_switch(&dead, sched_sp); // never resumed
	abort();
#endif
}

// start prepares fiber i to run fiber_main on its own stack.
void start(FiberState &f, unsigned i) {
#ifdef EMU_FAST_SWITCH
	void **sp = (void **)(stacks + (size_t)(i + 1) * kStack); // 16-byte aligned top
	*--sp = nullptr;                                          // fiber_main's return address slot (never used)
	*--sp = (void *)&fiber_main;                              // emu_switch returns here
	for (int r = 0; r < 6; r++) *--sp = nullptr;              // rbp, rbx, r12–r15
	f.sp = sp;
#else
	getcontext(&f.ctx);
	f.ctx.uc_stack.ss_sp = stacks + i * kStack;
	f.ctx.uc_stack.ss_size = kStack;
	f.ctx.uc_link = &sched;
	makecontext(&f.ctx, fiber_main, 0);
#endif
}

bool stacks_ready() {
	if (stacks) return true;
	size_t n = kStack * kMaxThreads;
	void *p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) return false;
	stacks = (char *)p;
	for (unsigned i = 0; i < kMaxThreads; i++) mprotect(stacks + i * kStack, 4096, PROT_NONE); // overflow faults
	return true;
}

// run_block runs every thread of block bidx to completion; false on a
// deadlock (threads waiting at a barrier the others never reach).
bool run_block(unsigned nthreads, size_t smem) {
	dyn.assign(smem, 0xff); // uninitialised shared memory reads as NaN
	fibers.assign(nthreads, FiberState{});
	int nwarps = (int)((nthreads + 31) / 32);
	warp_live.assign(nwarps, 0);
	warp_arrived.assign(nwarps, 0);
	warp_gen.assign(nwarps, 0);
	xbuf.assign(nwarps, std::array<uint64_t, 32>{});
	scratch.assign(nwarps, std::array<float, 256>{});
	live = (int)nthreads;
	block_arrived = 0;
	block_gen = 0;
	for (unsigned i = 0; i < nthreads; i++) {
		FiberState &f = fibers[i];
		f.tid = uint3{i % block.x, (i / block.x) % block.y, i / (block.x * block.y)};
		f.warp = (int)(i / 32);
		f.lane = (int)(i % 32);
		warp_live[f.warp]++;
		start(f, i);
	}
	while (live > 0) {
		bool progress = false;
		for (FiberState &f : fibers) {
			if (f.done) continue;
			if (f.waits == 1 && f.gen == block_gen) continue;
			if (f.waits == 2 && f.gen == warp_gen[f.warp]) continue;
			f.waits = 0;
			cur = &f;
			resume(&f);
			progress = true;
		}
		if (!progress) return false;
	}
	return true;
}

} // namespace

Registrar::Registrar(const char *name, size_t size, entry_fn f) { registry()[name] = Kernel{size, f}; }

const uint3 &thread_idx() { return cur->tid; }
const uint3 &block_idx() { return bidx; }
const dim3 &block_dim() { return block; }
const dim3 &grid_dim() { return grid; }
int lane_id() { return cur->lane; }
uint64_t *warp_exchange() { return xbuf[cur->warp].data(); }
float *warp_scratch() { return scratch[cur->warp].data(); }
unsigned char *dynamic_smem() { return dyn.data(); }

void sync_block() {
	FiberState *f = cur;
	block_arrived++;
	if (block_arrived >= live) {
		release_block();
		return;
	}
	f->waits = 1;
	f->gen = block_gen;
	to_scheduler(f);
}

void sync_warp() {
	FiberState *f = cur;
	int w = f->warp;
	warp_arrived[w]++;
	if (warp_arrived[w] >= warp_live[w]) {
		release_warp(w);
		return;
	}
	f->waits = 2;
	f->gen = warp_gen[w];
	to_scheduler(f);
}

} // namespace emu

// The kernels, compiled for the emulator.
#include "kern_entry.h"

extern "C" int emu_has(const char *name) { return emu::registry().count(name) ? 1 : 0; }

extern "C" int emu_launch(const char *name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                          unsigned smem, const void *a, size_t size, char *err, size_t errlen) {
	using namespace emu;
	std::lock_guard<std::mutex> lock(mu);
	auto it = registry().find(name);
	if (it == registry().end()) {
		snprintf(err, errlen, "no kernel %s", name);
		return -1;
	}
	if (it->second.size != size) {
		snprintf(err, errlen, "kernel %s takes %zu bytes of arguments, got %zu", name, it->second.size, size);
		return -1;
	}
	unsigned n = bx * by * bz;
	if (n == 0 || n > kMaxThreads || gx == 0 || gy == 0 || gz == 0 || gy > 65535 || gz > 65535) {
		snprintf(err, errlen, "kernel %s: bad launch grid (%u,%u,%u) × block (%u,%u,%u)", name, gx, gy, gz, bx, by, bz);
		return -1;
	}
	if (!stacks_ready()) {
		snprintf(err, errlen, "emulator: cannot map fiber stacks");
		return -1;
	}
	grid = dim3{gx, gy, gz};
	block = dim3{bx, by, bz};
	fn = it->second.fn;
	std::vector<unsigned char> copy((const unsigned char *)a, (const unsigned char *)a + size);
	args = copy.data();
	for (unsigned z = 0; z < gz; z++)
		for (unsigned y = 0; y < gy; y++)
			for (unsigned x = 0; x < gx; x++) {
				bidx = uint3{x, y, z};
				if (!run_block(n, smem)) {
					snprintf(err, errlen, "kernel %s, block (%u,%u,%u): deadlock, threads wait at a barrier the others never reach",
					         name, x, y, z);
					return -1;
				}
			}
	return 0;
}

extern "C" int emu_attn_tc_smem(int hd) {
	switch (hd) {
	case 32: return attn_tc_smem<32>::bytes;
	case 64: return attn_tc_smem<64>::bytes;
	case 128: return attn_tc_smem<128>::bytes;
	}
	return -1;
}
