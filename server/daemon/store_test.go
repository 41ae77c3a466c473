package daemon

import "testing"

func TestDisplayDBHidesPassword(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]string{
		"flagpole.db": "flagpole.db",
		"postgres://flagpole:s3cret@db.internal:5432/flagpole?sslmode=require": "postgres://flagpole:xxxxx@db.internal:5432/flagpole?sslmode=require",
		"postgresql://db.internal/flagpole":                                    "postgresql://db.internal/flagpole",
	} {
		if got := displayDB(dsn); got != want {
			t.Errorf("displayDB(%q) = %q, want %q", dsn, got, want)
		}
	}
}
