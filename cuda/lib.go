package cuda

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// library is one opened shared library and the directory it came from
// ("" when the dynamic loader found it by name).
type library struct {
	name   string
	dir    string
	handle uintptr
	extra  []uintptr // sub-libraries searched for symbols after handle
}

// sym returns the address of a function, looking in the library and then
// in the sub-libraries it was opened with.
func (l *library) sym(name string) (uintptr, error) {
	if p, err := purego.Dlsym(l.handle, name); err == nil && p != 0 {
		return p, nil
	}
	for _, h := range l.extra {
		if p, err := purego.Dlsym(h, name); err == nil && p != 0 {
			return p, nil
		}
	}
	return 0, fmt.Errorf("cuda: %s has no symbol %s", l.name, name)
}

// searchDirs returns the directories searched for a library, in order:
// $DEEPSCOPE_CUDA_LIBS, $LD_LIBRARY_PATH, then (after the loader's own
// defaults, tried by name) the usual toolkit folders and the NVIDIA pip
// wheels beside a Python installation.
func searchDirs() (first, last []string) {
	for _, v := range []string{os.Getenv("DEEPSCOPE_CUDA_LIBS"), os.Getenv("LD_LIBRARY_PATH")} {
		for _, d := range filepath.SplitList(v) {
			if d != "" {
				first = append(first, d)
			}
		}
	}
	last = append(last, "/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
		"/usr/local/nvidia/lib64", "/usr/lib/x86_64-linux-gnu")
	for _, pat := range []string{
		"/usr/lib/python3*/site-packages/nvidia/*/lib",
		"/usr/lib/python3/dist-packages/nvidia/*/lib",
		"/usr/local/lib/python3*/site-packages/nvidia/*/lib",
		"/usr/local/lib/python3*/dist-packages/nvidia/*/lib",
		"/opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib",
		"/opt/*/lib/python3*/site-packages/nvidia/*/lib",
		"/opt/conda/lib/python3*/site-packages/nvidia/*/lib",
		filepath.Join(os.Getenv("HOME"), ".local/lib/python3*/site-packages/nvidia/*/lib"),
		filepath.Join(os.Getenv("VIRTUAL_ENV"), "lib/python3*/site-packages/nvidia/*/lib"),
	} {
		m, _ := filepath.Glob(pat)
		sort.Strings(m)
		last = append(last, m...)
	}
	return first, last
}

// findIn returns the path of the newest file in dir matching one of the
// glob patterns, or "".
func findIn(dir string, patterns []string) string {
	for _, p := range patterns {
		m, _ := filepath.Glob(filepath.Join(dir, p))
		if len(m) > 0 {
			sort.Strings(m)
			return m[len(m)-1]
		}
	}
	return ""
}

