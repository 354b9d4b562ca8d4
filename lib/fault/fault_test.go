package fault

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestKinds(t *testing.T) {
	if New(Input, nil) != nil {
		t.Error("New(Input, nil) is not nil")
	}
	if err := New(Other, io.EOF); err != io.EOF {
		t.Errorf("New(Other, EOF) = %v, want EOF itself", err)
	}
	err := fmt.Errorf("read frame 7: %w", New(Input, io.ErrUnexpectedEOF))
	if Of(err) != Input || !errors.Is(err, Input) || errors.Is(err, Config) {
		t.Errorf("Of = %v, Is(Input) = %v, Is(Config) = %v", Of(err), errors.Is(err, Input), errors.Is(err, Config))
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Error("the cause is lost")
	}
	if err.Error() != "read frame 7: unexpected EOF" {
		t.Errorf("message %q: the kind must not show", err)
	}
	// The outermost kind wins: a configuration error found while
	// reading an input is a configuration error.
	outer := Errorf(Config, "--identity: %w", err)
	if Of(outer) != Config {
		t.Errorf("Of = %v, want Config", Of(outer))
	}
	if Of(io.EOF) != Other || Of(nil) != Other {
		t.Error("an error of no kind is Other")
	}
}
