package limit

import (
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rate
		err  string // a part of the error; "" for none
	}{
		{"100/s", Rate{100, time.Second}, ""},
		{"1000/m", Rate{1000, time.Minute}, ""},
		{"5000/h", Rate{5000, time.Hour}, ""},
		{"1/s", Rate{1, time.Second}, ""},
		{"1000000/s", Rate{1000000, time.Second}, ""},
		{"0/s", Rate{}, "between 1 and"},
		{"1000001/s", Rate{}, "between 1 and"},
		{"99999999999999999999/s", Rate{}, "between 1 and"},
		{"100", Rate{}, "want N/s, N/m or N/h"},
		{"100/d", Rate{}, "must be s, m or h"},
		{"100/sec", Rate{}, "must be s, m or h"},
		{"/s", Rate{}, "between 1 and"},
		{"-5/s", Rate{}, "not a whole number"},
		{"+5/s", Rate{}, "not a whole number"},
		{" 5/s", Rate{}, "not a whole number"},
		{"1.5/s", Rate{}, "not a whole number"},
		{"", Rate{}, "want N/s"},
	} {
		got, err := ParseRate(tc.in)
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("ParseRate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			if got.String() != tc.in {
				t.Errorf("%q: String() = %q", tc.in, got.String())
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "rate") {
			t.Errorf("ParseRate(%q) error = %v; want one containing %q", tc.in, err, tc.err)
		}
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig("10/s", 0)
	if err != nil || c.Burst != 10 {
		t.Errorf("default burst: %+v %v", c, err)
	}
	c, err = ParseConfig("5000/h", 200)
	if err != nil || c.Burst != 200 || c.full() != 144*time.Second {
		t.Errorf("burst 200 of 5000/h: %+v full %s %v", c, c.full(), err)
	}
	for _, b := range []int{-1, MaxBurst + 1} {
		if _, err := ParseConfig("1/s", b); err == nil || !strings.Contains(err.Error(), "burst") {
			t.Errorf("burst %d: %v", b, err)
		}
	}
	if _, err := ParseConfig("1/x", 1); err == nil {
		t.Error("a bad rate passed")
	}
	if _, err := ParsePolicy("deny"); err != nil {
		t.Error(err)
	}
	if p, err := ParsePolicy(""); err != nil || p != Allow {
		t.Error("the default policy is not allow")
	}
	if _, err := ParsePolicy("maybe"); err == nil || !strings.Contains(err.Error(), "on_store_error") {
		t.Errorf("a bad policy: %v", err)
	}
}
