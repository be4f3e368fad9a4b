package backend

import (
	"net"
	"net/http"
	"time"
)

// NewTransport returns the transport the gateway uses for backends: keep-alive
// everywhere and enough idle connections per backend for a busy gateway (the
// standard library keeps 2).
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:           4096,
		MaxIdleConnsPerHost:    512,
		MaxConnsPerHost:        maxConnsPerHost,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    5 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// maxConnsPerHost bounds the connections to one backend host: a call past
// it waits, within its deadline, for one to free, so the gateway's file
// descriptors stay bounded whatever the fan-out.
const maxConnsPerHost = 1024
