// tlogcheck verifies a directory written by `tally tiles export` with Go's own
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog, sharing no code with tally:
// the checkpoint's signature, every hash tile against the tree, every entry bundle's leaf
// hashes, the tree hash, and an inclusion proof for each record.
//
//	tlogcheck EXPORT_DIR VERIFIER_KEY
package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type fileTiles struct{ dir string }

func (f fileTiles) Height() int { return 8 }

// C2SP tlog-tiles paths drop the height that Go's sumdb paths carry: tile/8/0/x → tile/0/x.
func cpath(t tlog.Tile) string {
	p := strings.Replace(t.Path(), "tile/8/", "tile/", 1)
	return strings.Replace(p, "tile/data/", "tile/entries/", 1)
}

func (f fileTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := os.ReadFile(filepath.Join(f.dir, cpath(t)))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (f fileTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "tlogcheck: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: tlogcheck EXPORT_DIR VERIFIER_KEY")
	}
	dir := os.Args[1]
	msg, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		fail("%v", err)
	}
	v, err := note.NewVerifier(os.Args[2])
	if err != nil {
		fail("verifier key: %v", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		fail("checkpoint note: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != v.Name() {
		fail("checkpoint text: %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("size: %v", err)
	}
	rb, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rb) != tlog.HashSize {
		fail("root: %v", err)
	}
	var root tlog.Hash
	copy(root[:], rb)
	tree := tlog.Tree{N: size, Hash: root}
	hr := tlog.TileHashReader(tree, fileTiles{dir})
	th, err := tlog.TreeHash(size, hr)
	if err != nil || th != root {
		fail("tree hash: %v (%v vs %v)", err, th, root)
	}
	var seen int64
	for t := int64(0); t*256 < size; t++ {
		w := size - t*256
		if w > 256 {
			w = 256
		}
		tile := tlog.Tile{H: 8, L: -1, N: t, W: int(w)}
		data, err := os.ReadFile(filepath.Join(dir, cpath(tile)))
		if err != nil {
			fail("entry bundle: %v", err)
		}
		for len(data) > 0 {
			if len(data) < 2 {
				fail("entry bundle %d: truncated", t)
			}
			l := int(data[0])<<8 | int(data[1])
			entry := data[2 : 2+l]
			data = data[2+l:]
			leaf := tlog.RecordHash(entry)
			hs, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, seen)})
			if err != nil || hs[0] != leaf {
				fail("record %d: leaf hash differs from its tile (%v)", seen, err)
			}
			p, err := tlog.ProveRecord(size, seen, hr)
			if err != nil || tlog.CheckRecord(p, size, root, seen, leaf) != nil {
				fail("record %d: inclusion proof does not check (%v)", seen, err)
			}
			seen++
		}
	}
	if seen != size {
		fail("bundles hold %d entries, the checkpoint says %d", seen, size)
	}
	fmt.Printf("ok: Go sumdb/note and sumdb/tlog accept the checkpoint and all %d entries\n", size)
}
