//go:build !linux

package unboundtest

import "syscall"

// sysProcAttr returns the attributes of the Unbound process: the defaults.
func sysProcAttr() *syscall.SysProcAttr {
	return nil
}
