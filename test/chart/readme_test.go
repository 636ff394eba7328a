//go:build chart

package chart

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
)

const (
	tableStart = "<!-- values-table:start (generated from values.yaml by `make chart-update`; do not edit) -->"
	tableEnd   = "<!-- values-table:end -->"
)

// TestReadmeValuesTable: the values table in charts/switchboard/README.md is the one generated from
// the "# --" comments in values.yaml, and every value in values.yaml is documented.
func TestReadmeValuesTable(t *testing.T) {
	values := readFile(t, filepath.Join(chartDir(t), "values.yaml"))
	table, err := valuesTable(values)
	if err != nil {
		t.Fatal(err)
	}
	readmePath := filepath.Join(chartDir(t), "README.md")
	readme := string(readFile(t, readmePath))
	start, end := strings.Index(readme, tableStart), strings.Index(readme, tableEnd)
	if start < 0 || end < start {
		t.Fatalf("%s lacks the markers %q … %q", readmePath, tableStart, tableEnd)
	}
	want := readme[:start+len(tableStart)] + "\n" + table + readme[end:]
	if *update {
		if err := os.WriteFile(readmePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if readme != want {
		t.Fatalf("the values table in %s is stale: run `make chart-update`\n%s", readmePath, lineDiff(readme, want))
	}
}

// valueRow is one documented key of values.yaml.
type valueRow struct {
	key, kind, def, doc string
}

// valuesTable renders the Markdown table of every documented key. A key is documented by a
// comment block whose first line starts with "# -- "; its children need no comment of their own.
// An undocumented leaf is an error, so a new value cannot be added without a description.
func valuesTable(values []byte) (string, error) {
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(values, &doc); err != nil {
		return "", err
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yamlv3.MappingNode {
		return "", fmt.Errorf("values.yaml is not a mapping")
	}
	var rows []valueRow
	if err := collectRows(doc.Content[0], "", &rows); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Description |\n|-----|------|---------|-------------|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", r.key, r.kind, escapeCell(r.def), escapeCell(r.doc))
	}
	return b.String(), nil
}

func collectRows(mapping *yamlv3.Node, prefix string, rows *[]valueRow) error {
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		keyNode, valNode := mapping.Content[i], mapping.Content[i+1]
		key := prefix + keyNode.Value
		doc, ok := description(keyNode.HeadComment)
		if !ok {
			if valNode.Kind == yamlv3.MappingNode && len(valNode.Content) > 0 {
				if err := collectRows(valNode, key+".", rows); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("values.yaml: %s has no \"# -- description\" comment", key)
		}
		var v any
		if err := valNode.Decode(&v); err != nil {
			return fmt.Errorf("values.yaml: %s: %w", key, err)
		}
		def, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("values.yaml: %s: %w", key, err)
		}
		*rows = append(*rows, valueRow{key: key, kind: kindOf(valNode), def: string(def), doc: doc})
	}
	return nil
}

// description extracts the "# -- " comment block (continued by following "#" lines).
func description(comment string) (string, bool) {
	lines := strings.Split(comment, "\n")
	for i, line := range lines {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "# -- "); ok {
			parts := []string{rest}
			for _, more := range lines[i+1:] {
				parts = append(parts, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(more), "#")))
			}
			return strings.Join(parts, " "), true
		}
	}
	return "", false
}

func kindOf(n *yamlv3.Node) string {
	switch n.Kind {
	case yamlv3.MappingNode:
		return "object"
	case yamlv3.SequenceNode:
		return "list"
	}
	switch n.Tag {
	case "!!int":
		return "int"
	case "!!bool":
		return "bool"
	case "!!float":
		return "float"
	case "!!null":
		return "null"
	}
	return "string"
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
