package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// tapir-rpz serve --metrics: the zone's serial and size, observations
// applied and refused, transfers by kind, as the other tools expose them.
func TestMetrics(t *testing.T) {
	dir := t.TempDir()
	deny := write(t, dir, "deny.txt", "a.example.test\nb.example.test\n")
	dnsPort, metricsPort := tooltest.FreePort(t), tooltest.FreePort(t)
	cmd := tooltest.Command("serve", "--listen", fmt.Sprint(dnsPort), "--deny", deny,
		"--state", filepath.Join(dir, "state"), "--metrics", fmt.Sprint(metricsPort))
	in, _ := cmd.StdinPipe()
	tooltest.Start(t, "tapir-rpz", cmd)
	w := fstrm.NewWriter(in, record.ContentType)
	w.WriteFrame(observation("denylist", "c.example.test.", 3600))
	w.WriteFrame([]byte(`{"type":"observation","added":[{"name":"no ttl"}]}`))
	w.Flush()

	scrape := func() map[string]string {
		v, _ := tooltest.Scrape(fmt.Sprintf("127.0.0.1:%d", metricsPort))
		return v
	}
	var v map[string]string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if v = scrape(); v["tapir_rpz_observations_refused_total"] == "1" && v["tapir_rpz_observations_total"] == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("observations not counted: %v", v)
		}
	}
	if v["tapir_rpz_rules"] != "3" {
		t.Errorf("rules %s, want 3 (two denied names and one observed)", v["tapir_rpz_rules"])
	}

	m := new(dns.Msg).SetAxfr("rpz.tapir.")
	env, err := new(dns.Transfer).In(m, fmt.Sprintf("127.0.0.1:%d", dnsPort))
	if err != nil {
		t.Fatal(err)
	}
	var serial string
	for e := range env {
		if e.Error != nil {
			t.Fatal(e.Error)
		}
		if soa, ok := e.RR[0].(*dns.SOA); ok {
			serial = fmt.Sprint(soa.Serial)
		}
	}
	v = scrape()
	if v[`tapir_rpz_transfers_total{kind="AXFR"}`] != "1" || v[`tapir_rpz_transfers_total{kind="IXFR"}`] != "0" {
		t.Errorf("transfers: %v", v)
	}
	if got, _ := strconv.ParseFloat(v["tapir_rpz_serial"], 64); fmt.Sprint(uint32(got)) != serial {
		t.Errorf("serial %s, the zone's SOA says %s", v["tapir_rpz_serial"], serial)
	}
}
