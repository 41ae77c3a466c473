//go:build !unix

package testkit

import (
	"os"
	"time"
)

// lockFile takes the lock by creating name exclusively, waiting while
// another process holds it, and returns the function that releases it.
func lockFile(name string) (func(), error) {
	for {
		f, err := os.OpenFile(name+".held", os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			f.Close()
			return func() { os.Remove(name + ".held") }, nil
		}
		if !os.IsExist(err) {
			return nil, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
