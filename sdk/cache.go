package sdk

import (
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	pb "github.com/flagpole/flagpole/sdk/syncpb"
)

// saveCache writes the current flags to the cache file: a protobuf Snapshot,
// written to a temporary file and renamed, so a crash never leaves half a
// file behind. Called by the stream goroutine.
func (p *Provider) saveCache() error {
	s := &pb.Snapshot{Environment: p.env, Revision: p.revision}
	for _, e := range p.flags {
		s.Flags = append(s.Flags, e.wire)
	}
	for _, sg := range p.segments {
		s.Segments = append(s.Segments, sg)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(s)
	if err != nil {
		return fmt.Errorf("sdk: cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p.o.cacheFile), filepath.Base(p.o.cacheFile)+".*.tmp")
	if err != nil {
		return fmt.Errorf("sdk: cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("sdk: cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sdk: cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), p.o.cacheFile); err != nil {
		return fmt.Errorf("sdk: cache: %w", err)
	}
	return nil
}

// loadCache serves the cache file's flags until the stream delivers. A
// missing or unreadable cache is logged and ignored. Called before the
// stream goroutine starts.
func (p *Provider) loadCache() {
	b, err := os.ReadFile(p.o.cacheFile)
	if err != nil {
		if !os.IsNotExist(err) {
			p.o.logger.Warn("sdk: cache not read", "file", p.o.cacheFile, "err", err)
		}
		return
	}
	var s pb.Snapshot
	if err := proto.Unmarshal(b, &s); err != nil {
		p.o.logger.Warn("sdk: cache not read", "file", p.o.cacheFile, "err", err)
		return
	}
	if p.o.environment != "" && s.GetEnvironment() != p.o.environment {
		p.o.logger.Warn("sdk: cache is of another environment, ignored", "file", p.o.cacheFile, "environment", s.GetEnvironment())
		return
	}
	if _, err := p.applySnapshot(&s); err != nil {
		p.o.logger.Warn("sdk: cache not usable", "file", p.o.cacheFile, "err", err)
		p.flags, p.segments, p.revision, p.env = map[string]*entry{}, map[string]*pb.Segment{}, 0, ""
		p.state.Store(nil)
		return
	}
	p.mu.Lock()
	p.cacheLoaded = true
	p.mu.Unlock()
}
