package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	pb "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
	"google.golang.org/protobuf/proto"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
)

var both = []dnstap.MessageType{dnstap.ClientQuery, dnstap.ClientResponse}

var testStart = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// generate returns a stream of n frames.
func generate(t testing.TB, seed uint64, mix Mix, types []dnstap.MessageType, n int64) []byte {
	t.Helper()
	tr, err := NewTraffic(seed, mix)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGenerator(tr, seed, 0, "test", "v1", types, testStart, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w := fstrm.NewWriter(&b, ContentType)
	if _, err := pump(context.Background(), g, w, n, 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// decoded is one frame as golang-dnstap and miekg/dns read it.
type decoded struct {
	d   *pb.Dnstap
	dns *dns.Msg
}

// decode reads a stream with golang-dnstap's protobuf types and unpacks
// every DNS message with miekg/dns, failing the test on any error.
func decode(t testing.TB, stream []byte) []decoded {
	t.Helper()
	r, err := fstrm.NewFileReader(bytes.NewReader(stream), fstrm.ReaderOptions{ContentTypes: []string{ContentType}})
	if err != nil {
		t.Fatal(err)
	}
	var out []decoded
	for {
		b, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		d := new(pb.Dnstap)
		if err := proto.Unmarshal(b, d); err != nil {
			t.Fatalf("frame %d: %v", len(out)+1, err)
		}
		m := d.GetMessage()
		wire := m.GetQueryMessage()
		if m.GetType() == pb.Message_CLIENT_RESPONSE {
			wire = m.GetResponseMessage()
		}
		msg := new(dns.Msg)
		if err := msg.Unpack(wire); err != nil {
			t.Fatalf("frame %d: DNS message: %v", len(out)+1, err)
		}
		out = append(out, decoded{d, msg})
	}
}

func TestDeterministic(t *testing.T) {
	a := generate(t, 7, DefaultMix, both, 5000)
	b := generate(t, 7, DefaultMix, both, 5000)
	if !bytes.Equal(a, b) {
		t.Fatal("the same seed made different streams")
	}
	if c := generate(t, 8, DefaultMix, both, 5000); bytes.Equal(a, c) {
		t.Fatal("different seeds made the same stream")
	}
	// A shorter run is a prefix of a longer one.
	short := generate(t, 7, DefaultMix, both, 1001)
	stop := len(fstrm.AppendControl(nil, fstrm.Control{Type: fstrm.ControlStop}))
	if !bytes.HasPrefix(a, short[:len(short)-stop]) {
		t.Fatal("1001 frames are not the start of 5000 frames")
	}
}

// The command writes the same file twice, with or without compression.
func TestCommandDeterministic(t *testing.T) {
	dir := t.TempDir()
	var files [][]byte
	for i, args := range [][]string{
		{"-n", "3000", "--seed", "3", "--clients", "50"},
		{"-n", "3000", "--seed", "3", "--clients", "50"},
		{"-n", "3000", "--seed", "3", "--clients", "50", "--zstd"},
		{"-n", "3000", "--seed", "3", "--clients", "50", "--zstd"},
	} {
		name := filepath.Join(dir, "out")
		if code := tool.Run(tool.Setup(app(), manual), append(append([]string{"dnstapgen"}, args...), "-w", name)); code != 0 {
			t.Fatalf("run %d: exit %d", i, code)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b)
	}
	if !bytes.Equal(files[0], files[1]) || !bytes.Equal(files[2], files[3]) {
		t.Fatal("the same command wrote different files")
	}
	if bytes.Equal(files[0], files[2]) || len(files[2]) >= len(files[0]) {
		t.Fatal("--zstd did not compress")
	}
}

func TestDecode(t *testing.T) {
	frames := decode(t, generate(t, 1, DefaultMix, both, 20000))
	if len(frames) != 20000 {
		t.Fatalf("%d frames", len(frames))
	}
	var last time.Time
	for i := 0; i < len(frames); i += 2 {
		q, r := frames[i].d, frames[i+1].d
		if q.GetType() != pb.Dnstap_MESSAGE || string(q.GetIdentity()) != "test" || string(q.GetVersion()) != "v1" {
			t.Fatalf("frame %d: %v", i+1, q)
		}
		qm, rm := q.GetMessage(), r.GetMessage()
		if qm.GetType() != pb.Message_CLIENT_QUERY || rm.GetType() != pb.Message_CLIENT_RESPONSE {
			t.Fatalf("frames %d, %d: types %v, %v", i+1, i+2, qm.GetType(), rm.GetType())
		}
		if qm.ResponseMessage != nil || rm.QueryMessage != nil || qm.ResponseTimeSec != nil {
			t.Fatalf("frames %d, %d: fields of the other type", i+1, i+2)
		}
		alen := map[pb.SocketFamily]int{pb.SocketFamily_INET: 4, pb.SocketFamily_INET6: 16}[qm.GetSocketFamily()]
		if alen == 0 || len(qm.GetQueryAddress()) != alen || len(qm.GetResponseAddress()) != alen ||
			!bytes.Equal(qm.GetQueryAddress(), rm.GetQueryAddress()) || qm.GetQueryPort() != rm.GetQueryPort() ||
			qm.GetResponsePort() != 53 || qm.GetSocketProtocol() != rm.GetSocketProtocol() {
			t.Fatalf("frames %d, %d: addresses differ: %v\n%v", i+1, i+2, qm, rm)
		}
		qt := time.Unix(int64(qm.GetQueryTimeSec()), int64(qm.GetQueryTimeNsec()))
		rt := time.Unix(int64(rm.GetResponseTimeSec()), int64(rm.GetResponseTimeNsec()))
		if qt.Before(last) || qt.Before(testStart) || rt.Before(qt) || rm.GetQueryTimeSec() != qm.GetQueryTimeSec() {
			t.Fatalf("frames %d, %d: times %v, %v after %v", i+1, i+2, qt, rt, last)
		}
		last = qt
		dq, dr := frames[i].dns, frames[i+1].dns
		if dq.Response || !dr.Response || dq.Id != dr.Id || len(dq.Question) != 1 || len(dr.Question) != 1 ||
			dq.Question[0] != dr.Question[0] || !dq.RecursionDesired || (dq.IsEdns0() == nil) != (dr.IsEdns0() == nil) {
			t.Fatalf("frames %d, %d: response does not match query:\n%v\n%v", i+1, i+2, dq, dr)
		}
		if dr.Rcode == dns.RcodeSuccess && len(dr.Answer) > 0 {
			for _, rr := range dr.Answer {
				switch rr.(type) {
				case *dns.CNAME:
				default:
					if rr.Header().Rrtype != dq.Question[0].Qtype {
						t.Fatalf("frame %d: answer %v to %v", i+2, rr, dq.Question[0])
					}
				}
			}
		}
	}
}

// Only the types asked for are made.
func TestTypes(t *testing.T) {
	frames := decode(t, generate(t, 1, DefaultMix, []dnstap.MessageType{dnstap.ClientResponse}, 100))
	for i, f := range frames {
		if f.d.GetMessage().GetType() != pb.Message_CLIENT_RESPONSE {
			t.Fatalf("frame %d: %v", i+1, f.d.GetMessage().GetType())
		}
	}
	tr, _ := NewTraffic(1, DefaultMix)
	if _, err := NewGenerator(tr, 1, 0, "", "", []dnstap.MessageType{dnstap.ResolverQuery}, testStart, 1); err == nil {
		t.Error("RESOLVER_QUERY accepted")
	}
}

func share(n, of int) float64 { return float64(n) / float64(of) }

func TestMix(t *testing.T) {
	mix := DefaultMix
	mix.Clients = 500
	mix.Names = 2000
	mix.Pool = 4096 // each pair is drawn many times, so that only new names occur once
	const queries = 100000
	frames := decode(t, generate(t, 5, mix, both, 2*queries))

	qtype := map[uint16]int{}
	rcode := map[int]int{}
	names := map[string]int{}
	clients := map[string]int{}
	var tcp, edns, ecs int
	for i := 0; i < len(frames); i += 2 {
		q, r := frames[i], frames[i+1]
		qtype[q.dns.Question[0].Qtype]++
		rcode[r.dns.Rcode]++
		names[q.dns.Question[0].Name]++
		clients[string(q.d.GetMessage().GetQueryAddress())]++
		if q.d.GetMessage().GetSocketProtocol() == pb.SocketProtocol_TCP {
			tcp++
		}
		if opt := q.dns.IsEdns0(); opt != nil {
			edns++
			for _, o := range opt.Option {
				if _, ok := o.(*dns.EDNS0_SUBNET); ok {
					ecs++
				}
			}
		}
	}
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s: %.4f, want %.4f ± %.4f", what, got, want, tol)
		}
	}
	for _, q := range qtypes {
		near("share of "+dns.TypeToString[q.t], share(qtype[q.t], queries), q.w/100, 0.01)
	}
	near("NXDOMAIN", share(rcode[dns.RcodeNameError], queries), mix.NXDomain, 0.01)
	near("SERVFAIL", share(rcode[dns.RcodeServerFailure], queries), mix.ServFail, 0.005)
	near("REFUSED", share(rcode[dns.RcodeRefused], queries), mix.Refused, 0.003)
	near("TCP", share(tcp, queries), mix.TCP, 0.005)
	near("EDNS", share(edns, queries), mix.EDNS, 0.015)
	near("ECS", share(ecs, edns), mix.ECS, 0.01)

	// New names occur once; every pair of the pool many times.
	once := 0
	for _, n := range names {
		if n == 1 {
			once++
		}
	}
	near("new names", share(once, queries), mix.NewNames, 0.005)
	counts := make([]int, 0, len(names))
	for _, n := range names {
		counts = append(counts, n)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	if share(counts[0], queries) < 0.03 || len(names)-once < 500 {
		t.Errorf("names not Zipf-like: the top one has %d queries; %d names repeat", counts[0], len(names)-once)
	}

	// A few clients send most queries; about 30% have IPv6 addresses.
	if len(clients) > mix.Clients || len(clients) < mix.Clients/2 {
		t.Errorf("%d clients, want up to %d", len(clients), mix.Clients)
	}
	counts = counts[:0]
	v6 := 0
	for a, n := range clients {
		counts = append(counts, n)
		if len(a) == 16 {
			v6++
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	top := 0
	for _, n := range counts[:len(counts)/10] {
		top += n
	}
	if share(top, queries) < 0.5 {
		t.Errorf("the top 10%% of clients send %.2f of queries, want most", share(top, queries))
	}
	near("IPv6 clients", share(v6, len(clients)), mix.IPv6Clients, 0.07)
}

func TestMixErrors(t *testing.T) {
	for _, m := range []func(*Mix){
		func(m *Mix) { m.Clients = 0 },
		func(m *Mix) { m.NXDomain = 1.5 },
		func(m *Mix) { m.NXDomain, m.ServFail = 0.6, 0.6 },
		func(m *Mix) { m.NewNames = math.NaN() },
		func(m *Mix) { m.Pool = 0 },
	} {
		mix := DefaultMix
		m(&mix)
		if _, err := NewTraffic(1, mix); err == nil {
			t.Errorf("%+v accepted", mix)
		}
	}
}

// receive runs a bidirectional Frame Streams receiver on a unix socket and
// counts frames by identity.
func receive(t *testing.T) (path string, counts func() map[string]int) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "dnstap.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		seen = map[string]int{}
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r, err := fstrm.NewReader(c, fstrm.ReaderOptions{Bidirectional: true, ContentTypes: []string{ContentType}})
				if err != nil {
					t.Error(err)
					return
				}
				for {
					b, err := r.Next()
					if errors.Is(err, io.EOF) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					var d pb.Dnstap
					if err := proto.Unmarshal(b, &d); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					seen[string(d.GetIdentity())]++
					mu.Unlock()
				}
			}()
		}
	}()
	return path, func() map[string]int {
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

func TestSend(t *testing.T) {
	path, counts := receive(t)
	code := tool.Run(tool.Setup(app(), manual), []string{"dnstapgen", "-U", path, "-n", "1000", "-c", "3", "--identity", "r"})
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	got := counts()
	if got["r-1"] != 334 || got["r-2"] != 333 || got["r-3"] != 333 || len(got) != 3 {
		t.Errorf("frames by identity: %v", got)
	}
}

func TestRate(t *testing.T) {
	path, counts := receive(t)
	start := time.Now()
	code := tool.Run(tool.Setup(app(), manual), []string{"dnstapgen", "-U", path, "-n", "300", "--rate", "1000"})
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("300 frames at 1000/s took %v", d)
	}
	if got := counts(); got["dnstapgen"] != 300 {
		t.Errorf("frames by identity: %v", got)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-U", "a", "-T", "b:1"},
		{"-c", "2"},
		{"-t", "RQ"},
		{"--qps", "0"},
		{"--start", "yesterday"},
		{"--servfail", "2"},
	} {
		if code := tool.Run(tool.Setup(app(), manual), append([]string{"dnstapgen", "-w", os.DevNull}, args...)); code != tool.ExitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, tool.ExitUsage)
		}
	}
}

// BenchmarkGenerate measures frames made a second, framed as for a socket.
func BenchmarkGenerate(b *testing.B) {
	tr, err := NewTraffic(1, DefaultMix)
	if err != nil {
		b.Fatal(err)
	}
	g, err := NewGenerator(tr, 1, 0, "bench", "v1", both, testStart, 1000)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1<<20)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		buf = g.AppendFrames(buf[:0], 64)
		n += 64
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "frames/s")
}
