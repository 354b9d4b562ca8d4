package unboundtest

import "syscall"

// sysProcAttr returns the attributes of the Unbound process: it is killed
// when the test binary dies without stopping it (a panic, or a timeout), so
// that no resolver outlives its test. (Linux sends the signal when the
// thread that started the process exits; the Go runtime ends threads only
// when a goroutine exits while locked to its thread.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
