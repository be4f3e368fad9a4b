package pipeline

import (
	"testing"

	"go.uber.org/goleak"
)

// The listener and admission tests start servers and goroutines: none may
// outlive the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
