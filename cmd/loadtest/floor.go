package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The floor: the least a gateway written on net/http can cost for the jobs
// the cases ask of Frontdesk. A hand-written handler per job, the backend
// calls made concurrently with a tuned client, their bodies written under
// their names as they came, with no expression engine and no validation
// beyond the status.
//
//	GET /one/{cart_id}                              {"cart":…}
//	GET /checkout/{cart_id}?user=U&skus=S           {"user":…,"cart":…,"products":…}
//	GET /slow/checkout/{cart_id}?user=U&skus=S      the same on the slow backends
//	GET /checkout-xml/{cart_id}?user=U&skus=S       the three, and "stock": the
//	                                                inventory's XML as JSON
type floor struct {
	client     *http.Client
	fast, slow map[string]string // service name → base URL
}

func floorMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("floor", flag.ContinueOnError)
	fl.SetOutput(stderr)
	addr := fl.String("addr", "127.0.0.1:0", "listen address")
	fast := fl.String("backends", "", "service=URL,... for user, cart and catalog")
	slow := fl.String("slow-backends", "", "service=URL,... of the delayed backends (optional)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	// The same collector setting frontdesk serve uses (gatewayGCPercent), so
	// the floor is tuned like the gateway it is compared with.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	f := &floor{client: &http.Client{Transport: floorTransport()}}
	var err error
	if f.fast, err = parseServices(*fast); err != nil {
		return err
	}
	if f.slow, err = parseServices(*slow); err != nil {
		return err
	}
	for _, s := range []string{"user", "cart", "catalog"} {
		if f.fast[s] == "" {
			return fmt.Errorf("floor: -backends needs %s", s)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: f.mux(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	fmt.Fprintf(stdout, "floor listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// floorTransport is what a tuned gateway would use: keep-alive and enough
// idle connections per backend for the load.
func floorTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
	}
}

func parseServices(s string) (map[string]string, error) {
	m := map[string]string{}
	for part := range strings.SplitSeq(s, ",") {
		if part == "" {
			continue
		}
		name, u, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("floor: %q is not service=URL", part)
		}
		pu, err := url.Parse(u)
		if err != nil || pu.Scheme != "http" {
			return nil, fmt.Errorf("floor: %q is not an http URL", u)
		}
		if err := loopbackOnly(pu.Host); err != nil {
			return nil, err
		}
		m[name] = strings.TrimSuffix(u, "/")
	}
	return m, nil
}

func (f *floor) mux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	m.HandleFunc("GET /one/{cart_id}", func(w http.ResponseWriter, r *http.Request) {
		f.compose(w, r, []part{{name: "cart", url: f.fast["cart"] + "/carts/" + url.PathEscape(r.PathValue("cart_id"))}})
	})
	m.HandleFunc("GET /checkout/{cart_id}", func(w http.ResponseWriter, r *http.Request) {
		f.compose(w, r, checkoutParts(f.fast, r))
	})
	m.HandleFunc("GET /checkout-xml/{cart_id}", func(w http.ResponseWriter, r *http.Request) {
		if f.fast["inventory"] == "" {
			http.Error(w, "no inventory in -backends", http.StatusNotFound)
			return
		}
		parts := append(checkoutParts(f.fast, r), part{"stock", f.fast["inventory"] + "/stock?skus=" + url.QueryEscape(r.URL.Query().Get("skus")), stockJSON})
		f.compose(w, r, parts)
	})
	m.HandleFunc("GET /slow/checkout/{cart_id}", func(w http.ResponseWriter, r *http.Request) {
		if f.slow["user"] == "" {
			http.Error(w, "no -slow-backends", http.StatusNotFound)
			return
		}
		f.compose(w, r, checkoutParts(f.slow, r))
	})
	return m
}

// part is one backend call; conv, when set, turns its body into JSON.
type part struct {
	name, url string
	conv      func([]byte) ([]byte, error)
}

func checkoutParts(svc map[string]string, r *http.Request) []part {
	q := r.URL.Query()
	return []part{
		{name: "user", url: svc["user"] + "/users/" + url.PathEscape(q.Get("user"))},
		{name: "cart", url: svc["cart"] + "/carts/" + url.PathEscape(r.PathValue("cart_id"))},
		{name: "products", url: svc["catalog"] + "/products?skus=" + url.QueryEscape(q.Get("skus"))},
	}
}

// compose fetches every part at once and writes {"name":body,...}.
func (f *floor) compose(w http.ResponseWriter, r *http.Request, parts []part) {
	bodies := make([][]byte, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i := range parts {
		wg.Go(func() {
			bodies[i], errs[i] = f.fetch(r.Context(), parts[i].url)
			if errs[i] == nil && parts[i].conv != nil {
				bodies[i], errs[i] = parts[i].conv(bodies[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		http.Error(w, "backend: "+err.Error(), http.StatusBadGateway)
		return
	}
	n := 2
	for i := range parts {
		n += len(parts[i].name) + 4 + len(bodies[i])
	}
	out := make([]byte, 0, n)
	out = append(out, '{')
	for i, p := range parts {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, p.name...)
		out = append(out, `":`...)
		out = append(out, bodies[i]...)
	}
	out = append(out, '}', '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.Write(out)
}

func (f *floor) fetch(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %d", u, resp.StatusCode)
	}
	return b, nil
}

// The inventory's XML, as a gateway written by hand for this one backend
// would read it: typed structs for encoding/xml, written by encoding/json.
type floorInventory struct {
	Warehouse string      `xml:"warehouse,attr" json:"warehouse"`
	Updated   string      `xml:"updated,attr" json:"updated"`
	Items     []floorItem `xml:"item" json:"item"`
}

type floorItem struct {
	SKU       string `xml:"sku,attr" json:"sku"`
	Available bool   `xml:"available" json:"available"`
	Quantity  int    `xml:"quantity" json:"quantity"`
	Location  struct {
		Aisle string `xml:"aisle,attr" json:"aisle"`
		Bin   string `xml:"bin,attr" json:"bin"`
	} `xml:"location" json:"location"`
	Restock  string `xml:"restock" json:"restock"`
	Reserved int    `xml:"reserved" json:"reserved"`
	Incoming struct {
		Due   string `xml:"due,attr" json:"due"`
		Value int    `xml:",chardata" json:"value"`
	} `xml:"incoming" json:"incoming"`
	Supplier struct {
		ID       string `xml:"id,attr" json:"id"`
		LeadDays int    `xml:"lead_time_days,attr" json:"lead_time_days"`
	} `xml:"supplier" json:"supplier"`
	Batch   string `xml:"batch" json:"batch"`
	Updated struct {
		By    string `xml:"by,attr" json:"by"`
		Value string `xml:",chardata" json:"value"`
	} `xml:"updated" json:"updated"`
}

func stockJSON(b []byte) ([]byte, error) {
	var inv floorInventory
	if err := xml.Unmarshal(b, &inv); err != nil {
		return nil, err
	}
	return json.Marshal(inv)
}
