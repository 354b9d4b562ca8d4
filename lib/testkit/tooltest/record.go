package tooltest

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// A Recorder is a testing.TB that records Skip and Fatal instead of
// acting on the test, which it otherwise stands for: for testing what a
// fixture does when a program is missing or refuses to start.
type Recorder struct {
	testing.TB
	mu         sync.Mutex
	WasSkipped bool
	WasFailed  bool
	Msgs       []string
}

func (r *Recorder) note(skip bool, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if skip {
		r.WasSkipped = true
	} else {
		r.WasFailed = true
	}
	r.Msgs = append(r.Msgs, msg)
}

func (r *Recorder) Error(args ...any)                 { r.note(false, fmt.Sprint(args...)) }
func (r *Recorder) Errorf(format string, args ...any) { r.note(false, fmt.Sprintf(format, args...)) }
func (r *Recorder) Fatal(args ...any)                 { r.Error(args...); runtime.Goexit() }
func (r *Recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); runtime.Goexit() }
func (r *Recorder) FailNow()                          { r.Fatal("FailNow") }
func (r *Recorder) Skip(args ...any)                  { r.note(true, fmt.Sprint(args...)); runtime.Goexit() }
func (r *Recorder) Skipf(format string, args ...any) {
	r.note(true, fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (r *Recorder) SkipNow() { r.Skip("SkipNow") }

// Record runs f with a Recorder standing for t, in a goroutine of its own
// for the sake of runtime.Goexit.
func Record(t *testing.T, f func(tb testing.TB)) *Recorder {
	r := &Recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}
