package config

import "testing"

// BenchmarkParseFull measures parsing the golden configuration (11 conns,
// includes, key files).
func BenchmarkParseFull(b *testing.B) {
	fsys := loadTree(b, "testdata/full")
	for b.Loop() {
		if _, err := Parse(fsys, fullConf); err != nil {
			b.Fatal(err)
		}
	}
}
