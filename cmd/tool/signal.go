package tool

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tapir-edge/tapir/lib/stage"
)

// Notify returns a context that ends on SIGTERM or SIGINT, and the other
// signals that ask a running tool to do something: SIGHUP (reload keys
// and lists, reopen output) and SIGUSR1 (log the counters). Call stop to
// restore the default handling.
func Notify(parent context.Context) (ctx context.Context, sig stage.Signals, stop func()) {
	ctx, cancel := signal.NotifyContext(parent, syscall.SIGTERM, syscall.SIGINT)
	hup := make(chan os.Signal, 1)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	signal.Notify(usr1, syscall.SIGUSR1)
	return ctx, stage.Signals{Reload: hup, Report: usr1}, func() {
		cancel()
		signal.Stop(hup)
		signal.Stop(usr1)
	}
}
