package tool

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Signals carries the signals that ask a running tool to do something:
// SIGHUP (reload keys and lists, reopen output) and SIGUSR1 (print
// counters). SIGTERM and SIGINT end the context instead.
type Signals struct {
	Hup  <-chan os.Signal
	Usr1 <-chan os.Signal
}

// Notify returns a context that ends on SIGTERM or SIGINT, and the other
// signals. Call stop to restore the default handling.
func Notify(parent context.Context) (ctx context.Context, sig Signals, stop func()) {
	ctx, cancel := signal.NotifyContext(parent, syscall.SIGTERM, syscall.SIGINT)
	hup := make(chan os.Signal, 1)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	signal.Notify(usr1, syscall.SIGUSR1)
	return ctx, Signals{Hup: hup, Usr1: usr1}, func() {
		cancel()
		signal.Stop(hup)
		signal.Stop(usr1)
	}
}
