package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// The repository's documentation starts at README.md and is spread over
// README files beside the code they describe. TestDocumentationLinks keeps
// that web whole: every relative link (and its #anchor) in a Markdown file
// resolves, and every Markdown file is reachable from README.md by links.

// repoRoot is the repository root as seen from this package's directory.
const repoRoot = "../.."

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// markdown is one Markdown file: its links and the anchors of its headings.
type markdown struct {
	links   []string
	anchors map[string]bool
}

func TestDocumentationLinks(t *testing.T) {
	docs := map[string]*markdown{} // by path relative to the repository
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".md") {
			return nil
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		docs[filepath.ToSlash(rel)] = parseMarkdown(string(text))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if docs["README.md"] == nil {
		t.Fatal("no README.md at the repository root")
	}

	reached := map[string]bool{"README.md": true}
	queue := []string{"README.md"}
	for len(queue) > 0 {
		from := queue[0]
		queue = queue[1:]
		for _, link := range docs[from].links {
			target, ok := checkLink(t, docs, from, link)
			if ok && docs[target] != nil && !reached[target] {
				reached[target] = true
				queue = append(queue, target)
			}
		}
	}
	for name, doc := range docs {
		if reached[name] {
			continue
		}
		t.Errorf("%s: not reachable by links from README.md", name)
		for _, link := range doc.links {
			checkLink(t, docs, name, link)
		}
	}
}

// checkLink reports a link of the file from that does not resolve, and
// returns the repository path it names.
func checkLink(t *testing.T, docs map[string]*markdown, from, link string) (string, bool) {
	t.Helper()
	if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
		return "", false
	}
	target, anchor, _ := strings.Cut(link, "#")
	if target == "" {
		target = from
	} else {
		target = filepath.ToSlash(filepath.Join(filepath.Dir(from), target))
	}
	if _, err := os.Stat(filepath.Join(repoRoot, target)); err != nil {
		t.Errorf("%s: link %q: %s does not exist", from, link, target)
		return "", false
	}
	if anchor != "" {
		if doc := docs[target]; doc == nil || !doc.anchors[anchor] {
			t.Errorf("%s: link %q: %s has no heading with anchor #%s", from, link, target, anchor)
		}
	}
	return target, true
}

// parseMarkdown collects the links and heading anchors outside code blocks.
func parseMarkdown(text string) *markdown {
	doc := &markdown{anchors: map[string]bool{}}
	seen := map[string]int{}
	fenced := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		for _, m := range mdLink.FindAllStringSubmatch(stripCode(line), -1) {
			doc.links = append(doc.links, m[1])
		}
		if heading, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " "); ok && strings.HasPrefix(line, "#") {
			anchor := slug(heading)
			if n := seen[anchor]; n > 0 {
				doc.anchors[anchor+"-"+string(rune('0'+n))] = true
			} else {
				doc.anchors[anchor] = true
			}
			seen[anchor]++
		}
	}
	return doc
}

// stripCode drops inline code spans, whose brackets are not links.
func stripCode(line string) string {
	parts := strings.Split(line, "`")
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 0 {
			b.WriteString(p)
		}
	}
	return b.String()
}

// slug is the anchor GitHub gives a heading: lower case, punctuation other
// than '-' and '_' dropped, spaces turned into '-'.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
