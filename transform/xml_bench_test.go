package transform

import (
	"os"
	"path/filepath"
	"testing"
)

// The benchmark record: testdata/xml/decode/inventory_record.xml, about
// 1.6 KB with attributes, nested elements and a list of 8 items, read with
// its spec options (cast, two lists).
func benchInventory(b *testing.B) (*XMLCodec, []byte, []byte) {
	b.Helper()
	base := filepath.Join(xmlTestdata, "decode", "inventory_record")
	in, err := os.ReadFile(base + ".xml")
	if err != nil {
		b.Fatal(err)
	}
	c := mustXMLCodec(b, XMLOptions{Cast: true, Lists: []string{"inventory.item", "inventory.item.tag"}})
	j, err := c.XMLToJSON(nil, in)
	if err != nil {
		b.Fatal(err)
	}
	return c, in, j
}

func BenchmarkXMLToJSON(b *testing.B) {
	c, in, _ := benchInventory(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var dst []byte
	for b.Loop() {
		var err error
		if dst, err = c.XMLToJSON(dst[:0], in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkXMLToJSONDefaults(b *testing.B) {
	_, in, _ := benchInventory(b)
	c := mustXMLCodec(b, XMLOptions{})
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.XMLToJSON(nil, in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONToXML(b *testing.B) {
	c, _, j := benchInventory(b)
	raw := RawJSON(j)
	b.SetBytes(int64(len(j)))
	b.ReportAllocs()
	var dst []byte
	for b.Loop() {
		var err error
		if dst, err = c.JSONToXML(dst[:0], raw, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJSONToXMLValue starts from decoded Go values, as a response body
// computed by expressions would be.
func BenchmarkJSONToXMLValue(b *testing.B) {
	c, _, j := benchInventory(b)
	v := decodeAny(b, j)
	b.SetBytes(int64(len(j)))
	b.ReportAllocs()
	var dst []byte
	for b.Loop() {
		var err error
		if dst, err = c.JSONToXML(dst[:0], v, ""); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeForm(b *testing.B) {
	raw := RawJSON(`{"sku":"A1-0042","qty":2,"note":"gift wrap & card","tags":["kitchen","porcelain"],"express":true}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeForm(raw); err != nil {
			b.Fatal(err)
		}
	}
}
