//go:build !unix

package daemon

// descriptorLimit is the process's limit of open files, 0 if unknown.
func descriptorLimit() int { return 0 }
