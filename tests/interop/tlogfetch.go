// tlogfetch verifies a running `tally serve` over HTTP with Go's own
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog, sharing no code with tally: the
// checkpoint's signature, every hash tile the tree needs (full and partial, fetched from the
// node), the tree hash, every entry bundle's leaf hashes against the tiles, an inclusion proof
// per record, and each body bundle: a body exactly for public headers (tier 1), hashing to the
// header's body_hash, and length 0 for every other tier. It prints the tiers it saw.
//
//	tlogfetch BASE_URL VERIFIER_KEY
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var base string

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "tlogfetch: "+format+"\n", args...)
	os.Exit(1)
}

func get(path string) []byte {
	resp, err := http.Get(base + path)
	if err != nil {
		fail("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		fail("GET %s: %d %v", path, resp.StatusCode, err)
	}
	return b
}

// C2SP tlog-tiles paths drop the height that Go's sumdb paths carry: tile/8/0/x → tile/0/x.
func cpath(t tlog.Tile) string {
	p := strings.Replace(t.Path(), "tile/8/", "tile/", 1)
	return strings.Replace(p, "tile/data/", "tile/entries/", 1)
}

type httpTiles struct {
	fetched map[string]bool
	cache   map[string][]byte
}

func (h httpTiles) Height() int { return 8 }

func (h httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p := cpath(t)
		if b, ok := h.cache[p]; ok {
			out[i] = b
			continue
		}
		out[i] = get("/log/" + p)
		h.cache[p] = out[i]
		h.fetched[p] = true
	}
	return out, nil
}

func (h httpTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

// A header's tier and body hash: [version, type, time_ms, tier, event_id, rows, actor,
// body_hash, sig] in canonical msgpack.
func skipUint(b []byte) []byte {
	switch {
	case b[0] < 0x80 || b[0] == 0xc0:
		return b[1:]
	case b[0] == 0xcc:
		return b[2:]
	case b[0] == 0xcd:
		return b[3:]
	case b[0] == 0xce:
		return b[5:]
	case b[0] == 0xcf:
		return b[9:]
	}
	fail("header: unexpected byte %x", b[0])
	return nil
}

func tierAndHash(h []byte) (int, []byte) {
	if h[0] != 0x99 {
		fail("header: not a 9-array")
	}
	b := skipUint(skipUint(skipUint(h[1:])))
	tier := int(b[0])
	b = skipUint(skipUint(b[1:])) // event_id, rows
	if b[0] != 0xc4 || b[1] != 32 {
		fail("header: actor")
	}
	b = b[34:]
	if b[0] != 0xc4 || b[1] != 32 {
		fail("header: body_hash")
	}
	return tier, b[2:34]
}

func split(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			fail("bundle: truncated")
		}
		l := int(data[0])<<8 | int(data[1])
		if len(data) < 2+l {
			fail("bundle: truncated entry")
		}
		out = append(out, data[2:2+l])
		data = data[2+l:]
	}
	return out
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: tlogfetch BASE_URL VERIFIER_KEY")
	}
	base = os.Args[1]
	msg := get("/log/checkpoint")
	v, err := note.NewVerifier(os.Args[2])
	if err != nil {
		fail("verifier key: %v", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		fail("checkpoint note: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
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
	tiles := httpTiles{map[string]bool{}, map[string][]byte{}}
	hr := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, tiles)
	th, err := tlog.TreeHash(size, hr)
	if err != nil || th != root {
		fail("tree hash: %v", err)
	}
	tiers := map[int]int{}
	var seen int64
	for t := int64(0); t*256 < size; t++ {
		w := size - t*256
		if w > 256 {
			w = 256
		}
		tile := tlog.Tile{H: 8, L: -1, N: t, W: int(w)}
		entries := split(get("/log/" + cpath(tile)))
		bodies := split(get("/log/" + strings.Replace(cpath(tile), "tile/entries/", "bodies/", 1)))
		if len(entries) != int(w) || len(bodies) != int(w) {
			fail("bundle %d: %d entries, %d bodies, want %d", t, len(entries), len(bodies), w)
		}
		// the hash tile of this bundle, read directly as well (full or partial)
		ht := tlog.Tile{H: 8, L: 0, N: t, W: int(w)}
		htData := get("/log/" + cpath(ht))
		for i, entry := range entries {
			leaf := tlog.RecordHash(entry)
			hs, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, seen)})
			if err != nil || hs[0] != leaf {
				fail("record %d: leaf hash differs from its tile (%v)", seen, err)
			}
			fromTile, err := tlog.HashFromTile(ht, htData, tlog.StoredHashIndex(0, seen))
			if err != nil || fromTile != leaf {
				fail("record %d: tile %s disagrees (%v)", seen, cpath(ht), err)
			}
			p, err := tlog.ProveRecord(size, seen, hr)
			if err != nil || tlog.CheckRecord(p, size, root, seen, leaf) != nil {
				fail("record %d: inclusion proof does not check (%v)", seen, err)
			}
			tier, bh := tierAndHash(entry)
			tiers[tier]++
			if tier == 1 {
				sum := sha256.Sum256(bodies[i])
				if len(bodies[i]) == 0 || string(sum[:]) != string(bh) {
					fail("record %d: public body missing or not its hash", seen)
				}
			} else if len(bodies[i]) != 0 {
				fail("record %d: tier %d body served in the public bundle", seen, tier)
			}
			seen++
		}
	}
	if seen != size {
		fail("bundles hold %d entries, the checkpoint says %d", seen, size)
	}
	fmt.Printf("ok: %d entries; tiers public=%d gated=%d embargoed=%d private=%d; %d tiles fetched\n",
		size, tiers[1], tiers[2], tiers[3], tiers[4], len(tiles.fetched))
}
