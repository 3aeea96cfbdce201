package metrics

import (
	"compress/gzip"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// Handler serves /metrics: the families of reg followed by the check
// series of m (nil: reg alone), gzip-compressed when the client accepts it.
//
// Formats are negotiated as promhttp does without OpenMetrics: a scraper
// asking for OpenMetrics (Prometheus's default Accept) or text gets the text
// format 0.0.4, a scraper asking for protobuf gets delimited protobuf. Text
// answers write reg's families through expfmt and then m.WriteText directly;
// protobuf answers and name[] filters go through promhttp over both
// gatherers, so everything that worked with promhttp still does.
func Handler(reg prometheus.Gatherer, m *Metrics, errorLog *log.Logger) http.Handler {
	opts := promhttp.HandlerOpts{ErrorLog: errorLog, ErrorHandling: promhttp.ContinueOnError}
	if m == nil {
		return promhttp.HandlerFor(reg, opts)
	}
	slow := promhttp.HandlerFor(prometheus.Gatherers{reg, m}, opts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...) // as promhttp without OpenMetrics
		if format.FormatType() != expfmt.TypeTextPlain || r.URL.Query().Has("name[]") {
			slow.ServeHTTP(w, r)
			return
		}
		mfs, err := reg.Gather()
		if err != nil && errorLog != nil {
			errorLog.Println("error gathering metrics:", err) // ContinueOnError: what was gathered is served
		}
		h := w.Header()
		h.Add("Vary", "Accept")
		h.Add("Vary", "Accept-Encoding")
		h.Set("Content-Type", string(format))
		var out io.Writer = w
		if acceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			gz := gzipPool.Get().(*gzip.Writer)
			gz.Reset(w)
			defer func() { _ = gz.Close(); gzipPool.Put(gz) }()
			out = gz
		}
		enc := expfmt.NewEncoder(out, format)
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				if errorLog != nil {
					errorLog.Println("error encoding and sending metric family:", err)
				}
				return
			}
		}
		if err := m.WriteText(out); err != nil && errorLog != nil {
			errorLog.Println("error encoding and sending metric family:", err)
		}
	})
}

// gzipPool holds writers at BestSpeed: a scrape at 10,000 checks is ~16 MB
// of text; level 1 compresses it ~3x faster than the default level, and
// the repetitive text still shrinks ~15x.
var gzipPool = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}

// acceptsGzip tells whether the request's Accept-Encoding allows gzip,
// promhttp's way: gzip (or *) listed with a q above 0 and no better offer
// than identity needed.
func acceptsGzip(r *http.Request) bool {
	return negotiateGzip(r.Header.Values("Accept-Encoding"))
}

// negotiateGzip picks gzip over identity as promhttp does: gzip when a gzip
// (or *) entry has a q above 0 and above every entry naming identity (or *).
func negotiateGzip(values []string) bool {
	qIdentity, qGzip := -1.0, -1.0
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
						q = f
					} else {
						q = 0
					}
				}
			}
			if name == "identity" || name == "*" {
				qIdentity = max(qIdentity, q)
			}
			if name == "gzip" || name == "*" {
				qGzip = max(qGzip, q)
			}
		}
	}
	return qGzip > 0 && qGzip > qIdentity
}
