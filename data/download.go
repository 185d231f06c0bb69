package data

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// DownloadOptions configures Download.
type DownloadOptions struct {
	// Client makes the requests (default http.DefaultClient; the context,
	// not a timeout, bounds a long download).
	Client *http.Client
	// Retries is how many times a failed transfer is resumed (default 3;
	// negative: none).
	Retries int
	// RetryDelay is the wait before the first retry, doubled after each
	// (default 2 s).
	RetryDelay time.Duration
	// Progress, if set, is called as bytes arrive with the bytes on disk
	// and the total (-1 when unknown).
	Progress func(done, total int64)
}

// Download fetches url into the file dest and checks that its MD5 is
// md5hex (hex; "" skips the check). Bytes go first to dest+".part"; a
// transfer that breaks is resumed where it stopped with an HTTP Range
// request, on this call's retries or on a later call. Only a complete,
// verified file is renamed to dest, and a .part whose checksum is wrong is
// deleted. If dest already exists with the right checksum, nothing is
// fetched.
func Download(ctx context.Context, url, dest, md5hex string, opt DownloadOptions) error {
	if opt.Client == nil {
		opt.Client = http.DefaultClient
	}
	if opt.Retries == 0 {
		opt.Retries = 3
	}
	if opt.RetryDelay == 0 {
		opt.RetryDelay = 2 * time.Second
	}
	md5hex = strings.ToLower(md5hex)
	if _, err := os.Stat(dest); err == nil {
		if md5hex == "" {
			return nil
		}
		if sum, err := fileMD5(dest); err == nil && sum == md5hex {
			return nil
		}
		// A wrong or unreadable dest is replaced once a verified copy is in.
	}
	part := dest + ".part"
	delay := opt.RetryDelay
	for attempt := 0; ; attempt++ {
		err := fetch(ctx, opt, url, part)
		if err == nil {
			break
		}
		var perm *permanentError
		if ctx.Err() != nil || errors.As(err, &perm) || attempt >= opt.Retries {
			return fmt.Errorf("data: download %s: %w", url, err)
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return fmt.Errorf("data: download %s: %w", url, ctx.Err())
		}
		delay *= 2
	}
	if md5hex != "" {
		sum, err := fileMD5(part)
		if err != nil {
			return &FileError{Path: part, Err: err}
		}
		if sum != md5hex {
			os.Remove(part)
			return fmt.Errorf("data: download %s: MD5 %s, want %s (the download was removed; try again)", url, sum, md5hex)
		}
	}
	if err := os.Rename(part, dest); err != nil {
		return &FileError{Path: dest, Err: unwrapPathError(err)}
	}
	return nil
}

// permanentError is a failure that retrying will not mend (404, 403, ...).
type permanentError struct{ error }

// fetch makes one request, appending to part from its current size.
func fetch(ctx context.Context, opt DownloadOptions, url, part string) error {
	f, err := os.OpenFile(part, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return &permanentError{err}
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return &permanentError{err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return &permanentError{err}
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := opt.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	total := int64(-1)
	switch resp.StatusCode {
	case http.StatusOK: // whole file: start over
		if err := restart(f); err != nil {
			return err
		}
		have = 0
		total = resp.ContentLength
	case http.StatusPartialContent:
		start, _, size, ok := contentRange(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			restart(f)
			return fmt.Errorf("server resumed at %q, asked for byte %d", resp.Header.Get("Content-Range"), have)
		}
		total = size
	case http.StatusRequestedRangeNotSatisfiable:
		// The .part is as long as the file, or longer (stale): done, or start over.
		if _, _, size, ok := contentRange(resp.Header.Get("Content-Range")); ok && size == have {
			return nil
		}
		restart(f)
		return fmt.Errorf("partial file of %d bytes does not fit the remote file; starting over", have)
	default:
		err := fmt.Errorf("HTTP %s", resp.Status)
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			return &permanentError{err}
		}
		return err
	}
	buf := make([]byte, 256<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return &permanentError{err}
			}
			have += int64(n)
			if opt.Progress != nil {
				opt.Progress(have, total)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("transfer broke at byte %d: %w", have, rerr)
		}
	}
	if total >= 0 && have != total {
		return fmt.Errorf("transfer ended at byte %d of %d", have, total)
	}
	return f.Sync()
}

func restart(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return &permanentError{err}
	}
	_, err := f.Seek(0, io.SeekStart)
	return err
}

// contentRange parses "bytes start-end/size" or "bytes */size".
func contentRange(s string) (start, end, size int64, ok bool) {
	s, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, sz, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, 0, false
	}
	size, err := strconv.ParseInt(sz, 10, 64)
	if err != nil {
		return 0, 0, 0, false
	}
	if rng == "*" {
		return -1, -1, size, true
	}
	a, b, found := strings.Cut(rng, "-")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if !found || err1 != nil || err2 != nil {
		return 0, 0, 0, false
	}
	return start, end, size, true
}

func fileMD5(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// MedMNISTURL returns the download address of a MedMNIST archive under
// base (MedMNISTRecord when base is "").
func MedMNISTURL(base string, set MedMNISTSet, size int) string {
	if base == "" {
		base = MedMNISTRecord
	}
	return strings.TrimSuffix(base, "/") + "/" + set.File(size) + "?download=1"
}
