// Package transform is the pure-data half of the gateway: expressions,
// JSON validation, splicing and encoding, path templates and XML <-> JSON.
//
// It sits below engine in the flow and knows nothing of net/http: every
// function here takes bytes or values and returns bytes or values, so it can be
// fuzzed and benchmarked in isolation. Everything that can be done once is done
// at compile time (Compile, ParsePath); what runs per request reuses pooled
// state and never parses a spec.
package transform
