// Command target is the link-check benchmark's target server: one HTTP
// server listening on 127.0.0.1 … 127.0.0.N (the whole of 127.0.0.0/8 is
// loopback on Linux, no set-up needed), answering 200 to every path and
// method (HEAD included) after an optional delay. It counts requests, new
// connections and the most connections open at once, and prints them on
// SIGINT/SIGTERM or on GET /_stats (GET /_stats?reset=1 prints, then zeroes
// the counters, for one run at a time).
//
//	go run ./bench/links/target -hosts 200 -port 18090 -delay 50ms
//
// With -urls N it does not serve: it prints N distinct URLs spread evenly
// over the hosts, one a line, interleaved (host 1, 2, …, N, 1, 2, …) or
// grouped (every URL of host 1, then of host 2, …), and exits.
//
//	go run ./bench/links/target -urls 10000 -order grouped > urls.txt
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	var (
		hosts  = flag.Int("hosts", 200, "listen on 127.0.0.1 … 127.0.0.N (N ≤ 254)")
		port   = flag.Int("port", 18090, "TCP port on every host")
		ports  = flag.Int("ports", 1, "listen on -port … -port+K-1 on every host: hosts×ports distinct host:port keys (the link checker's per-host key)")
		delay  = flag.Duration("delay", 0, "delay before every answer (0ms, 50ms)")
		nURLs  = flag.Int("urls", 0, "print this many distinct URLs over the hosts and exit")
		order  = flag.String("order", "interleaved", "with -urls: interleaved or grouped (by host)")
		prefix = flag.String("path", "/link/", "with -urls: path prefix of every URL")
	)
	flag.Parse()
	if *hosts < 1 || *hosts > 254 {
		log.Fatal("-hosts must be 1..254")
	}
	if *nURLs > 0 {
		if err := printURLs(os.Stdout, *nURLs, *hosts, *port, *ports, *order, *prefix); err != nil {
			log.Fatal(err)
		}
		return
	}
	serve(*hosts, *port, *ports, *delay)
}

// printURLs writes n URLs, n/keys per host:port key (the first n%keys keys
// get one more), keys = hosts×ports. URL i is always the same string,
// whatever the order, so both orders check the same set.
func printURLs(w *os.File, n, nHosts, port, ports int, order, prefix string) error {
	if order != "interleaved" && order != "grouped" {
		return fmt.Errorf("-order must be interleaved or grouped, not %q", order)
	}
	if ports < 1 {
		return fmt.Errorf("-ports must be ≥ 1")
	}
	hosts := nHosts * ports // key h is host h%nHosts, port port+h/nHosts
	buf := make([]byte, 0, 64<<10)
	for k := range n {
		// Interleaved: URL k is on host k%hosts. Grouped: walk the same
		// URLs host by host.
		i := k
		if order == "grouped" {
			per, extra := n/hosts, n%hosts
			h, j := 0, k
			for {
				c := per
				if h < extra {
					c++
				}
				if j < c {
					break
				}
				j -= c
				h++
			}
			i = j*hosts + h
		}
		h := i % hosts
		buf = fmt.Appendf(buf, "http://127.0.0.%d:%d%s%d\n", h%nHosts+1, port+h/nHosts, prefix, i)
		if len(buf) > 60<<10 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}

// stats are the server's counters since start or the last reset.
type stats struct {
	start    atomic.Int64 // UnixNano of start or reset
	requests atomic.Int64
	heads    atomic.Int64
	gets     atomic.Int64
	others   atomic.Int64
	newConns atomic.Int64
	open     atomic.Int64 // connections open now (not reset)
	maxOpen  atomic.Int64
	inflight atomic.Int64 // requests being answered now (not reset)
	maxIn    atomic.Int64 // most requests answered at once
}

type snapshot struct {
	Seconds      float64 `json:"seconds"`
	Requests     int64   `json:"requests"`
	HEAD         int64   `json:"head"`
	GET          int64   `json:"get"`
	Other        int64   `json:"other"`
	NewConns     int64   `json:"new_conns"`
	OpenConns    int64   `json:"open_conns"`
	MaxOpenConns int64   `json:"max_open_conns"`
	MaxInFlight  int64   `json:"max_in_flight"`
	ReqPerConn   float64 `json:"requests_per_conn"`
	DelayMs      float64 `json:"delay_ms"`
	Hosts        int     `json:"hosts"`
}

func (s *stats) snap() snapshot {
	v := snapshot{
		Seconds:  float64(time.Now().UnixNano()-s.start.Load()) / 1e9,
		Requests: s.requests.Load(), HEAD: s.heads.Load(), GET: s.gets.Load(), Other: s.others.Load(),
		NewConns: s.newConns.Load(), OpenConns: s.open.Load(), MaxOpenConns: s.maxOpen.Load(),
		MaxInFlight: s.maxIn.Load(),
	}
	if v.NewConns > 0 {
		v.ReqPerConn = float64(v.Requests) / float64(v.NewConns)
	}
	return v
}

func (s *stats) reset() {
	s.start.Store(time.Now().UnixNano())
	for _, c := range []*atomic.Int64{&s.requests, &s.heads, &s.gets, &s.others, &s.newConns} {
		c.Store(0)
	}
	s.maxOpen.Store(s.open.Load())
	s.maxIn.Store(s.inflight.Load())
}

func raise(max *atomic.Int64, v int64) {
	for {
		m := max.Load()
		if v <= m || max.CompareAndSwap(m, v) {
			return
		}
	}
}

func serve(hosts, port, ports int, delay time.Duration) {
	st := &stats{}
	st.start.Store(time.Now().UnixNano())
	body := []byte("ok\n")
	clen := strconv.Itoa(len(body))
	var mu sync.Mutex // serialises reset+print on /_stats
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_stats" {
			mu.Lock()
			v := st.snap()
			v.DelayMs, v.Hosts = float64(delay)/1e6, hosts
			if r.URL.Query().Get("reset") != "" {
				st.reset()
			}
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(v)
			return
		}
		raise(&st.maxIn, st.inflight.Add(1))
		defer st.inflight.Add(-1)
		st.requests.Add(1)
		switch r.Method {
		case http.MethodHead:
			st.heads.Add(1)
		case http.MethodGet:
			st.gets.Add(1)
		default:
			st.others.Add(1)
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", clen)
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          log.New(os.Stderr, "target: ", 0),
		ConnState: func(_ net.Conn, cs http.ConnState) {
			switch cs {
			case http.StateNew:
				st.newConns.Add(1)
				raise(&st.maxOpen, st.open.Add(1))
			case http.StateClosed, http.StateHijacked:
				st.open.Add(-1)
			}
		},
	}
	for p := port; p < port+max(ports, 1); p++ {
		for i := 1; i <= hosts; i++ {
			addr := net.JoinHostPort("127.0.0."+strconv.Itoa(i), strconv.Itoa(p))
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				log.Fatalf("listen %s: %v", addr, err)
			}
			go func() { _ = srv.Serve(ln) }()
		}
	}
	fmt.Fprintf(os.Stderr, "target: %d hosts 127.0.0.1-127.0.0.%d ports %d-%d delay %s, pid %d\n",
		hosts, hosts, port, port+max(ports, 1)-1, delay, os.Getpid())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	v := st.snap()
	v.DelayMs, v.Hosts = float64(delay)/1e6, hosts
	b, _ := json.Marshal(v)
	fmt.Fprintf(os.Stderr, "target: stats %s\n", b)
	_ = srv.Close()
}
