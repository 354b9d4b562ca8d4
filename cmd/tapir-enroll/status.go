package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/enroll"
)

// The exit codes of status besides tool's, documented in the manual
// (STATUS EXIT CODES), so that a monitoring script can tell a certificate
// that needs renewing from one that has expired.
const (
	exitRenewalDue = 6
	exitExpired    = 7
)

// statusAction is tapir-enroll status: it prints the node's status, and
// exits with exitRenewalDue or exitExpired when the certificate needs
// attention.
func statusAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageArgs(c)
	}
	s, err := enroll.Status(str(c, "node"), time.Now())
	if err != nil {
		return err
	}
	printStatus(c.App.Writer, s, flag(c, "json"))
	switch s.State {
	case enroll.StateExpired:
		return &tool.Error{Code: exitExpired, Err: fmt.Errorf("the certificate of %s expired at %s", s.Name, s.NotAfter.Format(time.RFC3339))}
	case enroll.StateRenewalDue:
		return &tool.Error{Code: exitRenewalDue, Err: errors.New("renewal is due: run tapir-enroll renew")}
	}
	return nil
}

func printStatus(w io.Writer, s *enroll.NodeStatus, asJSON bool) {
	if asJSON {
		b, _ := json.MarshalIndent(s, "", "  ")
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	fmt.Fprintf(w, "node:         %s (%s)\n", s.Name, s.Dir)
	fmt.Fprintf(w, "node manager: %s\n", s.NodemanURL)
	if s.AggrecURL != "" {
		fmt.Fprintf(w, "aggrec:       %s\n", s.AggrecURL)
	}
	if s.MQTTBroker != "" {
		fmt.Fprintf(w, "mqtt broker:  %s\n", s.MQTTBroker)
	}
	fmt.Fprintf(w, "certificate:  serial %s, valid %s to %s\n", s.Serial, s.NotBefore.Format(time.RFC3339), s.NotAfter.Format(time.RFC3339))
	fmt.Fprintf(w, "renewal due:  %s\n", s.RenewAt.Format(time.RFC3339))
	fmt.Fprintf(w, "state:        %s (%s to expiry)\n", s.State, (time.Duration(s.Remaining) * time.Second).String())
}
