package segment

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestFillZoomedCrop reads zoomed crops of vertical stripes 8 pixels wide,
// each stripe its own object, and checks the classes and the input: no
// background, boundary pixels in the proportion the zoom implies (two
// boundary columns per stripe of 8z columns), one input value throughout
// (the image is a constant grey), and the same crop again from the same
// generator state.
func TestFillZoomedCrop(t *testing.T) {
	const w, h, size, zoom = 200, 150, 48, 0.5
	im := trainImage{w: w, h: h, c: 1, q: make([]uint8, w*h), lab: make([]int32, w*h)}
	for i := range im.lab {
		im.q[i] = 128
		im.lab[i] = int32(i%w/8) + 1
	}
	x, cls := make([]float32, size*size), make([]int, size*size)
	lab := make([]int32, (size+2)*(size+2))
	var zs []float64
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 1))
		z := math.Exp((2*rand.New(rand.NewPCG(seed, 1)).Float64() - 1) * math.Log1p(zoom)) // the crop's first draw
		zs = append(zs, z)
		fillZoomedCrop(&im, size, zoom, 0, rng, x, cls, nil, lab)
		counts := [NumClasses]int{}
		for _, c := range cls {
			counts[c]++
		}
		frac := float64(counts[Boundary]) / float64(size*size)
		if want := 2 / (8 * z); counts[Background] != 0 || math.Abs(frac-want) > 0.35*want {
			t.Errorf("zoom %.2f: classes %v: boundary fraction %.3f, want about %.3f and no background", z, counts, frac, want)
		}
		for _, v := range x {
			if math.Abs(float64(v-x[0])) > 1e-5 {
				t.Fatalf("zoom %.2f: input %v and %v in a constant image", z, x[0], v)
			}
		}
		again := make([]int, len(cls))
		fillZoomedCrop(&im, size, zoom, 0, rand.New(rand.NewPCG(seed, 1)), make([]float32, len(x)), again, nil, lab)
		for i := range cls {
			if cls[i] != again[i] {
				t.Fatalf("zoom %.2f: the same generator state gave another crop", z)
			}
		}
	}
	lo, hi := slices.Min(zs), slices.Max(zs)
	if lo > 0.8 || hi < 1.25 || lo < 1/(1+zoom)-1e-9 || hi > 1+zoom+1e-9 {
		t.Errorf("zooms span [%.2f, %.2f]; want most of [%.2f, %.2f] and nothing outside", lo, hi, 1/(1+zoom), 1+zoom)
	}
}

// TestCropsKeepChannels reads crops of a three-channel image whose
// channels hold 40, 120 and 200 everywhere: every pixel of every crop,
// zoomed or not, must show the three values in order, jittered alike.
func TestCropsKeepChannels(t *testing.T) {
	const w, h, size = 90, 70, 32
	im := trainImage{w: w, h: h, c: 3, q: make([]uint8, 3*w*h), cls: make([]uint8, w*h), lab: make([]int32, w*h)}
	for i := range w * h {
		im.q[3*i], im.q[3*i+1], im.q[3*i+2] = 40, 120, 200
	}
	x, cls := make([]float32, 3*size*size), make([]int, size*size)
	lab := make([]int32, (size+2)*(size+2))
	for seed := range uint64(10) {
		for _, zoomed := range []bool{false, true} {
			rng := rand.New(rand.NewPCG(seed, 2))
			if zoomed {
				fillZoomedCrop(&im, size, 0.5, 0, rng, x, cls, nil, lab)
			} else {
				fillCrop(&im, size, 0, rng, x, cls, nil, nil, nil, nil, nil)
			}
			// x = 2(v/255 gain + shift) - 1: the steps between channels
			// are equal, and the same at every pixel.
			step := x[1] - x[0]
			for i := range size * size {
				a, b, c := x[3*i], x[3*i+1], x[3*i+2]
				if math.Abs(float64(b-a-step)) > 1e-4 || math.Abs(float64(c-b-step)) > 1e-4 || step <= 0 {
					t.Fatalf("zoomed %v, pixel %d: channels %v %v %v, want equal rising steps of %v", zoomed, i, a, b, c, step)
				}
			}
		}
	}
}

