package pipeline

import "testing"

func TestNegotiate(t *testing.T) {
	both := []Format{FormatJSON, FormatXML}
	xmlFirst := []Format{FormatXML, FormatJSON}
	jsonOnly := []Format{FormatJSON}
	for _, tc := range []struct {
		name   string
		accept string
		offers []Format
		want   Format
		ok     bool
	}{
		{"no Accept takes the first offer", "", both, FormatJSON, true},
		{"no Accept, xml listed first", "", xmlFirst, FormatXML, true},
		{"exact xml", "application/xml", both, FormatXML, true},
		{"text/xml", "text/xml", both, FormatXML, true},
		{"exact json", "application/json", xmlFirst, FormatJSON, true},
		{"anything", "*/*", xmlFirst, FormatXML, true},
		{"q prefers xml", "application/json;q=0.5, application/xml", both, FormatXML, true},
		{"q prefers json", "application/json, application/xml;q=0.9", xmlFirst, FormatJSON, true},
		{"tie goes to the spec's order", "application/json, application/xml", xmlFirst, FormatXML, true},
		{"wildcard subtype", "application/*", both, FormatJSON, true},
		{"specific beats wildcard", "application/*;q=0.1, application/xml", both, FormatXML, true},
		{"q=0 refuses", "application/json;q=0, */*", both, FormatXML, true},
		{"nothing acceptable", "application/xml", jsonOnly, "", false},
		{"all refused", "application/json;q=0", jsonOnly, "", false},
		{"browser default", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", both, FormatXML, true},
		{"case and spaces", " Application/XML ; Q=1 ", both, FormatXML, true},
		{"malformed q counts as 0", "application/xml;q=abc, application/json;q=0.2", both, FormatJSON, true},
		{"nothing parseable counts as absent", "nonsense, ,/,*/", both, FormatJSON, true},
		{"no offers", "*/*", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, ok := Negotiate(tc.accept, tc.offers)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Negotiate(%q, %v) = %q, %v; want %q, %v", tc.accept, tc.offers, got, ok, tc.want, tc.ok)
			}
		})
	}
}