// openLibrary opens the first library found: by path in the first
// directories, then by each soname through the dynamic loader, then by path
// in the last directories. deps are opened first from the same directory
// (globally, so the library's own dlopen of them finds them loaded).
func openLibrary(what string, patterns, sonames, deps []string) (*library, error) {
	first, last := searchDirs()
	tryDir := func(dir string) (*library, error) {
		p := findIn(dir, patterns)
		if p == "" {
			return nil, nil
		}
		l := &library{name: filepath.Base(p), dir: dir}
		for _, d := range deps {
			if dp := findIn(dir, []string{d}); dp != "" {
				if h, err := purego.Dlopen(dp, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
					l.extra = append(l.extra, h)
				}
			}
		}
		h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			return nil, fmt.Errorf("cuda: %s: %v", p, err)
		}
		l.handle = h
		return l, nil
	}
	var problems []string
	for _, d := range first {
		l, err := tryDir(d)
		if l != nil {
			return l, nil
		}
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	for _, s := range sonames {
		if h, err := purego.Dlopen(s, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
			return &library{name: s, handle: h}, nil
		}
	}
	for _, d := range last {
		l, err := tryDir(d)
		if l != nil {
			return l, nil
		}
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	where := append(append(append([]string{}, first...), "the dynamic loader's default paths"), last...)
	msg := fmt.Sprintf("cuda: %s not found in %s", what, strings.Join(where, ", "))
	if len(problems) > 0 {
		msg += " (" + strings.Join(problems, "; ") + ")"
	}
	return nil, fmt.Errorf("%s; set DEEPSCOPE_CUDA_LIBS to the folders that hold it", msg)
}

// libs are the CUDA libraries, opened once per process.
type libs struct {
	driver, blas, dnn, rtc *library
}

var (
	libsOnce sync.Once
	libsVal  *libs
	libsErr  error
)

// loadDriver opens libcuda.so.1 alone: enough to count devices.
var (
	driverOnce sync.Once
	driverLib  *library
	driverErr  error
)

func loadDriver() (*library, error) {
	driverOnce.Do(func() {
		driverLib, driverErr = openLibrary("libcuda.so.1 (the NVIDIA driver)",
			[]string{"libcuda.so.1"}, []string{"libcuda.so.1"}, nil)
	})
	return driverLib, driverErr
}

// loadLibs opens the driver, cuBLAS, cuDNN and NVRTC.
func loadLibs() (*libs, error) {
	libsOnce.Do(func() {
		l := &libs{}
		if l.driver, libsErr = loadDriver(); libsErr != nil {
			return
		}
		if l.rtc, libsErr = openLibrary("libnvrtc.so (NVRTC)",
			[]string{"libnvrtc.so.1[0-9]", "libnvrtc.so.1[0-9].*", "libnvrtc.so"},
			[]string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"},
			[]string{"libnvrtc-builtins.so.1[0-9].*", "libnvrtc-builtins.so"}); libsErr != nil {
			return
		}
		if l.blas, libsErr = openLibrary("libcublas.so (cuBLAS)",
			[]string{"libcublas.so.1[0-9]", "libcublas.so"},
			[]string{"libcublas.so.13", "libcublas.so.12", "libcublas.so"},
			[]string{"libcublasLt.so.1[0-9]", "libcublasLt.so"}); libsErr != nil {
			return
		}
		// cuDNN 9 is a shim over sub-libraries it opens by name; opening
		// them first from the same folder makes that work outside
		// LD_LIBRARY_PATH (PyTorch's wheels are laid out so).
		if l.dnn, libsErr = openLibrary("libcudnn.so.9 (cuDNN)",
			[]string{"libcudnn.so.9", "libcudnn.so"},
			[]string{"libcudnn.so.9", "libcudnn.so"},
			[]string{"libcudnn_graph.so.9", "libcudnn_engines_precompiled.so.9", "libcudnn_engines_runtime_compiled.so.9",
				"libcudnn_heuristic.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9", "libcudnn_adv.so.9"}); libsErr != nil {
			return
		}
		libsVal = l
	})
	return libsVal, libsErr
}

// Libraries describes the libraries in use, one "name (folder)" per line,
// after a Device has been opened; "" before.
func Libraries() string {
	if libsVal == nil {
		return ""
	}
	var b strings.Builder
	for _, l := range []*library{libsVal.driver, libsVal.blas, libsVal.dnn, libsVal.rtc} {
		dir := l.dir
		if dir == "" {
			dir = "dynamic loader"
		}
		fmt.Fprintf(&b, "%s (%s)\n", l.name, dir)
	}
	return b.String()
}

// fn is a C function taking and returning machine words.
type fn uintptr

// call runs f with args and returns the low 32 bits of its result (all the
// status codes used here are C ints).
func (f fn) call(args ...uintptr) int32 {
	r, _, _ := purego.SyscallN(uintptr(f), args...)
	return int32(r)
}

// callPtr runs f and returns its whole result (a pointer).
func (f fn) callPtr(args ...uintptr) uintptr {
	r, _, _ := purego.SyscallN(uintptr(f), args...)
	return r
}

// bind looks up each named symbol of l into the matching *fn.
func bind(l *library, fns map[string]*fn) error {
	for name, f := range fns {
		p, err := l.sym(name)
		if err != nil {
			return err
		}
		*f = fn(p)
	}
	return nil
}

// goString copies the NUL-terminated C string at p.
func goString(p uintptr) string {
	if p == 0 {
		return ""
	}
	ptr := *(*unsafe.Pointer)(unsafe.Pointer(&p))
	n := 0
	for *(*byte)(unsafe.Add(ptr, n)) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(ptr), n))
}

// cstr returns a NUL-terminated copy of s; keep the slice alive over the call.
func cstr(s string) []byte { return append([]byte(s), 0) }

// addr is the address of the first element of b, for passing to C. The
// backing array is made to escape to the heap, where nothing moves it;
// the caller keeps b alive over the call.
func addr[T any](b []T) uintptr {
	if len(b) == 0 {
		return 0
	}
	escape(b)
	return uintptr(unsafe.Pointer(&b[0]))
}

// ptr is the address of v, for passing to C; v is made to escape to the
// heap (a stack variable could move while C holds its address).
func ptr[T any](v *T) uintptr {
	escape(v)
	return uintptr(unsafe.Pointer(v))
}

// sink and never make escape's argument escape: the compiler cannot prove
// the store never happens.
var (
	//lint:ignore U1000 written, never read: the store is what makes the argument escape
	sink  any
	never bool
)

func escape(v any) {
	if never {
		sink = v
	}
}
