// notecheck opens a checkpoint note carrying witness cosignature lines (c2sp.org/
// tlog-cosignature) with Go's golang.org/x/mod/sumdb/note and the log's key alone, sharing no
// code with tally: the note must verify, with exactly the log's signature verified and every
// cosignature line kept as an unverified signature (a key the client does not know).
//
//	notecheck NOTE_FILE VERIFIER_KEY WANT_UNVERIFIED
package main

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/mod/sumdb/note"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: notecheck NOTE_FILE VERIFIER_KEY WANT_UNVERIFIED")
		os.Exit(2)
	}
	msg, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	v, err := note.NewVerifier(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "verifier key:", err)
		os.Exit(1)
	}
	want, err := strconv.Atoi(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "WANT_UNVERIFIED:", err)
		os.Exit(2)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		fmt.Fprintln(os.Stderr, "note.Open:", err)
		os.Exit(1)
	}
	if len(n.Sigs) != 1 || n.Sigs[0].Name != v.Name() {
		fmt.Fprintf(os.Stderr, "verified signatures: %d, want the log's alone\n", len(n.Sigs))
		os.Exit(1)
	}
	if len(n.UnverifiedSigs) != want {
		fmt.Fprintf(os.Stderr, "unverified signatures: %d, want %d\n", len(n.UnverifiedSigs), want)
		os.Exit(1)
	}
	for _, s := range n.UnverifiedSigs {
		fmt.Printf("kept unverified: %s\n", s.Name)
	}
	fmt.Printf("ok: Go sumdb/note opens the cosigned checkpoint with the log's key alone\n")
}
