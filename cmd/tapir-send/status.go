package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/spool"
)

// status prints what waits in each destination's spool (--status).
func status(w io.Writer, dir string, asJSON bool) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return tool.Usagef("--spool: %v", err)
	}
	out := map[string]spool.Stats{}
	var names []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		s, _, err := spool.Open(filepath.Join(dir, e.Name()), 0)
		if err != nil {
			return err
		}
		out[e.Name()] = s.Stats()
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if asJSON {
		return json.NewEncoder(w).Encode(out)
	}
	for _, n := range names {
		st := out[n]
		fmt.Fprintf(w, "%s\t%d records\t%d bytes\t%d rejected\n", n, st.Items, st.Bytes, st.Rejected)
	}
	return nil
}
