package limit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Bounds of a limit, so that every derived figure (a bucket's time span,
// a Redis script's arithmetic in float64 microseconds) stays exact.
const (
	MaxRequests = 1_000_000 // the N of "N/s", "N/m", "N/h"
	MaxBurst    = 1_000_000
)

// Rate is N requests per Per (a second, a minute or an hour).
type Rate struct {
	N   int
	Per time.Duration
}

// ParseRate reads "100/s", "1000/m" or "5000/h".
func ParseRate(s string) (Rate, error) {
	n, unit, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/s, N/m or N/h, such as \"100/s\"", s)
	}
	var per time.Duration
	switch unit {
	case "s":
		per = time.Second
	case "m":
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		return Rate{}, fmt.Errorf("rate %q: the unit after / must be s, m or h", s)
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return Rate{}, fmt.Errorf("rate %q: %q is not a whole number of requests", s, n)
		}
	}
	v, err := strconv.Atoi(n)
	if err != nil || n == "" || v < 1 || v > MaxRequests {
		return Rate{}, fmt.Errorf("rate %q: the number of requests must be between 1 and %d", s, MaxRequests)
	}
	return Rate{N: v, Per: per}, nil
}

// String writes r as ParseRate reads it.
func (r Rate) String() string {
	u := "s"
	switch r.Per {
	case time.Minute:
		u = "m"
	case time.Hour:
		u = "h"
	}
	return strconv.Itoa(r.N) + "/" + u
}

// Interval is the time one request takes to come back: Per / N.
func (r Rate) Interval() time.Duration { return r.Per / time.Duration(r.N) }

// PerSecond is the refill rate in requests per second.
func (r Rate) PerSecond() float64 { return float64(r.N) / r.Per.Seconds() }

// Config is one rate limit: a token bucket of Burst requests that refills
// at Rate. The key value that picks the bucket is the caller's.
type Config struct {
	Rate  Rate
	Burst int // 0 is Rate.N
}

// ParseConfig builds a Config from a spec's rate_limit: rate as written,
// burst 0 when the spec leaves it out.
func ParseConfig(rate string, burst int) (Config, error) {
	r, err := ParseRate(rate)
	if err != nil {
		return Config{}, err
	}
	c := Config{Rate: r, Burst: burst}
	return c.normalize()
}

// normalize fills the default burst and checks the bounds.
func (c Config) normalize() (Config, error) {
	if c.Rate.N < 1 || c.Rate.N > MaxRequests {
		return c, fmt.Errorf("rate: the number of requests must be between 1 and %d", MaxRequests)
	}
	switch c.Rate.Per {
	case time.Second, time.Minute, time.Hour:
	default:
		return c, errors.New("rate: per second, minute or hour only")
	}
	if c.Burst == 0 {
		c.Burst = c.Rate.N
	}
	if c.Burst < 1 || c.Burst > MaxBurst {
		return c, fmt.Errorf("burst: %d is not between 1 and %d", c.Burst, MaxBurst)
	}
	return c, nil
}

// full is how long an empty bucket takes to refill completely.
func (c Config) full() time.Duration {
	return time.Duration(c.Burst) * c.Rate.Per / time.Duration(c.Rate.N)
}
