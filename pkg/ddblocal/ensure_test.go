package ddblocal

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// verifiedTarball returns the path of the real, verified npm tarball in the
// cache, fetching it if needed, so that tests can build broken copies of it.
func verifiedTarball(t *testing.T) string {
	t.Helper()
	root, err := cacheRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	f, err := openTarball(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return filepath.Join(root, tarballName)
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// corrupt flips one byte in the middle of the file, as a truncated download,
// a bad disk or a deliberate swap would.
func corrupt(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, info.Size()/2); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, info.Size()/2); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	content := []byte("DynamoDB Local\n")
	sum := sha256.Sum256(content)
	good := hex.EncodeToString(sum[:])
	path := filepath.Join(dir, "file")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	other := strings.Repeat("0", 64)

	tests := []struct {
		name    string
		path    string
		want    string
		wantErr []string // substrings the error must contain; nil = no error
	}{
		{"matching hash", path, good, nil},
		{"matching hash in upper case", path, strings.ToUpper(good), nil},
		{"empty file", empty, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", nil},
		{"different hash names both", path, other, []string{good, other}},
		{"hash of another file", empty, good, []string{good, "e3b0c442"}},
		{"missing file", filepath.Join(dir, "missing"), good, []string{"missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := verifyFile(tt.path, tt.want)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("verifyFile: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("verifyFile accepted a file that does not match")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

// A tampered cached tarball must never be unpacked, even when no fresh copy
// can be fetched. Not parallel: it empties PATH so that npm cannot run.
func TestTamperedCacheIsRejected(t *testing.T) {
	good := verifiedTarball(t)
	root := t.TempDir()
	bad := filepath.Join(root, tarballName)
	copyFile(t, good, bad)
	corrupt(t, bad)

	err := verifyFile(bad, SHA256)
	if err == nil || !strings.Contains(err.Error(), SHA256) {
		t.Fatalf("verifyFile on the tampered copy: got %v, want a mismatch naming %s", err, SHA256)
	}

	t.Setenv(CacheDirEnv, root)
	t.Setenv("PATH", t.TempDir())
	dir, err := Ensure(context.Background())
	if err == nil {
		t.Fatalf("Ensure used the tampered tarball and returned %s", dir)
	}
	for _, s := range []string{"npm", SHA256, "refusing"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Ensure error does not mention %q:\n%v", s, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, installName)); !os.IsNotExist(err) {
		t.Errorf("an install appeared despite the tampered tarball (stat: %v)", err)
	}
}

// With npm available, a tampered cached tarball is replaced by a freshly
// fetched, verified one.
func TestTamperedCacheIsReplaced(t *testing.T) {
	t.Parallel()
	good := verifiedTarball(t)
	root := t.TempDir()
	cached := filepath.Join(root, tarballName)
	copyFile(t, good, cached)
	corrupt(t, cached)

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	start := time.Now()
	dir, err := ensureIn(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("install with a fresh npm pack took %v", time.Since(start).Round(time.Millisecond))
	if err := verifyFile(cached, SHA256); err != nil {
		t.Errorf("cached tarball was not replaced by a verified one: %v", err)
	}
	if !installed(dir) {
		t.Errorf("%s is not a complete install", dir)
	}
}

// Several test processes install into the same clean cache at once; they
// must all end up with the same complete install and leave no debris.
func TestEnsureConcurrent(t *testing.T) {
	t.Parallel()
	good := verifiedTarball(t)
	root := t.TempDir()
	copyFile(t, good, filepath.Join(root, tarballName)) // no network needed

	const n = 4
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], errs[i] = ensureIn(context.Background(), root)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if dirs[i] != filepath.Join(root, installName) {
			t.Errorf("caller %d got %s", i, dirs[i])
		}
	}
	if !installed(dirs[0]) {
		t.Fatalf("%s is not a complete install", dirs[0])
	}
	for _, p := range []string{jarName, libDirName + "/sqlite4java.jar", libDirName + "/libsqlite4java-linux-amd64.so"} {
		if _, err := os.Stat(filepath.Join(dirs[0], p)); err != nil {
			t.Error(err)
		}
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			t.Errorf("leftover work folder %s", e.Name())
		}
	}
}

type tarEntry struct {
	name, linkname string
	typeflag       byte
	body           string
}

func buildTarGz(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Linkname: e.linkname, Typeflag: e.typeflag, Mode: 0o644, Size: int64(len(e.body))}
		if e.typeflag != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtract(t *testing.T) {
	t.Parallel()
	ok := tarEntry{name: "package/emulator/ok.txt", typeflag: tar.TypeReg, body: "ok"}

	t.Run("keeps only the emulator", func(t *testing.T) {
		t.Parallel()
		dest := t.TempDir()
		archive := buildTarGz(t, []tarEntry{
			{name: "package/package.json", typeflag: tar.TypeReg, body: "{}"},
			{name: "package/emulator/", typeflag: tar.TypeDir},
			ok,
			{name: "package/emulator/DynamoDBLocal_lib/a.jar", typeflag: tar.TypeReg, body: "jar"},
		})
		if err := extract(bytes.NewReader(archive), dest); err != nil {
			t.Fatal(err)
		}
		for path, want := range map[string]string{"ok.txt": "ok", "DynamoDBLocal_lib/a.jar": "jar"} {
			got, err := os.ReadFile(filepath.Join(dest, path))
			if err != nil || string(got) != want {
				t.Errorf("%s: got %q, %v; want %q", path, got, err, want)
			}
		}
		if _, err := os.Stat(filepath.Join(dest, "package.json")); !os.IsNotExist(err) {
			t.Errorf("package.json outside the emulator folder was extracted (stat: %v)", err)
		}
	})

	base := t.TempDir()
	unsafe := []struct {
		name  string
		entry tarEntry
	}{
		{"parent entry", tarEntry{name: "../evil", typeflag: tar.TypeReg, body: "x"}},
		{"parent inside prefix", tarEntry{name: "package/emulator/../../evil", typeflag: tar.TypeReg, body: "x"}},
		{"deep parent inside prefix", tarEntry{name: "package/emulator/../../../../evil", typeflag: tar.TypeReg, body: "x"}},
		{"absolute path", tarEntry{name: filepath.ToSlash(filepath.Join(base, "evil")), typeflag: tar.TypeReg, body: "x"}},
		{"parent directory entry", tarEntry{name: "package/emulator/../../evil/", typeflag: tar.TypeDir}},
		{"symlink out", tarEntry{name: "package/emulator/evil", linkname: "../../..", typeflag: tar.TypeSymlink}},
		{"hard link", tarEntry{name: "package/emulator/evil", linkname: "/etc/passwd", typeflag: tar.TypeLink}},
	}
	for _, tt := range unsafe {
		t.Run("rejects "+tt.name, func(t *testing.T) {
			t.Parallel()
			// dest is deep below base so that any escape in these
			// entries lands in base, which is searched afterwards.
			dest := filepath.Join(base, strings.ReplaceAll(tt.name, " ", "-"), "1", "2", "3", "dest")
			if err := os.MkdirAll(dest, 0o755); err != nil {
				t.Fatal(err)
			}
			archive := buildTarGz(t, []tarEntry{ok, tt.entry})
			err := extract(bytes.NewReader(archive), dest)
			if err == nil {
				t.Fatalf("extract accepted %q", tt.entry.name)
			}
			t.Logf("rejected: %v", err)
			err = filepath.Walk(base, func(path string, info os.FileInfo, err error) error {
				if err == nil && info.Name() == "evil" {
					t.Errorf("extract wrote %s", path)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
