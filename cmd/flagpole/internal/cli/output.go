package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"
)

// printer writes a command's result in the format chosen with -o.
type printer struct {
	w      io.Writer
	format string
}

func (a *app) printer(w io.Writer) printer { return printer{w: w, format: a.output} }

// emit writes v as JSON or YAML, or calls table for the default format.
func (p printer) emit(v any, table func(t *tabwriter.Writer)) error {
	switch p.format {
	case "json":
		return writeJSON(p.w, v)
	case "yaml":
		return writeYAML(p.w, v)
	}
	t := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	table(t)
	return t.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeYAML writes v as YAML with the field names and order of its JSON
// encoding, so both formats show the same document.
func writeYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	blockStyle(&n)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	return enc.Close()
}

// blockStyle clears the flow and quoting styles JSON text brings with it;
// the encoder quotes again wherever YAML needs it.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// row writes one tab-separated table row.
func row(t io.Writer, cols ...any) {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = fmt.Sprint(c)
	}
	fmt.Fprintln(t, strings.Join(s, "\t"))
}

// compact renders a value as one line of JSON for tables and diffs.
func compact(v any) string {
	if v == nil {
		return "-"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(buf.String())
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func encodeYAML(w io.Writer, v any) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	return enc.Close()
}
