package data

import (
	"crypto/sha256"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// DefaultNearDistance is the Hamming distance between perceptual hashes at
// or under which Check calls two images near duplicates.
const DefaultNearDistance = 4

// CheckConfig configures Check.
type CheckConfig struct {
	// Workers is the number of goroutines reading and decoding (default
	// GOMAXPROCS).
	Workers int
	// NearDistance is the largest Hamming distance between perceptual
	// hashes of near duplicates: 0 means DefaultNearDistance, a negative
	// value turns the near-duplicate search off, and at most 32 is allowed.
	NearDistance int
	// Progress, if set, is called now and then with the number of items
	// examined so far (from one goroutine at a time).
	Progress func(done, total int)
}

// itemFacts is what Check learns about one item.
type itemFacts struct {
	info  ImageInfo
	err   error
	sha   [32]byte
	phash uint64
}

// Check reads and decodes every image of ds and reports what would spoil
// training or evaluation: unreadable, truncated or oversized files,
// extensions that lie about the format, exact duplicates (equal SHA-256 of
// the bytes) and near duplicates (perceptual hashes within NearDistance
// bits), flagging groups that cross splits (leakage) or carry different
// labels, empty classes; and it describes the data: class and split
// counts, imbalance, sizes, channels, bit depths and formats. The error is
// for a bad configuration; problems with the data are in the Report.
func Check(ds *Dataset, cfg CheckConfig) (*Report, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	near := cfg.NearDistance
	if near == 0 {
		near = DefaultNearDistance
	}
	if near > 32 {
		return nil, fmt.Errorf("data: near-duplicate distance %d is over 32 of the hash's 64 bits", near)
	}
	facts := make([]itemFacts, len(ds.Items))
	var next, done atomic.Int64
	var progressMu sync.Mutex
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for {
				i := int(next.Add(1) - 1)
				if i >= len(facts) {
					return
				}
				buf = examine(ds, i, &facts[i], buf)
				if d := done.Add(1); cfg.Progress != nil && (d%256 == 0 || int(d) == len(facts)) {
					progressMu.Lock()
					cfg.Progress(int(d), len(facts))
					progressMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return buildReport(ds, facts, near), nil
}

// examine fills f for item i, reusing buf for the file's bytes.
func examine(ds *Dataset, i int, f *itemFacts, buf []byte) []byte {
	if ds.arrays != nil {
		a, row, err := ds.arrayRow(i)
		if err != nil {
			f.err = err
			return buf
		}
		f.info = ImageInfo{Format: "npz", Width: a.w, Height: a.h, Channels: a.c, BitDepth: 8}
		f.sha = sha256.Sum256(a.rowBytes(row))
		f.phash = PHash(a.image(row))
		return buf
	}
	path := ds.FilePath(i)
	b, err := readFileInto(path, buf)
	if err != nil {
		f.err = err
		return buf
	}
	f.sha = sha256.Sum256(b)
	if f.info, err = DecodeInfo(path, b); err != nil {
		f.err = err
		return b[:0]
	}
	img, _, err := decodeImage(path, b)
	if err != nil {
		f.err = err
		return b[:0]
	}
	f.phash = PHash(imageToTensor(img))
	return b[:0]
}

// duplicateGroups returns the groups of items (two or more) whose key is equal.
func duplicateGroups[K comparable](n int, key func(i int) (K, bool)) [][]int {
	by := map[K][]int{}
	var order []K
	for i := range n {
		k, ok := key(i)
		if !ok {
			continue
		}
		if by[k] == nil {
			order = append(order, k)
		}
		by[k] = append(by[k], i)
	}
	var out [][]int
	for _, k := range order {
		if len(by[k]) > 1 {
			out = append(out, by[k])
		}
	}
	slices.SortFunc(out, func(a, b []int) int { return a[0] - b[0] })
	return out
}
