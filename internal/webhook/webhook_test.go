package webhook

import (
	"errors"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	secret, body := []byte("s3cret-0123456789"), []byte(`{"id":"run_1"}`)
	now := time.Unix(1_800_000_000, 0)
	h := Sign(secret, now, body)
	if err := Verify(secret, h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatalf("own signature refused: %v", err)
	}
	for name, err := range map[string]error{
		"other body":   Verify(secret, h, []byte(`{"id":"run_2"}`), now, time.Minute),
		"other secret": Verify([]byte("other"), h, body, now, time.Minute),
		"too old":      Verify(secret, h, body, now.Add(10*time.Minute), 5*time.Minute),
		"malformed":    Verify(secret, "v1=00", body, now, time.Minute),
	} {
		if !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: got %v, want ErrBadSignature", name, err)
		}
	}
	// A second v1 (a rotating secret) is accepted when one matches.
	if err := Verify(secret, Sign([]byte("old"), now, body)+","+h[len("t=1800000000,"):], body, now, time.Minute); err != nil {
		t.Errorf("rotation: %v", err)
	}
}
