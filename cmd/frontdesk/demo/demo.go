// Package demo runs the demo backends the examples in endpoints/ are written
// against: user, cart, catalog, payment, an inventory service that only
// speaks XML, and an issuer whose key set (JWKS) the demo gateway checks
// tokens with. They serve fixed, realistic data from memory on loopback
// ports.
package demo

import (
	"encoding/json"

	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Demo is a set of running demo services.
type Demo struct {
	servers []*http.Server
	urls    map[string]string
	wg      sync.WaitGroup
}

// Services lists the demo services in a fixed order.
var Services = []string{"user", "cart", "catalog", "payment", "inventory", "issuer"}

// Start runs every demo service on its own 127.0.0.1 port. Each answer waits
// delay first, to stand in for a real backend's latency.
func Start(delay time.Duration) (*Demo, error) {
	return StartOn("127.0.0.1:0", delay)
}

// StartOn is Start with a listen address pattern: "127.0.0.1:0" for free
// ports, or "127.0.0.1:9101" to take six consecutive ports from 9101.
func StartOn(addr string, delay time.Duration) (*Demo, error) {
	delays := map[string]time.Duration{}
	for _, name := range Services {
		delays[name] = delay
	}
	return StartOnEach(addr, delays)
}

// StartOnEach is StartOn with a delay per service; a service missing from
// delays answers at once.
func StartOnEach(addr string, delays map[string]time.Duration) (*Demo, error) {
	d := &Demo{urls: map[string]string{}}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var first int
	fmt.Sscan(port, &first)
	for i, name := range Services {
		a := net.JoinHostPort(host, "0")
		if first != 0 {
			a = net.JoinHostPort(host, fmt.Sprint(first+i))
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			d.Close()
			return nil, err
		}
		h := Handler(name)
		if delay := delays[name]; delay > 0 {
			inner := h
			h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				t := time.NewTimer(delay)
				defer t.Stop()
				select {
				case <-t.C:
				case <-r.Context().Done():
					return
				}
				inner.ServeHTTP(w, r)
			})
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		d.servers = append(d.servers, srv)
		d.urls[name] = "http://" + ln.Addr().String()
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			srv.Serve(ln)
		}()
	}
	return d, nil
}

// URLs maps each service name to its base URL.
func (d *Demo) URLs() map[string]string { return d.urls }

// Env gives the variables the example gateway.json reads for service URLs:
// USER_URL, CART_URL, CATALOG_URL, PAYMENT_URL, INVENTORY_URL, ISSUER_URL.
func (d *Demo) Env() map[string]string {
	m := map[string]string{}
	for name, u := range d.urls {
		m[strings.ToUpper(name)+"_URL"] = u
	}
	return m
}

// Close stops every service and waits for them.
func (d *Demo) Close() error {
	for _, s := range d.servers {
		s.Close()
	}
	d.wg.Wait()
	return nil
}

// Handler returns the handler of one demo service.
func Handler(name string) http.Handler {
	m := http.NewServeMux()
	switch name {
	case "issuer":
		return issuerHandler()
	case "user":
		m.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
			u, ok := users[r.PathValue("id")]
			if !ok {
				notFound(w, "user")
				return
			}
			writeJSON(w, u)
		})
	case "cart":
		m.HandleFunc("GET /carts/{id}", func(w http.ResponseWriter, r *http.Request) {
			c, ok := carts[r.PathValue("id")]
			if !ok {
				notFound(w, "cart")
				return
			}
			http.SetCookie(w, &http.Cookie{Name: "cart_seen", Value: r.PathValue("id"), Path: "/", HttpOnly: true})
			writeJSON(w, c)
		})
	case "catalog":
		m.HandleFunc("GET /products/{sku}", func(w http.ResponseWriter, r *http.Request) {
			p, ok := products[r.PathValue("sku")]
			if !ok {
				notFound(w, "product")
				return
			}
			writeJSON(w, p)
		})
		m.HandleFunc("GET /products", func(w http.ResponseWriter, r *http.Request) {
			out := []any{}
			for _, sku := range strings.Split(r.URL.Query().Get("skus"), ",") {
				if p, ok := products[sku]; ok {
					out = append(out, p)
				}
			}
			writeJSON(w, map[string]any{"products": out})
		})
		m.HandleFunc("GET /prices/{sku}", func(w http.ResponseWriter, r *http.Request) {
			p, ok := products[r.PathValue("sku")]
			if !ok {
				notFound(w, "price")
				return
			}
			writeJSON(w, map[string]any{"sku": p.SKU, "amount": p.Price, "currency": "EUR"})
		})
		m.HandleFunc("GET /recommendations", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, map[string]any{"for": r.URL.Query().Get("user"), "items": recommendations})
		})
	case "payment":
		m.HandleFunc("GET /methods", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, map[string]any{"user": r.URL.Query().Get("user"), "methods": paymentMethods})
		})
	case "inventory":
		m.HandleFunc("GET /stock", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml; charset=utf-8")
			var b strings.Builder
			b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<inventory warehouse="AMS-1" updated="2026-11-27T08:00:00Z">` + "\n")
			for _, sku := range strings.Split(r.URL.Query().Get("skus"), ",") {
				s, ok := stock[sku]
				if !ok {
					continue
				}
				fmt.Fprintf(&b, "  <item sku=%q>\n    <available>%t</available>\n    <quantity>%d</quantity>\n    <location aisle=%q bin=%q/>\n    <restock>%s</restock>\n%s  </item>\n",
					sku, s.qty > 0, s.qty, s.aisle, s.bin, s.restock, s.detailsXML())
			}
			b.WriteString("</inventory>\n")
			w.Write([]byte(b.String()))
		})
	}
	return m
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func notFound(w http.ResponseWriter, what string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, `{"error":"%s not found"}`, what)
}
