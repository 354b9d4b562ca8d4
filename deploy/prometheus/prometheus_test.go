// Package prometheus_test checks the scrape configuration and alerts
// shipped beside it against the metrics the tools register and the ports
// the units give them.
package prometheus_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var (
	newSet   = regexp.MustCompile(`metrics\.New\("([a-z_]+)"\)`)
	register = regexp.MustCompile(`\.(Counter|CounterFunc|Gauge)\(\s*"([a-z_]+)"`)
	metric   = regexp.MustCompile(`\btapir_[a-z_]+`)
)

// registered is every metric name the tools' packages register: a
// package's metrics.New prefix with each name it registers (counters get
// _total), and with those that lib/stage registers in the set of each
// package that runs its loop.
func registered(t *testing.T) map[string]bool {
	var dirs []string
	for _, g := range []string{"../../lib/*", "../../cmd/*"} {
		d, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d...)
	}
	_, stageRegs, _ := scan(t, "../../lib/stage")
	names := map[string]bool{}
	for _, dir := range dirs {
		prefixes, regs, usesStage := scan(t, dir)
		if usesStage {
			regs = append(regs, stageRegs...)
		}
		for _, p := range prefixes {
			for _, r := range regs {
				name := p + "_" + r[2]
				if r[1] != "Gauge" {
					name += "_total"
				}
				names[name] = true
			}
		}
	}
	if len(names) < 20 {
		t.Fatalf("found only %d metrics: %v", len(names), names)
	}
	return names
}

// scan reads the Go files of a package directory, tests left out, for
// the prefixes of the metric sets it makes, the metrics it registers, and
// whether it runs the loop of lib/stage.
func scan(t *testing.T, dir string) (prefixes []string, regs [][]string, usesStage bool) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range newSet.FindAllStringSubmatch(string(b), -1) {
			prefixes = append(prefixes, m[1])
		}
		regs = append(regs, register.FindAllStringSubmatch(string(b), -1)...)
		usesStage = usesStage || strings.Contains(string(b), "stage.Run(")
	}
	return prefixes, regs, usesStage
}

func TestAlerts(t *testing.T) {
	b, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert       string
				Expr        string
				For         string
				Annotations map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	names := registered(t)
	n := 0
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %+v: needs alert, expr and a summary", r)
			}
			for _, m := range metric.FindAllString(r.Expr, -1) {
				if !names[m] {
					t.Errorf("alert %s: no tool registers %s", r.Alert, m)
				}
			}
		}
	}
	// Drops, spool growth, certificate expiry and refused uploads, as the
	// operator's guide promises.
	for _, want := range []string{"tapir_listen_dropped_frames_total", "tapir_send_spool_items", "tapir_send_certificate_expiry_timestamp_seconds", "tapir_send_rejected_total"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("no alert on %s", want)
		}
	}
	if n == 0 {
		t.Error("no rules")
	}
}

// Every tool's --metrics port in the units is scraped.
func TestScrape(t *testing.T) {
	b, err := os.ReadFile("scrape.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct{ Targets []string } `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("scrape.yml: %v", err)
	}
	targets := map[string]bool{}
	for _, s := range doc.ScrapeConfigs {
		for _, c := range s.StaticConfigs {
			for _, tg := range c.Targets {
				targets[tg] = true
			}
		}
	}
	units, _ := filepath.Glob("../systemd/*.service")
	addr := regexp.MustCompile(`--metrics (\S+)`)
	found := 0
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range addr.FindAllStringSubmatch(string(b), -1) {
			found++
			if !targets[m[1]] {
				t.Errorf("%s serves metrics on %s, which scrape.yml does not scrape", filepath.Base(u), m[1])
			}
		}
	}
	for _, tool := range []string{"tapir-listen", "tapir-anon", "tapir-agg", "tapir-send", "tapir-observe", "tapir-rpz"} {
		b, _ := os.ReadFile("../systemd/" + tool + ".service")
		if !addr.Match(b) {
			t.Errorf("%s.service has no --metrics", tool)
		}
	}
	if found != len(targets) {
		t.Errorf("%d --metrics in the units, %d targets", found, len(targets))
	}
}