// TestCropsCarryContact checks that the contact values of a crop come from
// the same source pixels as its classes and inputs. Unzoomed: every pixel
// holds a random code, as its input, its contact value and (mod 3) its
// class, and every crop pixel must agree with itself. Zoomed: vertical
// stripes alternate between contact 0 and 1, so each crop, whatever its
// turn, must be constant along its rows or along its columns, and about
// half ones.
func TestCropsCarryContact(t *testing.T) {
	const w, h, size = 90, 70, 32
	rng := rand.New(rand.NewPCG(4, 4))
	im := trainImage{w: w, h: h, c: 1, q: make([]uint8, w*h), cls: make([]uint8, w*h), contact: make([]uint8, w*h)}
	for i := range w * h {
		code := uint8(rng.IntN(256))
		im.q[i], im.contact[i], im.cls[i] = code, code, code%3
	}
	x, cls, e := make([]float32, size*size), make([]int, size*size), make([]float32, size*size)
	for seed := range uint64(10) {
		fillCrop(&im, size, 0, rand.New(rand.NewPCG(seed, 3)), x, cls, e, nil, nil, nil, nil)
		input := map[int]float32{}
		for o := range size * size {
			code := int(math.Round(float64(e[o]) * 255))
			if v, ok := input[code]; (ok && v != x[o]) || cls[o] != code%3 {
				t.Fatalf("crop %d, pixel %d: contact code %d with class %d and input %v (input %v elsewhere)", seed, o, code, cls[o], x[o], v)
			}
			input[code] = x[o]
		}
	}

	stripes := trainImage{w: w, h: h, c: 1, q: make([]uint8, w*h), lab: make([]int32, w*h), contact: make([]uint8, w*h)}
	for i := range w * h {
		stripes.lab[i] = int32(i%w/8) + 1
		stripes.contact[i] = uint8(255 * (i % w / 8 % 2))
	}
	lab := make([]int32, (size+2)*(size+2))
	for seed := range uint64(10) {
		fillZoomedCrop(&stripes, size, 0.5, 0, rand.New(rand.NewPCG(seed, 3)), x, cls, e, lab)
		rows, cols, ones := true, true, 0
		for i := range size {
			for j := range size {
				rows = rows && e[i*size+j] == e[i*size]
				cols = cols && e[i*size+j] == e[j]
				if e[i*size+j] == 1 {
					ones++
				}
			}
		}
		if frac := float64(ones) / (size * size); !(rows || cols) || frac < 0.25 || frac > 0.75 {
			t.Errorf("zoomed crop %d: contact constant along rows %v, along columns %v, ones %.2f: want stripes, about half ones", seed, rows, cols, frac)
		}
	}
}

// TestObjectCrops places crops on the one small object of a large image:
// with ObjectCrops 1 every crop, zoomed or not, must show it, and with 0
// (crops anywhere) few do. objectPixels must give one pixel of each
// object, inside it.
func TestObjectCrops(t *testing.T) {
	const w, h, size = 400, 300, 32
	l := &Labels{W: w, H: h, Pix: make([]int32, w*h)}
	for y := 280; y < 290; y++ { // object 1: a 10x10 square near a corner
		for x := 380; x < 390; x++ {
			l.Pix[y*w+x] = 1
		}
	}
	for y := 5; y < 9; y++ { // object 2: a thin bar at the top edge
		for x := 0; x < 30; x++ {
			l.Pix[y*w+x] = 2
		}
	}
	objs := objectPixels(l)
	if len(objs) != 2 || l.Pix[objs[0]] != 2 || l.Pix[objs[1]] != 1 {
		t.Fatalf("objectPixels: %v, want one pixel of object 2, then one of object 1", objs)
	}
	im := trainImage{w: w, h: h, c: 1, q: make([]uint8, w*h), cls: Targets(l), lab: l.Pix, objects: objs}
	x, cls := make([]float32, size*size), make([]int, size*size)
	lab := make([]int32, (size+2)*(size+2))
	shown := func(zoomed bool, objects float64, seed uint64) bool {
		rng := rand.New(rand.NewPCG(seed, 7))
		if zoomed {
			fillZoomedCrop(&im, size, 0.5, objects, rng, x, cls, nil, lab)
		} else {
			fillCrop(&im, size, objects, rng, x, cls, nil, nil, nil, nil, nil)
		}
		return slices.ContainsFunc(cls, func(c int) bool { return c != Background })
	}
	for _, zoomed := range []bool{false, true} {
		on, anywhere := 0, 0
		for seed := range uint64(200) {
			if shown(zoomed, 1, seed) {
				on++
			}
			if shown(zoomed, 0, seed) {
				anywhere++
			}
		}
		if on != 200 || anywhere > 60 {
			t.Errorf("zoomed %v: %d of 200 crops placed on objects show one, want 200; %d placed anywhere do, want few", zoomed, on, anywhere)
		}
	}
}

// TestEpochImagesBalance draws epochs from 90 grey fluorescence images
// and 10 colour brightfield ones: with Balance 0 each epoch is a
// permutation, with 1 the two kinds share the crops about equally, with
// 0.5 as √90 to √10, and every epoch is drawn again the same.
func TestEpochImagesBalance(t *testing.T) {
	tr := &trainer{cfg: Config{Seed: 3}}
	for i := range 100 {
		tr.train = append(tr.train, trainImage{kind: kindOf(i >= 90, i >= 90)})
	}
	sorted := slices.Sorted(slices.Values(tr.epochImages(2)))
	for i, v := range sorted {
		if v != i || len(sorted) != 100 {
			t.Fatalf("balance 0: epoch of images %v is not a permutation of 0..99", sorted)
		}
	}
	for _, c := range []struct{ balance, want float64 }{{1, 0.5}, {0.5, math.Sqrt(10) / (math.Sqrt(10) + math.Sqrt(90))}} {
		tr.cfg.Balance = c.balance
		colour, n := 0, 0
		for epoch := range 50 {
			got := tr.epochImages(epoch)
			if len(got) != 100 || !slices.Equal(got, tr.epochImages(epoch)) {
				t.Fatalf("balance %g, epoch %d: %d images, or not the same when drawn again", c.balance, epoch, len(got))
			}
			for _, i := range got {
				if tr.train[i].kind == kindOf(true, true) {
					colour++
				}
				n++
			}
		}
		if frac := float64(colour) / float64(n); math.Abs(frac-c.want) > 0.04 {
			t.Errorf("balance %g: colour brightfield share %.3f, want %.3f", c.balance, frac, c.want)
		}
	}
}
