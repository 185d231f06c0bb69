package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// The worker pool: a fixed set of goroutines started once, fed through an
// unbuffered channel. A Parallel call hands chunks to idle workers and runs
// the rest itself, so nested Parallel calls never deadlock: when no worker is
// free the caller simply does the work.

type job struct {
	fn     func(lo, hi int)
	lo, hi int
	wg     *sync.WaitGroup
}

var (
	poolMu   sync.Mutex
	jobs     chan job
	nthreads atomic.Int32
	workers  int // pool goroutines started so far; the caller is the extra thread
	wgPool   = sync.Pool{New: func() any { return new(sync.WaitGroup) }}
)

func init() { SetThreads(0) }

// SetThreads sets how many threads kernels use, starting workers as needed.
// n <= 0 means runtime.GOMAXPROCS(0). Threads beyond the first are pool
// workers; lowering n leaves idle workers parked.
func SetThreads(n int) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	poolMu.Lock()
	defer poolMu.Unlock()
	if jobs == nil {
		jobs = make(chan job)
	}
	for ; workers < n-1; workers++ {
		go worker()
	}
	nthreads.Store(int32(n))
}

// Threads returns the number of threads kernels use.
func Threads() int { return int(nthreads.Load()) }

func worker() {
	for j := range jobs {
		j.fn(j.lo, j.hi)
		j.wg.Done()
	}
}

// Parallel splits [0, n) into at most Threads() contiguous chunks of at least
// grain items and calls fn on each, concurrently, returning when all are done.
// fn must be safe to run concurrently on disjoint ranges.
func Parallel(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	chunks := Threads()
	if m := (n + grain - 1) / grain; m < chunks {
		chunks = m
	}
	if chunks <= 1 {
		fn(0, n)
		return
	}
	wg := wgPool.Get().(*sync.WaitGroup)
	size, rest := n/chunks, n%chunks
	lo := 0
	var mine [2]int
	for c := 0; c < chunks; c++ {
		hi := lo + size
		if c < rest {
			hi++
		}
		if c == 0 {
			mine = [2]int{lo, hi}
		} else {
			wg.Add(1)
			select {
			case jobs <- job{fn, lo, hi, wg}:
			default:
				fn(lo, hi)
				wg.Done()
			}
		}
		lo = hi
	}
	fn(mine[0], mine[1])
	wg.Wait()
	wgPool.Put(wg)
}
