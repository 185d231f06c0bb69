package tensor

import "sync"

// Spreading one GEMM over threads. Each thread runs the serial blocked
// algorithm on its own part of the problem with its own packing buffers,
// so the threads never wait on each other. The problem is cut along m, n
// or k, whichever leaves each thread the fewest values to pack or stream
// beyond its share: cutting m makes every thread pack all of op(B),
// cutting n makes every thread go through all of op(A), and cutting k (for
// a small C and a long k, as in a convolution's weight gradient) costs a
// partial C per extra thread and a final reduction.

// parallelFlops is the size m*n*k from which Gemm uses more than one thread.
const parallelFlops = 1 << 20

// gemmSplit names the dimension a problem is cut along.
type gemmSplit int

const (
	splitNone gemmSplit = iota
	splitM
	splitN
	splitK
)

// forceSplit, when not splitNone, overrides chooseSplit (for measurements).
var forceSplit gemmSplit

// chooseSplit returns how to cut an m×n×k problem over t threads.
func chooseSplit(m, n, k, t int) gemmSplit {
	if t <= 1 || m*n*k < parallelFlops {
		return splitNone
	}
	if forceSplit != splitNone {
		return forceSplit
	}
	nc := func(cols int) int { return (cols + blockNCInPlace - 1) / blockNCInPlace }
	const inf = int(^uint(0) >> 1)
	costM, costN, costK := inf, inf, inf
	if m >= t*mr {
		costM = k*n + m/t*k*nc(n)
	}
	if n >= t*nr {
		costN = n/t*k + m*k*nc(n/t)
	}
	if k >= t*64 {
		costK = k/t*n + m*(k/t)*nc(n) + 2*m*n
	}
	switch {
	case costM == inf && costN == inf && costK == inf:
		return splitNone
	case costM <= costN && costM <= costK:
		return splitM
	case costN <= costK:
		return splitN
	}
	return splitK
}

// gemmTask is one parallel Gemm call's shared state. Tasks are kept on a
// free list with their closures made once, so a call allocates nothing.
type gemmTask struct {
	g      gemmOp
	s      gemmSplit
	m, n   int
	k      int
	size   int
	beta   float32
	c      []float32
	ldc    int
	works  [maxParts]*gemmWork
	run    func(lo, hi int) // t.part, bound once
	reduce func(lo, hi int) // t.sum, bound once
	parts  int
}

// maxParts bounds the number of parts one call is cut into.
const maxParts = 64

var (
	taskMu   sync.Mutex
	taskFree []*gemmTask
)

func getTask() *gemmTask {
	taskMu.Lock()
	defer taskMu.Unlock()
	if n := len(taskFree); n > 0 {
		t := taskFree[n-1]
		taskFree = taskFree[:n-1]
		return t
	}
	t := new(gemmTask)
	t.run = t.part
	t.reduce = t.sum
	return t
}

func putTask(t *gemmTask) {
	t.g, t.c = gemmOp{}, nil // drop references to the caller's matrices
	taskMu.Lock()
	taskFree = append(taskFree, t)
	taskMu.Unlock()
}

// blocked computes C with the packed algorithm on up to Threads() threads.
func (g *gemmOp) blocked(m, n, k int, beta float32, c []float32, ldc int) {
	t := min(Threads(), maxParts)
	s := chooseSplit(m, n, k, t)
	pm, pn, pk := m, n, k
	size := 0
	switch s {
	case splitNone:
		t = 1
	case splitM:
		size = ((m+t-1)/t + mr - 1) / mr * mr
		t, pm = (m+size-1)/size, size
	case splitN:
		size = ((n+t-1)/t + nr - 1) / nr * nr
		t, pn = (n+size-1)/size, size
	case splitK:
		size = (k + t - 1) / t
		t, pk = (k+size-1)/size, size
	}
	na, nb := g.bufSizes(pm, pn, pk)
	if s == splitNone {
		w := getWork(na, nb, 0)
		g.serial(0, m, 0, n, 0, k, beta, c, ldc, w)
		putWork(w)
		return
	}
	npart := 0
	if s == splitK {
		npart = m * n
	}
	task := getTask()
	task.g, task.s, task.m, task.n, task.k, task.size = *g, s, m, n, k, size
	task.beta, task.c, task.ldc, task.parts = beta, c, ldc, t
	for i := 0; i < t; i++ {
		task.works[i] = getWork(na, nb, npart)
	}
	Parallel(t, 1, task.run)
	if s == splitK {
		Parallel(m, 16, task.reduce)
	}
	for i := 0; i < t; i++ {
		putWork(task.works[i])
		task.works[i] = nil
	}
	putTask(task)
}

// part computes parts lo..hi of the task.
func (t *gemmTask) part(lo, hi int) {
	g, m, n, k, size, c, ldc := &t.g, t.m, t.n, t.k, t.size, t.c, t.ldc
	for i := lo; i < hi; i++ {
		w := t.works[i]
		switch t.s {
		case splitM:
			m0, m1 := i*size, min(m, (i+1)*size)
			g.serial(m0, m1, 0, n, 0, k, t.beta, c[m0*ldc:], ldc, w)
		case splitN:
			n0, n1 := i*size, min(n, (i+1)*size)
			g.serial(0, m, n0, n1, 0, k, t.beta, c[n0:], ldc, w)
		case splitK:
			k0, k1 := i*size, min(k, (i+1)*size)
			if i == 0 {
				g.serial(0, m, 0, n, k0, k1, t.beta, c, ldc, w)
			} else {
				g.serial(0, m, 0, n, k0, k1, 0, w.part, n, w)
			}
		}
	}
}

// sum adds the partial products of a k split into rows lo..hi of C.
func (t *gemmTask) sum(lo, hi int) {
	n := t.n
	for i := lo; i < hi; i++ {
		row := t.c[i*t.ldc : i*t.ldc+n]
		for p := 1; p < t.parts; p++ {
			axpy(1, t.works[p].part[i*n:i*n+n], row)
		}
	}
}
